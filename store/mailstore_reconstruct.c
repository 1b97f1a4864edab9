/*
 * mailstore_reconstruct.c - rebuilds index records from the message files
 * (`rookery reconstruct`, DESIGN.md Storage).
 *
 * The files hold the bytes (GUID, size, MIME structure recomputed), the
 * file name holds the UID and the mtime the INTERNALDATE.  Flags and
 * keywords live only in the index: a rebuilt record has none, and the
 * report says so.  A mailbox whose metadata is gone entirely is recreated
 * from the .meta file its directory carries (owner, name, UIDVALIDITY), so
 * clients keep their caches when UIDVALIDITY survives.
 */
#include "mailstore_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "mime.h"

#define RC_CHUNK 200

void mstore_report_clear(struct mstore_report *r)
{
	for (size_t i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	free(r->lines);
	memset(r, 0, sizeof(*r));
}

static void rep_line(struct mstore_report *r, const char *fmt, ...)
    LOG_PRINTF(2, 3);
static void rep_line(struct mstore_report *r, const char *fmt, ...)
{
	struct strbuf s;
	va_list ap;

	strbuf_init(&s);
	va_start(ap, fmt);
	strbuf_vprintf(&s, fmt, ap);
	va_end(ap);
	r->lines = xrealloc(r->lines, (r->nlines + 1) * sizeof(*r->lines));
	r->lines[r->nlines++] = strbuf_steal(&s, NULL);
	strbuf_free(&s);
	log_info("event=mstore_reconstruct msg=\"%s\"",
		 r->lines[r->nlines - 1]);
}

/* ---- .meta files ----------------------------------------------------- */

struct rc_meta {
	char owner[MSTORE_USER_MAX + 1];
	char *name;
	uint32_t uidvalidity;
	uint32_t uidreserve;
};

static int meta_read(struct mstore *ms, uint32_t id, struct rc_meta *m)
{
	char *dir = ms_mbox_dir(ms, id);
	char *path = xasprintf("%s/%s", dir, MS_META_FILE);
	char line[MSTORE_MAILBOX_MAX + 64];
	FILE *f = fopen(path, "r");
	int ok = 0;

	memset(m, 0, sizeof(*m));
	free(dir);
	free(path);
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "owner=", 6) == 0)
			ok |= ms_user_norm(line + 6, m->owner) == 0 ? 1 : 0;
		else if (strncmp(line, "uidvalidity=", 12) == 0)
			m->uidvalidity = (uint32_t)strtoul(line + 12, NULL, 10);
		else if (strncmp(line, "uidreserve=", 11) == 0)
			m->uidreserve = (uint32_t)strtoul(line + 11, NULL, 10);
		else if (strncmp(line, "name=", 5) == 0 && m->name == NULL)
			m->name = xstrdup(line + 5);
	}
	fclose(f);
	if (!(ok & 1) || m->name == NULL ||
	    mstore_mailbox_name_valid(m->name) < 0) {
		free(m->name);
		m->name = NULL;
		return -1;
	}
	return 0;
}

/* ---- recreating lost mailboxes ------------------------------------------ */

struct rc_create {
	struct mstore *ms;
	const char *owner;
	const char *name;
	uint32_t id, uidvalidity, uidnext;
	enum mstore_err err;
};

static int rc_create_fn(DB_TXN *txn, void *arg)
{
	struct rc_create *c = arg;
	uint32_t id = c->id;
	int ret;

	ret = ms_user_read(c->ms, txn, c->owner);
	if (ret == DB_NOTFOUND)
		ret = ms_user_put(c->ms, txn, c->owner);
	if (ret != 0)
		return ret;
	ret = ms_mbox_create_txn(c->ms, txn, c->owner, c->name, 0,
				 c->uidvalidity, &id, &c->err);
	if (ret == 0 && c->uidnext > 1) {
		struct mstore_mailbox mb;

		ret = ms_mbox_read(c->ms, txn, id, 1, &mb);
		if (ret != 0)
			return ret;
		mb.uidnext = c->uidnext;
		ret = ms_mbox_write(c->ms, txn, &mb);
		mstore_mailbox_clear(&mb);
	}
	return ret;
}

