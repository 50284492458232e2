/*
 * nn.c - networks built from the kernels of nn_kernels.c, the model (standardisation,
 * missing inputs, ensemble inference), the training loop and its member threads; see
 * nn.h for the contracts.
 *
 * Limits: float32 only, fully connected layers only, one thread per member in training
 * (OpenBLAS may use more inside sgemm when members train in turn). Training holds the
 * standardised copy of all rows in memory, shared by the members.
 */
#include "forecast/nn.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

int nn_blas_threads(int n)
{
	int old = openblas_get_num_threads();

	if (n >= 1 && n != old)
		openblas_set_num_threads(n);
	return old;
}

const char *nn_blas_corename(void)
{
	const char *core = openblas_get_corename();

	return core ? core : "unknown";
}

const char *nn_blas_coretype_hint(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	static const char *const weak[] = { "Prescott", "Core2", "Penryn", "Dunnington",
					    "Nehalem", "Atom", "Unknown" };
	const char *core = openblas_get_corename(), *better = NULL;

	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512bf16"))
		better = "Cooperlake";
	else if (__builtin_cpu_supports("avx512f"))
		better = "SkylakeX";
	else if (__builtin_cpu_supports("avx2"))
		better = "Haswell";
	if (!better || !core)
		return NULL;
	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
		if (!strcasecmp(core, weak[i]))
			return better;
#endif
	return NULL;
}

/* ---- one network ---------------------------------------------------------------- */

enum wc_status mlp_init(struct mlp *net, int n_layers, const int *sizes, enum nn_act act,
			enum nn_head head, int anchor, struct wc_error *err)
{
	size_t n = 0;
	float *p;

