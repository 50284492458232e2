/*
 * test_trading_http.c - the trading routes (market settings, commitments, portfolios,
 * a portfolio's forecast) as a hostile client uses them, against a real daemon on
 * test_forecast_request.c's fixture store (farms alpha 100 MW and beta 50 MW, 6 days
 * of hourly data from 2026-01-01): a horizon with a day (once silently ignored), bad
 * days and time zones, unknown portfolios, hostile prices bodies, hostile portfolio
 * JSON (a farm twice, 201 farms, 200 accepted), wrong content types and scopes. Every
 * refusal must name what was wrong and change nothing.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "data/farm.h"
#include "data/store.h"
#include "server/server.h"
#include "testutil.h"

struct store *fxr_store(char **dir, int days, int models);

static char *dir;
static struct store *st;
static struct server *srv;

/* The fixture store, closed and opened again by the served store. */
static void setup(void)
{
	store_close(fxr_store(&dir, 6, 0));
	tu_serve(dir, &st, &srv);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

TestSuite(trading_http, .init = setup, .fini = teardown, .timeout = 120);

/* method path with body (NULL: none) of Content-Type ctype and the token of `scope`
 * (NULL: the admin default); asserts the status, returns the body (malloc'd). */
static char *call(const char *method, const char *path, const char *body, const char *ctype,
		  const char *scope, long want)
{
	char cth[96], auth[128];
	const char *hdr[3] = { NULL };
	int n = 0;
	struct tu_http r;
	char *out;

	if (ctype) {
		snprintf(cth, sizeof(cth), "Content-Type: %s", ctype);
		hdr[n++] = cth;
	}
	if (scope) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tu_token_make(st, scope));
		hdr[n++] = auth;
	}
	cr_assert(tu_http_request(server_port(srv), method, path, body, body ? strlen(body) : 0,
				  hdr, &r),
		  "%s %s: no connection", method, path);
	cr_assert_eq(r.status, want, "%s %s: status %ld, want %ld: %s", method, path, r.status,
		     want, r.body);
	out = r.body;
	r.body = NULL;
	tu_http_release(&r);
	return out;
}

/* An error reply's code must be `code` and its message hold `part`. */
static void expect_error(char *body, const char *code, const char *part)
{
	json_t *v = json_loads(body, 0, NULL), *e = json_object_get(v, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));

	cr_assert_not_null(v, "not JSON: %s", body);
	cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code, "%s", body);
	cr_expect(msg && strstr(msg, part), "message '%s' lacks '%s'", msg, part);
	json_decref(v);
	free(body);
}

static json_t *call_json(const char *method, const char *path, const char *body, long want)
{
	char *b = call(method, path, body, body ? "application/json" : NULL, NULL, want);
	json_t *v = json_loads(b, 0, NULL);

	cr_assert_not_null(v, "not JSON: %s", b);
	free(b);
	return v;
}

#define PRICES "price=50&psi_plus=10&psi_minus=30"
#define ALPHA_DAY "/v1/farms/alpha/commitments?day=2026-01-05&model=powercurve&"

Test(trading_http, horizon_with_a_day_is_refused_not_ignored)
{
	char *errs = NULL;
	json_t *v;

	/* was a 200 with the day's 24 periods: horizon=5 silently dropped */
	expect_error(call("GET", ALPHA_DAY PRICES "&horizon=5", NULL, NULL, NULL, 400),
		     "bad_request", "horizon is for a forecast's issue time (issued) without a day");
	/* the CLI takes the same request through the same library call */
	cr_assert_eq(tu_cli(dir, NULL, &errs, "commit --farm alpha --day 2026-01-05 --model "
					      "powercurve --price 50 --psi-plus 10 --psi-minus 30 "
					      "--horizon 5"),
		     2, "%s", errs);
	cr_assert(strstr(errs, "horizon is for a forecast's issue time"), "%s", errs);
	free(errs);
	/* with issued alone it still sets the leads; with a day alone the day does */
	v = call_json("GET",
		      "/v1/farms/alpha/commitments?issued=2026-01-05T00:00:00Z&horizon=5&"
		      "model=powercurve&" PRICES,
		      NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(v, "periods")), 5);
	json_decref(v);
	v = call_json("GET", ALPHA_DAY PRICES, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(v, "periods")), 24);
	json_decref(v);
}

