/*
 * managesieve_session.c - one ManageSieve connection (RFC 5804): the
 * state machine, replies, capabilities, STARTTLS, and the input path
 * (lines through the parser, literals streamed into it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "net.h"
#include "sasl.h"
#include "sieve/managesieve.h"
#include "sieve/sieve.h"
#include "store/mailstore_sieve.h"
#include "store/store.h"

/* A literal bigger than this is not read at all: the session ends. */
#define MSV_HOPELESS_LITERAL (64ULL * 1024 * 1024)

static const char *const state_names[] = {
    [MSV_NONAUTH] = "nonauth",
    [MSV_SASL] = "sasl",
    [MSV_AUTHED] = "authed",
    [MSV_LOGOUT] = "logout",
};

const char *msv_state_name(enum msv_state st)
{
	if ((unsigned)st >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[st];
}

void msv_set_state(struct msv_session *s, enum msv_state st)
{
	log_debug("event=managesieve_state session=%s old=%s new=%s",
		  conn_id(s->c), msv_state_name(s->state), msv_state_name(st));
	s->state = st;
	if (st == MSV_AUTHED)
		conn_set_idle_timeout(s->c, MSV_AUTHED_IDLE_SECONDS);
	else if (st == MSV_NONAUTH)
		conn_set_idle_timeout(s->c, MSV_PREAUTH_IDLE_SECONDS);
}

/* --- replies ---------------------------------------------------------------
 */

void msv_add_string(struct strbuf *b, const char *str, size_t len)
{
	int literal = len > MSV_MAX_QUOTED;

	for (size_t i = 0; !literal && i < len; i++)
		if (str[i] == '\r' || str[i] == '\n' || str[i] == '\0')
			literal = 1;
	if (literal) {
		strbuf_printf(b, "{%zu}\r\n", len);
		strbuf_add(b, str, len);
		return;
	}
	strbuf_addc(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			strbuf_addc(b, '\\');
		strbuf_addc(b, str[i]);
	}
	strbuf_addc(b, '"');
}

static void reply(struct msv_session *s, const char *word, const char *code,
		  const char *text)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, word);
	if (code != NULL)
		strbuf_printf(&b, " (%s)", code);
	if (text != NULL) {
		strbuf_addc(&b, ' ');
		msv_add_string(&b, text, strlen(text));
	}
	strbuf_adds(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

void msv_ok(struct msv_session *s, const char *code, const char *text)
{
	reply(s, "OK", code, text);
}

void msv_no(struct msv_session *s, const char *code, const char *fmt, ...)
{
	struct strbuf t;
	va_list ap;

	strbuf_init(&t);
	va_start(ap, fmt);
	strbuf_vprintf(&t, fmt, ap);
	va_end(ap);
	reply(s, "NO", code, t.data);
	strbuf_free(&t);
}

void msv_bye(struct msv_session *s, const char *code, const char *text)
{
	reply(s, "BYE", code, text);
}

void msv_hangup(struct msv_session *s)
{
	if (s->state != MSV_LOGOUT)
		msv_set_state(s, MSV_LOGOUT);
	conn_close(s->c);
}

void msv_bad_command(struct msv_session *s)
{
	if (++s->bad_commands < MSV_MAX_BAD_COMMANDS)
		return;
	log_info("event=managesieve_too_many_bad_commands session=%s client=%s",
		 conn_id(s->c), s->client);
	msv_bye(s, NULL, "Too many bad commands");
	msv_hangup(s);
}

void msv_capabilities(struct msv_session *s)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, "\"IMPLEMENTATION\" \"Rookery ManageSieve\"\r\n");
	if (s->state != MSV_AUTHED) {
		const char *mechs = "";

		if (s->sasl == NULL)
			s->sasl = saslsrv_new("sieve", s->c);
		if (s->sasl != NULL)
			mechs = saslsrv_mechanisms(s->sasl);
		strbuf_adds(&b, "\"SASL\" ");
		msv_add_string(&b, mechs, strlen(mechs));
		strbuf_adds(&b, "\r\n");
	}
	strbuf_printf(&b, "\"SIEVE\" \"%s\"\r\n", sieve_capabilities());
	if (s->state != MSV_AUTHED && !conn_is_tls(s->c))
		strbuf_adds(&b, "\"STARTTLS\"\r\n");
	if (s->state == MSV_AUTHED && s->user != NULL) {
		strbuf_adds(&b, "\"OWNER\" ");
		msv_add_string(&b, s->user, strlen(s->user));
		strbuf_adds(&b, "\r\n");
	}
	/* Dovecot's proxy convention, only to the peers that may use it
	 * (lib/xclient.h) */
	if (s->state != MSV_AUTHED && !s->auth_begun && xclient_trusted(s->c))
		strbuf_adds(&b, "\"XCLIENT\"\r\n");
	strbuf_adds(&b, "\"UNAUTHENTICATE\"\r\n\"VERSION\" \"1.0\"\r\nOK\r\n");
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