	memset(net, 0, sizeof(*net));
	if (n_layers < 1 || n_layers > NN_MAX_HIDDEN + 1)
		return wc_error_set(err, WC_EINVAL, "bad layer count %d: want 1..%d",
				    n_layers, NN_MAX_HIDDEN + 1);
	for (int l = 0; l <= n_layers; l++)
		if (sizes[l] < 1 || sizes[l] > NN_MAX_WIDTH)
			return wc_error_set(err, WC_EINVAL, "bad layer width %d: want 1..%d",
					    sizes[l], NN_MAX_WIDTH);
	if (act != NN_ACT_RELU && act != NN_ACT_SILU)
		return wc_error_set(err, WC_EINVAL, "unknown activation %d", (int)act);
	if (head != NN_HEAD_LINEAR && head != NN_HEAD_QUANTILE)
		return wc_error_set(err, WC_EINVAL, "unknown head %d", (int)head);
	if (head == NN_HEAD_QUANTILE && (anchor < 0 || anchor >= sizes[n_layers]))
		return wc_error_set(err, WC_EINVAL, "bad quantile anchor %d", anchor);
	for (int l = 0; l < n_layers; l++)
		n += (size_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
	p = calloc(n, sizeof(float));
	if (!p)
		return wc_error_set(err, WC_ENOMEM, "cannot allocate %zu parameters", n);
	net->n_layers = n_layers;
	memcpy(net->sizes, sizes, (size_t)(n_layers + 1) * sizeof(int));
	net->act = act;
	net->head = head;
	net->anchor = head == NN_HEAD_QUANTILE ? anchor : 0;
	net->n_params = n;
	net->params = p;
	for (int l = 0; l < n_layers; l++) {
		net->w[l] = p;
		p += (size_t)sizes[l] * sizes[l + 1];
		net->b[l] = p;
		p += sizes[l + 1];
	}
	return WC_OK;
}

void mlp_init_weights(struct mlp *net, enum nn_init init, uint64_t *rng)
{
	for (int l = 0; l < net->n_layers; l++) {
		int in = net->sizes[l], out = net->sizes[l + 1];
		int last = l == net->n_layers - 1;
		float *w = net->w[l];
		size_t n = (size_t)in * out;

		if (init == NN_INIT_FANIN) {
			float a = 1.0f / sqrtf((float)in);

			for (size_t i = 0; i < n; i++)
				w[i] = a * (2.0f * nn_rng_uniform(rng) - 1.0f);
		} else {
			/* He for ReLU layers, Xavier elsewhere (SiLU, the output layer) */
			float sd = init == NN_INIT_HE && net->act == NN_ACT_RELU && !last
				? sqrtf(2.0f / (float)in) : sqrtf(2.0f / (float)(in + out));

			for (size_t i = 0; i < n; i++)
				w[i] = sd * nn_rng_normal(rng);
		}
		memset(net->b[l], 0, (size_t)out * sizeof(float));
	}
}

void mlp_release(struct mlp *net)
{
	free(net->params);
	memset(net, 0, sizeof(*net));
}

static int mlp_max_hidden(const struct mlp *net)
{
	int w = 1;

	for (int l = 1; l < net->n_layers; l++)
		if (net->sizes[l] > w)
			w = net->sizes[l];
	return w;
}

size_t mlp_scratch_per_row(const struct mlp *net)
{
	/* two hidden activations (ping-pong) plus the raw head input */
	return 2 * (size_t)mlp_max_hidden(net) + (size_t)net->sizes[net->n_layers];
}

static void act_forward(enum nn_act act, float *out, const float *inp, size_t n)
{
	if (act == NN_ACT_SILU)
		silu_forward(out, inp, n);
	else
		relu_forward(out, inp, n);
}

static void act_backward(enum nn_act act, float *dinp, const float *inp, const float *dout,
			 size_t n)
{
	if (act == NN_ACT_SILU)
		silu_backward(dinp, inp, dout, n);
	else
		relu_backward(dinp, inp, dout, n);
}

void mlp_forward_infer(const struct mlp *net, float *out, const float *inp, int B,
		       float *scratch)
{
	size_t hw = (size_t)mlp_max_hidden(net) * B;
	float *buf[2] = { scratch, scratch + hw };
	float *z = scratch + 2 * hw;	/* (B, C_out) raw head input */
	const float *x = inp;
	int L = net->n_layers;

	for (int l = 0; l < L; l++) {
		int in = net->sizes[l], o = net->sizes[l + 1];

		if (l < L - 1) {
			float *h = buf[l & 1];	/* (B, o) */

			dense_forward(h, x, net->w[l], net->b[l], B, in, o);
			act_forward(net->act, h, h, (size_t)B * o);
			x = h;
		} else if (net->head == NN_HEAD_QUANTILE) {
			dense_forward(z, x, net->w[l], net->b[l], B, in, o);
			quantile_head_forward(out, z, B, o, net->anchor);
		} else {
			dense_forward(out, x, net->w[l], net->b[l], B, in, o);
		}
	}
}

/* ---- configuration ------------------------------------------------------------- */

void nn_config_default(struct nn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->n_hidden = 2;
	cfg->hidden[0] = 64;
	cfg->hidden[1] = 64;
	cfg->act = NN_ACT_RELU;
	cfg->head = NN_HEAD_QUANTILE;
	cfg->quantiles[cfg->n_quantiles++] = 0.01f;
	for (int i = 1; i <= 19; i++)
		cfg->quantiles[cfg->n_quantiles++] = (float)i * 0.05f;
	cfg->quantiles[cfg->n_quantiles++] = 0.99f;
	cfg->lr = 1e-3f;
	cfg->weight_decay = 1e-4f;
	cfg->beta1 = 0.9f;
	cfg->beta2 = 0.999f;
	cfg->eps = 1e-8f;
	cfg->grad_clip = 1.0f;
	cfg->sched = NN_SCHED_COSINE;
	cfg->warmup_frac = 0.05f;
	cfg->lr_min_frac = 0.05f;
	cfg->step_epochs = 30;
	cfg->step_gamma = 0.5f;
	cfg->epochs = 200;
	cfg->patience = 15;
	cfg->batch = 256;
	cfg->seed = 1;
	cfg->n_members = 5;
	cfg->threads = 1;
	cfg->workers = 1;
	cfg->progress = 1;
}

static enum wc_status config_check(const struct nn_config *c, struct wc_error *err)
{
	if (c->n_hidden < 1 || c->n_hidden > NN_MAX_HIDDEN)
		return wc_error_set(err, WC_EINVAL, "bad hidden layer count %d: want 1..%d",
				    c->n_hidden, NN_MAX_HIDDEN);
	for (int i = 0; i < c->n_hidden; i++)
		if (c->hidden[i] < 1 || c->hidden[i] > NN_MAX_WIDTH)
			return wc_error_set(err, WC_EINVAL, "bad hidden width %d: want 1..%d",
					    c->hidden[i], NN_MAX_WIDTH);
	if (c->act != NN_ACT_RELU && c->act != NN_ACT_SILU)
		return wc_error_set(err, WC_EINVAL, "unknown activation %d", (int)c->act);
	if (c->init < NN_INIT_FANIN || c->init > NN_INIT_XAVIER)
		return wc_error_set(err, WC_EINVAL, "unknown initialisation %d", (int)c->init);
	if (!(c->dropout >= 0.0f && c->dropout <= (float)NN_MAX_DROPOUT))
		return wc_error_set(err, WC_EINVAL, "bad dropout %g: want 0..%g",
				    (double)c->dropout, NN_MAX_DROPOUT);
	if (c->head == NN_HEAD_QUANTILE) {
		if (c->n_quantiles < 1 || c->n_quantiles > NN_MAX_QUANTILES)
			return wc_error_set(err, WC_EINVAL, "bad quantile count %d: want 1..%d",
					    c->n_quantiles, NN_MAX_QUANTILES);
		for (int k = 0; k < c->n_quantiles; k++)
			if (!(c->quantiles[k] > 0.0f && c->quantiles[k] < 1.0f) ||
			    (k > 0 && !(c->quantiles[k] > c->quantiles[k - 1])))
				return wc_error_set(err, WC_EINVAL,
						    "bad quantile level %g: levels must increase strictly within (0, 1)",
						    (double)c->quantiles[k]);
	} else if (c->head != NN_HEAD_LINEAR) {
		return wc_error_set(err, WC_EINVAL, "unknown head %d", (int)c->head);
	}
	if (!(c->lr > 0.0f) || !(c->weight_decay >= 0.0f) || !(c->beta1 >= 0.0f && c->beta1 < 1.0f) ||
	    !(c->beta2 >= 0.0f && c->beta2 < 1.0f) || !(c->eps > 0.0f) || !(c->grad_clip >= 0.0f))
		return wc_error_set(err, WC_EINVAL,
				    "bad optimiser setting: want lr > 0, weight decay >= 0, betas in [0, 1), eps > 0, clip >= 0");
	if (c->sched < NN_SCHED_CONST || c->sched > NN_SCHED_STEP ||
	    !(c->warmup_frac >= 0.0f && c->warmup_frac < 1.0f) ||
	    !(c->lr_min_frac >= 0.0f && c->lr_min_frac <= 1.0f) ||
	    (c->sched == NN_SCHED_STEP && (c->step_epochs < 1 || !(c->step_gamma > 0.0f))))
		return wc_error_set(err, WC_EINVAL, "bad learning-rate schedule");
	if (c->epochs < 1 || c->patience < 1 || c->batch < 1 || c->batch > NN_MAX_BATCH)
		return wc_error_set(err, WC_EINVAL,
				    "bad epochs %d, patience %d or batch %d: want >= 1 (batch <= %d)",
				    c->epochs, c->patience, c->batch, NN_MAX_BATCH);
	if (c->n_members < 1 || c->n_members > NN_MAX_MEMBERS)
		return wc_error_set(err, WC_EINVAL, "bad ensemble size %d: want 1..%d",
				    c->n_members, NN_MAX_MEMBERS);
	if (c->threads < 0 || c->threads > 256)
		return wc_error_set(err, WC_EINVAL, "bad thread count %d", c->threads);
	if (c->workers < 1 || c->workers > NN_MAX_MEMBERS)
		return wc_error_set(err, WC_EINVAL,
				    "bad worker count %d: want 1..%d members trained at once",
				    c->workers, NN_MAX_MEMBERS);
	return WC_OK;
}

/* ---- the model: allocation, standardisation, prediction ------------------------- */

struct nn_model *nn_model_alloc(int F, size_t name_bytes)
{
	struct nn_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->feature_names = malloc((size_t)F * sizeof(char *) + name_bytes);
	m->mean = malloc((size_t)F * (2 * sizeof(float) + sizeof(int32_t)));
	m->meta = calloc(1, 1);
	if (!m->feature_names || !m->mean || !m->meta) {
		free(m->feature_names);
		free(m->mean);
		free(m->meta);
		free(m);
		return NULL;
	}
	m->std = m->mean + F;
	m->miss = (int32_t *)(m->std + F);
	m->n_features = F;
	return m;
}

void nn_model_free(struct nn_model *model)
{
	if (!model)
		return;
	for (int k = 0; k < model->n_members; k++)
		mlp_release(&model->member[k]);
	free(model->feature_names);
	free(model->mean);
	free(model->meta);
	free(model);
}

enum wc_status nn_model_set_meta(struct nn_model *model, const char *text,
				 struct wc_error *err)
{
	size_t n = strlen(text);
	char *copy;

