"""Helpers for the Sieve tests: a raw ManageSieve client (RFC 5804) and a
small SMTP sink that records what the store sends through sieve_relay.

    ms = ManageSieve(port)              # reads the greeting capabilities
    ms.starttls()                       # capabilities again (unless legacy)
    ms.auth_plain(user, password)
    ms.cmd('PUTSCRIPT "a" {%d+}\\r\\n%s' % ...) -> Resp(word, code, text, lines)
    ms.put(name, script), ms.activate(name), ms.list()

    sink = SmtpSink(); sink.start()     # sink.port; sink.messages (list of
                                        # dicts: from, rcpts, data bytes)
    sink.wait(n, timeout)               # until n messages arrived
"""

import base64
import re
import socket
import ssl
import threading
import time


class Resp:
    def __init__(self, word, code, text, lines):
        self.word, self.code, self.text, self.lines = word, code, text, lines

    @property
    def ok(self):
        return self.word == "OK"

    def __repr__(self):
        return "Resp(%s, %r, %r, %r)" % (self.word, self.code, self.text,
                                         self.lines)


class ManageSieve:
    def __init__(self, port, timeout=10, unix=None):
        if unix is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port),
                                                 timeout=timeout)
        self.buf = b""
        self.caps = self.read_caps()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; buffer %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def readn(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed in literal")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def _string(self, rest):
        """Parses a quoted string or literal at the start of rest."""
        rest = rest.strip()
        m = re.match(rb'^\{(\d+)\+?\}$', rest)
        if m:
            return self.readn(int(m.group(1))).decode("utf-8", "replace")
        if rest.startswith(b'"'):
            out, i = [], 1
            while i < len(rest) and rest[i:i + 1] != b'"':
                if rest[i:i + 1] == b"\\":
                    i += 1
                out.append(rest[i:i + 1])
                i += 1
            return b"".join(out).decode("utf-8", "replace")
        return rest.decode("utf-8", "replace") if rest else None

    def response(self):
        """Reads data lines up to OK/NO/BYE."""
        lines = []
        while True:
            line = self.readline()
            m = re.match(rb'^(OK|NO|BYE)( \(([^)]*)\))?(.*)$', line,
                         re.I)
            if m:
                code = m.group(3).decode() if m.group(3) else None
                text = self._string(m.group(4))
                return Resp(m.group(1).decode().upper(), code, text, lines)
            lit = re.match(rb'^\{(\d+)\+?\}$', line)
            if lit:
                lines.append(self.readn(int(lit.group(1))))
                continue
            lines.append(line)

    def challenge(self):
        """A server challenge (quoted or literal): the decoded string, or
        None when the line is a final response (pushed back)."""
        line = self.readline()
        m = re.match(rb'^\{(\d+)\}$', line)
        if m:
            data = self.readn(int(m.group(1)))
            assert self.readline() == b""
            return data.decode()
        if line.startswith(b'"'):
            return self._string(line)
        self.buf = line + b"\r\n" + self.buf
        return None

    def read_caps(self):
        r = self.response()
        caps = {}
        for line in r.lines:
            m = re.match(rb'^"([^"]*)"(?: "([^"]*)")?$', line)
            assert m, "capability line not quoted: %r" % line
            caps[m.group(1).decode()] = (m.group(2) or b"").decode()
        self.last = r
        return caps

    def cmd(self, text):
        self.send(text if isinstance(text, bytes) else text + "\r\n")
        return self.response()

    def starttls(self, expect_caps=True):
        r = self.cmd("STARTTLS")
        assert r.ok, r
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        if expect_caps:
            self.caps = self.read_caps()

    def auth_plain(self, user, password, authzid=""):
        ir = base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                              .encode()).decode()
        return self.cmd('AUTHENTICATE "PLAIN" "%s"' % ir)

    @staticmethod
    def literal(data):
        if isinstance(data, str):
            data = data.encode()
        return b"{%d+}\r\n" % len(data) + data

    def put(self, name, script):
        return self.cmd(b'PUTSCRIPT "' + name.encode() + b'" ' +
                        self.literal(script) + b"\r\n")

    def check(self, script):
        return self.cmd(b"CHECKSCRIPT " + self.literal(script) + b"\r\n")

    def activate(self, name):
        return self.cmd('SETACTIVE "%s"' % name)

    def list(self):
        r = self.cmd("LISTSCRIPTS")
        assert r.ok, r
        out = {}
        for line in r.lines:
            m = re.match(rb'^"((?:[^"\\]|\\.)*)"( ACTIVE)?$', line)
            assert m, line
            name = re.sub(rb"\\(.)", rb"\1", m.group(1))
            out[name.decode()] = bool(m.group(2))
        return out


def upload(port, user, password, name, script, activate=True):
    """Logs in (STARTTLS first), uploads and activates a script."""
    ms = ManageSieve(port)
    ms.starttls()
    r = ms.auth_plain(user, password)
    assert r.ok, r
    r = ms.put(name, script)
    assert r.ok, r
    if activate:
        r = ms.activate(name)
        assert r.ok, r
    ms.cmd("LOGOUT")
    ms.close()


class SmtpSink:
    """Accepts SMTP on 127.0.0.1 and records every message."""

    def __init__(self, reject_rcpt=None):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.messages = []
        self.reject_rcpt = reject_rcpt
        self.cv = threading.Condition()
        self.stop_flag = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag = True
        try:
            self.lsock.close()
        except OSError:
            pass

    def wait(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cv:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
            return list(self.messages)

    def _serve(self):
        while not self.stop_flag:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(c,),
                             daemon=True).start()

    def _session(self, c):
        f = c.makefile("rb")
        c.settimeout(20)

        def say(s):
            c.sendall(s.encode() + b"\r\n")
        try:
            say("220 sink ESMTP")
            mail, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode("utf-8", "replace").strip()
                up = cmd.upper()
                if up.startswith("EHLO") or up.startswith("HELO"):
                    say("250-sink\r\n250 8BITMIME")
                elif up.startswith("MAIL FROM:"):
                    mail = cmd[10:].strip().strip("<>")
                    rcpts = []
                    say("250 ok")
                elif up.startswith("RCPT TO:"):
                    addr = cmd[8:].strip().strip("<>")
                    if self.reject_rcpt and addr == self.reject_rcpt:
                        say("550 no")
                        continue
                    rcpts.append(addr)
                    say("250 ok")
                elif up == "DATA":
                    say("354 go")
                    data = b""
                    while True:
                        l2 = f.readline()
                        if not l2 or l2 == b".\r\n":
                            break
                        if l2.startswith(b"."):
                            l2 = l2[1:]
                        data += l2
                    with self.cv:
                        self.messages.append({"from": mail,
                                              "rcpts": rcpts,
                                              "data": data})
                        self.cv.notify_all()
                    say("250 queued")
                elif up == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")
        except OSError:
            return
        finally:
            c.close()
