/*
 * test_mux_parse.c - the mux's pure readers: the pre-auth IMAP /
 * ManageSieve command reader (mux/imap_parse.c) and the LMTP end-of-data
 * scanner (mux/lmtp_relay.c), the scanner fed one byte at a time too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"
#include "mux/front.h"
#include "mux/lmtp.h"

static void test_tokens(void **state)
{
	struct tokcmd tc;

	(void)state;
	tokcmd_init(&tc, 1);
	const char *l0 = "a1 LOGIN \"al\\\"ice\" NIL";

	assert_int_equal(tokcmd_line(&tc, l0, strlen(l0)), TOKCMD_DONE);
	assert_int_equal(tc.n, 4);
	assert_string_equal(tokcmd_str(&tc, 0), "a1");
	assert_string_equal(tokcmd_str(&tc, 1), "LOGIN");
	assert_int_equal(tc.t[2].type, TOK_STRING);
	assert_string_equal(tokcmd_str(&tc, 2), "al\"ice");
	assert_int_equal(tc.t[3].type, TOK_NIL);
	tokcmd_clear(&tc);

	/* ID with a list spanning a literal */
	const char *l1 = "t ID (\"name\" {4+}";
	assert_int_equal(tokcmd_line(&tc, l1, strlen(l1)), TOKCMD_LITERAL);
	assert_int_equal(tc.literal_size, 4);
	assert_int_equal(tc.literal_sync, 0);
	tokcmd_literal(&tc, "abcd", 4);
	assert_int_equal(tokcmd_line(&tc, " \"v\" NIL)", 9), TOKCMD_DONE);
	assert_int_equal(tc.n, 3);
	assert_int_equal(tc.t[2].type, TOK_LIST);
	assert_null(tokcmd_str(&tc, 2));
	tokcmd_clear(&tc);

	/* a literal at top level becomes a string (NULs kept) */
	assert_int_equal(tokcmd_line(&tc, "x LOGIN {3}", 11), TOKCMD_LITERAL);
	assert_int_equal(tc.literal_sync, 1);
	tokcmd_literal(&tc, "a\0b", 3);
	assert_int_equal(tokcmd_line(&tc, " pw", 3), TOKCMD_DONE);
	assert_int_equal(tc.t[2].len, 3);
	assert_string_equal(tokcmd_str(&tc, 3), "pw");
	tokcmd_clear(&tc);
}

static void test_token_errors(void **state)
{
	static const char *const bad[] = {
	    "a LOGIN \"open",  "a )",	       "a (x",
	    "a \"bad\\q\"",     "a {99999999}", "a (((((((((x)))))))))",
	    "a b c d e f g h i j k",
	};
	struct tokcmd tc;

	(void)state;
	tokcmd_init(&tc, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tokcmd_line(&tc, bad[i], strlen(bad[i])),
				 TOKCMD_ERROR);
		assert_non_null(tc.error);
		tokcmd_clear(&tc);
	}
	assert_int_equal(tokcmd_line(&tc, "a\0b", 3), TOKCMD_ERROR);
	tokcmd_clear(&tc);
	/* "{abc}" is an atom, not a literal */
	assert_int_equal(tokcmd_line(&tc, "a {abc}", 7), TOKCMD_DONE);
	assert_string_equal(tokcmd_str(&tc, 1), "{abc}");
	tokcmd_clear(&tc);
}

/* The scanner's answer must not depend on how the data is split. */
static size_t scan_bytewise(const char *s, size_t len)
{
	struct lmtp_scan sc;

	lmtp_scan_init(&sc);
	for (size_t i = 0; i < len; i++)
		if (lmtp_scan(&sc, s + i, 1) != (size_t)-1)
			return i + 1;
	return (size_t)-1;
}

static size_t scan_whole(const char *s, size_t len)
{
	struct lmtp_scan sc;

	lmtp_scan_init(&sc);
	return lmtp_scan(&sc, s, len);
}

static void test_scan(void **state)
{
	static const struct {
		const char *in;
		size_t end;
	} cases[] = {
	    {".\r\n", 3},
	    {"a\r\n.\r\nMAIL", 6},
	    {"a\r\n..x\r\n.\r\n", 11},
	    {"a\n.\n", 4},
	    {"a.\r\nb", (size_t)-1},
	    {"a\r\n.x\r\n", (size_t)-1},
	    {"a\r\n.\rx\r\n.\r\n", 11},
	    {"", (size_t)-1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		assert_int_equal(scan_whole(cases[i].in, len), cases[i].end);
		assert_int_equal(scan_bytewise(cases[i].in, len),
				 cases[i].end);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_token_errors),
	    cmocka_unit_test(test_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
