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
	free(a->norm); /* norm_ok lives in the same block */
	free(a->norm_data);
	a->norm = NULL;
	a->norm_ok = NULL;
	a->norm_data = NULL;
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
	if (e->packed) {
		for (size_t i = 0; i < e->nattrs; i++)
			attr_clear_norm(&e->attrs[i]);
	} else {
		for (size_t i = 0; i < e->nattrs; i++)
			attr_free(&e->attrs[i]);
		free(e->attrs);
		free(e->dn);
		free(e->ndn);
	}
	free(e);
	*ep = NULL;
}

/* Gives a packed entry strings and arrays of its own, so that it can
 * change; the block stays allocated (e lives in it) until the entry is
 * freed. */
static void entry_unpack(struct entry *e)
{
	struct attr *attrs;

	if (!e->packed)
		return;
	attrs = xcalloc(e->nattrs ? e->nattrs : 1, sizeof(*attrs));
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct attr *p = &e->attrs[i];
		struct attr *a = &attrs[i];

		*a = *p; /* type and the prepared values carry over */
		a->name = xstrdup(p->name);
		a->vals = xmalloc((p->nvals ? p->nvals : 1) * sizeof(*a->vals));
		for (size_t j = 0; j < p->nvals; j++) {
			a->vals[j].bv_len = p->vals[j].bv_len;
			a->vals[j].bv_val = xmalloc(p->vals[j].bv_len + 1);
			memcpy(a->vals[j].bv_val, p->vals[j].bv_val,
			       p->vals[j].bv_len + 1);
		}
	}
	e->attrs = attrs;
	e->dn = xstrdup(e->dn);
	e->ndn = xstrdup(e->ndn);
	e->packed = 0;
}

void ab_entry_set_dn(struct entry *e, char *dn, char *ndn)
{
	entry_unpack(e);
	if (dn != NULL) {
		free(e->dn);
		e->dn = dn;
	}
	if (ndn != NULL) {
		free(e->ndn);
		e->ndn = ndn;
	}
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
	struct attr *a;

	entry_unpack(e);
	a = ab_entry_attr(e, t, name);

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
	entry_unpack(e);
	a = &e->attrs[i];
	attr_free(a);
	memmove(&e->attrs[i], &e->attrs[i + 1],
		(e->nattrs - i - 1) * sizeof(*e->attrs));
	e->nattrs--;
	return 1;
}

void ab_entry_remove_value(struct entry *e, struct attr *a, size_t i)
{
	size_t ai = (size_t)(a - e->attrs);

	entry_unpack(e);
	a = &e->attrs[ai];
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
	struct attr *a;

	entry_unpack(e);
	a = ab_entry_attr(e, t, name);

	if (a != NULL)
		ab_entry_remove_attr(e, a);
	ab_entry_add_value(e, t, name, v, strlen(v));
}

/* Prepares every value of a at once: one block for the bervals and the
 * validity flags, one for the bytes (each value NUL-terminated). */
static void attr_prepare(struct attr *a)
{
	size_t n = a->nvals ? a->nvals : 1, total = 0, off = 0;
	struct strbuf sb;

	a->norm = xmalloc(n * (sizeof(*a->norm) + 1));
	a->norm_ok = (unsigned char *)(a->norm + n);
	a->norm_ok[0] = 0;
	for (size_t j = 0; j < a->nvals; j++)
		total += a->vals[j].bv_len + 1;
	strbuf_init(&sb);
	strbuf_reserve(&sb, total + 16);
	for (size_t j = 0; j < a->nvals; j++) {
		size_t start = sb.len;

		a->norm_ok[j] = 1;
		if (a->type == NULL) {
			strbuf_add(&sb, a->vals[j].bv_val, a->vals[j].bv_len);
		} else if (ab_schema_normalize(a->type, a->vals[j].bv_val,
					       a->vals[j].bv_len, &sb) < 0) {
			strbuf_truncate(&sb, start);
			a->norm_ok[j] = 0;
		}
		a->norm[j].bv_len = sb.len - start;
		strbuf_addc(&sb, '\0');
	}
	a->norm_data = ab_sb_take(&sb, NULL);
	for (size_t j = 0; j < a->nvals; j++) {
		a->norm[j].bv_val = a->norm_data + off;
		off += a->norm[j].bv_len + 1;
	}
}

