/*
 * filter.c - decoding, parsing and printing of search filters.
 * Evaluation lives in ab_filter_match.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ber.h"
#include "filter.h"
#include "proto.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"

void ab_filter_free(struct filter **fp)
{
	struct filter *f = *fp;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nkids; i++)
		ab_filter_free(&f->kids[i]);
	free(f->kids);
	free(f->attr);
	free(f->value.bv_val);
	free(f->initial.bv_val);
	free(f->final.bv_val);
	for (size_t i = 0; i < f->nany; i++)
		free(f->any[i].bv_val);
	free(f->any);
	free(f->rule);
	free(f->nvalue.bv_val);
	free(f->pinitial.bv_val);
	free(f->pfinal.bv_val);
	if (f->pany != NULL)
		for (size_t i = 0; i < f->nany; i++)
			free(f->pany[i].bv_val);
	free(f->pany);
	free(f);
	*fp = NULL;
}

static void bv_copy(struct berval *dst, const char *s, size_t len)
{
	dst->bv_val = xmalloc(len + 1);
	memcpy(dst->bv_val, s, len);
	dst->bv_val[len] = '\0';
	dst->bv_len = len;
}

static void set_attr(struct filter *f, const char *s, size_t len)
{
	f->attr = xstrndup(s, len);
	f->at = ab_schema_attr_find(s, len);
	/* A NUL makes no valid description (RFC 4512 §2.5); keep the rest
	 * of the name visible in logs instead of cutting it there. */
	for (size_t i = 0; i < len; i++)
		if (f->attr[i] == '\0')
			f->attr[i] = '?';
}

static void add_kid(struct filter *f, struct filter *k)
{
	f->kids = xrealloc(f->kids, (f->nkids + 1) * sizeof(*f->kids));
	f->kids[f->nkids++] = k;
}

static void add_any(struct filter *f, const char *s, size_t len)
{
	f->any = xrealloc(f->any, (f->nany + 1) * sizeof(*f->any));
	bv_copy(&f->any[f->nany++], s, len);
}

struct dec_state {
	size_t nodes;
	const char *err;
};

static int decode(struct ber_dec *d, int depth, struct dec_state *st,
		  struct filter **f_r);

static int decode_set(struct ber_dec *d, struct filter *f, int depth,
		      struct dec_state *st)
{
	ber_len_t end;
	struct filter *k;
	int more;

	if (ab_dec_open(d, f->tag, &end) < 0)
		return -1;
	while ((more = ab_dec_more(d, end)) == 1) {
		if (decode(d, depth + 1, st, &k) < 0)
			return -1;
		add_kid(f, k);
		if (f->tag == LDAP_FILTER_NOT)
			break;
	}
	if (more < 0 || ab_dec_close(d, end) < 0)
		return -1;
	/* NOT has exactly one operand; AND/OR may be empty (RFC 4526). */
	return (f->tag == LDAP_FILTER_NOT && f->nkids != 1) ? -1 : 0;
}

static int decode_ava(struct ber_dec *d, struct filter *f)
{
	struct berval a, v;
	ber_len_t end;

	if (ab_dec_open(d, f->tag, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &a) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &v) < 0 ||
	    ab_dec_close(d, end) < 0)
		return -1;
	set_attr(f, a.bv_val, a.bv_len);
	bv_copy(&f->value, v.bv_val, v.bv_len);
	return 0;
}

static int decode_substrings(struct ber_dec *d, struct filter *f)
{
	struct berval a, v;
	ber_len_t end, send;
	ber_tag_t t;
	int more, n = 0;

	if (ab_dec_open(d, f->tag, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &a) < 0 ||
	    ab_dec_open(d, LBER_SEQUENCE, &send) < 0)
		return -1;
	set_attr(f, a.bv_val, a.bv_len);
	while ((more = ab_dec_more(d, send)) == 1) {
		t = ab_dec_peek(d);
		if (ab_dec_string(d, t, &v) < 0)
			return -1;
		/* RFC 4511: initial first, final last, each at most once. */
		if (t == LDAP_SUBSTR_INITIAL && n == 0 && !f->initial.bv_val)
			bv_copy(&f->initial, v.bv_val, v.bv_len);
		else if (t == LDAP_SUBSTR_ANY && !f->final.bv_val)
			add_any(f, v.bv_val, v.bv_len);
		else if (t == LDAP_SUBSTR_FINAL && !f->final.bv_val)
			bv_copy(&f->final, v.bv_val, v.bv_len);
		else
			return -1;
		n++;
	}
	if (more < 0 || n == 0 || ab_dec_close(d, send) < 0 ||
	    ab_dec_close(d, end) < 0)
		return -1;
	return 0;
}

