/*
 * fuzz_lmtp.c - the pure parsers of the LMTP server: the RFC 5321 path
 * parser on every line of the input, and the DATA dot-unstuffing decoder,
 * fed whole and in pieces (split sizes taken from the input's first byte),
 * which must give the same output either way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/lmtp.h"

struct dot_run {
	char *out;
	size_t len;
	size_t consumed;
	int done;
};

static void dot_run(const uint8_t *in, size_t len, size_t step,
		    struct dot_run *r)
{
	struct lmtp_dot d;
	char *buf = malloc(len + 3);
	size_t at = 0;

	r->out = malloc(len + 3);
	r->len = r->consumed = 0;
	r->done = 0;
	lmtp_dot_init(&d);
	while (at < len && !r->done) {
		size_t n = len - at < step ? len - at : step;
		size_t olen = 0;
		size_t used = lmtp_dot_decode(&d, (const char *)in + at, n, buf,
					      &olen, &r->done);

		if (used > n || olen > n + 2)
			abort();
		memcpy(r->out + r->len, buf, olen);
		r->len += olen;
		at += used;
		if (!r->done && used != n)
			abort();
	}
	r->consumed = at;
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dot_run whole, pieces;
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
	char *text = malloc(size + 1);
	char *line, *save = NULL;

	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;
		const char *why = NULL;
		char *addr = NULL;

		if (lmtp_parse_path(&p, &addr, &why) == 0) {
			if (addr == NULL || p < line ||
			    p > line + strlen(line))
				abort();
			free(addr);
		} else if (why == NULL) {
			abort();
		}
	}
	free(text);

	dot_run(data, size, size ? size : 1, &whole);
	dot_run(data, size, step, &pieces);
	if (whole.done != pieces.done || whole.len != pieces.len ||
	    whole.consumed != pieces.consumed ||
	    memcmp(whole.out, pieces.out, whole.len) != 0)
		abort();
	free(whole.out);
	free(pieces.out);
	return 0;
}
