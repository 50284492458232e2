/*
 * features.h - the forecaster's input rows (DESIGN.md 7).
 *
 * One module builds every row, for training, forecasting, backtesting and the server
 * alike. A row is (farm, issue time T, lead h); its target is the farm's observed power
 * / capacity at the hour ending T + h.
 *
 * The availability rule and the series rows are built from are in forecast/series.h
 * (included here); every lookup below applies that rule at the row's issue time.
 *
 * Features (names as stored in the model file), all NaN-tolerant (forecast/nn imputes):
 *   lead_h, hod_sin, hod_cos, doy_sin, doy_cos     lead and calendar of the valid time
 *                                                   (no doy_* with no_doy)
 *   pool:<farm>                                     a pooled model's farm one-hot: 1 for
 *                                                   the target farm, else 0
 *   nwp_lead_h                                      age of the NWP at the valid time
 *   ws_hub ws100 ws10 wd100_sin wd100_cos wd10_sin wd10_cos shear rho nbr_mean nbr_std
 *                                                   the run's site weather at T + h
 *   ws_hub@k wd100_sin@k wd100_cos@k               the same run at T + h + k hours,
 *                                                   k = -nbr_hours..nbr_hours, k != 0
 *   [ws10@k shear@k]                                with nbr_full, at the same hours
 *   prev_ws_hub prev_ws10 prev2_ws_hub              the two previous available runs at T + h
 *   ws_hub_at_T                                     the same run at the issue hour T (if
 *                                                   it lacks T: the newest available
 *                                                   run that has T)
 *   obs_now_decay                                   obs_lag0 * exp(-h / 4 h)
 *   obs_lag<L>                                      power / capacity at T - L hours
 *                                                   (NaN for leads > obs_max_lead)
 *   <farm>:ws_hub <farm>:ws10 <farm>:wd100_sin <farm>:wd100_cos [<farm>:obs_lag0]
 *                                                   each regional farm (same rule)
 * With obs_gate, leads beyond obs_max_lead also get NaN for ws_hub_at_T, obs_now_decay
 * and the regional obs_lag0: such a row reads nothing observed at or before T, so it is
 * the same whether the power at T was known or not (a telemetry gap, or GEFCom2012's
 * training rows issued inside a test period). Models without the key keep the old rule.
 * With nwp_only the lead, NWP age, previous run and observations are left out, so that a
 * model trained on analyses forecasts any lead from NWP inputs alone.
 */
#ifndef WC_FEATURES_H
#define WC_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/farm.h"
#include "data/store.h"
#include "forecast/series.h"

#define FEAT_DEFAULT_DELAY_S (5 * 3600)
#define FEAT_MAX_LAGS 12
#define FEAT_MAX_REGIONAL 32
#define FEAT_MAX_NBR 6
#define FEAT_MAX_LEAD 744	/* 31 days of hourly leads */

struct feature_config {
	int64_t delay_s;		/* NWP delivery delay, seconds */
	int max_lead;			/* training leads 1..max_lead hours */
	int nbr_hours;			/* neighbouring valid times, 0..FEAT_MAX_NBR */
	bool nbr_full;			/* also 10 m speed and shear at those times */
	bool no_doy;			/* leave out the day of year (history < a year) */
	int n_lags;
	int lags[FEAT_MAX_LAGS];	/* observed power at T - lag hours */
	int obs_max_lead;		/* observation inputs only for leads <= this; 0: all */
	bool obs_gate;			/* obs_max_lead gates every input from the observed
					 * power, not only the lags */
	bool prev_run;			/* previous run's forecast for the same valid time */
	bool nwp_only;			/* no lead, NWP age, previous run or observations */
	bool regional_obs;		/* regional farms' observed power at T */
	int n_regional;
	char regional[FEAT_MAX_REGIONAL][FARM_ID_MAX + 1];
	int n_pool;			/* a pooled model's farms: one-hot inputs */
	char pool[FEAT_MAX_REGIONAL][FARM_ID_MAX + 1];
};

/* Delay 5 h, leads 1..48, neighbours +-3 h, lags 0 1 2 3 6 for leads 1..12 (obs_gate:
 * every observed-power input), previous run, regional observations on, no regional farms. */
void feature_config_init(struct feature_config *c);

/*
 * One-line text form "delay_s=18000 max_lead=48 ..." for model metadata, and its parser
 * (unknown keys are refused). feature_config_format writes at most len bytes.
 */
void feature_config_format(const struct feature_config *c, char *buf, size_t len);
enum wc_status feature_config_parse(const char *text, struct feature_config *c,
				    struct wc_error *err);

/*
 * Set cfg's regional farms for target farm `target_id` from spec: "none", "all" (every
 * other farm), "<R>km" (other farms within R km, great-circle), or a comma-separated list
 * of farm ids. At most FEAT_MAX_REGIONAL farms (the nearest first). WC_EINVAL on a bad
 * spec, WC_ENOTFOUND for an unknown farm.
 */
enum wc_status feature_config_set_regional(struct feature_config *cfg, struct store *st,
					   const char *target_id, const char *spec,
					   struct wc_error *err);

/* A target farm's series and its regional farms' (cfg.regional, in order), loaded alike. */
struct farm_inputs {
	struct farm_series target;
	struct farm_series regional[FEAT_MAX_REGIONAL];
	const struct farm_series *rp[FEAT_MAX_REGIONAL];	/* &regional[i] */
	int nreg;
};

/* farm_series_load of the target and of each of c->regional with the same bounds. */
enum wc_status farm_inputs_load(struct farm_inputs *in, struct store *st, const char *farm_id,
				const struct feature_config *c, int64_t upto, int64_t from,
				int64_t to, struct wc_error *err);
/* The same with observations from obs_from (farm_series_load_span). */
enum wc_status farm_inputs_load_span(struct farm_inputs *in, struct store *st,
				     const char *farm_id, const struct feature_config *c,
				     int64_t upto, int64_t from, int64_t obs_from, int64_t to,
				     struct wc_error *err);
void farm_inputs_release(struct farm_inputs *in);

/* ---- rows ---------------------------------------------------------------------- */

struct features {
	struct feature_config cfg;
	const struct farm_series *target;		/* borrowed */
	const struct farm_series *const *regional;	/* (cfg.n_regional) borrowed */
	int n;						/* F */
	char **names;					/* (F) owned */
};

/*
 * Name the features of cfg for `target` and the regional series (regional[i] must be the
 * farm cfg.regional[i]). Borrowed pointers must outlive f. Release with features_release.
 */
enum wc_status features_init(struct features *f, const struct feature_config *cfg,
			     const struct farm_series *target,
			     const struct farm_series *const *regional, struct wc_error *err);
void features_release(struct features *f);

/*
 * Fill x (F) for issue time T and lead h. Returns true when the target farm has NWP at
 * T + h (the row is usable); x is filled either way, NaN where unknown. *run (may be
 * NULL) gets the index of the target's run in target->runs, or SIZE_MAX.
 */
bool features_row(const struct features *f, int64_t T, int lead, float *x, size_t *run);

#endif
