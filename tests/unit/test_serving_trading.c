/*
 * test_serving_trading.c - held replies of the trading routes (server/h_commit.c,
 * server/h_portfolios.c): a farm's commitments, a portfolio's forecast and commitments
 * are answered from memory at the second asking (cache_stats hits, the same bytes), a
 * POST with prices never is, and after each change of their inputs the next GET answers
 * the new body, equal to what the library computes afresh and unlike the old one: an
 * observation upload to one member farm, a farm's market settings PUT, a portfolio PUT
 * changing its farms (and its DELETE), a CLI write from another process beside the
 * server; and the market and portfolio subjects move with their writes.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/portfolio.h"
#include "data/store.h"
#include "server/cache.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"
#include "trading/commit.h"

struct store *fxr_store(char **dir, int days, int models);

#define FARM_COMMIT "/v1/farms/alpha/commitments?day=2026-01-05&model=powercurve"
#define PF_COMMIT "/v1/portfolios/both/commitments?day=2026-01-05&model=powercurve"
#define PF_FORECAST "/v1/portfolios/both/forecast?issued=2026-01-06T00:00Z&horizon=6&" \
		    "model=powercurve"
#define PF_LATEST "/v1/portfolios/both/forecast"

static char *dir;
static struct store *st;
static struct server *srv;

/* The key of farm alpha's warmed schedule: tomorrow (UTC, its market's zone). */
static void tomorrow_key(char *key, size_t len, const char *repr)
{
	char day[UTC_ISO_LEN];

	utc_format(utc_floor(utc_now(), UTC_DAY) + UTC_DAY, day);
	day[10] = '\0';
	/* one value per query key of h_commit.c: day, then 11 empty */
	snprintf(key, len, "commitments/farm/alpha/%s/10:%s/0:/0:/0:/0:/0:/0:/0:/0:/0:/0:/0:",
		 repr, day);
}

/*
 * Wait (up to 20 s) until the warming thread holds what it warms, JSON and CSV: the
 * portfolio's latest forecast and alpha's schedule for tomorrow (the last it computes),
 * so that no test races it.
 */
static void wait_warm(void)
{
	/* one empty value per query key of h_portfolios.c: issued .. units */
	static const char *const pf[] = { "portfolio-forecast/both/json/0:/0:/0:/0:/0:/0:/0:",
					  "portfolio-forecast/both/csv/0:/0:/0:/0:/0:/0:/0:" };
	char cj[256], cc[256];
	bool all = false;

	tomorrow_key(cj, sizeof(cj), "json");
	tomorrow_key(cc, sizeof(cc), "csv");
	for (int i = 0; i < 2000 && !all; i++) {
		struct cache *c = server_cache(srv);

		all = cache_holds(c, pf[0]) && cache_holds(c, pf[1]) && cache_holds(c, cj) &&
		      cache_holds(c, cc);
		if (!all)
			usleep(10000);
	}
	cr_assert(all, "the warming thread never held the portfolio's latest forecast and "
		  "'%s'", cj);
}

/* The fixture (6 days of alpha and beta), alpha's market settings, portfolio "both"
 * of alpha and beta with its own, served with the default cache. */
