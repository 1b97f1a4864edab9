require "vacation";
vacation :from "Bob Baker <bob@example.com>" :addresses ["not an address", "Bob <bob@example.com>"] :subject "Away" "Back soon.";
