"""IMAP extensions of rookery-store: COMPRESS=DEFLATE (RFC 4978, plain and
over TLS), OBJECTID (RFC 8474), BINARY (RFC 3516), SEARCH on decoded bodies
and headers with Unicode case folding, BADCHARSET, ESEARCH by default after
ENABLE IMAP4rev2 (RFC 9051), STATUS RECENT, overlong lines."""

import base64
import imaplib
import quopri
import re
import socket
import ssl
import zlib

from imap_helpers import (ImapEnv, RawImap, client_tls_context,  # noqa: F401
                          imap_env, imap_user, make_msg)


class DeflateImap:
    """A raw IMAP client that can switch to raw DEFLATE both ways."""

    def __init__(self, port, tls=False):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.z_out = None
        self.z_in = None
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.z_out is not None:
            data = self.z_out.compress(data) + \
                self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        if self.z_in is not None:
            chunk = self.z_in.decompress(chunk)
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        lines = []
        while True:
            line = self.line()
            m = re.search(rb"~?\{(\d+)\}$", line)
            if m:
                line += b"\r\n" + self.read_bytes(int(m.group(1)))
                line += self.line()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    def compress(self, tag="z"):
        self.send("%s COMPRESS DEFLATE\r\n" % tag)
        ok = self.line()
        assert ok == tag.encode() + b" OK DEFLATE active", ok
        assert self.buf == b""
        self.z_out = zlib.compressobj(wbits=-15)
        self.z_in = zlib.decompressobj(wbits=-15)

    def close(self):
        self.sock.close()


def login(r, user):
    assert r.cmd("L", "LOGIN %s %s" % user)[-1].startswith(b"L OK")


def big_body():
    line = b"the quick brown fox jumps over the lazy dog 0123456789\r\n"
    return line * 4000  # ~220 KB: the literal goes out in pieces


# --- COMPRESS=DEFLATE -----------------------------------------------------------


def check_compress(port, user, env, tls=False):
    env.deliver(user[0], make_msg("big", big_body()))
    r = DeflateImap(port, tls=tls)
    assert b"COMPRESS=DEFLATE" in r.greeting
    login(r, user)
    caps = r.cmd("c", "CAPABILITY")[0]
    assert b"COMPRESS=DEFLATE" in caps
    r.compress()
    assert r.cmd("a", "NOOP")[-1] == b"a OK NOOP completed"
    lines = r.cmd("b", "SELECT INBOX")
    assert lines[-1].startswith(b"b OK [READ-WRITE]")
    lines = r.cmd("f", "FETCH 1 BODY.PEEK[TEXT]")
    assert big_body() in lines[0]
    # a second COMPRESS is refused
    assert r.cmd("d", "COMPRESS DEFLATE")[-1].startswith(
        b"d NO [COMPRESSIONACTIVE]")
    assert r.cmd("e", "LOGOUT")[-1] == b"e OK LOGOUT completed"
    r.close()


def test_compress_deflate(imap_env, imap_user):
    check_compress(imap_env.port, imap_user, imap_env)


def test_compress_deflate_over_tls(imap_env, imap_user):
    check_compress(imap_env.tls_port, imap_user, imap_env, tls=True)


def test_compress_idle_push(imap_env, imap_user):
    """Untagged data written outside a command is flushed too."""
    r = DeflateImap(imap_env.port)
    login(r, imap_user)
    r.compress()
    r.cmd("a", "SELECT INBOX")
    r.send("b IDLE\r\n")
    assert r.line().startswith(b"+ ")
    imap_env.deliver(imap_user[0], make_msg("pushed"))
    r.sock.settimeout(5)
    assert r.line() == b"* 1 EXISTS"
    r.send("DONE\r\n")
    while True:
        line = r.line()
        if line.startswith(b"b "):
            break
    assert line.startswith(b"b OK")
    r.close()


