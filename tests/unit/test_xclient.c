/*
 * test_xclient.c - lib/xclient.h: the XCLIENT attribute parser in its
 * Dovecot (POP3, ManageSieve) and Postfix (LMTP) dialects, xtext both
 * ways, the client's address as logs write it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"
#include "xclient.h"

static const char *peer(const struct xclient *x)
{
	static char buf[XCLIENT_PEER_MAX];

	return xclient_peer(x, "10.0.0.1:5000", buf, sizeof(buf));
}

static void test_dovecot(void **state)
{
	struct xclient x;
	const char *err = NULL;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(xclient_parse(&x,
				       "ADDR=192.0.2.7 PORT=51334 "
				       "SESSION=3f2a01bc9e11 TTL=5",
				       XCLIENT_POP3_ATTRS, &err),
			 0);
	assert_int_equal(x.have, XCLIENT_ADDR | XCLIENT_PORT |
				     XCLIENT_SESSION | XCLIENT_TTL);
	assert_string_equal(x.addr, "192.0.2.7");
	assert_int_equal(x.port, 51334);
	assert_string_equal(x.session, "3f2a01bc9e11");
	assert_int_equal(x.ttl, 5);
	assert_string_equal(peer(&x), "192.0.2.7:51334");

	/* names are case-insensitive; extra spaces are fine; unknown
	 * names (Dovecot's FORWARD, DESTNAME) are skipped */
	memset(&x, 0, sizeof(x));
	assert_int_equal(xclient_parse(&x,
				       "  addr=2001:DB8:0:0::1   Port=443 "
				       "FORWARD=eyJ4IjoxfQ== DESTNAME=x ",
				       XCLIENT_POP3_ATTRS, &err),
			 0);
	assert_string_equal(x.addr, "2001:db8::1");
	assert_string_equal(peer(&x), "[2001:db8::1]:443");

	/* Dovecot values are not xtext: '+' is a plain character */
	memset(&x, 0, sizeof(x));
	assert_int_equal(xclient_parse(&x, "SESSION=a+b/c=", XCLIENT_POP3_ATTRS,
				       &err),
			 0);
	assert_string_equal(x.session, "a+b/c=");
	/* no ADDR: the connection's own peer */
	assert_string_equal(peer(&x), "10.0.0.1:5000");
	/* not Dovecot's */
	assert_int_equal(
	    xclient_parse(&x, "HELO=x", XCLIENT_POP3_ATTRS & ~XCLIENT_LENIENT,
			  &err),
	    -1);
}

static void test_postfix(void **state)
{
	struct xclient x;
	const char *err = NULL;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(xclient_parse(&x,
				       "ADDR=IPV6:2001:db8::7 PORT=25 "
				       "NAME=mx.example.org HELO=a+2Bb+3Dc "
				       "PROTO=esmtp",
				       XCLIENT_LMTP_ATTRS, &err),
			 0);
	assert_string_equal(x.addr, "2001:db8::7");
	assert_string_equal(x.name, "mx.example.org");
	assert_string_equal(x.helo, "a+b=c");
	assert_string_equal(x.proto, "ESMTP");
	assert_string_equal(peer(&x), "[2001:db8::7]:25");

	/* a second command updates what it names and keeps the rest */
	assert_int_equal(xclient_parse(&x, "NAME=[UNAVAILABLE] ADDR=192.0.2.1",
				       XCLIENT_LMTP_ATTRS, &err),
			 0);
	assert_string_equal(x.name, "");
	assert_string_equal(x.helo, "a+b=c");
	assert_string_equal(peer(&x), "192.0.2.1:25");
	assert_int_equal(xclient_parse(&x, "ADDR=[TEMPUNAVAIL]",
				       XCLIENT_LMTP_ATTRS, &err),
			 0);
	assert_string_equal(peer(&x), "unknown");
	assert_int_equal(xclient_parse(&x, "ADDR=192.0.2.2 PORT=[UNAVAILABLE]",
				       XCLIENT_LMTP_ATTRS, &err),
			 0);
	assert_string_equal(peer(&x), "192.0.2.2");

	/* Postfix names unknown attributes an error */
	assert_int_equal(
	    xclient_parse(&x, "LOGIN=bob", XCLIENT_LMTP_ATTRS, &err), -1);
	assert_string_equal(err, "Unknown attribute");
	assert_int_equal(
	    xclient_parse(&x, "SESSION=abc", XCLIENT_LMTP_ATTRS, &err), -1);
}

