/*
 * muxload.c - an IMAP login-rate, idle-session and FETCH-throughput load
 * generator for bench/mux.sh (rookery-mux against nginx's mail proxy and
 * perdition).
 *
 *   muxload -m login -p PORT -U FMT -M USERS -w PASS [-c CLIENTS]
 *           [-n LOGINS] [-t SECONDS] [-l LABEL] [-T [-R]]
 *   muxload -m idle  -p PORT -U FMT -M USERS -w PASS -k SESSIONS
 *           [-P PID]... [-t SECONDS] [-c THREADS] [-l LABEL] [-T]
 *           [-W FILE [-H SECONDS]]
 *   muxload -m fill  -p PORT -U FMT -M USERS -w PASS -n MESSAGES
 *           -s BYTES [-c CONNS] [-t SECONDS] [-l LABEL]
 *   muxload -m fetch -p PORT -U FMT -M USERS -w PASS [-c CLIENTS]
 *           [-n FETCHES] [-t SECONDS] [-q UIDSET] [-l LABEL] [-T]
 *
 * login  CLIENTS threads, each looping: connect, read the greeting,
 *        "a LOGIN user pass", "b SELECT INBOX", "c LOGOUT", close.  Client
 *        i uses FMT with (i + n) % USERS + 1 (FMT holds one %d).  A cycle
 *        counts only when LOGIN and SELECT were answered OK; latency is the
 *        whole cycle, connect to close.  Stops after LOGINS cycles in total
 *        or SECONDS, whichever comes first.
 * idle   THREADS threads open SESSIONS connections between them, each
 *        logged in with INBOX selected, and hold them; reports the VmRSS
 *        of every PID given (summed) before and while they are held, and
 *        the difference per session.  Stops opening at SECONDS.  With -W,
 *        the line is printed as soon as the sessions are open and they are
 *        then held until FILE exists (at most -H SECONDS, default 300), so
 *        that several muxload processes can hold their sessions at once
 *        while the caller measures.
 * fill   APPENDs MESSAGES messages of exactly BYTES bytes (text lines) to
 *        the INBOX of every user 1..USERS, CONNS users at a time, one
 *        synchronizing literal at a time.  Stops at SECONDS.
 * fetch  CLIENTS threads, client i logged in as user i % USERS + 1 with
 *        INBOX selected (all logged in before the clock starts), each
 *        looping "f UID FETCH UIDSET BODY.PEEK[]" (UIDSET 1:* unless -q)
 *        and reading the literals through.  Counts message bytes (the
 *        literals) received per second; MB = 10^6 bytes.  Latency is per
 *        FETCH command.  Stops starting commands after FETCHES in total or
 *        SECONDS.
 *
 * -T speaks TLS from the first byte (imaps), full handshake per
 * connection, no certificate check; with -R each client thread presents
 * the session (ticket) of its previous connection, as a desktop client
 * reconnecting does, and the login report counts the resumed handshakes.  The bench build links only -lpthread
 * (Makefile), so OpenSSL (libssl.so.3) is loaded with dlopen.  Every line
 * printed is key=value.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 1024
#define SCRATCH (256 * 1024)
#define MAX_PIDS 64

static const char *mode = "login";
static int port;
static const char *fmt = "u%d@example.com";
static int nusers = 1;
static const char *pass = "bench";
static int nclients = 1;
static long max_logins = 100000;
static double max_secs = 10;
static long nsessions;
static int pids[MAX_PIDS];
static int npids;
static const char *label = "mux";
static int use_tls;
static int use_resume; /* -R: each client resumes its last TLS session */
static long msg_size = 1024 * 1024;
static const char *uidset = "1:*";
static const char *wait_file;
static double hold_secs = 300;

