/*
 * test_trading_portfolio.c - portfolios: the registry (data/portfolio.h: validation,
 * store, the migration, farms a portfolio holds), the Gaussian copula
 * (trading/copula.h) on synthetic farms with known error correlation 0, 0.5 and 1 (the
 * sum's quantiles cover within 0.03 of nominal at every level, correlation 1 gives the
 * sum of the farms' quantiles, lower correlation narrower intervals), and portfolio
 * forecasts and commitments through the store, the CLI and HTTP.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/portfolio.h"
#include "data/store.h"
#include "server/server.h"
#include "trading/commit.h"
#include "trading/copula.h"
#include "trading/portfolio.h"
#include "trading/qdist.h"
#include "testutil.h"

struct store *fxr_store(char **dir, int days, int models);

#define CLI(dir, out, err, ...) tu_cli(dir, out, err, __VA_ARGS__)

static double uni(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

/* ---- the copula ---- */

TestSuite(copula, .timeout = 120);

Test(copula, normal_functions)
{
	double worst = 0;

	cr_assert_float_eq(normal_quantile(0.975), 1.959963984540054, 1e-14);
	cr_assert_float_eq(normal_quantile(0.5), 0, 1e-15);
	cr_assert_float_eq(normal_quantile(1e-10), -6.361340902404056, 1e-11);
	for (double p = 1e-12; p < 1; p = p < 0.01 ? p * 3 : p + 0.0037) {
		double back = normal_cdf(normal_quantile(p));

		worst = fmax(worst, fabs(back - p) / fmin(p, 1 - p));
	}
	cr_assert_lt(worst, 1e-12, "relative round trip error %g", worst);
	cr_assert_float_eq(pit_score(0), normal_quantile(0.001), 1e-15);
	cr_assert_float_eq(pit_score(1), normal_quantile(0.999), 1e-15);
}

/* Normal scores (n, p) with correlation rho between every pair (one common factor). */
static void correlated(uint64_t *s, int p, size_t n, double rho, double *z)
{
	for (size_t c = 0; c < n; c++) {
		double common = normal_quantile(uni(s));

		for (int f = 0; f < p; f++)
			z[c * p + f] = sqrt(rho) * common + sqrt(1 - rho) * normal_quantile(uni(s));
	}
}

Test(copula, fit_and_samples_have_the_correlation)
{
	enum { P = 3, N = 2000 };	/* z holds 4000 samples too */
	double *z = malloc(2 * N * P * sizeof(double)), R[P * P], lambda, rbar;
	struct copula c;
	struct wc_error err = { 0 };
	uint64_t s = 3;

	for (int k = 0; k < 3; k++) {
		double rho = k * 0.5;

		correlated(&s, P, N, rho, z);
		copula_fit(P, z, N, R, &lambda, &rbar);
		cr_assert_float_eq(lambda, (double)P / N, 1e-15);
		for (int a = 0; a < P; a++)
			for (int b = 0; b < P; b++)
				cr_assert_float_eq(R[a * P + b], a == b ? 1 : rho, 0.05,
						   "rho %g: R[%d][%d] = %g", rho, a, b, R[a * P + b]);
		if (k == 2)	/* perfectly correlated: exactly 1 */
			for (int i = 0; i < P * P; i++)
				cr_assert_float_eq(R[i], 1, 1e-12);
		/* the samples' normal scores have R's correlation */
		cr_assert_eq(copula_init(&c, P, R, 4000, 99, &err), WC_OK);
		for (int i = 0; i < 4000; i++)
			for (int f = 0; f < P; f++)
				z[i * P + f] = normal_quantile(c.u[i * P + f]);
		{
			double R2[P * P], l2, r2;

			copula_fit(P, z, 4000, R2, &l2, &r2);
			for (int i = 0; i < P * P; i++)
				cr_assert_float_eq(R2[i], R[i], 0.04, "samples: %g, want %g", R2[i],
						   R[i]);
		}
		copula_release(&c);
	}
	free(z);
}

