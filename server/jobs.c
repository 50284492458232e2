/*
 * jobs.c - the background job pool, its recovery at start and the job spool; see
 * jobs.h. The queue in memory holds job ids only: what to run is read from the store
 * when a worker starts the job, so a submitted job and a recovered one run alike.
 */
#include "server/jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "data/store.h"

#define UPLOAD_STALE_S 3600	/* an upload file untouched this long belongs to no request */
#define BUSY_TRIES 3		/* store busy (each try waits its busy timeout, 10 s) */
#define JOB_NICE 10		/* job threads: this much nicer than the server (requests first) */

struct job_item {
	int64_t id;
	struct job_item *next;
};

struct job_pool {
	struct store *st;
	const struct job_kind *kinds;
	size_t nkinds;
	int lock_fd;		/* DATA/jobs/.lock, shared while the pool runs; -1: none */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_item *head, *tail;
	unsigned queued;
	unsigned running;
	unsigned max_queued;	/* 0: no limit */
	job_observer_fn observer;
	void *observer_cls;
	bool stopping;
	unsigned nworkers;
	pthread_t *workers;
};

/* ---- the spool ---- */

static int spool_path(char *buf, size_t len, const char *data_dir, int64_t id)
{
	int n = id > 0 ? snprintf(buf, len, "%s/jobs/%" PRId64, data_dir, id)
		       : snprintf(buf, len, "%s/jobs", data_dir);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* fsync the file or directory at path; 0 or -1 with errno. */
static int sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Remove a spool directory and the files in it (a spool holds no subdirectories). */
static void spool_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096 + 256];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			log_warn("cannot remove '%s': %s", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) != 0 && errno != ENOENT)
		log_warn("cannot remove '%s': %s", dir, strerror(errno));
}

enum wc_status job_spool_take(const char *data_dir, int64_t id, const char *src,
			      const char *name, char *dst, size_t dstlen, struct wc_error *err)
{
	char jobs[4096], dir[4096];
	int n;

	if (spool_path(jobs, sizeof(jobs), data_dir, 0) ||
	    spool_path(dir, sizeof(dir), data_dir, id) || !name[0] || strchr(name, '/') ||
	    (n = snprintf(dst, dstlen, "%s/%s", dir, name)) < 0 || (size_t)n >= dstlen)
		return wc_error_set(err, WC_EINVAL, "cannot spool '%s' for job %" PRId64
				    ": path too long or not a file name", name, id);
	if (mkdir(jobs, 0755) != 0 && errno != EEXIST)
		return wc_error_set(err, WC_EIO, "cannot create '%s': %s", jobs, strerror(errno));
	spool_remove(dir);	/* a leftover of a job that never was (its row rolled back) */
	if (mkdir(dir, 0755) != 0)
		return wc_error_set(err, WC_EIO, "cannot create '%s': %s", dir, strerror(errno));
	/* the bytes first, then the name: a crash leaves the whole file or none */
	if (sync_path(src) != 0 || rename(src, dst) != 0) {
		int e = errno;

		rmdir(dir);
		return wc_error_set(err, WC_EIO, "cannot keep '%s' at '%s': %s", src, dst,
				    strerror(e));
	}
	if (sync_path(dir) != 0 || sync_path(jobs) != 0 || sync_path(data_dir) != 0)
		return wc_error_set(err, WC_EIO, "cannot sync the spool '%s': %s", dir,
				    strerror(errno));
	return WC_OK;
}

/* ---- workers ---- */

static const struct job_kind *kind_find(const struct job_pool *p, const char *name)
{
	for (size_t i = 0; i < p->nkinds; i++)
		if (!strcmp(p->kinds[i].name, name))
			return &p->kinds[i];
	return NULL;
}

