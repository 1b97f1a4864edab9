/*
 * imap_front.c - IMAP at the mux: the not-authenticated state (RFC 9051
 * section 6.1-6.2: CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN,
 * plus ID, RFC 2971) spoken by the mux itself, then the backend
 * dialogue: ID with the client's address (so the store logs the real
 * client), AUTHENTICATE PLAIN as the proxy identity with the user as
 * authzid (SASL-IR, RFC 4959), CAPABILITY, and the client's tagged OK
 * carrying the store's post-login capabilities.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "mux/front.h"
#include "mux/mux.h"
#include "mux/proxy.h"

#define IMAP_FRONT_MAX_LINE 8192

enum imap_bk_step { IBK_GREETING = 0, IBK_ID, IBK_AUTH, IBK_CAPA };

struct imap_front {
	struct front f;		/* first (front.h) */
	struct tokcmd tc;
	struct strbuf lit;	/* literal being read */
	char *tag;		/* the AUTHENTICATE/LOGIN being answered */
	enum imap_bk_step bk;
};

static void tagged(struct imap_front *s, const char *tag, const char *text)
{
	conn_printf(s->f.c, "%s %s\r\n", tag ? tag : "*", text);
}

/* Capabilities the mux states itself before login (write_caps), not
 * taken from a store's list. */
