/*
 * imapload.c - an IMAP load generator for bench/ (imaptest-like).
 *
 *   imapload -m fill -p PORT -u USER -w PASS -n COUNT [-c CONNS] [-s SEED]
 *   imapload -m mix  -p PORT -U FMT -w PASS -M USERS -c CLIENTS
 *            [-t SECONDS] [-n OPS] [-l LABEL]
 *   imapload -m sync -p PORT -u USER -w PASS [-l LABEL]
 *   imapload -m idle -p PORT -U FMT -w PASS -M USERS -k SESSIONS
 *            [-P PID] [-t SECONDS] [-l LABEL]
 *
 * fill  APPENDs COUNT varied messages (1-6 KB, plain and multipart, some
 *       flagged) to USER's INBOX over CONNS connections, 32 commands in
 *       flight on each (LITERAL+).
 * mix   CLIENTS threads, client i logs in as FMT with i % USERS (FMT holds
 *       one %d, e.g. "u%d@example.com"), selects INBOX and runs a weighted
 *       mix until SECONDS or OPS: FETCH flags (50 messages), FETCH headers
 *       (10 messages, Thunderbird's field list), FETCH body (1 message),
 *       STORE (+/-\Seen), APPEND, EXPUNGE (of one message it marked
 *       \Deleted), IDLE (enter and DONE), LOGOUT (then LOGIN and SELECT
 *       again).  Sequence numbers follow the EXISTS/EXPUNGE responses, so
 *       clients sharing a mailbox stay valid.  Prints one line per command
 *       (cmd=NAME ops= rate= p50_ms= p99_ms=) and a total line.
 * sync  Times "UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)" on INBOX
 *       (a client's first sync).
 * idle  One thread, epoll: opens SESSIONS connections, each pipelining
 *       LOGIN, SELECT INBOX and IDLE, counts those that reach "+ idling",
 *       holds them, and reports the memory of process PID and its
 *       descendants (VmRSS and Pss from /proc) before and after, per
 *       session.  Bounded by SECONDS.
 *
 * Every mode is bounded in time; every line printed is key=value.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 1024
#define READ_BUF (256 * 1024)
#define FILL_WINDOW 32

static const char *host = "127.0.0.1";
static int port;
static const char *mode = "mix";
static const char *user = "u1@example.com";
static const char *user_fmt = "u%d@example.com";
static const char *password = "bench";
static int nusers = 1;
static int nclients = 1;
static long max_ops = 100000000;
static long count = 1000;
static double max_secs = 10;
static const char *label = "imap";
static int idle_sessions = 100;
static int server_pid;
static double t_start;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "imapload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int dial(int nonblock)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("bad host %s", host);
	fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    !(nonblock && errno == EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- messages ------------------------------------------------------------ */

/* A varied message (1-6 KB): plain or multipart, some with Cc and
 * References.  Returns its length; buf holds at least 8 KB. */
static size_t make_message(char *buf, size_t cap, unsigned long n)
{
	size_t len = 0;
	unsigned lines = 10 + (unsigned)(n * 2654435761u % 70);
	int multipart = n % 4 == 3;

	len += (size_t)snprintf(buf + len, cap - len,
				"From: Sender %lu <sender%lu@example.org>\r\n"
				"To: Bench User <user@example.com>\r\n",
				n % 97, n % 97);
	if (n % 3 == 0)
		len += (size_t)snprintf(buf + len, cap - len,
					"Cc: Carol <carol@example.com>, "
					"\"Dave, Jr.\" <dave@example.net>\r\n");
	len +=
	    (size_t)snprintf(buf + len, cap - len,
			     "Subject: bench message %lu about topic %lu\r\n"
			     "Date: Tue, 17 Nov 2026 %02lu:%02lu:00 +0000\r\n"
			     "Message-ID: <bench.%lu@example.org>\r\n",
			     n, n % 13, n / 60 % 24, n % 60, n);
	if (n % 4 == 1)
		len +=
		    (size_t)snprintf(buf + len, cap - len,
				     "In-Reply-To: <bench.%lu@example.org>\r\n"
				     "References: <bench.%lu@example.org>\r\n",
				     n - 1, n - 1);
	if (multipart)
		len += (size_t)snprintf(
		    buf + len, cap - len,
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/alternative; boundary=\"b%lu\"\r\n"
		    "\r\n--b%lu\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "\r\n",
		    n, n);
	else
		len += (size_t)snprintf(buf + len, cap - len,
					"MIME-Version: 1.0\r\n"
					"Content-Type: text/plain; "
					"charset=us-ascii\r\n\r\n");
	for (unsigned i = 0; i < lines && len + 200 < cap; i++)
		len +=
		    (size_t)snprintf(buf + len, cap - len,
				     "Line %u of message %lu: the quick "
				     "brown fox jumps over the lazy dog.\r\n",
				     i, n);
	if (multipart)
		len +=
		    (size_t)snprintf(buf + len, cap - len,
				     "\r\n--b%lu\r\nContent-Type: text/html; "
				     "charset=utf-8\r\n\r\n<p>message %lu"
				     "</p>\r\n--b%lu--\r\n",
				     n, n, n);
	return len;
}

