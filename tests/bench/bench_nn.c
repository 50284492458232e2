/*
 * bench_nn.c - training and inference speed of forecast/nn against PyTorch, side by side
 * in one run.
 *
 * Training: 64 inputs, two hidden layers of 128 with ReLU, 36 outputs, MSE, Adam (lr 1e-3,
 * no decay, no clipping), batch 256, float32, 50,000 synthetic training rows and 10,000
 * validation rows scored after every epoch, 20 epochs; on 1 and on 2 threads (OpenBLAS
 * threads here, torch.set_num_threads there). The sgemm peak for the shapes of one training
 * step is measured in the same run, and the achieved training GFLOP/s (6 x rows x weights
 * per epoch, the usual count) is reported as a fraction of it.
 *
 * Inference (OpenBLAS on 1 thread): one row through one net, and one farm's 36 leads
 * through a 5-member ensemble, read both ways (see infer_figures).
 *
 * Members at once (workers_figures): a 3-member quantile ensemble trained with one worker
 * and with two. `bench_nn workers` runs only this part.
 *
 * Elementwise kernels (kernel_figures): ns per element of the vectorised SiLU forward and
 * backward and of dropout on 64 Ki floats (a training step's activations), beside the
 * same SiLU written as a plain loop over libm's expf. `bench_nn kernels` runs only this.
 *
 * The PyTorch peer is tests/bench/torch_nn_peer.py, run with $PYTHON (default
 * /usr/bin/python3); when it cannot run, its figures are skipped with a note. Prints
 * name=value lines; never fails on timing.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/blas_reexec.h"
#include "forecast/nn.h"

enum { N_TRAIN = 50000, N_VAL = 10000, NF = 64, NH = 128, NO = 36, EPOCHS = 20, BATCH = 256,
       NQ = 21, LEADS = 36, MEMBERS = 5,
       /* a peer slowed down by a busy machine stops after the epoch that passes this */
       PEER_MAX_SECONDS = 60 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* y_j = sin(a_j . x) + 0.1 e with unit vectors a_j, x ~ N(0, 1). */
static void make_data(float *X, float *Y, int n, const float *A, uint64_t *rng)
{
	for (int r = 0; r < n; r++) {
		float *x = X + (size_t)r * NF;

		for (int f = 0; f < NF; f++)
			x[f] = nn_rng_normal(rng);
		for (int j = 0; j < NO; j++) {
			float s = 0;

			for (int f = 0; f < NF; f++)
				s += A[j * NF + f] * x[f];
			Y[(size_t)r * NO + j] = sinf(s) + 0.1f * nn_rng_normal(rng);
		}
	}
}

/* GFLOP/s of sgemm on the eight products of one training step, batch 256. */
static double sgemm_peak(void)
{
	static const int mnk[8][5] = {	/* M, N, K, transA, transB */
		{ BATCH, NH, NF, 0, 0 }, { BATCH, NH, NH, 0, 0 }, { BATCH, NO, NH, 0, 0 },
		{ BATCH, NH, NH, 0, 1 }, { BATCH, NH, NO, 0, 1 },
		{ NF, NH, BATCH, 1, 0 }, { NH, NH, BATCH, 1, 0 }, { NH, NO, BATCH, 1, 0 },
	};
	float *a = calloc(BATCH * NH, 4), *b = calloc(NH * NH + BATCH * NH, 4);
	float *c = calloc(BATCH * NH, 4);
	double flops = 0, t0, dt, best = 0;
	int reps = 0;

	for (int i = 0; i < 8; i++)
		flops += 2.0 * mnk[i][0] * mnk[i][1] * mnk[i][2];
	for (int round = 0; round < 3; round++) {
		t0 = now();
		reps = 0;
		do {
			for (int i = 0; i < 8; i++) {
				int M = mnk[i][0], N = mnk[i][1], K = mnk[i][2];

				cblas_sgemm(CblasRowMajor, mnk[i][3] ? CblasTrans : CblasNoTrans,
					    mnk[i][4] ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
					    a, mnk[i][3] ? M : K, b, mnk[i][4] ? K : N, 0.0f, c, N);
			}
			reps++;
		} while ((dt = now() - t0) < 0.3);
		if (flops * reps / dt > best)
			best = flops * reps / dt;
	}
	free(a), free(b), free(c);
	return best / 1e9;
}

struct peer {
	int ok;
	int epochs_run;
	double epoch_s, val_mse, infer_1row_us, infer_1row_ens5_us, infer_36_ens5_us;
};

