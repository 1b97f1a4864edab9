/*
 * db.h - Berkeley DB 5.3 helpers: a transactional environment, tables,
 * transactions with deadlock retry, checkpoints, and group commit.
 *
 * Every daemon that keeps data (stores, ldapab, the embedded directory)
 * opens its environment through db_env_open() and never calls the DB_ENV
 * setup functions itself.
 *
 * Group commit.  The event loop commits transactions with DB_TXN_NOSYNC
 * (the log record is written, not yet forced to disk) through db_txn_run(),
 * then calls db_durable_wait(): a commit thread forces the log to disk once
 * for every caller that asked since its last flush, and each callback then
 * runs on the loop thread.  So 16 deliveries that commit while one fsync is
 * in flight share the next fsync.  Data files that must be durable before
 * the log record (message files, DESIGN.md, Storage) are fsynced by the
 * caller before its transaction commits, or handed to db_durable_wait()
 * as directories to fsync before the log flush.
 */
/*
 * Berkeley DB's own header is also named db.h, and the build puts lib/
 * on the include path, so <db.h> finds this file.  #include_next skips to
 * the next directory of the search path (the system's): included through
 * "db.h" from lib/, this file is entered once more through -Ilib, and that
 * inner pass reaches /usr/include/db.h.  Keep this block before the guard.
 */
#ifndef ROOKERY_DB_H
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winclude-next-absolute-path"
#endif
#include_next <db.h>
#ifdef __clang__
#pragma clang diagnostic pop
#endif
#endif

#ifndef ROOKERY_DB_H
#define ROOKERY_DB_H

#include <stddef.h>

struct net;
struct db_env;

struct db_env_params {
	unsigned cache_mb;	    /* mpool size; 0 = 32 */
	unsigned checkpoint_secs;   /* 0 = 60 */
	unsigned checkpoint_kb;	    /* also checkpoint after this much log; 0 = 8192 */
	int remove_old_logs;	    /* delete log files no longer needed */
};

/*
 * Opens (creating if needed) a transactional environment in home
 * (DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
 * DB_THREAD | DB_RECOVER), with deadlock detection and DB_TXN_NOSYNC as the
 * default (durability comes from db_durable_wait or db_txn_run_sync).
 * home itself is created (mode 0700) when missing, not its parents.  An
 * exclusive flock on home/rookery.lock, held until db_env_close(), keeps
 * a second process (or a second open in this one) out: recovery while
 * another process uses the environment would corrupt it.  p NULL: all
 * defaults.  Returns 0, or -1 with an allocated *err_r saying what to do
 * ("another process holds ..." / "run rookery reconstruct").
 */
int db_env_open(const char *home, const struct db_env_params *p,
		struct db_env **env_r, char **err_r);
/* Stops the commit thread, forces the log, checkpoints, closes tables
 * opened with db_table_open and the environment.  Call it on the loop
 * thread, before net_free(): durable-wait callbacks still queued run here,
 * with ok set as usual.  NULL-safe; sets *env to NULL. */
void db_env_close(struct db_env **env);
DB_ENV *db_env_handle(struct db_env *env);
const char *db_env_home(const struct db_env *env);

/*
 * Opens (creating) table name (a file in home) of type (DB_BTREE,
 * DB_HASH, DB_RECNO) with extra DB flags (DB_DUP, DB_DUPSORT).  The handle
 * stays open until db_env_close(); opening the same name again returns
 * the same handle.  Open tables at start-up, before other threads use the
 * environment.  Returns 0 or -1 with *err_r.
 */
int db_table_open(struct db_env *env, const char *name, DBTYPE type,
		  unsigned dbflags, DB **db_r, char **err_r);

/*
 * Runs fn(txn, arg) in a new transaction and commits it (NOSYNC).  If fn
 * or the commit hits DB_LOCK_DEADLOCK / DB_LOCK_NOTGRANTED the transaction
 * is aborted and fn runs again (up to 10 times, with a short backoff).
 * fn returns 0 to commit, a BDB error code to abort (and retry on
 * deadlock), or -1 to abort for a reason of its own.  fn must be safe to
 * re-run: no side effects outside the transaction.  Returns 0 on commit,
 * otherwise fn's or BDB's error code.
 */
int db_txn_run(struct db_env *env, int (*fn)(DB_TXN *txn, void *arg),
	       void *arg);
/* The same, forcing the log before returning (admin tools, rare paths). */
int db_txn_run_sync(struct db_env *env, int (*fn)(DB_TXN *txn, void *arg),
		    void *arg);

/*
 * Starts the commit thread and the checkpoint timer on the daemon's loop.
 * Checkpoints run on a helper thread of their own (the timer only asks),
 * every checkpoint_secs, or sooner once checkpoint_kb of log has been
 * written.  Without it (the CLI), db_durable_wait() forces the log
 * synchronously.  Returns 0, or -1 with *err_r (already attached, thread
 * creation failed).
 */
int db_env_attach_loop(struct db_env *env, struct net *n, char **err_r);

/*
 * Asks for cb(arg, ok) to run on the loop thread once every transaction
 * committed so far is on disk.  dirs_to_sync: optional NULL-terminated list
 * of directory paths to fsync before the log is forced (new message files'
 * directory entries); copied.  ok = 0 if an fsync failed (the caller must
 * not acknowledge; the daemon logs and carries on).  Callbacks run in the
 * order of the requests, never inside this call while a loop is attached
 * (so the caller may pause its connection after asking).  Without a loop,
 * cb runs before db_durable_wait() returns.  Safe from any thread.
 */
void db_durable_wait(struct db_env *env, const char *const *dirs_to_sync,
		     void (*cb)(void *arg, int ok), void *arg);

/*
 * Counters for tests and `rookery status`: how many times the log has been
 * forced by group commit (db_durable_wait, either path), and how many
 * checkpoints have completed.  Safe from any thread.
 */
unsigned long db_env_flush_count(struct db_env *env);
unsigned long db_env_checkpoint_count(struct db_env *env);

/*
 * Checkpoints now, on the calling thread (admin tools, tests; daemons get
 * theirs from the timer of db_env_attach_loop).  force: even if nothing
 * was logged since the last one.  Returns 0 or a BDB error code.
 */
int db_env_checkpoint(struct db_env *env, int force);

/* A readable message for a BDB error code (db_strerror); -1 reads
 * "aborted by the caller". */
const char *db_error(int err);

#endif
