/*
 * smtp_client.c - the non-blocking SMTP client of smtp_client.h.
 *
 * lib/net.h has listeners only, so this file drives one libevent
 * bufferevent itself: a small state machine stepped by complete replies
 * (multi-line replies "250-..." are gathered up to their last line,
 * RFC 5321 4.2.1).  Every step has the same idle timeout.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "net.h"
#include "store/smtp_client.h"
#include "strbuf.h"

enum smtp_step {
	SMTP_GREETING = 0,
	SMTP_EHLO,
	SMTP_HELO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BODY,
	SMTP_QUIT,
};

struct smtp_send {
	struct smtp_send *next, **prevp; /* smtp_inflight */
	struct bufferevent *bev;
	enum smtp_step step;
	char *helo, *from, *rcpt;
	struct strbuf body; /* dot-stuffed, ends with CRLF.CRLF */
	struct strbuf last; /* last reply text */
	smtp_send_cb *cb;
	void *arg;
	int done;
};

/*
 * Sends in flight.  A send still running when the daemon stops (its loop
 * ends without waiting for outgoing SMTP) stays reachable from here
 * instead of being leaked; the process is exiting anyway.
 */
static struct smtp_send *smtp_inflight;

static void smtp_finish(struct smtp_send *s, int ok, const char *why)
{
	if (s->next != NULL)
		s->next->prevp = s->prevp;
	*s->prevp = s->next;
	if (!s->done) {
		s->done = 1;
		s->cb(s->arg, ok, why != NULL ? why : s->last.data);
	}
	bufferevent_free(s->bev);
	free(s->helo);
	free(s->from);
	free(s->rcpt);
	strbuf_free(&s->body);
	strbuf_free(&s->last);
	free(s);
}

static void smtp_cmd(struct smtp_send *s, enum smtp_step next, const char *fmt,
		     const char *arg)
{
	s->step = next;
	evbuffer_add_printf(bufferevent_get_output(s->bev), fmt, arg);
}

/* One complete reply with code.  Returns -1 when the session is over. */
static int smtp_step(struct smtp_send *s, int code)
{
	switch (s->step) {
	case SMTP_GREETING:
		if (code != 220)
			break;
		smtp_cmd(s, SMTP_EHLO, "EHLO %s\r\n", s->helo);
		return 0;
	case SMTP_EHLO:
		if (code >= 500 && code < 600) {
			smtp_cmd(s, SMTP_HELO, "HELO %s\r\n", s->helo);
			return 0;
		}
		/* fall through */
	case SMTP_HELO:
		if (code != 250)
			break;
		smtp_cmd(s, SMTP_MAIL, "MAIL FROM:<%s>\r\n", s->from);
		return 0;
	case SMTP_MAIL:
		if (code != 250)
			break;
		smtp_cmd(s, SMTP_RCPT, "RCPT TO:<%s>\r\n", s->rcpt);
		return 0;
	case SMTP_RCPT:
		if (code != 250 && code != 251)
			break;
		smtp_cmd(s, SMTP_DATA, "%s", "DATA\r\n");
		return 0;
	case SMTP_DATA:
		if (code != 354)
			break;
		s->step = SMTP_BODY;
		bufferevent_write(s->bev, s->body.data, s->body.len);
		return 0;
	case SMTP_BODY:
		if (code != 250)
			break;
		/* Accepted: report now, QUIT is a courtesy. */
		s->done = 1;
		s->cb(s->arg, 1, s->last.data);
		smtp_cmd(s, SMTP_QUIT, "%s", "QUIT\r\n");
		return 0;
	case SMTP_QUIT:
		return -1;
	}
	return -1;
}

static void smtp_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_send *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		int code = 0, more;

		if (len >= 3 && line[0] >= '1' && line[0] <= '5')
			code = atoi(line);
		more = len >= 4 && line[3] == '-';
		strbuf_reset(&s->last);
		strbuf_add(&s->last, line, len > 200 ? 200 : len);
		free(line);
		if (code == 0) {
			smtp_finish(s, 0, "malformed reply");
			return;
		}
		if (more)
			continue;
		if (smtp_step(s, code) < 0) {
			smtp_finish(s, 0, NULL);
			return;
		}
	}
	if (evbuffer_get_length(in) > 4096)
		smtp_finish(s, 0, "reply line too long");
}

static void smtp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_send *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT)
		smtp_finish(s, 0, "timeout");
	else if (s->step == SMTP_QUIT)
		smtp_finish(s, 1, NULL);
	else
		smtp_finish(s, 0,
			    what & BEV_EVENT_EOF ? "connection closed"
						 : "connection failed");
}

/* "host:port" / "[v6]:port" -> sockaddr (numeric, else resolved). */
static int smtp_resolve(const char *relay, struct sockaddr_storage *ss,
			socklen_t *len_r)
{
	const char *colon = strrchr(relay, ':');
	struct addrinfo hints, *res = NULL;
	char host[256];
	size_t hl;

	if (colon == NULL || colon == relay || colon[1] == '\0')
		return -1;
	hl = (size_t)(colon - relay);
	if (relay[0] == '[' && hl >= 2 && relay[hl - 1] == ']') {
		relay++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, relay, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The message, dot-stuffed with CRLF line ends (RFC 5321 4.5.2). */
static void smtp_stuff(struct strbuf *out, const char *p, size_t len)
{
	int bol = 1;

	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (bol && ch == '.')
			strbuf_addc(out, '.');
		if (ch == '\n' && (i == 0 || p[i - 1] != '\r'))
			strbuf_addc(out, '\r');
		strbuf_addc(out, ch);
		bol = ch == '\n';
	}
	if (!bol)
		strbuf_adds(out, "\r\n");
	strbuf_adds(out, ".\r\n");
}

int smtp_send(struct net *n, const struct smtp_msg *m, smtp_send_cb *cb,
	      void *arg, const char **why_r)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct smtp_send *s;
	struct timeval tv = {SMTP_CLIENT_TIMEOUT_SECONDS, 0};

	if (m->relay == NULL || smtp_resolve(m->relay, &ss, &sl) < 0) {
		*why_r = "bad or unresolvable sieve_relay";
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->helo = xstrdup(m->helo);
	s->from = xstrdup(m->from);
	s->rcpt = xstrdup(m->rcpt);
	s->cb = cb;
	s->arg = arg;
	strbuf_init(&s->body);
	strbuf_init(&s->last);
	if (m->prefix != NULL)
		smtp_stuff(&s->body, m->prefix, strlen(m->prefix));
	if (m->prefix != NULL)
		strbuf_truncate(&s->body, s->body.len - 3); /* no dot yet */
	smtp_stuff(&s->body, m->data, m->len);
	s->bev = bufferevent_socket_new(
	    net_base(n), -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		*why_r = "cannot create a socket";
		strbuf_free(&s->body);
		strbuf_free(&s->last);
		free(s->helo);
		free(s->from);
		free(s->rcpt);
		free(s);
		return -1;
	}
	s->next = smtp_inflight;
	if (s->next != NULL)
		s->next->prevp = &s->next;
	s->prevp = &smtp_inflight;
	smtp_inflight = s;
	bufferevent_setcb(s->bev, smtp_read_cb, NULL, smtp_event_cb, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	/* With deferred callbacks an immediate failure also arrives through
	 * the event callback, so cb never runs inside this call. */
	(void)bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss,
					 (int)sl);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return 0;
}
