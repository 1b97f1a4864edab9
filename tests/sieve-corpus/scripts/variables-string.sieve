require ["variables", "fileinto"];
set "a" "Hello World";
if string :matches "${a}" "H*o W*" { fileinto "${1}|${2}"; }
if string :is "${undefined}" "" { fileinto "Empty"; }
