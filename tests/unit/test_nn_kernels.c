/*
 * test_nn_kernels.c - every nn kernel against a plain-loop reference in double on random
 * shapes (1 row, widths that are not multiples of 8), finite-difference gradient checks
 * for each layer, activation and loss including the non-crossing quantile head, and
 * Adam's first steps against hand-computed values. Max differences are printed.
 *
 * Tolerances: forward kernels agree with the double reference to 1e-5 relative to the
 * sum of absolute terms (float rounding grows with the dot length); gradient checks use
 * central differences in float with h = 1e-2 on losses computed in double, and accept
 * |fd - analytic| <= 2e-3 * max(1, |analytic|), which is well above float noise for the
 * smooth pieces checked (ReLU and pinball kinks are kept away from by construction).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/nn.h"

static float *rnd(uint64_t *rng, size_t n, float scale)
{
	float *p = malloc(n * sizeof(float));

	cr_assert(p);
	for (size_t i = 0; i < n; i++)
		p[i] = scale * (2.0f * nn_rng_uniform(rng) - 1.0f);
	return p;
}

static const int shapes[][3] = {	/* B, C_in, C_out */
	{ 1, 1, 1 }, { 1, 64, 128 }, { 3, 7, 5 }, { 17, 13, 37 }, { 256, 64, 128 },
	{ 255, 129, 36 }, { 9, 1, 21 }, { 31, 100, 1 },
};

Test(nn_kernels, dense_matches_reference)
{
	uint64_t rng = 42;
	double worst_f = 0.0, worst_b = 0.0;

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int B = shapes[s][0], I = shapes[s][1], O = shapes[s][2];
		float *x = rnd(&rng, (size_t)B * I, 1.0f), *w = rnd(&rng, (size_t)I * O, 1.0f);
		float *b = rnd(&rng, O, 1.0f), *y = rnd(&rng, (size_t)B * O, 1.0f);
		float *dy = rnd(&rng, (size_t)B * O, 1.0f), *dx = rnd(&rng, (size_t)B * I, 1.0f);
		float *dw = rnd(&rng, (size_t)I * O, 1.0f), *db = rnd(&rng, O, 1.0f);

		dense_forward(y, x, w, b, B, I, O);
		dense_backward(dx, dw, db, dy, x, w, B, I, O);
		for (int r = 0; r < B; r++)
			for (int o = 0; o < O; o++) {
				double ref = b[o], mag = fabs(b[o]);

				for (int i = 0; i < I; i++) {
					ref += (double)x[r * I + i] * w[i * O + o];
					mag += fabs((double)x[r * I + i] * w[i * O + o]);
				}
				double d = fabs(ref - y[r * O + o]) / (1.0 + mag);
				worst_f = fmax(worst_f, d);
				cr_assert(d < 1e-5, "forward (%d,%d,%d) [%d,%d]: %g vs %g", B, I, O,
					  r, o, ref, (double)y[r * O + o]);
			}
		for (int r = 0; r < B; r++)
			for (int i = 0; i < I; i++) {
				double ref = 0, mag = 0;

				for (int o = 0; o < O; o++) {
					ref += (double)dy[r * O + o] * w[i * O + o];
					mag += fabs((double)dy[r * O + o] * w[i * O + o]);
				}
				double d = fabs(ref - dx[r * I + i]) / (1.0 + mag);
				worst_b = fmax(worst_b, d);
				cr_assert(d < 1e-5, "dinp (%d,%d,%d)", B, I, O);
			}
		for (int i = 0; i < I; i++)
			for (int o = 0; o < O; o++) {
				double ref = 0, mag = 0;

				for (int r = 0; r < B; r++) {
					ref += (double)x[r * I + i] * dy[r * O + o];
					mag += fabs((double)x[r * I + i] * dy[r * O + o]);
				}
				double d = fabs(ref - dw[i * O + o]) / (1.0 + mag);
				worst_b = fmax(worst_b, d);
				cr_assert(d < 1e-5, "dw (%d,%d,%d)", B, I, O);
			}
		for (int o = 0; o < O; o++) {
			double ref = 0, mag = 0;

			for (int r = 0; r < B; r++) {
				ref += dy[r * O + o];
				mag += fabs(dy[r * O + o]);
			}
			double d = fabs(ref - db[o]) / (1.0 + mag);
			worst_b = fmax(worst_b, d);
			cr_assert(d < 1e-5, "db (%d,%d,%d)", B, I, O);
		}
		free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
	}
	printf("nn_kernels dense: max rel diff forward %.3g backward %.3g (tol 1e-5)\n",
	       worst_f, worst_b);
}

