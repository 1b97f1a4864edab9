/*
 * mailstore_user.c - users: create (with INBOX and a quota record),
 * delete (everything the user owns), exists, list; store-wide stats.
 */
#include "mailstore_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"

#define MS_USER_REC_VERSION 1

int ms_user_read(struct mstore *ms, DB_TXN *txn, const char *user)
{
	void *v;
	int ret;

	ret = ms_db_get(ms->users, txn, user, strlen(user), &v, NULL, 0);
	if (ret == 0)
		free(v);
	return ret;
}

struct user_ctx {
	struct mstore *ms;
	const char *user;
	enum mstore_err err;
	uint32_t *ids; /* user delete: the mailboxes to purge afterwards */
	size_t nids;
};

int ms_user_put(struct mstore *ms, DB_TXN *txn, const char *user)
{
	struct mstore_quota q = {0};
	uint8_t rec[9], qrec[32];
	int ret;

	rec[0] = MS_USER_REC_VERSION;
	ms_put_be64(rec + 1, (uint64_t)time(NULL));
	ret = ms_db_put(ms->users, txn, user, strlen(user), rec, 9);
	if (ret != 0)
		return ret;
	q.bytes_limit = ms->p.default_quota_bytes;
	q.messages_limit = ms->p.default_quota_messages;
	ms_quota_encode(&q, qrec);
	ret = ms_db_put(ms->quota, txn, user, strlen(user), qrec, 32);
	if (ret != 0)
		return ret;
	return ms_change_add(ms, txn, MSTORE_CH_USER_CREATE, user, 0, 0, 0);
}

static int user_create_fn(DB_TXN *txn, void *arg)
{
	struct user_ctx *c = arg;
	struct mstore *ms = c->ms;
	uint32_t inbox = 0;
	int ret;

	ret = ms_user_read(ms, txn, c->user);
	if (ret == 0)
		return ms_fail(&c->err, MSTORE_E_EXISTS);
	if (ret != DB_NOTFOUND)
		return ret;
	ret = ms_user_put(ms, txn, c->user);
	if (ret != 0)
		return ret;
	return ms_mbox_create_txn(ms, txn, c->user, "INBOX", 0, 0, &inbox,
				  &c->err);
}

enum mstore_err mstore_user_create(struct mstore *ms, const char *user)
{
	struct user_ctx c = {ms, NULL, MSTORE_OK, NULL, 0};
	char u[MSTORE_USER_MAX + 1];
	struct mstore_mailbox mb;

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_BADNAME;
	c.user = u;
	if (ms_txn(ms, "user_create", user_create_fn, &c, &c.err) != MSTORE_OK)
		return c.err;
	if (mstore_mailbox_get(ms, u, "INBOX", &mb) == MSTORE_OK) {
		ms_meta_file_write(ms, &mb);
		mstore_mailbox_clear(&mb);
	}
	log_info("event=mstore_user_create user=%s", u);
	return MSTORE_OK;
}

/* Deletes every key of db that starts with prefix[0..plen). */
static int ms_del_prefix(DB *db, DB_TXN *txn, const void *prefix, size_t plen)
{
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	int ret;

	ret = db->cursor(db, txn, &cur, 0);
	if (ret != 0)
		return ret;
	k.flags = DB_DBT_REALLOC;
	k.data = xmalloc(plen ? plen : 1);
	memcpy(k.data, prefix, plen);
	k.size = (u_int32_t)plen;
	v.flags = DB_DBT_PARTIAL | DB_DBT_USERMEM;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE | DB_RMW);
	while (ret == 0 && k.size >= plen &&
	       memcmp(k.data, prefix, plen) == 0) {
		ret = cur->del(cur, 0);
		if (ret == 0)
			ret = cur->get(cur, &k, &v, DB_NEXT | DB_RMW);
	}
	free(k.data);
	cur->close(cur);
	return ret == DB_NOTFOUND ? 0 : ret;
}

/* Ids of user's mailboxes (from the name index); mailstore_int.h. */
int ms_user_mbox_ids(struct mstore *ms, DB_TXN *txn, const char *user,
			    uint32_t **ids_r, size_t *n_r)
{
	struct strbuf prefix;
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	uint32_t *ids = NULL;
	size_t n = 0;
	int ret;

	*ids_r = NULL;
	*n_r = 0;
	strbuf_init(&prefix);
	ms_key_user_name(&prefix, user, NULL);
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
		if (v.size == 4) {
			ids = xrealloc(ids, (n + 1) * sizeof(*ids));
			ids[n++] = ms_get_be32(v.data);
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
	if (ret != 0) {
		free(ids);
		return ret;
	}
	*ids_r = ids;
	*n_r = n;
	return 0;
}

static int user_delete_fn(DB_TXN *txn, void *arg)
{
	struct user_ctx *c = arg;
	struct mstore *ms = c->ms;
	struct strbuf prefix;
	uint32_t *ids;
	size_t n;
	int ret;

	ret = ms_user_read(ms, txn, c->user);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOUSER);
	if (ret != 0)
		return ret;
	ret = ms_user_mbox_ids(ms, txn, c->user, &ids, &n);
	if (ret != 0)
		return ret;
	for (size_t i = 0; i < n && ret == 0; i++) {
		uint8_t k[4];
		char gkey[16];

		ret = ms_mbox_purge(ms, txn, ids[i]);
		ms_key_id(k, ids[i]);
		if (ret == 0)
			ret = ms_db_del(ms->mboxes, txn, k, 4);
		if (ret == 0)
			ret = ms_db_del(ms->keywords, txn, k, 4);
		if (ret == 0)
			ret = ms_db_del(ms->acl, txn, k, 4);
		snprintf(gkey, sizeof(gkey), "g%08x", ids[i]);
		if (ret == 0)
			ret =
			    ms_db_put(ms->meta, txn, gkey, strlen(gkey), "", 0);
		if (ret == 0)
			ret = ms_change_add(ms, txn, MSTORE_CH_MBOX_DELETE,
					    c->user, ids[i], 0, 0);
	}
	free(c->ids);
	c->ids = ids;
	c->nids = n;
	if (ret != 0)
		return ret;
	strbuf_init(&prefix);
	ms_key_user_name(&prefix, c->user, NULL);
	ret = ms_del_prefix(ms->mbnames, txn, prefix.data, prefix.len);
	if (ret == 0)
		ret = ms_del_prefix(ms->subs, txn, prefix.data, prefix.len);
	if (ret == 0)
		ret = ms_del_prefix(ms->seen, txn, prefix.data, prefix.len);
	strbuf_free(&prefix);
	if (ret == 0)
		ret = ms_db_del(ms->quota, txn, c->user, strlen(c->user));
	if (ret == 0)
		ret = ms_db_del(ms->users, txn, c->user, strlen(c->user));
	if (ret == 0)
		ret = ms_change_add(ms, txn, MSTORE_CH_USER_DELETE, c->user, 0,
				    0, 0);
	return ret;
}

