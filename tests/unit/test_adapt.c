/*
 * test_adapt.c - the online adaptation (forecast/adapt.h): its fit against a plain
 * weighted least-squares reference, the availability rule (nothing observed after T
 * enters), and on synthetic farms the issue's two requirements: a farm whose output
 * drops to 0.7 after a date (a lost turbine) recovers at least 80 % of the unadapted
 * error within 7 days, and a farm without drift is not harmed beyond the seed spread.
 *
 * The fixture writes straight through the store API: a "true" hub wind with a random
 * AR(1) part, runs every 12 h whose error grows with lead (an AR(1) in lead, drawn per
 * run), and power from a known curve with 2 % noise.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/adapt.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "forecast/model.h"
#include "forecast/nn_kernels.h"
#include "testutil.h"

#define T0 1767225600		/* 2026-01-01T00:00:00Z */
#define DAYS 160
#define DRIFT_DAY 120		/* output x 0.7 from here on (farm "lost") */
#define LOSS 0.7

/* ---- the fit against a reference ---- */

/* A series holding hourly observations y[0..n) from t0 (hour-ending t0 + 1 h ...). */
static void series_with_obs(struct farm_series *s, int64_t t0, const float *y, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->upto = INT64_MAX;
	s->obs_t0 = t0 + UTC_HOUR;
	s->nobs = n;
	s->obs = malloc(n * sizeof(float));
	memcpy(s->obs, y, n * sizeof(float));
}

Test(adapt, fit_matches_weighted_least_squares)
{
	struct adapt_config cfg;
	struct adapter a;
	struct farm_series s;
	struct adapt_report r;
	struct wc_error err = { 0 };
	enum { N = 400, L = 30 };
	float y[N + L], point[L];
	uint64_t rng = 7;
	int64_t T = T0 + (int64_t)300 * UTC_HOUR;

	adapt_config_init(&cfg);
	cfg.on = true;
	cfg.half_life_s = 50 * UTC_HOUR;
	cfg.prior = 3;
	for (int i = 0; i < N + L; i++)
		y[i] = i % 37 == 5 ? NAN : 0.2f + 0.6f * nn_rng_uniform(&rng);
	series_with_obs(&s, T0, y, N + L);
	adapter_init(&a, &cfg, false, T0 + 40 * UTC_HOUR, 30);
	/* issue times every 6 h from T0; the point is 0.8 y - 0.05 + noise */
	for (int64_t t = T0; t < T; t += 6 * UTC_HOUR) {
		for (int h = 1; h <= L; h++) {
			int64_t i = (t - T0) / UTC_HOUR + h - 1;

			point[h - 1] = isfinite(y[i]) ? 0.8f * y[i] - 0.05f +
								0.05f * nn_rng_normal(&rng)
						      : 0.5f;
		}
		cr_assert_eq(adapter_add(&a, t, point, L, &err), WC_OK, "%s", err.msg);
	}
	adapter_fit(&a, &s, T, &r);
	cr_assert(r.on);
	cr_assert_eq(r.since, T0 + 40 * UTC_HOUR, "start: the model's from (within 8 half-lives)");
	cr_assert_eq(r.nblocks, 4, "blocks 1-6, 7-12, 13-24 and 25-48 reach lead 30: %d",
		     r.nblocks);
	/* reference: plain loops over the same pairs, normal equations with the prior */
	for (int k = 0; k < r.nblocks; k++) {
		double m[2][2] = { { 10 * cfg.prior, 0 }, { 0, cfg.prior } }, v[2] = { 0, cfg.prior };
		double wsum = 0, det, ra, rb;
		int64_t as_of = 0, pairs = 0;

		for (size_t i = 0; i < a.n; i++) {
			const struct adapt_pair *p = &a.pair[i];
			int64_t j = (p->v - T0) / UTC_HOUR - 1;
			int lead = (int)((p->v - p->t) / UTC_HOUR);
			double w;

			if (p->t < r.since || p->v > T || !isfinite(y[j]))
				continue;
			if (adapt_block_of(false, lead) != k)
				continue;
			w = pow(0.5, (double)(T - p->v) / (50.0 * UTC_HOUR));
			m[0][0] += w;
			m[0][1] += w * p->f;
			m[1][1] += w * p->f * p->f;
			v[0] += w * y[j];
			v[1] += w * p->f * y[j];
			wsum += w;
			pairs++;
			as_of = p->v > as_of ? p->v : as_of;
		}
		det = m[0][0] * m[1][1] - m[0][1] * m[0][1];
		ra = (m[1][1] * v[0] - m[0][1] * v[1]) / det;
		rb = (m[0][0] * v[1] - m[0][1] * v[0]) / det;
		cr_assert(pairs > 50);
		cr_assert_float_eq(r.block[k].a, ra, 1e-9, "block %d a %.12f vs %.12f", k,
				   r.block[k].a, ra);
		cr_assert_float_eq(r.block[k].b, rb, 1e-9, "block %d b %.12f vs %.12f", k,
				   r.block[k].b, rb);
		cr_assert_float_eq(r.block[k].weight, wsum, 1e-9);
		cr_assert_leq(as_of, r.as_of);
		/* the data say y = (f + 0.05) / 0.8: gain about 1.2 (shrunk by noise) */
		cr_assert(rb > 1.0 && rb < 1.35, "block %d gain %.3f", k, rb);
	}
	cr_assert_eq(r.as_of, T, "the observation at T itself is known at T");
	/* applied: a + b q, clipped, order kept */
	float q[4] = { 0.0f, 0.3f, 0.6f, 0.95f }, q0[4];

	memcpy(q0, q, sizeof(q));
	adapt_apply(&r, false, 8, q, 4);
	for (int j = 0; j < 4; j++) {
		double want = r.block[1].a + r.block[1].b * q0[j];

		cr_assert_float_eq(q[j], want < 0 ? 0 : want > 1 ? 1 : want, 1e-6);
		cr_assert(j == 0 || q[j] >= q[j - 1]);
	}
	adapter_release(&a);
	free(s.obs);
}

