/*
 * ncwrite.h - a farm's (or a portfolio's) forecast as a CF-1.8 NetCDF file, for the
 * systems downstream of the nightly batch.
 *
 * The file is netCDF-3 classic (readable by every netCDF library, ncdump -h, xarray,
 * netCDF4-python), written without a history attribute or any other wall-clock time, so
 * that the same forecast gives the same bytes. Its layout (docs/operations.md shows an
 * ncdump -h):
 *
 *   dimensions: lead = H ; quantile = Q ;
 *   double forecast_reference_time       standard_name forecast_reference_time (the
 *                                        issue time), seconds since 1970-01-01
 *   double forecast_period(lead)         standard_name forecast_period, hours
 *   double time(lead)                    standard_name time: the valid time, the END of
 *                                        the hour the value covers (hour-ending)
 *   double quantile(quantile)            the quantile levels, in (0, 1)
 *   double latitude, longitude           the site, scalars
 *   double power(lead)                   the point forecast, MW
 *   double power_quantile(lead, quantile) the quantiles, MW
 *
 * and global attributes: Conventions "CF-1.8", title, source (windcast and its version),
 * farm_id, farm_name, farm_capacity_mw, model, model_version (0 for a baseline),
 * model_choice, issued (ISO 8601), issued_reason, nwp_run_reference_time (ISO 8601, or
 * "analysis", or "none"), nwp_run_source, and fallback / note when the forecast has them.
 * Doubles hold the values exactly as the JSON reply rounds them.
 *
 * A portfolio's file (ncw_forecast.portfolio) has the same dimensions and variables (no
 * latitude/longitude; power is the farms' sum) and names the portfolio with
 * portfolio_id, portfolio_name and portfolio_capacity_mw instead of farm_*; its farms,
 * in the portfolio's order, in portfolio_farms (ids separated by spaces), farm_models
 * (names, spaces), farm_model_versions (ints, 0 for a baseline), farm_capacity_mw
 * (doubles) and farm_nwp_run_reference_times (as nwp_run_reference_time, spaces).
 *
 * Not thread-safe: netcdf-c is not. The nightly batch calls it from one thread;
 * NEEDSWORK: share data/ingest.c's netCDF lock before calling this from server threads.
 */
#ifndef WC_NCWRITE_H
#define WC_NCWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

#define NCWRITE_MAX_LEADS 10000
#define NCWRITE_MAX_QUANTILES 1000
#define NCWRITE_MAX_MEMBERS 1000

/* One farm of a portfolio's forecast. Pointers borrowed for the call. */
struct ncw_member {
	const char *id, *model;
	int model_version;			/* 0 for a baseline */
	double capacity_mw;
	bool has_run, run_is_forecast;
	int64_t run_ref_time;
};

/* One forecast to write. Every pointer is borrowed for the call; text may be NULL. */
struct ncw_forecast {
	const char *farm_id, *farm_name;
	double capacity_mw, lat, lon;		/* lat/lon NaN: not written */
	const char *source;			/* "windcast 0.1.0" */
	int64_t issued;				/* UTC seconds */
	const char *issued_reason;
	const char *model;			/* "nn", "persistence", ... */
	int model_version;			/* 0 for a baseline */
	const char *model_choice, *fallback, *note;
	bool has_run, run_is_forecast;
	int64_t run_ref_time;
	const char *run_source;
	int nlead, nq;				/* 1..NCWRITE_MAX_LEADS, 1..NCWRITE_MAX_QUANTILES */
	const int64_t *valid;			/* (nlead) hour-ending valid times */
	const double *levels;			/* (nq) increasing, in (0, 1) */
	const double *point_mw;			/* (nlead) */
	const double *q_mw;			/* (nlead, nq) */
	bool portfolio;				/* farm_id, farm_name, capacity_mw name a
						 * portfolio; lat/lon NaN */
	int nmembers;				/* a portfolio's farms, 1..NCWRITE_MAX_MEMBERS */
	const struct ncw_member *members;	/* (nmembers) */
};

/*
 * Write f to `path` (created or replaced; the caller makes it appear atomically). On
 * failure the file may be partial: the caller removes it. WC_EINVAL for a forecast out
 * of the ranges above, WC_ENETCDF with netcdf-c's message naming the path otherwise.
 */
enum wc_status ncwrite_forecast(const char *path, const struct ncw_forecast *f,
				struct wc_error *err);

#endif
