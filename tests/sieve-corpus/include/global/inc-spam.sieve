require ["fileinto", "imap4flags"];
if exists "x-spam-flag" { addflag "Junk"; fileinto "Foo"; }
