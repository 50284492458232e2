/*
 * test_http_farms.c - the farm registry over HTTP against the same library path as the
 * CLI (issue 11): a farm created or moved after its grids were ingested gets its weather
 * from a background job named in the reply (defect 3), the documented ranges (defect
 * 7), the power curve as CSV, and the farm CSV byte for byte the CLI's.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/store.h"
#include "fixture_farms.h"
#include "server/server.h"
#include "testutil.h"

TestSuite(http_farms, .timeout = 120);

struct hfx {
	struct ffx fx;
	char ref_path[4200], path[4200];
	struct store *ref;	/* every synthetic farm registered before the ingest */
	struct store *st;	/* the grids ingested, no farm: the server's store */
	struct server *srv;
	unsigned port;
};

static void hfx_init(struct hfx *h)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	ffx_init(&h->fx);
	h->ref = ffx_store(&h->fx, "ref", h->ref_path);
	for (int i = 0; i < synth_config(h->fx.syn)->nfarms; i++) {
		struct farm f;

		ffx_farm(&h->fx, i, &f);
		cr_assert_eq(store_farm_add(h->ref, &f, &err), WC_OK, "%s", err.msg);
	}
	ffx_ingest_all(&h->fx, h->ref);
	h->st = ffx_store(&h->fx, "st", h->path);
	ffx_ingest_all(&h->fx, h->st);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(h->st);
	cr_assert_eq(server_start(&cfg, h->st, &h->srv, &err), WC_OK, "%s", err.msg);
	h->port = server_port(h->srv);
}

static void hfx_release(struct hfx *h)
{
	server_stop(h->srv);
	store_close(h->st);
	store_close(h->ref);
	ffx_release(&h->fx);
}

