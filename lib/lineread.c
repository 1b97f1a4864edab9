/*
 * lineread.c - the incremental line-and-literal reader of lineread.h.
 *
 * State: the partial line (lineread_feed only; over an evbuffer the partial
 * line stays in the evbuffer and we remember how far we already looked for
 * its LF), whether we are discarding an overlong line, and the bytes left of
 * a literal being handed out by lineread_feed.
 */
#include "lineread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "strbuf.h"

#define LINEREAD_DEFAULT_MAX 8192

struct lineread {
	struct lineread_params params;
	struct strbuf buf; /* partial or just-returned line */
	int line_returned; /* buf holds the line given out last */
	int discarding;	   /* inside an overlong line */
	size_t scanned;	   /* evbuffer: bytes known to hold no LF */
	int in_literal;
	uint64_t literal_left;
	char prefix[LINEREAD_PREFIX]; /* start of the line being discarded */
	size_t prefix_len;
};

static size_t clamp_max(size_t max)
{
	if (max == 0)
		return LINEREAD_DEFAULT_MAX;
	/* leave room for "max + 1" (a CR before the LF) */
	return max > SIZE_MAX / 2 ? SIZE_MAX / 2 : max;
}

struct lineread *lineread_new(const struct lineread_params *params)
{
	struct lineread *lr = xcalloc(1, sizeof(*lr));

	if (params != NULL)
		lr->params = *params;
	lr->params.max_line = clamp_max(lr->params.max_line);
	strbuf_init(&lr->buf);
	return lr;
}

void lineread_free(struct lineread **lrp)
{
	struct lineread *lr = *lrp;

	if (lr == NULL)
		return;
	strbuf_free(&lr->buf);
	free(lr);
	*lrp = NULL;
}

void lineread_set_max_line(struct lineread *lr, size_t max_line)
{
	lr->params.max_line = clamp_max(max_line);
}

void lineread_reset(struct lineread *lr)
{
	/* the line handed out last stays valid until the next call: a
	 * caller may reset from inside its line handler */
	if (!lr->line_returned)
		strbuf_reset(&lr->buf);
	lr->discarding = 0;
	lr->scanned = 0;
	lr->in_literal = 0;
	lr->literal_left = 0;
}

void lineread_trim(struct lineread *lr)
{
	lr->line_returned = 0;
	lineread_reset(lr);
	/* strbuf_steal() leaves the strbuf empty and holding nothing;
	 * strbuf_reserve() allocates again on the next line */
	if (lr->buf.cap != 0)
		free(strbuf_steal(&lr->buf, NULL));
}

void lineread_literal_start(struct lineread *lr, uint64_t n)
{
	lr->in_literal = 1;
	lr->literal_left = n;
}

uint64_t lineread_literal_left(const struct lineread *lr)
{
	return lr->in_literal ? lr->literal_left : 0;
}

int lineread_find_literal(const char *line, size_t len,
			  struct lineread_result *res)
{
	size_t end = len, i;
	uint64_t n = 0;
	int nonsync = 0, overflow = 0;

	if (end < 3 || line[end - 1] != '}')
		return 0;
	end--;
	if (line[end - 1] == '+') {
		nonsync = 1;
		end--;
	}
	i = end;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || line[i - 1] != '{')
		return 0;
	for (size_t k = i; k < end; k++) {
		unsigned d = (unsigned)(line[k] - '0');

		if (n > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			n = n * 10 + d;
	}
	res->literal = 1;
	res->literal_nonsync = nonsync;
	res->literal_offset = i - 1;
	res->literal_size = overflow ? UINT64_MAX : n;
	return overflow ? -1 : 1;
}

static int result_error(struct lineread_result *res, enum lineread_error err)
{
	static const char *const text[] = {
	    [LINEREAD_OK] = "ok",
	    [LINEREAD_ERR_TOO_LONG] = "line too long",
	    [LINEREAD_ERR_LITERAL_SIZE] = "literal too large",
	    [LINEREAD_ERR_LITERAL_RANGE] = "literal size out of range",
	};

	res->error = err;
	res->error_str = text[err];
	return -1;
}

static int too_long(struct lineread *lr, struct lineread_result *res)
{
	res->prefix = lr->prefix;
	res->prefix_len = lr->prefix_len;
	lr->prefix_len = 0;
	strbuf_reset(&lr->buf);
	res->kind = LINEREAD_LINE;
	res->line = lr->buf.data;
	res->len = 0;
	return result_error(res, LINEREAD_ERR_TOO_LONG);
}

