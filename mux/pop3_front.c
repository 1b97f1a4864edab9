/*
 * pop3_front.c - POP3 at the mux: the AUTHORIZATION state (RFC 1939,
 * RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH) spoken by the mux itself,
 * then the backend login and the splice (proxy.c).  The backend dialogue:
 * greeting, CAPA, XCLIENT with the client's address when the store lists
 * it (Dovecot's proxy convention, lib/xclient.h: the store's logs then
 * name the real client), AUTH PLAIN with the user as authzid.  After
 * login the store answers everything, CAPA included.
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

#define POP3_FRONT_MAX_LINE 8192	/* SASL responses may be long */

enum pop3_bk_step { P3BK_GREETING = 0, P3BK_CAPA, P3BK_XCLIENT, P3BK_AUTH };

struct pop3_front {
	struct front f;		/* first (front.h) */
	char *user;		/* from USER */
	enum pop3_bk_step bk;	/* the backend dialogue */
	int bk_xclient;		/* the store's CAPA lists XCLIENT */
};

static void p3_ok(struct conn *c, const char *text)
{
	conn_printf(c, "+OK %s\r\n", text);
}

static void p3_err(struct conn *c, const char *code, const char *text)
{
	if (code != NULL)
		conn_printf(c, "-ERR [%s] %s\r\n", code, text);
	else
		conn_printf(c, "-ERR %s\r\n", text);
}

/* --- the backend dialogue ---------------------------------------------- */

static void pop3_send_auth(struct proxy *p)
{
	struct pop3_front *s = p->front;
	char *resp = proxy_plain_response(p);

	proxy_backend_printf(p, "AUTH PLAIN %s\r\n", resp);
	free(resp);
	s->bk = P3BK_AUTH;
}

/* The store's CAPA is over: XCLIENT first if it takes it. */
static void pop3_send_xclient(struct proxy *p)
{
	struct pop3_front *s = p->front;
	struct strbuf b;

	strbuf_init(&b);
	if (!s->bk_xclient || xclient_conn_args(&b, p->c, 0) < 0) {
		strbuf_free(&b);
		pop3_send_auth(p);
		return;
	}
	proxy_backend_printf(p, "XCLIENT %s SESSION=%s\r\n", b.data,
			     conn_id(p->c));
	strbuf_free(&b);
	s->bk = P3BK_XCLIENT;
}

static enum proxy_login pop3_login_line(struct proxy *p, char *line,
					size_t len)
{
	struct pop3_front *s = p->front;
	char *resp;

	(void)len;
	switch (s->bk) {
	case P3BK_GREETING:
		if (strncmp(line, "+OK", 3) != 0)
			return PROXY_LOGIN_FAIL;
		s->bk_xclient = 0;
		proxy_backend_printf(p, "CAPA\r\n");
		s->bk = P3BK_CAPA;
		return PROXY_LOGIN_MORE;
	case P3BK_CAPA:
		/* "+OK", capability lines, "." (RFC 2449 section 5); a
		 * store without CAPA says -ERR: no XCLIENT then */
		if (strncmp(line, "-ERR", 4) == 0) {
			pop3_send_auth(p);
		} else if (strcmp(line, ".") == 0) {
			pop3_send_xclient(p);
		} else if (strncasecmp(line, "XCLIENT", 7) == 0 &&
			   (line[7] == '\0' || line[7] == ' ')) {
			s->bk_xclient = 1;
		}
		return PROXY_LOGIN_MORE;
	case P3BK_XCLIENT:
		/* A refusal only costs the store's logs the client's
		 * address: the login goes on. */
		if (strncmp(line, "+OK", 3) != 0)
			log_warnx("event=backend_xclient_refused session=%s "
				  "store=%s reply=%.80s",
				  conn_id(p->c), p->store, line);
		pop3_send_auth(p);
		return PROXY_LOGIN_MORE;
	case P3BK_AUTH:
		break;
	}
	if (strncmp(line, "+OK", 3) == 0) {
		strbuf_reset(&p->text);
		strbuf_adds(&p->text, line);
		return PROXY_LOGIN_OK;
	}
	if (line[0] == '+' && (line[1] == ' ' || line[1] == '\0')) {
		/* a store without the initial response */
		resp = proxy_plain_response(p);
		proxy_backend_printf(p, "%s\r\n", resp);
		free(resp);
		return PROXY_LOGIN_MORE;
	}
	log_warnx("event=backend_login_refused session=%s store=%s reply=%.80s",
		  conn_id(p->c), p->store, line);
	return PROXY_LOGIN_FAIL;
}

