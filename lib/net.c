/*
 * net.c - the event loop of a daemon: signals, graceful shutdown, the
 * cross-thread wake-up, timers and dropping root.  Listeners are in
 * net_listen.c, connections in net_conn.c.
 *
 * Shutdown (SIGTERM, SIGINT or net_shutdown()): the shutdown callback runs,
 * listeners close, every open connection gets ops->shutdown() (its goodbye)
 * and may still finish what it is doing; after shutdown_grace_ms every
 * connection left is closed (output flushed), and a second, hard deadline
 * frees whatever still has not gone.  The loop exits once no connection
 * is left.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#include "net_int.h"
#include "strbuf.h"

#define NET_DEFAULT_GRACE_MS 2000
#define NET_HARD_DEADLINE_MS 3000

static void net_exit_loop(struct net *n)
{
	if (!n->loop_exit_requested) {
		n->loop_exit_requested = 1;
		event_base_loopexit(n->base, NULL);
	}
}

void net_make_id(struct net *n, char id[13])
{
	/* an odd multiplier is a bijection modulo 2^48: unique ids for the
	 * life of the process, not guessable from one another at a glance */
	uint64_t v = (n->id_seed + n->id_counter++ * 0x9E3779B97F4A7C15ULL) &
		     0xFFFFFFFFFFFFULL;

	snprintf(id, 13, "%012llx", (unsigned long long)v);
}

void net_conn_gone(struct net *n)
{
	if (n->shutting_down) {
		if (n->n_conns == 0)
			net_exit_loop(n);
		return;
	}
	if (n->listeners_paused && (n->params.max_connections == 0 ||
				    n->n_conns < n->params.max_connections))
		net_listeners_pause(n, 0);
}

/* --- shutdown ----------------------------------------------------------- */

static void net_hard_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net *n = arg;

	(void)fd;
	(void)what;
	while (n->conns != NULL) {
		if (n->conns->reason == NULL)
			n->conns->reason = "shutdown";
		conn_destroy(n->conns);
	}
	net_exit_loop(n);
}

static void net_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net *n = arg;
	struct timeval tv = {NET_HARD_DEADLINE_MS / 1000,
			     (NET_HARD_DEADLINE_MS % 1000) * 1000};
	struct conn *c;

	(void)fd;
	(void)what;
	/* conn_close_reason() never frees synchronously: safe to walk */
	for (c = n->conns; c != NULL; c = c->next)
		conn_close_reason(c, "shutdown");
	if (n->n_conns == 0) {
		net_exit_loop(n);
		return;
	}
	n->hard_timer = evtimer_new(n->base, net_hard_deadline_cb, n);
	evtimer_add(n->hard_timer, &tv);
}

void net_shutdown(struct net *n)
{
	unsigned ms = n->params.shutdown_grace_ms ? n->params.shutdown_grace_ms
						  : NET_DEFAULT_GRACE_MS;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct conn *c;

	if (n->shutting_down)
		return;
	n->shutting_down = 1;
	log_info("event=shutdown conns=%u grace_ms=%u", n->n_conns, ms);
	if (n->shutdown_cb != NULL)
		n->shutdown_cb(n->shutdown_arg);
	net_listeners_close(n);
	for (c = n->conns; c != NULL; c = c->next) {
		if (c->closing || c->free_now)
			continue;
		if (!c->opened) {
			conn_close_reason(c, "shutdown");
			continue;
		}
		c->reason = "shutdown";
		if (!c->shutdown_sent && c->lst->ops->shutdown != NULL) {
			c->shutdown_sent = 1;
			c->lst->ops->shutdown(c);
		}
	}
	if (n->n_conns == 0) {
		net_exit_loop(n);
		return;
	}
	n->grace_timer = evtimer_new(n->base, net_grace_cb, n);
	evtimer_add(n->grace_timer, &tv);
}

static void net_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct net *n = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("event=reload signal=HUP");
		if (n->reload_cb != NULL)
			n->reload_cb(n->reload_arg);
		return;
	}
	if (n->shutting_down) {
		/* a second SIGTERM: do not wait for the grace period */
		log_info("event=shutdown_now");
		if (n->grace_timer != NULL && !n->hard_timer)
			event_active(n->grace_timer, EV_TIMEOUT, 0);
		return;
	}
	net_shutdown(n);
}

/* --- the net ------------------------------------------------------------ */

struct net *net_new(const struct net_params *params)
{
	struct net *n = xcalloc(1, sizeof(*n));

	if (params != NULL)
		n->params = *params;
	if (getrandom(&n->id_seed, sizeof(n->id_seed), 0) != sizeof(n->id_seed))
		n->id_seed = (uint64_t)getpid() * 0x100000001B3ULL ^
			     (uint64_t)time(NULL);
	n->base = event_base_new();
	if (n->base == NULL)
		fatalx("event=fatal what=event_base_new");
	signal(SIGPIPE, SIG_IGN);
	n->sig_term = evsignal_new(n->base, SIGTERM, net_signal_cb, n);
	n->sig_int = evsignal_new(n->base, SIGINT, net_signal_cb, n);
	n->sig_hup = evsignal_new(n->base, SIGHUP, net_signal_cb, n);
	if (n->sig_term == NULL || n->sig_int == NULL || n->sig_hup == NULL ||
	    evsignal_add(n->sig_term, NULL) < 0 ||
	    evsignal_add(n->sig_int, NULL) < 0 ||
	    evsignal_add(n->sig_hup, NULL) < 0)
		fatalx("event=fatal what=signals");
	return n;
}

