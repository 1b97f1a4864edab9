/*
 * imap.h - the store's IMAP server (RFC 3501, RFC 9051 and extensions),
 * private to store/imap_*.c.  The daemon sees only imap_conn_ops
 * (store.h).
 *
 * Files:
 *   imap_parse.c     the incremental, pure command parser (unit-tested
 *                    byte by byte)
 *   imap_seqset.c    sequence sets: parse, membership, compact writing
 *   imap_session.c   one struct imap_session per connection: states,
 *                    literals (streamed APPEND), replies, timeouts, BYE
 *   imap_cmd.c       the one command table and the dispatcher
 *   imap_auth.c      CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN
 *                    ID ENABLE UNAUTHENTICATE
 *   imap_mailbox.c   SELECT EXAMINE CREATE DELETE RENAME (UN)SUBSCRIBE
 *                    STATUS CHECK CLOSE UNSELECT EXPUNGE NAMESPACE IDLE
 *   imap_list.c      LIST LSUB (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE)
 *   imap_append.c    APPEND and MULTIAPPEND through the spool
 *   imap_utf7.c      modified UTF-7 <-> UTF-8 mailbox names
 *   imap_view.c      the selected mailbox's view, kept in sync through
 *                    the storage engine's change hook; message arrays
 *                    shared (copy-on-write) by the sessions of a mailbox
 *   imap_fetch.c     FETCH (first version)
 *   imap_store.c     STORE
 *   imap_copy.c      COPY MOVE
 *   imap_job.c       STORE EXPUNGE COPY SEARCH of large sets, in slices
 *   imap_search.c    SEARCH (first version); SORT/THREAD/ESEARCH
 *                    answer NO [CANNOT] until they are written
 *   imap_search_text.c  decoded, case-folded text for SEARCH (bodies per
 *                    part: transfer encodings, charsets; headers)
 *   imap_binary.c    BINARY[] / BINARY.SIZE decoding (RFC 3516)
 *   imap_objectid.c  OBJECTID ids (RFC 8474) and COMPRESS (RFC 4978)
 *   imap_rights.c    who may do what: RFC 4314 rights, "Other Users/" and
 *                    "Shared Folders/" names, STORE through the ACL
 *   imap_acl.c       SETACL DELETEACL GETACL LISTRIGHTS MYRIGHTS, GETQUOTA
 *                    GETQUOTAROOT SETQUOTA (both declared in imap_acl.h)
 *
 * Writing a new command: add an entry to the table in imap_cmd.c pointing
 * at a handler declared here.  A handler gets the parsed command (struct
 * imap_command: tag, name, arguments as a token tree) and must end by
 * sending exactly one tagged reply with imap_ok()/imap_no()/imap_bad(),
 * now or later (a command that waits calls imap_cmd_wait() first and
 * imap_cmd_resume() after its tagged reply).  Untagged data goes out with
 * imap_untagged() or imap_write(); pending mailbox changes (EXISTS,
 * EXPUNGE, FETCH FLAGS) are sent by imap_ok() itself, before the tagged
 * line, as the table flags of the running command allow (RFC 3501 5.2,
 * 7.4.1: never EXPUNGE during a non-UID FETCH, STORE or SEARCH).
 *
 * For the FETCH/STORE/COPY and SEARCH/SORT/THREAD files: the dispatcher
 * has already checked the state (SELECTED), the UID form and the argument
 * count, and brought the view up to date (imap_view_sync) before the
 * handler runs.  A handler then
 *   - parses its arguments from cmd->args (imap_arg_string(),
 *     imap_arg_is_atom(), IMAP_ARG_LIST children) and sequence sets with
 *     imap_seqset_parse(); BAD through imap_bad();
 *   - turns a set into message numbers with imap_view_resolve(s, &set,
 *     cmd->uid, &msns, &n) (ascending msns; -1 = BAD), and reads each
 *     message's cached state with imap_view_get(s->view, msn, &m): uid,
 *     flags, keywords, recent, expunged (skip those);
 *   - gets the mailbox id from imap_view_info(); reads records (also
 *     the modseq, which the view does not keep), MIME and files through
 *     mailstore.h (mstore_msg_get/_list_changed/_mime/_open);
 *   - after changing flags through the engine, records the new values
 *     with imap_view_set_flags() (so other sessions get FETCH FLAGS and
 *     this one does not get an echo) and calls imap_view_reload_keywords()
 *     when keywords were added;
 *   - after expunging (MOVE), calls imap_view_expunged() with the uids;
 *   - saves SEARCHRES results with imap_view_save_result();
 *   - writes untagged data with imap_write()/imap_untagged(), flags with
 *     imap_view_write_flags(), strings with imap_write_string(), dates
 *     with imap_write_datetime(), and ends with imap_ok()/imap_no().
 * s->enabled says whether CONDSTORE (MODSEQ in every FETCH), QRESYNC
 * (VANISHED instead of EXPUNGE) or IMAP4rev2 (no \Recent) is on.
 */
