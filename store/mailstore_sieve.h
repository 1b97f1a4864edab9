/*
 * mailstore_sieve.h - per-user Sieve scripts and vacation tracking, kept
 * in the store's Berkeley DB environment beside the mailboxes (DESIGN.md,
 * Storage: "sieve scripts, vacation tracking").
 *
 * Tables (opened lazily with db_table_open() on mstore_db_env()):
 *   sieve.db        user NUL name -> version(1) srclen(BE32) source
 *                   compiled  (compiled = sieve_serialize() output)
 *   sieveactive.db  user -> name of the active script (absent: none)
 *   vacation.db     user NUL sender NUL handle -> expiry (BE64 unix time)
 *
 * Every change to a user's scripts (put, delete, rename, activate) writes
 * an MSTORE_CH_SIEVE change-log row in the same transaction, so
 * replication carries the scripts; a new vacation record writes
 * MSTORE_CH_VACATION.
 *
 * Script names (RFC 5804 section 1.6): 1..MSIEVE_NAME_MAX bytes of UTF-8
 * without control characters.  Errors are enum mstore_err:
 *   MSTORE_E_BADNAME    invalid script name
 *   MSTORE_E_NOUSER     no such user
 *   MSTORE_E_NOTFOUND   no such script (or no active script)
 *   MSTORE_E_EXISTS     rename target exists
 *   MSTORE_E_CANNOT     delete of the active script
 *   MSTORE_E_INVAL      the script does not compile (errors appended)
 *   MSTORE_E_LIMIT      one script too many (QUOTA/MAXSCRIPTS)
 *   MSTORE_E_OVERQUOTA  the script is too big (QUOTA/MAXSIZE)
 *   MSTORE_E_TEMP       database failure (logged)
 */
#ifndef ROOKERY_STORE_MAILSTORE_SIEVE_H
#define ROOKERY_STORE_MAILSTORE_SIEVE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/mailstore.h"

struct config_section;
struct sieve_script;
struct strbuf;

#define MSIEVE_NAME_MAX 255
#define MSIEVE_DEFAULT_MAX_SCRIPTS 20
#define MSIEVE_DEFAULT_MAX_SIZE (64 * 1024)

struct msieve_limits {
	unsigned max_scripts;	  /* scripts per user (sieve_max_scripts) */
	uint64_t max_script_size; /* bytes per script (sieve_max_script_size) */
};

/* Reads sieve_max_scripts / sieve_max_script_size from sec (defaults
 * above; malformed values give the defaults and a warning). */
void msieve_limits_load(const struct config_section *sec,
			struct msieve_limits *lim);

/* 0 if name is a valid script name, -1 if not. */
int msieve_name_valid(const char *name, size_t len);

/* Compiles src with lim's size; 0, or -1 with lines in errors (may be
 * NULL).  Used by PUTSCRIPT and CHECKSCRIPT. */
int msieve_check(const char *src, size_t len, const struct msieve_limits *lim,
		 struct strbuf *errors);

/* HAVESPACE: could user store a script name of size bytes? */
enum mstore_err msieve_havespace(struct mstore *ms, const char *user,
				 const char *name, uint64_t size,
				 const struct msieve_limits *lim);

/* Compiles and stores (replacing) script name; errors may be NULL. */
enum mstore_err msieve_put(struct mstore *ms, const char *user,
			   const char *name, const char *src, size_t len,
			   const struct msieve_limits *lim,
			   struct strbuf *errors);

struct msieve_entry {
	char *name;
	int active;
};
/* The user's scripts sorted by name; free with msieve_list_free(). */
enum mstore_err msieve_list(struct mstore *ms, const char *user,
			    struct msieve_entry **list_r, size_t *n_r);
void msieve_list_free(struct msieve_entry **list, size_t n);

/* The source of a script (*src_r allocated, NUL-terminated). */
enum mstore_err msieve_get(struct mstore *ms, const char *user,
			   const char *name, char **src_r, size_t *len_r);
enum mstore_err msieve_delete(struct mstore *ms, const char *user,
			      const char *name);
enum mstore_err msieve_rename(struct mstore *ms, const char *user,
			      const char *oldname, const char *newname);
/* Makes name the active script; "" deactivates (always OK). */
enum mstore_err msieve_activate(struct mstore *ms, const char *user,
				const char *name);

/* Removes every script, the active mark and the vacation records of user
 * (after the user itself was deleted); one change-log row. */
enum mstore_err msieve_user_delete(struct mstore *ms, const char *user);

/*
 * The compiled form of a script (name NULL: the active one; *name_r, if
 * not NULL, gets its allocated name).  A compiled form that does not
 * deserialize is rebuilt from the source.  Free with sieve_script_free().
 */
enum mstore_err msieve_load(struct mstore *ms, const char *user,
			    const char *name, struct sieve_script **script_r,
			    char **name_r);

/*
 * Vacation tracking (RFC 5230 section 4.2): returns 1 when no reply to
 * (user, sender, handle) is recorded as still fresh at now (and records
 * one that expires at now + seconds), 0 when a reply was sent within the
 * period, -1 on a database failure (no reply then).
 */
int msieve_vacation_note(struct mstore *ms, const char *user,
			 const char *sender, const char *handle,
			 uint64_t seconds, time_t now);

#endif
