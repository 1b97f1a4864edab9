"""Crash safety (DESIGN.md, Storage): 4 LMTP clients deliver continuously
while the store is killed with SIGKILL at random moments and restarted.
Every message that got a 250 must be present, byte-identical after the
trace fields, and indexed (size, GUID); UIDs strictly increasing and never
reused; mailbox counts and quota usage consistent with the index."""

import hashlib
import os
import random
import threading
import time

from conftest import strip_trace
from lmtp_helpers import RawLmtp, make_msg, uid_of

ROUNDS = 6
CLIENTS = 4
SENDER = "crash@example.org"


class Client(threading.Thread):
    """Delivers until stopped; remembers what was acknowledged."""

    def __init__(self, n, store, users, stop):
        super().__init__(daemon=True)
        self.n = n
        self.store = store
        self.users = users
        self.stop = stop
        self.rnd = random.Random(1000 + n)
        self.acked = []        # (user, uid, token, msg) in ack order
        self.attempted = set()  # every token sent (acked or not)
        self.errors = 0
        self.seq = 0

    def message(self):
        self.seq += 1
        token = "c%d-m%d" % (self.n, self.seq)
        size = self.rnd.choice([100, 1000, 4000, 30000])
        line = ("%s " % token) * 8 + "\r\n"
        body = line * (size // len(line) + 1)
        if self.seq % 7 == 0:
            body += ".leading dot\r\n..two\r\n"
        return token, make_msg(token, body)

    def run(self):
        while not self.stop.is_set():
            try:
                c = RawLmtp(self.store.port("lmtp"), timeout=10)
                c.lhlo("crash.test")
                while not self.stop.is_set():
                    self.one(c)
            except (OSError, EOFError, ValueError, AssertionError):
                self.errors += 1
                time.sleep(0.02)

    def one(self, c):
        token, msg = self.message()
        rcpts = [self.users[self.n % len(self.users)]]
        if self.seq % 3 == 0:
            rcpts.append(self.users[(self.n + 1) % len(self.users)])
        self.attempted.add(token)
        _, rr, data, finals = c.transaction(SENDER, rcpts, msg)
        assert all(r.code == 250 for r in rr) and data.code == 354
        for rcpt, r in zip(rcpts, finals):
            if r.code == 250:
                self.acked.append((rcpt, uid_of(r), token, msg))


def token_of(content):
    subject = content.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0]
    return subject.decode()


def check_store(store, users, clients):
    attempted = set().union(*(c.attempted for c in clients))
    index = {}
    for user in users:
        msgs = store.messages(user)
        uids = [m["uid"] for m in msgs]
        assert uids == sorted(set(uids)), "UIDs not strictly increasing"
        total = 0
        for m in msgs:
            data = store.message_file(user, m["uid"])
            assert m["size"] == len(data)
            assert m["guid"] == hashlib.sha256(data).hexdigest()
            # nothing but what the clients sent (acked or in flight)
            assert token_of(strip_trace(data)) in attempted
            total += len(data)
            index[(user, m["uid"])] = data
        box = store.mailboxes(user)["INBOX"]
        assert box["messages"] == len(msgs)
        assert box["bytes"] == total
        assert box["uidnext"] > (uids[-1] if uids else 0)
        q = store.quota(user)
        assert q["messages_used"] == len(msgs)
        assert q["bytes_used"] == total
    acked = 0
    for c in clients:
        last = {}
        for user, uid, token, msg in c.acked:
            data = index.get((user, uid))
            assert data is not None, "acknowledged %s uid %d lost" % (
                token, uid)
            assert strip_trace(data) == msg, "uid %d of %s differs" % (
                uid, user)
            # one client's acknowledged UIDs only go up (no reuse after a
            # crash)
            assert uid > last.get(user, 0)
            last[user] = uid
            acked += 1
    return acked


def test_sigkill_loses_nothing_acknowledged(store_factory):
    st = store_factory(listen=("lmtp",))
    users = [st.add_user("crash%d@example.com" % i)[0] for i in range(CLIENTS)]
    stop = threading.Event()
    clients = [Client(i, st, users, stop) for i in range(CLIENTS)]
    rnd = random.Random(7)
    started = time.monotonic()
    for c in clients:
        c.start()
    kills = 0
    try:
        for _ in range(ROUNDS):
            time.sleep(rnd.uniform(1.5, 2.5))
            st.kill()
            kills += 1
            time.sleep(rnd.uniform(0, 0.2))
            st.start()
    finally:
        time.sleep(1.0)
        stop.set()
        for c in clients:
            c.join(30)
    acked = check_store(st, users, clients)
    print("acknowledged=%d attempted=%d reconnects=%d" % (
        acked, sum(len(c.attempted) for c in clients),
        sum(c.errors for c in clients)))
    assert kills == ROUNDS
    assert acked > 50, "too few deliveries to mean anything: %d" % acked
    # every client lived through the kills
    assert all(c.acked for c in clients)
    # a clean restart changes nothing, and the spool is empty
    assert st.stop() == 0
    st.start()
    assert check_store(st, users, clients) == acked
    assert os.listdir(os.path.join(st.data_dir, "tmp")) == []
    assert time.monotonic() - started < 60
