/*
 * mailstore_int.h - private to store/mailstore_*.c: the engine struct,
 * table handles, record codecs and the transaction helpers.
 *
 * Files: mailstore_open.c (environment, tables, ms_txn and post-commit
 * work, start-up cleanup), _codec.c (records, keys, name rules),
 * _user.c (users, stats), _mailbox.c (mailboxes, rename), _msg.c
 * (listing, MIME records, keywords, flags, expunge, tombstones),
 * _copy.c (COPY/MOVE), _append.c (spools, deliveries, MULTIAPPEND),
 * _pool.c (fsync workers), _quota.c (quota, subscriptions, ACL, seen),
 * _changelog.c (change log, hooks), _reconstruct.c.
 *
 * Tables (BTREE files in data_dir/db):
 *   meta      "next_mbox" u64, "next_seq" u64, "uidvalidity" u64,
 *             "g"+id (deleted mailbox ids, for start-up cleanup)
 *   users     user -> struct ms_user_rec
 *   mailboxes id(BE32) -> struct mstore_mailbox encoding
 *   mbnames   user NUL name -> id(BE32)
 *   msgs      id(BE32) uid(BE32) -> struct mstore_msg encoding (fixed)
 *   mime      id(BE32) uid(BE32) -> mime_serialize() blob
 *   tombs     id(BE32) uid(BE32) -> modseq(BE64)
 *   keywords  id(BE32) -> names, NUL-terminated, in bit order
 *   acl       id(BE32) -> ident NUL rights NUL ...
 *   seen      user NUL id(BE32) -> string
 *   subs      user NUL name -> ""
 *   quota     user -> 4 x u64
 *   changes   seq(BE64) -> struct mstore_change encoding
 */
#ifndef ROOKERY_STORE_MAILSTORE_INT_H
#define ROOKERY_STORE_MAILSTORE_INT_H

#include <db.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mailstore.h"
#include "strbuf.h"

struct db_env;
struct net_timer;
struct net_async;
struct ms_delivery;

#define MS_MAX_HOOKS 16
#define MS_META_FILE ".meta"
/* .meta is rewritten whenever a UID that is a multiple of this is given
 * out, so its "uidreserve" always exceeds every UID in use. */
#define MS_UID_RESERVE 1024u

struct ms_hook {
	mstore_change_fn *fn;
	void *arg;
};

/*
 * Files a durable commit has forgotten (NUL-separated paths): message
 * files to unlink, mailbox directories to empty and remove.
 */
struct ms_post {
	struct ms_post *next;
	struct mstore *ms;
	char *unlinks;
	size_t ulen;
	char *rmdirs;
	size_t rlen;
};

/* Worker pool (mailstore_pool.c): fsyncs of spooled messages, and the
 * removal of files that commits have forgotten. */
struct ms_pool {
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ms_delivery *queue_head, **queue_tail;
	struct ms_delivery *done_head, **done_tail;
	struct ms_post *rm_head, **rm_tail;
	int stop;
	struct net_async *async;
};

struct mstore {
	char *dir, *db_dir, *mail_dir, *tmp_dir;
	struct mstore_params p;
	struct db_env *env;
	struct net *net;

	DB *meta, *users, *mboxes, *mbnames, *msgs, *mime, *tombs, *keywords,
	    *acl, *seen, *subs, *quota, *changes;
	/* Secondary indexes (mailbox, modseq, uid) of msgs and tombs, kept
	 * by Berkeley DB itself (DB->associate): "what changed since modseq
	 * M" costs the changes, not the mailbox (mailstore_modseq.c). */
	DB *msgs_bymod, *tombs_bymod;
	/* change-log retention (mailstore_changelog.c) */
	struct net_timer *expire_timer;

