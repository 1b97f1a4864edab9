/*
 * mailstore_pool.c - the worker threads that fsync spooled messages off
 * the loop thread, so that concurrent deliveries overlap their fsyncs
 * (finished jobs go back to the loop through net_async), and that remove
 * the files durable commits have forgotten (nothing goes back).
 */
#include "mailstore_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"

void ms_pool_submit(struct mstore *ms, struct ms_delivery *d)
{
	pthread_mutex_lock(&ms->pool.mu);
	*ms->pool.queue_tail = d;
	ms->pool.queue_tail = &d->next;
	pthread_cond_signal(&ms->pool.cv);
	pthread_mutex_unlock(&ms->pool.mu);
}

void ms_pool_remove(struct mstore *ms, struct ms_post *rm)
{
	struct ms_pool *p = &ms->pool;

	if (p->nthreads == 0) {
		ms_post_remove(rm);
		return;
	}
	rm->next = NULL;
	pthread_mutex_lock(&p->mu);
	*p->rm_tail = rm;
	p->rm_tail = &rm->next;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Called and returns with p->mu held. */
static void pool_remove_one(struct ms_pool *p)
{
	struct ms_post *rm = p->rm_head;

	p->rm_head = rm->next;
	if (p->rm_head == NULL)
		p->rm_tail = &p->rm_head;
	pthread_mutex_unlock(&p->mu);
	ms_post_remove(rm);
	pthread_mutex_lock(&p->mu);
}

static void *pool_main(void *arg)
{
	struct mstore *ms = arg;
	struct ms_pool *p = &ms->pool;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct ms_delivery *d;

		while (p->queue_head == NULL && p->rm_head == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->queue_head == NULL && p->rm_head != NULL) {
			/* deliveries wait for their fsync: they go first */
			pool_remove_one(p);
			continue;
		}
		if (p->queue_head == NULL && p->stop)
			break;
		d = p->queue_head;
		p->queue_head = d->next;
		if (p->queue_head == NULL)
			p->queue_tail = &p->queue_head;
		d->next = NULL;
		pthread_mutex_unlock(&p->mu);

		d->fsync_ok = ms_delivery_fsync(d) == 0;

		pthread_mutex_lock(&p->mu);
		*p->done_tail = d;
		p->done_tail = &d->next;
		pthread_mutex_unlock(&p->mu);
		net_async_trigger(p->async);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_done_cb(void *arg)
{
	struct mstore *ms = arg;
	struct ms_pool *p = &ms->pool;
	struct ms_delivery *list, *next;

	pthread_mutex_lock(&p->mu);
	list = p->done_head;
	p->done_head = NULL;
	p->done_tail = &p->done_head;
	pthread_mutex_unlock(&p->mu);
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = NULL;
		ms_deliver_commit(list);
	}
}

int ms_pool_start(struct mstore *ms, char **err_r)
{
	struct ms_pool *p = &ms->pool;

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->queue_head = NULL;
	p->queue_tail = &p->queue_head;
	p->done_head = NULL;
	p->done_tail = &p->done_head;
	p->rm_head = NULL;
	p->rm_tail = &p->rm_head;
	p->stop = 0;
	p->async = net_async_new(ms->net, pool_done_cb, ms);
	if (p->async == NULL) {
		*err_r = xstrdup("mailstore: cannot create the loop wake-up");
		return -1;
	}
	p->threads = xcalloc(ms->p.fsync_threads, sizeof(*p->threads));
	for (unsigned i = 0; i < ms->p.fsync_threads; i++) {
		int e = pthread_create(&p->threads[i], NULL, pool_main, ms);

		if (e != 0) {
			*err_r = xasprintf("mailstore: pthread_create: %s",
					   strerror(e));
			ms_pool_stop(ms);
			return -1;
		}
		p->nthreads++;
	}
	return 0;
}

void ms_pool_stop(struct mstore *ms)
{
	struct ms_pool *p = &ms->pool;

	if (p->async == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	p->nthreads = 0;
	/* fsyncs that finished: commit them now, on this (loop) thread */
	pool_done_cb(ms);
	net_async_free(&p->async);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}
