/*
 * pop3_session.c - one POP3 connection: its state machine, input flow,
 * replies, and the per-process maildrop locks.
 *
 * RFC 1939 section 3: a session starts in AUTHORIZATION, enters
 * TRANSACTION once the client is identified and the maildrop is locked,
 * and reaches UPDATE only through QUIT.  A connection that ends any other
 * way releases its lock and changes nothing.  Commands are looked up in
 * pop3_cmd.c's table; this file never interprets a verb itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "store/pop3.h"
#include "store/store.h"

static const char *const state_names[] = {
    [POP3_AUTHORIZATION] = "authorization",
    [POP3_TRANSACTION] = "transaction",
    [POP3_UPDATE] = "update",
};

const char *pop3_state_name(enum pop3_state st)
{
	if ((unsigned)st >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[st];
}

void pop3_set_state(struct pop3_session *s, enum pop3_state st)
{
	log_debug("event=pop3_state session=%s old=%s new=%s", conn_id(s->c),
		  pop3_state_name(s->state), pop3_state_name(st));
	s->state = st;
}

/* --- replies ------------------------------------------------------------ */

static void reply(struct pop3_session *s, const char *status, const char *code,
		  const char *fmt, va_list ap)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_adds(&b, status);
	if (code != NULL)
		strbuf_printf(&b, " [%s]", code);
	if (fmt != NULL && fmt[0] != '\0') {
		strbuf_addc(&b, ' ');
		strbuf_vprintf(&b, fmt, ap);
	}
	strbuf_add(&b, "\r\n", 2);
	conn_write(s->c, b.data, b.len);
	strbuf_free(&b);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "+OK", NULL, fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "-ERR", code, fmt, ap);
	va_end(ap);
}

void pop3_hangup(struct pop3_session *s)
{
	s->closing = 1;
	conn_close(s->c);
}

void pop3_bad_command(struct pop3_session *s)
{
	if (++s->bad_commands < POP3_MAX_BAD_COMMANDS)
		return;
	log_info("event=pop3_too_many_bad_commands session=%s client=%s",
		 conn_id(s->c), s->client);
	pop3_err(s, NULL, "Too many bad commands, closing connection");
	pop3_hangup(s);
}

/* --- input flow --------------------------------------------------------- */

void pop3_pause(struct pop3_session *s)
{
	if (s->paused++ == 0)
		conn_pause(s->c);
}

void pop3_resume(struct pop3_session *s)
{
	if (s->paused == 0)
		return;
	if (--s->paused == 0 && !s->closing)
		conn_resume(s->c);
}

static void stall_fired(void *arg)
{
	struct pop3_session *s = arg;

	log_info("event=pop3_output_stalled session=%s pending=%zu",
		 conn_id(s->c), conn_output_pending(s->c));
	pop3_hangup(s);
}

void pop3_stall_arm(struct pop3_session *s)
{
	if (s->stall_timer == NULL)
		s->stall_timer = net_timer_new(conn_net(s->c), stall_fired, s);
	net_timer_start(s->stall_timer, POP3_STALL_MS, 0);
}

void pop3_stall_disarm(struct pop3_session *s)
{
	if (s->stall_timer != NULL)
		net_timer_stop(s->stall_timer);
}

static void flow_drained(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL || !s->flow_paused)
		return;
	s->flow_paused = 0;
	pop3_stall_disarm(s);
	pop3_resume(s);
}

/*
 * A client that pipelines commands without reading the replies must not
 * make us queue replies without bound: stop reading until they drain.
 * RETR/TOP streams do their own flow control.
 */
static void flow_check(struct pop3_session *s)
{
	if (s->closing || s->stream != NULL || s->flow_paused)
		return;
	if (conn_output_pending(s->c) <= POP3_OUTPUT_HIGH)
		return;
	s->flow_paused = 1;
	pop3_pause(s);
	pop3_stall_arm(s);
	conn_on_drain(s->c, POP3_OUTPUT_LOW, flow_drained);
}

/* --- maildrop locks ----------------------------------------------------- */

/*
 * A chained hash set keyed by the lower-cased user name.  Small, and only
 * touched at login and logout.
 */
#define LOCK_BUCKETS 256

struct pop3_lock {
	struct pop3_lock *next;
	const struct pop3_session *owner;
	char user[];
};

static struct pop3_lock *lock_table[LOCK_BUCKETS];

static unsigned lock_hash(const char *user)
{
	unsigned h = 5381;
	const unsigned char *p;

	for (p = (const unsigned char *)user; *p != '\0'; p++)
		h = h * 33 + (unsigned)(*p | 0x20);
	return h % LOCK_BUCKETS;
}

