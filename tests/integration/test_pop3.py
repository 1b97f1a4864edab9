"""POP3 (RFC 1939, 2449, 2595, 3206, 5034) against a real rookery-store:
mail goes in over LMTP and is read back with poplib, curl and fetchmail."""

import base64
import os
import poplib
import re
import signal
import smtplib
import threading
import time

import pytest

from imap_helpers import RawImap, fill_by_copy
from pop3_helpers import (RawPop3, client_tls_context, curl, run_fetchmail,
                          wait_for)

# --- fixtures over conftest's ------------------------------------------------


class Env:
    """What these tests need from a running store."""

    def __init__(self, st):
        self.st = st
        self.host = "127.0.0.1"

    @property
    def pop3_port(self):
        return self.st.port("pop3")

    @property
    def pop3s_port(self):
        return self.st.port("pop3s")

    @property
    def lmtp_port(self):
        return self.st.port("lmtp")

    def deliver(self, rcpt, msg, sender="sender@example.org"):
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=120) as lm:
            refused = lm.sendmail(sender, [rcpt], msg)
            assert not refused

    def restart(self):
        self.st.restart()


@pytest.fixture
def env(store):
    return Env(store)


@pytest.fixture
def alice(make_user):
    return make_user("alice", "alice-pw")


@pytest.fixture
def bob(make_user):
    return make_user("bob", "bob-pw")


@pytest.fixture
def spacey(make_user):
    return make_user("carol", "  a pass phrase with spaces ")


@pytest.fixture
def env_notls_plain(store_factory):
    """A store that refuses plaintext logins before TLS."""
    st = store_factory(name="ms2", allow_plaintext="no")
    st.add_user("dave@example.com", "dave-pw")
    return Env(st)


# --- messages ------------------------------------------------------------------


def make_msg(subject, body_lines, extra_headers=""):
    body = "".join(line + "\r\n" for line in body_lines)
    return ("From: Sender <sender@example.org>\r\n"
            "To: Alice <alice@example.com>\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s@example.org>\r\n"
            "%s"
            "\r\n%s" % (subject, subject.replace(" ", "."), extra_headers,
                        body)).encode()


TRICKY = [
    "plain line",
    ".starts with a dot",
    "..two dots",
    ".",
    " . space dot",
    "caf\u00e9 8-bit",
    "",
    "last line",
]


def tricky_msg(subject="tricky"):
    return make_msg(subject, TRICKY)


def pop_login(env, user, password, tls=False):
    if tls:
        p = poplib.POP3_SSL(env.host, env.pop3s_port,
                            context=client_tls_context(), timeout=30)
    else:
        p = poplib.POP3(env.host, env.pop3_port, timeout=30)
    p.user(user)
    p.pass_(password)
    return p


def retr_bytes(p, n):
    resp, lines, octets = p.retr(n)
    assert resp.startswith(b"+OK")
    return b"".join(line + b"\r\n" for line in lines)


def check_delivered(got, sent):
    """The message as delivered: trace headers in front, then the bytes
    we sent, byte for byte."""
    assert got.endswith(sent), (got[:400], sent[:400])
    prefix = got[:len(got) - len(sent)]
    assert prefix.startswith(b"Return-Path:"), prefix[:200]
    for line in prefix.split(b"\r\n")[:-1]:
        assert line[:1] in (b" ", b"\t") or line.split(b":")[0] in (
            b"Return-Path", b"Received", b"Delivered-To", b"X-Original-To")


# --- reading mail -----------------------------------------------------------


def test_retr_byte_identical(env, alice):
    user, pw = alice
    sent = [tricky_msg("tricky one"), make_msg("two", ["hello"] * 3)]
    for m in sent:
        env.deliver(user, m)
    p = pop_login(env, user, pw)
    count, size = p.stat()
    assert count == 2
    total = 0
    for i, m in enumerate(sent, 1):
        got = retr_bytes(p, i)
        check_delivered(got, m)
        total += len(got)
        assert int(p.list(i).split()[2]) == len(got)
    assert size == total
    p.quit()


