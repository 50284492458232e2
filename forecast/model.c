/*
 * model.c - train, save and load a farm's forecaster; see model.h.
 *
 * Limits: all rows of a training run are held in memory (rows x features floats, about
 * 15 MB for a year of 12-hourly issues at 48 leads and 100 features); a pool holds its
 * farms' rows twice (per farm for the scores, and pooled for training).
 */
#include "forecast/model.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utc.h"
#include "forecast/baselines.h"
#include "forecast/metrics.h"
#include "forecast/modelfile.h"

void train_options_init(struct train_options *o)
{
	memset(o, 0, sizeof(*o));
	o->from = INT64_MIN;
	o->to = INT64_MAX;
	o->val_frac = 0.15;
	feature_config_init(&o->features);
	adapt_config_init(&o->adapt);
	o->adapt.on = true;
	nn_config_default(&o->nn);
	o->nn.hidden[0] = 64;
	o->nn.hidden[1] = 64;
	o->nn.dropout = 0.1f;
	o->nn.lr = 2e-3f;
	o->nn.epochs = 60;
	o->nn.patience = 8;
	o->nn.batch = 256;
	o->nn.n_members = 3;
	o->nn.threads = 1;
	o->nn.workers = train_default_workers();
	o->nn.progress = 0;
}

int train_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > NN_MAX_MEMBERS ? NN_MAX_MEMBERS : (int)n;
}

void farm_model_free(struct farm_model *m)
{
	if (!m)
		return;
	if (!m->nn_borrowed)
		nn_model_free(m->nn);
	free(m->scores);
	free(m);
}

int farm_model_median(const struct farm_model *m)
{
	int best = 0;

	for (int k = 1; k < m->nn->n_quantiles; k++)
		if (fabsf(m->nn->quantiles[k] - 0.5f) < fabsf(m->nn->quantiles[best] - 0.5f))
			best = k;
	return best;
}

int farm_model_auto_choice(const struct farm_model *m, bool mean, char *why, size_t len)
{
	static const struct {
		const char *key;
		enum baseline b;
	} base[] = {
		{ "powercurve_rmse", BASELINE_POWERCURVE },
		{ "persistence_rmse", BASELINE_PERSISTENCE },
		{ "climatology_rmse", BASELINE_CLIMATOLOGY },
	};
	json_t *root = m->scores ? json_loads(m->scores, 0, NULL) : NULL;
	json_t *all = json_object_get(root, "overall");
	json_t *net = json_object_get(all, mean ? "rmse_mean" : "rmse");
	double v[3], best;
	int choice = -1;
	size_t l;
	char name[48], others[256];

	if (!json_is_number(net))	/* models from before rmse_mean have rmse */
		net = json_object_get(all, "rmse");
	snprintf(name, sizeof(name), "nn (model %d)", m->version);
	if (!json_is_number(net)) {
		snprintf(why, len, "%s: it has no validation scores to compare with the baselines",
			 name);
		json_decref(root);
		return -1;
	}
	best = json_number_value(net);
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_object_get(all, base[i].key);

		v[i] = json_is_number(x) ? json_number_value(x) : NAN;
		if (v[i] < best) {	/* NaN never wins */
			best = v[i];
			choice = (int)base[i].b;
		}
	}
	/* the others, for the comparison */
	l = choice >= 0 ? (size_t)snprintf(others, sizeof(others), "%s %.4f", name,
					    json_number_value(net))
			: 0;
	for (size_t i = 0; i < 3 && l < sizeof(others); i++)
		if ((int)base[i].b != choice && isfinite(v[i]))
			l += (size_t)snprintf(others + l, sizeof(others) - l, "%s%s %.4f",
					      l ? ", " : "", baseline_name(base[i].b), v[i]);
	snprintf(why, len, "%s: lowest validation RMSE %.4f (%s)",
		 choice < 0 ? name : baseline_name((enum baseline)choice), best,
		 l ? others : "no baseline was scored");
	json_decref(root);
	return choice;
}

void farm_model_smooth(int K, const float *q, float *out, int n, int nq, const int64_t *T,
		       const int *lead)
{
	for (int i = 0; i < n; i++) {
		float *o = out + (size_t)i * nq;
		double wsum = 0;

		memset(o, 0, (size_t)nq * sizeof(float));
		for (int d = -K; d <= K; d++) {
			int j = i + d;
			float w = (float)(K + 1 - abs(d));

			if (j < 0 || j >= n || (T && (T[j] != T[i] || lead[j] - lead[i] != d)))
				continue;
			for (int k = 0; k < nq; k++)
				o[k] += w * q[(size_t)j * nq + k];
			wsum += w;
		}
		for (int k = 0; k < nq; k++)
			o[k] = (float)(o[k] / wsum);
	}
}

/*
 * Per-lead validation scores of the median and of the baselines, as one-line JSON; the
 * network's quantiles are smoothed over the leads as the model will forecast them.
 */
