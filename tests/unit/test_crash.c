/*
 * test_crash.c - crash consistency of a real `windcast serve` (a child process, the
 * sanitizer build) killed with SIGKILL at random moments while grids are uploaded and
 * ingested, observations posted, models trained and a farm moved (its weather
 * re-extracted), over and over.
 *
 * Each iteration: start the server; wait until every job in the store is over (what
 * the last kill cut short runs again at start) and check that every write the server
 * acknowledged is there: each grid answered 202 is an ingested run once its job is done
 * (200: known already), each observation upload answered 200 is stored value for value,
 * each training answered 202 has its model version recorded with a loadable file, each
 * weather job is done. Then start the load from five client threads, kill -9 the server
 * after a random delay and check the store as the crash left it, before anything
 * repairs it: PRAGMA integrity_check and foreign_key_check clean, every run whole (its
 * raw file kept, each of its farms with a row per valid time, its farm count right),
 * every model record with a file that loads.
 *
 * WINDCAST_CRASH_ITERATIONS (default 50) and WINDCAST_CRASH_SEED (default: the clock)
 * make a longer soak or replay a run; the seed is printed first. WINDCAST_CRASH_KEEP=1
 * keeps the data directory and the server's log (serve.log) for a look. The kill moments are
 * drawn from the seed; what the server is doing at each moment still depends on the
 * machine's timing, so a replay explores the same moments, not the same states.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/modelfile.h"
#include "testutil.h"

#define DEFAULT_ITERATIONS 50
#define KILL_MIN_MS 20		/* the kill comes this long after the load starts ... */
#define KILL_MAX_MS 1200	/* ... at the most */
#define PRELOADED_RUNS 8	/* runs ingested by the CLI first: training has weather */
#define OBS_BATCH 24		/* hours per observation upload */
#define DAYS 150		/* of demo data: 2 runs a day to upload */
#define MAX_ACKS 4096

static const char *const trained_farm = "north-sea-1";
/* a training of a few tenths of a second on this data with the sanitizer build */
static const char train_body[] =
	"{\"epochs\":25,\"patience\":25,\"hidden\":[32,16],\"ensemble\":1,\"workers\":1}";

/*
 * The headers of a request: `extra` (NULL: none) and those every request carries,
 * NULL-terminated in out (tu_http_request adds the bearer token the setup made).
 */
static const char *const *headers(const char *extra, const char *out[4])
{
	int n = 0;

	if (extra)
		out[n++] = extra;
	out[n] = NULL;
	return out;
}

/* ---- the acknowledged writes ---- */

enum ack_kind { ACK_GRID, ACK_OBS, ACK_TRAIN, ACK_WEATHER };

struct ack {
	enum ack_kind kind;
	int64_t job;		/* 0: none (a grid known already, observations) */
	char sha[65];		/* ACK_GRID */
	char farm[65];		/* ACK_OBS, ACK_TRAIN, ACK_WEATHER */
	int64_t t0;		/* ACK_OBS: first hour; OBS_BATCH hours of obs_value() */
	bool checked;		/* verified after a restart (jobs once they are over) */
};

static struct {
	pthread_mutex_t lock;
	struct ack a[MAX_ACKS];
	size_t n;
} ledger = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void ack_add(const struct ack *a)
{
	pthread_mutex_lock(&ledger.lock);
	if (ledger.n < MAX_ACKS)
		ledger.a[ledger.n++] = *a;
	pthread_mutex_unlock(&ledger.lock);
}

/* The observation posted for hour t: a value the test can recompute. */
static double obs_value(int64_t t)
{
	return (double)((t / 3600) % 1013) / 10.0;	/* 0 .. 101.2 MW, 0.1 steps */
}

/* ---- the server child ---- */

struct child {
	pid_t pid;
	unsigned port;
	char log[4200];
};

