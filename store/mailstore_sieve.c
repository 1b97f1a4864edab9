/*
 * mailstore_sieve.c - per-user Sieve scripts in the store's Berkeley DB
 * environment (mailstore_sieve.h); vacation records: mailstore_vacation.c.
 *
 * The tables live beside the engine's but are opened here, lazily, with
 * db_table_open() (it hands back the same handle on every call), so the
 * engine's files know nothing of Sieve.  Writes go through ms_txn(), which
 * gives deadlock retry, group commit and the change-log hooks.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "sieve/sieve.h"
#include "store/mailstore_int.h"
#include "store/mailstore_sieve.h"
#include "strbuf.h"

#define MSIEVE_REC_VERSION 1
#define MSIEVE_REC_HDR 5

enum { T_SCRIPTS = 0, T_ACTIVE, T_VACATION, T_COUNT };
static const char *const table_names[T_COUNT] = {"sieve.db", "sieveactive.db",
						 "vacation.db"};

static DB *msieve_table(struct mstore *ms, int which)
{
	DB *db = NULL;
	char *err = NULL;

	if (db_table_open(ms->env, table_names[which], DB_BTREE, 0, &db, &err) <
	    0) {
		log_warnx("event=sieve_table_open_failed table=%s error=\"%s\"",
			  table_names[which], err);
		free(err);
		return NULL;
	}
	return db;
}

void msieve_limits_load(const struct config_section *sec,
			struct msieve_limits *lim)
{
	long long n;
	unsigned long long sz;
	char *err = NULL;

	lim->max_scripts = MSIEVE_DEFAULT_MAX_SCRIPTS;
	lim->max_script_size = MSIEVE_DEFAULT_MAX_SIZE;
	if (config_get_int(sec, "sieve_max_scripts", MSIEVE_DEFAULT_MAX_SCRIPTS,
			   &n, &err) < 0 ||
	    n < 1) {
		log_warnx("event=config_warning key=sieve_max_scripts "
			  "error=\"%s\"",
			  err ? err : "must be at least 1");
		free(err);
		err = NULL;
	} else {
		lim->max_scripts = (unsigned)n;
	}
	if (config_get_size(sec, "sieve_max_script_size",
			    MSIEVE_DEFAULT_MAX_SIZE, &sz, &err) < 0 ||
	    sz < 1) {
		log_warnx("event=config_warning key=sieve_max_script_size "
			  "error=\"%s\"",
			  err ? err : "must be at least 1");
		free(err);
	} else {
		lim->max_script_size = sz;
	}
}

/* RFC 5804 section 1.6: UTF-8 (RFC 3629), no CTL characters. */
int msieve_name_valid(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0;

	if (len == 0 || len > MSIEVE_NAME_MAX)
		return -1;
	while (i < len) {
		unsigned c = p[i], need, cp;

		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return -1;
		if (i + need >= len)
			return -1;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return -1;
		i += need + 1;
	}
	return 0;
}

static void msieve_sieve_limits(const struct msieve_limits *lim,
				struct sieve_limits *sl)
{
	sieve_limits_default(sl);
	if (lim != NULL)
		sl->max_script_size = (size_t)lim->max_script_size;
}

int msieve_check(const char *src, size_t len, const struct msieve_limits *lim,
		 struct strbuf *errors)
{
	struct sieve_limits sl;
	struct sieve_script *s = NULL;

	msieve_sieve_limits(lim, &sl);
	if (sieve_compile(src, len, &sl, &s, errors) < 0)
		return -1;
	sieve_script_free(&s);
	return 0;
}

/* ---- keys and records ------------------------------------------------- */

static void key_user_name(struct strbuf *k, const char *user, const char *name)
{
	strbuf_reset(k);
	strbuf_adds(k, user);
	strbuf_addc(k, '\0');
	if (name != NULL)
		strbuf_adds(k, name);
}

static int rec_split(const void *v, size_t vl, const char **src_r,
		     size_t *srclen_r, const void **bin_r, size_t *binlen_r)
{
	const uint8_t *p = v;
	uint32_t sl;

	if (vl < MSIEVE_REC_HDR || p[0] != MSIEVE_REC_VERSION)
		return -1;
	sl = ms_get_be32(p + 1);
	if (sl > vl - MSIEVE_REC_HDR)
		return -1;
	*src_r = (const char *)p + MSIEVE_REC_HDR;
	*srclen_r = sl;
	*bin_r = p + MSIEVE_REC_HDR + sl;
	*binlen_r = vl - MSIEVE_REC_HDR - sl;
	return 0;
}

