/*
 * lmtp_data.c - LMTP DATA: the message is streamed from the socket
 * through the dot-unstuffing decoder into the storage engine's spool (it
 * is never held in memory), then delivered to every recipient; the
 * per-recipient replies (RFC 2033 4.2) are sent only once the engine says
 * the message is durable (DESIGN.md, Storage).
 *
 * The size limit is enforced while streaming: past max_message_size the
 * rest is read and dropped, and every recipient gets 552 5.3.4 after the
 * final dot (RFC 1870 6.2: the server must still read up to the end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "lmtp.h"
#include "mailstore.h"
#include "net.h"
#include "store.h"

/* Input is decoded in slices of this size (the scratch buffer's size). */
#define LMTP_DATA_SLICE (64 * 1024)

/* --- the dot-unstuffing decoder ------------------------------------------- */

enum {
	LMTP_DOT_BOL = 0, /* at the start of a line */
	LMTP_DOT_MID,	  /* inside a line */
	LMTP_DOT_DOT,	  /* a line started with '.' */
	LMTP_DOT_DOT_CR,  /* a line started with ".\r" */
};

void lmtp_dot_init(struct lmtp_dot *d)
{
	d->state = LMTP_DOT_BOL;
}

size_t lmtp_dot_decode(struct lmtp_dot *d, const char *in, size_t len,
		       char *out, size_t *out_len_r, int *done_r)
{
	size_t i = 0, o = 0;

	*done_r = 0;
	while (i < len) {
		char ch = in[i];

		switch (d->state) {
		case LMTP_DOT_MID: {
			/* Fast path: copy up to and including the next LF. */
			const char *lf = memchr(in + i, '\n', len - i);
			size_t n =
			    lf != NULL ? (size_t)(lf - (in + i)) + 1 : len - i;

			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			if (lf != NULL)
				d->state = LMTP_DOT_BOL;
			continue;
		}
		case LMTP_DOT_BOL:
			if (ch == '.') {
				d->state = LMTP_DOT_DOT;
				i++;
				continue;
			}
			break;
		case LMTP_DOT_DOT:
			if (ch == '\r') {
				d->state = LMTP_DOT_DOT_CR;
				i++;
				continue;
			}
			if (ch == '\n')
				goto done;
			/* RFC 5321 4.5.2: a leading dot is removed. */
			break;
		case LMTP_DOT_DOT_CR:
			if (ch == '\n')
				goto done;
			/* ".\r" then something else: the dot was stuffing,
			 * the CR is content. */
			out[o++] = '\r';
			break;
		}
		out[o++] = ch;
		i++;
		d->state = ch == '\n' ? LMTP_DOT_BOL : LMTP_DOT_MID;
	}
	*out_len_r = o;
	return i;
done:
	*done_r = 1;
	*out_len_r = o;
	d->state = LMTP_DOT_BOL;
	return i + 1;
}

/* --- the message ---------------------------------------------------------- */

void lmtp_msg_free(struct lmtp_msg **mp)
{
	struct lmtp_msg *m = *mp;

	if (m == NULL)
		return;
	lmtp_sieve_free(&m->sieve);
	mstore_spool_free(&m->spool);
	free(m->id);
	free(m->scratch);
	free(m->targets);
	free(m);
	*mp = NULL;
}

/* Keeps only printable ASCII (the LHLO name goes into a header). */
static void lmtp_add_clean(struct strbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		strbuf_addc(b, ch > ' ' && ch < 127 && ch != '(' && ch != ')'
				   ? (char)ch
				   : '?');
	}
}

/*
 * Return-Path (RFC 5321 4.4: added by the final delivery) and Received
 * (RFC 5321 4.4, "with LMTP" from RFC 3848).  "for <rcpt>" is written only
 * with a single recipient: every recipient gets the same file (hard
 * links), and naming them all would disclose Bcc recipients.
 */
/*
 * Writes addr as a header path: the local part is quoted again when the
 * client sent it quoted (RFC 5321 4.1.2 Quoted-string), since the parser
 * kept it unquoted for the user lookup.
 */
