"""ManageSieve (RFC 5804 and the timsieved dialect) on the store, spoken
over a raw socket: capabilities, STARTTLS (and the legacy switch), SASL,
every script command, quotas, and bad input."""

import base64
import hashlib
import hmac
import os
import re

import pytest

from sieve_helpers import ManageSieve

ALICE = "alice@example.com"
PW = "pw-alice"
GOOD = 'require "fileinto";\r\nfileinto "A";\r\n'


@pytest.fixture
def st(store_factory):
    s = store_factory(listen=("lmtp", "sieve"), sieve_max_scripts="3",
                      sieve_max_script_size="2K",
                      proxy_identities="mux@example.com")
    s.add_user(ALICE, PW)
    return s


def login(st, legacy_port=None):
    ms = ManageSieve(legacy_port or st.port("sieve"))
    ms.starttls(expect_caps=legacy_port is None)
    r = ms.auth_plain(ALICE, PW)
    assert r.ok and r.code is None, r
    return ms


def alive(ms):
    r = ms.cmd("NOOP")
    return r.ok


# --- greeting, capabilities, STARTTLS ----------------------------------------


def test_greeting_capabilities(st):
    ms = ManageSieve(st.port("sieve"))
    caps = ms.caps
    for k in ("IMPLEMENTATION", "SASL", "SIEVE", "STARTTLS", "VERSION"):
        assert k in caps, caps
    assert caps["VERSION"] == "1.0"
    assert "fileinto" in caps["SIEVE"] and "vacation" in caps["SIEVE"]
    assert "imapflags" not in caps["SIEVE"].split()
    assert "OWNER" not in caps
    # every capability line quoted and upper-case; a bare OK ends it
    for line in ms.last.lines:
        assert re.match(rb'^"[A-Z0-9-]+"( "[^"]*")?$', line), line
    assert ms.last.text is None
    # CAPABILITY, case-insensitive, the same way
    ms.send("capability\r\n")
    again = ms.read_caps()
    assert again == caps and ms.last.text is None


def test_starttls_resends_capabilities(st):
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    assert "STARTTLS" not in ms.caps and "SASL" in ms.caps
    r = ms.cmd("STARTTLS")
    assert r.word == "NO" and r.text


def test_legacy_listener_sends_nothing_after_starttls(store_factory,
                                                      free_port):
    port = free_port()
    s = store_factory(listen=("lmtp",), start=False)
    with open(s.config_path, "a") as f:
        f.write("listen = sieve 127.0.0.1:%d legacy\n" % port)
    s.start()
    s.add_user(ALICE, PW)
    ms = ManageSieve(port)
    assert "STARTTLS" in ms.caps
    ms.starttls(expect_caps=False)
    # nothing was sent: the next reply is the NOOP's own
    r = ms.cmd("NOOP")
    assert r.ok and r.lines == []
    r = ms.auth_plain(ALICE, PW)
    assert r.ok


def test_owner_after_login_and_no_caps_after_auth(st):
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    ms.send('AUTHENTICATE "PLAIN" "%s"\r\n' % base64.b64encode(
        ("\0%s\0%s" % (ALICE, PW)).encode()).decode())
    r = ms.response()
    assert r.ok and r.lines == []     # no capabilities after AUTHENTICATE
    ms.send("CAPABILITY\r\n")
    caps = ms.read_caps()
    assert caps.get("OWNER") == ALICE
    assert "SASL" not in caps and "STARTTLS" not in caps


# --- authentication -------------------------------------------------------------


def test_plaintext_refused_without_tls(store_factory):
    s = store_factory(listen=("lmtp", "sieve"), allow_plaintext="no")
    s.add_user(ALICE, PW)
    ms = ManageSieve(s.port("sieve"))
    r = ms.auth_plain(ALICE, PW)
    assert r.word == "NO" and r.text and r.code is None
    ms.starttls()
    assert ms.auth_plain(ALICE, PW).ok


def test_replica_refuses_logins(store_factory):
    """DESIGN.md: a replica takes no client writes: a correct login gets
    NO (TRYLATER) and the session may try again or LOGOUT."""
    s = store_factory(listen=("lmtp", "sieve"), role="replica")
    s.add_user(ALICE, PW)
    ms = ManageSieve(s.port("sieve"))
    ms.starttls()
    r = ms.auth_plain(ALICE, PW)
    assert r.word == "NO" and r.code == "TRYLATER", r
    assert "replica" in (r.text or "")
    assert ms.cmd("LOGOUT").ok
    assert "reason=replica" in s.log_text()