/* Counts user's scripts, and whether name is one of them. */
static int count_scripts(DB *db, DB_TXN *txn, const char *user,
			 const char *name, unsigned *n_r, int *exists_r)
{
	struct strbuf prefix;
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	int ret;
	unsigned n = 0;

	*exists_r = 0;
	strbuf_init(&prefix);
	key_user_name(&prefix, user, NULL);
	ret = db->cursor(db, txn, &cur, 0);
	if (ret != 0)
		goto out;
	k.data = prefix.data;
	k.size = (u_int32_t)prefix.len;
	k.flags = DB_DBT_MALLOC;
	v.flags = DB_DBT_MALLOC | DB_DBT_PARTIAL;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0) {
		if (k.size < prefix.len ||
		    memcmp(k.data, prefix.data, prefix.len) != 0) {
			free(k.data);
			free(v.data);
			break;
		}
		n++;
		if (name != NULL && k.size - prefix.len == strlen(name) &&
		    memcmp((char *)k.data + prefix.len, name,
			   k.size - prefix.len) == 0)
			*exists_r = 1;
		free(k.data);
		free(v.data);
		k.data = NULL;
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	if (ret == DB_NOTFOUND)
		ret = 0;
out:
	if (cur != NULL)
		cur->close(cur);
	strbuf_free(&prefix);
	*n_r = n;
	return ret;
}

/* ---- writes ----------------------------------------------------------- */

struct put_ctx {
	struct mstore *ms;
	const char *user, *name, *newname;
	const struct strbuf *rec;
	const struct msieve_limits *lim;
	enum mstore_err err;
	DB *scripts, *active;
};

static int user_check(struct put_ctx *c, DB_TXN *txn)
{
	int ret = ms_user_read(c->ms, txn, c->user);

	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOUSER);
	return ret;
}

static int put_fn(DB_TXN *txn, void *arg)
{
	struct put_ctx *c = arg;
	struct strbuf k;
	unsigned n;
	int exists, ret;

	if ((ret = user_check(c, txn)) != 0)
		return ret;
	ret = count_scripts(c->scripts, txn, c->user, c->name, &n, &exists);
	if (ret != 0)
		return ret;
	if (!exists && n >= c->lim->max_scripts)
		return ms_fail(&c->err, MSTORE_E_LIMIT);
	strbuf_init(&k);
	key_user_name(&k, c->user, c->name);
	ret = ms_db_put(c->scripts, txn, k.data, k.len, c->rec->data,
			c->rec->len);
	strbuf_free(&k);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_SIEVE, c->user, 0, 0,
				    0);
	return ret;
}

static enum mstore_err ctx_init(struct put_ctx *c, struct mstore *ms,
				const char *user, char u[MSTORE_USER_MAX + 1])
{
	memset(c, 0, sizeof(*c));
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	c->ms = ms;
	c->user = u;
	c->scripts = msieve_table(ms, T_SCRIPTS);
	c->active = msieve_table(ms, T_ACTIVE);
	if (c->scripts == NULL || c->active == NULL)
		return MSTORE_E_TEMP;
	return MSTORE_OK;
}

enum mstore_err msieve_put(struct mstore *ms, const char *user,
			   const char *name, const char *src, size_t len,
			   const struct msieve_limits *lim,
			   struct strbuf *errors)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	struct sieve_limits sl;
	struct sieve_script *script = NULL;
	struct strbuf rec;
	uint8_t hdr[MSIEVE_REC_HDR];
	enum mstore_err err;

	if (msieve_name_valid(name, strlen(name)) < 0)
		return MSTORE_E_BADNAME;
	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	if (len > lim->max_script_size)
		return MSTORE_E_OVERQUOTA;
	msieve_sieve_limits(lim, &sl);
	if (sieve_compile(src, len, &sl, &script, errors) < 0)
		return MSTORE_E_INVAL;
	strbuf_init(&rec);
	hdr[0] = MSIEVE_REC_VERSION;
	ms_put_be32(hdr + 1, (uint32_t)len);
	strbuf_add(&rec, hdr, sizeof(hdr));
	strbuf_add(&rec, src, len);
	sieve_serialize(script, &rec);
	sieve_script_free(&script);
	c.name = name;
	c.rec = &rec;
	c.lim = lim;
	err = ms_txn(ms, "sieve_put", put_fn, &c, &c.err);
	strbuf_free(&rec);
	return err;
}

