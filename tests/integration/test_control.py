"""The store's control socket (docs/control-protocol.md): the commands the
`rookery` CLI sends while a store runs."""

import socket

from conftest import split_quoted
from lmtp_helpers import RawLmtp, make_msg


def test_users(store):
    ok, data, final = store.control("user-list")
    assert ok and data == [] and final == "OK 0 users"
    store.control_ok('user-add "bob@example.com"')
    store.control_ok("user-add alice@example.com")
    ok, _, final = store.control("user-add alice@example.com")
    assert not ok and final.startswith("NO user-add: ")
    assert store.control_ok("user-list") == ["alice@example.com",
                                             "bob@example.com"]
    store.control_ok("user-del bob@example.com")
    ok, _, final = store.control("user-del bob@example.com")
    assert not ok
    assert store.control_ok("user-list") == ["alice@example.com"]


def test_mailboxes(store):
    store.control_ok("user-add alice@example.com")
    store.control_ok('mailbox-create alice@example.com "My Folder"')
    store.control_ok("mailbox-create alice@example.com Archive")
    store.control_ok('mailbox-create alice@example.com "Archive/2026"')
    ok, _, final = store.control("mailbox-create alice@example.com Archive")
    assert not ok
    ok, _, _ = store.control('mailbox-create alice@example.com "a//b"')
    assert not ok
    boxes = store.mailboxes("alice@example.com")
    assert set(boxes) == {"INBOX", "My Folder", "Archive", "Archive/2026"}
    assert boxes["INBOX"]["messages"] == 0
    ids = {b["id"] for b in boxes.values()}
    assert len(ids) == 4
    store.control_ok('mailbox-rename alice@example.com Archive Old')
    boxes2 = store.mailboxes("alice@example.com")
    assert set(boxes2) == {"INBOX", "My Folder", "Old", "Old/2026"}
    assert boxes2["Old"]["id"] == boxes["Archive"]["id"]
    ok, _, final = store.control("mailbox-delete alice@example.com Old")
    assert not ok   # has children
    store.control_ok('mailbox-delete alice@example.com "Old/2026"')
    store.control_ok("mailbox-delete alice@example.com Old")
    ok, _, _ = store.control("mailbox-delete alice@example.com INBOX")
    assert not ok
    ok, _, final = store.control("mailbox-list nobody@example.com")
    assert not ok and final.startswith("NO mailbox-list: ")


def test_quota_and_messages(store):
    store.control_ok("user-add alice@example.com")
    assert store.quota("alice@example.com") == {
        "bytes_used": 0, "bytes_limit": 0,
        "messages_used": 0, "messages_limit": 0}
    store.control_ok("quota-set alice@example.com 1000000 10")
    ok, _, final = store.control("quota-set alice@example.com lots 10")
    assert not ok
    c = RawLmtp(store.port("lmtp"))
    c.lhlo()
    for i in range(3):
        _, _, _, finals = c.transaction("s@example.org",
                                        ["alice@example.com"],
                                        make_msg("q%d" % i))
        assert finals[0].code == 250
    msgs = store.messages("alice@example.com")
    assert [m["uid"] for m in msgs] == [1, 2, 3]
    q = store.quota("alice@example.com")
    assert q["messages_used"] == 3 and q["messages_limit"] == 10
    assert q["bytes_used"] == sum(m["size"] for m in msgs)
    assert q["bytes_limit"] == 1000000


def test_status_and_help(store):
    store.control_ok("user-add alice@example.com")
    st = store.status()
    assert st["state"] == "running" and st["role"] == "primary"
    assert st["store"] == "ms1"
    assert st["users"] == "1" and st["messages"] == "0"
    assert int(st["pid"]) == store.pid
    helps = store.control_ok("help")
    assert any(h.startswith("quota-set ") for h in helps)


def test_reconstruct(store):
    store.control_ok("user-add alice@example.com")
    c = RawLmtp(store.port("lmtp"))
    c.lhlo()
    c.transaction("s@example.org", ["alice@example.com"], make_msg("r"))
    ok, data, final = store.control("reconstruct alice@example.com")
    assert ok, final
    summary = [d for d in data if d.startswith("mailboxes=")]
    assert summary and "unrecoverable=0" in summary[-1]
    assert len(store.messages("alice@example.com")) == 1


def test_errors_keep_the_connection(store):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(store.control_path)
        s.sendall(b'bogus\nuser-add\n"unterminated\n\x00\n'
                  + b"x" * 20000 + b"\nuser-list\nquit\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    lines = buf.decode().splitlines()
    assert lines[0].startswith("NO unknown command")
    assert lines[1] == "NO usage: user-add USER"
    assert lines[2].startswith("NO syntax error")
    assert lines[3].startswith("NO ")
    assert lines[4] == "NO line too long"
    assert lines[5] == "OK 0 users"
    assert lines[6] == "OK bye"


def test_split_quoted_roundtrip():
    assert split_quoted('"a b" c "d\\"e"') == ["a b", "c", 'd"e']


def test_changelog_retention(store_factory):
    """changelog_keep: rows older than the retention are deleted by the
    store's timer (logged), newer ones are kept, and sequence numbers go
    on from where they were."""
    import time
    st = store_factory(changelog_keep="1s")
    st.control_ok("user-add alice@example.com")
    c = RawLmtp(st.port("lmtp"))
    c.lhlo()
    for i in range(3):
        _, _, _, finals = c.transaction("s@example.org",
                                        ["alice@example.com"],
                                        make_msg("r%d" % i))
        assert finals[0].code == 250
    deadline = time.time() + 10
    while "event=changelog_expired" not in st.log_text():
        assert time.time() < deadline, "no changelog_expired line"
        time.sleep(0.2)
    line = [l for l in st.log_text().splitlines()
            if "event=changelog_expired" in l][0]
    assert "keep_secs=1 " in line
    rows = int(line.split("rows=")[1].split()[0])
    assert rows >= 1
    # the mail itself is untouched
    assert [m["uid"] for m in st.messages("alice@example.com")] == [1, 2, 3]
    last = int(st.status()["changelog_seq"])
    assert last >= 5
