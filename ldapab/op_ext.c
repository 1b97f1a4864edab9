/*
 * op_ext.c - Compare (RFC 4511 §4.10) and the extended operations, keyed
 * by OID: StartTLS (§4.14), Who am I? (RFC 4532), Password Modify
 * (RFC 3062).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "acl.h"
#include "auth.h"
#include "ber.h"
#include "dn.h"
#include "entry.h"
#include "log.h"
#include "proto.h"
#include "schema.h"
#include "session.h"
#include "strbuf.h"
#include "util.h"

void ab_op_compare(struct ldap_session *s, struct ldap_req *r,
		   struct ber_dec *d)
{
	struct berval dnv, type, value;
	ber_len_t end, aend;
	const struct schema_attr *at;
	struct entry *e = NULL;
	struct attr *a;
	char *key = NULL;
	int rc, code;

	if (ab_dec_open(d, LDAP_TAG_COMPARE_REQ, &end) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &dnv) < 0 ||
	    ab_dec_open(d, LBER_SEQUENCE, &aend) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &type) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &value) < 0 ||
	    ab_dec_close(d, aend) < 0 || ab_dec_close(d, end) < 0) {
		ab_session_protocol_error(s, "malformed CompareRequest");
		return;
	}
	if (ab_dn_to_key(dnv.bv_val, dnv.bv_len, &key) < 0) {
		code = LDAP_R_INVALID_DN_SYNTAX;
		goto out;
	}
	rc = ab_store_get(s->ab->store, key, &e);
	if (rc < 0) {
		code = LDAP_R_OTHER;
		goto out;
	}
	if (rc == 0 ||
	    ab_acl_key_right(s->ab, ab_session_who(s), key) == ACL_NONE) {
		code = LDAP_R_NO_SUCH_OBJECT;
		goto out;
	}
	at = ab_schema_attr_find(type.bv_val, type.bv_len);
	if (at == NULL) {
		code = LDAP_R_UNDEFINED_TYPE;
		goto out;
	}
	if ((at->flags & AT_HIDDEN) ||
	    (a = ab_entry_attr(e, at, NULL)) == NULL) {
		code = LDAP_R_NO_SUCH_ATTRIBUTE;
		goto out;
	}
	rc = ab_attr_find_value(a, value.bv_val, value.bv_len);
	code = rc == -2	 ? LDAP_R_INVALID_SYNTAX
	       : rc >= 0 ? LDAP_R_COMPARE_TRUE
			 : LDAP_R_COMPARE_FALSE;
out:
	ab_resp_result(s, r, LDAP_TAG_COMPARE_RES, code, "", "", NULL);
	ab_entry_free(&e);
	free(key);
}

static void ext_result(struct ldap_session *s, struct ldap_req *r, int code,
		       const char *diag, const char *name,
		       const struct berval *value)
{
	struct resp_extra x = {name, value, NULL, 0};

	ab_resp_result(s, r, LDAP_TAG_EXTENDED_RES, code, "", diag, &x);
}

static void ext_starttls(struct ldap_session *s, struct ldap_req *r,
			 const struct berval *v)
{
	(void)v;
	if (s->io.is_tls(s->io.ctx)) {
		ext_result(s, r, LDAP_R_OPERATIONS_ERROR, "TLS already active",
			   OID_STARTTLS, NULL);
		return;
	}
	if (!s->ab->tls_available || s->io.starttls == NULL) {
		ext_result(s, r, LDAP_R_UNAVAILABLE, "TLS is not configured",
			   OID_STARTTLS, NULL);
		return;
	}
	ext_result(s, r, LDAP_R_SUCCESS, "", OID_STARTTLS, NULL);
	if (s->io.starttls(s->io.ctx) < 0) {
		s->closing = 1;
		s->io.close(s->io.ctx);
	}
}

static void ext_whoami(struct ldap_session *s, struct ldap_req *r,
		       const struct berval *v)
{
	char *dn = ab_session_authz_dn(s), *authz;
	struct berval bv;

	(void)v;
	/* RFC 4532 §2: "dn:<DN>" or empty for anonymous. */
	authz = dn[0] ? ab_asprintf("dn:%s", dn) : xstrdup("");
	bv.bv_val = authz;
	bv.bv_len = strlen(authz);
	ext_result(s, r, LDAP_R_SUCCESS, "", NULL, &bv);
	free(authz);
	free(dn);
}

static void gen_password(char *out, size_t n)
{
	static const char set[] = "abcdefghijkmnpqrstuvwxyz"
				  "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[64];

	if (RAND_bytes(rnd, (int)n) != 1)
		fatalx("event=rng_failure");
	for (size_t i = 0; i < n; i++)
		out[i] = set[rnd[i] % (sizeof(set) - 1)];
	out[n] = '\0';
}

/* PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0] OPTIONAL,
 * oldPasswd [1] OPTIONAL, newPasswd [2] OPTIONAL } */