Test(adapt, empty_blocks_are_the_identity_and_config_round_trips)
{
	struct adapt_config c, d;
	struct adapter a;
	struct farm_series s;
	struct adapt_report r;
	struct wc_error err = { 0 };
	float y[10] = { 0 };
	char buf[128];

	adapt_config_init(&c);
	cr_assert(!c.on);
	c.on = true;
	c.half_life_s = 36 * UTC_HOUR;
	c.prior = 12.5;
	adapt_config_format(&c, buf, sizeof(buf));
	cr_assert_eq(adapt_config_parse(buf, &d, &err), WC_OK, "%s: %s", buf, err.msg);
	cr_assert(d.on && d.half_life_s == c.half_life_s && d.prior == c.prior, "%s", buf);
	cr_assert_neq(adapt_config_parse("on half_life_s=60 prior=1", &d, &err), WC_OK,
		      "a half-life under 6 h is refused");
	cr_assert_neq(adapt_config_parse("maybe half_life_s=86400 prior=1", &d, &err), WC_OK);
	cr_assert_neq(adapt_config_parse("on half_life_s=86400 prior=1 x=2", &d, &err), WC_OK);

	series_with_obs(&s, T0, y, 10);
	adapter_init(&a, &c, true, T0, 744);
	adapter_fit(&a, &s, T0 + 5 * UTC_HOUR, &r);
	cr_assert_eq(r.nblocks, 1, "a model of analyses has one block");
	cr_assert(r.block[0].a == 0 && r.block[0].b == 1 && r.pairs == 0 && r.as_of == 0);
	adapter_release(&a);
	free(s.obs);
}

/* ---- synthetic farms ---- */

static double curve(double ws)
{
	if (ws < 3)
		return 0;
	if (ws > 13)
		return 1;
	return (ws - 3) * (ws - 3) / 100.0;
}

