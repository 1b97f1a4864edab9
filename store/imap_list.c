/*
 * imap_list.c - LIST and LSUB (RFC 3501 6.3.8/6.3.9, RFC 9051 6.3.9),
 * with LIST-EXTENDED (RFC 5258) selection options SUBSCRIBED,
 * RECURSIVEMATCH, SPECIAL-USE and return options SUBSCRIBED, CHILDREN,
 * SPECIAL-USE (RFC 6154), STATUS (LIST-STATUS, RFC 5819).
 *
 * Names are matched in UTF-8 (patterns are decoded like mailbox names);
 * '*' matches anything, '%' anything but the separator '/'.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailstore.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_acl.h"
#include "store/imap_glob.h"
#include "store/store.h"

#define SEL_SUBSCRIBED 0x1
#define SEL_RECURSIVE 0x2
#define SEL_SPECIAL 0x4
#define RET_SUBSCRIBED 0x1
#define RET_CHILDREN 0x2
#define RET_SPECIAL 0x4
#define RET_STATUS 0x8

struct list_req {
	int lsub;
	int extended;
	unsigned sel, ret;
	const struct imap_arg *status_items;
	char **patterns;
	size_t npatterns;
	struct mstore_mailbox *mbs;
	size_t nmbs;
	char **subs;
	size_t nsubs;
};

static int match_any(const struct list_req *r, const char *name)
{
	for (size_t i = 0; i < r->npatterns; i++)
		if (imap_glob_match(r->patterns[i], name))
			return 1;
	return 0;
}

static int is_subscribed(const struct list_req *r, const char *name)
{
	for (size_t i = 0; i < r->nsubs; i++)
		if (strcmp(r->subs[i], name) == 0)
			return 1;
	return 0;
}

static const struct mstore_mailbox *find_mb(const struct list_req *r,
					    const char *name)
{
	for (size_t i = 0; i < r->nmbs; i++)
		if (strcmp(r->mbs[i].name, name) == 0)
			return &r->mbs[i];
	return NULL;
}

static int has_children(const struct list_req *r, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < r->nmbs; i++)
		if (strncmp(r->mbs[i].name, name, len) == 0 &&
		    r->mbs[i].name[len] == '/')
			return 1;
	return 0;
}

/* reference + pattern, decoded, INBOX folded. NULL: bad UTF-7. */
static char *make_pattern(struct imap_session *s, const char *ref,
			  const char *pat)
{
	struct strbuf raw, dec;

	strbuf_init(&raw);
	if (*ref != '\0' && *pat != '\0') {
		strbuf_adds(&raw, ref);
		if (raw.data[raw.len - 1] != '/' && pat[0] != '/')
			strbuf_addc(&raw, '/');
	}
	strbuf_adds(&raw, pat);
	strbuf_init(&dec);
	if (s->enabled & IMAP_EN_UTF8)
		strbuf_add(&dec, raw.data, raw.len);
	else if (imap_utf7_to_utf8(raw.data, &dec) < 0) {
		strbuf_free(&raw);
		strbuf_free(&dec);
		return NULL;
	}
	strbuf_free(&raw);
	if (strncasecmp(dec.data, "INBOX", 5) == 0 &&
	    (dec.data[5] == '\0' || dec.data[5] == '/'))
		memcpy(dec.data, "INBOX", 5);
	return strbuf_steal(&dec, NULL);
}

static int has_subscribed_child(const struct list_req *r, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->nsubs; i++)
		if (strncmp(r->subs[i], name, n) == 0 && r->subs[i][n] == '/')
			return 1;
	return 0;
}