#ifndef ROOKERY_STORE_IMAP_H
#define ROOKERY_STORE_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "strbuf.h"

struct conn;
struct store;
struct saslsrv;
struct net_timer;
struct mstore_spool;
struct imap_view;
struct imap_parser;
struct imap_append;
struct imap_job;
struct imap_fetch_job;

/* ---- the parser (imap_parse.c) ------------------------------------------- */

enum imap_arg_type {
	IMAP_ARG_ATOM = 0, /* str: the atom (may hold "[...]<...>") */
	IMAP_ARG_QUOTED,   /* str: unescaped content */
	IMAP_ARG_LITERAL,  /* str, len: bytes held in memory */
	IMAP_ARG_SPOOL,	   /* a literal streamed to a spool (APPEND) */
	IMAP_ARG_NIL,	   /* the atom NIL */
	IMAP_ARG_LIST,	   /* list, count: a parenthesised list */
};

struct imap_arg {
	enum imap_arg_type type;
	char *str; /* NUL-terminated (not for LIST/SPOOL) */
	size_t len;
	struct imap_arg *list; /* LIST children */
	size_t count;
	struct mstore_spool *spool; /* SPOOL: owned by the session */
	uint64_t spool_size;
	int literal8; /* "~{N}" (RFC 3516) */
};

/* A complete command: owned by the parser until imap_parser_reset(). */
struct imap_command {
	char *tag;
	char *name; /* upper-cased; for "UID X", "X" */
	int uid;    /* sent as "UID name" */
	struct imap_arg *args;
	size_t nargs;
};

/* Limits (0 = the default shown). */
struct imap_parser_params {
	size_t max_line;      /* one line without CRLF: 65536 */
	size_t max_command;   /* lines + in-memory literals: 1 MiB */
	uint64_t max_literal; /* in-memory literal: 1 MiB */
	unsigned max_args;    /* tokens in a command: 100000 */
	unsigned max_depth;   /* list nesting: 64 */
	size_t max_tag;	      /* 64 */
};

/* Return values of the parser (Dovecot's contract). */
#define IMAP_PARSE_DONE 1     /* a command is complete */
#define IMAP_PARSE_MORE 0     /* need more input (a line or a literal) */
#define IMAP_PARSE_ERROR (-1) /* see imap_parser_error() */

/* What the line just given ended with (imap_parser_line). */
struct imap_literal_info {
	int pending;  /* a literal follows */
	int nonsync;  /* {N+}: the client sends it without "+" */
	int literal8; /* ~{N} */
	uint64_t size;
	int first_arg; /* the literal is the command's first
			* argument (APPEND's mailbox name) */
};

struct imap_parser *imap_parser_new(const struct imap_parser_params *p);
void imap_parser_free(struct imap_parser **p);
/* Forgets the command (and frees its tokens); ready for the next. */
void imap_parser_reset(struct imap_parser *p);

/*
 * Line interface (the session, fed by net.h line mode).  Gives one line
 * without CRLF.  IMAP_PARSE_DONE: imap_parser_command() has the command.
 * IMAP_PARSE_MORE: the line ended with a literal marker described by
 * *lit_r; give the literal with imap_parser_literal_data() (any pieces)
 * then imap_parser_literal_end(), or imap_parser_literal_spool(), then
 * the next line.  IMAP_PARSE_ERROR: imap_parser_error(); the command is
 * dropped (the caller resets).
 */
