/*
 * mailstore_changelog.c - the change log: rows written in the same
 * transaction as the change they describe, read back from a seq for
 * replication, trimmed once acknowledged, and handed to the registered
 * hooks after each commit (IMAP IDLE, the replication push).
 */
#include "mailstore_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "net.h"

const char *mstore_change_kind_name(enum mstore_change_kind kind)
{
	switch (kind) {
	case MSTORE_CH_USER_CREATE:
		return "user_create";
	case MSTORE_CH_USER_DELETE:
		return "user_delete";
	case MSTORE_CH_MBOX_CREATE:
		return "mailbox_create";
	case MSTORE_CH_MBOX_DELETE:
		return "mailbox_delete";
	case MSTORE_CH_MBOX_RENAME:
		return "mailbox_rename";
	case MSTORE_CH_MBOX_META:
		return "mailbox_meta";
	case MSTORE_CH_APPEND:
		return "append";
	case MSTORE_CH_FLAGS:
		return "flags";
	case MSTORE_CH_EXPUNGE:
		return "expunge";
	case MSTORE_CH_QUOTA:
		return "quota";
	case MSTORE_CH_SUBSCRIBE:
		return "subscribe";
	case MSTORE_CH_SEEN:
		return "seen";
	case MSTORE_CH_SIEVE:
		return "sieve";
	case MSTORE_CH_VACATION:
		return "vacation";
	}
	return "unknown";
}

void ms_pending_reset(struct mstore *ms)
{
	ms->npend = 0;
}

int ms_change_add(struct mstore *ms, DB_TXN *txn, enum mstore_change_kind kind,
		  const char *user, uint32_t mbox, uint32_t uid,
		  uint64_t modseq)
{
	struct mstore_change *ch;
	struct strbuf rec;
	uint8_t key[8];
	uint64_t seq;
	int ret;

	ret = ms_meta_next(ms, txn, "next_seq", 1, &seq);
	if (ret != 0)
		return ret;
	if (ms->npend == ms->pend_cap) {
		ms->pend_cap = ms->pend_cap ? ms->pend_cap * 2 : 16;
		ms->pend = xrealloc(ms->pend, ms->pend_cap * sizeof(*ms->pend));
	}
	ch = &ms->pend[ms->npend];
	memset(ch, 0, sizeof(*ch));
	ch->seq = seq;
	ch->kind = kind;
	ch->mailbox_id = mbox;
	ch->uid = uid;
	ch->modseq = modseq;
	ch->time = (int64_t)time(NULL);
	snprintf(ch->user, sizeof(ch->user), "%s", user ? user : "");

	strbuf_init(&rec);
	ms_change_encode(ch, &rec);
	ms_put_be64(key, seq);
	ret = ms_db_put(ms->changes, txn, key, 8, rec.data, rec.len);
	strbuf_free(&rec);
	if (ret == 0)
		ms->npend++;
	return ret;
}

/*
 * Hands the rows of the transaction that just committed to the hooks.  A
 * hook may call back into the engine and commit more; those rows are
 * queued behind the ones being delivered, so every hook sees the rows in
 * seq order.
 */
void ms_hooks_run(struct mstore *ms)
{
	size_t n = ms->npend;

	ms->npend = 0;
	if (ms->holding) {
		/* a delivery: its rows wait until the commit is durable */
		ms->hold =
		    xrealloc(ms->hold, (ms->nhold + n + 1) * sizeof(*ms->hold));
		memcpy(ms->hold + ms->nhold, ms->pend, n * sizeof(*ms->pend));
		ms->nhold += n;
		return;
	}
	ms_hooks_deliver(ms, ms->pend, n);
}

void ms_hooks_deliver(struct mstore *ms, const struct mstore_change *rows,
		      size_t n)
{
	if (n == 0 || ms->nhooks == 0)
		return;
	ms->defer = xrealloc(ms->defer, (ms->ndefer + n) * sizeof(*ms->defer));
	memcpy(ms->defer + ms->ndefer, rows, n * sizeof(*rows));
	ms->ndefer += n;
	if (ms->in_hooks)
		return;
	ms->in_hooks = 1;
	while (ms->ndefer > 0) {
		struct mstore_change *batch = ms->defer;
		size_t nb = ms->ndefer;

		ms->defer = NULL;
		ms->ndefer = 0;
		for (size_t i = 0; i < nb; i++) {
			/* hooks may go away while we run: re-read the table */
			for (unsigned h = 0; h < ms->nhooks; h++)
				ms->hooks[h].fn(ms->hooks[h].arg, &batch[i]);
		}
		free(batch);
	}
	ms->in_hooks = 0;
}

