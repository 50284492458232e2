/*
 * test_synth.c - the synthetic data generator (data/synth.h) and `windcast demo-data`:
 * files open with netcdf-c and decode to the intended values and times, the same seed
 * gives the same bytes, observations stay in [0, capacity], forecast errors grow with
 * lead. Small data sets (a few days) keep it fast under the sanitizers.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/synth.h"
#include "testutil.h"

#define NC_OK(call) nc_ok((call), #call)

static void nc_ok(int rc, const char *what)
{
	cr_assert_eq(rc, NC_NOERR, "%s: %s", what, nc_strerror(rc));
}

static struct synth *make(int days, int nfarms, uint64_t seed)
{
	struct synth_config cfg;
	struct synth *s = NULL;
	struct wc_error err = { 0 };

	synth_config_init(&cfg);
	cfg.days = days;
	cfg.nfarms = nfarms;
	cfg.seed = seed;
	cr_assert_eq(synth_new(&cfg, &s, &err), WC_OK, "synth_new: %s", wc_error_msg(&err));
	return s;
}

static double *forecast(const struct synth *s, int run)
{
	const struct synth_grid *g = synth_grid(s);
	size_t n = (size_t)SYNTH_NVARS * SYNTH_LEADS * g->nlat * g->nlon;
	double *d = malloc(n * sizeof(*d));
	struct wc_error err = { 0 };

	cr_assert_not_null(d);
	cr_assert_eq(synth_forecast_grid(s, run, d, &err), WC_OK, "%s", wc_error_msg(&err));
	return d;
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", dir, name) >= 0);
	return p;
}

static char *text_att(int ncid, int varid, const char *name)
{
	size_t len;
	char *v;

	NC_OK(nc_inq_attlen(ncid, varid, name, &len));
	v = calloc(len + 1, 1);
	cr_assert_not_null(v);
	NC_OK(nc_get_att_text(ncid, varid, name, v));
	return v;
}

static void assert_text_att(int ncid, int varid, const char *name, const char *want)
{
	char *v = text_att(ncid, varid, name);

	cr_assert_str_eq(v, want, "attribute '%s': '%s', want '%s'", name, v, want);
	free(v);
}

Test(synth, config_is_validated)
{
	struct synth_config cfg;
	struct synth *s = NULL;
	struct wc_error err = { 0 };

	synth_config_init(&cfg);
	cfg.days = 0;
	cr_assert_eq(synth_new(&cfg, &s, &err), WC_EINVAL);
	cr_assert_null(s);
	cr_assert(strstr(err.msg, "days"), "message: %s", err.msg);
	synth_config_init(&cfg);
	cfg.nfarms = SYNTH_MAX_FARMS + 1;
	cr_assert_eq(synth_new(&cfg, &s, &err), WC_EINVAL);
	synth_config_init(&cfg);
	cfg.start += 6 * UTC_HOUR;
	cr_assert_eq(synth_new(&cfg, &s, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "start"), "message: %s", err.msg);
}

Test(synth, farms_and_grid)
{
	struct synth *s = make(2, SYNTH_MAX_FARMS, 1);
	const struct synth_grid *g = synth_grid(s);
	double south = g->lat_north - (g->nlat - 1) * g->step;
	double east = g->lon_west + (g->nlon - 1) * g->step;

	cr_assert_eq(synth_nruns(s), 4);
	for (double la = -90.0; la <= 90.0; la += 7.5) {
		struct synth_wx wx;

		synth_truth(s, la, 8.0, (double)synth_config(s)->start, &wx);
		cr_assert(isfinite(wx.u10) && isfinite(wx.v100) && isfinite(wx.t2m) &&
			  isfinite(wx.sp), "truth not finite at latitude %g", la);
	}
	cr_assert_eq(synth_run_time(s, 3), synth_config(s)->start + 36 * UTC_HOUR);
	cr_assert_null(synth_farm(s, SYNTH_MAX_FARMS));
	for (int i = 0; i < SYNTH_MAX_FARMS; i++) {
		const struct synth_farm *f = synth_farm(s, i);

		cr_assert(f->lat >= south + 1.0 - 1e-9 && f->lat <= g->lat_north - 1.0 + 1e-9,
			  "farm '%s' not a degree inside the grid", f->id);
		cr_assert(f->lon >= g->lon_west + 1.0 - 1e-9 && f->lon <= east - 1.0 + 1e-9);
		cr_assert_eq(strspn(f->id, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(f->id),
			     "id '%s' is not a slug", f->id);
		cr_assert(f->capacity_mw > 0 && f->hub_height_m > 0);
		cr_assert_float_eq(synth_power_curve(f, f->cut_in - 0.1), 0.0, 1e-12);
		cr_assert_float_eq(synth_power_curve(f, f->rated + 0.1), 1.0, 1e-12);
		cr_assert_float_eq(synth_power_curve(f, f->cut_out + 0.1), 0.0, 1e-12);
		for (double w = f->cut_in; w < f->rated; w += 0.5)
			cr_assert(synth_power_curve(f, w + 0.5) > synth_power_curve(f, w),
				  "curve of '%s' not increasing at %g m/s", f->id, w);
	}
	synth_free(s);
}

Test(synth, netcdf_decodes_to_intended_values)
{
	struct synth *s = make(4, 3, 7);
	const struct synth_grid *g = synth_grid(s);
	size_t plane = (size_t)g->nlat * g->nlon, slab = plane * SYNTH_LEADS;
	const int run = 3;
	int64_t ref = synth_run_time(s, run), t1900 = utc_from_fields(1900, 1, 1, 0, 0, 0);
	char *dir = tu_tmpdir(), *path = path_join(dir, "run.nc");
	double *want = forecast(s, run), frt, worst = 0.0;
	short *raw = malloc(slab * sizeof(*raw));
	float *lat = malloc((size_t)g->nlat * sizeof(*lat));
	float *lon = malloc((size_t)g->nlon * sizeof(*lon));
	int times[SYNTH_LEADS], periods[SYNTH_LEADS], ncid, varid, format, dimids[3];
	size_t len;
	struct wc_error err = { 0 };

	cr_assert(raw && lat && lon);
	cr_assert_eq(synth_write_run(s, run, path, &err), WC_OK, "%s", wc_error_msg(&err));
	NC_OK(nc_open(path, NC_NOWRITE, &ncid));
	NC_OK(nc_inq_format(ncid, &format));
	cr_assert_eq(format, NC_FORMAT_64BIT_OFFSET);
	assert_text_att(ncid, NC_GLOBAL, "Conventions", "CF-1.6");

	NC_OK(nc_inq_dimid(ncid, "time", &dimids[0]));
	NC_OK(nc_inq_dimlen(ncid, dimids[0], &len));
	cr_assert_eq(len, SYNTH_LEADS);
	NC_OK(nc_inq_dimid(ncid, "latitude", &dimids[1]));
	NC_OK(nc_inq_dimlen(ncid, dimids[1], &len));
	cr_assert_eq(len, (size_t)g->nlat);
	NC_OK(nc_inq_dimid(ncid, "longitude", &dimids[2]));
	NC_OK(nc_inq_dimlen(ncid, dimids[2], &len));
	cr_assert_eq(len, (size_t)g->nlon);

	NC_OK(nc_inq_varid(ncid, "latitude", &varid));
	assert_text_att(ncid, varid, "units", "degrees_north");
	NC_OK(nc_get_var_float(ncid, varid, lat));
	NC_OK(nc_inq_varid(ncid, "longitude", &varid));
	assert_text_att(ncid, varid, "units", "degrees_east");
	NC_OK(nc_get_var_float(ncid, varid, lon));
	for (int i = 0; i < g->nlat; i++) {
		cr_assert_float_eq(lat[i], g->lat_north - i * g->step, 1e-6);
		if (i)
			cr_assert(lat[i] < lat[i - 1], "latitude must descend");
	}
	for (int j = 0; j < g->nlon; j++)
		cr_assert_float_eq(lon[j], g->lon_west + j * g->step, 1e-6);

	/* time holds the valid times, forecast_reference_time the run, both CF hours */
	NC_OK(nc_inq_varid(ncid, "time", &varid));
	assert_text_att(ncid, varid, "units", "hours since 1900-01-01 00:00:00.0");
	assert_text_att(ncid, varid, "calendar", "gregorian");
	NC_OK(nc_get_var_int(ncid, varid, times));
	for (int h = 0; h < SYNTH_LEADS; h++)
		cr_assert_eq(t1900 + (int64_t)times[h] * UTC_HOUR, ref + h * UTC_HOUR,
			     "time[%d] decodes to the wrong instant", h);
	NC_OK(nc_inq_varid(ncid, "forecast_reference_time", &varid));
	assert_text_att(ncid, varid, "standard_name", "forecast_reference_time");
	assert_text_att(ncid, varid, "units", "hours since 1900-01-01 00:00:00.0");
	NC_OK(nc_get_var_double(ncid, varid, &frt));
	cr_assert_eq(t1900 + (int64_t)frt * UTC_HOUR, ref);
	cr_assert_eq(utc_from_fields(2026, 1, 2, 12, 0, 0), ref);
	NC_OK(nc_inq_varid(ncid, "forecast_period", &varid));
	NC_OK(nc_get_var_int(ncid, varid, periods));
	for (int h = 0; h < SYNTH_LEADS; h++)
		cr_assert_eq(periods[h], h);

	for (int v = 0; v < SYNTH_NVARS; v++) {
		double scale, offset;
		short fill;
		nc_type type;
		int ndims, vdims[3];

		NC_OK(nc_inq_varid(ncid, synth_var_name(v), &varid));
		NC_OK(nc_inq_var(ncid, varid, NULL, &type, &ndims, vdims, NULL));
		cr_assert_eq(type, NC_SHORT);
		cr_assert_eq(ndims, 3);
		cr_assert(vdims[0] == dimids[0] && vdims[1] == dimids[1] && vdims[2] == dimids[2],
			  "'%s' must be (time, latitude, longitude)", synth_var_name(v));
		NC_OK(nc_get_att_double(ncid, varid, "scale_factor", &scale));
		NC_OK(nc_get_att_double(ncid, varid, "add_offset", &offset));
		NC_OK(nc_get_att_short(ncid, varid, "_FillValue", &fill));
		cr_assert_eq(fill, -32767);
		NC_OK(nc_get_att_short(ncid, varid, "missing_value", &fill));
		cr_assert_eq(fill, -32767);
		cr_assert(scale > 0.0);
		NC_OK(nc_get_var_short(ncid, varid, raw));
		for (size_t k = 0; k < slab; k++) {
			double got = raw[k] * scale + offset, diff = fabs(got - want[v * slab + k]);

			cr_assert_neq(raw[k], fill, "'%s' has a fill value at %zu", synth_var_name(v), k);
			cr_assert(diff <= 0.5 * scale * (1.0 + 1e-9),
				  "'%s'[%zu] decodes to %.9g, intended %.9g (step %g)",
				  synth_var_name(v), k, got, want[v * slab + k], scale);
			worst = fmax(worst, diff / scale);
		}
	}
	cr_log_info("worst unpacking error: %.4f packing steps", worst);
	NC_OK(nc_inq_varid(ncid, "u100", &varid));
	assert_text_att(ncid, varid, "standard_name", "eastward_wind");
	assert_text_att(ncid, varid, "coordinates", "forecast_reference_time height_100m");
	NC_OK(nc_inq_varid(ncid, "sp", &varid));
	assert_text_att(ncid, varid, "units", "Pa");
	NC_OK(nc_close(ncid));

	cr_assert_neq(access(path, F_OK), -1);
	free(want);
	free(raw);
	free(lat);
	free(lon);
	free(path);
	tu_rmrf_free(dir);
	synth_free(s);
}

