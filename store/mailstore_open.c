/*
 * mailstore_open.c - the engine's environment and tables, the transaction
 * wrapper with its post-commit work, small file helpers, and the start-up
 * cleanup of tmp/ and the mailbox directories.
 */
#include "mailstore_int.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "net.h"

static const struct {
	const char *text; /* mstore_strerror() */
	const char *code; /* mstore_errcode() */
} mstore_errs[] = {
    [MSTORE_OK] = {"success", "ok"},
    [MSTORE_E_NOUSER] = {"no such user", "nouser"},
    [MSTORE_E_NOMAILBOX] = {"no such mailbox", "nomailbox"},
    [MSTORE_E_EXISTS] = {"already exists", "exists"},
    [MSTORE_E_BADNAME] = {"invalid name", "badname"},
    [MSTORE_E_OVERQUOTA] = {"quota exceeded", "overquota"},
    [MSTORE_E_HASCHILDREN] = {"mailbox has children", "haschildren"},
    [MSTORE_E_NOTFOUND] = {"no such message", "notfound"},
    [MSTORE_E_LIMIT] = {"limit exceeded", "limit"},
    [MSTORE_E_CANNOT] = {"operation not allowed", "cannot"},
    [MSTORE_E_INVAL] = {"invalid arguments", "inval"},
    [MSTORE_E_TEMP] = {"temporary storage failure", "temp"},
};

const char *mstore_strerror(enum mstore_err err)
{
	if ((unsigned)err >= sizeof(mstore_errs) / sizeof(*mstore_errs))
		return "unknown error";
	return mstore_errs[err].text;
}

const char *mstore_errcode(enum mstore_err err)
{
	if ((unsigned)err >= sizeof(mstore_errs) / sizeof(*mstore_errs))
		return "unknown";
	return mstore_errs[err].code;
}

/* ---- DB helpers -----------------------------------------------------------
 */

int ms_db_get(DB *db, DB_TXN *txn, const void *key, size_t klen, void **val_r,
	      size_t *vlen_r, uint32_t flags)
{
	DBT k = {0}, v = {0};
	int ret;

	k.data = (void *)key;
	k.size = (u_int32_t)klen;
	v.flags = DB_DBT_MALLOC;
	ret = db->get(db, txn, &k, &v, flags);
	if (ret != 0) {
		*val_r = NULL;
		if (vlen_r != NULL)
			*vlen_r = 0;
		return ret;
	}
	*val_r = v.data;
	if (vlen_r != NULL)
		*vlen_r = v.size;
	return 0;
}

int ms_db_put(DB *db, DB_TXN *txn, const void *key, size_t klen,
	      const void *val, size_t vlen)
{
	DBT k = {0}, v = {0};

	k.data = (void *)key;
	k.size = (u_int32_t)klen;
	v.data = (void *)val;
	v.size = (u_int32_t)vlen;
	return db->put(db, txn, &k, &v, 0);
}

int ms_db_prefix_each(DB *db, DB_TXN *txn, const struct strbuf *prefix,
		      int (*fn)(void *arg, const DBT *k), void *arg)
{
	DBC *cur = NULL;
	DBT k = {0}, v = {0};
	int ret, stop = 0;

	ret = db->cursor(db, txn, &cur, 0);
	if (ret != 0)
		return ret;
	k.flags = DB_DBT_REALLOC;
	k.data = xmalloc(prefix->len ? prefix->len : 1);
	memcpy(k.data, prefix->data, prefix->len);
	k.size = (u_int32_t)prefix->len;
	v.flags = DB_DBT_PARTIAL | DB_DBT_USERMEM; /* keys only */
	ret = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (ret == 0 && !stop && k.size >= prefix->len &&
	       memcmp(k.data, prefix->data, prefix->len) == 0) {
		stop = fn(arg, &k);
		if (!stop)
			ret = cur->get(cur, &k, &v, DB_NEXT);
	}
	free(k.data);
	cur->close(cur);
	return ret == DB_NOTFOUND ? 0 : ret;
}