static void setup(void)
{
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct market_settings m;
	struct portfolio *p = calloc(1, sizeof(*p));

	st = fxr_store(&dir, 6, 0);
	market_init(&m);
	m.price = 50;
	m.psi_plus = 10;
	m.psi_minus = 30;
	cr_assert_eq(store_farm_market_put(st, "alpha", &m, &err), WC_OK, "%s", err.msg);
	portfolio_init(p);
	snprintf(p->id, sizeof(p->id), "both");
	snprintf(p->name, sizeof(p->name), "both");
	cr_assert_eq(portfolio_set_farms(p, "alpha,beta", &err), WC_OK, "%s", err.msg);
	p->market = m;
	cr_assert_eq(store_portfolio_add(st, p, &err), WC_OK, "%s", err.msg);
	free(p);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(st);
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	wait_warm();
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

TestSuite(serving_trading, .init = setup, .fini = teardown, .timeout = 300);

static void call(const char *method, const char *path, const char *body, const char *header,
		 long want, struct tu_http *r)
{
	const char *headers[] = { header ? header : "Accept: application/json", NULL };

	cr_assert(tu_http_request(server_port(srv), method, path, body, body ? (size_t)-1 : 0,
				  headers, r),
		  "%s %s: no connection", method, path);
	cr_assert_eq(r->status, want, "%s %s: status %ld, want %ld: %s", method, path, r->status,
		     want, r->body);
}

/* GET path (status 200): its body, malloc'd. */
static char *get(const char *path, const char *header)
{
	struct tu_http r;
	char *body;

	call("GET", path, NULL, header, 200, &r);
	body = strdup(r.body);
	tu_http_release(&r);
	return body;
}

static uint64_t hits(void)
{
	struct cache_stats s;

	cache_stats(server_cache(srv), &s);
	return s.hits;
}

/* Drop what may differ between two computations of one answer: when, and whether the
 * store held the farms' forecasts already. */
static void strip(json_t *v)
{
	const char *key;
	json_t *item;
	void *tmp;
	size_t i;

	if (json_is_object(v)) {
		json_object_del(v, "computed_at");
		json_object_del(v, "stored");
		json_object_foreach_safe(v, tmp, key, item)
			strip(item);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			strip(item);
	}
}

/* body as JSON, stripped (a new reference). */
static json_t *parsed(const char *body)
{
	json_t *v = json_loads(body, 0, NULL);

	cr_assert_not_null(v, "%s", body);
	strip(v);
	return v;
}

/* The schedule of a farm or portfolio for day 2026-01-05 (powercurve), computed now by
 * the library: the JSON a server holding nothing answers, stripped. */
static json_t *fresh_commit(bool portfolio, const char *id)
{
	struct commit_request r;
	struct schedule s;
	struct wc_error err = { 0 };
	json_t *v;
	char *text;

	commit_request_init(&r);
	r.portfolio = portfolio;
	r.id = id;
	cr_assert_eq(commit_request_set(&r, "day", "2026-01-05", &err), WC_OK, "%s", err.msg);
	cr_assert_eq(commit_request_set(&r, "model", "powercurve", &err), WC_OK, "%s", err.msg);
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_OK, "%s", err.msg);
	v = schedule_json(&s);
	schedule_release(&s);
	/* through the server's serialisation (its precision) */
	cr_assert_not_null(text = json_dumps(v, REPLY_JSON_FLAGS));
	json_decref(v);
	v = parsed(text);
	free(text);
	return v;
}

/* The body answered now equals the library's fresh computation and not the old one. */
static void assert_moved(const char *old, const char *now, json_t *want, const char *what)
{
	json_t *got = parsed(now);

	cr_assert_str_neq(old, now, "%s: the held body from before was served", what);
	cr_assert(json_equal(got, want), "%s: served %s\nfresh %s", what, now,
		  json_dumps(want, JSON_COMPACT));
	json_decref(got);
	json_decref(want);
}

/* Numbers of a JSON body. */
static double num(const char *body, const char *key)
{
	json_t *v = json_loads(body, 0, NULL);
	double x;

	cr_assert_not_null(v, "%s", body);
	cr_assert(json_is_number(json_object_get(v, key)), "no %s in %s", key, body);
	x = json_number_value(json_object_get(v, key));
	json_decref(v);
	return x;
}

static int64_t issued(const char *body)
{
	json_t *v = json_loads(body, 0, NULL);
	int64_t t = 0;

	cr_assert_not_null(v, "%s", body);
	cr_assert(utc_parse(json_string_value(json_object_get(v, "issued")), &t), "%s", body);
	json_decref(v);
	return t;
}

static double period_price(const char *body)
{
	json_t *v = json_loads(body, 0, NULL), *p0;
	double x;

	cr_assert_not_null(v, "%s", body);
	p0 = json_array_get(json_object_get(v, "periods"), 0);
	cr_assert(json_is_number(json_object_get(p0, "price")), "%s", body);
	x = json_number_value(json_object_get(p0, "price"));
	json_decref(v);
	return x;
}

