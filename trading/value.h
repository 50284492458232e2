/*
 * value.h - what a schedule earned, settled against what was delivered (DESIGN.md 9):
 * the revenue of five schedules on the same hours, and the share of the perfect
 * foresight's uplift over committing nothing that each captures.
 *
 * Realised revenue of committing c when a was delivered (commit.h):
 *   R = p c + (p - psi_plus) (a - c)+ - (p + psi_minus) (c - a)+.
 * The five schedules: the rule's (the alpha-quantile), the median's, the mean's, nothing
 * ahead (c = 0: everything sold as surplus at p - psi_plus), and perfect foresight
 * (c = a: no imbalance). Value captured = (R - R_nothing) / (R_perfect - R_nothing); the
 * uplift over nothing in % is 100 (R - R_nothing) / R_nothing.
 *
 * Plain arrays, so that the backtest (issue 13), the API and scripts settle the same way.
 */
#ifndef WC_VALUE_H
#define WC_VALUE_H

#include <stddef.h>

#include "common/status.h"
#include "trading/market.h"

enum value_schedule {
	VALUE_ALPHA, VALUE_MEDIAN, VALUE_MEAN, VALUE_NOTHING, VALUE_PERFECT, VALUE_NSCHEDULES
};

/* "alpha_quantile", "median", "mean", "nothing", "perfect" */
const char *value_schedule_name(enum value_schedule s);

/* Realised revenue of committing c MW for an hour that delivered a MW. */
double value_revenue(double c, double a, const struct period_prices *pp);
/* Its imbalance cost: psi_plus (a - c)+ + psi_minus (c - a)+. */
double value_imbalance_cost(double c, double a, const struct period_prices *pp);

struct value_result {
	size_t n;				/* hours settled */
	size_t skipped;				/* hours with a NaN input, left out */
	double delivered_mwh;
	double revenue[VALUE_NSCHEDULES];
	double imbalance_cost[VALUE_NSCHEDULES];
	double captured[VALUE_NSCHEDULES];	/* NaN when R_perfect == R_nothing */
	double uplift_pct[VALUE_NSCHEDULES];	/* NaN when R_nothing == 0 */
};

/*
 * Settle n hours: the three forecast schedules alpha_c, median, mean (MW), what was
 * delivered (MW) and each hour's prices (prices[i]; NULL entries not allowed). An hour
 * where any of the four values is NaN is left out of every schedule (counted in
 * skipped), so all five settle the same hours. WC_EINVAL for a negative or non-finite
 * price.
 */
enum wc_status value_settle(size_t n, const double *alpha_c, const double *median,
			    const double *mean, const double *delivered,
			    const struct period_prices *prices, struct value_result *out,
			    struct wc_error *err);

/*
 * Add part's hours to sum (counts, delivered energy, revenue and imbalance cost of each
 * schedule) and recompute sum's captured and uplift from its totals, as value_settle
 * would over both sets of hours: how a caller settles hours in pieces (per issue time,
 * lead block or day) and totals them. sum zeroed first (memset) starts empty.
 */
void value_add(struct value_result *sum, const struct value_result *part);

#endif
