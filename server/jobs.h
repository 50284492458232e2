/*
 * jobs.h - a small pool of background worker threads for long requests (ingesting a
 * grid, training a model). The HTTP handler records the job in the store
 * (store_job_create), submits a closure here and answers 202 at once; the worker moves
 * the job through running -> done|failed in the store, where GET /v1/jobs/{id} reads it.
 *
 * Shutdown: jobs_stop lets running jobs finish and drops queued ones; they stay
 * "queued" in the store until the next start marks them failed (store_job_fail_stale).
 */
#ifndef WC_JOBS_H
#define WC_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

struct store;
struct job_pool;

/*
 * The work of one job: returns the result JSON text (malloc'd, may be NULL) and sets
 * *failed. It runs on a worker thread and must not touch per-request state.
 */
typedef char *(*job_fn)(void *arg, struct store *st, int *failed);

/* Start `nworkers` threads working for `st` (borrowed). */
enum wc_status job_pool_start(struct job_pool **out, struct store *st, unsigned nworkers,
			      struct wc_error *err);
/*
 * Queue job `id` (already created in the store). `arg` is owned by the pool from now on
 * and released with `release` (may be NULL) after fn ran or when the job is dropped.
 */
enum wc_status job_pool_submit(struct job_pool *p, int64_t id, job_fn fn, void *arg,
			       void (*release)(void *arg), struct wc_error *err);
/* Jobs queued and not yet started. */
unsigned job_pool_queued(struct job_pool *p);
/* Refuse (WC_EBUSY) a submit while max_queued jobs wait; 0: no limit (the default). */
void job_pool_set_limit(struct job_pool *p, unsigned max_queued);
/* True when a submit would be refused now (queue full, or stopping). */
bool job_pool_full(struct job_pool *p);
/* Jobs being run now. */
unsigned job_pool_running(struct job_pool *p);
/*
 * Start no more jobs (queued ones stay queued) and wait up to timeout_ms for the running
 * ones to end. Returns how many still run; job_pool_stop joins them all.
 */
unsigned job_pool_drain(struct job_pool *p, unsigned timeout_ms);
/* Finish running jobs, drop queued ones, join and free. NULL is fine. */
void job_pool_stop(struct job_pool *p);

#endif
