/*
 * test_ingest.c - NetCDF files into the store through data/ingest, the CLI and
 * POST /v1/grids: values at the farms against the generator's intended values,
 * idempotence, rejections that store nothing, jobs, and the server staying up.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/ingest.h"
#include "data/store.h"
#include "data/synth.h"
#include "server/server.h"
#include "testutil.h"

struct fixture {
	char *dir;		/* temp root */
	char data[4200];	/* store dir */
	char run0[4200];	/* NWP file of run 0 */
	char run1[4200];
	struct synth *syn;
	struct store *st;
};

static void fixture_init(struct fixture *fx)
{
	struct synth_config cfg;
	struct wc_error err = { 0 };
	char farms[4200];

	memset(fx, 0, sizeof(*fx));
	fx->dir = tu_tmpdir();
	synth_config_init(&cfg);
	cfg.days = 1;
	cr_assert_eq(synth_new(&cfg, &fx->syn, &err), WC_OK, "%s", err.msg);
	snprintf(fx->run0, sizeof(fx->run0), "%s/run0.nc", fx->dir);
	snprintf(fx->run1, sizeof(fx->run1), "%s/run1.nc", fx->dir);
	snprintf(farms, sizeof(farms), "%s/farms.json", fx->dir);
	cr_assert_eq(synth_write_run(fx->syn, 0, fx->run0, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(synth_write_run(fx->syn, 1, fx->run1, &err), WC_OK, "%s", err.msg);
	snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
	cr_assert_eq(store_open(fx->data, &fx->st, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < synth_config(fx->syn)->nfarms; i++) {
		const struct synth_farm *sf = synth_farm(fx->syn, i);
		struct farm f = { .lat = sf->lat, .lon = sf->lon, .capacity_mw = sf->capacity_mw,
				  .hub_height_m = sf->hub_height_m };

		snprintf(f.id, sizeof(f.id), "%s", sf->id);
		snprintf(f.name, sizeof(f.name), "%s", sf->name);
		cr_assert_eq(store_farm_add(fx->st, &f, &err), WC_OK, "%s", err.msg);
	}
}

static void fixture_release(struct fixture *fx)
{
	store_close(fx->st);
	synth_free(fx->syn);
	tu_rmrf_free(fx->dir);
}

static size_t count_runs(struct store *st)
{
	struct nwp_run *runs;
	size_t n;

	cr_assert_eq(store_run_list(st, &runs, &n, NULL), WC_OK);
	free(runs);
	return n;
}

/* Files under DATA/grids (recursively, one level of fan-out). */
static size_t count_raw_files(const char *data)
{
	char path[4300];
	size_t n = 0;
	DIR *d, *sub;
	struct dirent *e, *e2;

	snprintf(path, sizeof(path), "%s/grids", data);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char subpath[4600];

		if (e->d_name[0] == '.')
			continue;
		snprintf(subpath, sizeof(subpath), "%s/%s", path, e->d_name);
		if (!(sub = opendir(subpath)))
			continue;
		while ((e2 = readdir(sub)))
			n += e2->d_name[0] != '.';
		closedir(sub);
	}
	closedir(d);
	return n;
}

Test(ingest, values_at_farms_match_the_generator)
{
	struct fixture fx;
	struct ingest_result res;
	const struct synth_grid *g;
	struct weather_row *rows;
	struct nwp_run *runs;
	double *grid, maxdiff = 0;
	size_t n;

	fixture_init(&fx);
	cr_assert_eq(ingest_file(fx.st, fx.run0, NULL, &res), WC_OK, "%s", res.error.msg);
	cr_assert_eq(res.outcome, INGEST_INGESTED);
	cr_assert_eq(res.nfarms, (size_t)synth_config(fx.syn)->nfarms);
	cr_assert(res.run.is_forecast);
	cr_assert_eq(res.run.ref_time, synth_run_time(fx.syn, 0));
	cr_assert_eq(res.run.ntimes, SYNTH_LEADS);
	ingest_result_release(&res);

	g = synth_grid(fx.syn);
	grid = malloc(sizeof(double) * SYNTH_NVARS * SYNTH_LEADS * g->nlat * g->nlon);
	cr_assert_eq(synth_forecast_grid(fx.syn, 0, grid, NULL), WC_OK);
	for (int i = 0; i < synth_config(fx.syn)->nfarms; i++) {
		const struct synth_farm *sf = synth_farm(fx.syn, i);
		/* demo farms sit on grid points: the interpolation is the point's value */
		int iy = (int)lround((g->lat_north - sf->lat) / g->step);
		int ix = (int)lround((sf->lon - g->lon_west) / g->step);

		cr_assert_float_eq(g->lat_north - iy * g->step, sf->lat, 1e-9);
		cr_assert_eq(store_weather_query(fx.st, sf->id, INT64_MIN, &rows, &runs, &n, NULL),
			     WC_OK);
		cr_assert_eq(n, SYNTH_LEADS);
		for (size_t t = 0; t < n; t++) {
			static const struct {
				enum synth_var sv;
				enum weather_col wc;
				double tol;	/* half a packing step is below these */
			} m[] = {
				{ SYNTH_U10, WX_U10, 2e-3 },   { SYNTH_V10, WX_V10, 2e-3 },
				{ SYNTH_U100, WX_U100, 2e-3 }, { SYNTH_V100, WX_V100, 2e-3 },
				{ SYNTH_T2M, WX_T2M, 2e-3 },   { SYNTH_SP, WX_SP, 0.1 },
			};

			cr_assert_eq(rows[t].valid_time, synth_run_time(fx.syn, 0) + 3600 * (int64_t)t);
			cr_assert_float_eq(rows[t].lead_h, (double)t, 1e-9);
			for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
				double want = grid[(((size_t)m[k].sv * SYNTH_LEADS + t) * g->nlat + iy) *
							   g->nlon + ix];
				double d = fabs(rows[t].v[m[k].wc] - want);

				if (d > maxdiff && m[k].sv != SYNTH_SP)
					maxdiff = d;
				cr_assert_leq(d, m[k].tol, "%s lead %zu %s: %g vs %g", sf->id, t,
					      synth_var_name(m[k].sv), rows[t].v[m[k].wc], want);
			}
			/* derived: speed and meteorological direction from u/v */
			double u = rows[t].v[WX_U100], v = rows[t].v[WX_V100];
			cr_assert_float_eq(rows[t].v[WX_WS100], hypot(u, v), 1e-9);
			double wd = fmod(atan2(-u, -v) * 180 / M_PI + 360, 360);
			cr_assert_float_eq(rows[t].v[WX_WD100], wd, 1e-6);
			cr_assert(isfinite(rows[t].v[WX_WS_HUB]) && isfinite(rows[t].v[WX_RHO]));
			cr_assert(rows[t].v[WX_RHO] > 1.0 && rows[t].v[WX_RHO] < 1.5);
		}
		free(rows);
		free(runs);
	}
	cr_log_info("max |stored - intended| over u/v/t2m: %.2e", maxdiff);
	free(grid);
	fixture_release(&fx);
}

Test(ingest, same_bytes_are_known_and_add_nothing)
{
	struct fixture fx;
	struct ingest_result res;

	fixture_init(&fx);
	cr_assert_eq(ingest_file(fx.st, fx.run0, NULL, &res), WC_OK);
	ingest_result_release(&res);	/* keeps res.sha256 */
	cr_assert_eq(count_runs(fx.st), 1);
	cr_assert_eq(count_raw_files(fx.data), 1);
	{
		/* the kept raw file is the same bytes, at its content address */
		char kept[4400];
		size_t la, lb;
		char *a = tu_read_file(fx.run0, &la), *b;

		snprintf(kept, sizeof(kept), "%s/grids/%.2s/%s.nc", fx.data, res.sha256,
			 res.sha256);
		b = tu_read_file(kept, &lb);
		cr_assert_not_null(b, "no raw file at '%s'", kept);
		cr_assert(la == lb && !memcmp(a, b, la));
		free(a);
		free(b);
	}
	cr_assert_eq(ingest_file(fx.st, fx.run0, NULL, &res), WC_OK);
	cr_assert_eq(res.outcome, INGEST_KNOWN);
	ingest_result_release(&res);
	cr_assert_eq(count_runs(fx.st), 1);
	cr_assert_eq(count_raw_files(fx.data), 1);
	cr_assert_eq(ingest_file(fx.st, fx.run1, NULL, &res), WC_OK);
	cr_assert_eq(res.outcome, INGEST_INGESTED);
	ingest_result_release(&res);
	cr_assert_eq(count_runs(fx.st), 2);
	cr_assert_eq(count_raw_files(fx.data), 2);
	fixture_release(&fx);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

Test(ingest, rejected_files_store_nothing)
{
	struct fixture fx;
	struct ingest_result res;
	char path[4300], *bytes;
	size_t len;

	fixture_init(&fx);
	bytes = tu_read_file(fx.run0, &len);
	cr_assert_not_null(bytes);
	struct {
		const char *name;
		size_t n;
		bool random;
	} cases[] = {
		{ "empty.nc", 0, false },	  { "truncated-header.nc", 100, false },
		{ "truncated-half.nc", len / 2, false }, { "random.nc", 5000, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx.dir, cases[i].name);
		if (cases[i].random) {
			for (size_t k = 0; k < cases[i].n; k++)
				bytes[k] = (char)(k * 2654435761u >> 13);
		}
		write_bytes(path, bytes, cases[i].n);
		cr_assert_neq(ingest_file(fx.st, path, NULL, &res), WC_OK, "%s accepted",
			      cases[i].name);
		cr_assert_eq(res.outcome, INGEST_REJECTED);
		cr_assert(strstr(res.error.msg, cases[i].name), "message names the file: %s",
			  res.error.msg);
		ingest_result_release(&res);
	}
	cr_assert_neq(ingest_file(fx.st, "/nonexistent/x.nc", NULL, &res), WC_OK);
	cr_assert(strstr(res.error.msg, "x.nc"));
	ingest_result_release(&res);
	cr_assert_neq(ingest_file(fx.st, fx.dir, NULL, &res), WC_OK);
	ingest_result_release(&res);
	cr_assert_eq(count_runs(fx.st), 0);
	cr_assert_eq(count_raw_files(fx.data), 0);
	free(bytes);
	fixture_release(&fx);
}

Test(ingest, real_grid_without_surface_wind_is_rejected)
{
	struct fixture fx;
	struct ingest_result res;
	char path[4300];
	const char *shared = tu_shared();

	if (!shared)
		cr_skip_test("../shared is absent: cannot read the real grids");
	fixture_init(&fx);
	snprintf(path, sizeof(path), "%s/grids/ncep_psl_composite_uwnd.nc", shared);
	cr_assert_neq(ingest_file(fx.st, path, NULL, &res), WC_OK);
	cr_assert(strstr(res.error.msg, "250mb"), "says what was found: %s", res.error.msg);
	cr_assert(strstr(res.error.msg, "looked for"), "says what was looked for: %s",
		  res.error.msg);
	ingest_result_release(&res);
	cr_assert_eq(count_runs(fx.st), 0);
	fixture_release(&fx);
}

Test(ingest, cli_lines_exit_codes_and_weather)
{
	struct fixture fx;
	char *out, *err, bad[4300];
	json_t *v;

	fixture_init(&fx);
	store_close(fx.st);
	fx.st = NULL;
	snprintf(bad, sizeof(bad), "%s/bad.nc", fx.dir);
	write_bytes(bad, "CDF\001garbage", 11);
	cr_assert_eq(tu_cli(fx.data, &out, &err, "ingest '%s' '%s'", fx.run0, bad), 1);
	cr_assert(strstr(out, "run0.nc: ingested: run 2026-01-01T00:00:00Z"), "out: %s", out);
	cr_assert(strstr(out, "bad.nc: rejected: "), "out: %s", out);
	cr_assert(strstr(out, "1 ingested, 0 already known, 1 rejected"), "out: %s", out);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(fx.data, &out, &err, "ingest '%s' '%s'", fx.run0, fx.run1), 0);
	cr_assert(strstr(out, "run0.nc: already known"), "out: %s", out);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(fx.data, &out, &err, "ingest"), 2);
	free(out);
	free(err);

	cr_assert_eq(tu_cli(fx.data, &out, &err, "weather --farm horns-reef --format csv "
						 "--ref-time 2026-01-01T12:00:00Z"),
		     0, "%s", err);
	static const char head[] =
		"ref_time,valid_time,lead_h,u10,v10,u100,v100,ws10,ws100,"
		"wd10,wd100,t2m,sp,ws100_nbr_mean,ws100_nbr_std\n"
		"2026-01-01T12:00:00Z,2026-01-01T12:00:00Z,0,";
	cr_assert(!strncmp(out, head, strlen(head)), "out: %.300s", out);
	size_t lines = 0;
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, 1 + SYNTH_LEADS);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(fx.data, &out, &err, "weather --farm horns-reef --format json"), 0);
	v = json_loads(out, 0, NULL);
	cr_assert_eq(json_array_size(v), 2 * SYNTH_LEADS);
	cr_assert(json_is_number(json_object_get(json_array_get(v, 0), "ws100")));
	json_decref(v);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(fx.data, &out, &err, "weather --farm nope"), 1);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(fx.data, &out, &err, "weather --farm horns-reef --ref-time x"), 2);
	free(out);
	free(err);
	fixture_release(&fx);
}

