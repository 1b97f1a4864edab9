require ["index", "fileinto", "variables"];
if header :index 1 :matches "received" "from *.example.net *" { fileinto "first-${1}"; }
if header :index 1 :last :matches "received" "from * by*" { fileinto "last-${1}"; }
