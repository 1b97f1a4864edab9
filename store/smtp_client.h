/*
 * smtp_client.h - a small non-blocking SMTP client (RFC 5321) for the
 * messages Sieve sends: redirects and vacation replies, handed to the
 * configured relay host (config "sieve_relay = HOST:PORT").
 *
 * One struct smtp_send per message: connect, EHLO (HELO if refused),
 * MAIL, RCPT, DATA with the message dot-stuffed, QUIT.  Runs on the
 * daemon's event loop; the callback runs exactly once, on the loop, never
 * from inside smtp_send().  No TLS, no AUTH: the relay is a trusted
 * host on the operator's network (usually the local MTA).
 */
#ifndef ROOKERY_STORE_SMTP_CLIENT_H
#define ROOKERY_STORE_SMTP_CLIENT_H

#include <stddef.h>

struct net;

#define SMTP_CLIENT_TIMEOUT_SECONDS 30

struct smtp_msg {
	const char *relay;  /* "HOST:PORT", "[v6]:PORT" */
	const char *helo;   /* our name for EHLO */
	const char *from;   /* envelope sender, "" for <> */
	const char *rcpt;   /* one envelope recipient */
	const char *prefix; /* header lines to put first (CRLF-ended) or NULL */
	const char *data;   /* the message; LF or CRLF line ends */
	size_t len;
};

/*
 * ok = 1 when the relay accepted the message (250 after the final dot),
 * 0 otherwise; reply is the last reply or a reason, for the log.
 */
typedef void smtp_send_cb(void *arg, int ok, const char *reply);

/* Starts sending m (everything is copied).  Returns 0, or -1 with a static
 * *why_r when it could not even start (bad relay address); cb is then not
 * called. */
int smtp_send(struct net *n, const struct smtp_msg *m, smtp_send_cb *cb,
	      void *arg, const char **why_r);

#endif
