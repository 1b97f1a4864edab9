/*
 * net_conn.c - one accepted connection: input modes, output, TLS, closing.
 *
 * Every bufferevent is created with BEV_OPT_DEFER_CALLBACKS, so our
 * callbacks always run from the event loop, never from inside a call the
 * protocol made.  Work that must not happen in the caller's stack (input
 * delivery after conn_resume(), freeing after conn_close()) goes through
 * the connection's "kick" event, which is made active and runs on the next
 * loop iteration.  conn_destroy() is only ever reached from a loop callback.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lineread.h"
#include "net_int.h"
#include "strbuf.h"

#define CONN_FLUSH_TIMEOUT 30 /* seconds to flush output on close */

static void conn_dispatch(struct conn *c);
static void conn_setup_bev(struct conn *c);

void conn_kick(struct conn *c)
{
	event_active(c->kick_ev, EV_TIMEOUT, 0);
}

void conn_idle_arm(struct conn *c)
{
	struct timeval tv = {0, 0};

	if (c->closing)
		return;
	if (c->idle_seconds == 0 || c->paused) {
		evtimer_del(c->idle_ev);
		return;
	}
	tv.tv_sec = c->idle_seconds;
	evtimer_add(c->idle_ev, &tv);
}

/* --- deferred work ------------------------------------------------------ */

static void conn_start_tls(struct conn *c)
{
	struct net *n = c->net;
	SSL *ssl;

	c->starttls_wait = 0;
	/* RFC 3207 section 4.2 (and RFC 2595): plaintext sent before the
	 * handshake must not be taken as protected input */
	evbuffer_drain(bufferevent_get_input(c->bev),
		       evbuffer_get_length(bufferevent_get_input(c->bev)));
	lineread_reset(c->lr);
	ssl = SSL_new(n->params.tls_ctx);
	if (ssl == NULL) {
		log_warnx("event=tls_failed session=%s error=SSL_new", c->id);
		if (c->lst->ops->tls_done != NULL)
			c->lst->ops->tls_done(c, 0);
		c->free_now = 1;
		c->reason = "error";
		conn_kick(c);
		return;
	}
	bufferevent_free(c->bev);
	c->ssl = ssl;
	c->starttls_run = 1;
	c->bev = bufferevent_openssl_socket_new(
	    n->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	conn_setup_bev(c);
}

static void conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->free_now) {
		conn_destroy(c);
		return;
	}
	if (c->starttls_wait && conn_flushed(c))
		conn_start_tls(c);
	conn_check_drain(c);
	conn_dispatch(c);
	/* COMPRESS: what this turn wrote goes out as complete blocks */
	conn_deflate_flush(c);
	if (c->free_now || (c->closing && conn_flushed(c)))
		conn_destroy(c);
}

static void conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing || c->free_now || !c->opened) {
		/* flush timed out, or the TLS handshake never finished */
		if (c->reason == NULL)
			c->reason = "timeout";
		conn_destroy(c);
		return;
	}
	log_debug("event=idle_timeout session=%s", c->id);
	c->reason = "timeout";
	if (c->lst->ops->timeout != NULL)
		c->lst->ops->timeout(c);
	conn_close_reason(c, "timeout");
}

/* --- input -------------------------------------------------------------- */

static int conn_can_deliver(const struct conn *c)
{
	return c->opened && !c->paused && !c->closing && !c->free_now &&
	       !c->starttls_wait && !c->starttls_run && !c->tls_pending;
}

static int conn_step_line(struct conn *c, struct evbuffer *in)
{
	struct lineread_result res;
	int r = lineread_evbuffer(c->lr, in, &res);

	if (r == 0)
		return 0;
	if (r > 0) {
		if (c->lst->ops->line == NULL) {
			conn_close_reason(c, "error");
			return 0;
		}
		c->lst->ops->line(c, res.line, res.len);
		return 1;
	}
	log_debug("event=line_too_long session=%s", c->id);
	if (c->lst->ops->line_too_long != NULL) {
		c->toolong_prefix = res.prefix;
		c->toolong_len = res.prefix_len;
		c->lst->ops->line_too_long(c);
		c->toolong_prefix = NULL;
		c->toolong_len = 0;
	} else
		conn_close_reason(c, "error");
	return 1;
}

