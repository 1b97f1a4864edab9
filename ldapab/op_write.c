/*
 * op_write.c - Add (RFC 4511 §4.7), Modify (§4.6), Delete (§4.8) and
 * ModifyDN (§4.9), all confined to the books the identity may write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "acl.h"
#include "ber.h"
#include "dn.h"
#include "entry.h"
#include "log.h"
#include "proto.h"
#include "schema.h"
#include "session.h"
#include "strbuf.h"
#include "util.h"

struct target {
	struct dn *dn;
	char *key;
	char *parent_key;
	char diag[256];
};

static void target_clear(struct target *t)
{
	ab_dn_free(&t->dn);
	free(t->key);
	free(t->parent_key);
}

/*
 * Resolves a write's DN and checks the caller may write there: it must
 * name an entry inside a book (not the book itself) that the identity
 * may write.  Returns 0 or an LDAP result code.
 */
static int write_target(struct ldap_session *s, const struct berval *dnv,
			struct target *t)
{
	char book[256];
	enum ab_acl_place place;

	memset(t, 0, sizeof(*t));
	if (!s->bound) {
		snprintf(t->diag, sizeof(t->diag), "bind first");
		return LDAP_R_INSUFFICIENT_ACCESS;
	}
	if (ab_dn_parse(dnv->bv_val, dnv->bv_len, &t->dn) < 0 ||
	    t->dn->n == 0) {
		snprintf(t->diag, sizeof(t->diag), "invalid DN");
		return LDAP_R_INVALID_DN_SYNTAX;
	}
	t->key = ab_dn_key(t->dn, 0);
	t->parent_key = ab_dn_key(t->dn, 1);
	place = ab_acl_place(s->ab, t->key, book, sizeof(book));
	if (place == PLACE_OUTSIDE) {
		snprintf(t->diag, sizeof(t->diag),
			 "not inside an address book");
		return LDAP_R_NO_SUCH_OBJECT;
	}
	if (ab_acl_key_right(s->ab, ab_session_who(s), t->key) != ACL_WRITE) {
		/* Do not reveal books the caller cannot read. */
		if (ab_acl_key_right(s->ab, ab_session_who(s), t->key) ==
		    ACL_NONE)
			return LDAP_R_NO_SUCH_OBJECT;
		snprintf(t->diag, sizeof(t->diag), "read-only address book");
		return LDAP_R_INSUFFICIENT_ACCESS;
	}
	if (place != PLACE_IN_BOOK) {
		snprintf(t->diag, sizeof(t->diag),
			 "books themselves are managed with rookery ab");
		return LDAP_R_UNWILLING;
	}
	return 0;
}

static void gen_time(char *out, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, n, "%Y%m%d%H%M%SZ", &tm);
}

