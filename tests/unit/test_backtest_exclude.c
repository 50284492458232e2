/*
 * test_backtest_exclude.c - `windcast backtest --train-exclude FILE` (hours whose
 * observations no training reads, while the forecasts and the scores see them) and
 * `--adapt`, and the series function behind the first (farm_series_hide_obs).
 *
 * The reference is the protocol the GEFCom2012 script followed before the option
 * existed: flag the hours outage, `windcast train --to R`, flag them ok again, then
 * `windcast forecast --issued T`. The backtest's forecast at T must equal it, for one
 * farm with regional inputs and for a pool, and must differ from a backtest without
 * the option (so a training that ignored it would fail the test).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/engine.h"
#include "common/utc.h"
#include "forecast/nn.h"
#include "forecast/series.h"
#include "testutil.h"

static int64_t iso(const char *s)
{
	int64_t t;

	cr_assert(utc_parse(s, &t), "'%s'", s);
	return t;
}

Test(backtest_exclude, series_hides_the_hours_of_each_interval)
{
	float obs[10];
	struct farm_series s = { .obs = obs, .nobs = 10 };
	/* hours 0..9 from t0; intervals clipped at both ends, one between two hours
	 * (hides the next), one empty, one outside */
	int64_t t0 = iso("2026-01-01T01:00Z"), H = UTC_HOUR;
	const int64_t iv[][2] = { { t0 - 5 * H, t0 + H },	  /* hours 0, 1 */
				  { t0 + 3 * H + 60, t0 + 4 * H }, /* hour 4 */
				  { t0 + 6 * H + 1, t0 + 6 * H + 2 }, /* none */
				  { t0 + 8 * H, t0 + 20 * H },	  /* hours 8, 9 */
				  { t0 + 30 * H, t0 + 40 * H } };
	const int hidden[10] = { 1, 1, 0, 0, 1, 0, 0, 0, 1, 1 };

	s.obs_t0 = t0;
	for (int k = 0; k < 10; k++)
		obs[k] = (float)k / 10;
	farm_series_hide_obs(&s, iv, 5);
	for (int k = 0; k < 10; k++) {
		if (hidden[k])
			cr_assert(isnan(obs[k]), "hour %d is hidden", k);
		else
			cr_assert_float_eq(obs[k], (float)k / 10, 0, "hour %d is kept", k);
	}
	farm_series_hide_obs(&s, NULL, 0);
	s.nobs = 0;
	farm_series_hide_obs(&s, iv, 5);	/* no observations: nothing to do */
}

Test(backtest_exclude, file_is_parsed_and_checked)
{
	struct backtest_options o;
	struct wc_error err = { 0 };
	char *dir = tu_tmpdir(), *p;
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "2026-01-02T00:00Z\n", "line 1: '2026-01-02T00:00Z' is not FROM,TO" },
		{ "# c\n\n2026-01-02,tomorrow\n", "line 3: 'tomorrow' is not an ISO 8601 time" },
		{ "2026-13-02,2026-01-03\n", "line 1: '2026-13-02' is not an ISO 8601 time" },
		{ "2026-01-03T00:00Z,2026-01-02T23:00Z\n",
		  "line 1: '2026-01-02T23:00Z' is before '2026-01-03T00:00Z'" },
		{ "# nothing\n\n", "holds no interval" },
		{ "", "holds no interval" },
		/* a message shows at most 60 bytes of a line, no control byte, valid UTF-8 */
		{ "\x1b[31mred\x1b[0m\n", "line 1: '?[31mred?[0m' is not FROM,TO" },
		{ "2026-01-02,\xff\xfe\x07\n", "line 1: '\?\?\?' is not an ISO 8601 time" },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		  "line 1: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not" },
	};

	backtest_options_init(&o);
	p = tu_write_tmp(dir, "good.txt",
		      "# pseudo-test periods\n"
		      "2026-01-20T01:00Z , 2026-01-22T00:00Z   # the second\n\n"
		      "\t2026-01-10T01:00:00Z,2026-01-10T01:00:00Z\r\n"
		      "2026011001,2026011200\n");
	cr_assert_eq(backtest_set(&o, "train_exclude", p, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(o.n_train_exclude, 3);
	/* sorted by start, then end */
	cr_assert_eq(o.train_exclude[0][0], iso("2026-01-10T01:00Z"));
	cr_assert_eq(o.train_exclude[0][1], iso("2026-01-10T01:00Z"));
	cr_assert_eq(o.train_exclude[1][1], iso("2026-01-12T00:00Z"));
	cr_assert_eq(o.train_exclude[2][0], iso("2026-01-20T01:00Z"));
	cr_assert_eq(o.train_exclude[2][1], iso("2026-01-22T00:00Z"));
	cr_assert_str_eq(o.train_exclude_file, p);
	free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = tu_write_tmp(dir, "bad.txt", bad[i].text);
		cr_assert_eq(backtest_set(&o, "train_exclude", p, &err), WC_EINVAL, "'%s'",
			     bad[i].text);
		cr_assert(strstr(err.msg, bad[i].want) && strstr(err.msg, p), "%s", err.msg);
		free(p);
	}
	cr_assert_eq(backtest_set(&o, "train_exclude", "/nonexistent/x", &err), WC_EIO);
	cr_assert_eq(o.n_train_exclude, 3, "a failed read keeps the intervals read before");
	cr_assert_eq(backtest_set(&o, "adapt", "off", &err), WC_OK);
	cr_assert_eq(o.fo.adapt, FORECAST_ADAPT_OFF);
	cr_assert_eq(backtest_set(&o, "adapt", "sometimes", &err), WC_EINVAL);
	backtest_options_release(&o);
	tu_rmrf_free(dir);
}

