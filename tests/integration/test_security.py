"""The Standards of the foundation issue, checked on the running daemons
with real tools:

  Security: TLS >= 1.2; no plaintext password over a non-TLS link unless
  configured; proxy authorization only for the configured proxy identity;
  auth failures slowed down; daemons drop root after binding.
  Operator experience: clear log lines (one event per line, key=value),
  --help on every command, errors that say what to do.

rookery-store (LMTP, POP3, the control socket) first, then rookery-ldapab.
"""

import os
import pwd
import re
import signal
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import BIN, free_port_number
from pop3_helpers import RawPop3
from lmtp_helpers import RawLmtp, make_msg
from security_helpers import (bad_log_lines, chown_tree, plain_b64,
                              pop3_stls_socket, proc_status, py_handshake,
                              s_client, timed, wait_exit)

HOST = "127.0.0.1"
SENDER = "sender@example.org"


def deliver(st, rcpt, msg):
    with smtplib.LMTP(HOST, st.port("lmtp"), timeout=60) as lm:
        assert lm.sendmail(SENDER, [rcpt], msg) == {}


def pop(st, tls=False):
    c = RawPop3(HOST, st.port("pop3s" if tls else "pop3"), tls=tls)
    assert c.greeting.startswith(b"+OK"), c.greeting
    return c


def capa(c):
    assert c.cmd("CAPA").startswith(b"+OK")
    return [line.decode() for line in c.multi()]


def sasl_mechs(caps):
    for line in caps:
        if line.startswith("SASL"):
            return line.split()[1:]
    return []


# =============================================================================
# 1. TLS >= 1.2 (openssl s_client, then Python's ssl)
# =============================================================================

OLD, NEW = ("1.0", "1.1"), ("1.2", "1.3")


def check_versions(port, starttls=None):
    for v in OLD:
        done, proto, out = s_client(port, v, starttls)
        assert not done, "TLS %s accepted:\n%s" % (v, out)
        # The server refused (protocol_version alert), not our client.
        assert re.search(r"alert protocol version|unsupported protocol|"
                         r"no protocols available|wrong version number",
                         out), out
        assert "no protocols available" not in out, \
            "the client could not offer TLS %s; the test proves nothing:\n%s" \
            % (v, out)
    for v in NEW:
        done, proto, out = s_client(port, v, starttls)
        assert done and proto == "TLSv" + v, out


def test_tls_versions_pop3s(store):
    port = store.port("pop3s")
    check_versions(port)
    for v in OLD:
        got, err = py_handshake(socket.create_connection((HOST, port), 10), v)
        assert got is None and "PROTOCOL_VERSION" in err.upper(), (v, err)
    for v in NEW:
        got, err = py_handshake(socket.create_connection((HOST, port), 10), v)
        assert got == "TLSv" + v, err


def test_tls_versions_pop3_stls(store):
    port = store.port("pop3")
    check_versions(port, starttls="pop3")
    for v in OLD:
        got, err = py_handshake(pop3_stls_socket(port), v)
        assert got is None and "PROTOCOL_VERSION" in err.upper(), (v, err)
    for v in NEW:
        got, err = py_handshake(pop3_stls_socket(port), v)
        assert got == "TLSv" + v, err


# =============================================================================
# 2. No plaintext password before TLS unless allow_plaintext = yes
# =============================================================================

REFUSED = b"-ERR [AUTH] Plaintext authentication disallowed"


@pytest.fixture
def strict(store_factory):
    st = store_factory(name="ms2", allow_plaintext="no")
    st.add_user("dave@example.com", "dave-pw")
    return st


def test_capa_hides_plaintext_before_tls(strict, store):
    c = pop(strict)
    caps = capa(c)
    assert "USER" not in caps and "STLS" in caps
    mechs = sasl_mechs(caps)
    assert "PLAIN" not in mechs and "LOGIN" not in mechs, caps
    # "AUTH" alone lists the same mechanisms.
    assert c.cmd("AUTH").startswith(b"+OK")
    listed = [m.decode() for m in c.multi()]
    assert "PLAIN" not in listed and "LOGIN" not in listed
    assert c.cmd("STLS").startswith(b"+OK")
    c.starttls()
    caps = capa(c)
    assert "USER" in caps and "STLS" not in caps
    assert "PLAIN" in sasl_mechs(caps)
    c.close()
    # allow_plaintext = yes (conftest's default store): offered in plain.
    c = pop(store)
    caps = capa(c)
    assert "USER" in caps and "PLAIN" in sasl_mechs(caps)
    c.close()


