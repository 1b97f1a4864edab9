/*
 * schema.c - lookups, value preparation per matching rule, schema
 * checking and the RFC 4512 descriptions of the subschema entry.
 */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dn.h"
#include "entry.h"
#include "prep.h"
#include "proto.h"
#include "schema.h"
#include "schema_int.h"
#include "strbuf.h"

#define SYN_IA5 "1.3.6.1.4.1.1466.115.121.1.26"
#define SYN_UUID "1.3.6.1.1.16.1"
#define SYN_POSTAL "1.3.6.1.4.1.1466.115.121.1.41"

static int name_eq(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && strncasecmp(a, b, blen) == 0;
}

/* Every name and OID of every attribute, lower case, in an open
 * addressing hash table: lookups run for every attribute of every entry
 * read and sent. */
struct name_ref {
	char name[64];
	const struct schema_attr *a;
};

static struct name_ref *attr_names;
static size_t n_attr_names;
static const struct name_ref **name_slots;
static size_t slot_mask;

/* FNV-1a. */
static size_t name_hash(const char *s)
{
	size_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void lower_copy(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[len] = '\0';
}

static void attr_names_init(void)
{
	size_t n = 0;

	for (const struct schema_attr *a = ab_schema_attrs; a->oid; a++)
		n += 4;
	attr_names = xcalloc(n, sizeof(*attr_names));
	for (const struct schema_attr *a = ab_schema_attrs; a->oid; a++) {
		const char *names[4] = {a->oid, a->names[0], a->names[1],
					a->names[2]};

		for (int i = 0; i < 4 && names[i]; i++) {
			struct name_ref *r = &attr_names[n_attr_names++];

			lower_copy(r->name, names[i], strlen(names[i]));
			r->a = a;
		}
	}
	for (slot_mask = 1; slot_mask < 2 * n_attr_names; slot_mask <<= 1)
		;
	name_slots = xcalloc(slot_mask, sizeof(*name_slots));
	slot_mask--;
	for (size_t i = 0; i < n_attr_names; i++) {
		size_t h = name_hash(attr_names[i].name) & slot_mask;

		while (name_slots[h] != NULL &&
		       strcmp(name_slots[h]->name, attr_names[i].name) != 0)
			h = (h + 1) & slot_mask;
		if (name_slots[h] == NULL) /* the first holder of a name wins */
			name_slots[h] = &attr_names[i];
	}
}

const struct schema_attr *ab_schema_attr_find(const char *name, size_t len)
{
	const char *semi = memchr(name, ';', len);
	struct name_ref key;
	const struct name_ref *r;
	size_t h;

	/* Attribute options (";binary", ";lang-de") select the base type. */
	if (semi != NULL)
		len = (size_t)(semi - name);
	if (len == 0 || len >= sizeof(key.name) ||
	    memchr(name, '\0', len) != NULL)
		return NULL;
	if (attr_names == NULL)
		attr_names_init();
	lower_copy(key.name, name, len);
	h = name_hash(key.name) & slot_mask;
	while ((r = name_slots[h]) != NULL) {
		if (strcmp(r->name, key.name) == 0)
			return r->a;
		h = (h + 1) & slot_mask;
	}
	return NULL;
}

const struct schema_attr *ab_schema_attr_findz(const char *name)
{
	return ab_schema_attr_find(name, strlen(name));
}

const struct schema_class *ab_schema_class_find(const char *name, size_t len)
{
	for (const struct schema_class *c = ab_schema_classes; c->oid; c++)
		if (name_eq(c->name, name, len) || name_eq(c->oid, name, len))
			return c;
	return NULL;
}

const struct schema_attr *ab_schema_attr_at(size_t i)
{
	return ab_schema_attrs[i].oid ? &ab_schema_attrs[i] : NULL;
}

const struct schema_class *ab_schema_class_at(size_t i)
{
	return ab_schema_classes[i].oid ? &ab_schema_classes[i] : NULL;
}

const char *ab_schema_syntax_describe(size_t i)
{
	return ab_schema_syntaxes[i];
}

const char *ab_schema_rule_describe(size_t i)
{
	return ab_schema_rules[i];
}

static int syntax_is(const struct schema_attr *a, const char *oid)
{
	return strncmp(a->syntax, oid, strlen(oid)) == 0;
}

static int norm_int(const char *v, size_t len, struct strbuf *out)
{
	size_t i = 0;
	int neg = 0;

	if (len > 0 && (v[0] == '-' || v[0] == '+')) {
		neg = v[0] == '-';
		i++;
	}
	if (i == len)
		return -1;
	for (size_t j = i; j < len; j++)
		if (!isdigit((unsigned char)v[j]))
			return -1;
	while (i + 1 < len && v[i] == '0')
		i++;
	if (neg && !(len - i == 1 && v[i] == '0'))
		strbuf_addc(out, '-');
	strbuf_add(out, v + i, len - i);
	return 0;
}

static int norm_oid(const char *v, size_t len, struct strbuf *out)
{
	const struct schema_class *c;
	const struct schema_attr *a;

	/* Names and numeric OIDs of known classes/types compare equal. */
	if ((c = ab_schema_class_find(v, len)) != NULL) {
		v = c->name;
		len = strlen(v);
	} else if ((a = ab_schema_attr_find(v, len)) != NULL) {
		v = a->names[0];
		len = strlen(v);
	}
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '.')
			return -1;
		strbuf_addc(out, (char)tolower((unsigned char)v[i]));
	}
	return 0;
}

