/*
 * store.c - entries and identities in a transactional Berkeley DB
 * environment.  The environment helpers here are ldapab's own because the
 * CLI must join a running daemon's environment without recovering it
 * (DB_REGISTER); see the report on lib/db.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <db.h>

#include "dn.h"
#include "entry.h"
#include "filter.h"
#include "index.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

struct store {
	DB_ENV *env;
	DB *entries;
	DB *auth;
	DB *index;
	void *getbuf; /* ab_store_get's record buffer, reused */
	u_int32_t getbuf_size;
};

#define TXN_RETRIES 20

static void dbt_key(DBT *k, const char *key);
static void dbt_out(DBT *d);
static int reindex_if_needed(struct store *st);

static int open_table(struct store *st, const char *file, DB **db_r, int dup,
		      char **err_r)
{
	DB *db;
	int rc;

	if ((rc = db_create(&db, st->env, 0)) != 0 ||
	    (dup && (rc = db->set_flags(db, DB_DUP | DB_DUPSORT)) != 0) ||
	    (rc = db->open(db, NULL, file, NULL, DB_BTREE,
			   DB_CREATE | DB_AUTO_COMMIT, 0600)) != 0) {
		*err_r = ab_asprintf("%s: %s", file, db_strerror(rc));
		return -1;
	}
	*db_r = db;
	return 0;
}

int ab_store_open(const char *dir, struct store **st_r, char **err_r)
{
	struct store *st = xcalloc(1, sizeof(*st));
	char *home = ab_asprintf("%s/db", dir);
	int rc;

	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(home, 0700) < 0 && errno != EEXIST)) {
		*err_r = ab_asprintf("%s: %s", home, strerror(errno));
		goto fail;
	}
	if ((rc = db_env_create(&st->env, 0)) != 0) {
		*err_r = ab_asprintf("db_env_create: %s", db_strerror(rc));
		goto fail;
	}
	st->env->set_lk_detect(st->env, DB_LOCK_DEFAULT);
	st->env->set_cachesize(st->env, 0, 32 * 1024 * 1024, 1);
	/* Commits reach the OS at once and the disk with the OS's next
	 * flush: an address book change is cheap to redo, a stall is not. */
	st->env->set_flags(st->env, DB_TXN_WRITE_NOSYNC, 1);
	st->env->log_set_config(st->env, DB_LOG_AUTO_REMOVE, 1);
	rc =
	    st->env->open(st->env, home,
			  DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
			      DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER,
			  0600);
	if (rc != 0) {
		*err_r = ab_asprintf("%s: cannot open environment: %s", home,
				     db_strerror(rc));
		goto fail;
	}
	if (open_table(st, "entries.db", &st->entries, 0, err_r) < 0 ||
	    open_table(st, "auth.db", &st->auth, 0, err_r) < 0 ||
	    open_table(st, "index.db", &st->index, 1, err_r) < 0)
		goto fail;
	if (reindex_if_needed(st) < 0) {
		*err_r = ab_asprintf("%s: cannot rebuild index.db", home);
		goto fail;
	}
	free(home);
	*st_r = st;
	return 0;
fail:
	free(home);
	ab_store_close(&st);
	return -1;
}

static int reindex_one(struct entry **e, const char *key, void *arg)
{
	struct store *st = arg;
	DB_TXN *txn;

	if (st->env->txn_begin(st->env, NULL, &txn, 0) != 0)
		return 1;
	if (ab_index_update(st->index, txn, key, NULL, *e) != 0) {
		txn->abort(txn);
		return 1;
	}
	return txn->commit(txn, 0) != 0;
}

static int index_version_ok(struct store *st)
{
	DBT k, d;
	int rc, ok;

	memset(&k, 0, sizeof(k));
	k.data = "\0version";
	k.size = 8;
	dbt_out(&d);
	rc = st->index->get(st->index, NULL, &k, &d, 0);
	ok = rc == 0 && d.size == strlen(INDEX_VERSION) &&
	     memcmp(d.data, INDEX_VERSION, d.size) == 0;
	free(d.data);
	return ok;
}

/* Builds index.db from the entries when it is missing, empty or of
 * another format (a store from before the indexes, an index file removed
 * by the operator, an upgrade). */
