/*
 * lmtpload.c - an LMTP delivery load generator for bench/.
 *
 *   lmtpload -p PORT [-H HOST] [-c CLIENTS] [-s BYTES] [-n MESSAGES]
 *            [-t SECONDS] [-r RCPT]... [-l LABEL] [-f FILE]
 *
 * -f FILE sends FILE's header and body (LF or CRLF line ends, dot-stuffed
 * here) instead of the fixed header, padded with body lines to BYTES.
 *
 * Each client is a thread with one LMTP connection: LHLO once, then
 * MAIL/RCPT/DATA pipelined, the message, and the final reply, as fast as
 * the server answers.  The run stops after MESSAGES deliveries in total or
 * SECONDS, whichever comes first (both bounded).  A delivery counts only
 * when the server answered 250 to every step; latency is from sending MAIL
 * to the final 250.  Prints one line of key=value results.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RCPTS 64
#define MAX_CLIENTS 256

static const char *host = "127.0.0.1";
static int port;
static int nclients = 1;
static size_t msg_size = 4096;
static long max_msgs = 1000;
static double max_secs = 10;
static const char *rcpts[MAX_RCPTS];
static int nrcpts;
static const char *label = "lmtp";
static const char *msg_file;

static char *message;
static size_t message_len;
static atomic_long started;
static atomic_long done_ok;
static atomic_long failed;
static double t_start;

struct client {
	pthread_t thread;
	int id;
	double *lat;
	long nlat;
	long cap;
	char err[300];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Copies msg_file into out with CRLF line ends and dot-stuffing, ending in
 * CRLF; returns the length.  With out NULL, only measures (an upper bound
 * is fine: the caller sizes the buffer with it).
 */
static size_t read_message_file(char *out)
{
	FILE *f = fopen(msg_file, "rb");
	size_t len = 0;
	int c, bol = 1, prev = 0;

	if (f == NULL) {
		fprintf(stderr, "lmtpload: %s: %s\n", msg_file,
			strerror(errno));
		exit(1);
	}
	while ((c = getc(f)) != EOF) {
		if (c == '\r')
			continue;
		if (bol && c == '.') {
			if (out != NULL)
				out[len] = '.';
			len++;
		}
		if (c == '\n') {
			if (out != NULL)
				out[len] = '\r';
			len++;
		}
		if (out != NULL)
			out[len] = (char)c;
		len++;
		bol = c == '\n';
		prev = c;
	}
	fclose(f);
	if (prev != '\n' && len > 0) {
		if (out != NULL)
			memcpy(out + len, "\r\n", 2);
		len += 2;
	}
	return len;
}

static void make_message(void)
{
	size_t cap = msg_size + 512, len = 0;
	long line = 0;

	if (msg_file != NULL)
		cap += read_message_file(NULL);
	message = malloc(cap + 128);
	if (message == NULL)
		exit(1);
	if (msg_file != NULL)
		len = read_message_file(message);
	else
		len += (size_t)snprintf(message + len, cap - len,
			"From: Load <load@bench.test>\r\n"
			"To: <%s>\r\n"
			"Subject: benchmark message\r\n"
			"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
			"Message-ID: <bench@bench.test>\r\n"
			"MIME-Version: 1.0\r\n"
			"Content-Type: text/plain; charset=us-ascii\r\n"
			"\r\n",
			rcpts[0]);
	while (len + 80 < msg_size) {
		int n = snprintf(message + len, cap - len,
				 "line %08ld abcdefghijklmnopqrstuvwxyz "
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456\r\n",
				 line++);
		len += (size_t)n;
	}
	memcpy(message + len, ".\r\n", 3);
	message_len = len + 3;
}

static int dial(void)
{
	struct addrinfo hints, *res;
	char portstr[16];
	int fd, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

struct reader {
	int fd;
	char buf[8192];
	size_t len, off;
};

/* Reads one reply line (final line of a multi-line reply); code or -1. */
static int read_reply(struct reader *r, char *text, size_t tsize)
{
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);

		if (nl != NULL) {
			size_t n = (size_t)(nl - (r->buf + r->off)) + 1;
			char *line = r->buf + r->off;
			int code = atoi(line);
			int more = n > 3 && line[3] == '-';

			if (text != NULL) {
				size_t c = n < tsize ? n : tsize - 1;

				memcpy(text, line, c);
				text[c] = '\0';
				text[strcspn(text, "\r\n")] = '\0';
			}
			r->off += n;
			if (!more)
				return code;
			continue;
		}
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len == sizeof(r->buf))
			return -1;
		ssize_t got = read(r->fd, r->buf + r->len,
				   sizeof(r->buf) - r->len);
		if (got <= 0)
			return -1;
		r->len += (size_t)got;
	}
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