Test(serving_trading, second_request_from_memory)
{
	static const struct {
		const char *path, *header;
		bool warmed;	/* held before the first request */
	} cases[] = {
		{ FARM_COMMIT, NULL, false },
		{ FARM_COMMIT, "Accept: text/csv", false },
		{ PF_COMMIT, NULL, false },
		{ PF_COMMIT "&format=csv", NULL, false },
		{ PF_FORECAST, NULL, false },
		{ PF_FORECAST, "Accept: text/csv", false },
		{ PF_LATEST, NULL, true },
		{ PF_LATEST, "Accept: text/csv", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *a, *b;
		uint64_t h0, h1, h2;

		h0 = hits();
		a = get(cases[i].path, cases[i].header);
		h1 = hits();
		b = get(cases[i].path, cases[i].header);
		h2 = hits();
		cr_assert_eq(h1, h0 + cases[i].warmed, "%s: the first request was %sa hit",
			     cases[i].path, cases[i].warmed ? "not " : "");
		cr_assert_eq(h2, h1 + 1, "%s %s: the second request was not answered from memory",
			     cases[i].path, cases[i].header ? cases[i].header : "");
		cr_assert_str_eq(a, b, "%s", cases[i].path);
		cr_assert(cases[i].header || strstr(cases[i].path, "csv") ? a[0] != '{' : a[0] == '{',
			  "%s: %.80s", cases[i].path, a);
		free(a);
		free(b);
	}
}

Test(serving_trading, post_with_prices_is_computed_each_time)
{
	static const char prices[] = "period_start,price,psi_plus,psi_minus\n"
				     "2026-01-05T00:00:00Z,40,10,30\n";
	struct cache_stats s0, s1;
	struct tu_http r;
	char body[4096];

	/* the day's 24 hours, the first at 40 */
	snprintf(body, sizeof(body), "%s", prices);
	for (int h = 1; h < 24; h++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body),
			 "2026-01-05T%02d:00:00Z,%d,10,30\n", h, 40 + h);
	cache_stats(server_cache(srv), &s0);
	for (int i = 0; i < 2; i++) {
		call("POST", FARM_COMMIT, body, "Content-Type: text/csv", 200, &r);
		cr_assert_float_eq(period_price(r.body), 40, 1e-9, "%s", r.body);
		tu_http_release(&r);
	}
	cache_stats(server_cache(srv), &s1);
	cr_assert_eq(s1.hits, s0.hits, "a POST with prices was answered from memory");
	cr_assert_eq(s1.entries, s0.entries, "a POST with prices was held: %zu entries, then %zu",
		     s0.entries, s1.entries);
	/* and the GET beside it is the settings' price, not the body's */
	{
		char *g = get(FARM_COMMIT, NULL);

		cr_assert_float_eq(period_price(g), 50, 1e-9, "%s", g);
		free(g);
	}
}

Test(serving_trading, observations_of_a_member_move_the_portfolio)
{
	char *latest0, *latest1, *commit0, *commit1, *forecast0, *forecast1, ts[UTC_ISO_LEN];
	char csv[8192];
	int64_t t0, t1;
	struct tu_http r;

	latest0 = get(PF_LATEST, NULL);
	commit0 = get(PF_COMMIT, NULL);
	forecast0 = get(PF_FORECAST, NULL);
	free(get(PF_COMMIT, NULL));	/* held */
	t0 = issued(latest0);
	/*
	 * beta only: an observation after its latest data (the latest issue time moves) and
	 * on 2026-01-03, before gate closure (2026-01-04T12:00Z), far from its usual power (the errors
	 * the portfolio's dependence is estimated from move)
	 */
	snprintf(csv, sizeof(csv), "time,power_mw\n%s,40\n", utc_format(t0 + 2 * UTC_HOUR, ts));
	for (int h = 1; h <= 24; h++)
		snprintf(csv + strlen(csv), sizeof(csv) - strlen(csv), "%s,%d\n",
			 utc_format(1767398400 + h * UTC_HOUR, ts), h % 2 ? 0 : 50);
	call("POST", "/v1/farms/beta/observations", csv, "Content-Type: text/csv", 200, &r);
	tu_http_release(&r);

	latest1 = get(PF_LATEST, NULL);
	t1 = issued(latest1);
	cr_assert_eq(t1, t0 + 2 * UTC_HOUR, "issued %lld after beta's observation at %lld",
		     (long long)t1, (long long)(t0 + 2 * UTC_HOUR));
	commit1 = get(PF_COMMIT, NULL);
	assert_moved(commit0, commit1, fresh_commit(true, "both"), "portfolio commitments");
	forecast1 = get(PF_FORECAST, NULL);
	cr_assert_str_neq(forecast0, forecast1, "the held portfolio forecast from before");
	free(latest0);
	free(latest1);
	free(commit0);
	free(commit1);
	free(forecast0);
	free(forecast1);
}

Test(serving_trading, market_put_moves_the_farm_commitments)
{
	char *a, *b, *pf0, *pf1;
	struct tu_http r;
	uint64_t h;

	a = get(FARM_COMMIT, NULL);
	pf0 = get(PF_COMMIT, NULL);
	h = hits();
	free(get(FARM_COMMIT, NULL));
	cr_assert_eq(hits(), h + 1);
	call("PUT", "/v1/farms/alpha/market", "{\"price\":80,\"psi_plus\":30,\"psi_minus\":10}",
	     "Content-Type: application/json", 200, &r);
	tu_http_release(&r);
	b = get(FARM_COMMIT, NULL);
	cr_assert_float_eq(period_price(a), 50, 1e-9);
	cr_assert_float_eq(period_price(b), 80, 1e-9, "the held schedule from before the PUT");
	assert_moved(a, b, fresh_commit(false, "alpha"), "farm commitments");
	/* the portfolio has settings of its own: its held schedule stays */
	h = hits();
	pf1 = get(PF_COMMIT, NULL);
	cr_assert_eq(hits(), h + 1, "a farm's settings moved the portfolio's schedule");
	cr_assert_str_eq(pf0, pf1);
	free(a);
	free(b);
	free(pf0);
	free(pf1);
}

