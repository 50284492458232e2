/*
 * copula.c - Gaussian copula: fit, joint samples, the sum's quantiles; see copula.h.
 *
 * Limits: cost O(p^3) per fit and factor (cyclic Jacobi), O(ns p^2) per draw, O(ns p
 * log K) per sum (K knots per margin); meant for p up to a few hundred farms.
 */
#include "trading/copula.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double normal_cdf(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

/* Wichura, Algorithm AS 241, Applied Statistics 37 (1988): PPND16. */
double normal_quantile(double p)
{
	double q = p - 0.5, r, v;

	if (!(p > 0 && p < 1))
		return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
	if (fabs(q) <= 0.425) {
		r = 0.180625 - q * q;
		return q *
		       (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r +
			     67265.770927008700853) * r + 45921.953931549871457) * r +
			   13731.693765509461125) * r + 1971.5909503065514427) * r +
			 133.14166789178437745) * r + 3.387132872796366608) /
		       (((((((r * 5226.495278852545925 + 28729.085735721942674) * r +
			     39307.89580009271061) * r + 21213.794301586595867) * r +
			   5394.1960214247511077) * r + 687.1870074920579083) * r +
			 42.313330701600911252) * r + 1.0);
	}
	r = sqrt(-log(q < 0 ? p : 1 - p));
	if (r <= 5) {
		r -= 1.6;
		v = (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r +
			  0.24178072517745061177) * r + 1.27045825245236838258) * r +
			3.64784832476320460504) * r + 5.7694972214606914055) * r +
		      4.6303378461565452959) * r + 1.42343711074968357734) /
		    (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r +
			  0.0151986665636164571966) * r + 0.14810397642748007459) * r +
			0.68976733498510000455) * r + 1.6763848301838038494) * r +
		      2.05319162663775882187) * r + 1.0);
	} else {
		r -= 5;
		v = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r +
			  0.0012426609473880784386) * r + 0.026532189526576123093) * r +
			0.29656057182850489123) * r + 1.7848265399172913358) * r +
		      5.4637849111641143699) * r + 6.6579046435011037772) /
		    (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r +
			  1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r +
			0.0148753612908506148525) * r + 0.13692988092273580531) * r +
		      0.59983220655588793769) * r + 1.0);
	}
	return q < 0 ? -v : v;
}

double pit_score(double u)
{
	return normal_quantile(u < 0.001 ? 0.001 : u > 0.999 ? 0.999 : u);
}

void copula_fit(int p, const double *z, size_t n, double *R, double *lambda, double *mean_rho)
{
	double *mu = calloc((size_t)p, sizeof(double)), *sd = calloc((size_t)p, sizeof(double));
	double rbar = 0, lam = n > 0 ? (double)p / (double)n : 1;
	int npairs = p * (p - 1) / 2;

	if (!mu || !sd) {	/* no memory: the prior of no dependence, said by lambda 1 */
		for (int i = 0; i < p * p; i++)
			R[i] = i % (p + 1) == 0;
		*lambda = 1;
		*mean_rho = 0;
		free(mu);
		free(sd);
		return;
	}
	if (lam > 1)
		lam = 1;
	for (size_t c = 0; c < n; c++)
		for (int j = 0; j < p; j++)
			mu[j] += z[c * p + j] / (double)n;
	for (size_t c = 0; c < n; c++)
		for (int j = 0; j < p; j++)
			sd[j] += (z[c * p + j] - mu[j]) * (z[c * p + j] - mu[j]);
	for (int j = 0; j < p; j++)
		sd[j] = sqrt(sd[j]);
	for (int a = 0; a < p; a++) {
		R[a * p + a] = 1;
		for (int b = a + 1; b < p; b++) {
			double s = 0, r;

			for (size_t c = 0; c < n; c++)
				s += (z[c * p + a] - mu[a]) * (z[c * p + b] - mu[b]);
			r = sd[a] > 0 && sd[b] > 0 ? s / (sd[a] * sd[b]) : 0;
			r = r > 1 ? 1 : r < -1 ? -1 : r;
			R[a * p + b] = R[b * p + a] = r;
			rbar += r / npairs;
		}
	}
	for (int a = 0; a < p; a++)
		for (int b = 0; b < p; b++)
			if (a != b)
				R[a * p + b] = (1 - lam) * R[a * p + b] + lam * rbar;
	*lambda = p > 1 ? lam : 0;
	*mean_rho = p > 1 ? rbar : 1;
	free(mu);
	free(sd);
}

/*
 * Eigen-decomposition of the symmetric a (p, p) by cyclic Jacobi rotations: a becomes
 * diagonal (the eigenvalues), v (p, p) holds the eigenvectors as columns.
 */