int imap_parser_line(struct imap_parser *p, const char *line, size_t len,
		     struct imap_literal_info *lit_r);
/* Appends in-memory literal bytes; -1 past max_command. */
int imap_parser_literal_data(struct imap_parser *p, const void *data,
			     size_t len);
void imap_parser_literal_end(struct imap_parser *p);
/* Records the pending literal as streamed into sp (size bytes); the
 * token becomes IMAP_ARG_SPOOL.  The parser does not own sp. */
void imap_parser_literal_spool(struct imap_parser *p, struct mstore_spool *sp,
			       uint64_t size);

/*
 * Byte interface (tests, the fuzzer): consumes up to len bytes, stops at
 * a result.  *used_r: bytes consumed.  Literals are kept in memory (or
 * refused past max_literal).  After a synchronising literal marker
 * imap_parser_wants_continuation() is 1 until its first byte arrives.
 */
int imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
		     size_t *used_r);
int imap_parser_wants_continuation(const struct imap_parser *p);

const struct imap_command *imap_parser_command(const struct imap_parser *p);
const char *imap_parser_error(const struct imap_parser *p);
/* The tag of the command being parsed, when known, else "*". */
const char *imap_parser_tag(const struct imap_parser *p);
/* The upper-cased command name seen so far ("" when unknown); for "UID
 * COPY", "COPY". */
const char *imap_parser_name(const struct imap_parser *p);

/*
 * Sequence sets (RFC 9051 9: sequence-set; "*" is UINT32_MAX, "$" is the
 * saved SEARCHRES result).  Ranges are normalised lo <= hi but not merged.
 */
struct imap_range {
	uint32_t lo, hi;
};
struct imap_seqset {
	struct imap_range *r;
	size_t n;
	int saved; /* "$" */
	/* imap_seqset_contains()'s cache for long sets: the ranges with "*"
	 * as sorted_star, sorted and merged (not part of the set's value) */
	struct imap_range *sorted;
	size_t nsorted;
	uint32_t sorted_star;
};
#define IMAP_SEQ_STAR UINT32_MAX
#define IMAP_SEQSET_MAX_RANGES 100000

/* 0, or -1 with *err_r (static text). */
int imap_seqset_parse(const char *s, struct imap_seqset *set_r,
		      const char **err_r);
void imap_seqset_free(struct imap_seqset *set);
/* Is v in set, where "*" stands for star (the largest number in use)?
 * O(log n) for long sets after one sort per star value (cached in set). */
int imap_seqset_contains(const struct imap_seqset *set, uint32_t v,
			 uint32_t star);
/* Writes a sorted uint32 array as a compact set "1:3,7" (n > 0). */
void imap_seqset_write(struct strbuf *out, const uint32_t *v, size_t n);

/* Argument helpers: the string of an atom/quoted/literal (NULL else). */
const char *imap_arg_string(const struct imap_arg *a);
/* astring / nstring acceptance */
int imap_arg_is_string(const struct imap_arg *a);
int imap_arg_is_atom(const struct imap_arg *a, const char *upper);

/* ---- modified UTF-7 (imap_utf7.c) ---------------------------------------- */

/* RFC 3501 5.1.3.  Both return 0 and append, or -1 (bad input). */
int imap_utf7_to_utf8(const char *in, struct strbuf *out);
int imap_utf8_to_utf7(const char *in, struct strbuf *out);

/* ---- the session (imap_session.c) ---------------------------------------- */

enum imap_state {
	IMAP_NOT_AUTHENTICATED = 0,
	IMAP_AUTHENTICATED,
	IMAP_SELECTED,
	IMAP_LOGOUT,
};
#define IMAP_IN(st) (1u << (st))

/* ENABLE'd extensions (RFC 5161). */
#define IMAP_EN_CONDSTORE 0x1
#define IMAP_EN_QRESYNC 0x2
#define IMAP_EN_IMAP4REV2 0x4
#define IMAP_EN_UTF8 0x8

