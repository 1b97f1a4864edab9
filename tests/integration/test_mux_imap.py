"""rookery-mux: IMAP before login (spoken by the mux) and proxied to real
stores: imaplib, curl (STARTTLS and implicit TLS), SASL mechanisms, the
store's capabilities in the tagged OK, BYE when the store goes."""

import base64
import hashlib
import hmac
import imaplib
import smtplib
import subprocess
import time

import pytest

from mux_helpers import Line, plat  # noqa: F401 (plat)

IMAP_STORE = ("lmtp", "pop3", "imap")


@pytest.fixture
def env(plat):
    ms1 = plat.store("ms1", listen=IMAP_STORE)
    ms2 = plat.store("ms2", listen=IMAP_STORE)
    alice = plat.user("alice", ms1)
    bob = plat.user("bob", ms2)
    mux = plat.start_mux()
    return plat, mux, ms1, ms2, alice, bob


def deliver(st, rcpt, subject):
    with smtplib.LMTP("127.0.0.1", st.port("lmtp"), timeout=30) as lm:
        lm.sendmail("s@example.org", [rcpt],
                    ("Subject: %s\r\n\r\nbody\r\n" % subject).encode())


def test_preauth_capability_and_noop(env):
    plat, mux, *_ = env
    c = Line(mux.port("imap"))
    assert c.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1")
    assert b"STARTTLS" in c.greeting and b"SASL-IR" in c.greeting
    c.send("a CAPABILITY\r\n")
    lines = c.until("a ")
    assert lines[-1] == b"a OK Capability completed"
    assert c.cmd("b NOOP").startswith(b"b OK")
    c.send('c ID ("name" "test" "version" {3+}\r\n1.0)\r\n')
    assert c.until("c ")[-1].startswith(b"c OK")
    assert c.cmd("d SELECT INBOX").startswith(b"d BAD")
    c.send("e LOGOUT\r\n")
    assert c.until("e ")[-1].startswith(b"e OK")


def test_login_gets_store_capabilities(env):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = env
    deliver(ms2, bob, "hello bob")
    m = imaplib.IMAP4("127.0.0.1", mux.port("imap"), timeout=10)
    typ, data = m.login(bob, bpw)
    assert typ == "OK"
    # the capabilities after login are the store's (imaplib re-reads
    # them from the tagged OK's response code)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)])")
    assert b"hello bob" in data[0][1]
    m.logout()
    log = mux.log_text()
    assert "event=login" in log and "store=ms2" in log


def caps_of(line):
    return line.split(b"[CAPABILITY ", 1)[1].split(b"]", 1)[0].split()


def test_preauth_capability_lists_what_the_store_offers(env):
    """Before any login the mux lists its own few; once a login has
    shown it the store's post-login set, later clients see that set
    before login too (IMAP4rev2, IDLE, MOVE...), with the mux's own
    pre-login items (STARTTLS, AUTH=) and not the store's."""
    plat, mux, ms1, ms2, (alice, apw), _ = env
    first = caps_of(Line(mux.port("imap")).greeting)
    assert b"IDLE" not in first and b"STARTTLS" in first
    c = Line(mux.port("imap"))
    store_caps = caps_of(c.cmd("a LOGIN %s %s" % (alice, apw)))
    assert b"IMAP4rev2" in store_caps and b"IDLE" in store_caps
    c.send("z LOGOUT\r\n")
    c.until("z ")
    later = Line(mux.port("imap"))
    caps = caps_of(later.greeting)
    for cap in store_caps:
        assert cap in caps, cap
    assert [x for x in caps if x.startswith(b"AUTH=")] == \
        [x for x in first if x.startswith(b"AUTH=")]
    assert b"STARTTLS" in caps and len(set(caps)) == len(caps)
    later.send("b CAPABILITY\r\n")
    lines = later.until("b ")
    assert caps_of(b"[CAPABILITY " + lines[0][13:] + b"]") == caps


