/*
 * test_net_deflate.c - conn_start_deflate() (lib/net_deflate.c) against a
 * real socket: a tiny line protocol on 127.0.0.1 port 0 whose "DEFLATE"
 * command answers in plain and then switches; a client thread speaks raw
 * deflate (zlib, windowBits -15) both ways and checks lines, literals, a
 * file sent through conn_write_file(), a large streamed reply, pipelined
 * compressed input, refusal of a second switch, and that broken deflate
 * input closes the connection.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "net.h"
#include "strbuf.h"

#define BIG_LINES 30000

static char file_path[128];
static char fail_msg_buf[256];
static unsigned n_open, n_close;
static char last_reason[16];

/* --- the protocol ------------------------------------------------------- */

static int t_open(struct conn *c)
{
	n_open++;
	conn_puts(c, "+OK hello\r\n");
	return 0;
}

static size_t lit_bytes, lit_zeros;

static void lit_done(struct conn *c)
{
	conn_printf(c, "+OK lit %zu zeros=%zu\r\n", lit_bytes, lit_zeros);
	lit_bytes = lit_zeros = 0;
}

static void lit_chunk(struct conn *c, const void *d, size_t n)
{
	(void)c;
	lit_bytes += n;
	for (size_t i = 0; i < n; i++)
		lit_zeros += ((const char *)d)[i] == '\0';
}

static void t_line(struct conn *c, char *line, size_t len)
{
	unsigned long n;

	(void)len;
	if (strcmp(line, "DEFLATE") == 0) {
		conn_puts(c, "+OK deflate\r\n");
		if (conn_start_deflate(c) < 0)
			conn_puts(c, "-ERR again\r\n");
	} else if (strcmp(line, "ACTIVE") == 0) {
		conn_printf(c, "+OK active=%d\r\n", conn_deflate_active(c));
	} else if (strcmp(line, "FILE") == 0) {
		int fd = open(file_path, O_RDONLY);

		conn_puts(c, "+OK file\r\n");
		conn_write_file(c, fd, 0, -1);
		close(fd);
		conn_puts(c, "+OK after\r\n");
	} else if (strcmp(line, "FILEDEFLATE") == 0) {
		/* a file queued, then the switch: it must go out plain */
		int fd = open(file_path, O_RDONLY);

		conn_write_file(c, fd, 0, -1);
		close(fd);
		conn_puts(c, "+OK deflate\r\n");
		conn_start_deflate(c);
	} else if (sscanf(line, "BIG %lu", &n) == 1) {
		for (unsigned long i = 0; i < n; i++)
			conn_printf(c, "big %06lu\r\n", i);
		conn_puts(c, "+OK big\r\n");
	} else if (sscanf(line, "LIT %lu", &n) == 1) {
		conn_read_literal(c, n, lit_chunk, lit_done);
	} else if (strcmp(line, "QUIT") == 0) {
		conn_puts(c, "+OK bye\r\n");
		conn_close(c);
	} else {
		conn_printf(c, "echo %s\r\n", line);
	}
}

static void t_close(struct conn *c, const char *reason)
{
	(void)c;
	n_close++;
	snprintf(last_reason, sizeof(last_reason), "%s", reason);
}

static const struct conn_ops t_ops = {
    .proto = "deflate-test",
    .open = t_open,
    .line = t_line,
    .close = t_close,
};

/* --- the client --------------------------------------------------------- */

struct client {
	int fd;
	int z_on;
	z_stream zin, zout;
	struct strbuf in; /* plain bytes received, not yet read */
};

#define FAIL(...)                                                              \
	do {                                                                   \
		if (fail_msg_buf[0] == '\0')                                   \
			snprintf(fail_msg_buf, sizeof(fail_msg_buf),           \
				 __VA_ARGS__);                                 \
	} while (0)

static void cl_raw_send(struct client *cl, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(cl->fd, p, n);

		if (r <= 0)
			return;
		p = (const char *)p + r;
		n -= (size_t)r;
	}
}

static void cl_send(struct client *cl, const char *s)
{
	unsigned char out[65536];

	if (!cl->z_on) {
		cl_raw_send(cl, s, strlen(s));
		return;
	}
	cl->zout.next_in = (Bytef *)(uintptr_t)s;
	cl->zout.avail_in = (uInt)strlen(s);
	do {
		cl->zout.next_out = out;
		cl->zout.avail_out = sizeof(out);
		deflate(&cl->zout, Z_SYNC_FLUSH);
		cl_raw_send(cl, out, sizeof(out) - cl->zout.avail_out);
	} while (cl->zout.avail_out == 0);
}

