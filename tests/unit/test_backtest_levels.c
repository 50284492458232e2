/*
 * test_backtest_levels.c - `windcast backtest --quantiles`: the levels a backtest scores
 * and writes (the GEFCom2014 script's 99 levels, where the model trains 50), and the
 * options that must keep their values whatever their order.
 *
 * The references are independent of the engine: linear interpolation of the default
 * run's own columns (the model's levels, and the baselines'), and the pinball loss of
 * forecasts.csv's rows summed by a plain loop.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/engine.h"
#include "testutil.h"

Test(backtest_levels, options_parse_and_hint)
{
	struct backtest_options o;
	struct wc_error err = { 0 };
	static const char *const bad[] = { "", "0", "1", "0.5,0.5", "abc", "0.9:0.1:0.1",
					   "0.001:0.999:0.001", "-0.1,0.5" };

	backtest_options_init(&o);
	cr_assert_eq(o.n_levels, 0, "the model's levels unless asked");
	cr_assert_eq(backtest_set(&o, "quantiles", "0.01:0.99:0.01", &err), WC_OK, "%s", err.msg);
	cr_assert_eq(o.n_levels, 99);
	cr_assert_float_eq(o.levels[0], 0.01f, 1e-7);
	cr_assert_float_eq(o.levels[49], 0.50f, 1e-7);
	cr_assert_float_eq(o.levels[98], 0.99f, 1e-7);
	cr_assert_str_eq(o.levels_text, "0.01:0.99:0.01");
	cr_assert_eq(backtest_set(&o, "quantiles", "0.9,0.1,0.5", &err), WC_OK);
	cr_assert(o.n_levels == 3 && o.levels[0] == 0.1f && o.levels[2] == 0.9f, "sorted");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(backtest_set(&o, "quantiles", bad[i], &err), WC_EINVAL, "'%s'",
			     bad[i]);
		cr_assert(strstr(err.msg, "use at most 128 distinct levels in (0, 1)"), "%s",
			  err.msg);
	}
	cr_assert_eq(o.n_levels, 3, "a refused list keeps the one before");
	backtest_options_release(&o);
}

/* --retrain monthly after --warm-epochs / --warm-patience keeps them (it reset them). */
Test(backtest_levels, retrain_keeps_the_warm_options)
{
	struct backtest_options o;
	struct wc_error err = { 0 };

	backtest_options_init(&o);
	cr_assert_eq(backtest_set(&o, "warm_epochs", "5", &err), WC_OK);
	cr_assert_eq(backtest_set(&o, "warm_patience", "4", &err), WC_OK);
	cr_assert_eq(backtest_set(&o, "retrain", "monthly", &err), WC_OK);
	cr_assert_eq(o.warm_epochs, 5);
	cr_assert_eq(o.warm_patience, 4);
	cr_assert_eq(backtest_set(&o, "retrain", "30d", &err), WC_OK);
	cr_assert_eq(o.warm_epochs, 5);
	backtest_options_release(&o);
}

/* ---- through the binary ------------------------------------------------------------- */

#define TINY "--epochs 3 --hidden 8 --ensemble 1 --leads 12"
#define RUN "backtest --farm horns-reef --from 2026-01-28T00:00Z --to 2026-02-03T12:00Z " \
	    "--model nn --retrain 10d --horizon 12 --train-args '" TINY "'"
#define MAXCOL 128

/* The column named `name` of a header line, or -1. */
static int column(const char *header, const char *name)
{
	char *copy = strdup(header), *f[MAXCOL];
	int n = tu_csv_split(copy, f, MAXCOL), k = 0;

	while (k < n && strcmp(f[k], name))
		k++;
	free(copy);
	return k < n ? k : -1;
}

/* Rows of forecasts.csv by key "farm,issued,valid_time,method": a small table. */
struct rows {
	char *header;
	char **line;		/* the lines after the header, as written */
	size_t n;
};

static void rows_load(struct rows *r, const char *dir, const char *out)
{
	char *csv = tu_slurp("%s/%s/forecasts.csv", dir, out), *save = NULL, *l;

	memset(r, 0, sizeof(*r));
	r->header = strdup(strtok_r(csv, "\n", &save));
	while ((l = strtok_r(NULL, "\n", &save))) {
		r->line = realloc(r->line, (r->n + 1) * sizeof(*r->line));
		r->line[r->n++] = strdup(l);
	}
	free(csv);
}

static void rows_release(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->line[i]);
	free(r->line);
	free(r->header);
}

/* The value of column `name` in the row of r matching `key` (its first 5 fields). */
static double value_at(const struct rows *r, const char *key, const char *name)
{
	int c = column(r->header, name);

	cr_assert_geq(c, 0, "no column '%s'", name);
	for (size_t i = 0; i < r->n; i++) {
		char *copy = strdup(r->line[i]), *f[MAXCOL], k[256];
		double v;

		tu_csv_split(copy, f, MAXCOL);
		snprintf(k, sizeof(k), "%s,%s,%s,%s,%s", f[0], f[1], f[2], f[3], f[4]);
		if (strcmp(k, key)) {
			free(copy);
			continue;
		}
		v = *f[c] ? strtod(f[c], NULL) : NAN;
		free(copy);
		return v;
	}
	cr_assert_fail("no row '%s'", key);
	return NAN;
}