def test_stat_list_uidl(env, alice):
    user, pw = alice
    for i in range(3):
        env.deliver(user, make_msg("m%d" % i, ["x" * i]))
    p = pop_login(env, user, pw)
    count, size = p.stat()
    assert count == 3
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK")
    sizes = [int(line.split()[1]) for line in lines]
    assert [int(line.split()[0]) for line in lines] == [1, 2, 3]
    assert sum(sizes) == size
    for n in (1, 2, 3):
        assert p.list(n) == b"+OK %d %d" % (n, sizes[n - 1])
    resp, lines, _ = p.uidl()
    uids = [line.split()[1] for line in lines]
    assert len(set(uids)) == 3
    for u in uids:
        assert 1 <= len(u) <= 70 and all(0x21 <= c <= 0x7e for c in u)
    for n in (1, 2, 3):
        assert p.uidl(n) == b"+OK %d %s" % (n, uids[n - 1])
    for bad in ("0", "4", "-1", "x", "99999999999"):
        with pytest.raises(poplib.error_proto):
            p.list(bad)
        with pytest.raises(poplib.error_proto):
            p.uidl(bad)
        with pytest.raises(poplib.error_proto):
            p.retr(bad)
    p.quit()


def test_top(env, alice):
    user, pw = alice
    msg = make_msg("top", [".dot", "b2", "b3", "b4"])
    env.deliver(user, msg)
    p = pop_login(env, user, pw)
    full = retr_bytes(p, 1)
    head, body = full.split(b"\r\n\r\n", 1)
    resp, lines, _ = p.top(1, 0)
    assert b"".join(x + b"\r\n" for x in lines) == head + b"\r\n\r\n"
    resp, lines, _ = p.top(1, 2)
    assert lines[-2:] == [b".dot", b"b2"]
    assert b"".join(x + b"\r\n" for x in lines) == \
        head + b"\r\n\r\n.dot\r\nb2\r\n"
    resp, lines, _ = p.top(1, 1000)
    assert b"".join(x + b"\r\n" for x in lines) == full
    for bad in (("1", "-1"), ("1", "x"), ("2", "1")):
        with pytest.raises(poplib.error_proto):
            p._shortcmd("TOP %s %s" % bad)
    with pytest.raises(poplib.error_proto):
        p._shortcmd("TOP 1")
    p.quit()


@pytest.mark.parametrize("tls", [False, True])
def test_large_message_streamed(env, alice, tls):
    """A 20 MB message, half its lines starting with a dot, half long
    clean runs (sent by sendfile on plain links), comes back whole."""
    user, pw = alice
    dots = b"." + b"y" * 997 + b"\r\n"
    clean = b"x" * 998 + b"\r\n"
    body = (dots * 5000 + clean * 5000) * 2
    msg = (b"From: a@example.org\r\nTo: alice@example.com\r\n"
           b"Subject: big\r\n\r\n" + body)
    env.deliver(user, msg)
    p = pop_login(env, user, pw, tls=tls)
    got = retr_bytes(p, 1)
    check_delivered(got, msg)
    # pipelined commands after a large RETR are answered in order
    p._putcmd("NOOP")
    p._putcmd("STAT")
    assert p._getresp().startswith(b"+OK")
    assert p._getresp().startswith(b"+OK 1 ")
    p.quit()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_large_message(env, alice):
    """A reader that stalls mid-message: the server queues a bounded
    amount (the message is streamed, not loaded), and the rest arrives
    once the reader reads again."""
    user, pw = alice
    msg = make_msg("slow", ["z" * 998] * 20000)      # ~20 MB
    env.deliver(user, msg)
    r = RawPop3(env.host, env.pop3_port, timeout=60)
    r.login(user, pw)
    before = rss_kb(env.st.pid)
    r.send("RETR 1\r\nNOOP\r\n")
    time.sleep(1.0)
    during = rss_kb(env.st.pid)
    assert during - before < 8 * 1024, (before, during)
    assert r.line().startswith(b"+OK")
    lines = r.multi()
    check_delivered(b"".join(x + b"\r\n" for x in lines), msg)
    assert r.line() == b"+OK Done"
    assert r.cmd("QUIT").startswith(b"+OK")
    r.close()


# --- deleting -------------------------------------------------------------


