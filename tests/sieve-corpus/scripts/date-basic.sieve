require ["date", "fileinto", "relational"];
if date :is "date" "year" "2026" { fileinto "Foo"; }
if date :value "ge" "date" "date" "2026-11-24" { fileinto "Work"; }
