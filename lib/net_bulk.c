/*
 * net_bulk.c - reading a plain socket in large blocks.
 *
 * libevent 2.1 reads a socket at most 4 KiB per readiness event (its
 * EVBUFFER_MAX_READ), and each event costs an epoll round, an FIONREAD
 * ioctl and the read itself.  That is fine for commands, and ruinous for
 * a proxy relaying a 1 MB FETCH: about six system calls per 4 KiB.  So
 * after libevent's own read, the read callbacks of plain connections take
 * what else the socket holds right away, straight into the input buffer's
 * free space with one readv() per block, up to a bound so one busy
 * connection cannot hold the loop.
 *
 * End of file and errors are left to libevent: the socket stays readable,
 * its next read sees the same condition and reports it as it always does.
 */
#include <errno.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "net.h"

#define BULK_BLOCK (64 * 1024)

size_t net_bev_read_more(struct bufferevent *bev, size_t max)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);
	size_t total = 0;

	if (fd < 0 || !(bufferevent_get_enabled(bev) & EV_READ))
		return 0;
	/* A socket bufferevent keeps the end of its input frozen outside its
	 * own reads; this is one of them. */
	evbuffer_unfreeze(in, 0);
	while (total < max) {
		struct evbuffer_iovec v[2];
		size_t want = max - total < BULK_BLOCK ? max - total
						       : BULK_BLOCK;
		int nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
		struct iovec iov[2];
		ssize_t got;
		size_t left;
		int nc;

		if (nv <= 0)
			break;
		/* the reservation may be larger than asked: read no more
		 * than want */
		left = want;
		for (int i = 0; i < nv; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len < left ? v[i].iov_len : left;
			left -= iov[i].iov_len;
		}
		do
			got = readv(fd, iov, nv);
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			evbuffer_commit_space(in, v, 0);
			break;
		}
		/* hand back exactly what arrived */
		left = (size_t)got;
		nc = 0;
		for (int i = 0; i < nv && left > 0; i++) {
			v[i].iov_len = iov[i].iov_len < left ? iov[i].iov_len
							      : left;
			left -= v[i].iov_len;
			nc++;
		}
		if (evbuffer_commit_space(in, v, nc) < 0)
			break;
		total += (size_t)got;
		if ((size_t)got < want)
			break; /* the socket is empty for now */
	}
	evbuffer_freeze(in, 0);
	return total;
}