def test_dele_quit_expunges(env, alice):
    user, pw = alice
    for i in range(3):
        env.deliver(user, make_msg("d%d" % i, ["body %d" % i]))
    p = pop_login(env, user, pw)
    uids = [x.split()[1] for x in p.uidl()[1]]
    assert p.dele(2).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.dele(2)
    with pytest.raises(poplib.error_proto):
        p.retr(2)
    with pytest.raises(poplib.error_proto):
        p.top(2, 0)
    assert p.stat()[0] == 2
    assert [x.split()[0] for x in p.list()[1]] == [b"1", b"3"]
    assert [x.split()[0] for x in p.uidl()[1]] == [b"1", b"3"]
    assert p.quit().startswith(b"+OK")
    p = pop_login(env, user, pw)
    assert p.stat()[0] == 2
    assert [x.split()[1] for x in p.uidl()[1]] == [uids[0], uids[2]]
    p.quit()


def test_quit_ok_means_deletions_are_durable(env, alice):
    """+OK to QUIT comes only after the expunge is on disk: a SIGKILL the
    moment the client has it must not bring the messages back."""
    user, pw = alice
    for round_ in range(3):
        for i in range(4):
            env.deliver(user, make_msg("k%d-%d" % (round_, i), ["body"]))
        p = pop_login(env, user, pw)
        count = p.stat()[0]
        for n in range(1, count + 1):
            p.dele(n)
        assert p.quit().startswith(b"+OK")
        env.st.kill()
        env.st.start()
        p = pop_login(env, user, pw)
        assert p.stat()[0] == 0, "round %d: deleted mail came back" % round_
        p.quit()


def test_rset_undeletes(env, alice):
    user, pw = alice
    for i in range(2):
        env.deliver(user, make_msg("r%d" % i, ["body"]))
    p = pop_login(env, user, pw)
    _, size = p.stat()
    p.dele(1)
    p.dele(2)
    assert p.stat()[0] == 0
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (2, size)
    p.quit()
    p = pop_login(env, user, pw)
    assert p.stat()[0] == 2
    p.quit()


def test_drop_without_quit_keeps_mail(env, alice):
    user, pw = alice
    env.deliver(user, make_msg("keep", ["body"]))
    p = pop_login(env, user, pw)
    p.dele(1)
    p.sock.close()
    p.file.close()

    def relogin():
        try:
            q = pop_login(env, user, pw)
        except poplib.error_proto:
            return False  # [IN-USE] until the server notices the drop
        n = q.stat()[0]
        q.quit()
        return n == 1
    assert wait_for(relogin)


def test_quit_in_authorization_deletes_nothing(env, alice):
    user, pw = alice
    env.deliver(user, make_msg("auth-quit", ["body"]))
    r = RawPop3(env.host, env.pop3_port)
    assert r.cmd("QUIT").startswith(b"+OK")
    assert r.closed()
    p = pop_login(env, user, pw)
    assert p.stat()[0] == 1
    p.quit()


def test_retr_sets_seen_at_quit(env, alice):
    """RETR (not TOP) marks \\Seen, applied in the UPDATE state only."""
    user, pw = alice
    for i in range(3):
        env.deliver(user, make_msg("seen%d" % i, ["body"]))
    p = pop_login(env, user, pw)
    p.retr(1)
    p.top(2, 0)
    p.retr(3)
    p.dele(3)
    assert all(m["flags"] & 1 == 0 for m in env.st.messages(user))
    p.quit()
    msgs = env.st.messages(user)
    assert [m["flags"] & 1 for m in msgs] == [1, 0]
    # a session dropped without QUIT changes no flags
    p = pop_login(env, user, pw)
    p.retr(2)
    p.sock.close()
    p.file.close()
    time.sleep(0.3)
    assert [m["flags"] & 1 for m in env.st.messages(user)] == [1, 0]


def test_shutdown_says_goodbye_and_keeps_mail(env, alice):
    user, pw = alice
    env.deliver(user, make_msg("bye", ["body"]))
    r = RawPop3(env.host, env.pop3_port)
    r.login(user, pw)
    assert r.cmd("DELE 1").startswith(b"+OK")
    env.st.stop()
    assert r.line().startswith(b"-ERR [SYS/TEMP]")
    assert r.closed()
    env.st.start()
    p = pop_login(env, user, pw)
    assert p.stat()[0] == 1
    p.quit()