void net_free(struct net **np)
{
	struct net *n = *np;

	if (n == NULL)
		return;
	n->shutting_down = 1;
	while (n->conns != NULL) {
		if (n->conns->reason == NULL)
			n->conns->reason = "shutdown";
		conn_destroy(n->conns);
	}
	net_listeners_free(n);
	event_free(n->sig_term);
	event_free(n->sig_int);
	event_free(n->sig_hup);
	if (n->grace_timer != NULL)
		event_free(n->grace_timer);
	if (n->hard_timer != NULL)
		event_free(n->hard_timer);
	event_base_free(n->base);
	free(n);
	*np = NULL;
}

struct event_base *net_base(struct net *n)
{
	return n->base;
}

unsigned net_last_port(const struct net *n)
{
	return n->last_port;
}

unsigned net_conn_count(const struct net *n)
{
	return n->n_conns;
}

void net_on_reload(struct net *n, void (*cb)(void *arg), void *arg)
{
	n->reload_cb = cb;
	n->reload_arg = arg;
}

void net_on_shutdown(struct net *n, void (*cb)(void *arg), void *arg)
{
	n->shutdown_cb = cb;
	n->shutdown_arg = arg;
}

int net_run(struct net *n)
{
	event_base_dispatch(n->base);
	return 0;
}

/* --- privileges --------------------------------------------------------- */

/*
 * Unix sockets bound so far (process-wide, like the privileges they
 * concern): a daemon binds them as root, and its peers running as the
 * unprivileged user (the mux, the CLI) must still be able to connect.
 */
#define NET_MAX_UNIX_SOCKETS 32
static char *net_unix_sockets[NET_MAX_UNIX_SOCKETS];
static unsigned net_n_unix_sockets;

void net_unix_socket_note(const char *path)
{
	if (net_n_unix_sockets < NET_MAX_UNIX_SOCKETS)
		net_unix_sockets[net_n_unix_sockets++] = xstrdup(path);
}

static void net_unix_sockets_chown(uid_t uid, gid_t gid)
{
	unsigned i;

	for (i = 0; i < net_n_unix_sockets; i++) {
		if (lchown(net_unix_sockets[i], uid, gid) < 0)
			log_warn("event=chown_socket path=%s",
				 net_unix_sockets[i]);
		free(net_unix_sockets[i]);
		net_unix_sockets[i] = NULL;
	}
	net_n_unix_sockets = 0;
}

void net_drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if (user == NULL || *user == '\0') {
		log_warnx("event=running_as_root hint=\"set user = in "
			  "[global]\"");
		return;
	}
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL)
		fatalx("event=fatal what=drop_privileges user=%s "
		       "error=\"no such user\"",
		       user);
	net_unix_sockets_chown(pw->pw_uid, pw->pw_gid);
	if (setgroups(1, &pw->pw_gid) < 0)
		fatal("event=fatal what=setgroups user=%s", user);
	if (setgid(pw->pw_gid) < 0)
		fatal("event=fatal what=setgid user=%s", user);
	if (setuid(pw->pw_uid) < 0)
		fatal("event=fatal what=setuid user=%s", user);
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0))
		fatalx("event=fatal what=drop_privileges user=%s "
		       "error=\"root could be regained\"",
		       user);
	log_info("event=dropped_privileges user=%s uid=%u gid=%u", user,
		 (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
}

/* --- async wake-ups ----------------------------------------------------- */

struct net_async {
	struct event *ev;
	int fd;
	void (*cb)(void *arg);
	void *arg;
};

static void net_async_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_async *a = arg;
	uint64_t v;

	(void)what;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	a->cb(a->arg);
}

struct net_async *net_async_new(struct net *n, void (*cb)(void *arg), void *arg)
{
	struct net_async *a = xcalloc(1, sizeof(*a));

	a->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->fd < 0)
		fatal("event=fatal what=eventfd");
	a->cb = cb;
	a->arg = arg;
	a->ev =
	    event_new(n->base, a->fd, EV_READ | EV_PERSIST, net_async_cb, a);
	if (a->ev == NULL || event_add(a->ev, NULL) < 0)
		fatalx("event=fatal what=net_async_new");
	return a;
}

/* Any thread.  eventfd adds to a counter, so triggers coalesce. */
void net_async_trigger(struct net_async *a)
{
	uint64_t one = 1;

	while (write(a->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void net_async_free(struct net_async **ap)
{
	struct net_async *a = *ap;

	if (a == NULL)
		return;
	event_free(a->ev);
	close(a->fd);
	free(a);
	*ap = NULL;
}

/* --- timers ------------------------------------------------------------- */

struct net_timer {
	struct event *ev;
	struct timeval tv;
	int repeat;
	void (*cb)(void *arg);
	void *arg;
};

static void net_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_timer *t = arg;

	(void)fd;
	(void)what;
	if (t->repeat)
		evtimer_add(t->ev, &t->tv);
	t->cb(t->arg);
}

struct net_timer *net_timer_new(struct net *n, void (*cb)(void *arg), void *arg)
{
	struct net_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	t->ev = evtimer_new(n->base, net_timer_cb, t);
	if (t->ev == NULL)
		fatalx("event=fatal what=net_timer_new");
	return t;
}

void net_timer_start(struct net_timer *t, unsigned ms, int repeat)
{
	t->tv.tv_sec = ms / 1000;
	t->tv.tv_usec = (ms % 1000) * 1000;
	t->repeat = repeat;
	evtimer_add(t->ev, &t->tv);
}

void net_timer_stop(struct net_timer *t)
{
	t->repeat = 0;
	evtimer_del(t->ev);
}

void net_timer_free(struct net_timer **tp)
{
	struct net_timer *t = *tp;

	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
	*tp = NULL;
}
