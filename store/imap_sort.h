/*
 * imap_sort.h - SORT (RFC 5256, RFC 5957 SORT=DISPLAY) and THREAD
 * (RFC 5256 ORDEREDSUBJECT and REFERENCES), private to store/imap_*.c.
 *
 * Files:
 *   imap_sortkey.c  sort keys from the header fields cached at delivery
 *                   (mime.h), collation, reply detection
 *   imap_sort.c     the SORT command, with ESORT (RFC 5267) return forms
 *   imap_thread.c   the THREAD command and the threading algorithms,
 *                   which work on plain arrays (unit-tested alone)
 *
 * Neither command reads a message file: keys come from the index record
 * (size, INTERNALDATE) and the MIME record (mstore_msg_mime_each()).
 */
#ifndef ROOKERY_STORE_IMAP_SORT_H
#define ROOKERY_STORE_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

struct imap_session;
struct imap_arg;

/* ---- keys (imap_sortkey.c) ---- */

/* One message's keys.  Strings are never NULL ("" when absent). */
struct imap_sortkey {
	uint32_t msn, uid;
	uint64_t size;	      /* RFC822.SIZE */
	int64_t arrival;      /* INTERNALDATE, UTC seconds */
	int64_t date;	      /* sent date, UTC; INTERNALDATE when the
			       * Date: field is missing or unparseable
			       * (RFC 5256 2.2) */
	char *subject;	      /* base subject (RFC 5256 2.1) */
	int is_reply;	      /* subject was a reply or forward */
	char *from, *to, *cc; /* addr-mailbox of the first address */
	char *dfrom, *dto;    /* RFC 5957 display keys */
	char *message_id, *in_reply_to, *references; /* raw */
};

/*
 * Loads the keys of the view's messages msns[0..n) (ascending) in one
 * pass over the index and, when mime is 1, one batched pass over the
 * MIME records (else only size, arrival and date = arrival are set).
 * Returns an array of n keys in msns order (free with
 * imap_sortkey_free()); never fails: a message without records gets
 * empty keys.
 */
struct imap_sortkey *imap_sortkey_load(struct imap_session *s,
				       const uint32_t *msns, size_t n,
				       int mime);
void imap_sortkey_free(struct imap_sortkey **keys, size_t n);

/* i;ascii-casemap (RFC 4790 9.2): a-z compare as A-Z, then octets. */
int imap_collate(const char *a, const char *b);
/* Whether base-subject extraction of subject (UTF-8, may be NULL) removes
 * a reply or forward marker: "Re:", "Fw:", "Fwd:" leaders (with blobs),
 * a trailing "(fwd)", or a "[fwd: ...]" wrapper (RFC 5256 2.1). */
int imap_subject_is_reply(const char *subject);
/* addr-mailbox of "mailbox@domain": the part before the last "@";
 * returns an allocated copy. */
char *imap_addr_mailbox(const char *addr);

/* ---- threading (imap_thread.c) ---- */

/* One message given to the threading algorithms. */
struct imap_thread_msg {
	uint32_t num;	     /* what the reply shows: msn or UID */
	uint32_t seq;	     /* msn: breaks date ties */
	int64_t date;	     /* sent date */
	const char *subject; /* base subject */
	int is_reply;
	const char *message_id, *in_reply_to, *references; /* raw or NULL */
};

/*
 * Append the thread list (RFC 5256 section 4: "(1 2 (3)(4))(5)", without
 * "* THREAD ") of msgs[0..n) to out.  Both are linear in memory and
 * O(n log n) in time apart from the loop checks, and use no recursion,
 * so any reference chain is safe.
 */
void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n,
				struct strbuf *out);
void imap_thread_references(const struct imap_thread_msg *msgs, size_t n,
			    struct strbuf *out);

#endif
