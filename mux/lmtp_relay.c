/*
 * lmtp_relay.c - one backend LMTP session per store and transaction
 * (lmtp.h), and the pure end-of-data scanner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "xclient.h"
#include "mux/backend.h"
#include "mux/lmtp.h"
#include "mux/mux.h"

#define LMTP_BODY_LOW (64 * 1024)
#define LMTP_STALL_MS (300 * 1000)

/* --- the scanner ------------------------------------------------------- */

enum { SC_BOL = 0, SC_MID, SC_DOT, SC_DOTCR };

void lmtp_scan_init(struct lmtp_scan *sc)
{
	sc->st = SC_BOL;
}

size_t lmtp_scan(struct lmtp_scan *sc, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = data[i];

		switch (sc->st) {
		case SC_BOL:
			sc->st = ch == '.' ? SC_DOT : ch == '\n' ? SC_BOL
								 : SC_MID;
			break;
		case SC_MID:
			if (ch == '\n')
				sc->st = SC_BOL;
			break;
		case SC_DOT:
			if (ch == '\n')
				return i + 1;
			sc->st = ch == '\r' ? SC_DOTCR : SC_MID;
			break;
		case SC_DOTCR:
			if (ch == '\n')
				return i + 1;
			sc->st = SC_MID;
			break;
		}
	}
	return (size_t)-1;
}

/* --- sessions -------------------------------------------------------------- */

static void set_reply(char **dst, const char *text)
{
	free(*dst);
	*dst = xstrdup(text);
}

/* Everything still waiting on k gets the temporary failure. */
static void bk_fail(struct lmtp_bk *k, const char *why)
{
	static const char tempfail[] = LMTP_TEMPFAIL "\r\n";

	if (k->state == BK_FAILED || k->state == BK_DONE)
		return;
	log_info("event=lmtp_backend_failed store=%s state=%d reason=%s",
		 k->store, (int)k->state, why);
	if (k->inflight != NULL) {
		set_reply(&k->inflight->reply, tempfail);
		k->inflight = NULL;
	}
	for (size_t i = 0; i < k->n_queue; i++)
		set_reply(&k->queue[i]->reply, tempfail);
	k->n_queue = 0;
	for (size_t i = k->n_results; i < k->n_acc; i++)
		if (k->acc[i]->result == NULL)
			set_reply(&k->acc[i]->result, tempfail);
	k->n_results = k->n_acc;
	k->state = BK_FAILED;
	backend_free(&k->b);
}

static void bk_pump(struct lmtp_bk *k)
{
	struct lmtp_rcpt *r;

	if (k->state != BK_READY || k->n_queue == 0)
		return;
	r = k->queue[0];
	memmove(k->queue, k->queue + 1, (k->n_queue - 1) * sizeof(*k->queue));
	k->n_queue--;
	if (k->mail_reject != NULL) {
		set_reply(&r->reply, k->mail_reject);
		bk_pump(k);
		return;
	}
	k->inflight = r;
	k->state = BK_RCPT;
	backend_printf(k->b, "%s\r\n", r->line);
}

static int is_2xx(const char *reply)
{
	return reply[0] == '2';
}

/* Does the "250-XCLIENT NAME ADDR ..." line of an LHLO reply list attr? */
static int xclient_offers(const char *reply, const char *attr)
{
	const char *p;
	size_t n = strlen(attr);

	for (p = reply; *p != '\0'; p += strcspn(p, "\n"), p += *p == '\n') {
		const char *q = p + 4, *end;

		if (strncasecmp(q, "XCLIENT", 7) != 0 ||
		    (q[7] != ' ' && q[7] != '\r'))
			continue;
		end = q + strcspn(q, "\r\n");
		for (q += 7; q < end;) {
			size_t w;

			q += strspn(q, " ");
			w = strcspn(q, " \r\n");
			if (w == n && strncasecmp(q, attr, n) == 0)
				return 1;
			q += w;
		}
	}
	return 0;
}

