require "fileinto";
if header :contains "subject" "a" { fileinto "Foo"; stop; }
fileinto "Work";
