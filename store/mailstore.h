/*
 * mailstore.h - the storage engine of rookery-store (DESIGN.md, Storage).
 *
 * One struct mstore per store: a Berkeley DB transactional environment in
 * data_dir/db (through lib/db.h) holding the metadata, and one file per
 * message at data_dir/mail/<mailbox-id as 8 hex digits>/<uid>, mtime =
 * INTERNALDATE.  COPY hard-links.  New messages are spooled in
 * data_dir/tmp first.
 *
 * Threads.  Every function here is called on one thread: the daemon's loop
 * thread (or the CLI's only thread).  Internally, fsyncs of spooled
 * messages run on a small worker pool and the log flush on lib/db.c's
 * commit thread; their completions come back to the loop thread through
 * net_async.  Callbacks and change hooks always run on the loop thread.
 *
 * Errors.  Functions return enum mstore_err: MSTORE_OK (0) or the kind of
 * failure, which protocol code maps to its reply (LMTP 550 5.1.1 for
 * MSTORE_E_NOUSER, IMAP [TRYCREATE] for MSTORE_E_NOMAILBOX, ...).
 * MSTORE_E_TEMP means an I/O or database failure that has been logged.
 *
 * Names.  User names are full addresses ("alice@example.com"), compared
 * case-insensitively (kept lower-cased).  Mailbox names are UTF-8 (IMAP
 * modified UTF-7 is decoded by the IMAP layer), hierarchy separator '/',
 * "INBOX" case-insensitive (also as the first component: "inbox/x" is
 * "INBOX/x").  Refused with MSTORE_E_BADNAME: empty, longer than
 * MSTORE_MAILBOX_MAX, invalid UTF-8, NUL or control characters, a leading
 * or trailing '/', "//", a component "." or "..", or containing "..".
 *
 * Mailbox ids are immutable and never reused; RENAME changes metadata
 * only.  UIDVALIDITY is unique per mailbox id and increases over time.
 *
 * Modseq (RFC 7162).  Each mailbox has HIGHESTMODSEQ; every transaction
 * that changes a mailbox's messages gives every message it changes the
 * modseq HIGHESTMODSEQ + 1 and stores that as the new HIGHESTMODSEQ (so a
 * STORE on 100 messages uses one modseq; each appended message gets its
 * own).  Expunged messages leave a tombstone (uid, modseq) for QRESYNC
 * VANISHED and replication.
 *
 * Durability.  Without a loop (CLI, tests) every call commits
 * synchronously: when it returns, the change is on disk.  With a loop
 * attached, commits are NOSYNC and reach the disk with the next group
 * commit (any delivery's durable wait, or a checkpoint), except that
 * deliveries call back only once durable, and files of expunged messages
 * and deleted mailboxes are unlinked only once the commit that forgot
 * them is durable.  After a crash, mstore_open() reconciles each mailbox
 * directory with its records (see there).
 *
 * Change log.  Every committed change writes change-log rows (struct
 * mstore_change) in the same transaction; seq is store-wide and strictly
 * increasing.  After the commit the registered change hooks are called on
 * the loop thread, once per row (IMAP IDLE; replication push wake-up),
 * in seq order for the rows of one commit.  Hooks see most changes as
 * committed (NOSYNC), not yet durable; the rows of a delivery (APPEND)
 * are handed over only once it is durable, just before its callback, so
 * an IDLE client never learns a UID that a crash could hand out again.
 * A hook may therefore see a delivery's rows after rows with a higher
 * seq.  Hooks may call the engine (their own rows are queued).
 */
#ifndef ROOKERY_STORE_MAILSTORE_H
#define ROOKERY_STORE_MAILSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct db_env;
struct net;
struct mstore;
struct mstore_spool;
struct mime_message;

#define MSTORE_USER_MAX 255	/* bytes of a user name */
#define MSTORE_MAILBOX_MAX 1000 /* bytes of a mailbox name */
#define MSTORE_MAX_KEYWORDS 64	/* keywords per mailbox (bits of a mask) */
#define MSTORE_KEYWORD_MAX 100	/* bytes of a keyword */