Test(backtest_exclude, usage_errors_name_the_option, .timeout = 120)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *f;
	static const struct tu_cli_case cases[] = {
		{ "--retrain never --train-exclude '{dir}/x.txt'",
		  "--train-exclude goes with a model trained by the backtest", 2 },
		{ "--model persistence --train-exclude '{dir}/x.txt'",
		  "--train-exclude goes with a model trained by the backtest", 2 },
		{ "--train-exclude '{dir}/bad.txt'", "invalid --train-exclude: '", 2 },
		{ "--train-exclude '{dir}/none.txt'", "cannot open --train-exclude file '", 1 },
		{ "--adapt maybe", "invalid --adapt 'maybe': use model", 2 },
	};

	f = tu_write_tmp(dir, "x.txt", "2026-01-01,2026-01-02\n");
	free(f);
	f = tu_write_tmp(dir, "bad.txt", "2026-01-01;2026-01-02\n");
	free(f);
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);
	tu_cli_cases(dir, "backtest --farm f1 --from 2026-01-21 --to 2026-01-22",
		     "--out '{dir}/o'", cases, sizeof(cases) / sizeof(cases[0]));
	cr_assert_eq(tu_cli(NULL, &out, &err, "backtest --help"), 0);
	cr_assert(strstr(out, "--train-exclude F") && strstr(out, "--adapt A"), "%s", out);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

/* ---- the trainings do not read the hours; the forecasts do ------------------------- */

#define TINY "--epochs 3 --hidden 8 --ensemble 1 --leads 12 --regional all"
#define PERIOD "--from 2026-01-21T00:00Z --to 2026-02-04T12:00Z"

/* The hours hidden: hour-ending times as the demo's CSV writes them (for awk). */
#define HIDE_A0 "2026-01-10T01:00:00Z"
#define HIDE_A1 "2026-01-14T00:00:00Z"
#define HIDE_B0 "2026-01-26T13:00:00Z"
#define HIDE_B1 "2026-01-30T00:00:00Z"

/*
 * A backtest with --train-exclude at T equals serving at T on a store that holds the
 * data up to T, whose model was trained (to the same retrain time R, with the same
 * options) while those hours were flagged outage and that sees them again (their flags as they were)
 * when it forecasts; for a farm with regional inputs (model version 1) and for a pool
 * (version 2). The hidden hours lie before R; the second interval falls in the window
 * the forecast's online adaptation replays, so a backtest that hid them from the
 * forecasts as well would differ too.
 */
