/*
 * lmtp_sieve.c - Sieve at LMTP delivery: after DATA, every recipient with
 * an active script (mailstore_sieve.h) has it run against the message,
 * and its actions become delivery targets, redirects, a reject or a
 * vacation reply (DESIGN.md, Sieve; issue "At delivery").
 *
 * Order of events for one message:
 *   1. lmtp_sieve_run(): for each recipient, load and run the active
 *      script (recipients without one get their usual target); build the
 *      storage targets (keep, fileinto with :create and :copy, flags);
 *      note rejects; start the redirects through the relay; send
 *      vacation replies (they do not hold the delivery up).
 *   2. When every redirect has been answered, lmtp_data_deliver() hands
 *      the targets to the engine.  A redirect that failed turns into a
 *      keep in INBOX: the message is never lost.
 *   3. lmtp_sieve_reply() gives a Sieve recipient its reply: 550 5.7.1
 *      with the reason for reject/ereject, 250 when every target is
 *      durable (or there was none: discard, redirect), else the first
 *      failure.
 * A script that fails at run time (or cannot be loaded) keeps the
 * message in INBOX and the reason is logged.
 *
 * Loop guard: a redirected copy carries "Delivered-To: <user>" first; a
 * message that already names the user so is never redirected again (it
 * is kept instead).  config sieve_max_redirects caps redirects per run.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "lmtp.h"
#include "log.h"
#include "mailstore.h"
#include "net.h"
#include "sieve/sieve.h"
#include "store.h"
#include "store/mailstore_sieve.h"
#include "store/smtp_client.h"

#define LMTP_SIEVE_DEFAULT_MAX_REDIRECTS 4

struct lmtp_sieve_rcpt {
	int active;	/* a script ran (or failed) for this recipient */
	char *reject;	/* reject / ereject reason */
	int keep_added; /* an INBOX keep exists among its targets */
	int redirects;	/* redirects ordered */
	size_t owner;	/* whose targets count for this rcpt's reply */
};

struct lmtp_sieve {
	struct lmtp_sieve_rcpt *rc; /* one per rcpt */
	size_t nrc;
	size_t *owner; /* target -> rcpt index, SIZE_MAX shared */
	size_t cap;
	char **strs; /* strings the targets point to */
	size_t nstrs;
	char ***kwv; /* keyword vectors */
	size_t nkwv;
	unsigned pending; /* redirects in flight */
};

struct redirect_ctx {
	struct lmtp_session *s;
	size_t rcpt;
	char *to;
};

void lmtp_sieve_free(struct lmtp_sieve **svp)
{
	struct lmtp_sieve *sv = *svp;

	if (sv == NULL)
		return;
	for (size_t i = 0; sv->rc != NULL && i < sv->nrc; i++)
		free(sv->rc[i].reject);
	for (size_t i = 0; i < sv->nstrs; i++)
		free(sv->strs[i]);
	for (size_t i = 0; i < sv->nkwv; i++)
		free(sv->kwv[i]);
	free(sv->strs);
	free(sv->kwv);
	free(sv->owner);
	free(sv->rc);
	free(sv);
	*svp = NULL;
}

static char *sv_str(struct lmtp_sieve *sv, const char *s)
{
	sv->strs = xrealloc(sv->strs, (sv->nstrs + 1) * sizeof(*sv->strs));
	return sv->strs[sv->nstrs++] = xstrdup(s);
}

/* A new target owned by rcpt i (or shared: SIZE_MAX). */
static struct mstore_target *add_target(struct lmtp_session *s, size_t i)
{
	struct lmtp_msg *m = s->msg;
	struct lmtp_sieve *sv = m->sieve;
	struct mstore_target *t;

	if (m->ntargets == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		m->targets =
		    xrealloc(m->targets, sv->cap * sizeof(*m->targets));
		sv->owner = xrealloc(sv->owner, sv->cap * sizeof(*sv->owner));
	}
	sv->owner[m->ntargets] = i;
	t = &m->targets[m->ntargets++];
	memset(t, 0, sizeof(*t));
	return t;
}

/* RFC 5232: system flags by name, anything else a keyword if it is an
 * IMAP atom (RFC 3501 flag-keyword); others are dropped. */
