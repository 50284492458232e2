/*
 * test_adapt_cache.c - the adaptation's replayed points kept between forecasters
 * (forecast/replay.h): a forecast through the cache equals, to the bit, the one computed
 * with the cache off, over a sequence of issue times and after each kind of data change
 * (a run delivered late, an observation changed or added, the regional farm's power,
 * record or weather changed, a retrained model); with the checks switched off changes give
 * other forecasts (so these tests can fail); a small budget keeps the forecasts right.
 * And auto's stand-in (forecast.h): the second request reads what the first stored,
 * moving no generation.
 *
 * Data: test_adapt.c's fixture (acc_fill: farms "lost" and "steady", runs every 12 h,
 * 160 days), "lost" trained with "steady" as its regional farm.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/utc.h"
#include "data/store.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "forecast/model.h"
#include "forecast/replay.h"
#include "server/cache.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"

#define T0 1767225600		/* 2026-01-01T00:00:00Z, as acc_fill */
#define TRAIN_DAY 100
#define T1 (T0 + (int64_t)(TRAIN_DAY + 6) * UTC_DAY + 5 * UTC_HOUR)

void acc_fill(struct store *st);
struct store *fxr_store(char **dir, int days, int models);
void acc_train(struct store *st, const char *farm, int seed, int days, const char *regional);

/* Farm lost's model, "steady" its regional farm (its weather and power are inputs). */
static void train_lost(struct store *st, int seed)
{
	acc_train(st, "lost", seed, TRAIN_DAY, "steady");
}

/* Farm lost's forecast at T by model `version` (0: the newest), the cache as it is. */
static void issue(struct store *st, int64_t T, int version, struct forecast *x)
{
	struct forecast_options o;
	struct forecaster *fc;
	struct wc_error err = { 0 };

	forecast_options_init(&o);
	o.model = "nn";
	o.model_version = version;
	cr_assert_eq(forecaster_open(st, "lost", &o, T, T, &fc, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecaster_issue(fc, T, x, &err), WC_OK, "%s", err.msg);
	forecaster_free(fc);
	cr_assert(x->adapt.on && x->adapt.pairs > 100, "adapted, from many replayed hours");
}

/* The same replayed cold (the cache keeps what it holds). */
static void issue_cold(struct store *st, int64_t T, int version, struct forecast *x)
{
	replay_cache_set_mode(REPLAY_BYPASS);
	issue(st, T, version, x);
	replay_cache_set_mode(REPLAY_NORMAL);
}

static bool same(const struct forecast *a, const struct forecast *b)
{
	const struct adapt_report *p = &a->adapt, *q = &b->adapt;

	if (a->nlead != b->nlead || a->nq != b->nq || a->model_version != b->model_version ||
	    memcmp(a->q, b->q, (size_t)a->nlead * a->nq * sizeof(float)) ||
	    memcmp(a->point, b->point, (size_t)a->nlead * sizeof(float)) || p->on != q->on ||
	    p->since != q->since || p->as_of != q->as_of || p->pairs != q->pairs ||
	    p->size != q->size || p->nblocks != q->nblocks)
		return false;
	for (int k = 0; k < p->nblocks; k++)
		if (p->block[k].a != q->block[k].a || p->block[k].b != q->block[k].b ||
		    p->block[k].weight != q->block[k].weight)
			return false;
	return true;
}

/* Through the cache and cold at T: equal to the bit; returns how many hits it took. */
static uint64_t check_equal(struct store *st, int64_t T, int version, const char *what)
{
	struct forecast warm, cold;
	uint64_t h0, h1, m;
	char t[UTC_ISO_LEN];

	replay_cache_counts(&h0, &m);
	issue(st, T, version, &warm);
	replay_cache_counts(&h1, &m);
	issue_cold(st, T, version, &cold);
	cr_assert(same(&warm, &cold), "%s, at %s: the cache's forecast differs from the cold one",
		  what, utc_format(T, t));
	forecast_release(&warm);
	forecast_release(&cold);
	return h1 - h0;
}

static void set_obs(struct store *st, const char *farm, int64_t t, double mw)
{
	struct obs_row o = { .time = t, .power_mw = mw, .flag = OBS_OK };
	struct wc_error err = { 0 };

	cr_assert_eq(store_obs_upsert(st, farm, &o, 1, &err), WC_OK, "%s", err.msg);
}

/* A run of both farms with reference time ref (6 h off the fixture's 12 h grid), its
 * weather a calm 3 m/s so that the points read from it differ. */
static void add_run(struct store *st, int64_t ref, int id)
{
	const char *farms[2] = { "lost", "steady" };
	struct weather_row rows[2][49];
	struct farm_weather fw[2];
	struct nwp_run run = { .is_forecast = true, .ref_time = ref, .ntimes = 49,
			       .first_valid = ref, .last_valid = ref + 48 * UTC_HOUR };
	struct wc_error err = { 0 };
	char sha[65];

	for (int k = 0; k < 2; k++) {
		for (int h = 0; h <= 48; h++) {
			struct weather_row *x = &rows[k][h];

			x->valid_time = ref + (int64_t)h * UTC_HOUR;
			x->lead_h = h;
			for (int c = 0; c < WEATHER_NCOLS; c++)
				x->v[c] = NAN;
			x->v[WX_WS100] = x->v[WX_WS_HUB] = 3.0;
			x->v[WX_WS10] = 2.2;
			x->v[WX_WD100] = 90;
		}
		fw[k] = (struct farm_weather){ farms[k], rows[k], 49 };
	}
	snprintf(run.source, sizeof(run.source), "late run");
	snprintf(sha, sizeof(sha), "%064x", 0xabc000 + id);
	cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "late.nc", &run, fw, 2, &err),
		     WC_OK, "%s", err.msg);
}

