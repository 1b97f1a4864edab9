/*
 * utf8.c - UTF-8 decoding, encoding and case folding (see utf8.h).
 *
 * The fold table is a list of ranges from Unicode's CaseFolding.txt
 * (status C and S): each range maps capitals to small letters either by
 * an offset (every code point in the range) or as alternating pairs
 * (even or odd code points are capitals, the next one is small).
 */
#include <string.h>

#include "utf8.h"

size_t utf8_decode(const char *s, size_t len, uint32_t *cp_r)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp, min;
	size_t n;

	*cp_r = UTF8_REPLACEMENT;
	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 1;
	}
	if (len < n)
		return 1;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 1;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 1;
	*cp_r = cp;
	return n;
}

void utf8_encode(struct strbuf *out, uint32_t cp)
{
	char b[4];

	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = UTF8_REPLACEMENT;
	if (cp < 0x80) {
		strbuf_addc(out, (char)cp);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(out, b, 4);
	}
}

int utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (cp == UTF8_REPLACEMENT && n == 1 &&
		    (unsigned char)s[i] >= 0x80)
			return 0;
		i += n;
	}
	return 1;
}

enum fold_kind { F_OFFSET, F_EVEN, F_ODD };

struct fold_range {
	uint32_t lo, hi;
	enum fold_kind kind;
	int32_t delta; /* F_OFFSET */
};

/* Sorted by lo; F_EVEN: even code points fold to +1, F_ODD: odd ones. */
static const struct fold_range folds[] = {
    {0x0041, 0x005a, F_OFFSET, 32},
    {0x00b5, 0x00b5, F_OFFSET, 0x03bc - 0x00b5},
    {0x00c0, 0x00d6, F_OFFSET, 32},
    {0x00d8, 0x00de, F_OFFSET, 32},
    {0x0100, 0x012f, F_EVEN, 0},
    {0x0132, 0x0137, F_EVEN, 0},
    {0x0139, 0x0148, F_ODD, 0},
    {0x014a, 0x0177, F_EVEN, 0},
    {0x0178, 0x0178, F_OFFSET, 0x00ff - 0x0178},
    {0x0179, 0x017e, F_ODD, 0},
    {0x017f, 0x017f, F_OFFSET, 's' - 0x017f},
    {0x01a0, 0x01a5, F_EVEN, 0},
    {0x01cd, 0x01dc, F_ODD, 0},
    {0x01de, 0x01ef, F_EVEN, 0},
    {0x01f8, 0x021f, F_EVEN, 0},
    {0x0222, 0x0233, F_EVEN, 0},
    {0x0345, 0x0345, F_OFFSET, 0x03b9 - 0x0345},
    {0x0370, 0x0373, F_EVEN, 0},
    {0x0376, 0x0376, F_EVEN, 0},
    {0x037f, 0x037f, F_OFFSET, 0x03f3 - 0x037f},
    {0x0386, 0x0386, F_OFFSET, 0x03ac - 0x0386},
    {0x0388, 0x038a, F_OFFSET, 37},
    {0x038c, 0x038c, F_OFFSET, 64},
    {0x038e, 0x038f, F_OFFSET, 63},
    {0x0391, 0x03a1, F_OFFSET, 32},
    {0x03a3, 0x03ab, F_OFFSET, 32},
    {0x03c2, 0x03c2, F_OFFSET, 1}, /* final sigma */
    {0x03cf, 0x03cf, F_OFFSET, 0x03d7 - 0x03cf},
    {0x03d0, 0x03d0, F_OFFSET, 0x03b2 - 0x03d0},
    {0x03d1, 0x03d1, F_OFFSET, 0x03b8 - 0x03d1},
    {0x03d5, 0x03d5, F_OFFSET, 0x03c6 - 0x03d5},
    {0x03d6, 0x03d6, F_OFFSET, 0x03c0 - 0x03d6},
    {0x03d8, 0x03ef, F_EVEN, 0},
    {0x03f0, 0x03f0, F_OFFSET, 0x03ba - 0x03f0},
    {0x03f1, 0x03f1, F_OFFSET, 0x03c1 - 0x03f1},
    {0x03f4, 0x03f4, F_OFFSET, 0x03b8 - 0x03f4},
    {0x03f5, 0x03f5, F_OFFSET, 0x03b5 - 0x03f5},
    {0x03f7, 0x03f7, F_OFFSET, 1},
    {0x03f9, 0x03f9, F_OFFSET, 0x03f2 - 0x03f9},
    {0x03fa, 0x03fa, F_OFFSET, 1},
    {0x03fd, 0x03ff, F_OFFSET, -130},
    {0x0400, 0x040f, F_OFFSET, 80},
    {0x0410, 0x042f, F_OFFSET, 32},
    {0x0460, 0x0481, F_EVEN, 0},
    {0x048a, 0x04bf, F_EVEN, 0},
    {0x04c0, 0x04c0, F_OFFSET, 15},
    {0x04c1, 0x04ce, F_ODD, 0},
    {0x04d0, 0x052f, F_EVEN, 0},
    {0x0531, 0x0556, F_OFFSET, 48},
    {0x10a0, 0x10c5, F_OFFSET, 0x2d00 - 0x10a0},
    {0x1e00, 0x1e95, F_EVEN, 0},
    {0x1e9b, 0x1e9b, F_OFFSET, 0x1e61 - 0x1e9b},
    {0x1ea0, 0x1eff, F_EVEN, 0},
    {0x1f08, 0x1f0f, F_OFFSET, -8},
    {0x1f18, 0x1f1d, F_OFFSET, -8},
    {0x1f28, 0x1f2f, F_OFFSET, -8},
    {0x1f38, 0x1f3f, F_OFFSET, -8},
    {0x1f48, 0x1f4d, F_OFFSET, -8},
    {0x1f68, 0x1f6f, F_OFFSET, -8},
    {0x2126, 0x2126, F_OFFSET, 0x03c9 - 0x2126}, /* ohm sign */
    {0x212a, 0x212a, F_OFFSET, 'k' - 0x212a},    /* kelvin sign */
    {0x212b, 0x212b, F_OFFSET, 0x00e5 - 0x212b}, /* angstrom sign */
    {0x2160, 0x216f, F_OFFSET, 16},
    {0x24b6, 0x24cf, F_OFFSET, 26},
    {0x2c00, 0x2c2f, F_OFFSET, 48},
    {0xa640, 0xa66d, F_EVEN, 0},
    {0xa680, 0xa69b, F_EVEN, 0},
    {0xa722, 0xa72f, F_EVEN, 0},
    {0xa732, 0xa76f, F_EVEN, 0},
    {0xff21, 0xff3a, F_OFFSET, 32},
    {0x10400, 0x10427, F_OFFSET, 40},
};

