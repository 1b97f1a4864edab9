/*
 * main.c - rookery-mux: the front door for IMAP, POP3, ManageSieve and
 * LMTP (DESIGN.md, The mux; docs/mux.md).
 *
 *	rookery-mux -c CONFIG [-n NAME] [-d]
 *
 * Reads [mux] (or [mux NAME]), sets up logging, TLS (server side for
 * clients, client side for stores) and SASL, opens the directory, binds
 * every "listen" line, drops root and runs the loop until SIGTERM.
 *
 * With "workers = N" (N > 1) this process becomes the master instead: it
 * binds the listeners, drops root and forks N workers (workers.c), each
 * of which makes its own loop, SASL and directory handle and serves the
 * shared listeners; limits and counters are shared (limits.c, shared.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "net.h"
#include "sasl.h"
#include "strbuf.h"
#include "tls.h"
#include "mux/backend.h"
#include "mux/mux.h"
#include "mux/shared.h"
#include "mux/workers.h"

struct mux_proto {
	const char *name;
	const struct conn_ops *ops;
	int force_tls;
	int unix_only;
};

static const struct mux_proto mux_protos[] = {
	{"imap", &mux_imap_ops, 0, 0},
	{"imaps", &mux_imap_ops, 1, 0},
	{"pop3", &mux_pop3_ops, 0, 0},
	{"pop3s", &mux_pop3_ops, 1, 0},
	{"sieve", &mux_sieve_ops, 0, 0},
	{"lmtp", &mux_lmtp_ops, 0, 0},
	{"control", &mux_control_ops, 0, 1},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rookery-mux -c CONFIG [-n NAME] [-d]\n"
		"\n"
		"Runs the front door described by section [mux] (or [mux NAME])\n"
		"of CONFIG: IMAP, POP3, ManageSieve and LMTP, routed to the\n"
		"users' stores through the directory.\n"
		"\n"
		"  -c, --config FILE   configuration file\n"
		"  -n, --name NAME     use section [mux NAME]\n"
		"  -d, --debug         log protocol detail to stderr\n"
		"  -h, --help          this text\n");
}

static void log_setup(struct mux *m, const struct daemon_opts *o)
{
	enum log_level level = LOG_LEVEL_INFO;
	const char *lvl = config_get(m->sec, "log_level", "info");
	const char *dest = config_get(m->sec, "log", "stderr");

	if (log_level_parse(lvl, &level) < 0)
		fatalx("event=config_error error=\"log_level = %s\"", lvl);
	if (o->debug)
		level = LOG_LEVEL_DEBUG;
	log_init("rookery-mux", !o->debug && strcmp(dest, "syslog") == 0,
		 level);
}

static struct ssl_ctx_st *tls_setup(struct mux *m)
{
	const char *cert = config_get(m->sec, "tls_cert", NULL);
	const char *key = config_get(m->sec, "tls_key", NULL);
	struct ssl_ctx_st *ctx;
	char *err = NULL;

	m->backend_tls = tls_client_ctx_new(m->conf.backend_tls_ca, &err);
	if (m->backend_tls == NULL)
		fatalx("event=tls_error error=\"%s\"", err);
	if (backend_sessions_init(m->backend_tls) < 0)
		log_warnx("event=tls_warning what=\"no resumption of TLS "
			  "sessions to stores\"");
	if (cert == NULL || key == NULL)
		return NULL;
	ctx = tls_server_ctx_new(cert, key, &err);
	if (ctx == NULL)
		fatalx("event=tls_error error=\"%s\"", err);
	return ctx;
}

static const struct mux_proto *proto_of(const char *name)
{
	for (size_t i = 0; i < sizeof(mux_protos) / sizeof(*mux_protos); i++)
		if (strcmp(mux_protos[i].name, name) == 0)
			return &mux_protos[i];
	return NULL;
}

/* Every "listen" line, checked (nothing bound yet). */
static struct mux_listener *parse_listeners(struct mux *m, int have_tls,
					    unsigned *n_r)
{
	struct mux_listener *lst = NULL;
	const char *value;
	unsigned n;

	for (n = 0; (value = config_get_nth(m->sec, "listen", n)) != NULL;
	     n++) {
		struct mux_listener *l;
		const struct mux_proto *p;
		char *err = NULL;

		lst = xrealloc(lst, (n + 1) * sizeof(*lst));
		l = &lst[n];
		l->fd = -1;
		if (net_listen_parse(value, &l->spec, &err) < 0)
			fatalx("event=config_error error=\"%s\"", err);
		p = proto_of(l->spec.proto);
		if (p == NULL)
			fatalx("event=config_error error=\"listen = %s: "
			       "unknown protocol (imap imaps pop3 pop3s sieve "
			       "lmtp control)\"", value);
		if (p->force_tls)
			l->spec.tls = NET_TLS_IMPLICIT;
		if (p->unix_only && strncmp(l->spec.addr, "unix:", 5) != 0)
			fatalx("event=config_error error=\"listen = %s: the "
			       "control socket must be unix:PATH\"", value);
		if (l->spec.tls == NET_TLS_IMPLICIT && !have_tls)
			fatalx("event=listen_error error=\"listen %s %s tls: "
			       "no TLS certificate configured (tls_cert, "
			       "tls_key)\"", l->spec.proto, l->spec.addr);
		l->ops = p->ops;
	}
	if (n == 0)
		fatalx("event=config_error error=\"[mux] has no listen lines\"");
	*n_r = n;
	return lst;
}