int mstore_set_change_hook(struct mstore *ms, mstore_change_fn *fn, void *arg)
{
	for (unsigned i = 0; i < ms->nhooks; i++)
		if (ms->hooks[i].fn == fn && ms->hooks[i].arg == arg)
			return 0;
	if (fn == NULL || ms->nhooks == MS_MAX_HOOKS)
		return -1;
	ms->hooks[ms->nhooks].fn = fn;
	ms->hooks[ms->nhooks].arg = arg;
	ms->nhooks++;
	return 0;
}

void mstore_remove_change_hook(struct mstore *ms, mstore_change_fn *fn,
			       void *arg)
{
	for (unsigned i = 0; i < ms->nhooks; i++) {
		if (ms->hooks[i].fn == fn && ms->hooks[i].arg == arg) {
			memmove(&ms->hooks[i], &ms->hooks[i + 1],
				(ms->nhooks - i - 1) * sizeof(ms->hooks[0]));
			ms->nhooks--;
			return;
		}
	}
}

uint64_t mstore_changes_last_seq(struct mstore *ms)
{
	uint64_t next = 0;

	if (ms_meta_get(ms, NULL, "next_seq", &next) != 0 || next == 0)
		return 0;
	return next - 1;
}

enum mstore_err mstore_changes_read(struct mstore *ms, uint64_t after,
				    size_t max, struct mstore_change **ch_r,
				    size_t *n_r, uint64_t *last_seq_r)
{
	struct mstore_change *out = NULL;
	size_t n = 0, cap = 0;
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	uint8_t key[8];
	int ret;

	*ch_r = NULL;
	*n_r = 0;
	if (last_seq_r != NULL)
		*last_seq_r = mstore_changes_last_seq(ms);
	ret = ms->changes->cursor(ms->changes, NULL, &cur, 0);
	if (ret != 0)
		goto fail;
	ms_put_be64(key, after + 1);
	k.data = key;
	k.size = 8;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	v.flags = DB_DBT_REALLOC;
	ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0) {
		if (k.size == 8 && (max == 0 || n < max)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				out = xrealloc(out, cap * sizeof(*out));
			}
			if (ms_change_decode(v.data, v.size, &out[n]) == 0) {
				out[n].seq = ms_get_be64(key);
				n++;
			} else {
				log_warnx("event=mstore_bad_change seq=%llu",
					  (unsigned long long)ms_get_be64(key));
			}
		}
		if (max != 0 && n >= max)
			break;
		ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	free(v.data);
	cur->close(cur);
	if (ret != 0 && ret != DB_NOTFOUND)
		goto fail;
	*ch_r = out;
	*n_r = n;
	return MSTORE_OK;

fail:
	free(out);
	log_warnx("event=mstore_changes_read error=\"%s\"", db_error(ret));
	return MSTORE_E_TEMP;
}

struct trim_ctx {
	struct mstore *ms;
	uint64_t upto;	/* rows with seq <= upto */
	int64_t before; /* and, when not 0, time < before */
	int more;
	unsigned long deleted;
};

/* Deletes up to 1000 rows per transaction (lock table limits). */
static int trim_fn(DB_TXN *txn, void *arg)
{
	struct trim_ctx *c = arg;
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	uint8_t key[8];
	unsigned n = 0;
	int ret;

	c->more = 0;
	ret = c->ms->changes->cursor(c->ms->changes, txn, &cur, 0);
	if (ret != 0)
		return ret;
	k.data = key;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	v.flags = DB_DBT_REALLOC;
	ret = cur->get(cur, &k, &v, DB_FIRST | DB_RMW);
	while (ret == 0 && ms_get_be64(key) <= c->upto) {
		struct mstore_change ch;

		/* a row that does not decode is garbage either way */
		if (c->before != 0 &&
		    ms_change_decode(v.data, v.size, &ch) == 0 &&
		    ch.time >= c->before)
			break;
		ret = cur->del(cur, 0);
		if (ret != 0)
			break;
		if (++n >= 1000) {
			c->more = 1;
			break;
		}
		ret = cur->get(cur, &k, &v, DB_NEXT | DB_RMW);
	}
	free(v.data);
	cur->close(cur);
	if (ret == 0 || ret == DB_NOTFOUND) {
		c->deleted += n;
		return 0;
	}
	return ret;
}

