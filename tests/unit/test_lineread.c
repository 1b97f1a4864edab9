/*
 * test_lineread.c - the line-and-literal reader (lineread.h).
 *
 * Every input is run through a "transcript" of what the reader reports,
 * fed whole, one byte at a time, and in many random splits, both through
 * lineread_feed() and lineread_evbuffer(); all transcripts must equal the
 * expected one.  A line is written "L<len>:<bytes>" (with "#<N>" or
 * "#<N>+" when it ends in a literal marker), an error "E<code>", literal
 * data "D<len>:<bytes>" then "END"; each item ends with '|'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "lineread.h"
#include "strbuf.h"

#define MAX_STREAMED_LITERAL (1 << 20)

struct transcript {
	struct strbuf out;
	struct strbuf lit; /* literal data being collected */
};

static void tr_line(struct transcript *t, int r,
		    const struct lineread_result *res)
{
	if (r < 0)
		strbuf_printf(&t->out, "E%d", (int)res->error);
	else
		strbuf_addc(&t->out, 'L');
	if (r < 0 && res->error == LINEREAD_ERR_TOO_LONG) {
		strbuf_addc(&t->out, '|');
		return;
	}
	if (r < 0)
		strbuf_addc(&t->out, ':');
	strbuf_printf(&t->out, "%zu:", res->len);
	strbuf_add(&t->out, res->line, res->len);
	if (res->literal)
		strbuf_printf(&t->out, "#%llu%s",
			      (unsigned long long)res->literal_size,
			      res->literal_nonsync ? "+" : "");
	strbuf_addc(&t->out, '|');
}

static void tr_literal_end(struct transcript *t)
{
	strbuf_printf(&t->out, "D%zu:", t->lit.len);
	strbuf_add(&t->out, t->lit.data, t->lit.len);
	strbuf_adds(&t->out, "|END|");
	strbuf_reset(&t->lit);
}

/* strbuf_steal() re-initialises the strbuf: free that too */
static char *steal(struct strbuf *s)
{
	char *p = strbuf_steal(s, NULL);

	strbuf_free(s);
	return p;
}

/* Should the caller stream this line's literal? */
static int wants_literal(int r, const struct lineread_result *res)
{
	return r == 1 && res->kind == LINEREAD_LINE && res->literal &&
	       res->literal_size <= MAX_STREAMED_LITERAL;
}

/* Feeds in chunks given by split(): returns the transcript (caller frees) */
static char *run_feed(const struct lineread_params *p, const char *in,
		      size_t len, size_t (*split)(size_t left, void *arg),
		      void *arg)
{
	struct lineread *lr = lineread_new(p);
	struct transcript t;
	size_t off = 0;

	strbuf_init(&t.out);
	strbuf_init(&t.lit);
	while (off < len) {
		size_t n = split(len - off, arg), pos = 0;

		for (;;) {
			struct lineread_result res;
			size_t used;
			int r = lineread_feed(lr, in + off + pos, n - pos,
					      &used, &res);

			pos += used;
			assert_true(pos <= n);
			if (r == 0) {
				assert_int_equal(pos, n);
				break;
			}
			if (res.kind == LINEREAD_LITERAL_DATA) {
				strbuf_add(&t.lit, res.data, res.len);
			} else if (res.kind == LINEREAD_LITERAL_END) {
				tr_literal_end(&t);
			} else {
				assert_int_equal(res.line[res.len], '\0');
				assert_true(res.len <=
					    (p->max_line ? p->max_line : 8192));
				tr_line(&t, r, &res);
				if (wants_literal(r, &res))
					lineread_literal_start(
					    lr, res.literal_size);
			}
		}
		off += n;
	}
	/* a literal of 0 bytes (or one just finished) ends without input */
	if (lineread_literal_left(lr) == 0) {
		struct lineread_result res;
		size_t used;

		if (lineread_feed(lr, "", 0, &used, &res) == 1) {
			assert_int_equal(res.kind, LINEREAD_LITERAL_END);
			tr_literal_end(&t);
		}
	}
	lineread_free(&lr);
	strbuf_free(&t.lit);
	return steal(&t.out);
}

