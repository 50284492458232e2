/*
 * nn_kernels.c - dense layers on cblas_sgemm, activations, dropout, the quantile head,
 * losses, Adam and the splitmix64 generator; see nn_kernels.h for the contracts.
 */
#include "forecast/nn_kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/*
 * The elementwise loops below (activations, bias, Adam) are a third of a training step
 * when left scalar, and GCC's -O2 cost model will not vectorise loops whose length is not
 * a known multiple of the vector width. These functions are compiled as at -O3 instead;
 * the arithmetic (and so the bits) is the same, only the order of independent lanes.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O3")
#endif

void dense_forward(float *out, const float *inp, const float *w, const float *b,
		   int B, int C_in, int C_out)
{
	/* out starts as the bias broadcast over rows, then sgemm adds inp @ w. */
	for (int r = 0; r < B; r++)
		memcpy(out + (size_t)r * C_out, b, (size_t)C_out * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C_out, C_in,
		    1.0f, inp, C_in, w, C_out, 1.0f, out, C_out);
}

void dense_backward(float *dinp, float *dw, float *db, const float *dout,
		    const float *inp, const float *w, int B, int C_in, int C_out)
{
	if (dinp) /* (B, C_in) = dout (B, C_out) @ w^T (C_out, C_in) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C_in, C_out,
			    1.0f, dout, C_out, w, C_out, 0.0f, dinp, C_in);
	if (dw) /* (C_in, C_out) = inp^T (C_in, B) @ dout (B, C_out) */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C_in, C_out, B,
			    1.0f, inp, C_in, dout, C_out, 0.0f, dw, C_out);
	if (db) {
		memset(db, 0, (size_t)C_out * sizeof(float));
		for (int r = 0; r < B; r++) {
			const float *row = dout + (size_t)r * C_out;
			for (int c = 0; c < C_out; c++)
				db[c] += row[c];
		}
	}
}

void relu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* In place (dinp == dout) the loop has one store stream; restrict lets it vectorise. */
static void relu_backward_inplace(float *restrict d, const float *restrict inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = inp[i] > 0.0f ? d[i] : 0.0f;
}

void relu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	if (dinp == dout) {
		relu_backward_inplace(dinp, inp, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
}

void dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
		     uint64_t *rng)
{
	float keep = 1.0f / (1.0f - p);

	if (p <= 0.0f) {
		if (out != inp)
			memmove(out, inp, n * sizeof(float));
		for (size_t i = 0; i < n; i++)
			mask[i] = 1.0f;
		return;
	}
	/*
	 * One draw from the generator keys the call; element i's uniform is the top 24 bits
	 * of a 32-bit integer hash (Wellons' lowbias32) of its index mixed with the key.
	 * Every element is independent of the others, so the loop runs four lanes at a time
	 * (one 64-bit generator call per element was a sixth of a training step).
	 */
	uint64_t key = nn_rng_u64(rng);
	uint32_t lo = (uint32_t)key, hi = (uint32_t)(key >> 32);

	for (size_t i = 0; i < n; i++) {
		uint32_t z = (lo + (uint32_t)i * 0x9E3779B9u) ^ hi;

		z ^= z >> 16;
		z *= 0x7feb352du;
		z ^= z >> 15;
		z *= 0x846ca68bu;
		z ^= z >> 16;
		mask[i] = (float)(int32_t)(z >> 8) * (1.0f / 16777216.0f) < p ? 0.0f : keep;
		out[i] = inp[i] * mask[i];
	}
}

static void dropout_backward_inplace(float *restrict d, const float *restrict mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] *= mask[i];
}

