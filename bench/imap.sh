#!/bin/sh
# IMAP: Rookery's store against Dovecot's imapd (sdbox, mail_fsync =
# always), same machine, same filesystem, same load from bench/imapload,
# in one run.  Three parts, each printed as a markdown table with the
# ratio rookery/dovecot:
#
#   mix         CLIENTS clients over USERS users (MIXMSGS messages each),
#               imaptest-like mix for SECS seconds: ops/s per command
#   first sync  UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE) on a
#               SYNCMSGS-message INBOX (best of two runs)
#   idle        IDLE sessions held open: memory of the server per session
#               (RSS of rookery-store; RSS and PSS of Dovecot's whole
#               process tree), on the mix users' INBOXes and on empty ones
#
#   sh bench/imap.sh            (make bench runs it)
#   SECS=20 SYNCMSGS=20000 IDLE=2000 sh bench/imap.sh
#
# Dovecot runs one imap process per connection (its default) for the mix
# and the first sync; for the IDLE part it is restarted with 100 clients
# per imap process, since 10,000 processes would not fit this machine.
set -eu
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/servers.sh"

SECS=${SECS:-15}
CLIENTS=${CLIENTS:-50}
USERS=${USERS:-10}
MIXMSGS=${MIXMSGS:-1000}
SYNCMSGS=${SYNCMSGS:-100000}
IDLE=${IDLE:-10000}
IDLE_SECS=${IDLE_SECS:-120}
FILLCONNS=${FILLCONNS:-32}
PW=bench

# 10,000 sessions need 10,000 descriptors on each side
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)" || true

bench_tmp
RP=$(free_port)
DP=$(free_port)
users="big@example.com"
i=1
while [ $i -le "$USERS" ]; do
	users="$users u$i@example.com e$i@example.com"
	i=$((i + 1))
done

servers_setup
rookery_start
dovecot_start 1 1024 never

# --- fill both (in parallel; the fill is not what we measure) ------------------
fill() { # port label
	"$TOOLS/imapload" -m fill -p "$1" -u big@example.com -w $PW \
		-n "$SYNCMSGS" -c "$FILLCONNS" -l "$2" > "$T/fill-big-$2" &
	fpids="$fpids $!"
	i=1
	while [ $i -le "$USERS" ]; do
		"$TOOLS/imapload" -m fill -p "$1" -u "u$i@example.com" -w $PW \
			-n "$MIXMSGS" -c 2 -l "$2" > /dev/null
		i=$((i + 1))
	done
}
t0=$(date +%s)
fpids=""
fill "$RP" rookery
fill "$DP" dovecot
for p in $fpids; do wait "$p"; done
t1=$(date +%s)
dovecot_restart 1 1024 always
rf=$(cat "$T/fill-big-rookery")
df=$(cat "$T/fill-big-dovecot")

# --- the runs -----------------------------------------------------------------
mix() { # port label
	"$TOOLS/imapload" -m mix -p "$1" -U "u%d@example.com" -w $PW \
		-M "$USERS" -c "$CLIENTS" -t "$SECS" -l "$2"
}
rm_=$(mix "$RP" rookery)
dm_=$(mix "$DP" dovecot)

best_sync() { # port label
	a=$("$TOOLS/imapload" -m sync -p "$1" -u big@example.com -w $PW -l "$2")
	b=$("$TOOLS/imapload" -m sync -p "$1" -u big@example.com -w $PW -l "$2")
	if awk -v x="$(kv secs "$a")" -v y="$(kv secs "$b")" \
		'BEGIN { exit !(x <= y) }'; then echo "$a"; else echo "$b"; fi
}
rs=$(best_sync "$RP" rookery)
ds=$(best_sync "$DP" dovecot)