static void set_flags(struct lmtp_sieve *sv, struct mstore_target *t,
		      const struct sieve_action *a)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} sys[] = {{"\\Seen", MSTORE_F_SEEN},
		   {"\\Answered", MSTORE_F_ANSWERED},
		   {"\\Flagged", MSTORE_F_FLAGGED},
		   {"\\Deleted", MSTORE_F_DELETED},
		   {"\\Draft", MSTORE_F_DRAFT}};
	char **kw;
	size_t n = 0;

	if (a->nflags == 0)
		return;
	kw = xcalloc(a->nflags + 1, sizeof(*kw));
	for (size_t i = 0; i < a->nflags; i++) {
		const char *f = a->flags[i];
		size_t k;
		int ok = f[0] != '\0' && strlen(f) <= MSTORE_KEYWORD_MAX;

		for (k = 0; k < sizeof(sys) / sizeof(*sys); k++)
			if (strcasecmp(f, sys[k].name) == 0)
				break;
		if (k < sizeof(sys) / sizeof(*sys)) {
			t->flags |= sys[k].bit;
			continue;
		}
		for (const char *p = f; ok && *p != '\0'; p++)
			if ((unsigned char)*p <= ' ' ||
			    (unsigned char)*p >= 127 ||
			    strchr("(){%*\"\\]", *p) != NULL)
				ok = 0;
		if (ok)
			kw[n++] = sv_str(sv, f);
	}
	if (n == 0) {
		free(kw);
		return;
	}
	sv->kwv = xrealloc(sv->kwv, (sv->nkwv + 1) * sizeof(*sv->kwv));
	sv->kwv[sv->nkwv++] = kw;
	t->keywords = (const char *const *)kw;
}

/* The recipient's usual target: its +detail folder or INBOX. */
static struct mstore_target *keep_target(struct lmtp_session *s, size_t i)
{
	struct lmtp_rcpt *r = &s->rcpts[i];
	struct mstore_target *t = add_target(s, i);

	t->user = r->user;
	t->mailbox = r->mailbox;
	t->fallback_inbox = r->mailbox != NULL;
	s->msg->sieve->rc[i].keep_added = 1;
	return t;
}

/* fileinto :create: makes the mailbox and its missing parents. */
static void create_mailbox(struct lmtp_session *s, const char *user,
			   const char *name)
{
	char *path = xstrdup(name);

	for (char *p = path;; p++) {
		if (*p == '/' || *p == '\0') {
			char save = *p;

			*p = '\0';
			(void)mstore_mailbox_create(s->st->ms, user, path, 0,
						    NULL);
			*p = save;
			if (save == '\0')
				break;
		}
	}
	free(path);
}

static void redirect_done(void *arg, int ok, const char *reply);

/*
 * A redirect address goes into "RCPT TO:<...>": with variables a script
 * can build any string, so only a plain local@domain of printable ASCII
 * without spaces, brackets or quotes passes (no SMTP command injection).
 */
static int address_ok(const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0' || strlen(addr) > 254)
		return 0;
	for (const char *p = addr; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("<>\"\\,;", *p) != NULL)
			return 0;
	return 1;
}

