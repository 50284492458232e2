/*
 * forecast.h - a farm's forecast at issue time T: choose the model (the farm's trained
 * model, or a baseline), read only what the availability rule allows at T, predict
 * hourly leads 1..H, keep quantiles non-crossing, fall back to a baseline when the model
 * or the NWP is missing (and say so), and store the result.
 *
 * One path serves every front end (the CLI, the API, the batch): a struct
 * forecast_request holds what was asked (forecast_request_set parses each field from
 * text, with the ranges and names in one place), and forecast_get_or_issue answers it:
 * the issue time (the one asked for, or the default rule's, saying which and why), the
 * model (auto's choice by validation scores, saying why), then the forecast stored for
 * them, or one computed now and stored.
 *
 * A struct forecaster serves many issue times of one farm from one load of the store
 * (the GEFCom scripts issue thousands): it loads the model once and the farm's series
 * (and its regional farms') once, bounded above by the last issue time it will serve;
 * each issue time then re-applies the availability rule in forecast/features.
 *
 * The network's forecasts are corrected by the model's online adaptation
 * (forecast/adapt.h) unless the model or the request turns it off: at each issue time
 * the forecaster replays the model's own forecasts since the adaptation's start against
 * the power observed by then (incrementally over its issue times, and across forecasters
 * through forecast/replay.h, which keeps the replayed points that are still what a fresh
 * replay would compute), fits the correction and reports it in the forecast (adapt).
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
#include "forecast/adapt.h"
#include "forecast/nn.h"

#define FORECAST_DEFAULT_HORIZON 36
#define FORECAST_DEFAULT_LEVELS "0.1,0.5,0.9"	/* quantile levels shown by default */
#define FORECAST_MAX_VERSION 1000000
#define FORECAST_MAX_LEVELS (NN_MAX_QUANTILES + 2)
#define FORECAST_MAX_REQUEST 128	/* quantile levels one request may ask for */

/* The point forecast of the model: the median, or the mean of its quantile function
 * (lower RMSE when the distribution is skewed, near 0 and near capacity). */
enum forecast_point { FORECAST_POINT_MODEL = 0, FORECAST_POINT_MEDIAN, FORECAST_POINT_MEAN };

/* The network's online adaptation (forecast/adapt.h): as the model was trained to use
 * it (train --adapt), or on or off for this forecast. */
enum forecast_adapt { FORECAST_ADAPT_MODEL = 0, FORECAST_ADAPT_ON, FORECAST_ADAPT_OFF };

struct forecast_options {
	const char *model;	/* "auto" (default), "nn", "persistence", "climatology",
				 * "powercurve" */
	int model_version;	/* nn: 0 for the newest */
	int horizon;		/* leads 1..horizon, 1..FEAT_MAX_LEAD (default 36) */
	enum forecast_point point;	/* nn's point forecast; FORECAST_POINT_MODEL: as the
					 * model was trained to give it (train --point) */
	enum forecast_adapt adapt;	/* nn's online adaptation */
};

void forecast_options_init(struct forecast_options *o);

/* Is `model` one of the names forecast_options.model takes? */
bool forecast_model_known(const char *model);

/* Which rule chose a forecast's issue time (forecast_default_issued). */
enum forecast_issued_rule {
	ISSUED_REQUESTED,	/* the request named it */
	ISSUED_LATEST_RUN,	/* the newest NWP run's delivery */
	ISSUED_LATEST_OBS,	/* the farm's last observation, later than that */
	ISSUED_NOW,		/* now: no data yet, or the newest is later than now */
};

/* "requested", "latest_run", "latest_observation", "now" */
const char *forecast_issued_rule_name(enum forecast_issued_rule r);

struct forecast {
	char farm_id[FARM_ID_MAX + 1];	/* or a portfolio's id, when `portfolio` */
	bool portfolio;			/* the sum of a portfolio's farms (trading/portfolio.h):
					 * JSON and CSV say "portfolio" where they say "farm" */
	double capacity_mw;
	int64_t issued;
	char model[32];			/* "nn" or a baseline name */
	int model_version;		/* nn: the version used, else 0 */
	char curve[8];			/* powercurve: "farm" (the farm's own curve) or
					 * "fitted" (from history); "" for other models */
	char fallback[384];		/* why a baseline stood in; "" when none did */
	bool horizon_cut;		/* fewer leads than asked: the NWP's reach or the
					 * model's trained leads ended (cut_note says which) */
	char cut_note[160];		/* "" unless horizon_cut */
	char note[512];			/* other notes (a hindcast, a curve without spread) */
	int64_t computed_at;		/* when it was computed; 0: unknown (stored before) */
	int64_t delay_s;		/* the NWP delivery delay the availability rule used */
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
	struct adapt_report adapt;	/* nn: the online adaptation applied (adapt.on) */
	enum forecast_adapt adapt_key;	/* ON or OFF when the request overrode the model's
					 * setting: part of the store key, never stored */
	char standin_key[48];		/* when auto's first choice had no inputs and another
					 * model stood in: the store key it is kept under,
					 * "auto:<first choice's key>[,<nn's key>]"; "" else.
					 * Set by forecaster_issue, never stored */