def test_extended_codes_switch(store_factory):
    s = store_factory(listen=("lmtp", "sieve"), allow_plaintext="no",
                      sieve_extended_codes="yes")
    ms = ManageSieve(s.port("sieve"))
    r = ms.auth_plain(ALICE, PW)
    assert r.word == "NO" and r.code == "ENCRYPT-NEEDED"


def test_auth_plain_with_continuation_and_literal(st):
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    ms.send('AUTHENTICATE "PLAIN"\r\n')
    assert ms.challenge() == ""
    resp = base64.b64encode(("\0%s\0%s" % (ALICE, PW)).encode())
    ms.send(b"{%d+}\r\n%s\r\n" % (len(resp), resp))
    assert ms.response().ok


def test_auth_login_mechanism(st):
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    ms.send('authenticate "LOGIN"\r\n')
    assert ms.challenge() is not None
    ms.send('"%s"\r\n' % base64.b64encode(ALICE.encode()).decode())
    assert ms.challenge() is not None
    ms.send('"%s"\r\n' % base64.b64encode(PW.encode()).decode())
    assert ms.response().ok


def _scram(ms, user, password, mech, hname):
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, cnonce)
    ms.send('AUTHENTICATE "%s" "%s"\r\n' % (
        mech, base64.b64encode(("n,," + first_bare).encode()).decode()))
    server_first = base64.b64decode(ms.challenge()).decode()
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(hname, password.encode(),
                                 base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    ckey = hmac.new(salted, b"Client Key", hname).digest()
    skey = hashlib.new(hname, ckey).digest()
    final_bare = "c=biws,r=%s" % attrs["r"]
    auth_msg = ",".join([first_bare, server_first, final_bare]).encode()
    sig = hmac.new(skey, auth_msg, hname).digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    final = "%s,p=%s" % (final_bare, base64.b64encode(proof).decode())
    ms.send('"%s"\r\n' % base64.b64encode(final.encode()).decode())
    if ms.challenge() is not None:    # server signature as a challenge
        ms.send('""\r\n')
    return ms.response()


@pytest.mark.parametrize("mech,hname", [("SCRAM-SHA-1", "sha1"),
                                        ("SCRAM-SHA-256", "sha256")])
def test_auth_scram(st, mech, hname):
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    if mech not in ms.caps["SASL"].split():
        pytest.skip("%s not offered by this Cyrus SASL" % mech)
    r = _scram(ms, ALICE, PW, mech, hname)
    assert r.ok, r


def test_auth_failures(st):
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    r = ms.auth_plain(ALICE, "wrong")
    assert r.word == "NO" and r.text
    ms.send('AUTHENTICATE "PLAIN"\r\n')
    assert ms.challenge() == ""
    r = ms.cmd('"*"')
    assert r.word == "NO" and r.text
    r = ms.cmd('AUTHENTICATE "NO-SUCH-MECH"')
    assert r.word == "NO"
    assert ms.auth_plain(ALICE, PW).ok


def test_proxy_authorization(st):
    st.add_user("mux@example.com", "pw-mux")
    ms = ManageSieve(st.port("sieve"))
    ms.starttls()
    assert ms.auth_plain("mux@example.com", "pw-mux", authzid=ALICE).ok
    ms.send("CAPABILITY\r\n")
    assert ms.read_caps()["OWNER"] == ALICE
    # an ordinary user cannot act as another
    ms2 = ManageSieve(st.port("sieve"))
    ms2.starttls()
    st.add_user("bob@example.com", "pw-bob")
    assert ms2.auth_plain("bob@example.com", "pw-bob",
                          authzid=ALICE).word == "NO"


# --- script commands -----------------------------------------------------------


def test_script_lifecycle(st):
    ms = login(st)
    seq0 = int(st.status()["changelog_seq"])
    assert ms.list() == {}
    # both literal forms, {N} taken as non-synchronising
    body = GOOD.encode()
    ms.send(b'PUTSCRIPT "one" {%d}\r\n%s\r\n' % (len(body), body))
    assert ms.response().ok
    assert ms.put("two words", GOOD).ok
    assert ms.cmd('PUTSCRIPT "q\\"uote" "keep;"').ok
    assert ms.list() == {"one": False, "two words": False, 'q"uote': False}
    assert int(st.status()["changelog_seq"]) > seq0
    # GETSCRIPT: a {N} literal, then OK
    ms.send('GETSCRIPT "one"\r\n')
    assert ms.readline() == b"{%d}" % len(body)
    assert ms.readn(len(body)) == body
    assert ms.response().ok
    # SETACTIVE, DELETESCRIPT of the active one refused
    assert ms.activate("one").ok
    assert ms.list()["one"] is True
    r = ms.cmd('DELETESCRIPT "one"')
    assert r.word == "NO" and r.code == "ACTIVE"
    r = ms.cmd('SETACTIVE "nope"')
    assert r.word == "NO" and r.code == "NONEXISTENT"
    # RENAMESCRIPT keeps the active flag
    r = ms.cmd('RENAMESCRIPT "one" "two words"')
    assert r.code == "ALREADYEXISTS"
    r = ms.cmd('RENAMESCRIPT "zzz" "x"')
    assert r.code == "NONEXISTENT"
    assert ms.cmd('RENAMESCRIPT "one" "uno"').ok
    assert ms.list() == {"uno": True, "two words": False, 'q"uote': False}
    # SETACTIVE "" deactivates; then the delete works
    assert ms.activate("").ok
    assert not any(ms.list().values())
    assert ms.cmd('DELETESCRIPT "uno"').ok
    r = ms.cmd('DELETESCRIPT "uno"')
    assert r.code == "NONEXISTENT"
    r = ms.cmd('GETSCRIPT "uno"')
    assert r.code == "NONEXISTENT"


def test_compile_errors_carry_line_numbers(st):
    ms = login(st)
    r = ms.put("bad", 'require "fileinto";\r\n\r\nif true {\r\n  bogus;\r\n}\r\n')
    assert r.word == "NO" and re.search(r"line \d+", r.text), r
    assert "bad" not in ms.list()
    assert ms.check(GOOD).ok
    r = ms.check('require "nosuchext";\r\n')
    assert r.word == "NO" and "line 1" in r.text


def test_quotas(st):
    ms = login(st)
    assert ms.cmd('HAVESPACE "a" 100').ok
    r = ms.cmd('HAVESPACE "a" 5000')
    assert r.word == "NO" and r.code == "QUOTA/MAXSIZE"
    r = ms.put("big", "keep;\r\n" + "#" * 3000 + "\r\n")
    assert r.word == "NO" and r.code == "QUOTA/MAXSIZE"
    for n in ("a", "b", "c"):
        assert ms.put(n, "keep;").ok
    r = ms.cmd('HAVESPACE "d" 10')
    assert r.code == "QUOTA/MAXSCRIPTS"
    r = ms.put("d", "keep;")
    assert r.word == "NO" and r.code == "QUOTA/MAXSCRIPTS"
    # replacing an existing one is fine
    assert ms.put("a", "discard;").ok
    r = ms.cmd('HAVESPACE "a" notanumber')
    assert r.word == "NO"


def test_noop_tag_unauthenticate_logout(st):
    ms = login(st)
    r = ms.cmd('NOOP "tag-42"')
    assert r.ok and r.code == 'TAG "tag-42"'
    assert ms.cmd("UNAUTHENTICATE").ok
    r = ms.cmd("LISTSCRIPTS")
    assert r.word == "NO" and r.text
    assert ms.auth_plain(ALICE, PW).ok
    r = ms.cmd("LOGOUT")
    assert r.ok and r.text is None
    assert ms.closed()


# --- bad input ----------------------------------------------------------------


def test_unknown_and_out_of_state_commands(st):
    ms = ManageSieve(st.port("sieve"))
    r = ms.cmd("FROBNICATE")
    assert r.word == "NO" and r.text
    r = ms.cmd('PUTSCRIPT "x" "keep;"')
    assert r.word == "NO" and r.text
    r = ms.cmd("LISTSCRIPTS")
    assert r.word == "NO"
    r = ms.cmd('UNAUTHENTICATE')
    assert r.word == "NO"
    ms.close()
    ms = login(st)
    r = ms.cmd("STARTTLS")
    assert r.word == "NO"
    r = ms.cmd('AUTHENTICATE "PLAIN" "x"')
    assert r.word == "NO"
    r = ms.cmd('PUTSCRIPT "x"')          # arity
    assert r.word == "NO"
    r = ms.cmd('GETSCRIPT x')            # atom where a string is needed
    assert r.word == "NO"
    assert alive(ms)


def test_syntax_errors(st):
    ms = login(st)
    for bad in ('PUTSCRIPT "unterminated', 'GETSCRIPT "a\\x"',
                '"quoted-verb"', '(', 'NOOP "a" "b" "c" "d" "e"'):
        r = ms.cmd(bad)
        assert r.word == "NO" and r.text, (bad, r)
    r = ms.cmd("x" * 20000)
    assert r.word == "NO"
    assert alive(ms)


def test_invalid_utf8(st):
    ms = login(st)
    r = ms.cmd(b'PUTSCRIPT "bad\xff\xfename" "keep;"\r\n')
    assert r.word == "NO"
    script = b'require "fileinto";\r\nfileinto "\xc3\x28";\r\n'
    r = ms.cmd(b'PUTSCRIPT "s" ' + ms.literal(script) + b"\r\n")
    assert r.word == "NO"
    assert alive(ms)


def test_literal_too_big_is_read_and_refused(st):
    ms = login(st)
    data = b"#" * 4096
    r = ms.cmd(b'PUTSCRIPT "big" {4096+}\r\n' + data + b"\r\n")
    assert r.word == "NO" and r.code == "QUOTA/MAXSIZE"
    assert alive(ms)


def test_huge_literal_announced(st):
    ms = login(st)
    ms.send(b'PUTSCRIPT "huge" {99999999999+}\r\n')
    r = ms.response()
    assert r.word == "BYE" and r.text
    assert ms.closed()
    assert login(st) is not None


def test_truncated_literal_then_disconnect(st):
    ms = login(st)
    ms.send(b'PUTSCRIPT "t" {100+}\r\nkeep;')
    ms.close()
    ms = login(st)
    assert "t" not in ms.list()
    assert alive(ms)


def test_too_many_bad_commands(st):
    ms = ManageSieve(st.port("sieve"))
    for _ in range(19):
        assert ms.cmd("BOGUS").word == "NO"
    r = ms.cmd("BOGUS")
    assert r.word == "NO"
    assert ms.response().word == "BYE"
    assert ms.closed()


# --- Cyrus sivtest --------------------------------------------------------------

SIVTEST = "/usr/lib/cyrus/bin/sivtest"


@pytest.mark.skipif(not os.path.exists(SIVTEST),
                    reason="cyrus-clients not installed")
@pytest.mark.parametrize("mech", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_sivtest(st, tmp_path, mech):
    import subprocess
    cmds = tmp_path / "cmds"
    cmds.write_text('PUTSCRIPT "siv" {6+}\r\nkeep;\r\nSETACTIVE "siv"\r\n'
                    'LISTSCRIPTS\r\nGETSCRIPT "siv"\r\nLOGOUT\r\n')
    p = subprocess.run(
        [SIVTEST, "-t", "", "-a", ALICE, "-u", ALICE, "-w", PW, "-m", mech,
         "-p", str(st.port("sieve")), "-f", str(cmds), "127.0.0.1"],
        capture_output=True, text=True, timeout=30,
        stdin=subprocess.DEVNULL)
    assert "Authenticated." in p.stdout, p.stdout + p.stderr
    assert '"siv" ACTIVE' in p.stdout, p.stdout
    assert "keep;" in p.stdout


def test_mux_style_login_on_unix_socket(store_factory):
    """What the mux does (rookery run): a Unix-socket listener, plaintext
    refused on TCP, PLAIN as the proxy identity with the user as authzid."""
    s = store_factory(listen=("lmtp",), start=False, allow_plaintext="no",
                      proxy_identities="mux@example.com")
    path = os.path.join(s.dir, "sieve.sock")
    with open(s.config_path, "a") as f:
        f.write("listen = sieve unix:%s\n" % path)
    s.start()
    s.add_user(ALICE, PW)
    s.add_user("mux@example.com", "pw-mux")
    ms = ManageSieve(None, unix=path)
    r = ms.auth_plain("mux@example.com", "pw-mux", authzid=ALICE)
    assert r.ok and r.text is None, r
    assert ms.put("viamux", "keep;").ok
    assert ms.list() == {"viamux": False}
