/*
 * test_sieve_run.c - every test and action of the interpreter, the
 * duplicate and conflict rules, variables, flags, include, run-time errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/sieve_helpers.h"

static void test_implicit_keep(void **state)
{
	(void)state;
	assert_sieve("", "keep implicit\n");
	assert_sieve("if false { discard; }", "keep implicit\n");
	assert_sieve("keep;", "keep\n");
	assert_sieve("discard;", "discard\n");
	assert_sieve("stop; discard;", "keep implicit\n");
}

static void test_fileinto_redirect(void **state)
{
	(void)state;
	assert_sieve("require \"fileinto\"; fileinto \"Work\";",
		     "fileinto \"Work\"\n");
	assert_sieve("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";",
		     "fileinto \"A\" copy\nkeep implicit\n");
	assert_sieve("redirect \"x@example.com\";",
		     "redirect \"x@example.com\"\n");
	assert_sieve("redirect \"Bob (the builder) <bob@example.com>\";",
		     "redirect \"bob@example.com\"\n");
	assert_sieve("require \"variables\"; set \"a\" \"not valid\";"
		     "redirect \"${a}\";",
		     "ERROR: line 1: invalid redirect address \"not valid\"\n");
	assert_sieve("require \"copy\"; redirect :copy \"x@example.com\";",
		     "redirect \"x@example.com\" copy\nkeep implicit\n");
	assert_sieve("require [\"fileinto\", \"mailbox\"];"
		     "fileinto :create \"New/Box\";",
		     "fileinto \"New/Box\" create\n");
}

static void test_duplicates(void **state)
{
	(void)state;
	assert_sieve("require \"fileinto\"; fileinto \"A\"; fileinto \"A\";",
		     "fileinto \"A\"\n");
	assert_sieve("require \"fileinto\"; keep; fileinto \"INBOX\"; keep;",
		     "keep\n");
	assert_sieve("redirect \"a@b.c\"; redirect \"A@B.C\";",
		     "redirect \"a@b.c\"\n");
	assert_sieve("discard; discard;", "discard\n");
	assert_sieve("require [\"fileinto\", \"copy\"];"
		     "fileinto :copy \"A\"; fileinto \"A\";",
		     "fileinto \"A\"\n");
}

static void test_reject_rules(void **state)
{
	(void)state;
	assert_sieve("require \"reject\"; reject \"no\";", "reject \"no\"\n");
	assert_sieve("require \"ereject\"; ereject \"no\";",
		     "ereject \"no\"\n");
	assert_sieve("require [\"reject\", \"fileinto\"];"
		     "fileinto \"A\";\nreject \"no\";",
		     "ERROR: line 2: reject/ereject conflicts with another "
		     "action (line 1)\n");
	assert_sieve("require \"reject\"; reject \"a\"; keep;",
		     "ERROR: line 1: reject/ereject conflicts with a delivery "
		     "action (line 1)\n");
	assert_sieve("require \"reject\"; reject \"a\"; reject \"b\";",
		     "ERROR: line 1: duplicate reject/ereject\n");
	assert_sieve("require [\"reject\", \"vacation\"];\nvacation \"x\";\n"
		     "reject \"y\";",
		     "ERROR: line 3: reject/ereject conflicts with another "
		     "action (line 2)\n");
	assert_sieve("require \"reject\"; discard; reject \"y\";",
		     "discard\nreject \"y\"\n");
}

static void test_header_tests(void **state)
{
	(void)state;
	/* RFC 2047 decoded and unfolded */
	assert_sieve("if header :is \"subject\" \"Grüße and a folded subject\""
		     " { discard; }",
		     "discard\n");
	assert_sieve("if header :contains \"SUBJECT\" \"GRÜ\" { discard; }",
		     "keep implicit\n"); /* casemap is ASCII only */
	assert_sieve("if header :contains \"subject\" \"FOLDED\" { discard; }",
		     "discard\n");
	assert_sieve("if header :comparator \"i;octet\" :contains \"subject\" "
		     "\"FOLDED\" { discard; }",
		     "keep implicit\n");
	assert_sieve("if header :matches \"x-spam-score\" \"?\" { discard; }",
		     "discard\n");
	assert_sieve("if header :is \"x-missing\" \"\" { discard; }",
		     "keep implicit\n");
	assert_sieve("if exists [\"from\", \"date\"] { discard; }",
		     "discard\n");
	assert_sieve("if exists [\"from\", \"nope\"] { discard; }",
		     "keep implicit\n");
}

