/*
 * imap_search_text.c - decoded, case-folded text for SEARCH HEADER,
 * SUBJECT, FROM..., BODY and TEXT (RFC 9051 6.4.4: "string" matches are
 * case-insensitive substring matches; the comparator is
 * i;unicode-casemap, RFC 5051, as lib/utf8.h approximates it).
 *
 * Bodies are found through the MIME record cached at delivery, decoded
 * from base64 or quoted-printable (mime.h decoders), converted from their
 * charset (iconv through mime_charset_to_utf8; unknown charsets and
 * invalid bytes are read as UTF-8 where valid, else ISO-8859-1), then
 * folded once per message; each key is folded once per command.
 */
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "strbuf.h"
#include "utf8.h"
#include "store/imap_search_text.h"

static void fold_header_block(const char *hdr, size_t len, struct strbuf *out)
{
	struct mime_header_field f;
	struct strbuf dec;
	size_t pos = 0;

	strbuf_init(&dec);
	while (mime_header_next(hdr, len, &pos, &f)) {
		strbuf_reset(&dec);
		strbuf_add(&dec, f.name, f.name_len);
		strbuf_add(&dec, ": ", 2);
		mime_header_decode(f.value, f.value_len, &dec);
		strbuf_addc(&dec, '\n');
		utf8_casefold(dec.data, dec.len, out);
	}
	strbuf_free(&dec);
}

void imap_search_text_header(const char *data, size_t len,
			     const struct mime_message *m, struct strbuf *out)
{
	const struct mime_part *p = &m->parts[0];

	if (p->header_off + p->header_len <= len)
		fold_header_block(data + p->header_off, p->header_len, out);
}

static int is_utf8_name(const char *cs)
{
	return cs == NULL || strcasecmp(cs, "utf-8") == 0 ||
	       strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0;
}

/* The decoded, UTF-8 text of leaf p, folded, appended to out. */
static void fold_leaf(const char *data, const struct mime_part *p,
		      struct strbuf *out)
{
	const char *body = data + p->body_off;
	struct strbuf dec, utf;
	const char *text = body;
	size_t tlen = p->body_len;

	strbuf_init(&dec);
	strbuf_init(&utf);
	if (p->encoding != NULL && strcmp(p->encoding, "base64") == 0) {
		mime_decode_base64(body, p->body_len, &dec);
		text = dec.data, tlen = dec.len;
	} else if (p->encoding != NULL &&
		   strcmp(p->encoding, "quoted-printable") == 0) {
		mime_decode_qp(body, p->body_len, &dec);
		text = dec.data, tlen = dec.len;
	}
	if (is_utf8_name(p->charset) ||
	    mime_charset_to_utf8(p->charset, text, tlen, &utf) < 0) {
		strbuf_reset(&utf);
		mime_utf8_sanitize(text, tlen, &utf);
	}
	utf8_casefold(utf.data, utf.len, out);
	strbuf_addc(out, '\n');
	strbuf_free(&dec);
	strbuf_free(&utf);
}

void imap_search_text_body(const char *data, size_t len,
			   const struct mime_message *m, struct strbuf *out)
{
	for (unsigned i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];

		if (p->body_off + p->body_len > len ||
		    p->header_off + p->header_len > len)
			continue;
		/* an embedded message's header is part of the outer body */
		if (i > 0 && (p->flags & MIME_PART_ROOT))
			fold_header_block(data + p->header_off, p->header_len,
					  out);
		if (p->kind != MIME_PART_LEAF)
			continue;
		/* binary attachments (images, archives) are not text */
		if (p->type == NULL || strcmp(p->type, "text") == 0 ||
		    strcmp(p->type, "message") == 0)
			fold_leaf(data, p, out);
	}
}

int imap_search_text_needle(const char *charset, const char *value,
			    size_t len, struct strbuf *out)
{
	struct strbuf utf;

	strbuf_init(&utf);
	if (is_utf8_name(charset)) {
		mime_utf8_sanitize(value, len, &utf);
	} else if (mime_charset_to_utf8(charset, value, len, &utf) < 0) {
		strbuf_free(&utf);
		return -1;
	}
	utf8_casefold(utf.data, utf.len, out);
	strbuf_free(&utf);
	return 0;
}

int imap_search_text_contains(const char *hay, size_t hlen,
			      const char *needle, size_t nlen)
{
	if (nlen == 0)
		return 1;
	return memmem(hay, hlen, needle, nlen) != NULL;
}
