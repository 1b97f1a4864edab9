"""rookery-mux with "workers = N": a master that binds and supervises,
workers that share the listeners, caps, failure windows and counters.

Which worker served what is read from the log: every line carries the
pid of the process that wrote it ("rookery-mux[PID]:"), and the master
logs "event=worker_start pid=P n=N" for each worker it forks."""

import os
import re
import signal
import socket
import threading
import time

import pytest

from mux_helpers import Line, plat, wait_until  # noqa: F401 (plat)

LINE_RE = re.compile(r"rookery-mux\[(\d+)\]: level=\w+ (.*)")



def log_events(mux, event):
    """[(pid, line)] of every log line with event=EVENT."""
    out = []
    for raw in mux.log_text().splitlines():
        m = LINE_RE.search(raw)
        if m and re.search(r"(^| )event=%s( |$)" % event, m.group(2)):
            out.append((int(m.group(1)), m.group(2)))
    return out


def kv(text):
    return dict(w.split("=", 1) for w in text.split() if "=" in w)


def worker_pids(mux):
    """{n: pid} of the workers running now (the latest start per slot)."""
    pids = {}
    for _, line in log_events(mux, "worker_start"):
        d = kv(line)
        pids[int(d["n"])] = int(d["pid"])
    return pids


def full_status(mux):
    """(totals, {store: sessions}, [worker dicts]) from the control
    socket, parsed line by line (worker lines repeat the totals' keys)."""
    final, data = mux.control("status")
    assert final.startswith("OK"), final
    tot, stores, workers = None, {}, []
    for line in data:
        d = kv(line)
        if "worker" in d:
            workers.append(d)
        elif "store" in d:
            stores[d["store"]] = int(d["sessions"])
        else:
            tot = d
    return tot, stores, workers


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def pop_session(mux, user, pw):
    c = Line(mux.port("pop3"))
    assert c.greeting.startswith(b"+OK"), c.greeting
    c.cmd("USER " + user)
    r = c.cmd("PASS " + pw)
    return c, r


def imap_session(mux, user, pw):
    """An IMAP session (IMAP lets a user have several, POP3 does not)."""
    c = Line(mux.port("imap"))
    assert c.greeting.startswith(b"* OK"), c.greeting
    c.send('a LOGIN "%s" "%s"\r\n' % (user, pw))
    return c, c.until("a ")[-1]


def worker_of(mux, c):
    """The pid of the worker that accepted client connection c."""
    peer = "peer=127.0.0.1:%d " % c.sock.getsockname()[1]
    for _ in range(100):
        for pid, line in log_events(mux, "conn_open"):
            if peer in line + " ":
                return pid
        time.sleep(0.02)
    raise AssertionError("no conn_open for " + peer)


# Surplus connections that surely trigger the mux's accept balancing:
# more than MUX_BALANCE_SLACK (16, mux/shared.h) ahead of an idle worker.
SPARE = 24


def spread(mux, n, proto="imap", tries=None, spare=0):
    """n connections (greeted) on at least two workers: the kernel picks
    the worker, so connect one at a time until two have some.  With
    spare > 0 (a per-IP cap must leave room for n + spare), up to that many
    surplus connections to the busy worker are held open meanwhile: the
    mux's own balancing then makes it hold back and another worker take
    the next one, however the kernel hands them out."""
    got, held = [], []
    for _ in range(tries or n + spare + 40):
        c = Line(mux.port(proto))
        pid = worker_of(mux, c)
        if len(got) == n - 1 and {p for _, p in got} == {pid}:
            if len(held) < spare:
                held.append(c)
                continue
            # never more than n at once (caps): let this one go
            c.close()
            time.sleep(0.2)
            continue
        got.append((c, pid))
        if len(got) == n:
            break
    for c in held:
        c.close()
    assert len(got) == n and len({p for _, p in got}) > 1, \
        "one worker took everything"
    return [c for c, _ in got]


def login_imap(c, user, pw):
    c.send('a LOGIN "%s" "%s"\r\n' % (user, pw))
    return c.until("a ")[-1]


def open_concurrently(n, fn):
    """Runs fn(i) in n threads at once; returns the results in order."""
    out = [None] * n
    errors = []

    def run(i):
        try:
            out[i] = fn(i)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return out


STORE_LISTEN = ("lmtp", "pop3", "imap")


