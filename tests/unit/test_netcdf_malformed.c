/*
 * test_netcdf_malformed.c - broken input gives a clear error, never a crash or an
 * allocation sized by the file: zero-length, random bytes, truncated files (from a path
 * and from memory), huge dimension sizes, wrong variable and attribute types.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <netcdf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/netcdf.h"
#include "data/sites.h"
#include "tests/unit/test_netcdf_util.h"

/* Open from memory; on success also extract a site so that read errors show up. */
static enum wc_status try_mem(const char *label, const void *data, size_t n,
			      struct wc_error *err)
{
	struct nwp_file *f = NULL;
	enum wc_status st = nwp_file_open_mem(&f, label, data, n, err);

	if (st == WC_OK) {
		struct site s = { "x", 50.5, 5.5, 100 };
		struct sites_result r;

		st = sites_extract(f, &s, 1, NULL, &r, err);
		if (st == WC_OK)
			sites_result_release(&r);
		nwp_file_free(f);
	} else {
		cr_assert_null(f);
	}
	return st;
}

Test(netcdf_malformed, zero_length)
{
	char path[512];
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };
	FILE *fp;

	cr_assert_eq(nwp_file_open_mem(&f, "empty.nc", "", 0, &err), WC_EFORMAT);
	cr_assert_str_eq(err.msg, "cannot open 'empty.nc': empty file");
	tmp_path(path, sizeof(path), "empty");
	fp = fopen(path, "wb");
	fclose(fp);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_ENETCDF);
	cr_assert(strstr(err.msg, "cannot open 'wc-nctest-"), "%s", err.msg);
	cr_assert(strstr(err.msg, "not a netCDF file"), "%s", err.msg);
	cr_assert_null(f);
	unlink(path);
	cr_assert_eq(nwp_file_open(&f, "/nonexistent/x.nc", &err), WC_ENETCDF);
	cr_assert(strstr(err.msg, "cannot open 'x.nc'"), "%s", err.msg);
}

Test(netcdf_malformed, random_bytes)
{
	static const char *const magic[] = { "", "CDF\x01", "CDF\x02", "\x89HDF\r\n\x1a\n" };
	uint64_t x = 0x9E3779B97F4A7C15u;
	enum { N = 8192 };
	unsigned char *buf = malloc(N);

	for (int m = 0; m < 4; m++) {
		for (int it = 0; it < 25; it++) {
			struct wc_error err = { 0 };
			size_t len = 16 + (size_t)(it * 331) % (N - 16);

			for (size_t i = 0; i < N; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[i] = (unsigned char)x;
			}
			memcpy(buf, magic[m], strlen(magic[m]));
			cr_assert_neq(try_mem("random.nc", buf, len, &err), WC_OK);
			cr_assert(strstr(err.msg, "random.nc"), "%s", err.msg);
		}
	}
	free(buf);
}

static void check_truncations(int cmode, const char *name)
{
	char path[512], tpath[512];
	size_t n;
	char *data;

	tmp_path(path, sizeof(path), name);
	tmp_path(tpath, sizeof(tpath), "truncated");
	write_small(path, cmode, NC_FLOAT, false);
	data = slurp(path, &n);
	for (size_t cut = 1; cut < n; cut += cut < 64 ? 7 : cut < 2048 ? 61 : 509) {
		struct wc_error err = { 0 };
		struct nwp_file *f = NULL;
		FILE *fp;

		cr_assert_neq(try_mem(name, data, cut, &err), WC_OK, "%s cut at %zu of %zu",
			      name, cut, n);
		cr_assert(strstr(err.msg, name), "%s", err.msg);
		fp = fopen(tpath, "wb");
		cr_assert_eq(fwrite(data, 1, cut, fp), cut);
		fclose(fp);
		if (nwp_file_open(&f, tpath, &err) == WC_OK) {
			struct site s = { "x", 50.5, 5.5, 100 };
			struct sites_result r;

			cr_assert_neq(sites_extract(f, &s, 1, NULL, &r, &err), WC_OK,
				      "%s from a path cut at %zu of %zu", name, cut, n);
			nwp_file_free(f);
		}
	}
	free(data);
	unlink(path);
	unlink(tpath);
}

Test(netcdf_malformed, truncated_classic) { check_truncations(NC_CLASSIC_MODEL, "classic"); }
Test(netcdf_malformed, truncated_64bit) { check_truncations(NC_64BIT_OFFSET, "offset64"); }
Test(netcdf_malformed, truncated_netcdf4) { check_truncations(NC_NETCDF4, "nc4"); }

Test(netcdf_malformed, huge_dimension_in_classic_header)
{
	char path[512];
	size_t n;
	char *data;
	struct wc_error err = { 0 };

	tmp_path(path, sizeof(path), "hugehdr");
	write_small(path, NC_CLASSIC_MODEL, NC_FLOAT, false);
	data = slurp(path, &n);
	/* header: magic, numrecs, NC_DIMENSION, ndims, then "time" (len 4) and its size */
	cr_assert_eq(memcmp(data + 20, "time", 4), 0);
	data[24] = 0x7f;
	data[25] = (char)0xff;
	data[26] = (char)0xff;
	data[27] = (char)0xf0;
	cr_assert_neq(try_mem("huge.nc", data, n, &err), WC_OK);
	cr_assert(strstr(err.msg, "huge.nc"), "%s", err.msg);
	free(data);
	unlink(path);
}

