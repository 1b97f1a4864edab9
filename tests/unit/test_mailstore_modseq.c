/*
 * test_mailstore_modseq.c - the (mailbox, modseq, uid) indexes behind
 * mstore_msg_list_changed() and mstore_tombstones() (mailstore_modseq.c).
 *
 * The answers are checked against the slow truth: a full listing of the
 * mailbox filtered by modseq, and a model of which uids were expunged at
 * which modseq.  Random flag changes, deliveries, copies, moves and
 * expunges run in two mailboxes; every few steps every "since" is asked.
 * Then the indexes are removed as a store from before them would lack
 * them, and the reopened store must build them and answer the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store/mailstore.h"
#include "strbuf.h"

static char tmpdir[] = "/tmp/rookery-test-msmod-XXXXXX";

#define TEST_PROGRAM "test_mailstore_modseq"
#include "mailstore_testlib.h"

#define MAXUID 512

/* What the test knows: expunge modseq per uid (0 = not expunged). */
struct model {
	uint32_t id;
	uint64_t gone[MAXUID];
};

static uint64_t highest(struct mstore *ms, uint32_t id)
{
	struct mstore_mailbox mb = mbox(ms, id);
	uint64_t h = mb.highestmodseq;

	mstore_mailbox_clear(&mb);
	return h;
}

/* Every since in 0..highest: index answer == filtered full listing. */
static void check_all(struct mstore *ms, const struct model *m)
{
	struct mstore_msg *all, *ch;
	uint32_t *tomb;
	size_t nall, nch, nt;
	uint64_t h = highest(ms, m->id);

	assert_int_equal(mstore_msg_list(ms, m->id, &all, &nall), MSTORE_OK);
	for (uint64_t since = 0; since <= h + 1; since++) {
		size_t k = 0, want = 0;

		assert_int_equal(
		    mstore_msg_list_changed(ms, m->id, since, &ch, &nch),
		    MSTORE_OK);
		for (size_t i = 0; i < nall; i++) {
			if (all[i].modseq <= since)
				continue;
			assert_true(k < nch);
			/* same rows, same uid order, same content */
			assert_int_equal(ch[k].uid, all[i].uid);
			assert_int_equal(ch[k].modseq, all[i].modseq);
			assert_int_equal(ch[k].flags, all[i].flags);
			assert_int_equal(ch[k].keywords, all[i].keywords);
			assert_string_equal(ch[k].guid, all[i].guid);
			k++;
		}
		assert_int_equal(k, nch);
		free(ch);

		assert_int_equal(mstore_tombstones(ms, m->id, since, &tomb, &nt),
				 MSTORE_OK);
		for (uint32_t uid = 1; uid < MAXUID; uid++) {
			if (m->gone[uid] <= since)
				continue;
			assert_true(want < nt);
			assert_int_equal(tomb[want], uid);
			want++;
		}
		assert_int_equal(want, nt);
		free(tomb);
	}
	free(all);
}

static void random_step(struct mstore *ms, struct model *a, struct model *b,
			unsigned *seed)
{
	struct mstore_msg *all;
	size_t nall;
	uint32_t pick[8];
	size_t np = 0;
	unsigned op = (unsigned)rand_r(seed) % 6;

	assert_int_equal(mstore_msg_list(ms, a->id, &all, &nall), MSTORE_OK);
	for (size_t i = 0; i < nall && np < 8; i++)
		if ((unsigned)rand_r(seed) % 3 == 0)
			pick[np++] = all[i].uid;
	free(all);
	if (op <= 1 || np == 0) {
		deliver(ms, "u@x", (unsigned)rand_r(seed) % 2 ? "Other" : NULL,
			MSG1, 0);
	} else if (op == 2) {
		const char *kw[] = {"$Label1", NULL};
		struct mstore_flag_change chg = {
		    .op = (unsigned)rand_r(seed) % 2 ? MSTORE_FLAGS_ADD
						     : MSTORE_FLAGS_REMOVE,
		    .flags = MSTORE_F_SEEN | MSTORE_F_FLAGGED,
		    .keywords = (unsigned)rand_r(seed) % 2 ? kw : NULL};

		assert_int_equal(mstore_flags_store(ms, a->id, pick, np, &chg,
						    NULL, NULL, NULL, NULL),
				 MSTORE_OK);
	} else if (op == 3 || op == 4) {
		uint32_t *done;
		size_t nd;
		uint64_t h;

		if (op == 3) {
			assert_int_equal(
			    mstore_expunge(ms, a->id, pick, np, &done, &nd),
			    MSTORE_OK);
		} else {
			struct mstore_uidmap *map;
			size_t nmap;

			/* MOVE expunges the sources with tombstones */
			assert_int_equal(mstore_copy(ms, a->id, pick, np, b->id,
						     1, &map, &nmap, NULL),
					 MSTORE_OK);
			free(map);
			done = xcalloc(np, sizeof(*done));
			memcpy(done, pick, np * sizeof(*pick));
			nd = np;
		}
		h = highest(ms, a->id);
		for (size_t i = 0; i < nd; i++)
			if (done[i] < MAXUID)
				a->gone[done[i]] = h;
		free(done);
	} else {
		struct mstore_uidmap *map;
		size_t nmap;

		assert_int_equal(mstore_copy(ms, a->id, pick, np, b->id, 0,
					     &map, &nmap, NULL),
				 MSTORE_OK);
		free(map);
	}
}

static void test_index_matches_scan(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct model *a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));
	unsigned seed = 20261124;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "Other", 0, &b->id),
			 MSTORE_OK);
	for (int i = 0; i < 20; i++)
		deliver(ms, "u@x", NULL, MSG1, 0);
	a->id = mbox_id(ms, "u@x", "INBOX");
	for (int step = 0; step < 160; step++) {
		random_step(ms, a, b, &seed);
		if (step % 20 == 19) {
			check_all(ms, a);
			check_all(ms, b);
		}
		if (step == 80) {
			/* the indexes are durable like the records */
			mstore_close(&ms);
			ms = open_ms(dir);
		}
	}

	/* A store made before the indexes: drop them; the next open builds
	 * them from the records. */
	mstore_close(&ms);
	{
		struct db_env *env = NULL;
		struct db_env_params dp = {0};
		char *dbdir = xasprintf("%s/db", dir), *err = NULL;
		DB_ENV *h;

		assert_int_equal(db_env_open(dbdir, &dp, &env, &err), 0);
		h = db_env_handle(env);
		assert_int_equal(h->dbremove(h, NULL, "msgs_bymod.db", NULL,
					     DB_AUTO_COMMIT),
				 0);
		assert_int_equal(h->dbremove(h, NULL, "tombs_bymod.db", NULL,
					     DB_AUTO_COMMIT),
				 0);
		db_env_close(&env);
		free(dbdir);
	}
	ms = open_ms(dir);
	check_all(ms, a);
	check_all(ms, b);

	/* a deleted mailbox leaves nothing behind in either index */
	assert_int_equal(mstore_mailbox_delete(ms, "u@x", "Other"), MSTORE_OK);
	{
		struct mstore_msg *ch;
		uint32_t *tomb;
		size_t n;

		assert_int_equal(mstore_msg_list_changed(ms, b->id, 0, &ch, &n),
				 MSTORE_OK);
		assert_int_equal(n, 0);
		free(ch);
		assert_int_equal(mstore_tombstones(ms, b->id, 0, &tomb, &n),
				 MSTORE_OK);
		assert_int_equal(n, 0);
		free(tomb);
	}
	mstore_close(&ms);
	free(a);
	free(b);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_matches_scan),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