static void test_address_tests(void **state)
{
	(void)state;
	assert_sieve("if address :is \"from\" \"alice@example.net\" "
		     "{ discard; }",
		     "discard\n");
	assert_sieve("if address :localpart :is \"cc\" \"dave\" { discard; }",
		     "discard\n");
	assert_sieve("if address :domain :is \"to\" \"example.org\" "
		     "{ discard; }",
		     "discard\n");
	assert_sieve("if address :all :is \"to\" \"Bob\" { discard; }",
		     "keep implicit\n");
	assert_sieve("require \"subaddress\";"
		     "if address :detail :is \"to\" \"box\" { discard; }",
		     "discard\n");
	assert_sieve("require \"subaddress\";"
		     "if address :user :is \"to\" \"bob\" { discard; }",
		     "discard\n");
	assert_sieve("require \"subaddress\";"
		     "if address :detail :matches \"cc\" \"*\" { discard; }",
		     "keep implicit\n");
}

static void test_envelope(void **state)
{
	(void)state;
	assert_sieve("require \"envelope\";"
		     "if envelope :is \"from\" \"sender@example.net\" "
		     "{ discard; }",
		     "discard\n");
	assert_sieve("require [\"envelope\", \"subaddress\"];"
		     "if envelope :detail \"to\" \"orig\" { discard; }",
		     "discard\n");
	assert_sieve("require \"envelope\";"
		     "if envelope :domain \"to\" \"example.com\" { discard; }",
		     "discard\n");
}

static void test_size_and_logic(void **state)
{
	(void)state;
	assert_sieve("if size :over 100 { discard; }", "discard\n");
	assert_sieve("if size :under 1K { discard; }", "discard\n");
	assert_sieve("if size :over 1M { discard; }", "keep implicit\n");
	assert_sieve("if allof (true, not false) { discard; }", "discard\n");
	assert_sieve("if anyof (false, false) { discard; }", "keep implicit\n");
	assert_sieve("if not anyof (false, true) { discard; } "
		     "elsif true { keep; } else { discard; }",
		     "keep\n");
}

static void test_body(void **state)
{
	(void)state;
	assert_sieve("require \"body\"; if body :contains \"Café budget "
		     "review on Friday\" { discard; }",
		     "discard\n");
	assert_sieve("require \"body\"; if body :raw :contains "
		     "\"c2VjcmV0\" { discard; }",
		     "discard\n");
	assert_sieve("require \"body\"; if body :content "
		     "\"application/octet-stream\" :contains \"secret binary\" "
		     "{ discard; }",
		     "discard\n");
	assert_sieve("require \"body\"; if body :text :contains \"secret\" "
		     "{ discard; }",
		     "keep implicit\n");
	assert_sieve("require \"body\"; if body :content \"text\" :contains "
		     "\"preamble\" { discard; }",
		     "keep implicit\n");
}

static void test_body_multipart(void **state)
{
	(void)state;
	/* RFC 5173 5.1: :content "multipart" sees the prologue */
	assert_sieve("require \"body\"; if body :content \"multipart\" "
		     ":contains \"preamble\" { discard; }",
		     "discard\n");
	assert_sieve("require \"body\"; if body :content \"\" :contains "
		     "\"secret binary\" { discard; }",
		     "discard\n");
}

static void test_received_date(void **state)
{
	(void)state;
	assert_sieve("require [\"date\", \"index\", \"variables\", "
		     "\"fileinto\"]; if date :index 1 :matches \"received\" "
		     "\"time\" \"*\" { fileinto \"${1}\"; }",
		     "fileinto \"09:12:01\"\n");
}

static void test_store_flags_replace(void **state)
{
	(void)state;
	assert_sieve("require \"imap4flags\"; keep :flags \"a\"; "
		     "keep :flags \"b\";",
		     "keep flags \"b\"\n");
}