def _big_maildrop(store_factory, n):
    """A store with POP3 and IMAP, and erin's INBOX filled to n messages
    by IMAP COPY (hard links); returns (env, user, password, imap)."""
    st = store_factory(name="ms4", listen=("lmtp", "pop3", "imap"))
    user, pw = "erin@example.com", "erin-pw"
    st.add_user(user, pw)
    env = Env(st)
    env.deliver(user, make_msg("big", ["body"]))
    imap = RawImap(st.port("imap"))
    imap.login((user, pw))
    fill_by_copy(imap, n)
    return env, user, pw, imap


def _dele_all_but(p, n, keep):
    """DELE of every message but the last KEEP, pipelined 1,000 at a
    time."""
    for first in range(1, n - keep + 1, 1000):
        last = min(first + 999, n - keep)
        p.send("".join("DELE %d\r\n" % i for i in range(first, last + 1)))
        for i in range(first, last + 1):
            assert p.line().startswith(b"+OK"), i


def test_large_quit_in_slices(store_factory):
    """A QUIT that deletes thousands of messages works a slice per turn of
    the store's loop, other sessions served in between: \\Seen for what
    was retrieved, every deletion made, then +OK."""
    env, user, pw, imap = _big_maildrop(store_factory, 5000)
    p = RawPop3(env.host, env.pop3_port)
    assert p.cmd("USER " + user).startswith(b"+OK")
    assert p.cmd("PASS " + pw).startswith(b"+OK")
    assert p.cmd("RETR 5000").startswith(b"+OK")
    p.multi()
    _dele_all_but(p, 5000, 500)
    p.send("QUIT\r\n")
    assert imap.cmd("n", "NOOP")[-1].startswith(b"n OK")
    assert p.line() == b"+OK Logging out, 4500 messages deleted."
    assert p.line() == b""
    m = re.findall(r"event=pop3_update session=\S+ client=\S+ "
                   r"expunged=4500 slices=(\d+)", env.st.log_tail(400))
    assert m and int(m[-1]) >= 5, m
    lines = imap.cmd("s", "STATUS INBOX (MESSAGES UNSEEN)")
    assert b"(MESSAGES 500 UNSEEN 499)" in lines[0], lines
    q = pop_login(env, user, pw)
    assert q.stat()[0] == 500
    q.quit()


def test_shutdown_during_large_quit_finishes_it(store_factory):
    """SIGTERM twice (no grace) while a big QUIT is being carried out:
    QUIT was given, so every deletion it asked for is made, after a
    restart too; nothing else is lost."""
    env, user, pw, imap = _big_maildrop(store_factory, 16384)
    imap.sock.close()
    p = RawPop3(env.host, env.pop3_port, timeout=60)
    assert p.cmd("USER " + user).startswith(b"+OK")
    assert p.cmd("PASS " + pw).startswith(b"+OK")
    _dele_all_but(p, 16384, 10)
    p.send("QUIT\r\n")
    time.sleep(0.02)
    pid = env.st.pid
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.01)
    os.kill(pid, signal.SIGTERM)
    assert env.st.stop() == 0
    assert p.line() in (b"+OK Logging out, 16374 messages deleted.", b"")
    assert "event=pop3_update session=" in env.st.log_tail(400)
    env.st.start()
    q = pop_login(env, user, pw)
    assert q.stat()[0] == 10
    q.quit()


# --- unique ids ----------------------------------------------------------


def test_uidl_stable_across_sessions_and_restart(env, alice):
    user, pw = alice
    for i in range(3):
        env.deliver(user, make_msg("u%d" % i, ["same body"]))
    p = pop_login(env, user, pw)
    first = p.uidl()[1]
    p.quit()
    p = pop_login(env, user, pw)
    assert p.uidl()[1] == first
    p.dele(1)
    p.quit()
    env.restart()
    p = pop_login(env, user, pw)
    assert p.uidl()[1] == [b"1 " + first[1].split()[1],
                           b"2 " + first[2].split()[1]]
    p.quit()


def test_identical_messages_get_distinct_uidls(env, alice):
    user, pw = alice
    msg = make_msg("dup", ["same"])
    env.deliver(user, msg)
    env.deliver(user, msg)
    p = pop_login(env, user, pw)
    uids = [x.split()[1] for x in p.uidl()[1]]
    assert len(uids) == 2 and uids[0] != uids[1]
    p.quit()


