/*
 * series.c - a farm's weather and observations in memory and the availability rule; see
 * series.h.
 *
 * Limits: hourly valid times are assumed for the fast row lookup (any spacing works, it
 * only falls back to a binary search); a lookup walks back over at most MAX_RUN_WALK
 * runs that had not ended before its valid time.
 */
#include "forecast/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

#define MAX_RUN_WALK 16

bool nwp_run_available(bool is_forecast, int64_t ref_time, int64_t delay_s, int64_t T)
{
	if (!is_forecast)
		return true;
	/* ref_time + delay <= T, without overflow */
	return ref_time <= T - delay_s;
}

bool obs_available(int64_t t, int64_t T)
{
	return t <= T;
}

void farm_series_release(struct farm_series *s)
{
	free(s->rows);
	free(s->row_run);
	free(s->runs);
	free(s->run_first);
	free(s->run_n);
	free(s->run_reach);
	free(s->obs);
	memset(s, 0, sizeof(*s));
}

void farm_series_hide_obs(struct farm_series *s, const int64_t (*iv)[2], size_t n)
{
	int64_t t1 = s->obs_t0 + (int64_t)s->nobs * UTC_HOUR;	/* one past the last */

	for (size_t i = 0; i < n && s->nobs; i++) {
		int64_t a = iv[i][0] > s->obs_t0 ? iv[i][0] : s->obs_t0;
		int64_t b = iv[i][1] < t1 - UTC_HOUR ? iv[i][1] : t1 - UTC_HOUR;

		/* the first hour at or after a, as an index */
		for (int64_t k = (a - s->obs_t0 + UTC_HOUR - 1) / UTC_HOUR;
		     a <= b && s->obs_t0 + k * UTC_HOUR <= b; k++)
			s->obs[k] = NAN;
	}
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	return a - b;
}

enum wc_status farm_series_load(struct store *st, const char *farm_id, int64_t upto,
				int64_t delay_s, int64_t from, int64_t to,
				struct farm_series *s, struct wc_error *err)
{
	return farm_series_load_span(st, farm_id, upto, delay_s, from, from, to, s, err);
}

enum wc_status farm_series_load_span(struct store *st, const char *farm_id, int64_t upto,
				     int64_t delay_s, int64_t from, int64_t obs_from, int64_t to,
				     struct farm_series *s, struct wc_error *err)
{
	struct obs_row *obs = NULL;
	size_t nobs = 0;
	enum wc_status ret;
	int64_t obs_to = to < upto ? to : upto;

	memset(s, 0, sizeof(*s));
	s->upto = upto;
	s->delay_s = delay_s;
	if ((ret = store_farm_get(st, farm_id, &s->farm, err)))
		return ret;
	/* the availability rule's bounds go into the queries themselves */
	if ((ret = store_weather_until(st, farm_id, sat_sub(upto, delay_s), from, to, &s->rows,
				       &s->row_run, &s->nrows, &s->runs, &s->nruns, err)) ||
	    (ret = store_farm_forecast_runs(st, farm_id, sat_sub(upto, delay_s),
					    &s->forecast_runs, err)) ||
	    (ret = store_obs_query(st, farm_id, obs_from, obs_to, &obs, &nobs, err)))
		goto cleanup;
	s->run_first = calloc(s->nruns ? s->nruns : 1, sizeof(size_t));
	s->run_n = calloc(s->nruns ? s->nruns : 1, sizeof(size_t));
	s->run_reach = malloc((s->nruns ? s->nruns : 1) * sizeof(int64_t));
	if (!s->run_first || !s->run_n || !s->run_reach) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < s->nrows; i++) {
		uint32_t r = s->row_run[i];

		if (s->run_n[r]++ == 0)
			s->run_first[r] = i;
	}
	while (s->nanalyses < s->nruns && !s->runs[s->nanalyses].is_forecast)
		s->nanalyses++;
	for (size_t r = s->nanalyses; r < s->nruns; r++) {
		int64_t last = s->run_n[r] ? s->rows[s->run_first[r] + s->run_n[r] - 1].valid_time
					   : INT64_MIN;
		int64_t before = r > s->nanalyses ? s->run_reach[r - 1] : INT64_MIN;

		s->run_reach[r] = last > before ? last : before;
	}
	if (nobs) {
		int64_t t0 = utc_floor(obs[0].time, UTC_HOUR);
		int64_t t1 = utc_floor(obs[nobs - 1].time, UTC_HOUR);
		size_t len = (size_t)((t1 - t0) / UTC_HOUR) + 1;

		if (len > 100u * 366 * 24) {
			ret = wc_error_set(err, WC_ETOOLARGE,
					   "observations of farm '%s' span more than 100 years",
					   farm_id);
			goto cleanup;
		}
		if (!(s->obs = malloc(len * sizeof(float)))) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		for (size_t i = 0; i < len; i++)
			s->obs[i] = NAN;
		s->obs_t0 = t0;
		s->nobs = len;
		for (size_t i = 0; i < nobs; i++) {
			size_t k = (size_t)((utc_floor(obs[i].time, UTC_HOUR) - t0) / UTC_HOUR);

			if (obs[i].flag == OBS_OK && obs[i].time % UTC_HOUR == 0)
				s->obs[k] = (float)(obs[i].power_mw / s->farm.capacity_mw);
		}
	}
cleanup:
	free(obs);
	if (ret)
		farm_series_release(s);
	return ret;
}

