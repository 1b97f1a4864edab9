/*
 * sieve_match.c - comparators (RFC 4790: i;octet, i;ascii-casemap,
 * i;ascii-numeric) and match types (RFC 5228 2.7.1, RFC 5231).
 *
 * :matches never backtracks: the pattern is split at its '*'s into
 * segments; the first is anchored at the start, the last at the end, and
 * each middle segment is taken at its leftmost place.  That is the
 * standard glob result, costs O(len(value) * len(pattern)), and gives the
 * RFC 5229 match variables: each '*' but the last takes as little as it
 * can.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve_int.h"

bool sv_cmp_valid_for_match(enum sv_cmp cmp, enum sv_match m)
{
	return cmp != SV_CMP_NUMERIC ||
	       (m != SV_MATCH_CONTAINS && m != SV_MATCH_MATCHES);
}

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* RFC 4790 9.1: the number is the leading digits; none = +infinity. */
static int numeric_order(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t da = 0, db = 0;

	while (da < alen && isdigit((unsigned char)a[da]))
		da++;
	while (db < blen && isdigit((unsigned char)b[db]))
		db++;
	if (da == 0 || db == 0)
		return (da == 0) - (db == 0);
	while (da > 1 && *a == '0') {
		a++;
		da--;
	}
	while (db > 1 && *b == '0') {
		b++;
		db--;
	}
	if (da != db)
		return da < db ? -1 : 1;
	for (size_t i = 0; i < da; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1
									 : 1;
	return 0;
}

int sv_cmp_order(enum sv_cmp cmp, const char *a, size_t alen, const char *b,
		 size_t blen)
{
	size_t n = alen < blen ? alen : blen;

	if (cmp == SV_CMP_NUMERIC)
		return numeric_order(a, alen, b, blen);
	for (size_t i = 0; i < n; i++) {
		int ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (cmp == SV_CMP_CASEMAP) {
			ca = lc(ca);
			cb = lc(cb);
		}
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return alen == blen ? 0 : alen < blen ? -1 : 1;
}

bool sv_cmp_rel(enum sv_rel rel, int order)
{
	switch (rel) {
	case SV_REL_GT:
		return order > 0;
	case SV_REL_GE:
		return order >= 0;
	case SV_REL_LT:
		return order < 0;
	case SV_REL_LE:
		return order <= 0;
	case SV_REL_EQ:
		return order == 0;
	case SV_REL_NE:
		return order != 0;
	}
	return false;
}

static bool ch_eq(enum sv_cmp cmp, char a, char b)
{
	if (cmp == SV_CMP_CASEMAP)
		return lc((unsigned char)a) == lc((unsigned char)b);
	return a == b;
}

/* Below this many steps the simple loops beat folding copies + memmem. */
#define SV_NAIVE_WORK 65536

/* An ASCII-lower-cased copy (i;ascii-casemap folds ASCII only). */
static char *fold_copy(const char *s, size_t len)
{
	char *c = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++)
		c[i] = (char)lc((unsigned char)s[i]);
	c[len] = '\0';
	return c;
}

static bool contains(enum sv_cmp cmp, const char *v, size_t vlen, const char *k,
		     size_t klen)
{
	if (klen == 0)
		return true;
	if (cmp == SV_CMP_OCTET)
		return memmem(v, vlen, k, klen) != NULL;
	if (klen > vlen)
		return false;
	if (vlen * klen <= SV_NAIVE_WORK) {
		for (size_t i = 0; i + klen <= vlen; i++) {
			size_t j = 0;

			while (j < klen && ch_eq(cmp, v[i + j], k[j]))
				j++;
			if (j == klen)
				return true;
		}
		return false;
	}
	/* fold both and use memmem: linear time, even for a long key in a
	 * big body */
	char *fv = fold_copy(v, vlen), *fk = fold_copy(k, klen);
	bool found = memmem(fv, vlen, fk, klen) != NULL;

	free(fv);
	free(fk);
	return found;
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t utf8_len(const char *s, size_t left)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	if (n > left)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

enum pe_kind { PE_LIT, PE_ONE, PE_STAR };

struct pel {
	uint8_t kind;
	char c;
};

struct glob {
	struct pel *e;
	size_t n;
	enum sv_cmp cmp;
	const char *v;
	const char *fold; /* v, ASCII-lower-cased for casemap; NULL for
			     short values (simple search) */
	size_t vlen;
	struct sv_caps *caps;
	unsigned nwild; /* wildcards seen so far, for capture numbering */
};

static void cap_set(struct glob *g, unsigned idx, size_t off, size_t len)
{
	if (g->caps == NULL || idx > 9)
		return;
	g->caps->off[idx] = off;
	g->caps->len[idx] = len;
	if (idx + 1 > g->caps->n)
		g->caps->n = idx + 1;
}

/* Matches elements [a, b) (no stars) at pos; returns the end or -1. */
static long seg_at(struct glob *g, size_t a, size_t b, size_t pos,
		   unsigned wild_base, bool record)
{
	unsigned w = wild_base;

	for (size_t i = a; i < b; i++) {
		if (pos >= g->vlen)
			return -1;
		if (g->e[i].kind == PE_ONE) {
			size_t l = utf8_len(g->v + pos, g->vlen - pos);

			if (record)
				cap_set(g, ++w, pos, l);
			pos += l;
		} else {
			if (!ch_eq(g->cmp, g->v[pos], g->e[i].c))
				return -1;
			pos++;
		}
	}
	return (long)pos;
}

static unsigned count_ones(const struct glob *g, size_t a, size_t b)
{
	unsigned n = 0;

	for (size_t i = a; i < b; i++)
		n += g->e[i].kind == PE_ONE;
	return n;
}

/*
 * Leftmost place in [pos, limit) where the literal segment [a, b) fits
 * entirely before limit, or SIZE_MAX; memmem keeps this linear.
 */
static size_t find_literal(const struct glob *g, size_t a, size_t b, size_t pos,
			   size_t limit)
{
	size_t n = b - a;
	char stack[64], *needle;
	const char *hit;

	if (g->fold == NULL) { /* short value: simple search */
		for (size_t s = pos; s + n <= limit; s++) {
			size_t i = 0;

			while (i < n &&
			       ch_eq(g->cmp, g->v[s + i], g->e[a + i].c))
				i++;
			if (i == n)
				return s;
		}
		return SIZE_MAX;
	}
	needle = n <= sizeof(stack) ? stack : xmalloc(n);
	for (size_t i = 0; i < n; i++)
		needle[i] = g->cmp == SV_CMP_CASEMAP
				? (char)lc((unsigned char)g->e[a + i].c)
				: g->e[a + i].c;
	hit = n == 0 ? g->fold + pos
		     : memmem(g->fold + pos, limit - pos, needle, n);
	if (needle != stack)
		free(needle);
	return hit == NULL ? SIZE_MAX : (size_t)(hit - g->fold);
}

/*
 * Where the last segment [a, n) must start to end exactly at the end of
 * the value, not before pos; SIZE_MAX if it cannot.  Walking back from
 * the end (a literal is one octet, '?' one UTF-8 character) gives the one
 * candidate for valid UTF-8; the all-octets reading covers stray bytes.
 */
static size_t last_anchor(struct glob *g, size_t a, size_t pos)
{
	size_t cand[2], s = g->vlen, k = g->n - a;
	bool ok = true;

	for (size_t i = g->n; i > a && ok; i--) {
		if (s == 0) {
			ok = false;
			break;
		}
		s--;
		/* back over at most three continuation octets */
		for (int c = 0; g->e[i - 1].kind == PE_ONE && c < 3 && s > 0 &&
				((unsigned char)g->v[s] & 0xc0) == 0x80;
		     c++)
			s--;
	}
	cand[0] = ok ? s : SIZE_MAX;
	cand[1] = g->vlen >= k ? g->vlen - k : SIZE_MAX;
	for (int i = 0; i < 2; i++) {
		long end;

		if (cand[i] == SIZE_MAX || cand[i] < pos)
			continue;
		end = seg_at(g, a, g->n, cand[i], 0, false);
		if (end >= 0 && (size_t)end == g->vlen)
			return cand[i];
	}
	return SIZE_MAX;
}

static bool glob_run(struct glob *g)
{
	size_t nstar = 0, first_end, last_start, pos, seg_a, lastpos;
	unsigned w;
	long end;

	for (size_t i = 0; i < g->n; i++)
		nstar += g->e[i].kind == PE_STAR;
	first_end = 0;
	while (first_end < g->n && g->e[first_end].kind != PE_STAR)
		first_end++;
	end = seg_at(g, 0, first_end, 0, 0, true);
	if (end < 0)
		return false;
	if (nstar == 0)
		return (size_t)end == g->vlen;
	w = count_ones(g, 0, first_end);
	pos = (size_t)end;

	/* The last segment, anchored at the end of the value. */
	last_start = g->n;
	while (g->e[last_start - 1].kind != PE_STAR)
		last_start--;
	lastpos = last_anchor(g, last_start, pos);
	if (lastpos == SIZE_MAX)
		return false;

	/* Middle segments, each at its leftmost place. */
	seg_a = first_end + 1;
	while (seg_a < last_start) {
		size_t seg_b = seg_a, s;

		while (g->e[seg_b].kind != PE_STAR)
			seg_b++;
		if (count_ones(g, seg_a, seg_b) == 0) {
			s = find_literal(g, seg_a, seg_b, pos, lastpos);
			if (s == SIZE_MAX)
				return false;
			end = (long)(s + (seg_b - seg_a));
		} else {
			for (s = pos; s <= lastpos; s++) {
				end = seg_at(g, seg_a, seg_b, s, w + 1, false);
				if (end >= 0 && (size_t)end <= lastpos)
					break;
			}
		}
		if (s > lastpos)
			return false;
		cap_set(g, ++w, pos, s - pos); /* the '*' before it */
		(void)seg_at(g, seg_a, seg_b, s, w, true);
		w += count_ones(g, seg_a, seg_b);
		pos = (size_t)end;
		seg_a = seg_b + 1;
	}
	cap_set(g, ++w, pos, lastpos - pos); /* the last '*' */
	(void)seg_at(g, last_start, g->n, lastpos, w, true);
	return true;
}

static bool matches(enum sv_cmp cmp, const char *v, size_t vlen, const char *k,
		    size_t klen, struct sv_caps *caps)
{
	struct pel stack[128];
	struct glob g = {.cmp = cmp, .v = v, .vlen = vlen, .caps = caps};
	bool ok;

	g.e = klen <= 128 ? stack : xmalloc(klen * sizeof(*g.e));
	for (size_t i = 0; i < klen; i++) {
		if (k[i] == '*') {
			/* "**" is the same as "*" but still numbers twice */
			g.e[g.n++].kind = PE_STAR;
		} else if (k[i] == '?') {
			g.e[g.n++].kind = PE_ONE;
		} else {
			if (k[i] == '\\' && i + 1 < klen)
				i++;
			g.e[g.n].kind = PE_LIT;
			g.e[g.n++].c = k[i];
		}
	}
	if (caps != NULL) {
		memset(caps, 0, sizeof(*caps));
		caps->n = 1;
		caps->len[0] = vlen;
	}
	g.fold = vlen * klen <= SV_NAIVE_WORK ? NULL
		 : cmp == SV_CMP_CASEMAP      ? fold_copy(v, vlen)
					      : v;
	ok = glob_run(&g);
	if (g.fold != NULL && g.fold != v)
		free((char *)g.fold);
	if (g.e != stack)
		free(g.e);
	return ok;
}

bool sv_match_one(enum sv_match m, enum sv_cmp cmp, const char *val,
		  size_t vlen, const char *key, size_t klen,
		  struct sv_caps *caps)
{
	switch (m) {
	case SV_MATCH_IS:
		return sv_cmp_order(cmp, val, vlen, key, klen) == 0;
	case SV_MATCH_CONTAINS:
		return contains(cmp, val, vlen, key, klen);
	case SV_MATCH_MATCHES:
		return matches(cmp, val, vlen, key, klen, caps);
	case SV_MATCH_VALUE:
	case SV_MATCH_COUNT:
		break;
	}
	return false;
}