static void pop3_ready(struct proxy *p)
{
	conn_printf(p->c, "%s\r\n", p->text.data);
}

static void pop3_failed(struct proxy *p, enum proxy_fail why)
{
	switch (why) {
	case PROXY_FAIL_NO_ROUTE:
		p3_err(p->c, "SYS/PERM", "No mail store for this user");
		break;
	case PROXY_FAIL_TOO_MANY:
		p3_err(p->c, "IN-USE", "Too many sessions for this user");
		break;
	default:
		p3_err(p->c, "SYS/TEMP",
		       "Mail store unavailable, try again later");
		break;
	}
}

static void pop3_bye(struct proxy *p, const char *why)
{
	p3_err(p->c, "SYS/TEMP", why);
}

/* QUIT answered +OK, or the store hung up with its own -ERR. */
static int pop3_clean_end(const struct proxy *p)
{
	const char *last = p->down_tail, *q;
	size_t n = strlen(p->up_tail);

	for (q = p->down_tail; (q = strstr(q, "\r\n")) != NULL; q += 2)
		if (q[2] != '\0')
			last = q + 2;
	if (strncmp(last, "-ERR", 4) == 0)
		return 1;
	return n >= 6 && strcasecmp(p->up_tail + n - 6, "QUIT\r\n") == 0 &&
	       strncmp(last, "+OK", 3) == 0;
}

static const struct proxy_proto pop3_proxy = {
	.name = "pop3",
	.svc = DIR_SVC_POP3,
	.login_line = pop3_login_line,
	.ready = pop3_ready,
	.failed = pop3_failed,
	.bye = pop3_bye,
	.clean_end = pop3_clean_end,
};

/* --- commands -------------------------------------------------------------- */

static void login_ok(struct pop3_front *s, const char *mech)
{
	char *user = xstrdup(front_user(&s->f));

	s->bk = P3BK_GREETING;
	proxy_start(s->f.m, s->f.c, s, &pop3_proxy, user, mech, &s->f.px);
	free(user);
}

static void auth_outcome(struct pop3_front *s, enum saslsrv_result r,
			 char *challenge, const char *mech)
{
	if (r == SASLSRV_CONTINUE) {
		conn_printf(s->f.c, "+ %s\r\n", challenge ? challenge : "");
		free(challenge);
		return;
	}
	free(challenge);
	switch (r) {
	case SASLSRV_OK:
		login_ok(s, mech);
		break;
	case SASLSRV_TEMPFAIL:
		p3_err(s->f.c, "SYS/TEMP", "Temporary authentication failure");
		break;
	case SASLSRV_NO_MECH:
		p3_err(s->f.c, NULL, "Unsupported authentication mechanism");
		break;
	case SASLSRV_CANCEL:
		p3_err(s->f.c, NULL, "Authentication cancelled");
		break;
	case SASLSRV_BAD_INPUT:
		front_failed(&s->f, front_who(&s->f), mech,
			     "-ERR Invalid base64 data\r\n");
		break;
	default:
		front_failed(&s->f, front_who(&s->f), mech,
			     "-ERR [AUTH] Authentication failed\r\n");
		break;
	}
}

