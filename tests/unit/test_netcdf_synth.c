/*
 * test_netcdf_synth.c - one synthetic file per quirk of CATALOG.md, written by the test
 * with netcdf-c into $TMPDIR, read back with data/netcdf and data/sites.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/netcdf.h"
#include "data/projection.h"
#include "data/sites.h"
#include "tests/unit/test_netcdf_util.h"

/* A (time, lat, lon) grid with coordinate variables, left in define mode. */
struct grid {
	int ncid, dt, dy, dx, vt, vy, vx;
	size_t nt, ny, nx;
	char path[512];
};

static void grid_begin(struct grid *g, const char *name, int cmode, size_t nt, size_t ny,
		       size_t nx, const char *time_units, nc_type time_type)
{
	tmp_path(g->path, sizeof(g->path), name);
	g->nt = nt;
	g->ny = ny;
	g->nx = nx;
	NC(nc_create(g->path, cmode | NC_CLOBBER, &g->ncid));
	NC(nc_def_dim(g->ncid, "time", nt, &g->dt));
	NC(nc_def_dim(g->ncid, "latitude", ny, &g->dy));
	NC(nc_def_dim(g->ncid, "longitude", nx, &g->dx));
	NC(nc_def_var(g->ncid, "time", time_type, 1, &g->dt, &g->vt));
	NC(nc_put_att_text(g->ncid, g->vt, "units", strlen(time_units), time_units));
	NC(nc_def_var(g->ncid, "latitude", NC_DOUBLE, 1, &g->dy, &g->vy));
	put_text(g->ncid, g->vy, "units", "degrees_north");
	NC(nc_def_var(g->ncid, "longitude", NC_DOUBLE, 1, &g->dx, &g->vx));
	put_text(g->ncid, g->vx, "units", "degrees_east");
}

static int grid_var(struct grid *g, const char *name, nc_type t)
{
	int dims[3] = { g->dt, g->dy, g->dx }, v;

	NC(nc_def_var(g->ncid, name, t, 3, dims, &v));
	return v;
}

/* End define mode and write coordinates: lat0 + i*dlat, lon0 + j*dlon, time = 0,1,2.. */
static void grid_coords(struct grid *g, double lat0, double dlat, double lon0, double dlon)
{
	double *buf = malloc(sizeof(double) * (g->nt + g->ny + g->nx));

	NC(nc_enddef(g->ncid));
	for (size_t i = 0; i < g->nt; i++)
		buf[i] = (double)i;
	NC(nc_put_var_double(g->ncid, g->vt, buf));
	for (size_t i = 0; i < g->ny; i++)
		buf[i] = lat0 + (double)i * dlat;
	NC(nc_put_var_double(g->ncid, g->vy, buf));
	for (size_t i = 0; i < g->nx; i++)
		buf[i] = lon0 + (double)i * dlon;
	NC(nc_put_var_double(g->ncid, g->vx, buf));
	free(buf);
}

static struct nwp_file *open_ok(const char *path)
{
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };

	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	return f;
}

static enum wc_status open_fail(const char *path, struct wc_error *err)
{
	struct nwp_file *f = NULL;
	enum wc_status st = nwp_file_open(&f, path, err);

	cr_assert_neq(st, WC_OK, "'%s' should be rejected", path);
	cr_assert_null(f);
	return st;
}

/* Read all of variable (q, h) as doubles (nt, ny, nx); caller frees. */
static double *read_all_of(struct nwp_file *f, enum nwp_quantity q, double h)
{
	int k = nwp_file_find(f, q, h);
	double *out;
	struct wc_error err = { 0 };

	cr_assert(k >= 0, "variable %s at %g m not found", nwp_quantity_name(q), h);
	out = malloc(sizeof(double) * f->ntimes * f->ny * f->nx);
	cr_assert_eq(nwp_file_read(f, (size_t)k, 0, f->ntimes, 0, f->ny, 0, f->nx, out, &err),
		     WC_OK, "%s", err.msg);
	return out;
}

/* Replace every occurrence of `from` by `to` (same length) in the file's bytes. */
static void patch_name(const char *path, const char *from, const char *to)
{
	FILE *fp = fopen(path, "r+b");
	size_t n, len = strlen(from);
	char *buf;

	cr_assert(fp && strlen(to) == len);
	fseek(fp, 0, SEEK_END);
	n = (size_t)ftell(fp);
	rewind(fp);
	buf = malloc(n);
	cr_assert_eq(fread(buf, 1, n, fp), n);
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(buf + i, from, len) == 0)
			memcpy(buf + i, to, len);
	rewind(fp);
	cr_assert_eq(fwrite(buf, 1, n, fp), n);
	fclose(fp);
	free(buf);
}

/* ---- packing and masking ------------------------------------------------------- */

