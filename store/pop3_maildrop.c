/*
 * pop3_maildrop.c - the POP3 view of a user's INBOX over the storage
 * engine (mailstore.h).
 *
 * RFC 1939 section 4: the maildrop is fixed when the session enters
 * TRANSACTION; messages delivered later appear in the next session, and
 * message numbers never change within a session.  The snapshot is the
 * INBOX's index records at login.
 *
 * Unique ids (RFC 1939 section 7, UIDL): UIDVALIDITY and UID as 16 hex
 * digits.  Both are persistent and never reused for another message in
 * the same mailbox, so a UIDL survives sessions and restarts, and two
 * messages with the same bytes (same GUID) still get distinct ids.
 *
 * \Seen: like Dovecot, messages sent whole with RETR (not TOP) get \Seen,
 * so an IMAP client on the same account sees them as read.  The flags are
 * set in the UPDATE state only, just before the expunge; a session that
 * ends without QUIT changes nothing at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "strbuf.h"
#include "store/mailstore.h"
#include "store/pop3.h"
#include "store/store.h"

struct pop3_md_msg {
	uint32_t uid;
	uint64_t size;
	unsigned deleted : 1;
	unsigned retrieved : 1;
	char uidl[17];
};

struct pop3_maildrop {
	struct mstore *ms;
	uint32_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_md_msg *msgs;
	unsigned count;
	unsigned live; /* not deleted */
	uint64_t live_size;
	/* UPDATE's progress (pop3_md_commit_slice) */
	int upd_expunging; /* \Seen is done, expunges go on */
	unsigned upd_next; /* the next message to look at (0-based) */
};

enum pop3_md_result pop3_md_open(struct store *st, const char *user,
				 struct pop3_maildrop **md_r)
{
	struct mstore_mailbox mb = {0};
	struct mstore_msg *msgs = NULL;
	struct pop3_maildrop *md;
	enum mstore_err err;
	size_t n = 0, i;

	*md_r = NULL;
	if (st == NULL || st->ms == NULL)
		return POP3_MD_TEMPFAIL;
	err = mstore_mailbox_get(st->ms, user, "INBOX", &mb);
	if (err == MSTORE_E_NOUSER || err == MSTORE_E_NOMAILBOX)
		return POP3_MD_NO_USER;
	if (err != MSTORE_OK)
		return POP3_MD_TEMPFAIL;
	err = mstore_msg_list(st->ms, mb.id, &msgs, &n);
	if (err != MSTORE_OK) {
		mstore_mailbox_clear(&mb);
		return err == MSTORE_E_NOMAILBOX ? POP3_MD_NO_USER
						 : POP3_MD_TEMPFAIL;
	}
	md = xcalloc(1, sizeof(*md));
	md->ms = st->ms;
	md->mailbox_id = mb.id;
	md->uidvalidity = mb.uidvalidity;
	md->count = (unsigned)n;
	md->msgs = n > 0 ? xcalloc(n, sizeof(*md->msgs)) : NULL;
	for (i = 0; i < n; i++) {
		struct pop3_md_msg *m = &md->msgs[i];

		m->uid = msgs[i].uid;
		m->size = msgs[i].size;
		snprintf(m->uidl, sizeof(m->uidl), "%08x%08x",
			 (unsigned)mb.uidvalidity, (unsigned)m->uid);
		md->live_size += m->size;
	}
	md->live = md->count;
	free(msgs);
	mstore_mailbox_clear(&mb);
	*md_r = md;
	return POP3_MD_OK;
}

void pop3_md_free(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;

	if (md == NULL)
		return;
	free(md->msgs);
	free(md);
	*mdp = NULL;
}

unsigned pop3_md_count(const struct pop3_maildrop *md)
{
	return md->count;
}

void pop3_md_stat(const struct pop3_maildrop *md, unsigned *count_r,
		  uint64_t *size_r)
{
	*count_r = md->live;
	*size_r = md->live_size;
}

int pop3_md_deleted(const struct pop3_maildrop *md, unsigned n)
{
	return md->msgs[n - 1].deleted;
}

uint64_t pop3_md_size(const struct pop3_maildrop *md, unsigned n)
{
	return md->msgs[n - 1].size;
}

const char *pop3_md_uidl(const struct pop3_maildrop *md, unsigned n)
{
	return md->msgs[n - 1].uidl;
}

void pop3_md_delete(struct pop3_maildrop *md, unsigned n)
{
	struct pop3_md_msg *m = &md->msgs[n - 1];

	if (m->deleted)
		return;
	m->deleted = 1;
	md->live--;
	md->live_size -= m->size;
}