/* netCDF-4 with dimensions declared but no field data written: the file is tiny. */
static void write_declared(const char *path, size_t nt, size_t ny, size_t nx)
{
	int ncid, dt, dy, dx, vt, vy, vx, vu, vv, d3[3];
	size_t chunks[3] = { 1, 1, 1 };
	double lat[2] = { 51, 50 }, lon[2] = { 5, 6 };

	NC(nc_create(path, NC_NETCDF4 | NC_CLOBBER, &ncid));
	NC(nc_def_dim(ncid, "time", nt, &dt));
	NC(nc_def_dim(ncid, "latitude", ny, &dy));
	NC(nc_def_dim(ncid, "longitude", nx, &dx));
	NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
	NC(nc_def_var_chunking(ncid, vt, NC_CHUNKED, chunks));
	put_text(ncid, vt, "units", "hours since 2020-01-01");
	NC(nc_def_var(ncid, "latitude", NC_DOUBLE, 1, &dy, &vy));
	NC(nc_def_var_chunking(ncid, vy, NC_CHUNKED, chunks));
	put_text(ncid, vy, "units", "degrees_north");
	NC(nc_def_var(ncid, "longitude", NC_DOUBLE, 1, &dx, &vx));
	NC(nc_def_var_chunking(ncid, vx, NC_CHUNKED, chunks));
	put_text(ncid, vx, "units", "degrees_east");
	d3[0] = dt;
	d3[1] = dy;
	d3[2] = dx;
	NC(nc_def_var(ncid, "u10", NC_FLOAT, 3, d3, &vu));
	NC(nc_def_var_chunking(ncid, vu, NC_CHUNKED, chunks));
	NC(nc_def_var(ncid, "v10", NC_FLOAT, 3, d3, &vv));
	NC(nc_def_var_chunking(ncid, vv, NC_CHUNKED, chunks));
	NC(nc_enddef(ncid));
	if (ny == 2 && nx == 2) {
		NC(nc_put_var_double(ncid, vy, lat));
		NC(nc_put_var_double(ncid, vx, lon));
	}
	NC(nc_close(ncid));
}

Test(netcdf_malformed, huge_dimensions_refused_before_allocating)
{
	char path[512];
	struct wc_error err = { 0 };
	struct nwp_file *f = NULL;

	tmp_path(path, sizeof(path), "hugedims");
	write_declared(path, 2000000000, 2, 2);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_ETOOLARGE, "%s", err.msg);
	cr_assert(strstr(err.msg, "2000000000 time steps"), "%s", err.msg);
	write_declared(path, 1, 100000, 100000);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_ETOOLARGE, "%s", err.msg);
	cr_assert(strstr(err.msg, "too large"), "%s", err.msg);
	cr_assert_null(f);
	unlink(path);
}

Test(netcdf_malformed, wrong_variable_and_attribute_types)
{
	char path[512];
	struct wc_error err = { 0 };
	struct nwp_file *f = NULL;

	tmp_path(path, sizeof(path), "types");
	write_small(path, NC_CLASSIC_MODEL, NC_CHAR, false);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "no usable near-surface wind"), "%s", err.msg);
	write_small(path, NC_NETCDF4, NC_STRING, false);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "no usable near-surface wind"), "%s", err.msg);
	write_small(path, NC_CLASSIC_MODEL, NC_FLOAT, true);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "invalid scale_factor on 'u10'"), "%s", err.msg);
	cr_assert_null(f);
	unlink(path);
}

Test(netcdf_malformed, bad_coordinates_and_times)
{
	char path[512];
	int ncid, vy, vt;
	double lat[2] = { 50, 50 }, t[3] = { 0, NAN, 2 };
	struct wc_error err = { 0 };
	struct nwp_file *f = NULL;

	tmp_path(path, sizeof(path), "coords");
	write_small(path, NC_CLASSIC_MODEL, NC_FLOAT, false);
	NC(nc_open(path, NC_WRITE, &ncid));
	NC(nc_inq_varid(ncid, "latitude", &vy));
	NC(nc_put_var_double(ncid, vy, lat));
	NC(nc_close(ncid));
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "invalid coordinate 'latitude'"), "%s", err.msg);

	write_small(path, NC_CLASSIC_MODEL, NC_FLOAT, false);
	NC(nc_open(path, NC_WRITE, &ncid));
	NC(nc_inq_varid(ncid, "time", &vt));
	NC(nc_put_var_double(ncid, vt, t));
	NC(nc_close(ncid));
	cr_assert_neq(nwp_file_open(&f, path, &err), WC_OK);
	cr_assert(strstr(err.msg, "cannot decode time 'time'"), "%s", err.msg);
	unlink(path);
}

/*
 * A WRF MAP_PROJ far outside int (found by fuzz_netcdf: 1.29e10 was converted to int,
 * undefined behaviour) or not whole is no projection code: the file opens as the plain
 * latitude/longitude grid it is.
 */
Test(netcdf_malformed, absurd_wrf_map_proj)
{
	static const double bad[] = { 1.28917e10, -3e9, 1.5, 1e300 };
	char path[512];
	struct wc_error err = { 0 };
	struct nwp_file *f = NULL;
	int ncid;

	tmp_path(path, sizeof(path), "mapproj");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_small(path, NC_CLASSIC_MODEL, NC_FLOAT, false);
		NC(nc_open(path, NC_WRITE, &ncid));
		NC(nc_redef(ncid));
		NC(nc_put_att_double(ncid, NC_GLOBAL, "MAP_PROJ", NC_DOUBLE, 1, &bad[i]));
		NC(nc_close(ncid));
		cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "MAP_PROJ %g: %s", bad[i],
			     err.msg);
		cr_assert_eq(f->ntimes, 3);
		nwp_file_free(f);
		f = NULL;
	}
	unlink(path);
}
