/*
 * test_baselines.c - persistence, climatology and the power curve on hand-computed cases,
 * and the scores the validation report uses.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "forecast/baselines.h"
#include "forecast/metrics.h"
#include "testutil.h"

#define T0 1767225600	/* 2026-01-01T00:00:00Z */

static const float taus[3] = { 0.1f, 0.5f, 0.9f };

/* A farm of 100 MW with six hourly observations 10, 20, ..., 60 MW ending at T0 + 6 h. */
static void six_hours(char **dir, struct store **st, struct farm_series *s)
{
	struct farm f = { .id = "f", .name = "F", .lat = 55, .lon = 8, .capacity_mw = 100,
			  .hub_height_m = NAN };
	struct obs_row o[6];
	struct wc_error err = { 0 };

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, st, &err), WC_OK);
	cr_assert_eq(store_farm_add(*st, &f, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < 6; i++)
		o[i] = (struct obs_row){ T0 + (i + 1) * 3600, 10.0 * (i + 1), OBS_OK };
	cr_assert_eq(store_obs_upsert(*st, "f", o, 6, &err), WC_OK);
	cr_assert_eq(farm_series_load(*st, "f", T0 + 6 * 3600, 0, INT64_MIN, INT64_MAX, s, &err),
		     WC_OK, "%s", err.msg);
}

TestSuite(baselines_hand, .timeout = 30);

