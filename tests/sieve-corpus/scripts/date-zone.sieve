require ["date", "variables", "fileinto"];
if date :zone "+0200" "date" "time" "*" { fileinto "t${0}"; }
if date :originalzone "date" "zone" "*" { fileinto "z${0}"; }
