/*
 * nn.h - the forecaster's neural network engine: dense multilayer perceptrons on
 * cblas_sgemm, trained with Adam on MSE or on a multi-quantile pinball loss, combined into
 * seeded ensembles, and evaluated for many concurrent readers.
 *
 * Kernels. The layers, losses, Adam and the generator are in forecast/nn_kernels.h
 * (included here): `<layer>_forward` / `<layer>_backward` pairs on row-major float32.
 *
 * Models. A `struct nn_model` is what a farm's forecaster owns: the caller's feature names,
 * the standardisation fitted on the training rows, the missing-value rule, the quantile
 * levels and K member networks. Its lifecycle is nn_model_train() (or nn_model_load() in
 * forecast/modelfile.h) then any number of nn_model_predict() calls, then nn_model_free().
 *
 * Missing inputs. A NaN or infinite input is never passed to a network. Every input is
 * standardised with the training mean and standard deviation; a missing one becomes 0,
 * i.e. the training mean. Each feature that had at least one missing value in the training
 * rows also gets a missing-indicator input (1 when missing, else 0) appended after the F
 * standardised features, so the net can learn what a gap means. A feature that was never
 * missing in training gets no indicator; a gap in it at prediction time is imputed with the
 * mean only. A feature with zero variance in training gets std 1.
 *
 * Quantiles never cross. The quantile head takes the raw outputs z (B, Q) of the last
 * dense layer and builds q[a] = z[a] at the anchor level a (the one closest to 0.5), then
 * q[k] = q[k-1] + softplus(z[k]) above it and q[k] = q[k+1] - softplus(z[k]) below it.
 * Averaging monotone vectors over an ensemble keeps them monotone, in float too.
 *
 * Reproducibility. Same data, config, seed and OpenBLAS thread count give bit-identical
 * weights: the shuffle, dropout and initialisation use one seeded generator per member,
 * and OpenBLAS's sgemm gives the same bits for the same thread count. nn_model_train() sets
 * the OpenBLAS thread count to cfg->threads for the duration of training (0 leaves it).
 * A member's training reads only the shared standardised rows and writes only its own
 * network and info, so training members at once (cfg->workers > 1, each member on one
 * thread with OpenBLAS on one thread per call) gives the same bits as training them in
 * turn with cfg->threads = 1.
 *
 * Threads. nn_model_predict() only reads the model and writes the caller's workspace, so
 * any number of threads may predict from one model at once, each with its own workspace.
 * The process should keep OpenBLAS at one thread while serving (nn_blas_threads(1)): rows
 * per call are few and a second BLAS thread only adds synchronisation.
 * NEEDSWORK: the OpenBLAS thread count is process-wide; a process that trains while other
 * threads predict should train with cfg->threads = 0 (or the serving count) so that
 * training does not change it under them. Training with cfg->workers > 1 sets it to 1
 * while the members train, whatever cfg->threads says.
 */
#ifndef WC_NN_H
#define WC_NN_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "forecast/nn_kernels.h"

#define NN_MAX_HIDDEN 8		/* hidden layers per network */
#define NN_MAX_WIDTH 4096	/* units per layer, inputs and outputs included */
#define NN_MAX_QUANTILES 64
#define NN_MAX_MEMBERS 32
#define NN_MAX_FEATURES 4096
#define NN_MAX_NAME 128		/* bytes of a feature name, NUL excluded */
#define NN_MAX_BATCH 65536	/* rows per mini-batch */
#define NN_MAX_DROPOUT 0.9	/* dropout rate on hidden units */

enum nn_act { NN_ACT_RELU = 0, NN_ACT_SILU = 1 };

/* What the last dense layer feeds: plain outputs (MSE) or the non-crossing quantile head. */
enum nn_head { NN_HEAD_LINEAR = 0, NN_HEAD_QUANTILE = 1 };

/* Weight initialisation; biases start at 0 (the output bias at the targets' quantiles). */
enum nn_init {
	NN_INIT_FANIN = 0,	/* uniform in +-1/sqrt(fan_in) (PyTorch's nn.Linear default) */
	NN_INIT_HE = 1,		/* He-normal for ReLU layers, Xavier-normal for the rest */
	NN_INIT_XAVIER = 2,	/* Xavier-normal everywhere */
};