# --- locking -----------------------------------------------------------------


def test_in_use(env, alice):
    user, pw = alice
    p = pop_login(env, user, pw)
    q = poplib.POP3(env.host, env.pop3_port, timeout=30)
    q.user(user)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        q.pass_(pw)
    # still in AUTHORIZATION: may try again once the lock is gone
    p.quit()
    q.user(user)
    assert q.pass_(pw).startswith(b"+OK")
    q.quit()


def test_in_use_other_user_unaffected(env, alice, bob):
    p = pop_login(env, *alice)
    q = pop_login(env, *bob)
    q.quit()
    p.quit()


# --- authentication ----------------------------------------------------------


def test_wrong_password(env, alice):
    user, _ = alice
    q = poplib.POP3(env.host, env.pop3_port, timeout=30)
    q.user(user)
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[AUTH\]"):
        q.pass_("wrong")
    q.user("nobody@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        q.pass_("wrong")
    # the connection is still usable
    assert q.capa()
    q.quit()


def test_repeated_failures_delay_then_hang_up(env, alice):
    user, _ = alice
    r = RawPop3(env.host, env.pop3_port, timeout=60)
    t0 = time.time()
    for i in range(5):
        assert r.cmd("USER " + user).startswith(b"+OK")
        assert r.cmd("PASS nope%d" % i).startswith(b"-ERR [AUTH]")
    # delays grow; after 5 failures the server hangs up
    assert time.time() - t0 >= 0.05
    assert r.closed()


def test_authenticated_user_without_mailbox(env):
    """In the user database but not on this store: [SYS/PERM]."""
    env.st.set_password("ghost@example.com", "ghost-pw")
    q = poplib.POP3(env.host, env.pop3_port, timeout=30)
    q.user("ghost@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[SYS/PERM\]"):
        q.pass_("ghost-pw")
    q.quit()


def test_pass_without_user(env):
    r = RawPop3(env.host, env.pop3_port)
    assert r.cmd("PASS x").startswith(b"-ERR")
    assert r.cmd("CAPA").startswith(b"+OK")
    r.multi()
    r.close()


def test_password_with_spaces(env, spacey):
    user, pw = spacey
    p = pop_login(env, user, pw)
    p.quit()


def test_capa(env):
    p = poplib.POP3(env.host, env.pop3_port, timeout=30)
    caps = p.capa()
    for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
              "STLS", "IMPLEMENTATION", "SASL"):
        assert c in caps, caps
    assert caps["IMPLEMENTATION"] == ["Rookery"]
    assert caps["EXPIRE"] == ["NEVER"]
    p.stls(client_tls_context())
    caps = p.capa()
    assert "STLS" not in caps
    assert "USER" in caps
    assert "PLAIN" in caps["SASL"]
    p.quit()


def test_stls_then_auth_plain(env, alice):
    user, pw = alice
    p = poplib.POP3(env.host, env.pop3_port, timeout=30)
    p.stls(client_tls_context())
    with pytest.raises(poplib.error_proto):
        p._shortcmd("STLS")
    resp = p._shortcmd("AUTH PLAIN")
    assert resp == b"+ " or resp == b"+"
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
    assert p._shortcmd(tok.decode()).startswith(b"+OK")
    assert p.stat()[0] >= 0
    p.quit()


def test_auth_initial_response(env, alice):
    user, pw = alice
    p = poplib.POP3_SSL(env.host, env.pop3s_port,
                        context=client_tls_context(), timeout=30)
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
    assert p._shortcmd("AUTH PLAIN " + tok.decode()).startswith(b"+OK")
    # no second login once in TRANSACTION
    with pytest.raises(poplib.error_proto):
        p._shortcmd("AUTH PLAIN " + tok.decode())
    p.quit()


def test_auth_plain_wrong_password(env, alice):
    user, _ = alice
    p = poplib.POP3_SSL(env.host, env.pop3s_port,
                        context=client_tls_context(), timeout=30)
    tok = base64.b64encode(b"\0" + user.encode() + b"\0wrong")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p._shortcmd("AUTH PLAIN " + tok.decode())
    p.quit()


