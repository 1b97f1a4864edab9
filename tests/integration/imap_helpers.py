"""Helpers for the IMAP integration tests: a store with IMAP listeners (the
conftest's store_factory binds any protocol named in listen=; names ending
in "s" get implicit TLS), imaplib logins, a raw line client for bad input,
and an LMTP delivery shortcut."""

import imaplib
import socket
import ssl
import time

import pytest

from lmtp_helpers import RawLmtp, make_msg  # noqa: F401  (re-exported)


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ImapEnv:
    def __init__(self, st):
        self.st = st

    @property
    def port(self):
        return self.st.port("imap")

    @property
    def tls_port(self):
        return self.st.port("imaps")

    def connect(self):
        return imaplib.IMAP4("127.0.0.1", self.port, timeout=30)

    def connect_tls(self):
        return imaplib.IMAP4_SSL("127.0.0.1", self.tls_port,
                                 ssl_context=client_tls_context(), timeout=30)

    def login(self, user, tls=False):
        m = self.connect_tls() if tls else self.connect()
        typ, _ = m.login(user[0], user[1])
        assert typ == "OK"
        return m

    def deliver(self, rcpt, msg):
        c = RawLmtp(port=self.st.port("lmtp"))
        c.cmd("LHLO test")
        assert c.cmd("MAIL FROM:<sender@example.org>").code == 250
        assert c.cmd("RCPT TO:<%s>" % rcpt).code == 250
        assert c.cmd("DATA").code == 354
        from lmtp_helpers import stuff
        c.send(stuff(msg))
        r = c.reply()
        assert r.code == 250, r
        c.cmd("QUIT")
        c.close()


class RawImap:
    """An IMAP connection at the byte level: send anything, read lines."""

    def __init__(self, port, tls=False, timeout=10):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(262144)
            if not chunk:
                rest, self.buf = self.buf, b""
                self.eof = True
                return rest
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_bytes(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(262144)
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until_tagged(self, tag):
        """Lines up to and including the tagged reply of tag."""
        if isinstance(tag, str):
            tag = tag.encode()
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" ") or self.eof:
                return lines

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until_tagged(tag)

    def login(self, user):
        lines = self.cmd("L", "LOGIN %s %s" % (user[0], user[1]))
        assert lines[-1].startswith(b"L OK"), lines
        return lines

    def wait_for(self, pred, timeout):
        """Reads lines until pred(line) or timeout; returns (line, secs)."""
        t0 = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self.line()
                if pred(line):
                    return line, time.monotonic() - t0
                if self.eof:
                    return None, time.monotonic() - t0
        except socket.timeout:
            return None, time.monotonic() - t0
        finally:
            self.sock.settimeout(10)

    def close(self):
        self.sock.close()


@pytest.fixture
def imap_env(store_factory):
    return ImapEnv(store_factory(listen=("lmtp", "imap", "imaps")))


@pytest.fixture
def imap_user(imap_env):
    return imap_env.st.add_user("alice@example.com", "pw-alice")


@pytest.fixture
def imap_user2(imap_env):
    return imap_env.st.add_user("bob@example.com", "pw-bob")


def fill_by_copy(r, n):
    """Doubles INBOX by COPY (hard links) until it holds n messages."""
    have = int([l for l in r.cmd("s", "SELECT INBOX")
                if l.endswith(b" EXISTS")][0].split()[1])
    seen = have
    while have < n:
        k = min(have, n - have)
        lines = r.cmd("c", "COPY 1:%d INBOX" % k)
        assert lines[-1].startswith(b"c OK"), lines[-1]
        have += k
        seen = max([seen] + [int(l.split()[1]) for l in lines
                             if l.endswith(b" EXISTS")])
    seen = max([seen] + [int(l.split()[1]) for l in r.cmd("n", "NOOP")
                         if l.endswith(b" EXISTS")])
    assert seen == n
