/*
 * commit.h - day-ahead commitments (DESIGN.md 8): for each delivery period, the energy
 * to commit that maximises expected revenue under a two-price imbalance system, and
 * what to expect of it.
 *
 * Prices per period: day-ahead price p, a surplus sold at p - psi_plus, a deficit bought
 * at p + psi_minus. Committing c MW for an hour that delivers a MW earns
 *   R = p c + (p - psi_plus) (a - c)+ - (p + psi_minus) (c - a)+
 *     = p a - psi_plus (a - c)+ - psi_minus (c - a)+,
 * so E[R] = p E[a] - (expected imbalance cost), and the cost is a pinball loss whose
 * minimum is the quantile of a's distribution at alpha = psi_plus / (psi_plus +
 * psi_minus). The distribution is the forecast's quantile function (trading/qdist.h,
 * linear between its levels, tails with the outer slopes, clipped to [0, capacity]);
 * the expectations are exact integrals of it. Limits min_mw and max_mw (and the
 * capacity) clip the commitment, which stays optimal under them (the cost is convex).
 *
 * Which forecast: the one issued at gate closure (forecast.h's availability rule at
 * that instant: only what was delivered by then), or one issued at an explicit time.
 * One request (struct commit_request) serves the CLI, the API and the batch; a committer
 * serves many issue times of one farm or portfolio from one load.
 */
#ifndef WC_COMMIT_H
#define WC_COMMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"
#include "data/market.h"
#include "data/store.h"
#include "forecast/forecast.h"
#include "trading/market.h"
#include "trading/portfolio.h"
#include "trading/qdist.h"

/* alpha = psi_plus / (psi_plus + psi_minus); the sum must be positive. */
double commit_alpha(double psi_plus, double psi_minus);

/* What to expect of committing c against distribution d (MW, for one hour). */
struct commit_eval {
	double surplus_mwh;	/* E[(a - c)+] */
	double deficit_mwh;	/* E[(c - a)+] */
	double imbalance_cost;	/* psi_plus E[(a - c)+] + psi_minus E[(c - a)+] */
	double revenue;		/* p E[a] - imbalance_cost */
};

void commit_evaluate(const struct qdist *d, const struct period_prices *pp, double c,
		     struct commit_eval *out);

/* The rule: Q(alpha) of d, clipped to [lo, hi]. */
double commit_rule(const struct qdist *d, double alpha, double lo, double hi);

struct commit_period {
	int64_t start, end;		/* UTC; end is the forecast's hour-ending valid time */
	int lead;			/* hours from the issue time to end */
	struct period_prices prices;
	double alpha;
	double committed_mw, median_mw, mean_mw;
	bool limited;			/* min_mw or max_mw moved the rule's value */
	struct commit_eval expect;
};

struct schedule {
	struct pforecast pfc;		/* the forecast used: pfc.fc (a farm's, or a
					 * portfolio's sum with pfc.farms and its dependence) */
	struct market_settings market;	/* as used: stored merged with the request, defaults */
	bool prices_file;		/* prices from a file, not the settings */
	bool has_day;
	struct trading_day day;		/* when has_day */
	int n;
	struct commit_period *p;	/* (n) */
	double committed_mwh, mean_mwh, imbalance_cost, revenue;	/* totals */
};

void schedule_release(struct schedule *s);

/* One request, as every front end takes it. */
struct commit_request {
	bool portfolio;			/* id names a portfolio, else a farm */
	const char *id;
	struct forecast_request fr;	/* model, model_version, horizon (with issued alone),
					 * store; its issued is unused */
	bool horizon_set;		/* horizon was given (commit_request_set): refused
					 * with a day, whose periods set the leads */
	int64_t day;			/* days since 1970-01-01; INT64_MIN: none */
	int64_t issued;			/* INT64_MIN: the forecast at gate closure */
	struct market_settings over;	/* the request's settings, over the stored ones */
	const struct price_table *prices;	/* borrowed; NULL: none */
};