static char *score_json(const struct features *f, const struct farm_model *m, const float *X,
			const float *Y, const int64_t *T, const int *lead, int64_t split,
			int64_t n, struct wc_error *err)
{
	const struct nn_model *nn = m->nn;
	int nq = nn->n_quantiles, med = farm_model_median(m), L = f->cfg.max_lead;
	int F = f->n, ws_col = -1;
	struct metrics *mm = calloc((size_t)(L + 1) * 5, sizeof(*mm));
	double *ws = malloc((size_t)(split ? split : 1) * sizeof(double));
	float *q = malloc((size_t)(n - split ? n - split : 1) * nq * sizeof(float));
	float *qs = malloc((size_t)(n - split ? n - split : 1) * nq * sizeof(float));
	struct nn_workspace wsp = { 0 };
	struct power_curve pc;
	bool have_pc = false;
	double clim = 0;
	json_t *per = json_array(), *root = NULL;
	char *text = NULL;

	if (!mm || !ws || !q || !qs || !per) {
		wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (int i = 0; i < F; i++)
		if (!strcmp(f->names[i], "ws_hub"))
			ws_col = i;
	for (int64_t i = 0; i < split; i++) {
		clim += Y[i];
		ws[i] = X[i * F + ws_col];
	}
	clim /= (double)(split ? split : 1);
	have_pc = power_curve_fit(&pc, ws, Y, (size_t)split, NULL) == WC_OK;
	if (n > split && (nn_workspace_init(&wsp, nn, 1024, err) ||
			  nn_model_predict(nn, &wsp, X + split * F, n - split, q, err)))
		goto cleanup;
	farm_model_smooth(m->smooth, q, qs, (int)(n - split), nq, T + split, lead + split);
	for (int64_t i = split; i < n; i++) {
		const float *qi = qs + (i - split) * nq;
		int h = lead[i];
		float persist = farm_series_obs(f->target, T[i], T[i]);

		for (int a = 0; a < 2; a++) {
			struct metrics *s = &mm[(a ? 0 : h) * 5];

			metrics_add(&s[0], qi[med], Y[i]);
			metrics_add_quantiles(&s[0], qi, nn->quantiles, nq, Y[i]);
			metrics_add(&s[1], persist, Y[i]);
			metrics_add(&s[2], clim, Y[i]);
			if (have_pc)
				metrics_add(&s[3], power_curve_eval(&pc, X[i * F + ws_col]), Y[i]);
			metrics_add(&s[4], quantile_mean(nn->quantiles, qi, nq), Y[i]);
		}
	}
#define R(x) (isfinite(x) ? json_real(round((x) * 1e5) / 1e5) : json_null())
	for (int h = 0; h <= L; h++) {
		struct metrics *s = &mm[h * 5];
		json_t *o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "n", (json_int_t)s[0].n,
				      "rmse", R(metrics_rmse(&s[0])), "rmse_mean",
				      R(metrics_rmse(&s[4])), "mae",
				      R(metrics_mae(&s[0])), "pinball", R(metrics_pinball(&s[0])),
				      "persistence_rmse", R(metrics_rmse(&s[1])),
				      "climatology_rmse", R(metrics_rmse(&s[2])),
				      "powercurve_rmse", R(metrics_rmse(&s[3])));

		if (!o)
			continue;
		if (h == 0) {
			root = json_pack("{s:o,s:o}", "overall", o, "per_lead", per);
			per = NULL;
		} else if (s[0].n) {
			json_object_set_new(o, "lead_h", json_integer(h));
			json_array_append_new(json_object_get(root, "per_lead"), o);
		} else {
			json_decref(o);
		}
	}
#undef R
	if (root)
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		wc_error_set(err, WC_ENOMEM, "out of memory");
cleanup:
	json_decref(root);
	json_decref(per);
	nn_workspace_release(&wsp);
	free(mm);
	free(ws);
	free(q);
	free(qs);
	return text;
}

/* Training rows of one farm: issue-time order, rows [0, split) train, [split, n) validate. */
struct rowset {
	float *X, *Y;
	int64_t *T;
	int *L;
	int64_t n, split;
	int nissues;
};

static void rowset_release(struct rowset *r)
{
	free(r->X);
	free(r->Y);
	free(r->T);
	free(r->L);
	memset(r, 0, sizeof(*r));
}

/* Does issue time t give a training row: an observed target at a lead 1..lim whose
 * inputs exist (row: scratch of f->n). */
static bool issue_has_row(const struct features *f, int64_t t, int lim, float *row)
{
	const struct farm_series *s = f->target;

	for (int h = 1; h <= lim; h++)
		if (isfinite(farm_series_obs(s, t + (int64_t)h * UTC_HOUR, s->upto)) &&
		    features_row(f, t, h, row, NULL))
			return true;
	return false;
}

/*
 * The validation cut of the tail mode: the first of the last val_frac of the delivery
 * times d that give a row, at least one of two or more when val_frac > 0 (with
 * --issue-every 744 and a few months of history 15 % rounds down to none, and the network
 * would train without early stopping). Times without a row are not counted: a --to past
 * the last observation (a month ahead of the power, GEFCom2014's tasks 5-15) would
 * otherwise validate on issue times whose power is not in, i.e. on nothing.
 */
