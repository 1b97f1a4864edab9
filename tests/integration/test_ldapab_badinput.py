"""Hostile and broken input: truncated and overlong BER, lengths larger
than the packet, deep filter nesting, huge values, invalid DNs, unknown
operations.  Each gets a result code or a Notice of Disconnection and a
clean close; the server keeps answering everyone else."""

import socket
import time

import pytest

from test_ldapab_support import (book, bind_dn, ldap_server,  # noqa
                                 RawClient, simple_bind, search_req,
                                 present, ber_seq, ber_str, ber_int,
                                 ber_items, ldap_msg, tlv, ldap_tool)

ALICE = "alice@example.com"
NOTICE = b"1.3.6.1.4.1.1466.20036"


def still_serving(srv):
    r = ldap_tool(srv, "ldapsearch", "-LLL", "-b", "", "-s", "base",
                  "(objectClass=*)", "supportedLDAPVersion")
    assert r.returncode == 0 and "supportedLDAPVersion: 3" in r.stdout
    assert srv.alive()


def expect_disconnect(c):
    """A Notice of Disconnection (or nothing) and then EOF."""
    m = c.recv_msg()
    if m is not None:
        msgid, tag, content, _ = m
        assert msgid == 0 and tag == 0x78
        assert NOTICE in content
        assert c.recv_msg() is None
    c.close()


def test_truncated_pdu_waits_for_the_rest(ldap_server):
    c = RawClient(ldap_server)
    pdu = simple_bind(1, "", "")
    c.send(pdu[:3])
    time.sleep(0.2)
    c.send(pdu[3:])
    assert c.result_code()[0] == 0
    c.close()


def test_byte_by_byte_and_pipelined(ldap_server):
    c = RawClient(ldap_server)
    data = (simple_bind(1, bind_dn(ALICE), "demo") +
            search_req(2, "", present("objectClass"), scope=0) +
            search_req(3, book(ALICE), present("objectClass"), scope=0))
    for i in range(len(data)):
        c.send(data[i:i + 1])
    seen = []
    while len(seen) < 5:
        msgid, tag, _, _ = c.recv_msg()
        seen.append((msgid, tag))
    assert seen == [(1, 0x61), (2, 0x64), (2, 0x65), (3, 0x64), (3, 0x65)]
    c.close()


@pytest.mark.parametrize("data", [
    b"\x30\x84\x7f\xff\xff\xff",          # 2 GB PDU
    b"\x30\x85\x01\x00\x00\x00\x00",       # length of length 5
    b"\x30\x80\x02\x01\x01\x42\x00\x00\x00",  # indefinite length
    b"GET / HTTP/1.0\r\n\r\n",             # not BER at all
    b"\x04\x03abc",                        # not a SEQUENCE
], ids=["huge", "lenlen", "indefinite", "http", "notseq"])
def test_bad_framing(ldap_server, data):
    c = RawClient(ldap_server)
    c.send(data)
    expect_disconnect(c)
    still_serving(ldap_server)


@pytest.mark.parametrize("data", [
    # messageID then an element claiming more bytes than the PDU has
    ber_seq(ber_int(1), b"\x63\x7f" + b"\x04\x00"),
    # BindRequest whose name overruns the BindRequest
    ber_seq(ber_int(1), tlv(0x60, ber_int(3) + b"\x04\x10ab")),
    # negative message id
    ber_seq(ber_int(-5), tlv(0x42, b"")),
    # unknown operation tag
    ber_seq(ber_int(1), tlv(0x55, b"\x01\x02")),
    # a response sent as a request
    ber_seq(ber_int(1), tlv(0x61, ber_int(0, 0x0a) + ber_str("") +
                            ber_str(""))),
    # empty message
    ber_seq(),
    # SearchRequest with an unknown filter choice
    search_req(1, "", tlv(0xaf, b"")),
    # substring filter with two initial pieces
    search_req(1, "", tlv(0xa4, ber_str("cn") + ber_seq(
        ber_str("a", 0x80), ber_str("b", 0x80)))),
    # NOT with two operands
    search_req(1, "", tlv(0xa2, present("cn") + present("sn"))),
], ids=["overrun", "bind-overrun", "negid", "unknown-op", "response",
        "empty", "bad-filter", "two-initials", "not-two"])
def test_malformed_messages(ldap_server, data):
    c = RawClient(ldap_server)
    c.send(data)
    expect_disconnect(c)
    still_serving(ldap_server)


def test_deep_filter_nesting(ldap_server):
    flt = present("cn")
    for _ in range(10000):
        flt = tlv(0xa2, flt)
    c = RawClient(ldap_server)
    c.send(search_req(1, "", flt))
    expect_disconnect(c)
    still_serving(ldap_server)
    # Moderate nesting is fine.
    flt = present("objectClass")
    for _ in range(20):
        flt = tlv(0xa0, flt)
    c = RawClient(ldap_server)
    c.send(search_req(1, "", flt, scope=0))
    assert c.recv_msg()[1] == 0x64
    c.close()


def test_huge_values(ldap_server):
    c = RawClient(ldap_server)
    c.send(simple_bind(1, bind_dn(ALICE), "demo"))
    assert c.result_code()[0] == 0
    big = "x" * (1 << 20)
    attrs = ber_seq(
        ber_seq(ber_str("objectClass"), tlv(0x31, ber_str("inetOrgPerson"))),
        ber_seq(ber_str("sn"), tlv(0x31, ber_str("Big"))),
        ber_seq(ber_str("description"), tlv(0x31, ber_str(big))))
    c.send(ldap_msg(2, tlv(0x68, ber_str("cn=Big," + book(ALICE)) + attrs)))
    code, _ = c.result_code()
    assert code == 0
    c.send(search_req(3, "cn=Big," + book(ALICE), present("objectClass"),
                      scope=0, attrs=["description"]))
    msgid, tag, content, _ = c.recv_msg()
    assert tag == 0x64 and big.encode() in content
    # Larger than the request limit (4 MB): disconnected.
    try:
        c.send(ldap_msg(4, tlv(0x68, ber_str("cn=Huge," + book(ALICE)) +
                               ber_str("y" * (5 << 20)))))
    except (BrokenPipeError, ConnectionResetError):
        pass    # the server hung up while we were still sending
    while True:
        m = c.recv_msg()
        if m is None or m[0] == 0:
            break
    c.close()
    still_serving(ldap_server)


@pytest.mark.parametrize("dn", ["cn", "=x", "cn=a,,dc=x", "cn=a\\",
                                "cn=a+", "1cn=x", "cn=a\x00b"])
def test_invalid_dns(ldap_server, dn):
    c = RawClient(ldap_server)
    c.send(search_req(1, dn, present("objectClass")))
    code, m = c.result_code()
    assert code == 34 and m[1] == 0x65
    c.send(simple_bind(2, bind_dn(ALICE), "demo"))
    assert c.result_code()[0] == 0
    c.send(ldap_msg(3, tlv(0x4a, dn.encode())))
    assert c.result_code()[0] == 34
    c.close()


def test_many_connections_and_abrupt_closes(ldap_server):
    socks = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", ldap_server.port))
        s.sendall(simple_bind(1, "", "")[:i % 7])
        socks.append(s)
    for s in socks:
        s.close()
    still_serving(ldap_server)


def test_unbind_closes(ldap_server):
    c = RawClient(ldap_server)
    c.send(ldap_msg(1, tlv(0x42, b"")))
    assert c.recv_msg() is None
    c.close()
