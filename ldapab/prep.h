/*
 * prep.h - LDAP string preparation (RFC 4518) for matching.
 *
 * Values and assertion values are prepared the same way and then compared
 * as bytes: Transcode (UTF-8 is validated), Map (characters "mapped to
 * nothing" are dropped, other separators become U+0020, case folding for
 * caseIgnore rules), and Insignificant Space Handling (runs of spaces
 * collapse to one; leading and trailing spaces go).  Normalization (NFKC)
 * is not applied: composed input, which is what clients send, matches.
 */
#ifndef LDAPAB_PREP_H
#define LDAPAB_PREP_H

#include <stddef.h>

struct strbuf;

enum prep_flags {
	PREP_FOLD = 1 << 0,   /* caseIgnore*: Unicode case folding */
	PREP_APPROX = 1 << 1, /* approx: fold, strip diacritics and
			       * everything that is not a letter or digit */
	PREP_TEL = 1 << 2,    /* telephoneNumber: drop spaces and '-' */
	PREP_PIECE = 1 << 3,  /* a substring assertion piece: keep edge
			       * spaces (RFC 4518 §2.6.1) */
};

/*
 * Appends the prepared form of in[0..len) to out.  Returns 0, or -1 when
 * in is not valid UTF-8 (out is then left with partial output).
 */
int ab_prep_string(const char *in, size_t len, unsigned flags,
		   struct strbuf *out);

/* Decodes one UTF-8 character; returns its length or -1.  Exposed for
 * vCard/LDIF line folding. */
int ab_prep_utf8_decode(const unsigned char *p, size_t n, unsigned *cp_r);
void ab_prep_utf8_encode(struct strbuf *out, unsigned cp);
/* 1 when the whole buffer is valid UTF-8. */
int ab_prep_utf8_valid(const char *s, size_t len);

#endif
