/*
 * test_backtest_trading.c - `windcast backtest` with the trading module: a portfolio's
 * backtest equals `windcast forecast --portfolio` on a store that holds only the data up
 * to the issue time, with the same models; with prices, the revenue of the five
 * schedules in metrics.json equals a recomputation by plain loops from commitments.csv
 * and the observation files; the report with prices renders in headless Chromium with
 * its revenue plot; prices from stored settings and from a file; usage errors.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utc.h"
#include "trading/value.h"
#include "testutil.h"

#define TINY "--epochs 3 --hidden 8 --ensemble 1 --leads 12"
#define PERIOD "--from 2026-01-21T00:00Z --to 2026-02-04T12:00Z"
#define NFARMS 3
#define HOURS (41 * 24)		/* the observation files' hours from DAY0 */

static const char *const farms[NFARMS] = { "horns-reef", "jutland-1", "north-sea-1" };

/* tu_demo_store's store with the portfolio dk of its three farms. */
static void demo_store(const char *dir)
{
	tu_demo_store(dir);
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' portfolio add --id dk --farms "
					      "horns-reef,jutland-1,north-sea-1", dir), 0);
}

/* Hour index of an ISO time from 2026-01-01T00:00Z. */
static long hour_of(const char *iso)
{
	int64_t t, t0;

	cr_assert(utc_parse(iso, &t), "time '%s'", iso);
	cr_assert(utc_parse("2026-01-01T00:00:00Z", &t0));
	return (long)((t - t0) / 3600);
}

/*
 * The metered power of the farms (MW) by hour-ending time, read from the observation
 * files themselves: for a farm, its power (NaN unless flagged ok); for the portfolio,
 * the sum, NaN when any farm's is.
 */
static void metered(const char *dir, int only, double *mw)
{
	for (long k = 0; k < HOURS; k++)
		mw[k] = only < 0 ? 0 : NAN;
	for (int i = 0; i < NFARMS; i++) {
		double got[HOURS];
		char *text = tu_slurp("%s/in/obs/%s.csv", dir, farms[i]), *save = NULL;
		int lineno = 0;

		if (only >= 0 && only != i) {
			free(text);
			continue;
		}
		for (long k = 0; k < HOURS; k++)
			got[k] = NAN;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *f[4];
			long k;

			if (lineno++ == 0 || tu_csv_split(line, f, 4) < 3)
				continue;
			k = hour_of(f[0]);
			if (k >= 0 && k < HOURS && !strncmp(f[2], "ok", 2))
				got[k] = strtod(f[1], NULL);
		}
		for (long k = 0; k < HOURS; k++)
			mw[k] = only < 0 ? mw[k] + got[k] : got[k];
		free(text);
	}
}

/* R = p a - psi_plus (a - c)+ - psi_minus (c - a)+, written out. */
static double revenue(double c, double a, double p, double sp, double sm)
{
	return p * a - sp * (a > c ? a - c : 0) - sm * (c > a ? c - a : 0);
}

static double jnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	cr_assert(json_is_number(v), "no number '%s'", key);
	return json_number_value(v);
}

/*
 * metrics.json's revenue of the five schedules, overall and for leads 1-6, equals the
 * sums of R over commitments.csv's periods that have a metered value (mw, by hour), and
 * value captured (R - R_nothing) / (R_perfect - R_nothing); commitments.csv's obs_mw is
 * that metered value. Returns the rows read.
 */
