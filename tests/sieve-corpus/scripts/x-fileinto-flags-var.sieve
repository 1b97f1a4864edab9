require ["imap4flags", "variables", "fileinto"];
set "f" "\\Seen \\Answered";
fileinto :flags "${f}" "Foo";
