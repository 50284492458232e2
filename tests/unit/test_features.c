/*
 * test_features.c - the availability rule and the feature rows, checked value by value
 * against the fixture's closed form (test_forecast.c), computed independently here, and
 * the leakage proof at row level: with data after T loaded, no row at T changes when
 * that data does.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/features.h"
#include "testutil.h"

#define FX_T0 1767225600	/* 2026-01-01T00:00:00Z, as in test_forecast.c */

double fx_truth(int64_t t);
double fx_curve(double ws);
void fx_farms(struct store *st);
void fx_fill(struct store *st, int days, int64_t cut, double bump);

/* The fixture's forecast of run `ref` at valid time v (bump 0). */
static double fx_forecast(int64_t ref, int64_t v)
{
	return fx_truth(v) + 0.04 * (double)(v - ref) / 3600 * sin((double)ref / 70000.0);
}

static int name_index(const struct features *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->names[i], name))
			return i;
	cr_assert_fail("no feature '%s'", name);
	return -1;
}

TestSuite(features_rule, .timeout = 30);

Test(features_rule, boundaries)
{
	const int64_t R = FX_T0, D = 5 * 3600;

	cr_assert(nwp_run_available(true, R, D, R + D), "ref + delay == T is available");
	cr_assert_not(nwp_run_available(true, R, D, R + D - 1));
	cr_assert(nwp_run_available(true, R, 0, R));
	cr_assert(nwp_run_available(false, 0, D, INT64_MIN + 1), "analyses carry no issue time");
	cr_assert_not(nwp_run_available(true, INT64_MAX, D, INT64_MAX - 1), "no overflow");
	cr_assert(obs_available(R, R));
	cr_assert_not(obs_available(R + 1, R));
}

