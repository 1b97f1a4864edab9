/*
 * test_mailstore.c - the storage engine (store/mailstore.h): users,
 * mailboxes, append, flags and modseq, expunge and tombstones, copy and
 * move, quota, the change log, rename, reconstruct, start-up cleanup and
 * group-committed concurrent deliveries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db.h"
#include "log.h"
#include "net.h"
#include "store/mailstore.h"
#include "store/mailstore_int.h"
#include "store/mime.h"
#include "strbuf.h"

static char tmpdir[] = "/tmp/rookery-test-ms-XXXXXX";

#define TEST_PROGRAM "test_mailstore"
#include "mailstore_testlib.h"

/* ---- names, users, mailboxes ------------------------------------------ */

static void test_names(void **state)
{
	static const char *good[] = {
	    "INBOX",	   "inbox", "Archive/2024", "Sent Items",
	    "Caf\xc3\xa9", "a.b",   ".hidden",	    "x/.y"};
	static const char *bad[] = {"",	     "/abs",	  "a/",	     "a//b",
				    "..",    "a/../b",	  "a..b",    ".",
				    "a/./b", "tab\there", "nl\n",    "\xff\xfe",
				    "\xc3",  "a\x7f",	  "\xc2\x85"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(mstore_mailbox_name_valid(good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mstore_mailbox_name_valid(bad[i]) != -1)
			fail_msg("accepted bad name %zu", i);
	}
	assert_int_equal(mstore_mailbox_name_valid(NULL), -1);
}

static void test_users_mailboxes(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_mailbox *mbs, mb;
	char **users;
	size_t n;
	uint32_t id, id2;
	struct stat st;
	char *path;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "Alice@Example.com"),
			 MSTORE_OK);
	assert_int_equal(mstore_user_create(ms, "alice@example.com"),
			 MSTORE_E_EXISTS);
	assert_int_equal(mstore_user_create(ms, "bad user"), MSTORE_E_BADNAME);
	assert_int_equal(mstore_user_create(ms, "bob@example.com"), MSTORE_OK);
	assert_int_equal(mstore_user_exists(ms, "ALICE@example.com"),
			 MSTORE_OK);
	assert_int_equal(mstore_user_exists(ms, "nobody@example.com"),
			 MSTORE_E_NOUSER);
	assert_int_equal(mstore_user_list(ms, &users, &n), MSTORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(users[0], "alice@example.com");
	mstore_strv_free(&users, n);

	/* INBOX made with the user, case-insensitive */
	id = mbox_id(ms, "alice@example.com", "inbox");
	assert_true(id != 0);
	assert_int_equal(mbox_id(ms, "alice@example.com", "InBoX"), id);
	path = mstore_mailbox_dir(ms, id);
	assert_int_equal(stat(path, &st), 0);
	free(path);

	assert_int_equal(
	    mstore_mailbox_create(ms, "alice@example.com", "Archive", 0, &id2),
	    MSTORE_OK);
	assert_true(id2 > id);
	assert_int_equal(mstore_mailbox_create(ms, "alice@example.com",
					       "Archive/2024",
					       MSTORE_SU_ARCHIVE, NULL),
			 MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_create(ms, "alice@example.com", "Archive", 0, NULL),
	    MSTORE_E_EXISTS);
	assert_int_equal(
	    mstore_mailbox_create(ms, "alice@example.com", "INBOX", 0, NULL),
	    MSTORE_E_EXISTS);
	assert_int_equal(
	    mstore_mailbox_create(ms, "alice@example.com", "../etc", 0, NULL),
	    MSTORE_E_BADNAME);
	assert_int_equal(
	    mstore_mailbox_create(ms, "alice@example.com", "a\001b", 0, NULL),
	    MSTORE_E_BADNAME);
	assert_int_equal(
	    mstore_mailbox_create(ms, "nobody@example.com", "X", 0, NULL),
	    MSTORE_E_NOUSER);
	assert_int_equal(mstore_mailbox_create(ms, "alice@example.com",
					       "inbox/Sub", 0, NULL),
			 MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_get(ms, "alice@example.com", "INBOX/Sub", &mb),
	    MSTORE_OK);
	assert_string_equal(mb.name, "INBOX/Sub");
	mstore_mailbox_clear(&mb);

	assert_int_equal(mstore_mailbox_list(ms, "alice@example.com", &mbs, &n),
			 MSTORE_OK);
	assert_int_equal(n, 4);
	assert_string_equal(mbs[0].name, "INBOX");
	assert_string_equal(mbs[1].name, "Archive");
	assert_string_equal(mbs[2].name, "Archive/2024");
	assert_int_equal(mbs[2].special_use, MSTORE_SU_ARCHIVE);
	assert_true(mbs[1].uidvalidity < mbs[2].uidvalidity);
	assert_int_equal(mbs[1].uidnext, 1);
	mstore_mailbox_list_free(&mbs, n);

	assert_int_equal(
	    mstore_mailbox_delete(ms, "alice@example.com", "INBOX"),
	    MSTORE_E_CANNOT);
	assert_int_equal(
	    mstore_mailbox_delete(ms, "alice@example.com", "Archive"),
	    MSTORE_E_HASCHILDREN);
	assert_int_equal(
	    mstore_mailbox_delete(ms, "alice@example.com", "Archive/2024"),
	    MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_delete(ms, "alice@example.com", "Archive"),
	    MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_delete(ms, "alice@example.com", "Archive"),
	    MSTORE_E_NOMAILBOX);
	path = mstore_mailbox_dir(ms, id2);
	assert_int_equal(stat(path, &st), -1);
	free(path);

	/* a recreated name gets a new id and UIDVALIDITY */
	assert_int_equal(
	    mstore_mailbox_create(ms, "alice@example.com", "Archive", 0, &id),
	    MSTORE_OK);
	assert_true(id > id2);

	assert_int_equal(
	    mstore_mailbox_set_special_use(ms, id, MSTORE_SU_TRASH), MSTORE_OK);
	mb = mbox(ms, id);
	assert_int_equal(mb.special_use, MSTORE_SU_TRASH);
	mstore_mailbox_clear(&mb);

	assert_int_equal(mstore_user_delete(ms, "alice@example.com"),
			 MSTORE_OK);
	assert_int_equal(mstore_user_exists(ms, "alice@example.com"),
			 MSTORE_E_NOUSER);
	assert_int_equal(mstore_mailbox_get_by_id(ms, id, &mb),
			 MSTORE_E_NOMAILBOX);
	assert_int_equal(mstore_user_delete(ms, "alice@example.com"),
			 MSTORE_E_NOUSER);
	mstore_close(&ms);
	free(dir);
}