def start(plat, workers=3, **settings):
    ms1 = plat.store("ms1", listen=STORE_LISTEN)
    users = [plat.user("u%d" % i, ms1) for i in range(8)]
    mux = plat.start_mux(protos=("pop3", "imap"), workers=workers,
                         **settings)
    assert wait_until(lambda: len(log_events(mux, "mux_started"))
                      >= workers, 10), mux.log_text()
    return ms1, users, mux


def test_logins_spread_over_workers_and_status_totals(plat):
    ms1, users, mux = start(plat, workers=3)
    pids = worker_pids(mux)
    assert len(pids) == 3 and mux.proc.pid not in pids.values()
    st = log_events(mux, "master_started")
    assert st and st[0][0] == mux.proc.pid

    conns = spread(mux, 30, spare=SPARE)

    def login(i):
        user, pw = users[i % len(users)]
        r = login_imap(conns[i], user, pw)
        assert r.startswith(b"a OK"), r
        return conns[i]

    sessions = open_concurrently(30, login)
    logins = log_events(mux, "login")
    served = {pid for pid, _ in logins}
    assert len(logins) == 30
    assert served <= set(pids.values())
    assert len(served) > 1, "every login landed on one worker"

    tot, stores, workers = full_status(mux)
    assert int(tot["workers"]) == 3 and int(tot["pid"]) == mux.proc.pid
    assert int(tot["sessions"]) == 30 and stores == {"ms1": 30}
    assert int(tot["logins"]) == 30
    for key in ("connections", "sessions", "logins"):
        assert int(tot[key]) == sum(int(w[key]) for w in workers), key
    assert {int(w["pid"]) for w in workers} == set(pids.values())
    assert all(w["state"] == "running" for w in workers)
    busy = [w for w in workers if int(w["sessions"]) > 0]
    assert len(busy) > 1
    for c in sessions:
        c.send("z LOGOUT\r\n")
        assert c.closed()
    assert wait_until(lambda: int(full_status(mux)[0]["sessions"]) == 0)
    assert int(full_status(mux)[0]["logins_per_min"]) == 30


def test_per_ip_cap_is_global(plat):
    # room for spread()'s surplus while it looks for two workers
    cap = 9 + SPARE
    ms1, users, mux = start(plat, workers=3, max_connections_per_ip=cap)
    conns = spread(mux, 9, "pop3", spare=SPARE)
    # the control socket is Unix: not counted per IP, but a connection
    assert wait_until(
        lambda: int(full_status(mux)[0]["connections"]) == 9 + 1)
    conns += [Line(mux.port("pop3")) for _ in range(cap - 9)]
    assert all(c.greeting.startswith(b"+OK") for c in conns)
    # (the previous status call's control connection may still count)
    assert wait_until(
        lambda: int(full_status(mux)[0]["connections"]) == cap + 1)
    workers = full_status(mux)[2]
    assert len([w for w in workers if int(w["connections"]) > 0]) > 1
    for _ in range(6):
        extra = Line(mux.port("pop3"), greeting=False)
        assert extra.closed(timeout=5)
        assert extra.buf.startswith(b"-ERR"), extra.buf
    assert int(full_status(mux)[0]["refused_ip"]) == 6
    assert len(log_events(mux, "refused")) == 6
    conns.pop().close()
    assert wait_until(
        lambda: int(full_status(mux)[0]["connections"]) == cap - 1 + 1)
    c = Line(mux.port("pop3"))
    assert c.greeting.startswith(b"+OK")


def test_per_user_cap_is_global(plat):
    ms1, users, mux = start(plat, workers=3, max_sessions_per_user=4)
    user, pw = users[0]
    got = [(c, login_imap(c, user, pw)) for c in spread(mux, 4, spare=SPARE)]
    assert all(r.startswith(b"a OK") for _, r in got), got
    assert len({pid for pid, _ in log_events(mux, "login")}) > 1
    for _ in range(5):
        c, r = imap_session(mux, user, pw)
        assert r.startswith(b"a NO [LIMIT]"), r
        c.close()
    assert int(full_status(mux)[0]["refused_user"]) == 5
    refusers = {pid for pid, l in log_events(mux, "proxy_failed")
                if "reason=too_many" in l}
    assert refusers
    # another user is not affected
    c, r = imap_session(mux, users[1][0], users[1][1])
    assert r.startswith(b"a OK")
    got[0][0].send("z LOGOUT\r\n")
    assert got[0][0].closed()
    assert wait_until(lambda: imap_session(mux, user, pw)[1]
                      .startswith(b"a OK"))


