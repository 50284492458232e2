/*
 * baselines.h - the forecasts that are always available (DESIGN.md 7): persistence,
 * climatology and a power curve, each with quantiles, on fractions of capacity.
 *
 * All read a struct farm_series through the availability rule at issue time T, so they
 * are as leakage-free as the model:
 *   persistence  point = the last observed power at or before T (within 24 h); quantile
 *                tau at lead h = point + the tau-quantile of the lead-h changes
 *                y(t + h) - y(t) over the 90 days before T; clipped to [0, 1]
 *   climatology  point = mean of the observations of the 365 days before T; quantiles =
 *                their empirical quantiles; the same at every lead
 *   powercurve   point = curve(hub-height speed of the NWP available at T for T + h);
 *                the curve is the farm's if given, else fitted from the 365 days before T
 *                by binning the available NWP speed at each observed hour (0.5 m/s bins);
 *                quantiles = point + the empirical quantiles of the fit's residuals
 * Empirical quantiles are R's type 7.
 */
#ifndef WC_BASELINES_H
#define WC_BASELINES_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "forecast/features.h"

enum baseline { BASELINE_PERSISTENCE, BASELINE_CLIMATOLOGY, BASELINE_POWERCURVE,
		BASELINE_COUNT };

/* "persistence", "climatology", "powercurve" */
const char *baseline_name(enum baseline b);
/* The baseline named s, or -1. */
int baseline_parse(const char *s);

#define POWER_CURVE_BIN 0.5	/* m/s */
#define POWER_CURVE_NBINS 60	/* 0 .. 30 m/s */
#define POWER_CURVE_MIN_COUNT 3	/* bins with fewer samples are interpolated */

/* A power curve as mean power / capacity per speed bin (bin i centred on (i + .5) * bin). */
struct power_curve {
	float value[POWER_CURVE_NBINS];
	int nresid;
	float resid[101];	/* residual quantiles at levels 0, 0.01, ..., 1 */
};

/*
 * Fit a curve from n pairs (speed ws m/s, power fraction y); NaN pairs are skipped.
 * Bins with fewer than POWER_CURVE_MIN_COUNT pairs are interpolated linearly between the
 * nearest well-filled bins (held flat beyond the ends). WC_ENOTFOUND when no bin is
 * well filled.
 */
enum wc_status power_curve_fit(struct power_curve *pc, const double *ws, const float *y,
			       size_t n, struct wc_error *err);
/* The curve at speed ws (linear between bin centres, clipped to [0, 1]); NaN for NaN. */
double power_curve_eval(const struct power_curve *pc, double ws);
/* Residual quantile at level tau (linear between the stored levels). */
double power_curve_resid(const struct power_curve *pc, double tau);

/*
 * Forecast baseline b at issue time T for leads 1..nlead: point (nlead) and quantiles
 * q (nlead, nq) at the increasing levels taus (nq), fractions in [0, 1], non-crossing.
 * Leads the baseline cannot serve (no NWP for the power curve) are NaN. `curve` (may be
 * NULL) is the farm's given curve for BASELINE_POWERCURVE. *run (may be NULL) gets the
 * index of the run used at lead 1 (powercurve), else SIZE_MAX. WC_ENOTFOUND (with the
 * reason) when the baseline has no inputs at all at T.
 */
enum wc_status baseline_forecast(enum baseline b, const struct farm_series *s, int64_t T,
				 int nlead, const float *taus, int nq,
				 const struct power_curve *curve, float *point, float *q,
				 size_t *run, struct wc_error *err);

#endif
