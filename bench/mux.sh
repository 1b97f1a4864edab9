#!/bin/sh
# The front door: rookery-mux against nginx's mail proxy (libnginx-mod-mail,
# with a small auth_http responder) and perdition, all three in front of
# the SAME rookery-store, same load from bench/muxload, in one run.
# Prints logins/s (connect, greeting, LOGIN, SELECT INBOX, LOGOUT, close)
# and p50/p99 at 1, 16 and 64 clients, plain, with the ratio rookery /
# better peer; the same over TLS (rookery-mux and nginx); then idle sessions
# held through the mux (and through nginx), plain and TLS, with RSS per
# session.
#
#   sh bench/mux.sh            (make bench runs it)
#   SECS=10 COUNT=50000 IDLE=9900 sh bench/mux.sh
#
# All proxies reach the store on the same TCP listener (127.0.0.1), which
# allows plaintext LOGIN: nginx and perdition can only log in to the
# backend with the user's own password in the clear.
set -eu
. "$(dirname "$0")/common.sh"

SECS=${SECS:-6}
COUNT=${COUNT:-50000}
NUSERS=64
# Each session through a proxy costs it two descriptors; the idle run is
# capped by the hard RLIMIT_NOFILE (raised as far as we may).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
IDLE=${IDLE:-20000}
[ "$NOFILE" = unlimited ] || [ "$IDLE" -le $(((NOFILE - 100) / 2)) ] ||
	IDLE=$(((NOFILE - 100) / 2))

bench_tmp
SP=$(free_port)   # store IMAP (TCP, plaintext allowed)
MP=$(free_port)   # rookery-mux IMAP
NP=$(free_port)   # nginx mail IMAP
AP=$(free_port)   # nginx auth_http responder
PP=$(free_port)   # perdition IMAP
MTP=$(free_port)  # rookery-mux IMAPS
NTP=$(free_port)  # nginx mail IMAPS

# --- the store --------------------------------------------------------------
R=$T/rookery
mkdir -p "$R"
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
STORE_PID=$!
PIDS="$PIDS $STORE_PID"
wait_port "$SP"

# --- rookery-mux ------------------------------------------------------------
"$BIN/rookery-mux" -c "$R/rookery.conf" 2>"$R/mux.log" &
MUX_PID=$!
PIDS="$PIDS $MUX_PID"
wait_port "$MP"

# --- nginx mail proxy + auth_http responder ---------------------------------
N=$T/nginx
mkdir -p "$N/logs"
cat > "$N/auth.py" <<PY
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Auth-Status", "OK")
        self.send_header("Auth-Server", "127.0.0.1")
        self.send_header("Auth-Port", "$SP")
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
PIDS="$PIDS $!"
NGX_WORKERS=${NGX_WORKERS:-1}
cat > "$N/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
daemon off;
master_process on;
worker_processes $NGX_WORKERS;
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
    }
}
CONF
wait_port "$AP"
nginx -p "$N" -c "$N/nginx.conf" -e "$N/logs/error.log" &
NGX_PID=$!
PIDS="$PIDS $NGX_PID"
wait_port "$NP"

# --- perdition (fixed backend, no map, no TLS) ------------------------------
P=$T/perdition
mkdir -p "$P"
: > "$P/perdition.conf"
perdition.imap4 -f "$P/perdition.conf" --no_daemon --bind_address 127.0.0.1 \
	--listen_port "$PP" --outgoing_server 127.0.0.1 --outgoing_port "$SP" \
	--map_library "" --ssl_mode none --no_lookup -u root -g root \
	--connection_limit 20000 --pid_file "$P/perdition.pid" \
	-F local7 >"$P/log" 2>&1 &
PERD_PID=$!
PIDS="$PIDS $PERD_PID"
wait_port "$PP" || true

# --- the runs -----------------------------------------------------------------
load() { # PORT LABEL CLIENTS [-T]
	"$TOOLS/muxload" -m login -p "$1" -U "u%d@example.com" -M $NUSERS \
		-w bench -c "$3" -n "$COUNT" -t "$SECS" -l "$2" ${4:-}
}
# Warm up the store (every user's INBOX opened once), directly.
"$TOOLS/muxload" -m login -p "$SP" -U "u%d@example.com" -M $NUSERS -w bench \
	-c 16 -n 640 -t 5 -l warmup >/dev/null
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) ? a : b }'; }

