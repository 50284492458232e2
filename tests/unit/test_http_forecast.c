/*
 * test_http_forecast.c - GET /v1/farms/{id}/forecast in-process (a real daemon on port 0
 * driven with libcurl) on test_forecast.c's fixture store: pinned versions that do not
 * exist (defect 2), what CSV and its headers carry (defect 4), "stored" and the issue
 * time's reason (defect 10), auto's choice (defect 12), 404 against 409 no_data, bad
 * parameters named, and the CLI and the API giving the same answer to the same request.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/store.h"
#include "forecast/model.h"
#include "server/server.h"
#include "testutil.h"

struct store *fxr_store(char **dir, int days, int models);
double fxr_score(const char *scores, const char *key);

static char *dir;
static struct store *st;
static struct server *srv;

/* The fixture with 6 days of data and one small network of alpha, served. */
static void setup(void)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	st = fxr_store(&dir, 6, 1);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(st);
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

/* GET path (with Accept: text/csv when csv); asserts the status. */
static void get(const char *path, bool csv, long want, struct tu_http *r)
{
	const char *accept[] = { "Accept: text/csv", NULL };

	cr_assert(tu_http_request(server_port(srv), "GET", path, NULL, 0, csv ? accept : NULL, r),
		  "GET %s: no connection", path);
	cr_assert_eq(r->status, want, "GET %s: status %ld, want %ld: %s", path, r->status, want,
		     r->body);
}

/* GET path as JSON with the given status; a new reference. */
static json_t *get_json(const char *path, long want)
{
	struct tu_http r;
	json_t *v;

	get(path, false, want, &r);
	v = json_loads(r.body, 0, NULL);
	cr_assert_not_null(v, "%s", r.body);
	tu_http_release(&r);
	return v;
}

/* The error message of an error body with this code (borrowed from v). */
static const char *error_message(json_t *v, const char *code)
{
	json_t *e = json_object_get(v, "error");

	cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code, "%s",
			 json_dumps(v, 0));
	return json_string_value(json_object_get(e, "message"));
}

/* Header `name` of a response (its value in buf), or NULL when absent. */
static const char *header(const struct tu_http *r, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = r->headers; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			while (*v == ' ')
				v++;
			e = v + strcspn(v, "\r\n");
			snprintf(buf, len, "%.*s", (int)(e - v), v);
			return buf;
		}
	}
	return NULL;
}

static const char *str(json_t *v, const char *key)
{
	return json_string_value(json_object_get(v, key));
}

TestSuite(http_forecast, .init = setup, .fini = teardown, .timeout = 120);

Test(http_forecast, pinned_version_that_does_not_exist_is_404)
{
	json_t *v;

	/* it answered 200 with the power curve */
	v = get_json("/v1/farms/alpha/forecast?model_version=7", 404);
	cr_assert_str_eq(error_message(v, "not_found"), "no model 7 of farm 'alpha': it has "
							"model 1 only");
	json_decref(v);
	v = get_json("/v1/farms/alpha/forecast?model=nn&model_version=7", 404);
	json_decref(v);
	v = get_json("/v1/farms/beta/forecast?model_version=2", 404);
	cr_assert(strstr(error_message(v, "not_found"), "it has no trained model"));
	json_decref(v);
	v = get_json("/v1/farms/alpha/forecast?model=persistence&model_version=1", 400);
	cr_assert(strstr(error_message(v, "bad_request"), "not of the baseline 'persistence'"));
	json_decref(v);
	v = get_json("/v1/farms/alpha/forecast?model_version=1&issued=2026-01-06T05:00:00Z"
		     "&horizon=3&model=nn",
		     200);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(v, "model"), "version")),
		     1);
	json_decref(v);
}

