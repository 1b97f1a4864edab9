require "fileinto";
if header :is ["x-mailer", "importance", "x-priority"] ["high", "3"] { fileinto "Foo"; }
