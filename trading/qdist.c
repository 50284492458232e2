/* qdist.c - piecewise-linear quantile functions and their exact expectations; see qdist.h. */
#include "trading/qdist.h"

#include <math.h>

static double clip(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void add(struct qdist *d, double u, double x)
{
	if (d->n > 0 && u <= d->u[d->n - 1]) {
		/* same level again (a tail that meets its end): keep the larger value */
		if (x > d->x[d->n - 1])
			d->x[d->n - 1] = x;
		return;
	}
	if (d->n == QDIST_MAX)
		return;
	d->u[d->n] = u;
	d->x[d->n] = d->n > 0 && x < d->x[d->n - 1] ? d->x[d->n - 1] : x;
	d->n++;
}

void qdist_from_quantiles(struct qdist *d, const float *taus, const float *q, int nq,
			  double scale, double cap)
{
	double v[QDIST_MAX], t[QDIST_MAX], s;
	int n = 0;

	d->n = 0;
	if (nq > QDIST_MAX - 4)
		nq = QDIST_MAX - 4;
	for (int k = 0; k < nq; k++) {
		double x = clip((double)q[k] * scale, 0, cap);

		if (!(taus[k] > 0 && taus[k] < 1) || (n > 0 && taus[k] <= t[n - 1]))
			continue;
		t[n] = taus[k];
		v[n] = n > 0 && x < v[n - 1] ? v[n - 1] : x;
		n++;
	}
	if (n == 0) {	/* nothing usable: a point mass at 0 */
		add(d, 0, 0);
		add(d, 1, 0);
		return;
	}
	/* the lower tail: the first segment's slope, down to 0 at the most */
	s = n > 1 ? (v[1] - v[0]) / (t[1] - t[0]) : 0;
	if (v[0] - s * t[0] >= 0) {
		add(d, 0, v[0] - s * t[0]);
	} else {
		add(d, 0, 0);
		add(d, t[0] - v[0] / s, 0);
	}
	for (int k = 0; k < n; k++)
		add(d, t[k], v[k]);
	/* the upper tail: the last segment's slope, up to cap at the most */
	s = n > 1 ? (v[n - 1] - v[n - 2]) / (t[n - 1] - t[n - 2]) : 0;
	if (v[n - 1] + s * (1 - t[n - 1]) <= cap) {
		add(d, 1, v[n - 1] + s * (1 - t[n - 1]));
	} else {
		add(d, t[n - 1] + (cap - v[n - 1]) / s, cap);
		add(d, 1, cap);
	}
}

double qdist_quantile(const struct qdist *d, double u)
{
	int k = 1;

	u = clip(u, 0, 1);
	while (k < d->n - 1 && d->u[k] < u)
		k++;
	if (d->u[k] == d->u[k - 1])
		return d->x[k];
	return d->x[k - 1] + (u - d->u[k - 1]) / (d->u[k] - d->u[k - 1]) * (d->x[k] - d->x[k - 1]);
}

double qdist_mean(const struct qdist *d)
{
	double s = 0;

	for (int k = 1; k < d->n; k++)
		s += (d->u[k] - d->u[k - 1]) * 0.5 * (d->x[k - 1] + d->x[k]);
	return s;
}

double qdist_excess(const struct qdist *d, double c)
{
	double s = 0;

	for (int k = 1; k < d->n; k++) {
		double w = d->u[k] - d->u[k - 1], a = d->x[k - 1], b = d->x[k];

		if (a >= c)
			s += w * (0.5 * (a + b) - c);
		else if (b > c)	/* rises through c: the part above it, a triangle */
			s += w * (b - c) / (b - a) * 0.5 * (b - c);
	}
	return s;
}

double qdist_shortfall(const struct qdist *d, double c)
{
	double v = c - qdist_mean(d) + qdist_excess(d, c);

	return v > 0 ? v : 0;	/* rounding below 0 when c is under the whole mass */
}

void qdist_levels(const struct qdist *d, double y, double *lo, double *hi)
{
	int k = 0, j = d->n - 1;

	if (y < d->x[0] || y > d->x[d->n - 1]) {
		*lo = *hi = y < d->x[0] ? 0 : 1;
		return;
	}
	/* the least level where Q reaches y: on the segment that rises to it */
	while (d->x[k] < y)
		k++;
	*lo = k == 0 ? 0
		     : d->u[k - 1] + (y - d->x[k - 1]) / (d->x[k] - d->x[k - 1]) *
					     (d->u[k] - d->u[k - 1]);
	/* the greatest level where Q is still y: on the segment that rises from it */
	while (d->x[j] > y)
		j--;
	*hi = j == d->n - 1 ? 1
			    : d->u[j] + (y - d->x[j]) / (d->x[j + 1] - d->x[j]) *
						(d->u[j + 1] - d->u[j]);
}
