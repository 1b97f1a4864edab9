#!/bin/sh
# Install the Debian packages Rookery needs, only those that are missing.
#   scripts/deps.sh          build + test dependencies (make deps)
#   scripts/deps.sh bench    also the peer servers for make bench
# --no-install-recommends matters: cyrus-clients recommends cyrus-imapd,
# which conflicts with dovecot-imapd (a benchmark peer).
set -eu

BUILD_PKGS="build-essential pkg-config libevent-dev libssl-dev libsasl2-dev
libsasl2-modules libsasl2-modules-db sasl2-bin libdb-dev libldap-dev
zlib1g-dev libcmocka-dev clang libclang-rt-14-dev openssl"
TEST_PKGS="python3 python3-pytest curl ldap-utils python3-ldap3 sieve-connect
cyrus-clients cyrus-admin libnet-sieve-perl isync fetchmail slapd procps
util-linux
dovecot-sieve"
BENCH_PKGS="dovecot-lmtpd dovecot-imapd dovecot-pop3d
dovecot-sieve dovecot-managesieved nginx libnginx-mod-mail perdition"

want="$BUILD_PKGS $TEST_PKGS"
[ "${1:-}" = bench ] && want="$want $BENCH_PKGS"

missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Packaged servers (slapd, dovecot, nginx, perdition) must not start system
# services listening on every address: tests and benchmarks start their
# own instances on 127.0.0.1.  policy-rc.d answering 101 stops that.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
