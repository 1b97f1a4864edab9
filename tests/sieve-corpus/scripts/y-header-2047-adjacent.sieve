require ["variables", "fileinto"];
if header :matches "subject" "*" { fileinto "s-${1}"; }
if header :contains "cc" "André" { fileinto "Work"; }
