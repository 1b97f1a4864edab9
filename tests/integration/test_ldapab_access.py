"""The address-book access matrix (DESIGN.md, Address books): for every
identity and every book, what search and each write operation do.

    identity            own book   account book (example)   other's books
    alice (manager)     rw         rw                        -
    bob (ordinary)      rw         r                         -
    example (account)   -          rw                        -
    carol (other acct)  rw         -                         -
    anonymous           -          -                         -

"-" means the book is invisible: searches find nothing (noSuchObject at
its base) and writes answer noSuchObject; "r" writes answer
insufficientAccessRights.
"""

import pytest

from test_ldapab_support import (book, ldap_server, ldap_tool,  # noqa
                                 ldif_dns)

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@other.org"
PW = {ALICE: "demo", BOB: "demo", CAROL: "demo", "example": "acct",
      None: None}

BOOKS = [ALICE, BOB, "example", "other", CAROL]

RIGHTS = {
    ALICE: {ALICE: "rw", "example": "rw"},
    BOB: {BOB: "rw", "example": "r"},
    "example": {"example": "rw"},
    CAROL: {CAROL: "rw", "other": "rw"},
    None: {},
}

OWNER = {ALICE: ALICE, BOB: BOB, CAROL: CAROL, "example": ALICE,
         "other": CAROL}


def tool(srv, prog, who, *args, input=None):
    if who is None:
        return ldap_tool(srv, prog, *args, input=input)
    return ldap_tool(srv, prog, *args, who=who, pw=PW[who], input=input)


def entry(name, bk):
    return ("dn: cn=%s,%s\nobjectClass: inetOrgPerson\ncn: %s\nsn: X\n"
            "mail: %s@x.org\n" % (name, book(bk), name,
                                  name.replace(" ", ".")))


@pytest.fixture(scope="module")
def seeded(ldap_server):
    for bk in BOOKS:
        owner = OWNER[bk]
        r = tool(ldap_server, "ldapadd", owner, input=entry("Seed", bk))
        assert r.returncode == 0, (bk, r.stderr)
    return ldap_server


def label(who):
    return who or "anonymous"


@pytest.mark.parametrize("who", [ALICE, BOB, "example", CAROL, None],
                         ids=label)
@pytest.mark.parametrize("bk", BOOKS)
def test_search(seeded, who, bk):
    right = RIGHTS[who].get(bk, "")
    r = tool(seeded, "ldapsearch", who, "-LLL", "-b", book(bk),
             "(cn=Seed)", "cn")
    if right:
        assert r.returncode == 0, r.stderr
        assert ldif_dns(r.stdout) == ["cn=Seed," + book(bk)]
    else:
        assert r.returncode == 32, (r.returncode, r.stdout)
        assert r.stdout.strip() == ""
    # The same book through the root: visible or silently absent.
    r = tool(seeded, "ldapsearch", who, "-LLL", "-b", "", "(cn=Seed)", "cn")
    assert r.returncode == 0
    assert (("cn=Seed," + book(bk)) in ldif_dns(r.stdout)) == bool(right)


@pytest.mark.parametrize("who", [ALICE, BOB, "example", CAROL, None],
                         ids=label)
@pytest.mark.parametrize("bk", BOOKS)
def test_writes(seeded, who, bk):
    right = RIGHTS[who].get(bk, "")
    deny = 50 if right == "r" or who is None else 32
    name = "W %s" % label(who).split("@")[0]
    dn = "cn=%s,%s" % (name, book(bk))
    seed = "cn=Seed," + book(bk)

    r = tool(seeded, "ldapadd", who, input=entry(name, bk))
    assert r.returncode == (0 if right == "rw" else
                            (50 if who is None else deny)), r.stderr
    r = tool(seeded, "ldapmodify", who, input=(
        "dn: %s\nchangetype: modify\nreplace: title\ntitle: t\n" % seed))
    assert r.returncode == (0 if right == "rw" else
                            (50 if who is None else deny)), r.stderr
    r = tool(seeded, "ldapcompare", who, seed, "sn:X")
    assert r.returncode == (6 if right else 32), r.stderr
    if right == "rw":
        r = tool(seeded, "ldapmodrdn", who, "-r", dn, "cn=%s 2" % name)
        assert r.returncode == 0, r.stderr
        r = tool(seeded, "ldapdelete", who, "cn=%s 2,%s" % (name, book(bk)))
        assert r.returncode == 0, r.stderr
    else:
        r = tool(seeded, "ldapmodrdn", who, seed, "cn=Renamed")
        assert r.returncode == (50 if who is None else deny), r.stderr
        r = tool(seeded, "ldapdelete", who, seed)
        assert r.returncode == (50 if who is None else deny), r.stderr


def test_books_themselves_are_not_writable(seeded):
    r = ldap_tool(seeded, "ldapdelete", book(ALICE), who=ALICE)
    assert r.returncode == 53
    r = ldap_tool(seeded, "ldapadd", who=ALICE, input=(
        "dn: ou=new,ou=ab,dc=example,dc=net\nobjectClass: "
        "organizationalUnit\nou: new\n"))
    assert r.returncode == 32


def test_containers_visible_to_users_only(seeded):
    r = ldap_tool(seeded, "ldapsearch", "-LLL", "-b", "dc=example,dc=net",
                  "-s", "one", "(objectClass=*)", "1.1", who=BOB)
    assert ldif_dns(r.stdout) == ["ou=ab,dc=example,dc=net"]
    r = ldap_tool(seeded, "ldapsearch", "-LLL", "-b", "dc=example,dc=net",
                  "-s", "base", "(objectClass=*)")
    assert r.returncode == 32
