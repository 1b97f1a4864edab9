"""Sieve at delivery, end to end: scripts uploaded with sieve-connect (over
STARTTLS) or the raw ManageSieve client, mail delivered over LMTP, results
checked through the control socket and IMAP; redirects and vacation
replies captured by an SMTP sink configured as sieve_relay."""

import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

from sieve_helpers import ManageSieve, SmtpSink, upload

PW = "pw-alice"
ALICE = "alice@example.com"


class Env:
    def __init__(self, store, sink):
        self.store, self.sink = store, sink
        store.add_user(ALICE, PW)

    def script(self, text, name="main"):
        upload(self.store.port("sieve"), ALICE, PW, name, text)

    def deliver(self, msg, sender="bob@example.org", rcpts=(ALICE,)):
        """LMTP delivery: {rcpt: (code, text)} (per-recipient replies)."""
        if isinstance(msg, str):
            msg = msg.encode()
        lm = smtplib.LMTP("127.0.0.1", self.store.port("lmtp"))
        try:
            lm.ehlo_or_helo_if_needed()
            lm.mail(sender)
            for r in rcpts:
                code, text = lm.rcpt(r)
                assert code == 250, (r, code, text)
            lm.putcmd("data")
            code, text = lm.getreply()
            assert code == 354
            lm.send(msg.replace(b"\n.", b"\n..") + b"\r\n.\r\n")
            out = {}
            for r in rcpts:
                out[r] = lm.getreply()
            return out
        finally:
            lm.close()

    def boxes(self):
        return {k: v["messages"]
                for k, v in self.store.mailboxes(ALICE).items()}

    def imap_flags(self, mailbox):
        """FLAGS of every message of mailbox, in UID order (via IMAP)."""
        im = imaplib.IMAP4("127.0.0.1", self.store.port("imap"))
        try:
            im.login(ALICE, PW)
            typ, _ = im.select('"%s"' % mailbox, readonly=True)
            assert typ == "OK"
            typ, data = im.uid("FETCH", "1:*", "(FLAGS)")
            out = []
            for item in data:
                if item is None:
                    continue
                m = re.search(rb"FLAGS \(([^)]*)\)", item)
                out.append(set(m.group(1).decode().split()) if m else set())
            return out
        finally:
            im.logout()


@pytest.fixture
def env(store_factory):
    sink = SmtpSink().start()
    st = store_factory(listen=("lmtp", "sieve", "imap"),
                       sieve_relay="127.0.0.1:%d" % sink.port)
    yield Env(st, sink)
    sink.stop()


def msg(subject, extra="", to=ALICE, body="hello\r\n"):
    return ("From: Bob <bob@example.org>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.org>\r\n%s\r\n%s"
            % (to, subject, re.sub(r"\W", "", subject) or "x", extra, body))


def test_fileinto_create_past_the_mailbox_limit_keeps(store_factory):
    """fileinto :create that max_mailboxes refuses files into INBOX."""
    st = store_factory(listen=("lmtp", "sieve", "imap"), max_mailboxes="2")
    e = Env(st, None)
    e.script('''require ["fileinto", "mailbox"];
fileinto :create "Lists/Work";
''')
    assert e.deliver(msg("first"))[ALICE][0] == 250
    # "Lists" took the last place; "Lists/Work" did not fit
    assert e.boxes() == {"INBOX": 1, "Lists": 0}


# --- sieve-connect --------------------------------------------------------


def sieve_connect(port, *args, password=PW):
    r, w = os.pipe()
    os.write(w, password.encode() + b"\n")
    os.close(w)
    try:
        return subprocess.run(
            ["sieve-connect", "--server", "127.0.0.1", "--port", str(port),
             "--user", ALICE, "--passwordfd", str(r), "--notlsverify",
             "--noclearauth", "--authmech", "PLAIN"] + list(args),
            pass_fds=(r,), capture_output=True, text=True, timeout=30)
    finally:
        os.close(r)


@pytest.mark.skipif(shutil.which("sieve-connect") is None,
                    reason="sieve-connect not installed")
