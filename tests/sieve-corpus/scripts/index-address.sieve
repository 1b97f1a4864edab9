require ["index", "fileinto"];
if address :index 2 :is "to" "team@work.example.com" { fileinto "Work"; }
