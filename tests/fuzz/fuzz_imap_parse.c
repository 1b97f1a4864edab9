/*
 * fuzz_imap_parse.c - libFuzzer target for store/imap_parse.c (and the
 * sequence-set and modified UTF-7 parsers it feeds).
 *
 * The first byte chooses the limits and the chunk size; the rest is fed
 * through imap_parser_feed() in those chunks.  Every complete command
 * must respect the contract (a tag, an upper-case name, strings
 * NUL-terminated at their length, nesting within max_depth); every atom
 * is also tried as a sequence set, every string as a mailbox name in
 * modified UTF-7 (decoding then encoding must give the input back).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "store/imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_args(const struct imap_arg *a, size_t n, unsigned depth,
		       unsigned max_depth)
{
	if (depth > max_depth)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *s = imap_arg_string(&a[i]);

		if (a[i].type == IMAP_ARG_LIST) {
			check_args(a[i].list, a[i].count, depth + 1, max_depth);
			continue;
		}
		if (s == NULL)
			continue;
		if (s[a[i].len] != '\0')
			abort();
		if (a[i].type == IMAP_ARG_ATOM) {
			struct imap_seqset set;
			const char *err;

			if (imap_seqset_parse(s, &set, &err) == 0) {
				for (size_t k = 0; k < set.n; k++)
					if (set.r[k].lo > set.r[k].hi ||
					    set.r[k].lo == 0)
						abort();
				imap_seqset_free(&set);
			}
		}
		if (strlen(s) == a[i].len) {
			struct strbuf dec, enc;

			strbuf_init(&dec);
			strbuf_init(&enc);
			if (imap_utf7_to_utf8(s, &dec) == 0) {
				if (imap_utf8_to_utf7(dec.data, &enc) < 0 ||
				    strcmp(enc.data, s) != 0)
					abort();
			}
			strbuf_free(&dec);
			strbuf_free(&enc);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_params prm = {0};
	struct imap_parser *p;
	size_t chunk, at = 1;

	if (size < 1)
		return 0;
	chunk = (data[0] & 0x0f) + 1;
	if (data[0] & 0x10)
		chunk = size;
	prm.max_line = data[0] & 0x20 ? 64 : 4096;
	prm.max_literal = data[0] & 0x40 ? 16 : 4096;
	prm.max_depth = data[0] & 0x80 ? 3 : 16;
	prm.max_args = 500;
	p = imap_parser_new(&prm);
	while (at < size) {
		size_t n = size - at < chunk ? size - at : chunk, used = 0;
		int r = imap_parser_feed(p, data + at, n, &used);

		if (used > n)
			abort();
		at += used;
		if (r == IMAP_PARSE_DONE) {
			const struct imap_command *c = imap_parser_command(p);

			if (c == NULL || c->tag == NULL || c->name == NULL ||
			    c->tag[0] == '\0' || c->name[0] == '\0')
				abort();
			check_args(c->args, c->nargs, 0, prm.max_depth);
			imap_parser_reset(p);
		} else if (r == IMAP_PARSE_ERROR) {
			if (imap_parser_error(p) == NULL)
				abort();
			imap_parser_reset(p);
		} else if (used < n) {
			abort(); /* need-more must consume everything */
		}
	}
	imap_parser_free(&p);
	return 0;
}