def test_auth_proxy_authorization(store_factory):
    """The mux logs in as a proxy identity with the user as authzid
    (DESIGN.md, The mux); nobody else may act as another user."""
    st = store_factory(name="ms3", proxy_identities="proxy@example.com")
    env = Env(st)
    st.add_user("proxy@example.com", "proxy-pw")
    st.add_user("erin@example.com", "erin-pw")
    st.add_user("mallory@example.com", "mallory-pw")
    env.deliver("erin@example.com", make_msg("for erin", ["hi"]))

    def auth(authz, authc, pw):
        p = poplib.POP3_SSL(env.host, env.pop3s_port,
                            context=client_tls_context(), timeout=30)
        tok = base64.b64encode(b"\0".join(
            [authz.encode(), authc.encode(), pw.encode()])).decode()
        return p, p._shortcmd("AUTH PLAIN " + tok)

    p, resp = auth("erin@example.com", "proxy@example.com", "proxy-pw")
    assert resp.startswith(b"+OK")
    assert p.stat()[0] == 1
    # the lock is the user's, not the proxy's
    q = poplib.POP3(env.host, env.pop3_port, timeout=30)
    q.user("erin@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        q.pass_("erin-pw")
    q.quit()
    p.quit()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        auth("erin@example.com", "mallory@example.com", "mallory-pw")


def test_auth_login_multi_step(env, alice):
    user, pw = alice
    r = RawPop3(env.host, env.pop3s_port, tls=True)
    if b"LOGIN" not in b" ".join(_auth_list(r)):
        pytest.skip("LOGIN mechanism not offered")
    assert r.cmd("AUTH LOGIN").startswith(b"+ ")
    assert r.cmd(base64.b64encode(user.encode())).startswith(b"+ ")
    assert r.cmd(base64.b64encode(pw.encode())).startswith(b"+OK")
    assert r.cmd("QUIT").startswith(b"+OK")


def _auth_list(r):
    assert r.cmd("AUTH").startswith(b"+OK")
    return r.multi()


def test_auth_without_argument_lists_mechanisms(env):
    r = RawPop3(env.host, env.pop3s_port, tls=True)
    mechs = _auth_list(r)
    assert b"PLAIN" in mechs
    r.close()


def test_auth_cancel_and_bad_base64(env, alice):
    r = RawPop3(env.host, env.pop3s_port, tls=True)
    assert r.cmd("AUTH PLAIN").startswith(b"+")
    assert r.cmd("*").startswith(b"-ERR")
    assert r.cmd("AUTH PLAIN").startswith(b"+")
    assert r.cmd("!!!not base64!!!").startswith(b"-ERR")
    assert r.cmd("AUTH PLAIN %%%%").startswith(b"-ERR")
    assert r.cmd("AUTH NO-SUCH-MECH").startswith(b"-ERR")
    assert r.cmd("AUTH PLAIN").startswith(b"+")
    r.send(b"AAAA\0AAAA\r\n")
    assert r.line().startswith(b"-ERR")
    r.login(*alice)
    assert r.cmd("QUIT").startswith(b"+OK")


def test_plaintext_refused_without_tls(env_notls_plain):
    env = env_notls_plain
    user, pw = "dave@example.com", "dave-pw"
    r = RawPop3(env.host, env.pop3_port)
    assert r.cmd("CAPA").startswith(b"+OK")
    caps = r.multi()
    assert b"USER" not in caps
    assert not any(c.startswith(b"SASL") and b"PLAIN" in c for c in caps)
    resp = r.cmd("USER " + user)
    assert resp.startswith(b"-ERR [AUTH] Plaintext authentication disallowed")
    resp = r.cmd("AUTH PLAIN " + base64.b64encode(
        b"\0" + user.encode() + b"\0" + pw.encode()).decode())
    assert resp.startswith(b"-ERR [AUTH]")
    # after STLS it works
    assert r.cmd("STLS").startswith(b"+OK")
    r.starttls()
    r.login(user, pw)
    assert r.cmd("QUIT").startswith(b"+OK")


def test_stls_discards_pipelined_plaintext(env):
    r = RawPop3(env.host, env.pop3_port)
    r.send("STLS\r\nCAPA\r\n")
    assert r.line().startswith(b"+OK")
    r.starttls()
    assert r.cmd("NOOP").startswith(b"-ERR")   # still AUTHORIZATION
    assert r.cmd("CAPA").startswith(b"+OK")
    assert b"STLS" not in r.multi()
    r.close()


# --- bad input -----------------------------------------------------------------


def test_commands_out_of_state(env, alice):
    r = RawPop3(env.host, env.pop3_port)
    for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1",
                "UIDL"):
        assert r.cmd(cmd).startswith(b"-ERR"), cmd
    r.login(*alice)
    for cmd in ("USER x", "PASS y", "AUTH PLAIN", "STLS"):
        assert r.cmd(cmd).startswith(b"-ERR"), cmd
    assert r.cmd("NOOP").startswith(b"+OK")
    assert r.cmd("quit").startswith(b"+OK")