enum mstore_err {
	MSTORE_OK = 0,
	MSTORE_E_NOUSER,      /* no such user */
	MSTORE_E_NOMAILBOX,   /* no such mailbox (or id) */
	MSTORE_E_EXISTS,      /* user or mailbox already exists */
	MSTORE_E_BADNAME,     /* invalid user or mailbox name */
	MSTORE_E_OVERQUOTA,   /* storage or message-count limit */
	MSTORE_E_HASCHILDREN, /* mailbox delete: delete the children first */
	MSTORE_E_NOTFOUND,    /* no such message (uid expunged or never was) */
	MSTORE_E_LIMIT,	      /* too many keywords, names too long, ... */
	MSTORE_E_CANNOT,      /* not allowed (delete INBOX, rename to INBOX) */
	MSTORE_E_INVAL,	      /* bad arguments (unfinished spool, ...) */
	MSTORE_E_TEMP,	      /* I/O or database failure: try again later */
};

/* A short English text for logs and protocol replies. */
const char *mstore_strerror(enum mstore_err err);
/* One lower-case word ("ok", "overquota", "temp", ...) for log values. */
const char *mstore_errcode(enum mstore_err err);

/* ---- the engine ------------------------------------------------------- */

struct mstore_params {
	unsigned cache_mb;		 /* BDB cache; 0 = lib/db.h default */
	unsigned fsync_threads;		 /* spool fsync workers; 0 = 8 */
	uint64_t default_quota_bytes;	 /* for new users; 0 = unlimited */
	uint64_t default_quota_messages; /* for new users; 0 = unlimited */
	/* mailboxes one user may have (CREATE refuses more); 0 = unlimited */
	unsigned max_mailboxes;
	/* Change-log rows older than this are deleted (0 = kept forever). */
	unsigned long long changelog_keep_secs;
};

/*
 * Opens (creating data_dir/db, data_dir/mail, data_dir/tmp as needed) the
 * store in data_dir.  Runs BDB recovery, then the start-up cleanup:
 * removes everything in tmp/, and in each mailbox directory removes (and
 * logs) files that have no index record and either carry a UID >= the
 * mailbox's UIDNEXT (a delivery that never committed) or have a tombstone
 * (an expunge whose unlink did not happen), and directories of deleted
 * mailboxes (and empty ones of mailboxes whose creation never reached the
 * disk).  Records whose file is missing (a record that reached the disk
 * before its directory entry, never acknowledged; or disk damage) are
 * expunged and logged.  Unindexed files with other UIDs and directories
 * of unknown mailboxes are kept and logged ("run rookery reconstruct");
 * new mailbox ids always stay above every directory on disk.
 * p may be NULL (defaults).  Returns 0 and *ms_r, or -1 and an allocated
 * *err_r (the caller frees it).
 */
int mstore_open(const char *data_dir, const struct mstore_params *p,
		struct mstore **ms_r, char **err_r);
/*
 * Daemon mode: starts lib/db.c's commit thread and this engine's fsync
 * workers on loop n.  Without it (CLI, tests) deliveries fsync and commit
 * synchronously and their callbacks run before mstore_deliver() returns.
 */
int mstore_attach_loop(struct mstore *ms, struct net *n, char **err_r);
/*
 * Finishes the deliveries in flight (their fsyncs, commits and log flush:
 * their callbacks run inside this call and must not start new work on
 * ms), closes the environment, frees *ms.  Call on the loop thread after
 * the loop stopped, before net_free().
 */
void mstore_close(struct mstore **ms);
const char *mstore_data_dir(const struct mstore *ms);

/* ---- users ------------------------------------------------------------ */

/* Creates user (and its INBOX, and its quota record from the defaults). */
enum mstore_err mstore_user_create(struct mstore *ms, const char *user);
/* Deletes user, every mailbox, subscription and quota record; files are
 * unlinked after the commit. */
enum mstore_err mstore_user_delete(struct mstore *ms, const char *user);
/* MSTORE_OK if user exists, MSTORE_E_NOUSER if not (or E_TEMP). */
enum mstore_err mstore_user_exists(struct mstore *ms, const char *user);
/* Sorted list of user names; free with mstore_strv_free(). */
enum mstore_err mstore_user_list(struct mstore *ms, char ***users_r,
				 size_t *n_r);
void mstore_strv_free(char ***v, size_t n);

/* ---- mailboxes -------------------------------------------------------- */