int ab_schema_normalize(const struct schema_attr *a, const char *v, size_t len,
			struct strbuf *out)
{
	char *n;

	switch (a->match) {
	case MATCH_CASE_IGNORE:
		return ab_prep_string(v, len, PREP_FOLD, out);
	case MATCH_CASE_EXACT:
		return ab_prep_string(v, len, 0, out);
	case MATCH_TEL:
		return ab_prep_string(v, len, PREP_TEL | PREP_FOLD, out);
	case MATCH_OID:
		return norm_oid(v, len, out);
	case MATCH_DN:
		if (ab_dn_normalize(v, len, &n) < 0)
			return -1;
		strbuf_adds(out, n);
		free(n);
		return 0;
	case MATCH_INT:
		return norm_int(v, len, out);
	case MATCH_BOOL:
		if (len == 4 && strncasecmp(v, "TRUE", 4) == 0)
			strbuf_adds(out, "TRUE");
		else if (len == 5 && strncasecmp(v, "FALSE", 5) == 0)
			strbuf_adds(out, "FALSE");
		else
			return -1;
		return 0;
	case MATCH_TIME:
		/* GeneralizedTime (RFC 4517 §3.3.13): digits first. */
		if (len < 10 || !isdigit((unsigned char)v[0]))
			return -1;
		for (size_t i = 0; i < len; i++)
			strbuf_addc(out, (char)toupper((unsigned char)v[i]));
		return 0;
	case MATCH_OCTET:
	case MATCH_NONE:
		strbuf_add(out, v, len);
		return 0;
	}
	return -1;
}

int ab_schema_order(const struct schema_attr *a, const char *x, size_t xl,
		    const char *y, size_t yl)
{
	int c;

	if (a != NULL && a->match == MATCH_INT) {
		int xn = xl > 0 && x[0] == '-', yn = yl > 0 && y[0] == '-';

		if (xn != yn)
			return xn ? -1 : 1;
		if (xl != yl)
			return (xl < yl) == !xn ? -1 : 1;
		c = memcmp(x, y, xl);
		return xn ? -c : c;
	}
	c = memcmp(x, y, xl < yl ? xl : yl);
	if (c != 0)
		return c;
	return xl < yl ? -1 : xl > yl;
}

int ab_schema_check_syntax(const struct schema_attr *a, const char *v,
			   size_t len)
{
	struct strbuf sb;
	int rc;

	if (a->flags & AT_BINARY)
		return 0;
	if (len == 0) /* RFC 4517: Directory String is non-empty. */
		return -1;
	if (!ab_prep_utf8_valid(v, len))
		return -1;
	if (syntax_is(a, SYN_IA5))
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)v[i] >= 0x80)
				return -1;
	strbuf_init(&sb);
	rc = ab_schema_normalize(a, v, len, &sb);
	strbuf_free(&sb);
	return rc;
}

/* Adds c and its superclasses to set (by pointer); returns the count. */
static size_t class_closure(const struct schema_class *c,
			    const struct schema_class **set, size_t n,
			    size_t max)
{
	while (c != NULL) {
		size_t i;

		for (i = 0; i < n; i++)
			if (set[i] == c)
				break;
		if (i == n && n < max)
			set[n++] = c;
		c = c->sup ? ab_schema_class_find(c->sup, strlen(c->sup))
			   : NULL;
	}
	return n;
}

