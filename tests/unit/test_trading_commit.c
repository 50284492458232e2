/*
 * test_trading_commit.c - the commitment rule and its schedules (trading/commit.h):
 * exact expectations against plain loops, the rule against a brute-force search over a
 * fine grid of commitments, a hand-computed case; schedules through the store for a
 * trading day at gate closure (the forecast the availability rule allows then, the
 * rule's values equal to the forecast's quantiles), clock-change days of 23 and 25
 * periods, stored settings and overrides, price files, and the refusals (unknown farm,
 * no forecast at gate closure, bad prices) in the library and through the built CLI.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/portfolio.h"
#include "data/store.h"
#include "forecast/forecast.h"
#include "trading/commit.h"
#include "trading/qdist.h"
#include "trading/value.h"
#include "testutil.h"

struct store *fxr_store(char **dir, int days, int models);

#define CLI(dir, out, err, ...) tu_cli(dir, out, err, __VA_ARGS__)

static int64_t iso(const char *s)
{
	int64_t t;

	cr_assert(utc_parse(s, &t), "%s", s);
	return t;
}

/* A deterministic generator for the sampled cases. */
static double uni(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) / 9007199254740992.0;
}

/*
 * A random forecast distribution of capacity cap: the default 21 levels or a random
 * subset, increasing values with a chance of flat runs at 0 and at cap.
 */
static int random_levels(uint64_t *s, float *taus, float *q, double cap)
{
	static const float dflt[] = { 0.01f, 0.05f, 0.1f, 0.15f, 0.2f, 0.25f, 0.3f, 0.35f, 0.4f,
				      0.45f, 0.5f, 0.55f, 0.6f, 0.65f, 0.7f, 0.75f, 0.8f, 0.85f,
				      0.9f, 0.95f, 0.99f };
	int n = 0;
	double x = uni(s) < 0.2 ? 0 : uni(s) * 0.6;

	for (int k = 0; k < 21; k++) {
		if (uni(s) < 0.3 && k != 10)
			continue;	/* a subset, keeping the median */
		taus[n] = dflt[k];
		x += uni(s) < 0.2 ? 0 : uni(s) * 0.15;
		q[n++] = (float)(x > 1 ? 1 : x);
	}
	(void)cap;
	return n;
}

TestSuite(commit_rule, .timeout = 120);

/* Exact integrals against the midpoint rule over 200000 levels. */
Test(commit_rule, expectations_are_exact_integrals)
{
	uint64_t seed = 42;
	double worst = 0;

	for (int trial = 0; trial < 200; trial++) {
		float taus[21], q[21];
		double cap = 1 + 99 * uni(&seed);
		int n = random_levels(&seed, taus, q, cap);
		struct qdist d;
		const int N = 200000;
		double c = cap * (uni(&seed) * 1.2 - 0.1), mean = 0, ex = 0, sh = 0;

		qdist_from_quantiles(&d, taus, q, n, cap, cap);
		for (int k = 0; k < n; k++)	/* the levels are kept */
			cr_assert_float_eq(qdist_quantile(&d, taus[k]), fmin(q[k] * cap, cap),
					   1e-9 * cap);
		for (int i = 0; i < N; i++) {
			double x = qdist_quantile(&d, (i + 0.5) / N);

			cr_assert(x >= 0 && x <= cap * (1 + 1e-12), "Q out of [0, cap]: %g", x);
			mean += x / N;
			ex += (x > c ? x - c : 0) / N;
			sh += (c > x ? c - x : 0) / N;
		}
		worst = fmax(worst, fabs(qdist_mean(&d) - mean) / cap);
		worst = fmax(worst, fabs(qdist_excess(&d, c) - ex) / cap);
		worst = fmax(worst, fabs(qdist_shortfall(&d, c) - sh) / cap);
	}
	cr_log_info("max difference from the plain loop: %.2e of capacity", worst);
	cr_assert_lt(worst, 1e-6, "max difference %.2e of capacity", worst);
}

