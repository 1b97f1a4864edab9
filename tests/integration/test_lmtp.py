"""LMTP delivery (RFC 2033 with PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME,
SIZE) against a real rookery-store: Python's smtplib.LMTP for the plain
cases, a byte-level client (lmtp_helpers.RawLmtp) for several recipients,
pipelining and bad input.  Stored files are read from data_dir/mail and
compared byte for byte after the trace fields."""

import hashlib
import os
import random
import smtplib
import threading
import time

import pytest

from conftest import strip_trace
from lmtp_helpers import RawLmtp, make_msg, stuff, uid_of

SENDER = "sender@example.org"


def lmtp(store):
    return smtplib.LMTP("127.0.0.1", store.port("lmtp"), timeout=120)


def stored(store, user, mailbox="INBOX"):
    """Every message of a mailbox: [(uid, file bytes)] in UID order."""
    return [(m["uid"], store.message_file(user, m["uid"], mailbox))
            for m in store.messages(user, mailbox)]


def raw(store):
    c = RawLmtp(store.port("lmtp"))
    assert c.greeting.code == 220
    return c


def assert_sane(c):
    """The connection still answers, in sync."""
    r = c.cmd("NOOP")
    assert (r.code, r.text) == (250, "2.0.0 OK"), r


# --- the basics -------------------------------------------------------------


def test_greeting_and_lhlo(store):
    c = raw(store)
    assert "rookery.test" in c.greeting.text and "LMTP" in c.greeting.text
    r = c.lhlo()
    assert r.lines[0] == "rookery.test"
    exts = set(r.lines[1:])
    assert {"PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"} <= exts
    assert "SIZE %d" % (30 * 1024 * 1024) in exts
    r = c.cmd("QUIT")
    assert r.code == 221 and r.text.startswith("2.0.0")
    assert c.closed()


def test_single_recipient_smtplib(store, make_user):
    alice, _ = make_user("alice")
    msg = make_msg("single", "line one\r\n.leading dot\r\n..two\r\n.\r\nend\r\n")
    with lmtp(store) as lm:
        assert lm.sendmail(SENDER, [alice], msg) == {}
    [(uid, got)] = stored(store, alice)
    assert uid == 1
    assert strip_trace(got) == msg
    head = got[:len(got) - len(msg)].decode()
    assert head.startswith("Return-Path: <%s>\r\nReceived: from " % SENDER)
    assert "by rookery.test (Rookery) with LMTP id " in head
    assert "for <%s>;" % alice in head
    assert "[127.0.0.1]" in head


