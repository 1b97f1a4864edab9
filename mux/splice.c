/*
 * splice.c - the store -> client relay through a pipe (splice.h).
 *
 * One readable event on the store's socket (persistent, with a quiet
 * timeout that ends the relay) and one writable event on the client's
 * socket, used only while the client is full: then the store is not read
 * until the pipe is empty again, which is all the back-pressure there is
 * (the pipe never holds more than its capacity).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "net.h"
#include "strbuf.h"
#include "mux/backend.h"
#include "mux/mux.h"
#include "mux/splice.h"

/* What the pipe is asked to hold.  A user over its pipe allowance
 * (fs.pipe-user-pages-soft, 64 MiB by default) is refused the resize and
 * gets pipes of two pages; below SPLICE_MIN_PIPE the relay stays buffered
 * (net_bulk.c reads 64 KiB blocks), and small_read() may count on the
 * pipe holding more than SPLICE_SMALL. */
#define SPLICE_PIPE_SIZE (256 * 1024)
#define SPLICE_MIN_PIPE (64 * 1024)
/* A wake-up that finds less than this in the store's socket (and nothing
 * in the pipe) is a small reply (a tagged completion, a BYE): it is read
 * into user space, shown to the owner's tail hook (the session-end log and
 * the clean-end check look at the last bytes) and written through the
 * pipe.  Bulk never passes the hook. */
#define SPLICE_SMALL (16 * 1024)
/* Bytes moved per readable event, so that one busy session cannot hold
 * the loop (as net_bulk.c). */
#define SPLICE_BUDGET (512 * 1024)
/* A store quiet this long: the burst is over, give the pipe back. */
#define SPLICE_QUIET_MS 500

struct msplice {
	struct backend *b;
	struct conn *c;
	int sfd, cfd;		/* store, client sockets (not ours) */
	int pfd[2];
	size_t cap;		/* pipe capacity */
	size_t in_pipe;
	unsigned long long *bytes;
	void (*tail)(void *arg, const char *data, size_t len);
	void *arg;
	struct event *rd_ev;	/* store readable (or quiet timeout) */
	struct event *wr_ev;	/* client writable, while it was full */
	struct msplice **slot;
	int store_err;		/* errno of a failed read from the store */
	unsigned store_end : 1;	/* EOF or error seen: flush, then leave */
};

static const struct timeval quiet_tv = {SPLICE_QUIET_MS / 1000,
					(SPLICE_QUIET_MS % 1000) * 1000};

/* A pipe too small to be worth it: said once per process at warn level
 * (what to raise), at debug level afterwards. */
static void small_pipe(struct conn *c, size_t cap)
{
	static int said;

	if (!said) {
		said = 1;
		log_warnx("event=splice_small_pipe session=%s granted=%zu "
			  "wanted=%d hint=\"the kernel refused a bigger pipe: "
			  "raise fs.pipe-user-pages-soft for the mux's user; "
			  "bulk is relayed buffered meanwhile\"",
			  conn_id(c), cap, SPLICE_PIPE_SIZE);
		return;
	}
	log_debug("event=splice_small_pipe session=%s granted=%zu",
		  conn_id(c), cap);
}

int msplice_possible(struct backend *b, struct conn *c)
{
	return b != NULL && backend_plain_fd(b) >= 0 &&
	       conn_plain_fd(c) >= 0 && backend_input_pending(b) == 0 &&
	       conn_output_pending(c) == 0;
}

/* Reads what the pipe holds into user space, for the client's output. */
static void pipe_to_front(struct msplice *s)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL)
		return;
	while (s->in_pipe > 0) {
		int n = evbuffer_read(buf, s->pfd[0], (int)s->in_pipe);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s->in_pipe -= (size_t)n;
	}
	conn_write_front(s->c, buf);
	evbuffer_free(buf);
}

/* Ends the relay: the backend's bufferevent reads the socket again. */
static void leave(struct msplice *s, int flush)
{
	struct backend *b = s->b;

	if (flush && s->in_pipe > 0)
		pipe_to_front(s);
	*s->slot = NULL;
	event_free(s->rd_ev);
	event_free(s->wr_ev);
	close(s->pfd[0]);
	close(s->pfd[1]);
	free(s);
	backend_hold(b, 0);
}

/* The store ended (EOF or error) and the pipe is empty. */
static void finish(struct msplice *s)
{
	struct backend *b = s->b;
	int err = s->store_err;

	leave(s, 0);
	/* An EOF is seen again by the bufferevent's own read, and reported
	 * as always; an error is not (the socket reports it once). */
	if (err != 0)
		backend_lost(b, "error");
}

/* A broken relay: the session ends as after a store's I/O error. */
static void leave_err(struct msplice *s)
{
	struct backend *b = s->b;

	leave(s, 0);
	backend_lost(b, "error");
}

/* Someone else wrote to the client, or is closing it: step aside. */
static int check_client(struct msplice *s)
{
	if (conn_is_closing(s->c)) {
		leave(s, 0);	/* the session ends: the pipe may go */
		return -1;
	}
	if (conn_output_pending(s->c) > 0) {
		leave(s, 1);	/* our bytes came first */
		return -1;
	}
	return 0;
}

/* Pipe -> client.  0: the pipe is empty; 1: the client is full (waiting
 * for it to be writable); -1: the relay ended. */