/* Creates the record of directory id from its .meta; 0 or -1. */
static int rc_recreate(struct mstore *ms, uint32_t id, const struct rc_meta *m,
		       struct mstore_report *rep)
{
	struct rc_create c = {
	    ms, m->owner, NULL, id, m->uidvalidity, m->uidreserve, MSTORE_OK};
	struct strbuf name;
	enum mstore_err err;

	strbuf_init(&name);
	ms_mbox_norm(m->name, &name);
	c.name = name.data;
	if (m->uidreserve == 0) {
		/* no safe UIDNEXT known: a new UIDVALIDITY makes clients
		 * forget what they cached instead of mixing up UIDs */
		c.uidvalidity = 0;
		rep_line(rep,
			 "mailbox %s of %s (id %08x): no UID reserve in "
			 "%s, UIDVALIDITY changed (clients resynchronise)",
			 name.data, m->owner, id, MS_META_FILE);
	}
	err = ms_txn(ms, "reconstruct_create", rc_create_fn, &c, &c.err);
	if (err == MSTORE_E_EXISTS) {
		/* the name was reused since: keep both */
		char *alt = xasprintf("%s-%08x", name.data, id);

		c.name = alt;
		err =
		    ms_txn(ms, "reconstruct_create", rc_create_fn, &c, &c.err);
		if (err == MSTORE_OK)
			rep_line(rep,
				 "mailbox %s of %s (id %08x): name in use, "
				 "recreated as %s",
				 name.data, m->owner, id, alt);
		free(alt);
	} else if (err == MSTORE_OK) {
		rep_line(rep,
			 "mailbox %s of %s (id %08x): metadata was "
			 "missing, recreated from %s (UIDVALIDITY %u kept; "
			 "UIDNEXT at least %u so no UID is reused)",
			 name.data, m->owner, id, MS_META_FILE, m->uidvalidity,
			 m->uidreserve);
	}
	strbuf_free(&name);
	if (err != MSTORE_OK) {
		rep_line(rep, "mailbox directory %08x: cannot recreate: %s", id,
			 mstore_strerror(err));
		return -1;
	}
	return 0;
}

/* ---- one mailbox ------------------------------------------------------- */

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t parse_uid(const char *s)
{
	uint64_t v = 0;

	if (*s == '\0' || *s == '0')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= UINT32_MAX)
			return 0;
	}
	return (uint32_t)v;
}

static uint32_t *dir_uids(const char *dir, size_t *n_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t *uids = NULL;
	size_t n = 0;

	*n_r = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		uint32_t uid = parse_uid(de->d_name);

		if (uid == 0)
			continue;
		uids = xrealloc(uids, (n + 1) * sizeof(*uids));
		uids[n++] = uid;
	}
	closedir(d);
	if (n > 1)
		qsort(uids, n, sizeof(*uids), u32_cmp);
	*n_r = n;
	return uids;
}

struct rc_item {
	struct mstore_msg m;
	struct strbuf mime;
	int replace; /* a record existed (wrong size) */
};

/* Reads a file into a rebuilt record. 0 or -1 (unreadable). */
static int rc_read_file(struct mstore *ms, uint32_t id, uint32_t uid,
			struct rc_item *it)
{
	char *path = mstore_msg_path(ms, id, uid);
	struct mime_message *mime = NULL;
	struct stat st;
	void *map = NULL;
	int fd;

