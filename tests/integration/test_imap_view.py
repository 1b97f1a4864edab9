"""The selected mailbox's view (store/imap_view.c) shared between
sessions: many sessions on one mailbox stay consistent with the engine
while one of them stores flags, appends and expunges (EXISTS, EXPUNGE and
FETCH FLAGS reach the others at the moments RFC 3501 7.4.1 allows; no
echo to the changer; \\Recent goes to exactly one session); per-user
\\Seen views of a shared mailbox; CONDSTORE modseqs read from the engine.
And two ACL rules (RFC 4314 4): PERMANENTFLAGS lists only what the user
may change, and STATUS / LIST-STATUS UNSEEN of another user's mailbox
counts the caller's own \\Seen."""

import re

import pytest

from imap_helpers import ImapEnv, RawImap, make_msg

ALICE = ("alice@example.com", "pw-alice")
BOB = ("bob@example.com", "pw-bob")
CAROL = ("carol@example.com", "pw-carol")
SHARED = '"Other Users/alice@example.com/Shared"'

FETCH_RE = re.compile(rb"^\* (\d+) FETCH \((.*)\)$")


@pytest.fixture
def env(store_factory):
    st = store_factory(listen=("lmtp", "imap"))
    for u in (ALICE, BOB, CAROL):
        st.add_user(u[0], u[1])
    return ImapEnv(st)


class Session:
    """A raw IMAP session that keeps count of tags."""

    def __init__(self, env, user):
        self.r = RawImap(env.port)
        self.n = 0
        self.r.login(user)

    def cmd(self, text):
        self.n += 1
        tag = "t%d" % self.n
        lines = self.r.cmd(tag, text)
        assert lines[-1].startswith(tag.encode() + b" OK"), (text, lines)
        return lines[:-1]

    def cmd_any(self, text):
        self.n += 1
        tag = "t%d" % self.n
        return self.r.cmd(tag, text)

    def close(self):
        self.r.send("z LOGOUT\r\n")
        self.r.until_tagged("z")
        self.r.close()


def append(s, box, n, flags=""):
    """APPENDs n messages; returns the untagged lines that came back."""
    out = []
    for i in range(n):
        msg = make_msg("view %d" % i, b"body %d\r\n" % i)
        s.r.send("a%d APPEND %s (%s) {%d+}\r\n" % (i, box, flags, len(msg)))
        s.r.send(msg + b"\r\n")
        lines = s.r.until_tagged("a%d" % i)
        assert lines[-1].startswith(b"a%d OK" % i), lines
        out += lines[:-1]
    return out


def untagged(lines, word):
    return [ln for ln in lines if re.match(rb"^\* \d+ " + word.encode(), ln)]


def numbers(lines, word):
    return [int(ln.split()[1]) for ln in untagged(lines, word)]


def fetch_map(lines):
    """msn -> (uid, sorted flags) from FETCH (UID n FLAGS (...)) lines."""
    out = {}
    for ln in lines:
        m = FETCH_RE.match(ln)
        if not m:
            continue
        body = m.group(2)
        uid = re.search(rb"UID (\d+)", body)
        fl = re.search(rb"FLAGS \(([^)]*)\)", body)
        out[int(m.group(1))] = (
            int(uid.group(1)) if uid else None,
            tuple(sorted(f for f in (fl.group(1).split() if fl else [])
                         if f != b"\\Recent")))
    return out


def view_of(s):
    return fetch_map(s.cmd("FETCH 1:* (UID FLAGS)"))


def engine_view(env, user=ALICE, box="INBOX"):
    """The mailbox as a fresh session sees it (the engine's state)."""
    s = Session(env, user)
    lines = s.cmd("EXAMINE %s" % box)
    exists = numbers(lines, "EXISTS")[0]
    v = view_of(s) if exists else {}
    s.close()
    return v


def permanentflags(lines):
    for ln in lines:
        m = re.match(rb"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]", ln)
        if m:
            return m.group(1).split()
    raise AssertionError("no PERMANENTFLAGS in %r" % lines)


# ---- PERMANENTFLAGS under limited rights (RFC 4314 4) ----------------------

