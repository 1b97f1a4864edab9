/*
 * lmtp_front.c - LMTP at the mux (RFC 2033): the client side.
 *
 * The mux accepts the envelope itself, routes every RCPT to its store
 * (route.c) and opens one backend session per store and transaction
 * (lmtp_relay.c), which replays MAIL and then the RCPTs; each RCPT reply
 * is the store's own.  DATA is answered 354 by the mux and the message
 * is streamed, still dot-stuffed, to every store holding an accepted
 * recipient; the per-recipient replies (RFC 2033 4.2) come back in the
 * client's RCPT order.  A store that cannot be reached yields
 * "451 4.4.1" for its recipients, so the MX queues and retries.
 *
 * While a command waits for a store, client input is paused, so
 * pipelined commands (RFC 2920) are answered in order.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "xclient.h"
#include "mux/lmtp.h"
#include "mux/mux.h"
#include "mux/proxy.h"

#define LMTP_FRONT_MAX_LINE 4096
#define LMTP_BODY_HIGH (512 * 1024)

enum lmtp_wait {
	WAIT_NONE = 0,
	WAIT_RCPT,	/* the last RCPT's reply */
	WAIT_DATA,	/* backends answering DATA */
	WAIT_BODY,	/* streaming (flow control only) */
	WAIT_RESULTS,	/* per-recipient replies */
};

struct lmtp_front {
	struct conn *c;
	struct mux *m;
	int lhlo_done;
	struct lmtp_origin origin;	/* the client, for XCLIENT */
	char *mail;			/* the MAIL command line */
	struct lmtp_rcpt **rcpts;
	size_t n_rcpts;
	struct lmtp_bk *bks;
	enum lmtp_wait wait;
	struct lmtp_rcpt *wait_rcpt;
	struct lmtp_scan scan;
	int body_paused;
	int ip_counted;
};

static void reply(struct lmtp_front *s, const char *text)
{
	conn_printf(s->c, "%s\r\n", text);
}

static void txn_reset(struct lmtp_front *s)
{
	struct lmtp_bk *k, *next;

	for (k = s->bks; k != NULL; k = next) {
		next = k->next;
		lmtp_bk_close(k);
	}
	s->bks = NULL;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		struct lmtp_rcpt *r = s->rcpts[i];

		free(r->line);
		free(r->addr);
		free(r->reply);
		free(r->result);
		free(r);
	}
	free(s->rcpts);
	s->rcpts = NULL;
	s->n_rcpts = 0;
	free(s->mail);
	s->mail = NULL;
	s->wait = WAIT_NONE;
	s->wait_rcpt = NULL;
}

/* --- the waits -------------------------------------------------------------- */

static int all_bks(struct lmtp_front *s, int data_phase)
{
	for (struct lmtp_bk *k = s->bks; k != NULL; k = k->next) {
		if (data_phase && k->state == BK_DATA)
			return 0;
		if (!data_phase && k->state == BK_RESULTS)
			return 0;
	}
	return 1;
}

static void send_results(struct lmtp_front *s)
{
	for (size_t i = 0; i < s->n_rcpts; i++) {
		struct lmtp_rcpt *r = s->rcpts[i];

		if (!r->accepted)
			continue;
		if (r->result == NULL)
			conn_puts(s->c, LMTP_TEMPFAIL "\r\n");
		else
			conn_puts(s->c, r->result);
		if (r->result == NULL || r->result[0] == '4')
			s->m->stats.lmtp_tempfail++;
	}
	log_info("event=lmtp_delivered session=%s rcpts=%zu", conn_id(s->c),
		 s->n_rcpts);
	txn_reset(s);
	conn_set_line_mode(s->c);
	conn_resume(s->c);
}

void lmtp_front_progress(struct lmtp_front *s)
{
	switch (s->wait) {
	case WAIT_RCPT:
		if (s->wait_rcpt->reply == NULL)
			return;
		conn_puts(s->c, s->wait_rcpt->reply);
		if (s->wait_rcpt->reply[0] == '4')
			s->m->stats.lmtp_tempfail++;
		s->wait = WAIT_NONE;
		s->wait_rcpt = NULL;
		conn_resume(s->c);
		return;
	case WAIT_DATA:
		if (!all_bks(s, 1))
			return;
		reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
		s->wait = WAIT_BODY;
		lmtp_scan_init(&s->scan);
		conn_resume(s->c);
		return;
	case WAIT_RESULTS:
		if (all_bks(s, 0))
			send_results(s);
		return;
	default:
		return;
	}
}

void lmtp_front_drained(struct lmtp_front *s)
{
	if (s->wait != WAIT_BODY || !s->body_paused)
		return;
	for (struct lmtp_bk *k = s->bks; k != NULL; k = k->next)
		if (lmtp_bk_pending(k) > LMTP_BODY_HIGH)
			return;
	s->body_paused = 0;
	conn_resume(s->c);
}

/* --- the body ----------------------------------------------------------------- */