static enum wc_status validation_cut(const struct features *f, const struct train_options *o,
				     const int64_t *d, size_t nd, int64_t *cut,
				     struct wc_error *err)
{
	size_t nrow = 0, nval;
	float *row;

	*cut = INT64_MAX;
	if (!(o->val_frac > 0) || nd == 0)
		return WC_OK;
	row = malloc((size_t)f->n * sizeof(float));
	if (!row)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nd; i++)
		nrow += issue_has_row(f, d[i], o->features.max_lead, row);
	nval = (size_t)floor((double)nrow * o->val_frac);
	if (nval == 0 && nrow >= 2)
		nval = 1;
	for (size_t i = nd; nval > 0 && i-- > 0;)
		if (issue_has_row(f, d[i], o->features.max_lead, row) && --nval == 0)
			*cut = d[i];
	free(row);
	return WC_OK;
}

/*
 * Issue times of training: the deliveries (o->issue_every, or every run's delivery) with
 * leads 1..max_lead, and with o->short_leads also every o->short_every between them with
 * leads 1..short_leads. *lim gets each time's longest lead, negated for those extra
 * times; the validation cut *cut is the first of the last val_frac of the delivery times
 * that give a row, at least one of two or more when val_frac > 0 (INT64_MAX: none).
 */
static enum wc_status issue_plan(const struct features *f, const struct train_options *o,
				 int64_t **times, int **lim, size_t *n, int64_t *cut,
				 struct wc_error *err)
{
	const struct farm_series *s = f->target;
	int64_t *d = NULL, *e = NULL;
	size_t nd = 0, ne = 0, i = 0, j = 0, k = 0;
	enum wc_status ret;

	*times = NULL;
	*lim = NULL;
	*n = 0;
	*cut = INT64_MAX;
	if ((ret = farm_series_issue_times(s, o->from, o->to, o->issue_every, &d, &nd, err)))
		return ret;
	if (o->short_leads > 0 && o->short_every > 0 && nd &&
	    (ret = farm_series_issue_times(s, d[0], d[nd - 1], o->short_every, &e, &ne, err)))
		goto cleanup;
	*times = malloc((nd + ne ? nd + ne : 1) * sizeof(int64_t));
	*lim = malloc((nd + ne ? nd + ne : 1) * sizeof(int));
	if (!*times || !*lim) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = validation_cut(f, o, d, nd, cut, err)))
		goto cleanup;
	while (i < nd || j < ne) {
		if (j == ne || (i < nd && d[i] <= e[j])) {
			if (j < ne && d[i] == e[j])
				j++;
			(*times)[k] = d[i++];
			(*lim)[k++] = o->features.max_lead;
		} else {
			(*times)[k] = e[j++];
			(*lim)[k++] = -(o->short_leads < o->features.max_lead ? o->short_leads
									      : o->features.max_lead);
		}
	}
	*n = k;
cleanup:
	free(d);
	free(e);
	if (ret) {
		free(*times);
		free(*lim);
		*times = NULL;
		*lim = NULL;
	}
	return ret;
}

/* Is issue time t a validation one: at or after the cut, or in every k-th week. */
static bool is_validation(const struct train_options *o, int64_t t, int64_t cut)
{
	int64_t k, week;

	if (o->val_mode != VAL_WEEKLY)
		return t >= cut;
	if (!(o->val_frac > 0))
		return false;
	k = llround(1.0 / o->val_frac);
	week = (t >= 0 ? t : t - 7 * UTC_DAY + 1) / (7 * UTC_DAY);
	return (week % k + k) % k == k - 1;
}

/*
 * Observation dropout (train --obs-dropout): the columns read from each farm's observed
 * power, and whether a farm's power at an issue time is treated as missing. The draw
 * depends on the seed, the farm and the time only, so a farm's gap hides its power from
 * every row of that issue time (its own rows and its slot in the other farms' regional
 * inputs), as a telemetry gap would.
 */
struct obs_drop {
	double p;			/* share of (farm, issue time) pairs dropped; 0: none */
	uint64_t seed;
	int n_own, own[FEAT_MAX_LAGS + 1];	/* the target's obs_lag*, obs_now_decay */
	int reg[FEAT_MAX_REGIONAL];	/* each regional farm's obs_lag0 column, or -1 */
};

static void obs_drop_init(struct obs_drop *d, const struct features *f,
			  const struct train_options *o)
{
	memset(d, 0, sizeof(*d));
	d->p = o->obs_dropout;
	d->seed = o->nn.seed;
	for (int i = 0; i < f->cfg.n_regional; i++)
		d->reg[i] = -1;
	for (int j = 0; j < f->n; j++) {
		const char *c = strchr(f->names[j], ':');

		if (!c && (!strncmp(f->names[j], "obs_lag", 7) ||
			   !strcmp(f->names[j], "obs_now_decay")) && d->n_own <= FEAT_MAX_LAGS)
			d->own[d->n_own++] = j;
		for (int i = 0; c && i < f->cfg.n_regional; i++)
			if (!strcmp(c + 1, "obs_lag0") &&
			    (size_t)(c - f->names[j]) == strlen(f->cfg.regional[i]) &&
			    !strncmp(f->names[j], f->cfg.regional[i], (size_t)(c - f->names[j])))
				d->reg[i] = j;
	}
}

