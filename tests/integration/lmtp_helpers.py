"""A byte-level LMTP client for the tests.

Python's smtplib.LMTP reads a single reply after DATA (bpo-32803), so
messages to several recipients, pipelining and bad input go through
RawLmtp, which reads RFC 2033's one-reply-per-recipient correctly.
"""

import socket


def stuff(msg):
    """Dot-stuffs msg (bytes with CRLF line ends) and appends the final
    dot (RFC 5321 4.5.2)."""
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    lines = msg.split(b"\r\n")[:-1]
    out = [b"." + l if l.startswith(b".") else l for l in lines]
    return b"\r\n".join(out) + b"\r\n.\r\n"


def make_msg(subject, body=b"hello\r\n", extra=b""):
    if isinstance(body, str):
        body = body.encode()
    return (b"From: Sender <sender@example.org>\r\n"
            b"To: Someone <someone@example.com>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.replace(" ", ".").encode() +
            b"@example.org>\r\n" + extra + b"\r\n" + body)


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return self.lines[-1] if self.lines else ""

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class RawLmtp:
    def __init__(self, port=None, unix=None, timeout=30):
        if unix is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port),
                                                 timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()

    def close(self):
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply."""
        lines = []
        while True:
            l = self.line()
            lines.append(l[4:])
            if len(l) < 4 or l[3] != "-":
                return Reply(int(l[:3]), lines)

    def cmd(self, text):
        self.send(text + "\r\n" if isinstance(text, str) else text + b"\r\n")
        return self.reply()

    def lhlo(self, name="client.test"):
        r = self.cmd("LHLO " + name)
        assert r.code == 250, r
        return r

    def closed(self, timeout=5):
        """True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def transaction(self, sender, rcpts, msg, params=""):
        """MAIL, RCPTs and DATA pipelined (RFC 2920), then every reply.
        Returns (mail_reply, [rcpt replies], data_reply or None,
        [per-recipient replies after the dot])."""
        cmds = "MAIL FROM:<%s>%s\r\n" % (sender, params)
        cmds += "".join("RCPT TO:<%s>\r\n" % r for r in rcpts)
        cmds += "DATA\r\n"
        self.send(cmds)
        mail = self.reply()
        rr = [self.reply() for _ in rcpts]
        data = self.reply()
        accepted = sum(1 for r in rr if r.code == 250)
        if data.code != 354:
            return mail, rr, data, []
        self.send(stuff(msg))
        finals = [self.reply() for _ in range(accepted)]
        return mail, rr, data, finals


def uid_of(reply):
    """The uid from a "250 2.1.5 <a> delivered id=X uid=N" reply."""
    for word in reply.text.split():
        if word.startswith("uid="):
            return int(word[4:])
    raise AssertionError("no uid in %r" % reply)