def test_unknown_and_malformed(env, alice):
    r = RawPop3(env.host, env.pop3_port)
    r.login(*alice)
    for cmd in ("FOO", "", "   ", "LIST 1 2", "RETR", "STAT x", "DELE",
                "TOP 1", "\x01\x02", "RETR \x7f"):
        assert r.cmd(cmd).startswith(b"-ERR"), cmd
    assert r.cmd("noop").startswith(b"+OK")
    r.send(b"NO\0OP\r\n")
    assert r.line().startswith(b"-ERR")
    r.send(b"\xff\xfe\xfd garbage\r\n")
    assert r.line().startswith(b"-ERR")
    assert r.cmd("NOOP").startswith(b"+OK")
    assert r.cmd("QUIT").startswith(b"+OK")


def test_command_in_pieces_and_bare_lf(env, alice):
    r = RawPop3(env.host, env.pop3_port)
    r.login(*alice)
    for ch in b"STAT\r\n":
        r.send(bytes([ch]))
        time.sleep(0.01)
    assert r.line().startswith(b"+OK 0 ")
    r.send(b"NOOP\nNOOP\r\n")
    assert r.line() == b"+OK Done"
    assert r.line() == b"+OK Done"
    assert r.cmd("QUIT").startswith(b"+OK")


def test_overlong_line(env, alice):
    r = RawPop3(env.host, env.pop3_port)
    r.send(b"USER " + b"a" * 100000 + b"\r\n")
    assert r.line().startswith(b"-ERR")
    r.login(*alice)
    r.send(b"LIST " + b"9" * 20000 + b"\r\n")
    assert r.line().startswith(b"-ERR")
    assert r.cmd("NOOP").startswith(b"+OK")
    assert r.cmd("QUIT").startswith(b"+OK")


def test_pipelined_flood(env, alice):
    user, pw = alice
    env.deliver(user, make_msg("flood", ["x"]))
    r = RawPop3(env.host, env.pop3_port, timeout=60)
    r.send("USER %s\r\nPASS %s\r\n" % (user, pw))
    n = 20000
    # write the flood from a thread: the server may stop reading while
    # its replies pile up unread
    t = threading.Thread(target=r.send,
                         args=(b"NOOP\r\nSTAT\r\nUIDL 1\r\n" * n,))
    t.start()
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"+OK")
    for i in range(n):
        assert r.line() == b"+OK Done"
        assert r.line().startswith(b"+OK 1 ")
        assert r.line().startswith(b"+OK 1 ")
    t.join()
    assert r.cmd("QUIT").startswith(b"+OK")


def test_garbage_flood_hangs_up(env):
    r = RawPop3(env.host, env.pop3_port)
    r.send(b"BOGUS\r\n" * 100)
    replies = []
    while True:
        line = r.line()
        if not line:
            break
        replies.append(line)
    assert 1 <= len(replies) <= 21
    assert all(x.startswith(b"-ERR") for x in replies)


def test_server_still_answers_after_abuse(env, alice):
    for payload in (b"\0" * 5000 + b"\r\n", b"\xff" * 70000,
                    b"AUTH PLAIN " + b"A" * 70000 + b"\r\n"):
        r = RawPop3(env.host, env.pop3_port)
        r.send(payload)
        r.close()
    p = pop_login(env, *alice)
    p.noop()
    p.quit()


# --- stock clients -----------------------------------------------------------


