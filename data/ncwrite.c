/*
 * ncwrite.c - a forecast as a CF-1.8 NetCDF file; see ncwrite.h.
 *
 * netCDF-3 classic keeps the bytes a function of the content alone (no HDF5 object
 * times, no history attribute), which the batch's byte-identical re-runs rely on.
 */
#include "data/ncwrite.h"

#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"

#define TIME_UNITS "seconds since 1970-01-01 00:00:00"

/* Map a netcdf-c status into err, naming the file and what was being done. */
static enum wc_status nc_fail(struct wc_error *err, int rc, const char *path, const char *what)
{
	return wc_error_set(err, WC_ENETCDF, "cannot write '%s': %s: %s", path, what,
			    nc_strerror(rc));
}

static int put_text(int nc, int var, const char *name, const char *value)
{
	return nc_put_att_text(nc, var, name, strlen(value), value);
}

/* Text attributes of variable `var`, in pairs, ended by NULL; the first failure. */
static int put_texts(int nc, int var, const char *const *kv)
{
	int rc = NC_NOERR;

	for (; !rc && kv[0]; kv += 2)
		rc = put_text(nc, var, kv[0], kv[1]);
	return rc;
}

static enum wc_status check(const struct ncw_forecast *f, struct wc_error *err)
{
	if (f->nlead < 1 || f->nlead > NCWRITE_MAX_LEADS)
		return wc_error_set(err, WC_EINVAL, "invalid forecast: %d leads (use 1..%d)",
				    f->nlead, NCWRITE_MAX_LEADS);
	if (f->nq < 1 || f->nq > NCWRITE_MAX_QUANTILES)
		return wc_error_set(err, WC_EINVAL, "invalid forecast: %d quantiles (use 1..%d)",
				    f->nq, NCWRITE_MAX_QUANTILES);
	if (!f->farm_id || !f->farm_id[0] || !f->model || !f->valid || !f->levels ||
	    !f->point_mw || !f->q_mw)
		return wc_error_set(err, WC_EINVAL, "invalid forecast: missing fields");
	if (f->portfolio && (f->nmembers < 1 || f->nmembers > NCWRITE_MAX_MEMBERS || !f->members))
		return wc_error_set(err, WC_EINVAL, "invalid forecast: a portfolio of %d farms "
						    "(use 1..%d)",
				    f->nmembers, NCWRITE_MAX_MEMBERS);
	for (int k = 0; k < f->nq; k++)
		if (!(f->levels[k] > 0 && f->levels[k] < 1) ||
		    (k && !(f->levels[k] > f->levels[k - 1])))
			return wc_error_set(err, WC_EINVAL,
					    "invalid forecast: quantile levels must increase "
					    "within (0, 1)");
	return WC_OK;
}

/* An NWP run as the attributes name it: ISO 8601, "analysis" or "none". */
static const char *run_text(bool has_run, bool is_forecast, int64_t ref_time, char *buf)
{
	if (!has_run)
		return strcpy(buf, "none");
	if (!is_forecast)
		return strcpy(buf, "analysis");
	return utc_format(ref_time, buf);
}

/*
 * A portfolio's farms: their ids, models and runs as space-separated lists, their
 * versions and capacities as arrays.
 */
static int put_members(int nc, const struct ncw_forecast *f)
{
	size_t n = (size_t)f->nmembers, cap = n * (UTC_ISO_LEN + 80) + 1;
	char *ids = malloc(cap), *models = malloc(cap), *runs = malloc(cap), t[UTC_ISO_LEN];
	int *versions = malloc(n * sizeof(*versions));
	double *capacity = malloc(n * sizeof(*capacity));
	size_t li = 0, lm = 0, lr = 0;
	int rc = NC_ENOMEM;

	if (!ids || !models || !runs || !versions || !capacity)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct ncw_member *m = &f->members[i];
		const char *sep = i ? " " : "";

		li += (size_t)snprintf(ids + li, cap - li, "%s%s", sep, m->id);
		lm += (size_t)snprintf(models + lm, cap - lm, "%s%s", sep, m->model);
		lr += (size_t)snprintf(runs + lr, cap - lr, "%s%s", sep,
				       run_text(m->has_run, m->run_is_forecast, m->run_ref_time, t));
		versions[i] = m->model_version;
		capacity[i] = m->capacity_mw;
		if (li >= cap || lm >= cap || lr >= cap) {
			rc = NC_EINVAL;	/* an id or model longer than farm.h allows */
			goto cleanup;
		}
	}
	if (!(rc = put_text(nc, NC_GLOBAL, "portfolio_farms", ids)) &&
	    !(rc = put_text(nc, NC_GLOBAL, "farm_models", models)) &&
	    !(rc = nc_put_att_int(nc, NC_GLOBAL, "farm_model_versions", NC_INT, n, versions)) &&
	    !(rc = nc_put_att_double(nc, NC_GLOBAL, "farm_capacity_mw", NC_DOUBLE, n, capacity)))
		rc = put_text(nc, NC_GLOBAL, "farm_nwp_run_reference_times", runs);
