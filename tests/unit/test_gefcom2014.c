/*
 * test_gefcom2014.c - scripts/gefcom2014 end to end on a small synthetic track: two
 * zones, July to October 2012 with power, task 1 (October) made by `windcast backtest`
 * with a tiny network. The competition file is checked against its layout and against
 * the backtest's own forecasts.csv, and the pinball in scores.md against a plain loop
 * over the file and the truth the test wrote; --hide-months keeps the months before the
 * task out of its training.
 *
 * The script runs under /usr/bin/python3 (or $PYTHON) and needs numpy and netCDF4; the
 * test skips with a message when they are missing.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define NZONE 2
#define T0 1341100800		/* 2012-07-01T00:00Z */
#define OCT 1349049600		/* 2012-10-01T00:00Z */
#define NHOUR 2952		/* 2012-07-01 01:00 .. 2012-11-01 00:00, hour-ending */
#define OCT_HOURS 744

/* The truth the test writes: NaN for NA (every 97th hour of zone 2). */
static double truth[NZONE][NHOUR];

static void skip_without_modules(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "'%s' -c 'import netCDF4, numpy'", tu_python());
	if (tu_run(cmd, NULL, NULL) != 0)
		cr_skip_test("%s lacks the netCDF4/numpy modules scripts/gefcom2014 needs "
			     "(install python3-netcdf4 python3-numpy)", tu_python());
}

/* "20121001 1:00": the competition's hour-ending TIMESTAMP of time t. */
static void stamp(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm g;

	gmtime_r(&tt, &g);
	snprintf(buf, len, "%04d%02d%02d %d:00", g.tm_year + 1900, g.tm_mon + 1, g.tm_mday,
		 g.tm_hour);
}

/* Zone z's winds: a few days' cycle and a slower one; power a cubic curve of the 100 m
 * speed with a deterministic wobble. */
static void write_track(const char *dir)
{
	for (int z = 0; z < NZONE; z++) {
		char path[1024], ts[32];
		FILE *f;

		snprintf(path, sizeof(path), "%s/Zone%d_2012.csv", dir, z + 1);
		f = fopen(path, "w");
		cr_assert(f, "cannot write '%s'", path);
		fputs("TIMESTAMP,TARGETVAR,U10,V10,U100,V100\n", f);
		for (int i = 0; i < NHOUR; i++) {
			double x = i + 1.0, u = 7 * sin(x / 14.0 + z) + 2 * sin(x / 61.0);
			double v = 4 * cos(x / 23.0 - z), s = hypot(u, v);
			double p = fmin(1, fmax(0, pow((s - 2.5) / 8.0, 3) * (s > 2.5) +
						 0.03 * sin(x * 1.7 + z)));

			truth[z][i] = z == 1 && i % 97 == 0 ? NAN : round(p * 1e6) / 1e6;
			stamp(T0 + (int64_t)(i + 1) * 3600, ts, sizeof(ts));
			if (isnan(truth[z][i]))
				fprintf(f, "%s,NA", ts);
			else
				fprintf(f, "%s,%.6f", ts, truth[z][i]);
			fprintf(f, ",%.4f,%.4f,%.4f,%.4f\n", 0.7 * u, 0.7 * v, u, v);
		}
		fclose(f);
	}
}

/* The backtest's model quantiles of October, [zone][hour][level], from forecasts.csv. */
static double (*backtest_model(const char *out))[OCT_HOURS][99]
{
	double(*q)[OCT_HOURS][99] = calloc(NZONE, sizeof(*q));
	char *csv = tu_slurp("%s/backtest/task1/forecasts.csv", out), *save = NULL, *l;
	size_t rows = 0;

	cr_assert(q);
	l = strtok_r(csv, "\n", &save);
	cr_assert(strstr(l, ",obs,point,q0.01,q0.02,") && strstr(l, ",q0.99"), "%s", l);
	while ((l = strtok_r(NULL, "\n", &save))) {
		char *f[128];
		int n = tu_csv_split(l, f, 128), z, h;

		if (strcmp(f[4], "model"))
			continue;
		cr_assert_eq(n, 12 + 99);
		cr_assert(sscanf(f[0], "zone%d", &z) == 1 && z >= 1 && z <= NZONE, "%s", f[0]);
		h = atoi(f[3]) - 1;	/* lead: the hour of October */
		cr_assert(h >= 0 && h < OCT_HOURS);
		cr_assert_str_eq(f[1], "2012-10-01T00:00:00Z");
		for (int k = 0; k < 99; k++)
			q[z - 1][h][k] = strtod(f[12 + k], NULL);
		rows++;
	}
	cr_assert_eq(rows, NZONE * OCT_HOURS, "every zone and hour of October");
	free(csv);
	return q;
}

