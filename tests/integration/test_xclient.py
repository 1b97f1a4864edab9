"""XCLIENT: the real client's address reaches the store's logs (issue 4).

The mux sends XCLIENT (Dovecot's convention for POP3 and ManageSieve,
Postfix's for LMTP) to a store that advertises it; a store advertises and
accepts it only on a trusted listener: a Unix socket, or a TCP listener
with the "proxy" option.  Each test's own source port, as the mux saw it,
must appear in the store's log line for the session.
"""

import re
import time

import pytest

from conftest import _test_failed, free_port_number
from imap_helpers import RawImap
from lmtp_helpers import RawLmtp, make_msg
from mux_helpers import MuxPlatform
from pop3_helpers import RawPop3
from sieve_helpers import ManageSieve

PROTOS = ("lmtp", "pop3", "sieve", "imap")


def trusted_store(p, name):
    """A store whose TCP listeners for the mux carry "proxy", plus one
    untrusted TCP listener per protocol (st.untrusted[proto])."""
    st = p.store(name, listen=PROTOS, register=False, start=False)
    with open(st.config_path) as f:
        text = f.read()
    st.untrusted = {}
    for proto in PROTOS:
        line = "listen = %s 127.0.0.1:%d" % (proto, st.port(proto))
        assert line + "\n" in text
        port = free_port_number()
        st.untrusted[proto] = port
        text = text.replace(line + "\n", "%s proxy\nlisten = %s "
                            "127.0.0.1:%d\n" % (line, proto, port))
    with open(st.config_path, "w") as f:
        f.write(text)
    st.start()
    p.register(st)
    return st


@pytest.fixture
def plat(request, store_factory, tls_cert):
    p = MuxPlatform(store_factory, tls_cert)
    st = trusted_store(p, "ms1")
    user, pw = p.user("alice", st)
    mux = p.start_mux(protos=("pop3", "sieve", "lmtp", "imap"))
    yield p, st, mux, user, pw
    problems = p.close(_test_failed(request))
    if problems:
        pytest.fail("\n".join(problems))


