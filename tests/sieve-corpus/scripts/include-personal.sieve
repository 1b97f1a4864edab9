require ["include", "fileinto"];
include "inc-work";
if exists "x-spam-flag" { fileinto "Foo"; }
