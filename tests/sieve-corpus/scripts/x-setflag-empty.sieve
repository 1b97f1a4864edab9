require "imap4flags";
addflag "x";
setflag "";
keep;
