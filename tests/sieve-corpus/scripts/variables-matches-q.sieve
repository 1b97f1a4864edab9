require ["variables", "fileinto"];
if header :matches "date" "*, ?? * *" { fileinto "d${1}-${2}${3}-${4}"; }
