/*
 * test_gefcom.c - the GEFCom converters (scripts/gefcom2012, scripts/gefcom2014) on a
 * few rows of synthetic competition CSV with known values: the CF point files they write
 * are read back with netcdf-c (featureType, station ids, reference time, heights, winds)
 * and through `windcast ingest` + `windcast weather` (u/v, meteorological direction,
 * analysis vs forecast), the observation CSVs they write are checked, and bad input is
 * refused with exit status 1 and a message naming the problem; the GEFCom2012 all-lead
 * check's issue times (gap_issue_times) on a hand-built schedule.
 *
 * The scripts run under /usr/bin/python3 (or $PYTHON) and need its netCDF4 module; the
 * tests skip with a message when it is missing.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void skip_without_netcdf4(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "'%s' -c 'import netCDF4, numpy'", tu_python());
	if (tu_run(cmd, NULL, NULL) != 0)
		cr_skip_test("%s lacks the netCDF4/numpy modules the GEFCom scripts need "
			     "(install python3-netcdf4 python3-numpy)", tu_python());
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f, "cannot write '%s'", path);
	fputs(text, f);
	fclose(f);
}

/* The value of CSV column `col` (0-based) on the first line of `text` starting with
 * `prefix`, or NaN. */
static double csv_field(const char *text, const char *prefix, int col)
{
	size_t plen = strlen(prefix);

	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, prefix, plen) != 0)
			continue;
		const char *p = line;

		for (int c = 0; c < col; c++) {
			p = strchr(p, ',');
			if (!p)
				return NAN;
			p++;
		}
		if (*p == ',' || *p == '\n' || *p == '\0')
			return NAN;
		return strtod(p, NULL);
	}
	return NAN;
}

static void nc_ok(int status, const char *what)
{
	cr_assert_eq(status, NC_NOERR, "%s: %s", what, nc_strerror(status));
}

static void nc_text_att(int ncid, int varid, const char *name, char *buf, size_t len)
{
	size_t n = 0;

	nc_ok(nc_inq_attlen(ncid, varid, name, &n), name);
	cr_assert_lt(n, len);
	nc_ok(nc_get_att_text(ncid, varid, name, buf), name);
	buf[n] = '\0';
}

/* One test's scratch: input and output directories and the last captured output. */
struct gx {
	char *in, *outd, *args, *out, *err, *data;
};

static void gx_init(struct gx *g)
{
	skip_without_netcdf4();
	memset(g, 0, sizeof(*g));
	g->in = tu_tmpdir();
	g->outd = tu_tmpdir();
	cr_assert(asprintf(&g->args, "--convert-only '%s' '%s'", g->in, g->outd) >= 0);
	cr_assert(asprintf(&g->data, "%s/store", g->outd) >= 0);
}

static void gx_release(struct gx *g)
{
	free(g->out);
	free(g->err);
	free(g->args);
	free(g->data);
	tu_rmrf_free(g->in);
	tu_rmrf_free(g->outd);
}

/* Run scripts/<name> with `args`, capturing into g->out and g->err; its exit status. */
static int script(struct gx *g, const char *name, const char *args)
{
	char *cmd;
	int rc;

	free(g->out);
	free(g->err);
	g->out = g->err = NULL;
	cr_assert(asprintf(&cmd, "'%s' '%s/scripts/%s' %s", tu_python(), tu_src(), name,
			   args) >= 0);
	rc = tu_run(cmd, &g->out, &g->err);
	free(cmd);
	return rc;
}

/* The windcast CLI on g->data, capturing into g->out and g->err. */
#define wc(g, ...) \
	(free((g)->out), free((g)->err), (g)->out = (g)->err = NULL, \
	 tu_cli((g)->data, &(g)->out, &(g)->err, __VA_ARGS__))

/* Column `col` of the row of the last output that starts with `prefix`. */
static double field(const struct gx *g, const char *prefix, int col)
{
	return csv_field(g->out, prefix, col);
}

/* windcast weather rows of the runs issued 2011-01-01 00 and 12 UTC, by valid hour */
#define RUN00 "2011-01-01T00:00:00Z,2011-01-01T"
#define RUN12 "2011-01-01T12:00:00Z,2011-01-01T"

/* Two farms, two NWP runs (the second partly NA, as inside a test period), one test
 * period of 3 h issued at the first run. */
