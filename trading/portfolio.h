/*
 * portfolio.h (trading) - the forecast of a portfolio (data/portfolio.h): the
 * distribution of its farms' summed output for every lead, in fractions of the
 * portfolio's capacity (the farms' sum), in the shape of a farm's forecast.
 *
 * Method (docs/trading.md): each farm is forecast as it would be alone (forecast.h,
 * the same options); their dependence is a Gaussian copula (trading/copula.h) whose
 * correlation is measured, per lead block, on the farms' recent errors: hindcasts by the
 * farms' current models every PORTFOLIO_HINDCAST_EVERY_H hours over the
 * PORTFOLIO_WINDOW_DAYS days before the issue time T, each outcome observed by T (valid
 * time <= T, flagged hours left out) turned into a normal score of its PIT under the
 * hindcast's distribution. Only cases where every farm has one count. A block with
 * fewer than PORTFOLIO_MIN_CASES cases takes the correlation of all leads pooled, and
 * with fewer than that pooled the prior PORTFOLIO_PRIOR_RHO between every pair; the
 * reply says which (dependence.blocks[].source) and notes it. The sum's quantiles come
 * from PORTFOLIO_SAMPLES joint draws (fixed seeds: the same inputs give the same answer);
 * its mean is the exact sum of the farms' means.
 *
 * Hindcasts in the window may fall in the models' training range: their errors are then
 * in-sample, smaller than live ones; the copula uses only their ranks (PIT), which that
 * changes much less. The window's forecasts come from the store when it holds them for
 * the serving model (the batch stores every forecast), else are computed (not stored).
 */
#ifndef WC_TRADING_PORTFOLIO_H
#define WC_TRADING_PORTFOLIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "data/portfolio.h"
#include "data/store.h"
#include "forecast/forecast.h"

#define PORTFOLIO_WINDOW_DAYS 30
#define PORTFOLIO_HINDCAST_EVERY_H 12
#define PORTFOLIO_MIN_CASES 30
#define PORTFOLIO_PRIOR_RHO 0.5
#define PORTFOLIO_SAMPLES 4000
#define PORTFOLIO_NBLOCKS 6
#define PORTFOLIO_MATRIX_MAX 20	/* correlation matrices shown for up to 20 farms */

/* The first lead of each block; block b covers its first .. the next's first - 1. */
extern const int portfolio_block_first[PORTFOLIO_NBLOCKS];

enum dependence_source { DEP_ESTIMATED, DEP_POOLED, DEP_PRIOR };

/* The dependence used for one lead block. */
struct dependence_block {
	int first, last;		/* leads */
	int cases;			/* complete cases in the window for these leads */
	enum dependence_source source;
	double lambda, mean_rho;	/* copula_fit's */
	double *R;			/* (p, p), owned */
};

struct pforecast {
	struct forecast fc;		/* the sum: fc.portfolio, fractions of capacity */
	int nfarms;
	struct forecast *farms;		/* (nfarms) each farm's forecast at the issue time */
	int nblocks;			/* blocks that cover the forecast's leads */
	struct dependence_block blocks[PORTFOLIO_NBLOCKS];
	int pooled_cases;
};

void pforecast_release(struct pforecast *p);

/*
 * The reply JSON (a new reference): forecast_json's with "portfolio" for "farm", plus
 * "farms" (each farm's id, capacity, issue time, model, fallback and NWP run) and
 * "dependence" (method, window, samples, each block's leads, cases, source, shrinkage,
 * mean correlation, and the matrix for up to PORTFOLIO_MATRIX_MAX farms).
 */
json_t *pforecast_json(const struct pforecast *p, const float *levels, int n, int horizon);
/* Its "farms" and "dependence" values alone (new references). */
json_t *pforecast_farms_json(const struct pforecast *p);
json_t *pforecast_dependence_json(const struct pforecast *p);

struct pforecaster;

/*
 * Prepare forecasts of portfolio `id` for issue times in [first, last] (INT64_MIN for
 * both: the default, the latest of the farms' default issue times). Opens a forecaster
 * per farm (forecaster_open with o) over the window before `first` as well.
 * WC_ENOTFOUND for an unknown portfolio, else forecaster_open's errors prefixed with
 * the farm. *out owned by the caller (pforecaster_free).
 */
enum wc_status pforecaster_open(struct store *st, const char *id,
				const struct forecast_options *o, int64_t first, int64_t last,
				struct pforecaster **out, struct wc_error *err);
/*
 * pforecaster_open for issue times [first, last] (both given) with models[i] serving
 * the portfolio's i-th farm (data/portfolio.h's order) instead of its stored model,
 * through forecaster_open_model (borrowed; NULL: none, for the reason `why`): a
 * backtest's models, trained and never saved.
 */
enum wc_status pforecaster_open_models(struct store *st, const char *id,
				       const struct forecast_options *o,
				       struct farm_model *const *models, const char *why,
				       int64_t first, int64_t last, struct pforecaster **out,
				       struct wc_error *err);
void pforecaster_free(struct pforecaster *pf);
int64_t pforecaster_first(const struct pforecaster *pf);
const struct portfolio *pforecaster_portfolio(const struct pforecaster *pf);

/*
 * The portfolio's forecast at T (within the open range): every farm's
 * (forecaster_get_or_issue; a farm that cannot be forecast fails the whole, its error
 * prefixed with the farm), leads up to the shortest farm's, quantiles at the levels of
 * a fixed grid (0.01, 0.025, 0.05, ..., 0.975, 0.99) and those of `levels` that fit in
 * FORECAST_MAX_LEVELS. *out released by the caller (pforecast_release).
 */
enum wc_status pforecaster_get(struct pforecaster *pf, int64_t T, const float *levels, int n,
			       struct pforecast *out, struct wc_error *err);

/*
 * One request, as the CLI and the API take it (forecast_request: issued, horizon,
 * quantiles, model, model_version, point): pforecaster_open and pforecaster_get, then
 * the farms' forecasts computed now are stored when r->store. The point forecast is the
 * median of the sum, or its mean with point=mean.
 */
enum wc_status portfolio_forecast_get(struct store *st, const char *id,
				      const struct forecast_request *r, struct pforecast *out,
				      struct wc_error *err);

#endif
