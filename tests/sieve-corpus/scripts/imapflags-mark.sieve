require ["imapflags"];
mark;
keep;
