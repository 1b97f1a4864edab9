require "fileinto";
if header :contains "subject" "zzz" { fileinto "A"; }
elsif header :contains "subject" "yyy" { fileinto "B"; }
elsif exists "cc" { fileinto "C"; }
else { fileinto "D"; }