	/* Rows written by the transaction being run; hooks after commit. */
	struct mstore_change *pend;
	size_t npend, pend_cap;
	/* Paths to unlink / directories to remove once the commit is
	 * durable (expunge, mailbox delete). */
	struct strbuf post_unlink; /* NUL-separated paths */
	struct strbuf post_rmdir;  /* NUL-separated paths */
	/* Directories holding links made by the transaction (durable wait). */
	struct strbuf post_dirs; /* NUL-separated paths */

	/* Rows of deliveries' commits, held until they are durable (so
	 * IDLE sessions never see a UID a crash could hand out again). */
	struct mstore_change *hold;
	size_t nhold;
	int holding;
	/* Rows waiting for the hooks (a hook's own commits queue here). */
	struct mstore_change *defer;
	size_t ndefer;

	struct ms_hook hooks[MS_MAX_HOOKS];
	unsigned nhooks;
	int in_hooks;

	unsigned in_flight;
	int sync_depth; /* > 0: commit synchronously even with a loop */
	struct ms_pool pool;
	uint64_t spool_counter;
};

/* ---- codec (mailstore_codec.c) ---------------------------------------- */

void ms_put_be32(uint8_t *p, uint32_t v);
void ms_put_be64(uint8_t *p, uint64_t v);
uint32_t ms_get_be32(const uint8_t *p);
uint64_t ms_get_be64(const uint8_t *p);

#define MS_MSG_REC_LEN 77

void ms_msg_encode(const struct mstore_msg *m, uint8_t out[MS_MSG_REC_LEN]);
int ms_msg_decode(const void *buf, size_t len, struct mstore_msg *m_r);
int ms_msg_peek_modseq(const void *buf, size_t len, uint64_t *modseq_r);
/* mailstore_modseq.c: the (mailbox, modseq, uid) indexes */
int ms_modseq_open(struct mstore *ms, char **err_r);
void ms_mbox_encode(const struct mstore_mailbox *mb, struct strbuf *out);
int ms_mbox_decode(const void *buf, size_t len, struct mstore_mailbox *mb_r);
void ms_change_encode(const struct mstore_change *ch, struct strbuf *out);
int ms_change_decode(const void *buf, size_t len, struct mstore_change *ch_r);
void ms_quota_encode(const struct mstore_quota *q, uint8_t out[32]);
int ms_quota_decode(const void *buf, size_t len, struct mstore_quota *q_r);

/* Keys. */
void ms_key_msg(uint8_t k[8], uint32_t mbox, uint32_t uid);
void ms_key_id(uint8_t k[4], uint32_t mbox);
/* user NUL rest (rest may be NULL: prefix "user\0"). */
void ms_key_user_name(struct strbuf *k, const char *user, const char *rest);

/* Lower-cases a user name into out; -1 if invalid. */
int ms_user_norm(const char *user, char out[MSTORE_USER_MAX + 1]);
/* Normalises a mailbox name (INBOX case) into out; -1 if invalid. */
int ms_mbox_norm(const char *name, struct strbuf *out);
int ms_is_inbox(const char *normname);

/* ---- DB helpers (mailstore_open.c) ------------------------------------ */

/* BDB return codes (0, DB_NOTFOUND, ...).  *val_r malloc()ed. */
int ms_db_get(DB *db, DB_TXN *txn, const void *key, size_t klen, void **val_r,
	      size_t *vlen_r, uint32_t flags);
int ms_db_put(DB *db, DB_TXN *txn, const void *key, size_t klen,
	      const void *val, size_t vlen);
int ms_db_del(DB *db, DB_TXN *txn, const void *key, size_t klen);
/* fn(arg, key) for each key of db that starts with prefix, in order,
 * until fn returns non-zero.  0 or a BDB error. */
int ms_db_prefix_each(DB *db, DB_TXN *txn, const struct strbuf *prefix,
		      int (*fn)(void *arg, const DBT *k), void *arg);
/* Counter in meta: returns the value and stores value + 1. */
int ms_meta_next(struct mstore *ms, DB_TXN *txn, const char *name,
		 uint64_t first, uint64_t *val_r);
