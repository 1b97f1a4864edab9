/*
 * sieve_vars.c - variables (RFC 5229) and encoded-character (RFC 5228
 * 2.4.2.4).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_int.h"
#include "utf8.h"

void sv_vars_init(struct sv_vars *vars, size_t max_size)
{
	memset(vars, 0, sizeof(*vars));
	vars->max_size = max_size;
	for (int i = 0; i < 10; i++)
		strbuf_init(&vars->match[i]);
}

void sv_vars_free(struct sv_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->v[i].name);
		strbuf_free(&vars->v[i].val);
	}
	free(vars->v);
	for (int i = 0; i < 10; i++)
		strbuf_free(&vars->match[i]);
	memset(vars, 0, sizeof(*vars));
}

struct strbuf *sv_var_get(struct sv_vars *vars, const char *name, size_t len,
			  bool create)
{
	struct sv_var *v;

	for (size_t i = 0; i < vars->n; i++)
		if (strlen(vars->v[i].name) == len &&
		    strncasecmp(vars->v[i].name, name, len) == 0)
			return &vars->v[i].val;
	if (!create)
		return NULL;
	if (vars->n == vars->cap) {
		vars->cap = vars->cap ? vars->cap * 2 : 8;
		vars->v = xrealloc(vars->v, vars->cap * sizeof(*vars->v));
	}
	v = &vars->v[vars->n++];
	v->name = xstrndup(name, len);
	for (char *p = v->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	strbuf_init(&v->val);
	return &v->val;
}

/* identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_"); num = 1*DIGIT. */
bool sv_var_name_valid(const char *s, size_t len, bool allow_num)
{
	if (len == 0)
		return false;
	if (isdigit((unsigned char)s[0])) {
		if (!allow_num)
			return false;
		for (size_t i = 0; i < len; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isalpha(c) || c == '_' || (i > 0 && isdigit(c))))
			return false;
	}
	return true;
}

/* A variable reference name: identifier, num, or "global.identifier". */
static bool ref_name_ok(const char *s, size_t len)
{
	if (len > 7 && strncasecmp(s, "global.", 7) == 0)
		return sv_var_name_valid(s + 7, len - 7, false);
	return sv_var_name_valid(s, len, true);
}

