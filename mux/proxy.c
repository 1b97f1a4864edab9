/*
 * proxy.c - the shared proxy engine (proxy.h): route, connect, backend
 * login, splice with backpressure, session end.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "net.h"
#include "strbuf.h"
#include "mux/backend.h"
#include "mux/front.h"
#include "mux/memtrim.h"
#include "mux/mux.h"
#include "mux/proxy.h"
#include "mux/splice.h"

/* Splice flow control: stop reading one side while the other side has
 * more than HIGH bytes queued, start again below LOW. */
#define PROXY_OUT_HIGH (256 * 1024)
#define PROXY_OUT_LOW (64 * 1024)
/* No pipe for a bulk relay (descriptors short, or the pipe allowance
 * spent): the buffered path for a while, rather than draining the client
 * for nothing at every block. */
#define PROXY_SPLICE_RETRY_MS 1000

unsigned mux_random(unsigned n)
{
	/* xorshift64*: jitter only, nothing secret */
	static unsigned long long x;

	if (x == 0)
		x = ((unsigned long long)time(NULL) << 20) ^
		    (unsigned long long)getpid() ^ 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	if (n == 0)
		return 0;
	return (unsigned)((x * 2685821657736338717ull) >> 33) % n;
}

long long mux_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void list_add(struct mux *m, struct proxy *p)
{
	p->next = m->proxies;
	if (m->proxies != NULL)
		m->proxies->prev = p;
	m->proxies = p;
	m->n_proxies++;
	memtrim_session_start(m->net);
}

static void list_del(struct mux *m, struct proxy *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		m->proxies = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	m->n_proxies--;
	memtrim_session_end();
}

char *proxy_plain_response(const struct proxy *p)
{
	const struct mux_config *cf = &p->m->conf;
	struct strbuf raw;
	unsigned char *out;
	int n;

	strbuf_init(&raw);
	strbuf_adds(&raw, p->user);
	strbuf_addc(&raw, '\0');
	strbuf_adds(&raw, cf->proxy_identity);
	strbuf_addc(&raw, '\0');
	strbuf_adds(&raw, cf->proxy_password ? cf->proxy_password : "");
	out = xmalloc(4 * ((raw.len + 2) / 3) + 1);
	n = EVP_EncodeBlock(out, (const unsigned char *)raw.data,
			    (int)raw.len);
	out[n < 0 ? 0 : n] = '\0';
	explicit_bzero(raw.data, raw.len);
	strbuf_free(&raw);
	return (char *)out;
}

void proxy_backend_printf(struct proxy *p, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	if (p->b == NULL)
		return;
	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	backend_write(p->b, b.data, b.len);
	explicit_bzero(b.data, b.len);
	strbuf_free(&b);
}

/* --- the end of a session ------------------------------------------------ */

static void proxy_fail(struct proxy *p, enum proxy_fail why,
		       const char *detail)
{
	static const char *const names[] = {"no_route", "unavailable",
					    "refused", "too_many"};
	char q[128];

	log_info("event=proxy_failed session=%s proto=%s user=%s store=%s "
		 "reason=%s detail=%s",
		 conn_id(p->c), p->proto->name, log_q(q, sizeof(q), p->user),
		 p->store[0] ? p->store : "-", names[why],
		 detail ? detail : "-");
	if (why == PROXY_FAIL_UNAVAILABLE || why == PROXY_FAIL_REFUSED)
		p->m->stats.backend_failures++;
	backend_free(&p->b);
	if (p->user_slot) {
		limits_user_leave(p->m, p->user);
		p->user_slot = 0;
	}
	p->ending = 1;
	p->proto->failed(p, why);
	conn_resume(p->c);
	*p->slot = NULL;
	proxy_free(&p, "failed");
}

/* Mid-session: goodbye to the client and close it (the front's close
 * callback frees p). */
static void proxy_end(struct proxy *p, const char *why)
{
	if (p->ending)
		return;
	p->ending = 1;
	/* what the pipe holds goes before the goodbye */
	msplice_stop(&p->sp, 1);
	backend_free(&p->b);
	p->proto->bye(p, why);
	conn_close(p->c);
}