static void listeners_free(struct mux_listener *lst, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (lst[i].fd >= 0)
			close(lst[i].fd);
		net_listen_spec_clear(&lst[i].spec);
	}
	free(lst);
}

/*
 * Lets the process use every descriptor it may: a proxied session costs
 * two (client and store), so the soft limit is what caps the sessions of
 * one process.  Says so when max_connections cannot fit.
 */
static void nofile_setup(const struct mux *m)
{
	unsigned per = m->conf.max_connections;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (per != 0)
		per = (per + m->conf.workers - 1) / m->conf.workers;
	if (per != 0 && rl.rlim_cur != RLIM_INFINITY &&
	    2ull * per + 64 > rl.rlim_cur)
		log_warnx("event=nofile_low limit=%llu "
			  "connections_per_process=%u sessions_fit=%llu "
			  "hint=\"a session takes 2 descriptors: raise "
			  "ulimit -n or workers\"",
			  (unsigned long long)rl.rlim_cur, per,
			  rl.rlim_cur > 64 ? (unsigned long long)
						 (rl.rlim_cur - 64) / 2 : 0ull);
}

static void net_setup(struct mux *m, struct ssl_ctx_st *tls_ctx)
{
	struct net_params np;

	memset(&np, 0, sizeof(np));
	np.tls_ctx = tls_ctx;
	/* divided among the workers: each pauses its listeners at its
	 * share, the others go on accepting (docs/mux.md, Workers) */
	np.max_connections = (m->conf.max_connections + m->conf.workers - 1) /
			     m->conf.workers;
	np.shutdown_grace_ms = 1000;
	m->net = net_new(&np);
}

/* One process: today's order, everything in this process. */
static int run_single(struct mux *m, struct ssl_ctx_st *tls_ctx,
		      struct mux_listener *lst, unsigned n_lst)
{
	char *err = NULL;

	if (saslsrv_init("rookery", m->sec, &err) < 0)
		fatalx("event=sasl_error error=\"%s\"", err);
	net_setup(m, tls_ctx);
	if (route_init(m, &err) < 0)
		fatalx("event=directory_error error=\"%s\"", err);
	for (unsigned i = 0; i < n_lst; i++) {
		if (net_listen(m->net, &lst[i].spec, lst[i].ops, m, &err) < 0)
			fatalx("event=listen_error error=\"%s\"", err);
		log_info("event=listening proto=%s addr=%s", lst[i].spec.proto,
			 lst[i].spec.addr);
	}
	net_drop_privileges(config_get(m->sec, "user", NULL));

	log_info("event=mux_started pid=%d", (int)getpid());
	net_run(m->net);

	route_done(m);
	saslsrv_done();
	net_free(&m->net);
	return 0;
}

struct worker_arg {
	struct ssl_ctx_st *tls_ctx;
	struct mux_listener *lst;
	unsigned n_lst;
};

