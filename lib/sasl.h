/*
 * sasl.h - the server side of Cyrus SASL, used the same way by every
 * protocol (IMAP AUTHENTICATE/LOGIN, POP3 AUTH/USER+PASS, ManageSieve).
 *
 * Initialise once per process with saslsrv_init().  Each connection that
 * authenticates creates a struct saslsrv.  Challenges and responses cross
 * this API base64-encoded, as every mail protocol carries them, so the
 * protocol code only frames them.  Plaintext logins (LOGIN, USER/PASS) go
 * through saslsrv_checkpass(), which uses the same user database and the
 * same authorization rules.
 *
 * Users live in sasldb2 (path from config "sasldb"); user names are full
 * addresses ("alice@example.com") and are stored as user "alice" in realm
 * "example.com", which is how Cyrus SASL splits them.
 *
 * Proxy authorization: an authorization identity (authzid) different from
 * the authentication identity is accepted only when the authentication
 * identity is listed in config "proxy_identities" (space-separated).
 * Everyone else gets SASLSRV_FAIL for a foreign authzid.
 */
#ifndef ROOKERY_SASL_H
#define ROOKERY_SASL_H

struct config_section;
struct conn;
struct saslsrv;

enum saslsrv_result {
	SASLSRV_OK = 0,		/* authenticated: see saslsrv_user() */
	SASLSRV_CONTINUE,	/* send *challenge_r, wait for a response */
	SASLSRV_FAIL,		/* wrong credentials or authzid refused */
	SASLSRV_BAD_INPUT,	/* malformed base64 or protocol message */
	SASLSRV_NO_MECH,	/* unknown or not-offered mechanism */
	SASLSRV_TEMPFAIL,	/* user database unavailable */
	SASLSRV_CANCEL,		/* client sent "*" */
};

/*
 * Once per process.  Reads from cfg (falls back to [global]): sasldb
 * (path of the sasldb2 file), proxy_identities, sasl_mechanisms (optional
 * list to offer), allow_plaintext (bool: offer PLAIN/LOGIN/USER without
 * TLS; default no), hostname (optional: the server name SASL uses, and
 * the realm of a user name without '@'; default gethostname()),
 * auth_cache_ttl and auth_cache_size (the cache of verified plaintext
 * logins, sasl_cache.h; ttl 0 turns it off).  appname
 * names the SASL application.  ANONYMOUS is never offered.
 * Returns 0, or -1 with *err_r.
 */
int saslsrv_init(const char *appname, const struct config_section *cfg,
		 char **err_r);
void saslsrv_done(void);

/*
 * A SASL exchange for one connection.  service: "imap", "pop", "sieve".
 * c supplies the local/remote addresses and whether TLS is on (which
 * decides if plaintext mechanisms are offered).  Returns NULL on failure.
 * One s may serve several exchanges in turn (after a failure or cancel,
 * saslsrv_start() begins afresh).
 */
struct saslsrv *saslsrv_new(const char *service, struct conn *c);
/*
 * The same for an exchange that is not tied to a struct conn (tests, the
 * CLI checking a password): tls says whether the channel is encrypted;
 * local_ipport / remote_ipport are "IP;PORT" (Cyrus SASL's form) or NULL.
 */
struct saslsrv *saslsrv_new_detached(const char *service, int tls,
				     const char *local_ipport,
				     const char *remote_ipport);
void saslsrv_free(struct saslsrv **s);

/* Space-separated mechanisms to advertise now ("PLAIN LOGIN SCRAM-SHA-1
 * ..."), strongest first (or in the order of sasl_mechanisms); empty
 * when none.  Valid until the next call on s.  Follows conn_is_tls(c),
 * so it changes after STARTTLS. */
const char *saslsrv_mechanisms(struct saslsrv *s);
/* May plaintext passwords be accepted on this connection now?  Yes on TLS
 * and on Unix-domain sockets (local only), else only with allow_plaintext. */
int saslsrv_plaintext_ok(struct saslsrv *s);

/*
 * Starts mechanism mech.  initial_b64: the initial response, NULL when the
 * client sent none, "" or "=" for an empty one.  On SASLSRV_CONTINUE,
 * *challenge_b64_r is an allocated base64 string (possibly empty) to send;
 * the caller frees it.  Data a mechanism sends along with success (SCRAM's
 * server signature) comes as one last challenge, which the client answers
 * with an empty response (RFC 4422 section 5, item 7; IMAP and POP3 carry
 * no data on success).
 */
enum saslsrv_result saslsrv_start(struct saslsrv *s, const char *mech,
				  const char *initial_b64,
				  char **challenge_b64_r);
/* Next step with the client's base64 response line ("*" cancels). */
enum saslsrv_result saslsrv_step(struct saslsrv *s, const char *response_b64,
				 char **challenge_b64_r);

/* Plaintext login (IMAP LOGIN, POP3 USER/PASS) through the same database
 * and rules; a repeat of a recently verified password is answered from
 * the cache (sasl_cache.h) until the sasldb file changes.  authzid NULL = the user itself.  Returns SASLSRV_NO_MECH
 * when saslsrv_plaintext_ok() says no (check it first to answer
 * LOGINDISABLED and the like). */
enum saslsrv_result saslsrv_checkpass(struct saslsrv *s, const char *user,
				      const char *pass, const char *authzid);

/* After SASLSRV_OK: the identity the session acts as (authzid if given,
 * else the authentication identity), the authentication identity, and the
 * mechanism ("LOGIN" for plaintext logins via checkpass...).  After a
 * failure saslsrv_user() and saslsrv_mech() are NULL, and
 * saslsrv_authid() is the identity the client claimed when it is known
 * (for logs only: it was not verified), else NULL. */
const char *saslsrv_user(const struct saslsrv *s);
const char *saslsrv_authid(const struct saslsrv *s);
const char *saslsrv_mech(const struct saslsrv *s);
/*
 * A PLAIN message (RFC 4616: authzid NUL authcid NUL password) of inlen
 * bytes, with in[inlen] a NUL, split into its three NUL-terminated parts;
 * 0, or -1 for anything else (left to the library to judge).  Only an
 * authzid that is empty or a full address (with '@', nothing at or
 * below space) is taken: one the library would leave as it is.  For the
 * cache of verified logins.
 */
int saslsrv_plain_split(char *in, unsigned inlen, const char **zid_r,
			const char **cid_r, const char **pass_r);
/* After SASLSRV_OK: 1 when the password was found in the cache of
 * verified logins (sasl_cache.h), 0 when the user database was read. */
int saslsrv_cached(const struct saslsrv *s);
/* A short reason for logs after a failure ("authentication failure"). */
const char *saslsrv_error(const struct saslsrv *s);

/*
 * Administrative: set or delete a user's password in sasldb (used by
 * `rookery user add|passwd|del`).  pass NULL deletes.  0 or -1 with *err_r.
 */
int saslsrv_setpass(const char *user, const char *pass, char **err_r);
/* Lists sasldb users (full addresses); cb returns non-zero to stop. */
int saslsrv_list_users(int (*cb)(const char *user, void *arg), void *arg,
		       char **err_r);

#endif
