/*
 * db.c - Berkeley DB 5.3 environment, tables, transactions and group
 * commit (db.h).
 *
 * Threads.  The loop thread (or any thread: the handles are DB_THREAD)
 * runs transactions.  Once db_env_attach_loop() has run, two helper
 * threads exist:
 *   commit  takes every db_durable_wait() request queued since its last
 *           pass, fsyncs their directories, forces the log once, moves the
 *           requests to the done list and wakes the loop through net_async;
 *           the loop then runs the callbacks in request order.
 *   ckpt    runs checkpoints when the loop's net_timer asks, so that
 *           writing dirty pages never blocks the loop or the commit thread.
 * One mutex protects the queues, the flags and the counters.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"

#define DB_TXN_MAX_TRIES 10
#define DB_LOCK_FILE "rookery.lock"
#define DB_CKPT_TICK_SECS 5

struct db_table {
	struct db_table *next;
	char *name;
	DB *db;
};

struct db_waiter {
	struct db_waiter *next;
	char **dirs; /* NULL-terminated copy, or NULL */
	void (*cb)(void *arg, int ok);
	void *arg;
	int ok;
};

struct db_waitq {
	struct db_waiter *head;
	struct db_waiter **tail;
};

struct db_env {
	DB_ENV *env;
	char *home;
	struct db_env_params p;
	int lock_fd;
	struct db_table *tables;

	pthread_mutex_t mu;
	pthread_cond_t commit_cv; /* commit thread: work or stop */
	pthread_cond_t ckpt_cv;	  /* checkpoint thread: work or stop */
	struct db_waitq pending;  /* asked, not yet flushed */
	struct db_waitq done;	  /* flushed, callbacks not yet run */
	int stop;
	int ckpt_wanted; /* 1: if log grew; 2: unconditionally */
	unsigned long flush_count;
	unsigned long ckpt_count;

	/* Loop attachment (db_env_attach_loop). */
	struct net *net;
	struct net_async *async;
	struct net_timer *ckpt_timer;
	time_t last_full_ckpt;
	pthread_t commit_thread;
	pthread_t ckpt_thread;
	int threads_running;
};