static int own_cap(const char *w, size_t n)
{
	static const char *const own[] = {
	    "IMAP4rev1", "SASL-IR", "ID", "LITERAL+", "LITERAL-",
	    "STARTTLS", "LOGINDISABLED"};

	if (n > 5 && strncasecmp(w, "AUTH=", 5) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
		if (strlen(own[i]) == n && strncasecmp(w, own[i], n) == 0)
			return 1;
	return 0;
}

/*
 * A store's post-login capability list, remembered for the pre-login
 * CAPABILITY of later clients: what they will have once logged in
 * (IMAP4rev2, IDLE, MOVE...), as a Cyrus frontend or Dovecot's proxy
 * lists it.  Clients that do not look again after login (not all read
 * the [CAPABILITY] of the login reply) would otherwise miss it.
 */
static void learn_caps(struct mux *m, const char *caps)
{
	struct strbuf b;
	const char *w = caps;

	strbuf_init(&b);
	while (*w != '\0') {
		size_t n = strcspn(w, " ");

		if (n > 0 && !own_cap(w, n))
			strbuf_printf(&b, " %.*s", (int)n, w);
		w += n;
		w += strspn(w, " ");
	}
	if (m->imap_caps == NULL || strcmp(m->imap_caps, b.data) != 0) {
		free(m->imap_caps);
		m->imap_caps = strbuf_steal(&b, NULL);
	}
	strbuf_free(&b);
}

static void write_caps(struct imap_front *s, struct strbuf *b)
{
	const char *p = front_mechanisms(&s->f);

	strbuf_adds(b, "IMAP4rev1 SASL-IR ID LITERAL+");
	if (s->f.m->imap_caps != NULL)
		strbuf_adds(b, s->f.m->imap_caps);
	if (!conn_is_tls(s->f.c) && s->f.m->has_tls)
		strbuf_adds(b, " STARTTLS");
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n > 0)
			strbuf_printf(b, " AUTH=%.*s", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
	if (!front_plaintext_ok(&s->f))
		strbuf_adds(b, " LOGINDISABLED");
}

/* --- the backend dialogue ---------------------------------------------- */

static enum proxy_login imap_login_line(struct proxy *p, char *line,
					size_t len)
{
	struct imap_front *s = p->front;
	const char *port, *end;
	char *resp;

	(void)len;
	switch (s->bk) {
	case IBK_GREETING:
		if (strncasecmp(line, "* OK", 4) != 0)
			return PROXY_LOGIN_FAIL;
		/* RFC 2971 fields as Dovecot and others read them: the
		 * store logs the real client */
		port = strrchr(conn_peer(p->c), ':');
		/* ID and AUTHENTICATE (SASL-IR) go in one write: the store
		 * runs them in order, and the login costs one round trip
		 * instead of three (the OK carries the capabilities) */
		resp = proxy_plain_response(p);
		proxy_backend_printf(
		    p,
		    "P1 ID (\"x-originating-ip\" \"%s\" "
		    "\"x-originating-port\" \"%s\" \"x-session-id\" \"%s\" "
		    "\"x-proxy\" \"rookery-mux\")\r\n"
		    "P2 AUTHENTICATE PLAIN %s\r\n",
		    conn_peer_ip(p->c), port != NULL ? port + 1 : "0",
		    conn_id(p->c), resp);
		explicit_bzero(resp, strlen(resp));
		free(resp);
		s->bk = IBK_ID;
		return PROXY_LOGIN_MORE;
	case IBK_ID:
		if (strncmp(line, "P1 ", 3) != 0)
			return PROXY_LOGIN_MORE; /* "* ID ..." */
		s->bk = IBK_AUTH;
		return PROXY_LOGIN_MORE;
	case IBK_AUTH:
		if (line[0] == '+') {
			resp = proxy_plain_response(p);
			proxy_backend_printf(p, "%s\r\n", resp);
			free(resp);
			return PROXY_LOGIN_MORE;
		}
		if (line[0] == '*')
			return PROXY_LOGIN_MORE;
		if (strncasecmp(line, "P2 OK", 5) != 0) {
			log_warnx("event=backend_login_refused session=%s "
				  "store=%s reply=%.80s",
				  conn_id(p->c), p->store, line);
			return PROXY_LOGIN_FAIL;
		}
		if (strncasecmp(line, "P2 OK [CAPABILITY ", 18) == 0 &&
		    (end = strchr(line + 18, ']')) != NULL) {
			strbuf_reset(&p->text);
			strbuf_add(&p->text, line + 18, (size_t)(end - line - 18));
			return PROXY_LOGIN_OK;
		}
		proxy_backend_printf(p, "P3 CAPABILITY\r\n");
		s->bk = IBK_CAPA;
		return PROXY_LOGIN_MORE;
	case IBK_CAPA:
		if (strncasecmp(line, "* CAPABILITY ", 13) == 0) {
			strbuf_reset(&p->text);
			strbuf_adds(&p->text, line + 13);
			return PROXY_LOGIN_MORE;
		}
		if (strncmp(line, "P3 ", 3) != 0)
			return PROXY_LOGIN_MORE;
		return PROXY_LOGIN_OK;
	}
	return PROXY_LOGIN_FAIL;
}

static void imap_ready(struct proxy *p)
{
	struct imap_front *s = p->front;

	if (p->text.len > 0) {
		conn_printf(p->c, "%s OK [CAPABILITY %s] Logged in\r\n",
			    s->tag, p->text.data);
		learn_caps(s->f.m, p->text.data);
	} else {
		tagged(s, s->tag, "OK Logged in");
	}
	/* spliced from here on: imap_line() reads nothing more, so the
	 * pre-auth buffers go now rather than when the session ends */
	free(s->tag);
	s->tag = NULL;
	strbuf_free(&s->lit);
}

static void imap_failed(struct proxy *p, enum proxy_fail why)
{
	struct imap_front *s = p->front;

	switch (why) {
	case PROXY_FAIL_TOO_MANY:
		tagged(s, s->tag, "NO [LIMIT] Too many sessions for this user");
		break;
	case PROXY_FAIL_NO_ROUTE:
		tagged(s, s->tag, "NO [UNAVAILABLE] No mail store for this "
				  "user");
		break;
	default:
		tagged(s, s->tag, "NO [UNAVAILABLE] Mail store unavailable, "
				  "try again later");
		break;
	}
	s->bk = IBK_GREETING;
}

static void imap_bye(struct proxy *p, const char *why)
{
	conn_printf(p->c, "* BYE [UNAVAILABLE] %s\r\n", why);
}

/*
 * The store closes after "* BYE" (LOGOUT, its own timeout): nothing to
 * add.  The BYE may not be in the tail when it rode behind a large FETCH
 * that was spliced (splice.c keeps no tail of bulk bytes), so a client
 * whose last command was LOGOUT ended cleanly too.
 */
static int imap_clean_end(const struct proxy *p)
{
	const char *up = p->up_tail;
	size_t n = strlen(up);

	if (strstr(p->down_tail, "* BYE") != NULL)
		return 1;
	return n >= 9 && strcasecmp(up + n - 8, "LOGOUT\r\n") == 0 &&
	       up[n - 9] == ' ';
}

static const struct proxy_proto imap_proxy = {
	.name = "imap",
	.svc = DIR_SVC_IMAP,
	.login_line = imap_login_line,
	.ready = imap_ready,
	.failed = imap_failed,
	.bye = imap_bye,
	.clean_end = imap_clean_end,
};

/* --- logins ------------------------------------------------------------------ */

static void set_tag(struct imap_front *s, const char *tag)
{
	free(s->tag);
	s->tag = xstrdup(tag);
}

static void login_ok(struct imap_front *s, const char *mech)
{
	char *user = xstrdup(front_user(&s->f));

	s->bk = IBK_GREETING;
	proxy_start(s->f.m, s->f.c, s, &imap_proxy, user, mech, &s->f.px);
	free(user);
}

static void auth_outcome(struct imap_front *s, enum saslsrv_result r,
			 char *challenge, const char *mech)
{
	struct strbuf b;

	if (r == SASLSRV_CONTINUE) {
		conn_printf(s->f.c, "+ %s\r\n", challenge ? challenge : "");
		free(challenge);
		return;
	}
	free(challenge);
	switch (r) {
	case SASLSRV_OK:
		login_ok(s, mech);
		return;
	case SASLSRV_TEMPFAIL:
		tagged(s, s->tag, "NO [UNAVAILABLE] Temporary authentication "
				  "failure, try again later");
		return;
	case SASLSRV_NO_MECH:
		tagged(s, s->tag, "NO Unsupported authentication mechanism");
		return;
	case SASLSRV_CANCEL:
		tagged(s, s->tag, "BAD Authentication cancelled");
		return;
	default:
		break;
	}
	strbuf_init(&b);
	strbuf_printf(&b, "%s %s\r\n", s->tag,
		      r == SASLSRV_BAD_INPUT
			  ? "BAD Invalid base64 data"
			  : "NO [AUTHENTICATIONFAILED] Authentication failed");
	front_failed(&s->f, front_who(&s->f), mech, b.data);
	strbuf_free(&b);
}

/* --- commands ------------------------------------------------------------------ */

static void cmd_capability(struct imap_front *s, const char *tag)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, "* CAPABILITY ");
	write_caps(s, &b);
	strbuf_printf(&b, "\r\n%s OK Capability completed\r\n", tag);
	conn_write(s->f.c, b.data, b.len);
	strbuf_free(&b);
}

