/* jobs.c - background worker pool; see jobs.h. */
#include "server/jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "data/store.h"

struct job_item {
	int64_t id;
	job_fn fn;
	void *arg;
	void (*release)(void *arg);
	struct job_item *next;
};

struct job_pool {
	struct store *st;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_item *head, *tail;
	unsigned queued;
	unsigned running;
	unsigned max_queued;	/* 0: no limit */
	bool stopping;
	unsigned nworkers;
	pthread_t *workers;
};

static void item_free(struct job_item *it)
{
	if (it->release)
		it->release(it->arg);
	free(it);
}

static void *worker(void *cls)
{
	struct job_pool *p = cls;

	for (;;) {
		struct job_item *it;
		struct wc_error err = { 0 };
		char *result;
		int failed = 0;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		it = p->head;
		p->head = it->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		p->running++;
		pthread_mutex_unlock(&p->lock);

		if (store_job_set(p->st, it->id, JOB_RUNNING, NULL, &err))
			log_warn("job %lld: %s", (long long)it->id, wc_error_msg(&err));
		result = it->fn(it->arg, p->st, &failed);
		if (store_job_set(p->st, it->id, failed ? JOB_FAILED : JOB_DONE, result, &err))
			log_error("job %lld: cannot record result: %s", (long long)it->id,
				  wc_error_msg(&err));
		if (failed)
			log_warn("job %lld failed: %s", (long long)it->id, result ? result : "");
		else
			log_info("job %lld done", (long long)it->id);
		free(result);
		item_free(it);
		pthread_mutex_lock(&p->lock);
		p->running--;
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->lock);
	}
}

enum wc_status job_pool_start(struct job_pool **out, struct store *st, unsigned nworkers,
			      struct wc_error *err)
{
	struct job_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || nworkers == 0 || !(p->workers = calloc(nworkers, sizeof(pthread_t)))) {
		free(p);
		return wc_error_set(err, nworkers ? WC_ENOMEM : WC_EINVAL,
				    "cannot start job pool of %u workers", nworkers);
	}
	p->st = st;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	for (unsigned i = 0; i < nworkers; i++) {
		if (pthread_create(&p->workers[i], NULL, worker, p) != 0) {
			p->nworkers = i;
			job_pool_stop(p);
			return wc_error_set(err, WC_ENOMEM, "cannot start job worker thread");
		}
	}
	p->nworkers = nworkers;
	*out = p;
	return WC_OK;
}

enum wc_status job_pool_submit(struct job_pool *p, int64_t id, job_fn fn, void *arg,
			       void (*release)(void *arg), struct wc_error *err)
{
	struct job_item *it = calloc(1, sizeof(*it));

	if (!it) {
		if (release)
			release(arg);
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	}
	it->id = id;
	it->fn = fn;
	it->arg = arg;
	it->release = release;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		item_free(it);
		return wc_error_set(err, WC_EBUSY, "the server is shutting down");
	}
	if (p->max_queued && p->queued >= p->max_queued) {
		unsigned q = p->queued;

		pthread_mutex_unlock(&p->lock);
		item_free(it);
		return wc_error_set(err, WC_EBUSY,
				    "the job queue is full (%u jobs waiting); try again later", q);
	}
	if (p->tail)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
	p->queued++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return WC_OK;
}

unsigned job_pool_queued(struct job_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->queued;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void job_pool_set_limit(struct job_pool *p, unsigned max_queued)
{
	pthread_mutex_lock(&p->lock);
	p->max_queued = max_queued;
	pthread_mutex_unlock(&p->lock);
}

bool job_pool_full(struct job_pool *p)
{
	bool full;

	pthread_mutex_lock(&p->lock);
	full = p->stopping || (p->max_queued && p->queued >= p->max_queued);
	pthread_mutex_unlock(&p->lock);
	return full;
}

unsigned job_pool_running(struct job_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->running;
	pthread_mutex_unlock(&p->lock);
	return n;
}

unsigned job_pool_drain(struct job_pool *p, unsigned timeout_ms)
{
	struct timespec until;
	unsigned n;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	while (p->running &&
	       pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
		;
	n = p->running;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void job_pool_stop(struct job_pool *p)
{
	struct job_item *it;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	while ((it = p->head)) {
		p->head = it->next;
		item_free(it);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}
