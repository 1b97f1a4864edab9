/*
 * mux.h - rookery-mux, the front door (DESIGN.md, The mux): what every
 * file of mux/ shares.
 *
 * Files:
 *   main.c         options, listeners, the loop (one process, or a
 *                  worker of workers.c)
 *   workers.c      "workers = N": the master that binds, forks and
 *                  supervises the worker processes (mux/workers.h)
 *   shared.c       memory the workers share: their counters, snapshots
 *                  for the control socket, locks (mux/shared.h)
 *   mux_config.c   the [mux] section -> struct mux_config
 *   backend.c      outgoing connections to stores (connect with timeout,
 *                  lines or raw bytes, TLS optional): mux/backend.h
 *   proxy.c        the shared engine: route, connect, backend login as the
 *                  proxy identity, splice, session end: mux/proxy.h
 *   auth.c         pre-auth SASL / plaintext login shared by the fronts,
 *                  failure delays: mux/front.h
 *   imap_parse.c   the pure pre-auth IMAP/ManageSieve token reader
 *   imap_front.c   IMAP pre-auth and the IMAP backend dialogue
 *   pop3_front.c   POP3 pre-auth and the POP3 backend dialogue
 *   sieve_front.c  ManageSieve pre-auth and its backend dialogue
 *   lmtp_front.c   LMTP client side: envelope, per-recipient routing,
 *                  DATA, replies in order (mux/lmtp.h)
 *   lmtp_relay.c   one backend LMTP session per store and transaction
 *   route.c        user -> store -> address, cache, directory watch
 *   limits.c       connection caps and login-failure accounting, in
 *                  tables shared by every worker
 *   control.c      the control socket ("status")
 */
#ifndef ROOKERY_MUX_H
#define ROOKERY_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "directory.h"

struct config;
struct config_section;
struct conn;
struct net;
struct net_timer;
struct ssl_ctx_st;
struct proxy;
struct limits;
struct route_cache;
struct mux_shared;
struct event;

struct mux_config {
	const char *hostname;
	const char *proxy_identity;
	char *proxy_password;
	const char *default_store;	/* users missing from the directory */
	unsigned connect_timeout_ms;	/* backend connect + login */
	unsigned preauth_idle;		/* seconds */
	unsigned postauth_idle;		/* seconds, 0 = none */
	unsigned max_per_ip;		/* 0 = unlimited */
	unsigned max_per_user;		/* proxied sessions per user */
	unsigned auth_fail_delay_ms;	/* first delay, doubles */
	unsigned auth_fail_delay_max_ms;
	unsigned max_auth_failures;	/* per connection, then hang up */
	unsigned ip_fail_limit;		/* failures per window per IP */
	unsigned ip_fail_window;	/* seconds */
	unsigned route_cache_ms;
	unsigned directory_check_ms;
	unsigned kill_spread_ms;	/* spread of BYEs after a move */
	unsigned lmtp_max_rcpt;
	int allow_plaintext;
	const char *sieve_extensions;	/* advertised before login */
	const char *backend_tls_ca;	/* verify stores' certificates */
	unsigned workers;		/* processes; 1 = no master */
	unsigned max_connections;	/* all workers together, 0 = none */
	unsigned max_tracked_ips;	/* limits table sizes */
	unsigned max_tracked_users;
};

#define MUX_RATE_SLOTS 60

struct mux_stats {
	unsigned long logins;
	/* logins per second over the last minute: one slot per second */
	unsigned rate_count[MUX_RATE_SLOTS];
	long long rate_sec[MUX_RATE_SLOTS];
	unsigned long auth_failures;
	unsigned long auth_cache_hits;	/* passwords the login cache knew */
	unsigned long backend_failures;
	unsigned long sessions_killed;
	unsigned long refused_ip;
	unsigned long refused_user;
	unsigned long refused_rate;
	unsigned long lmtp_rcpts;
	unsigned long lmtp_tempfail;
};

