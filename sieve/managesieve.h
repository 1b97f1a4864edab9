/*
 * managesieve.h - the ManageSieve server (RFC 5804) with the
 * compatibility rules of the older timsieved dialect that Mulberry,
 * sieveshell and other old clients speak.  The daemon sees only
 * managesieve_conn_ops (store/store.h).
 *
 * Files:
 *   managesieve_parse.c    the command reader: pure, one line at a time,
 *                          literals fed in chunks (unit-tested byte by
 *                          byte through lib/lineread.h)
 *   managesieve_session.c  one struct msv_session per connection, state
 *                          machine, replies, capabilities, STARTTLS,
 *                          literal streaming, the dispatcher
 *   managesieve_cmd.c      the command table and one handler per command
 *
 * Compatibility rules (issue 6): capability lines "NAME" "value", quoted
 * and upper-case; a bare OK ends the greeting, CAPABILITY and successful
 * commands; NO and BYE always carry a text; only response codes old
 * clients parse (no hyphenated codes, no WARNINGS); IMPLEMENTATION, SIEVE
 * and VERSION "1.0" always, SASL before login, STARTTLS only before TLS
 * and login, OWNER after login; capabilities re-sent after STARTTLS
 * (except on a "legacy" listener: Mulberry expects nothing there) and
 * never after AUTHENTICATE; client literals {N} and {N+} both taken as
 * non-synchronising, the server sends {N}; LISTSCRIPTS names always
 * quoted; commands case-insensitive; 30-minute idle timeout after login.
 */
#ifndef ROOKERY_SIEVE_MANAGESIEVE_H
#define ROOKERY_SIEVE_MANAGESIEVE_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "strbuf.h"
#include "xclient.h"

struct conn;
struct store;
struct saslsrv;
struct net_timer;

/* --- the command reader (managesieve_parse.c) ------------------------------
 */

#define MSV_MAX_ARGS 4	    /* the most any command takes, plus one */
#define MSV_MAX_QUOTED 1024 /* RFC 5804 4: quoted strings are short */
#define MSV_DEFAULT_MAX_LITERAL (1024 * 1024)

enum msv_arg_type { MSV_ATOM = 0, MSV_QUOTED, MSV_LITERAL };

struct msv_arg {
	enum msv_arg_type type;
	struct strbuf s; /* the value, NUL-terminated (may hold NULs) */
};

struct msv_params {
	uint64_t max_literal; /* larger literals are read and dropped */
};

enum msv_parse {
	MSV_PARSE_ERROR = -1, /* c->error says why; the command is over */
	MSV_PARSE_DONE = 0,   /* a complete command is in c->args */
	MSV_PARSE_LITERAL,    /* feed c->literal_size bytes, then a line */
};

struct msv_cmd {
	struct msv_params p;
	struct msv_arg args[MSV_MAX_ARGS];
	unsigned nargs;
	uint64_t literal_size; /* MSV_PARSE_LITERAL: bytes to feed */
	int literal_drop;      /* too big: the bytes are counted, not kept */
	const char *error;     /* static text */
	int too_many;	       /* more than MSV_MAX_ARGS arguments */
};

void msv_cmd_init(struct msv_cmd *c, const struct msv_params *p);
/* Forgets the arguments (keeps memory); ready for a new command. */
void msv_cmd_reset(struct msv_cmd *c);
void msv_cmd_free(struct msv_cmd *c);
/*
 * One line of a command (without CRLF): the first, or the rest after a
 * literal.  A line ending in {N} or {N+} returns MSV_PARSE_LITERAL: the
 * caller then feeds N bytes with msv_cmd_literal() and the next line
 * with msv_cmd_line() again.  Pure: no I/O.
 */
enum msv_parse msv_cmd_line(struct msv_cmd *c, const char *line, size_t len);
void msv_cmd_literal(struct msv_cmd *c, const void *data, size_t len);

/* --- sessions (managesieve_session.c) --------------------------------------
 */

enum msv_state {
	MSV_NONAUTH = 0, /* greeting sent, not logged in */
	MSV_SASL,	 /* an AUTHENTICATE exchange: lines are responses */
	MSV_AUTHED,	 /* logged in */
	MSV_LOGOUT,	 /* closing */
};
#define MSV_IN(st) (1u << (st))

#define MSV_PREAUTH_IDLE_SECONDS 300
#define MSV_AUTHED_IDLE_SECONDS 1800 /* 30 minutes after login */
#define MSV_MAX_BAD_COMMANDS 20
#define MSV_MAX_AUTH_FAILURES 5

struct msv_session {
	struct conn *c;
	struct store *st;
	enum msv_state state;
	/* The client as logs name it: the peer, or what a trusted proxy
	 * forwarded with XCLIENT (lib/xclient.h). */
	char client[XCLIENT_PEER_MAX];
	struct xclient *xc; /* NULL until the first XCLIENT */
	int auth_begun;	    /* AUTHENTICATE seen: too late for XCLIENT */
	struct msv_cmd cmd;
	int in_literal;	    /* streaming a literal into cmd */
	int legacy;	    /* listener "legacy": no capabilities after TLS */
	int extended_codes; /* sieve_extended_codes: hyphenated codes too */
	unsigned bad_commands;
	unsigned auth_failures;
	struct saslsrv *sasl;
	char *sasl_mech;
	char *user;		       /* after login */
	struct net_timer *delay_timer; /* failed login: the reply waits */
	char *delayed_reply;
	int close_after_delay;
};

const char *msv_state_name(enum msv_state st);
/* The one place the state changes; logs old -> new at debug level. */
void msv_set_state(struct msv_session *s, enum msv_state st);

/* Replies.  code may be NULL; text NULL gives a bare OK.  The text goes
 * out quoted, or as a literal when it holds CR/LF or is long. */
void msv_ok(struct msv_session *s, const char *code, const char *text);
void msv_no(struct msv_session *s, const char *code, const char *fmt, ...)
    LOG_PRINTF(3, 4);
void msv_bye(struct msv_session *s, const char *code, const char *text);
/* Appends s as a quoted string, or a {N} literal when it must. */
void msv_add_string(struct strbuf *b, const char *s, size_t len);
/* Sends the capability lines and a bare OK. */
void msv_capabilities(struct msv_session *s);
void msv_bad_command(struct msv_session *s);
/* A failed login: "NO text" goes out after auth_fail_delay_ms, doubled
 * per failure (at most 15 s), with input paused; after
 * MSV_MAX_AUTH_FAILURES a BYE follows and the session ends. */
void msv_auth_failed(struct msv_session *s, const char *text);
void msv_hangup(struct msv_session *s);

/* --- commands (managesieve_cmd.c) ----------------------------------------- */

/* Runs the complete command in s->cmd (table lookup, state, arity). */
void msv_dispatch(struct msv_session *s);
/* An AUTHENTICATE exchange: the client's response in s->cmd. */
void msv_sasl_continue(struct msv_session *s);
/* Frees the SASL state and the login. */
void msv_auth_free(struct msv_session *s);

#endif
