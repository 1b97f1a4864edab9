require ["variables", "fileinto", "relational", "comparator-i;ascii-numeric"];
if address :count "eq" :comparator "i;ascii-numeric" "to" "3" { fileinto "three"; }
if address :is :all "to" "j.smith@example.org" { fileinto "Work"; }
if address :is :localpart "to" "alice" { fileinto "Foo"; }