static void jacobi(int p, double *a, double *v)
{
	for (int i = 0; i < p * p; i++)
		v[i] = i % (p + 1) == 0;
	for (int sweep = 0; sweep < 60; sweep++) {
		double off = 0;

		for (int i = 0; i < p; i++)
			for (int j = i + 1; j < p; j++)
				off += a[i * p + j] * a[i * p + j];
		if (off < 1e-22)
			break;
		for (int i = 0; i < p; i++) {
			for (int j = i + 1; j < p; j++) {
				double aij = a[i * p + j], th, t, c, s;

				if (fabs(aij) < 1e-300)
					continue;
				th = (a[j * p + j] - a[i * p + i]) / (2 * aij);
				t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
				c = 1 / sqrt(t * t + 1);
				s = t * c;
				for (int k = 0; k < p; k++) {	/* columns i, j of a */
					double x = a[k * p + i], y = a[k * p + j];

					a[k * p + i] = c * x - s * y;
					a[k * p + j] = s * x + c * y;
				}
				for (int k = 0; k < p; k++) {	/* rows i, j */
					double x = a[i * p + k], y = a[j * p + k];

					a[i * p + k] = c * x - s * y;
					a[j * p + k] = s * x + c * y;
				}
				for (int k = 0; k < p; k++) {
					double x = v[k * p + i], y = v[k * p + j];

					v[k * p + i] = c * x - s * y;
					v[k * p + j] = s * x + c * y;
				}
			}
		}
	}
}

/* splitmix64: a small, well-mixed generator for the shuffles. */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void copula_release(struct copula *c)
{
	free(c->u);
	c->u = NULL;
}

enum wc_status copula_init(struct copula *c, int p, const double *R, int ns, uint64_t seed,
			   struct wc_error *err)
{
	size_t pp = (size_t)p * p;
	double *a = malloc(pp * sizeof(double)), *v = malloc(pp * sizeof(double));
	double *A = malloc(pp * sizeof(double)), *e = malloc((size_t)p * sizeof(double));
	int *perm = malloc((size_t)ns * p * sizeof(int));
	enum wc_status ret = WC_OK;

	c->p = p;
	c->ns = ns;
	c->u = malloc((size_t)ns * p * sizeof(double));
	if (!a || !v || !A || !e || !perm || !c->u) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		copula_release(c);
		goto cleanup;
	}
	memcpy(a, R, pp * sizeof(double));
	jacobi(p, a, v);
	/* A = V sqrt(max(L, 0)), rows to unit length: z = A e has correlation R */
	for (int i = 0; i < p; i++) {
		double norm = 0;

		for (int k = 0; k < p; k++) {
			double l = a[k * p + k];

			A[i * p + k] = v[i * p + k] * sqrt(l > 0 ? l : 0);
			norm += A[i * p + k] * A[i * p + k];
		}
		for (int k = 0; k < p && norm > 0; k++)
			A[i * p + k] /= sqrt(norm);
	}
	/* a Latin hypercube: in each dimension, each stratum of ns once */
	for (int k = 0; k < p; k++) {
		uint64_t s = seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(k + 1));
		int *pk = perm + (size_t)k * ns;

		for (int i = 0; i < ns; i++)
			pk[i] = i;
		for (int i = ns - 1; i > 0; i--) {
			int j = (int)(next_u64(&s) % (uint64_t)(i + 1)), t = pk[i];

			pk[i] = pk[j];
			pk[j] = t;
		}
	}
	for (int i = 0; i < ns; i++) {
		for (int k = 0; k < p; k++)
			e[k] = normal_quantile((perm[(size_t)k * ns + i] + 0.5) / ns);
		for (int f = 0; f < p; f++) {
			double z = 0;

			for (int k = 0; k < p; k++)
				z += A[f * p + k] * e[k];
			c->u[(size_t)i * p + f] = normal_cdf(z);
		}
	}
cleanup:
	free(a);
	free(v);
	free(A);
	free(e);
	free(perm);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Q(u) by bisection over the knots (margins may have many). */
static double quantile_at(const struct qdist *d, double u)
{
	int lo = 0, hi = d->n - 1;

	if (u <= 0)
		return d->x[0];
	if (u >= 1)
		return d->x[d->n - 1];
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;

		if (d->u[mid] < u)
			lo = mid;
		else
			hi = mid;
	}
	return d->x[lo] + (u - d->u[lo]) / (d->u[hi] - d->u[lo]) * (d->x[hi] - d->x[lo]);
}

void copula_sum(const struct copula *c, const struct qdist *m, const float *levels, int n,
		double *q, double *mean, double *work)
{
	int ns = c->ns;

	*mean = 0;
	for (int f = 0; f < c->p; f++)
		*mean += qdist_mean(&m[f]);
	for (int i = 0; i < ns; i++) {
		double s = 0;

		for (int f = 0; f < c->p; f++)
			s += quantile_at(&m[f], c->u[(size_t)i * c->p + f]);
		work[i] = s;
	}
	qsort(work, (size_t)ns, sizeof(double), cmp_double);
	for (int k = 0; k < n; k++) {
		/* order statistic i sits at level (i + 0.5) / ns */
		double pos = (double)levels[k] * ns - 0.5;
		int i = (int)floor(pos);

		if (i < 0)
			q[k] = work[0];
		else if (i >= ns - 1)
			q[k] = work[ns - 1];
		else
			q[k] = work[i] + (pos - i) * (work[i + 1] - work[i]);
	}
}
