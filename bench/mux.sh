#!/bin/sh
# The front door: rookery-mux against nginx's mail proxy (libnginx-mod-mail,
# with a small auth_http responder) and perdition, all three in front of
# the same rookery-store, same load from bench/muxload, in one run.  Parts
# (PARTS, default all four, in this order whatever the order given):
#
#   logins  logins/s (connect, greeting, LOGIN, SELECT INBOX, LOGOUT, close)
#           and p50/p99 at 1, 16 and 64 clients, plain, with the ratio
#           rookery / better peer
#   tls     the same over TLS (rookery-mux and nginx), full handshakes and
#           resumed sessions (each client presents its last ticket)
#   fetch   FETCH throughput of large messages (FETCH_MSGS messages of
#           FETCH_SIZE bytes per user, "UID FETCH 1:* BODY.PEEK[]" in a
#           loop) at 1, 4 and 16 clients: the store directly, through
#           rookery-mux and through nginx, MB/s and the ratios to direct
#   idle    idle sessions held (logged in, INBOX selected) through the mux
#           and through nginx, plain and TLS, with RSS per session over all
#           the proxy's processes; users spread over two stores, the load
#           from several muxload processes, rookery-mux with
#           workers = MUX_WORKERS when it has that setting
#
#   sh bench/mux.sh            (make bench runs it)
#   SECS=10 COUNT=50000 IDLE=20000 sh bench/mux.sh
#   PARTS=fetch sh bench/mux.sh          PARTS="fetch idle" IDLE=3000 ...
#
# Knobs (environment): PARTS; SECS, COUNT (logins, tls); FETCH_USERS,
# FETCH_MSGS, FETCH_SIZE, FETCH_SECS, FETCH_COUNT, FETCH_CLIENTS,
# FETCH_SET, FETCH_REPS (fetch); IDLE, IDLE_SECS (bound on opening), IDLE_MODES
# ("plain tls"), GEN_MAX (sessions per load process), MUX_WORKERS (idle
# part, default 3), NGX_IDLE_WORKERS (default: as many as the mux's);
# WORKERS (rookery-mux's workers for the other parts, default 1) and
# NGX_WORKERS (nginx's for them, default WORKERS); BACKEND_TLS=1:
# rookery-mux reaches store ms1 over TLS (its imaps listener; nginx and
# perdition cannot, and stay on the plain one).
#
# All proxies reach the stores on their TCP listeners (127.0.0.1), which
# allow plaintext LOGIN: nginx and perdition can only log in to the
# backend with the user's own password in the clear.
set -eu
. "$(dirname "$0")/common.sh"

PARTS=$(echo "${PARTS:-logins tls fetch idle}" | tr ',' ' ')
for p in $PARTS; do
	case $p in logins | tls | fetch | idle) ;;
	*) echo "mux.sh: PARTS: unknown part $p (logins tls fetch idle)" >&2
	   exit 2 ;;
	esac
done
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

SECS=${SECS:-6}
COUNT=${COUNT:-50000}
NUSERS=64
# fetch: FETCH_USERS users (f1..), each FETCH_MSGS messages of FETCH_SIZE
# bytes; FETCH_SECS or FETCH_COUNT FETCH commands per cell
FETCH_USERS=${FETCH_USERS:-4}
FETCH_MSGS=${FETCH_MSGS:-20}
FETCH_SIZE=${FETCH_SIZE:-1048576}
FETCH_SECS=${FETCH_SECS:-$SECS}
# each cell: direct, mux, nginx in turn, FETCH_REPS rounds; the median
# round of each is reported (the 2-core machine's noise is of the size of
# the differences measured)
FETCH_REPS=${FETCH_REPS:-3}
FETCH_COUNT=${FETCH_COUNT:-5000}
FETCH_CLIENTS=${FETCH_CLIENTS:-1 4 16}
FETCH_SET=${FETCH_SET:-1:*}   # e.g. FETCH_SET=1: one message per command
# idle: IDLE sessions, opened within IDLE_SECS, from load generators of at
# most GEN_MAX sessions each (each holds one descriptor per session)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
IDLE=${IDLE:-20000}
IDLE_SECS=${IDLE_SECS:-180}
GEN_MAX=${GEN_MAX:-8000}
MUX_WORKERS=${MUX_WORKERS:-3}
IDLE_MODES=${IDLE_MODES:-plain tls}