void dropout_backward(float *dinp, const float *mask, const float *dout, size_t n)
{
	if (dinp == dout) {
		dropout_backward_inplace(dinp, mask, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dinp[i] = dout[i] * mask[i];
}

/*
 * softplus, sigmoid and SiLU four lanes at a time with GCC vector extensions (libm's expf
 * and logf calls were half the time of a 36-row ensemble prediction and most of a SiLU
 * training step, and the compiler's if-conversion gives up on these loops when written
 * with scalars). All three are built on t = e^-|x|: e^y (y <= 0) is 2^k e^r with
 * |r| <= ln2/2 and a degree-6 polynomial; below y = -87 it is 0 (not a normal float).
 * softplus(x) = max(x, 0) + log1p(t), with log1p(t) for t in [0, 1] the atanh series in
 * t / (2 + t); sigmoid(x) = 1 / (1 + t) for x >= 0 and t / (1 + t) below, so neither
 * overflows. NaN stays NaN. Relative error under 1e-6 (tested against double). Every lane
 * does the same operations, so the bits of a value do not depend on its position.
 */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f v4_select(v4i mask, v4f a, v4f b)
{
	return (v4f)(((v4i)a & mask) | ((v4i)b & ~mask));
}

/* e^-|x| for every lane, in [0, 1] */
static inline v4f exp_neg_abs4(v4f x)
{
	const v4f zero = { 0 }, one = zero + 1.0f;
	v4f ax = (v4f)((v4i)x & 0x7fffffff);
	v4i live = ax < 87.0f;
	v4f y = v4_select(live, -ax, zero - 87.0f);
	/* e^y = 2^k e^r, r = y - k ln2 with ln2 split in two for exactness */
	v4i ki = __builtin_convertvector(y * 1.44269504f - 0.5f, v4i);
	v4f kf = __builtin_convertvector(ki, v4f);
	v4f r = (y - kf * 0.693145752f) - kf * 1.42860677e-6f;
	v4f p = one + r * (one + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
		r * (8.33333333e-3f + r * 1.38888889e-3f)))));

	return (v4f)((v4i)(p * (v4f)((ki + 127) << 23)) & live);
}

static inline v4f softplus4(v4f x)
{
	const v4f zero = { 0 }, one = zero + 1.0f;
	v4f t = exp_neg_abs4(x);
	/* log1p(t) = 2 atanh(s), s = t / (2 + t) in [0, 1/3]: exact digits for tiny t too */
	v4f sq = t / (t + 2.0f), s2 = sq * sq;
	v4f l1p = 2.0f * sq * (one + s2 * (0.333333333f + s2 * (0.2f + s2 * (0.142857143f +
		  s2 * (0.111111111f + s2 * (9.09090909e-2f + s2 * (7.69230769e-2f +
		  s2 * 6.66666667e-2f)))))));
	v4f sp = v4_select(x > 0.0f, x, zero) + l1p;

	return v4_select(x != x, x, sp);
}

static inline v4f sigmoid4(v4f x)
{
	const v4f one = (v4f){ 0 } + 1.0f;
	v4f t = exp_neg_abs4(x);
	v4f s = v4_select(x >= 0.0f, one, t) / (t + 1.0f);

	return v4_select(x != x, x, s);
}

/*
 * Lanes i..i+3 of p; past n (the tail, which runs through the same code) zero-padded. The
 * full groups copy a constant 16 bytes, which compiles to one vector load or store.
 */
static inline v4f load4(const float *p, size_t i, size_t n)
{
	v4f v = { 0 };

	if (n - i >= 4)
		memcpy(&v, p + i, sizeof(v));
	else
		memcpy(&v, p + i, (n - i) * sizeof(float));
	return v;
}

static inline void store4(float *p, size_t i, size_t n, v4f v)
{
	if (n - i >= 4)
		memcpy(p + i, &v, sizeof(v));
	else
		memcpy(p + i, &v, (n - i) * sizeof(float));
}

/* out may be inp: each group of four is read before it is written. */
void silu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i += 4) {
		v4f x = load4(inp, i, n);

		store4(out, i, n, x * sigmoid4(x));
	}
}

/* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x); dinp may be dout. */
void silu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	for (size_t i = 0; i < n; i += 4) {
		v4f x = load4(inp, i, n), s = sigmoid4(x);

		store4(dinp, i, n, load4(dout, i, n) * s * (1.0f + x * (1.0f - s)));
	}
}

static void sigmoid_vec(float *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i += 4)
		store4(out, i, n, sigmoid4(load4(in, i, n)));
}

static void softplus_vec(float *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i += 4)
		store4(out, i, n, softplus4(load4(in, i, n)));
}