	if (n > (1u << 20))
		return wc_error_set(err, WC_ETOOLARGE, "metadata of %zu bytes too large: max 1 MiB", n);
	copy = malloc(n + 1);
	if (!copy)
		return wc_error_set(err, WC_ENOMEM, "cannot allocate metadata");
	memcpy(copy, text, n + 1);
	free(model->meta);
	model->meta = copy;
	return WC_OK;
}

enum wc_status nn_model_check_features(const struct nn_model *model,
				       const char *const *names, int n,
				       struct wc_error *err)
{
	for (int i = 0; i < n && i < model->n_features; i++)
		if (strcmp(model->feature_names[i], names[i]))
			return wc_error_set(err, WC_EFORMAT,
					    "model features differ at column %d: model has '%s', data has '%s'; retrain with 'windcast train --farm ID'",
					    i, model->feature_names[i], names[i]);
	if (n != model->n_features)
		return wc_error_set(err, WC_EFORMAT,
				    "model has %d features but data has %d; retrain with 'windcast train --farm ID'",
				    model->n_features, n);
	return WC_OK;
}

void nn_model_standardise(const struct nn_model *model, const float *X, int64_t n,
			  float *inp)
{
	int F = model->n_features, n_in = model->n_inputs;

	for (int64_t r = 0; r < n; r++) {
		const float *x = X + r * F;
		float *o = inp + r * n_in;

		for (int f = F; f < n_in; f++)
			o[f] = 0.0f;
		for (int f = 0; f < F; f++) {
			if (isfinite(x[f])) {
				o[f] = (x[f] - model->mean[f]) / model->std[f];
			} else {
				o[f] = 0.0f;
				if (model->miss[f] >= 0)
					o[model->miss[f]] = 1.0f;
			}
		}
	}
}

static size_t model_scratch_per_row(const struct nn_model *model)
{
	size_t s = 0;

	for (int k = 0; k < model->n_members; k++) {
		size_t t = mlp_scratch_per_row(&model->member[k]);

		if (t > s)
			s = t;
	}
	return s;
}

enum wc_status nn_workspace_init(struct nn_workspace *ws, const struct nn_model *model,
				 int max_rows, struct wc_error *err)
{
	size_t R = (size_t)max_rows, per = model_scratch_per_row(model);
	size_t n = R * ((size_t)model->n_inputs + 2 * (size_t)model->n_outputs + per);

	memset(ws, 0, sizeof(*ws));
	if (max_rows < 1 || max_rows > 1 << 20)
		return wc_error_set(err, WC_EINVAL, "bad workspace rows %d: want 1..%d",
				    max_rows, 1 << 20);
	ws->buf = malloc(n * sizeof(float));
	if (!ws->buf)
		return wc_error_set(err, WC_ENOMEM, "cannot allocate a workspace of %zu floats", n);
	ws->max_rows = max_rows;
	ws->n_inputs = model->n_inputs;
	ws->n_outputs = model->n_outputs;
	ws->per_row = per;
	ws->inp = ws->buf;
	ws->out = ws->inp + R * model->n_inputs;
	ws->pred = ws->out + R * model->n_outputs;
	ws->scratch = ws->pred + R * model->n_outputs;
	return WC_OK;
}

void nn_workspace_release(struct nn_workspace *ws)
{
	free(ws->buf);
	memset(ws, 0, sizeof(*ws));
}

enum wc_status nn_model_predict(const struct nn_model *model, struct nn_workspace *ws,
				const float *X, int64_t n, float *out, struct wc_error *err)
{
	int O = model->n_outputs, K = model->n_members;
	float inv = 1.0f / (float)K;

	if (ws->n_inputs != model->n_inputs || ws->n_outputs != O || !ws->buf ||
	    model_scratch_per_row(model) > ws->per_row)
		return wc_error_set(err, WC_EINVAL, "workspace was made for another model shape");
	for (int64_t r0 = 0; r0 < n; r0 += ws->max_rows) {
		int B = (int)(n - r0 < ws->max_rows ? n - r0 : ws->max_rows);
		float *o = out + r0 * O;	/* (B, O) */
		size_t m = (size_t)B * O;

		nn_model_standardise(model, X + r0 * model->n_features, B, ws->inp);
		for (int k = 0; k < K; k++) {
			mlp_forward_infer(&model->member[k], k ? ws->out : o, ws->inp, B,
					  ws->scratch);
			if (k)
				for (size_t i = 0; i < m; i++)
					o[i] += ws->out[i];
		}
		if (K > 1)
			for (size_t i = 0; i < m; i++)
				o[i] *= inv;
	}
	return WC_OK;
}

enum wc_status nn_model_loss(const struct nn_model *model, struct nn_workspace *ws,
			     const float *X, const float *Y, int64_t n, float *loss,
			     struct wc_error *err)
{
	int O = model->n_outputs, T = model->head == NN_HEAD_QUANTILE ? 1 : O;
	double sum = 0.0;
	enum wc_status ret;

