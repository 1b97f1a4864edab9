/*
 * pop3.h - the store's POP3 server (RFC 1939, 2449, 2595, 3206, 5034),
 * private to store/pop3_*.c.  The daemon sees only pop3_conn_ops
 * (store.h).
 *
 * Files:
 *   pop3_session.c   one struct pop3_session per connection, the state
 *                    machine (AUTHORIZATION -> TRANSACTION -> UPDATE), the
 *                    dispatcher, replies, the per-process maildrop locks
 *   pop3_cmd.c       the command table and the TRANSACTION handlers
 *   pop3_auth.c      USER/PASS, AUTH (SASL), login, failure delays
 *   pop3_stream.c    RETR/TOP: the dot-stuffing streamer (pure part
 *                    pop3_stuff_*() is unit-tested byte by byte)
 *   pop3_maildrop.c  the maildrop snapshot over the storage engine
 *   pop3_update.c    QUIT: the UPDATE state, a slice per loop turn
 */
#ifndef ROOKERY_STORE_POP3_H
#define ROOKERY_STORE_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "xclient.h"

struct conn;
struct store;
struct saslsrv;
struct net_timer;
struct pop3_maildrop;
struct pop3_stream;

/* RFC 1939 section 3: the session states. */
enum pop3_state {
	POP3_AUTHORIZATION = 0,
	POP3_TRANSACTION,
	POP3_UPDATE,
};
#define POP3_IN(st) (1u << (st))

/* Command lines: RFC 2449 section 4 limits commands to 255 octets, but
 * RFC 5034 section 4 exempts SASL responses, which may be long. */
#define POP3_MAX_LINE 8192
#define POP3_MAX_ARGS 2
/* Consecutive unknown/invalid commands before we hang up. */
#define POP3_MAX_BAD_COMMANDS 20
/* Failed logins on one connection before we hang up. */
#define POP3_MAX_AUTH_FAILURES 5
/* Pipelined replies queued beyond this pause input until they drain. */
#define POP3_OUTPUT_HIGH (512 * 1024)
#define POP3_OUTPUT_LOW (64 * 1024)
/* A client that reads nothing of a queued reply for this long is gone
 * (RFC 1939 section 3: the autologout timer is at least 10 minutes). */
#define POP3_STALL_MS (600 * 1000)

struct pop3_quit_wait;

struct pop3_session {
	struct conn *c;
	struct store *st;
	enum pop3_state state;
	/* The client as logs name it: the peer, or what a trusted proxy
	 * forwarded with XCLIENT (lib/xclient.h). */
	char client[XCLIENT_PEER_MAX];
	struct xclient *xc; /* NULL until the first XCLIENT */

	/* AUTHORIZATION */
	char *user;	      /* from USER, waiting for PASS */
	struct saslsrv *sasl; /* created on first use, again after STLS */
	int sasl_active;      /* inside an AUTH exchange: lines are responses */
	char *sasl_mech;
	unsigned auth_failures;
	int auth_begun;	/* USER or AUTH seen: too late for XCLIENT */
	struct net_timer *delay_timer; /* failed-login delay */
	char *delayed_reply;	       /* sent when delay_timer fires */
	int close_after_delay;

	/* TRANSACTION */
	char *login; /* the identity holding the maildrop lock */
	struct pop3_maildrop *md;
	struct pop3_stream *stream; /* RETR/TOP in progress */

	struct net_timer *stall_timer; /* output not drained for too long */
	unsigned bad_commands;
	unsigned paused; /* pop3_pause() depth */
	int flow_paused; /* waiting for queued replies to drain */
	int closing;	 /* QUIT/fatal: no more commands */
	struct pop3_quit_wait *quit_wait; /* QUIT waiting for durability */
	struct net_timer *update_timer;	  /* UPDATE in progress */
	unsigned update_slices;
};

/* --- pop3_update.c ------------------------------------------------------- */

