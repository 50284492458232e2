/*
 * test_metrics.c - GET /metrics and the access log on a real daemon: request counts by
 * route and status equal the requests made, histograms are cumulative and agree with
 * the counts, the cache and job counters, the forecast computation histogram, the
 * adaptation replay's reuse, model and
 * NWP run ages and store size against the store itself; one JSON access-log line per
 * request whose id is the X-Request-Id the client saw.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/replay.h"
#include "server/metrics.h"
#include "server/server.h"
#include "testutil.h"

struct store *fxr_store(char **dir, int days, int models);

static char *dir;
static struct store *st;
static struct server *srv;
static unsigned port;
static char logpath[4200];

/* cache_bytes: the held-reply budget (0: none, so no forecast is computed in the
 * background and every computation counted is a request's) */
static void serve_with(size_t cache_bytes)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	tu_auth(st);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	cfg.cache_bytes = cache_bytes;
	snprintf(logpath, sizeof(logpath), "%s/access.log", dir);
	cfg.access_log = logpath;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	port = server_port(srv);
}

static void serve(void)
{
	struct server_config cfg;

	server_config_init(&cfg);
	serve_with(cfg.cache_bytes);
}

static void setup(void)
{
	struct wc_error err = { 0 };

	dir = tu_tmpdir();
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	serve();
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 120);

static char *scrape(void)
{
	struct tu_http r;
	char *body;

	cr_assert(tu_http_request(port, "GET", "/metrics", NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.headers, "Content-Type: text/plain; version=0.0.4"), "%s", r.headers);
	body = r.body;
	r.body = NULL;
	tu_http_release(&r);
	return body;
}

/* The value of the sample whose line starts with `series` and a space; NAN when absent. */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return NAN;
}

static void get(const char *path, long want)
{
	struct tu_http r;

	cr_assert(tu_http_request(port, "GET", path, NULL, 0, NULL, &r));
	cr_assert_eq(r.status, want, "GET %s: %ld %s", path, r.status, r.body);
	tu_http_release(&r);
}

#define FARMS "method=\"GET\",route=\"/v1/farms\""

Test(metrics, counts_and_histograms_match_the_requests)
{
	static const char *const noauth[] = { "Authorization:", NULL };
	static const char *const les[] = { "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
					   "0.005",  "0.01",    "0.025",  "0.05",  "0.1",
					   "0.25",   "0.5",     "1",      "2.5",   "10", "+Inf" };
	char *m0 = scrape(), *m1, series[256];
	double prev = 0, before200 = value(m0, "windcast_http_requests_total{" FARMS ",status=\"200\"}");
	struct tu_http r;

	cr_assert(isnan(before200), "no GET /v1/farms yet: %s", "no series");
	for (int i = 0; i < 7; i++)
		get("/v1/farms", 200);
	for (int i = 0; i < 2; i++) {
		cr_assert(tu_http_request(port, "GET", "/v1/farms", NULL, 0, noauth, &r));
		cr_assert_eq(r.status, 401);
		tu_http_release(&r);
	}
	get("/v1/nothing", 404);
	get("/v1/farms?bogus=1", 400);
	m1 = scrape();
	cr_assert_eq(value(m1, "windcast_http_requests_total{" FARMS ",status=\"200\"}"), 7);
	cr_assert_eq(value(m1, "windcast_http_requests_total{" FARMS ",status=\"401\"}"), 2,
		     "a refusal counts under the route it matched");
	cr_assert_eq(value(m1, "windcast_http_requests_total{" FARMS ",status=\"400\"}"), 1);
	cr_assert_eq(value(m1, "windcast_http_requests_total{method=\"\",route=\"(none)\","
			       "status=\"404\"}"),
		     1);
	for (size_t i = 0; i < sizeof(les) / sizeof(les[0]); i++) {
		double v;

		snprintf(series, sizeof(series),
			 "windcast_http_request_duration_seconds_bucket{" FARMS ",le=\"%s\"}", les[i]);
		v = value(m1, series);
		cr_assert(!isnan(v), "%s", series);
		cr_assert_geq(v, prev, "buckets are cumulative: %s", series);
		prev = v;
	}
	cr_assert_eq(prev, 10, "+Inf = every GET /v1/farms (7 + 2 + 1)");
	cr_assert_eq(value(m1, "windcast_http_request_duration_seconds_count{" FARMS "}"), 10);
	cr_assert_gt(value(m1, "windcast_http_request_duration_seconds_sum{" FARMS "}"), 0);
	cr_assert_geq(value(m1, "windcast_http_connections_open"), 0);
	cr_assert_eq(value(m1, "windcast_jobs_queued"), 0);
	free(m0);
	free(m1);
}

