/*
 * model.c - train, save and load a farm's forecaster; see model.h.
 *
 * Limits: all rows of a training run are held in memory (rows x features floats, about
 * 15 MB for a year of 12-hourly issues at 48 leads and 100 features).
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
	o->nn.progress = 0;
}

void farm_model_free(struct farm_model *m)
{
	if (!m)
		return;
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

/* Per-lead validation scores of the median and of the baselines, as one-line JSON. */
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
	struct nn_workspace wsp = { 0 };
	struct power_curve pc;
	bool have_pc = false;
	double clim = 0;
	json_t *per = json_array(), *root = NULL;
	char *text = NULL;

	if (!mm || !ws || !q || !per) {
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
	for (int64_t i = split; i < n; i++) {
		const float *qi = q + (i - split) * nq;
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
	return text;
}

enum wc_status farm_model_train(struct store *st, const char *farm_id,
				const struct train_options *o, struct farm_model **out,
				struct wc_error *err)
{
	const struct feature_config *c = &o->features;
	struct farm_inputs ss;
	struct features f = { 0 };
	struct farm_model *m = NULL;
	int64_t *issues = NULL, *rowT = NULL, n = 0, split = 0, cap;
	int *rowL = NULL;
	float *X = NULL, *Y = NULL;
	size_t nissues = 0, val_start;
	struct nn_data data;
	enum wc_status ret;

	*out = NULL;
	if (o->val_frac < 0 || o->val_frac > 0.5 || c->max_lead < 1 || c->max_lead > FEAT_MAX_LEAD)
		return wc_error_set(err, WC_EINVAL, "invalid training options");
	if ((ret = farm_inputs_load(&ss, st, farm_id, c, o->to, INT64_MIN, INT64_MAX, err)))
		return ret;
	if ((ret = features_init(&f, c, &ss.target, ss.rp, err)) ||
	    (ret = farm_series_issue_times(&ss.target, o->from, o->to, o->issue_every, &issues,
					   &nissues, err)))
		goto cleanup;
	cap = (int64_t)nissues * c->max_lead;
	X = malloc((size_t)(cap ? cap : 1) * f.n * sizeof(float));
	Y = malloc((size_t)(cap ? cap : 1) * sizeof(float));
	rowT = malloc((size_t)(cap ? cap : 1) * sizeof(int64_t));
	rowL = malloc((size_t)(cap ? cap : 1) * sizeof(int));
	if (!X || !Y || !rowT || !rowL) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot allocate %" PRId64 " training rows", cap);
		goto cleanup;
	}
	/* rows in issue-time order, so that the validation split is the latest issues */
	val_start = nissues - (size_t)floor((double)nissues * o->val_frac);
	for (size_t i = 0; i < nissues; i++) {
		if (i == val_start)
			split = n;
		for (int h = 1; h <= c->max_lead; h++) {
			float y = farm_series_obs(&ss.target, issues[i] + (int64_t)h * UTC_HOUR,
						  ss.target.upto);

			if (!isfinite(y) || !features_row(&f, issues[i], h, X + n * f.n, NULL))
				continue;
			Y[n] = y < 0 ? 0 : y > 1 ? 1 : y;
			rowT[n] = issues[i];
			rowL[n] = h;
			n++;
		}
	}
	if (val_start >= nissues)
		split = n;
	if (split < 16) {
		ret = wc_error_set(err, WC_ENOTFOUND,
				   "not enough training rows for farm '%s' (%" PRId64 " rows from %zu "
				   "issue times): it needs NWP runs and observations over the same "
				   "period; ingest runs and import observations first",
				   farm_id, n, nissues);
		goto cleanup;
	}
	if (!(m = calloc(1, sizeof(*m)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(m->farm_id, sizeof(m->farm_id), "%s", farm_id);
	m->features = *c;
	m->point_mean = o->point_mean;
	m->train_from = rowT[0];
	m->train_to = rowT[n - 1];
	m->n_rows = n;
	data = (struct nn_data){ .X = X, .Y = Y, .n_rows = n, .n_features = f.n,
				 .n_targets = 1, .split = split,
				 .feature_names = (const char *const *)f.names,
				 .data_from = m->train_from, .data_to = m->train_to };
	log_info("training farm '%s': %" PRId64 " rows (%" PRId64 " validation), %d features, "
		 "%d members",
		 farm_id, n, n - split, f.n, o->nn.n_members);
	if ((ret = nn_model_train(&o->nn, &data, &m->nn, err)))
		goto cleanup;
	m->train_seconds = m->nn->info.train_seconds;
	if (!(m->scores = score_json(&f, m, X, Y, rowT, rowL, split, n, err))) {
		ret = err ? err->code : WC_ENOMEM;
		goto cleanup;
	}
	if (o->refit && split < n) {
		/* the validation rows are the latest: learn from them too, for as many
		 * epochs as early stopping chose (the scores stay those of the first fit) */
		struct nn_config cfg = o->nn;
		struct nn_model *all = NULL;
		int best = 0;

		for (int k = 0; k < m->nn->n_members; k++)
			best = m->nn->info.member[k].best_epoch > best
				       ? m->nn->info.member[k].best_epoch
				       : best;
		cfg.epochs = best > 0 ? best : 1;
		data.split = n;
		if ((ret = nn_model_train(&cfg, &data, &all, err)))
			goto cleanup;
		m->train_seconds += all->info.train_seconds;
		nn_model_free(m->nn);
		m->nn = all;
	}
	*out = m;
	m = NULL;
cleanup:
	farm_model_free(m);
	features_release(&f);
	farm_inputs_release(&ss);
	free(issues);
	free(X);
	free(Y);
	free(rowT);
	free(rowL);
	return ret;
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
	char fcfg[4096], *meta = NULL;
	enum wc_status ret;

	feature_config_format(&m->features, fcfg, sizeof(fcfg));
	if (asprintf(&meta,
		     "farm=%s\nversion=%d\ntrain_from=%" PRId64 "\ntrain_to=%" PRId64
		     "\nn_rows=%" PRId64 "\ndelay_s=%" PRId64 "\npoint=%s\nfeatures=%s\nscores=%s\n",
		     m->farm_id, m->version, m->train_from, m->train_to, m->n_rows,
		     m->features.delay_s, m->point_mean ? "mean" : "median", fcfg,
		     m->scores ? m->scores : "{}") < 0)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	ret = nn_model_set_meta(m->nn, meta, err);
	free(meta);
	return ret;
}

enum wc_status farm_model_save(struct store *st, struct farm_model *m, struct wc_error *err)
{
	struct model_rec rec = { 0 };
	char dir[1024];
	enum wc_status ret;
	int version;

	snprintf(dir, sizeof(dir), "%s/models/%s", store_dir(st), m->farm_id);
	if ((ret = mkdir_p(dir, err)) ||
	    (ret = store_model_next_version(st, m->farm_id, &version, err)))
		return ret;
	/* two trainers of one farm at once: the loser takes the next version */
	for (int attempt = 0; attempt < 8; attempt++, version++) {
		m->version = version;
		snprintf(rec.farm_id, sizeof(rec.farm_id), "%s", m->farm_id);
		rec.version = version;
		snprintf(rec.path, sizeof(rec.path), "%s/%d.wcm", dir, version);
		rec.created_at = utc_now();
		rec.train_from = m->train_from;
		rec.train_to = m->train_to;
		rec.n_rows = m->n_rows;
		rec.info = m->scores;
		if ((ret = set_meta(m, err)) || (ret = nn_model_save(m->nn, rec.path, err)))
			return ret;
		ret = store_model_add(st, &rec, err);
		if (ret != WC_EEXIST)
			break;
	}
	if (ret)
		m->version = 0;
	return ret;
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
	char buf[4096], buf2[16];

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
	m->point_mean = meta_get(m->nn->meta, "point", buf2, sizeof(buf2)) &&
			!strcmp(buf2, "mean");
	if ((ret = feature_config_parse(buf, &m->features, err))) {
		wc_error_prefix(err, "model file '%s'", rec.path);
		goto cleanup;
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
