/*
 * shared.h - memory the mux's worker processes share ("workers = N",
 * mux/workers.c): one mapping created by the master before it forks, so
 * it sits at the same address in every process.
 *
 * It holds one slot per worker.  A slot's struct mux *is* that worker's
 * struct mux: the counters the protocol files bump (m->stats) are then
 * readable by whichever worker answers the control socket, with no hook
 * in those files.  The rest of that struct mux (pointers into the
 * worker's own heap) means nothing to the other processes; they only read
 * stats.  What cannot be counted in place (open connections, spliced
 * sessions, sessions per store) each worker writes into its slot's
 * snapshot when asked (mux_shared_refresh), through an eventfd per slot.
 *
 * The limits tables (limits.c) live in mappings of their own, also made
 * before fork.  Locks are process-shared robust mutexes: a worker killed
 * while holding one leaves it to the next locker (EOWNERDEAD), which
 * marks it consistent and goes on.
 */
#ifndef ROOKERY_MUX_SHARED_H
#define ROOKERY_MUX_SHARED_H

#include <pthread.h>
#include <stddef.h>

#include "directory.h"
#include "mux/mux.h"

#define MUX_MAX_WORKERS 64
/* Stores listed per worker in a snapshot; sessions on more go to other */
#define MUX_SNAP_STORES 64

struct mux_snap_store {
	char name[DIR_NAME_MAX];
	unsigned sessions;
};

struct mux_worker_slot {
	struct mux m;		/* the worker's own (see above) */
	int pid;		/* 0: no worker in this slot */
	int ready;		/* the worker runs its loop */
	int efd;		/* eventfd: "publish your snapshot" */
	unsigned snap_gen;	/* request generation last answered */
	long long started;	/* time(NULL) when the worker started */
	unsigned load;		/* client connections open (TCP), live */
	long long hold_until_ms; /* not accepting until then (balancing) */
	/* the snapshot, under mux_shared.snap_lock */
	unsigned conns;
	unsigned sessions;
	unsigned n_stores;
	unsigned other_sessions;
	struct mux_snap_store stores[MUX_SNAP_STORES];
};

struct mux_shared {
	unsigned n;			/* slots */
	int master_pid;
	unsigned req_gen;		/* snapshot request generation */
	pthread_mutex_t snap_lock;
	struct mux_worker_slot slot[];
};

/* Maps (and zeroes) a region of n slots; fatal on failure. */
struct mux_shared *mux_shared_new(unsigned n);
void mux_shared_free(struct mux_shared **sh);

/* Anonymous shared memory (zero-filled); fatal on failure. */
void *mux_shm_alloc(size_t size);
void mux_shm_free(void *p, size_t size);

/* Process-shared robust mutexes. */
void mux_shm_mutex_init(pthread_mutex_t *mu);
void mux_shm_lock(pthread_mutex_t *mu, const char *what);
void mux_shm_unlock(pthread_mutex_t *mu);

/* In a worker, on its loop: answer snapshot requests arriving on its
 * slot's eventfd.  mux_shared_watch_done() before the net goes. */
void mux_shared_watch(struct mux *m);
void mux_shared_watch_done(struct mux *m);
/* Writes m's snapshot into its slot (now). */
void mux_shared_publish(struct mux *m);
/*
 * Asks every other running worker for a fresh snapshot and publishes
 * m's own; returns the request generation for mux_shared_answered().
 */
unsigned mux_shared_refresh(struct mux *m);
/* 1 once every worker that was running has answered generation gen. */
int mux_shared_answered(const struct mux *m, unsigned gen);

/*
 * Accept balancing.  Every worker waits on every listening socket and
 * libevent accepts all that are queued at once, so whichever worker the
 * scheduler wakes first would take the lot.  Each worker counts its open
 * client connections in its slot; one that is more than
 * MUX_BALANCE_SLACK + 1/8 ahead of the least loaded running worker stops
 * accepting for MUX_BALANCE_HOLD_MS (net_accept_hold), and the others
 * take the next connections.  Only one worker holds at a time, so some
 * worker always accepts.  Under load the workers even out by themselves
 * (a busy one comes late to the race); this is for bursts and idle
 * sessions.  The slack is wide enough that short connections at moderate
 * concurrency never trigger it: a hold idles the holder for a whole
 * millisecond while the others may be busy, and with a slack of 4, 16
 * clients logging in over and over through 2 workers got 4,100 logins/s
 * instead of 5,600.  Called from limits.c, where every TCP client
 * connection is counted in and out; no-ops with one process.
 */
#define MUX_BALANCE_SLACK 16
#define MUX_BALANCE_HOLD_MS 1
void mux_shared_conn_open(struct mux *m);
void mux_shared_conn_close(struct mux *m);

#endif
