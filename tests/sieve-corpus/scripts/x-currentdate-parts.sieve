require ["date", "relational", "fileinto"];
if currentdate :value "gt" "julian" "50000" { fileinto "Foo"; }
if currentdate :zone "+1400" :value "ge" "hour" "00" { fileinto "Work"; }