/* What lines mean while a command waits for more. */
enum imap_input {
	IMAP_INPUT_COMMAND = 0, /* next command */
	IMAP_INPUT_SASL,	/* AUTHENTICATE responses */
	IMAP_INPUT_IDLE,	/* expecting DONE */
};

#define IMAP_MAX_LINE 65536
#define IMAP_MAX_BAD_COMMANDS 30
#define IMAP_MAX_AUTH_FAILURES 5
#define IMAP_PREAUTH_TIMEOUT 60	    /* seconds before login */
#define IMAP_AUTH_TIMEOUT (30 * 60) /* RFC 9051 5.4: at least 30 min */
/* Replies queued beyond this stop input until they drain. */
#define IMAP_OUTPUT_HIGH (4 * 1024 * 1024)
#define IMAP_OUTPUT_LOW (512 * 1024)
/* A non-synchronising literal past this closes the connection. */
#define IMAP_MAX_DISCARD_LITERAL (64ull * 1024 * 1024)

struct imap_cmd_def;

struct imap_session {
	struct conn *c;
	struct store *st;
	enum imap_state state;
	enum imap_input input;
	struct imap_parser *parser;

	/* the command running (NULL between commands) */
	const struct imap_cmd_def *cmd;
	const struct imap_command *args;
	char *tag;	    /* of the command running */
	int waiting;	    /* a handler finishes later */
	int in_dispatch;    /* inside imap_cmd_dispatch() */
	int skip_line;	    /* drop the rest of a refused command */
	int literal_failed; /* in-memory literal over the limits */

	/* authentication */
	struct saslsrv *sasl;
	char *sasl_mech;
	char *user; /* authorised identity */
	unsigned auth_failures;
	struct net_timer *delay_timer;
	char *delayed_reply;

	unsigned enabled;	/* IMAP_EN_* */
	struct imap_view *view; /* SELECTED */
	/* the client as logs name it: the peer, or the address a trusted
	 * proxy forwarded in ID (x-originating-ip, lib/xclient.h) */
	char client[64];

	/* literals */
	struct mstore_spool *spools[16]; /* streamed APPEND literals */
	size_t nspools;

	struct imap_append *append; /* APPEND delivery in flight */
	struct imap_fetch_job *fetch; /* FETCH waiting for output to drain */
	struct imap_job *job; /* a command working in slices (imap_job.c) */

	int flow_paused; /* waiting for queued output to drain */

	unsigned bad_commands;
	int closing;
	int tls_pending; /* STARTTLS ok sent, handshake due */
};

/* The one place the state changes; logs old -> new.  Leaving SELECTED
 * closes the view. */
void imap_set_state(struct imap_session *s, enum imap_state st);
const char *imap_state_name(enum imap_state st);

/* Untagged "* text\r\n". */
void imap_untagged(struct imap_session *s, const char *fmt, ...)
    LOG_PRINTF(2, 3);
/* Raw bytes (a whole untagged response built by the caller). */
void imap_write(struct imap_session *s, const void *data, size_t len);
/*
 * Tagged replies for the running command; code is the response code
 * without brackets ("TRYCREATE", "APPENDUID 3 7") or NULL.  imap_ok()
 * first sends the pending mailbox changes the command's table flags
 * allow.  Then the command is over (imap_cmd_done()).
 */
void imap_ok(struct imap_session *s, const char *code, const char *fmt, ...)
    LOG_PRINTF(3, 4);
void imap_no(struct imap_session *s, const char *code, const char *fmt, ...)
    LOG_PRINTF(3, 4);
void imap_bad(struct imap_session *s, const char *code, const char *fmt, ...)
    LOG_PRINTF(3, 4);
/* A BAD with an explicit tag, outside any command (parse errors). */
void imap_bad_tag(struct imap_session *s, const char *tag, const char *text);
/* Sends "* BYE text" and closes after flushing. */
void imap_bye(struct imap_session *s, const char *fmt, ...) LOG_PRINTF(2, 3);

