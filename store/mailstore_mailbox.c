/*
 * mailstore_mailbox.c - mailboxes: create, delete, rename (metadata
 * only), get, list, special-use.  A mailbox is a record keyed by its
 * immutable id plus an entry in the per-user name index.
 */
#include "mailstore_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "db.h"
#include "log.h"

void mstore_mailbox_clear(struct mstore_mailbox *mb)
{
	free(mb->owner);
	free(mb->name);
	memset(mb, 0, sizeof(*mb));
}

void mstore_mailbox_list_free(struct mstore_mailbox **mbs, size_t n)
{
	if (*mbs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		mstore_mailbox_clear(&(*mbs)[i]);
	free(*mbs);
	*mbs = NULL;
}

int ms_mbox_read(struct mstore *ms, DB_TXN *txn, uint32_t id, int for_update,
		 struct mstore_mailbox *mb_r)
{
	uint8_t k[4];
	void *v;
	size_t vl;
	int ret;

	ms_key_id(k, id);
	ret = ms_db_get(ms->mboxes, txn, k, 4, &v, &vl,
			for_update && txn != NULL ? DB_RMW : 0);
	if (ret != 0)
		return ret;
	ret = ms_mbox_decode(v, vl, mb_r);
	free(v);
	if (ret < 0) {
		log_warnx("event=mstore_bad_record table=mailboxes id=%08x",
			  id);
		return DB_NOTFOUND;
	}
	return 0;
}

int ms_mbox_write(struct mstore *ms, DB_TXN *txn,
		  const struct mstore_mailbox *mb)
{
	struct strbuf rec;
	uint8_t k[4];
	int ret;

	strbuf_init(&rec);
	ms_mbox_encode(mb, &rec);
	ms_key_id(k, mb->id);
	ret = ms_db_put(ms->mboxes, txn, k, 4, rec.data, rec.len);
	strbuf_free(&rec);
	return ret;
}

int ms_mbox_lookup(struct mstore *ms, DB_TXN *txn, const char *user,
		   const char *normname, uint32_t *id_r)
{
	struct strbuf k;
	void *v;
	size_t vl;
	int ret;

	strbuf_init(&k);
	ms_key_user_name(&k, user, normname);
	ret = ms_db_get(ms->mbnames, txn, k.data, k.len, &v, &vl, 0);
	strbuf_free(&k);
	if (ret != 0)
		return ret;
	if (vl != 4) {
		free(v);
		return DB_NOTFOUND;
	}
	*id_r = ms_get_be32(v);
	free(v);
	return 0;
}

void ms_mbox_count_add(struct mstore_mailbox *mb, const struct mstore_msg *m,
		       int sign)
{
	if (sign > 0) {
		mb->messages++;
		mb->bytes += m->size;
		if (!(m->flags & MSTORE_F_SEEN))
			mb->unseen++;
		if (m->flags & MSTORE_F_DELETED)
			mb->deleted++;
		return;
	}
	if (mb->messages > 0)
		mb->messages--;
	mb->bytes = mb->bytes >= m->size ? mb->bytes - m->size : 0;
	if (!(m->flags & MSTORE_F_SEEN) && mb->unseen > 0)
		mb->unseen--;
	if ((m->flags & MSTORE_F_DELETED) && mb->deleted > 0)
		mb->deleted--;
}

static uint32_t ms_new_uidvalidity(struct mstore *ms, DB_TXN *txn, int *ret_r)
{
	uint64_t last = 0, now = (uint64_t)time(NULL);
	uint64_t uv;

	*ret_r = ms_meta_get(ms, txn, "uidvalidity", &last);
	if (*ret_r != 0)
		return 0;
	uv = now > last ? now : last + 1;
	if (uv > UINT32_MAX)
		uv = 1; /* after 2106: wrap (still unique per mailbox id) */
	*ret_r = ms_meta_set(ms, txn, "uidvalidity", uv);
	return (uint32_t)uv;
}

int ms_mbox_create_txn(struct mstore *ms, DB_TXN *txn, const char *user,
		       const char *normname, uint32_t special_use,
		       uint32_t uidvalidity, uint32_t *id_r,
		       enum mstore_err *err)
{
	struct mstore_mailbox mb = {0};
	struct strbuf k;
	uint32_t existing;
	uint64_t id, next;
	uint8_t idb[4];
	int ret;

	ret = ms_mbox_lookup(ms, txn, user, normname, &existing);
	if (ret == 0)
		return ms_fail(err, MSTORE_E_EXISTS);
	if (ret != DB_NOTFOUND)
		return ret;
	if (*id_r == 0) {
		ret = ms_meta_next(ms, txn, "next_mbox", 1, &id);
		if (ret != 0)
			return ret;
	} else {
		/* reconstruct: keep the directory's id */
		id = *id_r;
		ret = ms_meta_get(ms, txn, "next_mbox", &next);
		if (ret == 0 && next <= id)
			ret = ms_meta_set(ms, txn, "next_mbox", id + 1);
		if (ret != 0)
			return ret;
	}
	if (uidvalidity == 0) {
		uidvalidity = ms_new_uidvalidity(ms, txn, &ret);
		if (ret != 0)
			return ret;
	}
	mb.id = (uint32_t)id;
	mb.owner = (char *)user;
	mb.name = (char *)normname;
	mb.uidvalidity = uidvalidity;
	mb.uidnext = 1;
	mb.highestmodseq = 1;
	mb.special_use = special_use;
	mb.created = (int64_t)time(NULL);
	ret = ms_mbox_write(ms, txn, &mb);
	if (ret != 0)
		return ret;
	strbuf_init(&k);
	ms_key_user_name(&k, user, normname);
	ms_key_id(idb, mb.id);
	ret = ms_db_put(ms->mbnames, txn, k.data, k.len, idb, 4);
	strbuf_free(&k);
	if (ret != 0)
		return ret;
	*id_r = mb.id;
	return ms_change_add(ms, txn, MSTORE_CH_MBOX_CREATE, user, mb.id, 0, 0);
}

/* mkdir and .meta once the record is committed. */
static void ms_mbox_dir_init(struct mstore *ms, uint32_t id)
{
	struct mstore_mailbox mb;

	if (mstore_mailbox_get_by_id(ms, id, &mb) != MSTORE_OK)
		return;
	ms_meta_file_write(ms, &mb);
	mstore_mailbox_clear(&mb);
}

struct mbox_ctx {
	struct mstore *ms;
	const char *user;
	const char *name;    /* normalised */
	const char *newname; /* normalised (rename) */
	uint32_t special_use;
	uint32_t id;
	uint32_t *renamed; /* rename: ids to rewrite .meta for */
	size_t nrenamed;
	enum mstore_err err;
};

/* Counts keys up to the limit in *arg (unsigned[2]: count, limit). */
static int ms_count_key(void *arg, const DBT *k)
{
	unsigned *c = arg;

	(void)k;
	return ++c[0] >= c[1];
}

/* Does user have at least max mailboxes (0: no limit)? */
static int ms_mbox_at_limit(struct mstore *ms, DB_TXN *txn, const char *user,
			    unsigned max, int *yes_r)
{
	struct strbuf prefix;
	unsigned c[2] = {0, max};
	int ret;

	*yes_r = 0;
	if (max == 0)
		return 0;
	strbuf_init(&prefix);
	ms_key_user_name(&prefix, user, NULL);
	ret = ms_db_prefix_each(ms->mbnames, txn, &prefix, ms_count_key, c);
	strbuf_free(&prefix);
	*yes_r = c[0] >= max;
	return ret;
}

static int mbox_create_fn(DB_TXN *txn, void *arg)
{
	struct mbox_ctx *c = arg;
	int ret, full;

	ret = ms_user_read(c->ms, txn, c->user);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOUSER);
	if (ret != 0)
		return ret;
	/* an existing name is EXISTS, at the limit or not */
	ret = ms_mbox_lookup(c->ms, txn, c->user, c->name, &c->id);
	if (ret == 0)
		return ms_fail(&c->err, MSTORE_E_EXISTS);
	if (ret != DB_NOTFOUND)
		return ret;
	ret = ms_mbox_at_limit(c->ms, txn, c->user, c->ms->p.max_mailboxes,
			       &full);
	if (ret != 0)
		return ret;
	if (full)
		return ms_fail(&c->err, MSTORE_E_LIMIT);
	c->id = 0;
	return ms_mbox_create_txn(c->ms, txn, c->user, c->name, c->special_use,
				  0, &c->id, &c->err);
}

