"""rookery-ldapab with the stock OpenLDAP clients: bind rules, the root DSE
and schema, add/modify/modrdn/delete/compare, whoami, passwd, StartTLS,
LDAPS, Unicode matching, and the query shapes of real address-book
clients."""

import base64
import os
import subprocess

import ldap3
import pytest

from test_ldapab_support import (SUFFIX, book, bind_dn, ldap_server,  # noqa
                                 ldap_tool, ldif_dns, make_server,
                                 finish_server, RawClient, simple_bind,
                                 ber_seq, ber_str, ber_int, ldap_msg)

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@other.org"

CONTACT = """dn: cn={cn},{book}
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: inetOrgPerson
objectClass: mozillaAbPersonAlpha
cn: {cn}
sn: {sn}
givenName: {gn}
mail: {mail}
"""


def contact(cn, sn, gn, mail, bk):
    return CONTACT.format(cn=cn, sn=sn, gn=gn, mail=mail, book=bk)


def add(srv, who, ldif, pw="demo"):
    return ldap_tool(srv, "ldapadd", who=who, pw=pw, input=ldif)


def search(srv, who, base, flt="(objectClass=*)", *attrs, scope="sub",
           extra=(), pw="demo"):
    return ldap_tool(srv, "ldapsearch", "-LLL", "-b", base, "-s", scope,
                     *extra, flt, *attrs, who=who, pw=pw)


@pytest.fixture(scope="module")
def people(ldap_server):
    srv = ldap_server
    ldif = "\n".join([
        contact("Jörg Müller", "Müller", "Jörg", "joerg@example.de",
                book(ALICE)),
        contact("Ann Smith", "Smith", "Ann", "ann@smith.org", book(ALICE)),
        contact("Zoë Brown", "Brown", "Zoë", "zoe@brown.net", book(ALICE)),
    ])
    r = add(srv, ALICE, ldif)
    assert r.returncode == 0, r.stderr
    r = add(srv, ALICE, contact("Team Lead", "Lead", "Team",
                                "lead@example.com", book("example")))
    assert r.returncode == 0, r.stderr
    r = add(srv, CAROL, contact("Other Person", "Person", "Other",
                                "op@other.org", book("other")))
    assert r.returncode == 0, r.stderr
    return srv


# --- binds ------------------------------------------------------------------

def test_anonymous_bind_succeeds_and_sees_no_data(people):
    r = ldap_tool(people, "ldapwhoami")
    assert r.returncode == 0 and r.stdout.strip() == "anonymous"
    r = search(people, None, "")
    assert r.returncode == 0 and r.stdout.strip() == ""
    r = search(people, None, book(ALICE))
    assert r.returncode == 32


def test_bind_forms(people):
    r = ldap_tool(people, "ldapwhoami", who=ALICE)
    assert r.stdout.strip() == "dn:" + bind_dn(ALICE), r.stderr
    r = ldap_tool(people, "ldapwhoami", who="Alice@Example.COM")
    assert r.returncode == 0, r.stderr
    r = ldap_tool(people, "ldapwhoami", "-D", ALICE, "-w", "demo")
    assert r.stdout.strip() == "dn:" + bind_dn(ALICE)
    r = ldap_tool(people, "ldapwhoami", who="example", pw="acct")
    assert r.stdout.strip() == "dn:" + bind_dn("example")


def test_bind_failures(people):
    r = ldap_tool(people, "ldapwhoami", who=ALICE, pw="wrong")
    assert r.returncode == 49
    r = ldap_tool(people, "ldapwhoami", who="nobody@example.com")
    assert r.returncode == 49
    r = ldap_tool(people, "ldapwhoami", who="cn=x,dc=elsewhere")
    assert r.returncode == 49
    # A DN with an empty password is an unauthenticated bind: refused.
    c = RawClient(people)
    c.send(simple_bind(1, bind_dn(ALICE), ""))
    code, _ = c.result_code()
    assert code == 53
    # The failed bind leaves the connection anonymous and usable.
    c.send(simple_bind(2, bind_dn(ALICE), "demo"))
    assert c.result_code()[0] == 0
    c.close()