/* The true hub wind, hourly from T0 (hour-ending labels T0 + (i + 1) h). */
static double *truth(int hours)
{
	double *w = malloc((size_t)hours * sizeof(double)), e = 0;
	uint64_t rng = 11;

	for (int i = 0; i < hours; i++) {
		double x = (double)i;

		e = 0.97 * e + 0.35 * nn_rng_normal(&rng);
		w[i] = 8.5 + 3.5 * sin(2 * M_PI * x / 74.0) + 2 * sin(2 * M_PI * x / 19.0) + 2 * e;
		if (w[i] < 0)
			w[i] = 0;
	}
	return w;
}

void acc_fill(struct store *st);

/* Farms "lost" (output x LOSS from DRIFT_DAY on) and "steady", their runs and power
 * (shared with test_accuracy.c). */
void acc_fill(struct store *st)
{
	struct farm f[2] = {
		{ .id = "lost", .name = "Lost", .lat = 55.0, .lon = 8.0, .capacity_mw = 100,
		  .hub_height_m = 100 },
		{ .id = "steady", .name = "Steady", .lat = 55.4, .lon = 8.6, .capacity_mw = 100,
		  .hub_height_m = 100 },
	};
	struct wc_error err = { 0 };
	int hours = DAYS * 24 + 60;
	double *w = truth(hours);
	uint64_t rng = 5;

	cr_assert_eq(store_farm_import(st, f, 2, false, &err), WC_OK, "%s", err.msg);
	for (int r = 0; r < DAYS * 2; r++) {
		int64_t ref = T0 + (int64_t)r * 43200;
		struct weather_row rows[2][49];
		struct farm_weather fw[2];
		struct nwp_run run = { .is_forecast = true, .ref_time = ref, .ntimes = 49 };
		char sha[65];

		for (int k = 0; k < 2; k++) {
			double e = 0.3 * nn_rng_normal(&rng);

			for (int h = 0; h <= 48; h++) {
				int64_t v = ref + (int64_t)h * UTC_HOUR;
				int i = (int)((v - T0) / UTC_HOUR) - 1;
				struct weather_row *x = &rows[k][h];
				double ws;

				e = 0.93 * e + (0.2 + 0.5 * h / 48.0) * nn_rng_normal(&rng);
				ws = (i < 0 ? w[0] : w[i]) + e;
				x->valid_time = v;
				x->lead_h = h;
				for (int c = 0; c < WEATHER_NCOLS; c++)
					x->v[c] = NAN;
				x->v[WX_WS100] = x->v[WX_WS_HUB] = ws > 0 ? ws : 0;
				x->v[WX_WS10] = 0.75 * x->v[WX_WS100];
				x->v[WX_WD100] = fmod(220 + 50 * sin((double)v / 150000.0), 360);
			}
			fw[k] = (struct farm_weather){ f[k].id, rows[k], 49 };
		}
		snprintf(run.source, sizeof(run.source), "adapt fixture");
		run.first_valid = ref;
		run.last_valid = ref + 48 * UTC_HOUR;
		snprintf(sha, sizeof(sha), "%064d", r);
		cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "fixture.nc", &run, fw, 2,
					      &err),
			     WC_OK, "%s", err.msg);
	}
	for (int k = 0; k < 2; k++) {
		size_t n = (size_t)DAYS * 24;
		struct obs_row *o = calloc(n, sizeof(*o));

		for (size_t i = 0; i < n; i++) {
			double p = curve(w[i]) + 0.02 * nn_rng_normal(&rng);

			if (k == 0 && i >= (size_t)DRIFT_DAY * 24)
				p *= LOSS;
			o[i].time = T0 + (int64_t)(i + 1) * UTC_HOUR;
			o[i].power_mw = 100 * (p < 0 ? 0 : p > 1 ? 1 : p);
			o[i].flag = OBS_OK;
		}
		cr_assert_eq(store_obs_upsert(st, f[k].id, o, n, &err), WC_OK, "%s", err.msg);
		free(o);
	}
	free(w);
}

void acc_train(struct store *st, const char *farm, int seed, int days, const char *regional);

/* Train and save a small adapted model of `farm` on issue times up to T0 + days (with
 * `regional` as its regional farms when not NULL; shared with test_adapt_cache.c). */
