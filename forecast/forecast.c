/*
 * forecast.c - issue-time forecasts with fallbacks, their storage and their JSON/CSV
 * forms; see forecast.h.
 *
 * Limits: a forecaster holds its farm's series for its issue-time range in memory; the
 * model path loads a narrow window (a day before the first issue time to the last lead),
 * a baseline the year before (its history), loaded only when a baseline is needed.
 */
#include "forecast/forecast.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "forecast/baselines.h"
#include "forecast/features.h"
#include "forecast/metrics.h"
#include "forecast/model.h"

#define HISTORY_S ((int64_t)367 * UTC_DAY)

void forecast_options_init(struct forecast_options *o)
{
	memset(o, 0, sizeof(*o));
	o->model = "auto";
	o->horizon = FORECAST_DEFAULT_HORIZON;
}

void forecast_release(struct forecast *fc)
{
	free(fc->valid);
	free(fc->point);
	free(fc->q);
	fc->valid = NULL;
	fc->point = fc->q = NULL;
	fc->nlead = 0;
}

void forecast_model_key(const struct forecast *fc, char *buf, size_t len)
{
	if (!strcmp(fc->model, "nn"))
		snprintf(buf, len, "nn:%d", fc->model_version);
	else
		snprintf(buf, len, "%s", fc->model);
}

struct forecaster {
	struct store *st;
	char farm_id[FARM_ID_MAX + 1];
	struct forecast_options o;
	char model_name[32];
	int64_t first, last;
	struct farm_model *model;	/* NULL: none trained (or a baseline was asked for) */
	char no_model[256];		/* why model is NULL */
	struct feature_config fcfg;	/* the model's, or defaults for baselines */
	struct farm_inputs in;
	bool loaded, history;		/* in is loaded; with a year of history */
	struct features feat;
	bool feat_ok;
	struct nn_workspace ws;
	float *X, *Q;			/* (horizon, F), (horizon, nq) */
};

void forecaster_free(struct forecaster *fc)
{
	if (!fc)
		return;
	features_release(&fc->feat);
	if (fc->loaded)
		farm_inputs_release(&fc->in);
	nn_workspace_release(&fc->ws);
	farm_model_free(fc->model);
	free(fc->X);
	free(fc->Q);
	free(fc);
}

int64_t forecaster_first(const struct forecaster *fc)
{
	return fc->first;
}

/* (Re)load the series, with a year of history when `history`. */
static enum wc_status load_inputs(struct forecaster *fc, bool history, struct wc_error *err)
{
	int64_t from = fc->first - (history ? HISTORY_S : 2 * UTC_DAY);
	int64_t to = fc->last + (int64_t)(fc->o.horizon + FEAT_MAX_NBR + 2) * UTC_HOUR;
	enum wc_status ret;

	if (fc->loaded && (fc->history || !history))
		return WC_OK;
	features_release(&fc->feat);
	fc->feat_ok = false;
	if (fc->loaded)
		farm_inputs_release(&fc->in);
	fc->loaded = false;
	if ((ret = farm_inputs_load(&fc->in, fc->st, fc->farm_id, &fc->fcfg, fc->last, from, to,
				    err)))
		return ret;
	fc->loaded = true;
	fc->history = history;
	if (fc->model) {
		if ((ret = features_init(&fc->feat, &fc->fcfg, &fc->in.target, fc->in.rp, err)) ||
		    (ret = nn_model_check_features(fc->model->nn,
						   (const char *const *)fc->feat.names,
						   fc->feat.n, err)))
			return ret;
		fc->feat_ok = true;
	}
	return WC_OK;
}

/*
 * A model whose regional inputs name a farm that has since been removed cannot build its
 * rows: WC_ENOTFOUND saying which farm and how to fix it. (A pool's one-hot needs only
 * the names: a removed pool farm that is not a regional input is no obstacle.)
 */
static enum wc_status model_inputs_registered(struct store *st, const struct farm_model *m,
					      struct wc_error *err)
{
	const struct feature_config *c = &m->features;

	for (int i = 0; i < c->n_regional; i++) {
		const char *id = c->regional[i];
		struct farm g;
		enum wc_status ret = store_farm_get(st, id, &g, err);

		if (ret == WC_ENOTFOUND)
			return wc_error_set(err, WC_ENOTFOUND,
					    "model %d of farm '%s' takes inputs from farm '%s', which "
					    "is no longer registered; retrain with 'windcast train "
					    "--farm %s' (or --pool with the farms that remain)",
					    m->version, m->farm_id, id, m->farm_id);
		if (ret)
			return ret;
	}
	return WC_OK;
}