/*
 * After LHLO: Postfix-style XCLIENT with what the store takes of what we
 * know.  Returns 1 when sent (the store then greets again with 220).
 */
static int bk_xclient(struct lmtp_bk *k, const char *lhlo_reply)
{
	const struct lmtp_origin *o = k->origin;
	struct strbuf b;
	int sent = 0;

	/* A client on a Unix socket has no address to tell: the store
	 * then names us, which is the truth as far as anyone knows. */
	if (o == NULL || o->addr == NULL || k->xclient_done)
		return 0;
	k->xclient_done = 1;
	strbuf_init(&b);
	if (xclient_offers(lhlo_reply, "ADDR"))
		strbuf_printf(&b, " ADDR=%s", o->addr);
	if (o->port != NULL && xclient_offers(lhlo_reply, "PORT"))
		strbuf_printf(&b, " PORT=%s", o->port);
	if (o->helo != NULL && xclient_offers(lhlo_reply, "HELO"))
		strbuf_printf(&b, " HELO=%s", o->helo);
	if (b.len > 0 && xclient_offers(lhlo_reply, "PROTO"))
		strbuf_adds(&b, " PROTO=LMTP");
	if (b.len > 0) {
		backend_printf(k->b, "XCLIENT%s\r\n", b.data);
		k->state = BK_XCLIENT;
		sent = 1;
	}
	strbuf_free(&b);
	return sent;
}

/* A complete reply (all its lines, CRLF-terminated) in k->reply. */
static void bk_reply(struct lmtp_bk *k, const char *text)
{
	struct lmtp_rcpt *r;

	switch (k->state) {
	case BK_GREETING:
		if (!is_2xx(text)) {
			bk_fail(k, "greeting");
			return;
		}
		backend_printf(k->b, "LHLO %s\r\n", k->helo);
		k->state = BK_LHLO;
		return;
	case BK_LHLO:
		if (!is_2xx(text)) {
			bk_fail(k, "lhlo");
			return;
		}
		if (bk_xclient(k, text))
			return;
		backend_printf(k->b, "%s\r\n", k->mail_line);
		k->state = BK_MAIL;
		/* From here on the store may wait for our client: only a
		 * store that says nothing for this long is given up. */
		backend_set_timeout(k->b, LMTP_STALL_MS);
		return;
	case BK_XCLIENT:
		/* Postfix: 220, and the session starts over with LHLO */
		if (is_2xx(text)) {
			backend_printf(k->b, "LHLO %s\r\n", k->helo);
			k->state = BK_LHLO;
			return;
		}
		if (text[0] == '4' && strncmp(text, "421", 3) == 0) {
			bk_fail(k, "xclient");
			return;
		}
		/* A refusal only costs the store's log the client's
		 * address: the delivery goes on. */
		log_warnx("event=lmtp_backend_xclient_refused store=%s "
			  "reply=\"%.80s\"",
			  k->store, text);
		backend_printf(k->b, "%s\r\n", k->mail_line);
		k->state = BK_MAIL;
		backend_set_timeout(k->b, LMTP_STALL_MS);
		return;
	case BK_MAIL:
		if (!is_2xx(text))
			k->mail_reject = xstrdup(text);
		k->state = BK_READY;
		bk_pump(k);
		return;
	case BK_RCPT:
		r = k->inflight;
		k->inflight = NULL;
		set_reply(&r->reply, text);
		if (is_2xx(text)) {
			r->accepted = 1;
			k->acc = xrealloc(k->acc,
					  (k->n_acc + 1) * sizeof(*k->acc));
			k->acc[k->n_acc++] = r;
		}
		k->state = BK_READY;
		bk_pump(k);
		return;
	case BK_DATA:
		if (text[0] == '3') {
			k->state = BK_BODY;
			return;
		}
		for (size_t i = 0; i < k->n_acc; i++)
			set_reply(&k->acc[i]->result, text);
		k->n_results = k->n_acc;
		k->state = BK_DONE;
		return;
	case BK_RESULTS:
		if (k->n_results < k->n_acc)
			set_reply(&k->acc[k->n_results++]->result, text);
		if (k->n_results >= k->n_acc)
			k->state = BK_DONE;
		return;
	default:
		return;
	}
}