/* The whole data set, as the concatenation of every file's name and bytes. */
static char *dataset_bytes(const struct synth *s, const char *dir, size_t *total)
{
	const struct synth_config *cfg = synth_config(s);
	char *all = NULL, *name;
	size_t n = 0;
	struct synth_summary sum;
	struct wc_error err = { 0 };

	cr_assert_eq(synth_write_all(s, dir, &sum, &err), WC_OK, "%s", wc_error_msg(&err));
	cr_assert_eq(sum.nruns, 2 * cfg->days);
	cr_assert_eq(sum.nfarms, cfg->nfarms);
	cr_assert_eq(sum.obs_rows, (size_t)cfg->nfarms * cfg->days * 24);
	for (int i = -1; i < cfg->nfarms + synth_nruns(s); i++) {
		char *path, *buf;
		size_t len = 0;

		if (i < 0) {
			cr_assert(asprintf(&name, "farms.json") >= 0);
		} else if (i < cfg->nfarms) {
			cr_assert(asprintf(&name, "obs/%s.csv", synth_farm(s, i)->id) >= 0);
		} else {
			int64_t y;
			int mo, d, h, mi, sec;

			utc_to_fields(synth_run_time(s, i - cfg->nfarms), &y, &mo, &d, &h, &mi, &sec);
			cr_assert(asprintf(&name, "nwp/demo_%04d%02d%02d%02d.nc", (int)y, mo, d, h) >= 0);
		}
		path = path_join(dir, name);
		buf = tu_read_file(path, &len);
		cr_assert_not_null(buf, "cannot read '%s'", path);
		all = realloc(all, n + strlen(name) + 1 + len);
		cr_assert_not_null(all);
		memcpy(all + n, name, strlen(name) + 1);
		n += strlen(name) + 1;
		memcpy(all + n, buf, len);
		n += len;
		free(buf);
		free(path);
		free(name);
	}
	*total = n;
	return all;
}