static void db_waitq_init(struct db_waitq *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void db_waitq_push(struct db_waitq *q, struct db_waiter *w)
{
	w->next = NULL;
	*q->tail = w;
	q->tail = &w->next;
}

/* Moves all of src to the end of dst. */
static void db_waitq_splice(struct db_waitq *dst, struct db_waitq *src)
{
	if (src->head == NULL)
		return;
	*dst->tail = src->head;
	dst->tail = src->tail;
	db_waitq_init(src);
}

static void db_waiter_free(struct db_waiter *w)
{
	if (w->dirs != NULL) {
		for (size_t i = 0; w->dirs[i] != NULL; i++)
			free(w->dirs[i]);
		free(w->dirs);
	}
	free(w);
}

const char *db_error(int err)
{
	if (err == -1)
		return "aborted by the caller";
	return db_strerror(err);
}

static void db_errcall(const DB_ENV *dbenv, const char *pfx, const char *msg)
{
	char qbuf[512];

	(void)dbenv;
	log_warnx("event=bdb_error env=%s message=%s", pfx ? pfx : "-",
		  log_q(qbuf, sizeof(qbuf), msg));
}

static void db_msgcall(const DB_ENV *dbenv, const char *msg)
{
	char qbuf[512];

	(void)dbenv;
	log_info("event=bdb_message message=%s",
		 log_q(qbuf, sizeof(qbuf), msg));
}

static void db_event_notify(DB_ENV *dbenv, u_int32_t event, void *info)
{
	const char *home = NULL;

	(void)info;
	dbenv->get_home(dbenv, &home);
	if (event == DB_EVENT_PANIC)
		log_warnx("event=bdb_panic env=%s hint=\"restart the daemon; "
			  "recovery runs at start-up\"",
			  home ? home : "-");
	else if (event == DB_EVENT_WRITE_FAILED)
		log_warnx("event=bdb_write_failed env=%s", home ? home : "-");
}

/* Takes an exclusive lock on home/rookery.lock: one process per env. */
static int db_env_lock(struct db_env *e, char **err_r)
{
	char *path = xasprintf("%s/%s", e->home, DB_LOCK_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			*err_r = xasprintf(
			    "another process holds the database "
			    "environment %s (lock %s): stop it first, or "
			    "use the running daemon's control socket",
			    e->home, path);
		else
			*err_r =
			    xasprintf("%s: flock: %s", path, strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	e->lock_fd = fd;
	return 0;
}

static char *db_open_error(const char *home, int ret)
{
	switch (ret) {
	case DB_RUNRECOVERY:
		return xasprintf(
		    "database environment %s is damaged beyond normal "
		    "recovery (%s): run db_recover -c -h %s, or "
		    "rookery reconstruct",
		    home, db_strerror(ret), home);
	case DB_VERSION_MISMATCH:
		return xasprintf(
		    "database environment %s was made by another Berkeley "
		    "DB version: remove its __db.* region files and start "
		    "again",
		    home);
	case EACCES:
	case EPERM:
		return xasprintf("database environment %s: %s: check the "
				 "owner of the directory and its files",
				 home, db_strerror(ret));
	default:
		return xasprintf("database environment %s: %s", home,
				 db_strerror(ret));
	}
}

static int db_env_configure(struct db_env *e, char **err_r)
{
	DB_ENV *dbenv = e->env;
	unsigned cache_mb = e->p.cache_mb ? e->p.cache_mb : 32;
	int ret;

	dbenv->set_errcall(dbenv, db_errcall);
	dbenv->set_errpfx(dbenv, e->home);
	dbenv->set_msgcall(dbenv, db_msgcall);
	dbenv->set_event_notify(dbenv, db_event_notify);

	ret = dbenv->set_cachesize(dbenv, cache_mb / 1024,
				   (cache_mb % 1024) * 1024u * 1024u, 1);
	if (ret == 0)
		ret = dbenv->set_lk_detect(dbenv, DB_LOCK_DEFAULT);
	/* A store keeps one lock per touched page and mailbox: the
	 * defaults (1000) run out under a busy LMTP burst. */
	if (ret == 0)
		ret = dbenv->set_lk_max_locks(dbenv, 20000);
	if (ret == 0)
		ret = dbenv->set_lk_max_objects(dbenv, 20000);
	if (ret == 0)
		ret = dbenv->set_lk_max_lockers(dbenv, 4000);
	if (ret == 0)
		ret = dbenv->set_tx_max(dbenv, 1000);
	/* Commits are NOSYNC: a larger in-memory log buffer means fewer
	 * writes between group-commit flushes. */
	if (ret == 0)
		ret = dbenv->set_lg_bsize(dbenv, 1024 * 1024);
	if (ret == 0)
		ret = dbenv->set_flags(dbenv, DB_TXN_NOSYNC, 1);
	if (ret == 0 && e->p.remove_old_logs)
		ret = dbenv->log_set_config(dbenv, DB_LOG_AUTO_REMOVE, 1);
	if (ret != 0) {
		*err_r = xasprintf("database environment %s: configure: %s",
				   e->home, db_strerror(ret));
		return -1;
	}
	return 0;
}

int db_env_open(const char *home, const struct db_env_params *p,
		struct db_env **env_r, char **err_r)
{
	static const struct db_env_params defaults;
	struct db_env *e;
	u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
			  DB_INIT_MPOOL | DB_THREAD | DB_RECOVER;
	int ret;

	*env_r = NULL;
	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		*err_r = xasprintf("database environment %s: mkdir: %s", home,
				   strerror(errno));
		return -1;
	}

	e = xcalloc(1, sizeof(*e));
	e->home = xstrdup(home);
	e->p = p ? *p : defaults;
	e->lock_fd = -1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->commit_cv, NULL);
	pthread_cond_init(&e->ckpt_cv, NULL);
	db_waitq_init(&e->pending);
	db_waitq_init(&e->done);
	e->last_full_ckpt = time(NULL);

	if (db_env_lock(e, err_r) < 0)
		goto fail;
	ret = db_env_create(&e->env, 0);
	if (ret != 0) {
		*err_r = xasprintf("database environment %s: %s", home,
				   db_strerror(ret));
		goto fail;
	}
	if (db_env_configure(e, err_r) < 0)
		goto fail;
	ret = e->env->open(e->env, home, flags, 0600);
	if (ret != 0) {
		*err_r = db_open_error(home, ret);
		goto fail;
	}
	log_info("event=db_env_open env=%s cache_mb=%u", home,
		 e->p.cache_mb ? e->p.cache_mb : 32);
	*env_r = e;
	return 0;

fail:
	if (e->env != NULL)
		e->env->close(e->env, 0);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->commit_cv);
	pthread_cond_destroy(&e->ckpt_cv);
	free(e->home);
	free(e);
	return -1;
}

