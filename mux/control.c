/*
 * control.c - the mux's control socket ("listen = control unix:PATH"),
 * framed like the store's (docs/control-protocol.md): one command line,
 * data lines "* ...", one final "OK" or "NO" line.
 *
 *   status   "* state=running role=mux pid=N uptime=N connections=N
 *             sessions=N logins=N logins_per_min=N auth_failures=N ..."
 *             then one
 *             "* store=NAME sessions=N" line per store with sessions
 *   quit     "OK bye", then the connection closes
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

#define CONTROL_MAX_LINE 16384

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

static void status(struct conn *c, struct mux *m)
{
	const struct mux_stats *s = &m->stats;
	struct strbuf b;
	unsigned spliced = 0;

	for (const struct proxy *p = m->proxies; p != NULL; p = p->next)
		spliced += p->spliced != 0;
	strbuf_init(&b);
	strbuf_printf(&b,
		      "* state=running role=mux pid=%d uptime=%lld "
		      "connections=%u sessions=%u logins=%lu logins_per_min=%u "
		      "auth_failures=%lu "
		      "backend_failures=%lu sessions_moved=%lu refused_ip=%lu "
		      "refused_user=%lu rate_limited=%lu lmtp_rcpts=%lu "
		      "lmtp_tempfail=%lu",
		      (int)getpid(), (long long)time(NULL) - m->started,
		      net_conn_count(m->net), spliced, s->logins,
		      mux_logins_last_minute(m), s->auth_failures, s->backend_failures,
		      s->sessions_killed, s->refused_ip, s->refused_user,
		      s->refused_rate, s->lmtp_rcpts, s->lmtp_tempfail);
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

static int control_open(struct conn *c)
{
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
	(void)c;
	(void)reason;
}

const struct conn_ops mux_control_ops = {
	.proto = "control",
	.open = control_open,
	.line = control_line,
	.line_too_long = control_too_long,
	.close = control_close,
};