static void lmtp_add_addr(struct strbuf *b, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t llen = at != NULL ? (size_t)(at - addr) : strlen(addr);
	int quote = 0;

	for (size_t i = 0; i < llen; i++)
		if (strchr(" \t\"\\(),:;<>@[]", addr[i]) != NULL)
			quote = 1;
	strbuf_addc(b, '<');
	if (!quote) {
		strbuf_adds(b, addr);
	} else {
		strbuf_addc(b, '"');
		for (size_t i = 0; i < llen; i++) {
			if (addr[i] == '"' || addr[i] == '\\')
				strbuf_addc(b, '\\');
			strbuf_addc(b, addr[i]);
		}
		strbuf_addc(b, '"');
		strbuf_adds(b, addr + llen);
	}
	strbuf_addc(b, '>');
}

static void lmtp_trace_headers(struct lmtp_session *s, struct strbuf *b)
{
	struct conn *c = s->c;
	const struct xclient *x = s->xc;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	strbuf_adds(b, "Return-Path: ");
	lmtp_add_addr(b, s->from);
	strbuf_adds(b, "\r\nReceived: from ");
	if (x != NULL && (x->have & XCLIENT_HELO))
		/* a trusted proxy's XCLIENT: the real client's name
		 * (RFC 5321 4.4: "from" names the host we heard from) */
		lmtp_add_clean(b, x->helo[0] != '\0' ? x->helo : "unknown");
	else
		lmtp_add_clean(b, s->lhlo != NULL ? s->lhlo : "unknown");
	if (x != NULL && (x->have & XCLIENT_ADDR)) {
		strbuf_adds(b, " (");
		if ((x->have & XCLIENT_NAME) && x->name[0] != '\0') {
			lmtp_add_clean(b, x->name);
			strbuf_addc(b, ' ');
		}
		strbuf_printf(b, "[%s])",
			      x->addr[0] != '\0' ? x->addr : "UNAVAILABLE");
	} else if (conn_is_local_socket(c)) {
		strbuf_adds(b, " (local socket)");
	} else {
		strbuf_printf(b, " ([%s])", conn_peer_ip(c));
	}
	strbuf_printf(b, "\r\n\tby %s (Rookery) with %s id %s", s->st->hostname,
		      x != NULL && (x->have & XCLIENT_PROTO) ? x->proto
		      : conn_is_tls(c)			     ? "LMTPS"
							     : "LMTP",
		      s->msg->id);
	if (s->nrcpts == 1) {
		strbuf_adds(b, "\r\n\tfor ");
		lmtp_add_addr(b, s->rcpts[0].addr);
	}
	strbuf_printf(b, "; %s\r\n", date);
}

/* "<addr>" as a log value. */
static const char *lmtp_log_addr(char *buf, size_t size, const char *addr)
{
	char tmp[LMTP_MAX_PATH + 8];

	snprintf(tmp, sizeof(tmp), "<%s>", addr);
	return log_q(buf, size, tmp);
}

/* Every recipient gets the same reply (too big, spool failure). */
static void lmtp_reply_all(struct lmtp_session *s, const char *reply,
			   const char *why)
{
	char fbuf[300], rbuf[300];

	lmtp_log_addr(fbuf, sizeof(fbuf), s->from);
	for (size_t i = 0; i < s->nrcpts; i++) {
		lmtp_reply(s, "%s", reply);
		log_info("event=lmtp_deliver session=%s client=%s from=%s "
			 "rcpt=%s result=refused error=\"%s\"",
			 s->c != NULL ? conn_id(s->c) : "-", s->client, fbuf,
			 lmtp_log_addr(rbuf, sizeof(rbuf), s->rcpts[i].addr),
			 why);
	}
}

/* The transaction is over (replies sent): back to commands. */
static void lmtp_data_finished(struct lmtp_session *s)
{
	lmtp_reset_transaction(s);
	if (lmtp_session_maybe_free(s))
		return;
	lmtp_resume(s, LMTP_PAUSE_DELIVERY);
}

/* The folder a target landed in, for the log: INBOX unless it asked for
 * a folder (which may have fallen back to INBOX: ask the engine). */
static const char *lmtp_mailbox_name(struct lmtp_session *s,
				     const struct mstore_target *t, char *buf,
				     size_t size)
{
	struct mstore_mailbox mb;
	uint32_t id = t->result_mailbox_id;

	if (t->mailbox == NULL)
		return "INBOX";

	if (mstore_mailbox_get_by_id(s->st->ms, id, &mb) != MSTORE_OK) {
		snprintf(buf, size, "#%u", id);
		return buf;
	}
	log_q(buf, size, mb.name);
	mstore_mailbox_clear(&mb);
	return buf;
}