Test(netcdf_synth, negative_scale_factor)
{
	struct grid g;
	short raw[4] = { 100, -200, -32767, 0 };
	double sc = -0.01, off = 5;
	short fill = -32767;
	int vu, vv;

	grid_begin(&g, "negscale", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2000-01-01", NC_INT);
	vu = grid_var(&g, "u10", NC_SHORT);
	vv = grid_var(&g, "v10", NC_SHORT);
	for (int v = vu; v <= vv; v++) {
		NC(nc_put_att_double(g.ncid, v, "scale_factor", NC_DOUBLE, 1, &sc));
		NC(nc_put_att_double(g.ncid, v, "add_offset", NC_DOUBLE, 1, &off));
		NC(nc_put_att_short(g.ncid, v, "_FillValue", NC_SHORT, 1, &fill));
	}
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_short(g.ncid, vu, raw));
	NC(nc_put_var_short(g.ncid, vv, raw));
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);
	double *u = read_all_of(f, NWP_U, 10);

	cr_assert_float_eq(u[0], 4.0, 1e-12);
	cr_assert_float_eq(u[1], 7.0, 1e-12);
	cr_assert(isnan(u[2]), "fill must be masked before unpacking");
	cr_assert_float_eq(u[3], 5.0, 1e-12);
	free(u);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, nan_fill_stored_as_double_on_short)
{
	struct grid g;
	short raw[4] = { 0, 1, 2, -32767 };
	double nan = NAN, sc = 0.5;
	int vu, vv;

	grid_begin(&g, "nanfill", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2000-01-01", NC_INT);
	vu = grid_var(&g, "u10", NC_SHORT);
	vv = grid_var(&g, "v10", NC_SHORT);
	for (int v = vu; v <= vv; v++) {
		NC(nc_put_att_double(g.ncid, v, "scale_factor", NC_DOUBLE, 1, &sc));
		/* netcdf-c refuses to write a fill of the wrong type, other writers do
		 * (#4): write it under another name and patch the name in the header */
		NC(nc_put_att_double(g.ncid, v, "_FillValuX", NC_DOUBLE, 1, &nan));
	}
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_short(g.ncid, vu, raw));
	NC(nc_put_var_short(g.ncid, vv, raw));
	NC(nc_close(g.ncid));
	patch_name(g.path, "_FillValuX", "_FillValue");

	struct nwp_file *f = open_ok(g.path);
	double *u = read_all_of(f, NWP_U, 10);

	cr_assert_float_eq(u[0], 0.0, 1e-12, "raw 0 must not be masked by a NaN fill");
	cr_assert_float_eq(u[1], 0.5, 1e-12);
	cr_assert_float_eq(u[2], 1.0, 1e-12);
	free(u);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, unsigned_packed)
{
	struct grid g;
	unsigned short raw[4] = { 40000, 65535, 1, 32768 };
	unsigned short fill = 65535;
	double sc = 0.001;
	int v;

	grid_begin(&g, "ushort", NC_NETCDF4, 1, 2, 2, "hours since 2000-01-01", NC_INT);
	v = grid_var(&g, "ws10", NC_USHORT);
	NC(nc_put_att_double(g.ncid, v, "scale_factor", NC_DOUBLE, 1, &sc));
	NC(nc_put_att_ushort(g.ncid, v, "_FillValue", NC_USHORT, 1, &fill));
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_ushort(g.ncid, v, raw));
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);
	double *w = read_all_of(f, NWP_SPEED, 10);

	cr_assert_float_eq(w[0], 40.0, 1e-9);
	cr_assert(isnan(w[1]));
	cr_assert_float_eq(w[3], 32.768, 1e-9);
	free(w);
	nwp_file_free(f);
	unlink(g.path);

	/* netCDF-3: signed bytes flagged _Unsigned */
	signed char b[4] = { -56, 10, -1, 0 };
	signed char bfill = -1;
	double bsc = 0.1;

	grid_begin(&g, "unsigned_byte", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2000-01-01",
		   NC_INT);
	v = grid_var(&g, "si10", NC_BYTE);
	put_text(g.ncid, v, "_Unsigned", "true");
	NC(nc_put_att_double(g.ncid, v, "scale_factor", NC_DOUBLE, 1, &bsc));
	NC(nc_put_att_schar(g.ncid, v, "_FillValue", NC_BYTE, 1, &bfill));
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_schar(g.ncid, v, b));
	NC(nc_close(g.ncid));
	f = open_ok(g.path);
	w = read_all_of(f, NWP_SPEED, 10);
	cr_assert_float_eq(w[0], 20.0, 1e-9);
	cr_assert_float_eq(w[1], 1.0, 1e-9);
	cr_assert(isnan(w[2]));
	free(w);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, vector_missing_value_and_valid_range)
{
	struct grid g;
	float raw[4] = { -888, -999, -777, 3 };
	float miss[2] = { -999, -888 };
	short sraw[4] = { 1001, 1000, -1001, 0 };
	short range[2] = { -1000, 1000 };
	int vu, vv;

	grid_begin(&g, "missing", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2000-01-01", NC_INT);
	vu = grid_var(&g, "u10", NC_FLOAT);
	vv = grid_var(&g, "v10", NC_SHORT);
	NC(nc_put_att_float(g.ncid, vu, "missing_value", NC_FLOAT, 2, miss));
	NC(nc_put_att_short(g.ncid, vv, "valid_range", NC_SHORT, 2, range));
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_float(g.ncid, vu, raw));
	NC(nc_put_var_short(g.ncid, vv, sraw));
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);
	double *u = read_all_of(f, NWP_U, 10), *v = read_all_of(f, NWP_V, 10);

	cr_assert(isnan(u[0]) && isnan(u[1]));
	cr_assert_float_eq(u[2], -777, 1e-9);
	cr_assert(isnan(v[0]), "above valid_range");
	cr_assert_float_eq(v[1], 1000, 1e-9);
	cr_assert(isnan(v[2]), "below valid_range");
	cr_assert_float_eq(v[3], 0, 1e-9);
	free(u);
	free(v);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, units_converted_to_si)
{
	struct grid g;
	float kt[4] = { 10, 10, 10, 10 }, c[4] = { 15, 15, 15, 15 }, hpa[4] = { 1000, 1000, 1000, 1000 };
	int vu, vv, vt, vp;

	grid_begin(&g, "units", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2000-01-01", NC_INT);
	vu = grid_var(&g, "u10", NC_FLOAT);
	vv = grid_var(&g, "v10", NC_FLOAT);
	vt = grid_var(&g, "t2m", NC_FLOAT);
	vp = grid_var(&g, "sp", NC_FLOAT);
	put_text(g.ncid, vu, "units", "knots");
	put_text(g.ncid, vv, "units", "knots");
	put_text(g.ncid, vt, "units", "degC");
	put_text(g.ncid, vp, "units", "hPa");
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_float(g.ncid, vu, kt));
	NC(nc_put_var_float(g.ncid, vv, kt));
	NC(nc_put_var_float(g.ncid, vt, c));
	NC(nc_put_var_float(g.ncid, vp, hpa));
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);
	double *u = read_all_of(f, NWP_U, 10), *t = read_all_of(f, NWP_T2M, 2),
	       *p = read_all_of(f, NWP_SP, 0);

	cr_assert_float_eq(u[0], 10 * 1852.0 / 3600.0, 1e-9);
	cr_assert_float_eq(t[0], 288.15, 1e-9);
	cr_assert_float_eq(p[0], 100000, 1e-6);
	free(u);
	free(t);
	free(p);
	nwp_file_free(f);
	unlink(g.path);
}

/* ---- longitudes and latitudes -------------------------------------------------- */

static void write_index_grid(struct grid *g, const char *name, double lat0, double dlat,
			     const double *lons)
{
	int vu, vv;
	size_t n = g->ny * g->nx;
	float *u = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));

	vu = grid_var(g, "u10", NC_FLOAT);
	vv = grid_var(g, "v10", NC_FLOAT);
	(void)name;
	grid_coords(g, lat0, dlat, 0, 1);
	NC(nc_put_var_double(g->ncid, g->vx, lons));
	for (size_t i = 0; i < g->ny; i++) {
		for (size_t j = 0; j < g->nx; j++) {
			u[i * g->nx + j] = (float)j;	/* column index */
			v[i * g->nx + j] = (float)i;	/* row index */
		}
	}
	NC(nc_put_var_float(g->ncid, vu, u));
	NC(nc_put_var_float(g->ncid, vv, v));
	NC(nc_close(g->ncid));
	free(u);
	free(v);
}

static struct sites_result extract(struct nwp_file *f, const struct site *s, size_t n)
{
	struct sites_result r;
	struct wc_error err = { 0 };

	cr_assert_eq(sites_extract(f, s, n, NULL, &r, &err), WC_OK, "%s", err.msg);
	return r;
}

