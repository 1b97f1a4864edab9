require ["date", "variables", "fileinto"];
if date :matches "date" "std11" "*" { set "s" "${0}"; }
if date :matches "date" "weekday" "*" { set "w" "${0}"; }
if date :matches "date" "julian" "*" { set "j" "${0}"; }
if date :matches "date" "iso8601" "*" { set "i" "${0}"; }
fileinto "${w}|${j}|${i}|${s}";
