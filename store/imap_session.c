/*
 * imap_session.c - one IMAP connection: its state, input (lines and
 * literals, APPEND literals streamed to spools), replies, timeouts.
 *
 * RFC 9051 3: a connection starts NOT AUTHENTICATED (no PREAUTH here),
 * becomes AUTHENTICATED after LOGIN/AUTHENTICATE, SELECTED while a
 * mailbox is open, and LOGOUT before the server closes it.  Commands are
 * looked up in imap_cmd.c's table; this file never interprets a verb.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineread.h"
#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/store.h"

static const char *const state_names[] = {
    [IMAP_NOT_AUTHENTICATED] = "not_authenticated",
    [IMAP_AUTHENTICATED] = "authenticated",
    [IMAP_SELECTED] = "selected",
    [IMAP_LOGOUT] = "logout",
};

const char *imap_state_name(enum imap_state st)
{
	if ((unsigned)st >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[st];
}

void imap_set_state(struct imap_session *s, enum imap_state st)
{
	log_debug("event=imap_state session=%s old=%s new=%s", conn_id(s->c),
		  imap_state_name(s->state), imap_state_name(st));
	if (s->state == IMAP_SELECTED && st != IMAP_SELECTED)
		imap_view_close(s);
	if (s->state == IMAP_NOT_AUTHENTICATED &&
	    st != IMAP_NOT_AUTHENTICATED && st != IMAP_LOGOUT) {
		/* RFC 9051 5.4: the autologout timer is at least 30 min */
		conn_set_idle_timeout(s->c, s->st->idle_timeout > 0
						? s->st->idle_timeout
						: IMAP_AUTH_TIMEOUT);
	}
	if (st == IMAP_NOT_AUTHENTICATED)
		conn_set_idle_timeout(s->c, IMAP_PREAUTH_TIMEOUT);
	s->state = st;
}

/* ---- replies ------------------------------------------------------------- */

void imap_write(struct imap_session *s, const void *data, size_t len)
{
	conn_write(s->c, data, len);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	strbuf_init(&b);
	strbuf_add(&b, "* ", 2);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	strbuf_add(&b, "\r\n", 2);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

static void tagged(struct imap_session *s, const char *status, const char *code,
		   const char *fmt, va_list ap)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_printf(&b, "%s %s ", s->tag != NULL ? s->tag : "*", status);
	if (code != NULL)
		strbuf_printf(&b, "[%s] ", code);
	strbuf_vprintf(&b, fmt, ap);
	strbuf_add(&b, "\r\n", 2);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
	imap_cmd_done(s);
}

/* RFC 3501 7.4.1 / RFC 9051 7.5.1: what may go out before the tag. */
static void pending_updates(struct imap_session *s)
{
	unsigned f;

	if (s->state != IMAP_SELECTED || s->view == NULL || s->cmd == NULL)
		return;
	f = s->cmd->flags;
	if (!(f & IMAP_CMDF_NOTIFY))
		return;
	imap_view_sync(s, (f & IMAP_CMDF_EXPUNGE) ||
			      (s->args != NULL && s->args->uid &&
			       (f & IMAP_CMDF_UID_EXPUNGE)));
}

void imap_ok(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	pending_updates(s);
	va_start(ap, fmt);
	tagged(s, "OK", code, fmt, ap);
	va_end(ap);
}

void imap_no(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	pending_updates(s);
	va_start(ap, fmt);
	tagged(s, "NO", code, fmt, ap);
	va_end(ap);
}

void imap_bad(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tagged(s, "BAD", code, fmt, ap);
	va_end(ap);
	if (++s->bad_commands >= IMAP_MAX_BAD_COMMANDS)
		imap_bye(s, "Too many invalid commands");
}

void imap_bad_tag(struct imap_session *s, const char *tag, const char *text)
{
	conn_printf(s->c, "%s BAD %s\r\n", tag, text);
	if (++s->bad_commands >= IMAP_MAX_BAD_COMMANDS)
		imap_bye(s, "Too many invalid commands");
}

void imap_bye(struct imap_session *s, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	if (s->closing)
		return;
	strbuf_init(&b);
	strbuf_adds(&b, "* BYE ");
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	strbuf_add(&b, "\r\n", 2);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
	s->closing = 1;
	conn_close(s->c);
}

