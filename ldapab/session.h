/*
 * session.h - one LDAP connection's protocol state, independent of the
 * network: bytes come in through ab_session_pdu(), replies leave through the
 * io callbacks, so unit tests and fuzzers drive it without sockets.
 */
#ifndef LDAPAB_SESSION_H
#define LDAPAB_SESSION_H

#include <stddef.h>
#include <lber.h>

#include "store.h"

struct ber_dec;
struct entry;

/* What the daemon knows, shared by all sessions (no per-session globals). */
struct ldapab {
	struct store *store;
	char *suffix;	     /* as configured: "dc=example,dc=net" */
	char *suffix_ndn;    /* normalized */
	char *suffix_key;    /* storage key of the suffix */
	char *ab_key;	     /* storage key of ou=ab,<suffix> */
	size_t max_pdu;	     /* largest request accepted (bytes) */
	unsigned size_limit; /* server cap on entries per search */
	unsigned time_limit; /* server cap in seconds */
	int tls_available;   /* StartTLS can be offered */
	int allow_plaintext; /* simple binds with a password without TLS */
	unsigned auth_fail_delay_ms; /* first delay after a failed bind */
};

/* The I/O side of a session (server.c, or a test harness). */
struct session_io {
	void (*send)(void *ctx, const void *data, size_t len);
	/* Starts TLS after the success response has been queued; 0 or -1. */
	int (*starttls)(void *ctx);
	/* Flush and close (after Unbind or a protocol error). */
	void (*close)(void *ctx);
	int (*is_tls)(void *ctx);
	/* Holds the responses that follow, and further requests, for ms
	 * milliseconds (slowing down password guessing); may be NULL. */
	void (*delay)(void *ctx, unsigned ms);
	void *ctx;
};

struct paged_state;

struct ldap_session {
	struct ldapab *ab;
	struct session_io io;
	char id[16];
	int bound;		   /* 1 after a successful authenticated bind */
	struct principal who;	   /* valid when bound */
	int closing;		   /* no more requests are processed */
	struct paged_state *paged; /* one outstanding paged search */
	unsigned long requests;
	unsigned auth_failures;	   /* failed binds on this connection */
};

/* A decoded request envelope (RFC 4511 §4.1.1 and §4.1.11). */
struct ldap_control {
	struct berval oid;
	int critical;
	int has_value;
	struct berval value;
};

#define LDAP_MAX_CONTROLS 16

struct ldap_req {
	ber_int_t msgid;
	unsigned tag;
	size_t nctrls;
	struct ldap_control ctrls[LDAP_MAX_CONTROLS];
};

struct ldap_session *
ab_session_new(struct ldapab *ab, const struct session_io *io, const char *id);
void ab_session_free(struct ldap_session **s);

/*
 * Handles one complete PDU (as framed by ab_ber_frame()).  buf must stay
 * valid for the call.  Protocol errors answer with a Notice of
 * Disconnection and close the session (RFC 4511 §4.4.1).
 */
void ab_session_pdu(struct ldap_session *s, unsigned char *buf, size_t len);

/*
 * Decodes the LDAPMessage envelope: msgid, operation tag, controls; on
 * success *d is positioned at the protocolOp.  0, or -1 when malformed.
 * Exposed for the fuzzer.
 */
int ab_ldap_msg_decode(unsigned char *buf, size_t len, struct ldap_req *r,
		       struct ber_dec *d);

/* --- replies (session.c) ------------------------------------------------ */

struct resp_extra {
	const char *exop_name; /* ExtendedResponse responseName */
	const struct berval *exop_value;
	const struct berval *ctrls; /* encoded Control elements */
	size_t nctrls;
};

void ab_resp_result(struct ldap_session *s, const struct ldap_req *r,
		    unsigned tag, int code, const char *matched,
		    const char *diag, const struct resp_extra *x);
void ab_resp_send(struct ldap_session *s, BerElement **ber);
void ab_session_protocol_error(struct ldap_session *s, const char *why);

/* The control with oid in r, or NULL. */
const struct ldap_control *ab_req_control(const struct ldap_req *r,
					  const char *oid);

/* --- operations (one file each; the table in session.c) ----------------- */

void ab_op_bind(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d);
void ab_op_unbind(struct ldap_session *s, struct ldap_req *r,
		  struct ber_dec *d);
void ab_op_search(struct ldap_session *s, struct ldap_req *r,
		  struct ber_dec *d);
void ab_op_add(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d);
void ab_op_modify(struct ldap_session *s, struct ldap_req *r,
		  struct ber_dec *d);
void ab_op_delete(struct ldap_session *s, struct ldap_req *r,
		  struct ber_dec *d);
void ab_op_moddn(struct ldap_session *s, struct ldap_req *r, struct ber_dec *d);
void ab_op_compare(struct ldap_session *s, struct ldap_req *r,
		   struct ber_dec *d);
void ab_op_abandon(struct ldap_session *s, struct ldap_req *r,
		   struct ber_dec *d);
void ab_op_extended(struct ldap_session *s, struct ldap_req *r,
		    struct ber_dec *d);

/* Identity helpers shared by the operations. */
const struct principal *ab_session_who(const struct ldap_session *s);
char *ab_session_authz_dn(const struct ldap_session *s); /* "" = anonymous */

/* Builds an ldapab from suffix (normalizes it).  0 or -1 (bad suffix). */
int ldapab_init(struct ldapab *ab, struct store *st, const char *suffix);
void ldapab_clear(struct ldapab *ab);

#endif