char *job_error_text(const char *fmt, ...)
{
	char msg[sizeof(((struct wc_error *)0)->msg)], *text;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v = json_pack("{s:s}", "error", msg);
	text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	return text;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start job id, run it from its row, record the outcome, drop its spool. */
static void run_job(struct job_pool *p, int64_t id)
{
	struct wc_error err = { 0 };
	const struct job_kind *kind;
	struct job job;
	json_t *input = NULL;
	char spool[4096], *result = NULL;
	enum wc_status rec;
	int failed = 1;
	uint64_t t0 = now_ns();
	job_observer_fn observer;
	void *observer_cls;

	/* another process may hold the store's write lock beyond its busy timeout */
	for (int tries = 1; store_job_claim(p->st, id, &job, &err); tries++) {
		if (err.code != WC_EBUSY || tries == BUSY_TRIES) {
			log_warn("job %" PRId64 ": %s%s", id, wc_error_msg(&err),
				 err.code == WC_EBUSY ? " (left to the next start)" : "");
			return;
		}
	}
	spool_path(spool, sizeof(spool), store_dir(p->st), id);
	if (!(kind = kind_find(p, job.kind))) {
		result = job_error_text("unknown job kind '%s' (from a newer windcast?)",
					job.kind);
	} else if (!(input = json_loads(job.input ? job.input : "", 0, NULL))) {
		result = job_error_text("the job's recorded input is not JSON");
	} else {
		struct job_run jr = { p->st, id, input, spool, job.attempts };

		if (job.attempts > 1)
			log_info("job %" PRId64 " (%s): attempt %d of %d", id, job.kind,
				 job.attempts, JOB_MAX_ATTEMPTS);
		result = kind->run(&jr, &failed);
	}
	for (int tries = 1;
	     (rec = store_job_set(p->st, id, failed ? JOB_FAILED : JOB_DONE, result, &err));
	     tries++) {
		if (rec != WC_EBUSY || tries == BUSY_TRIES) {
			/* still running in the store: the next start runs it again */
			log_error("job %" PRId64 ": cannot record result: %s", id,
				  wc_error_msg(&err));
			break;
		}
	}
	if (!rec)
		spool_remove(spool);	/* what is left of it after a crash goes at the next start */
	if (failed)
		log_warn("job %" PRId64 " failed: %s", id, result ? result : "");
	else
		log_info("job %" PRId64 " done", id);
	pthread_mutex_lock(&p->lock);
	observer = p->observer;
	observer_cls = p->observer_cls;
	pthread_mutex_unlock(&p->lock);
	if (observer)
		observer(observer_cls, id, job.kind, failed, now_ns() - t0);
	free(result);
	json_decref(input);
	job_release(&job);
}

static void *worker(void *cls)
{
	struct job_pool *p = cls;

	/*
	 * Jobs (ingest, training) run behind the requests: this thread, and the training's
	 * member threads it starts (they inherit it), yield the CPU to the server's threads,
	 * so that polls stay fast while a model trains on the same cores.
	 */
	{
		int base = getpriority(PRIO_PROCESS, 0);	/* the process's (errno aside) */
		int nice = base + JOB_NICE > 19 ? 19 : base + JOB_NICE;

		if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) != 0)
			log_warn("cannot lower the job worker's priority: %s", strerror(errno));
	}
	for (;;) {
		struct job_item *it;

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
		run_job(p, it->id);
		free(it);
		pthread_mutex_lock(&p->lock);
		p->running--;
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->lock);
	}
}

/* ---- recovery ---- */

/* Remove DATA/tmp/upload-* files nobody has written to for UPLOAD_STALE_S. */
static void sweep_uploads(const char *data_dir)
{
	char tmp[4096], path[4096 + 256];
	time_t now = time(NULL);
	struct dirent *e;
	struct stat sb;
	DIR *d;

	snprintf(tmp, sizeof(tmp), "%s/tmp", data_dir);
	if (!(d = opendir(tmp)))
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "upload-", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    now - sb.st_mtime > UPLOAD_STALE_S && unlink(path) == 0)
			log_info("removed '%s', an upload cut short by a stop", path);
	}
	closedir(d);
}

/* True when id is one of the n unfinished jobs. */
static bool unfinished_has(const struct job *jobs, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].id == id)
			return true;
	return false;
}

/* Remove the spool directories under DATA/jobs of jobs that are not unfinished. */
static void sweep_spools(const char *data_dir, const struct job *jobs, size_t n)
{
	char dir[4096], path[4096 + 256];
	struct dirent *e;
	DIR *d;

	if (spool_path(dir, sizeof(dir), data_dir, 0) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char *end;
		long long id = strtoll(e->d_name, &end, 10);

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end ||
		    unfinished_has(jobs, n, id))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		spool_remove(path);
	}
	closedir(d);
}

/*
 * Take DATA/jobs/.lock exclusively: true when no other server runs on this store (the
 * pool then recovers), false when one does or the lock cannot be had. Either way the
 * lock is left shared (when it could be opened) for the pool's life.
 */
