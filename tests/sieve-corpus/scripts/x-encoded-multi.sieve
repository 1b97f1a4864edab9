require ["encoded-character", "variables", "fileinto"];
set "a" "${hex:24}{b}";
fileinto "${a}-${unicode:  48 49 }";
