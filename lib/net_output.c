/*
 * net_output.c - a connection's output: writes, files, and the drain
 * callback.
 *
 * On a plain link a file goes into the bufferevent as an evbuffer file
 * segment (sendfile).  On TLS the bytes must pass through SSL_write, so
 * files wait in a small queue and are read in 64 KiB chunks whenever the
 * bufferevent's output drops below CONN_OUTQ_HIGH; anything written after a
 * queued file waits behind it in the same queue, keeping the order.  With
 * COMPRESS (net_deflate.c) every byte goes through the compressor, so
 * files take the queue on plain links too, and a marker in the queue says
 * where compression starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "net_int.h"
#include "strbuf.h"

#define CONN_OUTQ_HIGH (256 * 1024) /* refill output below this */
#define CONN_FILE_CHUNK (64 * 1024)

struct outq_item {
	struct outq_item *next;
	int fd; /* file range, or -1 for mem */
	int deflate_mark; /* compression starts here (net_deflate.c) */
	off_t off, left;
	struct evbuffer *mem;
};

struct conn_outq {
	struct outq_item *head, *tail;
};

size_t conn_out_len(const struct conn *c)
{
	/* bytes fed to the compressor and not yet flushed count too */
	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	       conn_deflate_unflushed(c);
}

int conn_flushed(const struct conn *c)
{
	return conn_out_len(c) == 0 && c->outq_bytes == 0;
}

void conn_update_lowat(struct conn *c)
{
	size_t low = 0;

	if (c->outq_bytes > 0)
		low = CONN_OUTQ_HIGH / 2;
	if (c->drain_cb != NULL && c->drain_low > low)
		low = c->drain_low;
	bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

static void outq_pop(struct conn *c)
{
	struct outq_item *it = c->outq->head;

	c->outq->head = it->next;
	if (c->outq->head == NULL)
		c->outq->tail = NULL;
	if (it->fd >= 0)
		close(it->fd);
	if (it->mem != NULL)
		evbuffer_free(it->mem);
	free(it);
}

void conn_outq_free(struct conn *c)
{
	if (c->outq == NULL)
		return;
	while (c->outq->head != NULL)
		outq_pop(c);
	free(c->outq);
	c->outq = NULL;
	c->outq_bytes = 0;
}

static struct outq_item *outq_append(struct conn *c)
{
	struct outq_item *it = xcalloc(1, sizeof(*it));

	if (c->outq == NULL)
		c->outq = xcalloc(1, sizeof(*c->outq));
	it->fd = -1;
	if (c->outq->tail != NULL)
		c->outq->tail->next = it;
	else
		c->outq->head = it;
	c->outq->tail = it;
	return it;
}

/* Reads one chunk of the head file item into the output; -1 on error. */
static int outq_read_file(struct conn *c, struct outq_item *it,
			  struct evbuffer *out)
{
	struct evbuffer_iovec v;
	size_t want =
	    it->left < CONN_FILE_CHUNK ? (size_t)it->left : CONN_FILE_CHUNK;
	ssize_t r;

	char *zbuf = NULL;

	if (conn_deflate_out_on(c)) {
		zbuf = xmalloc(want);
		v.iov_base = zbuf;
	} else if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1) {
		return -1;
	}
	r = pread(it->fd, v.iov_base, want, it->off);
	if (r <= 0) {
		if (r == 0)
			errno = EIO;
		log_warn("event=write_file_failed session=%s", c->id);
		free(zbuf);
		return -1;
	}
	v.iov_len = (size_t)r;
	if (zbuf != NULL) {
		conn_deflate_write(c, zbuf, (size_t)r);
		free(zbuf);
	} else {
		evbuffer_commit_space(out, &v, 1);
	}
	it->off += r;
	it->left -= r;
	c->outq_bytes -= (size_t)r;
	return 0;
}

/* Moves queued output into the bufferevent while it has room. */
void conn_pump(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (c->outq != NULL && c->outq->head != NULL &&
	       evbuffer_get_length(out) < CONN_OUTQ_HIGH) {
		struct outq_item *it = c->outq->head;

		if (it->mem != NULL) {
			c->outq_bytes -= evbuffer_get_length(it->mem);
			if (conn_deflate_out_on(c))
				conn_deflate_write_buffer(c, it->mem);
			else
				evbuffer_add_buffer(out, it->mem);
			outq_pop(c);
		} else if (it->deflate_mark) {
			conn_deflate_output_on(c);
			outq_pop(c);
		} else if (it->left == 0) {
			outq_pop(c);
		} else if (outq_read_file(c, it, out) < 0) {
			/* the reply is cut short: the framing is lost */
			conn_outq_free(c);
			c->reason = "error";
			conn_close_reason(c, "error");
			return;
		}
	}
	conn_update_lowat(c);
}

