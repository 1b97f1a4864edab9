require ["date", "relational", "fileinto"];
if currentdate :value "ge" "year" "2020" { fileinto "Foo"; }
if currentdate :is "zone" "+0000" { fileinto "Work"; }
