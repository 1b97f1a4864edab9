"""Real IMAP clients against rookery-store: mbsync (isync) two-way sync.

A maildir of ROOKERY_MBSYNC_COUNT (default 2,000) varied messages (plain,
multipart/alternative, multipart/mixed with base64 parts, 8-bit UTF-8,
folded headers, dot- and "From "-lines, empty bodies; some Seen, Flagged,
Answered, Draft) is pushed into a store over IMAP (STARTTLS, LOGIN), then
pulled into an empty maildir.  Checked exactly:

  - the store holds each message as mbsync uploaded it: LF -> CRLF and
    one "X-TUID: <12 chars>" field added at the end of the header (mbsync
    writes it into every message it propagates, to find it again after an
    interrupted run); nothing else differs;
  - the second maildir holds the store's bytes with CRLF -> LF, except
    that mbsync gives the X-TUID field a new value on the way down (it
    rewrites the field it finds in place, never adds a second one): the
    original message plus one X-TUID line;
  - maildir info flags S F R D match \\Seen \\Flagged \\Answered \\Draft
    on both sides;
  - a second sync after flag changes on both sides (in the maildir by
    renaming, in the store by UID STORE from another IMAP session)
    propagates both ways, and a third sync of the second maildir sees
    them.

The count can be changed with ROOKERY_MBSYNC_COUNT; the default 2,000
takes about 10 s on the optimised build and about 12 s under ASan+UBSan
(make test), both on 2 cores.
"""

import base64
import os
import re
import shutil
import subprocess
import time

import pytest

from imap_helpers import imap_env, imap_user  # noqa: F401

COUNT = int(os.environ.get("ROOKERY_MBSYNC_COUNT", "2000"))
MBSYNC = shutil.which("mbsync")

FLAG_MAP = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered",
            "S": "\\Seen"}

pytestmark = pytest.mark.skipif(MBSYNC is None, reason="mbsync not installed")


# --- the corpus ---------------------------------------------------------------


def _plain(i):
    lines = ["Line %d of message %d, plain ASCII text." % (k, i)
             for k in range(i % 23)]
    if i % 7 == 0:
        lines.append(".a line starting with a dot")
        lines.append("From the start of a line (mbox would quote it)")
    if i % 11 == 0:
        lines.append("x" * 900)  # a long line
    hdr = ("From: Sender %d <sender%d@example.org>\n"
           "To: Alice <alice@example.com>\n"
           "Subject: plain message %d\n"
           "Date: Mon, 02 Nov 2026 10:%02d:%02d +0100\n"
           "Message-ID: <plain.%d@example.org>\n" % (i, i % 50, i, i % 60,
                                                     i % 60, i))
    if i % 5 == 0:
        hdr += ("References: <a.%d@example.org>\n <b.%d@example.org>\n"
                "\t<c.%d@example.org>\n" % (i, i, i))
    if i % 13 == 0:
        return (hdr + "\n").encode()  # empty body
    return (hdr + "\n" + "\n".join(lines) + "\n").encode()


def _eightbit(i):
    return ("From: =?UTF-8?B?SsO8cmdlbg==?= <j%d@example.de>\n"
            "To: alice@example.com\n"
            "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_%d?=\n"
            "Date: Tue, 03 Nov 2026 08:00:00 +0000\n"
            "Message-ID: <eight.%d@example.de>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            "Grüße aus Köln, Nachricht %d.\n"
            "Ελληνικά, русский, 日本語, emoji \U0001F426.\n"
            "Façade naïve coöperate.\n" % (i, i, i, i)).encode()


def _alternative(i):
    b = "alt-%d-boundary" % i
    return ("From: Newsletter <news@example.net>\n"
            "To: alice@example.com\n"
            "Subject: multipart alternative %d\n"
            "Date: Wed, 04 Nov 2026 12:00:00 -0500\n"
            "Message-ID: <alt.%d@example.net>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/alternative; boundary=\"%s\"\n"
            "\n"
            "This is a multi-part message in MIME format.\n"
            "--%s\n"
            "Content-Type: text/plain; charset=us-ascii\n"
            "\n"
            "Plain part %d.\n"
            "--%s\n"
            "Content-Type: text/html; charset=us-ascii\n"
            "Content-Transfer-Encoding: quoted-printable\n"
            "\n"
            "<html><body><p style=3D\"color:red\">HTML part %d</p></body>=\n"
            "</html>\n"
            "--%s--\n" % (i, i, b, b, i, b, i, b)).encode()


