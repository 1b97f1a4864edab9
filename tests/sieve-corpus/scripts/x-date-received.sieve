require ["date", "variables", "fileinto"];
if date :matches "received" "date" "*" { fileinto "r${1}"; }
