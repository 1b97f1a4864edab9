/*
 * imap_rights.c - who may do what (imap_acl.h): RFC 4314 rights strings,
 * the namespaces of RFC 2342 ("Other Users/", "Shared Folders/"), the
 * rights of a session on a mailbox, and STORE filtered by those rights.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "mailstore.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/store.h"

#define NS_OTHER_LEN (sizeof(IMAP_NS_OTHER) - 1)
#define NS_SHARED_LEN (sizeof(IMAP_NS_SHARED) - 1)

/* ---- rights strings (RFC 4314 2.1) --------------------------------------- */

uint32_t imap_right(char c)
{
	const char *p = strchr(IMAP_RIGHTS_ALL, c);

	return c != '\0' && p != NULL ? 1u << (p - IMAP_RIGHTS_ALL) : 0;
}

int imap_rights_parse(const char *s, uint32_t *mask_r)
{
	uint32_t m = 0;

	for (; *s != '\0'; s++) {
		if (*s == 'c')
			m |= imap_right('k'); /* 2.1.1: obsolete "create" */
		else if (*s == 'd')
			m |= imap_right('x') | imap_right('t') |
			     imap_right('e'); /* obsolete "delete" */
		else if (imap_right(*s) != 0)
			m |= imap_right(*s);
		else if (!isdigit((unsigned char)*s)) /* 2.1: "0".."9" */
			return -1;
	}
	*mask_r = m;
	return 0;
}

void imap_rights_write(uint32_t mask, struct strbuf *out)
{
	for (size_t i = 0; IMAP_RIGHTS_ALL[i] != '\0'; i++)
		if (mask & (1u << i))
			strbuf_addc(out, IMAP_RIGHTS_ALL[i]);
	/* 2.1.1: the obsolete rights for clients of RFC 2086 */
	if (mask & imap_right('k'))
		strbuf_addc(out, 'c');
	if (mask & (imap_right('x') | imap_right('t') | imap_right('e')))
		strbuf_addc(out, 'd');
}

/* ---- identities ------------------------------------------------------------ */

int imap_acl_is_admin(struct imap_session *s)
{
	const char *list = config_get(s->st->sec, "admin_identities", "");
	size_t ulen;

	if (s->user == NULL)
		return 0;
	ulen = strlen(s->user);
	while (*list != '\0') {
		size_t n;

		list += strspn(list, " \t,");
		n = strcspn(list, " \t,");
		if (n == ulen && n > 0 && strncasecmp(list, s->user, n) == 0)
			return 1;
		list += n;
	}
	return 0;
}

/* "shared@<domain of the session user>" (allocated). */
static char *shared_user(struct imap_session *s)
{
	const char *at = strchr(s->user, '@');

	return at != NULL ? xasprintf("%s%s", IMAP_SHARED_LOCAL, at)
			  : xstrdup(IMAP_SHARED_LOCAL);
}

static int is_prefix(const char *name, const char *ns, size_t len)
{
	return strncmp(name, ns, len) == 0 &&
	       (name[len] == '\0' || name[len] == '/');
}

/* INBOX is case-insensitive in every tree (RFC 3501 5.1). */
static char *local_name(const char *s)
{
	char *out = xstrdup(s);

	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return out;
}

