require ["body", "fileinto"];
if body :text :contains "budget is fine" { fileinto "Foo"; }
if body :raw :contains "UmVwb3J0" { fileinto "Work"; }