int ms_meta_get(struct mstore *ms, DB_TXN *txn, const char *name,
		uint64_t *val_r);
int ms_meta_set(struct mstore *ms, DB_TXN *txn, const char *name, uint64_t val);

/*
 * Runs fn in a transaction (db_txn_run; db_txn_run_sync when no loop is
 * attached), resetting the pending rows and post-commit lists before each
 * attempt.  fn returns 0 / a BDB code / -1 with *err set.  After a commit
 * the hooks run and the post-commit work is scheduled.  Returns the
 * mstore_err (E_TEMP for BDB failures, logged with what).
 */
enum mstore_err ms_txn(struct mstore *ms, const char *what,
		       int (*fn)(DB_TXN *txn, void *arg), void *arg,
		       enum mstore_err *err);
/* Converts a BDB code from inside fn: DB_NOTFOUND -> notfound_err. */
int ms_fail(enum mstore_err *err, enum mstore_err e);

/* Files and directories. */
char *ms_mbox_dir(const struct mstore *ms, uint32_t id);
int ms_fsync_path(const char *path, int dir);
void ms_post_add(struct strbuf *list, const char *path);
/* Writes the mailbox .meta file (owner, name, uidvalidity, uidreserve),
 * fsynced, atomically replaced.  Also makes the directory. */
void ms_meta_file_write(struct mstore *ms, const struct mstore_mailbox *mb);

/* ---- change log (mailstore_changelog.c) ------------------------------- */

/* Writes one row in txn and queues it for the hooks. */
int ms_change_add(struct mstore *ms, DB_TXN *txn, enum mstore_change_kind kind,
		  const char *user, uint32_t mbox, uint32_t uid,
		  uint64_t modseq);
void ms_pending_reset(struct mstore *ms);
/* After a commit: hands the pending rows to the hooks, or, while
 * ms->holding (a delivery), keeps them in ms->hold for later. */
void ms_hooks_run(struct mstore *ms);
/* Hands rows to the hooks, in order even when a hook commits more. */
void ms_hooks_deliver(struct mstore *ms, const struct mstore_change *rows,
		      size_t n);

/* ---- shared by the message and mailbox files -------------------------- */

/* Reads a mailbox record (DB_RMW when for_update). */
int ms_mbox_read(struct mstore *ms, DB_TXN *txn, uint32_t id, int for_update,
		 struct mstore_mailbox *mb_r);
int ms_mbox_write(struct mstore *ms, DB_TXN *txn,
		  const struct mstore_mailbox *mb);
/* Looks up user's mailbox by normalised name: DB_NOTFOUND if none. */
int ms_mbox_lookup(struct mstore *ms, DB_TXN *txn, const char *user,
		   const char *normname, uint32_t *id_r);
int ms_user_read(struct mstore *ms, DB_TXN *txn, const char *user);
/* Writes a user record, a default quota record and the change row. */
int ms_user_put(struct mstore *ms, DB_TXN *txn, const char *user);
/* Quota record of user (DB_RMW); DB_NOTFOUND when missing. */
int ms_quota_read(struct mstore *ms, DB_TXN *txn, const char *user,
		  struct mstore_quota *q_r);
int ms_quota_write(struct mstore *ms, DB_TXN *txn, const char *user,
		   const struct mstore_quota *q);
/* Adds deltas to user's usage (clamped at 0); creates the record. */
int ms_quota_add(struct mstore *ms, DB_TXN *txn, const char *user,
		 int64_t dbytes, int64_t dmsgs);
/* Keyword names to a bit mask, adding new names to the mailbox. */
int ms_keywords_map(struct mstore *ms, DB_TXN *txn, uint32_t mbox,
		    const char *const *names, uint64_t *mask_r,
		    enum mstore_err *err);
/* Loads a mailbox's keyword names (strv). */
int ms_keywords_load(struct mstore *ms, DB_TXN *txn, uint32_t mbox,
		     char ***names_r, size_t *n_r);
