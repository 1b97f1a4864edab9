/*
 * proxy.h - the one proxy engine shared by IMAP, POP3 and ManageSieve.
 *
 * A front file authenticates the client itself, then calls proxy_start().
 * The engine pauses the client, resolves the route (route.c), takes a
 * per-user slot (limits.c), connects to the store, and hands every backend
 * line to the protocol's login dialogue (struct proxy_proto) until it says
 * PROXY_LOGIN_OK.  Then it calls proto->ready() (the front answers the
 * client), switches both sides to raw mode and copies bytes, pausing the
 * side that reads when the other side's output is high; on plain links,
 * bulk output of the store goes to the client through a pipe (splice.c,
 * splice(2)) while it lasts.  At the splice it also drops what only the
 * login needed (the front's SASL state through front_tls_reset(), the
 * dialogue scratch), since an idle spliced session may live for hours.
 *
 * Failures before the splice go to proto->failed() with a reason; the
 * client conn is resumed and the front carries on in pre-auth (or closes).
 * After the splice: a backend that ends, or a directory change that moves
 * the user's store (proxy_recheck_all), makes the engine call proto->bye()
 * and close the client.  Every session end is logged with bytes each way
 * and the duration.
 *
 * Ownership: proxy_start() stores the proxy in the front's slot (*slot)
 * at once.  When the login fails, the engine calls proto->failed(), frees
 * the proxy and sets *slot to NULL.  Otherwise the front frees it with
 * proxy_free(slot) from its conn close callback.  The conn's ctx must be
 * a struct whose first member is that slot (struct front, front.h), so
 * the engine finds the proxy from the conn.
 */
#ifndef ROOKERY_MUX_PROXY_H
#define ROOKERY_MUX_PROXY_H

#include <stddef.h>

#include "directory.h"
#include "log.h"
#include "strbuf.h"

struct conn;
struct mux;
struct proxy;
struct backend;
struct msplice;

enum proxy_login {
	PROXY_LOGIN_MORE = 0,	/* wait for the next backend line */
	PROXY_LOGIN_OK,		/* logged in: splice */
	PROXY_LOGIN_FAIL,	/* the store refused (or spoke nonsense) */
};

enum proxy_fail {
	PROXY_FAIL_NO_ROUTE = 0,	/* user not in the directory */
	PROXY_FAIL_UNAVAILABLE,		/* store down / unreachable / error */
	PROXY_FAIL_REFUSED,		/* the store refused our login */
	PROXY_FAIL_TOO_MANY,		/* per-user cap */
};

struct proxy_proto {
	const char *name;		/* "imap": logs */
	enum dir_service svc;
	/* Every backend line during the login; step counts from 0 (the
	 * greeting).  Use proxy_backend_printf() to send commands. */
	enum proxy_login (*login_line)(struct proxy *p, char *line,
				       size_t len);
	/* Logged in: answer the client (before any spliced byte). */
	void (*ready)(struct proxy *p);
	/* Before the splice: answer the client; the front's session goes
	 * on (the conn is resumed after this). */
	void (*failed)(struct proxy *p, enum proxy_fail why);
	/* After the splice: a goodbye before the client is closed. */
	void (*bye)(struct proxy *p, const char *why);
	/* The store closed: was it the end the client asked for (LOGOUT,
	 * QUIT)?  Looks at up_tail / down_tail.  NULL: never. */
	int (*clean_end)(const struct proxy *p);
};

/* The last bytes each way (NUL-terminated), for proto->clean_end. */
#define PROXY_TAIL 128

struct proxy {
	struct mux *m;
	struct conn *c;
	const struct proxy_proto *proto;
	void *front;			/* the front's session */
	struct backend *b;
	char *user;
	char *mech;			/* NULL once spliced (memory) */
	char store[DIR_NAME_MAX];
	char *addr;
	unsigned step;			/* login lines seen */
	struct strbuf text;		/* scratch for the dialogue (caps);
					   emptied after proto->ready() */
	int spliced;
	int ending;			/* bye sent / close requested */
	int user_slot;			/* holds a limits_user_enter() */
	unsigned long long bytes_up;	/* client -> store */
	unsigned long long bytes_down;	/* store -> client */
	long long t_start_ms;
	char up_tail[PROXY_TAIL];	/* client -> store */
	char down_tail[PROXY_TAIL];	/* store -> client; bytes relayed
					   through the pipe (splice.c) are
					   not in it */
	struct msplice *sp;		/* store -> client through a pipe,
					   during bulk output (splice.c) */
	int want_splice;		/* splice once the client drained */
	long long splice_retry_ms;	/* no pipe: not before this */
	struct net_timer *kill_timer;
	struct proxy **slot;		/* the front's pointer to us */
	struct proxy *prev, *next;	/* m->proxies */
};

/*
 * Starts proxying client c (authenticated as user with mech) for front.
 * The result comes later (or at once, for a failure) through
 * proto->ready / proto->failed.
 */
void proxy_start(struct mux *m, struct conn *c, void *front,
		 const struct proxy_proto *proto, const char *user,
		 const char *mech, struct proxy **slot);
/* Ends the session (logs it) and frees; NULL-safe, sets *p to NULL. */
void proxy_free(struct proxy **p, const char *reason);

/* For login dialogues. */
void proxy_backend_printf(struct proxy *p, const char *fmt, ...)
	LOG_PRINTF(2, 3);
/* base64 of "user\0proxy_identity\0proxy_password" (SASL PLAIN with the
 * user as authzid, RFC 4616); allocated. */
char *proxy_plain_response(const struct proxy *p);

/* After a directory change: ends (spread over kill_spread_ms) every
 * session whose user now resolves elsewhere or whose store is down. */
void proxy_recheck_all(struct mux *m);
/* Sessions on store name (status). */
unsigned proxy_count_store(const struct mux *m, const char *store);

/* Logins in the last 60 seconds (status: logins_per_min). */
unsigned mux_logins_last_minute(const struct mux *m);

/* Milliseconds of CLOCK_MONOTONIC. */
long long mux_now_ms(void);

#endif
