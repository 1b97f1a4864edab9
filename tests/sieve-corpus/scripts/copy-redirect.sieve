require "copy";
redirect :copy "audit@example.com";