@pytest.mark.parametrize("rights,expect,rw", [
    ("lrs", [b"\\Seen"], True),
    ("lrt", [b"\\Deleted"], True),
    ("lrw", [b"\\Answered", b"\\Flagged", b"\\Draft", b"$Work", b"\\*"],
     True),
    ("lre", [], True),
    ("lr", [], False),
    ("lrswipkxtea", [b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Seen",
                     b"\\Draft", b"$Work", b"\\*"], True),
])
def test_permanentflags_follow_rights(env, rights, expect, rw):
    a = Session(env, ALICE)
    a.cmd("CREATE Shared")
    append(a, "Shared", 1, "$Work")
    a.cmd("SETACL Shared bob@example.com %s" % rights)
    b = Session(env, BOB)
    lines = b.cmd_any("SELECT %s" % SHARED)
    assert lines[-1].startswith(b"t1 OK [%s]" %
                                (b"READ-WRITE" if rw else b"READ-ONLY")), \
        lines
    assert permanentflags(lines) == expect, lines
    # FLAGS still names every flag of the mailbox
    flags = [ln for ln in lines if ln.startswith(b"* FLAGS ")]
    assert flags == [b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                     b"\\Draft $Work)"], lines
    a.close()
    b.close()


def test_permanentflags_after_new_keyword(env):
    """A keyword another session adds is announced with FLAGS and a
    PERMANENTFLAGS that still lists only what this user may change."""
    a = Session(env, ALICE)
    a.cmd("CREATE Shared")
    append(a, "Shared", 2)
    a.cmd("SETACL Shared bob@example.com lrs")
    a.cmd("SETACL Shared carol@example.com lrsw")
    b = Session(env, BOB)
    c = Session(env, CAROL)
    assert permanentflags(b.cmd("SELECT %s" % SHARED)) == [b"\\Seen"]
    a.cmd("SELECT Shared")
    a.cmd("STORE 1 +FLAGS.SILENT ($Label1)")
    lines = b.cmd("NOOP")
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft " \
        b"$Label1)" in lines, lines
    assert permanentflags(lines) == [b"\\Seen"], lines
    # carol (w) adds a keyword herself: she may set keywords
    c.cmd("SELECT %s" % SHARED)
    lines = c.cmd("STORE 2 +FLAGS ($Label2)")
    assert permanentflags(lines) == [b"\\Answered", b"\\Flagged", b"\\Seen",
                                     b"\\Draft", b"$Label1", b"$Label2",
                                     b"\\*"], lines
    for s in (a, b, c):
        s.close()


# ---- STATUS UNSEEN for a grantee ------------------------------------------

def test_status_unseen_counts_the_grantees_seen(env):
    a = Session(env, ALICE)
    a.cmd("CREATE Shared")
    append(a, "Shared", 4)
    a.cmd("SETACL Shared bob@example.com lrs")
    a.cmd("SELECT Shared")
    a.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")  # alice's own \Seen
    b = Session(env, BOB)
    b.cmd("SELECT %s" % SHARED)
    b.cmd("STORE 2:4 +FLAGS.SILENT (\\Seen)")  # bob's \Seen
    b.cmd("UNSELECT")
    lines = b.cmd("STATUS %s (MESSAGES UNSEEN)" % SHARED)
    assert any(b"(MESSAGES 4 UNSEEN 1)" in ln for ln in lines), lines
    lines = b.cmd('LIST "" "Other Users/alice@example.com/*" '
                  'RETURN (STATUS (UNSEEN))')
    st = [ln for ln in lines if ln.startswith(b"* STATUS ")]
    assert st and st[0].endswith(b"(UNSEEN 1)"), lines
    # the owner still counts her own flags
    lines = a.cmd("STATUS Shared (UNSEEN)")
    assert any(ln.endswith(b"(UNSEEN 3)") for ln in lines), lines
    # carol never marked anything: everything is unseen for her
    a.cmd("SETACL Shared carol@example.com lr")
    c = Session(env, CAROL)
    lines = c.cmd("STATUS %s (UNSEEN)" % SHARED)
    assert any(ln.endswith(b"(UNSEEN 4)") for ln in lines), lines
    for s in (a, b, c):
        s.close()


# ---- many sessions on one mailbox -----------------------------------------

