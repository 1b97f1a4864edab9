/*
 * dn.c - DN parsing (RFC 4514 §3, with the spaces around separators that
 * LDAPv2 clients still send) and normalization.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dn.h"
#include "prep.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"

static void ava_free(struct dn_ava *a)
{
	free(a->type);
	free(a->value);
}

void ab_dn_free(struct dn **dnp)
{
	struct dn *dn = *dnp;

	if (dn == NULL)
		return;
	for (size_t i = 0; i < dn->n; i++) {
		for (size_t j = 0; j < dn->rdn[i].n; j++)
			ava_free(&dn->rdn[i].ava[j]);
		free(dn->rdn[i].ava);
	}
	free(dn->rdn);
	free(dn);
	*dnp = NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads an attribute type at s[*i]; returns it allocated or NULL. */
static char *parse_type(const char *s, size_t len, size_t *i)
{
	size_t start;

	while (*i < len && s[*i] == ' ')
		(*i)++;
	start = *i;
	if (*i >= len)
		return NULL;
	if (isalpha((unsigned char)s[*i])) {
		while (*i < len &&
		       (isalnum((unsigned char)s[*i]) || s[*i] == '-'))
			(*i)++;
	} else if (isdigit((unsigned char)s[*i])) {
		while (*i < len &&
		       (isdigit((unsigned char)s[*i]) || s[*i] == '.'))
			(*i)++;
	} else {
		return NULL;
	}
	if (*i == start)
		return NULL;
	return xstrndup(s + start, *i - start);
}

/* Reads a value at s[*i] up to an unescaped ',', ';' or '+'. */
static int parse_value(const char *s, size_t len, size_t *i, struct strbuf *v)
{
	size_t keep = 0; /* length up to the last significant char */
	int hi, lo;

	while (*i < len && s[*i] == ' ')
		(*i)++;
	if (*i < len && s[*i] == '"') { /* RFC 2253 quoted value */
		(*i)++;
		while (*i < len && s[*i] != '"') {
			if (s[*i] == '\\' && *i + 1 < len)
				(*i)++;
			strbuf_addc(v, s[(*i)++]);
		}
		if (*i >= len)
			return -1;
		(*i)++;
		while (*i < len && s[*i] == ' ')
			(*i)++;
		return 0;
	}
	while (*i < len && s[*i] != ',' && s[*i] != ';' && s[*i] != '+') {
		if (s[*i] == '\\') {
			if (*i + 1 >= len)
				return -1;
			if (*i + 2 < len + 0 &&
			    (hi = hexval((unsigned char)s[*i + 1])) >= 0 &&
			    (lo = hexval((unsigned char)s[*i + 2])) >= 0) {
				strbuf_addc(v, (char)(hi << 4 | lo));
				*i += 3;
			} else {
				strbuf_addc(v, s[*i + 1]);
				*i += 2;
			}
			keep = v->len;
			continue;
		}
		if (s[*i] == '\0')
			return -1;
		strbuf_addc(v, s[*i]);
		if (s[*i] != ' ')
			keep = v->len;
		(*i)++;
	}
	strbuf_truncate(v, keep); /* trailing unescaped spaces */
	return 0;
}

int ab_dn_parse(const char *s, size_t len, struct dn **dn_r)
{
	struct dn *dn = xcalloc(1, sizeof(*dn));
	struct strbuf v;
	size_t i = 0;

	strbuf_init(&v);
	if (len > DN_MAX_LEN)
		goto bad;
	while (i < len && s[i] == ' ')
		i++;
	if (i == len) {
		strbuf_free(&v);
		*dn_r = dn;
		return 0;
	}
	for (;;) {
		struct dn_rdn *r;
		struct dn_ava *a;
		char *type;

		if (dn->n == 0 || s[i - 1] != '+') {
			if (dn->n >= DN_MAX_RDNS)
				goto bad;
			dn->rdn =
			    xrealloc(dn->rdn, (dn->n + 1) * sizeof(*dn->rdn));
			memset(&dn->rdn[dn->n], 0, sizeof(*dn->rdn));
			dn->n++;
		}
		r = &dn->rdn[dn->n - 1];
		if ((type = parse_type(s, len, &i)) == NULL)
			goto bad;
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len || s[i] != '=') {
			free(type);
			goto bad;
		}
		i++;
		strbuf_reset(&v);
		if (parse_value(s, len, &i, &v) < 0 || r->n >= 8) {
			free(type);
			goto bad;
		}
		r->ava = xrealloc(r->ava, (r->n + 1) * sizeof(*r->ava));
		a = &r->ava[r->n++];
		a->type = type;
		a->at = ab_schema_attr_findz(type);
		a->value_len = v.len;
		a->value = xstrndup(v.data, v.len);
		if (memchr(v.data, '\0', v.len) != NULL)
			goto bad;
		if (i == len)
			break;
		i++; /* the separator */
		if (i == len)
			goto bad;
	}
	strbuf_free(&v);
	*dn_r = dn;
	return 0;