def test_sieve_connect_upload_list_check_activate(env, tmp_path):
    port = env.store.port("sieve")
    good = tmp_path / "good.sieve"
    good.write_text('require ["fileinto"];\n'
                    'if header :contains "subject" "report" '
                    '{ fileinto "Reports"; }\n')
    bad = tmp_path / "bad.sieve"
    bad.write_text('require ["fileinto"];\n\nif header :is "x" {\n')

    p = sieve_connect(port, "--localsieve", str(good), "--remotesieve",
                      "filters", "--upload")
    assert p.returncode == 0, p.stderr
    p = sieve_connect(port, "--localsieve", str(bad), "--checkscript")
    assert p.returncode != 0
    assert re.search(r"line \d+", p.stdout + p.stderr), p.stderr
    p = sieve_connect(port, "--remotesieve", "filters", "--activate")
    assert p.returncode == 0, p.stderr
    p = sieve_connect(port, "--list")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ['"filters" ACTIVE'], p.stdout
    out = tmp_path / "back.sieve"
    p = sieve_connect(port, "--remotesieve", "filters", "--localsieve",
                      str(out), "--download")
    assert p.returncode == 0, p.stderr
    assert out.read_text() == good.read_text()

    env.store.control_ok('mailbox-create %s Reports' % ALICE)
    env.deliver(msg("monthly report"))
    env.deliver(msg("lunch?"))
    assert env.boxes() == {"INBOX": 1, "Reports": 1}


# --- storage actions --------------------------------------------------------


def test_fileinto_create_copy_flags_keep_discard(env):
    env.script(r'''require ["fileinto", "imap4flags", "mailbox", "copy"];
if header :contains "subject" "flagme" {
    setflag "\\Flagged";
    addflag ["$Work", "\\Seen"];
    fileinto :create "Lists/Work";
    stop;
}
if header :contains "subject" "copyme" {
    fileinto :copy :create "Archive";
}
if header :contains "subject" "junk" {
    discard;
    stop;
}
if header :contains "subject" "missing" {
    fileinto "DoesNotExist";
    stop;
}
keep;
''')
    r = env.deliver(msg("please flagme"))
    assert r[ALICE][0] == 250
    r = env.deliver(msg("copyme now"))
    assert r[ALICE][0] == 250
    r = env.deliver(msg("junk offer"))
    assert r[ALICE][0] == 250
    r = env.deliver(msg("missing folder"))
    assert r[ALICE][0] == 250
    boxes = env.boxes()
    assert boxes["Lists/Work"] == 1
    assert boxes["Archive"] == 1
    # copyme (keep) + missing folder (falls back to INBOX); junk discarded
    assert boxes["INBOX"] == 2
    assert "DoesNotExist" not in boxes
    flags = env.imap_flags("Lists/Work")[0]
    assert {"\\Flagged", "\\Seen", "$Work"} <= flags, flags
    work = env.store.messages(ALICE, "Lists/Work")[0]
    assert work["flags"] & 1 and work["flags"] & 4


def test_reject_and_ereject_give_550_per_recipient(env):
    env.store.add_user("carol@example.com", "pw-carol")
    env.script('require ["reject", "ereject"];\n'
               'if header :contains "subject" "sell" '
               '{ reject "No sales, thanks"; stop; }\n'
               'if header :contains "subject" "spam" '
               '{ ereject "Spam refused"; }\n')
    r = env.deliver(msg("we sell things"),
                    rcpts=(ALICE, "carol@example.com"))
    assert r[ALICE][0] == 550
    assert b"5.7.1" in r[ALICE][1] and b"No sales" in r[ALICE][1]
    assert r["carol@example.com"][0] == 250
    r = env.deliver(msg("spam spam"))
    assert r[ALICE][0] == 550 and b"Spam refused" in r[ALICE][1]
    assert env.boxes() == {"INBOX": 0}


def test_redirect_reaches_the_relay(env):
    env.script('require ["copy"];\n'
               'if header :contains "subject" "fwd" '
               '{ redirect "dave@elsewhere.example"; }\n'
               'if header :contains "subject" "cc" '
               '{ redirect :copy "erin@elsewhere.example"; }\n')
    assert env.deliver(msg("fwd this"))[ALICE][0] == 250
    assert env.deliver(msg("cc this"))[ALICE][0] == 250
    got = env.sink.wait(2)
    assert len(got) == 2
    byrcpt = {m["rcpts"][0]: m for m in got}
    fwd = byrcpt["dave@elsewhere.example"]
    assert fwd["from"] == "bob@example.org"
    assert fwd["data"].startswith(b"Delivered-To: %s\r\n" % ALICE.encode())
    assert b"Subject: fwd this" in fwd["data"]
    assert "erin@elsewhere.example" in byrcpt
    # redirect without :copy cancels the keep; with :copy it stays
    assert env.boxes() == {"INBOX": 1}


def test_redirect_loop_guard_keeps_the_message(env):
    env.script('redirect "dave@elsewhere.example";\n')
    looped = msg("again", extra="Delivered-To: %s\r\n" % ALICE)
    assert env.deliver(looped)[ALICE][0] == 250
    time.sleep(0.3)
    assert env.sink.messages == []
    assert env.boxes() == {"INBOX": 1}
    assert "loop" in env.store.log_text()


