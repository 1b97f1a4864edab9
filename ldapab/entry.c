/*
 * entry.c - entries in memory and their stored (length-prefixed) form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entry.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"

struct entry *ab_entry_new(const char *dn, const char *ndn)
{
	struct entry *e = xcalloc(1, sizeof(*e));

	e->dn = xstrdup(dn);
	e->ndn = xstrdup(ndn);
	return e;
}

static void attr_clear_norm(struct attr *a)
{
	if (a->norm != NULL) {
		for (size_t i = 0; i < a->nvals; i++)
			free(a->norm[i].bv_val);
		free(a->norm);
		free(a->norm_ok);
	}
	a->norm = NULL;
	a->norm_ok = NULL;
}

static void attr_free(struct attr *a)
{
	attr_clear_norm(a);
	for (size_t i = 0; i < a->nvals; i++)
		free(a->vals[i].bv_val);
	free(a->vals);
	free(a->name);
}

void ab_entry_free(struct entry **ep)
{
	struct entry *e = *ep;

	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nattrs; i++)
		attr_free(&e->attrs[i]);
	free(e->attrs);
	free(e->dn);
	free(e->ndn);
	free(e);
	*ep = NULL;
}

struct entry *ab_entry_dup(const struct entry *e)
{
	struct entry *d = ab_entry_new(e->dn, e->ndn);

	for (size_t i = 0; i < e->nattrs; i++)
		for (size_t j = 0; j < e->attrs[i].nvals; j++)
			ab_entry_add_value(d, e->attrs[i].type,
					   e->attrs[i].name,
					   e->attrs[i].vals[j].bv_val,
					   e->attrs[i].vals[j].bv_len);
	return d;
}

struct attr *ab_entry_attr(const struct entry *e, const struct schema_attr *t,
			   const char *name)
{
	for (size_t i = 0; i < e->nattrs; i++) {
		if (t != NULL ? e->attrs[i].type == t
			      : (e->attrs[i].type == NULL &&
				 strcasecmp(e->attrs[i].name, name) == 0))
			return &e->attrs[i];
	}
	return NULL;
}

struct attr *ab_entry_attr_get(const struct entry *e, const char *name)
{
	return ab_entry_attr(e, ab_schema_attr_findz(name), name);
}

void ab_entry_add_value(struct entry *e, const struct schema_attr *t,
			const char *name, const char *v, size_t len)
{
	struct attr *a = ab_entry_attr(e, t, name);

	if (a == NULL) {
		e->attrs =
		    xrealloc(e->attrs, (e->nattrs + 1) * sizeof(*e->attrs));
		a = &e->attrs[e->nattrs++];
		memset(a, 0, sizeof(*a));
		a->type = t;
		a->name = xstrdup(t != NULL ? t->names[0] : name);
	}
	attr_clear_norm(a);
	a->vals = xrealloc(a->vals, (a->nvals + 1) * sizeof(*a->vals));
	a->vals[a->nvals].bv_val = xmalloc(len + 1);
	memcpy(a->vals[a->nvals].bv_val, v, len);
	a->vals[a->nvals].bv_val[len] = '\0';
	a->vals[a->nvals].bv_len = len;
	a->nvals++;
}

int ab_entry_remove_attr(struct entry *e, struct attr *a)
{
	size_t i = (size_t)(a - e->attrs);

	if (i >= e->nattrs)
		return 0;
	attr_free(a);
	memmove(&e->attrs[i], &e->attrs[i + 1],
		(e->nattrs - i - 1) * sizeof(*e->attrs));
	e->nattrs--;
	return 1;
}

void ab_entry_remove_value(struct entry *e, struct attr *a, size_t i)
{
	attr_clear_norm(a);
	free(a->vals[i].bv_val);
	memmove(&a->vals[i], &a->vals[i + 1],
		(a->nvals - i - 1) * sizeof(*a->vals));
	a->nvals--;
	if (a->nvals == 0)
		ab_entry_remove_attr(e, a);
}

void ab_entry_set_value(struct entry *e, const struct schema_attr *t,
			const char *name, const char *v)
{
	struct attr *a = ab_entry_attr(e, t, name);

	if (a != NULL)
		ab_entry_remove_attr(e, a);
	ab_entry_add_value(e, t, name, v, strlen(v));
}

const struct berval *ab_attr_norm(struct attr *a, size_t i)
{
	if (a->norm == NULL) {
		a->norm = xcalloc(a->nvals ? a->nvals : 1, sizeof(*a->norm));
		a->norm_ok = xcalloc(a->nvals ? a->nvals : 1, 1);
		for (size_t j = 0; j < a->nvals; j++) {
			struct strbuf sb;

			strbuf_init(&sb);
			if (a->type == NULL ||
			    ab_schema_normalize(a->type, a->vals[j].bv_val,
						a->vals[j].bv_len, &sb) == 0)
				a->norm_ok[j] = 1;
			if (a->type == NULL) {
				strbuf_reset(&sb);
				strbuf_add(&sb, a->vals[j].bv_val,
					   a->vals[j].bv_len);
			}
			a->norm[j].bv_len = sb.len;
			a->norm[j].bv_val = ab_sb_take(&sb, NULL);
		}
	}
	return a->norm_ok[i] ? &a->norm[i] : NULL;
}

int ab_attr_find_value(struct attr *a, const char *v, size_t len)
{
	struct strbuf sb;
	int found = -1;

	strbuf_init(&sb);
	if (a->type != NULL) {
		if (ab_schema_normalize(a->type, v, len, &sb) < 0) {
			strbuf_free(&sb);
			return -2;
		}
	} else {
		strbuf_add(&sb, v, len);
	}
	for (size_t i = 0; i < a->nvals && found < 0; i++) {
		const struct berval *n = ab_attr_norm(a, i);

		if (n != NULL && n->bv_len == sb.len &&
		    memcmp(n->bv_val, sb.data, sb.len) == 0)
			found = (int)i;
	}
	strbuf_free(&sb);
	return found;
}

/* Stored form: "RKE1", then length-prefixed (u32 big-endian) dn, ndn,
 * attribute count, and per attribute its name, value count, values. */
