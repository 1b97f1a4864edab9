require ["copy", "fileinto"];
fileinto :copy "Archive";
if exists "list-id" { fileinto "Lists"; }
