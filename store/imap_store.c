/*
 * imap_store.c - STORE (RFC 3501 6.4.6, UNCHANGEDSINCE: RFC 7162 3.1.3),
 * sequence and UID forms.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

static const struct {
	const char *name;
	uint32_t bit;
} sysflags[] = {
	{"\\Seen", MSTORE_F_SEEN},	 {"\\Answered", MSTORE_F_ANSWERED},
	{"\\Flagged", MSTORE_F_FLAGGED}, {"\\Deleted", MSTORE_F_DELETED},
	{"\\Draft", MSTORE_F_DRAFT},
};

/* One flag atom into flags or kw[]; -1 when invalid. */
static int flag_add(const struct imap_arg *a, uint32_t *flags,
		    const char **kw, size_t *nkw)
{
	const char *f = imap_arg_string(a);

	if (f == NULL || a->type != IMAP_ARG_ATOM)
		return -1;
	if (f[0] == '\\') {
		for (size_t k = 0; k < sizeof(sysflags) / sizeof(*sysflags); k++)
			if (strcasecmp(f, sysflags[k].name) == 0) {
				*flags |= sysflags[k].bit;
				return 0;
			}
		/* \Recent cannot be stored; other \x are unknown */
		return -1;
	}
	if (strlen(f) > MSTORE_KEYWORD_MAX || *nkw >= MSTORE_MAX_KEYWORDS)
		return -1;
	kw[(*nkw)++] = f;
	return 0;
}

