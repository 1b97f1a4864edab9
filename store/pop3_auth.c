/*
 * pop3_auth.c - the AUTHORIZATION state: USER/PASS (RFC 1939 section 7),
 * AUTH (RFC 5034), login, and the growing delay after failed attempts.
 *
 * Every path ends in login_finish(): lock the maildrop (RFC 2449 [IN-USE]),
 * take the INBOX snapshot, enter TRANSACTION.  Failures answer with the
 * RFC 3206 codes: [AUTH] for credentials, [SYS/TEMP] for the user database
 * or the storage engine, [SYS/PERM] when the user has no mail store here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "store/pop3.h"
#include "store/store.h"

/* Delays double per failure, up to this. */
#define POP3_MAX_FAIL_DELAY_MS 15000

static const char plaintext_refused[] =
    "Plaintext authentication disallowed on non-secure connections";

struct saslsrv *pop3_auth_sasl(struct pop3_session *s)
{
	if (s->sasl == NULL) {
		s->sasl = saslsrv_new("pop", s->c);
		if (s->sasl == NULL)
			log_warnx("event=pop3_sasl_unavailable session=%s",
				  conn_id(s->c));
	}
	return s->sasl;
}

static int plaintext_ok(struct pop3_session *s)
{
	struct saslsrv *sasl = pop3_auth_sasl(s);

	if (sasl != NULL)
		return saslsrv_plaintext_ok(sasl);
	return conn_is_tls(s->c) || (s->st != NULL && s->st->allow_plaintext);
}

static void clear_user(struct pop3_session *s)
{
	free(s->user);
	s->user = NULL;
}

static void end_exchange(struct pop3_session *s)
{
	s->sasl_active = 0;
	free(s->sasl_mech);
	s->sasl_mech = NULL;
}

void pop3_auth_reset(struct pop3_session *s)
{
	clear_user(s);
	end_exchange(s);
	saslsrv_free(&s->sasl);
}

void pop3_auth_free(struct pop3_session *s)
{
	pop3_auth_reset(s);
	net_timer_free(&s->delay_timer);
	free(s->delayed_reply);
	s->delayed_reply = NULL;
}

/* --- failures and their delay ------------------------------------------ */

static void delay_done(void *arg)
{
	struct pop3_session *s = arg;
	char *msg = s->delayed_reply;

	s->delayed_reply = NULL;
	if (msg != NULL) {
		conn_puts(s->c, msg);
		free(msg);
	}
	if (s->close_after_delay)
		pop3_hangup(s);
	pop3_resume(s);
}

/*
 * A failed login: the reply waits auth_fail_delay_ms, doubling with each
 * failure on this connection, with input paused so a client cannot pipe
 * guesses past the delay.  After POP3_MAX_AUTH_FAILURES we hang up.
 */
static void auth_failed(struct pop3_session *s, const char *who,
			const char *mech, const char *code, const char *text)
{
	unsigned delay = s->st != NULL ? s->st->auth_fail_delay_ms : 0;
	unsigned i;
	char qbuf[128], rbuf[128], mbuf[64];

	s->auth_failures++;
	log_info("event=pop3_auth_failed session=%s client=%s user=%s mech=%s "
		 "failures=%u reason=%s",
		 conn_id(s->c), s->client,
		 log_q(qbuf, sizeof(qbuf), who ? who : ""),
		 log_q(mbuf, sizeof(mbuf), mech), s->auth_failures,
		 log_q(rbuf, sizeof(rbuf),
		       s->sasl != NULL && saslsrv_error(s->sasl) != NULL
			   ? saslsrv_error(s->sasl)
			   : text));
	/* A SASL object is not reused after a failed exchange. */
	saslsrv_free(&s->sasl);
	for (i = 1; i < s->auth_failures && delay < POP3_MAX_FAIL_DELAY_MS; i++)
		delay *= 2;
	if (delay > POP3_MAX_FAIL_DELAY_MS)
		delay = POP3_MAX_FAIL_DELAY_MS;
	s->close_after_delay = s->auth_failures >= POP3_MAX_AUTH_FAILURES;

	if (delay == 0) {
		pop3_err(s, code, "%s", text);
		if (s->close_after_delay)
			pop3_hangup(s);
		return;
	}
	if (s->delay_timer == NULL)
		s->delay_timer = net_timer_new(conn_net(s->c), delay_done, s);
	free(s->delayed_reply);
	s->delayed_reply = code != NULL
			       ? xasprintf("-ERR [%s] %s\r\n", code, text)
			       : xasprintf("-ERR %s\r\n", text);
	pop3_pause(s);
	net_timer_start(s->delay_timer, delay, 0);
}

/* --- login --------------------------------------------------------------- */

