/*
 * test_mailstore_recovery.c - the storage engine after trouble: start-up
 * cleanup of what a crash leaves, reconstruct after losing the database,
 * group-committed concurrent deliveries on a loop, files removed off the
 * loop after EXPUNGE and DELETE, and deliveries killed
 * with SIGKILL at random moments (nothing acknowledged may be lost).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static char tmpdir[] = "/tmp/rookery-test-msr-XXXXXX";

#define TEST_PROGRAM "test_mailstore_recovery"
#include "mailstore_testlib.h"

/* ---- crash recovery, start-up cleanup, reconstruct ------------------------
 */

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static void test_startup_cleanup(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_mailbox mb;
	struct mstore_target t;
	uint32_t id, two = 2, gone;
	struct stat st;
	char *p, *orphan, *tomb, *unindexed, *tmpf, *deldir;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	for (int i = 0; i < 3; i++)
		deliver(ms, "u@x", NULL, MSG1, 0);
	id = mbox_id(ms, "u@x", "INBOX");
	assert_int_equal(mstore_mailbox_create(ms, "u@x", "Gone", 0, &gone),
			 MSTORE_OK);
	assert_int_equal(mstore_expunge(ms, id, &two, 1, NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(mstore_mailbox_delete(ms, "u@x", "Gone"), MSTORE_OK);
	mstore_close(&ms);

	/* what a crash leaves behind */
	orphan = xasprintf("%s/mail/%08x/4", dir, id); /* never committed */
	tomb = xasprintf("%s/mail/%08x/2", dir, id);   /* expunged */
	unindexed = xasprintf("%s/mail/%08x/1", dir, id);
	tmpf = xasprintf("%s/tmp/123.spool", dir);
	deldir = xasprintf("%s/mail/%08x", dir, gone);
	write_file(orphan, MSG1);
	write_file(tomb, MSG1);
	write_file(tmpf, "partial");
	/* a record whose file never reached the disk */
	p = xasprintf("%s/mail/%08x/3", dir, id);
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(mkdir(deldir, 0700), 0);
	p = xasprintf("%s/1", deldir);
	write_file(p, MSG1);
	free(p);

	ms = open_ms(dir);
	assert_int_equal(stat(orphan, &st), -1);
	assert_int_equal(stat(tomb, &st), -1);
	assert_int_equal(stat(tmpf, &st), -1);
	assert_int_equal(stat(deldir, &st), -1);
	assert_int_equal(stat(unindexed, &st), 0); /* indexed: kept */
	mb = mbox(ms, id);
	assert_int_equal(mb.messages, 1);
	assert_int_equal(mb.uidnext, 4);
	{
		struct mstore_quota q;
		struct mstore_msg m;
		uint32_t *tombs;
		size_t nt;

		assert_int_equal(mstore_msg_get(ms, id, 3, &m),
				 MSTORE_E_NOTFOUND);
		assert_int_equal(mstore_tombstones(ms, id, 0, &tombs, &nt),
				 MSTORE_OK);
		assert_int_equal(nt, 2);
		assert_int_equal(tombs[1], 3);
		free(tombs);
		assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
		assert_int_equal(q.messages_used, 1);
	}
	mstore_mailbox_clear(&mb);
	/* the next UID is still 4: UIDs never go back */
	t = deliver(ms, "u@x", NULL, MSG2, 0);
	assert_int_equal(t.result_uid, 4);
	mstore_close(&ms);
	free(orphan);
	free(tomb);
	free(unindexed);
	free(tmpf);
	free(deldir);
	free(dir);
}

static void test_reconstruct(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	struct mstore_flag_change chg = {.op = MSTORE_FLAGS_ADD,
					 .flags = MSTORE_F_SEEN};
	struct mstore_report rep;
	struct mstore_mailbox mb;
	struct mstore_quota q;
	struct mstore_msg *msgs;
	struct mime_message *mime;
	uint32_t inbox, arch, uv_inbox, one = 1, exp = 2;
	char *cmd, *p;
	size_t n;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_create(ms, "u@x", "Archive/2024", 0, &arch),
	    MSTORE_OK);
	for (int i = 0; i < 3; i++)
		deliver(ms, "u@x", NULL, i == 1 ? MSG2 : MSG1, 1600000000 + i);
	deliver(ms, "u@x", "Archive/2024", MSG2, 1650000000);
	inbox = mbox_id(ms, "u@x", "INBOX");
	mb = mbox(ms, inbox);
	uv_inbox = mb.uidvalidity;
	mstore_mailbox_clear(&mb);
	assert_int_equal(mstore_flags_store(ms, inbox, &one, 1, &chg, NULL,
					    NULL, NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(mstore_expunge(ms, inbox, &exp, 1, NULL, NULL),
			 MSTORE_OK);

	/* reconstruct on a healthy mailbox changes nothing */
	assert_int_equal(mstore_reconstruct(ms, "u@x", "INBOX", &rep),
			 MSTORE_OK);
	assert_int_equal(rep.mailboxes, 1);
	assert_int_equal(rep.kept, 2);
	assert_int_equal(rep.recovered, 0);
	assert_int_equal(rep.flags_lost, 0);
	mstore_report_clear(&rep);

	/* a file lost, a file without record */
	p = mstore_msg_path(ms, inbox, 3);
	assert_int_equal(unlink(p), 0);
	free(p);
	mstore_close(&ms);

	/* the whole database is lost */
	cmd = xasprintf("rm -rf %s/db", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	ms = open_ms(dir);
	assert_int_equal(mstore_user_exists(ms, "u@x"), MSTORE_E_NOUSER);
	/* a user created before the reconstruct must not take over the
	 * directories of the lost mailboxes */
	assert_int_equal(mstore_user_create(ms, "w@x"), MSTORE_OK);
	assert_true(mbox_id(ms, "w@x", "INBOX") > arch);
	mstore_close(&ms);
	ms = open_ms(dir);
	p = mstore_msg_path(ms, inbox, 1);
	assert_int_equal(access(p, F_OK), 0);
	free(p);
	assert_int_equal(mstore_reconstruct(ms, NULL, NULL, &rep), MSTORE_OK);
	for (size_t i = 0; i < rep.nlines; i++)
		print_message("  %s\n", rep.lines[i]);
	assert_int_equal(rep.mailboxes, 3); /* + w@x's INBOX */
	assert_int_equal(rep.recovered, 2); /* inbox 1, archive 1 */
	assert_int_equal(rep.flags_lost, 1);
	assert_true(rep.nlines >= 3);
	assert_non_null(strstr(rep.lines[rep.nlines - 1], "flags"));
	mstore_report_clear(&rep);

	assert_int_equal(mstore_user_exists(ms, "u@x"), MSTORE_OK);
	assert_int_equal(mbox_id(ms, "u@x", "INBOX"), inbox);
	assert_int_equal(mbox_id(ms, "u@x", "Archive/2024"), arch);
	mb = mbox(ms, inbox);
	assert_int_equal(mb.uidvalidity, uv_inbox);
	assert_int_equal(mb.messages, 1);
	/* UIDs 2 and 3 were used: they are never given out again */
	assert_int_equal(mb.uidnext, MS_UID_RESERVE);
	assert_int_equal(mb.unseen, 1);
	mstore_mailbox_clear(&mb);
	assert_int_equal(mstore_msg_list(ms, inbox, &msgs, &n), MSTORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[0].internaldate, 1600000000);
	assert_int_equal(msgs[0].size, strlen(MSG1));
	assert_int_equal(msgs[0].flags, 0); /* lost, as reported */
	free(msgs);
	assert_int_equal(mstore_msg_mime(ms, arch, 1, &mime), MSTORE_OK);
	assert_string_equal(mime->subject, "two");
	mime_message_free(&mime);
	assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(q.bytes_used, strlen(MSG1) + strlen(MSG2));

	/* new mail after reconstruct: new mailbox ids do not collide */
	{
		uint32_t nid;

		assert_int_equal(
		    mstore_mailbox_create(ms, "u@x", "New", 0, &nid),
		    MSTORE_OK);
		assert_true(nid > arch);
		assert_int_equal(deliver(ms, "u@x", NULL, MSG1, 0).result_uid,
				 MS_UID_RESERVE);
	}
	assert_int_equal(mstore_reconstruct(ms, "ghost@x", NULL, &rep),
			 MSTORE_E_NOUSER);
	mstore_report_clear(&rep);
	assert_int_equal(mstore_reconstruct(ms, "u@x", "Nope", &rep),
			 MSTORE_E_NOMAILBOX);
	mstore_report_clear(&rep);
	mstore_close(&ms);
	free(dir);
}

/* ---- concurrent deliveries on a loop: group commit --------------------- */

#define CD_N 16

struct cd_state {
	struct mstore *ms;
	struct net *net;
	struct mstore_spool *sp[CD_N];
	struct mstore_target t[CD_N];
	int done;
	int ok;
	int inline_cb;
	int started;
	unsigned long flushes_at_start;
	int hooked[CD_N + 1]; /* APPEND rows seen, by uid */
	int hook_before_flush;
	int cb_before_hook;
};

/* APPEND rows reach the hooks only once durable, before the callback. */
static void cd_hook(void *arg, const struct mstore_change *ch)
{
	struct cd_state *st = arg;

	if (ch->kind != MSTORE_CH_APPEND || ch->uid > CD_N)
		return;
	st->hooked[ch->uid]++;
	if (db_env_flush_count(st->ms->env) == st->flushes_at_start)
		st->hook_before_flush++;
}

static void cd_cb(void *arg, struct mstore_target *t, size_t n)
{
	struct cd_state *st = arg;

	if (!st->started)
		st->inline_cb++;
	for (size_t i = 0; i < n; i++) {
		st->ok += t[i].result == MSTORE_OK;
		if (t[i].result_uid <= CD_N && !st->hooked[t[i].result_uid])
			st->cb_before_hook++;
	}
	if (++st->done == CD_N)
		net_shutdown(st->net);
}

static void cd_start(void *arg)
{
	struct cd_state *st = arg;

	for (int i = 0; i < CD_N; i++) {
		st->t[i] = (struct mstore_target){.user = "u@x"};
		assert_int_equal(
		    mstore_deliver(st->ms, st->sp[i], &st->t[i], 1, cd_cb, st),
		    MSTORE_OK);
	}
	st->started = 1;
	assert_int_equal(mstore_deliveries_in_flight(st->ms), CD_N - st->done);
}

static void test_concurrent_deliveries(void **state)
{
	char *dir = new_dir();
	struct net_params np = {.shutdown_grace_ms = 10};
	struct cd_state st = {0};
	struct net_timer *timer;
	struct mstore_mailbox mb;
	struct mstore_stats stats;
	unsigned long before, flushes;
	char *err = NULL;
	uint32_t id;
	int seen[CD_N + 1] = {0};

	(void)state;
	st.ms = open_ms(dir);
	assert_int_equal(mstore_user_create(st.ms, "u@x"), MSTORE_OK);
	st.net = net_new(&np);
	assert_non_null(st.net);
	assert_int_equal(mstore_attach_loop(st.ms, st.net, &err), 0);
	for (int i = 0; i < CD_N; i++)
		st.sp[i] = spool_of(st.ms, i % 2 ? MSG1 : MSG2);
	before = db_env_flush_count(st.ms->env);
	st.flushes_at_start = before;
	assert_int_equal(mstore_set_change_hook(st.ms, cd_hook, &st), 0);
	timer = net_timer_new(st.net, cd_start, &st);
	net_timer_start(timer, 1, 0);
	net_run(st.net);
	flushes = db_env_flush_count(st.ms->env) - before;
	print_message("%d deliveries, %lu log flushes\n", CD_N, flushes);
	assert_int_equal(st.done, CD_N);
	assert_int_equal(st.ok, CD_N);
	assert_int_equal(st.inline_cb, 0);
	assert_int_equal(st.hook_before_flush, 0);
	assert_int_equal(st.cb_before_hook, 0);
	for (int i = 1; i <= CD_N; i++)
		assert_int_equal(st.hooked[i], 1);
	/* one flush per batch of waiters: at most one each.  Whether they
	 * share one depends on timing (an fsync here can be quicker than a
	 * delivery's commit under ASan on a loaded machine); coalescing is
	 * test_db.c's test_group_commit, with enough waiters to show it. */
	assert_true(flushes >= 1);
	assert_true(flushes <= CD_N);
	for (int i = 0; i < CD_N; i++) {
		assert_true(st.t[i].result_uid >= 1 &&
			    st.t[i].result_uid <= CD_N);
		seen[st.t[i].result_uid]++;
		mstore_spool_free(&st.sp[i]);
	}
	for (int i = 1; i <= CD_N; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(mstore_stats(st.ms, &stats), MSTORE_OK);
	assert_int_equal(stats.users, 1);
	assert_int_equal(stats.messages, CD_N);
	assert_int_equal(stats.deliveries_in_flight, 0);
	net_timer_free(&timer);
	mstore_close(&st.ms);
	net_free(&st.net);

	/* all of it survived */
	st.ms = open_ms(dir);
	id = mbox_id(st.ms, "u@x", "INBOX");
	mb = mbox(st.ms, id);
	assert_int_equal(mb.messages, CD_N);
	assert_int_equal(mb.uidnext, CD_N + 1);
	mstore_mailbox_clear(&mb);
	mstore_close(&st.ms);
	free(dir);
}

/*
 * With a loop attached, the files an EXPUNGE or a mailbox DELETE forgets
 * are removed by the pool threads once the commit is durable (thousands
 * of unlinks must not stall the loop); removals still pending when the
 * store closes are finished by the close.
 */
#define RM_N 40

/*
 * unlink() as the store calls it, counted by thread while rm_watch is
 * set (this definition takes the place of libc's in this program).
 */
static int rm_watch, rm_on_loop, rm_off_loop;
static pthread_t rm_loop_thread;

int unlink(const char *path)
{
	if (rm_watch) {
		if (pthread_equal(pthread_self(), rm_loop_thread))
			__atomic_add_fetch(&rm_on_loop, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&rm_off_loop, 1, __ATOMIC_RELAXED);
	}
	return (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

struct rm_state {
	struct net *net;
	struct mstore *ms;
	uint32_t inbox;
	char *gone_dir;
	int polls, removed;
};

static int rm_files_left(struct rm_state *st, uint32_t lo, uint32_t hi)
{
	struct stat sb;
	int left = 0;

	for (uint32_t uid = lo; uid <= hi; uid++) {
		char *p = mstore_msg_path(st->ms, st->inbox, uid);

		left += stat(p, &sb) == 0;
		free(p);
	}
	return left;
}

static void rm_poll(void *arg)
{
	struct rm_state *st = arg;
	struct stat sb;

	if (rm_files_left(st, 1, RM_N - 10) == 0 &&
	    stat(st->gone_dir, &sb) < 0) {
		st->removed = 1;
		net_shutdown(st->net);
	} else if (++st->polls > 1000) {
		net_shutdown(st->net);	/* 10 s: fail below */
	}
}

static void test_removal_on_pool(void **state)
{
	char *dir = new_dir();
	struct net_params np = {.shutdown_grace_ms = 10};
	struct rm_state st = {0};
	struct net_timer *timer;
	uint32_t uids[RM_N], gone;
	char *paths[10];
	char *err = NULL;

	(void)state;
	st.ms = open_ms(dir);
	assert_int_equal(mstore_user_create(st.ms, "u@x"), MSTORE_OK);
	for (int i = 0; i < RM_N; i++) {
		deliver(st.ms, "u@x", NULL, MSG1, 0);
		uids[i] = (uint32_t)i + 1;
	}
	assert_int_equal(mstore_mailbox_create(st.ms, "u@x", "Gone", 0, &gone),
			 MSTORE_OK);
	for (int i = 0; i < 5; i++)
		deliver(st.ms, "u@x", "Gone", MSG2, 0);
	st.inbox = mbox_id(st.ms, "u@x", "INBOX");
	st.gone_dir = mstore_mailbox_dir(st.ms, gone);
	st.net = net_new(&np);
	assert_non_null(st.net);
	assert_int_equal(mstore_attach_loop(st.ms, st.net, &err), 0);

	assert_int_equal(mstore_expunge(st.ms, st.inbox, uids, RM_N - 10,
					NULL, NULL),
			 MSTORE_OK);
	assert_int_equal(mstore_mailbox_delete(st.ms, "u@x", "Gone"),
			 MSTORE_OK);
	rm_loop_thread = pthread_self();
	rm_watch = 1;
	timer = net_timer_new(st.net, rm_poll, &st);
	net_timer_start(timer, 10, 1);
	net_run(st.net);
	net_timer_free(&timer);
	rm_watch = 0;
	assert_int_equal(st.removed, 1);
	assert_int_equal(rm_on_loop, 0);
	assert_int_equal(rm_off_loop, RM_N - 10);
	assert_int_equal(rm_files_left(&st, RM_N - 9, RM_N), 10);

	/* the rest, with no loop turn before the close (checked before
	 * a reopen, whose start-up cleanup would remove them too) */
	for (int i = 0; i < 10; i++)
		paths[i] = mstore_msg_path(st.ms, st.inbox, RM_N - 9 + i);
	assert_int_equal(mstore_expunge(st.ms, st.inbox, uids + RM_N - 10, 10,
					NULL, NULL),
			 MSTORE_OK);
	mstore_close(&st.ms);
	net_free(&st.net);
	for (int i = 0; i < 10; i++) {
		struct stat sb;

		assert_int_equal(stat(paths[i], &sb), -1);
		free(paths[i]);
	}
	free(st.gone_dir);
	free(dir);
}

/* A large message streamed through the spool in odd-sized pieces. */
/* MULTIAPPEND and a re-delivered spool, asynchronously on a loop. */
struct am_state {
	struct mstore *ms;
	struct net *net;
	struct mstore_spool *sps[3];
	struct mstore_target t[3], t2;
	int calls;
	int inline_cb;
	int started;
};

static void am_cb2(void *arg, struct mstore_target *t, size_t n)
{
	struct am_state *st = arg;

	(void)t;
	(void)n;
	st->calls++;
	net_shutdown(st->net);
}

static void am_cb(void *arg, struct mstore_target *t, size_t n)
{
	struct am_state *st = arg;

	(void)t;
	(void)n;
	if (!st->started)
		st->inline_cb++;
	st->calls++;
	/* the first spool again, already on disk: no fsync this time */
	st->t2 = (struct mstore_target){.user = "u@x", .mailbox = "Sent"};
	assert_int_equal(
	    mstore_deliver(st->ms, st->sps[0], &st->t2, 1, am_cb2, st),
	    MSTORE_OK);
}

static void am_start(void *arg)
{
	struct am_state *st = arg;

	for (int i = 0; i < 3; i++)
		st->t[i] = (struct mstore_target){
		    .user = "u@x", .mailbox = "Sent", .flags = MSTORE_F_SEEN};
	assert_int_equal(
	    mstore_append_multi(st->ms, st->sps, st->t, 3, am_cb, st),
	    MSTORE_OK);
	st->started = 1;
}

static void test_async_multiappend(void **state)
{
	char *dir = new_dir();
	struct net_params np = {.shutdown_grace_ms = 10};
	struct am_state st = {0};
	struct net_timer *timer;
	struct mstore_mailbox mb;
	char *err = NULL;
	uint32_t id;

	(void)state;
	st.ms = open_ms(dir);
	assert_int_equal(mstore_user_create(st.ms, "u@x"), MSTORE_OK);
	assert_int_equal(
	    mstore_mailbox_create(st.ms, "u@x", "Sent", MSTORE_SU_SENT, &id),
	    MSTORE_OK);
	st.net = net_new(&np);
	assert_int_equal(mstore_attach_loop(st.ms, st.net, &err), 0);
	for (int i = 0; i < 3; i++)
		st.sps[i] = spool_of(st.ms, MSG1);
	timer = net_timer_new(st.net, am_start, &st);
	net_timer_start(timer, 1, 0);
	net_run(st.net);
	assert_int_equal(st.calls, 2);
	assert_int_equal(st.inline_cb, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(st.t[i].result, MSTORE_OK);
		assert_int_equal(st.t[i].result_uid, (uint32_t)i + 1);
	}
	assert_int_equal(st.t2.result, MSTORE_OK);
	assert_int_equal(st.t2.result_uid, 4);
	mb = mbox(st.ms, id);
	assert_int_equal(mb.messages, 4);
	assert_int_equal(mb.unseen, 1);
	mstore_mailbox_clear(&mb);
	for (int i = 0; i < 3; i++)
		mstore_spool_free(&st.sps[i]);
	net_timer_free(&timer);
	mstore_close(&st.ms);
	net_free(&st.net);
	free(dir);
}

/* ---- SIGKILL at random moments: nothing acknowledged is lost ----------- */

#define CR_INFLIGHT 8

struct cr_slot {
	struct cr_state *st;
	struct mstore_spool *sp;
	struct mstore_target t;
};

struct cr_state {
	struct mstore *ms;
	struct net *net;
	int fd; /* acknowledgements go here */
	unsigned counter;
	struct cr_slot slots[CR_INFLIGHT];
};

static void cr_start(struct cr_slot *sl);

static void cr_cb(void *arg, struct mstore_target *t, size_t n)
{
	struct cr_slot *sl = arg;
	char line[128];
	int len;

	(void)n;
	if (t->result == MSTORE_OK) {
		len = snprintf(line, sizeof(line), "%u %s\n", t->result_uid,
			       mstore_spool_guid(sl->sp));
		if (write(sl->st->fd, line, (size_t)len) != len)
			_exit(3);
	}
	mstore_spool_free(&sl->sp);
	cr_start(sl);
}

static void cr_start(struct cr_slot *sl)
{
	struct cr_state *st = sl->st;
	char *msg = xasprintf("Subject: crash %u\r\n\r\n%0*u\r\n", st->counter,
			      (int)(st->counter % 3000), st->counter);

	st->counter++;
	sl->sp = spool_of(st->ms, msg);
	free(msg);
	sl->t = (struct mstore_target){.user = "u@x"};
	if (mstore_deliver(st->ms, sl->sp, &sl->t, 1, cr_cb, sl) != MSTORE_OK)
		_exit(4);
}

static void cr_kickoff(void *arg)
{
	struct cr_state *st = arg;

	for (int i = 0; i < CR_INFLIGHT; i++) {
		st->slots[i].st = st;
		cr_start(&st->slots[i]);
	}
}

static void cr_child(const char *dir, int fd, unsigned seed)
{
	struct net_params np = {.shutdown_grace_ms = 10};
	struct cr_state st = {0};
	struct net_timer *timer;
	char *err = NULL;

	st.fd = fd;
	st.counter = seed * 100000u;
	st.ms = open_ms(dir);
	st.net = net_new(&np);
	if (st.net == NULL || mstore_attach_loop(st.ms, st.net, &err) < 0)
		_exit(2);
	timer = net_timer_new(st.net, cr_kickoff, &st);
	net_timer_start(timer, 1, 0);
	net_run(st.net);
	_exit(0);
}

static void test_crash_kill(void **state)
{
	char *dir = new_dir();
	struct mstore *ms = open_ms(dir);
	uint32_t prev_uidnext = 1;
	unsigned total_acked = 0;

	(void)state;
	assert_int_equal(mstore_user_create(ms, "u@x"), MSTORE_OK);
	mstore_close(&ms);
	srand((unsigned)time(NULL));
	for (unsigned round = 0; round < 5; round++) {
		struct mstore_mailbox mb;
		struct mstore_msg *msgs;
		struct mstore_quota q;
		struct strbuf acks;
		char buf[4096], *line, *save = NULL;
		uint64_t bytes = 0;
		size_t n;
		ssize_t r;
		pid_t pid;
		int fds[2], status, waited = 0;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			cr_child(dir, fds[1], round + 1);
		}
		close(fds[1]);
		strbuf_init(&acks);
		if (round == 0) {
			/* early: during recovery, start-up or first commits */
			usleep((unsigned)(rand() % 100000));
		} else {
			/* mid-stream: once deliveries are being acknowledged
			 * (at most 10 s, for slow sanitizer builds) */
			struct pollfd pfd = {.fd = fds[0], .events = POLLIN};

			if (poll(&pfd, 1, 10000) == 1) {
				r = read(fds[0], buf, sizeof(buf));
				if (r > 0)
					strbuf_add(&acks, buf, (size_t)r);
			}
			usleep((unsigned)(rand() % 300000));
		}
		kill(pid, SIGKILL);
		while ((r = read(fds[0], buf, sizeof(buf))) > 0)
			strbuf_add(&acks, buf, (size_t)r);
		close(fds[0]);
		waitpid(pid, &status, 0);
		waited = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		assert_true(waited);

		ms = open_ms(dir);
		assert_int_equal(
		    mstore_msg_list(ms, mbox_id(ms, "u@x", "INBOX"), &msgs, &n),
		    MSTORE_OK);
		for (line = strtok_r(acks.data, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			unsigned uid = (unsigned)strtoul(line, NULL, 10);
			const char *guid = strchr(line, ' ') + 1;
			struct mstore_msg m;
			char *p, *data, g[65];
			size_t len;

			assert_int_equal(
			    mstore_msg_get(ms, mbox_id(ms, "u@x", "INBOX"), uid,
					   &m),
			    MSTORE_OK);
			assert_string_equal(m.guid, guid);
			p = mstore_msg_path(ms, mbox_id(ms, "u@x", "INBOX"),
					    uid);
			data = read_file(p, &len);
			assert_non_null(data);
			ms_sha256_hex(data, len, g);
			assert_string_equal(g, guid);
			free(data);
			free(p);
			total_acked++;
		}
		strbuf_free(&acks);
		mb = mbox(ms, mbox_id(ms, "u@x", "INBOX"));
		for (size_t i = 0; i < n; i++) {
			bytes += msgs[i].size;
			if (i > 0)
				assert_true(msgs[i].uid > msgs[i - 1].uid);
		}
		assert_int_equal(mb.messages, n);
		assert_int_equal(mb.bytes, bytes);
		assert_true(n == 0 || mb.uidnext > msgs[n - 1].uid);
		assert_true(mb.uidnext >= prev_uidnext);
		prev_uidnext = mb.uidnext;
		assert_int_equal(mstore_quota_get(ms, "u@x", &q), MSTORE_OK);
		assert_int_equal(q.messages_used, n);
		assert_int_equal(q.bytes_used, bytes);
		free(msgs);
		mstore_mailbox_clear(&mb);
		mstore_close(&ms);
	}
	print_message("%u acknowledged deliveries verified over 5 kills\n",
		      total_acked);
	assert_true(total_acked > 0);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_startup_cleanup),
	    cmocka_unit_test(test_reconstruct),
	    cmocka_unit_test(test_concurrent_deliveries),
	    cmocka_unit_test(test_removal_on_pool),
	    cmocka_unit_test(test_async_multiappend),
	    cmocka_unit_test(test_crash_kill),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
