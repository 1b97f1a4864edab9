/*
 * sieve_front.c - ManageSieve at the mux (RFC 5804): the capability
 * greeting, CAPABILITY, STARTTLS (capabilities again after it, section
 * 2.2), NOOP, LOGOUT and AUTHENTICATE, spoken by the mux itself; then,
 * to the store, XCLIENT with the client's address when its greeting
 * lists "XCLIENT" (Dovecot's proxy convention, lib/xclient.h: the store's
 * logs then name the real client), AUTHENTICATE "PLAIN" as the proxy
 * identity with the user as authzid, and the splice.  A store that
 * cannot be reached gives NO (TRYLATER).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "xclient.h"
#include "mux/front.h"
#include "mux/mux.h"
#include "mux/proxy.h"

#define SIEVE_FRONT_MAX_LINE 8192

struct sieve_front {
	struct front f;		/* first (front.h) */
	struct tokcmd tc;
	struct strbuf lit;
	int sent_auth;		/* backend: AUTHENTICATE sent */
	int sent_xclient;	/* backend: XCLIENT sent, reply awaited */
	int bk_xclient;		/* the store's greeting lists XCLIENT */
};

static void write_caps(struct sieve_front *s)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_printf(&b, "\"IMPLEMENTATION\" \"Rookery\"\r\n"
			  "\"SASL\" \"%s\"\r\n\"SIEVE\" \"%s\"\r\n",
		      front_mechanisms(&s->f), s->f.m->conf.sieve_extensions);
	if (strstr(s->f.m->conf.sieve_extensions, "enotify") != NULL)
		strbuf_adds(&b, "\"NOTIFY\" \"mailto\"\r\n");
	if (!conn_is_tls(s->f.c) && s->f.m->has_tls)
		strbuf_adds(&b, "\"STARTTLS\"\r\n");
	strbuf_adds(&b, "\"VERSION\" \"1.0\"\r\nOK \"Rookery ManageSieve "
			"ready\"\r\n");
	conn_write(s->f.c, b.data, b.len);
	strbuf_free(&b);
}

/* --- the backend dialogue ---------------------------------------------- */

static void sieve_send_auth(struct proxy *p)
{
	struct sieve_front *s = p->front;
	char *resp = proxy_plain_response(p);

	proxy_backend_printf(p, "AUTHENTICATE \"PLAIN\" \"%s\"\r\n", resp);
	free(resp);
	s->sent_auth = 1;
}

/* Sends XCLIENT for the client's address; 0 when there is none to send
 * (a client on a Unix socket). */
static int sieve_send_xclient(struct proxy *p)
{
	struct sieve_front *s = p->front;
	struct strbuf b;

	strbuf_init(&b);
	if (xclient_conn_args(&b, p->c, 0) < 0) {
		strbuf_free(&b);
		return 0;
	}
	proxy_backend_printf(p, "XCLIENT %s SESSION=%s\r\n", b.data,
			     conn_id(p->c));
	strbuf_free(&b);
	s->sent_xclient = 1;
	return 1;
}

static enum proxy_login sieve_login_line(struct proxy *p, char *line,
					 size_t len)
{
	struct sieve_front *s = p->front;
	char *resp;

	(void)len;
	if (s->sent_xclient) {
		/* A refusal only costs the store's logs the client's
		 * address: the login goes on.  A BYE ends it. */
		if (strncasecmp(line, "BYE", 3) == 0)
			return PROXY_LOGIN_FAIL;
		if (strncasecmp(line, "OK", 2) != 0)
			log_warnx("event=backend_xclient_refused session=%s "
				  "store=%s reply=%.80s",
				  conn_id(p->c), p->store, line);
		s->sent_xclient = 0;
		sieve_send_auth(p);
		return PROXY_LOGIN_MORE;
	}
	if (!s->sent_auth) {
		if (strncasecmp(line, "OK", 2) == 0) {
			if (!s->bk_xclient || !sieve_send_xclient(p))
				sieve_send_auth(p);
			return PROXY_LOGIN_MORE;
		}
		if (strcasecmp(line, "\"XCLIENT\"") == 0)
			s->bk_xclient = 1;
		if (line[0] == '"')
			return PROXY_LOGIN_MORE; /* a capability */
		return PROXY_LOGIN_FAIL;
	}
	if (strncasecmp(line, "OK", 2) == 0) {
		strbuf_reset(&p->text);
		strbuf_adds(&p->text, line);
		return PROXY_LOGIN_OK;
	}
	if (line[0] == '"' || line[0] == '{') {
		/* a challenge: PLAIN has none, answer with the response */
		resp = proxy_plain_response(p);
		proxy_backend_printf(p, "\"%s\"\r\n", resp);
		free(resp);
		return PROXY_LOGIN_MORE;
	}
	log_warnx("event=backend_login_refused session=%s store=%s reply=%.80s",
		  conn_id(p->c), p->store, line);
	return PROXY_LOGIN_FAIL;
}

static void sieve_ready(struct proxy *p)
{
	conn_printf(p->c, "%s\r\n", p->text.data);
}