Test(metrics, cache_and_job_counters)
{
	static const char *const nc[] = { "Content-Type: application/x-netcdf", NULL };
	struct tu_http r;
	char *m;

	for (int i = 0; i < 3; i++)
		metrics_count_cache(true);
	metrics_count_cache(false);
	metrics_count_job("train", "done", 2000000);
	/* a real job through the server: a damaged netCDF-3 header fails its ingest */
	cr_assert(tu_http_request(port, "POST", "/v1/grids?name=bad.nc", "CDF\001 damaged", (size_t)-1, nc,
				  &r));
	cr_assert_eq(r.status, 202, "%s", r.body);
	tu_http_release(&r);
	json_decref(tu_wait_job(port, "/v1/jobs/1"));
	usleep(50000);	/* the counter is taken after the job's record */
	m = scrape();
	cr_assert_eq(value(m, "windcast_held_body_requests_total{result=\"hit\"}"), 3);
	cr_assert_eq(value(m, "windcast_held_body_requests_total{result=\"miss\"}"), 1);
	cr_assert_eq(value(m, "windcast_jobs_total{kind=\"ingest\",outcome=\"failed\"}"), 1, "%s",
		     strstr(m, "windcast_jobs_total"));
	cr_assert_eq(value(m, "windcast_jobs_total{kind=\"ingest\",outcome=\"done\"}"), 0);
	cr_assert_eq(value(m, "windcast_jobs_total{kind=\"train\",outcome=\"done\"}"), 1);
	cr_assert_eq(value(m, "windcast_job_duration_seconds_bucket{kind=\"train\",le=\"0.0025\"}"),
		     1, "2 ms falls in the 2.5 ms bucket");
	cr_assert_eq(value(m, "windcast_job_duration_seconds_bucket{kind=\"train\",le=\"0.001\"}"),
		     0);
	free(m);
}

/* The scrape's windcast_adaptation_replay_requests_total is replay_cache_counts'. */
static void replay_counts_match(const char *m)
{
	uint64_t hit, miss;

	replay_cache_counts(&hit, &miss);
	cr_assert_eq(value(m, "windcast_adaptation_replay_requests_total{result=\"hit\"}"),
		     (double)hit, "%s", strstr(m, "windcast_adaptation"));
	cr_assert_eq(value(m, "windcast_adaptation_replay_requests_total{result=\"miss\"}"),
		     (double)miss);
	cr_assert_geq(hit + miss, 1, "a forecast of a model with adaptation looks its replay up");
}

