/*
 * portfolio.c - portfolio forecasts: the farms' forecasts joined by a Gaussian copula
 * fitted on their recent hindcast errors; see trading/portfolio.h.
 *
 * Limits: a pforecaster holds, per farm, its forecaster, its observations over the
 * range and one normal score per (hindcast, lead): (window / 12 h + range / 12 h) x
 * horizon floats. Hindcasts are made once per forecaster and shared by its issue times
 * (they sit on a fixed 12-hourly grid of UTC).
 */
#include "trading/portfolio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utc.h"
#include "trading/copula.h"
#include "trading/qdist.h"

const int portfolio_block_first[PORTFOLIO_NBLOCKS] = { 1, 7, 13, 25, 37, 49 };

#define STEP_S ((int64_t)PORTFOLIO_HINDCAST_EVERY_H * UTC_HOUR)
#define WINDOW_S ((int64_t)PORTFOLIO_WINDOW_DAYS * UTC_DAY)
#define SEED 0x77696e64636173ULL

/* The levels a portfolio forecast always has: 0.01, 0.025, 0.05, ..., 0.975, 0.99. */
#define GRID_LEVELS 41

struct member {
	char id[FARM_ID_MAX + 1];
	struct forecaster *fcr;
	struct obs_row *obs;		/* (nobs) over the range, ascending */
	size_t nobs;
	float *z;			/* (nslots, H) normal scores of PITs; NaN: none */
	unsigned char *done;		/* (nslots) hindcast made */
};

struct pforecaster {
	struct store *st;
	struct portfolio p;
	struct forecast_options o;
	char model_name[32];
	int64_t first, last;
	bool dflt;
	enum forecast_issued_rule dflt_rule;
	char dflt_reason[256];
	int64_t g0;			/* the first hindcast slot's issue time */
	size_t nslots;
	struct member *m;		/* (p.nfarms) */
};

void pforecast_release(struct pforecast *p)
{
	forecast_release(&p->fc);
	for (int i = 0; p->farms && i < p->nfarms; i++)
		forecast_release(&p->farms[i]);
	free(p->farms);
	for (int b = 0; b < PORTFOLIO_NBLOCKS; b++)
		free(p->blocks[b].R);
	memset(p, 0, sizeof(*p));
}

void pforecaster_free(struct pforecaster *pf)
{
	if (!pf)
		return;
	for (int i = 0; pf->m && i < pf->p.nfarms; i++) {
		forecaster_free(pf->m[i].fcr);
		free(pf->m[i].obs);
		free(pf->m[i].z);
		free(pf->m[i].done);
	}
	free(pf->m);
	free(pf);
}

int64_t pforecaster_first(const struct pforecaster *pf)
{
	return pf->first;
}

const struct portfolio *pforecaster_portfolio(const struct pforecaster *pf)
{
	return &pf->p;
}

/*
 * The default issue time: the latest of the farms' (each from its own forecaster, so
 * with its model's delivery delay), and why.
 */
static enum wc_status default_issued(struct pforecaster *pf, struct wc_error *err)
{
	enum wc_status ret = WC_OK;

	pf->first = INT64_MIN;
	for (int i = 0; i < pf->p.nfarms && !ret; i++) {
		struct forecaster *f = NULL;
		enum forecast_issued_rule rule = ISSUED_NOW;
		const char *why;

		if ((ret = forecaster_open(pf->st, pf->p.farms[i], &pf->o, INT64_MIN, INT64_MIN, &f,
					   err))) {
			wc_error_prefix(err, "portfolio '%s': farm '%s'", pf->p.id, pf->p.farms[i]);
			break;
		}
		if (forecaster_first(f) > pf->first) {
			pf->first = forecaster_first(f);
			why = forecaster_first_reason(f, &rule);
			pf->dflt_rule = rule;
			snprintf(pf->dflt_reason, sizeof(pf->dflt_reason), "the latest of its farms', "
				 "farm '%s': %s", pf->p.farms[i], why ? why : "");
		}
		forecaster_free(f);
	}
	pf->dflt = true;
	return ret;
}

