/*
 * imap_mailbox.c - mailbox commands: SELECT EXAMINE (CONDSTORE, QRESYNC:
 * RFC 7162) CREATE (CREATE-SPECIAL-USE: RFC 6154) DELETE RENAME SUBSCRIBE
 * UNSUBSCRIBE STATUS (STATUS=SIZE: RFC 8438) NAMESPACE (RFC 2342) CHECK
 * CLOSE UNSELECT (RFC 3691) EXPUNGE / UID EXPUNGE (RFC 4315) IDLE
 * (RFC 2177), and the special-use folders of a first login.
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
	uint32_t bit;
	const char *name;
	const char *folder; /* created at first login, or NULL */
} special_uses[] = {
    {MSTORE_SU_ALL, "\\All", NULL},
    {MSTORE_SU_ARCHIVE, "\\Archive", "Archive"},
    {MSTORE_SU_DRAFTS, "\\Drafts", "Drafts"},
    {MSTORE_SU_FLAGGED, "\\Flagged", NULL},
    {MSTORE_SU_JUNK, "\\Junk", "Junk"},
    {MSTORE_SU_SENT, "\\Sent", "Sent"},
    {MSTORE_SU_TRASH, "\\Trash", "Trash"},
};
#define NSPECIAL (sizeof(special_uses) / sizeof(*special_uses))

void imap_special_use_write(struct strbuf *out, uint32_t su)
{
	for (size_t i = 0; i < NSPECIAL; i++)
		if (su & special_uses[i].bit) {
			strbuf_addc(out, ' ');
			strbuf_adds(out, special_uses[i].name);
		}
}

void imap_mailbox_provision(struct imap_session *s)
{
	struct mstore_mailbox *mbs = NULL;
	size_t n = 0;

	if (mstore_mailbox_list(s->st->ms, s->user, &mbs, &n) != MSTORE_OK)
		return;
	mstore_mailbox_list_free(&mbs, n);
	if (n > 1)
		return; /* not a first login: the user's choices stand */
	for (size_t i = 0; i < NSPECIAL; i++) {
		enum mstore_err e;

		if (special_uses[i].folder == NULL)
			continue;
		e = mstore_mailbox_create(s->st->ms, s->user,
					  special_uses[i].folder,
					  special_uses[i].bit, NULL);
		if (e == MSTORE_OK)
			mstore_subscribe(s->st->ms, s->user,
					 special_uses[i].folder, 1);
	}
}

/* Maps an engine error to a tagged NO with the RFC 5530 code. */
static void mstore_no(struct imap_session *s, enum mstore_err e)
{
	switch (e) {
	case MSTORE_E_NOMAILBOX:
		imap_no(s, "NONEXISTENT", "No such mailbox");
		break;
	case MSTORE_E_EXISTS:
		imap_no(s, "ALREADYEXISTS", "Mailbox already exists");
		break;
	case MSTORE_E_BADNAME:
		imap_no(s, "CANNOT", "Invalid mailbox name");
		break;
	case MSTORE_E_OVERQUOTA:
		imap_no(s, "OVERQUOTA", "Quota exceeded");
		break;
	case MSTORE_E_HASCHILDREN:
		imap_no(s, "INUSE", "Mailbox has children; delete them first");
		break;
	case MSTORE_E_LIMIT:
		imap_no(s, "LIMIT", "%s", mstore_strerror(e));
		break;
	case MSTORE_E_CANNOT:
		imap_no(s, "CANNOT", "%s", mstore_strerror(e));
		break;
	default:
		imap_no(s, "SERVERBUG", "%s", mstore_strerror(e));
		break;
	}
}

/* ---- SELECT / EXAMINE ---------------------------------------------------- */

struct select_opts {
	int condstore;
	int qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known;
};

static int parse_u64(const char *s, uint64_t *v_r)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	*v_r = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static int select_params(struct imap_session *s, const struct imap_arg *a,
			 struct select_opts *o)
{
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *p = &a->list[i];

