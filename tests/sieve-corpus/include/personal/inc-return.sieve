require ["include", "fileinto"];
if exists "list-id" { return; }
fileinto "in-include";