/* pforecaster_open, with models (NULL: the stored ones) */
static enum wc_status open_with(struct store *st, const char *id,
				const struct forecast_options *o, struct farm_model *const *models,
				const char *why, int64_t first, int64_t last,
				struct pforecaster **out, struct wc_error *err)
{
	struct pforecaster *pf;
	enum wc_status ret;

	*out = NULL;
	if (!(pf = calloc(1, sizeof(*pf))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	pf->st = st;
	pf->o = *o;
	snprintf(pf->model_name, sizeof(pf->model_name), "%s", o->model ? o->model : "auto");
	pf->o.model = pf->model_name;
	if ((ret = store_portfolio_get(st, id, &pf->p, err)))
		goto cleanup;
	if (first == INT64_MIN) {
		if ((ret = default_issued(pf, err)))
			goto cleanup;
		last = pf->first;
	} else {
		pf->first = first;
	}
	pf->last = last == INT64_MIN || last < pf->first ? pf->first : last;
	pf->g0 = utc_floor(pf->first - WINDOW_S, STEP_S);
	pf->nslots = (size_t)((pf->last - pf->g0) / STEP_S + 1);
	if (!(pf->m = calloc((size_t)pf->p.nfarms, sizeof(*pf->m)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (int i = 0; i < pf->p.nfarms; i++) {
		struct member *m = &pf->m[i];

		snprintf(m->id, sizeof(m->id), "%s", pf->p.farms[i]);
		ret = models ? forecaster_open_model(st, m->id, &pf->o, models[i], why, pf->g0,
						     pf->last, &m->fcr, err)
			     : forecaster_open(st, m->id, &pf->o, pf->g0, pf->last, &m->fcr, err);
		if (ret ||
		    (ret = store_obs_query(st, m->id, pf->g0, pf->last, &m->obs, &m->nobs, err))) {
			wc_error_prefix(err, "portfolio '%s': farm '%s'", id, m->id);
			goto cleanup;
		}
		m->z = malloc(pf->nslots * (size_t)pf->o.horizon * sizeof(float));
		m->done = calloc(pf->nslots, 1);
		if (!m->z || !m->done) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	*out = pf;
	pf = NULL;
cleanup:
	pforecaster_free(pf);
	return ret;
}

enum wc_status pforecaster_open(struct store *st, const char *id,
				const struct forecast_options *o, int64_t first, int64_t last,
				struct pforecaster **out, struct wc_error *err)
{
	return open_with(st, id, o, NULL, NULL, first, last, out, err);
}

enum wc_status pforecaster_open_models(struct store *st, const char *id,
				       const struct forecast_options *o,
				       struct farm_model *const *models, const char *why,
				       int64_t first, int64_t last, struct pforecaster **out,
				       struct wc_error *err)
{
	*out = NULL;
	if (first == INT64_MIN || last == INT64_MIN)
		return wc_error_set(err, WC_EINVAL, "a portfolio's forecaster with given models "
						    "needs its issue times");
	return open_with(st, id, o, models, why, first, last, out, err);
}

/* The observed fraction of capacity at hour-ending t, or NaN (none, or flagged). */
static double observed(const struct member *m, int64_t t, double cap)
{
	size_t lo = 0, hi = m->nobs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->obs[mid].time < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == m->nobs || m->obs[lo].time != t || m->obs[lo].flag != OBS_OK)
		return NAN;
	return m->obs[lo].power_mw / cap;
}

/* A fixed pseudo-random number in [0, 1) for (farm, issue, lead): the PIT's draw. */
static double draw01(const char *id, int64_t t, int h)
{
	uint64_t x = 1469598103934665603ULL;

	for (const char *s = id; *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ULL;
	x ^= (uint64_t)t * 0x9e3779b97f4a7c15ULL ^ (uint64_t)h * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (double)(x >> 11) / 9007199254740992.0;
}

/*
 * Hindcast slot j of member i once: the farm's forecast at the slot's issue time and the
 * normal score of each lead's observed outcome under it. A slot that cannot be forecast
 * has no scores.
 */
static void hindcast(struct pforecaster *pf, int i, size_t j)
{
	struct member *m = &pf->m[i];
	int H = pf->o.horizon;
	float *z = m->z + j * (size_t)H;
	int64_t t = pf->g0 + (int64_t)j * STEP_S;
	struct wc_error e = { 0 };
	struct forecast fc;

	if (m->done[j])
		return;
	m->done[j] = 1;
	for (int h = 0; h < H; h++)
		z[h] = NAN;
	if (forecaster_get_or_issue(m->fcr, t, &fc, &e)) {
		log_debug("portfolio '%s': no hindcast of farm '%s' at slot %zu: %s", pf->p.id,
			  m->id, j, e.msg);
		return;
	}
	for (int h = 0; h < fc.nlead && h < H; h++) {
		double y = observed(m, fc.valid[h], fc.capacity_mw), lo, hi;
		struct qdist d;

		if (isnan(y))
			continue;
		qdist_from_quantiles(&d, fc.taus, fc.q + (size_t)h * fc.nq, fc.nq, 1.0, 1.0);
		qdist_levels(&d, y < 0 ? 0 : y > 1 ? 1 : y, &lo, &hi);
		z[h] = (float)pit_score(lo + draw01(m->id, t, h + 1) * (hi - lo));
	}
	forecast_release(&fc);
}

/*
 * The complete cases of leads first..last for issue time T into zc (cases, p): slots
 * issued in [T - window, T), outcomes observed by T. Returns the count.
 */
static size_t gather(struct pforecaster *pf, int64_t T, int first, int last, double *zc)
{
	int p = pf->p.nfarms, H = pf->o.horizon;
	size_t n = 0;

	for (size_t j = 0; j < pf->nslots; j++) {
		int64_t t = pf->g0 + (int64_t)j * STEP_S;

		if (t < T - WINDOW_S || t >= T)
			continue;
		for (int h = first; h <= last && h <= H && t + (int64_t)h * UTC_HOUR <= T; h++) {
			bool ok = true;

			for (int i = 0; i < p && ok; i++) {
				hindcast(pf, i, j);
				ok = !isnan(pf->m[i].z[j * (size_t)H + (size_t)(h - 1)]);
			}
			for (int i = 0; i < p && ok; i++)
				zc[n * p + (size_t)i] = pf->m[i].z[j * (size_t)H + (size_t)(h - 1)];
			n += ok;
		}
	}
	return n;
}

/* The levels of the sum: the grid and those asked for, as many as fit, increasing. */
static int sum_levels(const float *levels, int n, float *out)
{
	int k = 0;

	out[k++] = 0.01f;
	for (int i = 1; i <= GRID_LEVELS - 2; i++)
		out[k++] = (float)(0.025 * i);
	out[k++] = 0.99f;
	for (int i = 0; i < n && k < FORECAST_MAX_LEVELS; i++) {
		bool have = false;

		for (int j = 0; j < k && !have; j++)
			have = fabsf(out[j] - levels[i]) < 1e-6f;
		if (!have && levels[i] > 0 && levels[i] < 1)
			out[k++] = levels[i];
	}
	for (int i = 1; i < k; i++)	/* insertion sort: a few dozen */
		for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
			float t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return k;
}

/* Fit block b's correlation (or fall back) for issue time T; zc has room for the cases. */
static void fit_block(struct pforecaster *pf, int64_t T, struct dependence_block *bl,
		      const double *Rpool, int npool, double pool_lambda, double pool_rho,
		      double *zc)
{
	int p = pf->p.nfarms;

	bl->cases = (int)gather(pf, T, bl->first, bl->last, zc);
	if (bl->cases >= PORTFOLIO_MIN_CASES) {
		bl->source = DEP_ESTIMATED;
		copula_fit(p, zc, (size_t)bl->cases, bl->R, &bl->lambda, &bl->mean_rho);
	} else if (npool >= PORTFOLIO_MIN_CASES) {
		bl->source = DEP_POOLED;
		memcpy(bl->R, Rpool, (size_t)p * p * sizeof(double));
		bl->lambda = pool_lambda;
		bl->mean_rho = pool_rho;
	} else {
		bl->source = DEP_PRIOR;
		for (int a = 0; a < p * p; a++)
			bl->R[a] = a % (p + 1) == 0 ? 1 : PORTFOLIO_PRIOR_RHO;
		bl->lambda = 1;
		bl->mean_rho = p > 1 ? PORTFOLIO_PRIOR_RHO : 1;
	}
}

/* Append "; " and the formatted text to buf (len bytes) when there is room. */
static void join(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void join(char *buf, size_t len, const char *fmt, ...)
{
	size_t l = strlen(buf);
	va_list ap;

	if (l + 2 >= len)
		return;
	if (l)
		l += (size_t)snprintf(buf + l, len - l, "; ");
	va_start(ap, fmt);
	vsnprintf(buf + l, len - l, fmt, ap);
	va_end(ap);
}

/* The sum's header fields: issue time and why, model, notes, run. */
static void describe(const struct pforecaster *pf, int64_t asked, struct pforecast *out)
{
	struct forecast *fc = &out->fc;
	char a[UTC_ISO_LEN], t[UTC_ISO_LEN];

	snprintf(fc->farm_id, sizeof(fc->farm_id), "%s", pf->p.id);
	fc->portfolio = true;
	snprintf(fc->model, sizeof(fc->model), "gaussian-copula");
	snprintf(fc->model_choice, sizeof(fc->model_choice),
		 "each farm's own forecast (see farms), summed under a Gaussian copula of "
		 "their recent errors");
	fc->computed_at = utc_now();
	if (pf->dflt && fc->issued == pf->first) {
		fc->issued_rule = pf->dflt_rule;
		snprintf(fc->issued_reason, sizeof(fc->issued_reason), "%s", pf->dflt_reason);
	} else {
		fc->issued_rule = ISSUED_REQUESTED;
		if (asked == fc->issued)
			snprintf(fc->issued_reason, sizeof(fc->issued_reason), "requested");
		else
			snprintf(fc->issued_reason, sizeof(fc->issued_reason),
				 "requested %s, served as %s: rows are hourly, and the hour before "
				 "sees less, never more",
				 utc_format(asked, a), utc_format(fc->issued, t));
	}
	for (int i = 0; i < out->nfarms; i++) {
		const struct forecast *f = &out->farms[i];

		if (f->fallback[0])
			join(fc->fallback, sizeof(fc->fallback), "farm '%s': %s", f->farm_id,
			     f->fallback);
		if (f->note[0])
			join(fc->note, sizeof(fc->note), "farm '%s': %s", f->farm_id, f->note);
		if (f->delay_s > fc->delay_s)
			fc->delay_s = f->delay_s;
		if (!fc->has_run && f->has_run) {
			fc->has_run = true;
			fc->run_ref_time = f->run_ref_time;
			fc->run_is_forecast = f->run_is_forecast;
			snprintf(fc->run_source, sizeof(fc->run_source), "%s", f->run_source);
		}
	}
}

enum wc_status pforecaster_get(struct pforecaster *pf, int64_t T, const float *levels, int n,
			       struct pforecast *out, struct wc_error *err)
{
	int p = pf->p.nfarms, H = pf->o.horizon, npool, nq;
	int64_t asked = T;
	struct qdist *margins = NULL;
	double *zc = NULL, *Rpool = NULL, *work = NULL, *q = NULL, pool_lambda = 1, pool_rho = 0;
	float taus[FORECAST_MAX_LEVELS];
	struct copula cop = { 0 };
	enum wc_status ret = WC_OK;
	char t[UTC_ISO_LEN], why[64];
	size_t maxcases = pf->nslots * (size_t)H;

	memset(out, 0, sizeof(*out));
	T = utc_floor(T, UTC_HOUR);
	if (T < utc_floor(pf->first, UTC_HOUR) || T > pf->last)
		return wc_error_set(err, WC_EINVAL, "issue time %s is outside the forecaster's range",
				    utc_format(T, t));
	out->nfarms = p;
	if (!(out->farms = calloc((size_t)p, sizeof(*out->farms))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (int i = 0; i < p; i++) {
		if ((ret = forecaster_get_or_issue(pf->m[i].fcr, T, &out->farms[i], err))) {
			wc_error_prefix(err, "cannot forecast portfolio '%s': farm '%s'", pf->p.id,
					pf->m[i].id);
			goto cleanup;
		}
		if (out->farms[i].nlead < H) {
			H = out->farms[i].nlead;
			out->fc.horizon_cut = true;
			snprintf(out->fc.cut_note, sizeof(out->fc.cut_note), "farm '%s': %.120s",
				 pf->m[i].id, out->farms[i].cut_note);
		}
		out->fc.capacity_mw += out->farms[i].capacity_mw;
	}
	out->fc.issued = T;
	describe(pf, asked, out);
	nq = sum_levels(levels, n, taus);
	zc = malloc(maxcases * (size_t)p * sizeof(double));
	Rpool = malloc((size_t)p * p * sizeof(double));
	margins = malloc((size_t)p * sizeof(*margins));
	work = malloc(PORTFOLIO_SAMPLES * sizeof(double));
	q = malloc((size_t)nq * sizeof(double));
	if (!zc || !Rpool || !margins || !work || !q) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	out->fc.nq = nq;
	memcpy(out->fc.taus, taus, (size_t)nq * sizeof(float));
	out->fc.nlead = H;
	out->fc.valid = calloc(H > 0 ? (size_t)H : 1, sizeof(int64_t));
	out->fc.point = calloc(H > 0 ? (size_t)H : 1, sizeof(float));
	out->fc.q = calloc(H > 0 ? (size_t)H * nq : 1, sizeof(float));
	if (!out->fc.valid || !out->fc.point || !out->fc.q) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	/* all leads pooled: the fallback of a block with too few cases */
	npool = (int)gather(pf, T, 1, H, zc);
	out->pooled_cases = npool;
	if (npool >= PORTFOLIO_MIN_CASES)
		copula_fit(p, zc, (size_t)npool, Rpool, &pool_lambda, &pool_rho);
	for (int b = 0; b < PORTFOLIO_NBLOCKS && portfolio_block_first[b] <= H; b++) {
		struct dependence_block *bl = &out->blocks[b];

		bl->first = portfolio_block_first[b];
		bl->last = b + 1 < PORTFOLIO_NBLOCKS ? portfolio_block_first[b + 1] - 1 : H;
		if (bl->last > H)
			bl->last = H;
		if (!(bl->R = malloc((size_t)p * p * sizeof(double)))) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		out->nblocks = b + 1;
		fit_block(pf, T, bl, Rpool, npool, pool_lambda, pool_rho, zc);
		if (bl->source != DEP_ESTIMATED) {
			snprintf(why, sizeof(why), "leads %d-%d", bl->first, bl->last);
			join(out->fc.note, sizeof(out->fc.note),
			     bl->source == DEP_POOLED
				     ? "dependence of %s taken from all leads pooled: fewer than %d "
				       "hours in the window with every farm's error"
				     : "dependence of %s assumed, correlation 0.5 between every "
				       "pair: fewer than %d hours in the window with every farm's "
				       "error",
			     why, PORTFOLIO_MIN_CASES);
		}
		if ((ret = copula_init(&cop, p, bl->R, PORTFOLIO_SAMPLES, SEED ^ (uint64_t)b, err)))
			goto cleanup;
		for (int h = bl->first; h <= bl->last; h++) {
			double mean;

			for (int i = 0; i < p; i++) {
				const struct forecast *f = &out->farms[i];

				qdist_from_quantiles(&margins[i], f->taus,
						     f->q + (size_t)(h - 1) * f->nq, f->nq,
						     f->capacity_mw, f->capacity_mw);
			}
			copula_sum(&cop, margins, taus, nq, q, &mean, work);
			for (int k = 0; k < nq; k++)
				out->fc.q[(size_t)(h - 1) * nq + k] =
					(float)(q[k] / out->fc.capacity_mw);
			/* the median is on the grid of levels */
			out->fc.point[h - 1] = pf->o.point == FORECAST_POINT_MEAN
						       ? (float)(mean / out->fc.capacity_mw)
						       : forecast_quantile(&out->fc, h - 1, 0.5f);
			out->fc.valid[h - 1] = T + (int64_t)h * UTC_HOUR;
		}
		copula_release(&cop);
	}
cleanup:
	copula_release(&cop);
	free(zc);
	free(Rpool);
	free(margins);
	free(work);
	free(q);
	if (ret)
		pforecast_release(out);
	return ret;
}

enum wc_status portfolio_forecast_get(struct store *st, const char *id,
				      const struct forecast_request *r, struct pforecast *out,
				      struct wc_error *err)
{
	struct pforecaster *pf = NULL;
	struct wc_error serr = { 0 };
	enum wc_status ret;

	memset(out, 0, sizeof(*out));
	if ((ret = pforecaster_open(st, id, &r->o, r->issued, r->issued, &pf, err)) ||
	    (ret = pforecaster_get(pf, pforecaster_first(pf), r->levels, r->nlevels, out, err)))
		goto cleanup;
	for (int i = 0; r->store && i < out->nfarms; i++)
		if (forecast_store(st, &out->farms[i], 1, &serr))
			log_warn("cannot store the forecast of '%s': %s", out->farms[i].farm_id,
				 serr.msg);
cleanup:
	pforecaster_free(pf);
	return ret;
}

static const char *source_name(enum dependence_source s)
{
	return s == DEP_ESTIMATED ? "estimated" : s == DEP_POOLED ? "pooled" : "prior";
}

json_t *pforecast_farms_json(const struct pforecast *p)
{
	json_t *farms = json_array();
	char t[UTC_ISO_LEN];

	for (int i = 0; farms && i < p->nfarms; i++) {
		const struct forecast *f = &p->farms[i];

		json_array_append_new(
			farms, json_pack("{s:s,s:f,s:s,s:o,s:o,s:o,s:b}", "id", f->farm_id,
					 "capacity_mw", f->capacity_mw, "issued",
					 utc_format(f->issued, t), "model", forecast_model_json(f),
					 "fallback",
					 f->fallback[0] ? json_string(f->fallback) : json_null(),
					 "nwp_run", forecast_run_json(f), "stored", f->stored));
	}
	return farms;
}

json_t *pforecast_dependence_json(const struct pforecast *p)
{
	json_t *blocks = json_array();
	int np = p->nfarms;

	for (int b = 0; blocks && b < p->nblocks; b++) {
		const struct dependence_block *bl = &p->blocks[b];
		json_t *m = json_null();

		if (np <= PORTFOLIO_MATRIX_MAX) {
			m = json_array();
			for (int a = 0; a < np; a++) {
				json_t *row = json_array();

				for (int c = 0; c < np; c++)
					json_array_append_new(
						row, json_real(round(bl->R[a * np + c] * 1e4) / 1e4));
				json_array_append_new(m, row);
			}
		}
		json_array_append_new(blocks,
				      json_pack("{s:i,s:i,s:i,s:s,s:f,s:f,s:o}", "first_lead", bl->first,
						"last_lead", bl->last, "cases", bl->cases, "source",
						source_name(bl->source), "shrinkage",
						round(bl->lambda * 1e4) / 1e4, "mean_correlation",
						round(bl->mean_rho * 1e4) / 1e4, "correlation", m));
	}
	return json_pack("{s:s,s:i,s:i,s:i,s:i,s:f,s:i,s:o}", "method", "gaussian_copula",
			 "window_days", PORTFOLIO_WINDOW_DAYS, "hindcast_every_h",
			 PORTFOLIO_HINDCAST_EVERY_H, "samples", PORTFOLIO_SAMPLES, "min_cases",
			 PORTFOLIO_MIN_CASES, "prior_correlation", PORTFOLIO_PRIOR_RHO,
			 "pooled_cases", p->pooled_cases, "blocks", blocks);
}

json_t *pforecast_json(const struct pforecast *p, const float *levels, int n, int horizon)
{
	json_t *root = forecast_json(&p->fc, levels, n, horizon);

	if (root && (json_object_set_new(root, "farms", pforecast_farms_json(p)) ||
		     json_object_set_new(root, "dependence", pforecast_dependence_json(p)))) {
		json_decref(root);
		return NULL;
	}
	return root;
}