/* ---- append ------------------------------------------------------------- */

struct mime_each {
	size_t n;
	size_t stop_after;
	uint32_t uids[4];
	char *subj[4];
};

static int mime_each_cb(void *arg, uint32_t uid,
			const struct mime_message *mime)
{
	struct mime_each *me = arg;

	if (me->n < 4) {
		free(me->subj[me->n]);
		me->subj[me->n] = xstrdup(mime->subject ? mime->subject : "");
		me->uids[me->n] = uid;
	}
	me->n++;
	return me->stop_after != 0 && me->n >= me->stop_after;
}

static void test_append(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_target t1, t2, t3;
	struct mstore_mailbox mb;
	struct mstore_msg *msgs, m;
	struct mime_message *mime;
	struct mstore_quota q;
	char guid[65], *path, *data;
	struct stat st;
	size_t n, len;
	int fd;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	t1 = deliver(ms, "u@x", NULL, MSG1, 1700000000);
	t2 = deliver(ms, "U@X", "INBOX", MSG2, 0);
	t3 = deliver(ms, "u@x", NULL, MSG1, 1600000000);
	assert_int_equal(t1.result, MSTORE_OK);
	assert_int_equal(t2.result, MSTORE_OK);
	assert_int_equal(t1.result_uid, 1);
	assert_int_equal(t2.result_uid, 2);
	assert_int_equal(t3.result_uid, 3);
	assert_int_equal(t1.result_mailbox_id, t3.result_mailbox_id);

	mb = mbox(ms, t1.result_mailbox_id);
	assert_int_equal(mb.uidvalidity, t1.result_uidvalidity);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.unseen, 3);
	assert_int_equal(mb.uidnext, 4);
	assert_int_equal(mb.bytes, 2 * strlen(MSG1) + strlen(MSG2));
	assert_int_equal(mb.highestmodseq, 4); /* 1 at creation + 3 */
	mstore_mailbox_clear(&mb);

	assert_int_equal(mstore_msg_list(ms, t1.result_mailbox_id, &msgs, &n),
			 MSTORE_OK);
	assert_int_equal(n, 3);
	ms_sha256_hex(MSG1, strlen(MSG1), guid);
	assert_string_equal(msgs[0].guid, guid);
	assert_int_equal(msgs[0].size, strlen(MSG1));
	assert_int_equal(msgs[0].internaldate, 1700000000);
	assert_true(msgs[1].internaldate > 1700000000);
	assert_int_equal(msgs[0].modseq, 2);
	assert_int_equal(msgs[2].modseq, 4);
	free(msgs);

	/* the file: content, mtime = INTERNALDATE */
	path = mstore_msg_path(ms, t1.result_mailbox_id, 1);
	data = read_file(path, &len);
	assert_non_null(data);
	assert_int_equal(len, strlen(MSG1));
	assert_memory_equal(data, MSG1, len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtime, 1700000000);
	free(data);
	free(path);
	assert_int_equal(mstore_msg_open(ms, t1.result_mailbox_id, 2, &fd),
			 MSTORE_OK);
	close(fd);
	assert_int_equal(mstore_msg_open(ms, t1.result_mailbox_id, 9, &fd),
			 MSTORE_E_NOTFOUND);
	assert_int_equal(mstore_msg_get(ms, t1.result_mailbox_id, 3, &m),
			 MSTORE_OK);
	assert_int_equal(m.internaldate, 1600000000);

	/* the MIME structure was cached at delivery */
	assert_int_equal(mstore_msg_mime(ms, t1.result_mailbox_id, 2, &mime),
			 MSTORE_OK);
	assert_non_null(mime);
	assert_string_equal(mime->subject, "two");
	assert_true(mime->nparts >= 2);
	mime_message_free(&mime);
	assert_int_equal(mstore_msg_mime(ms, t1.result_mailbox_id, 7, &mime),
			 MSTORE_E_NOTFOUND);
	{
		struct mime_each me = {0};

		assert_int_equal(mstore_msg_mime_each(ms, t1.result_mailbox_id,
						      2, UINT32_MAX,
						      mime_each_cb, &me),
				 MSTORE_OK);
		assert_int_equal(me.n, 2);
		assert_int_equal(me.uids[0], 2);
		assert_int_equal(me.uids[1], 3);
		assert_string_equal(me.subj[0], "two");
		me.n = 0;
		me.stop_after = 1;
		assert_int_equal(mstore_msg_mime_each(ms, t1.result_mailbox_id,
						      1, 2, mime_each_cb, &me),
				 MSTORE_OK);
		assert_int_equal(me.n, 1);
		assert_int_equal(me.uids[0], 1);
		for (int i = 0; i < 4; i++)
			free(me.subj[i]);
	}

	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(q.bytes_used, 2 * strlen(MSG1) + strlen(MSG2));

	/* nothing left in tmp/ */
	path = xasprintf("%s/tmp", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	mstore_close(&ms);
	free(dir);
}

static void test_deliver_targets(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_spool *sp;
	const char *kws[] = {"$Forwarded", "Work", NULL};
	struct mstore_target t[5] = {
	    {.user = "u@x",
	     .mailbox = "Lists",
	     .fallback_inbox = 1,
	     .flags = MSTORE_F_SEEN,
	     .keywords = kws},
	    {.user = "u@x", .mailbox = "Lists"},
	    {.user = "ghost@x"},
	    {.user = "u@x", .mailbox = "Folder"},
	    {.user = "v@x"},
	};
	struct mstore_msg m;
	char **names;
	size_t n;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_user_create(ms, "v@x"), MSTORE_OK);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "Folder", 0, NULL),
			 MSTORE_OK);
	sp = spool_of(ms, MSG1);
	assert_int_equal(mstore_spool_size(sp), strlen(MSG1));
	assert_int_equal(strlen(mstore_spool_guid(sp)), 64);
	assert_int_equal(mstore_deliver_sync(ms, sp, t, 5), MSTORE_OK);
	assert_int_equal(t[0].result, MSTORE_OK);
	assert_int_equal(t[0].result_mailbox_id, mbox_id(ms, "u@x", "INBOX"));
	assert_int_equal(t[1].result, MSTORE_E_NOMAILBOX);
	assert_int_equal(t[2].result, MSTORE_E_NOUSER);
	assert_int_equal(t[3].result, MSTORE_OK);
	assert_int_equal(t[3].result_uid, 1);
	assert_int_equal(t[4].result, MSTORE_OK);

	assert_int_equal(mstore_msg_get(ms, t[0].result_mailbox_id, 1, &m),
			 MSTORE_OK);
	assert_int_equal(m.flags, MSTORE_F_SEEN);
	assert_int_equal(m.keywords, 3);
	assert_int_equal(
	    mstore_keywords(ms, t[0].result_mailbox_id, &names, &n), MSTORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(names[1], "Work");
	mstore_strv_free(&names, n);
	/* one file, three links */
	{
		char *p = mstore_msg_path(ms, t[3].result_mailbox_id, 1);
		struct stat st;

		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_nlink, 4); /* + the spool */
		free(p);
	}
	mstore_spool_free(&sp);
	/* an unfinished spool cannot be delivered */
	assert_int_equal(mstore_spool_new(ms, &sp), MSTORE_OK);
	assert_int_equal(mstore_deliver_sync(ms, sp, t, 1), MSTORE_E_INVAL);
	mstore_spool_free(&sp);
	mstore_close(&ms);
	free(dir);
}