/* The few OpenSSL calls we need, found at run time. */
static void *tls_ctx;
static void *(*p_SSL_new)(void *);
static int (*p_SSL_set_fd)(void *, int);
static int (*p_SSL_connect)(void *);
static int (*p_SSL_read)(void *, void *, int);
static int (*p_SSL_write)(void *, const void *, int);
static void (*p_SSL_free)(void *);
static int (*p_SSL_shutdown)(void *);
static int (*p_SSL_set_session)(void *, void *);
static void *(*p_SSL_get1_session)(void *);
static int (*p_SSL_session_reused)(const void *);
static const char *(*p_SSL_get_version)(const void *);
/* the protocol of the handshakes ("TLSv1.3"), for the report */
static _Atomic(const char *) tls_version;
static void (*p_SSL_SESSION_free)(void *);
/* -R: the session a client thread presents on its next connection, as a
 * mail client reconnecting presents its ticket */
static __thread void *saved_session;
static atomic_long resumed;

static void tls_load(void)
{
	void *h = dlopen("libssl.so.3", RTLD_NOW);
	const void *(*method)(void);
	void *(*ctx_new)(const void *);

	if (h == NULL) {
		fprintf(stderr, "muxload: %s\n", dlerror());
		exit(1);
	}
	*(void **)&method = dlsym(h, "TLS_client_method");
	*(void **)&ctx_new = dlsym(h, "SSL_CTX_new");
	*(void **)&p_SSL_new = dlsym(h, "SSL_new");
	*(void **)&p_SSL_set_fd = dlsym(h, "SSL_set_fd");
	*(void **)&p_SSL_connect = dlsym(h, "SSL_connect");
	*(void **)&p_SSL_read = dlsym(h, "SSL_read");
	*(void **)&p_SSL_write = dlsym(h, "SSL_write");
	*(void **)&p_SSL_free = dlsym(h, "SSL_free");
	*(void **)&p_SSL_shutdown = dlsym(h, "SSL_shutdown");
	*(void **)&p_SSL_set_session = dlsym(h, "SSL_set_session");
	*(void **)&p_SSL_get1_session = dlsym(h, "SSL_get1_session");
	*(void **)&p_SSL_session_reused = dlsym(h, "SSL_session_reused");
	*(void **)&p_SSL_SESSION_free = dlsym(h, "SSL_SESSION_free");
	*(void **)&p_SSL_get_version = dlsym(h, "SSL_get_version");
	if (method == NULL || ctx_new == NULL || p_SSL_new == NULL ||
	    p_SSL_set_fd == NULL || p_SSL_connect == NULL ||
	    p_SSL_read == NULL || p_SSL_write == NULL || p_SSL_free == NULL ||
	    p_SSL_shutdown == NULL || p_SSL_set_session == NULL ||
	    p_SSL_get1_session == NULL || p_SSL_session_reused == NULL ||
	    p_SSL_SESSION_free == NULL || p_SSL_get_version == NULL) {
		fprintf(stderr, "muxload: libssl.so.3 lacks a function\n");
		exit(1);
	}
	tls_ctx = ctx_new(method());
	if (tls_ctx == NULL)
		exit(1);
}

static atomic_long next_id;
static atomic_long done_ok;
static atomic_long failed;
static double t_start;
static char first_err[300];
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

struct client {
	pthread_t thread;
	int id;
	double *lat;
	long nlat, cap;
	int *fds;
	long nfds;
	long long bytes;
	long msgs;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_err(const char *what, const char *line)
{
	pthread_mutex_lock(&err_lock);
	if (first_err[0] == '\0')
		snprintf(first_err, sizeof(first_err), "%.40s: %.200s",
			 what, line);
	pthread_mutex_unlock(&err_lock);
}

static int dial(void)
{
	struct sockaddr_in sa;
	struct timeval tv = {10, 0};
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

struct reader {
	int fd;
	void *ssl;
	char buf[8192];
	size_t len, off;
};

/* Reads one line into LINE (CRLF stripped); 0, or -1 on EOF/error. */
static int read_line(struct reader *r, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);

		if (nl != NULL) {
			size_t n = (size_t)(nl - (r->buf + r->off)) + 1;
			size_t c = n < size ? n : size - 1;

			memcpy(line, r->buf + r->off, c);
			line[c] = '\0';
			line[strcspn(line, "\r\n")] = '\0';
			r->off += n;
			return 0;
		}
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len == sizeof(r->buf))
			r->len = 0; /* an overlong line: drop it */
		ssize_t got = r->ssl != NULL
				      ? p_SSL_read(r->ssl, r->buf + r->len,
						   (int)(sizeof(r->buf) - r->len))
				      : read(r->fd, r->buf + r->len,
					     sizeof(r->buf) - r->len);
		if (got <= 0)
			return -1;
		r->len += (size_t)got;
	}
}