int ms_db_del(DB *db, DB_TXN *txn, const void *key, size_t klen)
{
	DBT k = {0};
	int ret;

	k.data = (void *)key;
	k.size = (u_int32_t)klen;
	ret = db->del(db, txn, &k, 0);
	return ret == DB_NOTFOUND ? 0 : ret;
}

int ms_meta_get(struct mstore *ms, DB_TXN *txn, const char *name,
		uint64_t *val_r)
{
	void *v;
	size_t vl;
	int ret;

	ret = ms_db_get(ms->meta, txn, name, strlen(name), &v, &vl,
			txn != NULL ? DB_RMW : 0);
	if (ret == DB_NOTFOUND) {
		*val_r = 0;
		return 0;
	}
	if (ret != 0)
		return ret;
	*val_r = vl == 8 ? ms_get_be64(v) : 0;
	free(v);
	return 0;
}

int ms_meta_set(struct mstore *ms, DB_TXN *txn, const char *name, uint64_t val)
{
	uint8_t b[8];

	ms_put_be64(b, val);
	return ms_db_put(ms->meta, txn, name, strlen(name), b, 8);
}

int ms_meta_next(struct mstore *ms, DB_TXN *txn, const char *name,
		 uint64_t first, uint64_t *val_r)
{
	uint64_t v;
	int ret;

	ret = ms_meta_get(ms, txn, name, &v);
	if (ret != 0)
		return ret;
	if (v < first)
		v = first;
	*val_r = v;
	return ms_meta_set(ms, txn, name, v + 1);
}

int ms_fail(enum mstore_err *err, enum mstore_err e)
{
	*err = e;
	return -1;
}

/* ---- files ----------------------------------------------------------------
 */

char *ms_mbox_dir(const struct mstore *ms, uint32_t id)
{
	return xasprintf("%s/%08x", ms->mail_dir, id);
}

char *mstore_mailbox_dir(const struct mstore *ms, uint32_t mailbox_id)
{
	return ms_mbox_dir(ms, mailbox_id);
}

char *mstore_msg_path(const struct mstore *ms, uint32_t mailbox_id,
		      uint32_t uid)
{
	return xasprintf("%s/%08x/%u", ms->mail_dir, mailbox_id, uid);
}

const char *mstore_data_dir(const struct mstore *ms)
{
	return ms->dir;
}

int ms_fsync_path(const char *path, int dir)
{
	int fd, ret;

	fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

void ms_post_add(struct strbuf *list, const char *path)
{
	strbuf_add(list, path, strlen(path) + 1);
}

void ms_meta_file_write(struct mstore *ms, const struct mstore_mailbox *mb)
{
	char *dir = ms_mbox_dir(ms, mb->id);
	char *tmp = xasprintf("%s/%s.tmp", dir, MS_META_FILE);
	char *path = xasprintf("%s/%s", dir, MS_META_FILE);
	FILE *f;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("event=mstore_mkdir path=%s", dir);
	f = fopen(tmp, "w");
	if (f == NULL) {
		log_warn("event=mstore_meta_write path=%s", tmp);
		goto out;
	}
	/* uidreserve is above every UID ever given out, so a reconstruct
	 * after metadata loss never hands out a UID twice under the same
	 * UIDVALIDITY (see MS_UID_RESERVE). */
	fprintf(f, "owner=%s\nuidvalidity=%u\nuidreserve=%llu\nname=%s\n",
		mb->owner, mb->uidvalidity,
		((unsigned long long)mb->uidnext / MS_UID_RESERVE + 1) *
		    MS_UID_RESERVE,
		mb->name);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		log_warn("event=mstore_meta_write path=%s", tmp);
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		log_warn("event=mstore_meta_write path=%s", path);
		unlink(tmp);
	}
out:
	free(tmp);
	free(path);
	free(dir);
}

