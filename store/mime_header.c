/*
 * mime_header.c - header fields, RFC 2047 encoded words, RFC 2045/2231
 * parameters, charset conversion and transfer decoding (mime.h).
 */
#include "mime.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#define IS_WSP(c) ((c) == ' ' || (c) == '\t')
/* More parameters than this in one header value are ignored. */
#define MIME_MAX_PARAMS 64

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int mime_strcaseeq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		if (b[i] == '\0' ||
		    lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	}
	return b[alen] == '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ---- header fields ------------------------------------------------------ */

static size_t line_end(const char *s, size_t len, size_t p, size_t *next_r)
{
	const char *eol = memchr(s + p, '\n', len - p);

	if (eol == NULL) {
		*next_r = len;
		return len;
	}
	*next_r = (size_t)(eol - s) + 1;
	return (size_t)(eol - s);
}

static int field_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c == 127)
			return 0;
	}
	return 1;
}

int mime_header_next(const char *hdr, size_t len, size_t *pos,
		     struct mime_header_field *f_r)
{
	size_t p = *pos;

	while (p < len) {
		size_t next, eol = line_end(hdr, len, p, &next);
		size_t llen = eol - p, nlen, end;
		const char *colon;

		if (llen == 0 || (llen == 1 && hdr[p] == '\r'))
			break; /* the blank line ends the header */
		colon = memchr(hdr + p, ':', llen);
		if (IS_WSP(hdr[p]) || colon == NULL) {
			p = next; /* stray continuation or not a field */
			continue;
		}
		nlen = (size_t)(colon - (hdr + p));
		while (nlen > 0 && IS_WSP(hdr[p + nlen - 1]))
			nlen--;
		if (!field_name_ok(hdr + p, nlen)) {
			p = next;
			continue;
		}
		end = next;
		while (end < len && IS_WSP(hdr[end]))
			line_end(hdr, len, end, &end);
		f_r->name = hdr + p;
		f_r->name_len = nlen;
		f_r->value = colon + 1;
		f_r->value_len = end - (size_t)(colon + 1 - hdr);
		if (f_r->value_len > 0 &&
		    f_r->value[f_r->value_len - 1] == '\n')
			f_r->value_len--;
		if (f_r->value_len > 0 &&
		    f_r->value[f_r->value_len - 1] == '\r')
			f_r->value_len--;
		*pos = end;
		return 1;
	}
	*pos = p;
	return 0;
}

int mime_header_find(const char *hdr, size_t len, const char *name, size_t *pos,
		     struct mime_header_field *f_r)
{
	while (mime_header_next(hdr, len, pos, f_r)) {
		if (mime_strcaseeq(f_r->name, f_r->name_len, name))
			return 1;
	}
	return 0;
}

void mime_header_unfold(const char *value, size_t len, struct strbuf *out)
{
	size_t i, start = 0, end = len;

	while (start < end && (IS_WSP(value[start]) || value[start] == '\r' ||
			       value[start] == '\n'))
		start++;
	while (end > start &&
	       (IS_WSP(value[end - 1]) || value[end - 1] == '\r' ||
		value[end - 1] == '\n'))
		end--;
	strbuf_reserve(out, end - start);
	for (i = start; i < end; i++) {
		char c = value[i];

		if (c != '\r' && c != '\n' && c != '\0')
			out->data[out->len++] = c;
	}
	out->data[out->len] = '\0';
}