/* Special-use attributes (RFC 6154), struct mstore_mailbox.special_use. */
#define MSTORE_SU_ALL 0x01
#define MSTORE_SU_ARCHIVE 0x02
#define MSTORE_SU_DRAFTS 0x04
#define MSTORE_SU_FLAGGED 0x08
#define MSTORE_SU_JUNK 0x10
#define MSTORE_SU_SENT 0x20
#define MSTORE_SU_TRASH 0x40

struct mstore_mailbox {
	uint32_t id; /* immutable; directory mail/<%08x> */
	char *owner; /* user name (owned by this struct) */
	char *name;  /* full name, "INBOX", "Archive/2024" (owned) */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;    /* count of messages */
	uint32_t unseen;      /* messages without \Seen (owner's view) */
	uint32_t deleted;     /* messages with \Deleted */
	uint64_t bytes;	      /* sum of sizes (STATUS SIZE) */
	uint32_t special_use; /* MSTORE_SU_* */
	int64_t created;      /* unix time */
};

/* Frees the strings of mb (not mb itself) and zeroes it. */
void mstore_mailbox_clear(struct mstore_mailbox *mb);
/* Frees an array returned by mstore_mailbox_list(). */
void mstore_mailbox_list_free(struct mstore_mailbox **mbs, size_t n);

/* Checks a mailbox name (rules above); 0 valid, -1 not. */
int mstore_mailbox_name_valid(const char *name);

/*
 * Creates mailbox name for user.  Missing parents are not created (IMAP
 * CREATE does that by calling this for each prefix).  id_r may be NULL.
 */
enum mstore_err mstore_mailbox_create(struct mstore *ms, const char *user,
				      const char *name, uint32_t special_use,
				      uint32_t *id_r);
/*
 * Deletes a mailbox, its messages (quota decremented), keywords, ACL and
 * tombstones; the message records go right after the commit in bounded
 * transactions, and the directory once the last of them is durable.
 * INBOX: MSTORE_E_CANNOT; with children: MSTORE_E_HASCHILDREN.
 */
enum mstore_err mstore_mailbox_delete(struct mstore *ms, const char *user,
				      const char *name);
/*
 * The same in steps, for a caller that spreads the work over turns of
 * its loop (IMAP DELETE): _begin commits the deletion (the mailbox is
 * gone for every client from then on) and gives its id; each _purge_step
 * removes up to 1,000 of its records of each kind in one transaction,
 * *more_r while some are left.  Records a crash leaves behind are
 * removed at the next start.
 */
enum mstore_err mstore_mailbox_delete_begin(struct mstore *ms,
					    const char *user, const char *name,
					    uint32_t *id_r);
enum mstore_err mstore_mailbox_purge_step(struct mstore *ms, uint32_t id,
					  int *more_r);
/*
 * Renames old to new, and every child "old/..." to "new/..." (RFC 3501
 * 6.3.5).  Metadata only: ids, UIDVALIDITY and files stay.  Renaming
 * INBOX moves its messages to new (the mailbox keeps its id) and creates a
 * fresh empty INBOX (new id, new UIDVALIDITY); INBOX's children stay.
 * MSTORE_E_EXISTS if new (or a renamed child) exists.
 */
enum mstore_err mstore_mailbox_rename(struct mstore *ms, const char *user,
				      const char *oldname, const char *newname);
/* Sets the special-use attributes (CREATE-SPECIAL-USE, METADATA). */
enum mstore_err mstore_mailbox_set_special_use(struct mstore *ms,
					       uint32_t mailbox_id,
					       uint32_t special_use);
/* Looks a mailbox up; *mb_r is filled (clear it with
 * mstore_mailbox_clear()). */
enum mstore_err mstore_mailbox_get(struct mstore *ms, const char *user,
				   const char *name,
				   struct mstore_mailbox *mb_r);
enum mstore_err mstore_mailbox_get_by_id(struct mstore *ms, uint32_t id,
					 struct mstore_mailbox *mb_r);
/* All mailboxes of user, sorted by name (byte order; INBOX first). */
enum mstore_err mstore_mailbox_list(struct mstore *ms, const char *user,
				    struct mstore_mailbox **mbs_r, size_t *n_r);
/* The directory of a mailbox: data_dir/mail/<%08x> (allocated). */
char *mstore_mailbox_dir(const struct mstore *ms, uint32_t mailbox_id);

/* ---- subscriptions (names, may name mailboxes that do not exist) ------ */

