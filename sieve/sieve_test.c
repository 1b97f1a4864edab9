/*
 * sieve_test.c - evaluation of tests: address, header, envelope, exists,
 * size, allof/anyof/not/true/false (RFC 5228 5), string (RFC 5229 5),
 * hasflag (RFC 5232 5), body (RFC 5173), date/currentdate (RFC 5260),
 * mailboxexists (RFC 5490), with :index (RFC 5260 6) and relational
 * :value/:count (RFC 5231).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sieve/sieve_run_int.h"

/* Keeps only the :index'th value (1-based; :last counts from the end). */
static void apply_index(const struct sv_cmd *c, struct sieve_values *v)
{
	size_t keep;

	if (c->index == 0)
		return;
	if ((size_t)c->index > v->n) {
		sieve_values_clear(v);
		return;
	}
	keep = (c->flags & SV_F_LAST) ? v->n - (size_t)c->index
				      : (size_t)c->index - 1;
	for (size_t i = 0; i < v->n; i++) {
		if (i != keep)
			free(v->v[i]);
	}
	v->v[0] = v->v[keep];
	v->len[0] = v->len[keep];
	v->n = 1;
}

static void set_match_vars(struct sv_run *r, const char *val,
			   const struct sv_caps *caps)
{
	struct sv_vars *vars = sv_run_vars(r);

	for (unsigned i = 0; i < 10; i++) {
		strbuf_reset(&vars->match[i]);
		if (i < caps->n)
			strbuf_add(&vars->match[i], val + caps->off[i],
				   caps->len[i]);
	}
	vars->nmatch = caps->n;
}

/* The match-type/comparator core shared by every string test. */
static bool match_values(struct sv_run *r, const struct sv_cmd *c,
			 const struct sieve_values *vals,
			 const struct sv_slist *keys)
{
	struct strbuf k;
	bool ok = false;
	bool want_caps =
	    c->match == SV_MATCH_MATCHES && sv_run_has_ext(r, SV_EXT_VARIABLES);

	strbuf_init(&k);
	if (c->match == SV_MATCH_COUNT) {
		char num[32];

		snprintf(num, sizeof(num), "%zu", vals->n);
		for (uint32_t j = 0; j < keys->n && !ok; j++) {
			strbuf_reset(&k);
			sv_run_expand(r, &keys->v[j], &k);
			ok = sv_cmp_rel((enum sv_rel)c->rel,
					sv_cmp_order((enum sv_cmp)c->cmp, num,
						     strlen(num), k.data,
						     k.len));
		}
		strbuf_free(&k);
		return ok;
	}
	for (size_t i = 0; i < vals->n && !ok; i++) {
		for (uint32_t j = 0; j < keys->n && !ok; j++) {
			struct sv_caps caps;

			strbuf_reset(&k);
			sv_run_expand(r, &keys->v[j], &k);
			if (c->match == SV_MATCH_VALUE) {
				ok = sv_cmp_rel(
				    (enum sv_rel)c->rel,
				    sv_cmp_order((enum sv_cmp)c->cmp,
						 vals->v[i], vals->len[i],
						 k.data, k.len));
			} else {
				ok = sv_match_one((enum sv_match)c->match,
						  (enum sv_cmp)c->cmp,
						  vals->v[i], vals->len[i],
						  k.data, k.len,
						  want_caps ? &caps : NULL);
				if (ok && want_caps)
					set_match_vars(r, vals->v[i], &caps);
			}
		}
	}
	strbuf_free(&k);
	return ok;
}

static void expand_list(struct sv_run *r, const struct sv_slist *l,
			struct sieve_values *out)
{
	struct strbuf b;

	strbuf_init(&b);
	for (uint32_t i = 0; i < l->n; i++) {
		strbuf_reset(&b);
		sv_run_expand(r, &l->v[i], &b);
		sieve_values_add(out, b.data, b.len);
	}
	strbuf_free(&b);
}

/* Raw field values of one header name, after :index. */
static void field_values(struct sv_run *r, const struct sv_cmd *c,
			 const char *name, struct sieve_values *out)
{
	sv_msg_headers(r->msg, &r->hdrs, name, out);
	apply_index(c, out);
}

/*
 * The decoded (unfolded, RFC 2047) values of one header field name,
 * computed once per run: typical scripts test Subject and From many times.
 */
static struct sv_hcache *hcache_get(struct sv_run *r, const char *name)
{
	struct sv_hcache *hc;

	for (size_t i = 0; i < r->nhcache; i++)
		if (strcasecmp(r->hcache[i].name, name) == 0)
			return &r->hcache[i];
	r->hcache = xrealloc(r->hcache, (r->nhcache + 1) * sizeof(*r->hcache));
	hc = &r->hcache[r->nhcache++];
	memset(hc, 0, sizeof(*hc));
	hc->name = xstrdup(name);
	return hc;
}