# Listening ports below the ephemeral range: the idle part opens tens of
# thousands of loopback connections, and a port picked from that range
# could be some connection's local port when a proxy is restarted on it.
free_port() {
	/usr/bin/python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
low = [random.randrange(10000, lo) for _ in range(200)] if lo > 10000 else []
for p in low + [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
'
}
bench_tmp muxbench
SP=$(free_port)   # store ms1 IMAP (TCP, plaintext allowed)
STP=$(free_port)  # store ms1 IMAPS (BACKEND_TLS=1)
SP2=$(free_port)  # store ms2 IMAP (idle part only)
MP=$(free_port)   # rookery-mux IMAP
NP=$(free_port)   # nginx mail IMAP
AP=$(free_port)   # nginx auth_http responder
PP=$(free_port)   # perdition IMAP
MTP=$(free_port)  # rookery-mux IMAPS
NTP=$(free_port)  # nginx mail IMAPS

# --- the stores -------------------------------------------------------------
R=$T/rookery
N=$T/nginx
mkdir -p "$R" "$N/logs"
# One self-signed P-256 certificate for both TLS proxies.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=bench.local \
	2>/dev/null
chmod 644 "$T/key.pem"
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$R/mux.secret"
chmod 600 "$R/mux.secret"
cat > "$R/rookery.conf" <<CONF
[global]
log = stderr
log_level = warn
sasldb = $R/sasldb2
allow_plaintext = yes
tls_cert = $T/cert.pem
tls_key = $T/key.pem
proxy_identities = mux@rookery.internal
directory = $R/directory.db

[mux]
listen = imap 127.0.0.1:$MP
listen = imaps 127.0.0.1:$MTP tls
listen = control unix:$R/mux-control.sock
proxy_identity = mux@rookery.internal
proxy_password_file = $R/mux.secret
max_connections = 100000
max_connections_per_ip = 100000
max_sessions_per_user = 100000

[store ms1]
role = primary
data_dir = $R/data1
listen = imap 127.0.0.1:$SP
listen = imaps 127.0.0.1:$STP tls
listen = control unix:$R/control1.sock

[store ms2]
role = primary
data_dir = $R/data2
listen = imap 127.0.0.1:$SP2
listen = control unix:$R/control2.sock
CONF
# The idle part's mux: the same, with several worker processes, and
# max_connections such that each worker's share (max_connections / workers:
# it pauses its listeners there, the others go on accepting) fits in its
# descriptors.
awk -v w="$MUX_WORKERS" -v c=$((MUX_WORKERS * (NOFILE - 100) / 2)) '
	/^max_connections = / { print "max_connections = " c; next }
	{ print }
	/^\[mux\]$/ { print "workers = " w }' "$R/rookery.conf" > "$R/idle.conf"
rk() { "$BIN/rookery" -q -c "$R/rookery.conf" "$@"; }
# user_add USER STORE PORT: the mux's directory, and nginx's (auth.py)
user_add() {
	echo bench | rk user add "$1" --store "$2" >/dev/null
	rk route set "$1" "$2" >/dev/null
	echo "$1 $3" >>"$N/routes"
}
: >"$N/routes"
if [ "${BACKEND_TLS:-0}" = 1 ]; then
	rk route store ms1 --imap "127.0.0.1:$STP tls" --up >/dev/null
else
	rk route store ms1 --imap "127.0.0.1:$SP" --up >/dev/null
fi
rk route store ms2 --imap "127.0.0.1:$SP2" --up >/dev/null
rk user add mux@rookery.internal --store ms1 <"$R/mux.secret" >/dev/null
if part logins || part tls; then
	i=1
	while [ $i -le $NUSERS ]; do
		user_add "u$i@example.com" ms1 "$SP"
		i=$((i + 1))
	done
fi
if part fetch; then
	i=1
	while [ "$i" -le "$FETCH_USERS" ]; do
		user_add "f$i@example.com" ms1 "$SP"
		i=$((i + 1))
	done
fi
if part idle; then
	# i1, i3, ... on ms1; i2, i4, ... on ms2
	i=1
	while [ $i -le $NUSERS ]; do
		if [ $((i % 2)) = 1 ]; then
			user_add "i$i@example.com" ms1 "$SP"
		else
			user_add "i$i@example.com" ms2 "$SP2"
		fi
		i=$((i + 1))
	done
fi
"$BIN/rookery-store" -c "$R/rookery.conf" -n ms1 2>"$R/store1.log" &
STORE_PID=$!
PIDS="$PIDS $STORE_PID"
STORE2_PID=""
if part idle; then
	"$BIN/rookery-store" -c "$R/rookery.conf" -n ms2 2>"$R/store2.log" &
	STORE2_PID=$!
	PIDS="$PIDS $STORE2_PID"
	wait_port "$SP2"
fi
wait_port "$SP"

# --- process helpers ------------------------------------------------------------
port_up() {
	/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null
}
children() { pgrep -P "$1" 2>/dev/null | tr '\n' ' ' || true; }
# stop PID: SIGTERM to it, wait for it and its children to be gone
stop() {
	kids=$(children "$1")
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	n=0
	for k in $kids; do
		while kill -0 "$k" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 "$k" 2>/dev/null || true
	done
	pid_forget "$1" $kids
}
# rss_sum PID...: VmRSS in KB, summed
rss_sum() {
	t=0
	for q in "$@"; do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$q/status" 2>/dev/null || true)
		t=$((t + ${r:-0}))
	done
	echo $t
}
# fds PID...: open descriptors of each, "a/b/c"
fds() {
	o=""
	for q in "$@"; do
		n=$(ls "/proc/$q/fd" 2>/dev/null | wc -l)
		o="$o${o:+/}$n"
	done
	echo "$o"
}

# --- rookery-mux ------------------------------------------------------------
# mux_start CONFIG: MUX_PID, MUX_PIDS (master and workers); 1 if it did
# not come up (the mux.log says why)
mux_start() { # CONFIG [WORKERS]
	"$BIN/rookery-mux" -c "$1" 2>>"$R/mux.log" &
	MUX_PID=$!
	PIDS="$PIDS $MUX_PID"
	n=0
	until port_up "$MP"; do
		n=$((n + 1))
		if ! kill -0 "$MUX_PID" 2>/dev/null || [ $n -gt 100 ]; then
			stop "$MUX_PID"
			return 1
		fi
		sleep 0.1
	done
	# workers, if any, may come a moment after the listeners
	n=0
	while [ "$(children "$MUX_PID" | wc -w)" -lt "${2:-0}" ] &&
		[ $n -lt 30 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kids=$(children "$MUX_PID")
	MUX_PIDS="$MUX_PID $kids"
	PIDS="$PIDS $kids"
}
mux_up() { # CONFIG [WORKERS]: mux_start, or stop the run
	mux_start "$@" && return 0
	echo "mux.sh: rookery-mux -c $1 did not start:" >&2
	tail -5 "$R/mux.log" >&2
	exit 1
}
# WORKERS: rookery-mux's workers and nginx's worker_processes for the
# logins, tls and fetch parts (1: one process each; the idle part has its
# own, MUX_WORKERS)
WORKERS=${WORKERS:-1}
if part logins || part tls || part fetch; then
	if [ "$WORKERS" -gt 1 ]; then
		awk -v w="$WORKERS" '{ print } /^\[mux\]$/ { print "workers = " w }' \
			"$R/rookery.conf" >"$R/main.conf"
		mux_up "$R/main.conf" "$WORKERS"
	else
		mux_up "$R/rookery.conf"
	fi
fi

# --- nginx mail proxy + auth_http responder ---------------------------------
# auth.py routes by Auth-User as the mux's directory does ($N/routes).
cat > "$N/auth.py" <<PY
import http.server, socketserver, urllib.parse
routes = dict(l.split() for l in open("$N/routes") if l.strip())
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        user = urllib.parse.unquote(self.headers.get("Auth-User", ""))
        self.send_response(200)
        self.send_header("Auth-Status", "OK")
        self.send_header("Auth-Server", "127.0.0.1")
        self.send_header("Auth-Port", routes.get(user, "$SP"))
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
S(("127.0.0.1", $AP), H).serve_forever()
PY
/usr/bin/python3 "$N/auth.py" 2>"$N/auth.log" &
AUTH_PID=$!
PIDS="$PIDS $AUTH_PID"
NGX_WORKERS=${NGX_WORKERS:-$WORKERS}
# nginx_start WORKERS: NGX_PID, NGX_PIDS (master and workers)
nginx_start() {
	cat > "$N/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
daemon off;
master_process on;
worker_processes $1;
worker_rlimit_nofile $NOFILE;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
events { worker_connections $NOFILE; }
mail {
    server_name bench.local;
    auth_http 127.0.0.1:$AP/auth;
    proxy on;
    imap_auth login plain;
    server {
        listen 127.0.0.1:$NP;
        protocol imap;
    }
    server {
        listen 127.0.0.1:$NTP ssl;
        protocol imap;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        # nginx 1.22's default is TLSv1 to TLSv1.2; both proxies on the
        # same protocols (rookery-mux: 1.2 and 1.3), so both do TLS 1.3
        ssl_protocols TLSv1.2 TLSv1.3;
    }
}
CONF
	nginx -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log" &
	NGX_PID=$!
	PIDS="$PIDS $NGX_PID"
	wait_port "$NP"
	n=0
	while [ "$(children "$NGX_PID" | wc -w)" -lt "$1" ] && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kids=$(children "$NGX_PID")
	NGX_PIDS="$NGX_PID $kids"
	PIDS="$PIDS $kids"
}
wait_port "$AP"
if part logins || part tls || part fetch; then
	nginx_start "$NGX_WORKERS"
fi

# --- perdition (fixed backend, no map, no TLS) ------------------------------
if part logins; then
	P=$T/perdition
	mkdir -p "$P"
	: > "$P/perdition.conf"
	perdition.imap4 -f "$P/perdition.conf" --no_daemon \
		--bind_address 127.0.0.1 --listen_port "$PP" \
		--outgoing_server 127.0.0.1 --outgoing_port "$SP" \
		--map_library "" --ssl_mode none --no_lookup -u root -g root \
		--connection_limit 20000 --pid_file "$P/perdition.pid" \
		-F local7 >"$P/log" 2>&1 &
	PERD_PID=$!
	PIDS="$PIDS $PERD_PID"
	wait_port "$PP" || true
fi

# --- the runs -----------------------------------------------------------------
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) ? a : b }'; }
: >"$T/raw"
load() { # PORT LABEL CLIENTS [-T]
	"$TOOLS/muxload" -m login -p "$1" -U "u%d@example.com" -M $NUSERS \
		-w bench -c "$3" -n "$COUNT" -t "$SECS" -l "$2" ${4:-}
}
# cpu_ticks PID...: CPU time of each (user + system, its reaped children's
# too: perdition forks per connection), summed, in clock ticks
cpu_ticks() {
	t=0
	for q in "$@"; do
		v=$(sed 's/.*) //' "/proc/$q/stat" 2>/dev/null |
			awk '{ print $12 + $13 + $14 + $15 }')
		t=$((t + ${v:-0}))
	done
	echo $t
}
HZ=$(getconf CLK_TCK)
cpu_ms() { # TICKS LOGINS: ms per login
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
		'BEGIN { if (n > 0) printf "%.3f", t * 1000 / hz / n; else print "-" }'
}
# load_cpu "PROXY_PIDS" "AUTH_PID" PORT LABEL CLIENTS [-T]: load's line,
# with the CPU per login of the proxy (all its processes), of its auth
# service (nginx's auth_http responder; none for the others) and of the
# store appended: proxy_cpu_ms= auth_cpu_ms= store_cpu_ms=
load_cpu() {
	pp=$1
	ap=$2
	shift 2
	# shellcheck disable=SC2086
	b1=$(cpu_ticks $pp) b2=$(cpu_ticks $ap) b3=$(cpu_ticks "$STORE_PID")
	l=$(load "$@")
	# shellcheck disable=SC2086
	a1=$(cpu_ticks $pp) a2=$(cpu_ticks $ap) a3=$(cpu_ticks "$STORE_PID")
	n=$(kv logins "$l")
	echo "$l proxy_cpu_ms=$(cpu_ms $((a1 - b1)) "$n") auth_cpu_ms=$(cpu_ms $((a2 - b2)) "$n") store_cpu_ms=$(cpu_ms $((a3 - b3)) "$n")"
}
# cpu_row CLIENTS ROOKERY_LINE NGINX_LINE: a row of the CPU-per-login table
cpu_row() {
	ours=$(awk -v a="$(kv proxy_cpu_ms "$2")" -v b="$(kv store_cpu_ms "$2")" 'BEGIN { printf "%.3f", a + b }')
	theirs=$(awk -v a="$(kv proxy_cpu_ms "$3")" -v b="$(kv auth_cpu_ms "$3")" -v c="$(kv store_cpu_ms "$3")" 'BEGIN { printf "%.3f", a + b + c }')
	echo "| $1 | $(kv client_cpu_ms "$2") | $(kv proxy_cpu_ms "$2") | $(kv store_cpu_ms "$2") | $ours | $(kv client_cpu_ms "$3") | $(kv proxy_cpu_ms "$3") | $(kv auth_cpu_ms "$3") | $(kv store_cpu_ms "$3") | $theirs | $(ratio "$theirs" "$ours") |"
}
cpu_table_head() {
	echo
	echo "CPU per login in the same cells (ms; user + system time from /proc and getrusage, all of each side's processes): the load generator's share of the same two cores, then the servers'.  The last column compares what the two server sides cost per login, apart from the load generator."
	echo
	echo "| clients | load generator | rookery-mux | store | rookery side | load generator | nginx | auth_http responder | store | nginx side | ratio nginx side / rookery side |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
}
if part logins || part tls; then
	# Warm up the store (every user's INBOX opened once), directly.
	"$TOOLS/muxload" -m login -p "$SP" -U "u%d@example.com" -M $NUSERS \
		-w bench -c 16 -n 640 -t 5 -l warmup >/dev/null
