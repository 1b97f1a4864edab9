require ["subaddress", "fileinto"];
if address :detail "to" "work" { fileinto "Work"; }
elsif address :user "to" "bob" { fileinto "Foo"; }
