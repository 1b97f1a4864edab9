/*
 * control.c - the mux's control socket ("listen = control unix:PATH"),
 * framed like the store's (docs/control-protocol.md): one command line,
 * data lines "* ...", one final "OK" or "NO" line.
 *
 *   status   "* state=running role=mux pid=N uptime=N connections=N
 *             sessions=N logins=N logins_per_min=N auth_failures=N
 *             auth_cache_hits=N ..."
 *             then one
 *             "* store=NAME sessions=N" line per store with sessions
 *   quit     "OK bye", then the connection closes
 *
 * With "workers = N" any worker may answer: it asks the others for a
 * fresh snapshot of what only they can count (connections, sessions, per
 * store) through the shared region (shared.h), waits for them at most
 * CONTROL_WAIT_MS, and answers with totals over every worker (counters
 * read from the workers' own struct mux in that region), then one
 * "* worker=N pid=P ..." line per worker.  A worker that did not answer
 * in time is shown with its last snapshot and state=stale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "mux/mux.h"
#include "mux/proxy.h"
#include "mux/shared.h"

#define CONTROL_MAX_LINE 16384
#define CONTROL_WAIT_MS 300
#define CONTROL_POLL_MS 2

/* A control connection with workers: the status request in flight. */
struct control {
	struct mux *m;
	struct conn *c;
	struct net_timer *wait;
	unsigned gen;
	long long deadline_ms;
};

static void put(struct conn *c, const char *line)
{
	conn_puts(c, line);
	conn_write(c, "\n", 1);
}

static int seen_before(const struct proxy *p)
{
	for (const struct proxy *q = p->prev; q != NULL; q = q->prev)
		if (q->spliced && strcmp(q->store, p->store) == 0)
			return 1;
	return 0;
}

/* The first status line: the process (or, with workers, the master), its
 * connections and sessions, and the counters. */
static void status_line(struct strbuf *b, int pid, const struct mux *m,
			unsigned conns, unsigned sessions,
			const struct mux_stats *s, unsigned per_min)
{
	strbuf_printf(b,
		      "* state=running role=mux pid=%d uptime=%lld "
		      "connections=%u sessions=%u logins=%lu logins_per_min=%u "
		      "auth_failures=%lu auth_cache_hits=%lu "
		      "backend_failures=%lu sessions_moved=%lu refused_ip=%lu "
		      "refused_user=%lu rate_limited=%lu lmtp_rcpts=%lu "
		      "lmtp_tempfail=%lu",
		      pid, (long long)time(NULL) - m->started, conns, sessions,
		      s->logins, per_min, s->auth_failures, s->auth_cache_hits,
		      s->backend_failures,
		      s->sessions_killed, s->refused_ip, s->refused_user,
		      s->refused_rate, s->lmtp_rcpts, s->lmtp_tempfail);
}

static void status(struct conn *c, struct mux *m)
{
	const struct mux_stats *s = &m->stats;
	struct strbuf b;
	unsigned spliced = 0;

	for (const struct proxy *p = m->proxies; p != NULL; p = p->next)
		spliced += p->spliced != 0;
	strbuf_init(&b);
	status_line(&b, (int)getpid(), m, net_conn_count(m->net), spliced, s,
		    mux_logins_last_minute(m));
	put(c, b.data);
	for (const struct proxy *p = m->proxies; p != NULL; p = p->next) {
		if (!p->spliced || seen_before(p))
			continue;
		strbuf_reset(&b);
		strbuf_printf(&b, "* store=%s sessions=%u", p->store,
			      proxy_count_store(m, p->store));
		put(c, b.data);
	}
	strbuf_free(&b);
	put(c, "OK");
}

/* --- workers = N ---------------------------------------------------------- */

