require "imap4flags";
if exists "x-spam-flag" { addflag "Junk"; }
addflag "\\Seen";