/* True if dir1/name and dir2/name have different contents. */
static bool files_differ(const char *dir1, const char *dir2, const char *name)
{
	char *p1 = path_join(dir1, name), *p2 = path_join(dir2, name), *b1, *b2;
	size_t l1 = 0, l2 = 0;
	bool differ;

	b1 = tu_read_file(p1, &l1);
	b2 = tu_read_file(p2, &l2);
	cr_assert(b1 && b2, "cannot read '%s'", name);
	differ = l1 != l2 || memcmp(b1, b2, l1) != 0;
	free(b1);
	free(b2);
	free(p1);
	free(p2);
	return differ;
}

Test(synth, same_seed_same_bytes_other_seed_differs)
{
	struct synth *a = make(2, 2, 42), *b = make(2, 2, 42), *c = make(2, 2, 43);
	char *da = tu_tmpdir(), *db = tu_tmpdir(), *dc = tu_tmpdir();
	size_t na, nb, nc;
	char *ba = dataset_bytes(a, da, &na), *bb = dataset_bytes(b, db, &nb);
	char *bc = dataset_bytes(c, dc, &nc);
	char *nc_a;

	cr_assert_eq(na, nb);
	cr_assert(memcmp(ba, bb, na) == 0, "two generations with seed 42 differ");
	cr_assert(na != nc || memcmp(ba, bc, na) != 0, "seeds 42 and 43 give the same data");

	/* every kind of file depends on the seed, not only some of them */
	cr_assert(files_differ(da, dc, "nwp/demo_2026010112.nc"), "NWP files ignore the seed");
	cr_assert(files_differ(da, dc, "obs/north-sea-1.csv"), "observations ignore the seed");

	/* nothing is left behind under a temporary name */
	nc_a = path_join(da, "farms.json.tmp");
	cr_assert_eq(access(nc_a, F_OK), -1);
	free(nc_a);
	free(ba);
	free(bb);
	free(bc);
	tu_rmrf_free(da);
	tu_rmrf_free(db);
	tu_rmrf_free(dc);
	synth_free(a);
	synth_free(b);
	synth_free(c);
}

