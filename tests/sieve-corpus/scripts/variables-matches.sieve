require ["variables", "fileinto"];
if header :matches "from" "*<*@*>" { fileinto "${2}-at-${3}"; }
