/*
 * memtrim.h - gives heap that sessions freed back to the kernel.
 *
 * glibc returns freed memory to the kernel only from the top of the heap
 * (above M_TRIM_THRESHOLD); what thousands of ended sessions leave in the
 * middle stays resident.  So after a burst of sessions ends, RSS would
 * stay at its peak although malloc holds the memory free.  While sessions
 * exist, a low-frequency timer looks at how much free memory malloc holds
 * and calls malloc_trim(0) only when that grew by a few MB since the last
 * look: a burst of logouts or failed logins, not ordinary churn.  A second
 * after the last session ended it checks once more and stops.
 */
#ifndef ROOKERY_MUX_MEMTRIM_H
#define ROOKERY_MUX_MEMTRIM_H

struct net;

/* A proxied session began (starts the timer with the first one). */
void memtrim_session_start(struct net *n);
/* A session ended (after the last one: one more check, then stop). */
void memtrim_session_end(void);

#endif