enum wc_status forecaster_open(struct store *st, const char *farm_id,
			       const struct forecast_options *o, int64_t first, int64_t last,
			       struct forecaster **out, struct wc_error *err)
{
	struct forecaster *fc;
	enum wc_status ret = WC_OK;
	struct farm f;
	bool baseline;

	*out = NULL;
	if (o->horizon < 1 || o->horizon > FEAT_MAX_LEAD)
		return wc_error_set(err, WC_EINVAL, "invalid horizon %d: use 1..%d", o->horizon,
				    FEAT_MAX_LEAD);
	baseline = baseline_parse(o->model) >= 0;
	if (!baseline && strcmp(o->model, "auto") && strcmp(o->model, "nn"))
		return wc_error_set(err, WC_EINVAL,
				    "unknown model '%s': use auto, nn, persistence, climatology "
				    "or powercurve",
				    o->model);
	if ((ret = store_farm_get(st, farm_id, &f, err)))
		return ret;
	if (!(fc = calloc(1, sizeof(*fc))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	fc->st = st;
	snprintf(fc->farm_id, sizeof(fc->farm_id), "%s", farm_id);
	fc->o = *o;
	snprintf(fc->model_name, sizeof(fc->model_name), "%s", o->model);
	fc->o.model = fc->model_name;
	feature_config_init(&fc->fcfg);
	if (!baseline) {
		struct wc_error merr = { 0 };

		ret = farm_model_load(st, farm_id, o->model_version, &fc->model, &merr);
		if (!ret)
			ret = model_inputs_registered(st, fc->model, &merr);
		if (ret == WC_ENOTFOUND && !strcmp(o->model, "auto")) {
			farm_model_free(fc->model);
			fc->model = NULL;
			snprintf(fc->no_model, sizeof(fc->no_model), "%s", merr.msg);
			ret = WC_OK;
		} else if (ret) {
			if (err)
				*err = merr;
			goto cleanup;
		} else {
			fc->fcfg = fc->model->features;
		}
	}
	if (first == INT64_MIN &&
	    (ret = forecast_default_issued(st, farm_id, fc->fcfg.delay_s, &first, err)))
		goto cleanup;
	if (last == INT64_MIN || last < first)
		last = first;
	fc->first = first;
	fc->last = last;
	if ((ret = load_inputs(fc, fc->model == NULL, err)))
		goto cleanup;
	if (fc->model) {
		int nq = fc->model->nn->n_quantiles;

		/* the model's lead smoothing looks up to `smooth` leads past the horizon */
		size_t rows = (size_t)o->horizon + (size_t)fc->model->smooth;

		fc->X = malloc(rows * fc->feat.n * sizeof(float));
		fc->Q = malloc(2 * rows * nq * sizeof(float));
		if (!fc->X || !fc->Q) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		if ((ret = nn_workspace_init(&fc->ws, fc->model->nn, (int)rows, err)))
			goto cleanup;
	}
	*out = fc;
	fc = NULL;
cleanup:
	forecaster_free(fc);
	return ret;
}

static enum wc_status alloc_leads(struct forecast *out, int nlead, int nq,
				  struct wc_error *err)
{
	out->nlead = nlead;
	out->nq = nq;
	out->valid = calloc((size_t)nlead, sizeof(int64_t));
	out->point = calloc((size_t)nlead, sizeof(float));
	out->q = calloc((size_t)nlead * nq, sizeof(float));
	if (!out->valid || !out->point || !out->q)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	return WC_OK;
}

static void set_run(struct forecast *out, const struct farm_series *s, size_t r)
{
	if (r == SIZE_MAX || r >= s->nruns)
		return;
	out->has_run = true;
	out->run_is_forecast = s->runs[r].is_forecast;
	out->run_ref_time = s->runs[r].is_forecast ? s->runs[r].ref_time : 0;
	snprintf(out->run_source, sizeof(out->run_source), "%s", s->runs[r].source);
}

static float clip01f(float v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Append "; " (when out->note is not empty) and the formatted text to out->note. */
static void add_note(struct forecast *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_note(struct forecast *out, const char *fmt, ...)
{
	size_t l = strlen(out->note);
	va_list ap;

	if (l)
		l += (size_t)snprintf(out->note + l, sizeof(out->note) - l, "; ");
	if (l >= sizeof(out->note))
		return;
	va_start(ap, fmt);
	vsnprintf(out->note + l, sizeof(out->note) - l, fmt, ap);
	va_end(ap);
}

/* The model's forecast; WC_ENOTFOUND (with the reason) when it has no NWP at T + 1. */
static enum wc_status issue_model(struct forecaster *fc, int64_t T, struct forecast *out,
				  struct wc_error *err)
{
	const struct farm_model *m = fc->model;
	int F = fc->feat.n, nq = m->nn->n_quantiles, med = farm_model_median(m);
	int H = fc->o.horizon, reach = 0, rows = 0, last;
	bool mean = fc->o.point == FORECAST_POINT_MEAN ||
		    (fc->o.point == FORECAST_POINT_MODEL && m->point_mean);
	size_t run1 = SIZE_MAX;
	enum wc_status ret;
	char t[UTC_ISO_LEN];

	if (!m->features.nwp_only && H > m->features.max_lead) {
		snprintf(out->note, sizeof(out->note),
			 "horizon cut to %d h, the longest lead model %d was trained for",
			 m->features.max_lead, m->version);
		H = m->features.max_lead;
	}
	/*
	 * Leads 1..H, and up to m->smooth more for the smoothing of the last ones, so that a
	 * lead's forecast does not depend on the horizon asked for (not past the leads the
	 * model was trained for, unless it forecasts from NWP alone).
	 */
	last = H + m->smooth;
	if (!m->features.nwp_only && last > m->features.max_lead)
		last = m->features.max_lead > H ? m->features.max_lead : H;
	for (int h = 1; h <= last; h++) {
		size_t r;

		if (!features_row(&fc->feat, T, h, fc->X + (size_t)(h - 1) * F, &r))
			break;
		if (h == 1)
			run1 = r;
		rows = h;
		if (h <= H)
			reach = h;
	}
	if (reach == 0)
		return wc_error_set(err, WC_ENOTFOUND,
				    "no NWP run available for farm '%s' at %s (delivery delay %lld h)",
				    fc->farm_id, utc_format(T, t),
				    (long long)(m->features.delay_s / UTC_HOUR));
	if (reach < H)
		snprintf(out->note, sizeof(out->note),
			 "horizon cut to %d h, the reach of the NWP available at the issue time",
			 reach);
	if ((ret = nn_model_predict(m->nn, &fc->ws, fc->X, rows, fc->Q, err)) ||
	    (ret = alloc_leads(out, reach, nq, err)))
		return ret;
	memcpy(out->taus, m->nn->quantiles, (size_t)nq * sizeof(float));
	for (int i = 0; i < rows; i++) {	/* within [0, 1] and ordered */
		float *q = fc->Q + (size_t)i * nq;

		for (int k = 0; k < nq; k++) {
			q[k] = clip01f(q[k]);
			if (k && q[k] < q[k - 1])
				q[k] = q[k - 1];
		}
	}
	farm_model_smooth(m->smooth, fc->Q, fc->Q + (size_t)rows * nq, rows, nq, NULL, NULL);
	memcpy(out->q, fc->Q + (size_t)rows * nq, (size_t)reach * nq * sizeof(float));
	for (int i = 0; i < reach; i++) {
		const float *q = out->q + (size_t)i * nq;

		out->valid[i] = T + (int64_t)(i + 1) * UTC_HOUR;
		out->point[i] = mean ? (float)quantile_mean(out->taus, q, nq) : q[med];
	}
	if (T < m->train_to)
		add_note(out, "model %d was trained on issue times up to %s, after this one: "
			      "not a leakage-free hindcast",
			 m->version, utc_format(m->train_to, t));
	snprintf(out->model, sizeof(out->model), "nn");
	out->model_version = m->version;
	set_run(out, &fc->in.target, run1);
	return WC_OK;
}

static enum wc_status issue_baseline(struct forecaster *fc, enum baseline b, int64_t T,
				     struct forecast *out, struct wc_error *err)
{
	const struct farm_curve *curve = &fc->in.target.farm.power_curve;
	struct baseline_info info;
	struct nn_config dflt;
	int H = fc->o.horizon, nlead = H;
	enum wc_status ret;

	nn_config_default(&dflt);
	if ((ret = load_inputs(fc, true, err)) || (ret = alloc_leads(out, H, dflt.n_quantiles, err)))
		return ret;
	memcpy(out->taus, dflt.quantiles, (size_t)dflt.n_quantiles * sizeof(float));
	ret = baseline_forecast(b, &fc->in.target, T, H, out->taus, out->nq, curve, out->point,
				out->q, &info, err);
	if (ret)
		return ret;
	if (b == BASELINE_POWERCURVE) {
		for (nlead = 0; nlead < H && isfinite(out->point[nlead]); nlead++)
			;
		if (nlead < H)
			add_note(out, "horizon cut to %d h, the reach of the NWP available at the "
				      "issue time",
				 nlead);
		out->nlead = nlead;
		set_run(out, &fc->in.target, info.run);
		snprintf(out->curve, sizeof(out->curve), "%s",
			 info.curve_given ? "farm" : "fitted");
		if (info.curve_given && info.curve_pairs < POWER_CURVE_MIN_RESID)
			add_note(out, "the farm's power curve has %zu hours of NWP and observed "
				      "power before the issue time to measure its errors (fewer "
				      "than %d): every quantile is the point",
				 info.curve_pairs, POWER_CURVE_MIN_RESID);
	}
	for (int i = 0; i < out->nlead; i++)
		out->valid[i] = T + (int64_t)(i + 1) * UTC_HOUR;
	snprintf(out->model, sizeof(out->model), "%s", baseline_name(b));
	return WC_OK;
}

enum wc_status forecaster_issue(struct forecaster *fc, int64_t T, struct forecast *out,
				struct wc_error *err)
{
	static const enum baseline chain[] = { BASELINE_POWERCURVE, BASELINE_PERSISTENCE,
					       BASELINE_CLIMATOLOGY };
	struct wc_error why = { 0 };
	enum wc_status ret;
	int b = baseline_parse(fc->o.model);
	char t[UTC_ISO_LEN];

	memset(out, 0, sizeof(*out));
	/* rows are hourly: an issue time between hours serves as the hour before it, which
	 * can only see less, never more */
	T = utc_floor(T, UTC_HOUR);
	snprintf(out->farm_id, sizeof(out->farm_id), "%s", fc->farm_id);
	out->capacity_mw = fc->in.target.farm.capacity_mw;
	out->issued = T;
	if (T < utc_floor(fc->first, UTC_HOUR) || T > fc->last)
		return wc_error_set(err, WC_EINVAL, "issue time %s is outside the forecaster's range",
				    utc_format(T, t));
	if (b >= 0) {
		ret = issue_baseline(fc, (enum baseline)b, T, out, err);
		goto done;
	}
	if (fc->model) {
		ret = issue_model(fc, T, out, &why);
		if (ret == WC_OK || ret != WC_ENOTFOUND || !strcmp(fc->o.model, "nn")) {
			if (ret && err)
				*err = why;
			goto done;
		}
		forecast_release(out);
		out->note[0] = '\0';
	} else {
		snprintf(why.msg, sizeof(why.msg), "%s", fc->no_model);
	}
	/* auto: the first baseline with inputs at T, saying why the model did not serve */
	snprintf(out->fallback, sizeof(out->fallback), "%s", why.msg);
	ret = WC_ENOTFOUND;
	for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]) && ret == WC_ENOTFOUND; i++) {
		struct wc_error berr = { 0 };

		forecast_release(out);
		ret = issue_baseline(fc, chain[i], T, out, &berr);
		if (ret == WC_ENOTFOUND) {
			size_t l = strlen(out->fallback);

			snprintf(out->fallback + l, sizeof(out->fallback) - l, "; %s", berr.msg);
		} else if (ret && err) {
			*err = berr;
		}
	}
	if (ret == WC_ENOTFOUND)
		wc_error_set(err, WC_ENOTFOUND, "cannot forecast farm '%s' at %s: %s", fc->farm_id,
			     utc_format(T, t), out->fallback);
done:
	if (ret)
		forecast_release(out);
	return ret;
}

enum wc_status forecast_default_issued(struct store *st, const char *farm_id,
				       int64_t delay_s, int64_t *T, struct wc_error *err)
{
	struct nwp_run *runs = NULL;
	size_t nruns = 0, nobs = 0;
	int64_t first = 0, last = 0, best = INT64_MIN, now = utc_now();
	enum wc_status ret;

	if ((ret = store_run_list(st, &runs, &nruns, err)) ||
	    (ret = store_obs_range(st, farm_id, &nobs, &first, &last, err))) {
		free(runs);
		return ret;
	}
	for (size_t i = 0; i < nruns; i++)
		if (runs[i].is_forecast && runs[i].ref_time + delay_s > best)
			best = runs[i].ref_time + delay_s;
	free(runs);
	if (nobs && last > best)
		best = last;
	if (best == INT64_MIN || best > now)
		best = now;
	*T = utc_floor(best, UTC_HOUR);
	return WC_OK;
}

/* ---- storing ---- */

json_t *forecast_body(const struct forecast *fc)
{
	json_t *taus = json_array(), *valid = json_array(), *q = json_array();
	json_t *point = json_array();
	char t[UTC_ISO_LEN];

	for (int k = 0; k < fc->nq; k++)
		json_array_append_new(taus, json_real(fc->taus[k]));
	for (int i = 0; i < fc->nlead; i++) {
		json_t *row = json_array();

		json_array_append_new(valid, json_integer(fc->valid[i]));
		json_array_append_new(point, json_real(fc->point[i]));
		for (int k = 0; k < fc->nq; k++)
			json_array_append_new(row, json_real(fc->q[(size_t)i * fc->nq + k]));
		json_array_append_new(q, row);
	}
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "farm",
			 fc->farm_id, "issued", utc_format(fc->issued, t), "model", fc->model,
			 "model_version", fc->model_version, "curve", fc->curve, "fallback",
			 fc->fallback, "note", fc->note, "run",
			 fc->has_run ? json_pack("{s:I,s:b,s:s}", "ref_time",
						 (json_int_t)fc->run_ref_time, "is_forecast",
						 fc->run_is_forecast, "source", fc->run_source)
				     : json_null(),
			 "taus", taus, "valid", valid, "point", point, "q", q);
}

