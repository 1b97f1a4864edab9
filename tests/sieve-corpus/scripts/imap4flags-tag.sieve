require ["imap4flags", "fileinto"];
fileinto :flags ["\\Answered", "work"] "Work";
keep :flags "\\Deleted";
