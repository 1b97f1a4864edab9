/*
 * test_strbuf.c - strbuf and log_q.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "strbuf.h"

static void test_grow_and_printf(void **state)
{
	struct strbuf s;
	int i;

	(void)state;
	strbuf_init(&s);
	for (i = 0; i < 1000; i++)
		strbuf_printf(&s, "%d,", i);
	assert_int_equal(s.len, strlen(s.data));
	assert_memory_equal(s.data, "0,1,2,", 6);
	strbuf_truncate(&s, 2);
	assert_string_equal(s.data, "0,");
	strbuf_reset(&s);
	assert_int_equal(s.len, 0);
	assert_string_equal(s.data, "");
	strbuf_add(&s, "a\0b", 3);
	assert_int_equal(s.len, 3);
	assert_int_equal(s.data[3], '\0');
	strbuf_free(&s);
}

static void test_steal_leaves_empty(void **state)
{
	struct strbuf s;
	size_t len;
	char *p, *q;

	(void)state;
	strbuf_init(&s);
	strbuf_adds(&s, "hello");
	p = strbuf_steal(&s, &len);
	assert_int_equal(len, 5);
	assert_string_equal(p, "hello");
	assert_int_equal(s.len, 0);
	assert_string_equal(s.data, "");
	/* Usable again without init, and stealing an empty one works. */
	q = strbuf_steal(&s, NULL);
	assert_string_equal(q, "");
	strbuf_addc(&s, 'x');
	strbuf_printf(&s, "%s", "");
	strbuf_printf(&s, "%d", 42);
	assert_string_equal(s.data, "x42");
	strbuf_free(&s);
	strbuf_free(&s);
	free(p);
	free(q);
}

static void test_xasprintf(void **state)
{
	char *p = xasprintf("%s-%d", "a", 7);

	(void)state;
	assert_string_equal(p, "a-7");
	free(p);
}

static void test_log_q(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(log_q(buf, sizeof(buf), "plain"), "plain");
	assert_string_equal(log_q(buf, sizeof(buf), ""), "\"\"");
	assert_string_equal(log_q(buf, sizeof(buf), NULL), "\"\"");
	assert_string_equal(log_q(buf, sizeof(buf), "a b"), "\"a b\"");
	assert_string_equal(log_q(buf, sizeof(buf), "k=v"), "\"k=v\"");
	assert_string_equal(log_q(buf, sizeof(buf), "q\"\\\r\n"),
			    "\"q\\\"\\\\\\x0d\\x0a\"");
	/* Truncation keeps the closing quote and the NUL inside buf. */
	log_q(buf, 10, "aaaaaaaaaaaaaaaaaaaa bbbb");
	assert_true(strlen(buf) < 10);
	assert_int_equal(buf[strlen(buf) - 1], '"');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_printf),
		cmocka_unit_test(test_steal_leaves_empty),
		cmocka_unit_test(test_xasprintf),
		cmocka_unit_test(test_log_q),
	};

	return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
