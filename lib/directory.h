/*
 * directory.h - the routing directory: which store holds a user, and
 * where that store's services currently listen.
 *
 * Two kinds of record:
 *   user  -> store name            ("alice@example.com" -> "ms1")
 *   store -> struct dir_store      (state up/down, role, the IMAP, POP3,
 *                                   LMTP and ManageSieve addresses)
 *
 * Embedded backend (the default): one Berkeley DB btree file, named by
 * config "directory" ([global] or [mux]), written only by `rookery` (route,
 * user add --store, failover).  Writers never change the file in place:
 * they build a new file beside it and rename() it over the old one, under
 * an flock on PATH.lock, so readers always see a complete directory.  A
 * reader (the mux) holds the file open and calls directory_refresh(),
 * which notices a new file by inode/mtime/size and reopens it: changes take
 * effect without a restart.
 *
 * LDAP backend (config "directory_ldap_uri", several space-separated URIs
 * tried in turn): users are looked up with directory_ldap_filter (default
 * "(mail=%s)") under directory_ldap_base, and the store name is the value
 * of directory_ldap_store_attr (default "mailHost").  Store records still
 * come from the embedded file (each mux host keeps one).  See
 * directory_ldap.c.
 *
 * Store addresses are "HOST:PORT", "[V6]:PORT" or "unix:PATH", optionally
 * followed by " tls" (TLS to the store).
 *
 * Return convention of the lookups: 0 found, 1 not found, -1 error with an
 * allocated *err_r (the caller frees it).
 */
#ifndef ROOKERY_DIRECTORY_H
#define ROOKERY_DIRECTORY_H

#include <stddef.h>

struct config_section;
struct directory;

enum dir_service {
	DIR_SVC_IMAP = 0,
	DIR_SVC_POP3,
	DIR_SVC_LMTP,
	DIR_SVC_SIEVE,
	DIR_SVC_COUNT
};

#define DIR_NAME_MAX 64

struct dir_store {
	char name[DIR_NAME_MAX];
	int up;				/* 0 = down (failover, maintenance) */
	char role[16];			/* "primary", "replica" */
	char *addr[DIR_SVC_COUNT];	/* allocated or NULL */
};

/* "imap", "pop3", "lmtp", "sieve" -> enum; -1 for anything else. */
int dir_service_parse(const char *name);
const char *dir_service_name(enum dir_service svc);

/* Frees the addresses and zeroes st. */
void dir_store_clear(struct dir_store *st);
/* Deep copy. */
void dir_store_copy(struct dir_store *dst, const struct dir_store *src);
/* Store names: 1-63 characters of [A-Za-z0-9._-]. 0 ok, -1 not. */
int dir_store_name_ok(const char *name);

/* The embedded file's path from the configuration (section, then
 * [global]); NULL when "directory" is not set. */
const char *directory_path(const struct config_section *sec);

/* --- reading (the mux, `rookery route show|list`) ---------------------- */

/*
 * Opens the directory the configuration names (sec: [mux] or any section;
 * lookups fall back to [global]).  A missing embedded file is not an
 * error: it reads as empty until `rookery` creates it.  Returns 0 or -1
 * with *err_r.
 */
int directory_open(const struct config_section *sec, struct directory **dir_r,
		   char **err_r);
void directory_close(struct directory **dir);

/* Reopens the embedded file if it was replaced.  Returns 1 when it was
 * (the caller drops its caches), 0 when not, -1 on error (the old view is
 * kept; logged). */
int directory_refresh(struct directory *dir);

/* 1 when users come from LDAP (lookups cost a round trip), else 0. */
int directory_users_remote(const struct directory *dir);

/* Bumped every time the view changes (reopen, LDAP cache flush). */
unsigned long directory_generation(const struct directory *dir);

/* user -> store name, written into store_r (DIR_NAME_MAX bytes). */
int directory_user_store(struct directory *dir, const char *user,
			 char *store_r, char **err_r);
/* store name -> record (clear it with dir_store_clear()). */
int directory_store_get(struct directory *dir, const char *name,
			struct dir_store *st_r, char **err_r);

/* Iterates the embedded file: users (kind 'u': key = user, value = store)
 * then stores (kind 's': key = name, value = the record's text).  cb
 * returns non-zero to stop.  0 or -1 with *err_r. */
int directory_foreach(struct directory *dir,
		      int (*cb)(char kind, const char *key, const char *value,
				void *arg),
		      void *arg, char **err_r);

/* --- writing (the CLI; embedded file only) ----------------------------- */

/* Sets user's store (store NULL: removes the user's route). */
int directory_set_user(const char *path, const char *user, const char *store,
		       char **err_r);
/* Creates or replaces a store record. */
int directory_set_store(const char *path, const struct dir_store *st,
			char **err_r);
/* Reads one store record straight from the file (CLI convenience). */
int directory_file_store_get(const char *path, const char *name,
			     struct dir_store *st_r, char **err_r);

/* The record's text form ("state=up role=primary imap=... pop3=...") and
 * back; parse returns 0 or -1. */
char *dir_store_format(const struct dir_store *st);
int dir_store_parse(const char *name, const char *text,
		    struct dir_store *st_r);

#endif
