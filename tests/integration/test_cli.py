"""The `rookery` admin CLI against a real store: every verb of the
foundation issue, over the control socket (store running) and directly on
the storage (store stopped), with the answers checked through the store
itself and through real clients (POP3 logins, LMTP deliveries)."""

import os
import poplib
import shlex
import shutil
import smtplib
import subprocess

import pytest

from conftest import BIN

MSG = (b"From: a@example.org\r\nTo: x@example.com\r\nSubject: cli %d\r\n"
       b"\r\nbody %d\r\n")


def rookery(store, *args, input=None, config=True):
    argv = [os.path.join(BIN, "rookery")]
    if config:
        argv += ["-c", store.config_path]
    argv += list(args)
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          timeout=60)


def ok(store, *args, input=None):
    r = rookery(store, *args, input=input)
    assert r.returncode == 0, "rookery %s: rc=%d\n%s%s" % (
        " ".join(args), r.returncode, r.stdout, r.stderr)
    return r.stdout


def pop3_login(store, user, password):
    p = poplib.POP3("127.0.0.1", store.port("pop3"), timeout=10)
    try:
        p.user(user)
        p.pass_(password)
        return p.stat()
    finally:
        try:
            p.quit()
        except Exception:
            pass


def deliver(store, rcpt, n=1, start=0):
    with smtplib.LMTP("127.0.0.1", store.port("lmtp")) as s:
        for i in range(start, start + n):
            s.sendmail("a@example.org", [rcpt], MSG % (i, i))


@pytest.mark.parametrize("running", [True, False], ids=["socket", "direct"])
def test_user_lifecycle(store, running):
    if not running:
        store.stop()
    ok(store, "user", "add", "carol@example.com", input="first pw\n")
    assert "carol@example.com" in ok(store, "user", "list").split()
    if not running:
        store.start()
    assert pop3_login(store, "carol@example.com", "first pw") == (0, 0)

    ok(store, "user", "passwd", "carol@example.com", input="second\n")
    with pytest.raises(poplib.error_proto):
        pop3_login(store, "carol@example.com", "first pw")
    assert pop3_login(store, "carol@example.com", "second") == (0, 0)

    deliver(store, "carol@example.com", 2)
    ok(store, "user", "del", "carol@example.com")
    assert "carol@example.com" not in ok(store, "user", "list").split()
    with pytest.raises(poplib.error_proto):
        pop3_login(store, "carol@example.com", "second")
    # Its mail went with it: a new delivery is refused as unknown.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        deliver(store, "carol@example.com")
    assert e.value.recipients["carol@example.com"][0] == 550


def test_user_add_errors(store):
    r = rookery(store, "user", "add", "not-an-address", input="x\n")
    assert r.returncode == 2
    assert "full address" in r.stderr
    r = rookery(store, "user", "add", "dave@example.com", input="\n")
    assert r.returncode == 1
    assert "empty password" in r.stderr
    ok(store, "user", "add", "dave@example.com", input="pw\n")
    r = rookery(store, "user", "add", "dave@example.com", input="pw\n")
    assert r.returncode == 1
    assert "exist" in r.stderr.lower()
    r = rookery(store, "user", "add", "erin@example.com", "--store", "nosuch",
                input="pw\n")
    assert r.returncode == 1
    assert store.name in r.stderr        # names the stores that exist
    r = rookery(store, "user", "add", "erin@example.com", "--quota", "12Q",
                input="pw\n")
    assert r.returncode == 2
    assert "not a size" in r.stderr


@pytest.mark.parametrize("running", [True, False], ids=["socket", "direct"])
def test_mailbox_verbs(store, make_user, running):
    user, _ = make_user("frank")
    if not running:
        store.stop()
    ok(store, "mailbox", "create", user, "Archive")
    ok(store, "mailbox", "create", user, "Archive/2026")
    ok(store, "mailbox", "create", user, "Old Stuff")
    listing = ok(store, "mailbox", "list", user)
    names = [shlex.split(line)[0] for line in listing.splitlines()]
    assert names[0] == "INBOX"
    assert {"Archive", "Archive/2026", "Old Stuff"} <= set(names)

    ok(store, "mailbox", "rename", user, "Old Stuff", "Older Stuff")
    ok(store, "mailbox", "delete", user, "Archive/2026")
    listing = ok(store, "mailbox", "list", user)
    assert '"Older Stuff" messages=' in listing
    assert "Archive/2026" not in listing

    for bad in ("../etc", "a//b", "/lead", "x/../y"):
        r = rookery(store, "mailbox", "create", user, bad)
        assert r.returncode == 1, bad
        assert r.stderr.startswith("rookery: "), r.stderr
    r = rookery(store, "mailbox", "delete", user, "INBOX")
    assert r.returncode == 1
    r = rookery(store, "mailbox", "create", user, "Archive")
    assert r.returncode == 1
    if not running:
        store.start()
    assert set(store.mailboxes(user)) >= {"INBOX", "Archive", "Older Stuff"}


