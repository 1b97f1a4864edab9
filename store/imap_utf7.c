/*
 * imap_utf7.c - modified UTF-7 mailbox names (RFC 3501 5.1.3) to and
 * from the UTF-8 names the storage engine keeps.
 *
 * Printable ASCII except '&' stands for itself; "&-" is '&'; "&...-"
 * is UTF-16 in modified base64 (',' for '/', no padding).  Decoding is
 * strict: the encoder's output is the only accepted spelling (a shifted
 * run of printable ASCII, a non-zero pad, a dangling surrogate or an
 * empty "&-" run that is not '&' are errors), so each name has one form.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mailstore.h"

#include "store/imap.h"
#include "utf8.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_val(unsigned char ch)
{
	const char *p;

	if (ch == '\0')
		return -1;
	p = strchr(b64, ch);
	return p != NULL ? (int)(p - b64) : -1;
}

/* Decodes one "&...-" run starting after '&'; *pp ends after '-'. */
static int decode_run(const char **pp, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)*pp;
	uint32_t bits = 0, hi = 0;
	int nbits = 0, units = 0;

	for (; *p != '-'; p++) {
		int v = b64_val(*p);

		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			uint32_t u = (bits >> (nbits - 16)) & 0xffff;

			nbits -= 16;
			units++;
			if (hi != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				utf8_encode(out, 0x10000 + ((hi - 0xd800) << 10) +
						  (u - 0xdc00));
				hi = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return -1;
			} else if ((u >= 0x20 && u <= 0x7e) || u == 0) {
				return -1; /* must not be encoded; no NUL */
			} else {
				utf8_encode(out, u);
			}
		}
	}
	if (hi != 0 || units == 0 || nbits >= 6 ||
	    (bits & ((1u << nbits) - 1)) != 0)
		return -1;
	*pp = (const char *)p + 1;
	return 0;
}

int imap_utf7_to_utf8(const char *in, struct strbuf *out)
{
	const char *p = in;

	while (*p != '\0') {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch > 0x7e)
			return -1;
		if (ch != '&') {
			strbuf_addc(out, (char)ch);
			p++;
			continue;
		}
		p++;
		if (*p == '-') {
			strbuf_addc(out, '&');
			p++;
			continue;
		}
		if (decode_run(&p, out) < 0)
			return -1;
		/* two adjacent runs would have been one */
		if (*p == '&' && p[1] != '-')
			return -1;
	}
	return 0;
}

/* Next code point of UTF-8 s; -1 on invalid input. */
static int next_cp(const unsigned char **sp, uint32_t *cp_r)
{
	const unsigned char *s = *sp;
	uint32_t cp;
	int n;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		*sp = s + 1;
		return 0;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		n = 1;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		n = 2;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07;
		n = 3;
	} else {
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
	    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	*sp = s + n + 1;
	return 0;
}

static void flush_bits(struct strbuf *out, uint32_t *bits, int *nbits)
{
	while (*nbits >= 6) {
		*nbits -= 6;
		strbuf_addc(out, b64[(*bits >> *nbits) & 0x3f]);
	}
}

int imap_utf8_to_utf7(const char *in, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	int shifted = 0, nbits = 0;
	uint32_t bits = 0;

	while (*p != '\0') {
		uint32_t cp;

		if (next_cp(&p, &cp) < 0)
			return -1;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (nbits > 0)
					strbuf_addc(
					    out,
					    b64[(bits << (6 - nbits)) & 0x3f]);
				strbuf_addc(out, '-');
				shifted = 0;
				nbits = 0;
				bits = 0;
			}
			if (cp == '&')
				strbuf_adds(out, "&-");
			else
				strbuf_addc(out, (char)cp);
			continue;
		}
		if (!shifted) {
			strbuf_addc(out, '&');
			shifted = 1;
		}
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;

			bits = (bits << 16) | (0xd800 + (v >> 10));
			nbits += 16;
			flush_bits(out, &bits, &nbits);
			bits = (bits << 16) | (0xdc00 + (v & 0x3ff));
		} else {
			bits = (bits << 16) | cp;
		}
		nbits += 16;
		flush_bits(out, &bits, &nbits);
	}
	if (shifted) {
		if (nbits > 0)
			strbuf_addc(out, b64[(bits << (6 - nbits)) & 0x3f]);
		strbuf_addc(out, '-');
	}
	return 0;
}

/* ---- names as the client sees them --------------------------------------- */

void imap_write_string(struct strbuf *out, const char *str, size_t len)
{
	int quotable = len < 1024;

	for (size_t i = 0; quotable && i < len; i++) {
		unsigned char ch = (unsigned char)str[i];

		if (ch == '\0' || ch == '\r' || ch == '\n' || ch >= 0x80)
			quotable = 0;
	}
	if (!quotable) {
		strbuf_printf(out, "{%zu}\r\n", len);
		strbuf_add(out, str, len);
		return;
	}
	strbuf_addc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			strbuf_addc(out, '\\');
		strbuf_addc(out, str[i]);
	}
	strbuf_addc(out, '"');
}

void imap_write_mailbox(struct imap_session *s, struct strbuf *out,
			const char *name)
{
	struct strbuf enc;

	if (s->enabled & IMAP_EN_UTF8) {
		/* RFC 6855 3: quoted UTF-8 */
		strbuf_addc(out, '"');
		for (const char *p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_addc(out, '\\');
			strbuf_addc(out, *p);
		}
		strbuf_addc(out, '"');
		return;
	}
	strbuf_init(&enc);
	if (imap_utf8_to_utf7(name, &enc) < 0) {
		strbuf_reset(&enc);
		strbuf_adds(&enc, name); /* cannot happen: names are UTF-8 */
	}
	imap_write_string(out, enc.data, enc.len);
	strbuf_free(&enc);
}

/* "inbox/x" -> "INBOX/x" (RFC 3501 5.1: INBOX is case-insensitive). */
static void fold_inbox(char *name)
{
	if (strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
}

char *imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a)
{
	const char *str = imap_arg_string(a);
	struct strbuf dec;

	if (str == NULL) {
		imap_bad(s, NULL, "Mailbox name expected");
		return NULL;
	}
	if (strlen(str) != a->len) {
		imap_bad(s, NULL, "NUL byte in mailbox name");
		return NULL;
	}
	strbuf_init(&dec);
	if (s->enabled & IMAP_EN_UTF8) {
		strbuf_adds(&dec, str);
	} else if (imap_utf7_to_utf8(str, &dec) < 0) {
		strbuf_free(&dec);
		imap_bad(s, NULL, "Invalid modified UTF-7 mailbox name");
		return NULL;
	}
	/* RFC 3501 6.3.3: a trailing separator only declares intent */
	if (dec.len > 1 && dec.data[dec.len - 1] == '/')
		strbuf_truncate(&dec, dec.len - 1);
	fold_inbox(dec.data);
	if (mstore_mailbox_name_valid(dec.data) < 0) {
		strbuf_free(&dec);
		imap_no(s, "CANNOT", "Invalid mailbox name");
		return NULL;
	}
	return strbuf_steal(&dec, NULL);
}
