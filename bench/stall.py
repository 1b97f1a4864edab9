#!/usr/bin/env python3
"""What one user's big command costs everyone else on the same server.

Usage: stall.py PORT POP3PORT USER OTHER PASSWORD LABEL

USER's INBOX holds the messages to work on (filled beforehand).  While
USER runs, one after the other, STORE 1:* +FLAGS \\Seen, COPY 1:* to a new
mailbox, SEARCH BODY for a word no message has, SORT (SUBJECT) and THREAD
REFERENCES of the messages without that word (all of them), MOVE 1:*
back from that mailbox, a POP3 QUIT that deletes the first half of the
INBOX (the DELEs beforehand are not timed), DELETE of a mailbox holding a
copy of the rest (the COPY not timed) and EXPUNGE of the rest, a second
connection logged in as OTHER sends NOOP every 10 ms.  One key=value line per
command: how long it took, its result, and the longest NOOP OTHER waited
for meanwhile (the stall).  Bounded: each command is waited for at most 600 s."""

import imaplib
import socket
import sys
import threading
import time

port, pop3_port = int(sys.argv[1]), int(sys.argv[2])
user, other, pw, label = sys.argv[3:7]


class Pop3:
    """POP3 with the DELEs pipelined, 1,000 at a time."""

    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", pop3_port),
                                             timeout=600)
        self.f = self.sock.makefile("rb")
        self.ok()
        for cmd in ("USER " + user, "PASS " + pw):
            self.sock.sendall(cmd.encode() + b"\r\n")
            self.ok()

    def ok(self):
        line = self.f.readline()
        if not line.startswith(b"+OK"):
            raise RuntimeError("POP3: %r" % line)
        return line

    def dele(self, first, last):
        for a in range(first, last + 1, 1000):
            b = min(a + 999, last)
            self.sock.sendall(b"".join(b"DELE %d\r\n" % i
                                       for i in range(a, b + 1)))
            for _ in range(a, b + 1):
                self.ok()

    def quit(self):
        self.sock.sendall(b"QUIT\r\n")
        self.ok()
        self.sock.close()
        return ("OK",)


class Probe(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.c = imaplib.IMAP4("127.0.0.1", port, timeout=600)
        self.c.login(other, pw)
        self.c.select("INBOX")
        self.stop = False
        self.worst = 0.0
        self.lock = threading.Lock()

    def run(self):
        while not self.stop:
            t = time.monotonic()
            self.c.noop()
            with self.lock:
                self.worst = max(self.worst, time.monotonic() - t)
            time.sleep(0.01)

    def take(self):
        with self.lock:
            w, self.worst = self.worst, 0.0
        return w


def main():
    c = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    c.login(user, pw)
    n = int(c.select("INBOX")[1][0])
    c.create("Stall")
    probe = Probe()
    probe.start()
    time.sleep(0.3)
    def nothing():
        pass

    def deleted():
        c.select("INBOX")
        c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")

    def full_mailbox():
        c.select("INBOX")
        c.create("Gone")
        c.copy("1:*", "Gone")

    pop = []

    def pop3_deles():
        pop.append(Pop3())
        pop[0].dele(1, n)

    # (command, messages, untimed preparation, the command)
    steps = [
        ("STORE", n, nothing,
         lambda: c.store("1:*", "+FLAGS.SILENT", "(\\Seen)")),
        ("COPY", n, nothing, lambda: c.copy("1:*", "Stall")),
        ("SEARCH", n, nothing, lambda: c.search(None, "BODY", "zqxjkvw")),
        ("SORT", n, nothing,
         lambda: c.sort("(SUBJECT)", "UTF-8", "NOT", "BODY", "zqxjkvw")),
        ("THREAD", n, nothing,
         lambda: c.thread("REFERENCES", "UTF-8", "NOT", "BODY",
                          "zqxjkvw")),
        ("MOVE", n, lambda: c.select("Stall"),
         lambda: c._simple_command("MOVE", "1:*", "INBOX")),
        ("POP3_QUIT", n, pop3_deles, lambda: pop[0].quit()),
        ("DELETE", n, full_mailbox, lambda: c.delete("Gone")),
        ("EXPUNGE", n, deleted, lambda: c.expunge()),
    ]
    for name, count, prep, fn in steps:
        prep()
        # a NOOP held up by the preparation must not count for the command
        time.sleep(0.3)
        probe.take()
        t0 = time.monotonic()
        typ = fn()[0]
        secs = time.monotonic() - t0
        time.sleep(0.2)
        print("label=%s cmd=%s messages=%d secs=%.2f result=%s "
              "stall_ms=%d" % (label, name, count, secs, typ,
                               probe.take() * 1000))
        sys.stdout.flush()
    probe.stop = True
    probe.join(5)
    c.logout()


main()