int imap_acl_split(struct imap_session *s, const char *name, char **owner_r,
		   char **local_r)
{
	*owner_r = *local_r = NULL;
	if (is_prefix(name, IMAP_NS_OTHER, NS_OTHER_LEN)) {
		const char *u = name + NS_OTHER_LEN, *slash;

		if (*u == '\0' || u[1] == '\0')
			return MSTORE_E_NOMAILBOX;
		u++;
		slash = strchr(u, '/');
		if (slash == NULL || slash == u || slash[1] == '\0')
			return MSTORE_E_NOMAILBOX;
		*owner_r = xstrndup(u, (size_t)(slash - u));
		for (char *p = *owner_r; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		*local_r = local_name(slash + 1);
		return MSTORE_OK;
	}
	if (is_prefix(name, IMAP_NS_SHARED, NS_SHARED_LEN)) {
		if (name[NS_SHARED_LEN] == '\0' ||
		    name[NS_SHARED_LEN + 1] == '\0')
			return MSTORE_E_NOMAILBOX;
		*owner_r = shared_user(s);
		*local_r = local_name(name + NS_SHARED_LEN + 1);
		return MSTORE_OK;
	}
	*owner_r = xstrdup(s->user);
	*local_r = xstrdup(name);
	return MSTORE_OK;
}

void imap_acl_display_name(struct imap_session *s, const char *owner,
			   const char *local, struct strbuf *out)
{
	char *su;

	if (strcasecmp(owner, s->user) == 0) {
		strbuf_adds(out, local);
		return;
	}
	su = shared_user(s);
	if (strcasecmp(owner, su) == 0)
		strbuf_printf(out, "%s/%s", IMAP_NS_SHARED, local);
	else
		strbuf_printf(out, "%s/%s/%s", IMAP_NS_OTHER, owner, local);
	free(su);
}

/* ---- rights of a session --------------------------------------------------- */

uint32_t imap_acl_rights(struct imap_session *s, const struct mstore_mailbox *mb)
{
	struct mstore_acl_entry *acl = NULL;
	uint32_t pos = 0, neg = 0;
	size_t n = 0;

	if (strcasecmp(mb->owner, s->user) == 0 || imap_acl_is_admin(s))
		return IMAP_R_MASK;
	if (mstore_acl_get(s->st->ms, mb->id, &acl, &n) != MSTORE_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *id = acl[i].identifier;
		int negative = id[0] == '-';
		uint32_t m;

		if (negative)
			id++;
		if (strcasecmp(id, s->user) != 0 && strcmp(id, "anyone") != 0)
			continue;
		if (imap_rights_parse(acl[i].rights, &m) < 0)
			continue;
		if (negative)
			neg |= m;
		else
			pos |= m;
	}
	mstore_acl_free(&acl, n);
	return pos & ~neg; /* RFC 4314 2: negative rights win */
}

static int rights_need(const char *need, uint32_t *mask_r)
{
	return imap_rights_parse(need != NULL ? need : "", mask_r);
}

int imap_acl_mailbox(struct imap_session *s, const char *name,
		     const char *need, struct mstore_mailbox *mb_r,
		     uint32_t *rights_r)
{
	char *owner, *local;
	uint32_t rights, want = 0;
	int e;

	memset(mb_r, 0, sizeof(*mb_r));
	if (rights_r != NULL)
		*rights_r = 0;
	e = imap_acl_split(s, name, &owner, &local);
	if (e == MSTORE_OK)
		e = mstore_mailbox_get(s->st->ms, owner, local, mb_r);
	free(owner);
	free(local);
	if (e == MSTORE_E_NOUSER || e == MSTORE_E_BADNAME)
		e = MSTORE_E_NOMAILBOX;
	if (e != MSTORE_OK)
		return e;
	rights = imap_acl_rights(s, mb_r);
	(void)rights_need(need, &want);
	if (rights_r != NULL)
		*rights_r = rights;
	if (rights == 0 || (rights & want) != want) {
		mstore_mailbox_clear(mb_r);
		return rights == 0 ? MSTORE_E_NOMAILBOX : IMAP_ACL_E_NOPERM;
	}
	return MSTORE_OK;
}

void imap_acl_no(struct imap_session *s, int err)
{
	switch (err) {
	case IMAP_ACL_E_NOPERM:
		imap_no(s, "NOPERM", "Permission denied");
		break;
	case MSTORE_E_NOMAILBOX:
		imap_no(s, "NONEXISTENT", "No such mailbox");
		break;
	case MSTORE_E_EXISTS:
		imap_no(s, "ALREADYEXISTS", "Mailbox already exists");
		break;
	case MSTORE_E_BADNAME:
		imap_no(s, "CANNOT", "Invalid mailbox name");
		break;
	case MSTORE_E_CANNOT:
		imap_no(s, "CANNOT", "%s", mstore_strerror(MSTORE_E_CANNOT));
		break;
	default:
		imap_no(s, "SERVERBUG", "%s",
			mstore_strerror((enum mstore_err)err));
		break;
	}
}

int imap_acl_create_target(struct imap_session *s, const char *name,
			   char **owner_r, char **local_r)
{
	struct mstore_mailbox mb;
	char *slash;
	uint32_t rights;
	int e;

	if (imap_acl_split(s, name, owner_r, local_r) != MSTORE_OK) {
		imap_no(s, "CANNOT", "A namespace prefix is not a mailbox");
		return -1;
	}
	if (strcasecmp(*owner_r, s->user) == 0)
		return 0;
	if (imap_acl_is_admin(s)) {
		/* the shared-folder pseudo-user comes with its first folder */
		if (mstore_user_exists(s->st->ms, *owner_r) == MSTORE_E_NOUSER &&
		    strncmp(*owner_r, IMAP_SHARED_LOCAL "@",
			    sizeof(IMAP_SHARED_LOCAL)) == 0)
			(void)mstore_user_create(s->st->ms, *owner_r);
		return 0;
	}
	/* RFC 4314 4: CREATE needs "k" on the parent */
	slash = strrchr(*local_r, '/');
	e = MSTORE_E_NOMAILBOX;
	rights = 0;
	memset(&mb, 0, sizeof(mb));
	if (slash != NULL) {
		*slash = '\0';
		e = mstore_mailbox_get(s->st->ms, *owner_r, *local_r, &mb);
		*slash = '/';
	}
	if (e == MSTORE_OK) {
		rights = imap_acl_rights(s, &mb);
		mstore_mailbox_clear(&mb);
	}
	if (rights & imap_right('k'))
		return 0;
	free(*owner_r);
	free(*local_r);
	*owner_r = *local_r = NULL;
	imap_no(s, "NOPERM", "No right to create mailboxes here");
	return -1;
}

/* ---- LIST ------------------------------------------------------------------- */

static int have_id(const struct mstore_mailbox *mbs, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (mbs[i].id == id)
			return 1;
	return 0;
}

/* Appends mb (taken over) to the list under its client name. */
static void list_add(struct imap_session *s, struct mstore_mailbox *mb,
		     struct mstore_mailbox **mbs, size_t *n)
{
	struct strbuf b;

	strbuf_init(&b);
	imap_acl_display_name(s, mb->owner, mb->name, &b);
	free(mb->name);
	mb->name = strbuf_steal(&b, NULL);
	*mbs = xrealloc(*mbs, (*n + 1) * sizeof(**mbs));
	(*mbs)[(*n)++] = *mb;
	memset(mb, 0, sizeof(*mb));
}

/* An admin's pattern "Other Users/<user>/...": every mailbox of <user>. */
static void list_user(struct imap_session *s, const char *pattern,
		      struct mstore_mailbox **mbs, size_t *n)
{
	struct mstore_mailbox *all = NULL;
	size_t nall = 0;
	char *owner, *local;

	if (strpbrk(pattern, "*%") != NULL &&
	    strpbrk(pattern, "*%") < strchr(pattern + NS_OTHER_LEN + 1, '/'))
		return;
	if (imap_acl_split(s, pattern, &owner, &local) != MSTORE_OK)
		return;
	if (strcasecmp(owner, s->user) != 0 &&
	    mstore_mailbox_list(s->st->ms, owner, &all, &nall) == MSTORE_OK) {
		for (size_t i = 0; i < nall; i++)
			if (!have_id(*mbs, *n, all[i].id))
				list_add(s, &all[i], mbs, n);
		mstore_mailbox_list_free(&all, nall);
	}
	free(owner);
	free(local);
}

void imap_acl_list_shared(struct imap_session *s, char *const *patterns,
			  size_t npatterns, struct mstore_mailbox **mbs,
			  size_t *n)
{
	uint32_t *ids = NULL;
	size_t nids = 0;

	if (mstore_acl_shared_with(s->st->ms, s->user, &ids, &nids) ==
	    MSTORE_OK) {
		for (size_t i = 0; i < nids; i++) {
			struct mstore_mailbox mb;

			memset(&mb, 0, sizeof(mb));
			if (have_id(*mbs, *n, ids[i]) ||
			    mstore_mailbox_get_by_id(s->st->ms, ids[i], &mb) !=
				MSTORE_OK)
				continue;
			if (strcasecmp(mb.owner, s->user) != 0 &&
			    (imap_acl_rights(s, &mb) & imap_right('l')))
				list_add(s, &mb, mbs, n);
			mstore_mailbox_clear(&mb);
		}
		free(ids);
	}
	if (!imap_acl_is_admin(s))
		return;
	for (size_t i = 0; i < npatterns; i++) {
		if (strncmp(patterns[i], IMAP_NS_OTHER "/", NS_OTHER_LEN + 1) ==
			0 &&
		    strchr(patterns[i] + NS_OTHER_LEN + 1, '/') != NULL)
			list_user(s, patterns[i], mbs, n);
		else if (strncmp(patterns[i], IMAP_NS_SHARED "/",
				 NS_SHARED_LEN + 1) == 0) {
			char *su = shared_user(s);
			char *p = xasprintf("%s/%s/*", IMAP_NS_OTHER, su);

			list_user(s, p, mbs, n);
			free(p);
			free(su);
		}
	}
}

/* ---- STORE ------------------------------------------------------------------ */

static void append_msgs(struct mstore_msg **dst, size_t *ndst,
			struct mstore_msg *src, size_t nsrc)
{
	if (nsrc == 0) {
		free(src);
		return;
	}
	*dst = xrealloc(*dst, (*ndst + nsrc) * sizeof(**dst));
	memcpy(*dst + *ndst, src, nsrc * sizeof(*src));
	*ndst += nsrc;
	free(src);
}

static void append_uids(uint32_t **dst, size_t *ndst, uint32_t *src,
			size_t nsrc)
{
	if (nsrc == 0) {
		free(src);
		return;
	}
	*dst = xrealloc(*dst, (*ndst + nsrc) * sizeof(**dst));
	memcpy(*dst + *ndst, src, nsrc * sizeof(*src));
	*ndst += nsrc;
	free(src);
}

/* One change on the shared flags; results appended. */
static int store_part(struct imap_session *s, uint32_t mailbox_id,
		      const uint32_t *uids, size_t n,
		      const struct mstore_flag_change *c,
		      struct mstore_msg **changed, size_t *nchanged,
		      uint32_t **failed, size_t *nfailed)
{
	struct mstore_msg *ch = NULL;
	uint32_t *fl = NULL;
	size_t nch = 0, nfl = 0;
	enum mstore_err e;

	if (c->op != MSTORE_FLAGS_REPLACE && c->flags == 0 &&
	    c->keywords == NULL)
		return MSTORE_OK;
	e = mstore_flags_store(s->st->ms, mailbox_id, uids, n, c, &ch, &nch,
			       &fl, &nfl);
	append_msgs(changed, nchanged, ch, nch);
	append_uids(failed, nfailed, fl, nfl);
	return e;
}

/* REPLACE restricted to the flags in allowed (and keywords when kw_ok):
 * a REMOVE of the others, then an ADD. */
static int store_replace(struct imap_session *s, uint32_t mailbox_id,
			 const uint32_t *uids, size_t n,
			 const struct mstore_flag_change *chg, uint32_t allowed,
			 int kw_ok, struct mstore_msg **changed,
			 size_t *nchanged, uint32_t **failed, size_t *nfailed)
{
	struct mstore_flag_change rem = *chg, add = *chg;
	const char *drop[MSTORE_MAX_KEYWORDS + 1];
	size_t ndrop = 0;
	int e;

	for (unsigned i = 0; kw_ok && i < imap_view_nkeywords(s->view); i++) {
		const char *k = imap_view_keyword(s->view, i);
		int keep = 0;

		for (size_t j = 0; chg->keywords && chg->keywords[j]; j++)
			keep |= strcasecmp(chg->keywords[j], k) == 0;
		if (!keep && ndrop < MSTORE_MAX_KEYWORDS)
			drop[ndrop++] = k;
	}
	drop[ndrop] = NULL;
	rem.op = MSTORE_FLAGS_REMOVE;
	rem.flags = allowed & ~chg->flags;
	rem.keywords = ndrop > 0 ? drop : NULL;
	add.op = MSTORE_FLAGS_ADD;
	add.flags = allowed & chg->flags;
	add.keywords = kw_ok ? chg->keywords : NULL;
	e = store_part(s, mailbox_id, uids, n, &rem, changed, nchanged, failed,
		       nfailed);
	if (e == MSTORE_OK)
		e = store_part(s, mailbox_id, uids, n, &add, changed, nchanged,
			       failed, nfailed);
	return e;
}

int imap_acl_flags_store(struct imap_session *s, uint32_t mailbox_id,
			 const uint32_t *uids, size_t nuids,
			 const struct mstore_flag_change *chg,
			 struct mstore_msg **changed_r, size_t *nchanged_r,
			 uint32_t **failed_r, size_t *nfailed_r)
{
	uint32_t rights = imap_view_rights(s->view), allowed = 0;
	int kw_ok = (rights & imap_right('w')) != 0;
	int priv = imap_view_private_seen(s->view);
	struct mstore_msg *changed = NULL;
	uint32_t *failed = NULL;
	size_t nchanged = 0, nfailed = 0;
	struct mstore_flag_change c = *chg;
	int e = MSTORE_OK;

	if (rights & imap_right('s'))
		allowed |= MSTORE_F_SEEN;
	if (rights & imap_right('t'))
		allowed |= MSTORE_F_DELETED;
	if (kw_ok)
		allowed |= MSTORE_F_ANSWERED | MSTORE_F_FLAGGED |
			   MSTORE_F_DRAFT;
	/* RFC 4314 4: fail only when no flag of the request may change */
	if (!(chg->flags & allowed) && !(chg->keywords != NULL && kw_ok) &&
	    !(chg->op == MSTORE_FLAGS_REPLACE && (allowed != 0 || kw_ok)))
		e = IMAP_ACL_E_NOPERM;
	if (e == MSTORE_OK && priv && (allowed & MSTORE_F_SEEN)) {
		if (chg->op == MSTORE_FLAGS_REPLACE ||
		    (chg->flags & MSTORE_F_SEEN))
			e = imap_view_seen_store(
			    s, uids, nuids,
			    chg->op == MSTORE_FLAGS_REMOVE
				? 0
				: (chg->flags & MSTORE_F_SEEN) != 0);
		allowed &= ~MSTORE_F_SEEN;
	}
	if (e == MSTORE_OK && chg->op != MSTORE_FLAGS_REPLACE) {
		c.flags &= allowed;
		if (!kw_ok)
			c.keywords = NULL;
		e = store_part(s, mailbox_id, uids, nuids, &c, &changed,
			       &nchanged, &failed, &nfailed);
	} else if (e == MSTORE_OK) {
		if (allowed == MSTORE_F_ALL && kw_ok)
			e = store_part(s, mailbox_id, uids, nuids, chg,
				       &changed, &nchanged, &failed, &nfailed);
		else
			e = store_replace(s, mailbox_id, uids, nuids, chg,
					  allowed, kw_ok, &changed, &nchanged,
					  &failed, &nfailed);
	}
	for (size_t i = 0; i < nchanged; i++)
		changed[i].flags = imap_view_user_flags(
		    s->view, changed[i].uid, changed[i].flags);
	if (changed_r != NULL) {
		*changed_r = changed;
		*nchanged_r = nchanged;
	} else {
		free(changed);
	}
	if (failed_r != NULL) {
		*failed_r = failed;
		*nfailed_r = nfailed;
	} else {
		free(failed);
	}
	return e;
}

void imap_acl_filter_flags(struct imap_session *s, const char *owner,
			   uint32_t rights, uint32_t *flags,
			   const char *const **keywords)
{
	if (!(rights & imap_right('s')) || strcasecmp(owner, s->user) != 0)
		*flags &= ~(uint32_t)MSTORE_F_SEEN;
	if (!(rights & imap_right('t')))
		*flags &= ~(uint32_t)MSTORE_F_DELETED;
	if (!(rights & imap_right('w'))) {
		*flags &= MSTORE_F_SEEN | MSTORE_F_DELETED;
		*keywords = NULL;
	}
}
