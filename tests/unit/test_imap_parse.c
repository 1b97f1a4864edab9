/*
 * test_imap_parse.c - the IMAP command parser (store/imap_parse.c), fed
 * whole, byte by byte and in odd chunks; literals, quoted escapes,
 * nested lists, sequence sets, limits and garbage; modified UTF-7.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"
#include "store/imap.h"

/* Feeds in in pieces of step bytes (0: whole); returns the last result. */
static int feed(struct imap_parser *p, const char *in, size_t len, size_t step,
		int *cont_seen)
{
	size_t at = 0;
	int r = IMAP_PARSE_MORE;

	while (at < len) {
		size_t n = step == 0 || len - at < step ? len - at : step;
		size_t used = 0;

		r = imap_parser_feed(p, in + at, n, &used);
		assert_true(used <= n);
		at += used;
		if (cont_seen != NULL && imap_parser_wants_continuation(p))
			*cont_seen = 1;
		if (r != IMAP_PARSE_MORE)
			return at == len ? r : r;
		assert_int_equal(used, n);
	}
	return r;
}

static struct imap_parser *parse_ok(const char *in, size_t step)
{
	struct imap_parser *p = imap_parser_new(NULL);

	assert_int_equal(feed(p, in, strlen(in), step, NULL), IMAP_PARSE_DONE);
	assert_non_null(imap_parser_command(p));
	return p;
}

static void all_steps(void (*check)(const struct imap_command *c),
		      const char *in)
{
	size_t steps[] = {0, 1, 2, 3, 7};

	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		struct imap_parser *p = parse_ok(in, steps[i]);

		check(imap_parser_command(p));
		imap_parser_free(&p);
	}
}

static void check_login(const struct imap_command *c)
{
	assert_string_equal(c->tag, "a1");
	assert_string_equal(c->name, "LOGIN");
	assert_int_equal(c->nargs, 2);
	assert_int_equal(c->args[0].type, IMAP_ARG_ATOM);
	assert_string_equal(c->args[0].str, "alice@example.com");
	assert_int_equal(c->args[1].type, IMAP_ARG_QUOTED);
	assert_string_equal(c->args[1].str, "p\"w\\d");
}

static void test_simple(void **state)
{
	(void)state;
	all_steps(check_login,
		  "a1 login alice@example.com \"p\\\"w\\\\d\"\r\n");
}

static void check_literal(const struct imap_command *c)
{
	assert_string_equal(c->name, "LOGIN");
	assert_int_equal(c->nargs, 2);
	assert_int_equal(c->args[0].type, IMAP_ARG_LITERAL);
	assert_int_equal(c->args[0].len, 5);
	assert_memory_equal(c->args[0].str, "al\r\nx", 5);
	assert_int_equal(c->args[1].type, IMAP_ARG_LITERAL);
	assert_string_equal(c->args[1].str, "pw");
}

static void test_literals(void **state)
{
	int cont = 0;
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "a1 LOGIN {5}\r\nal\r\nx {2+}\r\npw\r\n";

	(void)state;
	all_steps(check_literal, in);
	assert_int_equal(feed(p, in, strlen(in), 1, &cont), IMAP_PARSE_DONE);
	assert_true(cont);
	imap_parser_free(&p);
}

static void check_lists(const struct imap_command *c)
{
	const struct imap_arg *a;

	assert_string_equal(c->name, "FETCH");
	assert_int_equal(c->uid, 1);
	assert_int_equal(c->nargs, 2);
	assert_string_equal(c->args[0].str, "1:*");
	a = &c->args[1];
	assert_int_equal(a->type, IMAP_ARG_LIST);
	assert_int_equal(a->count, 4);
	assert_string_equal(a->list[0].str, "FLAGS");
	assert_string_equal(a->list[1].str,
			    "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>");
	assert_int_equal(a->list[2].type, IMAP_ARG_LIST);
	assert_int_equal(a->list[2].count, 2);
	assert_int_equal(a->list[2].list[0].type, IMAP_ARG_NIL);
	assert_int_equal(a->list[2].list[1].type, IMAP_ARG_LIST);
	assert_int_equal(a->list[2].list[1].count, 0);
	assert_int_equal(a->list[3].type, IMAP_ARG_QUOTED);
	assert_string_equal(a->list[3].str, "");
}