def test_sasl_bind_not_supported(people):
    c = RawClient(people)
    sasl = ber_seq(ber_str("PLAIN"), ber_str(b"\0alice\0demo"), tag=0xa3)
    c.send(ldap_msg(1, ber_seq(ber_int(3), ber_str(""), sasl, tag=0x60)))
    code, m = c.result_code()
    assert code == 7 and m[1] == 0x61
    c.close()


# --- root DSE and schema ---------------------------------------------------

def test_root_dse(people):
    r = search(people, None, "", "(objectClass=*)", "+", scope="base")
    assert r.returncode == 0
    for want in ["namingContexts: " + SUFFIX, "supportedLDAPVersion: 3",
                 "supportedControl: 1.2.840.113556.1.4.319",
                 "supportedControl: 1.2.840.113556.1.4.473",
                 "supportedControl: 2.16.840.1.113730.3.4.9",
                 "supportedExtension: 1.3.6.1.4.1.1466.20037",
                 "supportedExtension: 1.3.6.1.4.1.4203.1.11.3",
                 "supportedExtension: 1.3.6.1.4.1.4203.1.11.1",
                 "subschemaSubentry: cn=Subschema", "vendorName: Rookery"]:
        assert want in r.stdout, r.stdout


def test_schema_entry_evolution_style(people):
    """Evolution reads the root DSE, then the schema, anonymously; the
    schema must parse (ldap3 parses RFC 4512 definitions)."""
    server = ldap3.Server("127.0.0.1", port=people.port,
                          get_info=ldap3.ALL)
    conn = ldap3.Connection(server, auto_bind=True)
    assert SUFFIX in [str(x) for x in server.info.naming_contexts]
    schema = server.schema
    assert schema is not None
    for oc in ("inetOrgPerson", "mozillaAbPersonAlpha", "person",
               "organizationalPerson", "groupOfNames"):
        assert oc in schema.object_classes, oc
    for at in ("cn", "mail", "mozillaSecondEmail", "telephoneNumber",
               "entryUUID", "createTimestamp"):
        assert at in schema.attribute_types, at
    assert "sn" in schema.object_classes["person"].must_contain
    conn.unbind()


# --- writes ---------------------------------------------------------------