cleanup:
	free(ids);
	free(models);
	free(runs);
	free(versions);
	free(capacity);
	return rc;
}

/* The global attributes. */
static int put_globals(int nc, const struct ncw_forecast *f)
{
	const char *subject = f->portfolio ? "portfolio" : "farm";
	char title[256], issued[UTC_ISO_LEN], ref[UTC_ISO_LEN], id_key[32], name_key[32];
	char cap_key[32];
	int rc;

	snprintf(title, sizeof(title), "wind power forecast of %s '%s'", subject, f->farm_id);
	snprintf(id_key, sizeof(id_key), "%s_id", subject);
	snprintf(name_key, sizeof(name_key), "%s_name", subject);
	snprintf(cap_key, sizeof(cap_key), "%s_capacity_mw", subject);
	utc_format(f->issued, issued);
	run_text(f->has_run, f->run_is_forecast, f->run_ref_time, ref);
	{
		const char *const kv[] = {
			"Conventions", "CF-1.8",
			"title", title,
			"institution", "windcast",
			"source", f->source ? f->source : "windcast",
			"comment", f->portfolio ? "hourly summed power of a portfolio of wind "
						  "farms; each value is the mean over the hour "
						  "ending at its valid time"
						: "hourly power of a wind farm; each value is the "
						  "mean over the hour ending at its valid time",
			id_key, f->farm_id,
			name_key, f->farm_name ? f->farm_name : f->farm_id,
			"model", f->model,
			"issued", issued,
			"issued_reason", f->issued_reason ? f->issued_reason : "",
			"nwp_run_reference_time", ref,
			"nwp_run_source", f->has_run && f->run_source ? f->run_source : "",
			NULL,
		};

		if ((rc = put_texts(nc, NC_GLOBAL, kv)))
			return rc;
	}
	if ((rc = nc_put_att_double(nc, NC_GLOBAL, cap_key, NC_DOUBLE, 1, &f->capacity_mw)) ||
	    (rc = nc_put_att_int(nc, NC_GLOBAL, "model_version", NC_INT, 1, &f->model_version)))
		return rc;
	if (f->model_choice && f->model_choice[0] &&
	    (rc = put_text(nc, NC_GLOBAL, "model_choice", f->model_choice)))
		return rc;
	if (f->fallback && f->fallback[0] && (rc = put_text(nc, NC_GLOBAL, "fallback", f->fallback)))
		return rc;
	if (f->note && f->note[0] && (rc = put_text(nc, NC_GLOBAL, "note", f->note)))
		return rc;
	return f->portfolio ? put_members(nc, f) : NC_NOERR;
}

enum wc_status ncwrite_forecast(const char *path, const struct ncw_forecast *f,
				struct wc_error *err)
{
	enum wc_status ret;
	int nc = -1, rc = NC_NOERR, dlead, dq, dims[2];
	int vref, vperiod, vtime, vq, vlat = -1, vlon = -1, vpoint, vpq;
	bool site = !isnan(f->lat) && !isnan(f->lon);
	const char *coords = site ? "forecast_reference_time time forecast_period latitude "
				    "longitude"
				  : "forecast_reference_time time forecast_period";
	double ref, *period = NULL, *valid = NULL;
	const char *what = "define";

	if ((ret = check(f, err)))
		return ret;
	period = malloc((size_t)f->nlead * sizeof(*period));
	valid = malloc((size_t)f->nlead * sizeof(*valid));
	if (!period || !valid) {
		ret = wc_error_set(err, WC_ENOMEM, "cannot write '%s': out of memory", path);
		goto cleanup;
	}
	for (int i = 0; i < f->nlead; i++) {
		valid[i] = (double)f->valid[i];
		period[i] = (double)(f->valid[i] - f->issued) / UTC_HOUR;
	}
	ref = (double)f->issued;

