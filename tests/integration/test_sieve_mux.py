"""Sieve end to end through the front door: scripts uploaded with
sieve-connect and Cyrus sivtest through rookery-mux (which logs in to the
store's ManageSieve as the proxy identity), then LMTP delivery runs them."""

import os
import shutil
import smtplib
import socket
import subprocess

import pytest

from conftest import _test_failed
from mux_helpers import MuxPlatform

SIVTEST = "/usr/lib/cyrus/bin/sivtest"


@pytest.fixture
def plat(request, store_factory, tls_cert):
    p = MuxPlatform(store_factory, tls_cert)
    st = p.store("ms1", listen=("lmtp", "sieve"))
    user, pw = p.user("alice", st)
    mux = p.start_mux(protos=("sieve",))
    yield p, st, mux, user, pw
    problems = p.close(_test_failed(request))
    if problems:
        pytest.fail("\n".join(problems))


def deliver(st, user, subject):
    lm = smtplib.LMTP("127.0.0.1", st.port("lmtp"))
    lm.sendmail("bob@example.org", [user],
                ("Subject: %s\r\nTo: %s\r\n\r\nhi\r\n" % (subject, user))
                .encode())
    lm.quit()


def sieve_caps(port):
    """The SIEVE capability of a ManageSieve greeting."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        buf = b""
        while not buf.startswith(b"OK") and b"\r\nOK" not in buf:
            chunk = c.recv(4096)
            assert chunk, buf
            buf += chunk
    for line in buf.split(b"\r\n"):
        if line.startswith(b'"SIEVE" '):
            return set(line.split(b'"')[3].split())
    raise AssertionError(buf)


def test_mux_offers_what_the_store_takes(plat):
    """A client reads the pre-login capability and writes scripts with
    what it lists: the mux must list what the store's interpreter takes,
    no more."""
    p, st, mux, user, pw = plat
    assert sieve_caps(mux.port("sieve")) == sieve_caps(st.port("sieve"))


@pytest.mark.skipif(shutil.which("sieve-connect") is None,
                    reason="sieve-connect not installed")
def test_sieve_connect_through_mux(plat, tmp_path):
    p, st, mux, user, pw = plat
    script = tmp_path / "s.sieve"
    script.write_text('require ["fileinto", "mailbox"];\n'
                      'if header :contains "subject" "news" '
                      '{ fileinto :create "News"; }\n')
    r, w = os.pipe()
    os.write(w, pw.encode() + b"\n")
    os.close(w)
    try:
        res = subprocess.run(
            ["sieve-connect", "--server", "127.0.0.1", "--port",
             str(mux.port("sieve")), "--user", user, "--passwordfd", str(r),
             "--notlsverify", "--noclearauth", "--authmech", "PLAIN",
             "--localsieve", str(script), "--remotesieve", "news",
             "--upload"], pass_fds=(r,), capture_output=True, text=True,
            timeout=30)
    finally:
        os.close(r)
    assert res.returncode == 0, res.stdout + res.stderr
    assert st.control_ok("sieve-list %s" % user) == ["news"]
    st.control_ok("sieve-activate %s news" % user)
    deliver(st, user, "daily news")
    boxes = st.mailboxes(user)
    assert boxes["News"]["messages"] == 1


@pytest.mark.skipif(not os.path.exists(SIVTEST),
                    reason="cyrus-clients not installed")
def test_sivtest_through_mux(plat, tmp_path):
    p, st, mux, user, pw = plat
    cmds = tmp_path / "cmds"
    cmds.write_text('PUTSCRIPT "d" {9+}\r\ndiscard;\r\n\r\n'
                    'SETACTIVE "d"\r\nLISTSCRIPTS\r\nLOGOUT\r\n')
    res = subprocess.run(
        [SIVTEST, "-t", "", "-a", user, "-u", user, "-w", pw, "-m", "PLAIN",
         "-p", str(mux.port("sieve")), "-f", str(cmds), "127.0.0.1"],
        capture_output=True, text=True, timeout=30,
        stdin=subprocess.DEVNULL)
    assert '"d" ACTIVE' in res.stdout, res.stdout + res.stderr
    deliver(st, user, "gone")
    assert st.mailboxes(user)["INBOX"]["messages"] == 0