void proxy_free(struct proxy **pp, const char *reason)
{
	struct proxy *p = *pp;
	char q[128];

	if (p == NULL)
		return;
	*pp = NULL;
	msplice_stop(&p->sp, 0);
	if (p->spliced)
		log_info("event=session_end session=%s proto=%s user=%s "
			 "store=%s bytes_in=%llu bytes_out=%llu "
			 "duration_ms=%lld reason=%s",
			 conn_id(p->c), p->proto->name,
			 log_q(q, sizeof(q), p->user), p->store, p->bytes_up,
			 p->bytes_down, mux_now_ms() - p->t_start_ms, reason);
	backend_free(&p->b);
	if (p->user_slot)
		limits_user_leave(p->m, p->user);
	net_timer_free(&p->kill_timer);
	list_del(p->m, p);
	strbuf_free(&p->text);
	free(p->user);
	free(p->mech);
	free(p->addr);
	free(p);
}

/* --- splice ---------------------------------------------------------------- */

/* Keeps the last PROXY_TAIL - 1 bytes of a stream in tail. */
static void tail_add(char *tail, const char *data, size_t len)
{
	size_t have = strlen(tail), max = PROXY_TAIL - 1;

	if (len >= max) {
		memcpy(tail, data + len - max, max);
		tail[max] = '\0';
		return;
	}
	if (have + len > max) {
		memmove(tail, tail + (have + len - max), max - len);
		have = max - len;
	}
	memcpy(tail + have, data, len);
	tail[have + len] = '\0';
}