/* QUIT from TRANSACTION: the UPDATE state, a slice per loop turn. */
void pop3_update_start(struct pop3_session *s);
/* The connection is going: the rest of a running update, at once. */
void pop3_update_finish(struct pop3_session *s);
/* The session is going away: a pending QUIT reply must not touch it. */
void pop3_quit_wait_cancel(struct pop3_session *s);

/* --- pop3_session.c ----------------------------------------------------- */

/* The one place the state changes; logs old -> new. */
void pop3_set_state(struct pop3_session *s, enum pop3_state st);
const char *pop3_state_name(enum pop3_state st);

/* "+OK text\r\n" */
void pop3_ok(struct pop3_session *s, const char *fmt, ...) LOG_PRINTF(2, 3);
/* "-ERR [code] text\r\n"; code NULL for none (RFC 2449 section 8). */
void pop3_err(struct pop3_session *s, const char *code, const char *fmt, ...)
    LOG_PRINTF(3, 4);
/* Counts a bad command; hangs up after POP3_MAX_BAD_COMMANDS. */
void pop3_bad_command(struct pop3_session *s);
/* Sends nothing more, closes after flushing. */
void pop3_hangup(struct pop3_session *s);

/* Input flow: a handler that finishes later (streaming, delays) pauses
 * the session; pop3_resume() lets pipelined commands through again. */
void pop3_pause(struct pop3_session *s);
void pop3_resume(struct pop3_session *s);
/* While waiting for output to drain (input paused, so the idle timer is
 * off): (re)starts or stops the stall timer, which hangs up. */
void pop3_stall_arm(struct pop3_session *s);
void pop3_stall_disarm(struct pop3_session *s);

/*
 * Per-process maildrop locks (RFC 1939 section 8, RFC 2449 [IN-USE]): one
 * store is one process, so a set keyed by user name is enough.  lock
 * returns 0, or -1 when another session holds user's maildrop.
 */
int pop3_lock_acquire(const char *user, const struct pop3_session *owner);
void pop3_lock_release(const char *user, const struct pop3_session *owner);

/* --- pop3_cmd.c ---------------------------------------------------------- */

struct pop3_args {
	int argc;
	char *argv[POP3_MAX_ARGS];
	const char *rest; /* the whole argument text (PASS, AUTH) */
};

/* Looks up and runs one command line (NUL-free, no CRLF). */
void pop3_cmd_dispatch(struct pop3_session *s, char *line);

/* --- pop3_auth.c --------------------------------------------------------- */

void pop3_cmd_user(struct pop3_session *s, struct pop3_args *a);
void pop3_cmd_pass(struct pop3_session *s, struct pop3_args *a);
void pop3_cmd_auth(struct pop3_session *s, struct pop3_args *a);
/* XCLIENT (Dovecot's proxy convention, lib/xclient.h): trusted peers
 * only, before USER/AUTH. */
void pop3_cmd_xclient(struct pop3_session *s, struct pop3_args *a);
/* A line while an AUTH exchange is active (RFC 5034 section 4). */
void pop3_auth_continue(struct pop3_session *s, const char *line);
/* Ends an active AUTH exchange on input that cannot be a response (NUL
 * bytes, an overlong line): -ERR, counted as a failed attempt. */
void pop3_auth_abort(struct pop3_session *s, const char *why);
/* The SASL object for this connection (created on demand); NULL if SASL
 * cannot be set up. */
struct saslsrv *pop3_auth_sasl(struct pop3_session *s);
/* After STLS: forget USER and the SASL object (RFC 2595 section 4). */
void pop3_auth_reset(struct pop3_session *s);
/* Frees what pop3_auth.c allocated in s. */
void pop3_auth_free(struct pop3_session *s);

/* --- pop3_stream.c ------------------------------------------------------- */

/*
 * Dot-stuffing (RFC 1939 section 3) and bare-LF -> CRLF conversion, pure
 * and incremental.  Feed the message in any pieces; the output for each
 * piece goes to out().  body_lines < 0: whole message (RETR); otherwise
 * the header, the blank line and at most body_lines body lines (TOP,
 * RFC 1939 section 7).  pop3_stuff_finish() ends the last line with CRLF
 * if needed and writes the ".\r\n" terminator.
 */
