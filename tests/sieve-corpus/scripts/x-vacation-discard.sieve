require "vacation";
vacation :subject "Away" "Gone fishing";
discard;
