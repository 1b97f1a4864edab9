require ["variables", "fileinto"];
fileinto "v-${1}-${0}-${9}";
