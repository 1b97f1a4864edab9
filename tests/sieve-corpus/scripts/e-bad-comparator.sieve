if header :comparator "i;nope" "subject" "x" { keep; }
