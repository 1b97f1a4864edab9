/*
 * mailstore_msg.c - messages of a mailbox: listing, records, the cached
 * MIME structure, opening files, keywords, flag changes with CONDSTORE,
 * expunge with tombstones, and COPY / MOVE by hard link.
 */
#include "mailstore_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "mime.h"

/* ---- listing ------------------------------------------------------------- */

/*
 * One cursor pass with bulk reads (DB_MULTIPLE_KEY): a 100,000-message
 * mailbox lists in a few tens of milliseconds.  What changed since a
 * modseq comes from the modseq index instead (mailstore_modseq.c).
 */
enum mstore_err mstore_msg_list(struct mstore *ms, uint32_t mbox,
				struct mstore_msg **msgs_r, size_t *n_r)
{
	const size_t bulk = 1024 * 1024;
	struct mstore_msg *out = NULL;
	size_t n = 0, cap = 0;
	uint8_t key[8];
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	u_int32_t op = DB_SET_RANGE;
	int ret, done = 0;

	*msgs_r = NULL;
	*n_r = 0;
	ret = ms->msgs->cursor(ms->msgs, NULL, &cur, 0);
	if (ret != 0)
		goto fail;
	ms_key_msg(key, mbox, 0);
	k.data = key;
	k.size = 8;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	v.data = xmalloc(bulk);
	v.ulen = (u_int32_t)bulk;
	v.flags = DB_DBT_USERMEM;
	while (!done &&
	       (ret = cur->get(cur, &k, &v, op | DB_MULTIPLE_KEY)) == 0) {
		void *p, *kd, *vd;
		u_int32_t kl, vl;

		op = DB_NEXT;
		DB_MULTIPLE_INIT(p, &v);
		for (;;) {
			struct mstore_msg m;

			DB_MULTIPLE_KEY_NEXT(p, &v, kd, kl, vd, vl);
			if (p == NULL)
				break;
			if (kl != 8 || ms_get_be32(kd) != mbox) {
				done = 1;
				break;
			}
			if (ms_msg_decode(vd, vl, &m) < 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				out = xrealloc(out, cap * sizeof(*out));
			}
			out[n++] = m;
		}
	}
	free(v.data);
	cur->close(cur);
	if (ret != 0 && ret != DB_NOTFOUND)
		goto fail;
	*msgs_r = out;
	*n_r = n;
	return MSTORE_OK;

fail:
	free(out);
	log_warnx("event=mstore_msg_list mailbox=%08x error=\"%s\"", mbox,
		  db_error(ret));
	return MSTORE_E_TEMP;
}

int ms_msg_read(struct mstore *ms, DB_TXN *txn, uint32_t mbox, uint32_t uid,
		int rmw, struct mstore_msg *m_r)
{
	uint8_t k[8];
	void *v;
	size_t vl;
	int ret;

	ms_key_msg(k, mbox, uid);
	ret = ms_db_get(ms->msgs, txn, k, 8, &v, &vl,
			rmw && txn != NULL ? DB_RMW : 0);
	if (ret != 0)
		return ret;
	ret = ms_msg_decode(v, vl, m_r);
	free(v);
	if (ret < 0) {
		log_warnx("event=mstore_bad_record table=msgs mailbox=%08x "
			  "uid=%u",
			  mbox, uid);
		return DB_NOTFOUND;
	}
	return 0;
}

int ms_msg_write(struct mstore *ms, DB_TXN *txn, uint32_t mbox,
		 const struct mstore_msg *m)
{
	uint8_t k[8], rec[MS_MSG_REC_LEN];

	ms_key_msg(k, mbox, m->uid);
	ms_msg_encode(m, rec);
	return ms_db_put(ms->msgs, txn, k, 8, rec, sizeof(rec));
}

enum mstore_err mstore_msg_get(struct mstore *ms, uint32_t mailbox_id,
			       uint32_t uid, struct mstore_msg *msg_r)
{
	int ret = ms_msg_read(ms, NULL, mailbox_id, uid, 0, msg_r);

	if (ret == 0)
		return MSTORE_OK;
	return ret == DB_NOTFOUND ? MSTORE_E_NOTFOUND : MSTORE_E_TEMP;
}

