/*
 * net.h - listeners and connections: Rookery's small I/O layer over libevent.
 *
 * Every daemon is one process with one event loop (DESIGN.md, Process
 * model).  A daemon creates one struct net, adds listeners (TCP or Unix,
 * plain or implicit TLS) with a struct conn_ops table for the protocol,
 * drops root, and runs the loop.  Protocol code sees a struct conn: it gets
 * complete lines (or raw bytes, or streamed literals), writes replies, and
 * never calls bufferevent_* itself.
 *
 * Input modes of a connection:
 *   line     (default) ops->line() gets one line at a time, CRLF or LF
 *            stripped.  A line longer than the limit is discarded up to its
 *            LF and ops->line_too_long() is called instead.
 *   literal  conn_read_literal(): the next N bytes go to a chunk callback
 *            as they arrive (never buffered whole), then a done callback,
 *            then line mode again.  Used by IMAP/ManageSieve {N} literals.
 *   raw      conn_set_raw(): a callback gets the input evbuffer and
 *            consumes what it wants (LMTP DATA, BER PDUs, the mux splice).
 * conn_pause() stops delivery of input (pipelined commands wait in the
 * buffer) until conn_resume(): a session waiting for a durable commit
 * pauses, then resumes when it has sent its reply.
 *
 * Ownership: the framework owns struct conn; protocol state hangs off
 * conn_set_ctx() and is freed in ops->close(), which is called exactly once
 * for every connection whose ops->open() was called.  After conn_close()
 * the connection flushes its output and is freed from the event loop (never
 * inside the caller's stack), so a handler may keep using c until it
 * returns.
 */
#ifndef ROOKERY_NET_H
#define ROOKERY_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

struct bufferevent;
struct event_base;
struct evbuffer;
struct ssl_ctx_st;
struct net;
struct conn;

/* Limits every connection starts with; protocols may change them per conn. */
#define NET_DEFAULT_MAX_LINE 8192
#define NET_DEFAULT_IDLE_SECONDS 1800

struct conn_ops {
	const char *proto; /* protocol name for log lines: "pop3", "lmtp" */

	/* A connection was accepted (or, for implicit TLS, its handshake
	 * finished).  Allocate state, send the greeting.  -1 closes it. */
	int (*open)(struct conn *c);

	/* One complete line in line mode.  line is NUL-terminated, len is its
	 * exact length (it may contain NUL bytes).  The buffer is valid only
	 * during the call. */
	void (*line)(struct conn *c, char *line, size_t len);

	/* A line exceeded conn_set_max_line(); it was discarded through its
	 * LF (conn_line_prefix() has its first bytes).  NULL: the connection
	 * is closed. */
	void (*line_too_long)(struct conn *c);

	/* The idle timer fired.  Send a goodbye; the framework then closes
	 * the connection after flushing.  NULL: just close. */
	void (*timeout)(struct conn *c);

	/* The daemon is shutting down (SIGTERM).  Send a goodbye if the
	 * protocol has one; the framework closes the connection after a
	 * short grace period.  NULL: close without a word. */
	void (*shutdown)(struct conn *c);

	/* conn_starttls() finished: ok = 1, or 0 when the handshake failed
	 * (the connection is then closed after this call). */
	void (*tls_done)(struct conn *c, int ok);

	/* Last call for this connection: free the state. reason is a short
	 * word for the log ("eof", "timeout", "error", "closed", "shutdown").
	 */
	void (*close)(struct conn *c, const char *reason);
};

enum net_tls_mode {
	NET_TLS_NONE = 0,	/* plain; STARTTLS possible if the daemon has TLS */
	NET_TLS_IMPLICIT,	/* handshake first (IMAPS, POP3S, LDAPS) */
};

/* One "listen = PROTO ADDR [tls] [legacy] [proxy]" configuration line. */
struct net_listen_spec {
	char *proto;		/* "lmtp", "pop3", "imap", "sieve", "ldap", ... */
	char *addr;		/* "127.0.0.1:110", "[::1]:110", "unix:/path" */
	enum net_tls_mode tls;
	int legacy;		/* per-listener compatibility switch (ManageSieve) */
	int proxy;		/* "proxy" option: the protocol may accept
				   trusted-proxy logins here (added by lib) */
};

/*
 * Parses a listen value.  Returns 0, or -1 with an allocated *err_r saying
 * what is wrong ("listen = pop3 localhost: expected HOST:PORT or unix:PATH").
 * Free the spec's strings with net_listen_spec_clear().
 */
int net_listen_parse(const char *value, struct net_listen_spec *spec_r,
		     char **err_r);
void net_listen_spec_clear(struct net_listen_spec *spec);