static void cmd_noop(struct imap_front *s, const char *tag)
{
	tagged(s, tag, "OK NOOP completed");
}

static void cmd_logout(struct imap_front *s, const char *tag)
{
	conn_printf(s->f.c, "* BYE Logging out\r\n%s OK Logout completed\r\n",
		    tag);
	s->f.closing = 1;
	conn_close(s->f.c);
}

static void cmd_id(struct imap_front *s, const char *tag)
{
	conn_printf(s->f.c, "* ID (\"name\" \"Rookery\" \"role\" \"mux\")\r\n"
			    "%s OK ID completed\r\n", tag);
}

static void cmd_starttls(struct imap_front *s, const char *tag)
{
	if (conn_is_tls(s->f.c)) {
		tagged(s, tag, "BAD TLS is already active");
		return;
	}
	tagged(s, tag, "OK Begin TLS negotiation now");
	if (conn_starttls(s->f.c) < 0)
		tagged(s, "*", "BAD TLS is not available");
}

static void cmd_login(struct imap_front *s, const char *tag)
{
	const struct tok *u = &s->tc.t[2], *pw = &s->tc.t[3];
	enum saslsrv_result r;

	if (!front_plaintext_ok(&s->f)) {
		tagged(s, tag, "NO [PRIVACYREQUIRED] Plaintext login is "
			       "disabled without TLS");
		return;
	}
	if (u->type == TOK_LIST || pw->type == TOK_LIST ||
	    strlen(u->str) != u->len || strlen(pw->str) != pw->len) {
		tagged(s, tag, "BAD Invalid arguments");
		return;
	}
	set_tag(s, tag);
	r = front_checkpass(&s->f, u->str, pw->str);
	if (r == SASLSRV_OK) {
		login_ok(s, "LOGIN");
		return;
	}
	if (r == SASLSRV_TEMPFAIL) {
		tagged(s, tag, "NO [UNAVAILABLE] Temporary authentication "
			       "failure, try again later");
		return;
	}
	{
		char *reply = xasprintf("%s NO [AUTHENTICATIONFAILED] "
					"Authentication failed\r\n", tag);

		front_failed(&s->f, u->str, "LOGIN", reply);
		free(reply);
	}
}

