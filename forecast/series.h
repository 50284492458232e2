/*
 * series.h - one farm's NWP weather and observations in memory, and the availability
 * rule (DESIGN.md 7): what the forecaster's rows, the baselines, the backtest and the
 * batch read, with or without building rows (forecast/features.h).
 *
 * The availability rule. An NWP run with reference time R is available at T exactly
 * when R + delay <= T (nwp_run_available); an observation with hour-ending time t is
 * available exactly when t <= T (obs_available). Files without a reference time
 * (analyses, reanalyses) carry no issue time and are treated as available at every T:
 * they serve NWP-only set-ups such as GEFCom2014, where the "forecasts" are given.
 * Nothing else decides availability: farm_series_load reads the store with these bounds
 * (store_weather_until, store_obs_query), and every lookup at issue time T applies the
 * rule again, so a series loaded once for many issue times (training, batch forecasts)
 * still cannot hand a row anything later than its T.
 */
#ifndef WC_SERIES_H
#define WC_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/farm.h"
#include "data/store.h"

/* The availability rule for NWP runs (see the top of this file). */
bool nwp_run_available(bool is_forecast, int64_t ref_time, int64_t delay_s, int64_t T);
/* The availability rule for observations: hour-ending time t is known at T iff t <= T. */
bool obs_available(int64_t t, int64_t T);

/*
 * The weather and observations of one farm that issue times <= upto may use, loaded once.
 * Runs are ordered: analyses first, then forecasts by reference time; each run's rows are
 * contiguous and ordered by valid time.
 */
struct farm_series {
	struct farm farm;
	int64_t upto;			/* latest issue time this series may serve */
	int64_t delay_s;
	size_t nrows;
	struct weather_row *rows;	/* (nrows) */
	uint32_t *row_run;		/* (nrows) index into runs */
	size_t nruns, nanalyses;	/* runs[0 .. nanalyses) are analyses */
	struct nwp_run *runs;		/* (nruns) */
	size_t *run_first;		/* (nruns) first row of each run */
	size_t *run_n;			/* (nruns) its row count */
	int64_t *run_reach;		/* (nruns) the latest valid time of runs[nanalyses ..
					 * r]'s rows (INT64_MIN: none): where a walk back for
					 * a valid time may stop */
	bool forecast_runs;		/* the farm has weather of a forecast run available
					 * at upto, in the window or not */
	int64_t obs_t0;			/* hour-ending time of obs[0] */
	size_t nobs;
	float *obs;			/* (nobs) hourly power / capacity; NaN when missing,
					 * outage or curtailed */
};

/*
 * Load farm `farm_id` for issue times <= upto (INT64_MAX: everything): weather of runs
 * with ref_time <= upto - delay_s (and analyses) and valid time in [from, to], and
 * observations in [from, min(to, upto)]. Use from = INT64_MIN, to = INT64_MAX for all.
 * On success *s owns everything (farm_series_release).
 */
enum wc_status farm_series_load(struct store *st, const char *farm_id, int64_t upto,
				int64_t delay_s, int64_t from, int64_t to,
				struct farm_series *s, struct wc_error *err);
/* The same with observations from obs_from instead of from (weather still from `from`):
 * for a caller that reads observations further back than weather. */
enum wc_status farm_series_load_span(struct store *st, const char *farm_id, int64_t upto,
				     int64_t delay_s, int64_t from, int64_t obs_from, int64_t to,
				     struct farm_series *s, struct wc_error *err);
void farm_series_release(struct farm_series *s);

/*
 * Hide the observations of the hours whose hour-ending time t lies in one of the n
 * intervals iv[i][0] <= t <= iv[i][1], as if they were flagged outage: they read as
 * missing (NaN) from then on. For a training that must not learn from some hours
 * (train_options.hide_obs).
 */
void farm_series_hide_obs(struct farm_series *s, const int64_t (*iv)[2], size_t n);

/*
 * The NWP row for valid time v at issue time T: the newest forecast run available at T
 * (and <= s->upto) that has v, or with skip = 1 the one before it; failing that (skip 0
 * only) an analysis that has v. A row without any wind speed (masked or NA in its file)
 * counts as absent, so an older run's forecast of v is found behind it. NULL when none.
 * *run (may be NULL) gets the run's index. The walk back looks at the 16 newest runs
 * at most, not counting those that ended before v (last_valid < v and no row of v), so
 * the answer is the same whatever window holding v the series was loaded with: a long
 * run behind 16 short ones that ended earlier still serves v.
 */
const struct weather_row *farm_series_nwp(const struct farm_series *s, int64_t T,
					  int64_t v, int skip, size_t *run);

/* The row of run r (an index into s->runs) with valid time v, or NULL. No availability
 * check: for callers that already chose r by the rule (farm_series_nwp's *run). */
const struct weather_row *farm_series_run_row(const struct farm_series *s, size_t r,
					      int64_t v);

/* Observed power / capacity of the hour ending t, as known at T: NaN when t > T. */
float farm_series_obs(const struct farm_series *s, int64_t t, int64_t T);

/* Hub-height speed of a row (ws_hub, else ws100, else ws10); NaN when none. */
double weather_row_speed(const struct weather_row *r);

/*
 * Issue times for training within [from, to]: every `every` seconds from `from` rounded up
 * to the hour when every > 0; else the moments the series' forecast runs became
 * available (ref_time + delay, rounded up to the hour), or every 24 h over the analyses
 * when there are no forecast runs. *out malloc'd, ascending.
 */
enum wc_status farm_series_issue_times(const struct farm_series *s, int64_t from, int64_t to,
				       int64_t every, int64_t **out, size_t *n,
				       struct wc_error *err);

#endif
