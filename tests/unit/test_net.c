/*
 * test_net.c - the connection framework against real sockets.
 *
 * Each test starts a net with a tiny echo protocol on 127.0.0.1 port 0,
 * a Unix socket and an implicit-TLS port, runs a client script in a thread
 * with plain blocking sockets (OpenSSL for TLS), and the loop on the main
 * thread.  The client script ends the loop through net_async (or SIGTERM),
 * and the main thread then checks what the client recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net.h"
#include "strbuf.h"
#include "tls.h"

/* --- the echo protocol -------------------------------------------------- */

struct echo {
	struct conn *c;
	struct strbuf lit;
	struct net_timer *resume;
	unsigned long stream_left;
	size_t stream_peak;
};

static char closed_reasons[64][16];
static unsigned n_closed;
static unsigned n_opened;
static char last_peer_ip[64];
static int tls_failures;
static char file_path[256];
static char big_path[256];
#define BIG_LINES 80000
static unsigned scenario_max_conn;
static int reloads;

static void on_reload(void *arg)
{
	(void)arg;
	reloads++;
}
static const char file_data[] = "file-contents-0123456789\r\n";

static int echo_open(struct conn *c)
{
	struct echo *e = xcalloc(1, sizeof(*e));

	e->c = c;
	strbuf_init(&e->lit);
	conn_set_ctx(c, e);
	n_opened++;
	snprintf(last_peer_ip, sizeof(last_peer_ip), "%s", conn_peer_ip(c));
	conn_printf(c, "+OK hello %s tls=%d\r\n", conn_id(c), conn_is_tls(c));
	return 0;
}

static void echo_resume(void *arg)
{
	struct echo *e = arg;

	conn_puts(e->c, "+OK resumed\r\n");
	conn_resume(e->c);
}

static void lit_chunk(struct conn *c, const void *data, size_t len)
{
	struct echo *e = conn_ctx(c);

	strbuf_add(&e->lit, data, len);
}

static void lit_done(struct conn *c)
{
	struct echo *e = conn_ctx(c);

	conn_printf(c, "+OK lit %zu [%s]\r\n", e->lit.len, e->lit.data);
	strbuf_reset(&e->lit);
}

/* raw mode: collect up to "END\n", then back to lines */
static void echo_raw(struct conn *c, struct evbuffer *in)
{
	struct evbuffer_ptr p = evbuffer_search(in, "END\n", 4, NULL);

	if (p.pos < 0)
		return;
	conn_printf(c, "+OK raw %zd\r\n", (ssize_t)p.pos);
	evbuffer_drain(in, (size_t)p.pos + 4);
	conn_set_line_mode(c);
}

/* Writes numbered lines while output drains, never queueing them all. */
static void stream_more(struct conn *c)
{
	struct echo *e = conn_ctx(c);

	while (e->stream_left > 0 && conn_output_pending(c) < 64 * 1024) {
		conn_printf(c, "line %06lu\r\n", --e->stream_left);
		if (conn_output_pending(c) > e->stream_peak)
			e->stream_peak = conn_output_pending(c);
	}
	if (e->stream_left > 0) {
		conn_on_drain(c, 16 * 1024, stream_more);
		return;
	}
	conn_printf(c, "+OK streamed peak<128k=%d\r\n",
		    e->stream_peak < 128 * 1024);
}

