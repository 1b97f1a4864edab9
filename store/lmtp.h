/*
 * lmtp.h - the store's LMTP server (RFC 2033), private to store/lmtp_*.c.
 * The daemon sees only lmtp_conn_ops (store.h).
 *
 * Files:
 *   lmtp_session.c  one struct lmtp_session per connection, the state
 *                   machine, the dispatcher (table-driven), replies, flow
 *                   control (pause while a delivery is in flight or while
 *                   replies pile up unread)
 *   lmtp_cmd.c      the command table and one handler per command, the
 *                   path and ESMTP parameter parsers (RFC 5321 4.1.2)
 *   lmtp_data.c     DATA: the dot-unstuffing decoder (pure, incremental),
 *                   streaming into the spool, trace headers, delivery and
 *                   the per-recipient replies (RFC 2033 4.2)
 *
 * Extensions: PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, codes
 * from RFC 3463), 8BITMIME (RFC 6152), SIZE (RFC 1870).
 */
#ifndef ROOKERY_STORE_LMTP_H
#define ROOKERY_STORE_LMTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "log.h"
#include "strbuf.h"
#include "xclient.h"

struct conn;
struct store;
struct evbuffer;
struct mstore_spool;
struct mstore_target;
struct lmtp_sieve;
struct sieve_action;

/*
 * Session states.  A command's table entry lists the states it is allowed
 * in; anything else gets 503 5.5.1 (RFC 5321 4.1.4, RFC 2033 4.2).
 */
enum lmtp_state {
	LMTP_GREETED = 0, /* waiting for LHLO (RFC 2033 4.1) */
	LMTP_READY,	  /* LHLO done, no transaction */
	LMTP_MAIL,	  /* MAIL accepted, no recipient yet */
	LMTP_RCPT,	  /* at least one recipient accepted */
	LMTP_DATA,	  /* streaming the message (raw input) */
	LMTP_DELIVERING,  /* waiting for the durable commit */
};
#define LMTP_IN(st) (1u << (st))
#define LMTP_ANY_COMMAND_STATE                                                 \
	(LMTP_IN(LMTP_GREETED) | LMTP_IN(LMTP_READY) | LMTP_IN(LMTP_MAIL) |    \
	 LMTP_IN(LMTP_RCPT))

/*
 * Command lines: RFC 5321 4.5.3.1.4 says 512 octets, extended by SIZE
 * (RFC 1870 3.5) and other parameters; we allow more, and answer longer
 * lines with 500 5.5.2 while staying in sync.
 */
#define LMTP_MAX_LINE 2048
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets (with the brackets). */
#define LMTP_MAX_PATH 256
/* Default for "lmtp_max_recipients" (RFC 5321 4.5.3.1.8: at least 100). */
#define LMTP_DEFAULT_MAX_RCPT 1000
/* Consecutive bad commands before we hang up (421). */
#define LMTP_MAX_BAD_COMMANDS 50
/* Unread replies beyond this pause input until they drain (floods). */
#define LMTP_OUTPUT_HIGH (256 * 1024)
#define LMTP_OUTPUT_LOW (32 * 1024)

/* Why input is paused: the session resumes when no reason is left. */
#define LMTP_PAUSE_DELIVERY 0x1
#define LMTP_PAUSE_OUTPUT 0x2

/* One accepted RCPT.  Several may share one delivery target (the same
 * user and folder twice): each still gets its own reply (RFC 2033 4.2). */
struct lmtp_rcpt {
	char *addr;    /* the address as given, without brackets */
	char *user;    /* the store user (full address) */
	char *mailbox; /* "+detail" folder, or NULL for INBOX */
	size_t target; /* index into the delivery's targets */
};

/* The dot-unstuffing decoder (RFC 5321 4.5.2), see lmtp_data.c. */
struct lmtp_dot {
	int state;
};

/* The message being received or delivered. */
struct lmtp_msg {
	struct mstore_spool *spool; /* NULL if it could not be created */
	struct lmtp_dot dot;
	uint64_t size;		 /* message bytes received (unstuffed) */
	int too_big;		 /* size passed max_message_size */
	int write_failed;	 /* spool write error: 451 for everyone */
	char *id;		 /* "<session>.<n>", the Received id */
	struct timespec started; /* DATA accepted: for ms= in the log */
	char *scratch;		 /* decoder output buffer */
	size_t scratch_cap;
	struct mstore_target *targets;
	size_t ntargets;
	struct lmtp_sieve *sieve; /* lmtp_sieve.c's state for this message */
};

struct lmtp_session {
	struct conn *c; /* NULL once the connection is gone */
	struct store *st;
	enum lmtp_state state;
	unsigned pause_reasons; /* LMTP_PAUSE_* */
	unsigned bad_commands;
	unsigned transactions; /* messages started on this connection */
	int closing;	       /* QUIT or hang-up: ignore further input */
	/* The client as logs and the Received: field name it: the peer, or
	 * what a trusted proxy forwarded with XCLIENT (lib/xclient.h).  Kept
	 * here because the connection may be gone before the last log line
	 * (a delivery in flight). */
	char client[XCLIENT_PEER_MAX];
	struct xclient *xc; /* NULL until the first XCLIENT */

