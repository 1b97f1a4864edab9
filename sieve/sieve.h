/*
 * sieve.h - the Sieve mail filtering language (RFC 5228 and extensions).
 *
 * Life of a script:
 *
 *	sieve_compile()      text -> validated script, or error lines
 *	sieve_serialize()    script -> compact bytes (kept beside the source)
 *	sieve_deserialize()  bytes -> script (checked: corrupt input gives -1)
 *	sieve_execute()      script + message -> ordered list of actions
 *
 * A compiled script is immutable and may be executed any number of times,
 * from any number of deliveries.  Nothing here does I/O: the message, the
 * envelope, include scripts and mailbox existence come through struct
 * sieve_msg; the caller performs the actions in the result.
 *
 * Supported: require, if/elsif/else, stop, keep, discard, redirect and the
 * extensions named by sieve_capabilities(), plus the old "imapflags" draft
 * (mark/unmark) for migrated scripts, accepted but never advertised.
 */
#ifndef ROOKERY_SIEVE_H
#define ROOKERY_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "strbuf.h"

struct sieve_script;

/*
 * Limits given to sieve_compile(): size and nesting apply to the source;
 * the others are kept in the compiled script (and its serialised form) and
 * apply when it runs, includes included.
 */
struct sieve_limits {
	size_t max_script_size;	    /* bytes of source text */
	unsigned max_nesting;	    /* block + test nesting depth */
	unsigned max_actions;	    /* actions in one result */
	unsigned max_redirects;	    /* redirect actions in one result */
	unsigned max_include_depth; /* nested include levels */
	unsigned max_includes;	    /* distinct scripts included per run */
	size_t max_var_size;	    /* bytes in one variable value */
};

/* Fills lim with the defaults (64 KiB, 32 levels, 64 actions, 4 redirects,
 * include depth 10, 20 includes, 4 KiB variables). */
void sieve_limits_default(struct sieve_limits *lim);

/* The extension list advertised in the ManageSieve "SIEVE" capability. */
const char *sieve_capabilities(void);

/*
 * Parses and validates a script of len bytes (need not be NUL-terminated;
 * UTF-8, CRLF or LF line ends).
 * lim may be NULL for the defaults.  On success returns 0 and stores a new
 * script (free with sieve_script_free) in *script_r.  On failure returns -1
 * and appends one line per problem to errors (when not NULL), each
 * "line N: message\n"; *script_r is left NULL.
 */
int sieve_compile(const char *text, size_t len, const struct sieve_limits *lim,
		  struct sieve_script **script_r, struct strbuf *errors);

/* Frees *script and sets it to NULL; NULL is fine. */
void sieve_script_free(struct sieve_script **script);

/* Appends the compact compiled form of script to out. */
void sieve_serialize(const struct sieve_script *script, struct strbuf *out);

/*
 * Rebuilds a script from sieve_serialize() output.  The input is checked in
 * full (bounds, command shapes, argument kinds), so a corrupt or hostile
 * buffer gives -1, never a crash.  Returns 0 and stores *script_r on success.
 */
int sieve_deserialize(const void *buf, size_t len,
		      struct sieve_script **script_r);

/* A growable list of byte strings, used by the message callbacks. */
struct sieve_values {
	char **v; /* each NUL-terminated */
	size_t *len;
	size_t n, cap;
};
void sieve_values_add(struct sieve_values *vals, const char *s, size_t len);
void sieve_values_clear(struct sieve_values *vals);

enum sieve_include_loc { SIEVE_INCLUDE_PERSONAL, SIEVE_INCLUDE_GLOBAL };

enum sieve_body_transform {
	SIEVE_BODY_RAW,	    /* undecoded body after the header */
	SIEVE_BODY_CONTENT, /* decoded parts whose type matches types[] */
	SIEVE_BODY_TEXT,    /* decoded text parts */
};

/*
 * What a script sees of one delivery.  Every callback may be NULL: header
 * and body access then fall back to parsing raw/raw_len here, include
 * fails (unless :optional), and mailboxexists is false.
 */
struct sieve_msg {
	void *ctx;	 /* passed to every callback */
	const char *raw; /* the whole message, CRLF or LF */
	size_t raw_len;
	size_t size; /* for the size test; 0 = raw_len */