struct mux {
	struct config *cfg;
	const struct config_section *sec;	/* [mux] */
	struct net *net;
	struct mux_config conf;
	struct mux_stats stats;
	struct directory *dir;
	struct route_cache *routes;
	struct net_timer *dir_timer;
	struct limits *limits;
	struct ssl_ctx_st *backend_tls;		/* client context to stores */
	int has_tls;				/* clients may STARTTLS */
	struct proxy *proxies;			/* every proxied session */
	unsigned n_proxies;
	long long started;			/* time(NULL) at start */
	/* workers > 1: the region every worker sees (this struct mux is
	 * then the worker's slot in it), the worker's index, and the event
	 * that answers snapshot requests.  NULL / 0 / NULL otherwise. */
	struct mux_shared *shared;
	unsigned worker;
	struct event *snap_ev;
	/* the stores' post-login IMAP capabilities, as the last login
	 * through this process saw them, less what the mux says itself
	 * (imap_front.c); NULL before the first login */
	char *imap_caps;
};

/* Protocol tables (conn_listener_arg() is the struct mux). */
extern const struct conn_ops mux_imap_ops;
extern const struct conn_ops mux_pop3_ops;
extern const struct conn_ops mux_sieve_ops;
extern const struct conn_ops mux_lmtp_ops;
extern const struct conn_ops mux_control_ops;

/* --- mux_config.c ------------------------------------------------------ */

/* Reads [mux] (falling back to [global]).  0 or -1 with *err_r. */
int mux_config_load(struct mux *m, char **err_r);
void mux_config_clear(struct mux_config *conf);

/* --- route.c ------------------------------------------------------------- */

enum route_result {
	ROUTE_OK = 0,
	ROUTE_NO_USER,		/* not in the directory, no default_store */
	ROUTE_DOWN,		/* store down, unknown, or no address for svc */
	ROUTE_ERROR,		/* the directory failed */
};

struct route {
	char store[DIR_NAME_MAX];
	char *addr;		/* allocated: "HOST:PORT [tls]" */
};

int route_init(struct mux *m, char **err_r);
void route_done(struct mux *m);
/* Resolves user for service svc (cache allowed unless fresh). Fills r on
 * ROUTE_OK (free with route_clear()). */
enum route_result route_resolve(struct mux *m, const char *user,
				enum dir_service svc, int fresh,
				struct route *r);
void route_clear(struct route *r);

/* --- limits.c ------------------------------------------------------------ */

/*
 * The tables live in shared memory made here, so create them before
 * fork: every worker then counts in the same tables.  n_workers counters
 * per entry, one per worker, so that a dead worker's share can be
 * dropped.  Tables hold at most max_ips / max_users entries; beyond that
 * the caps fail open (docs/mux.md).
 */
struct limits *limits_new(unsigned n_workers, unsigned max_ips,
			  unsigned max_users);
void limits_free(struct limits **l);
/* In a worker after fork: the counter this process uses. */
void limits_set_worker(struct limits *l, unsigned worker);
/* In the master: worker died; forget what it counted. */
void limits_worker_gone(struct limits *l, unsigned worker);
/* Counts a new connection from ip; -1 when over max_per_ip (not counted). */
int limits_ip_enter(struct mux *m, const char *ip);
void limits_ip_leave(struct mux *m, const char *ip);
/* Per-user proxied sessions: -1 when over max_per_user (not counted). */
int limits_user_enter(struct mux *m, const char *user);
void limits_user_leave(struct mux *m, const char *user);
/* Records a failed login from ip. */
void limits_fail(struct mux *m, const char *ip);
/* 1 when ip exceeded ip_fail_limit within ip_fail_window. */
int limits_ip_blocked(struct mux *m, const char *ip);
unsigned limits_ips_tracked(const struct mux *m);

/* --- proxy.c ------------------------------------------------------------- */

/* A pseudo-random number in [0, n) (jitter). */
unsigned mux_random(unsigned n);

#endif