enum nn_sched {
	NN_SCHED_CONST = 0,	/* warm-up, then constant */
	NN_SCHED_COSINE = 1,	/* warm-up, then cosine decay to lr * lr_min_frac */
	NN_SCHED_STEP = 2,	/* warm-up, then lr *= step_gamma every step_epochs */
};

/* Set OpenBLAS's thread count (n >= 1) and return the previous one. */
int nn_blas_threads(int n);

/*
 * A better OPENBLAS_CORETYPE for this CPU than the kernels OpenBLAS picked, or NULL.
 * OpenBLAS 0.3.21 (Debian 12) detects some newer Intel CPUs under virtualisation as
 * "Prescott" and runs SSE3 kernels, about 4x slower than its AVX-512 ones. The choice is
 * made when the library loads, so only the environment of a new process can change it:
 * the windcast binary and the bench re-execute themselves with OPENBLAS_CORETYPE set to
 * the returned name unless the user set it (cli/blas_reexec.h). Training logs a warning
 * once when this still returns a name.
 */
const char *nn_blas_coretype_hint(void);

/* The kernels OpenBLAS runs ("Cooperlake", "Haswell", "Prescott", ...). */
const char *nn_blas_corename(void);

/* Log that warning (once per process) when nn_blas_coretype_hint() names a better core:
 * for callers that train without progress (the CLI's and the server's training). */
void nn_blas_warn_slow_kernels(void);

/* ---- one network ---------------------------------------------------------------- */

/*
 * A multilayer perceptron: n_layers dense layers, the activation after each but the last,
 * then the head. Parameters live in one allocation, carved per layer.
 */
struct mlp {
	int n_layers;			/* dense layers = hidden layers + 1 */
	int sizes[NN_MAX_HIDDEN + 2];	/* sizes[0] inputs ... sizes[n_layers] outputs */
	enum nn_act act;
	enum nn_head head;
	int anchor;			/* quantile head: index of the level nearest 0.5 */
	size_t n_params;
	float *params;			/* (n_params), owned */
	float *w[NN_MAX_HIDDEN + 1];	/* layer l: (sizes[l], sizes[l+1]) into params */
	float *b[NN_MAX_HIDDEN + 1];	/* layer l: (sizes[l+1]) into params */
};

/*
 * Shape the network and allocate its parameters (zeroed). sizes has n_layers + 1 entries.
 * On failure the mlp is left empty; mlp_release() is always safe.
 */
enum wc_status mlp_init(struct mlp *net, int n_layers, const int *sizes, enum nn_act act,
			enum nn_head head, int anchor, struct wc_error *err);
/* Random weights by `init` from the generator state *rng; zero biases. */
void mlp_init_weights(struct mlp *net, enum nn_init init, uint64_t *rng);
void mlp_release(struct mlp *net);
/* Floats of scratch that mlp_forward_infer needs per row. */
size_t mlp_scratch_per_row(const struct mlp *net);
/*
 * Inference forward of B rows: out (B, sizes[n_layers]) from inp (B, sizes[0]), using
 * scratch (B * mlp_scratch_per_row()) floats. No allocation; only reads net.
 */
void mlp_forward_infer(const struct mlp *net, float *out, const float *inp, int B,
		       float *scratch);

/* ---- configuration ------------------------------------------------------------- */