	/* Appends the raw (undecoded, unfolded or not) value of every
	 * header field called name, in message order; returns 0 or -1. */
	int (*get_headers)(void *ctx, const char *name,
			   struct sieve_values *values);
	/* Appends body parts per transform (types: media types such as
	 * "text", "text/html", "" for any; only for CONTENT); parts are
	 * transfer-decoded and converted to UTF-8 except for RAW. */
	int (*get_body)(void *ctx, enum sieve_body_transform transform,
			const char *const *types, size_t ntypes,
			struct sieve_values *parts);
	/* Loads the named script for "include"; returns 0 and a script the
	 * interpreter frees when done, 1 if there is no such script, -1 on
	 * error. */
	int (*load_include)(void *ctx, const char *name,
			    enum sieve_include_loc loc,
			    struct sieve_script **script_r);
	/* Returns 1 if the mailbox exists (mailboxexists test), else 0. */
	int (*mailbox_exists)(void *ctx, const char *mailbox);

	const char *env_from; /* envelope sender, "" for <> */
	const char *env_to;   /* envelope recipient (final) */
	const char *orig_to;  /* original recipient with +detail, or NULL;
			       * envelope "to" tests this one when set */
	time_t now;	      /* for currentdate; 0 = time(NULL) */
	int local_offset_min; /* local zone, minutes east of UTC */
};

enum sieve_action_type {
	SIEVE_ACT_KEEP,
	SIEVE_ACT_FILEINTO,
	SIEVE_ACT_REDIRECT,
	SIEVE_ACT_REJECT,
	SIEVE_ACT_EREJECT,
	SIEVE_ACT_DISCARD,
	SIEVE_ACT_VACATION,
};

struct sieve_action {
	enum sieve_action_type type;
	bool implicit; /* the implicit keep (type KEEP) */
	bool copy;     /* :copy (fileinto, redirect) */
	bool create;   /* :create (fileinto) */
	char *mailbox; /* fileinto */
	char *address; /* redirect */
	char *reason;  /* reject, ereject; vacation body */
	char **flags;  /* keep, fileinto: IMAP flags to set */
	size_t nflags;
	/* vacation (RFC 5230); NULL when not given.  from is as written
	 * (it may be "Name <addr>"); addresses are bare addr-specs, items
	 * that are not addresses dropped; fcc is always NULL (the fcc
	 * extension is not offered).  Choosing the default handle, clamping
	 * seconds and the suppression rules are the caller's. */
	char *from, *subject, *handle, *fcc;
	char **addresses;
	size_t naddresses;
	bool mime;
	uint64_t seconds; /* :days * 86400, at least one day */
	int line;	  /* script line of the command, 0 = implicit */
};

/*
 * The actions to perform, in execution order and already deduplicated
 * (keep and fileinto "INBOX" are one KEEP; the same mailbox or redirect
 * address appears once).  Strings are UTF-8 as the script produced them;
 * mailbox names are the script's (mapping to the store's names and
 * :create are the caller's).  An empty flag list means "no flags".
 */
struct sieve_result {
	struct sieve_action *actions;
	size_t n;
};

/*
 * Runs script against msg.  Returns 0 and a result (free with
 * sieve_result_free) whose list ends with the implicit keep when it was
 * not cancelled.  On a run-time error (conflicting actions, too many
 * actions, include failure...) returns -1, sets *res_r to NULL and appends
 * a "line N: message" line to runtime_err (may be NULL): the caller must
 * then keep the message in INBOX.  script is not modified: one compiled
 * script may be cached and run for any number of deliveries.
 */
int sieve_execute(const struct sieve_script *script,
		  const struct sieve_msg *msg, struct sieve_result **res_r,
		  struct strbuf *runtime_err);

void sieve_result_free(struct sieve_result **res);

/*
 * Appends the result in the stable canonical form used by "rookery sieve
 * test", one action per line:
 *	keep [implicit] [flags "\\Seen" ...]
 *	fileinto "Box" [copy] [create] [flags ...]
 *	redirect "a@b" [copy]
 *	reject "reason"  |  ereject "reason"  |  discard
 *	vacation seconds N [from ".."] [subject ".."] [handle ".."]
 *	    [addresses ...] [mime] [fcc ".."] reason ".."
 * Strings are double-quoted with \\ \" \n \r \t and \xNN escapes.
 */
void sieve_result_format(const struct sieve_result *res, struct strbuf *out);

#endif