enum mstore_err mstore_changes_trim(struct mstore *ms, uint64_t upto)
{
	struct trim_ctx c = {ms, upto, 0, 0, 0};
	enum mstore_err err;

	do {
		if (ms_txn(ms, "changes_trim", trim_fn, &c, &err) != MSTORE_OK)
			return err;
	} while (c.more);
	return MSTORE_OK;
}

enum mstore_err mstore_changes_expire(struct mstore *ms, int64_t before,
				      unsigned max_batches,
				      unsigned long *deleted_r, int *more_r)
{
	struct trim_ctx c = {ms, UINT64_MAX, before, 0, 0};
	enum mstore_err err = MSTORE_OK;
	unsigned i = 0;

	*deleted_r = 0;
	*more_r = 0;
	if (before <= 0)
		return MSTORE_OK;
	do {
		if (ms_txn(ms, "changes_expire", trim_fn, &c, &err) !=
		    MSTORE_OK)
			break;
	} while (c.more && ++i < max_batches);
	*deleted_r = c.deleted;
	*more_r = c.more;
	return err;
}

struct note_ctx {
	struct mstore *ms;
	enum mstore_change_kind kind;
	const char *user;
	uint32_t mbox;
	enum mstore_err err;
};

static int note_fn(DB_TXN *txn, void *arg)
{
	struct note_ctx *c = arg;

	return ms_change_add(c->ms, txn, c->kind, c->user, c->mbox, 0, 0);
}

enum mstore_err mstore_note_change(struct mstore *ms,
				   enum mstore_change_kind kind,
				   const char *user, uint32_t mailbox_id)
{
	struct note_ctx c = {ms, kind, NULL, mailbox_id, MSTORE_OK};
	char u[MSTORE_USER_MAX + 1];

	if (ms_user_norm(user, u) < 0)
		return MSTORE_E_NOUSER;
	c.user = u;
	return ms_txn(ms, "note_change", note_fn, &c, &c.err);
}

struct db_env *mstore_db_env(struct mstore *ms)
{
	return ms->env;
}

/* ---- retention ------------------------------------------------------------ */

/*
 * Without a replica reading the log, nothing else would ever delete a
 * row: every change of every message stays forever.  A timer deletes rows
 * older than changelog_keep, ten transactions of 1,000 rows per tick so
 * the event loop is never held long, ticking again at once while a
 * backlog is left.
 */
static unsigned expire_interval_ms(const struct mstore *ms)
{
	unsigned long long ms_ = ms->p.changelog_keep_secs * 1000ull / 2;

	if (ms_ < 1000)
		return 1000;
	return ms_ > 3600000 ? 3600000 : (unsigned)ms_;
}

static void expire_tick(void *arg)
{
	struct mstore *ms = arg;
	int64_t before = (int64_t)time(NULL) - (int64_t)ms->p.changelog_keep_secs;
	unsigned long deleted = 0;
	int more = 0;

	if (mstore_changes_expire(ms, before, 10, &deleted, &more) ==
		MSTORE_OK &&
	    deleted > 0)
		log_info("event=changelog_expired rows=%lu keep_secs=%llu "
			 "more=%s",
			 deleted, ms->p.changelog_keep_secs, more ? "yes" : "no");
	net_timer_start(ms->expire_timer, more ? 100 : expire_interval_ms(ms),
			0);
}

void ms_expire_start(struct mstore *ms)
{
	if (ms->p.changelog_keep_secs == 0 || ms->net == NULL ||
	    ms->expire_timer != NULL)
		return;
	ms->expire_timer = net_timer_new(ms->net, expire_tick, ms);
	net_timer_start(ms->expire_timer, expire_interval_ms(ms), 0);
}

void ms_expire_stop(struct mstore *ms)
{
	net_timer_free(&ms->expire_timer);
}
