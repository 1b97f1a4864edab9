/*
 * vcard.c - the vCard properties address book clients exchange: FN, N,
 * NICKNAME, EMAIL, TEL, ADR, ORG, TITLE, NOTE, URL.  Folded lines,
 * "item1." groups (Apple), TYPE parameters in 2.1/3.0/4.0 spellings and
 * the \n \, \; \\ escapes are understood; other properties are dropped.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entry.h"
#include "schema.h"
#include "strbuf.h"
#include "util.h"
#include "vcard.h"

static void add(struct entry *e, const char *name, const char *v, size_t n)
{
	if (n == 0)
		return;
	ab_entry_add_value(e, ab_schema_attr_findz(name), name, v, n);
}

static int has_value(const struct entry *e, const char *name)
{
	return ab_entry_attr_get(e, name) != NULL;
}

/* Splits a structured value at unescaped ';' and unescapes each part. */
static size_t split(const char *v, size_t n, struct strbuf *parts, size_t max,
		    char sep)
{
	size_t k = 0;

	strbuf_reset(&parts[0]);
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n) {
			i++;
			strbuf_addc(&parts[k],
				    v[i] == 'n' || v[i] == 'N' ? '\n' : v[i]);
		} else if (v[i] == sep && k + 1 < max) {
			strbuf_reset(&parts[++k]);
		} else {
			strbuf_addc(&parts[k], v[i]);
		}
	}
	return k + 1;
}

static int param_has(const char *params, const char *word)
{
	/* TYPE=WORK,VOICE / TYPE=work / 2.1's bare ;WORK */
	size_t wl = strlen(word);

	for (const char *p = params; (p = strcasestr(p, word)) != NULL;
	     p += wl) {
		char before = p == params ? ';' : p[-1];
		char after = p[wl];

		if ((before == ';' || before == '=' || before == ',' ||
		     before == '"') &&
		    (after == '\0' || after == ';' || after == ',' ||
		     after == '"' || after == ':'))
			return 1;
	}
	return 0;
}

static void prop_tel(struct entry *e, const char *params, const char *v)
{
	const char *attr = "telephoneNumber";

	if (strncasecmp(v, "tel:", 4) == 0)
		v += 4;
	if (param_has(params, "fax"))
		attr = "facsimileTelephoneNumber";
	else if (param_has(params, "cell"))
		attr = "mobile";
	else if (param_has(params, "pager"))
		attr = "pager";
	else if (param_has(params, "home"))
		attr = "homePhone";
	add(e, attr, v, strlen(v));
}

static void prop_adr(struct entry *e, const char *params, const char *v)
{
	struct strbuf p[7];
	int home = param_has(params, "home");
	size_t n;

	for (int i = 0; i < 7; i++)
		strbuf_init(&p[i]);
	/* ADR: pobox;ext;street;locality;region;code;country */
	n = split(v, strlen(v), p, 7, ';');
	if (n >= 3) {
		add(e, home ? "mozillaHomeStreet" : "street", p[2].data,
		    p[2].len);
		if (n >= 4)
			add(e, home ? "mozillaHomeLocalityName" : "l",
			    p[3].data, p[3].len);
		if (n >= 5)
			add(e, home ? "mozillaHomeState" : "st", p[4].data,
			    p[4].len);
		if (n >= 6)
			add(e, home ? "mozillaHomePostalCode" : "postalCode",
			    p[5].data, p[5].len);
		if (n >= 7 &&
		    !(home ? has_value(e, "mozillaHomeCountryName") : 0))
			add(e, home ? "mozillaHomeCountryName" : "co",
			    p[6].data, p[6].len);
	}
	for (int i = 0; i < 7; i++)
		strbuf_free(&p[i]);
}