struct nn_config {
	int n_hidden;			/* hidden layers, 1..NN_MAX_HIDDEN */
	int hidden[NN_MAX_HIDDEN];	/* units per hidden layer */
	enum nn_act act;
	enum nn_init init;
	float dropout;			/* on hidden activations while training, [0, NN_MAX_DROPOUT] */
	enum nn_head head;		/* NN_HEAD_QUANTILE (pinball) or NN_HEAD_LINEAR (MSE) */
	int n_quantiles;		/* strictly increasing levels in (0, 1) */
	float quantiles[NN_MAX_QUANTILES];
	float lr;			/* peak learning rate */
	float weight_decay;		/* decoupled, on weights (not biases) */
	float beta1, beta2, eps;	/* Adam */
	float grad_clip;		/* max global gradient L2 norm; 0 disables */
	enum nn_sched sched;
	float warmup_frac;		/* share of all steps spent warming up linearly */
	float lr_min_frac;		/* cosine: final lr as a share of lr */
	int step_epochs;		/* step: decay period in epochs */
	float step_gamma;		/* step: decay factor */
	int epochs;			/* maximum epochs */
	int patience;			/* stop after this many epochs without a better val loss */
	int batch;			/* mini-batch rows */
	uint64_t seed;			/* member k uses a seed derived from (seed, k) */
	int n_members;			/* ensemble size K, 1..NN_MAX_MEMBERS */
	int threads;			/* OpenBLAS threads while training; 0 leaves it alone */
	/*
	 * Members trained at once, each on its own thread, 1..NN_MAX_MEMBERS; 1 trains them
	 * in turn. Results are bit-identical either way (with threads = 1): while more than
	 * one member trains, OpenBLAS runs on one thread per call, whatever `threads` says.
	 */
	int workers;
	int progress;			/* 1: bar on a TTY or a log line per epoch; 0: quiet */
	/*
	 * Warm start (borrowed, may be NULL): member k starts from this model's member
	 * k mod its count, with its standardisation, instead of random weights, when the
	 * two fit (same features in order, head, quantile levels, layers and activation);
	 * otherwise training starts cold and says why in the log. For retraining on a
	 * little more data than a model saw (the backtest's --warm-start), with fewer
	 * epochs.
	 */
	const struct nn_model *warm;
};

/*
 * Defaults: 2 hidden layers of 64, ReLU, fan-in uniform init, no dropout, quantile head
 * with levels 0.01, 0.05, 0.10, ..., 0.95, 0.99, lr 1e-3, weight decay 1e-4, Adam
 * (0.9, 0.999, 1e-8), clip 1, cosine with 5% warm-up, 200 epochs, patience 15, batch 256, seed 1, K = 5,
 * 1 OpenBLAS thread, 1 worker (members in turn), progress on.
 */
void nn_config_default(struct nn_config *cfg);

/* ---- data and training metadata ------------------------------------------------- */

/*
 * Training data, all borrowed. X (n_rows, n_features) row-major, NaN allowed; Y (n_rows,
 * n_targets), no NaN: n_targets is 1 for the quantile head, the output count for MSE.
 * Rows [0, split) train, rows [split, n_rows) validate (time-ordered: the caller puts the
 * latest rows last). split == n_rows trains without validation or early stopping.
 */
struct nn_data {
	const float *X;
	const float *Y;
	int64_t n_rows;
	int n_features;
	int n_targets;
	int64_t split;
	const char *const *feature_names;	/* n_features names, or NULL for "x0", "x1" ... */
	int64_t data_from, data_to;		/* UTC seconds covered by the rows, 0 if unknown */
};

/* Per-member outcome of training. */
struct nn_member_info {
	int epochs_run;
	int best_epoch;		/* 1-based epoch whose weights were kept */
	float train_loss;	/* mean loss of the kept epoch */
	float val_loss;		/* validation loss of the kept weights (NaN without validation) */
	float last_val_loss;	/* validation loss after the last epoch run */
};

/* Structured training metadata, saved with the model. */
struct nn_train_info {
	int64_t data_from, data_to;	/* UTC seconds, from struct nn_data */
	int64_t n_train, n_val;
	uint64_t seed;
	float val_loss;			/* loss of the ensemble prediction on the validation rows */
	double train_seconds;
	struct nn_member_info member[NN_MAX_MEMBERS];
};

/* ---- the model ---------------------------------------------------------------- */

struct nn_model {
	int n_features;			/* F: caller's columns */
	char **feature_names;		/* (F) NUL-terminated, owned; one allocation with the array */
	float *mean;			/* (F) training mean, owned; one allocation with std, miss */
	float *std;			/* (F) training std (1 where it was 0) */
	int32_t *miss;			/* (F) input column of the missing indicator, or -1 */
	int n_inputs;			/* network inputs: F + indicators */
	enum nn_head head;
	int n_outputs;			/* Q for the quantile head, else output count */
	int n_quantiles;
	float quantiles[NN_MAX_QUANTILES];
	int n_members;
	struct mlp member[NN_MAX_MEMBERS];
	struct nn_train_info info;
	char *meta;			/* free-form metadata text (key=value lines), owned, never NULL */
};

