/* value.c - settling schedules against deliveries; see value.h. */
#include "trading/value.h"

#include <math.h>
#include <string.h>

const char *value_schedule_name(enum value_schedule s)
{
	static const char *const names[] = { "alpha_quantile", "median", "mean", "nothing",
					     "perfect" };

	return (unsigned)s < VALUE_NSCHEDULES ? names[s] : "unknown";
}

double value_imbalance_cost(double c, double a, const struct period_prices *pp)
{
	return pp->psi_plus * (a > c ? a - c : 0) + pp->psi_minus * (c > a ? c - a : 0);
}

double value_revenue(double c, double a, const struct period_prices *pp)
{
	return pp->price * c + (pp->price - pp->psi_plus) * (a > c ? a - c : 0) -
	       (pp->price + pp->psi_minus) * (c > a ? c - a : 0);
}

static bool price_ok(double v)
{
	return isfinite(v) && v >= 0;
}

/* captured and uplift of each schedule from out's totals */
static void finish(struct value_result *out)
{
	double nothing = out->revenue[VALUE_NOTHING];
	double span = out->revenue[VALUE_PERFECT] - nothing;

	for (int s = 0; s < VALUE_NSCHEDULES; s++) {
		out->captured[s] = span != 0 ? (out->revenue[s] - nothing) / span : NAN;
		out->uplift_pct[s] = nothing != 0 ? 100 * (out->revenue[s] - nothing) / fabs(nothing)
						  : NAN;
	}
}

void value_add(struct value_result *sum, const struct value_result *part)
{
	sum->n += part->n;
	sum->skipped += part->skipped;
	sum->delivered_mwh += part->delivered_mwh;
	for (int s = 0; s < VALUE_NSCHEDULES; s++) {
		sum->revenue[s] += part->revenue[s];
		sum->imbalance_cost[s] += part->imbalance_cost[s];
	}
	finish(sum);
}

enum wc_status value_settle(size_t n, const double *alpha_c, const double *median,
			    const double *mean, const double *delivered,
			    const struct period_prices *prices, struct value_result *out,
			    struct wc_error *err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct period_prices *pp = &prices[i];
		double c[VALUE_NSCHEDULES], a = delivered[i];

		if (!price_ok(pp->price) || !price_ok(pp->psi_plus) || !price_ok(pp->psi_minus))
			return wc_error_set(err, WC_EINVAL,
					    "hour %zu: prices must be finite and not negative "
					    "(price %g, psi_plus %g, psi_minus %g)",
					    i + 1, pp->price, pp->psi_plus, pp->psi_minus);
		c[VALUE_ALPHA] = alpha_c[i];
		c[VALUE_MEDIAN] = median[i];
		c[VALUE_MEAN] = mean[i];
		c[VALUE_NOTHING] = 0;
		c[VALUE_PERFECT] = a;
		if (!isfinite(a) || !isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2])) {
			out->skipped++;
			continue;
		}
		out->n++;
		out->delivered_mwh += a;
		for (int s = 0; s < VALUE_NSCHEDULES; s++) {
			out->revenue[s] += value_revenue(c[s], a, pp);
			out->imbalance_cost[s] += value_imbalance_cost(c[s], a, pp);
		}
	}
	finish(out);
	return WC_OK;
}