Test(synth, observations_within_capacity)
{
	struct synth *s = make(30, 3, 5);
	int64_t start = synth_config(s)->start;
	size_t flagged[3] = { 0 };
	char *dir = tu_tmpdir();

	for (int f = 0; f < 3; f++) {
		const struct synth_farm *fm = synth_farm(s, f);
		struct synth_obs *obs;
		size_t n, nonzero = 0, line = 0;
		double maxp = 0.0;
		struct wc_error err = { 0 };
		char *path, *csv, *row, *save = NULL, name[96];

		cr_assert_eq(synth_observations(s, f, &obs, &n, &err), WC_OK);
		cr_assert_eq(n, 30 * 24);
		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(obs[i].time, start + (int64_t)(i + 1) * UTC_HOUR);
			cr_assert(obs[i].power_mw >= 0.0 && obs[i].power_mw <= fm->capacity_mw,
				  "'%s' at %zu: %g MW outside [0, %g]", fm->id, i, obs[i].power_mw,
				  fm->capacity_mw);
			if (obs[i].flag == SYNTH_OUTAGE)
				cr_assert_eq(obs[i].power_mw, 0.0);
			if (obs[i].flag == SYNTH_CURTAILED)
				cr_assert(obs[i].power_mw <= 0.7 * fm->capacity_mw + 1e-9);
			flagged[f] += obs[i].flag != SYNTH_OK;
			nonzero += obs[i].power_mw > 0.0;
			maxp = fmax(maxp, obs[i].power_mw);
		}
		cr_assert(nonzero > n / 2, "'%s' produces too rarely", fm->id);
		cr_assert(maxp > 0.5 * fm->capacity_mw, "'%s' never above half capacity", fm->id);

		/* the CSV says the same, within its 3 decimals */
		snprintf(name, sizeof(name), "%s.csv", fm->id);
		path = path_join(dir, name);
		cr_assert_eq(synth_write_obs_csv(s, f, path, &err), WC_OK, "%s", wc_error_msg(&err));
		csv = tu_read_file(path, NULL);
		cr_assert_not_null(csv);
		for (row = strtok_r(csv, "\n", &save); row; row = strtok_r(NULL, "\n", &save), line++) {
			char ts[32], flag[16], iso[UTC_ISO_LEN];
			double p;

			if (line == 0) {
				cr_assert_str_eq(row, "time,power_mw,flag");
				continue;
			}
			cr_assert_eq(sscanf(row, "%31[^,],%lf,%15s", ts, &p, flag), 3, "row '%s'", row);
			cr_assert_str_eq(ts, utc_format(obs[line - 1].time, iso));
			cr_assert_float_eq(p, obs[line - 1].power_mw, 1e-9);
			cr_assert(p >= 0.0 && p <= fm->capacity_mw);
			cr_assert_str_eq(flag, synth_flag_name(obs[line - 1].flag));
		}
		cr_assert_eq(line, n + 1);
		free(csv);
		free(path);
		free(obs);
	}
	cr_assert(flagged[0] + flagged[1] + flagged[2] > 0,
		  "30 days x 3 farms without any outage or curtailment");
	tu_rmrf_free(dir);
	synth_free(s);
}

