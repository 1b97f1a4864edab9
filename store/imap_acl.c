/*
 * imap_acl.c - the ACL commands (RFC 4314 3: SETACL DELETEACL GETACL
 * LISTRIGHTS MYRIGHTS) and the QUOTA commands (RFC 9208 4: GETQUOTA
 * GETQUOTAROOT SETQUOTA).  Who may do what is decided in imap_rights.c.
 *
 * Quota roots: one per user, named by the user ("alice@example.com");
 * "" also names the session user's own root.  STORAGE is in units of
 * 1024 octets (RFC 9208 5.1), MESSAGE counts messages (5.2).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailstore.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

/* ---- shared with the control socket --------------------------------------- */

int imap_acl_identifier_norm(const char *in, char *out, size_t size)
{
	size_t n = strlen(in);

	if (n == 0 || n >= size || n > MSTORE_USER_MAX + 1 ||
	    (in[0] == '-' && in[1] == '\0'))
		return -1;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c != '\0' && (c <= ' ' || c == 0x7f || c == '"' ||
				  c == '\\' || c == '(' || c == ')'))
			return -1;
		out[i] = (char)tolower(c);
	}
	return 0;
}

int imap_acl_modify(struct mstore *ms, uint32_t mailbox_id,
		    const char *identifier, const char *modrights)
{
	struct mstore_acl_entry *acl = NULL;
	char id[MSTORE_USER_MAX + 2];
	uint32_t cur = 0, m;
	size_t n = 0;
	struct strbuf b;
	char op = modrights[0];
	int e;

	if (imap_acl_identifier_norm(identifier, id, sizeof(id)) < 0 ||
	    imap_rights_parse(op == '+' || op == '-' ? modrights + 1 : modrights,
			      &m) < 0)
		return MSTORE_E_INVAL;
	if (op == '+' || op == '-') {
		e = mstore_acl_get(ms, mailbox_id, &acl, &n);
		if (e != MSTORE_OK)
			return e;
		for (size_t i = 0; i < n; i++)
			if (strcasecmp(acl[i].identifier, id) == 0)
				(void)imap_rights_parse(acl[i].rights, &cur);
		mstore_acl_free(&acl, n);
		m = op == '+' ? cur | m : cur & ~m;
	}
	strbuf_init(&b);
	strbuf_adds(&b, "");
	for (size_t i = 0; IMAP_RIGHTS_ALL[i] != '\0'; i++)
		if (m & (1u << i))
			strbuf_addc(&b, IMAP_RIGHTS_ALL[i]);
	e = mstore_acl_set(ms, mailbox_id, id, b.len > 0 ? b.data : NULL);
	strbuf_free(&b);
	return e;
}

/* ---- ACL ------------------------------------------------------------------ */

/* The mailbox argument with the rights in need; NULL after a NO/BAD. */
static char *acl_mailbox(struct imap_session *s, const struct imap_arg *a,
			 const char *need, struct mstore_mailbox *mb_r,
			 uint32_t *rights_r)
{
	char *name = imap_mailbox_arg(s, a);
	int e;

	if (name == NULL)
		return NULL;
	e = imap_acl_mailbox(s, name, need, mb_r, rights_r);
	if (e != MSTORE_OK) {
		free(name);
		imap_acl_no(s, e);
		return NULL;
	}
	return name;
}

static void acl_set(struct imap_session *s, const struct imap_command *cmd,
		    const char *rights)
{
	struct mstore_mailbox mb;
	const char *id = imap_arg_string(&cmd->args[1]);
	char *name;
	int e;

	if (id == NULL || rights == NULL) {
		imap_bad(s, NULL, "Invalid %s arguments", cmd->name);
		return;
	}
	if ((name = acl_mailbox(s, &cmd->args[0], "a", &mb, NULL)) == NULL)
		return;
	e = imap_acl_modify(s->st->ms, mb.id, id, rights);
	mstore_mailbox_clear(&mb);
	free(name);
	if (e == MSTORE_E_INVAL)
		imap_bad(s, NULL, "Invalid identifier or rights");
	else if (e != MSTORE_OK)
		imap_acl_no(s, e);
	else
		imap_ok(s, NULL, "%s completed", cmd->name);
}

void imap_cmd_setacl(struct imap_session *s, const struct imap_command *cmd)
{
	acl_set(s, cmd, imap_arg_string(&cmd->args[2]));
}

void imap_cmd_deleteacl(struct imap_session *s, const struct imap_command *cmd)
{
	acl_set(s, cmd, "");
}