echo
echo "## IMAP logins through the proxy (plain), ${SECS}s or $COUNT logins per cell"
echo
echo "connect, greeting, LOGIN, SELECT INBOX, LOGOUT, close; same store (TCP) behind all three; nginx worker_processes = $NGX_WORKERS on $(nproc) cores"
echo
echo "| clients | rookery-mux logins/s | p50 ms | p99 ms | nginx logins/s | p50 ms | p99 ms | perdition logins/s | p50 ms | p99 ms | ratio rookery / better peer |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in 1 16 64; do
	r=$(load "$MP" rookery $c)
	n=$(load "$NP" nginx $c)
	p=$(load "$PP" perdition $c)
	for l in "$r" "$n" "$p"; do echo "$l" >>"$T/raw"; done
	echo "$r" "$n" "$p" | grep -q 'failed=[1-9]' &&
		printf '%s\n%s\n%s\n' "$r" "$n" "$p" | grep 'failed=[1-9]' >&2
	b=$(best "$(kv rate "$n")" "$(kv rate "$p")")
	echo "| $c | $(kv rate "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$n") | $(kv p50_ms "$n") | $(kv p99_ms "$n") | $(kv rate "$p") | $(kv p50_ms "$p") | $(kv p99_ms "$p") | $(ratio "$(kv rate "$r")" "$b") |"
done

echo
echo "## IMAP logins over TLS (imaps, P-256 certificate, full handshake each), ${SECS}s or $COUNT logins per cell"
echo
echo "TLS compares rookery-mux and nginx only (this perdition build lists no TLS options in --help)."
echo
echo "| clients | rookery-mux logins/s | p50 ms | p99 ms | nginx logins/s | p50 ms | p99 ms | ratio rookery / nginx |"
echo "|---|---|---|---|---|---|---|---|"
for c in 1 16 64; do
	r=$(load "$MTP" rookery-tls $c -T)
	n=$(load "$NTP" nginx-tls $c -T)
	for l in "$r" "$n"; do echo "$l" >>"$T/raw"; done
	echo "| $c | $(kv rate "$r") | $(kv p50_ms "$r") | $(kv p99_ms "$r") | $(kv rate "$n") | $(kv p50_ms "$n") | $(kv p99_ms "$n") | $(ratio "$(kv rate "$r")" "$(kv rate "$n")") |"
done

echo
echo "## Idle IMAP sessions held (logged in, INBOX selected)"
echo
echo "RLIMIT_NOFILE = $NOFILE (hard limit; a proxy needs 2 descriptors per session), asked for $IDLE"
echo
echo "| proxy | sessions held | failed | RSS before KB | RSS held KB | bytes / session |"
echo "|---|---|---|---|---|---|"
wpids=""
for w in $(pgrep -P "$NGX_PID"); do wpids="$wpids -P $w"; done
idle() { # NAME PORT PIDARGS [-T]
	# shellcheck disable=SC2086
	i=$("$TOOLS/muxload" -m idle -p "$2" -U "u%d@example.com" -M $NUSERS \
		-w bench -k "$IDLE" -c 16 -t 120 $3 -l "$1" ${4:-})
	echo "$i" >>"$T/raw"
	echo "| $1 | $(kv sessions "$i") | $(kv failed "$i") | $(kv rss_before_kb "$i") | $(kv rss_after_kb "$i") | $(kv bytes_per_session "$i") |"
	sleep 3
}
idle "rookery-mux plain" "$MP" "-P $MUX_PID"
idle "nginx plain (master + workers)" "$NP" "-P $NGX_PID $wpids"
idle "rookery-mux TLS" "$MTP" "-P $MUX_PID" -T
idle "nginx TLS (master + workers)" "$NTP" "-P $NGX_PID $wpids" -T
echo
echo "raw:"
sed 's/^/    /' "$T/raw"
