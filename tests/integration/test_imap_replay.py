"""A scripted replay of Thunderbird against a 10,000-message INBOX: the
first sync, a day of use, and the QRESYNC re-select of the next start.

The commands are the ones Thunderbird (115) sends, in its order and its
spelling (lower-case verbs, "UID fetch"); every response is checked:
counts, UIDs, flags, MODSEQs, header bytes, VANISHED sets.

  first sync   capability, ID, ENABLE CONDSTORE + QRESYNC, LIST with
               SPECIAL-USE, select "INBOX" (CONDSTORE), UID fetch 1:*
               (FLAGS), header fetches newest-first in batches of 500
  daily use    IDLE sees an LMTP delivery (EXISTS), DONE, fetch the new
               headers, UID store +FLAGS (\\Seen), a body fetch (BODY[]
               sets \\Seen), \\Deleted + UID EXPUNGE, logout
  next start   another session changes flags, expunges and a delivery
               arrives; select "INBOX" (QRESYNC (uidvalidity modseq))
               answers VANISHED (EARLIER) for exactly the expunged UIDs
               and one FETCH (UID FLAGS MODSEQ) per changed or new message

The mailbox is filled by pipelined MULTIAPPEND with LITERAL+ over eight
connections (a few seconds).  ROOKERY_REPLAY_COUNT lowers the count.
"""

import os
import re
import threading
import time

from imap_helpers import RawImap, imap_env, imap_user  # noqa: F401

COUNT = int(os.environ.get("ROOKERY_REPLAY_COUNT", "10000"))
BATCH = 500
HEADER_FIELDS = ("From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID",
                 "Priority", "X-Priority", "References", "Newsgroups",
                 "In-Reply-To", "Content-Type", "Reply-To")
TB_HEADERS = ("UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (%s)]"
              % " ".join(HEADER_FIELDS))


# --- the mailbox --------------------------------------------------------------


def tb_message(i):
    h = [b"Return-Path: <list-%d@example.org>" % (i % 9),
         b"From: Person %d <p%d@example.org>" % (i % 97, i % 97),
         b"To: Alice <alice@example.com>"]
    if i % 3 == 0:
        h.append(b"Cc: Bob <bob@example.com>,\r\n\tCarol <carol@example.com>")
    h.append(b"Subject: Thunderbird replay message %d" % i)
    h.append(b"Date: Tue, 17 Nov 2026 %02d:%02d:00 +0000" % (i // 60 % 24,
                                                            i % 60))
    h.append(b"Message-ID: <tb.%d@example.org>" % i)
    if i % 4 == 1:
        h.append(b"In-Reply-To: <tb.%d@example.org>" % (i - 1))
        h.append(b"References: <tb.%d@example.org>\r\n <tb.%d@example.org>"
                 % (max(i - 2, 0), i - 1))
    if i % 10 == 7:
        h.append(b"X-Priority: 1 (Highest)")
    h.append(b"X-Mailer: replay")
    h.append(b"MIME-Version: 1.0")
    h.append(b"Content-Type: text/plain; charset=utf-8; format=flowed")
    body = b"Body of message %d.\r\n" % i + b"Some text line.\r\n" * (i % 5)
    return b"\r\n".join(h) + b"\r\n\r\n" + body


def initial_flags(i):
    if i % 10 < 6:
        return {"\\Seen"}
    if i % 10 == 6:
        return {"\\Seen", "\\Flagged"}
    if i % 10 == 8:
        return {"\\Answered", "\\Seen"}
    return set()


def header_fields(msg, names=HEADER_FIELDS):
    """The bytes BODY[HEADER.FIELDS (names)] must return (RFC 3501 6.4.5):
    the matching fields in order, with continuation lines, then CRLF."""
    head = msg.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    want = {n.lower().encode() for n in names}
    out, keep = [], False
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line + b"\r\n")
            continue
        keep = line.split(b":", 1)[0].strip().lower() in want
        if keep:
            out.append(line + b"\r\n")
    return b"".join(out) + b"\r\n"


