/*
 * splice.h - relaying a store's bulk output to the client with splice(2).
 *
 * A spliced session relays FETCH bodies of many megabytes.  Through
 * libevent every byte is read into user space and written out again;
 * here it goes store socket -> pipe -> client socket inside the kernel.
 * Only the store -> client direction, only on plain links (TLS and
 * COMPRESS need the bytes), and only while nothing of that direction is
 * buffered in user space, so that the byte order holds.
 *
 * The proxy enters the mode (msplice_start) when the buffered path sees a
 * bulk read and both the backend's input and the client's output are
 * empty.  The relay then holds the backend's bufferevent (backend_hold)
 * and reads the socket itself; it leaves on its own, closing its pipe,
 * when the store has been quiet for a while (the burst is over), at the
 * store's end of file (the buffered path then sees the same end and
 * reports it as always) or an error (reported through the backend), or
 * when the client's socket fails (the client's bufferevent meets it).
 * An idle session therefore never holds a pipe.  Whoever must write to
 * the client itself calls msplice_stop() first.
 */
#ifndef ROOKERY_MUX_SPLICE_H
#define ROOKERY_MUX_SPLICE_H

#include <stddef.h>

struct backend;
struct conn;
struct mux;
struct msplice;

/* A read of at least this much from the store says "bulk": splice. */
#define SPLICE_BULK (64 * 1024)

/* Can b -> c be spliced at all (both plain, nothing buffered)? */
int msplice_possible(struct backend *b, struct conn *c);

/*
 * Starts relaying b's input to c; *slot is the owner's pointer, set here
 * and reset to NULL whenever the relay ends, by itself or by
 * msplice_stop().  Bytes relayed are added to *bytes.  Returns -1 (and
 * nothing changes) when it cannot start, e.g. pipe() fails (EMFILE) or the
 * kernel grants a pipe under 64 KiB (the mux's user is over its pipe
 * allowance): the caller stays on the buffered path.
 */
int msplice_start(struct mux *m, struct backend *b, struct conn *c,
		  unsigned long long *bytes,
		  void (*tail)(void *arg, const char *data, size_t len),
		  void *arg, struct msplice **slot);

/*
 * Ends the relay now.  flush: what is still in the pipe goes to the
 * front of the client's output (read into user space), so that whatever
 * the caller writes next comes after it; otherwise it is dropped (the
 * session is ending).  NULL-safe.
 */
void msplice_stop(struct msplice **slot, int flush);

#endif
