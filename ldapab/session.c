/*
 * session.c - the LDAPMessage envelope, the request table and replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ber.h"
#include "dn.h"
#include "log.h"
#include "proto.h"
#include "search.h"
#include "session.h"
#include "strbuf.h"
#include "util.h"

enum {
	OP_NO_RESPONSE = 1 << 0, /* Unbind, Abandon */
	OP_AFTER_CLOSE = 1 << 1,
};

struct ldap_op {
	unsigned tag;
	const char *name;
	unsigned res_tag; /* for unavailableCriticalExtension replies */
	void (*handle)(struct ldap_session *, struct ldap_req *,
		       struct ber_dec *);
	unsigned flags;
	const char *const *controls; /* OIDs this operation understands */
};

static const char *const search_controls[] = {OID_PAGED_RESULTS,
					      OID_SORT_REQUEST, OID_VLV_REQUEST,
					      OID_MANAGE_DSAIT, NULL};
static const char *const write_controls[] = {OID_MANAGE_DSAIT, NULL};
static const char *const no_controls[] = {NULL};

/* RFC 4511 §4.2 - §4.12, keyed by the protocolOp's BER tag. */
static const struct ldap_op ops[] = {
    {LDAP_TAG_BIND_REQ, "bind", LDAP_TAG_BIND_RES, ab_op_bind, 0, no_controls},
    {LDAP_TAG_UNBIND_REQ, "unbind", 0, ab_op_unbind, OP_NO_RESPONSE,
     no_controls},
    {LDAP_TAG_SEARCH_REQ, "search", LDAP_TAG_SEARCH_DONE, ab_op_search, 0,
     search_controls},
    {LDAP_TAG_MODIFY_REQ, "modify", LDAP_TAG_MODIFY_RES, ab_op_modify, 0,
     write_controls},
    {LDAP_TAG_ADD_REQ, "add", LDAP_TAG_ADD_RES, ab_op_add, 0, write_controls},
    {LDAP_TAG_DEL_REQ, "delete", LDAP_TAG_DEL_RES, ab_op_delete, 0,
     write_controls},
    {LDAP_TAG_MODDN_REQ, "modrdn", LDAP_TAG_MODDN_RES, ab_op_moddn, 0,
     write_controls},
    {LDAP_TAG_COMPARE_REQ, "compare", LDAP_TAG_COMPARE_RES, ab_op_compare, 0,
     write_controls},
    {LDAP_TAG_ABANDON_REQ, "abandon", 0, ab_op_abandon, OP_NO_RESPONSE,
     no_controls},
    {LDAP_TAG_EXTENDED_REQ, "extended", LDAP_TAG_EXTENDED_RES, ab_op_extended,
     0, no_controls},
};

static const struct ldap_op *op_find(unsigned tag)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].tag == tag)
			return &ops[i];
	return NULL;
}

const char *ab_ldap_op_name(unsigned tag)
{
	const struct ldap_op *op = op_find(tag);

	return op ? op->name : "unknown";
}

const char *ab_ldap_result_name(int code)
{
	switch (code) {
	case LDAP_R_SUCCESS:
		return "success";
	case LDAP_R_OPERATIONS_ERROR:
		return "operationsError";
	case LDAP_R_PROTOCOL_ERROR:
		return "protocolError";
	case LDAP_R_TIME_LIMIT:
		return "timeLimitExceeded";
	case LDAP_R_SIZE_LIMIT:
		return "sizeLimitExceeded";
	case LDAP_R_COMPARE_FALSE:
		return "compareFalse";
	case LDAP_R_COMPARE_TRUE:
		return "compareTrue";
	case LDAP_R_AUTH_METHOD_NOT_SUPPORTED:
		return "authMethodNotSupported";
	case LDAP_R_UNAVAILABLE_CRITICAL_EXT:
		return "unavailableCriticalExtension";
	case LDAP_R_NO_SUCH_ATTRIBUTE:
		return "noSuchAttribute";
	case LDAP_R_UNDEFINED_TYPE:
		return "undefinedAttributeType";
	case LDAP_R_CONSTRAINT_VIOLATION:
		return "constraintViolation";
	case LDAP_R_TYPE_OR_VALUE_EXISTS:
		return "attributeOrValueExists";
	case LDAP_R_INVALID_SYNTAX:
		return "invalidAttributeSyntax";
	case LDAP_R_NO_SUCH_OBJECT:
		return "noSuchObject";
	case LDAP_R_INVALID_DN_SYNTAX:
		return "invalidDNSyntax";
	case LDAP_R_INVALID_CREDENTIALS:
		return "invalidCredentials";
	case LDAP_R_INSUFFICIENT_ACCESS:
		return "insufficientAccessRights";
	case LDAP_R_UNAVAILABLE:
		return "unavailable";
	case LDAP_R_UNWILLING:
		return "unwillingToPerform";
	case LDAP_R_NAMING_VIOLATION:
		return "namingViolation";
	case LDAP_R_OBJECT_CLASS_VIOLATION:
		return "objectClassViolation";
	case LDAP_R_NOT_ALLOWED_ON_NONLEAF:
		return "notAllowedOnNonLeaf";
	case LDAP_R_NOT_ALLOWED_ON_RDN:
		return "notAllowedOnRDN";
	case LDAP_R_ALREADY_EXISTS:
		return "entryAlreadyExists";
	default:
		return "other";
	}
}

