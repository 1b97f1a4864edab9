/*
 * store.h - ldapab's Berkeley DB storage.
 *
 * One transactional environment in <data_dir>/db with two tables:
 *   entries.db  B-tree, key = storage key of the normalized DN (dn.h),
 *               data = ab_entry_encode() form.  Keys put a book and all its
 *               contacts in one contiguous range, so a book search is one
 *               cursor walk and never touches other books.
 *   auth.db     B-tree, key = lower-case identity name (a mailbox address
 *               or an account name), data = struct principal fields.
 * The daemon and the `rookery ab` CLI may use the environment at the same
 * time (DB_REGISTER decides whether recovery is needed at open).
 */
#ifndef LDAPAB_STORE_H
#define LDAPAB_STORE_H

#include <stddef.h>

struct entry;
struct store;

/* Opens (creating) the store under dir.  0, or -1 with allocated *err_r. */
int ab_store_open(const char *dir, struct store **st_r, char **err_r);
void ab_store_close(struct store **st);

/* 1 and *e_r (caller frees) when key exists, 0 when not, -1 on error. */
int ab_store_get(struct store *st, const char *key, struct entry **e_r);

/*
 * Reads entries by key in ascending key order through one cursor, so that
 * a key just after the previous one (candidates from the indexes are
 * sorted and often neighbours) costs a step instead of a tree search.
 * ab_store_reader_get returns 1 and *e_r (caller frees), 0 when key does
 * not exist, -1 on a storage error; keys must not decrease between calls.
 */
struct store_reader;
int ab_store_reader_open(struct store *st, struct store_reader **r_r);
int ab_store_reader_get(struct store_reader *r, const char *key,
			struct entry **e_r);
void ab_store_reader_close(struct store_reader **r);

/*
 * Calls fn for entries in scope (LDAP_SCOPE_*_) of key ("" = the root:
 * every stored entry).  fn may take the entry by setting *e to NULL;
 * otherwise it is freed.  fn returns 0 to go on, 1 to stop.  Returns 0,
 * or -1 on a storage error.
 */
typedef int (*store_scan_fn)(struct entry **e, const char *key, void *arg);
int ab_store_scan(struct store *st, const char *key, int scope,
		  store_scan_fn fn, void *arg);

/* 1 when key has entries below it, 0 when not, -1 on error. */
int ab_store_has_children(struct store *st, const char *key);

/*
 * Writes.  Each is one transaction.  Return 0 or an LDAP result code
 * (ALREADY_EXISTS, NO_SUCH_OBJECT, NOT_ALLOWED_ON_NONLEAF, OTHER).
 * ab_store_add checks that parent_key exists unless parent_key is NULL.
 */
int ab_store_add(struct store *st, const char *key, const char *parent_key,
		 const struct entry *e);
int ab_store_replace(struct store *st, const char *key, const struct entry *e);
int ab_store_delete(struct store *st, const char *key);
int ab_store_rename(struct store *st, const char *old_key, const char *new_key,
		    const struct entry *e);

/*
 * Candidate keys for filter f from the attribute indexes (index.h, which
 * explains from, limit and ks->bound): 1 and *ks (caller frees with
 * ab_keyset_free), 0 when the index cannot narrow the search, -1 on
 * error.
 */
struct filter;
struct keyset;
int ab_store_candidates(struct store *st, const struct filter *f,
			const char *from, size_t limit, struct keyset *ks);

/* Identities that may bind (mailboxes and accounts). */
enum principal_kind { PRINCIPAL_MAILBOX = 1, PRINCIPAL_ACCOUNT = 2 };

struct principal {
	char name[256]; /* lower case */
	enum principal_kind kind;
	char account[256]; /* a mailbox's account; an account's name */
	int manage;	   /* mailbox with full management access */
	char pwhash[256];  /* "" = no LDAP password set */
};

/* 1 and *p when name exists, 0 when not, -1 on error. */
int ab_store_principal_get(struct store *st, const char *name,
			   struct principal *p);
int ab_store_principal_put(struct store *st, const struct principal *p);
/* 0, or 1 when there was no such principal, -1 on error. */
int ab_store_principal_del(struct store *st, const char *name);
/* Calls fn for every principal in name order. */
int ab_store_principal_list(struct store *st,
			    void (*fn)(const struct principal *p, void *arg),
			    void *arg);

#endif
