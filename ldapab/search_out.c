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

/*
 * SearchResultEntry (RFC 4511 §4.5.2) encoded here rather than through
 * ber_printf(): it is most of a search's output, and its shape is fixed.
 * Lengths are definite and minimal (RFC 4511 §5.1).
 */
static size_t len_size(size_t n)
{
	size_t k = 1;

	if (n < 0x80)
		return 1;
	for (; n > 0; n >>= 8)
		k++;
	return k;
}

static size_t tlv_size(size_t n)
{
	return 1 + len_size(n) + n;
}

static void put_hdr(struct strbuf *out, unsigned char tag, size_t n)
{
	unsigned char b[16];
	size_t k = 0, l = len_size(n) - 1;

	b[k++] = tag;
	if (l == 0) {
		b[k++] = (unsigned char)n;
	} else {
		b[k++] = (unsigned char)(0x80 | l);
		for (size_t i = l; i > 0; i--)
			b[k++] = (unsigned char)(n >> (8 * (i - 1)));
	}
	strbuf_add(out, b, k);
}

static void put_octets(struct strbuf *out, const char *p, size_t n)
{
	put_hdr(out, 0x04, n);
	strbuf_add(out, p, n);
}

/* PartialAttribute ::= SEQUENCE { type, vals SET OF value } */
static void put_attr(struct strbuf *out, const char *name,
		     const struct berval *vals, size_t n, int types_only)
{
	size_t nl = strlen(name), vl = 0;

	if (!types_only)
		for (size_t i = 0; i < n; i++)
			vl += tlv_size(vals[i].bv_len);
	put_hdr(out, 0x30, tlv_size(nl) + tlv_size(vl));
	put_octets(out, name, nl);
	put_hdr(out, 0x31, vl);
	if (!types_only)
		for (size_t i = 0; i < n; i++)
			put_octets(out, vals[i].bv_val, vals[i].bv_len);
}

static void put_virtual(struct strbuf *out, const struct attr_sel *sel,
			const struct schema_attr *t, const char *value,
			int types_only)
{
	struct berval v;

	/* Cheap when nothing operational was asked for (the usual case). */
	if ((!sel->all_op && sel->n == 0) || t == NULL)
		return;
	if (!ab_attr_sel_wants(sel, t, t->names[0]))
		return;
	v.bv_val = (char *)value;
	v.bv_len = strlen(value);
	put_attr(out, t->names[0], &v, 1, types_only);
}

/* Content octets of a non-negative INTEGER (minimal two's complement). */
static size_t int_len(unsigned long v)
{
	size_t n = 1;

	while (n < 8 && (v >> (8 * n - 1)) != 0)
		n++;
	return n;
}

/* messageID (0 .. 2^31 - 1, RFC 4511 §4.1.1.1). */
static void put_msgid(struct strbuf *out, ber_int_t id)
{
	unsigned long v = id < 0 ? 0 : (unsigned long)id;
	unsigned char b[8];
	size_t n = int_len(v);

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	put_hdr(out, 0x02, n);
	strbuf_add(out, b, n);
}

void ab_search_send_entry(struct ldap_session *s, const struct ldap_req *r,
			  struct entry *e, const struct attr_sel *sel,
			  int types_only)
{
	struct strbuf body, out;
	size_t dl = strlen(e->dn), op, idl;
	int is_special =
	    e->ndn[0] == '\0' || strcasecmp(e->ndn, "cn=subschema") == 0;

	strbuf_init(&body);
	for (size_t i = 0; i < e->nattrs; i++) {
		struct attr *a = &e->attrs[i];

		if (ab_attr_sel_wants(sel, a->type, a->name))
			put_attr(&body, a->name, a->vals, a->nvals, types_only);
	}
	if (!is_special) {
		/* Virtual operational attributes (RFC 4512 §3.4, RFC 5020). */
		static const struct schema_attr *vt[3];

		if (vt[0] == NULL) {
			vt[0] = ab_schema_attr_findz("entryDN");
			vt[1] = ab_schema_attr_findz("subschemaSubentry");
			vt[2] = ab_schema_attr_findz("hasSubordinates");
		}
		put_virtual(&body, sel, vt[0], e->dn, types_only);
		put_virtual(&body, sel, vt[1], SUBSCHEMA_DN, types_only);
		put_virtual(&body, sel, vt[2],
			    strncasecmp(e->ndn, "ou=", 3) == 0 ||
				    strncasecmp(e->ndn, "dc=", 3) == 0
				? "TRUE"
				: "FALSE",
			    types_only);
	}
	idl = tlv_size(int_len(r->msgid < 0 ? 0 : (unsigned long)r->msgid));
	op = tlv_size(dl) + tlv_size(body.len);
	strbuf_init(&out);
	strbuf_reserve(&out, 16 + idl + tlv_size(op));
	put_hdr(&out, 0x30, idl + tlv_size(op));
	put_msgid(&out, (ber_int_t)r->msgid);
	put_hdr(&out, LDAP_TAG_SEARCH_ENTRY, op);
	put_octets(&out, e->dn, dl);
	put_hdr(&out, 0x30, body.len);
	strbuf_add(&out, body.data, body.len);
	s->io.send(s->io.ctx, out.data, out.len);
	strbuf_free(&out);
	strbuf_free(&body);
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
