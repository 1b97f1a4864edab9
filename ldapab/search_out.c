/*
 * search_out.c - SearchResultEntry output with attribute selection, and
 * the two entries that are not stored: the root DSE (RFC 4512 §5.1) and
 * the subschema entry (RFC 4512 §4.2).
 */
#include <string.h>
#include <strings.h>

#include "ber.h"
#include "entry.h"
#include "proto.h"
#include "schema.h"
#include "search.h"
#include "session.h"
#include "strbuf.h"

#ifndef ROOKERY_VERSION
#define ROOKERY_VERSION "0.1"
#endif

void ab_attr_sel_init(struct attr_sel *sel, const struct berval *names,
		      size_t n)
{
	memset(sel, 0, sizeof(*sel));
	sel->names = names;
	sel->n = n;
	sel->all_user = n == 0;
	if (sel->n > 128)
		sel->n = 128;
	for (size_t i = 0; i < sel->n; i++) {
		sel->types[i] =
		    ab_schema_attr_find(names[i].bv_val, names[i].bv_len);
		if (ab_bv_eq(&names[i], "*"))
			sel->all_user = 1;
		else if (ab_bv_eq(&names[i], "+"))
			sel->all_op = 1;
	}
}

int ab_attr_sel_wants(const struct attr_sel *sel, const struct schema_attr *t,
		      const char *name)
{
	int op = t != NULL && (t->flags & AT_OPERATIONAL);

	if (t != NULL && (t->flags & AT_HIDDEN))
		return 0;
	if (op ? sel->all_op : sel->all_user)
		return 1;
	for (size_t i = 0; i < sel->n; i++) {
		const struct berval *b = &sel->names[i];

		if (t != NULL ? sel->types[i] == t : ab_bv_eq_ci(b, name))
			return 1;
	}
	return 0;
}

static void put_attr(BerElement *ber, const char *name,
		     const struct berval *vals, size_t n, int types_only)
{
	ab_enc_printf(ber, "{s[", name);
	if (!types_only)
		for (size_t i = 0; i < n; i++)
			ab_enc_printf(ber, "O", &vals[i]);
	ab_enc_printf(ber, "]}");
}

static void put_virtual(BerElement *ber, const struct attr_sel *sel,
			const char *name, const char *value, int types_only)
{
	struct berval v;

	/* Cheap when nothing operational was asked for (the usual case). */
	if (!sel->all_op && sel->n == 0)
		return;
	if (!ab_attr_sel_wants(sel, ab_schema_attr_findz(name), name))
		return;
	v.bv_val = (char *)value;
	v.bv_len = strlen(value);
	put_attr(ber, name, &v, 1, types_only);
}

void ab_search_send_entry(struct ldap_session *s, const struct ldap_req *r,
			  struct entry *e, const struct attr_sel *sel,
			  int types_only)
{
	BerElement *ber = ab_enc_new();
	int is_special =
	    e->ndn[0] == '\0' || strcasecmp(e->ndn, "cn=subschema") == 0;

	ab_enc_printf(ber, "{it{s{", (ber_int_t)r->msgid,
		      (ber_tag_t)LDAP_TAG_SEARCH_ENTRY, e->dn);
	for (size_t i = 0; i < e->nattrs; i++) {
		struct attr *a = &e->attrs[i];

		if (ab_attr_sel_wants(sel, a->type, a->name))
			put_attr(ber, a->name, a->vals, a->nvals, types_only);
	}
	if (!is_special) {
		/* Virtual operational attributes (RFC 4512 §3.4, RFC 5020). */
		put_virtual(ber, sel, "entryDN", e->dn, types_only);
		put_virtual(ber, sel, "subschemaSubentry", SUBSCHEMA_DN,
			    types_only);
		put_virtual(ber, sel, "hasSubordinates",
			    strncasecmp(e->ndn, "ou=", 3) == 0 ||
				    strncasecmp(e->ndn, "dc=", 3) == 0
				? "TRUE"
				: "FALSE",
			    types_only);
	}
	ab_enc_printf(ber, "}}}");
	ab_resp_send(s, &ber);
}

static void add(struct entry *e, const char *name, const char *v)
{
	ab_entry_add_value(e, ab_schema_attr_findz(name), name, v, strlen(v));
}

struct entry *ab_rootdse_entry(const struct ldapab *ab, int tls_offered)
{
	struct entry *e = ab_entry_new("", "");

	add(e, "objectClass", "top");
	add(e, "namingContexts", ab->suffix);
	add(e, "supportedLDAPVersion", "3");
	add(e, "supportedControl", OID_PAGED_RESULTS);
	add(e, "supportedControl", OID_SORT_REQUEST);
	add(e, "supportedControl", OID_VLV_REQUEST);
	add(e, "supportedControl", OID_MANAGE_DSAIT);
	if (tls_offered)
		add(e, "supportedExtension", OID_STARTTLS);
	add(e, "supportedExtension", OID_WHOAMI);
	add(e, "supportedExtension", OID_PASSWD_MODIFY);
	/* RFC 3673 "+", RFC 4526 absolute filters, RFC 4529 "@class" no */
	add(e, "supportedFeatures", "1.3.6.1.4.1.4203.1.5.1");
	add(e, "supportedFeatures", "1.3.6.1.4.1.4203.1.5.3");
	add(e, "subschemaSubentry", SUBSCHEMA_DN);
	add(e, "vendorName", "Rookery");
	add(e, "vendorVersion", "rookery-ldapab " ROOKERY_VERSION);
	return e;
}

struct entry *ab_subschema_entry(void)
{
	struct entry *e = ab_entry_new(SUBSCHEMA_DN, "cn=subschema");
	const struct schema_attr *a;
	const struct schema_class *c;
	const char *d;
	struct strbuf sb;

	add(e, "objectClass", "top");
	add(e, "objectClass", "subschema");
	add(e, "cn", "Subschema");
	strbuf_init(&sb);
	for (size_t i = 0; (a = ab_schema_attr_at(i)) != NULL; i++) {
		strbuf_reset(&sb);
		ab_schema_attr_describe(a, &sb);
		add(e, "attributeTypes", sb.data);
	}
	for (size_t i = 0; (c = ab_schema_class_at(i)) != NULL; i++) {
		strbuf_reset(&sb);
		ab_schema_class_describe(c, &sb);
		add(e, "objectClasses", sb.data);
	}
	for (size_t i = 0; (d = ab_schema_syntax_describe(i)) != NULL; i++)
		add(e, "ldapSyntaxes", d);
	for (size_t i = 0; (d = ab_schema_rule_describe(i)) != NULL; i++)
		add(e, "matchingRules", d);
	strbuf_free(&sb);
	return e;
}
