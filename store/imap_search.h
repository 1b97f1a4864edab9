/*
 * imap_search.h - the SEARCH program (imap_search.c) as other commands
 * use it: SORT and THREAD (RFC 5256) take the same search criteria.
 */
#ifndef ROOKERY_STORE_IMAP_SEARCH_H
#define ROOKERY_STORE_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

struct imap_session;
struct imap_arg;

/*
 * Parses the search criteria args[0..nargs) (no RETURN or CHARSET
 * prefix) and evaluates them against the selected mailbox's view.
 * Returns 0 with the matching message sequence numbers, ascending, in
 * *msns_r (free() it) and their count in *n_r; or -1 for a syntax error
 * or keys nested too deeply (nothing allocated; the caller answers BAD
 * with *err_r).  Messages expunged
 * elsewhere but not yet announced never match.
 */
int imap_search_msns(struct imap_session *s, const struct imap_arg *args,
		     size_t nargs, uint32_t **msns_r, size_t *n_r,
		     const char **err_r);

#endif
