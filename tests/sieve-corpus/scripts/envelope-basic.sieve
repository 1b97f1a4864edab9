require ["envelope", "fileinto"];
if envelope :is "from" "sender@example.net" { fileinto "Foo"; }
if envelope :domain :is "to" "example.com" { fileinto "Work"; }
