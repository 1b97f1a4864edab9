/*
 * pop3_update.c - QUIT from TRANSACTION: the UPDATE state (RFC 1939
 * section 6).
 *
 * The retrieved messages that stay get \Seen and the deleted ones are
 * expunged, POP3_UPDATE_SLICE messages per turn of the store's loop
 * (pop3_md_commit_slice), so that a QUIT deleting tens of thousands of
 * messages holds up the store's other sessions for one slice at a time,
 * never for the whole update.  Meanwhile the session reads no input and
 * keeps the maildrop locked: a new session of the same user gets
 * [IN-USE] until the update is done.  The lock goes with the last slice,
 * so a client that reconnects at once after +OK finds it free, and +OK
 * comes once the changes are on disk.
 *
 * If the connection ends first (the client left, or the shutdown grace
 * ran out), the rest is done at once: QUIT was given, so what it asked
 * for happens, as it did when the whole update ran in one go.
 */
#include <stdlib.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "store/mailstore.h"
#include "store/pop3.h"
#include "store/store.h"

#define POP3_UPDATE_SLICE 1000

/*
 * QUIT answers +OK only once its deletions are on disk.  The waiter
 * outlives the session if the client goes away meanwhile: pop3_close()
 * cuts the link (w->s = NULL) and the callback then only frees it.
 */
struct pop3_quit_wait {
	struct pop3_session *s;
	unsigned expunged;
};

static void quit_durable(void *arg, int ok)
{
	struct pop3_quit_wait *w = arg;
	struct pop3_session *s = w->s;

	if (s != NULL) {
		s->quit_wait = NULL;
		if (ok)
			pop3_ok(s, "Logging out, %u messages deleted.",
				w->expunged);
		else
			pop3_err(s, "SYS/TEMP",
				 "Deleted messages may come back");
		pop3_hangup(s);
	}
	free(w);
}

void pop3_quit_wait_cancel(struct pop3_session *s)
{
	if (s->quit_wait != NULL) {
		s->quit_wait->s = NULL;
		s->quit_wait = NULL;
	}
}

/* The update is over (FAILED: an expunge failed): unlock, then answer
 * unless the connection is GONE. */
static void update_end(struct pop3_session *s, int failed, int gone)
{
	unsigned expunged = pop3_md_deleted_count(s->md);

	net_timer_free(&s->update_timer);
	if (!failed)
		log_info("event=pop3_update session=%s client=%s "
			 "expunged=%u slices=%u",
			 conn_id(s->c), s->client, expunged, s->update_slices);
	pop3_md_free(&s->md);
	pop3_lock_release(s->login, s);
	free(s->login);
	s->login = NULL;
	if (gone)
		return;
	if (failed) {
		pop3_err(s, "SYS/TEMP", "Some deleted messages not removed");
	} else if (expunged > 0) {
		struct pop3_quit_wait *w = xcalloc(1, sizeof(*w));

		w->s = s;
		w->expunged = expunged;
		s->quit_wait = w;
		mstore_wait_durable(s->st->ms, quit_durable, w);
		return;
	} else {
		pop3_ok(s, "Logging out, %u messages deleted.", expunged);
	}
	pop3_hangup(s);
}

static void update_slice(void *arg)
{
	struct pop3_session *s = arg;
	int r;

	s->update_slices++;
	r = pop3_md_commit_slice(s->md, POP3_UPDATE_SLICE);
	if (r == 0) {
		net_timer_start(s->update_timer, 0, 0);
		return;
	}
	update_end(s, r < 0, 0);
}

void pop3_update_start(struct pop3_session *s)
{
	pop3_set_state(s, POP3_UPDATE);
	s->closing = 1; /* nothing after QUIT is a command */
	pop3_pause(s);
	s->update_timer = net_timer_new(conn_net(s->c), update_slice, s);
	/* the first slice now: a QUIT of up to a slice ends in this turn */
	update_slice(s);
}

void pop3_update_finish(struct pop3_session *s)
{
	int r = 0;

	if (s->update_timer == NULL)
		return;
	while (r == 0) {
		s->update_slices++;
		r = pop3_md_commit_slice(s->md, POP3_UPDATE_SLICE);
	}
	update_end(s, r < 0, 1);
}
