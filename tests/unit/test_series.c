/*
 * test_series.c - the answer of a farm's series does not depend on the window it was
 * loaded with (forecast/series.h): a long run behind more than 16 short runs that ended
 * earlier still serves its valid times, whether the short ones are loaded or not; and
 * whether the farm has forecast runs is the store's answer, not the window's.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/forecast.h"
#include "forecast/series.h"
#include "testutil.h"

#define T0 1767225600		/* 2026-01-01T00:00:00Z, as test_adapt.c's */
#define DAYS 160		/* acc_fill's span */
#define H UTC_HOUR
#define NSHORT 17		/* more than the walk's 16 */
#define LONG_H 240		/* the long run's hours */

void acc_fill(struct store *st);
void acc_train(struct store *st, const char *farm, int seed, int days, const char *regional);

/* The long run's reference time: after acc_fill's last run (T0 + 159.5 days). */
static const int64_t RL = T0 + (int64_t)DAYS * UTC_DAY;

/* Ingest run number `seq` with reference time ref and `n` hourly rows from ref, the
 * same for farms "lost" and "steady", wind 7 + seq / 100. */
static void ingest(struct store *st, int seq, int64_t ref, int n, bool forecast)
{
	struct weather_row rows[LONG_H + 1];
	struct farm_weather fw[2];
	struct nwp_run run = { .is_forecast = forecast, .ref_time = forecast ? ref : 0,
			       .first_valid = ref, .last_valid = ref + (int64_t)(n - 1) * H,
			       .ntimes = n };
	struct wc_error err = { 0 };
	char sha[65];

	cr_assert_leq(n, LONG_H + 1);
	for (int h = 0; h < n; h++) {
		struct weather_row *x = &rows[h];

		x->valid_time = ref + (int64_t)h * H;
		x->lead_h = forecast ? h : NAN;
		for (int c = 0; c < WEATHER_NCOLS; c++)
			x->v[c] = NAN;
		x->v[WX_WS100] = x->v[WX_WS_HUB] = 7 + seq / 100.0;
		x->v[WX_WS10] = 0.75 * x->v[WX_WS100];
		x->v[WX_WD100] = 240;
	}
	fw[0] = (struct farm_weather){ "lost", rows, (size_t)n };
	fw[1] = (struct farm_weather){ "steady", rows, (size_t)n };
	snprintf(run.source, sizeof(run.source), "series fixture %d", seq);
	snprintf(sha, sizeof(sha), "%064d", 900000 + seq);
	cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "fixture.nc", &run, fw, 2, &err),
		     WC_OK, "%s", err.msg);
}

/* acc_fill's farms and runs, then the long run at RL and NSHORT runs of one hour each
 * at RL + 1 h .. RL + NSHORT h (which end long before RL + 3 days). */
static void fill(struct store *st)
{
	acc_fill(st);
	ingest(st, 1, RL, LONG_H + 1, true);
	for (int k = 1; k <= NSHORT; k++)
		ingest(st, 1 + k, RL + (int64_t)k * H, 1, true);
}

