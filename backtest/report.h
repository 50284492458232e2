/*
 * report.h - the backtest's report: one self-contained HTML page (no script, no font,
 * no link to anything outside it; readable offline and printable), its plots drawn here
 * as inline SVG from the numbers of metrics.json, so that the page and the file never
 * disagree.
 *
 * The page, top to bottom: a summary (what was backtested, over which period, how the
 * model was retrained, its headline scores against the baselines); error by lead (RMSE
 * and MAE in % of capacity for the model and each baseline); a reliability diagram
 * (observed against nominal coverage of each quantile level, model and baselines); a fan
 * chart of a sample fortnight (the model's freshest forecast of each hour: its median
 * and central intervals, against the observations); and the tables (overall scores, per
 * lead, per farm, coverage, intervals, the retrain schedule).
 *
 * Bytes depend only on the inputs (no clock, no locale): a re-run writes the same page.
 */
#ifndef WC_BACKTEST_REPORT_H
#define WC_BACKTEST_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"
#include "data/farm.h"
#include "forecast/metrics.h"

/*
 * The model's freshest forecast of each hour of one farm (the latest issue time that
 * reaches it), with the observation: what the fan chart draws. Arrays of n hours from t0
 * (hour-ending), NaN where there is none.
 */
struct report_fan {
	char farm[FARM_ID_MAX + 1];
	double capacity_mw;
	int64_t t0;
	size_t n;
	int nq;
	float taus[QMETRICS_MAX_LEVELS];	/* increasing */
	float *point;			/* (n) fractions of capacity */
	float *q;			/* (n, nq) */
	float *obs;			/* (n) */
	int *lead;			/* (n) the forecast's lead, 0 where none */
};

void report_fan_release(struct report_fan *f);

/* The hours [*a, *b) of the fan chart: the last 14 days (or fewer) of the series that end
 * in an hour with both a forecast and an observation. *a == *b when there is none. */
void report_fan_window(const struct report_fan *f, size_t *a, size_t *b);

/*
 * Append the page for metrics (metrics.json's object, engine.h) and fan (may be NULL or
 * empty: the chart says there is nothing to draw) to out, whose cap bounds it.
 * WC_ETOOLARGE past the cap, WC_EINVAL for metrics without the fields it draws.
 */
enum wc_status report_html(const json_t *metrics, const struct report_fan *fan,
			   struct dynbuf *out, struct wc_error *err);

#endif
