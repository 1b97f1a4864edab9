/*
 * mailstore_append.c - the append path shared by LMTP, IMAP APPEND and
 * Sieve: spool files in tmp/, and delivery of a spool to many targets.
 *
 * Durability (DESIGN.md, Storage).  A delivery
 *   1. parses the MIME structure once (the spool is mmapped),
 *   2. fsyncs the spool file on a worker thread (so concurrent deliveries
 *      overlap their fsyncs instead of queueing on the loop),
 *   3. back on the loop thread, per target, in one transaction: quota,
 *      UIDNEXT, link() of the spool as mail/<id>/<uid>, records, modseq,
 *      counts, quota usage and the change-log row (NOSYNC commit),
 *   4. asks db_durable_wait() to fsync the new links' directories and
 *      force the log (one flush for every delivery waiting: group commit),
 *   5. calls back.  Only then is a target acknowledged.
 * MULTIAPPEND (RFC 3502) runs the same steps with spool i going to target
 * i, every target in one transaction: all are appended or none.
 * The file's data is on disk before its index record can be; a crash
 * before step 4 completes leaves either nothing, or a file with a UID >=
 * UIDNEXT (removed at start-up), or a record that was never acknowledged.
 */
#include "mailstore_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db.h"
#include "log.h"
#include "mime.h"
#include "net.h"

#define MS_SPOOL_BUF (64 * 1024)

struct mstore_spool {
	struct mstore *ms;
	char *path;
	int fd;
	char *buf;
	size_t blen;
	EVP_MD_CTX *sha;
	uint64_t size;
	char guid[65];
	int finished, fsynced, failed, busy;
	void *map;
	size_t maplen;
	struct mime_message *mime;
	struct strbuf mimeblob;
	int mime_done;
};

/* ---- spool ------------------------------------------------------------- */

enum mstore_err mstore_spool_new(struct mstore *ms, struct mstore_spool **sp_r)
{
	struct mstore_spool *sp = xcalloc(1, sizeof(*sp));
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	sp->ms = ms;
	sp->path = xasprintf("%s/%lld.%ld.%d.%llu", ms->tmp_dir,
			     (long long)ts.tv_sec, ts.tv_nsec, (int)getpid(),
			     (unsigned long long)++ms->spool_counter);
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		log_warn("event=mstore_spool_create path=%s", sp->path);
		free(sp->path);
		free(sp);
		*sp_r = NULL;
		return MSTORE_E_TEMP;
	}
	sp->buf = xmalloc(MS_SPOOL_BUF);
	sp->sha = EVP_MD_CTX_new();
	if (sp->sha == NULL ||
	    EVP_DigestInit_ex(sp->sha, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex(sha256) failed");
	strbuf_init(&sp->mimeblob);
	*sp_r = sp;
	return MSTORE_OK;
}

static int spool_flush(struct mstore_spool *sp)
{
	size_t off = 0;

	while (off < sp->blen) {
		ssize_t w = write(sp->fd, sp->buf + off, sp->blen - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_warn("event=mstore_spool_write path=%s", sp->path);
			sp->failed = 1;
			return -1;
		}
		off += (size_t)w;
	}
	sp->blen = 0;
	return 0;
}

enum mstore_err mstore_spool_write(struct mstore_spool *sp, const void *data,
				   size_t len)
{
	const char *p = data;

	if (sp->finished)
		return MSTORE_E_INVAL;
	if (sp->failed)
		return MSTORE_E_TEMP;
	EVP_DigestUpdate(sp->sha, data, len);
	sp->size += len;
	while (len > 0) {
		size_t room = MS_SPOOL_BUF - sp->blen;
		size_t n = len < room ? len : room;

		memcpy(sp->buf + sp->blen, p, n);
		sp->blen += n;
		p += n;
		len -= n;
		if (sp->blen == MS_SPOOL_BUF && spool_flush(sp) < 0)
			return MSTORE_E_TEMP;
	}
	return MSTORE_OK;
}

enum mstore_err mstore_spool_finish(struct mstore_spool *sp)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (sp->finished)
		return MSTORE_OK;
	if (sp->failed || spool_flush(sp) < 0)
		return MSTORE_E_TEMP;
	EVP_DigestFinal_ex(sp->sha, md, &mdlen);
	for (unsigned i = 0; i < 32; i++) {
		sp->guid[2 * i] = hex[md[i] >> 4];
		sp->guid[2 * i + 1] = hex[md[i] & 15];
	}
	sp->guid[64] = '\0';
	free(sp->buf);
	sp->buf = NULL;
	sp->finished = 1;
	return MSTORE_OK;
}

