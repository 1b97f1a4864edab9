require "fileinto";
if address :is "from" "alice@example.net" { fileinto "Foo"; }
if address :is ["to", "cc"] "dave.jr@example.org" { fileinto "Work"; }