fi

if part logins; then
	echo
	echo "## IMAP logins through the proxy (plain), ${SECS}s or $COUNT logins per cell"
	echo
	echo "connect, greeting, LOGIN, SELECT INBOX, LOGOUT, close; same store (TCP) behind all three; rookery-mux workers = $WORKERS, nginx worker_processes = $NGX_WORKERS, on $(nproc) cores"
	if [ "${BACKEND_TLS:-0}" = 1 ]; then
		echo
		echo "BACKEND_TLS=1: rookery-mux reaches the store over TLS (resuming its sessions to it); nginx and perdition on the plain listener, as they cannot."
	fi
	echo
	echo "| clients | rookery-mux logins/s | p50 ms | p99 ms | nginx logins/s | p50 ms | p99 ms | perdition logins/s | p50 ms | p99 ms | ratio rookery / better peer |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	: >"$T/cpu"
	for c in 1 16 64; do
		r=$(load_cpu "$MUX_PIDS" "" "$MP" rookery $c)
		n=$(load_cpu "$NGX_PIDS" "$AUTH_PID" "$NP" nginx $c)
		p=$(load "$PP" perdition $c)
		cpu_row $c "$r" "$n" >>"$T/cpu"
		for l in "$r" "$n" "$p"; do echo "$l" >>"$T/raw"; done
		echo "$r" "$n" "$p" | grep -q 'failed=[1-9]' &&
			printf '%s\n%s\n%s\n' "$r" "$n" "$p" | grep 'failed=[1-9]' >&2
		b=$(best "$(kv rate "$n")" "$(kv rate "$p")")
		echo "| $c | $(kv rate "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$n") | $(kv p50_ms "$n") | $(kv p99_ms "$n") | $(kv rate "$p") | $(kv p50_ms "$p") | $(kv p99_ms "$p") | $(ratio "$(kv rate "$r")" "$b") |"
	done
	cpu_table_head
	cat "$T/cpu"
