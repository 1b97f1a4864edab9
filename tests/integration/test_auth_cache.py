"""The cache of verified plaintext logins (lib/sasl_cache.h) seen from
outside: through the mux and on a store, a repeated login is answered
from the cache, and a password changed or removed with saslpasswd2 (or
`rookery user passwd`) stops working at once, without a restart.

Nothing is cached while the sasldb file is under two seconds old, so the
tests age the file (os.utime) before the logins that should be cached."""

import base64
import os
import subprocess
import time

from mux_helpers import Line, plat, saslpasswd  # noqa: F401 (plat)


def age(path):
    past = time.time() - 60
    os.utime(path, (past, past))


def imap_login(port, user, pw):
    c = Line(port)
    assert c.greeting.startswith(b"* OK"), c.greeting
    c.send('a LOGIN "%s" "%s"\r\n' % (user, pw))
    r = c.until("a ")[-1]
    c.send("z LOGOUT\r\n")
    c.close()
    return r


def imap_plain(port, authz, user, pw):
    c = Line(port)
    assert c.greeting.startswith(b"* OK"), c.greeting
    ir = base64.b64encode(("%s\0%s\0%s" % (authz, user, pw)).encode())
    c.send("a AUTHENTICATE PLAIN %s\r\n" % ir.decode())
    r = c.until("a ")[-1]
    c.close()
    return r


def test_mux_password_change_is_seen_at_once(plat):
    ms1 = plat.store("ms1", listen=("lmtp", "imap"))
    user, pw = plat.user("ca", ms1)
    mux = plat.start_mux(protos=("imap",), allow_plaintext="yes")
    port = mux.port("imap")
    age(plat.sasldb)
    for _ in range(3):
        assert imap_login(port, user, pw).startswith(b"a OK")
        assert imap_plain(port, "", user, pw).startswith(b"a OK")
        assert imap_login(port, user, pw + "x").startswith(b"a NO")
    # the first LOGIN read the sasldb; the other five came from the cache
    st = mux.status()
    assert int(st["logins"]) == 6 and int(st["auth_cache_hits"]) == 5, st
    # a cached password is still no licence to act as someone else
    other, _ = plat.user("cb", ms1)
    age(plat.sasldb)
    assert imap_plain(port, "", user, pw).startswith(b"a OK")
    r = imap_plain(port, other, user, pw)
    assert r.startswith(b"a NO"), r
    # a new password: the old one is refused on the next login
    saslpasswd(plat.sasldb, user, "changed-" + pw)
    assert imap_login(port, user, pw).startswith(b"a NO")
    assert imap_plain(port, "", user, pw).startswith(b"a NO")
    assert imap_login(port, user, "changed-" + pw).startswith(b"a OK")
    # a removed user likewise
    age(plat.sasldb)
    assert imap_login(port, user, "changed-" + pw).startswith(b"a OK")
    assert imap_login(port, user, "changed-" + pw).startswith(b"a OK")
    local, domain = user.split("@")
    subprocess.run(["saslpasswd2", "-f", plat.sasldb, "-d", "-u", domain,
                    local], check=True)
    assert imap_login(port, user, "changed-" + pw).startswith(b"a NO")


def test_store_login_cache_and_pop3(plat):
    ms1 = plat.store("ms1", listen=("lmtp", "imap", "pop3"),
                     allow_plaintext="yes")
    user, pw = plat.user("cc", ms1)
    age(plat.sasldb)
    for _ in range(3):
        assert imap_login(ms1.port("imap"), user, pw).startswith(b"a OK")
        c = Line(ms1.port("pop3"))
        assert c.cmd("USER " + user).startswith(b"+OK")
        assert c.cmd("PASS " + pw).startswith(b"+OK")
        c.cmd("QUIT")
        c.close()
    saslpasswd(plat.sasldb, user, "new-" + pw)
    assert imap_login(ms1.port("imap"), user, pw).startswith(b"a NO")
    c = Line(ms1.port("pop3"))
    assert c.cmd("USER " + user).startswith(b"+OK")
    assert c.cmd("PASS " + pw).startswith(b"-ERR")
    c.close()