/* --- failed logins ----------------------------------------------------- */

#define MSV_MAX_FAIL_DELAY_MS 15000

static void delay_done(void *arg)
{
	struct msv_session *s = arg;

	if (s->delayed_reply != NULL)
		conn_puts(s->c, s->delayed_reply);
	free(s->delayed_reply);
	s->delayed_reply = NULL;
	if (s->close_after_delay) {
		msv_bye(s, NULL, "Too many authentication failures");
		msv_hangup(s);
		return;
	}
	conn_resume(s->c);
}

void msv_auth_failed(struct msv_session *s, const char *text)
{
	unsigned delay = s->st != NULL ? s->st->auth_fail_delay_ms : 0;
	struct strbuf b;

	s->auth_failures++;
	for (unsigned i = 1;
	     i < s->auth_failures && delay < MSV_MAX_FAIL_DELAY_MS; i++)
		delay *= 2;
	if (delay > MSV_MAX_FAIL_DELAY_MS)
		delay = MSV_MAX_FAIL_DELAY_MS;
	s->close_after_delay = s->auth_failures >= MSV_MAX_AUTH_FAILURES;
	strbuf_init(&b);
	strbuf_adds(&b, "NO ");
	msv_add_string(&b, text, strlen(text));
	strbuf_adds(&b, "\r\n");
	free(s->delayed_reply);
	s->delayed_reply = strbuf_steal(&b, NULL);
	if (delay == 0) {
		conn_pause(s->c);
		delay_done(s);
		return;
	}
	if (s->delay_timer == NULL)
		s->delay_timer = net_timer_new(conn_net(s->c), delay_done, s);
	conn_pause(s->c);
	net_timer_start(s->delay_timer, delay, 0);
}

/* --- input ------------------------------------------------------------------
 */

static void msv_line(struct conn *c, char *line, size_t len);

static void literal_chunk(struct conn *c, const void *data, size_t len)
{
	struct msv_session *s = conn_ctx(c);

	msv_cmd_literal(&s->cmd, data, len);
}

static void literal_done(struct conn *c)
{
	struct msv_session *s = conn_ctx(c);

	s->in_literal = 0;
}

static void run_command(struct msv_session *s)
{
	if (s->state == MSV_SASL)
		msv_sasl_continue(s);
	else
		msv_dispatch(s);
	msv_cmd_reset(&s->cmd);
}

static void msv_line(struct conn *c, char *line, size_t len)
{
	struct msv_session *s = conn_ctx(c);
	enum msv_parse r;

	if (s->state == MSV_LOGOUT)
		return;
	r = msv_cmd_line(&s->cmd, line, len);
	switch (r) {
	case MSV_PARSE_LITERAL:
		if (s->cmd.literal_size > MSV_HOPELESS_LITERAL) {
			msv_bye(s, NULL, "Literal too big");
			msv_hangup(s);
			return;
		}
		/* RFC 5804 4: {N+} is non-synchronising; timsieved clients
		 * send {N} the same way, so no continuation either way. */
		s->in_literal = 1;
		conn_read_literal(c, s->cmd.literal_size, literal_chunk,
				  literal_done);
		return;
	case MSV_PARSE_DONE:
		run_command(s);
		return;
	case MSV_PARSE_ERROR:
		if (s->state == MSV_SASL) {
			msv_set_state(s, MSV_NONAUTH);
			msv_no(s, NULL, "Authentication aborted: %s",
			       s->cmd.error);
		} else if (s->cmd.literal_drop) {
			msv_no(s, "QUOTA/MAXSIZE", "Literal too big");
		} else {
			msv_no(s, NULL, "%s", s->cmd.error);
			msv_bad_command(s);
		}
		msv_cmd_reset(&s->cmd);
		return;
	}
}

