/*
 * lmtp_vacation.c - the Sieve vacation action at delivery (RFC 5230): the
 * rules that suppress a reply, the tracking record (mailstore_sieve.h),
 * and the reply itself, sent through the relay (smtp_client.h).
 *
 * A reply is sent only when all of these hold (RFC 5230 sections 4.5, 5,
 * and RFC 3834 section 2, plus what operators expect):
 *   - the envelope sender is not empty, not the user, not one of the
 *     :addresses, not MAILER-DAEMON, not "*-request", not "owner-*";
 *   - no List-* header field (RFC 2369, RFC 2919);
 *   - no Auto-Submitted other than "no" (RFC 3834 5);
 *   - no Precedence bulk, junk or list;
 *   - no X-Auto-Response-Suppress (Microsoft's "do not auto-reply");
 *   - one of the user's addresses appears in To, Cc, Bcc or Resent-*;
 *   - no reply to (sender, handle) within :days (clamped to
 *     vacation_min_days .. vacation_max_days).
 * The reply goes out with envelope sender <>, Auto-Submitted:
 * auto-replied, In-Reply-To and References (RFC 5230 5.8).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "lmtp.h"
#include "log.h"
#include "net.h"
#include "sieve/sieve.h"
#include "store.h"
#include "store/mailstore_sieve.h"
#include "store/smtp_client.h"

#define VACATION_DEFAULT_MIN_DAYS 1
#define VACATION_DEFAULT_MAX_DAYS 30

int lmtp_hdr_get(const char *raw, size_t len, const char *name, int prefix,
		 size_t nth, struct strbuf *out)
{
	size_t nl = strlen(name), i = 0, seen = 0;

	while (i < len) {
		size_t eol, start = i, colon;

		if (raw[i] == '\r' || raw[i] == '\n')
			return 0; /* end of the header */
		/* the field runs to an LF not followed by white space */
		eol = i;
		for (;;) {
			const char *lf = memchr(raw + eol, '\n', len - eol);

			eol = lf != NULL ? (size_t)(lf - raw) + 1 : len;
			if (eol >= len || (raw[eol] != ' ' && raw[eol] != '\t'))
				break;
		}
		i = eol;
		colon = start;
		while (colon < eol && raw[colon] != ':')
			colon++;
		if (colon == eol || colon - start < nl ||
		    (!prefix && colon - start != nl) ||
		    strncasecmp(raw + start, name, nl) != 0)
			continue;
		if (seen++ != nth)
			continue;
		strbuf_reset(out);
		for (size_t j = colon + 1; j < eol; j++)
			if (raw[j] != '\r' && raw[j] != '\n')
				strbuf_addc(out, raw[j] == '\t' ? ' ' : raw[j]);
		while (out->len > 0 && out->data[0] == ' ')
			memmove(out->data, out->data + 1, out->len--);
		while (out->len > 0 && out->data[out->len - 1] == ' ')
			out->data[--out->len] = '\0';
		return 1;
	}
	return 0;
}

/* addr occurs in text as a whole address (case-insensitive). */
static int addr_in(const char *text, const char *addr)
{
	size_t al = strlen(addr);
	const char *p = text;

	if (al == 0)
		return 0;
	while ((p = strcasestr(p, addr)) != NULL) {
		int before = p > text ? (unsigned char)p[-1] : ' ';
		int after = (unsigned char)p[al];

		int in_before =
		    isalnum(before) || (before != 0 && strchr(".+-_=", before));
		int in_after =
		    isalnum(after) || (after != 0 && strchr(".-_@", after));

		if (!in_before && !in_after)
			return 1;
		p++;
	}
	return 0;
}

