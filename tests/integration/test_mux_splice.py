"""rookery-mux: large FETCH replies relayed store -> client through a pipe
(splice(2), mux/splice.c): byte-identical to the store's own reply, a slow
reader gets everything with bounded mux memory, a store dying mid-FETCH
ends the session cleanly, and no pipe outlives the burst."""

import os
import random
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import time

import pytest

from conftest import BIN
from mux_helpers import Line, plat  # noqa: F401 (plat)

IMAP_STORE = ("lmtp", "pop3", "imap")
NMSG = 20
MSG_SIZE = 1 << 20
with open(os.path.join(BIN, "rookery-mux"), "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def big_message(i):
    rnd = random.Random(i)
    lines = []
    size = 0
    while size < MSG_SIZE:
        ln = "%d " % i + "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123"
                                            "456789 ") for _ in range(70))
        lines.append(ln)
        size += len(ln) + 2
    return ("Subject: big %d\r\n\r\n" % i + "\r\n".join(lines)
            + "\r\n").encode()


@pytest.fixture
def env(plat):
    ms1 = plat.store("ms1", listen=IMAP_STORE)
    user = plat.user("alice", ms1)
    with smtplib.LMTP("127.0.0.1", ms1.port("lmtp"), timeout=60) as lm:
        for i in range(NMSG):
            lm.sendmail("s@example.org", [user[0]], big_message(i))
    mux = plat.start_mux()
    return plat, mux, ms1, user


def login(port, user):
    c = Line(port, timeout=30)
    assert c.greeting.startswith(b"* OK")
    assert c.cmd("a LOGIN %s %s" % user).startswith(b"a OK")
    c.send("b SELECT INBOX\r\n")
    assert c.until("b ")[-1].startswith(b"b OK")
    return c


def read_until_tag(c, tag, limit=64 << 20, chunk=1 << 20, delay=0.0,
                   slow_bytes=None):
    """Raw bytes of a reply up to and including the tagged line; with
    delay, a pause after each chunk (for the first slow_bytes only, when
    given)."""
    data = bytearray(c.buf)
    c.buf = b""
    end = b"\r\n" + tag + b" "
    start = 0
    while True:
        i = data.find(end, start)
        if i >= 0:
            j = data.find(b"\r\n", i + 2)
            if j >= 0:
                c.buf = bytes(data[j + 2:])
                return bytes(data[:j + 2])
            start = i
        else:
            start = max(0, len(data) - len(end))
        assert len(data) < limit
        got = c.sock.recv(chunk)
        if not got:
            return bytes(data)
        data += got
        if delay and (slow_bytes is None or len(data) < slow_bytes):
            time.sleep(delay)


def fetch_all(c, tag=b"f", **kw):
    c.send(tag + b" UID FETCH 1:* BODY.PEEK[]\r\n")
    return read_until_tag(c, tag, **kw)


def fetch_direct(ms1, user):
    """The whole INBOX fetched from the store itself, to compare with."""
    d = login(ms1.port("imap"), user)
    try:
        return fetch_all(d)
    finally:
        d.close()


def mux_pids(mux):
    """The mux's process and its workers (children)."""
    pids = [mux.proc.pid]
    try:
        kids = open("/proc/%d/task/%d/children" % (mux.proc.pid,
                                                     mux.proc.pid)).read()
        pids += [int(x) for x in kids.split()]
    except OSError:
        pass
    return pids


def pipe_fds(mux):
    n = 0
    for pid in mux_pids(mux):
        d = "/proc/%d/fd" % pid
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for fd in names:
            try:
                if os.readlink(os.path.join(d, fd)).startswith("pipe:"):
                    n += 1
            except OSError:
                pass
    return n


def rss_kb(mux):
    total = 0
    for pid in mux_pids(mux):
        try:
            for ln in open("/proc/%d/status" % pid):
                if ln.startswith("VmRSS:"):
                    total += int(ln.split()[1])
        except OSError:
            pass
    return total


def test_large_fetch_identical_to_direct(env):
    plat, mux, ms1, user = env
    direct = fetch_direct(ms1, user)
    assert direct.count(b"* ") >= NMSG
    assert len(direct) > NMSG * MSG_SIZE
    c = login(mux.port("imap"), user)
    for _ in range(2):
        via = fetch_all(c)
        assert len(via) == len(direct)
        assert via == direct
    assert c.cmd("z LOGOUT").startswith(b"* BYE")
    c.close()
    time.sleep(0.5)
    log = mux.log_text()
    m = re.findall(r"event=session_end .*bytes_out=(\d+)", log)
    assert m and int(m[-1]) >= 2 * len(direct), log[-2000:]
    # the LOGOUT went through the buffered path: a clean end, no BYE
    # from the mux
    assert "backend_lost" not in log