def test_compress_pipelined_and_bad(imap_env, imap_user):
    r = DeflateImap(imap_env.port)
    # not before login
    assert r.cmd("a", "COMPRESS DEFLATE")[-1].startswith(b"a BAD")
    login(r, imap_user)
    assert r.cmd("b", "COMPRESS GZIP")[-1].startswith(b"b BAD")
    # the client compresses right after the command's CRLF
    z = zlib.compressobj(wbits=-15)
    r.sock.sendall(b"c COMPRESS DEFLATE\r\n" +
                   z.compress(b"d NOOP\r\n") + z.flush(zlib.Z_SYNC_FLUSH))
    assert r.line() == b"c OK DEFLATE active"
    r.z_out = z
    r.z_in = zlib.decompressobj(wbits=-15)
    r.buf = r.z_in.decompress(r.buf)  # what came with the OK
    assert r.line() == b"d OK NOOP completed"
    # garbage instead of deflate data ends the session
    r.z_out = None
    r.sock.sendall(b"\xff\xff\xff\xff garbage")
    try:
        r.sock.settimeout(5)
        data = r.sock.recv(100)
    except (ConnectionResetError, socket.timeout):
        data = b""
    assert data == b""
    r.close()


# --- OBJECTID --------------------------------------------------------------------


def test_objectid(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    lines = r.cmd("a", "CREATE Projects")
    m = re.match(rb"a OK \[MAILBOXID \((M[0-9a-f]+)\)\]", lines[-1])
    assert m, lines
    mbid = m.group(1)
    lines = r.cmd("b", "STATUS Projects (MAILBOXID MESSAGES)")
    assert lines[0] == (b'* STATUS "Projects" (MAILBOXID (' + mbid +
                        b') MESSAGES 0)'), lines
    # stable across RENAME
    r.cmd("c", "RENAME Projects Work")
    lines = r.cmd("d", "SELECT Work")
    assert b"* OK [MAILBOXID (" + mbid + b")] Ok" in lines, lines
    lines = r.cmd("d2", 'LIST "" "Work" RETURN (STATUS (MAILBOXID))')
    assert any(b"MAILBOXID (" + mbid + b")" in x for x in lines), lines
    # EMAILID / THREADID; COPY keeps EMAILID
    imap_env.deliver(imap_user[0], make_msg("first"))
    reply = make_msg("re first", extra=b"In-Reply-To: <first@example.org>\r\n"
                     b"References: <first@example.org>\r\n")
    imap_env.deliver(imap_user[0], reply)
    r.cmd("e", "SELECT INBOX")
    lines = r.cmd("f", "FETCH 1:2 (EMAILID THREADID)")
    ids = [re.search(rb"EMAILID \((E[0-9a-f]+)\) THREADID \((T[0-9a-f]+)\)",
                     x).groups() for x in lines[:2]]
    assert ids[0][0] != ids[1][0]
    assert ids[0][1] == ids[1][1]  # one thread
    r.cmd("g", "COPY 1 Work")
    r.cmd("h", "SELECT Work")
    lines = r.cmd("i", "FETCH 1 (EMAILID)")
    assert b"EMAILID (" + ids[0][0] + b")" in lines[0]
    r.cmd("j", "SELECT INBOX")
    lines = r.cmd("k", "SEARCH EMAILID " + ids[1][0].decode())
    assert lines[0] == b"* SEARCH 2"
    lines = r.cmd("l", "SEARCH THREADID " + ids[0][1].decode())
    assert lines[0] == b"* SEARCH 1 2"
    lines = r.cmd("m", "UID SEARCH EMAILID Enothere")
    assert lines[0] == b"* SEARCH"
    r.close()


# --- BINARY ----------------------------------------------------------------------


def mime_msg():
    blob = bytes(range(256)) * 4
    qp_text = "Grüße aus Köln – naïve café\r\nline two = end\r\n".encode()
    latin = "Die Straße in München ist schön\r\n".encode("iso-8859-1")
    b64text = "Der Bär tanzt auf dem ÄÖÜ-Platz; STRASSE findet man.\r\n"
    parts = [
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
        quopri.encodestring(qp_text).replace(b"\n", b"\r\n")
        .replace(b"\r\r\n", b"\r\n"),
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" +
        base64.encodebytes(blob).replace(b"\n", b"\r\n"),
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + latin,
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" +
        base64.encodebytes(b64text.encode()).replace(b"\n", b"\r\n"),
        b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n",
    ]
    body = b"This is MIME.\r\n"
    for p in parts:
        body += b"--BOUND\r\n" + p + b"\r\n"
    body += b"--BOUND--\r\n"
    hdr = (b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=BOUND\r\n")
    return make_msg("=?utf-8?q?=C3=84pfel_und_Birnen?=", body, hdr), \
        qp_text, blob, b64text.encode()


def test_binary_fetch(imap_env, imap_user):
    msg, qp_text, blob, b64text = mime_msg()
    imap_env.deliver(imap_user[0], msg)
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("a", "SELECT INBOX")
    # QP part, byte-exact
    r.send("b FETCH 1 (BINARY.PEEK[1])\r\n")
    head = r.line()
    m = re.search(rb"BINARY\[1\] \{(\d+)\}$", head)
    assert m, head
    assert r.read_bytes(int(m.group(1))) == qp_text
    assert r.line() == b")"
    assert r.line().startswith(b"b OK")
    # base64 binary part: literal8 because of the NUL bytes
    r.send("c FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])\r\n")
    head = r.line()
    m = re.search(rb"BINARY\[2\] ~\{(\d+)\}$", head)
    assert m, head
    assert r.read_bytes(int(m.group(1))) == blob
    assert r.line() == b" BINARY.SIZE[2] %d)" % len(blob)
    assert r.line().startswith(b"c OK")
    # partial
    r.send("d FETCH 1 (BINARY.PEEK[4]<4.5>)\r\n")
    head = r.line()
    assert head.endswith(b"BINARY[4]<4> {5}"), head
    assert r.read_bytes(5) == b64text[4:9]
    r.until_tagged("d")
    # unknown transfer encoding
    lines = r.cmd("e", "FETCH 1 (BINARY.PEEK[5])")
    assert lines[-1].startswith(b"e NO [UNKNOWN-CTE]"), lines
    # not PEEK: \Seen
    lines = r.cmd("f", "FETCH 1 (BINARY.SIZE[1] FLAGS)")
    assert b"BINARY.SIZE[1] %d" % len(qp_text) in lines[0]
    r.cmd("g", "FETCH 1 BINARY[1]")
    lines = r.cmd("h", "FETCH 1 FLAGS")
    assert b"\\Seen" in lines[0]
    r.close()


def test_append_literal8(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    msg = make_msg("bin", b"a\x00b\r\n")
    r.send(b"a APPEND INBOX ~{%d+}\r\n" % len(msg) + msg + b"\r\n")
    line = r.until_tagged("a")[-1]
    assert line.startswith(b"a OK"), line
    r.cmd("b", "SELECT INBOX")
    r.send("c FETCH 1 BINARY.PEEK[1]\r\n")
    head = r.line()
    assert head.endswith(b"~{5}"), head
    assert r.read_bytes(5) == b"a\x00b\r\n"
    r.until_tagged("c")
    r.close()


# --- SEARCH ----------------------------------------------------------------------


def test_search_decoded_and_folded(imap_env, imap_user):
    msg, _, _, _ = mime_msg()
    imap_env.deliver(imap_user[0], msg)
    imap_env.deliver(imap_user[0], make_msg("plain", b"nothing here\r\n"))
    m = imap_env.login(imap_user)
    m.select("INBOX")

    def search(*crit, charset="UTF-8"):
        args = [a.encode() if isinstance(a, str) else a for a in crit]
        typ, data = m._simple_command("SEARCH", "CHARSET", charset, *args)
        assert typ == "OK", data
        return m._untagged_response(typ, data, "SEARCH")[1][0]

    def usearch(word, key="BODY"):
        m.literal = word.encode()
        typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", key)
        assert typ == "OK", data
        return data[0]

    assert search("SUBJECT", "birnen") == b"1"
    assert usearch("Grüße") == b"1"                # QP, UTF-8
    assert usearch("naïve café") == b"1"
    assert usearch("tanzt auf") == b"1"             # base64 text part
    assert usearch("MÜNCHEN") == b"1"               # ISO-8859-1 part
    assert usearch("äöü-platz") == b"1"             # case folding
    assert usearch("straße") == b"1"                # ß == ss
    assert usearch("STRASSE") == b"1"
    assert usearch("nothing") == b"2"
    assert usearch("fox") == b""
    assert usearch("äpfel", "SUBJECT") == b"1"     # encoded word
    assert usearch("ÄPFEL UND", "TEXT") == b"1"
    assert usearch("ΑΒΓ") == b""
    # Greek and Cyrillic fold too
    imap_env.deliver(imap_user[0], make_msg(
        "greek", "Καλημέρα ΚΌΣΜΕ, привет МИР\r\n".encode(),
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"))
    m.noop()
    assert usearch("καλημέρα κόσμε") == b"3"
    assert usearch("ПРИВЕТ мир") == b"3"
    # ISO-8859-1 search strings are converted
    m.literal = "MÜNCHEN".encode("iso-8859-1")
    typ, data = m.uid("SEARCH", "CHARSET", "ISO-8859-1", "BODY")
    assert typ == "OK" and data[0] == b"1", data
    # an unknown charset
    typ, data = m._simple_command("SEARCH", "CHARSET", "X-NOPE", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0], data
    m.logout()


def test_badcharset_and_esearch_rev2(imap_env, imap_user):
    imap_env.deliver(imap_user[0], make_msg("one"))
    imap_env.deliver(imap_user[0], make_msg("two"))
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("a", "SELECT INBOX")
    lines = r.cmd("b", "SEARCH CHARSET X-NOPE ALL")
    assert lines[-1].startswith(b"b NO [BADCHARSET"), lines
    assert r.cmd("c", "SEARCH ALL")[0] == b"* SEARCH 1 2"
    assert r.cmd("d", "ENABLE IMAP4rev2")[-1].startswith(b"d OK")
    lines = r.cmd("e", "SEARCH ALL")
    assert lines[0] == b'* ESEARCH (TAG "e") ALL 1:2', lines
    lines = r.cmd("f", "UID SEARCH SUBJECT two")
    assert lines[0] == b'* ESEARCH (TAG "f") UID ALL 2', lines
    lines = r.cmd("g", "SEARCH SUBJECT nothing")
    assert lines[0] == b'* ESEARCH (TAG "g")', lines
    r.close()


# --- small fixes -----------------------------------------------------------------


def test_status_recent(imap_env, imap_user):
    imap_env.deliver(imap_user[0], make_msg("r1"))
    imap_env.deliver(imap_user[0], make_msg("r2"))
    r = RawImap(imap_env.port)
    r.login(imap_user)
    assert r.cmd("a", "STATUS INBOX (RECENT MESSAGES)")[0] == \
        b"* STATUS \"INBOX\" (RECENT 2 MESSAGES 2)"
    r.cmd("b", "SELECT INBOX")  # this session takes \Recent
    r2 = RawImap(imap_env.port)
    r2.login(imap_user)
    assert r2.cmd("c", "STATUS INBOX (RECENT)")[0] == \
        b"* STATUS \"INBOX\" (RECENT 2)"
    r.cmd("d", "CLOSE")
    assert r2.cmd("e", "STATUS INBOX (RECENT)")[0] == \
        b"* STATUS \"INBOX\" (RECENT 0)"
    r.close()
    r2.close()


def test_overlong_line_tagged(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.send(b"t1 NOOP " + b"x" * 100000 + b"\r\n")
    assert r.line() == b"t1 BAD Line too long"
    r.send(b"(((" + b"x" * 100000 + b"\r\n")
    assert r.line() == b"* BAD Line too long"
    assert r.cmd("t2", "NOOP")[-1] == b"t2 OK NOOP completed"
    r.close()


def test_list_childinfo(imap_env, imap_user):
    r = RawImap(imap_env.port)
    r.login(imap_user)
    r.cmd("a", "CREATE Top/Sub")
    r.cmd("b", "SUBSCRIBE Top/Sub")
    lines = r.cmd("c", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Top"')
    assert any(x.startswith(b"* LIST (") and b'"Top"' in x and
               b'("CHILDINFO" ("SUBSCRIBED"))' in x for x in lines), lines
    r.close()


def test_compress_through_mux(request, store_factory, tls_cert):
    """After login the mux splices bytes: COMPRESS reaches the store."""
    from conftest import _test_failed
    from mux_helpers import MuxPlatform
    plat = MuxPlatform(store_factory, tls_cert)
    try:
        st = plat.store("ms1", listen=("lmtp", "imap"))
        user = plat.user("carol", st)
        mux = plat.start_mux()
        ImapEnv(st).deliver(user[0], make_msg("via mux", big_body()))
        r = DeflateImap(mux.port("imap"))
        login(r, user)
        r.compress()
        assert r.cmd("a", "SELECT INBOX")[-1].startswith(b"a OK")
        lines = r.cmd("b", "FETCH 1 (BODY.PEEK[TEXT] EMAILID)")
        assert big_body() in lines[0] and b"EMAILID (E" in lines[0]
        assert r.cmd("c", "LOGOUT")[-1] == b"c OK LOGOUT completed"
        r.close()
    finally:
        problems = plat.close(_test_failed(request))
    assert not problems, problems
