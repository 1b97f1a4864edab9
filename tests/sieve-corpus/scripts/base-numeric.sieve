require ["fileinto", "comparator-i;ascii-numeric"];
if header :comparator "i;ascii-numeric" :is "x-spam-score" "17" { discard; }
elsif header :comparator "i;ascii-numeric" :is "x-spam-score" "02" { fileinto "Lists"; }
