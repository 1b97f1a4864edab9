/*
 * test_utf8.c - lib/utf8.c: decoding (invalid, overlong, surrogate,
 * truncated sequences), encoding, validity, and case folding (ASCII,
 * Latin-1, Latin Extended-A, Greek with final sigma, Cyrillic, sharp s
 * to "ss", full-width forms), fed whole and split at every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"
#include "utf8.h"

static char *fold(const char *s)
{
	struct strbuf b;

	strbuf_init(&b);
	utf8_casefold(s, strlen(s), &b);
	return strbuf_steal(&b, NULL);
}

#define FOLD(in, want)                                                         \
	do {                                                                   \
		char *got_ = fold(in);                                         \
		assert_string_equal(got_, want);                               \
		free(got_);                                                    \
	} while (0)

static void test_decode(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode("\xc3\xa4", 2, &cp), 2);
	assert_int_equal(cp, 0xe4);
	assert_int_equal(utf8_decode("\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	/* truncated, overlong, surrogate, stray continuation, past U+10FFFF */
	assert_int_equal(utf8_decode("\xc3", 1, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode("\xc0\xaf", 2, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode("\xe0\x80\xaf", 3, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode("\xed\xa0\x80", 3, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode("\x80", 1, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode("\xf4\x90\x80\x80", 4, &cp), 1);
	assert_int_equal(cp, UTF8_REPLACEMENT);
	assert_int_equal(utf8_decode("\xe2\x28\xa1", 3, &cp), 1);
}

static void test_encode_valid(void **state)
{
	static const uint32_t cps[] = {0, 'a', 0x7f, 0x80, 0x7ff, 0x800,
				       0xffff, 0x10000, 0x10ffff};
	struct strbuf b;

	(void)state;
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		uint32_t cp;

		strbuf_init(&b);
		utf8_encode(&b, cps[i]);
		assert_int_equal(utf8_decode(b.data, b.len, &cp), b.len);
		assert_int_equal(cp, cps[i]);
		assert_true(utf8_valid(b.data, b.len));
		strbuf_free(&b);
	}
	strbuf_init(&b);
	utf8_encode(&b, 0xd800);
	utf8_encode(&b, 0x110000);
	assert_string_equal(b.data, "\xef\xbf\xbd\xef\xbf\xbd");
	strbuf_free(&b);
	assert_true(utf8_valid("Stra\xc3\x9f" "e", 7));
	assert_false(utf8_valid("Stra\xdf" "e", 6));
	assert_false(utf8_valid("\xc3", 1));
	assert_true(utf8_valid("", 0));
}

static void test_fold(void **state)
{
	(void)state;
	FOLD("Hello, WORLD 123", "hello, world 123");
	/* Latin-1 Supplement: ÄÖÜ äöü, ÀÉÎÕÛ, Ø, Þ; × and ÷ stay */
	FOLD("\xc3\x84\xc3\x96\xc3\x9c", "\xc3\xa4\xc3\xb6\xc3\xbc");
	FOLD("\xc3\xa4\xc3\xb6\xc3\xbc", "\xc3\xa4\xc3\xb6\xc3\xbc");
	FOLD("\xc3\x98\xc3\x9e\xc3\x97", "\xc3\xb8\xc3\xbe\xc3\x97");
	/* sharp s: full folding to "ss" (U+00DF, U+1E9E) */
	FOLD("Stra\xc3\x9f" "e", "strasse");
	FOLD("STRASSE", "strasse");
	FOLD("\xe1\xba\x9e", "ss");
	/* Latin Extended-A: Ł ł, Ž ž, Ÿ -> ÿ, ſ -> s */
	FOLD("\xc5\x81\xc5\xbd\xc5\xb8\xc5\xbf", "\xc5\x82\xc5\xbe\xc3\xbfs");
	/* Greek: ΚΌΣΜΟΣ -> κόσμοσ, final sigma folds to sigma */
	FOLD("\xce\x9a\xce\x8c\xce\xa3\xce\x9c\xce\x9f\xce\xa3",
	     "\xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xbf\xcf\x83");
	FOLD("\xcf\x82", "\xcf\x83");
	/* Cyrillic: ПРИВЕТ МИР, Ё -> ё */
	FOLD("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x81",
	     "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd1\x91");
	/* full-width A, micro sign, Kelvin sign */
	FOLD("\xef\xbc\xa1\xc2\xb5\xe2\x84\xaa", "\xef\xbd\x81\xce\xbck");
	/* invalid bytes become U+FFFD; NUL is kept */
	FOLD("a\xffZ", "a\xef\xbf\xbdz");
	{
		struct strbuf b;

		strbuf_init(&b);
		utf8_casefold("A\0B", 3, &b);
		assert_int_equal(b.len, 3);
		assert_memory_equal(b.data, "a\0b", 3);
		strbuf_free(&b);
	}
}

static void test_fold_chars(void **state)
{
	(void)state;
	assert_int_equal(utf8_fold_char('A'), 'a');
	assert_int_equal(utf8_fold_char('a'), 'a');
	assert_int_equal(utf8_fold_char(0x0130), 0x0130); /* no simple fold */
	assert_int_equal(utf8_fold_char(0x0100), 0x0101);
	assert_int_equal(utf8_fold_char(0x0101), 0x0101);
	assert_int_equal(utf8_fold_char(0x0139), 0x013a);
	assert_int_equal(utf8_fold_char(0x0391), 0x03b1);
	assert_int_equal(utf8_fold_char(0x03a2), 0x03a2); /* unassigned */
	assert_int_equal(utf8_fold_char(0x0400), 0x0450);
	assert_int_equal(utf8_fold_char(0x042f), 0x044f);
	assert_int_equal(utf8_fold_char(0x0460), 0x0461);
	assert_int_equal(utf8_fold_char(0x04c1), 0x04c2);
	assert_int_equal(utf8_fold_char(0x0531), 0x0561);
	assert_int_equal(utf8_fold_char(0x1e00), 0x1e01);
	assert_int_equal(utf8_fold_char(0x10400), 0x10428);
	assert_int_equal(utf8_fold_char(0x4e2d), 0x4e2d);
	/* folding is idempotent over the whole BMP */
	for (uint32_t cp = 0; cp < 0x10000; cp++)
		assert_int_equal(utf8_fold_char(utf8_fold_char(cp)),
				 utf8_fold_char(cp));
}

/* Folding a string split anywhere equals folding it whole, when the
 * split falls between characters (the caller's contract). */
static void test_fold_concat(void **state)
{
	const char *s = "Gr\xc3\xbc\xc3\x9f" "e \xce\xa3\xd0\x96 STRASSE";
	size_t len = strlen(s);
	char *whole = fold(s);

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct strbuf b;

		if (cut < len && ((unsigned char)s[cut] & 0xc0) == 0x80)
			continue;
		strbuf_init(&b);
		utf8_casefold(s, cut, &b);
		utf8_casefold(s + cut, len - cut, &b);
		assert_string_equal(b.data, whole);
		strbuf_free(&b);
	}
	free(whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_encode_valid),
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_fold_chars),
	    cmocka_unit_test(test_fold_concat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