/* Normalises user and name for the public entry points. */
static enum mstore_err ms_args(const char *user, const char *name,
			       char u[MSTORE_USER_MAX + 1], struct strbuf *n)
{
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	if (ms_mbox_norm(name, n) < 0)
		return MSTORE_E_BADNAME;
	return MSTORE_OK;
}

enum mstore_err mstore_mailbox_create(struct mstore *ms, const char *user,
				      const char *name, uint32_t special_use,
				      uint32_t *id_r)
{
	struct mbox_ctx c = {.ms = ms, .special_use = special_use};
	char u[MSTORE_USER_MAX + 1];
	struct strbuf n;
	enum mstore_err err;

	strbuf_init(&n);
	err = ms_args(user, name, u, &n);
	if (err != MSTORE_OK)
		goto out;
	c.user = u;
	c.name = n.data;
	err = ms_txn(ms, "mailbox_create", mbox_create_fn, &c, &c.err);
	if (err == MSTORE_E_LIMIT)
		log_info("event=mstore_mailbox_limit user=%s max=%u", u,
			 ms->p.max_mailboxes);
	if (err != MSTORE_OK)
		goto out;
	ms_mbox_dir_init(ms, c.id);
	if (id_r != NULL)
		*id_r = c.id;
	log_info("event=mstore_mailbox_create user=%s id=%08x", u, c.id);
out:
	strbuf_free(&n);
	return err;
}