	/* about the request it answers (set by forecaster_get_or_issue, never stored) */
	bool stored;			/* kept in the store: read from it, or written now */
	enum forecast_issued_rule issued_rule;
	char issued_reason[256];	/* why this issue time */
	char model_choice[192];		/* why this model ("requested", or auto's reason) */
	/* the other farms whose data it read (the model's regional inputs), set by
	 * forecaster_get_or_issue so that a reply held in memory knows what makes it stale:
	 * (ninputs) ids, malloc'd, NULL when none */
	int ninputs;
	char (*inputs)[FARM_ID_MAX + 1];
};

void forecast_release(struct forecast *fc);
/* The store key of the forecast's model: "nn:<version>" (":adapted" or ":raw" after it
 * when the request overrode the model's adaptation setting) or the baseline's name; for
 * auto's stand-in its standin_key, under which the next auto request looks for it. */
void forecast_model_key(const struct forecast *fc, char *buf, size_t len);

struct forecaster;
struct farm_model;

/*
 * Prepare forecasts of farm_id for issue times in [first, last] (INT64_MIN for both:
 * the default issue time, see forecast_default_issued). Loads the model (unless a
 * baseline is asked for) and decides which model serves first: the one asked for, or
 * with "auto" whichever of the network and the baselines has the lowest validation RMSE
 * in the model's scores (farm_model_auto_choice); the series are loaded at the first
 * issue. *out owned by the caller (forecaster_free). WC_EINVAL for a bad option (an
 * unknown model, a version with a baseline); WC_ENOTFOUND for an unknown farm, a pinned
 * model_version that does not exist (naming those that do), or model "nn" without a
 * trained model.
 */
enum wc_status forecaster_open(struct store *st, const char *farm_id,
			       const struct forecast_options *o, int64_t first, int64_t last,
			       struct forecaster **out, struct wc_error *err);
/*
 * forecaster_open with the model m (borrowed: it must outlive the forecaster) serving
 * as "nn" (or in auto's choice) instead of the farm's stored model: a model trained and
 * never saved (train_request_train), which the backtest forecasts with. Its forecasts
 * carry m->version (0 for one never saved). m NULL: there is no model, for the reason
 * `why` (auto serves a baseline and says why; nn fails with WC_ENOTFOUND and `why`).
 * WC_EINVAL for a model of another farm or with o->model_version set.
 */
enum wc_status forecaster_open_model(struct store *st, const char *farm_id,
				     const struct forecast_options *o, struct farm_model *m,
				     const char *why, int64_t first, int64_t last,
				     struct forecaster **out, struct wc_error *err);
void forecaster_free(struct forecaster *fc);
/* The first issue time the forecaster serves (the default one when opened without). */
int64_t forecaster_first(const struct forecaster *fc);
/*
 * Why that is the first issue time when it is the default one: *rule and the reason
 * (owned by fc); NULL when the forecaster was opened with its issue times.
 */
const char *forecaster_first_reason(const struct forecaster *fc,
				    enum forecast_issued_rule *rule);

/*
 * Forecast at issue time T (within the open range), floored to the hour (rows are
 * hourly; the floor can only see less), computed now. On success *out holds the result
 * (forecast_release), with stored false. WC_ENODATA when no model nor baseline has
 * inputs at T (the reasons in the message; when the farm has no NWP at all in the year
 * before T, that first: "no NWP for farm 'X' ...: ingest a grid that covers it").
 */
enum wc_status forecaster_issue(struct forecaster *fc, int64_t T, struct forecast *out,
				struct wc_error *err);

/*
 * The forecast at T that the store holds for the model that serves first (same model
 * key and delivery delay, enough leads or cut for want of data, and the fallback this
 * request's would have: none, or why auto has no model), or with auto the stand-in an
 * earlier auto request stored when that model had no inputs at T (its standin_key: the
 * same first choice and network), with the request's point rule applied to its
 * quantiles and out->stored true; else forecaster_issue's; either with out->inputs set.
 * Never writes: see forecast_store.
 */
enum wc_status forecaster_get_or_issue(struct forecaster *fc, int64_t T,
				       struct forecast *out, struct wc_error *err);

/*
 * The default issue time of a farm: the later of the newest run's delivery (reference
 * time + delay) and the last observation, capped at now, floored to the hour. Falls
 * back to now floored to the hour when the farm has neither. *rule and reason (len
 * bytes; both may be NULL) say which, e.g. "latest data: NWP run 2026-03-01T00:00:00Z
 * delivered at 2026-03-01T05:00:00Z (delay 5 h)".
 */
