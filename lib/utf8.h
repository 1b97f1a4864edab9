/*
 * utf8.h - UTF-8 decoding, encoding and case folding shared by the
 * protocol modules (IMAP SEARCH now; Sieve's and ldapab's comparators can
 * move here).
 *
 * Folding is what RFC 5051's i;unicode-casemap needs for substring
 * matching in practice: simple Unicode case folding (CaseFolding.txt
 * status C and S) for Latin (Basic, Latin-1 Supplement, Extended-A,
 * Extended Additional), Greek (final sigma folds to sigma), Cyrillic,
 * Armenian, Georgian capitals and the full-width ASCII forms, plus the
 * full folds of U+00DF and U+1E9E (sharp s) to "ss" so that "STRASSE"
 * matches "Straße".  No normalisation (accents stay significant).
 */
#ifndef ROOKERY_UTF8_H
#define ROOKERY_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define UTF8_REPLACEMENT 0xfffdu

/*
 * Decodes the sequence at s[0..len) (len > 0).  Returns the bytes it
 * used (1 to 4) and the code point in *cp_r; an invalid or truncated
 * sequence, an overlong form or a surrogate uses 1 byte and gives
 * U+FFFD.
 */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp_r);
/* Appends cp (U+FFFD for values past U+10FFFF or surrogates). */
void utf8_encode(struct strbuf *out, uint32_t cp);
/* 1 when s[0..len) is valid UTF-8 (no overlongs or surrogates). */
int utf8_valid(const char *s, size_t len);
/* The simple case fold of cp (cp itself when it has none). */
uint32_t utf8_fold_char(uint32_t cp);
/*
 * Appends s[0..len) case-folded (simple folding, sharp s to "ss");
 * invalid bytes become U+FFFD.  Two strings equal after folding are
 * equal under the comparator; a folded needle found in a folded
 * haystack is a case-insensitive substring match.
 */
void utf8_casefold(const char *s, size_t len, struct strbuf *out);

#endif
