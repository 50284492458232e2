/*
 * sites.h - NWP values at wind-farm sites (DESIGN.md 2, 6).
 *
 * sites_extract() takes an open struct nwp_file and the registered farms and returns,
 * for every farm inside the domain and every valid time of the file, a fixed set of
 * columns (enum site_column). On grids the value at a site is the bilinear
 * interpolation of the four surrounding cells (nearest along a dimension only one point
 * wide); when some corners are missing the weights are renormalised over the valid ones.
 * u and v are interpolated separately after grid-relative components have been rotated
 * to earth-relative at every cell; speed and direction come from the interpolated u/v.
 * The neighbourhood summary is the mean and (population) standard deviation of the wind
 * speed over the 3x3 cells centred on the cell nearest the site, at the file's height
 * nearest 100 m (in log height). Point files (one series per station) are matched to
 * farms by id first, then by the nearest station within max_station_km.
 *
 * Heights: a column at 10 or 100 m is read when the file has exactly that height.
 * Otherwise it is extrapolated from the nearest height h with a power law
 * ws(z) = ws(h) * (z/h)^alpha, where alpha comes from the two heights nearest z when the
 * file has two or more (alpha = ln(ws2/ws1)/ln(h2/h1), or 1/7 if a speed is below
 * 0.1 m/s), and alpha = 1/7 with one height; u/v are scaled with the speed (direction
 * kept) and the column's bit is set in site_series.derived. The hub-height speed uses
 * the same rule at the farm's hub height. Air density = sp / (287.05 * t2m) at 2 m.
 * Direction is meteorological: where the wind comes FROM, degrees clockwise from north,
 * NaN for a calm (u = v = 0).
 *
 * Reading: one nwp_file_read() per variable per block of times over the bounding box of
 * the farms (split in two across the seam of a global grid), so 1,000 farms on a global
 * grid cost one read per variable and time block.
 */
#ifndef WC_SITES_H
#define WC_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/netcdf.h"

/* A farm site as the caller holds it; strings are borrowed for the call only. */
struct site {
	const char *id;
	double lat, lon;	/* degrees; lon in any convention */
	double hub_height_m;	/* <= 0 or NaN: no hub-height column */
};

struct sites_options {
	double max_station_km;	/* point files: nearest-station radius; 0 means 30 */
	size_t max_cells;	/* values per read; 0 means 1 << 20 */
	/*
	 * Window of the file's times to extract: [time_first, time_first + time_count);
	 * time_count 0 means to the end. Long files (a year of hourly reanalysis for
	 * 1,000 farms is over the result cap) are extracted window by window.
	 */
	size_t time_first, time_count;
};

enum site_column {
	SITE_U10 = 0, SITE_V10, SITE_U100, SITE_V100,
	SITE_WS10, SITE_WS100, SITE_WD10, SITE_WD100,
	SITE_T2M,	/* K */
	SITE_SP,	/* Pa */
	SITE_NBR_MEAN, SITE_NBR_STD,	/* 3x3 wind speed, m/s */
	SITE_WS_HUB,	/* m/s at the site's hub height */
	SITE_RHO,	/* kg/m3 */
	SITE_NCOLUMNS
};

struct site_series {
	size_t site;		/* index into the caller's sites[] */
	double fy, fx;		/* fractional grid position (row, column); points: 0, station */
	double distance_km;	/* points: distance to the station; grids: 0 */
	unsigned derived;	/* bit (1u << c) set when column c was extrapolated */
	double *values;		/* (SITE_NCOLUMNS, ntimes): values[c * ntimes + t]; owned */
	double *ws_h;		/* (nheights, ntimes): speed at each height of the file,
				 * sites_result.heights_m[k]; owned (one block with wd_h) */
	double *wd_h;		/* (nheights, ntimes): direction there; NaN for speed only */
};

struct site_skip {
	size_t site;		/* index into the caller's sites[] */
	char reason[160];	/* "outside the grid (lat 51.5 .. 53.8, ...)" */
};

/* Everything sites_extract() produced; owned, freed by sites_result_release(). */
struct sites_result {
	size_t ntimes;		/* times extracted (the window of sites_options) */
	int64_t *valid_times;	/* (ntimes) copy of the file's valid times */
	double *lead_hours;	/* (ntimes) copy; NaN for an analysis */
	size_t nheights;
	double heights_m[8];	/* wind heights the file has, ascending */
	double nbr_height_m;	/* height of the neighbourhood summary */
	size_t nseries;
	struct site_series *series;	/* (nseries), in the order of sites[] */
	size_t nskipped;
	struct site_skip *skipped;	/* (nskipped) */
};

/*
 * Extract all columns for the `n` sites from `f` into *out (zeroed first). Sites outside
 * the domain (or without a station in range) are listed in out->skipped, which is not an
 * error. opt may be NULL (all times, defaults). WC_ETOOLARGE when sites x times x
 * columns exceeds 64 Mi values: extract fewer times per call. WC_EINVAL for a time
 * window outside the file. On failure *out is empty (released) and err says why;
 * f stays usable. On success the caller owns *out.
 */
enum wc_status sites_extract(struct nwp_file *f, const struct site *sites, size_t n,
			     const struct sites_options *opt, struct sites_result *out,
			     struct wc_error *err);

/* Free everything in r and zero it; fine on a zeroed or already released result. */
void sites_result_release(struct sites_result *r);

/* "u10", "ws100", "nbr_mean", "ws_hub", "rho", ... */
const char *site_column_name(enum site_column c);

/* Value of column c at time t of series s. */
static inline double site_series_get(const struct site_series *s, size_t ntimes,
				     enum site_column c, size_t t)
{
	return s->values[(size_t)c * ntimes + t];
}

#endif
