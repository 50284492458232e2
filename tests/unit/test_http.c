/*
 * test_http.c - the HTTP API in-process: a real daemon on port 0 driven with libcurl.
 * Every route, every generic error status, malformed and oversized bodies, and the
 * server still answering afterwards; pooled training on a small demo store (http_train).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/store.h"
#include "server/server.h"
#include "testutil.h"

static char *dir;
static struct store *st;
static struct server *srv;
static unsigned port;

/* Open the store in dir and serve it on a free port. */
static void start_server(void)
{
	tu_serve(dir, &st, &srv);
	port = server_port(srv);
}

static void setup(void)
{
	dir = tu_tmpdir();
	start_server();
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

static json_t *req_json(const char *method, const char *path, const char *body,
			long want_status)
{
	struct tu_http r;
	json_error_t jerr;
	json_t *v = NULL;

	cr_assert(tu_http_request(port, method, path, body, (size_t)-1, NULL, &r),
		  "%s %s: no connection", method, path);
	cr_assert_eq(r.status, want_status, "%s %s: status %ld, want %ld; body %s", method,
		     path, r.status, want_status, r.body);
	if (r.len)
		v = json_loads(r.body, 0, &jerr);
	tu_http_release(&r);
	return v;
}

/* Assert that v is an error body with the given code; consumes v. */
static void assert_error(json_t *v, const char *code)
{
	const char *got = NULL, *msg = NULL;

	cr_assert_not_null(v, "error body must be JSON");
	cr_assert_eq(json_unpack(v, "{s:{s:s,s:s}}", "error", "code", &got, "message", &msg),
		     0, "error body shape");
	cr_assert_str_eq(got, code);
	cr_assert_gt(strlen(msg), 5);
	json_decref(v);
}

static const char farm_a[] =
	"{\"id\":\"horns-rev\",\"name\":\"Horns Rev\",\"lat\":55.5,\"lon\":7.9,"
	"\"capacity_mw\":160,\"hub_height_m\":70}";

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

Test(http, healthz)
{
	json_t *v = req_json("GET", "/healthz", NULL, 200);

	cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "ok");
	json_decref(v);
}

Test(http, farm_lifecycle)
{
	json_t *v;

	v = req_json("GET", "/v1/farms", NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(v, "farms")), 0);
	json_decref(v);

	v = req_json("POST", "/v1/farms", farm_a, 201);
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "horns-rev");
	cr_assert_float_eq(json_number_value(json_object_get(v, "capacity_mw")), 160, 1e-9);
	json_decref(v);

	assert_error(req_json("POST", "/v1/farms", farm_a, 409), "conflict");

	v = req_json("GET", "/v1/farms/horns-rev", NULL, 200);
	cr_assert_float_eq(json_number_value(json_object_get(v, "hub_height_m")), 70, 1e-9);
	json_decref(v);

	v = req_json("PUT", "/v1/farms/horns-rev",
		     "{\"name\":\"Horns Rev 1\",\"lat\":55.5,\"lon\":7.9,\"capacity_mw\":160}",
		     200);
	cr_assert_str_eq(json_string_value(json_object_get(v, "name")), "Horns Rev 1");
	cr_assert(json_is_null(json_object_get(v, "hub_height_m")));
	json_decref(v);

	v = req_json("PUT", "/v1/farms/new-one",
		     "{\"name\":\"New\",\"lat\":-33,\"lon\":350,\"capacity_mw\":1.5}", 201);
	json_decref(v);

	v = req_json("GET", "/v1/farms", NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(v, "farms")), 2);
	json_decref(v);

	cr_assert_null(req_json("DELETE", "/v1/farms/horns-rev", NULL, 204));
	assert_error(req_json("GET", "/v1/farms/horns-rev", NULL, 404), "not_found");
	assert_error(req_json("DELETE", "/v1/farms/horns-rev", NULL, 404), "not_found");
}

