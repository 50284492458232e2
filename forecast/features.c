/* features.c - input rows of the forecaster; see features.h. Series: series.c. */
#include "forecast/features.h"

#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

#define DEG2RAD (3.14159265358979323846 / 180.0)
#define TWO_PI 6.28318530717958647692

void feature_config_init(struct feature_config *c)
{
	static const int lags[] = { 0, 1, 2, 3, 6 };

	memset(c, 0, sizeof(*c));
	c->delay_s = FEAT_DEFAULT_DELAY_S;
	c->max_lead = 48;
	c->nbr_hours = 3;
	c->n_lags = 5;
	memcpy(c->lags, lags, sizeof(lags));
	c->obs_max_lead = 12;	/* beyond, observed power only adds noise (GEFCom, demo) */
	c->prev_run = true;
	c->regional_obs = true;
	c->obs_gate = true;
}

void feature_config_format(const struct feature_config *c, char *buf, size_t len)
{
	size_t o;

	o = (size_t)snprintf(buf, len,
			     "delay_s=%lld max_lead=%d nbr_hours=%d obs_max_lead=%d prev_run=%d "
			     "nwp_only=%d regional_obs=%d%s%s%s lags=",
			     (long long)c->delay_s, c->max_lead, c->nbr_hours, c->obs_max_lead,
			     c->prev_run, c->nwp_only, c->regional_obs,
			     c->nbr_full ? " nbr_full=1" : "", c->no_doy ? " no_doy=1" : "",
			     c->obs_gate ? " obs_gate=1" : "");
	for (int i = 0; i < c->n_lags && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "," : "", c->lags[i]);
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, " regional=");
	for (int i = 0; i < c->n_regional && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", c->regional[i]);
	if (c->n_pool && o < len)
		o += (size_t)snprintf(buf + o, len - o, " pool=");
	for (int i = 0; i < c->n_pool && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", c->pool[i]);
}

/* Parse a comma-separated list of farm ids into ids (at most FEAT_MAX_REGIONAL). */
static enum wc_status parse_id_list(char *v, char ids[][FARM_ID_MAX + 1], int *n,
				    struct wc_error *err)
{
	char *save = NULL;

	*n = 0;
	for (char *id = strtok_r(v, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		if (*n == FEAT_MAX_REGIONAL || !farm_id_valid(id))
			return wc_error_set(err, WC_EFORMAT, "bad farm id '%s' in a list", id);
		snprintf(ids[(*n)++], FARM_ID_MAX + 1, "%s", id);
	}
	return WC_OK;
}

/* Parse a comma-separated list of ints into out (max n); -1 on error, else the count. */
static int parse_int_list(const char *s, int *out, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v > 10000 || n == max)
			return -1;
		out[n++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

enum wc_status feature_config_parse(const char *text, struct feature_config *c,
				    struct wc_error *err)
{
	char *copy = strdup(text), *save = NULL;
	enum wc_status ret = WC_OK;

	if (!copy)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	memset(c, 0, sizeof(*c));
	for (char *tok = strtok_r(copy, " ", &save); tok && !ret;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *v;

		if (!eq) {
			ret = wc_error_set(err, WC_EFORMAT, "bad feature config item '%s'", tok);
			break;
		}
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(tok, "delay_s"))
			c->delay_s = strtoll(v, NULL, 10);
		else if (!strcmp(tok, "max_lead"))
			c->max_lead = atoi(v);
		else if (!strcmp(tok, "nbr_hours"))
			c->nbr_hours = atoi(v);
		else if (!strcmp(tok, "obs_max_lead"))
			c->obs_max_lead = atoi(v);
		else if (!strcmp(tok, "prev_run"))
			c->prev_run = atoi(v) != 0;
		else if (!strcmp(tok, "nwp_only"))
			c->nwp_only = atoi(v) != 0;
		else if (!strcmp(tok, "regional_obs"))
			c->regional_obs = atoi(v) != 0;
		else if (!strcmp(tok, "nbr_full"))
			c->nbr_full = atoi(v) != 0;
		else if (!strcmp(tok, "no_doy"))
			c->no_doy = atoi(v) != 0;
		else if (!strcmp(tok, "obs_gate"))
			c->obs_gate = atoi(v) != 0;
		else if (!strcmp(tok, "lags")) {
			int n = parse_int_list(v, c->lags, FEAT_MAX_LAGS);

			if (n < 0)
				ret = wc_error_set(err, WC_EFORMAT, "bad lags '%s'", v);
			else
				c->n_lags = n;
		} else if (!strcmp(tok, "regional")) {
			ret = parse_id_list(v, c->regional, &c->n_regional, err);
		} else if (!strcmp(tok, "pool")) {
			ret = parse_id_list(v, c->pool, &c->n_pool, err);
		} else {
			ret = wc_error_set(err, WC_EFORMAT, "unknown feature config key '%s'", tok);
		}
	}
	if (!ret && (c->max_lead < 1 || c->max_lead > FEAT_MAX_LEAD || c->nbr_hours < 0 ||
		     c->nbr_hours > FEAT_MAX_NBR || c->delay_s < 0))
		ret = wc_error_set(err, WC_EFORMAT, "feature config out of range: '%s'", text);
	free(copy);
	return ret;
}

static double distance_km(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = lat1 * DEG2RAD, p2 = lat2 * DEG2RAD;
	double dp = p2 - p1, dl = (lon2 - lon1) * DEG2RAD;
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

	return 2 * 6371.0 * asin(sqrt(a < 1 ? a : 1));
}

struct farm_dist {
	const struct farm *f;
	double km;
};

static int cmp_dist(const void *a, const void *b)
{
	double x = ((const struct farm_dist *)a)->km, y = ((const struct farm_dist *)b)->km;

	return (x > y) - (x < y);
}

enum wc_status feature_config_set_regional(struct feature_config *cfg, struct store *st,
					   const char *target_id, const char *spec,
					   struct wc_error *err)
{
	struct farm *farms = NULL, target;
	struct farm_dist *d = NULL;
	size_t n = 0, nd = 0;
	double radius = INFINITY;
	enum wc_status ret;
	char *end;

	cfg->n_regional = 0;
	if (!spec || !strcmp(spec, "none") || !*spec)
		return WC_OK;
	if ((ret = store_farm_get(st, target_id, &target, err)) ||
	    (ret = store_farm_list(st, &farms, &n, err)))
		return ret;
	if (!(d = calloc(n ? n : 1, sizeof(*d)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (strcmp(spec, "all")) {
		double r = strtod(spec, &end);

		if (end != spec && (!strcmp(end, "km") || !*end)) {
			if (!(r > 0) || !isfinite(r)) {
				ret = wc_error_set(err, WC_EINVAL,
						   "invalid regional radius '%s': use e.g. 100km",
						   spec);
				goto cleanup;
			}
			radius = r;
		} else {
			/* an explicit list of farm ids, kept in the given order */
			char *copy = strdup(spec), *save = NULL;

			if (!copy) {
				ret = wc_error_set(err, WC_ENOMEM, "out of memory");
				goto cleanup;
			}
			for (char *id = strtok_r(copy, ",", &save); id && !ret;
			     id = strtok_r(NULL, ",", &save)) {
				struct farm g;

				if (!strcmp(id, target_id))
					continue;
				if (cfg->n_regional == FEAT_MAX_REGIONAL)
					ret = wc_error_set(err, WC_EINVAL,
							   "too many regional farms (at most %d)",
							   FEAT_MAX_REGIONAL);
				else if (!(ret = store_farm_get(st, id, &g, err)))
					snprintf(cfg->regional[cfg->n_regional++],
						 FARM_ID_MAX + 1, "%s", id);
				else if (ret == WC_ENOTFOUND)
					wc_error_prefix(err,
							"invalid regional farms '%s' (use none, "
							"all, <R>km or farm ids)",
							spec);
			}
			free(copy);
			goto cleanup;
		}
	}
	for (size_t i = 0; i < n; i++) {
		double km;

		if (!strcmp(farms[i].id, target_id))
			continue;
		km = distance_km(target.lat, target.lon, farms[i].lat, farms[i].lon);
		if (km <= radius)
			d[nd++] = (struct farm_dist){ &farms[i], km };
	}
	qsort(d, nd, sizeof(*d), cmp_dist);
	for (size_t i = 0; i < nd && cfg->n_regional < FEAT_MAX_REGIONAL; i++)
		snprintf(cfg->regional[cfg->n_regional++], FARM_ID_MAX + 1, "%s", d[i].f->id);
cleanup:
	if (ret)
		cfg->n_regional = 0;
	free(d);
	free(farms);
	return ret;
}

/* ---- a target farm and its regional farms ---- */

void farm_inputs_release(struct farm_inputs *in)
{
	farm_series_release(&in->target);
	for (int i = 0; i < in->nreg; i++)
		farm_series_release(&in->regional[i]);
	in->nreg = 0;
}

enum wc_status farm_inputs_load(struct farm_inputs *in, struct store *st, const char *farm_id,
				const struct feature_config *c, int64_t upto, int64_t from,
				int64_t to, struct wc_error *err)
{
	return farm_inputs_load_span(in, st, farm_id, c, upto, from, from, to, err);
}

enum wc_status farm_inputs_load_span(struct farm_inputs *in, struct store *st,
				     const char *farm_id, const struct feature_config *c,
				     int64_t upto, int64_t from, int64_t obs_from, int64_t to,
				     struct wc_error *err)
{
	enum wc_status ret;

	memset(in, 0, sizeof(*in));
	if ((ret = farm_series_load_span(st, farm_id, upto, c->delay_s, from, obs_from, to,
					 &in->target, err)))
		return ret;
	for (int i = 0; i < c->n_regional; i++) {
		if ((ret = farm_series_load_span(st, c->regional[i], upto, c->delay_s, from,
						 obs_from, to, &in->regional[i], err))) {
			wc_error_prefix(err, "regional farm");
			farm_inputs_release(in);
			return ret;
		}
		in->rp[i] = &in->regional[i];
		in->nreg = i + 1;
	}
	return WC_OK;
}

/* ---- rows ---- */

void features_release(struct features *f)
{
	if (f->names)
		for (int i = 0; i < f->n; i++)
			free(f->names[i]);
	free(f->names);
	memset(f, 0, sizeof(*f));
}

static enum wc_status add_name(struct features *f, int *cap, struct wc_error *err,
			       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum wc_status add_name(struct features *f, int *cap, struct wc_error *err,
			       const char *fmt, ...)
{
	va_list ap;
	char *name;

	if (f->n == *cap) {
		int ncap = *cap ? *cap * 2 : 64;
		char **nv = realloc(f->names, (size_t)ncap * sizeof(*nv));

		if (!nv)
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		f->names = nv;
		*cap = ncap;
	}
	va_start(ap, fmt);
	if (vasprintf(&name, fmt, ap) < 0)
		name = NULL;
	va_end(ap);
	if (!name)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	f->names[f->n++] = name;
	return WC_OK;
}

static const char *const calendar_names[] = { "hod_sin", "hod_cos", "doy_sin", "doy_cos" };

static const char *const nwp_names[] = {
	"ws_hub", "ws100", "ws10", "wd100_sin", "wd100_cos", "wd10_sin", "wd10_cos",
	"shear", "rho", "nbr_mean", "nbr_std",
};
#define N_NWP ((int)(sizeof(nwp_names) / sizeof(nwp_names[0])))

enum wc_status features_init(struct features *f, const struct feature_config *cfg,
			     const struct farm_series *target,
			     const struct farm_series *const *regional, struct wc_error *err)
{
	enum wc_status ret = WC_OK;
	int cap = 0;

	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	f->target = target;
	f->regional = regional;
	if (cfg->nbr_hours < 0 || cfg->nbr_hours > FEAT_MAX_NBR || cfg->n_lags < 0 ||
	    cfg->n_lags > FEAT_MAX_LAGS || cfg->n_regional < 0 ||
	    cfg->n_regional > FEAT_MAX_REGIONAL || cfg->n_pool < 0 ||
	    cfg->n_pool > FEAT_MAX_REGIONAL)
		return wc_error_set(err, WC_EINVAL, "feature config out of range");
	for (int i = 0; i < cfg->n_regional; i++)
		if (!regional || !regional[i] || strcmp(regional[i]->farm.id, cfg->regional[i]))
			return wc_error_set(err, WC_EINVAL, "regional farm '%s' is not loaded",
					    cfg->regional[i]);
	if (!cfg->nwp_only)
		ret = add_name(f, &cap, err, "lead_h");
	for (int i = 0; i < (cfg->no_doy ? 2 : 4) && !ret; i++)
		ret = add_name(f, &cap, err, "%s", calendar_names[i]);
	for (int i = 0; i < cfg->n_pool && !ret; i++)
		ret = add_name(f, &cap, err, "pool:%s", cfg->pool[i]);
	if (!cfg->nwp_only && !ret)
		ret = add_name(f, &cap, err, "nwp_lead_h");
	for (int i = 0; i < N_NWP && !ret; i++)
		ret = add_name(f, &cap, err, "%s", nwp_names[i]);
	for (int k = -cfg->nbr_hours; k <= cfg->nbr_hours && !ret; k++) {
		if (k == 0)
			continue;
		if (!(ret = add_name(f, &cap, err, "ws_hub@%+d", k)) &&
		    !(ret = add_name(f, &cap, err, "wd100_sin@%+d", k)))
			ret = add_name(f, &cap, err, "wd100_cos@%+d", k);
		if (cfg->nbr_full && !ret && !(ret = add_name(f, &cap, err, "ws10@%+d", k)))
			ret = add_name(f, &cap, err, "shear@%+d", k);
	}
	if (!cfg->nwp_only && cfg->prev_run && !ret &&
	    !(ret = add_name(f, &cap, err, "prev_ws_hub")) &&
	    !(ret = add_name(f, &cap, err, "prev_ws10")))
		ret = add_name(f, &cap, err, "prev2_ws_hub");
	/* the run's own forecast for the issue hour: against obs_lag0 it shows the NWP's
	 * current error, which the short leads inherit */
	if (!cfg->nwp_only && cfg->n_lags && !ret &&
	    !(ret = add_name(f, &cap, err, "ws_hub_at_T")))
		ret = add_name(f, &cap, err, "obs_now_decay");
	for (int i = 0; !cfg->nwp_only && i < cfg->n_lags && !ret; i++)
		ret = add_name(f, &cap, err, "obs_lag%d", cfg->lags[i]);
	for (int i = 0; i < cfg->n_regional && !ret; i++) {
		const char *id = cfg->regional[i];

		if (!(ret = add_name(f, &cap, err, "%s:ws_hub", id)) &&
		    !(ret = add_name(f, &cap, err, "%s:ws10", id)) &&
		    !(ret = add_name(f, &cap, err, "%s:wd100_sin", id)))
			ret = add_name(f, &cap, err, "%s:wd100_cos", id);
		if (!ret && cfg->regional_obs && !cfg->nwp_only)
			ret = add_name(f, &cap, err, "%s:obs_lag0", id);
	}
	if (ret)
		features_release(f);
	return ret;
}

static float fnan(void)
{
	return NAN;
}

static void dir_sincos(double wd, float *s, float *c)
{
	if (isfinite(wd)) {
		*s = (float)sin(wd * DEG2RAD);
		*c = (float)cos(wd * DEG2RAD);
	} else {
		*s = *c = fnan();
	}
}

static float f_or_nan(double v)
{
	return isfinite(v) ? (float)v : fnan();
}

/* The shear exponent between 10 m and 100 m, when both speeds exceed 0.5 m/s. */
static float shear_of(const struct weather_row *w)
{
	double ws10 = w->v[WX_WS10], ws100 = w->v[WX_WS100];

	return ws10 > 0.5 && ws100 > 0.5 ? (float)(log(ws100 / ws10) / log(10.0)) : fnan();
}

bool features_row(const struct features *f, int64_t T, int lead, float *x, size_t *run)
{
	const struct feature_config *c = &f->cfg;
	const struct farm_series *s = f->target;
	int64_t v = T + (int64_t)lead * UTC_HOUR;
	size_t r = SIZE_MAX;
	const struct weather_row *w = farm_series_nwp(s, T, v, 0, &r);
	int64_t y;
	int mo, d, h, mi, sec;
	double hod, doy;
	int k = 0;
	/* observed power beyond obs_max_lead: the lags always, with obs_gate every input
	 * that comes from it (and the NWP at T that is read against it) */
	bool lag_gated = c->obs_max_lead > 0 && lead > c->obs_max_lead;
	bool gated = lag_gated && c->obs_gate;

	utc_to_fields(v, &y, &mo, &d, &h, &mi, &sec);
	/* hour-ending label: the hour's middle is 30 min before v */
	hod = (h + mi / 60.0 - 0.5) / 24.0;
	doy = (double)(utc_days_from_civil(y, mo, d) - utc_days_from_civil(y, 1, 1)) / 365.25;
	if (!c->nwp_only)
		x[k++] = (float)lead;
	x[k++] = (float)sin(TWO_PI * hod);
	x[k++] = (float)cos(TWO_PI * hod);
	if (!c->no_doy) {
		x[k++] = (float)sin(TWO_PI * doy);
		x[k++] = (float)cos(TWO_PI * doy);
	}
	for (int i = 0; i < c->n_pool; i++)
		x[k++] = strcmp(s->farm.id, c->pool[i]) ? 0.0f : 1.0f;
	if (!c->nwp_only)
		x[k++] = w && s->runs[r].is_forecast
				 ? (float)((double)(v - s->runs[r].ref_time) / UTC_HOUR)
				 : fnan();
	if (w) {
		double ws10 = w->v[WX_WS10], ws100 = w->v[WX_WS100];

		x[k++] = f_or_nan(weather_row_speed(w));
		x[k++] = f_or_nan(ws100);
		x[k++] = f_or_nan(ws10);
		dir_sincos(w->v[WX_WD100], &x[k], &x[k + 1]);
		dir_sincos(w->v[WX_WD10], &x[k + 2], &x[k + 3]);
		k += 4;
		x[k++] = shear_of(w);
		x[k++] = f_or_nan(w->v[WX_RHO]);
		x[k++] = f_or_nan(w->v[WX_WS100_NBR_MEAN]);
		x[k++] = f_or_nan(w->v[WX_WS100_NBR_STD]);
	} else {
		for (int i = 0; i < N_NWP; i++)
			x[k++] = fnan();
	}
	for (int j = -c->nbr_hours; j <= c->nbr_hours; j++) {
		const struct weather_row *wn = NULL;

		if (j == 0)
			continue;
		/* the same run as the target hour: neighbours never mix runs */
		if (w)
			wn = farm_series_run_row(s, r, v + (int64_t)j * UTC_HOUR);
		x[k++] = wn ? f_or_nan(weather_row_speed(wn)) : fnan();
		if (wn)
			dir_sincos(wn->v[WX_WD100], &x[k], &x[k + 1]);
		else
			x[k] = x[k + 1] = fnan();
		k += 2;
		if (c->nbr_full) {
			x[k++] = wn ? f_or_nan(wn->v[WX_WS10]) : fnan();
			x[k++] = wn ? shear_of(wn) : fnan();
		}
	}
	if (!c->nwp_only && c->prev_run) {
		const struct weather_row *wp = w ? farm_series_nwp(s, T, v, 1, NULL) : NULL;

		const struct weather_row *wp2 = wp ? farm_series_nwp(s, T, v, 2, NULL) : NULL;

		x[k++] = wp ? f_or_nan(weather_row_speed(wp)) : fnan();
		x[k++] = wp ? f_or_nan(wp->v[WX_WS10]) : fnan();
		x[k++] = wp2 ? f_or_nan(weather_row_speed(wp2)) : fnan();
	}
	if (!c->nwp_only && c->n_lags) {
		int64_t t0 = utc_floor(T, UTC_HOUR);
		const struct weather_row *wt = w && !gated ? farm_series_run_row(s, r, t0) : NULL;

		/* a run without lead 0 (GEFCom2012's start at 1 h), or with the issue hour
		 * masked: the newest available run that has the issue hour */
		if (w && !gated && !(wt && isfinite(weather_row_speed(wt))))
			wt = farm_series_nwp(s, T, t0, 0, NULL);
		x[k++] = wt ? f_or_nan(weather_row_speed(wt)) : fnan();
		/* the last observation, fading with lead: persistence as one linear input */
		x[k++] = gated ? fnan() : farm_series_obs(s, t0, T) * (float)exp(-lead / 4.0);
	}
	for (int i = 0; !c->nwp_only && i < c->n_lags; i++)
		x[k++] = lag_gated ? fnan()
				   : farm_series_obs(s, T - (int64_t)c->lags[i] * UTC_HOUR, T);
	for (int i = 0; i < c->n_regional; i++) {
		const struct farm_series *g = f->regional[i];
		const struct weather_row *wg = farm_series_nwp(g, T, v, 0, NULL);

		x[k++] = wg ? f_or_nan(weather_row_speed(wg)) : fnan();
		x[k++] = wg ? f_or_nan(wg->v[WX_WS10]) : fnan();
		if (wg)
			dir_sincos(wg->v[WX_WD100], &x[k], &x[k + 1]);
		else
			x[k] = x[k + 1] = fnan();
		k += 2;
		if (c->regional_obs && !c->nwp_only)
			x[k++] = gated ? fnan() : farm_series_obs(g, T, T);
	}
	if (run)
		*run = w ? r : SIZE_MAX;
	return w != NULL;
}