/* ---- one blocking IMAP connection ------------------------------------------
 */

struct imap {
	int fd;
	char *buf;
	size_t len, off;
	uint32_t exists;
	unsigned long tag;
	char last[256]; /* the last tagged or failing line */
};

enum { RES_OK = 0, RES_NO, RES_BAD, RES_CONT, RES_EOF };

static int fill_buf(struct imap *c)
{
	ssize_t got;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == READ_BUF)
		return -1;
	got = read(c->fd, c->buf + c->len, READ_BUF - c->len);
	if (got <= 0)
		return -1;
	c->len += (size_t)got;
	return 0;
}

/* The next line (without CRLF) at *line_r, length returned; -1 at EOF. */
static long next_line(struct imap *c, char **line_r)
{
	for (;;) {
		char *p = c->buf + c->off;
		char *nl = memchr(p, '\n', c->len - c->off);

		if (nl != NULL) {
			size_t n = (size_t)(nl - p);

			c->off += n + 1;
			if (n > 0 && p[n - 1] == '\r')
				n--;
			p[n] = '\0';
			*line_r = p;
			return (long)n;
		}
		if (fill_buf(c) < 0)
			return -1;
	}
}

static int skip_bytes(struct imap *c, unsigned long n)
{
	while (n > 0) {
		size_t have = c->len - c->off;

		if (have == 0) {
			if (fill_buf(c) < 0)
				return -1;
			continue;
		}
		if (have > n)
			have = n;
		c->off += have;
		n -= have;
	}
	return 0;
}

/* "{N}" at the end of a line: N, else -1. */
static long literal_at_end(const char *line, long n)
{
	long i;

	if (n < 3 || line[n - 1] != '}')
		return -1;
	for (i = n - 2; i > 0 && isdigit((unsigned char)line[i]); i--)
		;
	if (line[i] != '{' || i == n - 2)
		return -1;
	return atol(line + i + 1);
}

static void note_untagged(struct imap *c, const char *line)
{
	char *end;
	unsigned long v;

	if (line[0] != '*' || line[1] != ' ' ||
	    !isdigit((unsigned char)line[2]))
		return;
	v = strtoul(line + 2, &end, 10);
	if (strcmp(end, " EXISTS") == 0)
		c->exists = (uint32_t)v;
	else if (strcmp(end, " EXPUNGE") == 0 && c->exists > 0)
		c->exists--;
}

/*
 * Reads responses up to the tagged reply of tag (or a "+" continuation
 * when want_cont).  Literals are skipped; *fetches_r (when not NULL)
 * counts untagged FETCH responses.
 */