Test(netcdf_synth, global_0_360_descending_latitude)
{
	struct grid g;
	double lons[144];
	struct site s[] = {
		{ "a", 45, 358.75, 100 }, { "b", 45, -1.25, 100 }, { "c", 45, 180, 100 },
		{ "d", 45, -180, 100 }, { "e", -88.75, 0, 100 }, { "f", 0, 1.25, 100 },
	};
	const double want_u[] = { 71.5, 71.5, 72, 72, 0, 0.5 };
	const double want_v[] = { 18, 18, 18, 18, 71.5, 36 };

	for (int j = 0; j < 144; j++)
		lons[j] = 2.5 * j;
	grid_begin(&g, "global", NC_64BIT_OFFSET, 1, 73, 144, "hours since 2000-01-01", NC_INT);
	write_index_grid(&g, "global", 90, -2.5, lons);

	struct nwp_file *f = open_ok(g.path);

	cr_assert(f->lon_wraps);
	struct sites_result r = extract(f, s, 6);

	cr_assert_eq(r.nseries, 6, "skipped: %s", r.nskipped ? r.skipped[0].reason : "");
	for (int i = 0; i < 6; i++) {
		cr_assert_float_eq(site_series_get(&r.series[i], 1, SITE_U10, 0), want_u[i],
				   1e-9, "site %d u", i);
		cr_assert_float_eq(site_series_get(&r.series[i], 1, SITE_V10, 0), want_v[i],
				   1e-9, "site %d v", i);
	}
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, regional_grid_across_antimeridian)
{
	struct grid g;
	double lons[9] = { 170, 172.5, 175, 177.5, 180, -177.5, -175, -172.5, -170 };
	struct site s[] = { { "a", 10, -178.75, 100 }, { "b", 10, 181.25, 100 },
			    { "c", 10, 171.25, 100 }, { "d", 10, -160, 100 } };

	grid_begin(&g, "antimeridian", NC_CLASSIC_MODEL, 1, 5, 9, "hours since 2000-01-01",
		   NC_INT);
	write_index_grid(&g, "am", 5, 2.5, lons);

	struct nwp_file *f = open_ok(g.path);
	struct sites_result r = extract(f, s, 4);

	cr_assert(!f->lon_wraps);
	cr_assert_eq(r.nseries, 3);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_U10, 0), 4.5, 1e-9);
	cr_assert_float_eq(site_series_get(&r.series[1], 1, SITE_U10, 0), 4.5, 1e-9);
	cr_assert_float_eq(site_series_get(&r.series[2], 1, SITE_U10, 0), 0.5, 1e-9);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_V10, 0), 2, 1e-9);
	cr_assert_eq(r.nskipped, 1);
	cr_assert_eq(r.skipped[0].site, 3);
	cr_assert(strstr(r.skipped[0].reason, "outside the grid"), "%s", r.skipped[0].reason);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, curvilinear_2d_coordinates)
{
	char path[512];
	int ncid, dt, dy, dx, vt, vla, vlo, vu, vv, d2[2], d3[3];
	size_t ny = 10, nx = 12;
	double la[120], lo[120], t0 = 0;
	float u[120], v[120];

	tmp_path(path, sizeof(path), "curvilinear");
	NC(nc_create(path, NC_NETCDF4 | NC_CLOBBER, &ncid));
	NC(nc_def_dim(ncid, "time", 1, &dt));
	NC(nc_def_dim(ncid, "y", ny, &dy));
	NC(nc_def_dim(ncid, "x", nx, &dx));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2000-01-01");
	d2[0] = dy;
	d2[1] = dx;
	NC(nc_def_var(ncid, "lat", NC_DOUBLE, 2, d2, &vla));
	put_text(ncid, vla, "standard_name", "latitude");
	NC(nc_def_var(ncid, "lon", NC_DOUBLE, 2, d2, &vlo));
	put_text(ncid, vlo, "standard_name", "longitude");
	d3[0] = dt;
	d3[1] = dy;
	d3[2] = dx;
	NC(nc_def_var(ncid, "u10", NC_FLOAT, 3, d3, &vu));
	put_text(ncid, vu, "coordinates", "lon lat");
	NC(nc_def_var(ncid, "v10", NC_FLOAT, 3, d3, &vv));
	NC(nc_enddef(ncid));
	for (size_t i = 0; i < ny; i++) {
		for (size_t j = 0; j < nx; j++) {
			la[i * nx + j] = 50 + 0.1 * (double)i + 0.02 * (double)j;
			lo[i * nx + j] = 5 + 0.15 * (double)j + 0.01 * (double)i;
			u[i * nx + j] = (float)(i + 10 * j);
			v[i * nx + j] = 0;
		}
	}
	NC(nc_put_var_double(ncid, vt, &t0));
	NC(nc_put_var_double(ncid, vla, la));
	NC(nc_put_var_double(ncid, vlo, lo));
	NC(nc_put_var_float(ncid, vu, u));
	NC(nc_put_var_float(ncid, vv, v));
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);
	double fi = 3.3, fj = 4.6;
	struct site s[] = { { "a", 50 + 0.1 * fi + 0.02 * fj, 5 + 0.15 * fj + 0.01 * fi, 100 },
			    { "b", 40, 5, 100 } };
	struct sites_result r;

	cr_assert_eq(f->geometry, NWP_GRID_CURVILINEAR);
	r = extract(f, s, 2);
	cr_assert_eq(r.nseries, 1);
	cr_assert_float_eq(r.series[0].fy, fi, 1e-9);
	cr_assert_float_eq(r.series[0].fx, fj, 1e-9);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_U10, 0), fi + 10 * fj, 1e-6);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

/* ---- projections and grid-relative winds --------------------------------------- */

/*
 * A projected grid: unlimited time (one step), y(ny) and x(nx) coordinates in `units`,
 * a grid mapping variable filled by `mapping`, and x_wind_10m/y_wind_10m (y, x).
 */