enum wc_status forecast_from_body(const char *text, struct forecast *fc, struct wc_error *err)
{
	json_t *root = json_loads(text, 0, NULL), *taus, *valid, *q, *run, *point;
	const char *farm, *issued, *model, *fallback, *note;
	int version;
	enum wc_status ret = WC_OK;

	memset(fc, 0, sizeof(*fc));
	if (!root ||
	    json_unpack(root, "{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "farm", &farm,
			"issued", &issued, "model", &model, "model_version", &version, "fallback",
			&fallback, "note", &note, "run", &run, "taus", &taus, "valid", &valid,
			"point", &point, "q", &q) ||
	    json_array_size(point) != json_array_size(valid) ||
	    !json_is_array(taus) || !json_is_array(valid) || !json_is_array(q) ||
	    json_array_size(taus) > FORECAST_MAX_LEVELS || json_array_size(taus) == 0 ||
	    json_array_size(valid) == 0 ||
	    json_array_size(valid) != json_array_size(q) ||
	    !utc_parse(issued, &fc->issued)) {
		ret = wc_error_set(err, WC_EFORMAT, "stored forecast is damaged");
		goto cleanup;
	}
	snprintf(fc->farm_id, sizeof(fc->farm_id), "%s", farm);
	snprintf(fc->model, sizeof(fc->model), "%s", model);
	snprintf(fc->fallback, sizeof(fc->fallback), "%s", fallback);
	snprintf(fc->note, sizeof(fc->note), "%s", note);
	/* bodies stored before farm power curves have no "curve": the curve was fitted */
	snprintf(fc->curve, sizeof(fc->curve), "%s",
		 json_is_string(json_object_get(root, "curve"))
			 ? json_string_value(json_object_get(root, "curve"))
		 : strcmp(fc->model, "powercurve") ? ""
						   : "fitted");
	fc->model_version = version;
	if (json_is_object(run)) {
		const char *src = "";
		int isf = 0;
		json_int_t ref = 0;

		json_unpack(run, "{s:I,s:b,s:s}", "ref_time", &ref, "is_forecast", &isf, "source",
			    &src);
		fc->has_run = true;
		fc->run_ref_time = ref;
		fc->run_is_forecast = isf;
		snprintf(fc->run_source, sizeof(fc->run_source), "%s", src);
	}
	if ((ret = alloc_leads(fc, (int)json_array_size(valid), (int)json_array_size(taus), err)))
		goto cleanup;
	for (int k = 0; k < fc->nq; k++)
		fc->taus[k] = (float)json_number_value(json_array_get(taus, (size_t)k));
	for (int i = 0; i < fc->nlead; i++) {
		json_t *row = json_array_get(q, (size_t)i);

		fc->valid[i] = json_integer_value(json_array_get(valid, (size_t)i));
		if (json_array_size(row) != (size_t)fc->nq) {
			ret = wc_error_set(err, WC_EFORMAT, "stored forecast is damaged");
			goto cleanup;
		}
		for (int k = 0; k < fc->nq; k++)
			fc->q[(size_t)i * fc->nq + k] =
				(float)json_number_value(json_array_get(row, (size_t)k));
		fc->point[i] = (float)json_number_value(json_array_get(point, (size_t)i));
	}
cleanup:
	json_decref(root);
	if (ret)
		forecast_release(fc);
	return ret;
}

