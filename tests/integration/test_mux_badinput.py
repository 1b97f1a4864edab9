"""rookery-mux under bad input and abuse: overlong lines, slowloris,
5,000 connections from one address, forged authzid, garbage in SASL,
failure delays and the per-IP rate limit, the per-user cap.  After each,
the mux still answers."""

import base64
import socket
import time

import pytest

from mux_helpers import Line, PROXY_ID, PROXY_PW, plat  # noqa: F401 (plat)


@pytest.fixture
def env(plat):
    ms1 = plat.store("ms1", listen=("lmtp", "pop3", "imap"))
    alice = plat.user("alice", ms1)
    bob = plat.user("bob", ms1)
    # proxy_identities at the mux too (as a shared [global] would have
    # it): the mux must still refuse authzids from clients
    mux = plat.start_mux(preauth_timeout=2, max_connections_per_ip=40,
                         max_sessions_per_user=2, ip_fail_limit=8,
                         proxy_identities=PROXY_ID)
    return plat, mux, ms1, alice, bob


def plain(authz, authc, pw):
    return base64.b64encode(("%s\0%s\0%s" % (authz, authc, pw))
                            .encode()).decode()


def alive(mux):
    c = Line(mux.port("imap"))
    assert c.cmd("z NOOP").startswith(b"z OK")
    c.close()


def test_overlong_lines_every_protocol(env):
    plat, mux, ms1, alice, bob = env
    big = "A" * 20000
    c = Line(mux.port("imap"))
    assert b"BAD" in c.cmd("a " + big)
    assert c.cmd("b NOOP").startswith(b"b OK")
    c = Line(mux.port("pop3"))
    assert c.cmd(big).startswith(b"-ERR")
    assert c.cmd("CAPA").startswith(b"+OK")
    c = Line(mux.port("sieve"))
    c.until("OK")
    assert c.cmd(big).startswith(b"NO")
    assert c.cmd("NOOP").startswith(b"OK")
    c = Line(mux.port("lmtp"))
    assert c.cmd("LHLO " + big).startswith(b"500")
    c.send("LHLO x\r\n")
    assert c.until("250 ")[-1].startswith(b"250 ")
    # an overlong SASL response ends the exchange
    c = Line(mux.port("imap"))
    assert c.cmd("a AUTHENTICATE PLAIN").startswith(b"+")
    assert c.cmd(big).startswith(b"a BAD")
    assert c.cmd("b NOOP").startswith(b"b OK")
    # a literal bigger than the pre-auth limit
    assert c.cmd("c LOGIN {100000}").startswith(b"c BAD")
    assert c.cmd("d NOOP").startswith(b"d OK")


def test_slowloris_preauth_is_cut(env):
    plat, mux, ms1, alice, bob = env
    slow = [Line(mux.port(p)) for p in ("imap", "pop3", "imap", "pop3")]
    t0 = time.monotonic()
    for c in slow:
        c.send("a LOG")        # never finished
    alive(mux)                 # others are served meanwhile
    for c in slow:
        c.send("I")
        assert c.closed(timeout=6)
    assert time.monotonic() - t0 < 6


def test_5000_connections_from_one_address(env):
    plat, _, ms1, alice, bob = env
    # a mux of its own: no pre-auth timeout may free slots meanwhile
    mux = plat.start_mux(protos=("pop3", "imap"), preauth_timeout=60,
                         max_connections_per_ip=40)
    socks, greeted, refused = [], 0, 0
    t0 = time.monotonic()
    for i in range(5000):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", mux.port("pop3")))
        except BlockingIOError:
            pass
        socks.append(s)
    deadline = time.monotonic() + 30
    pending = list(socks)
    while pending and time.monotonic() < deadline:
        left = []
        for s in pending:
            try:
                data = s.recv(200)
            except BlockingIOError:
                left.append(s)
                continue
            except OSError:
                refused += 1
                continue
            if data.startswith(b"+OK"):
                greeted += 1
            else:
                refused += 1
        pending = left
        if pending:
            time.sleep(0.05)
        # stop once the cap is reached and the rest is refused or waiting
        if greeted >= 40 and len(pending) + greeted + refused >= 5000 \
                and time.monotonic() - t0 > 3 and refused > 4000:
            break
    assert greeted <= 40, greeted
    assert refused >= 4000, (greeted, refused, len(pending))
    for s in socks:
        s.close()
    time.sleep(0.3)
    st = mux.status()
    assert int(st["refused_ip"]) >= 4000
    alive(mux)
    assert time.monotonic() - t0 < 45