/* A request wanting status `want`; the body as JSON (a new reference), *location. */
static json_t *req(struct hfx *h, const char *method, const char *path, const char *body,
		   long want, char *location, size_t loclen)
{
	struct tu_http r;
	json_t *v;

	cr_assert(tu_http_request(h->port, method, path, body, (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, want, "%s %s: %ld, want %ld: %s", method, path, r.status, want,
		     r.body);
	v = json_loads(r.body, 0, NULL);
	if (location) {
		const char *l = strstr(r.headers, "Location: ");

		snprintf(location, loclen, "%.*s", l ? (int)strcspn(l + 10, "\r\n") : 0,
			 l ? l + 10 : "");
	}
	tu_http_release(&r);
	return v;
}

/* The job a farm reply names: wait until it ends; its result (a new reference). */
static json_t *job_result(struct hfx *h, json_t *reply)
{
	const char *url = json_string_value(json_object_get(json_object_get(reply, "job"), "url"));

	cr_assert_not_null(url, "the reply names a job");
	for (int i = 0; i < 600; i++) {
		json_t *j = req(h, "GET", url, NULL, 200, NULL, 0);
		const char *state = json_string_value(json_object_get(j, "state"));
		json_t *res;

		if (!strcmp(state, "done") || !strcmp(state, "failed")) {
			cr_assert_str_eq(state, "done", "%s", json_dumps(j, 0));
			cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "weather");
			res = json_incref(json_object_get(j, "result"));
			json_decref(j);
			return res;
		}
		json_decref(j);
		usleep(20000);
	}
	cr_assert_fail("job %s did not end", url);
	return NULL;
}

/* Farm `id` in the server's store has the reference store's weather of `ref_id`. */
static void assert_weather_of(struct hfx *h, const char *id, const char *ref_id)
{
	size_t n, nref;
	char *got = ffx_weather_text(h->st, id, &n), *want = ffx_weather_text(h->ref, ref_id, &nref);

	cr_assert_eq(n, (size_t)FFX_RUNS * SYNTH_LEADS, "%s: %zu rows", id, n);
	cr_assert_str_eq(got, want, "%s: not the weather of %s's site", id, ref_id);
	free(got);
	free(want);
}

Test(http_farms, a_farm_created_after_its_grids_gets_weather_by_a_job)
{
	struct hfx h;
	char loc[256], body[512];
	json_t *v, *res;
	struct farm hr;

	hfx_init(&h);
	ffx_farm(&h.fx, 1, &hr);	/* horns-reef */
	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"name\":\"HR\",\"lat\":%.17g,\"lon\":%.17g,\"capacity_mw\":10,"
		 "\"hub_height_m\":%.17g}",
		 hr.id, hr.lat, hr.lon, hr.hub_height_m);
	v = req(&h, "POST", "/v1/farms", body, 201, loc, sizeof(loc));
	cr_assert_str_eq(loc, "/v1/farms/horns-reef");
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "horns-reef");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "job"), "state")),
			 "queued");
	res = job_result(&h, v);
	json_decref(v);
	cr_assert_str_eq(json_string_value(json_object_get(res, "status")), "extracted");
	cr_assert_eq(json_integer_value(json_object_get(res, "runs")), FFX_RUNS);
	cr_assert_eq(json_integer_value(json_object_get(res, "rows")), FFX_RUNS * SYNTH_LEADS);
	json_decref(res);
	assert_weather_of(&h, "horns-reef", "horns-reef");

	/* PUT creating a farm: 201 and a job too */
	ffx_farm(&h.fx, 2, &hr);	/* jutland-1 */
	snprintf(body, sizeof(body),
		 "{\"name\":\"J\",\"lat\":%.17g,\"lon\":%.17g,\"capacity_mw\":10,"
		 "\"hub_height_m\":%.17g}",
		 hr.lat, hr.lon, hr.hub_height_m);
	v = req(&h, "PUT", "/v1/farms/jutland-1", body, 201, loc, sizeof(loc));
	cr_assert_str_eq(loc, "/v1/farms/jutland-1");
	json_decref(job_result(&h, v));
	json_decref(v);
	assert_weather_of(&h, "jutland-1", "jutland-1");

	/* a new capacity is no move: 200, no job, the weather kept */
	snprintf(body, sizeof(body),
		 "{\"name\":\"J2\",\"lat\":%.17g,\"lon\":%.17g,\"capacity_mw\":20,"
		 "\"hub_height_m\":%.17g}",
		 hr.lat, hr.lon, hr.hub_height_m);
	v = req(&h, "PUT", "/v1/farms/jutland-1", body, 200, loc, sizeof(loc));
	cr_assert(json_is_null(json_object_get(v, "job")), "no job for a farm that stays");
	cr_assert_str_eq(loc, "");
	json_decref(v);
	assert_weather_of(&h, "jutland-1", "jutland-1");

	/* moving it onto north-sea-1's site: 200 and a job; then north-sea-1's weather */
	ffx_farm(&h.fx, 0, &hr);
	snprintf(body, sizeof(body),
		 "{\"name\":\"J3\",\"lat\":%.17g,\"lon\":%.17g,\"capacity_mw\":20,"
		 "\"hub_height_m\":%.17g}",
		 hr.lat, hr.lon, hr.hub_height_m);
	v = req(&h, "PUT", "/v1/farms/jutland-1", body, 200, NULL, 0);
	json_decref(job_result(&h, v));
	json_decref(v);
	assert_weather_of(&h, "jutland-1", "north-sea-1");
	hfx_release(&h);
}

