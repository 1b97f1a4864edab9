require "fileinto";
if size :over 1K { fileinto "Foo"; }
if size :under 1M { keep; }
