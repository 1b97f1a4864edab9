/*
 * imap_search_key.h - the key tree of SEARCH criteria (RFC 3501 6.4.4,
 * RFC 7162 MODSEQ, RFC 8474 EMAILID / THREADID), parsed from a command's
 * arguments by imap_search_parse.c and evaluated by imap_search.c.
 */
#ifndef ROOKERY_STORE_IMAP_SEARCH_KEY_H
#define ROOKERY_STORE_IMAP_SEARCH_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "store/imap.h"

enum key_type {
	K_ALL, K_FLAG, K_UNFLAG, K_KEYWORD, K_UNKEYWORD, K_RECENT, K_NEW,
	K_OLD, K_SEQ, K_UID, K_LARGER, K_SMALLER, K_BEFORE, K_ON, K_SINCE,
	K_SENTBEFORE, K_SENTON, K_SENTSINCE, K_HEADER, K_BODY, K_TEXT,
	K_NOT, K_OR, K_AND, K_MODSEQ, K_EMAILID, K_THREADID,
};

struct search_key {
	enum key_type type;
	uint32_t flag;
	uint64_t num;
	const char *name;	/* header name / keyword */
	const char *value;
	char *folded;		/* value in UTF-8, case-folded */
	size_t folded_len;
	struct imap_seqset set;
	struct search_key *sub;	/* NOT, OR (2), AND (n) */
	size_t nsub;
};

/*
 * NOT, OR and parenthesised lists nest keys; parsing, evaluation and
 * freeing recurse once per level, so the parser refuses more levels
 * than this (imap_search_parse.c says why).
 */
#define SEARCH_MAX_DEPTH 1000

/*
 * Parses the criteria a[0..n) (no CHARSET or RETURN prefix) into *root,
 * which must start zeroed.  Strings in the tree point into a[].  Returns
 * 0, or -1 with *err_r the text of a BAD reply; either way the caller
 * frees *root with search_key_free().
 */
int search_parse(const struct imap_arg *a, size_t n, struct search_key *root,
		 const char **err_r);
void search_key_free(struct search_key *k);

#endif
