require ["variables", "fileinto"];
if address :matches :localpart "sender" "*" { fileinto "lp-${1}"; }
if address :matches :all "from" "*" { fileinto "all-${1}"; }