static void gen_uuid(char *out, size_t n)
{
	unsigned char u[16];

	if (RAND_bytes(u, sizeof(u)) != 1)
		fatalx("event=rng_failure");
	u[6] = (u[6] & 0x0f) | 0x40; /* RFC 4122 version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, n,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void stamp(struct ldap_session *s, struct entry *e, int create)
{
	char now[32], uuid[40];
	char *who = ab_session_authz_dn(s);

	gen_time(now, sizeof(now));
	if (create) {
		gen_uuid(uuid, sizeof(uuid));
		ab_entry_set_value(e, ab_schema_attr_findz("entryUUID"), NULL,
				   uuid);
		ab_entry_set_value(e, ab_schema_attr_findz("createTimestamp"),
				   NULL, now);
		ab_entry_set_value(e, ab_schema_attr_findz("creatorsName"),
				   NULL, who);
	}
	ab_entry_set_value(e, ab_schema_attr_findz("modifyTimestamp"), NULL,
			   now);
	ab_entry_set_value(e, ab_schema_attr_findz("modifiersName"), NULL, who);
	free(who);
}

/* Adds the RDN's values to e when missing (RFC 4511 §4.7 leaves it to
 * the server; clients such as ldapadd with hand-made LDIF forget them). */
static int add_rdn_values(struct entry *e, const struct dn *dn, size_t i,
			  char *diag, size_t n)
{
	for (size_t j = 0; j < dn->rdn[i].n; j++) {
		const struct dn_ava *a = &dn->rdn[i].ava[j];
		struct attr *at;

		if (a->at == NULL) {
			snprintf(diag, n, "undefined attribute '%s' in RDN",
				 a->type);
			return LDAP_R_UNDEFINED_TYPE;
		}
		at = ab_entry_attr(e, a->at, NULL);
		if (at == NULL ||
		    ab_attr_find_value(at, a->value, a->value_len) < 0)
			ab_entry_add_value(e, a->at, NULL, a->value,
					   a->value_len);
	}
	return 0;
}

static int decode_attr_values(struct ber_dec *d, struct entry *e, int *code,
			      char *diag, size_t n)
{
	struct berval type, v;
	ber_len_t aend, vend;
	const struct schema_attr *at;
	int more;

	if (ab_dec_open(d, LBER_SEQUENCE, &aend) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &type) < 0 ||
	    ab_dec_open(d, LBER_SET, &vend) < 0)
		return -1;
	at = ab_schema_attr_find(type.bv_val, type.bv_len);
	while ((more = ab_dec_more(d, vend)) == 1) {
		struct attr *a;

		if (ab_dec_string(d, LBER_OCTETSTRING, &v) < 0)
			return -1;
		if (*code)
			continue;
		if (at == NULL) {
			*code = LDAP_R_UNDEFINED_TYPE;
			snprintf(diag, n, "undefined attribute type '%.*s'",
				 (int)(type.bv_len > 64 ? 64 : type.bv_len),
				 type.bv_val);
			continue;
		}
		if (at->flags & AT_NO_USER_MOD) {
			*code = LDAP_R_CONSTRAINT_VIOLATION;
			snprintf(diag, n, "%s: no user modification allowed",
				 at->names[0]);
			continue;
		}
		a = ab_entry_attr(e, at, NULL);
		if (a != NULL &&
		    ab_attr_find_value(a, v.bv_val, v.bv_len) >= 0) {
			*code = LDAP_R_TYPE_OR_VALUE_EXISTS;
			snprintf(diag, n, "%s: duplicate value", at->names[0]);
			continue;
		}
		ab_entry_add_value(e, at, NULL, v.bv_val, v.bv_len);
	}
	if (more < 0 || ab_dec_close(d, vend) < 0 || ab_dec_close(d, aend) < 0)
		return -1;
	return 0;
}

void ab_op_add(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	struct berval dnv;
	ber_len_t end, lend;
	struct target t;
	struct entry *e = NULL;
	char diag[256] = "";
	int more, code = 0, tcode;
	char *dnstr;

	if (ab_dec_open(d, LDAP_TAG_ADD_REQ, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &dnv) < 0 ||
	    ab_dec_open(d, LBER_SEQUENCE, &lend) < 0) {
		ab_session_protocol_error(s, "malformed AddRequest");
		return;
	}
	dnstr = ab_bv_strdup(&dnv);
	e = ab_entry_new(dnstr, "");
	free(dnstr);
	while ((more = ab_dec_more(d, lend)) == 1)
		if (decode_attr_values(d, e, &code, diag, sizeof(diag)) < 0)
			break;
	if (more != 0 || ab_dec_close(d, lend) < 0 ||
	    ab_dec_close(d, end) < 0) {
		ab_entry_free(&e);
		ab_session_protocol_error(s, "malformed AddRequest");
		return;
	}
	tcode = write_target(s, &dnv, &t);
	if (tcode != 0) {
		code = tcode;
		snprintf(diag, sizeof(diag), "%s", t.diag);
		goto out;
	}
	if (code != 0)
		goto out;
	ab_entry_set_dn(e, NULL, ab_dn_norm(t.dn, 0));
	if ((code = add_rdn_values(e, t.dn, 0, diag, sizeof(diag))) != 0)
		goto out;
	ab_schema_expand_classes(e);
	if ((code = ab_schema_check_entry(e, diag, sizeof(diag))) != 0)
		goto out;
	stamp(s, e, 1);
	code = ab_store_add(s->ab->store, t.key, t.parent_key, e);
	if (code == LDAP_R_NO_SUCH_OBJECT)
		snprintf(diag, sizeof(diag), "parent entry does not exist");
out:
	ab_resp_result(s, r, LDAP_TAG_ADD_RES, code, "", diag, NULL);
	ab_entry_free(&e);
	target_clear(&t);
}

