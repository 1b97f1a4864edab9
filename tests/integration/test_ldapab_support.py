"""Shared helpers for the ldapab integration tests (no tests here).

A real rookery-ldapab on free 127.0.0.1 ports in a temporary directory,
provisioned with `rookery ab` like the demo platform:

    account example: alice@example.com (full management), bob@example.com
    account other:   carol@other.org (full management)
    passwords: "demo" for the three mailboxes, "acct" for account example

Environment: ROOKERY_BIN (directory of the built programs);
ROOKERY_AB_TOOL overrides the command used for `rookery ab` (a program
that takes the ab verb's arguments).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SUFFIX = "dc=example,dc=net"
BIN = os.environ.get("ROOKERY_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")


def book(name):
    return "ou=%s,ou=ab,%s" % (name, SUFFIX)


def bind_dn(name):
    return "cn=%s,ou=auth,%s" % (name, SUFFIX)


def free_port():
    from conftest import free_port_number
    return free_port_number()


def ab_command():
    tool = os.environ.get("ROOKERY_AB_TOOL")
    if tool:
        return [tool]
    return [os.path.join(BIN, "rookery"), "ab"]


class LdapServer:
    def __init__(self, tls_cert, **settings):
        self.dir = tempfile.mkdtemp(prefix="rk-ldap-")
        self.port = free_port()
        self.ldaps_port = free_port()
        self.config = os.path.join(self.dir, "rookery.conf")
        self.log_path = os.path.join(self.dir, "ldapab.log")
        lines = ["[ldapab]", "suffix = " + SUFFIX,
                 "data_dir = " + os.path.join(self.dir, "data"),
                 "listen = ldap 127.0.0.1:%d" % self.port,
                 "listen = ldaps 127.0.0.1:%d tls" % self.ldaps_port,
                 "tls_cert = " + tls_cert[0], "tls_key = " + tls_cert[1]]
        # Most tests bind over plain ldap:// and try wrong passwords on
        # purpose: allow that and skip the failure delay unless a test
        # asks (test_security.py checks both defaults' effects).
        settings = dict({"allow_plaintext": "yes",
                         "auth_fail_delay_ms": "0"}, **settings)
        lines += ["%s = %s" % kv for kv in settings.items()]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    @property
    def uri(self):
        return "ldap://127.0.0.1:%d" % self.port

    @property
    def ldaps_uri(self):
        return "ldaps://127.0.0.1:%d" % self.ldaps_port

    def ab(self, *args, input=None, check=True):
        r = subprocess.run(ab_command() + ["-c", self.config] + list(args),
                           input=input, capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("rookery ab %s: %s%s" % (
                " ".join(args), r.stdout, r.stderr))
        return r

    def provision(self):
        self.ab("add-account", "example")
        self.ab("add-mailbox", "alice@example.com", "--account", "example",
                "--manage")
        self.ab("add-mailbox", "bob@example.com", "--account", "example")
        self.ab("add-mailbox", "carol@other.org", "--account", "other",
                "--manage")
        for who in ("alice@example.com", "bob@example.com",
                    "carol@other.org"):
            self.ab("passwd", who, input="demo\n")
        self.ab("passwd", "example", input="acct\n")

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "rookery-ldapab"), "-c", self.config],
            stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError("ldapab died:\n" + self.log_text())
                time.sleep(0.05)
        raise AssertionError("ldapab did not start:\n" + self.log_text())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        if not os.environ.get("ROOKERY_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def make_server(tls_cert, **settings):
    srv = LdapServer(tls_cert, **settings)
    srv.provision()
    srv.start()
    return srv


def finish_server(srv):
    text = srv.log_text()
    alive = srv.alive()
    srv.cleanup()
    assert "AddressSanitizer" not in text and "runtime error" not in text \
        and "LeakSanitizer" not in text, \
        text[-4000:]
    assert alive, "ldapab exited during the tests:\n" + text[-4000:]


def ldap_tool(srv, tool, *args, who=None, pw="demo", input=None, env=None):
    """Runs an ldap-utils program; returns CompletedProcess."""
    cmd = [tool, "-x", "-H", srv.uri]
    if who is not None:
        cmd += ["-D", who if "=" in who else bind_dn(who), "-w", pw]
    e = dict(os.environ)
    e["LDAPTLS_REQCERT"] = "never"
    e.update(env or {})
    return subprocess.run(cmd + list(args), input=input, capture_output=True,
                          text=True, timeout=30, env=e)


def ldif_dns(text):
    """The DNs in LDIF output (unfolded; base64 DNs decoded)."""
    import base64
    out, cur = [], None
    lines = text.replace("\n ", "").splitlines()
    for l in lines:
        if l.startswith("dn:: "):
            out.append(base64.b64decode(l[5:]).decode())
        elif l.startswith("dn: "):
            out.append(l[4:])
    return out


# --- a minimal BER encoder for hand-made requests ------------------------

def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + ber_len(len(content)) + content


def ber_int(v, tag=0x02):
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(tag, v.to_bytes(n, "big", signed=True))


def ber_str(s, tag=0x04):
    return tlv(tag, s.encode() if isinstance(s, str) else s)


def ber_bool(v, tag=0x01):
    return tlv(tag, b"\xff" if v else b"\x00")


def ber_seq(*items, tag=0x30):
    return tlv(tag, b"".join(items))


def ldap_msg(msgid, op, controls=None):
    parts = [ber_int(msgid), op]
    if controls:
        parts.append(ber_seq(*controls, tag=0xa0))
    return ber_seq(*parts)


def simple_bind(msgid, dn, pw):
    return ldap_msg(msgid, ber_seq(ber_int(3), ber_str(dn),
                                   ber_str(pw, 0x80), tag=0x60))


def search_req(msgid, base, flt, scope=2, attrs=(), size=0, controls=None):
    op = ber_seq(ber_str(base), ber_int(scope, 0x0a), ber_int(0, 0x0a),
                 ber_int(size), ber_int(0), ber_bool(False), flt,
                 ber_seq(*[ber_str(a) for a in attrs]), tag=0x63)
    return ldap_msg(msgid, op, controls)


def present(attr):
    return ber_str(attr, 0x87)


def ber_read(buf, pos=0):
    """Decodes one TLV at pos: (tag, content, next_pos) or None."""
    if len(buf) < pos + 2:
        return None
    tag, l = buf[pos], buf[pos + 1]
    pos += 2
    if l & 0x80:
        n = l & 0x7f
        if len(buf) < pos + n:
            return None
        l = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if len(buf) < pos + l:
        return None
    return tag, buf[pos:pos + l], pos + l


def ber_items(content):
    out, pos = [], 0
    while pos < len(content):
        tag, c, pos = ber_read(content, pos)
        out.append((tag, c))
    return out


class RawClient:
    """A socket that sends hand-made PDUs and reads LDAPMessages."""

    def __init__(self, srv, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv_msg(self):
        """(msgid, op_tag, op_content, controls_content) or None at EOF."""
        while True:
            r = ber_read(self.buf)
            if r is not None:
                tag, content, nxt = r
                self.buf = self.buf[nxt:]
                items = ber_items(content)
                msgid = int.from_bytes(items[0][1], "big", signed=True)
                ctrls = items[2][1] if len(items) > 2 else None
                return msgid, items[1][0], items[1][1], ctrls
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                data = b""
            if not data:
                return None
            self.buf += data

    def result_code(self):
        m = self.recv_msg()
        if m is None:
            return None
        return ber_items(m[2])[0][1][0], m

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def ldap_server(tls_cert):
    srv = make_server(tls_cert)
    yield srv
    finish_server(srv)
