require "copy";
redirect :copy "a@example.com";
redirect "a@example.com";
