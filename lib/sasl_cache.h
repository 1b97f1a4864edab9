/*
 * sasl_cache.h - a cache of recently verified plaintext logins.
 *
 * A desktop or phone client logs in again and again with the same
 * password (a reconnect per folder check, several connections at once).
 * Each check through Cyrus SASL's sasldb plugin opens the database file
 * twice; a mux taking thousands of logins a second spends a tenth of its
 * time there.  This cache remembers, per user, a salted SHA-256 of the
 * last password that verified, for at most a TTL, and answers a repeat of
 * that password without asking SASL.
 *
 * Only successes are cached: a wrong password always goes to SASL (and
 * to the caller's failure delay).  Every entry is dropped as soon as the
 * sasldb file changes (inode, size, mtime or ctime differ: `rookery user
 * passwd`, saslpasswd2, a restore), so a changed or deleted password stops
 * working at once, not after the TTL (and nothing is stored while the file
 * is under two seconds old, as timestamps move in clock ticks).  The table is a fixed array of
 * slots: a busy slot is overwritten, so its size bounds the memory.
 *
 * The process-wide cache is configured by saslsrv_init() from
 * auth_cache_ttl (default 300 s, 0 turns it off) and auth_cache_size
 * (entries, default 4096).
 */
#ifndef ROOKERY_SASL_CACHE_H
#define ROOKERY_SASL_CACHE_H

#include <stddef.h>

/* Sets up (or, with ttl 0 or size 0, turns off) the cache, watching
 * sasldb_path for changes.  Returns 0, or -1 when no hash is available
 * (the cache is then off). */
int authcache_init(unsigned ttl_seconds, size_t size, const char *sasldb_path);
void authcache_done(void);

/* 1 with *canon_r (the canonical user name SASL gave; owned by the
 * cache, valid until the next call) when user logged in with exactly
 * pass within the TTL and the sasldb is unchanged since; else 0. */
int authcache_lookup(const char *user, const char *pass, const char **canon_r);
/* Remembers that user / pass verified as canon.  Call it after the
 * authcache_lookup() that preceded the check: the entry is filed under
 * the sasldb file as that lookup saw it. */
void authcache_store(const char *user, const char *pass, const char *canon);
/* Forgets everything. */
void authcache_flush(void);

#endif
