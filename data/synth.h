/*
 * synth.h - a synthetic but plausible data set for windcast: NWP runs on a regional
 * grid in ERA5's NetCDF conventions, metered farm output made from the "true" weather,
 * and the farm list. Deterministic: the same configuration (seed, start, days, farms)
 * gives the same bytes, on the same build.
 *
 * The weather model (all of it is a closed-form function of position and time once the
 * systems are drawn, so the truth can be evaluated anywhere, e.g. at a farm's site):
 *
 *   - Pressure: a background field with a geostrophic westerly of 7 m/s, plus moving
 *     Gaussian lows and highs. A new system is born every ~26 h (exponential gaps, at
 *     least 10 h), placed so that it passes the grid around mid-life (give or take
 *     900 km east-west and 1300 km north-south), drifts east at 7-14 m/s with a small
 *     north/south component, and deepens and fills over a 3-7 day life (amplitude sin^2
 *     of its age, radius growing by half). Lows: 12-40 hPa deep, 600-1100 km radius;
 *     highs: 8-25 hPa, 800-1500 km; 25 % stronger in late January, weaker in summer.
 *     sp is this pressure field (the grid is sea level, sp = mslp).
 *   - Wind at 100 m: the geostrophic wind of that field (soft-capped at 38 m/s), times
 *     0.72 and turned 15 degrees towards low pressure (boundary-layer friction), plus a
 *     nocturnal low-level jet (up to +10 % on stable nights, -3 % on mixed afternoons).
 *   - Wind at 10 m: the 100 m wind times (10/100)^alpha, turned a further 6-18 degrees
 *     towards low pressure, with a power-law exponent alpha = 0.11 + 0.20 * stability +
 *     0.03 * slow noise (noise in [-2, 2] from periods of 20-120 h; alpha is clamped to
 *     [0.05, 0.45] and mostly 0.1-0.3). Stability is 1 at 03 local solar time and 0 at
 *     15, damped in strong wind and in winter: stable nights have weaker 10 m wind and
 *     stronger shear, mixed days the opposite.
 *   - t2m: 282 K minus 5.5 K seasonal (coldest late January), a diurnal cycle of
 *     1.5-3 K peaking at 15 local, +0.25 K per m/s of southerly wind, -0.5 K per degree
 *     of latitude north of 55 N.
 *
 * Forecasts: the run with reference time T is the same model evaluated at T + h with
 * errors that grow with the lead h: each system is displaced by an analysis error
 * (15 km) plus a drift error (3.5 km/h per component, so about 170 km at 48 h), its
 * amplitude is off by 2 % + 12 % * h/48 and its life cycle by up to 6 h * h/48; an
 * AR(1) in lead (phi 0.93) on a few large-scale spatial modes adds wind errors of
 * 0.25 + 1.4 * h/48 m/s per component, an alpha error of 0.01 + 0.03 * h/48 and a t2m
 * error of 0.3 + 1.0 * h/48 K. All errors are drawn from the run's own random stream,
 * so successive runs for the same valid time differ.
 *
 * Observations: for each hour (hour-ending label t, covering t-1h..t) the mean of four
 * quarter-hour samples of capacity * 0.96 * curve(hub wind * (1 + eta)), where the hub
 * wind is the true 100 m wind scaled with the true alpha to the hub height, eta is an
 * AR(1) (sd 0.05) and curve is the farm's power curve; plus N(0, 1 % of capacity) noise,
 * clipped to [0, capacity]. Outages (0 MW, flag outage) are whole days, about 1.2 % of
 * days; curtailment episodes (2-8 h, about 5 % of days) cap output at 30-70 % of
 * capacity (flag curtailed for every hour of the episode).
 *
 * Randomness comes from splitmix64/xoshiro256** streams derived from the seed and a
 * purpose (systems, run T, farm i), never from rand() or the clock.
 */
#ifndef WC_SYNTH_H
#define WC_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define SYNTH_MAX_FARMS 8
#define SYNTH_MAX_DAYS 3660
#define SYNTH_LEADS 49		/* leads 0..48 h, hourly */
#define SYNTH_RUN_STEP 43200	/* runs at 00 and 12 UTC */
#define SYNTH_GRID_STEP 0.25	/* degrees */
#define SYNTH_GRID_MARGIN 1.0	/* degrees of grid around the farms */

/* The gridded variables, in the order of synth_forecast_grid's output. */
enum synth_var { SYNTH_U10, SYNTH_V10, SYNTH_U100, SYNTH_V100, SYNTH_T2M, SYNTH_SP, SYNTH_NVARS };

/* Variable name in the NetCDF files ("u10", ..., "sp"); NULL if v is out of range. */
const char *synth_var_name(enum synth_var v);

struct synth_config {
	int64_t start;	/* first run's reference time (and start of the observations),
			 * seconds since the epoch; must be 00 or 12 UTC */
	int days;	/* 1..SYNTH_MAX_DAYS: 2 runs a day, observations for days * 24 h */
	int nfarms;	/* 1..SYNTH_MAX_FARMS, taken in order from a built-in list */
	uint64_t seed;
};