enum wc_status forecast_store(struct store *st, const struct forecast *fc, size_t n,
			      struct wc_error *err)
{
	int64_t *issued = calloc(n ? n : 1, sizeof(int64_t));
	char **keys = calloc(n ? n : 1, sizeof(char *));
	char **bodies = calloc(n ? n : 1, sizeof(char *));
	enum wc_status ret = WC_OK;

	if (!issued || !keys || !bodies) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *b = forecast_body(&fc[i]);

		issued[i] = fc[i].issued;
		keys[i] = malloc(48);
		bodies[i] = b ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(b);
		if (!keys[i] || !bodies[i]) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		forecast_model_key(&fc[i], keys[i], 48);
	}
	if (n)
		ret = store_forecast_put(st, fc[0].farm_id, n, issued, (const char *const *)keys,
					 (const char *const *)bodies, err);
cleanup:
	for (size_t i = 0; keys && bodies && i < n; i++) {
		free(keys[i]);
		free(bodies[i]);
	}
	free(issued);
	free(keys);
	free(bodies);
	return ret;
}

/* ---- showing ---- */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

enum wc_status forecast_parse_levels(const char *s, float *levels, int *n,
				     struct wc_error *err)
{
	const char *colon = strchr(s, ':');
	int k = 0;

	*n = 0;
	if (colon) {
		double a, b, step;
		char tail;

		if (sscanf(s, "%lf:%lf:%lf%c", &a, &b, &step, &tail) != 3 || !(a > 0) ||
		    !(b < 1) || !(step > 0) || a > b)
			return wc_error_set(err, WC_EINVAL,
					    "invalid quantile range '%s': use from:to:step within "
					    "(0, 1), e.g. 0.01:0.99:0.01",
					    s);
		for (double v = a; v <= b + step * 1e-6; v += step) {
			if (k == FORECAST_MAX_REQUEST)
				return wc_error_set(err, WC_EINVAL,
						    "too many quantiles in '%s' (at most %d)", s,
						    FORECAST_MAX_REQUEST);
			levels[k++] = (float)(round(v * 1e6) / 1e6);
		}
	} else {
		const char *p = s;

		while (*p) {
			char *end;
			double v = strtod(p, &end);

			if (end == p || !(v > 0 && v < 1) || (*end && *end != ','))
				return wc_error_set(err, WC_EINVAL,
						    "invalid quantile list '%s': use levels in "
						    "(0, 1) separated by commas, e.g. 0.1,0.5,0.9",
						    s);
			if (k == FORECAST_MAX_REQUEST)
				return wc_error_set(err, WC_EINVAL,
						    "too many quantiles in '%s' (at most %d)", s,
						    FORECAST_MAX_REQUEST);
			levels[k++] = (float)v;
			p = *end ? end + 1 : end;
		}
	}
	if (k == 0)
		return wc_error_set(err, WC_EINVAL, "no quantile levels in '%s'", s);
	qsort(levels, (size_t)k, sizeof(float), cmp_float);
	*n = k;
	return WC_OK;
}

