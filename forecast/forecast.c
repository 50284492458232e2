/*
 * forecast.c - issue-time forecasts with fallbacks, the one request path of every front
 * end (forecast_get_or_issue), their storage and their JSON/CSV forms; see forecast.h.
 *
 * Limits: a forecaster holds its farm's series for its issue-time range in memory; the
 * model path loads a narrow window (two days before the first issue time to the last
 * lead; with the adaptation, observations from 3 days before its replay's start, and
 * weather from there too unless the replayed points are kept), a baseline the year
 * before (its history), loaded only when a baseline is needed.
 */
#include "forecast/forecast.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/utc.h"
#include "forecast/baselines.h"
#include "forecast/features.h"
#include "forecast/metrics.h"
#include "forecast/model.h"
#include "forecast/replay.h"

#define HISTORY_S ((int64_t)367 * UTC_DAY)

/* who serves in a forecaster's order: the network, or an enum baseline */
#define SERVE_NN (-1)

static const char model_hint[] = "use auto, nn, persistence, climatology or powercurve";

void forecast_options_init(struct forecast_options *o)
{
	memset(o, 0, sizeof(*o));
	o->model = "auto";
	o->horizon = FORECAST_DEFAULT_HORIZON;
}

bool forecast_model_known(const char *model)
{
	return model && (!strcmp(model, "auto") || !strcmp(model, "nn") ||
			 baseline_parse(model) >= 0);
}

