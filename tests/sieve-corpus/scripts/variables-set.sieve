require ["variables", "fileinto"];
set "box" "Foo";
set :upper "u" "hello";
set :lowerfirst "lf" "HELLO";
set :length "len" "abcdef";
set :quotewildcard "q" "a*b?c";
fileinto "${box}-${u}-${lf}-${len}-${q}";