static void write_projected(const char *path, int cmode, const char *units,
			    const double *xs, size_t nx, const double *ys, size_t ny,
			    const float *u, const float *v, void (*mapping)(int ncid, int var))
{
	int ncid, dt, dy, dx, vt, vy, vx, vp, vu, vv, d3[3];
	size_t start[3] = { 0, 0, 0 }, count[3] = { 1, ny, nx }, one = 1, z = 0;
	double t0 = 0;

	NC(nc_create(path, cmode | NC_CLOBBER, &ncid));
	NC(nc_def_dim(ncid, "time", NC_UNLIMITED, &dt));
	NC(nc_def_dim(ncid, "y", ny, &dy));
	NC(nc_def_dim(ncid, "x", nx, &dx));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "seconds since 2020-01-01");
	NC(nc_def_var(ncid, "y", NC_DOUBLE, 1, &dy, &vy));
	put_text(ncid, vy, "standard_name", "projection_y_coordinate");
	put_text(ncid, vy, "units", units);
	NC(nc_def_var(ncid, "x", NC_DOUBLE, 1, &dx, &vx));
	put_text(ncid, vx, "standard_name", "projection_x_coordinate");
	put_text(ncid, vx, "units", units);
	NC(nc_def_var(ncid, "mapping", NC_INT, 0, NULL, &vp));
	mapping(ncid, vp);
	d3[0] = dt;
	d3[1] = dy;
	d3[2] = dx;
	NC(nc_def_var(ncid, "x_wind_10m", NC_FLOAT, 3, d3, &vu));
	put_text(ncid, vu, "standard_name", "x_wind");
	put_text(ncid, vu, "grid_mapping", "mapping");
	NC(nc_def_var(ncid, "y_wind_10m", NC_FLOAT, 3, d3, &vv));
	put_text(ncid, vv, "standard_name", "y_wind");
	put_text(ncid, vv, "grid_mapping", "mapping");
	NC(nc_enddef(ncid));
	NC(nc_put_vara_double(ncid, vt, &z, &one, &t0));
	NC(nc_put_var_double(ncid, vy, ys));
	NC(nc_put_var_double(ncid, vx, xs));
	NC(nc_put_vara_float(ncid, vu, start, count, u));
	NC(nc_put_vara_float(ncid, vv, start, count, v));
	NC(nc_close(ncid));
}

static void lcc_mapping(int ncid, int vp)
{
	double sp[2] = { 45, 45 }, lat0 = 45, lon0 = 10, R = 6371229;

	put_text(ncid, vp, "grid_mapping_name", "lambert_conformal_conic");
	NC(nc_put_att_double(ncid, vp, "standard_parallel", NC_DOUBLE, 2, sp));
	NC(nc_put_att_double(ncid, vp, "latitude_of_projection_origin", NC_DOUBLE, 1, &lat0));
	NC(nc_put_att_double(ncid, vp, "longitude_of_central_meridian", NC_DOUBLE, 1, &lon0));
	NC(nc_put_att_double(ncid, vp, "earth_radius", NC_DOUBLE, 1, &R));
}

Test(netcdf_synth, lambert_grid_relative_rotated)
{
	char path[512];
	enum { N = 21 };
	double xs[N], ys[N], R = 6371229;
	float ones[N * N], zeros[N * N];

	for (int i = 0; i < N; i++) {
		xs[i] = 200 + 50.0 * i;	/* km: east of the central meridian */
		ys[i] = -500 + 50.0 * i;
	}
	for (int i = 0; i < N * N; i++) {
		ones[i] = 1;
		zeros[i] = 0;
	}
	tmp_path(path, sizeof(path), "lcc");
	write_projected(path, NC_CLASSIC_MODEL, "km", xs, N, ys, N, ones, zeros, lcc_mapping);

	struct nwp_file *f = open_ok(path);
	struct projection p;
	double lat, lon, x0, y0, x1, y1, x2, y2, ex, ey, nx_, ny_, en, nn;

	cr_assert_eq(f->geometry, NWP_GRID_PROJECTED);
	cr_assert(f->vars[0].grid_relative);
	/* a site at the centre of the grid */
	projection_init_lcc(&p, 45, 45, 45, 10, R, 0, 0, NULL);
	projection_inverse(&p, 700e3, 0, &lat, &lon);
	struct site s = { "c", lat, lon, 100 };
	struct sites_result r = extract(f, &s, 1);

	/* independent check: the earth east/north unit vectors in grid coordinates by
	 * finite differences of the forward projection; a grid wind (1, 0) has eastward
	 * component = east.x / |east| and northward = north.x / |north| */
	projection_forward(&p, lat, lon, &x0, &y0);
	projection_forward(&p, lat, lon + 1e-5, &x1, &y1);
	projection_forward(&p, lat + 1e-5, lon, &x2, &y2);
	ex = x1 - x0;
	ey = y1 - y0;
	nx_ = x2 - x0;
	ny_ = y2 - y0;
	en = hypot(ex, ey);
	nn = hypot(nx_, ny_);
	cr_assert_eq(r.nseries, 1);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_U10, 0), ex / en, 1e-6);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_V10, 0), nx_ / nn, 1e-6);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_WS10, 0), 1, 1e-9);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

/* ---- time ---------------------------------------------------------------------- */

struct time_case {
	const char *units, *calendar;
	nc_type type;
	double value;
	const char *want;	/* ISO, or NULL: the file must be rejected */
};

