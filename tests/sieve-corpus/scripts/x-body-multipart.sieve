require ["body", "fileinto"];
if body :content "multipart" :contains "multi-part message" { fileinto "Foo"; }
if body :content "" :contains "Hallo" { fileinto "Work"; }