/* Moves received bytes (inflated once z_on) into cl->in; 0 on EOF. */
static int cl_fill(struct client *cl)
{
	unsigned char buf[16384], out[65536];
	ssize_t r = read(cl->fd, buf, sizeof(buf));

	if (r <= 0)
		return 0;
	if (!cl->z_on) {
		strbuf_add(&cl->in, buf, (size_t)r);
		return 1;
	}
	cl->zin.next_in = buf;
	cl->zin.avail_in = (uInt)r;
	do {
		int zr;

		cl->zin.next_out = out;
		cl->zin.avail_out = sizeof(out);
		zr = inflate(&cl->zin, Z_SYNC_FLUSH);
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			FAIL("inflate: %d", zr);
			return 0;
		}
		strbuf_add(&cl->in, out, sizeof(out) - cl->zin.avail_out);
	} while (cl->zin.avail_in > 0 || cl->zin.avail_out == 0);
	return 1;
}

/* The next line without CRLF (static buffer), or NULL at EOF. */
static const char *cl_line(struct client *cl)
{
	static char line[1024];

	for (;;) {
		char *nl = memchr(cl->in.data, '\n', cl->in.len);

		if (nl != NULL) {
			size_t n = (size_t)(nl - cl->in.data);
			size_t copy = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

			memcpy(line, cl->in.data, copy);
			if (copy > 0 && line[copy - 1] == '\r')
				copy--;
			line[copy] = '\0';
			memmove(cl->in.data, nl + 1, cl->in.len - n - 1);
			strbuf_truncate(&cl->in, cl->in.len - n - 1);
			return line;
		}
		if (!cl_fill(cl))
			return NULL;
	}
}

static void expect(struct client *cl, const char *want)
{
	const char *got = cl_line(cl);

	if (got == NULL || strcmp(got, want) != 0)
		FAIL("want [%s] got [%s]", want, got ? got : "(eof)");
}

/* Switches the client side on, with whatever already arrived after the
 * server's plain "+OK deflate" line inflated too. */
static void cl_deflate_on(struct client *cl)
{
	struct strbuf rest;

	cl->z_on = 1;
	strbuf_init(&rest);
	strbuf_add(&rest, cl->in.data, cl->in.len);
	strbuf_reset(&cl->in);
	if (rest.len > 0) {
		unsigned char out[65536];

		cl->zin.next_in = (Bytef *)rest.data;
		cl->zin.avail_in = (uInt)rest.len;
		do {
			cl->zin.next_out = out;
			cl->zin.avail_out = sizeof(out);
			inflate(&cl->zin, Z_SYNC_FLUSH);
			strbuf_add(&cl->in, out,
				   sizeof(out) - cl->zin.avail_out);
		} while (cl->zin.avail_in > 0 || cl->zin.avail_out == 0);
	}
	strbuf_free(&rest);
}

static int cl_open(struct client *cl, unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {5, 0};

	memset(cl, 0, sizeof(*cl));
	strbuf_init(&cl->in);
	cl->fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	inflateInit2(&cl->zin, -15);
	deflateInit2(&cl->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
		     Z_DEFAULT_STRATEGY);
	return 0;
}

static void cl_close(struct client *cl)
{
	inflateEnd(&cl->zin);
	deflateEnd(&cl->zout);
	strbuf_free(&cl->in);
	close(cl->fd);
}

struct run {
	struct net *net;
	struct net_async *stop;
	unsigned port;
};