struct net_params {
	struct ssl_ctx_st *tls_ctx; /* server TLS context, or NULL (no TLS) */
	unsigned max_connections;   /* 0 = unlimited */
	unsigned shutdown_grace_ms; /* wait this long for goodbyes on SIGTERM */
};

/* Creates the event loop and signal handling (SIGTERM/SIGINT: graceful
 * shutdown; SIGHUP: the reload callback; SIGPIPE ignored). */
struct net *net_new(const struct net_params *params);
void net_free(struct net **n);
struct event_base *net_base(struct net *n);
/*
 * After libevent's read callback on a plain (non-TLS) socket: reads what
 * else the socket holds into bev's input, in 64 KiB blocks, up to max
 * bytes; returns the bytes read (net_bulk.c).  Nothing when reading is
 * disabled (a paused connection).
 */
size_t net_bev_read_more(struct bufferevent *bev, size_t max);

/*
 * Binds a listener.  arg is handed to the protocol through
 * conn_listener_arg().  Unix sockets: a stale socket file is replaced, the
 * file is made mode 0660 (0666 when the path's directory says so is not
 * our business: operators set it).  Returns 0, or -1 with *err_r.
 */
int net_listen(struct net *n, const struct net_listen_spec *spec,
	       const struct conn_ops *ops, void *arg, char **err_r);
/*
 * Fork support (net_listen.c): for a
 * daemon whose worker processes share its listeners (rookery-mux's
 * "workers").
 *
 * net_listen_bind() binds spec's address as net_listen() would, without
 * an event loop, and returns the listening socket (non-blocking,
 * close-on-exec), or -1 with *err_r.  A Unix socket is remembered for
 * net_drop_privileges(); its file is the caller's to unlink.  Call it
 * before fork.
 *
 * net_listen_fd() is net_listen() on such a socket, in a child, on the
 * child's own struct net (its event loop created after fork): the
 * listener works on a duplicate of fd (closed when the listener goes; fd
 * stays the caller's) and never unlinks a Unix socket file.
 */
int net_listen_bind(const struct net_listen_spec *spec, char **err_r);
int net_listen_fd(struct net *n, int fd, const struct net_listen_spec *spec,
		  const struct conn_ops *ops, void *arg, char **err_r);
/*
 * Stops accepting on every listener of n for ms milliseconds, so that the
 * other processes sharing the sockets take the next connections (load
 * balancing between workers).  Callable from a conn_ops->open(): the
 * listener that accepted stops there.  A no-op while n is at
 * max_connections or shutting down.
 */
void net_accept_hold(struct net *n, unsigned ms);

/*
 * The TCP port the most recent successful net_listen() bound (0 after a
 * Unix listener): lets tests listen on "127.0.0.1:0" and find the port.
 */
unsigned net_last_port(const struct net *n);
/* Connections currently open (for status output). */
unsigned net_conn_count(const struct net *n);

/* Called on SIGHUP, on the loop thread. */
void net_on_reload(struct net *n, void (*cb)(void *arg), void *arg);
/* Called once shutdown begins (before the goodbyes), on the loop thread. */
void net_on_shutdown(struct net *n, void (*cb)(void *arg), void *arg);

/*
 * If running as root: hand the Unix sockets bound so far to user (so that
 * peers running as that user can connect), switch to user (and its group)
 * and drop supplementary groups; fatal if that fails.  Call after every listener is bound.  A
 * no-op when not root.  user NULL or "" means stay (for tests as root, the
 * caller decides; log a warning).
 */
void net_drop_privileges(const char *user);

/* Runs the loop until shutdown has completed. Returns 0. */
int net_run(struct net *n);
/* Begins a graceful shutdown (as SIGTERM does). */
void net_shutdown(struct net *n);

/*
 * Cross-thread wake-up: cb(arg) runs on the loop thread soon after any
 * thread calls net_async_trigger().  Triggers coalesce.
 */
struct net_async;
struct net_async *net_async_new(struct net *n, void (*cb)(void *arg),
				void *arg);
void net_async_trigger(struct net_async *a);
void net_async_free(struct net_async **a);

/* A one-shot or repeating timer on the loop. */
struct net_timer;
struct net_timer *net_timer_new(struct net *n, void (*cb)(void *arg),
				void *arg);
void net_timer_start(struct net_timer *t, unsigned ms, int repeat);
void net_timer_stop(struct net_timer *t);
void net_timer_free(struct net_timer **t);

/* --- connections ------------------------------------------------------- */

