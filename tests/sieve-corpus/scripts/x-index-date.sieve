require ["date", "index", "variables", "fileinto"];
if date :index 1 :matches "date" "month" "*" { fileinto "m${1}"; }