/* lr->buf holds a line up to (not including) its LF. */
static int finish_line(struct lineread *lr, struct lineread_result *res)
{
	int r;

	if (lr->buf.len > 0 && lr->buf.data[lr->buf.len - 1] == '\r')
		strbuf_truncate(&lr->buf, lr->buf.len - 1);
	if (lr->buf.len > lr->params.max_line)
		return too_long(lr, res);
	lr->line_returned = 1;
	res->kind = LINEREAD_LINE;
	res->line = lr->buf.data;
	res->len = lr->buf.len;
	if (!lr->params.literals)
		return 1;
	r = lineread_find_literal(res->line, res->len, res);
	if (r < 0)
		return result_error(res, LINEREAD_ERR_LITERAL_RANGE);
	if (r > 0 && lr->params.max_literal != 0 &&
	    res->literal_size > lr->params.max_literal)
		return result_error(res, LINEREAD_ERR_LITERAL_SIZE);
	return 1;
}

static void begin_call(struct lineread *lr, struct lineread_result *res)
{
	memset(res, 0, sizeof(*res));
	if (lr->line_returned) {
		strbuf_reset(&lr->buf);
		lr->line_returned = 0;
	}
}

static int feed_literal(struct lineread *lr, const void *data, size_t len,
			size_t *used_r, struct lineread_result *res)
{
	size_t n;

	if (lr->literal_left == 0) {
		lr->in_literal = 0;
		res->kind = LINEREAD_LITERAL_END;
		return 1;
	}
	if (len == 0)
		return 0;
	n = lr->literal_left < len ? (size_t)lr->literal_left : len;
	lr->literal_left -= n;
	res->kind = LINEREAD_LITERAL_DATA;
	res->data = data;
	res->len = n;
	*used_r = n;
	return 1;
}

int lineread_feed(struct lineread *lr, const void *data, size_t len,
		  size_t *used_r, struct lineread_result *res)
{
	const char *p = data;
	const char *nl;
	size_t seg;

	begin_call(lr, res);
	*used_r = 0;
	if (lr->in_literal)
		return feed_literal(lr, data, len, used_r, res);
	if (len == 0)
		return 0;
	nl = memchr(p, '\n', len);
	seg = nl != NULL ? (size_t)(nl - p) : len;
	if (nl == NULL) {
		*used_r = len;
		if (lr->discarding)
			return 0;
		if (lr->buf.len + seg > lr->params.max_line + 1) {
			lr->discarding = 1;
			strbuf_reset(&lr->buf);
		} else {
			strbuf_add(&lr->buf, p, seg);
		}
		return 0;
	}
	*used_r = seg + 1;
	if (lr->discarding) {
		lr->discarding = 0;
		return too_long(lr, res);
	}
	if (lr->buf.len + seg > lr->params.max_line + 1)
		return too_long(lr, res);
	strbuf_add(&lr->buf, p, seg);
	return finish_line(lr, res);
}

static void keep_prefix(struct lineread *lr, struct evbuffer *in)
{
	ev_ssize_t n = evbuffer_copyout(in, lr->prefix, sizeof(lr->prefix));

	lr->prefix_len = n > 0 ? (size_t)n : 0;
}

int lineread_evbuffer(struct lineread *lr, struct evbuffer *in,
		      struct lineread_result *res)
{
	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr start, pos;
	size_t at;

	begin_call(lr, res);
	if (len == 0)
		return 0;
	if (lr->discarding) {
		pos = evbuffer_search(in, "\n", 1, NULL);
		if (pos.pos < 0) {
			evbuffer_drain(in, len);
			return 0;
		}
		evbuffer_drain(in, (size_t)pos.pos + 1);
		lr->discarding = 0;
		return too_long(lr, res);
	}
	if (lr->scanned > len)
		lr->scanned = 0;
	pos.pos = -1;
	if (lr->scanned < len &&
	    evbuffer_ptr_set(in, &start, lr->scanned, EVBUFFER_PTR_SET) == 0)
		pos = evbuffer_search(in, "\n", 1, &start);
	if (pos.pos < 0) {
		if (len > lr->params.max_line + 1) {
			keep_prefix(lr, in);
			evbuffer_drain(in, len);
			lr->discarding = 1;
			lr->scanned = 0;
		} else {
			lr->scanned = len;
		}
		return 0;
	}
	lr->scanned = 0;
	at = (size_t)pos.pos;
	if (at > lr->params.max_line + 1) {
		keep_prefix(lr, in);
		evbuffer_drain(in, at + 1);
		return too_long(lr, res);
	}
	strbuf_reserve(&lr->buf, at);
	if (at > 0)
		evbuffer_remove(in, lr->buf.data, at);
	lr->buf.len = at;
	lr->buf.data[at] = '\0';
	evbuffer_drain(in, 1);
	return finish_line(lr, res);
}