Test(trading_http, bad_days_zones_and_subjects_are_named)
{
	static const struct {
		const char *method, *path;
		long status;
		const char *code, *part;
	} bad[] = {
		{ "GET", "/v1/farms/alpha/commitments?day=2026-02-30&" PRICES, 400, "bad_request",
		  "invalid day '2026-02-30': use a date YYYY-MM-DD" },
		{ "GET", "/v1/farms/alpha/commitments?day=26-01-05&" PRICES, 400, "bad_request",
		  "invalid day '26-01-05'" },
		{ "GET", ALPHA_DAY PRICES "&time_zone=Mars/Olympus", 400, "bad_request",
		  "unknown time zone 'Mars/Olympus'" },
		{ "GET", ALPHA_DAY PRICES "&time_zone=../../etc/passwd", 400, "bad_request",
		  "invalid time_zone '../../etc/passwd'" },
		{ "GET", ALPHA_DAY PRICES "&time_zone=Asia/Kolkata", 422, "unprocessable",
		  "does not start and end on whole UTC hours" },
		{ "GET", ALPHA_DAY PRICES "&gate_closure=24:00", 400, "bad_request",
		  "invalid gate_closure '24:00'" },
		{ "GET", ALPHA_DAY "price=-1&psi_plus=1&psi_minus=1", 400, "bad_request",
		  "invalid price '-1'" },
		{ "GET", ALPHA_DAY "price=1&psi_plus=0&psi_minus=0", 400, "bad_request", "both 0" },
		{ "GET", ALPHA_DAY PRICES "&min_mw=101", 400, "bad_request",
		  "above the capacity 100 MW" },
		{ "GET", "/v1/farms/alpha/commitments?" PRICES, 400, "bad_request",
		  "give a trading day (day) or a forecast's issue time" },
		{ "GET", "/v1/farms/alpha/commitments?day=2025-06-01&" PRICES, 409, "no_data",
		  "no forecast of farm 'alpha' available at gate closure" },
		/* unknown subjects: 404 naming them, on every route that takes one */
		{ "GET", "/v1/farms/nosuch/commitments?day=2026-01-05&" PRICES, 404, "not_found",
		  "no farm 'nosuch'" },
		{ "GET", "/v1/farms/nosuch/market", 404, "not_found", "no farm 'nosuch'" },
		{ "GET", "/v1/portfolios/nosuch", 404, "not_found", "no portfolio 'nosuch'" },
		{ "DELETE", "/v1/portfolios/nosuch", 404, "not_found", "no portfolio 'nosuch'" },
		{ "GET", "/v1/portfolios/nosuch/forecast", 404, "not_found", "no portfolio 'nosuch'" },
		{ "GET", "/v1/portfolios/nosuch/commitments?day=2026-01-05&" PRICES, 404, "not_found",
		  "no portfolio 'nosuch'" },
		{ "GET", "/v1/portfolios/NoSuch", 400, "bad_request", "invalid id 'NoSuch'" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call(bad[i].method, bad[i].path, NULL, NULL, NULL, bad[i].status),
			     bad[i].code, bad[i].part);
	expect_error(call("PUT", "/v1/farms/nosuch/market", "{}", "application/json", NULL, 404),
		     "not_found", "no farm 'nosuch'");
}

/* The prices CSV of the 24 hours of 2026-01-05 (UTC), price 40 + hour. */
static void day_prices(struct dynbuf *b)
{
	dynbuf_init(b, 1 << 20);
	dynbuf_adds(b, "period_start,price,psi_plus,psi_minus\n");
	for (int h = 0; h < 24; h++)
		dynbuf_printf(b, "2026-01-05T%02d:00:00Z,%d,10,%d\n", h, 40 + h, h < 12 ? 30 : 10);
}

Test(trading_http, prices_bodies)
{
	struct dynbuf b, big;
	json_t *v, *p;
	day_prices(&b);
	/* a good file: its prices per period, and the rule's level from its penalties */
	{
		char *out = call("POST", "/v1/farms/alpha/commitments?day=2026-01-05&model=powercurve",
				 dynbuf_str(&b), "text/csv", "read", 200);

		v = json_loads(out, 0, NULL);
		free(out);
	}
	cr_assert_str_eq(json_string_value(json_object_get(v, "prices_from")), "file");
	p = json_object_get(v, "periods");
	cr_assert_eq(json_array_size(p), 24);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(p, 0), "price")), 40,
			   1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(p, 23), "price")), 63,
			   1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(p, 0), "alpha")), 0.25,
			   1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(p, 12), "alpha")), 0.5,
			   1e-12);
	json_decref(v);
	/* the same file with price in the query: one or the other */
	{
		char path[256];

		snprintf(path, sizeof(path), "%sprice=3", ALPHA_DAY);
		expect_error(call("POST", path, dynbuf_str(&b), "text/csv", NULL, 400), "bad_request",
			     "either a prices file or price");
	}
	/* a Content-Type that is not CSV; no body; a bad row named by its line */
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05", dynbuf_str(&b),
			  "application/json", NULL, 415),
		     "unsupported_media_type", "send Content-Type text/csv");
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05", NULL, "text/csv",
			  NULL, 400),
		     "bad_request", "request body is empty");
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05",
			  "period_start,price,psi_plus,psi_minus\n2026-01-05T00:00:00Z,40,1,1\n"
			  "2026-01-05T00:00:00Z,40,1,1\n",
			  "text/csv", NULL, 400),
		     "bad_request", "line 3: duplicate period 2026-01-05T00:00:00Z");
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05",
			  "period_start,price,psi_plus,psi_minus\n2026-01-05T00:00:00Z,1e999,1,1\n",
			  "text/csv", NULL, 400),
		     "bad_request", "line 2: invalid price '1e999'");
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05",
			  "period_start,price,psi_plus,psi_minus\n2026-01-05T00:00:00Z,40,1,1\n",
			  "text/csv", NULL, 400),
		     "bad_request", "no row for period 2026-01-05T01:00:00Z");
	/* more than 100000 rows in less than the 4 MiB cap, then over the cap */
	dynbuf_init(&big, 8 << 20);
	dynbuf_adds(&big, "period_start,price,psi_plus,psi_minus\n");
	for (long h = 0; h <= 100000; h++) {
		long t = 1767225600 + h * 3600, d = t / 86400, s = t % 86400, y, m, dd;
		/* civil from days (Hinnant), to keep this loop independent of the code */
		long z = d + 719468, era = z / 146097, doe = z - era * 146097;
		long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

		dd = doy - (153 * mp + 2) / 5 + 1;
		m = mp < 10 ? mp + 3 : mp - 9;
		y = yoe + era * 400 + (m <= 2);
		dynbuf_printf(&big, "%04ld-%02ld-%02ldT%02ld:00:00Z,1,1,1\n", y, m, dd, s / 3600);
	}
	cr_assert_lt(big.len, 4u << 20);
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05", dynbuf_str(&big),
			  "text/csv", NULL, 413),
		     "payload_too_large", "more than 100000 rows");
	while (big.len <= (4u << 20))
		dynbuf_adds(&big, "2099-01-01T00:00:00Z,1,1,1\n");
	expect_error(call("POST", "/v1/farms/alpha/commitments?day=2026-01-05", dynbuf_str(&big),
			  "text/csv", NULL, 413),
		     "payload_too_large", "exceeds the limit of 4194304");
	dynbuf_release(&big);
	dynbuf_release(&b);
}

