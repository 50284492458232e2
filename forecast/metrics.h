/*
 * metrics.h - scores of forecasts against observations (DESIGN.md 9), on fractions of
 * capacity: bias, MAE, RMSE, SDE of point forecasts; for quantile forecasts pinball loss,
 * CRPS, the coverage of each level and the mean of each quantile (interval widths are
 * differences of those); and the empirical quantile the baselines use. NaN pairs (missing
 * forecast or observation) are skipped by every score; a score over no pairs is NaN.
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
/* Standard deviation of the error (population): sqrt(RMSE^2 - bias^2). */
double metrics_sde(const struct metrics *m);

/*
 * CRPS of the distribution whose quantile function is q (nq) at the increasing levels
 * taus (nq): linear between levels, flat beyond the ends (quantile_mean's), for
 * observation y. Exactly 2 * the integral over tau in (0, 1) of the pinball loss of
 * Q(tau) (Gneiting and Ranjan 2011), piece by piece (Simpson's rule is exact on the
 * quadratic pieces). A single level (or equal quantiles) gives |y - q|. NaN when y or a
 * quantile is NaN, or nq < 1.
 */
double quantile_crps(const float *taus, const float *q, int nq, double y);

#define QMETRICS_MAX_LEVELS 128	/* as many as a forecast request may ask for */

/* Running sums of quantile forecasts at fixed levels against observations. */
struct qmetrics {
	int nq;
	float taus[QMETRICS_MAX_LEVELS];	/* increasing */
	size_t n;				/* pairs */
	size_t below[QMETRICS_MAX_LEVELS];	/* pairs with y <= q[k] */
	double sum_q[QMETRICS_MAX_LEVELS];	/* of q[k] */
	double sum_pinball[QMETRICS_MAX_LEVELS];
	double sum_crps;
};

/* Empty sums at levels taus (nq, increasing, at most QMETRICS_MAX_LEVELS: more are cut). */
void qmetrics_init(struct qmetrics *m, const float *taus, int nq);
/* Add quantiles q (m->nq, at m's levels) for observation y; skipped when any is NaN. */
void qmetrics_add(struct qmetrics *m, const float *q, double y);
/* Share of pairs with the observation at or below quantile k: ideally taus[k]. */
double qmetrics_coverage(const struct qmetrics *m, int k);
/* Mean pinball loss over pairs and levels. */
double qmetrics_pinball(const struct qmetrics *m);
double qmetrics_crps(const struct qmetrics *m);
/* Mean of quantile k (the width of the interval between levels j < k is mean k - mean j). */
double qmetrics_mean_q(const struct qmetrics *m, int k);

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

/* Sort n floats ascending (NaNs must have been removed), stably: -0 and +0 are equal and
 * keep their order, as glibc's qsort (a merge sort) keeps them. */
void sort_floats(float *v, size_t n);

#endif
