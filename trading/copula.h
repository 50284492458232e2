/*
 * copula.h - the Gaussian copula that joins the farms of a portfolio: their forecast
 * errors' dependence measured as the correlation of normal scores of probability-integral
 * transforms (PIT) of past outcomes, and the distribution of the portfolio's sum from
 * each farm's own predictive distribution under that dependence.
 *
 * Why: adding the farms' quantiles assumes their errors move together always (the
 * comonotone case, correlation 1); farms that err independently have a sum whose
 * intervals are narrower. The copula keeps each farm's forecast distribution as it is
 * and takes the dependence from history.
 *
 * Pure arrays, no store: trading/portfolio.c feeds it from hindcasts, tests from known
 * distributions.
 */
#ifndef WC_COPULA_H
#define WC_COPULA_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "trading/qdist.h"

/* Standard normal distribution function and its inverse (Wichura's AS 241, ~1e-16). */
double normal_cdf(double x);
double normal_quantile(double p);

/* The normal score of a PIT value u, u clipped to [0.001, 0.999] (3.09 sigma). */
double pit_score(double u);

/*
 * The correlation matrix R (p, p) of n complete cases z (n, p) of normal scores: the
 * sample correlation, shrunk toward the constant-correlation matrix (1 on the diagonal,
 * the mean of the sample's off-diagonal correlations elsewhere) with weight
 * lambda = min(1, p / n): *lambda and *mean_rho (the mean off-diagonal correlation of
 * the result) say what was done. A perfectly correlated sample (all 1) stays exactly
 * that. A column without variance correlates 0 with the others. n >= 2.
 */
void copula_fit(int p, const double *z, size_t n, double *R, double *lambda, double *mean_rho);

/* Correlated uniforms (ns, p) whose normal scores have correlation R. */
struct copula {
	int p, ns;
	double *u;	/* (ns, p) */
};

/*
 * Draw ns joint samples for correlation R (p, p) deterministically from seed: a Latin
 * hypercube of independent normals (ns strata per dimension, mid-points, shuffled per
 * dimension), mixed by R's symmetric square root (its eigenvectors times the square
 * roots of its non-negative eigenvalues, rows scaled to unit variance), mapped to
 * uniforms. With R all ones every farm gets the same uniform, the ns stratum mid-points.
 * WC_ENOMEM.
 */
enum wc_status copula_init(struct copula *c, int p, const double *R, int ns, uint64_t seed,
			   struct wc_error *err);
void copula_release(struct copula *c);

/*
 * The sum's distribution: sample i is sum_f Q_f(u[i, f]) of margins m (p); its quantiles
 * at levels (n, in (0, 1)) into q (type: the sample's mid-point rule, linear between
 * order statistics at (i + 0.5) / ns), and its mean into *mean (the exact sum of the
 * margins' means, not the sample's). work holds ns doubles.
 */
void copula_sum(const struct copula *c, const struct qdist *m, const float *levels, int n,
		double *q, double *mean, double *work);

#endif
