/*
 * test_db.c - lib/db.c: environment open/close/recovery, deadlock retry,
 * group commit with and without an event loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "net.h"
#include "strbuf.h"

static char tmpdir[] = "/tmp/rookery-test-db-XXXXXX";
static int env_seq;

/* A fresh environment directory per test. */
static char *new_home(void)
{
	return xasprintf("%s/env%d", tmpdir, ++env_seq);
}

static struct db_env *open_env(const char *home)
{
	struct db_env_params p = {.cache_mb = 4};
	struct db_env *env = NULL;
	char *err = NULL;

	if (db_env_open(home, &p, &env, &err) < 0) {
		print_message("db_env_open: %s\n", err);
		free(err);
	}
	assert_non_null(env);
	return env;
}

static DB *open_table(struct db_env *env, const char *name)
{
	DB *db = NULL;
	char *err = NULL;

	if (db_table_open(env, name, DB_BTREE, 0, &db, &err) < 0) {
		print_message("db_table_open: %s\n", err);
		free(err);
	}
	assert_non_null(db);
	return db;
}

struct put_arg {
	DB *db;
	const char *key;
	const char *val;
	int calls;
};

static int put_fn(DB_TXN *txn, void *arg)
{
	struct put_arg *a = arg;
	DBT k, v;

	a->calls++;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)a->key;
	k.size = (u_int32_t)strlen(a->key);
	v.data = (void *)a->val;
	v.size = (u_int32_t)strlen(a->val) + 1;
	return a->db->put(a->db, txn, &k, &v, 0);
}

static int put(struct db_env *env, DB *db, const char *key, const char *val)
{
	struct put_arg a = {db, key, val, 0};

	return db_txn_run(env, put_fn, &a);
}

/* The value of key, or NULL; the caller frees it. */
static char *get(DB *db, const char *key)
{
	DBT k, v;
	char *r = NULL;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.flags = DB_DBT_MALLOC;
	if (db->get(db, NULL, &k, &v, 0) == 0)
		r = v.data;
	return r;
}