static int conn_step_literal(struct conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t n;

	if (c->literal_left == 0) {
		void (*done)(struct conn * c) = c->literal_done;

		c->mode = CONN_LINE;
		c->literal_chunk = NULL;
		c->literal_done = NULL;
		lineread_reset(c->lr);
		if (done != NULL)
			done(c);
		return 1;
	}
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return 0;
	n = v.iov_len;
	if ((uint64_t)n > c->literal_left)
		n = (size_t)c->literal_left;
	c->literal_left -= n;
	if (c->literal_chunk != NULL)
		c->literal_chunk(c, v.iov_base, n);
	evbuffer_drain(in, n);
	return 1;
}

static int conn_step_raw(struct conn *c, struct evbuffer *in)
{
	size_t before = evbuffer_get_length(in);

	if (before == 0)
		return 0;
	c->raw_cb(c, in);
	return evbuffer_get_length(in) != before || c->mode != CONN_RAW;
}

/* Delivers buffered input while the connection may take it. */
static void conn_dispatch(struct conn *c)
{
	int more = 1;

	if (c->dispatching)
		return;
	c->dispatching = 1;
	while (more && conn_can_deliver(c)) {
		struct evbuffer *in = c->zs != NULL
					  ? conn_deflate_input(c)
					  : bufferevent_get_input(c->bev);

		if (c->zin_error) {
			conn_close_reason(c, "error");
			break;
		}

		switch (c->mode) {
		case CONN_LINE:
			more = conn_step_line(c, in);
			break;
		case CONN_LITERAL:
			more = conn_step_literal(c, in);
			break;
		case CONN_RAW:
			more = conn_step_raw(c, in);
			break;
		}
	}
	c->dispatching = 0;
	/* Raw mode reads no lines: the line buffer (sized by the longest
	 * line so far, the login) goes back to malloc now that no line
	 * handler can hold a pointer into it.  A spliced session idles here
	 * for hours. */
	if (c->mode == CONN_RAW)
		lineread_trim(c->lr);
	/* the peer is done and nothing more can be delivered */
	if (!more && c->eof && conn_can_deliver(c))
		conn_close_reason(c, "eof");
}

/* --- bufferevent callbacks ---------------------------------------------- */

/* Bulk relays (raw mode: the mux's spliced sessions) read on past
 * libevent's 4 KiB per event (net_bulk.c), this much per callback. */
#define CONN_READ_MORE (256 * 1024)
#define CONN_WRITE_MAX (256 * 1024)

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->ssl == NULL && c->mode == CONN_RAW && !c->paused)
		net_bev_read_more(bev, CONN_READ_MORE);
	if (c->opened && !c->closing)
		conn_idle_arm(c);
	conn_dispatch(c);
	if (c->closing && conn_flushed(c))
		conn_destroy(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	conn_pump(c);
	if (c->free_now || (c->closing && conn_flushed(c))) {
		conn_destroy(c);
		return;
	}
	if (c->starttls_wait && conn_flushed(c))
		conn_kick(c);
	conn_check_drain(c);
	if (c->free_now || (c->closing && conn_flushed(c)))
		conn_destroy(c);
}

static void conn_log_tls_error(struct conn *c, const char *event)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	char buf[256] = "unknown";

	if (e == 0)
		e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	log_info("event=%s session=%s peer=%s reason=\"%s\"", event, c->id,
		 c->peer, buf);
}

static void conn_do_open(struct conn *c)
{
	c->opened = 1;
	if (c->lst->ops->open != NULL && c->lst->ops->open(c) < 0) {
		conn_close_reason(c, "closed");
		return;
	}
	conn_kick(c); /* input may already be buffered */
}

