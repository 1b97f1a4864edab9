if header :contains "x-spam-flag" "yes" { discard; stop; }
keep;
