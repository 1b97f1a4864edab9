#!/bin/sh
# LMTP delivery: Rookery's store against Dovecot's LMTP (sdbox, one file per
# message like ours, mail_fsync = always), same machine, same filesystem,
# same load from bench/lmtpload, in one run.  Prints messages/s and p50/p99
# latency for 1, 4 and 16 clients with 4 KB and 100 KB messages, and the
# ratio rookery/dovecot.
#
#   sh bench/lmtp.sh            (make bench runs it)
#   SECS=10 COUNT=20000 sh bench/lmtp.sh
set -eu
. "$(dirname "$0")/common.sh"

SECS=${SECS:-6}
COUNT=${COUNT:-20000}
USERS="u1@example.com u2@example.com u3@example.com u4@example.com"

bench_tmp
RP=$(free_port)
DP=$(free_port)

# --- Rookery ----------------------------------------------------------------
rookery_conf "listen = lmtp 127.0.0.1:$RP"
# shellcheck disable=SC2086 # a list of users
rookery_users bench $USERS
rookery_start

# --- Dovecot ------------------------------------------------------------------
D=$T/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail"
chown dovecot:dovecot "$D/mail"
cat > "$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $D/log
protocols = lmtp
listen = 127.0.0.1
ssl = no
mail_location = sdbox:$D/mail/%u
mail_fsync = always
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$D/mail/%u
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DP
  }
  process_limit = 64
}
CONF
dovecot -c "$D/dovecot.conf"
wait_port "$DP"
PIDS="$PIDS $(cat "$D/run/master.pid")"

# --- the runs -----------------------------------------------------------------
rcpts=""
for u in $USERS; do rcpts="$rcpts -r $u"; done

echo
echo "## LMTP delivery (fsync on both), ${SECS}s or $COUNT messages per cell"
echo
echo "| clients | size | rookery msg/s | p50 ms | p99 ms | dovecot msg/s | p50 ms | p99 ms | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in 4096 102400; do
	for c in 1 4 16; do
		# shellcheck disable=SC2086
		r=$("$TOOLS/lmtpload" -p "$RP" -c $c -s $size -n "$COUNT" \
			-t "$SECS" $rcpts -l rookery)
		# shellcheck disable=SC2086
		d=$("$TOOLS/lmtpload" -p "$DP" -c $c -s $size -n "$COUNT" \
			-t "$SECS" $rcpts -l dovecot)
		echo "| $c | $((size / 1024)) KB | $(kv rate "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$d") | $(kv p50_ms "$d") | $(kv p99_ms "$d") | $(ratio "$(kv rate "$r")" "$(kv rate "$d")") |"
	done
done