int ldapab_init(struct ldapab *ab, struct store *st, const char *suffix)
{
	struct dn *dn;

	memset(ab, 0, sizeof(*ab));
	if (ab_dn_parse(suffix, strlen(suffix), &dn) < 0 || dn->n == 0) {
		ab_dn_free(&dn);
		return -1;
	}
	ab->store = st;
	ab->suffix = xstrdup(suffix);
	ab->suffix_ndn = ab_dn_norm(dn, 0);
	ab->suffix_key = ab_dn_key(dn, 0);
	ab->ab_key = ab_asprintf("%s%cou=ab", ab->suffix_key, DN_KEY_SEP);
	ab->max_pdu = 4 * 1024 * 1024;
	ab->size_limit = 50000;
	ab->time_limit = 60;
	ab_dn_free(&dn);
	return 0;
}

void ldapab_clear(struct ldapab *ab)
{
	free(ab->suffix);
	free(ab->suffix_ndn);
	free(ab->suffix_key);
	free(ab->ab_key);
	memset(ab, 0, sizeof(*ab));
}

struct ldap_session *ab_session_new(struct ldapab *ab,
				    const struct session_io *io, const char *id)
{
	struct ldap_session *s = xcalloc(1, sizeof(*s));

	s->ab = ab;
	s->io = *io;
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

void ab_session_free(struct ldap_session **sp)
{
	if (*sp == NULL)
		return;
	ab_paged_state_free(&(*sp)->paged);
	free(*sp);
	*sp = NULL;
}

const struct principal *ab_session_who(const struct ldap_session *s)
{
	return s->bound ? &s->who : NULL;
}

char *ab_session_authz_dn(const struct ldap_session *s)
{
	if (!s->bound)
		return xstrdup("");
	return ab_auth_bind_dn(s->who.name, s->ab->suffix);
}

/* RFC 4511 §4.1.11: Controls ::= SEQUENCE OF control Control */
static int decode_controls(struct ber_dec *d, struct ldap_req *r)
{
	ber_len_t end, cend;
	int more;

	if (ab_dec_open(d, LDAP_TAG_CONTROLS, &end) < 0)
		return -1;
	while ((more = ab_dec_more(d, end)) == 1) {
		struct ldap_control *c;

		if (r->nctrls == LDAP_MAX_CONTROLS)
			return -1;
		c = &r->ctrls[r->nctrls++];
		memset(c, 0, sizeof(*c));
		if (ab_dec_open(d, LBER_SEQUENCE, &cend) < 0 ||
		    ab_dec_string(d, LBER_OCTETSTRING, &c->oid) < 0)
			return -1;
		if (ab_dec_more(d, cend) == 1 &&
		    ab_dec_peek(d) == LBER_BOOLEAN &&
		    ab_dec_bool(d, LBER_BOOLEAN, &c->critical) < 0)
			return -1;
		if (ab_dec_more(d, cend) == 1) {
			if (ab_dec_string(d, LBER_OCTETSTRING, &c->value) < 0)
				return -1;
			c->has_value = 1;
		}
		if (ab_dec_close(d, cend) < 0)
			return -1;
	}
	return more < 0 || ab_dec_close(d, end) < 0 ? -1 : 0;
}

int ab_ldap_msg_decode(unsigned char *buf, size_t len, struct ldap_req *r,
		       struct ber_dec *d)
{
	struct ber_dec pass;
	ber_len_t end;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	/* First pass: envelope and controls (which follow the operation). */
	ab_dec_init(&pass, buf, len);
	if (ab_dec_open(&pass, LBER_SEQUENCE, &end) < 0 ||
	    ab_dec_int(&pass, LBER_INTEGER, &r->msgid) < 0 || r->msgid < 0)
		goto out;
	r->tag = (unsigned)ab_dec_peek(&pass);
	if (ab_dec_skip(&pass) < 0 || ab_dec_more(&pass, end) < 0)
		goto out;
	if (ab_dec_more(&pass, end) == 1 && decode_controls(&pass, r) < 0)
		goto out;
	if (ab_dec_close(&pass, end) < 0 || ab_dec_remaining(&pass) != 0)
		goto out;
	/* Second pass: position d at the protocolOp. */
	ab_dec_init(d, buf, len);
	if (ab_dec_open(d, LBER_SEQUENCE, &end) < 0 ||
	    ab_dec_int(d, LBER_INTEGER, &r->msgid) < 0) {
		ab_dec_free(d);
		goto out;
	}
	rc = 0;
out:
	ab_dec_free(&pass);
	return rc;
}

const struct ldap_control *ab_req_control(const struct ldap_req *r,
					  const char *oid)
{
	for (size_t i = 0; i < r->nctrls; i++)
		if (ab_bv_eq(&r->ctrls[i].oid, oid))
			return &r->ctrls[i];
	return NULL;
}

void ab_resp_send(struct ldap_session *s, BerElement **ber)
{
	struct strbuf out;

	strbuf_init(&out);
	ab_enc_finish(ber, &out);
	s->io.send(s->io.ctx, out.data, out.len);
	strbuf_free(&out);
}

void ab_resp_result(struct ldap_session *s, const struct ldap_req *r,
		    unsigned tag, int code, const char *matched,
		    const char *diag, const struct resp_extra *x)
{
	BerElement *ber = ab_enc_new();

	ab_enc_printf(ber, "{it{ess", (ber_int_t)r->msgid, (ber_tag_t)tag,
		      (ber_int_t)code, matched ? matched : "",
		      diag ? diag : "");
	if (x != NULL && x->exop_name != NULL)
		ab_enc_printf(ber, "ts", (ber_tag_t)LDAP_TAG_EXOP_RES_NAME,
			      x->exop_name);
	if (x != NULL && x->exop_value != NULL)
		ab_enc_printf(ber, "tO", (ber_tag_t)LDAP_TAG_EXOP_RES_VALUE,
			      x->exop_value);
	ab_enc_printf(ber, "}");
	if (x != NULL && x->nctrls > 0) {
		ab_enc_printf(ber, "t{", (ber_tag_t)LDAP_TAG_CONTROLS);
		for (size_t i = 0; i < x->nctrls; i++)
			if (ber_write(ber, x->ctrls[i].bv_val,
				      (ber_len_t)x->ctrls[i].bv_len, 0) < 0)
				fatalx("event=oom where=ber_write");
		ab_enc_printf(ber, "}");
	}
	ab_enc_printf(ber, "}");
	ab_resp_send(s, &ber);
	log_info("event=result session=%s msgid=%d op=%s code=%d%s%s", s->id,
		 (int)r->msgid, ab_ldap_op_name(r->tag), code,
		 code ? " result=" : "", code ? ab_ldap_result_name(code) : "");
}

void ab_session_protocol_error(struct ldap_session *s, const char *why)
{
	/* RFC 4511 §4.4.1: Notice of Disconnection, messageID 0. */
	struct ldap_req r;
	struct resp_extra x = {OID_NOTICE_OF_DISCONNECTION, NULL, NULL, 0};

	memset(&r, 0, sizeof(r));
	r.tag = LDAP_TAG_EXTENDED_REQ;
	log_info("event=protocol_error session=%s reason=\"%s\"", s->id, why);
	if (!s->closing)
		ab_resp_result(s, &r, LDAP_TAG_EXTENDED_RES,
			       LDAP_R_PROTOCOL_ERROR, "", why, &x);
	s->closing = 1;
	s->io.close(s->io.ctx);
}

static int controls_ok(const struct ldap_op *op, const struct ldap_req *r)
{
	for (size_t i = 0; i < r->nctrls; i++) {
		const struct ldap_control *c = &r->ctrls[i];
		int known = 0;

		for (const char *const *o = op->controls; *o && !known; o++)
			known = ab_bv_eq(&c->oid, *o);
		/* RFC 4511 §4.1.11: unknown non-critical controls are
		 * ignored; unknown critical ones fail the operation. */
		if (!known && c->critical)
			return 0;
	}
	return 1;
}

void ab_session_pdu(struct ldap_session *s, unsigned char *buf, size_t len)
{
	const struct ldap_op *op;
	struct ldap_req r;
	struct ber_dec d;

	if (s->closing)
		return;
	if (ab_ldap_msg_decode(buf, len, &r, &d) < 0) {
		ab_session_protocol_error(s, "malformed LDAPMessage");
		return;
	}
	s->requests++;
	op = op_find(r.tag);
	if (op == NULL) {
		ab_dec_free(&d);
		ab_session_protocol_error(s, "unknown operation");
		return;
	}
	if (!controls_ok(op, &r)) {
		if (!(op->flags & OP_NO_RESPONSE))
			ab_resp_result(s, &r, op->res_tag,
				       LDAP_R_UNAVAILABLE_CRITICAL_EXT, "",
				       "unsupported critical control", NULL);
		ab_dec_free(&d);
		return;
	}
	op->handle(s, &r, &d);
	ab_dec_free(&d);
}
