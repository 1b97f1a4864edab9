/*
 * test_managesieve_parse.c - the ManageSieve command reader
 * (sieve/managesieve_parse.c), driven through lib/lineread.h the way the
 * session is: whole input at once and one byte at a time must give the
 * same commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lineread.h"
#include "sieve/managesieve.h"
#include "strbuf.h"

/*
 * Feeds in[0..len) in chunks of chunk bytes; appends one line per
 * command to t: "OK <type>:<value>|..." or "ERR <error>".
 */
static void transcript(const char *in, size_t len, size_t chunk,
		       uint64_t max_literal, struct strbuf *t)
{
	struct lineread_params lp = {4096, 1, 0};
	struct msv_params mp = {max_literal};
	struct lineread *lr = lineread_new(&lp);
	struct msv_cmd cmd;
	size_t off = 0;

	msv_cmd_init(&cmd, &mp);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, pos = 0;

		while (pos < n) {
			struct lineread_result res;
			size_t used = 0;
			int r = lineread_feed(lr, in + off + pos, n - pos,
					      &used, &res);
			enum msv_parse p;

			pos += used;
			if (r == 0)
				break;
			if (r < 0) {
				strbuf_printf(t, "LINEERR %s\n", res.error_str);
				msv_cmd_reset(&cmd);
				continue;
			}
			if (res.kind == LINEREAD_LITERAL_DATA) {
				msv_cmd_literal(&cmd, res.data, res.len);
				continue;
			}
			if (res.kind == LINEREAD_LITERAL_END)
				continue;
			p = msv_cmd_line(&cmd, res.line, res.len);
			if (p == MSV_PARSE_LITERAL) {
				lineread_literal_start(lr, cmd.literal_size);
				continue;
			}
			if (p == MSV_PARSE_ERROR) {
				strbuf_printf(t, "ERR %s\n", cmd.error);
			} else {
				strbuf_adds(t, "OK");
				for (unsigned i = 0; i < cmd.nargs; i++) {
					strbuf_printf(
					    t, " %d:", (int)cmd.args[i].type);
					strbuf_add(t, cmd.args[i].s.data,
						   cmd.args[i].s.len);
					strbuf_addc(t, '|');
				}
				strbuf_addc(t, '\n');
			}
			msv_cmd_reset(&cmd);
		}
		off += n;
	}
	msv_cmd_free(&cmd);
	lineread_free(&lr);
}

/* Whole and byte-by-byte must agree; returns the transcript. */
static char *parse(const char *in, uint64_t max_literal)
{
	struct strbuf a, b;
	size_t len = strlen(in);

	strbuf_init(&a);
	strbuf_init(&b);
	transcript(in, len, len ? len : 1, max_literal, &a);
	transcript(in, len, 1, max_literal, &b);
	assert_string_equal(a.data, b.data);
	for (size_t chunk = 2; chunk < 9; chunk++) {
		strbuf_reset(&b);
		transcript(in, len, chunk, max_literal, &b);
		assert_string_equal(a.data, b.data);
	}
	strbuf_free(&b);
	return strbuf_steal(&a, NULL);
}

static void check(const char *in, const char *want)
{
	char *got = parse(in, 100);

	assert_string_equal(got, want);
	free(got);
}

static void test_atoms_and_quoted(void **state)
{
	(void)state;
	check("CAPABILITY\r\n", "OK 0:CAPABILITY|\n");
	check("noop \"tag 1\"\r\n", "OK 0:noop| 1:tag 1|\n");
	check("HAVESPACE \"a\" 100\n", "OK 0:HAVESPACE| 1:a| 0:100|\n");
	check("X \"a\\\"b\\\\c\"\r\n", "OK 0:X| 1:a\"b\\c|\n");
	check("X \"\"\r\n", "OK 0:X| 1:|\n");
	check("X   \"a\"   \"b\"  \r\n", "OK 0:X| 1:a| 1:b|\n");
}

static void test_literals(void **state)
{
	(void)state;
	/* both forms, non-synchronising, the command goes on after it */
	check("PUTSCRIPT \"s\" {5+}\r\nkeep;\r\n",
	      "OK 0:PUTSCRIPT| 1:s| 2:keep;|\n");
	check("PUTSCRIPT \"s\" {5}\r\nkeep;\r\n",
	      "OK 0:PUTSCRIPT| 1:s| 2:keep;|\n");
	check("RENAMESCRIPT {1+}\r\na {1+}\r\nb\r\n",
	      "OK 0:RENAMESCRIPT| 2:a| 2:b|\n");
	/* a literal holding CRLF and braces */
	check("P {9+}\r\na\r\n{3}\r\n \r\nNOOP\r\n",
	      "OK 0:P| 2:a\r\n{3}\r\n |\nOK 0:NOOP|\n");
	check("P {0+}\r\n\r\n", "OK 0:P| 2:|\n");
}

static void test_errors(void **state)
{
	(void)state;
	check("\r\n", "ERR Empty command\n");
	check("X \"abc\r\nNOOP\r\n", "ERR Missing closing quote\nOK 0:NOOP|\n");
	check("X \"a\\n\"\r\n", "ERR Bad escape in quoted string\n");
	check("X (\r\n", "ERR Syntax error\n");
	check("X \"a\"b\r\n", "ERR Syntax error (missing space)\n");
	check("X a{3+}\r\nabc\r\n",
	      "ERR Syntax error before literal\nOK 0:abc|\n");
	check("A b c d e\r\n", "ERR Too many arguments\n");
	/* too big: the bytes are read and dropped, then the error */
	{
		struct strbuf in;
		char *got;

		strbuf_init(&in);
		strbuf_adds(&in, "PUTSCRIPT \"s\" {200+}\r\n");
		for (int i = 0; i < 200; i++)
			strbuf_addc(&in, 'x');
		strbuf_adds(&in, "\r\nNOOP\r\n");
		got = parse(in.data, 100);
		assert_string_equal(got, "ERR Literal too big\nOK 0:NOOP|\n");
		free(got);
		strbuf_free(&in);
	}
}

static void test_quoted_limit(void **state)
{
	struct strbuf in;
	char *got;

	(void)state;
	strbuf_init(&in);
	strbuf_adds(&in, "X \"");
	for (int i = 0; i < MSV_MAX_QUOTED + 1; i++)
		strbuf_addc(&in, 'q');
	strbuf_adds(&in, "\"\r\n");
	got = parse(in.data, 100);
	assert_string_equal(got,
			    "ERR Quoted string too long (use a literal)\n");
	free(got);
	strbuf_free(&in);
}

static void test_nul_in_quoted(void **state)
{
	static const char in[] = "X \"a\0b\"\r\nNOOP\r\n";
	struct strbuf t;

	(void)state;
	strbuf_init(&t);
	transcript(in, sizeof(in) - 1, 1, 100, &t);
	assert_string_equal(t.data, "ERR NUL in quoted string\nOK 0:NOOP|\n");
	strbuf_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_atoms_and_quoted),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_quoted_limit),
	    cmocka_unit_test(test_nul_in_quoted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