static int same_addr(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

/* Envelope-sender rules; the reason, or NULL to go on. */
static const char *sender_rule(const char *from, const struct lmtp_rcpt *r,
			       const struct sieve_action *a)
{
	const char *at = strrchr(from, '@');
	size_t ll = at != NULL ? (size_t)(at - from) : strlen(from);

	if (from[0] == '\0')
		return "empty envelope sender";
	if (same_addr(from, r->user) || same_addr(from, r->addr))
		return "sender is the user";
	for (size_t i = 0; i < a->naddresses; i++)
		if (same_addr(from, a->addresses[i]))
			return "sender is one of :addresses";
	if (ll == 13 && strncasecmp(from, "mailer-daemon", 13) == 0)
		return "sender is MAILER-DAEMON";
	if (ll >= 8 && strncasecmp(from + ll - 8, "-request", 8) == 0)
		return "sender is *-request";
	if (ll >= 6 && strncasecmp(from, "owner-", 6) == 0)
		return "sender is owner-*";
	return NULL;
}

/* Header rules; the reason, or NULL to go on. */
static const char *header_rule(const char *raw, size_t len, struct strbuf *v)
{
	if (lmtp_hdr_get(raw, len, "List-", 1, 0, v))
		return "List-* header";
	if (lmtp_hdr_get(raw, len, "Auto-Submitted", 0, 0, v) &&
	    strncasecmp(v->data, "no", 2) != 0)
		return "Auto-Submitted";
	if (lmtp_hdr_get(raw, len, "Precedence", 0, 0, v) &&
	    (strcasecmp(v->data, "bulk") == 0 ||
	     strcasecmp(v->data, "junk") == 0 ||
	     strcasecmp(v->data, "list") == 0))
		return "Precedence bulk/junk/list";
	if (lmtp_hdr_get(raw, len, "X-Auto-Response-Suppress", 0, 0, v) &&
	    strcasecmp(v->data, "none") != 0)
		return "X-Auto-Response-Suppress";
	return NULL;
}

/* Is one of the user's addresses in To/Cc/Bcc/Resent-To/-Cc/-Bcc? */
static int addressed_to_user(const char *raw, size_t len,
			     const struct lmtp_rcpt *r,
			     const struct sieve_action *a, struct strbuf *v)
{
	static const char *const fields[] = {
	    "To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"};

	for (size_t f = 0; f < sizeof(fields) / sizeof(*fields); f++)
		for (size_t n = 0; lmtp_hdr_get(raw, len, fields[f], 0, n, v);
		     n++) {
			if (addr_in(v->data, r->user) ||
			    addr_in(v->data, r->addr))
				return 1;
			for (size_t i = 0; i < a->naddresses; i++)
				if (addr_in(v->data, a->addresses[i]))
					return 1;
		}
	return 0;
}

/* RFC 5230 4.2: without :handle, replies with the same text share one. */
static void default_handle(const struct sieve_action *a, char out[17])
{
	uint64_t h = 1469598103934665603ULL;
	const char *parts[3] = {a->subject, a->from, a->reason};

	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i] ? parts[i] : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static uint64_t clamp_seconds(const struct store *st, uint64_t secs)
{
	long long lo, hi;
	char *err = NULL;

	if (config_get_int(st->sec, "vacation_min_days",
			   VACATION_DEFAULT_MIN_DAYS, &lo, &err) < 0) {
		free(err);
		err = NULL;
		lo = VACATION_DEFAULT_MIN_DAYS;
	}
	if (config_get_int(st->sec, "vacation_max_days",
			   VACATION_DEFAULT_MAX_DAYS, &hi, &err) < 0) {
		free(err);
		hi = VACATION_DEFAULT_MAX_DAYS;
	}
	if (lo < 0)
		lo = 0;
	if (hi < lo)
		hi = lo;
	if (secs < (uint64_t)lo * 86400)
		secs = (uint64_t)lo * 86400;
	if (secs > (uint64_t)hi * 86400)
		secs = (uint64_t)hi * 86400;
	return secs;
}

/* Header-safe copy: no CR/LF (a folded original stays one line). */
static void add_clean(struct strbuf *b, const char *s)
{
	for (; *s != '\0'; s++)
		strbuf_addc(b, *s == '\r' || *s == '\n' ? ' ' : *s);
}

static void compose(struct lmtp_session *s, const struct lmtp_rcpt *r,
		    const struct sieve_action *a, const char *raw, size_t len,
		    struct strbuf *out)
{
	struct strbuf v;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	strbuf_init(&v);
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	strbuf_printf(out, "Date: %s\r\nFrom: ", date);
	add_clean(out, a->from != NULL ? a->from : r->user);
	strbuf_adds(out, "\r\nTo: <");
	add_clean(out, s->from);
	strbuf_adds(out, ">\r\nSubject: ");
	if (a->subject != NULL) {
		add_clean(out, a->subject);
	} else {
		strbuf_adds(out, "Auto: ");
		if (lmtp_hdr_get(raw, len, "Subject", 0, 0, &v))
			add_clean(out, v.data);
	}
	strbuf_printf(out, "\r\nMessage-ID: <vacation.%llx.%lx@%s>\r\n",
		      (unsigned long long)now, (unsigned long)random(),
		      s->st->hostname);
	if (lmtp_hdr_get(raw, len, "Message-ID", 0, 0, &v) && v.len > 0) {
		char *mid = xstrdup(v.data);

		strbuf_adds(out, "In-Reply-To: ");
		add_clean(out, mid);
		strbuf_adds(out, "\r\nReferences: ");
		if (lmtp_hdr_get(raw, len, "References", 0, 0, &v) &&
		    v.len > 0) {
			add_clean(out, v.data);
			strbuf_addc(out, ' ');
		}
		add_clean(out, mid);
		strbuf_adds(out, "\r\n");
		free(mid);
	}
	strbuf_adds(out, "Auto-Submitted: auto-replied (vacation)\r\n"
			 "MIME-Version: 1.0\r\n");
	if (!a->mime)
		strbuf_adds(out, "Content-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\n");
	/* :mime: the reason is a MIME entity with its own header. */
	strbuf_adds(out, a->reason != NULL ? a->reason : "");
	strbuf_free(&v);
}

struct vac_send {
	char *user, *to;
};

static void vacation_sent(void *arg, int ok, const char *reply)
{
	struct vac_send *v = arg;
	char ub[128], tb[300], rb[300];

	log_info("event=sieve_vacation_sent user=%s to=%s result=%s reply=%s",
		 log_q(ub, sizeof(ub), v->user), log_q(tb, sizeof(tb), v->to),
		 ok ? "ok" : "failed", log_q(rb, sizeof(rb), reply));
	free(v->user);
	free(v->to);
	free(v);
}

void lmtp_vacation(struct lmtp_session *s, const struct lmtp_rcpt *r,
		   const struct sieve_action *a, const char *raw, size_t len)
{
	const char *why, *relay = config_get(s->st->sec, "sieve_relay", NULL);
	struct strbuf v, msg;
	char handle[17], ub[128], fb[300];
	struct smtp_msg m;
	struct vac_send *vs;
	const char *err = NULL;
	int r2;

	strbuf_init(&v);
	log_q(ub, sizeof(ub), r->user);
	log_q(fb, sizeof(fb), s->from);
	why = sender_rule(s->from, r, a);
	if (why == NULL)
		why = header_rule(raw, len, &v);
	if (why == NULL && !addressed_to_user(raw, len, r, a, &v))
		why = "user not in To/Cc/Bcc/Resent-*";
	if (why == NULL && relay == NULL)
		why = "no sieve_relay configured";
	if (why != NULL) {
		log_info("event=sieve_vacation_suppressed user=%s from=%s "
			 "reason=\"%s\"",
			 ub, fb, why);
		strbuf_free(&v);
		return;
	}
	strbuf_free(&v);
	if (a->handle != NULL)
		snprintf(handle, sizeof(handle), "%.16s", a->handle);
	else
		default_handle(a, handle);
	r2 = msieve_vacation_note(s->st->ms, r->user, s->from,
				  a->handle != NULL ? a->handle : handle,
				  clamp_seconds(s->st, a->seconds), time(NULL));
	if (r2 <= 0) {
		log_info("event=sieve_vacation_suppressed user=%s from=%s "
			 "reason=\"%s\"",
			 ub, fb,
			 r2 == 0 ? "already replied within :days"
				 : "tracking database failure");
		return;
	}
	strbuf_init(&msg);
	compose(s, r, a, raw, len, &msg);
	memset(&m, 0, sizeof(m));
	m.relay = relay;
	m.helo = s->st->hostname;
	m.from = "";
	m.rcpt = s->from;
	m.data = msg.data;
	m.len = msg.len;
	vs = xcalloc(1, sizeof(*vs));
	vs->user = xstrdup(r->user);
	vs->to = xstrdup(s->from);
	if (smtp_send(conn_net(s->c), &m, vacation_sent, vs, &err) < 0)
		vacation_sent(vs, 0, err);
	strbuf_free(&msg);
}