struct pop3_stuff {
	int bol;	      /* at the beginning of a line */
	int prev_cr;	      /* last input byte was CR */
	int in_body;	      /* past the header's blank line */
	size_t line_bytes;    /* bytes of the current line so far */
	long long body_lines; /* < 0: unlimited */
	int done;	      /* TOP limit reached: ignore the rest */
	void (*out)(void *arg, const char *data, size_t len);
	void *arg;
};

void pop3_stuff_init(struct pop3_stuff *st, long long body_lines,
		     void (*out)(void *arg, const char *data, size_t len),
		     void *arg);
/* Returns how many input bytes were consumed; less than len only once
 * the TOP limit is reached (the rest is not needed). */
size_t pop3_stuff_feed(struct pop3_stuff *st, const char *data, size_t len);
void pop3_stuff_finish(struct pop3_stuff *st);

/*
 * Starts streaming message fd (the caller keeps its fd; the stream dups
 * it) as a multi-line reply after the "+OK" line was queued.  Pauses the
 * session's input until the terminator is queued.  Returns 0, or -1 if
 * nothing could be started (the caller sends -ERR).
 */
int pop3_stream_start(struct pop3_session *s, int fd, uint64_t file_size,
		      long long body_lines);
void pop3_stream_free(struct pop3_stream **stp);

/* --- pop3_maildrop.c ----------------------------------------------------- */

enum pop3_md_result {
	POP3_MD_OK = 0,
	POP3_MD_NO_USER,  /* no mailbox for the user: [SYS/PERM] */
	POP3_MD_TEMPFAIL, /* storage failure: [SYS/TEMP] */
};

/* Takes the snapshot of user's INBOX at login (RFC 1939 section 4). */
enum pop3_md_result pop3_md_open(struct store *st, const char *user,
				 struct pop3_maildrop **md_r);
void pop3_md_free(struct pop3_maildrop **md);

/* Messages in the snapshot (1-based numbers, deleted ones included). */
unsigned pop3_md_count(const struct pop3_maildrop *md);
/* Not deleted: count and total size (STAT). */
void pop3_md_stat(const struct pop3_maildrop *md, unsigned *count_r,
		  uint64_t *size_r);
int pop3_md_deleted(const struct pop3_maildrop *md, unsigned n);
/* Size in octets as sent (CRLF line ends, before dot-stuffing). */
uint64_t pop3_md_size(const struct pop3_maildrop *md, unsigned n);
/* The unique-id listing (RFC 1939 section 7): stable across sessions
 * and restarts.  Valid while md lives. */
const char *pop3_md_uidl(const struct pop3_maildrop *md, unsigned n);
/* Marks or unmarks (RSET) deletion. */
void pop3_md_delete(struct pop3_maildrop *md, unsigned n);
unsigned pop3_md_reset(struct pop3_maildrop *md);
/* Opens message n's file for reading; returns an fd (caller closes) and
 * the file's size, or -1. */
int pop3_md_open_msg(struct pop3_maildrop *md, unsigned n,
		     uint64_t *file_size_r);
/* Remembers that message n was retrieved (\Seen at UPDATE). */
void pop3_md_retrieved(struct pop3_maildrop *md, unsigned n);
/* Messages marked deleted. */
unsigned pop3_md_deleted_count(const struct pop3_maildrop *md);
/*
 * The UPDATE state (RFC 1939 section 6), one slice of at most MAX
 * messages per call: \Seen on the retrieved messages that stay, then the
 * expunge of the deleted ones, each slice its own transaction.  Returns
 * 0 (call again), 1 (all done) or -1 (an expunge failed; the earlier
 * slices stay done).
 */
int pop3_md_commit_slice(struct pop3_maildrop *md, unsigned max);

#endif
