/*
 * test_forecast.c - issue-time forecasts: the leakage proof (every stored value later
 * than T changed, the forecast at T unchanged to the bit, training included), JSON and
 * CSV shapes, fallbacks, stored forecasts, and a small end-to-end run on demo data
 * through the CLI and the in-process HTTP API.
 *
 * The fixture (fx_fill, shared with test_features.c and test_baselines.c) writes runs
 * and observations straight through the store API: a closed-form "true" wind, runs every
 * 12 h whose error grows with lead, and power from a known curve.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/baselines.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "forecast/metrics.h"
#include "forecast/model.h"
#include "forecast/modelfile.h"
#include "server/server.h"
#include "testutil.h"

/* ---- fixture ---- */

#define FX_T0 1767225600	/* 2026-01-01T00:00:00Z */

double fx_truth(int64_t t);
double fx_curve(double ws);
void fx_farms(struct store *st);
void fx_fill(struct store *st, int days, int64_t cut, double bump);

double fx_truth(int64_t t)
{
	double x = (double)(t - FX_T0);

	return 8 + 5 * sin(2 * M_PI * x / 259200.0) + 2 * sin(2 * M_PI * x / 61200.0);
}

double fx_curve(double ws)
{
	if (ws < 3)
		return 0;
	if (ws > 12)
		return 1;
	return (ws - 3) * (ws - 3) / 81.0;
}

void fx_farms(struct store *st)
{
	struct farm f[2] = {
		{ .id = "alpha", .name = "Alpha", .lat = 55.0, .lon = 8.0, .capacity_mw = 100,
		  .hub_height_m = 100 },
		{ .id = "beta", .name = "Beta", .lat = 55.5, .lon = 8.5, .capacity_mw = 50,
		  .hub_height_m = NAN },
	};
	struct wc_error err = { 0 };

	cr_assert_eq(store_farm_import(st, f, 2, false, &err), WC_OK, "%s", err.msg);
}

/*
 * Runs every 12 h from FX_T0 for `days` days (leads 0..48) and hourly observations of
 * both farms. Values of runs delivered after `cut` (ref > cut - 5 h) and observations
 * after `cut` are changed by `bump` (0: the base data set).
 */
void fx_fill(struct store *st, int days, int64_t cut, double bump)
{
	struct wc_error err = { 0 };
	struct weather_row rows[49];
	const char *ids[2] = { "alpha", "beta" };

	for (int r = 0; r < days * 2; r++) {
		int64_t ref = FX_T0 + (int64_t)r * 43200;
		bool late = ref > cut - FEAT_DEFAULT_DELAY_S;
		struct farm_weather fw[2];
		struct nwp_run run = { .is_forecast = true, .ref_time = ref, .ntimes = 49 };
		char sha[65];

		for (int h = 0; h <= 48; h++) {
			int64_t v = ref + (int64_t)h * 3600;
			double ws = fx_truth(v) + 0.04 * h * sin((double)ref / 70000.0) +
				    (late ? bump * 10 : 0);
			struct weather_row *w = &rows[h];

			w->valid_time = v;
			w->lead_h = h;
			for (int c = 0; c < WEATHER_NCOLS; c++)
				w->v[c] = NAN;
			w->v[WX_WS100] = w->v[WX_WS_HUB] = ws;
			w->v[WX_WS10] = 0.75 * ws;
			w->v[WX_WD100] = fmod(200 + 40 * sin((double)v / 90000.0), 360);
			w->v[WX_WD10] = fmod(w->v[WX_WD100] + 10, 360);
			w->v[WX_RHO] = 1.22 + 0.01 * sin((double)v / 50000.0);
			w->v[WX_WS100_NBR_MEAN] = ws * 1.01;
			w->v[WX_WS100_NBR_STD] = 0.3;
		}
		snprintf(run.source, sizeof(run.source), "fixture");
		run.first_valid = ref;
		run.last_valid = ref + 48 * 3600;
		snprintf(sha, sizeof(sha), "%016llx%016llx%016llx%016llx", (unsigned long long)r,
			 (unsigned long long)ref, 0x5eedULL, (unsigned long long)(bump * 1000));
		fw[0] = (struct farm_weather){ ids[0], rows, 49 };
		fw[1] = (struct farm_weather){ ids[1], rows, 49 };
		cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "fixture.nc", &run, fw, 2,
					      &err),
			     WC_OK, "%s", err.msg);
	}
	for (int k = 0; k < 2; k++) {
		size_t n = (size_t)days * 24;
		struct obs_row *o = calloc(n, sizeof(*o));
		double cap = k ? 50 : 100;

		for (size_t i = 0; i < n; i++) {
			int64_t t = FX_T0 + (int64_t)(i + 1) * 3600;
			double p = fx_curve(fx_truth(t)) + (t > cut ? bump : 0);

			o[i].time = t;
			o[i].power_mw = cap * (p > 1 ? 1 : p);
			o[i].flag = i % 97 == 50 ? OBS_OUTAGE : OBS_OK;
		}
		cr_assert_eq(store_obs_upsert(st, ids[k], o, n, &err), WC_OK, "%s", err.msg);
		free(o);
	}
}

static struct store *open_store(char **dir)
{
	struct store *st;
	struct wc_error err = { 0 };

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, &st, &err), WC_OK, "%s", err.msg);
	fx_farms(st);
	return st;
}

static void tiny_train_options(struct train_options *o)
{
	train_options_init(o);
	o->nn.n_hidden = 1;
	o->nn.hidden[0] = 8;
	o->nn.epochs = 4;
	o->nn.n_members = 2;
	o->features.max_lead = 12;
}

/* Issue at T from a forecaster prepared for issue times T..last (its series hold data up
 * to last, as a batch over many issue times has). */