/* Locks the maildrop, takes the snapshot, enters TRANSACTION. */
static void login_open(struct pop3_session *s, const char *user,
		       const char *mech, const char *qbuf)
{
	struct pop3_maildrop *md = NULL;
	enum pop3_md_result r;
	unsigned count;
	uint64_t size;

	if (pop3_lock_acquire(user, s) < 0) {
		log_info("event=pop3_in_use session=%s client=%s user=%s",
			 conn_id(s->c), s->client, qbuf);
		pop3_err(s, "IN-USE",
			 "Mailbox is locked by another POP3 session");
		return;
	}
	r = pop3_md_open(s->st, user, &md);
	if (r != POP3_MD_OK) {
		pop3_lock_release(user, s);
		log_warnx("event=pop3_maildrop_failed session=%s client=%s "
			  "user=%s result=%d",
			  conn_id(s->c), s->client, qbuf, (int)r);
		if (r == POP3_MD_NO_USER)
			pop3_err(s, "SYS/PERM", "No mailbox for this user");
		else
			pop3_err(s, "SYS/TEMP",
				 "Cannot open the mailbox, "
				 "try again later");
		return;
	}
	s->md = md;
	s->login = xstrdup(user);
	s->auth_failures = 0;
	pop3_set_state(s, POP3_TRANSACTION);
	pop3_md_stat(md, &count, &size);
	log_info("event=pop3_login session=%s client=%s user=%s mech=%s "
		 "messages=%u bytes=%llu%s%s",
		 conn_id(s->c), s->client, qbuf, mech, count,
		 (unsigned long long)size,
		 s->xc != NULL && (s->xc->have & XCLIENT_SESSION)
		     ? " proxy_session="
		     : "",
		 s->xc != NULL && (s->xc->have & XCLIENT_SESSION)
		     ? s->xc->session
		     : "");
	pop3_ok(s, "Logged in, %u messages (%llu octets).", count,
		(unsigned long long)size);
}

static void login_finish(struct pop3_session *s, const char *identity,
			 const char *mech)
{
	char qbuf[128];
	char *user = xstrdup(identity);

	log_q(qbuf, sizeof(qbuf), user);
	/* A SASL object is spent once it has authenticated someone (and
	 * identity may point into it). */
	saslsrv_free(&s->sasl);
	clear_user(s);
	if (s->st->role == STORE_REPLICA) {
		/* DESIGN.md: a replica takes no client writes (POP3 deletes
		 * at QUIT); the mux sends logins to the primary. */
		log_warnx("event=pop3_login_refused session=%s client=%s "
			  "user=%s reason=replica",
			  conn_id(s->c), s->client, qbuf);
		pop3_err(s, "SYS/TEMP",
			 "This store is a replica; log in to the primary");
		free(user);
		return;
	}
	login_open(s, user, mech, qbuf);
	free(user);
}

/* Maps a SASL outcome that is not OK/CONTINUE to a reply. */
static void sasl_failed(struct pop3_session *s, enum saslsrv_result r,
			const char *who, const char *mech)
{
	switch (r) {
	case SASLSRV_TEMPFAIL:
		log_warnx("event=pop3_auth_tempfail session=%s mech=%s",
			  conn_id(s->c), mech);
		saslsrv_free(&s->sasl);
		pop3_err(s, "SYS/TEMP", "Temporary authentication failure");
		break;
	case SASLSRV_BAD_INPUT:
		auth_failed(s, who, mech, NULL, "Invalid base64 data");
		break;
	case SASLSRV_NO_MECH:
		pop3_err(s, NULL, "Unsupported authentication mechanism");
		break;
	case SASLSRV_CANCEL:
		saslsrv_free(&s->sasl);
		pop3_err(s, NULL, "Authentication cancelled");
		break;
	default:
		auth_failed(s, who, mech, "AUTH", "Authentication failed");
		break;
	}
}

/* --- USER / PASS ------------------------------------------------------- */

void pop3_cmd_user(struct pop3_session *s, struct pop3_args *a)
{
	if (!plaintext_ok(s)) {
		pop3_err(s, "AUTH", "%s", plaintext_refused);
		return;
	}
	clear_user(s);
	s->auth_begun = 1;
	s->user = xstrdup(a->argv[0]);
	pop3_ok(s, "Send your password");
}

void pop3_cmd_pass(struct pop3_session *s, struct pop3_args *a)
{
	struct saslsrv *sasl;
	enum saslsrv_result r;
	char *user;

	if (s->user == NULL) {
		pop3_err(s, NULL, "No username given");
		pop3_bad_command(s);
		return;
	}
	if (!plaintext_ok(s)) {
		clear_user(s);
		pop3_err(s, "AUTH", "%s", plaintext_refused);
		return;
	}
	if ((sasl = pop3_auth_sasl(s)) == NULL) {
		pop3_err(s, "SYS/TEMP", "Authentication unavailable");
		return;
	}
	user = s->user;
	s->user = NULL;
	r = saslsrv_checkpass(sasl, user, a->rest, NULL);
	/* The line buffer is ours for this call (net.h): wipe the password. */
	explicit_bzero((char *)a->rest, strlen(a->rest));
	if (r == SASLSRV_OK)
		login_finish(s, saslsrv_user(sasl), "USER");
	else
		sasl_failed(s, r, user, "USER");
	free(user);
}

