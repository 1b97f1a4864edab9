#!/bin/sh
# bench/ldapab/run.sh - rookery-ldapab against OpenLDAP slapd (back-mdb,
# eq+sub indexes on cn, sn, givenName, mail), both loaded with the same
# 10,000-entry book, measured by ldbench from one load generator in the
# same run: binds/s and searches/s (Thunderbird autocomplete, Outlook
# resolve) at 1, 8 and 32 concurrent clients.  Writes
# bench/ldapab/RESULTS.md.
#
#   BIN=build/bin SECONDS_PER_RUN=5 sh bench/ldapab/run.sh
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
SECS=${SECONDS_PER_RUN:-5}
AB=${ROOKERY_AB_TOOL:-"$BIN/rookery ab"}
W=$(mktemp -d /tmp/ldapab-bench-XXXXXX)
SUFFIX="dc=example,dc=net"
BOOK="ou=alice@example.com,ou=ab,$SUFFIX"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
P1=$(free_port); P2=$(free_port)
cleanup() {
	[ -f "$W/ldapab.pid" ] && kill "$(cat "$W/ldapab.pid")" 2>/dev/null || true
	[ -f "$W/slapd.pid" ] && kill "$(cat "$W/slapd.pid")" 2>/dev/null || true
	sleep 1; rm -rf "$W"
}
trap cleanup EXIT

cc -O2 -o "$W/ldbench" bench/ldapab/ldbench.c -lldap -llber

# The same 10,000 contacts for both servers.
python3 - "$W" "$BOOK" <<'PY'
import random, sys
w, book = sys.argv[1], sys.argv[2]
rnd = random.Random(1)
first = ["Anna", "Bert", "Jörg", "Oliver", "Marta", "Lee", "Tanja", "Nova",
         "Garth", "Dubravka", "Rosa", "Kowal", "Smilla", "Berit", "Ngozi"]
last = ["Müller", "Smith", "Berg", "Novak", "Kowalski", "Rossi", "Dubois",
        "García", "Nguyen", "Martin", "Lee", "Tanaka", "Oliveira", "Annan"]
with open(w + "/contacts.ldif", "w") as f:
    for i in range(10000):
        gn, sn = rnd.choice(first), rnd.choice(last)
        cn = "%s %s %05d" % (gn, sn, i)
        mail = "%s.%s.%d@example.org" % (
            gn.lower().encode("ascii", "ignore").decode(),
            sn.lower().encode("ascii", "ignore").decode(), i)
        f.write("dn: cn=%s,%s\nobjectClass: inetOrgPerson\ncn: %s\n"
                "sn: %s\ngivenName: %s\nmail: %s\n\n" % (cn, book, cn, sn,
                                                         gn, mail))
PY

# --- rookery-ldapab
cat > "$W/rookery.conf" <<CONF
[ldapab]
suffix = $SUFFIX
data_dir = $W/ab
listen = ldap 127.0.0.1:$P1
log_level = warn
# Both servers are measured over plain LDAP on loopback, as slapd allows.
allow_plaintext = yes
CONF
$AB -c "$W/rookery.conf" add-mailbox alice@example.com --account example
echo demo | $AB -c "$W/rookery.conf" passwd alice@example.com
$AB -c "$W/rookery.conf" import alice@example.com "$W/contacts.ldif" >/dev/null
"$BIN/rookery-ldapab" -c "$W/rookery.conf" 2>"$W/ldapab.log" &
echo $! > "$W/ldapab.pid"

# --- slapd, back-mdb
mkdir -p "$W/mdb"
HASH=$(slappasswd -s demo)
cat > "$W/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $W/slapd.pid
database mdb
maxsize 1073741824
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
directory $W/mdb
index objectClass eq
index cn,sn,givenName,mail eq,sub
CONF
{
	printf 'dn: %s\nobjectClass: organization\nobjectClass: dcObject\no: example\ndc: example\n\n' "$SUFFIX"
	printf 'dn: ou=ab,%s\nobjectClass: organizationalUnit\nou: ab\n\n' "$SUFFIX"
	printf 'dn: ou=auth,%s\nobjectClass: organizationalUnit\nou: auth\n\n' "$SUFFIX"
	printf 'dn: cn=alice@example.com,ou=auth,%s\nobjectClass: person\ncn: alice@example.com\nsn: alice\nuserPassword: %s\n\n' "$SUFFIX" "$HASH"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: alice@example.com\n\n' "$BOOK"
	cat "$W/contacts.ldif"
} > "$W/slapd.ldif"
slapadd -q -f "$W/slapd.conf" -l "$W/slapd.ldif"
slapd -f "$W/slapd.conf" -h "ldap://127.0.0.1:$P2/"
sleep 1

DN="cn=alice@example.com,ou=auth,$SUFFIX"
OUT=bench/ldapab/RESULTS.md
{
	echo "# rookery-ldapab vs OpenLDAP slapd (back-mdb)"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, ${SECS}s per run, one"
	echo "load generator (bench/ldapab/ldbench.c) on the same host; 10,000"
	echo "contacts in one book; slapd indexes cn, sn, givenName, mail eq,sub."
	echo "Searches use sizeLimit 100 and the typed strings of ldbench.c."
	echo
	echo "| workload | clients | ldapab ops/s | slapd ops/s |"
	echo "|---|---|---|---|"
} > "$OUT"
for mode in bind tb outlook; do
	for c in 1 8 32; do
		a=$("$W/ldbench" -H "ldap://127.0.0.1:$P1" -D "$DN" -w demo -b "$BOOK" -m $mode -c $c -t "$SECS" | sed 's/.*ops_per_sec=//')
		s=$("$W/ldbench" -H "ldap://127.0.0.1:$P2" -D "$DN" -w demo -b "$BOOK" -m $mode -c $c -t "$SECS" | sed 's/.*ops_per_sec=//')
		echo "| $mode | $c | $a | $s |" >> "$OUT"
		echo "$mode c=$c ldapab=$a slapd=$s"
	done
done
echo "results in $OUT"
