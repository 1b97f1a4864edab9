require "fileinto";
if header :contains "subject" "" { fileinto "Foo"; }
if header :is "x-none" "" { fileinto "Work"; }
