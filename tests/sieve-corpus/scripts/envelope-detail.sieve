require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "lists" { fileinto "Lists"; }
if envelope :user "to" "bob" { fileinto "Foo"; }
