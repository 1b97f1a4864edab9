"""rookery-mux with the LDAP user directory against a real slapd started
here (slapadd + slapd -f on a free port): users' entries carry their store
in mailHost; several URIs with failover; changes seen after the cache."""

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import _test_failed, free_port_number
from mux_helpers import Line, MuxPlatform, saslpasswd

SUFFIX = "dc=example,dc=net"
ROOTDN = "cn=admin," + SUFFIX
ROOTPW = "ldap-secret"

SLAPD_CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
pidfile {d}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {d}/db
"""


def entry(uid, store):
    return ("dn: uid={uid},{suffix}\nobjectClass: inetOrgPerson\n"
            "objectClass: inetLocalMailRecipient\nuid: {uid}\ncn: {uid}\n"
            "sn: {uid}\nmail: {uid}@example.com\nmailHost: {store}\n\n"
            .format(uid=uid, suffix=SUFFIX, store=store))


class Slapd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rkldap-")
        os.mkdir(os.path.join(self.dir, "db"))
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(SLAPD_CONF.format(d=self.dir, suffix=SUFFIX,
                                      rootdn=ROOTDN, rootpw=ROOTPW))
        self.port = free_port_number()
        self.uri = "ldap://127.0.0.1:%d" % self.port
        self.proc = None

    def load(self, ldif):
        subprocess.run(["slapadd", "-f", self.conf], input=ldif.encode(),
                       check=True, capture_output=True)

    def start(self):
        self.proc = subprocess.Popen(
            ["slapd", "-f", self.conf, "-h", self.uri + "/", "-d", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def modify(self, ldif):
        subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", ROOTDN,
                        "-w", ROOTPW], input=ldif.encode(), check=True,
                       capture_output=True)


@pytest.fixture
def env(request, store_factory, tls_cert):
    slapd = Slapd()
    slapd.load("dn: %s\nobjectClass: dcObject\nobjectClass: organization\n"
               "o: Example\ndc: example\n\n" % SUFFIX
               + entry("alice", "ms1") + entry("bob", "ms2"))
    slapd.start()
    plat = MuxPlatform(store_factory, tls_cert)
    ms1 = plat.store("ms1")
    ms2 = plat.store("ms2")
    users = {}
    for local, st in (("alice", ms1), ("bob", ms2)):
        addr = local + "@example.com"
        saslpasswd(plat.sasldb, addr, "pw-" + local)
        st.control_ok('user-add "%s"' % addr)
        users[local] = addr
    dead = "ldap://127.0.0.1:%d" % free_port_number()
    mux = plat.start_mux(
        protos=("pop3", "lmtp"),
        directory_ldap_uri="%s %s" % (dead, slapd.uri),
        directory_ldap_base=SUFFIX, directory_ldap_bind_dn=ROOTDN,
        directory_ldap_bind_password=ROOTPW, route_cache_ms=300)
    yield plat, mux, slapd, ms1, ms2, users
    slapd.stop()
    shutil.rmtree(slapd.dir, ignore_errors=True)
    problems = plat.close(_test_failed(request))
    if problems:
        pytest.fail("\n".join(problems))


def pop_ok(mux, user, pw):
    c = Line(mux.port("pop3"))
    c.cmd("USER " + user)
    r = c.cmd("PASS " + pw)
    c.cmd("QUIT")
    return r


def test_ldap_routes_users_to_their_stores(env):
    plat, mux, slapd, ms1, ms2, users = env
    with smtplib.LMTP("127.0.0.1", mux.port("lmtp"), timeout=30) as lm:
        lm.ehlo_or_helo_if_needed()
        lm.mail("s@example.org")
        assert lm.rcpt(users["alice"])[0] == 250
        assert lm.rcpt(users["bob"])[0] == 250
        assert lm.rcpt("nobody@example.com")[0] == 550
        assert lm.data(b"Subject: ldap\r\n\r\nx\r\n")[0] == 250
        assert lm.getreply()[0] == 250
    assert len(ms1.messages(users["alice"])) == 1
    assert len(ms2.messages(users["bob"])) == 1
    assert pop_ok(mux, users["alice"], "pw-alice").startswith(b"+OK")
    assert pop_ok(mux, users["bob"], "pw-bob").startswith(b"+OK")
    log = mux.log_text()
    assert "directory_ldap_connect_failed" in log     # the dead URI first
    assert "directory_ldap_connected uri=%s" % slapd.uri in log


def test_ldap_change_takes_effect_and_server_loss(env):
    plat, mux, slapd, ms1, ms2, users = env
    assert pop_ok(mux, users["bob"], "pw-bob").startswith(b"+OK")
    ms1.control_ok('user-add "%s"' % users["bob"])
    slapd.modify("dn: uid=bob,%s\nchangetype: modify\nreplace: mailHost\n"
                 "mailHost: ms1\n" % SUFFIX)
    time.sleep(0.5)                                   # > route_cache_ms
    with smtplib.LMTP("127.0.0.1", mux.port("lmtp"), timeout=30) as lm:
        lm.sendmail("s@example.org", [users["bob"]], b"Subject: moved\r\n\r\n")
    assert len(ms1.messages(users["bob"])) == 1
    assert ms2.messages(users["bob"]) == []
    slapd.stop()
    time.sleep(0.5)
    r = pop_ok(mux, users["alice"], "pw-alice")
    assert r.startswith(b"-ERR [SYS/TEMP]"), r
    slapd.start()
    assert pop_ok(mux, users["alice"], "pw-alice").startswith(b"+OK")