	if (n < 1)
		return wc_error_set(err, WC_EINVAL, "no rows to score");
	for (int64_t r0 = 0; r0 < n; r0 += ws->max_rows) {
		int B = (int)(n - r0 < ws->max_rows ? n - r0 : ws->max_rows);
		const float *y = Y + r0 * T;

		ret = nn_model_predict(model, ws, X + r0 * model->n_features, B, ws->pred, err);
		if (ret)
			return ret;
		if (model->head == NN_HEAD_QUANTILE)
			sum += (double)pinball_forward(ws->pred, y, model->quantiles, B, O) * B;
		else
			sum += (double)mse_forward(ws->pred, y, B, O) * B;
	}
	*loss = (float)(sum / (double)n);
	return WC_OK;
}

/* ---- training ------------------------------------------------------------------ */

/*
 * Everything one member needs while training, for batches of up to B rows. Groups, each
 * one allocation: grads (P), adam m and v (2P), best weights (P), activations.
 */
struct trainer {
	struct mlp *net;
	const struct nn_config *cfg;
	int B;
	float *grads;			/* (P) carved into dw[l], db[l] */
	float *dw[NN_MAX_HIDDEN + 1], *db[NN_MAX_HIDDEN + 1];
	float *adam;			/* (2P) m then v */
	float *best;			/* (P) parameters of the best epoch */
	float *acts;			/* activation group, below */
	float *z[NN_MAX_HIDDEN + 1];	/* layer l pre-activation (B, sizes[l+1]) */
	float *a[NN_MAX_HIDDEN];	/* hidden l post-activation and dropout (B, sizes[l+1]) */
	float *mask[NN_MAX_HIDDEN];	/* hidden l dropout mask (B, sizes[l+1]) */
	float *q;			/* head output (B, O) */
	float *d[2];			/* gradient ping-pong (B, max width) */
	float *xb;			/* batch inputs (B, sizes[0]) */
	float *yb;			/* batch targets (B, T) */
	float *scratch;			/* inference scratch (B, per row) */
	uint64_t rng;
	int step;
};

static void trainer_release(struct trainer *t)
{
	free(t->grads);
	free(t->adam);
	free(t->best);
	free(t->acts);
	memset(t, 0, sizeof(*t));
}

static enum wc_status trainer_init(struct trainer *t, struct mlp *net,
				   const struct nn_config *cfg, int T, struct wc_error *err)
{
	size_t P = net->n_params, B = (size_t)cfg->batch, n = 0, wmax = 0;
	int L = net->n_layers, O = net->sizes[L];
	float *p;

	memset(t, 0, sizeof(*t));
	t->net = net;
	t->cfg = cfg;
	t->B = cfg->batch;
	for (int l = 0; l <= L; l++)
		if ((size_t)net->sizes[l] > wmax)
			wmax = (size_t)net->sizes[l];
	for (int l = 0; l < L; l++)
		n += B * net->sizes[l + 1] * (l < L - 1 ? 3 : 1);
	n += B * O + 2 * B * wmax + B * net->sizes[0] + B * T + B * mlp_scratch_per_row(net);
	t->grads = malloc(P * sizeof(float));
	t->adam = calloc(2 * P, sizeof(float));
	t->best = malloc(P * sizeof(float));
	t->acts = malloc(n * sizeof(float));
	if (!t->grads || !t->adam || !t->best || !t->acts) {
		trainer_release(t);
		return wc_error_set(err, WC_ENOMEM, "cannot allocate training buffers");
	}
	p = t->grads;
	for (int l = 0; l < L; l++) {
		t->dw[l] = p;
		p += (size_t)net->sizes[l] * net->sizes[l + 1];
		t->db[l] = p;
		p += net->sizes[l + 1];
	}
	p = t->acts;
	for (int l = 0; l < L; l++) {
		t->z[l] = p;
		p += B * net->sizes[l + 1];
		if (l < L - 1) {
			t->a[l] = p;
			p += B * net->sizes[l + 1];
			t->mask[l] = p;
			p += B * net->sizes[l + 1];
		}
	}
	t->q = p;
	p += B * O;
	t->d[0] = p;
	p += B * wmax;
	t->d[1] = p;
	p += B * wmax;
	t->xb = p;
	p += B * net->sizes[0];
	t->yb = p;
	p += B * T;
	t->scratch = p;
	return WC_OK;
}

/* Forward and backward of one batch of B rows in t->xb, t->yb; returns the batch loss. */
static float trainer_step_grads(struct trainer *t, const float *taus, int B)
{
	struct mlp *net = t->net;
	int L = net->n_layers, O = net->sizes[L];
	const float *x = t->xb;
	float *out, *dcur, loss;

	/* forward */
	for (int l = 0; l < L; l++) {
		int in = net->sizes[l], o = net->sizes[l + 1];
		size_t n = (size_t)B * o;

		dense_forward(t->z[l], x, net->w[l], net->b[l], B, in, o);
		if (l < L - 1) {
			act_forward(net->act, t->a[l], t->z[l], n);
			if (t->cfg->dropout > 0.0f)
				dropout_forward(t->a[l], t->mask[l], t->a[l], n, t->cfg->dropout,
						&t->rng);
			x = t->a[l];
		}
	}
	/* loss and its gradient w.r.t. the last layer's raw output, into d[0] */
	if (net->head == NN_HEAD_QUANTILE) {
		out = t->q;
		quantile_head_forward(out, t->z[L - 1], B, O, net->anchor);
		loss = pinball_forward(out, t->yb, taus, B, O);
		pinball_backward(t->d[1], out, t->yb, taus, B, O);
		quantile_head_backward(t->d[0], t->d[1], t->z[L - 1], B, O, net->anchor);
	} else {
		out = t->z[L - 1];
		loss = mse_forward(out, t->yb, B, O);
		mse_backward(t->d[0], out, t->yb, B, O);
	}
	/* backward */
	dcur = t->d[0];
	for (int l = L - 1; l >= 0; l--) {
		int in = net->sizes[l], o = net->sizes[l + 1];
		float *dnext = dcur == t->d[0] ? t->d[1] : t->d[0];
		const float *inp = l ? t->a[l - 1] : t->xb;
		size_t n = (size_t)B * in;

		dense_backward(l ? dnext : NULL, t->dw[l], t->db[l], dcur, inp, net->w[l],
			       B, in, o);
		if (l) {
			if (t->cfg->dropout > 0.0f)
				dropout_backward(dnext, t->mask[l - 1], dnext, n);
			act_backward(net->act, dnext, t->z[l - 1], dnext, n);
			dcur = dnext;
		}
	}
	return loss;
}

/* Clip the global gradient norm, then one AdamW step at learning rate lr. */
static void trainer_update(struct trainer *t, float lr)
{
	struct mlp *net = t->net;
	const struct nn_config *c = t->cfg;
	size_t P = net->n_params;
	float *m = t->adam, *v = t->adam + P;

	if (c->grad_clip > 0.0f) {
		double ss = 0.0;

		for (size_t i = 0; i < P; i++)
			ss += (double)t->grads[i] * t->grads[i];
		if (ss > (double)c->grad_clip * c->grad_clip) {
			float s = (float)(c->grad_clip / sqrt(ss));

			for (size_t i = 0; i < P; i++)
				t->grads[i] *= s;
		}
	}
	t->step++;
	for (int l = 0; l < net->n_layers; l++) {
		size_t nw = (size_t)net->sizes[l] * net->sizes[l + 1], nb = net->sizes[l + 1];
		size_t ow = net->w[l] - net->params, ob = net->b[l] - net->params;

		adam_update(net->w[l], t->dw[l], m + ow, v + ow, nw, lr, c->beta1, c->beta2,
			    c->eps, c->weight_decay, t->step);
		adam_update(net->b[l], t->db[l], m + ob, v + ob, nb, lr, c->beta1, c->beta2,
			    c->eps, 0.0f, t->step);
	}
}

/* Mean loss over rows [0, n) of Xn (n, n_in), Y (n, T) without dropout, in batches. */
static float trainer_eval(struct trainer *t, const float *taus, const float *Xn,
			  const float *Y, int64_t n, int T)
{
	struct mlp *net = t->net;
	int n_in = net->sizes[0], O = net->sizes[net->n_layers];
	double sum = 0.0;

	for (int64_t r0 = 0; r0 < n; r0 += t->B) {
		int B = (int)(n - r0 < t->B ? n - r0 : t->B);
		const float *y = Y + r0 * T;

		mlp_forward_infer(net, t->q, Xn + r0 * n_in, B, t->scratch);
		if (net->head == NN_HEAD_QUANTILE)
			sum += (double)pinball_forward(t->q, y, taus, B, O) * B;
		else
			sum += (double)mse_forward(t->q, y, B, O) * B;
	}
	return (float)(sum / (double)n);
}

static float lr_at(const struct nn_config *c, long step, long total, int epoch)
{
	float warm = c->warmup_frac * (float)total;

	if ((float)step < warm)
		return c->lr * (float)(step + 1) / warm;
	switch (c->sched) {
	case NN_SCHED_COSINE: {
		float p = total > warm ? ((float)step - warm) / ((float)total - warm) : 1.0f;
		float lo = c->lr * c->lr_min_frac;

		return lo + (c->lr - lo) * 0.5f * (1.0f + cosf(3.14159265f * p));
	}
	case NN_SCHED_STEP:
		return c->lr * powf(c->step_gamma, (float)(epoch / c->step_epochs));
	default:
		return c->lr;
	}
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Progress for member k after its epoch e, `done` epochs run so far over all members and
 * `left` still to run: a bar on a TTY, else a log line. The ETA assumes every remaining
 * epoch runs, so early stopping only makes it shorter; `done` counts the epochs of every
 * thread, so the rate already includes members trained at once.
 */
static void progress_report(const struct nn_config *c, int k, int e, long done, long left,
			    float train_loss, float val_loss, double elapsed, int final)
{
	double eta = elapsed / (double)done * (double)left;

	if (!c->progress)
		return;
	if (isatty(STDERR_FILENO)) {
		double share = (double)done / ((double)done + (double)left);
		char bar[31];

		for (int i = 0; i < 30; i++)
			bar[i] = i < (int)(30.0 * share) ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\rtrain [%s] member %d/%d epoch %d loss %.5f val %.5f eta <%.0fs   %s",
			bar, k + 1, c->n_members, e, (double)train_loss, (double)val_loss,
			eta, final ? "\n" : "");
		fflush(stderr);
	} else {
		log_info("train member %d/%d epoch %d/%d loss %.6f val %.6f elapsed %.1fs",
			 k + 1, c->n_members, e, c->epochs, (double)train_loss,
			 (double)val_loss, elapsed);
	}
}

static int float_cmp(const void *x, const void *y)
{
	float a = *(const float *)x, b = *(const float *)y;

	return (a > b) - (a < b);
}

/* Initial output biases: the training targets' quantiles (or means), so epoch 1 starts
 * near the unconditional answer. */
static enum wc_status init_output_bias(struct mlp *net, const float *quantiles,
				       const float *Y, int64_t n, int T, struct wc_error *err)
{
	int L = net->n_layers, O = net->sizes[L], a = net->anchor;
	float *b = net->b[L - 1];
	float *ys;

	if (net->head == NN_HEAD_LINEAR) {
		for (int c = 0; c < O; c++) {
			double s = 0.0;

			for (int64_t r = 0; r < n; r++)
				s += Y[r * T + c];
			b[c] = (float)(s / (double)n);
		}
		return WC_OK;
	}
	ys = malloc((size_t)n * sizeof(float));
	if (!ys)
		return wc_error_set(err, WC_ENOMEM, "cannot allocate %lld targets", (long long)n);
	memcpy(ys, Y, (size_t)n * sizeof(float));
	qsort(ys, (size_t)n, sizeof(float), float_cmp);
	{
		float eq[NN_MAX_QUANTILES] = { 0 };

		for (int k = 0; k < O; k++) {
			int64_t i = (int64_t)(quantiles[k] * (float)(n - 1) + 0.5f);

			eq[k] = ys[i];
		}
		b[a] = eq[a];
		/* softplus^-1(d) = log(e^d - 1); a floor keeps the increments alive */
		for (int k = 0; k < O; k++)
			if (k != a) {
				float d = k > a ? eq[k] - eq[k - 1] : eq[k + 1] - eq[k];

				d = d > 1e-3f ? d : 1e-3f;
				b[k] = logf(expm1f(d));
			}
	}
	free(ys);
	return WC_OK;
}

static enum wc_status data_check(const struct nn_config *c, const struct nn_data *d,
				 struct wc_error *err)
{
	int want_t = c->head == NN_HEAD_QUANTILE ? 1 : d->n_targets;

