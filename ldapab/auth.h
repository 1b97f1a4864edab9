/*
 * auth.h - LDAP passwords and bind identities.
 *
 * Passwords are stored as "{PBKDF2-SHA256}<iterations>$<salt b64>$<hash
 * b64>" (OpenSSL's PKCS5_PBKDF2_HMAC with a 16-byte random salt).  Since
 * clients such as Thunderbird rebind for every search, a verified bind is
 * remembered for a short time in a small cache keyed by a SHA-256 of the
 * identity, the password and the stored hash (so a password change
 * invalidates it at once); the cache never holds a password.
 */
#ifndef LDAPAB_AUTH_H
#define LDAPAB_AUTH_H

#include <stddef.h>

struct store;
struct principal;

#define AUTH_PBKDF2_ITERATIONS 10000
#define AUTH_CACHE_TTL 60 /* seconds */

/* Hashes pw into out (size >= 128). 0 or -1 (RNG failure). */
int ab_auth_hash_password(const char *pw, size_t len, char *out, size_t size);
/* 1 when pw matches stored, 0 when not (or stored is malformed). */
int ab_auth_check_password(const char *stored, const char *pw, size_t len);

/*
 * Maps a bind name to a principal name: "cn=<name>,ou=auth,<suffix>" or a
 * bare mailbox address (or account name).  Writes the lower-case name to
 * out; returns 0, or -1 when the DN is not a bind identity.
 */
int ab_auth_bind_name(const char *dn, size_t len, const char *suffix_ndn,
		      char *out, size_t size);

/* The bind DN of a principal (allocated). */
char *ab_auth_bind_dn(const char *name, const char *suffix);

/*
 * Verifies name/password against the store, using and filling the cache.
 * Returns 1 and *p when they match, 0 when they do not (unknown name, no
 * LDAP password, wrong password), -1 on a storage error.
 */
int ab_auth_verify(struct store *st, const char *name, const char *pw,
		   size_t len, struct principal *p);

/* Empties the bind cache (tests, SIGHUP). */
void ab_auth_cache_clear(void);

#endif