	if ((rc = nc_create(path, NC_CLOBBER, &nc))) {
		nc = -1;
		what = "create";
		goto cleanup;
	}
	if ((rc = nc_def_dim(nc, "lead", (size_t)f->nlead, &dlead)) ||
	    (rc = nc_def_dim(nc, "quantile", (size_t)f->nq, &dq)))
		goto cleanup;
	dims[0] = dlead;
	dims[1] = dq;
	if ((rc = nc_def_var(nc, "forecast_reference_time", NC_DOUBLE, 0, NULL, &vref)) ||
	    (rc = nc_def_var(nc, "forecast_period", NC_DOUBLE, 1, &dlead, &vperiod)) ||
	    (rc = nc_def_var(nc, "time", NC_DOUBLE, 1, &dlead, &vtime)) ||
	    (rc = nc_def_var(nc, "quantile", NC_DOUBLE, 1, &dq, &vq)) ||
	    (site && (rc = nc_def_var(nc, "latitude", NC_DOUBLE, 0, NULL, &vlat))) ||
	    (site && (rc = nc_def_var(nc, "longitude", NC_DOUBLE, 0, NULL, &vlon))) ||
	    (rc = nc_def_var(nc, "power", NC_DOUBLE, 1, &dlead, &vpoint)) ||
	    (rc = nc_def_var(nc, "power_quantile", NC_DOUBLE, 2, dims, &vpq)))
		goto cleanup;
	{
		const char *const aref[] = { "standard_name", "forecast_reference_time",
					     "long_name", "issue time of the forecast", "units",
					     TIME_UNITS, "calendar", "standard", NULL };
		const char *const aperiod[] = { "standard_name", "forecast_period", "long_name",
						"lead time: valid time minus issue time", "units",
						"hours", NULL };
		const char *const atime[] = { "standard_name", "time", "long_name",
					      "valid time: end of the hour the value covers",
					      "units", TIME_UNITS, "calendar", "standard", "axis",
					      "T", NULL };
		const char *const aq[] = { "long_name", "quantile level: probability that the "
							"power does not exceed the quantile",
					   "units", "1", NULL };
		const char *const alat[] = { "standard_name", "latitude", "long_name",
					     "latitude of the farm", "units", "degrees_north", NULL };
		const char *const alon[] = { "standard_name", "longitude", "long_name",
					     "longitude of the farm", "units", "degrees_east", NULL };
		const char *const apoint[] = { "long_name", f->portfolio
								    ? "summed power output of the "
								      "portfolio's wind farms, point "
								      "forecast"
								    : "wind farm power output, point "
								      "forecast",
					       "units", "MW", "cell_methods", "time: mean",
					       "coordinates", coords, NULL };
		const char *const apq[] = { "long_name", f->portfolio
								 ? "summed power output of the "
								   "portfolio's wind farms, quantile "
								   "of the forecast distribution"
								 : "wind farm power output, quantile "
								   "of the forecast distribution",
					    "units", "MW", "cell_methods", "time: mean",
					    "coordinates", coords, NULL };
		double range[2] = { 0, f->capacity_mw };

		if ((rc = put_texts(nc, vref, aref)) || (rc = put_texts(nc, vperiod, aperiod)) ||
		    (rc = put_texts(nc, vtime, atime)) || (rc = put_texts(nc, vq, aq)) ||
		    (site && (rc = put_texts(nc, vlat, alat))) ||
		    (site && (rc = put_texts(nc, vlon, alon))) ||
		    (rc = put_texts(nc, vpoint, apoint)) || (rc = put_texts(nc, vpq, apq)) ||
		    (rc = nc_put_att_double(nc, vpoint, "valid_range", NC_DOUBLE, 2, range)) ||
		    (rc = nc_put_att_double(nc, vpq, "valid_range", NC_DOUBLE, 2, range)))
			goto cleanup;
	}
	if ((rc = put_globals(nc, f)))
		goto cleanup;
	what = "write";
	/* every value is written, so fill values would only cost a second pass */
	if ((rc = nc_set_fill(nc, NC_NOFILL, NULL)) || (rc = nc_enddef(nc)) ||
	    (rc = nc_put_var_double(nc, vref, &ref)) ||
	    (rc = nc_put_var_double(nc, vperiod, period)) ||
	    (rc = nc_put_var_double(nc, vtime, valid)) ||
	    (rc = nc_put_var_double(nc, vq, f->levels)) ||
	    (site && (rc = nc_put_var_double(nc, vlat, &f->lat))) ||
	    (site && (rc = nc_put_var_double(nc, vlon, &f->lon))) ||
	    (rc = nc_put_var_double(nc, vpoint, f->point_mw)) ||
	    (rc = nc_put_var_double(nc, vpq, f->q_mw)))
		goto cleanup;
	what = "close";
	rc = nc_close(nc);
	nc = -1;
	if (rc)
		goto cleanup;
cleanup:
	if (rc)
		ret = nc_fail(err, rc, path, what);
	if (nc >= 0)
		nc_close(nc);
	free(period);
	free(valid);
	return ret;
}