void acc_train(struct store *st, const char *farm, int seed, int days, const char *regional)
{
	struct train_options o;
	struct farm_model *m = NULL;
	struct wc_error err = { 0 };

	train_options_init(&o);
	o.to = T0 + (int64_t)days * UTC_DAY;
	o.nn.n_hidden = 1;
	o.nn.hidden[0] = 16;
	o.nn.n_members = 2;
	o.nn.epochs = 30;
	o.nn.seed = (uint64_t)seed;
	o.point_mean = true;
	cr_assert(o.adapt.on, "adaptation is on by default");
	if (regional)
		cr_assert_eq(feature_config_set_regional(&o.features, st, farm, regional, &err),
			     WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_train(st, farm, &o, &m, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_save(st, m, &err), WC_OK, "%s", err.msg);
	cr_assert(m->adapt_from < m->train_to, "the validation tail is replayed");
	farm_model_free(m);
}

/* RMSE over leads 1..48 of forecasts issued every hour in [a, b] (and of the
 * unadapted ones, and of LOSS x the unadapted ones). */
struct errs {
	double adapted, raw, oracle;
	double gain;			/* last forecast's gain, block 25-48 */
};

static void score(struct store *st, const char *farm, int version, int64_t a, int64_t b,
		  struct errs *e)
{
	double s[3] = { 0 };
	int64_t n = 0;
	struct wc_error err = { 0 };
	struct forecaster *fa, *fr;
	struct forecast_options o;

	forecast_options_init(&o);
	o.model = "nn";
	o.model_version = version;
	o.horizon = 48;
	cr_assert_eq(forecaster_open(st, farm, &o, a, b, &fa, &err), WC_OK, "%s", err.msg);
	o.adapt = FORECAST_ADAPT_OFF;
	cr_assert_eq(forecaster_open(st, farm, &o, a, b, &fr, &err), WC_OK, "%s", err.msg);
	for (int64_t T = a; T <= b; T += UTC_HOUR) {
		struct forecast x, y;

		cr_assert_eq(forecaster_issue(fa, T, &x, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(forecaster_issue(fr, T, &y, &err), WC_OK, "%s", err.msg);
		cr_assert(x.adapt.on && !y.adapt.on);
		cr_assert_eq(x.nlead, y.nlead);
		for (int i = 0; i < x.nlead; i++) {
			struct obs_row *ob = NULL;
			size_t no = 0;
			double obs;

			cr_assert_eq(store_obs_query(st, farm, x.valid[i], x.valid[i], &ob, &no,
						     &err),
				     WC_OK);
			if (no != 1) {
				free(ob);
				continue;
			}
			obs = ob[0].power_mw / 100;
			free(ob);
			s[0] += (x.point[i] - obs) * (x.point[i] - obs);
			s[1] += (y.point[i] - obs) * (y.point[i] - obs);
			s[2] += (LOSS * y.point[i] - obs) * (LOSS * y.point[i] - obs);
			n++;
		}
		e->gain = x.adapt.block[3].b;
		if (T == b)
			for (int k = 0; k < x.adapt.nblocks; k++)
				cr_log_info("  block %d-%d: a %.3f b %.3f weight %.1f (%lld pairs)",
					    x.adapt.block[k].lo, x.adapt.block[k].hi,
					    x.adapt.block[k].a, x.adapt.block[k].b,
					    x.adapt.block[k].weight, (long long)x.adapt.pairs);
		forecast_release(&x);
		forecast_release(&y);
	}
	forecaster_free(fa);
	forecaster_free(fr);
	cr_assert(n > 500, "%lld hours scored", (long long)n);
	e->adapted = sqrt(s[0] / n);
	e->raw = sqrt(s[1] / n);
	e->oracle = sqrt(s[2] / n);
}

Test(adapt, lost_turbine_recovers_and_no_drift_is_not_harmed, .timeout = 300)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	int64_t D = T0 + (int64_t)DRIFT_DAY * UTC_DAY;
	struct errs lost, steady1, steady7, before;
	double rec, spread;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	acc_fill(st);
	acc_train(st, "lost", 1, DRIFT_DAY, NULL);
	acc_train(st, "steady", 1, DRIFT_DAY, NULL);
	acc_train(st, "steady", 7, DRIFT_DAY, NULL);

	/* before the loss the adaptation has nothing to correct on either farm */
	score(st, "lost", 1, D - 6 * UTC_DAY, D - 5 * UTC_DAY, &before);
	/* day 7 after the loss: forecasts issued in (D + 6 d, D + 7 d] */
	score(st, "lost", 1, D + 6 * UTC_DAY + UTC_HOUR, D + 7 * UTC_DAY, &lost);
	rec = (lost.raw - lost.adapted) / (lost.raw - lost.oracle);
	cr_log_info("lost turbine, day 7: RMSE unadapted %.4f, adapted %.4f, 0.7 x unadapted "
		    "%.4f: %.0f %% of the error recovered (gain 25-48 %.3f); before the loss "
		    "%.4f / %.4f",
		    lost.raw, lost.adapted, lost.oracle, 100 * rec, lost.gain, before.raw,
		    before.adapted);
	cr_assert(lost.raw > lost.oracle + 0.01, "the loss must cost something: %.4f vs %.4f",
		  lost.raw, lost.oracle);
	cr_assert_geq(rec, 0.8, "%.0f %% recovered within 7 days", 100 * rec);

	/* the farm without drift: 30 days after the training, two seeds */
	score(st, "steady", 1, D + UTC_HOUR, D + 30 * UTC_DAY, &steady1);
	score(st, "steady", 2, D + UTC_HOUR, D + 30 * UTC_DAY, &steady7);
	spread = fabs(steady1.raw - steady7.raw);
	cr_log_info("no drift, 30 days: unadapted %.4f (seed 7: %.4f, spread %.4f), adapted "
		    "%.4f (seed 7: %.4f)",
		    steady1.raw, steady7.raw, spread, steady1.adapted, steady7.adapted);
	cr_assert_leq(steady1.adapted, steady1.raw + spread, "seed 1: harm beyond the spread");
	cr_assert_leq(steady7.adapted, steady7.raw + spread, "seed 7: harm beyond the spread");
	store_close(st);
	tu_rmrf_free(dir);
}

/* Scale farm `id`'s power after t by k (B's data after the issue time). */
static void scale_after(struct store *st, const char *id, int64_t t, double k)
{
	struct obs_row *o = NULL;
	size_t n = 0;
	struct wc_error err = { 0 };

	cr_assert_eq(store_obs_query(st, id, t + 1, INT64_MAX, &o, &n, &err), WC_OK);
	for (size_t i = 0; i < n; i++)
		o[i].power_mw *= k;
	cr_assert_eq(store_obs_upsert(st, id, o, n, &err), WC_OK, "%s", err.msg);
	free(o);
}

static void issue_one(struct store *st, int64_t T, enum forecast_adapt adapt, struct forecast *x)
{
	struct forecast_options o;
	struct forecaster *fc;
	struct wc_error err = { 0 };

	forecast_options_init(&o);
	o.model = "nn";
	o.horizon = 48;
	o.adapt = adapt;
	cr_assert_eq(forecaster_open(st, "lost", &o, T, T, &fc, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecaster_issue(fc, T, x, &err), WC_OK, "%s", err.msg);
	forecaster_free(fc);
}

/*
 * The reply's adaptation, its storage and the availability rule: two stores equal up to
 * T, B's power after T halved. The adapted forecast at T is the same to the bit in both
 * and its fit used nothing after T; at T + 3 days the fits differ. --adapt off gives the
 * network alone (adaptation null) under its own store key.
 */
Test(adapt, reply_storage_and_nothing_after_T, .timeout = 300)
{
	char *da = tu_tmpdir(), *db = tu_tmpdir(), key[48];
	struct store *a, *b;
	struct wc_error err = { 0 };
	int64_t T = T0 + (int64_t)(DRIFT_DAY + 3) * UTC_DAY + 5 * UTC_HOUR;
	struct forecast xa, xb, ya, yb, raw, back;
	json_t *j, *ad;

	cr_assert_eq(store_open(da, &a, &err), WC_OK);
	cr_assert_eq(store_open(db, &b, &err), WC_OK);
	acc_fill(a);
	acc_fill(b);
	scale_after(b, "lost", T, 0.5);
	acc_train(a, "lost", 1, DRIFT_DAY, NULL);
	acc_train(b, "lost", 1, DRIFT_DAY, NULL);

	issue_one(a, T, FORECAST_ADAPT_MODEL, &xa);
	issue_one(b, T, FORECAST_ADAPT_MODEL, &xb);
	cr_assert(xa.adapt.on && xa.adapt.pairs > 1000);
	cr_assert_leq(xa.adapt.as_of, T, "nothing observed after T");
	cr_assert_eq(xa.nlead, xb.nlead);
	cr_assert_eq(memcmp(xa.q, xb.q, (size_t)xa.nlead * xa.nq * sizeof(float)), 0,
		     "the adapted forecast at T does not depend on the power after T");
	cr_assert_eq(memcmp(&xa.adapt, &xb.adapt, sizeof(xa.adapt)), 0);
	issue_one(a, T + 3 * UTC_DAY, FORECAST_ADAPT_MODEL, &ya);
	issue_one(b, T + 3 * UTC_DAY, FORECAST_ADAPT_MODEL, &yb);
	cr_assert(ya.adapt.block[3].b != yb.adapt.block[3].b,
		  "three days later B's halved power has entered the fit");

	/* the reply */
	j = forecast_json(&xa, xa.taus, 1, 48);
	ad = json_object_get(j, "adaptation");
	cr_assert(json_is_object(ad));
	cr_assert_float_eq(json_number_value(json_object_get(ad, "age_h")),
			   (double)(T - xa.adapt.since) / UTC_HOUR, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(ad, "observed_hours")), xa.adapt.pairs);
	cr_assert(json_number_value(json_object_get(ad, "size_frac")) > 0);
	cr_assert_eq(json_array_size(json_object_get(ad, "blocks")), 4, "1-6 7-12 13-24 25-48");
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(ad, "blocks"), 3), "leads")),
			 "25-48");
	json_decref(j);
	/* stored and read back */
	j = forecast_body(&xa);
	{
		char *text = json_dumps(j, JSON_COMPACT);

		cr_assert_eq(forecast_from_body(text, &back, &err), WC_OK, "%s", err.msg);
		free(text);
	}
	json_decref(j);
	cr_assert(back.adapt.on && back.adapt.nblocks == xa.adapt.nblocks &&
		  back.adapt.since == xa.adapt.since && back.adapt.as_of == xa.adapt.as_of &&
		  back.adapt.pairs == xa.adapt.pairs);
	for (int k = 0; k < xa.adapt.nblocks; k++)
		cr_assert(fabs(back.adapt.block[k].b - xa.adapt.block[k].b) < 1e-9);
	forecast_model_key(&xa, key, sizeof(key));
	cr_assert_str_eq(key, "nn:1", "as the model says: the plain key");

	/* off */
	issue_one(a, T, FORECAST_ADAPT_OFF, &raw);
	cr_assert(!raw.adapt.on);
	j = forecast_json(&raw, raw.taus, 1, 48);
	cr_assert(json_is_null(json_object_get(j, "adaptation")));
	json_decref(j);
	forecast_model_key(&raw, key, sizeof(key));
	cr_assert_str_eq(key, "nn:1:raw");
	cr_assert(memcmp(raw.point, xa.point, (size_t)raw.nlead * sizeof(float)),
		  "the adaptation changed the forecast");

	forecast_release(&xa);
	forecast_release(&xb);
	forecast_release(&ya);
	forecast_release(&yb);
	forecast_release(&raw);
	forecast_release(&back);
	store_close(a);
	store_close(b);
	tu_rmrf_free(da);
	tu_rmrf_free(db);
}