/* MULTIAPPEND: all or nothing, in one transaction. */
static void test_multiappend(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_spool *sps[3];
	struct mstore_target t[3];
	struct mstore_mailbox mb;
	uint32_t id;
	uint64_t seq0;
	char *mdir;
	size_t nfiles = 0;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_create(ms, "u@x", "Drafts", MSTORE_SU_DRAFTS, &id),
	    MSTORE_OK);
	for (int i = 0; i < 3; i++) {
		sps[i] = spool_of(ms, i == 1 ? MSG2 : MSG1);
		t[i] = (struct mstore_target){.user = "u@x",
					      .mailbox = "Drafts",
					      .flags = MSTORE_F_DRAFT,
					      .internaldate = 1500000000 + i};
	}
	seq0 = mstore_changes_last_seq(ms);
	assert_int_equal(mstore_append_multi(ms, sps, t, 3, NULL, NULL),
			 MSTORE_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].result, MSTORE_OK);
		assert_int_equal(t[i].result_uid, (uint32_t)i + 1);
		assert_int_equal(t[i].result_mailbox_id, id);
	}
	assert_int_equal(count_kind(ms, seq0, MSTORE_CH_APPEND), 3);
	/* the same spool twice is refused */
	{
		struct mstore_spool *twice[2] = {sps[0], sps[0]};

		assert_int_equal(
		    mstore_append_multi(ms, twice, t, 2, NULL, NULL),
		    MSTORE_E_INVAL);
	}
	/* the third would go over quota: nothing is appended */
	assert_int_equal(mstore_quota_set(ms, "u@x", 0, 5), MSTORE_OK);
	assert_int_equal(mstore_append_multi(ms, sps, t, 3, NULL, NULL),
			 MSTORE_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].result, MSTORE_E_OVERQUOTA);
		assert_int_equal(t[i].result_uid, 0);
	}
	mb = mbox(ms, id);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.uidnext, 4);
	mstore_mailbox_clear(&mb);
	/* and no file was left behind */
	mdir = mstore_mailbox_dir(ms, id);
	{
		DIR *d = opendir(mdir);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			nfiles += de->d_name[0] != '.';
		closedir(d);
	}
	assert_int_equal(nfiles, 3);
	free(mdir);
	/* a missing mailbox fails them all too */
	t[1].mailbox = "Nope";
	assert_int_equal(mstore_quota_set(ms, "u@x", 0, 0), MSTORE_OK);
	assert_int_equal(mstore_append_multi(ms, sps, t, 3, NULL, NULL),
			 MSTORE_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t[i].result, MSTORE_E_NOMAILBOX);
	for (int i = 0; i < 3; i++)
		mstore_spool_free(&sps[i]);
	mstore_close(&ms);
	free(dir);
}

/* ---- flags and modseq ---------------------------------------------------- */