def fill(port, user, n, conns=8, per_cmd=16):
    """APPENDs messages 0..n-1 (in order of UID within each connection)."""
    parts = [list(range(c, n, conns)) for c in range(conns)]
    errors = []

    def worker(idx):
        try:
            r = RawImap(port, timeout=120)
            r.login(user)
            out = []
            tags = []
            mine = parts[idx]
            for k in range(0, len(mine), per_cmd):
                tag = "A%d" % k
                tags.append(tag)
                cmd = [("%s APPEND INBOX" % tag).encode()]
                for i in mine[k:k + per_cmd]:
                    m = tb_message(i)
                    fl = " ".join(sorted(initial_flags(i)))
                    cmd.append(b" (%s) {%d+}\r\n" % (fl.encode(), len(m)) + m)
                out.append(b"".join(cmd) + b"\r\n")
            r.send(b"".join(out))
            for tag in tags:
                lines = r.until_tagged(tag)
                if not lines[-1].startswith(tag.encode() + b" OK"):
                    errors.append(lines[-1])
                    return
            r.cmd("Z", "LOGOUT")
            r.close()
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(c,))
               for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


# --- a response reader with literals ------------------------------------------


class Client(RawImap):
    """RawImap that folds literals into the line they belong to:
    response() returns (text-with-"{N}"-kept, [literal bytes...])."""

    def response(self):
        line = self.line()
        lits = []
        while True:
            mt = re.search(rb"\{(\d+)\}$", line)
            if not mt:
                return line, lits
            lits.append(self.read_bytes(int(mt.group(1))))
            line += b"\x00" + self.line()

    def run(self, tag, text):
        """Sends one command; returns ([(line, lits)], tagged line)."""
        self.send("%s %s\r\n" % (tag, text))
        return self.collect(tag)

    def collect(self, tag):
        out = []
        while True:
            line, lits = self.response()
            if line.startswith(tag.encode() + b" "):
                return out, line
            assert not self.eof, out[-3:]
            out.append((line, lits))


FETCH_RE = re.compile(rb"^\* (\d+) FETCH \((.*)\)$", re.S)


def fetch_items(line):
    """(msn, {UID, FLAGS, MODSEQ, RFC822.SIZE}) of a FETCH line."""
    mt = FETCH_RE.match(line)
    assert mt, line
    body = mt.group(2)
    d = {}
    u = re.search(rb"\bUID (\d+)", body)
    if u:
        d["UID"] = int(u.group(1))
    f = re.search(rb"\bFLAGS \(([^)]*)\)", body)
    if f:
        d["FLAGS"] = set(f.group(1).decode().split())
    ms = re.search(rb"\bMODSEQ \((\d+)\)", body)
    if ms:
        d["MODSEQ"] = int(ms.group(1))
    sz = re.search(rb"\bRFC822.SIZE (\d+)", body)
    if sz:
        d["RFC822.SIZE"] = int(sz.group(1))
    return int(mt.group(1)), d


def resp_code(lines, code):
    for line, _ in lines:
        mt = re.match(rb"\* OK \[%s ([^\]]*)\]" % code.encode(), line)
        if mt:
            return mt.group(1).decode()
    raise AssertionError("no %s in %r" % (code, lines))


def compact(uids):
    """A sorted uid list as the shortest sequence set ("3:5,9")."""
    out, i = [], 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(b"%d" % uids[i] if i == j
                   else b"%d:%d" % (uids[i], uids[j]))
        i = j + 1
    return b",".join(out)


def expect_ok(tagged, tag):
    assert tagged.startswith(tag.encode() + b" OK"), tagged


# --- the replay -----------------------------------------------------------------