fi

if part tls; then
	echo
	echo "## IMAP logins over TLS (imaps, P-256 certificate, full handshake each), ${SECS}s or $COUNT logins per cell"
	echo
	echo "Both proxies allow TLS 1.2 and 1.3 (nginx: \`ssl_protocols TLSv1.2 TLSv1.3\`; its 1.22 default stops at 1.2); the load generator (OpenSSL 3) negotiates the protocol in the tls column."
	echo
	echo "TLS compares rookery-mux and nginx only (this perdition build lists no TLS options in --help)."
	echo
	echo "| clients | tls | rookery-mux logins/s | p50 ms | p99 ms | nginx logins/s | p50 ms | p99 ms | ratio rookery / nginx |"
	echo "|---|---|---|---|---|---|---|---|---|"
	: >"$T/cpu"
	for c in 1 16 64; do
		r=$(load_cpu "$MUX_PIDS" "" "$MTP" rookery-tls $c -T)
		n=$(load_cpu "$NGX_PIDS" "$AUTH_PID" "$NTP" nginx-tls $c -T)
		for l in "$r" "$n"; do echo "$l" >>"$T/raw"; done
		cpu_row $c "$r" "$n" >>"$T/cpu"
		echo "| $c | $(kv tls "$r") / $(kv tls "$n") | $(kv rate "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$n") | $(kv p50_ms "$n") | $(kv p99_ms "$n") | $(ratio "$(kv rate "$r")" "$(kv rate "$n")") |"
	done
	cpu_table_head
	cat "$T/cpu"
	echo
	echo "## IMAP logins over TLS with session resumption, ${SECS}s or $COUNT logins per cell"
	echo
	echo "The same cycle, each client thread presenting the session ticket of its previous connection (as a desktop client reconnecting does): an abbreviated handshake, no certificate and no signature.  resumed = handshakes the server accepted as resumptions."
	echo
	echo "| clients | rookery-mux logins/s | resumed | p50 ms | p99 ms | nginx logins/s | resumed | p50 ms | p99 ms | ratio rookery / nginx |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for c in 1 16 64; do
		r=$(load "$MTP" rookery-tls-resume $c "-T -R")
		n=$(load "$NTP" nginx-tls-resume $c "-T -R")
		for l in "$r" "$n"; do echo "$l" >>"$T/raw"; done
		echo "| $c | $(kv rate "$r") | $(kv resumed "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$n") | $(kv resumed "$n") | $(kv p50_ms "$n") | $(kv p99_ms "$n") | $(ratio "$(kv rate "$r")" "$(kv rate "$n")") |"
	done