static void issue_loaded_to(struct store *st, const char *farm, const char *model, int64_t T,
			    int64_t last, int horizon, struct forecast *out)
{
	struct forecast_options o;
	struct forecaster *fcr;
	struct wc_error err = { 0 };

	forecast_options_init(&o);
	o.model = model;
	o.horizon = horizon;
	cr_assert_eq(forecaster_open(st, farm, &o, T, last, &fcr, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecaster_issue(fcr, T, out, &err), WC_OK, "%s: %s", model, err.msg);
	forecaster_free(fcr);
}

static void issue(struct store *st, const char *farm, const char *model, int64_t T,
		  int horizon, struct forecast *out)
{
	issue_loaded_to(st, farm, model, T, T, horizon, out);
}

TestSuite(forecast_leakage, .timeout = 120);

/*
 * Two stores equal up to T; in B every observation after T and every run delivered after
 * T is changed. Training with --to T and forecasting at T must give the same bits in
 * both, for the model and every baseline, also from a forecaster whose series were
 * loaded two days past T; a later issue time must differ (the change is real).
 */
Test(forecast_leakage, nothing_after_T_changes_a_bit)
{
	const int64_t T = FX_T0 + 10 * 86400 + 5 * 3600;	/* the 00 UTC run is just in */
	const char *models[] = { "nn", "persistence", "climatology", "powercurve" };
	char *da, *db;
	struct store *a = open_store(&da), *b = open_store(&db);
	struct train_options o;
	struct farm_model *ma, *mb;
	struct wc_error err = { 0 };

	fx_fill(a, 14, T, 0);
	fx_fill(b, 14, T, 0.3);
	tiny_train_options(&o);
	o.to = T;
	cr_assert_eq(feature_config_set_regional(&o.features, a, "alpha", "all", &err), WC_OK);
	cr_assert_eq(farm_model_train(a, "alpha", &o, &ma, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_train(b, "alpha", &o, &mb, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(ma->n_rows, mb->n_rows);
	cr_assert_eq(ma->nn->member[0].n_params, mb->nn->member[0].n_params);
	cr_assert_eq(memcmp(ma->nn->member[0].params, mb->nn->member[0].params,
			    ma->nn->member[0].n_params * sizeof(float)),
		     0, "training read data later than --to");
	cr_assert_eq(farm_model_save(a, ma, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_save(b, mb, &err), WC_OK, "%s", err.msg);
	farm_model_free(ma);
	farm_model_free(mb);

	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		struct forecast fa, fb;

		issue_loaded_to(a, "alpha", models[m], T, T + 2 * 86400, 12, &fa);
		issue_loaded_to(b, "alpha", models[m], T, T + 2 * 86400, 12, &fb);
		cr_assert_eq(fa.nlead, fb.nlead, "%s", models[m]);
		cr_assert_eq(fa.nq, fb.nq);
		cr_assert_gt(fa.nlead, 0);
		cr_assert_eq(memcmp(fa.q, fb.q, (size_t)fa.nlead * fa.nq * sizeof(float)), 0,
			     "%s forecast at T changed with data after T", models[m]);
		cr_assert_eq(memcmp(fa.point, fb.point, (size_t)fa.nlead * sizeof(float)), 0);
		cr_assert_eq(fa.run_ref_time, fb.run_ref_time);
		forecast_release(&fa);
		forecast_release(&fb);
	}
	/* sanity: an issue time after the change does see it */
	{
		struct forecast fa, fb;

		issue(a, "alpha", "nn", T + 12 * 3600, 6, &fa);
		issue(b, "alpha", "nn", T + 12 * 3600, 6, &fb);
		cr_assert_neq(memcmp(fa.q, fb.q, (size_t)fa.nlead * fa.nq * sizeof(float)), 0);
		forecast_release(&fa);
		forecast_release(&fb);
	}
	store_close(a);
	store_close(b);
	tu_rmrf_free(da);
	tu_rmrf_free(db);
}

/* The run used at T is the newest with ref + delay <= T, exactly at the boundary. */
Test(forecast_leakage, run_chosen_by_delivery_delay)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast f;

	fx_fill(st, 4, INT64_MAX, 0);
	issue(st, "alpha", "powercurve", FX_T0 + 3 * 86400 + 5 * 3600, 3, &f);
	cr_assert_eq(f.run_ref_time, FX_T0 + 3 * 86400, "ref + delay == T is available");
	forecast_release(&f);
	issue(st, "alpha", "powercurve", FX_T0 + 3 * 86400 + 5 * 3600 - 1, 3, &f);
	cr_assert_eq(f.run_ref_time, FX_T0 + 2 * 86400 + 43200, "one second earlier it is not");
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(d);
}

/* ---- pooled models and short-lead rows ---- */

TestSuite(forecast_pool, .timeout = 180);

/* Position of a feature name in a model's inputs, or -1. */
static int input_index(const struct farm_model *m, const char *name)
{
	for (int i = 0; i < m->nn->n_features; i++)
		if (!strcmp(m->nn->feature_names[i], name))
			return i;
	return -1;
}

/*
 * One network for alpha and beta: it learns from both farms' rows (exactly the rows each
 * farm's own training builds), tells them apart by a one-hot, sees both farms as regional
 * inputs in one order, is saved as each farm's next version, forecasts each farm from its
 * own data, and reads nothing later than --to (bit-identical under changed later data).
 */
Test(forecast_pool, one_network_for_the_pool)
{
	const int64_t T = FX_T0 + 10 * 86400 + 5 * 3600;
	const char *ids[2] = { "alpha", "beta" };
	char *da, *db;
	struct store *a = open_store(&da), *b = open_store(&db);
	struct train_options o;
	struct farm_model *pa[2], *pb[2], *single[2];
	struct wc_error err = { 0 };
	struct forecast fa, fb;

	fx_fill(a, 14, T, 0);
	fx_fill(b, 14, T, 0.3);
	tiny_train_options(&o);
	o.to = T;
	for (int i = 0; i < 2; i++)
		cr_assert_eq(farm_model_train(a, ids[i], &o, &single[i], &err), WC_OK, "%s",
			     err.msg);
	o.features.n_regional = 1;	/* "all": the pool's farms */
	cr_assert_eq(farm_model_train_pool(a, ids, 2, &o, pa, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_train_pool(b, ids, 2, &o, pb, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(pa[0]->nn, pa[1]->nn, "one network");
	cr_assert(!pa[0]->nn_borrowed && pa[1]->nn_borrowed);
	cr_assert_eq(pa[0]->n_rows, single[0]->n_rows + single[1]->n_rows);
	cr_assert_eq(memcmp(pa[0]->nn->member[0].params, pb[0]->nn->member[0].params,
			    pa[0]->nn->member[0].n_params * sizeof(float)),
		     0, "pooled training read data later than --to");
	cr_assert_eq(pa[1]->features.n_pool, 2);
	cr_assert_eq(pa[1]->features.n_regional, 2);
	cr_assert_str_eq(pa[1]->features.regional[0], "alpha");
	cr_assert_geq(input_index(pa[0], "pool:alpha"), 0);
	cr_assert_geq(input_index(pa[0], "pool:beta"), 0);
	cr_assert_geq(input_index(pa[0], "alpha:ws_hub"), 0);
	cr_assert_geq(input_index(pa[0], "beta:obs_lag0"), 0);
	/* each farm's scores are its own validation rows */
	cr_assert_str_neq(pa[0]->scores, pa[1]->scores);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(farm_model_save(a, pa[i], &err), WC_OK, "%s", err.msg);
		cr_assert_eq(pa[i]->version, 1, "each farm's first model");
	}
	farm_model_free(pa[1]);
	farm_model_free(pa[0]);
	farm_model_free(pb[1]);
	farm_model_free(pb[0]);
	farm_model_free(single[0]);
	farm_model_free(single[1]);

	/* the saved models load per farm, with the one-hot of their own farm */
	{
		struct farm_model *m;
		struct farm_inputs in;
		struct features f;
		float x[512];
		int ka, kb;

		cr_assert_eq(farm_model_load(a, "beta", 0, &m, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(farm_inputs_load(&in, a, "beta", &m->features, T, INT64_MIN,
					      INT64_MAX, &err),
			     WC_OK, "%s", err.msg);
		cr_assert_eq(features_init(&f, &m->features, &in.target, in.rp, &err), WC_OK);
		cr_assert_eq(f.n, m->nn->n_features);
		cr_assert(features_row(&f, T, 3, x, NULL));
		ka = input_index(m, "pool:alpha");
		kb = input_index(m, "pool:beta");
		cr_assert_float_eq(x[ka], 0.0f, 0);
		cr_assert_float_eq(x[kb], 1.0f, 0);
		features_release(&f);
		farm_inputs_release(&in);
		farm_model_free(m);
	}
	issue(a, "alpha", "nn", T, 12, &fa);
	issue(a, "beta", "nn", T, 12, &fb);
	cr_assert_eq(fa.nlead, 12);
	cr_assert_eq(fb.nlead, 12);
	cr_assert_neq(memcmp(fa.point, fb.point, 12 * sizeof(float)), 0,
		      "the one-hot and the farm's own inputs make the forecasts differ");
	forecast_release(&fa);
	forecast_release(&fb);

	/* a pool needs 2 farms and known ones */
	cr_assert_eq(farm_model_train_pool(a, ids, 1, &o, pa, &err), WC_EINVAL);
	{
		const char *bad[2] = { "alpha", "nope" };

		const char *twice[2] = { "alpha", "alpha" };

		cr_assert_eq(farm_model_train_pool(a, bad, 2, &o, pa, &err), WC_ENOTFOUND);
		cr_assert_null(pa[0]);
		cr_assert_eq(farm_model_train_pool(a, twice, 2, &o, pa, &err), WC_EINVAL);
		cr_assert(strstr(err.msg, "twice"), "%s", err.msg);
	}
	/* a pool farm removed later: alpha's model cannot build its rows; auto falls back
	 * to a baseline saying why, nn refuses with the same reason */
	cr_assert_eq(store_farm_delete(a, "beta", &err), WC_OK, "%s", err.msg);
	issue(a, "alpha", "auto", T, 6, &fa);
	cr_assert_str_eq(fa.model, "powercurve");
	cr_assert(strstr(fa.fallback, "takes inputs from farm 'beta'"), "%s", fa.fallback);
	forecast_release(&fa);
	{
		struct forecast_options fo;
		struct forecaster *fcr;

		forecast_options_init(&fo);
		fo.model = "nn";
		cr_assert_eq(forecaster_open(a, "alpha", &fo, T, T, &fcr, &err), WC_ENOTFOUND);
		cr_assert(strstr(err.msg, "retrain with 'windcast train --farm alpha'"), "%s",
			  err.msg);
	}
	/* a pool without regional inputs needs only the names of the other farms */
	o.features.n_regional = 0;
	cr_assert_eq(farm_model_train_pool(b, ids, 2, &o, pb, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_save(b, pb[0], &err), WC_OK, "%s", err.msg);
	farm_model_free(pb[1]);
	farm_model_free(pb[0]);
	cr_assert_eq(store_farm_delete(b, "beta", &err), WC_OK, "%s", err.msg);
	issue(b, "alpha", "nn", T, 6, &fb);
	cr_assert_str_eq(fb.model, "nn", "%s", fb.fallback);
	forecast_release(&fb);
	store_close(a);
	store_close(b);
	tu_rmrf_free(da);
	tu_rmrf_free(db);
}

/*
 * --short-leads: extra issue times every hour between the deliveries add exactly the
 * rows (T, h <= short_leads) that have NWP and an observed target, before the
 * validation cut only; validation (its row count per lead) is unchanged.
 */
Test(forecast_pool, short_lead_rows)
{
	const int64_t T = FX_T0 + 10 * 86400 + 5 * 3600;
	char *d;
	struct store *st = open_store(&d);
	struct train_options o;
	struct farm_model *base, *more;
	struct farm_series s;
	struct wc_error err = { 0 };
	int64_t *del, expect = 0, cut, first;
	size_t nd, nrow = 0;
	json_t *jb, *jm;

	fx_fill(st, 14, INT64_MAX, 0);
	tiny_train_options(&o);
	o.to = T;
	cr_assert_eq(farm_model_train(st, "alpha", &o, &base, &err), WC_OK, "%s", err.msg);
	o.short_leads = 3;
	o.short_every = 3600;
	cr_assert_eq(farm_model_train(st, "alpha", &o, &more, &err), WC_OK, "%s", err.msg);

	/* the count, from the deliveries (05 and 17 UTC) and the public lookups */
	cr_assert_eq(farm_series_load(st, "alpha", T, o.features.delay_s, INT64_MIN, INT64_MAX,
				      &s, &err),
		     WC_OK);
	cr_assert_eq(farm_series_issue_times(&s, INT64_MIN, T, 0, &del, &nd, &err), WC_OK);
	first = del[0];
	/* the validation: the latest val_frac of the deliveries that give a row (an observed
	 * target with NWP at a lead 1..max_lead; the last ones before T have none) */
	for (size_t i = 0; i < nd; i++) {
		bool row = false;

		for (int h = 1; h <= o.features.max_lead && !row; h++) {
			int64_t v = del[i] + h * 3600;

			row = isfinite(farm_series_obs(&s, v, T)) && farm_series_nwp(&s, del[i], v, 0,
										     NULL);
		}
		if (row)
			del[nrow++] = del[i];
	}
	cr_assert_lt(nrow, nd, "the deliveries just before T give no row");
	cut = del[nrow - (size_t)floor((double)nrow * o.val_frac)];
	for (int64_t t = first; t < cut; t += 3600) {
		if ((t - first) % 43200 == 0)
			continue;	/* a delivery: already there */
		for (int h = 1; h <= 3; h++) {
			int64_t v = t + h * 3600;

			if (isfinite(farm_series_obs(&s, v, T)) && farm_series_nwp(&s, t, v, 0, NULL))
				expect++;
		}
	}
	cr_assert_gt(expect, 100);
	cr_assert_eq(more->n_rows - base->n_rows, expect);
	jb = json_loads(base->scores, 0, NULL);
	jm = json_loads(more->scores, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(jb, "overall"), "n")),
		     json_integer_value(json_object_get(json_object_get(jm, "overall"), "n")),
		     "validation rows are the deliveries' alone");
	json_decref(jb);
	json_decref(jm);
	free(del);
	farm_series_release(&s);
	farm_model_free(base);
	farm_model_free(more);
	store_close(st);
	tu_rmrf_free(d);
}

/*
 * --val-mode weekly: the same rows as the tail split, validated on every 4th week
 * (val_frac 0.25) instead of the latest issue times; the validation count and the
 * training range are checked against an independent count.
 */
Test(forecast_pool, weekly_validation_split)
{
	const int64_t T = FX_T0 + 35 * 86400;
	char *d;
	struct store *st = open_store(&d);
	struct train_options o;
	struct farm_model *tail, *weekly;
	struct farm_series s;
	struct wc_error err = { 0 };
	int64_t *del, expect = 0;
	size_t nd;
	json_t *j;

	fx_fill(st, 36, INT64_MAX, 0);
	tiny_train_options(&o);
	o.to = T;
	o.val_frac = 0.25;
	cr_assert_eq(farm_model_train(st, "alpha", &o, &tail, &err), WC_OK, "%s", err.msg);
	o.val_mode = VAL_WEEKLY;
	cr_assert_eq(farm_model_train(st, "alpha", &o, &weekly, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(weekly->n_rows, tail->n_rows, "the same rows, split otherwise");
	cr_assert_eq(weekly->train_from, tail->train_from);
	cr_assert_eq(weekly->train_to, tail->train_to);

	cr_assert_eq(farm_series_load(st, "alpha", T, o.features.delay_s, INT64_MIN, INT64_MAX,
				      &s, &err),
		     WC_OK);
	cr_assert_eq(farm_series_issue_times(&s, INT64_MIN, T, 0, &del, &nd, &err), WC_OK);
	for (size_t i = 0; i < nd; i++) {
		if ((del[i] / (7 * 86400)) % 4 != 3)	/* weeks since 1970-01-01, a Thursday */
			continue;
		for (int h = 1; h <= o.features.max_lead; h++) {
			int64_t v = del[i] + h * 3600;

			if (isfinite(farm_series_obs(&s, v, T)) && farm_series_nwp(&s, del[i], v, 0, NULL))
				expect++;
		}
	}
	cr_assert_gt(expect, 50);
	j = json_loads(weekly->scores, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "overall"), "n")),
		     expect);
	json_decref(j);
	free(del);
	farm_series_release(&s);
	farm_model_free(tail);
	farm_model_free(weekly);
	store_close(st);
	tu_rmrf_free(d);
}

/* ---- shapes ---- */

TestSuite(forecast_shape, .timeout = 60);

Test(forecast_shape, json_and_csv)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast f;
	float lv[3] = { 0.1f, 0.5f, 0.9f };
	struct dynbuf b;
	json_t *j, *leads;
	const int64_t T = FX_T0 + 2 * 86400 + 5 * 3600;
	int64_t ps, pe;
	char *line, *save = NULL;
	int nlines = 0;

	fx_fill(st, 4, INT64_MAX, 0);
	issue(st, "alpha", "powercurve", T, 6, &f);
	j = forecast_json(&f, lv, 3, 6);
	cr_assert_not_null(j);
	cr_assert_str_eq(json_string_value(json_object_get(j, "farm")), "alpha");
	cr_assert_str_eq(json_string_value(json_object_get(j, "issued")), "2026-01-03T05:00:00Z");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "model"), "name")),
			 "powercurve");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "nwp_run"),
							   "ref_time")),
			 "2026-01-03T00:00:00Z");
	cr_assert_eq(json_integer_value(json_object_get(j, "horizon")), 6);
	leads = json_object_get(j, "leads");
	cr_assert_eq(json_array_size(leads), 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *l = json_array_get(leads, i);
		json_t *qm = json_object_get(l, "quantiles_mw"), *qf = json_object_get(l, "quantiles_frac");
		double pm = json_real_value(json_object_get(l, "point_mw"));
		double pf = json_real_value(json_object_get(l, "point_frac"));

		cr_assert_eq(json_integer_value(json_object_get(l, "lead_h")), (json_int_t)i + 1);
		/* the delivery period the hour-ending valid time closes */
		cr_assert_eq(utc_parse(json_string_value(json_object_get(l, "period_start")), &ps),
			     true);
		cr_assert_eq(utc_parse(json_string_value(json_object_get(l, "period_end")), &pe),
			     true);
		cr_assert_eq(ps, T + (int64_t)i * 3600);
		cr_assert_eq(pe, T + (int64_t)(i + 1) * 3600);
		cr_assert_str_eq(json_string_value(json_object_get(l, "valid_time")),
				 json_string_value(json_object_get(l, "period_end")));
		cr_assert_eq(json_array_size(qm), 3);
		/* named as listed */
		for (size_t k = 0; k < 3; k++) {
			static const char *const names[] = { "p10", "p50", "p90" };
			const char *nm = json_string_value(
				json_array_get(json_object_get(j, "quantile_names"), k));

			cr_assert_str_eq(nm, names[k]);
			cr_assert_float_eq(json_real_value(json_object_get(json_object_get(l, "mw"),
									    nm)),
					   json_real_value(json_array_get(qm, k)), 1e-9);
			cr_assert_float_eq(json_real_value(json_object_get(json_object_get(l, "frac"),
									    nm)),
					   json_real_value(json_array_get(qf, k)), 1e-9);
		}
		cr_assert_float_eq(pm, pf * 100, 1e-4);
		for (size_t k = 0; k < 3; k++) {
			cr_assert_float_eq(json_real_value(json_array_get(qm, k)),
					   json_real_value(json_array_get(qf, k)) * 100, 1e-4);
			if (k)
				cr_assert_geq(json_real_value(json_array_get(qf, k)),
					      json_real_value(json_array_get(qf, k - 1)));
		}
	}
	json_decref(j);

	dynbuf_init(&b, 1 << 20);
	cr_assert_eq(forecast_csv(&f, lv, 3, 6, true, false, &b), WC_OK);
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (nlines == 0)
			cr_assert_str_eq(line, "farm,issued,period_start,period_end,valid_time,"
					       "lead_h,model,model_version,fallback,point,p10,p50,p90");
		else if (nlines == 1)
			cr_assert_eq(strncmp(line, "alpha,2026-01-03T05:00:00Z,2026-01-03T05:00:00Z,"
						   "2026-01-03T06:00:00Z,2026-01-03T06:00:00Z,1,"
						   "powercurve,,false,",
					     110),
				     0, "%s", line);
		nlines++;
	}
	cr_assert_eq(nlines, 7);
	dynbuf_release(&b);
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(d);
}