def test_sessions_stay_consistent_with_the_engine(env):
    w = Session(env, ALICE)          # the writer
    append(w, "INBOX", 30)
    readers = [Session(env, ALICE) for _ in range(2)]
    idlers = [Session(env, ALICE) for _ in range(3)]
    w.cmd("SELECT INBOX")
    for s in readers + idlers:
        s.cmd("SELECT INBOX")
    for s in idlers:
        s.r.send("i IDLE\r\n")
        assert s.r.line().startswith(b"+ ")
    base = engine_view(env)
    assert len(base) == 30
    for s in readers:
        assert view_of(s) == base

    # flags: FETCH FLAGS to the others, no echo to the writer
    assert not untagged(w.cmd("STORE 3:5 +FLAGS.SILENT (\\Flagged $Work)"),
                        "FETCH")
    assert not untagged(w.cmd("NOOP"), "FETCH")
    for s in readers:
        got = fetch_map(s.cmd("NOOP"))
        assert sorted(got) == [3, 4, 5], got
        assert all(f == (b"$Work", b"\\Flagged") for _, f in got.values())

    # expunge: not during a FETCH (RFC 3501 7.4.1), then at NOOP
    w.cmd("STORE 2,4,30 +FLAGS.SILENT (\\Deleted)")
    assert numbers(w.cmd("EXPUNGE"), "EXPUNGE") == [30, 4, 2]
    r0 = readers[0]
    lines = r0.cmd("FETCH 1:* (UID FLAGS)")
    assert not untagged(lines, "EXPUNGE")
    got = fetch_map(lines)  # still numbered as before, the gone skipped
    assert len(got) == 27 and max(got) == 29 and got[29][0] == 29, got
    lines = r0.cmd("STORE 1 +FLAGS.SILENT (\\Answered)")
    assert not untagged(lines, "EXPUNGE")
    assert numbers(r0.cmd("NOOP"), "EXPUNGE") == [30, 4, 2]
    # UID FETCH may announce them
    assert numbers(readers[1].cmd("UID FETCH 1 (FLAGS)"), "EXPUNGE") == \
        [30, 4, 2]

    # append by the writer: EXISTS everywhere
    append(w, "INBOX", 2)
    for s in readers:
        assert 29 in numbers(s.cmd("NOOP"), "EXISTS")

    # the idlers saw all of it as it happened
    for s in idlers:
        s.r.send("DONE\r\n")
        lines = s.r.until_tagged("i")
        assert lines[-1] == b"i OK IDLE terminated", lines
        assert numbers(lines, "EXPUNGE") == [30, 4, 2], lines
        assert 29 in numbers(lines, "EXISTS"), lines
        flagged = fetch_map(lines)
        assert any(b"$Work" in f for _, f in flagged.values()), lines

    final = engine_view(env)
    assert len(final) == 29
    for s in [w] + readers + idlers:
        assert view_of(s) == final
    for s in [w] + readers + idlers:
        s.close()


def test_recent_goes_to_exactly_one_session(env):
    sessions = [Session(env, ALICE) for _ in range(4)]
    for s in sessions:
        s.cmd("SELECT INBOX")
    env.deliver(ALICE[0], make_msg("new", b"x\r\n"))
    recent = 0
    for s in sessions:
        lines = s.cmd("NOOP")
        assert numbers(lines, "EXISTS") == [1], lines
        got = [ln for ln in lines if ln.endswith(b" RECENT")]
        assert got in ([b"* 1 RECENT"], [b"* 0 RECENT"]), lines
        recent += got == [b"* 1 RECENT"]
        flags = s.cmd("FETCH 1 (FLAGS)")
        assert (b"\\Recent" in flags[0]) == (got == [b"* 1 RECENT"])
    assert recent == 1
    lines = sessions[0].cmd("STATUS INBOX (RECENT)")
    assert any(ln.endswith(b"(RECENT 1)") for ln in lines), lines
    for s in sessions:
        s.close()