/* ---- UTF-8 and charsets ------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned int c = s[0], n, i, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static void add_latin1(struct strbuf *out, unsigned char c)
{
	if (c < 0x80) {
		if (c != 0)
			strbuf_addc(out, (char)c);
		return;
	}
	strbuf_addc(out, (char)(0xc0 | (c >> 6)));
	strbuf_addc(out, (char)(0x80 | (c & 0x3f)));
}

void mime_utf8_sanitize(const char *s, size_t len, struct strbuf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, n;

	strbuf_reserve(out, len);
	while (i < len) {
		n = u[i] == 0 ? 0 : utf8_seq(u + i, len - i);
		if (n == 0) {
			strbuf_add(out, s + run, i - run);
			add_latin1(out, u[i]);
			run = ++i;
			continue;
		}
		i += n;
	}
	strbuf_add(out, s + run, i - run);
}

static int charset_is(const char *cs, const char *const *names)
{
	for (; *names != NULL; names++) {
		if (mime_strcaseeq(cs, strlen(cs), *names))
			return 1;
	}
	return 0;
}

static int charset_name_ok(const char *cs)
{
	size_t i, n = strlen(cs);

	if (n == 0 || n > 40)
		return 0;
	for (i = 0; i < n; i++) {
		char c = cs[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("-_.:+", c) != NULL))
			return 0;
	}
	return 1;
}

static void iconv_run(iconv_t cd, const char *s, size_t len, struct strbuf *tmp)
{
	char *in = (char *)s, obuf[1024], *o;
	size_t inleft = len, oleft, r;

	for (;;) {
		o = obuf;
		oleft = sizeof(obuf);
		r = iconv(cd, inleft > 0 ? &in : NULL, &inleft, &o, &oleft);
		strbuf_add(tmp, obuf, sizeof(obuf) - oleft);
		if (r != (size_t)-1) {
			if (inleft == 0)
				break;
			continue;
		}
		if (errno == E2BIG)
			continue;
		/* EILSEQ or a truncated sequence (EINVAL): U+FFFD. */
		strbuf_add(tmp, "\xef\xbf\xbd", 3);
		if (errno != EILSEQ || inleft == 0)
			break;
		in++;
		inleft--;
		if (inleft == 0)
			break;
	}
	/* Shift back to the initial state (ISO-2022-JP and friends). */
	o = obuf;
	oleft = sizeof(obuf);
	if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1)
		strbuf_add(tmp, obuf, sizeof(obuf) - oleft);
}

/* Names mailers use that iconv does not know, and what they mean. */
static const char *charset_alias(const char *cs)
{
	static const char *const aliases[][2] = {
	    {"ks_c_5601-1987", "CP949"},
	    {"x-sjis", "SHIFT_JIS"},
	    {"x-mac-roman", "MACINTOSH"},
	    {"iso-8859-8-i", "ISO-8859-8"},
	    {"cp-850", "CP850"},
	    {"x-gbk", "GBK"},
	    {"gb2312", "GB18030"},
	    {"x-euc-jp", "EUC-JP"},
	    {"unicode-1-1-utf-7", "UTF-7"},
	};
	size_t i;

	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (mime_strcaseeq(cs, strlen(cs), aliases[i][0]))
			return aliases[i][1];
	return cs;
}

int mime_charset_to_utf8(const char *charset, const char *s, size_t len,
			 struct strbuf *out)
{
	static const char *const utf8[] = {"utf-8",   "utf8",	   "us-ascii",
					   "ascii",   "",	   "utf8mb4",
					   "unknown", "x-unknown", NULL};
	static const char *const latin1[] = {"iso-8859-1", "latin1",
					     "iso8859-1", NULL};
	struct strbuf tmp;
	iconv_t cd;
	size_t i;

	if (charset_is(charset, utf8)) {
		mime_utf8_sanitize(s, len, out);
		return 0;
	}
	if (charset_is(charset, latin1)) {
		for (i = 0; i < len; i++)
			add_latin1(out, (unsigned char)s[i]);
		return 0;
	}
	if (!charset_name_ok(charset))
		return -1;
	cd = iconv_open("UTF-8", charset_alias(charset));
	if (cd == (iconv_t)-1)
		return -1;
	strbuf_init(&tmp);
	iconv_run(cd, s, len, &tmp);
	iconv_close(cd);
	mime_utf8_sanitize(tmp.data, tmp.len, out); /* drops NULs */
	strbuf_free(&tmp);
	return 0;
}

/* ---- RFC 2047 encoded words --------------------------------------------- */

static void decode_q(const char *s, size_t len, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '_') {
			strbuf_addc(out, ' ');
		} else if (s[i] == '=' && i + 2 < len &&
			   hexval((unsigned char)s[i + 1]) >= 0 &&
			   hexval((unsigned char)s[i + 2]) >= 0) {
			strbuf_addc(
			    out, (char)(hexval((unsigned char)s[i + 1]) * 16 +
					hexval((unsigned char)s[i + 2])));
			i += 2;
		} else {
			strbuf_addc(out, s[i]);
		}
	}
}

struct ew {
	size_t end; /* index after "?=" */
	const char *cs;
	size_t cs_len; /* without any RFC 2231 "*lang" */
	char enc;
	const char *text;
	size_t text_len;
};

