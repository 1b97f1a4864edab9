# Shared helpers for the benchmark scripts (sourced, not run).
# Everything listens on 127.0.0.1 on free ports, lives in one temp dir, and
# is stopped by PID on exit.

BUILD=${BUILD:-build}
BIN=$(cd "$(dirname "$0")/.." && pwd)/$BUILD/bin
TOOLS=$(cd "$(dirname "$0")/.." && pwd)/$BUILD/bench
PIDS=""

bench_tmp() { # [NAME]: the directory is /var/tmp/rookery-NAME.XXXXXX
	# Same filesystem for us and the peer, so fsync costs compare.
	T=$(mktemp -d "/var/tmp/rookery-${1:-bench}.XXXXXX")
	chmod 755 "$T"
	# Ctrl-C / kill: clean up and stop (a trapped INT would otherwise let
	# the script carry on with its next command)
	trap bench_cleanup EXIT
	trap 'bench_cleanup; exit 130' INT
	trap 'bench_cleanup; exit 143' TERM
}

bench_cleanup() {
	# set -e holds inside the trap: a PID already gone must not turn a
	# finished run into exit status 1
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	PIDS="" # run once: the EXIT trap follows an INT/TERM one
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

# pid_forget PID...: drop stopped processes from PIDS (so that cleanup
# never signals a PID the system has since given to someone else)
pid_forget() {
	for q in "$@"; do
		PIDS=$(echo " $PIDS " | sed "s/ $q / /g")
	done
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	i=0
	while ! /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "bench: port $1 never opened" >&2; return 1; }
		sleep 0.1
	done
}

# kv KEY LINE: the value of KEY=... in a key=value line
kv() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# rookery_conf LINE...: $T/rookery/rookery.conf for one store "bench"
# with its data in $T/rookery/data, the given lines in its section (the
# listeners and anything else) and a control socket.
rookery_conf() {
	mkdir -p "$T/rookery"
	{
		printf '[global]\nlog = stderr\nlog_level = warn\n'
		printf 'sasldb = %s\n' "$T/rookery/sasldb2"
		printf '[store bench]\nrole = primary\ndata_dir = %s\n' \
			"$T/rookery/data"
		for l in "$@"; do printf '%s\n' "$l"; done
		printf 'listen = control unix:%s\n' "$T/rookery/control.sock"
	} > "$T/rookery/rookery.conf"
}

# rookery_users PASSWORD USER...: adds the users (password in sasldb).
rookery_users() {
	pw=$1
	shift
	for u in "$@"; do
		printf '%s\n' "$pw" |
			"$BIN/rookery" -q -c "$T/rookery/rookery.conf" \
				user add "$u" >/dev/null
	done
}

# rookery_start: runs the store of rookery_conf on $RP (its PID in RPID).
rookery_start() {
	"$BIN/rookery-store" -c "$T/rookery/rookery.conf" -n bench \
		2>>"$T/rookery/log" &
	RPID=$!
	PIDS="$PIDS $RPID"
	wait_port "$RP"
}
# Memory freed by earlier sessions stays in the process (malloc keeps it),
# so each IDLE measurement starts from a fresh process.
rookery_restart() {
	kill "$RPID"
	wait "$RPID" || true
	rookery_start
}