/* --- AUTH ---------------------------------------------------------------- */

/* "AUTH" alone: the mechanism list, one per line (RFC 1734 clients). */
static void auth_list(struct pop3_session *s, struct saslsrv *sasl)
{
	const char *p = saslsrv_mechanisms(sasl);
	struct strbuf b;
	size_t n;

	strbuf_init(&b);
	strbuf_adds(&b, "+OK Supported mechanisms follow\r\n");
	while (*p != '\0') {
		n = strcspn(p, " ");
		if (n > 0) {
			strbuf_add(&b, p, n);
			strbuf_add(&b, "\r\n", 2);
		}
		p += n;
		p += strspn(p, " ");
	}
	strbuf_add(&b, ".\r\n", 3);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

static void auth_result(struct pop3_session *s, enum saslsrv_result r,
			char *challenge)
{
	struct saslsrv *sasl = s->sasl;
	char *mech = s->sasl_mech;

	if (r == SASLSRV_CONTINUE) {
		s->sasl_active = 1;
		/* RFC 5034 section 4: "+" SP base64 (possibly empty). */
		conn_printf(s->c, "+ %s\r\n", challenge ? challenge : "");
		free(challenge);
		return;
	}
	free(challenge);
	s->sasl_mech = NULL;
	s->sasl_active = 0;
	if (r == SASLSRV_OK)
		login_finish(s, saslsrv_user(sasl), mech);
	else
		sasl_failed(s, r, saslsrv_authid(sasl), mech);
	free(mech);
}

void pop3_cmd_auth(struct pop3_session *s, struct pop3_args *a)
{
	struct saslsrv *sasl = pop3_auth_sasl(s);
	char *challenge = NULL;
	enum saslsrv_result r;
	const char *mech;

	if (sasl == NULL) {
		pop3_err(s, "SYS/TEMP", "Authentication unavailable");
		return;
	}
	if (a->argc == 0) {
		auth_list(s, sasl);
		return;
	}
	s->auth_begun = 1;
	mech = a->argv[0];
	if (!plaintext_ok(s) && (strcasecmp(mech, "PLAIN") == 0 ||
				 strcasecmp(mech, "LOGIN") == 0)) {
		pop3_err(s, "AUTH", "%s", plaintext_refused);
		return;
	}
	clear_user(s);
	free(s->sasl_mech);
	s->sasl_mech = xstrdup(mech);
	r = saslsrv_start(sasl, mech, a->argc == 2 ? a->argv[1] : NULL,
			  &challenge);
	auth_result(s, r, challenge);
}

void pop3_auth_continue(struct pop3_session *s, const char *line)
{
	char *challenge = NULL;
	enum saslsrv_result r;

	r = saslsrv_step(s->sasl, line, &challenge);
	auth_result(s, r, challenge);
}

void pop3_auth_abort(struct pop3_session *s, const char *why)
{
	char *mech = s->sasl_mech;

	s->sasl_mech = NULL;
	s->sasl_active = 0;
	auth_failed(s, s->sasl != NULL ? saslsrv_authid(s->sasl) : NULL,
		    mech != NULL ? mech : "?", NULL, why);
	free(mech);
}

/* --- XCLIENT --------------------------------------------------------------- */

/*
 * "XCLIENT ADDR=<ip> PORT=<port> [SESSION=<id>] [TTL=<n>]" from a trusted
 * proxy (lib/xclient.h): from here on the session's logs name the real
 * client.  Anyone else gets exactly what an unknown command gets, so the
 * command's existence is not revealed.  Only before USER/AUTH: a login
 * already begun must not change whose it is.
 */
void pop3_cmd_xclient(struct pop3_session *s, struct pop3_args *a)
{
	struct xclient x;
	const char *err = NULL;
	char qbuf[128];

	if (xclient_refused(s->c, "pop3")) {
		pop3_err(s, NULL, "Unknown command");
		pop3_bad_command(s);
		return;
	}
	if (s->state != POP3_AUTHORIZATION || s->auth_begun) {
		pop3_err(s, NULL, "XCLIENT only before USER and AUTH");
		pop3_bad_command(s);
		return;
	}
	xclient_begin(&x, s->xc);
	if (xclient_parse(&x, a->rest, XCLIENT_POP3_ATTRS, &err) < 0) {
		log_info("event=pop3_xclient_invalid session=%s args=%s "
			 "error=\"%s\"",
			 conn_id(s->c), log_q(qbuf, sizeof(qbuf), a->rest), err);
		pop3_err(s, NULL, "%s", err);
		pop3_bad_command(s);
		return;
	}
	xclient_commit(&s->xc, &x, s->c, s->client, sizeof(s->client));
	log_info("event=pop3_xclient session=%s peer=%s client=%s "
		 "proxy_session=%s",
		 conn_id(s->c), conn_peer(s->c), s->client,
		 (x.have & XCLIENT_SESSION) ? x.session : "-");
	pop3_ok(s, "Client attributes accepted");
}
