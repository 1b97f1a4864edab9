/*
 * test_config.c - the configuration format (config.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const char sample[] =
    "# a comment\n"
    "   # an indented comment\n"
    "log = stderr\n" /* before any section: [global] */
    "[global]\n"
    "tls_cert = /etc/rookery/cert.pem   # trailing comment\n"
    "user = rookery\n"
    "quota = 100M\n"
    "\n"
    "[store ms1]\n"
    "data_dir = var/ms1\n"
    "listen = lmtp 127.0.0.1:2024\n"
    "listen = pop3 127.0.0.1:1110\n"
    "listen = pop3s 127.0.0.1:1995 tls\n"
    "user = mailstore\r\n"
    "greeting = \"  Rookery # ready  \"\n"
    "escaped = \"a \\\"q\\\" b\\\\c\"\n"
    "hash = a#b\n"
    "empty =\n"
    "[store ms2]\n"
    "data_dir = var/ms2\n"
    "[ mux ]\n"
    "listen = imap 127.0.0.1:1143\n"
    "[store ms1]\n"
    "extra = reopened\n";

static struct config *load(const char *text)
{
	struct config *cfg = NULL;
	char *err = NULL;

	if (config_parse("test.conf", text, &cfg, &err) < 0)
		fail_msg("parse failed: %s", err);
	return cfg;
}

static void test_sections(void **state)
{
	struct config *cfg = load(sample);
	struct config_section *g, *s1, *s2, *mux, *it;
	unsigned n = 0;

	(void)state;
	g = config_section(cfg, "global", NULL);
	assert_non_null(g);
	assert_string_equal(config_section_type(g), "global");
	assert_null(config_section_name(g));
	s1 = config_section(cfg, "store", "ms1");
	s2 = config_section(cfg, "store", "ms2");
	mux = config_section(cfg, "mux", NULL);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_non_null(mux);
	assert_string_equal(config_section_name(s1), "ms1");
	/* by type only: the first of that type */
	assert_ptr_equal(config_section(cfg, "store", NULL), s1);
	assert_null(config_section(cfg, "store", "ms3"));
	assert_null(config_section(cfg, "ldapab", NULL));
	for (it = config_next(cfg, NULL, "store"); it != NULL;
	     it = config_next(cfg, it, "store"))
		n++;
	assert_int_equal(n, 2);
	/* a reopened section keeps accumulating */
	assert_string_equal(config_get(s1, "extra", NULL), "reopened");
	assert_string_equal(config_get(s1, "data_dir", NULL), "var/ms1");
	/* all sections, any type */
	n = 0;
	for (it = config_next(cfg, NULL, NULL); it != NULL;
	     it = config_next(cfg, it, NULL))
		n++;
	assert_int_equal(n, 4);
	config_free(&cfg);
	assert_null(cfg);
}

static void test_values(void **state)
{
	struct config *cfg = load(sample);
	struct config_section *s1 = config_section(cfg, "store", "ms1");
	struct config_section *s2 = config_section(cfg, "store", "ms2");
	struct config_section *g = config_section(cfg, "global", NULL);

	(void)state;
	/* repeats: last wins for config_get, nth walks them */
	assert_string_equal(config_get(s1, "listen", NULL),
			    "pop3s 127.0.0.1:1995 tls");
	assert_string_equal(config_get_nth(s1, "listen", 0),
			    "lmtp 127.0.0.1:2024");
	assert_string_equal(config_get_nth(s1, "listen", 1),
			    "pop3 127.0.0.1:1110");
	assert_string_equal(config_get_nth(s1, "listen", 2),
			    "pop3s 127.0.0.1:1995 tls");
	assert_null(config_get_nth(s1, "listen", 3));
	/* nth does not fall back to [global] */
	assert_null(config_get_nth(s1, "tls_cert", 0));
	/* global fallback, and the section overriding it */
	assert_string_equal(config_get(s1, "tls_cert", NULL),
			    "/etc/rookery/cert.pem");
	assert_string_equal(config_get(s1, "user", NULL), "mailstore");
	assert_string_equal(config_get(s2, "user", NULL), "rookery");
	assert_string_equal(config_get(g, "log", NULL), "stderr");
	assert_string_equal(config_get(s2, "log", NULL), "stderr");
	assert_string_equal(config_get(s2, "missing", "dflt"), "dflt");
	assert_null(config_get(s2, "missing", NULL));
	assert_string_equal(config_get(NULL, "user", "none"), "none");
	assert_null(config_get_nth(NULL, "user", 0));
	/* quoting and comments */
	assert_string_equal(config_get(s1, "greeting", NULL),
			    "  Rookery # ready  ");
	assert_string_equal(config_get(s1, "escaped", NULL), "a \"q\" b\\c");
	assert_string_equal(config_get(s1, "hash", NULL), "a#b");
	assert_string_equal(config_get(s1, "empty", NULL), "");
	config_free(&cfg);
}

