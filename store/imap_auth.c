/*
 * imap_auth.c - commands of any state and of NOT AUTHENTICATED:
 * CAPABILITY NOOP LOGOUT ID (RFC 2971) STARTTLS AUTHENTICATE (SASL-IR,
 * RFC 4959) LOGIN ENABLE (RFC 5161) UNAUTHENTICATE (RFC 8437).
 *
 * Every login ends in login_finish(): the identity saslsrv accepted
 * (the authzid for a configured proxy identity, lib/sasl.h) must have
 * a mailbox here; the special-use folders are created on first login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "xclient.h"
#include "store/imap.h"
#include "store/store.h"

#define IMAP_MAX_FAIL_DELAY_MS 15000

static struct saslsrv *auth_sasl(struct imap_session *s)
{
	if (s->sasl == NULL)
		s->sasl = saslsrv_new("imap", s->c);
	return s->sasl;
}

void imap_auth_reset(struct imap_session *s)
{
	free(s->sasl_mech);
	s->sasl_mech = NULL;
	saslsrv_free(&s->sasl);
}

void imap_auth_free(struct imap_session *s)
{
	imap_auth_reset(s);
	net_timer_free(&s->delay_timer);
	free(s->delayed_reply);
	s->delayed_reply = NULL;
}

/* ---- any state ----------------------------------------------------------- */

void imap_cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	struct strbuf b;

	(void)cmd;
	strbuf_init(&b);
	strbuf_adds(&b, "* CAPABILITY ");
	imap_capabilities(s, &b);
	strbuf_add(&b, "\r\n", 2);
	imap_write(s, b.data, b.len);
	strbuf_free(&b);
	imap_ok(s, NULL, "CAPABILITY completed");
}

void imap_cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_ok(s, NULL, "NOOP completed");
}

void imap_cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_untagged(s, "BYE Logging out");
	imap_set_state(s, IMAP_LOGOUT);
	imap_ok(s, NULL, "LOGOUT completed");
	s->closing = 1;
	conn_close(s->c);
}

/*
 * A proxy's ID fields name the client it relays (the mux sends
 * x-originating-ip / -port and x-session-id, as Dovecot's proxy does).
 * They are believed only from a peer lib/xclient.h trusts (Unix socket or
 * "proxy" listener) and only before login; from then on the session's log
 * lines name that client.
 */
static void id_forwarded(struct imap_session *s, const char *k, const char *v,
			 struct xclient *x, int *seen)
{
	static const struct {
		const char *field, *attr;
	} map[] = {
	    {"x-originating-ip", "ADDR"},
	    {"x-originating-port", "PORT"},
	    {"x-session-id", "SESSION"},
	};
	char buf[XCLIENT_MAX_VALUE + 16];
	const char *err;

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (strcasecmp(k, map[i].field) != 0)
			continue;
		snprintf(buf, sizeof(buf), "%s=%s", map[i].attr, v);
		if (xclient_parse_attr(x, buf, strlen(buf), XCLIENT_POP3_ATTRS,
				       &err) == 0)
			*seen = 1;
		else
			log_info("event=imap_id_forward_invalid session=%s "
				 "field=%s error=\"%s\"",
				 conn_id(s->c), map[i].field, err);
	}
}