static void test_lists(void **state)
{
	(void)state;
	all_steps(check_lists, "x UID fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS "
			       "(FROM TO)]<0.100> (NIL ()) \"\")\r\n");
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
	    "\r\n",
	    "a1\r\n",
	    "a1 LOGIN \"open\r\n",
	    "a1 LOGIN (a (b)\r\n",
	    "a1 LOGIN a)\r\n",
	    "a1 LOGIN \"bad\\escape\"\r\n",
	    "a1  NOOP\r\n",
	    "a1 NOOP \r\n",
	    "* NOOP\r\n",
	    "a+ NOOP\r\n",
	    "a1 LOGIN a{5}\r\nhello\r\n",
	    "a1 LOGIN {3} x\r\n",
	    "a1 NO\x01OP\r\n",
	    "a1 UID\r\n",
	    "a1 SELECT ab\"c\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		for (size_t step = 0; step <= 1; step++) {
			struct imap_parser *p = imap_parser_new(NULL);
			int r = feed(p, bad[i], strlen(bad[i]), step, NULL);

			if (r != IMAP_PARSE_ERROR)
				fail_msg("accepted: %s", bad[i]);
			assert_non_null(imap_parser_error(p));
			imap_parser_free(&p);
		}
	}
}

static void test_error_then_next(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "a1 NOOP (\r\na2 NOOP\r\n";
	size_t used = 0, at = 0;
	int r;

	(void)state;
	r = imap_parser_feed(p, in, strlen(in), &used);
	assert_int_equal(r, IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_tag(p), "a1");
	at = used;
	imap_parser_reset(p);
	r = imap_parser_feed(p, in + at, strlen(in) - at, &used);
	assert_int_equal(r, IMAP_PARSE_DONE);
	assert_string_equal(imap_parser_command(p)->tag, "a2");
	imap_parser_free(&p);
}