def test_redirect_relay_down_keeps_in_inbox(store_factory, free_port):
    dead = free_port()
    st = store_factory(listen=("lmtp", "sieve"),
                       sieve_relay="127.0.0.1:%d" % dead)
    e = Env(st, None)
    e.script('redirect "dave@elsewhere.example";\n')
    assert e.deliver(msg("nowhere to go"))[ALICE][0] == 250
    assert e.boxes() == {"INBOX": 1}


def test_runtime_failure_keeps_in_inbox(env):
    # include of a script that does not exist fails at run time
    env.script('require ["include", "fileinto"];\n'
               'fileinto "Elsewhere";\n'
               'include :personal "no-such-script";\n')
    assert env.deliver(msg("anything"))[ALICE][0] == 250
    assert env.boxes() == {"INBOX": 1}
    assert "event=sieve_failed" in env.store.log_text()


def test_no_active_script_delivers_normally(env):
    upload(env.store.port("sieve"), ALICE, PW, "inactive", "discard;\n",
           activate=False)
    assert env.deliver(msg("plain"))[ALICE][0] == 250
    assert env.boxes() == {"INBOX": 1}


# --- vacation --------------------------------------------------------------

VACATION = '''require ["vacation"];
vacation :days 3 :subject "Out of office" :addresses ["alias@example.com"]
  "I am away until Monday.";
'''


def test_vacation_reply_and_tracking(env):
    env.script(VACATION)
    m1 = msg("question", extra="References: <older@example.org>\r\n")
    assert env.deliver(m1)[ALICE][0] == 250
    got = env.sink.wait(1)
    assert len(got) == 1
    rep = got[0]
    assert rep["from"] == ""            # envelope sender <>
    assert rep["rcpts"] == ["bob@example.org"]
    data = rep["data"].decode()
    assert "Auto-Submitted: auto-replied" in data
    assert "Subject: Out of office" in data
    assert "In-Reply-To: <question@example.org>" in data
    assert re.search(r"References: <older@example.org> "
                     r"<question@example.org>", data)
    assert "I am away until Monday." in data
    # the message itself is kept
    assert env.boxes() == {"INBOX": 1}
    # same sender again within :days: no second reply
    assert env.deliver(msg("follow-up"))[ALICE][0] == 250
    time.sleep(0.3)
    assert len(env.sink.messages) == 1
    # another sender gets one
    env.deliver(msg("hi"), sender="frank@example.org")
    assert len(env.sink.wait(2)) == 2


@pytest.mark.parametrize("sender,extra,to", [
    ("", "", ALICE),                                   # <> sender
    (ALICE, "", ALICE),                                # from the user
    ("alias@example.com", "", ALICE),                  # one of :addresses
    ("MAILER-DAEMON@example.org", "", ALICE),
    ("list-request@example.org", "", ALICE),
    ("owner-list@example.org", "", ALICE),
    ("bob@example.org", "List-Id: <l.example.org>\r\n", ALICE),
    ("bob@example.org", "List-Unsubscribe: <mailto:x@y>\r\n", ALICE),
    ("bob@example.org", "Auto-Submitted: auto-generated\r\n", ALICE),
    ("bob@example.org", "Precedence: bulk\r\n", ALICE),
    ("bob@example.org", "Precedence: junk\r\n", ALICE),
    ("bob@example.org", "Precedence: list\r\n", ALICE),
    ("bob@example.org", "X-Auto-Response-Suppress: OOF\r\n", ALICE),
    ("bob@example.org", "", "someone-else@example.org"),  # not addressed
])
def test_vacation_suppressed(env, sender, extra, to):
    env.script(VACATION)
    r = env.deliver(msg("ping", extra=extra, to=to), sender=sender)
    assert r[ALICE][0] == 250
    time.sleep(0.3)
    assert env.sink.messages == []
    assert "event=sieve_vacation_suppressed" in env.store.log_text()


def test_vacation_days_clamped_by_config(store_factory):
    sink = SmtpSink().start()
    st = store_factory(listen=("lmtp", "sieve"),
                       sieve_relay="127.0.0.1:%d" % sink.port,
                       vacation_min_days="0", vacation_max_days="0")
    e = Env(st, sink)
    e.script(VACATION)
    # :days 3 clamped to 0: every message is answered
    e.deliver(msg("one"))
    e.deliver(msg("two"))
    assert len(sink.wait(2)) == 2
    sink.stop()