def test_failed_login_window_is_global(plat):
    ms1, users, mux = start(plat, workers=3, ip_fail_limit=6,
                            ip_fail_window=60, max_auth_failures=1)
    user, pw = users[0]

    conns = spread(mux, 6, "pop3", spare=SPARE)

    def fail(i):
        conns[i].cmd("USER " + user)
        r = conns[i].cmd("PASS wrong")
        assert r.startswith(b"-ERR"), r
        conns[i].close()

    open_concurrently(6, fail)
    failed = log_events(mux, "auth_failed")
    assert len(failed) == 6
    assert len({pid for pid, _ in failed}) > 1, \
        "the failures all landed on one worker"
    # the right password now fails too, from every worker
    for c in spread(mux, 6, "pop3", spare=SPARE):
        c.cmd("USER " + user)
        r = c.cmd("PASS " + pw)
        assert r.startswith(b"-ERR"), r
        c.close()
    assert len(log_events(mux, "auth_rate_limited")) == 6
    assert int(full_status(mux)[0]["rate_limited"]) == 6
    assert len({pid for pid, _ in log_events(mux, "auth_rate_limited")}) \
        > 1


def test_killed_worker_is_restarted_and_its_counts_dropped(plat):
    # room for spread()'s surplus while it looks for two workers
    cap = 6 + SPARE
    ms1, users, mux = start(plat, workers=2, max_connections_per_ip=cap)
    before = worker_pids(mux)
    conns = spread(mux, 6, spare=SPARE)
    for i, c in enumerate(conns):
        assert login_imap(c, *users[i]).startswith(b"a OK")
    victim = worker_of(mux, conns[0])
    victim_n = next(n for n, p in before.items() if p == victim)
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: worker_pids(mux).get(victim_n) != victim, 10)
    newpid = worker_pids(mux)[victim_n]
    assert not pid_alive(victim) and pid_alive(newpid)
    exits = [kv(l) for _, l in log_events(mux, "worker_exit")]
    assert exits and exits[0]["pid"] == str(victim)
    assert exits[0]["status"] == "signal:9"
    # the victim's clients lost their connections; their per-IP counts
    # went with the worker, so as many new ones fit again
    assert wait_until(lambda: all(w["state"] == "running"
                                  for w in full_status(mux)[2]), 10)
    alive = [c for c in conns if not c.closed(timeout=0.3)]
    kept = len(alive)
    assert kept == len([1 for c in conns if worker_of(mux, c) != victim])
    assert wait_until(
        lambda: int(full_status(mux)[0]["connections"]) == kept + 1)
    fresh = []
    for i in range(cap - kept):
        if i < 6 - kept:
            c, r = imap_session(mux, *users[i])
            assert r.startswith(b"a OK"), r
        else:
            c = Line(mux.port("imap"))
            assert c.greeting.startswith(b"* OK"), c.greeting
        fresh.append(c)
    refused = Line(mux.port("pop3"), greeting=False)
    assert refused.closed(timeout=5) and refused.buf.startswith(b"-ERR")
    # logins keep working and the restarted worker takes its share
    assert mux.proc.poll() is None
    for c in conns + fresh:
        c.close()


def test_sigterm_stops_master_and_workers(plat):
    ms1, users, mux = start(plat, workers=3)
    pids = list(worker_pids(mux).values())
    c, r = pop_session(mux, *users[0])
    assert r.startswith(b"+OK")
    t0 = time.monotonic()
    assert mux.stop() == 0
    assert time.monotonic() - t0 < 8
    assert c.closed(timeout=5)
    for pid in pids:
        assert not pid_alive(pid), pid
    assert not os.path.exists(mux.control_path)
    log = mux.log_text()
    assert "event=master_stopping reason=TERM" in log
    assert len(log_events(mux, "worker_exit")) == 3
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", mux.port("pop3")), timeout=2)


def test_master_killed_takes_workers_along(plat):
    ms1, users, mux = start(plat, workers=2)
    pids = list(worker_pids(mux).values())
    mux.proc.kill()
    mux.proc.wait(5)
    assert wait_until(lambda: not any(pid_alive(p) for p in pids), 10)


def test_sighup_reaches_every_worker(plat):
    ms1, users, mux = start(plat, workers=3)
    pids = set(worker_pids(mux).values())
    mux.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: {p for p, _ in log_events(mux, "reload")}
                      >= pids | {mux.proc.pid}, 5), mux.log_text()
    assert set(worker_pids(mux).values()) == pids   # nobody restarted
    c, r = pop_session(mux, *users[0])
    assert r.startswith(b"+OK")


