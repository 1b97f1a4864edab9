/*
 * test_sieve_match.c - comparators, :is/:contains/:matches, match
 * variables, and patterns that would take exponential time in a
 * backtracking matcher.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sieve/sieve_int.h"

static bool m(enum sv_match mt, enum sv_cmp cmp, const char *v, const char *k)
{
	return sv_match_one(mt, cmp, v, strlen(v), k, strlen(k), NULL);
}

static void test_is_contains(void **state)
{
	(void)state;
	assert_true(m(SV_MATCH_IS, SV_CMP_CASEMAP, "Hello", "hELLO"));
	assert_false(m(SV_MATCH_IS, SV_CMP_OCTET, "Hello", "hello"));
	assert_false(m(SV_MATCH_IS, SV_CMP_CASEMAP, "Hello", "Hell"));
	assert_true(m(SV_MATCH_CONTAINS, SV_CMP_CASEMAP, "Hello", "LL"));
	assert_true(m(SV_MATCH_CONTAINS, SV_CMP_CASEMAP, "Hello", ""));
	assert_false(m(SV_MATCH_CONTAINS, SV_CMP_OCTET, "Hello", "LL"));
	assert_true(m(SV_MATCH_IS, SV_CMP_NUMERIC, "007", "7"));
	assert_true(m(SV_MATCH_IS, SV_CMP_NUMERIC, "12abc", "12"));
	assert_true(m(SV_MATCH_IS, SV_CMP_NUMERIC, "abc", "x"));
	assert_false(m(SV_MATCH_IS, SV_CMP_NUMERIC, "abc", "0"));
}

static void test_order(void **state)
{
	(void)state;
	assert_true(sv_cmp_order(SV_CMP_NUMERIC, "10", 2, "9", 1) > 0);
	assert_true(sv_cmp_order(SV_CMP_NUMERIC, "x", 1, "99999", 5) > 0);
	assert_true(sv_cmp_order(SV_CMP_CASEMAP, "abc", 3, "ABD", 3) < 0);
	assert_true(sv_cmp_order(SV_CMP_OCTET, "a", 1, "B", 1) > 0);
	assert_true(sv_cmp_order(SV_CMP_CASEMAP, "ab", 2, "abc", 3) < 0);
	assert_true(sv_cmp_rel(SV_REL_GE, 0));
	assert_false(sv_cmp_rel(SV_REL_NE, 0));
	assert_false(sv_cmp_valid_for_match(SV_CMP_NUMERIC, SV_MATCH_CONTAINS));
	assert_true(sv_cmp_valid_for_match(SV_CMP_NUMERIC, SV_MATCH_VALUE));
}

static void test_matches(void **state)
{
	(void)state;
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "", ""));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "", "*"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "", "**"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "", "?"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "abc", "a?c"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "ABC", "a*"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_OCTET, "ABC", "a*"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "a*c", "a\\*c"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "abc", "a\\*c"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "a?", "*\\?"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "a\\b", "a\\\\b"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "abcabc", "*bc"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "abcab", "*bc"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "aXbXc", "a*b*c"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "ab", "a*b*c"));
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "abab", "*ab*ab"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "aba", "*ab*ab"));
	/* '?' is one UTF-8 character, not one octet */
	assert_true(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "\xc3\xbc", "?"));
	assert_true(
	    m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "x\xe2\x98\xbay", "x?y"));
	assert_false(m(SV_MATCH_MATCHES, SV_CMP_CASEMAP, "\xc3\xbc", "??"));
}

static void caps_of(const char *v, const char *k, const char *expect)
{
	struct sv_caps caps;
	struct strbuf sb;

	strbuf_init(&sb);
	assert_true(sv_match_one(SV_MATCH_MATCHES, SV_CMP_CASEMAP, v, strlen(v),
				 k, strlen(k), &caps));
	for (unsigned i = 0; i < caps.n; i++) {
		strbuf_add(&sb, v + caps.off[i], caps.len[i]);
		strbuf_addc(&sb, '|');
	}
	assert_string_equal(sb.data, expect);
	strbuf_free(&sb);
}