enum mstore_err mstore_msg_mime(struct mstore *ms, uint32_t mailbox_id,
				uint32_t uid, struct mime_message **mime_r)
{
	uint8_t k[8];
	void *v;
	size_t vl;
	int ret;

	*mime_r = NULL;
	ms_key_msg(k, mailbox_id, uid);
	ret = ms_db_get(ms->mime, NULL, k, 8, &v, &vl, 0);
	if (ret == DB_NOTFOUND)
		return MSTORE_E_NOTFOUND;
	if (ret != 0)
		return MSTORE_E_TEMP;
	ret = mime_deserialize(v, vl, mime_r);
	free(v);
	if (ret < 0) {
		log_warnx("event=mstore_bad_record table=mime mailbox=%08x "
			  "uid=%u hint=\"run rookery reconstruct\"",
			  mailbox_id, uid);
		return MSTORE_E_TEMP;
	}
	return MSTORE_OK;
}

#define MIME_BATCH 256

struct mime_blob {
	uint32_t uid;
	void *data;
	size_t len;
};

/* Up to MIME_BATCH records from (mbox, *next) on; *next moves past them. */
static int mime_batch(struct mstore *ms, uint32_t mbox, uint32_t *next,
		      uint32_t last, struct mime_blob *b, size_t *n_r,
		      int *end_r)
{
	uint8_t key[8];
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	size_t n = 0;
	int ret;

	*n_r = 0;
	*end_r = 0;
	ret = ms->mime->cursor(ms->mime, NULL, &cur, 0);
	if (ret != 0)
		return ret;
	ms_key_msg(key, mbox, *next);
	k.data = key;
	k.size = 8;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	v.flags = DB_DBT_MALLOC;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0) {
		uint32_t uid = ms_get_be32(key + 4);

		if (k.size != 8 || ms_get_be32(key) != mbox || uid > last) {
			free(v.data);
			*end_r = 1;
			break;
		}
		b[n].uid = uid;
		b[n].data = v.data;
		b[n].len = v.size;
		n++;
		v.data = NULL;
		if (uid == UINT32_MAX) {
			*end_r = 1;
			break;
		}
		*next = uid + 1;
		if (n == MIME_BATCH)
			break;
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	cur->close(cur);
	if (ret == DB_NOTFOUND) {
		*end_r = 1;
		ret = 0;
	}
	*n_r = n;
	return ret;
}

enum mstore_err mstore_msg_mime_each(struct mstore *ms, uint32_t mailbox_id,
				     uint32_t first_uid, uint32_t last_uid,
				     int (*cb)(void *arg, uint32_t uid,
					       const struct mime_message *mime),
				     void *arg)
{
	struct mime_blob *b = xcalloc(MIME_BATCH, sizeof(*b));
	uint32_t next = first_uid;
	enum mstore_err err = MSTORE_OK;
	int end = 0, stop = 0, ret;

	while (!end && !stop) {
		size_t n;

		ret = mime_batch(ms, mailbox_id, &next, last_uid, b, &n, &end);
		if (ret != 0) {
			log_warnx("event=mstore_mime_each mailbox=%08x "
				  "error=\"%s\"",
				  mailbox_id, db_error(ret));
			err = MSTORE_E_TEMP;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			struct mime_message *m = NULL;

			if (!stop &&
			    mime_deserialize(b[i].data, b[i].len, &m) == 0)
				stop = cb(arg, b[i].uid, m) != 0;
			else if (!stop)
				log_warnx("event=mstore_bad_record table=mime "
					  "mailbox=%08x uid=%u",
					  mailbox_id, b[i].uid);
			mime_message_free(&m);
			free(b[i].data);
		}
	}
	free(b);
	return err;
}