Test(metrics_store, figures_forecast_time_and_ages, .timeout = 120)
{
	struct store_stats s;
	struct wc_error err = { 0 };
	struct stat sb;
	char *m, series[128], path[4200];
	double db = 0;

	st = fxr_store(&dir, 6, 1);
	serve_with(0);
	get("/v1/farms/alpha/forecast?issued=2026-01-05T05:00:00Z&horizon=6", 200);
	m = scrape();
	cr_assert_eq(value(m, "windcast_forecast_compute_seconds_count"), 1, "%s",
		     strstr(m, "windcast_forecast_compute"));
	/* the adaptation replay's lookups, as forecast/replay.h counts them (the server runs
	 * in this process; test_adapt_cache.c has the hits of a longer replay) */
	replay_counts_match(m);
	free(m);
	get("/v1/farms/alpha/forecast?issued=2026-01-06T17:00:00Z&horizon=6", 200);
	get("/v1/farms/alpha/forecast?issued=2026-01-07T05:00:00Z&horizon=6", 200);
	m = scrape();
	replay_counts_match(m);
	cr_assert_eq(store_stats(st, &s, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(s.nmodels, 1);
	snprintf(series, sizeof(series), "windcast_model_age_seconds{farm=\"alpha\",version=\"1\"}");
	cr_assert_leq(fabs(value(m, series) - (double)(utc_now() - s.models[0].created_at)), 2,
		      "%s", strstr(m, "windcast_model_age"));
	cr_assert_gt(s.latest_ref_time, 0);
	cr_assert_leq(fabs(value(m, "windcast_nwp_run_age_seconds") -
			   (double)(utc_now() - s.latest_ref_time)),
		      2);
	for (const char *suf = ""; suf; suf = !*suf ? "-wal" : !strcmp(suf, "-wal") ? "-shm" : NULL) {
		snprintf(path, sizeof(path), "%s/windcast.db%s", dir, suf);
		if (stat(path, &sb) == 0)
			db += (double)sb.st_size;
	}
	cr_assert_gt(db, 0);
	cr_assert_leq(fabs(value(m, "windcast_store_bytes{part=\"database\"}") - db), 1 << 20,
		      "the database's size, give or take what the scrape itself wrote");
	store_stats_release(&s);
	free(m);
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- the access log ---- */

/* The response's X-Request-Id into out. */
static void request_id(const char *headers, char *out, size_t cap)
{
	const char *p = strstr(headers, "X-Request-Id: ");

	cr_assert_not_null(p, "X-Request-Id in %s", headers);
	p += 14;
	snprintf(out, cap, "%.*s", (int)strcspn(p, "\r\n"), p);
}

Test(metrics, access_log_lines_carry_the_request_id)
{
	static const char *const given[] = { "X-Request-Id: desk-7.poll_42", NULL };
	static const char *const bad[] = { "X-Request-Id: has space", NULL };
	struct tu_http r;
	char id1[64], id2[64], id3[64], *text, *line, *save = NULL;
	int requests = 0, starts = 0, stops = 0;
	size_t csv_len;
	json_t *v;

	cr_assert(tu_http_request(port, "GET", "/v1/farms?format=csv", NULL, 0, NULL, &r));
	request_id(r.headers, id1, sizeof(id1));
	csv_len = r.len;
	cr_assert_eq(strlen(id1), 16, "a made id is 16 hex digits: %s", id1);
	tu_http_release(&r);
	cr_assert(tu_http_request(port, "GET", "/healthz", NULL, 0, given, &r));
	request_id(r.headers, id2, sizeof(id2));
	cr_assert_str_eq(id2, "desk-7.poll_42", "a fit client id carries through");
	tu_http_release(&r);
	cr_assert(tu_http_request(port, "GET", "/nope", NULL, 0, bad, &r));
	request_id(r.headers, id3, sizeof(id3));
	cr_assert_eq(strlen(id3), 16, "an unfit one is replaced: %s", id3);
	cr_assert_str_neq(id3, id1);
	tu_http_release(&r);
	server_stop(srv);	/* flushes the log */
	srv = NULL;
	text = tu_read_file(logpath, NULL);
	cr_assert_not_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *ev, *id;

		cr_assert_not_null(v = json_loads(line, 0, NULL), "not JSON: %s", line);
		cr_assert(json_is_string(json_object_get(v, "time")), "%s", line);
		ev = json_string_value(json_object_get(v, "event"));
		id = json_string_value(json_object_get(v, "id"));
		if (ev) {
			starts += !strcmp(ev, "start");
			stops += !strcmp(ev, "stop");
		} else if (!strcmp(id, id1)) {
			requests++;
			cr_assert_str_eq(json_string_value(json_object_get(v, "route")), "/v1/farms");
			cr_assert_str_eq(json_string_value(json_object_get(v, "path")),
					 "/v1/farms?format=csv");
			cr_assert_eq(json_integer_value(json_object_get(v, "status")), 200);
			cr_assert_eq(json_integer_value(json_object_get(v, "bytes")),
				     (json_int_t)csv_len, "%s", line);
			cr_assert_eq(json_integer_value(json_object_get(v, "token")), 1);
			cr_assert_str_eq(json_string_value(json_object_get(v, "client")), "127.0.0.1");
			cr_assert(json_real_value(json_object_get(v, "ms")) >= 0, "%s", line);
		} else if (!strcmp(id, id2)) {
			requests++;
			cr_assert_str_eq(json_string_value(json_object_get(v, "route")), "/healthz");
		} else if (!strcmp(id, id3)) {
			requests++;
			cr_assert_str_eq(json_string_value(json_object_get(v, "route")), "");
			cr_assert_eq(json_integer_value(json_object_get(v, "status")), 404);
		}
		json_decref(v);
	}
	cr_assert_eq(requests, 3);
	cr_assert_eq(starts, 1);
	cr_assert_eq(stops, 1);
	free(text);
}
