/*
 * test_pcurve.c - the power-curve baseline is fitted on the whole year before T
 * (forecast/baselines.h): against a plain-loop reference that pairs each observed hour
 * with the freshest run delivered by T holding it, on a store of two runs a day over
 * more than a year (the run lookup's walk alone would reach back about 8 days).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/baselines.h"
#include "forecast/series.h"
#include "testutil.h"

#define S0 1735689600		/* 2025-01-01T00:00:00Z, the first run */
#define H UTC_HOUR
#define NRUNS 780		/* every 12 h: 390 days */
#define RUN_H 48		/* rows per run, leads 0 .. 47 */
#define DELAY (3 * H)
#define NLEAD 6
/* the issue time: 2 h after run 760's reference time, so it is not yet delivered */
#define TISSUE (S0 + 760 * 12 * H + 2 * H)

static const float taus[3] = { 0.1f, 0.5f, 0.9f };

static int64_t ref_of(int k)
{
	return S0 + (int64_t)k * 12 * H;
}

/* Run k's speed at lead h; every 7th run has no wind at lead 5 (an older run serves). */
static double speed(int k, int h)
{
	if (k % 7 == 0 && h == 5)
		return NAN;
	return 4 + 4 * (1 + sin(k * 0.77 + h * 0.21)) + 0.01 * h;
}

/* Power of hour t: a curve of the freshest speed that rises over the year, so a fit
 * on the last days differs from one on the year. NaN for every 11th hour (missing). */
static double power(int64_t t, double ws)
{
	double age = (double)(t - S0) / ((double)NRUNS * 12 * H);

	if ((t / H) % 11 == 0)
		return NAN;
	return fmin(1, ws / 14) * (0.4 + 0.6 * age);
}

/* The freshest speed at T for valid time t by a plain loop over every run (NaN: none). */
static double freshest(int64_t T, int64_t t)
{
	for (int k = NRUNS - 1; k >= 0; k--) {
		int64_t r = ref_of(k);

		if (r + DELAY > T || t < r || t > r + (RUN_H - 1) * H)
			continue;
		if (isfinite(speed(k, (int)((t - r) / H))))
			return speed(k, (int)((t - r) / H));
	}
	return NAN;
}

static void fill(struct store *st)
{
	struct farm f = { .id = "pc", .name = "PC", .lat = 55, .lon = 8, .capacity_mw = 100,
			  .hub_height_m = NAN };
	struct obs_row *o = malloc((size_t)NRUNS * 12 * sizeof(*o));
	size_t no = 0;
	struct wc_error err = { 0 };

	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	for (int k = 0; k < NRUNS; k++) {
		struct weather_row rows[RUN_H];
		struct farm_weather fw = { "pc", rows, RUN_H };
		struct nwp_run run = { .is_forecast = true, .ref_time = ref_of(k),
				       .first_valid = ref_of(k),
				       .last_valid = ref_of(k) + (RUN_H - 1) * H,
				       .ntimes = RUN_H };
		char sha[65];

		for (int h = 0; h < RUN_H; h++) {
			struct weather_row *x = &rows[h];

			x->valid_time = ref_of(k) + (int64_t)h * H;
			x->lead_h = h;
			for (int c = 0; c < WEATHER_NCOLS; c++)
				x->v[c] = NAN;
			x->v[WX_WS_HUB] = x->v[WX_WS100] = speed(k, h);
			x->v[WX_WS10] = isfinite(speed(k, h)) ? 0.75 * speed(k, h) : NAN;
		}
		snprintf(run.source, sizeof(run.source), "pcurve fixture %d", k);
		snprintf(sha, sizeof(sha), "%064d", 700000 + k);
		cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "fixture.nc", &run, &fw, 1,
					      &err),
			     WC_OK, "%s", err.msg);
	}
	/* observations of every hour the runs cover, from the freshest speed at the end */
	for (int64_t t = S0 + H; t <= ref_of(NRUNS - 1); t += H) {
		double y = power(t, freshest(INT64_MAX, t));

		if (isfinite(y))
			o[no++] = (struct obs_row){ t, 100 * y, OBS_OK };
	}
	cr_assert_eq(store_obs_upsert(st, "pc", o, no, &err), WC_OK, "%s", err.msg);
	free(o);
}

