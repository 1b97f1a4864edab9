/* a bracketed comment */ require "fileinto"; # hash comment
if /* inline */ header :is "to" "dev@lists.example.org" # tail
{ fileinto "Lists"; }