static void test_variables(void **state)
{
	(void)state;
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "set \"a\" \"x\"; set \"A\" \"${a}y\"; fileinto \"${A}\";",
		     "fileinto \"xy\"\n");
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "set :upperfirst \"a\" \"hello\";"
		     "set :upper :length \"n\" \"héllo\";"
		     "fileinto \"${a}${n}${nope}\";",
		     "fileinto \"Hello5\"\n");
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "set :quotewildcard \"q\" \"*?\\\\\";"
		     "fileinto \"${q}\";",
		     "fileinto \"\\\\*\\\\?\\\\\\\\\"\n");
	/* not a variable reference: kept literally */
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "fileinto \"${}${1a}${a-b}$\";",
		     "fileinto \"${}${1a}${a-b}$\"\n");
	/* match variables from :matches, kept after a failed match */
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "if address :matches \"from\" \"*@*.*\" {}"
		     "if header :matches \"subject\" \"nomatch*\" {}"
		     "fileinto \"${0}|${1}|${2}|${3}|${4}\";",
		     "fileinto \"alice@example.net|alice|example|net|\"\n");
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "if string :matches \"abcabc\" \"*b?\" "
		     "{ fileinto \"${1}-${2}\"; }",
		     "fileinto \"abca-c\"\n");
	assert_sieve("require [\"variables\", \"fileinto\"];"
		     "set \"e\" \"\";"
		     "if string :is \"${e}\" \"\" { fileinto \"empty\"; }",
		     "fileinto \"empty\"\n");
}

static void test_relational(void **state)
{
	(void)state;
	assert_sieve("require [\"relational\", \"comparator-i;ascii-numeric\"];"
		     "if header :value \"gt\" :comparator \"i;ascii-numeric\" "
		     "\"x-spam-score\" \"10\" { discard; }",
		     "keep implicit\n");
	assert_sieve("require [\"relational\", \"comparator-i;ascii-numeric\"];"
		     "if header :value \"lt\" :comparator \"i;ascii-numeric\" "
		     "\"x-spam-score\" \"10\" { discard; }",
		     "discard\n");
	assert_sieve("require [\"relational\", \"comparator-i;ascii-numeric\"];"
		     "if header :count \"eq\" :comparator \"i;ascii-numeric\" "
		     "\"received\" \"2\" { discard; }",
		     "discard\n");
	assert_sieve("require [\"relational\", \"comparator-i;ascii-numeric\"];"
		     "if address :count \"eq\" :comparator \"i;ascii-numeric\" "
		     "[\"to\", \"cc\"] \"3\" { discard; }",
		     "discard\n");
	assert_sieve("require [\"relational\", \"variables\","
		     " \"comparator-i;ascii-numeric\"];"
		     "if string :count \"eq\" :comparator \"i;ascii-numeric\" "
		     "[\"a\", \"\", \"b\"] \"2\" { discard; }",
		     "discard\n");
}

static void test_flags(void **state)
{
	(void)state;
	assert_sieve("require \"imap4flags\"; setflag \"\\\\Seen a\";"
		     "addflag [\"b\", \"A\"]; removeflag \"a\"; keep;",
		     "keep flags \"\\\\Seen\" \"b\"\n");
	assert_sieve("require \"imap4flags\"; addflag \"x\";",
		     "keep implicit flags \"x\"\n");
	assert_sieve(
	    "require [\"imap4flags\", \"fileinto\"]; addflag \"x\";"
	    "fileinto :flags \"y\" \"A\"; fileinto \"B\";",
	    "fileinto \"A\" flags \"y\"\nfileinto \"B\" flags \"x\"\n");
	assert_sieve("require [\"imap4flags\", \"variables\"];"
		     "addflag \"v\" [\"p\", \"q\"]; removeflag \"v\" \"p\";"
		     "if hasflag \"v\" \"q\" { discard; }",
		     "discard\n");
	assert_sieve("require \"imap4flags\"; addflag \"a b\";"
		     "if hasflag :contains \"B\" { discard; }",
		     "discard\n");
	assert_sieve("require \"imapflags\"; mark; keep; unmark;",
		     "keep flags \"\\\\Flagged\"\n");
}