void conn_check_drain(struct conn *c)
{
	void (*cb)(struct conn * c) = c->drain_cb;

	if (cb == NULL || c->closing || conn_output_pending(c) > c->drain_low)
		return;
	c->drain_cb = NULL;
	conn_update_lowat(c);
	cb(c);
}

void conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->closing || c->free_now || len == 0)
		return;
	if (c->outq != NULL && c->outq->head != NULL) {
		struct outq_item *it = c->outq->tail;

		if (it->mem == NULL) {
			it = outq_append(c);
			it->mem = evbuffer_new();
		}
		evbuffer_add(it->mem, data, len);
		c->outq_bytes += len;
		return;
	}
	if (conn_deflate_out_on(c))
		conn_deflate_write(c, data, len);
	else
		bufferevent_write(c->bev, data, len);
}

void conn_write_move(struct conn *c, struct evbuffer *src, size_t len)
{
	if (c->closing || c->free_now) {
		evbuffer_drain(src, len);
		return;
	}
	if ((c->outq == NULL || c->outq->head == NULL) &&
	    !conn_deflate_out_on(c)) {
		/* whole chains change hands: no copy */
		evbuffer_remove_buffer(src, bufferevent_get_output(c->bev),
				       len);
		return;
	}
	while (len > 0) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			break;
		n = v.iov_len < len ? v.iov_len : len;
		conn_write(c, v.iov_base, n);
		evbuffer_drain(src, n);
		len -= n;
	}
}

void conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	conn_write(c, b.data, b.len);
	strbuf_free(&b);
}

int conn_write_file(struct conn *c, int fd, off_t offset, off_t len)
{
	struct outq_item *it;
	struct stat st;
	int dfd;

	if (c->closing || c->free_now || offset < 0)
		return -1;
	if (len < 0) {
		if (fstat(fd, &st) < 0 || st.st_size < offset)
			return -1;
		len = st.st_size - offset;
	}
	if (len == 0)
		return 0;
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -1;
	if (c->ssl == NULL && c->zs == NULL &&
	    (c->outq == NULL || c->outq->head == NULL)) {
		/* plain link: sendfile from the evbuffer */
		if (evbuffer_add_file(bufferevent_get_output(c->bev), dfd,
				      offset, len) < 0) {
			close(dfd);
			return -1;
		}
		return 0;
	}
	it = outq_append(c);
	it->fd = dfd;
	it->off = offset;
	it->left = len;
	c->outq_bytes += (size_t)len;
	conn_pump(c);
	return 0;
}

size_t conn_output_pending(const struct conn *c)
{
	return conn_out_len(c) + c->outq_bytes;
}

void conn_on_drain(struct conn *c, size_t low, void (*cb)(struct conn *c))
{
	c->drain_low = low;
	c->drain_cb = cb;
	conn_update_lowat(c);
	if (cb != NULL && conn_output_pending(c) <= low)
		conn_kick(c);
}

int conn_plain_fd(const struct conn *c)
{
	if (c->ssl != NULL || c->zs != NULL || c->closing || c->free_now ||
	    (c->outq != NULL && c->outq->head != NULL))
		return -1;
	return c->fd;
}

int conn_is_closing(const struct conn *c)
{
	return c->closing || c->free_now;
}

void conn_note_output(struct conn *c, size_t n)
{
	c->bytes_out += n;
	/* a client reading a long spliced reply is not idle either */
	if (n > 0 && c->opened && !c->closing && !c->paused &&
	    c->idle_seconds != 0)
		conn_idle_arm(c);
}

void conn_write_front(struct conn *c, struct evbuffer *src)
{
	if (c->closing || c->free_now) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return;
	}
	evbuffer_prepend_buffer(bufferevent_get_output(c->bev), src);
}

int conn_outq_mark_deflate(struct conn *c)
{
	if (c->outq == NULL || c->outq->head == NULL)
		return 0;
	outq_append(c)->deflate_mark = 1;
	return 1;
}
