/*
 * sieve_msg.c - message access for the interpreter: header fields and body
 * parts through the caller's callbacks, or parsed here from the raw
 * message when the caller gives none; RFC 2047 decoding of header values;
 * the MIME walk, transfer decoding and charset conversion for "body"
 * (RFC 5173).
 */
#include <ctype.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve/sieve_int.h"

void sieve_values_add(struct sieve_values *vals, const char *s, size_t len)
{
	if (vals->n == vals->cap) {
		vals->cap = vals->cap ? vals->cap * 2 : 8;
		vals->v = xrealloc(vals->v, vals->cap * sizeof(*vals->v));
		vals->len = xrealloc(vals->len, vals->cap * sizeof(*vals->len));
	}
	vals->v[vals->n] = xstrndup(s, len);
	vals->len[vals->n++] = len;
}

void sieve_values_clear(struct sieve_values *vals)
{
	for (size_t i = 0; i < vals->n; i++)
		free(vals->v[i]);
	free(vals->v);
	free(vals->len);
	memset(vals, 0, sizeof(*vals));
}

/* --- raw header parsing --- */

/* Finds the end of the header block (start of the body). */
static size_t header_end(const char *m, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (m[i] != '\n')
			continue;
		if (i + 1 < len && m[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && m[i + 1] == '\r' && m[i + 2] == '\n')
			return i + 3;
	}
	if (len > 0 &&
	    (m[0] == '\n' || (len > 1 && m[0] == '\r' && m[1] == '\n')))
		return m[0] == '\n' ? 1 : 2;
	return len;
}

/* Calls fn for each field of a header block with its name and raw value
 * (after the colon, folding kept, final CR dropped). */
static void header_scan(const char *h, size_t len,
			void (*fn)(void *ctx, const char *name, size_t nlen,
				   const char *val, size_t vlen),
			void *ctx)
{
	size_t i = 0;

	while (i < len) {
		size_t ls = i, colon, ve, ne;

		if (h[i] == '\r' || h[i] == '\n')
			break;
		/* the field runs until a line break not followed by WSP */
		ve = i;
		while (ve < len) {
			if (h[ve] == '\n' &&
			    !(ve + 1 < len &&
			      (h[ve + 1] == ' ' || h[ve + 1] == '\t')))
				break;
			ve++;
		}
		i = ve < len ? ve + 1 : len;
		colon = ls;
		while (colon < ve && h[colon] != ':')
			colon++;
		if (colon == ve)
			continue;
		ne = colon;
		while (ne > ls && (h[ne - 1] == ' ' || h[ne - 1] == '\t'))
			ne--;
		if (ve > colon + 1 && h[ve - 1] == '\r')
			ve--;
		fn(ctx, h + ls, ne - ls, h + colon + 1, ve - colon - 1);
	}
}

struct field_want {
	const char *name;
	size_t len;
	struct sieve_values *vals;
};

static void field_match(void *ctx, const char *name, size_t nlen,
			const char *val, size_t vlen)
{
	struct field_want *w = ctx;

	if (nlen == w->len && strncasecmp(name, w->name, nlen) == 0)
		sieve_values_add(w->vals, val, vlen);
}

/* Appends the raw values of every field called want. */
static void header_fields(const char *h, size_t len, const char *want,
			  struct sieve_values *vals)
{
	struct field_want w = {want, strlen(want), vals};

	header_scan(h, len, field_match, &w);
}

static void index_add(void *ctx, const char *name, size_t nlen, const char *val,
		      size_t vlen)
{
	struct sv_hdr_index *idx = ctx;

	if (idx->n == idx->cap) {
		idx->cap = idx->cap ? idx->cap * 2 : 32;
		idx->h = xrealloc(idx->h, idx->cap * sizeof(*idx->h));
	}
	idx->h[idx->n].name = name;
	idx->h[idx->n].nlen = nlen;
	idx->h[idx->n].val = val;
	idx->h[idx->n].vlen = vlen;
	idx->n++;
}

void sv_hdr_index_free(struct sv_hdr_index *idx)
{
	free(idx->h);
	memset(idx, 0, sizeof(*idx));
}

