/*
 * workers.h - "workers = N" (N > 1): the master process of rookery-mux
 * (docs/mux.md, Workers).
 *
 * main.c loads the configuration, makes the TLS contexts and the limits
 * tables, binds every listener (net_listen_bind(), as root when started
 * as root) and drops privileges; workers_run() then makes the shared
 * region (shared.h) and forks N workers.  Each worker gets its slot's
 * struct mux (a copy of the master's, counters kept across restarts) and
 * runs fn(m, arg): its own event loop, created after fork, on the
 * inherited listening sockets.  Every worker accepts on every listener;
 * the kernel hands each connection to one of them.
 *
 * The master only supervises: it logs event=worker_start, restarts a
 * worker that dies (back-off against crash loops; a worker that fails
 * before it ever ran its loop stops the whole mux, as a bad start of a
 * single process would), clears a dead worker's share of the limits
 * tables, forwards SIGHUP and SIGTERM/SIGINT, closes its listening
 * sockets when stopping, and returns once every worker is gone (killing
 * stragglers after WORKERS_STOP_MS).  Workers get SIGTERM should the
 * master die (PR_SET_PDEATHSIG).
 */
#ifndef ROOKERY_MUX_WORKERS_H
#define ROOKERY_MUX_WORKERS_H

#include "net.h"

struct mux;

/* One listen line, bound by the master (fd -1 until then). */
struct mux_listener {
	struct net_listen_spec spec;
	const struct conn_ops *ops;
	int fd;
};

/*
 * Runs the master for tmpl->conf.workers workers (in the master: returns
 * its exit status; in a worker: exits with fn's return value).  The
 * listeners' fds are closed (and set to -1) when the master stops; Unix
 * socket files are unlinked once the workers are gone.
 */
int workers_run(struct mux *tmpl, struct mux_listener *lst, unsigned n_lst,
		int (*fn)(struct mux *m, void *arg), void *arg);

/* In a worker, right after net_new() has taken the signals over: lets
 * the signals the master held back through. */
void workers_unblock_signals(void);
/* In a worker: its loop is about to run (the master counts a death
 * before this as a failed start). */
void workers_ready(struct mux *m);

#endif