static void lmtp_reply_result(struct lmtp_session *s, struct lmtp_rcpt *r,
			      const struct mstore_target *t)
{
	const char *a = r->addr;

	switch (t->result) {
	case MSTORE_OK:
		lmtp_reply(s, "250 2.1.5 <%s> delivered id=%s uid=%u", a,
			   s->msg->id, t->result_uid);
		break;
	case MSTORE_E_NOUSER:
	case MSTORE_E_NOMAILBOX:
		lmtp_reply(s, "550 5.1.1 <%s>: no such user here", a);
		break;
	case MSTORE_E_OVERQUOTA:
		if (s->st->quota_tempfail)
			lmtp_reply(s, "452 4.2.2 <%s>: mailbox full", a);
		else
			lmtp_reply(s, "552 5.2.2 <%s>: mailbox full", a);
		break;
	case MSTORE_E_LIMIT:
		lmtp_reply(s, "552 5.3.4 <%s>: message exceeds a limit", a);
		break;
	default:
		lmtp_reply(s,
			   "451 4.3.0 <%s>: temporary failure, try again "
			   "later",
			   a);
		break;
	}
}

/* mstore_deliver()'s callback: every OK target is durable now. */
static void lmtp_data_delivered(void *arg, struct mstore_target *targets,
				size_t n)
{
	struct lmtp_session *s = arg;
	struct lmtp_msg *m = s->msg;
	struct timespec now;
	long long ms;
	char fbuf[300], rbuf[300], mbuf[300];

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - m->started.tv_sec) * 1000LL +
	     (now.tv_nsec - m->started.tv_nsec) / 1000000;
	lmtp_log_addr(fbuf, sizeof(fbuf), s->from);
	for (size_t i = 0; i < s->nrcpts; i++) {
		struct lmtp_rcpt *r = &s->rcpts[i];
		const struct mstore_target *t;

		if (lmtp_sieve_reply(s, i, targets, n))
			continue;
		t = &targets[r->target];
		lmtp_reply_result(s, r, t);
		lmtp_log_addr(rbuf, sizeof(rbuf), r->addr);
		if (t->result == MSTORE_OK)
			log_info(
			    "event=lmtp_deliver session=%s client=%s "
			    "from=%s rcpt=%s mailbox=%s uid=%u size=%llu "
			    "ms=%lld",
			    s->c != NULL ? conn_id(s->c) : "-", s->client,
			    fbuf, rbuf,
			    lmtp_mailbox_name(s, t, mbuf, sizeof(mbuf)),
			    t->result_uid,
			    (unsigned long long)mstore_spool_size(m->spool),
			    ms);
		else
			log_info("event=lmtp_deliver session=%s client=%s "
				 "from=%s rcpt=%s result=failed ms=%lld "
				 "error=\"%s\"",
				 s->c != NULL ? conn_id(s->c) : "-", s->client,
				 fbuf, rbuf,
				 ms, mstore_strerror(t->result));
	}
	lmtp_set_state(s, LMTP_READY);
	lmtp_data_finished(s);
}

/* The final dot was read. */
static void lmtp_data_end(struct lmtp_session *s)
{
	struct lmtp_msg *m = s->msg;
	enum mstore_err err;

	/* Pause first: pipelined commands after the dot wait for our
	 * replies (and must not run while the delivery is in flight). */
	lmtp_pause(s, LMTP_PAUSE_DELIVERY);
	conn_set_line_mode(s->c);
	clock_gettime(CLOCK_MONOTONIC, &m->started);
	if (m->too_big) {
		lmtp_reply_all(s,
			       "552 5.3.4 message size exceeds fixed "
			       "maximum message size",
			       "message too big");
		goto finished;
	}
	if (m->write_failed ||
	    (err = mstore_spool_finish(m->spool)) != MSTORE_OK) {
		lmtp_reply_all(s,
			       "451 4.3.0 cannot write the message, try "
			       "again later",
			       "spool write failed");
		goto finished;
	}
	lmtp_set_state(s, LMTP_DELIVERING);
	/* Sieve decides the targets, then calls lmtp_data_deliver(). */
	lmtp_sieve_run(s);
	return;
finished:
	lmtp_data_finished(s);
}

