/*
 * baselines.c - persistence, climatology and power curve forecasts; see baselines.h.
 *
 * Limits: histories are the 90 (persistence) or 365 (climatology, curve) days before T,
 * so a baseline costs O(history x leads) per issue time; the curve's pairs add one pass
 * over the rows of the runs delivered by T that reach into that year.
 */
#include "forecast/baselines.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "forecast/metrics.h"

#define PERSIST_DAYS 90
#define HISTORY_DAYS 365
#define PERSIST_MAX_AGE (24 * UTC_HOUR)

static const char *const names[BASELINE_COUNT] = { "persistence", "climatology",
						   "powercurve" };

const char *baseline_name(enum baseline b)
{
	return (unsigned)b < BASELINE_COUNT ? names[b] : "unknown";
}

int baseline_parse(const char *s)
{
	for (int i = 0; i < BASELINE_COUNT; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static float clip01(double v)
{
	return (float)(v < 0 ? 0 : v > 1 ? 1 : v);
}

enum wc_status power_curve_fit(struct power_curve *pc, const double *ws, const float *y,
			       size_t n, struct wc_error *err)
{
	double sum[POWER_CURVE_NBINS] = { 0 };
	size_t cnt[POWER_CURVE_NBINS] = { 0 };
	int prev = -1;

	memset(pc, 0, sizeof(*pc));
	for (size_t i = 0; i < n; i++) {
		int b;

		if (!isfinite(ws[i]) || !isfinite(y[i]) || ws[i] < 0)
			continue;
		b = (int)(ws[i] / POWER_CURVE_BIN);
		if (b >= POWER_CURVE_NBINS)
			b = POWER_CURVE_NBINS - 1;
		sum[b] += y[i];
		cnt[b]++;
	}
	for (int b = 0; b < POWER_CURVE_NBINS; b++) {
		if (cnt[b] < POWER_CURVE_MIN_COUNT)
			continue;
		pc->value[b] = (float)(sum[b] / (double)cnt[b]);
		if (prev < 0) {
			for (int j = 0; j < b; j++)
				pc->value[j] = pc->value[b];
		} else {
			for (int j = prev + 1; j < b; j++)
				pc->value[j] = pc->value[prev] + (pc->value[b] - pc->value[prev]) *
									 (float)(j - prev) /
									 (float)(b - prev);
		}
		prev = b;
	}
	if (prev < 0)
		return wc_error_set(err, WC_ENODATA,
				    "cannot fit a power curve: fewer than %d pairs of NWP speed "
				    "and observed power in every speed bin",
				    POWER_CURVE_MIN_COUNT);
	for (int j = prev + 1; j < POWER_CURVE_NBINS; j++)
		pc->value[j] = pc->value[prev];
	return power_curve_set_resid(pc, ws, y, n, err);
}

void power_curve_from_farm(struct power_curve *pc, const struct farm_curve *c)
{
	memset(pc, 0, sizeof(*pc));
	pc->given = *c;
}

enum wc_status power_curve_set_resid(struct power_curve *pc, const double *ws,
				     const float *y, size_t n, struct wc_error *err)
{
	float *res;
	size_t nres = 0;

	pc->nresid = 0;
	if (!(res = malloc((n ? n : 1) * sizeof(float))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		double p = isfinite(ws[i]) ? power_curve_eval(pc, ws[i]) : NAN;

		if (isfinite(p) && isfinite(y[i]))
			res[nres++] = (float)(y[i] - p);
	}
	if (nres) {
		sort_floats(res, nres);
		pc->nresid = 101;
		for (int k = 0; k <= 100; k++)
			pc->resid[k] = (float)quantile_sorted(res, nres, k / 100.0);
	}
	free(res);
	return WC_OK;
}

/* A given curve at ws: linear between points, 0 below the first, the last value beyond. */
static double given_eval(const struct farm_curve *c, double ws)
{
	int i = 1;

	if (ws < c->ws[0])
		return 0;
	if (ws >= c->ws[c->n - 1])
		return c->power[c->n - 1];
	while (c->ws[i] <= ws)
		i++;
	return c->power[i - 1] + (ws - c->ws[i - 1]) / (c->ws[i] - c->ws[i - 1]) *
					 (c->power[i] - c->power[i - 1]);
}

double power_curve_eval(const struct power_curve *pc, double ws)
{
	double x;
	int i;

	if (!isfinite(ws))
		return NAN;
	if (pc->given.n > 0)
		return clip01(given_eval(&pc->given, ws));
	x = ws / POWER_CURVE_BIN - 0.5;
	if (x <= 0)
		return clip01(pc->value[0]);
	i = (int)x;
	if (i >= POWER_CURVE_NBINS - 1)
		return clip01(pc->value[POWER_CURVE_NBINS - 1]);
	return clip01(pc->value[i] + (x - i) * (pc->value[i + 1] - pc->value[i]));
}

double power_curve_resid(const struct power_curve *pc, double tau)
{
	double x;
	int i;

	if (pc->nresid != 101)
		return 0;
	x = (tau < 0 ? 0 : tau > 1 ? 1 : tau) * 100;
	i = (int)x;
	if (i >= 100)
		return pc->resid[100];
	return pc->resid[i] + (x - i) * (pc->resid[i + 1] - pc->resid[i]);
}

/* Observed values of the `days` days before T (inclusive of T), NaNs dropped; sorted. */
static size_t history(const struct farm_series *s, int64_t T, int days, float *out)
{
	size_t n = 0;

	for (int64_t t = T - (int64_t)days * UTC_DAY + UTC_HOUR; t <= T; t += UTC_HOUR) {
		float y = farm_series_obs(s, t, T);

		if (isfinite(y))
			out[n++] = y;
	}
	return n;
}

/* Keep quantiles non-crossing after clipping or rounding. */
static void monotone(float *q, int nq)
{
	for (int k = 1; k < nq; k++)
		if (q[k] < q[k - 1])
			q[k] = q[k - 1];
}

static enum wc_status climatology(const struct farm_series *s, int64_t T, int nlead,
				  const float *taus, int nq, float *point, float *q,
				  float *buf, struct wc_error *err)
{
	size_t n = history(s, T, HISTORY_DAYS, buf);
	double mean = 0;

	if (n == 0)
		return wc_error_set(err, WC_ENODATA,
				    "no observations of farm '%s' in the year before the issue "
				    "time",
				    s->farm.id);
	for (size_t i = 0; i < n; i++)
		mean += buf[i];
	mean /= (double)n;
	sort_floats(buf, n);
	for (int h = 0; h < nlead; h++) {
		point[h] = clip01(mean);
		for (int k = 0; k < nq; k++)
			q[(size_t)h * nq + k] = clip01(quantile_sorted(buf, n, taus[k]));
		monotone(q + (size_t)h * nq, nq);
	}
	return WC_OK;
}

static enum wc_status persistence(const struct farm_series *s, int64_t T, int nlead,
				  const float *taus, int nq, float *point, float *q,
				  float *buf, struct wc_error *err)
{
	int64_t t0 = utc_floor(T, UTC_HOUR);
	float last = NAN;
	int64_t start = T - (int64_t)PERSIST_DAYS * UTC_DAY;

	for (int64_t t = t0; t > T - PERSIST_MAX_AGE && !isfinite(last); t -= UTC_HOUR)
		last = farm_series_obs(s, t, T);
	if (!isfinite(last))
		return wc_error_set(err, WC_ENODATA,
				    "no observation of farm '%s' in the 24 h before the issue time",
				    s->farm.id);
	for (int h = 1; h <= nlead; h++) {
		size_t n = 0;
		float *qh = q + (size_t)(h - 1) * nq;

		/* changes over h hours, both ends known at T */
		for (int64_t t = start; t + (int64_t)h * UTC_HOUR <= T; t += UTC_HOUR) {
			float a = farm_series_obs(s, t, T);
			float b = farm_series_obs(s, t + (int64_t)h * UTC_HOUR, T);

			if (isfinite(a) && isfinite(b))
				buf[n++] = b - a;
		}
		sort_floats(buf, n);
		point[h - 1] = last;
		for (int k = 0; k < nq; k++)
			qh[k] = n ? clip01(last + quantile_sorted(buf, n, taus[k])) : last;
		monotone(qh, nq);
	}
	return WC_OK;
}

/*
 * ws[i] = the hub-height speed of hour t0 + i h (i < n, every hour <= T) in the freshest
 * NWP delivered by T that holds it, NaN when none: the forecast run with the latest
 * reference time available at T, however old, else the newest analysis (the order of
 * farm_series_nwp, without its bound on the walk back, which would leave only the last
 * days of the year with a speed). A row without wind is no forecast of its hour. One
 * pass over the rows of the runs that reach t0: oldest first, a newer run overwrites.
 */
static void history_speeds(const struct farm_series *s, int64_t T, int64_t t0, size_t n,
			   double *ws)
{
	size_t lo = s->nanalyses, hi = s->nruns;

	for (size_t i = 0; i < n; i++)
		ws[i] = NAN;
	if (T > s->upto)
		return;
	/* forecast runs that end before t0 (run_reach is monotone) give nothing; a series
	 * built without run_reach is walked whole */
	while (s->run_reach && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->run_reach[mid] < t0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t r = 0; r < s->nruns; r++) {
		const struct weather_row *row = s->rows + s->run_first[r];
		const struct weather_row *end = row + s->run_n[r];

		if (r >= s->nanalyses && r < lo)
			continue;
		/* ordered by reference time: the first one not yet delivered ends the pass */
		if (!nwp_run_available(s->runs[r].is_forecast, s->runs[r].ref_time, s->delay_s,
				       T))
			break;
		for (; row < end && row->valid_time <= T; row++) {
			int64_t d = row->valid_time - t0;
			double v = weather_row_speed(row);

			if (d >= 0 && d % UTC_HOUR == 0 && (size_t)(d / UTC_HOUR) < n &&
			    isfinite(v))
				ws[d / UTC_HOUR] = v;
		}
	}
}

static enum wc_status powercurve(const struct farm_series *s, int64_t T, int nlead,
				 const float *taus, int nq, const struct farm_curve *given,
				 float *point, float *q, struct baseline_info *info, float *buf,
				 struct wc_error *err)
{
	struct power_curve pc;
	size_t len = (size_t)HISTORY_DAYS * 24, n = 0;
	int64_t t0 = T - (int64_t)HISTORY_DAYS * UTC_DAY + UTC_HOUR;
	double *ws = malloc(len * sizeof(double));
	enum wc_status ret;
	bool any = false;

	if (!ws)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	/* (freshest NWP speed, observed power) of each hour of the year before T: the fit,
	 * or the given curve's residuals; compacted in place (n <= i) */
	history_speeds(s, T, t0, len, ws);
	for (size_t i = 0; i < len; i++) {
		float y = farm_series_obs(s, t0 + (int64_t)i * UTC_HOUR, T);

		if (!isfinite(y) || !isfinite(ws[i]))
			continue;
		ws[n] = ws[i];
		buf[n++] = y;
	}
	info->curve_given = given && given->n > 0;
	info->curve_pairs = n;
	if (info->curve_given) {
		power_curve_from_farm(&pc, given);
		ret = n >= POWER_CURVE_MIN_RESID ? power_curve_set_resid(&pc, ws, buf, n, err)
						 : WC_OK;
	} else if ((ret = power_curve_fit(&pc, ws, buf, n, err))) {
		wc_error_prefix(err, "farm '%s'", s->farm.id);
	}
	free(ws);
	if (ret)
		return ret;
	for (int h = 1; h <= nlead; h++) {
		size_t r;
		const struct weather_row *w =
			farm_series_nwp(s, T, T + (int64_t)h * UTC_HOUR, 0, &r);
		double p = w ? power_curve_eval(&pc, weather_row_speed(w)) : NAN;
		float *qh = q + (size_t)(h - 1) * nq;

		if (h == 1)
			info->run = w ? r : SIZE_MAX;
		point[h - 1] = isfinite(p) ? (float)p : NAN;
		for (int k = 0; k < nq; k++)
			qh[k] = isfinite(p) ? clip01(p + power_curve_resid(&pc, taus[k])) : NAN;
		if (isfinite(p)) {
			monotone(qh, nq);
			any = true;
		}
	}
	if (!any)
		return wc_error_set(err, WC_ENODATA,
				    "no NWP run available for farm '%s' at the issue time",
				    s->farm.id);
	return WC_OK;
}

enum wc_status baseline_forecast(enum baseline b, const struct farm_series *s, int64_t T,
				 int nlead, const float *taus, int nq,
				 const struct farm_curve *curve, float *point, float *q,
				 struct baseline_info *info, struct wc_error *err)
{
	float *buf = malloc(((size_t)HISTORY_DAYS * 24 + 1) * sizeof(float));
	struct baseline_info dummy;
	enum wc_status ret;

	T = utc_floor(T, UTC_HOUR);	/* hourly data: between hours, the hour before */
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	info->run = SIZE_MAX;
	if (!buf)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	switch (b) {
	case BASELINE_PERSISTENCE:
		ret = persistence(s, T, nlead, taus, nq, point, q, buf, err);
		break;
	case BASELINE_CLIMATOLOGY:
		ret = climatology(s, T, nlead, taus, nq, point, q, buf, err);
		break;
	case BASELINE_POWERCURVE:
		ret = powercurve(s, T, nlead, taus, nq, curve, point, q, info, buf, err);
		break;
	default:
		ret = wc_error_set(err, WC_EINVAL, "unknown baseline %d", (int)b);
	}
	free(buf);
	return ret;
}