static void assert_value(DB *db, const char *key, const char *want)
{
	char *v = get(db, key);

	if (want == NULL) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void wait_child(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* --- environment ---------------------------------------------------------- */

static void test_open_close_reopen(void **state)
{
	char *home = new_home();
	struct db_env *env = open_env(home), *env2 = NULL;
	DB *db = open_table(env, "t.db"), *again = NULL;
	char *err = NULL;

	(void)state;
	assert_string_equal(db_env_home(env), home);
	assert_non_null(db_env_handle(env));
	/* The same table twice is the same handle. */
	assert_int_equal(db_table_open(env, "t.db", DB_BTREE, 0, &again, &err),
			 0);
	assert_ptr_equal(again, db);
	assert_int_equal(put(env, db, "k1", "v1"), 0);
	assert_value(db, "k1", "v1");

	/* A second opener is refused with a message saying what to do. */
	assert_int_equal(db_env_open(home, NULL, &env2, &err), -1);
	assert_null(env2);
	assert_non_null(strstr(err, "another process holds"));
	free(err);
	err = NULL;

	db_env_close(&env);
	assert_null(env);
	db_env_close(&env); /* NULL is fine */

	env = open_env(home);
	db = open_table(env, "t.db");
	assert_value(db, "k1", "v1");
	assert_int_equal(db_env_checkpoint(env, 1), 0);
	assert_int_equal(db_env_checkpoint_count(env), 1);
	/* nothing logged since: BDB skips it, and the count says so */
	assert_int_equal(db_env_checkpoint(env, 0), 0);
	assert_int_equal(db_env_checkpoint_count(env), 1);
	assert_int_equal(put(env, db, "k2", "v2"), 0);
	assert_int_equal(db_env_checkpoint(env, 0), 0);
	assert_int_equal(db_env_checkpoint_count(env), 2);
	db_env_close(&env);

	/* A path that cannot be an environment */
	assert_int_equal(db_env_open("/proc/nonexistent/x", NULL, &env, &err),
			 -1);
	assert_non_null(err);
	free(err);
	free(home);
}

static void durable_cb(void *arg, int ok)
{
	int *r = arg;

	*r = ok;
}

/*
 * A process dies without closing: durable commits survive, an open
 * transaction is rolled back by the recovery db_env_open runs.
 */
static void test_recovery(void **state)
{
	char *home = new_home();
	struct db_env *env;
	DB *db;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct put_arg a;
		DB_TXN *txn;
		int ok = -1;
		DBT k, v;

		env = open_env(home);
		db = open_table(env, "t.db");
		a = (struct put_arg){db, "sync", "yes", 0};
		if (db_txn_run_sync(env, put_fn, &a) != 0)
			_exit(1);
		a = (struct put_arg){db, "grouped", "yes", 0};
		if (db_txn_run(env, put_fn, &a) != 0)
			_exit(2);
		db_durable_wait(env, NULL, durable_cb, &ok);
		if (ok != 1)
			_exit(3);
		/* An uncommitted change, with its log record on disk. */
		if (db_env_handle(env)->txn_begin(db_env_handle(env), NULL,
						  &txn, 0) != 0)
			_exit(4);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "open";
		k.size = 4;
		v.data = "no";
		v.size = 3;
		if (db->put(db, txn, &k, &v, 0) != 0)
			_exit(5);
		db_env_handle(env)->log_flush(db_env_handle(env), NULL);
		_exit(0); /* "crash": no close, no abort */
	}
	wait_child(pid);

	env = open_env(home);
	db = open_table(env, "t.db");
	assert_value(db, "sync", "yes");
	assert_value(db, "grouped", "yes");
	assert_value(db, "open", NULL);
	/* and the environment is usable after recovery */
	assert_int_equal(put(env, db, "after", "1"), 0);
	db_env_close(&env);
	free(home);
}

/* --- transactions --------------------------------------------------------- */

static int fail_fn(DB_TXN *txn, void *arg)
{
	int *calls = arg;

	(void)txn;
	(*calls)++;
	return -1;
}

static int always_deadlock_fn(DB_TXN *txn, void *arg)
{
	int *calls = arg;

	(void)txn;
	(*calls)++;
	return DB_LOCK_DEADLOCK;
}

static int put_then_fail_fn(DB_TXN *txn, void *arg)
{
	struct put_arg *a = arg;
	int r = put_fn(txn, a);

	return r != 0 ? r : EINVAL;
}

static void test_txn_results(void **state)
{
	char *home = new_home();
	struct db_env *env = open_env(home);
	DB *db = open_table(env, "t.db");
	struct put_arg a = {db, "k", "v", 0};
	int calls = 0;

	(void)state;
	/* -1: aborted, not retried */
	assert_int_equal(db_txn_run(env, fail_fn, &calls), -1);
	assert_int_equal(calls, 1);
	assert_string_equal(db_error(-1), "aborted by the caller");
	/* another error code: aborted (the put is undone), not retried */
	assert_int_equal(db_txn_run(env, put_then_fail_fn, &a), EINVAL);
	assert_int_equal(a.calls, 1);
	assert_value(db, "k", NULL);
	/* a deadlock that never clears: 10 tries, then the error */
	calls = 0;
	assert_int_equal(db_txn_run(env, always_deadlock_fn, &calls),
			 DB_LOCK_DEADLOCK);
	assert_int_equal(calls, 10);
	assert_non_null(db_error(DB_LOCK_DEADLOCK));
	/* sync variant */
	a.calls = 0;
	assert_int_equal(db_txn_run_sync(env, put_fn, &a), 0);
	assert_int_equal(a.calls, 1);
	assert_value(db, "k", "v");
	db_env_close(&env);
	free(home);
}

/*
 * Two threads lock two tables in opposite orders; the deadlock detector
 * picks a victim, db_txn_run retries it, both commit.
 */
struct rendezvous {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int arrived;
};

static struct rendezvous rv = {PTHREAD_MUTEX_INITIALIZER,
			       PTHREAD_COND_INITIALIZER, 0};

/* Both threads meet here once (on their first attempt); gives up after
 * 5 s so a bug makes the test fail instead of hang. */
static void rendezvous_wait(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&rv.mu);
	rv.arrived++;
	pthread_cond_broadcast(&rv.cv);
	while (rv.arrived < 2)
		if (pthread_cond_timedwait(&rv.cv, &rv.mu, &until) != 0)
			break;
	pthread_mutex_unlock(&rv.mu);
}