def tb_login(env, user, label):
    """Thunderbird's connection start; returns the client."""
    c = Client(env.port, timeout=60)
    assert c.greeting.startswith(b"* OK")
    lines, tagged = c.run("1", "capability")
    expect_ok(tagged, "1")
    caps = set(lines[0][0].split()[2:])
    for cap in (b"IMAP4rev1", b"IDLE", b"ID", b"ENABLE", b"CONDSTORE",
                b"QRESYNC", b"UIDPLUS", b"SPECIAL-USE", b"LIST-EXTENDED",
                b"AUTH=PLAIN", b"LITERAL+", b"MOVE"):
        assert cap in caps, cap
    lines, tagged = c.run("2", "login \"%s\" \"%s\"" % user)
    expect_ok(tagged, "2")
    lines, tagged = c.run("3", 'ID ("name" "Thunderbird" "version" '
                          '"115.16.0" "session" "%s")' % label)
    expect_ok(tagged, "3")
    assert len(lines) == 1 and lines[0][0].startswith(b"* ID ("), lines
    lines, tagged = c.run("4", "enable CONDSTORE QRESYNC")
    expect_ok(tagged, "4")
    assert lines[0][0].startswith(b"* ENABLED"), lines
    assert set(lines[0][0].split()[2:]) == {b"CONDSTORE", b"QRESYNC"}, lines
    return c


def tb_list(c):
    lines, tagged = c.run("5", 'list (special-use) "" "*"')
    expect_ok(tagged, "5")
    su = {}
    for line, _ in lines:
        mt = re.match(rb'\* LIST \(([^)]*)\) "/" "?([^"]*)"?$', line)
        assert mt, line
        su[mt.group(2).decode()] = set(mt.group(1).decode().split())
    # RFC 6154: the selection option returns only special-use mailboxes
    for name in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert "\\" + name in su[name], su
    assert "INBOX" not in su
    lines, tagged = c.run("6", 'list "" "*"')
    expect_ok(tagged, "6")
    names = {re.search(rb'"/" "?([^"]*)"?$', l).group(1) for l, _ in lines}
    assert b"INBOX" in names and b"Sent" in names
    lines, tagged = c.run("7", 'lsub "" "*"')
    expect_ok(tagged, "7")


def tb_select_condstore(c, n):
    lines, tagged = c.run("8", 'select "INBOX" (CONDSTORE)')
    expect_ok(tagged, "8")
    assert b"[READ-WRITE]" in tagged
    texts = [l for l, _ in lines]
    assert b"* %d EXISTS" % n in texts, texts
    uidvalidity = int(resp_code(lines, "UIDVALIDITY"))
    uidnext = int(resp_code(lines, "UIDNEXT"))
    modseq = int(resp_code(lines, "HIGHESTMODSEQ"))
    perm = resp_code(lines, "PERMANENTFLAGS")
    for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
              "\\*"):
        assert f in perm, perm
    return uidvalidity, uidnext, modseq


