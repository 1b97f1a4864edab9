/*
 * index.c - equality and trigram indexes (see index.h).
 */
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "filter.h"
#include "index.h"
#include "log.h"
#include "prep.h"
#include "proto.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"

/* Index keys of one entry, collected then sorted and deduplicated. */
struct tokens {
	struct strbuf *v;
	size_t n, cap;
};

static void tok_add(struct tokens *t, const char *attr, char kind,
		    const char *p, size_t len)
{
	struct strbuf *sb;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	sb = &t->v[t->n++];
	strbuf_init(sb);
	strbuf_adds(sb, attr);
	strbuf_addc(sb, '\0');
	strbuf_addc(sb, kind);
	strbuf_add(sb, p, len);
}

static void tok_free(struct tokens *t)
{
	for (size_t i = 0; i < t->n; i++)
		strbuf_free(&t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int sb_cmp(const void *x, const void *y)
{
	const struct strbuf *a = x, *b = y;
	int c = memcmp(a->data, b->data, a->len < b->len ? a->len : b->len);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void tok_sort(struct tokens *t)
{
	size_t j = 0;

	if (t->n == 0)
		return;
	qsort(t->v, t->n, sizeof(*t->v), sb_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (j > 0 && sb_cmp(&t->v[j - 1], &t->v[i]) == 0) {
			strbuf_free(&t->v[i]);
			continue;
		}
		t->v[j++] = t->v[i];
	}
	t->n = j;
}

static void trigrams(struct tokens *t, const char *attr, const char *p,
		     size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		tok_add(t, attr, '~', p + i, 3);
}

static void entry_tokens(const struct entry *e, struct tokens *t)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nattrs; i++) {
		struct attr *a = &e->attrs[i];

		if (a->type == NULL || !(a->type->flags & AT_INDEXED))
			continue;
		for (size_t j = 0; j < a->nvals; j++) {
			const struct berval *n = ab_attr_norm(a, j);

			if (n == NULL)
				continue;
			if (n->bv_len <= INDEX_MAX_EQ)
				tok_add(t, a->type->names[0], '=', n->bv_val,
					n->bv_len);
			/* The first three bytes serve initial substrings
			 * ("ann*"), more selective than any trigram. */
			if (n->bv_len >= 3)
				tok_add(t, a->type->names[0], '^', n->bv_val,
					3);
			trigrams(t, a->type->names[0], n->bv_val, n->bv_len);
		}
	}
	tok_sort(t);
}

static int idx_put(DB *idx, DB_TXN *txn, const struct strbuf *tok,
		   const char *key)
{
	DBT k, d;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = tok->data;
	k.size = (u_int32_t)tok->len;
	d.data = (void *)key;
	d.size = (u_int32_t)strlen(key);
	rc = idx->put(idx, txn, &k, &d, DB_NODUPDATA);
	return rc == DB_KEYEXIST ? 0 : rc;
}

static int idx_del(DB *idx, DB_TXN *txn, const struct strbuf *tok,
		   const char *key)
{
	DBC *cur;
	DBT k, d;
	int rc;

	if ((rc = idx->cursor(idx, txn, &cur, 0)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = tok->data;
	k.size = (u_int32_t)tok->len;
	d.data = (void *)key;
	d.size = (u_int32_t)strlen(key);
	rc = cur->get(cur, &k, &d, DB_GET_BOTH | DB_RMW);
	if (rc == 0)
		rc = cur->del(cur, 0);
	cur->close(cur);
	return rc == DB_NOTFOUND ? 0 : rc;
}

int ab_index_update(DB *idx, DB_TXN *txn, const char *key,
		    const struct entry *old, const struct entry *new_e)
{
	struct tokens o = {NULL, 0, 0}, n = {NULL, 0, 0};
	size_t i = 0, j = 0;
	int rc = 0;

	entry_tokens(old, &o);
	entry_tokens(new_e, &n);
	/* Merge the sorted lists: only differences touch the index. */
	while (rc == 0 && (i < o.n || j < n.n)) {
		int c = i == o.n ? 1 : j == n.n ? -1 : sb_cmp(&o.v[i], &n.v[j]);

		if (c < 0)
			rc = idx_del(idx, txn, &o.v[i++], key);
		else if (c > 0)
			rc = idx_put(idx, txn, &n.v[j++], key);
		else
			i++, j++;
	}
	tok_free(&o);
	tok_free(&n);
	return rc;
}

/* --- candidates --------------------------------------------------------- */

void ab_keyset_free(struct keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->keys[i]);
	free(ks->keys);
	memset(ks, 0, sizeof(*ks));
}

static void ks_add(struct keyset *ks, const char *p, size_t len)
{
	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? ks->cap * 2 : 16;
		ks->keys = xrealloc(ks->keys, ks->cap * sizeof(*ks->keys));
	}
	ks->keys[ks->n++] = xstrndup(p, len);
}

/* All entry keys under one index key, read in bulk (DB_MULTIPLE). */
static int lookup(DB *idx, const struct strbuf *tok, struct keyset *ks)
{
	size_t bufsize = 256 * 1024;
	void *buf = xmalloc(bufsize);
	u_int32_t flags = DB_SET | DB_MULTIPLE;
	DBC *cur;
	DBT k, d;
	int rc;

	if (idx->cursor(idx, NULL, &cur, 0) != 0) {
		free(buf);
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = tok->data;
	k.size = (u_int32_t)tok->len;
	d.data = buf;
	d.ulen = (u_int32_t)bufsize;
	d.flags = DB_DBT_USERMEM;
	while ((rc = cur->get(cur, &k, &d, flags)) == 0) {
		void *p, *data;
		u_int32_t len;

		DB_MULTIPLE_INIT(p, &d);
		for (;;) {
			DB_MULTIPLE_NEXT(p, &d, data, len);
			if (p == NULL)
				break;
			ks_add(ks, data, len);
		}
		flags = DB_NEXT_DUP | DB_MULTIPLE;
	}
	cur->close(cur);
	free(buf);
	return rc == DB_NOTFOUND ? 0 : -1;
}

static void ks_intersect(struct keyset *a, struct keyset *b)
{
	size_t i = 0, j = 0, n = 0;

	while (i < a->n) {
		int c = j < b->n ? strcmp(a->keys[i], b->keys[j]) : -1;

		if (c == 0) {
			a->keys[n++] = a->keys[i++];
			j++;
		} else if (c < 0) {
			free(a->keys[i++]);
		} else {
			j++;
		}
	}
	a->n = n;
	ab_keyset_free(b);
}

/* Both sets are sorted: a linear merge keeps the union sorted. */
static void ks_union(struct keyset *a, struct keyset *b)
{
	struct keyset out = {NULL, 0, 0};
	size_t i = 0, j = 0;

	out.cap = a->n + b->n;
	out.keys = xmalloc((out.cap ? out.cap : 1) * sizeof(*out.keys));
	while (i < a->n || j < b->n) {
		int c = i == a->n   ? 1
			: j == b->n ? -1
				    : strcmp(a->keys[i], b->keys[j]);

		if (c <= 0) {
			out.keys[out.n++] = a->keys[i++];
			if (c == 0)
				free(b->keys[j++]);
		} else {
			out.keys[out.n++] = b->keys[j++];
		}
	}
	free(a->keys);
	free(b->keys);
	*a = out;
	memset(b, 0, sizeof(*b));
}

static int cand_substr(DB *idx, const struct filter *f, struct keyset *ks)
{
	const struct berval *pieces[64];
	struct tokens t = {NULL, 0, 0};
	size_t np = 0;
	int rc = 0, first = 1;
	unsigned flags =
	    f->at->match == MATCH_TEL ? PREP_TEL | PREP_FOLD | PREP_PIECE
	    : f->at->match == MATCH_CASE_EXACT ? PREP_PIECE
					       : PREP_FOLD | PREP_PIECE;

	if (f->initial.bv_val)
		pieces[np++] = &f->initial;
	for (size_t i = 0; i < f->nany && np < 63; i++)
		pieces[np++] = &f->any[i];
	if (f->final.bv_val && np < 64)
		pieces[np++] = &f->final;
	for (size_t i = 0; i < np; i++) {
		struct strbuf sb;

		strbuf_init(&sb);
		if (ab_prep_string(pieces[i]->bv_val, pieces[i]->bv_len, flags,
				   &sb) == 0) {
			if (pieces[i] == &f->initial && sb.len >= 3)
				tok_add(&t, f->at->names[0], '^', sb.data, 3);
			trigrams(&t, f->at->names[0], sb.data, sb.len);
		}
		strbuf_free(&sb);
	}
	tok_sort(&t);
	if (t.n == 0) {
		tok_free(&t);
		return 0;
	}
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		struct keyset one = {NULL, 0, 0};

		if (lookup(idx, &t.v[i], &one) < 0) {
			rc = -1;
			ab_keyset_free(&one);
			break;
		}
		/* Duplicates come back in DB_DUPSORT's byte order, which is
		 * strcmp() order: already a sorted set. */
		if (first) {
			*ks = one;
			first = 0;
		} else {
			ks_intersect(ks, &one);
		}
		if (ks->n == 0)
			break;
	}
	tok_free(&t);
	return rc < 0 ? -1 : 1;
}

static int cand_eq(DB *idx, const struct filter *f, struct keyset *ks)
{
	struct strbuf sb, tok;
	int rc;

	strbuf_init(&sb);
	if (ab_schema_normalize(f->at, f->value.bv_val, f->value.bv_len, &sb) <
	    0) {
		strbuf_free(&sb);
		return 1; /* Undefined: no entry matches */
	}
	if (sb.len > INDEX_MAX_EQ) {
		strbuf_free(&sb);
		return 0;
	}
	strbuf_init(&tok);
	strbuf_adds(&tok, f->at->names[0]);
	strbuf_addc(&tok, '\0');
	strbuf_addc(&tok, '=');
	strbuf_add(&tok, sb.data, sb.len);
	rc = lookup(idx, &tok, ks);
	strbuf_free(&tok);
	strbuf_free(&sb);
	return rc < 0 ? -1 : 1;
}

int ab_index_candidates(DB *idx, const struct filter *f, struct keyset *ks)
{
	struct keyset sub;
	int rc, have = 0;

	memset(ks, 0, sizeof(*ks));
	switch (f->tag) {
	case LDAP_FILTER_EQUALITY:
		if (f->at == NULL || !(f->at->flags & AT_INDEXED))
			return 0;
		return cand_eq(idx, f, ks);
	case LDAP_FILTER_SUBSTRINGS:
		if (f->at == NULL || !(f->at->flags & AT_INDEXED))
			return 0;
		return cand_substr(idx, f, ks);
	case LDAP_FILTER_AND:
		/* Any indexed operand bounds the result; intersect them. */
		for (size_t i = 0; i < f->nkids; i++) {
			rc = ab_index_candidates(idx, f->kids[i], &sub);
			if (rc < 0) {
				ab_keyset_free(ks);
				return -1;
			}
			if (rc == 0)
				continue;
			if (!have) {
				*ks = sub;
				have = 1;
			} else {
				ks_intersect(ks, &sub);
			}
		}
		return have;
	case LDAP_FILTER_OR:
		/* Every operand must be indexed, or anything may match. */
		if (f->nkids == 0)
			return 1;
		for (size_t i = 0; i < f->nkids; i++) {
			rc = ab_index_candidates(idx, f->kids[i], &sub);
			if (rc <= 0) {
				ab_keyset_free(ks);
				return rc;
			}
			ks_union(ks, &sub);
		}
		return 1;
	default:
		return 0;
	}
}
