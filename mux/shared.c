/*
 * shared.c - the memory the mux's workers share, its locks, and the
 * per-worker snapshots for the control socket (shared.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "mux/mux.h"
#include "mux/proxy.h"
#include "mux/shared.h"

void *mux_shm_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("event=fatal what=mmap bytes=%zu", size);
	return p;
}

void mux_shm_free(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}

void mux_shm_mutex_init(pthread_mutex_t *mu)
{
	pthread_mutexattr_t a;

	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(mu, &a) != 0)
		fatalx("event=fatal what=shared_mutex");
	pthread_mutexattr_destroy(&a);
}

void mux_shm_lock(pthread_mutex_t *mu, const char *what)
{
	int r = pthread_mutex_lock(mu);

	if (r == EOWNERDEAD) {
		/* a worker died holding it (SIGKILL, a crash): what it was
		 * changing may be half done, which costs a count or two
		 * until the master clears the dead worker's share */
		log_warnx("event=shared_lock_recovered lock=%s", what);
		pthread_mutex_consistent(mu);
	} else if (r != 0) {
		errno = r;
		fatal("event=fatal what=shared_lock lock=%s", what);
	}
}

void mux_shm_unlock(pthread_mutex_t *mu)
{
	pthread_mutex_unlock(mu);
}

static size_t shared_size(unsigned n)
{
	return sizeof(struct mux_shared) + n * sizeof(struct mux_worker_slot);
}

struct mux_shared *mux_shared_new(unsigned n)
{
	struct mux_shared *sh = mux_shm_alloc(shared_size(n));

	sh->n = n;
	mux_shm_mutex_init(&sh->snap_lock);
	for (unsigned i = 0; i < n; i++)
		sh->slot[i].efd = -1;
	return sh;
}

void mux_shared_free(struct mux_shared **shp)
{
	struct mux_shared *sh = *shp;

	if (sh == NULL)
		return;
	mux_shm_free(sh, shared_size(sh->n));
	*shp = NULL;
}

static struct mux_worker_slot *my_slot(const struct mux *m)
{
	return &m->shared->slot[m->worker];
}

/* --- snapshots ----------------------------------------------------------- */

void mux_shared_publish(struct mux *m)
{
	struct mux_snap_store st[MUX_SNAP_STORES];
	struct mux_worker_slot *s = my_slot(m);
	unsigned n_st = 0, other = 0, spliced = 0;

	for (const struct proxy *p = m->proxies; p != NULL; p = p->next) {
		unsigned i;

		if (!p->spliced)
			continue;
		spliced++;
		for (i = 0; i < n_st; i++)
			if (strcmp(st[i].name, p->store) == 0)
				break;
		if (i == n_st) {
			if (n_st == MUX_SNAP_STORES) {
				other++;
				continue;
			}
			snprintf(st[i].name, sizeof(st[i].name), "%s",
				 p->store);
			st[i].sessions = 0;
			n_st++;
		}
		st[i].sessions++;
	}
	mux_shm_lock(&m->shared->snap_lock, "snapshot");
	s->conns = net_conn_count(m->net);
	s->sessions = spliced;
	s->n_stores = n_st;
	s->other_sessions = other;
	memcpy(s->stores, st, n_st * sizeof(*st));
	mux_shm_unlock(&m->shared->snap_lock);
	__atomic_store_n(&s->snap_gen,
			 __atomic_load_n(&m->shared->req_gen, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

static void request_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	mux_shared_publish(arg);
}

void mux_shared_watch(struct mux *m)
{
	struct mux_worker_slot *s = my_slot(m);

	m->snap_ev = event_new(net_base(m->net), s->efd, EV_READ | EV_PERSIST,
			       request_cb, m);
	if (m->snap_ev == NULL || event_add(m->snap_ev, NULL) < 0)
		fatalx("event=fatal what=snapshot_event");
}

void mux_shared_watch_done(struct mux *m)
{
	if (m->snap_ev != NULL)
		event_free(m->snap_ev);
	m->snap_ev = NULL;
}

static int slot_running(const struct mux_worker_slot *s)
{
	return __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE) != 0 &&
	       __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE);
}

unsigned mux_shared_refresh(struct mux *m)
{
	struct mux_shared *sh = m->shared;
	unsigned gen = __atomic_add_fetch(&sh->req_gen, 1, __ATOMIC_ACQ_REL);
	uint64_t one = 1;

	for (unsigned i = 0; i < sh->n; i++) {
		if (i == m->worker || !slot_running(&sh->slot[i]))
			continue;
		while (write(sh->slot[i].efd, &one, sizeof(one)) < 0 &&
		       errno == EINTR)
			;
	}
	mux_shared_publish(m);
	return gen;
}

int mux_shared_answered(const struct mux *m, unsigned gen)
{
	const struct mux_shared *sh = m->shared;

	for (unsigned i = 0; i < sh->n; i++) {
		const struct mux_worker_slot *s = &sh->slot[i];

		if (!slot_running(s))
			continue;
		/* generations wrap: compare by difference */
		if ((int)(__atomic_load_n(&s->snap_gen, __ATOMIC_ACQUIRE) -
			  gen) < 0)
			return 0;
	}
	return 1;
}

/* --- accept balancing ------------------------------------------------------ */

void mux_shared_conn_open(struct mux *m)
{
	struct mux_shared *sh = m->shared;
	unsigned mine, least = UINT_MAX;
	long long now;

	if (sh == NULL)
		return;
	mine = __atomic_add_fetch(&sh->slot[m->worker].load, 1,
				  __ATOMIC_RELAXED);
	for (unsigned i = 0; i < sh->n; i++) {
		unsigned load;

		if (i == m->worker || !slot_running(&sh->slot[i]))
			continue;
		load = __atomic_load_n(&sh->slot[i].load, __ATOMIC_RELAXED);
		if (load < least)
			least = load;
	}
	if (least == UINT_MAX || mine <= least + least / 8 + MUX_BALANCE_SLACK)
		return;
	now = mux_now_ms();
	for (unsigned i = 0; i < sh->n; i++)
		if (i != m->worker &&
		    __atomic_load_n(&sh->slot[i].hold_until_ms,
				    __ATOMIC_RELAXED) > now)
			return;	/* someone else holds: we accept */
	__atomic_store_n(&sh->slot[m->worker].hold_until_ms,
			 now + MUX_BALANCE_HOLD_MS, __ATOMIC_RELAXED);
	net_accept_hold(m->net, MUX_BALANCE_HOLD_MS);
}

void mux_shared_conn_close(struct mux *m)
{
	unsigned *load;

	if (m->shared == NULL)
		return;
	load = &m->shared->slot[m->worker].load;
	/* never below 0: the master zeroes a restarted worker's slot */
	if (__atomic_load_n(load, __ATOMIC_RELAXED) > 0)
		__atomic_sub_fetch(load, 1, __ATOMIC_RELAXED);
}