static void test_errors_leave_state(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "ADDR",
	    "=1.2.3.4",
	    "ADDR=",
	    "ADDR=1.2.3",
	    "ADDR=300.1.1.1",
	    "ADDR=localhost",
	    "ADDR=IPV6:1.2.3.4x",
	    "PORT=0",
	    "PORT=65536",
	    "PORT=-1",
	    "PORT=+1",
	    "PORT=123456",
	    "TTL=256",
	    "PROTO=HTTP",
	    "HELO=a+4",
	    "HELO=a+GG",
	    "HELO=a+00b",
	    "HELO=a+20b",
	    "NAME=a+7Fb",
	    "SESSION=a;b",
	    "ADDR=192.0.2.1 PORT=1 ADDR=x",
	    "A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 A=1 "
	    "A=1",
	    "BAD+NAME=1",
	};
	struct xclient x, before;
	const char *err;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(xclient_parse(&x, "ADDR=192.0.2.9 PORT=9 HELO=h",
				       XCLIENT_LMTP_ATTRS, &err),
			 0);
	before = x;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err = NULL;
		assert_int_equal(xclient_parse(&x, bad[i],
					       XCLIENT_LMTP_ATTRS |
						   XCLIENT_SESSION,
					       &err),
				 -1);
		assert_non_null(err);
		/* a command is applied whole or not at all */
		assert_memory_equal(&x, &before, sizeof(x));
	}
	/* a long HELO: 255 is the most */
	{
		char buf[300];

		memset(buf, 'h', sizeof(buf));
		memcpy(buf, "HELO=", 5);
		buf[5 + 255] = '\0';
		assert_int_equal(xclient_parse(&x, buf, XCLIENT_LMTP_ATTRS,
					       &err),
				 0);
		assert_int_equal(strlen(x.helo), 255);
		buf[5 + 255] = 'h';
		buf[5 + 256] = '\0';
		assert_int_equal(xclient_parse(&x, buf, XCLIENT_LMTP_ATTRS,
					       &err),
				 -1);
	}
}

static void test_parse_attr(void **state)
{
	struct xclient x;
	const char *err = NULL;
	static const char nul[] = "ADDR=1.2.3.4\0x";

	(void)state;
	memset(&x, 0, sizeof(x));
	/* not NUL-terminated at len: only len bytes count */
	assert_int_equal(xclient_parse_attr(&x, "PORT=110xyz", 8,
					    XCLIENT_SIEVE_ATTRS, &err),
			 0);
	assert_int_equal(x.port, 110);
	/* a NUL inside (a ManageSieve literal) is refused */
	assert_int_equal(xclient_parse_attr(&x, nul, sizeof(nul) - 1,
					    XCLIENT_SIEVE_ATTRS, &err),
			 -1);
	assert_int_equal(x.have, XCLIENT_PORT);
}

static void test_xtext(void **state)
{
	struct strbuf b;
	char out[64];

	(void)state;
	strbuf_init(&b);
	xclient_xtext_encode(&b, "a+b=c d\x01~");
	assert_string_equal(b.data, "a+2Bb+3Dc+20d+01~");
	assert_int_equal(xclient_xtext_decode(b.data, b.len, out, sizeof(out)),
			 9);
	assert_string_equal(out, "a+b=c d\x01~");
	assert_int_equal(xclient_xtext_decode("ab+2", 4, out, sizeof(out)), -1);
	assert_int_equal(xclient_xtext_decode("abc", 3, out, 3), -1);
	assert_int_equal(xclient_xtext_decode("abc", 3, out, 4), 3);
	assert_int_equal(xclient_xtext_decode("+6a", 3, out, 4), 1);
	assert_string_equal(out, "j");
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot),
	    cmocka_unit_test(test_postfix),
	    cmocka_unit_test(test_errors_leave_state),
	    cmocka_unit_test(test_parse_attr),
	    cmocka_unit_test(test_xtext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
