require "fileinto";
if allof (header :contains "from" "example", not header :contains "subject" "money") {
  if anyof (exists "cc", exists "list-id") { fileinto "Work"; } else { fileinto "Foo"; }
} else { discard; }