const char *conn_id(const struct conn *c);	 /* 12 hex chars, for logs */
const char *conn_peer(const struct conn *c);	 /* "127.0.0.1:40000", "unix" */
const char *conn_peer_ip(const struct conn *c);	 /* "127.0.0.1", "::1", "unix" */
const char *conn_local(const struct conn *c);	 /* listener address */
int conn_is_local_socket(const struct conn *c);	 /* Unix-domain */
int conn_is_tls(const struct conn *c);
const struct net_listen_spec *conn_listen_spec(const struct conn *c);
void *conn_listener_arg(const struct conn *c);
struct net *conn_net(const struct conn *c);
void conn_set_ctx(struct conn *c, void *ctx);
void *conn_ctx(const struct conn *c);

/* Output.  Data is queued; the framework writes as the socket allows. */
void conn_write(struct conn *c, const void *data, size_t len);
/* Moves len bytes of src to c's output (buffer chains change hands when
 * nothing is queued ahead of them: a relay without copying). */
void conn_write_move(struct conn *c, struct evbuffer *src, size_t len);
void conn_puts(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...) LOG_PRINTF(2, 3);
/* Queues len bytes of fd from offset (sendfile on plain links).  The
 * framework dups fd; the caller keeps its own. Returns 0 or -1. */
int conn_write_file(struct conn *c, int fd, off_t offset, off_t len);
size_t conn_output_pending(const struct conn *c);
/* cb runs once when pending output drops to or below low bytes (for
 * streaming large replies without queueing them whole); NULL cancels. */
void conn_on_drain(struct conn *c, size_t low, void (*cb)(struct conn *c));

/*
 * For relays that move bytes to the client past lib/net (the mux's
 * splice(2) relay, mux/splice.c).  conn_plain_fd() is the socket when the
 * link is plain (no TLS, no COMPRESS) and nothing is queued for it, else
 * -1.  conn_note_output() accounts n bytes written to that socket behind
 * the framework's back: they count in bytes_out and, like any output the
 * client takes, re-arm the idle timeout.  conn_write_front() puts src
 * ahead of all pending output (bytes taken out of the stream earlier).
 */
int conn_plain_fd(const struct conn *c);
int conn_is_closing(const struct conn *c);
void conn_note_output(struct conn *c, size_t n);
void conn_write_front(struct conn *c, struct evbuffer *src);

/*
 * Starts TLS on a plain connection after the "go ahead" reply has been
 * queued: that reply is flushed in plain first, input already buffered is
 * discarded (RFC 3207-style injection protection), then the handshake runs
 * and ops->tls_done() is called.  Returns -1 if the daemon has no TLS or
 * the connection already uses it.
 */
int conn_starttls(struct conn *c);

/*
 * Turns on raw DEFLATE (RFC 1951, no zlib header) both ways, for IMAP
 * COMPRESS=DEFLATE (RFC 4978): call it right after queueing the last
 * uncompressed reply (the tagged OK).  Everything queued before goes out
 * as it is; everything written after is compressed (and sync-flushed
 * once per event-loop turn); input not yet delivered, and all that
 * follows, is inflated before the line/literal/raw readers see it.  A
 * broken deflate stream from the peer closes the connection ("error").
 * Works over TLS; STARTTLS is refused afterwards.  Returns 0, or -1 when
 * already active (or the connection is closing or switching to TLS).
 */
int conn_start_deflate(struct conn *c);
int conn_deflate_active(const struct conn *c);

/* Flushes output, then closes and frees the connection (ops->close with
 * reason "closed").  No more input is delivered.  Idempotent. */
void conn_close(struct conn *c);

void conn_set_max_line(struct conn *c, size_t max);
/* During ops->line_too_long(): the first bytes (at most 64) of the line
 * that was discarded, in *p_r; returns their count (0 when unknown). */
size_t conn_line_prefix(const struct conn *c, const char **p_r);
void conn_set_idle_timeout(struct conn *c, unsigned seconds); /* 0 = none */

void conn_pause(struct conn *c);
/* Delivers buffered input again, from the loop (not re-entrantly). */
void conn_resume(struct conn *c);

/*
 * Streams the next n bytes to chunk(c, data, len) as they arrive, then
 * calls done(c) and returns to line mode: the rest of the command line
 * after the literal arrives through ops->line() as usual.
 */
void conn_read_literal(struct conn *c, uint64_t n,
		       void (*chunk)(struct conn *c, const void *data,
				     size_t len),
		       void (*done)(struct conn *c));

/* Raw mode: raw(c, in) is called whenever input is available (and once at
 * once if input is already buffered); it removes what it consumes from in.
 * conn_set_line_mode() returns to line mode; buffered input is then
 * delivered as lines. */
void conn_set_raw(struct conn *c,
		  void (*raw)(struct conn *c, struct evbuffer *in));
void conn_set_line_mode(struct conn *c);

#endif