	char *lhlo; /* the LHLO argument */
	/* The transaction (MAIL .. end of DATA). */
	char *from;		/* reverse-path without brackets ("" = <>) */
	uint64_t declared_size; /* SIZE=, 0 if none */
	int body_8bit;		/* BODY=8BITMIME */
	struct lmtp_rcpt *rcpts;
	size_t nrcpts, rcpts_cap;
	struct lmtp_msg *msg; /* between DATA and the last reply */
};

/* --- lmtp_session.c ------------------------------------------------------- */

const char *lmtp_state_name(enum lmtp_state st);
/* The one place the state changes; logs old -> new at debug level. */
void lmtp_set_state(struct lmtp_session *s, enum lmtp_state st);
/* Sends one reply line "code text\r\n" (nothing once the conn is gone). */
void lmtp_reply(struct lmtp_session *s, const char *fmt, ...) LOG_PRINTF(2, 3);
/* Counts a bad command; hangs up with 421 after LMTP_MAX_BAD_COMMANDS. */
void lmtp_bad_command(struct lmtp_session *s);
/* Replies 221/421 is the caller's job; this closes after flushing. */
void lmtp_hangup(struct lmtp_session *s);
/* Forgets the transaction (RSET, after DATA): back to READY. */
void lmtp_reset_transaction(struct lmtp_session *s);
void lmtp_pause(struct lmtp_session *s, unsigned reason);
void lmtp_resume(struct lmtp_session *s, unsigned reason);
/* Frees the session once the connection is gone and no delivery is in
 * flight; returns 1 if it did (s is then invalid). */
int lmtp_session_maybe_free(struct lmtp_session *s);

/* --- lmtp_cmd.c ----------------------------------------------------------- */

/* Looks up and runs one command line (no CRLF, NUL-free). */
void lmtp_cmd_dispatch(struct lmtp_session *s, char *line);

/*
 * Parses a path "<...>" at *p (RFC 5321 4.1.2: optional source route,
 * quoted local parts).  On success returns 0, *addr_r is the allocated
 * mailbox without brackets or route ("" for "<>"), and *p points past
 * '>'.  Returns -1 with *why_r (static text) on a syntax error.  Pure:
 * unit-testable.
 */
int lmtp_parse_path(const char **p, char **addr_r, const char **why_r);

/* --- lmtp_data.c ---------------------------------------------------------- */

void lmtp_dot_init(struct lmtp_dot *d);
/*
 * Decodes in[0..len) (RFC 5321 4.5.2 transparency): leading dots removed,
 * the terminating "CRLF.CRLF" recognised (a bare LF is accepted in place
 * of CRLF).  Unstuffed bytes go to out, which must hold len + 2 bytes;
 * *out_len_r is their count.  Returns the input bytes consumed: all of
 * them, or fewer when the terminator ended inside in (*done_r = 1, the
 * rest belongs to the next command).  Pure and incremental: any split of
 * the input gives the same output.
 */
size_t lmtp_dot_decode(struct lmtp_dot *d, const char *in, size_t len,
		       char *out, size_t *out_len_r, int *done_r);

/* DATA accepted: creates the spool, writes the trace headers, sends 354
 * and switches the connection to raw input.  Replies 451 itself when the
 * spool cannot be created. */
void lmtp_data_begin(struct lmtp_session *s);
/* Frees s->msg (spool included); only when no delivery is in flight. */
void lmtp_msg_free(struct lmtp_msg **m);
/* Hands s->msg->targets to the engine (lmtp_sieve.c calls it once the
 * targets are known); with no target, replies at once. */
void lmtp_data_deliver(struct lmtp_session *s);

/* --- lmtp_sieve.c ---------------------------------------------------------- */

/* Runs the recipients' active Sieve scripts and builds s->msg->targets
 * (recipients without a script get their usual target); calls
 * lmtp_data_deliver() when every redirect has been answered. */
void lmtp_sieve_run(struct lmtp_session *s);
/* Sends rcpt i's reply if a script decided its fate: 1, else 0. */
int lmtp_sieve_reply(struct lmtp_session *s, size_t i,
		     const struct mstore_target *targets, size_t n);
void lmtp_sieve_free(struct lmtp_sieve **sv);

/* --- lmtp_vacation.c -------------------------------------------------------- */

/* The vacation action for rcpt r (suppression rules, tracking, reply). */
void lmtp_vacation(struct lmtp_session *s, const struct lmtp_rcpt *r,
		   const struct sieve_action *a, const char *raw, size_t len);
/*
 * The nth (0-based) field called name (prefix: whose name starts with
 * name) of the header of raw[0..len), unfolded and trimmed, into out.
 * Returns 1 when found, 0 when not.  Pure.
 */
int lmtp_hdr_get(const char *raw, size_t len, const char *name, int prefix,
		 size_t nth, struct strbuf *out);

#endif
