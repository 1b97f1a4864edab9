/*
 * imap_search_text.h - the text SEARCH compares against (imap_search.c):
 * decoded and case-folded headers and bodies (imap_search_text.c).
 */
#ifndef ROOKERY_STORE_IMAP_SEARCH_TEXT_H
#define ROOKERY_STORE_IMAP_SEARCH_TEXT_H

#include <stddef.h>

#include "strbuf.h"

struct mime_message;

/*
 * Appends the top-level header of the message data[0..len) as SEARCH TEXT
 * sees it: one line per field, "name: value", with the value unfolded,
 * RFC 2047 words decoded to UTF-8, and everything case-folded (lib/utf8.h).
 */
void imap_search_text_header(const char *data, size_t len,
			     const struct mime_message *m, struct strbuf *out);
/*
 * Appends the body as SEARCH BODY sees it (RFC 9051 6.4.4): every text
 * (and message) leaf part with its Content-Transfer-Encoding removed
 * (base64, quoted-printable), converted from its charset to UTF-8, and
 * case-folded; the headers of embedded messages as above.  Parts are
 * separated by a line break, so a match never spans two parts.
 */
void imap_search_text_body(const char *data, size_t len,
			   const struct mime_message *m, struct strbuf *out);
/*
 * Appends the UTF-8 form of value (in charset, NULL = UTF-8), folded.
 * Returns 0, or -1 when the charset is unknown (BADCHARSET).
 */
int imap_search_text_needle(const char *charset, const char *value,
			    size_t len, struct strbuf *out);
/* Does folded hay[0..hlen) contain folded needle (len nlen)? */
int imap_search_text_contains(const char *hay, size_t hlen,
			      const char *needle, size_t nlen);

#endif