uint64_t mstore_spool_size(const struct mstore_spool *sp)
{
	return sp->size;
}

const char *mstore_spool_guid(const struct mstore_spool *sp)
{
	return sp->finished ? sp->guid : "";
}

enum mstore_err mstore_spool_data(struct mstore_spool *sp, const char **data_r,
				  size_t *len_r)
{
	if (!sp->finished)
		return MSTORE_E_INVAL;
	if (sp->map == NULL && sp->size > 0) {
		void *m = mmap(NULL, (size_t)sp->size, PROT_READ, MAP_SHARED,
			       sp->fd, 0);

		if (m == MAP_FAILED) {
			log_warn("event=mstore_spool_mmap path=%s", sp->path);
			return MSTORE_E_TEMP;
		}
		sp->map = m;
		sp->maplen = (size_t)sp->size;
	}
	*data_r = sp->map != NULL ? sp->map : "";
	*len_r = sp->maplen;
	return MSTORE_OK;
}

enum mstore_err mstore_spool_mime(struct mstore_spool *sp,
				  const struct mime_message **mime_r)
{
	const char *data;
	size_t len;
	enum mstore_err err;

	*mime_r = NULL;
	if (!sp->mime_done) {
		err = mstore_spool_data(sp, &data, &len);
		if (err != MSTORE_OK)
			return err;
		if (mime_parse(data, len, &sp->mime) < 0)
			sp->mime = NULL; /* too big: no structure */
		if (sp->mime != NULL)
			mime_serialize(sp->mime, &sp->mimeblob);
		sp->mime_done = 1;
	}
	*mime_r = sp->mime;
	return sp->mime != NULL ? MSTORE_OK : MSTORE_E_LIMIT;
}

void mstore_spool_free(struct mstore_spool **spp)
{
	struct mstore_spool *sp = *spp;

	if (sp == NULL)
		return;
	*spp = NULL;
	if (sp->busy)
		log_warnx("event=mstore_spool_free_busy path=%s", sp->path);
	if (sp->map != NULL)
		munmap(sp->map, sp->maplen);
	mime_message_free(&sp->mime);
	strbuf_free(&sp->mimeblob);
	if (sp->fd >= 0)
		close(sp->fd);
	if (unlink(sp->path) < 0 && errno != ENOENT)
		log_warn("event=mstore_spool_unlink path=%s", sp->path);
	EVP_MD_CTX_free(sp->sha);
	free(sp->buf);
	free(sp->path);
	free(sp);
}

/* ---- one target, one transaction -------------------------------------- */

struct tgt_ctx {
	struct mstore *ms;
	struct mstore_spool *sp;
	struct mstore_target *t;
	const char *user; /* normalised */
	const char *name; /* normalised or NULL */
	char *linked;	  /* path linked by the current attempt */
	uint32_t mbox;	  /* the mailbox delivered to */
	enum mstore_err err;
};

static int tgt_resolve(struct tgt_ctx *c, DB_TXN *txn, uint32_t *id_r)
{
	struct mstore_target *t = c->t;
	int ret;

	if (c->name == NULL && t->mailbox_id != 0) {
		*id_r = t->mailbox_id;
		return 0;
	}
	ret = ms_mbox_lookup(c->ms, txn, c->user, c->name ? c->name : "INBOX",
			     id_r);
	if (ret == DB_NOTFOUND && c->name != NULL && t->fallback_inbox)
		ret = ms_mbox_lookup(c->ms, txn, c->user, "INBOX", id_r);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	return ret;
}

