"""Shared fixtures for Rookery's integration tests: real daemons on free
127.0.0.1 ports in a temporary directory.

Environment
    ROOKERY_BIN      directory holding rookery-store (and rookery); default
                     build/bin of the work tree.
    ROOKERY_DEBUG=1  start daemons with -d (protocol detail in the logs).
    ROOKERY_KEEP=1   keep the temporary directories of stores.

Fixtures
    free_port()         function: returns a free TCP port on 127.0.0.1.
    tls_cert            (cert_path, key_path): a self-signed certificate
                        (openssl req, CN/SAN localhost + 127.0.0.1), made
                        once per session.
    store_factory       function: store_factory(name="ms1", listen=..., **settings)
                        writes a config and returns a *started* Store.
                        listen: protocols to bind on TCP, default
                        ("lmtp", "pop3", "pop3s"); an LMTP Unix socket and
                        the control socket are always added.  settings are
                        extra "key = value" lines of the [store NAME]
                        section (e.g. max_message_size="1M",
                        allow_plaintext="no", quota_tempfail="yes").
                        Every store is stopped at the end of the test; its
                        log is printed when the test failed, and the test
                        errors if the log shows a sanitizer report.
    store               one started store with the defaults below.
    make_user           function: make_user(local="alice", password=None,
                        on=None, quota_bytes=0, quota_messages=0)
                        -> (address, password): a user in sasldb and in
                        the store, on `store` unless on= names another.
                        local without '@' gets "@example.com".

Default settings: hostname rookery.test, allow_plaintext yes,
auth_fail_delay_ms 100, max_message_size 30M, log_level info.

Store (the object)
    .name .dir .data_dir .config_path .sasldb .log_path
    .port(proto)            TCP port of "lmtp", "pop3", "pop3s"
    .lmtp_socket            path of the LMTP Unix socket
    .control_path           path of the control socket
    .pid                    daemon pid (None when stopped)
    .start() .stop() .kill() .restart()   stop: SIGTERM, SIGKILL after 5 s
    .control(line) -> (ok, data_lines, final_line)   docs/control-protocol.md
    .add_user(addr, password, quota_bytes=0, quota_messages=0)
    .set_password(addr, password)           sasldb only
    .mailboxes(user) -> {name: {messages, bytes, uidvalidity, uidnext,
                                highestmodseq, id}}
    .messages(user, mailbox="INBOX") -> [{uid, size, modseq, flags,
                                          internaldate, guid}]
    .message_file(user, uid, mailbox="INBOX") -> bytes of the stored file
    .quota(user) -> {bytes_used, bytes_limit, messages_used, messages_limit}
    .status() -> {key: value}
    .log_text() -> str

Helpers (import from conftest)
    strip_trace(stored) -> the message as the client sent it: the leading
                           Return-Path and Received fields removed.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("ROOKERY_BIN", os.path.join(ROOT, "build", "bin"))
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer", "ThreadSanitizer")


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_issued_ports = set()


def free_port_number():
    """A port for a listener: below the ephemeral range, so that none of
    the thousands of outgoing connections a run makes can be holding it
    when the daemon binds it (a port the kernel hands out for bind(0) is
    an ephemeral one), and never the same one twice in a run."""
    hi = min(_ephemeral_low(), 32768)
    lo = max(hi - 12000, 1024)
    for _ in range(500):
        port = random.randrange(lo, hi)
        if port in _issued_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _issued_ports.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def strip_trace(stored):
    """Removes the trace fields the store prepends (Return-Path, then one
    Received field with its continuation lines)."""
    rest = stored
    for name in (b"Return-Path:", b"Received:"):
        assert rest.startswith(name), rest[:200]
        end = rest.index(b"\r\n") + 2
        while rest[end:end + 1] in (b" ", b"\t"):
            end = rest.index(b"\r\n", end) + 2
        rest = rest[end:]
    return rest


def parse_kv(line):
    """'a=1 b=x' -> {'a': '1', 'b': 'x'} (numbers stay strings)."""
    out = {}
    for word in line.split():
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = v
    return out


def split_quoted(line):
    """Splits a control reply's words; "quoted" words are unescaped."""
    words, i, n = [], 0, len(line)
    while i < n:
        if line[i] == " ":
            i += 1
            continue
        if line[i] == '"':
            i += 1
            w = []
            while line[i] != '"':
                if line[i] == "\\":
                    i += 1
                w.append(line[i])
                i += 1
            i += 1
            words.append("".join(w))
        else:
            j = line.find(" ", i)
            j = n if j < 0 else j
            words.append(line[i:j])
            i = j
    return words


