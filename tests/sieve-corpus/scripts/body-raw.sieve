require ["body", "fileinto"];
if body :raw :contains "PGh0bWw" { fileinto "Foo"; }
if body :raw :contains "JVBERi0" { fileinto "Archive"; }