def test_forged_authzid_refused(env):
    plat, mux, ms1, (alice, apw), (bob, bpw) = env
    c = Line(mux.port("imap"))
    r = c.cmd("a AUTHENTICATE PLAIN " + plain(bob, alice, apw))
    assert r.startswith(b"a NO"), r
    # the proxy identity itself is no way in either
    r = c.cmd("b AUTHENTICATE PLAIN " + plain("", PROXY_ID, PROXY_PW))
    assert r.startswith(b"b NO"), r
    r = c.cmd("c AUTHENTICATE PLAIN " + plain(bob, PROXY_ID, PROXY_PW))
    assert r.startswith(b"c NO"), r
    # an authzid equal to the user is fine
    r = c.cmd("d AUTHENTICATE PLAIN " + plain(alice, alice, apw))
    assert r.startswith(b"d OK"), r
    assert "authzid_refused" in mux.log_text()


def test_garbage_in_sasl(env):
    plat, mux, ms1, (alice, apw), _ = env
    for junk in ("!!!notbase64!!!", "\x01\x02\x03", "====",
                 base64.b64encode(b"\0\0\0\0").decode(), "*"):
        c = Line(mux.port("imap"))
        assert c.cmd("a AUTHENTICATE PLAIN").startswith(b"+")
        r = c.cmd(junk)
        assert r.startswith(b"a "), (junk, r)
    c = Line(mux.port("imap"))
    c.send(b"b AUTHENTICATE PLAIN\r\n")
    assert c.line().startswith(b"+")
    c.send(b"abc\0def\r\n")
    assert c.line().startswith(b"b ")
    c = Line(mux.port("imap"))
    assert c.cmd("a AUTHENTICATE NOSUCHMECH").startswith(b"a NO")
    assert c.cmd("a AUTHENTICATE PLAIN ***").startswith(b"a ")
    c = Line(mux.port("pop3"))
    assert c.cmd("AUTH PLAIN").startswith(b"+")
    assert c.cmd("%%%").startswith(b"-ERR")
    assert c.cmd("AUTH PLAIN @@@@").startswith(b"-ERR")
    alive(mux)


def test_failure_delay_and_ip_rate_limit(env):
    plat, mux, ms1, (alice, apw), _ = env
    c = Line(mux.port("imap"))
    t0 = time.monotonic()
    for i in range(4):
        assert c.cmd("a%d LOGIN %s wrong" % (i, alice)).startswith(b"a%d NO"
                                                                   % i)
    # 50 + 100 + 200 + 400 ms of growing delay
    assert time.monotonic() - t0 >= 0.6
    # the fifth failure closes the connection
    c.send("a5 LOGIN %s wrong\r\n" % alice)
    assert c.closed(timeout=5)
    # more failures from this address trip the rate limit: even the right
    # password is refused for now
    for i in range(4):
        c = Line(mux.port("pop3"))
        c.cmd("USER " + alice)
        c.cmd("PASS wrong")
    c = Line(mux.port("imap"))
    r = c.cmd("b LOGIN %s %s" % (alice, apw))
    assert r.startswith(b"b NO [UNAVAILABLE]"), r
    assert int(mux.status()["rate_limited"]) >= 1


def test_per_user_session_cap(env):
    plat, mux, ms1, (alice, apw), _ = env
    held = []
    for i in range(2):
        c = Line(mux.port("imap"))
        assert c.cmd("a LOGIN %s %s" % (alice, apw)).startswith(b"a OK")
        held.append(c)
    c = Line(mux.port("imap"))
    assert c.cmd("a LOGIN %s %s" % (alice, apw)).startswith(b"a NO [LIMIT]")
    held[0].send("x LOGOUT\r\n")
    assert held[0].closed(timeout=3)
    time.sleep(0.2)
    assert c.cmd("b LOGIN %s %s" % (alice, apw)).startswith(b"b OK")


def test_commands_before_login_and_bad_syntax(env):
    plat, mux, ms1, alice, bob = env
    c = Line(mux.port("imap"))
    for bad in ('a LOGIN "unterminated', "a LOGIN (x", "a )", "",
                "a LOGIN a b c d e f g h i j k", "a AUTHENTICATE"):
        r = c.cmd(bad)
        assert b"BAD" in r, (bad, r)
    c.send("a LOGIN x\0y z\r\n")
    assert b"BAD" in c.line()
    c = Line(mux.port("pop3"))
    c.send("BOGUS\r\n" * 25)
    assert c.closed(timeout=5)
    alive(mux)
