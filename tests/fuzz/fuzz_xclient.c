/*
 * fuzz_xclient.c - the XCLIENT attribute parser (lib/xclient.c).
 *
 * Input: byte 0 picks the dialect (bit 0: Postfix's LMTP attributes with
 * xtext, else Dovecot's for POP3/ManageSieve; bit 1: feed the words one
 * by one through xclient_parse_attr() as ManageSieve does); the rest is
 * the argument text.  Checks the contract: a failed command changes
 * nothing and says why; a parsed one holds only allowed attributes,
 * NUL-terminated log-safe values, and an address that formats and
 * parses again to itself; xtext round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_token(const char *v, size_t max)
{
	size_t n = strnlen(v, max + 1);

	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			abort();
}

static void check_result(const struct xclient *x, unsigned allowed)
{
	char buf[XCLIENT_PEER_MAX];
	const char *p;

	if (x->have & ~(allowed & XCLIENT_ATTRS))
		abort();
	check_token(x->addr, XCLIENT_IP_MAX - 1);
	check_token(x->name, XCLIENT_MAX_VALUE);
	check_token(x->helo, XCLIENT_MAX_VALUE);
	check_token(x->proto, sizeof(x->proto) - 1);
	check_token(x->session, XCLIENT_MAX_SESSION);
	if (x->port > 65535 || x->ttl > 255)
		abort();
	p = xclient_peer(x, "peer", buf, sizeof(buf));
	if (p != buf || strlen(buf) >= sizeof(buf))
		abort();
	/* the normalised address parses again to itself */
	if ((x->have & XCLIENT_ADDR) && x->addr[0] != '\0') {
		struct xclient y;
		struct strbuf b;
		const char *err = NULL;

		memset(&y, 0, sizeof(y));
		strbuf_init(&b);
		strbuf_printf(&b, "ADDR=%s", x->addr);
		if (xclient_parse(&y, b.data, XCLIENT_POP3_ATTRS, &err) < 0 ||
		    strcmp(y.addr, x->addr) != 0)
			abort();
		strbuf_free(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned allowed;
	struct xclient x, before;
	const char *err = NULL;
	char *text;
	int r;

	if (size < 1)
		return 0;
	allowed = (data[0] & 1) ? XCLIENT_LMTP_ATTRS : XCLIENT_POP3_ATTRS;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	memset(&x, 0, sizeof(x));
	/* a known state first, so "unchanged on error" means something */
	if (xclient_parse(&x, "ADDR=192.0.2.1 PORT=1", allowed, &err) < 0)
		abort();
	before = x;
	if (data[0] & 2) {
		/* ManageSieve: one argument at a time, any bytes (a literal
		 * may hold NULs), so the length is what counts */
		const char *p = (const char *)data + 1;
		size_t left = size - 1;

		r = 0;
		while (left > 0 && r == 0) {
			const char *sp = memchr(p, ' ', left);
			size_t n = sp != NULL ? (size_t)(sp - p) : left;

			r = xclient_parse_attr(&x, p, n, allowed, &err);
			if (r < 0 && err == NULL)
				abort();
			if (r == 0)
				check_result(&x, allowed);
			p += n + (sp != NULL);
			left -= n + (sp != NULL);
		}
	} else {
		r = xclient_parse(&x, text, allowed, &err);
		if (r < 0) {
			if (err == NULL || memcmp(&x, &before, sizeof(x)) != 0)
				abort();
		} else {
			check_result(&x, allowed);
		}
	}

	/* xtext: encoding gives only xchars and decodes to the input */
	{
		struct strbuf b;
		char *out = malloc(size);
		int n;

		strbuf_init(&b);
		xclient_xtext_encode(&b, text);
		for (size_t i = 0; i < b.len; i++)
			if ((unsigned char)b.data[i] < 0x21 ||
			    (unsigned char)b.data[i] > 0x7e || b.data[i] == '=')
				abort();
		n = xclient_xtext_decode(b.data, b.len, out, size);
		if (n < 0 || (size_t)n != strlen(text) ||
		    memcmp(out, text, (size_t)n) != 0)
			abort();
		/* and decoding anything never overruns */
		(void)xclient_xtext_decode(text, strlen(text), out, size);
		strbuf_free(&b);
		free(out);
	}
	free(text);
	return 0;
}