def test_vacation_auto_submitted_no_and_cc_get_replies(env):
    env.script(VACATION)
    env.deliver(msg("a", extra="Auto-Submitted: no\r\n"))
    env.deliver(msg("b", to="other@example.org", extra="Cc: %s\r\n" % ALICE),
                sender="gina@example.org")
    env.deliver(msg("c", to="other@example.org",
                    extra="Resent-To: alias@example.com\r\n"),
                sender="hank@example.org")
    assert len(env.sink.wait(3)) == 3


# --- control socket -----------------------------------------------------------


def test_control_sieve_commands(env, tmp_path):
    st = env.store
    path = tmp_path / "c.sieve"
    path.write_text('require "fileinto";\nfileinto "Ctl";\n')
    st.control_ok('sieve-put %s ctl "%s"' % (ALICE, path))
    assert st.control_ok("sieve-list %s" % ALICE) == ["ctl"]
    st.control_ok("sieve-activate %s ctl" % ALICE)
    assert st.control_ok("sieve-list %s" % ALICE) == ["ctl active"]
    assert st.control_ok("sieve-get %s ctl" % ALICE) == [
        'require "fileinto";', 'fileinto "Ctl";']
    bad = tmp_path / "bad.sieve"
    bad.write_text("if {\n")
    ok, data, final = st.control('sieve-put %s bad "%s"' % (ALICE, bad))
    assert not ok and any(d.startswith("line ") for d in data), data
    ok, _, final = st.control("sieve-delete %s ctl" % ALICE)
    assert not ok                      # the active script
    st.control_ok('sieve-activate %s' % ALICE)
    st.control_ok("sieve-delete %s ctl" % ALICE)
    assert st.control_ok("sieve-list %s" % ALICE) == []


def test_user_delete_removes_scripts(env):
    env.script("discard;\n")
    st = env.store
    st.control_ok("user-del %s" % ALICE)
    st.control_ok("user-add %s" % ALICE)
    assert env.deliver(msg("back again"))[ALICE][0] == 250
    assert env.boxes() == {"INBOX": 1}
    assert st.control_ok("sieve-list %s" % ALICE) == []


def test_include_and_mailboxexists(env):
    upload(env.store.port("sieve"), ALICE, PW, "helper",
           'require "fileinto";\nfileinto "Included";\n', activate=False)
    env.store.control_ok("mailbox-create %s Exists" % ALICE)
    env.script('require ["include", "mailbox", "fileinto"];\n'
               'if mailboxexists "Exists" { fileinto "Exists"; }\n'
               'if mailboxexists "Nope" { fileinto "Nope"; }\n'
               'include :personal "helper";\n')
    assert env.deliver(msg("inc"))[ALICE][0] == 250
    boxes = env.boxes()
    assert boxes.get("Exists") == 1
    # the included fileinto: a missing folder falls back to INBOX
    assert boxes.get("INBOX") == 1 and "Nope" not in boxes


def test_redirect_limit_keeps_the_rest(store_factory):
    sink = SmtpSink().start()
    st = store_factory(listen=("lmtp", "sieve"),
                       sieve_relay="127.0.0.1:%d" % sink.port,
                       sieve_max_redirects="1")
    e = Env(st, sink)
    e.script('redirect "one@elsewhere.example";\n'
             'redirect "two@elsewhere.example";\n')
    assert e.deliver(msg("twice"))[ALICE][0] == 250
    assert len(sink.wait(1)) == 1
    time.sleep(0.3)
    assert len(sink.messages) == 1
    assert e.boxes() == {"INBOX": 1}
    sink.stop()


def test_redirect_address_from_variables_cannot_inject(env):
    env.script('require ["variables"];\n'
               'if header :matches "X-Target" "*" { set "t" "${1}"; }\n'
               'redirect "${t}";\n')
    evil = msg("inject", extra="X-Target: a@b.example>\r\n")
    assert env.deliver(evil)[ALICE][0] == 250
    time.sleep(0.3)
    assert env.sink.messages == []
    assert env.boxes() == {"INBOX": 1}


def test_shutdown_with_reply_in_flight(store_factory):
    """A relay that never answers: the store still stops cleanly (and the
    sanitizer build reports nothing) with the reply in flight."""
    import socket
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    st = store_factory(listen=("lmtp", "sieve"),
                       sieve_relay="127.0.0.1:%d" % silent.getsockname()[1])
    e = Env(st, None)
    e.script(VACATION)
    assert e.deliver(msg("stuck"))[ALICE][0] == 250
    time.sleep(0.2)
    st.stop()
    silent.close()