	memset(&it->m, 0, sizeof(it->m));
	strbuf_init(&it->mime);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
			   0);
		if (map == MAP_FAILED) {
			close(fd);
			return -1;
		}
	}
	it->m.uid = uid;
	it->m.size = (uint64_t)st.st_size;
	it->m.internaldate = (int64_t)st.st_mtime;
	ms_sha256_hex(map ? map : "", (size_t)st.st_size, it->m.guid);
	if (mime_parse(map ? map : "", (size_t)st.st_size, &mime) == 0) {
		mime_serialize(mime, &it->mime);
		mime_message_free(&mime);
	}
	if (map != NULL)
		munmap(map, (size_t)st.st_size);
	close(fd);
	return 0;
}

struct rc_txn {
	struct mstore *ms;
	struct mstore_mailbox *mb;
	struct rc_item *items;
	size_t nitems;
	const uint32_t *gone; /* records without a file */
	size_t ngone;
	enum mstore_err err;
};

static int rc_apply_fn(DB_TXN *txn, void *arg)
{
	struct rc_txn *c = arg;
	struct mstore *ms = c->ms;
	struct mstore_mailbox mb;
	uint64_t modseq;
	int ret;

	ret = ms_mbox_read(ms, txn, c->mb->id, 1, &mb);
	if (ret == DB_NOTFOUND)
		return ms_fail(&c->err, MSTORE_E_NOMAILBOX);
	if (ret != 0)
		return ret;
	modseq = mb.highestmodseq + 1;
	for (size_t i = 0; i < c->nitems && ret == 0; i++) {
		struct rc_item *it = &c->items[i];
		uint8_t k[8];

		it->m.modseq = modseq;
		ms_key_msg(k, mb.id, it->m.uid);
		ret = ms_msg_write(ms, txn, mb.id, &it->m);
		if (ret == 0 && it->mime.len > 0)
			ret = ms_db_put(ms->mime, txn, k, 8, it->mime.data,
					it->mime.len);
		if (ret == 0)
			ret = ms_db_del(ms->tombs, txn, k, 8);
		if (ret == 0)
			ret = ms_change_add(ms, txn, MSTORE_CH_APPEND, mb.owner,
					    mb.id, it->m.uid, modseq);
		if (ret == 0 && it->m.uid >= mb.uidnext)
			mb.uidnext = it->m.uid + 1;
	}
	for (size_t i = 0; i < c->ngone && ret == 0; i++) {
		uint8_t k[8], t[8];

		ms_key_msg(k, mb.id, c->gone[i]);
		ms_put_be64(t, modseq);
		ret = ms_db_del(ms->msgs, txn, k, 8);
		if (ret == 0)
			ret = ms_db_del(ms->mime, txn, k, 8);
		if (ret == 0)
			ret = ms_db_put(ms->tombs, txn, k, 8, t, 8);
		if (ret == 0)
			ret =
			    ms_change_add(ms, txn, MSTORE_CH_EXPUNGE, mb.owner,
					  mb.id, c->gone[i], modseq);
	}
	if (ret == 0) {
		mb.highestmodseq = modseq;
		ret = ms_mbox_write(ms, txn, &mb);
	}
	mstore_mailbox_clear(&mb);
	return ret;
}

/* Recounts messages, unseen, deleted, bytes and UIDNEXT from the records. */
static int rc_recount_fn(DB_TXN *txn, void *arg)
{
	struct rc_txn *c = arg;
	struct mstore_mailbox mb;
	int ret;

	ret = ms_mbox_read(c->ms, txn, c->mb->id, 1, &mb);
	if (ret != 0)
		return ret;
	mb.messages = mb.unseen = mb.deleted = 0;
	mb.bytes = 0;
	for (size_t i = 0; i < c->nitems; i++) {
		ms_mbox_count_add(&mb, &c->items[i].m, 1);
		if (c->items[i].m.uid >= mb.uidnext)
			mb.uidnext = c->items[i].m.uid + 1;
	}
	ret = ms_mbox_write(c->ms, txn, &mb);
	mstore_mailbox_clear(&mb);
	return ret;
}