static int in_list(const char *const *list, const struct schema_attr *t)
{
	for (; *list; list++)
		if (ab_schema_attr_findz(*list) == t)
			return 1;
	return 0;
}

void ab_schema_expand_classes(struct entry *e)
{
	const struct schema_class *set[64];
	struct attr *oc = ab_entry_attr_get(e, "objectClass");
	size_t n = 0;

	if (oc == NULL)
		return;
	for (size_t i = 0; i < oc->nvals; i++) {
		const struct schema_class *c = ab_schema_class_find(
		    oc->vals[i].bv_val, oc->vals[i].bv_len);

		if (c != NULL)
			n = class_closure(c, set, n, 64);
	}
	for (size_t i = 0; i < n; i++) {
		oc = ab_entry_attr_get(e, "objectClass");
		if (ab_attr_find_value(oc, set[i]->name, strlen(set[i]->name)) <
		    0)
			ab_entry_add_value(e, oc->type, NULL, set[i]->name,
					   strlen(set[i]->name));
	}
}

int ab_schema_check_entry(const struct entry *e, char *diag, size_t diag_size)
{
	const struct schema_class *set[64];
	struct attr *oc = ab_entry_attr_get(e, "objectClass");
	size_t n = 0, i, j;
	int structural = 0, extensible = 0;

	if (oc == NULL) {
		snprintf(diag, diag_size, "no objectClass attribute");
		return LDAP_R_OBJECT_CLASS_VIOLATION;
	}
	for (i = 0; i < oc->nvals; i++) {
		const struct schema_class *c = ab_schema_class_find(
		    oc->vals[i].bv_val, oc->vals[i].bv_len);

		if (c == NULL) {
			snprintf(diag, diag_size, "unknown objectClass '%.64s'",
				 oc->vals[i].bv_val);
			return LDAP_R_OBJECT_CLASS_VIOLATION;
		}
		n = class_closure(c, set, n, 64);
	}
	for (i = 0; i < n; i++) {
		structural |= set[i]->kind == OC_STRUCTURAL;
		extensible |= strcmp(set[i]->name, "extensibleObject") == 0;
	}
	if (!structural) {
		snprintf(diag, diag_size, "no structural objectClass");
		return LDAP_R_OBJECT_CLASS_VIOLATION;
	}
	for (i = 0; i < n; i++) {
		for (const char *const *m = set[i]->must; *m; m++) {
			if (ab_entry_attr(e, ab_schema_attr_findz(*m), *m) ==
			    NULL) {
				snprintf(diag, diag_size,
					 "objectClass '%s' requires attribute "
					 "'%s'",
					 set[i]->name, *m);
				return LDAP_R_OBJECT_CLASS_VIOLATION;
			}
		}
	}
	for (i = 0; i < e->nattrs; i++) {
		struct attr *a = &e->attrs[i];
		int allowed = extensible;

		if (a->type == NULL) {
			snprintf(diag, diag_size, "undefined attribute '%.64s'",
				 a->name);
			return LDAP_R_UNDEFINED_TYPE;
		}
		if (a->type->flags & AT_OPERATIONAL)
			allowed = 1;
		for (j = 0; j < n && !allowed; j++)
			allowed = in_list(set[j]->must, a->type) ||
				  in_list(set[j]->may, a->type);
		if (!allowed) {
			snprintf(diag, diag_size,
				 "attribute '%s' not allowed by the entry's "
				 "objectClasses",
				 a->name);
			return LDAP_R_OBJECT_CLASS_VIOLATION;
		}
		if ((a->type->flags & AT_SINGLE) && a->nvals > 1) {
			snprintf(diag, diag_size,
				 "attribute '%s' is single-valued", a->name);
			return LDAP_R_CONSTRAINT_VIOLATION;
		}
		for (j = 0; j < a->nvals; j++) {
			/* Indexed values are capped (index.h). */
			if ((a->type->flags & AT_INDEXED) &&
			    a->vals[j].bv_len > 1024) {
				snprintf(diag, diag_size,
					 "%s: values are limited to 1024 "
					 "bytes",
					 a->name);
				return LDAP_R_CONSTRAINT_VIOLATION;
			}
			if (ab_schema_check_syntax(a->type, a->vals[j].bv_val,
						   a->vals[j].bv_len) < 0) {
				snprintf(diag, diag_size,
					 "%s: value #%zu invalid per syntax",
					 a->name, j);
				return LDAP_R_INVALID_SYNTAX;
			}
		}
	}
	return 0;
}