static void cmd_authenticate(struct imap_front *s, const char *tag)
{
	const char *mech = tokcmd_str(&s->tc, 2);
	const char *ir = s->tc.n > 3 ? tokcmd_str(&s->tc, 3) : NULL;
	char *challenge = NULL, *m;
	enum saslsrv_result r;

	if (mech == NULL || s->tc.t[2].type != TOK_ATOM ||
	    (s->tc.n > 3 && ir == NULL)) {
		tagged(s, tag, "BAD Invalid arguments");
		return;
	}
	if (!front_plaintext_ok(&s->f) &&
	    (strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0)) {
		tagged(s, tag, "NO [PRIVACYREQUIRED] Plaintext authentication "
			       "is disabled without TLS");
		return;
	}
	set_tag(s, tag);
	m = xstrdup(mech);
	r = front_auth_start(&s->f, m, ir, &challenge);
	auth_outcome(s, r, challenge, m);
	free(m);
}

struct imap_front_cmd {
	const char *name;
	void (*fn)(struct imap_front *s, const char *tag);
	unsigned min_args, max_args;
};

static const struct imap_front_cmd imap_cmds[] = {
	{"CAPABILITY", cmd_capability, 0, 0},
	{"NOOP", cmd_noop, 0, 0},
	{"LOGOUT", cmd_logout, 0, 0},
	{"ID", cmd_id, 1, 1},
	{"STARTTLS", cmd_starttls, 0, 0},
	{"LOGIN", cmd_login, 2, 2},
	{"AUTHENTICATE", cmd_authenticate, 1, 2},
};

static void dispatch(struct imap_front *s)
{
	const char *tag = tokcmd_str(&s->tc, 0);
	const char *name = tokcmd_str(&s->tc, 1);
	unsigned args = s->tc.n >= 2 ? s->tc.n - 2 : 0;

	if (tag == NULL || s->tc.t[0].type != TOK_ATOM) {
		tagged(s, "*", "BAD Missing tag");
		goto bad;
	}
	if (name == NULL || s->tc.t[1].type != TOK_ATOM) {
		tagged(s, tag, "BAD Missing command");
		goto bad;
	}
	if (s->tc.error != NULL) {
		conn_printf(s->f.c, "%s BAD %s\r\n", tag, s->tc.error);
		goto bad;
	}
	for (size_t i = 0; i < sizeof(imap_cmds) / sizeof(imap_cmds[0]); i++) {
		if (strcasecmp(name, imap_cmds[i].name) != 0)
			continue;
		if (args < imap_cmds[i].min_args ||
		    args > imap_cmds[i].max_args) {
			tagged(s, tag, "BAD Wrong number of arguments");
			goto bad;
		}
		imap_cmds[i].fn(s, tag);
		return;
	}
	tagged(s, tag, "BAD Command unknown or not valid before login");
bad:
	if (front_bad_command(&s->f)) {
		conn_puts(s->f.c, "* BYE Too many bad commands\r\n");
		s->f.closing = 1;
		conn_close(s->f.c);
	}
}

static void literal_chunk(struct conn *c, const void *data, size_t len)
{
	struct imap_front *s = conn_ctx(c);

	strbuf_add(&s->lit, data, len);
}

static void literal_done(struct conn *c)
{
	struct imap_front *s = conn_ctx(c);

	tokcmd_literal(&s->tc, s->lit.data, s->lit.len);
	explicit_bzero(s->lit.data, s->lit.len);
	strbuf_reset(&s->lit);
}

static void sasl_response(struct imap_front *s, char *line, size_t len)
{
	char *challenge = NULL, *m = xstrdup(s->f.mech);
	enum saslsrv_result r;

	if (strlen(line) != len)
		r = SASLSRV_BAD_INPUT;
	else
		r = front_auth_step(&s->f, line, &challenge);
	explicit_bzero(line, len);
	if (r == SASLSRV_BAD_INPUT)
		front_tls_reset(&s->f);
	auth_outcome(s, r, challenge, m);
	free(m);
}