fi

# --- fetch: large messages, direct against through the proxies ------------------
fetch() { # PORT LABEL CLIENTS
	"$TOOLS/muxload" -m fetch -p "$1" -U "f%d@example.com" \
		-M "$FETCH_USERS" -w bench -c "$3" -n "$FETCH_COUNT" \
		-t "$FETCH_SECS" -q "$FETCH_SET" -l "$2"
}
# median_line FILE: the line with the median mb_s (of an odd count; the
# lower middle of an even one)
median_line() {
	awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^mb_s=/) print substr($i, 6), NR }' "$1" |
		sort -n | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }' |
		{ read -r n; sed -n "${n}p" "$1"; }
}
# fetch_cell LINE: "MB/s | p50 ms", and a complaint on stderr if anything
# failed or a FETCH did not bring every message
fetch_cell() {
	# (every message per FETCH is checked for 1:* only)
	if [ "$(kv failed "$1")" != 0 ] || { [ "$FETCH_SET" = "1:*" ] &&
		[ "$(kv messages "$1")" != $(($(kv fetches "$1") * FETCH_MSGS)) ]; }; then
		echo "mux.sh: fetch: $1" >&2
	fi
	echo "$(kv mb_s "$1") | $(kv p50_ms "$1")"
}
if part fetch; then
	f=$("$TOOLS/muxload" -m fill -p "$SP" -U "f%d@example.com" \
		-M "$FETCH_USERS" -w bench -n "$FETCH_MSGS" -s "$FETCH_SIZE" \
		-c "$FETCH_USERS" -t 600 -l fill) ||
		{ echo "mux.sh: fill failed: $f" >&2; exit 1; }
	echo "$f" >>"$T/raw"
	# Warm up: every user's messages read once, directly (page cache).
	"$TOOLS/muxload" -m fetch -p "$SP" -U "f%d@example.com" \
		-M "$FETCH_USERS" -w bench -c "$FETCH_USERS" -n "$FETCH_USERS" \
		-t 60 -l warmup >>"$T/raw"
	echo
	echo "## FETCH throughput of large messages, ${FETCH_SECS}s or $FETCH_COUNT FETCHes per run, median of $FETCH_REPS runs per cell"
	echo
	echo "\`UID FETCH $FETCH_SET BODY.PEEK[]\` in a loop on INBOX, $FETCH_MSGS messages of $FETCH_SIZE bytes each ($FETCH_USERS users, client i on user i mod $FETCH_USERS; filled with APPEND before the timed part); MB/s = message bytes (the literals) received per second, 10^6 bytes, the median of $FETCH_REPS runs taken in turn (direct, mux, nginx, direct, ...); p50 = one whole FETCH command; same store (TCP) behind both proxies; rookery-mux workers = $WORKERS, nginx worker_processes = $NGX_WORKERS (default proxy_buffer) on $(nproc) cores"
	echo
	echo "| clients | direct MB/s | p50 ms | rookery-mux MB/s | p50 ms | nginx MB/s | p50 ms | ratio mux / direct | ratio nginx / direct |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for c in $FETCH_CLIENTS; do
		: >"$T/f.direct"; : >"$T/f.rookery"; : >"$T/f.nginx"
		k=0
		while [ $k -lt "$FETCH_REPS" ]; do
			fetch "$SP" direct "$c" >>"$T/f.direct"
			fetch "$MP" rookery "$c" >>"$T/f.rookery"
			fetch "$NP" nginx "$c" >>"$T/f.nginx"
			k=$((k + 1))
		done
		cat "$T/f.direct" "$T/f.rookery" "$T/f.nginx" >>"$T/raw"
		d=$(median_line "$T/f.direct")
		r=$(median_line "$T/f.rookery")
		n=$(median_line "$T/f.nginx")
		echo "| $c | $(fetch_cell "$d") | $(fetch_cell "$r") | $(fetch_cell "$n") | $(ratio "$(kv mb_s "$r")" "$(kv mb_s "$d")") | $(ratio "$(kv mb_s "$n")" "$(kv mb_s "$d")") |"
	done
	echo
	echo "Goal (issue 4): ratio mux / direct >= 0.90."