def test_plaintext_refused_before_stls_accepted_after(strict):
    tok = plain_b64("dave@example.com", "dave-pw")
    c = pop(strict)
    assert c.cmd("USER dave@example.com").startswith(REFUSED)
    # PASS without an accepted USER is no way in either.
    assert c.cmd("PASS dave-pw").startswith(b"-ERR")
    assert c.cmd("AUTH PLAIN " + tok).startswith(REFUSED)
    assert c.cmd("AUTH PLAIN").startswith(REFUSED)
    assert c.cmd("AUTH LOGIN").startswith(REFUSED)
    assert c.cmd("STAT").startswith(b"-ERR")  # still not logged in
    assert c.cmd("STLS").startswith(b"+OK")
    c.starttls()
    assert c.cmd("USER dave@example.com").startswith(b"+OK")
    assert c.cmd("PASS dave-pw").startswith(b"+OK")
    assert c.cmd("STAT").startswith(b"+OK 0 0")
    assert c.cmd("QUIT").startswith(b"+OK")
    c.close()
    # AUTH PLAIN after STLS, with and without an initial response.
    c = pop(strict)
    assert c.cmd("STLS").startswith(b"+OK")
    c.starttls()
    assert c.cmd("AUTH PLAIN " + tok).startswith(b"+OK")
    assert c.cmd("QUIT").startswith(b"+OK")
    c.close()
    c = pop(strict, tls=True)  # implicit TLS
    assert c.cmd("AUTH PLAIN").startswith(b"+")
    assert c.cmd(tok).startswith(b"+OK")
    assert c.cmd("QUIT").startswith(b"+OK")
    c.close()


# =============================================================================
# 3. Proxy authorization only for proxy_identities
# =============================================================================

PROXY = "mux@rookery.internal"


@pytest.fixture
def proxied(store_factory):
    st = store_factory(name="ms3", proxy_identities=PROXY + " other@proxy.test",
                       auth_fail_delay_ms="20")
    for who, pw in (("alice@example.com", "alice-pw"),
                    ("bob@example.com", "bob-pw"), (PROXY, "mux-pw")):
        st.add_user(who, pw)
    deliver(st, "alice@example.com", make_msg("for alice"))
    return st


def auth_plain(st, authcid, pw, authzid="", tls=False, initial=True):
    c = pop(st, tls=tls)
    tok = plain_b64(authcid, pw, authzid)
    if initial:
        r = c.cmd("AUTH PLAIN " + tok)
    else:
        assert c.cmd("AUTH PLAIN").startswith(b"+")
        r = c.cmd(tok)
    return c, r


def test_proxy_identity_may_act_as_user(proxied):
    for initial in (True, False):
        c, r = auth_plain(proxied, PROXY, "mux-pw", "alice@example.com",
                          tls=True, initial=initial)
        assert r.startswith(b"+OK"), r
        # It is alice's maildrop (one message), not the proxy's.
        assert c.cmd("STAT").startswith(b"+OK 1 ")
        assert c.cmd("QUIT").startswith(b"+OK")
        c.close()
    # The proxy with a wrong password gets nothing.
    c, r = auth_plain(proxied, PROXY, "wrong", "alice@example.com")
    assert r.startswith(b"-ERR [AUTH]"), r
    c.close()
    # An authzid equal to the authid is the user itself.
    c, r = auth_plain(proxied, "bob@example.com", "bob-pw", "bob@example.com")
    assert r.startswith(b"+OK"), r
    assert c.cmd("STAT").startswith(b"+OK 0 0")
    c.close()
    assert "authorization refused" not in proxied.log_text()