/* The same through an evbuffer; literals are drained by the caller. */
static char *run_evbuffer(const struct lineread_params *p, const char *in,
			  size_t len, size_t (*split)(size_t left, void *arg),
			  void *arg)
{
	struct lineread *lr = lineread_new(p);
	struct evbuffer *eb = evbuffer_new();
	struct transcript t;
	uint64_t lit_left = 0;
	int in_lit = 0;
	size_t off = 0;

	strbuf_init(&t.out);
	strbuf_init(&t.lit);
	for (;;) {
		for (;;) {
			struct lineread_result res;
			int r;

			if (in_lit) {
				size_t have = evbuffer_get_length(eb);
				size_t n =
				    lit_left < have ? (size_t)lit_left : have;

				strbuf_reserve(&t.lit, n);
				evbuffer_remove(eb, t.lit.data + t.lit.len, n);
				t.lit.len += n;
				lit_left -= n;
				if (lit_left > 0)
					break;
				in_lit = 0;
				tr_literal_end(&t);
				lineread_reset(lr);
				continue;
			}
			r = lineread_evbuffer(lr, eb, &res);
			if (r == 0)
				break;
			tr_line(&t, r, &res);
			if (wants_literal(r, &res)) {
				in_lit = 1;
				lit_left = res.literal_size;
			}
		}
		if (off == len)
			break;
		{
			size_t n = split(len - off, arg);

			evbuffer_add(eb, in + off, n);
			off += n;
		}
	}
	evbuffer_free(eb);
	lineread_free(&lr);
	strbuf_free(&t.lit);
	return steal(&t.out);
}

static size_t split_whole(size_t left, void *arg)
{
	(void)arg;
	return left;
}

static size_t split_one(size_t left, void *arg)
{
	(void)left;
	(void)arg;
	return 1;
}

static size_t split_random(size_t left, void *arg)
{
	unsigned *seed = arg;
	size_t n;

	*seed = *seed * 1103515245u + 12345u;
	n = 1 + (*seed >> 16) % 23;
	return n < left ? n : left;
}

static void check_all(const struct lineread_params *p, const char *in,
		      size_t len, const char *expect)
{
	char *got;
	unsigned seed;

	got = run_feed(p, in, len, split_whole, NULL);
	if (strcmp(got, expect) != 0)
		fail_msg("whole: expected\n  %s\ngot\n  %s", expect, got);
	free(got);
	got = run_feed(p, in, len, split_one, NULL);
	if (strcmp(got, expect) != 0)
		fail_msg("bytewise: expected\n  %s\ngot\n  %s", expect, got);
	free(got);
	got = run_evbuffer(p, in, len, split_whole, NULL);
	if (strcmp(got, expect) != 0)
		fail_msg("evbuffer: expected\n  %s\ngot\n  %s", expect, got);
	free(got);
	got = run_evbuffer(p, in, len, split_one, NULL);
	if (strcmp(got, expect) != 0)
		fail_msg("evbuffer bytewise: expected\n  %s\ngot\n  %s", expect,
			 got);
	free(got);
	for (seed = 1; seed <= 100; seed++) {
		unsigned s = seed;

		got = run_feed(p, in, len, split_random, &s);
		if (strcmp(got, expect) != 0)
			fail_msg("split seed %u: expected\n  %s\ngot\n  %s",
				 seed, expect, got);
		free(got);
		s = seed;
		got = run_evbuffer(p, in, len, split_random, &s);
		if (strcmp(got, expect) != 0)
			fail_msg("evbuffer seed %u: expected\n  %s\ngot\n  %s",
				 seed, expect, got);
		free(got);
	}
}

#define CHECK(p, in, expect) check_all(p, in, sizeof(in) - 1, expect)

static void test_lines(void **state)
{
	struct lineread_params p = {0};

	(void)state;
	CHECK(&p, "a\r\nbb\ncc\r\n", "L1:a|L2:bb|L2:cc|");
	CHECK(&p, "", "");
	CHECK(&p, "no end", "");
	CHECK(&p, "\n\r\n\n", "L0:|L0:|L0:|");
	CHECK(&p, "tail\r\npartial", "L4:tail|");
	/* only one CR before LF is the line end; others are content */
	CHECK(&p, "a\rb\r\n", "L3:a\rb|");
	CHECK(&p, "a\r\r\n", "L2:a\r|");
	CHECK(&p, "\r", "");
	/* NUL bytes are content */
	CHECK(&p, "x\0y\r\n\0\n", "L3:x\0y|L1:\0|");
	/* literal markers mean nothing when literals are off */
	CHECK(&p, "a {5}\r\nb\r\n", "L5:a {5}|L1:b|");
}