enum mstore_err mstore_user_delete(struct mstore *ms, const char *user)
{
	struct user_ctx c = {ms, NULL, MSTORE_OK, NULL, 0};
	char u[MSTORE_USER_MAX + 1];

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	c.user = u;
	if (ms_txn(ms, "user_delete", user_delete_fn, &c, &c.err) !=
	    MSTORE_OK) {
		free(c.ids);
		return c.err;
	}
	for (size_t i = 0; i < c.nids; i++)
		ms_mbox_purge_records(ms, c.ids[i], 1);
	free(c.ids);
	log_info("event=mstore_user_delete user=%s", u);
	return MSTORE_OK;
}

enum mstore_err mstore_user_exists(struct mstore *ms, const char *user)
{
	char u[MSTORE_USER_MAX + 1];
	int ret;

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	ret = ms_user_read(ms, NULL, u);
	if (ret == 0)
		return MSTORE_OK;
	if (ret == DB_NOTFOUND)
		return MSTORE_E_NOUSER;
	log_warnx("event=mstore_user_read error=\"%s\"", db_error(ret));
	return MSTORE_E_TEMP;
}

void mstore_strv_free(char ***v, size_t n)
{
	if (*v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
}

/* Walks every key of db; cb(key, klen, val, vlen, arg). */
static int ms_walk(DB *db, void (*cb)(const DBT *k, const DBT *v, void *arg),
		   void *arg)
{
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	int ret;

	ret = db->cursor(db, NULL, &cur, 0);
	if (ret != 0)
		return ret;
	k.flags = DB_DBT_REALLOC;
	v.flags = DB_DBT_REALLOC;
	while ((ret = cur->get(cur, &k, &v, DB_NEXT)) == 0)
		cb(&k, &v, arg);
	free(k.data);
	free(v.data);
	cur->close(cur);
	return ret == DB_NOTFOUND ? 0 : ret;
}

struct strv_acc {
	char **v;
	size_t n;
};

static void user_list_cb(const DBT *k, const DBT *v, void *arg)
{
	struct strv_acc *a = arg;

	(void)v;
	a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
	a->v[a->n++] = xstrndup(k->data, k->size);
}

enum mstore_err mstore_user_list(struct mstore *ms, char ***users_r,
				 size_t *n_r)
{
	struct strv_acc a = {NULL, 0};
	int ret;

	ret = ms_walk(ms->users, user_list_cb, &a);
	if (ret != 0) {
		mstore_strv_free(&a.v, a.n);
		log_warnx("event=mstore_user_list error=\"%s\"", db_error(ret));
		return MSTORE_E_TEMP;
	}
	*users_r = a.v;
	*n_r = a.n;
	return MSTORE_OK;
}

static void stats_mbox_cb(const DBT *k, const DBT *v, void *arg)
{
	struct mstore_stats *st = arg;
	struct mstore_mailbox mb;

	(void)k;
	if (ms_mbox_decode(v->data, v->size, &mb) < 0)
		return;
	st->mailboxes++;
	st->messages += mb.messages;
	st->bytes += mb.bytes;
	mstore_mailbox_clear(&mb);
}

static void stats_user_cb(const DBT *k, const DBT *v, void *arg)
{
	struct mstore_stats *st = arg;

	(void)k;
	(void)v;
	st->users++;
}

enum mstore_err mstore_stats(struct mstore *ms, struct mstore_stats *st_r)
{
	int ret;

	memset(st_r, 0, sizeof(*st_r));
	ret = ms_walk(ms->users, stats_user_cb, st_r);
	if (ret == 0)
		ret = ms_walk(ms->mboxes, stats_mbox_cb, st_r);
	if (ret != 0) {
		log_warnx("event=mstore_stats error=\"%s\"", db_error(ret));
		return MSTORE_E_TEMP;
	}
	st_r->last_seq = mstore_changes_last_seq(ms);
	st_r->deliveries_in_flight = ms->in_flight;
	return MSTORE_OK;
}

unsigned mstore_deliveries_in_flight(const struct mstore *ms)
{
	return ms->in_flight;
}
