/*
 * limits.c - connection caps and login-failure accounting (mux.h).
 *
 * Two fixed-size open-addressing tables keyed by string (linear probing,
 * deletion by backward shift, so no tombstones): client IPs (open
 * connections, failed logins in the current window) and users (proxied
 * sessions).  They live in anonymous shared memory made by limits_new()
 * before the mux forks its workers ("workers = N"), each behind a
 * process-shared robust mutex, so that caps and the failure window are
 * global, not per worker.  With one process the same tables simply have
 * one counter per entry.
 *
 * Counts are kept per worker (count[w]) and summed: when a worker dies
 * its connections are gone, and the master drops its share with
 * limits_worker_gone() instead of leaving the counts stuck.
 *
 * An entry goes away once nothing is counted in it.  IPs whose only
 * content is an expired failure window are swept out when the table
 * fills.  A full table (or a key longer than the table's keys) fails
 * open: the connection or session is let in uncounted, with one log line
 * every LIMITS_FULL_LOG_MS.  Refusing instead would let anyone holding
 * enough addresses lock everybody out; max_connections still bounds the
 * total.  The total connection cap itself is lib/net's max_connections,
 * divided among the workers (main.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "strbuf.h"
#include "mux/mux.h"
#include "mux/proxy.h"
#include "mux/shared.h"

#define LIMITS_IP_KEY 64	/* conn_peer_ip() is at most 63 bytes */
#define LIMITS_USER_KEY 256	/* an address (RFC 5321: 254) and more */
#define LIMITS_MIN_ENTRIES 1024
#define LIMITS_FULL_LOG_MS 10000
#define LIMITS_SWEEP_MS 1000

/* One entry; count[nw] is followed by the key (keylen bytes). */
struct lim_entry {
	unsigned used;
	unsigned hash;
	unsigned fails;		/* failures in the window (IPs) */
	unsigned pad;
	long long window_start_ms;
	unsigned count[];	/* per worker: connections / sessions */
};

/* In shared memory: the header, then cap entries of stride bytes. */
struct lim_table {
	pthread_mutex_t lock;
	unsigned cap;		/* slots, a power of two */
	unsigned max;		/* entries allowed (cap * 3/4 at most) */
	unsigned n;
	unsigned nw;
	unsigned keylen;
	unsigned stride;
	long long full_logged_ms;
	long long swept_ms;
	size_t size;		/* of the mapping */
	const char *name;	/* "ip", "user": static, same in every child */
	unsigned char *slots;
};

struct limits {
	struct lim_table *ips;
	struct lim_table *users;
	unsigned worker;	/* this process's counter (private copy) */
};

static unsigned lim_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
	return h;
}

static struct lim_entry *at(const struct lim_table *t, unsigned i)
{
	return (struct lim_entry *)(t->slots + (size_t)i * t->stride);
}

static char *key_of(const struct lim_table *t, struct lim_entry *e)
{
	return (char *)&e->count[t->nw];
}

static unsigned total(const struct lim_table *t, const struct lim_entry *e)
{
	unsigned sum = 0;

	for (unsigned w = 0; w < t->nw; w++)
		sum += e->count[w];
	return sum;
}

static struct lim_table *table_new(const char *name, unsigned max_entries,
				   unsigned nw, unsigned keylen)
{
	unsigned cap = 64, stride;
	size_t hdr, size;
	struct lim_table *t;

	if (max_entries < LIMITS_MIN_ENTRIES)
		max_entries = LIMITS_MIN_ENTRIES;
	/* at most 3/4 full keeps the probe runs short */
	while (cap / 4 * 3 < max_entries && cap < (1u << 30))
		cap <<= 1;
	stride = (unsigned)(sizeof(struct lim_entry) + nw * sizeof(unsigned) +
			    keylen + 7) & ~7u;
	hdr = (sizeof(struct lim_table) + 63) & ~(size_t)63;
	size = hdr + (size_t)cap * stride;
	t = mux_shm_alloc(size);
	mux_shm_mutex_init(&t->lock);
	t->cap = cap;
	t->max = max_entries < cap / 4 * 3 ? max_entries : cap / 4 * 3;
	t->nw = nw;
	t->keylen = keylen;
	t->stride = stride;
	t->size = size;
	t->name = name;
	t->slots = (unsigned char *)t + hdr;
	return t;
}