#define MS_PURGE_CHUNK 1000

/* Deletes up to max records of mailbox id from db; *more_r when some are
 * left. */
static int ms_del_id_prefix(DB *db, DB_TXN *txn, uint32_t id, unsigned max,
			    int *more_r)
{
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	uint8_t key[8];
	unsigned n = 0;
	int ret;

	*more_r = 0;
	ret = db->cursor(db, txn, &cur, 0);
	if (ret != 0)
		return ret;
	ms_key_msg(key, id, 0);
	k.data = key;
	k.size = 8;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	v.flags = DB_DBT_PARTIAL | DB_DBT_USERMEM;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE | DB_RMW);
	while (ret == 0 && k.size == 8 && ms_get_be32(key) == id) {
		if (n++ == max) {
			*more_r = 1;
			break;
		}
		ret = cur->del(cur, 0);
		if (ret == 0)
			ret = cur->get(cur, &k, &v, DB_NEXT | DB_RMW);
	}
	cur->close(cur);
	return ret == DB_NOTFOUND ? 0 : ret;
}

int ms_mbox_purge(struct mstore *ms, DB_TXN *txn, uint32_t id)
{
	struct mstore_mailbox mb;
	int ret;

	ret = ms_mbox_read(ms, txn, id, 1, &mb);
	if (ret == 0) {
		ret = ms_quota_add(ms, txn, mb.owner, -(int64_t)mb.bytes,
				   -(int64_t)mb.messages);
		mstore_mailbox_clear(&mb);
	} else if (ret == DB_NOTFOUND) {
		ret = 0;
	}
	return ret;
}

struct purge_ctx {
	struct mstore *ms;
	uint32_t id;
	int rmdir; /* queue the directory's removal with the last records */
	int more;
};