static void test_vacation(void **state)
{
	(void)state;
	assert_sieve(
	    "require \"vacation\"; vacation \"away\";",
	    "vacation seconds 604800 reason \"away\"\nkeep implicit\n");
	assert_sieve("require \"vacation\"; vacation :days 0 :subject \"s\" "
		     ":from \"me@x.y\" :addresses [\"a@x.y\", \"b@x.y\"] "
		     ":mime :handle \"h\" \"body\";",
		     "vacation seconds 86400 from \"me@x.y\" subject \"s\" "
		     "handle \"h\" addresses \"a@x.y\" \"b@x.y\" mime reason "
		     "\"body\"\nkeep implicit\n");
	assert_sieve("require [\"vacation\", \"variables\"]; set \"f\" \"x y\";"
		     "vacation :from \"${f}\" :addresses [\"bad one\", "
		     "\"Me <me@x.y>\"] \"r\";",
		     "vacation seconds 604800 addresses \"me@x.y\" reason "
		     "\"r\"\nkeep implicit\n");
	assert_sieve("require \"vacation\"; vacation \"a\"; vacation \"b\";",
		     "ERROR: line 1: duplicate vacation\n");
}

static void test_date(void **state)
{
	(void)state;
	assert_sieve("require [\"date\", \"variables\", \"fileinto\"];"
		     "if date :matches \"date\" \"iso8601\" \"*\" "
		     "{ fileinto \"${1}\"; }",
		     "fileinto \"2026-11-23T09:11:55Z\"\n");
	assert_sieve("require [\"date\", \"variables\", \"fileinto\"];"
		     "if date :originalzone :matches \"date\" \"std11\" \"*\" "
		     "{ fileinto \"${1}\"; }",
		     "fileinto \"Mon, 23 Nov 2026 10:11:55 +0100\"\n");
	assert_sieve("require [\"date\", \"variables\", \"fileinto\"];"
		     "if date :zone \"-0330\" :matches \"date\" \"time\" \"*\" "
		     "{ fileinto \"${1}\"; }",
		     "fileinto \"05:41:55\"\n");
	assert_sieve(
	    "require [\"date\", \"variables\", \"fileinto\"];"
	    "if currentdate :matches \"date\" \"*\" { set \"d\" \"${1}\"; }"
	    "if currentdate :matches \"weekday\" \"*\" { set \"w\" \"${1}\"; }"
	    "if currentdate :matches \"julian\" \"*\" "
	    "{ fileinto \"${d} ${w} ${1}\"; }",
	    "fileinto \"2026-11-18 3 61362\"\n");
	assert_sieve("require \"date\"; if date :is \"from\" \"year\" \"2026\" "
		     "{ discard; }",
		     "keep implicit\n");
}

static void test_index(void **state)
{
	(void)state;
	assert_sieve("require [\"index\", \"variables\", \"fileinto\"];"
		     "if header :index 2 :matches \"received\" \"from * by*\" "
		     "{ fileinto \"${1}\"; }",
		     "fileinto \"b.example.net\"\n");
	assert_sieve("require [\"index\", \"variables\", \"fileinto\"];"
		     "if header :index 2 :last :matches \"received\" "
		     "\"from * by*\" { fileinto \"${1}\"; }",
		     "fileinto \"a.example.net\"\n");
	assert_sieve("require \"index\";"
		     "if header :index 3 :matches \"received\" \"*\" "
		     "{ discard; }",
		     "keep implicit\n");
	/* for address, :index picks the field, then all its addresses */
	assert_sieve("require [\"index\", \"relational\", "
		     "\"comparator-i;ascii-numeric\"];"
		     "if address :index 1 :count \"eq\" :comparator "
		     "\"i;ascii-numeric\" \"to\" \"2\" { discard; }",
		     "discard\n");
	assert_sieve("require [\"index\"];"
		     "if address :index 2 \"to\" \"carol@example.org\" "
		     "{ discard; }",
		     "keep implicit\n");
	/* tests repeated on one field reuse the cached parse */
	assert_sieve("if anyof (address :is \"from\" \"x@y\", "
		     "address :domain \"from\" \"example.net\", "
		     "header :contains \"from\" \"Archer\") { discard; }",
		     "discard\n");
}

