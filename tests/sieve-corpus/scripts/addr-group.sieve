require "fileinto";
if address :all :is "to" "" { fileinto "Foo"; }
if exists "to" { fileinto "Work"; }