static int reindex_if_needed(struct store *st)
{
	u_int32_t count;
	DBT k, d;

	if (index_version_ok(st))
		return 0;
	log_info("event=reindex version=%s", INDEX_VERSION);
	if (st->index->truncate(st->index, NULL, &count, DB_AUTO_COMMIT) != 0 ||
	    ab_store_scan(st, "", LDAP_SCOPE_SUB_, reindex_one, st) < 0)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = "\0version";
	k.size = 8;
	d.data = INDEX_VERSION;
	d.size = (u_int32_t)strlen(INDEX_VERSION);
	return st->index->put(st->index, NULL, &k, &d, DB_AUTO_COMMIT) == 0
		   ? 0
		   : -1;
}

void ab_store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	if (st->entries)
		st->entries->close(st->entries, 0);
	if (st->auth)
		st->auth->close(st->auth, 0);
	if (st->index)
		st->index->close(st->index, 0);
	if (st->env) {
		st->env->txn_checkpoint(st->env, 0, 0, 0);
		st->env->close(st->env, 0);
	}
	free(st->getbuf);
	free(st);
	*stp = NULL;
}

static void dbt_key(DBT *k, const char *key)
{
	memset(k, 0, sizeof(*k));
	k->data = (void *)key;
	k->size = (u_int32_t)strlen(key);
}

static void dbt_out(DBT *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = DB_DBT_REALLOC;
}

int ab_store_get(struct store *st, const char *key, struct entry **e_r)
{
	DBT k, d;
	int rc;

	if (st->getbuf == NULL) {
		st->getbuf_size = 16 * 1024;
		st->getbuf = xmalloc(st->getbuf_size);
	}
	dbt_key(&k, key);
	for (;;) {
		memset(&d, 0, sizeof(d));
		d.data = st->getbuf;
		d.ulen = st->getbuf_size;
		d.flags = DB_DBT_USERMEM;
		rc = st->entries->get(st->entries, NULL, &k, &d, 0);
		if (rc != DB_BUFFER_SMALL)
			break;
		free(st->getbuf);
		st->getbuf_size = d.size;
		st->getbuf = xmalloc(st->getbuf_size);
	}
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0) {
		log_warnx("event=db_error op=get error=\"%s\"",
			  db_strerror(rc));
		return -1;
	}
	*e_r = ab_entry_decode(d.data, d.size);
	if (*e_r == NULL) {
		log_warnx("event=db_corrupt op=get");
		return -1;
	}
	return 1;
}

struct store_reader {
	DBC *cur;
	DBT k, d;    /* the current record (DB_DBT_REALLOC buffers) */
	int current; /* k and d hold the record under the cursor */
};

/* Steps to try before a search: candidates are often neighbours. */
#define READER_STEPS 4

int ab_store_reader_open(struct store *st, struct store_reader **r_r)
{
	struct store_reader *r = xcalloc(1, sizeof(*r));

	if (st->entries->cursor(st->entries, NULL, &r->cur, 0) != 0) {
		free(r);
		return -1;
	}
	r->k.flags = DB_DBT_REALLOC;
	r->d.flags = DB_DBT_REALLOC;
	*r_r = r;
	return 0;
}

void ab_store_reader_close(struct store_reader **rp)
{
	struct store_reader *r = *rp;

	if (r == NULL)
		return;
	r->cur->close(r->cur);
	free(r->k.data);
	free(r->d.data);
	free(r);
	*rp = NULL;
}

/* The current key against key (memcmp order, as the B-tree sorts). */
static int reader_cmp(const struct store_reader *r, const char *key, size_t len)
{
	size_t n = r->k.size < len ? r->k.size : len;
	int c = memcmp(r->k.data, key, n);

	return c ? c : (r->k.size > len) - (r->k.size < len);
}

static int reader_found(struct store_reader *r, struct entry **e_r)
{
	*e_r = ab_entry_decode(r->d.data, r->d.size);
	if (*e_r == NULL) {
		log_warnx("event=db_corrupt op=get");
		return -1;
	}
	return 1;
}

int ab_store_reader_get(struct store_reader *r, const char *key,
			struct entry **e_r)
{
	size_t len = strlen(key);
	int rc, c;