static bool lock_sole(struct job_pool *p)
{
	char path[4096 + 16];
	bool sole;

	if (spool_path(path, sizeof(path), store_dir(p->st), 0) ||
	    (mkdir(path, 0755) != 0 && errno != EEXIST))
		return false;
	strcat(path, "/.lock");
	if ((p->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		log_warn("cannot open '%s': %s; unfinished jobs are not recovered", path,
			 strerror(errno));
		return false;
	}
	sole = flock(p->lock_fd, LOCK_EX | LOCK_NB) == 0;
	if (!sole)
		log_info("another server runs on '%s': its unfinished jobs are left to it",
			 store_dir(p->st));
	return sole;
}

/* The lock shared from now on (sole servers downgrade after recovery). */
static void lock_share(struct job_pool *p)
{
	if (p->lock_fd >= 0 && flock(p->lock_fd, LOCK_SH) != 0)
		log_warn("cannot share the jobs lock: %s", strerror(errno));
}

/* Queue again what an earlier process left unfinished; fail what was tried enough. */
static enum wc_status recover(struct job_pool *p, struct wc_error *err)
{
	struct job *jobs;
	size_t n, requeued = 0, failed = 0;
	enum wc_status ret;

	if ((ret = store_job_unfinished(p->st, &jobs, &n, err)))
		return ret;
	for (size_t i = 0; i < n && !ret; i++) {
		const struct job *j = &jobs[i];

		if (j->attempts >= JOB_MAX_ATTEMPTS) {
			char *text = job_error_text(
				"not run again: started %d times, the server stopped each time "
				"before the job finished (a job that brings the server down? see "
				"the server's log); submit it again to retry",
				j->attempts);

			ret = store_job_set(p->st, j->id, JOB_FAILED, text, err);
			log_warn("job %" PRId64 " (%s) failed: %s", j->id, j->kind,
				 text ? text : "");
			free(text);
			failed++;
		} else if (!(ret = store_job_set(p->st, j->id, JOB_QUEUED, NULL, err))) {
			ret = job_pool_submit(p, j->id, err);
			requeued++;
		}
	}
	if (n)
		log_warn("%zu job(s) left unfinished by an earlier server: %zu queued again, "
			 "%zu failed after %d starts",
			 n, requeued, failed, JOB_MAX_ATTEMPTS);
	sweep_spools(store_dir(p->st), jobs, n);
	free(jobs);
	return ret;
}

/* ---- the pool ---- */

enum wc_status job_pool_start(struct job_pool **out, struct store *st, unsigned nworkers,
			      const struct job_kind *kinds, size_t nkinds, struct wc_error *err)
{
	struct job_pool *p = calloc(1, sizeof(*p));
	enum wc_status ret;

	*out = NULL;
	if (!p || nworkers == 0 || !(p->workers = calloc(nworkers, sizeof(pthread_t)))) {
		free(p);
		return wc_error_set(err, nworkers ? WC_ENOMEM : WC_EINVAL,
				    "cannot start job pool of %u workers", nworkers);
	}
	p->st = st;
	p->kinds = kinds;
	p->nkinds = nkinds;
	p->lock_fd = -1;
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
	if (lock_sole(p)) {
		sweep_uploads(store_dir(st));
		if ((ret = recover(p, err))) {
			job_pool_stop(p);
			return ret;
		}
	}
	lock_share(p);
	*out = p;
	return WC_OK;
}

enum wc_status job_pool_submit(struct job_pool *p, int64_t id, struct wc_error *err)
{
	struct job_item *it = calloc(1, sizeof(*it));

	if (!it)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	it->id = id;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(it);
		return wc_error_set(err, WC_EBUSY, "the server is shutting down");
	}
	if (p->max_queued && p->queued >= p->max_queued) {
		unsigned q = p->queued;

		pthread_mutex_unlock(&p->lock);
		free(it);
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

void job_pool_set_observer(struct job_pool *p, job_observer_fn fn, void *cls)
{
	pthread_mutex_lock(&p->lock);
	p->observer = fn;
	p->observer_cls = cls;
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
	while (p->running && pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
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
	/* queued jobs stay queued in the store: the next start runs them */
	while ((it = p->head)) {
		p->head = it->next;
		free(it);
	}
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}