static void expect_error(const char *text, const char *msg)
{
	struct config *cfg = NULL;
	char *err = NULL;

	assert_int_equal(config_parse("bad.conf", text, &cfg, &err), -1);
	assert_null(cfg);
	assert_non_null(err);
	if (strcmp(err, msg) != 0)
		fail_msg("expected \"%s\", got \"%s\"", msg, err);
	free(err);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("[global]\nfoo\n", "bad.conf:2: missing '=' after key");
	expect_error("a = 1\n\n\n[store ms1\n",
		     "bad.conf:4: expected ']' to end the section header");
	expect_error("[]\n", "bad.conf:1: expected a section type after '['");
	expect_error("[store ms1] junk\n",
		     "bad.conf:1: unexpected text after ']'");
	expect_error("[store ms/1]\n",
		     "bad.conf:1: bad character in section name");
	expect_error("x = \"open\n", "bad.conf:1: unterminated quoted value");
	expect_error("x = \"a\" b\n",
		     "bad.conf:1: unexpected text after quoted value");
	expect_error("[st*re]\n", "bad.conf:1: bad character in section type");
	expect_error("= 3\n",
		     "bad.conf:1: expected a key, a section or a comment");
	expect_error("ok = 1\r\nkey value\r\n",
		     "bad.conf:2: missing '=' after key");
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/rookery-test-config-XXXXXX";
	struct config *cfg = NULL;
	char *err = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[global]\nuser = x\nbad line\n", 27), 27);
	close(fd);
	assert_int_equal(config_load(path, &cfg, &err), -1);
	assert_non_null(strstr(err, ":3: missing '='"));
	assert_non_null(strstr(err, path));
	free(err);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "[global]\nuser = x", 17), 17); /* no LF */
	close(fd);
	assert_int_equal(config_load(path, &cfg, &err), 0);
	assert_string_equal(
	    config_get(config_section(cfg, "global", NULL), "user", NULL), "x");
	config_free(&cfg);
	unlink(path);

	assert_int_equal(config_load(path, &cfg, &err), -1);
	assert_non_null(strstr(err, "No such file"));
	free(err);
	/* an empty file is a valid, empty config */
	assert_int_equal(config_parse("empty", "", &cfg, &err), 0);
	assert_null(config_section(cfg, "global", NULL));
	assert_string_equal(
	    config_get(config_section(cfg, "global", NULL), "x", "d"), "d");
	config_free(&cfg);
}

static const char typed[] = "[global]\n"
			    "gint = 42\n"
			    "[store ms1]\n"
			    "i1 = -17\n"
			    "i2 = 12abc\n"
			    "i3 = 99999999999999999999\n"
			    "i4 = -9223372036854775808\n"
			    "i5 = \n"
			    "s1 = 10\n"
			    "s2 = 4K\n"
			    "s3 = 10M\n"
			    "s4 = 2G\n"
			    "s5 = 12Q\n"
			    "s6 = 5MB\n"
			    "s7 = 99999999999G\n"
			    "s8 = -1\n"
			    "d1 = 30\n"
			    "d2 = 30s\n"
			    "d3 = 5m\n"
			    "d4 = 2h\n"
			    "d5 = 1d\n"
			    "d6 = 1w\n"
			    "d7 = 99999999999d\n"
			    "b1 = yes\n"
			    "b2 = Off\n"
			    "b3 = 1\n"
			    "b4 = maybe\n";