static bool obs_dropped(const struct obs_drop *d, const char *farm, int64_t t)
{
	uint64_t h = d->seed ^ 0x9e3779b97f4a7c15ULL ^ (uint64_t)t * 0xff51afd7ed558ccdULL;

	if (!(d->p > 0))
		return false;
	for (const char *c = farm; *c; c++)	/* FNV-1a over the id */
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	return nn_rng_uniform(&h) < d->p;
}

/* NaN the observed power of the farms whose power at t the dropout hides, in row x. */
static void obs_drop_apply(const struct obs_drop *d, const struct features *f, int64_t t,
			   float *x)
{
	if (obs_dropped(d, f->target->farm.id, t))
		for (int k = 0; k < d->n_own; k++)
			x[d->own[k]] = NAN;
	for (int i = 0; i < f->cfg.n_regional; i++)
		if (d->reg[i] >= 0 && obs_dropped(d, f->cfg.regional[i], t))
			x[d->reg[i]] = NAN;
}

/* Append the rows of issue time t with leads 1..lim whose target is observed and whose
 * NWP exists; with drop (training rows), the dropout's gaps applied. */
static void issue_rows(const struct features *f, int64_t t, int lim, const struct obs_drop *drop,
		       struct rowset *rs)
{
	const struct farm_series *s = f->target;

	for (int h = 1; h <= lim; h++) {
		int64_t n = rs->n;
		float y = farm_series_obs(s, t + (int64_t)h * UTC_HOUR, s->upto);

		if (!isfinite(y) || !features_row(f, t, h, rs->X + n * f->n, NULL))
			continue;
		if (drop)
			obs_drop_apply(drop, f, t, rs->X + n * f->n);
		rs->Y[n] = y < 0 ? 0 : y > 1 ? 1 : y;
		rs->T[n] = t;
		rs->L[n] = h;
		rs->n++;
	}
}

/*
 * Rows of f's target farm for the issue plan of o, the training rows first: every (issue
 * time, lead) whose target is observed and whose NWP exists. Validation issue times are
 * the latest val_frac (VAL_TAIL) or every k-th week (VAL_WEEKLY). The extra short-lead
 * issue times serve training only: validation ones are left out, so that validation and
 * its scores are the operational issue times alone.
 */
static enum wc_status build_rows(const struct features *f, const struct train_options *o,
				 struct rowset *rs, struct wc_error *err)
{
	int64_t *issues = NULL, cut, cap = 0;
	int *lim = NULL;
	size_t nissues = 0;
	enum wc_status ret;
	struct obs_drop drop;

	memset(rs, 0, sizeof(*rs));
	obs_drop_init(&drop, f, o);
	if ((ret = issue_plan(f, o, &issues, &lim, &nissues, &cut, err)))
		return ret;
	for (size_t i = 0; i < nissues; i++)
		cap += abs(lim[i]);
	rs->X = malloc((size_t)(cap ? cap : 1) * f->n * sizeof(float));
	rs->Y = malloc((size_t)(cap ? cap : 1) * sizeof(float));
	rs->T = malloc((size_t)(cap ? cap : 1) * sizeof(int64_t));
	rs->L = malloc((size_t)(cap ? cap : 1) * sizeof(int));
	if (!rs->X || !rs->Y || !rs->T || !rs->L) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot allocate %" PRId64 " training rows", cap);
		goto cleanup;
	}
	/* lim < 0 marks the extra short-lead issue times */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			rs->split = rs->n;
		for (size_t i = 0; i < nissues; i++) {
			bool val = is_validation(o, issues[i], cut);

			if (val != (pass == 1) || (val && lim[i] < 0))
				continue;
			if (lim[i] > 0)
				rs->nissues++;
			issue_rows(f, issues[i], abs(lim[i]), val || !(drop.p > 0) ? NULL : &drop,
				   rs);
		}
	}
cleanup:
	free(issues);
	free(lim);
	if (ret)
		rowset_release(rs);
	return ret;
}

/* First and last issue time of the rows (train and validation rows are each in order). */
static void rowset_range(const struct rowset *r, int64_t *from, int64_t *to)
{
	*from = r->T[0];
	*to = r->T[r->n - 1];
	if (r->split > 0 && r->split < r->n) {
		*from = r->T[r->split] < *from ? r->T[r->split] : *from;
		*to = r->T[r->split - 1] > *to ? r->T[r->split - 1] : *to;
	}
}

/* The options every training checks. */
static enum wc_status check_options(const struct train_options *o, struct wc_error *err)
{
	const struct feature_config *c = &o->features;