/* One target inside txn; the spool is c->sp. */
static int tgt_apply(struct tgt_ctx *c, DB_TXN *txn)
{
	struct mstore *ms = c->ms;
	struct mstore_target *t = c->t;
	struct mstore_mailbox mb = {0};
	struct mstore_quota q;
	struct mstore_msg m = {0};
	uint8_t k[8];
	uint32_t id;
	char *dir;
	int ret;

	if (c->linked != NULL) {
		unlink(c->linked);
		free(c->linked);
		c->linked = NULL;
	}
	ret = ms_user_read(ms, txn, c->user);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOUSER);
	if (ret == 0)
		ret = tgt_resolve(c, txn, &id);
	if (ret != 0)
		return ret;
	ret = ms_mbox_read(ms, txn, id, 1, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	ret = ms_quota_read(ms, txn, mb.owner, &q);
	if (ret == DB_NOTFOUND) {
		memset(&q, 0, sizeof(q));
		ret = 0;
	}
	if (ret == 0 &&
	    ((q.bytes_limit != 0 &&
	      q.bytes_used + c->sp->size > q.bytes_limit) ||
	     (q.messages_limit != 0 && q.messages_used + 1 > q.messages_limit)))
		ret = ms_fail(&c->err, MSTORE_E_OVERQUOTA);
	if (ret == 0)
		ret = ms_keywords_map(ms, txn, id, t->keywords, &m.keywords,
				      &c->err);
	if (ret == 0 && mb.uidnext == UINT32_MAX)
		ret = ms_fail(&c->err, MSTORE_E_LIMIT);
	if (ret != 0)
		goto out;

	if (mb.uidnext % MS_UID_RESERVE == 0)
		ms_meta_file_write(ms, &mb);
	m.uid = mb.uidnext++;
	m.flags = t->flags & MSTORE_F_ALL;
	m.modseq = ++mb.highestmodseq;
	m.size = c->sp->size;
	m.internaldate =
	    t->internaldate ? t->internaldate : (int64_t)time(NULL);
	m.tz_offset = t->tz_offset;
	memcpy(m.guid, c->sp->guid, sizeof(m.guid));
	if (ms_link(ms, c->sp->path, id, m.uid, &c->linked) < 0) {
		ret = ms_fail(&c->err, MSTORE_E_TEMP);
		goto out;
	}
	ms_mbox_count_add(&mb, &m, 1);
	q.bytes_used += m.size;
	q.messages_used++;
	ms_key_msg(k, id, m.uid);
	if ((ret = ms_msg_write(ms, txn, id, &m)) != 0 ||
	    (c->sp->mimeblob.len > 0 &&
	     (ret = ms_db_put(ms->mime, txn, k, 8, c->sp->mimeblob.data,
			      c->sp->mimeblob.len)) != 0) ||
	    (ret = ms_mbox_write(ms, txn, &mb)) != 0 ||
	    (ret = ms_quota_write(ms, txn, mb.owner, &q)) != 0 ||
	    (ret = ms_change_add(ms, txn, MSTORE_CH_APPEND, mb.owner, id, m.uid,
				 m.modseq)) != 0)
		goto out;
	dir = ms_mbox_dir(ms, id);
	ms_post_add(&ms->post_dirs, dir);
	free(dir);
	c->mbox = id;
	t->result_mailbox_id = id;
	t->result_uidvalidity = mb.uidvalidity;
	t->result_uid = m.uid;
out:
	mstore_mailbox_clear(&mb);
	return ret;
}

static int tgt_fn(DB_TXN *txn, void *arg)
{
	return tgt_apply(arg, txn);
}

/* Normalises a target's user and mailbox into c; 0, or -1 with
 * t->result set. */