static void body_raw(struct conn *c, struct evbuffer *in)
{
	struct lmtp_front *s = conn_ctx(c);
	struct evbuffer_iovec v;
	size_t n, end;

	while (s->wait == WAIT_BODY && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		end = lmtp_scan(&s->scan, v.iov_base, v.iov_len);
		n = end == (size_t)-1 ? v.iov_len : end;
		for (struct lmtp_bk *k = s->bks; k != NULL; k = k->next)
			lmtp_bk_body(k, v.iov_base, n);
		evbuffer_drain(in, n);
		if (end != (size_t)-1) {
			s->wait = WAIT_RESULTS;
			conn_pause(c);
			for (struct lmtp_bk *k = s->bks; k != NULL;
			     k = k->next)
				lmtp_bk_body_end(k);
			lmtp_front_progress(s);
			return;
		}
	}
	for (struct lmtp_bk *k = s->bks; k != NULL; k = k->next) {
		if (lmtp_bk_pending(k) > LMTP_BODY_HIGH) {
			s->body_paused = 1;
			conn_pause(c);
			return;
		}
	}
}

/* --- commands ------------------------------------------------------------------ */

/* The client's address and LHLO name, xtext-encoded once for XCLIENT to
 * every store of every transaction (lmtp_relay.c). */
