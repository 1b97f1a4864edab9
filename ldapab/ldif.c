/*
 * ldif.c - RFC 2849 reading (folded lines, base64 "::" values, comments,
 * "version:" and "changetype: add") and writing (base64 for values that
 * are not SAFE-STRINGs).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "entry.h"
#include "ldif.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"

static int b64_decode(const char *in, size_t n, struct strbuf *out)
{
	struct strbuf clean;
	unsigned char *buf;
	int len;

	strbuf_init(&clean);
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)in[i]))
			strbuf_addc(&clean, in[i]);
	if (clean.len % 4 != 0) {
		strbuf_free(&clean);
		return -1;
	}
	buf = xmalloc(clean.len / 4 * 3 + 1);
	len = EVP_DecodeBlock(buf, (unsigned char *)clean.data, (int)clean.len);
	if (len >= 0 && clean.len >= 1 && clean.data[clean.len - 1] == '=')
		len--;
	if (len >= 0 && clean.len >= 2 && clean.data[clean.len - 2] == '=')
		len--;
	if (len >= 0)
		strbuf_add(out, buf, (size_t)len);
	free(buf);
	strbuf_free(&clean);
	return len < 0 ? -1 : 0;
}

/* One logical line (continuations joined) starting at *pos. */
static int next_line(const char *t, size_t len, size_t *pos, size_t *lineno,
		     struct strbuf *line)
{
	strbuf_reset(line);
	if (*pos >= len)
		return 0;
	for (;;) {
		size_t start = *pos, end;

		while (*pos < len && t[*pos] != '\n')
			(*pos)++;
		end = *pos;
		if (end > start && t[end - 1] == '\r')
			end--;
		if (*pos < len)
			(*pos)++;
		(*lineno)++;
		strbuf_add(line, t + start, end - start);
		/* RFC 2849: a line starting with one space continues. */
		if (*pos < len && t[*pos] == ' ') {
			(*pos)++;
			continue;
		}
		return 1;
	}
}

struct record {
	struct entry *e;
	int skip;
};

static int parse_attr_line(const char *l, size_t n, struct record *r,
			   struct strbuf *val, char **name_r)
{
	const char *colon = memchr(l, ':', n);
	const char *v;
	size_t vl;

	*name_r = NULL;
	if (colon == NULL || colon == l)
		return -1;
	*name_r = xstrndup(l, (size_t)(colon - l));
	strbuf_reset(val);
	v = colon + 1;
	vl = n - (size_t)(v - l);
	(void)r;
	if (vl > 0 && *v == ':') {
		v++;
		vl--;
		while (vl > 0 && *v == ' ')
			v++, vl--;
		return b64_decode(v, vl, val);
	}
	if (vl > 0 && *v == '<') /* URL values are not fetched */
		return 1;
	while (vl > 0 && *v == ' ')
		v++, vl--;
	strbuf_add(val, v, vl);
	return 0;
}

int ab_ldif_parse(const char *text, size_t len,
		  int (*fn)(struct entry *e, void *arg), void *arg,
		  char **err_r)
{
	struct strbuf line, val;
	struct record r = {NULL, 0};
	size_t pos = 0, lineno = 0;
	int count = 0, rc;
	char *name = NULL;

	strbuf_init(&line);
	strbuf_init(&val);
	for (;;) {
		int more = next_line(text, len, &pos, &lineno, &line);

		if (!more || line.len == 0) { /* end of a record */
			if (r.e != NULL && !r.skip) {
				count++;
				if (fn(r.e, arg) != 0) {
					r.e = NULL;
					break;
				}
				r.e = NULL;
			}
			ab_entry_free(&r.e);
			r.skip = 0;
			if (!more)
				break;
			continue;
		}
		if (line.data[0] == '#')
			continue;
		rc = parse_attr_line(line.data, line.len, &r, &val, &name);
		if (rc < 0) {
			*err_r = ab_asprintf("line %zu: expected attr: value",
					     lineno);
			free(name);
			ab_entry_free(&r.e);
			count = -1;
			break;
		}
		if (r.e == NULL) {
			if (strcasecmp(name, "version") == 0) {
				free(name);
				continue;
			}
			if (strcasecmp(name, "dn") != 0) {
				*err_r =
				    ab_asprintf("line %zu: a record starts "
						"with dn:",
						lineno);
				free(name);
				count = -1;
				break;
			}
			r.e = ab_entry_new(val.data, "");
		} else if (strcasecmp(name, "changetype") == 0) {
			r.skip = strcasecmp(val.data, "add") != 0;
		} else if (rc == 0 && !r.skip) {
			ab_entry_add_value(r.e, ab_schema_attr_findz(name),
					   name, val.data, val.len);
		}
		free(name);
	}
	strbuf_free(&line);
	strbuf_free(&val);
	return count;
}

/* RFC 2849 SAFE-STRING: no NUL/LF/CR, not starting with space ':' '<',
 * not ending with space; we also base64 anything non-ASCII. */
static int safe_string(const char *v, size_t n)
{
	if (n == 0)
		return 1;
	if (v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == 0 || c == '\n' || c == '\r' || c >= 0x80)
			return 0;
	}
	return 1;
}

static void put_line(struct strbuf *out, const char *name, const char *v,
		     size_t n)
{
	struct strbuf line;
	size_t col;

	strbuf_init(&line);
	if (safe_string(v, n)) {
		strbuf_printf(&line, "%s: ", name);
		strbuf_add(&line, v, n);
	} else {
		char *b = xmalloc(4 * ((n + 2) / 3) + 1);

		EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)v,
				(int)n);
		strbuf_printf(&line, "%s:: %s", name, b);
		free(b);
	}
	/* Fold at 76 columns (RFC 2849 allows any; 76 is customary). */
	for (col = 0; col < line.len; col++) {
		if (col > 0 && col % 76 == 0)
			strbuf_adds(out, "\n ");
		strbuf_addc(out, line.data[col]);
	}
	strbuf_addc(out, '\n');
	strbuf_free(&line);
}

void ab_ldif_write(const struct entry *e, struct strbuf *out)
{
	put_line(out, "dn", e->dn, strlen(e->dn));
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct attr *a = &e->attrs[i];

		if (a->type != NULL &&
		    (a->type->flags & (AT_OPERATIONAL | AT_HIDDEN)))
			continue;
		for (size_t j = 0; j < a->nvals; j++)
			put_line(out, a->name, a->vals[j].bv_val,
				 a->vals[j].bv_len);
	}
	strbuf_addc(out, '\n');
}
