require ["mailbox", "fileinto"];
if mailboxexists "Work" { fileinto "Work"; }
if mailboxexists ["Foo", "NoSuchBox"] { fileinto "Foo"; }