static void test_captures(void **state)
{
	(void)state;
	caps_of("Foo <a@b@c>", "*<*@*", "Foo <a@b@c>|Foo |a|b@c>|");
	caps_of("abc", "???", "abc|a|b|c|");
	caps_of("abc", "*", "abc|abc|");
	caps_of("abcabc", "*b?", "abcabc|abca|c|");
	caps_of("xaYbZ", "x*Y?Z", "xaYbZ|a|b|");
	caps_of("aaa", "**", "aaa||aaa|");
	caps_of("[dev] Build", "[*] *", "[dev] Build|dev|Build|");
	caps_of("0123456789abc", "?????????????",
		"0123456789abc|0|1|2|3|4|5|6|7|8|");
}

static double elapsed(struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) +
	       (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* Backtracking matchers take exponential time on these. */
static void test_pathological(void **state)
{
	static const char *const pats[] = {
	    "*a*a*a*a*a*b",
	    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
	    "*?*?*?*?*?*?*?*?*?*?*?*?*b",
	    "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*",
	};
	size_t n = 100000;
	char *v = malloc(n + 1);
	struct timespec t0;

	(void)state;
	memset(v, 'a', n);
	v[n] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < 3; i++)
		assert_false(sv_match_one(SV_MATCH_MATCHES, SV_CMP_CASEMAP, v,
					  n, pats[i], strlen(pats[i]), NULL));
	assert_true(sv_match_one(SV_MATCH_MATCHES, SV_CMP_CASEMAP, v, n,
				 pats[3], strlen(pats[3]), NULL));
	assert_true(elapsed(&t0) < 2.0);
	free(v);
}

/* A long key or a long last segment must not cost len(value) * len(key). */
static void test_long_keys(void **state)
{
	size_t n = 2000000, k = 20000;
	char *v = malloc(n + 1), *key = malloc(k + 3);
	struct timespec t0;

	(void)state;
	memset(v, 'a', n);
	v[n] = '\0';
	memset(key, 'A', k);
	key[k] = 'b';
	key[k + 1] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(sv_match_one(SV_MATCH_CONTAINS, SV_CMP_CASEMAP, v, n, key,
				  k + 1, NULL));
	/* "*AAAA...Ab" and "*AAAA...Ab*" */
	memmove(key + 1, key, k + 1);
	key[0] = '*';
	assert_false(sv_match_one(SV_MATCH_MATCHES, SV_CMP_CASEMAP, v, n, key,
				  k + 2, NULL));
	key[k + 2] = '*';
	assert_false(sv_match_one(SV_MATCH_MATCHES, SV_CMP_CASEMAP, v, n, key,
				  k + 3, NULL));
	key[k + 1] = 'a';
	assert_true(sv_match_one(SV_MATCH_MATCHES, SV_CMP_CASEMAP, v, n, key,
				 k + 3, NULL));
	assert_true(elapsed(&t0) < 2.0);
	free(v);
	free(key);
}

static void test_pathological_script(void **state)
{
	struct sieve_script *s = NULL;
	struct sieve_result *res = NULL;
	struct sieve_msg msg = {0};
	struct strbuf raw, err;
	struct timespec t0;
	const char *script =
	    "if header :matches \"subject\" "
	    "\"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\" { discard; }";

	(void)state;
	strbuf_init(&raw);
	strbuf_init(&err);
	strbuf_adds(&raw, "Subject: ");
	for (int i = 0; i < 50000; i++)
		strbuf_addc(&raw, 'a');
	strbuf_adds(&raw, "\r\n\r\nbody\r\n");
	msg.raw = raw.data;
	msg.raw_len = raw.len;
	assert_int_equal(sieve_compile(script, strlen(script), NULL, &s, &err),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sieve_execute(s, &msg, &res, &err), 0);
	assert_true(elapsed(&t0) < 2.0);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->actions[0].type, SIEVE_ACT_KEEP);
	sieve_result_free(&res);
	sieve_script_free(&s);
	strbuf_free(&raw);
	strbuf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_contains),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_matches),
	    cmocka_unit_test(test_captures),
	    cmocka_unit_test(test_pathological),
	    cmocka_unit_test(test_long_keys),
	    cmocka_unit_test(test_pathological_script),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