void sv_vars_expand(const struct sv_vars *vars, sv_var_lookup lookup, void *ctx,
		    const char *s, size_t len, struct strbuf *out)
{
	size_t i = 0;

	while (i < len) {
		const char *close;
		size_t nlen;

		if (s[i] != '$' || i + 1 >= len || s[i + 1] != '{') {
			strbuf_addc(out, s[i++]);
			continue;
		}
		close = memchr(s + i + 2, '}', len - i - 2);
		nlen = close ? (size_t)(close - (s + i + 2)) : 0;
		if (close == NULL || !ref_name_ok(s + i + 2, nlen)) {
			strbuf_addc(out, s[i++]);
			continue;
		}
		if (isdigit((unsigned char)s[i + 2])) {
			unsigned long idx = strtoul(s + i + 2, NULL, 10);

			if (nlen < 4 && idx < vars->nmatch && idx < 10)
				strbuf_add(out, vars->match[idx].data,
					   vars->match[idx].len);
		} else {
			const struct strbuf *v = lookup(ctx, s + i + 2, nlen);

			if (v != NULL)
				strbuf_add(out, v->data, v->len);
		}
		i += nlen + 3;
	}
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

void sv_apply_mods(unsigned mods, const char *s, size_t len, struct strbuf *out)
{
	struct strbuf tmp;
	size_t start = out->len;

	strbuf_add(out, s, len);
	for (size_t i = start; i < out->len; i++) {
		if (mods & SV_MOD_LOWER)
			out->data[i] =
			    (char)tolower((unsigned char)out->data[i]);
		else if (mods & SV_MOD_UPPER)
			out->data[i] =
			    (char)toupper((unsigned char)out->data[i]);
	}
	if (out->len > start) {
		if (mods & SV_MOD_LOWERFIRST)
			out->data[start] =
			    (char)tolower((unsigned char)out->data[start]);
		else if (mods & SV_MOD_UPPERFIRST)
			out->data[start] =
			    (char)toupper((unsigned char)out->data[start]);
	}
	if (mods & SV_MOD_QUOTEWILD) {
		strbuf_init(&tmp);
		for (size_t i = start; i < out->len; i++) {
			char c = out->data[i];

			if (c == '*' || c == '?' || c == '\\')
				strbuf_addc(&tmp, '\\');
			strbuf_addc(&tmp, c);
		}
		strbuf_truncate(out, start);
		strbuf_add(out, tmp.data, tmp.len);
		strbuf_free(&tmp);
	}
	if (mods & SV_MOD_LENGTH) {
		size_t n = utf8_chars(out->data + start, out->len - start);

		strbuf_truncate(out, start);
		strbuf_printf(out, "%zu", n);
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Decodes the body of one ${hex:...} or ${unicode:...} (between ':' and
 * '}'); returns 1 when well-formed (appended), 0 when not (caller keeps
 * the text), -1 for a unicode value outside Unicode.
 */
static int decode_seq(const char *s, size_t len, bool unicode,
		      struct strbuf *out)
{
	size_t start = out->len, i = 0, groups = 0;

	for (;;) {
		size_t d = 0;
		uint32_t v = 0;

		while (i < len && is_blank(s[i]))
			i++;
		if (i == len)
			break;
		if (groups > 0 && !is_blank(s[i - 1]))
			goto bad;
		while (i < len && isxdigit((unsigned char)s[i])) {
			char c = (char)tolower((unsigned char)s[i]);

			if (d < 9)
				v = v * 16 + (uint32_t)(c <= '9'
							    ? c - '0'
							    : c - 'a' + 10);
			d++;
			i++;
		}
		if (unicode ? (d < 1 || d > 6) : (d == 0 || d % 2))
			goto bad;
		if (unicode) {
			if (v == 0 || v > 0x10ffff ||
			    (v >= 0xd800 && v <= 0xdfff)) {
				strbuf_truncate(out, start);
				return -1;
			}
			utf8_encode(out, v);
		} else {
			/* each pair is one octet */
			for (size_t k = 0; k < d; k += 2) {
				const char *p = s + i - d + k;
				char pair[3] = {p[0], p[1], 0};
				unsigned long o = strtoul(pair, NULL, 16);

				if (o == 0) { /* NUL cannot live in a string */
					strbuf_truncate(out, start);
					return -1;
				}
				strbuf_addc(out, (char)o);
			}
		}
		groups++;
	}
	if (groups == 0)
		goto bad;
	return 1;
bad:
	strbuf_truncate(out, start);
	return 0;
}

int sv_encoded_decode(const char *s, size_t len, struct strbuf *out)
{
	size_t i = 0;

	while (i < len) {
		const char *close;
		size_t pre = 0;
		int r;

		if (i + 2 < len && s[i] == '$' && s[i + 1] == '{') {
			if (len - i > 6 &&
			    strncasecmp(s + i + 2, "hex:", 4) == 0)
				pre = 6;
			else if (len - i > 10 &&
				 strncasecmp(s + i + 2, "unicode:", 8) == 0)
				pre = 10;
		}
		close = pre ? memchr(s + i + pre, '}', len - i - pre) : NULL;
		if (close == NULL) {
			strbuf_addc(out, s[i++]);
			continue;
		}
		r = decode_seq(s + i + pre, (size_t)(close - s - i - pre),
			       pre == 10, out);
		if (r < 0)
			return -1;
		if (r == 0) {
			strbuf_addc(out, s[i++]);
			continue;
		}
		i = (size_t)(close - s) + 1;
	}
	return 0;
}