/* Start `windcast serve` on a free port; its stderr (log, sanitizer reports) to c->log. */
static void child_start(const char *data, struct child *c)
{
	int fds[2];
	char line[256] = "";
	size_t n = 0;

	snprintf(c->log, sizeof(c->log), "%s/../serve.log", data);
	cr_assert_eq(pipe(fds), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		int fd;

		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		if ((fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execl(tu_bin(), "windcast", "--data", data, "serve", "--listen", "127.0.0.1:0",
		      "--threads", "2", "--job-workers", "3", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* "listening on port N" */
	while (n + 1 < sizeof(line) && !strchr(line, '\n')) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		ssize_t k;

		cr_assert_gt(poll(&p, 1, 60000), 0, "the server did not start in 60 s (see %s)",
			     c->log);
		k = read(fds[0], line + n, sizeof(line) - 1 - n);
		cr_assert_gt(k, 0, "the server exited at start (see %s)", c->log);
		n += (size_t)k;
		line[n] = '\0';
	}
	close(fds[0]);
	cr_assert_eq(sscanf(line, "listening on port %u", &c->port), 1, "%s", line);
}

static void child_kill9(struct child *c)
{
	int status;

	kill(c->pid, SIGKILL);
	cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
	c->pid = 0;
}

/* SIGTERM and the exit status (0 expected: in-flight work finished, clean exit). */
static int child_term(struct child *c)
{
	int status = -1;

	kill(c->pid, SIGTERM);
	cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
	c->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* No sanitizer report in the server's log so far. */
static void assert_log_clean(const struct child *c)
{
	char *log = tu_read_file(c->log, NULL);

	cr_assert_not_null(log);
	cr_assert_null(strstr(log, "ERROR: AddressSanitizer"), "see %s", c->log);
	cr_assert_null(strstr(log, "ERROR: LeakSanitizer"), "see %s", c->log);
	cr_assert_null(strstr(log, "runtime error:"), "see %s", c->log);
	free(log);
}

/* ---- the load ---- */

struct load {
	unsigned port;
	char **grids;		/* grid files to upload, in order */
	size_t ngrids;
	atomic_size_t next_grid;	/* shared across iterations */
	atomic_llong next_obs;	/* next hour to post */
	atomic_int moves;	/* farm moves so far */
	atomic_bool stop;
};

static json_t *reply_json(const struct tu_http *r)
{
	return json_loadb(r->body, r->len, 0, NULL);
}

static int64_t reply_job(const struct tu_http *r)
{
	json_t *v = reply_json(r);
	int64_t id = json_integer_value(json_object_get(json_object_get(v, "job"), "id"));

	json_decref(v);
	return id;
}

/* Poll job id until it is over or the load stops (no assertion: a thread of its own). */
static void job_follow(struct load *l, int64_t id)
{
	char url[64];
	const char *hdr[4];

	snprintf(url, sizeof(url), "/v1/jobs/%" PRId64, id);
	while (!atomic_load(&l->stop)) {
		struct tu_http r;
		bool over = !tu_http_request(l->port, "GET", url, NULL, 0, headers(NULL, hdr), &r) ||
			    strstr(r.body, "\"state\":\"done\"") ||
			    strstr(r.body, "\"state\":\"failed\"");

		tu_http_release(&r);
		if (over)
			return;
		usleep(10000);
	}
}

/*
 * Upload grids one after another, each once its predecessor's job is over, so that an
 * upload or an ingest is under way most of the time without a queue building up; each
 * file once over the whole test.
 */
static void *load_grids(void *arg)
{
	struct load *l = arg;
	const char *hdr[4];

	while (!atomic_load(&l->stop)) {
		size_t i = atomic_fetch_add(&l->next_grid, 1);
		const char *path = i < l->ngrids ? l->grids[i] : NULL;
		char target[512], *body;
		struct tu_http r;
		size_t len;
		struct ack a = { .kind = ACK_GRID };
		json_t *v;

		if (!path || !(body = tu_read_file(path, &len)))
			break;
		snprintf(target, sizeof(target), "/v1/grids?name=%s", strrchr(path, '/') + 1);
		if (tu_http_request(l->port, "POST", target, body, len,
				    headers("Content-Type: application/x-netcdf", hdr), &r) &&
		    (r.status == 202 || r.status == 200)) {
			v = reply_json(&r);
			snprintf(a.sha, sizeof(a.sha), "%s",
				 json_string_value(json_object_get(v, "sha256")));
			json_decref(v);
			a.job = r.status == 202 ? reply_job(&r) : 0;
			ack_add(&a);
		}
		tu_http_release(&r);
		free(body);
		if (a.job)
			job_follow(l, a.job);
	}
	return NULL;
}

/* Post a day of observations of both farms every 20 ms. */
static void *load_obs(void *arg)
{
	static const char *const farms[] = { "north-sea-1", "horns-reef" };
	struct load *l = arg;
	const char *hdr[4];

	while (!atomic_load(&l->stop)) {
		int64_t t0 = atomic_fetch_add(&l->next_obs, OBS_BATCH * 3600);
		char text[OBS_BATCH * 48 + 32], target[128], iso[UTC_ISO_LEN];
		size_t o = (size_t)snprintf(text, sizeof(text), "time,power_mw\n");

		for (int h = 0; h < OBS_BATCH; h++)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s,%.1f\n",
					      utc_format(t0 + h * 3600, iso),
					      obs_value(t0 + h * 3600));
		for (int f = 0; f < 2; f++) {
			struct tu_http r;

			snprintf(target, sizeof(target), "/v1/farms/%s/observations", farms[f]);
			if (tu_http_request(l->port, "POST", target, text, o,
					    headers("Content-Type: text/csv", hdr), &r) &&
			    r.status == 200) {
				struct ack a = { .kind = ACK_OBS, .t0 = t0 };

				snprintf(a.farm, sizeof(a.farm), "%s", farms[f]);
				ack_add(&a);
			}
			tu_http_release(&r);
		}
		usleep(20000);
	}
	return NULL;
}

/* One training of trained_farm. */
static void *load_train(void *arg)
{
	struct load *l = arg;
	const char *hdr[4];
	char target[128];
	struct tu_http r;

	snprintf(target, sizeof(target), "/v1/farms/%s/train", trained_farm);
	if (tu_http_request(l->port, "POST", target, train_body, (size_t)-1, headers(NULL, hdr),
			    &r) &&
	    r.status == 202) {
		struct ack a = { .kind = ACK_TRAIN, .job = reply_job(&r) };

		snprintf(a.farm, sizeof(a.farm), "%s", trained_farm);
		ack_add(&a);
	}
	tu_http_release(&r);
	return NULL;
}

/* Move farm "mover" to the other of two sites: a weather job re-extracts its weather. */
static void *load_move(void *arg)
{
	struct load *l = arg;
	int k = atomic_fetch_add(&l->moves, 1);
	const char *hdr[4];
	char body[256];
	struct tu_http r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"Mover\",\"lat\":%s,\"lon\":7.5,\"capacity_mw\":50}",
		 k % 2 ? "55.0" : "56.25");
	if (tu_http_request(l->port, "PUT", "/v1/farms/mover", body, (size_t)-1,
			    headers(NULL, hdr), &r) &&
	    r.status == 200) {
		struct ack a = { .kind = ACK_WEATHER, .job = reply_job(&r) };

		snprintf(a.farm, sizeof(a.farm), "mover");
		if (a.job)
			ack_add(&a);
	}
	tu_http_release(&r);
	return NULL;
}

/* ---- checks on the store ---- */

static sqlite3 *db_open(const char *data)
{
	char path[4200];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/windcast.db", data);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	return db;
}

/* The integer the query returns (one row, one column); `bind` the text of ?1 if not NULL. */
static int64_t db_int(sqlite3 *db, const char *sql, const char *bind)
{
	sqlite3_stmt *s;
	int64_t v;

	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	if (bind)
		sqlite3_bind_text(s, 1, bind, -1, SQLITE_TRANSIENT);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* What a crash may leave and what it must never leave. */
static void check_after_crash(const char *data, int iter)
{
	sqlite3 *db = db_open(data);
	sqlite3_stmt *s;
	char *msg = NULL;
	const char *ok;

	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	ok = (const char *)sqlite3_column_text(s, 0);
	cr_assert_str_eq(ok, "ok", "iteration %d: integrity_check: %s", iter, ok);
	sqlite3_finalize(s);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_DONE, "iteration %d: foreign keys broken", iter);
	sqlite3_finalize(s);
	/* every run whole: its farm count, a row per valid time for each of its farms */
	cr_assert_eq(db_int(db, "SELECT count(*) FROM nwp_runs r WHERE r.nfarms != "
				"(SELECT count(DISTINCT farm_id) FROM site_weather w WHERE "
				"w.run_id = r.id)",
			    NULL),
		     0, "iteration %d: a run's farm count differs from its weather", iter);
	cr_assert_eq(db_int(db, "SELECT count(*) FROM (SELECT w.run_id, w.farm_id, count(*) n, "
				"r.ntimes FROM site_weather w JOIN nwp_runs r ON r.id = w.run_id "
				"GROUP BY w.run_id, w.farm_id HAVING n != r.ntimes)",
			    NULL),
		     0, "iteration %d: a farm with part of a run's weather", iter);
	cr_assert_eq(db_int(db, "SELECT count(*) FROM nwp_runs r LEFT JOIN grids g ON "
				"g.sha256 = r.sha256 WHERE g.sha256 IS NULL",
			    NULL),
		     0, "iteration %d: a run without its raw file record", iter);
	/* every raw file and model file recorded is there (and a model loads) */
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT path FROM grids UNION ALL "
					    "SELECT path FROM models",
					-1, &s, NULL),
		     SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(s, 0);
		struct stat sb;

		cr_assert_eq(stat(path, &sb), 0, "iteration %d: recorded file '%s' is missing",
			     iter, path);
		if (strstr(path, ".wcm")) {
			struct nn_model *m = NULL;
			struct wc_error err = { 0 };

			cr_assert_eq(nn_model_load(path, NULL, 0, &m, &err), WC_OK,
				     "iteration %d: %s", iter, err.msg);
			nn_model_free(m);
		}
	}
	sqlite3_finalize(s);
	sqlite3_free(msg);
	sqlite3_close(db);
}

