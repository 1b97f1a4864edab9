require "fileinto";
if address :matches :domain "to" "*.example.com" { fileinto "Work"; }
if address :matches :all "cc" "*@example.org" { fileinto "Foo"; }