Test(backtest_exclude, trainings_skip_the_hours_and_forecasts_see_them, .timeout = 900)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *cmd, *csv, *a, *b, *x;
	char levels[2048], path[4300];
	const char *T = "2026-02-01T12:00:00Z", *R = "2026-01-31T00:00Z";
	struct nn_config d;
	json_t *m;
	size_t len = 0;
	int rc;

	tu_demo_store(dir);
	x = tu_write_tmp(dir, "hide.txt", "# two periods\n" HIDE_A0 "," HIDE_A1 "\n"
				       "2026-01-26T13:00Z, 2026-01-30T00:00Z\n");
	for (int pool = 0; pool < 2; pool++) {
		rc = tu_cli(NULL, &out, &err,
			    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model nn "
			    "--retrain 10d --train-args '" TINY "%s' --horizon 12 "
			    "--train-exclude '%s' --out '%s/hide%d'",
			    dir, pool ? " --pool all" : "", x, dir, pool);
		cr_assert_eq(rc, 0, "backtest: %s", err);
		free(out);
		free(err);
		rc = tu_cli(NULL, NULL, &err,
			    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model nn "
			    "--retrain 10d --train-args '" TINY "%s' --horizon 12 --out '%s/all%d'",
			    dir, pool ? " --pool all" : "", dir, pool);
		cr_assert_eq(rc, 0, "backtest: %s", err);
		free(err);
	}
	snprintf(path, sizeof(path), "%s/hide0/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "train_exclude"),
							   "file")), x);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "train_exclude"),
							"intervals")), 2);
	json_decref(m);
	snprintf(path, sizeof(path), "%s/all0/metrics.json", dir);
	m = tu_load_json(path);
	cr_assert(json_is_null(json_object_get(m, "train_exclude")));
	json_decref(m);

	/* store B: up to T; each training while the hours are flagged outage */
	cr_assert(asprintf(&cmd,
			   "flag() {\n"
			   "  for f in horns-reef jutland-1 north-sea-1; do\n"
			   "    awk -F, -v OFS=, -v fl=$1 'NR == 1 || ($1 >= \"" HIDE_A0 "\" && "
			   "$1 <= \"" HIDE_A1 "\") || ($1 >= \"" HIDE_B0 "\" && $1 <= \"" HIDE_B1
			   "\") { if (NR > 1) $3 = fl; print }' in/$f.upto.csv > in/$f.$1.csv\n"
			   "    $W --data \"$B\" obs import --farm $f in/$f.$1.csv >/dev/null\n"
			   "  done\n"
			   "}\n"
			   /* back to the flags as they were (the demo has curtailed hours in
			    * the intervals, which 'ok' would turn into valid observations) */
			   "unflag() {\n"
			   "  for f in horns-reef jutland-1 north-sea-1; do\n"
			   "    $W --data \"$B\" obs import --farm $f in/$f.upto.csv >/dev/null\n"
			   "  done\n"
			   "}\n"
			   "flag outage\n"
			   "$W --data \"$B\" train --farm horns-reef --to %s " TINY " >/dev/null\n"
			   "$W --data \"$B\" train --pool all --to %s " TINY " >/dev/null\n"
			   "unflag\n",
			   R, R) >= 0);
	tu_demo_store_upto(dir, T, cmd);
	free(cmd);
	nn_config_default(&d);
	for (int k = 0; k < d.n_quantiles; k++)
		len += (size_t)snprintf(levels + len, sizeof(levels) - len, "%s%.9g", k ? "," : "",
					d.quantiles[k]);
	for (int pool = 0; pool < 2; pool++) {
		char *c;

		rc = tu_cli(NULL, &out, &err,
			    "--data '%s/dataB' forecast --farm horns-reef --issued %s --model nn "
			    "--model-version %d --horizon 12 --format csv --units frac "
			    "--quantiles %s --no-store",
			    dir, T, pool + 1, levels);
		cr_assert_eq(rc, 0, "forecast: %s", err);
		a = tu_csv_rows(out, 4, 9, NULL, NULL, NULL);
		csv = tu_slurp("%s/hide%d/forecasts.csv", dir, pool);
		b = tu_csv_rows(csv, 2, 11, "horns-reef", T, "model");
		cr_assert(strlen(b) > 100, "no model rows at %s", T);
		cr_assert_str_eq(a, b, "%s at %s: serving\n%s\nbacktest\n%s",
				 pool ? "pool" : "farm", T, a, b);
		c = tu_slurp("%s/all%d/forecasts.csv", dir, pool);
		free(csv);
		csv = tu_csv_rows(c, 2, 11, "horns-reef", T, "model");
		cr_assert(strcmp(csv, b), "%s: hiding the hours changes the model",
			  pool ? "pool" : "farm");
		free(c);
		free(csv);
		free(a);
		free(b);
		free(out);
		free(err);
	}
	free(x);
	tu_rmrf_free(dir);
}