static int deliver_one(struct client *cl, struct reader *r)
{
	char cmd[1024], text[256];
	const char *rcpt = rcpts[(cl->id + started) % nrcpts];
	int n, code;

	n = snprintf(cmd, sizeof(cmd),
		     "MAIL FROM:<load@bench.test>\r\n"
		     "RCPT TO:<%s>\r\nDATA\r\n",
		     rcpt);
	if (write_all(r->fd, cmd, (size_t)n) < 0)
		return -1;
	if ((code = read_reply(r, text, sizeof(text))) != 250 ||
	    (code = read_reply(r, text, sizeof(text))) != 250 ||
	    (code = read_reply(r, text, sizeof(text))) != 354)
		goto bad;
	if (write_all(r->fd, message, message_len) < 0)
		return -1;
	if ((code = read_reply(r, text, sizeof(text))) != 250)
		goto bad;
	return 0;
bad:
	snprintf(cl->err, sizeof(cl->err), "%s", text);
	return -1;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct reader r;
	char text[256];

	memset(&r, 0, sizeof(r));
	r.fd = dial();
	if (r.fd < 0) {
		snprintf(cl->err, sizeof(cl->err), "connect: %s",
			 strerror(errno));
		return NULL;
	}
	if (read_reply(&r, text, sizeof(text)) != 220 ||
	    write_all(r.fd, "LHLO bench.test\r\n", 17) < 0 ||
	    read_reply(&r, text, sizeof(text)) != 250) {
		snprintf(cl->err, sizeof(cl->err), "greeting: %s", text);
		close(r.fd);
		return NULL;
	}
	for (;;) {
		double t0;

		if (atomic_fetch_add(&started, 1) >= max_msgs ||
		    now() - t_start >= max_secs)
			break;
		t0 = now();
		if (deliver_one(cl, &r) < 0) {
			atomic_fetch_add(&failed, 1);
			break;
		}
		atomic_fetch_add(&done_ok, 1);
		if (cl->nlat == cl->cap) {
			cl->cap = cl->cap ? cl->cap * 2 : 1024;
			cl->lat = realloc(cl->lat, sizeof(double) *
							   (size_t)cl->cap);
			if (cl->lat == NULL)
				exit(1);
		}
		cl->lat[cl->nlat++] = now() - t0;
	}
	write_all(r.fd, "QUIT\r\n", 6);
	close(r.fd);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lmtpload -p PORT [-H HOST] [-c CLIENTS] [-s BYTES] "
		"[-n MESSAGES] [-t SECONDS] -r RCPT [-r RCPT...] [-l LABEL] "
		"[-f FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct client clients[MAX_CLIENTS];
	double *all, elapsed;
	long total = 0, k = 0;
	int opt, i;

	while ((opt = getopt(argc, argv, "H:p:c:s:n:t:r:l:f:")) != -1) {
		switch (opt) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			nclients = atoi(optarg);
			break;
		case 's':
			msg_size = (size_t)atol(optarg);
			break;
		case 'n':
			max_msgs = atol(optarg);
			break;
		case 't':
			max_secs = atof(optarg);
			break;
		case 'r':
			if (nrcpts < MAX_RCPTS)
				rcpts[nrcpts++] = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'f':
			msg_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (port <= 0 || nrcpts == 0 || nclients < 1 ||
	    nclients > MAX_CLIENTS || max_msgs < 1 || max_secs <= 0 ||
	    max_secs > 600)
		usage();
	make_message();
	t_start = now();
	for (i = 0; i < nclients; i++) {
		clients[i].id = i;
		pthread_create(&clients[i].thread, NULL, client_main,
			       &clients[i]);
	}
	for (i = 0; i < nclients; i++) {
		pthread_join(clients[i].thread, NULL);
		total += clients[i].nlat;
		if (clients[i].err[0] != '\0')
			fprintf(stderr, "lmtpload: client %d: %s\n", i,
				clients[i].err);
	}
	elapsed = now() - t_start;
	all = malloc(sizeof(double) * (size_t)(total ? total : 1));
	for (i = 0; i < nclients; i++) {
		memcpy(all + k, clients[i].lat,
		       sizeof(double) * (size_t)clients[i].nlat);
		k += clients[i].nlat;
		free(clients[i].lat);
	}
	qsort(all, (size_t)total, sizeof(double), cmp_double);
	printf("label=%s clients=%d size=%zu delivered=%ld failed=%ld "
	       "secs=%.2f rate=%.1f p50_ms=%.2f p99_ms=%.2f\n",
	       label, nclients, message_len, total, (long)failed, elapsed,
	       total / elapsed, total ? all[total / 2] * 1000 : 0.0,
	       total ? all[(long)((double)total * 0.99)] * 1000 : 0.0);
	free(all);
	free(message);
	return failed > 0 && total == 0 ? 1 : 0;
}
