require ["imap4flags", "variables", "fileinto"];
set "fl" "";
addflag "fl" "\\Seen";
addflag "fl" ["x", "y"];
removeflag "fl" "x";
if hasflag "fl" "y" { fileinto :flags "${fl}" "Foo"; }
