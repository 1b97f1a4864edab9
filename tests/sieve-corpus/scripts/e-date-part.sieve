require "date";
if date "date" "fortnight" "x" { keep; }