def test_add_modify_modrdn_delete_compare(people):
    srv = people
    dn = "cn=Temp User," + book(ALICE)
    r = add(srv, ALICE, contact("Temp User", "User", "Temp", "t@x.org",
                                book(ALICE)))
    assert r.returncode == 0, r.stderr
    r = add(srv, ALICE, contact("Temp User", "User", "Temp", "t@x.org",
                                book(ALICE)))
    assert r.returncode == 68
    r = ldap_tool(srv, "ldapmodify", who=ALICE, input=(
        "dn: %s\nchangetype: modify\nreplace: mail\nmail: t2@x.org\n-\n"
        "add: telephoneNumber\ntelephoneNumber: +1 555 0100\n-\n"
        "delete: givenName\n-\n" % dn))
    assert r.returncode == 0, r.stderr
    r = search(srv, ALICE, dn, "(objectClass=*)", "mail", "givenName",
               "telephoneNumber", scope="base")
    assert "mail: t2@x.org" in r.stdout and "givenName" not in r.stdout
    assert "telephoneNumber: +1 555 0100" in r.stdout
    # telephoneNumberMatch ignores spaces and hyphens.
    r = ldap_tool(srv, "ldapcompare", dn, "telephoneNumber:+1-555-0100",
                  who=ALICE)
    assert r.returncode == 6, r.stdout + r.stderr
    r = ldap_tool(srv, "ldapcompare", dn, "mail:nope@x.org", who=ALICE)
    assert r.returncode == 5
    # Schema: an attribute the classes do not allow, an unknown type,
    # a missing MUST, a second value of a single-valued attribute.
    r = ldap_tool(srv, "ldapmodify", who=ALICE, input=(
        "dn: %s\nchangetype: modify\nadd: dc\ndc: x\n" % dn))
    assert r.returncode == 65, r.stderr
    r = ldap_tool(srv, "ldapmodify", who=ALICE, input=(
        "dn: %s\nchangetype: modify\nadd: fooBar\nfooBar: x\n" % dn))
    assert r.returncode == 17, r.stderr
    r = ldap_tool(srv, "ldapmodify", who=ALICE, input=(
        "dn: %s\nchangetype: modify\ndelete: sn\n" % dn))
    assert r.returncode == 65, r.stderr
    assert "requires attribute" in r.stderr
    r = ldap_tool(srv, "ldapmodify", who=ALICE, input=(
        "dn: %s\nchangetype: modify\nadd: displayName\ndisplayName: a\n"
        "displayName: b\n" % dn))
    assert r.returncode == 19, r.stderr
    r = ldap_tool(srv, "ldapmodify", who=ALICE, input=(
        "dn: %s\nchangetype: modify\ndelete: cn\ncn: Temp User\n" % dn))
    assert r.returncode == 67, r.stderr
    # modrdn, keeping then deleting the old RDN value.
    r = ldap_tool(srv, "ldapmodrdn", dn, "cn=Temp Two", who=ALICE)
    assert r.returncode == 0, r.stderr
    dn2 = "cn=Temp Two," + book(ALICE)
    r = search(srv, ALICE, dn2, "(objectClass=*)", "cn", scope="base")
    assert "cn: Temp User" in r.stdout and "cn: Temp Two" in r.stdout
    r = ldap_tool(srv, "ldapmodrdn", "-r", dn2, "cn=Temp Three", who=ALICE)
    assert r.returncode == 0, r.stderr
    dn3 = "cn=Temp Three," + book(ALICE)
    r = search(srv, ALICE, dn3, "(objectClass=*)", "cn", scope="base")
    assert "cn: Temp Two" not in r.stdout and "cn: Temp Three" in r.stdout
    # No moves between books.
    r = ldap_tool(srv, "ldapmodrdn", "-s", book("example"), dn3,
                  "cn=Temp Three", who=ALICE)
    assert r.returncode == 71, r.stderr
    r = ldap_tool(srv, "ldapdelete", dn3, who=ALICE)
    assert r.returncode == 0
    r = ldap_tool(srv, "ldapdelete", dn3, who=ALICE)
    assert r.returncode == 32


def test_operational_attributes(people):
    dn = "cn=Ann Smith," + book(ALICE)
    r = search(people, ALICE, dn, "(objectClass=*)", "+", scope="base")
    for a in ("entryUUID:", "createTimestamp:", "modifyTimestamp:",
              "creatorsName: " + bind_dn(ALICE), "modifiersName:",
              "entryDN:", "subschemaSubentry: cn=Subschema"):
        assert a in r.stdout, r.stdout
    assert "mail:" not in r.stdout
    r = search(people, ALICE, dn, "(objectClass=*)", "1.1", scope="base")
    assert r.stdout.strip() == "dn: " + dn
    r = search(people, ALICE, dn, "(objectClass=*)", "*", "+",
               "unknownAttr", scope="base")
    assert "mail: ann@smith.org" in r.stdout and "entryUUID" in r.stdout
    r = search(people, ALICE, dn, "(objectClass=*)", "mail",
               extra=["-A"], scope="base")
    assert "mail:" in r.stdout and "ann@smith.org" not in r.stdout


def test_whoami_passwd(people):
    r = ldap_tool(people, "ldappasswd", "-s", "other", who=BOB)
    assert r.returncode == 0, r.stderr
    assert ldap_tool(people, "ldapwhoami", who=BOB).returncode == 49
    assert ldap_tool(people, "ldapwhoami", who=BOB,
                     pw="other").returncode == 0
    r = ldap_tool(people, "ldappasswd", "-a", "other", "-s", "demo",
                  who=BOB, pw="other")
    assert r.returncode == 0, r.stderr
    # Someone else's password: refused.
    r = ldap_tool(people, "ldappasswd", "-s", "x", bind_dn(ALICE), who=BOB)
    assert r.returncode != 0 and "Insufficient access (50)" in r.stdout
    r = ldap_tool(people, "ldappasswd", "-a", "wrong", "-s", "x", who=BOB)
    assert r.returncode != 0 and "Invalid credentials (49)" in r.stdout
    assert ldap_tool(people, "ldapwhoami", who=BOB).returncode == 0