def _mixed(i):
    b1, b2 = "mixed-%d-outer" % i, "mixed-%d-inner" % i
    blob = bytes((i * 7 + k) % 256 for k in range(300 + (i % 40) * 37))
    att = base64.encodebytes(blob).decode()
    return ("From: Bob <bob@example.com>\n"
            "To: alice@example.com\n"
            "Cc: carol@example.com\n"
            "Subject: report %d with attachment\n"
            "Date: Thu, 05 Nov 2026 17:30:00 +0000\n"
            "Message-ID: <mixed.%d@example.com>\n"
            "In-Reply-To: <plain.%d@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=%s\n"
            "\n"
            "--%s\n"
            "Content-Type: multipart/alternative; boundary=%s\n"
            "\n"
            "--%s\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n"
            "\n"
            "See the attached r=C3=A9sum=C3=A9.\n"
            "--%s\n"
            "Content-Type: text/html; charset=utf-8\n"
            "\n"
            "<p>See the attached file.</p>\n"
            "--%s--\n"
            "\n"
            "--%s\n"
            "Content-Type: application/octet-stream; name=\"data%d.bin\"\n"
            "Content-Disposition: attachment; filename=\"data%d.bin\"\n"
            "Content-Transfer-Encoding: base64\n"
            "\n"
            "%s"
            "--%s--\n" % (i, i, i, b1, b1, b2, b2, b2, b2, b1, i, i, att,
                          b1)).encode()


def _rfc822(i):
    return ("From: Forwarder <fwd@example.org>\n"
            "To: alice@example.com\n"
            "Subject: Fwd: message %d\n"
            "Date: Fri, 06 Nov 2026 09:00:00 +0900\n"
            "Message-ID: <fwd.%d@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"fwd%d\"\n"
            "\n"
            "--fwd%d\n"
            "Content-Type: text/plain\n"
            "\n"
            "Forwarded below.\n"
            "--fwd%d\n"
            "Content-Type: message/rfc822\n"
            "\n"
            "From: Original <orig@example.org>\n"
            "Subject: the original %d\n"
            "\n"
            "Original body.\n"
            "--fwd%d--\n" % (i, i, i, i, i, i, i)).encode()


MAKERS = (_plain, _eightbit, _alternative, _mixed, _rfc822, _plain)
FLAG_CHOICES = ("", "S", "S", "FS", "RS", "", "F", "D", "DS", "FRS", "S")


def corpus(n):
    """[(key, body bytes with LF, maildir flags)]; keys are unique."""
    out = []
    for i in range(n):
        body = MAKERS[i % len(MAKERS)](i)
        out.append(("m%05d" % i, body, FLAG_CHOICES[(i * 7) % 11]))
    return out


def make_maildir(path, msgs=()):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    t = 1700000000
    for key, body, flags in msgs:
        name = "%d.%s.rookery-test:2,%s" % (t, key, flags)
        p = os.path.join(path, "cur", name)
        with open(p, "wb") as f:
            f.write(body)


def read_maildir(path):
    """{filename-without-info: (bytes, flags)} over cur/ and new/."""
    out = {}
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(path, sub)):
            base, _, info = name.partition(":2,")
            with open(os.path.join(path, sub, name), "rb") as f:
                data = f.read()
            # mbsync files unseen mail in new/, flags and all
            out[os.path.join(sub, base)] = (data, info)
    return out


# --- mbsync plumbing ------------------------------------------------------------


def write_rc(home, port, user, cert, maildirs):
    lines = [
        "IMAPAccount rk",
        "Host localhost",  # the certificate names localhost; mbsync
        # matches DNS names only (it falls back from ::1 to 127.0.0.1)
        "Port %d" % port,
        "User %s" % user[0],
        "Pass %s" % user[1],
        "SSLType STARTTLS",
        "CertificateFile %s" % cert,
        "AuthMechs LOGIN",
        "PipelineDepth 50",
        "",
        "IMAPStore rk-far",
        "Account rk",
        "",
    ]
    for name, path in maildirs.items():
        lines += [
            "MaildirStore %s-near" % name,
            "Path %s/" % path,
            "Inbox %s" % path,
            "",
            "Channel %s" % name,
            "Far :rk-far:",
            "Near :%s-near:" % name,
            "Patterns INBOX",
            "Sync All",
            "Create Both",
            "Expunge Both",
            "SyncState *",
            "",
        ]
    rc = os.path.join(home, ".mbsyncrc")
    with open(rc, "w") as f:
        f.write("\n".join(lines))
    return rc