static void test_flags_modseq(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	const char *kw[] = {"Important", NULL};
	const char *kw2[] = {"important", "$Junk", NULL};
	struct mstore_flag_change chg = {.op = MSTORE_FLAGS_ADD,
					 .flags = MSTORE_F_SEEN};
	uint32_t uids[] = {3, 1, 2, 99}, *failed;
	struct mstore_msg *changed, *msgs;
	struct mstore_mailbox mb;
	size_t nch, nf, n;
	uint64_t hms, seq0;
	uint32_t id;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	for (int i = 0; i < 3; i++)
		deliver(ms, "u@x", NULL, MSG1, 0);
	id = mbox_id(ms, "u@x", "INBOX");
	mb = mbox(ms, id);
	hms = mb.highestmodseq;
	mstore_mailbox_clear(&mb);
	seq0 = mstore_changes_last_seq(ms);

	/* +FLAGS \Seen on 1:3 (and a missing uid): one new modseq */
	assert_int_equal(mstore_flags_store(ms, id, uids, 4, &chg, &changed,
					    &nch, &failed, &nf),
			 MSTORE_OK);
	assert_int_equal(nch, 3);
	assert_int_equal(nf, 0);
	assert_int_equal(changed[0].uid, 1);
	for (size_t i = 0; i < nch; i++) {
		assert_int_equal(changed[i].modseq, hms + 1);
		assert_int_equal(changed[i].flags, MSTORE_F_SEEN);
	}
	free(changed);
	free(failed);
	assert_int_equal(count_kind(ms, seq0, MSTORE_CH_FLAGS), 3);
	mb = mbox(ms, id);
	assert_int_equal(mb.highestmodseq, hms + 1);
	assert_int_equal(mb.unseen, 0);
	mstore_mailbox_clear(&mb);

	/* no change: no modseq bump */
	assert_int_equal(mstore_flags_store(ms, id, uids, 3, &chg, &changed,
					    &nch, NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(nch, 0);
	free(changed);
	mb = mbox(ms, id);
	assert_int_equal(mb.highestmodseq, hms + 1);
	mstore_mailbox_clear(&mb);

	/* keywords + \Deleted on uid 2 */
	chg.flags = MSTORE_F_DELETED;
	chg.keywords = kw;
	assert_int_equal(mstore_flags_store(ms, id, &uids[2], 1, &chg, &changed,
					    &nch, NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(nch, 1);
	assert_int_equal(changed[0].modseq, hms + 2);
	assert_int_equal(changed[0].keywords, 1);
	assert_int_equal(changed[0].flags, MSTORE_F_SEEN | MSTORE_F_DELETED);
	free(changed);

	/* UNCHANGEDSINCE: uid 2 was modified after hms + 1 */
	chg.op = MSTORE_FLAGS_REPLACE;
	chg.flags = MSTORE_F_FLAGGED;
	chg.keywords = kw2;
	chg.unchangedsince = hms + 1;
	assert_int_equal(mstore_flags_store(ms, id, uids, 3, &chg, &changed,
					    &nch, &failed, &nf),
			 MSTORE_OK);
	assert_int_equal(nf, 1);
	assert_int_equal(failed[0], 2);
	assert_int_equal(nch, 2);
	assert_int_equal(changed[0].flags, MSTORE_F_FLAGGED);
	assert_int_equal(changed[0].keywords, 3); /* "important" = bit 0 */
	assert_int_equal(changed[0].modseq, hms + 3);
	free(changed);
	free(failed);

	mb = mbox(ms, id);
	assert_int_equal(mb.unseen, 2);
	assert_int_equal(mb.deleted, 1);
	mstore_mailbox_clear(&mb);

	/* CHANGEDSINCE listing */
	assert_int_equal(mstore_msg_list_changed(ms, id, hms + 2, &msgs, &n),
			 MSTORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 3);
	free(msgs);

	/* -FLAGS */
	chg.op = MSTORE_FLAGS_REMOVE;
	chg.flags = MSTORE_F_FLAGGED;
	chg.keywords = NULL;
	chg.unchangedsince = 0;
	assert_int_equal(
	    mstore_flags_store(ms, id, uids, 3, &chg, NULL, NULL, NULL, NULL),
	    MSTORE_OK);
	assert_int_equal(mstore_msg_list(ms, id, &msgs, &n), MSTORE_OK);
	assert_int_equal(msgs[0].flags, 0);
	assert_int_equal(msgs[0].modseq, hms + 4);
	assert_int_equal(msgs[1].flags, MSTORE_F_SEEN | MSTORE_F_DELETED);
	free(msgs);

	/* bad keyword */
	{
		const char *badkw[] = {"a b", NULL};

		chg.keywords = badkw;
		assert_int_equal(mstore_flags_store(ms, id, uids, 1, &chg, NULL,
						    NULL, NULL, NULL),
				 MSTORE_E_INVAL);
	}
	mstore_close(&ms);
	free(dir);
}

/* ---- expunge and tombstones ------------------------------------------------
 */

static void test_expunge(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	uint32_t uids[] = {2, 4, 77}, *done, *tomb;
	struct mstore_mailbox mb;
	struct mstore_quota q;
	struct mstore_msg *msgs;
	size_t n, nd, nt;
	uint64_t hms, seq0;
	uint32_t id;
	struct stat st;
	char *p;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	for (int i = 0; i < 5; i++)
		deliver(ms, "u@x", NULL, MSG1, 0);
	id = mbox_id(ms, "u@x", "INBOX");
	mb = mbox(ms, id);
	hms = mb.highestmodseq;
	mstore_mailbox_clear(&mb);
	seq0 = mstore_changes_last_seq(ms);

	assert_int_equal(mstore_expunge(ms, id, uids, 3, &done, &nd),
			 MSTORE_OK);
	assert_int_equal(nd, 2);
	assert_int_equal(done[0], 2);
	assert_int_equal(done[1], 4);
	free(done);
	assert_int_equal(count_kind(ms, seq0, MSTORE_CH_EXPUNGE), 2);

	/* files unlinked after the (synchronous) commit */
	p = mstore_msg_path(ms, id, 2);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	p = mstore_msg_path(ms, id, 3);
	assert_int_equal(stat(p, &st), 0);
	free(p);

	mb = mbox(ms, id);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.highestmodseq, hms + 1);
	assert_int_equal(mb.uidnext, 6);
	mstore_mailbox_clear(&mb);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(q.bytes_used, 3 * strlen(MSG1));

	assert_int_equal(mstore_tombstones(ms, id, hms, &tomb, &nt), MSTORE_OK);
	assert_int_equal(nt, 2);
	assert_int_equal(tomb[0], 2);
	assert_int_equal(tomb[1], 4);
	free(tomb);
	assert_int_equal(mstore_tombstones(ms, id, hms + 1, &tomb, &nt),
			 MSTORE_OK);
	assert_int_equal(nt, 0);
	free(tomb);

	assert_int_equal(mstore_msg_list(ms, id, &msgs, &n), MSTORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(msgs[1].uid, 3);
	free(msgs);

	/* UIDs never go back, even after everything is expunged */
	{
		uint32_t all[] = {1, 3, 5};
		struct mstore_target t;

		assert_int_equal(mstore_expunge(ms, id, all, 3, NULL, NULL),
				 MSTORE_OK);
		t = deliver(ms, "u@x", NULL, MSG2, 0);
		assert_int_equal(t.result_uid, 6);
	}
	mstore_close(&ms);
	free(dir);
}

/* ---- copy / move --------------------------------------------------------- */

static void test_copy_move(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	const char *kw[] = {"Alpha", "Beta", NULL};
	struct mstore_flag_change chg = {.op = MSTORE_FLAGS_ADD,
					 .flags = MSTORE_F_FLAGGED,
					 .keywords = &kw[1]};
	uint32_t uids[] = {3, 1}, one = 2, src, dst, uv, *tomb;
	struct mstore_uidmap *map;
	struct mstore_mailbox mb;
	struct mstore_msg m;
	struct mstore_quota q;
	struct stat s1, s2;
	char **names, *p1, *p2;
	size_t n, nt;
	uint64_t seq0;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "Dst", 0, &dst),
			 MSTORE_OK);
	/* dst knows "Alpha" first, so Beta has another bit there */
	{
		struct mstore_target t = deliver(ms, "u@x", "Dst", MSG2, 0);
		uint32_t u = t.result_uid;
		struct mstore_flag_change c0 = {.op = MSTORE_FLAGS_ADD,
						.keywords = kw};

		assert_int_equal(mstore_flags_store(ms, dst, &u, 1, &c0, NULL,
						    NULL, NULL, NULL),
				 MSTORE_OK);
	}
	for (int i = 0; i < 3; i++)
		deliver(ms, "u@x", NULL, MSG1, 1500000000 + i);
	src = mbox_id(ms, "u@x", "INBOX");
	assert_int_equal(
	    mstore_flags_store(ms, src, uids, 1, &chg, NULL, NULL, NULL, NULL),
	    MSTORE_OK);
	seq0 = mstore_changes_last_seq(ms);

	assert_int_equal(mstore_copy(ms, src, uids, 2, dst, 0, &map, &n, &uv),
			 MSTORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(map[0].src_uid, 1);
	assert_int_equal(map[0].dst_uid, 2);
	assert_int_equal(map[1].src_uid, 3);
	assert_int_equal(map[1].dst_uid, 3);
	free(map);
	mb = mbox(ms, dst);
	assert_int_equal(uv, mb.uidvalidity);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.uidnext, 4);
	mstore_mailbox_clear(&mb);
	assert_int_equal(count_kind(ms, seq0, MSTORE_CH_APPEND), 2);

	/* hard links: same inode */
	p1 = mstore_msg_path(ms, src, 3);
	p2 = mstore_msg_path(ms, dst, 3);
	assert_int_equal(stat(p1, &s1), 0);
	assert_int_equal(stat(p2, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	free(p1);
	free(p2);

	/* flags kept, keyword re-mapped: Beta is bit 1 in dst */
	assert_int_equal(mstore_msg_get(ms, dst, 3, &m), MSTORE_OK);
	assert_int_equal(m.flags, MSTORE_F_FLAGGED);
	assert_int_equal(m.keywords, 2);
	assert_int_equal(m.internaldate, 1500000002);
	assert_int_equal(mstore_keywords(ms, dst, &names, &n), MSTORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(names[1], "Beta");
	mstore_strv_free(&names, n);
	/* the MIME record came along */
	{
		struct mime_message *mime;

		assert_int_equal(mstore_msg_mime(ms, dst, 2, &mime), MSTORE_OK);
		mime_message_free(&mime);
	}
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 6);

	/* MOVE */
	seq0 = mstore_changes_last_seq(ms);
	assert_int_equal(mstore_copy(ms, src, &one, 1, dst, 1, &map, &n, NULL),
			 MSTORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(map[0].dst_uid, 4);
	free(map);
	assert_int_equal(mstore_msg_get(ms, src, 2, &m), MSTORE_E_NOTFOUND);
	assert_int_equal(mstore_tombstones(ms, src, 0, &tomb, &nt), MSTORE_OK);
	assert_int_equal(nt, 1);
	assert_int_equal(tomb[0], 2);
	free(tomb);
	assert_int_equal(count_kind(ms, seq0, MSTORE_CH_APPEND), 1);
	assert_int_equal(count_kind(ms, seq0, MSTORE_CH_EXPUNGE), 1);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 6);
	p1 = mstore_msg_path(ms, dst, 4);
	assert_int_equal(stat(p1, &s1), 0);
	assert_int_equal(s1.st_nlink, 1);
	free(p1);

	/* errors */
	assert_int_equal(
	    mstore_copy(ms, src, uids, 2, 9999, 0, NULL, NULL, NULL),
	    MSTORE_E_NOMAILBOX);
	/* copying nothing that exists is fine */
	assert_int_equal(mstore_copy(ms, src, &one, 1, dst, 0, &map, &n, NULL),
			 MSTORE_OK);
	assert_int_equal(n, 0);
	free(map);
	mstore_close(&ms);
	free(dir);
}

/* The UIDs 1..n. */
static uint32_t *uid_range(size_t n)
{
	uint32_t *u = xmalloc(n * sizeof(*u));

	for (size_t i = 0; i < n; i++)
		u[i] = (uint32_t)i + 1;
	return u;
}

/*
 * Sets above one transaction's worth (2,000): a MOVE of 5,000 once ran
 * out of lock entries.  A COPY that fails part-way takes back what it
 * had committed; a MOVE keeps what it moved and says so.
 */
static void test_copy_move_large(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_uidmap *map = NULL;
	struct mstore_mailbox mb;
	struct mstore_quota q;
	uint32_t in, b, c, *all;
	size_t n = 0, have = 1;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_user_create(ms, "v@x"), MSTORE_OK);
	deliver(ms, "u@x", NULL, MSG1, 0);
	in = mbox_id(ms, "u@x", "INBOX");
	all = uid_range(5000);
	while (have < 5000) { /* doubling COPYs into INBOX itself */
		size_t k = have < 5000 - have ? have : 5000 - have;

		assert_int_equal(mstore_copy(ms, in, all, k, in, 0, NULL, NULL,
					     NULL),
				 MSTORE_OK);
		have += k;
	}
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "B", 0, &b),
			 MSTORE_OK);
	assert_int_equal(mstore_copy(ms, in, all, 5000, b, 1, &map, &n, NULL),
			 MSTORE_OK);
	assert_int_equal(n, 5000);
	assert_int_equal(map[0].src_uid, 1);
	assert_int_equal(map[0].dst_uid, 1);
	assert_int_equal(map[4999].src_uid, 5000);
	assert_int_equal(map[4999].dst_uid, 5000);
	free(map);
	mb = mbox(ms, in);
	assert_int_equal(mb.messages, 0);
	mstore_mailbox_clear(&mb);
	mb = mbox(ms, b);
	assert_int_equal(mb.messages, 5000);
	mstore_mailbox_clear(&mb);

	/* COPY past the quota in its third transaction: nothing stays */
	assert_int_equal(mstore_quota_set(ms, "u@x", 0, 5000 + 4500),
			 MSTORE_OK);
	assert_int_equal(mstore_copy(ms, b, all, 5000, b, 0, &map, &n, NULL),
			 MSTORE_E_OVERQUOTA);
	assert_int_equal(n, 0);
	free(map);
	mb = mbox(ms, b);
	assert_int_equal(mb.messages, 5000);
	mstore_mailbox_clear(&mb);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 5000);

	/* MOVE to another user over its quota: the first 2,000 moved */
	assert_int_equal(mstore_quota_set(ms, "v@x", 0, 3000), MSTORE_OK);
	c = mbox_id(ms, "v@x", "INBOX");
	assert_int_equal(mstore_copy(ms, b, all, 5000, c, 1, &map, &n, NULL),
			 MSTORE_E_OVERQUOTA);
	assert_int_equal(n, 2000);
	assert_int_equal(map[1999].src_uid, 2000);
	free(map);
	mb = mbox(ms, b);
	assert_int_equal(mb.messages, 3000);
	mstore_mailbox_clear(&mb);
	mb = mbox(ms, c);
	assert_int_equal(mb.messages, 2000);
	mstore_mailbox_clear(&mb);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 3000);
	assert_int_equal(mstore_quota_get(ms, "v@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 2000);
	free(all);
	mstore_close(&ms);
	free(dir);
}

/* ---- quota ------------------------------------------------------------------
 */

static void test_quota(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_target t;
	struct mstore_quota q;
	uint32_t all[] = {1, 2}, dst;
	size_t one = strlen(MSG1);

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_quota_set(ms, "u@x", 2 * one + 1, 0),
			 MSTORE_OK);
	assert_int_equal(mstore_quota_set(ms, "ghost@x", 1, 1),
			 MSTORE_E_NOUSER);
	assert_int_equal(deliver(ms, "u@x", NULL, MSG1, 0).result, MSTORE_OK);
	assert_int_equal(mstore_quota_check(ms, "u@x", one, 1), MSTORE_OK);
	assert_int_equal(deliver(ms, "u@x", NULL, MSG1, 0).result, MSTORE_OK);
	assert_int_equal(mstore_quota_check(ms, "u@x", one, 1),
			 MSTORE_E_OVERQUOTA);
	t = deliver(ms, "u@x", NULL, MSG1, 0);
	assert_int_equal(t.result, MSTORE_E_OVERQUOTA);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.bytes_used, 2 * one);
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(q.bytes_limit, 2 * one + 1);

	/* COPY over quota copies nothing; MOVE within the user is free */
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "B", 0, &dst),
			 MSTORE_OK);
	assert_int_equal(mstore_copy(ms, mbox_id(ms, "u@x", "INBOX"), all, 2,
				     dst, 0, NULL, NULL, NULL),
			 MSTORE_E_OVERQUOTA);
	assert_int_equal(mstore_copy(ms, mbox_id(ms, "u@x", "INBOX"), all, 2,
				     dst, 1, NULL, NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 2);

	/* message-count limit; 0 = unlimited */
	assert_int_equal(mstore_quota_set(ms, "u@x", 0, 2), MSTORE_OK);
	assert_int_equal(deliver(ms, "u@x", NULL, MSG1, 0).result,
			 MSTORE_E_OVERQUOTA);
	assert_int_equal(mstore_quota_set(ms, "u@x", 0, 0), MSTORE_OK);
	assert_int_equal(deliver(ms, "u@x", NULL, MSG1, 0).result, MSTORE_OK);

	/* deleting a mailbox gives its usage back */
	assert_int_equal(mstore_mailbox_delete(ms, "u@x", "B"), MSTORE_OK);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 1);
	assert_int_equal(q.bytes_used, one);
	mstore_close(&ms);
	free(dir);
}

