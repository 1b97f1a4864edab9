/*
 * prep.c - RFC 4518 string preparation with case folding from the C.UTF-8
 * locale (glibc's full Unicode tables), so "Jörg" and "JÖRG" prepare alike.
 */
#include <locale.h>
#include <string.h>
#include <wctype.h>

#include "prep.h"
#include "strbuf.h"

/* U+00C0..U+017F with their diacritics removed, for approximate matching. */
static const char latin_base[] =
    "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty"
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlL"
    "lNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

static locale_t prep_locale(void)
{
	static locale_t loc;
	static int tried;

	if (!tried) {
		tried = 1;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	return loc;
}

int ab_prep_utf8_decode(const unsigned char *p, size_t n, unsigned *cp_r)
{
	unsigned cp;
	int len, i;

	if (n == 0)
		return -1;
	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		cp = p[0] & 0x1f;
		len = 2;
	} else if ((p[0] & 0xf0) == 0xe0) {
		cp = p[0] & 0x0f;
		len = 3;
	} else if ((p[0] & 0xf8) == 0xf0) {
		cp = p[0] & 0x07;
		len = 4;
	} else {
		return -1;
	}
	if ((size_t)len > n)
		return -1;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	return len;
}

void ab_prep_utf8_encode(struct strbuf *out, unsigned cp)
{
	if (cp < 0x80) {
		strbuf_addc(out, (char)cp);
	} else if (cp < 0x800) {
		strbuf_addc(out, (char)(0xc0 | (cp >> 6)));
		strbuf_addc(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_addc(out, (char)(0xe0 | (cp >> 12)));
		strbuf_addc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addc(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_addc(out, (char)(0xf0 | (cp >> 18)));
		strbuf_addc(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		strbuf_addc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addc(out, (char)(0x80 | (cp & 0x3f)));
	}
}

int ab_prep_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned cp;
	int n;

	while (len > 0) {
		n = ab_prep_utf8_decode(p, len, &cp);
		if (n < 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/* RFC 4518 §2.2: characters mapped to nothing. */
static int maps_to_nothing(unsigned c)
{
	return c == 0x00ad || c == 0x1806 || c == 0x034f ||
	       (c >= 0x180b && c <= 0x180d) || (c >= 0xfe00 && c <= 0xfe0f) ||
	       c == 0xfffc || c == 0x200b || c == 0x200c || c == 0x200d ||
	       c == 0x2060 || c == 0xfeff ||
	       (c < 0x20 && c != 0x09 && c != 0x0a && c != 0x0b && c != 0x0c &&
		c != 0x0d) ||
	       (c >= 0x7f && c <= 0x84) || (c >= 0x86 && c <= 0x9f);
}

/* RFC 4518 §2.2: characters mapped to SPACE. */
static int maps_to_space(unsigned c)
{
	return c == 0x20 || (c >= 0x09 && c <= 0x0d) || c == 0x85 ||
	       c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

static unsigned fold(unsigned c)
{
	locale_t loc;

	if (c < 0x80)
		return (c >= 'A' && c <= 'Z') ? c + 32 : c;
	loc = prep_locale();
	if (loc == (locale_t)0)
		return c;
	/* Upper then lower folds e.g. U+017F LONG S and final sigma. */
	return (unsigned)towlower_l(towupper_l((wint_t)c, loc), loc);
}

static int approx_char(unsigned *c)
{
	locale_t loc;

	if (*c >= 0x0300 && *c <= 0x036f) /* combining diacritics */
		return 0;
	if (*c >= 0xc0 && *c <= 0x17f)
		*c = (unsigned char)latin_base[*c - 0xc0];
	*c = fold(*c);
	if (*c < 0x80)
		return (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
	loc = prep_locale();
	return loc == (locale_t)0 || iswalnum_l((wint_t)*c, loc);
}

/* Appends one byte; the common case (room left) stays inline. */
static inline void put_byte(struct strbuf *out, char ch)
{
	if (out->len + 1 < out->cap) {
		out->data[out->len++] = ch;
		out->data[out->len] = '\0';
	} else {
		strbuf_addc(out, ch);
	}
}

int ab_prep_string(const char *in, size_t len, unsigned flags,
		   struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t start = out->len;
	int pending_space = 0, n;
	unsigned c;

	strbuf_reserve(out, len + 1);
	while (len > 0) {
		/* Printable ASCII other than space maps to itself (or its
		 * lower case): the bulk of names and addresses. */
		if (*p > 0x20 && *p < 0x7f &&
		    !(flags & (PREP_APPROX | PREP_TEL))) {
			c = *p++;
			len--;
			if (pending_space) {
				pending_space = 0;
				if (out->len > start || (flags & PREP_PIECE))
					put_byte(out, ' ');
			}
			if ((flags & PREP_FOLD) && c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			put_byte(out, (char)c);
			continue;
		}
		/* ASCII (most names and every address) needs no decoding. */
		if (*p < 0x80) {
			c = *p;
			n = 1;
		} else if ((n = ab_prep_utf8_decode(p, len, &c)) < 0) {
			return -1;
		}
		p += n;
		len -= (size_t)n;
		if (maps_to_nothing(c))
			continue;
		if (flags & PREP_APPROX) {
			if (!approx_char(&c))
				continue;
			ab_prep_utf8_encode(out, c);
			continue;
		}
		if (maps_to_space(c)) {
			pending_space = 1;
			continue;
		}
		if ((flags & PREP_TEL) && c == '-')
			continue;
		if (pending_space) {
			pending_space = 0;
			/* Leading spaces go unless this is a substring piece.
			 */
			if (!(flags & PREP_TEL) &&
			    (out->len > start || (flags & PREP_PIECE)))
				put_byte(out, ' ');
		}
		if (flags & PREP_FOLD)
			c = fold(c);
		if (c < 0x80)
			put_byte(out, (char)c);
		else
			ab_prep_utf8_encode(out, c);
	}
	if (pending_space && (flags & PREP_PIECE) && !(flags & PREP_TEL))
		put_byte(out, ' ');
	return 0;
}