int sv_msg_headers(const struct sieve_msg *msg, struct sv_hdr_index *idx,
		   const char *name, struct sieve_values *vals)
{
	size_t len = strlen(name);

	if (msg->get_headers != NULL)
		return msg->get_headers(msg->ctx, name, vals);
	if (msg->raw == NULL)
		return 0;
	/* one pass over the header block per run, then lookups */
	if (!idx->built) {
		header_scan(msg->raw, header_end(msg->raw, msg->raw_len),
			    index_add, idx);
		idx->built = true;
	}
	for (size_t i = 0; i < idx->n; i++)
		if (idx->h[i].nlen == len &&
		    strncasecmp(idx->h[i].name, name, len) == 0)
			sieve_values_add(vals, idx->h[i].val, idx->h[i].vlen);
	return 0;
}

/* --- unfolding and RFC 2047 --- */

void sv_unfold(const char *s, size_t len, struct strbuf *out)
{
	size_t start = out->len;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	/* line breaks go, TABs become spaces (as Dovecot does, so scripts
	 * written for it keep matching "from * by *") */
	for (size_t i = 0; i < len; i++)
		if (s[i] != '\r' && s[i] != '\n')
			strbuf_addc(out, s[i] == '\t' ? ' ' : s[i]);
	while (out->len > start && (out->data[out->len - 1] == ' ' ||
				    out->data[out->len - 1] == '\t'))
		strbuf_truncate(out, out->len - 1);
}

static bool charset_is_utf8(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	       strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

/* Converts len bytes in charset cs to UTF-8; false if not possible. */
static bool to_utf8(const char *cs, const char *s, size_t len,
		    struct strbuf *out)
{
	iconv_t cd;
	char *in = (char *)s, *o;
	size_t inl = len, ol;

	if (charset_is_utf8(cs)) {
		strbuf_add(out, s, len);
		return true;
	}
	cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return false;
	while (inl > 0) {
		strbuf_reserve(out, inl * 4 + 16);
		o = out->data + out->len;
		ol = out->cap - out->len - 1;
		if (iconv(cd, &in, &inl, &o, &ol) == (size_t)-1) {
			out->len = (size_t)(o - out->data);
			if (inl > 0 && ol > 8) { /* bad byte: skip it */
				strbuf_add(out, "\xef\xbf\xbd", 3);
				in++;
				inl--;
			}
			continue;
		}
		out->len = (size_t)(o - out->data);
	}
	out->data[out->len] = '\0';
	iconv_close(cd);
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void qp_decode(const char *s, size_t len, bool header,
		      struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (header && s[i] == '_') {
			strbuf_addc(out, ' ');
		} else if (s[i] == '=' && i + 2 < len + 0 &&
			   hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			strbuf_addc(out, (char)(hexval(s[i + 1]) * 16 +
						hexval(s[i + 2])));
			i += 2;
		} else if (s[i] == '=' && !header) {
			/* soft line break: "=" CRLF */
			size_t j = i + 1;

			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < len && s[j] == '\r')
				j++;
			if (j < len && s[j] == '\n')
				i = j;
			else if (j >= len)
				i = j;
			else
				strbuf_addc(out, '=');
		} else if (s[i] == '=' && header && i + 2 == len + 0) {
			strbuf_addc(out, '=');
		} else {
			strbuf_addc(out, s[i]);
		}
	}
}

