/* metrics.c - forecast scores; see metrics.h. */
#include "forecast/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
}

void metrics_add(struct metrics *m, double f, double y)
{
	double e = f - y;

	if (!isfinite(e))
		return;
	m->n++;
	m->sum_err += e;
	m->sum_abs += fabs(e);
	m->sum_sq += e * e;
}

void metrics_add_quantiles(struct metrics *m, const float *q, const float *taus, int nq,
			   double y)
{
	double s = 0;

	if (!isfinite(y) || nq <= 0)
		return;
	for (int k = 0; k < nq; k++) {
		double d = y - q[k];

		if (!isfinite(d))
			return;
		s += d >= 0 ? taus[k] * d : (taus[k] - 1.0) * d;
	}
	m->sum_pinball += s / nq;
	m->n_pinball++;
}

double metrics_rmse(const struct metrics *m)
{
	return m->n ? sqrt(m->sum_sq / (double)m->n) : NAN;
}

double metrics_mae(const struct metrics *m)
{
	return m->n ? m->sum_abs / (double)m->n : NAN;
}

double metrics_bias(const struct metrics *m)
{
	return m->n ? m->sum_err / (double)m->n : NAN;
}

double metrics_pinball(const struct metrics *m)
{
	return m->n_pinball ? m->sum_pinball / (double)m->n_pinball : NAN;
}

double quantile_sorted(const float *v, size_t n, double tau)
{
	double h, lo;
	size_t i;

	if (n == 0)
		return NAN;
	if (tau <= 0)
		return v[0];
	if (tau >= 1)
		return v[n - 1];
	h = (double)(n - 1) * tau;
	lo = floor(h);
	i = (size_t)lo;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (h - lo) * ((double)v[i + 1] - v[i]);
}

double quantile_mean(const float *taus, const float *q, int nq)
{
	double s;

	if (nq <= 0)
		return NAN;
	s = (double)q[0] * taus[0] + (double)q[nq - 1] * (1.0 - taus[nq - 1]);
	for (int k = 1; k < nq; k++)
		s += 0.5 * ((double)q[k - 1] + q[k]) * (taus[k] - taus[k - 1]);
	return s;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

void sort_floats(float *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_float);
}
