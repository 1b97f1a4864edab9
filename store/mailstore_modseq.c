/*
 * mailstore_modseq.c - "what changed in this mailbox since modseq M".
 *
 * Every IMAP session with a mailbox selected asks this after each change
 * to it (IDLE, NOOP, the sync before a tagged reply), and CONDSTORE /
 * QRESYNC clients ask it at SELECT.  Answering from msgs.db alone means
 * reading every record of the mailbox each time; with a few sessions on a
 * busy mailbox that scan was most of the store's CPU.
 *
 * Two secondary B-trees answer it instead, keyed (mailbox, modseq, uid)
 * in big-endian so one range read from (mailbox, M + 1) walks exactly the
 * changed rows:
 *
 *   msgs_bymod.db   over msgs.db   (live messages, by their modseq)
 *   tombs_bymod.db  over tombs.db  (expunged uids, by expunge modseq)
 *
 * Berkeley DB keeps them itself (DB->associate): every put or delete of a
 * primary record updates the index inside the same transaction, so the
 * index can never disagree with the records, even across a crash.  Stores
 * made before the indexes existed get them built at the first open
 * (associate with DB_CREATE fills an empty secondary).
 */
#include "mailstore_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

#define MODKEY_LEN 16 /* mailbox be32, modseq be64, uid be32 */

static int modkey(DBT *result, uint32_t mbox, uint64_t modseq, uint32_t uid)
{
	uint8_t *k = malloc(MODKEY_LEN);

	if (k == NULL)
		return ENOMEM;
	ms_put_be32(k, mbox);
	ms_put_be64(k + 4, modseq);
	ms_put_be32(k + 12, uid);
	memset(result, 0, sizeof(*result));
	result->data = k;
	result->size = MODKEY_LEN;
	result->flags = DB_DBT_APPMALLOC; /* Berkeley DB frees it */
	return 0;
}

/* msgs.db: key (mailbox, uid), value the message record. */
static int msgs_modkey(DB *sec, const DBT *key, const DBT *data, DBT *result)
{
	uint64_t modseq;

	(void)sec;
	if (key->size != 8 || ms_msg_peek_modseq(data->data, data->size,
						 &modseq) < 0)
		return DB_DONOTINDEX;
	return modkey(result, ms_get_be32(key->data), modseq,
		      ms_get_be32((const uint8_t *)key->data + 4));
}

/* tombs.db: key (mailbox, uid), value the expunge's modseq. */
static int tombs_modkey(DB *sec, const DBT *key, const DBT *data, DBT *result)
{
	(void)sec;
	if (key->size != 8 || data->size != 8)
		return DB_DONOTINDEX;
	return modkey(result, ms_get_be32(key->data), ms_get_be64(data->data),
		      ms_get_be32((const uint8_t *)key->data + 4));
}

static int associate(struct db_env *env, DB *primary, const char *name,
		     int (*fn)(DB *, const DBT *, const DBT *, DBT *),
		     DB **sec_r, char **err_r)
{
	int ret;

	if (db_table_open(env, name, DB_BTREE, 0, sec_r, err_r) < 0)
		return -1;
	/* DB_CREATE: an empty index (a store from before it existed) is
	 * filled from the primary now, in one transaction. */
	ret = primary->associate(primary, NULL, *sec_r, fn,
				 DB_CREATE | DB_AUTO_COMMIT);
	if (ret != 0) {
		*err_r = xasprintf("database %s: associate: %s", name,
				   db_strerror(ret));
		return -1;
	}
	return 0;
}

int ms_modseq_open(struct mstore *ms, char **err_r)
{
	if (associate(ms->env, ms->msgs, "msgs_bymod.db", msgs_modkey,
		      &ms->msgs_bymod, err_r) < 0 ||
	    associate(ms->env, ms->tombs, "tombs_bymod.db", tombs_modkey,
		      &ms->tombs_bymod, err_r) < 0)
		return -1;
	return 0;
}

