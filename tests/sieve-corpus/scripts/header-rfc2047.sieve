require "fileinto";
if header :contains "subject" "Grüße" { fileinto "Foo"; }
if header :contains "from" "Jürgen" { fileinto "Work"; }