static enum mstore_err rc_apply(struct mstore *ms, struct mstore_mailbox *mb,
				struct rc_item *items, size_t n,
				const uint32_t *gone, size_t ngone)
{
	struct rc_txn c = {ms, mb, items, n, gone, ngone, MSTORE_OK};

	return ms_txn(ms, "reconstruct", rc_apply_fn, &c, &c.err);
}

static enum mstore_err rc_mailbox(struct mstore *ms, uint32_t id,
				  struct mstore_report *rep)
{
	struct mstore_mailbox mb;
	struct mstore_msg *recs = NULL;
	struct rc_item *items = NULL, *all;
	uint32_t *files, *gone = NULL;
	size_t nfiles, nrecs = 0, nitems = 0, ngone = 0, i, j;
	uint64_t added = 0, bad = 0, kept = 0;
	enum mstore_err err;
	char *dir;

	err = mstore_mailbox_get_by_id(ms, id, &mb);
	if (err != MSTORE_OK)
		return err;
	rep->mailboxes++;
	dir = ms_mbox_dir(ms, id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("event=mstore_mkdir path=%s", dir);
	files = dir_uids(dir, &nfiles);
	free(dir);
	ms_meta_file_write(ms, &mb);
	err = mstore_msg_list(ms, id, &recs, &nrecs);
	if (err != MSTORE_OK)
		goto out;
	items = xcalloc(RC_CHUNK, sizeof(*items));
	gone = xmalloc((nrecs ? nrecs : 1) * sizeof(*gone));
	for (i = 0, j = 0; i < nfiles || j < nrecs;) {
		if (j >= nrecs || (i < nfiles && files[i] < recs[j].uid)) {
			/* a file without a record */
			if (rc_read_file(ms, id, files[i], &items[nitems]) <
			    0) {
				rep_line(rep,
					 "mailbox %s of %s: file %u "
					 "unreadable, not recovered",
					 mb.name, mb.owner, files[i]);
				rep->unrecoverable++;
			} else {
				nitems++;
				added++;
			}
			i++;
		} else if (i >= nfiles || recs[j].uid < files[i]) {
			gone[ngone++] = recs[j].uid;
			j++;
		} else {
			struct stat st;
			char *p = mstore_msg_path(ms, id, files[i]);

			if (stat(p, &st) == 0 &&
			    (uint64_t)st.st_size != recs[j].size) {
				if (rc_read_file(ms, id, files[i],
						 &items[nitems]) == 0) {
					/* keep what the index knew */
					items[nitems].m.flags = recs[j].flags;
					items[nitems].m.keywords =
					    recs[j].keywords;
					nitems++;
					bad++;
				}
			} else {
				kept++;
			}
			free(p);
			i++;
			j++;
		}
		if (nitems == RC_CHUNK) {
			err = rc_apply(ms, &mb, items, nitems, NULL, 0);
			for (size_t k = 0; k < nitems; k++)
				strbuf_free(&items[k].mime);
			nitems = 0;
			if (err != MSTORE_OK)
				goto out;
		}
	}
	err = rc_apply(ms, &mb, items, nitems, gone, ngone);
	for (size_t k = 0; k < nitems; k++)
		strbuf_free(&items[k].mime);
	nitems = 0;
	if (err != MSTORE_OK)
		goto out;

	/* recount from what the index now holds */
	free(recs);
	recs = NULL;
	err = mstore_msg_list(ms, id, &recs, &nrecs);
	if (err == MSTORE_OK) {
		struct rc_txn c = {ms, &mb, NULL, 0, NULL, 0, MSTORE_OK};

		all = xcalloc(nrecs ? nrecs : 1, sizeof(*all));
		for (size_t k = 0; k < nrecs; k++)
			all[k].m = recs[k];
		c.items = all;
		c.nitems = nrecs;
		err = ms_txn(ms, "reconstruct_recount", rc_recount_fn, &c,
			     &c.err);
		free(all);
	}
	rep->recovered += added;
	rep->kept += kept;
	rep->removed += ngone;
	if (added > 0)
		rep->flags_lost = 1;
	if (added > 0 || ngone > 0 || bad > 0)
		rep_line(rep,
			 "mailbox %s of %s: %llu records rebuilt from "
			 "files (flags and keywords lost: set to none), %llu "
			 "records with a damaged size rebuilt, %llu records "
			 "whose file is gone removed (messages lost), %llu "
			 "unchanged",
			 mb.name, mb.owner, (unsigned long long)added,
			 (unsigned long long)bad, (unsigned long long)ngone,
			 (unsigned long long)kept);
	else
		rep_line(rep, "mailbox %s of %s: %llu records, all present",
			 mb.name, mb.owner, (unsigned long long)kept);
out:
	free(items);
	free(gone);
	free(files);
	free(recs);
	mstore_mailbox_clear(&mb);
	return err;
}

/* ---- quota and the whole run ------------------------------------------- */

struct rc_quota {
	struct mstore *ms;
	const char *user;
	uint64_t bytes, msgs;
	enum mstore_err err;
};

static int rc_quota_fn(DB_TXN *txn, void *arg)
{
	struct rc_quota *c = arg;
	struct mstore_quota q;
	int ret;

	ret = ms_quota_read(c->ms, txn, c->user, &q);
	if (ret != 0 && ret != DB_NOTFOUND)
		return ret;
	q.bytes_used = c->bytes;
	q.messages_used = c->msgs;
	return ms_quota_write(c->ms, txn, c->user, &q);
}

static void rc_fix_user(struct mstore *ms, const char *user,
			struct mstore_report *rep)
{
	struct rc_quota c = {ms, user, 0, 0, MSTORE_OK};
	struct mstore_mailbox *mbs;
	struct mstore_quota q;
	size_t n;
	int inbox = 0;