/* The cells of scores.md's row for task 1: task, month, windcast, climatology,
 * powercurve, hours x zones. */
static void scores_row(const char *out, char cell[8][32])
{
	char *md = tu_slurp("%s/scores.md", out), *p = strstr(md, "\n| 1 | 2012-10 | ");
	int n = 0;

	cr_assert(p, "%s", md);
	p += 2;
	while (n < 8 && *p && *p != '\n') {
		size_t len = strcspn(p, "|\n");
		char *c = cell[n++];

		snprintf(c, 32, "%.*s", (int)len, p);
		/* trim */
		while (*c == ' ')
			memmove(c, c + 1, strlen(c));
		for (size_t e = strlen(c); e && c[e - 1] == ' ';)
			c[--e] = '\0';
		p += len;
		if (*p == '|')
			p++;
	}
	cr_assert_geq(n, 6, "%s", md);
	free(md);
}

/* The script on a fresh synthetic track for task 1, one member of a tiny network, with
 * the options extra; *in and *out are the track's and the output's directories. */
static void task1(char **in, char **out, const char *extra, char **so, char **se)
{
	char *cmd;

	skip_without_modules();
	*in = tu_tmpdir();
	*out = tu_tmpdir();
	write_track(*in);
	cr_assert(asprintf(&cmd, "'%s' '%s/scripts/gefcom2014' --windcast '%s' --tasks 1 %s "
				 "--ensemble 1 --train-args '--epochs 2 --hidden 8,8' '%s' '%s'",
			   tu_python(), tu_src(), tu_bin(), extra, *in, *out) >= 0);
	cr_assert_eq(tu_run(cmd, so, se), 0, "%s%s", *so, *se);
	free(cmd);
}

Test(gefcom2014, a_task_through_backtest, .timeout = 900)
{
	char *in, *out, *so = NULL, *se = NULL, *task, *save = NULL, *l, *html;
	char path[1100];
	char cell[8][32], ts[32], want[32];
	double(*q)[OCT_HOURS][99], sum = 0, pb;
	size_t pairs = 0, lines = 0;
	regex_t num;
	json_t *m;

	task1(&in, &out, "", &so, &se);
	cr_assert(strstr(so, "task 1 (2012-10): pinball "), "%s", so);

	/* the competition's layout, and the backtest's quantiles to 5 decimals */
	q = backtest_model(out);
	cr_assert_eq(regcomp(&num, "^[01]\\.[0-9]{5}$", REG_EXTENDED | REG_NOSUB), 0);
	task = tu_slurp("%s/task1.csv", out);
	l = strtok_r(task, "\n", &save);
	cr_assert_eq(strncmp(l, "ZONEID,TIMESTAMP,0.01,0.02,", 27), 0, "%s", l);
	cr_assert(strstr(l, ",0.10,0.11,") && !strcmp(l + strlen(l) - 10, ",0.98,0.99"), "%s", l);
	while ((l = strtok_r(NULL, "\n", &save))) {
		char *f[128];
		int n = tu_csv_split(l, f, 128);
		int z = (int)(lines / OCT_HOURS), h = (int)(lines % OCT_HOURS);
		double y = truth[z][(OCT - T0) / 3600 + h], prev = -1, s = 0;

		cr_assert_eq(n, 2 + 99, "line %zu", lines + 2);
		snprintf(want, sizeof(want), "%d", z + 1);
		cr_assert_str_eq(f[0], want, "zones in order, then hours");
		stamp(OCT + (int64_t)(h + 1) * 3600, ts, sizeof(ts));
		cr_assert_str_eq(f[1], ts, "TIMESTAMP as in the input");
		for (int k = 0; k < 99; k++) {
			double v = strtod(f[2 + k], NULL), tau = (k + 1) / 100.0;

			cr_assert_eq(regexec(&num, f[2 + k], 0, NULL, 0), 0, "'%s'", f[2 + k]);
			snprintf(want, sizeof(want), "%.5f", q[z][h][k]);
			cr_assert_str_eq(f[2 + k], want, "zone %d hour %d level %d", z + 1, h, k);
			cr_assert_geq(v, prev, "quantiles increase");
			prev = v;
			s += y >= v ? tau * (y - v) : (1 - tau) * (v - y);
		}
		if (!isnan(y)) {
			sum += s / 99;
			pairs++;
		}
		lines++;
	}
	cr_assert_eq(lines, NZONE * OCT_HOURS);
	regfree(&num);
	free(task);
	free(q);

	/* scores.md: windcast's figures, as metrics.json has them and as a plain loop finds */
	snprintf(path, sizeof(path), "%s/backtest/task1/metrics.json", out);
	m = tu_load_json(path);
	scores_row(out, cell);
	cr_assert_eq(pairs, OCT_HOURS * NZONE - 8, "8 NA hours of zone 2 in October");
	cr_assert_eq(atol(cell[5]), (long)pairs, "hours x zones '%s'", cell[5]);
	pb = json_number_value(json_object_get(json_object_get(json_object_get(m, "overall"),
							       "model"), "pinball")) / 100;
	cr_assert_float_eq(pb, sum / pairs, 1e-5, "metrics.json %g, plain loop %g", pb,
			   sum / pairs);
	snprintf(want, sizeof(want), "%.5f", pb);
	cr_assert_str_eq(cell[2], want);
	snprintf(want, sizeof(want), "%.5f",
		 json_number_value(json_object_get(json_object_get(json_object_get(m, "overall"),
								   "climatology"),
						   "pinball")) / 100);
	cr_assert_str_eq(cell[3], want);
	cr_log_info("task 1: windcast %s, climatology %s, powercurve %s", cell[2], cell[3],
		    cell[4]);
	cr_assert_gt(atof(cell[3]), atof(cell[2]), "the network beats climatology");
	json_decref(m);
	/* the report says one issue time and one training */
	html = tu_slurp("%s/backtest/task1/report.html", out);
	cr_assert(strstr(html, "1 issue time, 2012-10-01 00:00 UTC, leads 1&ndash;744 h") &&
		  strstr(html, "(1 training, each on data before its time)"),
		  "%.600s", strstr(html, "<h1>"));
	free(html);
	free(so);
	free(se);
	tu_rmrf_free(in);
	tu_rmrf_free(out);
}