const char *forecast_issued_rule_name(enum forecast_issued_rule r)
{
	static const char *const names[] = { "requested", "latest_run", "latest_observation",
					     "now" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

void forecast_release(struct forecast *fc)
{
	free(fc->valid);
	free(fc->point);
	free(fc->q);
	free(fc->inputs);
	fc->valid = NULL;
	fc->point = fc->q = NULL;
	fc->inputs = NULL;
	fc->nlead = fc->ninputs = 0;
}

/* The store key of the network's forecasts of model `version` (see forecast.h). */
static void nn_key(int version, enum forecast_adapt adapt_key, char *buf, size_t len)
{
	snprintf(buf, len, "nn:%d%s", version,
		 adapt_key == FORECAST_ADAPT_ON	   ? ":adapted"
		 : adapt_key == FORECAST_ADAPT_OFF ? ":raw"
						   : "");
}

void forecast_model_key(const struct forecast *fc, char *buf, size_t len)
{
	if (fc->standin_key[0])
		snprintf(buf, len, "%s", fc->standin_key);
	else if (!strcmp(fc->model, "nn"))
		nn_key(fc->model_version, fc->adapt_key, buf, len);
	else
		snprintf(buf, len, "%s", fc->model);
}

struct forecaster {
	struct store *st;
	char farm_id[FARM_ID_MAX + 1];
	double capacity_mw;
	struct forecast_options o;
	char model_name[32];
	int64_t first, last;
	bool dflt;			/* first is the default issue time, chosen by: */
	enum forecast_issued_rule dflt_rule;
	char dflt_reason[256];
	struct farm_model *model;	/* NULL: none trained (or a baseline was asked for) */
	bool model_borrowed;		/* the caller's (forecaster_open_model) */
	char no_model[256];		/* why model is NULL */
	int order[1 + BASELINE_COUNT];	/* who serves, in turn: SERVE_NN or a baseline */
	int norder;
	char model_choice[192];		/* why order[0] */
	struct feature_config fcfg;	/* the model's, or defaults for baselines */
	struct farm_inputs in;
	bool loaded, history;		/* in is loaded; with a year of history */
	struct features feat;
	bool feat_ok;
	struct nn_workspace ws;
	float *X, *Q;			/* (rows, F), (2 * rows, nq): rows = the longer of the
					 * horizon and the replay's leads, + smooth */
	bool adapt_on;			/* the network's forecasts are adapted */
	enum forecast_adapt adapt_key;	/* how the request overrode the model's setting */
	struct adapter adapt;		/* the adaptation's replay (adapt_on) */
	int64_t adapt_begin;		/* the first issue time it replayed from */
	char adapt_off[160];		/* why adapt_on was turned off, "" */
	int replay_leads;		/* leads of each replayed forecast */
	/* the replay's points kept between forecasters (forecast/replay.h) */
	bool rc_on;			/* adapt_on and the cache has a budget */
	bool rc_read;			/* replay_lookup done */
	struct replay_key rkey;
	struct replay_stamp rstamp;	/* read before the series were loaded */
	struct replay_snapshot snap;	/* the kept entries from start(first) on */
	char *snap_bad;			/* (snap.n) the entry's signature differs */
	int64_t wfrom, wto;		/* the weather loaded */
	struct replay_entry *pend;	/* (npend) replayed since the last put */
	size_t npend, cappend;
	int64_t pend_lo;		/* what the next put covers from */
	bool pend_open;			/* false once a point was not exact */
};

static void pend_clear(struct forecaster *fc)
{
	for (size_t i = 0; i < fc->npend; i++)
		free(fc->pend[i].point);
	fc->npend = 0;
}

void forecaster_free(struct forecaster *fc)
{
	if (!fc)
		return;
	features_release(&fc->feat);
	if (fc->loaded)
		farm_inputs_release(&fc->in);
	nn_workspace_release(&fc->ws);
	adapter_release(&fc->adapt);
	replay_snapshot_release(&fc->snap);
	free(fc->snap_bad);
	pend_clear(fc);
	free(fc->pend);
	if (!fc->model_borrowed)
		farm_model_free(fc->model);
	free(fc->X);
	free(fc->Q);
	free(fc);
}

int64_t forecaster_first(const struct forecaster *fc)
{
	return fc->first;
}

const char *forecaster_first_reason(const struct forecaster *fc,
				    enum forecast_issued_rule *rule)
{
	if (!fc->dflt)
		return NULL;
	*rule = fc->dflt_rule;
	return fc->dflt_reason;
}

/* The model's row buffers and workspace, once its feature count is known. */
static enum wc_status alloc_model_buffers(struct forecaster *fc, struct wc_error *err)
{
	int nq = fc->model->nn->n_quantiles;
	/* the model's lead smoothing looks up to `smooth` leads past the horizon */
	size_t rows = (size_t)(fc->o.horizon > fc->replay_leads ? fc->o.horizon
								: fc->replay_leads) +
		      (size_t)fc->model->smooth;

	if (fc->X)
		return WC_OK;
	fc->X = malloc(rows * fc->feat.n * sizeof(float));
	fc->Q = malloc(2 * rows * nq * sizeof(float));
	if (!fc->X || !fc->Q)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	return nn_workspace_init(&fc->ws, fc->model->nn, (int)rows, err);
}

/*
 * The observed values the replayed point at t reads (the lags, the power at t, the
 * regional farms' power at t), as the series loaded give them, into sig; returns how
 * many (at most REPLAY_MAX_SIG).
 */
static int replay_sig(const struct forecaster *fc, int64_t t, float *sig)
{
	const struct feature_config *c = &fc->model->features;
	int n = 0;

	if (c->nwp_only)
		return 0;
	for (int i = 0; i < c->n_lags; i++)
		sig[n++] = farm_series_obs(&fc->in.target, t - (int64_t)c->lags[i] * UTC_HOUR, t);
	sig[n++] = farm_series_obs(&fc->in.target, utc_floor(t, UTC_HOUR), t);
	for (int i = 0; c->regional_obs && i < fc->in.nreg; i++)
		sig[n++] = farm_series_obs(fc->in.rp[i], t, t);
	return n;
}

/* The earliest issue time the runs after_id < id <= upto_id change (replay_runs_fn). */
static enum wc_status replay_runs(void *cls, int64_t after_id, int64_t upto_id, int64_t *cut,
				  struct wc_error *err)
{
	struct forecaster *fc = cls;
	struct runs_between rb;
	enum wc_status ret = store_runs_between(fc->st, after_id, upto_id, &rb, err);

	if (ret)
		return ret;
	/* a point at t reads the runs delivered by t; an analysis serves every t */
	*cut = rb.any_analysis			? INT64_MIN
	       : rb.min_ref == INT64_MAX	? INT64_MAX
	       : rb.min_ref > INT64_MAX - fc->fcfg.delay_s ? INT64_MAX
						       : rb.min_ref + fc->fcfg.delay_s;
	return WC_OK;
}

/*
 * The replay cache's stamp (read before the series, so that it is never newer than
 * them) and the entries kept for this model from start(first) on; fc->snap.hit false
 * when none may serve.
 */
static enum wc_status read_stamp(struct forecaster *fc, struct replay_stamp *s,
				 struct wc_error *err)
{
	const struct feature_config *c = &fc->model->features;
	char subject[STORE_SUBJECT_MAX];
	enum wc_status ret;

	memset(s, 0, sizeof(*s));
	s->nfarms = 1 + c->n_regional;
	for (int i = 0; i < s->nfarms; i++)
		if ((ret = store_gen_get(fc->st,
					 store_gen_subject(subject, sizeof(subject),
							   STORE_SUBJECT_WEATHER,
							   i ? c->regional[i - 1] : fc->farm_id),
					 &s->weather[i], err)))
			return ret;
	return store_run_newest_id(fc->st, &s->run_id, err);
}

static enum wc_status replay_lookup(struct forecaster *fc, struct wc_error *err)
{
	int64_t start = adapter_start(&fc->adapt, fc->first);
	enum wc_status ret;

	replay_snapshot_release(&fc->snap);
	free(fc->snap_bad);
	fc->snap_bad = NULL;
	if ((ret = read_stamp(fc, &fc->rstamp, err)) ||
	    (ret = replay_cache_get(&fc->rkey, &fc->rstamp, start, fc->last - 1, replay_runs,
				    fc, &fc->snap, err)))
		return ret;
	if (fc->snap.hit && (fc->snap.lo > start || fc->snap.hi < start))
		replay_snapshot_release(&fc->snap);	/* not from where the replay starts */
	if (fc->snap.hit && fc->snap.n &&
	    !(fc->snap_bad = calloc(fc->snap.n, 1)))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	return WC_OK;
}

/*
 * Check the kept entries against the observations loaded: *bad_from gets the earliest t
 * whose signature differs (INT64_MAX: none), which must be replayed again.
 */
static void replay_check(struct forecaster *fc, int64_t *bad_from)
{
	float sig[REPLAY_MAX_SIG];
	bool unchecked = replay_cache_mode() == REPLAY_UNCHECKED;

	*bad_from = INT64_MAX;
	for (size_t i = 0; i < fc->snap.n && !unchecked; i++) {
		const struct replay_entry *e = &fc->snap.e[i];
		int n = replay_sig(fc, e->t, sig);

		fc->snap_bad[i] = n != e->nsig ||
				  memcmp(sig, e->point + e->n, (size_t)n * sizeof(float));
		if (fc->snap_bad[i] && e->t < *bad_from)
			*bad_from = e->t;
	}
}

/*
 * How far before an issue time t its rows may read weather: the neighbours of the first
 * leads reach back FEAT_MAX_NBR hours, and a run delivered at t (replay_times finds it
 * by its rows) has rows from its reference time, the delivery delay before. Nothing
 * else depends on the window (forecast/series.h), so a series loaded from there answers
 * at t as one loaded from further back.
 */
static int64_t weather_before(const struct forecaster *fc)
{
	return (int64_t)(FEAT_MAX_NBR + 2) * UTC_HOUR + fc->fcfg.delay_s;
}

/* (Re)load the series, with a year of history when `history`. */
static enum wc_status load_inputs(struct forecaster *fc, bool history, struct wc_error *err)
{
	int64_t from = fc->first - (history ? HISTORY_S : 2 * UTC_DAY);
	int64_t to = fc->last + (int64_t)(fc->o.horizon + FEAT_MAX_NBR + 2) * UTC_HOUR;
	int64_t wfrom, cold, bad_from, wb = weather_before(fc);
	enum wc_status ret;

	/* the replay's first issue time needs its own inputs: lags, previous runs */
	if (fc->adapt_on && adapter_start(&fc->adapt, fc->first) - 3 * UTC_DAY < from)
		from = adapter_start(&fc->adapt, fc->first) - 3 * UTC_DAY;

	if (fc->loaded && (fc->history || !history))
		return WC_OK;
	features_release(&fc->feat);
	fc->feat_ok = false;
	if (fc->loaded)
		farm_inputs_release(&fc->in);
	fc->loaded = false;
	/* once: the stamp must be older than every series this forecaster loads */
	if (fc->rc_on && !fc->rc_read) {
		fc->rc_read = true;
		if ((ret = replay_lookup(fc, err)))
			return ret;
	}
	/*
	 * The weather from weather_before() the first issue time computed here: the first,
	 * or the replay's start, or with replayed points kept from start(first) to snap.hi
	 * the first one after them; the observations from as far back as before (the fit,
	 * the signatures). A year of it for the baselines.
	 */
	cold = from;
	if (!history) {
		int64_t start = fc->adapt_on ? adapter_start(&fc->adapt, fc->first) : fc->first;

		/* (a replay may start after first: a hindcast inside the model's training) */
		cold = (start < fc->first ? start : fc->first) - wb;
		if (cold < from)
			cold = from;
	}
	wfrom = cold;
	if (fc->snap.hit && !history) {
		int64_t w = fc->snap.hi + 1 < fc->first ? fc->snap.hi + 1 : fc->first;

		if (w - wb > wfrom)
			wfrom = w - wb;
	}
	for (int pass = 0;; pass++) {
		struct replay_stamp now;

		if ((ret = farm_inputs_load_span(&fc->in, fc->st, fc->farm_id, &fc->fcfg, fc->last,
						 wfrom, from, to, err)))
			return ret;
		fc->loaded = true;
		fc->wfrom = wfrom;
		fc->wto = to;
		if (!fc->snap.hit)
			break;
		/*
		 * Weather or runs that changed while the series were read would make the
		 * kept points older than them: replay cold (rare; the stamp stays the
		 * older one, so what this forecaster keeps is checked again).
		 */
		if ((ret = read_stamp(fc, &now, err)))
			return ret;
		if (memcmp(&now, &fc->rstamp, sizeof(now))) {
			replay_snapshot_release(&fc->snap);
			bad_from = INT64_MIN;
		} else {
			replay_check(fc, &bad_from);
		}
		/* an observation changed under a kept point: replay it, with its weather */
		if (pass || bad_from == INT64_MAX ||
		    (bad_from != INT64_MIN && bad_from - wb >= wfrom) || wfrom == cold)
			break;
		farm_inputs_release(&fc->in);
		fc->loaded = false;
		wfrom = bad_from == INT64_MIN || bad_from - wb < cold ? cold : bad_from - wb;
	}
	fc->history = history;
	if (fc->model) {
		if ((ret = features_init(&fc->feat, &fc->fcfg, &fc->in.target, fc->in.rp, err)) ||
		    (ret = nn_model_check_features(fc->model->nn,
						   (const char *const *)fc->feat.names,
						   fc->feat.n, err)) ||
		    (ret = alloc_model_buffers(fc, err)))
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

/*
 * A pinned model version that the store does not have: WC_ENOTFOUND naming the versions
 * it has. (`why` is farm_model_load's error: when the record exists, its file is what is
 * missing, and that error stands.)
 */
static enum wc_status no_such_version(struct store *st, const char *farm_id, int version,
				      const struct wc_error *why, struct wc_error *err)
{
	struct model_rec rec;
	enum wc_status ret;
	int newest;

	if (store_model_get(st, farm_id, version, &rec, NULL) == WC_OK) {
		model_rec_release(&rec);
		if (err)
			*err = *why;
		return why->code;
	}
	ret = store_model_get(st, farm_id, 0, &rec, err);
	if (ret == WC_ENOTFOUND)
		return wc_error_set(err, WC_ENOTFOUND,
				    "no model %d of farm '%s': it has no trained model; run "
				    "'windcast train --farm %s'",
				    version, farm_id, farm_id);
	if (ret)
		return ret;
	newest = rec.version;
	model_rec_release(&rec);
	/* the versions are 1..newest: the store gives each model the next one and never
	 * removes one alone (store_models_add) */
	if (newest == 1)
		return wc_error_set(err, WC_ENOTFOUND,
				    "no model %d of farm '%s': it has model 1 only", version,
				    farm_id);
	return wc_error_set(err, WC_ENOTFOUND, "no model %d of farm '%s': it has models 1..%d",
			    version, farm_id, newest);
}

/* Does the network's point forecast follow the mean of its quantiles (else the median)? */
static bool point_is_mean(const struct forecaster *fc)
{
	return fc->o.point == FORECAST_POINT_MEAN ||
	       (fc->o.point == FORECAST_POINT_MODEL && fc->model && fc->model->point_mean);
}

/*
 * Who serves, in turn. A baseline or nn asked for: that one alone. auto: the choice of
 * the model's validation scores, then the network (when it is not the choice), then
 * the baselines in the order powercurve, persistence, climatology.
 */
static void serve_order(struct forecaster *fc)
{
	static const enum baseline chain[] = { BASELINE_POWERCURVE, BASELINE_PERSISTENCE,
					       BASELINE_CLIMATOLOGY };
	int b = baseline_parse(fc->o.model), first;
	char why[184];

	fc->norder = 0;
	if (b >= 0 || !strcmp(fc->o.model, "nn")) {
		fc->order[fc->norder++] = b >= 0 ? b : SERVE_NN;
		snprintf(fc->model_choice, sizeof(fc->model_choice), "requested");
		return;
	}
	if (fc->model) {
		first = farm_model_auto_choice(fc->model, point_is_mean(fc), why, sizeof(why));
		snprintf(fc->model_choice, sizeof(fc->model_choice), "auto: %s", why);
	} else {
		first = chain[0];
		snprintf(fc->model_choice, sizeof(fc->model_choice),
			 "auto: no usable trained model, so the first baseline with inputs at "
			 "the issue time (powercurve, persistence, climatology)");
	}
	fc->order[fc->norder++] = first;
	if (fc->model && first != SERVE_NN)
		fc->order[fc->norder++] = SERVE_NN;
	for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++)
		if ((int)chain[i] != first)
			fc->order[fc->norder++] = chain[i];
}

/* 64-bit mix of n bytes into h (a cache key, not a cryptographic hash). */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* mix, 8 bytes at a time, for the network's parameters. */
static uint64_t mix_floats(uint64_t h, const float *v, size_t n)
{
	size_t i = 0;

	for (; i + 2 <= n; i += 2) {
		uint64_t w;

		memcpy(&w, v + i, sizeof(w));
		h ^= w * 0x9e3779b97f4a7c15ULL;
		h = (h << 27 | h >> 37) * 0xbf58476d1ce4e5b9ULL;
	}
	return mix(h, v + i, (n - i) * sizeof(float));
}

/* Everything a replayed point depends on in the model: network, normalisation, features,
 * smoothing and point rule (forecast/replay.h's key). */
static uint64_t model_hash(const struct farm_model *m)
{
	const struct nn_model *nn = m->nn;
	char cfg[8192];
	uint64_t h = 0xcbf29ce484222325ULL;

	feature_config_format(&m->features, cfg, sizeof(cfg));
	h = mix(h, cfg, strlen(cfg));
	h = mix(h, &m->smooth, sizeof(m->smooth));
	h = mix(h, &m->point_mean, sizeof(m->point_mean));
	h = mix(h, &nn->n_features, sizeof(nn->n_features));
	h = mix(h, &nn->n_inputs, sizeof(nn->n_inputs));
	h = mix(h, &nn->n_quantiles, sizeof(nn->n_quantiles));
	h = mix(h, nn->quantiles, (size_t)nn->n_quantiles * sizeof(float));
	h = mix_floats(h, nn->mean, (size_t)nn->n_features);
	h = mix_floats(h, nn->std, (size_t)nn->n_features);
	h = mix(h, nn->miss, (size_t)nn->n_features * sizeof(*nn->miss));
	for (int i = 0; i < nn->n_features; i++)
		h = mix(h, nn->feature_names[i], strlen(nn->feature_names[i]) + 1);
	h = mix(h, &nn->n_members, sizeof(nn->n_members));
	for (int k = 0; k < nn->n_members; k++) {
		const struct mlp *p = &nn->member[k];

		h = mix(h, &p->n_layers, sizeof(p->n_layers));
		h = mix(h, p->sizes, (size_t)(p->n_layers + 1) * sizeof(p->sizes[0]));
		h = mix(h, &p->act, sizeof(p->act));
		h = mix(h, &p->head, sizeof(p->head));
		h = mix(h, &p->anchor, sizeof(p->anchor));
		h = mix_floats(h, p->params, p->n_params);
	}
	return h;
}

/* Which store (replay.h's key): its file's path, device and inode. */
static uint64_t store_hash(struct store *st)
{
	const char *path = store_db_path(st);
	uint64_t h = mix(0xcbf29ce484222325ULL, path, strlen(path));
	struct stat sb;

	if (stat(path, &sb) == 0) {
		h = mix(h, &sb.st_dev, sizeof(sb.st_dev));
		h = mix(h, &sb.st_ino, sizeof(sb.st_ino));
	}
	return h;
}

/* forecaster_open, with the model `given` (borrowed; NULL: none, for the reason
 * `why`) instead of the stored one when use_given. */
static enum wc_status open_with(struct store *st, const char *farm_id,
				const struct forecast_options *o, bool use_given,
				struct farm_model *given, const char *why, int64_t first,
				int64_t last, struct forecaster **out, struct wc_error *err)
{
	struct forecaster *fc;
	enum wc_status ret = WC_OK;
	struct farm f;
	bool baseline;

	*out = NULL;
	if (o->horizon < 1 || o->horizon > FEAT_MAX_LEAD)
		return wc_error_set(err, WC_EINVAL, "invalid horizon %d: use 1..%d", o->horizon,
				    FEAT_MAX_LEAD);
	if (!forecast_model_known(o->model))
		return wc_error_set(err, WC_EINVAL, "unknown model '%s': %s",
				    o->model ? o->model : "", model_hint);
	baseline = baseline_parse(o->model) >= 0;
	if (baseline && o->model_version > 0)
		return wc_error_set(err, WC_EINVAL,
				    "model version %d is a version of the trained model (model nn "
				    "or auto), not of the baseline '%s'",
				    o->model_version, o->model);
	if ((ret = store_farm_get(st, farm_id, &f, err)))
		return ret;
	if (!(fc = calloc(1, sizeof(*fc))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	fc->st = st;
	snprintf(fc->farm_id, sizeof(fc->farm_id), "%s", farm_id);
	fc->capacity_mw = f.capacity_mw;
	fc->o = *o;
	snprintf(fc->model_name, sizeof(fc->model_name), "%s", o->model);
	fc->o.model = fc->model_name;
	feature_config_init(&fc->fcfg);
	if (!baseline) {
		struct wc_error merr = { 0 };

		if (use_given) {
			fc->model = given;
			fc->model_borrowed = true;
			if (!given)
				ret = wc_error_set(&merr, WC_ENOTFOUND, "%s",
						   why && *why ? why : "no trained model");
			else if (strcmp(given->farm_id, farm_id))
				ret = wc_error_set(&merr, WC_EINVAL, "the model given is farm "
								     "'%s''s, not '%s''s",
						   given->farm_id, farm_id);
		} else {
			ret = farm_model_load(st, farm_id, o->model_version, &fc->model, &merr);
		}
		/* a version asked for is never replaced by another model */
		if (ret == WC_ENOTFOUND && o->model_version > 0) {
			ret = no_such_version(st, farm_id, o->model_version, &merr, err);
			goto cleanup;
		}
		if (!ret)
			ret = model_inputs_registered(st, fc->model, &merr);
		if (ret == WC_ENOTFOUND && !strcmp(o->model, "auto")) {
			if (!fc->model_borrowed)
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
	if (fc->model) {
		const struct farm_model *m = fc->model;

		fc->adapt_on = o->adapt == FORECAST_ADAPT_ON ||
			       (o->adapt == FORECAST_ADAPT_MODEL && m->adapt.on);
		if (o->adapt != FORECAST_ADAPT_MODEL &&
		    (o->adapt == FORECAST_ADAPT_ON) != m->adapt.on)
			fc->adapt_key = o->adapt;
		adapter_init(&fc->adapt, &m->adapt, m->features.nwp_only, m->adapt_from,
			     m->features.max_lead);
		fc->replay_leads = !fc->adapt_on	  ? 0
				   : m->features.nwp_only ? ADAPT_NWP_ONLY_LEADS
							  : m->features.max_lead;
		fc->rc_on = fc->adapt_on && replay_cache_bytes() > 0 &&
			    replay_cache_mode() != REPLAY_BYPASS;
		if (fc->rc_on) {
			snprintf(fc->rkey.farm, sizeof(fc->rkey.farm), "%s", farm_id);
			fc->rkey.version = m->version;
			fc->rkey.hash = model_hash(m);
			fc->rkey.store = store_hash(st);
		}
	}
	serve_order(fc);
	if (first == INT64_MIN) {
		if ((ret = forecast_default_issued(st, farm_id, fc->fcfg.delay_s, &first,
						   &fc->dflt_rule, fc->dflt_reason,
						   sizeof(fc->dflt_reason), err)))
			goto cleanup;
		fc->dflt = true;
	}
	if (last == INT64_MIN || last < first)
		last = first;
	fc->first = first;
	fc->last = last;
	*out = fc;
	fc = NULL;
cleanup:
	forecaster_free(fc);
	return ret;
}

enum wc_status forecaster_open(struct store *st, const char *farm_id,
			       const struct forecast_options *o, int64_t first, int64_t last,
			       struct forecaster **out, struct wc_error *err)
{
	return open_with(st, farm_id, o, false, NULL, NULL, first, last, out, err);
}

enum wc_status forecaster_open_model(struct store *st, const char *farm_id,
				     const struct forecast_options *o, struct farm_model *m,
				     const char *why, int64_t first, int64_t last,
				     struct forecaster **out, struct wc_error *err)
{
	*out = NULL;
	if (o->model_version > 0)
		return wc_error_set(err, WC_EINVAL, "a model version goes with the stored "
						    "models, not a model given");
	return open_with(st, farm_id, o, true, m, why, first, last, out, err);
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

/* Leads end before the horizon asked for: say why (the last reason stands). */
static void set_cut(struct forecast *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_cut(struct forecast *out, const char *fmt, ...)
{
	va_list ap;

	out->horizon_cut = true;
	va_start(ap, fmt);
	vsnprintf(out->cut_note, sizeof(out->cut_note), fmt, ap);
	va_end(ap);
}

/*
 * The network's point forecast from its quantiles: their mean, or the level nearest 0.5
 * (farm_model_median's rule), so that a stored forecast gives either point rule.
 */
static void set_nn_point_at(struct forecast *out, int i, bool mean)
{
	const float *q = out->q + (size_t)i * out->nq;
	int med = 0;

	for (int k = 1; k < out->nq; k++)
		if (fabsf(out->taus[k] - 0.5f) < fabsf(out->taus[med] - 0.5f))
			med = k;
	out->point[i] = mean ? (float)quantile_mean(out->taus, q, out->nq) : q[med];
}

static void set_nn_point(struct forecast *out, bool mean)
{
	for (int i = 0; i < out->nlead; i++)
		set_nn_point_at(out, i, mean);
}

/*
 * The network's quantiles at T for leads 1..last, as far as its rows reach (the target's
 * NWP): within [0, 1], ordered and smoothed over the leads, in fc->Q + *rows * nq.
 * *rows 0: no NWP at T + 1 h. *run1 (may be NULL) gets lead 1's run.
 */
static enum wc_status model_quantiles(struct forecaster *fc, int64_t T, int last, int *rows,
				      size_t *run1, struct wc_error *err)
{
	const struct farm_model *m = fc->model;
	int F = fc->feat.n, nq = m->nn->n_quantiles, n = 0;
	enum wc_status ret;

	*rows = 0;
	for (int h = 1; h <= last; h++) {
		size_t r;

		if (!features_row(&fc->feat, T, h, fc->X + (size_t)(h - 1) * F, &r))
			break;
		if (h == 1 && run1)
			*run1 = r;
		n = h;
	}
	if (n == 0)
		return WC_OK;
	if ((ret = nn_model_predict(m->nn, &fc->ws, fc->X, n, fc->Q, err)))
		return ret;
	for (int i = 0; i < n; i++) {	/* within [0, 1] and ordered */
		float *q = fc->Q + (size_t)i * nq;

		for (int k = 0; k < nq; k++) {
			q[k] = clip01f(q[k]);
			if (k && q[k] < q[k - 1])
				q[k] = q[k - 1];
		}
	}
	farm_model_smooth(m->smooth, fc->Q, fc->Q + (size_t)n * nq, n, nq, NULL, NULL);
	*rows = n;
	return WC_OK;
}

/*
 * The replay's issue times in [lo, hi] (forecast/adapt.h): the NWP runs' deliveries, as
 * training's; for a model of analyses (a farm without forecast runs, or NWP-only) every
 * 24 h at 00:00 UTC, so that the grid never depends on where a replay starts. Whether
 * the farm has forecast runs is asked of the store, not of the runs loaded, so that the
 * grid never depends on the window either (forecast runs that stopped while analyses go
 * on: none delivered in [lo, hi], none replayed). *out malloc'd.
 */
static enum wc_status replay_times(const struct forecaster *fc, int64_t lo, int64_t hi,
				   int64_t **out, size_t *n, struct wc_error *err)
{
	const struct farm_series *s = &fc->in.target;
	size_t len = 0;

	*out = NULL;
	*n = 0;
	if (!fc->model->features.nwp_only && s->forecast_runs)
		return s->nruns > s->nanalyses ? farm_series_issue_times(s, lo, hi, 0, out, n, err)
					       : WC_OK;
	lo = utc_floor(lo + UTC_DAY - 1, UTC_DAY);
	if (hi < lo)
		return WC_OK;
	if (!(*out = malloc((size_t)((hi - lo) / UTC_DAY + 1) * sizeof(int64_t))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (int64_t t = lo; t <= hi; t += UTC_DAY)
		(*out)[len++] = t;
	*n = len;
	return WC_OK;
}

/* The kept entry of issue time t (snap.e is ascending), or -1. */
static ssize_t snap_find(const struct forecaster *fc, int64_t t)
{
	size_t lo = 0, hi = fc->snap.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fc->snap.e[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < fc->snap.n && fc->snap.e[lo].t == t ? (ssize_t)lo : -1;
}

/*
 * The replay's issue times in [lo, hi]: the kept entries' up to the snapshot's coverage
 * (they are every one there), then the series' after it. *out malloc'd.
 */
static enum wc_status replay_times_kept(const struct forecaster *fc, int64_t lo, int64_t hi,
					int64_t **out, size_t *n, struct wc_error *err)
{
	int64_t *tail = NULL, *v;
	size_t ntail = 0, k = 0;
	enum wc_status ret;

	if (!fc->snap.hit || lo < fc->snap.lo)
		return replay_times(fc, lo, hi, out, n, err);
	if (hi > fc->snap.hi &&
	    (ret = replay_times(fc, lo > fc->snap.hi ? lo : fc->snap.hi + 1, hi, &tail, &ntail,
				err)))
		return ret;
	if (!(v = malloc((fc->snap.n + ntail + 1) * sizeof(*v)))) {
		free(tail);
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < fc->snap.n; i++)
		if (fc->snap.e[i].t >= lo && fc->snap.e[i].t <= hi && fc->snap.e[i].t <= fc->snap.hi)
			v[k++] = fc->snap.e[i].t;
	if (ntail)
		memcpy(v + k, tail, ntail * sizeof(*v));
	free(tail);
	*out = v;
	*n = k + ntail;
	return WC_OK;
}

/* Keep what was replayed since the last put, covering [pend_lo, hi]. */
static void pend_put(struct forecaster *fc, int64_t hi)
{
	if (fc->rc_on && fc->pend_lo <= hi)
		replay_cache_put(&fc->rkey, &fc->rstamp, fc->pend_lo, hi, fc->pend, fc->npend);
	pend_clear(fc);
	fc->pend_lo = hi + 1;
}

/*
 * Add the replayed points at t (kept: a kept entry's) to what the next put keeps: only
 * while every point so far was exact (a kept one, or one whose rows read nothing outside
 * the weather loaded: from weather_before() t to its last lead's neighbours), so that
 * the cache covers a contiguous range.
 */
static void pend_add(struct forecaster *fc, int64_t t, const float *point, int nl, int last,
		     bool kept)
{
	const struct feature_config *c = &fc->model->features;
	struct replay_entry *e;
	float sig[REPLAY_MAX_SIG];
	int nsig;

	if (!fc->pend_open)
		return;
	if (!kept && (t - weather_before(fc) < fc->wfrom ||
		      t + (int64_t)(last + c->nbr_hours) * UTC_HOUR > fc->wto)) {
		pend_put(fc, t - 1);
		fc->pend_open = false;
		return;
	}
	if (fc->npend == fc->cappend) {
		size_t ncap = fc->cappend ? 2 * fc->cappend : 64;
		struct replay_entry *np = realloc(fc->pend, ncap * sizeof(*np));

		if (!np)
			goto off;
		fc->pend = np;
		fc->cappend = ncap;
	}
	nsig = replay_sig(fc, t, sig);
	e = &fc->pend[fc->npend];
	if (!(e->point = malloc((size_t)(nl + nsig + 1) * sizeof(float))))
		goto off;
	e->t = t;
	e->n = nl;
	e->nsig = nsig;
	memcpy(e->point, point, (size_t)nl * sizeof(float));
	memcpy(e->point + nl, sig, (size_t)nsig * sizeof(float));
	fc->npend++;
	return;
off:
	/* out of memory: a cache keeps less, the replay goes on */
	pend_clear(fc);
	fc->pend_open = false;
}

/*
 * Bring the adaptation's replay up to issue time T: the network's point forecast (the
 * model's point rule, before any correction) at every replay issue time in
 * [start(T), T) not replayed yet, from the same rows as a forecast issued then. It
 * starts again when T needs an earlier start than it has.
 *
 * The points are kept between forecasters (forecast/replay.h): those of the snapshot
 * taken when the series were loaded serve when their signature holds, and what is
 * replayed here goes back to the cache, so that a forecaster opened for one issue time
 * (a server's latest forecast) replays only the issue times not seen before.
 */
static enum wc_status adapt_replay(struct forecaster *fc, int64_t T, struct wc_error *err)
{
	const struct farm_model *m = fc->model;
	int64_t start = adapter_start(&fc->adapt, T), *times = NULL;
	int nq = m->nn->n_quantiles, med = farm_model_median(m), L = fc->replay_leads;
	int last = m->features.nwp_only ? L + m->smooth : L;
	size_t n = 0;
	float point[FEAT_MAX_LEAD];
	enum wc_status ret;

	if (fc->adapt.replayed == INT64_MIN || start < fc->adapt_begin) {
		adapter_reset(&fc->adapt);
		fc->adapt_begin = start;
		pend_clear(fc);
		fc->pend_lo = start;
		fc->pend_open = fc->rc_on;
	}
	if ((ret = replay_times_kept(fc, fc->adapt.replayed == INT64_MIN
						 ? start
						 : fc->adapt.replayed + 1,
				     T - 1, &times, &n, err)))
		return ret;
	for (size_t i = 0; i < n && !ret; i++) {
		ssize_t k = fc->snap.hit && times[i] <= fc->snap.hi ? snap_find(fc, times[i]) : -1;
		bool kept = k >= 0 && !fc->snap_bad[k];
		int rows, nl;

		if (kept) {
			nl = fc->snap.e[k].n;
			memcpy(point, fc->snap.e[k].point, (size_t)nl * sizeof(float));
		} else {
			if ((ret = model_quantiles(fc, times[i], last, &rows, NULL, err)))
				break;
			nl = rows < L ? rows : L;
			for (int h = 0; h < nl; h++) {
				const float *q = fc->Q + (size_t)(rows + h) * nq;

				point[h] = m->point_mean
						   ? (float)quantile_mean(m->nn->quantiles, q, nq)
						   : q[med];
			}
		}
		pend_add(fc, times[i], point, nl, last, kept);
		ret = adapter_add(&fc->adapt, times[i], point, nl, err);
	}
	free(times);
	if (!ret && fc->pend_open)
		pend_put(fc, T - 1);
	else if (ret)
		pend_clear(fc);
	return ret;
}

/* Apply the adaptation fitted at T to out's quantiles and point; out->adapt says how. */
static void adapt_forecast(struct forecaster *fc, int64_t T, struct forecast *out)
{
	bool nwp_only = fc->model->features.nwp_only;
	double size = 0;

	adapter_fit(&fc->adapt, &fc->in.target, T, &out->adapt);
	for (int i = 0; i < out->nlead; i++) {
		float raw = out->point[i];

		adapt_apply(&out->adapt, nwp_only, i + 1, out->q + (size_t)i * out->nq, out->nq);
		set_nn_point_at(out, i, point_is_mean(fc));
		size += fabs((double)out->point[i] - raw);
	}
	out->adapt.size = out->nlead ? size / out->nlead : 0;
}

/* The model's forecast; WC_ENODATA (with the reason) when it has no NWP at T + 1. */
static enum wc_status issue_model(struct forecaster *fc, int64_t T, struct forecast *out,
				  struct wc_error *err)
{
	const struct farm_model *m = fc->model;
	int nq = m->nn->n_quantiles;
	int H = fc->o.horizon, reach, rows, last;
	size_t run1 = SIZE_MAX;
	struct wc_error aerr = { 0 };
	enum wc_status ret;
	char t[UTC_ISO_LEN];

	if (!m->features.nwp_only && H > m->features.max_lead) {
		set_cut(out, "horizon cut to %d h, the longest lead model %d was trained for",
			m->features.max_lead, m->version);
		H = m->features.max_lead;
	}
	/* first, as it reuses the row buffers; a replay too long for memory serves the
	 * network unadapted, saying so */
	if (fc->adapt_on && (ret = adapt_replay(fc, T, &aerr))) {
		if (ret != WC_ETOOLARGE) {
			if (err)
				*err = aerr;
			return ret;
		}
		log_warn("forecasts of '%s' not adapted: %s", fc->farm_id, aerr.msg);
		fc->adapt_on = false;
		snprintf(fc->adapt_off, sizeof(fc->adapt_off), "not adapted: %s", aerr.msg);
	}
	/*
	 * Leads 1..H, and up to m->smooth more for the smoothing of the last ones, so that a
	 * lead's forecast does not depend on the horizon asked for (not past the leads the
	 * model was trained for, unless it forecasts from NWP alone).
	 */
	last = H + m->smooth;
	if (!m->features.nwp_only && last > m->features.max_lead)
		last = m->features.max_lead > H ? m->features.max_lead : H;
	if ((ret = model_quantiles(fc, T, last, &rows, &run1, err)))
		return ret;
	reach = rows < H ? rows : H;
	if (reach == 0)
		return wc_error_set(err, WC_ENODATA,
				    "no NWP run available for farm '%s' at %s (delivery delay %lld h)",
				    fc->farm_id, utc_format(T, t),
				    (long long)(m->features.delay_s / UTC_HOUR));
	if (reach < H)
		set_cut(out, "horizon cut to %d h, the reach of the NWP available at the issue time",
			reach);
	if ((ret = alloc_leads(out, reach, nq, err)))
		return ret;
	memcpy(out->taus, m->nn->quantiles, (size_t)nq * sizeof(float));
	memcpy(out->q, fc->Q + (size_t)rows * nq, (size_t)reach * nq * sizeof(float));
	set_nn_point(out, point_is_mean(fc));
	if (fc->adapt_on)
		adapt_forecast(fc, T, out);
	else if (fc->adapt_off[0])
		add_note(out, "%s", fc->adapt_off);
	out->adapt_key = fc->adapt_key;
	for (int i = 0; i < reach; i++)
		out->valid[i] = T + (int64_t)(i + 1) * UTC_HOUR;
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
			set_cut(out, "horizon cut to %d h, the reach of the NWP available at the "
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

/* Reasons why models did not serve, and who gave each (SERVE_NN or a baseline). */
struct reasons {
	char text[2 + BASELINE_COUNT][320];
	int who[2 + BASELINE_COUNT];
	int n;
};

static void reasons_add(struct reasons *r, int who, const char *text)
{
	if (r->n == (int)(sizeof(r->who) / sizeof(r->who[0])))
		return;
	r->who[r->n] = who;
	snprintf(r->text[r->n++], sizeof(r->text[0]), "%s", text);
}

/* Append the reasons (of the observation baselines only, with `obs_only`) to buf. */
static void reasons_join(const struct reasons *r, bool obs_only, char *buf, size_t len)
{
	size_t l = strlen(buf);

	for (int i = 0; i < r->n && l < len; i++) {
		if (obs_only && r->who[i] != BASELINE_PERSISTENCE &&
		    r->who[i] != BASELINE_CLIMATOLOGY)
			continue;
		l += (size_t)snprintf(buf + l, len - l, "%s%s", l ? "; " : "", r->text[i]);
	}
}

/*
 * Nothing could serve at T: WC_ENODATA with the reasons. When the farm has no NWP at all
 * in the year up to T (the series holds that year once a baseline was tried), that is
 * the cause to name: no model can be trained or serve and no power curve either, so
 * their reasons give way to it, and only the observations' remain.
 */
static enum wc_status no_data(const struct forecaster *fc, int64_t T, const struct reasons *r,
			      struct wc_error *err)
{
	char t[UTC_ISO_LEN], buf[sizeof(err->msg)] = "";
	bool no_nwp = fc->history && fc->in.target.nrows == 0;

	utc_format(T, t);
	if (no_nwp)
		snprintf(buf, sizeof(buf),
			 "no NWP for farm '%s' in the year up to %s: ingest a grid that covers it",
			 fc->farm_id, t);
	reasons_join(r, no_nwp, buf, sizeof(buf));
	return wc_error_set(err, WC_ENODATA, "cannot forecast farm '%s' at %s: %s", fc->farm_id,
			    t, buf);
}

/* The request's side of out: which issue time and why, which model and why. */
static void describe(const struct forecaster *fc, int64_t asked, struct forecast *out)
{
	char a[UTC_ISO_LEN], t[UTC_ISO_LEN];

	snprintf(out->model_choice, sizeof(out->model_choice), "%s", fc->model_choice);
	if (fc->dflt && out->issued == fc->first) {
		out->issued_rule = fc->dflt_rule;
		snprintf(out->issued_reason, sizeof(out->issued_reason), "%s", fc->dflt_reason);
		return;
	}
	out->issued_rule = ISSUED_REQUESTED;
	if (asked == out->issued)
		snprintf(out->issued_reason, sizeof(out->issued_reason), "requested");
	else
		snprintf(out->issued_reason, sizeof(out->issued_reason),
			 "requested %s, served as %s: rows are hourly, and the hour before sees "
			 "less, never more",
			 utc_format(asked, a), utc_format(out->issued, t));
}

/* The store key of the model that serves first. */
static void first_key(const struct forecaster *fc, char *buf, size_t len)
{
	if (fc->order[0] == SERVE_NN)
		nn_key(fc->model->version, fc->adapt_key, buf, len);
	else
		snprintf(buf, len, "%s", baseline_name((enum baseline)fc->order[0]));
}

/*
 * The store key of auto's stand-in: its first choice's key and the network's, which
 * decide auto's order (forecast.h).
 */
static void standin_key(const struct forecaster *fc, char *buf, size_t len)
{
	char first[48], nn[48] = "";

	first_key(fc, first, sizeof(first));
	if (fc->model && fc->order[0] != SERVE_NN)
		nn_key(fc->model->version, fc->adapt_key, nn, sizeof(nn));
	snprintf(buf, len, "auto:%s%s%s", first, nn[0] ? "," : "", nn);
}

enum wc_status forecaster_issue(struct forecaster *fc, int64_t T, struct forecast *out,
				struct wc_error *err)
{
	struct reasons why = { .n = 0 };
	int64_t asked = T;
	enum wc_status ret;
	int i;
	char t[UTC_ISO_LEN];

	memset(out, 0, sizeof(*out));
	/* rows are hourly: an issue time between hours serves as the hour before it, which
	 * can only see less, never more */
	T = utc_floor(T, UTC_HOUR);
	if (T < utc_floor(fc->first, UTC_HOUR) || T > fc->last)
		return wc_error_set(err, WC_EINVAL, "issue time %s is outside the forecaster's range",
				    utc_format(T, t));
	if ((ret = load_inputs(fc, fc->order[0] != SERVE_NN, err)))
		return ret;
	if (fc->no_model[0])
		reasons_add(&why, SERVE_NN, fc->no_model);
	/* in turn; only auto goes on when one has no inputs at T */
	for (i = 0; i < fc->norder; i++) {
		struct wc_error e = { 0 };

		forecast_release(out);
		memset(out, 0, sizeof(*out));
		ret = fc->order[i] == SERVE_NN
			      ? issue_model(fc, T, out, &e)
			      : issue_baseline(fc, (enum baseline)fc->order[i], T, out, &e);
		if (ret != WC_ENODATA) {
			if (ret && err)
				*err = e;
			break;
		}
		reasons_add(&why, fc->order[i], e.msg);
		if (strcmp(fc->o.model, "auto"))
			break;
	}
	if (ret == WC_ENODATA)
		ret = no_data(fc, T, &why, err);
	if (ret) {
		forecast_release(out);
		return ret;
	}
	snprintf(out->farm_id, sizeof(out->farm_id), "%s", fc->farm_id);
	out->capacity_mw = fc->capacity_mw;
	out->issued = T;
	out->delay_s = fc->fcfg.delay_s;
	out->computed_at = utc_now();
	if (i > 0 || fc->no_model[0])
		reasons_join(&why, false, out->fallback, sizeof(out->fallback));
	if (i > 0)
		standin_key(fc, out->standin_key, sizeof(out->standin_key));
	describe(fc, asked, out);
	return WC_OK;
}

/*
 * May the stored forecast s answer fc's request? It must have been made with the same
 * delivery delay, by the model that serves first for the same reason (not as a stand-in
 * for another: its fallback is what this request's would be, "" or why auto has no
 * model), and have the leads asked for or have been cut for want of data (a new
 * computation would cut them too).
 */
static bool reusable(const struct forecaster *fc, const struct forecast *s)
{
	return s->delay_s == fc->fcfg.delay_s && !strcmp(s->fallback, fc->no_model) &&
	       s->nq > 0 && (s->nlead >= fc->o.horizon || s->horizon_cut) &&
	       (strcmp(s->model, "nn") || s->adapt.on == fc->adapt_on);
}

/* out->inputs: the model's regional farms, whose data the forecast read. */
static enum wc_status set_inputs(const struct forecaster *fcr, struct forecast *out,
				 struct wc_error *err)
{
	if (fcr->fcfg.n_regional <= 0)
		return WC_OK;
	if (!(out->inputs = malloc((size_t)fcr->fcfg.n_regional * sizeof(*out->inputs)))) {
		forecast_release(out);
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	}
	memcpy(out->inputs, fcr->fcfg.regional,
	       (size_t)fcr->fcfg.n_regional * sizeof(*out->inputs));
	out->ninputs = fcr->fcfg.n_regional;
	return WC_OK;
}

/*
 * May the stored stand-in s (read under auto's standin_key) answer fc's request? The
 * same delivery delay and leads as reusable, a fallback (it stood in), and the
 * adaptation asked for when the network stood in.
 */
static bool reusable_standin(const struct forecaster *fc, const struct forecast *s)
{
	return s->delay_s == fc->fcfg.delay_s && s->fallback[0] && s->nq > 0 &&
	       (s->nlead >= fc->o.horizon || s->horizon_cut) &&
	       (strcmp(s->model, "nn") || s->adapt.on == fc->adapt_on);
}

/*
 * The forecast at T0 stored under key, into out when it may answer fc's request (true);
 * false with out released when there is none or it may not (a damaged one is logged).
 */
static bool stored_answer(struct forecaster *fc, int64_t T, int64_t T0, const char *key,
			  bool standin, struct forecast *out)
{
	struct wc_error e = { 0 };
	enum wc_status ret;
	char *body = NULL, t[UTC_ISO_LEN];

	ret = store_forecast_get(fc->st, fc->farm_id, T0, key, &body, &e);
	if (ret == WC_OK) {
		ret = forecast_from_body(body, out, &e);
		free(body);
		if (ret == WC_OK && (standin ? reusable_standin(fc, out) : reusable(fc, out))) {
			/* fractions are stored: MW at the farm's capacity now */
			out->capacity_mw = fc->capacity_mw;
			if (out->nlead >= fc->o.horizon) {
				out->horizon_cut = false;
				out->cut_note[0] = '\0';
			}
			if (!strcmp(out->model, "nn"))
				set_nn_point(out, point_is_mean(fc));
			if (standin)
				snprintf(out->standin_key, sizeof(out->standin_key), "%s", key);
			out->stored = true;
			describe(fc, T, out);
			return true;
		}
		forecast_release(out);
	}
	if (ret && ret != WC_ENOTFOUND)
		log_warn("cannot use the stored forecast of '%s' at %s, computing it again: %s",
			 fc->farm_id, utc_format(T0, t), e.msg);
	return false;
}

static enum wc_status get_or_issue(struct forecaster *fc, int64_t T, struct forecast *out,
				   struct wc_error *err)
{
	int64_t T0 = utc_floor(T, UTC_HOUR);
	char key[48];

	if (T0 < utc_floor(fc->first, UTC_HOUR) || T0 > fc->last)
		return forecaster_issue(fc, T, out, err);	/* its range error */
	first_key(fc, key, sizeof(key));
	if (stored_answer(fc, T, T0, key, false, out))
		return WC_OK;
	/* auto: what stood in for its first choice at T, as it was stored */
	if (!strcmp(fc->o.model, "auto") && fc->norder > 1) {
		standin_key(fc, key, sizeof(key));
		if (stored_answer(fc, T, T0, key, true, out))
			return WC_OK;
	}
	return forecaster_issue(fc, T, out, err);
}

enum wc_status forecaster_get_or_issue(struct forecaster *fc, int64_t T,
				       struct forecast *out, struct wc_error *err)
{
	enum wc_status ret = get_or_issue(fc, T, out, err);

	return ret ? ret : set_inputs(fc, out, err);
}

enum wc_status forecast_default_issued(struct store *st, const char *farm_id,
				       int64_t delay_s, int64_t *T,
				       enum forecast_issued_rule *rule, char *reason, size_t len,
				       struct wc_error *err)
{
	int64_t last = 0, delivered = INT64_MIN, ref = 0, best, now = utc_now();
	enum forecast_issued_rule r;
	enum wc_status ret;
	bool any_run, any_obs;
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN], c[UTC_ISO_LEN], run[128] = "", why[256] = "";

	/* the newest run, not the list: every request that computes comes here */
	if ((ret = store_run_newest(st, &ref, &any_run, err)) ||
	    (ret = store_obs_last(st, farm_id, &any_obs, &last, err)))
		return ret;
	if (any_run)
		delivered = ref + delay_s;
	if (delivered != INT64_MIN)
		snprintf(run, sizeof(run), "NWP run %s delivered at %s (delay %g h)",
			 utc_format(ref, a), utc_format(delivered, b), (double)delay_s / UTC_HOUR);
	/* why: what the latest data is */
	if (any_obs && last > delivered) {
		best = last;
		r = ISSUED_LATEST_OBS;
		snprintf(why, sizeof(why), "the observation at %s%s%s", utc_format(last, c),
			 run[0] ? ", after the " : "", run);
	} else if (delivered != INT64_MIN) {
		best = delivered;
		r = ISSUED_LATEST_RUN;
		snprintf(why, sizeof(why), "%s", run);
	} else {
		best = now;
		r = ISSUED_NOW;
	}
	*T = utc_floor(best > now ? now : best, UTC_HOUR);
	if (rule)
		*rule = best > now ? ISSUED_NOW : r;
	if (!reason)
		return WC_OK;
	if (r == ISSUED_NOW)
		snprintf(reason, len,
			 "now, floored to the hour: no NWP run in the store and no observation of "
			 "farm '%s'",
			 farm_id);
	else if (best > now)
		snprintf(reason, len, "now, floored to the hour: the latest data (%s) is later",
			 why);
	else
		snprintf(reason, len, "latest data: %s%s", why,
			 *T != best ? ", floored to the hour" : "");
	return WC_OK;
}

/* ---- one request ---- */

void forecast_request_init(struct forecast_request *r)
{
	memset(r, 0, sizeof(*r));
	forecast_options_init(&r->o);
	r->issued = INT64_MIN;
	forecast_parse_levels(FORECAST_DEFAULT_LEVELS, r->levels, &r->nlevels, NULL);
	r->store = true;
}

/* A whole decimal number in [lo, hi] (no sign, space or suffix). */
static bool parse_whole(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

enum wc_status forecast_request_set(struct forecast_request *r, const char *key,
				    const char *value, struct wc_error *err)
{
	float levels[FORECAST_MAX_REQUEST];
	int n;
	long v;

	if (!strcmp(key, "issued")) {
		if (!utc_parse(value, &r->issued))
			return wc_error_set(err, WC_EINVAL,
					    "use ISO 8601, e.g. 2026-03-01T12:00:00Z");
	} else if (!strcmp(key, "horizon")) {
		if (!parse_whole(value, 1, FEAT_MAX_LEAD, &v))
			return wc_error_set(err, WC_EINVAL, "use 1..%d hours", FEAT_MAX_LEAD);
		r->o.horizon = (int)v;
	} else if (!strcmp(key, "quantiles")) {
		if (forecast_parse_levels(value, levels, &n, NULL))
			return wc_error_set(err, WC_EINVAL,
					    "use at most %d distinct levels in (0, 1), as a list "
					    "(e.g. 0.1,0.5,0.9) or from:to:step (e.g. 0.01:0.99:0.01)",
					    FORECAST_MAX_REQUEST);
		memcpy(r->levels, levels, (size_t)n * sizeof(float));
		r->nlevels = n;
	} else if (!strcmp(key, "model")) {
		if (!forecast_model_known(value))
			return wc_error_set(err, WC_EINVAL, "%s", model_hint);
		r->o.model = value;
	} else if (!strcmp(key, "model_version")) {
		if (!parse_whole(value, 1, FORECAST_MAX_VERSION, &v))
			return wc_error_set(err, WC_EINVAL, "use a model version, 1..%d",
					    FORECAST_MAX_VERSION);
		r->o.model_version = (int)v;
	} else if (!strcmp(key, "point")) {
		if (strcmp(value, "median") && strcmp(value, "mean"))
			return wc_error_set(err, WC_EINVAL, "use median or mean");
		r->o.point = !strcmp(value, "mean") ? FORECAST_POINT_MEAN : FORECAST_POINT_MEDIAN;
	} else if (!strcmp(key, "units")) {
		if (strcmp(value, "mw") && strcmp(value, "frac"))
			return wc_error_set(err, WC_EINVAL, "use mw or frac");
		r->frac = !strcmp(value, "frac");
	} else if (!strcmp(key, "adapt")) {
		if (strcmp(value, "model") && strcmp(value, "on") && strcmp(value, "off"))
			return wc_error_set(err, WC_EINVAL,
					    "use model (as the model was trained), on or off");
		r->o.adapt = !strcmp(value, "on")    ? FORECAST_ADAPT_ON
			     : !strcmp(value, "off") ? FORECAST_ADAPT_OFF
						     : FORECAST_ADAPT_MODEL;
	} else {
		return wc_error_set(err, WC_EINVAL, "unknown");
	}
	return WC_OK;
}

enum wc_status forecast_get_or_issue(struct store *st, const char *farm_id,
				     const struct forecast_request *r, struct forecast *out,
				     struct wc_error *err)
{
	struct forecaster *fcr = NULL;
	struct wc_error serr = { 0 };
	enum wc_status ret;

	memset(out, 0, sizeof(*out));
	if ((ret = forecaster_open(st, farm_id, &r->o, r->issued, r->issued, &fcr, err)) ||
	    (ret = forecaster_get_or_issue(fcr, forecaster_first(fcr), out, err)))
		goto cleanup;
	if (r->store && forecast_store(st, out, 1, &serr))
		log_warn("cannot store the forecast of '%s': %s", farm_id, serr.msg);
cleanup:
	forecaster_free(fcr);
	return ret;
}

/* ---- storing ---- */

/* The adaptation as stored: null when off, else its numbers. */
static json_t *adapt_body(const struct adapt_report *a)
{
	json_t *blocks = json_array();

	if (!a->on || !blocks) {
		json_decref(blocks);
		return json_null();
	}
	for (int k = 0; k < a->nblocks; k++)
		json_array_append_new(blocks, json_pack("[i,i,f,f,f]", a->block[k].lo,
							a->block[k].hi, a->block[k].a,
							a->block[k].b, a->block[k].weight));
	return json_pack("{s:I,s:I,s:I,s:f,s:o}", "since", (json_int_t)a->since, "as_of",
			 (json_int_t)a->as_of, "pairs", (json_int_t)a->pairs, "size", a->size,
			 "blocks", blocks);
}

/* adapt_body's parser; a damaged one reads as off. */
static void adapt_from_body(json_t *j, struct adapt_report *a)
{
	json_t *blocks = json_object_get(j, "blocks");
	json_int_t since, as_of, pairs;
	double size;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(j) || !json_is_array(blocks) ||
	    json_array_size(blocks) > ADAPT_MAX_BLOCKS ||
	    json_unpack(j, "{s:I,s:I,s:I,s:F}", "since", &since, "as_of", &as_of, "pairs",
			&pairs, "size", &size))
		return;
	for (size_t k = 0; k < json_array_size(blocks); k++)
		if (json_unpack(json_array_get(blocks, k), "[i,i,F,F,F]", &a->block[k].lo,
				&a->block[k].hi, &a->block[k].a, &a->block[k].b,
				&a->block[k].weight))
			return;
	a->on = true;
	a->since = since;
	a->as_of = as_of;
	a->pairs = pairs;
	a->size = size;
	a->nblocks = (int)json_array_size(blocks);
}

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
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:b,s:s,s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "farm", fc->farm_id, "issued", utc_format(fc->issued, t), "model",
			 fc->model, "model_version", fc->model_version, "curve", fc->curve,
			 "fallback", fc->fallback, "horizon_cut", fc->horizon_cut, "cut_note",
			 fc->cut_note, "note", fc->note, "computed_at", (json_int_t)fc->computed_at,
			 "delay_s", (json_int_t)fc->delay_s, "run",
			 fc->has_run ? json_pack("{s:I,s:b,s:s}", "ref_time",
						 (json_int_t)fc->run_ref_time, "is_forecast",
						 fc->run_is_forecast, "source", fc->run_source)
				     : json_null(),
			 "taus", taus, "valid", valid, "point", point, "q", q, "adaptation",
			 adapt_body(&fc->adapt));
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
	/* bodies stored before these fields: not cut (so computed again when short), made
	 * at an unknown time with an unknown delay (so never reused) */
	fc->horizon_cut = json_is_true(json_object_get(root, "horizon_cut"));
	snprintf(fc->cut_note, sizeof(fc->cut_note), "%s",
		 fc->horizon_cut && json_is_string(json_object_get(root, "cut_note"))
			 ? json_string_value(json_object_get(root, "cut_note"))
			 : "");
	fc->computed_at = json_integer_value(json_object_get(root, "computed_at"));
	fc->delay_s = json_is_integer(json_object_get(root, "delay_s"))
			      ? json_integer_value(json_object_get(root, "delay_s"))
			      : -1;
	/* bodies stored before farm power curves have no "curve": the curve was fitted */
	snprintf(fc->curve, sizeof(fc->curve), "%s",
		 json_is_string(json_object_get(root, "curve"))
			 ? json_string_value(json_object_get(root, "curve"))
		 : strcmp(fc->model, "powercurve") ? ""
						   : "fitted");
	fc->model_version = version;
	/* bodies stored before the adaptation: not adapted */
	adapt_from_body(json_object_get(root, "adaptation"), &fc->adapt);
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

enum wc_status forecast_store(struct store *st, struct forecast *fc, size_t n,
			      struct wc_error *err)
{
	int64_t *issued = calloc(n ? n : 1, sizeof(int64_t));
	char **keys = calloc(n ? n : 1, sizeof(char *));
	char **bodies = calloc(n ? n : 1, sizeof(char *));
	enum wc_status ret = WC_OK;
	size_t m = 0;

	if (!issued || !keys || !bodies) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *b;

		if (fc[i].stored)
			continue;
		b = forecast_body(&fc[i]);
		issued[m] = fc[i].issued;
		keys[m] = malloc(48);
		bodies[m] = b ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(b);
		if (!keys[m++] || !bodies[m - 1]) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		forecast_model_key(&fc[i], keys[m - 1], 48);
	}
	if (m)
		ret = store_forecast_put(st, fc[0].farm_id, m, issued, (const char *const *)keys,
					 (const char *const *)bodies, err);
	for (size_t i = 0; i < n && !ret; i++)
		fc[i].stored = true;
cleanup:
	for (size_t i = 0; keys && bodies && i < m; i++) {
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
	for (int i = 1; i < k; i++)
		if (levels[i] == levels[i - 1])
			return wc_error_set(err, WC_EINVAL,
					    "invalid quantiles '%s': level %g is given twice; give "
					    "each level once",
					    s, levels[i]);
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

const char *forecast_level_name(float level, char *buf)
{
	double pct = round((double)level * 1e6) / 1e4;

	if (pct == floor(pct))
		snprintf(buf, FORECAST_LEVEL_NAME, "p%02d", (int)pct);
	else
		snprintf(buf, FORECAST_LEVEL_NAME, "p%s%g", pct < 10 ? "0" : "", pct);
	return buf;
}

void forecast_notes(const struct forecast *fc, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", fc->cut_note, fc->cut_note[0] && fc->note[0] ? "; " : "",
		 fc->note);
}

/* A string, or null for "". */
static json_t *string_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

json_t *forecast_model_json(const struct forecast *fc)
{
	return json_pack("{s:s,s:o,s:o}", "name", fc->model, "version",
			 strcmp(fc->model, "nn") ? json_null() : json_integer(fc->model_version),
			 "curve", string_or_null(fc->curve));
}

json_t *forecast_run_json(const struct forecast *fc)
{
	char r[UTC_ISO_LEN];

	if (!fc->has_run)
		return json_null();
	return json_pack("{s:o,s:s}", "ref_time",
			 fc->run_is_forecast ? json_string(utc_format(fc->run_ref_time, r))
					     : json_null(),
			 "source", fc->run_source);
}

/*
 * The reply's "adaptation": null when none was applied, else since (where its replay
 * starts), as_of (the latest observation it used), age_h, observed_hours, the mean size
 * of the correction over the leads, and per lead block the offset a and gain b of
 * y = a + b f with the weight (hours of data, forgotten) behind them.
 */
static json_t *adapt_json(const struct forecast *fc)
{
	const struct adapt_report *a = &fc->adapt;
	json_t *blocks = json_array();
	char s[UTC_ISO_LEN], o[UTC_ISO_LEN], leads[32];

	if (!a->on || !blocks) {
		json_decref(blocks);
		return json_null();
	}
	for (int k = 0; k < a->nblocks; k++) {
		if (a->block[k].hi == INT32_MAX)
			snprintf(leads, sizeof(leads), "%d-", a->block[k].lo);
		else
			snprintf(leads, sizeof(leads), "%d-%d", a->block[k].lo, a->block[k].hi);
		json_array_append_new(blocks,
				      json_pack("{s:s,s:f,s:f,s:f}", "leads", leads, "offset",
						r6(a->block[k].a), "gain", r6(a->block[k].b),
						"weight_h", r6(a->block[k].weight)));
	}
	return json_pack("{s:s,s:o,s:f,s:I,s:f,s:f,s:o}", "since", utc_format(a->since, s),
			 "as_of", a->as_of ? json_string(utc_format(a->as_of, o)) : json_null(),
			 "age_h", (double)(fc->issued - a->since) / UTC_HOUR, "observed_hours",
			 (json_int_t)a->pairs, "size_frac", r6(a->size), "size_mw",
			 r6(a->size * fc->capacity_mw), "blocks", blocks);
}

json_t *forecast_json(const struct forecast *fc, const float *levels, int n, int horizon)
{
	json_t *lv = json_array(), *names = json_array(), *leads = json_array();
	json_t *root = json_object();
	int H = horizon < fc->nlead ? horizon : fc->nlead;
	char t[UTC_ISO_LEN], notes[sizeof(fc->cut_note) + sizeof(fc->note) + 2];
	char ps[UTC_ISO_LEN], name[FORECAST_LEVEL_NAME];
	int bad = !lv || !names || !leads || !root;

	for (int k = 0; k < n; k++) {
		json_array_append_new(lv, json_real(r6(levels[k])));
		json_array_append_new(names, json_string(forecast_level_name(levels[k], name)));
	}
	for (int i = 0; i < H; i++) {
		json_t *qm = json_array(), *qf = json_array(), *nm = json_object();
		json_t *nf = json_object();

		for (int k = 0; k < n; k++) {
			double v = forecast_quantile(fc, i, levels[k]);

			json_array_append_new(qm, json_real(r6(v * fc->capacity_mw)));
			json_array_append_new(qf, json_real(r6(v)));
			forecast_level_name(levels[k], name);
			json_object_set_new(nm, name, json_real(r6(v * fc->capacity_mw)));
			json_object_set_new(nf, name, json_real(r6(v)));
		}
		/* the hour-ending valid time T ends the delivery period T - 1 h .. T */
		json_array_append_new(
			leads, json_pack("{s:i,s:s,s:s,s:s,s:f,s:f,s:o,s:o,s:o,s:o}", "lead_h", i + 1,
					 "period_start", utc_format(fc->valid[i] - UTC_HOUR, ps),
					 "period_end", utc_format(fc->valid[i], t), "valid_time", t,
					 "point_mw", r6(fc->point[i] * fc->capacity_mw), "point_frac",
					 r6(fc->point[i]), "quantiles_mw", qm, "quantiles_frac", qf,
					 "mw", nm, "frac", nf));
	}
	forecast_notes(fc, notes, sizeof(notes));
	bad |= json_object_set_new(root, fc->portfolio ? "portfolio" : "farm",
				   json_string(fc->farm_id));
	bad |= json_object_set_new(root, "capacity_mw", json_real(fc->capacity_mw));
	bad |= json_object_set_new(root, "issued", json_string(utc_format(fc->issued, t)));
	bad |= json_object_set_new(root, "issued_rule",
				   json_string(forecast_issued_rule_name(fc->issued_rule)));
	bad |= json_object_set_new(root, "issued_reason", string_or_null(fc->issued_reason));
	bad |= json_object_set_new(root, "model", forecast_model_json(fc));
	bad |= json_object_set_new(root, "model_choice", string_or_null(fc->model_choice));
	bad |= json_object_set_new(root, "adaptation", adapt_json(fc));
	bad |= json_object_set_new(root, "fallback", string_or_null(fc->fallback));
	bad |= json_object_set_new(root, "note", string_or_null(notes));
	bad |= json_object_set_new(root, "nwp_run", forecast_run_json(fc));
	bad |= json_object_set_new(root, "stored", json_boolean(fc->stored));
	bad |= json_object_set_new(root, "computed_at",
				   fc->computed_at ? json_string(utc_format(fc->computed_at, t))
						   : json_null());
	bad |= json_object_set_new(root, "horizon", json_integer(H));
	bad |= json_object_set_new(root, "quantiles", lv);
	lv = NULL;
	bad |= json_object_set_new(root, "quantile_names", names);
	names = NULL;
	bad |= json_object_set_new(root, "leads", leads);
	leads = NULL;
	if (bad) {
		json_decref(lv);
		json_decref(names);
		json_decref(leads);
		json_decref(root);
		return NULL;
	}
	return root;
}

enum wc_status forecast_csv(const struct forecast *fc, const float *levels, int n,
			    int horizon, bool header, bool frac, struct dynbuf *out)
{
	int H = horizon < fc->nlead ? horizon : fc->nlead;
	double scale = frac ? 1.0 : fc->capacity_mw;
	enum wc_status ret = WC_OK;
	char t[UTC_ISO_LEN], v[UTC_ISO_LEN], ps[UTC_ISO_LEN], version[16] = "";
	char name[FORECAST_LEVEL_NAME];

	if (header) {
		ret = dynbuf_printf(out, "%s,issued,period_start,period_end,valid_time,lead_h,model,"
					 "model_version,fallback,point",
				    fc->portfolio ? "portfolio" : "farm");
		for (int k = 0; k < n && !ret; k++)
			ret = dynbuf_printf(out, ",%s", forecast_level_name(levels[k], name));
		if (!ret)
			ret = dynbuf_adds(out, "\n");
	}
	utc_format(fc->issued, t);
	if (!strcmp(fc->model, "nn"))
		snprintf(version, sizeof(version), "%d", fc->model_version);
	/* farm ids and model names are slugs: nothing to quote */
	for (int i = 0; i < H && !ret; i++) {
		utc_format(fc->valid[i], v);
		ret = dynbuf_printf(out, "%s,%s,%s,%s,%s,%d,%s,%s,%s,%.6g", fc->farm_id, t,
				    utc_format(fc->valid[i] - UTC_HOUR, ps), v, v, i + 1, fc->model,
				    version,
				    fc->fallback[0] ? "true" : "false", fc->point[i] * scale);
		for (int k = 0; k < n && !ret; k++)
			ret = dynbuf_printf(out, ",%.6g", forecast_quantile(fc, i, levels[k]) * scale);
		if (!ret)
			ret = dynbuf_adds(out, "\n");
	}
	return ret;
}