void imap_cmd_getacl(struct imap_session *s, const struct imap_command *cmd)
{
	struct mstore_mailbox mb;
	struct mstore_acl_entry *acl = NULL;
	size_t n = 0;
	struct strbuf b;
	char *name;
	int e;

	if ((name = acl_mailbox(s, &cmd->args[0], "a", &mb, NULL)) == NULL)
		return;
	e = mstore_acl_get(s->st->ms, mb.id, &acl, &n);
	if (e != MSTORE_OK) {
		mstore_mailbox_clear(&mb);
		free(name);
		imap_acl_no(s, e);
		return;
	}
	strbuf_init(&b);
	strbuf_adds(&b, "* ACL ");
	imap_write_mailbox(s, &b, name);
	/* the owner's implicit rights first */
	strbuf_addc(&b, ' ');
	imap_write_string(&b, mb.owner, strlen(mb.owner));
	strbuf_adds(&b, " \"");
	imap_rights_write(IMAP_R_MASK, &b);
	strbuf_addc(&b, '"');
	for (size_t i = 0; i < n; i++) {
		uint32_t m = 0;

		(void)imap_rights_parse(acl[i].rights, &m);
		strbuf_addc(&b, ' ');
		imap_write_string(&b, acl[i].identifier,
				  strlen(acl[i].identifier));
		strbuf_adds(&b, " \"");
		imap_rights_write(m, &b);
		strbuf_addc(&b, '"');
	}
	strbuf_add(&b, "\r\n", 2);
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	mstore_acl_free(&acl, n);
	mstore_mailbox_clear(&mb);
	free(name);
	imap_ok(s, NULL, "GETACL completed");
}

void imap_cmd_listrights(struct imap_session *s,
			 const struct imap_command *cmd)
{
	struct mstore_mailbox mb;
	const char *id = imap_arg_string(&cmd->args[1]);
	struct strbuf b;
	char *name;

	if (id == NULL) {
		imap_bad(s, NULL, "Invalid LISTRIGHTS arguments");
		return;
	}
	if ((name = acl_mailbox(s, &cmd->args[0], "a", &mb, NULL)) == NULL)
		return;
	strbuf_init(&b);
	strbuf_adds(&b, "* LISTRIGHTS ");
	imap_write_mailbox(s, &b, name);
	strbuf_addc(&b, ' ');
	imap_write_string(&b, id, strlen(id));
	if (strcasecmp(id, mb.owner) == 0) {
		/* RFC 4314 3.7: the owner always holds every right */
		strbuf_addc(&b, ' ');
		imap_rights_write(IMAP_R_MASK, &b);
	} else {
		/* nothing granted by default; each right on its own, and
		 * the obsolete c and d as their groups */
		strbuf_adds(&b, " \"\"");
		for (size_t i = 0; IMAP_RIGHTS_ALL[i] != '\0'; i++)
			strbuf_printf(&b, " %c", IMAP_RIGHTS_ALL[i]);
		strbuf_adds(&b, " c d");
	}
	strbuf_add(&b, "\r\n", 2);
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	mstore_mailbox_clear(&mb);
	free(name);
	imap_ok(s, NULL, "LISTRIGHTS completed");
}