/* GET /v1/jobs/id until it is over; its state, and (ACK_TRAIN) the model version. */
static const char *job_outcome(unsigned port, int64_t id, int *version, char *why,
			       size_t whylen)
{
	char url[64];
	json_t *j, *res;
	const char *state;
	static char st[16];

	snprintf(url, sizeof(url), "/v1/jobs/%" PRId64, id);
	j = tu_wait_job(port, url);
	state = json_string_value(json_object_get(j, "state"));
	snprintf(st, sizeof(st), "%s", state ? state : "?");
	res = json_object_get(j, "result");
	*version = (int)json_integer_value(json_object_get(res, "version"));
	snprintf(why, whylen, "%s", json_string_value(json_object_get(res, "error"))
					     ? json_string_value(json_object_get(res, "error"))
					     : "");
	json_decref(j);
	return st;
}

/* Wait until no job is queued or running (the store says so), at most 120 s. */
static void wait_jobs_over(const char *data)
{
	for (int i = 0; i < 1200; i++) {
		sqlite3 *db = db_open(data);
		int64_t n = db_int(db, "SELECT count(*) FROM jobs WHERE state IN ('queued', "
				       "'running')",
				   NULL);

		sqlite3_close(db);
		if (n == 0)
			return;
		usleep(100000);
	}
	cr_assert_fail("jobs still unfinished after 120 s");
}

