require ["fileinto", "variables"];
if address :all :matches "cc" "*" { fileinto "cc-${1}"; }
if address :localpart :matches "from" "*" { fileinto "lp-${1}"; }
