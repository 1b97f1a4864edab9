require "date";
if date :zone "CEST" "date" "year" "2026" { keep; }