Test(http, farm_power_curve)
{
	json_t *v, *c;

	v = req_json("POST", "/v1/farms",
		     "{\"id\":\"curved\",\"name\":\"C\",\"lat\":55,\"lon\":8,\"capacity_mw\":50,"
		     "\"power_curve\":[{\"ws\":3,\"power\":0},{\"ws\":12.5,\"power\":1},"
		     "{\"ws\":25,\"power\":1},{\"ws\":25.5,\"power\":0}]}",
		     201);
	cr_assert_eq(json_array_size(json_object_get(v, "power_curve")), 4);
	json_decref(v);
	v = req_json("GET", "/v1/farms/curved", NULL, 200);
	c = json_object_get(v, "power_curve");
	cr_assert_eq(json_array_size(c), 4);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(c, 1), "ws")), 12.5,
			   1e-12);
	json_decref(v);
	/* a farm without one shows null; PUT replaces the whole farm, curve included */
	v = req_json("PUT", "/v1/farms/curved",
		     "{\"name\":\"C\",\"lat\":55,\"lon\":8,\"capacity_mw\":50}", 200);
	cr_assert(json_is_null(json_object_get(v, "power_curve")));
	json_decref(v);
	v = req_json("PUT", "/v1/farms/curved",
		     "{\"name\":\"C\",\"lat\":55,\"lon\":8,\"capacity_mw\":50,"
		     "\"power_curve\":[{\"ws\":4,\"power\":0},{\"ws\":14,\"power\":0.9}]}",
		     200);
	cr_assert_eq(json_array_size(json_object_get(v, "power_curve")), 2);
	json_decref(v);
	/* invalid curves: 400 naming the point, nothing changed */
	v = req_json("PUT", "/v1/farms/curved",
		     "{\"name\":\"C\",\"lat\":55,\"lon\":8,\"capacity_mw\":50,"
		     "\"power_curve\":[{\"ws\":4,\"power\":0},{\"ws\":14,\"power\":40}]}",
		     400);
	assert_error(json_incref(v), "bad_request");
	cr_assert(strstr(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
			 "field 'power_curve': point 2: power 40 is outside 0 <= x <= 1"));
	json_decref(v);
	assert_error(req_json("POST", "/v1/farms",
			      "{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1,"
			      "\"power_curve\":[{\"ws\":4,\"power\":0}]}",
			      400),
		     "bad_request");
	v = req_json("GET", "/v1/farms/curved", NULL, 200);
	cr_assert_float_eq(json_number_value(json_object_get(
				   json_array_get(json_object_get(v, "power_curve"), 1), "power")),
			   0.9, 1e-12);
	json_decref(v);
}

Test(http, csv_listing)
{
	const char *accept[] = { "Accept: text/csv", NULL };
	struct tu_http r;

	json_decref(req_json("POST", "/v1/farms", farm_a, 201));
	cr_assert(tu_http_request(port, "GET", "/v1/farms", NULL, 0, accept, &r));
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.headers, "text/csv"));
	cr_assert_str_eq(r.body, "id,name,lat,lon,capacity_mw,hub_height_m\n"
				 "horns-rev,Horns Rev,55.500000,7.900000,160.000,70.0\n");
	tu_http_release(&r);
}

Test(http, validation_errors)
{
	static const char *const bad[] = {
		"{\"id\":\"UPPER\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":91,\"lon\":1,\"capacity_mw\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":-90.5,\"lon\":1,\"capacity_mw\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":360,\"capacity_mw\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":-180.1,\"capacity_mw\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":0}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1,\"hub_height_m\":-5}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":\"1\",\"lon\":1,\"capacity_mw\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":1}",
		"{\"id\":\"x\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity\":1}",
		"{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}",
		"[1,2,3]",
		"{\"id\":\"x\"",
		"not json at all",
		"",
		"{\"id\":\"x\",\"id\":\"y\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error(req_json("POST", "/v1/farms", bad[i], 400), "bad_request");
	assert_error(req_json("PUT", "/v1/farms/abc",
			      "{\"id\":\"other\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}",
			      400),
		     "bad_request");
	/* 64 characters is the longest valid id */
	json_decref(req_json("POST", "/v1/farms",
			     "{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
			     "\"name\":\"x\",\"lat\":-90,\"lon\":-180,\"capacity_mw\":1}",
			     201));
}

