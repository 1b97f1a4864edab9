/*
 * muxload.c - an IMAP login-rate and idle-session load generator for
 * bench/mux.sh (rookery-mux against nginx's mail proxy and perdition).
 *
 *   muxload -m login -p PORT -U FMT -M USERS -w PASS [-c CLIENTS]
 *           [-n LOGINS] [-t SECONDS] [-l LABEL] [-T]
 *   muxload -m idle  -p PORT -U FMT -M USERS -w PASS -k SESSIONS
 *           [-P PID]... [-t SECONDS] [-c THREADS] [-l LABEL] [-T]
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
 *        the difference per session.  Stops opening at SECONDS.
 *
 * -T speaks TLS from the first byte (imaps), full handshake per
 * connection, no certificate check.  The bench build links only -lpthread
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

/* The few OpenSSL calls we need, found at run time. */
static void *tls_ctx;
static void *(*p_SSL_new)(void *);
static int (*p_SSL_set_fd)(void *, int);
static int (*p_SSL_connect)(void *);
static int (*p_SSL_read)(void *, void *, int);
static int (*p_SSL_write)(void *, const void *, int);
static void (*p_SSL_free)(void *);

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
	if (method == NULL || ctx_new == NULL || p_SSL_new == NULL ||
	    p_SSL_set_fd == NULL || p_SSL_connect == NULL ||
	    p_SSL_read == NULL || p_SSL_write == NULL || p_SSL_free == NULL) {
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
 * Connects and logs in as user number U with INBOX selected; the fd, or
 * -1.  With LOGOUT set, logs out and closes too (returns 0 on success).
 */
static int session(long u, int logout)
{
	struct reader *r = malloc(sizeof(*r));
	char user[256], cmd[512], line[1024];
	int fd, rc = -1, n;

	if (r == NULL)
		return -1;
	snprintf(user, sizeof(user), fmt, (int)(u % nusers) + 1);
	fd = dial();
	if (fd < 0) {
		note_err("connect", strerror(errno));
		free(r);
		return -1;
	}
	r->fd = fd;
	r->ssl = NULL;
	r->len = r->off = 0;
	if (use_tls) {
		r->ssl = p_SSL_new(tls_ctx);
		if (r->ssl == NULL || p_SSL_set_fd(r->ssl, fd) != 1 ||
		    p_SSL_connect(r->ssl) != 1) {
			note_err("tls", "handshake failed");
			goto out;
		}
	}
	if (read_line(r, line, sizeof(line)) < 0 ||
	    strncmp(line, "* OK", 4) != 0) {
		note_err("greeting", line);
		goto out;
	}
	n = snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n", user,
		     pass);
	if (send_all(r, cmd, (size_t)n) < 0 ||
	    read_tagged(r, "a", line, sizeof(line)) != 1) {
		note_err("login", line);
		goto out;
	}
	if (send_all(r, "b SELECT INBOX\r\n", 16) < 0 ||
	    read_tagged(r, "b", line, sizeof(line)) != 1) {
		note_err("select", line);
		goto out;
	}
	if (!logout) {
		/* Held: the TLS state stays with the connection (leaked). */
		free(r);
		return fd;
	}
	/* LOGOUT: the tagged OK or the server closing both end it. */
	if (send_all(r, "c LOGOUT\r\n", 10) == 0)
		(void)read_tagged(r, "c", line, sizeof(line));
	rc = 0;
out:
	if (r->ssl != NULL)
		p_SSL_free(r->ssl);
	close(fd);
	free(r);
	return rc;
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
		"usage: muxload -m login|idle -p PORT [-U FMT] [-M USERS] "
		"[-w PASS]\n  [-c CLIENTS] [-n LOGINS] [-t SECONDS] "
		"[-k SESSIONS] [-P PID]... [-l LABEL] [-T]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct client clients[MAX_CLIENTS];
	double elapsed, *all;
	long total = 0, k = 0;
	int opt, i;

	while ((opt = getopt(argc, argv, "m:p:U:M:w:c:n:t:k:P:l:T")) != -1) {
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
		default: usage();
		}
	}
	if (port <= 0 || nusers < 1 || nclients < 1 ||
	    nclients > MAX_CLIENTS)
		usage();
	if (use_tls)
		tls_load();

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
	all = malloc(sizeof(double) * (size_t)(total + 1));
	if (all == NULL)
		return 1;
	for (i = 0; i < nclients; i++) {
		memcpy(all + k, clients[i].lat,
		       sizeof(double) * (size_t)clients[i].nlat);
		k += clients[i].nlat;
	}
	qsort(all, (size_t)total, sizeof(double), cmp_double);
	printf("label=%s mode=login clients=%d logins=%ld failed=%ld "
	       "secs=%.2f rate=%.0f p50_ms=%.2f p99_ms=%.2f err=\"%s\"\n",
	       label, nclients, total, (long)atomic_load(&failed), elapsed,
	       elapsed > 0 ? (double)total / elapsed : 0,
	       total ? all[total / 2] * 1000 : 0,
	       total ? all[(long)((double)total * 0.99)] * 1000 : 0,
	       first_err);
	return 0;
}
