/*
 * fuzz_pop3_stuff.c - the POP3 dot-stuffer (store/pop3_stream.c).
 *
 * Input: byte 0 picks TOP's line count (0xff: RETR), byte 1 the piece
 * size the message is fed in; the rest is the message.  Checks that the
 * reply is well framed (every line before the terminator that starts
 * with '.' is stuffed) and, for RETR, that un-stuffing it gives back the
 * message with every line end turned into CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "store/pop3.h"

static void collect(void *arg, const char *data, size_t len)
{
	strbuf_add(arg, data, len);
}

/* The message as RETR must send it: CRLF line ends, a final CRLF. */
static void normalize(const uint8_t *in, size_t len, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			strbuf_addc(out, '\r');
		strbuf_addc(out, (char)in[i]);
	}
	if (len > 0 && in[len - 1] != '\n')
		strbuf_adds(out, in[len - 1] == '\r' ? "\n" : "\r\n");
}

/* Checks the framing; returns the un-stuffed body in body. */
static void unstuff(const struct strbuf *out, struct strbuf *body)
{
	const char *p = out->data, *end = out->data + out->len, *eol;

	for (;;) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			abort(); /* every line ends with CRLF */
		if (eol == p + 1 && p[0] == '.') {
			if (eol + 2 != end)
				abort(); /* terminator is last */
			return;
		}
		if (p[0] == '.') {
			if (eol - p < 2 || p[1] != '.')
				abort(); /* unstuffed dot line */
			p++;
		}
		strbuf_add(body, p, (size_t)(eol + 2 - p));
		p = eol + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_stuff st;
	struct strbuf out, body, want;
	long long lines;
	size_t piece, off = 0, n;

	if (size < 2)
		return 0;
	lines = data[0] == 0xff ? -1 : data[0];
	piece = data[1] == 0 ? size : data[1];
	data += 2;
	size -= 2;

	strbuf_init(&out);
	strbuf_init(&body);
	strbuf_init(&want);
	pop3_stuff_init(&st, lines, collect, &out);
	while (off < size) {
		n = size - off < piece ? size - off : piece;
		pop3_stuff_feed(&st, (const char *)data + off, n);
		off += n;
	}
	pop3_stuff_finish(&st);
	unstuff(&out, &body);
	if (lines < 0) {
		normalize(data, size, &want);
		if (want.len != body.len ||
		    memcmp(want.data, body.data, want.len) != 0)
			abort();
	}
	strbuf_free(&out);
	strbuf_free(&body);
	strbuf_free(&want);
	return 0;
}