/* Parsed address lists of each field called name, once per run. */
static const struct sv_hcache *address_fields(struct sv_run *r,
					      const char *name)
{
	struct sv_hcache *hc = hcache_get(r, name);
	struct sieve_values raw = {0};
	struct strbuf u;

	if (hc->have_addrs)
		return hc;
	hc->have_addrs = true;
	sv_msg_headers(r->msg, &r->hdrs, name, &raw);
	hc->nfields = raw.n;
	hc->addrs = xcalloc(raw.n, sizeof(*hc->addrs));
	hc->naddrs = xcalloc(raw.n, sizeof(*hc->naddrs));
	strbuf_init(&u);
	for (size_t k = 0; k < raw.n; k++) {
		strbuf_reset(&u);
		sv_unfold(raw.v[k], raw.len[k], &u);
		hc->naddrs[k] =
		    sv_addr_parse_list(u.data, u.len, &hc->addrs[k]);
	}
	strbuf_free(&u);
	sieve_values_clear(&raw);
	return hc;
}

static const struct sieve_values *decoded_fields(struct sv_run *r,
						 const char *name)
{
	struct sv_hcache *hc = hcache_get(r, name);
	struct sieve_values raw = {0};
	struct strbuf d;

	if (hc->have_dec)
		return &hc->dec;
	hc->have_dec = true;
	sv_msg_headers(r->msg, &r->hdrs, name, &raw);
	strbuf_init(&d);
	for (size_t k = 0; k < raw.n; k++) {
		strbuf_reset(&d);
		sv_decode_header(raw.v[k], raw.len[k], &d);
		sieve_values_add(&hc->dec, d.data, d.len);
	}
	strbuf_free(&d);
	sieve_values_clear(&raw);
	return &hc->dec;
}

/* Appends views (not copies) of the :index-selected values of src. */
static void view_indexed(const struct sv_cmd *c, const struct sieve_values *src,
			 struct sieve_values *view)
{
	size_t from = 0, to = src->n;

	if (c->index != 0) {
		if ((size_t)c->index > src->n)
			return;
		from = (c->flags & SV_F_LAST) ? src->n - (size_t)c->index
					      : (size_t)c->index - 1;
		to = from + 1;
	}
	for (size_t i = from; i < to; i++) {
		if (view->n == view->cap) {
			view->cap = view->cap ? view->cap * 2 : 8;
			view->v = xrealloc(view->v, view->cap * sizeof(char *));
			view->len =
			    xrealloc(view->len, view->cap * sizeof(size_t));
		}
		view->v[view->n] = src->v[i];
		view->len[view->n++] = src->len[i];
	}
}

static bool test_header(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_values names = {0}, view = {0};
	bool ok;

	expand_list(r, &c->sl[SV_SL_P0], &names);
	for (size_t i = 0; i < names.n; i++)
		view_indexed(c, decoded_fields(r, names.v[i]), &view);
	ok = match_values(r, c, &view, &c->sl[SV_SL_P1]);
	sieve_values_clear(&names);
	free(view.v); /* the strings belong to the cache */
	free(view.len);
	return ok;
}

static bool test_address(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_values names = {0}, vals = {0};
	struct strbuf p;
	bool ok;

	strbuf_init(&p);
	expand_list(r, &c->sl[SV_SL_P0], &names);
	for (size_t i = 0; i < names.n; i++) {
		const struct sv_hcache *hc = address_fields(r, names.v[i]);
		size_t from = 0, to = hc->nfields;

		if (c->index != 0) { /* :index picks a field (RFC 5260 6) */
			if ((size_t)c->index > hc->nfields)
				continue;
			from = (c->flags & SV_F_LAST)
				   ? hc->nfields - (size_t)c->index
				   : (size_t)c->index - 1;
			to = from + 1;
		}
		for (size_t k = from; k < to; k++) {
			for (size_t j = 0; j < hc->naddrs[k]; j++) {
				strbuf_reset(&p);
				if (sv_addr_part(&hc->addrs[k][j],
						 (enum sv_addrpart)c->addrpart,
						 &p))
					sieve_values_add(&vals, p.data, p.len);
			}
		}
	}
	strbuf_free(&p);
	ok = match_values(r, c, &vals, &c->sl[SV_SL_P1]);
	sieve_values_clear(&names);
	sieve_values_clear(&vals);
	return ok;
}

static void envelope_part(const struct sv_cmd *c, const char *addr,
			  struct sieve_values *vals)
{
	struct sv_addr a = {0};
	struct strbuf p;
	const char *at;

