require ["include"];
include "nope-not-here";
