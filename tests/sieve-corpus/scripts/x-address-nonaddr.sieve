require "fileinto";
if address :contains "subject" "a" { fileinto "Foo"; }