/* RFC 2971: the client's fields are logged (and a proxy's believed). */
void imap_cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg *a = &cmd->args[0];
	int trusted = s->state == IMAP_NOT_AUTHENTICATED &&
		      xclient_trusted(s->c);
	struct xclient x;
	int forwarded = 0;
	char qbuf[200];

	if (a->type != IMAP_ARG_NIL && a->type != IMAP_ARG_LIST) {
		imap_bad(s, NULL, "ID takes a list or NIL");
		return;
	}
	memset(&x, 0, sizeof(x));
	if (a->type == IMAP_ARG_LIST) {
		if (a->count % 2 != 0 || a->count > 60) {
			imap_bad(s, NULL, "Invalid ID list");
			return;
		}
		for (size_t i = 0; i + 1 < a->count; i += 2) {
			const char *k = imap_arg_string(&a->list[i]);
			const char *v = imap_arg_string(&a->list[i + 1]);

			if (k == NULL || v == NULL)
				continue;
			if (strcasecmp(k, "name") == 0 ||
			    strcasecmp(k, "version") == 0)
				log_info(
				    "event=imap_client_id session=%s %s=%s",
				    conn_id(s->c),
				    strcasecmp(k, "name") == 0 ? "name"
							       : "version",
				    log_q(qbuf, sizeof(qbuf), v));
			else if (trusted)
				id_forwarded(s, k, v, &x, &forwarded);
		}
	}
	if (forwarded && (x.have & XCLIENT_ADDR)) {
		xclient_peer(&x, conn_peer(s->c), s->client,
			     sizeof(s->client));
		log_info("event=imap_client_forwarded session=%s peer=%s "
			 "client=%s proxy_session=%s",
			 conn_id(s->c), conn_peer(s->c), s->client,
			 (x.have & XCLIENT_SESSION) ? x.session : "-");
	}
	imap_untagged(s, "ID (\"name\" \"Rookery\" \"vendor\" \"Rookery\")");
	imap_ok(s, NULL, "ID completed");
}

/* ---- STARTTLS ------------------------------------------------------------ */

void imap_cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	if (conn_is_tls(s->c)) {
		imap_bad(s, NULL, "TLS is already active");
		return;
	}
	imap_ok(s, NULL, "Begin TLS negotiation now");
	if (conn_starttls(s->c) < 0) {
		imap_untagged(s, "BYE TLS not available");
		s->closing = 1;
		conn_close(s->c);
		return;
	}
	s->tls_pending = 1;
}

/* ---- login --------------------------------------------------------------- */

static void delay_done(void *arg)
{
	struct imap_session *s = arg;
	char *msg = s->delayed_reply;

	s->delayed_reply = NULL;
	if (msg != NULL) {
		conn_puts(s->c, msg);
		free(msg);
	}
	imap_cmd_done(s);
	if (s->auth_failures >= IMAP_MAX_AUTH_FAILURES)
		imap_bye(s, "Too many authentication failures");
}

/* A failed login: the NO waits, doubling per failure (no guessing fast). */
static void auth_failed(struct imap_session *s, const char *code,
			const char *text, const char *who, const char *mech)
{
	unsigned delay = s->st->auth_fail_delay_ms;
	char qbuf[128];

	s->auth_failures++;
	log_info("event=imap_auth_failed session=%s client=%s user=%s "
		 "mech=%s failures=%u",
		 conn_id(s->c), s->client,
		 log_q(qbuf, sizeof(qbuf), who != NULL ? who : ""), mech,
		 s->auth_failures);
	saslsrv_free(&s->sasl);
	for (unsigned i = 1;
	     i < s->auth_failures && delay < IMAP_MAX_FAIL_DELAY_MS; i++)
		delay *= 2;
	if (delay > IMAP_MAX_FAIL_DELAY_MS)
		delay = IMAP_MAX_FAIL_DELAY_MS;
	if (delay == 0) {
		imap_no(s, code, "%s", text);
		if (s->auth_failures >= IMAP_MAX_AUTH_FAILURES)
			imap_bye(s, "Too many authentication failures");
		return;
	}
	free(s->delayed_reply);
	s->delayed_reply = xasprintf("%s NO [%s] %s\r\n", s->tag, code, text);
	imap_cmd_wait(s);
	s->input = IMAP_INPUT_COMMAND;
	if (s->delay_timer == NULL)
		s->delay_timer = net_timer_new(conn_net(s->c), delay_done, s);
	net_timer_start(s->delay_timer, delay, 0);
}