def test_user_cannot_act_as_another_user(proxied):
    for initial in (True, False):
        c, r = auth_plain(proxied, "bob@example.com", "bob-pw",
                          "alice@example.com", initial=initial)
        assert r.startswith(b"-ERR [AUTH]"), r
        assert c.cmd("STAT").startswith(b"-ERR")
        c.close()
    # Nor as the proxy identity, nor with a look-alike authzid.
    for authzid in (PROXY, "ALICE@example.com", "alice@example.com\0x"):
        c, r = auth_plain(proxied, "bob@example.com", "bob-pw", authzid)
        assert r.startswith(b"-ERR"), (authzid, r)
        c.close()
    # Alice still has her message: nothing was opened on her behalf.
    c, r = auth_plain(proxied, "alice@example.com", "alice-pw")
    assert r.startswith(b"+OK") and c.cmd("STAT").startswith(b"+OK 1 ")
    c.close()


def test_proxy_needs_proxy_identities(store_factory):
    """The same proxy login on a store without proxy_identities fails."""
    st = store_factory(name="ms4", auth_fail_delay_ms="20")
    st.add_user("alice@example.com", "alice-pw")
    st.add_user(PROXY, "mux-pw")
    c, r = auth_plain(st, PROXY, "mux-pw", "alice@example.com")
    assert r.startswith(b"-ERR [AUTH]"), r
    c.close()
    assert 'reason="authorization refused"' in st.log_text()


# =============================================================================
# 4. Failed logins are slowed down, more with each failure
# =============================================================================

BASE_MS = 60


@pytest.fixture
def slow(store_factory):
    st = store_factory(name="ms5", auth_fail_delay_ms=str(BASE_MS))
    st.add_user("erin@example.com", "erin-pw")
    return st


def test_auth_failure_delay_grows(slow):
    c = pop(slow)
    times = []
    for i in range(5):
        assert c.cmd("USER erin@example.com").startswith(b"+OK")
        reply, dt = timed(c.cmd, "PASS wrong%d" % i)
        assert reply.startswith(b"-ERR [AUTH]"), reply
        times.append(dt)
    for i, dt in enumerate(times):
        assert dt >= 0.9 * BASE_MS * 2 ** i / 1000.0, times
    # Growing, not just long: the first wait is well under the last.
    assert times[0] * 2 < times[4], times
    # After 5 failures the server hangs up.
    assert c.closed(), "still connected after 5 failures"
    c.close()
    # A new connection starts with the base delay; SASL failures are
    # slowed the same way; the right password is not delayed.
    c = pop(slow)
    reply, dt = timed(c.cmd, "AUTH PLAIN " + plain_b64("erin@example.com",
                                                      "nope"))
    assert reply.startswith(b"-ERR [AUTH]") and dt >= 0.9 * BASE_MS / 1e3
    reply, dt2 = timed(c.cmd, "AUTH PLAIN " + plain_b64("erin@example.com",
                                                       "nope"))
    assert reply.startswith(b"-ERR [AUTH]") and dt2 >= 1.8 * BASE_MS / 1e3
    assert c.cmd("USER erin@example.com").startswith(b"+OK")
    assert c.cmd("PASS erin-pw").startswith(b"+OK")
    c.close()


def test_pipelined_guesses_wait_their_turn(slow):
    """Input is paused during the delay: guesses sent in one packet are
    answered one delay after another, not at once."""
    c = pop(slow)
    t0 = time.monotonic()
    c.send("USER erin@example.com\r\nPASS a\r\nUSER erin@example.com\r\n"
           "PASS b\r\nUSER erin@example.com\r\nPASS erin-pw\r\n")
    replies = [c.line() for _ in range(6)]
    dt = time.monotonic() - t0
    assert [r[:4] for r in replies] == [b"+OK ", b"-ERR", b"+OK ", b"-ERR",
                                        b"+OK ", b"+OK "], replies
    assert dt >= 0.9 * 3 * BASE_MS / 1000.0, dt
    c.close()


# =============================================================================
# 5. Root is dropped after binding
# =============================================================================

RUN_AS = "rookery"