	for (int step = 0; r->current && step <= READER_STEPS; step++) {
		c = reader_cmp(r, key, len);
		if (c == 0)
			return reader_found(r, e_r);
		if (c > 0)
			return 0; /* past key: it does not exist */
		if (step == READER_STEPS)
			break;
		rc = r->cur->get(r->cur, &r->k, &r->d, DB_NEXT);
		if (rc == DB_NOTFOUND)
			return 0; /* the last key is before key */
		if (rc != 0) {
			r->current = 0;
			goto fail;
		}
	}
	r->current = 0;
	r->k.data = xrealloc(r->k.data, len + 1);
	memcpy(r->k.data, key, len);
	r->k.size = (u_int32_t)len;
	rc = r->cur->get(r->cur, &r->k, &r->d, DB_SET_RANGE);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		goto fail;
	r->current = 1;
	return reader_cmp(r, key, len) == 0 ? reader_found(r, e_r) : 0;
fail:
	log_warnx("event=db_error op=get error=\"%s\"", db_strerror(rc));
	return -1;
}

/* Where a key lies relative to the scan base. */
static int in_scope(const char *base, size_t blen, const DBT *k, int scope,
		    int *past_r)
{
	const char *kd = k->data;
	size_t klen = k->size;

	*past_r = 0;
	if (blen == 0) { /* the root: every key is below it */
		if (scope == LDAP_SCOPE_SUB_)
			return 1;
		return memchr(kd, DN_KEY_SEP, klen) == NULL;
	}
	if (klen < blen || memcmp(kd, base, blen) != 0) {
		*past_r = 1;
		return 0;
	}
	if (klen == blen)
		return scope == LDAP_SCOPE_SUB_;
	if (kd[blen] != DN_KEY_SEP) {
		/* "ou=a" then "ou=a b": keys sort past siblings. Only
		 * bytes below DN_KEY_SEP could sort before, and keys
		 * never hold them. */
		*past_r = 1;
		return 0;
	}
	if (scope == LDAP_SCOPE_ONE_)
		return memchr(kd + blen + 1, DN_KEY_SEP, klen - blen - 1) ==
		       NULL;
	return 1;
}

int ab_store_scan(struct store *st, const char *key, int scope,
		  store_scan_fn fn, void *arg)
{
	size_t blen = strlen(key);
	struct entry *e;
	DBC *cur;
	DBT k, d;
	int rc, past, stop = 0;
	char *kstr;

	if (scope == LDAP_SCOPE_BASE_) {
		rc = ab_store_get(st, key, &e);
		if (rc <= 0)
			return rc;
		fn(&e, key, arg);
		ab_entry_free(&e);
		return 0;
	}
	if ((rc = st->entries->cursor(st->entries, NULL, &cur, 0)) != 0)
		return -1;
	memset(&k, 0, sizeof(k));
	k.flags = DB_DBT_REALLOC;
	k.data = xmalloc(blen + 1);
	memcpy(k.data, key, blen);
	k.size = (u_int32_t)blen;
	dbt_out(&d);
	rc = cur->get(cur, &k, &d, blen ? DB_SET_RANGE : DB_FIRST);
	while (rc == 0 && !stop) {
		if (in_scope(key, blen, &k, scope, &past)) {
			e = ab_entry_decode(d.data, d.size);
			if (e != NULL) {
				kstr = xstrndup(k.data, k.size);
				stop = fn(&e, kstr, arg);
				free(kstr);
				ab_entry_free(&e);
			}
		} else if (past) {
			break;
		}
		rc = cur->get(cur, &k, &d, DB_NEXT);
	}
	cur->close(cur);
	free(k.data);
	free(d.data);
	if (rc != 0 && rc != DB_NOTFOUND && !stop && !past) {
		log_warnx("event=db_error op=scan error=\"%s\"",
			  db_strerror(rc));
		return -1;
	}
	return 0;
}

static int first_child(DB *db, DB_TXN *txn, const char *key)
{
	size_t blen = strlen(key);
	DBC *cur;
	DBT k, d;
	int rc, found = 0;

	if (db->cursor(db, txn, &cur, 0) != 0)
		return -1;
	memset(&k, 0, sizeof(k));
	k.flags = DB_DBT_REALLOC;
	k.data = xmalloc(blen + 2);
	memcpy(k.data, key, blen);
	((char *)k.data)[blen] = DN_KEY_SEP;
	k.size = (u_int32_t)blen + 1;
	dbt_out(&d);
	d.flags |= DB_DBT_PARTIAL; /* keys only */
	rc = cur->get(cur, &k, &d, DB_SET_RANGE);
	if (rc == 0 && k.size > blen + 1 && memcmp(k.data, key, blen) == 0 &&
	    ((char *)k.data)[blen] == DN_KEY_SEP)
		found = 1;
	cur->close(cur);
	free(k.data);
	free(d.data);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc == DB_LOCK_DEADLOCK ? -2 : -1;
	return found;
}