/* Run the PyTorch peer on the data file with `threads` threads and parse its figures. */
static struct peer run_peer(const char *data, int threads)
{
	const char *py = getenv("PYTHON"), *src = getenv("WINDCAST_SRC");
	struct peer p = { 0 };
	char cmd[2048], line[512], name[64];
	double v;
	FILE *fp;

	snprintf(cmd, sizeof(cmd),
		 "OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d '%s' '%s/tests/bench/torch_nn_peer.py' "
		 "--data '%s' --train %d --val %d --inputs %d --hidden %d --outputs %d "
		 "--quantiles %d --epochs %d --batch %d --threads %d --max-seconds %d",
		 threads, threads, py && *py ? py : "/usr/bin/python3", src ? src : ".", data,
		 N_TRAIN, N_VAL, NF, NH, NO, NQ, EPOCHS, BATCH, threads, PEER_MAX_SECONDS);
	fp = popen(cmd, "r");
	if (!fp)
		return p;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%63[a-z0-9_]=%lf", name, &v) != 2) {
			fputs(line, stdout);
			continue;
		}
		if (!strcmp(name, "torch_epoch_s"))
			p.epoch_s = v, p.ok = 1;
		else if (!strcmp(name, "torch_val_mse"))
			p.val_mse = v;
		else if (!strcmp(name, "torch_epochs_run"))
			p.epochs_run = (int)v;
		else if (!strcmp(name, "torch_infer_1row_ens5_us"))
			p.infer_1row_ens5_us = v;
		else if (!strcmp(name, "torch_infer_1row_us"))
			p.infer_1row_us = v;
		else if (!strcmp(name, "torch_infer_36rows_ens5_us"))
			p.infer_36_ens5_us = v;
	}
	if (pclose(fp) != 0)
		p.ok = 0;
	return p;
}

struct run {
	double epoch_s, val_mse;
	struct nn_model *model;
};

static struct run train_c(const float *X, const float *Y, int threads)
{
	struct nn_data d = { X, Y, N_TRAIN + N_VAL, NF, NO, N_TRAIN, NULL, 0, 0 };
	struct nn_config c;
	struct wc_error err = { 0 };
	struct run r = { 0 };

	nn_config_default(&c);
	c.n_hidden = 2;
	c.hidden[0] = c.hidden[1] = NH;
	c.head = NN_HEAD_LINEAR;
	c.weight_decay = 0;
	c.grad_clip = 0;
	c.sched = NN_SCHED_CONST;
	c.warmup_frac = 0;
	c.epochs = EPOCHS;
	c.patience = EPOCHS;
	c.batch = BATCH;
	c.n_members = 1;
	c.threads = threads;
	c.progress = 0;
	if (nn_model_train(&c, &d, &r.model, &err)) {
		fprintf(stderr, "bench_nn: %s\n", err.msg);
		exit(1);
	}
	r.epoch_s = r.model->info.train_seconds / EPOCHS;
	r.val_mse = r.model->info.member[0].last_val_loss;
	return r;
}

/* Mean microseconds per nn_model_predict of n rows: best of 5 rounds of `calls`. */
static double predict_us(const struct nn_model *m, const float *X, int n, int calls)
{
	struct nn_workspace ws;
	float *out = malloc((size_t)n * m->n_outputs * sizeof(float));
	double best = 1e30;

	if (nn_workspace_init(&ws, m, n, NULL))
		exit(1);
	for (int round = 0; round < 5; round++) {
		double t0 = now();

		for (int i = 0; i < calls; i++)
			nn_model_predict(m, &ws, X, n, out, NULL);
		if ((now() - t0) / calls < best)
			best = (now() - t0) / calls;
	}
	nn_workspace_release(&ws);
	free(out);
	return best * 1e6;
}

/* A K-member model of the given hidden width and head, trained for one epoch only. */
static struct nn_model *quick_model(const float *X, const float *Y, int hidden, int quantile)
{
	enum { N = 2000 };
	float *y0 = malloc(N * sizeof(float));
	struct nn_data d = { X, Y, N, NF, NO, N, NULL, 0, 0 };
	struct nn_config c;
	struct nn_model *m = NULL;

	nn_config_default(&c);
	c.hidden[0] = c.hidden[1] = hidden;
	c.epochs = 1;
	c.n_members = MEMBERS;
	c.progress = 0;
	if (quantile) {
		for (int r = 0; r < N; r++)
			y0[r] = Y[(size_t)r * NO];
		d.Y = y0;
		d.n_targets = 1;
	} else {
		c.head = NN_HEAD_LINEAR;
	}
	if (nn_model_train(&c, &d, &m, NULL))
		exit(1);
	free(y0);
	return m;
}

