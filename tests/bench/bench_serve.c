/*
 * bench_serve.c - the compute path of GET /v1/farms/{id}/forecast (issue 14): what a
 * request costs when nothing is held, against the target of 5 ms for a 36-hour forecast
 * of one farm, and its parts; then the stored and the held paths beside it. Not a test:
 * it prints figures and never fails on timing.
 *
 * Data: the demo's (3 synthetic farms, 120 days of runs and metered output, seed 1),
 * generated, ingested and trained here into a temporary store; farm north-sea-1's model
 * takes the other farms as regional inputs, as `make demo` trains it.
 *   compute   forecast_get_or_issue with nothing stored (store off), then the JSON body
 *             serialised: what a request that must compute does
 *     open      forecaster_open: farm record, model file, auto's choice, issue time
 *     issue     forecaster_issue: the series for the issue time, features, the network,
 *               the adaptation's replay (its points kept from the last one: forecast/replay.h)
 *     issue_cold  the same with the replay's points not kept (REPLAY_BYPASS), as before
 *               they were (ITER / 4 iterations)
 *     json      forecast_json + json_dumps of the 36 leads
 *     latest_data what the default issue time reads: the newest run, the latest observation
 *     model_load  farm_model_load: the model file read, checked and decoded
 *   stored    the same request when the store holds the forecast (a read and a parse)
 *   held      cache_get of the held body (a generation poll and a lookup)
 *   commit    GET /v1/farms/{id}/commitments?day=D nothing held or stored: commit_get
 *             (the farm's stored market settings, the forecast at D's gate closure, the
 *             schedule) and its JSON body; D the day before the latest forecast's
 *   portfolio GET /v1/portfolios/{id}/forecast nothing held or stored, for a portfolio of
 *             the 3 farms: portfolio_forecast_get and its JSON body (PITER times)
 * Each is run ITER times after a warm-up; p50 and p99 in ms (held: us).
 * BENCH_SERVE_STORE=DIR builds the store there once and reuses it afterwards (to
 * profile the measured part alone); a reused store's stored forecasts are deleted first,
 * or the compute path would read the ones the last run stored (as "stored" does).
 */
#include <glob.h>
#include <jansson.h>
#include <sqlite3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "data/ingest.h"
#include "data/store.h"
#include "data/synth.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "forecast/model.h"
#include "forecast/replay.h"
#include "server/cache.h"
#include "trading/commit.h"
#include "trading/portfolio.h"

#define ITER 200
#define PITER 20
#define DAYS 120
#define FARM "north-sea-1"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[(int)(p * (n - 1) + 0.5)];
}

