/*
 * netcdf.h - one reader for the NWP NetCDF files windcast ingests (DESIGN.md 6).
 *
 * nwp_file_open() inspects a file (path or memory; netCDF-3 classic, 64-bit offset,
 * netCDF-4, netCDF-4 classic) and decides, without reading any field data:
 *   - the near-surface variables: u/v (earth- or grid-relative) and wind speed at each
 *     height found, 2 m temperature, surface pressure (struct nwp_var);
 *   - the geometry: a regular lat/lon grid (ascending or descending latitude, 0..360 or
 *     -180..180 longitude, wrapping when global), a projected grid (x/y with a
 *     grid_mapping: Lambert conformal or Mercator; lat/lon computed), a curvilinear grid
 *     (2-D latitude/longitude, e.g. WRF XLAT/XLONG), or a CF point file (featureType
 *     timeSeries, one series per station);
 *   - the valid times (CF units and calendars, WRF Times strings) and the forecast
 *     reference time (a forecast_reference_time variable, scalar or per step, the
 *     attributes of the time variable, global attributes, a lead-time dimension beside
 *     a scalar run time) or none, in which case the file is an analysis.
 * Coordinates are found by standard_name, then axis, then units, then known names; wind
 * by standard_name, then known names (u10, 10u, UGRD_10maboveground, U10, x_wind_10m,
 * U50M, si10, ws10, ...), with the height from the name, a height coordinate or the
 * attributes. Extra dimensions: ERA5 `expver` is collapsed to the valid slice per time,
 * singleton levels/members are dropped, anything else is refused with its name.
 *
 * nwp_file_read() then reads one variable for a block of times over a box of the grid in
 * one netCDF call, unpacked in double after masking raw values (_FillValue read with its
 * own type, missing_value scalar or vector, valid_min/max/range, NaN, values beyond
 * 1e30 on floating variables), with negative scales and unsigned types handled and units
 * converted to m/s, K and Pa. Missing values come back as NaN.
 *
 * A file with no usable near-surface wind, a truncated, corrupt or non-netCDF file is
 * refused by nwp_file_open() with a message that says what was found and what was looked
 * for. Every length read from the file is checked against the caps below before any
 * allocation. Not thread-safe per file (netcdf-c is not); distinct files from distinct
 * threads need the caller's serialisation of netcdf-c calls.
 */
#ifndef WC_NETCDF_H
#define WC_NETCDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/projection.h"

#define NWP_MAX_DIMS 8		/* variables with more dimensions are ignored */
#define NWP_MAX_MISSING 8	/* missing_value entries kept */
#define NWP_MAX_VARS 32		/* selected variables per file */
#define NWP_MAX_TIMES 1000000	/* valid times per file */
#define NWP_MAX_CELLS 50000000	/* grid cells (ny * nx) per file */
#define NWP_MAX_CURVILINEAR 10000000	/* cells of 2-D latitude/longitude (160 MB) */
#define NWP_MAX_STATIONS 1000000
#define NWP_MAX_READ 67108864	/* doubles per nwp_file_read() call (512 MiB) */
#define NWP_SOURCE_MAX 1024	/* bytes of struct nwp_file.source, NUL included */
#define NWP_ATTRIBUTES_MAX (4u << 20)	/* bytes of the global attributes' JSON */

enum nwp_quantity {
	NWP_U = 0,	/* eastward wind (or grid x component when grid_relative), m/s */
	NWP_V,		/* northward wind (or grid y component), m/s */
	NWP_SPEED,	/* wind speed without components, m/s */
	NWP_T2M,	/* air temperature near 2 m, K */
	NWP_SP		/* surface air pressure, Pa */
};

enum nwp_geometry {
	NWP_GRID_REGULAR = 0,	/* 1-D latitude and longitude */
	NWP_GRID_PROJECTED,	/* 1-D projection x/y (m) and a projection */
	NWP_GRID_CURVILINEAR,	/* 2-D latitude/longitude only */
	NWP_POINTS		/* one series per station */
};

enum nwp_dim_role { NWP_DIM_FIXED = 0, NWP_DIM_TIME, NWP_DIM_Y, NWP_DIM_X, NWP_DIM_EXPVER };

/* One selected variable (one level of it when the file has several heights). */
struct nwp_var {
	char name[257];			/* netCDF name */
	enum nwp_quantity quantity;
	double height_m;		/* above ground: wind height, 2 for T, 0 for sp */
	bool grid_relative;		/* components along the grid axes, rotated by sites */
	/* decoding, filled by nwp_file_open(); read-only for callers */
	int varid;
	int type;			/* nc_type */
	int ndims;
	enum nwp_dim_role role[NWP_MAX_DIMS];
	size_t dimlen[NWP_MAX_DIMS];
	size_t fixed[NWP_MAX_DIMS];	/* index used for NWP_DIM_FIXED dimensions */
	double scale, offset;		/* packed: raw * scale + offset (1 and 0 if not) */
	bool has_fill;
	double fill;			/* raw _FillValue (or default fill), in double */
	size_t nmissing;
	double missing[NWP_MAX_MISSING];/* raw missing_value entries */
	double valid_min, valid_max;	/* raw bounds; -inf/+inf when absent */
	double unit_scale, unit_offset;	/* SI = unpacked * unit_scale + unit_offset */
	bool as_unsigned;		/* signed storage with _Unsigned = "true" */
};