int ab_store_has_children(struct store *st, const char *key)
{
	return first_child(st->entries, NULL, key);
}

/* One write transaction with deadlock retry. */
struct txn_op {
	struct store *st;
	const char *key, *key2, *parent;
	const struct entry *e;
	int kind;   /* 0 add, 1 replace, 2 delete, 3 rename */
	int result; /* LDAP result */
};

static int txn_write(DB_TXN *txn, struct txn_op *op, struct entry *old);

/* The stored entry at key, read for update (NULL when absent). */
static int get_old(DB *db, DB_TXN *txn, const char *key, struct entry **e_r)
{
	DBT k, d;
	int rc;

	*e_r = NULL;
	dbt_key(&k, key);
	dbt_out(&d);
	rc = db->get(db, txn, &k, &d, DB_RMW);
	if (rc == 0)
		*e_r = ab_entry_decode(d.data, d.size);
	free(d.data);
	return rc == DB_NOTFOUND ? 0 : rc;
}

static int txn_body(DB_TXN *txn, struct txn_op *op)
{
	DB *db = op->st->entries;
	struct entry *old = NULL;
	int rc;

	op->result = 0;
	if (op->kind != 0) {
		if ((rc = get_old(db, txn, op->key, &old)) != 0)
			return rc;
	}
	rc = txn_write(txn, op, old);
	ab_entry_free(&old);
	return rc;
}

static int txn_write(DB_TXN *txn, struct txn_op *op, struct entry *old)
{
	DB *db = op->st->entries, *idx = op->st->index;
	struct strbuf buf;
	DBT k, d;
	int rc;

	if (op->kind == 0 && op->parent != NULL) {
		dbt_key(&k, op->parent);
		dbt_out(&d);
		rc = db->get(db, txn, &k, &d, DB_RMW);
		free(d.data);
		if (rc == DB_NOTFOUND) {
			op->result = LDAP_R_NO_SUCH_OBJECT;
			return 0;
		}
		if (rc != 0)
			return rc;
	}
	if (op->kind == 2) {
		rc = first_child(db, txn, op->key);
		if (rc == -2)
			return DB_LOCK_DEADLOCK;
		if (rc != 0) {
			op->result = rc == 1 ? LDAP_R_NOT_ALLOWED_ON_NONLEAF
					     : LDAP_R_OTHER;
			return 0;
		}
		dbt_key(&k, op->key);
		rc = db->del(db, txn, &k, 0);
		if (rc == DB_NOTFOUND)
			op->result = LDAP_R_NO_SUCH_OBJECT;
		if (rc == 0)
			rc = ab_index_update(idx, txn, op->key, old, NULL);
		return rc == DB_NOTFOUND ? 0 : rc;
	}
	if (op->kind == 3) {
		dbt_key(&k, op->key);
		rc = db->del(db, txn, &k, 0);
		if (rc == DB_NOTFOUND) {
			op->result = LDAP_R_NO_SUCH_OBJECT;
			return 0;
		}
		if (rc != 0)
			return rc;
		rc = ab_index_update(idx, txn, op->key, old, NULL);
		if (rc != 0)
			return rc;
		old = NULL; /* the new key starts without index entries */
	}
	strbuf_init(&buf);
	ab_entry_encode(op->e, &buf);
	dbt_key(&k, op->kind == 3 ? op->key2 : op->key);
	memset(&d, 0, sizeof(d));
	d.data = buf.data;
	d.size = (u_int32_t)buf.len;
	rc = db->put(db, txn, &k, &d, op->kind == 1 ? 0 : DB_NOOVERWRITE);
	strbuf_free(&buf);
	if (rc == DB_KEYEXIST) {
		op->result = LDAP_R_ALREADY_EXISTS;
		return -1; /* abort: a rename must not lose the entry */
	}
	if (rc == 0)
		rc = ab_index_update(
		    idx, txn, op->kind == 3 ? op->key2 : op->key, old, op->e);
	return rc;
}

int ab_store_candidates(struct store *st, const struct filter *f,
			const char *from, size_t limit, struct keyset *ks)
{
	return ab_index_candidates(st->index, f, from, limit, ks);
}

