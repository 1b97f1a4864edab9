"""rookery-mux memory: a client that does not read must not make the mux
queue what the store sends (the splice pauses the store), and a spliced
session keeps working after the mux dropped its login-time buffers (the
SASL context, the line readers, the capability text)."""

import os
import smtplib
import socket
import time

import pytest

from mux_helpers import Line, plat, wait_until  # noqa: F401 (plat)

STORE_PROTOS = ("lmtp", "pop3", "imap")


@pytest.fixture
def env(plat, monkeypatch):
    ms1 = plat.store("ms1", listen=STORE_PROTOS)
    alice = plat.user("alice", ms1)
    # Under ASan, freed memory sits in a quarantine and is not reused, so
    # RSS would count every byte that ever passed through: let the
    # sanitizer reuse memory like malloc does (no effect on other builds)
    opts = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    monkeypatch.setenv("ASAN_OPTIONS", opts + ":quarantine_size_mb=0")
    mux = plat.start_mux()
    return plat, mux, ms1, alice


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def deliver(st, rcpt, data):
    with smtplib.LMTP("127.0.0.1", st.port("lmtp"), timeout=60) as lm:
        lm.sendmail("s@example.org", [rcpt], data)


def test_slow_pop3_reader_does_not_grow_the_mux(env):
    """12 MB RETR to a client that stops reading: the mux holds at most
    its high-water mark (256 KB) plus a read's worth, not the message."""
    plat, mux, ms1, (alice, apw) = env
    body = b"".join(b"line %07d %s\r\n" % (i, b"z" * 100)
                    for i in range(110000))
    deliver(ms1, alice, b"Subject: big\r\n\r\n" + body)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # a small receive window, so the mux's socket fills quickly
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", mux.port("pop3")))
    f = sock.makefile("rb")
    assert f.readline().startswith(b"+OK")
    sock.sendall(("USER %s\r\n" % alice).encode())
    assert f.readline().startswith(b"+OK")
    sock.sendall(("PASS %s\r\n" % apw).encode())
    assert f.readline().startswith(b"+OK")
    pid = mux.proc.pid
    before = rss_kb(pid)
    sock.sendall(b"RETR 1\r\n")
    # nobody reads: the store must be paused, not drained into the mux
    time.sleep(3.0)
    grown = rss_kb(pid) - before
    assert grown < 4096, "mux grew %d KB with a stalled reader" % grown
    assert f.readline().startswith(b"+OK")
    n = 0
    last = b""
    while True:
        line = f.readline()
        assert line, "connection closed mid-message"
        if line == b".\r\n":
            break
        n += 1
        last = line
    assert last.startswith(b"line 0109999 ")
    assert n >= 110000
    sock.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
    sock.close()


def test_spliced_imap_session_after_buffers_dropped(env):
    """After the splice the mux has freed its login-time state; long
    commands and replies, pipelining and LOGOUT still pass through."""
    plat, mux, ms1, (alice, apw) = env
    deliver(ms1, alice, b"Subject: one\r\n\r\nbody\r\n")
    c = Line(mux.port("imap"))
    ok = c.cmd("a LOGIN %s %s" % (alice, apw))
    assert ok.startswith(b"a OK [CAPABILITY ")
    time.sleep(0.3)     # idle: the line readers are trimmed by now
    # a line longer than anything seen during the login
    c.send("b SELECT INBOX\r\nc SEARCH SUBJECT %s\r\n" % ("x" * 3000))
    assert c.until("b ")[-1].startswith(b"b OK")
    assert c.until("c ")[-1].startswith(b"c OK")
    # (Line.until stops at an empty line: fetch no header block)
    c.send("d FETCH 1 (ENVELOPE)\r\n")
    lines = c.until("d ")
    assert lines[-1].startswith(b"d OK")
    assert any(b'"one"' in ln for ln in lines)
    c.send("e LOGOUT\r\n")
    assert c.until("e ")[-1].startswith(b"e OK")
    assert c.closed()
    assert wait_until(lambda: "reason=eof" in mux.log_text()
                    or "event=session_end" in mux.log_text())

