require "fileinto";
fileinto :flags "x" "Foo";
