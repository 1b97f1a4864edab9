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

struct imap_command;

/*
 * What SORT or THREAD does with the matches: MSNS, the message sequence
 * numbers, ascending, N of them (the job frees them), and ARG as given
 * to imap_search_run().  It writes the untagged and the tagged reply.
 */
typedef void imap_search_done_fn(struct imap_session *s,
				 const struct imap_command *cmd,
				 const uint32_t *msns, size_t n, void *arg);

/*
 * Parses the search criteria cmd->args[first..] (no RETURN or CHARSET
 * prefix) and evaluates them against the selected mailbox's view, in
 * slices as SEARCH does (imap_job.c), then calls DONE, unless the
 * session ends first.  Returns 0 once started (ARG, if not NULL, is
 * free()d with the job), or -1 for a syntax error or keys nested too
 * deeply: nothing started, ARG still the caller's, and the caller
 * answers BAD with *err_r.  Messages expunged elsewhere but not yet
 * announced never match.
 */
int imap_search_run(struct imap_session *s, const struct imap_command *cmd,
		    size_t first, imap_search_done_fn *done, void *arg,
		    const char **err_r);

#endif