def test_logout_pipelined_behind_a_spliced_fetch(env):
    """The store's BYE may ride in the same spliced burst as the FETCH:
    the session still ends cleanly (one BYE, the store's; no backend_lost
    and no BYE [UNAVAILABLE] from the mux)."""
    plat, mux, ms1, user = env
    c = login(mux.port("imap"), user)
    c.send("f UID FETCH 1:* BODY.PEEK[]\r\nz LOGOUT\r\n")
    data = b""
    while True:
        got = c.sock.recv(1 << 20)
        if not got:
            break
        data += got
    c.close()
    assert b"\r\nf OK" in data and b"\r\nz OK" in data
    tail = data[-300:]
    assert b"UNAVAILABLE" not in tail, tail
    assert tail.count(b"* BYE") == 1, tail
    time.sleep(0.5)
    assert "backend_lost" not in mux.log_text()


def test_slow_reader_gets_everything(env):
    plat, mux, ms1, user = env
    direct = fetch_direct(ms1, user)
    c = login(mux.port("imap"), user)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    rss0 = rss_kb(mux)
    peak = rss0
    c.send(b"f UID FETCH 1:* BODY.PEEK[]\r\n")
    data = b""
    deadline = time.monotonic() + 120
    while not data.endswith(b"\r\n") or b"\r\nf " not in data[-200:]:
        assert time.monotonic() < deadline
        got = c.sock.recv(256 * 1024)
        assert got
        data += got
        if len(data) % (2 << 20) < len(got):
            peak = max(peak, rss_kb(mux))
        time.sleep(0.01)
    assert data == direct
    grew = peak - rss0
    print("mux RSS %d kB, peak growth %d kB" % (rss0, grew))
    if not SANITIZED:
        assert grew < 8 * 1024
    c.cmd("z LOGOUT")
    c.close()


def test_store_dies_mid_fetch(env):
    plat, mux, ms1, user = env
    base = pipe_fds(mux)  # the mux's own (libevent's signal pipe...)
    c = login(mux.port("imap"), user)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.send(b"f UID FETCH 1:* BODY.PEEK[]\r\n")
    got = b""
    while len(got) < 3 * MSG_SIZE:
        chunk = c.sock.recv(65536)
        assert chunk
        got += chunk
    ms1.kill()
    # the session ends: the rest of what was sent, then a close
    c.sock.settimeout(20)
    total = len(got)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = c.sock.recv(1 << 20)
        except OSError:
            break
        if not chunk:
            break
        total += len(chunk)
        got = got[-200:] + chunk
    else:
        pytest.fail("the mux did not close the client")
    time.sleep(0.3)
    log = mux.log_text()
    assert "event=backend_lost" in log
    assert re.search(r"event=session_end .*reason=", log), log[-2000:]
    assert mux.proc.poll() is None
    assert pipe_fds(mux) == base


def test_no_pipes_after_idle(env):
    plat, mux, ms1, user = env
    base = pipe_fds(mux)
    clients = [login(mux.port("imap"), user) for _ in range(3)]
    for c in clients:
        r = fetch_all(c)
        assert len(r) > NMSG * MSG_SIZE
    # the relay gives its pipe back once the store has been quiet
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pipe_fds(mux) > base:
        time.sleep(0.1)
    assert pipe_fds(mux) == base
    # still working afterwards, and spliced again
    r = fetch_all(clients[0], tag=b"g")
    assert len(r) > NMSG * MSG_SIZE
    for c in clients:
        assert c.cmd("z LOGOUT").startswith(b"* BYE")
        c.close()


def test_no_pipe_falls_back_to_buffered(env):
    """pipe() failing (EMFILE) leaves the session on the buffered relay."""
    import resource
    plat, mux, ms1, user = env
    direct = fetch_direct(ms1, user)
    c = login(mux.port("imap"), user)
    saved = {}
    try:
        for pid in mux_pids(mux):
            fds = set(int(x) for x in os.listdir("/proc/%d/fd" % pid))
            saved[pid] = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            # below the lowest free number every descriptor is taken:
            # no new one (the open ones above stay usable)
            lim = min(set(range(len(fds) + 1)) - fds)
            resource.prlimit(pid, resource.RLIMIT_NOFILE,
                             (lim, saved[pid][1]))
        via = fetch_all(c)
    finally:
        for pid, lim in saved.items():
            resource.prlimit(pid, resource.RLIMIT_NOFILE, lim)
    assert via == direct
    assert c.cmd("z LOGOUT").startswith(b"* BYE")
    c.close()


