require "fileinto";
if exists "MESSAGE-id" { fileinto "Foo"; }