static void on_line(struct backend *b, char *line, size_t len, void *arg)
{
	struct lmtp_bk *k = arg;

	(void)b;
	strbuf_add(&k->reply, line, len);
	strbuf_add(&k->reply, "\r\n", 2);
	if (len >= 4 && line[3] == '-')
		return;		/* a continuation line (RFC 5321 4.2.1) */
	if (len < 3 || k->reply.len > 65536) {
		bk_fail(k, "bad reply");
	} else {
		bk_reply(k, k->reply.data);
	}
	strbuf_reset(&k->reply);
	lmtp_front_progress(k->s);
}

static void on_connected(struct backend *b, void *arg)
{
	(void)b;
	(void)arg;
}

static void on_error(struct backend *b, const char *why, void *arg)
{
	struct lmtp_bk *k = arg;

	(void)b;
	bk_fail(k, why);
	lmtp_front_progress(k->s);
}

static void on_drained(struct backend *b, void *arg)
{
	struct lmtp_bk *k = arg;

	(void)b;
	lmtp_front_drained(k->s);
}

static const struct backend_ops bk_ops = {
	.connected = on_connected,
	.line = on_line,
	.raw = NULL,
	.error = on_error,
	.drained = on_drained,
};

struct lmtp_bk *lmtp_bk_open(struct lmtp_front *s, struct mux *m,
			     const char *store, const char *addr,
			     const char *helo_name, const char *mail_line,
			     const struct lmtp_origin *origin)
{
	struct lmtp_bk *k = xcalloc(1, sizeof(*k));
	char *err = NULL;

	k->s = s;
	k->helo = xstrdup(helo_name);
	k->origin = origin;
	snprintf(k->store, sizeof(k->store), "%s", store);
	strbuf_init(&k->reply);
	k->mail_line = xstrdup(mail_line);
	k->state = BK_GREETING;
	k->b = backend_connect(m, addr, m->conf.connect_timeout_ms, &bk_ops,
			       k, &err);
	if (k->b == NULL) {
		log_warnx("event=lmtp_backend_failed store=%s error=\"%s\"",
			  store, err);
		free(err);
		k->state = BK_FAILED;
	}
	return k;
}

void lmtp_bk_rcpt(struct lmtp_bk *k, struct lmtp_rcpt *r)
{
	if (k->state == BK_FAILED) {
		set_reply(&r->reply, LMTP_TEMPFAIL "\r\n");
		return;
	}
	k->queue = xrealloc(k->queue, (k->n_queue + 1) * sizeof(*k->queue));
	k->queue[k->n_queue++] = r;
	bk_pump(k);
}

void lmtp_bk_data(struct lmtp_bk *k)
{
	if (k->state != BK_READY || k->n_acc == 0)
		return;
	k->state = BK_DATA;
	backend_printf(k->b, "DATA\r\n");
}

void lmtp_bk_body(struct lmtp_bk *k, const void *data, size_t len)
{
	if (k->state != BK_BODY)
		return;
	backend_write(k->b, data, len);
}

void lmtp_bk_body_end(struct lmtp_bk *k)
{
	if (k->state != BK_BODY)
		return;
	k->state = BK_RESULTS;
}

size_t lmtp_bk_pending(const struct lmtp_bk *k)
{
	if (k->b == NULL || k->state != BK_BODY)
		return 0;
	if (backend_output_pending(k->b) > LMTP_BODY_LOW)
		backend_on_drain(k->b, LMTP_BODY_LOW);
	return backend_output_pending(k->b);
}

void lmtp_bk_close(struct lmtp_bk *k)
{
	if (k->b != NULL && k->state != BK_FAILED)
		backend_printf(k->b, "QUIT\r\n");
	backend_free(&k->b);
	strbuf_free(&k->reply);
	free(k->mail_reject);
	free(k->mail_line);
	free(k->helo);
	free(k->queue);
	free(k->acc);
	free(k);
}