Test(nn_kernels, elementwise_and_losses_match_reference)
{
	uint64_t rng = 7;
	size_t n = 1001;
	float *x = rnd(&rng, n, 4.0f), *y = malloc(n * sizeof(float));
	double worst = 0.0;

	relu_forward(y, x, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(y[i], x[i] > 0 ? x[i] : 0.0f);
	silu_forward(y, x, n);
	for (size_t i = 0; i < n; i++) {
		double ref = x[i] / (1.0 + exp(-(double)x[i]));

		worst = fmax(worst, fabs(ref - y[i]));
		cr_assert(fabs(ref - y[i]) < 1e-5);
	}
	/* quantile head against the cumulative definition */
	{
		int B = 5, Q = 21, a = 10;
		float *z = rnd(&rng, (size_t)B * Q, 6.0f), *q = malloc((size_t)B * Q * 4);

		quantile_head_forward(q, z, B, Q, a);
		for (int r = 0; r < B; r++)
			for (int k = 0; k < Q; k++) {
				double ref = z[r * Q + a];

				for (int j = a + 1; j <= k; j++)
					ref += log1p(exp((double)z[r * Q + j]));
				for (int j = k; j < a; j++)
					ref -= log1p(exp((double)z[r * Q + j]));
				worst = fmax(worst, fabs(ref - q[r * Q + k]));
				cr_assert(fabs(ref - q[r * Q + k]) < 1e-4, "head [%d,%d]", r, k);
				if (k)
					cr_assert(q[r * Q + k] >= q[r * Q + k - 1], "crossing");
			}
		/* losses against the textbook formulas */
		float taus[21], yt[5];
		double ref = 0.0;

		for (int k = 0; k < Q; k++)
			taus[k] = (k + 1) / 22.0f;
		for (int r = 0; r < B; r++)
			yt[r] = nn_rng_uniform(&rng);
		for (int r = 0; r < B; r++)
			for (int k = 0; k < Q; k++) {
				double d = yt[r] - q[r * Q + k];

				ref += fmax(taus[k] * d, (taus[k] - 1) * d);
			}
		ref /= B * Q;
		cr_assert(fabs(ref - pinball_forward(q, yt, taus, B, Q)) < 1e-5);
		ref = 0.0;
		for (int i = 0; i < B * Q; i++)
			ref += ((double)q[i] - z[i]) * ((double)q[i] - z[i]);
		cr_assert(fabs(ref / (B * Q) - mse_forward(q, z, B, Q)) < 1e-4 * (1 + ref));
		free(z), free(q);
	}
	printf("nn_kernels elementwise/head/loss: max abs diff %.3g (tol 1e-4)\n", worst);
	free(x), free(y);
}

/* The head's vectorised softplus against log1p(exp(x)) in double, through q[0] = 0 - sp(x). */
Test(nn_kernels, softplus_accuracy)
{
	enum { N = 4001 };
	float *z = malloc(2 * N * sizeof(float)), *q = malloc(2 * N * sizeof(float));
	double worst = 0.0;

	for (int i = 0; i < N; i++) {	/* rows (x, 0), anchor 1: q[0] = -softplus(x) */
		z[2 * i] = -86.0f + 176.0f * (float)i / (N - 1);
		z[2 * i + 1] = 0.0f;
	}
	z[0] = -INFINITY, z[2] = INFINITY, z[4] = NAN, z[6] = -100.0f, z[8] = 0.0f;
	quantile_head_forward(q, z, N, 2, 1);
	cr_assert_eq(q[0], 0.0f);
	cr_assert(isinf(q[2]) && q[2] < 0);
	cr_assert(isnan(q[4]));
	cr_assert(q[6] == 0.0f && fabsf(-q[8] - 0.69314718f) < 1e-7f);
	for (int i = 5; i < N; i++) {
		double x = z[2 * i], ref = x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
		double rel = fabs(-q[2 * i] - ref) / ref;

		worst = fmax(worst, rel);
		cr_assert(rel < 1e-6, "softplus(%g) = %.9g, want %.9g", x, -(double)q[2 * i], ref);
	}
	printf("nn_kernels softplus: max relative error %.3g on [-86, 90] (tol 1e-6)\n", worst);
	free(z), free(q);
}

/*
 * The vectorised SiLU and its derivative against x sigmoid(x) and s (1 + x (1 - s)) in
 * double, over the whole float range a layer can produce, in place and not, with a tail
 * (N is not a multiple of 4); the quantile head's backward uses the same sigmoid.
 */
Test(nn_kernels, silu_accuracy)
{
	enum { N = 4003 };
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
	float *ones = malloc(N * sizeof(float)), *d = malloc(N * sizeof(float));
	double worst_f = 0.0, worst_b = 0.0;

	for (int i = 0; i < N; i++) {
		x[i] = -86.0f + 181.0f * (float)i / (N - 1);
		ones[i] = 1.0f;
	}
	/* below -87 e^x is not a normal float: the sigmoid is 0 there */
	x[0] = -INFINITY, x[1] = INFINITY, x[2] = NAN, x[3] = -90.0f, x[4] = 0.0f;
	x[N - 1] = 1e-30f;
	silu_forward(y, x, N);
	silu_backward(d, x, ones, N);
	cr_assert(y[0] == 0.0f || isnan(y[0]), "silu(-inf) = %g", y[0]);
	cr_assert(isinf(y[1]) && y[1] > 0, "silu(inf) = %g", y[1]);
	cr_assert(isnan(y[2]) && isnan(d[2]));
	cr_assert(y[3] == 0.0f && d[3] == 0.0f, "silu(-90) = %g, %g", y[3], d[3]);
	cr_assert(y[4] == 0.0f && d[4] == 0.5f);
	for (int i = 5; i < N; i++) {
		double xi = x[i], s = 1.0 / (1.0 + exp(-xi));
		double ref = xi * s, dref = s * (1.0 + xi * (1.0 - s));
		double ef = fabs(y[i] - ref) / fmax(fabs(ref), 1e-30);
		/* 1 + x (1 - s) cancels near x = -1.28: its float error scales with 1 + |x| */
		double eb = fabs(d[i] - dref) / (s * (1.0 + fabs(xi)));

		worst_f = fmax(worst_f, ef), worst_b = fmax(worst_b, eb);
		cr_assert(ef < 1e-6, "silu(%g) = %.9g, want %.9g", xi, (double)y[i], ref);
		cr_assert(eb < 1e-6, "silu'(%g) = %.9g, want %.9g", xi, (double)d[i], dref);
	}
	/* in place, as the training loop calls them, gives the same bits */
	memcpy(d, x, N * sizeof(float));
	silu_forward(d, d, N);
	cr_assert(memcmp(d, y, N * sizeof(float)) == 0, "in-place forward differs");
	memcpy(d, ones, N * sizeof(float));
	silu_backward(d, x, d, N);
	silu_backward(y, x, ones, N);
	cr_assert(memcmp(d, y, N * sizeof(float)) == 0, "in-place backward differs");
	printf("nn_kernels silu: max relative error forward %.3g backward %.3g on [-86, 95] "
	       "(tol 1e-6, 1e-6 of s (1 + |x|))\n", worst_f, worst_b);
	free(x), free(y), free(ones), free(d);
}

/* ---- finite-difference gradient checks ---------------------------------------- */

#define FD_H 1e-2f
#define FD_TOL 2e-3

static double fd_worst;

static void fd_check(const char *what, double fd, double an)
{
	double d = fabs(fd - an);

	if (d > fd_worst)
		fd_worst = d;
	cr_assert(d <= FD_TOL * fmax(1.0, fabs(an)), "%s: finite difference %.6g vs analytic %.6g",
		  what, fd, an);
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* L = sum(R * dense(x)) */
static double dense_loss(const float *x, const float *w, const float *b, const float *R,
			 float *y, int B, int I, int O)
{
	dense_forward(y, x, w, b, B, I, O);
	return dot(R, y, (size_t)B * O);
}

Test(nn_grad, dense)
{
	uint64_t rng = 11;
	int B = 3, I = 5, O = 4;
	float *x = rnd(&rng, B * I, 1), *w = rnd(&rng, I * O, 1), *b = rnd(&rng, O, 1);
	float *R = rnd(&rng, B * O, 1), *y = malloc(B * O * 4);
	float *dx = malloc(B * I * 4), *dw = malloc(I * O * 4), *db = malloc(O * 4);
	float *ps[3] = { x, w, b }, *gs[3] = { dx, dw, db };
	int ns[3] = { B * I, I * O, O };

	fd_worst = 0;
	dense_backward(dx, dw, db, R, x, w, B, I, O);
	for (int t = 0; t < 3; t++)
		for (int i = 0; i < ns[t]; i++) {
			float keep = ps[t][i];
			double lp, lm;

			ps[t][i] = keep + FD_H;
			lp = dense_loss(x, w, b, R, y, B, I, O);
			ps[t][i] = keep - FD_H;
			lm = dense_loss(x, w, b, R, y, B, I, O);
			ps[t][i] = keep;
			fd_check("dense", (lp - lm) / (2 * FD_H), gs[t][i]);
		}
	printf("nn_grad dense: max abs diff %.3g (tol %g)\n", fd_worst, FD_TOL);
	free(x), free(w), free(b), free(R), free(y), free(dx), free(dw), free(db);
}

static void check_act(const char *name, void (*fwd)(float *, const float *, size_t),
		      void (*bwd)(float *, const float *, const float *, size_t))
{
	uint64_t rng = 5;
	size_t n = 64;
	float *x = rnd(&rng, n, 3), *R = rnd(&rng, n, 1), *dx = malloc(n * 4), *y = malloc(n * 4);

	fd_worst = 0;
	for (size_t i = 0; i < n; i++)	/* keep away from the ReLU kink */
		if (fabsf(x[i]) < 0.05f)
			x[i] = 0.5f;
	bwd(dx, x, R, n);
	for (size_t i = 0; i < n; i++) {
		float keep = x[i];
		double lp, lm;

		x[i] = keep + FD_H;
		fwd(y, x, n);
		lp = dot(R, y, n);
		x[i] = keep - FD_H;
		fwd(y, x, n);
		lm = dot(R, y, n);
		x[i] = keep;
		fd_check(name, (lp - lm) / (2 * FD_H), dx[i]);
	}
	printf("nn_grad %s: max abs diff %.3g (tol %g)\n", name, fd_worst, FD_TOL);
	free(x), free(R), free(dx), free(y);
}

Test(nn_grad, relu) { check_act("relu", relu_forward, relu_backward); }
Test(nn_grad, silu) { check_act("silu", silu_forward, silu_backward); }

Test(nn_grad, dropout)
{
	uint64_t rng = 9, drng = 3;
	size_t n = 200;
	float *x = rnd(&rng, n, 1), *R = rnd(&rng, n, 1), *mask = malloc(n * 4);
	float *y = malloc(n * 4), *dx = malloc(n * 4);
	int zeros = 0;

	dropout_forward(y, mask, x, n, 0.3f, &drng);
	dropout_backward(dx, mask, R, n);
	for (size_t i = 0; i < n; i++) {
		zeros += mask[i] == 0.0f;
		cr_assert(mask[i] == 0.0f || fabsf(mask[i] - 1 / 0.7f) < 1e-6f);
		cr_assert_eq(y[i], x[i] * mask[i]);
		/* the layer is linear in x given the mask: the gradient is exactly R * mask */
		cr_assert_eq(dx[i], R[i] * mask[i]);
	}
	cr_assert(zeros > 30 && zeros < 90, "dropped %d of 200 at p=0.3", zeros);
	/* the same state gives the same mask; the call takes one draw from the generator */
	{
		uint64_t again = 3, ref = 3;
		float *m2 = malloc(n * 4);

		nn_rng_u64(&ref);
		cr_assert_eq(drng, ref);
		dropout_forward(y, m2, x, n, 0.3f, &again);
		cr_assert(memcmp(mask, m2, n * 4) == 0);
		free(m2);
	}
	free(x), free(R), free(mask), free(y), free(dx);
}

/*
 * The masks' statistics over a million elements in 64 calls of a training step's size: the
 * share dropped at p = 0.1 and 0.5 within 5 binomial standard deviations, no correlation
 * between neighbouring elements or between consecutive calls' masks (|r| < 5 / sqrt(N)).
 */
Test(nn_kernels, dropout_masks_are_fair)
{
	enum { N = 16384, CALLS = 64 };
	float *x = malloc(N * 4), *y = malloc(N * 4), *m = malloc(N * 4), *prev = malloc(N * 4);
	const float ps[2] = { 0.1f, 0.5f };

	for (int i = 0; i < N; i++)
		x[i] = 1.0f;
	for (int k = 0; k < 2; k++) {
		uint64_t rng = 77;
		double p = ps[k], dropped = 0, nb = 0, cross = 0, total = (double)N * CALLS;
		double sd = sqrt(total * p * (1 - p)), tol = 5.0 / sqrt(total);

		for (int c = 0; c < CALLS; c++) {
			dropout_forward(y, m, x, N, ps[k], &rng);
			for (int i = 0; i < N; i++) {
				double a = (m[i] == 0) - p;

				dropped += m[i] == 0;
				if (i)
					nb += a * ((m[i - 1] == 0) - p);
				if (c)
					cross += a * ((prev[i] == 0) - p);
			}
			memcpy(prev, m, N * 4);
		}
		nb /= total * p * (1 - p), cross /= (total - N) * p * (1 - p);
		printf("nn_kernels dropout p=%.1f: dropped %.5f, neighbour r %.5f, call-to-call r "
		       "%.5f (tol %.5f)\n", p, dropped / total, nb, cross, tol);
		cr_assert(fabs(dropped - total * p) < 5 * sd, "dropped %.0f of %.0f", dropped, total);
		cr_assert(fabs(nb) < tol && fabs(cross) < tol, "r %g %g", nb, cross);
	}
	free(x), free(y), free(m), free(prev);
}

Test(nn_grad, quantile_head)
{
	uint64_t rng = 13;
	int B = 3, Q = 7;
	float *z = rnd(&rng, B * Q, 2), *R = rnd(&rng, B * Q, 1);
	float *q = malloc(B * Q * 4), *dz = malloc(B * Q * 4);

	fd_worst = 0;
	for (int a = 0; a < Q; a += 3) {	/* anchor at the bottom, middle, top */
		quantile_head_backward(dz, R, z, B, Q, a);
		for (int i = 0; i < B * Q; i++) {
			float keep = z[i];
			double lp, lm;

			z[i] = keep + FD_H;
			quantile_head_forward(q, z, B, Q, a);
			lp = dot(R, q, B * Q);
			z[i] = keep - FD_H;
			quantile_head_forward(q, z, B, Q, a);
			lm = dot(R, q, B * Q);
			z[i] = keep;
			fd_check("quantile head", (lp - lm) / (2 * FD_H), dz[i]);
		}
	}
	printf("nn_grad quantile head: max abs diff %.3g (tol %g)\n", fd_worst, FD_TOL);
	free(z), free(R), free(q), free(dz);
}

Test(nn_grad, losses)
{
	uint64_t rng = 17;
	int B = 4, Q = 5;
	float taus[5] = { 0.05f, 0.25f, 0.5f, 0.75f, 0.95f };
	float *q = rnd(&rng, B * Q, 1), *y = rnd(&rng, B, 1), *yq = rnd(&rng, B * Q, 1);
	float *dq = malloc(B * Q * 4);

	fd_worst = 0;
	for (int i = 0; i < B * Q; i++)	/* keep away from the pinball kink at q == y */
		if (fabsf(q[i] - y[i / Q]) < 0.05f)
			q[i] += 0.2f;
	pinball_backward(dq, q, y, taus, B, Q);
	for (int i = 0; i < B * Q; i++) {
		float keep = q[i];
		double lp, lm;

		q[i] = keep + FD_H;
		lp = pinball_forward(q, y, taus, B, Q);
		q[i] = keep - FD_H;
		lm = pinball_forward(q, y, taus, B, Q);
		q[i] = keep;
		fd_check("pinball", (lp - lm) / (2 * FD_H), dq[i]);
	}
	mse_backward(dq, q, yq, B, Q);
	for (int i = 0; i < B * Q; i++) {
		float keep = q[i];
		double lp, lm;

		q[i] = keep + FD_H;
		lp = mse_forward(q, yq, B, Q);
		q[i] = keep - FD_H;
		lm = mse_forward(q, yq, B, Q);
		q[i] = keep;
		fd_check("mse", (lp - lm) / (2 * FD_H), dq[i]);
	}
	printf("nn_grad losses: max abs diff %.3g (tol %g)\n", fd_worst, FD_TOL);
	free(q), free(y), free(yq), free(dq);
}

/* The whole chain the trainer runs: dense, ReLU, dense, quantile head, pinball. */
Test(nn_grad, network_chain)
{
	uint64_t rng = 19;
	enum { B = 4, I = 3, H = 6, Q = 5 };
	float taus[Q] = { 0.1f, 0.3f, 0.5f, 0.7f, 0.9f };
	float *x = rnd(&rng, B * I, 1), *w1 = rnd(&rng, I * H, 1), *b1 = rnd(&rng, H, 0.5f);
	float *w2 = rnd(&rng, H * Q, 1), *b2 = rnd(&rng, Q, 1), *y = rnd(&rng, B, 2);
	float z1[B * H], a1[B * H], z2[B * Q], q[B * Q], dq[B * Q], dz2[B * Q], da1[B * H];
	float dw1[I * H], db1[H], dw2[H * Q], db2[Q];
	float *ps[4] = { w1, b1, w2, b2 }, *gs[4] = { dw1, db1, dw2, db2 };
	int ns[4] = { I * H, H, H * Q, Q };
	int checked = 0;

	fd_worst = 0;
#define CHAIN_FWD() (dense_forward(z1, x, w1, b1, B, I, H), relu_forward(a1, z1, B * H), \
		     dense_forward(z2, a1, w2, b2, B, H, Q), \
		     quantile_head_forward(q, z2, B, Q, 2), pinball_forward(q, y, taus, B, Q))
	CHAIN_FWD();
	pinball_backward(dq, q, y, taus, B, Q);
	quantile_head_backward(dz2, dq, z2, B, Q, 2);
	dense_backward(da1, dw2, db2, dz2, a1, w2, B, H, Q);
	relu_backward(da1, z1, da1, B * H);
	dense_backward(NULL, dw1, db1, da1, x, w1, B, I, H);
	for (int t = 0; t < 4; t++)
		for (int i = 0; i < ns[t]; i++) {
			float keep = ps[t][i], zc[B * H], qc[B * Q];
			double lp, lm;
			int kink = 0;

			memcpy(zc, z1, sizeof(zc));
			memcpy(qc, q, sizeof(qc));
			ps[t][i] = keep + 1e-3f;
			lp = CHAIN_FWD();
			for (int j = 0; j < B * H; j++)
				kink |= (z1[j] > 0) != (zc[j] > 0);
			for (int j = 0; j < B * Q; j++)
				kink |= (q[j] > y[j / Q]) != (qc[j] > y[j / Q]);
			ps[t][i] = keep - 1e-3f;
			lm = CHAIN_FWD();
			for (int j = 0; j < B * H; j++)
				kink |= (z1[j] > 0) != (zc[j] > 0);
			for (int j = 0; j < B * Q; j++)
				kink |= (q[j] > y[j / Q]) != (qc[j] > y[j / Q]);
			ps[t][i] = keep;
			CHAIN_FWD();
			if (kink)	/* a kink inside the interval: the difference is not a slope */
				continue;
			checked++;
			fd_check("chain", (lp - lm) / 2e-3, gs[t][i]);
		}
#undef CHAIN_FWD
	cr_assert(checked > 40, "only %d parameters checked", checked);
	printf("nn_grad network chain: %d params, max abs diff %.3g (tol %g)\n", checked,
	       fd_worst, FD_TOL);
	free(x), free(w1), free(b1), free(w2), free(b2), free(y);
}

/* ---- Adam ----------------------------------------------------------------------- */

Test(nn_adam, first_steps_match_hand_computed)
{
	/*
	 * p = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01, gradients 0.5, -0.25, 0.125:
	 * t=1: m = 0.05, v = 2.5e-4, m^ = 0.5, v^ = 0.25, p = 1 - 0.1 (1 + 0.01) = 0.899
	 * t=2: m = 0.02, v = 3.1225e-4, p = 0.8714673 ;  t=3: p = 0.8365529 (double reference)
	 */
	float p = 1.0f, m = 0.0f, v = 0.0f, g[3] = { 0.5f, -0.25f, 0.125f };
	double want[3] = { 0.899, 0.8714672987058464, 0.8365529176159483 };
	double wm[3] = { 0.05, 0.02, 0.0305 }, wv[3] = { 2.5e-4, 3.1225e-4, 3.2756275e-4 };

	for (int t = 0; t < 3; t++) {
		adam_update(&p, &g[t], &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, t + 1);
		printf("nn_adam step %d: p %.9f want %.9f diff %.2g\n", t + 1, (double)p, want[t],
		       fabs(p - want[t]));
		cr_assert(fabs(p - want[t]) < 1e-6, "step %d: %.9f vs %.9f", t + 1, (double)p,
			  want[t]);
		/* float (1 - 0.999f) is 0.99998713e-3: v is within 1e-4 relative */
		cr_assert(fabs(m - wm[t]) < 1e-7 && fabs(v - wv[t]) < 1e-4 * wv[t]);
	}
}

Test(nn_rng, deterministic_and_sane)
{
	uint64_t a = 123, b = 123;
	double s = 0, s2 = 0;

	for (int i = 0; i < 10000; i++)
		cr_assert_eq(nn_rng_u64(&a), nn_rng_u64(&b));
	for (int i = 0; i < 20000; i++) {
		float z = nn_rng_normal(&a);

		s += z;
		s2 += (double)z * z;
	}
	cr_assert(fabs(s / 20000) < 0.03 && fabs(s2 / 20000 - 1) < 0.05);
}
