/*
 * test_imap_thread.c - the RFC 5256 threading algorithms (store/
 * imap_thread.c) on synthetic message sets, and the key helpers of
 * store/imap_sortkey.c.  Expected thread lists are derived by hand from
 * RFC 5256 section 3 (REFERENCES steps 1-8, ORDEREDSUBJECT).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/imap_sort.h"
#include "store/mime.h"

struct spec {
	int64_t date;
	const char *subject; /* as written; base subject derived */
	const char *id, *irt, *refs;
};

/* Threads specs[0..n) (message i is number i + 1) with alg, returns
 * the thread list (caller frees). */
static char *thread(const struct spec *sp, size_t n, int refs)
{
	struct imap_thread_msg *m = calloc(n + 1, sizeof(*m));
	char **base = calloc(n + 1, sizeof(*base));
	struct strbuf out;

	for (size_t i = 0; i < n; i++) {
		base[i] = mime_base_subject(sp[i].subject ? sp[i].subject : "");
		m[i].num = (uint32_t)i + 1;
		m[i].seq = (uint32_t)i + 1;
		m[i].date = sp[i].date;
		m[i].subject = base[i];
		m[i].is_reply = imap_subject_is_reply(sp[i].subject);
		m[i].message_id = sp[i].id;
		m[i].in_reply_to = sp[i].irt;
		m[i].references = sp[i].refs;
	}
	strbuf_init(&out);
	if (refs)
		imap_thread_references(m, n, &out);
	else
		imap_thread_orderedsubject(m, n, &out);
	strbuf_addc(&out, '\0');
	for (size_t i = 0; i < n; i++)
		free(base[i]);
	free(base);
	free(m);
	return strbuf_steal(&out, NULL);
}

#define N(a) (sizeof(a) / sizeof(*(a)))

static void expect(const struct spec *sp, size_t n, int refs, const char *want)
{
	char *got = thread(sp, n, refs);

	assert_string_equal(got, want);
	free(got);
}

