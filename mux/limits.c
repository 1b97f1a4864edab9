/*
 * limits.c - connection caps and login-failure accounting (mux.h).
 *
 * Two small hash tables keyed by string: client IPs (open connections,
 * failed logins in the current window) and users (proxied sessions).  An
 * entry goes away once nothing is counted in it.  The total connection
 * cap is lib/net's max_connections (listeners pause at the limit).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "mux/mux.h"
#include "mux/proxy.h"

#define LIMITS_BUCKETS 4096

struct lim_entry {
	struct lim_entry *next;
	unsigned count;		/* connections (IPs) or sessions (users) */
	unsigned fails;		/* failures in the window (IPs) */
	long long window_start_ms;
	char key[];
};

struct lim_table {
	struct lim_entry *b[LIMITS_BUCKETS];
	unsigned n;
};

struct limits {
	struct lim_table ips;
	struct lim_table users;
};

static unsigned lim_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
	return h % LIMITS_BUCKETS;
}

static struct lim_entry *lim_get(struct lim_table *t, const char *key,
				 int create)
{
	unsigned h = lim_hash(key);
	struct lim_entry *e;
	size_t len;

	for (e = t->b[h]; e != NULL; e = e->next)
		if (strcasecmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	len = strlen(key);
	e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->next = t->b[h];
	t->b[h] = e;
	t->n++;
	return e;
}

/* Drops e when it counts nothing any more. */
static void lim_maybe_drop(struct lim_table *t, struct lim_entry *e,
			   long long now, unsigned window_ms)
{
	struct lim_entry **pp;

	if (e->count > 0)
		return;
	if (e->fails > 0 && now - e->window_start_ms < (long long)window_ms)
		return;
	for (pp = &t->b[lim_hash(e->key)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e);
			t->n--;
			return;
		}
	}
}

static void lim_table_clear(struct lim_table *t)
{
	for (unsigned i = 0; i < LIMITS_BUCKETS; i++) {
		struct lim_entry *e = t->b[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		t->b[i] = NULL;
	}
	t->n = 0;
}

struct limits *limits_new(void)
{
	return xcalloc(1, sizeof(struct limits));
}

void limits_free(struct limits **lp)
{
	if (*lp == NULL)
		return;
	lim_table_clear(&(*lp)->ips);
	lim_table_clear(&(*lp)->users);
	free(*lp);
	*lp = NULL;
}

static unsigned window_ms(const struct mux *m)
{
	return m->conf.ip_fail_window * 1000u;
}

int limits_ip_enter(struct mux *m, const char *ip)
{
	struct lim_entry *e = lim_get(&m->limits->ips, ip, 1);

	if (m->conf.max_per_ip != 0 && e->count >= m->conf.max_per_ip) {
		lim_maybe_drop(&m->limits->ips, e, mux_now_ms(), window_ms(m));
		return -1;
	}
	e->count++;
	return 0;
}

void limits_ip_leave(struct mux *m, const char *ip)
{
	struct lim_entry *e = lim_get(&m->limits->ips, ip, 0);

	if (e == NULL || e->count == 0)
		return;
	e->count--;
	lim_maybe_drop(&m->limits->ips, e, mux_now_ms(), window_ms(m));
}

int limits_user_enter(struct mux *m, const char *user)
{
	struct lim_entry *e = lim_get(&m->limits->users, user, 1);

	if (m->conf.max_per_user != 0 && e->count >= m->conf.max_per_user) {
		lim_maybe_drop(&m->limits->users, e, 0, 0);
		return -1;
	}
	e->count++;
	return 0;
}

void limits_user_leave(struct mux *m, const char *user)
{
	struct lim_entry *e = lim_get(&m->limits->users, user, 0);

	if (e == NULL || e->count == 0)
		return;
	e->count--;
	lim_maybe_drop(&m->limits->users, e, 0, 0);
}

void limits_fail(struct mux *m, const char *ip)
{
	struct lim_entry *e = lim_get(&m->limits->ips, ip, 1);
	long long now = mux_now_ms();

	if (now - e->window_start_ms >= (long long)window_ms(m)) {
		e->window_start_ms = now;
		e->fails = 0;
	}
	e->fails++;
}

int limits_ip_blocked(struct mux *m, const char *ip)
{
	struct lim_entry *e;
	long long now = mux_now_ms();

	if (m->conf.ip_fail_limit == 0)
		return 0;
	e = lim_get(&m->limits->ips, ip, 0);
	if (e == NULL)
		return 0;
	if (now - e->window_start_ms >= (long long)window_ms(m)) {
		e->fails = 0;
		return 0;
	}
	return e->fails >= m->conf.ip_fail_limit;
}

unsigned limits_ips_tracked(const struct mux *m)
{
	return m->limits->ips.n;
}
