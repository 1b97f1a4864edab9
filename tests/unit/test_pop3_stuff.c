/*
 * test_pop3_stuff.c - the POP3 dot-stuffer (store/pop3_stream.c): RETR
 * and TOP output for CRLF and bare-LF messages, fed whole, byte by byte
 * and in every two-piece split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"
#include "store/pop3.h"

static void collect(void *arg, const char *data, size_t len)
{
	strbuf_add(arg, data, len);
}

/* Output of the stuffer for input split at the given piece size
 * (0: whole); also checks that the result does not depend on splits. */
static char *stuff(const char *in, long long lines, size_t piece)
{
	struct pop3_stuff st;
	struct strbuf out;
	size_t len = strlen(in), off = 0, n;
	char *res;

	strbuf_init(&out);
	pop3_stuff_init(&st, lines, collect, &out);
	while (off < len) {
		n = piece == 0 || len - off < piece ? len - off : piece;
		pop3_stuff_feed(&st, in + off, n);
		off += n;
	}
	pop3_stuff_finish(&st);
	res = strbuf_steal(&out, NULL);
	strbuf_free(&out);
	return res;
}

static void check(const char *in, long long lines, const char *want)
{
	size_t piece, len = strlen(in), split;
	char *got;

	for (piece = 0; piece <= 3; piece++) {
		got = stuff(in, lines, piece);
		assert_string_equal(got, want);
		free(got);
	}
	/* Every split into two pieces. */
	for (split = 0; split <= len; split++) {
		struct pop3_stuff st;
		struct strbuf out;

		strbuf_init(&out);
		pop3_stuff_init(&st, lines, collect, &out);
		pop3_stuff_feed(&st, in, split);
		pop3_stuff_feed(&st, in + split, len - split);
		pop3_stuff_finish(&st);
		assert_string_equal(out.data, want);
		strbuf_free(&out);
	}
}

static void test_plain(void **state)
{
	(void)state;
	check("", -1, ".\r\n");
	check("A: b\r\n\r\nbody\r\n", -1, "A: b\r\n\r\nbody\r\n.\r\n");
}

static void test_dots(void **state)
{
	(void)state;
	check(".\r\n", -1, "..\r\n.\r\n");
	check("A: b\r\n\r\n.hidden\r\n..two\r\nx.y\r\n.\r\n", -1,
	      "A: b\r\n\r\n..hidden\r\n...two\r\nx.y\r\n..\r\n.\r\n");
	check("a\r\n.", -1, "a\r\n..\r\n.\r\n");
}

static void test_bare_lf(void **state)
{
	(void)state;
	check("A: b\n\nbody\n.x\n", -1, "A: b\r\n\r\nbody\r\n..x\r\n.\r\n");
	check("mixed\r\nlf\nend", -1, "mixed\r\nlf\r\nend\r\n.\r\n");
	check("cr at end\r", -1, "cr at end\r\n.\r\n");
	check("\n\n", -1, "\r\n\r\n.\r\n");
}

static void test_top(void **state)
{
	const char *msg = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";

	(void)state;
	check(msg, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
	check(msg, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
	check(msg, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
	check(msg, 3, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	check(msg, 100, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* No body separator: the whole header. */
	check("A: 1\r\nB: 2", 0, "A: 1\r\nB: 2\r\n.\r\n");
	/* Bare LF header end. */
	check("A: 1\n\nx\ny\n", 1, "A: 1\r\n\r\nx\r\n.\r\n");
	/* A line of just CR counts as empty (CRLF split anywhere). */
	check("A: 1\r\n\r\nx\r\n", 0, "A: 1\r\n\r\n.\r\n");
}

static void test_consumed(void **state)
{
	struct pop3_stuff st;
	struct strbuf out;
	const char *msg = "A: 1\r\n\r\nbody\r\nmore\r\n";
	size_t used;

	(void)state;
	strbuf_init(&out);
	pop3_stuff_init(&st, 0, collect, &out);
	used = pop3_stuff_feed(&st, msg, strlen(msg));
	assert_int_equal(used, strlen("A: 1\r\n\r\n"));
	assert_true(st.done);
	pop3_stuff_finish(&st);
	assert_string_equal(out.data, "A: 1\r\n\r\n.\r\n");
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),    cmocka_unit_test(test_dots),
	    cmocka_unit_test(test_bare_lf),  cmocka_unit_test(test_top),
	    cmocka_unit_test(test_consumed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