static int purge_fn(DB_TXN *txn, void *arg)
{
	struct purge_ctx *c = arg;
	DB *tabs[3] = {c->ms->msgs, c->ms->mime, c->ms->tombs};
	int ret = 0, more;

	c->more = 0;
	for (int i = 0; i < 3 && ret == 0; i++) {
		ret = ms_del_id_prefix(tabs[i], txn, c->id, MS_PURGE_CHUNK,
				       &more);
		c->more |= more;
	}
	/* The directory goes only with the last records: while it is
	 * there, the start-up cleanup finishes a purge a crash cut short
	 * (the mailbox's "g" mark says it was deleted). */
	if (ret == 0 && !c->more && c->rmdir) {
		char *dir = ms_mbox_dir(c->ms, c->id);

		ms_post_add(&c->ms->post_rmdir, dir);
		free(dir);
	}
	return ret;
}

void ms_mbox_purge_records(struct mstore *ms, uint32_t id, int rmdir)
{
	struct purge_ctx c = {ms, id, rmdir, 0};
	enum mstore_err err;

	do {
		if (ms_txn(ms, "mailbox_purge", purge_fn, &c, &err) !=
		    MSTORE_OK)
			return;
	} while (c.more);
}

enum mstore_err mstore_mailbox_purge_step(struct mstore *ms, uint32_t id,
					  int *more_r)
{
	struct purge_ctx c = {ms, id, 1, 0};
	enum mstore_err err;

	*more_r = 0;
	if (ms_txn(ms, "mailbox_purge", purge_fn, &c, &err) != MSTORE_OK)
		return err;
	*more_r = c.more;
	return MSTORE_OK;
}

/* Does user have a mailbox named "name/..."? */
static int ms_has_children(struct mstore *ms, DB_TXN *txn, const char *user,
			   const char *name, int *yes_r)
{
	struct strbuf prefix;
	unsigned c[2] = {0, 1};
	int ret;

	strbuf_init(&prefix);
	ms_key_user_name(&prefix, user, name);
	strbuf_addc(&prefix, '/');
	ret = ms_db_prefix_each(ms->mbnames, txn, &prefix, ms_count_key, c);
	strbuf_free(&prefix);
	*yes_r = c[0] > 0;
	return ret;
}

static int mbox_delete_fn(DB_TXN *txn, void *arg)
{
	struct mbox_ctx *c = arg;
	struct mstore *ms = c->ms;
	struct strbuf k;
	char gkey[16];
	uint8_t idk[4];
	int ret, children;

	ret = ms_mbox_lookup(ms, txn, c->user, c->name, &c->id);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	ret = ms_has_children(ms, txn, c->user, c->name, &children);
	if (ret != 0)
		return ret;
	if (children)
		return ms_fail(&c->err, MSTORE_E_HASCHILDREN);
	ret = ms_mbox_purge(ms, txn, c->id);
	if (ret != 0)
		return ret;
	ms_key_id(idk, c->id);
	if ((ret = ms_db_del(ms->mboxes, txn, idk, 4)) != 0 ||
	    (ret = ms_db_del(ms->keywords, txn, idk, 4)) != 0 ||
	    (ret = ms_db_del(ms->acl, txn, idk, 4)) != 0)
		return ret;
	strbuf_init(&k);
	ms_key_user_name(&k, c->user, c->name);
	ret = ms_db_del(ms->mbnames, txn, k.data, k.len);
	strbuf_free(&k);
	if (ret != 0)
		return ret;
	snprintf(gkey, sizeof(gkey), "g%08x", c->id);
	ret = ms_db_put(ms->meta, txn, gkey, strlen(gkey), "", 0);
	if (ret != 0)
		return ret;
	return ms_change_add(ms, txn, MSTORE_CH_MBOX_DELETE, c->user, c->id, 0,
			     0);
}