	if (o->val_frac < 0 || o->val_frac > MODEL_MAX_VAL_FRAC || c->max_lead < 1 ||
	    c->max_lead > FEAT_MAX_LEAD || o->smooth < 0 || o->smooth > MODEL_SMOOTH_MAX ||
	    !(o->obs_dropout >= 0 && o->obs_dropout <= MODEL_MAX_OBS_DROPOUT) ||
	    o->adapt.half_life_s < (int64_t)ADAPT_MIN_HALF_LIFE_H * UTC_HOUR ||
	    o->adapt.half_life_s > (int64_t)ADAPT_MAX_HALF_LIFE_H * UTC_HOUR ||
	    !(o->adapt.prior >= 0 && o->adapt.prior <= ADAPT_MAX_PRIOR))
		return wc_error_set(err, WC_EINVAL, "invalid training options");
	return WC_OK;
}

/*
 * Train o->nn on the rows (train rows first, then validation rows), then with o->refit
 * again on all of them for the epochs early stopping chose. *nn gets the network used for
 * the scores (the validated fit), *final the one to keep.
 */
static enum wc_status fit(const struct train_options *o, struct nn_data *data,
			  struct nn_model **validated, struct nn_model **final,
			  struct wc_error *err)
{
	struct nn_config cfg = o->nn;
	enum wc_status ret;
	int best = 0;

	*validated = *final = NULL;
	if ((ret = nn_model_train(&o->nn, data, validated, err)))
		return ret;
	if (!o->refit || data->split >= data->n_rows)
		return WC_OK;
	/* the validation rows are the latest: learn from them too, for as many epochs as
	 * early stopping chose (the scores stay those of the first fit) */
	for (int k = 0; k < (*validated)->n_members; k++)
		if ((*validated)->info.member[k].best_epoch > best)
			best = (*validated)->info.member[k].best_epoch;
	cfg.epochs = best > 0 ? best : 1;
	data->split = data->n_rows;
	return nn_model_train(&cfg, data, final, err);
}

/* Append rows [a, b) of r to the pooled arrays at row *n. */
static void rows_append(const struct rowset *r, int64_t a, int64_t b, int F, float *X, float *Y,
			int64_t *n)
{
	memcpy(X + *n * F, r->X + a * F, (size_t)(b - a) * F * sizeof(float));
	memcpy(Y + *n, r->Y + a, (size_t)(b - a) * sizeof(float));
	*n += b - a;
}

/*
 * Fit one network on the rows rs[0..n) of the farms whose features are f[0..n) (one farm,
 * or a pool: every farm's training rows, then every farm's validation rows) and make
 * out[i] for farm i with its own validation scores; out[1..] borrow out[0]'s network.
 * cfg is the feature configuration the models record.
 */
static enum wc_status fit_models(const struct train_options *o,
				 const struct feature_config *cfg, const struct features *f,
				 const struct rowset *rs, int n, struct farm_model **out,
				 struct wc_error *err)
{
	struct nn_model *validated = NULL, *final = NULL;
	float *X = NULL, *Y = NULL;
	int64_t total = 0, ntrain = 0, k = 0, from = INT64_MAX, to = INT64_MIN, a, b;
	int64_t obs_to = INT64_MIN;	/* the latest target the rows read */
	struct nn_data data;
	enum wc_status ret = WC_OK;
	char what[FARM_ID_MAX + 64];

