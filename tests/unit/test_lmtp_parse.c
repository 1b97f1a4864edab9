/*
 * test_lmtp_parse.c - the pure parts of the LMTP server (store/lmtp.h):
 * the DATA dot-unstuffing decoder, fed whole and byte by byte, and the
 * RFC 5321 path parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/lmtp.h"

struct decoded {
	char out[4096];
	size_t len;
	size_t consumed;
	int done;
};

/* Decodes in, in pieces of step bytes (0: all at once). */
static void decode(const char *in, size_t len, size_t step, struct decoded *d)
{
	struct lmtp_dot dot;
	char buf[sizeof(d->out) + 2];
	size_t at = 0;

	memset(d, 0, sizeof(*d));
	lmtp_dot_init(&dot);
	while (at < len && !d->done) {
		size_t n = step == 0 || len - at < step ? len - at : step;
		size_t olen, used;

		used = lmtp_dot_decode(&dot, in + at, n, buf, &olen, &d->done);
		assert_true(used <= n);
		if (!d->done)
			assert_int_equal(used, n);
		assert_true(d->len + olen <= sizeof(d->out));
		memcpy(d->out + d->len, buf, olen);
		d->len += olen;
		at += used;
	}
	d->consumed = at;
}

static void check(const char *in, const char *want, size_t want_consumed)
{
	size_t len = strlen(in);

	for (size_t step = 0; step <= 3; step++) {
		struct decoded d;

		decode(in, len, step, &d);
		assert_true(d.done);
		assert_int_equal(d.len, strlen(want));
		assert_memory_equal(d.out, want, d.len);
		assert_int_equal(d.consumed, want_consumed);
	}
}

static void test_dot_plain(void **state)
{
	(void)state;
	check("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n",
	      23);
	check(".\r\n", "", 3);
}

static void test_dot_unstuffing(void **state)
{
	(void)state;
	/* RFC 5321 4.5.2: a leading dot is removed from every line. */
	check("..\r\n...\r\n.x\r\n.\r\n", ".\r\n..\r\nx\r\n", 16);
	check("a.b\r\n.\r\n", "a.b\r\n", 8);
	/* ".\r" followed by something else: the dot was stuffing */
	check(".\rx\r\n.\r\n", "\rx\r\n", 8);
}

static void test_dot_rest_left_for_commands(void **state)
{
	const char *in = "x\r\n.\r\nQUIT\r\n";

	(void)state;
	check(in, "x\r\n", 6);
}

static void test_dot_bare_lf(void **state)
{
	(void)state;
	check("a\nb\n.\n", "a\nb\n", 6);
}

static void test_dot_not_terminated(void **state)
{
	const char *in = "a\r\n.x\r\n. \r\nbody";
	struct decoded d;

	(void)state;
	for (size_t step = 0; step <= 2; step++) {
		decode(in, strlen(in), step, &d);
		assert_false(d.done);
		assert_int_equal(d.consumed, strlen(in));
		assert_int_equal(d.len, strlen("a\r\nx\r\n \r\nbody"));
		assert_memory_equal(d.out, "a\r\nx\r\n \r\nbody", d.len);
	}
}

static void test_dot_binary(void **state)
{
	char in[600], want[600];
	size_t n = 0, w = 0;
	struct decoded d;

	(void)state;
	for (int i = 0; i < 512; i++) {
		char ch = (char)(i * 7);

		if (ch == '\n' || ch == '\r' || ch == '.')
			ch = 'a';
		in[n++] = ch;
		want[w++] = ch;
	}
	memcpy(in + n, "\r\n.\r\n", 5);
	memcpy(want + w, "\r\n", 2);
	n += 5;
	w += 2;
	for (size_t step = 0; step <= 7; step++) {
		decode(in, n, step, &d);
		assert_true(d.done);
		assert_int_equal(d.len, w);
		assert_memory_equal(d.out, want, w);
	}
}

static void path_ok(const char *in, const char *want, const char *rest)
{
	const char *p = in, *why = NULL;
	char *addr = NULL;

	assert_int_equal(lmtp_parse_path(&p, &addr, &why), 0);
	assert_string_equal(addr, want);
	assert_string_equal(p, rest);
	free(addr);
}

static void path_bad(const char *in)
{
	const char *p = in, *why = NULL;
	char *addr = NULL;

	assert_int_equal(lmtp_parse_path(&p, &addr, &why), -1);
	assert_non_null(why);
	assert_null(addr);
}

static void test_path(void **state)
{
	char long_addr[400];

	(void)state;
	path_ok("<a@b.c>", "a@b.c", "");
	path_ok("<> SIZE=1", "", " SIZE=1");
	path_ok("<@r1.x,@r2.y:a@b.c>", "a@b.c", "");
	path_ok("<\"a b\"@c.d>", "a b@c.d", "");
	path_ok("<\"a\\\"q\"@c.d>", "a\"q@c.d", "");
	path_bad("a@b.c");
	path_bad("<a@b.c");
	path_bad("<a b@c.d>");
	path_bad("<\"unterminated@c.d>");
	path_bad("<@r1.x a@b.c>");
	memset(long_addr, 'a', sizeof(long_addr));
	long_addr[0] = '<';
	memcpy(long_addr + sizeof(long_addr) - 6, "@b.c>", 6);
	path_bad(long_addr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dot_plain),
	    cmocka_unit_test(test_dot_unstuffing),
	    cmocka_unit_test(test_dot_rest_left_for_commands),
	    cmocka_unit_test(test_dot_bare_lf),
	    cmocka_unit_test(test_dot_not_terminated),
	    cmocka_unit_test(test_dot_binary),
	    cmocka_unit_test(test_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
