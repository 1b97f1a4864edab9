require "fileinto";
if header :comparator "i;octet" :contains "subject" "win" { fileinto "Foo"; }
elsif header :comparator "i;octet" :contains "subject" "WIN" { fileinto "Work"; }