Test(synth, forecast_error_grows_with_lead)
{
	struct synth *s = make(4, 3, 11);
	const struct synth_grid *g = synth_grid(s);
	size_t plane = (size_t)g->nlat * g->nlon;
	double early = 0.0, late = 0.0;
	long n_early = 0, n_late = 0;

	for (int run = 0; run < synth_nruns(s); run++) {
		double *d = forecast(s, run);

		for (int h = 1; h < SYNTH_LEADS; h++) {
			if (h > 6 && h < 40)
				continue;
			for (size_t k = 0; k < plane; k++) {
				int i = (int)(k / g->nlon), j = (int)(k % g->nlon);
				double t = (double)synth_run_time(s, run) + h * (double)UTC_HOUR;
				size_t at = (size_t)h * plane + k;
				double fu = d[SYNTH_U100 * SYNTH_LEADS * plane + at];
				double fv = d[SYNTH_V100 * SYNTH_LEADS * plane + at];
				struct synth_wx wx;
				double e;

				synth_truth(s, g->lat_north - i * g->step, g->lon_west + j * g->step, t,
					    &wx);
				e = fabs(hypot(fu, fv) - hypot(wx.u100, wx.v100));
				if (h <= 6) {
					early += e;
					n_early++;
				} else {
					late += e;
					n_late++;
				}
			}
		}
		free(d);
	}
	early /= (double)n_early;
	late /= (double)n_late;
	cr_log_info("100 m speed MAE: leads 1-6 h %.3f m/s, leads 40-48 h %.3f m/s", early, late);
	cr_assert(early < 0.8, "short-lead MAE %.3f m/s is not small", early);
	cr_assert(late > 1.5 * early, "MAE at 40-48 h (%.3f) not clearly above 1-6 h (%.3f)",
		  late, early);
	synth_free(s);
}