static void msv_line_too_long(struct conn *c)
{
	struct msv_session *s = conn_ctx(c);

	msv_cmd_reset(&s->cmd);
	if (s->state == MSV_SASL)
		msv_set_state(s, MSV_NONAUTH);
	msv_no(s, NULL, "Line too long");
	msv_bad_command(s);
}

/* --- connection events ------------------------------------------------------
 */

static int msv_open(struct conn *c)
{
	struct msv_session *s = xcalloc(1, sizeof(*s));
	struct msv_params p = {0};
	const struct net_listen_spec *spec = conn_listen_spec(c);
	struct msieve_limits lim;
	char *err = NULL;

	s->c = c;
	s->st = conn_listener_arg(c);
	snprintf(s->client, sizeof(s->client), "%s", conn_peer(c));
	s->legacy = spec != NULL && spec->legacy;
	msieve_limits_load(s->st != NULL ? s->st->sec : NULL, &lim);
	if (config_get_bool(s->st != NULL ? s->st->sec : NULL,
			    "sieve_extended_codes", 0, &s->extended_codes,
			    &err) < 0) {
		log_warnx("event=config_warning error=\"%s\"", err);
		free(err);
		s->extended_codes = 0;
	}
	p.max_literal = lim.max_script_size;
	msv_cmd_init(&s->cmd, &p);
	conn_set_ctx(c, s);
	s->state = MSV_NONAUTH;
	conn_set_idle_timeout(c, MSV_PREAUTH_IDLE_SECONDS);
	log_info("event=managesieve_connect session=%s peer=%s legacy=%d",
		 conn_id(c), conn_peer(c), s->legacy);
	msv_capabilities(s);
	return 0;
}

static void msv_timeout(struct conn *c)
{
	struct msv_session *s = conn_ctx(c);

	msv_bye(s, NULL, "Idle for too long");
}

static void msv_shutdown(struct conn *c)
{
	struct msv_session *s = conn_ctx(c);

	msv_bye(s, "TRYLATER", "Server shutting down");
	msv_hangup(s);
}

static void msv_tls_done(struct conn *c, int ok)
{
	struct msv_session *s = conn_ctx(c);

	if (!ok)
		return;
	/* The mechanisms may change with TLS: start afresh. */
	saslsrv_free(&s->sasl);
	log_info("event=managesieve_starttls session=%s", conn_id(c));
	/* RFC 5804 2.2: the server sends capabilities after the handshake;
	 * Mulberry (a "legacy" listener) does not expect them. */
	if (!s->legacy)
		msv_capabilities(s);
}

static void msv_close(struct conn *c, const char *reason)
{
	struct msv_session *s = conn_ctx(c);
	char ub[128];

	if (s == NULL)
		return;
	log_info("event=managesieve_close session=%s client=%s user=%s "
		 "reason=%s",
		 conn_id(c), s->client,
		 log_q(ub, sizeof(ub), s->user ? s->user : "-"), reason);
	msv_auth_free(s);
	free(s->xc);
	msv_cmd_free(&s->cmd);
	net_timer_free(&s->delay_timer);
	free(s->delayed_reply);
	free(s);
	conn_set_ctx(c, NULL);
}

const struct conn_ops managesieve_conn_ops = {
    .proto = "managesieve",
    .open = msv_open,
    .line = msv_line,
    .line_too_long = msv_line_too_long,
    .timeout = msv_timeout,
    .shutdown = msv_shutdown,
    .tls_done = msv_tls_done,
    .close = msv_close,
};