def quote_arg(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Store:
    def __init__(self, base, name, cert, listen, settings):
        self.name = name
        self.dir = base
        self.data_dir = os.path.join(base, "data")
        self.config_path = os.path.join(base, "rookery.conf")
        self.sasldb = os.path.join(base, "sasldb2")
        self.log_path = os.path.join(base, "store.log")
        self.lmtp_socket = os.path.join(base, "lmtp.sock")
        self.control_path = os.path.join(base, "control.sock")
        self.ports = {p: free_port_number() for p in listen}
        self.proc = None
        self.cert = cert
        self.settings = {
            "hostname": "rookery.test",
            "allow_plaintext": "yes",
            "auth_fail_delay_ms": "100",
            "max_message_size": "30M",
        }
        self.settings.update({k: str(v) for k, v in settings.items()})
        self.write_config()

    # --- configuration ------------------------------------------------
    def write_config(self):
        lines = [
            "# written by tests/integration/conftest.py",
            "[global]",
            "log = stderr",
            "log_level = info",
            "tls_cert = %s" % self.cert[0],
            "tls_key = %s" % self.cert[1],
            "sasldb = %s" % self.sasldb,
            "",
            "[store %s]" % self.name,
            "role = primary",
            "data_dir = %s" % self.data_dir,
        ]
        for k, v in self.settings.items():
            lines.append("%s = %s" % (k, v))
        for proto, port in self.ports.items():
            tls = " tls" if proto.endswith("s") else ""
            lines.append("listen = %s 127.0.0.1:%d%s" % (proto, port, tls))
        lines.append("listen = lmtp unix:%s" % self.lmtp_socket)
        lines.append("listen = control unix:%s" % self.control_path)
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def port(self, proto):
        return self.ports[proto]

    # --- process ------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def start(self):
        assert self.proc is None, "already running"
        exe = os.path.join(BIN, "rookery-store")
        argv = [exe, "-c", self.config_path, "-n", self.name]
        if os.environ.get("ROOKERY_DEBUG"):
            argv.append("-d")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        log = open(self.log_path, "ab")
        log.write(b"=== start %s\n" % " ".join(argv).encode())
        log.flush()
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        # Plain ports only (a bare connect to a TLS port only logs a
        # failed handshake); the control socket answers once the loop runs.
        pending = {p: n for p, n in self.ports.items() if not p.endswith("s")}
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise RuntimeError("rookery-store exited with %s at start:\n%s"
                                   % (rc, self.log_tail()))
            for proto, port in list(pending.items()):
                try:
                    socket.create_connection(("127.0.0.1", port),
                                             timeout=1).close()
                    del pending[proto]
                except OSError:
                    pass
            if not pending and os.path.exists(self.control_path):
                try:
                    ok, _, _ = self.control("status")
                    if ok:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("rookery-store did not come up in %ss:\n%s"
                           % (START_TIMEOUT, self.log_tail()))

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s.  Returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def kill(self):
        """SIGKILL: the crash the storage must survive."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait()

    def restart(self):
        self.stop()
        self.start()

    # --- logs ---------------------------------------------------------
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=150):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def sanitizer_report(self):
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                return text[max(0, i - 200):i + 4000]
        return None

    # --- control socket -----------------------------------------------
    def control(self, line, timeout=30):
        """Runs one control command: (ok, data lines, final line)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.control_path)
            s.sendall(line.encode() + b"\n")
            buf, data = b"", []
            while True:
                while b"\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError("control socket closed: %r" % buf)
                    buf += chunk
                raw, buf = buf.split(b"\n", 1)
                text = raw.decode("utf-8", "replace").rstrip("\r")
                if text.startswith("* ") or text == "*":
                    data.append(text[2:])
                    continue
                return text.startswith("OK"), data, text

    def control_ok(self, line):
        ok, data, final = self.control(line)
        assert ok, "%s -> %s" % (line, final)
        return data

    def set_password(self, addr, password):
        local, domain = addr.rsplit("@", 1)
        subprocess.run(["saslpasswd2", "-f", self.sasldb, "-p", "-c",
                        "-u", domain, local],
                       input=password.encode(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def add_user(self, addr, password="secret", quota_bytes=0,
                 quota_messages=0):
        self.set_password(addr, password)
        self.control_ok("user-add %s" % quota_arg(addr))
        if quota_bytes or quota_messages:
            self.control_ok("quota-set %s %d %d"
                            % (quota_arg(addr), quota_bytes, quota_messages))
        return addr, password

    def mailboxes(self, user):
        out = {}
        for line in self.control_ok("mailbox-list %s" % quota_arg(user)):
            words = split_quoted(line)
            out[words[0]] = {k: int(v) for k, v in
                             parse_kv(" ".join(words[1:])).items()}
        return out

    def messages(self, user, mailbox="INBOX"):
        out = []
        for line in self.control_ok("msg-list %s %s" % (quota_arg(user),
                                                         quota_arg(mailbox))):
            kv = parse_kv(line)
            rec = {k: int(v) for k, v in kv.items() if k != "guid"}
            rec["guid"] = kv.get("guid")
            out.append(rec)
        return out

    def message_path(self, user, uid, mailbox="INBOX"):
        mb = self.mailboxes(user)[mailbox]
        return os.path.join(self.data_dir, "mail", "%08x" % mb["id"],
                            str(uid))

    def message_file(self, user, uid, mailbox="INBOX"):
        with open(self.message_path(user, uid, mailbox), "rb") as f:
            return f.read()

    def quota(self, user):
        data = self.control_ok("quota-get %s" % quota_arg(user))
        return {k: int(v) for k, v in parse_kv(data[0]).items()}

    def status(self):
        out = {}
        for line in self.control_ok("status"):
            out.update(parse_kv(line))
        return out


quota_arg = quote_arg


# --- pytest plumbing ------------------------------------------------------


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _test_failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture
def free_port():
    return free_port_number


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "30",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture
def store_factory(request, tls_cert):
    stores, dirs = [], []

    def make(name="ms1", listen=("lmtp", "pop3", "pop3s"), start=True,
             **settings):
        # Short paths: Unix socket names must fit in 108 bytes.
        base = tempfile.mkdtemp(prefix="rk-")
        dirs.append(base)
        st = Store(base, name, tls_cert, listen, settings)
        stores.append(st)
        if start:
            st.start()
        return st

    yield make

    failed = _test_failed(request)
    problems = []
    for st in stores:
        st.stop()
        if failed:
            print("\n===== log of store %s (%s) =====\n%s"
                  % (st.name, st.log_path, st.log_tail(300)))
        report = st.sanitizer_report()
        if report:
            problems.append("store %s: sanitizer report:\n%s"
                            % (st.name, report))
    if not os.environ.get("ROOKERY_KEEP"):
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def store(store_factory):
    return store_factory()


@pytest.fixture
def make_user(store):
    counter = [0]

    def make(local=None, password=None, on=None, quota_bytes=0,
             quota_messages=0):
        counter[0] += 1
        if local is None:
            local = "user%d" % counter[0]
        addr = local if "@" in local else local + "@example.com"
        return (on or store).add_user(addr, password or "pw-" + local,
                                      quota_bytes, quota_messages)

    return make