Test(netcdf_synth, time_units_calendars_and_storage)
{
	static const struct time_case cases[] = {
		{ "hours since 1900-01-01 00:00:00.0", "gregorian", NC_INT, 1026624,
		  "2017-02-12T00:00:00Z" },
		{ "seconds since 1970-01-01 00:00:00.0 0:00", NULL, NC_DOUBLE, 1582956000,
		  "2020-02-29T06:00:00Z" },
		{ "Hour since 2013-06-27T00:00:00Z", NULL, NC_INT, 354, "2013-07-11T18:00:00Z" },
		{ "hours since 1800-1-1 00:00:0.0", NULL, NC_DOUBLE, 1965720,
		  "2024-04-01T00:00:00Z" },
		{ "seconds since 1970-01-01", "proleptic_gregorian", NC_INT64, 1748055600,
		  "2025-05-24T03:00:00Z" },
		{ "days since 2000-01-01", "noleap", NC_FLOAT, 59.5, "2000-03-01T12:00:00Z" },
		{ "days since 2000-01-01", "all_leap", NC_INT, 59, "2000-02-29T00:00:00Z" },
		{ "days since 2000-01-01", "360_day", NC_INT, 30, "2000-02-01T00:00:00Z" },
		{ "days since 2000-01-01", "360_day", NC_INT, 59, NULL },
		{ "minutes since 2015-01-01 00:30:00", "standard", NC_DOUBLE, 90,
		  "2015-01-01T02:00:00Z" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct time_case *c = &cases[i];
		struct grid g;
		float w[1] = { 3 };
		int v;
		char name[32];

		snprintf(name, sizeof(name), "time%zu", i);
		grid_begin(&g, name, NC_NETCDF4, 1, 1, 1, c->units, c->type);
		if (c->calendar)
			NC(nc_put_att_text(g.ncid, g.vt, "calendar", strlen(c->calendar),
					   c->calendar));
		v = grid_var(&g, "si10", NC_FLOAT);
		grid_coords(&g, 50, 1, 5, 1);
		NC(nc_put_var_double(g.ncid, g.vt, &c->value));
		NC(nc_put_var_float(g.ncid, v, w));
		NC(nc_close(g.ncid));
		if (c->want) {
			struct nwp_file *f = open_ok(g.path);
			int64_t t = 0;

			utc_parse_iso8601(c->want, &t);
			cr_assert_eq(f->valid_times[0], t, "'%s' %s", c->units,
				     c->calendar ? c->calendar : "");
			cr_assert(!f->is_forecast);
			cr_assert(isnan(f->lead_hours[0]));
			nwp_file_free(f);
		} else {
			struct wc_error err = { 0 };

			open_fail(g.path, &err);
			cr_assert(strstr(err.msg, "does not exist in the real calendar"), "%s",
				  err.msg);
		}
		unlink(g.path);
	}
}

/* ERA5-like demo form: valid times + a scalar forecast_reference_time variable. */
Test(netcdf_synth, scalar_forecast_reference_time_variable)
{
	struct grid g;
	int names[6], vr;
	const char *vn[6] = { "u10", "v10", "u100", "v100", "t2m", "sp" };
	double sc = 0.001, off[6] = { 0, 0, 0, 0, 280, 100000 }, ref = 1051896, tv[3];
	short fill = -32767, raw[3 * 4];

	grid_begin(&g, "demo", NC_64BIT_OFFSET, 3, 2, 2, "hours since 1900-01-01 00:00:00.0",
		   NC_INT);
	for (int k = 0; k < 6; k++) {
		names[k] = grid_var(&g, vn[k], NC_SHORT);
		NC(nc_put_att_double(g.ncid, names[k], "scale_factor", NC_DOUBLE, 1, &sc));
		NC(nc_put_att_double(g.ncid, names[k], "add_offset", NC_DOUBLE, 1, &off[k]));
		NC(nc_put_att_short(g.ncid, names[k], "_FillValue", NC_SHORT, 1, &fill));
		NC(nc_put_att_short(g.ncid, names[k], "missing_value", NC_SHORT, 1, &fill));
	}
	NC(nc_def_var(g.ncid, "forecast_reference_time", NC_DOUBLE, 0, NULL, &vr));
	put_text(g.ncid, vr, "standard_name", "forecast_reference_time");
	put_text(g.ncid, vr, "units", "hours since 1900-01-01 00:00:00.0");
	grid_coords(&g, 53, -0.25, 5, 0.25);
	tv[0] = ref + 6;
	tv[1] = ref + 7;
	tv[2] = ref + 8;
	NC(nc_put_var_double(g.ncid, g.vt, tv));
	NC(nc_put_var_double(g.ncid, vr, &ref));
	for (int i = 0; i < 12; i++)
		raw[i] = (short)(1000 + i);
	for (int k = 0; k < 6; k++)
		NC(nc_put_var_short(g.ncid, names[k], raw));
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);

	cr_assert(f->is_forecast);
	cr_assert_eq(f->reference_time, utc_from_fields(2020, 1, 1, 0, 0, 0));
	cr_assert_float_eq(f->lead_hours[0], 6, 1e-12);
	cr_assert_float_eq(f->lead_hours[2], 8, 1e-12);
	cr_assert_eq(f->nvars, 6);
	nwp_file_free(f);
	unlink(g.path);
}

Test(netcdf_synth, lead_dimension_and_time_run)
{
	char path[512];
	int ncid, ds, dy, dx, vs, vy, vx, vt, vu, vv, d3[3];
	double steps[3] = { 0, 6, 12 }, lat[2] = { 50, 51 }, lon[2] = { 5, 6 };
	int ref = 1580385600;
	float w[12] = { 0 };

	tmp_path(path, sizeof(path), "step");
	NC(nc_create(path, NC_CLOBBER | NC_64BIT_OFFSET, &ncid));
	NC(nc_def_dim(ncid, "step", 3, &ds));
	NC(nc_def_dim(ncid, "latitude", 2, &dy));
	NC(nc_def_dim(ncid, "longitude", 2, &dx));
	NC(nc_def_var(ncid, "step", NC_DOUBLE, 1, &ds, &vs));
	put_text(ncid, vs, "units", "hours");
	put_text(ncid, vs, "standard_name", "forecast_period");
	NC(nc_def_var(ncid, "latitude", NC_DOUBLE, 1, &dy, &vy));
	put_text(ncid, vy, "standard_name", "latitude");
	NC(nc_def_var(ncid, "longitude", NC_DOUBLE, 1, &dx, &vx));
	put_text(ncid, vx, "standard_name", "longitude");
	NC(nc_def_var(ncid, "time", NC_INT, 0, NULL, &vt));
	put_text(ncid, vt, "standard_name", "forecast_reference_time");
	put_text(ncid, vt, "units", "seconds since 1970-01-01");
	d3[0] = ds;
	d3[1] = dy;
	d3[2] = dx;
	NC(nc_def_var(ncid, "u10", NC_FLOAT, 3, d3, &vu));
	NC(nc_def_var(ncid, "v10", NC_FLOAT, 3, d3, &vv));
	NC(nc_enddef(ncid));
	NC(nc_put_var_double(ncid, vs, steps));
	NC(nc_put_var_double(ncid, vy, lat));
	NC(nc_put_var_double(ncid, vx, lon));
	NC(nc_put_var_int(ncid, vt, &ref));
	NC(nc_put_var_float(ncid, vu, w));
	NC(nc_put_var_float(ncid, vv, w));
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);

	cr_assert(f->is_forecast);
	cr_assert_eq(f->reference_time, ref);
	cr_assert_eq(f->valid_times[2], ref + 12 * 3600);
	cr_assert_float_eq(f->lead_hours[1], 6, 1e-12);
	nwp_file_free(f);
	unlink(path);

	/* per-step time_run (NCSS FMRC form) */
	struct grid g;
	double runs[3] = { 0, 0, 6 }, valid[3] = { 6, 12, 18 };
	int vr, a, b;

	grid_begin(&g, "time_run", NC_CLASSIC_MODEL, 3, 2, 2, "hours since 2020-01-01", NC_DOUBLE);
	NC(nc_def_var(g.ncid, "time_run", NC_DOUBLE, 1, &g.dt, &vr));
	put_text(g.ncid, vr, "standard_name", "forecast_reference_time");
	put_text(g.ncid, vr, "units", "hours since 2020-01-01");
	a = grid_var(&g, "u10", NC_FLOAT);
	b = grid_var(&g, "v10", NC_FLOAT);
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_double(g.ncid, g.vt, valid));
	NC(nc_put_var_double(g.ncid, vr, runs));
	NC(nc_put_var_float(g.ncid, a, w));
	NC(nc_put_var_float(g.ncid, b, w));
	NC(nc_close(g.ncid));
	f = open_ok(g.path);
	cr_assert(f->is_forecast);
	cr_assert_eq(f->reference_time, utc_from_fields(2020, 1, 1, 0, 0, 0));
	cr_assert_float_eq(f->lead_hours[0], 6, 1e-12);
	cr_assert_float_eq(f->lead_hours[2], 12, 1e-12);
	nwp_file_free(f);
	unlink(g.path);

	/* a global attribute */
	grid_begin(&g, "global_ref", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2020-01-01", NC_DOUBLE);
	NC(nc_put_att_text(g.ncid, NC_GLOBAL, "forecast_reference_time", 20,
			   "2019-12-31T18:00:00Z"));
	a = grid_var(&g, "u10", NC_FLOAT);
	b = grid_var(&g, "v10", NC_FLOAT);
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_close(g.ncid));
	f = open_ok(g.path);
	cr_assert(f->is_forecast);
	cr_assert_float_eq(f->lead_hours[0], 6, 1e-12);
	nwp_file_free(f);
	unlink(g.path);
}