struct crosser {
	struct db_env *env;
	DB *first, *second;
	const char *val;
	int calls;
	int result;
};

static int cross_fn(DB_TXN *txn, void *arg)
{
	struct crosser *c = arg;
	struct put_arg a = {c->first, "x", c->val, 0};
	int r;

	c->calls++;
	r = put_fn(txn, &a);
	if (r != 0)
		return r;
	if (c->calls == 1)
		rendezvous_wait();
	a.db = c->second;
	return put_fn(txn, &a);
}

static void *cross_thread(void *arg)
{
	struct crosser *c = arg;

	c->result = db_txn_run(c->env, cross_fn, c);
	return NULL;
}

static void test_txn_deadlock_retry(void **state)
{
	char *home = new_home();
	struct db_env *env = open_env(home);
	DB *ta = open_table(env, "a.db"), *tb = open_table(env, "b.db");
	struct crosser c1 = {env, ta, tb, "one", 0, -99};
	struct crosser c2 = {env, tb, ta, "two", 0, -99};
	pthread_t t1, t2;
	char *va, *vb;

	(void)state;
	assert_int_equal(put(env, ta, "x", "0"), 0);
	assert_int_equal(put(env, tb, "x", "0"), 0);
	rv.arrived = 0;
	pthread_create(&t1, NULL, cross_thread, &c1);
	pthread_create(&t2, NULL, cross_thread, &c2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(c1.result, 0);
	assert_int_equal(c2.result, 0);
	/* exactly one was chosen as the victim and ran again */
	assert_int_equal(c1.calls + c2.calls, 3);
	/* the tables agree: the transaction that committed last wrote both */
	va = get(ta, "x");
	vb = get(tb, "x");
	assert_non_null(va);
	assert_non_null(vb);
	assert_string_equal(va, vb);
	assert_string_equal(va, c1.calls == 2 ? "one" : "two");
	free(va);
	free(vb);
	db_env_close(&env);
	free(home);
}

/* --- group commit --------------------------------------------------------- */

static void test_durable_wait_no_loop(void **state)
{
	char *home = new_home();
	struct db_env *env = open_env(home);
	DB *db = open_table(env, "t.db");
	const char *dirs[] = {home, tmpdir, home, NULL};
	const char *bad[] = {home, "/nonexistent/rookery", NULL};
	unsigned long before;
	int ok = -1;

	(void)state;
	assert_int_equal(put(env, db, "k", "v"), 0);
	before = db_env_flush_count(env);
	/* answered before it returns, on the caller's stack */
	db_durable_wait(env, dirs, durable_cb, &ok);
	assert_int_equal(ok, 1);
	assert_int_equal(db_env_flush_count(env), before + 1);
	ok = -1;
	db_durable_wait(env, NULL, durable_cb, &ok);
	assert_int_equal(ok, 1);
	/* a directory that cannot be synced: not ok */
	ok = -1;
	db_durable_wait(env, bad, durable_cb, &ok);
	assert_int_equal(ok, 0);
	assert_int_equal(db_env_flush_count(env), before + 3);
	db_env_close(&env);
	free(home);
}

#define GC_LOOP_WAITERS 200
#define GC_THREADS 4
#define GC_PER_THREAD 50
#define GC_TOTAL (GC_LOOP_WAITERS + GC_THREADS * GC_PER_THREAD)

struct gc_state {
	struct db_env *env;
	DB *db;
	struct net *net;
	pthread_t loop_thread;
	atomic_int done;
	atomic_int not_ok;
	atomic_int wrong_thread;
	int next_expected; /* loop waiters answer in request order */
	int out_of_order;
	char dir[256];
};

struct gc_waiter {
	struct gc_state *st;
	int seq; /* -1: from a worker thread */
};

static struct gc_waiter gc_waiters[GC_TOTAL];

static void gc_cb(void *arg, int ok)
{
	struct gc_waiter *w = arg;
	struct gc_state *st = w->st;

	if (!pthread_equal(pthread_self(), st->loop_thread))
		atomic_fetch_add(&st->wrong_thread, 1);
	if (!ok)
		atomic_fetch_add(&st->not_ok, 1);
	if (w->seq >= 0) {
		if (w->seq != st->next_expected)
			st->out_of_order++;
		st->next_expected = w->seq + 1;
	}
	if (atomic_fetch_add(&st->done, 1) + 1 == GC_TOTAL)
		net_shutdown(st->net);
}

static void gc_commit_and_wait(struct gc_state *st, struct gc_waiter *w, int n)
{
	const char *dirs[] = {st->dir, NULL};
	char key[32];

	snprintf(key, sizeof(key), "k%d", n);
	assert_int_equal(put(st->env, st->db, key, "v"), 0);
	db_durable_wait(st->env, dirs, gc_cb, w);
}

/* On the loop: 200 commits in a row, each asking for durability. */
static void gc_start_cb(void *arg)
{
	struct gc_state *st = arg;

	for (int i = 0; i < GC_LOOP_WAITERS; i++) {
		gc_waiters[i] = (struct gc_waiter){st, i};
		gc_commit_and_wait(st, &gc_waiters[i], i);
	}
}

struct gc_worker {
	struct gc_state *st;
	int index;
};

static void *gc_worker_main(void *arg)
{
	struct gc_worker *wk = arg;

	for (int i = 0; i < GC_PER_THREAD; i++) {
		int n = GC_LOOP_WAITERS + wk->index * GC_PER_THREAD + i;

		gc_waiters[n] = (struct gc_waiter){wk->st, -1};
		gc_commit_and_wait(wk->st, &gc_waiters[n], n);
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	char *home = new_home();
	struct net_params np = {.shutdown_grace_ms = 10};
	struct gc_state st = {0};
	struct gc_worker wk[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct net_timer *start;
	unsigned long before, flushes;
	char *err = NULL;

	(void)state;
	st.env = open_env(home);
	st.db = open_table(st.env, "t.db");
	st.net = net_new(&np);
	st.loop_thread = pthread_self();
	snprintf(st.dir, sizeof(st.dir), "%s", home);
	assert_non_null(st.net);
	assert_int_equal(db_env_attach_loop(st.env, st.net, &err), 0);
	assert_int_equal(db_env_attach_loop(st.env, st.net, &err), -1);
	free(err);

	before = db_env_flush_count(st.env);
	start = net_timer_new(st.net, gc_start_cb, &st);
	net_timer_start(start, 1, 0);
	for (int i = 0; i < GC_THREADS; i++) {
		wk[i] = (struct gc_worker){&st, i};
		pthread_create(&th[i], NULL, gc_worker_main, &wk[i]);
	}
	net_run(st.net);
	for (int i = 0; i < GC_THREADS; i++)
		pthread_join(th[i], NULL);

	flushes = db_env_flush_count(st.env) - before;
	print_message("%d durable waits, %lu log flushes\n", GC_TOTAL, flushes);
	assert_int_equal(atomic_load(&st.done), GC_TOTAL);
	assert_int_equal(atomic_load(&st.not_ok), 0);
	assert_int_equal(atomic_load(&st.wrong_thread), 0);
	assert_int_equal(st.out_of_order, 0);
	assert_int_equal(st.next_expected, GC_LOOP_WAITERS);
	assert_true(flushes >= 1);
	/* coalesced: far fewer flushes than waiters */
	assert_true(flushes <= GC_TOTAL / 4);

	net_timer_free(&start);
	db_env_close(&st.env);
	net_free(&st.net);

	/* and all of it is on disk */
	st.env = open_env(home);
	st.db = open_table(st.env, "t.db");
	assert_value(st.db, "k0", "v");
	assert_value(st.db, "k399", "v");
	db_env_close(&st.env);
	free(home);
}

/* Requests still queued when the environment closes are answered. */
static int close_cb_ok = -1;

static void close_cb(void *arg, int ok)
{
	(void)arg;
	close_cb_ok = ok;
}

static void test_close_with_pending(void **state)
{
	char *home = new_home();
	struct net_params np = {.shutdown_grace_ms = 10};
	struct net *n = net_new(&np);
	struct db_env *env = open_env(home);
	DB *db = open_table(env, "t.db");
	char *err = NULL;

	(void)state;
	assert_int_equal(db_env_attach_loop(env, n, &err), 0);
	assert_int_equal(put(env, db, "k", "v"), 0);
	db_durable_wait(env, NULL, close_cb, NULL);
	/* the loop never runs: db_env_close answers */
	db_env_close(&env);
	assert_int_equal(close_cb_ok, 1);
	net_free(&n);
	free(home);
}

static void stop_loop_cb(void *arg)
{
	net_shutdown(arg);
}

/* The loop's timer asks the helper thread for checkpoints. */
static void test_checkpoint_timer(void **state)
{
	char *home = new_home();
	struct db_env_params p = {.cache_mb = 4, .checkpoint_secs = 1};
	struct net_params np = {.shutdown_grace_ms = 10};
	struct net *n = net_new(&np);
	struct net_timer *stop = net_timer_new(n, stop_loop_cb, n);
	struct db_env *env = NULL;
	char *err = NULL;
	DB *db;

	(void)state;
	assert_int_equal(db_env_open(home, &p, &env, &err), 0);
	db = open_table(env, "t.db");
	assert_int_equal(db_env_attach_loop(env, n, &err), 0);
	assert_int_equal(put(env, db, "k", "v"), 0);
	assert_int_equal(db_env_checkpoint_count(env), 0);
	net_timer_start(stop, 2500, 0);
	net_run(n);
	assert_true(db_env_checkpoint_count(env) >= 1);
	net_timer_free(&stop);
	db_env_close(&env);
	net_free(&n);
	free(home);
}

static int big_put_fn(DB_TXN *txn, void *arg)
{
	struct put_arg *a = arg;
	static char big[8192];
	DBT k, v;

	memset(big, 'x', sizeof(big));
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)a->key;
	k.size = (u_int32_t)strlen(a->key);
	v.data = big;
	v.size = sizeof(big);
	return a->db->put(a->db, txn, &k, &v, 0);
}

/* remove_old_logs: log files behind the last checkpoint go away. */
static void test_remove_old_logs(void **state)
{
	char *home = new_home();
	struct db_env_params p = {.cache_mb = 16, .remove_old_logs = 1};
	struct db_env *env = NULL;
	char *err = NULL;
	char *first_log;
	struct stat sb;
	DB *db;

	(void)state;
	assert_int_equal(db_env_open(home, &p, &env, &err), 0);
	db = open_table(env, "t.db");
	first_log = xasprintf("%s/log.0000000001", home);
	assert_int_equal(stat(first_log, &sb), 0);
	/* more than one 10 MB log file */
	for (int i = 0; i < 1600; i++) {
		char key[16];
		struct put_arg a = {db, key, NULL, 0};

		snprintf(key, sizeof(key), "%d", i % 50);
		assert_int_equal(db_txn_run(env, big_put_fn, &a), 0);
	}
	assert_int_equal(db_env_checkpoint(env, 1), 0);
	assert_int_equal(db_env_checkpoint(env, 1), 0);
	assert_int_equal(stat(first_log, &sb), -1);
	db_env_close(&env);
	free(first_log);
	free(home);
}

static int group_setup(void **state)
{
	(void)state;
	log_init("test_db", 0, LOG_LEVEL_WARN);
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_close_reopen),
	    cmocka_unit_test(test_recovery),
	    cmocka_unit_test(test_txn_results),
	    cmocka_unit_test(test_txn_deadlock_retry),
	    cmocka_unit_test(test_durable_wait_no_loop),
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_close_with_pending),
	    cmocka_unit_test(test_checkpoint_timer),
	    cmocka_unit_test(test_remove_old_logs),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