static int tgt_init(struct tgt_ctx *c, struct mstore *ms,
		    struct mstore_spool *sp, struct mstore_target *t,
		    char u[MSTORE_USER_MAX + 1], struct strbuf *name)
{
	memset(c, 0, sizeof(*c));
	c->ms = ms;
	c->sp = sp;
	c->t = t;
	t->result_uid = 0;
	t->result_mailbox_id = 0;
	t->result_uidvalidity = 0;
	if (ms_user_norm(t->user, u) < 0) {
		t->result = MSTORE_E_NOUSER;
		return -1;
	}
	c->user = u;
	if (t->mailbox != NULL) {
		if (ms_mbox_norm(t->mailbox, name) == 0)
			c->name = name->data;
		else if (!t->fallback_inbox) {
			t->result = MSTORE_E_NOMAILBOX;
			return -1;
		}
	}
	return 0;
}

/* Remembers a mailbox directory for the durable wait (not from
 * ms->post_dirs: a change hook may have run another transaction). */
static void deliver_add_dir(struct ms_delivery *d, uint32_t mbox)
{
	char *dir = ms_mbox_dir(d->ms, mbox);
	size_t off;

	for (off = 0; off < d->dirs.len; off += strlen(d->dirs.data + off) + 1)
		if (strcmp(d->dirs.data + off, dir) == 0)
			break;
	if (off >= d->dirs.len)
		ms_post_add(&d->dirs, dir);
	free(dir);
}

static void deliver_target(struct ms_delivery *d, struct mstore_target *t)
{
	char u[MSTORE_USER_MAX + 1];
	struct tgt_ctx c;
	struct strbuf name;
	enum mstore_err err;

	strbuf_init(&name);
	if (tgt_init(&c, d->ms, d->sps[0], t, u, &name) == 0) {
		err = ms_txn(d->ms, "deliver", tgt_fn, &c, &c.err);
		if (err != MSTORE_OK && c.linked != NULL)
			unlink(c.linked);
		free(c.linked);
		t->result = err;
		if (err == MSTORE_OK)
			deliver_add_dir(d, c.mbox);
	}
	strbuf_free(&name);
}

/* ---- MULTIAPPEND: all targets in one transaction ----------------------- */

struct multi_ctx {
	struct tgt_ctx *c;
	size_t n;
	enum mstore_err err;
	size_t failed; /* index of the target that failed */
};

static int multi_fn(DB_TXN *txn, void *arg)
{
	struct multi_ctx *mc = arg;
	int ret = 0;

	for (size_t i = 0; i < mc->n; i++) {
		mc->c[i].err = MSTORE_OK;
		ret = tgt_apply(&mc->c[i], txn);
		if (ret != 0) {
			mc->failed = i;
			if (mc->c[i].err != MSTORE_OK)
				mc->err = mc->c[i].err;
			break;
		}
	}
	return ret;
}

static void deliver_multi(struct ms_delivery *d)
{
	struct multi_ctx mc = {.n = d->n};
	char(*users)[MSTORE_USER_MAX + 1];
	struct strbuf *names;
	enum mstore_err err = MSTORE_OK;
	size_t i;

	mc.c = xcalloc(d->n, sizeof(*mc.c));
	users = xcalloc(d->n, sizeof(*users));
	names = xcalloc(d->n, sizeof(*names));
	for (i = 0; i < d->n; i++)
		strbuf_init(&names[i]);
	for (i = 0; i < d->n && err == MSTORE_OK; i++)
		if (tgt_init(&mc.c[i], d->ms, d->sps[i], &d->t[i], users[i],
			     &names[i]) < 0)
			err = d->t[i].result;
	if (err == MSTORE_OK)
		err = ms_txn(d->ms, "multiappend", multi_fn, &mc, &mc.err);
	for (i = 0; i < d->n; i++) {
		if (err != MSTORE_OK && mc.c[i].linked != NULL)
			unlink(mc.c[i].linked);
		free(mc.c[i].linked);
		/* all or nothing (RFC 3502) */
		d->t[i].result = err;
		if (err != MSTORE_OK) {
			d->t[i].result_uid = 0;
			d->t[i].result_mailbox_id = 0;
		} else {
			deliver_add_dir(d, mc.c[i].mbox);
		}
		strbuf_free(&names[i]);
	}
	free(names);
	free(users);
	free(mc.c);
}