uint32_t utf8_fold_char(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(folds) / sizeof(folds[0]);

	if (cp < 0x41)
		return cp;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct fold_range *r = &folds[mid];

		if (cp < r->lo) {
			hi = mid;
		} else if (cp > r->hi) {
			lo = mid + 1;
		} else {
			switch (r->kind) {
			case F_OFFSET:
				return (uint32_t)((int32_t)cp + r->delta);
			case F_EVEN:
				return (cp & 1) == 0 ? cp + 1 : cp;
			case F_ODD:
				return (cp & 1) == 1 ? cp + 1 : cp;
			}
		}
	}
	return cp;
}

void utf8_casefold(const char *s, size_t len, struct strbuf *out)
{
	size_t i = 0;

	strbuf_reserve(out, len);
	while (i < len) {
		unsigned char ch = (unsigned char)s[i];
		uint32_t cp;

		if (ch < 0x80) {
			/* the common case, without a table look-up */
			strbuf_addc(out, (char)(ch >= 'A' && ch <= 'Z'
							? ch + 32
							: ch));
			i++;
			continue;
		}
		i += utf8_decode(s + i, len - i, &cp);
		if (cp == 0x00df || cp == 0x1e9e) /* full fold: "ss" */
			strbuf_add(out, "ss", 2);
		else
			utf8_encode(out, utf8_fold_char(cp));
	}
}