static int decode_ext(struct ber_dec *d, struct filter *f)
{
	struct berval v;
	ber_len_t end;

	if (ab_dec_open(d, f->tag, &end) < 0)
		return -1;
	if (ab_dec_peek(d) == LDAP_MRA_RULE) {
		if (ab_dec_string(d, LDAP_MRA_RULE, &v) < 0)
			return -1;
		f->rule = ab_bv_strdup(&v);
	}
	if (ab_dec_peek(d) == LDAP_MRA_TYPE) {
		if (ab_dec_string(d, LDAP_MRA_TYPE, &v) < 0)
			return -1;
		set_attr(f, v.bv_val, v.bv_len);
	}
	if (ab_dec_string(d, LDAP_MRA_VALUE, &v) < 0)
		return -1;
	bv_copy(&f->value, v.bv_val, v.bv_len);
	if (ab_dec_more(d, end) == 1 &&
	    ab_dec_bool(d, LDAP_MRA_DNATTRS, &f->dn_attrs) < 0)
		return -1;
	/* RFC 4511 §4.5.1.7.7: a rule or a type must be present. */
	if (ab_dec_close(d, end) < 0 || (f->rule == NULL && f->attr == NULL))
		return -1;
	return 0;
}

static int decode(struct ber_dec *d, int depth, struct dec_state *st,
		  struct filter **f_r)
{
	struct filter *f;
	struct berval v;
	int rc;

	if (depth > FILTER_MAX_DEPTH) {
		st->err = "filter nested too deeply";
		return -1;
	}
	if (++st->nodes > FILTER_MAX_NODES) {
		st->err = "filter has too many items";
		return -1;
	}
	f = xcalloc(1, sizeof(*f));
	f->tag = (unsigned)ab_dec_peek(d);
	switch (f->tag) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
	case LDAP_FILTER_NOT:
		rc = decode_set(d, f, depth, st);
		break;
	case LDAP_FILTER_EQUALITY:
	case LDAP_FILTER_GE:
	case LDAP_FILTER_LE:
	case LDAP_FILTER_APPROX:
		rc = decode_ava(d, f);
		break;
	case LDAP_FILTER_SUBSTRINGS:
		rc = decode_substrings(d, f);
		break;
	case LDAP_FILTER_PRESENT:
		rc = ab_dec_string(d, LDAP_FILTER_PRESENT, &v);
		if (rc == 0)
			set_attr(f, v.bv_val, v.bv_len);
		break;
	case LDAP_FILTER_EXT:
		rc = decode_ext(d, f);
		break;
	default:
		rc = -1;
		break;
	}
	if (rc < 0) {
		ab_filter_free(&f);
		return -1;
	}
	*f_r = f;
	return 0;
}

int ab_filter_decode(struct ber_dec *d, struct filter **f_r, const char **err_r)
{
	struct dec_state st = {0, NULL};

	if (decode(d, 0, &st, f_r) < 0) {
		*err_r = st.err ? st.err : "malformed filter";
		return -1;
	}
	ab_filter_prepare(*f_r);
	return 0;
}

/* --- RFC 4515 string form ------------------------------------------- */

struct parser {
	const char *p;
	size_t nodes;
	const char *err;
};

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Unescapes s[0..len) (RFC 4515 \XX) into out; -1 on a bad escape. */
static int unescape(const char *s, size_t len, struct berval *out)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			strbuf_addc(&sb, s[i]);
			continue;
		}
		if (i + 2 >= len || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0) {
			strbuf_free(&sb);
			return -1;
		}
		strbuf_addc(&sb, (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2])));
		i += 2;
	}
	out->bv_len = sb.len;
	out->bv_val = ab_sb_take(&sb, NULL);
	return 0;
}

static int parse_item(struct parser *ps, struct filter *f, const char *end)
{
	const char *s = ps->p, *op, *v, *star;
	struct berval piece;

	op = s;
	while (op < end && *op != '=' && *op != '~' && *op != '<' &&
	       *op != '>' && *op != ':')
		op++;
	if (op >= end || (op == s && *op != ':'))
		return -1;
	if (*op == ':') { /* extensible: attr:dn:rule:=value */
		const char *colon = op, *q;

		f->tag = LDAP_FILTER_EXT;
		if (op > s)
			set_attr(f, s, (size_t)(op - s));
		q = colon + 1;
		while (q < end && *q != '=') {
			const char *c2 = memchr(q, ':', (size_t)(end - q));

			if (c2 == NULL)
				return -1;
			if (c2 - q == 2 && strncasecmp(q, "dn", 2) == 0 &&
			    !f->dn_attrs && f->rule == NULL)
				f->dn_attrs = 1;
			else if (c2 > q && f->rule == NULL)
				f->rule = xstrndup(q, (size_t)(c2 - q));
			else
				return -1;
			q = c2 + 1;
		}
		if (q >= end || *q != '=')
			return -1;
		if (f->attr == NULL && f->rule == NULL)
			return -1;
		return unescape(q + 1, (size_t)(end - q - 1), &f->value);
	}
	set_attr(f, s, (size_t)(op - s));
	if (*op == '~' || *op == '<' || *op == '>') {
		if (op + 1 >= end || op[1] != '=')
			return -1;
		f->tag = *op == '~'   ? LDAP_FILTER_APPROX
			 : *op == '<' ? LDAP_FILTER_LE
				      : LDAP_FILTER_GE;
		return unescape(op + 2, (size_t)(end - op - 2), &f->value);
	}
	v = op + 1;
	if (end - v == 1 && *v == '*') {
		f->tag = LDAP_FILTER_PRESENT;
		return 0;
	}
	if (memchr(v, '*', (size_t)(end - v)) == NULL) {
		f->tag = LDAP_FILTER_EQUALITY;
		return unescape(v, (size_t)(end - v), &f->value);
	}
	f->tag = LDAP_FILTER_SUBSTRINGS;
	for (int first = 1;; first = 0) {
		star = memchr(v, '*', (size_t)(end - v));
		if (star == NULL)
			star = end;
		/* RFC 4515: initial and final are present when non-empty;
		 * every piece between two '*' is an "any", even an empty one
		 * ("(cn=**)"). */
		if (star > v || (!first && star != end)) {
			if (unescape(v, (size_t)(star - v), &piece) < 0)
				return -1;
			if (first)
				f->initial = piece;
			else if (star == end)
				f->final = piece;
			else {
				f->any = xrealloc(f->any, (f->nany + 1) *
							      sizeof(*f->any));
				f->any[f->nany++] = piece;
			}
		}
		if (star == end)
			break;
		v = star + 1;
	}
	return 0;
}