static size_t check_value(const char *out, const double *mw, const char *who)
{
	static const char *const keys[VALUE_NSCHEDULES] = { "alpha_quantile", "median", "mean",
							    "nothing", "perfect" };
	char *csv = tu_slurp("%s/commitments.csv", out), *save = NULL, path[4300];
	double R[VALUE_NSCHEDULES] = { 0 }, R6[VALUE_NSCHEDULES] = { 0 };
	size_t rows = 0, hours = 0, unscored = 0;
	json_t *m, *t, *all;
	int lineno = 0;

	for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[16];
		int n = tu_csv_split(line, f, 16);
		long k;
		double a, c[VALUE_NSCHEDULES], p, sp, sm;

		if (lineno++ == 0) {
			cr_assert_eq(n, 14, "commitments.csv header has %d columns", n);
			cr_assert_str_eq(f[0], who);
			cr_assert_str_eq(f[9], "committed_mw");
			cr_assert_str_eq(f[13], "obs_mw");
			continue;
		}
		cr_assert_eq(n, 14, "row %d", lineno);
		rows++;
		k = hour_of(f[3]);	/* period_end: the hour-ending time */
		cr_assert(k >= 0 && k < HOURS);
		a = mw[k];
		if (!isfinite(a)) {
			cr_assert_str_eq(f[13], "", "obs_mw '%s' at %s where none is metered", f[13],
					 f[3]);
			unscored++;
			continue;
		}
		cr_assert_float_eq(strtod(f[13], NULL), a, 1e-6 * (1 + a), "obs_mw at %s", f[3]);
		p = strtod(f[5], NULL);
		sp = strtod(f[6], NULL);
		sm = strtod(f[7], NULL);
		c[0] = strtod(f[9], NULL);
		c[1] = strtod(f[10], NULL);
		c[2] = strtod(f[11], NULL);
		c[3] = 0;	/* nothing ahead */
		c[4] = a;	/* perfect foresight */
		cr_assert_float_eq(strtod(f[8], NULL), sp / (sp + sm), 1e-9, "alpha");
		for (int s = 0; s < VALUE_NSCHEDULES; s++) {
			R[s] += revenue(c[s], a, p, sp, sm);
			if (atoi(f[4]) <= 6)
				R6[s] += revenue(c[s], a, p, sp, sm);
		}
		hours++;
	}
	free(csv);
	snprintf(path, sizeof(path), "%s/metrics.json", out);
	m = tu_load_json(path);
	t = json_object_get(m, "trading");
	all = json_object_get(t, "overall");
	cr_assert(json_is_object(all), "no trading in metrics.json");
	cr_assert_eq(jnum(all, "hours"), (double)hours);
	cr_assert_eq(jnum(all, "unscored"), (double)unscored);
	cr_assert_gt(hours, 100, "%zu hours settled", hours);
	for (int s = 0; s < VALUE_NSCHEDULES; s++) {
		const json_t *b1 = json_array_get(json_object_get(t, "by_lead_block"), 0);

		cr_assert_float_eq(jnum(json_object_get(all, "revenue"), keys[s]), R[s],
				   1e-7 * fabs(R[s]), "%s revenue %g vs %g", keys[s],
				   jnum(json_object_get(all, "revenue"), keys[s]), R[s]);
		cr_assert_float_eq(jnum(json_object_get(all, "captured"), keys[s]),
				   (R[s] - R[3]) / (R[4] - R[3]), 1e-7, "%s captured", keys[s]);
		cr_assert_eq(jnum(b1, "last_lead"), 6);
		cr_assert_float_eq(jnum(json_object_get(b1, "revenue"), keys[s]), R6[s],
				   1e-7 * fabs(R6[s]), "%s revenue of leads 1-6", keys[s]);
	}
	json_decref(m);
	return rows;
}

/* The rows of a CSV for issue time T (column ic), as numbers: the valid time (column vc,
 * as an hour index), the lead (vc + 1), then columns `from` on; with `method`, only rows
 * whose column 4 is it. */
static void rows_at(const char *csv, int ic, int vc, int from, const char *T,
		    const char *method, double v[][64], int *nv, int *n)
{
	char *copy = strdup(csv), *save = NULL;
	int lineno = 0;

	*n = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[64];
		int k = tu_csv_split(line, f, 64);

		if (lineno++ == 0 || strcmp(f[ic], T) || (method && strcmp(f[4], method)))
			continue;
		nv[*n] = 0;
		v[*n][nv[*n]++] = (double)hour_of(f[vc]);
		v[*n][nv[*n]++] = atof(f[vc + 1]);
		for (int j = from; j < k; j++)
			v[*n][nv[*n]++] = strtod(f[j], NULL);
		(*n)++;
	}
	free(copy);
}

/*
 * (a) A portfolio's backtest forecast at T equals `windcast forecast --portfolio --issued
 * T` on a store holding only the data up to T and each farm's model trained as the
 * backtest trained it (--to its retrain time, the same options). (b) With prices, the
 * revenue figures in metrics.json equal plain loops over commitments.csv and the
 * observation files, and the commitments are the forecast's alpha-quantile. (c) The
 * report with prices renders as a picture in headless Chromium and holds the revenue
 * plots.
 */
