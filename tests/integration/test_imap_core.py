"""IMAP core of rookery-store: login paths, mailbox commands, SELECT
responses, APPEND/FETCH byte identity (20 MB literal), IDLE push of LMTP
deliveries, EXPUNGE timing between two sessions, bad input, and stock
clients (curl, imtest when installed)."""

import base64
import imaplib
import os
import re
import shutil
import subprocess
import time

import pytest

from imap_helpers import (ImapEnv, RawImap, client_tls_context,  # noqa: F401
                          fill_by_copy, imap_env, imap_user, imap_user2,
                          make_msg)


def msg_bytes(subject, size=0):
    body = b"hello\r\n"
    if size:
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW\r\n"
        body = line * (size // len(line) + 1)
    return make_msg(subject, body)


# --- greeting and login -----------------------------------------------------


def test_greeting_capability(imap_env):
    r = RawImap(imap_env.port)
    assert r.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    caps = r.greeting.split(b"]")[0].split()
    for c in (b"STARTTLS", b"AUTH=PLAIN", b"SASL-IR", b"LITERAL+", b"IDLE",
              b"UIDPLUS", b"ENABLE", b"CONDSTORE", b"QRESYNC", b"MOVE",
              b"SPECIAL-USE", b"LIST-EXTENDED", b"LIST-STATUS", b"ID"):
        assert c in caps, c
    lines = r.cmd("a", "CAPABILITY")
    assert lines[0].startswith(b"* CAPABILITY IMAP4rev1")
    assert lines[-1] == b"a OK CAPABILITY completed"
    assert r.cmd("b", "LOGOUT")[0] == b"* BYE Logging out"


def test_login_ok_and_fail(imap_env, imap_user):
    m = imap_env.login(imap_user)
    assert m.state == "AUTH"
    m.logout()
    m = imap_env.connect()
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(imap_user[0], "wrong")
    assert "AUTHENTICATIONFAILED" in str(e.value)


def test_authenticate_plain_sasl_ir(imap_env, imap_user):
    cred = base64.b64encode(b"\0" + imap_user[0].encode() + b"\0" +
                            imap_user[1].encode()).decode()
    r = RawImap(imap_env.port)
    lines = r.cmd("a", "AUTHENTICATE PLAIN " + cred)
    assert lines[-1].startswith(b"a OK [CAPABILITY "), lines
    r.close()
    # without the initial response: an empty continuation first
    r = RawImap(imap_env.port)
    r.send("b AUTHENTICATE PLAIN\r\n")
    assert r.line() == b"+ "
    r.send(cred + "\r\n")
    assert r.line().startswith(b"b OK"), "PLAIN without SASL-IR"
    # after login AUTHENTICATE is a state error
    assert r.cmd("c", "AUTHENTICATE PLAIN")[-1].startswith(b"c BAD")
    r.close()


def test_authenticate_cancel(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.send("a AUTHENTICATE PLAIN\r\n")
    assert r.line() == b"+ "
    r.send("*\r\n")
    assert r.line().startswith(b"a BAD")
    assert r.cmd("b", "NOOP")[-1] == b"b OK NOOP completed"


def test_logindisabled_then_starttls(store_factory):
    env = ImapEnv(store_factory(listen=("lmtp", "imap", "imaps"),
                                allow_plaintext="no"))
    user = env.st.add_user("carol@example.com", "pw-carol")
    r = RawImap(env.port)
    assert b"LOGINDISABLED" in r.greeting
    assert b"AUTH=PLAIN" not in r.greeting
    lines = r.cmd("a", "LOGIN carol@example.com pw-carol")
    assert lines[-1].startswith(b"a NO"), lines
    r.close()
    m = env.connect()
    m.starttls(ssl_context=client_tls_context())
    typ, caps = m.capability()
    assert b"LOGINDISABLED" not in caps[0]
    assert b"STARTTLS" not in caps[0]
    assert m.login(*user)[0] == "OK"
    m.logout()
    # implicit TLS
    m = env.login(user, tls=True)
    m.logout()


def test_replica_refuses_logins(store_factory):
    """DESIGN.md: a replica takes no client writes.  It still greets and
    answers CAPABILITY (monitoring), but a login gets NO [UNAVAILABLE]
    and the session stays usable for LOGOUT."""
    env = ImapEnv(store_factory(listen=("lmtp", "imap"), role="replica"))
    user = env.st.add_user("carol@example.com", "pw-carol")
    r = RawImap(env.port)
    lines = r.cmd("a", "CAPABILITY")
    assert lines[-1].startswith(b"a OK"), lines
    lines = r.cmd("b", "LOGIN %s %s" % user)
    assert lines[-1].startswith(b"b NO [UNAVAILABLE]"), lines
    assert b"replica" in lines[-1]
    lines = r.cmd("c", "LOGOUT")
    assert lines[-1].startswith(b"c OK"), lines
    r.close()
    assert "event=imap_login_refused" in env.st.log_text()


# --- mailboxes ------------------------------------------------------------------


def list_names(m, *args):
    typ, data = m.list(*args)
    assert typ == "OK"
    out = {}
    for d in data:
        if d is None:   # imaplib's way of saying "no LIST lines"
            continue
        mt = re.match(rb'\((.*?)\) "/" "?(.*?)"?$', d)
        out[mt.group(2).decode()] = mt.group(1).decode().split()
    return out


def test_special_use_at_first_login(imap_env, imap_user):
    m = imap_env.login(imap_user)
    names = list_names(m)
    assert names["INBOX"] == ["\\HasNoChildren"]
    for f in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert "\\" + f in names[f], names
    typ, data = m.lsub()
    assert any(b'"Sent"' in d for d in data)
    m.logout()


def test_mailbox_limit(store_factory):
    """max_mailboxes bounds what one user can make the store hold."""
    env = ImapEnv(store_factory(listen=("lmtp", "imap"), max_mailboxes="9"))
    user = env.st.add_user("carol@example.com", "pw-carol")
    m = env.login(user)
    provisioned = set(list_names(m))        # INBOX and 5 special-use
    assert len(provisioned) == 6, provisioned
    assert m.create("A")[0] == "OK"
    assert m.create("B/C")[0] == "OK"       # B and B/C: 9
    typ, data = m.create("D")
    assert typ == "NO" and data[0].startswith(b"[LIMIT]"), data
    typ, data = m.create("A")               # a name that exists says so
    assert typ == "NO" and b"ALREADYEXISTS" in data[0], data
    typ, data = m.create("B/C/E")           # existing superiors are fine
    assert typ == "NO" and data[0].startswith(b"[LIMIT]"), data
    assert "event=mstore_mailbox_limit user=carol@example.com max=9" \
        in env.st.log_tail(50)
    assert m.delete("A")[0] == "OK"
    assert m.create("D")[0] == "OK"
    assert set(list_names(m)) == provisioned | {"B", "B/C", "D"}
    m.logout()


def test_create_list_rename_delete(imap_env, imap_user):
    m = imap_env.login(imap_user)
    assert m.create("Work/2026/Q1")[0] == "OK"
    names = list_names(m)
    assert names["Work"] == ["\\HasChildren"]
    assert names["Work/2026/Q1"] == ["\\HasNoChildren"]
    typ, data = m.create("Work")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    assert m.create("inbox")[0] == "NO"
    assert set(list_names(m, '""', "Work/%")) == {"Work/2026"}
    assert set(list_names(m, "Work", "*")) == {"Work/2026", "Work/2026/Q1"}
    assert list_names(m, '""', "inBox") == {"INBOX": ["\\HasNoChildren"]}
    assert m.rename("Work", "Job")[0] == "OK"
    assert "Job/2026/Q1" in list_names(m) and "Work" not in list_names(m)
    typ, data = m.rename("Nope", "X")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    typ, data = m.delete("Job")
    assert typ == "NO"
    assert m.delete("Job/2026/Q1")[0] == "OK"
    assert m.delete("Job/2026")[0] == "OK"
    assert m.delete("Job")[0] == "OK"
    typ, data = m.delete("INBOX")
    assert typ == "NO"
    typ, data = m.delete("Job")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    # the empty pattern asks for the separator
    typ, data = m.list('""', '""')
    assert data == [b'(\\Noselect) "/" ""']
    m.logout()


def test_list_wildcards(imap_env, imap_user):
    """'*' and '%' in LIST patterns, and a hostile pattern: many stars
    against a long name that almost matches used to backtrack for
    minutes (exponentially in the stars) inside the store's loop."""
    m = imap_env.login(imap_user)
    long = "a" * 60
    for name in (long, "x/y/z", "xa/b", "x%y"):
        assert m.create(name)[0] == "OK"
    assert set(list_names(m, '""', "x%")) == {"x", "xa", "x%y"}
    assert set(list_names(m, '""', "x*")) == {"x", "x/y", "x/y/z", "xa",
                                             "xa/b", "x%y"}
    assert set(list_names(m, '""', "%/%")) == {"x/y", "xa/b"}
    assert set(list_names(m, '""', "*/z")) == {"x/y/z"}
    assert set(list_names(m, '""', "x*y*")) == {"x/y", "x/y/z", "x%y"}
    some = set(list_names(m, '""', "%a%"))   # Drafts, Trash... too
    assert {long, "xa"} <= some and "xa/b" not in some
    assert set(list_names(m, '""', "*a*a*a")) == {long}
    m.sock.settimeout(20)   # a backtracking matcher would never answer
    t0 = time.monotonic()
    assert list_names(m, '""', "*a" * 40 + "*b") == {}
    assert list_names(m, '""', "%a" * 40 + "%b") == {}
    assert set(list_names(m, '""', "*a" * 40 + "*")) == {long}
    assert time.monotonic() - t0 < 5
    m.logout()


def test_rename_inbox(imap_env, imap_user):
    imap_env.deliver(imap_user[0], msg_bytes("one"))
    m = imap_env.login(imap_user)
    assert m.rename("INBOX", "Old")[0] == "OK"
    assert m.select("Old")[1] == [b"1"]
    assert m.select("INBOX")[1] == [b"0"]
    m.logout()


def test_utf7_names(imap_env, imap_user):
    m = imap_env.login(imap_user)
    assert m.create("&ZeVnLIqe-")[0] == "OK"          # 日本語
    assert m.create("Entw&APw-rfe")[0] == "OK"        # Entwürfe
    names = list_names(m)
    assert "&ZeVnLIqe-" in names and "Entw&APw-rfe" in names
    boxes = imap_env.st.mailboxes(imap_user[0])
    assert "日本語" in boxes and "Entwürfe" in boxes
    m.logout()


def test_subscribe_and_list_extended(imap_env, imap_user):
    m = imap_env.login(imap_user)
    m.create("Lists")
    assert m.subscribe("Lists")[0] == "OK"
    typ, data = m.lsub('""', "L*")
    assert data == [b'(\\HasNoChildren) "/" "Lists"']
    assert m.unsubscribe("Lists")[0] == "OK"
    assert m.lsub('""', "L*")[1] == [None]
    typ, data = m.subscribe("Missing")
    assert typ == "NO"
    typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"',
                                  "RETURN", "(SPECIAL-USE STATUS (MESSAGES))")
    assert typ == "OK"
    lst = m.untagged_responses.pop("LIST", [])
    st = m.untagged_responses.pop("STATUS", [])
    assert len(lst) == 5 and len(st) == 5, (lst, st)
    assert all(b"MESSAGES 0" in s for s in st)
    typ, data = m._simple_command("CREATE", '"Old Stuff"',
                                  "(USE (\\Archive))")
    assert typ == "OK"
    assert "\\Archive" in list_names(m, '""', '"Old Stuff"')["Old Stuff"]
    m.logout()


def test_status(imap_env, imap_user):
    msg = msg_bytes("st")
    imap_env.deliver(imap_user[0], msg)
    imap_env.deliver(imap_user[0], msg)
    m = imap_env.login(imap_user)
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
                         "RECENT HIGHESTMODSEQ SIZE)")
    assert typ == "OK"
    s = data[0].decode()
    assert "MESSAGES 2" in s and "UIDNEXT 3" in s and "UNSEEN 2" in s
    size = sum(x["size"] for x in imap_env.st.messages(imap_user[0]))
    assert "SIZE %d" % size in s
    typ, data = m.status("Nope", "(MESSAGES)")
    assert typ == "NO"
    with pytest.raises(imaplib.IMAP4.error):
        m.status("INBOX", "(BOGUS)")
    m.logout()


