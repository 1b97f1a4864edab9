/*
 * backend_sessions.c - TLS sessions to stores, resumed (backend.h).
 *
 * With TLS to the stores every login used to cost the mux a full
 * handshake as a client: decoding and checking the store's certificate,
 * verifying its signature, a key exchange.  The mux now keeps the last
 * session ticket each store address gave it and presents it on the next
 * connection there, as any TLS client that reconnects does; the store
 * answers with an abbreviated handshake, or with a full one (and a fresh
 * ticket) when it no longer knows the ticket (restarted, expired).
 *
 * One session per address, at most SESS_MAX addresses (one per store
 * and protocol, so a few); the oldest goes when the table is full.
 * Sessions come from handshakes made with this context only, so one
 * whose certificate check passed (backend_tls_ca) stays checked.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "log.h"
#include "strbuf.h"
#include "mux/backend.h"

#define SESS_MAX 256

struct sess_ent {
	char *addr;
	SSL_SESSION *sess;
	unsigned long long used;	/* age: larger is newer */
};

static struct sess_ent table[SESS_MAX];
static unsigned long long clock_;
static int addr_idx = -1;	/* SSL ex_data: the backend's address */

static void ent_clear(struct sess_ent *e)
{
	free(e->addr);
	SSL_SESSION_free(e->sess);
	memset(e, 0, sizeof(*e));
}

static struct sess_ent *find(const char *addr)
{
	for (size_t i = 0; i < SESS_MAX; i++)
		if (table[i].addr != NULL && strcmp(table[i].addr, addr) == 0)
			return &table[i];
	return NULL;
}

/* A slot for addr: its own, a free one, or the oldest. */
static struct sess_ent *slot_for(const char *addr)
{
	struct sess_ent *e = find(addr), *old = &table[0];

	if (e != NULL)
		return e;
	for (size_t i = 0; i < SESS_MAX; i++) {
		if (table[i].addr == NULL)
			return &table[i];
		if (table[i].used < old->used)
			old = &table[i];
	}
	ent_clear(old);
	return old;
}

/*
 * OpenSSL has a new session (a TLS 1.3 ticket, or the TLS 1.2 session
 * after the handshake) on a connection to a store: keep a copy.  A copy,
 * because OpenSSL marks the connection's own session not resumable when
 * the connection is freed without a close_notify of ours, and the mux
 * lets stores close first.
 */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	const char *addr = SSL_get_ex_data(ssl, addr_idx);
	SSL_SESSION *copy;
	struct sess_ent *e;

	if (addr == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	copy = SSL_SESSION_dup(sess);
	if (copy == NULL)
		return 0;
	e = slot_for(addr);
	if (e->addr == NULL)
		e->addr = xstrdup(addr);
	else
		SSL_SESSION_free(e->sess);
	e->sess = copy;
	e->used = ++clock_;
	return 0;	/* OpenSSL keeps its own reference */
}

int backend_sessions_init(struct ssl_ctx_st *ctx)
{
	if (addr_idx < 0)
		addr_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (addr_idx < 0)
		return -1;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
						SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	return 0;
}

void backend_sessions_apply(struct ssl_st *ssl, const char *addr)
{
	struct sess_ent *e;

	if (addr_idx < 0 || SSL_set_ex_data(ssl, addr_idx, (void *)addr) != 1)
		return;
	e = find(addr);
	if (e == NULL)
		return;
	if (!SSL_SESSION_is_resumable(e->sess) ||
	    SSL_set_session(ssl, e->sess) != 1) {
		log_debug("event=backend_session_dropped backend=%s", addr);
		ent_clear(e);
		return;
	}
	e->used = ++clock_;
}

void backend_sessions_clear(void)
{
	for (size_t i = 0; i < SESS_MAX; i++)
		ent_clear(&table[i]);
}
