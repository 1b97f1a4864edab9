#!/bin/sh
# Sieve at delivery: what a typical 30-rule script (bench/sieve-30rules.sieve:
# header/address tests, fileinto, flags) costs per LMTP delivery, on
# Rookery's store and on Dovecot LMTP + Pigeonhole (sdbox, mail_fsync =
# always), same machine, same filesystem, same run.  Users u1..u4 have no
# script, s1..s4 the script; the message (bench/sieve-message.eml, padded to
# 4 KB) is a list message several rules match, filed into a folder with
# flags.  Prints msg/s at 16 clients, the script's cost (1 - with/without)
# and the ratio rookery/dovecot with the script, each cell the median of
# ROUNDS interleaved rounds.
#
#   sh bench/sieve.sh
#   SECS=10 ROUNDS=5 sh bench/sieve.sh
#   SCRIPT=other.sieve sh bench/sieve.sh      (another script, same runs)
set -eu
. "$(dirname "$0")/common.sh"

SECS=${SECS:-6}
COUNT=${COUNT:-40000}
CLIENTS=${CLIENTS:-16}
SIZE=4096
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=${SCRIPT:-$HERE/sieve-30rules.sieve}
MESSAGE=$HERE/sieve-message.eml
PLAIN="u1@example.com u2@example.com u3@example.com u4@example.com"
SIEVED="s1@example.com s2@example.com s3@example.com s4@example.com"
FOLDERS="Lists Junk Receipts Family Notifications Newsletters Calendar Team
Admin Archive Releases Work"

bench_tmp

# control LINE: one command on the store's control socket; fails unless OK
control() {
	/usr/bin/python3 - "$T/rookery/control.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("control: closed: %r" % buf)
    buf += chunk
    last = buf.rstrip(b"\n").rsplit(b"\n", 1)[-1] if buf.endswith(b"\n") else b""
    if last.startswith(b"OK"):
        sys.exit(0)
    if last.startswith(b"NO"):
        sys.exit("control: %s -> %s" % (sys.argv[2], last.decode()))
PY
}

RP=$(free_port)
DP=$(free_port)

# --- Rookery ----------------------------------------------------------------
rookery_conf "listen = lmtp 127.0.0.1:$RP"
cp "$SCRIPT" "$T/rookery/rules.sieve"
# shellcheck disable=SC2086 # lists of users
rookery_users bench $PLAIN $SIEVED
rookery_start
for u in $SIEVED; do
	for f in $FOLDERS; do control "mailbox-create $u $f"; done
	control "sieve-put $u rules \"$T/rookery/rules.sieve\""
	control "sieve-activate $u rules"
done

# --- Dovecot + Pigeonhole -------------------------------------------------------
D=$T/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail"
for u in $PLAIN $SIEVED; do mkdir -p "$D/mail/$u"; done
for u in $SIEVED; do
	mkdir -p "$D/mail/$u/sieve"
	cp "$SCRIPT" "$D/mail/$u/sieve/rules.sieve"
	ln -s sieve/rules.sieve "$D/mail/$u/.dovecot.sieve"
done
chown -R dovecot:dovecot "$D/mail"
cat > "$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $D/log
protocols = lmtp
listen = 127.0.0.1
ssl = no
mail_location = sdbox:$D/mail/%u
mail_fsync = always
lda_mailbox_autocreate = yes
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
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
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
# run PORT LABEL USERS [SECS]: one lmtpload line
run() {
	rc=""
	for u in $3; do rc="$rc -r $u"; done
	# shellcheck disable=SC2086
	"$TOOLS/lmtpload" -p "$1" -c "$CLIENTS" -s $SIZE -n "$COUNT" \
		-t "${4:-$SECS}" -f "$MESSAGE" $rc -l "$2"
}

# one short warm-up per server and user set (Pigeonhole compiles the
# script on first use; both fill their caches)
for p in "$RP" "$DP"; do
	for set in "$PLAIN" "$SIEVED"; do
		# shellcheck disable=SC2086
		run "$p" warmup "$set" 1 >/dev/null
	done
done 2>/dev/null || true

# ROUNDS rounds of the four cells, interleaved so that a burst of load
# from elsewhere on the machine hits all four alike; each cell reports its
# median round (by rate).
ROUNDS=${ROUNDS:-3}
: >"$T/cells"
i=0
while [ $i -lt "$ROUNDS" ]; do
	{
		run "$RP" rookery-plain "$PLAIN"
		run "$RP" rookery-sieve "$SIEVED"
		run "$DP" dovecot-plain "$PLAIN"
		run "$DP" dovecot-sieve "$SIEVED"
	} >>"$T/cells"
	i=$((i + 1))
done
# median LABEL: the line of LABEL's median round
median() {
	grep "label=$1 " "$T/cells" | awk '{ for (i = 1; i <= NF; i++)
		if ($i ~ /^rate=/) print substr($i, 6), $0 }' |
		sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) {
			sub(/^[^ ]* /, ""); print }'
}
rn=$(median rookery-plain)
rs=$(median rookery-sieve)
dn=$(median dovecot-plain)
ds=$(median dovecot-sieve)

# the script really ran: the message lands in Lists on both
rel=$(/usr/bin/python3 - "$T/rookery/control.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"mailbox-list s1@example.com\n")
buf = b""
while not (buf.endswith(b"\n") and buf.rstrip(b"\n").rsplit(b"\n", 1)[-1][:2] in (b"OK", b"NO")):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
for line in buf.decode().splitlines():
    if line.startswith("* Lists ") or line.startswith("* INBOX "):
        print(line[2:].split()[0] + ":" + line.split("messages=")[1].split()[0], end=" ")
PY
)
drel=$(find "$D/mail/s1@example.com" -path "*Lists*" -name 'u.*' | wc -l)
dinb=$(find "$D/mail/s1@example.com/mailboxes/INBOX" -name 'u.*' 2>/dev/null | wc -l)

cost() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", (1 - a / b) * 100; else print "n/a" }'
}

echo
echo "## Sieve at delivery: $(basename "$SCRIPT"), $CLIENTS clients, 4 KB, fsync on both, ${SECS}s or $COUNT messages per cell, median of $ROUNDS rounds"
echo
echo "| server | no script msg/s | p99 ms | with script msg/s | p99 ms | script cost |"
echo "|---|---|---|---|---|---|"
echo "| rookery | $(kv rate "$rn") | $(kv p99_ms "$rn") | $(kv rate "$rs") | $(kv p99_ms "$rs") | $(cost "$(kv rate "$rs")" "$(kv rate "$rn")") |"
echo "| dovecot + pigeonhole | $(kv rate "$dn") | $(kv p99_ms "$dn") | $(kv rate "$ds") | $(kv p99_ms "$ds") | $(cost "$(kv rate "$ds")" "$(kv rate "$dn")") |"
echo
echo "rookery/dovecot with the script: $(ratio "$(kv rate "$rs")" "$(kv rate "$ds")")"
echo "(without: $(ratio "$(kv rate "$rn")" "$(kv rate "$dn")")); goal: cost < 10%, ratio >= 1.5"
echo "check, user s1: rookery $rel; dovecot Lists:$drel INBOX:$dinb"
for l in rookery-plain rookery-sieve dovecot-plain dovecot-sieve; do
	printf '%s' "$l msg/s by round:"
	grep "label=$l " "$T/cells" | tr ' ' '\n' | sed -n 's/^rate=/ /p' |
		tr -d '\n'
	echo
done
