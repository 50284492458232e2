/*
 * test_store_farms.c - the farm rules the CLI and the API share (issue 11): numeric
 * ranges (defect 7), names, the power curve parser and the farm CSV writer that moved
 * into data/farm, a store that must exist (defect 8), and the store's side of a farm's
 * weather (store_farm_weather_replace, the ingest dropping a farm that moved).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dynbuf.h"
#include "data/farm.h"
#include "data/obs.h"
#include "data/store.h"
#include "fixture_farms.h"
#include "testutil.h"

TestSuite(store_farms, .timeout = 60);

static struct farm good_farm(void)
{
	return (struct farm){ .id = "f", .name = "F", .lat = 55, .lon = 8, .capacity_mw = 50,
			      .hub_height_m = 100 };
}

/* Each value of one field at and just past its bounds: valid or not as the docs say. */
Test(store_farms, every_number_has_its_documented_range)
{
	static const struct {
		int field;	/* 0 lat, 1 lon, 2 capacity_mw, 3 hub_height_m */
		double v;
		bool ok;
	} cases[] = {
		{ 0, -90, true },	  { 0, 90, true },	   { 0, 90.000001, false },
		{ 0, -90.000001, false }, { 0, NAN, false },	   { 1, -180, true },
		{ 1, 359.999, true },	  { 1, 360, false },	   { 1, -180.001, false },
		{ 2, 0, false },	  { 2, 1e-3, true },	   { 2, 100000, true },
		{ 2, 100000.001, false }, { 2, 1e308, false },	   { 2, INFINITY, false },
		{ 2, -5, false },	  { 3, 10, true },	   { 3, 9.99, false },
		{ 3, 300, true },	  { 3, 300.01, false },	   { 3, NAN, true },
		{ 3, INFINITY, false },
	};
	static const char *const names[] = { "lat", "lon", "capacity_mw", "hub_height_m" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct farm f = good_farm();
		double *dst[] = { &f.lat, &f.lon, &f.capacity_mw, &f.hub_height_m };
		struct wc_error err = { 0 };
		enum wc_status st;

		*dst[cases[i].field] = cases[i].v;
		st = farm_validate(&f, &err);
		cr_assert_eq(st == WC_OK, cases[i].ok, "%s %g: %s", names[cases[i].field],
			     cases[i].v, err.msg);
		if (!cases[i].ok)
			cr_assert(strstr(err.msg, names[cases[i].field]) && strstr(err.msg, " x "),
				  "the message names the field and its range: %s", err.msg);
	}
	{
		struct farm f = good_farm();
		struct wc_error err = { 0 };

		f.capacity_mw = 1e308;
		cr_assert_eq(farm_validate(&f, &err), WC_EINVAL);
		cr_assert_str_eq(err.msg, "invalid farm 'f': capacity_mw 1e+308 is outside "
					  "0 < x <= 100000 (MW)");
	}
}

Test(store_farms, names_are_printable_utf8)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{ "Horns Rev 3", true },	 { "\xc3\x86" "bel\xc3\xb8", true },
		{ "\xe6\xb5\xb7\xe4\xb8\x8a", true }, { "tab\there", false },
		{ "new\nline", false },		 { "del\x7f", false },
		{ "bad \xc3", false },		 { "overlong \xc0\xaf", false },
		{ "surrogate \xed\xa0\x80", false }, { "c1 \xc2\x85", false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct farm f = good_farm();
		struct wc_error err = { 0 };

		snprintf(f.name, sizeof(f.name), "%s", cases[i].name);
		cr_assert_eq(farm_validate(&f, &err) == WC_OK, cases[i].ok, "case %zu: %s", i,
			     err.msg);
	}
}

