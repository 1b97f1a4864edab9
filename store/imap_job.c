/*
 * imap_job.c - commands that work on a whole large mailbox in slices
 * (STORE, EXPUNGE / CLOSE, COPY / MOVE, SEARCH): one slice now, then one
 * per turn of the store's loop, the session's input paused meanwhile
 * (imap_cmd_wait), so that the other sessions of the store wait for one
 * slice at a time, never for the whole command.
 */
#include <stdlib.h>

#include "log.h"
#include "net.h"
#include "strbuf.h"
#include "store/imap.h"

struct imap_job {
	const struct imap_job_ops *ops;
	void *data;
	unsigned slices;
	int waited;		/* imap_cmd_wait() was called */
	struct net_timer *timer;
};

static void job_free(struct imap_session *s, struct imap_job *j)
{
	s->job = NULL;
	j->ops->free(j->data);
	net_timer_free(&j->timer);
	free(j);
}

/* The job is over: its replies (unless the session is going), then
 * gone; the command ends. */
static void job_end(struct imap_session *s)
{
	struct imap_job *j = s->job;
	int waited = j->waited;

	j->ops->finish(s, j->data, waited ? j->slices : 0);
	job_free(s, j);
	if (waited)
		imap_cmd_done(s);
}

static void job_next(void *arg)
{
	struct imap_session *s = arg;
	struct imap_job *j = s->job;

	if (s->closing) {
		int waited = j->waited;

		imap_job_abandon(s);
		if (waited)
			imap_cmd_done(s);
		return;
	}
	j->slices++;
	if (j->ops->slice(s, j->data)) {
		job_end(s);
		return;
	}
	net_timer_start(j->timer, 0, 0);
}

void imap_job_run(struct imap_session *s, const struct imap_job_ops *ops,
		  void *data)
{
	struct imap_job *j = xcalloc(1, sizeof(*j));

	j->ops = ops;
	j->data = data;
	j->slices = 1;
	s->job = j;
	if (ops->slice(s, data)) {
		job_end(s);
		return;
	}
	j->timer = net_timer_new(conn_net(s->c), job_next, s);
	net_timer_start(j->timer, 0, 0);
	j->waited = 1;
	imap_cmd_wait(s);
}

void imap_job_abandon(struct imap_session *s)
{
	struct imap_job *j = s->job;

	if (j == NULL)
		return;
	log_info("event=imap_job_abandoned session=%s command=%s slices=%u",
		 conn_id(s->c), j->ops->name, j->slices);
	if (j->ops->abandon != NULL)
		j->ops->abandon(s, j->data);
	job_free(s, j);
}