Test(backtest_trading, portfolio_equals_serving_and_value_settles, .timeout = 900)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *cmd, *csv, *fc, *html, *png;
	char path[4300];
	const char *T = "2026-02-01T12:00:00Z", *R = "2026-01-31T00:00Z";
	static double a[64][64], b[64][64], mw[HOURS];
	int na[64], nb[64], n1, n2, rc, svgs = 0;
	long colours;
	double ink;
	json_t *m;

	demo_store(dir);
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --portfolio dk " PERIOD " --model nn --retrain 10d "
		    "--train-args '" TINY "' --horizon 12 --price 50 --psi-plus 10 --psi-minus 30 "
		    "--out '%s/bt'",
		    dir, dir);
	cr_assert_eq(rc, 0, "backtest: %s", err);
	cr_assert(strstr(out, "value captured"), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/bt/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert_str_eq(json_string_value(json_object_get(m, "portfolio")), "dk");
	cr_assert_eq(json_array_size(json_object_get(m, "farms")), 3);
	cr_assert(json_object_get(json_object_get(m, "by_farm"), "dk"));
	/* two 10-day windows, each training the three farms alone */
	cr_assert_eq(json_array_size(json_object_get(m, "retrains")), 6);
	cr_assert(strstr(json_string_value(json_object_get(m, "truth")), "any farm"));
	cr_assert_gt(jnum(json_object_get(m, "truth_hours"), "complete"), 300);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "trading"),
							   "prices_from")),
			 "options");
	json_decref(m);

	/* (a) store B: data up to T only, each farm trained to R with the same options */
	cr_assert(asprintf(&cmd,
			   "for f in horns-reef jutland-1 north-sea-1; do\n"
			   "  $W --data \"$B\" train --farm $f --to %s " TINY " >/dev/null\n"
			   "done\n"
			   "$W --data \"$B\" portfolio add --id dk --farms "
			   "horns-reef,jutland-1,north-sea-1 >/dev/null\n",
			   R) >= 0);
	tu_demo_store_upto(dir, T, cmd);
	free(cmd);
	csv = tu_slurp("%s/bt/forecasts.csv", dir);
	/* the backtest's levels, as it wrote them */
	{
		char levels[2048] = "", *h = strndup(csv, strcspn(csv, "\n")), *f[64];
		int n = tu_csv_split(h, f, 64);
		size_t len = 0;

		for (int j = 12; j < n; j++)
			len += (size_t)snprintf(levels + len, sizeof(levels) - len, "%s%s",
						j > 12 ? "," : "", f[j] + 1);
		free(h);
		rc = tu_cli(NULL, &fc, &err,
			    "--data '%s/dataB' forecast --portfolio dk --issued %s --model nn "
			    "--horizon 12 --format csv --units frac --quantiles %s --no-store",
			    dir, T, levels);
		cr_assert_eq(rc, 0, "forecast --portfolio: %s", err);
		free(err);
	}
	/* forecast: issued 1, valid_time 4, lead 5, point from 9; forecasts.csv: issued 1,
	 * valid 2, lead 3, obs 10, point from 11 */
	rows_at(fc, 1, 4, 9, T, NULL, a, na, &n1);
	rows_at(csv, 1, 2, 11, T, "model", b, nb, &n2);
	cr_assert_eq(n1, 12, "%d rows of the served forecast", n1);
	cr_assert_eq(n2, 12, "%d rows of the backtest's at %s", n2, T);
	for (int i = 0; i < 12; i++) {
		cr_assert_eq(na[i], nb[i], "lead %d: %d vs %d values", i + 1, na[i], nb[i]);
		for (int j = 0; j < na[i]; j++)
			/* %.6g on both sides: one unit of the sixth digit at most */
			cr_assert_float_eq(a[i][j], b[i][j], 1.5e-6,
					   "lead %d value %d: served %.9g, backtest %.9g", i + 1, j,
					   a[i][j], b[i][j]);
	}
	free(fc);

	/* (b) the value, recomputed; the commitments are the forecast's 0.25-quantile
	 * (alpha = 10 / 40) in MW of the 670 MW */
	metered(dir, -1, mw);
	snprintf(path, sizeof(path), "%s/bt", dir);
	check_value(path, mw, "portfolio");
	{
		char *cc = tu_slurp("%s/bt/commitments.csv", dir), *save = NULL;
		/* rows_at's values: valid, lead, point, q0.01, q0.05, q0.1, q0.15, q0.2, q0.25 */
		int lineno = 0, checked = 0, q25 = 8;

		rows_at(csv, 1, 2, 11, T, "model", b, nb, &n2);
		for (char *line = strtok_r(cc, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *f[16];

			if (lineno++ == 0 || tu_csv_split(line, f, 16) < 14 || strcmp(f[1], T))
				continue;
			cr_assert_float_eq(strtod(f[9], NULL), 670 * b[atoi(f[4]) - 1][q25],
					   670 * 2e-6, "lead %s: committed %s", f[4], f[9]);
			checked++;
		}
		cr_assert_eq(checked, 12);
		free(cc);
	}
	free(csv);

	/* (c) the report: the value section and its plots, rendered */
	html = tu_slurp("%s/bt/report.html", dir);
	for (const char *p = html; (p = strstr(p, "<svg")); p++)
		svgs++;
	cr_assert_geq(svgs, 6, "%d inline SVG plots", svgs);
	cr_assert(strstr(html, "Value of the commitments") &&
		  strstr(html, "aria-label=\"revenue, millions\"") &&
		  strstr(html, "Cumulative revenue of each schedule") &&
		  strstr(html, "perfect foresight") && strstr(html, "portfolio dk"),
		  "no value section or revenue plot in the report");
	cr_assert(!strstr(html, "<script") && !strstr(html, "src="));
	free(html);
	snprintf(path, sizeof(path), "%s/bt/report.html", dir);
	png = tu_screenshot(dir, path, 3600);	/* down to the value section */
	tu_png_ink(png, &colours, &ink);
	cr_log_info("report with prices: %ld colours, %.0f %% ink", colours, 100 * ink);
	cr_assert_geq(colours, 100, "%ld colours: a blank or flat page?", colours);
	cr_assert_geq(ink, 0.10, "%.1f %% ink: a blank page?", 100 * ink);
	if (getenv("WINDCAST_KEEP_SHOT"))	/* to look at it */
		rename(png, getenv("WINDCAST_KEEP_SHOT"));
	free(png);
	tu_rmrf_free(dir);
}

