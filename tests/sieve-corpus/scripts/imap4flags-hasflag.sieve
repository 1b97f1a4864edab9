require ["imap4flags", "fileinto"];
addflag "A B";
if hasflag :is "b" { fileinto "Foo"; }
removeflag "a";
if hasflag :contains "A" { fileinto "Work"; }