/* ---- command lifetime ---------------------------------------------------- */

static void spools_free(struct imap_session *s)
{
	for (size_t i = 0; i < s->nspools; i++)
		mstore_spool_free(&s->spools[i]);
	s->nspools = 0;
}

static void command_forget(struct imap_session *s)
{
	imap_parser_reset(s->parser);
	spools_free(s);
}

void imap_cmd_wait(struct imap_session *s)
{
	if (!s->waiting) {
		s->waiting = 1;
		conn_pause(s->c);
	}
}

void imap_cmd_resume(struct imap_session *s)
{
	if (s->waiting) {
		s->waiting = 0;
		if (!s->closing && !s->flow_paused)
			conn_resume(s->c);
	}
}

static void flow_check(struct imap_session *s);

static void flow_drained(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL || !s->flow_paused)
		return;
	s->flow_paused = 0;
	if (s->fetch != NULL && !s->closing) {
		/* a streamed FETCH writes its next part; it ends the
		 * command (resuming input) once done */
		imap_fetch_continue(s);
		flow_check(s);
		if (s->flow_paused)
			return;
	}
	if (!s->waiting && !s->closing)
		conn_resume(c);
}

/*
 * A client that pipelines commands (or FETCHes a lot) without reading
 * the replies must not make us queue without bound: stop reading its
 * commands until the replies drain.
 */
static void flow_check(struct imap_session *s)
{
	if (s->closing || s->flow_paused ||
	    conn_output_pending(s->c) <= IMAP_OUTPUT_HIGH)
		return;
	s->flow_paused = 1;
	conn_pause(s->c);
	conn_on_drain(s->c, IMAP_OUTPUT_LOW, flow_drained);
}

void imap_cmd_done(struct imap_session *s)
{
	s->cmd = NULL;
	s->args = NULL;
	free(s->tag);
	s->tag = NULL;
	s->input = IMAP_INPUT_COMMAND;
	if (s->in_dispatch)
		return; /* the dispatcher forgets the command when it returns */
	command_forget(s);
	imap_cmd_resume(s);
}

/* ---- literals ------------------------------------------------------------ */

static void literal_mem_chunk(struct conn *c, const void *data, size_t len)
{
	struct imap_session *s = conn_ctx(c);

	if (s != NULL && !s->literal_failed &&
	    imap_parser_literal_data(s->parser, data, len) < 0)
		s->literal_failed = 1;
}

static void literal_mem_done(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	if (s->literal_failed) {
		/* the command is too big: refuse it, drop its tail */
		s->literal_failed = 0;
		conn_printf(c, "%s BAD %s\r\n", imap_parser_tag(s->parser),
			    imap_parser_error(s->parser));
		command_forget(s);
		s->skip_line = 1;
		return;
	}
	imap_parser_literal_end(s->parser);
}

static void literal_spool_chunk(struct conn *c, const void *data, size_t len)
{
	struct imap_session *s = conn_ctx(c);

	if (s != NULL && s->nspools > 0)
		mstore_spool_write(s->spools[s->nspools - 1], data, len);
}

static void literal_spool_done(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s != NULL && s->nspools > 0)
		mstore_spool_finish(s->spools[s->nspools - 1]);
}

static void literal_discard_done(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	s->skip_line = 1;
}

/*
 * A literal we will not take.  Synchronising: answer now, the client
 * sends nothing (RFC 9051 7.5).  Non-synchronising (RFC 7888 4): skip
 * its bytes and the rest of the command, then answer; past
 * IMAP_MAX_DISCARD_LITERAL hang up instead.
 */
static void literal_refuse(struct imap_session *s,
			   const struct imap_literal_info *li,
			   const char *status, const char *text)
{
	const char *tag = imap_parser_tag(s->parser);

	log_info("event=imap_literal_refused session=%s size=%llu nonsync=%d",
		 conn_id(s->c), (unsigned long long)li->size, li->nonsync);
	if (!li->nonsync) {
		conn_printf(s->c, "%s %s %s\r\n", tag, status, text);
		command_forget(s);
		return;
	}
	if (li->size > IMAP_MAX_DISCARD_LITERAL) {
		imap_bye(s, "Literal too large");
		return;
	}
	conn_printf(s->c, "%s %s %s\r\n", tag, status, text);
	command_forget(s);
	conn_read_literal(s->c, li->size, NULL, literal_discard_done);
}