enum mstore_err mstore_mailbox_delete_begin(struct mstore *ms,
					    const char *user, const char *name,
					    uint32_t *id_r)
{
	struct mbox_ctx c = {.ms = ms};
	char u[MSTORE_USER_MAX + 1];
	struct strbuf n;
	enum mstore_err err;

	strbuf_init(&n);
	err = ms_args(user, name, u, &n);
	if (err == MSTORE_E_BADNAME)
		err = MSTORE_E_NOMAILBOX;
	if (err != MSTORE_OK)
		goto out;
	if (ms_is_inbox(n.data)) {
		err = MSTORE_E_CANNOT;
		goto out;
	}
	c.user = u;
	c.name = n.data;
	err = ms_txn(ms, "mailbox_delete", mbox_delete_fn, &c, &c.err);
	if (err == MSTORE_OK) {
		*id_r = c.id;
		log_info("event=mstore_mailbox_delete user=%s id=%08x", u,
			 c.id);
	}
out:
	strbuf_free(&n);
	return err;
}

enum mstore_err mstore_mailbox_delete(struct mstore *ms, const char *user,
				      const char *name)
{
	uint32_t id = 0;
	enum mstore_err err = mstore_mailbox_delete_begin(ms, user, name, &id);

	if (err == MSTORE_OK)
		ms_mbox_purge_records(ms, id, 1);
	return err;
}

/* ---- rename ------------------------------------------------------------ */

struct ren_item {
	uint32_t id;
	char *from, *to;
};

/* The mailbox and its children, with their new names. */
static int ren_collect(struct mbox_ctx *c, DB_TXN *txn, struct ren_item **it_r,
		       size_t *n_r)
{
	struct mstore *ms = c->ms;
	struct ren_item *it = NULL;
	size_t n = 0, nlen = strlen(c->name);
	struct strbuf prefix;
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	size_t ulen = strlen(c->user) + 1;
	int ret;

	strbuf_init(&prefix);
	ms_key_user_name(&prefix, c->user, c->name);
	ret = ms->mbnames->cursor(ms->mbnames, txn, &cur, 0);
	if (ret != 0)
		goto out;
	k.flags = DB_DBT_REALLOC;
	k.data = xmalloc(prefix.len);
	memcpy(k.data, prefix.data, prefix.len);
	k.size = (u_int32_t)prefix.len;
	v.flags = DB_DBT_REALLOC;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0 && k.size >= prefix.len &&
	       memcmp(k.data, prefix.data, prefix.len) == 0) {
		const char *name = (const char *)k.data + ulen;
		size_t len = k.size - ulen;

		/* exactly the name, or a child "name/..." */
		if (v.size == 4 &&
		    (len == nlen ||
		     ((const char *)k.data)[prefix.len] == '/')) {
			it = xrealloc(it, (n + 1) * sizeof(*it));
			it[n].id = ms_get_be32(v.data);
			it[n].from = xstrndup(name, len);
			it[n].to = xasprintf("%s%.*s", c->newname,
					     (int)(len - nlen), name + nlen);
			n++;
		}
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	free(k.data);
	free(v.data);
	cur->close(cur);
	if (ret == DB_NOTFOUND)
		ret = 0;
out:
	strbuf_free(&prefix);
	*it_r = it;
	*n_r = n;
	return ret;
}

static void ren_free(struct ren_item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(it[i].from);
		free(it[i].to);
	}
	free(it);
}

static int ren_one(struct mbox_ctx *c, DB_TXN *txn, const struct ren_item *it)
{
	struct mstore *ms = c->ms;
	struct mstore_mailbox mb;
	struct strbuf k;
	uint8_t idb[4];
	int ret;

	ret = ms_mbox_read(ms, txn, it->id, 1, &mb);
	if (ret != 0)
		return ret;
	free(mb.name);
	mb.name = xstrdup(it->to);
	ret = ms_mbox_write(ms, txn, &mb);
	mstore_mailbox_clear(&mb);
	if (ret != 0)
		return ret;
	strbuf_init(&k);
	ms_key_user_name(&k, c->user, it->from);
	ret = ms_db_del(ms->mbnames, txn, k.data, k.len);
	ms_key_user_name(&k, c->user, it->to);
	ms_key_id(idb, it->id);
	if (ret == 0)
		ret = ms_db_put(ms->mbnames, txn, k.data, k.len, idb, 4);
	strbuf_free(&k);
	if (ret != 0)
		return ret;
	c->renamed =
	    xrealloc(c->renamed, (c->nrenamed + 1) * sizeof(*c->renamed));
	c->renamed[c->nrenamed++] = it->id;
	return ms_change_add(ms, txn, MSTORE_CH_MBOX_RENAME, c->user, it->id, 0,
			     0);
}

