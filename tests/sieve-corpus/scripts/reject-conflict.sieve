require ["reject", "fileinto"];
fileinto "Foo";
if exists "x-spam-flag" { reject "rejected"; }
