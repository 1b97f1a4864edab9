/*
 * pop3_stream.c - RETR and TOP: a message file goes out as a multi-line
 * reply, dot-stuffed (RFC 1939 section 3), bare LF turned into CRLF, read
 * in chunks and queued only as fast as the client takes it, so a 20 MB
 * message never sits in memory whole.
 *
 * Runs of the file that need no change (most of a CRLF message) are
 * queued with conn_write_file() on plain links (sendfile); everything else
 * is copied into the output buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "store/pop3.h"

#define STREAM_CHUNK (64 * 1024)
/* Queue at most this much before waiting for the socket. */
#define STREAM_HIGH (256 * 1024)
#define STREAM_LOW (64 * 1024)
/* Clean runs at least this long go out by sendfile on plain links. */
#define STREAM_SENDFILE_MIN (8 * 1024)

/* --- the pure dot-stuffer ---------------------------------------------- */

void pop3_stuff_init(struct pop3_stuff *st, long long body_lines,
		     void (*out)(void *arg, const char *data, size_t len),
		     void *arg)
{
	memset(st, 0, sizeof(*st));
	st->bol = 1;
	st->body_lines = body_lines;
	st->out = out;
	st->arg = arg;
}

static void emit(struct pop3_stuff *st, const char *data, size_t len)
{
	if (len > 0)
		st->out(st->arg, data, len);
}

/*
 * A line ended (its LF is at data[j]).  Counts header and body lines for
 * TOP: the header ends at the first empty line (RFC 5322 section 2.1),
 * which is sent, then body_lines more lines.
 */
static void line_done(struct pop3_stuff *st, int empty)
{
	if (!st->in_body) {
		if (empty) {
			st->in_body = 1;
			if (st->body_lines == 0)
				st->done = 1;
		}
	} else if (st->body_lines > 0) {
		if (--st->body_lines == 0)
			st->done = 1;
	}
	st->bol = 1;
	st->line_bytes = 0;
	st->prev_cr = 0;
}

size_t pop3_stuff_feed(struct pop3_stuff *st, const char *data, size_t len)
{
	size_t i = 0, run = 0, seg;
	const char *lf;
	int cr_before, empty;

	while (i < len && !st->done) {
		if (st->bol) {
			/* RFC 1939 section 3: a line starting with "." gets
			 * one more "." in front. */
			if (data[i] == '.') {
				emit(st, data + run, i - run);
				emit(st, ".", 1);
				run = i;
			}
			st->bol = 0;
		}
		lf = memchr(data + i, '\n', len - i);
		if (lf == NULL) {
			seg = len - i;
			if (st->line_bytes < 2)
				st->line_bytes += seg < 2 ? seg : 2;
			st->prev_cr = data[len - 1] == '\r';
			i = len;
			break;
		}
		seg = (size_t)(lf - (data + i));
		cr_before = seg > 0 ? data[i + seg - 1] == '\r' : st->prev_cr;
		if (!cr_before) {
			/* Bare LF: send CRLF instead. */
			emit(st, data + run, i + seg - run);
			emit(st, "\r\n", 2);
			run = i + seg + 1;
		}
		empty = st->line_bytes + seg == 0 ||
			(st->line_bytes + seg == 1 && cr_before);
		i += seg + 1;
		line_done(st, empty);
	}
	emit(st, data + run, i - run);
	return i;
}

void pop3_stuff_finish(struct pop3_stuff *st)
{
	/* RFC 1939 section 3: the terminator starts a line of its own. */
	if (!st->bol && !st->done)
		emit(st, st->prev_cr ? "\n" : "\r\n", st->prev_cr ? 1 : 2);
	emit(st, ".\r\n", 3);
	st->done = 1;
}

/* --- streaming to a connection ----------------------------------------- */

struct pop3_stream {
	struct pop3_session *s;
	int fd;
	uint64_t off, end; /* next read, file size */
	int sendfile_ok;   /* plain link: clean runs by sendfile */
	char *buf;
	size_t buf_len; /* bytes of buf read at off_buf */
	uint64_t off_buf;
	struct pop3_stuff stuff;
};

static void stream_out(void *arg, const char *data, size_t len)
{
	struct pop3_stream *st = arg;
	struct conn *c = st->s->c;
	/* Runs of the read buffer map back to the file; the stuffer's own
	 * "." and CRLF do not (compared as integers: they are other
	 * objects). */
	uintptr_t p = (uintptr_t)data, b = (uintptr_t)st->buf;

	if (st->sendfile_ok && len >= STREAM_SENDFILE_MIN && p >= b &&
	    p + len <= b + st->buf_len &&
	    conn_write_file(c, st->fd, (off_t)(st->off_buf + (p - b)),
			    (off_t)len) == 0)
		return;
	conn_write(c, data, len);
}

void pop3_stream_free(struct pop3_stream **stp)
{
	struct pop3_stream *st = *stp;

	if (st == NULL)
		return;
	if (st->fd >= 0)
		close(st->fd);
	free(st->buf);
	free(st);
	*stp = NULL;
}

static void stream_end(struct pop3_session *s)
{
	pop3_stream_free(&s->stream);
	pop3_stall_disarm(s);
	pop3_resume(s);
}

static void stream_drained(struct conn *c);

/* Reads and queues chunks until enough output is pending or the
 * message is done. */
static void stream_pump(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;
	ssize_t n;
	size_t want;

	while (conn_output_pending(s->c) < STREAM_HIGH) {
		if (st->off >= st->end || st->stuff.done) {
			pop3_stuff_finish(&st->stuff);
			stream_end(s);
			return;
		}
		want = st->end - st->off < STREAM_CHUNK
			   ? (size_t)(st->end - st->off)
			   : STREAM_CHUNK;
		n = pread(st->fd, st->buf, want, (off_t)st->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank or broke under us: the +OK is
			 * out, so end the reply rather than leave the
			 * client waiting, and say so in the log. */
			if (n < 0)
				log_warn("event=pop3_read_failed session=%s",
					 conn_id(s->c));
			else
				log_warnx("event=pop3_short_file session=%s",
					  conn_id(s->c));
			pop3_hangup(s);
			return;
		}
		st->buf_len = (size_t)n;
		st->off_buf = st->off;
		pop3_stuff_feed(&st->stuff, st->buf, (size_t)n);
		st->off += (uint64_t)n;
		st->buf_len = 0;
	}
	pop3_stall_arm(s);
	conn_on_drain(s->c, STREAM_LOW, stream_drained);
}

static void stream_drained(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s != NULL && s->stream != NULL && !s->closing)
		stream_pump(s);
}

int pop3_stream_start(struct pop3_session *s, int fd, uint64_t file_size,
		      long long body_lines)
{
	struct pop3_stream *st;
	int dfd;

	if (s->stream != NULL)
		return -1;
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0) {
		log_warn("event=pop3_dup_failed session=%s", conn_id(s->c));
		return -1;
	}
	st = xcalloc(1, sizeof(*st));
	st->s = s;
	st->fd = dfd;
	st->end = file_size;
	st->sendfile_ok = !conn_is_tls(s->c);
	st->buf = xmalloc(STREAM_CHUNK);
	pop3_stuff_init(&st->stuff, body_lines, stream_out, st);
	s->stream = st;
	/* Pipelined commands wait until this reply is queued whole. */
	pop3_pause(s);
	stream_pump(s);
	return 0;
}