/* A uniform distribution on [0, 100] worked by hand. */
Test(commit_rule, uniform_by_hand)
{
	const float taus[] = { 0.25f, 0.5f, 0.75f }, q[] = { 0.25f, 0.5f, 0.75f };
	struct period_prices pp = { 50, 10, 30 };
	struct commit_eval e;
	struct qdist d;
	double c;

	/* the outer slopes reach 0 and 100 exactly: U(0, 100) */
	qdist_from_quantiles(&d, taus, q, 3, 100, 100);
	cr_assert_float_eq(qdist_quantile(&d, 0), 0, 1e-9);
	cr_assert_float_eq(qdist_quantile(&d, 1), 100, 1e-9);
	cr_assert_float_eq(commit_alpha(10, 30), 0.25, 1e-15);
	c = commit_rule(&d, 0.25, 0, 100);
	cr_assert_float_eq(c, 25, 1e-9);
	commit_evaluate(&d, &pp, c, &e);
	/* E(a - 25)+ = 75^2 / 200, E(25 - a)+ = 25^2 / 200 */
	cr_assert_float_eq(e.surplus_mwh, 28.125, 1e-9);
	cr_assert_float_eq(e.deficit_mwh, 3.125, 1e-9);
	cr_assert_float_eq(e.imbalance_cost, 375, 1e-9);
	cr_assert_float_eq(e.revenue, 50 * 50 - 375, 1e-9);
	/* limits clip: 30..40 gives 30 */
	cr_assert_float_eq(commit_rule(&d, 0.25, 30, 40), 30, 1e-12);
	/* tails: outer levels 0.1 and 0.9 of a tight distribution stay tight */
	{
		const float t2[] = { 0.1f, 0.5f, 0.9f }, q2[] = { 0.50f, 0.52f, 0.54f };

		qdist_from_quantiles(&d, t2, q2, 3, 1, 1);
		cr_assert_float_eq(qdist_quantile(&d, 0), 0.495, 1e-6);
		cr_assert_float_eq(qdist_quantile(&d, 1), 0.545, 1e-6);
	}
}

/*
 * For sampled distributions, prices and penalties, no commitment on a grid of 1001
 * values over [0, capacity] has a higher expected revenue than the rule's (beyond 1e-6
 * of the capacity: the loop's own discretisation); the revenue is the realised revenue
 * averaged over 10000 levels (a plain loop, no integration formula).
 */
Test(commit_rule, no_commitment_on_a_fine_grid_beats_the_rule)
{
	uint64_t seed = 7;
	const int N = 10000, G = 1000;
	double worst_gap = -INFINITY, worst_eval = 0;
	double *x = malloc(N * sizeof(double));

	for (int trial = 0; trial < 80; trial++) {
		float taus[21], q[21];
		double cap = 10 + 90 * uni(&seed);
		int n = random_levels(&seed, taus, q, cap);
		struct period_prices pp = { 100 * uni(&seed), 50 * uni(&seed), 50 * uni(&seed) };
		double lo = 0, hi = cap, rule, best = -INFINITY, r_rule = 0;
		struct commit_eval e;
		struct qdist d;

		if (trial % 5 == 0)	/* extreme penalties: alpha near 0 or 1 */
			pp.psi_plus = trial % 10 ? 0.01 : 200;
		if (trial % 7 == 0) {	/* limits */
			lo = cap * 0.3 * uni(&seed);
			hi = lo + (cap - lo) * uni(&seed);
		}
		qdist_from_quantiles(&d, taus, q, n, cap, cap);
		rule = commit_rule(&d, commit_alpha(pp.psi_plus, pp.psi_minus), lo, hi);
		for (int i = 0; i < N; i++)
			x[i] = qdist_quantile(&d, (i + 0.5) / N);
		for (int i = 0; i < N; i++)
			r_rule += value_revenue(rule, x[i], &pp) / N;
		for (int g = 0; g <= G; g++) {
			double c = lo + (hi - lo) * g / G, r = 0;

			for (int i = 0; i < N; i++)
				r += value_revenue(c, x[i], &pp) / N;
			best = fmax(best, r);
		}
		worst_gap = fmax(worst_gap, (best - r_rule) / cap);
		commit_evaluate(&d, &pp, rule, &e);
		worst_eval = fmax(worst_eval, fabs(e.revenue - r_rule) / cap);
	}
	free(x);
	cr_log_info("best grid revenue above the rule's by at most %.3g of capacity; expected "
		    "revenue off the loop by %.2e of capacity",
		    worst_gap, worst_eval);
	cr_assert_leq(worst_gap, 1e-6, "a grid commitment beat the rule by %g of capacity",
		      worst_gap);
	cr_assert_lt(worst_eval, 1e-4);
}

/* ---- schedules through the store ---- */

TestSuite(commit_store, .timeout = 240);

