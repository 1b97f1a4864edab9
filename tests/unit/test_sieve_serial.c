/*
 * test_sieve_serial.c - the compiled form: round trips give the same
 * bytes and the same results; truncated or corrupted input is refused or,
 * when it still describes a valid tree, runs safely.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/sieve_helpers.h"

static const char *const scripts[] = {
    "",
    "keep;",
    "require [\"fileinto\", \"variables\", \"imap4flags\", \"copy\","
    " \"mailbox\", \"relational\", \"comparator-i;ascii-numeric\"];\n"
    "if header :matches \"subject\" \"*and*\" { set :upper \"x\" \"${1}\"; }"
    "if header :value \"ge\" :comparator \"i;ascii-numeric\" "
    "\"x-spam-score\" \"5\" { addflag \"Junk\"; }\n"
    "fileinto :copy :create :flags \"${x}\" \"Box\";\n",
    "require [\"vacation\", \"envelope\", \"subaddress\", \"index\", "
    "\"date\", \"body\"];\n"
    "if allof (envelope :detail \"to\" \"orig\", "
    "header :index 1 :last :contains \"received\" \"b.example\", "
    "date :zone \"+0200\" \"date\" \"hour\" \"11\", "
    "not body :raw :contains \"zzz\", size :over 10) {\n"
    "vacation :days 2 :subject \"s\" :addresses [\"a@b\"] \"r\";\n"
    "} elsif true { stop; } else { discard; }\n",
    "require [\"include\", \"variables\"]; global \"g\"; "
    "include :global :once :optional \"x\"; return;",
    "require [\"imapflags\", \"reject\"]; mark; unmark; reject \"no\";",
};

static void compile_or_fail(const char *text, struct sieve_script **s)
{
	struct strbuf err;

	strbuf_init(&err);
	if (sieve_compile(text, strlen(text), NULL, s, &err) != 0)
		fail_msg("compile: %s", err.data);
	strbuf_free(&err);
}

static char *run_script(const struct sieve_script *s)
{
	struct sieve_msg m;
	struct sieve_result *res = NULL;
	struct strbuf out, err;
	char *ret;

	sieve_test_msg_init(&m, NULL);
	strbuf_init(&out);
	strbuf_init(&err);
	if (sieve_execute(s, &m, &res, &err) < 0)
		strbuf_printf(&out, "ERROR %s", err.data);
	else
		sieve_result_format(res, &out);
	sieve_result_free(&res);
	strbuf_free(&err);
	ret = strbuf_steal(&out, NULL);
	strbuf_free(&out);
	return ret;
}

static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		struct sieve_script *s = NULL, *s2 = NULL;
		struct strbuf a, b;
		char *r1, *r2;

		strbuf_init(&a);
		strbuf_init(&b);
		compile_or_fail(scripts[i], &s);
		sieve_serialize(s, &a);
		assert_int_equal(sieve_deserialize(a.data, a.len, &s2), 0);
		sieve_serialize(s2, &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		r1 = run_script(s);
		r2 = run_script(s2);
		assert_string_equal(r1, r2);
		free(r1);
		free(r2);
		sieve_script_free(&s);
		sieve_script_free(&s2);
		assert_null(s);
		strbuf_free(&a);
		strbuf_free(&b);
	}
}

static void test_corrupt(void **state)
{
	struct sieve_script *s = NULL, *s2 = NULL;
	struct strbuf a;
	char *copy;

	(void)state;
	strbuf_init(&a);
	compile_or_fail(scripts[3], &s);
	sieve_serialize(s, &a);
	/* every truncation is refused */
	for (size_t n = 0; n < a.len; n++) {
		assert_int_equal(sieve_deserialize(a.data, n, &s2), -1);
		assert_null(s2);
	}
	/* trailing garbage is refused */
	strbuf_addc(&a, 'x');
	assert_int_equal(sieve_deserialize(a.data, a.len, &s2), -1);
	strbuf_truncate(&a, a.len - 1);
	/* any single corrupted byte: refused, or still a valid tree that
	 * runs (ASan watches) */
	copy = malloc(a.len);
	for (size_t i = 0; i < a.len; i++) {
		static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};

		for (size_t v = 0; v < sizeof(vals); v++) {
			memcpy(copy, a.data, a.len);
			copy[i] = (char)vals[v];
			if (sieve_deserialize(copy, a.len, &s2) == 0) {
				free(run_script(s2));
				sieve_script_free(&s2);
			}
		}
	}
	free(copy);
	assert_int_equal(sieve_deserialize("RSV2\0\0\0\0\0\0\0\0", 12, &s2),
			 -1);
	assert_int_equal(sieve_deserialize("", 0, &s2), -1);
	sieve_script_free(&s);
	strbuf_free(&a);
}

/* Run-time limits given at compile time survive serialisation. */
static void test_limits_kept(void **state)
{
	const char *text = "redirect \"a@x\"; redirect \"b@x\";";
	struct sieve_limits lim;
	struct sieve_script *s = NULL, *s2 = NULL;
	struct strbuf a;
	char *r;

	(void)state;
	sieve_limits_default(&lim);
	lim.max_redirects = 1;
	strbuf_init(&a);
	assert_int_equal(sieve_compile(text, strlen(text), &lim, &s, NULL), 0);
	sieve_serialize(s, &a);
	assert_int_equal(sieve_deserialize(a.data, a.len, &s2), 0);
	r = run_script(s2);
	assert_string_equal(r, "ERROR line 1: too many redirects (limit 1)\n");
	free(r);
	sieve_script_free(&s);
	sieve_script_free(&s2);
	strbuf_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_limits_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