enum mstore_err mstore_subscribe(struct mstore *ms, const char *user,
				 const char *name, int subscribe);
enum mstore_err mstore_subscriptions(struct mstore *ms, const char *user,
				     char ***names_r, size_t *n_r);

/* ---- ACL (RFC 4314); the engine stores, the IMAP layer decides -------- */

struct mstore_acl_entry {
	char *identifier; /* "bob@example.com", "anyone", "-bob@..." */
	char *rights;	  /* "lrswipkxtecda" subset, as given */
};
/* Entries of a mailbox (the owner's implicit rights are not stored). */
enum mstore_err mstore_acl_get(struct mstore *ms, uint32_t mailbox_id,
			       struct mstore_acl_entry **acl_r, size_t *n_r);
void mstore_acl_free(struct mstore_acl_entry **acl, size_t n);
/* Sets identifier's rights; rights NULL or "" removes the entry. */
enum mstore_err mstore_acl_set(struct mstore *ms, uint32_t mailbox_id,
			       const char *identifier, const char *rights);
/* Ids of mailboxes of other users with an ACL entry naming identifier
 * (or "anyone"), for the "Other Users" namespace; free() the array. */
enum mstore_err mstore_acl_shared_with(struct mstore *ms,
				       const char *identifier, uint32_t **ids_r,
				       size_t *n_r);

/* ---- per-user \Seen for mailboxes the user does not own --------------- */

/*
 * An opaque string kept per (user, mailbox): the IMAP layer stores a UID
 * set ("1:40,42") in it.  get: *seen_r is allocated ("" when none).
 */
enum mstore_err mstore_seen_get(struct mstore *ms, const char *user,
				uint32_t mailbox_id, char **seen_r);
enum mstore_err mstore_seen_set(struct mstore *ms, const char *user,
				uint32_t mailbox_id, const char *seen);

/* ---- messages --------------------------------------------------------- */

/* System flags (RFC 3501 2.3.2); \Recent is per session, not stored. */
#define MSTORE_F_SEEN 0x01
#define MSTORE_F_ANSWERED 0x02
#define MSTORE_F_FLAGGED 0x04
#define MSTORE_F_DELETED 0x08
#define MSTORE_F_DRAFT 0x10
#define MSTORE_F_ALL 0x1f

/* One message index record; small and fixed-size for cheap listings. */
struct mstore_msg {
	uint32_t uid;
	uint32_t flags;	   /* MSTORE_F_* */
	uint64_t keywords; /* bit i: keyword i of the mailbox */
	uint64_t modseq;
	uint64_t size;	      /* RFC822.SIZE: bytes of the file */
	int64_t internaldate; /* unix seconds (the file's mtime) */
	int32_t tz_offset;    /* INTERNALDATE zone in minutes east of UTC */
	char guid[65];	      /* SHA-256 of the bytes, lower-case hex */
};

/*
 * Every message of a mailbox in UID order: one cursor pass, no MIME data.
 * free() *msgs_r.  An empty mailbox gives *msgs_r = NULL, *n_r = 0.
 */
enum mstore_err mstore_msg_list(struct mstore *ms, uint32_t mailbox_id,
				struct mstore_msg **msgs_r, size_t *n_r);
/* Only messages with modseq > since (CONDSTORE CHANGEDSINCE, sync). */
enum mstore_err mstore_msg_list_changed(struct mstore *ms, uint32_t mailbox_id,
					uint64_t since,
					struct mstore_msg **msgs_r,
					size_t *n_r);
enum mstore_err mstore_msg_get(struct mstore *ms, uint32_t mailbox_id,
			       uint32_t uid, struct mstore_msg *msg_r);
/*
 * The MIME structure cached at delivery (ENVELOPE, BODYSTRUCTURE, part
 * offsets): free with mime_message_free().  MSTORE_E_NOTFOUND when the
 * message does not exist or has no structure (a message mime_parse()
 * refused: larger than MIME_MAX_MESSAGE_SIZE).
 */
enum mstore_err mstore_msg_mime(struct mstore *ms, uint32_t mailbox_id,
				uint32_t uid, struct mime_message **mime_r);