Test(features_rule, config_round_trip)
{
	struct feature_config a, b;
	struct wc_error err = { 0 };
	char buf[4096];

	feature_config_init(&a);
	a.delay_s = 7200;
	a.max_lead = 36;
	a.obs_max_lead = 12;
	a.n_regional = 2;
	strcpy(a.regional[0], "beta");
	strcpy(a.regional[1], "gamma-2");
	a.nbr_full = true;
	a.no_doy = true;
	a.n_pool = 3;
	strcpy(a.pool[0], "alpha");
	strcpy(a.pool[1], "beta");
	strcpy(a.pool[2], "gamma-2");
	feature_config_format(&a, buf, sizeof(buf));
	cr_assert_eq(feature_config_parse(buf, &b, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "'%s'", buf);
	cr_assert_eq(feature_config_parse("delay_s=1 bogus=2", &b, &err), WC_EFORMAT);
	cr_assert_eq(feature_config_parse("max_lead=0", &b, &err), WC_EFORMAT);
	cr_assert_eq(feature_config_parse("max_lead=4 pool=alpha,Bad!", &b, &err), WC_EFORMAT);
	/* a model file written before nbr_full and pool existed reads as without them */
	cr_assert_eq(feature_config_parse("delay_s=0 max_lead=4 nbr_hours=3 lags=0", &b, &err),
		     WC_OK);
	cr_assert(!b.nbr_full && !b.no_doy && b.n_pool == 0);
}

TestSuite(features_rows, .timeout = 60);

Test(features_rows, values_from_the_run_available_at_T)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	struct feature_config c;
	struct farm_inputs in;
	struct features f;
	/* 17:00 UTC on day 2: the 12 UTC run is delivered (12 + 5 = 17), not later ones */
	const int64_t T = FX_T0 + 2 * 86400 + 17 * 3600, ref = FX_T0 + 2 * 86400 + 12 * 3600;
	const int lead = 7;
	const int64_t v = T + lead * 3600;
	float *x;
	size_t run;
	int64_t y;
	int mo, d, h, mi, s;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	fx_farms(st);
	fx_fill(st, 5, INT64_MAX, 0);
	feature_config_init(&c);
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "all", &err), WC_OK, "%s",
		     err.msg);
	cr_assert_eq(c.n_regional, 1);
	cr_assert_str_eq(c.regional[0], "beta");
	c.nbr_full = true;
	c.n_pool = 2;
	strcpy(c.pool[0], "beta");
	strcpy(c.pool[1], "alpha");
	cr_assert_eq(farm_inputs_load(&in, st, "alpha", &c, T, INT64_MIN, INT64_MAX, &err), WC_OK,
		     "%s", err.msg);
	/* the query itself is bounded: nothing delivered or observed after T was read */
	for (size_t r = 0; r < in.target.nruns; r++)
		cr_assert_leq(in.target.runs[r].ref_time + c.delay_s, T);
	cr_assert_leq(in.target.obs_t0 + (int64_t)(in.target.nobs - 1) * 3600, T);
	cr_assert_eq(features_init(&f, &c, &in.target, in.rp, &err), WC_OK, "%s", err.msg);
	x = calloc((size_t)f.n, sizeof(float));
	cr_assert(features_row(&f, T, lead, x, &run));
	cr_assert_eq(in.target.runs[run].ref_time, ref);
	cr_assert_float_eq(x[name_index(&f, "lead_h")], lead, 0);
	cr_assert_float_eq(x[name_index(&f, "nwp_lead_h")], (double)(v - ref) / 3600, 1e-6);
	cr_assert_float_eq(x[name_index(&f, "ws_hub")], fx_forecast(ref, v), 1e-4);
	cr_assert_float_eq(x[name_index(&f, "ws10")], 0.75 * fx_forecast(ref, v), 1e-4);
	cr_assert_float_eq(x[name_index(&f, "shear")], log(1 / 0.75) / log(10), 1e-5);
	cr_assert_float_eq(x[name_index(&f, "ws_hub@-3")], fx_forecast(ref, v - 3 * 3600), 1e-4);
	cr_assert_float_eq(x[name_index(&f, "ws_hub@+2")], fx_forecast(ref, v + 2 * 3600), 1e-4);
	/* nbr_full: 10 m speed and shear at the neighbouring hours, same run */
	cr_assert_float_eq(x[name_index(&f, "ws10@+1")], 0.75 * fx_forecast(ref, v + 3600), 1e-4);
	cr_assert_float_eq(x[name_index(&f, "ws10@-3")], 0.75 * fx_forecast(ref, v - 3 * 3600),
			   1e-4);
	cr_assert_float_eq(x[name_index(&f, "shear@-2")], log(1 / 0.75) / log(10), 1e-5);
	/* the pool's one-hot: 1 for the row's farm */
	cr_assert_float_eq(x[name_index(&f, "pool:alpha")], 1, 0);
	cr_assert_float_eq(x[name_index(&f, "pool:beta")], 0, 0);
	/* the previous run, 12 h older, for the same valid time */
	cr_assert_float_eq(x[name_index(&f, "prev_ws_hub")], fx_forecast(ref - 43200, v), 1e-4);
	cr_assert_float_eq(x[name_index(&f, "prev2_ws_hub")], fx_forecast(ref - 86400, v), 1e-4);
	/* observed power / capacity at T and 6 h before (outage hours are NaN) */
	cr_assert_float_eq(x[name_index(&f, "obs_lag0")], fx_curve(fx_truth(T)), 1e-6);
	cr_assert_float_eq(x[name_index(&f, "obs_lag6")], fx_curve(fx_truth(T - 6 * 3600)), 1e-6);
	cr_assert_float_eq(x[name_index(&f, "beta:obs_lag0")], fx_curve(fx_truth(T)), 1e-6);
	cr_assert_float_eq(x[name_index(&f, "beta:ws_hub")], fx_forecast(ref, v), 1e-4);
	utc_to_fields(v, &y, &mo, &d, &h, &mi, &s);
	cr_assert_float_eq(x[name_index(&f, "hod_sin")], sin(2 * M_PI * (h - 0.5) / 24), 1e-6);
	cr_assert_float_eq(x[name_index(&f, "wd100_sin")] * x[name_index(&f, "wd100_sin")] +
				   x[name_index(&f, "wd100_cos")] * x[name_index(&f, "wd100_cos")],
			   1, 1e-5);
	/* --no-doy: the same row without the day of year, every other value in place */
	{
		struct feature_config c2 = c;
		struct features f2;
		float *x2;
		int k2 = 0;

		c2.no_doy = true;
		cr_assert_eq(features_init(&f2, &c2, &in.target, in.rp, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(f2.n, f.n - 2);
		x2 = calloc((size_t)f2.n, sizeof(float));
		cr_assert(features_row(&f2, T, lead, x2, NULL));
		for (int i = 0; i < f.n; i++) {
			if (!strncmp(f.names[i], "doy_", 4))
				continue;
			cr_assert_str_eq(f2.names[k2], f.names[i]);
			cr_assert(x2[k2] == x[i] || (isnan(x2[k2]) && isnan(x[i])), "%s", f.names[i]);
			k2++;
		}
		free(x2);
		features_release(&f2);
	}
	/* beyond the reach of the run available at T: not usable, all NWP NaN */
	cr_assert_not(features_row(&f, T, 48 - 5 + 1, x, &run));
	cr_assert(isnan(x[name_index(&f, "ws_hub")]));
	cr_assert_eq(run, SIZE_MAX);
	/* nothing after T: an observation lag "in the future" of T is NaN by the rule */
	cr_assert(isnan(farm_series_obs(&in.target, T + 3600, T)));
	free(x);
	features_release(&f);
	farm_inputs_release(&in);
	store_close(st);
	tu_rmrf_free(dir);
}

/*
 * Nothing after T, with data after T in memory: two stores equal up to T, in B every run
 * delivered after T and every observation after T is changed. Both farms' series are
 * loaded with everything (upto INT64_MAX, as a batch forecast of many issue times loads
 * them once), so only the rule applied at each lookup keeps later data out. Every row at T
 * (all leads, observation inputs at every lead, regional farms, neighbours, previous runs)
 * must be the same bits in A and B; at T + 12 h the change must show.
 */
Test(features_rows, nothing_after_T_with_later_data_loaded)
{
	const int64_t T = FX_T0 + 6 * 86400 + 5 * 3600;	/* the 00 UTC run is just in */
	char *dir[2] = { tu_tmpdir(), tu_tmpdir() };
	struct store *st[2];
	struct wc_error err = { 0 };
	struct feature_config c;
	struct farm_inputs in[2];
	struct features f[2];
	float *x[2];
	int later_runs = 0, differs = 0, usable = 0;

	feature_config_init(&c);
	c.nbr_full = true;
	c.obs_max_lead = 0;	/* observation inputs at every lead */
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(store_open(dir[k], &st[k], &err), WC_OK);
		fx_farms(st[k]);
		fx_fill(st[k], 10, T, k ? 0.3 : 0);
		cr_assert_eq(feature_config_set_regional(&c, st[k], "alpha", "all", &err), WC_OK);
		cr_assert_eq(farm_inputs_load(&in[k], st[k], "alpha", &c, INT64_MAX, INT64_MIN,
					      INT64_MAX, &err),
			     WC_OK, "%s", err.msg);
		cr_assert_eq(features_init(&f[k], &c, &in[k].target, in[k].rp, &err), WC_OK);
		x[k] = calloc((size_t)f[k].n, sizeof(float));
	}
	/* the later data is there to leak: runs delivered after T, observations after T */
	for (size_t r = 0; r < in[1].target.nruns; r++)
		later_runs += in[1].target.runs[r].ref_time + c.delay_s > T;
	cr_assert_geq(later_runs, 6, "runs delivered after T loaded");
	cr_assert_gt(in[1].target.obs_t0 + (int64_t)(in[1].target.nobs - 1) * 3600, T + 86400);
	cr_assert_gt(in[1].regional[0].obs_t0 + (int64_t)(in[1].regional[0].nobs - 1) * 3600,
		     T + 86400);
	cr_assert_eq(f[0].n, f[1].n);
	for (int lead = 1; lead <= c.max_lead; lead++) {
		size_t run[2];
		bool ok[2];

		for (int k = 0; k < 2; k++)
			ok[k] = features_row(&f[k], T, lead, x[k], &run[k]);
		cr_assert_eq(ok[0], ok[1]);
		cr_assert_eq(run[0], run[1]);
		for (int i = 0; i < f[0].n; i++)
			cr_assert_eq(memcmp(&x[0][i], &x[1][i], sizeof(float)), 0,
				     "lead %d: '%s' at T is %g with later data changed, %g without",
				     lead, f[0].names[i], (double)x[1][i], (double)x[0][i]);
		/* the same issue 12 h later does see the changed data (in every usable row) */
		for (int k = 0; k < 2; k++)
			ok[k] = features_row(&f[k], T + 12 * 3600, lead, x[k], NULL);
		if (ok[0] && ok[1])
			usable++, differs += memcmp(x[0], x[1], (size_t)f[0].n * sizeof(float)) != 0;
	}
	cr_assert_geq(usable, 40);
	cr_assert_eq(differs, usable, "%d of %d rows 12 h later differ", differs, usable);
	for (int k = 0; k < 2; k++) {
		free(x[k]);
		features_release(&f[k]);
		farm_inputs_release(&in[k]);
		store_close(st[k]);
		tu_rmrf_free(dir[k]);
	}
}

Test(features_rows, regional_specs)
{
	char *dir = tu_tmpdir();
	struct store *st;
	struct wc_error err = { 0 };
	struct feature_config c;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	fx_farms(st);
	feature_config_init(&c);
	/* alpha (55.0, 8.0) and beta (55.5, 8.5) are about 65 km apart */
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "50km", &err), WC_OK);
	cr_assert_eq(c.n_regional, 0);
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "80km", &err), WC_OK);
	cr_assert_eq(c.n_regional, 1);
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "none", &err), WC_OK);
	cr_assert_eq(c.n_regional, 0);
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "beta,alpha", &err), WC_OK);
	cr_assert_eq(c.n_regional, 1, "the target itself is left out");
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "gamma", &err), WC_ENOTFOUND);
	cr_assert_eq(feature_config_set_regional(&c, st, "alpha", "-5km", &err), WC_EINVAL);
	store_close(st);
	tu_rmrf_free(dir);
}