static int read_reply(struct imap *c, const char *tag, int want_cont,
		      long *fetches_r)
{
	size_t tl = strlen(tag);

	for (;;) {
		char *line;
		long n = next_line(c, &line), lit;
		int first = 1;

		if (n < 0)
			return RES_EOF;
		for (;;) {
			if (first) {
				if (line[0] == '*') {
					note_untagged(c, line);
					if (fetches_r != NULL &&
					    strstr(line, " FETCH (") != NULL)
						(*fetches_r)++;
				} else if (line[0] == '+' && want_cont) {
					return RES_CONT;
				} else if (strncmp(line, tag, tl) == 0 &&
					   line[tl] == ' ') {
					snprintf(c->last, sizeof(c->last), "%s",
						 line);
					if (strncmp(line + tl + 1, "OK", 2) ==
					    0)
						return RES_OK;
					return strncmp(line + tl + 1, "NO",
						       2) == 0
						   ? RES_NO
						   : RES_BAD;
				}
			}
			lit = literal_at_end(line, n);
			if (lit < 0)
				break;
			if (skip_bytes(c, (unsigned long)lit) < 0 ||
			    (n = next_line(c, &line)) < 0)
				return RES_EOF;
			first = 0;
		}
	}
}

static int command(struct imap *c, long *fetches_r, const char *fmt, ...)
{
	char tag[24], cmd[2048];
	va_list ap;
	int n;

	snprintf(tag, sizeof(tag), "t%lu", ++c->tag);
	n = snprintf(cmd, sizeof(cmd), "%s ", tag);
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, "\r\n");
	if (write_all(c->fd, cmd, (size_t)n) < 0)
		return RES_EOF;
	return read_reply(c, tag, 0, fetches_r);
}

static int imap_open(struct imap *c)
{
	char *line;

	memset(c, 0, sizeof(*c));
	c->buf = malloc(READ_BUF + 1);
	if (c->buf == NULL)
		die("out of memory");
	c->fd = dial(0);
	if (c->fd < 0)
		return -1;
	if (next_line(c, &line) < 0 || strncmp(line, "* OK", 4) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void imap_close(struct imap *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* ---- fill -----------------------------------------------------------------
 */

static atomic_long fill_next;
static atomic_long fill_failed;

static void *fill_main(void *arg)
{
	struct imap c;
	char *msg = malloc(16384), tag[24];
	long inflight = 0, sent_tag = 0, read_tag = 0;

	(void)arg;
	if (msg == NULL || imap_open(&c) < 0 ||
	    command(&c, NULL, "LOGIN \"%s\" \"%s\"", user, password) != RES_OK)
		die("fill: cannot log in as %s", user);
	for (;;) {
		long n = -1;

		if (inflight < FILL_WINDOW &&
		    (n = atomic_fetch_add(&fill_next, 1)) < count) {
			size_t len =
			    make_message(msg + 256, 16000, (unsigned long)n);
			int h = snprintf(msg, 256,
					 "f%ld APPEND INBOX (%s) {%zu+}\r\n",
					 ++sent_tag,
					 n % 10 < 6    ? "\\Seen"
					 : n % 10 == 6 ? "\\Seen \\Flagged"
						       : "",
					 len);

			if (write_all(c.fd, msg, (size_t)h) < 0 ||
			    write_all(c.fd, msg + 256, len) < 0 ||
			    write_all(c.fd, "\r\n", 2) < 0)
				die("fill: write failed");
			inflight++;
			continue;
		}
		if (inflight == 0)
			break;
		snprintf(tag, sizeof(tag), "f%ld", ++read_tag);
		if (read_reply(&c, tag, 0, NULL) != RES_OK) {
			atomic_fetch_add(&fill_failed, 1);
			fprintf(stderr, "imapload: fill: %s\n", c.last);
		}
		inflight--;
	}
	command(&c, NULL, "LOGOUT");
	imap_close(&c);
	free(msg);
	return NULL;
}

static int run_fill(void)
{
	pthread_t th[MAX_CLIENTS];
	double t0 = now();

	for (int i = 0; i < nclients; i++)
		pthread_create(&th[i], NULL, fill_main, NULL);
	for (int i = 0; i < nclients; i++)
		pthread_join(th[i], NULL);
	printf("label=%s mode=fill user=%s messages=%ld failed=%ld secs=%.2f "
	       "rate=%.1f\n",
	       label, user, count, (long)fill_failed, now() - t0,
	       (double)count / (now() - t0));
	return fill_failed > 0;
}

/* ---- mix ------------------------------------------------------------------
 */

enum op {
	OP_LOGIN = 0,
	OP_SELECT,
	OP_FETCH_FLAGS,
	OP_FETCH_HEADERS,
	OP_FETCH_BODY,
	OP_STORE,
	OP_APPEND,
	OP_EXPUNGE,
	OP_IDLE,
	OP_LOGOUT,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "LOGIN", "SELECT", "FETCH_FLAGS", "FETCH_HEADERS", "FETCH_BODY",
    "STORE", "APPEND", "EXPUNGE",     "IDLE",	       "LOGOUT",
};

/* Weights of the ops a logged-in client picks (LOGIN and SELECT follow
 * LOGOUT), close to imaptest's default profile. */
static const int op_weight[OP_COUNT] = {
    [OP_FETCH_FLAGS] = 20, [OP_FETCH_HEADERS] = 20, [OP_FETCH_BODY] = 15,
    [OP_STORE] = 15,	   [OP_APPEND] = 10,	    [OP_EXPUNGE] = 8,
    [OP_IDLE] = 7,	   [OP_LOGOUT] = 5,
};

struct lat {
	double *v;
	long n, cap;
};

struct client {
	pthread_t thread;
	int id;
	unsigned seed;
	struct lat lat[OP_COUNT];
	long errors;
	char err[300];
};

static atomic_long ops_started;

static void lat_add(struct lat *l, double v)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, sizeof(double) * (size_t)l->cap);
		if (l->v == NULL)
			die("out of memory");
	}
	l->v[l->n++] = v;
}