def test_starttls_and_ldaps(people):
    r = ldap_tool(people, "ldapwhoami", "-ZZ", who=ALICE)
    assert r.returncode == 0 and bind_dn(ALICE) in r.stdout, r.stderr
    r = ldap_tool(people, "ldapsearch", "-ZZ", "-LLL", "-b", book(ALICE),
                  "(sn=Smith)", "mail", who=ALICE)
    assert "ann@smith.org" in r.stdout
    r = subprocess.run(["ldapwhoami", "-x", "-H", people.ldaps_uri, "-D",
                        bind_dn(ALICE), "-w", "demo"], capture_output=True,
                       text=True, env=dict(os.environ,
                                           LDAPTLS_REQCERT="never"))
    assert r.returncode == 0 and bind_dn(ALICE) in r.stdout, r.stderr
    # The root DSE offers StartTLS only before it.
    r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", people.ldaps_uri,
                        "-b", "", "-s", "base", "supportedExtension"],
                       capture_output=True, text=True,
                       env=dict(os.environ, LDAPTLS_REQCERT="never"))
    assert "1.3.6.1.4.1.1466.20037" not in r.stdout


# --- matching ---------------------------------------------------------------

@pytest.mark.parametrize("flt,want", [
    ("(cn=*jö*)", ["Jörg Müller"]),
    ("(cn=*JÖ*)", ["Jörg Müller"]),
    ("(cn=jörg müller)", ["Jörg Müller"]),
    ("(cn=  Jörg   Müller )", ["Jörg Müller"]),
    ("(sn=M*)", ["Jörg Müller"]),
    ("(sn=*ith)", ["Ann Smith"]),
    ("(cn=a*n*s*h)", ["Ann Smith"]),
    ("(mail=ANN@SMITH.ORG)", ["Ann Smith"]),
    ("(&(mail=*)(!(sn=Smith)))", ["Jörg Müller", "Zoë Brown"]),
    ("(|(sn=Brown)(sn=Smith))", ["Ann Smith", "Zoë Brown"]),
    ("(sn>=N)", ["Ann Smith"]),
    ("(sn<=C)", ["Zoë Brown"]),
    ("(givenName~=Zoe)", ["Zoë Brown"]),
    ("(cn~=jorg muller)", ["Jörg Müller"]),
    ("(cn:caseExactMatch:=Ann Smith)", ["Ann Smith"]),
    ("(cn:caseExactMatch:=ann smith)", []),
    ("(:caseIgnoreMatch:=smith)", ["Ann Smith"]),
    ("(cn:dn:=Zoë Brown)", ["Zoë Brown"]),
    ("(noSuchAttr=x)", []),
    ("(!(noSuchAttr=x))", []),
    ("(&)", ["Ann Smith", "Jörg Müller", "Zoë Brown"]),
    ("(|)", []),
    ("(objectClass=inetOrgPerson)", ["Ann Smith", "Jörg Müller",
                                     "Zoë Brown"]),
    ("(objectClass=2.16.840.1.113730.3.2.2)", ["Ann Smith", "Jörg Müller",
                                               "Zoë Brown"]),
])
def test_filters(people, flt, want):
    r = search(people, ALICE, book(ALICE), "(&(sn=*)%s)" % flt
               if not flt.startswith("(&)") and not flt.startswith("(|)")
               else flt, "cn")
    assert r.returncode == 0, r.stderr
    got = sorted(x.split(",")[0][3:] for x in ldif_dns(r.stdout)
                 if x.lower().startswith("cn="))
    assert got == sorted(want)


def test_scopes_and_limits(people):
    r = search(people, ALICE, book(ALICE), scope="one")
    assert len(ldif_dns(r.stdout)) == 3
    r = search(people, ALICE, book(ALICE), scope="base")
    assert ldif_dns(r.stdout) == [book(ALICE)]
    r = search(people, ALICE, book(ALICE), "(sn=*)", extra=["-z", "2"])
    assert r.returncode == 4 and len(ldif_dns(r.stdout)) == 2
    r = search(people, ALICE, "cn=nobody," + book(ALICE))
    assert r.returncode == 32
    r = search(people, ALICE, "cn=x=y,,bad")
    assert r.returncode == 34