static void sieve_failed(struct proxy *p, enum proxy_fail why)
{
	struct sieve_front *s = p->front;

	s->sent_auth = 0;
	s->sent_xclient = 0;
	s->bk_xclient = 0;
	if (why == PROXY_FAIL_TOO_MANY)
		conn_puts(p->c, "NO \"Too many sessions for this user\"\r\n");
	else
		conn_puts(p->c, "NO (TRYLATER) \"Mail store unavailable, try "
				"again later\"\r\n");
}

static void sieve_bye(struct proxy *p, const char *why)
{
	conn_printf(p->c, "BYE (TRYLATER) \"%s\"\r\n", why);
}

/* LOGOUT answered, or the store's own BYE. */
static int sieve_clean_end(const struct proxy *p)
{
	size_t n = strlen(p->up_tail);

	if (strstr(p->down_tail, "BYE") != NULL)
		return 1;
	return n >= 8 && strcasecmp(p->up_tail + n - 8, "LOGOUT\r\n") == 0;
}

static const struct proxy_proto sieve_proxy = {
	.name = "sieve",
	.svc = DIR_SVC_SIEVE,
	.login_line = sieve_login_line,
	.ready = sieve_ready,
	.failed = sieve_failed,
	.bye = sieve_bye,
	.clean_end = sieve_clean_end,
};

/* --- AUTHENTICATE ---------------------------------------------------------- */

static void auth_outcome(struct sieve_front *s, enum saslsrv_result r,
			 char *challenge, const char *mech)
{
	if (r == SASLSRV_CONTINUE) {
		conn_printf(s->f.c, "\"%s\"\r\n", challenge ? challenge : "");
		free(challenge);
		return;
	}
	free(challenge);
	switch (r) {
	case SASLSRV_OK: {
		char *user = xstrdup(front_user(&s->f));

		s->sent_auth = 0;
		s->sent_xclient = 0;
		s->bk_xclient = 0;
		proxy_start(s->f.m, s->f.c, s, &sieve_proxy, user, mech,
			    &s->f.px);
		free(user);
		return;
	}
	case SASLSRV_TEMPFAIL:
		conn_puts(s->f.c, "NO (TRYLATER) \"Temporary authentication "
				  "failure\"\r\n");
		return;
	case SASLSRV_NO_MECH:
		conn_puts(s->f.c, "NO \"Unsupported mechanism\"\r\n");
		return;
	case SASLSRV_CANCEL:
		conn_puts(s->f.c, "NO \"Authentication cancelled\"\r\n");
		return;
	default:
		front_failed(&s->f, front_who(&s->f), mech,
			     "NO \"Authentication failed\"\r\n");
		return;
	}
}

static void cmd_authenticate(struct sieve_front *s)
{
	const char *mech = tokcmd_str(&s->tc, 1);
	const char *ir = s->tc.n > 2 ? tokcmd_str(&s->tc, 2) : NULL;
	char *challenge = NULL, *m;
	enum saslsrv_result r;

	if (mech == NULL || s->tc.t[1].type != TOK_STRING ||
	    (s->tc.n > 2 && (ir == NULL || s->tc.t[2].type != TOK_STRING))) {
		conn_puts(s->f.c, "NO \"Syntax: AUTHENTICATE \\\"MECH\\\" "
				  "[\\\"initial\\\"]\"\r\n");
		return;
	}
	if (!front_plaintext_ok(&s->f) &&
	    (strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0)) {
		conn_puts(s->f.c, "NO (ENCRYPT-NEEDED) \"Plaintext "
				  "authentication needs TLS\"\r\n");
		return;
	}
	m = xstrdup(mech);
	r = front_auth_start(&s->f, m, ir, &challenge);
	auth_outcome(s, r, challenge, m);
	free(m);
}

static void dispatch(struct sieve_front *s)
{
	const char *name = tokcmd_str(&s->tc, 0);

	if (s->tc.error != NULL) {
		conn_printf(s->f.c, "NO \"%s\"\r\n", s->tc.error);
	} else if (name == NULL || s->tc.t[0].type != TOK_ATOM) {
		conn_puts(s->f.c, "NO \"Missing command\"\r\n");
	} else if (strcasecmp(name, "CAPABILITY") == 0) {
		write_caps(s);
		return;
	} else if (strcasecmp(name, "NOOP") == 0) {
		/* RFC 5804 section 2.11: an argument comes back as a TAG */
		const char *arg = tokcmd_str(&s->tc, 1);

		if (arg != NULL && s->tc.t[1].type == TOK_STRING &&
		    strlen(arg) == s->tc.t[1].len &&
		    strpbrk(arg, "\"\\") == NULL)
			conn_printf(s->f.c, "OK (TAG \"%s\") \"Done\"\r\n",
				    arg);
		else
			conn_puts(s->f.c, "OK \"NOOP completed\"\r\n");
		return;
	} else if (strcasecmp(name, "LOGOUT") == 0) {
		conn_puts(s->f.c, "OK \"Logout completed\"\r\n");
		s->f.closing = 1;
		conn_close(s->f.c);
		return;
	} else if (strcasecmp(name, "STARTTLS") == 0) {
		if (conn_is_tls(s->f.c)) {
			conn_puts(s->f.c, "NO \"TLS is already active\"\r\n");
		} else {
			conn_puts(s->f.c, "OK \"Begin TLS negotiation\"\r\n");
			if (conn_starttls(s->f.c) < 0)
				conn_puts(s->f.c, "NO \"TLS unavailable\"\r\n");
		}
		return;
	} else if (strcasecmp(name, "AUTHENTICATE") == 0) {
		cmd_authenticate(s);
		return;
	} else {
		conn_puts(s->f.c, "NO \"Authenticate first\"\r\n");
	}
	if (front_bad_command(&s->f)) {
		conn_puts(s->f.c, "BYE \"Too many bad commands\"\r\n");
		s->f.closing = 1;
		conn_close(s->f.c);
	}
}