	if (!d->X || !d->Y)
		return wc_error_set(err, WC_EINVAL, "no training data");
	if (d->n_features < 1 || d->n_features > NN_MAX_FEATURES)
		return wc_error_set(err, WC_EINVAL, "bad feature count %d: want 1..%d",
				    d->n_features, NN_MAX_FEATURES);
	if (d->n_targets != want_t || d->n_targets < 1 || d->n_targets > NN_MAX_WIDTH)
		return wc_error_set(err, WC_EINVAL,
				    "bad target count %d: the quantile head takes 1, MSE 1..%d",
				    d->n_targets, NN_MAX_WIDTH);
	if (d->split < 1 || d->split > d->n_rows)
		return wc_error_set(err, WC_EINVAL,
				    "bad validation split %lld of %lld rows: want 1..rows",
				    (long long)d->split, (long long)d->n_rows);
	for (int64_t i = 0; i < d->n_rows * d->n_targets; i++)
		if (!isfinite(d->Y[i]))
			return wc_error_set(err, WC_EINVAL,
					    "bad target in row %lld: not finite; drop rows without a target",
					    (long long)(i / d->n_targets));
	if (d->feature_names)
		for (int f = 0; f < d->n_features; f++)
			if (!d->feature_names[f] || !d->feature_names[f][0] ||
			    strlen(d->feature_names[f]) > NN_MAX_NAME)
				return wc_error_set(err, WC_EINVAL,
						    "bad name of feature %d: want 1..%d bytes",
						    f, NN_MAX_NAME);
	return WC_OK;
}

/* Names, mean, std and missing indicators from the training rows of d. */
static enum wc_status model_fit_inputs(const struct nn_data *d, struct nn_model **out,
				       struct wc_error *err)
{
	int F = d->n_features, n_in = F;
	size_t bytes = 0;
	struct nn_model *m;
	char *s;