const struct berval *ab_attr_norm(struct attr *a, size_t i)
{
	if (a->norm == NULL)
		attr_prepare(a);
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

/* The record's shape: counts and string bytes, for one allocation. */
struct shape {
	size_t na, nv, bytes;
};

/* Walks the record once; 0 and *sh, or -1 when it is corrupt. */
static int record_shape(struct cursor c, struct shape *sh)
{
	const char *s;
	size_t l, nv;

	memset(sh, 0, sizeof(*sh));
	if (get_str(&c, &s, &l) < 0)
		return -1;
	sh->bytes += l + 1;
	if (get_str(&c, &s, &l) < 0 || get_u32(&c, &sh->na) < 0)
		return -1;
	sh->bytes += l + 1;
	/* Every attribute takes at least 8 bytes of the record. */
	if (sh->na > c.left / 8)
		return -1;
	for (size_t i = 0; i < sh->na; i++) {
		if (get_str(&c, &s, &l) < 0 || get_u32(&c, &nv) < 0 ||
		    nv > c.left / 4)
			return -1;
		sh->bytes += l + 1;
		sh->nv += nv;
		for (size_t j = 0; j < nv; j++) {
			if (get_str(&c, &s, &l) < 0)
				return -1;
			sh->bytes += l + 1;
		}
	}
	return 0;
}

/* Copies s[0..len) and a NUL to *pool. */
static char *pool_str(char **pool, const char *s, size_t len)
{
	char *d = *pool;

	memcpy(d, s, len);
	d[len] = '\0';
	*pool += len + 1;
	return d;
}

/* The old way, one value at a time: for records that name an attribute
 * twice, which a packed entry cannot hold. */
static struct entry *decode_slow(struct cursor c)
{
	const char *dn, *ndn, *name, *v;
	size_t dl, nl, na, nv, vl, namel;
	struct entry *e;
	char *dns, *ndns, *names;

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

static int attr_seen(const struct entry *e, size_t n, const struct attr *a)
{
	for (size_t i = 0; i < n; i++)
		if (a->type != NULL
			? e->attrs[i].type == a->type
			: (e->attrs[i].type == NULL &&
			   strcasecmp(e->attrs[i].name, a->name) == 0))
			return 1;
	return 0;
}

/* The types of the attribute names at each position of the last records
 * decoded: records of one book list the same names in the same order, so
 * most lookups are a memcmp.  (The schema is fixed; ldapab is one
 * thread.) */
static struct {
	char name[32];
	size_t len; /* 0: empty slot */
	const struct schema_attr *type;
} type_cache[32];

static const struct schema_attr *attr_type(size_t i, const char *s, size_t l)
{
	const struct schema_attr *t;

	if (i < 32 && l > 0 && type_cache[i].len == l &&
	    memcmp(type_cache[i].name, s, l) == 0)
		return type_cache[i].type;
	t = ab_schema_attr_find(s, l);
	if (i < 32 && l > 0 && l < sizeof(type_cache[i].name)) {
		memcpy(type_cache[i].name, s, l);
		type_cache[i].len = l;
		type_cache[i].type = t;
	}
	return t;
}

struct entry *ab_entry_decode(const char *buf, size_t len)
{
	struct cursor c = {(const unsigned char *)buf, len};
	struct shape sh;
	struct berval *vals;
	struct entry *e;
	const char *s;
	size_t l, skip;
	char *pool;

	if (len < 4 || memcmp(buf, "RKE1", 4) != 0)
		return NULL;
	c.p += 4;
	c.left -= 4;
	if (record_shape(c, &sh) < 0)
		return NULL;
	e = xmalloc(sizeof(*e) + sh.na * sizeof(struct attr) +
		    sh.nv * sizeof(struct berval) + sh.bytes);
	e->attrs = (struct attr *)(e + 1);
	vals = (struct berval *)(e->attrs + sh.na);
	pool = (char *)(vals + sh.nv);
	e->packed = 1;
	/* The shape was checked: these reads cannot fail. */
	get_str(&c, &s, &l);
	e->dn = pool_str(&pool, s, l);
	get_str(&c, &s, &l);
	e->ndn = pool_str(&pool, s, l);
	get_u32(&c, &skip);
	e->nattrs = 0;
	for (size_t i = 0; i < sh.na; i++) {
		struct attr *a = &e->attrs[e->nattrs];

		memset(a, 0, sizeof(*a));
		get_str(&c, &s, &l);
		a->type = attr_type(i, s, l);
		a->name = pool_str(&pool, s, l);
		if (a->type != NULL)
			a->name = (char *)a->type->names[0];
		get_u32(&c, &a->nvals);
		a->vals = vals;
		vals += a->nvals;
		for (size_t j = 0; j < a->nvals; j++) {
			get_str(&c, &s, &l);
			a->vals[j].bv_len = l;
			a->vals[j].bv_val = pool_str(&pool, s, l);
		}
		if (attr_seen(e, e->nattrs, a)) {
			ab_entry_free(&e);
			c.p = (const unsigned char *)buf + 4;
			c.left = len - 4;
			return decode_slow(c);
		}
		/* An attribute without values is no attribute. */
		if (a->nvals > 0)
			e->nattrs++;
	}
	return e;
}