static unsigned long ld(const unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void stats_add(struct mux_stats *t, const struct mux_stats *s)
{
	t->logins += ld(&s->logins);
	t->auth_failures += ld(&s->auth_failures);
	t->auth_cache_hits += ld(&s->auth_cache_hits);
	t->backend_failures += ld(&s->backend_failures);
	t->sessions_killed += ld(&s->sessions_killed);
	t->refused_ip += ld(&s->refused_ip);
	t->refused_user += ld(&s->refused_user);
	t->refused_rate += ld(&s->refused_rate);
	t->lmtp_rcpts += ld(&s->lmtp_rcpts);
	t->lmtp_tempfail += ld(&s->lmtp_tempfail);
}

/* Adds slot s's store lines into the totals st[0..*n). */
static void stores_add(struct mux_snap_store *st, unsigned *n,
		       unsigned *other, const struct mux_worker_slot *s)
{
	for (unsigned k = 0; k < s->n_stores; k++) {
		unsigned i;

		for (i = 0; i < *n; i++)
			if (strcmp(st[i].name, s->stores[k].name) == 0)
				break;
		if (i == *n) {
			if (*n == MUX_SNAP_STORES) {
				*other += s->stores[k].sessions;
				continue;
			}
			st[i] = s->stores[k];
			(*n)++;
			continue;
		}
		st[i].sessions += s->stores[k].sessions;
	}
	*other += s->other_sessions;
}

static void status_workers(struct conn *c, struct mux *m, unsigned gen)
{
	struct mux_shared *sh = m->shared;
	struct mux_snap_store st[MUX_SNAP_STORES];
	struct mux_stats tot;
	unsigned conns = 0, sessions = 0, per_min = 0, n_st = 0, other = 0;
	struct strbuf b;

	memset(&tot, 0, sizeof(tot));
	strbuf_init(&b);
	mux_shm_lock(&sh->snap_lock, "snapshot");
	for (unsigned i = 0; i < sh->n; i++) {
		const struct mux_worker_slot *s = &sh->slot[i];

		stats_add(&tot, &s->m.stats);
		per_min += mux_logins_last_minute(&s->m);
		conns += s->conns;
		sessions += s->sessions;
		stores_add(st, &n_st, &other, s);
	}
	status_line(&b, sh->master_pid, m, conns, sessions, &tot, per_min);
	strbuf_printf(&b, " workers=%u", sh->n);
	put(c, b.data);
	for (unsigned i = 0; i < n_st; i++) {
		strbuf_reset(&b);
		strbuf_printf(&b, "* store=%s sessions=%u", st[i].name,
			      st[i].sessions);
		put(c, b.data);
	}
	if (other > 0) {
		strbuf_reset(&b);
		strbuf_printf(&b, "* store=(more) sessions=%u", other);
		put(c, b.data);
	}
	for (unsigned i = 0; i < sh->n; i++) {
		const struct mux_worker_slot *s = &sh->slot[i];
		int pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
		const char *state = "running";

		if (pid == 0)
			state = "down";
		else if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
			state = "starting";
		else if ((int)(__atomic_load_n(&s->snap_gen,
					       __ATOMIC_ACQUIRE) - gen) < 0)
			state = "stale";
		strbuf_reset(&b);
		strbuf_printf(&b,
			      "* worker=%u pid=%d state=%s connections=%u "
			      "sessions=%u logins=%lu logins_per_min=%u",
			      i, pid, state, s->conns, s->sessions,
			      ld(&s->m.stats.logins),
			      mux_logins_last_minute(&s->m));
		put(c, b.data);
	}
	mux_shm_unlock(&sh->snap_lock);
	strbuf_free(&b);
	put(c, "OK");
}

static void status_wait_cb(void *arg)
{
	struct control *ctl = arg;

	if (!mux_shared_answered(ctl->m, ctl->gen) &&
	    mux_now_ms() < ctl->deadline_ms)
		return;
	net_timer_stop(ctl->wait);
	status_workers(ctl->c, ctl->m, ctl->gen);
	conn_resume(ctl->c);
}

/* Asks every worker for its snapshot; answers when they have. */
static void status_request(struct conn *c, struct mux *m)
{
	struct control *ctl = conn_ctx(c);

	ctl->gen = mux_shared_refresh(m);
	if (mux_shared_answered(m, ctl->gen)) {
		status_workers(c, m, ctl->gen);
		return;
	}
	/* later commands wait in the buffer meanwhile */
	conn_pause(c);
	ctl->deadline_ms = mux_now_ms() + CONTROL_WAIT_MS;
	if (ctl->wait == NULL)
		ctl->wait = net_timer_new(m->net, status_wait_cb, ctl);
	net_timer_start(ctl->wait, CONTROL_POLL_MS, 1);
}

/* --- the protocol ---------------------------------------------------------- */

static int control_open(struct conn *c)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));

	ctl->m = conn_listener_arg(c);
	ctl->c = c;
	conn_set_ctx(c, ctl);
	conn_set_max_line(c, CONTROL_MAX_LINE);
	return 0;
}

static void control_line(struct conn *c, char *line, size_t len)
{
	struct mux *m = conn_listener_arg(c);

	if (strlen(line) != len) {
		put(c, "NO NUL byte in command");
		return;
	}
	if (strcmp(line, "status") == 0 || strncmp(line, "status ", 7) == 0) {
		if (m->shared != NULL)
			status_request(c, m);
		else
			status(c, m);
	} else if (strcmp(line, "quit") == 0) {
		put(c, "OK bye");
		conn_close(c);
	} else {
		put(c, "NO unknown command (the mux knows status, quit)");
	}
}

static void control_too_long(struct conn *c)
{
	put(c, "NO line too long");
}

static void control_close(struct conn *c, const char *reason)
{
	struct control *ctl = conn_ctx(c);

	(void)reason;
	if (ctl == NULL)
		return;
	net_timer_free(&ctl->wait);
	free(ctl);
	conn_set_ctx(c, NULL);
}

const struct conn_ops mux_control_ops = {
	.proto = "control",
	.open = control_open,
	.line = control_line,
	.line_too_long = control_too_long,
	.close = control_close,
};