/* Recognises "=?charset?B|Q?text?=" at s[i]; returns 1 with *w set. */
static int ew_scan(const char *s, size_t len, size_t i, struct ew *w)
{
	size_t p = i + 2, q;
	const char *star;

	q = p;
	while (q < len && s[q] != '?' && !IS_WSP(s[q]))
		q++;
	if (q + 3 >= len || s[q] != '?' || q == p || s[q + 2] != '?')
		return 0;
	w->cs = s + p;
	w->cs_len = q - p;
	star = memchr(w->cs, '*', w->cs_len);
	if (star != NULL)
		w->cs_len = (size_t)(star - w->cs);
	w->enc = (char)lower((unsigned char)s[q + 1]);
	if ((w->enc != 'b' && w->enc != 'q') || w->cs_len == 0)
		return 0;
	p = q + 3;
	q = p;
	while (q < len && s[q] != '?')
		q++;
	if (q + 1 >= len || s[q + 1] != '=')
		return 0;
	w->text = s + p;
	w->text_len = q - p;
	w->end = q + 2;
	return 1;
}

struct ew_state {
	struct strbuf bytes; /* decoded bytes of adjacent words */
	char cs[48];	     /* their charset */
	size_t raw_start;    /* where the pending words started in s */
	size_t raw_end;
	int pending;
};

static void ew_flush(struct ew_state *st, const char *s, struct strbuf *out)
{
	if (!st->pending)
		return;
	if (mime_charset_to_utf8(st->cs, st->bytes.data, st->bytes.len, out) <
	    0)
		mime_utf8_sanitize(s + st->raw_start,
				   st->raw_end - st->raw_start, out);
	strbuf_reset(&st->bytes);
	st->pending = 0;
}

void mime_header_decode(const char *value, size_t len, struct strbuf *out)
{
	struct strbuf u;
	struct ew_state st;
	struct ew w;
	size_t i = 0, run = 0, ws;
	const char *s;

	strbuf_init(&u);
	mime_header_unfold(value, len, &u);
	s = u.data;
	len = u.len;
	if (memchr(s, '=', len) == NULL) {
		mime_utf8_sanitize(s, len, out);
		strbuf_free(&u);
		return;
	}
	strbuf_init(&st.bytes);
	st.pending = 0;
	while (i < len) {
		if (!(s[i] == '=' && i + 1 < len && s[i + 1] == '?' &&
		      ew_scan(s, len, i, &w))) {
			i++;
			continue;
		}
		/* White space between two encoded words is dropped. */
		ws = run;
		while (ws < i && IS_WSP(s[ws]))
			ws++;
		if (!(st.pending && ws == i)) {
			ew_flush(&st, s, out);
			mime_utf8_sanitize(s + run, i - run, out);
		}
		if (st.pending && (w.cs_len != strlen(st.cs) ||
				   strncasecmp(w.cs, st.cs, w.cs_len) != 0))
			ew_flush(&st, s, out);
		if (!st.pending) {
			size_t n = w.cs_len < sizeof(st.cs) - 1
				       ? w.cs_len
				       : sizeof(st.cs) - 1;
			memcpy(st.cs, w.cs, n);
			st.cs[n] = '\0';
			st.raw_start = i;
			st.pending = 1;
		}
		if (w.enc == 'b')
			mime_decode_base64(w.text, w.text_len, &st.bytes);
		else
			decode_q(w.text, w.text_len, &st.bytes);
		st.raw_end = w.end;
		i = run = w.end;
	}
	ew_flush(&st, s, out);
	mime_utf8_sanitize(s + run, len - run, out);
	strbuf_free(&st.bytes);
	strbuf_free(&u);
}

/* ---- Content-Type and Content-Disposition ------------------------------- */

static void skip_cfws(const char *s, size_t len, size_t *i)
{
	int depth;

	while (*i < len) {
		char c = s[*i];

		if (IS_WSP(c) || c == '\r' || c == '\n') {
			(*i)++;
		} else if (c == '(') {
			depth = 0;
			for (; *i < len; (*i)++) {
				if (s[*i] == '\\' && *i + 1 < len)
					(*i)++;
				else if (s[*i] == '(')
					depth++;
				else if (s[*i] == ')' && --depth == 0)
					break;
			}
			if (*i < len)
				(*i)++;
		} else {
			break;
		}
	}
}