def test_idle_timeout_spares_a_long_spliced_fetch(env):
    """Spliced output re-arms the client's idle timeout like any other."""
    plat, mux, ms1, user = env
    direct = fetch_direct(ms1, user)
    short = plat.start_mux(idle_timeout="2")
    c = login(short.port("imap"), user)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    t0 = time.monotonic()
    # Slow for the first half only: what the mux has already written sits
    # in the kernel's socket buffers (megabytes), and a reader that took
    # longer than the timeout to drain them would meet the idle timeout
    # honestly, after the mux's last write.
    via = fetch_all(c, chunk=64 * 1024, delay=0.02,
                    slow_bytes=len(direct) // 2)
    assert time.monotonic() - t0 > 2.5, "too fast to say anything"
    assert via == direct
    assert c.cmd("n NOOP").startswith(b"n OK")
    # and idle it is, afterwards
    assert c.closed(timeout=6)
    assert b"n OK" not in c.buf


F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
# the mux without the two capabilities that exempt a process from the
# per-user pipe allowance (fs.pipe-user-pages-soft), as a mux that has
# dropped root to its own user is
UNPRIVILEGED = ["setpriv", "--bounding-set", "-sys_admin,-sys_resource"]


def exhaust_pipe_allowance():
    """Pipes of 1 MiB, held by this (root) process, until root's per-user
    pipe allowance is spent: an unprivileged root process then gets pipes
    of two pages, and F_SETPIPE_SZ fails.  The pipes to close afterwards,
    or None where this cannot be arranged."""
    import fcntl
    try:
        soft = int(open("/proc/sys/fs/pipe-user-pages-soft").read())
    except OSError:
        return None
    if soft == 0 or os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    held = []
    want = soft * 4096 // (1 << 20) + 4
    try:
        for _ in range(want):
            r, w = os.pipe()
            held += [r, w]
            fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass    # refused: the allowance is spent already
    # check, as the mux will see it
    probe = subprocess.run(
        UNPRIVILEGED + [sys.executable, "-c",
                        "import fcntl, os\n"
                        "r, w = os.pipe()\n"
                        "try:\n"
                        "    fcntl.fcntl(w, %d, 262144)\n"
                        "except OSError:\n"
                        "    pass\n"
                        "print(fcntl.fcntl(w, %d))\n"
                        % (F_SETPIPE_SZ, F_GETPIPE_SZ)],
        capture_output=True, text=True, timeout=30)
    if probe.returncode != 0 or int(probe.stdout) >= 65536:
        for fd in held:
            os.close(fd)
        return None
    return held


def test_small_pipe_falls_back_to_buffered(plat):
    """When the kernel grants a pipe smaller than the relay needs (the
    mux's user has spent its pipe allowance), the session stays on the
    buffered relay: slow and fast readers get every byte, no session
    ends, and the mux says once what to raise."""
    ms1 = plat.store("ms1", listen=IMAP_STORE)
    user = plat.user("alice", ms1)
    with smtplib.LMTP("127.0.0.1", ms1.port("lmtp"), timeout=60) as lm:
        for i in range(NMSG):
            lm.sendmail("s@example.org", [user[0]], big_message(i))
    mux = plat.start_mux(wrap=UNPRIVILEGED)
    direct = fetch_direct(ms1, user)
    held = exhaust_pipe_allowance()
    if held is None:
        pytest.skip("needs root, setpriv and a pipe allowance to spend")
    try:
        fast = login(mux.port("imap"), user)
        slow = login(mux.port("imap"), user)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        assert fetch_all(fast) == direct
        via = fetch_all(slow, chunk=16384, delay=0.002,
                        slow_bytes=len(direct) // 4)
        assert via == direct
        for c in (fast, slow):
            assert c.cmd("z LOGOUT").startswith(b"* BYE")
            c.close()
    finally:
        for fd in held:
            os.close(fd)
    time.sleep(0.3)
    log = mux.log_text()
    assert "backend_lost" not in log and "splice_pipe_short" not in log
    assert log.count("event=splice_small_pipe") == 1, log[-3000:]
    # and with the allowance back, bulk is spliced again
    c = login(mux.port("imap"), user)
    assert fetch_all(c) == direct
    c.close()