def test_tagged_ok_carries_capability(env):
    plat, mux, ms1, ms2, (alice, apw), _ = env
    c = Line(mux.port("imap"))
    r = c.cmd("a LOGIN %s %s" % (alice, apw))
    assert r.startswith(b"a OK [CAPABILITY "), r
    assert b"STARTTLS" not in r          # the store's post-login set
    c.send("b CAPABILITY\r\n")
    lines = c.until("b ")
    assert lines[-1].startswith(b"b OK")
    c.send("c LOGOUT\r\n")
    assert c.until("c ")[-1].startswith(b"c OK")
    # the store's goodbye is the last word: no BYE [UNAVAILABLE] added
    assert c.closed(timeout=3)
    assert b"UNAVAILABLE" not in c.buf
    assert "backend_lost" not in mux.log_text()


def test_sasl_ir_plain_and_literal_login(env):
    plat, mux, ms1, ms2, (alice, apw), _ = env
    c = Line(mux.port("imap"))
    ir = base64.b64encode(("\0%s\0%s" % (alice, apw)).encode()).decode()
    assert c.cmd("a AUTHENTICATE PLAIN " + ir).startswith(b"a OK")
    c = Line(mux.port("imap"))
    c.send("a LOGIN {%d}\r\n" % len(alice))
    assert c.line().startswith(b"+")
    c.send("%s {%d+}\r\n%s\r\n" % (alice, len(apw), apw))
    assert c.line().startswith(b"a OK")


def test_sasl_mechanisms_via_imaplib(env):
    plat, mux, ms1, ms2, (alice, apw), _ = env
    m = imaplib.IMAP4("127.0.0.1", mux.port("imap"), timeout=10)
    assert "AUTH=CRAM-MD5" in m.capabilities
    typ, _ = m.login_cram_md5(alice, apw)
    assert typ == "OK"
    m.logout()
    # AUTHENTICATE LOGIN: two challenges
    c = Line(mux.port("imap"))
    assert c.cmd("a AUTHENTICATE LOGIN").startswith(b"+ ")
    assert c.cmd(base64.b64encode(alice.encode()).decode()).startswith(b"+")
    r = c.cmd(base64.b64encode(apw.encode()).decode())
    assert r.startswith(b"a OK"), r