	for (int i = 0; i < n; i++) {
		if (rs[i].split < 16) {
			snprintf(what, sizeof(what), "farm '%s'%s", f[i].target->farm.id,
				 n > 1 ? " of the pool" : "");
			return wc_error_set(err, WC_ENODATA,
					    "not enough training rows for %s (%" PRId64 " rows "
					    "from %d issue times): it needs NWP runs and "
					    "observations over the same period; ingest runs and "
					    "import observations first",
					    what, rs[i].n, rs[i].nissues);
		}
		total += rs[i].n;
		ntrain += rs[i].split;
		rowset_range(&rs[i], &a, &b);
		from = a < from ? a : from;
		to = b > to ? b : to;
		for (int64_t r = 0; r < rs[i].n; r++)
			if (rs[i].T[r] + (int64_t)rs[i].L[r] * UTC_HOUR > obs_to)
				obs_to = rs[i].T[r] + (int64_t)rs[i].L[r] * UTC_HOUR;
	}
	if (n == 1) {	/* already in order: no copy */
		X = rs[0].X;
		Y = rs[0].Y;
	} else if (!(X = malloc((size_t)total * f[0].n * sizeof(float))) ||
		   !(Y = malloc((size_t)total * sizeof(float)))) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot allocate %" PRId64 " pooled rows", total);
		goto cleanup;
	} else {
		for (int i = 0; i < n; i++)
			rows_append(&rs[i], 0, rs[i].split, f[0].n, X, Y, &k);
		for (int i = 0; i < n; i++)
			rows_append(&rs[i], rs[i].split, rs[i].n, f[0].n, X, Y, &k);
	}
	data = (struct nn_data){ .X = X, .Y = Y, .n_rows = total, .n_features = f[0].n,
				 .n_targets = 1, .split = ntrain,
				 .feature_names = (const char *const *)f[0].names,
				 .data_from = from, .data_to = to };
	if (n == 1)
		snprintf(what, sizeof(what), "farm '%s'", f[0].target->farm.id);
	else
		snprintf(what, sizeof(what), "a pool of %d farms", n);
	log_info("training %s: %" PRId64 " rows (%" PRId64 " validation), %d features, %d members",
		 what, total, total - ntrain, f[0].n, o->nn.n_members);
	if ((ret = fit(o, &data, &validated, &final, err)))
		goto cleanup;
	for (int i = 0; i < n && !ret; i++) {
		struct farm_model *m = calloc(1, sizeof(*m));

		if (!(out[i] = m)) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			break;
		}
		snprintf(m->farm_id, sizeof(m->farm_id), "%s", f[i].target->farm.id);
		m->features = *cfg;
		m->point_mean = o->point_mean;
		m->smooth = o->smooth;
		m->train_from = from;
		m->train_to = to;
		m->adapt = o->adapt;
		/* where the rows the network was not fitted on begin: its validation tail, or
		 * (after a refit, or without a tail) the latest target it was fitted on */
		m->adapt_from = !o->refit && o->val_mode == VAL_TAIL && rs[i].split < rs[i].n
					? rs[i].T[rs[i].split]
					: obs_to;
		m->obs_to = obs_to;
		m->n_rows = total;
		m->nn = validated;	/* borrowed for the scores */
		m->scores = score_json(&f[i], m, rs[i].X, rs[i].Y, rs[i].T, rs[i].L,
				       rs[i].split, rs[i].n, err);
		m->nn = NULL;
		if (!m->scores) {
			ret = err ? err->code : WC_ENOMEM;
			break;
		}
		m->train_seconds = validated->info.train_seconds +
				   (final ? final->info.train_seconds : 0);
		/* farm 0 owns the network; the others borrow it */
		m->nn = final ? final : validated;
		m->nn_borrowed = i > 0;
	}
	if (!ret) {
		if (final)
			final = NULL;
		else
			validated = NULL;
	}
cleanup:
	if (ret)
		for (int i = n; i-- > 0;) {
			if (out[i])
				out[i]->nn = NULL;
			farm_model_free(out[i]);
			out[i] = NULL;
		}
	nn_model_free(validated);
	nn_model_free(final);
	if (n > 1) {
		free(X);
		free(Y);
	}
	return ret;
}

enum wc_status farm_model_train(struct store *st, const char *farm_id,
				const struct train_options *o, struct farm_model **out,
				struct wc_error *err)
{
	struct farm_inputs ss;
	struct features f = { 0 };
	struct rowset rs = { 0 };
	enum wc_status ret;

	*out = NULL;
	if ((ret = check_options(o, err)) ||
	    (ret = farm_inputs_load(&ss, st, farm_id, &o->features, o->to, INT64_MIN, INT64_MAX,
				    err)))
		return ret;
	farm_series_hide_obs(&ss.target, o->hide_obs, o->n_hide_obs);
	for (int i = 0; i < ss.nreg; i++)
		farm_series_hide_obs(&ss.regional[i], o->hide_obs, o->n_hide_obs);
	if (!(ret = features_init(&f, &o->features, &ss.target, ss.rp, err)) &&
	    !(ret = build_rows(&f, o, &rs, err)))
		ret = fit_models(o, &o->features, &f, &rs, 1, out, err);
	features_release(&f);
	farm_inputs_release(&ss);
	rowset_release(&rs);
	return ret;
}

enum wc_status farm_model_train_pool(struct store *st, const char *const *ids, int n_farms,
				     const struct train_options *o, struct farm_model **out,
				     struct wc_error *err)
{
	struct feature_config c = o->features;
	struct farm_series *ser = NULL;
	const struct farm_series **sp = NULL;
	struct features *f = NULL;
	struct rowset *rs = NULL;
	enum wc_status ret = WC_OK;
	int loaded = 0;