static void test_simple_chain(void **state)
{
	static const struct spec s[] = {
	    {100, "Hello", "<a@x>", NULL, NULL},
	    {200, "Re: Hello", "<b@x>", "<a@x>", "<a@x>"},
	    {300, "Re: Hello", "<c@x>", "<b@x>", "<a@x> <b@x>"},
	    {250, "Re: Hello", "<d@x>", "<a@x>", "<a@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(1 (2 3)(4))");
	expect(s, 0, 1, "");
}

static void test_missing_parent(void **state)
{
	/* two replies to a message not in the mailbox: a dummy at the top
	 * with two children stays; with one child it is replaced by it */
	static const struct spec s[] = {
	    {100, "Re: Topic", "<x1@x>", NULL, "<gone@x>"},
	    {200, "Re: Topic", "<x2@x>", NULL, "<gone@x>"},
	    {50, "Other", "<y@x>", NULL, NULL},
	    {400, "Third", "<z@x>", NULL, "<lost@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(3)((1)(2))(4)");
}

static void test_missing_middle(void **state)
{
	/* a -> (missing b) -> c: the dummy below the top is spliced out */
	static const struct spec s[] = {
	    {100, "Q", "<a@x>", NULL, NULL},
	    {300, "Re: Q", "<c@x>", NULL, "<a@x> <b@x>"},
	    {200, "Re: Q", "<d@x>", NULL, "<a@x> <b@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(1 (3)(2))");
}

static void test_reference_loops(void **state)
{
	/* 1 says its parent is 2, 2 says its parent is 1: the second link
	 * would close a loop and is not made */
	static const struct spec s[] = {
	    {100, "L", "<a@x>", NULL, "<b@x>"},
	    {200, "L", "<b@x>", NULL, "<a@x>"},
	};
	/* a References list that repeats itself, and a self-reference */
	static const struct spec t[] = {
	    {300, "M", "<c@x>", NULL, "<p@x> <q@x> <p@x>"},
	    {400, "N", "<s@x>", NULL, "<s@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(2 1)");
	expect(t, N(t), 1, "(1)(2)");
}

static void test_duplicate_ids(void **state)
{
	/* the second <dup> gets an id of its own; replies go to the first */
	static const struct spec s[] = {
	    {100, "A", "<dup@x>", NULL, NULL},
	    {200, "B", "<dup@x>", NULL, NULL},
	    {300, "Re: A", "<r@x>", NULL, "<dup@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(1 3)(2)");
}

static void test_subject_grouping(void **state)
{
	/* no references: 2 ("Re:") goes under 1; 3 (no "Re:") and 1 are
	 * put under a new dummy (step 6.C) */
	static const struct spec s[] = {
	    {100, "Meeting", "<s1@x>", NULL, NULL},
	    {200, "Re: Meeting", "<s2@x>", NULL, NULL},
	    {300, "meeting", "<s3@x>", NULL, NULL},
	    {150, "Fwd: Other thing", "<s4@x>", NULL, NULL},
	    {500, "", "<s5@x>", NULL, NULL},
	    {600, "", "<s6@x>", NULL, NULL},
	};

	(void)state;
	expect(s, N(s), 1, "((1 2)(3))(4)(5)(6)");
}

static void test_reply_prefixes(void **state)
{
	/* the non-reply wins the subject table although a reply is older */
	static const struct spec s[] = {
	    {100, "Stuff", "<t1@x>", NULL, NULL},
	    {50, "[list] Re: Stuff", "<t2@x>", NULL, NULL},
	    {200, "Stuff (fwd)", "<t3@x>", NULL, NULL},
	    {250, "[fwd: Stuff]", "<t4@x>", NULL, NULL},
	};

	(void)state;
	expect(s, N(s), 1, "(1 (2)(3)(4))");
	assert_int_equal(imap_subject_is_reply("Re: x"), 1);
	assert_int_equal(imap_subject_is_reply("RE:x"), 1);
	assert_int_equal(imap_subject_is_reply("Fw: x"), 1);
	assert_int_equal(imap_subject_is_reply("Fwd : x"), 1);
	assert_int_equal(imap_subject_is_reply("Re[2]: x"), 1);
	assert_int_equal(imap_subject_is_reply("[a] [b] Re: x"), 1);
	assert_int_equal(imap_subject_is_reply("x (fwd) "), 1);
	assert_int_equal(imap_subject_is_reply("[fwd: x]"), 1);
	assert_int_equal(imap_subject_is_reply("[a] [fwd: x]"), 1);
	assert_int_equal(imap_subject_is_reply("[a][b]"), 0);
	assert_int_equal(imap_subject_is_reply("[a] [b] x"), 0);
	assert_int_equal(imap_subject_is_reply("[list] x"), 0);
	assert_int_equal(imap_subject_is_reply("Reply: x"), 0);
	assert_int_equal(imap_subject_is_reply("[list]"), 0);
	assert_int_equal(imap_subject_is_reply(""), 0);
	assert_int_equal(imap_subject_is_reply(NULL), 0);
}

static void test_in_reply_to(void **state)
{
	/* no valid References: the first id of In-Reply-To is the parent */
	static const struct spec s[] = {
	    {100, "P", "<m1@x>", NULL, NULL},
	    {200, "Re: P", "<m2@x>", "<m1@x> <other@x>", "garbage"},
	    {300, "R", "bad id", "<m2@x>", NULL},
	};

	(void)state;
	expect(s, N(s), 1, "(1 2 3)");
}

static void test_date_ties(void **state)
{
	/* equal dates go by sequence number; children sorted by date */
	static const struct spec s[] = {
	    {100, "A", "<1@x>", NULL, NULL},
	    {100, "B", "<2@x>", NULL, NULL},
	    {900, "Re: A", "<3@x>", NULL, "<1@x>"},
	    {50, "Re: A", "<4@x>", NULL, "<1@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(1 (4)(3))(2)");
}

static void test_truncated_references(void **state)
{
	/* 3's full chain puts 2 under 1; 2 itself only named a missing
	 * parent (a truncated References), so step 1.C re-parents it */
	static const struct spec s[] = {
	    {100, "T", "<1@x>", NULL, NULL},
	    {200, "Re: T", "<2@x>", NULL, "<lost@x>"},
	    {300, "Re: T", "<3@x>", NULL, "<1@x> <2@x>"},
	};

	(void)state;
	expect(s, N(s), 1, "(1 2 3)");
}

static void test_ordered_subject(void **state)
{
	static const struct spec s[] = {
	    {300, "B", NULL, NULL, NULL},     {100, "A", NULL, NULL, NULL},
	    {200, "Re: B", NULL, NULL, NULL}, {400, "A", NULL, NULL, NULL},
	    {50, "C", NULL, NULL, NULL},      {500, "a", NULL, NULL, NULL},
	};

	(void)state;
	expect(s, N(s), 0, "(5)(2 (4)(6))(3 1)");
	expect(s, 0, 0, "");
}

static void test_deep_chain(void **state)
{
	/* a 20000-message reply chain: no recursion, no quadratic walk */
	enum { DEEP = 20000 };
	struct spec *s = calloc(DEEP, sizeof(*s));
	char(*ids)[32] = calloc(DEEP, sizeof(*ids));
	char *got;

	(void)state;
	for (int i = 0; i < DEEP; i++) {
		snprintf(ids[i], sizeof(ids[i]), "<%d@deep>", i);
		s[i].date = i;
		s[i].subject = "Deep";
		s[i].id = ids[i];
		s[i].refs = i > 0 ? ids[i - 1] : NULL;
	}
	got = thread(s, DEEP, 1);
	assert_memory_equal(got, "(1 2 3 4 ", 9);
	assert_string_equal(got + strlen(got) - 13, " 19999 20000)");
	free(got);
	/* the same, in reverse delivery order */
	for (int i = 0; i < DEEP; i++) {
		s[i].id = ids[DEEP - 1 - i];
		s[i].refs = i < DEEP - 1 ? ids[DEEP - 2 - i] : NULL;
		s[i].date = DEEP - i;
	}
	got = thread(s, DEEP, 1);
	assert_memory_equal(got, "(20000 19999 ", 13);
	assert_string_equal(got + strlen(got) - 3, " 1)");
	free(got);
	free(ids);
	free(s);
}

static void test_key_helpers(void **state)
{
	char *m;

	(void)state;
	assert_int_equal(imap_collate("abc", "ABC"), 0);
	assert_true(imap_collate("abc", "abd") < 0);
	assert_true(imap_collate("b", "A") > 0);
	assert_true(imap_collate("", "a") < 0);
	m = imap_addr_mailbox("john.doe@example.com");
	assert_string_equal(m, "john.doe");
	free(m);
	m = imap_addr_mailbox("local");
	assert_string_equal(m, "local");
	free(m);
	m = imap_addr_mailbox(NULL);
	assert_string_equal(m, "");
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_chain),
	    cmocka_unit_test(test_missing_parent),
	    cmocka_unit_test(test_missing_middle),
	    cmocka_unit_test(test_reference_loops),
	    cmocka_unit_test(test_duplicate_ids),
	    cmocka_unit_test(test_subject_grouping),
	    cmocka_unit_test(test_reply_prefixes),
	    cmocka_unit_test(test_in_reply_to),
	    cmocka_unit_test(test_date_ties),
	    cmocka_unit_test(test_truncated_references),
	    cmocka_unit_test(test_ordered_subject),
	    cmocka_unit_test(test_deep_chain),
	    cmocka_unit_test(test_key_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