Test(forecast_shape, levels_parse_and_interpolate)
{
	float lv[FORECAST_MAX_REQUEST];
	int n;
	struct wc_error err = { 0 };
	struct forecast f = { .nq = 3, .taus = { 0.1f, 0.5f, 0.9f }, .nlead = 1 };
	float q[3] = { 0.2f, 0.4f, 0.8f };

	cr_assert_eq(forecast_parse_levels("0.01:0.99:0.01", lv, &n, &err), WC_OK);
	cr_assert_eq(n, 99);
	cr_assert_float_eq(lv[98], 0.99f, 1e-6);
	cr_assert_eq(forecast_parse_levels("0.9,0.1", lv, &n, &err), WC_OK);
	cr_assert(n == 2 && lv[0] < lv[1]);
	cr_assert_eq(forecast_parse_levels("0,0.5", lv, &n, &err), WC_EINVAL);
	cr_assert_eq(forecast_parse_levels("0.5,x", lv, &n, &err), WC_EINVAL);
	f.q = q;
	/* 0.3 is halfway between 0.1 and 0.5: halfway between 0.2 and 0.4 */
	cr_assert_float_eq(forecast_quantile(&f, 0, 0.3f), 0.3f, 1e-6);
	cr_assert_float_eq(forecast_quantile(&f, 0, 0.7f), 0.6f, 1e-6);
	lv[0] = 0.05f;
	cr_assert_eq(forecast_check_levels(&f, lv, 1, &err), WC_EINVAL);
}