static void echo_line(struct conn *c, char *line, size_t len)
{
	struct echo *e = conn_ctx(c);
	unsigned long n;
	int fd;

	if (strcmp(line, "QUIT") == 0) {
		conn_puts(c, "+OK bye\r\n");
		conn_close(c);
	} else if (strcmp(line, "PAUSE") == 0) {
		conn_puts(c, "+OK paused\r\n");
		conn_pause(c);
		if (e->resume == NULL)
			e->resume = net_timer_new(conn_net(c), echo_resume, e);
		net_timer_start(e->resume, 100, 0);
	} else if (sscanf(line, "LIT %lu", &n) == 1) {
		/* the line stays valid after switching to the literal */
		conn_read_literal(c, n, lit_chunk, lit_done);
		conn_printf(c, "+ go %s\r\n", line);
	} else if (strcmp(line, "RAW") == 0) {
		conn_set_raw(c, echo_raw);
	} else if (strcmp(line, "STARTTLS") == 0) {
		conn_puts(c, "+OK begin\r\n");
		if (conn_starttls(c) < 0)
			conn_puts(c, "-ERR no tls\r\n");
	} else if (strcmp(line, "TIMEOUT") == 0) {
		conn_set_idle_timeout(c, 1);
		conn_puts(c, "+OK 1s\r\n");
	} else if (strcmp(line, "FILE") == 0) {
		fd = open(file_path, O_RDONLY);
		conn_puts(c, "+OK file\r\n");
		if (fd < 0 || conn_write_file(c, fd, 0, -1) < 0)
			conn_puts(c, "-ERR file\r\n");
		if (fd >= 0)
			close(fd);
		conn_puts(c, "+OK after\r\n");
	} else if (strcmp(line, "BIG") == 0) {
		fd = open(big_path, O_RDONLY);
		if (fd < 0 || conn_write_file(c, fd, 0, -1) < 0)
			conn_puts(c, "-ERR file\r\n");
		if (fd >= 0)
			close(fd);
		conn_puts(c, "+OK after\r\n");
	} else if (sscanf(line, "STREAM %lu", &n) == 1) {
		e->stream_left = n;
		stream_more(c);
	} else if (strcmp(line, "MAXLINE") == 0) {
		conn_set_max_line(c, 16);
		conn_puts(c, "+OK 16\r\n");
	} else {
		conn_printf(c, "echo %zu %s\r\n", len, line);
	}
}

static void echo_too_long(struct conn *c)
{
	conn_puts(c, "-ERR too long\r\n");
}

static void echo_timeout(struct conn *c)
{
	conn_puts(c, "* BYE timeout\r\n");
}

static void echo_shutdown(struct conn *c)
{
	conn_puts(c, "* BYE shutdown\r\n");
}

static void echo_tls_done(struct conn *c, int ok)
{
	if (!ok)
		tls_failures++;
	conn_printf(c, "+OK tls %d\r\n", ok);
}

static void echo_close(struct conn *c, const char *reason)
{
	struct echo *e = conn_ctx(c);

	if (n_closed < 64)
		snprintf(closed_reasons[n_closed++], 16, "%s", reason);
	if (e != NULL) {
		net_timer_free(&e->resume);
		strbuf_free(&e->lit);
		free(e);
	}
}

static const struct conn_ops echo_ops = {
    .proto = "echo",
    .open = echo_open,
    .line = echo_line,
    .line_too_long = echo_too_long,
    .timeout = echo_timeout,
    .shutdown = echo_shutdown,
    .tls_done = echo_tls_done,
    .close = echo_close,
};

/* --- the harness -------------------------------------------------------- */

struct harness {
	struct net *net;
	struct net_async *stop;
	unsigned port, tls_port;
	char dir[128];
	char sock[192], cert[192], key[192];
	SSL_CTX *client_ctx;
	char fail[512]; /* first failure seen by the client thread */
	void (*script)(struct harness *h);
};

#define CHECK(h, cond)                                                         \
	do {                                                                   \
		if (!(cond) && (h)->fail[0] == '\0')                           \
			snprintf((h)->fail, sizeof((h)->fail), "%s:%d: %s",    \
				 __FILE__, __LINE__, #cond);                   \
	} while (0)

static void stop_cb(void *arg)
{
	net_shutdown(arg);
}

static int tcp_connect(unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A client connection: a socket, optionally with TLS on top. */
struct client {
	int fd;
	SSL *ssl;
	char buf[65536];
	size_t len;
};

static void cl_send(struct client *cl, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t r = cl->ssl
				? SSL_write(cl->ssl, s + off, (int)(len - off))
				: write(cl->fd, s + off, len - off);
		if (r <= 0)
			return;
		off += (size_t)r;
	}
}

/* Reads one line (without CRLF) into line; returns its length or -1. */
static int cl_line(struct client *cl, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(cl->buf, '\n', cl->len);
		ssize_t r;

		if (nl != NULL) {
			size_t n = (size_t)(nl - cl->buf);
			size_t copy = n < size - 1 ? n : size - 1;

			memcpy(line, cl->buf, copy);
			if (copy > 0 && line[copy - 1] == '\r')
				copy--;
			line[copy] = '\0';
			memmove(cl->buf, nl + 1, cl->len - n - 1);
			cl->len -= n + 1;
			return (int)copy;
		}
		if (cl->len == sizeof(cl->buf))
			return -1;
		r = cl->ssl ? SSL_read(cl->ssl, cl->buf + cl->len,
				       (int)(sizeof(cl->buf) - cl->len))
			    : read(cl->fd, cl->buf + cl->len,
				   sizeof(cl->buf) - cl->len);
		if (r <= 0)
			return -1;
		cl->len += (size_t)r;
	}
}

