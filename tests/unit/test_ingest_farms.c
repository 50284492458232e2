/*
 * test_ingest_farms.c - a farm's weather from the grids stored already
 * (ingest_farm_weather, issue 11 defect 3) and the wording of rejected ingests (defect
 * 9's library side).
 *
 * The reference for an extraction is independent of it: the weather the same farm got
 * when it was registered before the files were ingested (ingest_file's own path).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/ingest.h"
#include "data/store.h"
#include "fixture_farms.h"
#include "testutil.h"

TestSuite(ingest_farms, .timeout = 120);

/* Run r of st (by its position in store_run_list, newest first). */
static struct nwp_run run_at(struct store *st, size_t r)
{
	struct nwp_run *runs, out;
	size_t n;

	cr_assert_eq(store_run_list(st, &runs, &n, NULL), WC_OK);
	cr_assert_lt(r, n);
	out = runs[r];
	free(runs);
	return out;
}

Test(ingest_farms, a_farm_added_after_its_grids_gets_the_same_weather)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	char a_path[4200], b_path[4200];
	struct store *a, *b;
	int nfarms;

	ffx_init(&fx);
	nfarms = synth_config(fx.syn)->nfarms;
	/* a: farms first, then the files (the reference); b: the files, then the farms */
	a = ffx_store(&fx, "a", a_path);
	b = ffx_store(&fx, "b", b_path);
	for (int i = 0; i < nfarms; i++) {
		struct farm f;

		ffx_farm(&fx, i, &f);
		cr_assert_eq(store_farm_add(a, &f, &err), WC_OK, "%s", err.msg);
	}
	ffx_ingest_all(&fx, a);
	ffx_ingest_all(&fx, b);
	cr_assert_eq(run_at(b, 0).nfarms, 0, "no farm when b ingested");
	for (int i = 0; i < nfarms; i++) {
		struct farm_weather_result res;
		struct farm f;
		char *want, *got, line[2048];
		size_t nwant, ngot;

		ffx_farm(&fx, i, &f);
		cr_assert_eq(store_farm_add(b, &f, &err), WC_OK, "%s", err.msg);
		got = ffx_weather_text(b, f.id, &ngot);
		cr_assert_eq(ngot, 0, "nothing before the extraction");
		free(got);
		cr_assert_eq(ingest_farm_weather(b, f.id, &res), WC_OK, "%s", res.error.msg);
		cr_assert_eq(res.nruns, FFX_RUNS);
		cr_assert_eq(res.runs_total, FFX_RUNS);
		cr_assert_eq(res.nrows, FFX_RUNS * SYNTH_LEADS);
		cr_assert_eq(res.nskipped, 0);
		cr_assert(!res.superseded);
		farm_weather_result_line(&res, line, sizeof(line));
		printf("ingest_farms: %s\n", line);
		cr_assert(strstr(line, "2 of 2 runs (98 rows)"), "%s", line);
		want = ffx_weather_text(a, f.id, &nwant);
		got = ffx_weather_text(b, f.id, &ngot);
		cr_assert_eq(ngot, (size_t)FFX_RUNS * SYNTH_LEADS);
		cr_assert_str_eq(got, want, "the extracted weather of '%s' differs", f.id);
		free(want);
		free(got);
	}
	/* each run counts its farms again; extracting twice changes nothing */
	for (size_t r = 0; r < FFX_RUNS; r++)
		cr_assert_eq(run_at(b, r).nfarms, nfarms);
	{
		struct farm_weather_result res;
		size_t n;
		char *before = ffx_weather_text(b, "horns-reef", &n), *after;

		cr_assert_eq(ingest_farm_weather(b, "horns-reef", &res), WC_OK, "%s",
			     res.error.msg);
		after = ffx_weather_text(b, "horns-reef", &n);
		cr_assert_str_eq(after, before);
		cr_assert_eq(run_at(b, 0).nfarms, nfarms);
		free(before);
		free(after);
	}
	/* removing a farm counts it out of its runs */
	cr_assert_eq(store_farm_delete(b, "horns-reef", &err), WC_OK, "%s", err.msg);
	for (size_t r = 0; r < FFX_RUNS; r++)
		cr_assert_eq(run_at(b, r).nfarms, nfarms - 1);
	store_close(a);
	store_close(b);
	ffx_release(&fx);
}