static int is_token_char(unsigned char c)
{
	return c > ' ' && c != 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static char *token_lower(const char *s, size_t len, size_t *i)
{
	size_t start = *i, k;
	char *t;

	while (*i < len && is_token_char((unsigned char)s[*i]))
		(*i)++;
	if (*i == start)
		return NULL;
	t = xstrndup(s + start, *i - start);
	for (k = 0; t[k] != '\0'; k++)
		t[k] = (char)lower((unsigned char)t[k]);
	return t;
}

/* Reads a parameter value: quoted string or anything up to ';'. */
static char *param_value(const char *s, size_t len, size_t *i)
{
	struct strbuf v;
	size_t start;

	strbuf_init(&v);
	if (*i < len && s[*i] == '"') {
		for ((*i)++; *i < len && s[*i] != '"'; (*i)++) {
			if (s[*i] == '\\' && *i + 1 < len)
				(*i)++;
			if (s[*i] != '\r' && s[*i] != '\n' && s[*i] != '\0')
				strbuf_addc(&v, s[*i]);
		}
		if (*i < len)
			(*i)++;
		return strbuf_steal(&v, NULL);
	}
	start = *i;
	while (*i < len && s[*i] != ';')
		(*i)++;
	mime_header_unfold(s + start, *i - start, &v);
	return strbuf_steal(&v, NULL);
}

struct raw_param {
	char *name;
	char *value;
	size_t base_len; /* name without "*N" / "*" */
	long section;	 /* -1: not an RFC 2231 section */
	int encoded;	 /* name ended with '*' */
	int used;
};

static void raw_param_split(struct raw_param *r)
{
	size_t n = strlen(r->name), k;

	r->section = -1;
	r->encoded = 0;
	if (n > 1 && r->name[n - 1] == '*') {
		r->encoded = 1;
		n--;
	}
	k = n;
	while (k > 0 && r->name[k - 1] >= '0' && r->name[k - 1] <= '9')
		k--;
	if (k < n && k > 1 && r->name[k - 1] == '*' && n - k <= 4) {
		r->section = strtol(r->name + k, NULL, 10);
		n = k - 1;
	}
	r->base_len = n;
}

static void pct_encode(const char *s, struct strbuf *out)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (is_token_char(c) && c != '*' && c != '\'' && c != '%')
			strbuf_addc(out, (char)c);
		else
			strbuf_printf(out, "%%%02X", c);
	}
}

static void add_param(struct mime_content *c, char *name, char *value)
{
	c->params = xrealloc(c->params, (c->nparams + 1) * sizeof(*c->params));
	c->params[c->nparams].name = name;
	c->params[c->nparams].value = value;
	c->nparams++;
}

/* RFC 2231 section 3 and 4: merges the sections of raw[i]'s parameter. */
static void merge_sections(struct mime_content *c, struct raw_param *raw,
			   unsigned int n, unsigned int i)
{
	struct raw_param *sec[MIME_MAX_PARAMS];
	unsigned int ns = 0, j, k;
	struct strbuf v;
	int encoded = 0;
	char *name;

	for (j = i; j < n; j++) {
		if (raw[j].used || raw[j].base_len != raw[i].base_len ||
		    (raw[j].section < 0 && !raw[j].encoded) ||
		    strncmp(raw[j].name, raw[i].name, raw[i].base_len) != 0)
			continue;
		raw[j].used = 1;
		/* insertion sort by section number */
		for (k = ns; k > 0 && sec[k - 1]->section > raw[j].section; k--)
			sec[k] = sec[k - 1];
		sec[k] = &raw[j];
		ns++;
		encoded |= raw[j].encoded;
	}
	strbuf_init(&v);
	for (j = 0; j < ns; j++) {
		const char *val = sec[j]->value;

		if (j > 0 && sec[j]->section == sec[j - 1]->section)
			continue;
		if (!encoded) {
			strbuf_adds(&v, val);
		} else if (j == 0) {
			if (sec[j]->encoded && strchr(val, '\'') != NULL &&
			    strchr(strchr(val, '\'') + 1, '\'') != NULL) {
				strbuf_adds(&v, val);
			} else {
				strbuf_adds(&v, "''");
				if (sec[j]->encoded)
					strbuf_adds(&v, val);
				else
					pct_encode(val, &v);
			}
		} else if (sec[j]->encoded) {
			strbuf_adds(&v, val);
		} else {
			pct_encode(val, &v);
		}
	}
	name = xasprintf("%.*s%s", (int)raw[i].base_len, raw[i].name,
			 encoded ? "*" : "");
	add_param(c, name, strbuf_steal(&v, NULL));
	strbuf_free(&v);
}