static uint32_t pick_msn(struct client *cl, struct imap *c)
{
	return c->exists ? 1 + (uint32_t)rand_r(&cl->seed) % c->exists : 0;
}

static int session_start(struct client *cl, struct imap *c)
{
	char u[256];
	double t0 = now();

	snprintf(u, sizeof(u), user_fmt, cl->id % nusers + 1);
	if (imap_open(c) < 0)
		return -1;
	if (command(c, NULL, "LOGIN \"%s\" \"%s\"", u, password) != RES_OK)
		return -1;
	lat_add(&cl->lat[OP_LOGIN], now() - t0);
	t0 = now();
	if (command(c, NULL, "SELECT INBOX") != RES_OK)
		return -1;
	lat_add(&cl->lat[OP_SELECT], now() - t0);
	return 0;
}

static int do_idle(struct imap *c)
{
	char tag[24], cmd[40];
	int n;

	snprintf(tag, sizeof(tag), "t%lu", ++c->tag);
	n = snprintf(cmd, sizeof(cmd), "%s IDLE\r\n", tag);
	if (write_all(c->fd, cmd, (size_t)n) < 0 ||
	    read_reply(c, tag, 1, NULL) != RES_CONT ||
	    write_all(c->fd, "DONE\r\n", 6) < 0)
		return RES_EOF;
	return read_reply(c, tag, 0, NULL);
}

static int do_append(struct imap *c, char *msg, unsigned long n)
{
	size_t len = make_message(msg, 16000, n);
	char tag[24], head[96];
	int h;

	snprintf(tag, sizeof(tag), "t%lu", ++c->tag);
	h = snprintf(head, sizeof(head), "%s APPEND INBOX {%zu+}\r\n", tag,
		     len);
	if (write_all(c->fd, head, (size_t)h) < 0 ||
	    write_all(c->fd, msg, len) < 0 || write_all(c->fd, "\r\n", 2) < 0)
		return RES_EOF;
	return read_reply(c, tag, 0, NULL);
}