/* Defaults: start 2026-01-01T00:00Z, 120 days, 3 farms, seed 1. */
void synth_config_init(struct synth_config *cfg);

struct synth_farm {
	const char *id;		/* slug, e.g. "north-sea-1" */
	const char *name;
	double lat, lon;	/* degrees north, east */
	double capacity_mw;
	double hub_height_m;
	double cut_in, rated, cut_out;	/* power curve, m/s */
};

/* Weather at one place and time; winds in m/s (u eastward, v northward), K, Pa. */
struct synth_wx {
	double u10, v10, u100, v100, t2m, sp;
};

/* Regular grid: latitudes descend from lat_north, longitudes ascend from lon_west. */
struct synth_grid {
	int nlat, nlon;
	double lat_north, lon_west, step;	/* step = SYNTH_GRID_STEP */
};

enum synth_flag { SYNTH_OK, SYNTH_OUTAGE, SYNTH_CURTAILED };

/* "ok", "outage", "curtailed" (the CSV flag column). */
const char *synth_flag_name(enum synth_flag f);

struct synth_obs {
	int64_t time;		/* hour-ending label, seconds since the epoch */
	double power_mw;	/* in [0, capacity] */
	enum synth_flag flag;
};

/* A generator: the farms, the grid and the drawn weather systems. Opaque. */
struct synth;

/*
 * Validate cfg and draw the weather systems. On success *out is a new generator owned
 * by the caller (synth_free). WC_EINVAL with a message naming the bad field, WC_ENOMEM.
 */
enum wc_status synth_new(const struct synth_config *cfg, struct synth **out,
			 struct wc_error *err);
/* Free a generator (NULL is fine). */
void synth_free(struct synth *s);

/* The configuration, farms, grid and runs of s; pointers valid while s lives. */
const struct synth_config *synth_config(const struct synth *s);
const struct synth_farm *synth_farm(const struct synth *s, int i);	/* i < nfarms */
const struct synth_grid *synth_grid(const struct synth *s);
int synth_nruns(const struct synth *s);			/* 2 * days */
int64_t synth_run_time(const struct synth *s, int run);	/* start + run * 12 h */

/* The true weather at (lat, lon) at time t (seconds since the epoch, any instant). */
void synth_truth(const struct synth *s, double lat, double lon, double t,
		 struct synth_wx *out);

/*
 * The forecast of run `run` (0 <= run < synth_nruns) on the grid: fills out, an array of
 * SYNTH_NVARS * SYNTH_LEADS * nlat * nlon doubles laid out (var, lead, lat, lon), with
 * lat index 0 the northernmost row. These are the values the NetCDF file packs.
 * WC_EINVAL for a bad run index.
 */
enum wc_status synth_forecast_grid(const struct synth *s, int run, double *out,
				   struct wc_error *err);

/* Wind speed at height z (m) from the 10 m and 100 m winds by their power law. */
double synth_hub_speed(const struct synth_wx *wx, double z);

/* The farm's power curve: output / capacity in [0, 1] at wind speed ws (m/s). */
double synth_power_curve(const struct synth_farm *f, double ws);

/*
 * The hourly observations of farm i: days * 24 rows, hour-ending labels start + 1 h ..
 * start + days * 24 h. *out is malloc'd and owned by the caller (free), *n its length.
 * WC_EINVAL for a bad farm index, WC_ENOMEM.
 */
enum wc_status synth_observations(const struct synth *s, int farm, struct synth_obs **out,
				  size_t *n, struct wc_error *err);

/*
 * Writers. Each writes `path` through a temporary file renamed into place, so a reader
 * never sees half a file. WC_EIO (with strerror's text) or WC_ENETCDF (with nc_strerror's
 * text); on failure nothing is left at path's temporary name.
 *
 * synth_write_run: the NetCDF file of one run (netCDF-3 64-bit offset, ERA5 layout).
 * synth_write_obs_csv: "time,power_mw,flag" rows for farm i.
 * synth_write_farms_json: the farms as a JSON array for `windcast farm import`.
 */
enum wc_status synth_write_run(const struct synth *s, int run, const char *path,
			       struct wc_error *err);
enum wc_status synth_write_obs_csv(const struct synth *s, int farm, const char *path,
				   struct wc_error *err);
enum wc_status synth_write_farms_json(const struct synth *s, const char *path,
				      struct wc_error *err);

struct synth_summary {
	int nruns, nfarms;
	size_t obs_rows;	/* over all farms */
	uint64_t bytes;		/* total size of the files written */
};

/*
 * Write the whole data set under dir (created if missing, like mkdir -p):
 *   dir/farms.json, dir/obs/<farm id>.csv, dir/nwp/demo_YYYYMMDDHH.nc (one per run).
 * Existing files of the same names are replaced. sum (may be NULL) receives counts.
 */
enum wc_status synth_write_all(const struct synth *s, const char *dir,
			       struct synth_summary *sum, struct wc_error *err);

#endif
