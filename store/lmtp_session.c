/*
 * lmtp_session.c - LMTP connections: the session state machine, replies,
 * input flow control and the conn_ops table (RFC 2033).
 *
 * Lifetime.  The framework owns struct conn; the session hangs off it.
 * When the connection goes while a delivery is in flight, the session
 * outlives it: s->c becomes NULL, replies are dropped, and the delivery
 * callback frees the session (lmtp_session_maybe_free()).  The message is
 * still delivered (it was received whole), which is safe: the client saw
 * no 250 and will retry, so at worst it is delivered twice, never lost.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp.h"
#include "net.h"
#include "store.h"

/* clang-format off */
static const char *const lmtp_state_names[] = {
	[LMTP_GREETED] = "greeted",
	[LMTP_READY] = "ready",
	[LMTP_MAIL] = "mail",
	[LMTP_RCPT] = "rcpt",
	[LMTP_DATA] = "data",
	[LMTP_DELIVERING] = "delivering",
};
/* clang-format on */

const char *lmtp_state_name(enum lmtp_state st)
{
	if ((size_t)st >= sizeof(lmtp_state_names) / sizeof(*lmtp_state_names))
		return "?";
	return lmtp_state_names[st];
}

void lmtp_set_state(struct lmtp_session *s, enum lmtp_state st)
{
	if (s->state == st)
		return;
	log_debug("event=lmtp_state session=%s old=%s new=%s",
		  s->c != NULL ? conn_id(s->c) : "-", lmtp_state_name(s->state),
		  lmtp_state_name(st));
	s->state = st;
}

void lmtp_reply(struct lmtp_session *s, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	if (s->c == NULL)
		return;
	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_debug("event=lmtp_reply session=%s reply=\"%.*s\"", conn_id(s->c),
		  (int)(b.len > 200 ? 200 : b.len), b.data);
	strbuf_add(&b, "\r\n", 2);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

void lmtp_hangup(struct lmtp_session *s)
{
	s->closing = 1;
	if (s->c != NULL)
		conn_close(s->c);
}

void lmtp_bad_command(struct lmtp_session *s)
{
	if (++s->bad_commands < LMTP_MAX_BAD_COMMANDS)
		return;
	log_info("event=lmtp_hangup session=%s reason=too_many_errors",
		 s->c != NULL ? conn_id(s->c) : "-");
	lmtp_reply(s, "421 4.7.0 %s too many errors, closing connection",
		   s->st->hostname);
	lmtp_hangup(s);
}

static void lmtp_rcpts_free(struct lmtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].user);
		free(s->rcpts[i].mailbox);
	}
	s->nrcpts = 0;
}

void lmtp_reset_transaction(struct lmtp_session *s)
{
	free(s->from);
	s->from = NULL;
	s->declared_size = 0;
	s->body_8bit = 0;
	lmtp_rcpts_free(s);
	lmtp_msg_free(&s->msg);
	if (s->state != LMTP_GREETED)
		lmtp_set_state(s, LMTP_READY);
}

/* --- flow control --------------------------------------------------------- */

void lmtp_pause(struct lmtp_session *s, unsigned reason)
{
	if (s->pause_reasons == 0 && s->c != NULL)
		conn_pause(s->c);
	s->pause_reasons |= reason;
}

void lmtp_resume(struct lmtp_session *s, unsigned reason)
{
	if ((s->pause_reasons & reason) == 0)
		return;
	s->pause_reasons &= ~reason;
	if (s->pause_reasons == 0 && s->c != NULL && !s->closing)
		conn_resume(s->c);
}

static void lmtp_output_drained(struct conn *c)
{
	struct lmtp_session *s = conn_ctx(c);

	if (s != NULL)
		lmtp_resume(s, LMTP_PAUSE_OUTPUT);
}

/* A client that pipelines without reading its replies (a flood) is made
 * to wait until it reads them: our output buffer stays bounded. */
static void lmtp_check_output(struct lmtp_session *s)
{
	if (s->c == NULL || s->closing)
		return;
	if (conn_output_pending(s->c) <= LMTP_OUTPUT_HIGH)
		return;
	lmtp_pause(s, LMTP_PAUSE_OUTPUT);
	conn_on_drain(s->c, LMTP_OUTPUT_LOW, lmtp_output_drained);
}