	if (mstore_mailbox_list(ms, user, &mbs, &n) != MSTORE_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		c.bytes += mbs[i].bytes;
		c.msgs += mbs[i].messages;
		inbox |= ms_is_inbox(mbs[i].name);
	}
	mstore_mailbox_list_free(&mbs, n);
	if (!inbox &&
	    mstore_mailbox_create(ms, user, "INBOX", 0, NULL) == MSTORE_OK)
		rep_line(rep, "user %s: INBOX was missing, created empty",
			 user);
	if (mstore_quota_get(ms, user, &q) == MSTORE_OK &&
	    (q.bytes_used != c.bytes || q.messages_used != c.msgs))
		rep_line(rep,
			 "user %s: quota usage corrected from %llu bytes "
			 "/ %llu messages to %llu / %llu",
			 user, (unsigned long long)q.bytes_used,
			 (unsigned long long)q.messages_used,
			 (unsigned long long)c.bytes,
			 (unsigned long long)c.msgs);
	ms_txn(ms, "reconstruct_quota", rc_quota_fn, &c, &c.err);
}

static int str_in(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* Does mailbox record / meta (owner, name) match the request? */
static int rc_match(const char *user, const char *normname, const char *owner,
		    const char *name)
{
	if (user != NULL && strcmp(user, owner) != 0)
		return 0;
	return normname == NULL || strcmp(normname, name) == 0;
}

enum mstore_err mstore_reconstruct(struct mstore *ms, const char *user,
				   const char *mailbox,
				   struct mstore_report *rep)
{
	char u[MSTORE_USER_MAX + 1], *up = NULL;
	struct strbuf norm;
	char **owners = NULL;
	size_t nowners = 0;
	uint32_t *ids = NULL;
	size_t nids = 0;
	enum mstore_err err = MSTORE_OK;
	struct dirent *de;
	DIR *d;

	memset(rep, 0, sizeof(*rep));
	strbuf_init(&norm);
	if (user != NULL) {
		if (ms_user_norm(user, u) < 0)
			return MSTORE_E_NOUSER;
		up = u;
	}
	if (mailbox != NULL && ms_mbox_norm(mailbox, &norm) < 0) {
		strbuf_free(&norm);
		return MSTORE_E_BADNAME;
	}
	/* every mailbox directory, with or without a record */
	d = opendir(ms->mail_dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct mstore_mailbox mb;
		struct rc_meta m;
		unsigned long id;
		char *end;
		int match;

		if (strlen(de->d_name) != 8)
			continue;
		id = strtoul(de->d_name, &end, 16);
		if (*end != '\0' || id == 0 || id > UINT32_MAX)
			continue;
		if (mstore_mailbox_get_by_id(ms, (uint32_t)id, &mb) ==
		    MSTORE_OK) {
			match = rc_match(up, mailbox ? norm.data : NULL,
					 mb.owner, mb.name);
			mstore_mailbox_clear(&mb);
		} else if (meta_read(ms, (uint32_t)id, &m) < 0) {
			if (up == NULL) {
				rep_line(rep,
					 "mailbox directory %08lx: no "
					 "readable %s, cannot tell its owner "
					 "and name: skipped",
					 id, MS_META_FILE);
				rep->unrecoverable++;
			}
			continue;
		} else {
			struct strbuf n2;

			strbuf_init(&n2);
			ms_mbox_norm(m.name, &n2);
			match = rc_match(up, mailbox ? norm.data : NULL,
					 m.owner, n2.data);
			strbuf_free(&n2);
			if (match && rc_recreate(ms, (uint32_t)id, &m, rep) < 0)
				match = 0;
			free(m.name);
		}
		if (match) {
			ids = xrealloc(ids, (nids + 1) * sizeof(*ids));
			ids[nids++] = (uint32_t)id;
		}
	}
	if (d != NULL)
		closedir(d);

	/* mailboxes whose directory is gone entirely */
	if (up != NULL) {
		struct mstore_mailbox *mbs;
		size_t n;

		if (mstore_mailbox_list(ms, up, &mbs, &n) == MSTORE_OK) {
			for (size_t i = 0; i < n; i++) {
				int seen = 0;

				for (size_t k = 0; k < nids; k++)
					seen |= ids[k] == mbs[i].id;
				if (seen ||
				    !rc_match(up, mailbox ? norm.data : NULL,
					      mbs[i].owner, mbs[i].name))
					continue;
				ids = xrealloc(ids, (nids + 1) * sizeof(*ids));
				ids[nids++] = mbs[i].id;
			}
			mstore_mailbox_list_free(&mbs, n);
		}
	}
	if (nids == 0 && mailbox != NULL)
		err = MSTORE_E_NOMAILBOX;
	else if (nids == 0 && up != NULL &&
		 mstore_user_exists(ms, up) != MSTORE_OK)
		err = MSTORE_E_NOUSER;

	if (nids > 1)
		qsort(ids, nids, sizeof(*ids), u32_cmp);
	for (size_t i = 0; i < nids && err == MSTORE_OK; i++) {
		struct mstore_mailbox mb;

		if (mstore_mailbox_get_by_id(ms, ids[i], &mb) != MSTORE_OK)
			continue;
		if (!str_in(owners, nowners, mb.owner)) {
			owners =
			    xrealloc(owners, (nowners + 1) * sizeof(*owners));
			owners[nowners++] = xstrdup(mb.owner);
		}
		mstore_mailbox_clear(&mb);
		err = rc_mailbox(ms, ids[i], rep);
	}
	for (size_t i = 0; i < nowners && err == MSTORE_OK; i++)
		rc_fix_user(ms, owners[i], rep);
	if (err == MSTORE_OK && rep->flags_lost)
		rep_line(rep, "note: flags and keywords of rebuilt messages "
			      "could not be recovered (they live only in the "
			      "index); they are now unset");
	mstore_strv_free(&owners, nowners);
	free(ids);
	strbuf_free(&norm);
	return err;
}