/* ---- extra dimensions ---------------------------------------------------------- */

Test(netcdf_synth, expver_collapsed_and_real_extra_dimension_refused)
{
	char path[512];
	int ncid, dt, de, dy, dx, vt, ve, vy, vx, vs, d4[4];
	double t[4] = { 0, 1, 2, 3 }, lat[2] = { 51, 50 }, lon[2] = { 5, 6 };
	int ev[2] = { 1, 5 };
	short fill = -32767, raw[4 * 2 * 4];

	tmp_path(path, sizeof(path), "expver");
	NC(nc_create(path, NC_CLOBBER | NC_64BIT_OFFSET, &ncid));
	NC(nc_def_dim(ncid, "time", 4, &dt));
	NC(nc_def_dim(ncid, "expver", 2, &de));
	NC(nc_def_dim(ncid, "latitude", 2, &dy));
	NC(nc_def_dim(ncid, "longitude", 2, &dx));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2021-07-1");
	NC(nc_def_var(ncid, "expver", NC_INT, 1, &de, &ve));
	NC(nc_def_var(ncid, "latitude", NC_DOUBLE, 1, &dy, &vy));
	put_text(ncid, vy, "units", "degrees_north");
	NC(nc_def_var(ncid, "longitude", NC_DOUBLE, 1, &dx, &vx));
	put_text(ncid, vx, "units", "degrees_east");
	d4[0] = dt;
	d4[1] = de;
	d4[2] = dy;
	d4[3] = dx;
	NC(nc_def_var(ncid, "si10", NC_SHORT, 4, d4, &vs));
	NC(nc_put_att_short(ncid, vs, "_FillValue", NC_SHORT, 1, &fill));
	NC(nc_enddef(ncid));
	for (int ti = 0; ti < 4; ti++)
		for (int e = 0; e < 2; e++)
			for (int c = 0; c < 4; c++)
				raw[(ti * 2 + e) * 4 + c] =
					(ti < 2) == (e == 0) ? (short)(10 * (e + 1)) : fill;
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_put_var_int(ncid, ve, ev));
	NC(nc_put_var_double(ncid, vy, lat));
	NC(nc_put_var_double(ncid, vx, lon));
	NC(nc_put_var_short(ncid, vs, raw));
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);
	double *w = read_all_of(f, NWP_SPEED, 10);

	for (int ti = 0; ti < 4; ti++)
		for (int c = 0; c < 4; c++)
			cr_assert_float_eq(w[ti * 4 + c], ti < 2 ? 10 : 20, 1e-12,
					   "t=%d cell %d", ti, c);
	free(w);
	nwp_file_free(f);
	unlink(path);

	/* an ensemble of 3 members cannot be resolved */
	struct grid g;
	int dm, d[4], vu, vv;
	struct wc_error err = { 0 };

	grid_begin(&g, "members", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2020-01-01", NC_DOUBLE);
	NC(nc_def_dim(g.ncid, "number", 3, &dm));
	d[0] = g.dt;
	d[1] = dm;
	d[2] = g.dy;
	d[3] = g.dx;
	NC(nc_def_var(g.ncid, "u10", NC_FLOAT, 4, d, &vu));
	NC(nc_def_var(g.ncid, "v10", NC_FLOAT, 4, d, &vv));
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_close(g.ncid));
	cr_assert_eq(open_fail(g.path, &err), WC_EUNSUPPORTED);
	cr_assert(strstr(err.msg, "unsupported extra dimension 'number' of size 3"), "%s",
		  err.msg);
	unlink(g.path);

	/* a singleton level dimension is dropped */
	grid_begin(&g, "singleton", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2020-01-01", NC_DOUBLE);
	NC(nc_def_dim(g.ncid, "level", 1, &dm));
	d[1] = dm;
	NC(nc_def_var(g.ncid, "u100", NC_FLOAT, 4, d, &vu));
	NC(nc_def_var(g.ncid, "v100", NC_FLOAT, 4, d, &vv));
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_close(g.ncid));
	f = open_ok(g.path);
	cr_assert_eq(nwp_file_find(f, NWP_U, 100), 0);
	nwp_file_free(f);
	unlink(g.path);
}

/* ---- point files --------------------------------------------------------------- */

Test(netcdf_synth, point_file_one_series_per_station)
{
	char path[512];
	int ncid, ds, dt, dl, vid, vla, vlo, vt, vu, vv, d2[2];
	const char ids[3][8] = { "farm-a", "farm-b", "farm-c" };
	double lat[3] = { 50, 51, 52 }, lon[3] = { 5, 6, 7 }, t[4] = { 0, 1, 2, 3 };
	float u[12], v[12];

	tmp_path(path, sizeof(path), "points");
	NC(nc_create(path, NC_CLOBBER, &ncid));
	put_text(ncid, NC_GLOBAL, "featureType", "timeSeries");
	NC(nc_def_dim(ncid, "station", 3, &ds));
	NC(nc_def_dim(ncid, "time", 4, &dt));
	NC(nc_def_dim(ncid, "name_strlen", 8, &dl));
	d2[0] = ds;
	d2[1] = dl;
	NC(nc_def_var(ncid, "station_id", NC_CHAR, 2, d2, &vid));
	put_text(ncid, vid, "cf_role", "timeseries_id");
	NC(nc_def_var(ncid, "lat", NC_DOUBLE, 1, &ds, &vla));
	put_text(ncid, vla, "units", "degrees_north");
	NC(nc_def_var(ncid, "lon", NC_DOUBLE, 1, &ds, &vlo));
	put_text(ncid, vlo, "units", "degrees_east");
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2012-01-01");
	d2[1] = dt;
	NC(nc_def_var(ncid, "u10", NC_FLOAT, 2, d2, &vu));
	put_text(ncid, vu, "coordinates", "time lat lon");
	NC(nc_def_var(ncid, "v10", NC_FLOAT, 2, d2, &vv));
	NC(nc_enddef(ncid));
	for (int s = 0; s < 3; s++) {
		for (int k = 0; k < 4; k++) {
			u[s * 4 + k] = (float)(10 * s + k);
			v[s * 4 + k] = 0;
		}
	}
	NC(nc_put_var_text(ncid, vid, &ids[0][0]));
	NC(nc_put_var_double(ncid, vla, lat));
	NC(nc_put_var_double(ncid, vlo, lon));
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_put_var_float(ncid, vu, u));
	NC(nc_put_var_float(ncid, vv, v));
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);
	struct site s[] = { { "farm-b", 10, 10, 100 },	/* by id, wherever it is */
			    { "other", 52.1, 7.1, 100 },	/* nearest, ~13 km */
			    { "far", 40, 0, 100 } };
	struct sites_result r;

	cr_assert_eq(f->geometry, NWP_POINTS);
	cr_assert_str_eq(f->station_ids[1], "farm-b");
	r = extract(f, s, 3);
	cr_assert_eq(r.nseries, 2);
	cr_assert_float_eq(site_series_get(&r.series[0], 4, SITE_U10, 3), 13, 1e-9);
	cr_assert_float_eq(site_series_get(&r.series[1], 4, SITE_U10, 2), 22, 1e-9);
	cr_assert(r.series[1].distance_km > 5 && r.series[1].distance_km < 30);
	cr_assert(isnan(site_series_get(&r.series[0], 4, SITE_NBR_MEAN, 0)));
	cr_assert_eq(r.nskipped, 1);
	cr_assert(strstr(r.skipped[0].reason, "no station"), "%s", r.skipped[0].reason);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

