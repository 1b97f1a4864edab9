"""Helpers for test_security.py: TLS probes with real clients (openssl
s_client and Python's ssl), SASL PLAIN strings, wall-time measurement and
the log line grammar of the Standards ("one event per line, key=value")."""

import base64
import os
import re
import socket
import ssl
import subprocess
import time

# "<timestamp> rookery-store[pid]: level=info key=value key="quoted \" value""
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def log_line_re(program):
    return re.compile(r"^%s %s\[\d+\]: level=\w+"
                      r"( [a-z_]+=(\S+|\"([^\"\\]|\\.)*\"))+$"
                      % (TIMESTAMP, re.escape(program)))


def bad_log_lines(text, program):
    """Lines of a daemon's log that break the grammar.  The "=== start"
    lines conftest writes are not the daemon's."""
    rx = log_line_re(program)
    return [line for line in text.splitlines()
            if line and not line.startswith("=== start")
            and not rx.match(line)]


# --- TLS ---------------------------------------------------------------------

S_CLIENT_FLAGS = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2",
                  "1.3": "-tls1_3"}
PY_VERSIONS = {"1.0": "TLSv1", "1.1": "TLSv1_1", "1.2": "TLSv1_2",
               "1.3": "TLSv1_3"}


def s_client(port, version, starttls=None, timeout=20):
    """openssl s_client forced to one protocol version (the client's own
    floor lowered with @SECLEVEL=0, so that a refusal is the server's).
    Returns (handshake completed, protocol line, whole output)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            S_CLIENT_FLAGS[version], "-cipher", "DEFAULT:@SECLEVEL=0",
            "-servername", "localhost"]
    if starttls:
        argv += ["-starttls", starttls]
    p = subprocess.run(argv, input=b"", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode(errors="replace")
    # s_client prints "New, TLSv1.2, Cipher is ..." once the handshake
    # finished, "New, (NONE), Cipher is (NONE)" when it did not.
    m = re.search(r"^New, (TLSv1\.[0-3]), Cipher is ", out, re.M)
    proto = m.group(1) if m else None
    return m is not None, proto, out


def py_tls_context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    v = getattr(ssl.TLSVersion, PY_VERSIONS[version])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = v
        ctx.maximum_version = v
    return ctx


def py_handshake(sock, version):
    """Wraps a connected socket with exactly one TLS version.  Returns
    (negotiated version or None, error text)."""
    try:
        t = py_tls_context(version).wrap_socket(sock)
        v = t.version()
        t.close()
        return v, ""
    except (ssl.SSLError, OSError) as e:
        sock.close()
        return None, str(e)


def pop3_stls_socket(port, timeout=10):
    """A plain POP3 connection that has sent STLS and got +OK."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"STLS\r\n")
    line = f.readline()
    assert line.startswith(b"+OK"), line
    f.close()  # the socket stays open (makefile holds a reference only)
    return s


# --- SASL ----------------------------------------------------------------------

def plain_b64(authcid, password, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, authcid, password))
                            .encode()).decode()


# --- timing ------------------------------------------------------------------

def timed(fn, *args):
    t0 = time.monotonic()
    r = fn(*args)
    return r, time.monotonic() - t0


def proc_status(pid):
    """/proc/PID/status as {key: value}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def wait_exit(proc, timeout=15):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)
