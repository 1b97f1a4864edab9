require ["body", "fileinto"];
if body :contains "budget" { fileinto "Work"; }
elsif body :text :contains "prize" { discard; }