enum wc_status forecast_default_issued(struct store *st, const char *farm_id,
				       int64_t delay_s, int64_t *T,
				       enum forecast_issued_rule *rule, char *reason, size_t len,
				       struct wc_error *err);

/* ---- one request, as every front end takes it ---------------------------------- */

struct forecast_request {
	struct forecast_options o;
	int64_t issued;				/* INT64_MIN: the default issue time */
	float levels[FORECAST_MAX_REQUEST];	/* quantile levels shown, increasing */
	int nlevels;				/* default FORECAST_DEFAULT_LEVELS */
	bool frac;				/* CSV in fractions of capacity, not MW */
	bool store;				/* keep what is computed (default true) */
};

void forecast_request_init(struct forecast_request *r);

/*
 * Set one field of r from text, as a CLI option or a query parameter gives it. key:
 * "issued" (ISO 8601), "horizon" (1..FEAT_MAX_LEAD), "quantiles" (a list or
 * from:to:step), "model", "model_version" (1..FORECAST_MAX_VERSION), "point" (median or
 * mean), "units" (mw or frac), "adapt" (model, on or off). On a bad value WC_EINVAL
 * with err->msg saying what to use ("use 1..744 hours"), for the caller to name the
 * option as its user wrote it;
 * WC_EINVAL "unknown" for another key. r->o.model points into `value` afterwards.
 */
enum wc_status forecast_request_set(struct forecast_request *r, const char *key,
				    const char *value, struct wc_error *err);

/*
 * Answer r for farm_id: forecaster_open and forecaster_get_or_issue at r->issued (or
 * the default issue time), then with r->store the forecast computed now is stored
 * (a store failure is logged and leaves out->stored false). *out as
 * forecaster_get_or_issue.
 */
enum wc_status forecast_get_or_issue(struct store *st, const char *farm_id,
				     const struct forecast_request *r, struct forecast *out,
				     struct wc_error *err);

/* ---- storing and showing ---------------------------------------------------------- */

/* The stored JSON body of fc (a new reference) and its parser. */
json_t *forecast_body(const struct forecast *fc);
enum wc_status forecast_from_body(const char *text, struct forecast *fc, struct wc_error *err);

/*
 * Store those of n forecasts of one farm that are not stored yet, in one transaction,
 * and mark them stored.
 */
enum wc_status forecast_store(struct store *st, struct forecast *fc, size_t n,
			      struct wc_error *err);

/*
 * Parse requested quantile levels: "0.1,0.5,0.9" or "from:to:step" (e.g. 0.01:0.99:0.01).
 * Each in (0, 1), each once (WC_EINVAL for a level given twice), sorted, at most
 * FORECAST_MAX_REQUEST. The message
 * names the text ("invalid quantile list '...': use ...").
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
 * The name of a quantile level: "p10" for 0.1, "p05" for 0.05, "p2.5" for 0.025, "p97.5"
 * for 0.975 (the percentage, at least two digits before any decimals). buf holds at
 * least FORECAST_LEVEL_NAME bytes; returns buf.
 */
#define FORECAST_LEVEL_NAME 16
const char *forecast_level_name(float level, char *buf);

/*
 * The response JSON (a new reference) with leads 1..min(horizon, nlead) and the requested
 * levels (already checked). Each lead is labelled by its delivery period (period_start,
 * period_end: the hour that valid_time ends) beside valid_time, and gives its quantiles
 * as lists (quantiles_mw, quantiles_frac, in the order of "quantiles") and by name
 * ("mw": {"p10": ...}, "frac": {...}; "quantile_names" lists the names).
 */
json_t *forecast_json(const struct forecast *fc, const float *levels, int n, int horizon);

/*
 * Parts of the reply, new references: the model {"name", "version" (null for a
 * baseline), "curve" (null unless powercurve)} and the NWP run {"ref_time" (null for an
 * analysis), "source"} (null when none).
 */
json_t *forecast_model_json(const struct forecast *fc);
json_t *forecast_run_json(const struct forecast *fc);

/* The note of fc as JSON and the headers show it: cut_note and note joined by "; ". */
void forecast_notes(const struct forecast *fc, char *buf, size_t len);

/*
 * CSV rows "farm,issued,period_start,period_end,valid_time,lead_h,model,model_version,
 * fallback,point,p<level>..." ("portfolio" for "farm" for a portfolio; quantile columns
 * named as forecast_level_name names them) with the header line when `header`, in MW or,
 * with `frac`, fractions of capacity;
 * model_version is empty for a baseline, fallback "true" when a baseline stood in for
 * the model asked for (the reason and the notes are the front end's to show beside).
 */
enum wc_status forecast_csv(const struct forecast *fc, const float *levels, int n,
			    int horizon, bool header, bool frac, struct dynbuf *out);

#endif
