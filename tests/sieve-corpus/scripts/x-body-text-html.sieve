require ["body", "fileinto"];
if body :text :contains "secret" { fileinto "Foo"; }
if body :content "text/html" :contains "secret" { fileinto "Work"; }