static void write_gefcom2012(const char *dir)
{
	write_file(dir, "train.csv",
		   "date,wp1,wp2\n"
		   "2011010100,0.551,0\n"
		   "2011010103,0.25,0.968\n"
		   "2011010104,NA,0.5\n");
	write_file(dir, "windforecasts_wf1.csv",
		   "date,hors,u,v,ws,wd\n"
		   "2011010100,1,3,-4,5,143.13\n"
		   "2011010100,2,-1.5,2,2.5,323.13\n"
		   "2011010100,3,0,6,6,0\n"
		   "2011010112,1,NA,NA,NA,NA\n"
		   "2011010112,2,NA,NA,NA,NA\n"
		   "2011010112,3,7.25,0.5,7.27,86.05\n");
	write_file(dir, "windforecasts_wf2.csv",
		   "date,hors,u,v,ws,wd\n"
		   "2011010100,1,1,1,1.41,45\n"
		   "2011010100,2,2,2,2.83,45\n"
		   "2011010100,3,-3,0,3,270\n"
		   "2011010112,1,NA,NA,NA,NA\n"
		   "2011010112,2,NA,NA,NA,NA\n"
		   "2011010112,3,0.5,-9,9.01,176.82\n");
	write_file(dir, "test.csv", "id,date\n2,2011010102\n1,2011010101\n3,2011010103\n");
	write_file(dir, "benchmark.csv",
		   "id,date,wp1,wp2\n1,2011010101,0.551,0\n2,2011010102,0.551,0\n"
		   "3,2011010103,0.551,0\n");
}

