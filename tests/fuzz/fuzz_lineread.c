/*
 * fuzz_lineread.c - libFuzzer target for lib/lineread.c.
 *
 * The first byte chooses the parameters (max_line, literals on/off,
 * max_literal) and the chunk size; the rest is fed through lineread_feed()
 * in those chunks and, separately, through lineread_evbuffer() in the same
 * chunks.  Both must report the same transcript of lines, errors and
 * literal bytes, and every line must respect the contract (no LF, a NUL
 * after it, at most max_line bytes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lineread.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LITERAL 4096

static void check_line(const struct lineread_params *p,
		       const struct lineread_result *res)
{
	if (res->line[res->len] != '\0' || res->len > p->max_line ||
	    memchr(res->line, '\n', res->len) != NULL)
		abort();
}

static void record(struct strbuf *t, int r, const struct lineread_result *res)
{
	strbuf_printf(t, "%c%d:%zu:", r < 0 ? 'E' : 'L', (int)res->error,
		      res->len);
	strbuf_add(t, res->line, res->len);
	if (res->literal)
		strbuf_printf(t, "#%llu%d",
			      (unsigned long long)res->literal_size,
			      res->literal_nonsync);
	strbuf_addc(t, '|');
}

static int stream_it(int r, const struct lineread_result *res)
{
	return r == 1 && res->literal && res->literal_size <= FUZZ_MAX_LITERAL;
}

static void run_feed(const struct lineread_params *p, const uint8_t *in,
		     size_t len, size_t chunk, struct strbuf *t)
{
	struct lineread *lr = lineread_new(p);
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, pos = 0;

		for (;;) {
			struct lineread_result res;
			size_t used;
			int r = lineread_feed(lr, in + off + pos, n - pos,
					      &used, &res);

			pos += used;
			if (pos > n)
				abort();
			if (r == 0)
				break;
			if (res.kind == LINEREAD_LITERAL_DATA) {
				strbuf_add(t, res.data, res.len);
			} else if (res.kind == LINEREAD_LITERAL_END) {
				strbuf_adds(t, "|END|");
			} else {
				check_line(p, &res);
				record(t, r, &res);
				if (stream_it(r, &res)) {
					strbuf_adds(t, "D:");
					lineread_literal_start(
					    lr, res.literal_size);
				}
			}
		}
		off += n;
	}
	lineread_free(&lr);
}

static void run_evbuffer(const struct lineread_params *p, const uint8_t *in,
			 size_t len, size_t chunk, struct strbuf *t)
{
	struct lineread *lr = lineread_new(p);
	struct evbuffer *eb = evbuffer_new();
	uint64_t left = 0;
	int in_lit = 0;
	size_t off = 0;

	for (;;) {
		for (;;) {
			struct lineread_result res;
			int r;

			if (in_lit) {
				size_t have = evbuffer_get_length(eb);
				size_t n = left < have ? (size_t)left : have;

				strbuf_reserve(t, n);
				evbuffer_remove(eb, t->data + t->len, n);
				t->len += n;
				t->data[t->len] = '\0';
				left -= n;
				if (left > 0)
					break;
				in_lit = 0;
				strbuf_adds(t, "|END|");
				lineread_reset(lr);
				continue;
			}
			r = lineread_evbuffer(lr, eb, &res);
			if (r == 0)
				break;
			check_line(p, &res);
			record(t, r, &res);
			if (stream_it(r, &res)) {
				strbuf_adds(t, "D:");
				in_lit = 1;
				left = res.literal_size;
			}
		}
		if (off == len)
			break;
		size_t n = len - off < chunk ? len - off : chunk;

		evbuffer_add(eb, in + off, n);
		off += n;
	}
	evbuffer_free(eb);
	lineread_free(&lr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lineread_params p = {0};
	struct strbuf a, b;
	size_t chunk;

	if (size < 1)
		return 0;
	p.max_line = 1 + (data[0] & 0x3f);
	p.literals = (data[0] & 0x40) != 0;
	p.max_literal = (data[0] & 0x80) ? 64 : 0;
	chunk = 1 + data[0] % 17;
	strbuf_init(&a);
	strbuf_init(&b);
	run_feed(&p, data + 1, size - 1, chunk, &a);
	/* the evbuffer path sees the same bytes in a different split */
	run_evbuffer(&p, data + 1, size - 1, 1 + data[0] % 5, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