/* ---- the delivery ----------------------------------------------------- */

static void deliver_free(struct ms_delivery *d)
{
	free(d->rows);
	strbuf_free(&d->dirs);
	free(d->sps);
	free(d);
}

static void deliver_done(void *arg, int ok)
{
	struct ms_delivery *d = arg;
	struct mstore *ms = d->ms;

	for (size_t i = 0; i < d->n; i++) {
		struct mstore_spool *sp = d->sps[d->multi ? i : 0];

		if (!ok && d->t[i].result == MSTORE_OK)
			d->t[i].result = MSTORE_E_TEMP;
		log_info("event=mstore_deliver user=%s mailbox=%08x uid=%u "
			 "size=%llu result=\"%s\"",
			 d->t[i].user ? d->t[i].user : "-",
			 d->t[i].result_mailbox_id, d->t[i].result_uid,
			 (unsigned long long)sp->size,
			 mstore_strerror(d->t[i].result));
	}
	for (size_t i = 0; i < d->nsp; i++)
		d->sps[i]->busy = 0;
	ms->in_flight--;
	/* IDLE sessions learn of the new messages now that they are on
	 * disk, just before the deliverer does */
	ms_hooks_deliver(ms, d->rows, d->nrows);
	if (d->cb != NULL)
		d->cb(d->arg, d->t, d->n);
	deliver_free(d);
}

/* Steps 3-4: runs on the loop thread once the spools are on disk. */
void ms_deliver_commit(struct ms_delivery *d)
{
	const char **dirs;
	size_t nd = 0;

	if (!d->fsync_ok) {
		for (size_t i = 0; i < d->n; i++)
			d->t[i].result = MSTORE_E_TEMP;
		deliver_done(d, 1);
		return;
	}
	for (size_t i = 0; i < d->nsp; i++)
		d->sps[i]->fsynced = 1;
	d->ms->holding = 1;
	d->ms->nhold = 0;
	if (d->multi)
		deliver_multi(d);
	else
		for (size_t i = 0; i < d->n; i++)
			deliver_target(d, &d->t[i]);
	d->ms->holding = 0;
	d->rows = d->ms->hold;
	d->nrows = d->ms->nhold;
	d->ms->hold = NULL;
	d->ms->nhold = 0;
	dirs = xcalloc(d->n + 1, sizeof(*dirs));
	for (size_t off = 0; off < d->dirs.len;
	     off += strlen(d->dirs.data + off) + 1)
		dirs[nd++] = d->dirs.data + off;
	dirs[nd] = NULL;
	if (d->ms->sync_depth > 0) {
		/* synchronous: every commit already forced its log */
		free(dirs);
		deliver_done(d, 1);
		return;
	}
	db_durable_wait(d->ms->env, dirs, deliver_done, d);
	free(dirs);
}

static int spool_fsync(struct mstore_spool *sp)
{
	if (sp->fsynced)
		return 0;
	if (fdatasync(sp->fd) < 0) {
		log_warn("event=mstore_spool_fsync path=%s", sp->path);
		return -1;
	}
	return 0;
}

int ms_delivery_fsync(struct ms_delivery *d)
{
	for (size_t i = 0; i < d->nsp; i++)
		if (spool_fsync(d->sps[i]) < 0)
			return -1;
	return 0;
}

static int delivery_synced(const struct ms_delivery *d)
{
	for (size_t i = 0; i < d->nsp; i++)
		if (!d->sps[i]->fsynced)
			return 0;
	return 1;
}

