/*
 * mailstore_quota.c - per-user quota (usage kept in the same transaction
 * as every message change), subscriptions, ACL entries and per-user seen
 * state of shared mailboxes.
 */
#include "mailstore_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"

/* ---- quota --------------------------------------------------------------- */

int ms_quota_read(struct mstore *ms, DB_TXN *txn, const char *user,
		  struct mstore_quota *q_r)
{
	void *v;
	size_t vl;
	int ret;

	memset(q_r, 0, sizeof(*q_r));
	ret = ms_db_get(ms->quota, txn, user, strlen(user), &v, &vl,
			txn != NULL ? DB_RMW : 0);
	if (ret != 0)
		return ret;
	ret = ms_quota_decode(v, vl, q_r);
	free(v);
	if (ret < 0) {
		log_warnx("event=mstore_bad_record table=quota user=%s", user);
		memset(q_r, 0, sizeof(*q_r));
	}
	return 0;
}

int ms_quota_write(struct mstore *ms, DB_TXN *txn, const char *user,
		   const struct mstore_quota *q)
{
	uint8_t rec[32];

	ms_quota_encode(q, rec);
	return ms_db_put(ms->quota, txn, user, strlen(user), rec, 32);
}

static uint64_t add_clamped(uint64_t v, int64_t d)
{
	if (d >= 0)
		return v + (uint64_t)d;
	return v >= (uint64_t)-d ? v - (uint64_t)-d : 0;
}

int ms_quota_add(struct mstore *ms, DB_TXN *txn, const char *user,
		 int64_t dbytes, int64_t dmsgs)
{
	struct mstore_quota q;
	int ret;

	if (dbytes == 0 && dmsgs == 0)
		return 0;
	ret = ms_quota_read(ms, txn, user, &q);
	if (ret != 0 && ret != DB_NOTFOUND)
		return ret;
	q.bytes_used = add_clamped(q.bytes_used, dbytes);
	q.messages_used = add_clamped(q.messages_used, dmsgs);
	return ms_quota_write(ms, txn, user, &q);
}

enum mstore_err mstore_quota_get(struct mstore *ms, const char *user,
				 struct mstore_quota *q_r)
{
	char u[MSTORE_USER_MAX + 1];
	int ret;

	memset(q_r, 0, sizeof(*q_r));
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	ret = ms_user_read(ms, NULL, u);
	if (ret == DB_NOTFOUND)
		return MSTORE_E_NOUSER;
	if (ret == 0)
		ret = ms_quota_read(ms, NULL, u, q_r);
	/* a user without a quota record has no limits and no usage */
	return ret == 0 || ret == DB_NOTFOUND ? MSTORE_OK : MSTORE_E_TEMP;
}

struct quota_ctx {
	struct mstore *ms;
	const char *user;
	uint64_t bytes, msgs;
	enum mstore_err err;
};

static int quota_set_fn(DB_TXN *txn, void *arg)
{
	struct quota_ctx *c = arg;
	struct mstore_quota q;
	int ret;

	ret = ms_user_read(c->ms, txn, c->user);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOUSER);
	if (ret != 0)
		return ret;
	ret = ms_quota_read(c->ms, txn, c->user, &q);
	if (ret != 0 && ret != DB_NOTFOUND)
		return ret;
	q.bytes_limit = c->bytes;
	q.messages_limit = c->msgs;
	ret = ms_quota_write(c->ms, txn, c->user, &q);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_QUOTA, c->user, 0, 0,
				    0);
	return ret;
}

enum mstore_err mstore_quota_set(struct mstore *ms, const char *user,
				 uint64_t bytes_limit, uint64_t messages_limit)
{
	struct quota_ctx c = {ms, NULL, bytes_limit, messages_limit, MSTORE_OK};
	char u[MSTORE_USER_MAX + 1];

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	c.user = u;
	return ms_txn(ms, "quota_set", quota_set_fn, &c, &c.err);
}

enum mstore_err mstore_quota_check(struct mstore *ms, const char *user,
				   uint64_t bytes, uint64_t n)
{
	struct mstore_quota q;
	enum mstore_err err;

	err = mstore_quota_get(ms, user, &q);
	if (err != MSTORE_OK)
		return err;
	if ((q.bytes_limit != 0 && q.bytes_used + bytes > q.bytes_limit) ||
	    (q.messages_limit != 0 && q.messages_used + n > q.messages_limit))
		return MSTORE_E_OVERQUOTA;
	return MSTORE_OK;
}

/* ---- subscriptions ---------------------------------------------------------
 */

struct sub_ctx {
	struct mstore *ms;
	const char *user;
	const char *name;
	const char *value; /* seen */
	uint32_t id;	   /* seen / acl */
	int on;
	enum mstore_err err;
};

