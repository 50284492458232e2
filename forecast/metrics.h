/*
 * metrics.h - scores of forecasts against observations (DESIGN.md 9), on fractions of
 * capacity: RMSE, MAE, bias, pinball loss, and the empirical quantile the baselines use.
 * NaN pairs (missing forecast or observation) are skipped by every score; a score over no
 * pairs is NaN.
 */
#ifndef WC_METRICS_H
#define WC_METRICS_H

#include <stddef.h>

/* Running sums of one series of (forecast, observation) pairs. */
struct metrics {
	size_t n;
	double sum_err, sum_abs, sum_sq;	/* of forecast - observation */
	double sum_pinball;			/* over pairs, averaged over levels */
	size_t n_pinball;			/* pairs in sum_pinball */
};

void metrics_init(struct metrics *m);
/* Add one point forecast f for observation y. */
void metrics_add(struct metrics *m, double f, double y);
/* Add the pinball loss of quantiles q (nq) at levels taus (nq) for observation y. */
void metrics_add_quantiles(struct metrics *m, const float *q, const float *taus, int nq,
			   double y);
double metrics_rmse(const struct metrics *m);
double metrics_mae(const struct metrics *m);
double metrics_bias(const struct metrics *m);
/* Mean pinball loss per pair (each pair's loss averaged over its levels). */
double metrics_pinball(const struct metrics *m);

/*
 * Quantile at level tau of the n sorted values v (R's type 7: linear interpolation
 * between order statistics). NaN when n == 0.
 */
double quantile_sorted(const float *v, size_t n, double tau);

/*
 * Mean of a distribution given by quantiles q at levels taus (nq, increasing): the
 * integral of the quantile function, linear between levels and flat beyond the ends.
 */
double quantile_mean(const float *taus, const float *q, int nq);

/* Sort n floats ascending (NaNs must have been removed). */
void sort_floats(float *v, size_t n);

#endif