static void die(const char *what, const struct wc_error *err)
{
	fprintf(stderr, "bench_serve: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

/* The demo's store in dir: farms, runs, observations, north-sea-1 trained. */
static struct store *build(const char *dir)
{
	struct synth_config cfg;
	struct synth_summary sum;
	struct synth *s;
	struct store *st;
	struct wc_error err = { 0 };
	struct train_options o;
	struct farm_model *m;
	glob_t runs;
	char in[4200], path[4300];

	synth_config_init(&cfg);
	cfg.days = DAYS;
	cfg.nfarms = 3;
	cfg.seed = 1;
	snprintf(in, sizeof(in), "%s/input", dir);
	if (synth_new(&cfg, &s, &err) || synth_write_all(s, in, &sum, &err))
		die("cannot generate the demo data", &err);
	if (store_open(dir, &st, &err))
		die("cannot open the store", &err);
	for (int i = 0; i < cfg.nfarms; i++) {
		const struct synth_farm *sf = synth_farm(s, i);
		struct farm f = { .lat = sf->lat, .lon = sf->lon, .capacity_mw = sf->capacity_mw,
				  .hub_height_m = sf->hub_height_m };
		struct synth_obs *so;
		struct obs_row *rows;
		size_t n;

		snprintf(f.id, sizeof(f.id), "%s", sf->id);
		snprintf(f.name, sizeof(f.name), "%s", sf->name);
		if (store_farm_add(st, &f, &err) || synth_observations(s, i, &so, &n, &err))
			die("cannot register the farms", &err);
		if (!(rows = calloc(n, sizeof(*rows))))
			die("out of memory", NULL);
		for (size_t k = 0; k < n; k++)
			rows[k] = (struct obs_row){ so[k].time, so[k].power_mw,
						    (enum obs_flag)so[k].flag };
		if (store_obs_upsert(st, f.id, rows, n, &err))
			die("cannot store the observations", &err);
		free(rows);
		free(so);
	}
	snprintf(path, sizeof(path), "%s/nwp/*.nc", in);
	if (glob(path, 0, NULL, &runs) != 0)
		die("no NWP runs generated", NULL);
	for (size_t r = 0; r < runs.gl_pathc; r++) {
		struct ingest_result res;

		if (ingest_file(st, runs.gl_pathv[r], NULL, &res) != WC_OK)
			die(runs.gl_pathv[r], &res.error);
		ingest_result_release(&res);
	}
	globfree(&runs);
	train_options_init(&o);
	if (feature_config_set_regional(&o.features, st, FARM, "all", &err) ||
	    farm_model_train(st, FARM, &o, &m, &err) || farm_model_save(st, m, &err))
		die("cannot train", &err);
	farm_model_free(m);
	synth_free(s);
	return st;
}

/* The body of v as a reply serialises it (then dropped); v released. */
/*
 * Delete the forecasts an earlier run stored in DIR's store: "compute" must compute. The
 * store has no such write (a stored forecast is replaced, never removed), so SQL here.
 */
static void forget_stored(const char *dir)
{
	char path[4096];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "DELETE FROM forecasts", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_serve: cannot delete the stored forecasts of '%s': %s\n",
			path, db ? sqlite3_errmsg(db) : "out of memory");
		exit(1);
	}
	sqlite3_close(db);
}

static void serialise(json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));

	if (!text)
		die("cannot serialise a reply", NULL);
	free(text);
	json_decref(v);
}

/*
 * The trading replies' compute paths: FARM's schedule for the day before the latest
 * forecast's (ms into commit[ITER]) and the latest forecast of a portfolio of the three
 * farms (pfc[PITER]), nothing stored.
 */
static void bench_trading(struct store *st, int64_t latest, double *commit, double *pfc)
{
	struct wc_error err = { 0 };
	struct market_settings m;
	struct commit_request cr;
	struct forecast_request r;
	struct portfolio p;
	struct farm *farms;
	char list[1024];
	size_t n;

	market_init(&m);
	m.price = 50;
	m.psi_plus = 10;
	m.psi_minus = 30;
	if (store_farm_market_put(st, FARM, &m, &err))
		die("cannot set the market settings", &err);
	commit_request_init(&cr);
	cr.id = FARM;
	cr.day = latest / 86400 - 1;
	cr.fr.store = false;
	for (int i = -2; i < ITER; i++) {
		struct schedule s;
		double t0 = now();

		if (commit_get(st, &cr, &s, &err))
			die("cannot compute the schedule", &err);
		serialise(schedule_json(&s));
		schedule_release(&s);
		if (i >= 0)
			commit[i] = (now() - t0) * 1e3;
	}

	if (store_farm_list(st, &farms, &n, &err))
		die("cannot list the farms", &err);
	list[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
			 farms[i].id);
	free(farms);
	portfolio_init(&p);
	snprintf(p.id, sizeof(p.id), "bench");
	snprintf(p.name, sizeof(p.name), "bench");
	if (portfolio_set_farms(&p, list, &err) || store_portfolio_put(st, &p, NULL, &err))
		die("cannot add the portfolio", &err);
	forecast_request_init(&r);
	r.store = false;
	for (int i = -1; i < PITER; i++) {
		struct pforecast pf;
		double t0 = now();

		if (portfolio_forecast_get(st, "bench", &r, &pf, &err))
			die("cannot compute the portfolio's forecast", &err);
		serialise(pforecast_json(&pf, r.levels, r.nlevels, r.o.horizon));
		pforecast_release(&pf);
		if (i >= 0)
			pfc[i] = (now() - t0) * 1e3;
	}
}

