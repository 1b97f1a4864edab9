require ["comparator-i;ascii-numeric", "relational", "fileinto"];
if header :is :comparator "i;ascii-numeric" "x-spam-score" "4" { fileinto "Foo"; }
if header :value "eq" :comparator "i;ascii-numeric" "x-none" "0" { fileinto "Work"; }