/*
 * Walks the index from (mbox, since + 1); fn gets each row's uid and the
 * primary record.  Rows come in modseq order.
 */
static int modseq_walk(DB *idx, uint32_t mbox, uint64_t since,
		       void (*fn)(void *, uint32_t, const void *, size_t),
		       void *arg)
{
	uint8_t key[MODKEY_LEN], val[256];
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	int ret;

	ret = idx->cursor(idx, NULL, &cur, 0);
	if (ret != 0)
		return ret;
	ms_put_be32(key, mbox);
	ms_put_be64(key + 4, since == UINT64_MAX ? since : since + 1);
	ms_put_be32(key + 12, 0);
	k.data = key;
	k.size = MODKEY_LEN;
	k.ulen = MODKEY_LEN;
	k.flags = DB_DBT_USERMEM;
	v.data = val;
	v.ulen = sizeof(val);
	v.flags = DB_DBT_USERMEM;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0 && k.size == MODKEY_LEN && ms_get_be32(key) == mbox) {
		if (since == UINT64_MAX)
			break;
		fn(arg, ms_get_be32(key + 12), val, v.size);
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	cur->close(cur);
	return ret == DB_NOTFOUND || ret == 0 ? 0 : ret;
}

static int by_uid(const void *a, const void *b)
{
	const struct mstore_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

struct msg_acc {
	struct mstore_msg *out;
	size_t n, cap;
};

static void msg_add(void *arg, uint32_t uid, const void *rec, size_t len)
{
	struct msg_acc *a = arg;
	struct mstore_msg m;

	if (ms_msg_decode(rec, len, &m) < 0 || m.uid != uid)
		return;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->out = xrealloc(a->out, a->cap * sizeof(*a->out));
	}
	a->out[a->n++] = m;
}

enum mstore_err mstore_msg_list_changed(struct mstore *ms, uint32_t mailbox_id,
					uint64_t since,
					struct mstore_msg **msgs_r, size_t *n_r)
{
	struct msg_acc a = {0};
	int ret;

	*msgs_r = NULL;
	*n_r = 0;
	ret = modseq_walk(ms->msgs_bymod, mailbox_id, since, msg_add, &a);
	if (ret != 0) {
		free(a.out);
		log_warnx("event=mstore_changed mailbox=%08x error=\"%s\"",
			  mailbox_id, db_error(ret));
		return MSTORE_E_TEMP;
	}
	/* callers number new messages in uid order */
	if (a.n > 1)
		qsort(a.out, a.n, sizeof(*a.out), by_uid);
	*msgs_r = a.out;
	*n_r = a.n;
	return MSTORE_OK;
}

struct uid_acc {
	uint32_t *out;
	size_t n, cap;
};

static void uid_add(void *arg, uint32_t uid, const void *rec, size_t len)
{
	struct uid_acc *a = arg;

	(void)rec;
	(void)len;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->out = xrealloc(a->out, a->cap * sizeof(*a->out));
	}
	a->out[a->n++] = uid;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

enum mstore_err mstore_tombstones(struct mstore *ms, uint32_t mailbox_id,
				  uint64_t since, uint32_t **uids_r,
				  size_t *n_r)
{
	struct uid_acc a = {0};
	int ret;

	*uids_r = NULL;
	*n_r = 0;
	ret = modseq_walk(ms->tombs_bymod, mailbox_id, since, uid_add, &a);
	if (ret != 0) {
		free(a.out);
		log_warnx("event=mstore_tombstones mailbox=%08x error=\"%s\"",
			  mailbox_id, db_error(ret));
		return MSTORE_E_TEMP;
	}
	if (a.n > 1)
		qsort(a.out, a.n, sizeof(*a.out), u32_cmp);
	*uids_r = a.out;
	*n_r = a.n;
	return MSTORE_OK;
}