Test(forecast_shape, stored_body_round_trip)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast f, g;
	struct wc_error err = { 0 };
	char *body;

	fx_fill(st, 3, INT64_MAX, 0);
	issue(st, "alpha", "persistence", FX_T0 + 86400 + 7 * 3600, 5, &f);
	cr_assert_eq(forecast_store(st, &f, 1, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_forecast_get(st, "alpha", f.issued, "persistence", &body, &err), WC_OK);
	cr_assert_eq(forecast_from_body(body, &g, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(g.nlead, f.nlead);
	cr_assert_eq(g.nq, f.nq);
	cr_assert_eq(g.issued, f.issued);
	cr_assert_str_eq(g.model, "persistence");
	for (int i = 0; i < f.nlead * f.nq; i++)
		cr_assert_float_eq(g.q[i], f.q[i], 1e-6);
	for (int i = 0; i < f.nlead; i++)
		cr_assert_float_eq(g.point[i], f.point[i], 1e-6);
	free(body);
	forecast_release(&g);
	/* damaged bodies are refused, never half read */
	cr_assert_eq(forecast_from_body("{}", &g, &err), WC_EFORMAT);
	cr_assert_eq(forecast_from_body("not json", &g, &err), WC_EFORMAT);
	cr_assert_eq(forecast_from_body("{\"farm\":\"alpha\",\"issued\":\"2026-01-01T00:00Z\","
					"\"model\":\"nn\",\"model_version\":1,\"fallback\":\"\","
					"\"note\":\"\",\"run\":null,\"taus\":[],\"valid\":[],"
					"\"point\":[],\"q\":[]}",
					&g, &err),
		     WC_EFORMAT);
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(d);
}

/* ---- fallbacks ---- */

TestSuite(forecast_fallback, .timeout = 60);

Test(forecast_fallback, chain_without_model_or_nwp)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast_options o;
	struct forecaster *fcr;
	struct forecast f;
	struct wc_error err = { 0 };
	const int64_t T = FX_T0 + 2 * 86400 + 5 * 3600;

	/* nothing at all: no forecast, a clear reason */
	forecast_options_init(&o);
	cr_assert_eq(forecaster_open(st, "alpha", &o, T, T, &fcr, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecaster_issue(fcr, T, &f, &err), WC_ENODATA);
	cr_assert(strstr(err.msg, "no NWP for farm 'alpha'"), "%s", err.msg);
	forecaster_free(fcr);

	fx_fill(st, 4, INT64_MAX, 0);
	/* no model: the power curve stands in and says why */
	issue(st, "alpha", "auto", T, 6, &f);
	cr_assert_str_eq(f.model, "powercurve");
	cr_assert(strstr(f.fallback, "no trained model of farm 'alpha'"), "%s", f.fallback);
	forecast_release(&f);
	/* before the first run is delivered: no NWP, persistence */
	issue(st, "alpha", "auto", FX_T0 + 3 * 3600, 6, &f);
	cr_assert_str_eq(f.model, "persistence");
	cr_assert(strstr(f.fallback, "cannot fit a power curve"), "%s", f.fallback);
	cr_assert_float_eq(f.point[0], fx_curve(fx_truth(FX_T0 + 3 * 3600)), 1e-6);
	forecast_release(&f);
	/* explicit nn without a model: an error with the train hint */
	o.model = "nn";
	cr_assert_eq(forecaster_open(st, "alpha", &o, T, T, &fcr, &err), WC_ENOTFOUND);
	cr_assert(strstr(err.msg, "windcast train --farm alpha"), "%s", err.msg);
	o.model = "bogus";
	cr_assert_eq(forecaster_open(st, "alpha", &o, T, T, &fcr, &err), WC_EINVAL);
	o.model = "auto";
	cr_assert_eq(forecaster_open(st, "nope", &o, T, T, &fcr, &err), WC_ENOTFOUND);
	store_close(st);
	tu_rmrf_free(d);
}

Test(forecast_fallback, model_falls_back_without_nwp_and_cuts_at_reach)
{
	char *d;
	struct store *st = open_store(&d);
	struct train_options o;
	struct farm_model *m;
	struct forecast f;
	struct wc_error err = { 0 };
	const int64_t last_ref = FX_T0 + 5 * 86400 + 43200;

	fx_fill(st, 6, INT64_MAX, 0);
	tiny_train_options(&o);
	o.refit = true;
	cr_assert_eq(farm_model_train(st, "alpha", &o, &m, &err), WC_OK, "%s", err.msg);
	/* refit: every row trained, the validated fit's scores kept */
	cr_assert_eq(m->nn->info.n_train, m->n_rows);
	cr_assert_eq(m->nn->info.n_val, 0);
	cr_assert(strstr(m->scores, "\"per_lead\":[{"), "%s", m->scores);
	cr_assert_eq(farm_model_save(st, m, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(m->version, 1);
	farm_model_free(m);
	issue(st, "alpha", "nn", FX_T0 + 86400 + 5 * 3600, 36, &f);
	cr_assert_str_eq(f.model, "nn");
	cr_assert_eq(f.model_version, 1);
	cr_assert_eq(f.nlead, 12, "cut to the trained leads");
	cr_assert(f.horizon_cut && strstr(f.cut_note, "trained for"), "%s", f.cut_note);
	cr_assert(strstr(f.note, "not a leakage-free hindcast"), "%s", f.note);
	forecast_release(&f);
	/* 45 h after the last run's reference time its leads 46..48 remain: 1..3 */
	issue(st, "alpha", "nn", last_ref + 45 * 3600, 12, &f);
	cr_assert_str_eq(f.model, "nn");
	cr_assert_eq(f.nlead, 3);
	cr_assert(f.horizon_cut && strstr(f.cut_note, "reach"), "%s", f.cut_note);
	forecast_release(&f);
	/* beyond every run's reach and a day after the last observation: climatology */
	issue(st, "alpha", "auto", last_ref + 49 * 3600, 12, &f);
	cr_assert_str_eq(f.model, "climatology");
	cr_assert(strstr(f.fallback, "no NWP run available"), "%s", f.fallback);
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(d);
}

/* ---- the farm's own power curve ---- */

TestSuite(forecast_curve, .timeout = 60);

/* The curve the tests give farm alpha, with cut-out at 14.5 m/s. */
static const double curve_ws[] = { 3, 6, 9, 12, 14, 14.5 };
static const double curve_p[] = { 0, 0.15, 0.55, 0.9, 1.0, 0 };
#define CURVE_N ((int)(sizeof(curve_ws) / sizeof(curve_ws[0])))

/* The test's own reading of that curve: a plain scan for the segment holding x. */
static double ref_curve(double x)
{
	if (x < curve_ws[0])
		return 0;
	for (int i = 0; i + 1 < CURVE_N; i++)
		if (x >= curve_ws[i] && x < curve_ws[i + 1])
			return curve_p[i] + (curve_p[i + 1] - curve_p[i]) * (x - curve_ws[i]) /
						    (curve_ws[i + 1] - curve_ws[i]);
	return curve_p[CURVE_N - 1];
}

/* The hub-height speed fx_fill wrote for valid time v in the run of reference time ref. */
static double fx_speed(int64_t ref, int64_t v)
{
	return fx_truth(v) + 0.04 * ((double)(v - ref) / 3600) * sin((double)ref / 70000.0);
}

/* Give (with_curve) or take away farm alpha's power curve. */
static void set_alpha_curve(struct store *st, bool with_curve)
{
	struct wc_error err = { 0 };
	struct farm f;
	bool created;

	cr_assert_eq(store_farm_get(st, "alpha", &f, &err), WC_OK, "%s", err.msg);
	f.power_curve.n = with_curve ? CURVE_N : 0;
	for (int i = 0; with_curve && i < CURVE_N; i++) {
		f.power_curve.ws[i] = curve_ws[i];
		f.power_curve.power[i] = curve_p[i];
	}
	cr_assert_eq(store_farm_put(st, &f, &created, &err), WC_OK, "%s", err.msg);
}

static const char *json_model_curve(const struct forecast *f)
{
	static char buf[16];
	float lv[1] = { 0.5f };
	json_t *j = forecast_json(f, lv, 1, 1);
	json_t *c = json_object_get(json_object_get(j, "model"), "curve");

	cr_assert(json_is_string(c) || json_is_null(c));
	snprintf(buf, sizeof(buf), "%s", json_is_string(c) ? json_string_value(c) : "(null)");
	json_decref(j);
	return buf;
}

/*
 * With a curve on the farm, --model powercurve is that curve at the NWP speed of the run
 * available at T, lead by lead, as computed here from fx_fill's formula.
 */
Test(forecast_curve, farm_curve_matches_hand_interpolation)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast f, g;
	struct wc_error err = { 0 };
	const int64_t ref = FX_T0 + 2 * 86400, T = ref + 5 * 3600;
	int inside = 0, spread = 0;
	char *body;

	fx_fill(st, 4, INT64_MAX, 0);
	set_alpha_curve(st, true);
	issue(st, "alpha", "powercurve", T, 24, &f);
	cr_assert_str_eq(f.model, "powercurve");
	cr_assert_str_eq(f.curve, "farm");
	cr_assert_str_eq(json_model_curve(&f), "farm");
	cr_assert_eq(f.run_ref_time, ref);
	cr_assert_eq(f.nlead, 24);
	cr_assert_str_eq(f.note, "", "two days of history measure the errors: %s", f.note);
	for (int h = 1; h <= 24; h++) {
		int64_t v = T + (int64_t)h * 3600;
		double want = ref_curve(fx_speed(ref, v));
		const float *q = f.q + (size_t)(h - 1) * f.nq;

		cr_assert_eq(f.valid[h - 1], v);
		cr_assert_float_eq(f.point[h - 1], want, 1e-6, "lead %d: speed %.4f, got %.7f want %.7f",
				   h, fx_speed(ref, v), f.point[h - 1], want);
		inside += want > 0.01 && want < 0.99;
		cr_assert_leq(q[0], f.point[h - 1] + 1e-6);
		cr_assert_geq(q[f.nq - 1], f.point[h - 1] - 1e-6);
		spread += q[f.nq - 1] > q[0];
	}
	cr_assert_geq(inside, 6, "the leads cross the curve's slope, not only its ends");
	cr_assert_gt(spread, 0, "residuals against the farm curve give the quantiles width");

	/* stored and read back, it still says which curve */
	cr_assert_eq(forecast_store(st, &f, 1, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_forecast_get(st, "alpha", T, "powercurve", &body, &err), WC_OK, "%s",
		     err.msg);
	cr_assert_eq(forecast_from_body(body, &g, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(g.curve, "farm");
	free(body);
	forecast_release(&g);
	forecast_release(&f);

	/* auto without a trained model falls back to the farm's curve and says so */
	issue(st, "alpha", "auto", T, 6, &f);
	cr_assert_str_eq(f.model, "powercurve");
	cr_assert_str_eq(f.curve, "farm");
	cr_assert(strstr(f.fallback, "no trained model of farm 'alpha'"), "%s", f.fallback);
	cr_assert_float_eq(f.point[0], ref_curve(fx_speed(ref, T + 3600)), 1e-6);
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(d);
}

/* Without a curve the power curve is fitted from history, and the answer says that. */
Test(forecast_curve, falls_back_to_the_fitted_curve)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast fit, given, other;
	struct farm_series s;
	struct baseline_info info;
	struct wc_error err = { 0 };
	const int64_t T = FX_T0 + 3 * 86400 + 5 * 3600;
	const float mid[1] = { 0.5f };
	float point[12], q[12];
	int differ = 0;

	fx_fill(st, 4, INT64_MAX, 0);
	issue(st, "alpha", "powercurve", T, 12, &fit);
	cr_assert_str_eq(fit.curve, "fitted");
	cr_assert_str_eq(json_model_curve(&fit), "fitted");
	/* the same as the baseline fitted directly on the series */
	cr_assert_eq(farm_series_load(st, "alpha", T, FEAT_DEFAULT_DELAY_S, INT64_MIN, INT64_MAX,
				      &s, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(baseline_forecast(BASELINE_POWERCURVE, &s, T, 12, mid, 1, NULL, point, q,
				       &info, &err),
		     WC_OK, "%s", err.msg);
	cr_assert(!info.curve_given);
	cr_assert_gt(info.curve_pairs, 24);
	for (int h = 0; h < 12; h++)
		cr_assert_eq(fit.point[h], point[h], "lead %d", h + 1);
	farm_series_release(&s);

	/* giving the farm a curve changes the forecast; taking it away restores the fit */
	set_alpha_curve(st, true);
	issue(st, "alpha", "powercurve", T, 12, &given);
	cr_assert_str_eq(given.curve, "farm");
	for (int h = 0; h < 12; h++)
		differ += fabsf(given.point[h] - fit.point[h]) > 1e-4f;
	cr_assert_gt(differ, 0);
	forecast_release(&given);
	set_alpha_curve(st, false);
	issue(st, "alpha", "powercurve", T, 12, &given);
	cr_assert_str_eq(given.curve, "fitted");
	cr_assert_eq(memcmp(given.point, fit.point, 12 * sizeof(float)), 0);
	forecast_release(&given);
	forecast_release(&fit);

	/* other models name no curve */
	issue(st, "alpha", "persistence", T, 3, &other);
	cr_assert_str_eq(other.curve, "");
	cr_assert_str_eq(json_model_curve(&other), "(null)");
	forecast_release(&other);
	store_close(st);
	tu_rmrf_free(d);
}

/*
 * A farm with a curve forecasts from its first NWP run, before history could fit one;
 * with too few hours to measure the curve's errors the quantiles are the point, and the
 * note says so.
 */
Test(forecast_curve, farm_curve_needs_no_history)
{
	char *d;
	struct store *st = open_store(&d);
	struct forecast f;
	const int64_t T = FX_T0 + 5 * 3600;	/* the first run is just in: 5 hours of pairs */

	fx_fill(st, 2, INT64_MAX, 0);
	set_alpha_curve(st, true);
	issue(st, "alpha", "auto", T, 6, &f);
	cr_assert_str_eq(f.model, "powercurve");
	cr_assert_str_eq(f.curve, "farm");
	cr_assert(strstr(f.note, "5 hours of NWP and observed power"), "%s", f.note);
	cr_assert(strstr(f.note, "every quantile is the point"), "%s", f.note);
	for (int h = 1; h <= 6; h++) {
		cr_assert_float_eq(f.point[h - 1], ref_curve(fx_speed(FX_T0, T + h * 3600)), 1e-6);
		for (int k = 0; k < f.nq; k++)
			cr_assert_eq(f.q[(size_t)(h - 1) * f.nq + k], f.point[h - 1]);
	}
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(d);
}

/* ---- end to end on demo data: CLI and HTTP ---- */

TestSuite(forecast_e2e, .timeout = 240);

/* The small network the demo-store tests train (version 1 has these and --regional all). */
#define DEMO_TRAIN "--quiet train --farm north-sea-1 --ensemble 1 --hidden 16 --epochs 5 --leads 24"

static void demo_store(char **dir, char **input)
{
	char *out = NULL, *errs = NULL;

	*dir = tu_tmpdir();
	*input = tu_tmpdir();
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --out '%s' --farms 2 --days 16", *input),
		     0, "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(*dir, NULL, &errs, "farm import '%s/farms.json'", *input), 0, "%s",
		     errs);
	free(errs);
	cr_assert_eq(tu_cli(*dir, NULL, &errs, "--quiet ingest '%s'/nwp/*.nc", *input), 0, "%s",
		     errs);
	free(errs);
	cr_assert_eq(tu_cli(*dir, NULL, &errs, "obs import --farm north-sea-1 '%s/obs/north-sea-1.csv'",
			    *input),
		     0, "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(*dir, &out, &errs, DEMO_TRAIN " --regional all --format json"), 0,
		     "%s", errs);
	cr_assert(strstr(out, "\"version\": 1"), "%s", out);
	free(out);
	free(errs);
}

Test(forecast_e2e, cli_and_http)
{
	char *dir, *input, *out = NULL, *errs = NULL, *line, *save = NULL;
	struct store *st;
	struct server *srv;
	struct tu_http r;
	json_t *j;
	int n = 0;

	demo_store(&dir, &input);
	/* one issue time, CSV in fractions */
	cr_assert_eq(tu_cli(dir, &out, &errs,
			    "forecast --farm north-sea-1 --issued 2026-01-10T05:00Z --horizon 6 "
			    "--format csv --units frac --quantiles 0.05,0.5,0.95 --model nn"),
		     0, "%s", errs);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++)
		if (n == 0)
			cr_assert_str_eq(line, "farm,issued,period_start,period_end,valid_time,"
					       "lead_h,model,model_version,fallback,point,p05,p50,p95");
	cr_assert_eq(n, 7);
	free(out);
	free(errs);
	/* many issue times in one run: one header, 6 rows each */
	cr_assert_eq(tu_cli(dir, &out, &errs,
			    "forecast --farm north-sea-1 --issued-from 2026-01-10T05:00Z "
			    "--issued-to 2026-01-12T05:00Z --every 12 --horizon 6 --format csv "
			    "--no-store"),
		     0, "%s", errs);
	n = 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		n++;
	cr_assert_eq(n, 1 + 5 * 6, "%s", out);
	free(out);
	free(errs);
	/* issue times from a file (comments and blank lines skipped) */
	{
		char path[4200];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/issued.txt", dir);
		fp = fopen(path, "w");
		cr_assert_not_null(fp);
		fputs("# GEFCom-style issue times\n2026-01-10T05:00:00Z\n\n2026-01-11T17:00Z\n", fp);
		fclose(fp);
		cr_assert_eq(tu_cli(dir, &out, &errs,
				    "forecast --farm north-sea-1 --issued-file '%s' --horizon 4 "
				    "--format csv --units frac --no-store",
				    path),
			     0, "%s", errs);
		cr_assert(strstr(out, "\nnorth-sea-1,2026-01-11T17:00:00Z,2026-01-11T20:00:00Z,"
				      "2026-01-11T21:00:00Z,2026-01-11T21:00:00Z,4,"),
			  "%s", out);
		n = 0;
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			n++;
		cr_assert_eq(n, 1 + 2 * 4, "%s", out);
		free(out);
		free(errs);
		fp = fopen(path, "w");
		fputs("2026-01-10T05:00:00Z\nyesterday\n", fp);
		fclose(fp);
		cr_assert_eq(tu_cli(dir, NULL, &errs, "forecast --farm north-sea-1 --issued-file '%s'",
				    path),
			     2);
		cr_assert(strstr(errs, "invalid issue time 'yesterday' on line 2"), "%s", errs);
		free(errs);
	}
	/* bad usage is exit 2 with a message */
	cr_assert_eq(tu_cli(dir, NULL, &errs, "forecast --farm north-sea-1 --horizon 0"), 2);
	cr_assert(strstr(errs, "invalid --horizon '0'"), "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "train --farm north-sea-1 --ensemble 0"), 2);
	free(errs);
	{
		/* exit 2 for a bad request, 1 for a farm that does not exist; the first one
		 * gets as far as the store (where a request to train warns) */
		static const char *const bad_pool[][3] = {
			{ "train --pool north-sea-1,nope", "invalid --pool: no farm 'nope'", "1" },
			{ "train --pool north-sea-1", "a pool has 2..32 farms", "2" },
			{ "train --pool north-sea-1,north-sea-1", "each farm once", "2" },
			{ "train --pool all --farm north-sea-1", "give --farm or --pool", "2" },
			{ "train --pool all --regional 50km", "with --pool use none or all", "2" },
			{ "train --farm north-sea-1 --workers 0", "invalid --workers '0'", "2" },
			{ "train --farm north-sea-1 --short-leads -1", "invalid --short-leads", "2" },
			{ "train --farm north-sea-1 --activation tanh", "invalid --activation 'tanh'",
			  "2" },
		};

		for (size_t i = 0; i < sizeof(bad_pool) / sizeof(bad_pool[0]); i++) {
			/*
			 * The first call with the SSE3 kernels forced: training says that the
			 * CPU has faster ones, and how to get them (tests/unit/test_cli.c has
			 * windcast choosing them itself when the user did not).
			 */
			if (i == 0)
				setenv("OPENBLAS_CORETYPE", "Prescott", 1);
			cr_assert_eq(tu_cli(dir, NULL, &errs, "%s", bad_pool[i][0]), atoi(bad_pool[i][2]),
				     "%s: %s", bad_pool[i][0], errs);
			cr_assert(strstr(errs, bad_pool[i][1]), "%s: %s", bad_pool[i][0], errs);
#if defined(__x86_64__) && defined(__GNUC__)
			if (i == 0) {
				unsetenv("OPENBLAS_CORETYPE");
				__builtin_cpu_init();
				cr_assert(!__builtin_cpu_supports("avx2") ==
					  !strstr(errs, "set OPENBLAS_CORETYPE="), "%s", errs);
			}
#endif
			free(errs);
		}
	}
	cr_assert_eq(tu_cli(dir, NULL, &errs, "forecast --farm nope"), 1);
	free(errs);

	/* the API on the same store */
	tu_serve(dir, &st, &srv);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/north-sea-1/forecast?issued=2026-01-10T05:00:00Z&horizon=6"
				  "&model=nn",
				  NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "model"), "name")),
			 "nn");
	cr_assert(json_is_true(json_object_get(j, "stored")), "the CLI stored it: %s", r.body);
	cr_assert_eq(json_array_size(json_object_get(j, "leads")), 6);
	json_decref(j);
	tu_http_release(&r);
	/* the stored quantiles serve either point rule */
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/north-sea-1/forecast?issued=2026-01-10T05:00:00Z&horizon=6"
				  "&point=median&quantiles=0.5&model=nn",
				  NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert(json_is_true(json_object_get(j, "stored")), "%s", r.body);
	{
		json_t *l0 = json_array_get(json_object_get(j, "leads"), 0);

		cr_assert_float_eq(json_real_value(json_object_get(l0, "point_frac")),
				   json_real_value(json_array_get(json_object_get(l0, "quantiles_frac"), 0)),
				   1e-6, "%s", r.body);
	}
	json_decref(j);
	tu_http_release(&r);
	/* a longer horizon than stored is computed again (and stored in its place) */
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/north-sea-1/forecast?issued=2026-01-10T05:00:00Z&horizon=9"
				  "&model=nn",
				  NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert(json_is_true(json_object_get(j, "stored")), "%s", r.body);
	cr_assert_eq(json_array_size(json_object_get(j, "leads")), 9);
	json_decref(j);
	tu_http_release(&r);
	/* a farm without observations or model: the power curve cannot be fitted, the
	 * climatology has no data, so the answer is 409 with the reasons */
	cr_assert(tu_http_request(server_port(srv), "GET", "/v1/farms/horns-reef/forecast", NULL,
				  0, NULL, &r));
	cr_assert_eq(r.status, 409, "%s", r.body);
	tu_http_release(&r);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/north-sea-1/forecast?quantiles=0.5,2", NULL, 0, NULL,
				  &r));
	cr_assert_eq(r.status, 400, "%s", r.body);
	tu_http_release(&r);
	{
		const char *hdr[] = { "Accept: text/csv", NULL };

		cr_assert(tu_http_request(server_port(srv), "GET",
					  "/v1/farms/north-sea-1/forecast?horizon=3&model=climatology",
					  NULL, 0, hdr, &r));
		cr_assert_eq(r.status, 200, "%s", r.body);
		cr_assert_eq(strncmp(r.body, "farm,issued,period_start,period_end,valid_time,lead_h,"
					     "model,model_version,fallback,point,p10,p50,p90\n",
				     101),
			     0,
			     "%s", r.body);
		tu_http_release(&r);
	}
	/* training as a job */
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/farms/north-sea-1/train",
				  "{\"ensemble\":1,\"bogus\":1}", (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 400, "%s", r.body);
	tu_http_release(&r);
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/farms/north-sea-1/train",
				  "{\"ensemble\":1}", (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 202, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	tu_http_release(&r);
	{
		char path[64];
		const char *state = "queued";

		snprintf(path, sizeof(path), "/v1/jobs/%lld",
			 (long long)json_integer_value(
				 json_object_get(json_object_get(j, "job"), "id")));
		for (int i = 0; i < 600 && strcmp(state, "done") && strcmp(state, "failed"); i++) {
			json_t *s;

			usleep(100000);
			cr_assert(tu_http_request(server_port(srv), "GET", path, NULL, 0, NULL, &r));
			s = json_loads(r.body, 0, NULL);
			state = !strcmp(json_string_value(json_object_get(s, "state")), "done")
					? "done"
				: !strcmp(json_string_value(json_object_get(s, "state")), "failed")
					? "failed"
					: "running";
			if (!strcmp(state, "done"))
				cr_assert_eq(json_integer_value(json_object_get(
						     json_object_get(s, "result"), "version")),
					     2, "%s", r.body);
			json_decref(s);
			tu_http_release(&r);
		}
		cr_assert_str_eq(state, "done");
	}
	json_decref(j);
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
	tu_rmrf_free(input);
}

/* The activation byte of a model file (header 32 bytes, then F, I, head, activation). */
static int model_activation(const char *dir, const char *farm, int version)
{
	char path[4200];
	unsigned char buf[48];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/models/%s/%d.wcm", dir, farm, version);
	fp = fopen(path, "rb");
	cr_assert_not_null(fp, "%s", path);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	cr_assert_eq(n, sizeof(buf), "%s", path);
	return buf[44] | buf[45] << 8 | buf[46] << 16 | buf[47] << 24;
}

/* --activation silu: the model records SiLU (format field 1) and forecasts with it. */
Test(forecast_e2e, silu_activation)
{
	char *dir, *input, *out = NULL, *errs = NULL;

	demo_store(&dir, &input);
	cr_assert_eq(tu_cli(dir, NULL, &errs, DEMO_TRAIN " --activation silu"), 0, "%s", errs);
	free(errs);
	cr_assert_eq(model_activation(dir, "north-sea-1", 1), 0, "ReLU by default");
	cr_assert_eq(model_activation(dir, "north-sea-1", 2), 1, "SiLU");
	cr_assert_eq(tu_cli(dir, &out, &errs,
			    "forecast --farm north-sea-1 --issued 2026-01-10T05:00Z --horizon 6 "
			    "--model nn --format json --no-store"),
		     0, "%s", errs);
	cr_assert(strstr(out, "\"version\": 2"), "%s", out);
	free(out);
	free(errs);
	tu_rmrf_free(dir);
	tu_rmrf_free(input);
}

/* Lead smoothing on hand-computed cases: weights K + 1 - |d| over the neighbours present. */
Test(forecast_shape, lead_smoothing_by_hand)
{
	/* two levels; rows: issue A leads 1, 2, 3, 5 (lead 4 missing), issue B lead 1 */
	const float q[] = { 0, 10, 4, 14, 8, 18, 20, 30, 100, 200 };
	const int64_t T[] = { 7, 7, 7, 7, 9 };
	const int lead[] = { 1, 2, 3, 5, 1 };
	const float want1[] = {
		(2 * 0 + 4) / 3.0f, (2 * 10 + 14) / 3.0f,	/* lead 1: no lead 0 */
		(0 + 2 * 4 + 8) / 4.0f, (10 + 2 * 14 + 18) / 4.0f,
		(4 + 2 * 8) / 3.0f, (14 + 2 * 18) / 3.0f,	/* lead 4 is missing */
		20, 30,					/* lead 5: no neighbours */
		100, 200,				/* another issue time */
	};
	float out[10], out2[6];

	farm_model_smooth(1, q, out, 5, 2, T, lead);
	for (int i = 0; i < 10; i++)
		cr_assert_float_eq(out[i], want1[i], 1e-5, "K=1 [%d] = %g, want %g", i, out[i],
				   want1[i]);
	farm_model_smooth(0, q, out, 5, 2, T, lead);
	cr_assert(memcmp(out, q, sizeof(q)) == 0, "K=0 copies");
	/* K = 2 on consecutive leads 1..3 (T NULL): weights 3 2 1 / 2 3 2 / 1 2 3 */
	farm_model_smooth(2, q, out2, 3, 2, NULL, NULL);
	cr_assert_float_eq(out2[0], (3 * 0 + 2 * 4 + 8) / 6.0f, 1e-5);
	cr_assert_float_eq(out2[2], (2 * 0 + 3 * 4 + 2 * 8) / 7.0f, 1e-5);
	cr_assert_float_eq(out2[5], (10 + 2 * 14 + 3 * 18) / 6.0f, 1e-5);
}

/* Reads `forecast --format csv --units frac` output: per lead the point and the q columns. */
static int read_csv_leads(char *out, double (*v)[4], int max)
{
	char *save = NULL, *line = strtok_r(out, "\n", &save);
	int n = 0;

	cr_assert(line && strstr(line, "point"), "header: %s", line ? line : "");
	while ((line = strtok_r(NULL, "\n", &save)) && n < max) {
		const char *p = line;
		int lead = 0;

		/* farm,issued,period_start,period_end,valid_time,lead_h,model,model_version,
		 * fallback,point,p... */
		for (int c = 0; c < 9 && p; c++) {
			if (c == 5)
				lead = atoi(p);
			p = strchr(p, ',');
			p = p ? p + 1 : NULL;
		}
		cr_assert(p && sscanf(p, "%lf,%lf,%lf,%lf", &v[n][0], &v[n][1], &v[n][2], &v[n][3]) == 4,
			  "%s", line);
		cr_assert_eq(lead, n + 1);
		n++;
	}
	return n;
}

/*
 * train --smooth 1: the same network as without it (same seed and data), each lead's
 * forecast the 1-2-1 mean of the unsmoothed one's (renormalised at lead 1 and at the last
 * trained lead), independent of the horizon asked for; the model file records it, and a
 * model file with a bad value is refused by name.
 */
Test(forecast_e2e, lead_smoothing)
{
	char *dir, *input, *out = NULL, *errs = NULL, path[4200];
	double raw[24][4], sm[24][4], cut[24][4];
	struct nn_model *nn;
	struct wc_error err = { 0 };
	const char *fcst = "forecast --farm north-sea-1 --issued 2026-01-10T05:00Z --model nn "
			   "--format csv --units frac --no-store";

	demo_store(&dir, &input);
	cr_assert_eq(tu_cli(dir, NULL, &errs, DEMO_TRAIN " --regional all --smooth 1"), 0, "%s",
		     errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, &out, &errs, "%s --horizon 24 --model-version 1", fcst), 0,
		     "%s", errs);
	cr_assert_eq(read_csv_leads(out, raw, 24), 24);
	free(out), free(errs);
	cr_assert_eq(tu_cli(dir, &out, &errs, "%s --horizon 24 --model-version 2", fcst), 0,
		     "%s", errs);
	cr_assert_eq(read_csv_leads(out, sm, 24), 24);
	free(out), free(errs);
	for (int i = 0; i < 24; i++)
		for (int c = 0; c < 4; c++) {
			double w = (i > 0) + 2.0 + (i < 23);
			double want = ((i > 0 ? raw[i - 1][c] : 0) + 2 * raw[i][c] +
				       (i < 23 ? raw[i + 1][c] : 0)) / w;

			cr_assert(fabs(sm[i][c] - want) < 2e-6, "lead %d column %d: %.6f, want %.6f",
				  i + 1, c, sm[i][c], want);
		}
	/* lead 12 of a 12-hour horizon still averages in lead 13 */
	cr_assert_eq(tu_cli(dir, &out, &errs, "%s --horizon 12 --model-version 2", fcst), 0,
		     "%s", errs);
	cr_assert_eq(read_csv_leads(out, cut, 24), 12);
	free(out), free(errs);
	cr_assert(memcmp(cut, sm, 12 * sizeof(cut[0])) == 0, "horizon 12 differs from 24");

	snprintf(path, sizeof(path), "%s/models/north-sea-1/2.wcm", dir);
	cr_assert_eq(nn_model_load(path, NULL, 0, &nn, &err), WC_OK, "%s", err.msg);
	cr_assert(strstr(nn->meta, "\nsmooth=1\n"), "%s", nn->meta);
	{
		char *meta = strdup(nn->meta), *p = strstr(meta, "\nsmooth=1\n");

		p[8] = '9';
		cr_assert_eq(nn_model_set_meta(nn, meta, &err), WC_OK);
		cr_assert_eq(nn_model_save(nn, path, &err), WC_OK, "%s", err.msg);
		free(meta);
	}
	nn_model_free(nn);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "%s --model-version 2", fcst), 1);
	cr_assert(strstr(errs, "bad smooth '9' (0..6)"), "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "train --farm north-sea-1 --smooth 7"), 2);
	cr_assert(strstr(errs, "invalid --smooth '7'"), "%s", errs);
	free(errs);
	tu_rmrf_free(dir);
	tu_rmrf_free(input);
}