static int cl_expect(struct client *cl, const char *prefix)
{
	char line[4096];

	if (cl_line(cl, line, sizeof(line)) < 0)
		return 0;
	if (strncmp(line, prefix, strlen(prefix)) != 0) {
		fprintf(stderr, "expected '%s', got '%s'\n", prefix, line);
		return 0;
	}
	return 1;
}

static int cl_tls(struct harness *h, struct client *cl)
{
	X509_VERIFY_PARAM *vp;

	cl->ssl = SSL_new(h->client_ctx);
	vp = SSL_get0_param(cl->ssl);
	X509_VERIFY_PARAM_set1_ip_asc(vp, "127.0.0.1");
	SSL_set_fd(cl->ssl, cl->fd);
	if (SSL_connect(cl->ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	return 0;
}

static void cl_close(struct client *cl)
{
	if (cl->ssl != NULL) {
		SSL_shutdown(cl->ssl);
		SSL_free(cl->ssl);
	}
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	cl->ssl = NULL;
}

static void *client_thread(void *arg)
{
	struct harness *h = arg;

	h->script(h);
	net_async_trigger(h->stop);
	return NULL;
}

static void run_scenario(void (*script)(struct harness *h), unsigned grace)
{
	struct net_params p = {.shutdown_grace_ms = grace,
			       .max_connections = scenario_max_conn};
	struct net_listen_spec spec;
	struct harness h = {0};
	SSL_CTX *sctx;
	char *err = NULL;
	pthread_t th;
	char addr[256];

	n_closed = 0;
	n_opened = 0;
	tls_failures = 0;
	snprintf(h.dir, sizeof(h.dir), "/tmp/rookery-test-net-XXXXXX");
	assert_non_null(mkdtemp(h.dir));
	snprintf(h.sock, sizeof(h.sock), "%s/echo.sock", h.dir);
	snprintf(h.cert, sizeof(h.cert), "%s/cert.pem", h.dir);
	snprintf(h.key, sizeof(h.key), "%s/key.pem", h.dir);
	snprintf(file_path, sizeof(file_path), "%s/file", h.dir);
	FILE *f = fopen(file_path, "w");
	assert_non_null(f);
	fputs(file_data, f);
	fclose(f);
	snprintf(big_path, sizeof(big_path), "%s/big", h.dir);
	f = fopen(big_path, "w");
	assert_non_null(f);
	for (unsigned i = 0; i < BIG_LINES; i++)
		fprintf(f, "big %06u\r\n", i);
	fclose(f);

	assert_int_equal(tls_make_self_signed("localhost", h.cert, h.key, &err),
			 0);
	sctx = tls_server_ctx_new(h.cert, h.key, &err);
	assert_non_null(sctx);
	h.client_ctx = tls_client_ctx_new(h.cert, &err);
	assert_non_null(h.client_ctx);
	p.tls_ctx = sctx;
	h.net = net_new(&p);

	assert_int_equal(net_listen_parse("echo 127.0.0.1:0", &spec, &err), 0);
	assert_int_equal(net_listen(h.net, &spec, &echo_ops, NULL, &err), 0);
	net_listen_spec_clear(&spec);
	h.port = net_last_port(h.net);
	assert_int_equal(net_listen_parse("echo 127.0.0.1:0 tls", &spec, &err),
			 0);
	assert_int_equal(net_listen(h.net, &spec, &echo_ops, NULL, &err), 0);
	net_listen_spec_clear(&spec);
	h.tls_port = net_last_port(h.net);
	snprintf(addr, sizeof(addr), "echo unix:%s", h.sock);
	assert_int_equal(net_listen_parse(addr, &spec, &err), 0);
	assert_int_equal(net_listen(h.net, &spec, &echo_ops, NULL, &err), 0);
	net_listen_spec_clear(&spec);

	h.stop = net_async_new(h.net, stop_cb, h.net);
	reloads = 0;
	net_on_reload(h.net, on_reload, NULL);
	h.script = script;
	assert_int_equal(pthread_create(&th, NULL, client_thread, &h), 0);
	assert_int_equal(net_run(h.net), 0);
	pthread_join(th, NULL);
	net_async_free(&h.stop);
	net_free(&h.net);
	tls_ctx_free(&sctx);
	SSL_CTX_free(h.client_ctx);
	unlink(h.cert);
	unlink(h.key);
	unlink(file_path);
	unlink(big_path);
	unlink(h.sock);
	rmdir(h.dir);
	if (h.fail[0] != '\0')
		fail_msg("%s", h.fail);
	assert_int_equal(n_opened, n_closed);
}

/* --- scripts ------------------------------------------------------------ */

static void script_lines(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};
	char line[256];

	CHECK(h, cl.fd >= 0);
	CHECK(h, cl_expect(&cl, "+OK hello "));
	cl_send(&cl, "hello\r\n");
	CHECK(h, cl_expect(&cl, "echo 5 hello"));
	cl_send(&cl, "lf only\n");
	CHECK(h, cl_expect(&cl, "echo 7 lf only"));
	/* pipelined, in pieces */
	cl_send(&cl, "a\r\nb");
	usleep(20000);
	cl_send(&cl, "c\r\n\r\n");
	CHECK(h, cl_expect(&cl, "echo 1 a"));
	CHECK(h, cl_expect(&cl, "echo 2 bc"));
	CHECK(h, cl_expect(&cl, "echo 0 "));
	/* a NUL inside a line: the length says 3 */
	CHECK(h, write(cl.fd, "x\0y\r\n", 5) == 5);
	CHECK(h, cl_expect(&cl, "echo 3 x"));
	/* too long, then recovery */
	cl_send(&cl, "MAXLINE\r\n");
	CHECK(h, cl_expect(&cl, "+OK 16"));
	cl_send(&cl, "0123456789abcdef\r\n");
	CHECK(h, cl_expect(&cl, "echo 16 0123456789abcdef"));
	cl_send(&cl, "0123456789abcdefg\r\nok\r\n");
	CHECK(h, cl_expect(&cl, "-ERR too long"));
	CHECK(h, cl_expect(&cl, "echo 2 ok"));
	cl_send(&cl, "QUIT\r\n");
	CHECK(h, cl_expect(&cl, "+OK bye"));
	CHECK(h, cl_line(&cl, line, sizeof(line)) < 0); /* closed */
	cl_close(&cl);

	/* the same over the Unix socket */
	cl.fd = unix_connect(h->sock);
	cl.len = 0;
	CHECK(h, cl.fd >= 0);
	CHECK(h, cl_expect(&cl, "+OK hello "));
	cl_send(&cl, "unix\r\nQUIT\r\n");
	CHECK(h, cl_expect(&cl, "echo 4 unix"));
	CHECK(h, cl_expect(&cl, "+OK bye"));
	cl_close(&cl);
}

static void test_lines(void **state)
{
	(void)state;
	run_scenario(script_lines, 500);
	assert_int_equal(n_closed, 2);
	assert_string_equal(closed_reasons[0], "closed");
}

static void script_pause(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};

	CHECK(h, cl_expect(&cl, "+OK hello "));
	/* the lines after PAUSE wait until the timer resumes */
	cl_send(&cl, "PAUSE\r\none\r\ntwo\r\n");
	CHECK(h, cl_expect(&cl, "+OK paused"));
	CHECK(h, cl_expect(&cl, "+OK resumed"));
	CHECK(h, cl_expect(&cl, "echo 3 one"));
	CHECK(h, cl_expect(&cl, "echo 3 two"));
	/* pause with everything already buffered and then EOF */
	cl_send(&cl, "PAUSE\r\nlast\r\n");
	shutdown(cl.fd, SHUT_WR);
	CHECK(h, cl_expect(&cl, "+OK paused"));
	CHECK(h, cl_expect(&cl, "+OK resumed"));
	CHECK(h, cl_expect(&cl, "echo 4 last"));
	cl_close(&cl);
}

