/*
 * index_cand.c - candidate selection from the attribute indexes (see
 * index.h): equality and substring items look up their index keys, AND
 * intersects and OR unites the sorted key sets.
 *
 * The storage keys of one selection live in an arena of large chunks
 * owned by the resulting keyset, so a search that reads thousands of
 * index entries makes a handful of allocations, and sets are merged by
 * moving pointers.
 */
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "index.h"
#include "prep.h"
#include "proto.h"
#include "schema.h"
#include "strbuf.h"

#define ARENA_CHUNK (64 * 1024)
/* Bulk reads of duplicates (DB_MULTIPLE); a multiple of 1024 bytes. */
#define BULK_SIZE (256 * 1024)
/* Below this many candidates another lookup costs more than testing
 * the filter on each of them. */
#define SMALL_SET 16
/* At most this many index keys per substring item. */
#define MAX_TOKENS 32
#define TOKEN_MAX 80

struct ks_chunk {
	struct ks_chunk *next;
	size_t used, size;
	char data[];
};

/* Bulk reads of a limited selection start this small. */
#define CHUNK_SIZE (8 * 1024)

/* One selection: the index, the arena of its keys, and the window. */
struct cand_ctx {
	DB *idx;
	struct ks_chunk *arena;
	const char *from; /* keys up to this one are skipped (NULL: none) */
	size_t limit;	  /* keys to read per index key (0: all) */
	u_int32_t chunk;  /* bulk read size with a limit */
};

/* The bulk buffer: the daemon and the CLI are single-threaded and a
 * selection never nests, so one buffer serves every lookup without an
 * allocation of its own. */
static u_int32_t bulk[BULK_SIZE / sizeof(u_int32_t)];

struct token {
	size_t len;
	char data[TOKEN_MAX];
};

static char *arena_alloc(struct cand_ctx *cx, size_t len)
{
	struct ks_chunk *c = cx->arena;

	if (c == NULL || c->size - c->used < len) {
		size_t size = len > ARENA_CHUNK ? len : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = cx->arena;
		cx->arena = c;
	}
	c->used += len;
	return c->data + c->used - len;
}

static void arena_free(struct ks_chunk *c)
{
	while (c != NULL) {
		struct ks_chunk *next = c->next;

		free(c);
		c = next;
	}
}

void ab_keyset_free(struct keyset *ks)
{
	free(ks->keys);
	arena_free(ks->arena);
	memset(ks, 0, sizeof(*ks));
}

/* Frees a set whose keys live in the selection's arena. */
static void set_free(struct keyset *ks)
{
	free(ks->keys);
	memset(ks, 0, sizeof(*ks));
}

/* Compares a stored key (not NUL-terminated) with a C string. */
static int key_cmp(const void *p, size_t len, const char *s)
{
	size_t sl = strlen(s);
	int c = memcmp(p, s, len < sl ? len : sl);

	return c ? c : (len > sl) - (len < sl);
}

static void set_add(struct cand_ctx *cx, struct keyset *ks, const char *p,
		    size_t len)
{
	char *k = arena_alloc(cx, len + 1);

	memcpy(k, p, len);
	k[len] = '\0';
	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? ks->cap * 2 : 256;
		ks->keys = xrealloc(ks->keys, ks->cap * sizeof(*ks->keys));
	}
	ks->keys[ks->n++] = k;
}

/* Orders two bounds: NULL (no bound) is the largest. */
static const char *bound_min(const char *a, const char *b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	return strcmp(a, b) <= 0 ? a : b;
}

/* Drops the keys past ks->bound. */
static void set_trim(struct keyset *ks)
{
	if (ks->bound == NULL)
		return;
	while (ks->n > 0 && strcmp(ks->keys[ks->n - 1], ks->bound) > 0)
		ks->n--;
}

/*
 * The entry keys under one index key after cx->from, read in bulk
 * (DB_MULTIPLE).  Duplicates come back in DB_DUPSORT's byte order, which
 * is strcmp() order: the set is sorted.  With a limit, reading stops at
 * the first chunk boundary past it and ks->bound is the last key read.
 */