enum mstore_err msieve_havespace(struct mstore *ms, const char *user,
				 const char *name, uint64_t size,
				 const struct msieve_limits *lim)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	unsigned n;
	int exists, ret;
	enum mstore_err err;

	if (msieve_name_valid(name, strlen(name)) < 0)
		return MSTORE_E_BADNAME;
	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	if (size > lim->max_script_size)
		return MSTORE_E_OVERQUOTA;
	ret = count_scripts(c.scripts, NULL, u, name, &n, &exists);
	if (ret != 0)
		return MSTORE_E_TEMP;
	if (!exists && n >= lim->max_scripts)
		return MSTORE_E_LIMIT;
	return MSTORE_OK;
}

/* The active script's name of user in txn: *name_r allocated or NULL. */
static int active_get(DB *active, DB_TXN *txn, const char *user, char **name_r,
		      int rmw)
{
	void *v;
	size_t vl;
	int ret;

	*name_r = NULL;
	ret = ms_db_get(active, txn, user, strlen(user), &v, &vl,
			rmw && txn != NULL ? DB_RMW : 0);
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	*name_r = xstrndup(v, vl);
	free(v);
	return 0;
}

static int del_fn(DB_TXN *txn, void *arg)
{
	struct put_ctx *c = arg;
	struct strbuf k;
	void *v;
	char *act = NULL;
	int ret;

	if ((ret = active_get(c->active, txn, c->user, &act, 1)) != 0)
		return ret;
	if (act != NULL && strcmp(act, c->name) == 0) {
		free(act);
		return ms_fail(&c->err, MSTORE_E_CANNOT);
	}
	free(act);
	strbuf_init(&k);
	key_user_name(&k, c->user, c->name);
	/* ms_db_del() ignores a missing key: look first */
	ret = ms_db_get(c->scripts, txn, k.data, k.len, &v, NULL, DB_RMW);
	if (ret == 0) {
		free(v);
		ret = ms_db_del(c->scripts, txn, k.data, k.len);
	}
	strbuf_free(&k);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOTFOUND);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_SIEVE, c->user, 0, 0,
				    0);
	return ret;
}

enum mstore_err msieve_delete(struct mstore *ms, const char *user,
			      const char *name)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	enum mstore_err err;

	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	c.name = name;
	return ms_txn(ms, "sieve_delete", del_fn, &c, &c.err);
}

static int rename_fn(DB_TXN *txn, void *arg)
{
	struct put_ctx *c = arg;
	struct strbuf k, nk;
	void *v = NULL;
	size_t vl;
	char *act = NULL;
	int ret;

	strbuf_init(&k);
	strbuf_init(&nk);
	key_user_name(&k, c->user, c->name);
	key_user_name(&nk, c->user, c->newname);
	ret = ms_db_get(c->scripts, txn, k.data, k.len, &v, &vl, DB_RMW);
	if (ret == DB_NOTFOUND) {
		ret = ms_fail(&c->err, MSTORE_E_NOTFOUND);
		goto out;
	}
	if (ret != 0)
		goto out;
	if (strcmp(c->name, c->newname) != 0) {
		void *v2;

		ret = ms_db_get(c->scripts, txn, nk.data, nk.len, &v2, NULL,
				DB_RMW);
		if (ret == 0) {
			free(v2);
			ret = ms_fail(&c->err, MSTORE_E_EXISTS);
			goto out;
		}
		if (ret != DB_NOTFOUND)
			goto out;
	}
	ret = ms_db_del(c->scripts, txn, k.data, k.len);
	if (ret == 0)
		ret = ms_db_put(c->scripts, txn, nk.data, nk.len, v, vl);
	if (ret == 0)
		ret = active_get(c->active, txn, c->user, &act, 1);
	if (ret == 0 && act != NULL && strcmp(act, c->name) == 0)
		ret = ms_db_put(c->active, txn, c->user, strlen(c->user),
				c->newname, strlen(c->newname));
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_SIEVE, c->user, 0, 0,
				    0);
out:
	free(act);
	free(v);
	strbuf_free(&k);
	strbuf_free(&nk);
	return ret;
}

enum mstore_err msieve_rename(struct mstore *ms, const char *user,
			      const char *oldname, const char *newname)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	enum mstore_err err;

	if (msieve_name_valid(newname, strlen(newname)) < 0)
		return MSTORE_E_BADNAME;
	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	c.name = oldname;
	c.newname = newname;
	return ms_txn(ms, "sieve_rename", rename_fn, &c, &c.err);
}