static void redirect(struct lmtp_session *s, size_t i, const char *raw,
		     size_t len, const struct sieve_action *a)
{
	struct lmtp_rcpt *r = &s->rcpts[i];
	struct lmtp_sieve_rcpt *rc = &s->msg->sieve->rc[i];
	const char *relay = config_get(s->st->sec, "sieve_relay", NULL);
	const char *why = NULL;
	struct strbuf v, prefix;
	struct redirect_ctx *ctx;
	struct smtp_msg m;
	long long max;
	char *err = NULL;
	int loop = 0;

	if (config_get_int(s->st->sec, "sieve_max_redirects",
			   LMTP_SIEVE_DEFAULT_MAX_REDIRECTS, &max, &err) < 0) {
		free(err);
		max = LMTP_SIEVE_DEFAULT_MAX_REDIRECTS;
	}
	strbuf_init(&v);
	for (size_t n = 0; lmtp_hdr_get(raw, len, "Delivered-To", 0, n, &v);
	     n++)
		if (strcasecmp(v.data, r->user) == 0 ||
		    strcasecmp(v.data, a->address) == 0)
			loop = 1;
	strbuf_free(&v);
	if (!address_ok(a->address))
		why = "not a valid address";
	else if (loop)
		why = "loop: Delivered-To names this user";
	else if (rc->redirects >= max)
		why = "too many redirects";
	else if (relay == NULL)
		why = "no sieve_relay configured";
	if (why == NULL) {
		ctx = xcalloc(1, sizeof(*ctx));
		ctx->s = s;
		ctx->rcpt = i;
		ctx->to = xstrdup(a->address);
		strbuf_init(&prefix);
		strbuf_printf(&prefix, "Delivered-To: %s\r\n", r->user);
		memset(&m, 0, sizeof(m));
		m.relay = relay;
		m.helo = s->st->hostname;
		/* RFC 5228 4.2: the envelope sender stays the original's. */
		m.from = s->from;
		m.rcpt = a->address;
		m.prefix = prefix.data;
		m.data = raw;
		m.len = len;
		rc->redirects++;
		s->msg->sieve->pending++;
		if (smtp_send(conn_net(s->c), &m, redirect_done, ctx, &why) <
		    0) {
			s->msg->sieve->pending--;
			free(ctx->to);
			free(ctx);
		}
		strbuf_free(&prefix);
	}
	if (why != NULL) {
		char ub[128], ab[300];

		log_warnx("event=sieve_redirect_failed user=%s to=%s "
			  "error=\"%s\" action=keep",
			  log_q(ub, sizeof(ub), r->user),
			  log_q(ab, sizeof(ab), a->address), why);
		if (!rc->keep_added)
			keep_target(s, i);
	}
}

static void redirect_done(void *arg, int ok, const char *reply)
{
	struct redirect_ctx *ctx = arg;
	struct lmtp_session *s = ctx->s;
	struct lmtp_rcpt *r = &s->rcpts[ctx->rcpt];
	struct lmtp_sieve *sv = s->msg->sieve;
	char ub[128], ab[300], rb[300];

	log_info("event=sieve_redirect user=%s to=%s result=%s reply=%s",
		 log_q(ub, sizeof(ub), r->user), log_q(ab, sizeof(ab), ctx->to),
		 ok ? "ok" : "failed", log_q(rb, sizeof(rb), reply));
	if (!ok && !sv->rc[ctx->rcpt].keep_added)
		keep_target(s, ctx->rcpt); /* never lose it */
	free(ctx->to);
	free(ctx);
	if (--sv->pending == 0)
		lmtp_data_deliver(s);
}

/* --- running one script ------------------------------------------------ */

struct msg_ctx {
	struct lmtp_session *s;
	const char *user;
};

static int cb_mailbox_exists(void *ctx, const char *mailbox)
{
	struct msg_ctx *mc = ctx;
	struct mstore_mailbox mb;

	if (mstore_mailbox_get(mc->s->st->ms, mc->user, mailbox, &mb) !=
	    MSTORE_OK)
		return 0;
	mstore_mailbox_clear(&mb);
	return 1;
}

static int cb_load_include(void *ctx, const char *name,
			   enum sieve_include_loc loc,
			   struct sieve_script **script_r)
{
	struct msg_ctx *mc = ctx;
	enum mstore_err err;

	if (loc != SIEVE_INCLUDE_PERSONAL)
		return 1; /* no global scripts on this store */
	err = msieve_load(mc->s->st->ms, mc->user, name, script_r, NULL);
	if (err == MSTORE_E_NOTFOUND)
		return 1;
	return err == MSTORE_OK ? 0 : -1;
}