static void rule_names(const struct schema_attr *a, const char **eq,
		       const char **ord, const char **sub)
{
	int ia5 = syntax_is(a, SYN_IA5), list = syntax_is(a, SYN_POSTAL);

	*eq = *ord = *sub = NULL;
	switch (a->match) {
	case MATCH_CASE_IGNORE:
		if (syntax_is(a, SYN_UUID)) {
			*eq = "uuidMatch";
			*ord = "uuidOrderingMatch";
			return;
		}
		*eq = ia5    ? "caseIgnoreIA5Match"
		      : list ? "caseIgnoreListMatch"
			     : "caseIgnoreMatch";
		*sub = ia5    ? "caseIgnoreIA5SubstringsMatch"
		       : list ? "caseIgnoreListSubstringsMatch"
			      : "caseIgnoreSubstringsMatch";
		break;
	case MATCH_CASE_EXACT:
		*eq = ia5 ? "caseExactIA5Match" : "caseExactMatch";
		break;
	case MATCH_TEL:
		*eq = "telephoneNumberMatch";
		*sub = "telephoneNumberSubstringsMatch";
		break;
	case MATCH_OID:
		*eq = "objectIdentifierMatch";
		break;
	case MATCH_DN:
		*eq = "distinguishedNameMatch";
		break;
	case MATCH_OCTET:
		*eq = "octetStringMatch";
		break;
	case MATCH_INT:
		*eq = "integerMatch";
		*ord = "integerOrderingMatch";
		break;
	case MATCH_TIME:
		*eq = "generalizedTimeMatch";
		*ord = "generalizedTimeOrderingMatch";
		break;
	case MATCH_BOOL:
		*eq = "booleanMatch";
		break;
	case MATCH_NONE:
		break;
	}
	if (!a->substr)
		*sub = NULL;
}

void ab_schema_attr_describe(const struct schema_attr *a, struct strbuf *out)
{
	const char *eq, *ord, *sub;
	int nnames = 0;

	while (nnames < 3 && a->names[nnames])
		nnames++;
	strbuf_printf(out, "( %s NAME ", a->oid);
	if (nnames == 1) {
		strbuf_printf(out, "'%s' ", a->names[0]);
	} else {
		strbuf_adds(out, "( ");
		for (int i = 0; i < nnames; i++)
			strbuf_printf(out, "'%s' ", a->names[i]);
		strbuf_adds(out, ") ");
	}
	if (a->desc)
		strbuf_printf(out, "DESC '%s' ", a->desc);
	if (a->sup)
		strbuf_printf(out, "SUP %s ", a->sup);
	rule_names(a, &eq, &ord, &sub);
	if (eq)
		strbuf_printf(out, "EQUALITY %s ", eq);
	if (ord)
		strbuf_printf(out, "ORDERING %s ", ord);
	if (sub)
		strbuf_printf(out, "SUBSTR %s ", sub);
	strbuf_printf(out, "SYNTAX %s ", a->syntax);
	if (a->flags & AT_SINGLE)
		strbuf_adds(out, "SINGLE-VALUE ");
	if (a->flags & AT_NO_USER_MOD)
		strbuf_adds(out, "NO-USER-MODIFICATION ");
	if (a->flags & AT_OPERATIONAL)
		strbuf_adds(out, "USAGE directoryOperation ");
	strbuf_adds(out, ")");
}

static void describe_list(struct strbuf *out, const char *kw,
			  const char *const *list)
{
	size_t n = 0;

	while (list[n])
		n++;
	if (n == 0)
		return;
	if (n == 1) {
		strbuf_printf(out, "%s %s ", kw, list[0]);
		return;
	}
	strbuf_printf(out, "%s ( ", kw);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(out, "%s%s ", i ? "$ " : "", list[i]);
	strbuf_adds(out, ") ");
}

void ab_schema_class_describe(const struct schema_class *c, struct strbuf *out)
{
	static const char *const kinds[] = {"ABSTRACT", "STRUCTURAL",
					    "AUXILIARY"};

	strbuf_printf(out, "( %s NAME '%s' ", c->oid, c->name);
	if (c->sup)
		strbuf_printf(out, "SUP %s ", c->sup);
	strbuf_printf(out, "%s ", kinds[c->kind]);
	describe_list(out, "MUST", c->must);
	describe_list(out, "MAY", c->may);
	strbuf_adds(out, ")");
}
