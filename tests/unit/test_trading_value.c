/*
 * test_trading_value.c - settling the five schedules (trading/value.h) on hours worked by
 * hand: revenues, imbalance costs, value captured and uplift, hours with a missing value
 * left out of every schedule, bad prices refused. (scripts/gefcom2012's value.md reads
 * `windcast backtest`'s settlement; it no longer settles in numpy.)
 */
#include <criterion/criterion.h>
#include <math.h>

#include "trading/value.h"

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
