/*
 * qdist.h - one period's predictive distribution of output as trading sees it: a
 * piecewise-linear quantile function on [0, 1] built from a forecast's quantiles, with
 * the expectations a commitment needs computed exactly (no sampling, no grid).
 *
 * Between the forecast's levels the function is linear (forecast_quantile's rule).
 * Beyond the outer levels it continues with the slope of the outer segment, clipped to
 * [0, cap]: a forecast whose outer levels are 0.01 and 0.99 changes little, and one
 * with 0.1 and 0.9 does not put 10% of its mass at 0 and at capacity. A forecast of one
 * level is a point mass. Values are clipped to [0, cap] and made non-decreasing.
 */
#ifndef WC_QDIST_H
#define WC_QDIST_H

#define QDIST_MAX 72	/* knots: FORECAST_MAX_LEVELS levels and 4 for the tails */

struct qdist {
	int n;			/* knots, >= 2 */
	double u[QDIST_MAX];	/* 0 = u[0] < ... < u[n-1] = 1 */
	double x[QDIST_MAX];	/* non-decreasing, within [0, cap] */
};

/*
 * From quantiles q at increasing levels taus in (0, 1), nq in 1..QDIST_MAX - 4, in any
 * unit whose bound is cap (1 for fractions, the capacity for MW), times `scale` (q are
 * fractions, MW wanted: the capacity).
 */
void qdist_from_quantiles(struct qdist *d, const float *taus, const float *q, int nq,
			  double scale, double cap);

/* Q(u), u clipped to [0, 1]. */
double qdist_quantile(const struct qdist *d, double u);
/* E[X], the integral of Q. */
double qdist_mean(const struct qdist *d);
/* E[(X - c)+], the expected surplus over c, exactly. */
double qdist_excess(const struct qdist *d, double c);
/* E[(c - X)+] = c - E[X] + E[(X - c)+]. */
double qdist_shortfall(const struct qdist *d, double c);

/*
 * The levels at which Q equals y: [*lo, *hi] (a point where Q rises through y, an
 * interval where Q is flat at y; both 0 below Q(0), both 1 above Q(1)). The
 * probability-integral transform of an outcome y is a uniform draw from it.
 */
void qdist_levels(const struct qdist *d, double y, double *lo, double *hi);

#endif