static void origin_set(struct lmtp_front *s, const char *lhlo)
{
	struct strbuf b;

	if (s->origin.addr == NULL) {
		strbuf_init(&b);
		if (xclient_conn_args(&b, s->c, 1) == 0) {
			/* "ADDR=a PORT=p" */
			char *sp = strchr(b.data, ' ');

			if (sp != NULL) {
				s->origin.port = xstrdup(sp + 6);
				*sp = '\0';
			}
			s->origin.addr = xstrdup(b.data + 5);
		}
		strbuf_free(&b);
	}
	free(s->origin.helo);
	s->origin.helo = NULL;
	/* the store takes a HELO of printable characters, 255 at most
	 * (lib/xclient.h); anything else is better not sent than sent
	 * and refused with the address */
	if (strlen(lhlo) > XCLIENT_MAX_VALUE)
		return;
	for (const char *p = lhlo; *p != '\0'; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return;
	strbuf_init(&b);
	xclient_xtext_encode(&b, lhlo);
	s->origin.helo = strbuf_steal(&b, NULL);
}

static void cmd_lhlo(struct lmtp_front *s, const char *arg)
{
	if (arg == NULL || *arg == '\0') {
		reply(s, "501 5.5.4 LHLO needs a domain");
		return;
	}
	txn_reset(s);
	s->lhlo_done = 1;
	origin_set(s, arg);
	conn_printf(s->c,
		    "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
		    "250 8BITMIME\r\n",
		    s->m->conf.hostname);
}

static void cmd_mail(struct lmtp_front *s, const char *line, const char *arg)
{
	if (!s->lhlo_done) {
		reply(s, "503 5.5.1 Send LHLO first");
		return;
	}
	if (s->mail != NULL) {
		reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (arg == NULL || strncasecmp(arg, "FROM:", 5) != 0 ||
	    strchr(arg, '<') == NULL) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	s->mail = xstrdup(line);
	reply(s, "250 2.1.0 Ok");
}

/* "TO:<a@b> params" -> "a@b"; NULL on bad syntax. */
static char *rcpt_addr(const char *arg)
{
	const char *lt, *gt;

	if (arg == NULL || strncasecmp(arg, "TO:", 3) != 0)
		return NULL;
	lt = strchr(arg, '<');
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (gt == NULL || gt == lt + 1)
		return NULL;
	return xstrndup(lt + 1, (size_t)(gt - lt - 1));
}

/* The directory knows users, not sub-addresses: a+detail@d -> a@d. */
static char *route_key(const char *addr)
{
	const char *at = strrchr(addr, '@');
	const char *plus = strchr(addr, '+');

	if (at == NULL || plus == NULL || plus > at)
		return xstrdup(addr);
	return xasprintf("%.*s%s", (int)(plus - addr), addr, at);
}

static struct lmtp_bk *bk_for(struct lmtp_front *s, const struct route *rt)
{
	struct lmtp_bk *k;

	for (k = s->bks; k != NULL; k = k->next)
		if (strcmp(k->store, rt->store) == 0)
			return k;
	k = lmtp_bk_open(s, s->m, rt->store, rt->addr, s->m->conf.hostname,
			 s->mail, &s->origin);
	k->next = s->bks;
	s->bks = k;
	return k;
}

static void cmd_rcpt(struct lmtp_front *s, const char *line, const char *arg)
{
	struct lmtp_rcpt *r;
	enum route_result rr;
	struct route rt;
	char *addr, *key;

	if (s->mail == NULL) {
		reply(s, "503 5.5.1 Need MAIL first");
		return;
	}
	if ((addr = rcpt_addr(arg)) == NULL) {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (s->n_rcpts >= s->m->conf.lmtp_max_rcpt) {
		free(addr);
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	s->m->stats.lmtp_rcpts++;
	key = route_key(addr);
	rr = route_resolve(s->m, key, DIR_SVC_LMTP, 0, &rt);
	free(key);
	if (rr == ROUTE_NO_USER) {
		conn_printf(s->c, "550 5.1.1 <%s>: no such user here\r\n",
			    addr);
		free(addr);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->line = xstrdup(line);
	r->addr = addr;
	s->rcpts = xrealloc(s->rcpts, (s->n_rcpts + 1) * sizeof(*s->rcpts));
	s->rcpts[s->n_rcpts++] = r;
	if (rr != ROUTE_OK) {
		r->reply = xstrdup(LMTP_TEMPFAIL "\r\n");
	} else {
		r->bk = bk_for(s, &rt);
		route_clear(&rt);
		lmtp_bk_rcpt(r->bk, r);
	}
	s->wait = WAIT_RCPT;
	s->wait_rcpt = r;
	conn_pause(s->c);
	lmtp_front_progress(s);
}

static void cmd_data(struct lmtp_front *s)
{
	size_t accepted = 0;

	if (s->mail == NULL) {
		reply(s, "503 5.5.1 Need MAIL first");
		return;
	}
	for (size_t i = 0; i < s->n_rcpts; i++)
		accepted += s->rcpts[i]->accepted;
	if (accepted == 0) {
		reply(s, "503 5.5.1 No valid recipients");
		return;
	}
	conn_pause(s->c);
	conn_set_raw(s->c, body_raw);
	s->wait = WAIT_DATA;
	for (struct lmtp_bk *k = s->bks; k != NULL; k = k->next)
		lmtp_bk_data(k);
	lmtp_front_progress(s);
}

static void lmtp_line(struct conn *c, char *line, size_t len)
{
	struct lmtp_front *s = conn_ctx(c);
	char *verb = xstrdup(line), *arg;
	size_t n;

	if (strlen(line) != len) {
		reply(s, "500 5.5.2 NUL byte in command");
		free(verb);
		return;
	}
	n = strcspn(verb, " ");
	arg = verb[n] == ' ' ? verb + n + 1 : NULL;
	verb[n] = '\0';
	if (strcasecmp(verb, "LHLO") == 0)
		cmd_lhlo(s, arg);
	else if (strcasecmp(verb, "MAIL") == 0)
		cmd_mail(s, line, arg);
	else if (strcasecmp(verb, "RCPT") == 0)
		cmd_rcpt(s, line, arg);
	else if (strcasecmp(verb, "DATA") == 0)
		cmd_data(s);
	else if (strcasecmp(verb, "RSET") == 0) {
		txn_reset(s);
		reply(s, "250 2.0.0 Ok");
	} else if (strcasecmp(verb, "NOOP") == 0)
		reply(s, "250 2.0.0 Ok");
	else if (strcasecmp(verb, "VRFY") == 0)
		reply(s, "252 2.5.2 Cannot VRFY user");
	else if (strcasecmp(verb, "QUIT") == 0) {
		reply(s, "221 2.0.0 Bye");
		conn_close(c);
	} else
		reply(s, "500 5.5.2 Command not recognized");
	free(verb);
}

static int lmtp_open(struct conn *c)
{
	struct lmtp_front *s = xcalloc(1, sizeof(*s));
	struct mux *m = conn_listener_arg(c);

	s->c = c;
	s->m = m;
	conn_set_ctx(c, s);
	conn_set_max_line(c, LMTP_FRONT_MAX_LINE);
	conn_set_idle_timeout(c, 300);
	if (!conn_is_local_socket(c)) {
		if (limits_ip_enter(m, conn_peer_ip(c)) < 0) {
			m->stats.refused_ip++;
			reply(s, "421 4.3.2 Too many connections");
			conn_close(c);
			return 0;
		}
		s->ip_counted = 1;
	}
	conn_printf(c, "220 %s Rookery LMTP ready\r\n", m->conf.hostname);
	return 0;
}

static void lmtp_too_long(struct conn *c)
{
	reply(conn_ctx(c), "500 5.5.2 Line too long");
}

static void lmtp_timeout(struct conn *c)
{
	reply(conn_ctx(c), "421 4.4.2 Idle for too long");
}

static void lmtp_shutdown(struct conn *c)
{
	reply(conn_ctx(c), "421 4.3.2 Shutting down");
}

static void lmtp_close(struct conn *c, const char *reason)
{
	struct lmtp_front *s = conn_ctx(c);

	(void)reason;
	if (s == NULL)
		return;
	txn_reset(s);
	if (s->ip_counted)
		limits_ip_leave(s->m, conn_peer_ip(c));
	free(s->origin.addr);
	free(s->origin.port);
	free(s->origin.helo);
	free(s);
	conn_set_ctx(c, NULL);
}

const struct conn_ops mux_lmtp_ops = {
	.proto = "lmtp",
	.open = lmtp_open,
	.line = lmtp_line,
	.line_too_long = lmtp_too_long,
	.timeout = lmtp_timeout,
	.shutdown = lmtp_shutdown,
	.close = lmtp_close,
};
