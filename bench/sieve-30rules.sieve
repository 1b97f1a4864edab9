# A typical personal filter: 30 rules on From/To/Subject/List-Id, filing
# into a few folders and setting flags.  Used by bench/sieve.sh.
require ["fileinto", "imap4flags"];

# 1-6: mailing lists by List-Id
if header :contains "List-Id" "<announce.example.org>" { fileinto "Lists"; stop; }
if header :contains "List-Id" "<dev.lists.example.net>" { fileinto "Lists"; stop; }
if header :contains "List-Id" "<users.lists.example.net>" { fileinto "Lists"; }
if header :matches "List-Id" "*<security.*>" { addflag "\\Flagged"; fileinto "Lists"; }
if exists "List-Unsubscribe" { addflag "list"; }
if header :is "Precedence" ["bulk", "junk"] { fileinto "Junk"; stop; }

# 7-14: senders
if address :is "From" "boss@corp.example" { addflag "\\Flagged"; }
if address :domain :is "From" "billing.example.com" { fileinto "Receipts"; }
if address :localpart :is "From" ["noreply", "no-reply", "donotreply"] { addflag "auto"; }
if address :domain :is "From" ["shop.example", "store.example"] { fileinto "Receipts"; }
if address :is "From" ["mom@family.example", "dad@family.example"] { fileinto "Family"; }
if address :matches "From" "*@github.example" { fileinto "Notifications"; }
if address :contains "From" "newsletter" { fileinto "Newsletters"; }
if address :domain :is "From" "partners.example.net" { addflag "partner"; }

# 15-20: subjects
if header :contains "Subject" ["invoice", "receipt", "order confirmation"] { addflag "$Receipt"; }
if header :matches "Subject" "[SPAM]*" { fileinto "Junk"; stop; }
if header :contains "Subject" "urgent" { addflag "\\Flagged"; }
if header :matches "Subject" "Re: *" { addflag "reply"; }
if header :contains "Subject" ["meeting", "invitation", "calendar"] { fileinto "Calendar"; }
if header :is "Subject" "" { addflag "nosubject"; }

# 21-26: recipients
if address :is ["To", "Cc"] "team@corp.example" { fileinto "Team"; }
if address :domain :is "To" "lists.example.net" { addflag "tolist"; }
if address :localpart :is "To" "postmaster" { fileinto "Admin"; }
if not address :is ["To", "Cc"] ["u1@example.com", "u2@example.com", "u3@example.com", "u4@example.com"] { addflag "bcc"; }
if address :is "To" "archive@example.com" { fileinto "Archive"; }
if header :contains "X-Original-To" "alias" { addflag "alias"; }

# 27-30: combinations
if allof (address :domain :is "From" "lists.example.net",
          header :contains "Subject" "release") {
    setflag ["\\Seen", "release"];
    fileinto "Releases";
}
if anyof (header :contains "X-Spam-Flag" "YES",
          header :contains "X-Spam-Status" "Yes,") { fileinto "Junk"; stop; }
if allof (header :contains "List-Id" "example.net",
          not header :contains "Subject" "digest") { addflag "perpost"; }
if anyof (address :domain :is "From" "corp.example",
          header :contains "Subject" "weekly report") { fileinto "Work"; }
