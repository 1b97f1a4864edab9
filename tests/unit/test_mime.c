/*
 * test_mime.c - the store's MIME parser (store/mime.h): structure, ENVELOPE,
 * BODYSTRUCTURE, sections, header decoding, addresses, dates, base
 * subjects, transfer decoding and the index record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/mime.h"

static struct mime_message *parse_len(const char *s, size_t len)
{
	struct mime_message *m = NULL;

	assert_int_equal(mime_parse(s, len, &m), 0);
	assert_non_null(m);
	return m;
}

static struct mime_message *parse(const char *s)
{
	return parse_len(s, strlen(s));
}

/* Asserts that data[off..off+len) is exactly want. */
static void assert_slice(const char *data, size_t off, size_t len,
			 const char *want)
{
	char *got = strndup(data + off, len);

	assert_string_equal(got, want);
	free(got);
}

static void assert_body(const char *msg, const struct mime_part *p,
			const char *want)
{
	assert_non_null(p);
	assert_slice(msg, p->body_off, p->body_len, want);
}

static void assert_header(const char *msg, const struct mime_part *p,
			  const char *want)
{
	assert_non_null(p);
	assert_slice(msg, p->header_off, p->header_len, want);
}

/* ---- whole messages ------------------------------------------------------ */

static const char simple_msg[] =
    "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\n"
    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sys@example.net>\r\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
    "Message-ID: <5678.21-Nov-1997@example.com>\r\n"
    "Subject: test\r\n"
    "\r\n"
    "Hi everyone.\r\n";

static void test_simple(void **state)
{
	struct mime_message *m = parse(simple_msg);
	const struct mime_part *p;

	(void)state;
	assert_string_equal(
	    m->envelope,
	    "(\"Tue, 1 Jul 2003 10:52:37 +0200\" \"test\" "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"x.test\")"
	    "(NIL NIL \"jdoe\" \"example.org\")"
	    "(\"Who?\" NIL \"one\" \"y.test\")) "
	    "((NIL NIL \"boss\" \"nil.test\")"
	    "(\"Giant; \\\"Big\\\" Box\" NIL \"sys\" \"example.net\")) "
	    "NIL NIL \"<5678.21-Nov-1997@example.com>\")");
	assert_string_equal(
	    m->bodystructure,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 14 1 NIL NIL NIL NIL)");
	assert_string_equal(m->body, "(\"text\" \"plain\" (\"charset\" "
				     "\"us-ascii\") NIL NIL \"7bit\" 14 1)");
	assert_int_equal(m->nparts, 1);
	p = &m->parts[0];
	assert_string_equal(p->section, "");
	assert_true(p->flags & MIME_PART_ROOT);
	assert_body(simple_msg, p, "Hi everyone.\r\n");
	assert_int_equal(p->header_off, 0);
	assert_int_equal(p->body_off, strlen(simple_msg) - 14);
	assert_int_equal(p->body_lines, 1);
	assert_string_equal(p->type, "text");
	assert_string_equal(p->charset, "us-ascii");
	/* "1" is the body of a non-multipart message, "2" does not exist */
	assert_ptr_equal(mime_find_section(m, "1"), p);
	assert_ptr_equal(mime_find_section(m, ""), p);
	assert_null(mime_find_section(m, "2"));
	assert_null(mime_find_section(m, "1.1"));
	assert_null(mime_find_section(m, "0"));
	assert_null(mime_find_section(m, "1."));
	assert_null(mime_find_section(m, "x"));
	assert_ptr_equal(mime_find_message(m, ""), p);
	assert_null(mime_find_message(m, "1"));
	/* cached fields */
	assert_string_equal(m->subject, "test");
	assert_string_equal(m->base_subject, "test");
	assert_string_equal(m->from.name, "Joe Q. Public");
	assert_string_equal(m->from.addr, "john.q.public@example.com");
	assert_string_equal(m->to.name, "Mary Smith");
	assert_string_equal(m->to.addr, "mary@x.test");
	assert_null(m->cc.name);
	assert_string_equal(m->cc.addr, "boss@nil.test");
	assert_int_equal(m->date, 1057049557);
	assert_string_equal(m->message_id, "<5678.21-Nov-1997@example.com>");
	assert_null(m->in_reply_to);
	assert_null(m->references);
	assert_int_equal(m->flags, 0);
	mime_message_free(&m);
	assert_null(m);
}

static const char nested_msg[] =
    "From: a@b.c\r\n"
    "Subject: nested\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=UTF-8\r\n"
    "Content-Transfer-Encoding: Quoted-Printable\r\n"
    "\r\n"
    "caf=C3=A9\r\n"
    "second line\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=\"utf-8\"\r\n"
    "\r\n"
    "<p>caf&eacute;</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
    "Content-Disposition: attachment;\r\n"
    "\tfilename=\"doc.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <pdf1@b.c>\r\n"
    "Content-Description: A document\r\n"
    "Content-Language: en, de\r\n"
    "Content-Location: http://b.c/doc.pdf\r\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--outer--\r\n"
    "This is the epilogue.\r\n";