def test_detail_delivery_uses_created_mailbox(store, make_user):
    user, _ = make_user("gina")
    ok(store, "mailbox", "create", user, "lists")
    deliver(store, "gina+lists@example.com")
    deliver(store, "gina+nosuch@example.com", start=1)
    boxes = store.mailboxes(user)
    assert boxes["lists"]["messages"] == 1
    assert boxes["INBOX"]["messages"] == 1


def test_quota(store, make_user):
    user, _ = make_user("hank")
    out = ok(store, "quota", user)
    assert "bytes_used=0" in out.replace(" ", "\n").split() or \
        "bytes_used=0" in out
    ok(store, "quota", user, "1K", "2")
    q = store.quota(user)
    assert int(q["bytes_limit"]) == 1024
    assert int(q["messages_limit"]) == 2
    deliver(store, user, 2)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        deliver(store, user, start=2)
    assert e.value.recipients[user][0] == 552
    ok(store, "quota", user, "unlimited", "unlimited")
    deliver(store, user, start=3)
    assert int(store.quota(user)["messages_used"]) == 3
    r = rookery(store, "quota", user, "lots")
    assert r.returncode == 2 and "not a size" in r.stderr


def test_status(store, make_user):
    user, _ = make_user("ivy")
    deliver(store, user, 3)
    out = ok(store, "status")
    assert out.startswith("store %s\n" % store.name)
    assert "state=running" in out
    assert "users=1" in out and "messages=3" in out
    store.stop()
    out = ok(store, "status")
    assert "state=stopped" in out and "messages=3" in out


def test_reconstruct_after_metadata_loss(store, make_user):
    user, password = make_user("jack")
    deliver(store, user, 5)
    before = {m["uid"]: m["guid"] for m in store.messages(user)}
    assert len(before) == 5
    store.stop()
    shutil.rmtree(os.path.join(store.data_dir, "db"))
    out = ok(store, "reconstruct", user)
    assert "flags" in out.lower()        # says what could not come back
    store.start()
    after = {m["uid"]: m["guid"] for m in store.messages(user)}
    assert after == before
    # The user can read the mail again, and new mail gets a new UID.
    assert pop3_login(store, user, password)[0] == 5
    deliver(store, user, start=5)
    assert max(m["uid"] for m in store.messages(user)) > max(before)


def test_reconstruct_running_store(store, make_user):
    user, _ = make_user("kim")
    deliver(store, user, 2)
    out = ok(store, "reconstruct", user, "INBOX")
    assert out.strip()
    assert len(store.messages(user)) == 2
    r = rookery(store, "reconstruct", user, "NoSuchBox")
    assert r.returncode == 1


def test_help_and_usage_errors(store):
    r = rookery(store, "--help", config=False)
    assert r.returncode == 0
    verbs = [line.split()[0] for line in r.stdout.splitlines()
             if line.startswith("  ") and not line.startswith("   ")
             and not line.strip().startswith("-")]
    for verb in ("user", "mailbox", "quota", "status", "reconstruct", "run"):
        assert verb in verbs
    for verb in verbs:
        h = rookery(store, verb, "--help", config=False)
        assert h.returncode == 0, verb
        assert "usage:" in h.stdout, verb
    r = rookery(store, "frobnicate", config=False)
    assert r.returncode == 2 and "unknown verb" in r.stderr
    r = rookery(store, "user", config=False)
    assert r.returncode == 2 and "usage:" in r.stderr
    r = subprocess.run([os.path.join(BIN, "rookery"), "-c",
                        "/nonexistent/rookery.conf", "user", "list"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "/nonexistent/rookery.conf" in r.stderr
    assert "-c FILE" in r.stderr


def test_password_never_from_argv(store):
    # An extra argument is refused rather than taken as the password.
    r = rookery(store, "user", "add", "lee@example.com", "secret",
                input="pw\n")
    assert r.returncode == 2
    assert "lee@example.com" not in ok(store, "user", "list").split()