Test(http, routing_errors)
{
	struct tu_http r;

	assert_error(req_json("GET", "/nope", NULL, 404), "not_found");
	assert_error(req_json("GET", "/v1/farms/a/b", NULL, 404), "not_found");
	assert_error(req_json("PATCH", "/v1/farms/x", NULL, 405), "method_not_allowed");
	assert_error(req_json("DELETE", "/v1/farms", NULL, 405), "method_not_allowed");
	cr_assert(tu_http_request(port, "POST", "/healthz", "{}", 2, NULL, &r));
	cr_assert_eq(r.status, 405);
	cr_assert(strstr(r.headers, "Allow: GET"), "headers: %s", r.headers);
	tu_http_release(&r);
}

Test(http, oversized_bodies)
{
	size_t big = 200 * 1024;
	char *body = malloc(big + 1);
	const char *chunked[] = { "Transfer-Encoding: chunked", NULL };
	struct tu_http r;

	memset(body, ' ', big);
	body[big] = '\0';
	body[0] = '{';
	/* declared Content-Length over the cap */
	cr_assert(tu_http_request(port, "POST", "/v1/farms", body, big, NULL, &r));
	cr_assert_eq(r.status, 413, "status %ld", r.status);
	cr_assert(strstr(r.body, "payload_too_large"));
	tu_http_release(&r);
	/* no Content-Length: the cap applies while streaming */
	cr_assert(tu_http_request(port, "POST", "/v1/farms", body, big, chunked, &r));
	cr_assert_eq(r.status, 413, "status %ld", r.status);
	tu_http_release(&r);
	/* a body where none is allowed */
	cr_assert(tu_http_request(port, "DELETE", "/v1/farms/x", "{}", 2, NULL, &r));
	cr_assert_eq(r.status, 413, "status %ld", r.status);
	tu_http_release(&r);
	free(body);
	/* still serving */
	json_decref(req_json("GET", "/healthz", NULL, 200));
}

Test(http, stays_up_after_garbage)
{
	static const char *const junk[] = { "\x01\x02\x03", "{\"a\":", "\xff\xfe", "null" };

	for (int round = 0; round < 20; round++)
		for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
			json_decref(req_json("POST", "/v1/farms", junk[i], 400));
	json_decref(req_json("GET", "/healthz", NULL, 200));
}

Test(http, listen_errors)
{
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct server *other;
	char addr[64];

	server_config_init(&cfg);
	cfg.listen = "nonsense";
	cr_assert_eq(server_start(&cfg, st, &other, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "'nonsense'"));
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	cfg.listen = addr;
	cr_assert_eq(server_start(&cfg, st, &other, &err), WC_EHTTP, "port in use");
}