/* #13: true latitude/longitude with units "degrees", found by their names */
Test(netcdf_synth, plain_degrees_units)
{
	struct grid g;
	float w[4] = { 1, 2, 3, 4 };
	int vu, vv;

	grid_begin(&g, "degrees", NC_CLASSIC_MODEL, 1, 2, 2, "hours since 2000-01-01", NC_INT);
	put_text(g.ncid, g.vy, "units", "degrees");
	put_text(g.ncid, g.vx, "units", "degrees");
	vu = grid_var(&g, "u10", NC_FLOAT);
	vv = grid_var(&g, "v10", NC_FLOAT);
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_put_var_float(g.ncid, vu, w));
	NC(nc_put_var_float(g.ncid, vv, w));
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);

	cr_assert_eq(f->geometry, NWP_GRID_REGULAR);
	cr_assert_float_eq(f->lat1d[1], 51, 1e-12);
	nwp_file_free(f);
	unlink(g.path);
}

/* Dimensions in another order than (time, lat, lon): read element by element. */
Test(netcdf_synth, transposed_dimension_order)
{
	char path[512];
	int ncid, dt, dy, dx, vt, vy, vx, vu, vv, d3[3];
	double t[2] = { 0, 1 }, lat[3] = { 50, 51, 52 }, lon[2] = { 5, 6 };
	float u[2 * 3 * 2];	/* (lon, lat, time) */

	tmp_path(path, sizeof(path), "transposed");
	NC(nc_create(path, NC_CLOBBER, &ncid));
	NC(nc_def_dim(ncid, "lon", 2, &dx));
	NC(nc_def_dim(ncid, "lat", 3, &dy));
	NC(nc_def_dim(ncid, "time", 2, &dt));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2020-01-01");
	NC(nc_def_var(ncid, "lat", NC_DOUBLE, 1, &dy, &vy));
	NC(nc_def_var(ncid, "lon", NC_DOUBLE, 1, &dx, &vx));
	d3[0] = dx;
	d3[1] = dy;
	d3[2] = dt;
	NC(nc_def_var(ncid, "u10", NC_FLOAT, 3, d3, &vu));
	NC(nc_def_var(ncid, "v10", NC_FLOAT, 3, d3, &vv));
	NC(nc_enddef(ncid));
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < 3; i++)
			for (int k = 0; k < 2; k++)
				u[(j * 3 + i) * 2 + k] = (float)(100 * k + 10 * i + j);
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_put_var_double(ncid, vy, lat));
	NC(nc_put_var_double(ncid, vx, lon));
	NC(nc_put_var_float(ncid, vu, u));
	NC(nc_put_var_float(ncid, vv, u));
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);
	double *w = read_all_of(f, NWP_U, 10);

	cr_assert_eq(f->ny, 3);
	cr_assert_eq(f->nx, 2);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 2; j++)
				cr_assert_float_eq(w[(k * 3 + i) * 2 + j], 100 * k + 10 * i + j,
						   1e-12);
	free(w);
	nwp_file_free(f);
	unlink(path);
}

/* Time blocks follow the chunking: whole chunks along time. */
Test(netcdf_synth, time_block_follows_chunks)
{
	struct grid g;
	size_t chunks[3] = { 4, 2, 2 };
	int vu, vv;

	grid_begin(&g, "chunks", NC_NETCDF4, 10, 2, 2, "hours since 2020-01-01", NC_DOUBLE);
	vu = grid_var(&g, "u10", NC_FLOAT);
	vv = grid_var(&g, "v10", NC_FLOAT);
	NC(nc_def_var_chunking(g.ncid, vu, NC_CHUNKED, chunks));
	NC(nc_def_var_chunking(g.ncid, vv, NC_CHUNKED, chunks));
	NC(nc_def_var_deflate(g.ncid, vu, 0, 1, 1));
	grid_coords(&g, 50, 1, 5, 1);
	NC(nc_close(g.ncid));

	struct nwp_file *f = open_ok(g.path);

	/* room for 9 steps of a 2x2 box: two whole chunks of 4 */
	cr_assert_eq(nwp_file_time_block(f, 0, 2, 2, 36), 8);
	/* room for 3 steps: less than a chunk, blocks of 3 with the chunks cached */
	cr_assert_eq(nwp_file_time_block(f, 0, 2, 2, 12), 3);
	/* room for everything */
	cr_assert_eq(nwp_file_time_block(f, 0, 2, 2, 1000), 10);
	nwp_file_free(f);
	unlink(g.path);
}

/* A single station: scalar latitude/longitude, data over time only. */
Test(netcdf_synth, single_station_point_file)
{
	char path[512];
	int ncid, dt, vt, vla, vlo, vu, vv;
	double t[3] = { 0, 1, 2 }, lat = 55.5, lon = 8.25;
	float u[3] = { 1, 2, 3 }, v[3] = { 0, 0, 0 };

	tmp_path(path, sizeof(path), "station");
	NC(nc_create(path, NC_CLOBBER, &ncid));
	put_text(ncid, NC_GLOBAL, "featureType", "timeSeries");
	NC(nc_def_dim(ncid, "time", 3, &dt));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2020-01-01");
	NC(nc_def_var(ncid, "lat", NC_DOUBLE, 0, NULL, &vla));
	put_text(ncid, vla, "units", "degrees_north");
	NC(nc_def_var(ncid, "lon", NC_DOUBLE, 0, NULL, &vlo));
	put_text(ncid, vlo, "units", "degrees_east");
	NC(nc_def_var(ncid, "u100", NC_FLOAT, 1, &dt, &vu));
	NC(nc_def_var(ncid, "v100", NC_FLOAT, 1, &dt, &vv));
	NC(nc_enddef(ncid));
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_put_var_double(ncid, vla, &lat));
	NC(nc_put_var_double(ncid, vlo, &lon));
	NC(nc_put_var_float(ncid, vu, u));
	NC(nc_put_var_float(ncid, vv, v));
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);
	struct site s = { "horns-rev", 55.52, 8.2, 100 };
	struct sites_result r = extract(f, &s, 1);

	cr_assert_eq(f->geometry, NWP_POINTS);
	cr_assert_eq(f->nx, 1);
	cr_assert_eq(r.nseries, 1);
	cr_assert_float_eq(site_series_get(&r.series[0], 3, SITE_WS100, 2), 3, 1e-12);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

