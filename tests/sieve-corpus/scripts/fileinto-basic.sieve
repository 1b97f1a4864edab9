require "fileinto";
if address :is "to" "bob@example.com" { fileinto "Foo"; } else { fileinto "Work"; }