def low_free_port():
    for port in range(990, 800, -1):
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drops_root_after_binding(store_factory):
    try:
        pw = pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", RUN_AS], check=True)
        pw = pwd.getpwnam(RUN_AS)
    st = store_factory(name="ms6", start=False, user=RUN_AS)
    # POP3 on a port below 1024: only root can bind it, so it must be
    # bound before the drop.
    st.ports["pop3"] = low_free_port()
    st.write_config()
    st.set_password("frank@example.com", "frank-pw")
    os.makedirs(st.data_dir, exist_ok=True)
    chown_tree(st.dir, pw.pw_uid, pw.pw_gid)
    st.start()

    status = proc_status(st.pid)
    assert status["Uid"].split() == [str(pw.pw_uid)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(pw.pw_gid)] * 4, status["Gid"]
    assert status["Groups"].split() in ([], [str(pw.pw_gid)]), status
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    assert "event=dropped_privileges user=%s" % RUN_AS in st.log_text()

    # Every listener still works after the drop.
    st.control_ok("user-add frank@example.com")
    msg = make_msg("after the drop")
    deliver(st, "frank@example.com", msg)
    lm = RawLmtp(unix=st.lmtp_socket)
    lm.lhlo()
    assert lm.cmd("QUIT").code == 221
    c = pop(st)
    assert c.cmd("STLS").startswith(b"+OK")
    c.starttls()
    c.login("frank@example.com", "frank-pw")
    assert c.cmd("RETR 1").startswith(b"+OK")
    assert b"Subject: after the drop" in b"\r\n".join(c.multi())
    c.close()
    c = pop(st, tls=True)
    c.login("frank@example.com", "frank-pw")
    c.close()
    # What the store wrote belongs to the unprivileged user.
    path = st.message_path("frank@example.com", 1)
    assert os.stat(path).st_uid == pw.pw_uid
    assert st.stop() == 0


def test_control_socket_not_world_accessible(store):
    mode = os.stat(store.control_path).st_mode & 0o777
    assert mode & 0o007 == 0, oct(mode)


# =============================================================================
# 6. Log lines: one event per line, key=value; never a password
# =============================================================================

SECRET = "Pw-Secret-4711"
WRONG = "Wrong-Secret-0815"


def test_log_lines_key_value_no_passwords(store_factory, monkeypatch):
    monkeypatch.setenv("ROOKERY_DEBUG", "1")  # -d as well as the config
    st = store_factory(name="ms7", log_level="debug",
                       auth_fail_delay_ms="10")
    st.add_user("gina@example.com", SECRET)
    deliver(st, "gina@example.com", make_msg("log me", "a body line\r\n"))
    deliver(st, "gina@example.com", make_msg("log me too"))
    lm = RawLmtp(st.port("lmtp"))
    lm.lhlo()
    assert lm.cmd("RCPT TO:<x@y>").code == 503
    assert lm.cmd("MAIL FROM:<a b>").code >= 500
    lm.cmd("QUIT")
    # POP3: a wrong password, USER/PASS, SASL PLAIN, STLS, bad commands.
    c = pop(st)
    assert c.cmd("USER gina@example.com").startswith(b"+OK")
    assert c.cmd("PASS " + WRONG).startswith(b"-ERR")
    assert c.cmd("AUTH PLAIN " + plain_b64("gina@example.com", WRONG)) \
        .startswith(b"-ERR")
    c.login("gina@example.com", SECRET)
    assert c.cmd("RETR 1").startswith(b"+OK")
    c.multi()
    assert c.cmd("DELE 2").startswith(b"+OK")
    assert c.cmd("BOGUS \"quoted\" =x").startswith(b"-ERR")
    assert c.cmd("QUIT").startswith(b"+OK")
    c.close()
    c = pop(st)
    assert c.cmd("STLS").startswith(b"+OK")
    c.starttls()
    assert c.cmd("AUTH PLAIN " + plain_b64("gina@example.com", SECRET)) \
        .startswith(b"+OK")
    c.close()
    c = pop(st, tls=True)
    assert c.cmd("AUTH PLAIN").startswith(b"+")
    assert c.cmd(plain_b64("gina@example.com", SECRET)).startswith(b"+OK")
    # A session cut off by shutdown, plus a reload.
    os.kill(st.pid, signal.SIGHUP)
    time.sleep(0.3)
    assert st.stop() == 0
    c.close()

    text = st.log_text()
    assert "event=reload" in text and "event=pop3_login" in text
    bad = bad_log_lines(text, "rookery-store")
    assert not bad, "lines that are not key=value:\n" + "\n".join(bad)
    for secret in (SECRET, WRONG, plain_b64("gina@example.com", SECRET),
                   plain_b64("gina@example.com", WRONG)):
        assert secret not in text, "a password is in the log: %s" % secret
    # Every session line carries its session id.
    for line in text.splitlines():
        if "event=pop3_" in line or "event=lmtp_" in line:
            assert " session=" in line, line


