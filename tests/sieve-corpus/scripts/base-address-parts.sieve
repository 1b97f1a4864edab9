require "fileinto";
if address :domain :is "from" "example.net" { fileinto "Foo"; }
elsif address :localpart :is "from" "carol" { fileinto "Lists"; }
elsif address :domain :contains "from" "work" { fileinto "Work"; }