/* Reads up to the line tagged TAG; 1 if it was OK, 0 if not, -1 on EOF. */
static int read_tagged(struct reader *r, const char *tag, char *line,
		       size_t size)
{
	size_t tl = strlen(tag);

	for (;;) {
		if (read_line(r, line, size) < 0)
			return -1;
		if (strncmp(line, tag, tl) == 0 && line[tl] == ' ')
			return strncmp(line + tl + 1, "OK", 2) == 0;
	}
}

static int send_all(struct reader *r, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = r->ssl != NULL ? p_SSL_write(r->ssl, s, (int)n)
					   : write(r->fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Connects R and logs in as user number U with INBOX selected; 0, or -1
 * (R closed) on failure.
 */
static int session_open(long u, struct reader *r)
{
	char user[256], cmd[512], line[1024] = "";
	int fd, n;

	snprintf(user, sizeof(user), fmt, (int)(u % nusers) + 1);
	r->ssl = NULL;
	r->len = r->off = 0;
	fd = dial();
	r->fd = fd;
	if (fd < 0) {
		note_err("connect", strerror(errno));
		return -1;
	}
	if (use_tls) {
		r->ssl = p_SSL_new(tls_ctx);
		if (r->ssl != NULL && use_resume && saved_session != NULL)
			p_SSL_set_session(r->ssl, saved_session);
		if (r->ssl == NULL || p_SSL_set_fd(r->ssl, fd) != 1 ||
		    p_SSL_connect(r->ssl) != 1) {
			note_err("tls", "handshake failed");
			goto fail;
		}
		if (p_SSL_session_reused(r->ssl))
			resumed++;
		tls_version = p_SSL_get_version(r->ssl);
	}
	if (read_line(r, line, sizeof(line)) < 0 ||
	    strncmp(line, "* OK", 4) != 0) {
		note_err("greeting", line);
		goto fail;
	}
	n = snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n", user,
		     pass);
	if (send_all(r, cmd, (size_t)n) < 0 ||
	    read_tagged(r, "a", line, sizeof(line)) != 1) {
		note_err("login", line);
		goto fail;
	}
	if (send_all(r, "b SELECT INBOX\r\n", 16) < 0 ||
	    read_tagged(r, "b", line, sizeof(line)) != 1) {
		note_err("select", line);
		goto fail;
	}
	return 0;
fail:
	if (r->ssl != NULL)
		p_SSL_free(r->ssl);
	r->ssl = NULL;
	close(fd);
	return -1;
}

/* LOGOUT (the tagged OK or the server closing both end it) and close. */
static void session_close(struct reader *r)
{
	char line[1024];

	if (send_all(r, "c LOGOUT\r\n", 10) == 0)
		(void)read_tagged(r, "c", line, sizeof(line));
	if (r->ssl != NULL) {
		/*
		 * close_notify, as a client does: OpenSSL marks a session
		 * freed without it as not resumable.  By now the TLS 1.3
		 * tickets that follow the handshake have been read.
		 */
		(void)p_SSL_shutdown(r->ssl);
		if (use_resume) {
			void *sess = p_SSL_get1_session(r->ssl);

			if (sess != NULL) {
				if (saved_session != NULL)
					p_SSL_SESSION_free(saved_session);
				saved_session = sess;
			}
		}
		p_SSL_free(r->ssl);
	}
	r->ssl = NULL;
	close(r->fd);
}

/*
 * Connects and logs in as user number U with INBOX selected; the fd, or
 * -1.  With LOGOUT set, logs out and closes too (returns 0 on success).
 */
static int session(long u, int logout)
{
	struct reader *r = malloc(sizeof(*r));
	int fd;

	if (r == NULL)
		return -1;
	if (session_open(u, r) < 0) {
		free(r);
		return -1;
	}
	fd = r->fd;
	if (!logout) {
		/* Held: the TLS state stays with the connection (leaked). */
		free(r);
		return fd;
	}
	session_close(r);
	free(r);
	return 0;
}

static void *login_thread(void *arg)
{
	struct client *c = arg;

	for (;;) {
		long id = atomic_fetch_add(&next_id, 1);
		double t0;

		if (id >= max_logins || now() - t_start >= max_secs)
			break;
		t0 = now();
		if (session(id + c->id, 1) == 0) {
			if (c->nlat == c->cap) {
				c->cap = c->cap ? 2 * c->cap : 4096;
				c->lat = realloc(c->lat,
						 sizeof(double) * (size_t)c->cap);
				if (c->lat == NULL)
					exit(1);
			}
			c->lat[c->nlat++] = now() - t0;
			atomic_fetch_add(&done_ok, 1);
		} else {
			atomic_fetch_add(&failed, 1);
			usleep(10000);
		}
	}
	return NULL;
}

static void *idle_thread(void *arg)
{
	struct client *c = arg;

	for (;;) {
		long id;
		int fd;

		if (now() - t_start >= max_secs)
			break;
		id = atomic_fetch_add(&next_id, 1);
		if (id >= nsessions)
			break;
		fd = session(id, 0);
		if (fd < 0) {
			atomic_fetch_add(&failed, 1);
			/* The server (or we) ran out of something: stop. */
			if (atomic_load(&failed) > 50)
				break;
			continue;
		}
		c->fds[c->nfds++] = fd;
		atomic_fetch_add(&done_ok, 1);
	}
	return NULL;
}

/* ---- fill -------------------------------------------------------------- */

/* Message N of user U, exactly msg_size bytes of CRLF text lines. */
static void make_message(char *buf, long u, long n)
{
	long len, i = 0;

	len = snprintf(buf, (size_t)msg_size,
		       "From: Bench Sender <sender@example.org>\r\n"
		       "To: Bench User <user%ld@example.com>\r\n"
		       "Subject: large bench message %ld\r\n"
		       "Date: Tue, 24 Nov 2026 05:00:00 +0000\r\n"
		       "Message-ID: <large.%ld.%ld@example.org>\r\n"
		       "MIME-Version: 1.0\r\n"
		       "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
		       u, n, u, n);
	/* 78-byte lines: an 8-digit counter, a space, 67 bytes, CRLF */
	while (len + 78 <= msg_size - 2) {
		static const char text[] = "the quick brown fox jumps over "
					   "the lazy dog, again and again and "
					   "on\r\n";
		char num[16];

		snprintf(num, sizeof(num), "%08ld ", i++ % 100000000);
		memcpy(buf + len, num, 9);
		memcpy(buf + len + 9, text, sizeof(text) - 1);
		len += 9 + (long)sizeof(text) - 1;
	}
	while (len < msg_size - 2)
		buf[len++] = 'z';
	buf[msg_size - 2] = '\r';
	buf[msg_size - 1] = '\n';
}

static void *fill_thread(void *arg)
{
	struct client *c = arg;
	char *msg = malloc((size_t)msg_size);
	char cmd[128], line[1024];

	if (msg == NULL)
		exit(1);
	for (;;) {
		long u = atomic_fetch_add(&next_id, 1), n;
		struct reader r;

		if (u >= nusers || now() - t_start >= max_secs)
			break;
		if (session_open(u, &r) < 0) {
			atomic_fetch_add(&failed, 1);
			continue;
		}
		for (n = 0; n < max_logins && now() - t_start < max_secs;
		     n++) {
			int l = snprintf(cmd, sizeof(cmd),
					 "f%ld APPEND INBOX {%ld}\r\n", n,
					 msg_size);
			char tag[32];

			make_message(msg, u + 1, n);
			snprintf(tag, sizeof(tag), "f%ld", n);
			line[0] = '\0';
			if (send_all(&r, cmd, (size_t)l) < 0 ||
			    read_line(&r, line, sizeof(line)) < 0 ||
			    line[0] != '+') {
				note_err("append", line);
				atomic_fetch_add(&failed, 1);
				break;
			}
			if (send_all(&r, msg, (size_t)msg_size) < 0 ||
			    send_all(&r, "\r\n", 2) < 0 ||
			    read_tagged(&r, tag, line, sizeof(line)) != 1) {
				note_err("append", line);
				atomic_fetch_add(&failed, 1);
				break;
			}
			c->msgs++;
		}
		session_close(&r);
	}
	free(msg);
	return NULL;
}

static int run_fill(void)
{
	static struct client clients[MAX_CLIENTS];
	long msgs = 0;
	double t;
	int i;

	t_start = now();
	for (i = 0; i < nclients; i++)
		pthread_create(&clients[i].thread, NULL, fill_thread,
			       &clients[i]);
	for (i = 0; i < nclients; i++) {
		pthread_join(clients[i].thread, NULL);
		msgs += clients[i].msgs;
	}
	t = now() - t_start;
	printf("label=%s mode=fill users=%d messages=%ld bytes=%lld "
	       "failed=%ld secs=%.2f err=\"%s\"\n",
	       label, nusers, msgs, (long long)msgs * msg_size,
	       (long)atomic_load(&failed), t, first_err);
	return atomic_load(&failed) > 0 || msgs != (long)nusers * max_logins;
}

/* ---- fetch ------------------------------------------------------------- */

static pthread_barrier_t ready, go;

/* Reads and drops an N-byte literal (buffered bytes first). */
static int skip_literal(struct reader *r, long long n, char *scratch)
{
	size_t have = r->len - r->off;

	if ((long long)have >= n) {
		r->off += (size_t)n;
		return 0;
	}
	n -= (long long)have;
	r->len = r->off = 0;
	while (n > 0) {
		int want = n < SCRATCH ? (int)n : SCRATCH;
		ssize_t got = r->ssl != NULL ? p_SSL_read(r->ssl, scratch, want)
					     : read(r->fd, scratch, (size_t)want);

		if (got < 0 && errno == EINTR && r->ssl == NULL)
			continue;
		if (got <= 0)
			return -1;
		n -= got;
	}
	return 0;
}

/* One FETCH command; 0, or -1 (connection unusable). */
static int fetch_once(struct client *c, struct reader *r, char *scratch)
{
	char cmd[256], line[1024];
	int l = snprintf(cmd, sizeof(cmd), "f UID FETCH %s BODY.PEEK[]\r\n",
			 uidset);

	if (send_all(r, cmd, (size_t)l) < 0) {
		note_err("fetch", "write failed");
		return -1;
	}
	for (;;) {
		size_t len;

		if (read_line(r, line, sizeof(line)) < 0) {
			note_err("fetch", "connection closed");
			return -1;
		}
		if (strncmp(line, "f ", 2) == 0) {
			if (strncmp(line + 2, "OK", 2) == 0)
				return 0;
			note_err("fetch", line);
			return -1;
		}
		len = strlen(line);
		if (len > 2 && line[len - 1] == '}') {
			char *b = strrchr(line, '{');
			long long n;

			if (b == NULL)
				continue;
			n = atoll(b + 1);
			if (skip_literal(r, n, scratch) < 0) {
				note_err("fetch", "literal cut short");
				return -1;
			}
			c->bytes += n;
			c->msgs++;
		}
	}
}

static void *fetch_thread(void *arg)
{
	struct client *c = arg;
	struct reader *r = malloc(sizeof(*r));
	char *scratch = malloc(SCRATCH);
	int ok;

	if (r == NULL || scratch == NULL)
		exit(1);
	ok = session_open(c->id, r) == 0;
	if (!ok)
		atomic_fetch_add(&failed, 1);
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	while (ok) {
		long id = atomic_fetch_add(&next_id, 1);
		double t0;

		if (id >= max_logins || now() - t_start >= max_secs)
			break;
		t0 = now();
		if (fetch_once(c, r, scratch) < 0) {
			atomic_fetch_add(&failed, 1);
			ok = 0;
			close(r->fd);
			break;
		}
		if (c->nlat == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 1024;
			c->lat = realloc(c->lat, sizeof(double) * (size_t)c->cap);
			if (c->lat == NULL)
				exit(1);
		}
		c->lat[c->nlat++] = now() - t0;
	}
	if (ok)
		session_close(r);
	free(scratch);
	free(r);
	return NULL;
}

static int cmp_double(const void *a, const void *b);
static double *sorted_latencies(const struct client *clients, int n,
				long total);

static int run_fetch(void)
{
	static struct client clients[MAX_CLIENTS];
	long long bytes = 0;
	long msgs = 0, total = 0;
	double elapsed, *all;
	int i;

	pthread_barrier_init(&ready, NULL, (unsigned)nclients + 1);
	pthread_barrier_init(&go, NULL, (unsigned)nclients + 1);
	for (i = 0; i < nclients; i++) {
		clients[i].id = i;
		pthread_create(&clients[i].thread, NULL, fetch_thread,
			       &clients[i]);
	}
	pthread_barrier_wait(&ready); /* every client logged in (or not) */
	t_start = now();
	pthread_barrier_wait(&go);
	for (i = 0; i < nclients; i++) {
		pthread_join(clients[i].thread, NULL);
		bytes += clients[i].bytes;
		msgs += clients[i].msgs;
		total += clients[i].nlat;
	}
	elapsed = now() - t_start;
	all = sorted_latencies(clients, nclients, total);
	if (all == NULL)
		return 1;
	printf("label=%s mode=fetch clients=%d fetches=%ld messages=%ld "
	       "bytes=%lld failed=%ld secs=%.2f mb_s=%.1f msgs_s=%.1f "
	       "p50_ms=%.2f p99_ms=%.2f err=\"%s\"\n",
	       label, nclients, total, msgs, bytes,
	       (long)atomic_load(&failed), elapsed,
	       elapsed > 0 ? (double)bytes / elapsed / 1e6 : 0,
	       elapsed > 0 ? (double)msgs / elapsed : 0,
	       total ? all[total / 2] * 1000 : 0,
	       total ? all[(long)((double)total * 0.99)] * 1000 : 0,
	       first_err);
	free(all);
	return 0;
}

/* Every client's latencies in one sorted array (for p50 / p99); NULL when
 * out of memory.  free() it. */
static double *sorted_latencies(const struct client *clients, int n,
				long total)
{
	double *all = malloc(sizeof(double) * (size_t)(total + 1));
	long k = 0;

	if (all == NULL)
		return NULL;
	for (int i = 0; i < n; i++) {
		memcpy(all + k, clients[i].lat,
		       sizeof(double) * (size_t)clients[i].nlat);
		k += clients[i].nlat;
	}
	qsort(all, (size_t)total, sizeof(double), cmp_double);
	return all;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static long rss_kb(void)
{
	long total = 0;
	int i;

	for (i = 0; i < npids; i++) {
		char path[64], line[256];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", pids[i]);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "VmRSS:", 6) == 0)
				total += atol(line + 6);
		fclose(f);
	}
	return total;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: muxload -m login|idle|fill|fetch -p PORT [-U FMT] "
		"[-M USERS] [-w PASS]\n  [-c CLIENTS] [-n COUNT] "
		"[-t SECONDS] [-k SESSIONS] [-P PID]... [-l LABEL] [-T [-R]]\n"
		"  [-s BYTES] [-q UIDSET] [-W FILE] [-H SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct client clients[MAX_CLIENTS];
	double elapsed, *all, cpu = 0;
	long total = 0, k = 0;
	int opt, i;

	while ((opt = getopt(argc, argv, "m:p:U:M:w:c:n:t:k:P:l:TRs:q:W:H:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'U': fmt = optarg; break;
		case 'M': nusers = atoi(optarg); break;
		case 'w': pass = optarg; break;
		case 'c': nclients = atoi(optarg); break;
		case 'n': max_logins = atol(optarg); break;
		case 't': max_secs = atof(optarg); break;
		case 'k': nsessions = atol(optarg); break;
		case 'P':
			if (npids < MAX_PIDS)
				pids[npids++] = atoi(optarg);
			break;
		case 'l': label = optarg; break;
		case 'T': use_tls = 1; break;
		case 'R': use_resume = 1; break;
		case 's': msg_size = atol(optarg); break;
		case 'q': uidset = optarg; break;
		case 'W': wait_file = optarg; break;
		case 'H': hold_secs = atof(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || nusers < 1 || nclients < 1 ||
	    nclients > MAX_CLIENTS)
		usage();
	if (use_tls)
		tls_load();
	if (strcmp(mode, "fill") == 0) {
		if (msg_size < 1024)
			usage();
		return run_fill();
	}
	if (strcmp(mode, "fetch") == 0)
		return run_fetch();

	if (strcmp(mode, "idle") == 0) {
		struct rlimit rl;
		long before, after;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		before = rss_kb();
		t_start = now();
		for (i = 0; i < nclients; i++) {
			clients[i].id = i;
			clients[i].fds = calloc((size_t)nsessions + 1,
						sizeof(int));
			if (clients[i].fds == NULL)
				return 1;
			pthread_create(&clients[i].thread, NULL, idle_thread,
				       &clients[i]);
		}
		for (i = 0; i < nclients; i++)
			pthread_join(clients[i].thread, NULL);
		elapsed = now() - t_start;
		if (npids > 0)
			sleep(2); /* let the server settle */
		after = rss_kb();
		k = atomic_load(&done_ok);
		printf("label=%s mode=idle wanted=%ld sessions=%ld failed=%ld "
		       "open_secs=%.1f rss_before_kb=%ld rss_after_kb=%ld "
		       "bytes_per_session=%ld err=\"%s\"\n",
		       label, nsessions, k, (long)atomic_load(&failed),
		       elapsed, before, after,
		       k > 0 ? (after - before) * 1024 / k : 0, first_err);
		fflush(stdout);
		if (wait_file != NULL) {
			double t0 = now();

			while (access(wait_file, F_OK) != 0 &&
			       now() - t0 < hold_secs)
				usleep(100000);
		}
		for (i = 0; i < nclients; i++) {
			long j;

			for (j = 0; j < clients[i].nfds; j++)
				close(clients[i].fds[j]);
		}
		return 0;
	}

	t_start = now();
	for (i = 0; i < nclients; i++) {
		clients[i].id = i * 7;
		pthread_create(&clients[i].thread, NULL, login_thread,
			       &clients[i]);
	}
	for (i = 0; i < nclients; i++) {
		pthread_join(clients[i].thread, NULL);
		total += clients[i].nlat;
	}
	elapsed = now() - t_start;
	all = sorted_latencies(clients, nclients, total);
	if (all == NULL)
		return 1;
	/* the load generator's own CPU per login (it shares the machine) */
	{
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			cpu = (double)ru.ru_utime.tv_sec +
			      (double)ru.ru_utime.tv_usec / 1e6 +
			      (double)ru.ru_stime.tv_sec +
			      (double)ru.ru_stime.tv_usec / 1e6;
	}
	printf("label=%s mode=login clients=%d logins=%ld failed=%ld "
	       "tls=%s resumed=%ld secs=%.2f rate=%.0f p50_ms=%.2f "
	       "p99_ms=%.2f client_cpu_ms=%.3f err=\"%s\"\n",
	       label, nclients, total, (long)atomic_load(&failed),
	       tls_version != NULL ? tls_version : "no",
	       (long)atomic_load(&resumed), elapsed,
	       elapsed > 0 ? (double)total / elapsed : 0,
	       total ? all[total / 2] * 1000 : 0,
	       total ? all[(long)((double)total * 0.99)] * 1000 : 0,
	       total ? cpu * 1000 / (double)total : 0, first_err);
	free(all);
	return 0;
}