/* Step 1, and each spool's mtime (INTERNALDATE) before it is synced. */
static enum mstore_err deliver_prepare(struct mstore *ms,
				       struct mstore_spool **sps, size_t nsp,
				       struct mstore_target *t, size_t n,
				       mstore_deliver_cb *cb, void *arg,
				       struct ms_delivery **d_r)
{
	const struct mime_message *mime;
	struct ms_delivery *d;

	if (n == 0 || nsp == 0)
		return MSTORE_E_INVAL;
	for (size_t i = 0; i < nsp; i++) {
		if (sps[i] == NULL || !sps[i]->finished || sps[i]->busy)
			return MSTORE_E_INVAL;
		for (size_t j = 0; j < i; j++)
			if (sps[j] == sps[i])
				return MSTORE_E_INVAL;
	}
	for (size_t i = 0; i < nsp; i++) {
		struct mstore_spool *sp = sps[i];
		int64_t date = t[nsp > 1 ? i : 0].internaldate;

		(void)mstore_spool_mime(sp, &mime);
		if (!sp->fsynced && date != 0) {
			struct timespec ts[2] = {
			    {.tv_sec = (time_t)date},
			    {.tv_sec = (time_t)date},
			};

			if (futimens(sp->fd, ts) < 0)
				log_warn("event=mstore_spool_mtime path=%s",
					 sp->path);
		}
		sp->busy = 1;
	}
	d = xcalloc(1, sizeof(*d));
	d->ms = ms;
	d->sps = xcalloc(nsp, sizeof(*d->sps));
	memcpy(d->sps, sps, nsp * sizeof(*sps));
	d->nsp = nsp;
	d->multi = nsp > 1;
	d->t = t;
	d->n = n;
	d->cb = cb;
	d->arg = arg;
	strbuf_init(&d->dirs);
	ms->in_flight++;
	*d_r = d;
	return MSTORE_OK;
}

static void deliver_start(struct mstore *ms, struct ms_delivery *d)
{
	if (ms->net == NULL || delivery_synced(d)) {
		d->fsync_ok = ms_delivery_fsync(d) == 0;
		ms_deliver_commit(d);
		return;
	}
	ms_pool_submit(ms, d);
}

static void deliver_run_sync(struct mstore *ms, struct ms_delivery *d)
{
	ms->sync_depth++;
	d->fsync_ok = ms_delivery_fsync(d) == 0;
	ms_deliver_commit(d);
	ms->sync_depth--;
}

enum mstore_err mstore_deliver(struct mstore *ms, struct mstore_spool *sp,
			       struct mstore_target *targets, size_t n,
			       mstore_deliver_cb *cb, void *arg)
{
	struct ms_delivery *d;
	enum mstore_err err;

	err = deliver_prepare(ms, &sp, 1, targets, n, cb, arg, &d);
	if (err == MSTORE_OK)
		deliver_start(ms, d);
	return err;
}

enum mstore_err mstore_deliver_sync(struct mstore *ms, struct mstore_spool *sp,
				    struct mstore_target *targets, size_t n)
{
	struct ms_delivery *d;
	enum mstore_err err;

	err = deliver_prepare(ms, &sp, 1, targets, n, NULL, NULL, &d);
	if (err == MSTORE_OK)
		deliver_run_sync(ms, d);
	return err;
}

enum mstore_err mstore_append_multi(struct mstore *ms,
				    struct mstore_spool *const *sps,
				    struct mstore_target *targets, size_t n,
				    mstore_deliver_cb *cb, void *arg)
{
	struct ms_delivery *d;
	enum mstore_err err;

	err = deliver_prepare(ms, (struct mstore_spool **)sps, n, targets, n,
			      cb, arg, &d);
	if (err != MSTORE_OK)
		return err;
	d->multi = 1;
	if (cb == NULL)
		deliver_run_sync(ms, d);
	else
		deliver_start(ms, d);
	return MSTORE_OK;
}

void mstore_wait_durable(struct mstore *ms, void (*cb)(void *arg, int ok),
			 void *arg)
{
	db_durable_wait(ms->env, NULL, cb, arg);
}