Test(baselines_hand, climatology)
{
	char *dir;
	struct store *st;
	struct farm_series s;
	float point[2], q[6];
	struct wc_error err = { 0 };

	six_hours(&dir, &st, &s);
	cr_assert_eq(baseline_forecast(BASELINE_CLIMATOLOGY, &s, T0 + 6 * 3600, 2, taus, 3, NULL,
				       point, q, NULL, &err),
		     WC_OK, "%s", err.msg);
	/* mean of 0.1..0.6 = 0.35; type 7: q0.1 = 0.1 + 0.5 * 0.1 = 0.15, q0.9 = 0.55 */
	cr_assert_float_eq(point[0], 0.35, 1e-6);
	cr_assert_float_eq(point[1], 0.35, 1e-6);
	cr_assert_float_eq(q[0], 0.15, 1e-6);
	cr_assert_float_eq(q[1], 0.35, 1e-6);
	cr_assert_float_eq(q[2], 0.55, 1e-6);
	/* at T0 + 3 h only 0.1, 0.2, 0.3 are known */
	cr_assert_eq(baseline_forecast(BASELINE_CLIMATOLOGY, &s, T0 + 3 * 3600, 1, taus, 3, NULL,
				       point, q, NULL, &err),
		     WC_OK);
	cr_assert_float_eq(point[0], 0.2, 1e-6);
	cr_assert_float_eq(q[0], 0.12, 1e-6);
	farm_series_release(&s);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(baselines_hand, persistence)
{
	char *dir;
	struct store *st;
	struct farm_series s;
	float point[6], q[18];
	struct wc_error err = { 0 };

	six_hours(&dir, &st, &s);
	cr_assert_eq(baseline_forecast(BASELINE_PERSISTENCE, &s, T0 + 6 * 3600, 6, taus, 3, NULL,
				       point, q, NULL, &err),
		     WC_OK, "%s", err.msg);
	for (int h = 0; h < 6; h++)
		cr_assert_float_eq(point[h], 0.6, 1e-6);
	/* lead 1: five changes of +0.1, so every quantile is 0.6 + 0.1 */
	for (int k = 0; k < 3; k++)
		cr_assert_float_eq(q[k], 0.7, 1e-6);
	/* lead 2: +0.2 */
	cr_assert_float_eq(q[3 + 1], 0.8, 1e-6);
	/* lead 5: one change of +0.5, clipped to 1 */
	cr_assert_float_eq(q[12 + 1], 1.0, 1e-6);
	/* lead 6: no pair is known at T, the point itself */
	cr_assert_float_eq(q[15 + 2], 0.6, 1e-6);
	/* more than 24 h after the last observation: no persistence */
	farm_series_release(&s);
	cr_assert_eq(farm_series_load(st, "f", T0 + 40 * 3600, 0, INT64_MIN, INT64_MAX, &s, &err),
		     WC_OK);
	cr_assert_eq(baseline_forecast(BASELINE_PERSISTENCE, &s, T0 + 40 * 3600, 1, taus, 3, NULL,
				       point, q, NULL, &err),
		     WC_ENODATA);
	cr_assert(strstr(err.msg, "24 h"), "%s", err.msg);
	farm_series_release(&s);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(baselines_hand, power_curve_fit)
{
	double ws[8] = { 5.1, 5.2, 5.4, 10.1, 10.2, 10.3, 20.0, 20.1 };
	float y[8] = { 0.2f, 0.4f, 0.3f, 0.8f, 0.8f, 0.8f, 1.0f, 1.0f };
	struct power_curve pc;
	struct wc_error err = { 0 };

	cr_assert_eq(power_curve_fit(&pc, ws, y, 8, &err), WC_OK, "%s", err.msg);
	/* bin 10 (5.0-5.5) mean 0.3, bin 20 (10.0-10.5) mean 0.8; the two 20 m/s pairs are
	 * too few and ignored, so the curve stays flat at 0.8 above */
	cr_assert_float_eq(power_curve_eval(&pc, 5.25), 0.3, 1e-6);
	cr_assert_float_eq(power_curve_eval(&pc, 10.25), 0.8, 1e-6);
	cr_assert_float_eq(power_curve_eval(&pc, 7.75), 0.55, 1e-6);	/* halfway */
	cr_assert_float_eq(power_curve_eval(&pc, 2.0), 0.3, 1e-6);	/* flat below */
	cr_assert_float_eq(power_curve_eval(&pc, 25.0), 0.8, 1e-6);	/* flat above */
	cr_assert(isnan(power_curve_eval(&pc, NAN)));
	/* residuals against the interpolated curve, sorted: -0.1, -0.015, 0, 0.005, 0.015,
	 * 0.1, 0.2, 0.2 (5.4 m/s sits 0.3 of a bin past the centre of 0.3 towards 0.35;
	 * 10.1 and 10.2 m/s below the centre of 0.8 from 0.75): the median is 0.01 */
	cr_assert_float_eq(power_curve_resid(&pc, 0.5), 0.01, 1e-6);
	cr_assert_float_eq(power_curve_resid(&pc, 0.0), -0.1, 1e-6);
	cr_assert_eq(power_curve_fit(&pc, ws, y, 2, &err), WC_ENODATA);
}

/* A farm's given curve: linear between its points, 0 below the first, the last beyond. */
Test(baselines_hand, given_power_curve)
{
	const struct farm_curve cut = { 5, { 3, 5, 12, 25, 25.5 }, { 0, 0.1, 1, 1, 0 } };
	const struct farm_curve plain = { 2, { 3, 12 }, { 0, 1 } };
	const struct farm_curve lifted = { 2, { 4, 10 }, { 0.2, 0.8 } };
	const double ws[3] = { 4, 8.5, 12 };
	const float y[3] = { 0.1f, 0.55f, 0.9f };
	struct power_curve pc;
	struct wc_error err = { 0 };

	power_curve_from_farm(&pc, &cut);
	cr_assert_float_eq(power_curve_eval(&pc, 0), 0, 1e-9);
	cr_assert_float_eq(power_curve_eval(&pc, 2.9), 0, 1e-9);
	cr_assert_float_eq(power_curve_eval(&pc, 3), 0, 1e-9);
	cr_assert_float_eq(power_curve_eval(&pc, 4), 0.05, 1e-7);	/* (4-3)/(5-3) * 0.1 */
	cr_assert_float_eq(power_curve_eval(&pc, 5), 0.1, 1e-7);
	cr_assert_float_eq(power_curve_eval(&pc, 8.5), 0.55, 1e-7);	/* 0.1 + 3.5/7 * 0.9 */
	cr_assert_float_eq(power_curve_eval(&pc, 12), 1, 1e-9);
	cr_assert_float_eq(power_curve_eval(&pc, 20), 1, 1e-9);
	cr_assert_float_eq(power_curve_eval(&pc, 25.25), 0.5, 1e-7);	/* into cut-out */
	cr_assert_float_eq(power_curve_eval(&pc, 25.5), 0, 1e-9);
	cr_assert_float_eq(power_curve_eval(&pc, 40), 0, 1e-9, "cut-out kept beyond the end");
	cr_assert(isnan(power_curve_eval(&pc, NAN)));
	/* no residuals yet: no spread */
	cr_assert_float_eq(power_curve_resid(&pc, 0.1), 0, 1e-12);
	cr_assert_float_eq(power_curve_resid(&pc, 0.9), 0, 1e-12);
	/* residuals y - curve: 0.05, 0, -0.1 */
	cr_assert_eq(power_curve_set_resid(&pc, ws, y, 3, &err), WC_OK, "%s", err.msg);
	cr_assert_float_eq(power_curve_resid(&pc, 0.0), -0.1, 1e-6);
	cr_assert_float_eq(power_curve_resid(&pc, 0.5), 0, 1e-6);
	cr_assert_float_eq(power_curve_resid(&pc, 1.0), 0.05, 1e-6);
	cr_assert_float_eq(power_curve_eval(&pc, 8.5), 0.55, 1e-7, "residuals leave the curve");

	power_curve_from_farm(&pc, &plain);
	cr_assert_float_eq(power_curve_eval(&pc, 7.5), 0.5, 1e-7);
	cr_assert_float_eq(power_curve_eval(&pc, 40), 1, 1e-9, "no cut-out given: held at 1");
	power_curve_from_farm(&pc, &lifted);
	cr_assert_float_eq(power_curve_eval(&pc, 3.99), 0, 1e-9, "0 below the first speed");
	cr_assert_float_eq(power_curve_eval(&pc, 4), 0.2, 1e-7);
	cr_assert_float_eq(power_curve_eval(&pc, 7), 0.5, 1e-7);
	cr_assert_float_eq(power_curve_eval(&pc, 11), 0.8, 1e-7);
}

Test(baselines_hand, names)
{
	for (int b = 0; b < BASELINE_COUNT; b++)
		cr_assert_eq(baseline_parse(baseline_name((enum baseline)b)), b);
	cr_assert_eq(baseline_parse("nn"), -1);
}

TestSuite(baselines_metrics, .timeout = 30);

Test(baselines_metrics, scores_by_hand)
{
	struct metrics m;
	float q[3] = { 0.2f, 0.5f, 0.8f };

	metrics_init(&m);
	metrics_add(&m, 0.5, 0.2);	/* error +0.3 */
	metrics_add(&m, 0.1, 0.5);	/* error -0.4 */
	metrics_add(&m, NAN, 0.5);	/* skipped */
	cr_assert_eq(m.n, 2);
	cr_assert_float_eq(metrics_rmse(&m), sqrt((0.09 + 0.16) / 2), 1e-12);
	cr_assert_float_eq(metrics_mae(&m), 0.35, 1e-12);
	cr_assert_float_eq(metrics_bias(&m), -0.05, 1e-12);
	/* y = 0.6: 0.1*0.4 + 0.5*0.1 + (0.9-1)*(-0.2) = 0.04 + 0.05 + 0.02 = 0.11, / 3 */
	metrics_add_quantiles(&m, q, taus, 3, 0.6);
	cr_assert_float_eq(metrics_pinball(&m), 0.11 / 3, 1e-6);
	{
		/* 1 * 0.25 + (1 + 2) / 2 * 0.25 + (2 + 3) / 2 * 0.25 + 3 * 0.25 = 2 */
		float tq[3] = { 0.25f, 0.5f, 0.75f }, qq[3] = { 1, 2, 3 };

		cr_assert_float_eq(quantile_mean(tq, qq, 3), 2.0, 1e-9);
	}
	{
		float v[4] = { 1, 2, 3, 4 };

		cr_assert_float_eq(quantile_sorted(v, 4, 0.5), 2.5, 1e-12);
		cr_assert_float_eq(quantile_sorted(v, 4, 0.25), 1.75, 1e-12);
		cr_assert(isnan(quantile_sorted(v, 0, 0.5)));
	}
}
