/*
 * mailstore_vacation.c - vacation tracking (RFC 5230 section 4.2) in the
 * store's Berkeley DB environment (mailstore_sieve.h):
 *
 *   vacation.db   user NUL sender NUL handle -> expiry (BE64 unix time)
 *
 * A new record writes an MSTORE_CH_VACATION change-log row in the same
 * transaction.  msieve_user_delete() (mailstore_sieve.c) removes a user's
 * records.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store/mailstore_int.h"
#include "store/mailstore_sieve.h"
#include "strbuf.h"

/* ---- vacation ------------------------------------------------------------ */

struct vac_ctx {
	struct mstore *ms;
	DB *db;
	const char *user;
	const struct strbuf *key;
	uint64_t expiry;
	time_t now;
	int reply;
	enum mstore_err err;
};

static int vac_fn(DB_TXN *txn, void *arg)
{
	struct vac_ctx *c = arg;
	void *v;
	size_t vl;
	uint8_t b[8];
	int ret;

	c->reply = 0;
	ret = ms_db_get(c->db, txn, c->key->data, c->key->len, &v, &vl, DB_RMW);
	if (ret == 0) {
		uint64_t exp = vl == 8 ? ms_get_be64(v) : 0;

		free(v);
		if (exp > (uint64_t)c->now)
			return 0;
	} else if (ret != DB_NOTFOUND) {
		return ret;
	}
	ms_put_be64(b, c->expiry);
	ret = ms_db_put(c->db, txn, c->key->data, c->key->len, b, 8);
	if (ret == 0)
		ret = ms_change_add(c->ms, txn, MSTORE_CH_VACATION, c->user, 0,
				    0, 0);
	if (ret == 0)
		c->reply = 1;
	return ret;
}

int msieve_vacation_note(struct mstore *ms, const char *user,
			 const char *sender, const char *handle,
			 uint64_t seconds, time_t now)
{
	struct vac_ctx c = {.ms = ms, .now = now};
	char u[MSTORE_USER_MAX + 1];
	struct strbuf k;
	enum mstore_err e;
	char *err = NULL;

	if (ms_user_norm(user, u) < 0)
		return -1;
	if (db_table_open(ms->env, "vacation.db", DB_BTREE, 0, &c.db, &err) <
	    0) {
		log_warnx("event=sieve_table_open_failed table=vacation.db "
			  "error=\"%s\"",
			  err);
		free(err);
		return -1;
	}
	strbuf_init(&k);
	strbuf_adds(&k, u);
	strbuf_addc(&k, '\0');
	/* Senders compare case-insensitively in practice: lower-case. */
	for (const char *p = sender; *p != '\0'; p++)
		strbuf_addc(&k, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
	strbuf_addc(&k, '\0');
	strbuf_adds(&k, handle);
	c.user = u;
	c.key = &k;
	c.expiry = (uint64_t)now + seconds;
	e = ms_txn(ms, "vacation_note", vac_fn, &c, &c.err);
	strbuf_free(&k);
	if (e != MSTORE_OK)
		return -1;
	return c.reply;
}