static void cmd_capa(struct pop3_front *s, char *arg)
{
	const char *mechs = front_mechanisms(&s->f);
	struct strbuf b;

	(void)arg;
	strbuf_init(&b);
	strbuf_adds(&b, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
			"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (front_plaintext_ok(&s->f))
		strbuf_adds(&b, "USER\r\n");
	if (mechs[0] != '\0')
		strbuf_printf(&b, "SASL %s\r\n", mechs);
	if (!conn_is_tls(s->f.c) && s->f.m->has_tls)
		strbuf_adds(&b, "STLS\r\n");
	strbuf_adds(&b, "IMPLEMENTATION Rookery-mux\r\n.\r\n");
	conn_write(s->f.c, b.data, b.len);
	strbuf_free(&b);
}

static void cmd_stls(struct pop3_front *s, char *arg)
{
	(void)arg;
	if (conn_is_tls(s->f.c)) {
		p3_err(s->f.c, NULL, "Already using TLS");
		return;
	}
	p3_ok(s->f.c, "Begin TLS negotiation");
	if (conn_starttls(s->f.c) < 0) {
		p3_err(s->f.c, NULL, "TLS not available");
		return;
	}
}

static void cmd_user(struct pop3_front *s, char *arg)
{
	if (!front_plaintext_ok(&s->f)) {
		p3_err(s->f.c, "AUTH", "Plaintext authentication disallowed "
				       "on non-secure connections");
		return;
	}
	free(s->user);
	s->user = xstrdup(arg);
	p3_ok(s->f.c, "Send your password");
}

static void cmd_pass(struct pop3_front *s, char *arg)
{
	enum saslsrv_result r;
	char *user = s->user;

	if (user == NULL) {
		p3_err(s->f.c, NULL, "No username given");
		return;
	}
	s->user = NULL;
	if (!front_plaintext_ok(&s->f)) {
		p3_err(s->f.c, "AUTH", "Plaintext authentication disallowed "
				       "on non-secure connections");
		free(user);
		return;
	}
	r = front_checkpass(&s->f, user, arg);
	explicit_bzero(arg, strlen(arg));
	if (r == SASLSRV_OK)
		login_ok(s, "USER");
	else if (r == SASLSRV_TEMPFAIL)
		p3_err(s->f.c, "SYS/TEMP", "Temporary authentication failure");
	else
		front_failed(&s->f, user, "USER",
			     "-ERR [AUTH] Authentication failed\r\n");
	free(user);
}

static void cmd_auth(struct pop3_front *s, char *arg)
{
	char *mech, *initial, *challenge = NULL;
	enum saslsrv_result r;

	if (arg == NULL || arg[0] == '\0') {
		/* RFC 1734 style listing */
		const char *p = front_mechanisms(&s->f);
		struct strbuf b;

		strbuf_init(&b);
		strbuf_adds(&b, "+OK Supported mechanisms follow\r\n");
		for (; *p != '\0'; p++)
			strbuf_add(&b, *p == ' ' ? "\r\n" : p,
				   *p == ' ' ? 2 : 1);
		strbuf_adds(&b, "\r\n.\r\n");
		conn_write(s->f.c, b.data, b.len);
		strbuf_free(&b);
		return;
	}
	mech = arg;
	initial = strchr(arg, ' ');
	if (initial != NULL) {
		*initial++ = '\0';
		if (strchr(initial, ' ') != NULL) {
			p3_err(s->f.c, NULL, "Syntax error");
			return;
		}
	}
	if (!front_plaintext_ok(&s->f) &&
	    (strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0)) {
		p3_err(s->f.c, "AUTH", "Plaintext authentication disallowed "
				       "on non-secure connections");
		return;
	}
	r = front_auth_start(&s->f, mech, initial, &challenge);
	auth_outcome(s, r, challenge, mech);
}

static void cmd_quit(struct pop3_front *s, char *arg)
{
	(void)arg;
	p3_ok(s->f.c, "Bye");
	s->f.closing = 1;
	conn_close(s->f.c);
}

static void cmd_noop_unauth(struct pop3_front *s, char *arg)
{
	(void)arg;
	p3_err(s->f.c, NULL, "Not logged in");
}

struct pop3_front_cmd {
	const char *name;
	void (*fn)(struct pop3_front *s, char *arg);
	int needs_arg;
};

static const struct pop3_front_cmd pop3_cmds[] = {
	{"CAPA", cmd_capa, 0},
	{"STLS", cmd_stls, 0},
	{"USER", cmd_user, 1},
	{"PASS", cmd_pass, 1},
	{"AUTH", cmd_auth, 0},
	{"QUIT", cmd_quit, 0},
	{"NOOP", cmd_noop_unauth, 0},
	{"STAT", cmd_noop_unauth, 0},
	{"LIST", cmd_noop_unauth, 0},
	{"RETR", cmd_noop_unauth, 0},
	{"UIDL", cmd_noop_unauth, 0},
};

static void pop3_line(struct conn *c, char *line, size_t len)
{
	struct pop3_front *s = conn_ctx(c);
	const char *mech = s->f.mech;
	char *arg;
	size_t n;

	if (s->f.px != NULL || s->f.closing)
		return;
	if (strlen(line) != len) {
		if (mech != NULL) {
			char *m = xstrdup(mech);

			front_tls_reset(&s->f);
			front_failed(&s->f, NULL, m,
				     "-ERR Invalid base64 data\r\n");
			free(m);
		} else {
			p3_err(c, NULL, "NUL byte in command");
		}
		return;
	}
	if (mech != NULL) {
		char *challenge = NULL, *m = xstrdup(mech);
		enum saslsrv_result r = front_auth_step(&s->f, line,
							&challenge);

		explicit_bzero(line, len);
		auth_outcome(s, r, challenge, m);
		free(m);
		return;
	}
	n = strcspn(line, " ");
	arg = line[n] == ' ' ? line + n + 1 : NULL;
	line[n] = '\0';
	for (size_t i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); i++) {
		if (strcasecmp(line, pop3_cmds[i].name) != 0)
			continue;
		if (pop3_cmds[i].needs_arg && (arg == NULL || *arg == '\0')) {
			p3_err(c, NULL, "Missing argument");
			return;
		}
		pop3_cmds[i].fn(s, arg);
		return;
	}
	p3_err(c, NULL, "Unknown command");
	if (front_bad_command(&s->f)) {
		s->f.closing = 1;
		conn_close(c);
	}
}