static void b64_decode(const char *s, size_t len, struct strbuf *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/* Decodes one "=?cs?e?text?=" at s; returns its length, 0 if not one. */
static size_t encoded_word(const char *s, size_t len, struct strbuf *out)
{
	const char *q1, *q2, *end;
	char cs[64];
	struct strbuf raw;
	size_t cslen;
	bool ok;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	q1 = memchr(s + 2, '?', len - 2);
	if (q1 == NULL || q1 + 3 >= s + len || q1[2] != '?')
		return 0;
	q2 = q1 + 2;
	end = NULL;
	for (const char *p = q2 + 1; p + 1 < s + len; p++) {
		if (p[0] == '?' && p[1] == '=') {
			end = p;
			break;
		}
		if (p[0] == ' ' || p[0] == '\t' || p[0] == '\n')
			return 0;
	}
	cslen = (size_t)(q1 - s - 2);
	if (end == NULL || cslen == 0 || cslen >= sizeof(cs))
		return 0;
	memcpy(cs, s + 2, cslen);
	cs[cslen] = '\0';
	if (strchr(cs, '*') != NULL) /* RFC 2231 language */
		*strchr(cs, '*') = '\0';
	strbuf_init(&raw);
	if (q1[1] == 'b' || q1[1] == 'B')
		b64_decode(q2 + 1, (size_t)(end - q2 - 1), &raw);
	else if (q1[1] == 'q' || q1[1] == 'Q')
		qp_decode(q2 + 1, (size_t)(end - q2 - 1), true, &raw);
	else {
		strbuf_free(&raw);
		return 0;
	}
	ok = to_utf8(cs, raw.data, raw.len, out);
	strbuf_free(&raw);
	return ok ? (size_t)(end + 2 - s) : 0;
}

void sv_decode_header(const char *s, size_t len, struct strbuf *out)
{
	struct strbuf u;
	size_t i = 0, pending_ws = 0, ws_start = 0;
	bool last_was_word = false;

	strbuf_init(&u);
	sv_unfold(s, len, &u);
	while (i < u.len) {
		size_t n = 0;

		if (u.data[i] == '=' && u.data[i + 1] == '?') {
			struct strbuf w;

			strbuf_init(&w);
			n = encoded_word(u.data + i, u.len - i, &w);
			if (n > 0) {
				/* white space between encoded words goes */
				if (!last_was_word && pending_ws)
					strbuf_add(out, u.data + ws_start,
						   pending_ws);
				strbuf_add(out, w.data, w.len);
				i += n;
				pending_ws = 0;
				last_was_word = true;
			}
			strbuf_free(&w);
			if (n > 0)
				continue;
		}
		if (u.data[i] == ' ' || u.data[i] == '\t') {
			if (pending_ws == 0)
				ws_start = i;
			pending_ws++;
			i++;
			continue;
		}
		/* after an encoded word, white space before another "=?"
		 * goes even when that one does not decode */
		if (pending_ws && !(last_was_word && u.data[i] == '=' &&
				    u.data[i + 1] == '?'))
			strbuf_add(out, u.data + ws_start, pending_ws);
		pending_ws = 0;
		last_was_word = false;
		strbuf_addc(out, u.data[i++]);
	}
	if (pending_ws)
		strbuf_add(out, u.data + ws_start, pending_ws);
	strbuf_free(&u);
}

/* --- MIME walk for "body" --- */

struct body_walk {
	enum sieve_body_transform t;
	const char *const *types;
	size_t ntypes;
	struct sieve_values *parts;
	unsigned depth;
};

/* Gets parameter pname of a Content-Type style value into out. */
static bool ct_param(const char *v, const char *pname, struct strbuf *out)
{
	size_t plen = strlen(pname);
	const char *p = strchr(v, ';');

	while (p != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, pname, plen) == 0) {
			const char *q = p + plen;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '=') {
				q++;
				while (*q == ' ' || *q == '\t')
					q++;
				if (*q == '"') {
					for (q++; *q && *q != '"'; q++) {
						if (*q == '\\' && q[1])
							q++;
						strbuf_addc(out, *q);
					}
				} else {
					while (*q && *q != ';' && *q != ' ' &&
					       *q != '\t')
						strbuf_addc(out, *q++);
				}
				return true;
			}
		}
		p = strchr(p, ';');
	}
	return false;
}

/* "type/subtype" lower-cased into out. */
static void ct_type(const char *v, struct strbuf *out)
{
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v && *v != ';' && *v != ' ' && *v != '\t'; v++)
		strbuf_addc(out, (char)tolower((unsigned char)*v));
}

static bool type_wanted(const struct body_walk *w, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t mlen = slash ? (size_t)(slash - type) : strlen(type);

	if (w->t == SIEVE_BODY_TEXT)
		return strncmp(type, "text", 4) == 0 && mlen == 4;
	for (size_t i = 0; i < w->ntypes; i++) {
		const char *t = w->types[i];

		if (*t == '\0')
			return true;
		if (strchr(t, '/') != NULL ? strcasecmp(t, type) == 0
					   : (strlen(t) == mlen &&
					      strncasecmp(t, type, mlen) == 0))
			return true;
	}
	return false;
}

static void walk_part(struct body_walk *w, const char *m, size_t len,
		      const char *deftype);

/*
 * Walks the parts of a multipart body.  With prologue set, the text before
 * the first boundary and after the last one is a value of its own
 * (RFC 5173 5.1: :content "multipart" matches the prologue/epilogue).
 */