static void imap_line(struct conn *c, char *line, size_t len)
{
	struct imap_front *s = conn_ctx(c);
	enum tokcmd_result r;
	const char *tag;

	if (s->f.px != NULL || s->f.closing)
		return;
	if (s->f.mech != NULL) {
		sasl_response(s, line, len);
		return;
	}
	r = tokcmd_line(&s->tc, line, len);
	if (r == TOKCMD_LITERAL) {
		if (s->tc.literal_sync)
			conn_puts(c, "+ Ready for literal data\r\n");
		conn_read_literal(c, s->tc.literal_size, literal_chunk,
				  literal_done);
		return;
	}
	if (r == TOKCMD_ERROR) {
		tag = s->tc.n > 0 && s->tc.t[0].type == TOK_ATOM
			  ? s->tc.t[0].str
			  : "*";
		conn_printf(c, "%s BAD %s\r\n", tag, s->tc.error);
		tokcmd_clear(&s->tc);
		if (front_bad_command(&s->f)) {
			s->f.closing = 1;
			conn_close(c);
		}
		return;
	}
	dispatch(s);
	tokcmd_clear(&s->tc);
}

static int imap_open(struct conn *c)
{
	struct imap_front *s = xcalloc(1, sizeof(*s));
	struct mux *m = conn_listener_arg(c);
	struct strbuf b;

	conn_set_ctx(c, s);
	conn_set_max_line(c, IMAP_FRONT_MAX_LINE);
	tokcmd_init(&s->tc, 1);
	strbuf_init(&s->lit);
	if (front_init(&s->f, c, "imap") < 0) {
		conn_puts(c, "* BYE [UNAVAILABLE] Too many connections from "
			     "your address\r\n");
		s->f.closing = 1;
		conn_close(c);
		return 0;
	}
	strbuf_init(&b);
	strbuf_adds(&b, "* OK [CAPABILITY ");
	write_caps(s, &b);
	strbuf_printf(&b, "] %s Rookery IMAP ready\r\n", m->conf.hostname);
	conn_write(c, b.data, b.len);
	strbuf_free(&b);
	return 0;
}

static void imap_too_long(struct conn *c)
{
	struct imap_front *s = conn_ctx(c);

	if (s->f.mech != NULL) {
		char *m = xstrdup(s->f.mech);

		front_tls_reset(&s->f);
		auth_outcome(s, SASLSRV_BAD_INPUT, NULL, m);
		free(m);
		return;
	}
	tokcmd_clear(&s->tc);
	conn_puts(c, "* BAD Line too long\r\n");
	if (front_bad_command(&s->f)) {
		s->f.closing = 1;
		conn_close(c);
	}
}

static void imap_timeout(struct conn *c)
{
	struct imap_front *s = conn_ctx(c);

	if (s->f.px == NULL)
		conn_puts(c, "* BYE Autologout; idle for too long\r\n");
}

static void imap_shutdown(struct conn *c)
{
	struct imap_front *s = conn_ctx(c);

	if (s != NULL && s->f.px == NULL)
		conn_puts(c, "* BYE [UNAVAILABLE] Server shutting down\r\n");
}

static void imap_tls_done(struct conn *c, int ok)
{
	struct imap_front *s = conn_ctx(c);

	if (ok)
		front_tls_reset(&s->f);
}

static void imap_close(struct conn *c, const char *reason)
{
	struct imap_front *s = conn_ctx(c);

	if (s == NULL)
		return;
	front_cleanup(&s->f, reason);
	tokcmd_clear(&s->tc);
	strbuf_free(&s->lit);
	free(s->tag);
	free(s);
	conn_set_ctx(c, NULL);
}

const struct conn_ops mux_imap_ops = {
	.proto = "imap",
	.open = imap_open,
	.line = imap_line,
	.line_too_long = imap_too_long,
	.timeout = imap_timeout,
	.shutdown = imap_shutdown,
	.tls_done = imap_tls_done,
	.close = imap_close,
};