/*
 * Inference on one OpenBLAS thread. "36 leads" has two readings: one row whose 36 outputs
 * are the leads (the shape of the training benchmark), and 36 rows, one per lead, each
 * giving 21 quantiles (the forecaster's shape, DESIGN.md section 7). Both are measured.
 */
static void infer_figures(const float *X, const float *Y, const struct peer *p)
{
	const float *Xv = X + (size_t)N_TRAIN * NF;
	struct nn_model *lin = quick_model(X, Y, NH, 0);
	struct nn_model *q128 = quick_model(X, Y, NH, 1), *q64 = quick_model(X, Y, 64, 1);
	double one5, rows128, rows64;

	nn_blas_threads(1);
	one5 = predict_us(lin, Xv, 1, 10000);
	rows128 = predict_us(q128, Xv, LEADS, 2000);
	rows64 = predict_us(q64, Xv, LEADS, 2000);
	printf("  inference, 1 thread, %d members: 1 row x %d leads as outputs %.2f us; %d rows x %d quantiles %.1f us (hidden %d, %.1f GFLOP/s), %.1f us (hidden 64)\n",
	       MEMBERS, NO, one5, LEADS, NQ, rows128, NH,
	       2.0 * LEADS * MEMBERS * (NF * NH + NH * NH + NH * NQ) / rows128 / 1e3, rows64);
	printf("nn_infer_36leads_ens5_us=%.2f\n", one5);
	printf("nn_infer_36rows_ens5_q21_us=%.1f\n", rows128);
	printf("nn_infer_36rows_ens5_q21_h64_us=%.1f\n", rows64);
	if (p->ok) {
		printf("torch_infer_1row_us=%.2f\n", p->infer_1row_us);
		printf("torch_infer_36leads_ens5_us=%.2f\n", p->infer_1row_ens5_us);
		printf("torch_infer_36rows_ens5_q21_us=%.1f\n", p->infer_36_ens5_us);
	}
	nn_model_free(lin), nn_model_free(q128), nn_model_free(q64);
}

/*
 * Three members trained in turn and on two threads (cfg->workers): the real-data shape
 * (40,000 rows x 90 features, 34,000 of them training, default quantile head, hidden 64
 * and 64, batch 256), 10 epochs without early stopping. Alternating runs, best and median
 * of 5 each, whole nn_model_train calls; the two ways must give the same bits. Three
 * members on two threads are at best 1.5x faster (two members, then one).
 */
static void workers_figures(void)
{
	enum { N = 40000, F = 90, K = 3, RUNS = 5 };
	float *X = malloc((size_t)N * F * sizeof(float)), *Y = malloc(N * sizeof(float));
	double s[2][RUNS], best[2], med[2];
	struct nn_model *first = NULL;
	uint64_t rng = 90;
	int same = 1;

	if (!X || !Y)
		exit(1);
	for (int r = 0; r < N; r++) {	/* y = 0.5 + 0.3 (w . x)^2 + 0.1 e */
		double z = 0;

		for (int f = 0; f < F; f++) {
			X[(size_t)r * F + f] = nn_rng_normal(&rng);
			z += (f % 7 ? 0.01 : 0.1) * X[(size_t)r * F + f];
		}
		Y[r] = 0.5f + 0.3f * (float)(z * z) + 0.1f * nn_rng_normal(&rng);
	}
	for (int run = 0; run < RUNS; run++)
		for (int w = 0; w < 2; w++) {
			struct nn_data d = { X, Y, N, F, 1, N * 17 / 20, NULL, 0, 0 };
			struct nn_config c;
			struct nn_model *m = NULL;
			struct wc_error err = { 0 };
			double t0 = now();

			nn_config_default(&c);
			c.epochs = 10;
			c.patience = 10;
			c.n_members = K;
			c.workers = w + 1;
			c.progress = 0;
			if (nn_model_train(&c, &d, &m, &err)) {
				fprintf(stderr, "bench_nn: %s\n", err.msg);
				exit(1);
			}
			s[w][run] = now() - t0;
			printf("  %d members, %d worker(s), run %d: %.3f s\n", K, w + 1, run + 1,
			       s[w][run]);
			if (!first) {
				first = m;
				continue;
			}
			for (int k = 0; k < K; k++)
				same &= !memcmp(first->member[k].params, m->member[k].params,
						m->member[k].n_params * sizeof(float));
			nn_model_free(m);
		}
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < RUNS; i++)	/* sort: RUNS is small */
			for (int j = i + 1; j < RUNS; j++)
				if (s[w][j] < s[w][i]) {
					double t = s[w][i];

					s[w][i] = s[w][j];
					s[w][j] = t;
				}
		best[w] = s[w][0];
		med[w] = s[w][RUNS / 2];
	}
	printf("  %d members on 2 workers: best %.3f s vs %.3f s in turn (%.2fx), median %.3f vs %.3f s (%.2fx); same bits: %s\n",
	       K, best[1], best[0], best[0] / best[1], med[1], med[0], med[0] / med[1],
	       same ? "yes" : "NO");
	printf("nn_train_k3_workers1_s=%.3f\n", best[0]);
	printf("nn_train_k3_workers2_s=%.3f\n", best[1]);
	printf("nn_train_k3_workers2_speedup=%.2f\n", best[0] / best[1]);
	printf("nn_train_k3_workers2_speedup_median=%.2f\n", med[0] / med[1]);
	printf("nn_train_k3_workers_same_bits=%d\n", same);
	nn_model_free(first);
	free(X), free(Y);
}

