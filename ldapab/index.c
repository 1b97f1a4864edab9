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