/* ---- change log and hooks ----------------------------------------------- */

struct hook_rec {
	size_t n;
	enum mstore_change_kind last;
	uint64_t last_seq;
	int out_of_order;
};

static void hook_fn(void *arg, const struct mstore_change *ch)
{
	struct hook_rec *h = arg;

	if (ch->seq <= h->last_seq)
		h->out_of_order++;
	h->last_seq = ch->seq;
	h->last = ch->kind;
	h->n++;
}

static void durable_cb(void *arg, int ok)
{
	*(int *)arg = ok;
}

static void test_changelog(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct hook_rec h = {0};
	struct mstore_change *ch;
	struct mstore_flag_change chg = {.op = MSTORE_FLAGS_ADD,
					 .flags = MSTORE_F_SEEN};
	uint32_t uid = 1, id;
	uint64_t last;
	size_t n;

	(void)state;
	assert_int_equal(mstore_set_change_hook(ms, hook_fn, &h), 0);
	assert_int_equal(mstore_set_change_hook(ms, hook_fn, &h), 0);
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	/* user row + INBOX row */
	assert_int_equal(h.n, 2);
	id = mbox_id(ms, "u@x", "INBOX");
	deliver(ms, "u@x", NULL, MSG1, 0);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.last, MSTORE_CH_APPEND);
	assert_int_equal(
	    mstore_flags_store(ms, id, &uid, 1, &chg, NULL, NULL, NULL, NULL),
	    MSTORE_OK);
	assert_int_equal(h.last, MSTORE_CH_FLAGS);
	assert_int_equal(mstore_expunge(ms, id, &uid, 1, NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(h.last, MSTORE_CH_EXPUNGE);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "A", 0, NULL),
			 MSTORE_OK);
	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "A", "B"), MSTORE_OK);
	assert_int_equal(h.last, MSTORE_CH_MBOX_RENAME);
	assert_int_equal(mstore_subscribe(ms, "u@x", "B", 1), MSTORE_OK);
	assert_int_equal(mstore_quota_set(ms, "u@x", 100000, 0), MSTORE_OK);
	assert_int_equal(mstore_acl_set(ms, id, "v@x", "lrs"), MSTORE_OK);
	assert_int_equal(mstore_seen_set(ms, "v@x", id, "1:3"), MSTORE_OK);
	assert_int_equal(mstore_mailbox_delete(ms, "u@x", "B"), MSTORE_OK);
	assert_int_equal(h.n, 12);
	assert_int_equal(h.out_of_order, 0);

	assert_int_equal(mstore_changes_read(ms, 0, 0, &ch, &n, &last),
			 MSTORE_OK);
	assert_int_equal(n, 12);
	assert_int_equal(last, 12);
	assert_int_equal(ch[0].seq, 1);
	assert_int_equal(ch[0].kind, MSTORE_CH_USER_CREATE);
	assert_string_equal(ch[0].user, "u@x");
	assert_int_equal(ch[2].kind, MSTORE_CH_APPEND);
	assert_int_equal(ch[2].mailbox_id, id);
	assert_int_equal(ch[2].uid, 1);
	assert_int_equal(ch[2].modseq, 2);
	assert_int_equal(ch[4].kind, MSTORE_CH_EXPUNGE);
	assert_int_equal(ch[4].modseq, 4);
	assert_int_equal(ch[7].kind, MSTORE_CH_SUBSCRIBE);
	assert_int_equal(ch[8].kind, MSTORE_CH_QUOTA);
	assert_int_equal(ch[9].kind, MSTORE_CH_MBOX_META);
	assert_int_equal(ch[10].kind, MSTORE_CH_SEEN);
	assert_string_equal(ch[10].user, "v@x");
	assert_int_equal(ch[11].kind, MSTORE_CH_MBOX_DELETE);
	assert_string_equal(mstore_change_kind_name(ch[11].kind),
			    "mailbox_delete");
	free(ch);

	/* paging and trimming */
	assert_int_equal(mstore_changes_read(ms, 5, 3, &ch, &n, NULL),
			 MSTORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ch[0].seq, 6);
	free(ch);
	assert_int_equal(mstore_changes_trim(ms, 10), MSTORE_OK);
	assert_int_equal(mstore_changes_read(ms, 0, 0, &ch, &n, &last),
			 MSTORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ch[0].seq, 11);
	assert_int_equal(last, 12);
	free(ch);

	{
		int durable = -1;

		mstore_wait_durable(ms, durable_cb, &durable);
		assert_int_equal(durable, 1);
	}
	mstore_remove_change_hook(ms, hook_fn, &h);
	deliver(ms, "u@x", NULL, MSG1, 0);
	assert_int_equal(h.n, 12);
	/* seq keeps growing after a trim and a reopen */
	mstore_close(&ms);
	ms = open_ms(dir);
	assert_int_equal(mstore_changes_last_seq(ms), 13);
	mstore_close(&ms);
	free(dir);
}