Test(synth, runs_differ_for_the_same_valid_time)
{
	struct synth *s = make(2, 1, 3);
	const struct synth_grid *g = synth_grid(s);
	size_t plane = (size_t)g->nlat * g->nlon;
	double *r0 = forecast(s, 0), *r1 = forecast(s, 1), diff = 0.0;

	/* run 0 at lead 24 and run 1 at lead 12 are both valid at start + 24 h */
	for (size_t k = 0; k < plane; k++)
		diff = fmax(diff, fabs(r0[SYNTH_U100 * SYNTH_LEADS * plane + 24 * plane + k] -
				       r1[SYNTH_U100 * SYNTH_LEADS * plane + 12 * plane + k]));
	cr_assert(diff > 0.05, "successive runs agree to %g m/s", diff);
	free(r0);
	free(r1);
	synth_free(s);
}

Test(synth, farms_json_is_importable)
{
	struct synth *s = make(1, 4, 1);
	char *dir = tu_tmpdir(), *path = path_join(dir, "farms.json");
	struct wc_error err = { 0 };
	json_error_t jerr;
	json_t *arr;

	cr_assert_eq(synth_write_farms_json(s, path, &err), WC_OK, "%s", wc_error_msg(&err));
	arr = json_load_file(path, 0, &jerr);
	cr_assert_not_null(arr, "farms.json: %s at line %d", jerr.text, jerr.line);
	cr_assert(json_is_array(arr));
	cr_assert_eq(json_array_size(arr), 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *o = json_array_get(arr, i);
		const struct synth_farm *f = synth_farm(s, (int)i);

		cr_assert_eq(json_object_size(o), 6, "farm %zu has extra or missing keys", i);
		cr_assert_str_eq(json_string_value(json_object_get(o, "id")), f->id);
		cr_assert_str_eq(json_string_value(json_object_get(o, "name")), f->name);
		cr_assert_float_eq(json_number_value(json_object_get(o, "lat")), f->lat, 1e-9);
		cr_assert_float_eq(json_number_value(json_object_get(o, "lon")), f->lon, 1e-9);
		cr_assert_float_eq(json_number_value(json_object_get(o, "capacity_mw")),
				   f->capacity_mw, 1e-9);
		cr_assert_float_eq(json_number_value(json_object_get(o, "hub_height_m")),
				   f->hub_height_m, 1e-9);
	}
	json_decref(arr);
	free(path);
	tu_rmrf_free(dir);
	synth_free(s);
}