/* A handler that answers later: input stops until imap_cmd_resume(). */
void imap_cmd_wait(struct imap_session *s);
void imap_cmd_resume(struct imap_session *s);
/*
 * A command that works in slices (imap_job.c): slice() does the next
 * part and returns 1 once nothing is left (done or failed); it runs now
 * and then once per turn of the loop, input paused.  finish() sends the
 * replies (not when s->closing) and gets the number of slices if there
 * were several (0: all in one go, nothing waited); free() frees data.
 * If the session ends first, abandon() (may be NULL) then free().
 */
struct imap_job_ops {
	const char *name;
	int (*slice)(struct imap_session *s, void *data);
	void (*finish)(struct imap_session *s, void *data, unsigned slices);
	void (*abandon)(struct imap_session *s, void *data);
	void (*free)(void *data);
};
void imap_job_run(struct imap_session *s, const struct imap_job_ops *ops,
		  void *data);
void imap_job_abandon(struct imap_session *s);

/* Appends s as an astring/string: quoted when possible, else a literal. */
void imap_write_string(struct strbuf *out, const char *str, size_t len);
/* Appends a storage (UTF-8) mailbox name as the client sees it:
 * modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT, quoted. */
void imap_write_mailbox(struct imap_session *s, struct strbuf *out,
			const char *name);
/*
 * The storage name of a mailbox argument: decodes modified UTF-7 (not
 * after UTF8=ACCEPT), maps INBOX case-insensitively, refuses ".." and
 * NUL.  Returns an allocated name, or NULL after sending the tagged
 * BAD/NO itself.
 */
char *imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a);

/* ---- the command table (imap_cmd.c) -------------------------------------- */

/* Table flags. */
#define IMAP_CMDF_UID 0x01	   /* has a "UID name" form */
#define IMAP_CMDF_NOTIFY 0x02	   /* may send EXISTS/FETCH before OK */
#define IMAP_CMDF_EXPUNGE 0x04	   /* may also send EXPUNGE/VANISHED */
#define IMAP_CMDF_UID_EXPUNGE 0x08 /* EXPUNGE allowed in the UID form */
#define IMAP_CMDF_SECRET 0x10	   /* never log the arguments */
#define IMAP_CMDF_STREAM 0x20	   /* literals are streamed to spools */
#define IMAP_CMDF_ONLY_UID 0x40	   /* only "UID name" (UID EXPUNGE) */

typedef void imap_handler(struct imap_session *s,
			  const struct imap_command *cmd);

struct imap_cmd_def {
	const char *name;
	imap_handler *handler;
	unsigned states;	/* IMAP_IN() mask */
	unsigned flags;		/* IMAP_CMDF_* */
	int min_args, max_args; /* -1: unbounded */
};

/* Looks up name (upper case) in the table; NULL if unknown. */
const struct imap_cmd_def *imap_cmd_lookup(const char *name);
/* Runs a complete command. */
void imap_cmd_dispatch(struct imap_session *s, const struct imap_command *cmd);
/* The tagged reply went out: forget the command, accept input. */
void imap_cmd_done(struct imap_session *s);
/* The CAPABILITY list for the current state, without "* CAPABILITY". */
void imap_capabilities(struct imap_session *s, struct strbuf *out);

/* ---- handlers ------------------------------------------------------------ */

/* imap_auth.c */
imap_handler imap_cmd_capability, imap_cmd_noop, imap_cmd_logout,
    imap_cmd_starttls, imap_cmd_authenticate, imap_cmd_login, imap_cmd_id,
    imap_cmd_enable, imap_cmd_unauthenticate;
void imap_auth_continue(struct imap_session *s, const char *line);
void imap_auth_free(struct imap_session *s);
/* After STARTTLS: forget SASL state (RFC 9051 6.2.1). */
void imap_auth_reset(struct imap_session *s);

/* imap_mailbox.c */
imap_handler imap_cmd_select, imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
    imap_cmd_subscribe, imap_cmd_status, imap_cmd_check, imap_cmd_close,
    imap_cmd_unselect, imap_cmd_expunge, imap_cmd_namespace, imap_cmd_idle;
