/*
 * xclient.h - the client's real address, forwarded by a trusted proxy.
 *
 * When the mux proxies a session to a store, the store's peer is the mux.
 * So that the store's logs (and its Received: fields, its login lines)
 * name the real client, the mux sends an XCLIENT command before logging
 * in, in the conventions the mail world already uses:
 *
 *   POP3, ManageSieve  (Dovecot's proxies)
 *       XCLIENT ADDR=192.0.2.7 PORT=51334 SESSION=3f2a01bc9e11
 *       values as they are: atoms without spaces
 *   LMTP  (Postfix's XCLIENT_README)
 *       XCLIENT ADDR=192.0.2.7 PORT=51334 HELO=mx.example.org PROTO=ESMTP
 *       values xtext-encoded (RFC 3461 section 4: "+" and two hex digits
 *       for '+', '=', and bytes outside 0x21..0x7e); ADDR may carry
 *       Postfix's "IPV6:" prefix; "[UNAVAILABLE]" / "[TEMPUNAVAIL]" mean
 *       "not known"
 *
 * Commands may be repeated: each one updates the attributes it names and
 * keeps the rest (Postfix's rule; it lets a proxy split a long list).
 *
 * Trust: a store accepts XCLIENT only from a peer that could equally
 * well log in as the proxy identity from where it sits: a Unix-socket
 * listener (only local processes with the socket's permissions reach
 * it), or a TCP listener with the "proxy" option (the operator says the
 * peers there are proxies).  The same rule for every protocol:
 * xclient_trusted().  Others are answered exactly as an unknown command
 * is, and XCLIENT is not advertised to them.
 *
 * The parser is pure (no I/O, no allocation): unit-tested and fuzzed.
 */
#ifndef ROOKERY_XCLIENT_H
#define ROOKERY_XCLIENT_H

#include <stddef.h>

struct conn;
struct strbuf;

/* Attributes (struct xclient.have, and the "allowed" mask). */
#define XCLIENT_ADDR 0x01u
#define XCLIENT_PORT 0x02u
#define XCLIENT_NAME 0x04u
#define XCLIENT_HELO 0x08u
#define XCLIENT_PROTO 0x10u
#define XCLIENT_SESSION 0x20u
#define XCLIENT_TTL 0x40u
#define XCLIENT_ATTRS 0x7fu

/* Parser flags (ORed into "allowed"). */
#define XCLIENT_XTEXT 0x100u   /* values are xtext (Postfix) */
#define XCLIENT_LENIENT 0x200u /* skip unknown names (Dovecot sends
				  FORWARD=, DESTNAME= ... we do not use) */

/* What each protocol takes. */
#define XCLIENT_POP3_ATTRS                                                     \
	(XCLIENT_ADDR | XCLIENT_PORT | XCLIENT_SESSION | XCLIENT_TTL |          \
	 XCLIENT_LENIENT)
#define XCLIENT_SIEVE_ATTRS XCLIENT_POP3_ATTRS
#define XCLIENT_LMTP_ATTRS                                                     \
	(XCLIENT_ADDR | XCLIENT_PORT | XCLIENT_NAME | XCLIENT_HELO |            \
	 XCLIENT_PROTO | XCLIENT_XTEXT)

#define XCLIENT_MAX_VALUE 255	   /* Postfix: NAME and HELO up to 255 */
#define XCLIENT_MAX_SESSION 64
#define XCLIENT_MAX_ATTRS 16	   /* per command */
#define XCLIENT_IP_MAX 46	   /* INET6_ADDRSTRLEN */
#define XCLIENT_PEER_MAX 64	   /* "[ipv6]:port" and NUL */

struct xclient {
	unsigned have;		     /* XCLIENT_* given so far */
	char addr[XCLIENT_IP_MAX];   /* normalised; "" = unavailable */
	unsigned port;		     /* 0 = unavailable */
	char name[XCLIENT_MAX_VALUE + 1];  /* "" = unavailable */
	char helo[XCLIENT_MAX_VALUE + 1];  /* "" = unavailable */
	char proto[8];		     /* "SMTP", "ESMTP", "LMTP" */
	char session[XCLIENT_MAX_SESSION + 1];
	unsigned ttl;
};

/*
 * One XCLIENT command's arguments, "NAME=VALUE" words separated by
 * spaces.  allowed: the XCLIENT_* attributes and flags the protocol
 * takes.  On success returns 0 and x holds the attributes of earlier
 * commands updated by these; on error returns -1, *err_r is a short
 * static text for the reply, and x is unchanged (a command is applied
 * whole or not at all).
 */
int xclient_parse(struct xclient *x, const char *args, unsigned allowed,
		  const char **err_r);
/* One "NAME=VALUE" word of len bytes (ManageSieve hands its parsed
 * arguments one by one).  x is changed only on success. */
int xclient_parse_attr(struct xclient *x, const char *attr, size_t len,
		       unsigned allowed, const char **err_r);

/*
 * xtext (RFC 3461 section 4) to bytes into out (size bytes, NUL
 * added).  Returns the decoded length, or -1 for a bad "+XX" escape or
 * when out is too small.
 */
int xclient_xtext_decode(const char *in, size_t len, char *out, size_t size);
/* Appends s xtext-encoded (for a proxy sending Postfix-style XCLIENT). */
void xclient_xtext_encode(struct strbuf *b, const char *s);

/*
 * The client as log lines write it, like conn_peer(): "192.0.2.7:51334",
 * "[2001:db8::1]:443", without ":port" when the port is not known, or
 * "unknown" when the address is not.  fallback (the connection's own
 * peer) is used when x has no ADDR.  Returns buf.
 */
const char *xclient_peer(const struct xclient *x, const char *fallback,
			 char *buf, size_t size);

/*
 * For the proxy side: appends "ADDR=<ip> PORT=<port>" naming c's peer
 * (xtext: Postfix's "IPV6:" prefix for IPv6 addresses).  Returns -1, and
 * appends nothing, when the peer has no IP address (a Unix socket).
 */
int xclient_conn_args(struct strbuf *b, const struct conn *c, int xtext);

/*
 * A session's XCLIENT state: xclient_begin() starts a command from what
 * earlier ones set (*cur may be NULL); xclient_commit() stores the parsed
 * result in *cur (allocated at the first) and writes the client as logs
 * name it into client (size bytes), c's peer standing in for a missing
 * ADDR.
 */
void xclient_begin(struct xclient *x, const struct xclient *cur);
void xclient_commit(struct xclient **cur, const struct xclient *x,
		    const struct conn *c, char *client, size_t size);
/* From an untrusted peer (logged as event=<proto>_xclient_refused): 1,
 * and the caller answers as to an unknown command; else 0. */
int xclient_refused(const struct conn *c, const char *proto);
/* The trust rule above: 1 when c's listener may send XCLIENT. */
int xclient_trusted(const struct conn *c);

#endif