/*
 * --hide-months 2: task 1 (October) trains as if August and September's power were not
 * in yet (tasks 5-15's situation, a month and more ahead of the power): the backtest
 * gets the interval as --train-exclude and its training reads no power after July.
 */
Test(gefcom2014, hidden_months_stay_out_of_training, .timeout = 900)
{
	char *in, *out, *so = NULL, *se = NULL, *hidden;
	char path[1100];
	json_t *m, *models;
	size_t i;
	json_t *v;

	task1(&in, &out, "--hide-months 2", &so, &se);
	hidden = tu_slurp("%s/backtest/task1-hidden.txt", out);
	cr_assert(strstr(hidden, "\n2012-08-01T00:00Z,2012-10-01T00:00Z\n"), "%s", hidden);
	free(hidden);
	snprintf(path, sizeof(path), "%s/backtest/task1/metrics.json", out);
	m = tu_load_json(path);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "train_exclude"),
							 "intervals")),
		     1);
	models = json_object_get(json_array_get(json_object_get(m, "retrains"), 0), "models");
	cr_assert_eq(json_array_size(models), NZONE);
	json_array_foreach(models, i, v) {
		const char *to = json_string_value(json_object_get(v, "obs_to"));

		cr_assert(to && strcmp(to, "2012-08-01T00:00:00Z") < 0 &&
			  strcmp(to, "2012-07-31T00:00:00Z") > 0,
			  "zone %zu reads power to %s", i + 1, to ? to : "(none)");
	}
	json_decref(m);
	free(so);
	free(se);
	tu_rmrf_free(in);
	tu_rmrf_free(out);
}

/* Usage errors exit 2 before any input is read (the input directory does not exist). */
Test(gefcom2014, bad_usage_exits_2_naming_the_option, .timeout = 60)
{
	static const struct {
		const char *args, *want;
	} cases[] = {
		{ "--ensemble 0", "bad --ensemble 0 (want 1 or more members)" },
		{ "--tasks 0", "bad --tasks range '0'" },
		{ "--tasks 1 --pseudo-tasks", "--tasks and --pseudo-tasks exclude each other" },
		{ "--forecast-args raw=x", "unrecognized arguments: --forecast-args" },
		{ "--hide-months 12", "bad --hide-months 12 (want 0..11)" },
	};

	skip_without_modules();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cmd, *so = NULL, *se = NULL;

		cr_assert(asprintf(&cmd, "'%s' '%s/scripts/gefcom2014' %s /nonexistent/in "
					 "/nonexistent/out",
				   tu_python(), tu_src(), cases[i].args) >= 0);
		cr_assert_eq(tu_run(cmd, &so, &se), 2, "%s: %s", cases[i].args, se);
		cr_assert(strstr(se, cases[i].want), "%s: %s", cases[i].args, se);
		free(cmd);
		free(so);
		free(se);
	}
}
