# The two IMAP servers the store benchmarks compare (sourced after
# common.sh and bench_tmp, not run): Rookery's store and Dovecot's imapd
# with sdbox, on free ports in $T, with the users in $users (password
# $PW).  servers_setup writes both configurations and creates the users;
# rookery_start / rookery_restart (common.sh) and dovecot_start
# CLIENT_LIMIT PROCESS_LIMIT FSYNC / dovecot_restart run them (their PIDs
# go to PIDS; $RP, $DP are the IMAP ports, $RP3, $DP3 the POP3 ones,
# $RPID, $DPID the PIDs).

servers_setup() {
	RP=$(free_port)
	DP=$(free_port)
	RP3=$(free_port)
	DP3=$(free_port)
	rookery_conf "allow_plaintext = yes" "listen = imap 127.0.0.1:$RP" \
		"listen = pop3 127.0.0.1:$RP3"
	# shellcheck disable=SC2086 # a list of users
	rookery_users "$PW" $users
	D=$T/dovecot
	mkdir -p "$D/run" "$D/state" "$D/mail"
	chown dovecot:dovecot "$D/mail"
	: > "$D/passwd"
	for u in $users; do
		echo "$u:{PLAIN}$PW::::::" >> "$D/passwd"
	done
	chmod 644 "$D/passwd"
}

dovecot_conf() {
	cat > "$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $D/log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = sdbox:$D/mail/%u
mail_fsync = $3
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
default_client_limit = 20000
default_vsz_limit = 1G
passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$D/mail/%u
}
protocol imap {
  mail_max_userip_connections = 20000
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DP
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 20000
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DP3
  }
}
service imap {
  client_limit = $1
  service_count = $([ "$1" -gt 1 ] && echo 0 || echo 1)
  process_limit = $2
}
service anvil {
  client_limit = 20000
}
CONF
}
# The fill is not measured: Dovecot fills with mail_fsync = never, then
# restarts with always for the runs.  (32 sessions APPENDing to one sdbox
# INBOX queue on its index lock: about 450 msg/s here either way.)
dovecot_start() { # client_limit process_limit fsync
	dovecot_conf "$@"
	dovecot -c "$D/dovecot.conf"
	wait_port "$DP"
	DPID=$(cat "$D/run/master.pid")
	PIDS="$PIDS $DPID"
}
# A reload (SIGHUP) keeps running processes' limits: restart instead.
dovecot_restart() {
	kill "$DPID"
	while kill -0 "$DPID" 2>/dev/null; do sleep 0.2; done
	dovecot_start "$@"
}