Test(series, long_run_behind_short_ones_serves_in_any_window)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	int64_t T = RL + 3 * UTC_DAY, v = T + 5 * H;
	struct farm_series wide, narrow;
	const struct weather_row *a, *b;
	size_t ra, rb;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	fill(st);
	/* wide: the short runs' rows are in the window; narrow: they are not */
	cr_assert_eq(farm_series_load(st, "steady", T, 0, RL - UTC_DAY, T + 2 * UTC_DAY, &wide,
				      &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(farm_series_load(st, "steady", T, 0, T - 2 * UTC_DAY, T + 2 * UTC_DAY,
				      &narrow, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_geq(wide.nruns, narrow.nruns + NSHORT, "the short runs are loaded in one only");

	a = farm_series_nwp(&wide, T, v, 0, &ra);
	b = farm_series_nwp(&narrow, T, v, 0, &rb);
	cr_assert_not_null(b, "the narrow window finds the long run");
	cr_assert_not_null(a, "the wide window finds it too, behind %d short runs", NSHORT);
	cr_assert_eq(wide.runs[ra].ref_time, RL);
	cr_assert_eq(narrow.runs[rb].ref_time, RL);
	cr_assert_eq(memcmp(a, b, sizeof(*a)), 0, "the same row");
	/* the short runs still serve their own hour, and the previous run is the long one */
	a = farm_series_nwp(&wide, T, RL + NSHORT * H, 0, &ra);
	cr_assert(a && wide.runs[ra].ref_time == RL + NSHORT * H, "the newest short run");
	a = farm_series_nwp(&wide, T, RL + NSHORT * H, 1, &ra);
	cr_assert(a && wide.runs[ra].ref_time == RL, "skip 1: the long run");
	/* available at T: everything; the flag holds in both windows */
	cr_assert(wide.forecast_runs && narrow.forecast_runs);
	farm_series_release(&wide);
	farm_series_release(&narrow);
	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * Forecast runs that stop while analyses go on: a window of the analyses alone still
 * knows the farm has forecast runs (the replay's choice of issue times reads it), and
 * a farm with analyses alone has none.
 */
Test(series, forecast_runs_are_the_stores_not_the_windows)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	struct farm_series s;
	int64_t A = RL + 30 * UTC_DAY;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	acc_fill(st);
	ingest(st, 50, A, 48, false);	/* an analysis a month after the last forecast run */
	cr_assert_eq(farm_series_load(st, "steady", A + 48 * H, 0, A, A + 48 * H, &s, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(s.nruns, 1, "the analysis alone is in the window");
	cr_assert_eq(s.nanalyses, 1);
	cr_assert(s.forecast_runs, "the farm has forecast runs before the window");
	farm_series_release(&s);
	/* before the first forecast run's delivery nothing is available */
	cr_assert_eq(farm_series_load(st, "steady", T0 - 1, 0, INT64_MIN, INT64_MAX, &s, &err),
		     WC_OK, "%s", err.msg);
	cr_assert(!s.forecast_runs, "no forecast run is available before T0");
	cr_assert_eq(s.nruns, 1, "the analysis is (analyses carry no issue time)");
	farm_series_release(&s);
	store_close(st);
	tu_rmrf_free(dir);
}

/* The whole forecast: a forecaster whose range starts 3 days earlier (its window holds
 * the short runs) answers at T as one opened at T alone. */
Test(series, same_forecast_from_two_windows, .timeout = 300)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	struct forecast_options o;
	struct forecaster *fa, *fb;
	struct forecast a, b;
	int64_t T = RL + 3 * UTC_DAY;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	fill(st);
	acc_train(st, "steady", 3, 60, NULL);
	forecast_options_init(&o);
	o.model = "nn";
	o.adapt = FORECAST_ADAPT_OFF;
	cr_assert_eq(forecaster_open(st, "steady", &o, T - 3 * UTC_DAY, T, &fa, &err), WC_OK,
		     "%s", err.msg);
	cr_assert_eq(forecaster_open(st, "steady", &o, T, T, &fb, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecaster_issue(fa, T, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecaster_issue(fb, T, &b, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(a.nlead, b.nlead);
	cr_assert_eq(a.nq, b.nq);
	cr_assert_eq(a.run_ref_time, RL, "lead 1 from the long run (got %lld)",
		     (long long)a.run_ref_time);
	cr_assert_eq(b.run_ref_time, RL);
	for (int i = 0; i < a.nlead; i++)
		cr_assert(isfinite(a.point[i]), "lead %d has a forecast", i + 1);
	cr_assert_eq(memcmp(a.point, b.point, (size_t)a.nlead * sizeof(float)), 0);
	cr_assert_eq(memcmp(a.q, b.q, (size_t)a.nlead * (size_t)a.nq * sizeof(float)), 0);
	forecast_release(&a);
	forecast_release(&b);
	forecaster_free(fa);
	forecaster_free(fb);
	store_close(st);
	tu_rmrf_free(dir);
}
