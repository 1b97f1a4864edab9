/*
 * backend.c - outgoing connections to stores (backend.h) over libevent
 * bufferevents, plain or TLS.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "lineread.h"
#include "net.h"
#include "strbuf.h"
#include "mux/backend.h"
#include "mux/mux.h"

struct backend {
	struct bufferevent *bev;
	struct lineread *lr;
	const struct backend_ops *ops;
	void *arg;
	char *addr;
	unsigned timeout_ms;
	size_t drain_low;
	struct event *kick;	/* deferred delivery after resume */
	unsigned connected : 1;
	unsigned raw : 1;
	unsigned paused : 1;
	unsigned held : 1;	/* input taken past us (splice.c) */
	unsigned tls : 1;	/* bev is an OpenSSL bufferevent */
	unsigned dead : 1;	/* error reported: no more callbacks */
	unsigned in_cb : 1;	/* inside a callback */
	unsigned free_later : 1;
};

static void backend_destroy(struct backend *b)
{
	if (b->kick != NULL)
		event_free(b->kick);
	if (b->bev != NULL)
		bufferevent_free(b->bev);
	lineread_free(&b->lr);
	free(b->addr);
	free(b);
}

void backend_free(struct backend **bp)
{
	struct backend *b = *bp;

	if (b == NULL)
		return;
	*bp = NULL;
	if (b->in_cb) {
		b->free_later = 1;
		b->dead = 1;
		if (b->bev != NULL)
			bufferevent_disable(b->bev, EV_READ | EV_WRITE);
		return;
	}
	backend_destroy(b);
}

/* Runs after every callback: frees a backend released inside it. */
static int cb_leave(struct backend *b)
{
	b->in_cb = 0;
	if (b->free_later) {
		backend_destroy(b);
		return -1;
	}
	return 0;
}

static void fail(struct backend *b, const char *why)
{
	if (b->dead)
		return;
	b->dead = 1;
	bufferevent_disable(b->bev, EV_READ | EV_WRITE);
	b->in_cb = 1;
	b->ops->error(b, why, b->arg);
	cb_leave(b);
}

static void apply_timeout(struct backend *b)
{
	struct timeval tv;

	if (b->timeout_ms == 0 || b->paused) {
		bufferevent_set_timeouts(b->bev, NULL, NULL);
		return;
	}
	tv.tv_sec = b->timeout_ms / 1000;
	tv.tv_usec = (b->timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(b->bev, &tv, NULL);
}

/* Returns -1 when the backend went away during delivery. */
static int deliver_lines(struct backend *b, struct evbuffer *in)
{
	struct lineread_result res;
	int r;

	while (!b->dead && !b->paused && !b->raw) {
		r = lineread_evbuffer(b->lr, in, &res);
		if (r == 0)
			return 0;
		if (r < 0) {
			fail(b, "line too long");
			return -1;
		}
		b->in_cb = 1;
		b->ops->line(b, res.line, res.len, b->arg);
		if (cb_leave(b) < 0)
			return -1;
	}
	return 0;
}

/* Returns -1 when b was freed (or failed) on the way. */
static int deliver(struct backend *b)
{
	struct evbuffer *in = bufferevent_get_input(b->bev);

	if (deliver_lines(b, in) < 0)
		return -1;
	if (b->dead)
		return -1;
	/* Spliced: no more lines from this store.  The reader's buffer
	 * holds the longest login reply (the CAPABILITY line, up to a few
	 * KB) and would stay for the whole session; no line callback is
	 * running now, so it can go. */
	if (b->raw && b->lr != NULL)
		lineread_free(&b->lr);
	if (b->paused || !b->raw || evbuffer_get_length(in) == 0)
		return 0;
	b->in_cb = 1;
	b->ops->raw(b, in, b->arg);
	return cb_leave(b) < 0 || b->dead ? -1 : 0;
}

/* Spliced sessions relay FETCH bodies: read on past libevent's 4 KiB per
 * event (net_bulk.c) while nothing holds the relay back. */
#define BACKEND_READ_MORE (256 * 1024)

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct backend *b = arg;

	if (b->raw && !b->paused && !b->tls)
		net_bev_read_more(bev, BACKEND_READ_MORE);
	(void)deliver(b);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct backend *b = arg;

	(void)bev;
	if (b->drain_low == 0 || b->dead ||
	    evbuffer_get_length(bufferevent_get_output(b->bev)) > b->drain_low)
		return;
	b->drain_low = 0;
	bufferevent_setwatermark(b->bev, EV_WRITE, 0, 0);
	if (b->ops->drained == NULL)
		return;
	b->in_cb = 1;
	b->ops->drained(b, b->arg);
	cb_leave(b);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct backend *b = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		b->connected = 1;
		b->in_cb = 1;
		b->ops->connected(b, b->arg);
		if (cb_leave(b) == 0 && !b->dead)
			(void)deliver(b);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		fail(b, "timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* data that came with the FIN first (b may go meanwhile) */
		if (b->connected && deliver(b) < 0)
			return;
		fail(b, "eof");
		return;
	}
	fail(b, b->connected ? "error" : "refused");
}

