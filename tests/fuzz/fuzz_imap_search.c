/*
 * fuzz_imap_search.c - libFuzzer target for store/imap_search_parse.c,
 * the SEARCH criteria parser (also used by SORT and THREAD).
 *
 * Input: IMAP commands, fed whole through store/imap_parse.c with the
 * store's own limits; the arguments of each complete command
 * are parsed as search criteria.  The tree must be well formed (NOT one
 * key, OR two, a list at least one, nesting within SEARCH_MAX_DEPTH), a
 * refusal must come with its BAD text, and freeing must leave nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/imap.h"
#include "store/imap_search_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct search_key *k, unsigned depth)
{
	if (depth > SEARCH_MAX_DEPTH + 1)
		abort();
	if ((k->type == K_NOT && k->nsub != 1) ||
	    (k->type == K_OR && k->nsub != 2) ||
	    (k->type == K_AND && k->nsub == 0) ||
	    (k->type == K_HEADER && k->value == NULL))
		abort();
	for (size_t i = 0; i < k->nsub; i++)
		check(&k->sub[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_params prm = {0};
	struct imap_parser *p;
	size_t at = 0;

	prm.max_line = IMAP_MAX_LINE;	/* the rest: the store's defaults */
	p = imap_parser_new(&prm);
	while (at < size) {
		size_t used = 0;
		int r = imap_parser_feed(p, data + at, size - at, &used);

		at += used;
		if (r == IMAP_PARSE_DONE) {
			const struct imap_command *c = imap_parser_command(p);
			struct search_key root = {0};
			const char *err = NULL;

			if (search_parse(c->args, c->nargs, &root, &err) == 0)
				check(&root, 0);
			else if (err == NULL)
				abort();
			search_key_free(&root);
			imap_parser_reset(p);
		} else if (r == IMAP_PARSE_ERROR) {
			imap_parser_reset(p);
		} else {
			break;	/* needs more than there is */
		}
	}
	imap_parser_free(&p);
	return 0;
}