Test(store_farms, power_curves_parse_from_csv_json_and_a_json_string)
{
	static const struct {
		const char *text, *msg;	/* msg NULL: valid */
	} cases[] = {
		{ "ws,power\n3,0\n12,1\n25,1\n", NULL },
		{ "ws,power\r\n3,0\r\n\r\n12,1\r\n", NULL },
		{ "  [{\"ws\":3,\"power\":0},{\"ws\":12,\"power\":1}]", NULL },
		{ "", "empty: expected the header 'ws,power'" },
		{ "speed,power\n3,0\n", "line 1: expected the header 'ws,power', got 'speed,power'" },
		{ "ws,power\n3,0\n12,x\n", "line 3: expected two numbers 'ws,power', got '12,x'" },
		{ "ws,power\n3,0\n", "1 point: give 2 to 64" },
		{ "ws,power\n3,0\n101,1\n", "point 2: ws 101 is outside 0 <= x <= 100" },
		{ "ws,power\n3,0\n12,1.5\n", "point 2: power 1.5 is outside 0 <= x <= 1" },
		{ "ws,power\n3,0\n3,1\n", "point 2: ws 3 must be above the previous point's 3" },
		{ "ws,power\n3,0\n1e999,1\n", "line 3: expected two numbers" },
		{ "[{\"ws\":3,\"power\":0},", "cannot parse JSON: line 1" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct farm_curve c;
		struct wc_error err = { 0 };
		enum wc_status st = farm_curve_parse(cases[i].text, strlen(cases[i].text), &c, &err);

		if (!cases[i].msg) {
			cr_assert_eq(st, WC_OK, "case %zu: %s", i, err.msg);
			cr_assert_geq(c.n, 2);
			cr_assert_eq(c.ws[1], 12);
			cr_assert_eq(c.power[1], 1);
		} else {
			cr_assert_neq(st, WC_OK, "case %zu must fail", i);
			cr_assert(strstr(err.msg, cases[i].msg), "case %zu: '%s', want '%s'", i,
				  err.msg, cases[i].msg);
		}
	}
	/* a line longer than the limit, a NUL inside, a text past the cap */
	{
		char text[FARM_CURVE_LINE_MAX + 64];
		struct farm_curve c;
		struct wc_error err = { 0 };
		size_t n = (size_t)snprintf(text, sizeof(text), "ws,power\n3,0\n");

		memset(text + n, '1', FARM_CURVE_LINE_MAX + 1);
		text[n + FARM_CURVE_LINE_MAX + 1] = '\0';
		cr_assert_neq(farm_curve_parse(text, strlen(text), &c, &err), WC_OK);
		cr_assert(strstr(err.msg, "line 3 is longer than 256 bytes"), "%s", err.msg);
		cr_assert_neq(farm_curve_parse("ws,power\n3,0\n1\0002,1\n", 20, &c, &err), WC_OK);
		cr_assert(strstr(err.msg, "line 3 holds a NUL byte"), "%s", err.msg);
	}
	/* the API takes the CSV as a JSON string, through the same parser */
	{
		json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:s}", "id", "c", "name", "C", "lat", 55,
				      "lon", 8, "capacity_mw", 10, "power_curve",
				      "ws,power\n3,0\n7.5,0.4\n13,1\n");
		struct farm f;
		struct wc_error err = { 0 };

		cr_assert_eq(farm_from_json(o, NULL, &f, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(f.power_curve.n, 3);
		cr_assert_eq(f.power_curve.ws[1], 7.5);
		cr_assert_eq(f.power_curve.power[1], 0.4);
		json_object_set_new(o, "power_curve", json_string("ws,power\n3,0\n2,1\n"));
		cr_assert_eq(farm_from_json(o, NULL, &f, &err), WC_EINVAL);
		cr_assert_str_eq(err.msg, "field 'power_curve': point 2: ws 2 must be above the "
					  "previous point's 3 (speeds increase strictly)");
		json_decref(o);
	}
}

Test(store_farms, the_farm_csv_writer)
{
	struct farm farms[2] = { good_farm(), good_farm() };
	struct dynbuf b;

	snprintf(farms[1].id, sizeof(farms[1].id), "g");
	snprintf(farms[1].name, sizeof(farms[1].name), "Quote \"and\", comma");
	farms[1].hub_height_m = NAN;
	farms[1].lon = -3.5;
	dynbuf_init(&b, 1 << 20);
	cr_assert_eq(farm_csv_write(&b, farms, 2), WC_OK);
	cr_assert_str_eq(dynbuf_str(&b),
			 "id,name,lat,lon,capacity_mw,hub_height_m\n"
			 "f,F,55.000000,8.000000,50.000,100.0\n"
			 "g,\"Quote \"\"and\"\", comma\",55.000000,-3.500000,50.000,\n");
	dynbuf_release(&b);
	dynbuf_init(&b, 20);
	cr_assert_eq(farm_csv_write(&b, farms, 2), WC_ETOOLARGE, "the cap holds");
	dynbuf_release(&b);
}

Test(store_farms, a_store_that_must_exist_is_not_created)
{
	char *dir = tu_tmpdir(), path[4200], db[4300];
	struct wc_error err = { 0 };
	struct store *st = NULL;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/typo", dir);
	cr_assert_eq(store_open_with(path, 0, &st, &err), WC_ENOTFOUND);
	cr_assert_null(st);
	cr_assert(strstr(err.msg, "no windcast store at '") && strstr(err.msg, "/typo'"), "%s",
		  err.msg);
	cr_assert_neq(stat(path, &sb), 0, "the directory was created");
	/* a directory without a database is no store either, and stays without one */
	snprintf(db, sizeof(db), "%s/windcast.db", dir);
	cr_assert_eq(store_open_with(dir, 0, &st, &err), WC_ENOTFOUND);
	cr_assert_neq(stat(db, &sb), 0, "the database was created");
	cr_assert_eq(store_open_with(path, STORE_CREATE, &st, &err), WC_OK, "%s", err.msg);
	store_close(st);
	cr_assert_eq(store_open_with(path, 0, &st, &err), WC_OK, "%s", err.msg);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(store_farms, observation_times_have_a_range)
{
	struct obs_row *rows = NULL;
	struct wc_error err = { 0 };
	size_t n;
	static const char bad[] = "time,power_mw\n1800-01-01T01:00:00Z,1\n";
	static const char good[] = "time,power_mw\n1900-01-01T01:00:00Z,1\n";

	cr_assert_eq(obs_parse_csv(bad, strlen(bad), 10, &rows, &n, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "line 2: time 1800-01-01T01:00:00Z is outside 1900"), "%s",
		  err.msg);
	free(rows);
	rows = NULL;
	cr_assert_eq(obs_parse_csv(good, strlen(good), 10, &rows, &n, &err), WC_OK, "%s", err.msg);
	free(rows);
}

/* A weather source of one run with one row, for store_farm_weather_replace. */
struct one_run {
	int64_t run_id;
	struct weather_row row;
	bool given;
};

static enum wc_status one_run_next(void *cls, struct run_weather *out, bool *done,
				   struct wc_error *err)
{
	struct one_run *o = cls;

	*done = o->given;
	o->given = true;
	*out = (struct run_weather){ o->run_id, &o->row, 1 };
	return WC_OK;
}

Test(store_farms, weather_replace_checks_the_site_and_newer_runs_first)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	enum weather_replace outcome;
	struct nwp_run *runs;
	struct farm f, moved;
	struct store *st;
	char path[4200], *before, *after;
	size_t n, nrows;
	int64_t newest;
	struct one_run src = { 0 };

	ffx_init(&fx);
	st = ffx_store(&fx, "s", path);
	ffx_farm(&fx, 0, &f);
	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	ffx_ingest_all(&fx, st);
	cr_assert_eq(store_run_count(st, &n, &err), WC_OK);
	cr_assert_eq(n, FFX_RUNS);
	cr_assert_eq(store_run_list(st, &runs, &n, &err), WC_OK);
	newest = runs[0].id;
	free(runs);
	before = ffx_weather_text(st, f.id, &nrows);
	cr_assert_eq(nrows, FFX_RUNS * SYNTH_LEADS);
	src.run_id = newest;
	src.row.valid_time = 1767225600;
	for (int c = 0; c < WEATHER_NCOLS; c++)
		src.row.v[c] = c;

	/* the rows were computed for another site: nothing written */
	moved = f;
	moved.lat += 0.5;
	cr_assert_eq(store_farm_weather_replace(st, &moved, newest, one_run_next, &src, &outcome,
						&err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(outcome, WEATHER_MOVED);
	/* a run newer than the rows know of: nothing written, try again */
	src.given = false;
	cr_assert_eq(store_farm_weather_replace(st, &f, newest - 1, one_run_next, &src, &outcome,
						&err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(outcome, WEATHER_NEW_RUNS);
	after = ffx_weather_text(st, f.id, &nrows);
	cr_assert_str_eq(after, before, "nothing changed");
	free(after);
	/* else every row of the farm is replaced, in one go */
	src.given = false;
	cr_assert_eq(store_farm_weather_replace(st, &f, newest, one_run_next, &src, &outcome,
						&err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(outcome, WEATHER_REPLACED);
	after = ffx_weather_text(st, f.id, &nrows);
	cr_assert_eq(nrows, 1);
	free(after);
	cr_assert_eq(store_run_list(st, &runs, &n, &err), WC_OK);
	cr_assert_eq(runs[0].nfarms, 1, "the newest run keeps its farm");
	cr_assert_eq(runs[1].nfarms, 0, "the other run lost it");
	free(runs);
	free(before);
	store_close(st);
	ffx_release(&fx);
}

/* The rows of farms "a" then "b", one each, for store_ingest_batches. */
struct two_farms {
	struct weather_row row;
	int next;
};

static enum wc_status two_farms_next(void *cls, struct farm_weather *out, bool *done,
				     struct wc_error *err)
{
	static const char *const ids[] = { "a", "b" };
	struct two_farms *t = cls;

	*done = t->next == 2;
	if (!*done)
		*out = (struct farm_weather){ ids[t->next++], &t->row, 1 };
	return WC_OK;
}

/* A farm that moves while a file is decoded keeps none of that file's rows. */
Test(store_farms, an_ingest_drops_the_rows_of_a_farm_that_moved_meanwhile)
{
	struct wc_error err = { 0 };
	struct two_farms src = { .row = { .valid_time = 1767225600, .lead_h = 0 } };
	struct farm a = good_farm(), b = good_farm(), sites[2];
	struct nwp_run run = { .is_forecast = true, .ref_time = 1767225600, .ntimes = 1,
			       .first_valid = 1767225600, .last_valid = 1767225600 };
	char *dir = tu_tmpdir(), sha[65];
	struct store *st;
	size_t n;

	snprintf(a.id, sizeof(a.id), "a");
	snprintf(b.id, sizeof(b.id), "b");
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &b, &err), WC_OK, "%s", err.msg);
	sites[0] = a;
	sites[1] = b;
	sites[1].lon += 1;	/* b stood elsewhere when the rows were computed */
	memset(sha, 'a', 64);
	sha[64] = '\0';
	cr_assert_eq(store_ingest_batches(st, sha, 1, "/dev/null", "x.nc", &run, two_farms_next,
					  &src, sites, 2, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(run.nfarms, 1);
	free(ffx_weather_text(st, "a", &n));
	cr_assert_eq(n, 1);
	free(ffx_weather_text(st, "b", &n));
	cr_assert_eq(n, 0, "b's rows are for a place it no longer stands");
	/* a farm removed meanwhile is dropped too, instead of failing the whole file */
	cr_assert_eq(store_farm_delete(st, "b", &err), WC_OK, "%s", err.msg);
	sites[1] = b;
	src.next = 0;
	memset(sha, 'b', 64);
	cr_assert_eq(store_ingest_batches(st, sha, 1, "/dev/null", "y.nc", &run, two_farms_next,
					  &src, sites, 2, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(run.nfarms, 1);
	store_close(st);
	tu_rmrf_free(dir);
}
