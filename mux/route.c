/*
 * route.c - user -> store -> address through the directory, with a short
 * cache of user -> store, and the directory watch: every
 * directory_check_ms the embedded file is checked for replacement; a new
 * file flushes the cache and makes proxy.c re-check live sessions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory.h"
#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "mux/mux.h"
#include "mux/proxy.h"

#define ROUTE_BUCKETS 4096
#define ROUTE_CACHE_MAX 100000

struct route_entry {
	struct route_entry *next;
	long long expires_ms;
	char store[DIR_NAME_MAX];	/* "" = not in the directory */
	char user[];
};

struct route_cache {
	struct route_entry *b[ROUTE_BUCKETS];
	unsigned n;
};

static unsigned hash_user(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
	return h % ROUTE_BUCKETS;
}

static void cache_flush(struct route_cache *rc)
{
	for (unsigned i = 0; i < ROUTE_BUCKETS; i++) {
		struct route_entry *e = rc->b[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		rc->b[i] = NULL;
	}
	rc->n = 0;
}

static struct route_entry *cache_find(struct route_cache *rc,
				      const char *user, long long now)
{
	struct route_entry **pp = &rc->b[hash_user(user)], *e;

	while ((e = *pp) != NULL) {
		if (e->expires_ms <= now) {
			*pp = e->next;
			free(e);
			rc->n--;
			continue;
		}
		if (strcasecmp(e->user, user) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

static void cache_put(struct route_cache *rc, const char *user,
		      const char *store, long long expires)
{
	unsigned h = hash_user(user);
	size_t len = strlen(user);
	struct route_entry *e;

	if (rc->n >= ROUTE_CACHE_MAX)
		cache_flush(rc);
	e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->user, user, len + 1);
	snprintf(e->store, sizeof(e->store), "%s", store);
	e->expires_ms = expires;
	e->next = rc->b[h];
	rc->b[h] = e;
	rc->n++;
}

static void dir_check_changed(struct mux *m)
{
	cache_flush(m->routes);
	proxy_recheck_all(m);
}

static void dir_check(void *arg)
{
	struct mux *m = arg;

	if (directory_refresh(m->dir) > 0)
		dir_check_changed(m);
}

int route_init(struct mux *m, char **err_r)
{
	if (directory_open(m->sec, &m->dir, err_r) < 0)
		return -1;
	m->routes = xcalloc(1, sizeof(*m->routes));
	m->dir_timer = net_timer_new(m->net, dir_check, m);
	net_timer_start(m->dir_timer, m->conf.directory_check_ms, 1);
	return 0;
}

void route_done(struct mux *m)
{
	net_timer_free(&m->dir_timer);
	if (m->routes != NULL) {
		cache_flush(m->routes);
		free(m->routes);
		m->routes = NULL;
	}
	directory_close(&m->dir);
}

void route_clear(struct route *r)
{
	free(r->addr);
	memset(r, 0, sizeof(*r));
}

/* user -> store name ("" when absent); -1 on directory failure. */
static int user_store(struct mux *m, const char *user, int fresh,
		      char store[DIR_NAME_MAX])
{
	long long now = mux_now_ms();
	struct route_entry *e;
	char *err = NULL;
	char q[128];
	int r;

	if (!fresh && (e = cache_find(m->routes, user, now)) != NULL) {
		memcpy(store, e->store, DIR_NAME_MAX);
		return 0;
	}
	r = directory_user_store(m->dir, user, store, &err);
	if (r < 0) {
		log_warnx("event=directory_failed user=%s error=\"%s\"",
			  log_q(q, sizeof(q), user), err);
		free(err);
		return -1;
	}
	if (r > 0)
		store[0] = '\0';
	if (m->conf.route_cache_ms > 0)
		cache_put(m->routes, user, store,
			  now + (long long)m->conf.route_cache_ms);
	return 0;
}

enum route_result route_resolve(struct mux *m, const char *user,
				enum dir_service svc, int fresh,
				struct route *r)
{
	struct dir_store st;
	char *err = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (user_store(m, user, fresh, r->store) < 0)
		return ROUTE_ERROR;
	/* A user added a moment ago: the file may be newer than our view
	 * (the timer checks every directory_check_ms).  A stat() is cheap. */
	if (r->store[0] == '\0' && directory_refresh(m->dir) > 0) {
		dir_check_changed(m);
		if (user_store(m, user, 1, r->store) < 0)
			return ROUTE_ERROR;
	}
	if (r->store[0] == '\0') {
		if (m->conf.default_store == NULL)
			return ROUTE_NO_USER;
		snprintf(r->store, sizeof(r->store), "%s",
			 m->conf.default_store);
	}
	rc = directory_store_get(m->dir, r->store, &st, &err);
	if (rc < 0) {
		log_warnx("event=directory_failed store=%s error=\"%s\"",
			  r->store, err);
		free(err);
		return ROUTE_ERROR;
	}
	if (rc > 0 || !st.up || st.addr[svc] == NULL) {
		dir_store_clear(&st);
		return ROUTE_DOWN;
	}
	r->addr = st.addr[svc];
	st.addr[svc] = NULL;
	dir_store_clear(&st);
	return ROUTE_OK;
}