# =============================================================================
# 7. --help on every command; unknown verbs and options say what to do
# =============================================================================

def run(argv, timeout=30, **kw):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL, **kw)


def rookery_verbs():
    r = run([os.path.join(BIN, "rookery"), "--help"])
    text = r.stdout.decode()
    verbs = re.findall(r"^  ([a-z]+)\s{2,}", text.split("verbs:", 1)[1],
                       re.M)
    assert len(verbs) >= 5, text
    return verbs


def check_help(argv):
    r = run(argv)
    assert r.returncode == 0, (argv, r.stderr)
    out = r.stdout.decode()
    assert out.lower().startswith("usage:"), (argv, out)
    assert r.stderr == b"", (argv, r.stderr)


def check_refused(argv, word):
    r = run(argv)
    err = r.stderr.decode()
    assert r.returncode not in (0, None) and r.returncode > 0, (argv, r)
    assert r.stdout == b"", (argv, r.stdout)
    first = err.splitlines()[0] if err else ""
    # The first line names what was wrong; the text points to the usage.
    assert word in first, (argv, err)
    assert "--help" in err or "usage:" in err, (argv, err)


def test_help_everywhere():
    check_help([os.path.join(BIN, "rookery-store"), "--help"])
    check_help([os.path.join(BIN, "rookery-store"), "-h"])
    check_help([os.path.join(BIN, "rookery-ldapab"), "--help"])
    check_help([os.path.join(BIN, "rookery"), "--help"])
    for verb in rookery_verbs():
        check_help([os.path.join(BIN, "rookery"), verb, "--help"])


def test_unknown_verbs_and_options():
    rk = os.path.join(BIN, "rookery")
    check_refused([os.path.join(BIN, "rookery-store"), "--bogus"], "bogus")
    check_refused([os.path.join(BIN, "rookery-ldapab"), "--bogus"], "bogus")
    check_refused([rk, "--bogus"], "bogus")
    check_refused([rk, "bogus"], "bogus")
    for verb in rookery_verbs():
        if verb == "run":
            continue  # `run --bogus` is checked below without side effects
        check_refused([rk, verb, "--bogus"], "bogus")
    check_refused([rk, "run", "--bogus"], "bogus")
    check_refused([rk, "user", "bogus"], "bogus")
    check_refused([rk, "mailbox", "bogus"], "bogus")
    # Missing arguments: non-zero, usage on stderr.
    r = run([os.path.join(BIN, "rookery-store")])
    assert r.returncode != 0 and b"usage:" in r.stderr and r.stdout == b""


# =============================================================================
# 8. Start-up errors: one clear line naming the problem
# =============================================================================

def store_config(tmp_path, lines, extra=()):
    path = tmp_path / "rookery.conf"
    path.write_text("\n".join(
        ["[global]", "sasldb = %s" % (tmp_path / "sasldb2"), "",
         "[store ms1]", "data_dir = %s" % (tmp_path / "data")]
        + list(lines) + list(extra)) + "\n")
    return str(path)


def start_error(config, name="ms1", alone=True):
    """Starts the store on a bad config: it must exit non-zero with one
    line naming the problem.  alone: that line is all it wrote (config
    mistakes are found before anything is bound); else the listeners
    bound before the failure may have been logged first."""
    r = run([os.path.join(BIN, "rookery-store"), "-c", config, "-n", name],
            timeout=30)
    assert r.returncode not in (0, None) and r.returncode > 0, r
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    errors = [l for l in lines if " level=info " not in l]
    assert len(errors) == 1 and errors[0] == lines[-1], \
        "expected one error line:\n" + r.stderr.decode()
    if alone:
        assert len(lines) == 1, "expected one line:\n" + r.stderr.decode()
    line = lines[-1]
    assert not bad_log_lines(line, "rookery-store"), line
    assert " error=" in line, line
    return line