static void script(unsigned port)
{
	struct client cl;
	char buf[64];

	/* lines, literals, files, big replies, pipelining */
	if (cl_open(&cl, port) < 0) {
		FAIL("connect");
		return;
	}
	expect(&cl, "+OK hello");
	cl_send(&cl, "ACTIVE\r\n");
	expect(&cl, "+OK active=0");
	/* the command and compressed input in one write */
	cl_send(&cl, "DEFLATE\r\n");
	cl.z_on = 1;
	cl_send(&cl, "ACTIVE\r\nhello\r\n");
	cl.z_on = 0;
	expect(&cl, "+OK deflate");
	cl_deflate_on(&cl);
	expect(&cl, "+OK active=1");
	expect(&cl, "echo hello");
	cl_send(&cl, "DEFLATE\r\n");
	expect(&cl, "+OK deflate");
	expect(&cl, "-ERR again");
	cl_send(&cl, "LIT 5\r\nabcde");
	expect(&cl, "+OK lit 5 zeros=0");
	/* 3 MB of zeros in a few KB: inflated as the reader takes it */
	{
		static char zeros[3000000];

		cl_send(&cl, "LIT 3000000\r\n");
		cl.zout.next_in = (Bytef *)zeros;
		cl.zout.avail_in = sizeof(zeros);
		do {
			unsigned char out[65536];

			cl.zout.next_out = out;
			cl.zout.avail_out = sizeof(out);
			deflate(&cl.zout, Z_SYNC_FLUSH);
			cl_raw_send(&cl, out, sizeof(out) - cl.zout.avail_out);
		} while (cl.zout.avail_out == 0);
		cl_send(&cl, "\r\n");
		expect(&cl, "+OK lit 3000000 zeros=3000000");
		expect(&cl, "echo ");
	}
	cl_send(&cl, "FILE\r\n");
	expect(&cl, "+OK file");
	expect(&cl, "file-line-1");
	expect(&cl, "file-line-2");
	expect(&cl, "+OK after");
	snprintf(buf, sizeof(buf), "BIG %d\r\n", BIG_LINES);
	cl_send(&cl, buf);
	for (int i = 0; i < BIG_LINES; i++) {
		snprintf(buf, sizeof(buf), "big %06d", i);
		expect(&cl, buf);
		if (fail_msg_buf[0] != '\0')
			break;
	}
	expect(&cl, "+OK big");
	cl_send(&cl, "QUIT\r\n");
	expect(&cl, "+OK bye");
	if (cl_line(&cl) != NULL)
		FAIL("no EOF after QUIT");
	cl_close(&cl);

	/* a file queued before the switch goes out in plain */
	if (cl_open(&cl, port) < 0) {
		FAIL("connect 2");
		return;
	}
	expect(&cl, "+OK hello");
	cl_send(&cl, "FILEDEFLATE\r\n");
	expect(&cl, "file-line-1");
	expect(&cl, "file-line-2");
	expect(&cl, "+OK deflate");
	cl_deflate_on(&cl);
	cl_send(&cl, "ACTIVE\r\n");
	expect(&cl, "+OK active=1");
	/* broken deflate input: the server hangs up */
	cl.z_on = 0;
	cl_send(&cl, "\xff\xff\xff\xff\xff\xff garbage\r\n");
	cl.z_on = 1;
	if (cl_line(&cl) != NULL)
		FAIL("no EOF after garbage");
	cl_close(&cl);
}

static void *client_thread(void *arg)
{
	struct run *r = arg;

	script(r->port);
	/* let the server notice the last close before stopping */
	usleep(100 * 1000);
	net_async_trigger(r->stop);
	return NULL;
}

static void stop_cb(void *arg)
{
	net_shutdown(arg);
}

static void test_deflate(void **state)
{
	struct net_params p = {.shutdown_grace_ms = 100};
	struct net_listen_spec spec;
	struct run r = {0};
	char *err = NULL;
	pthread_t th;
	FILE *f;

	(void)state;
	snprintf(file_path, sizeof(file_path), "/tmp/rookery-deflate-%d",
		 (int)getpid());
	f = fopen(file_path, "w");
	assert_non_null(f);
	fputs("file-line-1\r\nfile-line-2\r\n", f);
	fclose(f);
	r.net = net_new(&p);
	assert_int_equal(net_listen_parse("t 127.0.0.1:0", &spec, &err), 0);
	assert_int_equal(net_listen(r.net, &spec, &t_ops, NULL, &err), 0);
	net_listen_spec_clear(&spec);
	r.port = net_last_port(r.net);
	r.stop = net_async_new(r.net, stop_cb, r.net);
	assert_int_equal(pthread_create(&th, NULL, client_thread, &r), 0);
	assert_int_equal(net_run(r.net), 0);
	pthread_join(th, NULL);
	net_async_free(&r.stop);
	net_free(&r.net);
	unlink(file_path);
	if (fail_msg_buf[0] != '\0')
		fail_msg("%s", fail_msg_buf);
	assert_int_equal(n_open, 2);
	assert_int_equal(n_close, 2);
	assert_string_equal(last_reason, "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deflate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
