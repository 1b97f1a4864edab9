/*
 * imap_seqset.c - sequence sets (RFC 9051 9: sequence-set, with "*" and
 * the SEARCHRES "$" of RFC 5182): parsing with a limit on the number of
 * ranges, membership, and writing sorted numbers back compactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "store/imap.h"

/* ---- sequence sets ------------------------------------------------------- */

static int seq_number(const char **sp, uint32_t *v_r)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s == '*') {
		*v_r = IMAP_SEQ_STAR;
		*sp = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > 0xffffffffu)
			return -1;
		s++;
	}
	*v_r = (uint32_t)v;
	*sp = s;
	return 0;
}

int imap_seqset_parse(const char *s, struct imap_seqset *set_r,
		      const char **err_r)
{
	size_t cap = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (s == NULL || *s == '\0') {
		*err_r = "Empty sequence set";
		return -1;
	}
	if (strcmp(s, "$") == 0) {
		set_r->saved = 1;
		return 0;
	}
	for (;;) {
		uint32_t lo, hi;

		if (seq_number(&s, &lo) < 0)
			goto bad;
		hi = lo;
		if (*s == ':') {
			s++;
			if (seq_number(&s, &hi) < 0)
				goto bad;
		}
		if (set_r->n >= IMAP_SEQSET_MAX_RANGES) {
			*err_r = "Sequence set too long";
			imap_seqset_free(set_r);
			return -1;
		}
		if (set_r->n == cap) {
			cap = cap ? cap * 2 : 4;
			set_r->r = xrealloc(set_r->r, cap * sizeof(*set_r->r));
		}
		set_r->r[set_r->n].lo = lo < hi ? lo : hi;
		set_r->r[set_r->n].hi = lo < hi ? hi : lo;
		set_r->n++;
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	*err_r = "Invalid sequence set";
	imap_seqset_free(set_r);
	return -1;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	free(set->sorted);
	memset(set, 0, sizeof(*set));
}

/* Range i of set with "*" as star, lo <= hi. */
static struct imap_range star_range(const struct imap_seqset *set, size_t i,
				    uint32_t star)
{
	struct imap_range x = set->r[i];

	if (x.lo == IMAP_SEQ_STAR)
		x.lo = star;
	if (x.hi == IMAP_SEQ_STAR)
		x.hi = star;
	if (x.lo > x.hi) {
		uint32_t t = x.lo;

		x.lo = x.hi;
		x.hi = t;
	}
	return x;
}

static int range_lo_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Builds set->sorted for star: the ranges sorted by lo, overlapping and
 * adjacent ones merged. */
static void seqset_sort(struct imap_seqset *set, uint32_t star)
{
	struct imap_range *s = xcalloc(set->n, sizeof(*s));
	size_t k = 0;

	for (size_t i = 0; i < set->n; i++)
		s[i] = star_range(set, i, star);
	qsort(s, set->n, sizeof(*s), range_lo_cmp);
	for (size_t i = 1; i < set->n; i++) {
		if (s[k].hi == UINT32_MAX || s[i].lo <= s[k].hi + 1) {
			if (s[i].hi > s[k].hi)
				s[k].hi = s[i].hi;
		} else {
			s[++k] = s[i];
		}
	}
	free(set->sorted);
	set->sorted = s;
	set->nsorted = k + 1;
	set->sorted_star = star;
}

/* Up to this many ranges, a look at each beats sorting them. */
#define SEQSET_LINEAR 8

int imap_seqset_contains(const struct imap_seqset *set, uint32_t v,
			 uint32_t star)
{
	size_t a = 0, b;

	if (set->n <= SEQSET_LINEAR) {
		for (size_t i = 0; i < set->n; i++) {
			struct imap_range x = star_range(set, i, star);

			if (v >= x.lo && v <= x.hi)
				return 1;
		}
		return 0;
	}
	/* the cache is no part of the set's value: build it in place */
	if (set->sorted == NULL || set->sorted_star != star)
		seqset_sort((struct imap_seqset *)set, star);
	/* the last range starting at or below v */
	b = set->nsorted;
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (set->sorted[mid].lo <= v)
			a = mid + 1;
		else
			b = mid;
	}
	return a > 0 && v <= set->sorted[a - 1].hi;
}

void imap_seqset_write(struct strbuf *out, const uint32_t *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			strbuf_addc(out, ',');
		if (j == i)
			strbuf_printf(out, "%u", v[i]);
		else
			strbuf_printf(out, "%u:%u", v[i], v[j]);
		i = j + 1;
	}
}