static void test_mailbox(void **state)
{
	(void)state;
	assert_sieve("require \"mailbox\"; if mailboxexists \"Work\" "
		     "{ discard; }",
		     "discard\n");
	assert_sieve("require \"mailbox\"; if mailboxexists [\"Work\", \"X\"] "
		     "{ discard; }",
		     "keep implicit\n");
}

static void test_encoded_character(void **state)
{
	(void)state;
	assert_sieve("require [\"encoded-character\", \"fileinto\"];"
		     "fileinto \"${hex:41 42}${unicode:263a}${hex:4}\";",
		     "fileinto \"AB\xe2\x98\xba${hex:4}\"\n");
	assert_sieve("require \"fileinto\"; fileinto \"${hex:41}\";",
		     "fileinto \"${hex:41}\"\n");
}

static void run_with_include(const char *script, const char *name,
			     const char *inc, const char *expected)
{
	struct sieve_test_ctx ctx = {name, inc};
	struct sieve_msg m;
	char *got;

	sieve_test_msg_init(&m, &ctx);
	got = sieve_test_run_msg(script, &m);
	assert_string_equal(got, expected);
	free(got);
}

static void test_include(void **state)
{
	(void)state;
	run_with_include("require \"include\"; include \"a\";", "a",
			 "require \"fileinto\"; fileinto \"A\";",
			 "fileinto \"A\"\n");
	run_with_include("require \"include\"; include :once \"a\";"
			 "include :once \"a\";",
			 "a", "redirect \"r@x.y\";", "redirect \"r@x.y\"\n");
	run_with_include("require \"include\"; include \"missing\";", "a", "",
			 "ERROR: line 1: include: script \"missing\" not "
			 "found\n");
	run_with_include("require \"include\"; include :optional \"missing\";",
			 "a", "", "keep implicit\n");
	run_with_include("require \"include\"; include \"a\";", "a",
			 "require \"include\"; include \"a\";",
			 "ERROR: line 1: include: \"a\" includes itself\n");
	run_with_include("require [\"include\", \"variables\", \"fileinto\"];"
			 "global \"g\"; set \"g\" \"G\"; set \"l\" \"L\";"
			 "include \"a\"; fileinto \"${g}${l}\";",
			 "a",
			 "require [\"include\", \"variables\", \"fileinto\"];"
			 "global \"g\"; fileinto \"${g}${l}\"; set \"g\" \"H\";"
			 "return; discard;",
			 "fileinto \"G\"\nfileinto \"HL\"\n");
	run_with_include("require [\"include\", \"variables\", \"fileinto\"];"
			 "set \"global.g\" \"G\"; include \"a\";",
			 "a",
			 "require [\"include\", \"variables\", \"fileinto\"];"
			 "fileinto \"${global.g}\"; stop;",
			 "fileinto \"G\"\n");
}

static void test_limits(void **state)
{
	struct strbuf sb;
	char *got;

	(void)state;
	assert_sieve("redirect \"1@x\"; redirect \"2@x\"; redirect \"3@x\";"
		     "redirect \"4@x\"; redirect \"5@x\";",
		     "ERROR: line 1: too many redirects (limit 4)\n");
	strbuf_init(&sb);
	strbuf_adds(&sb, "require [\"fileinto\", \"copy\"];\n");
	for (int i = 0; i < 70; i++)
		strbuf_printf(&sb, "fileinto :copy \"box%d\";\n", i);
	got = sieve_test_run(sb.data);
	assert_string_equal(got,
			    "ERROR: line 66: too many actions (limit 64)\n");
	free(got);
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_implicit_keep),
	    cmocka_unit_test(test_fileinto_redirect),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_reject_rules),
	    cmocka_unit_test(test_header_tests),
	    cmocka_unit_test(test_address_tests),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_size_and_logic),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_body_multipart),
	    cmocka_unit_test(test_received_date),
	    cmocka_unit_test(test_store_flags_replace),
	    cmocka_unit_test(test_variables),
	    cmocka_unit_test(test_relational),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_vacation),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_index),
	    cmocka_unit_test(test_mailbox),
	    cmocka_unit_test(test_encoded_character),
	    cmocka_unit_test(test_include),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