/* Error cases of a (pooled) training: each a 4xx with a message naming the rule, no job. */
Test(http, train_pool_errors)
{
	static const char *const bad[][4] = {
		/* path farm, body, status, in the message */
		{ "horns-rev", "{\"pool\":[\"horns-rev\"]}", "400", "a pool has 2..32 farms, not 1" },
		{ "horns-rev", "{\"pool\":[\"horns-rev\",\"nope\"]}", "404", "no farm 'nope'" },
		{ "horns-rev", "{\"pool\":[\"horns-rev\",\"horns-rev\"]}", "400", "listed twice" },
		{ "horns-rev", "{\"pool\":[\"horns-rev\",\"b\"],\"regional\":\"50km\"}", "400",
		  "invalid 'regional' \"50km\": with 'pool' use none or all" },
		{ "horns-rev", "{\"regional\":\"horns-rev,b\",\"pool\":\"all\"}", "400",
		  "with 'pool' use" },
		{ "horns-rev", "{\"pool\":\"horns-rev,b\"}", "400", "\"all\" or an array" },
		{ "horns-rev", "{\"pool\":42}", "400", "\"all\" or an array" },
		{ "horns-rev", "{\"pool\":{\"a\":1}}", "400", "\"all\" or an array" },
		{ "horns-rev", "{\"pool\":[\"horns-rev\",7]}", "400", "element 2 is not a farm id" },
		{ "horns-rev", "{\"pool\":[\"b\",\"c\"]}", "400", "must include the farm 'horns-rev'" },
		{ "nope", "{\"pool\":\"all\"}", "404", "no farm 'nope'" },
		/* without a pool the regional spec is checked up front too */
		{ "horns-rev", "{\"regional\":\"b,nope\"}", "404", "'b,nope'" },
		{ "horns-rev", "{\"regional\":\"-5km\"}", "400", "invalid regional radius" },
	};
	char path[128], body[1024];
	const char *msg;
	json_t *v;
	int n;

	json_decref(req_json("POST", "/v1/farms", farm_a, 201));
	/* "all" with one farm in the store */
	v = req_json("POST", "/v1/farms/horns-rev/train", "{\"pool\":\"all\"}", 400);
	msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
	cr_assert(strstr(msg, "invalid 'pool' \"all\": a pool has 2..32 farms and the store has 1"),
		  "%s", msg);
	assert_error(v, "bad_request");
	json_decref(req_json("PUT", "/v1/farms/b", "{\"name\":\"B\",\"lat\":55,\"lon\":8,\"capacity_mw\":9}",
			     201));
	json_decref(req_json("PUT", "/v1/farms/c", "{\"name\":\"C\",\"lat\":56,\"lon\":8,\"capacity_mw\":9}",
			     201));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/v1/farms/%s/train", bad[i][0]);
		v = req_json("POST", path, bad[i][1], atol(bad[i][2]));
		msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
		cr_assert(msg && strstr(msg, bad[i][3]), "%s: %s", bad[i][1], msg);
		assert_error(v, strcmp(bad[i][2], "404") ? "bad_request" : "not_found");
	}
	/* 33 farms */
	n = snprintf(body, sizeof(body), "{\"pool\":[\"horns-rev\"");
	for (int i = 1; i < 33; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"f%d\"", i);
	snprintf(body + n, sizeof(body) - (size_t)n, "]}");
	assert_error(req_json("POST", "/v1/farms/horns-rev/train", body, 400), "bad_request");
	/* none of them made a job */
	assert_error(req_json("GET", "/v1/jobs/1", NULL, 404), "not_found");
}

/* ---- pooled training on a demo store ---- */

static char *demo_input;

/* Two demo farms over 8 days, north-sea-1 with a model of its own (version 1). */
static void setup_train(void)
{
	static const char *const farms[] = { "horns-reef", "north-sea-1" };
	char *errs = NULL;

	dir = tu_tmpdir();
	demo_input = tu_tmpdir();
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --out '%s' --farms 2 --days 8",
			    demo_input),
		     0, "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "farm import '%s/farms.json'", demo_input), 0,
		     "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "--quiet ingest '%s'/nwp/*.nc", demo_input), 0,
		     "%s", errs);
	free(errs);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(tu_cli(dir, NULL, &errs, "obs import --farm %s '%s/obs/%s.csv'",
				    farms[i], demo_input, farms[i]),
			     0, "%s", errs);
		free(errs);
	}
	cr_assert_eq(tu_cli(dir, NULL, &errs, "--quiet train --farm north-sea-1 --ensemble 1"), 0,
		     "%s", errs);
	free(errs);
	start_server();
}

static void teardown_train(void)
{
	teardown();
	tu_rmrf_free(demo_input);
}

/* POST a training, poll its job until it ends; returns the job, which must end in want. */
static json_t *train_and_wait(const char *path, const char *body, const char *want)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	const char *url = NULL, *state = "queued";
	json_t *v = req_json("POST", path, body, 202), *job = NULL;
	char jobpath[64];

	cr_assert_eq(json_unpack(v, "{s:{s:s}}", "job", "url", &url), 0);
	snprintf(jobpath, sizeof(jobpath), "%s", url);
	json_decref(v);
	for (int i = 0; i < 600 && (!strcmp(state, "queued") || !strcmp(state, "running")); i++) {
		if (i)
			nanosleep(&pause, NULL);
		json_decref(job);
		job = req_json("GET", jobpath, NULL, 200);
		state = json_string_value(json_object_get(job, "state"));
	}
	cr_assert_str_eq(state, want, "job: %s", json_dumps(job, JSON_COMPACT));
	return job;
}

