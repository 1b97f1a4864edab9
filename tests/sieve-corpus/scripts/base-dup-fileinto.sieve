require "fileinto";
fileinto "Foo";
fileinto "Foo";
fileinto "INBOX";
keep;
