/*
 * fuzz_mux_preauth.c - libFuzzer target for the mux's pure pre-auth
 * readers: the IMAP / ManageSieve command reader (mux/imap_parse.c) and
 * the LMTP end-of-data scanner (mux/lmtp_relay.c).
 *
 * The first byte picks IMAP (tagged) or ManageSieve mode and a chunk size
 * for the scanner.  The rest is split into lines; a line that asks for a
 * literal is followed by that many bytes of the input (as the fronts
 * stream it).  Contracts checked: tokens are NUL-terminated with their
 * exact length, literal sizes stay within TOK_MAX_LITERAL, an error has a
 * message; the scanner gives the same answer whole and in chunks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mux/front.h"
#include "mux/lmtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tokens(const struct tokcmd *tc)
{
	for (unsigned i = 0; i < tc->n; i++) {
		const struct tok *t = &tc->t[i];

		if (t->type == TOK_LIST) {
			if (t->str != NULL)
				abort();
			continue;
		}
		if (t->str == NULL || t->str[t->len] != '\0')
			abort();
	}
}

static void fuzz_tokens(int tagged, const char *p, size_t len)
{
	struct tokcmd tc;
	const char *end = p + len;

	tokcmd_init(&tc, tagged);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		enum tokcmd_result r = tokcmd_line(&tc, p, n);

		p += n + (nl != NULL);
		if (r == TOKCMD_LITERAL) {
			size_t lit = tc.literal_size;

			if (lit > TOK_MAX_LITERAL)
				abort();
			if (lit > (size_t)(end - p))
				lit = (size_t)(end - p);
			tokcmd_literal(&tc, p, lit);
			p += lit;
			continue;
		}
		if (r == TOKCMD_ERROR && tc.error == NULL)
			abort();
		check_tokens(&tc);
		tokcmd_clear(&tc);
	}
	check_tokens(&tc);
	tokcmd_clear(&tc);
}

static void fuzz_scan(const char *p, size_t len, size_t chunk)
{
	struct lmtp_scan a, b;
	size_t whole, off = 0, got = (size_t)-1;

	lmtp_scan_init(&a);
	whole = lmtp_scan(&a, p, len);
	lmtp_scan_init(&b);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t r = lmtp_scan(&b, p + off, n);

		if (r != (size_t)-1) {
			got = off + r;
			break;
		}
		off += n;
	}
	if (got != whole)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_tokens(data[0] & 1, (const char *)data + 1, size - 1);
	fuzz_scan((const char *)data + 1, size - 1, 1 + (data[0] >> 1));
	return 0;
}
