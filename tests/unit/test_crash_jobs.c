/*
 * test_crash_jobs.c - durable jobs, one crash state at a time (server/jobs.h): the store
 * and the data directory are set up as a server killed at a given point leaves them,
 * then a server starts on them in this process and must finish the work, or refuse it
 * with the reason. test_crash.c kills a real server at random moments; these are the
 * moments named:
 *
 *   ingest   queued, upload in the spool            -> ingested from the spool
 *            running, cut between placing the raw   -> ingested from the raw file
 *            file and committing the run
 *            running, cut after the commit (spool    -> done, "known", one run
 *            file left or not)
 *            the upload never reached the spool     -> failed, "upload it again"
 *   train    running, from its recorded options     -> a model with those options
 *   weather  running                                -> the farm's weather extracted
 *   any      started JOB_MAX_ATTEMPTS times         -> failed, not run again
 *            of a kind this build does not know     -> failed, saying so
 *   spools   of jobs that are over, stale uploads   -> removed at start
 *   two servers on one store                        -> only a sole start recovers
 *   a stop (SIGTERM) with jobs queued               -> they run at the next start
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/sha256.h"
#include "data/store.h"
#include "forecast/modelfile.h"
#include "server/jobs.h"
#include "server/server.h"
#include "testutil.h"

static char *tmp, data[4200], src[4200], grid[4300], sha[SHA256_HEX_LEN];

/* Demo data (2 farms, 1 day: 2 runs) and a store with its farms, no grid yet. */
static void setup(void)
{
	struct wc_error err = { 0 };

	tmp = tu_tmpdir();
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(src, sizeof(src), "%s/src", tmp);
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "demo-data --out '%s' --farms 2 --days 1", src), 0);
	cr_assert_eq(tu_cli(data, NULL, NULL, "farm import '%s/farms.json'", src), 0);
	snprintf(grid, sizeof(grid), "%s/nwp/demo_2026010100.nc", src);
	cr_assert_eq(sha256_file(grid, sha, &err), WC_OK, "%s", err.msg);
}

static void teardown(void)
{
	tu_rmrf_free(tmp);
}