static int run_op(struct client *cl, struct imap *c, enum op op, char *msg)
{
	uint32_t a = pick_msn(cl, c), b;

	if (a == 0 && op != OP_APPEND && op != OP_IDLE && op != OP_LOGOUT)
		op = OP_APPEND;
	switch (op) {
	case OP_FETCH_FLAGS:
		b = a + 49 > c->exists ? c->exists : a + 49;
		return command(c, NULL, "FETCH %u:%u (UID FLAGS)", a, b);
	case OP_FETCH_HEADERS:
		b = a + 9 > c->exists ? c->exists : a + 9;
		return command(
		    c, NULL,
		    "FETCH %u:%u (UID RFC822.SIZE FLAGS "
		    "BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date "
		    "Message-ID References In-Reply-To Content-Type)])",
		    a, b);
	case OP_FETCH_BODY:
		return command(c, NULL, "FETCH %u (BODY.PEEK[])", a);
	case OP_STORE:
		return command(c, NULL, "STORE %u %cFLAGS (\\Seen)", a,
			       rand_r(&cl->seed) % 2 ? '+' : '-');
	case OP_APPEND:
		return do_append(c, msg, (unsigned long)rand_r(&cl->seed));
	case OP_EXPUNGE:
		if (command(c, NULL, "STORE %u +FLAGS.SILENT (\\Deleted)", a) !=
		    RES_OK)
			return RES_NO;
		return command(c, NULL, "EXPUNGE");
	case OP_IDLE:
		return do_idle(c);
	case OP_LOGOUT:
		return command(c, NULL, "LOGOUT");
	default:
		return RES_BAD;
	}
}

static enum op pick_op(struct client *cl)
{
	int total = 0, r;

	for (int i = 0; i < OP_COUNT; i++)
		total += op_weight[i];
	r = rand_r(&cl->seed) % total;
	for (int i = 0; i < OP_COUNT; i++) {
		if (r < op_weight[i])
			return (enum op)i;
		r -= op_weight[i];
	}
	return OP_FETCH_FLAGS;
}

