if header :count "gt" "subject" "1" { keep; }