static void test_too_long(void **state)
{
	struct lineread_params p = {.max_line = 8};
	struct strbuf big;
	char *got;

	(void)state;
	/* exactly the limit, with CRLF or LF */
	CHECK(&p, "12345678\r\n12345678\n", "L8:12345678|L8:12345678|");
	/* one over: with CRLF, LF, and a CR that is content */
	CHECK(&p, "123456789\r\nok\n", "E1|L2:ok|");
	CHECK(&p, "123456789\nok\n", "E1|L2:ok|");
	CHECK(&p, "12345678\r\r\nok\n", "E1|L2:ok|");
	CHECK(&p, "12345678x\r\n", "E1|");
	/* two overlong lines in a row, and an unfinished one */
	CHECK(&p, "aaaaaaaaaaaa\nbbbbbbbbbbbbbb\r\nc\nddddddddddddddd",
	      "E1|E1|L1:c|");
	/* far over the limit */
	strbuf_init(&big);
	for (int i = 0; i < 100000; i++)
		strbuf_addc(&big, (char)('a' + i % 26));
	strbuf_adds(&big, "\r\nok\r\n");
	got = run_feed(&p, big.data, big.len, split_whole, NULL);
	assert_string_equal(got, "E1|L2:ok|");
	free(got);
	check_all(&p, big.data, big.len, "E1|L2:ok|");
	strbuf_free(&big);
	/* the limit may change between lines */
	{
		struct lineread *lr = lineread_new(&p);
		struct lineread_result res;
		size_t used;

		assert_int_equal(
		    lineread_feed(lr, "0123456789\n", 11, &used, &res), -1);
		assert_int_equal(res.error, LINEREAD_ERR_TOO_LONG);
		assert_string_equal(res.error_str, "line too long");
		lineread_set_max_line(lr, 10);
		assert_int_equal(
		    lineread_feed(lr, "0123456789\n", 11, &used, &res), 1);
		assert_int_equal(res.len, 10);
		lineread_free(&lr);
		assert_null(lr);
	}
}

/* An overlong line read from an evbuffer keeps its first bytes (the IMAP
 * session answers with the command's tag), in one piece or many. */
static void test_too_long_prefix(void **state)
{
	struct lineread_params p = {.max_line = 100};
	struct lineread *lr = lineread_new(&p);
	struct evbuffer *in = evbuffer_new();
	struct lineread_result res;
	char big[300];

	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big, "t1 NOOP ", 8);
	evbuffer_add(in, big, sizeof(big));
	evbuffer_add(in, "\r\nok\r\n", 6);
	assert_int_equal(lineread_evbuffer(lr, in, &res), -1);
	assert_int_equal(res.error, LINEREAD_ERR_TOO_LONG);
	assert_int_equal(res.prefix_len, LINEREAD_PREFIX);
	assert_memory_equal(res.prefix, "t1 NOOP xx", 10);
	assert_int_equal(lineread_evbuffer(lr, in, &res), 1);
	assert_string_equal(res.line, "ok");
	/* without an LF yet: discarding starts, the prefix waits */
	for (size_t i = 0; i < sizeof(big); i += 50) {
		evbuffer_add(in, big + i, 50);
		assert_int_equal(lineread_evbuffer(lr, in, &res), 0);
	}
	evbuffer_add(in, "\n", 1);
	assert_int_equal(lineread_evbuffer(lr, in, &res), -1);
	assert_int_equal(res.prefix_len, LINEREAD_PREFIX);
	assert_memory_equal(res.prefix, "t1 NOOP xx", 10);
	evbuffer_free(in);
	lineread_free(&lr);
}

static void test_literals(void **state)
{
	struct lineread_params p = {.literals = 1, .max_literal = 100};

	(void)state;
	CHECK(&p, "a APPEND x {5}\r\nhello b\r\n",
	      "L14:a APPEND x {5}#5|D5:hello|END|L2: b|");
	CHECK(&p, "a {5+}\r\nhe\nlo\r\n", "L6:a {5+}#5+|D5:he\nlo|END|L0:|");
	CHECK(&p, "x {0}\r\n\r\n", "L5:x {0}#0|D0:|END|L0:|");
	CHECK(&p, "x {0}\r\n", "L5:x {0}#0|D0:|END|");
	/* two literals in one command */
	CHECK(&p, "a LOGIN {3}\r\nbob {4+}\r\npass\r\n",
	      "L11:a LOGIN {3}#3|D3:bob|END|L5: {4+}#4+|D4:pass|END|L0:|");
	/* the literal may hold what looks like lines and markers */
	CHECK(&p, "{8}\n{1}\r\n\r\n\r\nz\n",
	      "L3:{8}#8|D8:{1}\r\n\r\n\r|END|L0:|L1:z|");
	/* a literal right at the limit, and above it */
	CHECK(&p, "x {100}\r\n", "L7:x {100}#100|");
	CHECK(&p, "x {101}\r\nnext\r\n", "E2:7:x {101}#101|L4:next|");
	CHECK(&p, "x {101+}\r\n", "E2:8:x {101+}#101+|");
	/* 64-bit overflow */
	CHECK(&p, "x {99999999999999999999}\r\nn\n",
	      "E3:24:x {99999999999999999999}#18446744073709551615|L1:n|");
	/* not markers */
	CHECK(&p, "x {abc}\r\n", "L7:x {abc}|");
	CHECK(&p, "x {}\r\n", "L4:x {}|");
	CHECK(&p, "x {+}\r\n", "L5:x {+}|");
	CHECK(&p, "x {5\r\n", "L4:x {5|");
	CHECK(&p, "x 5}\r\n", "L4:x 5}|");
	CHECK(&p, "x {5}y\r\n", "L6:x {5}y|");
	CHECK(&p, "x {-1}\r\n", "L6:x {-1}|");
	CHECK(&p, "x {5++}\r\n", "L7:x {5++}|");
	CHECK(&p, "}\r\n", "L1:}|");
	CHECK(&p, "{}\r\n", "L2:{}|");
	/* leading zeros are digits */
	CHECK(&p, "{003}\r\nabc\r\n", "L5:{003}#3|D3:abc|END|L0:|");
}