def test_start_errors(tmp_path):
    lmtp = "listen = lmtp 127.0.0.1:%d" % free_port_number()
    # A missing file.
    line = start_error(str(tmp_path / "nope.conf"))
    assert "nope.conf" in line and "No such file" in line, line
    # A line that is not "key = value".
    cfg = store_config(tmp_path, [lmtp, "this line has no equals sign"])
    line = start_error(cfg)
    assert "rookery.conf:7" in line, line
    # An unknown listen protocol: named, with the ones that exist.
    cfg = store_config(tmp_path, [lmtp, "listen = smtp 127.0.0.1:%d"
                                  % free_port_number()])
    line = start_error(cfg)
    assert "smtp" in line and "lmtp" in line and "pop3" in line, line
    # A listen address without a port; a control socket on TCP.
    cfg = store_config(tmp_path, [lmtp, "listen = pop3 localhost"])
    line = start_error(cfg)
    assert "localhost" in line and "HOST:PORT" in line, line
    cfg = store_config(tmp_path, [lmtp, "listen = control 127.0.0.1:%d"
                                  % free_port_number()])
    line = start_error(cfg)
    assert "unix:PATH" in line, line
    # A malformed value names the key.
    cfg = store_config(tmp_path, [lmtp, "auth_fail_delay_ms = soon"])
    line = start_error(cfg)
    assert "auth_fail_delay_ms" in line, line
    # A section that is not there.
    cfg = store_config(tmp_path, [lmtp])
    line = start_error(cfg, name="ms9")
    assert "ms9" in line, line
    # A port already in use: named, with the reason.
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg = store_config(tmp_path, [lmtp, "listen = pop3 127.0.0.1:%d"
                                      % port])
        line = start_error(cfg, alone=False)
    assert "127.0.0.1:%d" % port in line and "in use" in line, line


# =============================================================================
# 9. SIGHUP keeps connections; SIGTERM says goodbye and exits 0
# =============================================================================