def test_diverged_sessions_converge(env):
    """A session that has not announced an expunge keeps its numbers while
    the others move on; once it does, all agree again."""
    w = Session(env, ALICE)
    append(w, "INBOX", 10)
    lag = Session(env, ALICE)
    for s in (w, lag):
        s.cmd("SELECT INBOX")
    w.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    w.cmd("EXPUNGE")
    w.cmd("STORE 5 +FLAGS.SILENT (\\Seen)")
    # lag: a non-UID SEARCH and FETCH still see 10 messages
    lines = lag.cmd("SEARCH SEEN")
    assert lines == [b"* SEARCH 6"] or b"* SEARCH 6" in lines, lines
    lines = lag.cmd("FETCH 6 (UID FLAGS)")
    got = fetch_map(lines)
    assert got[6] == (6, (b"\\Seen",)), lines
    assert numbers(lag.cmd("NOOP"), "EXPUNGE") == [1]
    assert view_of(lag) == view_of(w) == engine_view(env)
    for s in (w, lag):
        s.close()


def test_per_user_seen_views(env):
    a = Session(env, ALICE)
    a.cmd("CREATE Shared")
    append(a, "Shared", 5)
    a.cmd("SETACL Shared bob@example.com lrs")
    a.cmd("SETACL Shared carol@example.com lrs")
    b1, b2, c = Session(env, BOB), Session(env, BOB), Session(env, CAROL)
    a.cmd("SELECT Shared")
    for s in (b1, b2, c):
        s.cmd("SELECT %s" % SHARED)
    assert not untagged(b1.cmd("STORE 2 +FLAGS.SILENT (\\Seen)"), "FETCH")
    got = fetch_map(b2.cmd("NOOP"))
    assert got == {2: (2, (b"\\Seen",))}, got
    assert not untagged(c.cmd("NOOP"), "FETCH")
    assert not untagged(a.cmd("NOOP"), "FETCH")
    # alice's own \Seen does not reach the grantees
    a.cmd("STORE 4 +FLAGS.SILENT (\\Seen)")
    assert not untagged(b1.cmd("NOOP"), "FETCH")
    assert fetch_map(c.cmd("FETCH 1:5 (UID FLAGS)")) == \
        {i: (i, ()) for i in range(1, 6)}
    assert view_of(b1) == view_of(b2) == engine_view(env, BOB, SHARED)
    assert view_of(a) == engine_view(env, ALICE, "Shared")
    # a flag everybody shares reaches all of them
    a.cmd("STORE 3 +FLAGS.SILENT (\\Flagged)")
    for s in (b1, b2, c):
        got = fetch_map(s.cmd("NOOP"))
        assert got == {3: (3, (b"\\Flagged",))}, got
    for s in (a, b1, b2, c):
        s.close()


def test_condstore_modseq_from_the_engine(env):
    w = Session(env, ALICE)
    append(w, "INBOX", 6)
    r = Session(env, ALICE)
    w.cmd("ENABLE CONDSTORE")
    r.cmd("ENABLE CONDSTORE")
    w.cmd("SELECT INBOX (CONDSTORE)")
    r.cmd("SELECT INBOX (CONDSTORE)")
    before = w.cmd("FETCH 1:* (MODSEQ)")
    base = {int(ln.split()[1]): int(re.search(rb"MODSEQ \((\d+)\)", ln)
                                    .group(1)) for ln in before}
    high = max(base.values())
    lines = w.cmd("STORE 2,5 +FLAGS (\\Answered)")
    mods = {int(ln.split()[1]): int(re.search(rb"MODSEQ \((\d+)\)", ln)
                                    .group(1)) for ln in untagged(lines,
                                                                  "FETCH")}
    assert sorted(mods) == [2, 5] and all(m > high for m in mods.values())
    # the other session's unsolicited FETCH carries the same modseq
    lines = r.cmd("NOOP")
    got = {int(ln.split()[1]): int(re.search(rb"MODSEQ \((\d+)\)", ln)
                                   .group(1)) for ln in untagged(lines,
                                                                 "FETCH")}
    assert got == mods, lines
    # CHANGEDSINCE lists exactly those; SEARCH MODSEQ finds them
    lines = r.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % high)
    assert sorted(numbers(lines, "FETCH")) == [2, 5], lines
    lines = r.cmd("SEARCH MODSEQ %d" % (high + 1))
    assert lines and lines[0].startswith(b"* SEARCH 2 5 (MODSEQ "), lines
    # an unchanged message in a STORE reply has its engine modseq
    lines = w.cmd("STORE 1:2 +FLAGS (\\Answered)")
    got = {int(ln.split()[1]): int(re.search(rb"MODSEQ \((\d+)\)", ln)
                                   .group(1)) for ln in untagged(lines,
                                                                 "FETCH")}
    assert got == {1: got[1], 2: mods[2]} and got[1] > mods[2], lines
    for s in (w, r):
        s.close()