Test(http_farms, no_job_without_grids_and_ranges_as_documented)
{
	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "{\"id\":\"a\",\"name\":\"A\",\"lat\":55,\"lon\":8,\"capacity_mw\":1e308}",
		  "capacity_mw 1e+308 is outside 0 < x <= 100000 (MW)" },
		{ "{\"id\":\"a\",\"name\":\"A\",\"lat\":91,\"lon\":8,\"capacity_mw\":1}",
		  "lat 91 is outside -90 <= x <= 90" },
		{ "{\"id\":\"a\",\"name\":\"A\",\"lat\":55,\"lon\":360,\"capacity_mw\":1}",
		  "lon 360 is outside -180 <= x < 360" },
		{ "{\"id\":\"a\",\"name\":\"A\",\"lat\":55,\"lon\":8,\"capacity_mw\":1,"
		  "\"hub_height_m\":5}",
		  "hub_height_m 5 is outside 10 <= x <= 300" },
		{ "{\"id\":\"a\",\"name\":\"A\\u0007\",\"lat\":55,\"lon\":8,\"capacity_mw\":1}",
		  "name must be 1-128 bytes of UTF-8 without control characters" },
		{ "{\"id\":\"a\",\"name\":\"A\",\"lat\":55,\"lon\":8,\"capacity_mw\":1,"
		  "\"power_curve\":\"ws,power\\n3,0\\n12,x\\n\"}",
		  "field 'power_curve': line 3: expected two numbers 'ws,power', got '12,x'" },
		{ "{\"id\":\"a\",\"name\":\"A\",\"lat\":55,\"lon\":8,\"capacity_mw\":1,"
		  "\"power_curve\":[{\"ws\":3,\"power\":0},{\"ws\":200,\"power\":1}]}",
		  "point 2: ws 200 is outside 0 <= x <= 100" },
	};
	struct hfx h = { 0 };
	struct server_config cfg;
	struct wc_error err = { 0 };
	char *dir = tu_tmpdir();
	json_t *v;

	cr_assert_eq(store_open(dir, &h.st, &err), WC_OK, "%s", err.msg);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	tu_auth(h.st);
	cr_assert_eq(server_start(&cfg, h.st, &h.srv, &err), WC_OK, "%s", err.msg);
	h.port = server_port(h.srv);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *msg;

		v = req(&h, "POST", "/v1/farms", bad[i].body, 400, NULL, 0);
		msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
		cr_assert(msg && strstr(msg, bad[i].msg), "%zu: '%s', want '%s'", i, msg,
			  bad[i].msg);
		json_decref(v);
	}
	json_decref(req(&h, "GET", "/v1/farms/a", NULL, 404, NULL, 0));
	/* no grids stored yet: no job (ingesting them gives the farm its weather) */
	v = req(&h, "POST", "/v1/farms",
		"{\"id\":\"a\",\"name\":\"A\",\"lat\":55,\"lon\":8,\"capacity_mw\":1,"
		"\"power_curve\":\"ws,power\\n3,0\\n7.5,0.4\\n13,1\\n\"}",
		201, NULL, 0);
	cr_assert(json_is_null(json_object_get(v, "job")));
	cr_assert_eq(json_array_size(json_object_get(v, "power_curve")), 3, "the CSV curve");
	json_decref(v);
	server_stop(h.srv);
	store_close(h.st);
	tu_rmrf_free(dir);
}

/* GET /v1/farms as CSV and `farm list --format csv` are one writer. */
Test(http_farms, farm_csv_is_the_clis)
{
	static const char *const hdr[] = { "Accept: text/csv", NULL };
	struct hfx h = { 0 };
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct tu_http r;
	char *dir = tu_tmpdir(), *out, *errs;

	cr_assert_eq(tu_cli(dir, NULL, NULL, "farm add --id q --name 'Quote \"q\", Co' --lat 1.25 "
					     "--lon -3 --capacity-mw 7.5"),
		     0);
	cr_assert_eq(tu_cli(dir, NULL, NULL, "farm add --id r --name R --lat 2 --lon 3 "
					     "--capacity-mw 1 --hub-height-m 80"),
		     0);
	cr_assert_eq(tu_cli(dir, &out, &errs, "farm list --format csv"), 0, "%s", errs);
	cr_assert_eq(store_open(dir, &h.st, &err), WC_OK, "%s", err.msg);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	tu_auth(h.st);
	cr_assert_eq(server_start(&cfg, h.st, &h.srv, &err), WC_OK, "%s", err.msg);
	cr_assert(tu_http_request(server_port(h.srv), "GET", "/v1/farms", NULL, 0, hdr, &r));
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, out);
	cr_assert(strstr(out, "q,\"Quote \"\"q\"\", Co\",1.250000,-3.000000,7.500,\n"), "%s", out);
	tu_http_release(&r);
	free(out);
	free(errs);
	server_stop(h.srv);
	store_close(h.st);
	tu_rmrf_free(dir);
}
