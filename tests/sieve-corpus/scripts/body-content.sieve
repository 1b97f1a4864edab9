require ["body", "fileinto"];
if body :content "text/plain" :contains "schön" { fileinto "Foo"; }
if body :content "application/pdf" :contains "PDF-1.4" { fileinto "Archive"; }
if body :content "text" :contains "Café" { fileinto "Work"; }
