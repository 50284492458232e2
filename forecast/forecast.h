/*
 * forecast.h - a farm's forecast at issue time T: choose the model (the farm's trained
 * model, or a baseline), read only what the availability rule allows at T, predict
 * hourly leads 1..H, keep quantiles non-crossing, fall back to a baseline when the model
 * or the NWP is missing (and say so), and store the result.
 *
 * A struct forecaster serves many issue times of one farm from one load of the store
 * (the GEFCom scripts issue thousands): it loads the model once and the farm's series
 * (and its regional farms') once, bounded above by the last issue time it will serve;
 * each issue time then re-applies the availability rule in forecast/features.
 *
 * Values are fractions of capacity in [0, 1]; the JSON and CSV writers add MW.
 */
#ifndef WC_FORECAST_H
#define WC_FORECAST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"
#include "data/store.h"
#include "forecast/nn.h"

#define FORECAST_DEFAULT_HORIZON 36
#define FORECAST_MAX_LEVELS (NN_MAX_QUANTILES + 2)
#define FORECAST_MAX_REQUEST 128	/* quantile levels one request may ask for */

/* The point forecast of the model: the median, or the mean of its quantile function
 * (lower RMSE when the distribution is skewed, near 0 and near capacity). */
enum forecast_point { FORECAST_POINT_MODEL = 0, FORECAST_POINT_MEDIAN, FORECAST_POINT_MEAN };

struct forecast_options {
	const char *model;	/* "auto" (default), "nn", "persistence", "climatology",
				 * "powercurve" */
	int model_version;	/* nn: 0 for the newest */
	int horizon;		/* leads 1..horizon, 1..FEAT_MAX_LEAD (default 36) */
	enum forecast_point point;	/* nn's point forecast; FORECAST_POINT_MODEL: as the
					 * model was trained to give it (train --point) */
};

void forecast_options_init(struct forecast_options *o);

struct forecast {
	char farm_id[FARM_ID_MAX + 1];
	double capacity_mw;
	int64_t issued;
	char model[32];			/* "nn" or a baseline name */
	int model_version;		/* nn: the version used, else 0 */
	char curve[8];			/* powercurve: "farm" (the farm's own curve) or
					 * "fitted" (from history); "" for other models */
	char fallback[384];		/* why a baseline stood in; "" when none did */
	char note[512];			/* e.g. horizon cut at the NWP's reach; "" */
	bool has_run;
	int64_t run_ref_time;		/* 0 for an analysis */
	bool run_is_forecast;
	char run_source[1024];		/* the run's source (struct nwp_run), whole */
	int nq;
	float taus[FORECAST_MAX_LEVELS];	/* increasing levels of q */
	int nlead;
	int64_t *valid;			/* (nlead) hour-ending valid times */
	float *point;			/* (nlead) the point forecast: the median (nn, or the mean
					 * with FORECAST_POINT_MEAN), see baselines.h for the
					 * baselines */
	float *q;			/* (nlead, nq) */
};

void forecast_release(struct forecast *fc);
/* The store key of the forecast's model: "nn:<version>" or the baseline's name. */
void forecast_model_key(const struct forecast *fc, char *buf, size_t len);

struct forecaster;

/*
 * Prepare forecasts of farm_id for issue times in [first, last] (INT64_MIN for both:
 * the default issue time, see forecast_default_issued). Loads the model (unless a
 * baseline is asked for) and the series. *out owned by the caller (forecaster_free).
 * WC_ENOTFOUND for an unknown farm, or model "nn" without a trained model.
 */
enum wc_status forecaster_open(struct store *st, const char *farm_id,
			       const struct forecast_options *o, int64_t first, int64_t last,
			       struct forecaster **out, struct wc_error *err);
void forecaster_free(struct forecaster *fc);
/* The first issue time the forecaster serves (the default one when opened without). */
int64_t forecaster_first(const struct forecaster *fc);

/*
 * Forecast at issue time T (within the open range), floored to the hour (rows are
 * hourly; the floor can only see less). On success *out holds the result
 * (forecast_release). WC_ENOTFOUND when no model nor baseline has inputs at T.
 */
enum wc_status forecaster_issue(struct forecaster *fc, int64_t T, struct forecast *out,
				struct wc_error *err);

/*
 * The default issue time of a farm: the later of the newest run's delivery (reference
 * time + delay) and the last observation, capped at now, floored to the hour. Falls
 * back to now floored to the hour when the farm has neither.
 */
enum wc_status forecast_default_issued(struct store *st, const char *farm_id,
				       int64_t delay_s, int64_t *T, struct wc_error *err);

/* ---- storing and showing ---------------------------------------------------------- */

/* The stored JSON body of fc (a new reference) and its parser. */
json_t *forecast_body(const struct forecast *fc);
enum wc_status forecast_from_body(const char *text, struct forecast *fc, struct wc_error *err);

/* Store n forecasts of one farm in one transaction. */
enum wc_status forecast_store(struct store *st, const struct forecast *fc, size_t n,
			      struct wc_error *err);

/*
 * Parse requested quantile levels: "0.1,0.5,0.9" or "from:to:step" (e.g. 0.01:0.99:0.01).
 * Each in (0, 1), increasing after sorting, at most FORECAST_MAX_REQUEST.
 */
enum wc_status forecast_parse_levels(const char *s, float *levels, int *n,
				     struct wc_error *err);

/*
 * The quantile at level tau of lead i, linear between the forecast's levels. WC_EINVAL
 * (through the return of forecast_check_levels) when tau is outside them.
 */
float forecast_quantile(const struct forecast *fc, int i, float tau);
enum wc_status forecast_check_levels(const struct forecast *fc, const float *levels, int n,
				     struct wc_error *err);

/*
 * The response JSON (a new reference) with leads 1..min(horizon, nlead) and the requested
 * levels (already checked).
 */
json_t *forecast_json(const struct forecast *fc, const float *levels, int n, int horizon,
		      bool stored);

/*
 * CSV rows "issued,valid_time,lead_h,point,q<level>..." (with the header line when
 * `header`), in MW or, with `frac`, fractions of capacity.
 */
enum wc_status forecast_csv(const struct forecast *fc, const float *levels, int n,
			    int horizon, bool header, bool frac, struct dynbuf *out);

#endif