/*
 * Synthetic farms: each case's margins are random piecewise-linear distributions given
 * by the 21 default levels, strictly increasing (no mass at 0 or capacity), and the
 * outcomes are their quantiles at the uniforms of normal scores correlated rho. The
 * copula is fitted on 800 past cases' PITs, then the sum's quantiles are checked on 3000
 * new cases.
 */
struct synth_result {
	double coverage[19];	/* at 0.05 .. 0.95 */
	double worst;		/* max |coverage - level| */
	double width;		/* mean p95 - p05 over the cases */
	double sum_gap;		/* max |sum quantile - sum of the farms' quantiles| / capacity */
	double fitted;		/* the fitted mean correlation */
};

static void synth_margin(uint64_t *s, double cap, struct qdist *d)
{
	static const float taus[] = { 0.01f, 0.05f, 0.1f, 0.15f, 0.2f, 0.25f, 0.3f,
				      0.35f, 0.4f, 0.45f, 0.5f, 0.55f, 0.6f, 0.65f,
				      0.7f, 0.75f, 0.8f, 0.85f, 0.9f, 0.95f, 0.99f };
	float q[21];
	double mu = 0.3 + 0.4 * uni(s), sigma = 0.03 + 0.07 * uni(s), skew = 0.5 * uni(s);

	for (int k = 0; k < 21; k++) {
		double zq = normal_quantile(taus[k]);

		/* a skewed, strictly increasing quantile function inside (0, 1) */
		q[k] = (float)(mu + sigma * (zq + skew * (zq > 0 ? zq * zq : 0) / 3));
	}
	qdist_from_quantiles(d, taus, q, 21, cap, cap);
}

static void synth_run(double rho, struct synth_result *res)
{
	enum { P = 3, PAST = 800, CASES = 3000 };
	static const double cap[P] = { 100, 50, 80 };
	double *z = malloc((size_t)PAST * P * sizeof(double)), R[P * P], lambda;
	double *work = malloc(PORTFOLIO_SAMPLES * sizeof(double));
	float levels[19];
	int hits[19] = { 0 };
	struct qdist m[P];
	struct copula c;
	struct wc_error err = { 0 };
	uint64_t s = 1234 + (uint64_t)(rho * 100);

	memset(res, 0, sizeof(*res));
	for (int k = 0; k < 19; k++)
		levels[k] = (float)(0.05 * (k + 1));
	/* the past: outcomes and their normal scores under each farm's margin */
	for (int i = 0; i < PAST; i++) {
		double zz[P], common = normal_quantile(uni(&s));

		for (int f = 0; f < P; f++) {
			double y, lo, hi;

			zz[f] = sqrt(rho) * common + sqrt(1 - rho) * normal_quantile(uni(&s));
			synth_margin(&s, cap[f], &m[f]);
			y = qdist_quantile(&m[f], normal_cdf(zz[f]));
			qdist_levels(&m[f], y, &lo, &hi);
			z[i * P + f] = pit_score(lo + uni(&s) * (hi - lo));
		}
	}
	copula_fit(P, z, PAST, R, &lambda, &res->fitted);
	cr_assert_eq(copula_init(&c, P, R, PORTFOLIO_SAMPLES, 5, &err), WC_OK);
	for (int i = 0; i < CASES; i++) {
		double q[19], mean, y = 0, common = normal_quantile(uni(&s)), sumq05 = 0, sumq95 = 0;

		for (int f = 0; f < P; f++) {
			double zz = sqrt(rho) * common + sqrt(1 - rho) * normal_quantile(uni(&s));

			synth_margin(&s, cap[f], &m[f]);
			y += qdist_quantile(&m[f], normal_cdf(zz));
			sumq05 += qdist_quantile(&m[f], 0.05);
			sumq95 += qdist_quantile(&m[f], 0.95);
		}
		copula_sum(&c, m, levels, 19, q, &mean, work);
		for (int k = 0; k < 19; k++)
			hits[k] += y <= q[k];
		res->width += (q[18] - q[0]) / CASES;
		res->sum_gap = fmax(res->sum_gap, fmax(fabs(q[0] - sumq05), fabs(q[18] - sumq95)) / 230);
	}
	for (int k = 0; k < 19; k++) {
		res->coverage[k] = (double)hits[k] / CASES;
		res->worst = fmax(res->worst, fabs(res->coverage[k] - levels[k]));
	}
	copula_release(&c);
	free(z);
	free(work);
}

