require ["date", "variables", "fileinto"];
if date :originalzone :matches "date" "zone" "*" { set "z" "${1}"; }
if date :matches "date" "iso8601" "*" { set "i" "${1}"; }
fileinto "${z} ${i}";