enum wc_status forecast_check_levels(const struct forecast *fc, const float *levels, int n,
				     struct wc_error *err)
{
	if (fc->nq < 1)
		return wc_error_set(err, WC_EINTERNAL, "forecast without quantile levels");
	for (int i = 0; i < n; i++)
		if (levels[i] < fc->taus[0] - 1e-6f || levels[i] > fc->taus[fc->nq - 1] + 1e-6f)
			return wc_error_set(err, WC_EINVAL,
					    "quantile %g is outside the levels the '%s' forecast has "
					    "(%g .. %g)",
					    levels[i], fc->model, fc->taus[0], fc->taus[fc->nq - 1]);
	return WC_OK;
}

float forecast_quantile(const struct forecast *fc, int i, float tau)
{
	const float *q = fc->q + (size_t)i * fc->nq;
	int k = 1;

	if (fc->nq == 1 || tau <= fc->taus[0])
		return q[0];
	while (k < fc->nq - 1 && fc->taus[k] < tau)
		k++;
	if (tau >= fc->taus[k])
		return q[k];
	return q[k - 1] + (tau - fc->taus[k - 1]) / (fc->taus[k] - fc->taus[k - 1]) *
				  (q[k] - q[k - 1]);
}

static double r6(double v)
{
	return round(v * 1e6) / 1e6;
}