	for (int i = 0; i < n_farms; i++)
		out[i] = NULL;
	if (n_farms < 2 || n_farms > FEAT_MAX_REGIONAL)
		return wc_error_set(err, WC_EINVAL, "a pool has 2..%d farms, not %d",
				    FEAT_MAX_REGIONAL, n_farms);
	if ((ret = check_options(o, err)))
		return ret;
	for (int i = 0; i < n_farms; i++)
		for (int j = 0; j < i; j++)
			if (!strcmp(ids[i], ids[j]))
				return wc_error_set(err, WC_EINVAL, "farm '%s' is twice in the pool",
						    ids[i]);
	/* every farm's inputs: the one-hot of the pool and, as regional inputs, every farm
	 * of the pool in one order (the target's own slot included), so that the farms'
	 * rows have the same columns */
	c.n_pool = n_farms;
	for (int i = 0; i < n_farms; i++)
		snprintf(c.pool[i], FARM_ID_MAX + 1, "%s", ids[i]);
	if (c.n_regional) {
		c.n_regional = n_farms;
		memcpy(c.regional, c.pool, sizeof(c.pool));
	}
	ser = calloc((size_t)n_farms, sizeof(*ser));
	sp = calloc((size_t)n_farms, sizeof(*sp));
	f = calloc((size_t)n_farms, sizeof(*f));
	rs = calloc((size_t)n_farms, sizeof(*rs));
	if (!ser || !sp || !f || !rs) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	/* each series loaded once, shared by every farm's features */
	for (; loaded < n_farms; loaded++) {
		if ((ret = farm_series_load(st, ids[loaded], o->to, c.delay_s, INT64_MIN,
					    INT64_MAX, &ser[loaded], err)))
			goto cleanup;
		farm_series_hide_obs(&ser[loaded], o->hide_obs, o->n_hide_obs);
		sp[loaded] = &ser[loaded];
	}
	for (int i = 0; i < n_farms && !ret; i++)
		if (!(ret = features_init(&f[i], &c, &ser[i], c.n_regional ? sp : NULL, err)))
			ret = build_rows(&f[i], o, &rs[i], err);
	if (!ret)
		ret = fit_models(o, &c, f, rs, n_farms, out, err);
cleanup:
	for (int i = 0; f && i < n_farms; i++)
		features_release(&f[i]);
	for (int i = 0; rs && i < n_farms; i++)
		rowset_release(&rs[i]);
	for (int i = 0; i < loaded; i++)
		farm_series_release(&ser[i]);
	free(ser);
	free(sp);
	free(f);
	free(rs);
	return ret;
}

json_t *farm_model_json(const struct farm_model *m)
{
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN], c[UTC_ISO_LEN];
	json_t *scores = json_loads(m->scores, 0, NULL);
	json_t *adapt = m->adapt.on ? json_pack("{s:f,s:f,s:s}", "half_life_h",
						(double)m->adapt.half_life_s / UTC_HOUR,
						"prior", m->adapt.prior, "from",
						utc_format(m->adapt_from, c))
				    : json_null();

	return json_pack("{s:s,s:i,s:I,s:s,s:s,s:f,s:o,s:o}", "farm", m->farm_id, "version",
			 m->version, "rows", (json_int_t)m->n_rows, "train_from",
			 utc_format(m->train_from, a), "train_to", utc_format(m->train_to, b),
			 "train_seconds", m->train_seconds, "adaptation",
			 adapt ? adapt : json_null(), "scores", scores ? scores : json_null());
}

static enum wc_status mkdir_p(const char *path, struct wc_error *err)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return wc_error_set(err, WC_EIO, "cannot create directory '%s': %s", buf,
					    strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return wc_error_set(err, WC_EIO, "cannot create directory '%s': %s", buf,
				    strerror(errno));
	return WC_OK;
}

static enum wc_status set_meta(struct farm_model *m, struct wc_error *err)
{
	char fcfg[8192], acfg[128], *meta = NULL;
	enum wc_status ret;

	feature_config_format(&m->features, fcfg, sizeof(fcfg));
	adapt_config_format(&m->adapt, acfg, sizeof(acfg));
	if (asprintf(&meta,
		     "farm=%s\nversion=%d\ntrain_from=%" PRId64 "\ntrain_to=%" PRId64
		     "\nobs_to=%" PRId64 "\nn_rows=%" PRId64 "\ndelay_s=%" PRId64
		     "\npoint=%s\nsmooth=%d\nadapt=%s\nadapt_from=%" PRId64
		     "\nfeatures=%s\nscores=%s\n",
		     m->farm_id, m->version, m->train_from, m->train_to, m->obs_to, m->n_rows,
		     m->features.delay_s, m->point_mean ? "mean" : "median", m->smooth, acfg,
		     m->adapt_from, fcfg, m->scores ? m->scores : "{}") < 0)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	ret = nn_model_set_meta(m->nn, meta, err);
	free(meta);
	return ret;
}

/* What store_models_add's writer needs: the models and where the store lives. */
struct save_ctx {
	struct farm_model **m;
	const char *data_dir;
};

/* store_models_add's writer: model i as the version the store chose. */
static enum wc_status write_model(void *arg, int i, struct model_rec *rec, struct wc_error *err)
{
	struct save_ctx *c = arg;
	struct farm_model *m = c->m[i];
	enum wc_status ret;

	m->version = rec->version;
	snprintf(rec->path, sizeof(rec->path), "%s/models/%s/%d.wcm", c->data_dir, m->farm_id,
		 rec->version);
	if ((ret = set_meta(m, err)))
		return ret;
	return nn_model_save(m->nn, rec->path, err);
}

