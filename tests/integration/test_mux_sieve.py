"""rookery-mux: ManageSieve (RFC 5804) before login, and proxied to a
minimal fake store listener (the real store is in test_sieve_mux.py):
raw protocol and sieve-connect over STARTTLS."""

import base64
import os
import subprocess

import pytest

from conftest import _test_failed
from mux_helpers import FakeSieveStore, Line, MuxPlatform, saslpasswd


@pytest.fixture
def env(request, store_factory, tls_cert):
    plat = MuxPlatform(store_factory, tls_cert)
    fake = FakeSieveStore()
    plat.directory.set_store("ms1", sieve="127.0.0.1:%d" % fake.port)
    plat.directory.set_store("ms2", up=False,
                             sieve="127.0.0.1:%d" % fake.port)
    saslpasswd(plat.sasldb, "alice@example.com", "apw")
    saslpasswd(plat.sasldb, "bob@example.com", "bpw")
    plat.directory.set_user("alice@example.com", "ms1")
    plat.directory.set_user("bob@example.com", "ms2")
    mux = plat.start_mux(protos=("sieve",))
    yield plat, mux, fake
    fake.close()
    problems = plat.close(_test_failed(request))
    if problems:
        pytest.fail("\n".join(problems))


def plain(user, pw):
    return base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()


def greeting(c):
    lines = [c.greeting]
    while not lines[-1].startswith(b"OK"):
        lines.append(c.line())
    return lines


def test_capabilities_and_preauth_commands(env):
    plat, mux, fake = env
    c = Line(mux.port("sieve"))
    caps = greeting(c)
    text = b"\n".join(caps)
    assert b'"IMPLEMENTATION" "Rookery"' in text
    assert b'"STARTTLS"' in text and b'"SIEVE" "' in text
    assert c.cmd("NOOP").startswith(b"OK")
    c.send("CAPABILITY\r\n")
    assert c.until("OK")[-1].startswith(b"OK")
    assert c.cmd("LISTSCRIPTS").startswith(b"NO")
    assert c.cmd("LOGOUT").startswith(b"OK")


def test_authenticate_and_splice(env):
    plat, mux, fake = env
    c = Line(mux.port("sieve"))
    greeting(c)
    r = c.cmd('AUTHENTICATE "PLAIN" "%s"' % plain("alice@example.com",
                                                   "apw"))
    assert r.startswith(b"OK"), r
    assert fake.logins == ["alice@example.com"]
    assert c.cmd("LISTSCRIPTS") == b'"alice@example.com-script" ACTIVE'
    assert c.line() == b"OK"
    assert c.cmd("LOGOUT").startswith(b"OK")


def test_authenticate_with_continuation_and_literal(env):
    plat, mux, fake = env
    c = Line(mux.port("sieve"))
    greeting(c)
    r = c.cmd('AUTHENTICATE "PLAIN"')
    assert r.startswith(b'""') or r.startswith(b"{0}"), r
    resp = plain("alice@example.com", "apw")
    c.send("{%d+}\r\n%s\r\n" % (len(resp), resp))
    assert c.line().startswith(b"OK")


def test_wrong_password_and_store_down(env):
    plat, mux, fake = env
    c = Line(mux.port("sieve"))
    greeting(c)
    assert c.cmd('AUTHENTICATE "PLAIN" "%s"'
                 % plain("alice@example.com", "x")).startswith(b"NO")
    r = c.cmd('AUTHENTICATE "PLAIN" "%s"' % plain("bob@example.com", "bpw"))
    assert r.startswith(b"NO (TRYLATER)"), r
    assert fake.logins == []


def test_sieve_connect_over_starttls(env):
    plat, mux, fake = env
    r, w = os.pipe()
    os.write(w, b"apw\n")
    os.close(w)
    out = subprocess.run(
        ["sieve-connect", "--server", "127.0.0.1", "--port",
         str(mux.port("sieve")), "--user", "alice@example.com",
         "--passwordfd", str(r), "--notlsverify", "--authmech", "PLAIN",
         "--list"],
        pass_fds=(r,), capture_output=True, timeout=30)
    os.close(r)
    assert out.returncode == 0, out.stderr
    assert b"alice@example.com-script" in out.stdout
