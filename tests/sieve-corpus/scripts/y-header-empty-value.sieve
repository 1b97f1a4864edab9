require "fileinto";
if header :is "x-empty" "" { fileinto "Foo"; }
if exists "x-empty" { fileinto "Work"; }
