/*
 * sieve_result.c - the action list: duplicate rules, conflicts, limits,
 * the canonical text form, freeing.
 *
 * Duplicate rules (RFC 5228 2.10.3, 4.2; RFC 3894; RFC 5232):
 *  - keep and fileinto "INBOX" are the same delivery; repeated deliveries
 *    to one mailbox are one action, :copy kept only if
 *    every instance had it; the last instance's flags win;
 *  - a redirect to an address already redirected to is dropped;
 *  - reject/ereject may not be combined with a delivery (keep, fileinto,
 *    redirect) nor with another reject or a vacation: run-time error
 *    (RFC 5429 2.2);
 *  - a second vacation is a run-time error (RFC 5230 4.7).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_run_int.h"

static struct sieve_action *add(struct sv_run *r, enum sieve_action_type t,
				const struct sv_cmd *c)
{
	struct sieve_result *res = r->res;
	struct sieve_action *a;

	if (res->n >= r->lim.max_actions) {
		sv_run_fail(r, c, "too many actions (limit %u)",
			    r->lim.max_actions);
		return NULL;
	}
	res->actions =
	    xrealloc(res->actions, (res->n + 1) * sizeof(*res->actions));
	a = &res->actions[res->n++];
	memset(a, 0, sizeof(*a));
	a->type = t;
	a->line = c ? (int)c->line : 0;
	return a;
}

static void set_flags(struct sieve_action *a, const char *flags)
{
	struct strbuf all;
	const char *p;
	size_t n = 0;

	/* a later delivery to the same mailbox sets the flags (as
	 * Pigeonhole does; RFC 5232 leaves it open) */
	strbuf_init(&all);
	sv_flags_add(&all, flags, strlen(flags));
	for (size_t i = 0; i < a->nflags; i++)
		free(a->flags[i]);
	free(a->flags);
	a->flags = NULL;
	a->nflags = 0;
	if (all.len == 0) {
		strbuf_free(&all);
		return;
	}
	for (p = all.data; p; p = strchr(p + 1, ' '))
		n++;
	a->flags = xcalloc(n, sizeof(char *));
	p = all.data;
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t l = sp ? (size_t)(sp - p) : strlen(p);

		a->flags[a->nflags++] = xstrndup(p, l);
		p += l + (sp != NULL);
	}
	strbuf_free(&all);
}

static bool delivery_conflict(struct sv_run *r, const struct sv_cmd *c)
{
	if (r->has_reject) {
		sv_run_fail(r, c,
			    "reject/ereject conflicts with a delivery action "
			    "(line %d)",
			    r->reject_line);
		return true;
	}
	r->has_delivery = true;
	if (r->delivery_line == 0)
		r->delivery_line = c ? (int)c->line : 0;
	return false;
}

static bool is_inbox(const char *mailbox)
{
	return strcasecmp(mailbox, "INBOX") == 0;
}

/* Finds an existing delivery to mailbox (keep means INBOX). */
static struct sieve_action *find_store(struct sv_run *r, const char *mailbox)
{
	for (size_t i = 0; i < r->res->n; i++) {
		struct sieve_action *a = &r->res->actions[i];

		if (a->type == SIEVE_ACT_KEEP && is_inbox(mailbox))
			return a;
		if (a->type == SIEVE_ACT_FILEINTO &&
		    (strcmp(a->mailbox, mailbox) == 0 ||
		     (is_inbox(a->mailbox) && is_inbox(mailbox))))
			return a;
	}
	return NULL;
}

bool sv_act_keep(struct sv_run *r, const struct sv_cmd *c, const char *flags,
		 bool implicit)
{
	struct sieve_action *a;

	if (!implicit && delivery_conflict(r, c))
		return false;
	r->keep_cancelled = true;
	a = find_store(r, "INBOX");
	if (a == NULL) {
		a = add(r, SIEVE_ACT_KEEP, c);
		if (a == NULL)
			return false;
		a->implicit = implicit;
	}
	a->copy = false;
	set_flags(a, flags);
	return true;
}

bool sv_act_fileinto(struct sv_run *r, const struct sv_cmd *c,
		     const char *mailbox, const char *flags)
{
	struct sieve_action *a;
	bool copy = (c->flags & SV_F_COPY) != 0;

	if (delivery_conflict(r, c))
		return false;
	if (!copy)
		r->keep_cancelled = true;
	a = find_store(r, mailbox);
	if (a == NULL) {
		a = add(r, SIEVE_ACT_FILEINTO, c);
		if (a == NULL)
			return false;
		a->mailbox = xstrdup(mailbox);
		a->copy = copy;
	} else {
		a->copy = a->copy && copy;
	}
	a->create = a->create || (c->flags & SV_F_CREATE);
	set_flags(a, flags);
	return true;
}

bool sv_act_redirect(struct sv_run *r, const struct sv_cmd *c,
		     const char *address)
{
	struct sieve_action *a;
	bool copy = (c->flags & SV_F_COPY) != 0;

	if (delivery_conflict(r, c))
		return false;
	if (!copy)
		r->keep_cancelled = true;
	for (size_t i = 0; i < r->res->n; i++) {
		a = &r->res->actions[i];
		if (a->type == SIEVE_ACT_REDIRECT &&
		    strcasecmp(a->address, address) == 0) {
			a->copy = a->copy && copy;
			return true;
		}
	}
	if (++r->redirects > r->lim.max_redirects) {
		sv_run_fail(r, c, "too many redirects (limit %u)",
			    r->lim.max_redirects);
		return false;
	}
	a = add(r, SIEVE_ACT_REDIRECT, c);
	if (a == NULL)
		return false;
	a->address = xstrdup(address);
	a->copy = copy;
	return true;
}