/* Gives a deleted mailbox's usage back to its owner's quota (in txn). */
int ms_mbox_purge(struct mstore *ms, DB_TXN *txn, uint32_t id);
/* After the delete committed: removes the mailbox's msgs, mime and tombs
 * records in transactions of bounded size (lock table limits).  Also run
 * at start-up for deleted mailboxes, in case a crash interrupted it. */
void ms_mbox_purge_records(struct mstore *ms, uint32_t id, int rmdir);
/* Creates a mailbox record in txn (id allocated unless *id_r != 0). */
int ms_mbox_create_txn(struct mstore *ms, DB_TXN *txn, const char *user,
		       const char *normname, uint32_t special_use,
		       uint32_t uidvalidity, uint32_t *id_r,
		       enum mstore_err *err);
/* Flag accounting for mailbox counters. */
void ms_mbox_count_add(struct mstore_mailbox *mb, const struct mstore_msg *m,
		       int sign);

/* Hard-links src as mail/<mbox>/<uid> (replacing a leftover); *path_r
 * allocated.  Returns 0 or -1 (logged). */
int ms_link(struct mstore *ms, const char *src, uint32_t mbox, uint32_t uid,
	    char **path_r);
/* Reads a message record (DB_RMW when rmw and txn): DB_NOTFOUND if none. */
int ms_msg_read(struct mstore *ms, DB_TXN *txn, uint32_t mbox, uint32_t uid,
		int rmw, struct mstore_msg *m_r);
/* Removes one message inside txn: record, MIME, tombstone (modseq),
 * counters of *mb, change row; the file once the commit is durable. */
int ms_msg_remove(struct mstore *ms, DB_TXN *txn, struct mstore_mailbox *mb,
		  const struct mstore_msg *m, uint64_t modseq);
/* A sorted copy of uids without duplicates or zeros (never NULL). */
uint32_t *ms_uids_sorted(const uint32_t *uids, size_t n, size_t *n_r);
/* Writes a message record. */
int ms_msg_write(struct mstore *ms, DB_TXN *txn, uint32_t mbox,
		 const struct mstore_msg *m);

/* SHA-256 hex of a buffer (reconstruct). */
void ms_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * A delivery: one spool to many targets (nsp = 1, one transaction per
 * target), or MULTIAPPEND: spool i to target i, all in one transaction.
 */
struct ms_delivery {
	struct ms_delivery *next;
	struct mstore *ms;
	struct mstore_spool **sps;
	size_t nsp;
	struct mstore_target *t;
	size_t n;
	int multi;
	mstore_deliver_cb *cb;
	void *arg;
	int fsync_ok;
	struct strbuf dirs; /* NUL-separated */
	struct mstore_change
	    *rows; /* change rows, for the hooks once durable */
	size_t nrows;
};

/* Delivery steps (mailstore_append.c) used by the pool. */
int ms_delivery_fsync(struct ms_delivery *d);
void ms_deliver_commit(struct ms_delivery *d);

/* ---- start-up cleanup and pool ---------------------------------------- */

void ms_startup_cleanup(struct mstore *ms);
int ms_pool_start(struct mstore *ms, char **err_r);
void ms_expire_start(struct mstore *ms);
void ms_expire_stop(struct mstore *ms);
void ms_pool_submit(struct mstore *ms, struct ms_delivery *d);
/* Removes p's files on a pool thread, or here if no pool runs; frees p. */
void ms_pool_remove(struct mstore *ms, struct ms_post *p);
void ms_post_remove(struct ms_post *p);
void ms_pool_stop(struct mstore *ms);

/*
 * Ids of user's mailboxes (user normalised), from the name index, in name
 * order; txn may be NULL.  free() *ids_r.  0 or a BDB error code.
 */
int ms_user_mbox_ids(struct mstore *ms, DB_TXN *txn, const char *user,
		     uint32_t **ids_r, size_t *n_r);

#endif
