require ["variables", "fileinto"];
if header :matches "subject" "Gr??e*" { fileinto "${1}${2}-${3}"; }