static void test_literal_fields(void **state)
{
	struct lineread_params p = {.literals = 1};
	struct lineread *lr = lineread_new(&p);
	struct lineread_result res;
	const char *in = "A APPEND INBOX ~{18446744073709551615}\r\n";
	size_t used;

	(void)state;
	/* max_literal 0: no limit; the largest 64-bit size fits */
	assert_int_equal(lineread_feed(lr, in, strlen(in), &used, &res), 1);
	assert_int_equal(used, strlen(in));
	assert_int_equal(res.literal, 1);
	assert_int_equal(res.literal_nonsync, 0);
	assert_true(res.literal_size == UINT64_MAX);
	assert_int_equal(res.literal_offset, 16);
	assert_int_equal(res.line[res.literal_offset - 1], '~');
	lineread_free(&lr);

	memset(&res, 0, sizeof(res));
	assert_int_equal(lineread_find_literal("{7}", 3, &res), 1);
	assert_int_equal(res.literal_size, 7);
	assert_int_equal(lineread_find_literal("{7", 2, &res), 0);
	assert_int_equal(
	    lineread_find_literal("{18446744073709551616}", 22, &res), -1);
}

/* Streaming a literal hands out pointers into the input, never copies. */
static void test_literal_streaming(void **state)
{
	struct lineread_params p = {.literals = 1};
	struct lineread *lr = lineread_new(&p);
	struct lineread_result res;
	const char *in = "{10}\r\n0123456789rest\n";
	size_t used, off;

	(void)state;
	assert_int_equal(lineread_feed(lr, in, strlen(in), &used, &res), 1);
	off = used;
	lineread_literal_start(lr, res.literal_size);
	assert_true(lineread_literal_left(lr) == 10);
	assert_int_equal(lineread_feed(lr, in + off, 4, &used, &res), 1);
	assert_int_equal(res.kind, LINEREAD_LITERAL_DATA);
	assert_ptr_equal(res.data, in + off);
	assert_int_equal(res.len, 4);
	off += used;
	assert_true(lineread_literal_left(lr) == 6);
	assert_int_equal(
	    lineread_feed(lr, in + off, strlen(in + off), &used, &res), 1);
	assert_int_equal(res.len, 6);
	off += used;
	assert_int_equal(
	    lineread_feed(lr, in + off, strlen(in + off), &used, &res), 1);
	assert_int_equal(res.kind, LINEREAD_LITERAL_END);
	assert_int_equal(used, 0);
	assert_int_equal(
	    lineread_feed(lr, in + off, strlen(in + off), &used, &res), 1);
	assert_int_equal(res.kind, LINEREAD_LINE);
	assert_string_equal(res.line, "rest");
	lineread_free(&lr);
}

/* lineread_reset() forgets a partial line and the discard state. */
static void test_reset(void **state)
{
	struct lineread_params p = {.max_line = 4};
	struct lineread *lr = lineread_new(&p);
	struct lineread_result res;
	size_t used;

	(void)state;
	assert_int_equal(lineread_feed(lr, "abcdefgh", 8, &used, &res), 0);
	lineread_reset(lr);
	assert_int_equal(lineread_feed(lr, "ok\n", 3, &used, &res), 1);
	assert_string_equal(res.line, "ok");
	/* a reset inside a line handler leaves the line intact */
	assert_int_equal(lineread_feed(lr, "xy\n", 3, &used, &res), 1);
	lineread_reset(lr);
	assert_string_equal(res.line, "xy");
	assert_int_equal(lineread_feed(lr, "ab", 2, &used, &res), 0);
	lineread_reset(lr);
	assert_int_equal(lineread_feed(lr, "cd\n", 3, &used, &res), 1);
	assert_string_equal(res.line, "cd");
	lineread_free(&lr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_too_long_prefix),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_literal_fields),
	    cmocka_unit_test(test_literal_streaming),
	    cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
