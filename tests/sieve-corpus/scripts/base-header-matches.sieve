require "fileinto";
if header :matches "subject" "*[dev]*" { fileinto "Lists"; }
elsif header :matches "subject" "Invoice ????-??" { fileinto "Archive"; }
elsif header :matches "subject" "*!!!*" { discard; }