static int sub_fn(DB_TXN *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct strbuf k;
	int ret;

	ret = ms_user_read(c->ms, txn, c->user);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOUSER);
	if (ret != 0)
		return ret;
	strbuf_init(&k);
	ms_key_user_name(&k, c->user, c->name);
	if (c->on)
		ret = ms_db_put(c->ms->subs, txn, k.data, k.len, "", 0);
	else
		ret = ms_db_del(c->ms->subs, txn, k.data, k.len);
	strbuf_free(&k);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_SUBSCRIBE, c->user, 0,
				    0, 0);
	return ret;
}

enum mstore_err mstore_subscribe(struct mstore *ms, const char *user,
				 const char *name, int subscribe)
{
	struct sub_ctx c = {.ms = ms, .on = subscribe};
	char u[MSTORE_USER_MAX + 1];
	struct strbuf n;
	enum mstore_err err;

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	strbuf_init(&n);
	if (ms_mbox_norm(name, &n) < 0) {
		strbuf_free(&n);
		return MSTORE_E_BADNAME;
	}
	c.user = u;
	c.name = n.data;
	err = ms_txn(ms, "subscribe", sub_fn, &c, &c.err);
	strbuf_free(&n);
	return err;
}

struct sub_list {
	size_t skip; /* the prefix */
	char **names;
	size_t n;
};

static int sub_collect(void *arg, const DBT *k)
{
	struct sub_list *l = arg;

	l->names = xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
	l->names[l->n++] =
	    xstrndup((char *)k->data + l->skip, k->size - l->skip);
	return 0;
}

enum mstore_err mstore_subscriptions(struct mstore *ms, const char *user,
				     char ***names_r, size_t *n_r)
{
	char u[MSTORE_USER_MAX + 1];
	struct strbuf prefix;
	struct sub_list l = {0};
	int ret;

	*names_r = NULL;
	*n_r = 0;
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	strbuf_init(&prefix);
	ms_key_user_name(&prefix, u, NULL);
	l.skip = prefix.len;
	ret = ms_db_prefix_each(ms->subs, NULL, &prefix, sub_collect, &l);
	strbuf_free(&prefix);
	if (ret != 0) {
		mstore_strv_free(&l.names, l.n);
		return MSTORE_E_TEMP;
	}
	*names_r = l.names;
	*n_r = l.n;
	return MSTORE_OK;
}

/* ---- ACL -------------------------------------------------------------------
 */

static void acl_parse(const char *buf, size_t len,
		      struct mstore_acl_entry **acl_r, size_t *n_r)
{
	struct mstore_acl_entry *acl = NULL;
	size_t n = 0, off = 0;

	while (off < len) {
		const char *id = buf + off;
		const char *rights;
		size_t idl = strnlen(id, len - off);

		if (off + idl + 1 >= len)
			break;
		rights = id + idl + 1;
		acl = xrealloc(acl, (n + 1) * sizeof(*acl));
		acl[n].identifier = xstrndup(id, idl);
		acl[n].rights =
		    xstrndup(rights, strnlen(rights, len - off - idl - 1));
		off += idl + 1 + strlen(acl[n].rights) + 1;
		n++;
	}
	*acl_r = acl;
	*n_r = n;
}

void mstore_acl_free(struct mstore_acl_entry **acl, size_t n)
{
	if (*acl == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*acl)[i].identifier);
		free((*acl)[i].rights);
	}
	free(*acl);
	*acl = NULL;
}

enum mstore_err mstore_acl_get(struct mstore *ms, uint32_t mailbox_id,
			       struct mstore_acl_entry **acl_r, size_t *n_r)
{
	struct mstore_mailbox mb;
	uint8_t k[4];
	void *v;
	size_t vl;
	int ret;

	*acl_r = NULL;
	*n_r = 0;
	ret = ms_mbox_read(ms, NULL, mailbox_id, 0, &mb);
	if (ret == DB_NOTFOUND)
		return MSTORE_E_NOMAILBOX;
	if (ret != 0)
		return MSTORE_E_TEMP;
	mstore_mailbox_clear(&mb);
	ms_key_id(k, mailbox_id);
	ret = ms_db_get(ms->acl, NULL, k, 4, &v, &vl, 0);
	if (ret == DB_NOTFOUND)
		return MSTORE_OK;
	if (ret != 0)
		return MSTORE_E_TEMP;
	acl_parse(v, vl, acl_r, n_r);
	free(v);
	return MSTORE_OK;
}