Test(copula, coverage_of_known_correlations_and_the_comonotone_sum)
{
	struct synth_result r[3];

	for (int k = 0; k < 3; k++) {
		synth_run(k * 0.5, &r[k]);
		cr_log_info("rho %.1f: fitted %.3f, worst coverage error %.4f, mean 90%% width %.2f "
			    "MW, sum of quantiles off by %.2e of capacity",
			    k * 0.5, r[k].fitted, r[k].worst, r[k].width, r[k].sum_gap);
		for (int j = 0; j < 19; j++)
			cr_assert_leq(fabs(r[k].coverage[j] - 0.05 * (j + 1)), 0.03,
				      "rho %.1f: level %.2f covered %.4f", k * 0.5, 0.05 * (j + 1),
				      r[k].coverage[j]);
	}
	/* correlation 1: the sum of the farms' quantiles */
	cr_assert_lt(r[2].sum_gap, 1e-3, "rho 1: %g of capacity off the sum", r[2].sum_gap);
	/* less dependence, narrower intervals; and the sum of quantiles is too wide below 1 */
	cr_assert_lt(r[0].width, r[1].width);
	cr_assert_lt(r[1].width, r[2].width);
	cr_assert_gt(r[0].sum_gap, 0.02, "rho 0 must not be the sum of quantiles");
}

/* ---- the registry ---- */

TestSuite(portfolio_registry, .timeout = 120);

static struct portfolio *mk(const char *id, const char *farms)
{
	static struct portfolio p;
	struct wc_error err = { 0 };

	portfolio_init(&p);
	snprintf(p.id, sizeof(p.id), "%s", id);
	snprintf(p.name, sizeof(p.name), "Portfolio %s", id);
	cr_assert_eq(portfolio_set_farms(&p, farms, &err), WC_OK, "%s", err.msg);
	return &p;
}