DB_ENV *db_env_handle(struct db_env *env)
{
	return env->env;
}

const char *db_env_home(const struct db_env *env)
{
	return env->home;
}

unsigned long db_env_flush_count(struct db_env *env)
{
	unsigned long n;

	pthread_mutex_lock(&env->mu);
	n = env->flush_count;
	pthread_mutex_unlock(&env->mu);
	return n;
}

unsigned long db_env_checkpoint_count(struct db_env *env)
{
	unsigned long n;

	pthread_mutex_lock(&env->mu);
	n = env->ckpt_count;
	pthread_mutex_unlock(&env->mu);
	return n;
}

/* The LSN of the last checkpoint (zero if unknown). */
static DB_LSN db_last_ckp(struct db_env *env)
{
	DB_TXN_STAT *st = NULL;
	DB_LSN lsn = {0, 0};

	if (env->env->txn_stat(env->env, &st, 0) == 0 && st != NULL) {
		lsn = st->st_last_ckp;
		free(st);
	}
	return lsn;
}

/*
 * One checkpoint attempt: txn_checkpoint(kbyte, 0, flags).  BDB skips it
 * when too little was logged, so the counter moves only when the last
 * checkpoint LSN does.  Any thread.
 */
static int db_checkpoint_run(struct db_env *env, unsigned kbyte,
			     u_int32_t flags)
{
	DB_LSN before = db_last_ckp(env), after;
	int ret;

	ret = env->env->txn_checkpoint(env->env, kbyte, 0, flags);
	if (ret != 0) {
		log_warnx("event=db_checkpoint env=%s error=\"%s\"", env->home,
			  db_strerror(ret));
		return ret;
	}
	after = db_last_ckp(env);
	if (after.file != before.file || after.offset != before.offset) {
		pthread_mutex_lock(&env->mu);
		env->ckpt_count++;
		pthread_mutex_unlock(&env->mu);
		log_debug("event=db_checkpoint env=%s lsn=%u/%u", env->home,
			  (unsigned)after.file, (unsigned)after.offset);
	}
	return 0;
}

int db_env_checkpoint(struct db_env *env, int force)
{
	return db_checkpoint_run(env, 0, force ? DB_FORCE : 0);
}

/* --- tables --------------------------------------------------------------- */

int db_table_open(struct db_env *env, const char *name, DBTYPE type,
		  unsigned dbflags, DB **db_r, char **err_r)
{
	struct db_table *t;
	DB *db = NULL;
	int ret;

	*db_r = NULL;
	for (t = env->tables; t != NULL; t = t->next) {
		if (strcmp(t->name, name) == 0) {
			*db_r = t->db;
			return 0;
		}
	}
	ret = db_create(&db, env->env, 0);
	if (ret != 0)
		goto fail;
	if (dbflags != 0) {
		ret = db->set_flags(db, dbflags);
		if (ret != 0)
			goto fail;
	}
	ret = db->open(db, NULL, name, NULL, type,
		       DB_CREATE | DB_THREAD | DB_AUTO_COMMIT, 0600);
	if (ret != 0)
		goto fail;

	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->db = db;
	t->next = env->tables;
	env->tables = t;
	*db_r = db;
	return 0;

fail:
	if (db != NULL)
		db->close(db, 0);
	*err_r =
	    xasprintf("database %s/%s: %s", env->home, name, db_strerror(ret));
	return -1;
}

/* --- transactions --------------------------------------------------------- */

static int db_is_retryable(int ret)
{
	return ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED;
}

/* 1, 2, 4 ... ms plus up to 1 ms of jitter so two losers do not collide
 * again in step. */
