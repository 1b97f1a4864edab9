require "fileinto";
if header :contains "subject" text:
Meeting
.
{ fileinto "Work"; }