static void test_typed(void **state)
{
	struct config *cfg = load(typed);
	struct config_section *s = config_section(cfg, "store", "ms1");
	unsigned long long sz;
	long long i;
	unsigned d;
	int b;
	char *err = NULL;

	(void)state;
	assert_int_equal(config_get_int(s, "i1", 0, &i, &err), 0);
	assert_int_equal(i, -17);
	assert_int_equal(config_get_int(s, "gint", 0, &i, &err), 0);
	assert_int_equal(i, 42);
	assert_int_equal(config_get_int(s, "nope", 7, &i, &err), 0);
	assert_int_equal(i, 7);
	assert_int_equal(config_get_int(s, "i4", 0, &i, &err), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(config_get_int(s, "i2", 0, &i, &err), -1);
	assert_string_equal(err,
			    "test.conf:5: ms1: i2 = 12abc: not an integer");
	free(err);
	assert_int_equal(config_get_int(s, "i3", 0, &i, &err), -1);
	assert_non_null(strstr(err, "test.conf:6: "));
	free(err);
	assert_int_equal(config_get_int(s, "i5", 0, &i, &err), -1);
	free(err);

	assert_int_equal(config_get_size(s, "s1", 0, &sz, &err), 0);
	assert_int_equal(sz, 10);
	assert_int_equal(config_get_size(s, "s2", 0, &sz, &err), 0);
	assert_int_equal(sz, 4096);
	assert_int_equal(config_get_size(s, "s3", 0, &sz, &err), 0);
	assert_int_equal(sz, 10 << 20);
	assert_int_equal(config_get_size(s, "s4", 0, &sz, &err), 0);
	assert_true(sz == 2ULL << 30);
	assert_int_equal(config_get_size(s, "s6", 0, &sz, &err), 0);
	assert_int_equal(sz, 5 << 20);
	assert_int_equal(config_get_size(s, "absent", 123, &sz, &err), 0);
	assert_int_equal(sz, 123);
	assert_int_equal(config_get_size(s, "s5", 0, &sz, &err), -1);
	assert_string_equal(err, "test.conf:13: ms1: s5 = 12Q: not a size");
	free(err);
	assert_int_equal(config_get_size(s, "s7", 0, &sz, &err), -1);
	assert_non_null(strstr(err, "out of range"));
	free(err);
	assert_int_equal(config_get_size(s, "s8", 0, &sz, &err), -1);
	free(err);

	assert_int_equal(config_get_duration(s, "d1", 0, &d, &err), 0);
	assert_int_equal(d, 30);
	assert_int_equal(config_get_duration(s, "d2", 0, &d, &err), 0);
	assert_int_equal(d, 30);
	assert_int_equal(config_get_duration(s, "d3", 0, &d, &err), 0);
	assert_int_equal(d, 300);
	assert_int_equal(config_get_duration(s, "d4", 0, &d, &err), 0);
	assert_int_equal(d, 7200);
	assert_int_equal(config_get_duration(s, "d5", 0, &d, &err), 0);
	assert_int_equal(d, 86400);
	assert_int_equal(config_get_duration(s, "absent", 9, &d, &err), 0);
	assert_int_equal(d, 9);
	assert_int_equal(config_get_duration(s, "d6", 0, &d, &err), -1);
	assert_string_equal(err, "test.conf:22: ms1: d6 = 1w: not a duration");
	free(err);
	assert_int_equal(config_get_duration(s, "d7", 0, &d, &err), -1);
	free(err);

	assert_int_equal(config_get_bool(s, "b1", 0, &b, &err), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(s, "b2", 1, &b, &err), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(s, "b3", 0, &b, &err), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(s, "absent", 1, &b, &err), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(s, "b4", 0, &b, &err), -1);
	assert_non_null(strstr(err, "test.conf:27: ms1: b4 = maybe: "));
	free(err);
	/* NULL section: defaults */
	assert_int_equal(config_get_bool(NULL, "b1", 1, &b, &err), 0);
	assert_int_equal(b, 1);
	config_free(&cfg);
}

/* The sample shipped in etc/ must parse and hold what daemons look for. */
static void test_sample_config(void **state)
{
	struct config *cfg = NULL;
	struct config_section *s;
	char *err = NULL;

	(void)state;
	if (config_load("etc/rookery.conf", &cfg, &err) < 0) {
		if (strstr(err, "No such file") != NULL) {
			free(err);
			skip();
		}
		fail_msg("%s", err);
	}
	s = config_section(cfg, "store", "ms1");
	assert_non_null(s);
	assert_non_null(config_get_nth(s, "listen", 0));
	assert_non_null(config_get(s, "tls_cert", NULL));
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_typed),
	    cmocka_unit_test(test_sample_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