Test(serving_trading, portfolio_put_and_delete_move_its_replies)
{
	char *f0, *f1, *c0, *c1, *l0, *l1;
	struct tu_http r;

	f0 = get(PF_FORECAST, NULL);
	c0 = get(PF_COMMIT, NULL);
	l0 = get(PF_LATEST, "Accept: text/csv");
	cr_assert_float_eq(num(f0, "capacity_mw"), 150, 1e-9);
	call("PUT", "/v1/portfolios/both",
	     "{\"name\":\"both\",\"farms\":[\"alpha\"],\"market\":{\"price\":50,\"psi_plus\":10,"
	     "\"psi_minus\":30}}",
	     "Content-Type: application/json", 200, &r);
	tu_http_release(&r);
	f1 = get(PF_FORECAST, NULL);
	cr_assert_float_eq(num(f1, "capacity_mw"), 100, 1e-9,
			   "the held forecast of alpha and beta was served: %s", f1);
	c1 = get(PF_COMMIT, NULL);
	assert_moved(c0, c1, fresh_commit(true, "both"), "portfolio commitments");
	l1 = get(PF_LATEST, "Accept: text/csv");
	cr_assert_str_neq(l0, l1, "the held latest CSV of alpha and beta was served");

	call("DELETE", "/v1/portfolios/both", NULL, NULL, 204, &r);
	tu_http_release(&r);
	call("GET", PF_FORECAST, NULL, NULL, 404, &r);
	tu_http_release(&r);
	call("GET", PF_COMMIT, NULL, NULL, 404, &r);
	tu_http_release(&r);
	free(f0);
	free(f1);
	free(c0);
	free(c1);
	free(l0);
	free(l1);
}

Test(serving_trading, cli_write_beside_the_server_shows_at_once)
{
	char *a, *b, *errs = NULL;
	uint64_t h;

	a = get(FARM_COMMIT, NULL);
	h = hits();
	free(get(FARM_COMMIT, NULL));
	cr_assert_eq(hits(), h + 1);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "farm market alpha --price 90"), 0, "%s", errs);
	free(errs);
	/* the very next GET: no sleep, no retry */
	b = get(FARM_COMMIT, NULL);
	cr_assert_float_eq(period_price(b), 90, 1e-9, "the CLI's price is not served: %s", b);
	assert_moved(a, b, fresh_commit(false, "alpha"), "farm commitments");
	free(a);
	free(b);
}

static void on_moved(void *cls, const char *subject, uint64_t gen)
{
	char *buf = cls;

	snprintf(buf + strlen(buf), 512 - strlen(buf), "%s%s", buf[0] ? " " : "", subject);
}

/* The subjects moved since w's last poll, in the order read (into buf, 512 bytes). */
static const char *moved(struct store_watch *w, char *buf)
{
	struct wc_error err = { 0 };
	uint64_t seq;

	buf[0] = '\0';
	cr_assert_eq(store_watch_poll(w, &seq, on_moved, buf, &err), WC_OK, "%s", err.msg);
	return buf;
}

/* The writes of market settings and portfolios move their subjects, and only theirs. */
Test(serving_trading, market_and_portfolio_writes_move_their_subjects)
{
	struct store_watch *w;
	struct wc_error err = { 0 };
	struct market_settings m;
	struct portfolio *p = calloc(1, sizeof(*p));
	char got[512];
	bool created;

	cr_assert_eq(store_watch_open(st, &w, &err), WC_OK, "%s", err.msg);
	moved(w, got);
	market_init(&m);
	m.price = 70;
	cr_assert_eq(store_farm_market_put(st, "beta", &m, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(moved(w, got), "market:beta");
	market_init(&m);	/* empty: the settings removed */
	cr_assert_eq(store_farm_market_put(st, "beta", &m, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(moved(w, got), "market:beta");
	cr_assert_eq(store_portfolio_get(st, "both", p, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_portfolio_put(st, p, &created, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(moved(w, got), "portfolio:both");
	snprintf(p->id, sizeof(p->id), "other");
	cr_assert_eq(store_portfolio_add(st, p, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(moved(w, got), "portfolio:other");
	/* refused writes move nothing */
	cr_assert_eq(store_portfolio_add(st, p, &err), WC_EEXIST);
	cr_assert_eq(store_portfolio_delete(st, "nosuch", &err), WC_ENOTFOUND);
	cr_assert_eq(store_farm_market_put(st, "nosuch", &m, &err), WC_ENOTFOUND);
	cr_assert_str_eq(moved(w, got), "");
	cr_assert_eq(store_portfolio_delete(st, "both", &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(moved(w, got), "portfolio:both");
	store_watch_close(w);
	free(p);
}
