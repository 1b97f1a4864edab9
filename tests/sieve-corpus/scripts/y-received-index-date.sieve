require ["date", "index", "variables", "fileinto"];
if date :index 1 :originalzone :matches "received" "iso8601" "*" { fileinto "r-${1}"; }
