require ["include", "fileinto"];
include "inc-stop";
fileinto "not-reached";