def run_mbsync(home, rc, channel):
    env = dict(os.environ, HOME=home)
    p = subprocess.run([MBSYNC, "-c", rc, channel], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    return out


# --- reading the store over IMAP ------------------------------------------------


def fetch_all(m):
    """{uid: (bytes, set of system flags)} of INBOX."""
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK"
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK"
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = int(re.search(rb"UID (\d+)", head).group(1))
        flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode()
        out[uid] = (body, set(flags.split()) - {"\\Recent"})
    m.close()
    return out


def imap_flags(info):
    return {FLAG_MAP[c] for c in info if c in FLAG_MAP}


TUID_RE = re.compile(rb"X-TUID: [A-Za-z0-9+/]{12}\n")


def strip_tuid(lf_bytes):
    """The message with the X-TUID line mbsync added removed; asserts there
    was exactly one, as the last field of the header."""
    head_end = lf_bytes.find(b"\n\n")
    head_end = len(lf_bytes) if head_end < 0 else head_end + 1
    head = lf_bytes[:head_end]
    found = TUID_RE.findall(head)
    assert len(found) == 1, head
    assert head.endswith(found[0]) or head.endswith(found[0] + b"\n"), head
    return lf_bytes.replace(found[0], b"", 1)


def test_mbsync_two_way(imap_env, imap_user, tls_cert, tmp_path):
    t0 = time.monotonic()
    home = str(tmp_path / "home")
    src = str(tmp_path / "src")
    dst = str(tmp_path / "dst")
    os.makedirs(home)
    msgs = corpus(COUNT)
    make_maildir(src, msgs)
    make_maildir(dst)
    by_body = {body: (key, flags) for key, body, flags in msgs}
    assert len(by_body) == COUNT
    rc = write_rc(home, imap_env.port, imap_user, tls_cert[0],
                  {"up": src, "down": dst})

    # 1. maildir -> store
    run_mbsync(home, rc, "up")
    m = imap_env.login(imap_user)
    stored = fetch_all(m)
    assert len(stored) == COUNT
    seen_keys = {}
    for uid, (data, flags) in stored.items():
        assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""), \
            "bare LF in the store, uid %d" % uid
        orig = strip_tuid(data.replace(b"\r\n", b"\n"))
        assert orig in by_body, "uid %d does not match any source: %r" % (
            uid, data[:300])
        key, mflags = by_body[orig]
        assert key not in seen_keys, "%s stored twice" % key
        seen_keys[key] = uid
        assert flags == imap_flags(mflags), (key, flags, mflags)
    t_up = time.monotonic() - t0

    # 2. store -> an empty maildir
    run_mbsync(home, rc, "down")
    got = read_maildir(dst)
    assert len(got) == COUNT
    stored_lf = {strip_tuid(data.replace(b"\r\n", b"\n")): flags
                 for data, flags in stored.values()}
    for name, (data, info) in got.items():
        # the store's copy (CRLF -> LF) with the X-TUID value renewed,
        # which is the original plus one X-TUID line
        orig = strip_tuid(data)
        assert orig in stored_lf, "%s not in the store: %r" % (name,
                                                                data[:300])
        key, mflags = by_body[orig]
        assert imap_flags(info) == imap_flags(mflags), (name, info, mflags)
        assert stored_lf[orig] == imap_flags(mflags)

    # 3. flag changes on both sides, then sync again
    src_files = {}
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(src, sub)):
            with open(os.path.join(src, sub, name), "rb") as f:
                body = f.read()
            src_files[by_body[body][0]] = os.path.join(src, sub, name)
    local_changes = {}  # key -> new maildir flags
    remote_changes = {}  # key -> (uid, new imap flag set)
    for n, (key, body, flags) in enumerate(msgs):
        if n % 17 == 0:
            new = "".join(sorted(set(flags) ^ {"F"}))
            path = src_files[key]
            d, base = os.path.split(path)
            base = base.split(":2,")[0]
            os.rename(path, os.path.join(os.path.dirname(d), "cur",
                                         base + ":2," + new))
            local_changes[key] = new
        elif n % 17 == 5:
            uid = seen_keys[key]
            new = imap_flags(flags) ^ {"\\Answered", "\\Seen"}
            remote_changes[key] = (uid, new)
    m.select("INBOX")
    for key, (uid, new) in remote_changes.items():
        typ, _ = m.uid("STORE", str(uid), "FLAGS.SILENT",
                       "(%s)" % " ".join(sorted(new)))
        assert typ == "OK"
    m.close()
    run_mbsync(home, rc, "up")

    stored2 = fetch_all(m)
    assert set(stored2) == set(stored)
    after = read_maildir(src)
    assert len(after) == COUNT
    local_flags = {by_body[data][0]: info for data, info in after.values()}
    for key, body, flags in msgs:
        uid = seen_keys[key]
        if key in local_changes:
            want_local = local_changes[key]
        elif key in remote_changes:
            want_local = "".join(sorted(
                c for c, f in FLAG_MAP.items() if f in remote_changes[key][1]))
        else:
            want_local = flags
        assert imap_flags(local_flags[key]) == imap_flags(want_local), key
        assert stored2[uid][1] == imap_flags(want_local), (key, uid)
        assert stored2[uid][0] == stored[uid][0]

    # 4. the second maildir follows
    run_mbsync(home, rc, "down")
    got2 = read_maildir(dst)
    assert len(got2) == COUNT
    for name, (data, info) in got2.items():
        key = by_body[strip_tuid(data)][0]
        assert imap_flags(info) == imap_flags(local_flags[key]), (name, key)
    m.logout()
    elapsed = time.monotonic() - t0
    print("mbsync: %d messages, upload %.1fs, all %.1fs" % (COUNT, t_up,
                                                           elapsed))