unsigned pop3_md_reset(struct pop3_maildrop *md)
{
	unsigned i, undeleted = 0;

	/* RFC 1939 section 5, RSET: every mark of this session goes. */
	for (i = 0; i < md->count; i++) {
		if (md->msgs[i].deleted)
			undeleted++;
		md->msgs[i].deleted = 0;
		md->msgs[i].retrieved = 0;
	}
	md->live = md->count;
	md->live_size = 0;
	for (i = 0; i < md->count; i++)
		md->live_size += md->msgs[i].size;
	return undeleted;
}

int pop3_md_open_msg(struct pop3_maildrop *md, unsigned n,
		     uint64_t *file_size_r)
{
	struct pop3_md_msg *m = &md->msgs[n - 1];
	enum mstore_err err;
	struct stat sb;
	int fd = -1;

	err = mstore_msg_open(md->ms, md->mailbox_id, m->uid, &fd);
	if (err != MSTORE_OK) {
		log_warnx("event=pop3_msg_open_failed mailbox=%u uid=%u "
			  "error=\"%s\"",
			  (unsigned)md->mailbox_id, (unsigned)m->uid,
			  mstore_strerror(err));
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		log_warn("event=pop3_msg_stat_failed mailbox=%u uid=%u",
			 (unsigned)md->mailbox_id, (unsigned)m->uid);
		close(fd);
		return -1;
	}
	*file_size_r = (uint64_t)sb.st_size;
	return fd;
}

void pop3_md_retrieved(struct pop3_maildrop *md, unsigned n)
{
	md->msgs[n - 1].retrieved = 1;
}

unsigned pop3_md_deleted_count(const struct pop3_maildrop *md)
{
	return md->count - md->live;
}

/* The uids of up to MAX messages from md->upd_next on that are deleted
 * (DELETED) or retrieved and staying; moves upd_next past them. */
static size_t next_uids(struct pop3_maildrop *md, int deleted,
			uint32_t *uids, unsigned max)
{
	size_t n = 0;

	while (md->upd_next < md->count && n < max) {
		const struct pop3_md_msg *m = &md->msgs[md->upd_next++];

		if (deleted ? m->deleted : m->retrieved && !m->deleted)
			uids[n++] = m->uid;
	}
	return n;
}

/*
 * RFC 1939 section 6: first the retrieved messages that stay get \Seen
 * (a failure there loses only the flag, never mail, so it is logged and
 * the update goes on), then the deleted ones are expunged, each slice in
 * its own transaction.  If one fails, QUIT says "-ERR [SYS/TEMP] Some
 * deleted messages not removed", as the RFC lets it; those of the
 * earlier slices are gone.
 */
int pop3_md_commit_slice(struct pop3_maildrop *md, unsigned max)
{
	struct mstore_flag_change chg = {.op = MSTORE_FLAGS_ADD,
					 .flags = MSTORE_F_SEEN};
	uint32_t *uids = xcalloc(max + 1, sizeof(*uids));
	size_t n, nexp = 0;
	enum mstore_err err;
	int ret = 0;

	if (!md->upd_expunging) {
		n = next_uids(md, 0, uids, max);
		if (n > 0) {
			err = mstore_flags_store(md->ms, md->mailbox_id, uids,
						 n, &chg, NULL, NULL, NULL,
						 NULL);
			if (err != MSTORE_OK)
				log_warnx("event=pop3_seen_failed mailbox=%u "
					  "error=\"%s\"",
					  (unsigned)md->mailbox_id,
					  mstore_strerror(err));
		}
		if (md->upd_next == md->count) {
			md->upd_expunging = 1;
			md->upd_next = 0;
		}
		if (n > 0 || !md->upd_expunging)
			goto out;
	}
	n = next_uids(md, 1, uids, max);
	if (n > 0) {
		err = mstore_expunge(md->ms, md->mailbox_id, uids, n, NULL,
				     &nexp);
		if (err != MSTORE_OK) {
			log_warnx("event=pop3_expunge_failed mailbox=%u "
				  "error=\"%s\"",
				  (unsigned)md->mailbox_id,
				  mstore_strerror(err));
			ret = -1;
			goto out;
		}
	}
	/* Messages another session expunged meanwhile are gone all the
	 * same (nexp may be smaller). */
	if (md->upd_next == md->count)
		ret = 1;
out:
	free(uids);
	return ret;
}