static void test_nested(void **state)
{
	struct mime_message *m = parse(nested_msg);
	const struct mime_part *p;

	(void)state;
	assert_string_equal(
	    m->bodystructure,
	    "(((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL "
	    "\"quoted-printable\" 22 2 NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" "
	    "18 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner\") "
	    "NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"doc.pdf\") \"<pdf1@b.c>\" "
	    "\"A document\" \"base64\" 12 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
	    "(\"attachment\" (\"filename\" \"doc.pdf\")) (\"en\" \"de\") "
	    "\"http://b.c/doc.pdf\") \"mixed\" (\"boundary\" \"outer\") "
	    "NIL NIL NIL)");
	assert_string_equal(
	    m->body,
	    "(((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL "
	    "\"quoted-printable\" 22 2)(\"text\" \"html\" (\"charset\" "
	    "\"utf-8\") NIL NIL \"7bit\" 18 1) \"alternative\")"
	    "(\"application\" \"pdf\" (\"name\" \"doc.pdf\") \"<pdf1@b.c>\" "
	    "\"A document\" \"base64\" 12) \"mixed\")");
	assert_int_equal(m->nparts, 5);
	assert_string_equal(m->parts[0].subtype, "mixed");
	assert_int_equal(m->parts[0].kind, MIME_PART_MULTIPART);
	assert_int_equal(m->parts[0].nchildren, 2);
	assert_string_equal(m->parts[1].section, "1");
	assert_string_equal(m->parts[2].section, "1.1");
	assert_string_equal(m->parts[3].section, "1.2");
	assert_string_equal(m->parts[4].section, "2");
	assert_int_equal(m->parts[2].parent, 1);
	assert_int_equal(m->parts[2].next_sibling, 3);
	assert_int_equal(m->parts[1].first_child, 2);
	assert_int_equal(m->parts[0].first_child, 1);
	assert_int_equal(m->parts[1].next_sibling, 4);

	p = mime_find_section(m, "1.1");
	assert_ptr_equal(p, &m->parts[2]);
	assert_body(nested_msg, p, "caf=C3=A9\r\nsecond line");
	assert_header(nested_msg, p,
		      "Content-Type: text/plain; charset=UTF-8\r\n"
		      "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n");
	assert_string_equal(p->encoding, "quoted-printable");
	assert_string_equal(p->charset, "UTF-8");
	assert_body(nested_msg, mime_find_section(m, "1.2"),
		    "<p>caf&eacute;</p>");
	assert_body(nested_msg, mime_find_section(m, "2"), "JVBERi0xLjQK");
	assert_int_equal(mime_find_section(m, "2")->body_lines, 1);
	assert_null(mime_find_section(m, "2.1"));
	assert_null(mime_find_section(m, "3"));
	assert_null(mime_find_section(m, "1.3"));
	assert_null(mime_find_message(m, "2"));
	/* BODY[1] of the alternative: from its header's end to the
	 * line break before "--outer". */
	assert_body(nested_msg, mime_find_section(m, "1"),
		    "--inner\r\n"
		    "Content-Type: text/plain; charset=UTF-8\r\n"
		    "Content-Transfer-Encoding: Quoted-Printable\r\n"
		    "\r\n"
		    "caf=C3=A9\r\n"
		    "second line\r\n"
		    "--inner\r\n"
		    "Content-Type: text/html; charset=\"utf-8\"\r\n"
		    "\r\n"
		    "<p>caf&eacute;</p>\r\n"
		    "--inner--");
	/* TEXT of the top: the whole body with preamble and epilogue */
	p = mime_find_message(m, "");
	assert_int_equal(p->body_off + p->body_len, strlen(nested_msg));
	assert_slice(nested_msg, p->body_off, 23, "This is the preamble.\r\n");
	mime_message_free(&m);
}

static const char rfc822_msg[] =
    "From: outer@example.com\r\n"
    "Subject: Fwd: inner\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "\r\n"
    "see attached\r\n"
    "--b\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: Inner <inner@example.com>\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=c\r\n"
    "\r\n"
    "--c\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "one\r\n"
    "--c\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: deepest\r\n"
    "\r\n"
    "deep body\r\n"
    "--c--\r\n"
    "\r\n"
    "--b--\r\n";