static void literal_start(struct imap_session *s,
			  const struct imap_literal_info *li)
{
	const struct imap_cmd_def *def =
	    imap_cmd_lookup(imap_parser_name(s->parser));
	int stream =
	    def != NULL && (def->flags & IMAP_CMDF_STREAM) && !li->first_arg;

	if (stream) {
		struct mstore_spool *sp = NULL;

		if (s->state == IMAP_NOT_AUTHENTICATED) {
			literal_refuse(s, li, "BAD", "Not authenticated");
			return;
		}
		if (s->st->max_message_size != 0 &&
		    li->size > s->st->max_message_size) {
			literal_refuse(s, li, "NO",
				       "[TOOBIG] Message too large");
			return;
		}
		if (s->nspools >= sizeof(s->spools) / sizeof(s->spools[0])) {
			literal_refuse(
			    s, li, "NO",
			    "[LIMIT] Too many messages in one APPEND");
			return;
		}
		if (mstore_spool_new(s->st->ms, &sp) != MSTORE_OK) {
			literal_refuse(
			    s, li, "NO",
			    "[UNAVAILABLE] Cannot store the message");
			return;
		}
		s->spools[s->nspools++] = sp;
		imap_parser_literal_spool(s->parser, sp, li->size);
		if (!li->nonsync)
			conn_puts(s->c, "+ Ready for literal data\r\n");
		conn_read_literal(s->c, li->size, literal_spool_chunk,
				  literal_spool_done);
		return;
	}
	if (li->size > 1024 * 1024) {
		literal_refuse(s, li, "BAD", "Literal too large");
		return;
	}
	if (!li->nonsync)
		conn_puts(s->c, "+ Ready for literal data\r\n");
	conn_read_literal(s->c, li->size, literal_mem_chunk, literal_mem_done);
}

/* ---- connection callbacks ------------------------------------------------ */

static void command_line(struct imap_session *s, char *line, size_t len)
{
	struct imap_literal_info li;
	int r;

	r = imap_parser_line(s->parser, line, len, &li);
	if (r == IMAP_PARSE_MORE) {
		literal_start(s, &li);
		return;
	}
	if (r == IMAP_PARSE_ERROR) {
		char tag[80];

		snprintf(tag, sizeof(tag), "%s", imap_parser_tag(s->parser));
		log_debug("event=imap_parse_error session=%s error=\"%s\"",
			  conn_id(s->c), imap_parser_error(s->parser));
		conn_printf(s->c, "%s BAD %s\r\n", tag,
			    imap_parser_error(s->parser));
		command_forget(s);
		if (++s->bad_commands >= IMAP_MAX_BAD_COMMANDS)
			imap_bye(s, "Too many invalid commands");
		return;
	}
	s->in_dispatch = 1;
	imap_cmd_dispatch(s, imap_parser_command(s->parser));
	s->in_dispatch = 0;
	if (s->cmd == NULL) {
		command_forget(s);
		imap_cmd_resume(s);
	}
	flow_check(s);
}

static void imap_line(struct conn *c, char *line, size_t len)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL || s->closing)
		return;
	if (s->skip_line) {
		struct lineread_result res;

		/* the tail of a refused command; it may carry more literals */
		s->skip_line = 0;
		memset(&res, 0, sizeof(res));
		if (lineread_find_literal(line, len, &res) == 1) {
			struct imap_literal_info li = {
			    .pending = 1,
			    .nonsync = res.literal_nonsync,
			    .size = res.literal_size,
			};

			if (!li.nonsync)
				return;
			if (li.size > IMAP_MAX_DISCARD_LITERAL) {
				imap_bye(s, "Literal too large");
				return;
			}
			conn_read_literal(c, li.size, NULL,
					  literal_discard_done);
		}
		return;
	}
	switch (s->input) {
	case IMAP_INPUT_SASL:
		imap_auth_continue(s, line);
		return;
	case IMAP_INPUT_IDLE:
		imap_idle_line(s, line);
		return;
	case IMAP_INPUT_COMMAND:
		break;
	}
	command_line(s, line, len);
}