static int mbox_rename_fn(DB_TXN *txn, void *arg)
{
	struct mbox_ctx *c = arg;
	struct ren_item *it = NULL;
	size_t n = 0;
	uint32_t dummy;
	int ret, inbox = ms_is_inbox(c->name);

	c->nrenamed = 0;
	ret = ms_mbox_lookup(c->ms, txn, c->user, c->name, &c->id);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	if (inbox) {
		/* RFC 3501 6.3.5: INBOX's messages move, its children stay */
		it = xcalloc(1, sizeof(*it));
		it->id = c->id;
		it->from = xstrdup(c->name);
		it->to = xstrdup(c->newname);
		n = 1;
	} else {
		ret = ren_collect(c, txn, &it, &n);
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		ret = ms_mbox_lookup(c->ms, txn, c->user, it[i].to, &dummy);
		if (ret == 0) {
			ret = ms_fail(&c->err, MSTORE_E_EXISTS);
			break;
		}
		ret = ret == DB_NOTFOUND ? 0 : ret;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = ren_one(c, txn, &it[i]);
	ren_free(it, n);
	if (ret == 0 && inbox) {
		uint32_t id = 0;

		ret = ms_mbox_create_txn(c->ms, txn, c->user, "INBOX", 0, 0,
					 &id, &c->err);
		if (ret == 0) {
			c->renamed =
			    xrealloc(c->renamed,
				     (c->nrenamed + 1) * sizeof(*c->renamed));
			c->renamed[c->nrenamed++] = id;
		}
	}
	return ret;
}

enum mstore_err mstore_mailbox_rename(struct mstore *ms, const char *user,
				      const char *oldname, const char *newname)
{
	struct mbox_ctx c = {.ms = ms};
	char u[MSTORE_USER_MAX + 1];
	struct strbuf o, n;
	enum mstore_err err;
	size_t olen;

	strbuf_init(&o);
	strbuf_init(&n);
	err = ms_args(user, oldname, u, &o);
	if (err == MSTORE_E_BADNAME)
		err = MSTORE_E_NOMAILBOX;
	if (err == MSTORE_OK && ms_mbox_norm(newname, &n) < 0)
		err = MSTORE_E_BADNAME;
	if (err != MSTORE_OK)
		goto out;
	olen = o.len;
	if (ms_is_inbox(n.data) ||
	    (strncmp(n.data, o.data, olen) == 0 &&
	     (n.data[olen] == '\0' || n.data[olen] == '/'))) {
		/* to INBOX, to itself, or under itself */
		err = strcmp(n.data, o.data) == 0 ? MSTORE_E_EXISTS
						  : MSTORE_E_CANNOT;
		goto out;
	}
	c.user = u;
	c.name = o.data;
	c.newname = n.data;
	err = ms_txn(ms, "mailbox_rename", mbox_rename_fn, &c, &c.err);
	if (err == MSTORE_OK) {
		for (size_t i = 0; i < c.nrenamed; i++)
			ms_mbox_dir_init(ms, c.renamed[i]);
		log_info("event=mstore_mailbox_rename user=%s id=%08x "
			 "children=%zu",
			 u, c.id, c.nrenamed ? c.nrenamed - 1 : 0);
	}
out:
	free(c.renamed);
	strbuf_free(&o);
	strbuf_free(&n);
	return err;
}

/* ---- special-use, get, list -------------------------------------------- */

static int mbox_su_fn(DB_TXN *txn, void *arg)
{
	struct mbox_ctx *c = arg;
	struct mstore_mailbox mb;
	int ret;

	ret = ms_mbox_read(c->ms, txn, c->id, 1, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	mb.special_use = c->special_use;
	ret = ms_mbox_write(c->ms, txn, &mb);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_MBOX_META, mb.owner,
				    mb.id, 0, 0);
	mstore_mailbox_clear(&mb);
	return ret;
}

enum mstore_err mstore_mailbox_set_special_use(struct mstore *ms,
					       uint32_t mailbox_id,
					       uint32_t special_use)
{
	struct mbox_ctx c = {
	    .ms = ms, .id = mailbox_id, .special_use = special_use};

	return ms_txn(ms, "mailbox_special_use", mbox_su_fn, &c, &c.err);
}

enum mstore_err mstore_mailbox_get_by_id(struct mstore *ms, uint32_t id,
					 struct mstore_mailbox *mb_r)
{
	int ret;

	memset(mb_r, 0, sizeof(*mb_r));
	ret = ms_mbox_read(ms, NULL, id, 0, mb_r);
	if (ret == 0)
		return MSTORE_OK;
	if (ret == DB_NOTFOUND)
		return MSTORE_E_NOMAILBOX;
	log_warnx("event=mstore_mailbox_read id=%08x error=\"%s\"", id,
		  db_error(ret));
	return MSTORE_E_TEMP;
}

enum mstore_err mstore_mailbox_get(struct mstore *ms, const char *user,
				   const char *name,
				   struct mstore_mailbox *mb_r)
{
	char u[MSTORE_USER_MAX + 1];
	struct strbuf n;
	enum mstore_err err;
	uint32_t id;
	int ret;

	memset(mb_r, 0, sizeof(*mb_r));
	strbuf_init(&n);
	err = ms_args(user, name, u, &n);
	if (err == MSTORE_E_BADNAME || err == MSTORE_E_NOUSER)
		err = MSTORE_E_NOMAILBOX;
	if (err != MSTORE_OK)
		goto out;
	ret = ms_mbox_lookup(ms, NULL, u, n.data, &id);
	if (ret == 0)
		err = mstore_mailbox_get_by_id(ms, id, mb_r);
	else if (ret == DB_NOTFOUND)
		err = MSTORE_E_NOMAILBOX;
	else
		err = MSTORE_E_TEMP;
out:
	strbuf_free(&n);
	return err;
}

static int mbox_cmp(const void *a, const void *b)
{
	const struct mstore_mailbox *x = a, *y = b;
	int xi = ms_is_inbox(x->name), yi = ms_is_inbox(y->name);

	if (xi != yi)
		return yi - xi;
	return strcmp(x->name, y->name);
}

enum mstore_err mstore_mailbox_list(struct mstore *ms, const char *user,
				    struct mstore_mailbox **mbs_r, size_t *n_r)
{
	struct mstore_mailbox *mbs = NULL;
	char u[MSTORE_USER_MAX + 1];
	uint32_t *ids = NULL;
	size_t n = 0, nids = 0;
	int ret;

	*mbs_r = NULL;
	*n_r = 0;
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	ret = ms_user_mbox_ids(ms, NULL, u, &ids, &nids);
	if (ret != 0) {
		log_warnx("event=mstore_mailbox_list error=\"%s\"",
			  db_error(ret));
		return MSTORE_E_TEMP;
	}
	mbs = xcalloc(nids ? nids : 1, sizeof(*mbs));
	for (size_t i = 0; i < nids; i++)
		if (ms_mbox_read(ms, NULL, ids[i], 0, &mbs[n]) == 0)
			n++;
	free(ids);
	if (n > 1)
		qsort(mbs, n, sizeof(*mbs), mbox_cmp);
	if (n == 0) {
		free(mbs);
		mbs = NULL;
	}
	*mbs_r = mbs;
	*n_r = n;
	return MSTORE_OK;
}