static int flush_pipe(struct msplice *s)
{
	while (s->in_pipe > 0) {
		ssize_t n = splice(s->pfd[0], NULL, s->cfd, NULL, s->in_pipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n > 0) {
			s->in_pipe -= (size_t)n;
			conn_note_output(s->c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_del(s->rd_ev);
			event_add(s->wr_ev, NULL);
			return 1;
		}
		/* The client's socket failed: its own bufferevent meets the
		 * same condition on its next read and ends the session as
		 * always; what is left of this reply is lost anyway. */
		leave(s, 0);
		return -1;
	}
	return 0;
}

/* Store -> pipe -> client, up to SPLICE_BUDGET bytes. */
static void pump(struct msplice *s)
{
	size_t budget = SPLICE_BUDGET;

	for (;;) {
		int empty = 0, r;

		if (!s->store_end && s->in_pipe < s->cap) {
			ssize_t n = splice(s->sfd, NULL, s->pfd[1], NULL,
					   s->cap - s->in_pipe,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

			if (n > 0) {
				s->in_pipe += (size_t)n;
				*s->bytes += (size_t)n;
				budget = (size_t)n < budget ? budget - (size_t)n
							    : 0;
			} else if (n == 0) {
				s->store_end = 1;
			} else if (errno == EAGAIN) {
				empty = 1;
			} else if (errno != EINTR) {
				s->store_end = 1;
				s->store_err = errno;
			}
		}
		r = flush_pipe(s);
		if (r != 0)
			return;
		if (s->store_end) {
			finish(s);
			return;
		}
		if (empty || budget == 0)
			return;	/* more at the next readable event */
	}
}

/* Reads a small arrival into user space (see SPLICE_SMALL). */
static void small_read(struct msplice *s)
{
	char buf[SPLICE_SMALL];
	ssize_t n, w, off;

	do
		n = read(s->sfd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		s->store_end = 1;
		s->store_err = n < 0 ? errno : 0;
		finish(s);
		return;
	}
	s->tail(s->arg, buf, (size_t)n);
	*s->bytes += (size_t)n;
	/* straight to the client (the pipe is empty: the order holds) */
	do
		w = write(s->cfd, buf, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) {
		leave(s, 0);	/* as in flush_pipe */
		return;
	}
	if (w > 0)
		conn_note_output(s->c, (size_t)w);
	off = w > 0 ? w : 0;
	if (off == n)
		return;
	/* The rest waits in the pipe for the client; the pipe is empty and
	 * holds more than SPLICE_SMALL. */
	do
		w = write(s->pfd[1], buf + off, (size_t)(n - off));
	while (w < 0 && errno == EINTR);
	if (w != n - off) {
		/* cannot happen; the stream would be cut: end the session */
		log_warn("event=splice_pipe_short session=%s", conn_id(s->c));
		leave_err(s);
		return;
	}
	s->in_pipe = (size_t)w;
	(void)flush_pipe(s);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msplice *s = arg;
	int avail = 0;

	if (!(what & EV_READ)) {
		/* quiet for SPLICE_QUIET_MS (the pipe is empty: the read
		 * event is off while it is not; flush all the same) */
		leave(s, 1);
		return;
	}
	if (check_client(s) < 0)
		return;
	/* The pipe is empty here (see flush_pipe).  A small arrival (and
	 * the end of file: FIONREAD says 0) takes the small path. */
	if (ioctl(fd, FIONREAD, &avail) < 0 || avail < SPLICE_SMALL) {
		small_read(s);
		return;
	}
	pump(s);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msplice *s = arg;

	(void)fd;
	(void)what;
	if (check_client(s) < 0)
		return;
	if (flush_pipe(s) != 0)
		return;
	if (s->store_end) {
		finish(s);
		return;
	}
	/* drained: read the store again */
	event_add(s->rd_ev, &quiet_tv);
}

int msplice_start(struct mux *m, struct backend *b, struct conn *c,
		  unsigned long long *bytes,
		  void (*tail)(void *arg, const char *data, size_t len),
		  void *arg, struct msplice **slot)
{
	struct event_base *base = net_base(m->net);
	struct msplice *s;
	int sz;

	if (*slot != NULL || !msplice_possible(b, c))
		return -1;
	s = xcalloc(1, sizeof(*s));
	if (pipe2(s->pfd, O_NONBLOCK | O_CLOEXEC) < 0) {
		/* EMFILE and friends: the buffered path still works */
		log_debug("event=splice_no_pipe session=%s errno=%d",
			  conn_id(c), errno);
		free(s);
		return -1;
	}
	sz = fcntl(s->pfd[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	if (sz <= 0)
		sz = fcntl(s->pfd[1], F_GETPIPE_SZ);
	s->cap = sz > 0 ? (size_t)sz : 0;
	if (s->cap < SPLICE_MIN_PIPE) {
		small_pipe(c, s->cap);
		close(s->pfd[0]);
		close(s->pfd[1]);
		free(s);
		return -1;
	}
	s->b = b;
	s->c = c;
	s->sfd = backend_plain_fd(b);
	s->cfd = conn_plain_fd(c);
	s->bytes = bytes;
	s->tail = tail;
	s->arg = arg;
	s->slot = slot;
	s->rd_ev = event_new(base, s->sfd, EV_READ | EV_PERSIST, read_cb, s);
	s->wr_ev = event_new(base, s->cfd, EV_WRITE, write_cb, s);
	if (s->rd_ev == NULL || s->wr_ev == NULL) {
		if (s->rd_ev != NULL)
			event_free(s->rd_ev);
		if (s->wr_ev != NULL)
			event_free(s->wr_ev);
		close(s->pfd[0]);
		close(s->pfd[1]);
		free(s);
		return -1;
	}
	*slot = s;
	backend_hold(b, 1);
	event_add(s->rd_ev, &quiet_tv);
	return 0;
}

void msplice_stop(struct msplice **slot, int flush)
{
	if (*slot != NULL)
		leave(*slot, flush);
}