static int activate_fn(DB_TXN *txn, void *arg)
{
	struct put_ctx *c = arg;
	struct strbuf k;
	void *v;
	int ret;

	if ((ret = user_check(c, txn)) != 0)
		return ret;
	if (c->name[0] == '\0') {
		char *act = NULL;

		if ((ret = active_get(c->active, txn, c->user, &act, 1)) != 0)
			return ret;
		if (act == NULL)
			return 0; /* nothing was active: nothing to log */
		free(act);
		ret = ms_db_del(c->active, txn, c->user, strlen(c->user));
	} else {
		strbuf_init(&k);
		key_user_name(&k, c->user, c->name);
		ret = ms_db_get(c->scripts, txn, k.data, k.len, &v, NULL, 0);
		strbuf_free(&k);
		if (ret == DB_NOTFOUND)
			return ms_fail(&c->err, MSTORE_E_NOTFOUND);
		if (ret != 0)
			return ret;
		free(v);
		ret = ms_db_put(c->active, txn, c->user, strlen(c->user),
				c->name, strlen(c->name));
	}
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_SIEVE, c->user, 0, 0,
				    0);
	return ret;
}

enum mstore_err msieve_activate(struct mstore *ms, const char *user,
				const char *name)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	enum mstore_err err;

	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	c.name = name;
	return ms_txn(ms, "sieve_activate", activate_fn, &c, &c.err);
}

/* Deletes every key of db that starts with prefix, in txn. */
static int del_prefix(DB *db, DB_TXN *txn, const struct strbuf *prefix,
		      unsigned *n_r)
{
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	int ret;

	ret = db->cursor(db, txn, &cur, 0);
	if (ret != 0)
		return ret;
	k.data = prefix->data;
	k.size = (u_int32_t)prefix->len;
	k.flags = DB_DBT_MALLOC;
	v.flags = DB_DBT_MALLOC | DB_DBT_PARTIAL;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE | DB_RMW);
	while (ret == 0) {
		int match = k.size >= prefix->len &&
			    memcmp(k.data, prefix->data, prefix->len) == 0;

		free(k.data);
		free(v.data);
		k.data = NULL;
		if (!match)
			break;
		if ((ret = cur->del(cur, 0)) != 0)
			break;
		(*n_r)++;
		ret = cur->get(cur, &k, &v, DB_NEXT | DB_RMW);
	}
	cur->close(cur);
	return ret == DB_NOTFOUND ? 0 : ret;
}

struct purge_ctx {
	struct put_ctx c;
	DB *vacation;
};

static int purge_fn(DB_TXN *txn, void *arg)
{
	struct purge_ctx *p = arg;
	struct strbuf prefix;
	unsigned n = 0;
	int ret;

	strbuf_init(&prefix);
	key_user_name(&prefix, p->c.user, NULL);
	ret = del_prefix(p->c.scripts, txn, &prefix, &n);
	if (ret == 0)
		ret = del_prefix(p->vacation, txn, &prefix, &n);
	if (ret == 0)
		ret = ms_db_del(p->c.active, txn, p->c.user, strlen(p->c.user));
	strbuf_free(&prefix);
	if (ret == 0 && n > 0)
		ret = ms_change_add(p->c.ms, txn, MSTORE_CH_SIEVE, p->c.user, 0,
				    0, 0);
	return ret;
}

enum mstore_err msieve_user_delete(struct mstore *ms, const char *user)
{
	struct purge_ctx p;
	char u[MSTORE_USER_MAX + 1];
	enum mstore_err err;

	if ((err = ctx_init(&p.c, ms, user, u)) != MSTORE_OK)
		return err;
	if ((p.vacation = msieve_table(ms, T_VACATION)) == NULL)
		return MSTORE_E_TEMP;
	return ms_txn(ms, "sieve_user_delete", purge_fn, &p, &p.c.err);
}