/*
 * Prices from the farm's stored settings when no price option is given; from a prices
 * file hour by hour (recomputed with each hour's prices); none at all: no value, no
 * commitments.csv (an earlier run's removed); a file that does not cover the run: exit 2
 * naming --prices.
 */
Test(backtest_trading, stored_settings_and_prices_file, .timeout = 600)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *file, path[4300];
	static double mw[HOURS];
	FILE *fp;
	json_t *m;
	int rc;

	demo_store(dir);
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm market horns-reef "
					      "--price 40 --psi-plus 20 --psi-minus 5",
			    dir), 0);
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model persistence "
		    "--horizon 24 --out '%s/s'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/s/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "trading"),
							   "prices_from")),
			 "stored settings");
	json_decref(m);
	metered(dir, 0, mw);
	snprintf(path, sizeof(path), "%s/s", dir);
	check_value(path, mw, "farm");

	/* an option overrides one stored setting; the others stay */
	rc = tu_cli(NULL, NULL, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model persistence "
		    "--horizon 24 --psi-minus 35 --out '%s/o'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	file = tu_slurp("%s/o/commitments.csv", dir);
	cr_assert(strstr(file, ",40,20,35,0.3636363636,"), "%.300s", file);
	free(file);

	/* hour-by-hour prices: a daily cycle over the run */
	snprintf(path, sizeof(path), "%s/prices.csv", dir);
	cr_assert((fp = fopen(path, "w")));
	fprintf(fp, "period_start,price,psi_plus,psi_minus\n");
	for (int h = 0; h < 17 * 24; h++)
		fprintf(fp, "2026-%02d-%02dT%02d:00:00Z,%d,%d,%d\n", 21 + h / 24 > 31 ? 2 : 1,
			21 + h / 24 > 31 ? h / 24 - 10 : 21 + h / 24, h % 24, 30 + h % 24,
			5 + h % 7, 40 - h % 11);
	fclose(fp);
	rc = tu_cli(NULL, NULL, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model persistence "
		    "--horizon 24 --prices '%s' --out '%s/f'",
		    dir, path, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	file = tu_slurp("%s/f/commitments.csv", dir);
	/* the period from 01-21T05:00 (lead 6): price 35, psi_plus 10, psi_minus 35 */
	cr_assert(strstr(file, ",2026-01-21T05:00:00Z,2026-01-21T06:00:00Z,6,35,10,35,"),
		  "%.400s", file);
	free(file);
	snprintf(path, sizeof(path), "%s/f", dir);
	check_value(path, mw, "farm");
	snprintf(path, sizeof(path), "%s/f/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "trading"),
							   "prices_from")),
			 "file");
	json_decref(m);

	/* a file that stops before the last forecast hour */
	rc = tu_cli(NULL, NULL, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model persistence "
		    "--horizon 24 --prices '%s/prices.csv' --to 2026-02-07T00:00Z --out '%s/x'",
		    dir, dir, dir);
	cr_assert_eq(rc, 2, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "--prices") && strstr(err, "prices.csv"), "%s", err);
	free(err);

	/* no prices at all: no value, and the directory's old commitments.csv goes */
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm market horns-reef --clear",
			    dir), 0);
	rc = tu_cli(NULL, NULL, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model persistence "
		    "--horizon 24 --out '%s/f'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	snprintf(path, sizeof(path), "%s/f/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert(json_is_null(json_object_get(m, "trading")));
	json_decref(m);
	snprintf(path, sizeof(path), "%s/f/commitments.csv", dir);
	cr_assert_neq(access(path, F_OK), 0, "a stale commitments.csv is left");
	tu_rmrf_free(dir);
}