# --- the real clients' queries ------------------------------------------

TB_ATTRS = ["cn", "mail", "givenName", "sn", "mozillaNickname",
            "telephoneNumber", "o", "ou", "title", "mozillaSecondEmail",
            "mobile", "homePhone"]


def test_thunderbird_autocomplete_with_abandon(people):
    """Thunderbird: one query per keystroke, abandoning the previous."""
    server = ldap3.Server("127.0.0.1", port=people.port)
    conn = ldap3.Connection(server, user=bind_dn(ALICE), password="demo",
                            auto_bind=True)
    last = None
    for typed in ("j", "jo", "jör", "jörg"):
        if last is not None:
            conn.abandon(last)
        flt = ("(|(cn=*%s*)(mail=*%s*)(givenName=*%s*)(sn=*%s*))"
               % ((typed,) * 4))
        conn.search(book(ALICE), flt, attributes=TB_ATTRS)
        last = conn.last_error and None
        assert [e.entry_dn.split(",")[0] for e in conn.entries] == \
            ["cn=Jörg Müller"], typed
    # Thunderbird's own two-word form.
    conn.search("", "(|(cn=*Ann*Smi*)(mail=*Ann Smi*)(givenName=*Ann*)"
                "(sn=*Ann Smi*))", attributes=TB_ATTRS)
    assert len(conn.entries) == 1
    conn.unbind()


def test_thunderbird_offline_download(people):
    server = ldap3.Server("127.0.0.1", port=people.port)
    conn = ldap3.Connection(server, user=bind_dn(ALICE), password="demo",
                            auto_bind=True)
    conn.search(book(ALICE), "(objectclass=*)", attributes=["*"],
                size_limit=0)
    assert len(conn.entries) == 4   # the book and three contacts
    conn.unbind()


def test_outlook_filter(people):
    flt = ("(&(mail=*)(|(mail=ann*)(|(cn=ann*)(|(sn=ann*)"
           "(givenName=ann*)))))")
    r = search(people, ALICE, "", flt, "cn", "mail",
               "telephoneNumber", "company", "department", "title")
    assert ldif_dns(r.stdout) == ["cn=Ann Smith," + book(ALICE)], r.stdout


def test_apple_empty_base_search_sees_readable_books(people):
    r = search(people, BOB, "", "(mail=*)", "mail")
    dns = ldif_dns(r.stdout)
    assert dns == ["cn=Team Lead," + book("example")], dns
    r = search(people, ALICE, "", "(mail=*)", "mail")
    assert len(ldif_dns(r.stdout)) == 4


def test_import_export(people, tmp_path):
    srv = people
    vcf = tmp_path / "cards.vcf"
    vcf.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Vera Card\r\nN:Card;Vera;;;\r\n"
        "EMAIL;TYPE=INTERNET:vera@card.org\r\nTEL;TYPE=CELL:+1 555 0199\r\n"
        "ORG:Cards Inc\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Walt Four\r\nN:Four;Walt;;;\r\n"
        "item1.EMAIL:walt@four.org\r\nNOTE:line one\\nline two\r\n"
        "END:VCARD\r\n")
    r = srv.ab("import", BOB, str(vcf))
    assert "imported 2 of 2" in r.stdout
    r = search(srv, BOB, book(BOB), "(cn=*card*)", "mail", "mobile", "o")
    assert "mail: vera@card.org" in r.stdout
    assert "mobile: +1 555 0199" in r.stdout and "o: Cards Inc" in r.stdout
    ldif = tmp_path / "tb.ldif"
    ldif.write_text(
        "dn: cn=Lara Ldif,mail=lara@ldif.org\nobjectclass: top\n"
        "objectclass: person\nobjectclass: organizationalPerson\n"
        "objectclass: inetOrgPerson\nobjectclass: mozillaAbPersonAlpha\n"
        "givenName: Lara\nsn: Ldif\ncn: Lara Ldif\nmail: lara@ldif.org\n"
        "modifytimestamp: 0Z\ndescription:: " +
        base64.b64encode("Grüße".encode()).decode() + "\n\n")
    r = srv.ab("import", BOB, str(ldif))
    assert "imported 1 of 1" in r.stdout
    r = srv.ab("export", BOB)
    assert "dn: cn=Lara Ldif," + book(BOB) in r.stdout
    assert "description:: " + base64.b64encode(
        "Grüße".encode()).decode() in r.stdout
    r = srv.ab("export", BOB, "--format", "vcard4")
    assert "FN:Walt Four" in r.stdout and "VERSION:4.0" in r.stdout
    assert "NOTE:line one\\nline two" in r.stdout
    r = srv.ab("list")
    assert "bob@example.com" in r.stdout and "entries=3" in r.stdout


