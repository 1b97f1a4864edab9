require ["relational", "fileinto"];
if header :value "lt" "subject" "M" { fileinto "Foo"; }
if address :value "gt" :domain "from" "m" { fileinto "Work"; }