/* The farm's nn forecast answers with the given model version. */
static void assert_serves(const char *farm, json_int_t version)
{
	char path[256];
	json_t *v, *model;

	snprintf(path, sizeof(path),
		 "/v1/farms/%s/forecast?issued=2026-01-08T05:00:00Z&horizon=6&model=nn", farm);
	v = req_json("GET", path, NULL, 200);
	model = json_object_get(v, "model");
	cr_assert_str_eq(json_string_value(json_object_get(model, "name")), "nn");
	cr_assert_eq(json_integer_value(json_object_get(model, "version")), version,
		     "%s: version %lld, want %lld", farm,
		     (long long)json_integer_value(json_object_get(model, "version")),
		     (long long)version);
	json_decref(v);
}

TestSuite(http_train, .init = setup_train, .fini = teardown_train, .timeout = 120);

Test(http_train, pool)
{
	static const char *const ids[] = { "north-sea-1", "horns-reef" };
	static const json_int_t want[] = { 2, 1 };	/* north-sea-1 had a model already */
	json_t *job, *res, *models, *m;

	job = train_and_wait("/v1/farms/horns-reef/train",
			     "{\"pool\":[\"north-sea-1\",\"horns-reef\"],\"ensemble\":1,"
			     "\"regional\":\"all\"}",
			     "done");
	cr_assert_eq(json_array_size(json_object_get(json_object_get(job, "input"), "pool")), 2);
	res = json_object_get(job, "result");
	models = json_object_get(res, "models");
	cr_assert_eq(json_array_size(json_object_get(res, "pool")), 2);
	cr_assert_eq(json_array_size(models), 2);
	for (int i = 0; i < 2; i++) {
		m = json_array_get(models, (size_t)i);
		cr_assert_str_eq(json_string_value(json_array_get(json_object_get(res, "pool"),
								  (size_t)i)),
				 ids[i]);
		cr_assert_str_eq(json_string_value(json_object_get(m, "farm")), ids[i]);
		cr_assert_eq(json_integer_value(json_object_get(m, "version")), want[i]);
		cr_assert_gt(json_integer_value(json_object_get(m, "rows")), 0);
		cr_assert(json_is_object(json_object_get(m, "scores")));
		assert_serves(ids[i], want[i]);
	}
	json_decref(job);
	/* "all": the store's farms in id order, each one's next version */
	job = train_and_wait("/v1/farms/north-sea-1/train", "{\"pool\":\"all\",\"ensemble\":1}",
			     "done");
	models = json_object_get(json_object_get(job, "result"), "models");
	cr_assert_eq(json_array_size(models), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(models, 0), "farm")),
			 "horns-reef");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(models, 0), "version")), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(models, 1), "version")), 3);
	assert_serves("horns-reef", 2);
	assert_serves("north-sea-1", 3);
	json_decref(job);
}

/* A save that fails midway: the job fails naming it, and no farm of the pool gets a new
 * version (north-sea-1's file, written before horns-reef's failed, is taken back). */
Test(http_train, pool_save_fails_midway)
{
	char path[4200];
	const char *msg;
	json_t *job, *res;

	/* a directory where horns-reef's first model file would go: its save fails after
	 * north-sea-1's file is written */
	snprintf(path, sizeof(path), "%s/models/horns-reef", dir);
	mkdir(path, 0755);	/* models/ is there: north-sea-1 has a model */
	strcat(path, "/1.wcm");
	cr_assert_eq(mkdir(path, 0755), 0, "%s: %s", path, strerror(errno));
	job = train_and_wait("/v1/farms/north-sea-1/train",
			     "{\"pool\":[\"north-sea-1\",\"horns-reef\"],\"ensemble\":1}", "failed");
	res = json_object_get(job, "result");
	msg = json_string_value(json_object_get(res, "error"));
	cr_assert(msg && strstr(msg, "horns-reef"), "%s", msg);
	cr_assert_eq(json_array_size(json_object_get(res, "pool")), 2);
	cr_assert_null(json_object_get(res, "models"));
	snprintf(path, sizeof(path), "%s/models/north-sea-1/2.wcm", dir);
	cr_assert(access(path, F_OK) != 0, "%s was left behind", path);
	assert_serves("north-sea-1", 1);
	json_decref(job);
	assert_error(req_json("GET",
			      "/v1/farms/horns-reef/forecast?issued=2026-01-08T05:00:00Z&model=nn",
			      NULL, 404),
		     "not_found");
}