static void test_limits(void **state)
{
	struct imap_parser_params prm = {
	    .max_line = 64, .max_literal = 10, .max_args = 6, .max_depth = 3};
	struct imap_parser *p;
	char big[200];
	int r;

	(void)state;
	p = imap_parser_new(&prm);
	memset(big, 'x', sizeof(big));
	memcpy(big, "a1 NOOP ", 8);
	memcpy(big + sizeof(big) - 2, "\r\n", 2);
	r = feed(p, big, sizeof(big), 1, NULL);
	assert_int_equal(r, IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	r = feed(p, "a1 X {11}\r\n", 11, 0, NULL);
	assert_int_equal(r, IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	r = feed(p, "a1 X 1 2 3 4 5 6\r\n", 18, 0, NULL);
	assert_int_equal(r, IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	r = feed(p, "a1 X ((((1))))\r\n", 16, 0, NULL);
	assert_int_equal(r, IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	r = feed(p, "a1 X (((1)))\r\n", 14, 0, NULL);
	assert_int_equal(r, IMAP_PARSE_DONE);
	imap_parser_reset(p);
	r = feed(p, "a1 X {99999999999999999999999}\r\n", 32, 0, NULL);
	assert_int_equal(r, IMAP_PARSE_ERROR);
	imap_parser_free(&p);
}

static void test_line_interface(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_literal_info li;
	const struct imap_command *c;
	static const char line1[] = "A003 APPEND saved-messages (\\Seen) {310}";

	(void)state;
	assert_int_equal(imap_parser_line(p, line1, strlen(line1), &li),
			 IMAP_PARSE_MORE);
	assert_true(li.pending);
	assert_false(li.nonsync);
	assert_int_equal(li.size, 310);
	assert_false(li.first_arg);
	assert_string_equal(imap_parser_name(p), "APPEND");
	imap_parser_literal_spool(p, NULL, 310);
	assert_int_equal(imap_parser_line(p, "", 0, &li), IMAP_PARSE_DONE);
	c = imap_parser_command(p);
	assert_int_equal(c->nargs, 3);
	assert_int_equal(c->args[2].type, IMAP_ARG_SPOOL);
	assert_int_equal(c->args[2].spool_size, 310);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_line(p, "b APPEND {5+}", 13, &li),
			 IMAP_PARSE_MORE);
	assert_true(li.first_arg);
	assert_true(li.nonsync);
	imap_parser_free(&p);
}

static void test_seqset(void **state)
{
	struct imap_seqset set;
	const char *err;
	static const char *const bad[] = {"",	  "0",	 "1:",	":1",
					  "1,",	  "a",	 "1:0", "4294967296",
					  "1,,2", "$,1", "1 2", "-1"};

	(void)state;
	assert_int_equal(imap_seqset_parse("1:3,7,10:*,*", &set, &err), 0);
	assert_int_equal(set.n, 4);
	assert_true(imap_seqset_contains(&set, 2, 20));
	assert_false(imap_seqset_contains(&set, 5, 20));
	assert_true(imap_seqset_contains(&set, 15, 20));
	assert_true(imap_seqset_contains(&set, 20, 20));
	assert_false(imap_seqset_contains(&set, 21, 20));
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse("5:2", &set, &err), 0);
	assert_int_equal(set.r[0].lo, 2);
	assert_int_equal(set.r[0].hi, 5);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse("$", &set, &err), 0);
	assert_true(set.saved);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse("4294967295", &set, &err), 0);
	imap_seqset_free(&set);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (imap_seqset_parse(bad[i], &set, &err) == 0)
			fail_msg("accepted seqset '%s'", bad[i]);
	}
}

/* The membership of a long set (sorted, merged, binary search) against
 * a look at every range, for random sets with "*", overlaps, adjacent
 * ranges and the ends of the number space, and for several stars. */
static int contains_slow(const struct imap_seqset *set, uint32_t v,
			 uint32_t star)
{
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo, hi = set->r[i].hi;

		lo = lo == IMAP_SEQ_STAR ? star : lo;
		hi = hi == IMAP_SEQ_STAR ? star : hi;
		if (v >= (lo < hi ? lo : hi) && v <= (lo < hi ? hi : lo))
			return 1;
	}
	return 0;
}

static void test_seqset_long(void **state)
{
	static const uint32_t stars[] = {1, 50, 77, 4294967295u};
	unsigned seed = 7;
	struct strbuf b;

	(void)state;
	strbuf_init(&b);
	for (int round = 0; round < 200; round++) {
		struct imap_seqset set;
		const char *err;
		int nr = 9 + (int)(rand_r(&seed) % 40);

		strbuf_reset(&b);
		for (int i = 0; i < nr; i++) {
			unsigned x = (unsigned)rand_r(&seed);
			uint32_t lo = 1 + x % 100, hi = lo + (x >> 8) % 6;

			if (x % 17 == 0)
				strbuf_printf(&b, "%s*", i ? "," : "");
			else if (x % 13 == 0)
				strbuf_printf(&b, "%s%u:*", i ? "," : "", lo);
			else if (x % 29 == 0)
				strbuf_printf(&b, "%s4294967290:4294967295",
					       i ? "," : "");
			else
				strbuf_printf(&b, "%s%u:%u", i ? "," : "",
					       hi, lo);
		}
		assert_int_equal(imap_seqset_parse(b.data, &set, &err), 0);
		for (size_t k = 0; k < sizeof(stars) / sizeof(*stars); k++) {
			for (uint32_t v = 0; v < 130; v++)
				if (imap_seqset_contains(&set, v, stars[k]) !=
				    contains_slow(&set, v, stars[k]))
					fail_msg("%s: %u with * = %u", b.data,
						 v, stars[k]);
			for (uint32_t v = 4294967285u; v != 0; v++)
				if (imap_seqset_contains(&set, v, stars[k]) !=
				    contains_slow(&set, v, stars[k]))
					fail_msg("%s: %u with * = %u", b.data,
						 v, stars[k]);
		}
		imap_seqset_free(&set);
	}
	strbuf_free(&b);
}

