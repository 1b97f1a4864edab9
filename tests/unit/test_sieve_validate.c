/*
 * test_sieve_validate.c - the validator's error messages (what ManageSieve
 * CHECKSCRIPT/PUTSCRIPT return) with their line numbers, and the scripts
 * it must accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sieve/sieve.h"

static void expect(const char *text, const char *err)
{
	struct sieve_script *s = NULL;
	struct strbuf sb;
	int r;

	strbuf_init(&sb);
	r = sieve_compile(text, strlen(text), NULL, &s, &sb);
	if (err == NULL) {
		if (r != 0)
			fail_msg("unexpected errors for <%s>: %s", text,
				 sb.data);
		assert_non_null(s);
	} else {
		assert_int_equal(r, -1);
		assert_null(s);
		assert_string_equal(sb.data, err);
	}
	sieve_script_free(&s);
	strbuf_free(&sb);
}

static void test_unknown(void **state)
{
	(void)state;
	expect("keep;\n\nif foo { keep; }", "line 3: unknown test \"foo\"\n");
	expect("\nbar;", "line 2: unknown command \"bar\"\n");
	expect("if keep { }", "line 1: unknown test \"keep\"\n");
	expect("true;", "line 1: unknown command \"true\"\n");
	expect("require \"foo\";",
	       "line 1: unknown extension \"foo\" in require\n");
	expect("require [\"fileinto\", \"vacation-seconds\"];",
	       "line 1: unknown extension \"vacation-seconds\" in require\n");
	expect("require \"comparator-i;unicode-casemap\";",
	       "line 1: unknown extension \"comparator-i;unicode-casemap\" "
	       "in require\n");
	expect("keep :foo;", "line 1: unknown tagged argument :foo for keep\n");
}

static void test_missing_require(void **state)
{
	(void)state;
	expect("keep;\nfileinto \"x\";",
	       "line 2: unknown command \"fileinto\" (missing require "
	       "\"fileinto\")\n");
	expect("if envelope \"to\" \"x\" {}",
	       "line 1: unknown test \"envelope\" (missing require "
	       "\"envelope\")\n");
	expect("require \"fileinto\"; fileinto :copy \"x\";",
	       "line 1: unknown tagged argument :copy for fileinto\n");
	expect("if header :comparator \"i;ascii-numeric\" \"x\" \"1\" {}",
	       "line 1: unknown comparator \"i;ascii-numeric\"\n");
	expect("if header :value \"gt\" \"x\" \"1\" {}",
	       "line 1: unknown tagged argument :value for header\n");
	expect("if address :user \"to\" \"x\" {}",
	       "line 1: unknown tagged argument :user for address\n");
	expect("require \"fileinto\"; fileinto :create \"x\";",
	       "line 1: unknown tagged argument :create for fileinto\n");
	expect("require \"vacation\"; vacation :seconds 10 \"x\";",
	       "line 1: unknown tagged argument :seconds for vacation\n");
}

static void test_arguments(void **state)
{
	(void)state;
	expect("redirect;",
	       "line 1: redirect: expected 1 positional argument, found 0\n");
	expect("redirect [\"a\", \"b\"];",
	       "line 1: redirect: argument 1 must be a string\n");
	expect("if header \"a\" {}",
	       "line 1: header: expected 2 positional arguments, found 1\n");
	expect("if size 10 {}", "line 1: size needs :over or :under\n");
	expect("if size :over \"10\" {}",
	       "line 1: size: argument 1 must be a number\n");
	expect("if size :over :under 1 {}",
	       "line 1: only one of :over and :under\n");
	expect("if header :is :contains \"a\" \"b\" {}",
	       "line 1: only one match type may be given\n");
	expect("if header :comparator \"i;octet\" :comparator \"i;octet\" "
	       "\"a\" \"b\" {}",
	       "line 1: only one comparator may be given\n");
	expect("if address :all :domain \"a\" \"b\" {}",
	       "line 1: only one address part may be given\n");
	expect("if header :comparator \"x\" \"a\" \"b\" {}",
	       "line 1: unknown comparator \"x\"\n");
	expect("require [\"relational\"]; if header :value \"xx\" \"a\" \"b\" "
	       "{}",
	       "line 1: unknown relational operator \"xx\"\n");
	expect("if header :comparator {}",
	       "line 1: :comparator needs a string argument\n");
	expect("require \"comparator-i;ascii-numeric\";"
	       "if header :contains :comparator \"i;ascii-numeric\" \"a\" "
	       "\"1\" {}",
	       "line 1: comparator i;ascii-numeric does not support this "
	       "match type\n");
	expect("require \"index\"; if header :last \"a\" \"b\" {}",
	       "line 1: :last requires :index\n");
	expect("require \"index\"; if header :index 0 \"a\" \"b\" {}",
	       "line 1: :index needs a number >= 1\n");
	expect("require \"date\"; if date \"date\" \"century\" \"x\" {}",
	       "line 1: unknown date part \"century\"\n");
	expect("require \"date\"; if date :zone \"CET\" \"date\" \"year\" "
	       "\"x\" {}",
	       "line 1: invalid :zone \"CET\"\n");
	expect("require \"date\"; if date :zone \"+0100\" :originalzone "
	       "\"date\" \"year\" \"x\" {}",
	       "line 1: :zone and :originalzone exclude each other\n");
	expect("require \"variables\"; set \"1a\" \"x\";",
	       "line 1: invalid variable name \"1a\"\n");
	expect("require \"variables\"; set :lower :lower \"a\" \"x\";",
	       "line 1: duplicate tag :lower\n");
	expect("require \"imap4flags\"; addflag \"v\" \"x\";",
	       "line 1: flag variable names require \"variables\"\n");
	expect("require \"include\"; include \"a/b\";",
	       "line 1: invalid include script name\n");
	expect("require \"include\"; global \"x\";",
	       "line 1: global requires the \"variables\" extension\n");
	expect("require \"encoded-character\"; redirect \"${unicode:110000}\";",
	       "line 1: invalid encoded character\n");
	expect("require \"variables\"; set :lower :upper \"a\" \"x\";",
	       "line 1: modifiers :lower and :upper conflict\n");
	expect("if address :is \"subject\" \"x\" {}",
	       "line 1: header \"subject\" is not allowed in the address "
	       "test\n");
	expect("redirect \"not an address\";",
	       "line 1: invalid redirect address \"not an address\"\n");
	expect("redirect \"a@b, c@d\";",
	       "line 1: invalid redirect address \"a@b, c@d\"\n");
	expect("redirect \"Bob <bob@example.org>\";", NULL);
	expect("require \"vacation\"; vacation :from \"not valid\" \"x\";",
	       "line 1: invalid vacation :from address \"not valid\"\n");
	expect("redirect \"postmaster@[192.0.2.1]\";", NULL);
}

static void test_structure(void **state)
{
	(void)state;
	expect("keep;\nrequire \"fileinto\";",
	       "line 2: require must come before any other command\n");
	expect("if true { require \"fileinto\"; }",
	       "line 1: require must come before any other command\n");
	expect("\nelse { keep; }", "line 2: else without a preceding if\n");
	expect("if true {} keep; elsif true {}",
	       "line 1: elsif without a preceding if\n");
	expect("if true;", "line 1: if needs a block\n");
	expect("keep { }", "line 1: keep takes no block\n");
	expect("if (true, false) {}", "line 1: if needs one test\n");
	expect("if allof true {}", "line 1: allof needs a test list\n");
	expect("if not (true) {}", "line 1: not needs one test\n");
	expect("stop true;", "line 1: stop takes no test\n");
	/* several errors, one line each */
	expect("foo;\nbar;\n",
	       "line 1: unknown command \"foo\"\nline 2: unknown command "
	       "\"bar\"\n");
}