static void property(struct entry *e, char *name, char *params, char *v)
{
	struct strbuf p[5];
	size_t n;

	for (int i = 0; i < 5; i++)
		strbuf_init(&p[i]);
	n = split(v, strlen(v), p, 1, '\0'); /* unescape only */
	(void)n;
	if (strcasecmp(name, "FN") == 0) {
		add(e, "cn", p[0].data, p[0].len);
	} else if (strcasecmp(name, "N") == 0) {
		n = split(v, strlen(v), p, 5, ';');
		add(e, "sn", p[0].data, p[0].len);
		if (n > 1)
			add(e, "givenName", p[1].data, p[1].len);
	} else if (strcasecmp(name, "NICKNAME") == 0) {
		add(e, "mozillaNickname", p[0].data, p[0].len);
	} else if (strcasecmp(name, "EMAIL") == 0) {
		add(e, has_value(e, "mail") ? "mozillaSecondEmail" : "mail",
		    p[0].data, p[0].len);
	} else if (strcasecmp(name, "TEL") == 0) {
		prop_tel(e, params, p[0].data);
	} else if (strcasecmp(name, "ADR") == 0) {
		prop_adr(e, params, v);
	} else if (strcasecmp(name, "ORG") == 0) {
		n = split(v, strlen(v), p, 2, ';');
		add(e, "o", p[0].data, p[0].len);
		if (n > 1)
			add(e, "ou", p[1].data, p[1].len);
	} else if (strcasecmp(name, "TITLE") == 0) {
		add(e, "title", p[0].data, p[0].len);
	} else if (strcasecmp(name, "NOTE") == 0) {
		add(e, "description", p[0].data, p[0].len);
	} else if (strcasecmp(name, "URL") == 0) {
		add(e,
		    param_has(params, "home") ? "mozillaHomeUrl"
					      : "mozillaWorkUrl",
		    p[0].data, p[0].len);
	}
	for (int i = 0; i < 5; i++)
		strbuf_free(&p[i]);
}

static struct entry *new_card(void)
{
	struct entry *e = ab_entry_new("", "");

	add(e, "objectClass", "top", 3);
	add(e, "objectClass", "person", 6);
	add(e, "objectClass", "organizationalPerson", 20);
	add(e, "objectClass", "inetOrgPerson", 13);
	add(e, "objectClass", "mozillaAbPersonAlpha", 20);
	return e;
}

static void finish_card(struct entry *e)
{
	struct attr *a;

	/* person requires cn and sn. */
	if (!has_value(e, "cn")) {
		a = ab_entry_attr_get(e, "mail");
		if (a == NULL)
			a = ab_entry_attr_get(e, "sn");
		add(e, "cn", a ? a->vals[0].bv_val : "Unnamed",
		    a ? a->vals[0].bv_len : 7);
	}
	if (!has_value(e, "sn")) {
		a = ab_entry_attr_get(e, "cn");
		add(e, "sn", a->vals[0].bv_val, a->vals[0].bv_len);
	}
}

int ab_vcard_parse(const char *text, size_t len,
		   int (*fn)(struct entry *e, void *arg), void *arg,
		   char **err_r)
{
	struct strbuf line;
	struct entry *e = NULL;
	size_t pos = 0, lineno = 0;
	int count = 0;

	strbuf_init(&line);
	while (pos < len) {
		char *colon, *name, *params, *dot;

		strbuf_reset(&line);
		for (;;) { /* unfold: CRLF followed by space or tab */
			size_t start = pos, end;

			while (pos < len && text[pos] != '\n')
				pos++;
			end = pos;
			if (end > start && text[end - 1] == '\r')
				end--;
			if (pos < len)
				pos++;
			lineno++;
			strbuf_add(&line, text + start, end - start);
			if (pos < len &&
			    (text[pos] == ' ' || text[pos] == '\t'))
				pos++;
			else
				break;
		}
		if (line.len == 0)
			continue;
		colon = strchr(line.data, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		name = line.data;
		params = strchr(name, ';');
		if (params != NULL)
			*params++ = '\0';
		else
			params = "";
		if ((dot = strchr(name, '.')) != NULL) /* "item1.EMAIL" */
			name = dot + 1;
		if (strcasecmp(name, "BEGIN") == 0 &&
		    strcasecmp(colon + 1, "VCARD") == 0) {
			ab_entry_free(&e);
			e = new_card();
		} else if (strcasecmp(name, "END") == 0 && e != NULL) {
			finish_card(e);
			count++;
			if (fn(e, arg) != 0) {
				e = NULL;
				break;
			}
			e = NULL;
		} else if (e != NULL) {
			property(e, name, params, colon + 1);
		}
	}
	if (e != NULL && count == 0) {
		*err_r = ab_asprintf("line %zu: BEGIN:VCARD without END:VCARD",
				     lineno);
		count = -1;
	}
	ab_entry_free(&e);
	strbuf_free(&line);
	return count;
}

static void put_escaped(struct strbuf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\n')
			strbuf_adds(out, "\\n");
		else if (*v == ',' || *v == ';' || *v == '\\') {
			strbuf_addc(out, '\\');
			strbuf_addc(out, *v);
		} else if (*v != '\r')
			strbuf_addc(out, *v);
	}
}

