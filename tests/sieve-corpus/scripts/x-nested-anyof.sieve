require "fileinto";
if anyof (allof (exists "to", not exists "cc"), anyof (false, header :is "x-spam-flag" "YES")) { fileinto "Foo"; }