void imap_idle_line(struct imap_session *s, const char *line);
/* Creates the special-use folders a new user lacks (first login). */
void imap_mailbox_provision(struct imap_session *s);
/* "\Drafts" etc. for a MSTORE_SU_* mask; appended with leading spaces. */
void imap_special_use_write(struct strbuf *out, uint32_t su);
/* Writes the STATUS items named in list for mailbox mb. */
struct mstore_mailbox;
int imap_status_items(struct imap_session *s, const struct imap_arg *list,
		      const struct mstore_mailbox *mb, struct strbuf *out);

/* imap_list.c */
imap_handler imap_cmd_list;

/* imap_append.c */
imap_handler imap_cmd_append;
/* The session ends while its APPEND is delivered: the delivery keeps the
 * spools and finishes alone. */
void imap_append_abandon(struct imap_session *s);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 3501 date-time); 0 or -1. */
int imap_parse_datetime(const char *s, int64_t *t_r, int32_t *tz_r);
/* Appends a date-time for INTERNALDATE. */
void imap_write_datetime(struct strbuf *out, int64_t t, int32_t tz_minutes);

/* imap_objectid.c: OBJECTID (RFC 8474) ids, COMPRESS (RFC 4978) */
struct mime_message;
imap_handler imap_cmd_compress;
void imap_objectid_mailbox(struct strbuf *out, uint32_t id,
			   uint32_t uidvalidity);
void imap_objectid_email(struct strbuf *out, const char *guid);
void imap_create_ok(struct imap_session *s, uint32_t id);
void imap_objectid_thread(struct strbuf *out, const struct mime_message *m,
			  const char *guid);

/* imap_binary.c: FETCH BINARY[]/BINARY.PEEK[]/BINARY.SIZE[] (RFC 3516) */
struct mime_part;
/*
 * Decodes part p of the message open as fd (section "" is the whole
 * message) into *out per its Content-Transfer-Encoding; a multipart or
 * message part is returned as it is.  Returns 0, or -1 for an encoding
 * we cannot decode (the caller answers NO [UNKNOWN-CTE]).
 */
int imap_binary_decode(int fd, const struct mime_message *m,
		       const struct mime_part *p, int whole,
		       struct strbuf *out);
/* Is the transfer encoding of p one BINARY can decode? */
int imap_binary_cte_known(const struct mime_part *p);

/* imap_fetch.c, imap_store.c, imap_copy.c, imap_search.c */
imap_handler imap_cmd_fetch, imap_cmd_store, imap_cmd_copy, imap_cmd_move,
    imap_cmd_search, imap_cmd_sort, imap_cmd_thread, imap_cmd_esearch;
/* A FETCH stopped at IMAP_OUTPUT_HIGH goes on when output drained; the
 * session's end drops it (imap_fetch.c). */
void imap_fetch_continue(struct imap_session *s);
void imap_fetch_abandon(struct imap_session *s);

/* ---- the selected mailbox's view (imap_view.c) --------------------------- */

/*
 * One message as this session sees it (msn = index + 1), filled by
 * imap_view_get(): a copy, never a pointer into the view.  The uids,
 * flags and keywords live in an array shared by the sessions that agree
 * on them (copy-on-write: change them only through imap_view_set_flags());
 * \Recent and "expunged elsewhere, not yet announced" are this session's
 * own.  The modseq is not kept: read the engine's record (mstore_msg_get,
 * mstore_msg_list_changed).
 */
struct imap_view_msg {
	uint32_t uid;
	uint32_t flags;	   /* MSTORE_F_*, \Seen per user when shared */
	uint64_t keywords; /* bit i: imap_view_keyword(v, i) */
	uint8_t recent;	   /* \Recent for this session */
	uint8_t expunged;  /* expunged elsewhere, EXPUNGE not sent yet */
};

/*
 * Opens mailbox (storage name) of user as the view of s (readonly for
 * EXAMINE).  Returns MSTORE_OK or the engine's error.  The caller sends
 * the SELECT responses from imap_view_info().
 */
int imap_view_open(struct imap_session *s, const char *name, int readonly);
void imap_view_close(struct imap_session *s);