TestSuite(crash_jobs, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

static void copy_file(const char *from, const char *to)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", to, from, to);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static void open_store(struct store **st)
{
	struct wc_error err = { 0 };

	cr_assert_eq(store_open(data, st, &err), WC_OK, "%s", err.msg);
}

/*
 * A job as a server leaves it: recorded with `input`, then started `starts` times
 * (claimed: running, attempts counted) without finishing. In `st`, or with st NULL in
 * the store opened for this alone. Returns its id.
 */
static int64_t left_job(struct store *st, const char *kind, const char *input, int starts)
{
	struct wc_error err = { 0 };
	struct store *own = NULL;
	struct job j;
	int64_t id;

	if (!st) {
		open_store(&own);
		st = own;
	}
	cr_assert_eq(store_job_create(st, kind, input, &id, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < starts; i++) {
		cr_assert_eq(store_job_claim(st, id, &j, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(j.attempts, i + 1);
		job_release(&j);
	}
	store_close(own);
	return id;
}

/* The upload job POST /v1/grids records for the grid, with its upload in the spool. */
static int64_t left_ingest(int starts, bool spooled)
{
	char input[512], copy[4300], dst[4500];
	struct wc_error err = { 0 };
	int64_t id;

	snprintf(input, sizeof(input), "{\"file\":\"run0.nc\",\"sha256\":\"%s\",\"size\":1}", sha);
	id = left_job(NULL, "ingest", input, starts);
	if (spooled) {
		snprintf(copy, sizeof(copy), "%s/tmp/upload-test", data);
		copy_file(grid, copy);
		cr_assert_eq(job_spool_take(data, id, copy, "run0.nc", dst, sizeof(dst), &err),
			     WC_OK, "%s", err.msg);
		cr_assert(exists(dst));
		cr_assert(!exists(copy));
	}
	return id;
}

/* Start a server on the store, wait for job id, return it (json_t *, new reference). */
static json_t *serve_until_over(struct store **st, struct server **srv, int64_t id)
{
	char url[64];

	tu_serve(data, st, srv);
	snprintf(url, sizeof(url), "/v1/jobs/%" PRId64, id);
	return tu_wait_job(server_port(*srv), url);
}

static const char *state_of(json_t *job)
{
	return json_string_value(json_object_get(job, "state"));
}

static const char *result_str(json_t *job, const char *key)
{
	return json_string_value(json_object_get(json_object_get(job, "result"), key));
}

static void stop(struct store *st, struct server *srv)
{
	server_stop(srv);
	store_close(st);
}

/* The spool of job id is gone (removed once the job is over). */
static void assert_spool_gone(int64_t id)
{
	char path[4300];

	snprintf(path, sizeof(path), "%s/jobs/%" PRId64, data, id);
	cr_assert(!exists(path), "'%s' is still there", path);
}

/* ---- ingest ---- */

Test(crash_jobs, queued_upload_is_ingested_at_start)
{
	struct store *st;
	struct server *srv;
	struct nwp_run run;
	json_t *job;
	int64_t id;

	id = left_ingest(0, true);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
	cr_assert_str_eq(result_str(job, "status"), "ingested");
	cr_assert_str_eq(result_str(job, "file"), "run0.nc", "named as the client named it");
	cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1);
	cr_assert_eq(store_run_by_sha(st, sha, &run, NULL), WC_OK);
	cr_assert_eq(run.nfarms, 2);
	json_decref(job);
	stop(st, srv);
	assert_spool_gone(id);
}

Test(crash_jobs, running_ingest_cut_before_commit_ingests_the_placed_file)
{
	char raw[4400];
	struct store *st;
	struct server *srv;
	json_t *job;
	int64_t id;

	id = left_ingest(1, false);
	/* ingest_file had moved the upload to its content address, then the server died */
	snprintf(raw, sizeof(raw), "%s/grids/%.2s/%s.nc", data, sha, sha);
	copy_file(grid, raw);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
	cr_assert_str_eq(result_str(job, "status"), "ingested");
	cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 2);
	cr_assert_eq(store_run_by_sha(st, sha, NULL, NULL), WC_OK);
	cr_assert(exists(raw), "the raw file stays where the run says it is");
	json_decref(job);
	stop(st, srv);
}

/* Cut after the commit: before the spool file went, or after. Known, and one run. */
Test(crash_jobs, running_ingest_cut_after_commit_is_known)
{
	struct store *st;
	struct server *srv;
	json_t *job;
	size_t n;
	int64_t id;

	cr_assert_eq(tu_cli(data, NULL, NULL, "ingest '%s'", grid), 0);
	for (int spooled = 0; spooled < 2; spooled++) {
		id = left_ingest(1, spooled);
		job = serve_until_over(&st, &srv, id);
		cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
		cr_assert_str_eq(result_str(job, "status"), "known");
		cr_assert_str_eq(result_str(job, "sha256"), sha);
		cr_assert_eq(store_run_count(st, &n, NULL), WC_OK);
		cr_assert_eq(n, 1, "one run, not two");
		json_decref(job);
		stop(st, srv);
		assert_spool_gone(id);
	}
}

Test(crash_jobs, lost_upload_fails_with_the_reason)
{
	struct store *st;
	struct server *srv;
	json_t *job;
	int64_t id;

	id = left_ingest(0, false);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "failed");
	cr_assert(strstr(result_str(job, "error"), "cannot ingest 'run0.nc': the upload was lost"),
		  "%s", result_str(job, "error"));
	cr_assert(strstr(result_str(job, "error"), "upload it again"));
	json_decref(job);
	stop(st, srv);
}

/* ---- train and weather ---- */

/* 6 days of runs and of north-sea-1's observations in the store: enough to train on. */
static void trainable_store(void)
{
	char cmd[9000];

	cr_assert_eq(tu_cli(NULL, NULL, NULL, "demo-data --out '%s/6d' --farms 2 --days 6", tmp),
		     0);
	snprintf(cmd, sizeof(cmd), "'%s' --data '%s' ingest '%s'/6d/nwp/*.nc", tu_bin(), data, tmp);
	cr_assert_eq(tu_run(cmd, NULL, NULL), 0);
	cr_assert_eq(tu_cli(data, NULL, NULL,
			    "obs import --farm north-sea-1 '%s/6d/obs/north-sea-1.csv'", tmp),
		     0);
}

Test(crash_jobs, running_training_runs_again_from_its_options)
{
	struct store *st;
	struct server *srv;
	struct wc_error err = { 0 };
	struct nn_model *nn = NULL;
	struct model_rec m;
	json_t *job;
	int64_t id;

	trainable_store();
	id = left_job(NULL, "train",
		      "{\"farm\":\"north-sea-1\",\"epochs\":2,\"hidden\":[7],\"ensemble\":1,"
		      "\"leads\":6,\"val_frac\":0.2,\"seed\":11}",
		      1);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(job, "result"), "version")),
		     1);
	cr_assert_eq(store_model_get(st, "north-sea-1", 1, &m, NULL), WC_OK);
	/* trained with the recorded options, not the defaults (one member of 7 units) */
	cr_assert_eq(nn_model_load(m.path, NULL, 0, &nn, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(nn->n_members, 1);
	cr_assert_eq(nn->member[0].n_layers, 2);
	cr_assert_eq(nn->member[0].sizes[1], 7);
	nn_model_free(nn);
	model_rec_release(&m);
	json_decref(job);
	stop(st, srv);
}

Test(crash_jobs, running_weather_job_extracts_again)
{
	struct store *st;
	struct server *srv;
	struct weather_row *rows;
	struct nwp_run *runs;
	json_t *job;
	size_t n;
	int64_t id;

	struct farm late = { .id = "late", .name = "Late", .lat = 55.9, .lon = 7.2,
			     .capacity_mw = 20, .hub_height_m = 100 };

	cr_assert_eq(tu_cli(data, NULL, NULL, "ingest '%s'", grid), 0);
	open_store(&st);
	/* registered (as the handler does) and the server died before its weather job ran */
	cr_assert_eq(store_farm_add(st, &late, NULL), WC_OK);
	cr_assert_eq(store_weather_query(st, "late", INT64_MIN, &rows, &runs, &n, NULL), WC_OK);
	cr_assert_eq(n, 0, "no weather before the job");
	free(rows);
	free(runs);
	id = left_job(st, "weather", "{\"farm\":\"late\"}", 2);
	store_close(st);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
	cr_assert_str_eq(result_str(job, "status"), "extracted");
	cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 3, "the last start");
	cr_assert_eq(store_weather_query(st, "late", INT64_MIN, &rows, &runs, &n, NULL), WC_OK);
	cr_assert_eq(n, 49, "one run of 49 valid times");
	free(rows);
	free(runs);
	json_decref(job);
	stop(st, srv);
}