/* Removes a mailbox directory and the files in it. */
static void ms_rmdir_all(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		if (errno != ENOENT)
			log_warn("event=mstore_rmdir path=%s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			log_warn("event=mstore_unlink dir=%s file=%s", dir,
				 de->d_name);
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("event=mstore_rmdir path=%s", dir);
}

/* ---- transactions ------------------------------------------------------- */

struct ms_txn_ctx {
	struct mstore *ms;
	int (*fn)(DB_TXN *txn, void *arg);
	void *arg;
	enum mstore_err *err;
};

static int ms_txn_tramp(DB_TXN *txn, void *a)
{
	struct ms_txn_ctx *c = a;
	struct mstore *ms = c->ms;
	int ret;

	*c->err = MSTORE_OK;
	ms_pending_reset(ms);
	strbuf_reset(&ms->post_unlink);
	strbuf_reset(&ms->post_rmdir);
	strbuf_reset(&ms->post_dirs);
	ret = c->fn(txn, c->arg);
	if (ret == 0 && (ms->net == NULL || ms->sync_depth > 0)) {
		/* Synchronous mode: new links' directory entries reach the
		 * disk before the commit does. */
		for (size_t off = 0; off < ms->post_dirs.len;) {
			const char *d = ms->post_dirs.data + off;

			if (ms_fsync_path(d, 1) < 0) {
				log_warn("event=mstore_fsync_dir path=%s", d);
				*c->err = MSTORE_E_TEMP;
				return -1;
			}
			off += strlen(d) + 1;
		}
	}
	return ret;
}

/* Unlinks and removes p's files and frees p (any thread). */
void ms_post_remove(struct ms_post *p)
{
	for (size_t off = 0; off < p->ulen;) {
		const char *path = p->unlinks + off;

		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("event=mstore_unlink path=%s", path);
		off += strlen(path) + 1;
	}
	for (size_t off = 0; off < p->rlen;) {
		const char *path = p->rmdirs + off;

		ms_rmdir_all(path);
		off += strlen(path) + 1;
	}
	free(p->unlinks);
	free(p->rmdirs);
	free(p);
}

/*
 * The commit that forgot the files is durable (or failed to be).  The
 * removal itself goes to the pool: unlinking tens of thousands of files
 * (a big EXPUNGE, a DELETE of a full mailbox) takes seconds on a disk
 * that discards freed blocks, and the loop serves every other session.
 */
static void ms_post_run(void *arg, int ok)
{
	struct ms_post *p = arg;

	if (!ok) {
		/* The commit may not be durable: keep the files, the start-up
		 * cleanup removes them once the record is gone for good. */
		log_warnx("event=mstore_post_commit_skipped reason=fsync");
		free(p->unlinks);
		free(p->rmdirs);
		free(p);
		return;
	}
	ms_pool_remove(p->ms, p);
}

static void ms_post_commit(struct mstore *ms)
{
	struct ms_post *p;

	if (ms->post_unlink.len == 0 && ms->post_rmdir.len == 0)
		return;
	p = xcalloc(1, sizeof(*p));
	p->ms = ms;
	p->unlinks = strbuf_steal(&ms->post_unlink, &p->ulen);
	p->rmdirs = strbuf_steal(&ms->post_rmdir, &p->rlen);
	/* Files go only once the commit that forgets them is durable, or
	 * a crash could bring back a record without its file. */
	db_durable_wait(ms->env, NULL, ms_post_run, p);
}

enum mstore_err ms_txn(struct mstore *ms, const char *what,
		       int (*fn)(DB_TXN *txn, void *arg), void *arg,
		       enum mstore_err *err)
{
	struct ms_txn_ctx c = {ms, fn, arg, err};
	int ret;

	if (ms->net != NULL && ms->sync_depth == 0)
		ret = db_txn_run(ms->env, ms_txn_tramp, &c);
	else
		ret = db_txn_run_sync(ms->env, ms_txn_tramp, &c);
	if (ret == 0) {
		ms_post_commit(ms);
		ms_hooks_run(ms);
		return MSTORE_OK;
	}
	ms_pending_reset(ms);
	strbuf_reset(&ms->post_unlink);
	strbuf_reset(&ms->post_rmdir);
	if (*err != MSTORE_OK)
		return *err;
	log_warnx("event=mstore_txn_failed op=%s error=\"%s\"", what,
		  ret == -1 ? "aborted" : db_error(ret));
	*err = MSTORE_E_TEMP;
	return MSTORE_E_TEMP;
}