/* A hook that commits from inside the hook still sees rows in order. */
struct reent {
	struct mstore *ms;
	uint64_t last_seq;
	int out_of_order;
	size_t appends, flags;
};

static void reent_hook(void *arg, const struct mstore_change *ch)
{
	struct reent *r = arg;
	struct mstore_flag_change chg = {.op = MSTORE_FLAGS_ADD,
					 .flags = MSTORE_F_SEEN};

	if (ch->seq <= r->last_seq)
		r->out_of_order++;
	r->last_seq = ch->seq;
	if (ch->kind == MSTORE_CH_APPEND) {
		r->appends++;
		assert_int_equal(mstore_flags_store(r->ms, ch->mailbox_id,
						    &ch->uid, 1, &chg, NULL,
						    NULL, NULL, NULL),
				 MSTORE_OK);
	} else if (ch->kind == MSTORE_CH_FLAGS) {
		r->flags++;
	}
}

static void second_hook(void *arg, const struct mstore_change *ch)
{
	struct reent *r = arg;

	if (ch->seq <= r->last_seq)
		r->out_of_order++;
	r->last_seq = ch->seq;
}

/* Retention: rows older than the cut go, newer ones stay, in order. */
static void test_changelog_expire(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_change *ch;
	unsigned long deleted;
	int more;
	size_t n;
	uint64_t last;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	for (int i = 0; i < 3; i++)
		deliver(ms, "u@x", NULL, MSG1, 0);
	/* nothing is older than an hour ago */
	assert_int_equal(mstore_changes_expire(ms, (int64_t)time(NULL) - 3600,
					       10, &deleted, &more),
			 MSTORE_OK);
	assert_int_equal(deleted, 0);
	assert_int_equal(more, 0);
	/* a cut of 0 means "keep everything" */
	assert_int_equal(mstore_changes_expire(ms, 0, 10, &deleted, &more),
			 MSTORE_OK);
	assert_int_equal(deleted, 0);
	/* everything written so far is older than a second from now */
	assert_int_equal(mstore_changes_expire(ms, (int64_t)time(NULL) + 1, 10,
					       &deleted, &more),
			 MSTORE_OK);
	assert_int_equal(deleted, 5); /* user, INBOX, 3 appends */
	assert_int_equal(more, 0);
	assert_int_equal(mstore_changes_read(ms, 0, 0, &ch, &n, &last),
			 MSTORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(last, 5); /* seqs never go back */
	free(ch);
	deliver(ms, "u@x", NULL, MSG1, 0);
	assert_int_equal(mstore_changes_read(ms, 0, 0, &ch, &n, &last),
			 MSTORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].seq, 6);
	free(ch);
	mstore_close(&ms);
	free(dir);
}