static int run_txn(struct store *st, struct txn_op *op)
{
	DB_TXN *txn;
	int rc = 0;

	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		if ((rc = st->env->txn_begin(st->env, NULL, &txn, 0)) != 0)
			break;
		rc = txn_body(txn, op);
		if (rc == 0 && op->result == 0) {
			rc = txn->commit(txn, 0);
			if (rc == 0)
				return 0;
		} else {
			txn->abort(txn);
			if (rc == 0 || rc == -1)
				return op->result ? op->result : LDAP_R_OTHER;
		}
		if (rc != DB_LOCK_DEADLOCK && rc != DB_LOCK_NOTGRANTED)
			break;
	}
	log_warnx("event=db_error op=write error=\"%s\"", db_strerror(rc));
	return LDAP_R_OTHER;
}

int ab_store_add(struct store *st, const char *key, const char *parent_key,
		 const struct entry *e)
{
	struct txn_op op = {st, key, NULL, parent_key, e, 0, 0};

	return run_txn(st, &op);
}

int ab_store_replace(struct store *st, const char *key, const struct entry *e)
{
	struct txn_op op = {st, key, NULL, NULL, e, 1, 0};

	return run_txn(st, &op);
}

int ab_store_delete(struct store *st, const char *key)
{
	struct txn_op op = {st, key, NULL, NULL, NULL, 2, 0};

	return run_txn(st, &op);
}

int ab_store_rename(struct store *st, const char *old_key, const char *new_key,
		    const struct entry *e)
{
	struct txn_op op = {st, old_key, new_key, NULL, e, 3, 0};

	return run_txn(st, &op);
}

/* --- principals: "kind\taccount\tmanage\tpwhash" ------------------------ */

static int principal_parse(const char *name, const char *d, size_t len,
			   struct principal *p)
{
	char buf[1024];
	char *f[4], *s;
	int n = 0;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, d, len);
	buf[len] = '\0';
	s = buf;
	for (n = 0; n < 4; n++) {
		f[n] = strsep(&s, "\t");
		if (f[n] == NULL)
			return -1;
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kind = f[0][0] == 'a' ? PRINCIPAL_ACCOUNT : PRINCIPAL_MAILBOX;
	snprintf(p->account, sizeof(p->account), "%s", f[1]);
	p->manage = f[2][0] == '1';
	snprintf(p->pwhash, sizeof(p->pwhash), "%s", f[3]);
	return 0;
}

int ab_store_principal_get(struct store *st, const char *name,
			   struct principal *p)
{
	DBT k, d;
	int rc;

	dbt_key(&k, name);
	dbt_out(&d);
	rc = st->auth->get(st->auth, NULL, &k, &d, 0);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	rc = principal_parse(name, d.data, d.size, p);
	free(d.data);
	return rc < 0 ? -1 : 1;
}

int ab_store_principal_put(struct store *st, const struct principal *p)
{
	char *v =
	    ab_asprintf("%s\t%s\t%d\t%s",
			p->kind == PRINCIPAL_ACCOUNT ? "account" : "mailbox",
			p->account, p->manage, p->pwhash);
	DBT k, d;
	int rc;

	dbt_key(&k, p->name);
	dbt_key(&d, v);
	rc = st->auth->put(st->auth, NULL, &k, &d, DB_AUTO_COMMIT);
	free(v);
	return rc == 0 ? 0 : -1;
}

int ab_store_principal_del(struct store *st, const char *name)
{
	DBT k;
	int rc;

	dbt_key(&k, name);
	rc = st->auth->del(st->auth, NULL, &k, DB_AUTO_COMMIT);
	if (rc == DB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

int ab_store_principal_list(struct store *st,
			    void (*fn)(const struct principal *p, void *arg),
			    void *arg)
{
	struct principal p;
	DBC *cur;
	DBT k, d;
	int rc;

	if (st->auth->cursor(st->auth, NULL, &cur, 0) != 0)
		return -1;
	dbt_out(&k);
	dbt_out(&d);
	while ((rc = cur->get(cur, &k, &d, DB_NEXT)) == 0) {
		char *name = xstrndup(k.data, k.size);

		if (principal_parse(name, d.data, d.size, &p) == 0)
			fn(&p, arg);
		free(name);
	}
	cur->close(cur);
	free(k.data);
	free(d.data);
	return rc == DB_NOTFOUND ? 0 : -1;
}
