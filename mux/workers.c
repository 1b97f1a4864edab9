/*
 * workers.c - the master of a multi-process rookery-mux (workers.h).
 *
 * The master has no event loop: it holds SIGTERM, SIGINT, SIGHUP and
 * SIGCHLD blocked and takes them with sigtimedwait(), waking also when a
 * restart is due.  Workers inherit that mask and release it only once
 * libevent has installed its own handlers (workers_unblock_signals), so a
 * signal forwarded to a worker still starting is delivered, not lost and
 * not fatal.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mux/mux.h"
#include "mux/proxy.h"
#include "mux/shared.h"
#include "mux/workers.h"

/* A worker that ran this long before dying is restarted at once. */
#define WORKERS_STABLE_MS 10000
#define WORKERS_BACKOFF_MIN_MS 250
#define WORKERS_BACKOFF_MAX_MS 16000
/* After SIGTERM, workers still there after this get SIGKILL: they stop
 * within lib/net's grace period and hard deadline (4 s) normally. */
#define WORKERS_STOP_MS 10000
#define WORKERS_TICK_MS 1000

struct worker {
	pid_t pid;		/* 0: not running */
	long long started_ms;
	long long restart_at_ms; /* 0: none scheduled */
	unsigned backoff_ms;
	int ever_ready;
};

struct master {
	struct mux *tmpl;
	struct mux_shared *sh;
	struct worker *w;
	unsigned n;
	struct mux_listener *lst;
	unsigned n_lst;
	int (*fn)(struct mux *m, void *arg);
	void *arg;
	int stopping;
	long long stop_deadline_ms;
	int rc;
};

static sigset_t workers_saved_mask;

void workers_unblock_signals(void)
{
	sigprocmask(SIG_SETMASK, &workers_saved_mask, NULL);
}

void workers_ready(struct mux *m)
{
	__atomic_store_n(&m->shared->slot[m->worker].ready, 1,
			 __ATOMIC_RELEASE);
}

/* In the child: becomes worker i; never returns. */
static void child(struct master *ms, unsigned i, pid_t master_pid)
{
	struct mux_worker_slot *s = &ms->sh->slot[i];
	struct mux m = *ms->tmpl;
	int rc;

	/* nothing may outlive the master */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master_pid)
		exit(1);
	m.stats = s->m.stats;	/* the counters go on across restarts */
	m.shared = ms->sh;
	m.worker = i;
	limits_set_worker(m.limits, i);
	s->m = m;
	__atomic_store_n(&s->pid, (int)getpid(), __ATOMIC_RELEASE);
	s->started = (long long)time(NULL);
	rc = ms->fn(&s->m, ms->arg);
	exit(rc);
}

static void spawn(struct master *ms, unsigned i)
{
	struct worker *w = &ms->w[i];
	pid_t master_pid = getpid();
	pid_t pid;

	w->restart_at_ms = 0;
	__atomic_store_n(&ms->sh->slot[i].ready, 0, __ATOMIC_RELEASE);
	pid = fork();
	if (pid < 0) {
		log_warn("event=worker_fork_failed n=%u", i);
		w->restart_at_ms = mux_now_ms() + WORKERS_BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0)
		child(ms, i, master_pid);
	w->pid = pid;
	w->started_ms = mux_now_ms();
	__atomic_store_n(&ms->sh->slot[i].pid, (int)pid, __ATOMIC_RELEASE);
	log_info("event=worker_start pid=%d n=%u", (int)pid, i);
}

static unsigned running(const struct master *ms)
{
	unsigned k = 0;

	for (unsigned i = 0; i < ms->n; i++)
		k += ms->w[i].pid != 0;
	return k;
}

static void signal_all(struct master *ms, int sig)
{
	for (unsigned i = 0; i < ms->n; i++)
		if (ms->w[i].pid != 0)
			kill(ms->w[i].pid, sig);
}

static void begin_stop(struct master *ms, const char *why)
{
	if (!ms->stopping) {
		ms->stopping = 1;
		ms->stop_deadline_ms = mux_now_ms() + WORKERS_STOP_MS;
		log_info("event=master_stopping reason=%s workers=%u", why,
			 running(ms));
		/* the workers close theirs as they begin their shutdown;
		 * ours must go too or the kernel keeps queueing connections
		 * nobody will accept */
		for (unsigned i = 0; i < ms->n_lst; i++) {
			if (ms->lst[i].fd >= 0)
				close(ms->lst[i].fd);
			ms->lst[i].fd = -1;
		}
		for (unsigned i = 0; i < ms->n; i++)
			ms->w[i].restart_at_ms = 0;
	}
	/* again on a second signal: lib/net then skips the grace period */
	signal_all(ms, SIGTERM);
}

static void describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit:%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "signal:%d", WTERMSIG(status));
	else
		snprintf(buf, size, "other:%d", status);
}