# --- SELECT / EXAMINE ---------------------------------------------------------


def test_select_examine_responses(imap_env, imap_user):
    imap_env.deliver(imap_user[0], msg_bytes("a"))
    r = RawImap(imap_env.port)
    r.login(imap_user)
    lines = r.cmd("s", "SELECT INBOX")
    text = b"\n".join(lines)
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in text
    assert b"* 1 EXISTS" in text and b"* 1 RECENT" in text
    assert b"* OK [UNSEEN 1]" in text
    assert re.search(rb"\* OK \[UIDVALIDITY \d+\]", text)
    assert b"* OK [UIDNEXT 2]" in text
    assert b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen " \
           b"\\Draft \\*)]" in text
    assert re.search(rb"\* OK \[HIGHESTMODSEQ \d+\]", text)
    assert lines[-1] == b"s OK [READ-WRITE] SELECT completed"
    lines = r.cmd("e", "EXAMINE INBOX")
    assert lines[0] == b"* OK [CLOSED] Previous mailbox closed"
    assert b"* OK [PERMANENTFLAGS ()] Limited" in lines
    # \Recent went to the first session
    assert b"* 0 RECENT" in lines
    assert lines[-1] == b"e OK [READ-ONLY] EXAMINE completed"
    assert r.cmd("x", "STORE 1 +FLAGS (\\Seen)")[-1].startswith(b"x NO")
    assert r.cmd("n", "SELECT Nope")[-1].startswith(b"n NO [NONEXISTENT]")
    assert r.cmd("f", "FETCH 1 FLAGS")[-1].startswith(b"f BAD")
    # ENABLE IMAP4rev2: no RECENT, a LIST response
    r.cmd("en", "ENABLE IMAP4rev2 CONDSTORE")
    lines = r.cmd("s2", "SELECT INBOX (CONDSTORE)")
    assert not any(b"RECENT" in l for l in lines)
    assert b'* LIST () "/" "INBOX"' in lines
    lines = r.cmd("f2", "FETCH 1 (FLAGS)")
    assert re.match(rb"\* 1 FETCH \(FLAGS \(\) MODSEQ \(\d+\)\)", lines[0])
    assert r.cmd("u", "UNSELECT")[-1] == b"u OK UNSELECT completed"
    r.close()