/*
 * Train an ensemble of cfg->n_members networks on data and return it in *out (owned by
 * the caller, free with nn_model_free). Fails with WC_EINVAL on a bad config or data (NaN
 * targets, split out of range, no training rows), WC_ENOMEM. With cfg->workers > 1 the
 * members train on min(workers, n_members) threads (the caller's among them); the first
 * member to fail stops the others and its error is the one returned. Logs progress if
 * cfg->progress.
 */
enum wc_status nn_model_train(const struct nn_config *cfg, const struct nn_data *data,
			      struct nn_model **out, struct wc_error *err);

/*
 * For tests (curl's torture tests do the same for allocations): from now on, member k of
 * every training fails with WC_ENOMEM as it starts, as if its buffers could not be
 * allocated; -1 (the initial value) turns this off. Any thread may call it.
 */
void nn_test_fail_member(int k);

/* Free the model and everything it owns; NULL is fine. */
void nn_model_free(struct nn_model *model);

/*
 * An empty model for F features, for loaders: feature_names has F slots followed by
 * name_bytes bytes of storage for the strings; mean, std and miss are allocated (not set);
 * meta is "". NULL when out of memory.
 */
struct nn_model *nn_model_alloc(int F, size_t name_bytes);

/* Replace the free-form metadata with a copy of text (NUL-terminated, <= 1 MiB). */
enum wc_status nn_model_set_meta(struct nn_model *model, const char *text,
				 struct wc_error *err);

/*
 * Check that the model was trained on exactly these features, in this order. On a
 * mismatch WC_EFORMAT with a message naming the first difference and a retrain hint.
 */
enum wc_status nn_model_check_features(const struct nn_model *model,
				       const char *const *names, int n,
				       struct wc_error *err);

/*
 * Scratch for prediction, sized once for up to max_rows rows per chunk. One thread uses a
 * workspace at a time; each serving thread keeps its own. Owned by the caller.
 */
struct nn_workspace {
	int max_rows;
	int n_inputs, n_outputs;
	size_t per_row;		/* scratch floats per row */
	float *buf;		/* one allocation, owned */
	float *inp;		/* (max_rows, n_inputs) standardised inputs */
	float *out;		/* (max_rows, n_outputs) one member's output */
	float *pred;		/* (max_rows, n_outputs) ensemble output for nn_model_loss */
	float *scratch;		/* (max_rows, max scratch per row) */
};

/*
 * Allocate a workspace for model (1..2^20 rows per chunk); it also fits any model with the
 * same input and output counts and hidden layers no wider. Free with nn_workspace_release.
 */
enum wc_status nn_workspace_init(struct nn_workspace *ws, const struct nn_model *model,
				 int max_rows, struct wc_error *err);
void nn_workspace_release(struct nn_workspace *ws);

/*
 * Predict n rows: X (n, F) raw features (NaN allowed) -> out (n, n_outputs), the
 * ensemble mean of the members' outputs (non-crossing quantiles for the quantile head).
 * Rows beyond ws->max_rows are done in chunks; a single row is n = 1. Reads model, writes
 * only ws and out (caller-owned); no allocation. Fails only on a workspace made for
 * another shape (WC_EINVAL).
 */
enum wc_status nn_model_predict(const struct nn_model *model, struct nn_workspace *ws,
				const float *X, int64_t n, float *out, struct wc_error *err);

/* Mean loss of the model on n rows (pinball for the quantile head, else MSE). */
enum wc_status nn_model_loss(const struct nn_model *model, struct nn_workspace *ws,
			     const float *X, const float *Y, int64_t n, float *loss,
			     struct wc_error *err);

/* Standardise n rows X (n, F) into inp (n, n_inputs) by the model's rule (see above). */
void nn_model_standardise(const struct nn_model *model, const float *X, int64_t n,
			  float *inp);

#endif