static void test_accepts(void **state)
{
	(void)state;
	expect("", NULL);
	expect("require [\"fileinto\", \"reject\", \"ereject\", \"envelope\", "
	       "\"encoded-character\", \"vacation\", \"imap4flags\", "
	       "\"variables\", \"relational\", \"comparator-i;ascii-numeric\", "
	       "\"subaddress\", \"copy\", \"body\", \"date\", \"index\", "
	       "\"mailbox\", \"include\", \"comparator-i;octet\", "
	       "\"comparator-i;ascii-casemap\"];",
	       NULL);
	expect("require \"imapflags\"; mark; unmark; addflag \"x\"; "
	       "setflag \"y\"; removeflag \"y\";",
	       NULL);
	expect("require [\"imap4flags\", \"variables\"]; "
	       "if hasflag :count \"ge\" \"v\" \"1\" {}",
	       "line 1: unknown tagged argument :count for hasflag\n");
	expect("require [\"imap4flags\", \"variables\", \"relational\"]; "
	       "if hasflag :count \"ge\" [\"v\", \"w\"] \"1\" {}",
	       NULL);
	expect("IF TRUE { KEEP; } ELSIF FALSE { DISCARD; } ELSE { STOP; }",
	       NULL);
	expect("require \"vacation\"; vacation :days 1 :subject \"s\" :from "
	       "\"a@b\" :addresses \"c@d\" :mime :handle \"h\" \"r\";",
	       NULL);
	expect("require [\"date\", \"relational\"]; if currentdate :value "
	       "\"ge\" \"date\" \"2020-01-01\" {}",
	       NULL);
	expect("require [\"body\"]; if body :content [\"text\", \"\"] "
	       ":contains \"x\" {}",
	       NULL);
}

static void test_capabilities(void **state)
{
	(void)state;
	assert_string_equal(sieve_capabilities(),
			    "fileinto reject ereject envelope "
			    "encoded-character vacation imap4flags variables "
			    "relational comparator-i;ascii-numeric subaddress "
			    "copy body date index mailbox include");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_missing_require),
	    cmocka_unit_test(test_arguments),
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_accepts),
	    cmocka_unit_test(test_capabilities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
