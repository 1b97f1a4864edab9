require "imap4flags";
addflag "\\SEEN";
removeflag "\\seen";
addflag "Foo";
