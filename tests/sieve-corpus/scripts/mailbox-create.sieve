require ["mailbox", "fileinto"];
fileinto :create "Brand/New";
