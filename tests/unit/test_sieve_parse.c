/*
 * test_sieve_parse.c - the lexer and parser: tokens, strings, numbers,
 * comments, every prefix of real scripts, limits, hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sieve/sieve_int.h"
#include "tests/unit/sieve_helpers.h"

static const char *const scripts[] = {
    "require [\"fileinto\", \"variables\", \"imap4flags\"];\r\n"
    "# comment\r\n"
    "if header :matches \"subject\" \"*[dev]*\" {\r\n"
    "  set \"s\" \"${1}\"; /* block\r\n comment */\r\n"
    "  fileinto :flags [\"\\\\Seen\"] \"Lists\";\r\n"
    "} elsif anyof (size :over 10K, exists \"x\") { discard; }\r\n"
    "else { keep; }\r\n",
    "require \"vacation\";\n"
    "vacation :days 3 :subject \"away\" text:  # trailing\n"
    "Line one\n"
    "..dot-stuffed\n"
    ".\n"
    ";\n",
};

static void lex_all(const char *text, enum sv_tok_type *types, size_t max,
		    size_t *n_r)
{
	struct sv_errs errs = {0};
	struct sv_lexer lx;
	struct sv_token tok;

	sv_lex_init(&lx, text, strlen(text), &errs);
	*n_r = 0;
	for (;;) {
		enum sv_tok_type type;

		sv_lex_next(&lx, &tok);
		type = tok.type;
		if (*n_r < max)
			types[(*n_r)++] = type;
		sv_token_clear(&tok);
		if (type == SV_T_EOF || type == SV_T_ERROR)
			break;
	}
}

static void test_tokens(void **state)
{
	enum sv_tok_type t[32];
	size_t n;
	struct sv_errs errs = {0};
	struct sv_lexer lx;
	struct sv_token tok;

	(void)state;
	lex_all("if :Is \"a\\\"b\" 10K [ ] ( ) { } , ;", t, 32, &n);
	assert_int_equal(n, 13);
	assert_int_equal(t[0], SV_T_IDENT);
	assert_int_equal(t[1], SV_T_TAG);
	assert_int_equal(t[2], SV_T_STRING);
	assert_int_equal(t[3], SV_T_NUMBER);
	assert_int_equal(t[12], SV_T_EOF);

	const char *text = "\"a\\\"b\\\\c\\d\" 2M :Over TEXT:\r\nx\r\n.\r\n";

	sv_lex_init(&lx, text, strlen(text), &errs);
	sv_lex_next(&lx, &tok);
	assert_string_equal(tok.s, "a\"b\\cd");
	sv_token_clear(&tok);
	sv_lex_next(&lx, &tok);
	assert_int_equal(tok.num, 2 * 1024 * 1024);
	sv_lex_next(&lx, &tok);
	assert_string_equal(tok.s, "over");
	sv_token_clear(&tok);
	sv_lex_next(&lx, &tok);
	assert_int_equal(tok.type, SV_T_STRING);
	assert_string_equal(tok.s, "x\r\n");
	assert_int_equal(tok.line, 1);
	sv_token_clear(&tok);
	sv_lex_next(&lx, &tok);
	assert_int_equal(tok.type, SV_T_EOF);
	assert_int_equal(tok.line, 4);
	assert_int_equal(errs.count, 0);
}

static void test_multiline(void **state)
{
	(void)state;
	assert_sieve("require \"fileinto\"; fileinto text:\n"
		     "..a\n"
		     "b\n"
		     ".\n;",
		     "fileinto \".a\\nb\\n\"\n");
}

static void expect_error(const char *text, const char *err)
{
	struct sieve_script *s = NULL;
	struct strbuf sb;

	strbuf_init(&sb);
	assert_int_equal(sieve_compile(text, strlen(text), NULL, &s, &sb), -1);
	assert_null(s);
	assert_string_equal(sb.data, err);
	strbuf_free(&sb);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("keep", "line 1: expected ';' or '{' but found end of "
			     "script\n");
	expect_error("\n\n\"x\";", "line 3: expected command but found "
				   "string\n");
	expect_error("if true {\n keep;\n", "line 3: expected '}' but found "
					    "end of script\n");
	expect_error("keep;\n/* open", "line 2: unterminated comment\n");
	expect_error("redirect \"abc", "line 1: unterminated string\n");
	expect_error("require \"x\" text:\nabc\n",
		     "line 1: unterminated multi-line string\n");
	expect_error("if size :over 99999999999999999999 {}",
		     "line 1: number too large\n");
	expect_error("keep;\nredirect \"\xff\";",
		     "line 2: invalid UTF-8 in string\n");
	expect_error("keep;\x01", "line 1: unexpected byte 0x01\n");
	expect_error("keep; @", "line 1: unexpected character '@'\n");
	expect_error("if anyof (true false) {}",
		     "line 1: true takes no test\n");
	expect_error("if anyof (true, ) {}",
		     "line 1: expected test but found ')'\n");
	expect_error("keep [\"a\" \"b\"];",
		     "line 1: expected ',' or ']' but found string\n");
	expect_error("keep :;", "line 1: bad tagged argument\n");
}

/* Every prefix of a valid script compiles or fails with a line number. */
static void test_every_prefix(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(scripts) / sizeof(scripts[0]); k++) {
		size_t len = strlen(scripts[k]);

		for (size_t i = 0; i <= len; i++) {
			struct sieve_script *s = NULL;
			struct strbuf err;
			int r;

			strbuf_init(&err);
			r = sieve_compile(scripts[k], i, NULL, &s, &err);
			if (r == 0) {
				assert_non_null(s);
				assert_int_equal(err.len, 0);
			} else {
				assert_null(s);
				assert_true(strncmp(err.data, "line ", 5) == 0);
			}
			if (i == len)
				assert_int_equal(r, 0);
			sieve_script_free(&s);
			strbuf_free(&err);
		}
	}
}

static void test_limits(void **state)
{
	struct sieve_limits lim;
	struct sieve_script *s = NULL;
	struct strbuf sb, err;

	(void)state;
	sieve_limits_default(&lim);
	strbuf_init(&sb);
	strbuf_init(&err);
	for (int i = 0; i < 40; i++)
		strbuf_adds(&sb, "if true {");
	for (int i = 0; i < 40; i++)
		strbuf_adds(&sb, "}");
	assert_int_equal(sieve_compile(sb.data, sb.len, &lim, &s, &err), -1);
	assert_string_equal(err.data, "line 1: nesting too deep (limit 32)\n");

	strbuf_reset(&sb);
	strbuf_reset(&err);
	strbuf_adds(&sb, "if ");
	for (int i = 0; i < 100000; i++)
		strbuf_adds(&sb, "not ");
	strbuf_adds(&sb, "true {}");
	lim.max_script_size = 1 << 20;
	assert_int_equal(sieve_compile(sb.data, sb.len, &lim, &s, &err), -1);
	assert_string_equal(err.data, "line 1: nesting too deep (limit 32)\n");

	strbuf_reset(&err);
	lim.max_script_size = 100;
	assert_int_equal(sieve_compile(sb.data, sb.len, &lim, &s, &err), -1);
	assert_true(strstr(err.data, "script too large") != NULL);
	assert_null(s);
	strbuf_free(&sb);
	strbuf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_multiline),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
