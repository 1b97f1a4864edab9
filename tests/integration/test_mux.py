"""rookery-mux: POP3 and LMTP proxied to two stores, routing changes, a
store killed mid-session, the control socket.  Real clients: poplib,
smtplib.LMTP, curl."""

import base64
import socket
import poplib
import smtplib
import subprocess
import time

import pytest

from mux_helpers import Line, tls_ctx, plat, wait_until  # noqa: F401 (plat)


@pytest.fixture
def two(plat):
    """Two stores, a user on each, and a running mux."""
    ms1 = plat.store("ms1")
    ms2 = plat.store("ms2")
    alice = plat.user("alice", ms1)
    bob = plat.user("bob", ms2)
    mux = plat.start_mux()
    return plat, mux, ms1, ms2, alice, bob


def msg(subject, body="hello"):
    return ("From: a@example.org\r\nSubject: %s\r\n\r\n%s\r\n"
            % (subject, body)).encode()


def lmtp_send(mux, rcpts, data, sender="s@example.org"):
    """smtplib.LMTP reads one reply after DATA; LMTP sends one per
    accepted recipient (RFC 2033 4.2): read the others with getreply().
    Returns {rcpt: (code, text)} for every refused recipient."""
    refused = {}
    with smtplib.LMTP("127.0.0.1", mux.port("lmtp"), timeout=30) as lm:
        lm.ehlo_or_helo_if_needed()
        lm.mail(sender)
        accepted = []
        for r in rcpts:
            code, text = lm.rcpt(r)
            if code == 250:
                accepted.append(r)
            else:
                refused[r] = (code, text)
        if not accepted:
            return refused
        code, text = lm.data(data)
        replies = [(code, text)]
        for _ in accepted[1:]:
            replies.append(lm.getreply())
        for r, (code, text) in zip(accepted, replies):
            if code != 250:
                refused[r] = (code, text)
    return refused


def pop_login(mux, user, pw, tls=False):
    if tls:
        p = poplib.POP3_SSL("127.0.0.1", mux.port("pop3s"), timeout=10,
                            context=tls_ctx())
    else:
        p = poplib.POP3("127.0.0.1", mux.port("pop3"), timeout=10)
    p.user(user)
    p.pass_(pw)
    return p



# --- LMTP ------------------------------------------------------------------


def test_lmtp_recipients_on_two_stores(two):
    plat, mux, ms1, ms2, (alice, _), (bob, _) = two
    refused = lmtp_send(mux, [alice, bob], msg("both"))
    assert refused == {}
    assert len(ms1.messages(alice)) == 1
    assert len(ms2.messages(bob)) == 1
    assert b"Subject: both" in ms2.message_file(bob, 1)


def test_lmtp_per_recipient_replies_and_unknown(two):
    plat, mux, ms1, ms2, (alice, _), (bob, _) = two
    c = Line(mux.port("lmtp"))
    assert c.greeting.startswith(b"220")
    c.send("LHLO mx.test\r\n")
    assert c.until("250 ")[-1].startswith(b"250 ")
    assert c.cmd("MAIL FROM:<s@example.org>").startswith(b"250")
    assert c.cmd("RCPT TO:<%s>" % alice).startswith(b"250")
    assert c.cmd("RCPT TO:<nobody@example.com>").startswith(b"550 5.1.1")
    assert c.cmd("RCPT TO:<%s>" % bob).startswith(b"250")
    assert c.cmd("DATA").startswith(b"354")
    c.send("Subject: x\r\n\r\n..dotted\r\n.\r\n")
    r1, r2 = c.line(), c.line()
    assert r1.startswith(b"250") and r2.startswith(b"250"), (r1, r2)
    assert c.cmd("QUIT").startswith(b"221")
    body = ms1.message_file(alice, 1)
    assert b"\r\n.dotted\r\n" in body