/* The reference pairs of the year before T: (freshest speed at T, observed power). */
static size_t ref_pairs(int64_t T, double *ws, float *y)
{
	size_t n = 0;

	for (int64_t t = T - 365 * UTC_DAY + H; t <= T; t += H) {
		double w = freshest(T, t), p = power(t, freshest(INT64_MAX, t));

		if (isfinite(w) && isfinite(p)) {
			ws[n] = w;
			y[n++] = (float)(100 * p / 100);
		}
	}
	return n;
}

TestSuite(pcurve, .timeout = 240);

Test(pcurve, fitted_on_the_whole_year_with_the_freshest_run)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct farm_series s;
	struct wc_error err = { 0 };
	double *ws = malloc(365 * 24 * sizeof(double));
	float *y = malloc(365 * 24 * sizeof(float));
	struct power_curve ref;
	struct baseline_info info;
	float point[NLEAD], q[NLEAD * 3];
	const struct farm_curve given = { 3, { 3, 8, 13 }, { 0, 0.3f, 0.9f } };
	double maxd = 0;
	size_t n;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	fill(st);
	/* loaded up to 10 days after T: the runs not delivered at T are in memory too */
	cr_assert_eq(farm_series_load(st, "pc", TISSUE + 10 * UTC_DAY, DELAY, INT64_MIN,
				      INT64_MAX, &s, &err),
		     WC_OK, "%s", err.msg);
	n = ref_pairs(TISSUE, ws, y);
	cr_assert_gt(n, 7500, "the reference has most of the year (%zu pairs)", n);
	cr_assert_eq(power_curve_fit(&ref, ws, y, n, &err), WC_OK, "%s", err.msg);

	cr_assert_eq(baseline_forecast(BASELINE_POWERCURVE, &s, TISSUE, NLEAD, taus, 3, NULL,
				       point, q, &info, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(info.curve_pairs, n, "pairs: %zu, the year has %zu", info.curve_pairs, n);
	cr_assert_eq(info.run, 759, "lead 1 from the newest delivered run (%zu)", info.run);
	for (int h = 1; h <= NLEAD; h++) {
		double w = freshest(TISSUE, TISSUE + h * H);
		double p = power_curve_eval(&ref, w);

		cr_assert(isfinite(p));
		maxd = fmax(maxd, fabs(point[h - 1] - p));
		for (int k = 0; k < 3; k++) {
			double e = fmin(1, fmax(0, p + power_curve_resid(&ref, taus[k])));

			maxd = fmax(maxd, fabs(q[(h - 1) * 3 + k] - e));
		}
	}
	cr_log_info("fitted curve against the plain-loop fit: max |difference| %.2g", maxd);
	cr_assert_lt(maxd, 1e-5, "max difference %g", maxd);

	/* a given curve's residual quantiles come from the same year of pairs */
	power_curve_from_farm(&ref, &given);
	cr_assert_eq(power_curve_set_resid(&ref, ws, y, n, &err), WC_OK);
	cr_assert_eq(baseline_forecast(BASELINE_POWERCURVE, &s, TISSUE, NLEAD, taus, 3, &given,
				       point, q, &info, &err),
		     WC_OK, "%s", err.msg);
	cr_assert(info.curve_given);
	cr_assert_eq(info.curve_pairs, n);
	maxd = 0;
	for (int h = 1; h <= NLEAD; h++) {
		double p = power_curve_eval(&ref, freshest(TISSUE, TISSUE + h * H));

		for (int k = 0; k < 3; k++) {
			double e = fmin(1, fmax(0, p + power_curve_resid(&ref, taus[k])));

			maxd = fmax(maxd, fabs(q[(h - 1) * 3 + k] - e));
		}
	}
	cr_assert_lt(maxd, 1e-5, "given curve's quantiles: max difference %g", maxd);

	free(ws);
	free(y);
	farm_series_release(&s);
	store_close(st);
	tu_rmrf_free(dir);
}
