"""Helpers for the mux integration tests: a shared user database, stores
that trust the mux, the routing directory (written the way `rookery route`
writes it: a new Berkeley DB file renamed into place), and the running
rookery-mux.

    platform = MuxPlatform(store_factory, tls_cert, tmpdir)
    ms1 = platform.store("ms1")            # started, trusts the mux
    platform.user("alice", ms1)            # sasldb + store + directory
    mux = platform.start_mux()             # listens on imap pop3 ... ports
    mux.port("pop3")
"""

import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import (BIN, SANITIZER_MARKS, _test_failed, free_port_number,
                      quote_arg)

PROXY_ID = "mux@rookery.internal"
PROXY_PW = "proxy-secret"
MUX_PROTOS = ("imap", "imaps", "pop3", "pop3s", "sieve", "lmtp")


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def saslpasswd(sasldb, addr, password):
    local, domain = addr.rsplit("@", 1)
    subprocess.run(["saslpasswd2", "-f", sasldb, "-p", "-c", "-u", domain,
                    local], input=password.encode(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _dbtext(s):
    return s.replace("\\", "\\\\")


def _route_cli():
    """The `rookery` binary when it has the route verb, else None."""
    exe = os.path.join(BIN, "rookery")
    if not os.path.exists(exe):
        return None
    r = subprocess.run([exe, "route", "--help"], capture_output=True)
    return exe if r.returncode == 0 else None


class Directory:
    """The embedded directory file.  Written with `rookery route` (which
    replaces the file atomically) when the CLI has it, else with db_load
    into a new file renamed into place: the same contract."""

    def __init__(self, path, sasldb):
        self.path = path
        self.users = {}
        self.stores = {}
        self.cli = _route_cli()
        self.conf = path + ".conf"
        with open(self.conf, "w") as f:
            f.write("[global]\nsasldb = %s\n[mux]\ndirectory = %s\n"
                    % (sasldb, path))

    def route(self, *args):
        subprocess.run([self.cli, "-q", "-c", self.conf, "route"]
                       + list(args), check=True, capture_output=True)

    def set_user(self, user, store):
        self.users[user] = store
        if self.cli:
            self.route("set", user, store)
        else:
            self.write()

    def set_store(self, name, up=True, **addrs):
        rec = ["state=%s" % ("up" if up else "down"), "role=primary"]
        args = ["store", name, "--up" if up else "--down"]
        for svc in ("imap", "pop3", "lmtp", "sieve"):
            if addrs.get(svc):
                rec.append("%s=%s" % (svc, addrs[svc].replace(" ", ",")))
                args += ["--" + svc, addrs[svc]]
        self.stores[name] = " ".join(rec)
        if self.cli:
            self.route(*args)
        else:
            self.write()

    def write(self):
        """Writes every record at once (one atomic replacement)."""
        lines = []
        items = [("u:" + u, s) for u, s in self.users.items()]
        items += [("s:" + n, r) for n, r in self.stores.items()]
        for k, v in sorted(items):
            lines += [_dbtext(k), _dbtext(v)]
        tmp = "%s.tmp.%d" % (self.path, os.getpid())
        if os.path.exists(tmp):
            os.unlink(tmp)
        subprocess.run(["db_load", "-T", "-t", "btree", tmp],
                       input=("\n".join(lines) + "\n").encode(), check=True)
        os.rename(tmp, self.path)


class Mux:
    def __init__(self, base, cert, sasldb, directory, settings, protos,
                 wrap=()):
        self.dir = base
        # a command the mux runs under (e.g. setpriv), exec'ing it: the
        # same process
        self.wrap = list(wrap)
        self.config_path = os.path.join(base, "rookery.conf")
        self.log_path = os.path.join(base, "mux.log")
        self.control_path = os.path.join(base, "mux-control.sock")
        self.lmtp_socket = os.path.join(base, "mux-lmtp.sock")
        self.ports = {p: free_port_number() for p in protos}
        self.proc = None
        self.settings = {
            "hostname": "mux.test",
            "allow_plaintext": "yes",
            "auth_fail_delay_ms": "50",
            "proxy_identity": PROXY_ID,
            "proxy_password": PROXY_PW,
            "directory": directory,
            "backend_timeout_ms": "2000",
            "directory_check_ms": "100",
        }
        self.settings.update({k: str(v) for k, v in settings.items()})
        lines = ["[global]", "log = stderr", "log_level = info",
                 "tls_cert = %s" % cert[0], "tls_key = %s" % cert[1],
                 "sasldb = %s" % sasldb, "", "[mux]"]
        for k, v in self.settings.items():
            lines.append("%s = %s" % (k, v))
        for proto, port in self.ports.items():
            tls = " tls" if proto in ("imaps", "pop3s") else ""
            lines.append("listen = %s 127.0.0.1:%d%s" % (proto, port, tls))
        lines.append("listen = lmtp unix:%s" % self.lmtp_socket)
        lines.append("listen = control unix:%s" % self.control_path)
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def port(self, proto):
        return self.ports[proto]

    def start(self):
        argv = self.wrap + [os.path.join(BIN, "rookery-mux"), "-c",
                            self.config_path]
        if os.environ.get("ROOKERY_DEBUG"):
            argv.append("-d")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()
        deadline = time.monotonic() + 20
        pending = dict(self.ports)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rookery-mux exited:\n" + self.log_text())
            for proto, port in list(pending.items()):
                try:
                    socket.create_connection(("127.0.0.1", port),
                                             timeout=1).close()
                    del pending[proto]
                except OSError:
                    pass
            if not pending:
                return
            time.sleep(0.05)
        raise RuntimeError("rookery-mux did not come up:\n" + self.log_text())

    def stop(self):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                return text[max(0, i - 200):i + 4000]
        return None

    def control(self, line="status"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.control_path)
            s.sendall(line.encode() + b"\n")
            buf, data = b"", []
            while True:
                while b"\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError("control closed")
                    buf += chunk
                raw, buf = buf.split(b"\n", 1)
                text = raw.decode()
                if text.startswith("* "):
                    data.append(text[2:])
                    continue
                return text, data

    def status(self):
        final, data = self.control("status")
        assert final.startswith("OK"), final
        out = {}
        for line in data:
            kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
            if "store" in kv and len(kv) == 2:
                out["store:" + kv["store"]] = int(kv["sessions"])
            else:
                out.update(kv)
        return out


class MuxPlatform:
    def __init__(self, store_factory, tls_cert):
        self.base = tempfile.mkdtemp(prefix="rkmux-")
        self.cert = tls_cert
        self.store_factory = store_factory
        self.sasldb = os.path.join(self.base, "sasldb2")
        saslpasswd(self.sasldb, PROXY_ID, PROXY_PW)
        self.directory = Directory(os.path.join(self.base, "directory.db"),
                                   self.sasldb)
        self.stores = {}
        self.muxes = []

    def store(self, name, listen=("lmtp", "pop3", "pop3s"), register=True,
              **settings):
        settings.setdefault("proxy_identities", PROXY_ID)
        st = self.store_factory(name=name, listen=listen,
                                sasldb=self.sasldb, **settings)
        self.stores[name] = st
        if register:
            self.register(st)
        return st

    def register(self, st, up=True):
        addrs = {}
        for proto in ("imap", "pop3", "lmtp", "sieve"):
            if proto in st.ports:
                addrs[proto] = "127.0.0.1:%d" % st.port(proto)
        self.directory.set_store(st.name, up=up, **addrs)

    def user(self, local, st, password=None):
        addr = local if "@" in local else local + "@example.com"
        password = password or "pw-" + local
        saslpasswd(self.sasldb, addr, password)
        st.control_ok("user-add %s" % quote_arg(addr))
        self.directory.set_user(addr, st.name)
        return addr, password

    def start_mux(self, protos=MUX_PROTOS, wrap=(), **settings):
        d = tempfile.mkdtemp(prefix="m", dir=self.base)
        mux = Mux(d, self.cert, self.sasldb, self.directory.path, settings,
                  protos, wrap)
        self.muxes.append(mux)
        mux.start()
        return mux

    def close(self, failed):
        problems = []
        for mux in self.muxes:
            mux.stop()
            if failed:
                print("\n===== mux log (%s) =====\n%s"
                      % (mux.log_path, mux.log_text()[-20000:]))
            rep = mux.sanitizer_report()
            if rep:
                problems.append("mux sanitizer report:\n" + rep)
        return problems


class Line:
    """A line-level client for any of the text protocols."""

    def __init__(self, port, tls=False, timeout=10, greeting=True,
                 unix=None):
        if unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(unix)
        else:
            sock = socket.create_connection(("127.0.0.1", port),
                                            timeout=timeout)
        if tls:
            sock = tls_ctx().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.greeting = self.line() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def until(self, prefix):
        """Lines up to and including the first starting with prefix."""
        out = []
        while True:
            line = self.line()
            out.append(line)
            if line.startswith(prefix.encode()) or line == b"":
                return out

    def starttls(self):
        self.sock = tls_ctx().wrap_socket(self.sock)
        self.buf = b""

    def closed(self, timeout=5):
        """True once the peer has closed (reads what is left)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class FakeSieveStore:
    """A minimal ManageSieve listener standing in for a store's (RFC 5804):
    greeting, AUTHENTICATE "PLAIN" (checks that the mux authenticates as
    the proxy identity with the user as authzid), LISTSCRIPTS, LOGOUT."""

    def __init__(self):
        import threading
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.logins = []
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        import threading
        while not self.stopping:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(s)
            threading.Thread(target=self.serve, args=(s,),
                             daemon=True).start()

    def serve(self, s):
        f = s.makefile("rb")
        try:
            s.sendall(b'"IMPLEMENTATION" "fake"\r\n"SASL" "PLAIN"\r\n'
                      b'"SIEVE" "fileinto"\r\n"VERSION" "1.0"\r\nOK\r\n')
            user = None
            for raw in f:
                line = raw.rstrip(b"\r\n")
                if line.upper().startswith(b'AUTHENTICATE "PLAIN" "'):
                    b64 = line.split(b'"')[3]
                    authz, authc, pw = base64_decode(b64).split(b"\0")
                    ok = authc == PROXY_ID.encode() and \
                        pw == PROXY_PW.encode()
                    if ok:
                        user = authz.decode()
                        self.logins.append(user)
                        s.sendall(b"OK\r\n")
                    else:
                        s.sendall(b'NO "bad proxy login"\r\n')
                elif line.upper() == b"LISTSCRIPTS" and user:
                    s.sendall(b'"%s-script" ACTIVE\r\nOK\r\n'
                              % user.encode())
                elif line.upper() == b"LOGOUT":
                    s.sendall(b'OK "bye"\r\n')
                    break
                else:
                    s.sendall(b'NO "fake store"\r\n')
        except OSError:
            pass
        finally:
            s.close()

    def close(self):
        self.stopping = True
        self.srv.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def base64_decode(b):
    import base64
    return base64.b64decode(b)


# A MuxPlatform per test, closed (and its logs checked) at the end: tests
# import it with "from mux_helpers import plat".
@pytest.fixture
def plat(request, store_factory, tls_cert):
    p = MuxPlatform(store_factory, tls_cert)
    yield p
    problems = p.close(_test_failed(request))
    if problems:
        pytest.fail("\n".join(problems))


# Polls cond() every 50 ms until it holds or timeout seconds pass.
def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