/*
 * Calls cb(arg, uid, mime) for every message of the mailbox with
 * first_uid <= uid <= last_uid that has a MIME record, in UID order (a
 * FETCH ENVELOPE/BODYSTRUCTURE of many messages, SORT, THREAD).  mime is
 * valid during the call only.  Records are read in batches, with no
 * database cursor open while cb runs, so cb may use the engine.  cb returns
 * 0 to go on, non-zero to stop (then MSTORE_OK is returned).
 */
enum mstore_err mstore_msg_mime_each(struct mstore *ms, uint32_t mailbox_id,
				     uint32_t first_uid, uint32_t last_uid,
				     int (*cb)(void *arg, uint32_t uid,
					       const struct mime_message *mime),
				     void *arg);
/* Opens the message file read-only; the caller closes *fd_r. */
enum mstore_err mstore_msg_open(struct mstore *ms, uint32_t mailbox_id,
				uint32_t uid, int *fd_r);
/* data_dir/mail/<id>/<uid> (allocated). */
char *mstore_msg_path(const struct mstore *ms, uint32_t mailbox_id,
		      uint32_t uid);

/* Keyword names of a mailbox: names_r[i] is bit i (FLAGS response). */
enum mstore_err mstore_keywords(struct mstore *ms, uint32_t mailbox_id,
				char ***names_r, size_t *n_r);

enum mstore_flag_op {
	MSTORE_FLAGS_ADD = 0, /* +FLAGS */
	MSTORE_FLAGS_REMOVE,  /* -FLAGS */
	MSTORE_FLAGS_REPLACE, /* FLAGS */
};

struct mstore_flag_change {
	enum mstore_flag_op op;
	uint32_t flags;		     /* MSTORE_F_* */
	const char *const *keywords; /* NULL-terminated, or NULL */
	uint64_t unchangedsince;     /* CONDSTORE; 0 = no condition */
};

/*
 * Applies a flag change to the listed uids (any order; uids that do not
 * exist are skipped) in one transaction.  New keywords are added to the
 * mailbox (MSTORE_E_LIMIT past MSTORE_MAX_KEYWORDS; keywords compare
 * case-insensitively).  Messages whose flags actually change get the new
 * modseq.  With unchangedsince, messages whose modseq is greater are left
 * alone and listed in *failed_r (RFC 7162 MODIFIED).  *changed_r: the new
 * records of the changed messages (for FETCH FLAGS MODSEQ replies).
 * changed_r and failed_r may be NULL; free() the arrays.
 */
enum mstore_err mstore_flags_store(struct mstore *ms, uint32_t mailbox_id,
				   const uint32_t *uids, size_t nuids,
				   const struct mstore_flag_change *chg,
				   struct mstore_msg **changed_r,
				   size_t *nchanged_r, uint32_t **failed_r,
				   size_t *nfailed_r);

/*
 * Expunges the listed uids (those that exist; the caller picks them, e.g.
 * \Deleted ones): records removed, tombstones written, counts and quota
 * decremented, one change row per uid, one transaction (and one modseq)
 * per 2000 uids.  Files are unlinked once the commit is durable.
 * *expunged_r (may be NULL): uids actually expunged, ascending, also
 * after an error (those chunks did commit); free() it.
 */
enum mstore_err mstore_expunge(struct mstore *ms, uint32_t mailbox_id,
			       const uint32_t *uids, size_t nuids,
			       uint32_t **expunged_r, size_t *nexpunged_r);

/* Tombstones with modseq > since (QRESYNC VANISHED); free() *uids_r. */
enum mstore_err mstore_tombstones(struct mstore *ms, uint32_t mailbox_id,
				  uint64_t since, uint32_t **uids_r,
				  size_t *n_r);

/* COPYUID mapping. */
struct mstore_uidmap {
	uint32_t src_uid;
	uint32_t dst_uid;
};

/*
 * Copies (move = 0) or moves (move = 1) the listed uids, in ascending uid
 * order, from src to dst in transactions of up to 2,000 messages: hard
 * links, new UIDs in dst, flags and keywords kept (keywords re-mapped to
 * dst's keyword ids).  A copy is all or nothing: when a transaction fails
 * (MSTORE_E_OVERQUOTA, ...) the ones committed before it are expunged
 * from dst again, and *nmap_r is 0.  A move takes each message out of
 * src in the transaction that puts it in dst; when one fails, the
 * messages moved before it stay moved and are listed in *map_r with the
 * error returned (RFC 6851 3.3).  *map_r: one entry per copied message in
 * source uid order; free() it.  *uidvalidity_r (may be NULL): dst's.
 */