static int lookup(struct cand_ctx *cx, const void *key, size_t len,
		  struct keyset *ks)
{
	u_int32_t flags = DB_SET | DB_MULTIPLE;
	DBC *cur;
	DBT k, d;
	int rc;

	if (cx->idx->cursor(cx->idx, NULL, &cur, 0) != 0)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = (void *)key;
	k.size = (u_int32_t)len;
	d.data = bulk;
	d.ulen = cx->limit ? cx->chunk : BULK_SIZE;
	d.flags = DB_DBT_USERMEM;
	for (;;) {
		void *p, *data;
		u_int32_t dlen;

		rc = cur->get(cur, &k, &d, flags);
		if (rc == DB_BUFFER_SMALL && d.ulen < BULK_SIZE) {
			d.ulen = BULK_SIZE; /* a key larger than a chunk */
			continue;
		}
		if (rc != 0)
			break;

		DB_MULTIPLE_INIT(p, &d);
		for (;;) {
			DB_MULTIPLE_NEXT(p, &d, data, dlen);
			if (p == NULL)
				break;
			if (cx->from != NULL &&
			    key_cmp(data, dlen, cx->from) <= 0)
				continue;
			set_add(cx, ks, data, dlen);
		}
		if (cx->limit && ks->n >= cx->limit) {
			ks->bound = ks->keys[ks->n - 1];
			rc = DB_NOTFOUND;
			break;
		}
		flags = DB_NEXT_DUP | DB_MULTIPLE;
	}
	cur->close(cur);
	return rc == DB_NOTFOUND ? 0 : -1;
}