static void db_backoff(unsigned attempt)
{
	static _Thread_local uint32_t seed;
	struct timespec ts;
	unsigned us;

	if (seed == 0)
		seed = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&ts;
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	us = (1000u << (attempt < 5 ? attempt : 5)) + seed % 1000u;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)us * 1000;
	nanosleep(&ts, NULL);
}

static int db_txn_run_flags(struct db_env *env,
			    int (*fn)(DB_TXN *txn, void *arg), void *arg,
			    u_int32_t commit_flags)
{
	DB_ENV *dbenv = env->env;
	DB_TXN *txn;
	int ret;

	for (unsigned attempt = 0;; attempt++) {
		ret = dbenv->txn_begin(dbenv, NULL, &txn, 0);
		if (ret != 0) {
			log_warnx("event=db_txn_begin env=%s error=\"%s\"",
				  env->home, db_strerror(ret));
			return ret;
		}
		ret = fn(txn, arg);
		if (ret == 0) {
			/* commit frees txn whatever it returns */
			ret = txn->commit(txn, commit_flags);
			if (ret == 0)
				return 0;
		} else {
			txn->abort(txn);
		}
		if (!db_is_retryable(ret))
			break;
		if (attempt + 1 >= DB_TXN_MAX_TRIES) {
			log_warnx("event=db_txn_give_up env=%s tries=%u "
				  "error=\"%s\"",
				  env->home, attempt + 1, db_strerror(ret));
			break;
		}
		log_debug("event=db_txn_retry env=%s attempt=%u error=\"%s\"",
			  env->home, attempt + 1, db_strerror(ret));
		db_backoff(attempt);
	}
	return ret;
}

int db_txn_run(struct db_env *env, int (*fn)(DB_TXN *txn, void *arg), void *arg)
{
	return db_txn_run_flags(env, fn, arg, 0);
}

int db_txn_run_sync(struct db_env *env, int (*fn)(DB_TXN *txn, void *arg),
		    void *arg)
{
	return db_txn_run_flags(env, fn, arg, DB_TXN_SYNC);
}

/* --- group commit --------------------------------------------------------- */