static void test_pause_resume(void **state)
{
	(void)state;
	run_scenario(script_pause, 500);
	assert_int_equal(n_closed, 1);
	assert_string_equal(closed_reasons[0], "eof");
}

static void script_literal_raw(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};

	CHECK(h, cl_expect(&cl, "+OK hello "));
	cl_send(&cl, "LIT 5\r\n");
	CHECK(h, cl_expect(&cl, "+ go LIT 5"));
	cl_send(&cl, "ab");
	usleep(20000);
	cl_send(&cl, "c\r\n");
	usleep(20000);
	cl_send(&cl, "rest of line\r\n");
	CHECK(h, cl_expect(&cl, "+OK lit 5 [abc"));
	CHECK(h, cl_expect(&cl, "]"));
	CHECK(h, cl_expect(&cl, "echo 12 rest of line"));
	/* zero-length literal, pipelined with what follows */
	cl_send(&cl, "LIT 0\r\nnext\r\n");
	CHECK(h, cl_expect(&cl, "+ go LIT 0"));
	CHECK(h, cl_expect(&cl, "+OK lit 0 []"));
	CHECK(h, cl_expect(&cl, "echo 4 next"));
	/* raw mode, pipelined with lines */
	cl_send(&cl, "RAW\r\nxx\nyyEND\nafter\r\n");
	CHECK(h, cl_expect(&cl, "+OK raw 5"));
	CHECK(h, cl_expect(&cl, "echo 5 after"));
	/* a file */
	cl_send(&cl, "FILE\r\n");
	CHECK(h, cl_expect(&cl, "+OK file"));
	CHECK(h, cl_expect(&cl, "file-contents-0123456789"));
	CHECK(h, cl_expect(&cl, "+OK after"));
	cl_send(&cl, "QUIT\r\n");
	CHECK(h, cl_expect(&cl, "+OK bye"));
	cl_close(&cl);
}