static void login_finish(struct imap_session *s, const char *identity,
			 const char *mech)
{
	char qbuf[128];
	char *user = xstrdup(identity);
	enum mstore_err e;
	struct strbuf b;

	log_q(qbuf, sizeof(qbuf), user);
	saslsrv_free(&s->sasl);
	if (s->st->role == STORE_REPLICA) {
		/* DESIGN.md: a replica takes no client writes, and a session
		 * that could not write is no use to a client; the mux sends
		 * logins to the primary. */
		log_warnx("event=imap_login_refused session=%s user=%s "
			  "reason=replica",
			  conn_id(s->c), qbuf);
		free(user);
		imap_no(s, "UNAVAILABLE",
			"This store is a replica; log in to the primary");
		return;
	}
	e = mstore_user_exists(s->st->ms, user);
	if (e != MSTORE_OK) {
		log_warnx("event=imap_login_nomailbox session=%s user=%s "
			  "error=\"%s\"",
			  conn_id(s->c), qbuf, mstore_strerror(e));
		free(user);
		if (e == MSTORE_E_NOUSER)
			imap_no(s, "AUTHORIZATIONFAILED",
				"No mailbox for this user here");
		else
			imap_no(s, "UNAVAILABLE", "Mail store unavailable");
		return;
	}
	free(s->user);
	s->user = user;
	s->auth_failures = 0;
	imap_set_state(s, IMAP_AUTHENTICATED);
	imap_mailbox_provision(s);
	log_info("event=imap_login session=%s client=%s user=%s mech=%s "
		 "tls=%d",
		 conn_id(s->c), s->client, qbuf, mech, conn_is_tls(s->c));
	strbuf_init(&b);
	strbuf_adds(&b, "CAPABILITY ");
	imap_capabilities(s, &b);
	imap_ok(s, b.data, "Logged in");
	strbuf_free(&b);
}

static void sasl_failed(struct imap_session *s, enum saslsrv_result r,
			const char *who, const char *mech)
{
	switch (r) {
	case SASLSRV_TEMPFAIL:
		saslsrv_free(&s->sasl);
		imap_no(s, "UNAVAILABLE", "Temporary authentication failure");
		break;
	case SASLSRV_BAD_INPUT:
		auth_failed(s, "AUTHENTICATIONFAILED", "Invalid base64 data",
			    who, mech);
		break;
	case SASLSRV_NO_MECH:
		saslsrv_free(&s->sasl);
		imap_no(s, "CANNOT", "Unsupported authentication mechanism");
		break;
	case SASLSRV_CANCEL:
		saslsrv_free(&s->sasl);
		imap_bad(s, NULL, "Authentication cancelled");
		break;
	default:
		auth_failed(s, "AUTHENTICATIONFAILED", "Authentication failed",
			    who, mech);
		break;
	}
}

void imap_cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char *user = imap_arg_string(&cmd->args[0]);
	const char *pass = imap_arg_string(&cmd->args[1]);
	struct saslsrv *sasl = auth_sasl(s);
	enum saslsrv_result r;

	if (user == NULL || pass == NULL || cmd->args[0].type == IMAP_ARG_NIL) {
		imap_bad(s, NULL, "LOGIN user password");
		return;
	}
	if (sasl == NULL) {
		imap_no(s, "UNAVAILABLE", "Authentication unavailable");
		return;
	}
	if (!saslsrv_plaintext_ok(sasl)) {
		imap_no(
		    s, "PRIVACYREQUIRED",
		    "Plaintext login disallowed without TLS (LOGINDISABLED)");
		return;
	}
	r = saslsrv_checkpass(sasl, user, pass, NULL);
	explicit_bzero((char *)pass, strlen(pass));
	if (r == SASLSRV_OK)
		login_finish(s, saslsrv_user(sasl), "LOGIN");
	else
		sasl_failed(s, r, user, "LOGIN");
}

