/*
 * lmtp.h - LMTP at the mux (RFC 2033), private to mux/lmtp_*.c.
 *
 *   lmtp_front.c   the client side: LHLO, MAIL, RCPT (routed one by one),
 *                  DATA streamed to every store involved, the
 *                  per-recipient replies in the client's order
 *   lmtp_relay.c   one backend LMTP session per store and transaction:
 *                  greeting, LHLO, [XCLIENT, greeting, LHLO,] MAIL, RCPT,
 *                  DATA, results; a store that cannot be reached answers
 *                  451 4.4.1 for its recipients.  XCLIENT (Postfix's,
 *                  lib/xclient.h) names the MX that talked to us, when the
 *                  store's LHLO reply lists it, so the store's delivery log
 *                  and Received: field name the real client
 *   lmtp_scan      (in lmtp_relay.c) the pure end-of-data scanner
 */
#ifndef ROOKERY_MUX_LMTP_H
#define ROOKERY_MUX_LMTP_H

#include <stddef.h>

#include "directory.h"
#include "strbuf.h"

struct conn;
struct mux;
struct backend;
struct lmtp_front;

#define LMTP_TEMPFAIL "451 4.4.1 Mail store unavailable, try again later"

struct lmtp_rcpt {
	char *line;		/* the client's RCPT command, as sent */
	char *addr;		/* the address without <> */
	struct lmtp_bk *bk;	/* its store's session, or NULL */
	char *reply;		/* the RCPT reply (CRLF-terminated lines) */
	char *result;		/* the DATA reply for this recipient */
	int accepted;		/* 2xx to RCPT */
};

enum lmtp_bk_state {
	BK_GREETING = 0,
	BK_LHLO,
	BK_XCLIENT,	/* XCLIENT sent, waiting for 220 */
	BK_MAIL,
	BK_READY,
	BK_RCPT,
	BK_DATA,	/* DATA sent, waiting for 354 */
	BK_BODY,	/* streaming the message */
	BK_RESULTS,	/* one reply per accepted recipient */
	BK_DONE,
	BK_FAILED,
};

struct lmtp_bk {
	struct lmtp_bk *next;
	struct lmtp_front *s;
	struct backend *b;
	char store[DIR_NAME_MAX];
	enum lmtp_bk_state state;
	struct strbuf reply;		/* lines of the reply being read */
	char *mail_reject;		/* the store refused MAIL: its reply */
	char *mail_line;		/* the client's MAIL command */
	char *helo;			/* our LHLO name */
	const struct lmtp_origin *origin; /* the front's, for XCLIENT */
	int xclient_done;		/* sent (or refused): not again */
	struct lmtp_rcpt *inflight;	/* RCPT sent, reply awaited */
	struct lmtp_rcpt **queue;	/* RCPTs waiting for BK_READY */
	size_t n_queue;
	struct lmtp_rcpt **acc;		/* accepted, in order */
	size_t n_acc;
	size_t n_results;
};

/* Who the mux's client is, for XCLIENT to the stores: attribute values,
 * xtext-encoded (NULL: not known, not sent; no addr, no XCLIENT: a
 * client on a Unix socket).  Owned by the front, which outlives its
 * backend sessions. */
struct lmtp_origin {
	char *addr;	/* "192.0.2.7", "IPV6:2001:db8::1" */
	char *port;
	char *helo;	/* the client's LHLO name */
};

/* End-of-data scanner (RFC 5321 4.1.1.4: CRLF "." CRLF; a bare LF is
 * accepted as a line end too, as the store does). */
struct lmtp_scan {
	int st;
};
void lmtp_scan_init(struct lmtp_scan *sc);
/* Returns the number of bytes up to and including the terminator, or
 * (size_t)-1 when data holds no terminator (all of it is message). */
size_t lmtp_scan(struct lmtp_scan *sc, const char *data, size_t len);

/* --- lmtp_relay.c --------------------------------------------------------- */

/* Opens a backend session to store (addr) for the current transaction;
 * mail_line is the client's MAIL command.  Never NULL (a failed connect
 * gives a session in BK_FAILED). */
struct lmtp_bk *lmtp_bk_open(struct lmtp_front *s, struct mux *m,
			     const char *store, const char *addr,
			     const char *helo_name, const char *mail_line,
			     const struct lmtp_origin *origin);
/* Queues an RCPT (sent once the session is ready). */
void lmtp_bk_rcpt(struct lmtp_bk *k, struct lmtp_rcpt *r);
/* Sends DATA if the session has accepted recipients. */
void lmtp_bk_data(struct lmtp_bk *k);
/* Copies message bytes to a session in BK_BODY. */
void lmtp_bk_body(struct lmtp_bk *k, const void *data, size_t len);
/* The terminator was sent: wait for the per-recipient replies. */
void lmtp_bk_body_end(struct lmtp_bk *k);
size_t lmtp_bk_pending(const struct lmtp_bk *k);
/* QUIT and free. */
void lmtp_bk_close(struct lmtp_bk *k);

/* --- lmtp_front.c ------------------------------------------------------ */

/* Called by lmtp_relay.c after every backend event: the front checks
 * whether the command it waits on can be answered. */
void lmtp_front_progress(struct lmtp_front *s);
/* A backend's output drained (body flow control). */
void lmtp_front_drained(struct lmtp_front *s);

#endif