static void worker_gone(struct master *ms, unsigned i, int status)
{
	struct mux_worker_slot *s = &ms->sh->slot[i];
	struct worker *w = &ms->w[i];
	long long now = mux_now_ms(), up = now - w->started_ms;
	int was_ready = __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE);
	pid_t pid = w->pid;
	char st[32];

	describe(status, st, sizeof(st));
	w->pid = 0;
	/* its connections died with it: so do their counts */
	limits_worker_gone(ms->tmpl->limits, i);
	mux_shm_lock(&ms->sh->snap_lock, "snapshot");
	s->conns = s->sessions = s->n_stores = s->other_sessions = 0;
	__atomic_store_n(&s->load, 0, __ATOMIC_RELAXED);
	mux_shm_unlock(&ms->sh->snap_lock);
	__atomic_store_n(&s->ready, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
	if (was_ready)
		w->ever_ready = 1;
	if (ms->stopping) {
		log_info("event=worker_exit pid=%d n=%u status=%s", (int)pid,
			 i, st);
		return;
	}
	if (!w->ever_ready) {
		/* it never got as far as its loop: a configuration or
		 * environment problem that a restart will not fix */
		log_warnx("event=worker_failed pid=%d n=%u status=%s "
			  "hint=\"see the worker's log lines above\"",
			  (int)pid, i, st);
		ms->rc = 1;
		begin_stop(ms, "worker_failed");
		return;
	}
	if (up >= WORKERS_STABLE_MS) {
		w->backoff_ms = 0;
		w->restart_at_ms = now;
	} else {
		w->backoff_ms = w->backoff_ms == 0 ? WORKERS_BACKOFF_MIN_MS
						   : w->backoff_ms * 2;
		if (w->backoff_ms > WORKERS_BACKOFF_MAX_MS)
			w->backoff_ms = WORKERS_BACKOFF_MAX_MS;
		w->restart_at_ms = now + w->backoff_ms;
	}
	log_warnx("event=worker_exit pid=%d n=%u status=%s uptime_ms=%lld "
		  "restart_in_ms=%lld",
		  (int)pid, i, st, up, w->restart_at_ms - now);
}

static void reap(struct master *ms)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < ms->n; i++) {
			if (ms->w[i].pid == pid) {
				worker_gone(ms, i, status);
				break;
			}
		}
	}
}

/* Milliseconds until the next thing the master must do on its own. */
static long long next_wake(const struct master *ms, long long now)
{
	long long t = now + WORKERS_TICK_MS;

	if (ms->stopping && ms->stop_deadline_ms < t)
		t = ms->stop_deadline_ms;
	for (unsigned i = 0; i < ms->n; i++)
		if (ms->w[i].restart_at_ms != 0 && ms->w[i].restart_at_ms < t)
			t = ms->w[i].restart_at_ms;
	return t > now ? t - now : 0;
}

static void supervise(struct master *ms, const sigset_t *set)
{
	while (!ms->stopping || running(ms) > 0) {
		long long now = mux_now_ms(), wait = next_wake(ms, now);
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
		int sig = sigtimedwait(set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			begin_stop(ms, sig == SIGTERM ? "TERM" : "INT");
		} else if (sig == SIGHUP && !ms->stopping) {
			log_info("event=reload signal=HUP workers=%u",
				 running(ms));
			signal_all(ms, SIGHUP);
		}
		reap(ms);
		now = mux_now_ms();
		if (ms->stopping && now >= ms->stop_deadline_ms &&
		    running(ms) > 0) {
			log_warnx("event=worker_kill workers=%u "
				  "reason=stop_timeout", running(ms));
			signal_all(ms, SIGKILL);
			ms->stop_deadline_ms = now + WORKERS_STOP_MS;
		}
		if (ms->stopping)
			continue;
		for (unsigned i = 0; i < ms->n; i++)
			if (ms->w[i].pid == 0 && ms->w[i].restart_at_ms != 0 &&
			    now >= ms->w[i].restart_at_ms)
				spawn(ms, i);
	}
}

int workers_run(struct mux *tmpl, struct mux_listener *lst, unsigned n_lst,
		int (*fn)(struct mux *m, void *arg), void *arg)
{
	struct master ms;
	sigset_t set;

	memset(&ms, 0, sizeof(ms));
	ms.tmpl = tmpl;
	ms.n = tmpl->conf.workers;
	ms.lst = lst;
	ms.n_lst = n_lst;
	ms.fn = fn;
	ms.arg = arg;
	ms.w = xcalloc(ms.n, sizeof(*ms.w));
	ms.sh = mux_shared_new(ms.n);
	ms.sh->master_pid = (int)getpid();
	for (unsigned i = 0; i < ms.n; i++) {
		ms.sh->slot[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (ms.sh->slot[i].efd < 0)
			fatal("event=fatal what=eventfd");
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &workers_saved_mask);
	log_info("event=master_started pid=%d workers=%u", (int)getpid(),
		 ms.n);
	for (unsigned i = 0; i < ms.n; i++)
		spawn(&ms, i);
	supervise(&ms, &set);

	for (unsigned i = 0; i < n_lst; i++)
		if (strncmp(lst[i].spec.addr, "unix:", 5) == 0)
			unlink(lst[i].spec.addr + 5);
	for (unsigned i = 0; i < ms.n; i++)
		close(ms.sh->slot[i].efd);
	mux_shared_free(&ms.sh);
	free(ms.w);
	sigprocmask(SIG_SETMASK, &workers_saved_mask, NULL);
	log_info("event=master_stopped status=%d", ms.rc);
	return ms.rc;
}
