/*
 * test_sites.c - site interpolation against hand-computed values: bilinear weights
 * renormalised over valid corners, nearest along a one-point dimension, the 3x3
 * neighbourhood, direction convention, shear extrapolation, hub height, density, skips.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <netcdf.h>
#include <string.h>

#include "data/netcdf.h"
#include "data/sites.h"
#include "tests/unit/test_netcdf_util.h"

struct field {
	const char *name;
	const float *values;	/* (nt, ny, nx) */
};

/* nt hourly steps on a regular grid: lat0 + i*dlat, lon0 + j*dlon. */
static void write_grid_nt(const char *path, size_t nt, size_t ny, size_t nx, double lat0,
			  double dlat, double lon0, double dlon, const struct field *fields,
			  size_t n)
{
	int ncid, dt, dy, dx, vt, vy, vx, d3[3], v[16];
	double t[64], lat[64], lon[64];
	float fill = NAN;

	NC(nc_create(path, NC_CLOBBER, &ncid));
	NC(nc_def_dim(ncid, "time", nt, &dt));
	NC(nc_def_dim(ncid, "lat", ny, &dy));
	NC(nc_def_dim(ncid, "lon", nx, &dx));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2024-01-01");
	NC(nc_def_var(ncid, "lat", NC_DOUBLE, 1, &dy, &vy));
	put_text(ncid, vy, "units", "degrees_north");
	NC(nc_def_var(ncid, "lon", NC_DOUBLE, 1, &dx, &vx));
	put_text(ncid, vx, "units", "degrees_east");
	d3[0] = dt;
	d3[1] = dy;
	d3[2] = dx;
	for (size_t k = 0; k < n; k++) {
		NC(nc_def_var(ncid, fields[k].name, NC_FLOAT, 3, d3, &v[k]));
		NC(nc_put_att_float(ncid, v[k], "_FillValue", NC_FLOAT, 1, &fill));
	}
	NC(nc_enddef(ncid));
	for (size_t i = 0; i < nt; i++)
		t[i] = (double)i;
	for (size_t i = 0; i < ny; i++)
		lat[i] = lat0 + dlat * (double)i;
	for (size_t j = 0; j < nx; j++)
		lon[j] = lon0 + dlon * (double)j;
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_put_var_double(ncid, vy, lat));
	NC(nc_put_var_double(ncid, vx, lon));
	for (size_t k = 0; k < n; k++)
		NC(nc_put_var_float(ncid, v[k], fields[k].values));
	NC(nc_close(ncid));
}

static void write_grid(const char *path, size_t ny, size_t nx, double lat0, double dlat,
		       double lon0, double dlon, const struct field *fields, size_t n)
{
	write_grid_nt(path, 1, ny, nx, lat0, dlat, lon0, dlon, fields, n);
}

static struct nwp_file *open_path(const char *path)
{
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };

	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	return f;
}

static double col(const struct sites_result *r, size_t s, enum site_column c)
{
	return site_series_get(&r->series[s], r->ntimes, c, 0);
}

static void run(struct nwp_file *f, const struct site *s, size_t n, struct sites_result *r)
{
	struct wc_error err = { 0 };

	cr_assert_eq(sites_extract(f, s, n, NULL, r, &err), WC_OK, "%s", err.msg);
}