static void *mix_main(void *arg)
{
	struct client *cl = arg;
	struct imap c;
	char *msg = malloc(16384);

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if (msg == NULL || session_start(cl, &c) < 0) {
		snprintf(cl->err, sizeof(cl->err), "start: %s", c.last);
		cl->errors++;
		imap_close(&c);
		free(msg);
		return NULL;
	}
	while (atomic_fetch_add(&ops_started, 1) < max_ops &&
	       now() - t_start < max_secs) {
		enum op op = pick_op(cl);
		double t0 = now();
		int r = run_op(cl, &c, op, msg);

		if (r == RES_EOF && op != OP_LOGOUT) {
			snprintf(cl->err, sizeof(cl->err),
				 "%s: connection lost", op_names[op]);
			cl->errors++;
			break;
		}
		if (r != RES_OK) {
			snprintf(cl->err, sizeof(cl->err), "%s: %s",
				 op_names[op], c.last);
			cl->errors++;
			continue;
		}
		lat_add(&cl->lat[op], now() - t0);
		if (op == OP_LOGOUT) {
			imap_close(&c);
			if (session_start(cl, &c) < 0) {
				snprintf(cl->err, sizeof(cl->err),
					 "relogin: %s", c.last);
				cl->errors++;
				break;
			}
		}
	}
	command(&c, NULL, "LOGOUT");
	imap_close(&c);
	free(msg);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_mix(void)
{
	static struct client clients[MAX_CLIENTS];
	long total = 0, errors = 0;
	double elapsed;

	t_start = now();
	for (int i = 0; i < nclients; i++) {
		clients[i].id = i;
		clients[i].seed = 12345u + (unsigned)i * 7919u;
		pthread_create(&clients[i].thread, NULL, mix_main, &clients[i]);
	}
	for (int i = 0; i < nclients; i++) {
		pthread_join(clients[i].thread, NULL);
		errors += clients[i].errors;
		if (clients[i].err[0] != '\0')
			fprintf(stderr,
				"imapload: client %d: %s (%ld errors)\n", i,
				clients[i].err, clients[i].errors);
	}
	elapsed = now() - t_start;
	for (int op = 0; op < OP_COUNT; op++) {
		struct lat all = {0};

		for (int i = 0; i < nclients; i++)
			for (long k = 0; k < clients[i].lat[op].n; k++)
				lat_add(&all, clients[i].lat[op].v[k]);
		if (all.n > 0)
			qsort(all.v, (size_t)all.n, sizeof(double), cmp_double);
		printf("label=%s mode=mix cmd=%s ops=%ld rate=%.1f p50_ms=%.2f "
		       "p99_ms=%.2f\n",
		       label, op_names[op], all.n, (double)all.n / elapsed,
		       all.n ? all.v[all.n / 2] * 1000 : 0.0,
		       all.n ? all.v[(long)((double)all.n * 0.99)] * 1000
			     : 0.0);
		total += all.n;
		free(all.v);
		for (int i = 0; i < nclients; i++)
			free(clients[i].lat[op].v);
	}
	printf("label=%s mode=mix cmd=TOTAL clients=%d users=%d ops=%ld "
	       "errors=%ld secs=%.2f rate=%.1f\n",
	       label, nclients, nusers, total, errors, elapsed,
	       (double)total / elapsed);
	return total == 0;
}

/* ---- first sync -----------------------------------------------------------
 */

static int run_sync(void)
{
	struct imap c;
	long fetches = 0;
	double t0, secs;
	int r;

	if (imap_open(&c) < 0 ||
	    command(&c, NULL, "LOGIN \"%s\" \"%s\"", user, password) !=
		RES_OK ||
	    command(&c, NULL, "SELECT INBOX") != RES_OK)
		die("sync: cannot log in and select: %s", c.last);
	t0 = now();
	r = command(&c, &fetches,
		    "UID FETCH 1:* (UID FLAGS RFC822.SIZE "
		    "ENVELOPE)");
	secs = now() - t0;
	if (r != RES_OK)
		die("sync: %s", c.last);
	printf("label=%s mode=sync user=%s exists=%u fetched=%ld secs=%.3f "
	       "rate=%.1f\n",
	       label, user, c.exists, fetches, secs, (double)fetches / secs);
	command(&c, NULL, "LOGOUT");
	imap_close(&c);
	return fetches == 0;
}

/* ---- idle -----------------------------------------------------------------
 */

/* kB of VmRSS and Pss of pid and all its descendants (Dovecot runs a
 * process per connection or per group of connections). */
#define MAX_PROCS 131072
static int proc_pid[MAX_PROCS], proc_ppid[MAX_PROCS], tree[MAX_PROCS];

static void tree_memory(int pid, long *rss_r, long *pss_r)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int nproc = 0, n = 0;

	*rss_r = *pss_r = 0;
	if (d == NULL || pid <= 0) {
		if (d != NULL)
			closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL && nproc < MAX_PROCS) {
		char path[300], buf[512], *p;
		int p_pid = atoi(e->d_name), pp;
		FILE *f;

		if (p_pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", p_pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &pp) == 1) {
			proc_pid[nproc] = p_pid;
			proc_ppid[nproc++] = pp;
		}
		fclose(f);
	}
	closedir(d);
	tree[n++] = pid;
	for (int i = 0; i < n; i++)
		for (int q = 0; q < nproc; q++)
			if (proc_ppid[q] == tree[i] && n < MAX_PROCS)
				tree[n++] = proc_pid[q];
	for (int i = 0; i < n; i++) {
		char path[64], line[256];
		FILE *f;
		long v;

		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", tree[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "Rss: %ld", &v) == 1)
				*rss_r += v;
			else if (sscanf(line, "Pss: %ld", &v) == 1)
				*pss_r += v;
		}
		fclose(f);
	}
}

struct idle_conn {
	int fd;
	int state; /* 0 connecting, 1 sent, 2 idling, 3 dead */
	int at_bol;
	int sent_len;
};

static void idle_send(struct idle_conn *ic, int i)
{
	char cmd[512], u[256];
	int n;

	snprintf(u, sizeof(u), user_fmt, i % nusers + 1);
	n = snprintf(cmd, sizeof(cmd),
		     "a LOGIN \"%s\" \"%s\"\r\nb SELECT INBOX\r\nc IDLE\r\n", u,
		     password);
	if (write(ic->fd, cmd, (size_t)n) != n)
		ic->state = 3;
	else
		ic->state = 1;
}

static void idle_read(struct idle_conn *ic)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(ic->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < n; k++) {
			if (ic->at_bol && buf[k] == '+')
				ic->state = 2;
			ic->at_bol = buf[k] == '\n';
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		ic->state = 3;
}