enum mstore_err mstore_copy(struct mstore *ms, uint32_t src_mailbox_id,
			    const uint32_t *uids, size_t nuids,
			    uint32_t dst_mailbox_id, int move,
			    struct mstore_uidmap **map_r, size_t *nmap_r,
			    uint32_t *uidvalidity_r);
/* Takes a copy back: expunges map's destination UIDs from dst (logged
 * if that fails).  For a COPY whose later part failed. */
void mstore_copy_undo(struct mstore *ms, uint32_t dst,
		      const struct mstore_uidmap *map, size_t n);

/* ---- the spool and delivery (LMTP, IMAP APPEND, Sieve) ---------------- */

/*
 * A spool is a temporary file in data_dir/tmp that the caller streams a
 * message into (writes are buffered); finish computes the SHA-256 GUID
 * and the size as the bytes went by.  Messages should use CRLF line ends.
 */
enum mstore_err mstore_spool_new(struct mstore *ms, struct mstore_spool **sp_r);
enum mstore_err mstore_spool_write(struct mstore_spool *sp, const void *data,
				   size_t len);
/* Flushes the buffer and seals the spool (no more writes). */
enum mstore_err mstore_spool_finish(struct mstore_spool *sp);
uint64_t mstore_spool_size(const struct mstore_spool *sp);
/* Lower-case hex SHA-256, valid after finish. */
const char *mstore_spool_guid(const struct mstore_spool *sp);
/*
 * The sealed message mapped read-only (Sieve header tests): valid until
 * mstore_spool_free().  MSTORE_E_INVAL before finish.
 */
enum mstore_err mstore_spool_data(struct mstore_spool *sp, const char **data_r,
				  size_t *len_r);
/* The MIME parse of the sealed message, done once and shared with the
 * delivery; owned by the spool. */
enum mstore_err mstore_spool_mime(struct mstore_spool *sp,
				  const struct mime_message **mime_r);
/* Removes the temporary file (delivered messages are hard links and stay).
 * Must not be called while a delivery of sp is in flight. */
void mstore_spool_free(struct mstore_spool **sp);

/* One destination of a delivery.  Inputs first, results after. */
struct mstore_target {
	const char *user;
	/* Mailbox by name, or by id when name is NULL and mailbox_id != 0;
	 * both unset: INBOX. */
	const char *mailbox;
	uint32_t mailbox_id;
	/* When the named mailbox does not exist, deliver to INBOX instead
	 * (LMTP user+detail, Sieve fileinto of a missing folder). */
	int fallback_inbox;
	uint32_t flags;		     /* MSTORE_F_* */
	const char *const *keywords; /* NULL-terminated, or NULL */
	int64_t internaldate;	     /* 0 = now */
	int32_t tz_offset;	     /* minutes east of UTC */

	/* Results, set before the callback. */
	enum mstore_err result; /* OK, E_NOUSER, E_NOMAILBOX, E_OVERQUOTA,
				 * E_LIMIT (UIDs or keywords exhausted),
				 * E_INVAL (bad keyword), E_TEMP */
	uint32_t result_mailbox_id;
	uint32_t result_uidvalidity;
	uint32_t result_uid; /* APPENDUID */
};

typedef void mstore_deliver_cb(void *arg, struct mstore_target *targets,
			       size_t n);

/*
 * Delivers a finished spool to n targets.  Steps: the MIME parse (once),
 * an fsync of the spool file on a worker thread; then on the loop thread,
 * each target in its own transaction (quota check, UID allocation, link()
 * of the spool as mail/<id>/<uid>, index and MIME records, counts, modseq,
 * quota, change log); then db_durable_wait() fsyncs the new links'
 * directories and forces the log (shared with concurrent deliveries:
 * group commit); then cb(arg, targets, n) on the loop thread with every
 * target's result.  A target with result MSTORE_OK is durable when cb
 * runs: only then may LMTP answer 250.  If the durable wait fails every OK
 * target is turned into MSTORE_E_TEMP (the records may survive: a
 * duplicate on retry is better than a loss).
 *
 * The caller keeps targets (and the strings they point to) and sp alive
 * until cb runs.  Returns MSTORE_OK when the delivery was started (cb will
 * run exactly once; with a loop attached never from inside this call),
 * or an error (spool not finished: MSTORE_E_INVAL) and cb is not called.
 * A spool may be delivered again after cb ran.
 */