/*
 * The tag to answer an overlong line with: the running command's when
 * the line continued one (after a literal), else the tag at the start of
 * the discarded line if it is a valid tag followed by a space (RFC 9051
 * 9: tag = 1*<any ASTRING-CHAR except "+">), else "*".
 */
static const char *too_long_tag(struct imap_session *s, char tag[65])
{
	const char *p, *known = imap_parser_tag(s->parser);
	size_t n = conn_line_prefix(s->c, &p), i = 0;

	if (strcmp(known, "*") != 0)
		return known;
	while (i < n && i < 64 && p[i] > ' ' && p[i] < 0x7f &&
	       strchr("(){%*\"\\+", p[i]) == NULL)
		i++;
	if (i == 0 || i >= n || p[i] != ' ')
		return "*";
	memcpy(tag, p, i);
	tag[i] = '\0';
	return tag;
}

static void imap_line_too_long(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);
	char tag[65];

	if (s == NULL || s->closing)
		return;
	if (s->input == IMAP_INPUT_SASL) {
		imap_auth_continue(s, "*");
		return;
	}
	conn_printf(c, "%s BAD Line too long\r\n", too_long_tag(s, tag));
	command_forget(s);
	if (++s->bad_commands >= IMAP_MAX_BAD_COMMANDS)
		imap_bye(s, "Too many invalid commands");
}

static int imap_open(struct conn *c)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct imap_parser_params pp = {0};
	struct strbuf b;

	s->c = c;
	s->st = conn_listener_arg(c);
	s->state = IMAP_NOT_AUTHENTICATED;
	pp.max_line = IMAP_MAX_LINE;
	s->parser = imap_parser_new(&pp);
	conn_set_ctx(c, s);
	conn_set_max_line(c, IMAP_MAX_LINE);
	conn_set_idle_timeout(c, IMAP_PREAUTH_TIMEOUT);
	imap_view_hook_init(s->st);
	snprintf(s->client, sizeof(s->client), "%s", conn_peer(c));
	log_info("event=imap_connect session=%s peer=%s tls=%d", conn_id(c),
		 conn_peer(c), conn_is_tls(c));
	strbuf_init(&b);
	strbuf_adds(&b, "* OK [CAPABILITY ");
	imap_capabilities(s, &b);
	strbuf_printf(&b, "] %s Rookery IMAP4rev1 server ready\r\n",
		      s->st->hostname != NULL ? s->st->hostname : "localhost");
	conn_write(c, b.data, b.len);
	strbuf_free(&b);
	return 0;
}

static void imap_timeout(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	s->closing = 1;
	conn_puts(c, "* BYE Autologout; idle for too long\r\n");
}

static void imap_shutdown(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	s->closing = 1;
	conn_puts(c, "* BYE [UNAVAILABLE] Server shutting down\r\n");
}

static void imap_tls_done(struct conn *c, int ok)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	log_info("event=imap_starttls session=%s ok=%d", conn_id(c), ok);
	s->tls_pending = 0;
	if (!ok) {
		s->closing = 1;
		return;
	}
	imap_auth_reset(s);
	s->bad_commands = 0;
}

static void imap_close(struct conn *c, const char *reason)
{
	struct imap_session *s = conn_ctx(c);
	char qbuf[128];

	if (s == NULL)
		return;
	log_info("event=imap_disconnect session=%s client=%s reason=%s "
		 "state=%s user=%s",
		 conn_id(c), s->client, reason, imap_state_name(s->state),
		 log_q(qbuf, sizeof(qbuf), s->user ? s->user : "-"));
	conn_on_drain(c, 0, NULL);
	imap_append_abandon(s);
	imap_fetch_abandon(s);
	imap_job_abandon(s);
	imap_view_close(s);
	imap_auth_free(s);
	imap_parser_free(&s->parser);
	spools_free(s);
	free(s->tag);
	free(s->user);
	conn_set_ctx(c, NULL);
	free(s);
}

const struct conn_ops imap_conn_ops = {
    .proto = "imap",
    .open = imap_open,
    .line = imap_line,
    .line_too_long = imap_line_too_long,
    .timeout = imap_timeout,
    .shutdown = imap_shutdown,
    .tls_done = imap_tls_done,
    .close = imap_close,
};