static void conn_tls_connected(struct conn *c)
{
	if (c->tls_pending) {
		c->tls_pending = 0;
		if (c->net->shutting_down) {
			c->reason = "shutdown";
			c->free_now = 1;
			conn_kick(c);
			return;
		}
		conn_do_open(c);
	} else if (c->starttls_run) {
		c->starttls_run = 0;
		if (c->lst->ops->tls_done != NULL)
			c->lst->ops->tls_done(c, 1);
		conn_kick(c);
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn_tls_connected(c);
		return;
	}
	if (c->tls_pending || c->starttls_run) {
		conn_log_tls_error(c, "tls_handshake_failed");
		if (c->starttls_run && c->lst->ops->tls_done != NULL)
			c->lst->ops->tls_done(c, 0);
		c->reason = "error";
		conn_destroy(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->ssl != NULL)
			conn_log_tls_error(c, "tls_error");
		if (c->reason == NULL)
			c->reason = "error";
		conn_destroy(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = 1;
		if (c->closing) {
			conn_destroy(c);
			return;
		}
		conn_dispatch(c);
		if (c->closing && conn_flushed(c))
			conn_destroy(c);
	}
}

static void conn_in_count(struct evbuffer *b, const struct evbuffer_cb_info *i,
			  void *arg)
{
	struct conn *c = arg;

	(void)b;
	c->bytes_in += i->n_added;
}

static void conn_out_count(struct evbuffer *b, const struct evbuffer_cb_info *i,
			   void *arg)
{
	struct conn *c = arg;

	(void)b;
	c->bytes_out += i->n_deleted;
	/* a client reading a long reply is not idle */
	if (i->n_deleted > 0 && c->opened && !c->closing && !c->paused &&
	    c->idle_seconds != 0)
		conn_idle_arm(c);
}

static void conn_setup_bev(struct conn *c)
{
	if (c->ssl != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  c);
	evbuffer_add_cb(bufferevent_get_input(c->bev), conn_in_count, c);
	evbuffer_add_cb(bufferevent_get_output(c->bev), conn_out_count, c);
	/* libevent writes at most 16 KiB per writable event by default: a
	 * relayed FETCH would cost an epoll round per 16 KiB */
	bufferevent_set_max_single_write(c->bev, CONN_WRITE_MAX);
	conn_update_lowat(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* --- life cycle --------------------------------------------------------- */

static void format_peer(struct conn *c, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, port);
	} else {
		snprintf(ip, sizeof(ip), "unix");
		snprintf(c->peer, sizeof(c->peer), "unix");
	}
	snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", ip);
}

void conn_accepted(struct net_listener *l, int fd, const struct sockaddr *sa,
		   int salen)
{
	struct lineread_params lp = {.max_line = NET_DEFAULT_MAX_LINE};
	struct net *n = l->net;
	char qlocal[sizeof(l->local) + 16];
	struct conn *c;
	int one = 1;

	(void)salen;
	c = xcalloc(1, sizeof(*c));
	c->net = n;
	c->lst = l;
	c->fd = fd;
	net_make_id(n, c->id);
	format_peer(c, sa);
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->lr = lineread_new(&lp);
	c->idle_seconds = NET_DEFAULT_IDLE_SECONDS;
	c->kick_ev = event_new(n->base, -1, 0, conn_kick_cb, c);
	c->idle_ev = evtimer_new(n->base, conn_idle_cb, c);
	c->next = n->conns;
	if (n->conns != NULL)
		n->conns->prev = c;
	n->conns = c;
	n->n_conns++;
	if (n->params.max_connections != 0 &&
	    n->n_conns >= n->params.max_connections)
		net_listeners_pause(n, 1);

	evutil_make_socket_nonblocking(fd);
	if (!l->is_unix)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	log_info("event=conn_open session=%s proto=%s peer=%s local=%s%s",
		 c->id, l->spec.proto, c->peer,
		 log_q(qlocal, sizeof(qlocal), l->local),
		 l->spec.tls == NET_TLS_IMPLICIT ? " tls=implicit" : "");
	if (l->spec.tls == NET_TLS_IMPLICIT) {
		SSL *ssl = SSL_new(n->params.tls_ctx);

		if (ssl == NULL) {
			c->bev = bufferevent_socket_new(n->base, fd, 0);
			c->reason = "error";
			c->free_now = 1;
			conn_kick(c);
			return;
		}
		c->ssl = ssl;
		c->tls_pending = 1;
		c->bev = bufferevent_openssl_socket_new(
		    n->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		conn_setup_bev(c);
		conn_idle_arm(c);
		return;
	}
	c->bev = bufferevent_socket_new(n->base, fd, BEV_OPT_DEFER_CALLBACKS);
	conn_setup_bev(c);
	conn_idle_arm(c);
	conn_do_open(c);
}

void conn_close_reason(struct conn *c, const char *reason)
{
	struct timeval tv = {CONN_FLUSH_TIMEOUT, 0};

	if (c->closing || c->free_now)
		return;
	c->closing = 1;
	if (c->reason == NULL)
		c->reason = reason;
	c->drain_cb = NULL;
	bufferevent_disable(c->bev, EV_READ);
	/* Once a TLS peer has closed (close_notify or not), libevent's
	 * bufferevent_openssl writes nothing more: queued output can never
	 * be flushed, so waiting for it would only hold the connection
	 * (and a graceful shutdown) until the flush timeout. */
	if (conn_flushed(c) || c->starttls_run || c->tls_pending ||
	    (c->eof && c->ssl != NULL)) {
		c->free_now = 1;
		conn_kick(c);
		return;
	}
	conn_update_lowat(c);
	evtimer_add(c->idle_ev, &tv);
}

static long long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

void conn_destroy(struct conn *c)
{
	struct net *n = c->net;

	c->free_now = 1;
	c->closing = 1;
	if (c->reason == NULL)
		c->reason = "closed";
	if (c->opened) {
		c->opened = 0;
		if (c->lst->ops->close != NULL)
			c->lst->ops->close(c, c->reason);
	}
	log_info("event=conn_close session=%s reason=%s bytes_in=%llu "
		 "bytes_out=%llu duration_ms=%lld",
		 c->id, c->reason, (unsigned long long)c->bytes_in,
		 (unsigned long long)c->bytes_out, elapsed_ms(&c->started));
	evbuffer_remove_cb(bufferevent_get_input(c->bev), conn_in_count, c);
	evbuffer_remove_cb(bufferevent_get_output(c->bev), conn_out_count, c);
	if (c->ssl != NULL) {
		SSL *ssl = c->ssl;

		/* a close_notify, when the handshake got that far */
		if (SSL_is_init_finished(ssl) && !c->tls_pending &&
		    !c->starttls_run)
			SSL_shutdown(ssl);
		ERR_clear_error();
		bufferevent_free(c->bev); /* frees ssl, closes fd */
	} else {
		bufferevent_free(c->bev);
		close(c->fd);
	}
	event_free(c->kick_ev);
	event_free(c->idle_ev);
	lineread_free(&c->lr);
	conn_outq_free(c);
	conn_deflate_free(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	n->n_conns--;
	free(c);
	net_conn_gone(n);
}

/* --- the public API ----------------------------------------------------- */

const char *conn_id(const struct conn *c)
{
	return c->id;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

const char *conn_peer_ip(const struct conn *c)
{
	return c->peer_ip;
}

const char *conn_local(const struct conn *c)
{
	return c->lst->local;
}

int conn_is_local_socket(const struct conn *c)
{
	return c->lst->is_unix;
}

int conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL && !c->starttls_run && !c->tls_pending;
}

const struct net_listen_spec *conn_listen_spec(const struct conn *c)
{
	return &c->lst->spec;
}

void *conn_listener_arg(const struct conn *c)
{
	return c->lst->arg;
}

struct net *conn_net(const struct conn *c)
{
	return c->net;
}

void conn_set_ctx(struct conn *c, void *ctx)
{
	c->ctx = ctx;
}

void *conn_ctx(const struct conn *c)
{
	return c->ctx;
}

int conn_starttls(struct conn *c)
{
	if (c->net->params.tls_ctx == NULL || c->ssl != NULL ||
	    c->starttls_wait || c->closing || c->free_now || c->zs != NULL)
		return -1;
	c->starttls_wait = 1;
	/* leave the client's handshake in the socket for the TLS layer */
	bufferevent_disable(c->bev, EV_READ);
	conn_kick(c);
	return 0;
}

size_t conn_line_prefix(const struct conn *c, const char **p_r)
{
	*p_r = c->toolong_prefix != NULL ? c->toolong_prefix : "";
	return c->toolong_len;
}

void conn_close(struct conn *c)
{
	conn_close_reason(c, "closed");
}

void conn_set_max_line(struct conn *c, size_t max)
{
	lineread_set_max_line(c->lr, max);
}

void conn_set_idle_timeout(struct conn *c, unsigned seconds)
{
	c->idle_seconds = seconds;
	if (c->opened)
		conn_idle_arm(c);
}

void conn_pause(struct conn *c)
{
	if (c->paused || c->closing)
		return;
	c->paused = 1;
	if (!c->starttls_wait)
		bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->idle_ev);
}

void conn_resume(struct conn *c)
{
	if (!c->paused)
		return;
	c->paused = 0;
	if (c->closing || c->free_now)
		return;
	if (!c->eof && !c->starttls_wait)
		bufferevent_enable(c->bev, EV_READ);
	conn_idle_arm(c);
	conn_kick(c);
}

void conn_read_literal(struct conn *c, uint64_t n,
		       void (*chunk)(struct conn *c, const void *data,
				     size_t len),
		       void (*done)(struct conn *c))
{
	c->mode = CONN_LITERAL;
	c->literal_left = n;
	c->literal_chunk = chunk;
	c->literal_done = done;
	lineread_reset(c->lr);
	conn_kick(c);
}

void conn_set_raw(struct conn *c,
		  void (*raw)(struct conn *c, struct evbuffer *in))
{
	c->mode = CONN_RAW;
	c->raw_cb = raw;
	lineread_reset(c->lr);
	conn_kick(c);
}

void conn_set_line_mode(struct conn *c)
{
	c->mode = CONN_LINE;
	c->raw_cb = NULL;
	lineread_reset(c->lr);
	conn_kick(c);
}