/* Index of key's entry, or of the empty slot ending its probe run. */
static unsigned find(const struct lim_table *t, const char *key, unsigned h)
{
	unsigned mask = t->cap - 1, i = h & mask;

	for (unsigned k = 0; k < t->cap; k++, i = (i + 1) & mask) {
		struct lim_entry *e = at(t, i);

		if (!e->used ||
		    (e->hash == h && strcasecmp(key_of(t, e), key) == 0))
			return i;
	}
	return 0;	/* unreachable: the table is never full */
}

/* Removes slot i, shifting back the run after it. */
static void remove_at(struct lim_table *t, unsigned i)
{
	unsigned mask = t->cap - 1, j = i;

	for (;;) {
		struct lim_entry *e;
		unsigned home;

		j = (j + 1) & mask;
		e = at(t, j);
		if (!e->used)
			break;
		home = e->hash & mask;
		/* e may fill the hole at i when its home is not in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			memcpy(at(t, i), e, t->stride);
			i = j;
		}
	}
	memset(at(t, i), 0, t->stride);
	t->n--;
}

static int expired(const struct lim_table *t, const struct lim_entry *e,
		   long long now, unsigned window_ms)
{
	if (total(t, e) > 0)
		return 0;
	return e->fails == 0 || now - e->window_start_ms >= (long long)window_ms;
}

/* Drops every entry that counts nothing any more. */
static void sweep(struct lim_table *t, long long now, unsigned window_ms)
{
	unsigned i = 0;

	t->swept_ms = now;
	while (i < t->cap) {
		struct lim_entry *e = at(t, i);

		/* after a removal slot i holds what shifted in: look again */
		if (e->used && expired(t, e, now, window_ms))
			remove_at(t, i);
		else
			i++;
	}
}

/* key's entry, created when create is set; NULL when absent or when it
 * cannot be made (table full, key too long: logged, fail open). */
static struct lim_entry *get(struct lim_table *t, const char *key,
			     int create, long long now, unsigned window_ms)
{
	unsigned h = lim_hash(key), i;
	size_t len = strlen(key);
	struct lim_entry *e;

	if (len >= t->keylen) {
		if (create)
			log_warnx("event=limits_key_too_long table=%s len=%zu",
				  t->name, len);
		return NULL;
	}
	i = find(t, key, h);
	e = at(t, i);
	if (e->used || !create)
		return e->used ? e : NULL;
	if (t->n >= t->max && now - t->swept_ms >= LIMITS_SWEEP_MS) {
		sweep(t, now, window_ms);
		i = find(t, key, h);
		e = at(t, i);
	}
	if (t->n >= t->max) {
		if (t->full_logged_ms == 0 ||
		    now - t->full_logged_ms >= LIMITS_FULL_LOG_MS) {
			t->full_logged_ms = now;
			log_warnx("event=limits_table_full table=%s entries=%u "
				  "action=fail_open hint=\"raise "
				  "max_tracked_%ss\"",
				  t->name, t->n, t->name);
		}
		return NULL;
	}
	memset(e, 0, t->stride);
	e->used = 1;
	e->hash = h;
	memcpy(key_of(t, e), key, len + 1);
	t->n++;
	return e;
}

/* Drops e when it counts nothing any more. */
static void maybe_drop(struct lim_table *t, struct lim_entry *e,
		       long long now, unsigned window_ms)
{
	if (expired(t, e, now, window_ms))
		remove_at(t, (unsigned)(((unsigned char *)e - t->slots) /
					t->stride));
}

static void table_free(struct lim_table **tp)
{
	if (*tp == NULL)
		return;
	mux_shm_free(*tp, (*tp)->size);
	*tp = NULL;
}

struct limits *limits_new(unsigned n_workers, unsigned max_ips,
			  unsigned max_users)
{
	struct limits *l = xcalloc(1, sizeof(*l));

	if (n_workers == 0)
		n_workers = 1;
	l->ips = table_new("ip", max_ips, n_workers, LIMITS_IP_KEY);
	l->users = table_new("user", max_users, n_workers, LIMITS_USER_KEY);
	return l;
}

void limits_free(struct limits **lp)
{
	if (*lp == NULL)
		return;
	table_free(&(*lp)->ips);
	table_free(&(*lp)->users);
	free(*lp);
	*lp = NULL;
}

void limits_set_worker(struct limits *l, unsigned worker)
{
	l->worker = worker;
}

static void forget_worker(struct lim_table *t, unsigned w, long long now,
			  unsigned window_ms)
{
	mux_shm_lock(&t->lock, t->name);
	for (unsigned i = 0; i < t->cap; i++) {
		struct lim_entry *e = at(t, i);

		if (e->used)
			e->count[w] = 0;
	}
	sweep(t, now, window_ms);
	mux_shm_unlock(&t->lock);
}

void limits_worker_gone(struct limits *l, unsigned worker)
{
	long long now = mux_now_ms();

	/* the failure windows stay: they are about the clients, not the
	 * worker; 24 h is longer than any window that can matter */
	forget_worker(l->ips, worker, now, 24u * 3600 * 1000);
	forget_worker(l->users, worker, now, 0);
}

static unsigned window_ms(const struct mux *m)
{
	return m->conf.ip_fail_window * 1000u;
}

/* enter/leave on table t for key, against cap (0 = none) */
static int enter(struct mux *m, struct lim_table *t, const char *key,
		 unsigned cap, unsigned wms)
{
	long long now = mux_now_ms();
	struct lim_entry *e;
	int r = 0;

	mux_shm_lock(&t->lock, t->name);
	e = get(t, key, 1, now, wms);
	if (e != NULL) {
		if (cap != 0 && total(t, e) >= cap) {
			maybe_drop(t, e, now, wms);
			r = -1;
		} else {
			e->count[m->limits->worker]++;
		}
	}
	mux_shm_unlock(&t->lock);
	return r;
}

static void leave(struct mux *m, struct lim_table *t, const char *key,
		  unsigned wms)
{
	long long now = mux_now_ms();
	unsigned w = m->limits->worker;
	struct lim_entry *e;

	mux_shm_lock(&t->lock, t->name);
	e = get(t, key, 0, now, wms);
	if (e != NULL) {
		/* 0 only after a fail-open enter: nothing of ours to take */
		if (e->count[w] > 0)
			e->count[w]--;
		maybe_drop(t, e, now, wms);
	}
	mux_shm_unlock(&t->lock);
}

/* Every TCP client connection passes here, in and out: also what the
 * workers balance their accepting on (shared.h). */
int limits_ip_enter(struct mux *m, const char *ip)
{
	if (enter(m, m->limits->ips, ip, m->conf.max_per_ip, window_ms(m)) < 0)
		return -1;
	mux_shared_conn_open(m);
	return 0;
}

void limits_ip_leave(struct mux *m, const char *ip)
{
	leave(m, m->limits->ips, ip, window_ms(m));
	mux_shared_conn_close(m);
}

int limits_user_enter(struct mux *m, const char *user)
{
	return enter(m, m->limits->users, user, m->conf.max_per_user, 0);
}

void limits_user_leave(struct mux *m, const char *user)
{
	leave(m, m->limits->users, user, 0);
}

void limits_fail(struct mux *m, const char *ip)
{
	struct lim_table *t = m->limits->ips;
	long long now = mux_now_ms();
	struct lim_entry *e;

	mux_shm_lock(&t->lock, t->name);
	e = get(t, ip, 1, now, window_ms(m));
	if (e != NULL) {
		if (now - e->window_start_ms >= (long long)window_ms(m)) {
			e->window_start_ms = now;
			e->fails = 0;
		}
		e->fails++;
	}
	mux_shm_unlock(&t->lock);
}

int limits_ip_blocked(struct mux *m, const char *ip)
{
	struct lim_table *t = m->limits->ips;
	long long now = mux_now_ms();
	struct lim_entry *e;
	int r = 0;

	if (m->conf.ip_fail_limit == 0)
		return 0;
	mux_shm_lock(&t->lock, t->name);
	e = get(t, ip, 0, now, window_ms(m));
	if (e != NULL) {
		if (now - e->window_start_ms >= (long long)window_ms(m))
			e->fails = 0;
		else
			r = e->fails >= m->conf.ip_fail_limit;
	}
	mux_shm_unlock(&t->lock);
	return r;
}

unsigned limits_ips_tracked(const struct mux *m)
{
	return __atomic_load_n(&m->limits->ips->n, __ATOMIC_RELAXED);
}
