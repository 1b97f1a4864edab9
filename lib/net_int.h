/*
 * net_int.h - what net.c, net_listen.c and net_conn.c share.  Private to
 * lib/net*.c; everyone else uses net.h.
 */
#ifndef ROOKERY_NET_INT_H
#define ROOKERY_NET_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "net.h"

struct lineread;
struct bufferevent;
struct conn_outq;
struct conn_deflate;

struct net_listener {
	struct net *net;
	struct net_listener *next;
	struct net_listen_spec spec;
	const struct conn_ops *ops;
	void *arg;
	struct evconnlistener *evl;
	char local[128]; /* bound address, "127.0.0.1:1143", "unix:/p" */
	char *unix_path; /* unlinked when the listener goes */
	int is_unix;
};

struct net {
	struct event_base *base;
	struct net_params params;
	struct net_listener *listeners;
	struct conn *conns; /* doubly linked */
	unsigned n_conns;
	int listeners_paused; /* max_connections reached */
	int shutting_down;
	int loop_exit_requested;
	struct event *sig_term, *sig_int, *sig_hup;
	struct event *grace_timer;
	struct event *hard_timer;
	void (*reload_cb)(void *arg);
	void *reload_arg;
	void (*shutdown_cb)(void *arg);
	void *shutdown_arg;
	uint64_t id_seed;
	uint64_t id_counter;
	unsigned last_port;
};

enum conn_mode { CONN_LINE = 0, CONN_LITERAL, CONN_RAW };

struct conn {
	struct net *net;
	struct net_listener *lst;
	struct conn *prev, *next;
	struct bufferevent *bev;
	int fd;
	char id[13];
	char peer[80];
	char peer_ip[64];
	void *ctx;
	void *ssl; /* SSL * while TLS is on or being negotiated */

	enum conn_mode mode;
	struct lineread *lr;
	uint64_t literal_left;
	void (*literal_chunk)(struct conn *c, const void *data, size_t len);
	void (*literal_done)(struct conn *c);
	void (*raw_cb)(struct conn *c, struct evbuffer *in);

	unsigned idle_seconds;
	struct event *idle_ev; /* idle timeout; flush timeout when closing */
	struct event *kick_ev; /* deferred work: input, drain, free */

	size_t drain_low;
	void (*drain_cb)(struct conn *c);
	struct conn_outq *outq; /* queued file ranges (TLS) and what follows */
	size_t outq_bytes;

	struct conn_deflate *zs;  /* COMPRESS=DEFLATE, net_deflate.c */
	struct evbuffer *zin_buf; /* inflated input not yet delivered */

	unsigned opened : 1;	    /* ops->open() called and succeeded */
	unsigned tls_pending : 1;   /* implicit TLS handshake running */
	unsigned starttls_wait : 1; /* STARTTLS: waiting for output flush */
	unsigned starttls_run : 1;  /* STARTTLS handshake running */
	unsigned paused : 1;
	unsigned closing : 1;  /* conn_close(): flush, then free */
	unsigned free_now : 1; /* free at the next kick */
	unsigned eof : 1;      /* peer finished sending */
	unsigned dispatching : 1;
	unsigned shutdown_sent : 1;
	unsigned zin_error : 1; /* the peer's deflate stream is broken */
	const char *toolong_prefix; /* during ops->line_too_long() */
	size_t toolong_len;
	const char *reason;

	uint64_t bytes_in, bytes_out;
	struct timespec started;
};

/* net_conn.c */
void conn_kick(struct conn *c); /* run deferred work from the loop */
void conn_idle_arm(struct conn *c); /* (re)starts the idle timeout */
void conn_accepted(struct net_listener *l, int fd, const struct sockaddr *sa,
		   int salen);
void conn_close_reason(struct conn *c, const char *reason);
void conn_destroy(struct conn *c);

/* net_output.c */
size_t conn_out_len(const struct conn *c);
int conn_flushed(const struct conn *c); /* nothing left to send */
void conn_update_lowat(struct conn *c);
void conn_pump(struct conn *c);
void conn_check_drain(struct conn *c);
void conn_outq_free(struct conn *c);

/* net_output.c: puts a marker in the file queue where compression is to
 * start and returns 1; 0 when the queue is empty (start now). */
int conn_outq_mark_deflate(struct conn *c);

/* net_deflate.c */
int conn_deflate_out_on(const struct conn *c);
void conn_deflate_output_on(struct conn *c);
size_t conn_deflate_unflushed(const struct conn *c);
void conn_deflate_write(struct conn *c, const void *data, size_t len);
void conn_deflate_write_buffer(struct conn *c, struct evbuffer *b);
void conn_deflate_flush(struct conn *c); /* Z_SYNC_FLUSH what was fed */
/* Inflates what arrived; the buffer the readers take input from. */
struct evbuffer *conn_deflate_input(struct conn *c);
void conn_deflate_free(struct conn *c);

/* net.c */
void net_conn_gone(struct net *n);
void net_make_id(struct net *n, char id[13]);

/* net_listen.c */
void net_listeners_pause(struct net *n, int pause);
void net_listeners_close(struct net *n);
void net_listeners_free(struct net *n);

/* Remembers a Unix socket this process bound, so that
 * net_drop_privileges() hands it to the unprivileged user (net.c). */
void net_unix_socket_note(const char *path);

#endif