const struct weather_row *farm_series_run_row(const struct farm_series *s, size_t r,
					      int64_t v)
{
	const struct weather_row *rows = s->rows + s->run_first[r];
	size_t n = s->run_n[r], lo = 0, hi;
	int64_t guess;

	if (n == 0 || v < rows[0].valid_time || v > rows[n - 1].valid_time)
		return NULL;
	guess = (v - rows[0].valid_time) / UTC_HOUR;
	if (guess < (int64_t)n && rows[guess].valid_time == v)
		return &rows[guess];
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].valid_time < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && rows[lo].valid_time == v ? &rows[lo] : NULL;
}

static bool has_wind(const struct weather_row *r)
{
	return isfinite(weather_row_speed(r));
}

const struct weather_row *farm_series_nwp(const struct farm_series *s, int64_t T,
					  int64_t v, int skip, size_t *run)
{
	size_t lo = s->nanalyses, hi = s->nruns;
	int walked = 0;

	if (run)
		*run = SIZE_MAX;
	if (T > s->upto)
		return NULL;
	/* first forecast run NOT available at T (availability is monotone in ref_time) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (nwp_run_available(true, s->runs[mid].ref_time, s->delay_s, T))
			lo = mid + 1;
		else
			hi = mid;
	}
	/*
	 * A run that ended before v (its last valid time, or its rows, say so) does not
	 * count towards the walk's bound: whether such a run is loaded depends on the
	 * window, which must not change the answer. The runs' reach ends the walk where
	 * no older run has a row as late as v.
	 */
	for (size_t r = lo; r > s->nanalyses && walked < MAX_RUN_WALK;) {
		const struct weather_row *row;

		r--;
		if (s->run_reach && s->run_reach[r] < v)
			break;
		if (!nwp_run_available(true, s->runs[r].ref_time, s->delay_s, T))
			continue;	/* cannot happen; the rule is checked on every use */
		row = farm_series_run_row(s, r, v);
		if (row || s->runs[r].last_valid >= v)
			walked++;
		/* a row without wind (masked, or NA in the source) is no forecast of v: the
		 * run before it may have one */
		if (row && has_wind(row) && skip-- == 0) {
			if (run)
				*run = r;
			return row;
		}
	}
	if (skip > 0)
		return NULL;
	for (size_t r = s->nanalyses; r-- > 0;) {
		const struct weather_row *row = farm_series_run_row(s, r, v);

		if (row && has_wind(row)) {
			if (run)
				*run = r;
			return row;
		}
	}
	return NULL;
}

float farm_series_obs(const struct farm_series *s, int64_t t, int64_t T)
{
	int64_t k;

	if (!obs_available(t, T) || !s->nobs || t % UTC_HOUR)
		return NAN;
	k = (t - s->obs_t0) / UTC_HOUR;
	if (t < s->obs_t0 || k >= (int64_t)s->nobs)
		return NAN;
	return s->obs[k];
}

double weather_row_speed(const struct weather_row *r)
{
	if (isfinite(r->v[WX_WS_HUB]))
		return r->v[WX_WS_HUB];
	if (isfinite(r->v[WX_WS100]))
		return r->v[WX_WS100];
	return r->v[WX_WS10];
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

enum wc_status farm_series_issue_times(const struct farm_series *s, int64_t from, int64_t to,
				       int64_t every, int64_t **out, size_t *n,
				       struct wc_error *err)
{
	int64_t *v = NULL;
	size_t len = 0, cap = 0;
	size_t nfc = s->nruns - s->nanalyses;
	int64_t lo = from, hi = to;

	*out = NULL;
	*n = 0;
	if (every <= 0 && nfc == 0) {
		every = UTC_DAY;
		if (s->nrows) {
			lo = lo > s->rows[0].valid_time ? lo : s->rows[0].valid_time;
			hi = hi < s->upto ? hi : s->upto;
		}
	}
	if (every > 0) {
		if (lo == INT64_MIN || hi == INT64_MAX) {
			if (!s->nobs)
				return WC_OK;
			if (lo == INT64_MIN)
				lo = s->obs_t0;
			if (hi == INT64_MAX)
				hi = s->obs_t0 + (int64_t)s->nobs * UTC_HOUR;
		}
		lo = utc_floor(lo + UTC_HOUR - 1, UTC_HOUR);
		for (int64_t t = lo; t <= hi && t <= s->upto; t += every) {
			if (len == cap) {
				int64_t *nv;

				cap = cap ? cap * 2 : 1024;
				if (!(nv = realloc(v, cap * sizeof(*v)))) {
					free(v);
					return wc_error_set(err, WC_ENOMEM, "out of memory");
				}
				v = nv;
			}
			v[len++] = t;
		}
	} else {
		if (!(v = malloc(nfc * sizeof(*v))))
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		for (size_t r = s->nanalyses; r < s->nruns; r++) {
			/* rows are hourly: a run delivered between hours serves from the next */
			int64_t t = utc_floor(s->runs[r].ref_time + s->delay_s + UTC_HOUR - 1,
					      UTC_HOUR);

			if (t >= from && t <= to && t <= s->upto &&
			    (len == 0 || v[len - 1] != t))
				v[len++] = t;
		}
		qsort(v, len, sizeof(*v), cmp_i64);
	}
	*out = v;
	*n = len;
	return WC_OK;
}