def test_lmtp_store_down_gives_451(two):
    plat, mux, ms1, ms2, (alice, _), (bob, _) = two
    ms2.stop()
    with smtplib.LMTP("127.0.0.1", mux.port("lmtp"), timeout=30) as lm:
        lm.ehlo_or_helo_if_needed()
        lm.mail("s@example.org")
        code, _ = lm.rcpt(alice)
        assert code == 250
        code, text = lm.rcpt(bob)
        assert code == 451 and b"4.4.1" in text, (code, text)
        code, _ = lm.data(msg("partial"))
        assert code == 250
    assert len(ms1.messages(alice)) == 1
    # marked down in the directory: 451 without even trying
    plat.register(ms2, up=False)
    time.sleep(0.3)
    refused = lmtp_send(mux, [bob], msg("x")) if False else None
    with smtplib.LMTP("127.0.0.1", mux.port("lmtp"), timeout=30) as lm:
        lm.ehlo_or_helo_if_needed()
        lm.mail("s@example.org")
        code, text = lm.rcpt(bob)
        assert code == 451, (code, text)
    assert refused is None


def test_lmtp_pipelined_and_unix_socket(two):
    plat, mux, ms1, ms2, (alice, _), (bob, _) = two
    c = Line(None, unix=mux.lmtp_socket)
    c.send("LHLO mx\r\nMAIL FROM:<s@x.org>\r\nRCPT TO:<%s>\r\n"
           "RCPT TO:<%s>\r\nDATA\r\n" % (alice, bob))
    lines = c.until("354")
    assert lines[-1].startswith(b"354"), lines
    c.send("Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<%s>\r\n"
           "DATA\r\n" % bob)
    assert c.line().startswith(b"250")
    assert c.line().startswith(b"250")
    assert c.line().startswith(b"250")   # MAIL
    assert c.line().startswith(b"250")   # RCPT
    assert c.line().startswith(b"354")
    c.send("Subject: q\r\n\r\nx\r\n.\r\n")
    assert c.line().startswith(b"250")
    assert len(ms2.messages(bob)) == 2


def test_lmtp_large_message(two):
    plat, mux, ms1, ms2, (alice, _), (bob, _) = two
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 5000
    assert lmtp_send(mux, [alice, bob], big) == {}
    assert ms1.messages(alice)[0]["size"] >= len(big)
    assert ms2.messages(bob)[0]["size"] >= len(big)


# --- POP3 ------------------------------------------------------------------


def test_pop3_users_on_two_stores(two):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = two
    lmtp_send(mux, [alice], msg("for alice"))
    lmtp_send(mux, [bob], msg("for bob"))
    p = pop_login(mux, alice, apw)
    assert p.stat()[0] == 1
    assert b"Subject: for alice" in b"\r\n".join(p.retr(1)[1])
    p.quit()
    p = pop_login(mux, bob, bpw, tls=True)
    assert b"Subject: for bob" in b"\r\n".join(p.retr(1)[1])
    p.dele(1)
    p.quit()
    assert ms2.messages(bob) == []
    st = mux.status()
    assert int(st["logins"]) >= 2


def test_pop3_capa_stls_and_auth_plain(two):
    plat, mux, ms1, ms2, (alice, apw), _ = two
    c = Line(mux.port("pop3"))
    assert c.greeting.startswith(b"+OK")
    c.send("CAPA\r\n")
    capa = c.until(".")
    assert b"STLS" in capa and b"USER" in capa
    assert c.cmd("STLS").startswith(b"+OK")
    c.starttls()
    c.send("CAPA\r\n")
    capa = c.until(".")
    assert b"STLS" not in capa
    ir = base64.b64encode(("\0%s\0%s" % (alice, apw)).encode()).decode()
    r = c.cmd("AUTH PLAIN " + ir)
    assert r.startswith(b"+OK"), r
    # now the store answers
    assert c.cmd("STAT").startswith(b"+OK 0 ")
    c.send("CAPA\r\n")
    assert b"IMPLEMENTATION Rookery-mux" not in b"".join(c.until("."))
    assert c.cmd("QUIT").startswith(b"+OK")
    assert c.closed(timeout=3)
    assert b"-ERR" not in c.buf


