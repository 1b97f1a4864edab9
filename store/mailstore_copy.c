/*
 * mailstore_copy.c - COPY and MOVE (RFC 3501 6.4.7, RFC 6851): hard links
 * into the destination's directory, new UIDs, flags kept and keywords
 * re-mapped, quota checked for the whole set, in one transaction.
 */
#include "mailstore_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

/* ---- copy / move -------------------------------------------------------- */

/*
 * Links src as dst inside a transaction.  A leftover dst (an earlier
 * attempt of this transaction, or a crash before its commit) carries a
 * UID >= UIDNEXT and no record: it is replaced.
 */
int ms_link(struct mstore *ms, const char *src, uint32_t mbox, uint32_t uid,
	    char **path_r)
{
	char *dst = mstore_msg_path(ms, mbox, uid);

	for (int tries = 0; tries < 3; tries++) {
		if (link(src, dst) == 0) {
			*path_r = dst;
			return 0;
		}
		if (errno == EEXIST) {
			unlink(dst);
		} else if (errno == ENOENT) {
			char *dir = ms_mbox_dir(ms, mbox);

			if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
				free(dir);
				break;
			}
			free(dir);
		} else {
			break;
		}
	}
	log_warn("event=mstore_link src=%s dst=%s", src, dst);
	free(dst);
	*path_r = NULL;
	return -1;
}

struct copy_ctx {
	struct mstore *ms;
	uint32_t src, dst;
	const uint32_t *uids;
	size_t nuids;
	int move;
	struct mstore_uidmap *map;
	size_t nmap;
	uint32_t uidvalidity;
	struct strbuf links; /* NUL-separated paths made in this attempt */
	enum mstore_err err;
};

static int copy_quota(struct copy_ctx *c, DB_TXN *txn,
		      const struct mstore_mailbox *src,
		      const struct mstore_mailbox *dst, uint64_t bytes,
		      uint64_t n)
{
	struct mstore_quota q;
	int ret;

	if (c->move && strcmp(src->owner, dst->owner) == 0)
		return 0;
	ret = ms_quota_read(c->ms, txn, dst->owner, &q);
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	if ((q.bytes_limit != 0 && q.bytes_used + bytes > q.bytes_limit) ||
	    (q.messages_limit != 0 && q.messages_used + n > q.messages_limit))
		return ms_fail(&c->err, MSTORE_E_OVERQUOTA);
	return 0;
}

static int copy_one(struct copy_ctx *c, DB_TXN *txn, struct mstore_mailbox *src,
		    struct mstore_mailbox *dst, struct mstore_msg *m,
		    char **srcnames, size_t nsrcnames, uint64_t dmodseq)
{
	struct mstore *ms = c->ms;
	struct mstore_msg nm = *m;
	char *spath, *dpath;
	uint8_t sk[8], dk[8];
	void *mime;
	size_t mlen;
	int ret;

	nm.keywords = 0;
	if (m->keywords != 0 && src->id != dst->id) {
		const char *kws[MSTORE_MAX_KEYWORDS + 1];
		size_t nk = 0;

		for (size_t j = 0; j < nsrcnames; j++)
			if (m->keywords & ((uint64_t)1 << j))
				kws[nk++] = srcnames[j];
		kws[nk] = NULL;
		ret = ms_keywords_map(ms, txn, dst->id, kws, &nm.keywords,
				      &c->err);
		if (ret != 0)
			return ret;
	} else {
		nm.keywords = m->keywords;
	}
	if (dst->uidnext % MS_UID_RESERVE == 0)
		ms_meta_file_write(ms, dst);
	nm.uid = dst->uidnext++;
	nm.modseq = dmodseq;
	spath = mstore_msg_path(ms, src->id, m->uid);
	ret = ms_link(ms, spath, dst->id, nm.uid, &dpath);
	free(spath);
	if (ret < 0)
		return ms_fail(&c->err, MSTORE_E_TEMP);
	ms_post_add(&c->links, dpath);
	free(dpath);
	ret = ms_msg_write(ms, txn, dst->id, &nm);
	ms_key_msg(sk, src->id, m->uid);
	ms_key_msg(dk, dst->id, nm.uid);
	if (ret == 0) {
		ret = ms_db_get(ms->mime, txn, sk, 8, &mime, &mlen, 0);
		if (ret == 0) {
			ret = ms_db_put(ms->mime, txn, dk, 8, mime, mlen);
			free(mime);
		} else if (ret == DB_NOTFOUND) {
			ret = 0;
		}
	}
	if (ret == 0)
		ret = ms_change_add(ms, txn, MSTORE_CH_APPEND, dst->owner,
				    dst->id, nm.uid, dmodseq);
	if (ret != 0)
		return ret;
	ms_mbox_count_add(dst, &nm, 1);
	c->map[c->nmap].src_uid = m->uid;
	c->map[c->nmap].dst_uid = nm.uid;
	c->nmap++;
	return 0;
}