/* ---- NWP-only models on analyses (GEFCom2014's set-up) ---- */

TestSuite(forecast_analyses, .timeout = 120);

/* Ten-day "analysis" files without a reference time: available at every issue time. */
static void fill_analyses(struct store *st, int files)
{
	struct wc_error err = { 0 };
	const int n = 240;
	struct weather_row *rows = calloc((size_t)n, sizeof(*rows));

	for (int a = 0; a < files; a++) {
		int64_t t0 = FX_T0 + (int64_t)a * n * 3600 + 3600;
		struct nwp_run run = { .is_forecast = false, .ntimes = n, .first_valid = t0,
				       .last_valid = t0 + (int64_t)(n - 1) * 3600 };
		struct farm_weather fw[2];
		char sha[65];

		for (int i = 0; i < n; i++) {
			struct weather_row *w = &rows[i];
			int64_t v = t0 + (int64_t)i * 3600;

			w->valid_time = v;
			w->lead_h = NAN;
			for (int c = 0; c < WEATHER_NCOLS; c++)
				w->v[c] = NAN;
			w->v[WX_WS100] = w->v[WX_WS_HUB] = fx_truth(v);
			w->v[WX_WS10] = 0.75 * fx_truth(v);
			w->v[WX_WD100] = 250;
		}
		snprintf(run.source, sizeof(run.source), "analysis");
		snprintf(sha, sizeof(sha), "a%063d", a);
		fw[0] = (struct farm_weather){ "alpha", rows, (size_t)n };
		fw[1] = (struct farm_weather){ "beta", rows, (size_t)n };
		cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "a.nc", &run, fw, 2, &err),
			     WC_OK, "%s", err.msg);
	}
	free(rows);
}