bool sv_act_reject(struct sv_run *r, const struct sv_cmd *c, const char *reason,
		   bool ereject)
{
	struct sieve_action *a;

	if (r->has_reject) {
		sv_run_fail(r, c, "duplicate reject/ereject");
		return false;
	}
	if (r->has_delivery || r->has_vacation) {
		sv_run_fail(r, c,
			    "reject/ereject conflicts with another action "
			    "(line %d)",
			    r->delivery_line);
		return false;
	}
	r->has_reject = true;
	r->reject_line = (int)c->line;
	r->keep_cancelled = true;
	a = add(r, ereject ? SIEVE_ACT_EREJECT : SIEVE_ACT_REJECT, c);
	if (a == NULL)
		return false;
	a->reason = xstrdup(reason);
	return true;
}

bool sv_act_discard(struct sv_run *r, const struct sv_cmd *c)
{
	r->keep_cancelled = true;
	for (size_t i = 0; i < r->res->n; i++)
		if (r->res->actions[i].type == SIEVE_ACT_DISCARD)
			return true;
	return add(r, SIEVE_ACT_DISCARD, c) != NULL;
}

static void action_clear(struct sieve_action *a)
{
	free(a->mailbox);
	free(a->address);
	free(a->reason);
	for (size_t i = 0; i < a->nflags; i++)
		free(a->flags[i]);
	free(a->flags);
	free(a->from);
	free(a->subject);
	free(a->handle);
	free(a->fcc);
	for (size_t i = 0; i < a->naddresses; i++)
		free(a->addresses[i]);
	free(a->addresses);
}

bool sv_act_vacation(struct sv_run *r, const struct sv_cmd *c,
		     struct sieve_action *vac)
{
	struct sieve_action *a;

	if (r->has_vacation || r->has_reject) {
		sv_run_fail(r, c,
			    r->has_vacation ? "duplicate vacation"
					    : "vacation conflicts with reject");
		action_clear(vac);
		return false;
	}
	r->has_vacation = true;
	if (r->delivery_line == 0)
		r->delivery_line = (int)c->line;
	a = add(r, SIEVE_ACT_VACATION, c);
	if (a == NULL) {
		action_clear(vac);
		return false;
	}
	vac->line = a->line;
	*a = *vac;
	return true;
}

void sieve_result_free(struct sieve_result **res)
{
	if (*res == NULL)
		return;
	for (size_t i = 0; i < (*res)->n; i++)
		action_clear(&(*res)->actions[i]);
	free((*res)->actions);
	free(*res);
	*res = NULL;
}

static void put_str(struct strbuf *o, const char *s)
{
	strbuf_addc(o, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
		case '\\':
			strbuf_addc(o, '\\');
			strbuf_addc(o, (char)c);
			break;
		case '\n':
			strbuf_adds(o, "\\n");
			break;
		case '\r':
			strbuf_adds(o, "\\r");
			break;
		case '\t':
			strbuf_adds(o, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				strbuf_printf(o, "\\x%02x", c);
			else
				strbuf_addc(o, (char)c);
		}
	}
	strbuf_addc(o, '"');
}

static void put_flags(struct strbuf *o, const struct sieve_action *a)
{
	if (a->nflags == 0)
		return;
	strbuf_adds(o, " flags");
	for (size_t i = 0; i < a->nflags; i++) {
		strbuf_addc(o, ' ');
		put_str(o, a->flags[i]);
	}
}

static void put_vacation(struct strbuf *o, const struct sieve_action *a)
{
	strbuf_printf(o, "vacation seconds %llu",
		      (unsigned long long)a->seconds);
	if (a->from) {
		strbuf_adds(o, " from ");
		put_str(o, a->from);
	}
	if (a->subject) {
		strbuf_adds(o, " subject ");
		put_str(o, a->subject);
	}
	if (a->handle) {
		strbuf_adds(o, " handle ");
		put_str(o, a->handle);
	}
	if (a->naddresses) {
		strbuf_adds(o, " addresses");
		for (size_t i = 0; i < a->naddresses; i++) {
			strbuf_addc(o, ' ');
			put_str(o, a->addresses[i]);
		}
	}
	if (a->mime)
		strbuf_adds(o, " mime");
	if (a->fcc) {
		strbuf_adds(o, " fcc ");
		put_str(o, a->fcc);
	}
	strbuf_adds(o, " reason ");
	put_str(o, a->reason);
}

void sieve_result_format(const struct sieve_result *res, struct strbuf *out)
{
	for (size_t i = 0; res != NULL && i < res->n; i++) {
		const struct sieve_action *a = &res->actions[i];

		switch (a->type) {
		case SIEVE_ACT_KEEP:
			strbuf_adds(out,
				    a->implicit ? "keep implicit" : "keep");
			put_flags(out, a);
			break;
		case SIEVE_ACT_FILEINTO:
			strbuf_adds(out, "fileinto ");
			put_str(out, a->mailbox);
			if (a->copy)
				strbuf_adds(out, " copy");
			if (a->create)
				strbuf_adds(out, " create");
			put_flags(out, a);
			break;
		case SIEVE_ACT_REDIRECT:
			strbuf_adds(out, "redirect ");
			put_str(out, a->address);
			if (a->copy)
				strbuf_adds(out, " copy");
			break;
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			strbuf_adds(out, a->type == SIEVE_ACT_REJECT
					     ? "reject "
					     : "ereject ");
			put_str(out, a->reason);
			break;
		case SIEVE_ACT_DISCARD:
			strbuf_adds(out, "discard");
			break;
		case SIEVE_ACT_VACATION:
			put_vacation(out, a);
			break;
		}
		strbuf_addc(out, '\n');
	}
}