static void test_rfc822(void **state)
{
	struct mime_message *m = parse(rfc822_msg);
	const struct mime_part *p, *msg;

	(void)state;
	assert_string_equal(
	    m->bodystructure,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "12 1 NIL NIL NIL NIL)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 213 "
	    "(NIL \"inner\" ((\"Inner\" NIL \"inner\" \"example.com\")) "
	    "((\"Inner\" NIL \"inner\" \"example.com\")) "
	    "((\"Inner\" NIL \"inner\" \"example.com\")) NIL NIL NIL NIL NIL) "
	    "((\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 29 "
	    "(NIL \"deepest\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "9 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \"alternative\" "
	    "(\"boundary\" \"c\") NIL NIL NIL) 15 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
	/* part 2 is the message/rfc822 part; its parts are 2.1, 2.2 */
	p = mime_find_section(m, "2");
	assert_non_null(p);
	assert_int_equal(p->kind, MIME_PART_MESSAGE);
	assert_string_equal(p->section, "2");
	assert_header(rfc822_msg, p, "Content-Type: message/rfc822\r\n\r\n");
	assert_slice(rfc822_msg, p->body_off, 31,
		     "From: Inner <inner@example.com>");
	assert_slice(rfc822_msg, p->body_off + p->body_len - 7, 7, "--c--\r\n");
	msg = mime_find_message(m, "2");
	assert_non_null(msg);
	assert_true(msg->flags & MIME_PART_ROOT);
	assert_string_equal(msg->section, "2");
	assert_header(rfc822_msg, msg,
		      "From: Inner <inner@example.com>\r\n"
		      "Subject: inner\r\n"
		      "Content-Type: multipart/alternative; boundary=c\r\n"
		      "\r\n");
	assert_int_equal(msg->body_off + msg->body_len,
			 p->body_off + p->body_len);
	assert_body(rfc822_msg, mime_find_section(m, "2.1"), "one");
	p = mime_find_section(m, "2.2");
	assert_string_equal(p->section, "2.2");
	assert_int_equal(p->kind, MIME_PART_MESSAGE);
	/* 2.2 is message/rfc822 with a non-multipart body: 2.2.1 is it */
	msg = mime_find_message(m, "2.2");
	assert_header(rfc822_msg, msg, "Subject: deepest\r\n\r\n");
	assert_ptr_equal(mime_find_section(m, "2.2.1"), msg);
	assert_body(rfc822_msg, mime_find_section(m, "2.2.1"), "deep body");
	assert_null(mime_find_section(m, "2.2.2"));
	assert_null(mime_find_section(m, "2.3"));
	/* the embedded envelope does not leak into the top one */
	assert_string_equal(m->subject, "Fwd: inner");
	assert_string_equal(m->base_subject, "inner");
	assert_string_equal(m->from.addr, "outer@example.com");
	mime_message_free(&m);
}

/* A top-level message whose own type is message/rfc822. */
static void test_rfc822_top(void **state)
{
	static const char msg[] =
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    "Subject: in\r\n"
	    "Content-Type: multipart/mixed; boundary=w\r\n"
	    "\r\n"
	    "--w\r\n\r\nA\r\n--w\r\n\r\nB\r\n--w--\r\n";
	struct mime_message *m = parse(msg);
	const struct mime_part *p;

	(void)state;
	assert_ptr_equal(mime_find_section(m, "1"), &m->parts[0]);
	p = mime_find_message(m, "1");
	assert_non_null(p);
	assert_string_equal(p->section, "1");
	assert_header(msg, p,
		      "Subject: in\r\n"
		      "Content-Type: multipart/mixed; boundary=w\r\n\r\n");
	assert_body(msg, mime_find_section(m, "1.1"), "A");
	assert_body(msg, mime_find_section(m, "1.2"), "B");
	assert_string_equal(mime_find_section(m, "1.2")->section, "1.2");
	assert_null(mime_find_section(m, "2"));
	mime_message_free(&m);
}

static void test_digest(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/digest; boundary=d\r\n"
	    "\r\n"
	    "--d\r\n"
	    "\r\n"
	    "Subject: one\r\n"
	    "\r\n"
	    "1\r\n"
	    "--d\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "not a message\r\n"
	    "--d--\r\n";
	struct mime_message *m = parse(msg);

	(void)state;
	assert_string_equal(m->parts[1].type, "message");
	assert_int_equal(m->parts[1].kind, MIME_PART_MESSAGE);
	assert_string_equal(m->parts[3].type, "text");
	assert_body(msg, mime_find_section(m, "1.1"), "1");
	mime_message_free(&m);
}

/* ---- broken MIME --------------------------------------------------------- */

static void test_missing_final_boundary(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=q\r\n"
	    "\r\n"
	    "--q\r\n"
	    "\r\n"
	    "first\r\n"
	    "--q\r\n"
	    "Content-Type: multipart/related; boundary=r\r\n"
	    "\r\n"
	    "--r\r\n"
	    "\r\n"
	    "never closed";
	struct mime_message *m = parse(msg);

	(void)state;
	assert_int_equal(m->nparts, 4);
	assert_body(msg, mime_find_section(m, "1"), "first");
	assert_body(msg, mime_find_section(m, "2.1"), "never closed");
	assert_int_equal(mime_find_section(m, "2.1")->body_lines, 1);
	assert_int_equal(m->parts[0].body_off + m->parts[0].body_len,
			 strlen(msg));
	assert_string_equal(
	    m->body, "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		     "\"7bit\" 5 1)((\"text\" \"plain\" (\"charset\" "
		     "\"us-ascii\") NIL NIL \"7bit\" 12 1) \"related\") "
		     "\"mixed\")");
	mime_message_free(&m);
}

static void test_no_boundary_param(void **state)
{
	static const char msg[] = "Content-Type: multipart/mixed\r\n"
				  "\r\n"
				  "--x\r\n"
				  "\r\n"
				  "body\r\n";
	struct mime_message *m = parse(msg);

	(void)state;
	/* RFC 2046 5.1.1 requires the boundary: the body is plain text */
	assert_int_equal(m->nparts, 1);
	assert_string_equal(m->parts[0].type, "text");
	assert_string_equal(
	    m->bodystructure,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 13 3 NIL NIL NIL NIL)");
	mime_message_free(&m);
}

static void test_bad_content_type(void **state)
{
	static const char *const types[] = {
	    "text",	      "/plain",		"", "; charset=utf-8",
	    "(comment only)", "\"text/plain\"",
	};
	struct mime_message *m;
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(buf, sizeof(buf), "Content-Type: %s\r\n\r\nx",
			 types[i]);
		m = parse(buf);
		assert_string_equal(m->body,
				    "(\"text\" \"plain\" (\"charset\" "
				    "\"us-ascii\") NIL NIL \"7bit\" 1 1)");
		mime_message_free(&m);
	}
	m = parse("Content-Transfer-Encoding: \"BASE64\"\r\n\r\nx");
	assert_string_equal(m->parts[0].encoding, "base64");
	mime_message_free(&m);
	m = parse("Content-Transfer-Encoding:\r\n\r\nx");
	assert_string_equal(m->parts[0].encoding, "7bit");
	mime_message_free(&m);
	/* comments, odd case and spaces are fine */
	m = parse(
	    "Content-Type: (c) TEXT / HTML (c); CharSet = \"ISO-8859-1\"\r\n"
	    "Content-Transfer-Encoding: 8BIT (c)\r\n\r\nx");
	assert_string_equal(m->body, "(\"text\" \"html\" (\"charset\" "
				     "\"ISO-8859-1\") NIL NIL \"8bit\" 1 1)");
	mime_message_free(&m);
}

/* An outer boundary inside a nested part ends the nested part too. */
static void test_boundary_in_nested(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=ab\r\n"
	    "\r\n"
	    "--ab\r\n"
	    "Content-Type: multipart/mixed; boundary=abc\r\n"
	    "\r\n"
	    "--abc\r\n"
	    "\r\n"
	    "inner\r\n"
	    "--ab \r\n"
	    "Content-Type: text/plain\r\n"
	    "--ab--\r\n"
	    "--abc\r\n";
	struct mime_message *m = parse(msg);

	(void)state;
	assert_int_equal(m->nparts, 4);
	assert_body(msg, mime_find_section(m, "1.1"), "inner");
	/* a header cut by a boundary: no body */
	assert_header(msg, mime_find_section(m, "2"),
		      "Content-Type: text/plain\r\n");
	assert_body(msg, mime_find_section(m, "2"), "");
	/* after the close delimiter "--abc" is epilogue */
	assert_slice(msg, m->parts[0].body_off + m->parts[0].body_len - 7, 7,
		     "--abc\r\n");
	mime_message_free(&m);
}

static void test_lf_and_nul(void **state)
{
	static const char msg[] = "Subject: lf\n"
				  "Content-Type: multipart/mixed; boundary=z\n"
				  "\n"
				  "--z\n"
				  "\n"
				  "a\0b\n"
				  "--z--\n";
	struct mime_message *m = parse_len(msg, sizeof(msg) - 1);
	const struct mime_part *p;

	(void)state;
	assert_true(m->flags & MIME_MESSAGE_BARE_LF);
	assert_true(m->flags & MIME_MESSAGE_HAS_NUL);
	p = mime_find_section(m, "1");
	assert_int_equal(p->body_len, 3);
	assert_memory_equal(msg + p->body_off, "a\0b", 3);
	assert_header(msg, p, "\n");
	assert_string_equal(m->subject, "lf");
	mime_message_free(&m);
}