fi

# --- idle sessions -----------------------------------------------------------------
# Each proxied session holds 2 descriptors in the proxy process that has
# it, 1 in its store and 1 in the load generator; no process may have more
# than RLIMIT_NOFILE.  So: users over two stores, load from processes of at
# most GEN_MAX sessions, and a proxy of W processes holds at most
# W * (NOFILE - 100) / 2.
#
# idle_row NAME PORT PROCS PIDS [-T]: opens the sessions (asked: IDLE,
# capped for PROCS serving processes), holds them all at once, measures
# the summed VmRSS of PIDS and their descriptors, releases them.
idle_row() {
	want=$IDLE
	if [ "$NOFILE" != unlimited ]; then
		cap=$(($3 * (NOFILE - 100) / 2))
		[ "$want" -le "$cap" ] || want=$cap
		cap=$((2 * (NOFILE - 100)))   # the two stores
		[ "$want" -le "$cap" ] || want=$cap
	fi
	# shellcheck disable=SC2086
	before=$(rss_sum $4)
	ngen=$(((want + GEN_MAX - 1) / GEN_MAX))
	rm -f "$T/release" "$T"/gen.*
	gpids=""
	g=1
	while [ $g -le $ngen ]; do
		k=$((want / ngen))
		[ $g -gt 1 ] || k=$((k + want % ngen))
		"$TOOLS/muxload" -m idle -p "$2" -U "i%d@example.com" \
			-M $NUSERS -w bench -k "$k" -c 16 -t "$IDLE_SECS" \
			-W "$T/release" -H $((IDLE_SECS + 120)) -l "$1.$g" \
			${5:-} >"$T/gen.$g" 2>&1 &
		echo $! >"$T/gen.$g.pid"
		gpids="$gpids $!"
		PIDS="$PIDS $!"
		g=$((g + 1))
	done
	# wait until every generator holds its sessions (or is gone)
	n=0
	while [ $n -lt $(((IDLE_SECS + 30) * 2)) ]; do
		ready=0
		g=1
		while [ $g -le $ngen ]; do
			if grep -qs mode=idle "$T/gen.$g" ||
				! kill -0 "$(cat "$T/gen.$g.pid")" 2>/dev/null; then
				ready=$((ready + 1))
			fi
			g=$((g + 1))
		done
		[ $ready -lt $ngen ] || break
		sleep 0.5
		n=$((n + 1))
	done
	sleep 3 # let the proxy settle
	# shellcheck disable=SC2086
	after=$(rss_sum $4)
	# shellcheck disable=SC2086
	fd=$(fds $4)
	sfd=$(fds "$STORE_PID" "$STORE2_PID")
	touch "$T/release"
	for q in $gpids; do wait "$q" 2>/dev/null || true; done
	# shellcheck disable=SC2086
	pid_forget $gpids
	held=0
	bad=0
	err=""
	g=1
	while [ $g -le $ngen ]; do
		l=$(grep -s mode=idle "$T/gen.$g" || echo "label=$1.$g sessions=0 failed=? err=\"$(head -c 200 "$T/gen.$g" 2>/dev/null)\"")
		echo "$l" >>"$T/raw"
		held=$((held + $(kv sessions "$l")))
		fl=$(kv failed "$l")
		case $fl in '' | *[!0-9]*) bad="$bad?" ;; *) bad=$((bad + fl)) ;; esac
		e=$(echo "$l" | sed -n 's/.*err="\(.*\)"$/\1/p')
		[ -n "$err" ] || err=$e
		g=$((g + 1))
	done
	bps=$(awk -v a="$after" -v b="$before" -v n="$held" \
		'BEGIN { if (n > 0) printf "%d", (a - b) * 1024 / n; else print "n/a" }')
	echo "idle-row=\"$1\" processes=$(echo "$4" | wc -w) asked=$want held=$held failed=$bad rss_before_kb=$before rss_held_kb=$after bytes_per_session=$bps fds=$fd store_fds=$sfd" >>"$T/raw"
	echo "| $1 | $(echo "$4" | wc -w) | $want | $held | $bad | $before | $after | $bps | $fd | $sfd |"
	[ -z "$err" ] || echo "idle $1: first error: $err" >&2
	sleep 3
}
if part idle; then
	# Fresh proxies, one at a time, each row from a fresh process (memory
	# freed by earlier sessions stays in a process).
	if [ -n "${MUX_PID:-}" ]; then stop "$MUX_PID"; MUX_PID=""; fi
	if [ -n "${NGX_PID:-}" ]; then stop "$NGX_PID"; NGX_PID=""; fi
	# Does this rookery-mux have "workers"?  Started with it, it either
	# refuses the setting, ignores it (no child processes), or forks them.
	IDLE_CONF=$R/idle.conf
	MUX_PROCS=1
	MUX_KIDS=0
	WNOTE="rookery-mux has no \`workers\` setting (refused, or no worker processes): one process"
	if [ "$MUX_WORKERS" -gt 1 ] && mux_start "$IDLE_CONF" "$MUX_WORKERS"; then
		w=$(children "$MUX_PID" | wc -w)
		if [ "$w" -gt 0 ]; then
			MUX_PROCS=$w
			MUX_KIDS=$w
			WNOTE="rookery-mux \`workers = $MUX_WORKERS\`, \`max_connections = $((MUX_WORKERS * (NOFILE - 100) / 2))\` (each worker's share fits its descriptors): $w worker processes + master"
		else
			IDLE_CONF=$R/rookery.conf
		fi
		stop "$MUX_PID"
		# shellcheck disable=SC2086
		pid_forget $MUX_PIDS
	else
		IDLE_CONF=$R/rookery.conf
	fi
	if [ "$MUX_WORKERS" -le 1 ]; then
		WNOTE="rookery-mux one process (MUX_WORKERS=$MUX_WORKERS)"
	fi
	NGX_IDLE_WORKERS=${NGX_IDLE_WORKERS:-$MUX_PROCS}
	echo
	echo "## Idle IMAP sessions held (logged in, INBOX selected)"
	echo
	echo "RLIMIT_NOFILE = $NOFILE per process (hard limit; a proxy needs 2 descriptors per session); asked for $IDLE, capped at $MUX_PROCS x $(((NOFILE - 100) / 2)) for rookery-mux and $NGX_IDLE_WORKERS x $(((NOFILE - 100) / 2)) for nginx. $WNOTE; nginx worker_processes = $NGX_IDLE_WORKERS. Users i1..i$NUSERS over two stores (odd on ms1, even on ms2); load from up to $GEN_MAX sessions per muxload process, all held at once. RSS summed over all the proxy's processes; a fresh proxy per row; fds = descriptors per proxy process while held (master first), and per store (ms1/ms2)."
	echo
	echo "| proxy | processes | asked | sessions held | failed | RSS before KB | RSS held KB | bytes / session | fds per process | store fds |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for mode in $IDLE_MODES; do
		case $mode in
		plain) mp=$MP np=$NP tls="" lbl=plain ;;
		tls) mp=$MTP np=$NTP tls=-T lbl=TLS ;;
		*) echo "mux.sh: IDLE_MODES: unknown $mode (plain tls)" >&2; continue ;;
		esac
		mux_up "$IDLE_CONF" "$MUX_KIDS"
		idle_row "rookery-mux $lbl" "$mp" "$MUX_PROCS" "$MUX_PIDS" $tls
		stop "$MUX_PID"
		# shellcheck disable=SC2086
		pid_forget $MUX_PIDS
		nginx_start "$NGX_IDLE_WORKERS"
		idle_row "nginx $lbl" "$np" "$NGX_IDLE_WORKERS" "$NGX_PIDS" $tls
		stop "$NGX_PID"
		# shellcheck disable=SC2086
		pid_forget $NGX_PIDS
	done
fi
echo
echo "raw:"
sed 's/^/    /' "$T/raw"