Test(http_forecast, bad_parameters_are_named)
{
	static const char *const bad[][2] = {
		{ "horizon=0", "invalid horizon '0': use 1..744 hours" },
		{ "model=bogus", "invalid model 'bogus': use auto, nn, persistence, climatology or "
				 "powercurve" },
		{ "model_version=x", "invalid model_version 'x': use a model version, 1..1000000" },
		{ "quantiles=0.5,2", "invalid quantiles '0.5,2': use at most 128 distinct levels in (0, 1)" },
		{ "units=kw", "invalid units 'kw': use mw or frac" },
		{ "point=avg", "invalid point 'avg': use median or mean" },
		{ "issued=soon", "invalid issued 'soon': use ISO 8601" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[128];
		json_t *v;

		snprintf(path, sizeof(path), "/v1/farms/alpha/forecast?%s", bad[i][0]);
		v = get_json(path, 400);
		cr_assert(!strncmp(error_message(v, "bad_request"), bad[i][1], strlen(bad[i][1])),
			  "%s: %s", bad[i][0], error_message(v, "bad_request"));
		json_decref(v);
	}
}

Test(http_forecast, not_found_and_no_data)
{
	struct farm late = { .id = "gamma", .name = "Gamma", .lat = 56, .lon = 9,
			     .capacity_mw = 20, .hub_height_m = NAN };
	struct wc_error err = { 0 };
	json_t *v;

	json_decref(get_json("/v1/farms/nope/forecast", 404));
	/* nn asked for without a model: there is no such model (it was 409) */
	v = get_json("/v1/farms/beta/forecast?model=nn", 404);
	cr_assert(strstr(error_message(v, "not_found"), "no trained model of farm 'beta'"));
	json_decref(v);
	/* a farm without NWP: no data, and the real cause */
	cr_assert_eq(store_farm_add(st, &late, &err), WC_OK, "%s", err.msg);
	v = get_json("/v1/farms/gamma/forecast", 409);
	cr_assert(strstr(error_message(v, "no_data"), "no NWP for farm 'gamma'"), "%s",
		  error_message(v, "no_data"));
	json_decref(v);
}

Test(http_forecast, auto_choice_and_csv_carry_what_json_says)
{
	struct farm_model *m;
	struct wc_error err = { 0 };
	struct tu_http r;
	char h[600], want[256];
	json_t *j;
	const char *path = "/v1/farms/alpha/forecast?issued=2026-01-06T05:00:00Z&horizon=48"
			   "&quantiles=0.5";

	cr_assert_eq(farm_model_load(st, "alpha", 0, &m, &err), WC_OK, "%s", err.msg);
	snprintf(want, sizeof(want), "auto: powercurve: lowest validation RMSE %.4f (nn (model 1) "
				     "%.4f, ",
		 fxr_score(m->scores, "powercurve_rmse"), fxr_score(m->scores, "rmse"));
	farm_model_free(m);
	/* defect 12: the network validated worse than the curve, so the curve serves */
	j = get_json(path, 200);
	cr_assert_str_eq(str(json_object_get(j, "model"), "name"), "powercurve");
	cr_assert(!strncmp(str(j, "model_choice"), want, strlen(want)), "%s", str(j, "model_choice"));
	cr_assert(json_is_null(json_object_get(j, "fallback")));
	cr_assert(strstr(str(j, "note"), "horizon cut to "), "%s", str(j, "note"));
	/* defect 4: the CSV rows say the farm, the model and the fallback; the headers say
	 * the rest */
	get(path, true, 200, &r);
	cr_assert(!strncmp(r.body, "farm,issued,period_start,period_end,valid_time,lead_h,model,"
				   "model_version,fallback,point,p50\nalpha,2026-01-06T05:00:00Z,"
				   "2026-01-06T05:00:00Z,2026-01-06T06:00:00Z,2026-01-06T06:00:00Z,1,"
				   "powercurve,,false,",
			   192),
		  "%s", r.body);
	cr_assert_str_eq(header(&r, "Windcast-Model-Choice", h, sizeof(h)), str(j, "model_choice"));
	cr_assert_str_eq(header(&r, "Windcast-Note", h, sizeof(h)), str(j, "note"));
	cr_assert_str_eq(header(&r, "Windcast-Issued-Reason", h, sizeof(h)),
			 "requested: requested");
	cr_assert_str_eq(header(&r, "Windcast-Stored", h, sizeof(h)), "true");
	cr_assert_null(header(&r, "Windcast-Fallback", h, sizeof(h)));
	tu_http_release(&r);
	json_decref(j);
	/* a stand-in: the row says fallback, the header why */
	get("/v1/farms/beta/forecast?issued=2026-01-06T05:00:00Z&horizon=2&quantiles=0.5", true,
	    200, &r);
	cr_assert(strstr(r.body, "\nbeta,2026-01-06T05:00:00Z,2026-01-06T05:00:00Z,"
				 "2026-01-06T06:00:00Z,2026-01-06T06:00:00Z,1,powercurve,,true,"),
		  "%s", r.body);
	cr_assert_str_eq(header(&r, "Windcast-Fallback", h, sizeof(h)),
			 "no trained model of farm 'beta'; run 'windcast train --farm beta'");
	tu_http_release(&r);
	/* the network asked for: its version in the rows, the hindcast note in a header */
	get("/v1/farms/alpha/forecast?issued=2026-01-06T05:00:00Z&horizon=2&model=nn", true, 200,
	    &r);
	cr_assert(strstr(r.body, "\nalpha,2026-01-06T05:00:00Z,2026-01-06T05:00:00Z,"
				 "2026-01-06T06:00:00Z,2026-01-06T06:00:00Z,1,nn,1,false,"),
		  "%s", r.body);
	cr_assert(strstr(header(&r, "Windcast-Note", h, sizeof(h)), "not a leakage-free hindcast"),
		  "%s", h);
	tu_http_release(&r);
}

Test(http_forecast, stored_does_not_flip_and_the_issue_time_is_explained)
{
	json_t *a, *b, *c;

	/* the default issue time, twice: the same answer, stored both times (it was false,
	 * then true) */
	a = get_json("/v1/farms/alpha/forecast?horizon=4", 200);
	b = get_json("/v1/farms/alpha/forecast?horizon=4", 200);
	cr_assert(json_is_true(json_object_get(a, "stored")));
	cr_assert(json_equal(a, b), "%s\n%s", json_dumps(a, 0), json_dumps(b, 0));
	/* 6 days: the last observation 2026-01-07T00Z is later than the last run's delivery */
	cr_assert_str_eq(str(a, "issued"), "2026-01-07T00:00:00Z");
	cr_assert_str_eq(str(a, "issued_rule"), "latest_observation");
	cr_assert_str_eq(str(a, "issued_reason"),
			 "latest data: the observation at 2026-01-07T00:00:00Z, after the NWP run "
			 "2026-01-06T12:00:00Z delivered at 2026-01-06T17:00:00Z (delay 5 h)");
	/* the same time asked for: the same forecast, the reason "requested" */
	c = get_json("/v1/farms/alpha/forecast?horizon=4&issued=2026-01-07T00:00:00Z", 200);
	cr_assert(json_equal(json_object_get(a, "leads"), json_object_get(c, "leads")));
	cr_assert_str_eq(str(c, "computed_at"), str(a, "computed_at"));
	cr_assert_str_eq(str(c, "issued_rule"), "requested");
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* The CLI on the served store, its JSON output parsed. */
static json_t *cli_json(const char *args)
{
	char *out = NULL, *errs = NULL;
	json_t *v;

	cr_assert_eq(tu_cli(dir, &out, &errs, "forecast --farm alpha --format json %s", args), 0, "%s: %s", args,
		     errs);
	v = json_loads(out, 0, NULL);
	cr_assert_not_null(v, "%s", out);
	free(out);
	free(errs);
	return v;
}

Test(http_forecast, cli_and_api_give_the_same_answer)
{
	static const char *const same[][2] = {
		{ "--horizon 5", "horizon=5" },
		{ "--horizon 5 --model nn --point mean --quantiles 0.05,0.5,0.95",
		  "horizon=5&model=nn&point=mean&quantiles=0.05,0.5,0.95" },
		{ "--issued 2026-01-06T05:30:00Z --horizon 3 --model persistence",
		  "issued=2026-01-06T05:30:00Z&horizon=3&model=persistence" },
	};

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char path[256];
		json_t *c, *a;

		/* the CLI first (computes and stores), then the API (reads it back) */
		c = cli_json(same[i][0]);
		snprintf(path, sizeof(path), "/v1/farms/alpha/forecast?%s", same[i][1]);
		a = get_json(path, 200);
		cr_assert(json_equal(c, a), "%s\nCLI %s\nAPI %s", same[i][0], json_dumps(c, 0),
			  json_dumps(a, 0));
		json_decref(c);
		json_decref(a);
		/* and the other way round on a new issue time: the API first */
	}
	{
		json_t *a = get_json("/v1/farms/alpha/forecast?issued=2026-01-05T17:00:00Z&horizon=4"
				     "&model=climatology",
				     200);
		json_t *c = cli_json("--issued 2026-01-05T17:00:00Z --horizon 4 --model climatology");

		cr_assert(json_equal(c, a), "CLI %s\nAPI %s", json_dumps(c, 0), json_dumps(a, 0));
		cr_assert(json_is_true(json_object_get(c, "stored")));
		json_decref(c);
		json_decref(a);
	}
}
