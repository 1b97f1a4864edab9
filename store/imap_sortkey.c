/*
 * imap_sortkey.c - sort keys for SORT and THREAD (RFC 5256 2.2, 3;
 * RFC 5957 3) taken from what delivery cached: the index record gives
 * RFC822.SIZE and INTERNALDATE, the MIME record the decoded subject, its
 * base subject, the first From/To/Cc address, the Date: (already in UTC)
 * and the threading ids.  No message file is opened.
 */
#include <stdlib.h>
#include <string.h>

#include "mailstore.h"
#include "mime.h"
#include "strbuf.h"
#include "store/imap.h"
#include "store/imap_sort.h"
#include "store/store.h"

#define WSP(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

static int upcase(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

int imap_collate(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	while (*x != '\0' && upcase(*x) == upcase(*y)) {
		x++;
		y++;
	}
	return upcase(*x) - upcase(*y);
}

static int starts_ci(const char *s, const char *p)
{
	for (; *p != '\0'; s++, p++)
		if (upcase((unsigned char)*s) != upcase((unsigned char)*p))
			return 0;
	return 1;
}

/* Length of "[" *BLOBCHAR "]" *WSP at s, or 0 (RFC 5256 5: subj-blob). */
static size_t blob_at(const char *s)
{
	size_t i = 1;

	if (*s != '[')
		return 0;
	while (s[i] != '\0' && s[i] != '[' && s[i] != ']')
		i++;
	if (s[i] != ']')
		return 0;
	for (i++; WSP(s[i]); i++)
		;
	return i;
}

/* Is there a subj-refwd leader ("re", "fw", "fwd", [blob], ":") at s? */
static int refwd_at(const char *s)
{
	size_t i;

	if (starts_ci(s, "fwd"))
		i = 3;
	else if (starts_ci(s, "fw") || starts_ci(s, "re"))
		i = 2;
	else
		return 0;
	while (WSP(s[i]))
		i++;
	i += blob_at(s + i);
	return s[i] == ':';
}

int imap_subject_is_reply(const char *subject)
{
	const char *s = subject, *last;
	size_t len, k;

	if (s == NULL)
		return 0;
	/* step 2: a trailing "(fwd)" */
	len = strlen(s);
	while (len > 0 && WSP(s[len - 1]))
		len--;
	if (len >= 5 && starts_ci(s + len - 5, "(fwd)"))
		return 1;
	/* steps 3-5: a leader after the blobs.  Dropping blobs one by one
	 * (step 4) always reaches the same place, so one pass is enough:
	 * either a leader follows the blobs, or step 4 stops at the text
	 * after them, or at the last blob when nothing follows it. */
	while (WSP(*s))
		s++;
	last = s;
	while ((k = blob_at(s)) != 0) {
		last = s;
		s += k;
	}
	if (refwd_at(s))
		return 1;
	if (*s == '\0')
		s = last;
	/* step 6: "[fwd:" ... "]" */
	len = strlen(s);
	while (len > 0 && WSP(s[len - 1]))
		len--;
	return len >= 6 && starts_ci(s, "[fwd:") && s[len - 1] == ']';
}

char *imap_addr_mailbox(const char *addr)
{
	const char *at;

	if (addr == NULL)
		return xstrdup("");
	at = strrchr(addr, '@');
	return at != NULL ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
}

/* RFC 5957 3: the decoded display name, else the addr-spec. */
static char *display_key(const struct mime_addr_brief *b)
{
	const char *n = b->name;

	if (n != NULL) {
		while (WSP(*n) || *n == '"')
			n++;
		if (*n != '\0')
			return xstrdup(b->name);
	}
	return xstrdup(b->addr != NULL ? b->addr : "");
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

struct load_ctx {
	struct imap_sortkey *keys;
	size_t n;
};

static struct imap_sortkey *find_uid(struct load_ctx *l, uint32_t uid)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->keys[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && l->keys[lo].uid == uid ? &l->keys[lo] : NULL;
}

static void fill_strings(struct imap_sortkey *k, const struct mime_message *m)
{
	k->subject = dup_or_empty(m->base_subject);
	k->is_reply = imap_subject_is_reply(m->subject);
	k->from = imap_addr_mailbox(m->from.addr);
	k->to = imap_addr_mailbox(m->to.addr);
	k->cc = imap_addr_mailbox(m->cc.addr);
	k->dfrom = display_key(&m->from);
	k->dto = display_key(&m->to);
	k->message_id = dup_or_empty(m->message_id);
	k->in_reply_to = dup_or_empty(m->in_reply_to);
	k->references = dup_or_empty(m->references);
}

static int load_mime(void *arg, uint32_t uid, const struct mime_message *m)
{
	struct imap_sortkey *k = find_uid(arg, uid);

	if (k != NULL && k->subject == NULL) {
		fill_strings(k, m);
		if (m->date != 0)
			k->date = (int64_t)m->date;
	}
	return 0;
}

struct imap_sortkey *imap_sortkey_load(struct imap_session *s,
				       const uint32_t *msns, size_t n, int mime)
{
	struct imap_sortkey *keys = xcalloc(n + 1, sizeof(*keys));
	struct load_ctx l = {keys, n};
	struct imap_view_info vi;
	struct mstore_msg *recs = NULL;
	size_t nrecs = 0, j = 0;
	static const struct mime_message empty;

	imap_view_info(s->view, &vi);
	for (size_t i = 0; i < n; i++) {
		keys[i].msn = msns[i];
		keys[i].uid = imap_view_uid(s->view, msns[i]);
	}
	if (n == 0)
		return keys;
	/* the index: size and INTERNALDATE; both lists are in UID order */
	if (mstore_msg_list(s->st->ms, vi.mailbox_id, &recs, &nrecs) ==
	    MSTORE_OK) {
		for (size_t i = 0; i < n; i++) {
			while (j < nrecs && recs[j].uid < keys[i].uid)
				j++;
			if (j < nrecs && recs[j].uid == keys[i].uid) {
				keys[i].size = recs[j].size;
				keys[i].arrival = recs[j].internaldate;
			}
		}
	}
	free(recs);
	for (size_t i = 0; i < n; i++)
		keys[i].date = keys[i].arrival;
	/* RFC 5256 2.2: an unparseable Date: leaves the INTERNALDATE */
	if (mime)
		mstore_msg_mime_each(s->st->ms, vi.mailbox_id, keys[0].uid,
				     keys[n - 1].uid, load_mime, &l);
	for (size_t i = 0; i < n; i++)
		if (keys[i].subject == NULL)
			fill_strings(&keys[i], &empty);
	return keys;
}

void imap_sortkey_free(struct imap_sortkey **keys, size_t n)
{
	struct imap_sortkey *k = *keys;

	if (k == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(k[i].subject);
		free(k[i].from);
		free(k[i].to);
		free(k[i].cc);
		free(k[i].dfrom);
		free(k[i].dto);
		free(k[i].message_id);
		free(k[i].in_reply_to);
		free(k[i].references);
	}
	free(k);
	*keys = NULL;
}
