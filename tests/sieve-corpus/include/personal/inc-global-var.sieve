require ["include", "variables", "fileinto"];
global "dest";
fileinto "${dest}";
