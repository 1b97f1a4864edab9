require ["date", "fileinto"];
if date :is "x-nodate" "year" "2026" { fileinto "Foo"; }
if not date :is "date" "year" "1999" { fileinto "Work"; }
