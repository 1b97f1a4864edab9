/*
 * auth.c - password hashing (PBKDF2-HMAC-SHA256) and the bind cache.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth.h"
#include "dn.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define PREFIX "{PBKDF2-SHA256}"

static int b64(const unsigned char *in, size_t n, char *out, size_t size)
{
	if (size < 4 * ((n + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

static int unb64(const char *in, size_t n, unsigned char *out, size_t want)
{
	unsigned char buf[128];
	int len;

	if (n == 0 || n > 4 * ((sizeof(buf)) / 3) || n % 4 != 0)
		return -1;
	len = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	/* DecodeBlock counts padding bytes as zeros. */
	if (n >= 1 && in[n - 1] == '=')
		len--;
	if (n >= 2 && in[n - 2] == '=')
		len--;
	if ((size_t)len != want)
		return -1;
	memcpy(out, buf, want);
	return 0;
}

static int derive(const char *pw, size_t len, const unsigned char *salt,
		  int iter, unsigned char *out)
{
	return PKCS5_PBKDF2_HMAC(pw, (int)len, salt, SALT_LEN, iter,
				 EVP_sha256(), HASH_LEN, out) == 1
		   ? 0
		   : -1;
}

int ab_auth_hash_password(const char *pw, size_t len, char *out, size_t size)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	char s64[64], h64[64];

	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    derive(pw, len, salt, AUTH_PBKDF2_ITERATIONS, hash) < 0)
		return -1;
	b64(salt, sizeof(salt), s64, sizeof(s64));
	b64(hash, sizeof(hash), h64, sizeof(h64));
	if ((size_t)snprintf(out, size, PREFIX "%d$%s$%s",
			     AUTH_PBKDF2_ITERATIONS, s64, h64) >= size)
		return -1;
	return 0;
}

int ab_auth_check_password(const char *stored, const char *pw, size_t len)
{
	unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	const char *p, *d1, *d2;
	long iter;
	char *end;

	if (strncmp(stored, PREFIX, strlen(PREFIX)) != 0)
		return 0;
	p = stored + strlen(PREFIX);
	iter = strtol(p, &end, 10);
	if (end == p || *end != '$' || iter < 1 || iter > 10000000)
		return 0;
	d1 = end + 1;
	d2 = strchr(d1, '$');
	if (d2 == NULL ||
	    unb64(d1, (size_t)(d2 - d1), salt, sizeof(salt)) < 0 ||
	    unb64(d2 + 1, strlen(d2 + 1), want, sizeof(want)) < 0)
		return 0;
	if (derive(pw, len, salt, (int)iter, got) < 0)
		return 0;
	return CRYPTO_memcmp(got, want, sizeof(got)) == 0;
}

int ab_auth_bind_name(const char *dn, size_t len, const char *suffix_ndn,
		      char *out, size_t size)
{
	struct dn *d;
	char *rest, *rdn_type;
	int rc = -1;

	/* A bare address (Outlook lets users type one) or account name. */
	if (memchr(dn, '=', len) == NULL) {
		if (len == 0 || len >= size)
			return -1;
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)dn[i] <= ' ' || dn[i] == ',')
				return -1;
			out[i] = (char)tolower((unsigned char)dn[i]);
		}
		out[len] = '\0';
		return 0;
	}
	if (ab_dn_parse(dn, len, &d) < 0)
		return -1;
	if (d->n < 2 || d->rdn[0].n != 1) {
		ab_dn_free(&d);
		return -1;
	}
	rest = ab_dn_norm(d, 1);
	rdn_type = d->rdn[0].ava[0].type;
	if (strcasecmp(rdn_type, "cn") == 0 &&
	    strncmp(rest, "ou=auth,", 8) == 0 &&
	    strcmp(rest + 8, suffix_ndn) == 0 &&
	    d->rdn[0].ava[0].value_len < size && d->rdn[0].ava[0].value_len) {
		const char *v = d->rdn[0].ava[0].value;

		for (size_t i = 0; i <= d->rdn[0].ava[0].value_len; i++)
			out[i] = (char)tolower((unsigned char)v[i]);
		rc = 0;
	}
	free(rest);
	ab_dn_free(&d);
	return rc;
}

char *ab_auth_bind_dn(const char *name, const char *suffix)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_adds(&sb, "cn=");
	ab_dn_escape_value(&sb, name, strlen(name));
	strbuf_printf(&sb, ",ou=auth,%s", suffix);
	return ab_sb_take(&sb, NULL);
}

/* --- the bind cache ---------------------------------------------------- */

#define CACHE_SLOTS 1024

struct cache_slot {
	unsigned char digest[32];
	time_t expires;
};

static struct cache_slot cache[CACHE_SLOTS];

static void cache_digest(const char *name, const char *pw, size_t len,
			 const char *stored, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 32;

	if (ctx == NULL)
		fatalx("event=oom where=EVP_MD_CTX_new");
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, name, strlen(name) + 1);
	EVP_DigestUpdate(ctx, stored, strlen(stored) + 1);
	EVP_DigestUpdate(ctx, pw, len);
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

void ab_auth_cache_clear(void)
{
	memset(cache, 0, sizeof(cache));
}

int ab_auth_verify(struct store *st, const char *name, const char *pw,
		   size_t len, struct principal *p)
{
	unsigned char digest[32];
	struct cache_slot *slot;
	time_t now = time(NULL);
	int rc;

	rc = ab_store_principal_get(st, name, p);
	if (rc <= 0)
		return rc;
	if (p->pwhash[0] == '\0')
		return 0;
	cache_digest(name, pw, len, p->pwhash, digest);
	slot = &cache[(digest[0] | digest[1] << 8) % CACHE_SLOTS];
	if (slot->expires > now &&
	    CRYPTO_memcmp(slot->digest, digest, sizeof(digest)) == 0)
		return 1;
	if (!ab_auth_check_password(p->pwhash, pw, len))
		return 0;
	memcpy(slot->digest, digest, sizeof(digest));
	slot->expires = now + AUTH_CACHE_TTL;
	return 1;
}