static void test_literal_raw_file(void **state)
{
	(void)state;
	run_scenario(script_literal_raw, 500);
}

static void script_timeout(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};
	char line[256];

	CHECK(h, cl_expect(&cl, "+OK hello "));
	cl_send(&cl, "TIMEOUT\r\n");
	CHECK(h, cl_expect(&cl, "+OK 1s"));
	CHECK(h, cl_expect(&cl, "* BYE timeout"));
	CHECK(h, cl_line(&cl, line, sizeof(line)) < 0);
	cl_close(&cl);
}

static void test_timeout(void **state)
{
	(void)state;
	run_scenario(script_timeout, 500);
	assert_int_equal(n_closed, 1);
	assert_string_equal(closed_reasons[0], "timeout");
}

static void script_tls(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};

	/* STARTTLS, with a command injected after it in the same packet */
	CHECK(h, cl_expect(&cl, "+OK hello "));
	CHECK(h, strstr(cl.buf, "") != NULL);
	cl_send(&cl, "STARTTLS\r\nINJECTED\r\n");
	CHECK(h, cl_expect(&cl, "+OK begin"));
	CHECK(h, cl.len == 0);
	CHECK(h, cl_tls(h, &cl) == 0);
	CHECK(h, cl_expect(&cl, "+OK tls 1"));
	cl_send(&cl, "secure\r\n");
	CHECK(h, cl_expect(&cl, "echo 6 secure"));
	cl_send(&cl, "STARTTLS\r\n");
	CHECK(h, cl_expect(&cl, "+OK begin"));
	CHECK(h, cl_expect(&cl, "-ERR no tls"));
	cl_send(&cl, "FILE\r\n");
	CHECK(h, cl_expect(&cl, "+OK file"));
	CHECK(h, cl_expect(&cl, "file-contents-0123456789"));
	CHECK(h, cl_expect(&cl, "+OK after"));
	cl_send(&cl, "QUIT\r\n");
	CHECK(h, cl_expect(&cl, "+OK bye"));
	cl_close(&cl);

	/* implicit TLS */
	memset(&cl, 0, sizeof(cl));
	cl.fd = tcp_connect(h->tls_port);
	CHECK(h, cl_tls(h, &cl) == 0);
	CHECK(h, cl_expect(&cl, "+OK hello "));
	CHECK(h, strstr(cl.buf, "") != NULL);
	cl_send(&cl, "LIT 3\r\nxyz\r\n");
	CHECK(h, cl_expect(&cl, "+ go LIT 3"));
	CHECK(h, cl_expect(&cl, "+OK lit 3 [xyz]"));
	CHECK(h, cl_expect(&cl, "echo 0 "));
	cl_send(&cl, "QUIT\r\n");
	CHECK(h, cl_expect(&cl, "+OK bye"));
	cl_close(&cl);

	/* STARTTLS, then garbage instead of a ClientHello */
	memset(&cl, 0, sizeof(cl));
	cl.fd = tcp_connect(h->port);
	CHECK(h, cl_expect(&cl, "+OK hello "));
	cl_send(&cl, "STARTTLS\r\n");
	CHECK(h, cl_expect(&cl, "+OK begin"));
	cl_send(&cl, "this is not TLS at all\r\n\r\n");
	CHECK(h, cl_line(&cl, cl.buf + 1000, 100) < 0);
	cl_close(&cl);

	/* a client that does not speak TLS to the TLS port */
	memset(&cl, 0, sizeof(cl));
	cl.fd = tcp_connect(h->tls_port);
	cl_send(&cl, "hello\r\n");
	CHECK(h, cl_line(&cl, cl.buf + 1000, 100) < 0);
	cl_close(&cl);
}