bad:
	strbuf_free(&v);
	ab_dn_free(&dn);
	return -1;
}

void ab_dn_escape_value(struct strbuf *out, const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f) {
			strbuf_printf(out, "\\%02x", c);
			continue;
		}
		if (strchr(",+\"\\<>;=", c) != NULL ||
		    (i == 0 && (c == '#' || c == ' ')) ||
		    (i == len - 1 && c == ' '))
			strbuf_addc(out, '\\');
		strbuf_addc(out, (char)c);
	}
}

static void ava_norm(const struct dn_ava *a, struct strbuf *out)
{
	struct strbuf v;
	const char *t;
	int rc;

	t = a->at ? a->at->names[0] : a->type;
	for (; *t; t++)
		strbuf_addc(out, (char)tolower((unsigned char)*t));
	strbuf_addc(out, '=');
	strbuf_init(&v);
	if (a->at != NULL)
		rc = ab_schema_normalize(a->at, a->value, a->value_len, &v);
	else
		rc = ab_prep_string(a->value, a->value_len, PREP_FOLD, &v);
	if (rc < 0) { /* not valid for the syntax: compare as given */
		strbuf_reset(&v);
		strbuf_add(&v, a->value, a->value_len);
	}
	ab_dn_escape_value(out, v.data, v.len);
	strbuf_free(&v);
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void rdn_norm(const struct dn_rdn *r, struct strbuf *out)
{
	char *parts[8];
	struct strbuf sb;

	if (r->n == 1) {
		ava_norm(&r->ava[0], out);
		return;
	}
	/* Multi-valued RDN: the AVAs in a canonical (sorted) order. */
	for (size_t j = 0; j < r->n; j++) {
		strbuf_init(&sb);
		ava_norm(&r->ava[j], &sb);
		parts[j] = ab_sb_take(&sb, NULL);
	}
	qsort(parts, r->n, sizeof(parts[0]), cmp_str);
	for (size_t j = 0; j < r->n; j++) {
		if (j)
			strbuf_addc(out, '+');
		strbuf_adds(out, parts[j]);
		free(parts[j]);
	}
}

char *ab_dn_norm(const struct dn *dn, size_t from)
{
	struct strbuf out;

	strbuf_init(&out);
	for (size_t i = from; i < dn->n; i++) {
		if (i > from)
			strbuf_addc(&out, ',');
		rdn_norm(&dn->rdn[i], &out);
	}
	return ab_sb_take(&out, NULL);
}

char *ab_dn_key(const struct dn *dn, size_t from)
{
	struct strbuf out;

	strbuf_init(&out);
	for (size_t i = dn->n; i > from; i--) {
		if (i < dn->n)
			strbuf_addc(&out, DN_KEY_SEP);
		rdn_norm(&dn->rdn[i - 1], &out);
	}
	return ab_sb_take(&out, NULL);
}

char *ab_dn_rdn_norm(const struct dn *dn, size_t i)
{
	struct strbuf out;

	strbuf_init(&out);
	rdn_norm(&dn->rdn[i], &out);
	return ab_sb_take(&out, NULL);
}

int ab_dn_normalize(const char *s, size_t len, char **ndn_r)
{
	struct dn *dn;

	if (ab_dn_parse(s, len, &dn) < 0)
		return -1;
	*ndn_r = ab_dn_norm(dn, 0);
	ab_dn_free(&dn);
	return 0;
}

int ab_dn_to_key(const char *s, size_t len, char **key_r)
{
	struct dn *dn;

	if (ab_dn_parse(s, len, &dn) < 0)
		return -1;
	*key_r = ab_dn_key(dn, 0);
	ab_dn_free(&dn);
	return 0;
}