/* ---- open / close ------------------------------------------------------- */

static int ms_mkdir(const char *path, char **err_r)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*err_r = xasprintf("%s: mkdir: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int ms_tables_open(struct mstore *ms, char **err_r)
{
	static const struct {
		const char *name;
		size_t off;
	} tabs[] = {
	    {"meta.db", offsetof(struct mstore, meta)},
	    {"users.db", offsetof(struct mstore, users)},
	    {"mailboxes.db", offsetof(struct mstore, mboxes)},
	    {"mbnames.db", offsetof(struct mstore, mbnames)},
	    {"msgs.db", offsetof(struct mstore, msgs)},
	    {"mime.db", offsetof(struct mstore, mime)},
	    {"tombs.db", offsetof(struct mstore, tombs)},
	    {"keywords.db", offsetof(struct mstore, keywords)},
	    {"acl.db", offsetof(struct mstore, acl)},
	    {"seen.db", offsetof(struct mstore, seen)},
	    {"subs.db", offsetof(struct mstore, subs)},
	    {"quota.db", offsetof(struct mstore, quota)},
	    {"changes.db", offsetof(struct mstore, changes)},
	};

	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		DB **slot = (DB **)((char *)ms + tabs[i].off);

		if (db_table_open(ms->env, tabs[i].name, DB_BTREE, 0, slot,
				  err_r) < 0)
			return -1;
	}
	return 0;
}

int mstore_open(const char *data_dir, const struct mstore_params *p,
		struct mstore **ms_r, char **err_r)
{
	struct mstore *ms = xcalloc(1, sizeof(*ms));
	struct db_env_params dp = {0};

	*ms_r = NULL;
	if (p != NULL)
		ms->p = *p;
	if (ms->p.fsync_threads == 0)
		ms->p.fsync_threads = 8;
	ms->dir = xstrdup(data_dir);
	ms->db_dir = xasprintf("%s/db", data_dir);
	ms->mail_dir = xasprintf("%s/mail", data_dir);
	ms->tmp_dir = xasprintf("%s/tmp", data_dir);
	strbuf_init(&ms->post_unlink);
	strbuf_init(&ms->post_rmdir);
	strbuf_init(&ms->post_dirs);

	if (ms_mkdir(ms->dir, err_r) < 0 || ms_mkdir(ms->mail_dir, err_r) < 0 ||
	    ms_mkdir(ms->tmp_dir, err_r) < 0)
		goto fail;
	dp.cache_mb = ms->p.cache_mb;
	dp.remove_old_logs = 1;
	if (db_env_open(ms->db_dir, &dp, &ms->env, err_r) < 0)
		goto fail;
	if (ms_tables_open(ms, err_r) < 0 || ms_modseq_open(ms, err_r) < 0)
		goto fail;
	ms_startup_cleanup(ms);
	*ms_r = ms;
	return 0;

fail:
	mstore_close(&ms);
	return -1;
}

int mstore_attach_loop(struct mstore *ms, struct net *n, char **err_r)
{
	if (db_env_attach_loop(ms->env, n, err_r) < 0)
		return -1;
	ms->net = n;
	if (ms_pool_start(ms, err_r) < 0) {
		ms->net = NULL;
		return -1;
	}
	ms_expire_start(ms);
	return 0;
}

