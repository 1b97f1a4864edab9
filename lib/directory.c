/*
 * directory.c - the routing directory (directory.h): the embedded
 * Berkeley DB file, its atomic rewrite, and the record text form.
 *
 * The file is a plain btree without an environment: it is small, written
 * by one `rookery` process at a time (flock on PATH.lock) and never
 * modified in place, so readers need neither locks nor transactions.
 * Keys are "u:" + user (value: store name) and "s:" + store name (value:
 * the record text of dir_store_format()).
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "directory.h"
#include "directory_int.h"
#include "log.h"
#include "strbuf.h"

struct directory {
	char *path;		/* embedded file, or NULL */
	DB *db;			/* open read-only, or NULL (no file yet) */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	unsigned long generation;
	struct dir_ldap *ldap;	/* users from LDAP, or NULL */
	ino_t bad_ino;		/* a replacement that failed to open */
	struct timespec bad_mtime;
	int gone_warned;
};

static const char *const svc_names[DIR_SVC_COUNT] = {
	[DIR_SVC_IMAP] = "imap",
	[DIR_SVC_POP3] = "pop3",
	[DIR_SVC_LMTP] = "lmtp",
	[DIR_SVC_SIEVE] = "sieve",
};

int dir_service_parse(const char *name)
{
	for (int i = 0; i < DIR_SVC_COUNT; i++)
		if (strcasecmp(name, svc_names[i]) == 0)
			return i;
	return -1;
}

const char *dir_service_name(enum dir_service svc)
{
	return (unsigned)svc < DIR_SVC_COUNT ? svc_names[svc] : "?";
}

void dir_store_clear(struct dir_store *st)
{
	for (int i = 0; i < DIR_SVC_COUNT; i++)
		free(st->addr[i]);
	memset(st, 0, sizeof(*st));
}

void dir_store_copy(struct dir_store *dst, const struct dir_store *src)
{
	*dst = *src;
	for (int i = 0; i < DIR_SVC_COUNT; i++)
		dst->addr[i] = src->addr[i] ? xstrdup(src->addr[i]) : NULL;
}

int dir_store_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= DIR_NAME_MAX)
		return -1;
	for (const char *p = name; *p != '\0'; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return -1;
	}
	return 0;
}

const char *directory_path(const struct config_section *sec)
{
	const char *p = config_get(sec, "directory", NULL);

	return (p != NULL && p[0] != '\0') ? p : NULL;
}

/* --- record text -------------------------------------------------------- */

/* Addresses may carry " tls": written as ADDR,tls so a record stays one
 * word per field. */
char *dir_store_format(const struct dir_store *st)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_printf(&b, "state=%s role=%s", st->up ? "up" : "down",
		      st->role[0] ? st->role : "primary");
	for (int i = 0; i < DIR_SVC_COUNT; i++) {
		const char *a = st->addr[i];

		if (a == NULL)
			continue;
		strbuf_printf(&b, " %s=", svc_names[i]);
		for (; *a != '\0'; a++)
			strbuf_addc(&b, *a == ' ' ? ',' : *a);
	}
	return strbuf_steal(&b, NULL);
}

int dir_store_parse(const char *name, const char *text,
		    struct dir_store *st_r)
{
	char *copy = xstrdup(text), *save = NULL, *w;
	int rc = 0;

