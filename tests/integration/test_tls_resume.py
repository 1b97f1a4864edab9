"""TLS session resumption: a client that reconnects presents the ticket of
its last connection and gets an abbreviated handshake, from the mux (with
several workers: they share the ticket keys, so it does not matter which
one takes the connection) and from a store.  One ticket per handshake."""

import socket
import ssl
import subprocess

from mux_helpers import Line, plat, wait_until  # noqa: F401 (plat)
from test_mux_workers import kv, log_events

TRIES = 60


def new_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def imaps_cycle(ctx, port, session=None, user=None):
    """Connects, (logs in,) logs out, closes with close_notify; returns
    (reused, session for the next time, tickets received, local port)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, session=session)
    local = s.getsockname()[1]
    buf = b""

    def until(tag):
        nonlocal buf
        while True:
            while b"\r\n" not in buf:
                chunk = s.recv(65536)
                assert chunk, "closed early: %r" % buf
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            if line.startswith(tag):
                return line

    assert until(b"* OK")
    if user:
        s.sendall(b'a LOGIN "%s" "%s"\r\n' % (user[0].encode(),
                                              user[1].encode()))
        assert until(b"a ").startswith(b"a OK")
    s.sendall(b"z LOGOUT\r\n")
    assert until(b"z ").startswith(b"z OK")
    reused = s.session_reused
    sess = s.session
    try:
        s.unwrap()
    except (OSError, ssl.SSLError):
        pass
    s.close()
    return reused, sess, local


def test_mux_workers_resume_each_others_tickets(plat):
    ms1 = plat.store("ms1", listen=("lmtp", "imap"))
    user = plat.user("rs", ms1)
    mux = plat.start_mux(protos=("imaps",), workers=2)
    assert wait_until(lambda: len(log_events(mux, "mux_started")) >= 2,
                      10), mux.log_text()
    ctx = new_ctx()
    port = mux.port("imaps")
    sess = None
    seen, held = [], []
    for i in range(TRIES):
        reused, sess, local = imaps_cycle(ctx, port, sess,
                                          user if i < 3 else None)
        assert sess is not None and sess.has_ticket
        seen.append((local, reused))
        busy = workers_of(mux, seen)
        if i >= 3 and len(busy) > 1:
            break
        # more than MUX_BALANCE_SLACK (16, mux/shared.h) ahead
        if i >= 3 and len(held) < 24:
            # The kernel may hand every connection to the same worker;
            # idle connections held on that one make the mux's own
            # balancing send the next to the other.
            hold_if_on(mux, port, busy, held)
    for h in held:
        h.close()
    assert not seen[0][1], "the first connection cannot resume"
    assert all(r for _, r in seen[1:]), seen
    assert len(workers_of(mux, seen)) > 1, "one worker took everything"
    # a login on a resumed session is an ordinary login
    logins = log_events(mux, "login")
    assert len(logins) == 3 and all("tls=" in l for _, l in logins)


def hold_if_on(mux, port, pids, held):
    """Opens an idle connection and keeps it in held if a worker in
    pids accepted it (else closes it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    local = s.getsockname()[1]
    assert wait_until(lambda: workers_of(mux, [(local, None)]), 5)
    if workers_of(mux, [(local, None)]) <= pids:
        held.append(s)
    else:
        s.close()


def workers_of(mux, seen):
    """The pids of the workers that accepted the connections in seen."""
    pids = set()
    opens = log_events(mux, "conn_open")
    for local, _ in seen:
        for pid, line in opens:
            if ("peer=127.0.0.1:%d " % local) in line + " ":
                pids.add(pid)
    return pids


def test_store_resumes_and_sends_one_ticket(plat):
    ms1 = plat.store("ms1", listen=("lmtp", "imap", "imaps"))
    user = plat.user("rt", ms1)
    ctx = new_ctx()
    port = ms1.port("imaps")
    reused, sess, _ = imaps_cycle(ctx, port, None, user)
    assert not reused and sess.has_ticket
    for _ in range(3):
        reused, sess, _ = imaps_cycle(ctx, port, sess, user)
        assert reused
    # one ticket per handshake, as openssl s_client reports them
    out = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-tls1_3", "-ign_eof"],
        input=b"z LOGOUT\r\n", capture_output=True, timeout=20).stdout
    assert b"z OK" in out, out[-2000:]
    assert out.count(b"New Session Ticket arrived") == 1, out[-4000:]


def test_mux_resumes_its_tls_sessions_to_stores(plat):
    """With TLS to the store, the mux presents the ticket the store gave
    it on the previous connection: one full handshake, then resumed."""
    ms1 = plat.store("ms1", listen=("lmtp", "imap", "imaps"),
                     register=False)
    plat.directory.set_store(
        "ms1", imap="127.0.0.1:%d tls" % ms1.port("imaps"),
        lmtp="127.0.0.1:%d" % ms1.port("lmtp"))
    user = plat.user("rb", ms1)
    mux = plat.start_mux(protos=("imap",), allow_plaintext="yes")
    for _ in range(4):
        c = Line(mux.port("imap"))
        assert c.greeting.startswith(b"* OK"), c.greeting
        c.send('a LOGIN "%s" "%s"\r\n' % user)
        assert c.until("a ")[-1].startswith(b"a OK")
        c.send("b SELECT INBOX\r\n")
        assert c.until("b ")[-1].startswith(b"b OK")
        c.send("z LOGOUT\r\n")
        assert c.closed()
    assert wait_until(lambda: len(log_events(mux, "login")) == 4)
    states = [kv(l)["backend_tls"] for _, l in log_events(mux, "login")]
    assert states == ["full", "resumed", "resumed", "resumed"], states
    # the store, restarted, no longer knows the ticket: a full handshake
    # again, and resumption after it
    ms1.stop()
    ms1.start()
    for _ in range(2):
        c = Line(mux.port("imap"))
        c.send('a LOGIN "%s" "%s"\r\n' % user)
        assert c.until("a ")[-1].startswith(b"a OK")
        c.send("z LOGOUT\r\n")
        assert c.closed()
    assert wait_until(lambda: len(log_events(mux, "login")) == 6)
    states = [kv(l)["backend_tls"] for _, l in log_events(mux, "login")]
    assert states[4:] == ["full", "resumed"], states