static void test_hook_reentrant(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct reent r = {.ms = ms}, r2 = {0};
	struct mstore_msg m;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_set_change_hook(ms, reent_hook, &r), 0);
	assert_int_equal(mstore_set_change_hook(ms, second_hook, &r2), 0);
	deliver(ms, "u@x", NULL, MSG1, 0);
	deliver(ms, "u@x", NULL, MSG1, 0);
	assert_int_equal(r.appends, 2);
	assert_int_equal(r.flags, 2);
	assert_int_equal(r.out_of_order, 0);
	assert_int_equal(r2.out_of_order, 0);
	assert_int_equal(r2.last_seq, r.last_seq);
	assert_int_equal(mstore_msg_get(ms, mbox_id(ms, "u@x", "INBOX"), 2, &m),
			 MSTORE_OK);
	assert_int_equal(m.flags, MSTORE_F_SEEN);
	mstore_close(&ms);
	free(dir);
}

/* ---- metadata: subscriptions, ACL, seen ------------------------------------
 */

static void test_meta(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_acl_entry *acl;
	uint32_t id, *ids;
	char **subs, *seen;
	size_t n;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	id = mbox_id(ms, "u@x", "INBOX");
	assert_int_equal(mstore_subscribe(ms, "u@x", "Zeta", 1), MSTORE_OK);
	assert_int_equal(mstore_subscribe(ms, "u@x", "inbox", 1), MSTORE_OK);
	assert_int_equal(mstore_subscribe(ms, "u@x", "../x", 1),
			 MSTORE_E_BADNAME);
	assert_int_equal(mstore_subscriptions(ms, "u@x", &subs, &n), MSTORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(subs[0], "INBOX");
	mstore_strv_free(&subs, n);
	assert_int_equal(mstore_subscribe(ms, "u@x", "Zeta", 0), MSTORE_OK);
	assert_int_equal(mstore_subscriptions(ms, "u@x", &subs, &n), MSTORE_OK);
	assert_int_equal(n, 1);
	mstore_strv_free(&subs, n);

	assert_int_equal(mstore_acl_set(ms, id, "v@x", "lrs"), MSTORE_OK);
	assert_int_equal(mstore_acl_set(ms, id, "anyone", "l"), MSTORE_OK);
	assert_int_equal(mstore_acl_set(ms, id, "v@x", "lrsw"), MSTORE_OK);
	assert_int_equal(mstore_acl_get(ms, id, &acl, &n), MSTORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(acl[0].identifier, "v@x");
	assert_string_equal(acl[0].rights, "lrsw");
	mstore_acl_free(&acl, n);
	assert_int_equal(mstore_acl_shared_with(ms, "w@x", &ids, &n),
			 MSTORE_OK);
	assert_int_equal(n, 1); /* anyone */
	free(ids);
	assert_int_equal(mstore_acl_set(ms, id, "anyone", NULL), MSTORE_OK);
	assert_int_equal(mstore_acl_shared_with(ms, "w@x", &ids, &n),
			 MSTORE_OK);
	assert_int_equal(n, 0);
	free(ids);
	assert_int_equal(mstore_acl_set(ms, 4242, "v@x", "l"),
			 MSTORE_E_NOMAILBOX);

	assert_int_equal(mstore_seen_get(ms, "v@x", id, &seen), MSTORE_OK);
	assert_string_equal(seen, "");
	free(seen);
	assert_int_equal(mstore_seen_set(ms, "v@x", id, "1:5,9"), MSTORE_OK);
	{
		uint64_t seq0 = mstore_changes_last_seq(ms);

		assert_int_equal(
		    mstore_note_change(ms, MSTORE_CH_SIEVE, "u@x", 0),
		    MSTORE_OK);
		assert_int_equal(count_kind(ms, seq0, MSTORE_CH_SIEVE), 1);
		assert_non_null(mstore_db_env(ms));
	}
	assert_int_equal(mstore_seen_get(ms, "v@x", id, &seen), MSTORE_OK);
	assert_string_equal(seen, "1:5,9");
	free(seen);
	mstore_close(&ms);
	free(dir);
}

/* ---- rename -------------------------------------------------------------- */

static void test_rename(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_mailbox mb;
	uint32_t a, ab, inbox;
	struct mstore_target t;
	struct stat st;
	char *p;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "A", 0, &a),
			 MSTORE_OK);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "A/B", 0, &ab),
			 MSTORE_OK);
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "AB", 0, NULL),
			 MSTORE_OK);
	t = deliver(ms, "u@x", "A/B", MSG1, 0);
	assert_int_equal(t.result, MSTORE_OK);

	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "A", "C/D"),
			 MSTORE_OK);
	assert_int_equal(mbox_id(ms, "u@x", "C/D"), a);
	assert_int_equal(mbox_id(ms, "u@x", "C/D/B"), ab);
	assert_int_equal(mbox_id(ms, "u@x", "AB") != 0, 1);
	assert_int_equal(mstore_mailbox_get(ms, "u@x", "A/B", &mb),
			 MSTORE_E_NOMAILBOX);
	/* the file did not move and the mailbox keeps its UIDVALIDITY */
	p = mstore_msg_path(ms, ab, t.result_uid);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	mb = mbox(ms, ab);
	assert_int_equal(mb.uidvalidity, t.result_uidvalidity);
	assert_string_equal(mb.name, "C/D/B");
	assert_int_equal(mb.messages, 1);
	mstore_mailbox_clear(&mb);

	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "AB", "C/D"),
			 MSTORE_E_EXISTS);
	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "C/D", "C/D/E"),
			 MSTORE_E_CANNOT);
	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "AB", "inbox"),
			 MSTORE_E_CANNOT);
	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "Nope", "Z"),
			 MSTORE_E_NOMAILBOX);
	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "AB", "a/../b"),
			 MSTORE_E_BADNAME);

	/* RENAME INBOX: messages go, a fresh INBOX appears */
	inbox = mbox_id(ms, "u@x", "INBOX");
	deliver(ms, "u@x", NULL, MSG2, 0);
	assert_int_equal(mstore_mailbox_rename(ms, "u@x", "INBOX", "Old"),
			 MSTORE_OK);
	assert_int_equal(mbox_id(ms, "u@x", "Old"), inbox);
	mb = mbox(ms, inbox);
	assert_int_equal(mb.messages, 1);
	mstore_mailbox_clear(&mb);
	assert_true(mbox_id(ms, "u@x", "INBOX") != inbox);
	mb = mbox(ms, mbox_id(ms, "u@x", "INBOX"));
	assert_int_equal(mb.messages, 0);
	mstore_mailbox_clear(&mb);
	mstore_close(&ms);
	free(dir);
}