struct imap_view_info {
	uint32_t mailbox_id;
	const char *name; /* storage name */
	int readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	uint32_t recent;
	uint32_t first_unseen; /* msn, 0 when none */
};
void imap_view_info(const struct imap_view *v, struct imap_view_info *i_r);

/* Messages in the view (including ones expunged elsewhere, not yet
 * announced). */
uint32_t imap_view_count(const struct imap_view *v);
/* Fills *m_r with message msn (1-based); 0, or -1 out of range. */
int imap_view_get(const struct imap_view *v, uint32_t msn,
		  struct imap_view_msg *m_r);
/* The uid of message msn; 0 out of range. */
uint32_t imap_view_uid(const struct imap_view *v, uint32_t msn);
/*
 * Records flags and keywords of message msn after this session changed
 * them through the engine (STORE, \Seen by FETCH): the shared array is
 * copied first when other sessions use it, so they still see the change
 * as FETCH FLAGS at their next sync and this session gets no echo.
 * flags is the value as this user sees it (imap_view_user_flags()).
 */
void imap_view_set_flags(struct imap_session *s, uint32_t msn, uint32_t flags,
			 uint64_t keywords);
/* msn of uid, 0 if not in the view (binary search). */
uint32_t imap_view_msn(const struct imap_view *v, uint32_t uid);

/*
 * Resolves a sequence set (uid: UID set) against the view: ascending,
 * unique msns; free() *msns_r.  "$" uses the saved search result.  UID
 * sets may name uids not in the view (skipped); "*" is the last message.
 * Returns 0, or -1 for a message-number set out of range (the caller
 * answers BAD).
 */
int imap_view_resolve(struct imap_session *s, const struct imap_seqset *set,
		      int uid, uint32_t **msns_r, size_t *n_r);
/* The saved SEARCHRES result (RFC 5182): uids. */
void imap_view_save_result(struct imap_view *v, const uint32_t *uids, size_t n);

/* Keyword names (RFC 3501 FLAGS): bit i's name, NULL past the end. */
const char *imap_view_keyword(const struct imap_view *v, unsigned bit);
unsigned imap_view_nkeywords(const struct imap_view *v);
/* Re-reads the keyword table (after a STORE that added keywords);
 * sends "* FLAGS" and "* OK [PERMANENTFLAGS" when it grew. */
void imap_view_reload_keywords(struct imap_session *s);
/* Appends "(\Seen $Label1 \Recent)" for m. */
void imap_view_write_flags(const struct imap_view *v,
			   const struct imap_view_msg *m, struct strbuf *out);
/*
 * Appends the FLAGS list of the mailbox (system flags + keywords), or
 * with permanent the PERMANENTFLAGS list: only what this user may change
 * (RFC 4314 4: \Seen with "s", \Deleted with "t", the other flags,
 * keywords and \* with "w"), "()" when nothing or read-only.
 */
void imap_view_write_flag_list(const struct imap_view *v, int permanent,
			       struct strbuf *out);

/*
 * Sends pending changes: new messages (EXISTS, RECENT), flag changes by
 * others (FETCH (FLAGS [MODSEQ] [UID])), and, when expunge is 1,
 * expunges (EXPUNGE n, or VANISHED with QRESYNC).  Called by imap_ok()
 * from the table flags, by IDLE as changes arrive, and by NOOP.
 */
void imap_view_sync(struct imap_session *s, int expunge);
/* Removes msns (ascending, this session's own EXPUNGE) from the view and
 * sends EXPUNGE/VANISHED for them. */
void imap_view_expunged(struct imap_session *s, const uint32_t *uids, size_t n);
/* Registers the change hook with the engine (once per process). */
void imap_view_hook_init(struct store *st);
/* The view notices changes immediately while s is in IDLE. */
void imap_view_set_idle(struct imap_session *s, int idle);
/* STATUS RECENT: messages with \Recent in any session, or new to all. */
struct mstore_mailbox;
uint32_t imap_view_status_recent(struct imap_session *s,
				 const struct mstore_mailbox *mb);

#endif