static int run_idle(void)
{
	struct idle_conn *conns = calloc((size_t)idle_sessions, sizeof(*conns));
	struct epoll_event ev, evs[256];
	long rss0, pss0, rss1, pss1;
	int ep = epoll_create1(0), opened = 0, idling = 0, dead = 0;
	double t0 = now(), t_ready;

	if (conns == NULL || ep < 0)
		die("idle: out of memory");
	tree_memory(server_pid, &rss0, &pss0);
	while (now() - t0 < max_secs && idling + dead < idle_sessions) {
		/* keep at most 256 logins in flight */
		while (opened < idle_sessions && opened - idling - dead < 256) {
			struct idle_conn *ic = &conns[opened];

			ic->at_bol = 1;
			ic->fd = dial(1);
			if (ic->fd < 0) {
				ic->state = 3;
				dead++;
				opened++;
				continue;
			}
			ev.events = EPOLLIN | EPOLLOUT;
			ev.data.u32 = (uint32_t)opened;
			epoll_ctl(ep, EPOLL_CTL_ADD, ic->fd, &ev);
			opened++;
		}
		int n = epoll_wait(ep, evs, 256, 100);

		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			struct idle_conn *ic = &conns[i];
			int before = ic->state;

			if (ic->state == 0 && (evs[k].events & EPOLLOUT)) {
				idle_send(ic, i);
				ev.events = EPOLLIN;
				ev.data.u32 = (uint32_t)i;
				epoll_ctl(ep, EPOLL_CTL_MOD, ic->fd, &ev);
			}
			if (ic->state != 3 &&
			    (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				idle_read(ic);
			if (before != 2 && ic->state == 2)
				idling++;
			if (before != 3 && ic->state == 3) {
				if (before == 2)
					idling--;
				dead++;
				epoll_ctl(ep, EPOLL_CTL_DEL, ic->fd, NULL);
			}
		}
	}
	t_ready = now() - t0;
	/* let the server settle, then measure */
	sleep(2);
	tree_memory(server_pid, &rss1, &pss1);
	printf("label=%s mode=idle sessions=%d idling=%d failed=%d "
	       "secs=%.2f rss0_kb=%ld rss_kb=%ld pss0_kb=%ld pss_kb=%ld "
	       "rss_per_session_kb=%.1f pss_per_session_kb=%.1f\n",
	       label, idle_sessions, idling, idle_sessions - idling, t_ready,
	       rss0, rss1, pss0, pss1,
	       idling ? (double)(rss1 - rss0) / idling : 0.0,
	       idling ? (double)(pss1 - pss0) / idling : 0.0);
	for (int i = 0; i < opened; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	free(conns);
	close(ep);
	return idling == 0;
}

/* ---- main -----------------------------------------------------------------
 */

static void usage(void)
{
	fprintf(stderr,
		"usage: imapload -m fill|mix|sync|idle -p PORT [-H HOST] "
		"[-u USER] [-U FMT] [-w PASS] [-M USERS] [-c CLIENTS]\n"
		"                [-n COUNT|OPS] [-t SECONDS] [-k SESSIONS] "
		"[-P PID] [-l LABEL]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	int opt;

	while ((opt = getopt(argc, argv, "m:H:p:u:U:w:M:c:n:t:k:P:l:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'U':
			user_fmt = optarg;
			break;
		case 'w':
			password = optarg;
			break;
		case 'M':
			nusers = atoi(optarg);
			break;
		case 'c':
			nclients = atoi(optarg);
			break;
		case 'n':
			count = max_ops = atol(optarg);
			break;
		case 't':
			max_secs = atof(optarg);
			break;
		case 'k':
			idle_sessions = atoi(optarg);
			break;
		case 'P':
			server_pid = atoi(optarg);
			break;
		case 'l':
			label = optarg;
			break;
		default:
			usage();
		}
	}
	if (port <= 0 || nclients < 1 || nclients > MAX_CLIENTS || nusers < 1 ||
	    max_secs <= 0 || max_secs > 3600 || idle_sessions < 1 || count < 1)
		usage();
	/* room for many sessions */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strcmp(mode, "fill") == 0)
		return run_fill();
	if (strcmp(mode, "mix") == 0)
		return run_mix();
	if (strcmp(mode, "sync") == 0)
		return run_sync();
	if (strcmp(mode, "idle") == 0)
		return run_idle();
	usage();
	return 2;
}