static void put_u32(struct strbuf *out, size_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24),
			      (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			      (unsigned char)v};

	strbuf_add(out, b, 4);
}

static void put_str(struct strbuf *out, const char *s, size_t len)
{
	put_u32(out, len);
	strbuf_add(out, s, len);
}

void ab_entry_encode(const struct entry *e, struct strbuf *out)
{
	strbuf_add(out, "RKE1", 4);
	put_str(out, e->dn, strlen(e->dn));
	put_str(out, e->ndn, strlen(e->ndn));
	put_u32(out, e->nattrs);
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct attr *a = &e->attrs[i];

		put_str(out, a->name, strlen(a->name));
		put_u32(out, a->nvals);
		for (size_t j = 0; j < a->nvals; j++)
			put_str(out, a->vals[j].bv_val, a->vals[j].bv_len);
	}
}

struct cursor {
	const unsigned char *p;
	size_t left;
};

static int get_u32(struct cursor *c, size_t *v)
{
	if (c->left < 4)
		return -1;
	*v = (size_t)c->p[0] << 24 | (size_t)c->p[1] << 16 |
	     (size_t)c->p[2] << 8 | c->p[3];
	c->p += 4;
	c->left -= 4;
	return 0;
}

static int get_str(struct cursor *c, const char **s, size_t *len)
{
	if (get_u32(c, len) < 0 || *len > c->left)
		return -1;
	*s = (const char *)c->p;
	c->p += *len;
	c->left -= *len;
	return 0;
}

struct entry *ab_entry_decode(const char *buf, size_t len)
{
	struct cursor c = {(const unsigned char *)buf, len};
	const char *dn, *ndn, *name, *v;
	size_t dl, nl, na, nv, vl, namel;
	struct entry *e;
	char *dns, *ndns, *names;

	if (len < 4 || memcmp(buf, "RKE1", 4) != 0)
		return NULL;
	c.p += 4;
	c.left -= 4;
	if (get_str(&c, &dn, &dl) < 0 || get_str(&c, &ndn, &nl) < 0 ||
	    get_u32(&c, &na) < 0)
		return NULL;
	dns = xstrndup(dn, dl);
	ndns = xstrndup(ndn, nl);
	e = ab_entry_new(dns, ndns);
	free(dns);
	free(ndns);
	for (size_t i = 0; i < na; i++) {
		if (get_str(&c, &name, &namel) < 0 || get_u32(&c, &nv) < 0)
			goto bad;
		names = xstrndup(name, namel);
		for (size_t j = 0; j < nv; j++) {
			if (get_str(&c, &v, &vl) < 0) {
				free(names);
				goto bad;
			}
			ab_entry_add_value(e, ab_schema_attr_findz(names),
					   names, v, vl);
		}
		free(names);
	}
	return e;
bad:
	ab_entry_free(&e);
	return NULL;
}
