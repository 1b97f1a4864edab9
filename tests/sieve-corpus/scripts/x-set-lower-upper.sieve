require ["variables", "fileinto"];
set :lower :upper "a" "MiXeD";
fileinto "${a}";