static void tail_add_evbuffer(char *tail, struct evbuffer *b, size_t n)
{
	char buf[PROXY_TAIL];
	size_t take = n < PROXY_TAIL - 1 ? n : PROXY_TAIL - 1;
	struct evbuffer_ptr pos;

	if (evbuffer_ptr_set(b, &pos, n - take, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(b, &pos, buf, take) < 0)
		return;
	for (size_t i = 0; i < take; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	tail_add(tail, buf, take);
}

static void client_drained(struct conn *c);

/* The relay's small replies (splice.c), for clean_end and the log. */
static void down_tail_add(void *arg, const char *data, size_t len)
{
	struct proxy *p = arg;
	char buf[PROXY_TAIL];
	size_t take = len < PROXY_TAIL - 1 ? len : PROXY_TAIL - 1;

	memcpy(buf, data + len - take, take);
	for (size_t i = 0; i < take; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	tail_add(p->down_tail, buf, take);
}

static void client_raw(struct conn *c, struct evbuffer *in)
{
	struct proxy *p = *(struct proxy **)conn_ctx(c);
	size_t n = evbuffer_get_length(in);

	if (p == NULL || p->b == NULL || p->ending) {
		evbuffer_drain(in, n);
		return;
	}
	p->bytes_up += n;
	tail_add_evbuffer(p->up_tail, in, n);
	backend_move(p->b, in, n);
	if (backend_output_pending(p->b) > PROXY_OUT_HIGH) {
		conn_pause(c);
		backend_on_drain(p->b, PROXY_OUT_LOW);
	}
}

static void backend_raw(struct backend *b, struct evbuffer *in, void *arg)
{
	struct proxy *p = arg;
	size_t len;

	(void)b;
	len = evbuffer_get_length(in);
	/* the tail (for the session-end log line) keeps the last bytes */
	tail_add_evbuffer(p->down_tail, in, len);
	p->bytes_down += len;
	conn_write_move(p->c, in, len);
	if (len >= SPLICE_BULK && !p->ending && p->sp == NULL &&
	    backend_plain_fd(p->b) >= 0 && conn_plain_fd(p->c) >= 0 &&
	    (p->splice_retry_ms == 0 || mux_now_ms() >= p->splice_retry_ms)) {
		/* Bulk on plain links: once the client has taken what is
		 * buffered, the rest of the burst goes through a pipe
		 * (splice.c).  Stop reading meanwhile, so that nothing new
		 * is buffered in user space ahead of the pipe. */
		p->want_splice = 1;
		backend_pause(p->b);
		conn_on_drain(p->c, 0, client_drained);
	} else if (conn_output_pending(p->c) > PROXY_OUT_HIGH) {
		backend_pause(p->b);
		conn_on_drain(p->c, PROXY_OUT_LOW, client_drained);
	}
}

static void client_drained(struct conn *c)
{
	struct proxy *p = *(struct proxy **)conn_ctx(c);

	if (p == NULL || p->b == NULL)
		return;
	if (p->want_splice) {
		p->want_splice = 0;
		/* No pipe (EMFILE, a pipe too small) or something buffered
		 * after all: the buffered path goes on. */
		if (!p->ending &&
		    msplice_start(p->m, p->b, p->c, &p->bytes_down,
				  down_tail_add, p, &p->sp) < 0)
			p->splice_retry_ms =
			    mux_now_ms() + PROXY_SPLICE_RETRY_MS;
	}
	backend_resume(p->b);
}

static void backend_drained(struct backend *b, void *arg)
{
	struct proxy *p = arg;

	(void)b;
	conn_resume(p->c);
}

static void count_login(struct mux_stats *st)
{
	long long sec = mux_now_ms() / 1000;
	unsigned i = (unsigned)(sec % MUX_RATE_SLOTS);

	st->logins++;
	if (st->rate_sec[i] != sec) {
		st->rate_sec[i] = sec;
		st->rate_count[i] = 0;
	}
	st->rate_count[i]++;
}

unsigned mux_logins_last_minute(const struct mux *m)
{
	long long sec = mux_now_ms() / 1000;
	unsigned n = 0;

	for (unsigned i = 0; i < MUX_RATE_SLOTS; i++)
		if (sec - m->stats.rate_sec[i] < MUX_RATE_SLOTS)
			n += m->stats.rate_count[i];
	return n;
}

static void splice_start(struct proxy *p)
{
	char q[128];

	p->spliced = 1;
	count_login(&p->m->stats);
	p->t_start_ms = mux_now_ms();
	log_info("event=login session=%s proto=%s user=%s client=%s store=%s "
		 "backend=%s mech=%s tls=%d backend_tls=%s",
		 conn_id(p->c), p->proto->name, log_q(q, sizeof(q), p->user),
		 conn_peer(p->c), p->store, p->addr, p->mech,
		 conn_is_tls(p->c), backend_tls_state(p->b));
	backend_set_timeout(p->b, 0);
	p->proto->ready(p);
	/* From here on the session only copies bytes, often for hours:
	 * drop what only the login needed.  The Cyrus SASL server context
	 * is the big one (about 6 KB with its property context); a spliced
	 * session never returns to the pre-auth state that would use it
	 * (proxy.h: the conn's ctx starts with struct front). */
	front_tls_reset(conn_ctx(p->c));
	free(strbuf_steal(&p->text, NULL));
	free(p->mech);
	p->mech = NULL;
	conn_set_idle_timeout(p->c, p->m->conf.postauth_idle);
	backend_set_raw(p->b, 1);
	conn_set_raw(p->c, client_raw);
	conn_resume(p->c);
}

/* --- backend callbacks -------------------------------------------------- */

static void on_connected(struct backend *b, void *arg)
{
	struct proxy *p = arg;

	(void)b;
	log_debug("event=backend_connected session=%s backend=%s",
		  conn_id(p->c), p->addr);
}

static void on_line(struct backend *b, char *line, size_t len, void *arg)
{
	struct proxy *p = arg;
	enum proxy_login r;

	(void)b;
	if (p->spliced || p->ending)
		return;
	r = p->proto->login_line(p, line, len);
	p->step++;
	if (r == PROXY_LOGIN_OK)
		splice_start(p);
	else if (r == PROXY_LOGIN_FAIL)
		proxy_fail(p, PROXY_FAIL_REFUSED, "backend login refused");
}

static void on_error(struct backend *b, const char *why, void *arg)
{
	struct proxy *p = arg;

	(void)b;
	/* (the relay has left already when it reports a store's error; a
	 * failed write to the store may come while it runs) */
	msplice_stop(&p->sp, 1);
	if (!p->spliced) {
		proxy_fail(p, PROXY_FAIL_UNAVAILABLE, why);
		return;
	}
	if (strcmp(why, "eof") == 0 && p->proto->clean_end != NULL &&
	    p->proto->clean_end(p)) {
		/* the store said goodbye to a LOGOUT / QUIT: pass it on */
		p->ending = 1;
		backend_free(&p->b);
		conn_close(p->c);
		return;
	}
	log_info("event=backend_lost session=%s store=%s reason=%s",
		 conn_id(p->c), p->store, why);
	proxy_end(p, "backend connection lost");
}

static const struct backend_ops proxy_backend_ops = {
	.connected = on_connected,
	.line = on_line,
	.raw = backend_raw,
	.error = on_error,
	.drained = backend_drained,
};

void proxy_start(struct mux *m, struct conn *c, void *front,
		 const struct proxy_proto *proto, const char *user,
		 const char *mech, struct proxy **slot)
{
	struct proxy *p = xcalloc(1, sizeof(*p));
	struct route r;
	enum route_result rr;
	char *err = NULL;

	p->m = m;
	p->c = c;
	p->front = front;
	p->proto = proto;
	p->user = xstrdup(user);
	p->mech = xstrdup(mech ? mech : "?");
	strbuf_init(&p->text);
	p->slot = slot;
	*slot = p;
	list_add(m, p);
	conn_pause(c);

	if (limits_user_enter(m, user) < 0) {
		m->stats.refused_user++;
		proxy_fail(p, PROXY_FAIL_TOO_MANY, "max_per_user");
		return;
	}
	p->user_slot = 1;
	rr = route_resolve(m, user, proto->svc, 0, &r);
	if (rr != ROUTE_OK) {
		proxy_fail(p, rr == ROUTE_NO_USER ? PROXY_FAIL_NO_ROUTE
						  : PROXY_FAIL_UNAVAILABLE,
			   rr == ROUTE_DOWN ? "store down" : "directory");
		return;
	}
	memcpy(p->store, r.store, sizeof(p->store));
	p->addr = r.addr;
	r.addr = NULL;
	p->b = backend_connect(m, p->addr, m->conf.connect_timeout_ms,
			       &proxy_backend_ops, p, &err);
	if (p->b == NULL) {
		proxy_fail(p, PROXY_FAIL_UNAVAILABLE, err);
		free(err);
	}
}

/* --- directory changes ---------------------------------------------------- */

static void kill_fired(void *arg)
{
	struct proxy *p = arg;

	p->m->stats.sessions_killed++;
	log_info("event=session_moved session=%s user=%s store=%s",
		 conn_id(p->c), p->user, p->store);
	proxy_end(p, "store moved");
}

static int store_still_valid(struct proxy *p)
{
	struct dir_store st;
	char *err = NULL;
	int r, ok;

	r = directory_store_get(p->m->dir, p->store, &st, &err);
	if (r < 0) {
		free(err);
		return 1;	/* a failing directory moves nobody */
	}
	ok = r == 0 && st.up && st.addr[p->proto->svc] != NULL &&
	     p->addr != NULL && strcmp(st.addr[p->proto->svc], p->addr) == 0;
	dir_store_clear(&st);
	return ok;
}

static int still_valid(struct proxy *p)
{
	struct route r;
	int ok;

	/* With LDAP, users are not looked up again for every live session
	 * (thousands of round trips on the loop): only the store record,
	 * which lives in the file that just changed, is checked. */
	if (directory_users_remote(p->m->dir))
		return store_still_valid(p);
	switch (route_resolve(p->m, p->user, p->proto->svc, 1, &r)) {
	case ROUTE_OK:
		break;
	case ROUTE_ERROR:
		return 1;
	default:
		return 0;
	}
	ok = strcmp(r.store, p->store) == 0 && p->addr != NULL &&
	     strcmp(r.addr, p->addr) == 0;
	route_clear(&r);
	return ok;
}

void proxy_recheck_all(struct mux *m)
{
	for (struct proxy *p = m->proxies; p != NULL; p = p->next) {
		if (!p->spliced || p->ending || p->kill_timer != NULL)
			continue;
		if (still_valid(p))
			continue;
		/* Spread the goodbyes so clients do not all reconnect in the
		 * same instant. */
		p->kill_timer = net_timer_new(m->net, kill_fired, p);
		net_timer_start(p->kill_timer,
				1 + mux_random(m->conf.kill_spread_ms + 1), 0);
	}
}

unsigned proxy_count_store(const struct mux *m, const char *store)
{
	unsigned n = 0;

	for (const struct proxy *p = m->proxies; p != NULL; p = p->next)
		if (p->spliced && strcmp(p->store, store) == 0)
			n++;
	return n;
}
