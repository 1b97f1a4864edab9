require ["encoded-character", "fileinto"];
if header :contains "subject" "${hex:4d 65 65}ting" { fileinto "${unicode:46}oo"; }
if header :contains "subject" "Gr${unicode:fc}${unicode:DF}e" { fileinto "Work"; }