/* {"id":"big","farms":["f000",...]} with n farms. */
static char *farms_body(int n)
{
	struct dynbuf b;

	dynbuf_init(&b, 1 << 20);
	dynbuf_adds(&b, "{\"id\":\"big\",\"farms\":[");
	for (int i = 0; i < n; i++)
		dynbuf_printf(&b, "%s\"f%03d\"", i ? "," : "", i);
	dynbuf_adds(&b, "]}");
	return dynbuf_detach(&b, NULL);
}

Test(trading_http, hostile_portfolios_and_settings_change_nothing)
{
	static const struct {
		const char *method, *path, *body, *part;
	} bad[] = {
		{ "POST", "/v1/portfolios", "{\"id\":\"p\",\"farms\":[\"alpha\",\"alpha\"]}",
		  "farm 'alpha' is listed twice" },
		{ "POST", "/v1/portfolios", "{\"id\":\"p\",\"farms\":[]}", "it has 0 farms" },
		{ "POST", "/v1/portfolios", "{\"id\":\"p\",\"farms\":[\"gamma\"]}",
		  "farm 'gamma' is not registered" },
		{ "POST", "/v1/portfolios", "{\"id\":\"p\",\"farms\":[\"alpha\"],\"x\":1}",
		  "unknown field 'x'" },
		{ "POST", "/v1/portfolios",
		  "{\"id\":\"p\",\"farms\":[\"alpha\"],\"market\":{\"psi_plus\":\"ten\"}}",
		  "field 'market': invalid psi_plus \"ten\": use a number 0..100000" },
		{ "POST", "/v1/portfolios", "{\"id\":\"p\",\"farms\":[\"alpha\"],\"id\":\"q\"}",
		  "duplicate object key" },
		{ "POST", "/v1/portfolios", "{\"id\":\"p\",\"farms\":\"alpha\"}",
		  "an array of farm ids" },
		{ "PUT", "/v1/portfolios/p", "{\"id\":\"q\",\"farms\":[\"alpha\"]}",
		  "differs from the path's 'p'" },
		/* a setting's refusal shows the value given */
		{ "PUT", "/v1/farms/alpha/market", "{\"max_mw\":5e5}", "invalid max_mw 500000.0" },
	};
	struct farm *f = calloc(201, sizeof(*f));
	struct wc_error err = { 0 };
	char *body;
	json_t *v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call(bad[i].method, bad[i].path, bad[i].body, "application/json", NULL,
				  400),
			     "bad_request", bad[i].part);
	/* 201 farms are refused before any is looked up; 200 registered ones are taken */
	cr_assert_not_null(f);
	for (int i = 0; i < 201; i++) {
		f[i] = (struct farm){ .lat = 55, .lon = 8, .capacity_mw = 1, .hub_height_m = 100 };
		snprintf(f[i].id, sizeof(f[i].id), "f%03d", i);
		snprintf(f[i].name, sizeof(f[i].name), "F%d", i);
	}
	cr_assert_eq(store_farm_import(st, f, 201, false, &err), WC_OK, "%s", err.msg);
	free(f);
	body = farms_body(201);
	expect_error(call("POST", "/v1/portfolios", body, "application/json", NULL, 400),
		     "bad_request", "more than 200 farms");
	free(body);
	/* nothing of the above was stored */
	v = call_json("GET", "/v1/portfolios", NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(v, "portfolios")), 0, "%s",
		     json_dumps(v, 0));
	json_decref(v);
	body = farms_body(200);
	v = call_json("POST", "/v1/portfolios", body, 201);
	cr_assert_eq(json_array_size(json_object_get(v, "farms")), 200);
	cr_assert_float_eq(json_number_value(json_object_get(v, "capacity_mw")), 200, 1e-9);
	json_decref(v);
	free(body);
	/* the same id again: 409; a farm it holds cannot be removed */
	body = farms_body(1);
	expect_error(call("POST", "/v1/portfolios", body, "application/json", NULL, 409), "conflict",
		     "portfolio 'big' already exists");
	free(body);
	expect_error(call("DELETE", "/v1/farms/f007", NULL, NULL, NULL, 409), "conflict",
		     "portfolio 'big' holds it");
	free(call("DELETE", "/v1/portfolios/big", NULL, NULL, NULL, 204));
	free(call("DELETE", "/v1/farms/f007", NULL, NULL, NULL, 204));
}

