/*
 * jobs.h - background jobs that outlive the server: a pool of worker threads running
 * the jobs recorded in the store (ingest an uploaded grid, train, extract a farm's
 * weather).
 *
 * A job is its row in the store (kind, input JSON, state, attempts: store_job_*) plus,
 * for an upload, its spool directory DATA/jobs/<id>. A handler records the job with an
 * input that holds everything needed to run it (store_job_create commits durably),
 * moves any file it needs into the spool (job_spool_take: fsync'd, then renamed),
 * submits the id and answers 202. From then on the job runs even if the server dies:
 * job_pool_start queues again every job an earlier process left queued or running, and
 * a worker runs a job from its row alone, whether it was submitted a moment ago or
 * recovered. A job's run must therefore be safe to repeat after being cut short at any
 * point: ingest is content-addressed (the same bytes twice are "known"), a farm's weather
 * extraction replaces what was there, and training saves one more model version.
 *
 * A job started JOB_MAX_ATTEMPTS times without finishing (it brings the server down, or
 * the server keeps being killed under it) is not started again: it fails, saying so.
 *
 * Several servers on one store: only a server that starts while no other runs recovers
 * jobs (it takes DATA/jobs/.lock exclusively, then shares it while it runs); one that
 * starts beside a running server leaves the unfinished jobs to the next sole start.
 *
 * Shutdown: job_pool_stop lets running jobs finish and leaves queued ones queued in the
 * store, so the next start runs them. NEEDSWORK: a long training holds a SIGTERM stop
 * until it ends; since jobs are durable, a stop could leave it to the next start after
 * the grace period, once nothing else (the store's close) waits on its thread.
 */
#ifndef WC_JOBS_H
#define WC_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct store;
struct job_pool;

#define JOB_MAX_ATTEMPTS 3	/* starts of one job, the first included */

/* What a job's run is given (all borrowed for the call). */
struct job_run {
	struct store *st;
	int64_t id;
	const json_t *input;	/* the input recorded with the job */
	const char *spool;	/* DATA/jobs/<id>: the job's files, if it has any */
	int attempt;		/* 1 the first time, 2 after one cut-short start, ... */
};

/* One kind of job: the name recorded in the store, and how to run one. */
struct job_kind {
	const char *name;
	/*
	 * Run the job on a worker thread: returns the result JSON text (malloc'd, may be
	 * NULL) and sets *failed. It must not touch per-request state, and it must be safe
	 * to run again after an earlier run was cut short anywhere (see above).
	 */
	char *(*run)(const struct job_run *jr, int *failed);
};

/* {"error": <message>} as JSON text (malloc'd; NULL when out of memory): a run's result
 * when it fails before its library call could say more. */
char *job_error_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Start `nworkers` threads running jobs of the given kinds (kinds[0..nkinds), borrowed
 * for the pool's life) for `st` (borrowed), then queue the jobs an earlier process left
 * unfinished (see above; those started JOB_MAX_ATTEMPTS times fail instead), and remove
 * the spool directories of jobs that are over. The upload files of requests cut short
 * by a crash (DATA/tmp/upload-*, untouched for an hour) go too.
 */
enum wc_status job_pool_start(struct job_pool **out, struct store *st, unsigned nworkers,
			      const struct job_kind *kinds, size_t nkinds, struct wc_error *err);
/* Queue job `id` (created in the store, its spool filled). WC_EBUSY when stopping. */
enum wc_status job_pool_submit(struct job_pool *p, int64_t id, struct wc_error *err);
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
/* Called after each job's run (on the worker thread) with its kind, outcome and time. */
typedef void (*job_observer_fn)(void *cls, int64_t id, const char *kind, bool failed,
				uint64_t ns);
void job_pool_set_observer(struct job_pool *p, job_observer_fn fn, void *cls);
/* Finish running jobs, leave queued ones to the next start, join and free. NULL is fine. */
void job_pool_stop(struct job_pool *p);

/*
 * Move the file at `src` (on the same file system as DATA) into job id's spool
 * directory as DATA/jobs/<id>/<name>, durably: the file is synced, renamed, and the
 * directories that changed are synced, so that once this returns the file survives a
 * crash or a power cut. `name` must be a plain file name. The path is written to dst
 * (dstlen bytes). WC_EIO (with the system's reason) when it cannot: src is then left
 * where it was.
 */
enum wc_status job_spool_take(const char *data_dir, int64_t id, const char *src,
			      const char *name, char *dst, size_t dstlen, struct wc_error *err);

#endif