def test_thunderbird_replay(imap_env, imap_user):
    t0 = time.monotonic()
    fill(imap_env.port, imap_user, COUNT)
    t_fill = time.monotonic() - t0
    msgs = {}  # uid -> index into the generator
    # APPENDs ran on 8 connections: learn uid -> message from Message-ID
    c = tb_login(imap_env, imap_user, "first")
    tb_list(c)
    uidvalidity, uidnext, modseq0 = tb_select_condstore(c, COUNT)

    # UID fetch 1:* (FLAGS): every message, UIDs ascending, MODSEQ (CONDSTORE)
    lines, tagged = c.run("9", "UID fetch 1:* (FLAGS)")
    expect_ok(tagged, "9")
    assert len(lines) == COUNT
    flags_by_uid = {}
    prev = 0
    for k, (line, _) in enumerate(lines):
        msn, d = fetch_items(line)
        assert msn == k + 1
        assert d["UID"] > prev
        prev = d["UID"]
        assert d["MODSEQ"] <= modseq0
        flags_by_uid[d["UID"]] = d["FLAGS"] - {"\\Recent"}
    uids = sorted(flags_by_uid)
    assert uids[-1] < uidnext

    # headers, newest first, in batches
    tag = 10
    for hi in range(len(uids), 0, -BATCH):
        lo = max(hi - BATCH, 0)
        t = str(tag)
        tag += 1
        lines, tagged = c.run(t, "UID fetch %d:%d (%s)"
                              % (uids[lo], uids[hi - 1], TB_HEADERS))
        expect_ok(tagged, t)
        assert len(lines) == hi - lo
        for k, (line, lits) in enumerate(lines):
            msn, d = fetch_items(line)
            assert msn == lo + k + 1 and d["UID"] == uids[lo + k]
            assert len(lits) == 1, line
            mid = re.search(rb"Message-ID: <tb\.(\d+)@", lits[0])
            assert mid, lits[0]
            i = int(mid.group(1))
            msgs[d["UID"]] = i
            m = tb_message(i)
            assert lits[0] == header_fields(m), (lits[0], header_fields(m))
            assert d["RFC822.SIZE"] == len(m)
            assert d["FLAGS"] - {"\\Recent"} == initial_flags(i)
            assert flags_by_uid[d["UID"]] == initial_flags(i)
            assert b"BODY[HEADER.FIELDS (" in line
    assert sorted(msgs.values()) == list(range(COUNT))
    t_sync = time.monotonic() - t0 - t_fill

    # --- daily use: IDLE sees a delivery ----------------------------------
    c.send("20 IDLE\r\n")
    assert c.line().startswith(b"+ ")
    new = tb_message(COUNT)
    imap_env.deliver(imap_user[0], new)
    line, secs = c.wait_for(lambda l: l.endswith(b"EXISTS"), 5.0)
    assert line == b"* %d EXISTS" % (COUNT + 1), line
    assert secs < 1.0
    c.send("DONE\r\n")
    lines, tagged = c.collect("20")
    assert tagged == b"20 OK IDLE terminated"
    assert all(not l.endswith(b"EXPUNGE") for l, _ in lines), lines
    lines, tagged = c.run("21", "UID fetch %d:* (FLAGS)" % (uids[-1] + 1))
    expect_ok(tagged, "21")
    assert len(lines) == 1
    msn, d = fetch_items(lines[0][0])
    new_uid = d["UID"]
    assert msn == COUNT + 1 and new_uid >= uidnext
    assert d["FLAGS"] - {"\\Recent"} == set()
    lines, tagged = c.run("22", "UID fetch %d (%s)" % (new_uid, TB_HEADERS))
    expect_ok(tagged, "22")
    # the LMTP copy has our trace fields first; the fields asked for match
    assert lines[0][1][0] == header_fields(new)

    # mark one read, read another (BODY[] sets \Seen), delete a third
    unread = [u for u in uids if not flags_by_uid[u] & {"\\Seen"}]
    u_mark, u_read, u_del = unread[0], unread[1], uids[len(uids) // 2]
    lines, tagged = c.run("23", "UID store %d +FLAGS (\\Seen)" % u_mark)
    expect_ok(tagged, "23")
    msn, d = fetch_items(lines[0][0])
    assert d["UID"] == u_mark and "\\Seen" in d["FLAGS"]
    assert d["MODSEQ"] > modseq0
    lines, tagged = c.run("24", "UID fetch %d (UID RFC822.SIZE BODY[])"
                          % u_read)
    expect_ok(tagged, "24")
    assert len(lines) == 1
    msn, d = fetch_items(lines[0][0].replace(b"\x00", b""))
    assert lines[0][1][0] == tb_message(msgs[u_read])
    assert "\\Seen" in d.get("FLAGS", set()), lines[0][0]
    lines, tagged = c.run("25", "UID store %d +FLAGS (\\Deleted)" % u_del)
    expect_ok(tagged, "25")
    lines, tagged = c.run("26", "UID expunge %d" % u_del)
    expect_ok(tagged, "26")
    # QRESYNC is on: VANISHED, not EXPUNGE (RFC 7162 3.2.10)
    assert [l for l, _ in lines] == [b"* VANISHED %d" % u_del], lines
    lines, tagged = c.run("27", "noop")
    expect_ok(tagged, "27")
    lines, tagged = c.run("28", 'select "INBOX" (CONDSTORE)')
    expect_ok(tagged, "28")
    assert (b"* OK [CLOSED] Previous mailbox closed", []) in lines, lines
    assert b"* %d EXISTS" % COUNT in [l for l, _ in lines]
    modseq1 = int(resp_code(lines, "HIGHESTMODSEQ"))
    assert modseq1 > modseq0
    lines, tagged = c.run("29", "logout")
    assert lines[0][0].startswith(b"* BYE")
    c.close()

    # --- while Thunderbird is closed -----------------------------------------
    other = Client(imap_env.port, timeout=60)
    other.login(imap_user)
    other.run("s", "SELECT INBOX")
    live = [u for u in uids if u != u_del]
    gone = live[10:13]
    changed = live[100:105]
    for u in changed:
        lines, tagged = other.run("f", "UID STORE %d +FLAGS.SILENT "
                                  "(\\Flagged $Label1)" % u)
        expect_ok(tagged, "f")
    for u in gone:
        other.run("d", "UID STORE %d +FLAGS.SILENT (\\Deleted)" % u)
    lines, tagged = other.run("e", "EXPUNGE")
    expect_ok(tagged, "e")
    assert sum(1 for l, _ in lines if l.endswith(b"EXPUNGE")) == 3
    other.run("z", "LOGOUT")
    other.close()
    late = tb_message(COUNT + 1)
    imap_env.deliver(imap_user[0], late)

    # --- next start: QRESYNC re-select -----------------------------------------
    c = tb_login(imap_env, imap_user, "second")
    lines, tagged = c.run("8", 'select "INBOX" (QRESYNC (%d %d))'
                          % (uidvalidity, modseq1))
    expect_ok(tagged, "8")
    texts = [l for l, _ in lines]
    assert b"* %d EXISTS" % (COUNT - 3 + 1) in texts, texts
    vanished = [l for l in texts if l.startswith(b"* VANISHED")]
    assert vanished == [b"* VANISHED (EARLIER) " + compact(gone)], vanished
    fetches = {}
    for l in texts:
        if b" FETCH " in l:
            msn, d = fetch_items(l)
            assert set(d) == {"UID", "FLAGS", "MODSEQ"}, l
            assert d["MODSEQ"] > modseq1
            fetches[d["UID"]] = d["FLAGS"] - {"\\Recent"}
    late_uid = max(fetches)
    assert late_uid > new_uid
    assert set(fetches) == set(changed) | {late_uid}, sorted(fetches)
    for u in changed:
        assert fetches[u] == initial_flags(msgs[u]) | {"\\Flagged",
                                                       "$Label1"}
    assert fetches[late_uid] == set()
    assert int(resp_code(lines, "UIDVALIDITY")) == uidvalidity
    # a stale UIDVALIDITY gets no VANISHED/FETCH: a full resync instead
    lines, tagged = c.run("9", 'select "INBOX" (QRESYNC (%d %d))'
                          % (uidvalidity + 1, modseq1))
    expect_ok(tagged, "9")
    assert not [l for l, _ in lines
                if l.startswith(b"* VANISHED") or b" FETCH " in l], lines
    # Thunderbird then checks flags of everything it knows
    lines, tagged = c.run("10", "UID fetch 1:%d (FLAGS) (CHANGEDSINCE %d "
                          "VANISHED)" % (new_uid, modseq1))
    expect_ok(tagged, "10")
    texts = [l for l, _ in lines]
    assert b"* VANISHED (EARLIER) " + compact(gone) in texts, texts
    assert {fetch_items(l)[1]["UID"] for l in texts
            if b" FETCH " in l} == set(changed)
    c.run("11", "logout")
    c.close()
    total = time.monotonic() - t0
    print("replay: %d messages, fill %.1fs, first sync %.1fs, total %.1fs"
          % (COUNT, t_fill, t_sync, total))
    assert total < 120
