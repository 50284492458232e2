/* test_obs.c - observations: parsing, validation with row numbers, storage, CLI, HTTP. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/obs.h"
#include "data/store.h"
#include "server/server.h"
#include "testutil.h"

static enum wc_status parse(const char *text, struct obs_row **rows, size_t *n,
			    struct wc_error *err)
{
	return obs_parse(text, strlen(text), 100, rows, n, err);
}

Test(obs, csv_forms)
{
	struct obs_row *rows;
	struct wc_error err = { 0 };
	size_t n;

	cr_assert_eq(parse("time,power_mw\n2026-01-01T02:00:00Z,50.5\n"
			   "2026-01-01T01:00:00Z,-5\r\n2026010103,110\n\n",
			   &rows, &n, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(n, 3);
	cr_assert_eq(rows[0].time, utc_from_fields(2026, 1, 1, 1, 0, 0), "sorted by time");
	cr_assert_float_eq(rows[0].power_mw, -5, 1e-12);
	cr_assert_float_eq(rows[1].power_mw, 50.5, 1e-12);
	cr_assert_eq(rows[2].time, utc_from_fields(2026, 1, 1, 3, 0, 0));
	cr_assert_eq(rows[2].flag, OBS_OK);
	free(rows);
	cr_assert_eq(parse("\xef\xbb\xbf" "flag , power_mw, time\n"
			   "outage,0,2026-01-01T01:00:00+01:00\n"
			   "CURTAILED,30,2026-01-01 02:00\n"
			   ",1,\"2026-01-01T03:00:00Z\"\n",
			   &rows, &n, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(n, 3);
	cr_assert_eq(rows[0].time, utc_from_fields(2026, 1, 1, 0, 0, 0), "offset applied");
	cr_assert_eq(rows[0].flag, OBS_OUTAGE);
	cr_assert_eq(rows[1].flag, OBS_CURTAILED);
	cr_assert_eq(rows[2].flag, OBS_OK);
	free(rows);
	cr_assert_eq(parse("time,power_mw\n", &rows, &n, &err), WC_OK);
	cr_assert_eq(n, 0);
	free(rows);
}

Test(obs, csv_errors_name_the_line)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "", "empty" },
		{ "a,b\n1,2\n", "header" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,1\nyesterday,2\n", "line 3: cannot parse time 'yesterday'" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,abc\n", "line 2: power_mw 'abc' is not a number" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,nan\n", "line 2: power_mw is not a finite" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,\n", "line 2: power_mw '' is not a number" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,110.5\n", "line 2: power_mw 110.5 is outside [-5, 110]" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,-5.01\n", "line 2: power_mw -5.01 is outside" },
		{ "time,power_mw\n2026-01-01T01:30:00Z,1\n", "line 2: time 2026-01-01T01:30:00Z is not on a whole hour" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,1,2\n", "line 2: 3 fields, the header has 2" },
		{ "time,power_mw,flag\n2026-01-01T01:00:00Z,1,broken\n", "line 2: unknown flag 'broken'" },
		{ "time,power_mw\n2026-01-01T01:00:00Z,1\n2026-01-01T01:00:00Z,2\n", "appears more than once" },
		{ "time,power_mw\n\"2026-01-01T01:00:00Z,1\n", "line 2: malformed CSV" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct obs_row *rows = (void *)1;
		struct wc_error err = { 0 };
		size_t n = 42;

		cr_assert_eq(parse(bad[i].text, &rows, &n, &err), WC_EINVAL, "case %zu accepted", i);
		cr_assert(strstr(err.msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, err.msg,
			  bad[i].want);
		cr_assert_null(rows);
		cr_assert_eq(n, 0);
	}
}

Test(obs, json_forms_and_errors)
{
	struct obs_row *rows;
	struct wc_error err = { 0 };
	size_t n;

	cr_assert_eq(parse(" [{\"time\":\"2026-01-01T01:00:00Z\",\"power_mw\":12},"
			   "{\"time\":\"2026010102\",\"power_mw\":13.5,\"flag\":\"curtailed\"}]",
			   &rows, &n, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(n, 2);
	cr_assert_float_eq(rows[1].power_mw, 13.5, 1e-12);
	cr_assert_eq(rows[1].flag, OBS_CURTAILED);
	free(rows);
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[{\"time\":\"2026-01-01T01:00:00Z\",\"power_mw\":\"12\"}]", "element 1: power_mw must be a number" },
		{ "[{\"time\":\"2026-01-01T01:00:00Z\",\"power_mw\":1},{\"power_mw\":1}]", "element 2" },
		{ "[{\"time\":\"x\",\"power_mw\":1}]", "element 1: cannot parse time 'x'" },
		{ "[{\"time\":\"2026-01-01T01:00:00Z\",\"power_mw\":999}]", "element 1: power_mw 999" },
		{ "[{\"time\":\"2026-01-01T01:00:00Z\",\"power_mw\":1,\"flag\":3}]", "element 1: unknown flag" },
		{ "[{\"time\":", "malformed JSON" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i].text, &rows, &n, &err), WC_EINVAL, "case %zu accepted", i);
		cr_assert(strstr(err.msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, err.msg,
			  bad[i].want);
	}
	cr_assert_eq(obs_parse_json("{}", 2, 100, &rows, &n, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "array"));
}

static void add_farm(struct store *st, const char *id, double cap)
{
	struct farm f = { .lat = 55, .lon = 8, .capacity_mw = cap, .hub_height_m = NAN };

	snprintf(f.id, sizeof(f.id), "%s", id);
	snprintf(f.name, sizeof(f.name), "%s", id);
	cr_assert_eq(store_farm_add(st, &f, NULL), WC_OK);
}

Test(obs, store_upsert_and_query)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct obs_row in[3] = { { 3600, 1, OBS_OK }, { 7200, 2, OBS_OUTAGE }, { 10800, 3, OBS_OK } };
	struct obs_row *rows;
	struct wc_error err = { 0 };
	size_t n;

	cr_assert_eq(store_open(dir, &st, NULL), WC_OK);
	add_farm(st, "f", 10);
	cr_assert_eq(store_obs_upsert(st, "nope", in, 3, &err), WC_ENOTFOUND);
	cr_assert_eq(store_obs_upsert(st, "f", in, 3, &err), WC_OK, "%s", err.msg);
	in[1].power_mw = 9;
	in[1].flag = OBS_OK;
	cr_assert_eq(store_obs_upsert(st, "f", in + 1, 1, &err), WC_OK);
	cr_assert_eq(store_obs_query(st, "f", 7200, INT64_MAX, &rows, &n, &err), WC_OK);
	cr_assert_eq(n, 2);
	cr_assert_float_eq(rows[0].power_mw, 9, 1e-12, "re-import updates the hour");
	cr_assert_eq(rows[0].flag, OBS_OK);
	free(rows);
	cr_assert_eq(store_obs_query(st, "f", INT64_MIN, INT64_MAX, &rows, &n, &err), WC_OK);
	cr_assert(n == 3 && rows[0].time == 3600 && rows[n - 1].time == 10800);
	free(rows);
	cr_assert_eq(store_farm_delete(st, "f", &err), WC_OK);
	add_farm(st, "f", 10);
	cr_assert_eq(store_obs_query(st, "f", INT64_MIN, INT64_MAX, &rows, &n, &err), WC_OK);
	cr_assert_eq(n, 0, "deleting a farm deletes its observations");
	free(rows);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(obs, cli_import_is_all_or_nothing)
{
	char *dir = tu_tmpdir(), path[4200], *out, *err;
	FILE *f;

	cr_assert_eq(tu_cli(dir, NULL, NULL, "farm add --id f --name F --lat 1 --lon 1 "
					     "--capacity-mw 100"),
		     0);
	snprintf(path, sizeof(path), "%s/obs.csv", dir);
	f = fopen(path, "w");
	fputs("time,power_mw\n2026-01-01T01:00:00Z,10\n2026-01-01T02:00:00Z,20\n", f);
	fclose(f);
	cr_assert_eq(tu_cli(dir, &out, &err, "obs import --farm f '%s'", path), 0, "%s", err);
	cr_assert(strstr(out, "imported 2 observations"), "out: %s", out);
	free(out);
	free(err);
	f = fopen(path, "w");
	fputs("time,power_mw\n2026-01-01T02:00:00Z,99\n2026-01-01T03:00:00Z,1000\n", f);
	fclose(f);
	cr_assert_eq(tu_cli(dir, &out, &err, "obs import --farm f '%s'", path), 1);
	cr_assert(strstr(err, "line 3") && strstr(err, "nothing was stored"), "err: %s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "obs list --farm f --format csv"), 0);
	cr_assert_str_eq(out, "time,power_mw,flag\n2026-01-01T01:00:00Z,10,ok\n"
			      "2026-01-01T02:00:00Z,20,ok\n");
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "obs import --farm nope '%s'", path), 1);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "obs import '%s'", path), 2);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "obs frob"), 2);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

Test(obs, http_post)
{
	static const char *const json_ct[] = { "Content-Type: application/json", NULL };
	static const char *const csv_ct[] = { "Content-Type: text/csv", NULL };
	char *dir = tu_tmpdir();
	struct store *st;
	struct server *srv;
	struct server_config cfg;
	struct tu_http r;
	struct obs_row *rows;
	size_t n;
	unsigned port;

	cr_assert_eq(store_open(dir, &st, NULL), WC_OK);
	add_farm(st, "f", 100);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(st);
	cr_assert_eq(server_start(&cfg, st, &srv, NULL), WC_OK);
	port = server_port(srv);

	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/observations",
				  "time,power_mw\n2026-01-01T01:00:00Z,10\n", (size_t)-1, csv_ct, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert(strstr(r.body, "\"stored\":1"), "%s", r.body);
	tu_http_release(&r);
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/observations",
				  "[{\"time\":\"2026-01-01T02:00:00Z\",\"power_mw\":20}]", (size_t)-1,
				  json_ct, &r));
	cr_assert_eq(r.status, 200, "%s", r.body);
	tu_http_release(&r);
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/observations",
				  "time,power_mw\n2026-01-01T03:00:00Z,30\n2026-01-01T04:00:00Z,x\n",
				  (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "line 3"), "%s", r.body);
	tu_http_release(&r);
	cr_assert(tu_http_request(port, "POST", "/v1/farms/none/observations",
				  "time,power_mw\n", (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 404);
	tu_http_release(&r);
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/observations", "", 0, NULL, &r));
	cr_assert_eq(r.status, 400);
	tu_http_release(&r);
	cr_assert_eq(store_obs_query(st, "f", INT64_MIN, INT64_MAX, &rows, &n, NULL), WC_OK);
	cr_assert_eq(n, 2, "the bad upload stored nothing");
	free(rows);
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}
