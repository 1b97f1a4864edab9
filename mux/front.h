/*
 * front.h - what the protocol fronts (imap_front.c, pop3_front.c,
 * sieve_front.c) share before login: the SASL exchange and plaintext
 * logins through lib/sasl.h, the rules the mux adds to them, and the
 * growing delay after failures (auth.c); and the pre-auth IMAP /
 * ManageSieve token reader (imap_parse.c).
 *
 * Rules added here, for every protocol:
 *  - a client may not log in with an authzid of its own (no authzid
 *    smuggling: only the mux speaks for others), nor as the proxy
 *    identity itself;
 *  - an IP over its failure rate (limits.c) gets a temporary failure
 *    without its credentials even being checked;
 *  - each failure delays its reply (auth_fail_delay_ms, doubling per
 *    failure on the connection, input paused meanwhile); after
 *    max_auth_failures the connection is closed.
 */
#ifndef ROOKERY_MUX_FRONT_H
#define ROOKERY_MUX_FRONT_H

#include <stddef.h>

#include "sasl.h"

struct conn;
struct mux;
struct proxy;
struct net_timer;

struct front {
	struct proxy *px;	/* first: proxy.h finds it through conn_ctx */
	struct mux *m;
	struct conn *c;
	const char *service;	/* SASL service: "imap", "pop", "sieve" */
	struct saslsrv *sasl;
	char *mech;		/* the exchange in progress, or NULL */
	unsigned failures;
	unsigned bad_commands;
	struct net_timer *delay_timer;
	char *delayed_reply;
	int close_after_delay;
	int ip_counted;		/* limits_ip_enter() succeeded */
	int closing;
};

/*
 * Sets up f for c (conn ctx must point at the struct holding f first).
 * Counts the connection against max_per_ip: returns -1 when over (the
 * caller sends its refusal and closes).
 */
int front_init(struct front *f, struct conn *c, const char *service);
/* Frees what f holds; ends the proxy with reason. */
void front_cleanup(struct front *f, const char *reason);

/* Mechanisms to advertise now (changes after STARTTLS). */
const char *front_mechanisms(struct front *f);
int front_plaintext_ok(struct front *f);
/* After STARTTLS: forget the SASL state. */
void front_tls_reset(struct front *f);

/*
 * The three ways in.  On SASLSRV_OK, front_user() is the authenticated
 * user (valid until the next call on f).  SASLSRV_TEMPFAIL also means
 * "this IP is rate-limited".  front_auth_start() remembers mech for
 * front_auth_step(); f->mech is NULL again once the exchange ends.
 */
enum saslsrv_result front_auth_start(struct front *f, const char *mech,
				     const char *initial, char **challenge_r);
enum saslsrv_result front_auth_step(struct front *f, const char *response,
				    char **challenge_r);
enum saslsrv_result front_checkpass(struct front *f, const char *user,
				    const char *pass);
const char *front_user(struct front *f);
/* Who tried, for logs after a failure (may be NULL). */
const char *front_who(struct front *f);

/*
 * A failed login: logs it, counts it for the IP, and sends reply (the
 * complete protocol line with CRLF) after the delay, pausing input; after
 * too many failures the connection closes after the reply.
 */
void front_failed(struct front *f, const char *who, const char *mech,
		  const char *reply);
/* Counts a bad command; returns 1 when the caller should hang up. */
int front_bad_command(struct front *f);

/* --- imap_parse.c: the pre-auth token reader ---------------------------- */

#define TOK_MAX_ARGS 8
#define TOK_MAX_LITERAL 8192

enum tok_type { TOK_ATOM = 0, TOK_STRING, TOK_NIL, TOK_LIST };

struct tok {
	enum tok_type type;
	char *str;		/* NUL-terminated copy (LIST: NULL) */
	size_t len;
};

/*
 * A command being collected: words from lines and literals.  IMAP
 * (has_tag) reads "tag NAME args..."; ManageSieve reads "NAME args...".
 * Parenthesised lists are read as one TOK_LIST token (their content is
 * skipped, which is all ID needs before login).
 */
struct tokcmd {
	int has_tag;
	unsigned n;			/* tokens so far */
	struct tok t[TOK_MAX_ARGS + 2];
	int depth;			/* open '(' */
	size_t literal_size;		/* after TOKCMD_LITERAL */
	int literal_sync;		/* needs "+ " / a continuation */
	char *error;			/* static text after TOKCMD_ERROR */
};

enum tokcmd_result {
	TOKCMD_DONE = 0,	/* the command is complete */
	TOKCMD_LITERAL,		/* read literal_size bytes, tokcmd_literal() */
	TOKCMD_ERROR,		/* syntax error: error says what */
};

void tokcmd_init(struct tokcmd *tc, int has_tag);
void tokcmd_clear(struct tokcmd *tc);
/* Feeds one line (without CRLF; may hold NULs: len is exact). */
enum tokcmd_result tokcmd_line(struct tokcmd *tc, const char *line,
			       size_t len);
/* The literal's bytes (all of them); the command line continues with the
 * next tokcmd_line(). */
void tokcmd_literal(struct tokcmd *tc, const char *data, size_t len);
/* Token i as a string (atom or string), or NULL. */
const char *tokcmd_str(const struct tokcmd *tc, unsigned i);

#endif