/*
 * --quantiles 0.01:0.99:0.01: forecasts.csv has the 99 columns, metrics.json lists the 99
 * levels (and the option); each forecast's quantile at a level between its own is the
 * straight line between the default run's neighbouring columns (the model's levels 0.05
 * and 0.1 for 0.07; the climatology's 0.01 and 0.05 for 0.02); at its own levels the
 * same text; and the pinball of metrics.json is the CSV's, summed by a plain loop.
 */
Test(backtest_levels, scores_and_writes_the_levels_asked_for, .timeout = 900)
{
	char *dir = tu_tmpdir(), *err = NULL, path[4300];
	struct rows def, all;
	json_t *m, *lv;
	double sum = 0;
	size_t n = 0;
	int c01, cobs;

	tu_demo_store(dir);
	cr_assert_eq(tu_cli(NULL, NULL, &err, "--data '%s/data' -q " RUN " --out '%s/def'", dir,
			    dir), 0, "%s", err);
	free(err);
	cr_assert_eq(tu_cli(NULL, NULL, &err, "--data '%s/data' -q " RUN " --quantiles "
					      "0.01:0.99:0.01 --out '%s/all'", dir, dir), 0,
		     "%s", err);
	free(err);
	rows_load(&def, dir, "def");
	rows_load(&all, dir, "all");
	cr_assert_eq(def.n, all.n, "the same forecasts, other columns");
	cr_assert_eq(column(def.header, "q0.07"), -1);
	c01 = column(all.header, "q0.01");
	cr_assert_eq(c01, 12);
	cr_assert_eq(column(all.header, "q0.99"), c01 + 98);
	cr_assert_eq(column(all.header, "q0.5"), c01 + 49);

	/* interpolation against the default run's columns, at every issue time and lead */
	for (size_t i = 0; i < def.n; i += 7) {
		char *copy = strdup(def.line[i]), *f[MAXCOL], key[256];
		bool clim;

		tu_csv_split(copy, f, MAXCOL);
		snprintf(key, sizeof(key), "%s,%s,%s,%s,%s", f[0], f[1], f[2], f[3], f[4]);
		clim = !strcmp(f[4], "climatology");
		if (clim || !strcmp(f[4], "model")) {
			double a = value_at(&def, key, clim ? "q0.01" : "q0.05");
			double b = value_at(&def, key, clim ? "q0.05" : "q0.1");
			double x = value_at(&all, key, clim ? "q0.02" : "q0.07");
			double w = clim ? 0.25 : 0.4;	/* (.02-.01)/.04, (.07-.05)/.05 */

			cr_assert_float_eq(x, a + w * (b - a), 2e-6 + 1e-5 * fabs(x), "%s: %g "
				   "between %g and %g", key, x, a, b);
			cr_assert_float_eq(value_at(&all, key, "q0.05"),
					   value_at(&def, key, "q0.05"), 0, "%s", key);
		}
		free(copy);
	}

	/* pinball by a plain loop over the model's rows with truth */
	cobs = column(all.header, "obs");
	for (size_t i = 0; i < all.n; i++) {
		char *copy = strdup(all.line[i]), *f[MAXCOL];
		int nf = tu_csv_split(copy, f, MAXCOL);

		cr_assert_eq(nf, c01 + 99);
		if (!strcmp(f[4], "model") && *f[cobs]) {
			double y = strtod(f[cobs], NULL), s = 0;

			for (int k = 0; k < 99; k++) {
				double tau = (k + 1) / 100.0, d = y - strtod(f[c01 + k], NULL);

				s += d >= 0 ? tau * d : (tau - 1) * d;
			}
			sum += s / 99;
			n++;
		}
		free(copy);
	}
	snprintf(path, sizeof(path), "%s/all/metrics.json", dir);
	m = tu_load_json(path);
	lv = json_object_get(m, "levels");
	cr_assert_eq(json_array_size(lv), 99);
	cr_assert_float_eq(json_number_value(json_array_get(lv, 6)), 0.07, 1e-12);
	cr_assert_str_eq(json_string_value(json_object_get(m, "quantiles")), "0.01:0.99:0.01");
	cr_assert_gt(n, 100);
	{
		const json_t *o = json_object_get(json_object_get(m, "overall"), "model");

		cr_assert_eq(json_integer_value(json_object_get(o, "n")), (json_int_t)n);
		cr_assert_float_eq(json_number_value(json_object_get(o, "pinball")), 100 * sum / n,
				   1e-4, "pinball %g vs the CSV's %g",
				   json_number_value(json_object_get(o, "pinball")), 100 * sum / n);
		cr_assert_eq(json_object_size(json_object_get(o, "coverage")), 99);
	}
	json_decref(m);
	snprintf(path, sizeof(path), "%s/def/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert(json_is_null(json_object_get(m, "quantiles")));
	cr_assert_eq(json_array_size(json_object_get(m, "levels")), 21, "the model's levels");
	json_decref(m);
	rows_release(&def);
	rows_release(&all);
	tu_rmrf_free(dir);
}

Test(backtest_levels, bad_levels_name_the_option, .timeout = 120)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL;

	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);
	cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s/data' backtest --farm f1 --from "
					      "2026-01-21 --to 2026-01-22 --quantiles 0.5,0.5 "
					      "--out o", dir), 2);
	cr_assert(strstr(err, "invalid --quantiles '0.5,0.5': use at most 128 distinct levels"),
		  "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(NULL, &out, &err, "backtest --help"), 0);
	cr_assert(strstr(out, "--quantiles LIST"), "%s", out);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}
