/*
 * test_pop3_update.c - POP3's UPDATE state in slices
 * (pop3_md_commit_slice): \Seen for the retrieved messages that stay,
 * then the expunge of the deleted ones, at most one slice's worth of
 * messages per call, until all of it is done; a maildrop with nothing
 * to do is done at the first call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/mailstore.h"
#include "store/pop3.h"
#include "store/store.h"
#include "strbuf.h"

static char tmpdir[] = "/tmp/rookery-test-pop3-XXXXXX";

#define TEST_PROGRAM "test_pop3_update"
#include "mailstore_testlib.h"

#define N 2600

/* u@x's INBOX with N messages (one delivery, then doubling COPYs). */
static uint32_t fill(struct mstore *ms)
{
	uint32_t in, *all = xmalloc(N * sizeof(*all));
	size_t have = 1;

	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	deliver(ms, "u@x", NULL, MSG1, 0);
	in = mbox_id(ms, "u@x", "INBOX");
	for (size_t i = 0; i < N; i++)
		all[i] = (uint32_t)i + 1;
	while (have < N) {
		size_t k = have < N - have ? have : N - have;

		assert_int_equal(mstore_copy(ms, in, all, k, in, 0, NULL, NULL,
					     NULL),
				 MSTORE_OK);
		have += k;
	}
	free(all);
	return in;
}

static void test_update_in_slices(void **state)
{
	char *dir = new_dir();
	struct store st = {.name = "t"};
	struct pop3_maildrop *md = NULL;
	struct mstore_msg *msgs = NULL;
	size_t n = 0, seen = 0;
	uint32_t in;
	int r, calls = 0;

	(void)state;
	st.ms = open_ms(dir);
	in = fill(st.ms);
	assert_int_equal(pop3_md_open(&st, "u@x", &md), POP3_MD_OK);
	assert_int_equal(pop3_md_count(md), N);
	/* retrieved: every 10th; deleted: the first 2,500 but message 1 */
	for (unsigned i = 1; i <= N; i += 10)
		pop3_md_retrieved(md, i);
	for (unsigned i = 2; i <= 2500; i++)
		pop3_md_delete(md, i);
	assert_int_equal(pop3_md_deleted_count(md), 2499);
	/* one slice of \Seen (11 messages stay retrieved: 1 and
	 * 2501..2600), then 1,000 + 1,000 + 499 expunges */
	while ((r = pop3_md_commit_slice(md, 1000)) == 0) {
		calls++;
		assert_true(calls < 10);
	}
	assert_int_equal(r, 1);
	assert_int_equal(calls + 1, 4);
	pop3_md_free(&md);
	assert_int_equal(mstore_msg_list(st.ms, in, &msgs, &n), MSTORE_OK);
	assert_int_equal(n, 101);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 2501);
	for (size_t i = 0; i < n; i++)
		seen += (msgs[i].flags & MSTORE_F_SEEN) != 0;
	assert_int_equal(seen, 11);
	free(msgs);

	/* nothing to do: done at once, nothing changed */
	assert_int_equal(pop3_md_open(&st, "u@x", &md), POP3_MD_OK);
	assert_int_equal(pop3_md_commit_slice(md, 1000), 1);
	pop3_md_free(&md);
	assert_int_equal(mstore_msg_list(st.ms, in, &msgs, &n), MSTORE_OK);
	assert_int_equal(n, 101);
	free(msgs);
	mstore_close(&st.ms);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_update_in_slices),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