/* (d) Usage errors: an unknown portfolio (exit 1, named), a prices file with price
 * options (2), a bad penalty (2, naming the option and its range). */
Test(backtest_trading, usage_errors, .timeout = 120)
{
	char *dir = tu_tmpdir(), *err = NULL, path[4300];
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/p.csv", dir);
	cr_assert((fp = fopen(path, "w")));
	fputs("period_start,price,psi_plus,psi_minus\n2026-01-21T00:00:00Z,50,10,30\n", fp);
	fclose(fp);
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);

	rc = tu_cli(NULL, NULL, &err, "--data '%s/data' backtest --portfolio nope " PERIOD
				      " --out '%s/o'", dir, dir);
	cr_assert_eq(rc, 1, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "portfolio 'nope'"), "%s", err);
	free(err);

	rc = tu_cli(NULL, NULL, &err, "--data '%s/data' backtest --farm f1 " PERIOD
				      " --prices '%s' --price 50 --out '%s/o'", dir, path, dir);
	cr_assert_eq(rc, 2, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "use one of --prices FILE and --price"), "%s", err);
	free(err);

	rc = tu_cli(NULL, NULL, &err, "--data '%s/data' backtest --farm f1 " PERIOD
				      " --psi-plus -3 --out '%s/o'", dir, dir);
	cr_assert_eq(rc, 2, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "--psi-plus '-3'") && strstr(err, "0..100000"), "%s", err);
	free(err);

	rc = tu_cli(NULL, NULL, &err, "--data '%s/data' backtest --farm f1 " PERIOD
				      " --psi-minus nan --out '%s/o'", dir, dir);
	cr_assert_eq(rc, 2, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "--psi-minus 'nan'") && strstr(err, "0..100000"), "%s", err);
	free(err);

	/* a malformed prices file: its line */
	cr_assert((fp = fopen(path, "w")));
	fputs("period_start,price,psi_plus,psi_minus\n2026-01-21T00:00:00Z,50,10,30\n"
	      "2026-01-21T00:00:00Z,50,10,30\n", fp);
	fclose(fp);
	rc = tu_cli(NULL, NULL, &err, "--data '%s/data' backtest --farm f1 " PERIOD
				      " --prices '%s' --out '%s/o'", dir, path, dir);
	cr_assert_eq(rc, 2, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "invalid --prices") && strstr(err, "line 3"), "%s", err);
	free(err);
	tu_rmrf_free(dir);
}

/* value_add (the backtest's way of totalling settlements) equals value_settle over all
 * the hours at once. */
Test(backtest_trading, value_add_equals_one_settlement)
{
	enum { N = 50 };
	double c[N], med[N], mean[N], a[N];
	struct period_prices pp[N];
	struct value_result all, sum, part;
	struct wc_error e = { 0 };

	for (int i = 0; i < N; i++) {
		a[i] = i % 7 == 3 ? NAN : 10 + 9 * sin(i);
		c[i] = 10 + 8 * sin(i + 0.4);
		med[i] = 10 + 8 * sin(i + 0.9);
		mean[i] = 11 + 7 * cos(i);
		pp[i] = (struct period_prices){ 40 + i % 5, 5 + i % 3, 20 + i % 4 };
	}
	cr_assert_eq(value_settle(N, c, med, mean, a, pp, &all, &e), WC_OK);
	memset(&sum, 0, sizeof(sum));
	for (int i = 0; i < N; i += 7) {
		int n = i + 7 <= N ? 7 : N - i;

		cr_assert_eq(value_settle((size_t)n, c + i, med + i, mean + i, a + i, pp + i, &part,
					  &e), WC_OK);
		value_add(&sum, &part);
	}
	cr_assert_eq(sum.n, all.n);
	cr_assert_eq(sum.skipped, all.skipped);
	cr_assert_gt(all.skipped, 0);
	for (int s = 0; s < VALUE_NSCHEDULES; s++) {
		cr_assert_float_eq(sum.revenue[s], all.revenue[s], 1e-9 * fabs(all.revenue[s]));
		cr_assert_float_eq(sum.imbalance_cost[s], all.imbalance_cost[s], 1e-9);
		cr_assert_float_eq(sum.captured[s], all.captured[s], 1e-12);
		cr_assert_float_eq(sum.uplift_pct[s], all.uplift_pct[s], 1e-9);
	}
}
