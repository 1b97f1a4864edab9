"""Controls with python3-ldap3: Simple Paged Results (RFC 2696), Server
Side Sorting (RFC 2891), Virtual List View (VLV draft -09, Outlook's
"Enable Browsing"), and critical / non-critical unknown controls."""

import ldap3
import pytest

from test_ldapab_support import (book, bind_dn, ldap_server,  # noqa
                                 ber_seq, ber_str, ber_int, ber_bool,
                                 ber_items, tlv, RawClient, simple_bind,
                                 search_req, present)

ALICE = "alice@example.com"
SORT = "1.2.840.113556.1.4.473"
SORT_RESP = "1.2.840.113556.1.4.474"
VLV = "2.16.840.1.113730.3.4.9"
VLV_RESP = "2.16.840.1.113730.3.4.10"
NAMES = ["Adams", "Baker", "Clark", "Davis", "Evans", "Foster", "Garcia",
         "Hughes", "Irwin", "Jones", "King", "Lopez"]


@pytest.fixture(scope="module")
def conn(ldap_server):
    server = ldap3.Server("127.0.0.1", port=ldap_server.port)
    c = ldap3.Connection(server, user=bind_dn(ALICE), password="demo",
                         auto_bind=True)
    for n in reversed(NAMES):
        ok = c.add("cn=%s Person,%s" % (n, book(ALICE)),
                   ["inetOrgPerson", "mozillaAbPersonAlpha"],
                   {"sn": n, "cn": "%s Person" % n,
                    "mail": "%s@example.org" % n.lower()})
        assert ok, c.result
    yield c
    c.unbind()


def sort_value(*keys):
    out = []
    for k in keys:
        attr, rev = (k[1:], True) if k.startswith("-") else (k, False)
        parts = [ber_str(attr)]
        if rev:
            parts.append(ber_bool(True, 0x81))
        out.append(ber_seq(*parts))
    return ber_seq(*out)


def vlv_by_offset(before, after, offset, count):
    return ber_seq(ber_int(before), ber_int(after),
                   ber_seq(ber_int(offset), ber_int(count), tag=0xa0))


def vlv_by_value(before, after, value):
    return ber_seq(ber_int(before), ber_int(after), ber_str(value, 0x81))


def sns(c):
    return [e.sn.value for e in c.entries]


def test_paged_results(conn):
    seen, cookie, pages = [], None, 0
    while True:
        conn.search(book(ALICE), "(mail=*@example.org)", attributes=["sn"],
                    paged_size=5, paged_cookie=cookie)
        assert conn.result["result"] == 0
        seen += sns(conn)
        pages += 1
        cookie = conn.result["controls"]["1.2.840.113556.1.4.319"][
            "value"]["cookie"]
        if not cookie:
            break
    assert pages == 3 and sorted(seen) == sorted(NAMES)


def test_paged_cookie_mismatch_and_abandon(conn):
    conn.search(book(ALICE), "(mail=*)", attributes=["sn"], paged_size=2)
    cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"][
        "cookie"]
    assert cookie
    # A different request with that cookie is refused.
    conn.search(book(ALICE), "(sn=A*)", attributes=["sn"], paged_size=2,
                paged_cookie=cookie)
    assert conn.result["result"] == 53
    # Size 0 with a cookie ends the paged search (RFC 2696 §3).
    conn.search(book(ALICE), "(mail=*)", attributes=["sn"], paged_size=2)
    cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"][
        "cookie"]
    conn.search(book(ALICE), "(mail=*)", attributes=["sn"], paged_size=0,
                paged_cookie=cookie)
    assert conn.result["result"] == 0 and conn.entries == []


def test_evolution_paged_cache_fill(conn):
    entries = conn.extend.standard.paged_search(
        book(ALICE), "(|(objectClass=person)(objectClass=groupOfNames))",
        attributes=["cn", "mail"], paged_size=4, generator=False)
    assert len([e for e in entries if e["type"] == "searchResEntry"]) >= 12


def test_server_side_sort(conn):
    conn.search(book(ALICE), "(mail=*@example.org)", attributes=["sn"],
                controls=[(SORT, True, sort_value("sn"))])
    assert sns(conn) == NAMES
    assert SORT_RESP in conn.result["controls"]
    conn.search(book(ALICE), "(mail=*@example.org)", attributes=["sn"],
                controls=[(SORT, True, sort_value("-sn"))])
    assert sns(conn) == list(reversed(NAMES))


def vlv_response(c):
    raw = c.result["controls"][VLV_RESP]["value"]
    if isinstance(raw, dict):
        raw = raw.get("value", raw)
    items = ber_items(ber_items(raw)[0][1])
    return [int.from_bytes(v, "big", signed=True) for _, v in items[:3]]


def test_vlv_by_offset(conn):
    conn.search(book(ALICE), "(mail=*@example.org)", attributes=["sn"],
                controls=[(SORT, True, sort_value("sn")),
                          (VLV, True, vlv_by_offset(1, 3, 5, 0))])
    assert conn.result["result"] == 0, conn.result
    assert sns(conn) == NAMES[3:8]
    pos, count, code = vlv_response(conn)
    assert (pos, count, code) == (5, 12, 0)


def test_vlv_outlook_typed_prefix(conn):
    """Outlook jumps to what the user typed: greaterThanOrEqual."""
    conn.search(book(ALICE), "(mail=*@example.org)", attributes=["sn"],
                controls=[(SORT, True, sort_value("sn")),
                          (VLV, True, vlv_by_value(0, 2, "h"))])
    assert sns(conn) == ["Hughes", "Irwin", "Jones"]
    assert vlv_response(conn)[0] == 8


def test_vlv_without_sort(ldap_server):
    # ldap3 does not know result code 60: use a raw connection.
    c = RawClient(ldap_server)
    c.send(simple_bind(1, bind_dn(ALICE), "demo"))
    assert c.result_code()[0] == 0
    vlv = ber_seq(ber_str(VLV), ber_bool(True),
                  ber_str(vlv_by_offset(0, 1, 1, 0)))
    c.send(search_req(2, book(ALICE), present("mail"), controls=[vlv]))
    while True:
        msgid, tag, content, ctrls = c.recv_msg()
        if tag == 0x65:
            break
    assert ber_items(content)[0][1][0] == 60
    c.close()


def test_unknown_controls(conn):
    conn.search(book(ALICE), "(sn=Adams)", attributes=["sn"],
                controls=[("1.2.3.4.5", True, None)])
    assert conn.result["result"] == 12 and conn.entries == []
    conn.search(book(ALICE), "(sn=Adams)", attributes=["sn"],
                controls=[("1.2.3.4.5", False, None)])
    assert conn.result["result"] == 0 and sns(conn) == ["Adams"]
    ok = conn.modify("cn=Adams Person," + book(ALICE),
                     {"title": [(ldap3.MODIFY_REPLACE, ["x"])]},
                     controls=[("1.2.3.4.6", True, None)])
    assert not ok and conn.result["result"] == 12


def test_size_limit_with_sort(conn):
    conn.search(book(ALICE), "(mail=*@example.org)", attributes=["sn"],
                size_limit=3, controls=[(SORT, True, sort_value("sn"))])
    assert conn.result["result"] == 4 and sns(conn) == NAMES[:3]


def test_tlv_helper_sanity():
    assert tlv(0x04, b"ab") == b"\x04\x02ab"