/* ---- limits ---- */

Test(crash_jobs, job_started_too_often_is_not_run_again)
{
	struct store *st;
	struct server *srv;
	json_t *job;
	char want[64];
	int64_t id;

	cr_assert_eq(tu_cli(data, NULL, NULL, "ingest '%s'", grid), 0);
	id = left_job(NULL, "weather", "{\"farm\":\"north-sea-1\"}", JOB_MAX_ATTEMPTS);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "failed");
	snprintf(want, sizeof(want), "not run again: started %d times", JOB_MAX_ATTEMPTS);
	cr_assert(strstr(result_str(job, "error"), want), "%s", result_str(job, "error"));
	cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), JOB_MAX_ATTEMPTS,
		     "not started once more");
	json_decref(job);
	stop(st, srv);
}

Test(crash_jobs, unknown_kind_fails)
{
	struct store *st;
	struct server *srv;
	json_t *job;
	int64_t id;

	id = left_job(NULL, "backtest", "{}", 0);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "failed");
	cr_assert(strstr(result_str(job, "error"), "unknown job kind 'backtest'"), "%s",
		  result_str(job, "error"));
	json_decref(job);
	stop(st, srv);
}

/* ---- the data directory ---- */

Test(crash_jobs, start_removes_spools_of_finished_jobs_and_stale_uploads)
{
	char spool[4300], dst[4500], fresh[4300], stale[4300];
	struct wc_error err = { 0 };
	struct timeval old[2];
	struct store *st;
	struct server *srv;
	int64_t id;

	open_store(&st);
	id = left_job(st, "weather", "{\"farm\":\"north-sea-1\"}", 0);
	cr_assert_eq(store_job_set(st, id, JOB_DONE, NULL, &err), WC_OK);
	snprintf(fresh, sizeof(fresh), "%s/tmp/upload-fresh", data);
	snprintf(stale, sizeof(stale), "%s/tmp/upload-stale", data);
	copy_file(grid, fresh);
	copy_file(grid, stale);
	snprintf(spool, sizeof(spool), "%s/tmp/leftover", data);
	copy_file(grid, spool);
	cr_assert_eq(job_spool_take(data, id, spool, "x.nc", dst, sizeof(dst), &err), WC_OK);
	store_close(st);
	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= 2 * 3600;
	old[1] = old[0];
	cr_assert_eq(utimes(stale, old), 0);

	tu_serve(data, &st, &srv);
	cr_assert(!exists(dst), "the spool of a finished job stays");
	assert_spool_gone(id);
	cr_assert(!exists(stale), "an upload untouched for 2 h stays");
	cr_assert(exists(fresh), "an upload that may be in progress went");
	stop(st, srv);
}

