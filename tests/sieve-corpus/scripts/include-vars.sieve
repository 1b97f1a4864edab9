require ["include", "variables", "fileinto"];
global "dest";
set "dest" "Archive";
include "inc-global-var";