Test(trading_http, scopes_and_content_types)
{
	const char *pf = "{\"id\":\"p\",\"farms\":[\"alpha\",\"beta\"]}";
	json_t *v;

	/* settings and portfolios are configuration, as farms are: admin (issue 14); asking
	 * schedules needs read */
	expect_error(call("PUT", "/v1/farms/alpha/market", "{\"price\":1}", "application/json",
			  "write", 403),
		     "forbidden", "needs admin");
	expect_error(call("POST", "/v1/portfolios", pf, "application/json", "write", 403),
		     "forbidden", "needs admin");
	free(call("POST", "/v1/portfolios", pf, "application/json", "admin", 201));
	expect_error(call("PUT", "/v1/portfolios/p", pf, "application/json", "write", 403),
		     "forbidden", "needs admin");
	expect_error(call("DELETE", "/v1/portfolios/p", NULL, NULL, "read", 403), "forbidden",
		     "needs admin");
	/* settings stored with admin, used by a read token's request */
	free(call("PUT", "/v1/farms/alpha/market",
		  "{\"price\":50,\"psi_plus\":10,\"psi_minus\":30,\"time_zone\":\"Europe/Berlin\"}",
		  "application/json", "admin", 200));
	v = call_json("GET", "/v1/farms/alpha/market", NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "market"),
							   "time_zone")),
			 "Europe/Berlin");
	json_decref(v);
	{
		char *out = call("GET", ALPHA_DAY "format=csv", NULL, NULL, "read", 200);

		cr_assert(!strncmp(out, "farm,issued,period_start,", 25), "%s", out);
		/* Berlin's 2026-01-05 starts at 23:00Z the day before, gate 11:00Z */
		cr_assert(strstr(out, "\nalpha,2026-01-04T11:00:00Z,2026-01-04T23:00:00Z,"), "%.300s",
			  out);
		free(out);
	}
	/* {} removes the settings */
	v = call_json("PUT", "/v1/farms/alpha/market", "{}", 200);
	cr_assert(json_is_null(json_object_get(json_object_get(v, "market"), "price")));
	json_decref(v);
	expect_error(call("GET", ALPHA_DAY "format=csv", NULL, NULL, "read", 400), "bad_request",
		     "no price for farm 'alpha'");
	/* JSON-only routes refuse an Accept of CSV; a JSON body is no prices file */
	{
		const char *hdr[] = { "Accept: text/csv", NULL };
		struct tu_http r;

		cr_assert(tu_http_request(server_port(srv), "GET", "/v1/portfolios/p", NULL, 0, hdr,
					  &r));
		cr_assert_eq(r.status, 406, "%ld %s", r.status, r.body);
		tu_http_release(&r);
	}
	expect_error(call("POST", "/v1/portfolios/p/commitments?day=2026-01-05&" PRICES,
			  "{\"price\":1}", "application/json", "read", 415),
		     "unsupported_media_type", "send Content-Type text/csv");
}
