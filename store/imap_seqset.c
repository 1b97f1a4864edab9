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
	memset(set, 0, sizeof(*set));
}

int imap_seqset_contains(const struct imap_seqset *set, uint32_t v,
			 uint32_t star)
{
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo, hi = set->r[i].hi;

		if (lo == IMAP_SEQ_STAR)
			lo = star;
		if (hi == IMAP_SEQ_STAR)
			hi = star;
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return 1;
	}
	return 0;
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