void commit_request_init(struct commit_request *r);

/*
 * Set one field from text, as an option or a query parameter gives it: "day"
 * (YYYY-MM-DD), "issued" (ISO 8601), "horizon" (1..FEAT_MAX_LEAD, with issued and no
 * day: committer_open refuses it with a day), "model", "model_version", and the market settings' keys (price, psi_plus,
 * psi_minus, gate_closure, time_zone, min_mw, max_mw; market_set). On a bad value
 * WC_EINVAL with what to use; "unknown" for another key. `value` must outlive r.
 */
enum wc_status commit_request_set(struct commit_request *r, const char *key,
				  const char *value, struct wc_error *err);

struct committer;

/*
 * Prepare schedules of r for the issue times in [first, last] (both INT64_MIN: r's
 * own, its issued or its day's gate closure). Checks r (day or issued needed; a prices
 * file excludes price, psi_plus and psi_minus), reads the stored settings (WC_ENOTFOUND
 * for an unknown farm or portfolio), merges the request's, finds the trading day and
 * opens the forecaster (or portfolio forecaster). *out owned by the caller.
 */
enum wc_status committer_open(struct store *st, const struct commit_request *r,
			      int64_t first, int64_t last, struct committer **out,
			      struct wc_error *err);
void committer_free(struct committer *c);
/* The issue time r asks for (its issued, or its day's gate closure). */
int64_t committer_issued(const struct committer *c);

/*
 * The schedule from the forecast issued at T: with a day, its periods (the forecast must
 * reach them all, else WC_ENODATA saying how far it reaches); without, leads
 * 1..horizon. WC_ENODATA (409) when no forecast is available at T, saying why and, at
 * gate closure, which. The farms' forecasts computed now are stored when r->fr.store.
 */
enum wc_status committer_run(struct committer *c, int64_t T, struct schedule *out,
			     struct wc_error *err);

/*
 * A committer for forecasts the caller makes (a backtest's, by models it trained and
 * never saved): committer_open's checks (no day: leads from each issue time) and merged
 * settings, without a forecaster. Serve it with committer_schedule.
 */
enum wc_status committer_open_settings(struct store *st, const struct commit_request *r,
				       struct committer **out, struct wc_error *err);
/* The settings it commits under: stored merged with the request's, defaults in. */
const struct market_settings *committer_market(const struct committer *c);

/*
 * committer_run's schedule from the forecast fc (borrowed; out->pfc stays empty): its
 * leads 1..min(nlead, r's horizon), each period's prices (the settings', or the prices
 * file's) and commitments. WC_EINVAL when a period has no prices.
 */
enum wc_status committer_schedule(struct committer *c, const struct forecast *fc,
				  struct schedule *out, struct wc_error *err);

/* committer_open and committer_run for r's one issue time. */
enum wc_status commit_get(struct store *st, const struct commit_request *r,
			  struct schedule *out, struct wc_error *err);

/*
 * The reply JSON (a new reference): the subject ("farm" or "portfolio"), capacity,
 * trading day (null without), time zone and gate closure, the forecast used (issue time
 * and why, model and version, NWP run, fallback, notes; a portfolio's farms and
 * dependence), the market settings used, every period (period_start, period_end,
 * valid_time, lead_h, price, psi_plus, psi_minus, alpha, committed_mw, median_mw,
 * mean_mw, expected surplus and deficit, expected_imbalance_cost, expected_revenue,
 * limited) and the totals.
 */
json_t *schedule_json(const struct schedule *s);

/*
 * CSV rows "farm|portfolio,issued,period_start,period_end,valid_time,lead_h,price,
 * psi_plus,psi_minus,alpha,committed_mw,median_mw,mean_mw,expected_imbalance_cost,
 * expected_revenue" (the header line with `header`).
 */
enum wc_status schedule_csv(const struct schedule *s, bool header, struct dynbuf *out);

#endif