static void send_flags(struct imap_session *s, uint32_t msn, int uid,
		       uint64_t modseq)
{
	struct imap_view_msg m;
	struct strbuf b;

	if (imap_view_get(s->view, msn, &m) < 0)
		return;
	strbuf_init(&b);
	strbuf_printf(&b, "* %u FETCH (FLAGS ", msn);
	imap_view_write_flags(s->view, &m, &b);
	if (uid)
		strbuf_printf(&b, " UID %u", m.uid);
	if (s->enabled & IMAP_EN_CONDSTORE)
		strbuf_printf(&b, " MODSEQ (%llu)", (unsigned long long)modseq);
	strbuf_adds(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

static int rec_uid_cmp(const void *a, const void *b)
{
	const struct mstore_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int rec_uid_modseq_cmp(const void *a, const void *b)
{
	const struct mstore_msg *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->modseq < y->modseq ? -1 : x->modseq > y->modseq;
}

/* Sorts the changed records by uid, keeping each uid's newest. */
static size_t changed_by_uid(struct mstore_msg *ch, size_t n)
{
	size_t k = 0;

	if (n > 1)
		qsort(ch, n, sizeof(*ch), rec_uid_modseq_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && ch[k - 1].uid == ch[i].uid)
			k--;
		if (k != i)
			ch[k] = ch[i];
		k++;
	}
	return k;
}

/*
 * The FETCH FLAGS of a non-silent STORE (RFC 3501 6.4.6) for msns; the
 * modseq (CONDSTORE) of a message this STORE changed is in changed (uid
 * order), of the others in the engine's record: the view keeps none.
 */
static void send_all_flags(struct imap_session *s, uint32_t mailbox_id,
			   const uint32_t *msns, size_t n, int uid,
			   const struct mstore_msg *changed, size_t nchanged)
{
	int condstore = (s->enabled & IMAP_EN_CONDSTORE) != 0;

	for (size_t i = 0; i < n; i++) {
		struct imap_view_msg m;
		const struct mstore_msg *c;
		struct mstore_msg rec;

		if (imap_view_get(s->view, msns[i], &m) < 0 || m.expunged)
			continue;
		rec.uid = m.uid;
		rec.modseq = 0;
		c = nchanged > 0 ? bsearch(&rec, changed, nchanged,
					   sizeof(*changed), rec_uid_cmp)
				 : NULL;
		if (c != NULL)
			rec.modseq = c->modseq;
		else if (condstore &&
			 mstore_msg_get(s->st->ms, mailbox_id, m.uid, &rec) !=
			     MSTORE_OK)
			continue; /* expunged meanwhile */
		send_flags(s, msns[i], uid, rec.modseq);
	}
}

struct store_req {
	struct mstore_flag_change chg;
	const char *kw[MSTORE_MAX_KEYWORDS + 1];
	size_t nkw;
	int silent;
};

static int parse_store(struct imap_session *s, const struct imap_command *cmd,
		       struct store_req *r)
{
	size_t i = 1;
	const char *item;

	memset(r, 0, sizeof(*r));
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		const struct imap_arg *m = &cmd->args[i];
		char *end;

		if (m->count != 2 ||
		    !imap_arg_is_atom(&m->list[0], "UNCHANGEDSINCE") ||
		    imap_arg_string(&m->list[1]) == NULL)
			return -1;
		r->chg.unchangedsince = strtoull(m->list[1].str, &end, 10);
		if (*end != '\0')
			return -1;
		s->enabled |= IMAP_EN_CONDSTORE;
		i++;
	}
	item = imap_arg_string(&cmd->args[i]);
	if (item == NULL || i + 1 >= cmd->nargs)
		return -1;
	if (item[0] == '+')
		r->chg.op = MSTORE_FLAGS_ADD, item++;
	else if (item[0] == '-')
		r->chg.op = MSTORE_FLAGS_REMOVE, item++;
	else
		r->chg.op = MSTORE_FLAGS_REPLACE;
	if (strcasecmp(item, "FLAGS.SILENT") == 0)
		r->silent = 1;
	else if (strcasecmp(item, "FLAGS") != 0)
		return -1;
	for (i++; i < cmd->nargs; i++) {
		const struct imap_arg *a = &cmd->args[i];

		if (a->type == IMAP_ARG_LIST) {
			for (size_t k = 0; k < a->count; k++)
				if (flag_add(&a->list[k], &r->chg.flags, r->kw,
					     &r->nkw) < 0)
					return -1;
		} else if (flag_add(a, &r->chg.flags, r->kw, &r->nkw) < 0) {
			return -1;
		}
	}
	r->kw[r->nkw] = NULL;
	r->chg.keywords = r->nkw > 0 ? r->kw : NULL;
	return 0;
}

/*
 * A STORE of more than IMAP_STORE_SLICE messages ("mark all as read" in
 * a folder of 30,000) changes one slice per turn of the store's loop,
 * input paused meanwhile (imap_job.c), so that the other sessions
 * of the store wait for one slice at a time.  The replies (FETCH FLAGS,
 * MODIFIED) go out at the end, as for a STORE done in one go; a slice
 * that fails ends the command with NO, the slices before it done (the
 * view hears of them as of anyone's changes).
 */
#define IMAP_STORE_SLICE 1000

struct store_job {
	const struct imap_command *cmd;
	struct store_req r;
	uint32_t mailbox_id;
	uint32_t *msns, *uids;
	size_t n, next;
	struct mstore_msg *changed;
	size_t nchanged;
	uint32_t *failed;	/* UNCHANGEDSINCE refused these (uids) */
	size_t nfailed;
	int e;			/* enum mstore_err or IMAP_ACL_E_NOPERM */
};

/* Changes the next slice; 1 once the job is over (all done, or not). */
static int store_slice(struct imap_session *s, void *data)
{
	struct store_job *j = data;
	size_t k = j->n - j->next < IMAP_STORE_SLICE ? j->n - j->next
						     : IMAP_STORE_SLICE;
	struct mstore_msg *ch = NULL;
	uint32_t *f = NULL;
	size_t nch = 0, nf = 0;

	if (k == 0)
		return 1;
	j->e = imap_acl_flags_store(s, j->mailbox_id, j->uids + j->next, k,
				    &j->r.chg, &ch, &nch, &f, &nf);
	if (j->e == MSTORE_OK && nch > 0) {
		j->changed = xrealloc(j->changed,
				      (j->nchanged + nch) * sizeof(*ch));
		memcpy(j->changed + j->nchanged, ch, nch * sizeof(*ch));
		j->nchanged += nch;
	}
	if (j->e == MSTORE_OK && nf > 0) {
		j->failed = xrealloc(j->failed, (j->nfailed + nf) * sizeof(*f));
		memcpy(j->failed + j->nfailed, f, nf * sizeof(*f));
		j->nfailed += nf;
	}
	free(ch);
	free(f);
	j->next += k;
	return j->e != MSTORE_OK || j->next == j->n;
}

/* The replies of a finished STORE. */
static void store_reply(struct imap_session *s, struct store_job *j)
{
	const struct imap_command *cmd = j->cmd;

	if (j->e == IMAP_ACL_E_NOPERM) {
		imap_no(s, "NOPERM", "No right to change these flags");
		return;
	}
	if (j->e != MSTORE_OK) {
		imap_no(s, j->e == MSTORE_E_LIMIT ? "LIMIT" : "SERVERBUG", "%s",
			mstore_strerror((enum mstore_err)j->e));
		return;
	}
	if (j->r.nkw > 0)
		imap_view_reload_keywords(s);
	/* the engine may report a message twice (a REPLACE done as two
	 * steps): the later record wins */
	for (size_t i = 0; i < j->nchanged; i++) {
		uint32_t msn = imap_view_msn(s->view, j->changed[i].uid);

		if (msn == 0)
			continue;
		imap_view_set_flags(s, msn, j->changed[i].flags,
				    j->changed[i].keywords);
		if (j->r.silent && j->r.chg.unchangedsince != 0)
			send_flags(s, msn, cmd->uid,
				   j->changed[i].modseq); /* RFC 7162 3.2 */
	}
	if (!j->r.silent) {
		j->nchanged = changed_by_uid(j->changed, j->nchanged);
		send_all_flags(s, j->mailbox_id, j->msns, j->n, cmd->uid,
			       j->changed, j->nchanged);
	}
	if (j->nfailed > 0) {
		struct strbuf code;

		strbuf_init(&code);
		strbuf_adds(&code, "MODIFIED ");
		if (!cmd->uid)
			for (size_t i = 0; i < j->nfailed; i++)
				j->failed[i] =
				    imap_view_msn(s->view, j->failed[i]);
		imap_seqset_write(&code, j->failed, j->nfailed);
		imap_ok(s, code.data, "Conditional STORE failed");
		strbuf_free(&code);
		return;
	}
	imap_ok(s, NULL, "STORE completed");
}

static void store_finish(struct imap_session *s, void *data,
			 unsigned slices)
{
	struct store_job *j = data;

	if (slices > 0)
		log_info("event=imap_store_sliced session=%s mailbox=%08x "
			 "messages=%zu changed=%zu slices=%u result=%s",
			 conn_id(s->c), j->mailbox_id, j->n, j->nchanged,
			 slices,
			 j->e == IMAP_ACL_E_NOPERM
			     ? "noperm"
			     : mstore_errcode((enum mstore_err)j->e));
	if (!s->closing)
		store_reply(s, j);
}

static void store_free(void *data)
{
	struct store_job *j = data;

	free(j->msns);
	free(j->uids);
	free(j->changed);
	free(j->failed);
	free(j);
}

static const struct imap_job_ops store_ops = {
	"STORE", store_slice, store_finish, NULL, store_free,
};

void imap_cmd_store(struct imap_session *s, const struct imap_command *cmd)
{
	struct store_job *j;
	struct store_req r;
	struct imap_seqset set;
	struct imap_view_info vi;
	uint32_t *msns = NULL;
	size_t n = 0;
	const char *err;

	if (imap_seqset_parse(imap_arg_string(&cmd->args[0]), &set, &err) < 0) {
		imap_bad(s, NULL, "%s", err);
		return;
	}
	if (parse_store(s, cmd, &r) < 0) {
		imap_seqset_free(&set);
		imap_bad(s, NULL, "Invalid STORE arguments");
		return;
	}
	imap_view_info(s->view, &vi);
	if (vi.readonly) {
		imap_seqset_free(&set);
		imap_no(s, "READ-ONLY", "Mailbox is read-only");
		return;
	}
	if (imap_view_resolve(s, &set, cmd->uid, &msns, &n) < 0) {
		imap_seqset_free(&set);
		imap_bad(s, NULL, "Invalid message sequence number");
		return;
	}
	imap_seqset_free(&set);
	j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->r = r;
	/* the copy's keyword list is its own */
	j->r.chg.keywords = j->r.nkw > 0 ? j->r.kw : NULL;
	j->mailbox_id = vi.mailbox_id;
	j->msns = msns;
	j->n = n;
	j->uids = xcalloc(n + 1, sizeof(*j->uids));
	for (size_t i = 0; i < n; i++)
		j->uids[i] = imap_view_uid(s->view, msns[i]);
	/* RFC 4314 4: only the flags the user may change (per slice) */
	imap_job_run(s, &store_ops, j);
}