void imap_cmd_myrights(struct imap_session *s, const struct imap_command *cmd)
{
	struct mstore_mailbox mb;
	uint32_t rights = 0;
	struct strbuf b;
	char *name;

	/* RFC 4314 3.8: any right will do */
	if ((name = acl_mailbox(s, &cmd->args[0], "", &mb, &rights)) == NULL)
		return;
	strbuf_init(&b);
	strbuf_adds(&b, "* MYRIGHTS ");
	imap_write_mailbox(s, &b, name);
	strbuf_adds(&b, " \"");
	imap_rights_write(rights, &b);
	strbuf_adds(&b, "\"\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	mstore_mailbox_clear(&mb);
	free(name);
	imap_ok(s, NULL, "MYRIGHTS completed");
}

/* ---- QUOTA ---------------------------------------------------------------- */

static void quota_write(struct imap_session *s, const char *root,
			const struct mstore_quota *q)
{
	struct strbuf b;
	const char *sep = "";

	strbuf_init(&b);
	strbuf_adds(&b, "* QUOTA ");
	imap_write_string(&b, root, strlen(root));
	strbuf_adds(&b, " (");
	if (q->bytes_limit != 0) {
		strbuf_printf(&b, "STORAGE %llu %llu",
			      (unsigned long long)(q->bytes_used + 1023) / 1024,
			      (unsigned long long)q->bytes_limit / 1024);
		sep = " ";
	}
	if (q->messages_limit != 0)
		strbuf_printf(&b, "%sMESSAGE %llu %llu", sep,
			      (unsigned long long)q->messages_used,
			      (unsigned long long)q->messages_limit);
	strbuf_adds(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

/* The user a root names ("" = the session user), or NULL after a NO. */
static const char *quota_root(struct imap_session *s, const char *root,
			      int need_admin)
{
	const char *user = *root == '\0' ? s->user : root;

	if (need_admin ? !imap_acl_is_admin(s)
		       : strcasecmp(user, s->user) != 0 &&
			     !imap_acl_is_admin(s)) {
		imap_no(s, "NOPERM", "%s", need_admin
						 ? "Only an admin may set quota"
						 : "Not your quota root");
		return NULL;
	}
	if (mstore_user_exists(s->st->ms, user) != MSTORE_OK) {
		imap_no(s, "NONEXISTENT", "No such quota root");
		return NULL;
	}
	return user;
}

void imap_cmd_getquota(struct imap_session *s, const struct imap_command *cmd)
{
	const char *root = imap_arg_string(&cmd->args[0]), *user;
	struct mstore_quota q;
	enum mstore_err e;

	if (root == NULL) {
		imap_bad(s, NULL, "Quota root expected");
		return;
	}
	if ((user = quota_root(s, root, 0)) == NULL)
		return;
	e = mstore_quota_get(s->st->ms, user, &q);
	if (e != MSTORE_OK) {
		imap_acl_no(s, e);
		return;
	}
	quota_write(s, root, &q);
	imap_ok(s, NULL, "GETQUOTA completed");
}

void imap_cmd_getquotaroot(struct imap_session *s,
			   const struct imap_command *cmd)
{
	struct mstore_mailbox mb;
	struct mstore_quota q;
	struct strbuf b;
	char *name;

	if ((name = acl_mailbox(s, &cmd->args[0], "", &mb, NULL)) == NULL)
		return;
	strbuf_init(&b);
	strbuf_adds(&b, "* QUOTAROOT ");
	imap_write_mailbox(s, &b, name);
	strbuf_addc(&b, ' ');
	imap_write_string(&b, mb.owner, strlen(mb.owner));
	strbuf_add(&b, "\r\n", 2);
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	if (mstore_quota_get(s->st->ms, mb.owner, &q) == MSTORE_OK)
		quota_write(s, mb.owner, &q);
	mstore_mailbox_clear(&mb);
	free(name);
	imap_ok(s, NULL, "GETQUOTAROOT completed");
}

static int quota_number(const struct imap_arg *a, uint64_t *v_r)
{
	const char *str = imap_arg_string(a);
	char *end;

	if (str == NULL || a->type != IMAP_ARG_ATOM ||
	    !isdigit((unsigned char)*str))
		return -1;
	errno = 0;
	*v_r = strtoull(str, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

void imap_cmd_setquota(struct imap_session *s, const struct imap_command *cmd)
{
	const char *root = imap_arg_string(&cmd->args[0]), *user;
	const struct imap_arg *l = &cmd->args[1];
	uint64_t bytes = 0, msgs = 0, v;
	struct mstore_quota q;
	enum mstore_err e;

	if (root == NULL || l->type != IMAP_ARG_LIST || l->count % 2 != 0) {
		imap_bad(s, NULL, "SETQUOTA root (resource limit ...)");
		return;
	}
	for (size_t i = 0; i < l->count; i += 2) {
		if (quota_number(&l->list[i + 1], &v) < 0) {
			imap_bad(s, NULL, "Invalid quota limit");
			return;
		}
		/* RFC 9208 4.1.3: resources not named lose their limit */
		if (imap_arg_is_atom(&l->list[i], "STORAGE") &&
		    v <= UINT64_MAX / 1024) {
			bytes = v * 1024;
		} else if (imap_arg_is_atom(&l->list[i], "MESSAGE")) {
			msgs = v;
		} else {
			imap_no(s, NULL, "Unsupported quota resource");
			return;
		}
	}
	if ((user = quota_root(s, root, 1)) == NULL)
		return;
	e = mstore_quota_set(s->st->ms, user, bytes, msgs);
	if (e == MSTORE_OK)
		e = mstore_quota_get(s->st->ms, user, &q);
	if (e != MSTORE_OK) {
		imap_acl_no(s, e);
		return;
	}
	quota_write(s, root, &q);
	imap_ok(s, NULL, "SETQUOTA completed");
}