def test_directory_move_ends_sessions_in_every_worker(plat):
    ms1, users, mux = start(plat, workers=3)
    ms2 = plat.store("ms2", listen=STORE_LISTEN)
    movers = [plat.user("m%d" % i, ms2) for i in range(12)]
    sessions = []
    for i, c in enumerate(spread(mux, 12, "pop3", spare=SPARE)):
        c.cmd("USER " + movers[i][0])
        sessions.append((c, c.cmd("PASS " + movers[i][1])))
    assert all(r.startswith(b"+OK") for _, r in sessions)
    served = {pid for pid, l in log_events(mux, "login")}
    assert len(served) > 1
    assert full_status(mux)[1] == {"ms2": 12}
    for user, _ in movers:
        ms1.control_ok('user-add "%s"' % user)
    t0 = time.monotonic()
    plat.register(ms2, up=False)
    for c, _ in sessions:
        assert c.closed(timeout=3)
        assert b"-ERR" in c.buf
    assert time.monotonic() - t0 < 1.5
    moved = {pid for pid, _ in log_events(mux, "session_moved")}
    assert moved == served
    assert wait_until(lambda: full_status(mux)[1] == {})


def test_worker_that_cannot_start_stops_the_mux(plat):
    ms1 = plat.store("ms1")
    try:
        mux = plat.start_mux(protos=("pop3",), workers=2, sasldb="")
    except RuntimeError:
        mux = plat.muxes[-1]
    assert mux.proc.wait(10) == 1
    log = mux.log_text()
    assert "event=worker_failed" in log and "sasldb is not set" in log
    assert "event=master_stopped status=1" in log


def test_workers_setting_is_checked(plat):
    ms1 = plat.store("ms1")
    with pytest.raises(RuntimeError):
        plat.start_mux(protos=("pop3",), workers=0)
    assert "workers = 0" in plat.muxes[-1].log_text()


def test_workers_auto_is_one_per_cpu(plat):
    ms1, users, mux = start(plat, workers=len(os.sched_getaffinity(0)))
    other = plat.start_mux(protos=("pop3",), workers="auto")
    n = len(os.sched_getaffinity(0))
    assert wait_until(lambda: len(log_events(other, "mux_started")) >= n)
    assert int(full_status(other)[0]["workers"]) == n


def test_one_worker_is_a_single_process(plat):
    ms1 = plat.store("ms1", listen=STORE_LISTEN)
    user, pw = plat.user("solo", ms1)
    mux = plat.start_mux(protos=("pop3",))
    c, r = pop_session(mux, user, pw)
    assert r.startswith(b"+OK")
    assert {pid for pid, _ in log_events(mux, "login")} == {mux.proc.pid}
    assert "event=master_started" not in mux.log_text()
    tot, stores, workers = full_status(mux)
    assert workers == [] and "workers" not in tot
    assert int(tot["pid"]) == mux.proc.pid and stores == {"ms1": 1}


def test_workers_hold_more_sessions_than_one_process_can(plat):
    """The point of workers: a session costs a process two descriptors.
    Each worker is held to 160 (prlimit) - about 70 sessions - and
    max_connections, divided among the workers (62 each), keeps each
    within it: together they hold 120 (and the status connection)."""
    import resource
    ms1, users, mux = start(plat, workers=2, max_connections=124,
                            max_connections_per_ip=0)
    for pid in worker_pids(mux).values():
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (160, 160))
    held = []
    for i in range(120):
        c, r = imap_session(mux, *users[i % len(users)])
        assert r.startswith(b"a OK"), (i, r)
        held.append(c)
    tot, stores, workers = full_status(mux)
    assert int(tot["sessions"]) == 120 and stores == {"ms1": 120}
    assert all(58 <= int(w["sessions"]) <= 62 for w in workers), workers
    assert "accept_failed" not in mux.log_text()
    for c in held:
        c.close()


def test_a_burst_of_connections_is_shared_out(plat):
    """Every worker waits on the same sockets and would accept a whole
    burst alone; the balancing hold hands part of it to the others."""
    ms1, users, mux = start(plat, workers=2)
    socks = [socket.create_connection(("127.0.0.1", mux.port("pop3")),
                                      timeout=10) for _ in range(40)]
    for s in socks:
        assert s.recv(100).startswith(b"+OK")
    tot, _, workers = full_status(mux)
    assert int(tot["connections"]) == 41
    # each worker took a real share (a loaded machine may delay a
    # worker's wake-up past the 1 ms hold, so not an even one)
    assert all(int(w["connections"]) >= 4 for w in workers), workers
    for s in socks:
        s.close()