/* Every acknowledged write not checked yet is in the store now. */
static void check_acks(const char *data, unsigned port, int iter)
{
	sqlite3 *db = db_open(data);

	for (size_t i = 0; i < ledger.n; i++) {
		struct ack *a = &ledger.a[i];
		char why[1024], ver[16];
		int version = 0;

		if (a->checked)
			continue;
		if (a->job) {
			const char *state = job_outcome(port, a->job, &version, why, sizeof(why));

			cr_assert_str_eq(state, "done", "iteration %d: job %" PRId64 " %s: %s",
					 iter, a->job, state, why);
		}
		switch (a->kind) {
		case ACK_GRID:
			cr_assert_eq(db_int(db, "SELECT count(*) FROM nwp_runs WHERE sha256 = ?1",
					    a->sha),
				     1, "iteration %d: grid %s acknowledged, no run", iter, a->sha);
			break;
		case ACK_OBS:
			for (int h = 0; h < OBS_BATCH; h++) {
				char sql[256];
				sqlite3_stmt *s;
				int64_t t = a->t0 + h * 3600;

				snprintf(sql, sizeof(sql), "SELECT power_mw FROM observations "
							  "WHERE farm_id = ?1 AND time = %" PRId64, t);
				cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
				sqlite3_bind_text(s, 1, a->farm, -1, SQLITE_TRANSIENT);
				cr_assert_eq(sqlite3_step(s), SQLITE_ROW,
					     "iteration %d: observation %s %" PRId64
					     " acknowledged, not stored",
					     iter, a->farm, t);
				cr_assert_float_eq(sqlite3_column_double(s, 0), obs_value(t), 1e-9);
				sqlite3_finalize(s);
			}
			break;
		case ACK_TRAIN:
			snprintf(ver, sizeof(ver), "%d", version);
			cr_assert_gt(version, 0);
			cr_assert_eq(db_int(db, "SELECT count(*) FROM models WHERE farm_id = "
						"'north-sea-1' AND version = ?1",
					    ver),
				     1, "iteration %d: model version %d not recorded", iter,
				     version);
			break;
		case ACK_WEATHER:
			break;
		}
		a->checked = true;
	}
	sqlite3_close(db);
}