	if (addr == NULL)
		return;
	if (*addr == '\0') {
		/* the null reverse-path "<>" (RFC 5228 5.4) */
		if (c->addrpart == SV_AP_ALL)
			sieve_values_add(vals, "", 0);
		return;
	}
	at = strrchr(addr, '@');
	strbuf_init(&p);
	a.all = (char *)addr;
	if (at != NULL) {
		a.local = xstrndup(addr, (size_t)(at - addr));
		a.domain = xstrdup(at + 1);
	}
	if (sv_addr_part(&a, (enum sv_addrpart)c->addrpart, &p))
		sieve_values_add(vals, p.data, p.len);
	free(a.local);
	free(a.domain);
	strbuf_free(&p);
}

static bool test_envelope(struct sv_run *r, const struct sv_cmd *c)
{
	const struct sieve_msg *m = sv_run_msg(r);
	struct sieve_values names = {0}, vals = {0};
	bool ok;

	expand_list(r, &c->sl[SV_SL_P0], &names);
	for (size_t i = 0; i < names.n; i++) {
		if (strcasecmp(names.v[i], "from") == 0)
			envelope_part(c, m->env_from, &vals);
		else if (strcasecmp(names.v[i], "to") == 0)
			envelope_part(c, m->orig_to ? m->orig_to : m->env_to,
				      &vals);
	}
	ok = match_values(r, c, &vals, &c->sl[SV_SL_P1]);
	sieve_values_clear(&names);
	sieve_values_clear(&vals);
	return ok;
}

static bool test_exists(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_values names = {0}, vals;
	bool ok = true;

	expand_list(r, &c->sl[SV_SL_P0], &names);
	for (size_t i = 0; i < names.n && ok; i++) {
		memset(&vals, 0, sizeof(vals));
		sv_msg_headers(r->msg, &r->hdrs, names.v[i], &vals);
		ok = vals.n > 0;
		sieve_values_clear(&vals);
	}
	sieve_values_clear(&names);
	return ok;
}

static bool test_string(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_values vals = {0};
	bool ok;

	expand_list(r, &c->sl[SV_SL_P0], &vals);
	/* RFC 5229 5: empty strings are not counted by :count */
	if (c->match == SV_MATCH_COUNT) {
		size_t k = 0;

		for (size_t i = 0; i < vals.n; i++) {
			if (vals.len[i] == 0) {
				free(vals.v[i]);
				continue;
			}
			vals.v[k] = vals.v[i];
			vals.len[k++] = vals.len[i];
		}
		vals.n = k;
	}
	ok = match_values(r, c, &vals, &c->sl[SV_SL_P1]);
	sieve_values_clear(&vals);
	return ok;
}

static bool test_hasflag(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_values vals = {0};
	struct strbuf all;
	bool ok;

	strbuf_init(&all);
	if (c->flags & SV_F_HAS_VAR) {
		for (uint32_t i = 0; i < c->sl[SV_SL_P0].n; i++) {
			struct strbuf *v =
			    sv_run_flagvar(r, c, &c->sl[SV_SL_P0].v[i]);

			sv_flags_add(&all, v->data, v->len);
		}
	} else {
		struct strbuf *v = sv_run_flagvar(r, c, NULL);

		strbuf_add(&all, v->data, v->len);
	}
	for (char *p = strtok(all.data, " "); p; p = strtok(NULL, " "))
		sieve_values_add(&vals, p, strlen(p));
	ok = match_values(r, c, &vals, &c->sl[SV_SL_P1]);
	sieve_values_clear(&vals);
	strbuf_free(&all);
	return ok;
}

static bool test_body(struct sv_run *r, const struct sv_cmd *c)
{
	struct sieve_values types = {0}, parts = {0};
	enum sieve_body_transform t = c->bodyx == SV_BODY_RAW ? SIEVE_BODY_RAW
				      : c->bodyx == SV_BODY_CONTENT
					  ? SIEVE_BODY_CONTENT
					  : SIEVE_BODY_TEXT;
	bool ok;

	expand_list(r, &c->sl[SV_SL_CONTENT], &types);
	if (sv_msg_body(sv_run_msg(r), t, (const char *const *)types.v, types.n,
			&parts) < 0) {
		sv_run_fail(r, c, "body: cannot read the message body");
		ok = false;
	} else {
		ok = match_values(r, c, &parts, &c->sl[SV_SL_P0]);
	}
	sieve_values_clear(&types);
	sieve_values_clear(&parts);
	return ok;
}