static void apply_action(struct lmtp_session *s, size_t i,
			 const struct sieve_action *a, const char *raw,
			 size_t len)
{
	struct lmtp_rcpt *r = &s->rcpts[i];
	struct lmtp_sieve *sv = s->msg->sieve;
	struct mstore_target *t;

	switch (a->type) {
	case SIEVE_ACT_KEEP:
		t = keep_target(s, i);
		set_flags(sv, t, a);
		break;
	case SIEVE_ACT_FILEINTO:
		if (a->create)
			create_mailbox(s, r->user, a->mailbox);
		t = add_target(s, i);
		t->user = r->user;
		t->mailbox = sv_str(sv, a->mailbox);
		/* A missing folder: INBOX rather than a bounce. */
		t->fallback_inbox = 1;
		set_flags(sv, t, a);
		break;
	case SIEVE_ACT_REDIRECT:
		redirect(s, i, raw, len, a);
		break;
	case SIEVE_ACT_REJECT:
	case SIEVE_ACT_EREJECT:
		free(sv->rc[i].reject);
		sv->rc[i].reject = xstrdup(a->reason ? a->reason : "rejected");
		break;
	case SIEVE_ACT_DISCARD:
		break;
	case SIEVE_ACT_VACATION:
		lmtp_vacation(s, r, a, raw, len);
		break;
	}
}