void mstore_close(struct mstore **msp)
{
	struct mstore *ms = *msp;

	if (ms == NULL)
		return;
	*msp = NULL;
	ms_expire_stop(ms);
	ms_pool_stop(ms);
	if (ms->in_flight > 0)
		log_warnx("event=mstore_close deliveries_in_flight=%u",
			  ms->in_flight);
	/* Runs the durable-wait callbacks still queued (post-commit
	 * unlinks, deliveries) before the handles go. */
	db_env_close(&ms->env);
	ms->net = NULL;
	ms_pending_reset(ms);
	free(ms->pend);
	free(ms->defer);
	free(ms->hold);
	strbuf_free(&ms->post_unlink);
	strbuf_free(&ms->post_rmdir);
	strbuf_free(&ms->post_dirs);
	free(ms->dir);
	free(ms->db_dir);
	free(ms->mail_dir);
	free(ms->tmp_dir);
	free(ms);
}

/* ---- start-up cleanup ------------------------------------------------------
 */

static void ms_clean_tmp(struct mstore *ms)
{
	DIR *d = opendir(ms->tmp_dir);
	struct dirent *de;
	unsigned n = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' ||
		     (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
		else
			log_warn("event=mstore_tmp_unlink file=%s", de->d_name);
	}
	closedir(d);
	if (n > 0)
		log_info("event=mstore_tmp_cleanup removed=%u", n);
}