idle() { # port label pid user-format
	"$TOOLS/imapload" -m idle -p "$1" -U "$4" -w $PW \
		-M "$USERS" -k "$IDLE" -t "$IDLE_SECS" -P "$3" -l "$2"
}
rookery_restart
ri=$(idle "$RP" rookery "$RPID" "u%d@example.com")
rookery_restart
rie=$(idle "$RP" rookery "$RPID" "e%d@example.com")
sleep 2
dovecot_restart 100 256 always
di=$(idle "$DP" dovecot "$DPID" "u%d@example.com")
sleep 2
dovecot_restart 100 256 always
die=$(idle "$DP" dovecot "$DPID" "e%d@example.com")

# --- the report -----------------------------------------------------------------
line() { # cmd
	r=$(echo "$rm_" | grep "cmd=$1 ")
	d=$(echo "$dm_" | grep "cmd=$1 ")
	echo "| $1 | $(kv rate "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$d") | $(kv p50_ms "$d") | $(kv p99_ms "$d") | $(ratio "$(kv rate "$r")" "$(kv rate "$d")") |"
}
echo
echo "## IMAP mix: $CLIENTS clients over $USERS users ($MIXMSGS messages each), ${SECS}s"
echo
echo "| command | rookery ops/s | p50 ms | p99 ms | dovecot ops/s | p50 ms | p99 ms | ratio |"
echo "|---|---|---|---|---|---|---|---|"
for c in LOGIN SELECT FETCH_FLAGS FETCH_HEADERS FETCH_BODY STORE APPEND \
	EXPUNGE IDLE LOGOUT; do
	line "$c"
done
rt=$(echo "$rm_" | grep "cmd=TOTAL")
dt=$(echo "$dm_" | grep "cmd=TOTAL")
echo "| **total** | **$(kv rate "$rt")** | | | **$(kv rate "$dt")** | | | **$(ratio "$(kv rate "$rt")" "$(kv rate "$dt")")** |"
echo
echo "Errors: rookery $(kv errors "$rt"), dovecot $(kv errors "$dt")."
echo
echo "## First sync: UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), $SYNCMSGS messages"
echo
echo "| server | messages | seconds | messages/s |"
echo "|---|---|---|---|"
echo "| rookery | $(kv fetched "$rs") | $(kv secs "$rs") | $(kv rate "$rs") |"
echo "| dovecot | $(kv fetched "$ds") | $(kv secs "$ds") | $(kv rate "$ds") |"
echo "| ratio (speed-up) | | $(ratio "$(kv secs "$ds")" "$(kv secs "$rs")") | |"
echo
echo "Filled in parallel in $((t1 - t0)) s: rookery $(kv rate "$rf") msg/s (fsync on), dovecot $(kv rate "$df") msg/s (mail_fsync = never for the fill only); $FILLCONNS connections, APPEND with LITERAL+, 32 in flight on each."
echo
echo "## IDLE: $IDLE sessions over $USERS users, selected INBOX"
echo
echo "| server | INBOX | idling | failed | RSS before MB | RSS after MB | RSS KB/session | PSS KB/session |"
echo "|---|---|---|---|---|---|---|---|"
idle_row() { # result inbox
	echo "| $(kv label "$1") | $2 | $(kv idling "$1") | $(kv failed "$1") | $(($(kv rss0_kb "$1") / 1024)) | $(($(kv rss_kb "$1") / 1024)) | $(kv rss_per_session_kb "$1") | $(kv pss_per_session_kb "$1") |"
}
idle_row "$ri" "$MIXMSGS+ msgs"
idle_row "$rie" "empty"
idle_row "$di" "$MIXMSGS+ msgs"
idle_row "$die" "empty"
echo "| ratio dovecot/rookery (PSS) | $MIXMSGS+ msgs | | | | | | $(ratio "$(kv pss_per_session_kb "$di")" "$(kv pss_per_session_kb "$ri")") |"
echo "| ratio dovecot/rookery (PSS) | empty | | | | | | $(ratio "$(kv pss_per_session_kb "$die")" "$(kv pss_per_session_kb "$rie")") |"