Test(crash_jobs, spool_take_refuses_a_path_in_the_name)
{
	struct wc_error err = { 0 };
	char dst[4500], copy[4300];

	snprintf(copy, sizeof(copy), "%s/tmp/upload-x", data);
	copy_file(grid, copy);
	cr_assert_eq(job_spool_take(data, 5, copy, "../evil.nc", dst, sizeof(dst), &err), WC_EINVAL);
	cr_assert_eq(job_spool_take(data, 5, copy, "", dst, sizeof(dst), &err), WC_EINVAL);
	cr_assert(exists(copy), "the upload stays where it was");
}

/*
 * Two servers on one store: the second start finds the first running and leaves the
 * unfinished jobs to it (it would otherwise run a job the first is running); the next
 * sole start runs them.
 */
Test(crash_jobs, only_a_sole_server_recovers)
{
	struct store *st, *st2;
	struct server *srv, *srv2;
	struct job j;
	json_t *job;
	int64_t id;

	cr_assert_eq(tu_cli(data, NULL, NULL, "ingest '%s'", grid), 0);
	tu_serve(data, &st, &srv);
	/* a job recorded as another process would leave it, while srv runs */
	id = left_job(st, "weather", "{\"farm\":\"north-sea-1\"}", 1);
	tu_serve(data, &st2, &srv2);
	usleep(300000);
	cr_assert_eq(store_job_get(st2, id, &j, NULL), WC_OK);
	cr_assert_eq(j.state, JOB_RUNNING, "recovered beside a running server");
	cr_assert_eq(j.attempts, 1);
	job_release(&j);
	stop(st2, srv2);
	stop(st, srv);
	job = serve_until_over(&st, &srv, id);
	cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
	json_decref(job);
	stop(st, srv);
}

/*
 * A stop (SIGTERM) lets the running job finish and leaves the queued ones queued in the
 * store (they were dropped, then marked failed at the next start); the next start runs
 * them.
 */
Test(crash_jobs, stop_leaves_queued_jobs_to_the_next_start)
{
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct store *st;
	struct server *srv;
	struct job j;
	struct tu_http r;
	json_t *job;
	int64_t train, weather;

	trainable_store();
	/* one worker, busy for a while with a training */
	train = left_job(NULL, "train",
			 "{\"farm\":\"north-sea-1\",\"epochs\":400,\"patience\":400,"
			 "\"hidden\":[64,32],\"ensemble\":1,\"workers\":1}",
			 0);
	open_store(&st);
	tu_auth(st);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.job_workers = 1;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < 500; i++) {	/* the recovered training starts */
		cr_assert_eq(store_job_get(st, train, &j, NULL), WC_OK);
		job_release(&j);
		if (j.state == JOB_RUNNING)
			break;
		usleep(10000);
	}
	/* a farm moved meanwhile: its weather job waits behind the training */
	cr_assert(tu_http_request(server_port(srv), "PUT", "/v1/farms/north-sea-1",
				  "{\"name\":\"Moved\",\"lat\":55.9,\"lon\":7.2,\"capacity_mw\":400}",
				  (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	job = json_loads(r.body, 0, NULL);
	weather = json_integer_value(json_object_get(json_object_get(job, "job"), "id"));
	cr_assert_gt(weather, 0, "%s", r.body);
	json_decref(job);
	tu_http_release(&r);
	cr_assert_eq(store_job_get(st, train, &j, NULL), WC_OK);
	cr_assert_eq(j.state, JOB_RUNNING, "the training should still run");
	job_release(&j);
	stop(st, srv);

	open_store(&st);
	cr_assert_eq(store_job_get(st, train, &j, NULL), WC_OK);
	cr_assert_eq(j.state, JOB_DONE, "the running job finished before the stop");
	job_release(&j);
	cr_assert_eq(store_job_get(st, weather, &j, NULL), WC_OK);
	cr_assert_eq(j.state, JOB_QUEUED, "the queued job stays queued");
	cr_assert_eq(j.attempts, 0);
	job_release(&j);
	store_close(st);
	job = serve_until_over(&st, &srv, weather);
	cr_assert_str_eq(state_of(job), "done", "%s", result_str(job, "error"));
	json_decref(job);
	stop(st, srv);
}