static void emit(struct imap_session *s, struct list_req *r, const char *name,
		 const struct mstore_mailbox *mb, int subscribed)
{
	struct strbuf b;
	int children = has_children(r, name);

	struct strbuf at;

	strbuf_init(&at);
	if (mb == NULL)
		strbuf_adds(&at, r->extended && !r->lsub ? " \\NonExistent"
							 : " \\Noselect");
	if (mb == NULL && children && !r->lsub)
		strbuf_adds(&at, " \\HasChildren");
	else
		strbuf_adds(&at,
			    children ? " \\HasChildren" : " \\HasNoChildren");
	if (mb != NULL && !r->lsub)
		imap_special_use_write(&at, mb->special_use);
	if (!r->lsub && subscribed &&
	    ((r->sel & SEL_SUBSCRIBED) || (r->ret & RET_SUBSCRIBED)))
		strbuf_adds(&at, " \\Subscribed");
	strbuf_init(&b);
	strbuf_printf(&b, "* %s (%s) \"/\" ", r->lsub ? "LSUB" : "LIST",
		      at.len > 0 ? at.data + 1 : "");
	strbuf_free(&at);
	imap_write_mailbox(s, &b, name);
	/* RFC 5258 3.5: a subscribed mailbox below this one */
	if (!r->lsub && (r->sel & SEL_RECURSIVE) &&
	    (r->sel & SEL_SUBSCRIBED) && has_subscribed_child(r, name))
		strbuf_adds(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	strbuf_add(&b, "\r\n", 2);
	if (mb != NULL && (r->ret & RET_STATUS)) {
		strbuf_adds(&b, "* STATUS ");
		imap_write_mailbox(s, &b, name);
		strbuf_addc(&b, ' ');
		if (imap_status_items(s, r->status_items, mb, &b) < 0)
			strbuf_adds(&b, "()");
		strbuf_add(&b, "\r\n", 2);
	}
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
}

static int parse_options(struct list_req *r, const struct imap_arg *a, int ret)
{
	for (size_t i = 0; i < a->count; i++) {
		const char *o = imap_arg_string(&a->list[i]);

		if (o == NULL)
			return -1;
		if (!ret && strcasecmp(o, "SUBSCRIBED") == 0)
			r->sel |= SEL_SUBSCRIBED;
		else if (!ret && strcasecmp(o, "RECURSIVEMATCH") == 0)
			r->sel |= SEL_RECURSIVE;
		else if (!ret && strcasecmp(o, "SPECIAL-USE") == 0)
			r->sel |= SEL_SPECIAL;
		else if (!ret && strcasecmp(o, "REMOTE") == 0)
			continue;
		else if (ret && strcasecmp(o, "SUBSCRIBED") == 0)
			r->ret |= RET_SUBSCRIBED;
		else if (ret && strcasecmp(o, "CHILDREN") == 0)
			r->ret |= RET_CHILDREN;
		else if (ret && strcasecmp(o, "SPECIAL-USE") == 0)
			r->ret |= RET_SPECIAL;
		else if (ret && strcasecmp(o, "STATUS") == 0 &&
			 i + 1 < a->count &&
			 a->list[i + 1].type == IMAP_ARG_LIST) {
			r->ret |= RET_STATUS;
			r->status_items = &a->list[++i];
		} else
			return -1;
	}
	/* RFC 5258 3.1: RECURSIVEMATCH needs another selection option */
	if ((r->sel & SEL_RECURSIVE) && !(r->sel & ~SEL_RECURSIVE))
		return -1;
	return 0;
}

static void req_free(struct list_req *r)
{
	for (size_t i = 0; i < r->npatterns; i++)
		free(r->patterns[i]);
	free(r->patterns);
	mstore_mailbox_list_free(&r->mbs, r->nmbs);
	mstore_strv_free(&r->subs, r->nsubs);
}

static int add_patterns(struct imap_session *s, struct list_req *r,
			const char *ref, const struct imap_arg *pat)
{
	const struct imap_arg *list =
	    pat->type == IMAP_ARG_LIST ? pat->list : pat;
	size_t n = pat->type == IMAP_ARG_LIST ? pat->count : 1;

	r->patterns = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *p = imap_arg_string(&list[i]);

		if (p == NULL || strlen(p) != list[i].len)
			return -1;
		if ((r->patterns[r->npatterns] = make_pattern(s, ref, p)) ==
		    NULL)
			return -1;
		r->npatterns++;
	}
	return n > 0 ? 0 : -1;
}

/*
 * RFC 3501 6.3.8: "a/b" may exist without "a" (created by the CLI, or
 * "a" deleted); "%" must still show "a", as \Noselect (\NonExistent
 * with LIST-EXTENDED), once.
 */
static void list_missing_parents(struct imap_session *s, struct list_req *r)
{
	char **seen = NULL;
	size_t nseen = 0;

	for (size_t i = 0; i < r->nmbs; i++) {
		char *name = xstrdup(r->mbs[i].name);

		for (char *p = strchr(name, '/'); p != NULL;
		     p = strchr(p + 1, '/')) {
			size_t k;

			*p = '\0';
			for (k = 0; k < nseen; k++)
				if (strcmp(seen[k], name) == 0)
					break;
			if (k == nseen && find_mb(r, name) == NULL &&
			    match_any(r, name)) {
				seen =
				    xrealloc(seen, (nseen + 1) * sizeof(*seen));
				seen[nseen++] = xstrdup(name);
				emit(s, r, name, NULL, is_subscribed(r, name));
			}
			*p = '/';
		}
		free(name);
	}
	for (size_t k = 0; k < nseen; k++)
		free(seen[k]);
	free(seen);
}