static void set_intersect(struct keyset *a, struct keyset *b)
{
	size_t i = 0, j = 0, n = 0;

	a->bound = bound_min(a->bound, b->bound);
	set_trim(a);
	set_trim(b);
	while (i < a->n && j < b->n) {
		int c = strcmp(a->keys[i], b->keys[j]);

		if (c == 0) {
			a->keys[n++] = a->keys[i++];
			j++;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
	a->n = n;
	set_free(b);
}

/* Both sets are sorted: a linear merge keeps the union sorted. */
static void set_union(struct keyset *a, struct keyset *b)
{
	struct keyset out = {NULL, 0, 0, NULL, NULL};
	size_t i = 0, j = 0;

	out.bound = bound_min(a->bound, b->bound);
	a->bound = b->bound = out.bound;
	set_trim(a);
	set_trim(b);
	if (a->n == 0) {
		set_free(a);
		*a = *b;
		memset(b, 0, sizeof(*b));
		return;
	}
	if (b->n == 0) {
		set_free(b);
		return;
	}
	out.cap = a->n + b->n;
	out.keys = xmalloc(out.cap * sizeof(*out.keys));
	while (i < a->n || j < b->n) {
		int c = i == a->n   ? 1
			: j == b->n ? -1
				    : strcmp(a->keys[i], b->keys[j]);

		if (c <= 0) {
			out.keys[out.n++] = a->keys[i++];
			j += c == 0;
		} else {
			out.keys[out.n++] = b->keys[j++];
		}
	}
	set_free(a);
	set_free(b);
	*a = out;
}

static int token_cmp(const void *x, const void *y)
{
	const struct token *a = x, *b = y;
	int c = memcmp(a->data, b->data, a->len < b->len ? a->len : b->len);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* "<attr>\0<kind><3 bytes>" (index.h); 0, or -1 when it does not fit. */
static int token_set(struct token *t, const char *attr, char kind,
		     const char *p)
{
	size_t al = strlen(attr);

	if (al + 5 > sizeof(t->data))
		return -1;
	memcpy(t->data, attr, al + 1);
	t->data[al + 1] = kind;
	memcpy(t->data + al + 2, p, 3);
	t->len = al + 5;
	return 0;
}

/*
 * The index keys of a substring item: the first three bytes of the
 * initial piece ('^', which implies that piece's first trigram) and the
 * trigrams of every piece, sorted and unique.  Returns their number.
 */
static size_t substr_tokens(const struct filter *f, struct token *t)
{
	const struct berval *pieces[64];
	const char *attr = f->at->names[0];
	size_t np = 0, n = 0;
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
	for (size_t i = 0; i < np && n < MAX_TOKENS; i++) {
		struct strbuf sb;
		size_t from = 0;

		strbuf_init(&sb);
		if (ab_prep_string(pieces[i]->bv_val, pieces[i]->bv_len, flags,
				   &sb) < 0) {
			strbuf_free(&sb);
			continue;
		}
		if (pieces[i] == &f->initial && sb.len >= 3 &&
		    token_set(&t[n], attr, '^', sb.data) == 0) {
			n++;
			from = 1;
		}
		for (size_t j = from; j + 3 <= sb.len && n < MAX_TOKENS; j++)
			if (token_set(&t[n], attr, '~', sb.data + j) == 0)
				n++;
		strbuf_free(&sb);
	}
	if (n == 0)
		return 0;
	qsort(t, n, sizeof(*t), token_cmp);
	np = 1;
	for (size_t i = 1; i < n; i++)
		if (token_cmp(&t[np - 1], &t[i]) != 0)
			t[np++] = t[i];
	return np;
}

static int cand_substr(struct cand_ctx *cx, const struct filter *f,
		       struct keyset *ks)
{
	struct token t[MAX_TOKENS];
	size_t n = substr_tokens(f, t);

	if (n == 0)
		return 0;
	/* '^' sorts before '~': the most selective key comes first. */
	for (size_t i = 0; i < n; i++) {
		struct keyset one = {NULL, 0, 0, NULL, NULL};

		if (lookup(cx, t[i].data, t[i].len, &one) < 0) {
			set_free(&one);
			set_free(ks);
			return -1;
		}
		if (i == 0)
			*ks = one;
		else
			set_intersect(ks, &one);
		if (ks->n <= SMALL_SET)
			break;
	}
	return 1;
}

static int cand_eq(struct cand_ctx *cx, const struct filter *f,
		   struct keyset *ks)
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
	strbuf_free(&sb);
	rc = lookup(cx, tok.data, tok.len, ks);
	strbuf_free(&tok);
	return rc < 0 ? -1 : 1;
}

static int candidates(struct cand_ctx *cx, const struct filter *f,
		      struct keyset *ks)
{
	struct keyset sub;
	int rc, have = 0;

	memset(ks, 0, sizeof(*ks));
	switch (f->tag) {
	case LDAP_FILTER_EQUALITY:
		if (f->at == NULL || !(f->at->flags & AT_INDEXED))
			return 0;
		return cand_eq(cx, f, ks);
	case LDAP_FILTER_SUBSTRINGS:
		if (f->at == NULL || !(f->at->flags & AT_INDEXED))
			return 0;
		return cand_substr(cx, f, ks);
	case LDAP_FILTER_AND:
		/* Any indexed operand bounds the result; intersect them. */
		for (size_t i = 0; i < f->nkids; i++) {
			if (have && ks->n <= SMALL_SET)
				break;
			rc = candidates(cx, f->kids[i], &sub);
			if (rc < 0) {
				set_free(ks);
				return -1;
			}
			if (rc == 0)
				continue;
			if (!have) {
				*ks = sub;
				have = 1;
			} else {
				set_intersect(ks, &sub);
			}
		}
		return have;
	case LDAP_FILTER_OR:
		/* Every operand must be indexed, or anything may match. */
		for (size_t i = 0; i < f->nkids; i++) {
			rc = candidates(cx, f->kids[i], &sub);
			if (rc <= 0) {
				set_free(ks);
				return rc;
			}
			set_union(ks, &sub);
		}
		return 1;
	default:
		return 0;
	}
}

int ab_index_candidates(DB *idx, const struct filter *f, const char *from,
			size_t limit, struct keyset *ks)
{
	struct cand_ctx cx = {idx, NULL, from, limit, CHUNK_SIZE};
	u_int32_t page = 0;
	int rc;

	/* A bulk buffer must hold at least one page. */
	if (limit && idx->get_pagesize(idx, &page) == 0 && page > cx.chunk)
		cx.chunk = page > BULK_SIZE ? BULK_SIZE : page;
	rc = candidates(&cx, f, ks);

	if (rc <= 0) {
		set_free(ks);
		arena_free(cx.arena);
		return rc;
	}
	ks->arena = cx.arena;
	return 1;
}