static void test_tls(void **state)
{
	(void)state;
	run_scenario(script_tls, 500);
	assert_int_equal(n_opened, 3);
	assert_int_equal(tls_failures, 1);
	assert_string_equal(closed_reasons[2], "error");
}

static void read_big(struct harness *h, struct client *cl)
{
	char line[256], want[64];
	unsigned i;

	for (i = 0; i < BIG_LINES; i++) {
		snprintf(want, sizeof(want), "big %06u", i);
		if (cl_line(cl, line, sizeof(line)) < 0 ||
		    strcmp(line, want) != 0)
			break;
	}
	CHECK(h, i == BIG_LINES);
	CHECK(h, cl_expect(cl, "+OK after"));
}

static void read_stream(struct harness *h, struct client *cl, unsigned n)
{
	char line[256], want[64];
	unsigned i;

	for (i = n; i > 0; i--) {
		snprintf(want, sizeof(want), "line %06u", i - 1);
		if (cl_line(cl, line, sizeof(line)) < 0 ||
		    strcmp(line, want) != 0)
			break;
	}
	CHECK(h, i == 0);
	CHECK(h, cl_expect(cl, "+OK streamed peak<128k=1"));
}

/* Large replies: a file (sendfile on plain, chunks on TLS) and a stream
 * driven by conn_on_drain(), read slowly at first. */
static void script_big(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};

	CHECK(h, cl_expect(&cl, "+OK hello "));
	cl_send(&cl, "BIG\r\n");
	usleep(100000);
	read_big(h, &cl);
	cl_send(&cl, "STREAM 100000\r\n");
	usleep(100000);
	read_stream(h, &cl, 100000);
	cl_send(&cl, "STARTTLS\r\n");
	CHECK(h, cl_expect(&cl, "+OK begin"));
	CHECK(h, cl_tls(h, &cl) == 0);
	CHECK(h, cl_expect(&cl, "+OK tls 1"));
	cl_send(&cl, "BIG\r\nBIG\r\n");
	usleep(100000);
	read_big(h, &cl);
	read_big(h, &cl);
	cl_send(&cl, "STREAM 50000\r\n");
	read_stream(h, &cl, 50000);
	/* close with a big reply still queued: it is flushed first */
	cl_send(&cl, "BIG\r\nQUIT\r\n");
	usleep(100000);
	read_big(h, &cl);
	CHECK(h, cl_expect(&cl, "+OK bye"));
	cl_close(&cl);
}

static void test_big_output(void **state)
{
	(void)state;
	run_scenario(script_big, 500);
	assert_int_equal(n_closed, 1);
	assert_string_equal(closed_reasons[0], "closed");
}