def test_qresync_select(imap_env, imap_user):
    for i in range(3):
        imap_env.deliver(imap_user[0], msg_bytes("q%d" % i))
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("e", "ENABLE QRESYNC")
    lines = r.cmd("s", "SELECT INBOX")
    uv = re.search(rb"UIDVALIDITY (\d+)", b" ".join(lines)).group(1)
    ms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(lines)).group(1))
    r.cmd("st", "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x", "EXPUNGE")
    assert b"* VANISHED 1" in lines
    r.cmd("st2", "UID STORE 2 +FLAGS.SILENT (\\Flagged)")
    r.cmd("c", "CLOSE")
    lines = r.cmd("s2", "SELECT INBOX (QRESYNC (%s %d))" % (uv.decode(), ms))
    assert b"* VANISHED (EARLIER) 1" in lines, lines
    assert any(re.match(rb"\* 1 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ",
                        l) for l in lines), lines
    r.close()


# --- APPEND and FETCH -----------------------------------------------------------


def fetch_body(m, uid):
    typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
    assert typ == "OK", data
    return data[0][1]


def test_append_fetch_identical(imap_env, imap_user):
    m = imap_env.login(imap_user)
    msg = msg_bytes("appended")
    typ, data = m.append("INBOX", "(\\Flagged $Work)",
                         '"24-Nov-2026 10:11:12 +0100"', msg)
    assert typ == "OK"
    mt = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    uid = int(mt.group(2))
    m.select("INBOX")
    assert fetch_body(m, uid) == msg
    typ, data = m.uid("FETCH", str(uid),
                      "(FLAGS INTERNALDATE RFC822.SIZE UID)")
    d = data[0].decode()
    assert "\\Flagged" in d and "$Work" in d
    assert 'INTERNALDATE "24-Nov-2026 10:11:12 +0100"' in d
    assert "RFC822.SIZE %d" % len(msg) in d
    typ, data = m.append("Nope", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()


def test_append_20mb_literal(imap_env, imap_user):
    m = imap_env.login(imap_user)
    msg = msg_bytes("big", 20 * 1024 * 1024)
    typ, data = m.append("INBOX", None, None, msg)
    assert typ == "OK", data
    m.select("INBOX", readonly=True)
    assert fetch_body(m, 1) == msg
    assert imap_env.st.message_file(imap_user[0], 1) == msg
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT]<0.10> BODY.PEEK[HEADER])")
    assert data[0][1] == msg[msg.index(b"\r\n\r\n") + 4:][:10]
    m.logout()
    # a TLS link reads it back through the same path
    m = imap_env.login(imap_user, tls=True)
    m.select("INBOX", readonly=True)
    assert fetch_body(m, 1) == msg
    m.logout()


def test_multiappend_and_nonsync_literal(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    a, b = msg_bytes("m1"), msg_bytes("m2")
    r.send(b"A APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s\r\n"
           % (len(a), a, len(b), b))
    lines = r.until_tagged("A")
    assert re.match(rb"A OK \[APPENDUID \d+ 1:2\]", lines[-1]), lines
    r.send(b"B APPEND INBOX {%d}\r\n" % len(a))
    assert r.line().startswith(b"+ ")
    r.send(a + b"\r\n")
    assert r.until_tagged("B")[-1].startswith(b"B OK [APPENDUID")
    r.close()
    assert [x["uid"] for x in imap_env.st.messages(imap_user[0])] == [1, 2, 3]


def test_fetch_items(imap_env, imap_user):
    msg = (b"From: A <a@example.org>\r\nTo: b@example.com\r\n"
           b"Subject: parts\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
           b"--XX\r\nContent-Type: text/html\r\n\r\n<b>second</b>\r\n"
           b"--XX--\r\n")
    imap_env.deliver(imap_user[0], msg)
    m = imap_env.login(imap_user)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] "
                        "BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    parts = [d for d in data[0] if isinstance(d, bytes)]
    assert b"first" == data[0][1]
    flat = b"".join(x if isinstance(x, bytes) else b"".join(x)
                    for x in data)
    assert b"Content-Type: text/html\r\n\r\n" in flat
    assert b"Subject: parts\r\n\r\n" in flat
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[TEXT])")
    flat = b"".join(x if isinstance(x, bytes) else b"".join(x)
                    for x in data)
    assert b"\\Seen" in flat
    typ, data = m.fetch("1", "(ENVELOPE BODYSTRUCTURE)")
    assert b'"parts"' in data[0] and b'"mixed"' in data[0].lower()
    with pytest.raises(imaplib.IMAP4.error):
        m.fetch("5", "(FLAGS)")
    del parts
    m.logout()


def test_store_copy_move_search(imap_env, imap_user):
    for i in range(4):
        imap_env.deliver(imap_user[0], msg_bytes("s%d" % i))
    m = imap_env.login(imap_user)
    m.select("INBOX")
    typ, data = m.store("1:2", "+FLAGS", "(\\Seen $Label1)")
    assert typ == "OK" and len(data) == 2
    assert m.search(None, "SEEN")[1] == [b"1 2"]
    assert m.search(None, "UNSEEN")[1] == [b"3 4"]
    assert m.search(None, "KEYWORD", "$Label1")[1] == [b"1 2"]
    assert m.search(None, "SUBJECT", "s3")[1] == [b"4"]
    assert m.search(None, "OR", "SUBJECT", "s0", "SUBJECT", "s2")[1] == \
        [b"1 3"]
    assert m.search(None, "NOT", "SEEN", "LARGER", "10")[1] == [b"3 4"]
    assert m.uid("SEARCH", "UID", "2:3")[1] == [b"2 3"]
    assert m.search(None, "SINCE", "1-Jan-2000")[1] == [b"1 2 3 4"]
    assert m.search(None, "BEFORE", "1-Jan-2000")[1] == [b""]
    typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)",
                                  "ALL")
    es = m.untagged_responses.pop("ESEARCH", [b""])[0]
    assert b"MIN 1 MAX 4 COUNT 4" in es, es
    m.create("Dest")
    typ, data = m.copy("1:2", "Dest")
    assert typ == "OK" and b"COPYUID" in data[0]
    typ, data = m._simple_command("MOVE", "3", "Dest")
    assert typ == "OK"
    assert m.select("INBOX")[1] == [b"3"]
    assert m.select("Dest")[1] == [b"3"]
    typ, data = m.copy("1", "Nope")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        m.store("1", "+FLAGS", "(\\Bogus)")
    m.logout()


# --- notifications ----------------------------------------------------------------


