require "fileinto";
if size :over 0 { fileinto "Foo"; }
if size :under 0 { fileinto "Work"; }