void quantile_head_forward(float *q, const float *z, int B, int Q, int a)
{
	/* softplus of everything first (one vectorised pass), then the per-row sums */
	softplus_vec(q, z, (size_t)B * Q);
	for (int r = 0; r < B; r++) {
		const float *zr = z + (size_t)r * Q;
		float *qr = q + (size_t)r * Q;

		qr[a] = zr[a];
		for (int k = a + 1; k < Q; k++)
			qr[k] += qr[k - 1];
		for (int k = a - 1; k >= 0; k--)
			qr[k] = qr[k + 1] - qr[k];
	}
}

void quantile_head_backward(float *dz, const float *dq, const float *z, int B, int Q, int a)
{
	/*
	 * q[k] = z[a] + sum_{a<j<=k} sp(z[j]) above the anchor and z[a] - sum_{k<=j<a} sp(z[j])
	 * below, so dz[j] = sp'(z[j]) * (sum of dq[k] for k >= j) above, minus the same with
	 * k <= j below, and dz[a] = sum of all dq.
	 */
	sigmoid_vec(dz, z, (size_t)B * Q);	/* sp' = sigmoid, one vectorised pass */
	for (int r = 0; r < B; r++) {
		const float *dqr = dq + (size_t)r * Q;
		float *dzr = dz + (size_t)r * Q;
		float up = 0.0f, down = 0.0f;

		for (int k = Q - 1; k > a; k--) {
			up += dqr[k];
			dzr[k] *= up;
		}
		for (int k = 0; k < a; k++) {
			down += dqr[k];
			dzr[k] *= -down;
		}
		dzr[a] = up + down + dqr[a];
	}
}

float mse_forward(const float *pred, const float *y, int B, int C)
{
	size_t n = (size_t)B * C;
	double sum = 0.0;

	for (size_t i = 0; i < n; i++) {
		float d = pred[i] - y[i];

		sum += (double)d * d;
	}
	return (float)(sum / (double)n);
}

void mse_backward(float *dpred, const float *pred, const float *y, int B, int C)
{
	size_t n = (size_t)B * C;
	float s = 2.0f / (float)n;

	for (size_t i = 0; i < n; i++)
		dpred[i] = s * (pred[i] - y[i]);
}

float pinball_forward(const float *q, const float *y, const float *taus, int B, int Q)
{
	double sum = 0.0;

	for (int r = 0; r < B; r++) {
		const float *qr = q + (size_t)r * Q;

		for (int k = 0; k < Q; k++) {
			float d = y[r] - qr[k];

			sum += d >= 0.0f ? taus[k] * d : (taus[k] - 1.0f) * d;
		}
	}
	return (float)(sum / ((double)B * Q));
}

void pinball_backward(float *dq, const float *q, const float *y, const float *taus,
		      int B, int Q)
{
	float s = 1.0f / ((float)B * (float)Q);

	for (int r = 0; r < B; r++) {
		const float *qr = q + (size_t)r * Q;
		float *dqr = dq + (size_t)r * Q;

		/* d/dq of tau*(y-q) is -tau; of (tau-1)*(y-q) is 1-tau (above y). */
		for (int k = 0; k < Q; k++)
			dqr[k] = (y[r] - qr[k] >= 0.0f ? -taus[k] : 1.0f - taus[k]) * s;
	}
}

void adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
		 float b1, float b2, float eps, float wd, int t)
{
	float c1 = 1.0f / (1.0f - powf(b1, (float)t));
	float c2 = 1.0f / (1.0f - powf(b2, (float)t));

	for (size_t i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		p[i] -= lr * (m[i] * c1 / (sqrtf(v[i] * c2) + eps) + wd * p[i]);
	}
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

uint64_t nn_rng_u64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

float nn_rng_uniform(uint64_t *state)
{
	return (float)(nn_rng_u64(state) >> 40) * (1.0f / 16777216.0f);
}

float nn_rng_normal(uint64_t *state)
{
	/* Box-Muller in double so that the tails are right and the result portable. */
	double u1 = ((double)(nn_rng_u64(state) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
	double u2 = (double)(nn_rng_u64(state) >> 11) * (1.0 / 9007199254740992.0);

	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
