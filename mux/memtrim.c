/*
 * memtrim.c - malloc_trim() after bursts of ended sessions (memtrim.h).
 */
#include <stdlib.h>	/* first: defines __GLIBC__ */

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"
#include "net.h"
#include "mux/memtrim.h"

#define MEMTRIM_PERIOD_MS 10000
#define MEMTRIM_SETTLE_MS 1000
/* Trim when malloc holds this much more free memory than after the last
 * trim: a few hundred ended sessions' worth.  malloc_trim(0) walks every
 * free chunk, so it is not run for a handful. */
#define MEMTRIM_MIN_GROWTH (2u << 20)
/* Free memory malloc may keep at the heap top between trims. */
#define MEMTRIM_TOP_KEEP (8 << 20)

static struct net_timer *timer;
static unsigned sessions;
static size_t free_floor;	/* free heap bytes after the last trim */

static void memtrim_check(void)
{
#ifdef __GLIBC__
	struct mallinfo2 mi = mallinfo2();
	size_t before = mi.fordblks;

	/* reused since: the floor follows it down */
	if (before < free_floor) {
		free_floor = before;
		return;
	}
	if (before - free_floor < MEMTRIM_MIN_GROWTH)
		return;
	malloc_trim(0);
	/* madvise()d pages still count as free chunks: the floor is what
	 * malloc reports after the trim, so the same memory does not make
	 * the next check trim again */
	mi = mallinfo2();
	free_floor = mi.fordblks;
	log_debug("event=memtrim sessions=%u free_kb=%zu in_use_kb=%zu",
		  sessions, before / 1024, mi.uordblks / 1024);
#endif
}

static void memtrim_tick(void *arg)
{
	(void)arg;
	memtrim_check();
	if (sessions == 0)
		net_timer_free(&timer);	/* safe: net.c is done with it */
}

void memtrim_session_start(struct net *n)
{
#ifdef __GLIBC__
	static int tuned;

	/* Relayed message bodies pass through 64 KiB blocks.  With glibc's
	 * default 128 KiB trim threshold the heap top shrank and grew with
	 * brk() every few blocks (16,000 brk calls for 1 GB of FETCH); the
	 * timer here gives memory back instead. */
	if (!tuned) {
		mallopt(M_TRIM_THRESHOLD, MEMTRIM_TOP_KEEP);
		tuned = 1;
	}
#endif
	if (timer == NULL)
		timer = net_timer_new(n, memtrim_tick, NULL);
	if (sessions++ == 0)
		net_timer_start(timer, MEMTRIM_PERIOD_MS, 1);
}

void memtrim_session_end(void)
{
	if (sessions == 0 || --sessions > 0)
		return;
	/* The last session's proxy is freed before its connections, whose
	 * bufferevents libevent frees later still: look once they are
	 * gone, then stop. */
	net_timer_start(timer, MEMTRIM_SETTLE_MS, 0);
}