def test_null_sender_and_case_insensitive_user(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    msg = make_msg("bounce")
    mail, rr, data, finals = c.transaction("", ["ALICE@Example.COM"], msg)
    assert mail.code == 250 and rr[0].code == 250 and data.code == 354
    assert finals[0].code == 250, finals
    [(uid, got)] = stored(store, alice)
    assert got.startswith(b"Return-Path: <>\r\n")
    assert strip_trace(got) == msg


def test_many_recipients_one_reply_each(store, make_user):
    users = [make_user("r%d" % i)[0] for i in range(4)]
    rcpts = [users[0], "nobody@example.com", users[1], users[2], users[3]]
    msg = make_msg("many", "to several\r\n" * 50)
    c = raw(store)
    c.lhlo()
    mail, rr, data, finals = c.transaction(SENDER, rcpts, msg)
    assert [r.code for r in rr] == [250, 550, 250, 250, 250]
    assert rr[1].text.startswith("5.1.1")
    # RFC 2033 4.2: one reply per accepted RCPT, in RCPT order
    assert len(finals) == 4
    for r, u in zip(finals, [users[0], users[1], users[2], users[3]]):
        assert r.code == 250 and r.text.startswith("2.1.5 <%s>" % u), r
    for u in users:
        [(uid, got)] = stored(store, u)
        assert strip_trace(got) == msg
        # several recipients: no "for <...>" that would disclose them
        assert b"\tfor <" not in got[:len(got) - len(msg)]
    assert_sane(c)


def test_duplicate_recipient_gets_two_replies_one_copy(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    _, rr, _, finals = c.transaction(SENDER, [alice, alice], make_msg("dup"))
    assert [r.code for r in rr] == [250, 250]
    assert [r.code for r in finals] == [250, 250]
    assert len(store.messages(alice)) == 1


def test_unix_socket(store, make_user):
    alice, _ = make_user("alice")
    c = RawLmtp(unix=store.lmtp_socket)
    assert c.greeting.code == 220
    c.lhlo()
    msg = make_msg("over unix")
    _, _, _, finals = c.transaction(SENDER, [alice], msg)
    assert finals[0].code == 250
    [(uid, got)] = stored(store, alice)
    assert strip_trace(got) == msg
    assert b"(local socket)" in got[:300]


def test_pipelined_transactions(store, make_user):
    alice, _ = make_user("alice")
    bob, _ = make_user("bob")
    msgs = [make_msg("pipe %d" % i, "body %d\r\n" % i) for i in range(5)]
    blob = b"LHLO pipe.test\r\n"
    for i, m in enumerate(msgs):
        blob += (b"MAIL FROM:<%s> SIZE=%d\r\nRCPT TO:<%s>\r\n"
                 b"RCPT TO:<%s>\r\nDATA\r\n" % (SENDER.encode(), len(m),
                                                alice.encode(), bob.encode()))
        blob += stuff(m)
    blob += b"QUIT\r\n"
    c = raw(store)
    c.send(blob)   # everything at once, DATA content included
    assert c.reply().code == 250    # LHLO
    for _ in msgs:
        assert c.reply().code == 250    # MAIL
        assert c.reply().code == 250    # RCPT
        assert c.reply().code == 250    # RCPT
        assert c.reply().code == 354    # DATA
        assert c.reply().code == 250    # alice
        assert c.reply().code == 250    # bob
    assert c.reply().code == 221
    for u in (alice, bob):
        got = stored(store, u)
        assert [uid for uid, _ in got] == [1, 2, 3, 4, 5]
        assert [strip_trace(b) for _, b in got] == msgs


def test_8bit_message(store, make_user):
    alice, _ = make_user("alice")
    body = bytes(range(0x80, 0x100)) + b"\r\ncaf\xc3\xa9 \xe2\x82\xac\r\n"
    msg = make_msg("8bit", body,
                   extra=b"Content-Type: text/plain; charset=utf-8\r\n"
                         b"Content-Transfer-Encoding: 8bit\r\n")
    with lmtp(store) as lm:
        assert lm.sendmail(SENDER, [alice], msg,
                           mail_options=["BODY=8BITMIME"]) == {}
    [(_, got)] = stored(store, alice)
    assert strip_trace(got) == msg


def test_message_without_final_crlf_and_empty_lines(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    c.send("MAIL FROM:<a@b.c>\r\nRCPT TO:<%s>\r\nDATA\r\n" % alice)
    assert [c.reply().code for _ in range(3)] == [250, 250, 354]
    # lines of dots, a bare CR inside a line, an empty body
    c.send(b"Subject: dots\r\n\r\n...\r\n..\r\n.x\r\na\rb\r\n.\r\n")
    assert c.reply().code == 250
    [(_, got)] = stored(store, alice)
    assert strip_trace(got) == b"Subject: dots\r\n\r\n..\r\n.\r\nx\r\na\rb\r\n"


def test_20mb_message(store, make_user):
    alice, _ = make_user("alice")
    rnd = random.Random(20)
    line = b"".join(bytes([rnd.randrange(33, 127)]) for _ in range(998))
    body = (line + b"\r\n") * (20 * 1024 * 1024 // 1000)
    msg = make_msg("big", body)
    with lmtp(store) as lm:
        assert lm.sendmail(SENDER, [alice], msg,
                           mail_options=["SIZE=%d" % len(msg)]) == {}
    [(_, got)] = stored(store, alice)
    assert len(got) > 20 * 1000 * 1000
    assert hashlib.sha256(strip_trace(got)).digest() == \
        hashlib.sha256(msg).digest()
    m = store.messages(alice)[0]
    assert m["size"] == len(got)
    assert m["guid"] == hashlib.sha256(got).hexdigest()


def test_long_line_inside_data_is_kept(store, make_user):
    alice, _ = make_user("alice")
    msg = make_msg("longline", b"x" * 200000 + b"\r\nshort\r\n")
    with lmtp(store) as lm:
        assert lm.sendmail(SENDER, [alice], msg) == {}
    [(_, got)] = stored(store, alice)
    assert strip_trace(got) == msg


# --- recipients -------------------------------------------------------------


def test_unknown_user(store, make_user):
    make_user("alice")
    c = raw(store)
    c.lhlo()
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    r = c.cmd("RCPT TO:<nobody@example.com>")
    assert r.code == 550 and r.text.startswith("5.1.1"), r
    r = c.cmd("RCPT TO:<alice@other.example>")
    assert r.code == 550 and r.text.startswith("5.1.1"), r
    r = c.cmd("RCPT TO:<alice>")
    assert r.code == 550, r
    # RFC 2033 4.2: DATA without an accepted recipient is 503
    r = c.cmd("DATA")
    assert r.code == 503 and r.text.startswith("5.5.1"), r
    assert_sane(c)
    with lmtp(store) as lm:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            lm.sendmail(SENDER, ["ghost@example.com"], make_msg("x"))
    code, text = e.value.recipients["ghost@example.com"]
    assert code == 550 and text.startswith(b"5.1.1")


def test_detail_delivers_to_folder(store, make_user):
    alice, _ = make_user("alice")
    store.control_ok('mailbox-create %s "lists"' % alice)
    store.control_ok('mailbox-create %s "Work/Team"' % alice)
    c = raw(store)
    c.lhlo()
    cases = [("alice+lists@example.com", "lists"),
             ("alice+nosuch@example.com", "INBOX"),
             ("alice+@example.com", "INBOX"),
             ("alice+Work/Team@example.com", "Work/Team"),
             ("alice+..@example.com", "INBOX")]
    for i, (rcpt, box) in enumerate(cases):
        msg = make_msg("detail %d" % i)
        _, rr, _, finals = c.transaction(SENDER, [rcpt], msg)
        assert rr[0].code == 250, (rcpt, rr)
        assert finals[0].code == 250, (rcpt, finals)
        uid = uid_of(finals[0])
        got = store.message_file(alice, uid, box)
        assert strip_trace(got) == msg, rcpt
    boxes = store.mailboxes(alice)
    assert boxes["lists"]["messages"] == 1
    assert boxes["Work/Team"]["messages"] == 1
    assert boxes["INBOX"]["messages"] == 3
    # a user whose own name has a '+' wins over the detail rule
    plus, _ = make_user("carol+x")
    _, rr, _, finals = c.transaction(SENDER, [plus], make_msg("plus"))
    assert finals[0].code == 250
    assert len(store.messages(plus)) == 1


def test_too_many_recipients(store_factory):
    st = store_factory(lmtp_max_recipients=5)
    alice, _ = st.add_user("alice@example.com")
    c = raw(st)
    c.lhlo()
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    for _ in range(5):
        assert c.cmd("RCPT TO:<%s>" % alice).code == 250
    r = c.cmd("RCPT TO:<%s>" % alice)
    assert r.code == 452 and r.text.startswith("4.5.3"), r
    c.send("DATA\r\n")
    assert c.reply().code == 354
    c.send(stuff(make_msg("five")))
    assert [c.reply().code for _ in range(5)] == [250] * 5
    assert_sane(c)


# --- quota ------------------------------------------------------------------


def test_over_quota(store, make_user):
    alice, _ = make_user("alice", quota_bytes=4000)
    bob, _ = make_user("bob", quota_messages=1)
    c = raw(store)
    c.lhlo()
    # declared SIZE over the limit: refused at RCPT (552 5.2.2)
    assert c.cmd("MAIL FROM:<%s> SIZE=10000" % SENDER).code == 250
    r = c.cmd("RCPT TO:<%s>" % alice)
    assert r.code == 552 and r.text.startswith("5.2.2"), r
    assert c.cmd("RSET").code == 250
    # no SIZE: accepted at RCPT, refused after the dot
    big = make_msg("big", "y" * 10000 + "\r\n")
    _, rr, _, finals = c.transaction(SENDER, [alice], big)
    assert rr[0].code == 250
    assert finals[0].code == 552 and finals[0].text.startswith("5.2.2"), \
        finals
    assert store.messages(alice) == []
    # a small one still fits
    small = make_msg("small")
    _, _, _, finals = c.transaction(SENDER, [alice], small)
    assert finals[0].code == 250
    # message-count quota: the first fits, the second is refused at RCPT
    _, _, _, finals = c.transaction(SENDER, [bob], small)
    assert finals[0].code == 250
    _, rr, data, finals = c.transaction(SENDER, [bob], small)
    assert rr[0].code == 552 and rr[0].text.startswith("5.2.2")
    assert data.code == 503
    q = store.quota(bob)
    assert q["messages_used"] == 1 and q["messages_limit"] == 1
    assert_sane(c)


def test_over_quota_tempfail(store_factory):
    st = store_factory(quota_tempfail="yes")
    alice, _ = st.add_user("alice@example.com", quota_messages=1)
    c = raw(st)
    c.lhlo()
    _, _, _, finals = c.transaction(SENDER, [alice], make_msg("one"))
    assert finals[0].code == 250
    _, rr, _, _ = c.transaction(SENDER, [alice], make_msg("two"))
    assert rr[0].code == 452 and rr[0].text.startswith("4.2.2"), rr


# --- size limit ---------------------------------------------------------------


def test_declared_size_too_big(store, make_user):
    make_user("alice")
    c = raw(store)
    c.lhlo()
    r = c.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, 31 * 1024 * 1024))
    assert r.code == 552 and r.text.startswith("5.3.4"), r
    r = c.cmd("MAIL FROM:<%s> SIZE=999999999999999999999" % SENDER)
    assert r.code in (501, 552), r
    assert_sane(c)


def test_streamed_too_big(store_factory):
    st = store_factory(max_message_size="100K")
    alice, _ = st.add_user("alice@example.com")
    bob, _ = st.add_user("bob@example.com")
    c = raw(st)
    c.lhlo()
    big = make_msg("too big", ("z" * 78 + "\r\n") * 3000)
    _, rr, data, finals = c.transaction(SENDER, [alice, bob], big)
    assert [r.code for r in rr] == [250, 250] and data.code == 354
    assert [(r.code, r.text[:5]) for r in finals] == [(552, "5.3.4")] * 2
    assert st.messages(alice) == [] and st.messages(bob) == []
    assert_sane(c)
    ok = make_msg("fits", ("z" * 78 + "\r\n") * 100)
    _, _, _, finals = c.transaction(SENDER, [alice, bob], ok)
    assert [r.code for r in finals] == [250, 250]
    [(_, got)] = stored(st, alice)
    assert strip_trace(got) == ok
    time.sleep(0.2)
    assert os.listdir(os.path.join(st.data_dir, "tmp")) == []


# --- commands and their errors ----------------------------------------------


def test_commands_out_of_state(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    for cmd in ("MAIL FROM:<a@b.c>", "RCPT TO:<%s>" % alice, "DATA"):
        r = c.cmd(cmd)
        assert r.code == 503 and r.text.startswith("5.5.1"), (cmd, r)
    for cmd in ("HELO x", "EHLO x"):
        r = c.cmd(cmd)
        assert r.code == 500, (cmd, r)
    c.lhlo()
    for cmd in ("RCPT TO:<%s>" % alice, "DATA"):
        assert c.cmd(cmd).code == 503, cmd
    assert c.cmd("MAIL FROM:<a@b.c>").code == 250
    assert c.cmd("MAIL FROM:<a@b.c>").code == 503
    assert c.cmd("DATA").code == 503
    assert c.cmd("RCPT TO:<%s>" % alice).code == 250
    assert c.cmd("RSET").code == 250
    assert c.cmd("DATA").code == 503
    # LHLO again resets the transaction
    assert c.cmd("MAIL FROM:<a@b.c>").code == 250
    c.lhlo()
    assert c.cmd("RCPT TO:<%s>" % alice).code == 503
    assert_sane(c)


def test_syntax_errors(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    assert c.cmd("LHLO").code == 501
    c.lhlo()
    cases = [
        ("MAIL", 501), ("MAIL TO:<a@b.c>", 501), ("MAIL FROM:a@b.c", 501),
        ("MAIL FROM:<a@b.c", 501), ("MAIL FROM:<a b@c.d>", 501),
        ("MAIL FROM:<a@b.c> FOO=BAR", 555),
        ("MAIL FROM:<a@b.c> BODY=BINARYMIME", 501),
        ("MAIL FROM:<a@b.c> SIZE=abc", 501),
        ("MAIL FROM:<%s>" % ("x" * 300 + "@b.c"), 501),
        ("RSET now", 501), ("QUIT now", 501), ("DATA now", 503),
        ("FOOBAR", 500), ("", 500), ("VRFY", 501),
    ]
    for cmd, code in cases:
        r = c.cmd(cmd)
        assert r.code == code, (cmd, r)
        assert r.text[:2] == "%d." % (code // 100), (cmd, r)
    assert c.cmd("MAIL FROM:<@route.example,@b.example:a@b.c>").code == 250
    assert c.cmd("RCPT TO:<%s> NOTIFY=NEVER" % alice).code == 555
    assert c.cmd('RCPT TO:<"alice"@example.com>').code == 250
    assert c.cmd("RCPT TO:<>").code == 501
    r = c.cmd("VRFY alice")
    assert r.code == 252
    r = c.cmd("HELP")
    assert r.code == 214 and "LHLO" in r.lines[0]
    assert c.cmd("noop with args").code == 250
    assert c.cmd("rset").code == 250
    assert_sane(c)


def test_overlong_line(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    r = c.cmd("MAIL FROM:<" + "a" * 10000 + "@b.c>")
    assert r.code == 500 and r.text.startswith("5.5.2"), r
    r = c.cmd("NOOP " + "n" * 100000)
    assert r.code == 500 and r.text.startswith("5.5.2"), r
    assert_sane(c)
    # still usable for mail
    msg = make_msg("after overlong")
    _, _, _, finals = c.transaction(SENDER, [alice], msg)
    assert finals[0].code == 250


def test_nul_bytes(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    for bad in (b"NOOP\0", b"MAIL FROM:<a\0@b.c>", b"\0\0\0",
                b"RCPT TO:<alice@example.com>\0"):
        r = c.cmd(bad)
        assert r.code == 500 and r.text.startswith("5.5.2"), (bad, r)
    assert_sane(c)
    # NUL inside DATA is the message's business: stored as sent
    msg = make_msg("nul", b"a\0b\r\n")
    _, _, _, finals = c.transaction(SENDER, [alice], msg)
    assert finals[0].code == 250
    [(_, got)] = stored(store, alice)
    assert strip_trace(got) == msg


def test_binary_garbage(store, make_user):
    alice, _ = make_user("alice")
    rnd = random.Random(4)
    c = raw(store)
    c.lhlo()
    for _ in range(3):
        # about 16 line ends in 4 KB of noise: below the error limit
        garbage = bytes(rnd.randrange(256) for _ in range(4096))
        c.send(garbage + b"\r\nNOOP sync\r\n")
        while True:
            r = c.reply()
            if r.code == 250:
                break
            assert r.code in (500, 501, 503, 555), r
    assert_sane(c)
    msg = make_msg("after garbage")
    _, _, _, finals = c.transaction(SENDER, [alice], msg)
    assert finals[0].code == 250


def test_too_many_errors_hangs_up(store):
    c = raw(store)
    c.send(b"BOGUS\r\n" * 50)
    codes = []
    try:
        while True:
            codes.append(c.reply().code)
    except (EOFError, ConnectionResetError):
        pass
    assert codes[-1] == 421 and set(codes[:-1]) == {500}
    assert len(codes) == 51   # 50 bad commands answered, then 421
    # the daemon carries on
    c2 = raw(store)
    assert_sane(c2)


def test_pipelined_flood(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    n = 20000

    def writer():
        c.send(b"NOOP\r\n" * n)

    # the client does not read while it writes: the server must not
    # buffer unboundedly, and nothing may be lost
    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.5)
    codes = [c.reply().code for _ in range(n)]
    t.join()
    assert codes == [250] * n
    msg = make_msg("after flood")
    _, _, _, finals = c.transaction(SENDER, [alice], msg)
    assert finals[0].code == 250


def test_rcpt_flood_in_one_transaction(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    n = 1200   # above the default limit of 1000
    c.send("MAIL FROM:<%s>\r\n" % SENDER + "RCPT TO:<%s>\r\n" % alice * n)
    assert c.reply().code == 250
    codes = [c.reply().code for _ in range(n)]
    assert codes == [250] * 1000 + [452] * 200
    c.send("DATA\r\n")
    assert c.reply().code == 354
    c.send(stuff(make_msg("flood")))
    finals = [c.reply() for _ in range(1000)]
    assert all(r.code == 250 for r in finals)
    assert len(store.messages(alice)) == 1


def test_disconnect_in_data_loses_nothing_else(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, alice))
    assert [c.reply().code for _ in range(3)] == [250, 250, 354]
    c.send(b"Subject: cut\r\n\r\n" + b"partial\r\n" * 1000)
    c.close()
    time.sleep(0.3)
    assert store.messages(alice) == []
    assert os.listdir(os.path.join(store.data_dir, "tmp")) == []
    with lmtp(store) as lm:
        assert lm.sendmail(SENDER, [alice], make_msg("next")) == {}
    assert len(store.messages(alice)) == 1


def test_log_line_per_delivery(store, make_user):
    alice, _ = make_user("alice")
    with lmtp(store) as lm:
        lm.sendmail(SENDER, [alice], make_msg("logged"))
    time.sleep(0.1)
    lines = [l for l in store.log_text().splitlines()
             if "event=lmtp_deliver " in l]
    assert len(lines) == 1
    for key in ("session=", "from=<%s>" % SENDER, "rcpt=<%s>" % alice,
                "mailbox=INBOX", "uid=1", "size=", "ms="):
        assert key in lines[0], (key, lines[0])


# --- the daemon -----------------------------------------------------------------


def test_restart_keeps_mail_and_uids(store, make_user):
    alice, _ = make_user("alice")
    with lmtp(store) as lm:
        lm.sendmail(SENDER, [alice], make_msg("before"))
    rc = store.stop()
    assert rc == 0
    store.start()
    with lmtp(store) as lm:
        lm.sendmail(SENDER, [alice], make_msg("after"))
    assert [m["uid"] for m in store.messages(alice)] == [1, 2]


def test_sigterm_with_idle_sessions(store, make_user):
    make_user("alice")
    c = raw(store)
    c.lhlo()
    assert store.stop() == 0
    r = c.reply()
    assert r.code == 421 and r.text.startswith("4.3.2"), r


def test_unknown_protocol_is_fatal(store_factory):
    st = store_factory(start=False, listen=("lmtp", "gopher"))
    with pytest.raises(RuntimeError) as e:
        st.start()
    assert "unknown protocol gopher" in str(e.value)


def test_help_option():
    import subprocess
    from conftest import BIN
    r = subprocess.run([os.path.join(BIN, "rookery-store"), "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "-c CONFIG -n NAME" in r.stdout
    r = subprocess.run([os.path.join(BIN, "rookery-store")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def test_replica_refuses_delivery(store_factory):
    st = store_factory(role="replica")
    c = RawLmtp(st.port("lmtp"))
    assert c.greeting.code == 421 and "replica" in c.greeting.text
    assert c.closed()


def test_sighup_reloads_log_level(store, make_user):
    import signal
    alice, _ = make_user("alice")
    with open(store.config_path, "a") as f:
        f.write("log_level = debug\n")
    os.kill(store.pid, signal.SIGHUP)
    # two lines: the loop's "event=reload signal=HUP", then the store's
    # "event=reload store=... log_level=debug" once it has re-read
    deadline = time.time() + 5
    while ("log_level=debug" not in store.log_text()
           and time.time() < deadline):
        time.sleep(0.05)
    assert "log_level=debug" in store.log_text()
    c = raw(store)
    c.lhlo()
    time.sleep(0.2)
    assert "event=lmtp_command" in store.log_text()


def test_sigterm_during_data_and_pipelined_delivery(store, make_user):
    alice, _ = make_user("alice")
    # one session in the middle of DATA, one with a delivery pipelined
    # right before the signal
    c1 = raw(store)
    c1.lhlo()
    c1.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, alice))
    assert [c1.reply().code for _ in range(3)] == [250, 250, 354]
    c1.send(b"Subject: half\r\n\r\n" + b"half\r\n" * 10000)
    c2 = raw(store)
    c2.lhlo()
    msg = make_msg("just before")
    c2.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, alice))
    c2.send(stuff(msg))
    assert store.stop() == 0
    codes = []
    try:
        while True:
            codes.append(c2.reply().code)
    except (EOFError, OSError):
        pass
    assert codes[:3] == [250, 250, 354]
    store.start()
    got = stored(store, alice)
    # acknowledged means stored; the half message never is
    if codes[3:4] == [250]:
        assert [strip_trace(b) for _, b in got] == [msg]
    assert all(strip_trace(b) == msg for _, b in got)
    assert os.listdir(os.path.join(store.data_dir, "tmp")) == []


def test_quoted_local_part_in_trace(store, make_user):
    alice, _ = make_user("alice")
    c = raw(store)
    c.lhlo()
    msg = make_msg("quoted")
    _, rr, _, finals = c.transaction('"john \\"q\\" doe"@example.org',
                                     ['"alice"@example.com'], msg)
    assert rr[0].code == 250 and finals[0].code == 250
    [(_, got)] = stored(store, alice)
    assert got.startswith(b'Return-Path: <"john \\"q\\" doe"@example.org>\r\n')
    assert b"\tfor <alice@example.com>;" in got
    assert strip_trace(got) == msg


def test_idle_timeout(store_factory):
    st = store_factory(idle_timeout=1)
    c = raw(st)
    c.lhlo()
    t = time.monotonic()
    r = c.reply()
    assert r.code == 421 and r.text.startswith("4.4.2"), r
    assert c.closed()
    assert time.monotonic() - t < 10