/* Farm `id`'s weather re-extracted (store_farm_weather_replace), its speeds halved. */
struct rows_by_run {
	struct weather_row *rows;
	struct nwp_run *runs;
	size_t n, at;
};

static enum wc_status next_run(void *cls, struct run_weather *out, bool *done,
			       struct wc_error *err)
{
	struct rows_by_run *r = cls;
	size_t a = r->at;

	*done = a == r->n;
	while (r->at < r->n && r->runs[r->at].id == r->runs[a].id)
		r->at++;
	*out = (struct run_weather){ *done ? 0 : r->runs[a].id, r->rows + a, r->at - a };
	return WC_OK;
}

static void reextract_weather(struct store *st, const char *id)
{
	struct rows_by_run r = { 0 };
	struct wc_error err = { 0 };
	enum weather_replace outcome;
	int64_t newest;
	struct farm f;

	cr_assert_eq(store_farm_get(st, id, &f, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_weather_query(st, id, INT64_MIN, &r.rows, &r.runs, &r.n, &err), WC_OK,
		     "%s", err.msg);
	for (size_t i = 0; i < r.n; i++) {
		r.rows[i].v[WX_WS_HUB] *= 0.5;
		r.rows[i].v[WX_WS100] *= 0.5;
		r.rows[i].v[WX_WS10] *= 0.5;
	}
	cr_assert_eq(store_run_newest_id(st, &newest, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_weather_replace(st, &f, newest, next_run, &r, &outcome, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(outcome, WEATHER_REPLACED);
	free(r.rows);
	free(r.runs);
}

static struct store *fixture(char **dir)
{
	struct store *st;
	struct wc_error err = { 0 };

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, &st, &err), WC_OK, "%s", err.msg);
	acc_fill(st);
	train_lost(st, 1);
	replay_cache_clear();
	replay_cache_set_bytes(REPLAY_CACHE_BYTES);
	return st;
}

Test(adapt_cache, equals_cold_over_issue_times_and_after_each_data_change, .timeout = 300)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct farm g;
	struct wc_error err = { 0 };
	/* later, later by a day, back by two days (inside what is kept), forward again */
	static const int64_t step_h[] = { 0, 1, 3, 12, 24, -48, 7, 30 };
	int64_t T = T1;
	uint64_t hits = 0;

	for (size_t i = 0; i < sizeof(step_h) / sizeof(step_h[0]); i++) {
		T += step_h[i] * UTC_HOUR;
		hits += check_equal(st, T, 0, "a sequence of issue times");
	}
	cr_assert_geq(hits, 6, "the kept points serve the later issue times (%llu hits)",
		      (unsigned long long)hits);

	/* a run delivered late, 30 h before T: a new replay time, new points after it */
	add_run(st, T - 30 * UTC_HOUR - 5 * UTC_HOUR + 6 * UTC_HOUR, 1);
	check_equal(st, T, 0, "a run delivered late");
	/* an observation changed 41 h before T (a delivery's hour: the lags of the points
	 * issued then and after) */
	set_obs(st, "lost", T - 41 * UTC_HOUR, 97);
	check_equal(st, T, 0, "an observation changed");
	/* a new observation, and the issue time after it */
	set_obs(st, "lost", T + UTC_HOUR, 55);
	check_equal(st, T + UTC_HOUR, 0, "a new observation");
	/* the regional farm's power at a delivery's hour (its obs_lag0 input) */
	set_obs(st, "steady", T - 17 * UTC_HOUR, 99);
	check_equal(st, T, 0, "the regional farm's observation");
	/* the regional farm's record: capacity halved, every fraction of it doubles */
	cr_assert_eq(store_farm_get(st, "steady", &g, &err), WC_OK, "%s", err.msg);
	g.capacity_mw /= 2;
	cr_assert_eq(store_farms_write(st, &g, 1, true, NULL, &err), WC_OK, "%s", err.msg);
	check_equal(st, T, 0, "the regional farm changed");
	/* the regional farm's weather extracted again (another grid reading) */
	reextract_weather(st, "steady");
	check_equal(st, T, 0, "the regional farm's weather re-extracted");
	/* retrained: version 2 is another model; version 1 is still served right */
	train_lost(st, 2);
	check_equal(st, T, 0, "a retrained model");
	check_equal(st, T, 1, "the earlier model after a retrain");
	cr_assert_geq(check_equal(st, T, 2, "the retrained model again"), 1);

	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * The checks matter: with them off, the kept points of before each change serve and the
 * forecast differs from the cold one (so the test above would fail if stale points were
 * used); with them on, it is the cold one again.
 */
Test(adapt_cache, stale_points_would_change_the_forecast, .timeout = 300)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct forecast stale, cold;
	struct {
		const char *what;
	} change[] = { { "a run delivered late" },
		       { "an observation changed" },
		       { "the regional farm's weather re-extracted" } };

	for (size_t i = 0; i < sizeof(change) / sizeof(change[0]); i++) {
		check_equal(st, T1, 0, "before the change");	/* kept now */
		if (i == 0)
			add_run(st, T1 - 27 * UTC_HOUR, 2);
		else if (i == 1)
			set_obs(st, "lost", T1 - 30 * UTC_HOUR, 99);
		else
			reextract_weather(st, "steady");
		replay_cache_set_mode(REPLAY_UNCHECKED);
		issue(st, T1, 0, &stale);
		replay_cache_set_mode(REPLAY_NORMAL);
		issue_cold(st, T1, 0, &cold);
		cr_assert(!same(&stale, &cold), "%s: the points kept before it are stale",
			  change[i].what);
		forecast_release(&stale);
		forecast_release(&cold);
		/* the unchecked forecaster kept nothing new: check again from a clean state */
		replay_cache_clear();
		check_equal(st, T1, 0, change[i].what);
		check_equal(st, T1, 0, change[i].what);
	}
	store_close(st);
	tu_rmrf_free(dir);
}

/* A budget of a few kilobytes: entries go (oldest first), forecasts stay right. */
Test(adapt_cache, a_small_budget_keeps_forecasts_right, .timeout = 300)
{
	char *dir;
	struct store *st = fixture(&dir);

	replay_cache_set_bytes(8 << 10);
	for (int i = 0; i < 6; i++)
		check_equal(st, T1 + (int64_t)i * 5 * UTC_HOUR, 0, "an 8 KB budget");
	replay_cache_set_bytes(REPLAY_CACHE_BYTES);
	store_close(st);
	tu_rmrf_free(dir);
}

/* Threads forecasting at once through one cache (a server's): each answer is the cold one. */
#define NTHREADS 4
#define PER_THREAD 6

struct worker {
	struct store *st;
	int id;
	const struct forecast *cold;	/* (NTHREADS * PER_THREAD) */
	int wrong;
};

static int64_t worker_T(int i)
{
	return T1 + (int64_t)(i % 9) * 5 * UTC_HOUR;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int k = 0; k < PER_THREAD; k++) {
		int i = w->id * PER_THREAD + k;
		struct forecast x;
		struct forecast_options o;
		struct forecaster *fc;
		struct wc_error err = { 0 };

		forecast_options_init(&o);
		o.model = "nn";
		if (forecaster_open(w->st, "lost", &o, worker_T(i), worker_T(i), &fc, &err) ||
		    forecaster_issue(fc, worker_T(i), &x, &err)) {
			w->wrong++;
			forecaster_free(fc);
			continue;
		}
		forecaster_free(fc);
		w->wrong += !same(&x, &w->cold[i]);
		forecast_release(&x);
	}
	return NULL;
}

