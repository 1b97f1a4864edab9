/*
 * sasl_cache.c - recently verified plaintext logins (see sasl_cache.h).
 *
 * A slot holds one user: the name, the canonical name SASL returned, a
 * SHA-256 over a per-process random salt, the name and the password, and
 * when the entry expires.  The password itself is never kept.  The slot
 * comes from a seeded hash of the name, so a client cannot aim at
 * another user's slot; a collision only evicts.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "sasl_cache.h"

/*
 * A file timestamp moves in clock ticks: two writes within one tick can
 * leave the same mtime, ctime and size.  Nothing is stored while the file
 * is younger than this, so any later write lands on a later timestamp.
 */
#define AC_SETTLE 2

struct ac_ent {
	char *user;
	char *canon;
	time_t expires;
	unsigned char digest[32];
};

/* What the sasldb file looked like when the entries were made. */
struct ac_ident {
	int known;
	int settled;	/* contents unmodified for AC_SETTLE seconds */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static struct {
	struct ac_ent *slots;
	size_t mask;
	unsigned ttl;
	char *path;
	struct ac_ident ident;
	EVP_MD *sha256;
	unsigned char salt[32];
	uint64_t seed;
} ac;

static time_t ac_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static void ent_clear(struct ac_ent *e)
{
	free(e->user);
	free(e->canon);
	memset(e, 0, sizeof(*e));
}

void authcache_flush(void)
{
	for (size_t i = 0; ac.slots != NULL && i <= ac.mask; i++)
		ent_clear(&ac.slots[i]);
}

void authcache_done(void)
{
	authcache_flush();
	free(ac.slots);
	free(ac.path);
	EVP_MD_free(ac.sha256);
	OPENSSL_cleanse(ac.salt, sizeof(ac.salt));
	memset(&ac, 0, sizeof(ac));
}

int authcache_init(unsigned ttl_seconds, size_t size, const char *sasldb_path)
{
	size_t n = 1;

	authcache_done();
	if (ttl_seconds == 0 || size == 0 || sasldb_path == NULL)
		return 0;
	ac.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ac.sha256 == NULL ||
	    RAND_bytes(ac.salt, sizeof(ac.salt)) != 1 ||
	    RAND_bytes((unsigned char *)&ac.seed, sizeof(ac.seed)) != 1) {
		log_warn("event=auth_cache_off reason=\"no SHA-256 or "
			 "random bytes from OpenSSL\"");
		authcache_done();
		return -1;
	}
	while (n < size && n < ((size_t)1 << 24))
		n <<= 1;
	ac.slots = calloc(n, sizeof(*ac.slots));
	if (ac.slots == NULL) {
		authcache_done();
		return -1;
	}
	ac.mask = n - 1;
	ac.ttl = ttl_seconds;
	ac.path = strdup(sasldb_path);
	if (ac.path == NULL) {
		authcache_done();
		return -1;
	}
	return 0;
}

/* FNV-1a over the name, from a random start. */
static size_t slot_of(const char *user)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ac.seed;

	for (const unsigned char *p = (const unsigned char *)user; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 29)) & ac.mask;
}

static int digest_of(const char *user, const char *pass,
		     unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 0;
	int ok;

	if (md == NULL)
		return -1;
	ok = EVP_DigestInit_ex2(md, ac.sha256, NULL) == 1 &&
	     EVP_DigestUpdate(md, ac.salt, sizeof(ac.salt)) == 1 &&
	     EVP_DigestUpdate(md, user, strlen(user) + 1) == 1 &&
	     EVP_DigestUpdate(md, pass, strlen(pass)) == 1 &&
	     EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/*
 * Compares the sasldb file with what it was when the entries were made;
 * drops them all when it changed (or cannot be looked at).  Called before
 * every check, so an entry is always younger than the file it came from:
 * one stored after a SASL check is filed under the file as it was before
 * that check, and any change after it empties the cache.
 */
static void check_file(void)
{
	struct stat st;
	struct ac_ident now = {0};

	if (stat(ac.path, &st) == 0) {
		now.known = 1;
		now.dev = st.st_dev;
		now.ino = st.st_ino;
		now.size = st.st_size;
		now.mtime = st.st_mtim;
		now.ctime = st.st_ctim;
		now.settled = time(NULL) - st.st_mtim.tv_sec >= AC_SETTLE;
	}
	if (now.known && ac.ident.known && now.dev == ac.ident.dev &&
	    now.ino == ac.ident.ino && now.size == ac.ident.size &&
	    now.mtime.tv_sec == ac.ident.mtime.tv_sec &&
	    now.mtime.tv_nsec == ac.ident.mtime.tv_nsec &&
	    now.ctime.tv_sec == ac.ident.ctime.tv_sec &&
	    now.ctime.tv_nsec == ac.ident.ctime.tv_nsec) {
		ac.ident.settled = now.settled;
		return;
	}
	authcache_flush();
	ac.ident = now;
}

int authcache_lookup(const char *user, const char *pass, const char **canon_r)
{
	unsigned char d[32];
	struct ac_ent *e;

	if (ac.slots == NULL)
		return 0;
	check_file();
	if (!ac.ident.known)
		return 0;
	e = &ac.slots[slot_of(user)];
	if (e->user == NULL || strcmp(e->user, user) != 0)
		return 0;
	if (e->expires <= ac_now()) {
		ent_clear(e);
		return 0;
	}
	if (digest_of(user, pass, d) < 0 ||
	    CRYPTO_memcmp(d, e->digest, sizeof(d)) != 0)
		return 0;
	*canon_r = e->canon;
	return 1;
}

void authcache_store(const char *user, const char *pass, const char *canon)
{
	struct ac_ent *e, fresh = {0};

	if (ac.slots == NULL || !ac.ident.known || !ac.ident.settled)
		return;
	if (digest_of(user, pass, fresh.digest) < 0)
		return;
	fresh.user = strdup(user);
	fresh.canon = strdup(canon);
	if (fresh.user == NULL || fresh.canon == NULL) {
		ent_clear(&fresh);
		return;
	}
	fresh.expires = ac_now() + (time_t)ac.ttl;
	e = &ac.slots[slot_of(user)];
	ent_clear(e);
	*e = fresh;
}
