/*
 * backend.h - the mux's outgoing connections to stores.
 *
 * The mux's own small I/O layer for the client side of a link, the twin
 * of lib/net.h's accepted connections: protocol files never touch
 * bufferevents.  A backend connects (non-blocking, with a timeout), then
 * delivers input as lines (CRLF stripped) or, in raw mode, as the input
 * evbuffer for the callback to consume.
 *
 * Callbacks never see a freed backend: backend_free() called inside a
 * callback takes effect once the callback returns.  After ops->error the
 * backend is dead (no more callbacks) and must be freed by its owner.
 */
#ifndef ROOKERY_MUX_BACKEND_H
#define ROOKERY_MUX_BACKEND_H

#include <stddef.h>

#include "log.h"

struct evbuffer;
struct mux;
struct backend;

struct backend_ops {
	void (*connected)(struct backend *b, void *arg);
	void (*line)(struct backend *b, char *line, size_t len, void *arg);
	void (*raw)(struct backend *b, struct evbuffer *in, void *arg);
	/* connect failure, timeout, EOF or I/O error: why = "refused",
	 * "timeout", "eof", "error", "line too long" */
	void (*error)(struct backend *b, const char *why, void *arg);
	/* pending output dropped to the low mark set by backend_on_drain() */
	void (*drained)(struct backend *b, void *arg);
};

#define BACKEND_MAX_LINE 65536

/*
 * Connects to addr ("HOST:PORT", "[V6]:PORT" or "unix:PATH", " tls" at the
 * end for TLS).  timeout_ms bounds the connect and, until
 * backend_set_timeout(b, 0), every wait for input.  Returns NULL with
 * *err_r when addr cannot be parsed or the socket cannot be created.
 */
struct backend *backend_connect(struct mux *m, const char *addr,
				unsigned timeout_ms,
				const struct backend_ops *ops, void *arg,
				char **err_r);
void backend_free(struct backend **b);

void backend_write(struct backend *b, const void *data, size_t len);
void backend_printf(struct backend *b, const char *fmt, ...)
	LOG_PRINTF(2, 3);
/* Moves len bytes from src to the backend's output (no copy). */
void backend_move(struct backend *b, struct evbuffer *src, size_t len);
size_t backend_output_pending(const struct backend *b);
/* ops->drained runs once output is at or below low (0 cancels). */
void backend_on_drain(struct backend *b, size_t low);

void backend_set_raw(struct backend *b, int raw);
/* Read timeout for the next input (0 = none). */
void backend_set_timeout(struct backend *b, unsigned ms);
void backend_pause(struct backend *b);
void backend_resume(struct backend *b);
const char *backend_addr(const struct backend *b);

/*
 * For the splice(2) relay (splice.c), which reads the store's socket
 * itself.  backend_plain_fd() is the socket of a connected plain (not
 * TLS) backend in raw mode, else -1.  backend_hold(b, 1) stops the
 * bufferevent from reading (independently of pause / resume) until
 * backend_hold(b, 0).  backend_lost() reports an I/O error the relay met
 * on the socket through ops->error, as if the backend had met it.
 */
int backend_plain_fd(const struct backend *b);
/* "no" for a plain backend, "full" or "resumed" for the TLS handshake
 * it made (for the login log line). */
const char *backend_tls_state(const struct backend *b);

/*
 * TLS sessions to stores (backend_sessions.c): once, on the mux's client
 * context, backend_sessions_init() (0 or -1); before each handshake,
 * backend_sessions_apply() names the store address and presents the last
 * session it gave, so reconnecting costs an abbreviated handshake.
 */
struct ssl_ctx_st;
struct ssl_st;
int backend_sessions_init(struct ssl_ctx_st *ctx);
void backend_sessions_apply(struct ssl_st *ssl, const char *addr);
void backend_sessions_clear(void);
size_t backend_input_pending(const struct backend *b);
void backend_hold(struct backend *b, int hold);
void backend_lost(struct backend *b, const char *why);

#endif