Test(sites_interp, bilinear_renormalised_over_valid_corners)
{
	char path[512];
	/* 3x3, u = 10*i + j; v = 0 with one missing corner */
	float u[9] = { 0, 1, 2, 10, 11, 12, 20, 21, 22 };
	float v[9] = { 0, 0, 0, 0, NAN, 0, 0, 0, 0 };
	struct field fl[] = { { "u10", u }, { "v10", v } };
	struct site s[] = { { "a", 50.25, 5.5, 100 }, { "b", 50.75, 5.75, 100 } };
	struct sites_result r;

	tmp_path(path, sizeof(path), "bilinear");
	write_grid(path, 3, 3, 50, 0.5, 5, 1, fl, 2);
	struct nwp_file *f = open_path(path);

	run(f, s, 2, &r);
	cr_assert_eq(r.nseries, 2);
	/* site a: fy = 0.5, fx = 0.5 -> mean of 0, 1, 10, 11 */
	cr_assert_float_eq(col(&r, 0, SITE_U10), 5.5, 1e-12);
	/* v: corner (1,1) missing; the other three are 0 -> 0, not NaN */
	cr_assert_float_eq(col(&r, 0, SITE_V10), 0, 1e-12);
	/* site b: fy = 1.5, fx = 0.75: (1-.5)(1-.75)*10 + .5*.25*20 + .5*.75*21 + 0.25*.5*11 */
	cr_assert_float_eq(col(&r, 1, SITE_U10),
			   0.125 * 10 + 0.375 * 11 + 0.125 * 20 + 0.375 * 21, 1e-12);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

Test(sites_interp, nearest_along_a_one_point_dimension)
{
	char path[512];
	float u[3] = { 1, 2, 3 }, v[3] = { 0, 0, 0 };
	struct field fl[] = { { "u10", u }, { "v10", v } };
	struct site s[] = { { "a", 52.1, 13.5, 100 }, { "b", 53, 13.5, 100 } };
	struct sites_result r;

	tmp_path(path, sizeof(path), "onerow");
	write_grid(path, 1, 3, 52, 0.25, 13, 0.5, fl, 2);
	struct nwp_file *f = open_path(path);

	run(f, s, 2, &r);
	cr_assert_eq(r.nseries, 1, "a site within half a spacing of the only row is inside");
	cr_assert_float_eq(col(&r, 0, SITE_U10), 2, 1e-12);
	cr_assert_eq(r.nskipped, 1);
	cr_assert_eq(r.skipped[0].site, 1);
	cr_assert(strstr(r.skipped[0].reason, "outside the grid (lat 52.00..52.00"), "%s",
		  r.skipped[0].reason);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

Test(sites_derived, direction_neighbourhood_and_density)
{
	char path[512];
	float u[16], v[16], t[16], p[16];
	struct field fl[] = { { "u10", u }, { "v10", v }, { "t2m", t }, { "sp", p } };
	struct site s[] = { { "a", 51, 6, 100 } };	/* exactly on cell (1, 1) */
	struct sites_result r;
	double sum = 0, sum2 = 0;

	for (int i = 0; i < 16; i++) {
		u[i] = (float)(i % 4);	/* wind from the west grows eastwards */
		v[i] = 0;
		t[i] = 280;
		p[i] = 100000;
	}
	tmp_path(path, sizeof(path), "derived");
	write_grid(path, 4, 4, 50, 1, 5, 1, fl, 4);
	struct nwp_file *f = open_path(path);

	run(f, s, 1, &r);
	cr_assert_float_eq(col(&r, 0, SITE_WS10), 1, 1e-12);
	cr_assert_float_eq(col(&r, 0, SITE_WD10), 270, 1e-9, "from the west");
	/* 3x3 around (1,1): columns 0,1,2 on three rows */
	for (int j = 0; j < 3; j++) {
		sum += 3 * j;
		sum2 += 3 * j * j;
	}
	cr_assert_float_eq(col(&r, 0, SITE_NBR_MEAN), sum / 9, 1e-12);
	cr_assert_float_eq(col(&r, 0, SITE_NBR_STD), sqrt(sum2 / 9 - (sum / 9) * (sum / 9)),
			   1e-12);
	cr_assert_float_eq(col(&r, 0, SITE_RHO), 100000 / (287.05 * 280), 1e-12);
	/* a single height of 10 m: 100 m and hub extrapolated with alpha = 1/7 */
	cr_assert_float_eq(col(&r, 0, SITE_WS100), pow(10, 1.0 / 7), 1e-12);
	cr_assert(r.series[0].derived & (1u << SITE_WS100));
	cr_assert(!(r.series[0].derived & (1u << SITE_WS10)));
	cr_assert_float_eq(col(&r, 0, SITE_WD100), 270, 1e-9);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

Test(sites_derived, direction_convention)
{
	static const struct {
		float u, v;
		double wd;
	} cases[] = { { 0, -5, 0 }, { -5, 0, 90 }, { 0, 5, 180 }, { 5, 0, 270 },
		      { 1, 1, 225 } };

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char path[512];
		float u[4], v[4];
		struct field fl[] = { { "u100", u }, { "v100", v } };
		struct site s = { "a", 50.5, 5.5, 100 };
		struct sites_result r;

		for (int i = 0; i < 4; i++) {
			u[i] = cases[k].u;
			v[i] = cases[k].v;
		}
		tmp_path(path, sizeof(path), "direction");
		write_grid(path, 2, 2, 50, 1, 5, 1, fl, 2);
		struct nwp_file *f = open_path(path);

		run(f, &s, 1, &r);
		cr_assert_float_eq(col(&r, 0, SITE_WD100), cases[k].wd, 1e-9, "u=%g v=%g",
				   cases[k].u, cases[k].v);
		sites_result_release(&r);
		nwp_file_free(f);
		unlink(path);
	}
}

Test(sites_derived, shear_between_two_heights_and_one_odd_height)
{
	char path[512];
	float u10[4] = { 5, 5, 5, 5 }, u100[4] = { 8, 8, 8, 8 }, zero[4] = { 0, 0, 0, 0 };
	struct field fl[] = { { "u10", u10 }, { "v10", zero }, { "u100", u100 },
			      { "v100", zero } };
	struct site s = { "a", 50.5, 5.5, 120 };
	struct sites_result r;
	double alpha = log(8.0 / 5.0) / log(10.0);

	tmp_path(path, sizeof(path), "shear");
	write_grid(path, 2, 2, 50, 1, 5, 1, fl, 4);
	struct nwp_file *f = open_path(path);

	run(f, &s, 1, &r);
	cr_assert_float_eq(col(&r, 0, SITE_WS_HUB), 8 * pow(1.2, alpha), 1e-12);
	cr_assert_float_eq(col(&r, 0, SITE_WS10), 5, 1e-12);
	cr_assert_eq(r.series[0].derived, 1u << SITE_WS_HUB);
	cr_assert_float_eq(r.nbr_height_m, 100, 0);
	/* the speed and direction at every height of the file */
	cr_assert_eq(r.nheights, 2);
	cr_assert_float_eq(r.series[0].ws_h[0 * r.ntimes], 5, 1e-12);
	cr_assert_float_eq(r.series[0].ws_h[1 * r.ntimes], 8, 1e-12);
	cr_assert_float_eq(r.series[0].wd_h[1 * r.ntimes], 270, 1e-9);
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);

	/* MERRA-2 style: only 50 m */
	float u50[4] = { 6, 6, 6, 6 };
	struct field fl50[] = { { "U50M", u50 }, { "V50M", zero } };

	write_grid(path, 2, 2, 50, 1, 5, 1, fl50, 2);
	f = open_path(path);
	run(f, &s, 1, &r);
	cr_assert_eq(r.nheights, 1);
	cr_assert_float_eq(r.heights_m[0], 50, 0);
	cr_assert_float_eq(col(&r, 0, SITE_WS10), 6 * pow(0.2, 1.0 / 7), 1e-12);
	cr_assert_float_eq(col(&r, 0, SITE_WS100), 6 * pow(2.0, 1.0 / 7), 1e-12);
	cr_assert_float_eq(col(&r, 0, SITE_U100), 6 * pow(2.0, 1.0 / 7), 1e-12);
	cr_assert(r.series[0].derived & (1u << SITE_WS10));
	cr_assert(r.series[0].derived & (1u << SITE_U100));
	cr_assert(isnan(col(&r, 0, SITE_T2M)));
	cr_assert(isnan(col(&r, 0, SITE_RHO)));
	sites_result_release(&r);
	nwp_file_free(f);
	unlink(path);
}

Test(sites_extract, speed_only_and_invalid_sites)
{
	char path[512];
	float w[4] = { 3, 3, 3, 3 };
	struct field fl[] = { { "si10", w } };
	struct site s[] = { { "a", 50.5, 5.5, 100 }, { "b", NAN, 5, 100 }, { "c", 95, 5, 100 } };
	struct sites_result r;

	tmp_path(path, sizeof(path), "speedonly");
	write_grid(path, 2, 2, 50, 1, 5, 1, fl, 1);
	struct nwp_file *f = open_path(path);

	run(f, s, 3, &r);
	cr_assert_eq(r.nseries, 1);
	cr_assert_float_eq(col(&r, 0, SITE_WS10), 3, 1e-12);
	cr_assert(isnan(col(&r, 0, SITE_U10)) && isnan(col(&r, 0, SITE_WD10)),
		  "direction is unknown without components");
	cr_assert_eq(r.nskipped, 2);
	cr_assert_str_eq(r.skipped[0].reason, "invalid coordinates");
	sites_result_release(&r);
	sites_result_release(&r);	/* idempotent */
	nwp_file_free(f);
	unlink(path);
}

Test(sites_extract, time_windows)
{
	char path[512];
	float u[20];
	struct field fl[] = { { "u10", u }, { "v10", u } };
	struct site s = { "a", 50.5, 5.5, 100 };
	struct sites_options o = { 0 };
	struct sites_result r;
	struct wc_error err = { 0 };

	for (int i = 0; i < 20; i++)
		u[i] = (float)(i / 4);	/* the time index */
	tmp_path(path, sizeof(path), "windows");
	write_grid_nt(path, 5, 2, 2, 50, 1, 5, 1, fl, 2);
	struct nwp_file *f = open_path(path);

	o.time_first = 3;
	cr_assert_eq(sites_extract(f, &s, 1, &o, &r, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(r.ntimes, 2);
	cr_assert_eq(r.valid_times[0], r.valid_times[1] - 3600);
	cr_assert_float_eq(site_series_get(&r.series[0], r.ntimes, SITE_U10, 0), 3, 1e-12);
	cr_assert_float_eq(site_series_get(&r.series[0], r.ntimes, SITE_U10, 1), 4, 1e-12);
	sites_result_release(&r);
	o.time_first = 1;
	o.time_count = 2;
	cr_assert_eq(sites_extract(f, &s, 1, &o, &r, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(r.ntimes, 2);
	cr_assert_float_eq(site_series_get(&r.series[0], r.ntimes, SITE_U10, 1), 2, 1e-12);
	sites_result_release(&r);
	o.time_first = 4;
	o.time_count = 2;
	cr_assert_eq(sites_extract(f, &s, 1, &o, &r, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "outside"), "%s", err.msg);
	nwp_file_free(f);
	unlink(path);
}