	for (int f = 0; f < F; f++)
		bytes += (d->feature_names ? strlen(d->feature_names[f]) : 16) + 1;
	m = nn_model_alloc(F, bytes);
	if (!m)
		return wc_error_set(err, WC_ENOMEM, "cannot allocate a model");
	s = (char *)(m->feature_names + F);
	for (int f = 0; f < F; f++) {
		m->feature_names[f] = s;
		if (d->feature_names)
			s += sprintf(s, "%s", d->feature_names[f]) + 1;
		else
			s += sprintf(s, "x%d", f) + 1;
	}
	for (int f = 0; f < F; f++) {
		double sum = 0.0, sq = 0.0;
		int64_t n = 0;

		for (int64_t r = 0; r < d->split; r++) {
			float v = d->X[r * F + f];

			if (isfinite(v)) {
				sum += v;
				n++;
			}
		}
		m->mean[f] = n ? (float)(sum / (double)n) : 0.0f;
		for (int64_t r = 0; r < d->split; r++) {
			float v = d->X[r * F + f];

			if (isfinite(v))
				sq += ((double)v - m->mean[f]) * ((double)v - m->mean[f]);
		}
		m->std[f] = n > 1 ? (float)sqrt(sq / (double)(n - 1)) : 0.0f;
		if (!(m->std[f] > 1e-12f) || !isfinite(m->std[f]))
			m->std[f] = 1.0f;
		m->miss[f] = n < d->split ? n_in++ : -1;
	}
	if (n_in > NN_MAX_WIDTH) {
		nn_model_free(m);
		return wc_error_set(err, WC_EINVAL, "too many inputs %d with missing indicators: max %d",
				    n_in, NN_MAX_WIDTH);
	}
	m->n_inputs = n_in;
	*out = m;
	return WC_OK;
}

/*
 * Why training cannot start from c->warm for data d (NULL when it can): the features
 * (names, in order), the head, the quantile levels and every layer's shape must be
 * the same.
 */
static const char *warm_mismatch(const struct nn_config *c, const struct nn_data *d)
{
	const struct nn_model *w = c->warm;
	const struct mlp *net = w->n_members > 0 ? &w->member[0] : NULL;

	if (w->n_features != d->n_features)
		return "its features are not these";
	for (int f = 0; d->feature_names && f < d->n_features; f++)
		if (strcmp(w->feature_names[f], d->feature_names[f]))
			return "its features are not these";
	if (w->head != c->head || (c->head == NN_HEAD_QUANTILE &&
				   (w->n_quantiles != c->n_quantiles ||
				    memcmp(w->quantiles, c->quantiles,
					   (size_t)c->n_quantiles * sizeof(float)))))
		return "its outputs are not these";
	if (!net || net->n_layers != c->n_hidden + 1 || net->act != c->act ||
	    net->sizes[0] != w->n_inputs)
		return "its layers are not these";
	for (int l = 0; l < c->n_hidden; l++)
		if (net->sizes[l + 1] != c->hidden[l])
			return "its layers are not these";
	return NULL;
}

/* Seed of member k: distinct streams for distinct (seed, k). */
static uint64_t member_seed(uint64_t seed, int k)
{
	uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(k + 1));

	return nn_rng_u64(&s);
}

/*
 * What the threads training the members share; one thread (the caller's) when
 * cfg->workers is 1. Member k's network and info belong to the thread that took k; the
 * rows, config and the rest of the model are only read; the fields after `lock` are
 * guarded by it.
 */
struct member_pool {
	struct nn_model *model;
	const struct nn_config *cfg;
	const struct nn_model *warm;	/* the weights to start from, or NULL (random) */
	const struct nn_data *data;
	const float *Xn;		/* (n_rows, n_inputs) standardised rows */
	double t0;			/* start of training, for progress */
	pthread_mutex_t lock;
	int next;			/* next member to take */
	long done;			/* epochs run, all members */
	long left;			/* epochs still to run if no member stops early */
	enum wc_status ret;		/* the first failure; once set, no member starts */
	struct wc_error err;		/* its message */
};

