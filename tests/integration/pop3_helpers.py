"""Helpers for the POP3 integration tests: a raw line client for bad input,
and runners for the stock clients (curl, fetchmail)."""

import os
import socket
import ssl
import subprocess
import time


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RawPop3:
    """A POP3 connection at the byte level: send anything, read lines."""

    def __init__(self, host, port, tls=False, timeout=10):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf, self.pos = bytearray(), 0
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """One reply line without CRLF; b"" at EOF."""
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                if self.pos > (1 << 20):
                    del self.buf[:self.pos]
                    self.pos = 0
                return line
            chunk = self.sock.recv(262144)
            if not chunk:
                rest = bytes(self.buf[self.pos:])
                self.buf, self.pos = bytearray(), 0
                return rest
            self.buf += chunk

    def pending(self):
        return len(self.buf) - self.pos

    def cmd(self, text):
        self.send(text + "\r\n" if isinstance(text, str) else text + b"\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line reply, dot-unstuffed, as lines."""
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            if line == b"" and not self.pending():
                raise EOFError("connection closed inside a multi-line reply")
            if line.startswith(b".."):
                line = line[1:]
            lines.append(line)

    def starttls(self):
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf, self.pos = bytearray(), 0

    def login(self, user, password):
        assert self.cmd("USER " + user).startswith(b"+OK")
        reply = self.cmd("PASS " + password)
        assert reply.startswith(b"+OK"), reply
        return reply

    def closed(self, timeout=5):
        """True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def curl(args, timeout=60):
    """Runs curl; returns (returncode, stdout bytes, stderr text)."""
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout)] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout + 10)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


SAVE_SCRIPT = """import os, sys, time
d = sys.argv[1]
data = sys.stdin.buffer.read()
name = os.path.join(d, "%d.%d.eml" % (time.time_ns(), os.getpid()))
with open(name, "wb") as f:
    f.write(data)
"""


def run_fetchmail(workdir, host, port, user, password, mode="plain",
                  keep=False, uidl=False, auth="any", timeout=120):
    """Runs fetchmail once (no daemon) against host:port.

    mode: "plain" (no TLS), "ssl" (implicit TLS), "stls" (STLS required).
    auth: fetchmail's choice ("any": the strongest SASL mechanism offered;
    "password": USER/PASS).
    Each message goes to its own file in workdir/out through an MDA.
    Returns (returncode, output text, sorted list of message bytes)."""
    out = os.path.join(workdir, "out")
    home = os.path.join(workdir, "home")
    os.makedirs(out, exist_ok=True)
    os.makedirs(home, exist_ok=True)
    script = os.path.join(workdir, "save.py")
    with open(script, "w") as f:
        f.write(SAVE_SCRIPT)
    opts = []
    if mode == "ssl":
        opts.append("ssl no sslcertck")
    elif mode == "stls":
        opts.append("sslproto 'auto' no sslcertck")
    else:
        opts.append("sslproto '' no sslcertck")
    opts.append("keep" if keep else "no keep")
    opts.append("fetchall" if not uidl else "")
    rc = os.path.join(workdir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write(
            "set no bouncemail\n"
            "set no syslog\n"
            "set invisible\n"
            'set idfile "%s"\n'
            "poll %s with proto POP3 port %d auth %s %s\n"
            '  user "%s" there with password "%s" is "nobody" here\n'
            '  options %s\n'
            '  mda "/usr/bin/python3 %s %s"\n'
            % (os.path.join(home, ".fetchids"), host, port, auth,
               "uidl" if uidl else "no uidl", user, password,
               " ".join(o for o in opts if o), script, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=home)
    # As root fetchmail locks /var/run/fetchmail.pid: keep runs apart.
    p = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "-v",
                        "--pidfile", os.path.join(home, "fetchmail.pid")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=timeout)
    msgs = []
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name), "rb") as f:
            msgs.append(f.read())
    return p.returncode, p.stdout.decode(errors="replace"), msgs


def wait_for(pred, timeout=10, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