static void test_large_spool(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_spool *sp;
	struct mstore_target t = {.user = "u@x"};
	const size_t total = 3 * 1024 * 1024 + 17;
	char *buf = xmalloc(total), guid[65], *p, *data;
	const char *map;
	size_t len;

	(void)state;
	memcpy(buf, "Subject: big\r\n\r\n", 16);
	for (size_t i = 16; i < total; i++)
		buf[i] = (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mstore_spool_new(ms, &sp), MSTORE_OK);
	for (size_t off = 0; off < total;) {
		size_t n = total - off < 40000 ? total - off : 40000;

		assert_int_equal(mstore_spool_write(sp, buf + off, n),
				 MSTORE_OK);
		off += n;
	}
	assert_int_equal(mstore_spool_finish(sp), MSTORE_OK);
	assert_int_equal(mstore_spool_write(sp, "x", 1), MSTORE_E_INVAL);
	ms_sha256_hex(buf, total, guid);
	assert_string_equal(mstore_spool_guid(sp), guid);
	assert_int_equal(mstore_spool_data(sp, &map, &len), MSTORE_OK);
	assert_int_equal(len, total);
	assert_memory_equal(map, buf, total);
	assert_int_equal(mstore_deliver_sync(ms, sp, &t, 1), MSTORE_OK);
	assert_int_equal(t.result, MSTORE_OK);
	mstore_spool_free(&sp);
	p = mstore_msg_path(ms, t.result_mailbox_id, t.result_uid);
	data = read_file(p, &len);
	assert_int_equal(len, total);
	assert_memory_equal(data, buf, total);
	free(data);
	free(p);
	free(buf);
	mstore_close(&ms);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_users_mailboxes),
	    cmocka_unit_test(test_append),
	    cmocka_unit_test(test_deliver_targets),
	    cmocka_unit_test(test_multiappend),
	    cmocka_unit_test(test_flags_modseq),
	    cmocka_unit_test(test_expunge),
	    cmocka_unit_test(test_copy_move),
	    cmocka_unit_test(test_copy_move_large),
	    cmocka_unit_test(test_quota),
	    cmocka_unit_test(test_changelog),
	    cmocka_unit_test(test_changelog_expire),
	    cmocka_unit_test(test_hook_reentrant),
	    cmocka_unit_test(test_meta),
	    cmocka_unit_test(test_rename),
	    cmocka_unit_test(test_large_spool),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