/*
 * Count epoch e of member k, its last if `last`, and report progress. Returns nonzero when
 * another member has failed, so that this one stops too.
 */
static int pool_epoch_done(struct member_pool *p, int k, int e, int last, float train_loss,
			   float val_loss)
{
	int stop;

	pthread_mutex_lock(&p->lock);
	p->done++;
	p->left -= 1 + (last ? p->cfg->epochs - e : 0);
	progress_report(p->cfg, k, e, p->done, p->left, train_loss, val_loss,
			now_seconds() - p->t0, last);
	stop = p->ret != WC_OK;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

static atomic_int fail_member = -1;

void nn_test_fail_member(int k)
{
	atomic_store(&fail_member, k);
}

/*
 * Train member k of p->model on the standardised rows, shuffling with perm (n_train),
 * which belongs to the calling thread. Writes only model->member[k] and
 * model->info.member[k]; a network left half made is freed with the model.
 */
static enum wc_status train_member(struct member_pool *p, int k, int64_t *perm,
				   struct wc_error *err)
{
	struct nn_model *model = p->model;
	const struct nn_config *c = p->cfg;
	const struct nn_data *d = p->data;
	const float *Xn = p->Xn;
	struct mlp *net = &model->member[k];
	struct nn_member_info *info = &model->info.member[k];
	int sizes[NN_MAX_HIDDEN + 2], n_in = model->n_inputs, T = d->n_targets;
	int64_t n_train = d->split, n_val = d->n_rows - d->split;
	long steps_per_epoch = (long)((n_train + c->batch - 1) / c->batch);
	long total = steps_per_epoch * c->epochs;
	float best = INFINITY;
	int wait = 0;
	struct trainer t;
	enum wc_status ret;

	if (atomic_load(&fail_member) == k)
		return wc_error_set(err, WC_ENOMEM,
				    "cannot allocate member %d: failure injected by a test", k + 1);
	sizes[0] = n_in;
	for (int l = 0; l < c->n_hidden; l++)
		sizes[l + 1] = c->hidden[l];
	sizes[c->n_hidden + 1] = model->n_outputs;
	ret = mlp_init(net, c->n_hidden + 1, sizes, c->act, c->head, 0, err);
	if (ret)
		return ret;
	if (c->head == NN_HEAD_QUANTILE) {
		for (int q = 1; q < model->n_quantiles; q++)
			if (fabsf(model->quantiles[q] - 0.5f) <
			    fabsf(model->quantiles[net->anchor] - 0.5f))
				net->anchor = q;
	}
	ret = trainer_init(&t, net, c, T, err);
	if (ret)
		return ret;
	t.rng = member_seed(c->seed, k);
	if (p->warm) {
		/* same shapes (warm_mismatch): the member's parameters as they were */
		memcpy(net->params, p->warm->member[k % p->warm->n_members].params,
		       net->n_params * sizeof(float));
	} else {
		mlp_init_weights(net, c->init, &t.rng);
		if (c->head == NN_HEAD_QUANTILE) {
			/* small last layer: start from the unconditional quantiles set by the
			 * bias */
			size_t nw = (size_t)sizes[c->n_hidden] * sizes[c->n_hidden + 1];

			for (size_t i = 0; i < nw; i++)
				net->w[c->n_hidden][i] *= 0.1f;
		}
		ret = init_output_bias(net, model->quantiles, d->Y, n_train, T, err);
		if (ret)
			goto cleanup;
	}
	memcpy(t.best, net->params, net->n_params * sizeof(float));
	for (int64_t i = 0; i < n_train; i++)
		perm[i] = i;
	memset(info, 0, sizeof(*info));
	info->val_loss = info->last_val_loss = NAN;
	for (int e = 1; e <= c->epochs; e++) {
		double sum = 0.0;
		float train_loss, val;

		for (int64_t i = n_train - 1; i > 0; i--) {
			int64_t j = (int64_t)(nn_rng_u64(&t.rng) % (uint64_t)(i + 1));
			int64_t tmp = perm[i];

			perm[i] = perm[j];
			perm[j] = tmp;
		}
		for (int64_t r0 = 0; r0 < n_train; r0 += c->batch) {
			int B = (int)(n_train - r0 < c->batch ? n_train - r0 : c->batch);

			for (int i = 0; i < B; i++) {
				int64_t r = perm[r0 + i];

				memcpy(t.xb + (size_t)i * n_in, Xn + r * n_in, (size_t)n_in * sizeof(float));
				memcpy(t.yb + (size_t)i * T, d->Y + r * T, (size_t)T * sizeof(float));
			}
			sum += (double)trainer_step_grads(&t, model->quantiles, B) * B;
			trainer_update(&t, lr_at(c, t.step, total, e - 1));
		}
		train_loss = (float)(sum / (double)n_train);
		val = n_val ? trainer_eval(&t, model->quantiles, Xn + n_train * n_in,
					   d->Y + n_train * T, n_val, T) : NAN;
		info->epochs_run = e;
		info->last_val_loss = val;
		/* without validation rows the last epoch is kept */
		if (!n_val || val < best) {
			best = val;
			info->best_epoch = e;
			info->train_loss = train_loss;
			info->val_loss = val;
			memcpy(t.best, net->params, net->n_params * sizeof(float));
			wait = 0;
		} else {
			wait++;
		}
		if (pool_epoch_done(p, k, e, (n_val && wait >= c->patience) || e == c->epochs,
				    train_loss, val))
			break;	/* another member failed: this model is not returned */
		if (n_val && wait >= c->patience)
			break;
	}
	memcpy(net->params, t.best, net->n_params * sizeof(float));
cleanup:
	trainer_release(&t);
	return ret;
}

/*
 * A training thread: train members taken from the pool until none is left or one has
 * failed. The shuffle permutation is the thread's own; the first error is copied into the
 * pool. Returns NULL (pthread's signature).
 */
static void *pool_worker(void *arg)
{
	struct member_pool *p = arg;
	struct wc_error err = { 0 };
	int64_t *perm = malloc((size_t)p->data->split * sizeof(int64_t));	/* (n_train) */
	enum wc_status ret = WC_OK;

	if (!perm)
		ret = wc_error_set(&err, WC_ENOMEM, "cannot allocate a shuffle of %lld rows",
				   (long long)p->data->split);
	for (;;) {
		int k = -1;

		pthread_mutex_lock(&p->lock);
		if (ret && !p->ret) {
			p->ret = ret;
			p->err = err;
		}
		if (!p->ret && p->next < p->cfg->n_members)
			k = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (k < 0)
			break;
		ret = train_member(p, k, perm, &err);
	}
	free(perm);
	return NULL;
}

/*
 * Train every member of p->model on min(cfg->workers, n_members) threads, the caller's
 * among them. While more than one trains, OpenBLAS runs each sgemm on its caller's thread
 * only, which is what makes the bits those of training in turn on one BLAS thread. A
 * thread that cannot be started only leaves more members to the others.
 */
static void pool_run(struct member_pool *p)
{
	int n = p->cfg->workers < p->cfg->n_members ? p->cfg->workers : p->cfg->n_members;
	pthread_t th[NN_MAX_MEMBERS];
	int started = 0, old_threads;

	if (n <= 1) {
		pool_worker(p);
		return;
	}
	old_threads = nn_blas_threads(1);
	for (int i = 1; i < n; i++) {
		int rc = pthread_create(&th[started], NULL, pool_worker, p);

		if (rc) {
			log_warn("cannot start training thread %d of %d: %s; training on fewer",
				 i + 1, n, strerror(rc));
			break;
		}
		started++;
	}
	pool_worker(p);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	nn_blas_threads(old_threads);
}

static pthread_once_t coretype_once = PTHREAD_ONCE_INIT;

static void coretype_warn(void)
{
	const char *hint = nn_blas_coretype_hint();

	if (hint)
		log_warn("slow OpenBLAS kernels '%s' on a CPU that has faster ones: set OPENBLAS_CORETYPE=%s before starting windcast for about 4x faster training",
			 openblas_get_corename(), hint);
}

void nn_blas_warn_slow_kernels(void)
{
	pthread_once(&coretype_once, coretype_warn);
}

enum wc_status nn_model_train(const struct nn_config *cfg, const struct nn_data *data,
			      struct nn_model **out, struct wc_error *err)
{
	struct nn_model *model = NULL;
	float *Xn = NULL;
	struct nn_workspace ws = { 0 };
	struct member_pool pool = { 0 };
	int old_threads = -1, lock_made = 0;
	double t0 = now_seconds();
	enum wc_status ret;

	*out = NULL;
	if (cfg->progress)	/* quiet callers (tests, benchmarks) decide for themselves */
		nn_blas_warn_slow_kernels();
	ret = config_check(cfg, err);
	if (!ret)
		ret = data_check(cfg, data, err);
	if (!ret)
		ret = model_fit_inputs(data, &model, err);
	if (ret)
		return ret;
	if (cfg->warm) {
		const char *why = warm_mismatch(cfg, data);

		if (why) {
			log_info("warm start: the model given does not fit (%s): training from "
				 "random weights", why);
		} else {
			/* its standardisation, so that its first layer reads what it learnt on */
			int F = data->n_features;

			memcpy(model->mean, cfg->warm->mean, (size_t)F * sizeof(float));
			memcpy(model->std, cfg->warm->std, (size_t)F * sizeof(float));
			memcpy(model->miss, cfg->warm->miss, (size_t)F * sizeof(int32_t));
			model->n_inputs = cfg->warm->n_inputs;
			pool.warm = cfg->warm;
		}
	}
	model->head = cfg->head;
	if (cfg->head == NN_HEAD_QUANTILE) {
		model->n_quantiles = cfg->n_quantiles;
		memcpy(model->quantiles, cfg->quantiles, sizeof(model->quantiles));
		model->n_outputs = cfg->n_quantiles;
	} else {
		model->n_outputs = data->n_targets;
	}
	Xn = malloc((size_t)data->n_rows * model->n_inputs * sizeof(float));
	if (!Xn) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot allocate %lld standardised rows",
				   (long long)data->n_rows);
		goto cleanup;
	}
	nn_model_standardise(model, data->X, data->n_rows, Xn);
	if (pthread_mutex_init(&pool.lock, NULL)) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot create the training lock");
		goto cleanup;
	}
	lock_made = 1;
	pool.model = model;
	pool.cfg = cfg;
	pool.data = data;
	pool.Xn = Xn;
	pool.t0 = t0;
	pool.left = (long)cfg->n_members * cfg->epochs;
	/* members not reached yet are zeroed (nn_model_alloc), which frees as empty */
	model->n_members = cfg->n_members;
	if (cfg->threads > 0)
		old_threads = nn_blas_threads(cfg->threads);
	pool_run(&pool);
	if (pool.ret) {
		ret = pool.ret;
		if (err)
			*err = pool.err;
		goto cleanup;
	}
	model->info.data_from = data->data_from;
	model->info.data_to = data->data_to;
	model->info.n_train = data->split;
	model->info.n_val = data->n_rows - data->split;
	model->info.seed = cfg->seed;
	model->info.val_loss = NAN;
	if (model->info.n_val) {
		int64_t s = data->split;

		ret = nn_workspace_init(&ws, model, 1024, err);
		if (!ret)
			ret = nn_model_loss(model, &ws, data->X + s * data->n_features,
					    data->Y + s * data->n_targets, model->info.n_val,
					    &model->info.val_loss, err);
		if (ret)
			goto cleanup;
	}
	model->info.train_seconds = now_seconds() - t0;
	*out = model;
	model = NULL;
cleanup:
	if (old_threads > 0)
		nn_blas_threads(old_threads);
	if (lock_made)
		pthread_mutex_destroy(&pool.lock);
	nn_workspace_release(&ws);
	nn_model_free(model);
	free(Xn);
	return ret;
}