def test_idle_sees_lmtp_delivery(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("s", "SELECT INBOX")
    r.send("i IDLE\r\n")
    assert r.line() == b"+ idling"
    worst = 0
    for n in range(1, 4):
        imap_env.deliver(imap_user[0], msg_bytes("idle%d" % n))
        t_done = time.monotonic()
        line, _ = r.wait_for(lambda l: l.endswith(b"EXISTS"), 2.0)
        assert line == b"* %d EXISTS" % n, line
        worst = max(worst, time.monotonic() - t_done)
    assert worst < 0.1, "EXISTS came %.3fs after the delivery" % worst
    r.send("DONE\r\n")
    lines = r.until_tagged("i")
    assert lines[-1] == b"i OK IDLE terminated"
    r.close()


def test_idle_sees_flags_and_expunge_of_other_session(imap_env, imap_user):
    imap_env.deliver(imap_user[0], msg_bytes("x1"))
    imap_env.deliver(imap_user[0], msg_bytes("x2"))
    a = imap_env.login(imap_user)
    a.select("INBOX")
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("s", "SELECT INBOX")
    r.send("i IDLE\r\n")
    assert r.line() == b"+ idling"
    a.store("1", "+FLAGS", "(\\Flagged)")
    line, secs = r.wait_for(lambda l: b"FETCH" in l, 2.0)
    assert line is not None and b"\\Flagged" in line and secs < 0.5
    a.store("2", "+FLAGS", "(\\Deleted)")
    a.expunge()
    line, secs = r.wait_for(lambda l: l.endswith(b"EXPUNGE"), 2.0)
    assert line == b"* 2 EXPUNGE" and secs < 0.5
    r.send("DONE\r\n")
    r.until_tagged("i")
    a.logout()


def test_expunge_seen_at_the_right_moment(imap_env, imap_user):
    for i in range(3):
        imap_env.deliver(imap_user[0], msg_bytes("e%d" % i))
    a = imap_env.login(imap_user)
    a.select("INBOX")
    b = RawImap(imap_env.port)
    b.login(imap_user)
    b.cmd("s", "SELECT INBOX")
    a.store("2", "+FLAGS", "(\\Deleted)")
    a.expunge()
    # no EXPUNGE during FETCH, STORE, SEARCH (RFC 3501 7.4.1)
    lines = b.cmd("f", "FETCH 1:3 (UID)")
    assert not any(l.endswith(b"EXPUNGE") for l in lines), lines
    assert sum(1 for l in lines if b"FETCH (UID" in l) == 2
    lines = b.cmd("st", "STORE 3 +FLAGS (\\Seen)")
    assert not any(l.endswith(b"EXPUNGE") for l in lines), lines
    lines = b.cmd("se", "SEARCH ALL")
    assert not any(l.endswith(b"EXPUNGE") for l in lines), lines
    assert b"* SEARCH 1 3" in lines
    lines = b.cmd("n", "NOOP")
    assert b"* 2 EXPUNGE" in lines, lines
    lines = b.cmd("f2", "FETCH 1:* (UID)")
    assert [l for l in lines if b"FETCH (" in l] == [
        b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 3)"]
    a.logout()
    b.close()


def wait_for_log(st, text, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in st.log_tail(400):
            return True
        time.sleep(0.05)
    return False


def test_large_expunge_in_slices(imap_env, imap_user):
    """An EXPUNGE of thousands runs a slice per loop turn: the other
    sessions are served meanwhile, and the answer is the same as one
    expunge: every number, highest-first order kept per RFC 3501 (each
    EXPUNGE renumbers), then the tagged OK; UID EXPUNGE and CLOSE too."""
    for i in range(4):
        imap_env.deliver(imap_user[0], msg_bytes("big%d" % i))
    a = RawImap(imap_env.port)
    a.login(imap_user)
    fill_by_copy(a, 2600)
    b = RawImap(imap_env.port)
    b.login(imap_user)
    b.cmd("s", "SELECT INBOX")
    # UID EXPUNGE of 1,500 of the 2,501 \Deleted ones (UIDs 100-2600)
    assert a.cmd("d", "UID STORE 100:2600 +FLAGS.SILENT (\\Deleted)")[-1] \
        .startswith(b"d OK")
    assert re.search(r"event=imap_store_sliced session=\S+ mailbox=\S+ "
                     r"messages=2501 changed=2501 slices=3 result=ok",
                     imap_env.st.log_tail(400))
    # a non-silent STORE in slices answers every FETCH; a conditional
    # one collects MODIFIED over all its slices
    lines = a.cmd("fl", "STORE 1:1500 +FLAGS (\\Flagged)")
    assert lines[-1] == b"fl OK STORE completed", lines[-1]
    assert sum(1 for l in lines if b" FETCH (FLAGS (" in l) == 1500
    lines = a.cmd("cs", "STORE 1:2000 (UNCHANGEDSINCE 1) +FLAGS.SILENT "
                        "(\\Seen)")
    assert lines[-1] == b"cs OK [MODIFIED 1:2000] Conditional STORE failed", \
        lines[-1]
    lines = a.cmd("x", "UID EXPUNGE 1101:2600")
    assert lines[-1].startswith(b"x OK"), lines[-1]
    nums = [int(l.split()[1]) for l in lines if l.endswith(b" EXPUNGE")]
    assert len(nums) == 1500
    # UIDs 1101-2600 are message numbers 1101-2600; each removal is
    # reported against the numbering left by the ones before it
    left = list(range(1, 2601))
    for n in nums:
        assert 1101 <= left[n - 1] <= 2600
        del left[n - 1]
    assert left == list(range(1, 1101))
    lines = b.cmd("n", "NOOP")
    assert sum(1 for l in lines if l.endswith(b" EXPUNGE")) == 1500
    assert re.search(r"event=imap_expunge_sliced session=\S+ mailbox=\S+ "
                     r"messages=1500 slices=2 result=ok",
                     imap_env.st.log_tail(400))
    # plain EXPUNGE of the other 1,001 \Deleted, with b talking meanwhile
    a.send("x2 EXPUNGE\r\n")
    assert b.cmd("n2", "NOOP")[-1].startswith(b"n2 OK")
    lines = a.until_tagged("x2")
    assert lines[-1].startswith(b"x2 OK"), lines[-1]
    assert sum(1 for l in lines if l.endswith(b" EXPUNGE")) == 1001
    assert b"* SEARCH " + b" ".join(b"%d" % i for i in range(1, 100)) \
        in a.cmd("se", "UID SEARCH ALL")
    # CLOSE expunges silently
    fill_by_copy(a, 2400)
    assert a.cmd("d2", "STORE 1:* +FLAGS.SILENT (\\Deleted)")[-1] \
        .startswith(b"d2 OK")
    lines = a.cmd("c", "CLOSE")
    assert lines == [b"c OK CLOSE completed"], lines[:3]
    lines = a.cmd("s2", "SELECT INBOX")
    assert b"* 0 EXISTS" in lines, lines
    a.close()
    b.close()


def test_large_copy_and_move(imap_env, imap_user):
    """COPY and MOVE of more than one engine transaction (2,000): one
    COPYUID for the whole set, every EXPUNGE of a MOVE."""
    imap_env.deliver(imap_user[0], msg_bytes("cm"))
    a = RawImap(imap_env.port)
    a.login(imap_user)
    fill_by_copy(a, 4500)
    assert a.cmd("c", "CREATE Dest")[-1].startswith(b"c OK")
    lines = a.cmd("cp", "COPY 1:* Dest")
    assert re.match(rb"cp OK \[COPYUID \d+ 1:4500 1:4500\]", lines[-1]), \
        lines[-1]
    lines = a.cmd("mv", "MOVE 1:* Dest")
    assert lines[-1].startswith(b"mv OK"), lines[-1]
    assert re.match(rb"\* OK \[COPYUID \d+ 1:4500 4501:9000\]", lines[0]), \
        lines[0]
    assert sum(1 for l in lines if l.endswith(b" EXPUNGE")) == 4500
    assert b"(MESSAGES 9000)" in a.cmd("st", "STATUS Dest (MESSAGES)")[0]
    log = imap_env.st.log_tail(400)
    assert re.search(r"event=imap_copy_sliced .*op=copy .*messages=4500 "
                     r"slices=5 result=ok", log)
    assert re.search(r"event=imap_copy_sliced .*op=move .*messages=4500 "
                     r"slices=5 result=ok", log)
    # a COPY that runs over the quota in its third slice leaves nothing
    imap_env.st.control_ok("quota-set %s 0 11000" % imap_user[0])
    a.cmd("s", "SELECT Dest")
    lines = a.cmd("cp2", "COPY 1:4500 INBOX")
    assert lines[-1].startswith(b"cp2 NO [OVERQUOTA]"), lines[-1]
    assert b"(MESSAGES 0)" in a.cmd("st2", "STATUS INBOX (MESSAGES)")[0]
    assert imap_env.st.quota(imap_user[0])["messages_used"] == 9000
    assert re.search(r"event=imap_copy_sliced .*op=copy .*messages=0 "
                     r"slices=3 result=overquota",
                     imap_env.st.log_tail(400))
    a.close()


def four_kinds_4096(imap_env, imap_user):
    """INBOX of 4,096 messages, message i a copy of s((i - 1) % 4) whose
    body holds "tok((i - 1) % 4)"; returns two sessions, a with INBOX
    selected."""
    for i in range(4):
        imap_env.deliver(imap_user[0], make_msg(
            "s%d" % i, b"word tok%d here\r\n" % i))
    a = RawImap(imap_env.port)
    a.login(imap_user)
    fill_by_copy(a, 4096)
    b = RawImap(imap_env.port)
    b.login(imap_user)
    return a, b


def sliced(a, b, tag, text):
    """Sends a command on a, has b served meanwhile, returns a's lines."""
    a.send("%s %s\r\n" % (tag, text))
    assert b.cmd("n", "NOOP")[-1].startswith(b"n OK")
    return a.until_tagged(tag)


def test_long_search_in_slices(imap_env, imap_user):
    """A SEARCH that reads thousands of message files goes on over
    several turns of the store's loop, another session being served in
    between, and answers exactly as in one go: SEARCH, ESEARCH, SAVE."""
    a, b = four_kinds_4096(imap_env, imap_user)
    lines = sliced(a, b, "f", "SEARCH BODY tok2")
    assert lines[-1] == b"f OK SEARCH completed", lines[-1]
    want = [i for i in range(1, 4097) if i % 4 == 3]
    assert lines[0] == b"* SEARCH " + b" ".join(b"%d" % i for i in want)
    m = re.findall(r"event=imap_search_sliced session=\S+ command=SEARCH "
                   r"mailbox=\S+ messages=4096 matched=1024 slices=(\d+)",
                   imap_env.st.log_tail(400))
    assert m and int(m[-1]) >= 2, m
    lines = a.cmd("e", "UID SEARCH RETURN (MIN MAX COUNT SAVE) TEXT tok1")
    assert lines[0].endswith(b"UID MIN 2 MAX 4094 COUNT 1024"), lines[0]
    lines = a.cmd("g", "FETCH $ (UID)")
    assert sum(1 for l in lines if b" FETCH (UID " in l) == 1024
    a.close()
    b.close()


def test_long_sort_and_thread_in_slices(imap_env, imap_user):
    """SORT and THREAD search their criteria in slices as SEARCH does,
    another session served in between, then sort or thread the matches:
    the same answers as in one go."""
    a, b = four_kinds_4096(imap_env, imap_user)
    lines = sliced(a, b, "o", "SORT (REVERSE SUBJECT) UTF-8 "
                   "OR BODY tok1 BODY tok2")
    assert lines[-1] == b"o OK SORT completed", lines[-1]
    want = ([i for i in range(1, 4097) if i % 4 == 3] +
            [i for i in range(1, 4097) if i % 4 == 2])
    assert lines[0] == b"* SORT " + b" ".join(b"%d" % i for i in want)
    lines = a.cmd("u", "UID SORT RETURN (COUNT MIN) (SUBJECT) UTF-8 "
                  "BODY tok3")
    assert lines[0].endswith(b"UID MIN 4 COUNT 1024"), lines[0]
    lines = sliced(a, b, "t", "THREAD ORDEREDSUBJECT UTF-8 BODY tok2")
    assert lines[-1] == b"t OK THREAD completed", lines[-1]
    assert lines[0].startswith(b"* THREAD (3 "), lines[0][:40]
    got = [int(x) for x in re.findall(rb"\d+", lines[0])]
    assert got == [i for i in range(1, 4097) if i % 4 == 3]
    log = imap_env.st.log_tail(400)
    for cmd, matched in (("SORT", 2048), ("SORT", 1024),
                         ("THREAD", 1024)):
        m = re.findall(r"event=imap_search_sliced session=\S+ command=%s "
                       r"mailbox=\S+ messages=4096 matched=%d slices=(\d+)"
                       % (cmd, matched), log)
        assert m and int(m[-1]) >= 2, (cmd, matched, m)
    a.close()
    b.close()


def test_shutdown_during_large_copy_keeps_it_whole(imap_env, imap_user):
    """SIGTERM while a COPY works through its slices: the session is told
    BYE and the COPY is either all there or not at all (the slices done
    are taken back), after a restart too."""
    imap_env.deliver(imap_user[0], msg_bytes("sd"))
    a = RawImap(imap_env.port)
    a.login(imap_user)
    fill_by_copy(a, 8192)
    assert a.cmd("c", "CREATE Dest")[-1].startswith(b"c OK")
    a.send("cp COPY 1:* Dest\r\n")
    time.sleep(0.05)
    assert imap_env.st.stop() == 0
    log = imap_env.st.log_tail(400)
    abandoned = "event=imap_job_abandoned" in log
    assert abandoned or "op=copy src=" in log, log[-2000:]
    imap_env.st.start()
    copied = imap_env.st.mailboxes(imap_user[0])["Dest"]["messages"]
    assert copied == (0 if abandoned else 8192)
    assert imap_env.st.quota(imap_user[0])["messages_used"] == 8192 + copied


def test_session_gone_during_large_expunge(imap_env, imap_user):
    """A client that leaves in the middle of a sliced EXPUNGE: what it
    asked for is done (its input is not read until the reply), nothing
    else is lost, and the next session sees a consistent mailbox."""
    for i in range(4):
        imap_env.deliver(imap_user[0], msg_bytes("gone%d" % i))
    a = RawImap(imap_env.port)
    a.login(imap_user)
    fill_by_copy(a, 5000)
    a.cmd("d", "STORE 2501:5000 +FLAGS.SILENT (\\Deleted)")
    a.send("x EXPUNGE\r\n")
    a.sock.close()
    b = RawImap(imap_env.port)
    b.login(imap_user)
    log = "messages=2500 slices=3 result=ok"
    assert wait_for_log(imap_env.st, log)
    lines = b.cmd("s", "SELECT INBOX")
    assert b"* 2500 EXISTS" in lines, lines
    lines = b.cmd("f", "UID FETCH 1:* (FLAGS)")
    fetched = [l for l in lines if b" FETCH (" in l]
    assert len(fetched) == 2500
    assert not any(b"\\Deleted" in l for l in fetched)
    b.close()


def big_mailbox(imap_env, imap_user, n):
    """INBOX and a mailbox "Big" of n messages each; a session on them."""
    imap_env.deliver(imap_user[0], msg_bytes("big-%d" % n))
    a = RawImap(imap_env.port)
    a.login(imap_user)
    fill_by_copy(a, n)
    assert a.cmd("c", "CREATE Big")[-1].startswith(b"c OK")
    assert a.cmd("c", "COPY 1:* Big")[-1].startswith(b"c OK")
    return a


def test_large_delete_in_slices(imap_env, imap_user):
    """DELETE of a mailbox of thousands: gone at once, its records removed
    a step per loop turn with another session served in between, the
    tagged OK after the last; the directory goes with the last records,
    so a restart finds nothing left to clean."""
    a = big_mailbox(imap_env, imap_user, 5000)
    assert a.cmd("s", "SELECT Big")[-1].startswith(b"s OK")
    b = RawImap(imap_env.port)
    b.login(imap_user)
    lines = sliced(a, b, "d", "DELETE Big")
    assert lines == [b"* OK [CLOSED] Mailbox deleted",
                     b"d OK DELETE completed"], lines
    assert re.search(r"event=imap_delete_sliced session=\S+ mailbox=\S+ "
                     r"slices=([3-9]|\d\d+) result=ok",
                     imap_env.st.log_tail(400))
    assert "Big" not in imap_env.st.mailboxes(imap_user[0])
    assert imap_env.st.quota(imap_user[0])["messages_used"] == 5000
    a.close()
    b.close()
    imap_env.st.restart()
    assert "mstore_deleted_dir_removed" not in imap_env.st.log_tail(100)
    assert imap_env.st.quota(imap_user[0])["messages_used"] == 5000


def test_crash_during_large_delete(imap_env, imap_user):
    """SIGKILL while DELETE removes the records of a big mailbox: after
    the restart the mailbox is gone, its leftovers cleaned, the quota
    right, and the name can be used again."""
    a = big_mailbox(imap_env, imap_user, 8192)
    a.send("d DELETE Big\r\n")
    time.sleep(0.05)
    imap_env.st.kill()
    imap_env.st.start()
    assert "Big" not in imap_env.st.mailboxes(imap_user[0])
    assert imap_env.st.quota(imap_user[0])["messages_used"] == 8192
    b = RawImap(imap_env.port)
    b.login(imap_user)
    assert b.cmd("c", "CREATE Big")[-1].startswith(b"c OK")
    assert b.cmd("s", "SELECT INBOX")[-1].startswith(b"s OK")
    assert b.cmd("c", "COPY 1:10 Big")[-1].startswith(b"c OK")
    lines = b.cmd("s", "SELECT Big")
    assert b"* 10 EXISTS" in lines, lines
    b.close()


def test_new_mail_reported_on_noop(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("s", "SELECT INBOX")
    imap_env.deliver(imap_user[0], msg_bytes("n1"))
    lines = r.cmd("n", "NOOP")
    assert b"* 1 EXISTS" in lines and b"* 1 RECENT" in lines
    r.close()


# --- bad input ------------------------------------------------------------------------


def test_bad_input(imap_env, imap_user):
    r = RawImap(imap_env.port)
    assert r.cmd("a", "FROB")[-1].startswith(b"a BAD")
    assert r.cmd("b", "SELECT INBOX")[-1].startswith(b"b BAD")
    r.send(b"c NOOP " + b"x" * 100000 + b"\r\n")
    assert r.line() == b"c BAD Line too long"  # the tag is recovered
    assert r.cmd("d", "LOGIN (a (b) c")[-1].startswith(b"d BAD")
    assert r.cmd("e", "LOGIN a) b")[-1].startswith(b"e BAD")
    assert r.cmd("f", 'LOGIN "unterminated')[-1].startswith(b"f BAD")
    # a huge synchronising literal: refused without "+"
    r.send("g LOGIN {99999999999}\r\n")
    assert r.line().startswith(b"g BAD")
    r.login(imap_user)
    r.send("h APPEND INBOX {99999999999}\r\n")
    assert r.line().startswith(b"h NO [TOOBIG]")
    # a small non-synchronising literal that is too big is skipped
    r.send(b"i APPEND INBOX {40000000+}\r\n")
    r.send(b"x" * 40000000 + b"\r\n")
    assert r.line().startswith(b"i NO [TOOBIG]")
    assert r.cmd("j", "NOOP")[-1] == b"j OK NOOP completed"
    assert r.cmd("k", "CREATE &Jjo")[-1].startswith(b"k BAD")
    assert r.cmd("l", "CREATE ../etc")[-1].startswith(b"l NO")
    assert r.cmd("m", "CREATE a/../b")[-1].startswith(b"m NO")
    assert r.cmd("n", "CREATE a//b")[-1].startswith(b"n NO")
    r.send(b"o CREATE {3}\r\n")
    assert r.line().startswith(b"+")
    r.send(b"a\0b\r\n")
    assert r.until_tagged("o")[-1].startswith(b"o BAD")
    assert r.cmd("p", "FETCH 1 FLAGS")[-1].startswith(b"p BAD")
    assert r.cmd("q", "UID FROB 1")[-1].startswith(b"q BAD")
    assert r.cmd("r", "STATUS INBOX MESSAGES")[-1].startswith(b"r BAD")
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("t", "FETCH 0:x FLAGS")[-1].startswith(b"t BAD")
    assert r.cmd("u", "FETCH 1 (FLAGS")[-1].startswith(b"u BAD")
    assert r.cmd("v", "FETCH 1 BODY[1.X]")[-1].startswith(b"v BAD")
    assert r.cmd("w", "NOOP")[-1] == b"w OK NOOP completed"
    # a huge non-synchronising literal ends the connection
    r.send("x APPEND INBOX {99999999999+}\r\n")
    lines = r.until_tagged("x")
    assert lines[0].startswith(b"* BYE") or lines[0].startswith(b"x NO")
    r.close()
    # the store still answers
    m = imap_env.login(imap_user)
    assert m.noop()[0] == "OK"
    m.logout()


def test_search_nesting_is_bounded(imap_env, imap_user):
    """NOT / OR chains nest search keys; a chain of ~90,000 levels, spread
    over LITERAL+ lines to pass the line limit, used to overflow the
    store's stack.  It gets BAD now, and deep but sane nesting works, in
    SEARCH, SORT and THREAD."""
    m = imap_env.login(imap_user)
    m.append("INBOX", None, None, msg_bytes("nest"))
    m.logout()
    r = RawImap(imap_env.port, timeout=60)
    r.login(imap_user)
    r.cmd("a", "SELECT INBOX")
    line = b"NOT " * 15000 + b"OR HEADER a {1+}\r\nb "
    r.send(b"b SEARCH " + line * 6 + b"ALL\r\n")
    assert r.until_tagged("b")[-1] == \
        b"b BAD SEARCH criteria nested too deeply"
    for tag, cmd in (("c", b"SORT (DATE) UTF-8 "),
                     ("d", b"THREAD REFERENCES UTF-8 ")):
        r.send(tag.encode() + b" " + cmd + b"NOT " * 5000 + b"ALL\r\n")
        assert r.until_tagged(tag)[-1] == \
            tag.encode() + b" BAD SEARCH criteria nested too deeply"
    # 999 levels: an even count of NOTs is ALL again
    lines = r.cmd("e", "SEARCH " + "NOT " * 998 + "ALL")
    assert lines[-1].startswith(b"e OK") and b"* SEARCH 1" in lines
    lines = r.cmd("f", "SEARCH " + "OR SEEN " * 500 + "(" * 50 + "ALL"
                  + ")" * 50)
    assert lines[-1].startswith(b"f OK") and b"* SEARCH 1" in lines
    assert r.cmd("g", "NOOP")[-1] == b"g OK NOOP completed"
    r.close()


def test_garbage_does_not_crash(imap_env, imap_user):
    junk = [b"\x00\x01\x02\r\n", b"a" * 70000 + b"\r\n", b"((((((\r\n",
            b"* OK\r\n", b"+ x\r\n", b"a UID\r\n", b"a {5}\r\n",
            b"a LOGIN {2+}\r\nab\r\n", b'a LOGIN "\\x" y\r\n', b"\r\n",
            b"a ID (\"name\")\r\n", b"a ENABLE\r\n"]
    r = RawImap(imap_env.port)
    for j in junk:
        r.send(j)
    r.send(b"z NOOP\r\n")
    lines = r.until_tagged("z")
    assert lines[-1] == b"z OK NOOP completed", lines
    r.close()
    m = imap_env.login(imap_user)
    m.logout()


def test_too_many_bad_commands(imap_env):
    r = RawImap(imap_env.port)
    r.send("".join("a%d FROB\r\n" % i for i in range(40)))
    text = b""
    while not r.eof:
        text += r.line() + b"\n"
    assert b"* BYE" in text


# --- stock clients ----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_curl(imap_env, imap_user):
    msg = msg_bytes("curl")
    imap_env.deliver(imap_user[0], msg)
    base = "imap://127.0.0.1:%d" % imap_env.port
    auth = ["-u", "%s:%s" % imap_user, "-s", "--max-time", "20"]
    out = subprocess.run(["curl"] + auth + [base + "/"], check=True,
                         capture_output=True).stdout
    assert b'"INBOX"' in out and b"\\Sent" in out
    stored = imap_env.st.message_file(imap_user[0], 1)
    out = subprocess.run(["curl"] + auth + [base + "/INBOX;UID=1"],
                         check=True, capture_output=True).stdout
    assert out == stored
    out = subprocess.run(["curl"] + auth + ["-X", "EXAMINE INBOX",
                                            base + "/"],
                         check=True, capture_output=True).stdout
    assert b"1 EXISTS" in out
    out = subprocess.run(["curl", "-k", "--ssl-reqd"] + auth +
                         [base + "/INBOX;UID=1"], check=True,
                         capture_output=True).stdout
    assert out == stored


IMTEST = shutil.which("imtest") or (
    "/usr/lib/cyrus/bin/imtest"
    if os.path.exists("/usr/lib/cyrus/bin/imtest") else None)


@pytest.mark.skipif(IMTEST is None, reason="imtest (cyrus-clients) missing")
@pytest.mark.parametrize("mech", ["PLAIN", "SCRAM-SHA-256"])
def test_imtest(imap_env, imap_user, mech):
    user, pw = imap_user
    p = subprocess.run(
        [IMTEST, "-p", str(imap_env.tls_port), "-s", "-a", user,
         "-u", user, "-w", pw, "-m", mech, "127.0.0.1"],
        input=b"a NOOP\r\nb LOGOUT\r\n", capture_output=True, timeout=30)
    out = p.stdout + p.stderr
    assert b"Authenticated." in out, out
    assert b"a OK" in out


# --- more commands ------------------------------------------------------------------


def test_proxy_authorization(store_factory):
    env = ImapEnv(store_factory(listen=("lmtp", "imap", "imaps"),
                                proxy_identities="proxy@example.com"))
    env.st.add_user("proxy@example.com", "pw-proxy")
    env.st.add_user("dave@example.com", "pw-dave")
    env.st.add_user("eve@example.com", "pw-eve")

    def plain(authz, authc, pw):
        return base64.b64encode(("%s\0%s\0%s" % (authz, authc, pw))
                                .encode()).decode()

    r = RawImap(env.port)
    lines = r.cmd("a", "AUTHENTICATE PLAIN " +
                  plain("dave@example.com", "proxy@example.com", "pw-proxy"))
    assert lines[-1].startswith(b"a OK"), lines
    r.cmd("s", "SELECT INBOX")
    # RFC 2342: personal, other users', shared (test_imap_acl.py)
    assert r.cmd("n", "NAMESPACE")[0] == (
        b'* NAMESPACE (("" "/")) (("Other Users/" "/")) '
        b'(("Shared Folders/" "/"))')
    r.close()
    assert env.st.mailboxes("dave@example.com")["Sent"]
    # not a proxy: a foreign authzid is refused
    r = RawImap(env.port)
    lines = r.cmd("b", "AUTHENTICATE PLAIN " +
                  plain("dave@example.com", "eve@example.com", "pw-eve"))
    assert lines[-1].startswith(b"b NO"), lines
    r.close()


def test_overquota_and_uid_expunge(imap_env):
    user = imap_env.st.add_user("quota@example.com", "pw-q",
                                quota_messages=2)
    m = imap_env.login(user)
    for i in range(2):
        assert m.append("INBOX", None, None, msg_bytes("q%d" % i))[0] == "OK"
    typ, data = m.append("INBOX", None, None, msg_bytes("q9"))
    assert typ == "NO" and b"OVERQUOTA" in data[0], data
    m.select("INBOX")
    m.store("1:2", "+FLAGS", "(\\Deleted)")
    typ, data = m.uid("EXPUNGE", "2")
    assert typ == "OK"
    assert m.uid("SEARCH", "ALL")[1] == [b"1"]
    # CLOSE expunges the rest silently
    typ, data = m.close()
    assert typ == "OK"
    assert imap_env.st.messages(user[0]) == []
    m.logout()


def test_id_enable_unauthenticate(imap_env, imap_user):
    r = RawImap(imap_env.port)
    lines = r.cmd("i", 'ID ("name" "pytest" "version" "1")')
    assert lines[0].startswith(b'* ID ("name" "Rookery"')
    assert r.cmd("e0", "ENABLE CONDSTORE")[-1].startswith(b"e0 BAD")
    r.login(imap_user)
    lines = r.cmd("e", "ENABLE CONDSTORE X-UNKNOWN QRESYNC")
    assert lines[0] == b"* ENABLED CONDSTORE QRESYNC"
    assert r.cmd("e2", "ENABLE CONDSTORE")[0] == b"* ENABLED"
    lines = r.cmd("u", "UNAUTHENTICATE")
    assert lines[-1] == b"u OK UNAUTHENTICATE completed"
    assert r.cmd("s", "SELECT INBOX")[-1].startswith(b"s BAD")
    r.login(imap_user)
    assert r.cmd("c", "CHECK")[-1].startswith(b"c BAD")
    r.cmd("s2", "SELECT INBOX")
    assert r.cmd("c2", "CHECK")[-1] == b"c2 OK CHECK completed"
    r.close()


def test_idle_in_authenticated_state_and_bad_done(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.send("i IDLE\r\n")
    assert r.line() == b"+ idling"
    r.send("NOTDONE\r\n")
    assert r.line().startswith(b"i BAD")
    assert r.cmd("n", "NOOP")[-1] == b"n OK NOOP completed"
    r.close()


def test_shutdown_says_bye(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    imap_env.st.stop()
    line, _ = r.wait_for(lambda l: l.startswith(b"* BYE") or l == b"", 5)
    assert line is not None and line.startswith(b"* BYE")


def test_thunderbird_like_session(imap_env, imap_user):
    """The command sequence Thunderbird sends on first sync, checked
    response by response."""
    for i in range(5):
        imap_env.deliver(imap_user[0], msg_bytes("tb%d" % i))
    r = RawImap(imap_env.port)
    assert b"IMAP4rev1" in r.cmd("1", "capability")[0]
    assert r.cmd("2", 'ID ("name" "Thunderbird" "version" "115.5.0")')[-1] \
        == b"2 OK ID completed"
    cred = base64.b64encode(("\0%s\0%s" % imap_user).encode()).decode()
    assert r.cmd("3", "authenticate PLAIN " + cred)[-1].startswith(b"3 OK")
    assert r.cmd("4", "namespace")[-1] == b"4 OK NAMESPACE completed"
    assert r.cmd("5", "enable CONDSTORE")[0] == b"* ENABLED CONDSTORE"
    lines = r.cmd("6", 'list (subscribed) "" "*" return (special-use)')
    assert b'* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"' in lines
    lines = r.cmd("7", 'list "" "INBOX"')
    assert lines[0] == b'* LIST (\\HasNoChildren) "/" "INBOX"'
    lines = r.cmd("8", 'select "INBOX" (CONDSTORE)')
    assert b"* 5 EXISTS" in lines
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(lines)).group(1))
    lines = r.cmd("9", "UID fetch 1:* (FLAGS)")
    fl = [l for l in lines if l.startswith(b"* ")]
    assert len(fl) == 5
    assert re.match(rb"\* 1 FETCH \(FLAGS \(\\Recent\) UID 1 MODSEQ \(\d+\)\)",
                    fl[0]), fl[0]
    r.send("10 UID fetch 1:5 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS "
           "(From To Cc Bcc Subject Date Message-ID Priority X-Priority "
           "References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n")
    for n in range(1, 6):
        line = r.line()
        mt = re.match(rb"\* %d FETCH \(UID %d RFC822\.SIZE \d+ FLAGS \(.*\) "
                      rb"BODY\[HEADER\.FIELDS \(From To .*\)\] \{(\d+)\}$"
                      % (n, n), line)
        assert mt, line
        hdr = r.read_bytes(int(mt.group(1)))
        assert hdr.startswith(b"From: Sender <sender@example.org>\r\n")
        assert b"Subject: tb%d\r\n" % (n - 1) in hdr
        assert hdr.endswith(b"\r\n\r\n")
        assert r.line().startswith(b" MODSEQ (")
    assert r.line() == b"10 OK FETCH completed"
    r.send("11 IDLE\r\n")
    assert r.line() == b"+ idling"
    r.send("DONE\r\n")
    assert r.until_tagged("11")[-1] == b"11 OK IDLE terminated"
    lines = r.cmd("12", "UID fetch 3 (UID RFC822.SIZE BODY.PEEK[])")
    assert lines[-1] == b"12 OK FETCH completed"
    lines = r.cmd("13", "UID store 3 +Flags (\\Seen)")
    assert re.match(rb"\* 3 FETCH \(FLAGS \(\\Seen \\Recent\) UID 3 "
                    rb"MODSEQ \(\d+\)\)", lines[0]), lines
    lines = r.cmd("14", "UID fetch 1:* (FLAGS) (CHANGEDSINCE %d)" % hms)
    fl = [l for l in lines if l.startswith(b"* ")]
    assert len(fl) == 1 and b"UID 3" in fl[0], lines
    lines = r.cmd("15", "logout")
    assert lines[0] == b"* BYE Logging out"
    assert lines[-1] == b"15 OK LOGOUT completed"


def test_selected_mailbox_deleted_elsewhere(imap_env, imap_user):
    a = imap_env.login(imap_user)
    a.create("Tmp")
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("s", "SELECT Tmp")
    assert a.delete("Tmp")[0] == "OK"
    lines = r.cmd("n", "NOOP")
    assert lines[0].startswith(b"* BYE"), lines
    a.logout()


def test_pipelined_fetches_without_reading(imap_env, imap_user):
    """Replies queue up to a limit, then input pauses until they drain;
    every reply arrives complete."""
    m = imap_env.login(imap_user)
    msg = msg_bytes("pipe", 1024 * 1024)
    m.append("INBOX", None, None, msg)
    m.logout()
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("s", "EXAMINE INBOX")
    n = 40
    r.send("".join("f%d FETCH 1 BODY.PEEK[]\r\n" % i for i in range(n)))
    time.sleep(0.5)
    for i in range(n):
        line = r.line()
        mt = re.match(rb"\* 1 FETCH \(BODY\[\] \{(\d+)\}$", line)
        assert mt, line
        assert r.read_bytes(int(mt.group(1))) == msg
        assert r.line() == b")"
        assert r.line() == b"f%d OK FETCH completed" % i
    r.close()


def test_missing_parent_listed_noselect(imap_env, imap_user):
    m = imap_env.login(imap_user)
    imap_env.st.control_ok('mailbox-create "%s" "Deep/Er"' % imap_user[0])
    names = list_names(m, '""', "%")
    assert names["Deep"] == ["\\Noselect", "\\HasChildren"], names
    assert "Deep/Er" not in names
    assert list_names(m, '""', "Deep/%") == {"Deep/Er": ["\\HasNoChildren"]}
    # RENAME creates the superiors of the new name
    assert m.rename("Deep/Er", "Other/Place/Er")[0] == "OK"
    names = list_names(m)
    assert names["Other"] == ["\\HasChildren"]
    assert names["Other/Place"] == ["\\HasChildren"]
    m.logout()


def test_search_modseq(imap_env, imap_user):
    for i in range(3):
        imap_env.deliver(imap_user[0], msg_bytes("ms%d" % i))
    r = RawImap(imap_env.port)
    r.login(imap_user)
    lines = r.cmd("s", "SELECT INBOX (CONDSTORE)")
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(lines)).group(1))
    lines = r.cmd("st", "STORE 2 +FLAGS.SILENT (\\Answered)")
    lines = r.cmd("se", "SEARCH MODSEQ %d" % (hms + 1))
    assert lines[0] == b"* SEARCH 2 (MODSEQ %d)" % (hms + 1), lines
    lines = r.cmd("s2", "SEARCH RETURN (SAVE) ANSWERED")
    assert lines == [b"s2 OK SEARCH completed"]
    lines = r.cmd("f", "FETCH $ (UID)")
    assert lines[0] == b"* 2 FETCH (UID 2 MODSEQ (%d))" % (hms + 1), lines
    # "$" inside search keys, and sets too long to check range by range
    for cmd, want in (("SEARCH $", b"* SEARCH 2"),
                      ("SEARCH NOT $", b"* SEARCH 1 3"),
                      ("SEARCH OR $ 3", b"* SEARCH 2 3"),
                      ("UID SEARCH UID $", b"* SEARCH 2"),
                      ("SEARCH " + ",".join(str(i) for i in
                                            range(1, 20000, 2)),
                       b"* SEARCH 1 3"),
                      ("UID SEARCH UID 9:*," + ",".join(
                          str(i) for i in range(2, 20000, 2)),
                       b"* SEARCH 2 3"),
                      ("SEARCH NOT 1," + ",".join(
                          str(i) for i in range(5, 20000, 3)),
                       b"* SEARCH 2 3")):
        lines = r.cmd("x", cmd)
        assert lines == [want, b"x OK SEARCH completed"], (cmd[:40], lines)
    r.close()


def test_command_over_size_limit(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    lit = b"x" * 700000
    r.send(b"a SEARCH TEXT {700000+}\r\n" + lit + b" TEXT {700000+}\r\n" +
           lit + b"\r\n")
    assert r.line().startswith(b"a BAD"), "command past 1 MiB"
    assert r.cmd("b", "NOOP")[-1] == b"b OK NOOP completed"
    r.close()


def test_append_to_selected_reports_exists(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("s", "SELECT INBOX")
    a = msg_bytes("self")
    r.send(b"A APPEND INBOX {%d+}\r\n%s\r\n" % (len(a), a))
    lines = r.until_tagged("A")
    assert lines[0] == b"* 1 EXISTS", lines
    assert lines[-1].startswith(b"A OK [APPENDUID ")
    lines = r.cmd("f", "FETCH 1 (FLAGS)")
    assert lines[0] == b"* 1 FETCH (FLAGS (\\Recent))"
    r.close()


def test_multiappend_all_or_none(imap_env):
    user = imap_env.st.add_user("multi@example.com", "pw-m",
                                quota_messages=2)
    r = RawImap(imap_env.port)
    r.login(user)
    msgs = [msg_bytes("mm%d" % i) for i in range(3)]
    cmd = b"A APPEND INBOX"
    for m in msgs:
        cmd += b" {%d+}\r\n%s" % (len(m), m)
    r.send(cmd + b"\r\n")
    lines = r.until_tagged("A")
    assert lines[-1].startswith(b"A NO [OVERQUOTA]"), lines
    assert imap_env.st.messages(user[0]) == []
    r.close()