/* Whether value v of type at is part of the entry's RDN. */
static int in_rdn(const struct dn *dn, const struct schema_attr *at,
		  struct attr *a, size_t vi)
{
	for (size_t j = 0; j < dn->rdn[0].n; j++) {
		const struct dn_ava *ava = &dn->rdn[0].ava[j];

		if (ava->at == at &&
		    (a == NULL ||
		     ab_attr_find_value(a, ava->value, ava->value_len) ==
			 (int)vi))
			return 1;
	}
	return 0;
}

static int apply_mod(struct entry *e, const struct dn *dn, ber_int_t op,
		     const struct schema_attr *at, const struct berval *vals,
		     size_t n, char *diag, size_t dn_)
{
	struct attr *a = ab_entry_attr(e, at, NULL);
	int i;

	if (at->flags & AT_NO_USER_MOD) {
		snprintf(diag, dn_, "%s: no user modification allowed",
			 at->names[0]);
		return LDAP_R_CONSTRAINT_VIOLATION;
	}
	switch (op) {
	case LDAP_MOD_ADD_:
		for (size_t k = 0; k < n; k++) {
			a = ab_entry_attr(e, at, NULL);
			if (a && ab_attr_find_value(a, vals[k].bv_val,
						    vals[k].bv_len) >= 0) {
				snprintf(diag, dn_, "%s: value exists",
					 at->names[0]);
				return LDAP_R_TYPE_OR_VALUE_EXISTS;
			}
			ab_entry_add_value(e, at, NULL, vals[k].bv_val,
					   vals[k].bv_len);
		}
		return n ? 0 : LDAP_R_PROTOCOL_ERROR;
	case LDAP_MOD_DELETE_:
		if (a == NULL) {
			snprintf(diag, dn_, "%s: no such attribute",
				 at->names[0]);
			return LDAP_R_NO_SUCH_ATTRIBUTE;
		}
		if (n == 0) {
			if (in_rdn(dn, at, NULL, 0))
				return LDAP_R_NOT_ALLOWED_ON_RDN;
			ab_entry_remove_attr(e, a);
			return 0;
		}
		for (size_t k = 0; k < n; k++) {
			a = ab_entry_attr(e, at, NULL);
			i = a ? ab_attr_find_value(a, vals[k].bv_val,
						   vals[k].bv_len)
			      : -1;
			if (i < 0) {
				snprintf(diag, dn_, "%s: no such value",
					 at->names[0]);
				return LDAP_R_NO_SUCH_ATTRIBUTE;
			}
			if (in_rdn(dn, at, a, (size_t)i))
				return LDAP_R_NOT_ALLOWED_ON_RDN;
			ab_entry_remove_value(e, a, (size_t)i);
		}
		return 0;
	case LDAP_MOD_REPLACE_:
		if (a != NULL)
			ab_entry_remove_attr(e, a);
		for (size_t k = 0; k < n; k++) {
			a = ab_entry_attr(e, at, NULL);
			if (a && ab_attr_find_value(a, vals[k].bv_val,
						    vals[k].bv_len) >= 0)
				continue;
			ab_entry_add_value(e, at, NULL, vals[k].bv_val,
					   vals[k].bv_len);
		}
		/* The RDN's value must survive a replace. */
		for (size_t j = 0; j < dn->rdn[0].n; j++) {
			const struct dn_ava *ava = &dn->rdn[0].ava[j];

			if (ava->at != at)
				continue;
			a = ab_entry_attr(e, at, NULL);
			if (a == NULL || ab_attr_find_value(a, ava->value,
							    ava->value_len) < 0)
				return LDAP_R_NOT_ALLOWED_ON_RDN;
		}
		return 0;
	}
	snprintf(diag, dn_, "unsupported modify operation %d", (int)op);
	return LDAP_R_UNWILLING;
}

#define MAX_MOD_VALUES 1024

