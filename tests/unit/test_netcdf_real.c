/*
 * test_netcdf_real.c - every real file of ../shared/grids read and interpolated at a few
 * sites, checked against an independent Python reference (tests/ref/ref_sites.py,
 * python3-netCDF4 + numpy) to 1e-4 m/s; the file without near-surface wind is rejected.
 * Skips when $WINDCAST_SHARED or the Python modules are absent.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/netcdf.h"
#include "data/sites.h"
#include "testutil.h"

struct real_case {
	const char *name;
	const char *sites[4];	/* "lat,lon,hub"; the last one is outside the domain */
	bool forecast;
};

static const struct real_case cases[] = {
	{ "era5_cds_legacy_feedinlib", { "52.5,13.2,120", "52.4,13.5,100", "52.59,13.59,80",
					 "50,10,100" }, false },
	{ "era5_cds_expver_bushyr", { "-37.8,145.0,100", "-36.0,141.5,100",
				      "-39.0,149.9,100", "-30,145,100" }, false },
	{ "era5_cds_new_netcdf4_atik", { "23.7,90.4,100", "20.1,92.9,100", "27.5,88.3,100",
					 "10,90,100" }, false },
	{ "era5_ws10_ushort_reskit", { "50.5,6.1,100", "51.9,7.4,100", "49.2,5.3,100",
				       "48,6,100" }, false },
	{ "gfs_cfgrib_step_routing", { "52.3,4.8,100", "53.9,7.2,100", "51.0,4.0,100",
				       "52,10,100" }, true },
	{ "gfs_wgrib2_routing", { "52.0,4.3,100", "51.2,1.1,100", "53.5,6.4,100",
				  "52,-3,100" }, true },
	{ "nam_ncss_lcc_windninja", { "43.5,-113.5,100", "44.5,-114.5,100",
				      "43.0,-112.5,100", "40,-100,100" }, false },
	{ "arome_lcc_nc4classic_opendrift", { "62.0,5.0,100", "61.2,3.5,100",
					      "63.0,6.0,100", "59,10,100" }, false },
	{ "wrf_mercator_ci_wrfpython", { "23.5,-89.5,100", "22.5,-91.0,100",
					 "25.0,-88.0,100", "30,-80,100" }, true },
};

static bool shared_file(const char *name, char *path, size_t len)
{
	const char *shared = tu_shared(), *env = getenv("WINDCAST_SHARED");

	snprintf(path, len, "%s/grids/%s.nc",
		 shared ? shared : env && *env ? env : "../shared", name);
	return shared && access(path, R_OK) == 0;
}

static json_t *run_reference(const char *path, const char *const *sites, size_t n)
{
	char cmd[4096];
	size_t used, len = 0, cap = 1 << 20;
	char *out = malloc(cap);
	FILE *p;
	json_t *j;

	used = (size_t)snprintf(cmd, sizeof(cmd), "%s %s/tests/ref/ref_sites.py '%s'",
				tu_python(), tu_src(), path);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " %s", sites[i]);
	p = popen(cmd, "r");
	cr_assert(p && out, "cannot run '%s'", cmd);
	for (;;) {
		size_t r;

		if (len + 65536 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			cr_assert(out);
		}
		r = fread(out + len, 1, cap - len - 1, p);
		if (r == 0)
			break;
		len += r;
	}
	out[len] = '\0';
	cr_assert_eq(pclose(p), 0, "reference failed: %s", cmd);
	j = json_loads(out, 0, NULL);
	free(out);
	cr_assert(j, "reference output is not JSON");
	return j;
}

static bool python_ready(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s -c 'import netCDF4, numpy' >/dev/null 2>&1",
		 tu_python());
	return system(cmd) == 0;
}

static int column_of(const char *name)
{
	for (int c = 0; c < SITE_NCOLUMNS; c++)
		if (strcmp(site_column_name((enum site_column)c), name) == 0)
			return c;
	return -1;
}