static void walk_multipart(struct body_walk *w, const char *b, size_t len,
			   const char *boundary, const char *deftype,
			   bool prologue)
{
	size_t blen = strlen(boundary), i = 0, part_start = 0;
	bool in_part = false, seen = false;

	while (i < len) {
		const char *nl = memchr(b + i, '\n', len - i);
		size_t le = nl ? (size_t)(nl - b) : len;
		size_t next = nl ? le + 1 : len;

		if (le - i >= blen + 2 && b[i] == '-' && b[i + 1] == '-' &&
		    memcmp(b + i + 2, boundary, blen) == 0) {
			bool last = le - i >= blen + 4 &&
				    b[i + 2 + blen] == '-' &&
				    b[i + 3 + blen] == '-';

			if (!seen && prologue && i > 0)
				sieve_values_add(w->parts, b, i);
			seen = true;

			if (in_part) {
				size_t pe = i;

				/* the line break before the boundary belongs
				 * to the boundary (RFC 2046 5.1.1) */
				if (pe > part_start && b[pe - 1] == '\n')
					pe--;
				if (pe > part_start && b[pe - 1] == '\r')
					pe--;
				walk_part(w, b + part_start, pe - part_start,
					  deftype);
			}
			if (last) {
				if (prologue && next < len)
					sieve_values_add(w->parts, b + next,
							 len - next);
				return;
			}
			in_part = true;
			part_start = next;
		}
		i = next;
	}
}

static void walk_part(struct body_walk *w, const char *m, size_t len,
		      const char *deftype)
{
	struct sieve_values ctv = {0}, cte = {0};
	struct strbuf type, param, dec, utf;
	size_t he = header_end(m, len);

	if (++w->depth > 20) {
		w->depth--;
		return;
	}
	header_fields(m, he, "content-type", &ctv);
	header_fields(m, he, "content-transfer-encoding", &cte);
	strbuf_init(&type);
	strbuf_init(&param);
	strbuf_init(&dec);
	strbuf_init(&utf);
	if (ctv.n > 0)
		ct_type(ctv.v[0], &type);
	if (type.len == 0 || strchr(type.data, '/') == NULL) {
		strbuf_reset(&type);
		strbuf_adds(&type, deftype);
	}
	if (strncmp(type.data, "multipart/", 10) == 0) {
		if (ctv.n > 0 && ct_param(ctv.v[0], "boundary", &param))
			walk_multipart(w, m + he, len - he, param.data,
				       strcmp(type.data, "multipart/digest") ==
					       0
					   ? "message/rfc822"
					   : "text/plain",
				       w->t == SIEVE_BODY_CONTENT &&
					   type_wanted(w, type.data));
	} else if (strcmp(type.data, "message/rfc822") == 0 &&
		   !type_wanted(w, type.data)) {
		walk_part(w, m + he, len - he, "text/plain");
	} else if (type_wanted(w, type.data)) {
		const char *enc = cte.n > 0 ? cte.v[0] : "";

		while (*enc == ' ' || *enc == '\t')
			enc++;
		if (strncasecmp(enc, "base64", 6) == 0)
			b64_decode(m + he, len - he, &dec);
		else if (strncasecmp(enc, "quoted-printable", 16) == 0)
			qp_decode(m + he, len - he, false, &dec);
		else
			strbuf_add(&dec, m + he, len - he);
		strbuf_reset(&param);
		if (strncmp(type.data, "text/", 5) == 0 && ctv.n > 0 &&
		    ct_param(ctv.v[0], "charset", &param) &&
		    to_utf8(param.data, dec.data, dec.len, &utf))
			sieve_values_add(w->parts, utf.data, utf.len);
		else
			sieve_values_add(w->parts, dec.data, dec.len);
	}
	sieve_values_clear(&ctv);
	sieve_values_clear(&cte);
	strbuf_free(&type);
	strbuf_free(&param);
	strbuf_free(&dec);
	strbuf_free(&utf);
	w->depth--;
}

int sv_msg_body(const struct sieve_msg *msg, enum sieve_body_transform t,
		const char *const *types, size_t ntypes,
		struct sieve_values *parts)
{
	struct body_walk w = {
	    .t = t, .types = types, .ntypes = ntypes, .parts = parts};

	if (msg->get_body != NULL)
		return msg->get_body(msg->ctx, t, types, ntypes, parts);
	if (msg->raw == NULL)
		return 0;
	if (t == SIEVE_BODY_RAW) {
		size_t he = header_end(msg->raw, msg->raw_len);

		sieve_values_add(parts, msg->raw + he, msg->raw_len - he);
		return 0;
	}
	walk_part(&w, msg->raw, msg->raw_len, "text/plain");
	return 0;
}