		if (imap_arg_is_atom(p, "CONDSTORE")) {
			o->condstore = 1;
		} else if (imap_arg_is_atom(p, "QRESYNC") && i + 1 < a->count &&
			   a->list[i + 1].type == IMAP_ARG_LIST &&
			   a->list[i + 1].count >= 2) {
			const struct imap_arg *q = a->list[i + 1].list;
			uint64_t uv;
			const char *err;

			if (!(s->enabled & IMAP_EN_QRESYNC))
				return -1;
			if (parse_u64(imap_arg_string(&q[0]), &uv) < 0 ||
			    parse_u64(imap_arg_string(&q[1]), &o->modseq) < 0)
				return -1;
			o->uidvalidity = (uint32_t)uv;
			if (a->list[i + 1].count >= 3 &&
			    imap_seqset_parse(imap_arg_string(&q[2]), &o->known,
					      &err) < 0)
				return -1;
			o->qresync = 1;
			i++;
		} else {
			return -1;
		}
	}
	return 0;
}

static void qresync_report(struct imap_session *s, const struct select_opts *o,
			   const struct imap_view_info *vi)
{
	uint32_t *gone = NULL;
	size_t ngone = 0, k = 0;
	struct mstore_msg *ch = NULL;
	size_t nch = 0;
	struct strbuf b;

	if (o->uidvalidity != vi->uidvalidity)
		return;
	strbuf_init(&b);
	if (mstore_tombstones(s->st->ms, vi->mailbox_id, o->modseq, &gone,
			      &ngone) == MSTORE_OK) {
		for (size_t i = 0; i < ngone; i++)
			if (o->known.n == 0 ||
			    imap_seqset_contains(&o->known, gone[i],
						 UINT32_MAX))
				gone[k++] = gone[i];
		if (k > 0) {
			strbuf_adds(&b, "* VANISHED (EARLIER) ");
			imap_seqset_write(&b, gone, k);
			strbuf_add(&b, "\r\n", 2);
		}
	}
	free(gone);
	if (mstore_msg_list_changed(s->st->ms, vi->mailbox_id, o->modseq, &ch,
				    &nch) == MSTORE_OK) {
		for (size_t i = 0; i < nch; i++) {
			uint32_t msn = imap_view_msn(s->view, ch[i].uid);
			struct imap_view_msg m;

			/* flags as the view has them (\Seen per user), the
			 * modseq from the record: the view keeps none */
			if (imap_view_get(s->view, msn, &m) < 0)
				continue;
			strbuf_printf(&b, "* %u FETCH (UID %u FLAGS ", msn,
				      m.uid);
			imap_view_write_flags(s->view, &m, &b);
			strbuf_printf(&b, " MODSEQ (%llu))\r\n",
				      (unsigned long long)ch[i].modseq);
		}
	}
	free(ch);
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

static void select_responses(struct imap_session *s,
			     const struct select_opts *o)
{
	struct imap_view_info vi;
	struct strbuf b;

	imap_view_info(s->view, &vi);
	strbuf_init(&b);
	strbuf_adds(&b, "* FLAGS ");
	imap_view_write_flag_list(s->view, 0, &b);
	strbuf_printf(&b, "\r\n* %u EXISTS\r\n", imap_view_count(s->view));
	if (!(s->enabled & IMAP_EN_IMAP4REV2)) {
		strbuf_printf(&b, "* %u RECENT\r\n", vi.recent);
		if (vi.first_unseen != 0)
			strbuf_printf(&b, "* OK [UNSEEN %u] First unseen\r\n",
				      vi.first_unseen);
	}
	/* RFC 4314 4: only what this user may change; "()" read-only */
	strbuf_adds(&b, "* OK [PERMANENTFLAGS ");
	imap_view_write_flag_list(s->view, 1, &b);
	strbuf_printf(&b,
		      "] Limited\r\n* OK [UIDVALIDITY %u] UIDs valid\r\n"
		      "* OK [UIDNEXT %u] Predicted next UID\r\n"
		      "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		      vi.uidvalidity, vi.uidnext,
		      (unsigned long long)vi.highestmodseq);
	strbuf_adds(&b, "* OK [MAILBOXID ("); /* RFC 8474 4.2 */
	imap_objectid_mailbox(&b, vi.mailbox_id, vi.uidvalidity);
	strbuf_adds(&b, ")] Ok\r\n");
	if (s->enabled & IMAP_EN_IMAP4REV2) {
		strbuf_adds(&b, "* LIST () \"/\" ");
		imap_write_mailbox(s, &b, vi.name);
		strbuf_add(&b, "\r\n", 2);
	}
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	if (o->qresync)
		qresync_report(s, o, &vi);
}

void imap_cmd_select(struct imap_session *s, const struct imap_command *cmd)
{
	int readonly = strcmp(cmd->name, "EXAMINE") == 0;
	struct imap_view_info vi;
	struct select_opts o;
	char *name;
	int e;

	memset(&o, 0, sizeof(o));
	if (cmd->nargs == 2 && (cmd->args[1].type != IMAP_ARG_LIST ||
				select_params(s, &cmd->args[1], &o) < 0)) {
		imap_seqset_free(&o.known);
		imap_bad(s, NULL, "Invalid SELECT parameters");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL) {
		imap_seqset_free(&o.known);
		return;
	}
	if (s->state == IMAP_SELECTED) {
		imap_set_state(s, IMAP_AUTHENTICATED);
		/* RFC 7162 3.2.11: the old mailbox is closed */
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	if (o.condstore)
		s->enabled |= IMAP_EN_CONDSTORE;
	e = imap_view_open(s, name, readonly);
	free(name);
	if (e != MSTORE_OK) {
		imap_seqset_free(&o.known);
		imap_acl_no(s, e);
		return;
	}
	/* RFC 4314 4: read-only without a right to change anything */
	imap_view_info(s->view, &vi);
	readonly = vi.readonly;
	imap_set_state(s, IMAP_SELECTED);
	select_responses(s, &o);
	imap_seqset_free(&o.known);
	if (readonly)
		imap_ok(s, "READ-ONLY", "EXAMINE completed");
	else
		imap_ok(s, "READ-WRITE", "SELECT completed");
}

/* ---- CREATE DELETE RENAME SUBSCRIBE -------------------------------------- */

static int parse_use(const struct imap_arg *a, uint32_t *su_r)
{
	/* (USE (\Drafts ...)) */
	*su_r = 0;
	if (a->type != IMAP_ARG_LIST || a->count != 2 ||
	    !imap_arg_is_atom(&a->list[0], "USE") ||
	    a->list[1].type != IMAP_ARG_LIST)
		return -1;
	for (size_t i = 0; i < a->list[1].count; i++) {
		const char *f = imap_arg_string(&a->list[1].list[i]);
		size_t k;

		for (k = 0; f != NULL && k < NSPECIAL; k++)
			if (strcasecmp(f, special_uses[k].name) == 0)
				break;
		if (f == NULL || k == NSPECIAL)
			return -2;
		*su_r |= special_uses[k].bit;
	}
	return 0;
}

void imap_cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	uint32_t su = 0, id = 0;
	char *name, *owner, *local;
	enum mstore_err e;
	int r;

	if (cmd->nargs == 2 && (r = parse_use(&cmd->args[1], &su)) < 0) {
		if (r == -2)
			imap_no(s, "USEATTR",
				"Unsupported special-use "
				"attribute");
		else
			imap_bad(s, NULL, "Invalid CREATE parameters");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	/* RFC 4314 4: "k" on the parent; names in other users' trees */
	r = imap_acl_create_target(s, name, &owner, &local);
	free(name);
	if (r < 0)
		return;
	name = local;
	/* RFC 3501 6.3.3: create missing superiors */
	for (char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		e = mstore_mailbox_create(s->st->ms, owner, name, 0, NULL);
		*p = '/';
		if (e != MSTORE_OK && e != MSTORE_E_EXISTS) {
			free(name);
			free(owner);
			mstore_no(s, e);
			return;
		}
	}
	e = mstore_mailbox_create(s->st->ms, owner, name, su, &id);
	free(name);
	free(owner);
	if (e == MSTORE_E_LIMIT)
		imap_no(s, "LIMIT", "Too many mailboxes; delete some first");
	else if (e != MSTORE_OK)
		mstore_no(s, e);
	else
		imap_create_ok(s, id); /* with MAILBOXID (RFC 8474 4.1) */
}

/*
 * DELETE commits the mailbox's removal at once, then removes its message
 * records a step of up to 1,000 per turn of the loop (imap_job.c), so
 * deleting a folder of 30,000 messages does not hold up the store's
 * other sessions; the tagged OK comes after the last step.
 */
struct purge_job {
	uint32_t mailbox_id;
	enum mstore_err err;
};

static int purge_slice(struct imap_session *s, void *data)
{
	struct purge_job *j = data;
	int more = 0;

	j->err = mstore_mailbox_purge_step(s->st->ms, j->mailbox_id, &more);
	return j->err != MSTORE_OK || !more;
}

static void purge_finish(struct imap_session *s, void *data, unsigned slices)
{
	struct purge_job *j = data;

	if (slices > 0 || j->err != MSTORE_OK)
		log_info("event=imap_delete_sliced session=%s mailbox=%08x "
			 "slices=%u result=%s",
			 conn_id(s->c), j->mailbox_id, slices,
			 mstore_errcode(j->err));
	/* the mailbox is gone either way; records a failed step left are
	 * removed at the store's next start */
	if (!s->closing)
		imap_ok(s, NULL, "DELETE completed");
}

/* The session is going: the rest of the records now, as before slices. */
static void purge_abandon(struct imap_session *s, void *data)
{
	struct purge_job *j = data;
	int more = 1;

	while (more && mstore_mailbox_purge_step(s->st->ms, j->mailbox_id,
						 &more) == MSTORE_OK)
		;
}

static const struct imap_job_ops purge_ops = {
	"DELETE", purge_slice, purge_finish, purge_abandon, free,
};

void imap_cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	struct imap_view_info vi;
	struct mstore_mailbox mb;
	struct purge_job *j;
	uint32_t id = 0;
	char *name;
	enum mstore_err e;
	int r;

	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	/* RFC 4314 4: DELETE needs "x" */
	memset(&mb, 0, sizeof(mb));
	if ((r = imap_acl_mailbox(s, name, "x", &mb, NULL)) != MSTORE_OK) {
		free(name);
		imap_acl_no(s, r);
		return;
	}
	if (strcmp(mb.name, "INBOX") == 0) {
		mstore_mailbox_clear(&mb);
		free(name);
		imap_no(s, "CANNOT", "INBOX cannot be deleted");
		return;
	}
	e = mstore_mailbox_delete_begin(s->st->ms, mb.owner, mb.name, &id);
	mstore_mailbox_clear(&mb);
	if (e == MSTORE_OK && s->view != NULL) {
		imap_view_info(s->view, &vi);
		if (strcmp(vi.name, name) == 0) {
			imap_set_state(s, IMAP_AUTHENTICATED);
			imap_untagged(s, "OK [CLOSED] Mailbox deleted");
		}
	}
	free(name);
	if (e != MSTORE_OK) {
		mstore_no(s, e);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->mailbox_id = id;
	imap_job_run(s, &purge_ops, j);
}

void imap_cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	struct mstore_mailbox mb;
	char *from, *to, *owner, *local;
	enum mstore_err e;
	int r;

	if ((from = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	if ((to = imap_mailbox_arg(s, &cmd->args[1])) == NULL) {
		free(from);
		return;
	}
	/* RFC 4314 4: "x" on the old name, "k" on the new parent */
	r = imap_acl_mailbox(s, from, "x", &mb, NULL);
	free(from);
	if (r != MSTORE_OK) {
		free(to);
		imap_acl_no(s, r);
		return;
	}
	r = imap_acl_create_target(s, to, &owner, &local);
	free(to);
	if (r < 0) {
		mstore_mailbox_clear(&mb);
		return;
	}
	if (strcasecmp(owner, mb.owner) != 0) {
		mstore_mailbox_clear(&mb);
		free(owner);
		free(local);
		imap_no(s, "CANNOT", "Cannot rename into another user's tree");
		return;
	}
	from = xstrdup(mb.name);
	to = local;
	mstore_mailbox_clear(&mb);
	/* RFC 3501 6.3.5: superiors of the new name are created */
	for (char *p = strchr(to, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (strcmp(to, from) != 0)
			mstore_mailbox_create(s->st->ms, owner, to, 0, NULL);
		*p = '/';
	}
	e = mstore_mailbox_rename(s->st->ms, owner, from, to);
	free(owner);
	free(from);
	free(to);
	if (e != MSTORE_OK)
		mstore_no(s, e);
	else
		imap_ok(s, NULL, "RENAME completed");
}

void imap_cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	int sub = strcmp(cmd->name, "SUBSCRIBE") == 0;
	char *name;
	enum mstore_err e;

	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	if (sub) {
		struct mstore_mailbox mb;
		int r = imap_acl_mailbox(s, name, "", &mb, NULL);

		if (r != MSTORE_OK) {
			free(name);
			imap_acl_no(s, r);
			return;
		}
		mstore_mailbox_clear(&mb);
	}
	e = mstore_subscribe(s->st->ms, s->user, name, sub);
	free(name);
	if (e != MSTORE_OK)
		mstore_no(s, e);
	else
		imap_ok(s, NULL, "%s completed", cmd->name);
}

/* ---- STATUS -------------------------------------------------------------- */

/*
 * UNSEEN of mailbox mb as this user sees it.  The engine counts the
 * owner's \Seen; on another user's mailbox \Seen is the caller's own
 * (imap_acl.h, as in the view), so count the messages outside the
 * caller's stored set.
 */
static uint32_t status_unseen(struct imap_session *s,
			      const struct mstore_mailbox *mb)
{
	struct mstore_msg *msgs = NULL;
	struct imap_seqset set;
	const char *err;
	char *str = NULL;
	size_t n = 0;
	uint32_t unseen = 0;

	if (strcasecmp(mb->owner, s->user) == 0)
		return mb->unseen;
	memset(&set, 0, sizeof(set));
	if (mstore_seen_get(s->st->ms, s->user, mb->id, &str) != MSTORE_OK ||
	    (*str != '\0' && imap_seqset_parse(str, &set, &err) < 0)) {
		free(str);
		return mb->messages;
	}
	free(str);
	if (mstore_msg_list(s->st->ms, mb->id, &msgs, &n) != MSTORE_OK)
		n = 0;
	for (size_t i = 0; i < n; i++)
		unseen += set.n == 0 ||
			  !imap_seqset_contains(&set, msgs[i].uid, UINT32_MAX);
	free(msgs);
	imap_seqset_free(&set);
	return unseen;
}

int imap_status_items(struct imap_session *s, const struct imap_arg *list,
		      const struct mstore_mailbox *mb, struct strbuf *out)
{
	strbuf_addc(out, '(');
	for (size_t i = 0; i < list->count; i++) {
		const char *it = imap_arg_string(&list->list[i]);

		if (it == NULL || list->list[i].type != IMAP_ARG_ATOM)
			return -1;
		if (i > 0)
			strbuf_addc(out, ' ');
		if (strcasecmp(it, "MESSAGES") == 0)
			strbuf_printf(out, "MESSAGES %u", mb->messages);
		else if (strcasecmp(it, "UIDNEXT") == 0)
			strbuf_printf(out, "UIDNEXT %u", mb->uidnext);
		else if (strcasecmp(it, "UIDVALIDITY") == 0)
			strbuf_printf(out, "UIDVALIDITY %u", mb->uidvalidity);
		else if (strcasecmp(it, "UNSEEN") == 0)
			strbuf_printf(out, "UNSEEN %u", status_unseen(s, mb));
		else if (strcasecmp(it, "DELETED") == 0)
			strbuf_printf(out, "DELETED %u", mb->deleted);
		else if (strcasecmp(it, "RECENT") == 0)
			strbuf_printf(out, "RECENT %u",
				      imap_view_status_recent(s, mb));
		else if (strcasecmp(it, "MAILBOXID") == 0) {
			strbuf_adds(out, "MAILBOXID (");
			imap_objectid_mailbox(out, mb->id, mb->uidvalidity);
			strbuf_addc(out, ')');
		}
		else if (strcasecmp(it, "SIZE") == 0)
			strbuf_printf(out, "SIZE %llu",
				      (unsigned long long)mb->bytes);
		else if (strcasecmp(it, "HIGHESTMODSEQ") == 0)
			strbuf_printf(out, "HIGHESTMODSEQ %llu",
				      (unsigned long long)mb->highestmodseq);
		else
			return -1;
	}
	strbuf_addc(out, ')');
	return 0;
}

void imap_cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	struct mstore_mailbox mb;
	struct strbuf b;
	char *name;
	int e;

	if (cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].count == 0) {
		imap_bad(s, NULL, "STATUS mailbox (items)");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	/* RFC 4314 4: STATUS needs "r" */
	e = imap_acl_mailbox(s, name, "r", &mb, NULL);
	if (e != MSTORE_OK) {
		free(name);
		imap_acl_no(s, e);
		return;
	}
	strbuf_init(&b);
	strbuf_adds(&b, "* STATUS ");
	imap_write_mailbox(s, &b, name);
	strbuf_addc(&b, ' ');
	if (imap_status_items(s, &cmd->args[1], &mb, &b) < 0) {
		strbuf_free(&b);
		mstore_mailbox_clear(&mb);
		free(name);
		imap_bad(s, NULL, "Unknown STATUS item");
		return;
	}
	strbuf_add(&b, "\r\n", 2);
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	mstore_mailbox_clear(&mb);
	free(name);
	imap_ok(s, NULL, "STATUS completed");
}

void imap_cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	/* RFC 2342: personal, other users', shared (imap_acl.h) */
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) ((\"" IMAP_NS_OTHER
			 "/\" \"/\")) ((\"" IMAP_NS_SHARED "/\" \"/\"))");
	imap_ok(s, NULL, "NAMESPACE completed");
}

/* ---- CHECK CLOSE UNSELECT EXPUNGE ---------------------------------------- */

void imap_cmd_check(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_ok(s, NULL, "CHECK completed");
}

/*
 * EXPUNGE and CLOSE, IMAP_EXPUNGE_SLICE messages per slice (imap_job.c):
 * a user emptying a huge Trash holds the other sessions of the store for
 * one slice at a time.
 */
#define IMAP_EXPUNGE_SLICE 1000

struct expunge_job {
	uint32_t mailbox_id;
	uint32_t *uids;		/* to expunge, ascending */
	size_t n, next;
	size_t ngone;		/* expunged so far */
	enum mstore_err err;
	int close;		/* CLOSE: silently, then leave the mailbox */
};

/* The UIDs of the view's \Deleted messages (restricted to uidset). */
static uint32_t *deleted_uids(struct imap_session *s,
			      const struct imap_seqset *uidset, size_t *n_r)
{
	uint32_t n = imap_view_count(s->view), k = 0, *uids;

	imap_view_sync(s, 0);
	uids = xcalloc(n + 1, sizeof(*uids));
	for (uint32_t i = 1; i <= n; i++) {
		struct imap_view_msg m;

		if (imap_view_get(s->view, i, &m) < 0 ||
		    !(m.flags & MSTORE_F_DELETED) || m.expunged)
			continue;
		if (uidset != NULL &&
		    !imap_seqset_contains(uidset, m.uid, UINT32_MAX))
			continue;
		uids[k++] = m.uid;
	}
	*n_r = k;
	return uids;
}

static int expunge_slice(struct imap_session *s, void *data)
{
	struct expunge_job *j = data;
	size_t k = j->n - j->next < IMAP_EXPUNGE_SLICE ? j->n - j->next
						       : IMAP_EXPUNGE_SLICE;
	uint32_t *gone = NULL;
	size_t ngone = 0;

	if (k == 0)
		return 1;
	j->err = mstore_expunge(s->st->ms, j->mailbox_id, j->uids + j->next,
				k, &gone, &ngone);
	/* EXPUNGE reports each slice as it goes (untagged EXPUNGEs may
	 * come at any time during the command), so that neither the view's
	 * work nor the replies pile up at the end; CLOSE reports nothing */
	if (!j->close && ngone > 0)
		imap_view_expunged(s, gone, ngone);
	j->ngone += ngone;
	free(gone);
	j->next += k;
	return j->err != MSTORE_OK || j->next == j->n;
}

static void expunge_finish(struct imap_session *s, void *data,
			   unsigned slices)
{
	struct expunge_job *j = data;

	if (slices > 0)
		log_info("event=imap_expunge_sliced session=%s mailbox=%08x "
			 "messages=%zu slices=%u result=%s",
			 conn_id(s->c), j->mailbox_id, j->ngone, slices,
			 mstore_errcode(j->err));
	if (s->closing)
		return;
	if (j->close) {
		if (j->err != MSTORE_OK)
			log_warnx("event=imap_close_expunge_failed session=%s",
				  conn_id(s->c));
		imap_set_state(s, IMAP_AUTHENTICATED);
		imap_ok(s, NULL, "CLOSE completed");
	} else if (j->err != MSTORE_OK) {
		/* what was expunged is reported already */
		mstore_no(s, j->err);
	} else {
		imap_ok(s, NULL, "EXPUNGE completed");
	}
}

static void expunge_free(void *data)
{
	struct expunge_job *j = data;

	free(j->uids);
	free(j);
}

static const struct imap_job_ops expunge_ops = {
	"EXPUNGE", expunge_slice, expunge_finish, NULL, expunge_free,
};

/* Expunges the view's \Deleted messages in uidset (NULL: all of them);
 * the reply comes now or after the last slice. */
static void expunge_start(struct imap_session *s,
			  const struct imap_seqset *uidset, int close)
{
	struct expunge_job *j = xcalloc(1, sizeof(*j));
	struct imap_view_info vi;

	imap_view_info(s->view, &vi);
	j->mailbox_id = vi.mailbox_id;
	j->close = close;
	j->uids = deleted_uids(s, uidset, &j->n);
	imap_job_run(s, &expunge_ops, j);
}

void imap_cmd_close(struct imap_session *s, const struct imap_command *cmd)
{
	struct imap_view_info vi;

	(void)cmd;
	imap_view_info(s->view, &vi);
	/* RFC 3501 6.4.2: silently, and not when read-only */
	if (!vi.readonly && (imap_view_rights(s->view) & imap_right('e'))) {
		expunge_start(s, NULL, 1);
		return;
	}
	imap_set_state(s, IMAP_AUTHENTICATED);
	imap_ok(s, NULL, "CLOSE completed");
}

void imap_cmd_unselect(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_set_state(s, IMAP_AUTHENTICATED);
	imap_ok(s, NULL, "UNSELECT completed");
}

void imap_cmd_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	struct imap_view_info vi;
	struct imap_seqset set;
	const char *err;

	imap_view_info(s->view, &vi);
	if (vi.readonly) {
		imap_no(s, "READ-ONLY", "Mailbox is read-only");
		return;
	}
	if (!(imap_view_rights(s->view) & imap_right('e'))) {
		imap_no(s, "NOPERM", "EXPUNGE needs the \"e\" right");
		return;
	}
	memset(&set, 0, sizeof(set));
	if (cmd->uid && (imap_seqset_parse(imap_arg_string(&cmd->args[0]), &set,
					   &err) < 0 ||
			 set.saved)) {
		imap_seqset_free(&set);
		imap_bad(s, NULL, "Invalid UID set");
		return;
	}
	expunge_start(s, cmd->uid ? &set : NULL, 0);
	imap_seqset_free(&set);
}

/* ---- IDLE ---------------------------------------------------------------- */

void imap_cmd_idle(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	s->input = IMAP_INPUT_IDLE;
	conn_puts(s->c, "+ idling\r\n");
	imap_view_set_idle(s, 1);
}

void imap_idle_line(struct imap_session *s, const char *line)
{
	imap_view_set_idle(s, 0);
	s->input = IMAP_INPUT_COMMAND;
	if (strcasecmp(line, "DONE") != 0) {
		imap_bad(s, NULL, "Expected DONE");
		return;
	}
	imap_ok(s, NULL, "IDLE terminated");
}