/* GET /metrics's exposition shows these replay lookups (server/metrics.c). */
static void replay_counts_exposed(uint64_t hits, uint64_t misses)
{
	struct dynbuf b;
	struct wc_error err = { 0 };
	char want[160];

	dynbuf_init(&b, 1 << 20);
	cr_assert_eq(metrics_render(NULL, NULL, &b, &err), WC_OK, "%s", err.msg);
	snprintf(want, sizeof(want),
		 "\nwindcast_adaptation_replay_requests_total{result=\"hit\"} %llu\n"
		 "windcast_adaptation_replay_requests_total{result=\"miss\"} %llu\n",
		 (unsigned long long)hits, (unsigned long long)misses);
	cr_assert(strstr(dynbuf_str(&b), want), "want %s in\n%s", want, dynbuf_str(&b));
	dynbuf_release(&b);
}

Test(adapt_cache, threads_at_once_get_the_cold_answers, .timeout = 300)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct forecast cold[NTHREADS * PER_THREAD];
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	uint64_t hits, misses;

	for (int i = 0; i < NTHREADS * PER_THREAD; i++)
		issue_cold(st, worker_T(i), 0, &cold[i]);
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){ .st = st, .id = t, .cold = cold };
		cr_assert_eq(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		cr_assert_eq(w[t].wrong, 0, "thread %d: %d answers differ from the cold ones", t,
			     w[t].wrong);
	}
	replay_cache_counts(&hits, &misses);
	cr_assert_gt(hits, 0);
	replay_counts_exposed(hits, misses);
	for (int i = 0; i < NTHREADS * PER_THREAD; i++)
		forecast_release(&cold[i]);
	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * auto's stand-in: farm steady has no model, and at T the NWP runs have ended, so the
 * farm's curve (auto's first choice) has no inputs and another baseline stands in. The
 * first request computes and stores it; the second reads it (stored) and writes nothing,
 * so the farm's generation stays: before, it was read under the first choice's key but
 * stored under the stand-in's, computed again and replaced on every request.
 */