/* r for farm alpha from key/value text pairs. */
static void request(struct commit_request *r, const char *id, const char *const *kv)
{
	struct wc_error err = { 0 };

	commit_request_init(r);
	r->id = id;
	for (size_t i = 0; kv && kv[i]; i += 2)
		cr_assert_eq(commit_request_set(r, kv[i], kv[i + 1], &err), WC_OK, "%s=%s: %s",
			     kv[i], kv[i + 1], err.msg);
}

Test(commit_store, day_at_gate_closure_is_the_forecasts_quantile)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 0);
	struct commit_request r;
	struct forecast_request fr;
	struct schedule s;
	struct forecast fc;
	struct wc_error err = { 0 };
	double cost = 0;

	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "model", "powercurve",
						    "price", "50", "psi_plus", "10", "psi_minus",
						    "30", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(s.n, 24);
	cr_assert(s.has_day);
	cr_assert_eq(s.day.gate, iso("2026-01-04T12:00:00Z"));
	cr_assert_eq(s.pfc.fc.issued, iso("2026-01-04T12:00:00Z"));
	cr_assert(strstr(s.pfc.fc.issued_reason, "the gate closure, 12:00 local time (UTC)"), "%s",
		  s.pfc.fc.issued_reason);
	cr_assert_eq(s.p[0].start, iso("2026-01-05T00:00:00Z"));
	cr_assert_eq(s.p[0].end, iso("2026-01-05T01:00:00Z"));
	cr_assert_eq(s.p[0].lead, 13);
	cr_assert_eq(s.p[23].end, iso("2026-01-06T00:00:00Z"));
	/* the same forecast, asked for as a forecast: the rule is its 0.25 quantile */
	forecast_request_init(&fr);
	cr_assert_eq(forecast_request_set(&fr, "model", "powercurve", &err), WC_OK);
	fr.issued = iso("2026-01-04T12:00:00Z");
	fr.o.horizon = 36;
	cr_assert_eq(forecast_get_or_issue(st, "alpha", &fr, &fc, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < 24; i++) {
		double want = forecast_quantile(&fc, 12 + i, 0.25f) * fc.capacity_mw;

		cr_assert_float_eq(s.p[i].committed_mw, fmin(want, 100), 1e-4,
				   "period %d: %g, forecast's q0.25 %g", i, s.p[i].committed_mw, want);
		cr_assert_float_eq(s.p[i].median_mw,
				   forecast_quantile(&fc, 12 + i, 0.5f) * fc.capacity_mw, 1e-4);
		cr_assert_eq(s.p[i].end, fc.valid[12 + i]);
		cr_assert_float_eq(s.p[i].alpha, 0.25, 1e-12);
		cost += s.p[i].expect.imbalance_cost;
	}
	cr_assert_float_eq(s.imbalance_cost, cost, 1e-6);
	forecast_release(&fc);
	schedule_release(&s);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(commit_store, refusals)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 0);
	struct commit_request r;
	struct price_table pt;
	struct schedule s;
	struct wc_error err = { 0 };
	const char *prices = "period_start,price,psi_plus,psi_minus\n"
			     "2026-01-05T00:00Z,40,5,5\n2026-01-05T01:00Z,41,5,15\n";

	/* no such farm: 404's code */
	request(&r, "nosuch", (const char *const[]){ "day", "2026-01-05", "price", "50",
						     "psi_plus", "10", "psi_minus", "30", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_ENOTFOUND, "%s", err.msg);
	cr_assert_str_eq(err.msg, "no farm 'nosuch'");
	/* a day long before any data: no forecast at gate closure, 409's code, saying why */
	request(&r, "alpha", (const char *const[]){ "day", "2025-11-02", "price", "50", "psi_plus",
						    "10", "psi_minus", "30", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_ENODATA, "%s", err.msg);
	cr_assert(strstr(err.msg, "no forecast of farm 'alpha' available at gate closure "
				  "2025-11-01T12:00:00Z for trading day 2025-11-02: cannot forecast "
				  "farm 'alpha' at 2025-11-01T12:00:00Z: no NWP for farm 'alpha'") ==
			  err.msg,
		  "%s", err.msg);
	/* no prices anywhere */
	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "model", "powercurve",
						    NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "no price for farm 'alpha'"), "%s", err.msg);
	/* neither day nor issue time */
	request(&r, "alpha", NULL);
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_EINVAL);
	/* a prices file that does not cover the day */
	cr_assert_eq(price_table_parse(prices, strlen(prices), &pt, &err), WC_OK);
	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "model", "powercurve",
						    NULL });
	r.prices = &pt;
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "no row for period 2026-01-05T02:00:00Z"), "%s", err.msg);
	/* with the file and a price: one or the other */
	cr_assert_eq(commit_request_set(&r, "price", "30", &err), WC_OK);
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "either a prices file or price"), "%s", err.msg);
	/* the file's prices for an explicit issue time's leads 1..2 */
	request(&r, "alpha", (const char *const[]){ "issued", "2026-01-05T00:00Z", "horizon", "2",
						    "model", "powercurve", NULL });
	r.prices = &pt;
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(s.n, 2);
	cr_assert(s.prices_file && s.p[0].prices.price == 40 && s.p[1].prices.psi_minus == 15);
	cr_assert_float_eq(s.p[0].alpha, 0.5, 1e-12);
	cr_assert_float_eq(s.p[1].alpha, 0.25, 1e-12);
	schedule_release(&s);
	/* an issue time after the day started */
	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "issued",
						    "2026-01-05T03:00Z", "price", "50", "psi_plus",
						    "10", "psi_minus", "30", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "issue it before"), "%s", err.msg);
	/* the network was trained on leads 1..12: it cannot reach the day */
	store_close(st);
	tu_rmrf_free(dir);
	st = fxr_store(&dir, 6, 1);
	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "model", "nn", "price",
						    "50", "psi_plus", "10", "psi_minus", "30", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_ENODATA);
	cr_assert(strstr(err.msg, "not the end of the trading day at 2026-01-06T00:00:00Z"), "%s",
		  err.msg);
	price_table_release(&pt);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(commit_store, stored_settings_merged_with_the_request)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 0);
	struct market_settings m;
	struct commit_request r;
	struct schedule s;
	struct wc_error err = { 0 };

	market_init(&m);
	m.price = 45;
	m.psi_plus = 30;
	m.psi_minus = 10;
	m.max_mw = 20;
	m.gate_min = 9 * 60;
	cr_assert_eq(store_farm_market_put(st, "alpha", &m, &err), WC_OK, "%s", err.msg);
	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "model", "powercurve",
						    "psi_minus", "90", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(s.day.gate, iso("2026-01-04T09:00:00Z"));
	cr_assert(s.market.price == 45 && s.market.psi_plus == 30 && s.market.psi_minus == 90);
	for (int i = 0; i < s.n; i++) {
		cr_assert_float_eq(s.p[i].alpha, 0.25, 1e-12);
		cr_assert_leq(s.p[i].committed_mw, 20);
		cr_assert_float_eq(s.p[i].expect.revenue,
				   45 * s.p[i].mean_mw - s.p[i].expect.imbalance_cost, 1e-6);
	}
	schedule_release(&s);
	/* min_mw above the capacity cannot be met */
	request(&r, "alpha", (const char *const[]){ "day", "2026-01-05", "model", "powercurve",
						    "min_mw", "150", "max_mw", "200", NULL });
	cr_assert_eq(commit_get(st, &r, &s, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "min_mw 150 is above the capacity 100 MW of farm 'alpha'");
	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * A farm with its own power curve and NWP runs every 12 h (leads 0..48) over `days` days
 * from t0: the power-curve baseline forecasts it without observations.
 */
static struct store *curve_store(char **dir, int64_t t0, int days)
{
	struct farm f = { .id = "berlin", .name = "Berlin", .lat = 52.5, .lon = 13.4,
			  .capacity_mw = 80, .hub_height_m = 100,
			  .power_curve = { .n = 3, .ws = { 3, 8, 13 }, .power = { 0, 0.4, 1 } } };
	struct wc_error err = { 0 };
	struct weather_row rows[49];
	struct store *st;

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	for (int r = 0; r < days * 2; r++) {
		int64_t ref = t0 + (int64_t)r * 43200;
		struct nwp_run run = { .is_forecast = true, .ref_time = ref, .ntimes = 49,
				       .first_valid = ref, .last_valid = ref + 48 * 3600 };
		struct farm_weather fw = { "berlin", rows, 49 };
		char sha[65];

		for (int h = 0; h <= 48; h++) {
			struct weather_row *w = &rows[h];
			double ws = 8 + 4 * sin((double)(ref + h * 3600) / 40000.0);

			w->valid_time = ref + (int64_t)h * 3600;
			w->lead_h = h;
			for (int c = 0; c < WEATHER_NCOLS; c++)
				w->v[c] = NAN;
			w->v[WX_WS100] = w->v[WX_WS_HUB] = ws;
			w->v[WX_WS10] = 0.75 * ws;
			w->v[WX_WD100] = 200;
		}
		snprintf(run.source, sizeof(run.source), "curve fixture");
		snprintf(sha, sizeof(sha), "%064llx", (unsigned long long)ref);
		cr_assert_eq(store_ingest_run(st, sha, 1, "/dev/null", "x.nc", &run, &fw, 1, &err),
			     WC_OK, "%s", err.msg);
	}
	return st;
}

Test(commit_store, clock_change_days_have_23_and_25_periods)
{
	static const struct {
		const char *t0, *day, *first, *last;
		int n;
	} days[] = {
		{ "2026-03-26T00:00Z", "2026-03-29", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z",
		  23 },
		{ "2026-10-22T00:00Z", "2026-10-25", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z",
		  25 },
		{ "2026-06-12T00:00Z", "2026-06-15", "2026-06-14T22:00:00Z", "2026-06-15T22:00:00Z",
		  24 },
	};

	for (size_t k = 0; k < sizeof(days) / sizeof(days[0]); k++) {
		char *dir;
		struct store *st = curve_store(&dir, iso(days[k].t0), 5);
		struct commit_request r;
		struct schedule s;
		struct wc_error err = { 0 };

		request(&r, "berlin", (const char *const[]){ "day", days[k].day, "time_zone",
							     "Europe/Berlin", "model", "powercurve",
							     "price", "50", "psi_plus", "10",
							     "psi_minus", "30", NULL });
		cr_assert_eq(commit_get(st, &r, &s, &err), WC_OK, "%s: %s", days[k].day, err.msg);
		cr_assert_eq(s.n, days[k].n, "%s: %d periods", days[k].day, s.n);
		cr_assert_eq(s.p[0].start, iso(days[k].first), "%s", days[k].day);
		cr_assert_eq(s.p[s.n - 1].end, iso(days[k].last), "%s", days[k].day);
		for (int i = 1; i < s.n; i++)
			cr_assert_eq(s.p[i].start, s.p[i - 1].end);
		/* gate closure 12:00 Berlin time the day before: no change between */
		cr_assert_eq(s.day.gate, s.day.start - 12 * 3600, "%s gate", days[k].day);
		schedule_release(&s);
		store_close(st);
		tu_rmrf_free(dir);
	}
}

/* ---- the built CLI ---- */

TestSuite(commit_cli, .timeout = 240);

Test(commit_cli, formats_options_and_exit_statuses)
{
	char *dir, *out = NULL, *errs = NULL, path[4200];
	struct store *st = fxr_store(&dir, 6, 0);
	json_t *v;
	FILE *fp;
	int lines = 0;

	store_close(st);
	/* json: 24 periods and the totals */
	cr_assert_eq(CLI(dir, &out, &errs, "commit --farm alpha --day 2026-01-05 --model "
					   "powercurve --price 50 --psi-plus 10 --psi-minus 30 "
					   "--format json"),
		     0, "%s", errs);
	v = json_loads(out, 0, NULL);
	cr_assert_not_null(v, "%s", out);
	cr_assert_eq(json_array_size(json_object_get(v, "periods")), 24);
	cr_assert_str_eq(json_string_value(json_object_get(v, "farm")), "alpha");
	cr_assert_str_eq(json_string_value(json_object_get(v, "gate_closure")),
			 "2026-01-04T12:00:00Z");
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(v, "periods"), 0), "period_start")),
			 "2026-01-05T00:00:00Z");
	cr_assert(json_is_number(json_object_get(json_object_get(v, "totals"), "expected_revenue")));
	json_decref(v);
	free(out);
	free(errs);
	/* csv: a header and 24 rows */
	cr_assert_eq(CLI(dir, &out, &errs, "commit --farm alpha --day 2026-01-05 --model "
					   "powercurve --price 50 --psi-plus 10 --psi-minus 30 "
					   "--format csv"),
		     0, "%s", errs);
	cr_assert(!strncmp(out, "farm,issued,period_start,period_end,valid_time,lead_h,price,"
				"psi_plus,psi_minus,alpha,committed_mw,median_mw,mean_mw,"
				"expected_imbalance_cost,expected_revenue\nalpha,"
				"2026-01-04T12:00:00Z,2026-01-05T00:00:00Z,",
			   200),
		  "%s", out);
	for (char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 25);
	free(out);
	free(errs);
	/* text by default, with the totals */
	cr_assert_eq(CLI(dir, &out, &errs, "commit --farm alpha --day 2026-01-05 --model "
					   "powercurve --price 50 --psi-plus 10 --psi-minus 30"),
		     0, "%s", errs);
	cr_assert(strstr(out, "farm alpha, 100 MW, trading day 2026-01-05 (UTC, 24 periods)"),
		  "%s", out);
	cr_assert(strstr(out, "total: 24 periods, committed "), "%s", out);
	free(out);
	free(errs);
	/* bad values: exit 2, naming the option */
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha --day 2026-01-05 --price -3"), 2);
	cr_assert_str_eq(errs, "windcast commit: invalid --price '-3': use a number 0..100000 "
			       "(currency per MWh)\n");
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha --day 2026-01-05 --psi-plus nan"),
		     2);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha --day 2026-13-05"), 2);
	cr_assert(strstr(errs, "invalid --day '2026-13-05'"), "%s", errs);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha --portfolio p --day 2026-01-05"), 2);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha"), 2);
	free(errs);
	/* no such farm, no forecast at gate closure: exit 1 */
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm nosuch --day 2026-01-05 --price 5 "
					   "--psi-plus 1 --psi-minus 1"),
		     1);
	cr_assert_str_eq(errs, "windcast commit: no farm 'nosuch'\n");
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha --day 2025-11-02 --price 5 "
					   "--psi-plus 1 --psi-minus 1"),
		     1);
	cr_assert(strstr(errs, "no forecast of farm 'alpha' available at gate closure"), "%s",
		  errs);
	free(errs);
	/* a prices file with a gap: refused with its line */
	snprintf(path, sizeof(path), "%s/prices.csv", dir);
	fp = fopen(path, "w");
	fputs("period_start,price,psi_plus,psi_minus\n2026-01-05T00:00Z,50,10,30\n"
	      "2026-01-05T02:00Z,50,10,30\n",
	      fp);
	fclose(fp);
	cr_assert_eq(CLI(dir, NULL, &errs, "commit --farm alpha --day 2026-01-05 --prices '%s'",
			 path),
		     2);
	cr_assert(strstr(errs, "cannot read prices '") && strstr(errs, "': line 3: gap: period "
								       "2026-01-05T02:00:00Z"),
		  "%s", errs);
	free(errs);
	/* farm market: set some, keep the others, merge into commit; --clear */
	cr_assert_eq(CLI(dir, &out, &errs, "farm market alpha --price 40 --psi-plus 30"), 0, "%s",
		     errs);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "farm market alpha --psi-minus 10 --format json"), 0,
		     "%s", errs);
	v = json_loads(out, 0, NULL);
	cr_assert_eq(json_real_value(json_object_get(json_object_get(v, "market"), "price")), 40);
	cr_assert_eq(json_real_value(json_object_get(json_object_get(v, "market"), "psi_plus")), 30);
	cr_assert_eq(json_real_value(json_object_get(json_object_get(v, "market"), "psi_minus")),
		     10);
	json_decref(v);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "commit --farm alpha --day 2026-01-05 --model powercurve "
					   "--format json"),
		     0, "%s", errs);
	v = json_loads(out, 0, NULL);
	cr_assert_eq(json_real_value(json_object_get(
			     json_array_get(json_object_get(v, "periods"), 0), "alpha")),
		     0.75, "stored penalties 30/10: %s", out);
	json_decref(v);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "farm market alpha --clear"), 0, "%s", errs);
	cr_assert(strstr(out, "(none stored)"), "%s", out);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "farm market alpha --time-zone Mars/Base"), 2);
	cr_assert(strstr(errs, "invalid --time-zone 'Mars/Base': unknown time zone"), "%s", errs);
	free(errs);
	/* --issued-file: one schedule per issue time, leads 1..--horizon */
	snprintf(path, sizeof(path), "%s/issued.txt", dir);
	fp = fopen(path, "w");
	fputs("2026-01-03T00:00Z\n# a comment\n2026-01-04T00:00Z\n", fp);
	fclose(fp);
	cr_assert_eq(CLI(dir, &out, &errs, "commit --farm alpha --issued-file '%s' --horizon 6 "
					   "--model powercurve --price 50 --psi-plus 10 "
					   "--psi-minus 30 --format json",
			 path),
		     0, "%s", errs);
	v = json_loads(out, 0, NULL);
	cr_assert_eq(json_array_size(v), 2, "%s", out);
	cr_assert_eq(json_array_size(json_object_get(json_array_get(v, 1), "periods")), 6);
	json_decref(v);
	free(out);
	free(errs);
	tu_rmrf_free(dir);
}