/* ---- reads -------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct msieve_entry *)a)->name,
		      ((const struct msieve_entry *)b)->name);
}

enum mstore_err msieve_list(struct mstore *ms, const char *user,
			    struct msieve_entry **list_r, size_t *n_r)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	struct strbuf prefix;
	struct msieve_entry *list = NULL;
	size_t n = 0;
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	char *act = NULL;
	enum mstore_err err;
	int ret;

	*list_r = NULL;
	*n_r = 0;
	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	if (ms_user_read(ms, NULL, u) == DB_NOTFOUND)
		return MSTORE_E_NOUSER;
	if (active_get(c.active, NULL, u, &act, 0) != 0)
		return MSTORE_E_TEMP;
	strbuf_init(&prefix);
	key_user_name(&prefix, u, NULL);
	ret = c.scripts->cursor(c.scripts, NULL, &cur, 0);
	k.data = prefix.data;
	k.size = (u_int32_t)prefix.len;
	k.flags = DB_DBT_MALLOC;
	v.flags = DB_DBT_MALLOC | DB_DBT_PARTIAL;
	if (ret == 0)
		ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0) {
		int match = k.size >= prefix.len &&
			    memcmp(k.data, prefix.data, prefix.len) == 0;

		if (match) {
			list = xrealloc(list, (n + 1) * sizeof(*list));
			list[n].name = xstrndup((char *)k.data + prefix.len,
						k.size - prefix.len);
			list[n].active =
			    act != NULL && strcmp(act, list[n].name) == 0;
			n++;
		}
		free(k.data);
		free(v.data);
		k.data = NULL;
		if (!match)
			break;
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	if (cur != NULL)
		cur->close(cur);
	strbuf_free(&prefix);
	free(act);
	if (ret != 0 && ret != DB_NOTFOUND) {
		msieve_list_free(&list, n);
		return MSTORE_E_TEMP;
	}
	if (n > 1)
		qsort(list, n, sizeof(*list), entry_cmp);
	*list_r = list;
	*n_r = n;
	return MSTORE_OK;
}

void msieve_list_free(struct msieve_entry **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*list)[i].name);
	free(*list);
	*list = NULL;
}

/* Reads the record of (user, name): *v_r allocated. */
static enum mstore_err rec_read(struct mstore *ms, const char *user,
				const char *name, void **v_r, size_t *vl_r)
{
	struct put_ctx c;
	char u[MSTORE_USER_MAX + 1];
	struct strbuf k;
	enum mstore_err err;
	int ret;

	if ((err = ctx_init(&c, ms, user, u)) != MSTORE_OK)
		return err;
	strbuf_init(&k);
	key_user_name(&k, u, name);
	ret = ms_db_get(c.scripts, NULL, k.data, k.len, v_r, vl_r, 0);
	strbuf_free(&k);
	if (ret == DB_NOTFOUND)
		return MSTORE_E_NOTFOUND;
	return ret == 0 ? MSTORE_OK : MSTORE_E_TEMP;
}

enum mstore_err msieve_get(struct mstore *ms, const char *user,
			   const char *name, char **src_r, size_t *len_r)
{
	void *v;
	size_t vl, sl, bl;
	const char *src;
	const void *bin;
	enum mstore_err err;

	*src_r = NULL;
	*len_r = 0;
	if ((err = rec_read(ms, user, name, &v, &vl)) != MSTORE_OK)
		return err;
	if (rec_split(v, vl, &src, &sl, &bin, &bl) < 0) {
		free(v);
		return MSTORE_E_TEMP;
	}
	*src_r = xstrndup(src, sl);
	*len_r = sl;
	free(v);
	return MSTORE_OK;
}

enum mstore_err msieve_load(struct mstore *ms, const char *user,
			    const char *name, struct sieve_script **script_r,
			    char **name_r)
{
	char u[MSTORE_USER_MAX + 1];
	char *act = NULL;
	void *v = NULL;
	size_t vl, sl, bl;
	const char *src;
	const void *bin;
	enum mstore_err err;
	DB *active;

	*script_r = NULL;
	if (name_r != NULL)
		*name_r = NULL;
	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	if (name == NULL) {
		if ((active = msieve_table(ms, T_ACTIVE)) == NULL ||
		    active_get(active, NULL, u, &act, 0) != 0)
			return MSTORE_E_TEMP;
		if (act == NULL)
			return MSTORE_E_NOTFOUND;
		name = act;
	}
	err = rec_read(ms, u, name, &v, &vl);
	if (err == MSTORE_OK && rec_split(v, vl, &src, &sl, &bin, &bl) < 0)
		err = MSTORE_E_TEMP;
	if (err == MSTORE_OK && sieve_deserialize(bin, bl, script_r) < 0) {
		log_warnx("event=sieve_compiled_form_bad user=%s script=%s "
			  "action=recompile",
			  u, name);
		if (sieve_compile(src, sl, NULL, script_r, NULL) < 0)
			err = MSTORE_E_TEMP;
	}
	free(v);
	if (err == MSTORE_OK && name_r != NULL)
		*name_r = xstrdup(name);
	free(act);
	return err;
}