void ab_op_modify(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	struct berval dnv, type, vals[64], *vp = vals;
	ber_len_t end, lend, cend, aend, vend;
	struct target t;
	struct entry *e = NULL;
	char diag[256] = "";
	int code, more, rc;

	if (ab_dec_open(d, LDAP_TAG_MODIFY_REQ, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &dnv) < 0 ||
	    ab_dec_open(d, LBER_SEQUENCE, &lend) < 0) {
		ab_session_protocol_error(s, "malformed ModifyRequest");
		return;
	}
	code = write_target(s, &dnv, &t);
	if (code != 0)
		snprintf(diag, sizeof(diag), "%s", t.diag);
	if (code == 0) {
		rc = ab_store_get(s->ab->store, t.key, &e);
		if (rc <= 0)
			code = rc < 0 ? LDAP_R_OTHER : LDAP_R_NO_SUCH_OBJECT;
	}
	vp = xcalloc(MAX_MOD_VALUES, sizeof(*vp));
	while ((more = ab_dec_more(d, lend)) == 1) {
		ber_int_t op;
		size_t n = 0;
		const struct schema_attr *at;

		if (ab_dec_open(d, LBER_SEQUENCE, &cend) < 0 ||
		    ab_dec_int(d, LBER_ENUMERATED, &op) < 0 ||
		    ab_dec_open(d, LBER_SEQUENCE, &aend) < 0 ||
		    ab_dec_string(d, LBER_OCTETSTRING, &type) < 0 ||
		    ab_dec_open(d, LBER_SET, &vend) < 0)
			goto malformed;
		while ((rc = ab_dec_more(d, vend)) == 1) {
			if (n == MAX_MOD_VALUES ||
			    ab_dec_string(d, LBER_OCTETSTRING, &vp[n++]) < 0)
				goto malformed;
		}
		if (rc < 0 || ab_dec_close(d, vend) < 0 ||
		    ab_dec_close(d, aend) < 0 || ab_dec_close(d, cend) < 0)
			goto malformed;
		if (code != 0)
			continue;
		at = ab_schema_attr_find(type.bv_val, type.bv_len);
		if (at == NULL) {
			code = LDAP_R_UNDEFINED_TYPE;
			snprintf(diag, sizeof(diag),
				 "undefined attribute type '%.*s'",
				 (int)(type.bv_len > 64 ? 64 : type.bv_len),
				 type.bv_val);
			continue;
		}
		code = apply_mod(e, t.dn, op, at, vp, n, diag, sizeof(diag));
	}
	if (more < 0 || ab_dec_close(d, lend) < 0 || ab_dec_close(d, end) < 0)
		goto malformed;
	if (code == 0) {
		ab_schema_expand_classes(e);
		code = ab_schema_check_entry(e, diag, sizeof(diag));
	}
	if (code == 0) {
		stamp(s, e, 0);
		code = ab_store_replace(s->ab->store, t.key, e);
	}
	ab_resp_result(s, r, LDAP_TAG_MODIFY_RES, code, "", diag, NULL);
	goto out;
malformed:
	ab_session_protocol_error(s, "malformed ModifyRequest");
out:
	(void)vals;
	free(vp);
	ab_entry_free(&e);
	target_clear(&t);
}

void ab_op_delete(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	struct berval dnv;
	struct target t;
	int code;

	if (ab_dec_string(d, LDAP_TAG_DEL_REQ, &dnv) < 0) {
		ab_session_protocol_error(s, "malformed DelRequest");
		return;
	}
	code = write_target(s, &dnv, &t);
	if (code == 0)
		code = ab_store_delete(s->ab->store, t.key);
	ab_resp_result(s, r, LDAP_TAG_DEL_RES, code, "", t.diag, NULL);
	target_clear(&t);
}

/* The DN string of the parent as the entry's creator wrote it. */
static char *parent_dn_string(const char *dn)
{
	for (const char *p = dn; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == ',' || *p == ';')
			return xstrdup(p + 1 + (p[1] == ' '));
	}
	return xstrdup("");
}