static void copy_unlink_links(struct copy_ctx *c)
{
	for (size_t off = 0; off < c->links.len;) {
		const char *p = c->links.data + off;

		unlink(p);
		off += strlen(p) + 1;
	}
	strbuf_reset(&c->links);
}

static int copy_fn(DB_TXN *txn, void *arg)
{
	struct copy_ctx *c = arg;
	struct mstore *ms = c->ms;
	struct mstore_mailbox srcmb = {0}, dstmb = {0}, *dst;
	struct mstore_msg *msgs;
	char **names = NULL;
	size_t n = 0, nnames = 0;
	uint64_t bytes = 0, smodseq, dmodseq;
	int ret;

	copy_unlink_links(c);
	c->nmap = 0;
	ret = ms_mbox_read(ms, txn, c->src, 1, &srcmb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	dst = &srcmb;
	if (c->dst != c->src) {
		dst = &dstmb;
		ret = ms_mbox_read(ms, txn, c->dst, 1, &dstmb);
		if (ret == DB_NOTFOUND)
			ret = ms_fail(&c->err, MSTORE_E_NOMAILBOX);
		if (ret != 0)
			goto out;
	}
	c->uidvalidity = dst->uidvalidity;
	msgs = xmalloc((c->nuids ? c->nuids : 1) * sizeof(*msgs));
	for (size_t i = 0; i < c->nuids && ret == 0; i++) {
		ret = ms_msg_read(ms, txn, c->src, c->uids[i], 0, &msgs[n]);
		if (ret == DB_NOTFOUND) {
			ret = 0;
			continue;
		}
		if (ret == 0)
			bytes += msgs[n++].size;
	}
	if (ret == 0)
		ret = copy_quota(c, txn, &srcmb, dst, bytes, n);
	if (ret == 0)
		ret = ms_keywords_load(ms, txn, c->src, &names, &nnames);
	dmodseq = dst->highestmodseq + 1;
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = copy_one(c, txn, &srcmb, dst, &msgs[i], names, nnames,
			       dmodseq);
	if (ret == 0 && n > 0) {
		dst->highestmodseq = dmodseq;
		ret = ms_quota_add(ms, txn, dst->owner, (int64_t)bytes,
				   (int64_t)n);
	}
	/* MOVE (RFC 6851): the sources go in the same transaction */
	smodseq = srcmb.highestmodseq + 1;
	for (size_t i = 0; c->move && i < n && ret == 0; i++)
		ret = ms_msg_remove(ms, txn, &srcmb, &msgs[i], smodseq);
	if (ret == 0 && c->move && n > 0) {
		srcmb.highestmodseq = smodseq;
		ret = ms_quota_add(ms, txn, srcmb.owner, -(int64_t)bytes,
				   -(int64_t)n);
	}
	if (ret == 0 && n > 0)
		ret = ms_mbox_write(ms, txn, &srcmb);
	if (ret == 0 && n > 0 && dst != &srcmb)
		ret = ms_mbox_write(ms, txn, dst);
	if (ret == 0 && n > 0) {
		char *dir = ms_mbox_dir(ms, dst->id);

		ms_post_add(&ms->post_dirs, dir);
		free(dir);
	}
	free(msgs);
	mstore_strv_free(&names, nnames);
out:
	mstore_mailbox_clear(&srcmb);
	mstore_mailbox_clear(&dstmb);
	return ret;
}

static void ms_noop_cb(void *arg, int ok)
{
	(void)arg;
	if (!ok)
		log_warnx("event=mstore_copy_not_durable");
}

/* Bigger sets run as several transactions (lock table limits: a MOVE of
 * 30,000 in one ran out of lock entries). */
#define MS_COPY_CHUNK 2000

void mstore_copy_undo(struct mstore *ms, uint32_t dst,
		      const struct mstore_uidmap *map, size_t n)
{
	uint32_t *uids;
	enum mstore_err err;

	if (n == 0)
		return;
	uids = xmalloc(n * sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		uids[i] = map[i].dst_uid;
	err = mstore_expunge(ms, dst, uids, n, NULL, NULL);
	if (err != MSTORE_OK)
		log_warnx("event=mstore_copy_undo_failed mailbox=%08x "
			  "messages=%zu error=\"%s\"",
			  dst, n, mstore_strerror(err));
	free(uids);
}

enum mstore_err mstore_copy(struct mstore *ms, uint32_t src_mailbox_id,
			    const uint32_t *uids, size_t nuids,
			    uint32_t dst_mailbox_id, int move,
			    struct mstore_uidmap **map_r, size_t *nmap_r,
			    uint32_t *uidvalidity_r)
{
	struct copy_ctx c = {.ms = ms,
			     .src = src_mailbox_id,
			     .dst = dst_mailbox_id,
			     .move = move};
	struct mstore_uidmap *map;
	uint32_t *sorted;
	size_t total, nmap = 0;
	enum mstore_err err = MSTORE_OK;

	sorted = ms_uids_sorted(uids, nuids, &total);
	map = xmalloc((total ? total : 1) * sizeof(*map));
	strbuf_init(&c.links);
	for (size_t off = 0; off < total || off == 0; off += MS_COPY_CHUNK) {
		c.uids = sorted + off;
		c.nuids = total - off < MS_COPY_CHUNK ? total - off
						      : MS_COPY_CHUNK;
		c.map = map + nmap;
		c.nmap = 0;
		err = ms_txn(ms, move ? "move" : "copy", copy_fn, &c, &c.err);
		if (err != MSTORE_OK) {
			copy_unlink_links(&c); /* this chunk's, uncommitted */
			break;
		}
		strbuf_reset(&c.links); /* committed: they stay */
		nmap += c.nmap;
		if (total == 0)
			break;
	}
	free(sorted);
	strbuf_free(&c.links);
	if (err != MSTORE_OK && !move && nmap > 0) {
		/* all or nothing (RFC 3501 6.4.7): the chunks before the
		 * failed one go again */
		mstore_copy_undo(ms, dst_mailbox_id, map, nmap);
		nmap = 0;
	}
	if (ms->net != NULL && nmap > 0) {
		/* the new links' directory reaches the disk with the log */
		char *dir = ms_mbox_dir(ms, dst_mailbox_id);
		const char *dirs[2] = {dir, NULL};

		db_durable_wait(ms->env, dirs, ms_noop_cb, NULL);
		free(dir);
	}
	if (uidvalidity_r != NULL)
		*uidvalidity_r = nmap > 0 || err == MSTORE_OK ? c.uidvalidity
							      : 0;
	if (map_r != NULL) {
		*map_r = map;
		*nmap_r = nmap;
	} else {
		free(map);
	}
	return err;
}
