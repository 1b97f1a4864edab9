require ["relational", "fileinto"];
if header :value "eq" "to" "BOB@EXAMPLE.COM" { fileinto "Foo"; }
if header :count "ne" "cc" "0" { fileinto "Work"; }