	memset(st_r, 0, sizeof(*st_r));
	if (dir_store_name_ok(name) < 0) {
		free(copy);
		return -1;
	}
	snprintf(st_r->name, sizeof(st_r->name), "%s", name);
	st_r->up = 1;
	snprintf(st_r->role, sizeof(st_r->role), "primary");
	for (w = strtok_r(copy, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');
		int svc;

		if (eq == NULL) {
			rc = -1;
			break;
		}
		*eq++ = '\0';
		if (strcmp(w, "state") == 0) {
			st_r->up = strcmp(eq, "down") != 0;
		} else if (strcmp(w, "role") == 0) {
			snprintf(st_r->role, sizeof(st_r->role), "%s", eq);
		} else if ((svc = dir_service_parse(w)) >= 0) {
			for (char *p = eq; *p != '\0'; p++)
				if (*p == ',')
					*p = ' ';
			free(st_r->addr[svc]);
			st_r->addr[svc] = xstrdup(eq);
		}
		/* unknown keys: written by a newer rookery, ignored */
	}
	free(copy);
	if (rc < 0)
		dir_store_clear(st_r);
	return rc;
}

/* --- file access ------------------------------------------------------- */

static int db_open_file(const char *path, u_int32_t flags, DB **db_r,
			char **err_r)
{
	DB *db = NULL;
	int r = db_create(&db, NULL, 0);

	if (r == 0)
		r = db->open(db, NULL, path, NULL, DB_BTREE, flags, 0644);
	if (r != 0) {
		if (db != NULL)
			db->close(db, 0);
		*err_r = xasprintf("%s: %s", path, db_strerror(r));
		return -1;
	}
	*db_r = db;
	return 0;
}

/* Looks up key (NUL-terminated string) in db: 0 with an allocated value,
 * 1 when absent, -1 error. */
static int db_get_str(DB *db, const char *key, char **value_r, char **err_r)
{
	DBT k, v;
	int r;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.flags = DB_DBT_MALLOC;
	r = db->get(db, NULL, &k, &v, 0);
	if (r == DB_NOTFOUND)
		return 1;
	if (r != 0) {
		*err_r = xasprintf("directory lookup: %s", db_strerror(r));
		return -1;
	}
	*value_r = xstrndup(v.data, v.size);
	free(v.data);
	return 0;
}

static int file_lookup(DB *db, char kind, const char *name, char **value_r,
		       char **err_r)
{
	char *key = xasprintf("%c:%s", kind, name);
	int r = db_get_str(db, key, value_r, err_r);

	free(key);
	return r;
}

/* --- reading ------------------------------------------------------------ */

static void dir_close_file(struct directory *d)
{
	if (d->db != NULL)
		d->db->close(d->db, 0);
	d->db = NULL;
	d->dev = 0;
	d->ino = 0;
	d->size = 0;
	memset(&d->mtime, 0, sizeof(d->mtime));
}

/* (Re)opens the file if it differs from the one held.  1 changed, 0 not. */
static int dir_reopen(struct directory *d, char **err_r)
{
	struct stat sb;
	DB *db = NULL;

	if (stat(d->path, &sb) < 0) {
		if (errno != ENOENT) {
			*err_r = xasprintf("%s: %s", d->path, strerror(errno));
			return -1;
		}
		/* Writers rename a new file over the old one, so the file
		 * never vanishes on its own: if someone removed it, keep
		 * routing with what we have rather than drop every user. */
		if (d->db != NULL && !d->gone_warned) {
			log_warnx("event=directory_missing path=%s "
				  "action=keeping_last_view", d->path);
			d->gone_warned = 1;
		}
		return 0;
	}
	d->gone_warned = 0;
	if (d->db != NULL && sb.st_dev == d->dev && sb.st_ino == d->ino &&
	    sb.st_size == d->size &&
	    sb.st_mtim.tv_sec == d->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == d->mtime.tv_nsec)
		return 0;
	/* a file that failed to open is not retried until it changes */
	if (sb.st_ino == d->bad_ino &&
	    sb.st_mtim.tv_sec == d->bad_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == d->bad_mtime.tv_nsec)
		return 0;
	if (db_open_file(d->path, DB_RDONLY, &db, err_r) < 0) {
		d->bad_ino = sb.st_ino;
		d->bad_mtime = sb.st_mtim;
		return -1;
	}
	dir_close_file(d);
	d->db = db;
	d->dev = sb.st_dev;
	d->ino = sb.st_ino;
	d->size = sb.st_size;
	d->mtime = sb.st_mtim;
	return 1;
}

int directory_open(const struct config_section *sec, struct directory **dir_r,
		   char **err_r)
{
	struct directory *d = xcalloc(1, sizeof(*d));
	const char *path = directory_path(sec);

	if (dir_ldap_new(sec, &d->ldap, err_r) < 0) {
		free(d);
		return -1;
	}
	if (path == NULL && d->ldap == NULL) {
		*err_r = xstrdup("no directory configured: set directory = "
				 "PATH (or directory_ldap_uri)");
		free(d);
		return -1;
	}
	if (path != NULL) {
		d->path = xstrdup(path);
		if (dir_reopen(d, err_r) < 0) {
			directory_close(&d);
			return -1;
		}
	}
	d->generation = 1;
	*dir_r = d;
	return 0;
}

void directory_close(struct directory **dp)
{
	struct directory *d = *dp;

	if (d == NULL)
		return;
	dir_close_file(d);
	dir_ldap_free(&d->ldap);
	free(d->path);
	free(d);
	*dp = NULL;
}

int directory_refresh(struct directory *d)
{
	char *err = NULL;
	int r;

	if (d->path == NULL)
		return 0;
	r = dir_reopen(d, &err);
	if (r < 0) {
		log_warnx("event=directory_reopen_failed error=\"%s\"", err);
		free(err);
		return -1;
	}
	if (r > 0) {
		d->generation++;
		log_info("event=directory_reloaded path=%s generation=%lu",
			 d->path, d->generation);
	}
	return r;
}

int directory_users_remote(const struct directory *d)
{
	return d->ldap != NULL;
}

unsigned long directory_generation(const struct directory *d)
{
	return d->generation;
}

int directory_user_store(struct directory *d, const char *user,
			 char *store_r, char **err_r)
{
	char *v = NULL;
	int r;

	if (d->ldap != NULL)
		return dir_ldap_user_store(d->ldap, user, store_r, err_r);
	if (d->db == NULL)
		return 1;
	r = file_lookup(d->db, 'u', user, &v, err_r);
	if (r == 0) {
		snprintf(store_r, DIR_NAME_MAX, "%s", v);
		free(v);
	}
	return r;
}

int directory_store_get(struct directory *d, const char *name,
			struct dir_store *st_r, char **err_r)
{
	char *v = NULL;
	int r;