static int pop3_open(struct conn *c)
{
	struct pop3_front *s = xcalloc(1, sizeof(*s));
	struct mux *m = conn_listener_arg(c);

	conn_set_ctx(c, s);
	conn_set_max_line(c, POP3_FRONT_MAX_LINE);
	if (front_init(&s->f, c, "pop") < 0) {
		p3_err(c, "SYS/TEMP", "Too many connections from your address");
		s->f.closing = 1;
		conn_close(c);
		return 0;
	}
	conn_printf(c, "+OK %s Rookery POP3 ready\r\n", m->conf.hostname);
	return 0;
}

static void pop3_too_long(struct conn *c)
{
	struct pop3_front *s = conn_ctx(c);

	if (s->f.mech != NULL) {
		char *m = xstrdup(s->f.mech);

		front_tls_reset(&s->f);
		front_failed(&s->f, NULL, m, "-ERR Response too long\r\n");
		free(m);
		return;
	}
	p3_err(c, NULL, "Line too long");
	if (front_bad_command(&s->f)) {
		s->f.closing = 1;
		conn_close(c);
	}
}

static void pop3_timeout(struct conn *c)
{
	p3_err(c, NULL, "Autologout; idle for too long");
}

static void pop3_shutdown(struct conn *c)
{
	struct pop3_front *s = conn_ctx(c);

	if (s != NULL && s->f.px == NULL)
		p3_err(c, "SYS/TEMP", "Server shutting down");
}

static void pop3_tls_done(struct conn *c, int ok)
{
	struct pop3_front *s = conn_ctx(c);

	if (!ok)
		return;
	/* RFC 2595 section 4: forget what was said before TLS */
	free(s->user);
	s->user = NULL;
	front_tls_reset(&s->f);
}

static void pop3_close(struct conn *c, const char *reason)
{
	struct pop3_front *s = conn_ctx(c);

	if (s == NULL)
		return;
	front_cleanup(&s->f, reason);
	free(s->user);
	free(s);
	conn_set_ctx(c, NULL);
}

const struct conn_ops mux_pop3_ops = {
	.proto = "pop3",
	.open = pop3_open,
	.line = pop3_line,
	.line_too_long = pop3_too_long,
	.timeout = pop3_timeout,
	.shutdown = pop3_shutdown,
	.tls_done = pop3_tls_done,
	.close = pop3_close,
};