enum mstore_err mstore_deliver(struct mstore *ms, struct mstore_spool *sp,
			       struct mstore_target *targets, size_t n,
			       mstore_deliver_cb *cb, void *arg);
/* The same, synchronously (CLI, tests, replica apply): returns when the
 * results are durable.  Returns MSTORE_OK when the targets were processed
 * (see each target's result). */
enum mstore_err mstore_deliver_sync(struct mstore *ms, struct mstore_spool *sp,
				    struct mstore_target *targets, size_t n);
/*
 * MULTIAPPEND (RFC 3502): spool sps[i] goes to targets[i] (usually one
 * mailbox), all in one transaction: either every target gets MSTORE_OK
 * and a UID (ascending in array order within a mailbox: APPENDUID), or
 * every target gets the same error (the first failure: E_OVERQUOTA,
 * E_NOMAILBOX, ...) and nothing is appended.  The spools must be distinct
 * and finished; each target's internaldate sets its spool's mtime.
 * cb NULL: synchronous (returns when durable, like mstore_deliver_sync);
 * otherwise as mstore_deliver().  Returns MSTORE_OK when the targets were
 * processed / the append was started, or MSTORE_E_INVAL.
 */
enum mstore_err mstore_append_multi(struct mstore *ms,
				    struct mstore_spool *const *sps,
				    struct mstore_target *targets, size_t n,
				    mstore_deliver_cb *cb, void *arg);
/*
 * cb(arg, ok) on the loop thread once every change committed so far is on
 * disk (group-committed with the deliveries).  For protocol replies that
 * should promise durability (IMAP COPY/MOVE before COPYUID, EXPUNGE).
 * Without a loop, cb runs before this returns.  ok = 0: an fsync failed.
 */
void mstore_wait_durable(struct mstore *ms, void (*cb)(void *arg, int ok),
			 void *arg);
/* Deliveries started and not yet called back. */
unsigned mstore_deliveries_in_flight(const struct mstore *ms);

/* ---- quota (per user: quota root = the user) --------------------------- */

struct mstore_quota {
	uint64_t bytes_used;
	uint64_t messages_used;
	uint64_t bytes_limit;	 /* 0 = unlimited */
	uint64_t messages_limit; /* 0 = unlimited */
};

enum mstore_err mstore_quota_get(struct mstore *ms, const char *user,
				 struct mstore_quota *q_r);
/* Sets the limits (0 = unlimited); usage is kept. */
enum mstore_err mstore_quota_set(struct mstore *ms, const char *user,
				 uint64_t bytes_limit, uint64_t messages_limit);
/* Would adding n messages of total bytes exceed user's quota? MSTORE_OK,
 * MSTORE_E_OVERQUOTA, MSTORE_E_NOUSER (LMTP RCPT-time check). */
enum mstore_err mstore_quota_check(struct mstore *ms, const char *user,
				   uint64_t bytes, uint64_t n);

/* ---- change log -------------------------------------------------------- */

enum mstore_change_kind {
	MSTORE_CH_USER_CREATE = 1,
	MSTORE_CH_USER_DELETE,
	MSTORE_CH_MBOX_CREATE,
	MSTORE_CH_MBOX_DELETE,
	MSTORE_CH_MBOX_RENAME,
	MSTORE_CH_MBOX_META, /* special-use, ACL */
	MSTORE_CH_APPEND,    /* uid, modseq: a new message */
	MSTORE_CH_FLAGS,     /* uid, modseq: flags or keywords changed */
	MSTORE_CH_EXPUNGE,   /* uid, modseq: tombstone */
	MSTORE_CH_QUOTA,     /* limits changed */
	MSTORE_CH_SUBSCRIBE, /* subscriptions changed */
	MSTORE_CH_SEEN,	     /* per-user seen state changed */
	MSTORE_CH_SIEVE,     /* the user's sieve scripts changed */
	MSTORE_CH_VACATION,  /* the user's vacation tracking changed */
};

