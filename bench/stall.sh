#!/bin/sh
# Stalls: what one user's command over a big mailbox costs the other
# sessions of the same server.  Rookery's store serves all its sessions
# from one loop; Dovecot runs a process per connection.  Both get the
# same INBOX of MSGS messages (filled by bench/imapload), then
# bench/stall.py runs STORE, COPY, SEARCH BODY, SORT, THREAD and MOVE of
# the whole mailbox, then a POP3 QUIT deleting half of it, DELETE of a
# mailbox holding a copy of the rest and EXPUNGE of the rest, while a
# second user's connection sends NOOP every 10 ms, and reports each
# command's time and the longest NOOP meanwhile.
#
#   sh bench/stall.sh              (make bench runs it)
#   MSGS=5000 sh bench/stall.sh
set -eu
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/servers.sh"

MSGS=${MSGS:-30000}
FILLCONNS=${FILLCONNS:-8}
PW=bench
HERE=$(cd "$(dirname "$0")" && pwd)

bench_tmp stall
users="big@example.com other@example.com"
servers_setup
rookery_start
dovecot_start 1 1024 never

# the fill is not measured (Dovecot without fsync for it, as bench/imap.sh)
"$TOOLS/imapload" -m fill -p "$RP" -u big@example.com -w $PW -n "$MSGS" \
	-c "$FILLCONNS" -l rookery > /dev/null
"$TOOLS/imapload" -m fill -p "$DP" -u big@example.com -w $PW -n "$MSGS" \
	-c "$FILLCONNS" -l dovecot > /dev/null
dovecot_restart 1 1024 always

r=$(/usr/bin/python3 "$HERE/stall.py" "$RP" "$RP3" big@example.com \
	other@example.com $PW rookery)
d=$(/usr/bin/python3 "$HERE/stall.py" "$DP" "$DP3" big@example.com \
	other@example.com $PW dovecot)

echo
echo "## Stalls: one user's command on $MSGS messages, another user's NOOPs meanwhile"
echo
echo "| command | messages | rookery s | result | others' longest wait ms | dovecot s | result | others' longest wait ms |"
echo "|---|---|---|---|---|---|---|---|"
for c in STORE COPY SEARCH SORT THREAD MOVE POP3_QUIT DELETE EXPUNGE; do
	a=$(echo "$r" | grep "cmd=$c ")
	b=$(echo "$d" | grep "cmd=$c ")
	echo "| $c | $(kv messages "$a") | $(kv secs "$a") | $(kv result "$a") | $(kv stall_ms "$a") | $(kv secs "$b") | $(kv result "$b") | $(kv stall_ms "$b") |"
done