static void auth_result(struct imap_session *s, enum saslsrv_result r,
			char *challenge)
{
	char *mech = s->sasl_mech;

	if (r == SASLSRV_CONTINUE) {
		s->input = IMAP_INPUT_SASL;
		conn_printf(s->c, "+ %s\r\n", challenge ? challenge : "");
		free(challenge);
		return;
	}
	free(challenge);
	s->sasl_mech = NULL;
	s->input = IMAP_INPUT_COMMAND;
	if (r == SASLSRV_OK)
		login_finish(s, saslsrv_user(s->sasl), mech ? mech : "?");
	else
		sasl_failed(s, r, s->sasl ? saslsrv_authid(s->sasl) : NULL,
			    mech ? mech : "?");
	free(mech);
}

void imap_cmd_authenticate(struct imap_session *s,
			   const struct imap_command *cmd)
{
	const char *mech = imap_arg_string(&cmd->args[0]);
	const char *ir = cmd->nargs > 1 ? imap_arg_string(&cmd->args[1]) : NULL;
	struct saslsrv *sasl = auth_sasl(s);
	char *challenge = NULL;
	enum saslsrv_result r;

	if (mech == NULL || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->nargs > 1 && ir == NULL)) {
		imap_bad(s, NULL, "AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (sasl == NULL) {
		imap_no(s, "UNAVAILABLE", "Authentication unavailable");
		return;
	}
	if (!saslsrv_plaintext_ok(sasl) && (strcasecmp(mech, "PLAIN") == 0 ||
					    strcasecmp(mech, "LOGIN") == 0)) {
		imap_no(s, "PRIVACYREQUIRED",
			"Plaintext authentication disallowed without TLS");
		return;
	}
	free(s->sasl_mech);
	s->sasl_mech = xstrdup(mech);
	/* RFC 4959: "=" is an empty initial response */
	r = saslsrv_start(sasl, mech, ir, &challenge);
	auth_result(s, r, challenge);
}

void imap_auth_continue(struct imap_session *s, const char *line)
{
	char *challenge = NULL;
	enum saslsrv_result r;

	if (s->sasl == NULL) {
		s->input = IMAP_INPUT_COMMAND;
		imap_bad(s, NULL, "No authentication in progress");
		return;
	}
	r = saslsrv_step(s->sasl, line, &challenge);
	auth_result(s, r, challenge);
}

/* ---- ENABLE, UNAUTHENTICATE ---------------------------------------------- */

void imap_cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	struct strbuf b;
	unsigned before = s->enabled;

	strbuf_init(&b);
	strbuf_adds(&b, "ENABLED");
	for (size_t i = 0; i < cmd->nargs; i++) {
		const char *e = imap_arg_string(&cmd->args[i]);
		unsigned bit = 0;

		if (e == NULL || cmd->args[i].type != IMAP_ARG_ATOM) {
			strbuf_free(&b);
			imap_bad(s, NULL, "ENABLE takes capability names");
			return;
		}
		if (strcasecmp(e, "CONDSTORE") == 0)
			bit = IMAP_EN_CONDSTORE;
		else if (strcasecmp(e, "QRESYNC") == 0)
			bit = IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE;
		else if (strcasecmp(e, "IMAP4rev2") == 0)
			bit = IMAP_EN_IMAP4REV2;
		else if (strcasecmp(e, "UTF8=ACCEPT") == 0)
			bit = IMAP_EN_UTF8;
		if (bit == 0 || (s->enabled & bit) == bit)
			continue;
		s->enabled |= bit;
		strbuf_addc(&b, ' ');
		strbuf_adds(&b, e);
	}
	log_debug("event=imap_enable session=%s before=%#x after=%#x",
		  conn_id(s->c), before, s->enabled);
	imap_untagged(s, "%s", b.data);
	strbuf_free(&b);
	imap_ok(s, NULL, "ENABLE completed");
}

void imap_cmd_unauthenticate(struct imap_session *s,
			     const struct imap_command *cmd)
{
	(void)cmd;
	imap_set_state(s, IMAP_NOT_AUTHENTICATED);
	free(s->user);
	s->user = NULL;
	s->enabled = 0;
	imap_auth_reset(s);
	imap_ok(s, NULL, "UNAUTHENTICATE completed");
}
