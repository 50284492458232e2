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
 *                the curve is the farm's if given (struct farm's power_curve: linear
 *                between its points, 0 below the first speed, the last point's power
 *                beyond the last), else fitted from the 365 days before T by binning,
 *                in 0.5 m/s bins, each observed hour's speed in the freshest NWP
 *                delivered by T that holds it (the newest forecast run available at T
 *                with a row of that hour, however old; else the newest analysis): every
 *                hour of the year, not only those farm_series_nwp's bounded walk
 *                reaches (that lookup serves the leads); quantiles = point + the
 *                empirical quantiles of the curve's residuals over those pairs (a given
 *                curve with fewer than POWER_CURVE_MIN_RESID pairs: no spread, every
 *                quantile is the point)
 * Empirical quantiles are R's type 7.
 */
#ifndef WC_BASELINES_H
#define WC_BASELINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "forecast/series.h"

enum baseline { BASELINE_PERSISTENCE, BASELINE_CLIMATOLOGY, BASELINE_POWERCURVE,
		BASELINE_COUNT };

/* "persistence", "climatology", "powercurve" */
const char *baseline_name(enum baseline b);
/* The baseline named s, or -1. */
int baseline_parse(const char *s);

#define POWER_CURVE_BIN 0.5	/* m/s */
#define POWER_CURVE_NBINS 60	/* 0 .. 30 m/s */
#define POWER_CURVE_MIN_COUNT 3	/* bins with fewer samples are interpolated */
#define POWER_CURVE_MIN_RESID 24	/* pairs a given curve needs for residual quantiles */

/*
 * A power curve: a given one (given.n > 0, a farm's points) or one fitted as mean
 * power / capacity per speed bin (bin i centred on (i + .5) * bin), with the quantiles of
 * its residuals when known.
 */
struct power_curve {
	struct farm_curve given;	/* n > 0: evaluated instead of value[] */
	float value[POWER_CURVE_NBINS];
	int nresid;		/* 101 when resid[] is set, else 0 (no spread) */
	float resid[101];	/* residual quantiles at levels 0, 0.01, ..., 1 */
};

/*
 * Fit a curve from n pairs (speed ws m/s, power fraction y); NaN pairs are skipped.
 * Bins with fewer than POWER_CURVE_MIN_COUNT pairs are interpolated linearly between the
 * nearest well-filled bins (held flat beyond the ends). WC_ENODATA when no bin is
 * well filled.
 */
enum wc_status power_curve_fit(struct power_curve *pc, const double *ws, const float *y,
			       size_t n, struct wc_error *err);
/*
 * The given curve c (valid, n >= 2) as a power curve without residuals; add them with
 * power_curve_set_resid.
 */
void power_curve_from_farm(struct power_curve *pc, const struct farm_curve *c);
/*
 * Set the residual quantiles of pc from n pairs (ws, y) (NaN pairs skipped); with no
 * usable pair, nresid = 0 (no spread). WC_ENOMEM only.
 */
enum wc_status power_curve_set_resid(struct power_curve *pc, const double *ws,
				     const float *y, size_t n, struct wc_error *err);
/*
 * The curve at speed ws, clipped to [0, 1]; NaN for NaN. Fitted: linear between bin
 * centres, flat beyond the ends. Given: linear between the points, 0 below the first
 * speed, the last point's power beyond the last (a curve ending at cut-out with power 0
 * stays 0).
 */
double power_curve_eval(const struct power_curve *pc, double ws);
/* Residual quantile at level tau (linear between the stored levels). */
double power_curve_resid(const struct power_curve *pc, double tau);

/* What a baseline forecast used, for the response. */
struct baseline_info {
	size_t run;		/* index of the run used at lead 1 (powercurve), else SIZE_MAX */
	bool curve_given;	/* powercurve: the farm's curve, not one fitted from history */
	size_t curve_pairs;	/* powercurve: pairs (NWP speed, observed power) of the year
				 * before T behind the fit, or the given curve's residuals */
};

/*
 * Forecast baseline b at issue time T for leads 1..nlead: point (nlead) and quantiles
 * q (nlead, nq) at the increasing levels taus (nq), fractions in [0, 1], non-crossing.
 * Leads the baseline cannot serve (no NWP for the power curve) are NaN. `curve` (may be
 * NULL, or empty) is the farm's given curve for BASELINE_POWERCURVE; without one the
 * curve is fitted from history. *info (may be NULL) says what was used. WC_ENODATA
 * (with the reason) when the baseline has no inputs at all at T.
 */
enum wc_status baseline_forecast(enum baseline b, const struct farm_series *s, int64_t T,
				 int nlead, const float *taus, int nq,
				 const struct farm_curve *curve, float *point, float *q,
				 struct baseline_info *info, struct wc_error *err);

#endif