static void mercator_mapping(int ncid, int vp)
{
	double sp = 20, lon0 = -90, R = 6371229;

	put_text(ncid, vp, "grid_mapping_name", "mercator");
	NC(nc_put_att_double(ncid, vp, "standard_parallel", NC_DOUBLE, 1, &sp));
	NC(nc_put_att_double(ncid, vp, "longitude_of_projection_origin", NC_DOUBLE, 1, &lon0));
	NC(nc_put_att_double(ncid, vp, "earth_radius", NC_DOUBLE, 1, &R));
}

/* A Mercator projected grid: sites projected onto x/y; grid axes are east/north. */
Test(netcdf_synth, mercator_projected_grid)
{
	char path[512];
	double xs[5], ys[4];
	float u[20], v[20];
	struct projection p;

	projection_init_mercator(&p, 20, -90, 6371229, 0, 0, NULL);
	for (int j = 0; j < 5; j++)
		xs[j] = -20000 + 10000.0 * j;
	for (int i = 0; i < 4; i++)
		ys[i] = 2400000 + 10000.0 * i;
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 5; j++) {
			u[i * 5 + j] = (float)j;
			v[i * 5 + j] = (float)i;
		}
	}
	tmp_path(path, sizeof(path), "mercator");
	write_projected(path, NC_NETCDF4, "m", xs, 5, ys, 4, u, v, mercator_mapping);

	struct nwp_file *f = open_ok(path);
	double lat, lon;

	cr_assert_eq(f->geometry, NWP_GRID_PROJECTED);
	cr_assert_eq(f->proj.kind, PROJECTION_MERCATOR);
	cr_assert(!f->vars[0].grid_relative, "Mercator grid axes are east and north");
	/* the site at x = 5 km, y = 2415 km: fractional (1.5, 2.5) */
	projection_inverse(&p, 5000, 2415000, &lat, &lon);
	struct site s = { "m", lat, lon, 100 };
	struct sites_result r = extract(f, &s, 1);

	cr_assert_eq(r.nseries, 1);
	cr_assert_float_eq(r.series[0].fy, 1.5, 1e-6);
	cr_assert_float_eq(r.series[0].fx, 2.5, 1e-6);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_U10, 0), 2.5, 1e-6);
	cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_V10, 0), 1.5, 1e-6);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

static void rotated_mapping(int ncid, int vp)
{
	double plat = 40, plon = -170;

	put_text(ncid, vp, "grid_mapping_name", "rotated_latitude_longitude");
	NC(nc_put_att_double(ncid, vp, "grid_north_pole_latitude", NC_DOUBLE, 1, &plat));
	NC(nc_put_att_double(ncid, vp, "grid_north_pole_longitude", NC_DOUBLE, 1, &plon));
}

/* Rotated pole (COSMO-EU's pole at 40 N, 170 W): sites rotated, winds turned. */
Test(netcdf_synth, rotated_pole_grid_relative)
{
	char path[512];
	double rc[9], lat, lon, x0, y0, x1, y1, x2, y2;
	float ones[81], zeros[81];
	struct projection p;
	int ncid, vx, vy;

	projection_init_rotated(&p, 40, -170, 0, NULL);
	projection_inverse(&p, 0, 0, &lat, &lon);
	cr_assert_float_eq(lat, 50, 1e-9, "rotated origin of COSMO-EU");
	cr_assert_float_eq(lon, 10, 1e-9);
	for (int i = 0; i < 9; i++)
		rc[i] = -2 + 0.5 * i;
	for (int i = 0; i < 81; i++) {
		ones[i] = 1;
		zeros[i] = 0;
	}
	tmp_path(path, sizeof(path), "rotated");
	write_projected(path, NC_CLASSIC_MODEL, "degrees", rc, 9, rc, 9, ones, zeros,
			rotated_mapping);
	/* rotated coordinates are grid_latitude/grid_longitude, not projection x/y */
	NC(nc_open(path, NC_WRITE, &ncid));
	NC(nc_redef(ncid));
	NC(nc_inq_varid(ncid, "x", &vx));
	NC(nc_inq_varid(ncid, "y", &vy));
	put_text(ncid, vx, "standard_name", "grid_longitude");
	put_text(ncid, vy, "standard_name", "grid_latitude");
	NC(nc_close(ncid));

	struct nwp_file *f = open_ok(path);

	cr_assert_eq(f->geometry, NWP_GRID_PROJECTED);
	cr_assert_eq(f->proj.kind, PROJECTION_ROTATED);
	cr_assert(f->vars[0].grid_relative);
	projection_inverse(&p, 0.25, 0.25, &lat, &lon);
	struct site s = { "r", lat, lon, 100 };
	struct sites_result r = extract(f, &s, 1);

	cr_assert_eq(r.nseries, 1);
	cr_assert_float_eq(r.series[0].fy, 4.5, 1e-9);
	cr_assert_float_eq(r.series[0].fx, 4.5, 1e-9);
	/* a wind (1, 0) along the rotated grid: its earth components from the directions
	 * of geographic east and north in rotated coordinates (finite differences) */
	projection_forward(&p, lat, lon, &x0, &y0);
	projection_forward(&p, lat, lon + 1e-6, &x1, &y1);
	projection_forward(&p, lat + 1e-6, lon, &x2, &y2);
	{
		double ex = (x1 - x0) * cos(y0 * M_PI / 180), ey = y1 - y0;
		double nx_ = (x2 - x0) * cos(y0 * M_PI / 180), ny_ = y2 - y0;

		/* corners are turned by their own angles (0.2 degrees apart) before the
		 * interpolation, which shortens the vector by about 1e-5 */
		cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_U10, 0),
				   ex / hypot(ex, ey), 1e-4);
		cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_V10, 0),
				   nx_ / hypot(nx_, ny_), 1e-4);
		cr_assert_float_eq(site_series_get(&r.series[0], 1, SITE_WD10, 0),
				   fmod(atan2(-ex / hypot(ex, ey), -nx_ / hypot(nx_, ny_)) * 180 / M_PI +
					360, 360), 1e-3);
	}
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}