static void ext_passwd(struct ldap_session *s, struct ldap_req *r,
		       const struct berval *v)
{
	struct berval user = {0, NULL}, oldpw = {0, NULL}, newpw = {0, NULL};
	struct principal p;
	struct ber_dec d;
	ber_len_t end;
	char name[256], gen[17], hash[256];
	struct berval genv;
	int bad = 0;

	if (v != NULL && v->bv_len > 0) {
		ab_dec_init(&d, v->bv_val, v->bv_len);
		bad = ab_dec_open(&d, LBER_SEQUENCE, &end) < 0;
		if (!bad && ab_dec_peek(&d) == 0x80)
			bad = ab_dec_string(&d, 0x80, &user) < 0;
		if (!bad && ab_dec_peek(&d) == 0x81)
			bad = ab_dec_string(&d, 0x81, &oldpw) < 0;
		if (!bad && ab_dec_peek(&d) == 0x82)
			bad = ab_dec_string(&d, 0x82, &newpw) < 0;
		if (!bad)
			bad = ab_dec_close(&d, end) < 0;
		ab_dec_free(&d);
	}
	if (bad) {
		ext_result(s, r, LDAP_R_PROTOCOL_ERROR,
			   "malformed PasswdModifyRequestValue", NULL, NULL);
		return;
	}
	if (!s->bound) {
		ext_result(s, r, LDAP_R_UNWILLING,
			   "bind first to change a password", NULL, NULL);
		return;
	}
	/* Users change their own password only. */
	if (user.bv_len > 0 &&
	    (ab_auth_bind_name(user.bv_val, user.bv_len, s->ab->suffix_ndn,
			       name, sizeof(name)) < 0 ||
	     strcmp(name, s->who.name) != 0)) {
		ext_result(s, r, LDAP_R_INSUFFICIENT_ACCESS,
			   "may only change one's own password", NULL, NULL);
		return;
	}
	if (oldpw.bv_len > 0 &&
	    !ab_auth_check_password(s->who.pwhash, oldpw.bv_val,
				    oldpw.bv_len)) {
		ext_result(s, r, LDAP_R_INVALID_CREDENTIALS,
			   "old password does not match", NULL, NULL);
		return;
	}
	if (newpw.bv_len == 0) {
		gen_password(gen, 16);
		newpw.bv_val = gen;
		newpw.bv_len = 16;
	}
	if (ab_store_principal_get(s->ab->store, s->who.name, &p) != 1 ||
	    ab_auth_hash_password(newpw.bv_val, newpw.bv_len, hash,
				  sizeof(hash)) < 0) {
		ext_result(s, r, LDAP_R_OTHER, "cannot store the password",
			   NULL, NULL);
		return;
	}
	snprintf(p.pwhash, sizeof(p.pwhash), "%s", hash);
	if (ab_store_principal_put(s->ab->store, &p) < 0) {
		ext_result(s, r, LDAP_R_OTHER, "cannot store the password",
			   NULL, NULL);
		return;
	}
	s->who = p;
	log_info("event=password_changed session=%s user=%s", s->id, p.name);
	if (newpw.bv_val == gen) {
		/* PasswdModifyResponseValue ::= SEQUENCE { genPasswd [0] } */
		BerElement *ber = ab_enc_new();
		struct strbuf out;

		strbuf_init(&out);
		ab_enc_printf(ber, "{to}", (ber_tag_t)0x80, gen, (ber_len_t)16);
		ab_enc_finish(&ber, &out);
		genv.bv_val = out.data;
		genv.bv_len = out.len;
		ext_result(s, r, LDAP_R_SUCCESS, "", NULL, &genv);
		strbuf_free(&out);
		return;
	}
	ext_result(s, r, LDAP_R_SUCCESS, "", NULL, NULL);
}

static const struct {
	const char *oid;
	void (*handle)(struct ldap_session *, struct ldap_req *,
		       const struct berval *);
} extops[] = {
    {OID_STARTTLS, ext_starttls},
    {OID_WHOAMI, ext_whoami},
    {OID_PASSWD_MODIFY, ext_passwd},
};

void ab_op_extended(struct ldap_session *s, struct ldap_req *r,
		    struct ber_dec *d)
{
	struct berval oid, value;
	ber_len_t end;
	int has_value = 0;

	if (ab_dec_open(d, LDAP_TAG_EXTENDED_REQ, &end) < 0 ||
	    ab_dec_string(d, LDAP_TAG_EXOP_REQ_NAME, &oid) < 0) {
		ab_session_protocol_error(s, "malformed ExtendedRequest");
		return;
	}
	if (ab_dec_more(d, end) == 1) {
		if (ab_dec_string(d, LDAP_TAG_EXOP_REQ_VALUE, &value) < 0) {
			ab_session_protocol_error(s,
						  "malformed ExtendedRequest");
			return;
		}
		has_value = 1;
	}
	if (ab_dec_close(d, end) < 0) {
		ab_session_protocol_error(s, "malformed ExtendedRequest");
		return;
	}
	for (size_t i = 0; i < sizeof(extops) / sizeof(extops[0]); i++) {
		if (ab_bv_eq(&oid, extops[i].oid)) {
			extops[i].handle(s, r, has_value ? &value : NULL);
			return;
		}
	}
	ext_result(s, r, LDAP_R_PROTOCOL_ERROR,
		   "unsupported extended operation", NULL, NULL);
}
