/*
 * index.h - attribute indexes for the attributes clients search (those
 * with AT_INDEXED in the schema: cn, sn, givenName, displayName, mail,
 * mozillaSecondEmail, o, ou).
 *
 * index.db is a B-tree with sorted duplicates: key "<attr>\0=<value>" for
 * equality, "<attr>\0^<3 bytes>" for the value's first three bytes and
 * "<attr>\0~<3 bytes>" for every trigram of the prepared value, data =
 * the entry's storage key.  The key "\0version" holds INDEX_VERSION; an
 * index of another version is rebuilt at open.  A substring assertion's pieces
 * of three bytes or more select candidates by their trigrams (so
 * Thunderbird's "contains" search on a large book reads a few index
 * entries instead of every contact); the filter is still evaluated on
 * every candidate, so the index only has to over-approximate.
 * Updates live in index.c, candidate selection in index_cand.c.
 */
#ifndef LDAPAB_INDEX_H
#define LDAPAB_INDEX_H

#include <stddef.h>
#include <db.h>

struct entry;
struct filter;

#define INDEX_VERSION "2"
#define INDEX_MAX_EQ 255     /* longer values are not equality-indexed */
#define INDEX_MAX_VALUE 1024 /* indexed attributes' values are capped */

/* Replaces old's index entries by new's (either may be NULL) in txn. */
int ab_index_update(DB *idx, DB_TXN *txn, const char *key,
		    const struct entry *old, const struct entry *new_e);

/* A sorted set of storage keys (NUL-terminated, in arena chunks that
 * the set owns). */
struct ks_chunk;
struct keyset {
	char **keys;
	size_t n, cap;
	struct ks_chunk *arena;
	const char *bound; /* see ab_index_candidates (in the arena) */
};

void ab_keyset_free(struct keyset *ks);

/*
 * The candidates for filter f after key from (NULL: from the start):
 * 1 and *ks (sorted, unique) when the index narrows the search, 0 when it
 * cannot (every entry is a candidate), -1 on a storage error.
 *
 * With limit > 0 the index is read only partly, about limit keys per
 * index key: ks->bound is then the last key up to which *ks holds every
 * candidate (the next call starts from there), NULL when *ks is
 * complete.  A search that stops at a size limit so never reads the whole
 * of a popular index key.
 */
int ab_index_candidates(DB *idx, const struct filter *f, const char *from,
			size_t limit, struct keyset *ks);

#endif