static void literal_chunk(struct conn *c, const void *data, size_t len)
{
	struct sieve_front *s = conn_ctx(c);

	strbuf_add(&s->lit, data, len);
}

static void literal_done(struct conn *c)
{
	struct sieve_front *s = conn_ctx(c);

	tokcmd_literal(&s->tc, s->lit.data, s->lit.len);
	explicit_bzero(s->lit.data, s->lit.len);
	strbuf_reset(&s->lit);
}

/* A SASL response line: a string (quoted, or a literal already read). */
static void sasl_response(struct sieve_front *s)
{
	const char *resp = tokcmd_str(&s->tc, 0);
	char *challenge = NULL, *m = xstrdup(s->f.mech);
	enum saslsrv_result r;

	if (s->tc.error != NULL || s->tc.n != 1 || resp == NULL ||
	    s->tc.t[0].type != TOK_STRING || strlen(resp) != s->tc.t[0].len)
		r = SASLSRV_BAD_INPUT;
	else
		r = front_auth_step(&s->f, resp, &challenge);
	if (r == SASLSRV_BAD_INPUT)
		front_tls_reset(&s->f);
	auth_outcome(s, r, challenge, m);
	free(m);
}

static void sieve_line(struct conn *c, char *line, size_t len)
{
	struct sieve_front *s = conn_ctx(c);
	enum tokcmd_result r;

	if (s->f.px != NULL || s->f.closing)
		return;
	r = tokcmd_line(&s->tc, line, len);
	if (r == TOKCMD_LITERAL) {
		conn_read_literal(c, s->tc.literal_size, literal_chunk,
				  literal_done);
		return;
	}
	if (s->f.mech != NULL) {
		if (r == TOKCMD_ERROR)
			s->tc.error = s->tc.error ? s->tc.error : "syntax";
		sasl_response(s);
	} else if (r == TOKCMD_ERROR) {
		conn_printf(c, "NO \"%s\"\r\n", s->tc.error);
		if (front_bad_command(&s->f)) {
			s->f.closing = 1;
			conn_close(c);
		}
	} else {
		dispatch(s);
	}
	tokcmd_clear(&s->tc);
}

static int sieve_open(struct conn *c)
{
	struct sieve_front *s = xcalloc(1, sizeof(*s));

	conn_set_ctx(c, s);
	conn_set_max_line(c, SIEVE_FRONT_MAX_LINE);
	tokcmd_init(&s->tc, 0);
	strbuf_init(&s->lit);
	if (front_init(&s->f, c, "sieve") < 0) {
		conn_puts(c, "BYE (TRYLATER) \"Too many connections\"\r\n");
		s->f.closing = 1;
		conn_close(c);
		return 0;
	}
	write_caps(s);
	return 0;
}

static void sieve_too_long(struct conn *c)
{
	struct sieve_front *s = conn_ctx(c);

	tokcmd_clear(&s->tc);
	if (s->f.mech != NULL) {
		char *m = xstrdup(s->f.mech);

		front_tls_reset(&s->f);
		auth_outcome(s, SASLSRV_BAD_INPUT, NULL, m);
		free(m);
		return;
	}
	conn_puts(c, "NO \"Line too long\"\r\n");
	if (front_bad_command(&s->f)) {
		s->f.closing = 1;
		conn_close(c);
	}
}

static void sieve_timeout(struct conn *c)
{
	struct sieve_front *s = conn_ctx(c);

	if (s->f.px == NULL)
		conn_puts(c, "BYE \"Idle for too long\"\r\n");
}

static void sieve_tls_done(struct conn *c, int ok)
{
	struct sieve_front *s = conn_ctx(c);

	if (!ok)
		return;
	front_tls_reset(&s->f);
	write_caps(s);	/* RFC 5804 section 2.2 */
}

static void sieve_close(struct conn *c, const char *reason)
{
	struct sieve_front *s = conn_ctx(c);

	if (s == NULL)
		return;
	front_cleanup(&s->f, reason);
	tokcmd_clear(&s->tc);
	strbuf_free(&s->lit);
	free(s);
	conn_set_ctx(c, NULL);
}

const struct conn_ops mux_sieve_ops = {
	.proto = "sieve",
	.open = sieve_open,
	.line = sieve_line,
	.line_too_long = sieve_too_long,
	.timeout = sieve_timeout,
	.tls_done = sieve_tls_done,
	.close = sieve_close,
};