def test_curl_pop3(env, alice):
    user, pw = alice
    sent = tricky_msg("curl")
    env.deliver(user, sent)
    rc, out, err = curl(["-u", "%s:%s" % (user, pw),
                         "pop3://%s:%d/" % (env.host, env.pop3_port)])
    assert rc == 0, err
    assert out.split()[0] == b"1"
    rc, out, err = curl(["-u", "%s:%s" % (user, pw),
                         "pop3://%s:%d/1" % (env.host, env.pop3_port)])
    assert rc == 0, err
    check_delivered(out, sent)
    # STLS, required
    rc, out2, err = curl(["-k", "--ssl-reqd", "-u", "%s:%s" % (user, pw),
                          "pop3://%s:%d/1" % (env.host, env.pop3_port)])
    assert rc == 0, err
    assert out2 == out
    # implicit TLS
    rc, out3, err = curl(["-k", "-u", "%s:%s" % (user, pw),
                          "pop3s://%s:%d/1" % (env.host, env.pop3s_port)])
    assert rc == 0, err
    assert out3 == out
    # UIDL through a custom request
    rc, out4, err = curl(["-u", "%s:%s" % (user, pw), "-X", "UIDL",
                          "pop3://%s:%d/" % (env.host, env.pop3_port)])
    assert rc == 0, err
    assert out4.startswith(b"1 ")


def test_curl_wrong_password(env, alice):
    user, _ = alice
    rc, out, err = curl(["-u", "%s:wrong" % user,
                         "pop3://%s:%d/" % (env.host, env.pop3_port)])
    assert rc != 0


def _lf(b):
    return b.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("mode,auth", [("plain", "any"), ("ssl", "any"),
                                       ("stls", "any"), ("plain", "password"),
                                       ("stls", "password")])
def test_fetchmail(env, alice, tmp_path, mode, auth):
    """fetchmail with auth any picks a SASL mechanism (NTLM, CRAM-MD5: a
    multi-step AUTH exchange); auth password uses USER/PASS."""
    user, pw = alice
    sent = [tricky_msg("fm1 " + mode), make_msg("fm2 " + mode, ["b"] * 10)]
    for m in sent:
        env.deliver(user, m)
    port = env.pop3s_port if mode == "ssl" else env.pop3_port
    rc, log, msgs = run_fetchmail(str(tmp_path), env.host, port, user, pw,
                                  mode=mode, auth=auth)
    assert rc == 0, log
    if auth == "password":
        assert "POP3> USER" in log, log
    else:
        assert "POP3> AUTH " in log, log
    assert len(msgs) == 2, log
    for got, m in zip(sorted(msgs, key=lambda x: b"fm2" in x), sent):
        assert _lf(got).endswith(_lf(m)), (got[:300], log)
    # fetchmail deleted what it fetched (DELE + QUIT)
    p = pop_login(env, user, pw)
    assert p.stat()[0] == 0
    p.quit()


def test_fetchmail_keep_uidl(env, alice, tmp_path):
    """With keep + uidl, a second run fetches only new mail: UIDL must be
    stable between sessions."""
    user, pw = alice
    env.deliver(user, make_msg("k1", ["one"]))
    rc, log, msgs = run_fetchmail(str(tmp_path), env.host, env.pop3_port,
                                  user, pw, keep=True, uidl=True)
    assert rc == 0, log
    assert len(msgs) == 1
    env.deliver(user, make_msg("k2", ["two"]))
    rc, log, msgs = run_fetchmail(str(tmp_path), env.host, env.pop3_port,
                                  user, pw, keep=True, uidl=True)
    assert rc == 0, log
    assert len(msgs) == 2, log
    assert b"Subject: k2" in msgs[1]
    p = pop_login(env, user, pw)
    assert p.stat()[0] == 2
    p.quit()


def test_replica_refuses_logins(store_factory):
    """DESIGN.md: a replica takes no client writes (POP3 deletes at
    QUIT): a correct login gets -ERR [SYS/TEMP] and the session stays
    usable."""
    st = store_factory(name="ms9", role="replica")
    st.add_user("erin@example.com", "erin-pw")
    env = Env(st)
    r = RawPop3(env.host, env.pop3_port)
    assert r.cmd("USER erin@example.com").startswith(b"+OK")
    line = r.cmd("PASS erin-pw")
    assert line.startswith(b"-ERR [SYS/TEMP]") and b"replica" in line, line
    assert r.cmd("QUIT").startswith(b"+OK")
    assert "reason=replica" in st.log_text()