static int parse(struct parser *ps, int depth, struct filter **f_r)
{
	struct filter *f, *k;
	const char *close;

	if (depth > FILTER_MAX_DEPTH || ++ps->nodes > FILTER_MAX_NODES) {
		ps->err = "filter too large or nested too deeply";
		return -1;
	}
	if (*ps->p != '(')
		return -1;
	ps->p++;
	f = xcalloc(1, sizeof(*f));
	if (*ps->p == '&' || *ps->p == '|' || *ps->p == '!') {
		f->tag = *ps->p == '&'	 ? LDAP_FILTER_AND
			 : *ps->p == '|' ? LDAP_FILTER_OR
					 : LDAP_FILTER_NOT;
		ps->p++;
		while (*ps->p == '(') {
			if (parse(ps, depth + 1, &k) < 0)
				goto bad;
			add_kid(f, k);
		}
		if (*ps->p != ')' ||
		    (f->tag == LDAP_FILTER_NOT && f->nkids != 1))
			goto bad;
		ps->p++;
		*f_r = f;
		return 0;
	}
	/* An item runs to the next unescaped ')'. */
	for (close = ps->p; *close && *close != ')'; close++)
		if (*close == '(')
			goto bad;
	if (*close != ')' || parse_item(ps, f, close) < 0)
		goto bad;
	ps->p = close + 1;
	*f_r = f;
	return 0;
bad:
	ab_filter_free(&f);
	return -1;
}

int ab_filter_parse(const char *s, struct filter **f_r, const char **err_r)
{
	struct parser ps = {s, 0, NULL};

	while (*ps.p == ' ')
		ps.p++;
	if (parse(&ps, 0, f_r) < 0) {
		*err_r = ps.err ? ps.err : "bad filter syntax";
		return -1;
	}
	if (*ps.p != '\0') {
		ab_filter_free(f_r);
		*err_r = "trailing characters after filter";
		return -1;
	}
	ab_filter_prepare(*f_r);
	return 0;
}

/* --- printing ---------------------------------------------------------- */

static void print_value(struct strbuf *out, const struct berval *v)
{
	for (size_t i = 0; i < v->bv_len; i++) {
		unsigned char c = (unsigned char)v->bv_val[i];

		if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 ||
		    c == 0x7f)
			strbuf_printf(out, "\\%02x", c);
		else
			strbuf_addc(out, (char)c);
	}
}

void ab_filter_print(const struct filter *f, struct strbuf *out)
{
	strbuf_addc(out, '(');
	switch (f->tag) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
	case LDAP_FILTER_NOT:
		strbuf_addc(out, f->tag == LDAP_FILTER_AND  ? '&'
				 : f->tag == LDAP_FILTER_OR ? '|'
							    : '!');
		for (size_t i = 0; i < f->nkids; i++)
			ab_filter_print(f->kids[i], out);
		break;
	case LDAP_FILTER_PRESENT:
		strbuf_printf(out, "%s=*", f->attr);
		break;
	case LDAP_FILTER_SUBSTRINGS:
		strbuf_printf(out, "%s=", f->attr);
		if (f->initial.bv_val)
			print_value(out, &f->initial);
		strbuf_addc(out, '*');
		for (size_t i = 0; i < f->nany; i++) {
			print_value(out, &f->any[i]);
			strbuf_addc(out, '*');
		}
		if (f->final.bv_val)
			print_value(out, &f->final);
		break;
	case LDAP_FILTER_EXT:
		strbuf_printf(out, "%s%s%s%s:=", f->attr ? f->attr : "",
			      f->dn_attrs ? ":dn" : "", f->rule ? ":" : "",
			      f->rule ? f->rule : "");
		print_value(out, &f->value);
		break;
	default:
		strbuf_printf(out, "%s%s=", f->attr,
			      f->tag == LDAP_FILTER_GE	     ? ">"
			      : f->tag == LDAP_FILTER_LE     ? "<"
			      : f->tag == LDAP_FILTER_APPROX ? "~"
							     : "");
		print_value(out, &f->value);
		break;
	}
	strbuf_addc(out, ')');
}