static void check_case(const struct real_case *rc)
{
	char path[1024];
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };
	struct sites_result r;
	struct site sites[4];
	json_t *ref, *times, *jsites;
	double maxdiff = 0;
	size_t k = 0;

	if (!shared_file(rc->name, path, sizeof(path)))
		cr_skip_test("'%s' not found: set WINDCAST_SHARED to the shared folder", path);
	if (!python_ready())
		cr_skip_test("python3-netCDF4/numpy not available for the reference");
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(f->is_forecast, rc->forecast, "%s: forecast flag", rc->name);
	for (int i = 0; i < 4; i++) {
		sites[i].id = rc->sites[i];
		sscanf(rc->sites[i], "%lf,%lf,%lf", &sites[i].lat, &sites[i].lon,
		       &sites[i].hub_height_m);
	}
	cr_assert_eq(sites_extract(f, sites, 4, NULL, &r, &err), WC_OK, "%s", err.msg);
	ref = run_reference(path, rc->sites, 4);
	times = json_object_get(ref, "times");
	cr_assert_eq(json_array_size(times), r.ntimes, "%s: number of times", rc->name);
	for (size_t t = 0; t < r.ntimes; t++)
		cr_assert_eq((long long)json_integer_value(json_array_get(times, t)),
			     (long long)r.valid_times[t], "%s: time %zu", rc->name, t);
	if (rc->forecast)
		cr_assert_eq((long long)json_integer_value(json_object_get(ref,
								"reference_time")),
			     (long long)f->reference_time, "%s: reference time", rc->name);
	jsites = json_object_get(ref, "sites");
	for (size_t s = 0; s < 4; s++) {
		json_t *js = json_array_get(jsites, s), *cols;
		const char *key;
		json_t *vals;
		bool inside = json_is_true(json_object_get(js, "inside"));

		cr_assert_eq(inside, s < 3, "%s: reference says site %zu inside=%d", rc->name,
			     s, inside);
		if (!inside) {
			cr_assert(k >= r.nseries || r.series[k].site != s,
				  "%s: site %zu should be skipped", rc->name, s);
			continue;
		}
		cr_assert(k < r.nseries && r.series[k].site == s, "%s: site %zu missing",
			  rc->name, s);
		cols = json_object_get(js, "cols");
		json_object_foreach(cols, key, vals) {
			int c = column_of(key);
			double tol = c == SITE_SP ? 1e-3 : c == SITE_WD10 || c == SITE_WD100 ?
				     1e-3 : 1e-4;

			cr_assert(c >= 0, "unknown reference column '%s'", key);
			for (size_t t = 0; t < r.ntimes; t++) {
				json_t *jv = json_array_get(vals, t);
				double got = site_series_get(&r.series[k], r.ntimes,
							     (enum site_column)c, t);
				double want = json_is_null(jv) ? NAN : json_real_value(jv);
				double d;

				if (isnan(want)) {
					cr_assert(isnan(got), "%s site %zu %s t=%zu: got %g, "
						  "want missing", rc->name, s, key, t, got);
					continue;
				}
				cr_assert(!isnan(got), "%s site %zu %s t=%zu: missing, want %g",
					  rc->name, s, key, t, want);
				d = fabs(got - want);
				if (c == SITE_WD10 || c == SITE_WD100) {
					d = fmin(d, 360 - d);
					if (r.series[k].values[(c == SITE_WD10 ? SITE_WS10 :
								SITE_WS100) * r.ntimes + t] < 0.01)
						continue;
				}
				if (c != SITE_SP && d > maxdiff)
					maxdiff = d;
				cr_assert(d <= tol, "%s site %zu %s t=%zu: got %.8f want %.8f",
					  rc->name, s, key, t, got, want);
			}
		}
		k++;
	}
	cr_log_info("%s: %zu sites x %zu times, max |difference| %.3g", rc->name,
		    r.nseries, r.ntimes, maxdiff);
	json_decref(ref);
	sites_result_release(&r);
	nwp_file_free(f);
}

Test(netcdf_real, era5_cds_legacy_feedinlib) { check_case(&cases[0]); }
Test(netcdf_real, era5_cds_expver_bushyr) { check_case(&cases[1]); }
Test(netcdf_real, era5_cds_new_netcdf4_atik) { check_case(&cases[2]); }
Test(netcdf_real, era5_ws10_ushort_reskit) { check_case(&cases[3]); }
Test(netcdf_real, gfs_cfgrib_step_routing) { check_case(&cases[4]); }
Test(netcdf_real, gfs_wgrib2_routing) { check_case(&cases[5]); }
Test(netcdf_real, nam_ncss_lcc_windninja) { check_case(&cases[6]); }
Test(netcdf_real, arome_lcc_nc4classic_opendrift) { check_case(&cases[7]); }
Test(netcdf_real, wrf_mercator_ci_wrfpython) { check_case(&cases[8]); }

Test(netcdf_real, ncep_upper_air_rejected)
{
	char path[1024];
	struct nwp_file *f = NULL;
	struct wc_error err = { 0 };

	if (!shared_file("ncep_psl_composite_uwnd", path, sizeof(path)))
		cr_skip_test("'%s' not found: set WINDCAST_SHARED to the shared folder", path);
	cr_assert_eq(nwp_file_open(&f, path, &err), WC_EFORMAT);
	cr_assert_null(f);
	cr_assert(strstr(err.msg, "no usable near-surface wind in 'ncep_psl_composite_uwnd.nc'"),
		  "%s", err.msg);
	cr_assert(strstr(err.msg, "250mb"), "%s", err.msg);
	cr_assert(strstr(err.msg, "u10"), "%s", err.msg);
}

/* Every real file also opens from memory with the same description. */
Test(netcdf_real, open_from_memory)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[1024], d1[1024], d2[1024];
		struct nwp_file *a = NULL, *b = NULL;
		struct wc_error err = { 0 };
		FILE *fp;
		long size;
		char *data;

		if (!shared_file(cases[i].name, path, sizeof(path)))
			cr_skip_test("'%s' not found: set WINDCAST_SHARED", path);
		fp = fopen(path, "rb");
		cr_assert(fp);
		fseek(fp, 0, SEEK_END);
		size = ftell(fp);
		rewind(fp);
		data = malloc((size_t)size);
		cr_assert_eq(fread(data, 1, (size_t)size, fp), (size_t)size);
		fclose(fp);
		cr_assert_eq(nwp_file_open(&a, path, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(nwp_file_open_mem(&b, cases[i].name, data, (size_t)size, &err),
			     WC_OK, "%s: %s", cases[i].name, err.msg);
		nwp_file_describe(a, d1, sizeof(d1));
		nwp_file_describe(b, d2, sizeof(d2));
		cr_assert_str_eq(d1, d2);
		nwp_file_free(a);
		nwp_file_free(b);
		free(data);
	}
}
