require ["include"];
include :global :once "inc-spam";
include :global :once "inc-spam";