/* max_connections = 1: a second client waits until the first leaves. */
static void script_max_conn(struct harness *h)
{
	struct client a = {.fd = tcp_connect(h->port)};
	struct client b = {.fd = -1};
	struct timeval tv = {0, 300000};
	char line[256];

	CHECK(h, cl_expect(&a, "+OK hello "));
	b.fd = tcp_connect(h->port);
	setsockopt(b.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(h, cl_line(&b, line, sizeof(line)) < 0); /* no greeting yet */
	cl_send(&a, "QUIT\r\n");
	CHECK(h, cl_expect(&a, "+OK bye"));
	cl_close(&a);
	tv.tv_sec = 5;
	setsockopt(b.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(h, cl_expect(&b, "+OK hello "));
	cl_send(&b, "QUIT\r\n");
	CHECK(h, cl_expect(&b, "+OK bye"));
	cl_close(&b);
}

static void test_max_connections(void **state)
{
	(void)state;
	scenario_max_conn = 1;
	run_scenario(script_max_conn, 500);
	scenario_max_conn = 0;
	assert_int_equal(n_closed, 2);
}

/* Shutdown by SIGTERM: the open session gets its goodbye, then closes. */
static void script_shutdown(struct harness *h)
{
	struct client cl = {.fd = tcp_connect(h->port)};
	struct client cl2 = {.fd = unix_connect(h->sock)};
	char line[256];

	CHECK(h, cl_expect(&cl, "+OK hello "));
	CHECK(h, cl_expect(&cl2, "+OK hello "));
	kill(getpid(), SIGHUP);
	cl_send(&cl, "sync\r\n");
	CHECK(h, cl_expect(&cl, "echo 4 sync"));
	kill(getpid(), SIGTERM);
	CHECK(h, cl_expect(&cl, "* BYE shutdown"));
	CHECK(h, cl_expect(&cl2, "* BYE shutdown"));
	/* input is still served during the grace period */
	cl_send(&cl, "still\r\n");
	CHECK(h, cl_expect(&cl, "echo 5 still"));
	CHECK(h, cl_line(&cl, line, sizeof(line)) < 0);
	CHECK(h, cl_line(&cl2, line, sizeof(line)) < 0);
	/* the listeners are gone */
	CHECK(h, tcp_connect(h->port) < 0);
	CHECK(h, access(h->sock, F_OK) < 0);
	cl_close(&cl);
	cl_close(&cl2);
}

static void test_shutdown(void **state)
{
	(void)state;
	run_scenario(script_shutdown, 300);
	assert_int_equal(reloads, 1);
	assert_int_equal(n_closed, 2);
	assert_string_equal(closed_reasons[0], "shutdown");
	assert_string_equal(closed_reasons[1], "shutdown");
}

/* --- listen specs ------------------------------------------------------- */

static void test_listen_parse(void **state)
{
	struct net_listen_spec s;
	char *err = NULL;

	(void)state;
	assert_int_equal(net_listen_parse("pop3s 127.0.0.1:995 tls", &s, &err),
			 0);
	assert_string_equal(s.proto, "pop3s");
	assert_string_equal(s.addr, "127.0.0.1:995");
	assert_int_equal(s.tls, NET_TLS_IMPLICIT);
	net_listen_spec_clear(&s);
	assert_int_equal(
	    net_listen_parse("sieve [::1]:2000 legacy proxy", &s, &err), 0);
	assert_int_equal(s.tls, NET_TLS_NONE);
	assert_int_equal(s.legacy, 1);
	assert_int_equal(s.proxy, 1);
	net_listen_spec_clear(&s);
	assert_int_equal(net_listen_parse("lmtp unix:/run/lmtp", &s, &err), 0);
	net_listen_spec_clear(&s);
	assert_int_equal(net_listen_parse("imap *:143", &s, &err), 0);
	net_listen_spec_clear(&s);

	assert_int_equal(net_listen_parse("pop3 localhost", &s, &err), -1);
	assert_string_equal(err, "listen = pop3 localhost: expected HOST:PORT "
				 "or unix:PATH");
	free(err);
	assert_int_equal(net_listen_parse("pop3", &s, &err), -1);
	free(err);
	assert_int_equal(net_listen_parse("pop3 1.2.3.4:99999", &s, &err), -1);
	free(err);
	assert_int_equal(net_listen_parse("pop3 ::1:110", &s, &err), -1);
	free(err);
	assert_int_equal(net_listen_parse("pop3 unix:", &s, &err), -1);
	free(err);
	assert_int_equal(net_listen_parse("pop3 1.2.3.4:1 bogus", &s, &err),
			 -1);
	assert_non_null(strstr(err, "bogus"));
	free(err);
}

static void test_listen_errors(void **state)
{
	struct net_params p = {0};
	struct net_listen_spec s;
	struct net *n = net_new(&p);
	char *err = NULL;

	(void)state;
	/* implicit TLS without a context */
	assert_int_equal(net_listen_parse("imaps 127.0.0.1:0 tls", &s, &err),
			 0);
	assert_int_equal(net_listen(n, &s, &echo_ops, NULL, &err), -1);
	free(err);
	net_listen_spec_clear(&s);
	/* a port already taken */
	assert_int_equal(net_listen_parse("imap 127.0.0.1:0", &s, &err), 0);
	assert_int_equal(net_listen(n, &s, &echo_ops, NULL, &err), 0);
	net_listen_spec_clear(&s);
	{
		char addr[64];

		snprintf(addr, sizeof(addr), "imap 127.0.0.1:%u",
			 net_last_port(n));
		assert_int_equal(net_listen_parse(addr, &s, &err), 0);
		assert_int_equal(net_listen(n, &s, &echo_ops, NULL, &err), -1);
		assert_non_null(strstr(err, "in use"));
		free(err);
		net_listen_spec_clear(&s);
	}
	net_free(&n);
	assert_null(n);
}

/* IPv6 on loopback, driving the loop by hand from this thread. */
static void test_ipv6(void **state)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct net *n = net_new(NULL);
	struct net_listen_spec s;
	char *err = NULL, buf[256];
	ssize_t got = 0;
	int fd, i;

	(void)state;
	assert_int_equal(net_listen_parse("echo [::1]:0", &s, &err), 0);
	if (net_listen(n, &s, &echo_ops, NULL, &err) < 0) {
		/* no IPv6 in this sandbox */
		free(err);
		net_listen_spec_clear(&s);
		net_free(&n);
		skip();
	}
	net_listen_spec_clear(&s);
	sin6.sin6_port = htons((uint16_t)net_last_port(n));
	sin6.sin6_addr = in6addr_loopback;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)),
			 0);
	n_closed = n_opened = 0;
	for (i = 0; i < 200 && got <= 0; i++) {
		event_base_loop(net_base(n), EVLOOP_NONBLOCK);
		got = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (got <= 0)
			usleep(5000);
	}
	assert_true(got > 0);
	buf[got] = '\0';
	assert_non_null(strstr(buf, "+OK hello "));
	assert_string_equal(last_peer_ip, "::1");
	close(fd);
	net_free(&n);
	assert_int_equal(n_closed, 1);
	assert_string_equal(closed_reasons[0], "shutdown");
}

