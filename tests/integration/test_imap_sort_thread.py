"""SORT (RFC 5256, RFC 5957 SORT=DISPLAY) and THREAD (RFC 5256
ORDEREDSUBJECT, REFERENCES) against messages with crafted headers,
appended over IMAP or delivered over LMTP.  Every expected answer is
worked out by hand from the RFC in the comment beside it."""

import imaplib
import re

import pytest

from imap_helpers import imap_env, imap_user  # noqa: F401


def msg(hdrs, body=b"x\r\n"):
    head = "".join("%s: %s\r\n" % kv for kv in hdrs).encode()
    return head + b"\r\n" + body


def filler(n):
    return (b"0123456789" * (n // 10)) + b"\r\n"


def sort(m, crit, search="ALL", charset="UTF-8", uid=False):
    if uid:
        typ, data = m.uid("SORT", "(%s)" % crit, charset, search)
    else:
        typ, data = m.sort("(%s)" % crit, charset, search)
    assert typ == "OK", data
    return [int(x) for x in data[0].split()] if data[0] else []


def thread(m, alg, search="ALL", uid=False):
    if uid:
        typ, data = m.uid("THREAD", alg, "UTF-8", search)
    else:
        typ, data = m.thread(alg, "UTF-8", search)
    assert typ == "OK", data
    return data[0].decode() if data[0] else ""


def drop_first_uid(m):
    """Appends and expunges one message so that UIDs are msn + 1."""
    assert m.append("INBOX", None, None, msg([("Subject", "junk")]))[0] == "OK"
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()


# Four messages.  Sent dates in UTC: 1 = 01-01 10:00, 2 = 01-01 07:00
# (12:00 +0500), 3 = no Date: so its INTERNALDATE 2023-12-31 12:00,
# 4 = 01-02 00:00.  Base subjects: banana, apple, Cherry, Apple.
SORT_MSGS = [
    ([("From", "Zed <zed@b.example>"), ("To", "Yolanda <amy@x.example>"),
      ("Cc", "Carl <carl@x.example>"), ("Subject", "Re: banana"),
      ("Date", "Mon, 01 Jan 2024 10:00:00 +0000")],
     2000, '"05-Jan-2024 09:00:00 +0000"'),
    ([("From", "adam@c.example"), ("To", "Bob <bob@x.example>"),
      ("Subject", "apple"), ("Date", "Mon, 01 Jan 2024 12:00:00 +0500")],
     5000, '"03-Jan-2024 09:00:00 +0000"'),
    ([("From", "=?UTF-8?Q?=C3=89mile?= <emile@d.example>"),
      ("To", "zoe@x.example"), ("Subject", "[list] Cherry")],
     10, '"31-Dec-2023 12:00:00 +0000"'),
    ([("From", "Bob <bob@a.example>"), ("Subject", "Apple"),
      ("Date", "Tue, 2 Jan 2024 01:00:00 +0100")],
     9000, '"04-Jan-2024 09:00:00 +0000"'),
]


@pytest.fixture
def sorted_box(imap_env, imap_user):
    m = imap_env.login(imap_user)
    drop_first_uid(m)
    for hdrs, size, idate in SORT_MSGS:
        typ, data = m.append("INBOX", None, idate, msg(hdrs, filler(size)))
        assert typ == "OK", data
    m.select("INBOX")
    yield m
    m.logout()


def test_capabilities(imap_env):
    m = imap_env.connect()
    for c in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT",
              "THREAD=REFERENCES"):
        assert c in m.capabilities, c
    m.logout()


def test_sort_single_keys(sorted_box):
    m = sorted_box
    assert sort(m, "ARRIVAL") == [3, 2, 4, 1]
    assert sort(m, "DATE") == [3, 2, 1, 4]
    assert sort(m, "REVERSE DATE") == [4, 1, 2, 3]
    assert sort(m, "SIZE") == [3, 1, 2, 4]
    # apple == Apple under i;ascii-casemap: the tie goes by msn
    assert sort(m, "SUBJECT") == [2, 4, 1, 3]
    # REVERSE reverses the key, never the final msn tie-break
    assert sort(m, "REVERSE SUBJECT") == [3, 1, 2, 4]
    # addr-mailbox: zed adam emile bob
    assert sort(m, "FROM") == [2, 4, 3, 1]
    # amy bob zoe "" (no To: sorts first)
    assert sort(m, "TO") == [4, 1, 2, 3]
    assert sort(m, "CC") == [2, 3, 4, 1]


def test_sort_display(sorted_box):
    m = sorted_box
    # display names: "Zed", none -> "adam@c.example", "Émile" (decoded;
    # its UTF-8 bytes sort after ASCII), "Bob"
    assert sort(m, "DISPLAYFROM") == [2, 4, 1, 3]
    # "Yolanda", "Bob", none -> "zoe@x.example", no To: -> ""
    assert sort(m, "DISPLAYTO") == [4, 2, 1, 3]
    assert sort(m, "REVERSE DISPLAYFROM") == [3, 1, 4, 2]


def test_sort_multi_key_and_search(sorted_box):
    m = sorted_box
    # CC "" for 2 3 4 (by size, largest first), then 1
    assert sort(m, "CC REVERSE SIZE") == [4, 2, 3, 1]
    assert sort(m, "SUBJECT", "FROM bob") == [4]
    assert sort(m, "DATE", "SUBJECT apple", charset="US-ASCII") == [2, 4]
    assert sort(m, "DATE", "OR LARGER 4000 CC carl") == [2, 1, 4]
    assert sort(m, "DATE", "SUBJECT nothing-matches") == []


def test_uid_sort(sorted_box):
    m = sorted_box
    # UIDs are msn + 1 (the first UID was expunged)
    assert sort(m, "ARRIVAL", uid=True) == [4, 3, 5, 2]
    # the search set stays a message-number set: msns 2:4 = UIDs 3 4 5
    assert sort(m, "REVERSE SIZE", "2:4", uid=True) == [5, 3, 4]
    assert sort(m, "REVERSE SIZE", "UID 2:4", uid=True) == [3, 2, 4]


def test_sort_errors(sorted_box):
    m = sorted_box
    typ, data = m._simple_command("SORT", "(DATE)", "KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    for bad in (("(FOO)", "UTF-8", "ALL"), ("(REVERSE)", "UTF-8", "ALL"),
                ("()", "UTF-8", "ALL"), ("(DATE)", "UTF-8", "BOGUS")):
        with pytest.raises(imaplib.IMAP4.error):
            m._simple_command("SORT", *bad)
    assert m.noop()[0] == "OK"


def esort(m, *args, uid=False):
    """The ESEARCH answer of an ESORT command, without its TAG."""
    if uid:
        typ, data = m.uid("SORT", "RETURN", *args)
    else:
        typ, data = m._simple_command("SORT", "RETURN", *args)
    assert typ == "OK", data
    typ, data = m._untagged_response(typ, data, "ESEARCH")
    if data == [None]:
        return None
    return re.sub(r'^\(TAG "[^"]*"\) ?', "", data[-1].decode())


def test_esort(sorted_box):
    m = sorted_box
    # RFC 5267 3.1: MIN and MAX are the first and last in sort order,
    # ALL keeps the sort order (only ascending runs become ranges)
    assert esort(m, "(MIN MAX COUNT ALL)", "(DATE)", "UTF-8", "ALL") == \
        "MIN 3 MAX 4 COUNT 4 ALL 3,2,1,4"
    assert esort(m, "(ALL)", "(SIZE)", "UTF-8", "ALL") == "ALL 3,1:2,4"
    assert esort(m, "()", "(ARRIVAL)", "UTF-8", "ALL") == "ALL 3,2,4,1"
    assert esort(m, "(COUNT)", "(DATE)", "UTF-8", "ALL", uid=True) == \
        "UID COUNT 4"
    assert esort(m, "(MIN COUNT)", "(DATE)", "UTF-8",
                 "SUBJECT nothing-matches") == "COUNT 0"
    # SAVE alone: no ESEARCH, the result is "$" (RFC 5182)
    assert esort(m, "(SAVE)", "(DATE)", "UTF-8", "FROM bob") is None
    typ, data = m.search(None, "$")
    assert typ == "OK" and data[0] == b"4"


# Thread set, delivered over LMTP (UIDs 2..9 after the expunged one).
# Message-IDs t1..t8; 8 reuses t1's id (a duplicate).
THREAD_MSGS = [
    ("<t1@x>", "Plan", None, "Thu, 1 Feb 2024 10:00:00 +0000"),
    ("<t2@x>", "Re: Plan", "<t1@x>", "Thu, 1 Feb 2024 11:00:00 +0000"),
    ("<t3@x>", "Re: Plan", "<t1@x> <t2@x>", "Thu, 1 Feb 2024 12:00:00 +0000"),
    ("<t4@x>", "Re: Plan", "<t1@x>", "Thu, 1 Feb 2024 10:30:00 +0000"),
    ("<t5@x>", "Lunch", None, "Wed, 31 Jan 2024 12:00:00 +0000"),
    ("<t6@x>", "Re: Lunch", "<missing@x>", "Fri, 2 Feb 2024 12:00:00 +0000"),
    ("<t7@x>", "Plan", None, "Sat, 3 Feb 2024 12:00:00 +0000"),
    ("<t1@x>", "Dup", None, "Sun, 4 Feb 2024 12:00:00 +0000"),
]


@pytest.fixture
def thread_box(imap_env, imap_user):
    m = imap_env.login(imap_user)
    drop_first_uid(m)
    for mid, subj, refs, date in THREAD_MSGS:
        hdrs = [("From", "a@x"), ("Message-ID", mid), ("Subject", subj),
                ("Date", date)]
        if refs:
            hdrs.append(("References", refs))
            hdrs.append(("In-Reply-To", refs.split()[-1]))
        imap_env.deliver(imap_user[0], msg(hdrs))
    m.select("INBOX")
    yield m
    m.logout()


def test_thread_references(thread_box):
    m = thread_box
    # 1 has children 2 (11:00) and 4 (10:30), 3 is under 2; 6's parent is
    # missing so it rises to the top and joins 5 ("Re: Lunch" under
    # "Lunch"); 7 has 1's subject without "Re:" so both go under a new
    # dummy; 8's duplicate Message-ID is ignored.  Top level by date:
    # 5 (Jan 31), the dummy (1's date), 8.
    assert thread(m, "REFERENCES") == "(5 6)((1 (4)(2 3))(7))(8)"
    assert thread(m, "REFERENCES", uid=True) == \
        "(6 7)((2 (5)(3 4))(8))(9)"
    assert thread(m, "REFERENCES", "SUBJECT lunch") == "(5 6)"
    assert thread(m, "REFERENCES", "SUBJECT nothing-matches") == ""


def test_thread_orderedsubject(thread_box):
    m = thread_box
    # Lunch: 5 6; Plan: 1 4 2 3 7 by date; Dup: 8; threads by the date
    # of their first message
    assert thread(m, "ORDEREDSUBJECT") == "(5 6)(1 (4)(2)(3)(7))(8)"
    assert thread(m, "ORDEREDSUBJECT", "NOT SUBJECT plan") == "(5 6)(8)"
    # msns 1:2 are both "Plan"; UIDs 5:6 are msns 4 (Plan, Feb 1) and
    # 5 (Lunch, Jan 31)
    assert thread(m, "ORDEREDSUBJECT", "1:2", uid=True) == "(2 3)"
    assert thread(m, "ORDEREDSUBJECT", "UID 5:6", uid=True) == "(6)(5)"


def test_thread_errors(thread_box):
    m = thread_box
    with pytest.raises(imaplib.IMAP4.error):
        m._simple_command("THREAD", "JWZ", "UTF-8", "ALL")
    typ, data = m._simple_command("THREAD", "REFERENCES", "X-UNKNOWN", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    assert m.noop()[0] == "OK"