static void test_seqset_write(void **state)
{
	uint32_t v[] = {1, 2, 3, 5, 7, 8};
	struct strbuf b;

	(void)state;
	strbuf_init(&b);
	imap_seqset_write(&b, v, 6);
	assert_string_equal(b.data, "1:3,5,7:8");
	strbuf_free(&b);
}

static void utf7_round(const char *utf8, const char *utf7)
{
	struct strbuf b;

	strbuf_init(&b);
	assert_int_equal(imap_utf8_to_utf7(utf8, &b), 0);
	assert_string_equal(b.data, utf7);
	strbuf_reset(&b);
	assert_int_equal(imap_utf7_to_utf8(utf7, &b), 0);
	assert_string_equal(b.data, utf8);
	strbuf_free(&b);
}

static void test_utf7(void **state)
{
	static const char *const bad[] = {
	    "&",    "&Jjo",  "&AGE-", "&Jjo-&ZeVnLIqe-", "\xc3\xa9", "&2D3-",
	    "&Jj-", "a\x01", "&AAA-"};
	struct strbuf b;

	(void)state;
	utf7_round("INBOX", "INBOX");
	utf7_round("a&b", "a&-b");
	utf7_round("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		   "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		   "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	utf7_round("Entw\xc3\xbc"
		   "rfe",
		   "Entw&APw-rfe");
	utf7_round("\xf0\x9f\x93\xa7", "&2D3c5w-");
	strbuf_init(&b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		strbuf_reset(&b);
		if (imap_utf7_to_utf8(bad[i], &b) == 0)
			fail_msg("accepted UTF-7 '%s'", bad[i]);
	}
	strbuf_reset(&b);
	assert_int_equal(imap_utf8_to_utf7("\xff", &b), -1);
	strbuf_free(&b);
}

/* Random bytes with IMAP-ish punctuation: never a crash, always a
 * well-formed result, and the parser recovers for the next command. */
static void test_garbage(void **state)
{
	static const char alphabet[] =
	    "a1 ()[]{}<>\"\\*%$+~:,.\r\nNIL0\x01\x80";
	struct imap_parser_params prm = {.max_line = 128, .max_literal = 64};
	struct imap_parser *p = imap_parser_new(&prm);
	unsigned seed = 12345;
	char buf[512];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = 0, at = 0;

		seed = seed * 1103515245 + 12345;
		len = (seed >> 16) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] =
			    alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		while (at < len) {
			size_t used = 0;
			int r = imap_parser_feed(p, buf + at, len - at, &used);

			at += used;
			if (r == IMAP_PARSE_DONE) {
				const struct imap_command *c =
				    imap_parser_command(p);

				assert_non_null(c);
				assert_true(c->tag[0] != '\0');
				imap_parser_reset(p);
			} else if (r == IMAP_PARSE_ERROR) {
				assert_non_null(imap_parser_error(p));
				imap_parser_reset(p);
			} else {
				assert_int_equal(at, len);
			}
		}
	}
	/* the reader is at a clean state after a fresh line */
	imap_parser_free(&p);
	p = imap_parser_new(NULL);
	assert_int_equal(feed(p, "z NOOP\r\n", 8, 1, NULL), IMAP_PARSE_DONE);
	imap_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_error_then_next),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_line_interface),
	    cmocka_unit_test(test_seqset),
	    cmocka_unit_test(test_seqset_long),
	    cmocka_unit_test(test_seqset_write),
	    cmocka_unit_test(test_utf7),
	    cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