/* Parses a decimal UID file name; 0 when it is not one. */
static uint32_t ms_parse_uid(const char *s)
{
	uint64_t v = 0;

	if (*s == '\0' || *s == '0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	return (uint32_t)v;
}

static int ms_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A file without a record: garbage from a crash, or unindexed mail. */
static void ms_clean_file(struct mstore *ms, const struct mstore_mailbox *mb,
			  int dfd, const char *name, uint32_t uid)
{
	uint8_t k[8];
	void *v;
	int tomb;

	ms_key_msg(k, mb->id, uid);
	tomb = ms_db_get(ms->tombs, NULL, k, 8, &v, NULL, 0) == 0;
	free(v);
	if (uid >= mb->uidnext || tomb) {
		log_info("event=mstore_orphan_removed mailbox=%08x uid=%u "
			 "reason=%s",
			 mb->id, uid, tomb ? "expunged" : "uncommitted");
		if (unlinkat(dfd, name, 0) < 0)
			log_warn("event=mstore_unlink mailbox=%08x uid=%u",
				 mb->id, uid);
	} else {
		log_warnx("event=mstore_unindexed_file mailbox=%08x uid=%u "
			  "hint=\"run rookery reconstruct\"",
			  mb->id, uid);
	}
}

/*
 * Reconciles a mailbox directory with its records: files without a
 * record (above), and records whose file is missing.  The latter can only
 * be a delivery whose record reached the disk before its directory entry
 * did (power loss between the NOSYNC commit and the durable wait: never
 * acknowledged) or disk damage; either way the message is gone, so the
 * record is expunged (tombstone, counts, quota) and logged.
 */
static void ms_clean_mbox_dir(struct mstore *ms,
			      const struct mstore_mailbox *mb, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct mstore_msg *recs = NULL;
	uint32_t *files = NULL, *missing = NULL;
	size_t nfiles = 0, nrecs = 0, nmissing = 0, i, j;

	if (d == NULL)
		return;
	if (mstore_msg_list(ms, mb->id, &recs, &nrecs) != MSTORE_OK) {
		closedir(d);
		return;
	}
	files = xmalloc((nrecs + 1) * sizeof(*files));
	while ((de = readdir(d)) != NULL) {
		uint32_t uid = ms_parse_uid(de->d_name);
		struct mstore_msg *r;

		if (uid == 0)
			continue;
		/* uid is the first member of struct mstore_msg */
		r = nrecs == 0
			? NULL
			: bsearch(&uid, recs, nrecs, sizeof(*recs), ms_u32_cmp);
		if (r == NULL) {
			ms_clean_file(ms, mb, dirfd(d), de->d_name, uid);
			continue;
		}
		if (nfiles <= nrecs)
			files[nfiles++] = uid;
	}
	closedir(d);
	if (nfiles > 1)
		qsort(files, nfiles, sizeof(*files), ms_u32_cmp);
	missing = xmalloc((nrecs + 1) * sizeof(*missing));
	for (i = 0, j = 0; i < nrecs; i++) {
		while (j < nfiles && files[j] < recs[i].uid)
			j++;
		if (j < nfiles && files[j] == recs[i].uid)
			continue;
		log_warnx("event=mstore_record_without_file mailbox=%08x "
			  "uid=%u action=expunged",
			  mb->id, recs[i].uid);
		missing[nmissing++] = recs[i].uid;
	}
	if (nmissing > 0)
		mstore_expunge(ms, mb->id, missing, nmissing, NULL, NULL);
	free(missing);
	free(files);
	free(recs);
}

/* Does dir hold any message file (a numeric name)? */
static int ms_dir_has_messages(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int yes = 0;

	if (d == NULL)
		return 0;
	while (!yes && (de = readdir(d)) != NULL)
		yes = ms_parse_uid(de->d_name) != 0;
	closedir(d);
	return yes;
}

struct ms_floor_ctx {
	struct mstore *ms;
	uint64_t floor;
};

static int ms_floor_fn(DB_TXN *txn, void *arg)
{
	struct ms_floor_ctx *c = arg;
	uint64_t next;
	int ret;

	ret = ms_meta_get(c->ms, txn, "next_mbox", &next);
	if (ret == 0 && next < c->floor)
		ret = ms_meta_set(c->ms, txn, "next_mbox", c->floor);
	return ret;
}

/*
 * New mailbox ids must stay above every directory on disk, even when the
 * database was lost: a reused id would adopt (and clean up) the files of
 * the mailbox that had it.
 */
static void ms_mbox_id_floor(struct mstore *ms)
{
	struct ms_floor_ctx c = {ms, 0};
	enum mstore_err err;
	struct dirent *de;
	DIR *d = opendir(ms->mail_dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long id;

		if (strlen(de->d_name) != 8)
			continue;
		id = strtoul(de->d_name, &end, 16);
		if (*end == '\0' && id < UINT32_MAX && id + 1 > c.floor)
			c.floor = id + 1;
	}
	closedir(d);
	if (c.floor > 0)
		ms_txn(ms, "mailbox_id_floor", ms_floor_fn, &c, &err);
}

void ms_startup_cleanup(struct mstore *ms)
{
	DIR *d;
	struct dirent *de;

	ms_clean_tmp(ms);
	ms_mbox_id_floor(ms);
	d = opendir(ms->mail_dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct mstore_mailbox mb;
		char *end, *dir;
		unsigned long id;
		char gkey[16];
		void *v;

		if (strlen(de->d_name) != 8)
			continue;
		id = strtoul(de->d_name, &end, 16);
		if (*end != '\0' || id == 0 || id > UINT32_MAX)
			continue;
		dir = ms_mbox_dir(ms, (uint32_t)id);
		if (mstore_mailbox_get_by_id(ms, (uint32_t)id, &mb) ==
		    MSTORE_OK) {
			ms_clean_mbox_dir(ms, &mb, dir);
			mstore_mailbox_clear(&mb);
		} else {
			snprintf(gkey, sizeof(gkey), "g%08lx", id);
			if (ms_db_get(ms->meta, NULL, gkey, strlen(gkey), &v,
				      NULL, 0) == 0) {
				free(v);
				/* a purge a crash may have interrupted */
				ms_mbox_purge_records(ms, (uint32_t)id, 0);
				log_info("event=mstore_deleted_dir_removed "
					 "mailbox=%08lx",
					 id);
				ms_rmdir_all(dir);
			} else if (!ms_dir_has_messages(dir)) {
				/* a create whose commit never reached the
				 * disk: nothing to lose */
				log_info("event=mstore_empty_dir_removed "
					 "mailbox=%08lx",
					 id);
				ms_rmdir_all(dir);
			} else {
				log_warnx("event=mstore_unknown_dir "
					  "mailbox=%08lx hint=\"run rookery "
					  "reconstruct\"",
					  id);
			}
		}
		free(dir);
	}
	closedir(d);
}