def test_pop3_bad_password_and_unknown_user(two):
    plat, mux, ms1, ms2, (alice, apw), _ = two
    with pytest.raises(poplib.error_proto) as e:
        pop_login(mux, alice, "wrong")
    assert b"[AUTH]" in e.value.args[0]
    with pytest.raises(poplib.error_proto):
        pop_login(mux, "nobody@example.com", "x")


def test_pop3_curl_stls_and_implicit_tls(two):
    plat, mux, ms1, ms2, (alice, apw), _ = two
    lmtp_send(mux, [alice], msg("curl me"))
    for url in ("pop3://127.0.0.1:%d/1" % mux.port("pop3"),
                "pop3s://127.0.0.1:%d/1" % mux.port("pop3s")):
        out = subprocess.run(["curl", "-sk", "--ssl-reqd", url, "-u",
                              "%s:%s" % (alice, apw)],
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert b"Subject: curl me" in out.stdout


def test_pop3_user_without_route_and_store_down(two):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = two
    # in sasldb, not in the directory
    from mux_helpers import saslpasswd
    saslpasswd(plat.sasldb, "carol@example.com", "pw")
    c = Line(mux.port("pop3"))
    c.cmd("USER carol@example.com")
    assert c.cmd("PASS pw").startswith(b"-ERR [SYS/PERM]")
    ms2.stop()
    c = Line(mux.port("pop3"))
    c.cmd("USER " + bob)
    r = c.cmd("PASS " + bpw)
    assert r.startswith(b"-ERR [SYS/TEMP]"), r
    # the session goes on: alice can still log in on it
    c.cmd("USER " + alice)
    assert c.cmd("PASS " + apw).startswith(b"+OK")


def test_routing_change_ends_sessions_within_a_second(two):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = two
    movers = [(bob, bpw)] + [plat.user(u, ms2) for u in ("dan", "eve")]
    stayer = plat.user("fay", ms2)
    sessions = []
    for user, pw in movers + [stayer, (alice, apw)]:
        c = Line(mux.port("pop3"))
        c.cmd("USER " + user)
        assert c.cmd("PASS " + pw).startswith(b"+OK")
        sessions.append(c)
    assert mux.status().get("store:ms2") == 4
    # move three users to ms1 (as a migration or failover would)
    for user, _ in movers:
        ms1.control_ok('user-add "%s"' % user)
    t0 = time.monotonic()
    for user, _ in movers:
        plat.directory.set_user(user, "ms1")
    for c in sessions[:3]:
        assert c.closed(timeout=3)
        assert b"-ERR" in c.buf
    assert time.monotonic() - t0 < 1.5
    # the others are untouched
    for c in sessions[3:]:
        assert c.cmd("NOOP").startswith(b"+OK")
    assert mux.status().get("store:ms2") == 1
    assert "event=session_moved" in mux.log_text()
    # bob lands on ms1 now
    p = pop_login(mux, bob, bpw)
    assert mux.status().get("store:ms1") == 2
    p.quit()


def test_store_killed_mid_session(two):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = two
    c = Line(mux.port("pop3"))
    c.cmd("USER " + bob)
    assert c.cmd("PASS " + bpw).startswith(b"+OK")
    ms2.kill()
    t0 = time.monotonic()
    assert c.closed(timeout=3)
    assert time.monotonic() - t0 < 1.5
    assert b"-ERR" in c.buf
    assert "backend_lost" in mux.log_text()


def test_store_marked_down_ends_sessions(two):
    plat, mux, ms1, ms2, (alice, apw), _ = two
    c = Line(mux.port("pop3"))
    c.cmd("USER " + alice)
    assert c.cmd("PASS " + apw).startswith(b"+OK")
    plat.register(ms1, up=False)
    assert c.closed(timeout=3)
    c = Line(mux.port("pop3"))
    c.cmd("USER " + alice)
    assert c.cmd("PASS " + apw).startswith(b"-ERR [SYS/TEMP]")


def test_logs_and_control_status(two):
    plat, mux, ms1, ms2, (alice, apw), _ = two
    p = pop_login(mux, alice, apw)
    st = mux.status()
    assert st["state"] == "running" and st["role"] == "mux"
    assert int(st["logins_per_min"]) >= 1
    assert st.get("store:ms1") == 1
    p.quit()
    assert wait_until(lambda: "event=session_end" in mux.log_text())
    log = mux.log_text()
    login = [l for l in log.splitlines() if "event=login " in l][0]
    for key in ("user=" + alice, "client=127.0.0.1:", "store=ms1",
                "mech=USER", "tls=0"):
        assert key in login, login
    end = [l for l in log.splitlines() if "event=session_end" in l][0]
    for key in ("bytes_in=", "bytes_out=", "duration_ms="):
        assert key in end
    final, _ = mux.control("bogus")
    assert final.startswith("NO")


def test_store_refuses_unknown_proxy(plat):
    """A store that does not trust the mux: the login fails cleanly."""
    ms1 = plat.store("ms1", proxy_identities="someone-else")
    alice, apw = plat.user("alice", ms1)
    mux = plat.start_mux()
    c = Line(mux.port("pop3"))
    c.cmd("USER " + alice)
    assert c.cmd("PASS " + apw).startswith(b"-ERR [SYS/TEMP]")
    assert "backend_login_refused" in mux.log_text()


def test_large_retr_through_splice_with_slow_reader(two):
    """4 MB through the splice: the mux pauses the store while the client
    reads slowly and nothing is lost."""
    plat, mux, ms1, ms2, (alice, apw), _ = two
    body = b"".join(b"line %07d %s\r\n" % (i, b"y" * 60)
                    for i in range(60000))
    t0 = time.monotonic()
    assert lmtp_send(mux, [alice], b"Subject: big\r\n\r\n" + body) == {}
    t1 = time.monotonic()
    p = pop_login(mux, alice, apw)
    p._putcmd("RETR 1")
    time.sleep(1.0)            # let buffers fill: the mux must pause
    resp, lines, _ = p._getlongresp()
    assert resp.startswith(b"+OK")
    assert b"\r\n".join(lines).endswith(body.rstrip(b"\r\n"))
    p.quit()
    assert t1 - t0 < 20


def test_tls_and_unix_sockets_to_the_store(two):
    plat, mux, ms1, ms2, (alice, apw), _ = two
    plat.directory.set_store("ms1", pop3="127.0.0.1:%d tls"
                             % ms1.port("pop3s"),
                             lmtp="unix:" + ms1.lmtp_socket)
    time.sleep(0.3)
    assert lmtp_send(mux, [alice], msg("over a unix socket")) == {}
    p = pop_login(mux, alice, apw)
    assert p.stat()[0] == 1
    p.quit()
    assert "backend=127.0.0.1:%d tls" % ms1.port("pop3s") in mux.log_text()


def test_rookery_route_cli(plat, tmp_path):
    """`rookery route` writes the file the mux reads (once the verb is in
    the CLI's table)."""
    import os
    from conftest import BIN
    exe = os.path.join(BIN, "rookery")
    if not os.path.exists(exe):
        pytest.skip("no rookery binary in " + BIN)
    conf = tmp_path / "r.conf"
    path = tmp_path / "dir.db"
    conf.write_text("[global]\nsasldb = %s\n[mux]\ndirectory = %s\n"
                    % (plat.sasldb, path))
    def route(*args):
        return subprocess.run([exe, "-c", str(conf), "route"] + list(args),
                              capture_output=True, timeout=30)
    if route("--help").returncode != 0:
        pytest.skip("rookery route is not wired into the CLI yet")
    assert route("store", "ms1", "--pop3", "127.0.0.1:1110", "--imap",
                 "127.0.0.1:993 tls").returncode == 0
    assert route("set", "a@example.com", "ms1").returncode == 0
    out = route("show", "a@example.com")
    assert out.returncode == 0
    assert b"a@example.com ms1" in out.stdout
    assert b"imap=127.0.0.1:993,tls" in out.stdout
    assert route("store", "ms1", "--down").returncode == 0
    assert b"state=down" in route("list").stdout
    assert route("set", "a@example.com", "bad/name").returncode == 2
    assert route("show", "nobody@example.com").returncode == 1
