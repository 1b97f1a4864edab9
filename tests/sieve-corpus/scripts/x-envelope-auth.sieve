require ["envelope", "fileinto"];
if envelope :contains "auth" "x" { fileinto "Foo"; }
