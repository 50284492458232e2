/*
 * nn_kernels.h - the network's layers, losses and optimiser step, and the engine's
 * random generator: the numeric kernels under forecast/nn (which builds networks,
 * trains and predicts with them).
 *
 * Layers (llm.c style). Every kernel is a `<layer>_forward` / `<layer>_backward` pair over
 * row-major float32 tensors whose shapes are given in the comments: B rows (a batch),
 * C_in inputs, C_out outputs. Backward functions overwrite (not accumulate) their
 * gradients; a NULL gradient pointer skips that gradient.
 *
 * Kernels allocate nothing and keep no state; the same inputs give the same bits. The
 * elementwise ones are compiled as at -O3 (see nn_kernels.c), the dense ones call
 * cblas_sgemm.
 */
#ifndef WC_NN_KERNELS_H
#define WC_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* out (B, C_out) = inp (B, C_in) @ w (C_in, C_out) + b (C_out). */
void dense_forward(float *out, const float *inp, const float *w, const float *b,
		   int B, int C_in, int C_out);
/*
 * From dout (B, C_out): dinp (B, C_in) = dout @ w^T, dw (C_in, C_out) = inp^T @ dout,
 * db (C_out) = column sums of dout. Any of dinp, dw, db may be NULL.
 */
void dense_backward(float *dinp, float *dw, float *db, const float *dout,
		    const float *inp, const float *w, int B, int C_in, int C_out);

/* Elementwise over n values; backward takes the forward input. dinp may alias dout. */
void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void silu_forward(float *out, const float *inp, size_t n);
void silu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/*
 * Inverted dropout at rate p: mask (n) gets 0 or 1/(1-p), out = inp * mask. The call takes
 * one draw from the generator state *rng and hashes it with each element's index.
 * Backward: dinp = dout * mask. p == 0 copies.
 */
void dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
		     uint64_t *rng);
void dropout_backward(float *dinp, const float *mask, const float *dout, size_t n);

/* Non-crossing quantile head: q (B, Q) from z (B, Q), anchor a in [0, Q); q must not
 * alias z. */
void quantile_head_forward(float *q, const float *z, int B, int Q, int a);
/* dz (B, Q) from dq (B, Q) and the forward input z. dz must not alias dq. */
void quantile_head_backward(float *dz, const float *dq, const float *z, int B, int Q, int a);

/* Mean squared error over B * C values of pred vs y; backward writes d loss / d pred. */
float mse_forward(const float *pred, const float *y, int B, int C);
void mse_backward(float *dpred, const float *pred, const float *y, int B, int C);

/*
 * Pinball (quantile) loss averaged over B rows and Q levels: q (B, Q) predicted quantiles,
 * y (B) targets, taus (Q) levels. Backward writes d loss / d q (B, Q).
 */
float pinball_forward(const float *q, const float *y, const float *taus, int B, int Q);
void pinball_backward(float *dq, const float *q, const float *y, const float *taus,
		      int B, int Q);

/*
 * One Adam step with decoupled weight decay (AdamW) on n parameters at step t >= 1:
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd * p).
 */
void adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
		 float b1, float b2, float eps, float wd, int t);

/* The engine's generator: splitmix64. Same state, same sequence, on every platform. */
uint64_t nn_rng_u64(uint64_t *state);
float nn_rng_uniform(uint64_t *state);	/* [0, 1) */
float nn_rng_normal(uint64_t *state);	/* N(0, 1) */

#endif