/* x sigmoid(x) through libm, the plain loop the vectorised kernels replaced */
static void silu_libm(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] / (1.0f + expf(-inp[i]));
}

static void kernel_figures(void)
{
	enum { N = 65536, REPS = 400 };
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
	float *d = malloc(N * sizeof(float)), *mask = malloc(N * sizeof(float));
	uint64_t rng = 5, drop = 11;
	double t, ns[4];
	volatile float sink = 0;	/* keeps the plain loop's stores */

	if (!x || !y || !d || !mask)
		exit(1);
	for (int i = 0; i < N; i++) {	/* pre-activations of a trained layer: N(0, 2^2) */
		x[i] = 2.0f * nn_rng_normal(&rng);
		d[i] = nn_rng_normal(&rng);
	}
	t = now();
	for (int r = 0; r < REPS; r++)
		silu_forward(y, x, N), sink += y[r];
	ns[0] = (now() - t) / REPS / N * 1e9;
	t = now();
	for (int r = 0; r < REPS; r++)
		silu_backward(y, x, d, N), sink += y[r];
	ns[1] = (now() - t) / REPS / N * 1e9;
	t = now();
	for (int r = 0; r < REPS; r++)
		dropout_forward(y, mask, x, N, 0.1f, &drop), sink += y[r];
	ns[2] = (now() - t) / REPS / N * 1e9;
	t = now();
	for (int r = 0; r < REPS; r++)
		silu_libm(y, x, N), sink += y[r];
	ns[3] = (now() - t) / REPS / N * 1e9;
	printf("  elementwise on %d floats: silu forward %.2f ns, backward %.2f ns, dropout %.2f ns "
	       "per element; silu over libm expf %.2f ns (%.1fx)\n", N, ns[0], ns[1], ns[2],
	       ns[3], ns[3] / ns[0]);
	printf("nn_silu_forward_ns=%.2f\n", ns[0]);
	printf("nn_silu_backward_ns=%.2f\n", ns[1]);
	printf("nn_dropout_forward_ns=%.2f\n", ns[2]);
	printf("libm_silu_forward_ns=%.2f\n", ns[3]);
	free(x), free(y), free(d), free(mask);
}