def test_restart_keeps_data(tls_cert):
    srv = make_server(tls_cert)
    try:
        r = add(srv, ALICE, contact("Kept", "Kept", "K", "k@x.org",
                                    book(ALICE)))
        assert r.returncode == 0
        srv.stop()
        srv.start()
        r = search(srv, ALICE, book(ALICE), "(sn=Kept)", "mail")
        assert "k@x.org" in r.stdout
    finally:
        finish_server(srv)


def test_large_book_index_and_reindex(tls_cert, tmp_path):
    """300 contacts: indexed searches (equality, contains, the
    Thunderbird and Outlook shapes) return exactly what a scan would;
    after index.db is removed the server rebuilds it at start."""
    import random
    rnd = random.Random(7)
    first = ["Anna", "Bert", "Jörg", "Zoë", "Émile", "Olga", "Li", "Sam",
             "Mia", "Noah", "Ivan", "Åsa"]
    last = ["Müller", "Smith", "Brown", "Østergaard", "Nguyen", "García",
            "Kowalski", "O'Neil", "Dubois", "Rossi"]
    people_ = []
    ldif = []
    for i in range(300):
        gn, sn = rnd.choice(first), rnd.choice(last)
        cn = "%s %s %03d" % (gn, sn, i)
        # mail is an IA5String: ASCII only (non-ASCII is refused, 21).
        mail = "%s.%s%d@example.org" % (
            gn.lower().encode("ascii", "ignore").decode(),
            sn.lower().encode("ascii", "ignore").decode()[:3], i)
        people_.append((cn, gn, sn, mail))
        ldif.append("dn: cn=%s\nobjectClass: inetOrgPerson\ncn: %s\n"
                    "sn: %s\ngivenName: %s\nmail: %s\n" % (cn, cn, sn, gn,
                                                          mail))
    srv = make_server(tls_cert)
    try:
        f = tmp_path / "big.ldif"
        f.write_text("\n".join(ldif))
        r = srv.ab("import", ALICE, str(f))
        assert "imported 300 of 300" in r.stdout

        def fold(s):
            return s.casefold()

        def check(flt, pred):
            r = search(srv, ALICE, book(ALICE), flt, "cn")
            assert r.returncode == 0, r.stderr
            got = sorted(d.split(",")[0][3:] for d in ldif_dns(r.stdout)
                         if d != book(ALICE))
            want = sorted(p[0] for p in people_ if pred(p))
            assert got == want, flt

        check("(cn=*müller*)", lambda p: "müller" in fold(p[0]))
        check("(cn=*MÜL*)", lambda p: "mül" in fold(p[0]))
        check("(sn=Smith)", lambda p: p[2] == "Smith")
        check("(|(cn=*jö*)(mail=*jö*)(givenName=*jö*)(sn=*jö*))",
              lambda p: "jö" in fold(p[0]))
        check("(&(mail=*)(|(mail=ann*)(|(cn=ann*)(|(sn=ann*)"
              "(givenName=ann*)))))",
              lambda p: fold(p[0]).startswith("ann"))
        check("(&(cn=*o*)(sn=*ne*))", lambda p: "o" in fold(p[0]) and
              "ne" in fold(p[2]))
        check("(cn=*012*)", lambda p: "012" in p[0])
        srv.stop()
        os.remove(os.path.join(srv.dir, "data", "db", "index.db"))
        srv.start()
        check("(cn=*müller*)", lambda p: "müller" in fold(p[0]))
        assert "event=reindex" in srv.log_text()
    finally:
        finish_server(srv)
