require "fileinto";
if header :contains ["subject", "x-mailer"] ["report", "build"] { fileinto "Work"; }
elsif header :contains "from" "spam" { discard; }
