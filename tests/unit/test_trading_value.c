/*
 * test_trading_value.c - settling the five schedules (trading/value.h) on hours worked by
 * hand: revenues, imbalance costs, value captured and uplift, hours with a missing value
 * left out of every schedule, bad prices refused; and scripts/gefcom2012's numpy
 * settlement (value.md) against the library's on random hours.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trading/value.h"
#include "testutil.h"

TestSuite(value, .timeout = 30);

Test(value, five_schedules_by_hand)
{
	const double alpha[] = { 10, 20, 5 }, median[] = { 12, 18, 6 }, mean[] = { 11, 19, 7 };
	const double got[] = { 15, 10, NAN };
	const struct period_prices pp[] = { { 50, 10, 30 }, { 50, 10, 30 }, { 50, 10, 30 } };
	/* hour 1 (15 MW): 700, 720, 710, 600, 750; hour 2 (10 MW): 200, 260, 230, 400, 500 */
	const double want[VALUE_NSCHEDULES] = { 900, 980, 940, 1000, 1250 };
	struct value_result r;
	struct wc_error err = { 0 };

	cr_assert_eq(value_settle(3, alpha, median, mean, got, pp, &r, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(r.n, 2);
	cr_assert_eq(r.skipped, 1);
	cr_assert_float_eq(r.delivered_mwh, 25, 1e-12);
	for (int s = 0; s < VALUE_NSCHEDULES; s++) {
		cr_assert_float_eq(r.revenue[s], want[s], 1e-9, "%s: %g", value_schedule_name(s),
				   r.revenue[s]);
		/* revenue = p * delivered - imbalance cost */
		cr_assert_float_eq(r.revenue[s], 50 * 25 - r.imbalance_cost[s], 1e-9);
		cr_assert_float_eq(r.captured[s], (want[s] - 1000) / 250, 1e-12);
		cr_assert_float_eq(r.uplift_pct[s], (want[s] - 1000) / 10, 1e-9);
	}
	cr_assert_float_eq(r.imbalance_cost[VALUE_ALPHA], 10 * 5 + 30 * 10, 1e-12);
	cr_assert_float_eq(r.captured[VALUE_PERFECT], 1, 1e-15);
	cr_assert_float_eq(r.captured[VALUE_NOTHING], 0, 1e-15);
	cr_assert_str_eq(value_schedule_name(VALUE_ALPHA), "alpha_quantile");
}

Test(value, bad_prices_and_empty)
{
	const double c[] = { 1 }, a[] = { 1 };
	struct period_prices pp = { -1, 1, 1 };
	struct value_result r;
	struct wc_error err = { 0 };

	cr_assert_eq(value_settle(1, c, c, c, a, &pp, &r, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "hour 1: prices must be finite and not negative (price -1, "
				  "psi_plus 1, psi_minus 1)");
	pp = (struct period_prices){ 50, NAN, 1 };
	cr_assert_eq(value_settle(1, c, c, c, a, &pp, &r, &err), WC_EINVAL);
	cr_assert_eq(value_settle(0, c, c, c, a, &pp, &r, &err), WC_OK);
	cr_assert(r.n == 0 && isnan(r.captured[VALUE_ALPHA]) && isnan(r.uplift_pct[VALUE_MEAN]));
}

/*
 * scripts/gefcom2012 settles its schedules in numpy (settle()): the same numbers as
 * value_settle on 500 random hours (some missing) under the three price models.
 */
Test(value, gefcom_script_settles_as_the_library)
{
	static const char code[] =
		"import importlib.machinery as m, importlib.util as u, sys, numpy as np\n"
		"l = m.SourceFileLoader('g', sys.argv[1])\n"
		"s = u.spec_from_loader('g', l); g = u.module_from_spec(s); l.exec_module(g)\n"
		"v = np.genfromtxt(sys.argv[2], delimiter=',')\n"
		"for p in g.PRICE_MODELS:\n"
		"    r = g.settle(p, v[:, 0], v[:, 1], v[:, 2], v[:, 3])\n"
		"    print(r['n'], ' '.join('%.17g %.17g' % (r['revenue'][k], r['captured'][k])\n"
		"                          for k in g.SCHEDULES))\n";
	char *dir = tu_tmpdir(), path[4200], data[4200], *cmd = NULL, *out = NULL, *err = NULL;
	static double c[3][500], a[500];
	struct period_prices pp[500];
	uint64_t s = 11;
	FILE *fp;
	char *line, *save = NULL;
	int k = 0;

	snprintf(path, sizeof(path), "%s/check.py", dir);
	snprintf(data, sizeof(data), "%s/hours.csv", dir);
	fp = fopen(path, "w");
	fputs(code, fp);
	fclose(fp);
	fp = fopen(data, "w");
	for (int i = 0; i < 500; i++) {
		for (int j = 0; j < 4; j++) {
			double v;

			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			v = (double)(s >> 11) / 9007199254740992.0;
			if (j < 3)
				c[j][i] = v;
			else
				a[i] = i % 37 == 5 ? NAN : v;
		}
		if (isnan(a[i]))
			fprintf(fp, "%.17g,%.17g,%.17g,nan\n", c[0][i], c[1][i], c[2][i]);
		else
			fprintf(fp, "%.17g,%.17g,%.17g,%.17g\n", c[0][i], c[1][i], c[2][i], a[i]);
	}
	fclose(fp);
	snprintf(path, sizeof(path), "%s/check.py", dir);
	cr_assert(asprintf(&cmd, "'%s' '%s' '%s/scripts/gefcom2012' '%s'", tu_python(), path,
			   tu_src(), data) > 0);
	if (tu_run(cmd, &out, &err) != 0)
		cr_skip_test("the script cannot run here: %s", err);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
		const double models[3][3] = { { 50, 10, 30 }, { 50, 20, 20 }, { 50, 30, 10 } };
		struct value_result r;
		struct wc_error e = { 0 };
		char *p = line;
		long n = strtol(p, &p, 10);

		for (int i = 0; i < 500; i++)
			pp[i] = (struct period_prices){ models[k][0], models[k][1], models[k][2] };
		cr_assert_eq(value_settle(500, c[0], c[1], c[2], a, pp, &r, &e), WC_OK);
		cr_assert_eq((size_t)n, r.n);
		for (int sc = 0; sc < VALUE_NSCHEDULES; sc++) {
			double rev = strtod(p, &p), cap = strtod(p, &p);

			cr_assert_float_eq(rev, r.revenue[sc], 1e-6, "model %d %s: script %g, library %g",
					   k, value_schedule_name(sc), rev, r.revenue[sc]);
			cr_assert_float_eq(cap, r.captured[sc], 1e-9);
		}
	}
	cr_assert_eq(k, 3, "%s", out);
	free(cmd);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}
