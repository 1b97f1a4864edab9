/*
 * ab_op_bind.c - Bind (RFC 4511 §4.2, RFC 4513 §5), Unbind and Abandon.
 *
 * Anonymous bind succeeds (Thunderbird retries a failed anonymous bind
 * forever); a name with an empty password is an unauthenticated bind,
 * refused with unwillingToPerform (RFC 4513 §5.1.2); SASL is answered
 * with authMethodNotSupported.  A password is accepted only over TLS
 * (StartTLS or LDAPS) unless allow_plaintext is set: confidentiality
 * required otherwise (RFC 4513 §5.1.3).  A failed bind is answered after
 * a delay that doubles with each failure on the connection.
 */
#include <string.h>

#include "auth.h"
#include "ber.h"
#include "log.h"
#include "proto.h"
#include "search.h"
#include "session.h"
#include "strbuf.h"

#define BIND_DELAY_MAX_MS 15000

static void bind_result(struct ldap_session *s, struct ldap_req *r, int code,
			const char *diag)
{
	ab_resp_result(s, r, LDAP_TAG_BIND_RES, code, "", diag, NULL);
}

/* Slows the next answer down: delay, 2 x delay, 4 x ... up to 15 s. */
static void bind_failed(struct ldap_session *s)
{
	unsigned ms = s->ab->auth_fail_delay_ms;
	unsigned i;

	for (i = 0; i < s->auth_failures && ms < BIND_DELAY_MAX_MS; i++)
		ms *= 2;
	if (ms > BIND_DELAY_MAX_MS)
		ms = BIND_DELAY_MAX_MS;
	s->auth_failures++;
	if (s->io.delay != NULL)
		s->io.delay(s->io.ctx, ms);
}

void ab_op_bind(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	struct berval name, cred;
	struct principal p;
	ber_int_t version;
	ber_len_t end;
	char bname[256], q[300];
	int rc;

	if (ab_dec_open(d, LDAP_TAG_BIND_REQ, &end) < 0 ||
	    ab_dec_int(d, LBER_INTEGER, &version) < 0 ||
	    ab_dec_string(d, LBER_OCTETSTRING, &name) < 0) {
		ab_session_protocol_error(s, "malformed BindRequest");
		return;
	}
	/* RFC 4511 §4.2.1: a bind resets the connection's identity and
	 * abandons outstanding operations (a paged search here). */
	s->bound = 0;
	memset(&s->who, 0, sizeof(s->who));
	ab_paged_state_free(&s->paged);
	if (ab_dec_peek(d) == LDAP_TAG_AUTH_SASL) {
		bind_result(s, r, LDAP_R_AUTH_METHOD_NOT_SUPPORTED,
			    "SASL is not supported; use a simple bind");
		return;
	}
	if (ab_dec_string(d, LDAP_TAG_AUTH_SIMPLE, &cred) < 0 ||
	    ab_dec_close(d, end) < 0) {
		ab_session_protocol_error(s, "malformed BindRequest");
		return;
	}
	if (version != 3) {
		bind_result(s, r, LDAP_R_PROTOCOL_ERROR,
			    "only LDAPv3 is supported");
		return;
	}
	if (name.bv_len == 0 && cred.bv_len == 0) {
		bind_result(s, r, LDAP_R_SUCCESS, "");
		return;
	}
	if (cred.bv_len == 0) {
		bind_result(s, r, LDAP_R_UNWILLING,
			    "unauthenticated bind (DN with no password) is "
			    "not allowed");
		return;
	}
	if (!s->ab->allow_plaintext && !s->io.is_tls(s->io.ctx)) {
		bind_result(s, r, LDAP_R_CONFIDENTIALITY_REQUIRED,
			    "passwords only over TLS: use StartTLS or LDAPS");
		return;
	}
	if (ab_auth_bind_name(name.bv_val, name.bv_len, s->ab->suffix_ndn,
			      bname, sizeof(bname)) < 0) {
		bind_failed(s);
		bind_result(s, r, LDAP_R_INVALID_CREDENTIALS, "");
		return;
	}
	rc = ab_auth_verify(s->ab->store, bname, cred.bv_val, cred.bv_len, &p);
	if (rc < 0) {
		bind_result(s, r, LDAP_R_UNAVAILABLE, "storage error");
		return;
	}
	log_info("event=bind session=%s user=%s ok=%d", s->id,
		 log_q(q, sizeof(q), bname), rc);
	if (rc == 0) {
		bind_failed(s);
		bind_result(s, r, LDAP_R_INVALID_CREDENTIALS, "");
		return;
	}
	s->auth_failures = 0;
	s->bound = 1;
	s->who = p;
	bind_result(s, r, LDAP_R_SUCCESS, "");
}

void ab_op_unbind(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d)
{
	(void)r;
	(void)d;
	/* RFC 4511 §4.3: no response; the server closes the connection. */
	s->closing = 1;
	s->io.close(s->io.ctx);
}

void ab_op_abandon(struct ldap_session *s, struct ldap_req *r,
		   struct ber_dec *d)
{
	ber_int_t id;

	(void)r;
	/* RFC 4511 §4.11: no response.  Requests run to completion before
	 * the next is read, so there is never anything left to stop. */
	if (ab_dec_int(d, LDAP_TAG_ABANDON_REQ, &id) < 0) {
		ab_session_protocol_error(s, "malformed AbandonRequest");
		return;
	}
	log_debug("event=abandon session=%s msgid=%d", s->id, (int)id);
}