/*
 * RFC 5258 3.5 (RECURSIVEMATCH): a mailbox that matches but is not
 * subscribed itself is listed, without \Subscribed, with CHILDINFO
 * when a subscribed mailbox lies below it.
 */
static void list_recursive_parents(struct imap_session *s, struct list_req *r)
{
	char **seen = NULL;
	size_t nseen = 0;

	for (size_t i = 0; i < r->nsubs; i++) {
		char *name = xstrdup(r->subs[i]);

		for (char *p = strchr(name, '/'); p != NULL;
		     p = strchr(p + 1, '/')) {
			size_t k;

			*p = '\0';
			for (k = 0; k < nseen; k++)
				if (strcmp(seen[k], name) == 0)
					break;
			if (k == nseen && !is_subscribed(r, name) &&
			    match_any(r, name)) {
				seen =
				    xrealloc(seen, (nseen + 1) * sizeof(*seen));
				seen[nseen++] = xstrdup(name);
				emit(s, r, name, find_mb(r, name), 0);
			}
			*p = '/';
		}
		free(name);
	}
	for (size_t k = 0; k < nseen; k++)
		free(seen[k]);
	free(seen);
}

/* The selection: every mailbox (or subscription) that matches. */
static void list_run(struct imap_session *s, struct list_req *r)
{
	if (r->lsub || (r->sel & SEL_SUBSCRIBED)) {
		for (size_t i = 0; i < r->nsubs; i++) {
			const struct mstore_mailbox *mb =
			    find_mb(r, r->subs[i]);

			if (!match_any(r, r->subs[i]))
				continue;
			if ((r->sel & SEL_SPECIAL) &&
			    (mb == NULL || mb->special_use == 0))
				continue;
			emit(s, r, r->subs[i], mb, 1);
		}
		if (r->sel & SEL_RECURSIVE)
			list_recursive_parents(s, r);
		return;
	}
	for (size_t i = 0; i < r->nmbs; i++) {
		const char *name = r->mbs[i].name;

		if (!match_any(r, name))
			continue;
		if ((r->sel & SEL_SPECIAL) && r->mbs[i].special_use == 0)
			continue;
		emit(s, r, name, &r->mbs[i], is_subscribed(r, name));
	}
	if (!(r->sel & SEL_SPECIAL))
		list_missing_parents(s, r);
}

void imap_cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	struct list_req r;
	size_t ai = 0;
	const char *ref;

	memset(&r, 0, sizeof(r));
	r.lsub = strcmp(cmd->name, "LSUB") == 0;
	if (!r.lsub && cmd->args[0].type == IMAP_ARG_LIST) {
		r.extended = 1;
		if (parse_options(&r, &cmd->args[0], 0) < 0)
			goto bad;
		ai = 1;
	}
	if (ai + 2 > cmd->nargs)
		goto bad;
	ref = imap_arg_string(&cmd->args[ai]);
	if (ref == NULL)
		goto bad;
	if (!r.lsub && cmd->args[ai + 1].type == IMAP_ARG_LIST)
		r.extended = 1;
	if (add_patterns(s, &r, ref, &cmd->args[ai + 1]) < 0)
		goto bad;
	ai += 2;
	if (ai < cmd->nargs) {
		if (ai + 2 != cmd->nargs ||
		    !imap_arg_is_atom(&cmd->args[ai], "RETURN") ||
		    cmd->args[ai + 1].type != IMAP_ARG_LIST ||
		    parse_options(&r, &cmd->args[ai + 1], 1) < 0)
			goto bad;
		r.extended = 1;
	}
	/* RFC 3501 6.3.8: an empty pattern asks for the separator */
	if (r.npatterns == 1 && r.patterns[0][0] == '\0' && !r.lsub) {
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		req_free(&r);
		imap_ok(s, NULL, "LIST completed");
		return;
	}
	if (mstore_mailbox_list(s->st->ms, s->user, &r.mbs, &r.nmbs) !=
		MSTORE_OK ||
	    mstore_subscriptions(s->st->ms, s->user, &r.subs, &r.nsubs) !=
		MSTORE_OK) {
		req_free(&r);
		imap_no(s, "UNAVAILABLE", "Cannot list mailboxes now");
		return;
	}
	/* RFC 4314 4: other users' mailboxes with "l" (imap_acl.h) */
	imap_acl_list_shared(s, r.patterns, r.npatterns, &r.mbs, &r.nmbs);
	list_run(s, &r);
	req_free(&r);
	imap_ok(s, NULL, "%s completed", cmd->name);
	return;
bad:
	req_free(&r);
	imap_bad(s, NULL, "Invalid %s arguments", cmd->name);
}