int lmtp_session_maybe_free(struct lmtp_session *s)
{
	if (s->c != NULL || s->state == LMTP_DELIVERING)
		return 0;
	lmtp_rcpts_free(s);
	free(s->rcpts);
	lmtp_msg_free(&s->msg);
	free(s->from);
	free(s->lhlo);
	free(s->xc);
	free(s);
	return 1;
}

/* --- conn_ops ------------------------------------------------------------- */

static int lmtp_open(struct conn *c)
{
	struct lmtp_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->st = conn_listener_arg(c);
	s->state = LMTP_GREETED;
	snprintf(s->client, sizeof(s->client), "%s", conn_peer(c));
	conn_set_ctx(c, s);
	conn_set_max_line(c, LMTP_MAX_LINE);
	if (s->st->idle_timeout != 0)
		conn_set_idle_timeout(c, s->st->idle_timeout);
	log_debug("event=lmtp_connect session=%s peer=%s", conn_id(c),
		  conn_peer(c));
	if (s->st->role == STORE_REPLICA) {
		/* DESIGN.md: a replica refuses client writes; the MX or the
		 * mux retries and reaches the primary. */
		lmtp_reply(s,
			   "421 4.3.2 %s is a replica, deliver to the "
			   "primary",
			   s->st->hostname);
		lmtp_hangup(s);
		return 0;
	}
	/* RFC 5321 4.2: the greeting names us; RFC 2033 4: it says LMTP. */
	lmtp_reply(s, "220 %s LMTP Rookery ready", s->st->hostname);
	return 0;
}

static void lmtp_line(struct conn *c, char *line, size_t len)
{
	struct lmtp_session *s = conn_ctx(c);

	if (s->closing)
		return;
	if (strlen(line) != len) {
		/* RFC 5321 4.1.1: commands are text; a NUL is never valid. */
		lmtp_reply(s, "500 5.5.2 NUL byte in command line");
		lmtp_bad_command(s);
		return;
	}
	lmtp_cmd_dispatch(s, line);
	lmtp_check_output(s);
}

static void lmtp_line_too_long(struct conn *c)
{
	struct lmtp_session *s = conn_ctx(c);

	if (s->closing)
		return;
	lmtp_reply(s, "500 5.5.2 line too long");
	lmtp_bad_command(s);
	lmtp_check_output(s);
}

static void lmtp_timeout(struct conn *c)
{
	struct lmtp_session *s = conn_ctx(c);

	log_info("event=lmtp_timeout session=%s state=%s", conn_id(c),
		 lmtp_state_name(s->state));
	lmtp_reply(s, "421 4.4.2 %s idle timeout, closing connection",
		   s->st->hostname);
	s->closing = 1;
}

static void lmtp_shutdown(struct conn *c)
{
	struct lmtp_session *s = conn_ctx(c);

	/* In the middle of DATA or while the commit runs, a 421 would be
	 * read as the reply to the message: say nothing then. */
	if (s->state == LMTP_DATA || s->state == LMTP_DELIVERING)
		return;
	lmtp_reply(s, "421 4.3.2 %s shutting down", s->st->hostname);
	lmtp_hangup(s);
}

static void lmtp_close(struct conn *c, const char *reason)
{
	struct lmtp_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	log_info("event=lmtp_disconnect session=%s client=%s reason=%s "
		 "state=%s messages=%u",
		 conn_id(c), s->client, reason, lmtp_state_name(s->state),
		 s->transactions);
	conn_set_ctx(c, NULL);
	s->c = NULL;
	s->closing = 1;
	lmtp_session_maybe_free(s);
}

const struct conn_ops lmtp_conn_ops = {
    .proto = "lmtp",
    .open = lmtp_open,
    .line = lmtp_line,
    .line_too_long = lmtp_line_too_long,
    .timeout = lmtp_timeout,
    .shutdown = lmtp_shutdown,
    .tls_done = NULL,
    .close = lmtp_close,
};
