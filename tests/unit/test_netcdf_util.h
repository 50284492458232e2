/* test_netcdf_util.h - helpers shared by the NetCDF and sites tests (header only). */
#ifndef WC_TEST_NETCDF_UTIL_H
#define WC_TEST_NETCDF_UTIL_H

#include <criterion/criterion.h>
#include <netcdf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NC(call)                                                                         \
	do {                                                                             \
		int rc_ = (call);                                                        \
		cr_assert_eq(rc_, NC_NOERR, "%s: %s", #call, nc_strerror(rc_));          \
	} while (0)

/* A per-process path under $TMPDIR (or /tmp) for a test file called `name`. */
static inline void tmp_path(char *buf, size_t len, const char *name)
{
	const char *d = getenv("TMPDIR");

	snprintf(buf, len, "%s/wc-nctest-%d-%s.nc", d && *d ? d : "/tmp", (int)getpid(),
		 name);
}

static inline void put_text(int ncid, int var, const char *name, const char *value)
{
	NC(nc_put_att_text(ncid, var, name, strlen(value), value));
}

/*
 * A small valid ERA5-like file: time(3) x latitude(2) x longitude(2), u10/v10 float.
 * `wind_type` NC_FLOAT normally; other types make the wind variables wrong.
 */
static inline void write_small(const char *path, int cmode, nc_type wind_type, bool text_scale)
{
	int ncid, dt, dy, dx, vt, vy, vx, vu, vv, d3[3];
	double t[3] = { 0, 1, 2 }, lat[2] = { 51, 50 }, lon[2] = { 5, 6 };
	float w[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

	NC(nc_create(path, cmode | NC_CLOBBER, &ncid));
	NC(nc_def_dim(ncid, "time", 3, &dt));
	NC(nc_def_dim(ncid, "latitude", 2, &dy));
	NC(nc_def_dim(ncid, "longitude", 2, &dx));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	put_text(ncid, vt, "units", "hours since 2020-01-01");
	NC(nc_def_var(ncid, "latitude", NC_DOUBLE, 1, &dy, &vy));
	put_text(ncid, vy, "units", "degrees_north");
	NC(nc_def_var(ncid, "longitude", NC_DOUBLE, 1, &dx, &vx));
	put_text(ncid, vx, "units", "degrees_east");
	d3[0] = dt;
	d3[1] = dy;
	d3[2] = dx;
	NC(nc_def_var(ncid, "u10", wind_type, 3, d3, &vu));
	NC(nc_def_var(ncid, "v10", wind_type, 3, d3, &vv));
	if (text_scale)
		put_text(ncid, vu, "scale_factor", "0.1");
	NC(nc_enddef(ncid));
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_put_var_double(ncid, vy, lat));
	NC(nc_put_var_double(ncid, vx, lon));
	if (wind_type == NC_FLOAT) {
		NC(nc_put_var_float(ncid, vu, w));
		NC(nc_put_var_float(ncid, vv, w));
	}
	NC(nc_close(ncid));
}

/* The whole file in a new buffer (caller frees); *n its size. */
static inline char *slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *d;

	cr_assert(fp, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	*n = (size_t)ftell(fp);
	rewind(fp);
	d = malloc(*n ? *n : 1);
	cr_assert_eq(fread(d, 1, *n, fp), *n);
	fclose(fp);
	return d;
}

#endif
