require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :value "lt" :comparator "i;ascii-numeric" "x-spam-level" "5" { fileinto "Foo"; }
if header :value "gt" :comparator "i;ascii-numeric" "subject" "5" { fileinto "Work"; }