	memset(st_r, 0, sizeof(*st_r));
	if (d->db == NULL)
		return 1;
	r = file_lookup(d->db, 's', name, &v, err_r);
	if (r != 0)
		return r;
	if (dir_store_parse(name, v, st_r) < 0) {
		*err_r = xasprintf("directory: bad record for store %s", name);
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

static int foreach_db(DB *db, int (*cb)(char, const char *, const char *,
					void *),
		      void *arg, char **err_r)
{
	DBC *cur = NULL;
	DBT k, v;
	int r, stop = 0;

	r = db->cursor(db, NULL, &cur, 0);
	if (r != 0) {
		*err_r = xasprintf("directory cursor: %s", db_strerror(r));
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while (!stop && (r = cur->get(cur, &k, &v, DB_NEXT)) == 0) {
		char *key = xstrndup(k.data, k.size);
		char *val = xstrndup(v.data, v.size);

		if (strlen(key) > 2 && key[1] == ':')
			stop = cb(key[0], key + 2, val, arg);
		free(key);
		free(val);
	}
	cur->close(cur);
	if (r != 0 && r != DB_NOTFOUND && !stop) {
		*err_r = xasprintf("directory read: %s", db_strerror(r));
		return -1;
	}
	return 0;
}

int directory_foreach(struct directory *d,
		      int (*cb)(char kind, const char *key, const char *value,
				void *arg),
		      void *arg, char **err_r)
{
	if (d->db == NULL)
		return 0;
	return foreach_db(d->db, cb, arg, err_r);
}

/* --- writing ------------------------------------------------------------ */

struct rewrite {
	DB *out;
	const char *skip_key;	/* replaced or removed */
	int err;
};

static int db_put_str(DB *db, const char *key, const char *value)
{
	DBT k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.data = (void *)value;
	v.size = (u_int32_t)strlen(value);
	return db->put(db, NULL, &k, &v, 0);
}

static int copy_cb(char kind, const char *key, const char *value, void *arg)
{
	struct rewrite *rw = arg;
	char *full = xasprintf("%c:%s", kind, key);

	if (strcmp(full, rw->skip_key) != 0)
		rw->err = db_put_str(rw->out, full, value);
	free(full);
	return rw->err != 0;
}

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Copies the old file (if any) into a new one without key, adds
 * key=value (value NULL: nothing), then renames it into place. */
static int rewrite_locked(const char *path, const char *key,
			  const char *value, char **err_r)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	struct rewrite rw = {NULL, key, 0};
	DB *old = NULL;
	int rc = -1, r;

	unlink(tmp);
	if (access(path, F_OK) == 0 &&
	    db_open_file(path, DB_RDONLY, &old, err_r) < 0)
		goto out;
	if (db_open_file(tmp, DB_CREATE | DB_EXCL, &rw.out, err_r) < 0)
		goto out;
	if (old != NULL && foreach_db(old, copy_cb, &rw, err_r) < 0)
		goto out;
	if (rw.err == 0 && value != NULL)
		rw.err = db_put_str(rw.out, key, value);
	if (rw.err != 0) {
		*err_r = xasprintf("%s: %s", tmp, db_strerror(rw.err));
		goto out;
	}
	r = rw.out->close(rw.out, 0);
	rw.out = NULL;
	if (r != 0) {
		*err_r = xasprintf("%s: %s", tmp, db_strerror(r));
		goto out;
	}
	if (fsync_path(tmp, 0) < 0 || rename(tmp, path) < 0) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	{
		char *d = dir_of(path);

		fsync_path(d, 1);
		free(d);
	}
	rc = 0;
out:
	if (rw.out != NULL)
		rw.out->close(rw.out, 0);
	if (old != NULL)
		old->close(old, 0);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int rewrite(const char *path, const char *key, const char *value,
		   char **err_r)
{
	char *lockpath = xasprintf("%s.lock", path);
	int fd, rc;

	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		*err_r = xasprintf("%s: %s", lockpath, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(lockpath);
		return -1;
	}
	rc = rewrite_locked(path, key, value, err_r);
	close(fd);
	free(lockpath);
	return rc;
}

int directory_set_user(const char *path, const char *user, const char *store,
		       char **err_r)
{
	char *key;
	int rc;

	if (user[0] == '\0' || strlen(user) > 255) {
		*err_r = xstrdup("bad user name");
		return -1;
	}
	if (store != NULL && dir_store_name_ok(store) < 0) {
		*err_r = xasprintf("bad store name \"%s\"", store);
		return -1;
	}
	key = xasprintf("u:%s", user);
	rc = rewrite(path, key, store, err_r);
	free(key);
	return rc;
}

int directory_set_store(const char *path, const struct dir_store *st,
			char **err_r)
{
	char *key, *text;
	int rc;

	if (dir_store_name_ok(st->name) < 0) {
		*err_r = xasprintf("bad store name \"%s\"", st->name);
		return -1;
	}
	key = xasprintf("s:%s", st->name);
	text = dir_store_format(st);
	rc = rewrite(path, key, text, err_r);
	free(text);
	free(key);
	return rc;
}

int directory_file_store_get(const char *path, const char *name,
			     struct dir_store *st_r, char **err_r)
{
	DB *db = NULL;
	char *v = NULL;
	int r;

	memset(st_r, 0, sizeof(*st_r));
	if (access(path, F_OK) != 0)
		return 1;
	if (db_open_file(path, DB_RDONLY, &db, err_r) < 0)
		return -1;
	r = file_lookup(db, 's', name, &v, err_r);
	db->close(db, 0);
	if (r != 0)
		return r;
	r = dir_store_parse(name, v, st_r);
	free(v);
	if (r < 0) {
		*err_r = xasprintf("directory: bad record for store %s", name);
		return -1;
	}
	return 0;
}