struct nwp_file {
	char *label;			/* path or caller's label; owned */
	int ncid;			/* open netCDF id; -1 when closed */
	char format[24];		/* "classic", "64-bit offset", "netCDF-4", ... */
	/* The producing software (from history/title), institution, source, Conventions,
	 * "; "-separated, each part whole: one that would not fit is left out. */
	char source[NWP_SOURCE_MAX];
	char *attributes;		/* every global attribute, whole: a JSON object; owned */

	/* time */
	bool is_forecast;		/* false: an analysis (no reference time found) */
	int64_t reference_time;		/* UTC seconds; 0 for an analysis */
	size_t ntimes;
	int64_t *valid_times;		/* (ntimes) UTC seconds; owned */
	double *lead_hours;		/* (ntimes) valid - reference, NaN for analysis; owned */

	/* geometry */
	enum nwp_geometry geometry;
	size_t ny, nx;			/* grid shape; points: ny = 1, nx = nstations */
	double *lat1d, *lon1d;		/* REGULAR: (ny), (nx); lon unwrapped monotonic */
	bool lon_wraps;			/* REGULAR: global in longitude, column nx-1 meets 0 */
	double *y1d, *x1d;		/* PROJECTED: (ny), (nx) metres */
	struct projection proj;		/* PROJECTED, and CURVILINEAR WRF Lambert grids */
	double *lat2d, *lon2d;		/* CURVILINEAR: (ny, nx); POINTS: (nx) */
	char **station_ids;		/* POINTS: (nx) strings, may be NULL entries; owned */

	/* variables */
	size_t nvars;
	struct nwp_var vars[NWP_MAX_VARS];
};

/*
 * Open and inspect the file at `path`. On success *out owns a new struct nwp_file (free
 * with nwp_file_free()). On failure *out is NULL, err says why: WC_ENETCDF (netCDF's own
 * text kept) for unreadable files, WC_EFORMAT/WC_EUNSUPPORTED for files without usable
 * near-surface wind or with unresolvable dimensions, WC_ETOOLARGE for sizes over caps.
 */
enum wc_status nwp_file_open(struct nwp_file **out, const char *path, struct wc_error *err);

/*
 * Same from memory. `label` names the file in messages. The bytes are NOT copied: the
 * caller keeps `data` alive and unchanged until nwp_file_free().
 */
enum wc_status nwp_file_open_mem(struct nwp_file **out, const char *label,
				 const void *data, size_t size, struct wc_error *err);

/* Close the netCDF handle and free everything; NULL is fine. */
void nwp_file_free(struct nwp_file *f);

/* Index in f->vars of the variable for (quantity, height) or -1. Height ignored for
 * NWP_T2M and NWP_SP; matched within 0.5 m otherwise. */
int nwp_file_find(const struct nwp_file *f, enum nwp_quantity q, double height_m);

/*
 * Distinct wind heights (components or speed) in ascending order into heights[max];
 * returns how many there are (may exceed max).
 */
size_t nwp_file_heights(const struct nwp_file *f, double *heights, size_t max);

/*
 * Read variable f->vars[var] for times [t0, t0+nt) over rows [y0, y0+ny) and columns
 * x0, x0+1, ... x0+nx-1 taken modulo f->nx (so a box may cross the seam of a global
 * grid) into out (nt, ny, nx), caller-allocated. For point files y0 = 0, ny = 1 and
 * columns are stations. Values unpacked, masked (NaN) and in SI units; grid-relative
 * components are returned as stored. One netCDF read per call (two across the seam).
 */
enum wc_status nwp_file_read(struct nwp_file *f, size_t var, size_t t0, size_t nt,
			     size_t y0, size_t ny, size_t x0, size_t nx, double *out,
			     struct wc_error *err);

/*
 * The same read without decoding: values in the variable's own type (nwp_var_size()
 * bytes each, layout (nt, ny, nx)), expver already collapsed. Sites use it to decode
 * only the cells they need; nwp_var_value() decodes one value.
 */
enum wc_status nwp_file_read_native(struct nwp_file *f, size_t var, size_t t0, size_t nt,
				    size_t y0, size_t ny, size_t x0, size_t nx, void *out,
				    struct wc_error *err);
/* Bytes per native value of v. */
size_t nwp_var_size(const struct nwp_var *v);
/* Value i of a native buffer of v, masked (NaN), unpacked and in SI units. */
double nwp_var_value(const struct nwp_var *v, const void *raw, size_t i);

/*
 * Number of time steps to read per nwp_file_read() call for a box of `box_cells` cells,
 * keeping a read under `max_cells` doubles where the chunking allows, and size the
 * variable's chunk cache for that access (whole chunks along time are read once; when a
 * chunk spans several blocks the cache holds the chunks the box touches).
 */
size_t nwp_file_time_block(struct nwp_file *f, size_t var, size_t box_ny, size_t box_nx,
			   size_t max_cells);

/* Latitude/longitude (degrees) of grid cell (iy, ix); longitude in -180..180. */
void nwp_file_cell_latlon(const struct nwp_file *f, size_t iy, size_t ix, double *lat,
			  double *lon);

/* One-line description ("ERA5 ... ; grid 2x3 regular; u/v at 10, 100 m; t2m; sp; ...")
 * into buf (always NUL-terminated). */
void nwp_file_describe(const struct nwp_file *f, char *buf, size_t len);

const char *nwp_quantity_name(enum nwp_quantity q);

#endif
