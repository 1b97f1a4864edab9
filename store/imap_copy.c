/*
 * imap_copy.c - COPY (COPYUID: RFC 4315) and MOVE (RFC 6851), sequence
 * and UID forms.
 *
 * A set of more than IMAP_COPY_SLICE messages is copied one slice per
 * turn of the store's loop (imap_job.c), so
 * that a client moving a folder of 30,000 messages does not hold the
 * other sessions of the store for the seconds that takes.  A COPY stays
 * all or nothing: when a slice fails, the slices before it are expunged
 * from the destination again.  A MOVE keeps what it moved (RFC 6851
 * 3.3) and reports it before its NO.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

#define IMAP_COPY_SLICE 1000

struct copy_job {
	int move;
	uint32_t src, dst;	/* mailbox ids */
	uint32_t *uids;		/* to copy, ascending */
	size_t n, next;
	struct mstore_uidmap *map; /* copied so far, in source UID order */
	size_t nmap;
	uint32_t uidvalidity;	/* the destination's */
	enum mstore_err err;
};

static int copy_slice(struct imap_session *s, void *data)
{
	struct copy_job *j = data;
	size_t k = j->n - j->next < IMAP_COPY_SLICE ? j->n - j->next
						    : IMAP_COPY_SLICE;
	struct mstore_uidmap *map = NULL;
	size_t nmap = 0;
	uint32_t uv = 0;

	if (k == 0)
		return 1;
	j->err = mstore_copy(s->st->ms, j->src, j->uids + j->next, k, j->dst,
			     j->move, &map, &nmap, &uv);
	if (nmap > 0) {
		memcpy(j->map + j->nmap, map, nmap * sizeof(*map));
		j->nmap += nmap;
		j->uidvalidity = uv;
	}
	free(map);
	j->next += k;
	return j->err != MSTORE_OK || j->next == j->n;
}

/* A COPY that cannot finish takes back the slices it committed; a MOVE
 * keeps what it moved (RFC 6851 3.3). */
static void copy_undo(struct imap_session *s, void *data)
{
	struct copy_job *j = data;

	if (j->move)
		return;
	mstore_copy_undo(s->st->ms, j->dst, j->map, j->nmap);
	j->nmap = 0;
}

static void copy_reply(struct imap_session *s, struct copy_job *j)
{
	struct strbuf code;

	if (j->nmap == 0 && j->err != MSTORE_OK) {
		imap_no(s, j->err == MSTORE_E_OVERQUOTA ? "OVERQUOTA"
							: "SERVERBUG",
			"%s", mstore_strerror(j->err));
		return;
	}
	strbuf_init(&code);
	if (j->nmap > 0) {
		uint32_t *a = xcalloc(j->nmap, sizeof(*a));
		uint32_t *b = xcalloc(j->nmap, sizeof(*b));

		for (size_t i = 0; i < j->nmap; i++) {
			a[i] = j->map[i].src_uid;
			b[i] = j->map[i].dst_uid;
		}
		strbuf_printf(&code, "COPYUID %u ", j->uidvalidity);
		imap_seqset_write(&code, a, j->nmap);
		strbuf_addc(&code, ' ');
		imap_seqset_write(&code, b, j->nmap);
		free(b);
		if (j->move) {
			/* RFC 6851 4.3: COPYUID untagged, before EXPUNGEs */
			imap_untagged(s, "OK [%s] Moved", code.data);
			imap_view_expunged(s, a, j->nmap);
		}
		free(a);
	}
	if (!j->move)
		imap_ok(s, code.len > 0 ? code.data : NULL, "COPY completed");
	else if (j->err != MSTORE_OK) /* RFC 6851 3.3: some moved, not all */
		imap_no(s, j->err == MSTORE_E_OVERQUOTA ? "OVERQUOTA"
							: "SERVERBUG",
			"Moved %zu of %zu: %s", j->nmap, j->n,
			mstore_strerror(j->err));
	else
		imap_ok(s, NULL, "MOVE completed");
	strbuf_free(&code);
}

static void copy_finish(struct imap_session *s, void *data, unsigned slices)
{
	struct copy_job *j = data;

	if (j->err != MSTORE_OK)
		copy_undo(s, j);
	if (slices > 0)
		log_info("event=imap_copy_sliced session=%s op=%s src=%08x "
			 "dst=%08x messages=%zu slices=%u result=%s",
			 conn_id(s->c), j->move ? "move" : "copy", j->src,
			 j->dst, j->nmap, slices, mstore_errcode(j->err));
	if (!s->closing)
		copy_reply(s, j);
}

static void copy_free(void *data)
{
	struct copy_job *j = data;

	free(j->uids);
	free(j->map);
	free(j);
}

static const struct imap_job_ops copy_ops = {
	"COPY", copy_slice, copy_finish, copy_undo, copy_free,
};

void imap_cmd_copy(struct imap_session *s, const struct imap_command *cmd)
{
	int move = strcmp(cmd->name, "MOVE") == 0;
	struct imap_seqset set;
	struct imap_view_info vi;
	struct mstore_mailbox dst;
	struct copy_job *j;
	uint32_t *msns = NULL;
	size_t n = 0;
	const char *err;
	char *name;
	enum mstore_err e;

	if (imap_seqset_parse(imap_arg_string(&cmd->args[0]), &set, &err) < 0) {
		imap_bad(s, NULL, "%s", err);
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[1])) == NULL) {
		imap_seqset_free(&set);
		return;
	}
	imap_view_info(s->view, &vi);
	if (move && vi.readonly) {
		imap_seqset_free(&set);
		free(name);
		imap_no(s, "READ-ONLY", "Mailbox is read-only");
		return;
	}
	/* RFC 6851 3.3 with RFC 4314 4: MOVE needs "t" and "e" here */
	if (move && (imap_view_rights(s->view) &
		     (imap_right('t') | imap_right('e'))) !=
			(imap_right('t') | imap_right('e'))) {
		imap_seqset_free(&set);
		free(name);
		imap_no(s, "NOPERM", "MOVE needs the \"t\" and \"e\" rights");
		return;
	}
	if (imap_view_resolve(s, &set, cmd->uid, &msns, &n) < 0) {
		imap_seqset_free(&set);
		free(name);
		imap_bad(s, NULL, "Invalid message sequence number");
		return;
	}
	imap_seqset_free(&set);
	/* RFC 4314 4: COPY needs "i" on the target */
	e = imap_acl_mailbox(s, name, "i", &dst, NULL);
	free(name);
	if ((int)e == IMAP_ACL_E_NOPERM) {
		free(msns);
		imap_no(s, "NOPERM", "No right to insert into that mailbox");
		return;
	}
	if (e != MSTORE_OK) {
		free(msns);
		if (e == MSTORE_E_NOMAILBOX)
			imap_no(s, "TRYCREATE", "No such mailbox");
		else
			imap_no(s, "SERVERBUG", "%s", mstore_strerror(e));
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->move = move;
	j->src = vi.mailbox_id;
	j->dst = dst.id;
	j->uidvalidity = dst.uidvalidity;
	mstore_mailbox_clear(&dst);
	j->n = n;
	j->uids = xcalloc(n + 1, sizeof(*j->uids));
	for (size_t i = 0; i < n; i++)
		j->uids[i] = imap_view_uid(s->view, msns[i]);
	free(msns);
	j->map = xcalloc(n + 1, sizeof(*j->map));
	imap_job_run(s, &copy_ops, j);
}

void imap_cmd_move(struct imap_session *s, const struct imap_command *cmd)
{
	imap_cmd_copy(s, cmd);
}