static void test_empty_and_header_only(void **state)
{
	struct mime_message *m;

	(void)state;
	m = parse("");
	assert_int_equal(m->nparts, 1);
	assert_string_equal(m->envelope,
			    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_string_equal(m->body, "(\"text\" \"plain\" (\"charset\" "
				     "\"us-ascii\") NIL NIL \"7bit\" 0 0)");
	mime_message_free(&m);

	m = parse("Subject: only\r\nFrom: a@b");
	assert_int_equal(m->parts[0].header_len, 24);
	assert_int_equal(m->parts[0].body_off, 24);
	assert_int_equal(m->parts[0].body_len, 0);
	assert_string_equal(m->from.addr, "a@b");
	mime_message_free(&m);

	/* message/rfc822 with nothing inside still has an embedded root */
	m = parse("Content-Type: message/rfc822\r\n");
	assert_int_equal(m->nparts, 2);
	assert_non_null(mime_find_message(m, "1"));
	assert_string_equal(
	    m->body, "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 "
		     "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
		     "NIL \"7bit\" 0 0) 0)");
	mime_message_free(&m);

	/* a multipart that ends before any part */
	m = parse("Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	assert_string_equal(m->body,
			    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") "
			    "NIL NIL \"7bit\" 0 0) \"mixed\")");
	assert_null(mime_find_section(m, "1"));
	mime_message_free(&m);
}

/* Every prefix of a message parses and stays self-consistent. */
static void test_truncations(void **state)
{
	const char *msgs[] = {nested_msg, rfc822_msg, simple_msg};
	struct mime_message *m;
	struct strbuf s;
	size_t k, n, i;

	(void)state;
	strbuf_init(&s);
	for (k = 0; k < 3; k++) {
		for (n = 0; n <= strlen(msgs[k]); n++) {
			char *copy = malloc(n + 1);

			memcpy(copy, msgs[k], n);
			m = parse_len(copy, n);
			for (i = 0; i < m->nparts; i++) {
				const struct mime_part *p = &m->parts[i];

				assert_true(p->header_off + p->header_len <= n);
				assert_true(p->body_off + p->body_len <= n);
				if (!(p->flags & MIME_PART_ROOT))
					assert_ptr_equal(
					    mime_find_section(m, p->section),
					    p);
			}
			strbuf_reset(&s);
			assert_int_equal(mime_serialize(m, &s), 0);
			mime_message_free(&m);
			assert_int_equal(mime_deserialize(s.data, s.len, &m),
					 0);
			mime_message_free(&m);
			free(copy);
		}
	}
	strbuf_free(&s);
}

static void test_limits(void **state)
{
	struct mime_message *m;
	struct strbuf s;
	unsigned int i;

	(void)state;
	/* 150 nested multiparts: stops at MIME_MAX_DEPTH */
	strbuf_init(&s);
	for (i = 0; i < 150; i++)
		strbuf_printf(&s,
			      "Content-Type: multipart/mixed; boundary=b%u\r\n"
			      "\r\n--b%u\r\n",
			      i, i);
	strbuf_adds(&s, "\r\ntext\r\n");
	m = parse_len(s.data, s.len);
	assert_true(m->flags & MIME_MESSAGE_LIMITED);
	assert_true(m->nparts <= MIME_MAX_DEPTH);
	assert_string_equal(m->parts[m->nparts - 1].type, "application");
	mime_message_free(&m);

	/* nested message/rfc822 */
	strbuf_reset(&s);
	for (i = 0; i < 150; i++)
		strbuf_adds(&s, "Content-Type: message/rfc822\r\n\r\n");
	m = parse_len(s.data, s.len);
	assert_true(m->flags & MIME_MESSAGE_LIMITED);
	mime_message_free(&m);

	/* too many parts */
	strbuf_reset(&s);
	strbuf_adds(&s, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (i = 0; i < MIME_MAX_PARTS + 50; i++)
		strbuf_adds(&s, "--p\r\n\r\nx\r\n");
	m = parse_len(s.data, s.len);
	assert_true(m->flags & MIME_MESSAGE_LIMITED);
	assert_int_equal(m->nparts, MIME_MAX_PARTS);
	assert_int_equal(m->parts[0].nchildren, MIME_MAX_PARTS - 1);
	mime_message_free(&m);
	strbuf_free(&s);
}

static void test_performance(void **state)
{
	struct mime_message *m;
	struct timespec t0, t1;
	struct strbuf s;
	double ms;
	int i;

	(void)state;
	strbuf_init(&s);
	strbuf_adds(&s, "From: a@b\r\nSubject: big\r\nContent-Type: multipart/"
			"mixed; boundary=\"=_big\"\r\n\r\n--=_big\r\n"
			"Content-Type: text/plain\r\n\r\n");
	for (i = 0; i < 600; i++)
		strbuf_adds(&s, "Lorem ipsum dolor sit amet, consectetur "
				"adipiscing elit, sed do eiusmod tempor.\r\n");
	strbuf_adds(&s, "--=_big\r\nContent-Type: application/octet-stream\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; i < 700; i++)
		strbuf_adds(&s,
			    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlq"
			    "a2xtbm9wcXJzdHV2d3h5ejAx\r\n");
	strbuf_adds(&s, "--=_big--\r\n");
	assert_true(s.len > 100000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 100; i++) {
		m = parse_len(s.data, s.len);
		mime_message_free(&m);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	      (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) /
	     100;
	print_message("parse of %zu bytes: %.3f ms\n", s.len, ms);
	/* well under a millisecond optimised; generous for sanitizers */
	assert_true(ms < 10.0);
	strbuf_free(&s);
}

/* ---- headers ------------------------------------------------------------- */

static void test_header_fields(void **state)
{
	static const char hdr[] = "Received: from a\r\n"
				  "\tby b\r\n"
				  "not a field\r\n"
				  "X-Odd : spaced\r\n"
				  "received: second\r\n"
				  "Empty:\r\n"
				  "\r\n"
				  "Received: in the body\r\n";
	struct mime_header_field f;
	struct strbuf s;
	size_t pos = 0;

	(void)state;
	strbuf_init(&s);
	assert_true(mime_header_find(hdr, strlen(hdr), "RECEIVED", &pos, &f));
	assert_int_equal(f.value_len, 14);
	assert_memory_equal(f.value, " from a\r\n\tby b", 14);
	mime_header_unfold(f.value, f.value_len, &s);
	assert_string_equal(s.data, "from a\tby b");
	assert_true(mime_header_find(hdr, strlen(hdr), "received", &pos, &f));
	assert_memory_equal(f.value, " second", 7);
	assert_false(mime_header_find(hdr, strlen(hdr), "received", &pos, &f));
	pos = 0;
	assert_true(mime_header_find(hdr, strlen(hdr), "x-odd", &pos, &f));
	assert_memory_equal(f.name, "X-Odd", f.name_len);
	pos = 0;
	assert_true(mime_header_find(hdr, strlen(hdr), "empty", &pos, &f));
	assert_int_equal(f.value_len, 0);
	strbuf_free(&s);
}

static char *decode(const char *in)
{
	struct strbuf s;

	strbuf_init(&s);
	mime_header_decode(in, strlen(in), &s);
	return strbuf_steal(&s, NULL);
}

static void assert_decodes(const char *in, const char *want)
{
	char *got = decode(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_encoded_words(void **state)
{
	(void)state;
	assert_decodes("plain", "plain");
	assert_decodes("=?UTF-8?B?w6nDqQ==?=", "\xc3\xa9\xc3\xa9");
	assert_decodes("=?iso-8859-1?q?caf=E9_au_lait?=",
		       "caf\xc3\xa9 au lait");
	/* white space between encoded words disappears (RFC 2047 6.2) */
	assert_decodes("=?utf-8?q?a?= \r\n =?utf-8?q?b?=", "ab");
	assert_decodes("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b");
	assert_decodes("x =?utf-8?q?a?=", "x a");
	/* a UTF-8 character split across two words */
	assert_decodes("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xe2\x82\xac");
	/* RFC 2231 language in the charset */
	assert_decodes("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
	/* other charsets through iconv */
	assert_decodes("=?koi8-r?b?8NLJ18XU?=",
		       "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	assert_decodes("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=",
		       "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
	/* invalid or unknown ones stay as written */
	assert_decodes("=?x-nonsense?q?abc?=", "=?x-nonsense?q?abc?=");
	assert_decodes("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	assert_decodes("=?utf-8?q?abc", "=?utf-8?q?abc");
	assert_decodes("=??q?abc?=", "=??q?abc?=");
	assert_decodes("a =?utf-8?q?", "a =?utf-8?q?");
	/* raw 8-bit: UTF-8 kept, anything else read as Latin-1 */
	assert_decodes("J\xc3\xb6rg", "J\xc3\xb6rg");
	assert_decodes("J\xf6rg", "J\xc3\xb6rg");
	/* bytes invalid in UTF-8 are read as Latin-1 */
	assert_decodes("=?utf-8?q?a=FFb?=", "a\xc3\xbf"
					    "b");
	assert_decodes("=?koi8-r?q?a?= =?utf-8?q?b?=", "ab");
	assert_decodes("=?utf-8?q?a=00b?=", "ab");
}

static void test_charset_conversion(void **state)
{
	struct strbuf s;

	(void)state;
	strbuf_init(&s);
	assert_int_equal(mime_charset_to_utf8("windows-1252", "\x80", 1, &s),
			 0);
	assert_string_equal(s.data, "\xe2\x82\xac");
	strbuf_reset(&s);
	assert_int_equal(mime_charset_to_utf8("shift_jis", "\x82\xa0", 2, &s),
			 0);
	assert_string_equal(s.data, "\xe3\x81\x82");
	strbuf_reset(&s);
	/* invalid input (a lone surrogate) becomes U+FFFD */
	assert_int_equal(mime_charset_to_utf8("utf-16le", "a\0\0\xdc", 4, &s),
			 0);
	assert_string_equal(s.data, "a\xef\xbf\xbd\xef\xbf\xbd");
	strbuf_reset(&s);
	/* names iconv lacks but mailers write */
	assert_int_equal(
	    mime_charset_to_utf8("KS_C_5601-1987", "\xb0\xa1", 2, &s), 0);
	assert_string_equal(s.data, "\xea\xb0\x80");
	strbuf_reset(&s);
	assert_int_equal(
	    mime_charset_to_utf8("x-unknown", "\xe9t\xc3\xa9", 4, &s), 0);
	assert_string_equal(s.data, "\xc3\xa9t\xc3\xa9");
	strbuf_reset(&s);
	assert_int_equal(mime_charset_to_utf8("no-such-charset", "a", 1, &s),
			 -1);
	assert_int_equal(mime_charset_to_utf8("../../etc", "a", 1, &s), -1);
	assert_int_equal(s.len, 0);
	strbuf_free(&s);
}

static void test_rfc2231(void **state)
{
	static const char v[] =
	    " attachment; filename*0*=utf-8'en'%E2%82%AC%20; "
	    "filename*1=\"rate (x).txt\"; size=12;\r\n"
	    " title*=iso-8859-1''caf%E9; name=\"=?utf-8?q?na=C3=AFve?=\"";
	struct mime_content c;
	const char *v2;
	char *s;

	(void)state;
	mime_content_parse(v, strlen(v), 0, &c);
	assert_string_equal(c.type, "attachment");
	assert_null(c.subtype);
	assert_int_equal(c.nparams, 4);
	assert_string_equal(c.params[0].name, "filename*");
	assert_string_equal(c.params[0].value,
			    "utf-8'en'%E2%82%AC%20rate%20%28x%29.txt");
	assert_string_equal(c.params[1].name, "size");
	assert_string_equal(c.params[2].name, "title*");
	s = mime_param_get_utf8(&c, "filename");
	assert_string_equal(s, "\xe2\x82\xac rate (x).txt");
	free(s);
	s = mime_param_get_utf8(&c, "title");
	assert_string_equal(s, "caf\xc3\xa9");
	free(s);
	s = mime_param_get_utf8(&c, "name");
	assert_string_equal(s, "na\xc3\xafve");
	free(s);
	assert_null(mime_param_get_utf8(&c, "missing"));
	assert_string_equal(mime_param_get(&c, "size"), "12");
	mime_content_free(&c);

	/* unencoded continuations out of order join plainly */
	v2 = "text/plain; URL*1=\"b/c\"; url*0=\"http://a/\"";
	mime_content_parse(v2, strlen(v2), 1, &c);
	assert_string_equal(c.type, "text");
	assert_string_equal(c.subtype, "plain");
	assert_int_equal(c.nparams, 1);
	assert_string_equal(c.params[0].name, "url");
	assert_string_equal(c.params[0].value, "http://a/b/c");
	mime_content_free(&c);

	/* broken parameters are skipped, good ones kept */
	v2 = "text/plain; =x; novalue; charset=utf-8 ;; name=a b.txt; "
	     "q=\"unterminated";
	mime_content_parse(v2, strlen(v2), 1, &c);
	assert_int_equal(c.nparams, 3);
	assert_string_equal(mime_param_get(&c, "charset"), "utf-8");
	assert_string_equal(mime_param_get(&c, "name"), "a b.txt");
	assert_string_equal(mime_param_get(&c, "q"), "unterminated");
	mime_content_free(&c);
}

static void test_rfc2231_bodystructure(void **state)
{
	struct mime_message *m =
	    parse("Content-Type: application/octet-stream;\r\n"
		  " name*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
		  " name*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
		  " name*2=\"isn't it!\"\r\n"
		  "\r\n"
		  "x");

	(void)state;
	assert_string_equal(m->body,
			    "(\"application\" \"octet-stream\" (\"name*\" "
			    "\"us-ascii'en'This%20is%20even%20more%20%2A%2A%2A"
			    "fun%2A%2A%2A%20isn%27t%20it!\") NIL NIL \"7bit\" "
			    "1)");
	mime_message_free(&m);
}

/* ---- addresses and envelopes --------------------------------------------- */

static char *envelope_of(const char *hdr)
{
	struct strbuf s;

	strbuf_init(&s);
	mime_envelope_build(hdr, strlen(hdr), &s);
	return strbuf_steal(&s, NULL);
}

static void assert_envelope(const char *hdr, const char *want)
{
	char *got = envelope_of(hdr);

	assert_string_equal(got, want);
	free(got);
}

static void test_address_groups(void **state)
{
	(void)state;
	assert_envelope(
	    "From: Team: Ann <ann@x.test>, \"Bo, B.\" <bo@x.test>;, "
	    "solo@y.test\r\n"
	    "To: undisclosed-recipients:;\r\n"
	    "Cc: Empty Group:;\r\n",
	    "(NIL NIL ((NIL NIL \"Team\" NIL)"
	    "(\"Ann\" NIL \"ann\" \"x.test\")"
	    "(\"Bo, B.\" NIL \"bo\" \"x.test\")(NIL NIL NIL NIL)"
	    "(NIL NIL \"solo\" \"y.test\")) "
	    "((NIL NIL \"Team\" NIL)(\"Ann\" NIL \"ann\" \"x.test\")"
	    "(\"Bo, B.\" NIL \"bo\" \"x.test\")(NIL NIL NIL NIL)"
	    "(NIL NIL \"solo\" \"y.test\")) "
	    "((NIL NIL \"Team\" NIL)(\"Ann\" NIL \"ann\" \"x.test\")"
	    "(\"Bo, B.\" NIL \"bo\" \"x.test\")(NIL NIL NIL NIL)"
	    "(NIL NIL \"solo\" \"y.test\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "((NIL NIL \"Empty Group\" NIL)(NIL NIL NIL NIL)) "
	    "NIL NIL NIL)");
	/* an unterminated group is closed at the end */
	assert_envelope("Bcc: G: a@b\r\n",
			"(NIL NIL NIL NIL NIL NIL NIL "
			"((NIL NIL \"G\" NIL)(NIL NIL \"a\" \"b\")"
			"(NIL NIL NIL NIL)) NIL NIL)");
}

static void test_addresses(void **state)
{
	(void)state;
	/* comments, routes, quoted local parts, domain literals */
	assert_envelope(
	    "From: john@x.test (John Doe)\r\n"
	    "Sender: <@relay.test,@hop.test:jane@y.test>\r\n"
	    "Reply-To: \"very odd\"@z.test, me@[192.0.2.1]\r\n"
	    "To: Pete(A nice \\) chap) <pete(his account)@silly.test(his "
	    "host)>\r\n",
	    "(NIL NIL ((\"John Doe\" NIL \"john\" \"x.test\")) "
	    "((NIL \"@relay.test,@hop.test\" \"jane\" \"y.test\")) "
	    "((NIL NIL \"very odd\" \"z.test\")"
	    "(NIL NIL \"me\" \"[192.0.2.1]\")) "
	    "((\"Pete\" NIL \"pete\" \"silly.test\")) NIL NIL NIL NIL)");
	/* broken addresses: no domain, no '@' at all, empty, unclosed */
	assert_envelope("From: user\r\n"
			"To: John Doe, <>, broken <x@y.test\r\n"
			"Cc: ,,, \r\n",
			"(NIL NIL ((NIL NIL \"user\" \"\")) "
			"((NIL NIL \"user\" \"\")) ((NIL NIL \"user\" \"\")) "
			"((\"John Doe\" NIL \"\" \"\")(NIL NIL \"\" \"\")"
			"(\"broken\" NIL \"x\" \"y.test\")) NIL NIL NIL NIL)");
	/* 8-bit names and folded subjects need literals */
	assert_envelope(
	    "Subject: caf\xc3\xa9\r\n"
	    "From: J\xc3\xb6rg <j@x.de>\r\n"
	    "Message-ID: <a\r\n b@c>\r\n",
	    "(NIL {5}\r\ncaf\xc3\xa9 (({5}\r\nJ\xc3\xb6rg NIL \"j\" "
	    "\"x.de\")) (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.de\")) "
	    "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.de\")) NIL NIL NIL "
	    "NIL \"<a b@c>\")");
	/* a quote and a backslash are escaped in a quoted string */
	assert_envelope("Subject: say \"hi\" \\o/\r\n",
			"(NIL \"say \\\"hi\\\" \\\\o/\" NIL NIL NIL NIL NIL "
			"NIL NIL NIL)");
	/* Sender and Reply-To that are present but empty become From */
	assert_envelope("From: a@b\r\nSender:\r\nReply-To: ,\r\n",
			"(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" "
			"\"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)");
}

/* RFC 3501 7.4.2: absent is NIL, present but empty is "". */
static void test_envelope_empty_fields(void **state)
{
	(void)state;
	assert_envelope("Date:\r\nSubject: \r\nMessage-ID:\r\n"
			"In-Reply-To:  \r\n",
			"(\"\" \"\" NIL NIL NIL NIL NIL NIL \"\" \"\")");
}

/* The same message with CRLF and with LF: same shape and line counts. */
static void test_crlf_vs_lf(void **state)
{
	struct mime_message *a = parse(nested_msg), *b;
	struct strbuf lf;
	unsigned int i;
	const char *c;

	(void)state;
	strbuf_init(&lf);
	for (c = nested_msg; *c != '\0'; c++)
		if (*c != '\r')
			strbuf_addc(&lf, *c);
	b = parse_len(lf.data, lf.len);
	assert_int_equal(a->nparts, b->nparts);
	assert_false(a->flags & MIME_MESSAGE_BARE_LF);
	assert_true(b->flags & MIME_MESSAGE_BARE_LF);
	for (i = 0; i < a->nparts; i++) {
		assert_string_equal(a->parts[i].section, b->parts[i].section);
		assert_int_equal(a->parts[i].body_lines,
				 b->parts[i].body_lines);
		assert_int_equal(
		    a->parts[i].body_len - b->parts[i].body_len,
		    a->parts[i].body_lines -
			(a->parts[i].body_lines > 0 &&
			 nested_msg[a->parts[i].body_off +
				    a->parts[i].body_len - 1] != '\n'));
	}
	assert_body(lf.data, mime_find_section(b, "1.1"),
		    "caf=C3=A9\nsecond line");
	mime_message_free(&a);
	mime_message_free(&b);
	strbuf_free(&lf);
}

static void test_address_list_api(void **state)
{
	struct mime_address *list, *a;
	static const char v[] = "A <a@b>, G: c@d;";

	(void)state;
	list = mime_address_parse(v, strlen(v));
	a = list;
	assert_string_equal(a->name, "A");
	assert_string_equal(a->mailbox, "a");
	assert_string_equal(a->domain, "b");
	a = a->next;
	assert_string_equal(a->mailbox, "G");
	assert_null(a->domain);
	a = a->next;
	assert_string_equal(a->mailbox, "c");
	a = a->next;
	assert_null(a->mailbox);
	assert_null(a->next);
	mime_address_free(&list);
	assert_null(list);
	assert_null(mime_address_parse("", 0));
}

static void test_cached_fields(void **state)
{
	struct mime_message *m =
	    parse("From: =?utf-8?q?J=C3=B6rg?= <J@X.DE>\r\n"
		  "To: List: ;, \"Ann\" <ann@y>\r\n"
		  "Subject: =?utf-8?q?Re=3A_=5Bbox=5D_caf=C3=A9?= (fwd)\r\n"
		  "In-Reply-To: <p1@x>\r\n"
		  "References: <p0@x>\r\n <p1@x>\r\n"
		  "Date: Sat, 29 Feb 2020 23:59:60 -0130\r\n"
		  "\r\n");

	(void)state;
	assert_string_equal(m->from.name, "J\xc3\xb6rg");
	assert_string_equal(m->from.addr, "J@X.DE");
	assert_string_equal(m->to.name, "Ann");
	assert_string_equal(m->to.addr, "ann@y");
	assert_null(m->cc.addr);
	assert_string_equal(m->subject, "Re: [box] caf\xc3\xa9 (fwd)");
	assert_string_equal(m->base_subject, "caf\xc3\xa9");
	assert_string_equal(m->in_reply_to, "<p1@x>");
	assert_string_equal(m->references, "<p0@x> <p1@x>");
	/* 2020-03-01 01:29:59 UTC (second 60 read as 59) */
	assert_int_equal(m->date, 1583026199);
	mime_message_free(&m);
}

static void test_dates(void **state)
{
	static const struct {
		const char *in;
		long long want;
	} cases[] = {
	    {"Tue, 1 Jul 2003 10:52:37 +0200", 1057049557},
	    {"1 Jul 2003 10:52:37 +0200", 1057049557},
	    {"Tue, 01 Jul 03 08:52 GMT", 1057049520},
	    {"Tue,1 Jul 2003 04:52:37 EDT", 1057049557},
	    {"Tue, 1 Jul 2003 08:52:37 (UTC)", 1057049557},
	    {"Tue Jul  1 08:52:37 2003", 1057049557},
	    {"Tuesday, July 1, 2003 8:52:37 AM +0000", 1057049557},
	    {"1-Jul-2003 08:52:37 +0000", 1057049557},
	    {"2003-07-01 08:52:37", 1057049557},
	    {"Thu, 1 Jan 1970 00:00:00 +0000", 0},
	    {"Wed, 31 Dec 1969 23:00:00 -0100", 0},
	    {"Fri, 13 Feb 2009 23:31:30 +0000 (CET)", 1234567890},
	    {"Sun, 1 Jan 50 00:00:00 +0000", -631152000},
	    {"", 0},
	    {"garbage", 0},
	    {"31 Feb 2003 10:00:00", 0},
	    {"Tue, 1 Foo 2003 10:52:37 +0200", 0},
	    {"99:99:99", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = mime_date_parse(cases[i].in, strlen(cases[i].in));

		if ((long long)t != cases[i].want)
			fail_msg("date \"%s\": got %lld want %lld", cases[i].in,
				 (long long)t, cases[i].want);
	}
}

static void test_base_subject(void **state)
{
	static const char *const cases[][2] = {
	    {"", ""},
	    {"hello", "hello"},
	    {"Re: hello", "hello"},
	    {"RE:hello", "hello"},
	    {"re: Re: FWD: fw: hello", "hello"},
	    {"Re[2]: hello", "hello"},
	    {"[list] Re: hello", "hello"},
	    {"Re: [list] hello", "hello"},
	    {"[list] [other] Re: [x] Fwd: hello", "hello"},
	    {"hello (fwd)", "hello"},
	    {"hello (FWD) (fwd)  ", "hello"},
	    {"[Fwd: hello]", "hello"},
	    {"[Fwd: Re: [list] hi (fwd)]", "hi"},
	    {"  lots\t of \r\n  space  ", "lots of space"},
	    {"[only a blob]", "[only a blob]"},
	    {"Re: [blob]", "[blob]"},
	    {"Rebuild", "Rebuild"},
	    {"Fwd hello", "Fwd hello"},
	    {"re:", ""},
	    {"[", "["},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = mime_base_subject(cases[i][0]);

		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("base subject of \"%s\": got \"%s\" want "
				 "\"%s\"",
				 cases[i][0], got, cases[i][1]);
		free(got);
	}
}

/* Hostile subjects must not make SORT/THREAD caching quadratic. */
static void test_base_subject_linear(void **state)
{
	struct strbuf s;
	struct timespec t0, t1;
	char *got;
	int i;

	(void)state;
	strbuf_init(&s);
	for (i = 0; i < 50000; i++)
		strbuf_adds(&s, "[a]");
	strbuf_adds(&s, "x");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = mime_base_subject(s.data);
	assert_string_equal(got, "x");
	free(got);
	strbuf_reset(&s);
	for (i = 0; i < 30000; i++)
		strbuf_adds(&s, "[fwd: re: (fwd)");
	got = mime_base_subject(s.data);
	free(got);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	strbuf_free(&s);
}

/* ---- transfer decoding --------------------------------------------------- */

static void test_base64(void **state)
{
	struct strbuf s;

	(void)state;
	strbuf_init(&s);
	mime_decode_base64("SGVs\r\nbG8s IHdv\tcmxk!!", 22, &s);
	assert_string_equal(s.data, "Hello, world");
	strbuf_reset(&s);
	mime_decode_base64("YQ==YmM=", 8, &s);
	assert_string_equal(s.data, "abc");
	strbuf_reset(&s);
	mime_decode_base64("Y", 1, &s);
	assert_int_equal(s.len, 0);
	strbuf_reset(&s);
	mime_decode_base64("AP8A", 4, &s);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.data, "\0\xff\0", 3);
	strbuf_free(&s);
}

static void test_qp(void **state)
{
	static const char in[] = "caf=C3=A9 =\r\n"
				 "joined   \r\n"
				 "bad =ZZ and =a9 end=\n"
				 "last=3d";
	struct strbuf s;

	(void)state;
	strbuf_init(&s);
	mime_decode_qp(in, strlen(in), &s);
	assert_string_equal(s.data, "caf\xc3\xa9 joined\r\n"
				    "bad =ZZ and \xa9 endlast=");
	strbuf_free(&s);
}

/* ---- index record -------------------------------------------------------- */

static void test_serialize_round_trip(void **state)
{
	const char *msgs[] = {simple_msg, nested_msg, rfc822_msg};
	struct mime_message *m, *m2;
	struct strbuf a, b;
	unsigned int i, k;

	(void)state;
	strbuf_init(&a);
	strbuf_init(&b);
	for (k = 0; k < 3; k++) {
		m = parse(msgs[k]);
		strbuf_reset(&a);
		strbuf_reset(&b);
		assert_int_equal(mime_serialize(m, &a), 0);
		assert_int_equal(mime_deserialize(a.data, a.len, &m2), 0);
		assert_int_equal(mime_serialize(m2, &b), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		assert_string_equal(m->envelope, m2->envelope);
		assert_string_equal(m->bodystructure, m2->bodystructure);
		assert_string_equal(m->body, m2->body);
		assert_string_equal(m->base_subject, m2->base_subject);
		assert_int_equal(m->date, m2->date);
		assert_int_equal(m->nparts, m2->nparts);
		for (i = 0; i < m->nparts; i++) {
			const struct mime_part *p = &m->parts[i],
					       *q = &m2->parts[i];

			assert_string_equal(p->section, q->section);
			assert_int_equal(p->kind, q->kind);
			assert_int_equal(p->parent, q->parent);
			assert_int_equal(p->first_child, q->first_child);
			assert_int_equal(p->next_sibling, q->next_sibling);
			assert_int_equal(p->header_off, q->header_off);
			assert_int_equal(p->body_len, q->body_len);
			assert_int_equal(p->body_lines, q->body_lines);
			assert_string_equal(p->type, q->type);
			assert_string_equal(p->subtype, q->subtype);
			assert_string_equal(p->encoding, q->encoding);
		}
		assert_ptr_equal(
		    mime_find_section(m2, "1"),
		    &m2->parts[mime_find_section(m, "1") - m->parts]);
		mime_message_free(&m);
		mime_message_free(&m2);
	}
	/* negative dates survive */
	m = parse("Date: 1 Jan 1960 00:00:00 +0000\r\n\r\n");
	assert_true(m->date < 0);
	strbuf_reset(&a);
	mime_serialize(m, &a);
	assert_int_equal(mime_deserialize(a.data, a.len, &m2), 0);
	assert_int_equal(m2->date, m->date);
	mime_message_free(&m);
	mime_message_free(&m2);
	strbuf_free(&a);
	strbuf_free(&b);
}

static void test_deserialize_corrupt(void **state)
{
	struct mime_message *m, *m2;
	struct strbuf a;
	size_t i, j;
	unsigned int bit;

	(void)state;
	m = parse(rfc822_msg);
	strbuf_init(&a);
	mime_serialize(m, &a);
	mime_message_free(&m);

	/* every truncation is refused */
	for (i = 0; i < a.len; i++) {
		assert_int_equal(mime_deserialize(a.data, i, &m2), -1);
		assert_null(m2);
	}
	/* trailing garbage is refused */
	strbuf_addc(&a, 0);
	assert_int_equal(mime_deserialize(a.data, a.len, &m2), -1);
	strbuf_truncate(&a, a.len - 1);
	/* every single bit flip is refused or gives a usable message */
	for (i = 0; i < a.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			a.data[i] ^= (char)(1u << bit);
			if (mime_deserialize(a.data, a.len, &m2) == 0) {
				for (j = 0; j < m2->nparts; j++) {
					const struct mime_part *p =
					    &m2->parts[j];

					assert_true(p->body_off + p->body_len <=
						    m2->size);
					assert_non_null(p->section);
					(void)mime_find_section(m2, p->section);
					(void)mime_find_message(m2, p->section);
				}
				mime_message_free(&m2);
			}
			a.data[i] ^= (char)(1u << bit);
		}
	}
	/* hand-made bad records */
	assert_int_equal(mime_deserialize("", 0, &m2), -1);
	assert_int_equal(mime_deserialize("RMM\x02", 4, &m2), -1);
	assert_int_equal(mime_deserialize("XMM\x01", 4, &m2), -1);
	assert_int_equal(
	    mime_deserialize("RMM\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff"
			     "\xff\x01",
			     15, &m2),
	    -1);
	strbuf_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_rfc822),
	    cmocka_unit_test(test_rfc822_top),
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_missing_final_boundary),
	    cmocka_unit_test(test_no_boundary_param),
	    cmocka_unit_test(test_bad_content_type),
	    cmocka_unit_test(test_boundary_in_nested),
	    cmocka_unit_test(test_lf_and_nul),
	    cmocka_unit_test(test_empty_and_header_only),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_performance),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_encoded_words),
	    cmocka_unit_test(test_charset_conversion),
	    cmocka_unit_test(test_rfc2231),
	    cmocka_unit_test(test_rfc2231_bodystructure),
	    cmocka_unit_test(test_address_groups),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_envelope_empty_fields),
	    cmocka_unit_test(test_crlf_vs_lf),
	    cmocka_unit_test(test_address_list_api),
	    cmocka_unit_test(test_cached_fields),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_base_subject),
	    cmocka_unit_test(test_base_subject_linear),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_qp),
	    cmocka_unit_test(test_serialize_round_trip),
	    cmocka_unit_test(test_deserialize_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