int main(int argc, char **argv)
{
	size_t rows = N_TRAIN + N_VAL;
	float *X = malloc(rows * NF * sizeof(float)), *Y = malloc(rows * NO * sizeof(float));
	float *A = malloc(NO * NF * sizeof(float));
	char path[] = "/tmp/bench_nn_XXXXXX";
	uint64_t rng = 2026;
	double weights = (double)NF * NH + (double)NH * NH + (double)NH * NO;
	double flops_epoch = 6.0 * N_TRAIN * weights;
	struct peer peer[3] = { { 0 } };
	int fd;
	FILE *fp;

	if (!X || !Y || !A)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress shows through run-bench's pipe */
	/* OpenBLAS picks its kernels at load time: a better choice needs a new process */
	if (blas_reexec_fast(argv)) {
		perror("bench_nn: cannot run again with better OpenBLAS kernels: execv");
		return 1;
	}
	printf("nn_blas_core=%s\n", openblas_get_corename());
	if (argc > 1 && !strcmp(argv[1], "workers")) {
		workers_figures();
		return 0;
	}
	kernel_figures();
	if (argc > 1 && !strcmp(argv[1], "kernels"))
		return 0;
	for (int j = 0; j < NO; j++) {
		double norm = 0;

		for (int f = 0; f < NF; f++) {
			A[j * NF + f] = nn_rng_normal(&rng);
			norm += (double)A[j * NF + f] * A[j * NF + f];
		}
		for (int f = 0; f < NF; f++)
			A[j * NF + f] /= (float)sqrt(norm);
	}
	make_data(X, Y, N_TRAIN + N_VAL, A, &rng);
	/* the peer reads X train, Y train, X val, Y val as little-endian float32 */
	fd = mkstemp(path);
	fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (!fp || fwrite(X, 4, (size_t)N_TRAIN * NF, fp) != (size_t)N_TRAIN * NF ||
	    fwrite(Y, 4, (size_t)N_TRAIN * NO, fp) != (size_t)N_TRAIN * NO ||
	    fwrite(X + (size_t)N_TRAIN * NF, 4, (size_t)N_VAL * NF, fp) != (size_t)N_VAL * NF ||
	    fwrite(Y + (size_t)N_TRAIN * NO, 4, (size_t)N_VAL * NO, fp) != (size_t)N_VAL * NO ||
	    fclose(fp)) {
		fprintf(stderr, "bench_nn: cannot write '%s'\n", path);
		return 1;
	}

	printf("bench_nn: MLP %d-%d-%d-%d ReLU, MSE, Adam, batch %d, %d train + %d val rows, %d epochs\n",
	       NF, NH, NH, NO, BATCH, N_TRAIN, N_VAL, EPOCHS);
	for (int t = 1; t <= 2; t++) {
		double peak, gflops;
		struct run r;

		/*
		 * The machine is shared and its load moves within seconds: on 1 thread both
		 * sides run twice, alternating, and each keeps its faster run; the sgemm peak
		 * is the best of its measurements around them. (Two threads run once: the
		 * peer is slow there.)
		 */
		peak = 0;
		r.model = NULL;
		for (int rep = 0; rep < (t == 1 ? 2 : 1); rep++) {
			struct run again;
			struct peer p;

			nn_blas_threads(t);
			peak = fmax(peak, sgemm_peak());
			again = train_c(X, Y, t);
			printf("  %d thread(s), run %d: windcast %.4f s/epoch\n", t, rep + 1,
			       again.epoch_s);
			if (!r.model || again.epoch_s < r.epoch_s) {
				nn_model_free(r.model);
				r = again;
			} else {
				nn_model_free(again.model);
			}
			p = run_peer(path, t);
			if (p.ok)
				printf("  %d thread(s), run %d: torch %.4f s/epoch\n", t, rep + 1,
				       p.epoch_s);
			if (p.ok && (!peer[t].ok || p.epoch_s < peer[t].epoch_s))
				peer[t] = p;
		}
		nn_blas_threads(t);
		peak = fmax(peak, sgemm_peak());
		gflops = flops_epoch / r.epoch_s / 1e9;
		printf("  %d thread(s): sgemm peak %.1f GFLOP/s; windcast %.4f s/epoch (%.1f GFLOP/s, %.0f%% of peak), val mse %.5f",
		       t, peak, r.epoch_s, gflops, 100 * gflops / peak, r.val_mse);
		if (peer[t].ok)
			printf("; torch %.4f s/epoch, val mse %.5f after %d epochs\n", peer[t].epoch_s,
			       peer[t].val_mse, peer[t].epochs_run);
		else
			printf("; torch peer did not run (needs python3-torch at $PYTHON)\n");
		printf("nn_sgemm_peak_gflops_%dthread=%.1f\n", t, peak);
		printf("nn_train_epoch_s_%dthread=%.4f\n", t, r.epoch_s);
		printf("nn_train_gflops_%dthread=%.1f\n", t, gflops);
		printf("nn_train_fraction_of_sgemm_peak_%dthread=%.2f\n", t, gflops / peak);
		printf("nn_val_mse_%dthread=%.5f\n", t, r.val_mse);
		if (peer[t].ok) {
			printf("torch_train_epoch_s_%dthread=%.4f\n", t, peer[t].epoch_s);
			printf("nn_train_speedup_vs_torch_%dthread=%.2f\n", t, peer[t].epoch_s / r.epoch_s);
			if (peer[t].epochs_run == EPOCHS) {	/* else the losses are not comparable */
				printf("torch_val_mse_%dthread=%.5f\n", t, peer[t].val_mse);
				printf("nn_val_mse_ratio_vs_torch_%dthread=%.4f\n", t,
				       r.val_mse / peer[t].val_mse);
			}
		}
		if (t == 1) {	/* one row through one net, with standardisation */
			nn_blas_threads(1);
			printf("nn_infer_1row_us=%.2f\n",
			       predict_us(r.model, X + (size_t)N_TRAIN * NF, 1, 20000));
		}
		nn_model_free(r.model);
	}
	unlink(path);

	infer_figures(X, Y, &peer[1]);
	free(X), free(Y), free(A);
	workers_figures();
	return 0;
}
