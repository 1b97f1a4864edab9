require "fileinto";
if false { discard; }
if true { fileinto "Foo"; }
if not true { fileinto "Work"; }