void ab_op_moddn(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	struct berval dnv, newrdn, sup = {0, NULL};
	struct target t, nt;
	struct entry *e = NULL;
	struct dn *rdn = NULL;
	ber_len_t end;
	int delold, code, rc, has_sup = 0;
	char diag[256] = "";
	char *parent = NULL, *newdn = NULL, *rdns = NULL;

	memset(&nt, 0, sizeof(nt));
	if (ab_dec_open(d, LDAP_TAG_MODDN_REQ, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &dnv) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &newrdn) < 0 ||
	    ab_dec_bool(d, LBER_BOOLEAN, &delold) < 0) {
		ab_session_protocol_error(s, "malformed ModifyDNRequest");
		return;
	}
	if (ab_dec_more(d, end) == 1) {
		if (ab_dec_string(d, LDAP_TAG_NEW_SUPERIOR, &sup) < 0) {
			ab_session_protocol_error(s,
						  "malformed ModifyDNRequest");
			return;
		}
		has_sup = 1;
	}
	if (ab_dec_close(d, end) < 0) {
		ab_session_protocol_error(s, "malformed ModifyDNRequest");
		return;
	}
	code = write_target(s, &dnv, &t);
	if (code != 0) {
		snprintf(diag, sizeof(diag), "%s", t.diag);
		goto out;
	}
	if (ab_dn_parse(newrdn.bv_val, newrdn.bv_len, &rdn) < 0 ||
	    rdn->n != 1) {
		code = LDAP_R_INVALID_DN_SYNTAX;
		snprintf(diag, sizeof(diag), "invalid new RDN");
		goto out;
	}
	rc = ab_store_get(s->ab->store, t.key, &e);
	if (rc <= 0) {
		code = rc < 0 ? LDAP_R_OTHER : LDAP_R_NO_SUCH_OBJECT;
		goto out;
	}
	if (ab_store_has_children(s->ab->store, t.key) != 0) {
		code = LDAP_R_NOT_ALLOWED_ON_NONLEAF;
		goto out;
	}
	parent = has_sup ? ab_bv_strdup(&sup) : parent_dn_string(e->dn);
	rdns = xstrndup(newrdn.bv_val, newrdn.bv_len);
	newdn = parent[0] ? ab_asprintf("%s,%s", rdns, parent) : xstrdup(rdns);
	{
		struct berval nb = {strlen(newdn), newdn};

		code = write_target(s, &nb, &nt);
	}
	if (code != 0) {
		snprintf(diag, sizeof(diag), "new location: %.200s", nt.diag);
		goto out;
	}
	if (has_sup) {
		/* Moves stay inside one book (one key range). */
		char b1[256], b2[256];

		ab_acl_place(s->ab, t.key, b1, sizeof(b1));
		ab_acl_place(s->ab, nt.key, b2, sizeof(b2));
		if (strcmp(b1, b2) != 0) {
			code = LDAP_R_AFFECTS_MULTIPLE_DSAS;
			snprintf(diag, sizeof(diag),
				 "entries cannot move between books");
			goto out;
		}
		struct entry *pe = NULL;

		rc = ab_store_get(s->ab->store, nt.parent_key, &pe);
		ab_entry_free(&pe);
		if (rc == 0) {
			code = LDAP_R_NO_SUCH_OBJECT;
			snprintf(diag, sizeof(diag), "new superior not found");
			goto out;
		}
	}
	if (delold) {
		for (size_t j = 0; j < t.dn->rdn[0].n; j++) {
			const struct dn_ava *ava = &t.dn->rdn[0].ava[j];
			struct attr *a =
			    ava->at ? ab_entry_attr(e, ava->at, NULL) : NULL;
			int i = a ? ab_attr_find_value(a, ava->value,
						       ava->value_len)
				  : -1;

			if (i >= 0)
				ab_entry_remove_value(e, a, (size_t)i);
		}
	}
	if ((code = add_rdn_values(e, nt.dn, 0, diag, sizeof(diag))) != 0)
		goto out;
	ab_entry_set_dn(e, xstrdup(newdn), ab_dn_norm(nt.dn, 0));
	if ((code = ab_schema_check_entry(e, diag, sizeof(diag))) != 0)
		goto out;
	stamp(s, e, 0);
	code = strcmp(t.key, nt.key) == 0
		   ? ab_store_replace(s->ab->store, t.key, e)
		   : ab_store_rename(s->ab->store, t.key, nt.key, e);
out:
	ab_resp_result(s, r, LDAP_TAG_MODDN_RES, code, "", diag, NULL);
	free(parent);
	free(newdn);
	free(rdns);
	ab_dn_free(&rdn);
	ab_entry_free(&e);
	target_clear(&t);
	target_clear(&nt);
}