Test(adapt_cache, auto_standin_is_read_back_without_moving_the_farm)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	struct forecast_request r;
	struct forecast a, b;
	uint64_t g1, g2;
	char key[48];

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	acc_fill(st);
	forecast_request_init(&r);
	r.issued = T0 + (int64_t)163 * UTC_DAY;
	cr_assert_eq(forecast_get_or_issue(st, "steady", &r, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_str_neq(a.model, "powercurve");
	cr_assert(a.fallback[0], "a stand-in says why");
	cr_assert(a.stored);
	forecast_model_key(&a, key, sizeof(key));
	cr_assert_str_eq(key, "auto:powercurve", "kept under auto's first choice");
	cr_assert_eq(store_gen_get(st, "farm:steady", &g1, &err), WC_OK, "%s", err.msg);

	r.store = false;	/* stored true only when read from the store */
	cr_assert_eq(forecast_get_or_issue(st, "steady", &r, &b, &err), WC_OK, "%s", err.msg);
	cr_assert(b.stored, "the second request reads what the first stored");
	cr_assert_str_eq(b.model, a.model);
	cr_assert_str_eq(b.fallback, a.fallback);
	cr_assert_eq(memcmp(b.q, a.q, (size_t)a.nlead * a.nq * sizeof(float)), 0);
	cr_assert_eq(store_gen_get(st, "farm:steady", &g2, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(g2, g1, "the farm's generation did not move");
	forecast_release(&b);

	/* asked for by name, the stand-in's model is its own forecast, not the stand-in */
	r.o.model = a.model;
	cr_assert_eq(forecast_get_or_issue(st, "steady", &r, &b, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(b.fallback, "");
	forecast_release(&b);
	forecast_release(&a);
	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * The same through the server: GET the stand-in as JSON, then as CSV (a second
 * computation of the same forecast), then JSON again. The CSV's reads the stored
 * stand-in, so the farm's generation does not move and the JSON reply stays held; before,
 * it computed and replaced the stored forecast, which moved the farm and dropped it.
 */
Test(adapt_cache, standin_reply_stays_held_in_the_server, .timeout = 120)
{
	/* the fixture's 6 days of runs from 2026-01-01 end before this issue time */
	const char *path = "/v1/farms/alpha/forecast?issued=2026-01-10T00:00:00Z";
	const char *key = "forecast/alpha/json/20:2026-01-10T00:00:00Z/0:/0:/0:/0:/0:/0:/0:";
	const char *csv[] = { "Accept: text/csv", NULL };
	struct server_config cfg;
	struct server *srv;
	struct tu_http r;
	struct wc_error err = { 0 };
	uint64_t g1, g2;
	char *d;
	struct store *st = fxr_store(&d, 6, 0);
	json_t *v;

	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(st);
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	cr_assert(tu_http_request(server_port(srv), "GET", path, NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_not_null(v = json_loads(r.body, 0, NULL));
	cr_assert(json_is_string(json_object_get(v, "fallback")), "a stand-in: %s", r.body);
	json_decref(v);
	tu_http_release(&r);
	cr_assert(cache_holds(server_cache(srv), key), "the JSON reply is held");
	cr_assert_eq(store_gen_get(st, "farm:alpha", &g1, &err), WC_OK, "%s", err.msg);

	cr_assert(tu_http_request(server_port(srv), "GET", path, NULL, 0, csv, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(store_gen_get(st, "farm:alpha", &g2, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(g2, g1, "the CSV's computation moved the farm's generation");
	cr_assert(tu_http_request(server_port(srv), "GET", path, NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	tu_http_release(&r);
	cr_assert(cache_holds(server_cache(srv), key), "the JSON reply is still held");
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(d);
}
