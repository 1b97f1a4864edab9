"""FETCH of a whole large mailbox is streamed (DESIGN.md: message bodies
are streamed, never buffered whole): a client that asks for every body and
reads slowly must not make the store queue the whole mailbox, in memory or
as open files, and must get every byte in order once it reads."""

import os
import re
import socket
import time

from imap_helpers import RawImap, imap_env, imap_user  # noqa: F401
from lmtp_helpers import RawLmtp

NMSG = 400
BODY_LINES = 1600          # ~ 100 KB per message: above the inline limit


def big_msg(i):
    line = ("%05d " % i).encode() + b"x" * 56 + b"\r\n"
    return (b"From: a@example.org\r\nTo: alice@example.com\r\n"
            b"Subject: big %d\r\n\r\n" % i) + line * BODY_LINES


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_fetch_all_bodies_streams(imap_env, imap_user):  # noqa: F811
    st = imap_env.st
    c = RawLmtp(st.port("lmtp"))
    c.lhlo()
    for i in range(NMSG):
        _, _, _, finals = c.transaction("s@example.org", [imap_user[0]],
                                        big_msg(i))
        assert finals[0].code == 250
    c.close()

    sock = socket.socket()
    # a small window, so the store's writes block early
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", imap_env.port))
    r = RawImap.__new__(RawImap)
    r.sock, r.buf, r.eof = sock, b"", False
    r.greeting = r.line()
    r.login(imap_user)
    lines = r.cmd("s", "SELECT INBOX")
    assert lines[-1].startswith(b"s OK"), lines
    fds_before = open_fds(st.pid)

    r.send("f UID FETCH 1:* (BODY.PEEK[])\r\n")
    time.sleep(2.0)                         # the client reads nothing
    queued_files = open_fds(st.pid) - fds_before
    # without streaming every message's file is queued (NMSG open files)
    assert queued_files < 64, "%d files queued" % queued_files

    # now read it all: every message, whole, in order
    got = 0
    want_size = len(big_msg(0))
    while True:
        line = r.line()
        if line.startswith(b"f "):
            assert line.startswith(b"f OK"), line
            break
        m = re.match(rb"\* (\d+) FETCH \(.*BODY\[\] \{(\d+)\}$", line)
        assert m, line[:200]
        n = int(m.group(2))
        data = r.read_bytes(n)
        assert len(data) == n
        # Return-Path/Received are prepended by the store
        assert data.endswith(big_msg(got)[-1000:])
        assert int(m.group(1)) == got + 1
        got += 1
        rest = r.line()
        assert rest.endswith(b")"), rest
    assert got == NMSG
    assert want_size > 64 * 1024
    # the session goes on
    lines = r.cmd("n", "NOOP")
    assert lines[-1].startswith(b"n OK"), lines
    assert open_fds(st.pid) - fds_before < 8
    sock.close()


def fill(st, user, n):
    c = RawLmtp(st.port("lmtp"))
    c.lhlo()
    for i in range(n):
        _, _, _, finals = c.transaction("s@example.org", [user],
                                        big_msg(i))
        assert finals[0].code == 250
    c.close()


def test_pipelined_after_streamed_fetch_and_hangup(imap_env, imap_user):  # noqa: F811,E501
    """Commands sent behind a long FETCH wait their turn and are answered
    in order; a client that hangs up in the middle of one leaves the store
    serving others."""
    st = imap_env.st
    fill(st, imap_user[0], 120)
    r = RawImap(imap_env.port, timeout=60)
    r.login(imap_user)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith(b"s OK")
    r.send("f FETCH 1:* (RFC822.SIZE BODY.PEEK[])\r\nn NOOP\r\n"
           "g UID FETCH 1 (FLAGS)\r\n")
    tags = []
    while len(tags) < 3:
        line = r.line()
        m = re.search(rb"\{(\d+)\}$", line)
        if m:
            r.read_bytes(int(m.group(1)))
            continue
        if line[:2] in (b"f ", b"n ", b"g "):
            assert b" OK" in line, line
            tags.append(line[:1])
    assert tags == [b"f", b"n", b"g"]
    r.sock.close()

    # hang up with most of a FETCH still to send
    r = RawImap(imap_env.port, timeout=60)
    r.login(imap_user)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith(b"s OK")
    r.send("f FETCH 1:* (BODY.PEEK[])\r\n")
    r.read_bytes(300000)
    r.sock.close()
    time.sleep(0.5)
    r = RawImap(imap_env.port)
    r.login(imap_user)
    lines = r.cmd("s", "STATUS INBOX (MESSAGES)")
    assert b"MESSAGES 120" in lines[0], lines
    r.sock.close()
