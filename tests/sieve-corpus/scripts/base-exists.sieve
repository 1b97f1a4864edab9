require "fileinto";
if exists "list-id" { fileinto "Lists"; }
elsif exists ["x-spam-flag", "x-spam-level"] { discard; }
elsif not exists "date" { fileinto "Foo"; }