Test(portfolio_registry, farm_lists_validation_and_json)
{
	static const struct {
		const char *list, *msg;
	} bad[] = {
		{ "", "no farms" },
		{ "a,,b", "farm 2 is empty" },
		{ "a,b,a", "farm 'a' is listed twice" },
		{ "a,B", "'B' is not a farm id" },
		{ ",a", "farm 1 is empty" },
	};
	struct portfolio p;
	struct wc_error err = { 0 };
	json_t *v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		portfolio_init(&p);
		cr_assert_eq(portfolio_set_farms(&p, bad[i].list, &err), WC_EINVAL, "%s", bad[i].list);
		cr_assert(strstr(err.msg, bad[i].msg), "%s: %s", bad[i].list, err.msg);
	}
	v = json_loads("{\"id\":\"p1\",\"farms\":[\"a\",\"b\"],\"market\":{\"price\":50}}", 0,
		       NULL);
	cr_assert_eq(portfolio_from_json(v, NULL, &p, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(p.name, "p1", "the name defaults to the id");
	cr_assert(p.nfarms == 2 && p.market.price == 50);
	json_decref(v);
	v = json_loads("{\"id\":\"p1\",\"farms\":[]}", 0, NULL);
	cr_assert_eq(portfolio_from_json(v, NULL, &p, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "it has 0 farms: give 1 to 200"), "%s", err.msg);
	json_decref(v);
	v = json_loads("{\"id\":\"p1\",\"farms\":[\"a\",\"a\"]}", 0, NULL);
	cr_assert_eq(portfolio_from_json(v, NULL, &p, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "farm 'a' is listed twice"), "%s", err.msg);
	json_decref(v);
	v = json_loads("{\"id\":\"p1\",\"farms\":[\"a\"],\"farm\":1}", 0, NULL);
	cr_assert_eq(portfolio_from_json(v, NULL, &p, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "unknown field 'farm'"), "%s", err.msg);
	json_decref(v);
	v = json_loads("{\"id\":\"p2\",\"farms\":[\"a\"]}", 0, NULL);
	cr_assert_eq(portfolio_from_json(v, "p1", &p, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "differs from the path's 'p1'"), "%s", err.msg);
	json_decref(v);
	v = json_loads("{\"id\":\"p1\",\"farms\":[\"a\"],\"market\":{\"psi_plus\":-1}}", 0, NULL);
	cr_assert_eq(portfolio_from_json(v, NULL, &p, &err), WC_EINVAL);
	json_decref(v);
}

static void raw_sql(const char *dir, const char *sql)
{
	char path[4200], *msg = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}

Test(portfolio_registry, store_and_the_farms_it_holds)
{
	char *dir;
	struct store *st = fxr_store(&dir, 0, 0);
	struct portfolio got, *list;
	struct market_settings m;
	struct wc_error err = { 0 };
	bool created;
	size_t n;

	cr_assert_eq(store_portfolio_add(st, mk("both", "beta,alpha"), &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_portfolio_add(st, mk("both", "alpha"), &err), WC_EEXIST);
	cr_assert_str_eq(err.msg, "portfolio 'both' already exists");
	cr_assert_eq(store_portfolio_add(st, mk("ghost", "alpha,gamma"), &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "invalid portfolio 'ghost': farm 'gamma' is not registered");
	cr_assert_eq(store_portfolio_get(st, "ghost", &got, &err), WC_ENOTFOUND);
	cr_assert_str_eq(err.msg, "no portfolio 'ghost'");
	cr_assert_eq(store_portfolio_get(st, "both", &got, &err), WC_OK);
	cr_assert_eq(got.nfarms, 2);
	cr_assert_str_eq(got.farms[0], "beta", "the order given");
	cr_assert_float_eq(got.capacity_mw, 150, 1e-9);
	/* replace: farms and settings */
	struct portfolio *p = mk("both", "alpha");

	p->market.price = 70;
	cr_assert_eq(store_portfolio_put(st, p, &created, &err), WC_OK, "%s", err.msg);
	cr_assert(!created);
	cr_assert_eq(store_portfolio_get(st, "both", &got, &err), WC_OK);
	cr_assert(got.nfarms == 1 && got.capacity_mw == 100 && got.market.price == 70);
	cr_assert_eq(store_portfolio_list(st, &list, &n, &err), WC_OK);
	cr_assert_eq(n, 1);
	free(list);
	/* a farm a portfolio holds stays */
	cr_assert_eq(store_farm_delete(st, "alpha", &err), WC_EEXIST);
	cr_assert_str_eq(err.msg, "cannot remove farm 'alpha': portfolio 'both' holds it; take it "
				  "out of the portfolio first (windcast portfolio add --replace)");
	cr_assert_eq(store_farm_delete(st, "beta", &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_portfolio_delete(st, "both", &err), WC_OK);
	cr_assert_eq(store_portfolio_delete(st, "both", &err), WC_ENOTFOUND);
	cr_assert_eq(store_farm_delete(st, "alpha", &err), WC_OK, "%s", err.msg);
	/* farm market settings: none, set, cleared; an unknown farm */
	cr_assert_eq(store_farm_market_get(st, "nosuch", &m, &err), WC_ENOTFOUND);
	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * A store at the schema before the market tables (schema 8: they and what the later
 * migrations add dropped) gets them on open, its farms intact.
 */
Test(portfolio_registry, migration_adds_the_tables)
{
	char *dir;
	struct store *st = fxr_store(&dir, 0, 0);
	struct market_settings m;
	struct wc_error err = { 0 };
	struct farm f;
	char sql[256];

	store_close(st);
	snprintf(sql, sizeof(sql),
		 "DROP TABLE portfolio_farms; DROP TABLE portfolios; DROP TABLE farm_markets; "
		 "DROP INDEX jobs_unfinished; ALTER TABLE jobs DROP COLUMN attempts; "
		 "PRAGMA user_version = %d;",
		 8);
	raw_sql(dir, sql);
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_get(st, "alpha", &f, &err), WC_OK);
	market_init(&m);
	m.price = 10;
	cr_assert_eq(store_farm_market_put(st, "alpha", &m, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_market_get(st, "alpha", &m, &err), WC_OK);
	cr_assert_eq(m.price, 10);
	cr_assert_eq(store_portfolio_add(st, mk("p", "alpha"), &err), WC_OK, "%s", err.msg);
	/* damaged settings are named, not garbage */
	store_close(st);
	raw_sql(dir, "UPDATE farm_markets SET settings = '{\"price\":-1}'");
	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	cr_assert_eq(store_farm_market_get(st, "alpha", &m, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "the stored market settings of farm 'alpha' are damaged"), "%s",
		  err.msg);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- forecasts and commitments through the store ---- */

TestSuite(portfolio_forecast, .timeout = 300);

/*
 * The fixture's two farms see the same weather and the same power fraction (alpha 100
 * MW, beta 50 MW): with the same model their errors are the same, so the copula measures
 * a correlation near 1 and the sum's quantiles are near the sum of the farms'.
 */
Test(portfolio_forecast, identical_farms_sum_their_quantiles)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 0);
	struct forecast_request r;
	struct pforecast pf;
	struct wc_error err = { 0 };
	double worst = 0;

	cr_assert_eq(store_portfolio_add(st, mk("both", "alpha,beta"), &err), WC_OK, "%s", err.msg);
	forecast_request_init(&r);
	cr_assert_eq(forecast_request_set(&r, "model", "powercurve", &err), WC_OK);
	cr_assert_eq(forecast_request_set(&r, "issued", "2026-01-06T00:00Z", &err), WC_OK);
	cr_assert_eq(forecast_request_set(&r, "horizon", "12", &err), WC_OK);
	cr_assert_eq(portfolio_forecast_get(st, "both", &r, &pf, &err), WC_OK, "%s", err.msg);
	cr_assert(pf.fc.portfolio);
	cr_assert_str_eq(pf.fc.farm_id, "both");
	cr_assert_float_eq(pf.fc.capacity_mw, 150, 1e-9);
	cr_assert_eq(pf.fc.nlead, 12);
	cr_assert_eq(pf.nfarms, 2);
	cr_assert_eq(pf.nblocks, 2);
	cr_assert_eq(pf.blocks[0].source, DEP_ESTIMATED, "cases %d", pf.blocks[0].cases);
	cr_log_info("leads 1-6: %d cases, mean correlation %.3f", pf.blocks[0].cases,
		    pf.blocks[0].mean_rho);
	cr_assert_gt(pf.blocks[0].mean_rho, 0.9);
	for (int i = 0; i < pf.fc.nlead; i++)
		for (float tau = 0.1f; tau < 0.95f; tau += 0.2f) {
			double sum = 0;

			for (int f = 0; f < 2; f++)
				sum += forecast_quantile(&pf.farms[f], i, tau) * pf.farms[f].capacity_mw;
			worst = fmax(worst, fabs(forecast_quantile(&pf.fc, i, tau) * 150 - sum) / 150);
		}
	cr_log_info("sum's quantiles off the farms' summed quantiles by %.4f of capacity", worst);
	cr_assert_lt(worst, 0.02);
	pforecast_release(&pf);
	/* unknown portfolio */
	cr_assert_eq(portfolio_forecast_get(st, "nosuch", &r, &pf, &err), WC_ENOTFOUND);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(portfolio_forecast, too_little_history_is_said)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 0);
	struct forecast_request r;
	struct pforecast pf;
	struct wc_error err = { 0 };
	json_t *v;

	cr_assert_eq(store_portfolio_add(st, mk("both", "alpha,beta"), &err), WC_OK, "%s", err.msg);
	forecast_request_init(&r);
	cr_assert_eq(forecast_request_set(&r, "model", "powercurve", &err), WC_OK);
	/* a day into the data: the hindcasts hardly have outcomes */
	cr_assert_eq(forecast_request_set(&r, "issued", "2026-01-02T00:00Z", &err), WC_OK);
	cr_assert_eq(forecast_request_set(&r, "horizon", "30", &err), WC_OK);
	cr_assert_eq(portfolio_forecast_get(st, "both", &r, &pf, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(pf.blocks[3].source, DEP_PRIOR, "leads 25-30: %d cases", pf.blocks[3].cases);
	cr_assert(strstr(pf.fc.note, "dependence of leads 25-30 assumed, correlation 0.5"), "%s",
		  pf.fc.note);
	v = pforecast_json(&pf, r.levels, r.nlevels, 30);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(
				 json_object_get(v, "dependence"), "blocks"), 3), "source")),
			 "prior");
	cr_assert_str_eq(json_string_value(json_object_get(v, "portfolio")), "both");
	cr_assert_null(json_object_get(v, "farm"));
	cr_assert_eq(json_array_size(json_object_get(v, "farms")), 2);
	json_decref(v);
	pforecast_release(&pf);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(portfolio_forecast, cli_and_http)
{
	char *dir, *out = NULL, *errs = NULL;
	struct store *st = fxr_store(&dir, 6, 0);
	struct server *srv;
	struct tu_http h;
	json_t *a, *b;
	const char *ct[] = { "Content-Type: application/json", NULL };
	const char *csv[] = { "Content-Type: text/csv", NULL };

	store_close(st);
	/* the CLI: add, show, forecast */
	cr_assert_eq(CLI(dir, &out, &errs, "portfolio add --id both --farms alpha,beta --price 50 "
					   "--psi-plus 10 --psi-minus 30"),
		     0, "%s", errs);
	cr_assert_str_eq(out, "added portfolio 'both': 2 farms, 150 MW\n");
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "portfolio add --id dup --farms alpha,alpha"), 2);
	cr_assert(strstr(errs, "invalid --farms 'alpha,alpha': farm 'alpha' is listed twice"), "%s",
		  errs);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "portfolio add --id ghost --farms alpha,gamma"), 2);
	cr_assert(strstr(errs, "farm 'gamma' is not registered"), "%s", errs);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "portfolio list --format csv"), 0, "%s", errs);
	cr_assert_str_eq(out, "id,name,capacity_mw,nfarms,farms\nboth,both,150,2,alpha;beta\n");
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --portfolio both --issued 2026-01-06T00:00Z "
					   "--horizon 6 --model powercurve --format json"),
		     0, "%s", errs);
	a = json_loads(out, 0, NULL);
	cr_assert_not_null(a, "%s", out);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --portfolio both --issued 2026-01-06T00:00Z "
					   "--horizon 6 --model powercurve --format csv"),
		     0, "%s", errs);
	cr_assert(!strncmp(out, "portfolio,issued,period_start,period_end,valid_time,lead_h,model,"
				"model_version,fallback,point,p10,p50,p90\nboth,"
				"2026-01-06T00:00:00Z,2026-01-06T00:00:00Z,2026-01-06T01:00:00Z,",
			   170),
		  "%s", out);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "commit --portfolio both --day 2026-01-05 --model "
					   "powercurve --format csv"),
		     0, "%s", errs);
	cr_assert(!strncmp(out, "portfolio,issued,", 17), "%s", out);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, NULL, &errs, "farm rm alpha"), 1);
	cr_assert(strstr(errs, "portfolio 'both' holds it"), "%s", errs);
	free(errs);

	/* HTTP: the same forecast, the registry's refusals */
	tu_serve(dir, &st, &srv);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/portfolios/both/forecast?issued=2026-01-06T00:00Z&horizon=6&"
				  "model=powercurve",
				  NULL, 0, NULL, &h));
	cr_assert_eq(h.status, 200, "%s", h.body);
	b = json_loads(h.body, 0, NULL);
	tu_http_release(&h);
	/* the same numbers as the CLI's (computed_at aside) */
	json_object_del(a, "computed_at");
	json_object_del(b, "computed_at");
	json_object_del(a, "farms");
	json_object_del(b, "farms");
	cr_assert(json_equal(a, b), "CLI %s\nHTTP %s", json_dumps(a, 0), json_dumps(b, 0));
	json_decref(a);
	json_decref(b);
	cr_assert(tu_http_request(server_port(srv), "GET", "/v1/portfolios/nosuch/forecast", NULL,
				  0, NULL, &h));
	cr_assert_eq(h.status, 404, "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/portfolios",
				  "{\"id\":\"z\",\"farms\":[]}", (size_t)-1, ct, &h));
	cr_assert_eq(h.status, 400, "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/portfolios",
				  "{\"id\":\"z\",\"farms\":[\"alpha\",\"nope\"]}", (size_t)-1, ct,
				  &h));
	cr_assert_eq(h.status, 400, "%s", h.body);
	cr_assert(strstr(h.body, "farm 'nope' is not registered"), "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/portfolios",
				  "{\"id\":\"z\",\"farms\":[\"alpha\",\"alpha\"]}", (size_t)-1, ct,
				  &h));
	cr_assert_eq(h.status, 400, "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/portfolios",
				  "{\"id\":\"z\",\"farms\":[\"beta\"]}", (size_t)-1, ct, &h));
	cr_assert_eq(h.status, 201, "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "DELETE", "/v1/farms/beta", NULL, 0, NULL, &h));
	cr_assert_eq(h.status, 409, "%s", h.body);
	tu_http_release(&h);
	/* commitments: GET with the stored settings, 404, 409, 400 */
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/portfolios/both/commitments?day=2026-01-05&model=powercurve",
				  NULL, 0, NULL, &h));
	cr_assert_eq(h.status, 200, "%s", h.body);
	a = json_loads(h.body, 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(a, "periods")), 24);
	cr_assert_str_eq(json_string_value(json_object_get(a, "portfolio")), "both");
	json_decref(a);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/nosuch/commitments?day=2026-01-05&price=1&psi_plus=1&"
				  "psi_minus=1",
				  NULL, 0, NULL, &h));
	cr_assert_eq(h.status, 404, "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/alpha/commitments?day=2025-11-02&price=1&psi_plus=1&"
				  "psi_minus=1",
				  NULL, 0, NULL, &h));
	cr_assert_eq(h.status, 409, "%s", h.body);
	cr_assert(strstr(h.body, "no forecast of farm 'alpha' available at gate closure"), "%s",
		  h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/alpha/commitments?day=2026-01-05&price=-5", NULL, 0,
				  NULL, &h));
	cr_assert_eq(h.status, 400, "%s", h.body);
	cr_assert(strstr(h.body, "invalid price '-5': use a number 0..100000"), "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/alpha/commitments?day=2026-01-05&psi_plus=NaN", NULL, 0,
				  NULL, &h));
	cr_assert_eq(h.status, 400, "%s", h.body);
	tu_http_release(&h);
	/* POST a prices CSV: a duplicate hour is refused with its line */
	cr_assert(tu_http_request(server_port(srv), "POST",
				  "/v1/farms/alpha/commitments?day=2026-01-05&model=powercurve",
				  "period_start,price,psi_plus,psi_minus\n2026-01-05T00:00Z,1,1,1\n"
				  "2026-01-05T00:00Z,1,1,1\n",
				  (size_t)-1, csv, &h));
	cr_assert_eq(h.status, 400, "%s", h.body);
	cr_assert(strstr(h.body, "line 3: duplicate period 2026-01-05T00:00:00Z"), "%s", h.body);
	tu_http_release(&h);
	/* farm market settings over HTTP */
	cr_assert(tu_http_request(server_port(srv), "PUT", "/v1/farms/alpha/market",
				  "{\"price\":40,\"psi_plus\":5,\"psi_minus\":15,"
				  "\"time_zone\":\"Europe/Berlin\"}",
				  (size_t)-1, ct, &h));
	cr_assert_eq(h.status, 200, "%s", h.body);
	tu_http_release(&h);
	cr_assert(tu_http_request(server_port(srv), "GET",
				  "/v1/farms/alpha/commitments?day=2026-01-05&model=powercurve&"
				  "format=csv",
				  NULL, 0, NULL, &h));
	cr_assert_eq(h.status, 200, "%s", h.body);
	/* Berlin's day 2026-01-05 starts at 23:00 UTC the day before; prices stored */
	cr_assert(strstr(h.body, "\nalpha,2026-01-04T11:00:00Z,2026-01-04T23:00:00Z,"
				 "2026-01-05T00:00:00Z,2026-01-05T00:00:00Z,13,40,5,15,0.25,"),
		  "%s", h.body);
	tu_http_release(&h);
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}