int main(void)
{
	char tmpl[] = "/tmp/windcast-bench-serve-XXXXXX", *dir = mkdtemp(tmpl), cmd[256];
	double compute[ITER], open_ms[ITER], issue_ms[ITER], json_ms[ITER], stored[ITER];
	double held[ITER * 10], latest_ms[ITER], model_ms[ITER], commit[ITER], pfc[PITER];
	double cold_ms[ITER / 4];
	int64_t latest = 0;
	struct wc_error err = { 0 };
	struct forecast_request r;
	struct store *st;
	struct cache *c;
	struct cache_stamp stamp;
	struct held_body *b;
	size_t body_len = 0;
	int nlead = 0;

	const char *keep = getenv("BENCH_SERVE_STORE");

	if (!dir)
		die("cannot make a temporary directory", NULL);
	log_set_level(LOG_WARN);
	if (keep && *keep && access(keep, F_OK) == 0) {
		/* BENCH_SERVE_STORE=DIR: a store built by an earlier run (profiling) */
		forget_stored(keep);
		if (store_open(keep, &st, &err))
			die(keep, &err);
	} else {
		printf("building the demo store (%d days, 3 farms, %s trained) in %s\n", DAYS,
		       FARM, keep && *keep ? keep : dir);
		fflush(stdout);
		st = build(keep && *keep ? keep : dir);
	}
	forecast_request_init(&r);
	r.store = false;	/* every iteration computes */

	for (int i = -5; i < ITER; i++) {
		struct forecaster *fcr;
		struct forecast fc;
		double t0 = now(), t1, t2, t3, t4;
		json_t *v;
		char *text;

		if (forecast_get_or_issue(st, FARM, &r, &fc, &err))
			die("cannot forecast", &err);
		t1 = now();
		v = forecast_json(&fc, r.levels, r.nlevels, r.o.horizon);
		text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		t2 = now();
		nlead = fc.nlead;
		latest = fc.issued;
		body_len = strlen(text);
		free(text);
		json_decref(v);
		forecast_release(&fc);
		/* the parts, apart */
		if (forecaster_open(st, FARM, &r.o, INT64_MIN, INT64_MIN, &fcr, &err))
			die("cannot open the forecaster", &err);
		t3 = now();
		if (forecaster_issue(fcr, forecaster_first(fcr), &fc, &err))
			die("cannot issue", &err);
		t4 = now();
		forecast_release(&fc);
		forecaster_free(fcr);
		if (i < 0)
			continue;
		compute[i] = (t2 - t0) * 1e3;
		json_ms[i] = (t2 - t1) * 1e3;
		open_ms[i] = (t3 - t2) * 1e3;
		issue_ms[i] = (t4 - t3) * 1e3;
	}

	/* the issue path replaying all of the adaptation's issue times, as before they were
	 * kept */
	replay_cache_set_mode(REPLAY_BYPASS);
	for (int i = -1; i < ITER / 4; i++) {
		struct forecaster *fcr;
		struct forecast fc;
		double t0;

		if (forecaster_open(st, FARM, &r.o, INT64_MIN, INT64_MIN, &fcr, &err))
			die("cannot open the forecaster", &err);
		t0 = now();
		if (forecaster_issue(fcr, forecaster_first(fcr), &fc, &err))
			die("cannot issue", &err);
		if (i >= 0)
			cold_ms[i] = (now() - t0) * 1e3;
		forecast_release(&fc);
		forecaster_free(fcr);
	}
	replay_cache_set_mode(REPLAY_NORMAL);

	/* pieces of open and issue that grow with the store or the model */
	for (int i = -1; i < ITER; i++) {
		struct farm_model *m;
		int64_t last, ref;
		bool any, any_obs;
		double t0 = now(), t1, t2;

		if (store_run_newest(st, &ref, &any, &err))
			die("cannot read the newest run", &err);
		if (store_obs_last(st, FARM, &any_obs, &last, &err))
			die("cannot read the latest observation", &err);
		t1 = now();
		if (farm_model_load(st, FARM, 0, &m, &err))
			die("cannot load the model", &err);
		farm_model_free(m);
		t2 = now();
		if (i < 0)
			continue;
		latest_ms[i] = (t1 - t0) * 1e3;
		model_ms[i] = (t2 - t1) * 1e3;
	}

	r.store = true;
	for (int i = -1; i < ITER; i++) {
		struct forecast fc;
		double t0 = now();
		json_t *v;
		char *text;

		if (forecast_get_or_issue(st, FARM, &r, &fc, &err))
			die("cannot forecast", &err);
		if (i >= 0 && !fc.stored)
			die("the forecast was not read from the store", NULL);
		v = forecast_json(&fc, r.levels, r.nlevels, r.o.horizon);
		text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		if (i >= 0)
			stored[i] = (now() - t0) * 1e3;
		free(text);
		json_decref(v);
		forecast_release(&fc);
	}

	if (cache_new(st, 64 << 20, &c, &err))
		die("cannot make the cache", &err);
	cache_get(c, "k", &stamp);
	b = held_body_new(200, "application/json", "{}", 2, NULL, 0);
	{
		const char *subjects[] = { "farm:" FARM, "nwp" };

		cache_put(c, "k", b, &stamp, subjects, 2, 0);
	}
	held_body_unref(b);
	for (int i = 0; i < ITER * 10; i++) {
		double t0 = now();

		if (!(b = cache_get(c, "k", &stamp)))
			die("the body is not held", NULL);
		held[i] = (now() - t0) * 1e6;
		held_body_unref(b);
	}
	cache_free(c);

	bench_trading(st, latest, commit, pfc);

	printf("forecast of %s: %d leads, JSON body %zu bytes, %d iterations each\n", FARM, nlead,
	       body_len, ITER);
	printf("forecast_compute_ms_p50=%.3f\n", pct(compute, ITER, 0.5));
	printf("forecast_compute_ms_p99=%.3f\n", pct(compute, ITER, 0.99));
	printf("forecast_compute_target_ms=5\n");
	printf("forecast_open_ms_p50=%.3f\n", pct(open_ms, ITER, 0.5));
	printf("forecast_issue_ms_p50=%.3f\n", pct(issue_ms, ITER, 0.5));
	printf("forecast_issue_ms_p99=%.3f\n", pct(issue_ms, ITER, 0.99));
	printf("forecast_issue_cold_ms_p50=%.3f\n", pct(cold_ms, ITER / 4, 0.5));
	printf("forecast_json_ms_p50=%.3f\n", pct(json_ms, ITER, 0.5));
	printf("forecast_latest_data_ms_p50=%.3f\n", pct(latest_ms, ITER, 0.5));
	printf("forecast_model_load_ms_p50=%.3f\n", pct(model_ms, ITER, 0.5));
	printf("forecast_stored_ms_p50=%.3f\n", pct(stored, ITER, 0.5));
	printf("forecast_stored_ms_p99=%.3f\n", pct(stored, ITER, 0.99));
	printf("forecast_held_get_us_p50=%.3f\n", pct(held, ITER * 10, 0.5));
	printf("forecast_held_get_us_p99=%.3f\n", pct(held, ITER * 10, 0.99));
	printf("commit_compute_ms_p50=%.3f\n", pct(commit, ITER, 0.5));
	printf("commit_compute_ms_p99=%.3f\n", pct(commit, ITER, 0.99));
	printf("portfolio_compute_ms_p50=%.3f\n", pct(pfc, PITER, 0.5));
	printf("portfolio_compute_ms_p99=%.3f\n", pct(pfc, PITER, 0.99));
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_serve: cannot remove '%s'\n", dir);
	return 0;
}