def log_line(st, event, pattern, timeout=10):
    """The first store log line with event=EVENT matching pattern."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in st.log_text().splitlines():
            if "event=%s " % event in line and re.search(pattern, line):
                return line
        time.sleep(0.05)
    raise AssertionError("no event=%s line matching %r in the store log"
                         % (event, pattern))


def client_of(sock):
    host, port = sock.getsockname()[:2]
    return "%s:%d" % (host, port)


# --- through the mux --------------------------------------------------------


def test_pop3_login_names_client(plat):
    p, st, mux, user, pw = plat
    c = RawPop3("127.0.0.1", mux.port("pop3"))
    me = client_of(c.sock)
    c.login(user, pw)
    assert c.cmd("QUIT").startswith(b"+OK")
    c.close()
    line = log_line(st, "pop3_login", r"client=%s " % re.escape(me))
    assert "user=%s" % user in line
    assert "proxy_session=" in line
    log_line(st, "pop3_xclient", r"client=%s " % re.escape(me))


def test_managesieve_login_names_client(plat):
    p, st, mux, user, pw = plat
    ms = ManageSieve(mux.port("sieve"))
    me = client_of(ms.sock)
    r = ms.auth_plain(user, pw)
    assert r.ok, r
    assert ms.cmd("LOGOUT").ok
    ms.close()
    line = log_line(st, "managesieve_login", r"client=%s " % re.escape(me))
    assert "user=%s" % user in line


def test_lmtp_delivery_names_client(plat):
    p, st, mux, user, pw = plat
    c = RawLmtp(port=mux.port("lmtp"))
    me = client_of(c.sock)
    c.lhlo("mx1.example.org")
    mail, rr, data, finals = c.transaction(
        "sender@example.org", [user], make_msg("xclient"))
    assert [r.code for r in rr] == [250], rr
    assert [r.code for r in finals] == [250], finals
    c.cmd("QUIT")
    c.close()
    line = log_line(st, "lmtp_deliver", r"client=%s " % re.escape(me))
    assert "rcpt=<%s>" % user in line
    # the Received: field names the MX and its address, not the mux
    stored = st.message_file(user, 1)
    head = stored.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    assert re.search(r"Received: from mx1\.example\.org \(\[127\.0\.0\.1\]\)",
                     head), head


def test_lmtp_mux_unix_client_no_xclient(plat):
    """A client on the mux's Unix socket has no address to forward: the
    mux sends no XCLIENT and the delivery goes through as before."""
    p, st, mux, user, pw = plat
    before = st.log_text().count("event=lmtp_xclient ")
    c = RawLmtp(unix=mux.lmtp_socket)
    c.lhlo("local.example.org")
    mail, rr, data, finals = c.transaction("a@b.test", [user],
                                           make_msg("local"))
    assert [r.code for r in finals] == [250], finals
    c.cmd("QUIT")
    c.close()
    log_line(st, "lmtp_deliver", r"client=127\.0\.0\.1:\d+ ")
    assert st.log_text().count("event=lmtp_xclient ") == before


def test_lmtp_unix_socket_store_trusted(plat):
    """A Unix-socket listener is trusted without the option."""
    p, st, mux, user, pw = plat
    c = RawLmtp(unix=st.lmtp_socket)
    r = c.lhlo("mux.test")
    assert any(l.startswith("XCLIENT ") for l in r.lines), r
    r = c.cmd("XCLIENT ADDR=IPV6:2001:db8::7 PORT=4242 HELO=mx+2Eb.test "
              "PROTO=ESMTP")
    assert r.code == 220, r
    # the session starts over: LHLO first
    assert c.cmd("MAIL FROM:<a@b.test>").code == 503
    c.lhlo("mux.test")
    mail, rr, data, finals = c.transaction("a@b.test", [user],
                                           make_msg("v6"))
    assert [r.code for r in finals] == [250], finals
    c.close()
    log_line(st, "lmtp_deliver", r"client=\[2001:db8::7\]:4242 ")


# --- directly to the store ----------------------------------------------------


def test_untrusted_pop3_refused(plat):
    p, st, mux, user, pw = plat
    c = RawPop3("127.0.0.1", st.untrusted["pop3"])
    assert c.cmd("CAPA").startswith(b"+OK")
    assert b"XCLIENT" not in b" ".join(c.multi())
    r = c.cmd("XCLIENT ADDR=192.0.2.1 PORT=1")
    assert r == b"-ERR Unknown command", r
    c.login(user, pw)
    c.cmd("QUIT")
    c.close()
    line = log_line(st, "pop3_login", r"user=%s" % re.escape(user))
    assert "192.0.2.1" not in line


def test_untrusted_sieve_refused(plat):
    p, st, mux, user, pw = plat
    ms = ManageSieve(st.untrusted["sieve"])
    assert "XCLIENT" not in ms.caps
    r = ms.cmd("XCLIENT ADDR=192.0.2.1 PORT=1")
    assert r.word == "NO" and r.text == "Unknown command", r
    assert ms.cmd("NOOP").ok
    ms.close()


def test_untrusted_lmtp_refused(plat):
    p, st, mux, user, pw = plat
    c = RawLmtp(port=st.untrusted["lmtp"])
    r = c.lhlo()
    assert not any("XCLIENT" in l for l in r.lines), r
    r = c.cmd("XCLIENT ADDR=192.0.2.1")
    assert r.code == 500, r
    assert c.cmd("NOOP").code == 250
    c.close()


def test_trusted_store_syntax(plat):
    """Bad values are refused and leave the session usable; XCLIENT is
    over once a login has begun."""
    p, st, mux, user, pw = plat
    c = RawPop3("127.0.0.1", st.port("pop3"))
    assert c.cmd("CAPA").startswith(b"+OK")
    assert b"XCLIENT" in c.multi()
    for bad in ("XCLIENT", "XCLIENT ADDR=", "XCLIENT ADDR=300.1.1.1",
                "XCLIENT ADDR=192.0.2.1 PORT=70000", "XCLIENT PORT=x",
                "XCLIENT ADDR", "XCLIENT SESSION=a;b"):
        assert c.cmd(bad).startswith(b"-ERR"), bad
    # unknown attributes are skipped (Dovecot sends more than we use)
    assert c.cmd("XCLIENT ADDR=192.0.2.9 PORT=110 FORWARD=eA== TTL=4") \
        .startswith(b"+OK")
    assert c.cmd("USER " + user).startswith(b"+OK")
    assert c.cmd("XCLIENT ADDR=192.0.2.10").startswith(b"-ERR")
    assert c.cmd("PASS " + pw).startswith(b"+OK")
    c.cmd("QUIT")
    c.close()
    log_line(st, "pop3_login", r"client=192\.0\.2\.9:110 ")

    ms = ManageSieve(st.port("sieve"))
    assert "XCLIENT" in ms.caps
    assert ms.cmd("XCLIENT ADDR=nope").word == "NO"
    assert ms.cmd("XCLIENT ADDR=192.0.2.11 PORT=2000").ok
    assert ms.auth_plain(user, pw).ok
    ms.close()
    log_line(st, "managesieve_login", r"client=192\.0\.2\.11:2000 ")

    c = RawLmtp(port=st.port("lmtp"))
    assert c.cmd("XCLIENT ADDR=192.0.2.1").code == 503   # before LHLO
    c.lhlo()
    assert c.cmd("XCLIENT HELO=a+ZZ").code == 501        # bad xtext
    assert c.cmd("XCLIENT SESSION=x").code == 501        # not Postfix's
    assert c.cmd("MAIL FROM:<a@b.test>").code == 250
    assert c.cmd("XCLIENT ADDR=192.0.2.1").code == 503   # in a transaction
    assert c.cmd("RSET").code == 250
    assert c.cmd("NOOP").code == 250
    c.close()


def test_imap_login_names_client(plat):
    """IMAP has no XCLIENT: the mux's ID fields (x-originating-ip/-port)
    carry the client, believed from the trusted listener only."""
    p, st, mux, user, pw = plat
    r = RawImap(mux.port("imap"))
    me = client_of(r.sock)
    r.login((user, pw))
    r.cmd("z", "LOGOUT")
    r.sock.close()
    log_line(st, "imap_client_forwarded", r"client=%s " % re.escape(me))
    line = log_line(st, "imap_login", r"client=%s " % re.escape(me))
    assert "user=%s" % user in line


def test_untrusted_imap_id_not_believed(plat):
    p, st, mux, user, pw = plat
    r = RawImap(st.untrusted["imap"])
    lines = r.cmd("i", 'ID ("x-originating-ip" "192.0.2.1" '
                  '"x-originating-port" "1")')
    assert lines[-1].startswith(b"i OK"), lines
    r.login((user, pw))
    r.sock.close()
    line = log_line(st, "imap_login", r"user=%s" % re.escape(user))
    assert "192.0.2.1" not in line
    assert "imap_client_forwarded" not in st.log_text()