struct mstore_change {
	uint64_t seq; /* store-wide, strictly increasing */
	enum mstore_change_kind kind;
	uint32_t mailbox_id;		/* 0 for user-level changes */
	uint32_t uid;			/* message changes; 0 otherwise */
	uint64_t modseq;		/* message changes: the new modseq */
	int64_t time;			/* unix time of the change */
	char user[MSTORE_USER_MAX + 1]; /* owner of the mailbox / the user */
};

/* Const name of a kind ("append", "expunge", ...). */
const char *mstore_change_kind_name(enum mstore_change_kind kind);

/*
 * Up to max rows with seq > after (max 0 = no limit), ascending; free()
 * *ch_r.  *last_seq_r (may be NULL): the newest seq in the log.
 */
enum mstore_err mstore_changes_read(struct mstore *ms, uint64_t after,
				    size_t max, struct mstore_change **ch_r,
				    size_t *n_r, uint64_t *last_seq_r);
/* Deletes rows with seq <= upto (replication acknowledged them). */
enum mstore_err mstore_changes_trim(struct mstore *ms, uint64_t upto);
/*
 * Retention: deletes the oldest rows with time < before, up to max_batches
 * transactions of 1,000 rows (so a long backlog goes in short steps).
 * *more_r: rows older than before are left.  The store runs it from a
 * timer (mstore_params.changelog_keep_secs).
 */
enum mstore_err mstore_changes_expire(struct mstore *ms, int64_t before,
				      unsigned max_batches,
				      unsigned long *deleted_r, int *more_r);
uint64_t mstore_changes_last_seq(struct mstore *ms);

typedef void mstore_change_fn(void *arg, const struct mstore_change *ch);
/*
 * Registers fn(arg, change), called on the loop thread after each commit
 * for every row that commit wrote.  Several hooks may be registered (IMAP
 * IDLE, replication); registering the same (fn, arg) twice is a no-op.
 * Returns 0, or -1 when too many hooks are registered (16).
 */
int mstore_set_change_hook(struct mstore *ms, mstore_change_fn *fn, void *arg);
void mstore_remove_change_hook(struct mstore *ms, mstore_change_fn *fn,
			       void *arg);

/*
 * Writes a change row of kind for user (and mailbox_id, 0 if none) in its
 * own transaction, for data kept outside the engine's tables (sieve
 * scripts: MSTORE_CH_SIEVE), so replication and hooks learn of it.
 */
enum mstore_err mstore_note_change(struct mstore *ms,
				   enum mstore_change_kind kind,
				   const char *user, uint32_t mailbox_id);

/*
 * The store's Berkeley DB environment, for other store modules that keep
 * their own tables in it (sieve scripts, vacation tracking): they open
 * them with db_table_open() and never set the environment up themselves.
 */
struct db_env *mstore_db_env(struct mstore *ms);

/* ---- status and repair -------------------------------------------------- */

struct mstore_stats {
	uint64_t users;
	uint64_t mailboxes;
	uint64_t messages;
	uint64_t bytes;
	uint64_t last_seq; /* newest change-log seq */
	unsigned deliveries_in_flight;
};
enum mstore_err mstore_stats(struct mstore *ms, struct mstore_stats *st_r);

/* Reconstruct report: one line per finding, human readable. */
struct mstore_report {
	char **lines;
	size_t nlines;
	uint64_t mailboxes;	/* mailboxes examined */
	uint64_t recovered;	/* records rebuilt from files */
	uint64_t kept;		/* records that were already right */
	uint64_t removed;	/* records whose file is gone */
	uint64_t unrecoverable; /* files that could not be read */
	int flags_lost;		/* 1 when rebuilt records lost their flags */
};
void mstore_report_clear(struct mstore_report *r);

/*
 * Rebuilds index records from the message files of user's mailbox (or of
 * every mailbox of user when mailbox is NULL; of every user when user is
 * NULL, including mailboxes whose metadata is gone entirely, recreated
 * from the .meta file each mailbox directory carries).  For each file
 * without a record: UID from the file name, INTERNALDATE from the mtime,
 * GUID, size and MIME recomputed, flags empty (reported: flags are lost).
 * Records without a file are removed.  UIDNEXT, counts, modseq and quota
 * usage are recomputed.  UIDVALIDITY is kept when the mailbox record or
 * .meta file has it.  *rep filled (clear with mstore_report_clear()).
 */
enum mstore_err mstore_reconstruct(struct mstore *ms, const char *user,
				   const char *mailbox,
				   struct mstore_report *rep);

#endif