@pytest.mark.parametrize("seed", [4242, 7, 99])
def test_random_changes_keep_every_view_right(env, seed):
    """Sessions that change and read in a seeded random order all end
    with the engine's view (arrays shared, copied and adopted)."""
    import random
    rnd = random.Random(seed)
    kws = ["$A", "$B", "$C", "\\Flagged", "\\Answered", "\\Seen"]
    sess = [Session(env, ALICE) for _ in range(5)]
    append(sess[0], "INBOX", 25)
    for s in sess:
        s.cmd("SELECT INBOX")
    count = [25] * len(sess)  # what each session believes EXISTS is

    def track(i, lines):
        for ln in lines:
            m = re.match(rb"^\* (\d+) (EXISTS|EXPUNGE)$", ln)
            if m and m.group(2) == b"EXISTS":
                count[i] = int(m.group(1))
            elif m:
                count[i] -= 1

    for step in range(80):
        i = rnd.randrange(len(sess))
        s = sess[i]
        op = rnd.choice(["store", "store", "fetch", "search", "noop",
                         "expunge", "append", "uidfetch"])
        if count[i] == 0 and op in ("store", "fetch"):
            op = "append"
        if op == "store":
            lo = rnd.randint(1, count[i])
            hi = rnd.randint(lo, count[i])
            flags = " ".join(rnd.sample(kws, rnd.randint(1, 3)))
            how = rnd.choice(["+FLAGS", "-FLAGS", "FLAGS"])
            track(i, s.cmd("STORE %d:%d %s.SILENT (%s)" % (lo, hi, how,
                                                          flags)))
        elif op == "fetch":
            lines = s.cmd("FETCH 1:* (UID FLAGS)")
            assert not untagged(lines, "EXPUNGE")
            track(i, lines)
        elif op == "search":
            lines = s.cmd("SEARCH UNDELETED")
            assert not untagged(lines, "EXPUNGE")
            track(i, lines)
        elif op == "noop":
            track(i, s.cmd("NOOP"))
        elif op == "uidfetch":
            track(i, s.cmd("UID FETCH 1:* (FLAGS)"))
        elif op == "expunge":
            if count[i] > 0:
                track(i, s.cmd("STORE %d +FLAGS.SILENT (\\Deleted)" %
                               rnd.randint(1, count[i])))
            track(i, s.cmd("EXPUNGE"))
        else:
            track(i, append(s, "INBOX", 1,
                            rnd.choice(["", "$A", "\\Seen $B"])))
            track(i, s.cmd("NOOP"))
    final = engine_view(env)
    for i, s in enumerate(sess):
        track(i, s.cmd("NOOP"))
        assert count[i] == len(final)
        assert view_of(s) == final, i
    for s in sess:
        s.close()


def test_many_keyword_sets(env):
    """Forty messages with forty different keyword sets (the per-array
    table of keyword masks grows and is re-sorted) read back right in the
    session that stored them, in one that caught up, and in a new one."""
    w = Session(env, ALICE)
    append(w, "INBOX", 40)
    r = Session(env, ALICE)
    w.cmd("SELECT INBOX")
    r.cmd("SELECT INBOX")
    for i in range(1, 41):
        kws = " ".join("$K%d" % b for b in range(6) if (i >> b) & 1)
        w.cmd("STORE %d +FLAGS.SILENT (%s)" % (i, kws))
    r.cmd("NOOP")
    final = engine_view(env)
    for i in range(1, 41):
        want = tuple(sorted(("$K%d" % b).encode() for b in range(6)
                            if (i >> b) & 1))
        assert final[i] == (i, want), (i, final[i])
    assert view_of(w) == view_of(r) == final
    for s in (w, r):
        s.close()