def scram_sha256(c, user, password):
    nonce = base64.b64encode(b"clientnonce123456").decode()
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"),
                                nonce)
    r = c.cmd("a AUTHENTICATE SCRAM-SHA-256 " +
              base64.b64encode(("n,," + first_bare).encode()).decode())
    assert r.startswith(b"+ "), r
    server_first = base64.b64decode(r[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 int(attrs["i"]))
    ckey = hmac.new(salted, b"Client Key", "sha256").digest()
    skey_stored = hashlib.sha256(ckey).digest()
    final_wo = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([first_bare, server_first, final_wo]).encode()
    sig = hmac.new(skey_stored, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    final = final_wo + ",p=" + base64.b64encode(proof).decode()
    r = c.cmd(base64.b64encode(final.encode()).decode())
    if r.startswith(b"+"):
        r = c.cmd("")
    return r


def test_scram_sha256(env):
    plat, mux, ms1, ms2, (alice, apw), _ = env
    c = Line(mux.port("imap"))
    if b"AUTH=SCRAM-SHA-256" not in c.greeting:
        pytest.skip("SCRAM-SHA-256 not offered by this Cyrus SASL")
    r = scram_sha256(c, alice, apw)
    assert r.startswith(b"a OK"), r


def test_curl_starttls_and_imaps(env):
    plat, mux, ms1, ms2, (alice, apw), _ = env
    deliver(ms1, alice, "curl imap")
    for url in ("imap://127.0.0.1:%d/INBOX;UID=1" % mux.port("imap"),
                "imaps://127.0.0.1:%d/INBOX;UID=1" % mux.port("imaps")):
        out = subprocess.run(["curl", "-sk", "--ssl-reqd", url, "-u",
                              "%s:%s" % (alice, apw)],
                             capture_output=True, timeout=30)
        assert out.returncode == 0, (url, out.stderr)
        assert b"Subject: curl imap" in out.stdout


def test_logindisabled_without_tls(plat):
    ms1 = plat.store("ms1", listen=IMAP_STORE)
    alice, apw = plat.user("alice", ms1)
    mux = plat.start_mux(allow_plaintext="no")
    c = Line(mux.port("imap"))
    assert b"LOGINDISABLED" in c.greeting
    assert b"AUTH=PLAIN" not in c.greeting
    assert c.cmd("a LOGIN %s %s" % (alice, apw)).startswith(b"a NO")
    assert c.cmd("b STARTTLS").startswith(b"b OK")
    c.starttls()
    c.send("c CAPABILITY\r\n")
    caps = c.until("c ")[0]
    assert b"LOGINDISABLED" not in caps and b"AUTH=PLAIN" in caps
    assert c.cmd("d LOGIN %s %s" % (alice, apw)).startswith(b"d OK")


def test_store_unreachable_and_bye_on_kill(env):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = env
    c = Line(mux.port("imap"))
    assert c.cmd("a LOGIN %s %s" % (bob, bpw)).startswith(b"a OK")
    assert c.cmd("b SELECT INBOX").startswith(b"*")
    ms2.kill()
    assert c.closed(timeout=3)
    assert b"* BYE [UNAVAILABLE]" in c.buf
    c = Line(mux.port("imap"))
    r = c.cmd("a LOGIN %s %s" % (bob, bpw))
    assert r.startswith(b"a NO [UNAVAILABLE]"), r


def test_failover_bye_within_a_second(env):
    plat, mux, ms1, ms2, (alice, apw), (bob, bpw) = env
    clients = []
    for _ in range(5):
        m = imaplib.IMAP4("127.0.0.1", mux.port("imap"), timeout=10)
        m.login(bob, bpw)
        m.select("INBOX")
        clients.append(m)
    t0 = time.monotonic()
    plat.register(ms2, up=False)
    for m in clients:
        m.sock.settimeout(3)
        data = b""
        while True:
            chunk = m.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert b"* BYE [UNAVAILABLE]" in data
    assert time.monotonic() - t0 < 1.5


def test_mbsync_through_the_mux(env, tmp_path, tls_cert):
    """isync's mbsync pulls a mailbox over IMAPS through the mux."""
    plat, mux, ms1, ms2, (alice, apw), _ = env
    deliver(ms1, alice, "for mbsync")
    deliver(ms1, alice, "second one")
    mail = tmp_path / "mail"
    mail.mkdir()
    conf = tmp_path / "mbsyncrc"
    conf.write_text(
        "IMAPAccount mux\nHost localhost\nPort %d\nUser %s\nPass %s\n"
        "SSLType IMAPS\nCertificateFile %s\n\n"
        "IMAPStore far\nAccount mux\n\n"
        "MaildirStore near\nPath %s/\nInbox %s/INBOX\n\n"
        "Channel c\nFar :far:\nNear :near:\nPatterns INBOX\nCreate Near\n"
        "Sync Pull\nSyncState *\n"
        % (mux.port("imaps"), alice, apw, tls_cert[0], mail, mail))
    out = subprocess.run(["mbsync", "-c", str(conf), "-a"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    files = list((mail / "INBOX" / "new").iterdir()) + \
        list((mail / "INBOX" / "cur").iterdir())
    assert len(files) == 2
    bodies = b"".join(f.read_bytes() for f in files)
    assert b"Subject: for mbsync" in bodies


IMTEST = "/usr/lib/cyrus/bin/imtest"


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5",
                                  "SCRAM-SHA-256"])
def test_imtest_each_mechanism(env, mech):
    """Cyrus imtest authenticates through the mux with each mechanism and
    then talks to the store."""
    import os
    if not os.path.exists(IMTEST):
        pytest.skip("cyrus-clients (imtest) not installed")
    plat, mux, ms1, ms2, (alice, apw), _ = env
    out = subprocess.run(
        [IMTEST, "-m", mech, "-a", alice, "-w", apw, "-p",
         str(mux.port("imap")), "127.0.0.1"],
        input=b"x1 SELECT INBOX\r\nx2 LOGOUT\r\n", capture_output=True,
        timeout=30)
    text = out.stdout + out.stderr
    assert b"Authenticated." in text, text
    assert b"x1 OK" in text, text
