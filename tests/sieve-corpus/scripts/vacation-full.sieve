require "vacation";
vacation :days 3 :subject "Out of office" :from "bob@example.com" :addresses ["bob@example.com", "robert@example.com"] :handle "ooo-2026" "Back on Monday.";
