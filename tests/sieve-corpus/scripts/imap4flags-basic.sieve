require ["imap4flags", "fileinto"];
setflag "\\Seen";
addflag ["\\Flagged", "$Important"];
if header :contains "subject" "money" { removeflag "\\Flagged"; fileinto "Foo"; }
keep;
