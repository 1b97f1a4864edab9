require ["variables", "relational", "comparator-i;ascii-numeric", "fileinto"];
set "a" "";
if string :count "eq" :comparator "i;ascii-numeric" ["${a}", "x", "y"] "2" { fileinto "Foo"; }