Test(gefcom, gefcom2012_point_files_decode_to_the_csv_values, .timeout = 120)
{
	struct gx g;

	gx_init(&g);
	char path[1024], att[256], ids[64];
	int ncid, vid, dimid;
	size_t ns, nt, slen;
	double ref, times[3], lat[2];
	float u[2][3];

	write_gefcom2012(g.in);
	cr_assert_eq(script(&g, "gefcom2012", g.args), 0, "%s%s", g.out, g.err);

	/* netcdf-c view of the first run */
	snprintf(path, sizeof(path), "%s/nc/run_2011010100.nc", g.outd);
	nc_ok(nc_open(path, NC_NOWRITE, &ncid), path);
	nc_text_att(ncid, NC_GLOBAL, "featureType", att, sizeof(att));
	cr_assert_str_eq(att, "timeSeries");
	nc_ok(nc_inq_dimid(ncid, "station", &dimid), "station");
	nc_ok(nc_inq_dimlen(ncid, dimid, &ns), "station");
	nc_ok(nc_inq_dimid(ncid, "time", &dimid), "time");
	nc_ok(nc_inq_dimlen(ncid, dimid, &nt), "time");
	cr_assert_eq(ns, 2);
	cr_assert_eq(nt, 3);
	nc_ok(nc_inq_varid(ncid, "station_id", &vid), "station_id");
	nc_text_att(ncid, vid, "cf_role", att, sizeof(att));
	cr_assert_str_eq(att, "timeseries_id");
	nc_ok(nc_inq_dimid(ncid, "name_strlen", &dimid), "name_strlen");
	nc_ok(nc_inq_dimlen(ncid, dimid, &slen), "name_strlen");
	cr_assert(slen >= 3 && 2 * slen <= sizeof(ids));
	nc_ok(nc_get_var_text(ncid, vid, ids), "station_id");
	cr_assert(strncmp(ids, "wf1", 3) == 0 && strncmp(ids + slen, "wf2", 3) == 0,
		  "station ids are the farm ids");
	nc_ok(nc_inq_varid(ncid, "forecast_reference_time", &vid), "reference time");
	nc_ok(nc_get_var_double(ncid, vid, &ref), "reference time");
	cr_assert_float_eq(ref, 1293840000.0 / 3600, 1e-9, "2011-01-01T00Z in hours");
	nc_ok(nc_inq_varid(ncid, "time", &vid), "time");
	nc_ok(nc_get_var_double(ncid, vid, times), "time");
	cr_assert_float_eq(times[0], ref + 1, 1e-9, "valid time = issue + lead");
	cr_assert_float_eq(times[2], ref + 3, 1e-9);
	nc_ok(nc_inq_varid(ncid, "lat", &vid), "lat");
	nc_ok(nc_get_var_double(ncid, vid, lat), "lat");
	cr_assert(lat[0] != lat[1], "distinct invented coordinates");
	nc_ok(nc_inq_varid(ncid, "u10", &vid), "u10");
	nc_text_att(ncid, vid, "standard_name", att, sizeof(att));
	cr_assert_str_eq(att, "eastward_wind");
	nc_ok(nc_get_var_float(ncid, vid, &u[0][0]), "u10");
	cr_assert_float_eq(u[0][0], 3.0f, 1e-6);
	cr_assert_float_eq(u[0][1], -1.5f, 1e-6);
	cr_assert_float_eq(u[1][2], -3.0f, 1e-6);
	nc_ok(nc_inq_varid(ncid, "height10", &vid), "height10");
	nc_ok(nc_get_var_double(ncid, vid, &ref), "height10");
	cr_assert_float_eq(ref, 10.0, 1e-12);
	nc_close(ncid);

	/* observations: hour-ending ISO times, NA rows left out */
	snprintf(path, sizeof(path), "%s/obs/test/wf1.csv", g.outd);
	char *obs = tu_read_file(path, NULL);

	cr_assert(obs, "no '%s'", path);
	cr_assert(strstr(obs, "time,power_mw\n2011-01-01T00:00Z,0.551\n"
			      "2011-01-01T03:00Z,0.25\n"), "%s", obs);
	cr_assert(!strstr(obs, "T04:00Z"), "NA power is left out: %s", obs);
	free(obs);

	/* windcast's view: register the farms, ingest both runs, read the weather back */
	cr_assert_eq(wc(&g, "farm import '%s/farms.json'", g.outd), 0, "%s", g.err);
	cr_assert_eq(wc(&g, "ingest '%s/nc/run_2011010100.nc' "
			    "'%s/nc/run_2011010112.nc'", g.outd, g.outd), 0,
		     "%s%s", g.out, g.err);
	cr_assert(strstr(g.out, "2 ingested, 0 already known, 0 rejected"), "%s", g.out);
	cr_assert_eq(wc(&g, "weather --format csv --farm wf1"), 0, "%s", g.err);
	/* columns: ref_time valid_time lead_h u10 v10 u100 v100 ws10 ws100 wd10 ... */
	cr_assert_float_eq(field(&g, RUN00 "01:00:00Z", 3), 3.0,
			   1e-5, "%s", g.out);
	cr_assert_float_eq(field(&g, RUN00 "01:00:00Z", 4), -4.0,
			   1e-5);
	cr_assert_float_eq(field(&g, RUN00 "01:00:00Z", 7), 5.0,
			   1e-4);
	/* the CSV's wd (143.13, where the wind blows TO) is the opposite of windcast's */
	cr_assert_float_eq(field(&g, RUN00 "01:00:00Z", 9),
			   323.13, 0.01, "%s", g.out);
	cr_assert_float_eq(field(&g, RUN00 "03:00:00Z", 9), 180.0,
			   0.01, "v = 6 northward: from the south");
	cr_assert(isnan(field(&g, RUN12 "13:00:00Z", 3)),
		  "NA stays missing: %s", g.out);
	cr_assert_float_eq(field(&g, RUN12 "15:00:00Z", 3), 7.25,
			   1e-5);
	cr_assert_eq(wc(&g, "weather --format csv --farm wf2"), 0, "%s", g.err);
	cr_assert_float_eq(field(&g, RUN12 "15:00:00Z", 4), -9.0,
			   1e-5, "%s", g.out);

	/* idempotent: a second conversion rewrites nothing, so nothing is ingested again */
	cr_assert_eq(script(&g, "gefcom2012", g.args), 0, "%s", g.err);
	cr_assert(strstr(g.out, "(0 files rewritten)"), "%s", g.out);
	cr_assert_eq(wc(&g, "ingest '%s/nc/run_2011010100.nc'", g.outd), 0);
	cr_assert(strstr(g.out, ": already known"), "%s", g.out);

	gx_release(&g);
}

/*
 * The all-lead check's issue times (gap_issue_times) on a hand-built schedule, in hours
 * (3600 s) from 0: test periods 1..48, 85..132 and 169..216 (their power withheld); runs
 * every 12 h from 0, the one at 60 empty (NaN); --obs-max-lead 12. An issue time is each
 * period's own (0, 84, 168: 1 h before it starts), every run issued in a gap (the power
 * at its issue time is known) and every run inside a period that reaches the next gap
 * only beyond lead 12 (12, 24, 36 in the first: 36 + 13 = 49; not 48, the period's last
 * hour, whose lead 1 would be a gap hour read without the power at 48), never the empty
 * run; within [t0, t1).
 */
