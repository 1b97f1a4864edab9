if header :contains "subject" "report" { redirect "manager@example.com"; }
elsif exists "list-id" { redirect "dev-archive@example.com"; redirect "dev-archive@example.com"; }