enum mstore_err mstore_msg_open(struct mstore *ms, uint32_t mailbox_id,
				uint32_t uid, int *fd_r)
{
	char *path = mstore_msg_path(ms, mailbox_id, uid);
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	*fd_r = fd;
	if (fd >= 0) {
		free(path);
		return MSTORE_OK;
	}
	if (errno == ENOENT) {
		free(path);
		return MSTORE_E_NOTFOUND;
	}
	log_warn("event=mstore_msg_open path=%s", path);
	free(path);
	return MSTORE_E_TEMP;
}

/* ---- keywords ----------------------------------------------------------- */

int ms_keywords_load(struct mstore *ms, DB_TXN *txn, uint32_t mbox,
		     char ***names_r, size_t *n_r)
{
	char **names = NULL;
	size_t n = 0, off = 0;
	uint8_t k[4];
	void *v;
	size_t vl;
	int ret;

	*names_r = NULL;
	*n_r = 0;
	ms_key_id(k, mbox);
	ret = ms_db_get(ms->keywords, txn, k, 4, &v, &vl,
			txn != NULL ? DB_RMW : 0);
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	while (off < vl && n < MSTORE_MAX_KEYWORDS) {
		size_t len = strnlen((char *)v + off, vl - off);

		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrndup((char *)v + off, len);
		off += len + 1;
	}
	free(v);
	*names_r = names;
	*n_r = n;
	return 0;
}

/* RFC 3501 flag-keyword = atom: no specials, no '\'. */
static int keyword_valid(const char *kw)
{
	size_t n = strlen(kw);

	if (n == 0 || n > MSTORE_KEYWORD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)kw[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return 0;
	}
	return 1;
}

int ms_keywords_map(struct mstore *ms, DB_TXN *txn, uint32_t mbox,
		    const char *const *kws, uint64_t *mask_r,
		    enum mstore_err *err)
{
	char **names;
	size_t n, n0;
	uint64_t mask = 0;
	int ret;

	*mask_r = 0;
	if (kws == NULL || kws[0] == NULL)
		return 0;
	ret = ms_keywords_load(ms, txn, mbox, &names, &n);
	if (ret != 0)
		return ret;
	n0 = n;
	for (size_t i = 0; kws[i] != NULL; i++) {
		size_t j;

		if (!keyword_valid(kws[i])) {
			mstore_strv_free(&names, n);
			return ms_fail(err, MSTORE_E_INVAL);
		}
		for (j = 0; j < n; j++)
			if (strcasecmp(names[j], kws[i]) == 0)
				break;
		if (j == n) {
			if (n == MSTORE_MAX_KEYWORDS) {
				mstore_strv_free(&names, n);
				return ms_fail(err, MSTORE_E_LIMIT);
			}
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(kws[i]);
		}
		mask |= (uint64_t)1 << j;
	}
	if (n != n0) {
		struct strbuf rec;
		uint8_t k[4];

		strbuf_init(&rec);
		for (size_t j = 0; j < n; j++)
			strbuf_add(&rec, names[j], strlen(names[j]) + 1);
		ms_key_id(k, mbox);
		ret = ms_db_put(ms->keywords, txn, k, 4, rec.data, rec.len);
		strbuf_free(&rec);
	}
	mstore_strv_free(&names, n);
	*mask_r = mask;
	return ret;
}

enum mstore_err mstore_keywords(struct mstore *ms, uint32_t mailbox_id,
				char ***names_r, size_t *n_r)
{
	return ms_keywords_load(ms, NULL, mailbox_id, names_r, n_r) == 0
		   ? MSTORE_OK
		   : MSTORE_E_TEMP;
}

/* ---- uid lists ----------------------------------------------------------- */

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A sorted copy without duplicates or zeros. */
uint32_t *ms_uids_sorted(const uint32_t *uids, size_t n, size_t *n_r)
{
	uint32_t *s = xmalloc((n ? n : 1) * sizeof(*s));
	size_t m = 0;

	if (n > 0)
		memcpy(s, uids, n * sizeof(*s));
	if (n > 1)
		qsort(s, n, sizeof(*s), u32_cmp);
	for (size_t i = 0; i < n; i++)
		if (s[i] != 0 && (m == 0 || s[m - 1] != s[i]))
			s[m++] = s[i];
	*n_r = m;
	return s;
}