static const char *first(const struct entry *e, const char *name)
{
	struct attr *a = ab_entry_attr_get(e, name);

	return a ? a->vals[0].bv_val : "";
}

static void put_prop(struct strbuf *out, const char *prop, const char *v)
{
	if (*v == '\0')
		return;
	strbuf_printf(out, "%s:", prop);
	put_escaped(out, v);
	strbuf_adds(out, "\r\n");
}

static void put_all(struct strbuf *out, const struct entry *e, const char *attr,
		    const char *prop)
{
	struct attr *a = ab_entry_attr_get(e, attr);

	for (size_t i = 0; a && i < a->nvals; i++)
		put_prop(out, prop, a->vals[i].bv_val);
}

void ab_vcard_write(const struct entry *e, int version, struct strbuf *out)
{
	int v4 = version == 4;

	strbuf_printf(out, "BEGIN:VCARD\r\nVERSION:%s\r\n", v4 ? "4.0" : "3.0");
	put_prop(out, "FN", first(e, "cn"));
	strbuf_adds(out, "N:");
	put_escaped(out, first(e, "sn"));
	strbuf_addc(out, ';');
	put_escaped(out, first(e, "givenName"));
	strbuf_adds(out, ";;;\r\n");
	put_all(out, e, "mozillaNickname", "NICKNAME");
	put_all(out, e, "mail", v4 ? "EMAIL;TYPE=work" : "EMAIL;TYPE=INTERNET");
	put_all(out, e, "mozillaSecondEmail",
		v4 ? "EMAIL;TYPE=home" : "EMAIL;TYPE=INTERNET,HOME");
	put_all(out, e, "telephoneNumber",
		v4 ? "TEL;TYPE=work" : "TEL;TYPE=WORK");
	put_all(out, e, "homePhone", v4 ? "TEL;TYPE=home" : "TEL;TYPE=HOME");
	put_all(out, e, "mobile", v4 ? "TEL;TYPE=cell" : "TEL;TYPE=CELL");
	put_all(out, e, "facsimileTelephoneNumber",
		v4 ? "TEL;TYPE=fax" : "TEL;TYPE=FAX");
	put_all(out, e, "pager", v4 ? "TEL;TYPE=pager" : "TEL;TYPE=PAGER");
	if (*first(e, "o") || *first(e, "ou")) {
		strbuf_adds(out, "ORG:");
		put_escaped(out, first(e, "o"));
		if (*first(e, "ou")) {
			strbuf_addc(out, ';');
			put_escaped(out, first(e, "ou"));
		}
		strbuf_adds(out, "\r\n");
	}
	put_all(out, e, "title", "TITLE");
	if (*first(e, "street") || *first(e, "l") || *first(e, "postalCode")) {
		strbuf_adds(out, v4 ? "ADR;TYPE=work:;;" : "ADR;TYPE=WORK:;;");
		put_escaped(out, first(e, "street"));
		strbuf_addc(out, ';');
		put_escaped(out, first(e, "l"));
		strbuf_addc(out, ';');
		put_escaped(out, first(e, "st"));
		strbuf_addc(out, ';');
		put_escaped(out, first(e, "postalCode"));
		strbuf_addc(out, ';');
		put_escaped(out, first(e, "co"));
		strbuf_adds(out, "\r\n");
	}
	put_all(out, e, "description", "NOTE");
	put_all(out, e, "mozillaWorkUrl", "URL");
	strbuf_adds(out, "END:VCARD\r\n");
}