/*
 * A worker (workers.c forked it; m is its slot of the shared region).
 * The loop is made here, after fork; so are SASL (its random state must
 * not be the same in every worker) and the directory handle (a Berkeley
 * DB or LDAP handle is no thing to share across fork).
 */
static int run_worker(struct mux *m, void *arg)
{
	struct worker_arg *wa = arg;
	char *err = NULL;

	net_setup(m, wa->tls_ctx);
	workers_unblock_signals();
	if (saslsrv_init("rookery", m->sec, &err) < 0)
		fatalx("event=sasl_error error=\"%s\"", err);
	if (route_init(m, &err) < 0)
		fatalx("event=directory_error error=\"%s\"", err);
	for (unsigned i = 0; i < wa->n_lst; i++) {
		if (net_listen_fd(m->net, wa->lst[i].fd, &wa->lst[i].spec,
				  wa->lst[i].ops, m, &err) < 0)
			fatalx("event=listen_error error=\"%s\"", err);
		/* the listener has its own duplicate; once it closes at
		 * shutdown no copy here keeps the socket accepting */
		close(wa->lst[i].fd);
		wa->lst[i].fd = -1;
	}
	mux_shared_watch(m);
	workers_ready(m);
	log_info("event=mux_started pid=%d worker=%u", (int)getpid(),
		 m->worker);
	net_run(m->net);

	mux_shared_watch_done(m);
	route_done(m);
	saslsrv_done();
	net_free(&m->net);
	free(m->imap_caps);
	m->imap_caps = NULL;
	log_info("event=mux_stopped worker=%u", m->worker);
	return 0;
}

/* workers > 1: bind as the master, drop root, fork and supervise. */
static int run_master(struct mux *m, struct ssl_ctx_st *tls_ctx,
		      struct mux_listener *lst, unsigned n_lst)
{
	struct worker_arg wa = {tls_ctx, lst, n_lst};
	char *err = NULL;

	for (unsigned i = 0; i < n_lst; i++) {
		lst[i].fd = net_listen_bind(&lst[i].spec, &err);
		if (lst[i].fd < 0)
			fatalx("event=listen_error error=\"%s\"", err);
		log_info("event=listening proto=%s addr=%s", lst[i].spec.proto,
			 lst[i].spec.addr);
	}
	net_drop_privileges(config_get(m->sec, "user", NULL));
	return workers_run(m, lst, n_lst, run_worker, &wa);
}

int main(int argc, char **argv)
{
	struct daemon_opts o;
	struct mux m;
	struct ssl_ctx_st *tls_ctx;
	struct mux_listener *lst;
	unsigned n_lst;
	char *err = NULL;
	int rc;

	daemon_parse_args(argc, argv, 0, usage, &o);
	log_init("rookery-mux", 0, LOG_LEVEL_INFO);
	memset(&m, 0, sizeof(m));
	if (config_load(o.config, &m.cfg, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	m.sec = config_section(m.cfg, "mux", o.name);
	if (m.sec == NULL)
		fatalx("event=config_error error=\"no [mux%s%s] section\"",
		       o.name ? " " : "", o.name ? o.name : "");
	log_setup(&m, &o);
	if (mux_config_load(&m, &err) < 0)
		fatalx("event=config_error error=\"%s\"", err);
	m.started = (long long)time(NULL);
	nofile_setup(&m);

	tls_ctx = tls_setup(&m);
	m.has_tls = tls_ctx != NULL;
	lst = parse_listeners(&m, m.has_tls, &n_lst);
	/* shared memory, made before any fork: global caps */
	m.limits = limits_new(m.conf.workers, m.conf.max_tracked_ips,
			      m.conf.max_tracked_users);
	if (m.conf.workers > 1)
		rc = run_master(&m, tls_ctx, lst, n_lst);
	else
		rc = run_single(&m, tls_ctx, lst, n_lst);

	listeners_free(lst, n_lst);
	limits_free(&m.limits);
	tls_ctx_free(&tls_ctx);
	backend_sessions_clear();
	tls_ctx_free(&m.backend_tls);
	free(m.imap_caps);
	mux_config_clear(&m.conf);
	config_free(&m.cfg);
	log_info("event=mux_stopped");
	return rc;
}