/* An independent decoder: python3-netCDF4 unpacks and converts time itself. */
Test(synth, python_netcdf4_agrees)
{
	const char *py = tu_python();
	struct synth *s = make(1, 3, 9);
	const struct synth_grid *g = synth_grid(s);
	size_t plane = (size_t)g->nlat * g->nlon;
	char *dir = tu_tmpdir(), *nc = path_join(dir, "r.nc"), *script = path_join(dir, "c.py");
	char *out = NULL, *cmd, frt[32], t0[32], t48[32];
	double *want = forecast(s, 1), u, sp, scale_u, scale_sp;
	struct wc_error err = { 0 };
	FILE *f;
	int ncid, varid;

	cr_assert(asprintf(&cmd, "'%s' -c 'import netCDF4' 2>/dev/null", py) >= 0);
	if (tu_run(cmd, NULL, NULL) != 0)
		cr_skip_test("'%s' has no netCDF4 module", py);
	free(cmd);
	cr_assert_eq(synth_write_run(s, 1, nc, &err), WC_OK, "%s", wc_error_msg(&err));
	f = fopen(script, "w");
	cr_assert_not_null(f);
	fputs("import sys, netCDF4\n"
	      "ds = netCDF4.Dataset(sys.argv[1])\n"
	      "fmt = '%Y-%m-%dT%H:%M:%SZ'\n"
	      "tv, fv = ds['time'], ds['forecast_reference_time']\n"
	      "t = netCDF4.num2date(tv[:], tv.units, tv.calendar)\n"
	      "r = netCDF4.num2date(fv[...], fv.units, fv.calendar)\n"
	      "print(r.strftime(fmt), t[0].strftime(fmt), t[48].strftime(fmt),\n"
	      "      repr(float(ds['u100'][30, 2, 5])), repr(float(ds['sp'][7, 4, 1])))\n",
	      f);
	cr_assert_eq(fclose(f), 0);
	cr_assert(asprintf(&cmd, "'%s' '%s' '%s'", py, script, nc) >= 0);
	cr_assert_eq(tu_run(cmd, &out, NULL), 0, "python failed: %s", out ? out : "");
	cr_assert_eq(sscanf(out, "%31s %31s %31s %lf %lf", frt, t0, t48, &u, &sp), 5,
		     "python printed '%s'", out);
	cr_assert_str_eq(frt, "2026-01-01T12:00:00Z");
	cr_assert_str_eq(t0, "2026-01-01T12:00:00Z");
	cr_assert_str_eq(t48, "2026-01-03T12:00:00Z");
	NC_OK(nc_open(nc, NC_NOWRITE, &ncid));
	NC_OK(nc_inq_varid(ncid, "u100", &varid));
	NC_OK(nc_get_att_double(ncid, varid, "scale_factor", &scale_u));
	NC_OK(nc_inq_varid(ncid, "sp", &varid));
	NC_OK(nc_get_att_double(ncid, varid, "scale_factor", &scale_sp));
	NC_OK(nc_close(ncid));
	cr_assert_float_eq(u, want[SYNTH_U100 * SYNTH_LEADS * plane + 30 * plane + 2 * g->nlon + 5],
			   0.5 * scale_u * 1.000001);
	cr_assert_float_eq(sp, want[SYNTH_SP * SYNTH_LEADS * plane + 7 * plane + 4 * g->nlon + 1],
			   0.5 * scale_sp * 1.000001);
	free(cmd);
	free(out);
	free(want);
	free(nc);
	free(script);
	tu_rmrf_free(dir);
	synth_free(s);
}

Test(synth, cli_demo_data)
{
	char *dir = tu_tmpdir(), *out = NULL, *errs = NULL, *p;
	const char *bin = tu_bin();

	if (access(bin, X_OK) != 0)
		cr_skip_test("'%s' is not built", bin);
	cr_assert_eq(tu_cli(NULL, &out, NULL, "demo-data --help"), 0);
	cr_assert(strstr(out, "usage: windcast demo-data"), "help: %s", out);
	free(out);
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --days 2"), 2);
	cr_assert(strstr(errs, "--out"), "stderr: %s", errs);
	free(errs);
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --out '%s' --days 0", dir), 2);
	cr_assert(strstr(errs, "invalid --days '0'"), "stderr: %s", errs);
	free(errs);
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --out '%s' --start 2026-01-01T06:00Z",
			    dir), 2);
	free(errs);
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --out '%s' --bogus", dir), 2);
	cr_assert(strstr(errs, "unknown option '--bogus'"), "stderr: %s", errs);
	free(errs);
	cr_assert_eq(tu_cli(NULL, &out, &errs, "demo-data --out '%s' --days 1 --farms 2 --seed 4",
			    dir), 0, "stderr: %s", errs);
	cr_assert(strstr(out, "wrote 2 NWP runs"), "stdout: %s", out);
	free(out);
	free(errs);
	p = path_join(dir, "nwp/demo_2026010112.nc");
	cr_assert_eq(access(p, R_OK), 0);
	free(p);
	p = path_join(dir, "obs/horns-reef.csv");
	cr_assert_eq(access(p, R_OK), 0);
	free(p);
	p = path_join(dir, "farms.json");
	cr_assert_eq(access(p, R_OK), 0);
	free(p);
	tu_rmrf_free(dir);
}