Test(ingest_farms, a_moved_farm_gets_the_weather_of_its_new_site)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	struct farm_weather_result res;
	enum farm_change change;
	char path[4200], *want, *got;
	struct farm f, other;
	struct store *st;
	size_t n;

	ffx_init(&fx);
	st = ffx_store(&fx, "s", path);
	ffx_farm(&fx, 0, &f);
	ffx_farm(&fx, 1, &other);
	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &other, &err), WC_OK, "%s", err.msg);
	ffx_ingest_all(&fx, st);
	want = ffx_weather_text(st, other.id, &n);
	got = ffx_weather_text(st, f.id, &n);
	cr_assert(strcmp(got, want), "two sites, two weathers");
	free(got);
	/* a new name or capacity is not a move; lat, lon and hub height are */
	snprintf(f.name, sizeof(f.name), "renamed");
	f.capacity_mw *= 2;
	cr_assert_eq(store_farms_write(st, &f, 1, true, &change, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(change, FARM_UPDATED);
	cr_assert(!farm_change_needs_weather(change));
	f.lat = other.lat;
	f.lon = other.lon;
	f.hub_height_m = other.hub_height_m;
	cr_assert_eq(store_farms_write(st, &f, 1, true, &change, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(change, FARM_MOVED);
	cr_assert(farm_change_needs_weather(change));
	cr_assert_eq(ingest_farm_weather(st, f.id, &res), WC_OK, "%s", res.error.msg);
	cr_assert_eq(res.nruns, FFX_RUNS);
	got = ffx_weather_text(st, f.id, &n);
	cr_assert_str_eq(got, want, "at the other farm's site, the other farm's weather");
	free(got);
	free(want);
	store_close(st);
	ffx_release(&fx);
}

Test(ingest_farms, runs_without_weather_are_skipped_with_the_reason)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	struct farm_weather_result res;
	struct nwp_run run;
	char path[4200], raw[4400], line[4096];
	struct farm far, f;
	struct store *st;
	json_t *v;

	ffx_init(&fx);
	st = ffx_store(&fx, "s", path);
	ffx_ingest_all(&fx, st);
	/* outside every grid: each run skipped, saying so; not a failure */
	far = (struct farm){ .id = "far", .name = "Far", .lat = 10, .lon = 10,
			     .capacity_mw = 5, .hub_height_m = NAN };
	cr_assert_eq(store_farm_add(st, &far, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(ingest_farm_weather(st, "far", &res), WC_OK, "%s", res.error.msg);
	cr_assert_eq(res.nruns, 0);
	cr_assert_eq(res.nskipped, FFX_RUNS);
	cr_assert(strstr(res.skipped[0].reason, "outside the grid"), "%s", res.skipped[0].reason);
	v = farm_weather_result_json(&res);
	cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "extracted");
	cr_assert_eq(json_array_size(json_object_get(v, "skipped")), FFX_RUNS);
	json_decref(v);
	/* a raw file gone from DATA/grids: that run is skipped, naming the file */
	run = run_at(st, 0);
	snprintf(raw, sizeof(raw), "%s/grids/%.2s/%s.nc", path, run.sha256, run.sha256);
	cr_assert_eq(unlink(raw), 0, "%s", raw);
	ffx_farm(&fx, 0, &f);
	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(ingest_farm_weather(st, f.id, &res), WC_OK, "%s", res.error.msg);
	cr_assert_eq(res.nruns, FFX_RUNS - 1);
	cr_assert_eq(res.nskipped, 1);
	cr_assert_eq(res.skipped[0].run_id, run.id);
	cr_assert(strstr(res.skipped[0].reason, "is missing") &&
			  strstr(res.skipped[0].reason, run.sha256),
		  "%s", res.skipped[0].reason);
	farm_weather_result_line(&res, line, sizeof(line));
	cr_assert(strstr(line, "1 of 2 runs (49 rows); skipped run "), "%s", line);
	/* an unknown farm is a failure naming it */
	cr_assert_eq(ingest_farm_weather(st, "nope", &res), WC_ENOTFOUND);
	cr_assert(strstr(res.error.msg, "cannot extract the weather of 'nope': no farm 'nope'"),
		  "%s", res.error.msg);
	store_close(st);
	ffx_release(&fx);
}

/*
 * An upload is decoded under a spool name the user never saw (DATA/tmp/job-7.nc): the
 * message names the upload once, and no prefix is said twice.
 */
Test(ingest_farms, a_rejected_file_is_named_once_and_never_by_its_spool_name)
{
	struct ffx fx;
	struct ingest_options o;
	struct ingest_result res;
	char path[4200], spool[4300], line[2048];
	struct store *st;
	FILE *f;

	ffx_init(&fx);
	st = ffx_store(&fx, "s", path);
	snprintf(spool, sizeof(spool), "%s/job-7.nc", fx.dir);
	f = fopen(spool, "w");
	fputs("just some text, not netCDF\n", f);
	fclose(f);
	ingest_options_init(&o);
	o.original_name = "notnc.txt";
	cr_assert_neq(ingest_file(st, spool, &o, &res), WC_OK);
	cr_assert_eq(res.outcome, INGEST_REJECTED);
	printf("ingest_farms: %s\n", res.error.msg);
	cr_assert(!strstr(res.error.msg, "job-7"), "names the spool file: %s", res.error.msg);
	cr_assert(strstr(res.error.msg, "cannot ingest 'notnc.txt': "), "%s", res.error.msg);
	cr_assert_null(strstr(strstr(res.error.msg, "cannot") + 1, "cannot"),
		       "says 'cannot' twice: %s", res.error.msg);
	cr_assert_null(strstr(strstr(res.error.msg, "notnc.txt") + 1, "notnc.txt"),
		       "names the file twice: %s", res.error.msg);
	ingest_result_line(&res, line, sizeof(line));
	cr_assert_str_eq(line, "notnc.txt: rejected: not a netCDF file (or truncated)");
	ingest_result_release(&res);
	store_close(st);
	ffx_release(&fx);
}