/* The zone a date test converts to: :zone, :originalzone or local. */
static bool date_zone(struct sv_run *r, const struct sv_cmd *c, int *zone_r,
		      bool *orig_r)
{
	*orig_r = (c->flags & SV_F_ORIGZONE) != 0;
	*zone_r = sv_run_msg(r)->local_offset_min;
	if (c->sl[SV_SL_ZONE].n > 0) {
		struct strbuf z;
		int ret;

		strbuf_init(&z);
		sv_run_expand(r, &c->sl[SV_SL_ZONE].v[0], &z);
		ret = sv_zone_parse(z.data, z.len, zone_r);
		strbuf_free(&z);
		return ret == 0;
	}
	return true;
}

static bool test_date(struct sv_run *r, const struct sv_cmd *c)
{
	bool cur = c->op == SV_OP_CURRENTDATE, orig, ok;
	struct sieve_values raw = {0}, vals = {0};
	struct strbuf part, name, out;
	int zone;

	if (!date_zone(r, c, &zone, &orig))
		return false;
	strbuf_init(&part);
	strbuf_init(&name);
	strbuf_init(&out);
	sv_run_expand(r, &c->sl[cur ? SV_SL_P0 : SV_SL_P1].v[0], &part);
	if (cur) {
		struct sv_tm tm;
		time_t now =
		    sv_run_msg(r)->now ? sv_run_msg(r)->now : time(NULL);

		sv_date_from_epoch((int64_t)now, zone, &tm);
		if (sv_date_part(&tm, part.data, &out) == 0)
			sieve_values_add(&vals, out.data, out.len);
	} else {
		sv_run_expand(r, &c->sl[SV_SL_P0].v[0], &name);
		field_values(r, c, name.data, &raw);
		for (size_t i = 0; i < raw.n; i++) {
			struct sv_tm tm;

			const char *d = raw.v[i], *semi;
			size_t dlen = raw.len[i];

			/* a Received field carries its date after the last
			 * ';' (RFC 5321 4.4) */
			if (strcasecmp(name.data, "received") == 0 &&
			    (semi = strrchr(d, ';')) != NULL) {
				dlen -= (size_t)(semi + 1 - d);
				d = semi + 1;
			}
			strbuf_reset(&out);
			sv_unfold(d, dlen, &out);
			if (sv_date_parse(out.data, out.len, &tm) < 0)
				continue;
			if (!orig)
				sv_date_from_epoch(tm.epoch, zone, &tm);
			strbuf_reset(&out);
			if (sv_date_part(&tm, part.data, &out) == 0)
				sieve_values_add(&vals, out.data, out.len);
		}
	}
	ok = match_values(r, c, &vals, &c->sl[cur ? SV_SL_P1 : SV_SL_P2]);
	sieve_values_clear(&raw);
	sieve_values_clear(&vals);
	strbuf_free(&part);
	strbuf_free(&name);
	strbuf_free(&out);
	return ok;
}

static bool test_mailboxexists(struct sv_run *r, const struct sv_cmd *c)
{
	const struct sieve_msg *m = sv_run_msg(r);
	struct sieve_values names = {0};
	bool ok = true;

	expand_list(r, &c->sl[SV_SL_P0], &names);
	for (size_t i = 0; i < names.n && ok; i++)
		ok = m->mailbox_exists != NULL &&
		     m->mailbox_exists(m->ctx, names.v[i]) == 1;
	sieve_values_clear(&names);
	return ok;
}

bool sv_eval_test(struct sv_run *r, const struct sv_cmd *c)
{
	uint64_t size;

	if (r->failed)
		return false;
	switch (c->op) {
	case SV_OP_TRUE:
		return true;
	case SV_OP_FALSE:
		return false;
	case SV_OP_NOT:
		return !sv_eval_test(r, &c->kids[0]);
	case SV_OP_ALLOF:
		for (uint32_t i = 0; i < c->nkids; i++)
			if (!sv_eval_test(r, &c->kids[i]))
				return false;
		return true;
	case SV_OP_ANYOF:
		for (uint32_t i = 0; i < c->nkids; i++)
			if (sv_eval_test(r, &c->kids[i]))
				return true;
		return false;
	case SV_OP_SIZE:
		size = r->msg->size ? r->msg->size : r->msg->raw_len;
		return (c->flags & SV_F_OVER) ? size > c->num : size < c->num;
	case SV_OP_HEADER:
		return test_header(r, c);
	case SV_OP_ADDRESS:
		return test_address(r, c);
	case SV_OP_ENVELOPE:
		return test_envelope(r, c);
	case SV_OP_EXISTS:
		return test_exists(r, c);
	case SV_OP_STRING:
		return test_string(r, c);
	case SV_OP_HASFLAG:
		return test_hasflag(r, c);
	case SV_OP_BODY:
		return test_body(r, c);
	case SV_OP_DATE:
	case SV_OP_CURRENTDATE:
		return test_date(r, c);
	case SV_OP_MAILBOXEXISTS:
		return test_mailboxexists(r, c);
	}
	return false;
}