Test(forecast_analyses, nwp_only_model_forecasts_any_lead)
{
	char *d;
	struct store *st = open_store(&d);
	struct train_options o;
	struct farm_model *m;
	struct forecast f;
	struct wc_error err = { 0 };
	const int64_t T = FX_T0 + 20 * 86400;

	fill_analyses(st, 4);	/* 40 days of analyses */
	fx_fill(st, 0, INT64_MAX, 0);	/* no runs, observations of 0 days: none */
	{
		struct obs_row *ob = calloc(40 * 24, sizeof(*ob));

		for (int i = 0; i < 40 * 24; i++)
			ob[i] = (struct obs_row){ FX_T0 + (int64_t)(i + 1) * 3600,
						  100 * fx_curve(fx_truth(FX_T0 + (i + 1) * 3600)),
						  OBS_OK };
		cr_assert_eq(store_obs_upsert(st, "alpha", ob, 40 * 24, &err), WC_OK);
		free(ob);
	}
	tiny_train_options(&o);
	o.features.nwp_only = true;
	o.features.max_lead = 24;
	o.issue_every = 24 * 3600;
	o.to = T;
	o.point_mean = true;	/* the model's point: the mean of its quantiles */
	cr_assert_eq(farm_model_train(st, "alpha", &o, &m, &err), WC_OK, "%s", err.msg);
	/* issue times every 24 h from the first observation: the last is T - 23 h */
	cr_assert_eq(m->train_to, T - 23 * 3600);
	cr_assert_eq(farm_model_save(st, m, &err), WC_OK, "%s", err.msg);
	farm_model_free(m);
	/* a week ahead from NWP alone, beyond the trained leads and every observation */
	issue(st, "alpha", "nn", T, 168, &f);
	cr_assert_str_eq(f.model, "nn");
	cr_assert_eq(f.nlead, 168, "%s", f.note);
	cr_assert(f.has_run && !f.run_is_forecast);
	cr_assert_str_eq(f.fallback, "");
	for (int i = 0; i < f.nlead; i += 50)
		cr_assert_float_eq(f.point[i], quantile_mean(f.taus, f.q + (size_t)i * f.nq, f.nq),
				   1e-6);
	forecast_release(&f);
	/* asked for the median, the median it is */
	{
		struct forecast_options fo;
		struct forecaster *fcr;

		forecast_options_init(&fo);
		fo.horizon = 3;
		fo.point = FORECAST_POINT_MEDIAN;
		cr_assert_eq(forecaster_open(st, "alpha", &fo, T, T, &fcr, &err), WC_OK);
		cr_assert_eq(forecaster_issue(fcr, T, &f, &err), WC_OK, "%s", err.msg);
		cr_assert_float_eq(f.point[0], forecast_quantile(&f, 0, 0.5f), 1e-7);
		forecast_release(&f);
		forecaster_free(fcr);
	}
	store_close(st);
	tu_rmrf_free(d);
}
