require "fileinto";
if header :matches "subject" "*\\?*" { fileinto "Foo"; }
if header :matches "subject" "*$$$" { fileinto "Work"; }