void lmtp_data_deliver(struct lmtp_session *s)
{
	struct lmtp_msg *m = s->msg;
	enum mstore_err err;

	if (m->ntargets == 0) {
		/* discarded, rejected or redirected by every script */
		lmtp_data_delivered(s, NULL, 0);
		return;
	}
	err = mstore_deliver(s->st->ms, m->spool, m->targets, m->ntargets,
			     lmtp_data_delivered, s);
	if (err != MSTORE_OK) {
		lmtp_set_state(s, LMTP_RCPT);
		lmtp_reply_all(s, "451 4.3.0 delivery failed, try again later",
			       mstore_strerror(err));
		lmtp_data_finished(s);
	}
}

/* Decoded message bytes: counted, and written unless past the limit. */
static void lmtp_data_store(struct lmtp_session *s, const char *data,
			    size_t len)
{
	struct lmtp_msg *m = s->msg;
	uint64_t max = s->st->max_message_size;

	m->size += len;
	if (m->too_big || m->write_failed || len == 0)
		return;
	if (max != 0 && m->size > max) {
		m->too_big = 1;
		log_info("event=lmtp_too_big session=%s id=%s max=%llu",
			 conn_id(s->c), m->id, (unsigned long long)max);
		return;
	}
	if (mstore_spool_write(m->spool, data, len) != MSTORE_OK) {
		m->write_failed = 1;
		log_warnx("event=lmtp_spool_write_failed session=%s id=%s",
			  conn_id(s->c), m->id);
	}
}

static void lmtp_data_raw(struct conn *c, struct evbuffer *in)
{
	struct lmtp_session *s = conn_ctx(c);
	struct lmtp_msg *m;
	int done = 0;

	if (s == NULL || s->state != LMTP_DATA)
		return;
	m = s->msg;
	while (!done && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v[4];
		size_t consumed = 0;
		int nv = evbuffer_peek(in, LMTP_DATA_SLICE, NULL, v, 4);

		for (int i = 0; i < nv && !done && consumed < LMTP_DATA_SLICE;
		     i++) {
			size_t len = v[i].iov_len, olen, used;

			if (len > LMTP_DATA_SLICE - consumed)
				len = LMTP_DATA_SLICE - consumed;
			used = lmtp_dot_decode(&m->dot, v[i].iov_base, len,
					       m->scratch, &olen, &done);
			lmtp_data_store(s, m->scratch, olen);
			consumed += used;
		}
		evbuffer_drain(in, consumed);
	}
	if (done)
		lmtp_data_end(s);
}

void lmtp_data_begin(struct lmtp_session *s)
{
	struct lmtp_msg *m = xcalloc(1, sizeof(*m));
	enum mstore_err err;
	struct strbuf hdr;

	err = mstore_spool_new(s->st->ms, &m->spool);
	if (err != MSTORE_OK) {
		log_warnx("event=lmtp_spool_failed session=%s error=\"%s\"",
			  conn_id(s->c), mstore_strerror(err));
		lmtp_msg_free(&m);
		lmtp_reply(s, "451 4.3.0 cannot accept the message now, try "
			      "again later");
		return;
	}
	s->msg = m;
	s->transactions++;
	m->id = xasprintf("%s.%u", conn_id(s->c), s->transactions);
	m->scratch = xmalloc(LMTP_DATA_SLICE + 2);
	m->scratch_cap = LMTP_DATA_SLICE + 2;
	lmtp_dot_init(&m->dot);
	strbuf_init(&hdr);
	lmtp_trace_headers(s, &hdr);
	err = mstore_spool_write(m->spool, hdr.data, hdr.len);
	strbuf_free(&hdr);
	if (err != MSTORE_OK) {
		lmtp_msg_free(&s->msg);
		lmtp_reply(s, "451 4.3.0 cannot accept the message now, try "
			      "again later");
		return;
	}
	lmtp_set_state(s, LMTP_DATA);
	/* RFC 2034 3: 3xx replies carry no enhanced code. */
	lmtp_reply(s, "354 start mail input; end with <CRLF>.<CRLF>");
	conn_set_raw(s->c, lmtp_data_raw);
}