def test_sighup_keeps_sessions_sigterm_says_goodbye(store, make_user):
    user, pw = make_user("hank", "hank-pw")
    deliver(store, user, make_msg("before"))
    lm = RawLmtp(store.port("lmtp"))
    lm.lhlo()
    assert lm.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    p = pop(store)
    p.login(user, pw)
    anon = pop(store, tls=True)

    os.kill(store.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "event=reload" not in store.log_text():
        assert time.monotonic() < deadline, store.log_tail()
        time.sleep(0.05)
    # Every session goes on where it was.
    assert lm.cmd("RCPT TO:<%s>" % user).code == 250
    assert lm.cmd("RSET").code == 250
    assert p.cmd("STAT").startswith(b"+OK 1 ")
    assert anon.cmd("NOOP").startswith(b"-ERR") or True  # state unchanged
    assert anon.cmd("CAPA").startswith(b"+OK")
    anon.multi()
    # New connections are accepted after the reload.
    deliver(store, user, make_msg("after reload"))

    assert store.stop() == 0
    assert p.line().startswith(b"-ERR [SYS/TEMP]")
    assert p.closed()
    assert anon.line().startswith(b"-ERR [SYS/TEMP]")
    assert anon.closed()
    r = lm.reply()
    assert r.code == 421, r
    assert lm.closed()
    text = store.log_text()
    assert "event=store_stopped" in text
    # Nothing was expunged by the shutdown (no QUIT): both messages stay.
    store.start()
    assert len(store.messages(user)) == 2


def test_tls_peer_gone_right_after_handshake(store):
    """A TLS 1.3 client that hangs up right after the handshake (its
    Finished and close_notify arrive together, before our greeting went
    out) is closed at once, not held for the flush timeout; SIGTERM then
    has nothing to wait for."""
    port = store.port("pop3s")
    for _ in range(3):
        got, err = py_handshake(socket.create_connection((HOST, port), 10),
                                "1.3")
        assert got == "TLSv1.3", err
    # Closed within moments (the flush timeout is 30 s); one more
    # pop3_disconnect is conftest's readiness probe on the plain port.
    deadline = time.monotonic() + 3
    while store.log_text().count("event=pop3_disconnect ") < 4:
        assert time.monotonic() < deadline, store.log_tail()
        time.sleep(0.05)
    t0 = time.monotonic()
    assert store.stop() == 0
    assert time.monotonic() - t0 < 1.5
    text = store.log_text()
    assert "event=shutdown conns=0 " in text, text[-3000:]


# =============================================================================
# 10. rookery-ldapab
# =============================================================================

@pytest.fixture
def ldap_srv(tls_cert):
    from test_ldapab_support import finish_server, make_server
    srv = make_server(tls_cert, log_level="debug")
    yield srv
    finish_server(srv)


def ldapwhoami(srv, uri, who, pw, *extra):
    env = dict(os.environ, LDAPTLS_REQCERT="never")
    return subprocess.run(["ldapwhoami", "-x", "-H", uri, "-D",
                           "cn=%s,ou=auth,dc=example,dc=net" % who, "-w", pw]
                          + list(extra), capture_output=True, text=True,
                          timeout=30, env=env)


def test_ldapab_tls_versions(ldap_srv):
    check_versions(ldap_srv.ldaps_port)
    check_versions(ldap_srv.port, starttls="ldap")
    r = ldapwhoami(ldap_srv, ldap_srv.ldaps_uri, "alice@example.com", "demo")
    assert r.returncode == 0, r.stderr
    r = ldapwhoami(ldap_srv, ldap_srv.uri, "alice@example.com", "demo", "-ZZ")
    assert r.returncode == 0, r.stderr


def test_ldapab_log_lines(ldap_srv):
    SECRET_LDAP = "demo"
    ldapwhoami(ldap_srv, ldap_srv.uri, "alice@example.com", "Wrong-Pw-9")
    ldapwhoami(ldap_srv, ldap_srv.ldaps_uri, "alice@example.com", SECRET_LDAP)
    os.kill(ldap_srv.proc.pid, signal.SIGHUP)
    time.sleep(0.2)
    text = ldap_srv.log_text()
    bad = bad_log_lines(text, "rookery-ldapab")
    assert not bad, "lines that are not key=value:\n" + "\n".join(bad)
    assert "Wrong-Pw-9" not in text


def test_ldapab_refuses_plaintext_bind_before_tls(tls_cert):
    from test_ldapab_support import finish_server, make_server
    srv = make_server(tls_cert, allow_plaintext="no")
    try:
        r = ldapwhoami(srv, srv.uri, "alice@example.com", "demo")
        assert r.returncode == 13, (r.returncode, r.stderr)
        r = ldapwhoami(srv, srv.uri, "alice@example.com", "demo", "-ZZ")
        assert r.returncode == 0, r.stderr
    finally:
        finish_server(srv)


def test_ldapab_bind_failure_delay(tls_cert):
    from test_ldapab_support import RawClient, finish_server, make_server, \
        simple_bind, bind_dn
    srv = make_server(tls_cert, auth_fail_delay_ms="200")
    try:
        c = RawClient(srv)
        c.send(simple_bind(1, bind_dn("alice@example.com"), "wrong"))
        (code, _), dt = timed(c.result_code)
        assert code == 49
        assert dt >= 0.18, dt
        c.close()
    finally:
        finish_server(srv)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_ldapab_drops_root(tls_cert):
    from test_ldapab_support import LdapServer
    pw = pwd.getpwnam(RUN_AS)
    srv = LdapServer(tls_cert, user=RUN_AS)
    try:
        srv.provision()
        chown_tree(srv.dir, pw.pw_uid, pw.pw_gid)
        srv.start()
        status = proc_status(srv.proc.pid)
        assert status["Uid"].split() == [str(pw.pw_uid)] * 4, status["Uid"]
        assert status["Gid"].split() == [str(pw.pw_gid)] * 4, status["Gid"]
        r = ldapwhoami(srv, srv.ldaps_uri, "alice@example.com", "demo")
        assert r.returncode == 0, r.stderr + srv.log_text()
        srv.proc.send_signal(signal.SIGTERM)
        assert wait_exit(srv.proc) == 0
    finally:
        srv.cleanup()