int pop3_lock_acquire(const char *user, const struct pop3_session *owner)
{
	unsigned h = lock_hash(user);
	struct pop3_lock *l;
	size_t len = strlen(user);

	for (l = lock_table[h]; l != NULL; l = l->next) {
		if (strcasecmp(l->user, user) == 0)
			return l->owner == owner ? 0 : -1;
	}
	l = xmalloc(sizeof(*l) + len + 1);
	memcpy(l->user, user, len + 1);
	l->owner = owner;
	l->next = lock_table[h];
	lock_table[h] = l;
	return 0;
}

void pop3_lock_release(const char *user, const struct pop3_session *owner)
{
	struct pop3_lock **lp, *l;

	for (lp = &lock_table[lock_hash(user)]; (l = *lp) != NULL;
	     lp = &l->next) {
		if (strcasecmp(l->user, user) == 0 && l->owner == owner) {
			*lp = l->next;
			free(l);
			return;
		}
	}
}

/* --- connection callbacks ---------------------------------------------- */

static int pop3_open(struct conn *c)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->st = conn_listener_arg(c);
	s->state = POP3_AUTHORIZATION;
	snprintf(s->client, sizeof(s->client), "%s", conn_peer(c));
	conn_set_ctx(c, s);
	conn_set_max_line(c, POP3_MAX_LINE);
	log_info("event=pop3_connect session=%s peer=%s tls=%d", conn_id(c),
		 conn_peer(c), conn_is_tls(c));
	/* RFC 1939 section 4; no APOP, so no timestamp in the banner. */
	pop3_ok(s, "%s Rookery POP3 server ready.",
		s->st != NULL && s->st->hostname != NULL ? s->st->hostname
							 : "localhost");
	return 0;
}

static void pop3_line(struct conn *c, char *line, size_t len)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL || s->closing)
		return;
	if (memchr(line, '\0', len) != NULL) {
		if (s->sasl_active) {
			pop3_auth_abort(s, "Invalid base64 data");
			return;
		}
		pop3_err(s, NULL, "Command contains a NUL byte");
		pop3_bad_command(s);
		return;
	}
	if (s->sasl_active)
		pop3_auth_continue(s, line);
	else
		pop3_cmd_dispatch(s, line);
	flow_check(s);
}

static void pop3_line_too_long(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL || s->closing)
		return;
	if (s->sasl_active) {
		pop3_auth_abort(s, "Authentication response too long");
		return;
	}
	pop3_err(s, NULL, "Line too long");
	pop3_bad_command(s);
}

static void pop3_timeout(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	s->closing = 1;
	/* RFC 1939 section 3: the autologout timer does not enter UPDATE. */
	pop3_err(s, NULL, "Disconnected for inactivity.");
}

static void pop3_shutdown(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	s->closing = 1;
	/* In the middle of RETR a goodbye line would land inside the
	 * message: the client sees the missing terminator instead.  A QUIT
	 * waiting for its deletions to reach the disk answers by itself. */
	if (s->stream == NULL && s->quit_wait == NULL &&
	    s->update_timer == NULL)
		pop3_err(s, "SYS/TEMP", "Server shutting down.");
}

static void pop3_tls_done(struct conn *c, int ok)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	log_info("event=pop3_starttls session=%s ok=%d", conn_id(c), ok);
	if (!ok) {
		s->closing = 1;
		return;
	}
	/* RFC 2595 section 4: state from before the handshake is forgotten;
	 * the capability list changes (no STLS, maybe USER and PLAIN). */
	pop3_auth_reset(s);
	s->bad_commands = 0;
}

static void pop3_close(struct conn *c, const char *reason)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	log_info("event=pop3_disconnect session=%s client=%s reason=%s "
		 "state=%s",
		 conn_id(c), s->client, reason, pop3_state_name(s->state));
	conn_on_drain(c, 0, NULL);
	pop3_update_finish(s);
	pop3_quit_wait_cancel(s);
	net_timer_free(&s->stall_timer);
	pop3_stream_free(&s->stream);
	/* Without QUIT nothing is expunged (RFC 1939 section 6). */
	pop3_md_free(&s->md);
	if (s->login != NULL) {
		pop3_lock_release(s->login, s);
		free(s->login);
	}
	pop3_auth_free(s);
	free(s->xc);
	conn_set_ctx(c, NULL);
	free(s);
}

const struct conn_ops pop3_conn_ops = {
    .proto = "pop3",
    .open = pop3_open,
    .line = pop3_line,
    .line_too_long = pop3_line_too_long,
    .timeout = pop3_timeout,
    .shutdown = pop3_shutdown,
    .tls_done = pop3_tls_done,
    .close = pop3_close,
};