static int db_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char qbuf[256];

	if (fd < 0) {
		log_warn("event=db_fsync_dir op=open dir=%s",
			 log_q(qbuf, sizeof(qbuf), dir));
		return -1;
	}
	if (fsync(fd) < 0) {
		log_warn("event=db_fsync_dir op=fsync dir=%s",
			 log_q(qbuf, sizeof(qbuf), dir));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Has an earlier waiter of the batch (before stop) synced dir already? */
static const struct db_waiter *db_dir_seen(const struct db_waiter *batch,
					   const struct db_waiter *stop,
					   const char *dir)
{
	for (const struct db_waiter *w = batch; w != stop; w = w->next) {
		if (w->dirs == NULL)
			continue;
		for (size_t i = 0; w->dirs[i] != NULL; i++)
			if (strcmp(w->dirs[i], dir) == 0)
				return w;
	}
	return NULL;
}

/*
 * One group commit for a batch: fsync each distinct directory once, then
 * force the log once.  Sets each waiter's ok.
 */
static void db_flush_batch(struct db_env *env, struct db_waiter *batch)
{
	int ret;

	for (struct db_waiter *w = batch; w != NULL; w = w->next) {
		w->ok = 1;
		if (w->dirs == NULL)
			continue;
		for (size_t i = 0; w->dirs[i] != NULL; i++) {
			const struct db_waiter *seen;

			seen = db_dir_seen(batch, w, w->dirs[i]);
			if (seen != NULL) {
				if (!seen->ok)
					w->ok = 0;
			} else if (db_fsync_dir(w->dirs[i]) < 0) {
				w->ok = 0;
			}
		}
	}
	ret = env->env->log_flush(env->env, NULL);
	if (ret != 0) {
		log_warnx("event=db_log_flush env=%s error=\"%s\"", env->home,
			  db_strerror(ret));
		for (struct db_waiter *w = batch; w != NULL; w = w->next)
			w->ok = 0;
	}
	pthread_mutex_lock(&env->mu);
	env->flush_count++;
	pthread_mutex_unlock(&env->mu);
}

static void *db_commit_main(void *arg)
{
	struct db_env *env = arg;
	struct db_waitq batch;

	pthread_mutex_lock(&env->mu);
	for (;;) {
		while (env->pending.head == NULL && !env->stop)
			pthread_cond_wait(&env->commit_cv, &env->mu);
		if (env->pending.head == NULL)
			break; /* stopping, nothing left */
		db_waitq_init(&batch);
		db_waitq_splice(&batch, &env->pending);
		pthread_mutex_unlock(&env->mu);

		db_flush_batch(env, batch.head);

		pthread_mutex_lock(&env->mu);
		db_waitq_splice(&env->done, &batch);
		pthread_mutex_unlock(&env->mu);
		net_async_trigger(env->async);
		pthread_mutex_lock(&env->mu);
	}
	pthread_mutex_unlock(&env->mu);
	return NULL;
}

/* Runs the callbacks of every flushed request, on the loop thread. */
static void db_run_done(struct db_env *env)
{
	struct db_waitq q;
	struct db_waiter *w, *next;

	db_waitq_init(&q);
	pthread_mutex_lock(&env->mu);
	db_waitq_splice(&q, &env->done);
	pthread_mutex_unlock(&env->mu);
	for (w = q.head; w != NULL; w = next) {
		next = w->next;
		w->cb(w->arg, w->ok);
		db_waiter_free(w);
	}
}

static void db_async_cb(void *arg)
{
	db_run_done(arg);
}

static char **db_copy_dirs(const char *const *dirs)
{
	size_t n = 0;
	char **copy;

	if (dirs == NULL || dirs[0] == NULL)
		return NULL;
	while (dirs[n] != NULL)
		n++;
	copy = xcalloc(n + 1, sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		copy[i] = xstrdup(dirs[i]);
	return copy;
}

void db_durable_wait(struct db_env *env, const char *const *dirs_to_sync,
		     void (*cb)(void *arg, int ok), void *arg)
{
	struct db_waiter *w = xcalloc(1, sizeof(*w));
	int running;

	w->dirs = db_copy_dirs(dirs_to_sync);
	w->cb = cb;
	w->arg = arg;

	pthread_mutex_lock(&env->mu);
	running = env->threads_running && !env->stop;
	if (running) {
		db_waitq_push(&env->pending, w);
		pthread_cond_signal(&env->commit_cv);
	}
	pthread_mutex_unlock(&env->mu);
	if (running)
		return;

	/* No loop: force the log now and answer on the caller's stack. */
	w->next = NULL;
	db_flush_batch(env, w);
	cb(arg, w->ok);
	db_waiter_free(w);
}

/* --- checkpoints ---------------------------------------------------------- */

static void *db_ckpt_main(void *arg)
{
	struct db_env *env = arg;
	unsigned kb = env->p.checkpoint_kb ? env->p.checkpoint_kb : 8192;

	pthread_mutex_lock(&env->mu);
	for (;;) {
		int want;

		while (env->ckpt_wanted == 0 && !env->stop)
			pthread_cond_wait(&env->ckpt_cv, &env->mu);
		if (env->stop)
			break;
		want = env->ckpt_wanted;
		env->ckpt_wanted = 0;
		pthread_mutex_unlock(&env->mu);

		/* kbyte 0: checkpoint if anything was logged since the last
		 * one; kb: only once that much log has accumulated. */
		db_checkpoint_run(env, want == 2 ? 0 : kb, 0);

		pthread_mutex_lock(&env->mu);
	}
	pthread_mutex_unlock(&env->mu);
	return NULL;
}

static void db_ckpt_timer_cb(void *arg)
{
	struct db_env *env = arg;
	unsigned secs = env->p.checkpoint_secs ? env->p.checkpoint_secs : 60;
	time_t now = time(NULL);
	int want = 1;

	if (now - env->last_full_ckpt >= (time_t)secs) {
		env->last_full_ckpt = now;
		want = 2;
	}
	pthread_mutex_lock(&env->mu);
	if (want > env->ckpt_wanted)
		env->ckpt_wanted = want;
	pthread_cond_signal(&env->ckpt_cv);
	pthread_mutex_unlock(&env->mu);
}

int db_env_attach_loop(struct db_env *env, struct net *n, char **err_r)
{
	unsigned secs = env->p.checkpoint_secs ? env->p.checkpoint_secs : 60;
	unsigned tick = secs < DB_CKPT_TICK_SECS ? secs : DB_CKPT_TICK_SECS;
	int ret;

	if (env->threads_running) {
		*err_r = xasprintf("database environment %s: already "
				   "attached to a loop",
				   env->home);
		return -1;
	}
	env->net = n;
	env->async = net_async_new(n, db_async_cb, env);
	if (env->async == NULL) {
		*err_r = xasprintf("database environment %s: cannot create "
				   "the commit wake-up",
				   env->home);
		return -1;
	}
	env->stop = 0;
	ret = pthread_create(&env->commit_thread, NULL, db_commit_main, env);
	if (ret != 0) {
		*err_r = xasprintf("database environment %s: commit thread: "
				   "%s",
				   env->home, strerror(ret));
		net_async_free(&env->async);
		return -1;
	}
	ret = pthread_create(&env->ckpt_thread, NULL, db_ckpt_main, env);
	if (ret != 0) {
		*err_r = xasprintf("database environment %s: checkpoint "
				   "thread: %s",
				   env->home, strerror(ret));
		pthread_mutex_lock(&env->mu);
		env->stop = 1;
		pthread_cond_broadcast(&env->commit_cv);
		pthread_mutex_unlock(&env->mu);
		pthread_join(env->commit_thread, NULL);
		net_async_free(&env->async);
		return -1;
	}
	pthread_mutex_lock(&env->mu);
	env->threads_running = 1;
	pthread_mutex_unlock(&env->mu);

	env->last_full_ckpt = time(NULL);
	env->ckpt_timer = net_timer_new(n, db_ckpt_timer_cb, env);
	if (env->ckpt_timer != NULL)
		net_timer_start(env->ckpt_timer, tick * 1000u, 1);
	else
		log_warnx("event=db_checkpoint_timer env=%s error=\"cannot "
			  "create timer\"",
			  env->home);
	return 0;
}

/* Stops both helper threads; the commit thread first flushes whatever is
 * still pending, so every queued request ends on the done list. */
static void db_env_detach_loop(struct db_env *env)
{
	if (!env->threads_running)
		return;
	pthread_mutex_lock(&env->mu);
	env->stop = 1;
	pthread_cond_broadcast(&env->commit_cv);
	pthread_cond_broadcast(&env->ckpt_cv);
	pthread_mutex_unlock(&env->mu);
	pthread_join(env->commit_thread, NULL);
	pthread_join(env->ckpt_thread, NULL);
	pthread_mutex_lock(&env->mu);
	env->threads_running = 0;
	pthread_mutex_unlock(&env->mu);

	net_timer_free(&env->ckpt_timer);
	net_async_free(&env->async);
	/* Callbacks the loop had not run yet run here (db_env_close is
	 * called on the loop thread). */
	db_run_done(env);
	env->net = NULL;
}

void db_env_close(struct db_env **envp)
{
	struct db_env *env = *envp;
	struct db_table *t, *next;
	int ret;

	if (env == NULL)
		return;
	*envp = NULL;
	db_env_detach_loop(env);

	ret = env->env->log_flush(env->env, NULL);
	if (ret != 0)
		log_warnx("event=db_log_flush env=%s error=\"%s\"", env->home,
			  db_strerror(ret));
	ret = env->env->txn_checkpoint(env->env, 0, 0, 0);
	if (ret != 0)
		log_warnx("event=db_checkpoint env=%s error=\"%s\"", env->home,
			  db_strerror(ret));
	for (t = env->tables; t != NULL; t = next) {
		next = t->next;
		ret = t->db->close(t->db, 0);
		if (ret != 0)
			log_warnx("event=db_close env=%s table=%s "
				  "error=\"%s\"",
				  env->home, t->name, db_strerror(ret));
		free(t->name);
		free(t);
	}
	ret = env->env->close(env->env, 0);
	if (ret != 0)
		log_warnx("event=db_env_close env=%s error=\"%s\"", env->home,
			  db_strerror(ret));
	else
		log_debug("event=db_env_close env=%s", env->home);
	if (env->lock_fd >= 0)
		close(env->lock_fd);
	pthread_mutex_destroy(&env->mu);
	pthread_cond_destroy(&env->commit_cv);
	pthread_cond_destroy(&env->ckpt_cv);
	free(env->home);
	free(env);
}