/* --- timers and async --------------------------------------------------- */

static int timer_hits;

static void timer_cb(void *arg)
{
	struct net_timer **t = arg;

	if (++timer_hits == 3)
		net_timer_stop(*t);
}

static void timer_end(void *arg)
{
	net_shutdown(arg);
}

static void test_timers(void **state)
{
	struct net *n = net_new(NULL);
	struct net_timer *rep = net_timer_new(n, timer_cb, &rep);
	struct net_timer *end = net_timer_new(n, timer_end, n);

	(void)state;
	timer_hits = 0;
	net_timer_start(rep, 10, 1);
	net_timer_start(end, 200, 0);
	assert_int_equal(net_run(n), 0);
	assert_int_equal(timer_hits, 3);
	net_timer_free(&rep);
	net_timer_free(&end);
	assert_null(rep);
	net_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_parse),
	    cmocka_unit_test(test_listen_errors),
	    cmocka_unit_test(test_timers),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_pause_resume),
	    cmocka_unit_test(test_literal_raw_file),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_big_output),
	    cmocka_unit_test(test_max_connections),
	    cmocka_unit_test(test_shutdown),
	};

	log_init("test_net", 0, LOG_LEVEL_WARN);
	if (getenv("TEST_NET_DEBUG") != NULL)
		log_set_level(LOG_LEVEL_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