static int acl_set_fn(DB_TXN *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct mstore_acl_entry *acl = NULL;
	struct mstore_mailbox mb;
	struct strbuf rec;
	uint8_t k[4];
	void *v;
	size_t vl, n = 0;
	int ret, found = 0;

	ret = ms_mbox_read(c->ms, txn, c->id, 0, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	ms_key_id(k, c->id);
	ret = ms_db_get(c->ms->acl, txn, k, 4, &v, &vl, DB_RMW);
	if (ret == 0) {
		acl_parse(v, vl, &acl, &n);
		free(v);
	} else if (ret != DB_NOTFOUND) {
		mstore_mailbox_clear(&mb);
		return ret;
	}
	strbuf_init(&rec);
	for (size_t i = 0; i < n; i++) {
		const char *r = acl[i].rights;

		if (strcmp(acl[i].identifier, c->name) == 0) {
			found = 1;
			r = c->value;
		}
		if (r == NULL || *r == '\0')
			continue;
		strbuf_add(&rec, acl[i].identifier,
			   strlen(acl[i].identifier) + 1);
		strbuf_add(&rec, r, strlen(r) + 1);
	}
	if (!found && c->value != NULL && *c->value != '\0') {
		strbuf_add(&rec, c->name, strlen(c->name) + 1);
		strbuf_add(&rec, c->value, strlen(c->value) + 1);
	}
	mstore_acl_free(&acl, n);
	if (rec.len == 0)
		ret = ms_db_del(c->ms->acl, txn, k, 4);
	else
		ret = ms_db_put(c->ms->acl, txn, k, 4, rec.data, rec.len);
	strbuf_free(&rec);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_MBOX_META, mb.owner,
				    c->id, 0, 0);
	mstore_mailbox_clear(&mb);
	return ret;
}

enum mstore_err mstore_acl_set(struct mstore *ms, uint32_t mailbox_id,
			       const char *identifier, const char *rights)
{
	struct sub_ctx c = {
	    .ms = ms, .id = mailbox_id, .name = identifier, .value = rights};

	if (identifier == NULL || *identifier == '\0' ||
	    strlen(identifier) > MSTORE_USER_MAX + 1)
		return MSTORE_E_INVAL;
	return ms_txn(ms, "acl_set", acl_set_fn, &c, &c.err);
}

enum mstore_err mstore_acl_shared_with(struct mstore *ms,
				       const char *identifier, uint32_t **ids_r,
				       size_t *n_r)
{
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	uint32_t *ids = NULL;
	size_t n = 0;
	int ret;

	*ids_r = NULL;
	*n_r = 0;
	ret = ms->acl->cursor(ms->acl, NULL, &cur, 0);
	if (ret != 0)
		return MSTORE_E_TEMP;
	k.flags = DB_DBT_REALLOC;
	v.flags = DB_DBT_REALLOC;
	while ((ret = cur->get(cur, &k, &v, DB_NEXT)) == 0) {
		struct mstore_acl_entry *acl;
		size_t na;
		int hit = 0;

		if (k.size != 4)
			continue;
		acl_parse(v.data, v.size, &acl, &na);
		for (size_t i = 0; i < na; i++)
			if (strcasecmp(acl[i].identifier, identifier) == 0 ||
			    strcmp(acl[i].identifier, "anyone") == 0)
				hit = 1;
		mstore_acl_free(&acl, na);
		if (hit) {
			ids = xrealloc(ids, (n + 1) * sizeof(*ids));
			ids[n++] = ms_get_be32(k.data);
		}
	}
	free(k.data);
	free(v.data);
	cur->close(cur);
	if (ret != DB_NOTFOUND) {
		free(ids);
		return MSTORE_E_TEMP;
	}
	*ids_r = ids;
	*n_r = n;
	return MSTORE_OK;
}

/* ---- seen state -----------------------------------------------------------
 */

static void seen_key(struct strbuf *k, const char *user, uint32_t id)
{
	uint8_t b[4];

	ms_key_user_name(k, user, NULL);
	ms_key_id(b, id);
	strbuf_add(k, b, 4);
}

enum mstore_err mstore_seen_get(struct mstore *ms, const char *user,
				uint32_t mailbox_id, char **seen_r)
{
	char u[MSTORE_USER_MAX + 1];
	struct strbuf k;
	void *v;
	size_t vl;
	int ret;

	*seen_r = NULL;
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	strbuf_init(&k);
	seen_key(&k, u, mailbox_id);
	ret = ms_db_get(ms->seen, NULL, k.data, k.len, &v, &vl, 0);
	strbuf_free(&k);
	if (ret == DB_NOTFOUND) {
		*seen_r = xstrdup("");
		return MSTORE_OK;
	}
	if (ret != 0)
		return MSTORE_E_TEMP;
	*seen_r = xstrndup(v, vl);
	free(v);
	return MSTORE_OK;
}

static int seen_set_fn(DB_TXN *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct mstore_mailbox mb;
	struct strbuf k;
	int ret;

	ret = ms_mbox_read(c->ms, txn, c->id, 0, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	mstore_mailbox_clear(&mb);
	strbuf_init(&k);
	seen_key(&k, c->user, c->id);
	ret = ms_db_put(c->ms->seen, txn, k.data, k.len, c->value,
			strlen(c->value));
	strbuf_free(&k);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_SEEN, c->user, c->id,
				    0, 0);
	return ret;
}

enum mstore_err mstore_seen_set(struct mstore *ms, const char *user,
				uint32_t mailbox_id, const char *seen)
{
	struct sub_ctx c = {.ms = ms, .id = mailbox_id, .value = seen};
	char u[MSTORE_USER_MAX + 1];

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	c.user = u;
	return ms_txn(ms, "seen_set", seen_set_fn, &c, &c.err);
}
