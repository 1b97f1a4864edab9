#!/bin/sh
# Memory per idle proxied IMAP session in rookery-mux (issue 4: <= 8 KB
# plain, <= 40 KB TLS).  One store and one mux in a temp dir on free
# 127.0.0.1 ports; for plain and then TLS, a fresh mux is started, warmed
# up with a few logins (so one-time set-up is not charged to sessions),
# then bench/muxload holds N sessions logged in with INBOX selected.
# Printed per mode: RSS and live heap (glibc malloc_stats(), read through
# gdb, "in use bytes" of all arenas) before, while held, and after the
# clients went away, and the per-session growth of both.
#
#   sh bench/mux-idle.sh                  (N=5000)
#   N=8000 BUILD=build/h-mem MODES=tls sh bench/mux-idle.sh
#
# MUXENV="VAR=value ..." is put in the mux's environment (e.g. an
# LD_PRELOAD heap profiler such as heaptrack's, with KILL9=1 so that what
# is live while the sessions are held shows as "leaked"); MODES=plain or
# tls runs one; LOG_LEVEL=debug shows the mux's memtrim lines; PAUSE=SECS
# keeps each mux for a look by hand.  The heap figure needs gdb (ptrace
# on our own child); without it the heap columns say "n/a".
set -eu
. "$(dirname "$0")/common.sh"

N=${N:-5000}
NUSERS=64
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
# two descriptors per session in the mux, and the store holds one each
[ "$NOFILE" = unlimited ] || [ "$N" -le $(((NOFILE - 200) / 2)) ] ||
	N=$(((NOFILE - 200) / 2))

bench_tmp
SP=$(free_port)
MP=$(free_port)
MTP=$(free_port)
R=$T/rookery
mkdir -p "$R"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=bench.local \
	2>/dev/null
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$R/mux.secret"
chmod 600 "$R/mux.secret"
cat > "$R/rookery.conf" <<CONF
[global]
log = stderr
log_level = ${LOG_LEVEL:-warn}
sasldb = $R/sasldb2
allow_plaintext = yes
tls_cert = $T/cert.pem
tls_key = $T/key.pem
proxy_identities = mux@rookery.internal
directory = $R/directory.db

[mux]
listen = imap 127.0.0.1:$MP
listen = imaps 127.0.0.1:$MTP tls
proxy_identity = mux@rookery.internal
proxy_password_file = $R/mux.secret
max_connections = 100000
max_connections_per_ip = 100000
max_sessions_per_user = 100000

[store bench]
role = primary
data_dir = $R/data
listen = imap 127.0.0.1:$SP
listen = control unix:$R/control.sock
CONF
rk() { "$BIN/rookery" -q -c "$R/rookery.conf" "$@"; }
rk route store bench --imap "127.0.0.1:$SP" --up >/dev/null
rk user add mux@rookery.internal --store bench <"$R/mux.secret" >/dev/null
i=1
while [ $i -le $NUSERS ]; do
	echo bench | rk user add "u$i@example.com" --store bench >/dev/null
	rk route set "u$i@example.com" bench >/dev/null
	i=$((i + 1))
done
"$BIN/rookery-store" -c "$R/rookery.conf" -n bench 2>"$R/store.log" &
PIDS="$PIDS $!"
wait_port "$SP"

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
# heap PID: bytes malloc holds for the program (all arenas, mmap included)
heap() {
	command -v gdb >/dev/null 2>&1 || { echo n/a; return; }
	gdb -p "$1" -batch -nx -ex 'call (void)malloc_stats()' \
		>/dev/null 2>&1 </dev/null || { echo n/a; return; }
	sleep 0.3
	# malloc_stats() writes to the mux's stderr: the last "in use"
	# line is the total
	grep 'in use bytes' "$R/mux-$MODE.log" | tail -1 |
		sed 's/.*= *//'
}
per() { # BEFORE AFTER SCALE: growth per session in bytes
	awk -v a="$1" -v b="$2" -v s="$3" -v n="$SESS" 'BEGIN {
		if (a == "n/a" || b == "n/a" || n == 0) print "n/a";
		else printf "%.0f", (b - a) * s / n }'
}

echo "| mode | sessions | failed | RSS before KB | RSS held KB | RSS after close KB | RSS B/session | heap before B | heap held B | heap after close B | heap B/session |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for MODE in ${MODES:-plain tls}; do
	if [ "$MODE" = plain ]; then port=$MP; tflag=""; else port=$MTP; tflag=-T; fi
	# shellcheck disable=SC2086
	env ${MUXENV:-} "$BIN/rookery-mux" -c "$R/rookery.conf" \
		2>"$R/mux-$MODE.log" &
	MUX_PID=$!
	PIDS="$PIDS $MUX_PID"
	wait_port "$MP"
	"$TOOLS/muxload" -m login -p "$port" -U "u%d@example.com" -M $NUSERS \
		-w bench -c 4 -n 200 -t 10 -l warmup $tflag >/dev/null
	sleep 2
	r0=$(rss $MUX_PID)
	h0=$(heap $MUX_PID)
	# muxload closes its sessions once it has printed: the "held"
	# figures are taken by a watcher while it waits (its RSS sample is
	# 2 s after the last session opened)
	"$TOOLS/muxload" -m idle -p "$port" -U "u%d@example.com" -M $NUSERS \
		-w bench -k "$N" -c 16 -t 300 -P $MUX_PID -l "$MODE" $tflag \
		>"$T/idle-$MODE" &
	LPID=$!
	j=0
	while kill -0 $LPID 2>/dev/null && [ $j -lt 3000 ]; do
		open=$(find /proc/$MUX_PID/fd -mindepth 1 2>/dev/null | wc -l)
		[ "$open" -ge $((2 * N)) ] && break
		sleep 0.1
		j=$((j + 1))
	done
	sleep 1
	r1=$(rss $MUX_PID)
	h1=$(heap $MUX_PID)
	# KILL9=1: end the mux while the sessions are held, so that a heap
	# profiler in MUXENV reports what is live then as "leaked"
	[ -z "${KILL9:-}" ] || kill -9 $MUX_PID
	wait $LPID || true
	line=$(cat "$T/idle-$MODE")
	SESS=$(kv sessions "$line")
	# the mux notices the closes, frees the sessions, and may trim
	sleep 4
	r2=$(rss $MUX_PID 2>/dev/null || echo n/a)
	h2=n/a
	[ -n "${KILL9:-}" ] || h2=$(heap $MUX_PID)
	echo "| $MODE | $SESS | $(kv failed "$line") | $r0 | $r1 | $r2 | $(per "$r0" "$r1" 1024) | $h0 | $h1 | $h2 | $(per "$h0" "$h1" 1) |"
	echo "$line" >>"$T/raw"
	# PAUSE=SECS: time to look at the mux by hand before it goes
	if [ -n "${PAUSE:-}" ]; then
		echo "mux_pid=$MUX_PID tmp=$T" >&2
		sleep "$PAUSE"
	fi
	kill $MUX_PID 2>/dev/null || true
	wait $MUX_PID 2>/dev/null || true
done
echo
echo "raw:"
sed 's/^/    /' "$T/raw"