Test(gefcom, gefcom2012_all_lead_check_issue_times, .timeout = 60)
{
	char *dir = tu_tmpdir(), *cmd = NULL, *out = NULL, *err = NULL;
	static const char code[] =
		"import importlib.machinery as m, importlib.util as u, sys, numpy as np\n"
		"l = m.SourceFileLoader('g', sys.argv[1])\n"
		"s = u.spec_from_loader('g', l); g = u.module_from_spec(s); l.exec_module(g)\n"
		"H = 3600\n"
		"nwp = {r * H: (np.ones((1, 48)), np.ones((1, 48))) for r in range(0, 240, 12)}\n"
		"nwp[60 * H] = (np.full((1, 48), np.nan), np.full((1, 48), np.nan))\n"
		"d = {'nwp': nwp}\n"
		"tp = g.periods_from_hours([h * H for h in list(range(1, 49)) +\n"
		"                           list(range(85, 133)) + list(range(169, 217))])\n"
		"print(tp == [(0, H, 48 * H), (84 * H, 85 * H, 132 * H), (168 * H, 169 * H, 216 * H)])\n"
		"print([t // H for t in g.gap_issue_times(d, tp, 0, 240 * H, 12)])\n"
		"print([t // H for t in g.gap_issue_times(d, tp, 36 * H, 168 * H, 12)])\n";

	skip_without_netcdf4();
	write_file(dir, "gaps.py", code);
	cr_assert(asprintf(&cmd, "'%s' '%s/gaps.py' '%s/scripts/gefcom2012'", tu_python(), dir,
			   tu_src()) > 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "%s\n%s", out, err);
	cr_assert_str_eq(out,
			 "True\n[0, 12, 24, 36, 72, 84, 96, 108, 120, 144, 156, 168, 180, 192, 204, "
			 "228]\n[36, 72, 84, 96, 108, 120, 144, 156]\n",
			 "%s", err);
	free(cmd);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

Test(gefcom, gefcom2012_bad_input_is_refused, .timeout = 120)
{
	struct gx g;

	gx_init(&g);

	cr_assert_eq(script(&g, "gefcom2012", g.args), 1);
	cr_assert(strstr(g.err, "train.csv") && strstr(g.err, "no such file"), "%s", g.err);

	write_gefcom2012(g.in);
	write_file(g.in, "windforecasts_wf2.csv", "date,hors,speed\n2011010100,1,3\n");
	cr_assert_eq(script(&g, "gefcom2012", g.args), 1);
	cr_assert(strstr(g.err, "windforecasts_wf2.csv") &&
		  strstr(g.err, "lacks columns u, v"), "%s", g.err);

	write_gefcom2012(g.in);
	write_file(g.in, "train.csv",
		   "date,wp1,wp2\n2011013100,0.5,0.5\n2011023100,0.5,0.5\n");
	cr_assert_eq(script(&g, "gefcom2012", g.args), 1);
	cr_assert(strstr(g.err, "line 3") && strstr(g.err, "2011023100"), "%s", g.err);

	cr_assert_eq(script(&g, "gefcom2012", ""), 2, "usage: %s", g.err);
	gx_release(&g);
}

/* Two zones; the 2012 files have power (one NA), zone 1 also an inputs-only 2013 file. */
static void write_gefcom2014(const char *dir)
{
	write_file(dir, "Zone1_2012.csv",
		   "TIMESTAMP,TARGETVAR,U10,V10,U100,V100\n"
		   "20121231 22:00,0.1,1,2,1.5,2.5\n"
		   "20121231 23:00,NA,-2,0.5,-3,0.75\n"
		   "20130101 0:00,0.3,0,-3,0,-4.5\n");
	write_file(dir, "Zone2_2012.csv",
		   "TIMESTAMP,TARGETVAR,U10,V10,U100,V100\n"
		   "20121231 22:00,0.7,4,4,6,6\n"
		   "20121231 23:00,0.65,4,3,6,4.5\n"
		   "20130101 0:00,0.6,3,3,4.5,4.5\n");
	write_file(dir, "Zone1_2013_inputs.csv",
		   "TIMESTAMP,U10,V10,U100,V100\n"
		   "20130101 1:00,5,0,7,0.25\n");
}

Test(gefcom, gefcom2014_analysis_files_decode_to_the_csv_values, .timeout = 120)
{
	struct gx g;

	gx_init(&g);
	char path[1024];
	int ncid, vid;
	float v100[2][3];
	double t[3], h;

	write_gefcom2014(g.in);
	cr_assert_eq(script(&g, "gefcom2014", g.args), 0, "%s%s", g.out, g.err);

	/* hour-ending: "20130101 0:00" closes December, "20130101 1:00" opens January */
	snprintf(path, sizeof(path), "%s/nc/analysis_201212.nc", g.outd);
	nc_ok(nc_open(path, NC_NOWRITE, &ncid), path);
	cr_assert_neq(nc_inq_varid(ncid, "forecast_reference_time", &vid), NC_NOERR,
		      "an analysis has no reference time");
	nc_ok(nc_inq_varid(ncid, "time", &vid), "time");
	nc_ok(nc_get_var_double(ncid, vid, t), "time");
	cr_assert_float_eq(t[2], 1356998400.0 / 3600, 1e-9, "2013-01-01T00Z");
	nc_ok(nc_inq_varid(ncid, "v100", &vid), "v100");
	nc_ok(nc_get_var_float(ncid, vid, &v100[0][0]), "v100");
	cr_assert_float_eq(v100[0][1], 0.75f, 1e-6);
	cr_assert_float_eq(v100[1][2], 4.5f, 1e-6);
	nc_ok(nc_inq_varid(ncid, "height100", &vid), "height100");
	nc_ok(nc_get_var_double(ncid, vid, &h), "height100");
	cr_assert_float_eq(h, 100.0, 1e-12);
	nc_close(ncid);
	snprintf(path, sizeof(path), "%s/nc/analysis_201301.nc", g.outd);
	nc_ok(nc_open(path, NC_NOWRITE, &ncid), path);
	nc_close(ncid);

	snprintf(path, sizeof(path), "%s/obs/zone1.csv", g.outd);
	char *obs = tu_read_file(path, NULL);

	cr_assert(obs);
	cr_assert_str_eq(obs, "time,power_mw\n2012-12-31T22:00Z,0.1\n2013-01-01T00:00Z,0.3\n");
	free(obs);

	cr_assert_eq(wc(&g, "farm import '%s/farms.json'", g.outd), 0, "%s", g.err);
	cr_assert_eq(wc(&g, "ingest '%s/nc/analysis_201212.nc' "
			    "'%s/nc/analysis_201301.nc'", g.outd, g.outd), 0,
		     "%s%s", g.out, g.err);
	cr_assert(strstr(g.out, "2 ingested"), "%s", g.out);
	cr_assert_eq(wc(&g, "weather --format csv --farm zone1"), 0, "%s", g.err);
	/* analyses: empty ref_time and lead; u100 is column 5 */
	cr_assert_float_eq(field(&g, ",2012-12-31T23:00:00Z", 5), -3.0, 1e-5, "%s", g.out);
	cr_assert_float_eq(field(&g, ",2013-01-01T01:00:00Z", 5), 7.0, 1e-5, "%s", g.out);
	cr_assert_float_eq(field(&g, ",2013-01-01T00:00:00Z", 8), 4.5, 1e-4,
			   "ws100 of (0, -4.5): %s", g.out);
	cr_assert_eq(wc(&g, "weather --format csv --farm zone2"), 0, "%s", g.err);
	cr_assert_float_eq(field(&g, ",2012-12-31T22:00:00Z", 3), 4.0, 1e-5, "%s", g.out);

	gx_release(&g);
}

Test(gefcom, gefcom2014_bad_input_is_refused, .timeout = 120)
{
	struct gx g;

	gx_init(&g);

	cr_assert_eq(script(&g, "gefcom2014", g.args), 1);
	cr_assert(strstr(g.err, "no Zone{z}*.csv files"), "%s", g.err);

	write_gefcom2014(g.in);
	write_file(g.in, "Zone2_2012.csv",
		   "TIMESTAMP,TARGETVAR,U10,V10\n20121231 22:00,0.7,4,4\n");
	cr_assert_eq(script(&g, "gefcom2014", g.args), 1);
	cr_assert(strstr(g.err, "Zone2_2012.csv") && strstr(g.err, "U100, V100"), "%s", g.err);

	write_gefcom2014(g.in);
	write_file(g.in, "Zone2_2012.csv",
		   "TIMESTAMP,TARGETVAR,U10,V10,U100,V100\n2012-12-31 22:00,0.7,4,4,6,6\n");
	cr_assert_eq(script(&g, "gefcom2014", g.args), 1);
	cr_assert(strstr(g.err, "line 2") && strstr(g.err, "bad TIMESTAMP"), "%s", g.err);

	write_gefcom2014(g.in);
	free(g.args);
	cr_assert(asprintf(&g.args, "'%s' '%s' --tasks 2-1", g.in, g.outd) >= 0);
	cr_assert_eq(script(&g, "gefcom2014", g.args), 2, "%s", g.err);
	free(g.args);
	cr_assert(asprintf(&g.args, "'%s' '%s' --tasks 1", g.in, g.outd) >= 0);
	cr_assert_eq(script(&g, "gefcom2014", g.args), 1, "%s", g.err);
	cr_assert(strstr(g.err, "no NWP inputs") && strstr(g.err, "task 1"), "%s", g.err);

	gx_release(&g);
}
