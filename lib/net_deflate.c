/*
 * net_deflate.c - raw DEFLATE on a connection (IMAP COMPRESS=DEFLATE,
 * RFC 4978), below the protocol and above TLS.
 *
 * Once conn_start_deflate() has run, the bytes the peer sends are inflated
 * into c->zin_buf and the line/literal/raw readers of net_conn.c read from
 * there instead of the socket's buffer; the bytes the protocol writes are
 * deflated into the bufferevent's output.  Output is compressed with
 * Z_NO_FLUSH as it is written and sync-flushed (RFC 4978 section 4: a
 * complete response must reach the peer) from the connection's kick event,
 * i.e. once per event-loop turn, so a reply made of many conn_write()
 * calls costs one flush.  Output queued before the switch (the tagged OK
 * of COMPRESS, and anything waiting in the file queue) goes out
 * uncompressed: the switch happens when the file queue reaches it.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lineread.h"
#include "net_int.h"
#include "strbuf.h"

#define DEFLATE_CHUNK 16384
/* Inflated input kept ahead of the readers: a small deflate stream can
 * expand a thousandfold, so the rest waits, compressed, in the socket's
 * buffer until the readers have taken this much. */
#define INFLATE_AHEAD (256 * 1024)

struct conn_deflate {
	z_stream in, out;
	int out_on;	  /* compressing output */
	int dirty;	  /* output fed since the last sync flush */
	int in_pending;	  /* inflate may have output without new input */
	size_t unflushed; /* bytes fed since the last flush */
};

int conn_start_deflate(struct conn *c)
{
	struct conn_deflate *z;

	if (c->zs != NULL || c->closing || c->free_now || c->starttls_wait ||
	    c->starttls_run)
		return -1;
	z = xcalloc(1, sizeof(*z));
	/* RFC 4978 section 3: raw deflate (RFC 1951), no zlib header */
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		return -1;
	}
	/* The peer may have used a 32 KiB window, so inflate keeps one;
	 * our own output uses an 8 KiB window and memLevel 6 (about 64 KiB instead
	 * of zlib's default 256 KiB per connection: IMAP sessions are many
	 * and mostly idle; any inflater reads a smaller window). */
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -13, 6,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return -1;
	}
	c->zs = z;
	c->zin_buf = evbuffer_new();
	/* input already buffered was sent after the command: compressed */
	lineread_reset(c->lr);
	if (!conn_outq_mark_deflate(c))
		z->out_on = 1;
	log_debug("event=deflate_start session=%s", c->id);
	conn_kick(c);
	return 0;
}

int conn_deflate_active(const struct conn *c)
{
	return c->zs != NULL;
}

void conn_deflate_output_on(struct conn *c)
{
	if (c->zs != NULL)
		c->zs->out_on = 1;
}

int conn_deflate_out_on(const struct conn *c)
{
	return c->zs != NULL && c->zs->out_on;
}

size_t conn_deflate_unflushed(const struct conn *c)
{
	return c->zs != NULL && c->zs->dirty ? c->zs->unflushed + 1 : 0;
}

static int deflate_run(struct conn *c, const void *data, size_t len, int flush)
{
	struct conn_deflate *z = c->zs;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int r;

	z->out.next_in = (Bytef *)(uintptr_t)data;
	z->out.avail_in = (uInt)len;
	do {
		struct evbuffer_iovec v;

		if (evbuffer_reserve_space(out, DEFLATE_CHUNK, &v, 1) < 1)
			return -1;
		z->out.next_out = v.iov_base;
		z->out.avail_out = (uInt)v.iov_len;
		r = deflate(&z->out, flush);
		if (r == Z_STREAM_ERROR)
			return -1;
		v.iov_len -= z->out.avail_out;
		evbuffer_commit_space(out, &v, 1);
	} while (z->out.avail_in > 0 || z->out.avail_out == 0);
	return 0;
}

void conn_deflate_write(struct conn *c, const void *data, size_t len)
{
	struct conn_deflate *z = c->zs;

	while (len > 0) {
		size_t n = len > (1u << 30) ? (1u << 30) : len;

		if (deflate_run(c, data, n, Z_NO_FLUSH) < 0) {
			conn_close_reason(c, "error");
			return;
		}
		data = (const char *)data + n;
		len -= n;
		z->unflushed += n;
	}
	if (!z->dirty) {
		z->dirty = 1;
		conn_kick(c); /* the flush comes at the end of this turn */
	}
}

void conn_deflate_write_buffer(struct conn *c, struct evbuffer *b)
{
	while (evbuffer_get_length(b) > 0) {
		struct evbuffer_iovec v;

		if (evbuffer_peek(b, -1, NULL, &v, 1) < 1)
			break;
		conn_deflate_write(c, v.iov_base, v.iov_len);
		evbuffer_drain(b, v.iov_len);
	}
}

void conn_deflate_flush(struct conn *c)
{
	struct conn_deflate *z = c->zs;

	if (z == NULL || !z->dirty)
		return;
	z->dirty = 0;
	z->unflushed = 0;
	if (deflate_run(c, NULL, 0, Z_SYNC_FLUSH) < 0)
		conn_close_reason(c, "error");
}

/* One inflate() call into zin_buf; -1 on a broken stream. */
static int inflate_step(struct conn *c)
{
	struct conn_deflate *z = c->zs;
	struct evbuffer_iovec v;
	int r;

	if (evbuffer_reserve_space(c->zin_buf, DEFLATE_CHUNK, &v, 1) < 1)
		return -1;
	z->in.next_out = v.iov_base;
	z->in.avail_out = (uInt)v.iov_len;
	r = inflate(&z->in, Z_SYNC_FLUSH);
	v.iov_len -= z->in.avail_out;
	evbuffer_commit_space(c->zin_buf, &v, 1);
	/* output space used up: zlib may hold more for us */
	z->in_pending = z->in.avail_out == 0;
	if (r == Z_OK || r == Z_BUF_ERROR)
		return 0;
	log_info("event=inflate_error session=%s zlib=%d", c->id, r);
	return -1;
}

struct evbuffer *conn_deflate_input(struct conn *c)
{
	struct conn_deflate *z = c->zs;
	struct evbuffer *raw = bufferevent_get_input(c->bev);

	while (!c->zin_error &&
	       evbuffer_get_length(c->zin_buf) < INFLATE_AHEAD) {
		struct evbuffer_iovec in = {NULL, 0};
		size_t used;

		if (evbuffer_get_length(raw) == 0 && !z->in_pending)
			break;
		if (evbuffer_get_length(raw) > 0 &&
		    evbuffer_peek(raw, -1, NULL, &in, 1) < 1)
			break;
		z->in.next_in = in.iov_base;
		z->in.avail_in = (uInt)in.iov_len;
		if (inflate_step(c) < 0) {
			c->zin_error = 1;
			break;
		}
		used = in.iov_len - z->in.avail_in;
		if (used > 0)
			evbuffer_drain(raw, used);
		else if (!z->in_pending)
			break; /* no progress: wait for more input */
	}
	return c->zin_buf;
}

void conn_deflate_free(struct conn *c)
{
	if (c->zs == NULL)
		return;
	inflateEnd(&c->zs->in);
	deflateEnd(&c->zs->out);
	free(c->zs);
	c->zs = NULL;
	if (c->zin_buf != NULL)
		evbuffer_free(c->zin_buf);
	c->zin_buf = NULL;
}