enum wc_status farm_models_save(struct store *st, struct farm_model **m, int n,
				struct wc_error *err)
{
	struct model_rec *recs = calloc((size_t)(n > 0 ? n : 1), sizeof(*recs));
	struct save_ctx c = { .m = m, .data_dir = store_dir(st) };
	enum wc_status ret = WC_OK;
	char dir[1024];

	if (!recs)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (int i = 0; i < n && !ret; i++) {
		snprintf(recs[i].farm_id, sizeof(recs[i].farm_id), "%s", m[i]->farm_id);
		recs[i].created_at = utc_now();
		recs[i].train_from = m[i]->train_from;
		recs[i].train_to = m[i]->train_to;
		recs[i].n_rows = m[i]->n_rows;
		recs[i].info = m[i]->scores;	/* borrowed */
		snprintf(dir, sizeof(dir), "%s/models/%s", c.data_dir, m[i]->farm_id);
		ret = mkdir_p(dir, err);
	}
	if (!ret)
		ret = store_models_add(st, recs, n, write_model, &c, err);
	/* nothing recorded: the files written (a path is set once its writer ran; a failed
	 * write leaves no file) belong to no version, take them back */
	for (int i = 0; ret && i < n; i++) {
		if (recs[i].path[0])
			unlink(recs[i].path);
		m[i]->version = 0;
	}
	free(recs);
	return ret;
}

enum wc_status farm_model_save(struct store *st, struct farm_model *m, struct wc_error *err)
{
	return farm_models_save(st, &m, 1, err);
}

/* Value of "key=" on its own line of the metadata text, copied into buf. */
static bool meta_get(const char *meta, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = meta; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1, *e = strchr(v, '\n');
			size_t n = e ? (size_t)(e - v) : strlen(v);

			if (n >= len)
				n = len - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return true;
		}
	}
	return false;
}

enum wc_status farm_model_load(struct store *st, const char *farm_id, int version,
			       struct farm_model **out, struct wc_error *err)
{
	struct model_rec rec;
	struct farm_model *m = NULL;
	enum wc_status ret;
	char buf[8192], buf2[16], num[32];

	*out = NULL;
	if ((ret = store_model_get(st, farm_id, version, &rec, err)))
		return ret;
	if (!(m = calloc(1, sizeof(*m)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(m->farm_id, sizeof(m->farm_id), "%s", farm_id);
	m->version = rec.version;
	m->train_from = rec.train_from;
	m->train_to = rec.train_to;
	m->n_rows = rec.n_rows;
	if ((ret = nn_model_load(rec.path, NULL, 0, &m->nn, err)))
		goto cleanup;
	if (!meta_get(m->nn->meta, "features", buf, sizeof(buf)) ||
	    !meta_get(m->nn->meta, "farm", m->farm_id, sizeof(m->farm_id)) ||
	    strcmp(m->farm_id, farm_id)) {
		ret = wc_error_set(err, WC_EFORMAT,
				   "model file '%s' is not a model of farm '%s'; retrain with "
				   "'windcast train --farm %s'",
				   rec.path, farm_id, farm_id);
		goto cleanup;
	}
	/* absent in models from before the key: unknown (0) */
	if (meta_get(m->nn->meta, "obs_to", num, sizeof(num))) {
		char *end;
		long long t = strtoll(num, &end, 10);

		m->obs_to = end != num && !*end ? (int64_t)t : 0;
	}
	m->point_mean = meta_get(m->nn->meta, "point", buf2, sizeof(buf2)) &&
			!strcmp(buf2, "mean");
	/* absent in models from before the option: not smoothed */
	if (meta_get(m->nn->meta, "smooth", buf2, sizeof(buf2))) {
		char *end;
		long k = strtol(buf2, &end, 10);

		if (end == buf2 || *end || k < 0 || k > MODEL_SMOOTH_MAX) {
			ret = wc_error_set(err, WC_EFORMAT,
					   "model file '%s': bad smooth '%s' (0..%d); retrain with "
					   "'windcast train --farm %s'",
					   rec.path, buf2, MODEL_SMOOTH_MAX, farm_id);
			goto cleanup;
		}
		m->smooth = (int)k;
	}
	if ((ret = feature_config_parse(buf, &m->features, err))) {
		wc_error_prefix(err, "model file '%s'", rec.path);
		goto cleanup;
	}
	/* absent in models from before the adaptation: off, from their training end */
	adapt_config_init(&m->adapt);
	m->adapt_from = m->train_to;
	if (meta_get(m->nn->meta, "adapt", buf, sizeof(buf))) {
		char *end;

		if ((ret = adapt_config_parse(buf, &m->adapt, err))) {
			wc_error_prefix(err, "model file '%s'", rec.path);
			goto cleanup;
		}
		if (meta_get(m->nn->meta, "adapt_from", buf, sizeof(buf)))
			m->adapt_from = strtoll(buf, &end, 10);
	}
	if (!(m->scores = strdup(rec.info ? rec.info : "{}")))
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
cleanup:
	model_rec_release(&rec);
	if (ret)
		farm_model_free(m);
	else
		*out = m;
	return ret;
}