/* ---- over HTTP ---- */

static json_t *http_json(unsigned port, const char *method, const char *path,
			 const char *body, size_t len, const char *const *hdrs, long want)
{
	struct tu_http r;
	json_t *v;

	cr_assert(tu_http_request(port, method, path, body, len, hdrs, &r));
	cr_assert_eq(r.status, want, "%s %s: %ld %s", method, path, r.status, r.body);
	v = json_loads(r.body, 0, NULL);
	tu_http_release(&r);
	return v;
}

/* Poll a job until it is done or failed; returns its JSON. */
static json_t *wait_job(unsigned port, const char *url)
{
	for (int i = 0; i < 600; i++) {
		json_t *j = http_json(port, "GET", url, NULL, 0, NULL, 200);
		const char *state = json_string_value(json_object_get(j, "state"));

		if (!strcmp(state, "done") || !strcmp(state, "failed"))
			return j;
		json_decref(j);
		usleep(50000);
	}
	cr_assert_fail("job %s did not finish", url);
	return NULL;
}

Test(ingest, http_upload_jobs_and_listing, .timeout = 120)
{
	static const char *const nc[] = { "Content-Type: application/x-netcdf", NULL };
	static const char *const txt[] = { "Content-Type: text/plain", NULL };
	struct fixture fx;
	struct server_config cfg;
	struct server *srv;
	char *bytes, url[256];
	size_t len;
	unsigned port;
	json_t *v, *job;

	fixture_init(&fx);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	cfg.max_upload = 4 << 20;
	tu_auth(fx.st);
	cr_assert_eq(server_start(&cfg, fx.st, &srv, NULL), WC_OK);
	port = server_port(srv);
	bytes = tu_read_file(fx.run0, &len);

	v = http_json(port, "POST", "/v1/grids?name=run0.nc", bytes, len, nc, 202);
	snprintf(url, sizeof(url), "%s",
		 json_string_value(json_object_get(json_object_get(v, "job"), "url")));
	json_decref(v);
	job = wait_job(port, url);
	cr_assert_str_eq(json_string_value(json_object_get(job, "state")), "done");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "result"), "status")),
			 "ingested");
	cr_assert_eq(json_array_size(json_object_get(json_object_get(job, "result"), "farms")), 3);
	json_decref(job);

	/* the same bytes again: 200, known, no job */
	v = http_json(port, "POST", "/v1/grids", bytes, len, nc, 200);
	cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "known");
	json_decref(v);

	/* garbage: refused at once (415) naming the client's file; no job (more in
	 * test_http_hostile.c) */
	v = http_json(port, "POST", "/v1/grids?name=junk.nc", "not a netcdf file", 17, nc, 415);
	cr_assert(strstr(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
			 "'junk.nc'"));
	json_decref(v);

	json_decref(http_json(port, "POST", "/v1/grids", bytes, len, txt, 415));
	json_decref(http_json(port, "POST", "/v1/grids", "", 0, nc, 400));
	free(bytes);
	/* over the cap */
	bytes = calloc(1, (4 << 20) + 10);
	json_decref(http_json(port, "POST", "/v1/grids", bytes, (4 << 20) + 10, nc, 413));
	free(bytes);

	v = http_json(port, "GET", "/v1/grids", NULL, 0, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(v, "runs")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(v, "runs"), 0),
							   "ref_time")),
			 "2026-01-01T00:00:00Z");
	json_decref(v);
	json_decref(http_json(port, "GET", "/v1/jobs/999", NULL, 0, NULL, 404));
	json_decref(http_json(port, "GET", "/v1/jobs/abc", NULL, 0, NULL, 400));
	json_decref(http_json(port, "GET", "/healthz", NULL, 0, NULL, 200));
	cr_assert_eq(count_raw_files(fx.data), 1);
	server_stop(srv);
	fixture_release(&fx);
}