/* Parses addr into sa; *tls_r for a trailing " tls". */
static int parse_addr(const char *addr, struct sockaddr_storage *ss,
		      int *len_r, int *tls_r, char **err_r)
{
	char host[300];
	size_t n = strcspn(addr, " ");
	const char *opt = addr + n;

	*tls_r = 0;
	while (*opt == ' ')
		opt++;
	if (*opt != '\0') {
		if (strcmp(opt, "tls") != 0) {
			*err_r = xasprintf("backend address \"%s\": unknown "
					   "option", addr);
			return -1;
		}
		*tls_r = 1;
	}
	if (n >= sizeof(host)) {
		*err_r = xasprintf("backend address too long");
		return -1;
	}
	memcpy(host, addr, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (strncmp(host, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		if (strlen(host + 5) >= sizeof(un->sun_path)) {
			*err_r = xasprintf("%s: path too long", host);
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, host + 5);
		*len_r = (int)sizeof(*un);
		return 0;
	}
	*len_r = (int)sizeof(*ss);
	if (evutil_parse_sockaddr_port(host, (struct sockaddr *)ss, len_r) <
	    0) {
		*err_r = xasprintf("backend address \"%s\": expected HOST:PORT "
				   "or unix:PATH", host);
		return -1;
	}
	return 0;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;

	(void)fd;
	(void)what;
	if (!b->dead && !b->paused)
		(void)deliver(b);
}

struct backend *backend_connect(struct mux *m, const char *addr,
				unsigned timeout_ms,
				const struct backend_ops *ops, void *arg,
				char **err_r)
{
	struct event_base *base = net_base(m->net);
	struct lineread_params lp = {BACKEND_MAX_LINE, 0, 0};
	struct sockaddr_storage ss;
	struct backend *b;
	int len, tls;

	if (parse_addr(addr, &ss, &len, &tls, err_r) < 0)
		return NULL;
	b = xcalloc(1, sizeof(*b));
	b->ops = ops;
	b->arg = arg;
	b->addr = xstrdup(addr);
	b->timeout_ms = timeout_ms;
	b->lr = lineread_new(&lp);
	if (tls && m->backend_tls != NULL) {
		SSL *ssl = SSL_new(m->backend_tls);

		if (ssl == NULL) {
			*err_r = xstrdup("SSL_new failed");
			backend_destroy(b);
			return NULL;
		}
		backend_sessions_apply(ssl, b->addr);
		b->bev = bufferevent_openssl_socket_new(
		    base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (b->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(b->bev,
								     1);
		b->tls = 1;
	} else {
		b->bev = bufferevent_socket_new(base, -1,
						BEV_OPT_CLOSE_ON_FREE |
						    BEV_OPT_DEFER_CALLBACKS);
	}
	if (b->bev != NULL)
		bufferevent_set_max_single_write(b->bev, BACKEND_READ_MORE);
	if (b->bev == NULL) {
		*err_r = xstrdup("cannot create a bufferevent");
		backend_destroy(b);
		return NULL;
	}
	b->kick = event_new(base, -1, 0, resume_cb, b);
	bufferevent_setcb(b->bev, read_cb, write_cb, event_cb, b);
	apply_timeout(b);
	/* With a deferred-callback bufferevent, an immediate failure is
	 * reported through event_cb like any other. */
	if (bufferevent_socket_connect(b->bev, (struct sockaddr *)&ss, len) <
	    0) {
		*err_r = xasprintf("connect %s: %s", addr, strerror(errno));
		backend_destroy(b);
		return NULL;
	}
	bufferevent_enable(b->bev, EV_READ | EV_WRITE);
	return b;
}

void backend_write(struct backend *b, const void *data, size_t len)
{
	if (!b->dead)
		bufferevent_write(b->bev, data, len);
}

void backend_printf(struct backend *b, const char *fmt, ...)
{
	va_list ap;

	if (b->dead)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(b->bev), fmt, ap);
	va_end(ap);
}

void backend_move(struct backend *b, struct evbuffer *src, size_t len)
{
	if (b->dead) {
		evbuffer_drain(src, len);
		return;
	}
	evbuffer_remove_buffer(src, bufferevent_get_output(b->bev), len);
}

size_t backend_output_pending(const struct backend *b)
{
	return evbuffer_get_length(bufferevent_get_output(b->bev));
}

void backend_on_drain(struct backend *b, size_t low)
{
	b->drain_low = low;
	bufferevent_setwatermark(b->bev, EV_WRITE, low, 0);
}

void backend_set_raw(struct backend *b, int raw)
{
	struct lineread_params lp = {BACKEND_MAX_LINE, 0, 0};

	b->raw = raw != 0;
	if (b->lr != NULL)
		lineread_reset(b->lr);
	else if (!raw)
		b->lr = lineread_new(&lp);	/* deliver() freed it */
}

void backend_set_timeout(struct backend *b, unsigned ms)
{
	b->timeout_ms = ms;
	apply_timeout(b);
}

void backend_pause(struct backend *b)
{
	if (b->paused || b->dead)
		return;
	b->paused = 1;
	bufferevent_disable(b->bev, EV_READ);
	apply_timeout(b);
}

void backend_resume(struct backend *b)
{
	if (!b->paused || b->dead)
		return;
	b->paused = 0;
	if (!b->held)
		bufferevent_enable(b->bev, EV_READ);
	apply_timeout(b);
	/* Input already buffered gets no new read event: deliver it from
	 * the loop, not from inside our caller. */
	if (evbuffer_get_length(bufferevent_get_input(b->bev)) > 0)
		event_active(b->kick, EV_TIMEOUT, 0);
}

const char *backend_tls_state(const struct backend *b)
{
	SSL *ssl;

	if (!b->tls || b->bev == NULL)
		return "no";
	ssl = bufferevent_openssl_get_ssl(b->bev);
	return ssl != NULL && SSL_session_reused(ssl) ? "resumed" : "full";
}

const char *backend_addr(const struct backend *b)
{
	return b->addr;
}

int backend_plain_fd(const struct backend *b)
{
	if (b->tls || b->dead || !b->connected || !b->raw)
		return -1;
	return bufferevent_getfd(b->bev);
}

size_t backend_input_pending(const struct backend *b)
{
	return evbuffer_get_length(bufferevent_get_input(b->bev));
}

void backend_hold(struct backend *b, int hold)
{
	if (b->dead)
		return;
	b->held = hold != 0;
	if (b->held)
		bufferevent_disable(b->bev, EV_READ);
	else if (!b->paused)
		bufferevent_enable(b->bev, EV_READ);
}

void backend_lost(struct backend *b, const char *why)
{
	fail(b, why);
}
