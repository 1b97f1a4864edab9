require "fileinto";
if size :over 600 { fileinto "Foo"; }
elsif size :under 400 { fileinto "Work"; }