/* ---- flags -------------------------------------------------------------- */

struct flags_ctx {
	struct mstore *ms;
	uint32_t mbox;
	const uint32_t *uids;
	size_t nuids;
	const struct mstore_flag_change *chg;
	struct mstore_msg *changed;
	size_t nchanged;
	uint32_t *failed;
	size_t nfailed;
	enum mstore_err err;
};

static int flags_fn(DB_TXN *txn, void *arg)
{
	struct flags_ctx *c = arg;
	struct mstore *ms = c->ms;
	struct mstore_mailbox mb;
	uint64_t kwmask = 0, modseq;
	int ret;

	c->nchanged = 0;
	c->nfailed = 0;
	ret = ms_mbox_read(ms, txn, c->mbox, 1, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	ret = ms_keywords_map(ms, txn, c->mbox, c->chg->keywords, &kwmask,
			      &c->err);
	modseq = mb.highestmodseq + 1;
	for (size_t i = 0; i < c->nuids && ret == 0; i++) {
		struct mstore_msg m, old;
		uint32_t fl = c->chg->flags & MSTORE_F_ALL;

		ret = ms_msg_read(ms, txn, c->mbox, c->uids[i], 1, &m);
		if (ret == DB_NOTFOUND) {
			ret = 0;
			continue;
		}
		if (ret != 0)
			break;
		if (c->chg->unchangedsince != 0 &&
		    m.modseq > c->chg->unchangedsince) {
			c->failed[c->nfailed++] = m.uid;
			continue;
		}
		old = m;
		switch (c->chg->op) {
		case MSTORE_FLAGS_ADD:
			m.flags |= fl;
			m.keywords |= kwmask;
			break;
		case MSTORE_FLAGS_REMOVE:
			m.flags &= ~fl;
			m.keywords &= ~kwmask;
			break;
		case MSTORE_FLAGS_REPLACE:
			m.flags = fl;
			m.keywords = kwmask;
			break;
		}
		if (m.flags == old.flags && m.keywords == old.keywords)
			continue;
		m.modseq = modseq;
		ms_mbox_count_add(&mb, &old, -1);
		ms_mbox_count_add(&mb, &m, 1);
		ret = ms_msg_write(ms, txn, c->mbox, &m);
		if (ret == 0)
			ret = ms_change_add(ms, txn, MSTORE_CH_FLAGS, mb.owner,
					    c->mbox, m.uid, modseq);
		c->changed[c->nchanged++] = m;
	}
	if (ret == 0 && c->nchanged > 0) {
		mb.highestmodseq = modseq;
		ret = ms_mbox_write(ms, txn, &mb);
	}
	mstore_mailbox_clear(&mb);
	return ret;
}

enum mstore_err mstore_flags_store(struct mstore *ms, uint32_t mailbox_id,
				   const uint32_t *uids, size_t nuids,
				   const struct mstore_flag_change *chg,
				   struct mstore_msg **changed_r,
				   size_t *nchanged_r, uint32_t **failed_r,
				   size_t *nfailed_r)
{
	struct flags_ctx c = {.ms = ms, .mbox = mailbox_id, .chg = chg};
	uint32_t *sorted;
	enum mstore_err err;

	sorted = ms_uids_sorted(uids, nuids, &c.nuids);
	c.uids = sorted;
	c.changed = xmalloc((c.nuids ? c.nuids : 1) * sizeof(*c.changed));
	c.failed = xmalloc((c.nuids ? c.nuids : 1) * sizeof(*c.failed));
	err = ms_txn(ms, "flags_store", flags_fn, &c, &c.err);
	free(sorted);
	if (err != MSTORE_OK) {
		c.nchanged = c.nfailed = 0;
	}
	if (changed_r != NULL) {
		*changed_r = c.changed;
		*nchanged_r = c.nchanged;
	} else {
		free(c.changed);
	}
	if (failed_r != NULL) {
		*failed_r = c.failed;
		*nfailed_r = c.nfailed;
	} else {
		free(c.failed);
	}
	return err;
}

/* ---- expunge ------------------------------------------------------------ */

/* Removes one message inside txn: record, MIME, tombstone, counters,
 * change row, file after the commit.  *m is the record. */
int ms_msg_remove(struct mstore *ms, DB_TXN *txn, struct mstore_mailbox *mb,
		  const struct mstore_msg *m, uint64_t modseq)
{
	uint8_t k[8], t[8];
	char *path;
	int ret;

	ms_key_msg(k, mb->id, m->uid);
	ret = ms_db_del(ms->msgs, txn, k, 8);
	if (ret == 0)
		ret = ms_db_del(ms->mime, txn, k, 8);
	ms_put_be64(t, modseq);
	if (ret == 0)
		ret = ms_db_put(ms->tombs, txn, k, 8, t, 8);
	if (ret == 0)
		ret = ms_change_add(ms, txn, MSTORE_CH_EXPUNGE, mb->owner,
				    mb->id, m->uid, modseq);
	if (ret != 0)
		return ret;
	ms_mbox_count_add(mb, m, -1);
	path = mstore_msg_path(ms, mb->id, m->uid);
	ms_post_add(&ms->post_unlink, path);
	free(path);
	return 0;
}

struct expunge_ctx {
	struct mstore *ms;
	uint32_t mbox;
	const uint32_t *uids;
	size_t nuids;
	uint32_t *done;
	size_t ndone;
	enum mstore_err err;
};

static int expunge_fn(DB_TXN *txn, void *arg)
{
	struct expunge_ctx *c = arg;
	struct mstore *ms = c->ms;
	struct mstore_mailbox mb;
	uint64_t modseq, bytes = 0;
	int ret;

	c->ndone = 0;
	ret = ms_mbox_read(ms, txn, c->mbox, 1, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	modseq = mb.highestmodseq + 1;
	for (size_t i = 0; i < c->nuids && ret == 0; i++) {
		struct mstore_msg m;

		ret = ms_msg_read(ms, txn, c->mbox, c->uids[i], 1, &m);
		if (ret == DB_NOTFOUND) {
			ret = 0;
			continue;
		}
		if (ret == 0)
			ret = ms_msg_remove(ms, txn, &mb, &m, modseq);
		if (ret == 0) {
			bytes += m.size;
			c->done[c->ndone++] = m.uid;
		}
	}
	if (ret == 0 && c->ndone > 0) {
		mb.highestmodseq = modseq;
		ret = ms_mbox_write(ms, txn, &mb);
		if (ret == 0)
			ret = ms_quota_add(ms, txn, mb.owner, -(int64_t)bytes,
					   -(int64_t)c->ndone);
	}
	mstore_mailbox_clear(&mb);
	return ret;
}

/* Bigger expunges run as several transactions (lock table limits). */
#define MS_EXPUNGE_CHUNK 2000

enum mstore_err mstore_expunge(struct mstore *ms, uint32_t mailbox_id,
			       const uint32_t *uids, size_t nuids,
			       uint32_t **expunged_r, size_t *nexpunged_r)
{
	struct expunge_ctx c = {.ms = ms, .mbox = mailbox_id};
	uint32_t *sorted, *done;
	size_t total, ndone = 0;
	enum mstore_err err = MSTORE_OK;

	sorted = ms_uids_sorted(uids, nuids, &total);
	done = xmalloc((total ? total : 1) * sizeof(*done));
	for (size_t off = 0; off < total || off == 0; off += MS_EXPUNGE_CHUNK) {
		c.uids = sorted + off;
		c.nuids = total - off < MS_EXPUNGE_CHUNK ? total - off
							 : MS_EXPUNGE_CHUNK;
		c.done = done + ndone;
		c.ndone = 0;
		err = ms_txn(ms, "expunge", expunge_fn, &c, &c.err);
		if (err != MSTORE_OK)
			break;
		ndone += c.ndone;
		if (total == 0)
			break;
	}
	free(sorted);
	if (expunged_r != NULL) {
		*expunged_r = done;
		*nexpunged_r = ndone;
	} else {
		free(done);
	}
	return err;
}