/* The kinds of the jobs running when the server died, counted into running[]. */
static void count_running(const char *data, int running[4])
{
	static const char *const kinds[] = { "ingest", "train", "weather" };
	sqlite3 *db = db_open(data);

	for (int k = 0; k < 3; k++)
		running[k] += (int)db_int(db, "SELECT count(*) FROM jobs WHERE state = 'running' "
					      "AND kind = ?1",
					  kinds[k]);
	running[3] += (int)db_int(db, "SELECT count(*) FROM jobs WHERE state = 'queued'", NULL);
	sqlite3_close(db);
}

/* ---- the test ---- */

static unsigned env_unsigned(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

Test(crash, kill9_during_writes, .timeout = 1200)
{
	char *tmp = tu_tmpdir(), data[4200], src[4200], cmd[9000];
	unsigned iters = env_unsigned("WINDCAST_CRASH_ITERATIONS", DEFAULT_ITERATIONS);
	const char *seed_env = getenv("WINDCAST_CRASH_SEED");
	uint64_t seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 10)
					      : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	struct load l = { 0 };
	struct child c = { 0 };
	struct timespec t_start, t_end;
	int running[4] = { 0 };
	size_t acked[4] = { 0 }, recovered = 0;
	const char *hdr[4];
	char **files;
	struct tu_http r;
	sqlite3 *db;

	fprintf(stderr, "crash: seed %" PRIu64 ", %u iterations (WINDCAST_CRASH_SEED=%" PRIu64
			" replays the kill moments)\n",
		seed, iters, seed);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	srand48((long)seed);
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(src, sizeof(src), "%s/src", tmp);
	/* 2 farms, 150 days: 300 runs of about 100 KB */
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "demo-data --out '%s' --farms 2 --days %d", src,
			    DAYS),
		     0);
	cr_assert_eq(tu_cli(data, NULL, NULL, "farm import '%s/farms.json'", src), 0);
	{
		struct store *st;
		struct wc_error err = { 0 };

		cr_assert_eq(store_open(data, &st, &err), WC_OK, "%s", err.msg);
		tu_auth(st);	/* every request sends this admin token */
		store_close(st);
	}
	snprintf(cmd, sizeof(cmd), "ls '%s'/nwp/*.nc | head -n %d | xargs '%s' --data '%s' ingest",
		 src, PRELOADED_RUNS, tu_bin(), data);
	cr_assert_eq(tu_run(cmd, NULL, NULL), 0);
	cr_assert_eq(tu_cli(data, NULL, NULL,
			    "obs import --farm north-sea-1 '%s/obs/north-sea-1.csv'", src), 0);
	/* the grids to upload: every run after the preloaded ones */
	files = calloc(2 * DAYS, sizeof(*files));
	for (int i = PRELOADED_RUNS; i < 2 * DAYS; i++) {
		int64_t ref = 1767225600 + (int64_t)i * 43200;	/* 2026-01-01T00Z + i * 12 h */
		char iso[UTC_ISO_LEN], name[64];

		utc_format(ref, iso);
		snprintf(name, sizeof(name), "demo_%.4s%.2s%.2s%.2s.nc", iso, iso + 5, iso + 8,
			 iso + 11);
		cr_assert(asprintf(&files[l.ngrids++], "%s/nwp/%s", src, name) > 0);
	}
	l.grids = files;
	atomic_init(&l.next_obs, (long long)1767225600 + 20 * 86400);	/* from day 21 */
	child_start(data, &c);
	/* a third farm that moves to and fro */
	cr_assert(tu_http_request(c.port, "PUT", "/v1/farms/mover",
				  "{\"name\":\"Mover\",\"lat\":56.25,\"lon\":7.5,\"capacity_mw\":50}",
				  (size_t)-1, headers(NULL, hdr), &r));
	cr_assert_eq(r.status, 201, "%s", r.body);
	tu_http_release(&r);

	for (unsigned it = 0; it < iters; it++) {
		pthread_t th[5];
		long delay_ms = KILL_MIN_MS + (long)(drand48() * (KILL_MAX_MS - KILL_MIN_MS));

		wait_jobs_over(data);
		check_acks(data, c.port, (int)it);
		assert_log_clean(&c);
		l.port = c.port;
		atomic_store(&l.stop, false);
		pthread_create(&th[0], NULL, load_train, &l);
		pthread_create(&th[1], NULL, load_grids, &l);
		pthread_create(&th[2], NULL, load_obs, &l);
		pthread_create(&th[3], NULL, load_move, &l);
		pthread_create(&th[4], NULL, load_grids, &l);
		usleep((useconds_t)delay_ms * 1000);
		child_kill9(&c);
		atomic_store(&l.stop, true);
		for (int k = 0; k < 5; k++)
			pthread_join(th[k], NULL);
		check_after_crash(data, (int)it);
		count_running(data, running);
		child_start(data, &c);
	}
	wait_jobs_over(data);
	check_acks(data, c.port, (int)iters);
	/* a clean stop at the end: exit 0, no sanitizer report (leaks included) */
	cr_assert_eq(child_term(&c), 0);
	assert_log_clean(&c);
	check_after_crash(data, (int)iters);
	db = db_open(data);
	recovered = (size_t)db_int(db, "SELECT count(*) FROM jobs WHERE attempts > 1", NULL);
	cr_assert_eq(db_int(db, "SELECT count(*) FROM jobs WHERE state != 'done' AND "
				"input NOT LIKE '%\"file\"%'",
			    NULL),
		     0, "a training or weather job did not end done");
	sqlite3_close(db);
	for (size_t i = 0; i < ledger.n; i++)
		acked[ledger.a[i].kind]++;
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	fprintf(stderr,
		"crash: seed %" PRIu64 ": %u kill -9, all consistent; acknowledged %zu grids, "
		"%zu observation uploads, %zu trainings, %zu weather jobs, all present; "
		"jobs running at the kills: ingest %d, train %d, weather %d (queued %d); "
		"%zu jobs ran again after a kill; %.1f s\n",
		seed, iters, acked[ACK_GRID], acked[ACK_OBS], acked[ACK_TRAIN],
		acked[ACK_WEATHER], running[0], running[1], running[2], running[3], recovered,
		(double)(t_end.tv_sec - t_start.tv_sec) +
			(double)(t_end.tv_nsec - t_start.tv_nsec) / 1e9);
	for (size_t i = 0; i < l.ngrids; i++)
		free(files[i]);
	free(files);
	if (getenv("WINDCAST_CRASH_KEEP")) {
		fprintf(stderr, "crash: kept '%s'\n", tmp);
		free(tmp);
	} else {
		tu_rmrf_free(tmp);
	}
}