json_t *forecast_json(const struct forecast *fc, const float *levels, int n, int horizon,
		      bool stored)
{
	json_t *lv = json_array(), *leads = json_array();
	int H = horizon < fc->nlead ? horizon : fc->nlead;
	char t[UTC_ISO_LEN], r[UTC_ISO_LEN];

	for (int k = 0; k < n; k++)
		json_array_append_new(lv, json_real(r6(levels[k])));
	for (int i = 0; i < H; i++) {
		json_t *qm = json_array(), *qf = json_array();

		for (int k = 0; k < n; k++) {
			double v = forecast_quantile(fc, i, levels[k]);

			json_array_append_new(qm, json_real(r6(v * fc->capacity_mw)));
			json_array_append_new(qf, json_real(r6(v)));
		}
		json_array_append_new(
			leads, json_pack("{s:i,s:s,s:f,s:f,s:o,s:o}", "lead_h", i + 1, "valid_time",
					 utc_format(fc->valid[i], t), "point_mw",
					 r6(fc->point[i] * fc->capacity_mw), "point_frac",
					 r6(fc->point[i]), "quantiles_mw", qm, "quantiles_frac",
					 qf));
	}
	return json_pack(
		"{s:s,s:f,s:s,s:{s:s,s:o,s:o},s:o,s:o,s:o,s:b,s:i,s:o,s:o}", "farm", fc->farm_id,
		"capacity_mw", fc->capacity_mw, "issued", utc_format(fc->issued, t), "model",
		"name", fc->model, "version",
		strcmp(fc->model, "nn") ? json_null() : json_integer(fc->model_version), "curve",
		fc->curve[0] ? json_string(fc->curve) : json_null(), "fallback",
		fc->fallback[0] ? json_string(fc->fallback) : json_null(), "note",
		fc->note[0] ? json_string(fc->note) : json_null(), "nwp_run",
		fc->has_run ? json_pack("{s:o,s:s}", "ref_time",
					fc->run_is_forecast
						? json_string(utc_format(fc->run_ref_time, r))
						: json_null(),
					"source", fc->run_source)
			    : json_null(),
		"stored", stored, "horizon", H, "quantiles", lv, "leads", leads);
}

enum wc_status forecast_csv(const struct forecast *fc, const float *levels, int n,
			    int horizon, bool header, bool frac, struct dynbuf *out)
{
	int H = horizon < fc->nlead ? horizon : fc->nlead;
	double scale = frac ? 1.0 : fc->capacity_mw;
	enum wc_status ret = WC_OK;
	char t[UTC_ISO_LEN], v[UTC_ISO_LEN];

	if (header) {
		ret = dynbuf_adds(out, "issued,valid_time,lead_h,point");
		for (int k = 0; k < n && !ret; k++)
			ret = dynbuf_printf(out, ",q%g", levels[k]);
		if (!ret)
			ret = dynbuf_adds(out, "\n");
	}
	utc_format(fc->issued, t);
	for (int i = 0; i < H && !ret; i++) {
		ret = dynbuf_printf(out, "%s,%s,%d,%.6g", t, utc_format(fc->valid[i], v), i + 1,
				    fc->point[i] * scale);
		for (int k = 0; k < n && !ret; k++)
			ret = dynbuf_printf(out, ",%.6g", forecast_quantile(fc, i, levels[k]) * scale);
		if (!ret)
			ret = dynbuf_adds(out, "\n");
	}
	return ret;
}
