/*
 * test_lineread_trim.c - lineread_trim(): a reader that gave its line
 * buffer back keeps working, over an evbuffer and through
 * lineread_feed(), for short, long, empty and overlong lines, and a
 * partial line left in the evbuffer across the trim is still read whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "lineread.h"
#include "strbuf.h"

static void expect_line(struct lineread *lr, struct evbuffer *in,
			const char *want)
{
	struct lineread_result res;

	assert_int_equal(lineread_evbuffer(lr, in, &res), 1);
	assert_int_equal(res.len, strlen(want));
	assert_string_equal(res.line, want);
}

static void test_trim_evbuffer(void **state)
{
	struct lineread_params lp = {.max_line = 64};
	struct lineread *lr = lineread_new(&lp);
	struct evbuffer *in = evbuffer_new();
	struct lineread_result res;
	char big[60];

	(void)state;
	lineread_trim(lr);	/* before any line: harmless */
	evbuffer_add_printf(in, "a LOGIN x y\r\n");
	expect_line(lr, in, "a LOGIN x y");
	lineread_trim(lr);
	lineread_trim(lr);	/* twice: nothing left to give back */
	evbuffer_add_printf(in, "\r\n");
	expect_line(lr, in, "");
	lineread_trim(lr);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	evbuffer_add_printf(in, "%s\n", big);
	expect_line(lr, in, big);
	/* a partial line stays in the evbuffer across a trim */
	evbuffer_add_printf(in, "c NO");
	assert_int_equal(lineread_evbuffer(lr, in, &res), 0);
	lineread_trim(lr);
	evbuffer_add_printf(in, "OP\r\n");
	expect_line(lr, in, "c NOOP");
	/* overlong after a trim: reported, then the next line is fine */
	lineread_trim(lr);
	for (int i = 0; i < 3; i++)
		evbuffer_add_printf(in, "%s", big);
	evbuffer_add_printf(in, "\r\nd OK\r\n");
	assert_int_equal(lineread_evbuffer(lr, in, &res), -1);
	assert_int_equal(res.error, LINEREAD_ERR_TOO_LONG);
	assert_int_equal(res.len, 0);
	expect_line(lr, in, "d OK");
	evbuffer_free(in);
	lineread_free(&lr);
}

static void test_trim_feed(void **state)
{
	struct lineread_params lp = {.max_line = 64};
	struct lineread *lr = lineread_new(&lp);
	struct lineread_result res;
	const char *in = "one\r\ntw";
	size_t used;

	(void)state;
	assert_int_equal(lineread_feed(lr, in, strlen(in), &used, &res), 1);
	assert_string_equal(res.line, "one");
	lineread_trim(lr);
	in += used;
	/* the partial line fed so far is forgotten by the trim, like
	 * lineread_reset() */
	assert_int_equal(lineread_feed(lr, in, strlen(in), &used, &res), 0);
	lineread_trim(lr);
	assert_int_equal(lineread_feed(lr, "three\n", 6, &used, &res), 1);
	assert_string_equal(res.line, "three");
	lineread_free(&lr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trim_evbuffer),
	    cmocka_unit_test(test_trim_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