static void parse_params(const char *s, size_t len, size_t i,
			 struct mime_content *c)
{
	struct raw_param raw[MIME_MAX_PARAMS];
	unsigned int n = 0, j;

	while (i < len && n < MIME_MAX_PARAMS) {
		char *name;

		/* Skip to the next ';', over quoted strings and junk. */
		while (i < len && s[i] != ';') {
			if (s[i] == '"') {
				for (i++; i < len && s[i] != '"'; i++)
					if (s[i] == '\\')
						i++;
			}
			i++;
		}
		if (i >= len)
			break;
		i++;
		skip_cfws(s, len, &i);
		name = token_lower(s, len, &i);
		if (name == NULL)
			continue;
		skip_cfws(s, len, &i);
		if (i >= len || s[i] != '=') {
			free(name);
			continue;
		}
		i++;
		skip_cfws(s, len, &i);
		raw[n].name = name;
		raw[n].value = param_value(s, len, &i);
		raw[n].used = 0;
		raw_param_split(&raw[n]);
		n++;
	}
	for (j = 0; j < n; j++) {
		if (raw[j].used)
			continue;
		if (raw[j].section < 0 && !raw[j].encoded) {
			raw[j].used = 1;
			add_param(c, raw[j].name, raw[j].value);
			raw[j].name = raw[j].value = NULL;
			continue;
		}
		merge_sections(c, raw, n, j);
	}
	for (j = 0; j < n; j++) {
		free(raw[j].name);
		free(raw[j].value);
	}
}

void mime_content_parse(const char *value, size_t len, int with_subtype,
			struct mime_content *c_r)
{
	size_t i = 0;

	memset(c_r, 0, sizeof(*c_r));
	skip_cfws(value, len, &i);
	c_r->type = token_lower(value, len, &i);
	if (c_r->type == NULL)
		return;
	skip_cfws(value, len, &i);
	if (with_subtype) {
		if (i < len && value[i] == '/') {
			i++;
			skip_cfws(value, len, &i);
			c_r->subtype = token_lower(value, len, &i);
		}
		if (c_r->subtype == NULL) {
			free(c_r->type);
			c_r->type = NULL;
			return;
		}
	}
	parse_params(value, len, i, c_r);
}

void mime_content_free(struct mime_content *c)
{
	unsigned int i;

	for (i = 0; i < c->nparams; i++) {
		free(c->params[i].name);
		free(c->params[i].value);
	}
	free(c->params);
	free(c->type);
	free(c->subtype);
	memset(c, 0, sizeof(*c));
}

const char *mime_param_get(const struct mime_content *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->nparams; i++) {
		if (strcmp(c->params[i].name, name) == 0)
			return c->params[i].value;
	}
	return NULL;
}

static char *decode_2231(const char *v)
{
	const char *q1 = strchr(v, '\''), *q2;
	struct strbuf bytes, out;
	char cs[48];
	size_t n;

	strbuf_init(&bytes);
	strbuf_init(&out);
	q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
	if (q2 == NULL) {
		q1 = q2 = v - 1;
		cs[0] = '\0';
	} else {
		n = (size_t)(q1 - v) < sizeof(cs) - 1 ? (size_t)(q1 - v)
						      : sizeof(cs) - 1;
		memcpy(cs, v, n);
		cs[n] = '\0';
	}
	for (v = q2 + 1; *v != '\0'; v++) {
		if (*v == '%' && hexval((unsigned char)v[1]) >= 0 &&
		    hexval((unsigned char)v[2]) >= 0) {
			strbuf_addc(&bytes,
				    (char)(hexval((unsigned char)v[1]) * 16 +
					   hexval((unsigned char)v[2])));
			v += 2;
		} else {
			strbuf_addc(&bytes, *v);
		}
	}
	if (mime_charset_to_utf8(cs, bytes.data, bytes.len, &out) < 0)
		mime_utf8_sanitize(bytes.data, bytes.len, &out);
	strbuf_free(&bytes);
	return strbuf_steal(&out, NULL);
}

char *mime_param_get_utf8(const struct mime_content *c, const char *name)
{
	struct strbuf out;
	const char *v;
	char *star = xasprintf("%s*", name);

	v = mime_param_get(c, star);
	free(star);
	if (v != NULL)
		return decode_2231(v);
	v = mime_param_get(c, name);
	if (v == NULL)
		return NULL;
	strbuf_init(&out);
	mime_header_decode(v, strlen(v), &out);
	return strbuf_steal(&out, NULL);
}