/* Runs rcpt i's active script; 0 when it has none (usual delivery). */
static int run_one(struct lmtp_session *s, size_t i, const char *raw,
		   size_t len)
{
	struct lmtp_rcpt *r = &s->rcpts[i];
	struct sieve_script *script = NULL;
	struct sieve_result *res = NULL;
	struct msg_ctx mc = {s, r->user};
	struct sieve_msg msg;
	struct strbuf err;
	char *name = NULL, ub[128], nb[300], eb[512];
	enum mstore_err e;

	e = msieve_load(s->st->ms, r->user, NULL, &script, &name);
	if (e == MSTORE_E_NOTFOUND || e == MSTORE_E_NOUSER)
		return 0;
	s->msg->sieve->rc[i].active = 1;
	log_q(ub, sizeof(ub), r->user);
	if (e != MSTORE_OK) {
		log_warnx("event=sieve_failed user=%s error=\"cannot load the "
			  "active script: %s\" action=keep",
			  ub, mstore_strerror(e));
		keep_target(s, i);
		return 1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.ctx = &mc;
	msg.raw = raw;
	msg.raw_len = len;
	msg.mailbox_exists = cb_mailbox_exists;
	msg.load_include = cb_load_include;
	{
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		msg.now = now;
		msg.local_offset_min = (int)(tm.tm_gmtoff / 60);
	}
	msg.env_from = s->from;
	msg.env_to = r->user;
	msg.orig_to = strcasecmp(r->addr, r->user) != 0 ? r->addr : NULL;
	strbuf_init(&err);
	if (sieve_execute(script, &msg, &res, &err) < 0) {
		while (err.len > 0 && err.data[err.len - 1] == '\n')
			strbuf_truncate(&err, err.len - 1);
		log_warnx("event=sieve_failed user=%s script=%s error=%s "
			  "action=keep",
			  ub, log_q(nb, sizeof(nb), name),
			  log_q(eb, sizeof(eb), err.data));
		/* the recipient's INBOX, whatever +detail said */
		struct mstore_target *t = add_target(s, i);

		t->user = r->user;
		s->msg->sieve->rc[i].keep_added = 1;
	} else {
		for (size_t k = 0; k < res->n; k++)
			apply_action(s, i, &res->actions[k], raw, len);
		log_info("event=sieve_run user=%s script=%s actions=%zu", ub,
			 log_q(nb, sizeof(nb), name), res->n);
	}
	strbuf_free(&err);
	sieve_result_free(&res);
	sieve_script_free(&script);
	free(name);
	return 1;
}

/* An earlier recipient with the same user and folder: share its fate. */
static size_t same_as(struct lmtp_session *s, size_t i)
{
	struct lmtp_rcpt *r = &s->rcpts[i];

	for (size_t j = 0; j < i; j++) {
		struct lmtp_rcpt *q = &s->rcpts[j];

		if (strcasecmp(q->user, r->user) == 0 &&
		    ((q->mailbox == NULL && r->mailbox == NULL) ||
		     (q->mailbox != NULL && r->mailbox != NULL &&
		      strcmp(q->mailbox, r->mailbox) == 0)))
			return j;
	}
	return SIZE_MAX;
}

void lmtp_sieve_run(struct lmtp_session *s)
{
	struct lmtp_msg *m = s->msg;
	struct lmtp_sieve *sv = xcalloc(1, sizeof(*sv));
	const char *raw = NULL;
	size_t len = 0;

	m->sieve = sv;
	m->targets = NULL;
	m->ntargets = 0;
	sv->rc = xcalloc(s->nrcpts ? s->nrcpts : 1, sizeof(*sv->rc));
	sv->nrc = s->nrcpts;
	if (mstore_spool_data(m->spool, &raw, &len) != MSTORE_OK)
		raw = NULL;
	sv->pending = 1; /* held until every recipient is set up */
	for (size_t i = 0; i < s->nrcpts; i++) {
		struct lmtp_rcpt *r = &s->rcpts[i];
		size_t j = same_as(s, i);

		if (j != SIZE_MAX && !sv->rc[j].active) {
			r->target = s->rcpts[j].target;
			continue;
		}
		if (j != SIZE_MAX) {
			/* the same user twice: one run, one fate */
			sv->rc[i].active = 1;
			sv->rc[i].reject =
			    sv->rc[j].reject ? xstrdup(sv->rc[j].reject) : NULL;
			sv->rc[i].owner = j;
			continue;
		}
		sv->rc[i].owner = i;
		if (raw != NULL && run_one(s, i, raw, len))
			continue;
		keep_target(s, i)->fallback_inbox = r->mailbox != NULL;
		sv->owner[m->ntargets - 1] = SIZE_MAX;
		r->target = m->ntargets - 1;
	}
	if (--sv->pending == 0)
		lmtp_data_deliver(s);
}

/* Rcpt i's combined result over the targets it owns. */
int lmtp_sieve_reply(struct lmtp_session *s, size_t i,
		     const struct mstore_target *targets, size_t n)
{
	struct lmtp_sieve *sv = s->msg != NULL ? s->msg->sieve : NULL;
	struct lmtp_rcpt *r = &s->rcpts[i];
	size_t owner, first_ok = SIZE_MAX, bad = SIZE_MAX, count = 0;
	char ub[300];

	if (sv == NULL || !sv->rc[i].active)
		return 0;
	owner = sv->rc[i].owner;
	log_q(ub, sizeof(ub), r->addr);
	if (sv->rc[i].reject != NULL) {
		struct strbuf why;

		strbuf_init(&why);
		for (const char *p = sv->rc[i].reject; *p && why.len < 200; p++)
			strbuf_addc(&why, (unsigned char)*p < ' ' ? ' ' : *p);
		lmtp_reply(s, "550 5.7.1 <%s>: %s", r->addr, why.data);
		log_info(
		    "event=lmtp_deliver session=%s client=%s rcpt=%s "
		    "result=rejected reason=sieve",
		    s->c ? conn_id(s->c) : "-", s->client, ub);
		strbuf_free(&why);
		return 1;
	}
	for (size_t k = 0; k < n; k++) {
		if (sv->owner[k] != owner)
			continue;
		count++;
		if (targets[k].result == MSTORE_OK) {
			if (first_ok == SIZE_MAX)
				first_ok = k;
		} else if (bad == SIZE_MAX) {
			bad = k;
		}
	}
	if (bad != SIZE_MAX) {
		if (targets[bad].result != MSTORE_E_OVERQUOTA)
			lmtp_reply(s,
				   "451 4.3.0 <%s>: temporary failure, try "
				   "again later",
				   r->addr);
		else if (s->st->quota_tempfail)
			lmtp_reply(s, "452 4.2.2 <%s>: mailbox full", r->addr);
		else
			lmtp_reply(s, "552 5.2.2 <%s>: mailbox full", r->addr);
	} else if (first_ok != SIZE_MAX) {
		lmtp_reply(s, "250 2.1.5 <%s> delivered id=%s uid=%u", r->addr,
			   s->msg->id, targets[first_ok].result_uid);
	} else {
		lmtp_reply(s, "250 2.1.5 <%s> handled by sieve id=%s", r->addr,
			   s->msg->id);
	}
	log_info("event=lmtp_deliver session=%s client=%s rcpt=%s sieve=yes "
		 "targets=%zu result=%s",
		 s->c ? conn_id(s->c) : "-", s->client, ub, count,
		 bad != SIZE_MAX ? mstore_strerror(targets[bad].result) : "ok");
	return 1;
}
