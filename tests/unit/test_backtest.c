/*
 * test_backtest.c - the rolling-origin backtest (backtest/engine.h, `windcast backtest`)
 * and the scores it adds to forecast/metrics.h.
 *
 * Scores against independent references: CRPS against E|X - y| - E|X - X'| / 2 on a
 * dense grid of the same quantile function; SDE, coverage, pinball and means against
 * plain loops. The engine on a small synthetic store through the built binary: a forecast
 * of the backtest at T equals `windcast forecast --issued T` (model and baselines) on a
 * store that holds only the data up to T with the model trained the same way; a re-run
 * writes identical files; metrics.json agrees with forecasts.csv recomputed by plain
 * loops; --retrain never refuses a model trained on later data and --allow-leak marks a
 * hindcast; an interrupted run writes nothing; bad usage exits 2 naming the option; the
 * report is self-contained and renders in headless Chromium to a picture that is not
 * blank; progress is a bar on a terminal and plain lines otherwise.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backtest/engine.h"
#include "backtest/report.h"
#include "data/store.h"
#include "forecast/metrics.h"
#include "forecast/nn.h"
#include "testutil.h"

/* ---- scores ---------------------------------------------------------------------- */

/* The quantile function of (taus, q): linear between levels, flat beyond the ends. */
static double qf(const float *taus, const float *q, int nq, double u)
{
	if (u <= taus[0])
		return q[0];
	if (u >= taus[nq - 1])
		return q[nq - 1];
	for (int k = 1; k < nq; k++)
		if (u <= taus[k])
			return q[k - 1] + (u - taus[k - 1]) / (taus[k] - taus[k - 1]) * (q[k] - q[k - 1]);
	return q[nq - 1];
}

/*
 * CRPS by its sample form E|X - y| - E|X - X'| / 2 with X = Q(U), U uniform: M midpoints
 * of (0, 1) give M sorted draws; for sorted x, the mean of |x_i - x_j| over all pairs is
 * 2 / M^2 * sum (2i - M - 1) x_i (i from 1).
 */
static double crps_reference(const float *taus, const float *q, int nq, double y)
{
	const int M = 200000;
	double e1 = 0, e2 = 0;

	for (int i = 0; i < M; i++) {
		double x = qf(taus, q, nq, (i + 0.5) / M);

		e1 += fabs(x - y);
		e2 += (2.0 * (i + 1) - M - 1) * x;
	}
	return e1 / M - e2 / ((double)M * M);
}

Test(backtest_scores, crps_equals_the_sample_formula)
{
	static const float t3[] = { 0.1f, 0.5f, 0.9f }, q3[] = { 0.2f, 0.35f, 0.8f };
	static const float t2[] = { 0.25f, 0.75f }, q2[] = { 0.4f, 0.4f };
	static const float t5[] = { 0.05f, 0.3f, 0.5f, 0.7f, 0.95f },
			   q5[] = { 0.0f, 0.0f, 0.1f, 0.6f, 1.0f };
	static const double ys[] = { -0.3, 0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.55, 0.8, 0.95, 1.4 };
	struct nn_config d;
	double worst = 0;

	nn_config_default(&d);
	for (size_t i = 0; i < sizeof(ys) / sizeof(ys[0]); i++) {
		const struct {
			const float *t, *q;
			int n;
		} dist[] = { { t3, q3, 3 }, { t2, q2, 2 }, { t5, q5, 5 } };

		for (size_t k = 0; k < sizeof(dist) / sizeof(dist[0]); k++) {
			double c = quantile_crps(dist[k].t, dist[k].q, dist[k].n, ys[i]);
			double ref = crps_reference(dist[k].t, dist[k].q, dist[k].n, ys[i]);

			worst = fabs(c - ref) > worst ? fabs(c - ref) : worst;
			cr_assert(fabs(c - ref) < 2e-5, "dist %zu y %g: crps %.8f, reference %.8f",
				  k, ys[i], c, ref);
		}
	}
	/* equal quantiles: the distribution is a point, CRPS = |y - q| (q is 0.4f) */
	cr_assert_float_eq(quantile_crps(t2, q2, 2, 0.9), 0.9 - (double)0.4f, 1e-12);
	cr_assert_float_eq(quantile_crps(t2, q2, 2, 0.1), (double)0.4f - 0.1, 1e-12);
	/* the default levels */
	{
		float q[NN_MAX_QUANTILES];

		for (int k = 0; k < d.n_quantiles; k++)
			q[k] = 0.1f + 0.8f * d.quantiles[k] * d.quantiles[k];
		for (double y = 0; y <= 1.0; y += 0.125) {
			double c = quantile_crps(d.quantiles, q, d.n_quantiles, y);
			double ref = crps_reference(d.quantiles, q, d.n_quantiles, y);

			worst = fabs(c - ref) > worst ? fabs(c - ref) : worst;
			cr_assert(fabs(c - ref) < 2e-5, "y %g: %.8f vs %.8f", y, c, ref);
		}
	}
	cr_assert(isnan(quantile_crps(t3, q3, 3, NAN)));
	cr_log_info("crps: max |exact - sample formula| %.2e (M = 200000)", worst);
}

Test(backtest_scores, running_sums_equal_plain_loops)
{
	static const float taus[] = { 0.1f, 0.5f, 0.9f };
	enum { N = 500 };
	float q[N][3], y[N], f[N];
	struct qmetrics qm;
	struct metrics m;
	double below[3] = { 0 }, sq[3] = { 0 }, pin = 0, err = 0, err2 = 0;
	uint64_t s = 7;

	for (int i = 0; i < N; i++) {
		double u[4];

		for (int k = 0; k < 4; k++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			u[k] = (double)(s >> 11) / 9007199254740992.0;
		}
		y[i] = (float)u[0];
		f[i] = (float)(0.8 * u[1] + 0.1);
		q[i][1] = f[i];
		q[i][0] = (float)(f[i] - 0.3 * u[2]);
		q[i][2] = (float)(f[i] + 0.3 * u[3]);
	}
	metrics_init(&m);
	qmetrics_init(&qm, taus, 3);
	for (int i = 0; i < N; i++) {
		metrics_add(&m, f[i], y[i]);
		qmetrics_add(&qm, q[i], y[i]);
		err += (double)f[i] - y[i];
		err2 += ((double)f[i] - y[i]) * ((double)f[i] - y[i]);
		for (int k = 0; k < 3; k++) {
			double d = (double)y[i] - q[i][k];

			below[k] += y[i] <= q[i][k];
			sq[k] += q[i][k];
			pin += d >= 0 ? taus[k] * d : (taus[k] - 1.0) * d;
		}
	}
	{
		double bias = err / N, sde = 0;

		for (int i = 0; i < N; i++)
			sde += ((double)f[i] - y[i] - bias) * ((double)f[i] - y[i] - bias);
		sde = sqrt(sde / N);
		cr_assert_float_eq(metrics_sde(&m), sde, 1e-12, "%g vs %g", metrics_sde(&m), sde);
		cr_assert_float_eq(metrics_rmse(&m), sqrt(err2 / N), 1e-12);
	}
	for (int k = 0; k < 3; k++) {
		cr_assert_float_eq(qmetrics_coverage(&qm, k), below[k] / N, 1e-15);
		cr_assert_float_eq(qmetrics_mean_q(&qm, k), sq[k] / N, 1e-12);
	}
	cr_assert_float_eq(qmetrics_pinball(&qm), pin / (3.0 * N), 1e-12);
	/* NaN pairs are skipped */
	{
		float bad[3] = { 0.1f, NAN, 0.3f };
		size_t n = qm.n;

		qmetrics_add(&qm, bad, 0.5);
		qmetrics_add(&qm, q[0], NAN);
		cr_assert_eq(qm.n, n);
	}
	cr_assert(isnan(qmetrics_crps(&(struct qmetrics){ .nq = 3 })));
}

static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* sort_floats gives the bytes glibc's stable qsort gives, -0 and +0 in their order. */
Test(backtest_scores, sort_floats_equals_qsort_bytes)
{
	static const size_t sizes[] = { 0, 1, 5, 63, 64, 65, 1000, 8760 };
	uint64_t s = 3;

	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		size_t n = sizes[t];
		float *a = malloc((n ? n : 1) * sizeof(float)), *b = malloc((n ? n : 1) * sizeof(float));

		for (size_t i = 0; i < n; i++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			switch (s >> 61) {
			case 0: a[i] = 0.0f; break;
			case 1: a[i] = -0.0f; break;
			case 2: a[i] = (float)(s >> 40 & 7) - 3;	/* repeats */
				break;
			default: a[i] = (float)((double)(int64_t)(s >> 11) / 1e12 - 4e3);
			}
		}
		memcpy(b, a, n * sizeof(float));
		sort_floats(a, n);
		qsort(b, n, sizeof(float), cmp_f);
		cr_assert(!memcmp(a, b, n * sizeof(float)), "n = %zu: not qsort's bytes", n);
		free(a);
		free(b);
	}
}

/* ---- warm start ------------------------------------------------------------------ */

enum { WN = 2000, WF = 4 };

/* Rows y = sigmoid-ish of x with noise, fixed seed. */
static void warm_data(float *X, float *Y)
{
	uint64_t s = 11;

	for (int i = 0; i < WN; i++) {
		double acc = 0;

		for (int f = 0; f < WF; f++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			X[i * WF + f] = (float)((double)(s >> 11) / 9007199254740992.0 * 4 - 2);
			acc += (f + 1) * 0.2 * X[i * WF + f];
		}
		Y[i] = (float)(1 / (1 + exp(-acc)));
	}
}

static float max_diff(const struct nn_model *a, const struct nn_model *b, const float *X)
{
	static float qa[WN * 32], qb[WN * 32];
	struct nn_workspace wa, wb;
	struct wc_error err = { 0 };
	float d = 0;

	cr_assert_eq(nn_workspace_init(&wa, a, 256, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(nn_workspace_init(&wb, b, 256, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(nn_model_predict(a, &wa, X, WN, qa, &err), WC_OK);
	cr_assert_eq(nn_model_predict(b, &wb, X, WN, qb, &err), WC_OK);
	for (int i = 0; i < WN * a->n_outputs; i++)
		d = fabsf(qa[i] - qb[i]) > d ? fabsf(qa[i] - qb[i]) : d;
	nn_workspace_release(&wa);
	nn_workspace_release(&wb);
	return d;
}

/*
 * A warm start begins at the given model: one epoch at a tiny learning rate stays within
 * 1e-3 of it (a cold start with the same settings is far from it) and keeps its
 * standardisation; a model that does not fit is ignored (bit-identical to a cold start).
 */
Test(backtest_warm, starts_from_the_given_weights)
{
	static float X[WN * WF], Y[WN];
	struct nn_data d = { .X = X, .Y = Y, .n_rows = WN, .n_features = WF, .n_targets = 1,
			     .split = WN * 4 / 5 };
	struct nn_config c;
	struct nn_model *m1, *warm, *cold, *other, *cold2;
	struct wc_error err = { 0 };
	float dw, dc;

	warm_data(X, Y);
	nn_config_default(&c);
	c.hidden[0] = c.hidden[1] = 16;
	c.n_members = 2;
	c.epochs = 8;
	c.progress = 0;
	cr_assert_eq(nn_model_train(&c, &d, &m1, &err), WC_OK, "%s", err.msg);
	c.epochs = 1;
	c.lr = 1e-7f;
	c.warm = m1;
	cr_assert_eq(nn_model_train(&c, &d, &warm, &err), WC_OK, "%s", err.msg);
	c.warm = NULL;
	cr_assert_eq(nn_model_train(&c, &d, &cold, &err), WC_OK, "%s", err.msg);
	dw = max_diff(m1, warm, X);
	dc = max_diff(m1, cold, X);
	cr_log_info("warm start: max |q - q0| %.2e after one tiny epoch (cold start %.2e)", dw,
		    dc);
	cr_assert_lt(dw, 1e-3f);
	cr_assert_gt(dc, 0.05f);
	cr_assert(!memcmp(warm->mean, m1->mean, WF * sizeof(float)) &&
		  !memcmp(warm->std, m1->std, WF * sizeof(float)));
	/* another shape: a cold start, the same bytes as without the warm model */
	c.hidden[0] = 8;
	c.warm = m1;
	cr_assert_eq(nn_model_train(&c, &d, &other, &err), WC_OK, "%s", err.msg);
	c.warm = NULL;
	cr_assert_eq(nn_model_train(&c, &d, &cold2, &err), WC_OK, "%s", err.msg);
	cr_assert(!memcmp(other->member[0].params, cold2->member[0].params,
			  other->member[0].n_params * sizeof(float)));
	nn_model_free(m1);
	nn_model_free(warm);
	nn_model_free(cold);
	nn_model_free(other);
	nn_model_free(cold2);
}

/* ---- options ----------------------------------------------------------------------- */

Test(backtest_options, parse_and_hints)
{
	struct backtest_options o;
	struct wc_error err = { 0 };
	char *dir = tu_tmpdir(), *good, *bad, *empty;
	static const char *const bad_hours[] = { "24", "0,0", "", "1,", ",1", "a", "0;12", "-1",
						 "12 " };
	static const char *const bad_retrain[] = { "0d", "3651d", "30", "d", "1.5d", "-1d",
						   "30D", " 30d", "+30d", "weekly", "" };

	backtest_options_init(&o);
	cr_assert_eq(o.issue_hours, 1u << 0 | 1u << 12);
	cr_assert_eq(backtest_set(&o, "issue_hours", "6,18,0", &err), WC_OK, "%s", err.msg);
	cr_assert_eq(o.issue_hours, 1u << 0 | 1u << 6 | 1u << 18);
	for (size_t i = 0; i < sizeof(bad_hours) / sizeof(bad_hours[0]); i++) {
		cr_assert_eq(backtest_set(&o, "issue_hours", bad_hours[i], &err), WC_EINVAL, "'%s'",
			     bad_hours[i]);
		cr_assert(strstr(err.msg, "use hours 0..23"), "%s", err.msg);
	}
	cr_assert_eq(backtest_set(&o, "retrain", "30d", &err), WC_OK);
	cr_assert(o.retrain == BACKTEST_RETRAIN_DAYS && o.retrain_days == 30);
	cr_assert_eq(backtest_set(&o, "retrain", "never", &err), WC_OK);
	cr_assert_eq(o.retrain, BACKTEST_RETRAIN_NEVER);
	cr_assert_eq(backtest_set(&o, "retrain", "3650d", &err), WC_OK);
	for (size_t i = 0; i < sizeof(bad_retrain) / sizeof(bad_retrain[0]); i++)
		cr_assert_eq(backtest_set(&o, "retrain", bad_retrain[i], &err), WC_EINVAL, "'%s'",
			     bad_retrain[i]);
	cr_assert(strstr(err.msg, "monthly, never or days"), "%s", err.msg);
	cr_assert_eq(backtest_set(&o, "horizon", "0", &err), WC_EINVAL);
	cr_assert_eq(backtest_set(&o, "horizon", "48", &err), WC_OK);
	cr_assert_eq(o.fo.horizon, 48);
	cr_assert_eq(backtest_set(&o, "model", "magic", &err), WC_EINVAL);
	cr_assert_eq(backtest_set(&o, "model", "nn", &err), WC_OK);
	cr_assert_str_eq(o.fo.model, "nn");
	cr_assert_eq(backtest_set(&o, "from", "yesterday", &err), WC_EINVAL);
	cr_assert_eq(backtest_set(&o, "farm", "no such id!", &err), WC_EINVAL);
	cr_assert_eq(backtest_set(&o, "colour", "blue", &err), WC_EINVAL);
	/* training options: --pool and --regional beside the table's; --to is ours */
	cr_assert_eq(backtest_set(&o, "train_args", "--epochs 3 --pool all --regional=all "
						     "--ensemble 2",
				  &err), WC_OK, "%s", err.msg);
	cr_assert(o.train.pool_all);
	cr_assert_str_eq(o.train.regional, "all");
	cr_assert_eq(o.train.o.nn.epochs, 3);
	cr_assert_eq(o.train.o.nn.n_members, 2);
	cr_assert_eq(backtest_set(&o, "train_args", "--to 2026-01-01", &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "--to is the backtest's"), "%s", err.msg);
	cr_assert_eq(backtest_set(&o, "train_args", "--pool", &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "needs a value"), "%s", err.msg);
	cr_assert_eq(backtest_set(&o, "train_args", "--epochs x", &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "--epochs 'x'"), "%s", err.msg);
	/* the issue-time file */
	good = tu_write_tmp(dir, "good.txt", "# issue times\n2026-01-03T12:00Z\n\n  2026-01-02 \n"
					  "2026-01-03T12:00:00Z # again\n2026010400\n");
	cr_assert_eq(backtest_set(&o, "issued_file", good, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(o.n_issued, 3);
	cr_assert_eq(o.issued[0], 1767312000);		/* 2026-01-02T00:00Z */
	cr_assert_eq(o.issued[1], 1767312000 + 36 * 3600);
	cr_assert_eq(o.issued[2], 1767312000 + 48 * 3600);
	bad = tu_write_tmp(dir, "bad.txt", "2026-01-02\n\n2026-13-01\n");
	cr_assert_eq(backtest_set(&o, "issued_file", bad, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "line 3") && strstr(err.msg, "'2026-13-01'"), "%s", err.msg);
	empty = tu_write_tmp(dir, "empty.txt", "# nothing\n\n");
	cr_assert_eq(backtest_set(&o, "issued_file", empty, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "holds no issue time"), "%s", err.msg);
	cr_assert_eq(backtest_set(&o, "issued_file", "/nonexistent/x", &err), WC_EIO);
	cr_assert_eq(o.n_issued, 3, "a failed read keeps the times read before");
	backtest_options_release(&o);
	free(good);
	free(bad);
	free(empty);
	tu_rmrf_free(dir);
}

/* ---- the engine through the binary --------------------------------------------------- */

#define TINY "--epochs 3 --hidden 8 --ensemble 1 --leads 12"
#define PERIOD "--from 2026-01-21T00:00Z --to 2026-02-04T12:00Z"

static json_t *load_json(const char *path)
{
	return tu_load_json(path);
}

/*
 * A forecast of the backtest at T equals `windcast forecast --issued T` on a store that
 * holds only the data up to T, with the model trained as the backtest trained it: the
 * runs issued by T, the observations up to T, `train --to R` with the same options.
 * The same for the baselines. A re-run of the backtest writes identical files.
 */
Test(backtest_cli, equals_serving_and_rerun_is_identical, .timeout = 900)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *cmd, *csv, *a, *b, levels[2048];
	char path[4300];
	const char *T = "2026-02-01T12:00:00Z", *R = "2026-01-31T00:00Z";
	struct nn_config d;
	json_t *m;
	int rc;
	size_t len = 0;

	tu_demo_store(dir);
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain 10d --train-args '" TINY " --regional all' --horizon 12 "
		    "--out '%s/bt1'",
		    dir, dir);
	cr_assert_eq(rc, 0, "backtest: %s", err);
	cr_assert(strstr(out, "wrote "), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/bt1/metrics.json", dir);
	m = load_json(path);
	/* 10-day windows from 2026-01-21: trained before 01-21 and before 01-31 */
	cr_assert_eq(json_array_size(json_object_get(m, "retrains")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(m, "retrains"), 1), "at")),
			 "2026-01-31T00:00:00Z");
	cr_assert_eq(json_integer_value(json_object_get(m, "issue_times")), 30);
	json_decref(m);

	/* the same options again: the same bytes */
	rc = tu_cli(NULL, NULL, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain 10d --train-args '" TINY " --regional all' --horizon 12 "
		    "--out '%s/bt1'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	rc = tu_cli(NULL, NULL, &err,
		    "--data '%s/data' -q backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain 10d --train-args '" TINY " --regional all' --horizon 12 "
		    "--out '%s/bt2'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(err);
	for (int i = 0; i < 3; i++) {
		static const char *const files[] = { "forecasts.csv", "metrics.json",
						     "report.html" };
		char *x = tu_slurp("%s/bt1/%s", dir, files[i]), *y = tu_slurp("%s/bt2/%s", dir, files[i]);

		/* the command line names its --out: the only difference allowed */
		if (i > 0) {
			for (char *p = strstr(y, "/bt2"); p; p = strstr(p, "/bt2"))
				p[3] = '1';
		}
		cr_assert(!strcmp(x, y), "%s differs between two runs", files[i]);
		free(x);
		free(y);
	}

	/* store B: data up to T only, the model trained to R with the same options */
	cr_assert(asprintf(&cmd, "$W --data \"$B\" train --farm horns-reef --to %s " TINY
				 " --regional all >/dev/null\n", R) >= 0);
	tu_demo_store_upto(dir, T, cmd);
	free(cmd);
	/* the model's own levels, exactly (%.9g round-trips a float) */
	nn_config_default(&d);
	for (int k = 0; k < d.n_quantiles; k++)
		len += (size_t)snprintf(levels + len, sizeof(levels) - len, "%s%.9g", k ? "," : "",
					d.quantiles[k]);
	csv = tu_slurp("%s/bt1/forecasts.csv", dir);
	for (int i = 0; i < 4; i++) {
		static const char *const model[] = { "nn", "persistence", "climatology",
						     "powercurve" };
		static const char *const method[] = { "model", "persistence", "climatology",
						      "powercurve" };

		rc = tu_cli(NULL, &out, &err,
			    "--data '%s/dataB' forecast --farm horns-reef --issued %s --model %s "
			    "--horizon 12 --format csv --units frac --quantiles %s --no-store",
			    dir, T, model[i], levels);
		cr_assert_eq(rc, 0, "forecast %s: %s", model[i], err);
		/* forecast: valid_time in column 4, point from column 9; forecasts.csv: valid
		 * time in column 2, point from column 11 */
		a = tu_csv_rows(out, 4, 9, NULL, NULL, NULL);
		b = tu_csv_rows(csv, 2, 11, "horns-reef", T, method[i]);
		cr_assert(strlen(b) > 100, "no %s rows at %s in forecasts.csv", method[i], T);
		cr_assert_str_eq(a, b, "%s at %s: serving\n%s\nbacktest\n%s", model[i], T, a, b);
		free(a);
		free(b);
		free(out);
		free(err);
	}
	free(csv);
	tu_rmrf_free(dir);
}

/* ---- metrics.json against forecasts.csv ---------------------------------------------- */

/* Sums of one method recomputed from the CSV by plain loops. */
struct plain {
	size_t n;
	double e, ae, se;
	size_t below[64];
};

static double jnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	cr_assert(json_is_number(v), "no number '%s'", key);
	return json_number_value(v);
}

/*
 * metrics.json's scores equal the CSV's forecasts and observations scored by plain
 * loops: pair counts exactly, bias, MAE, RMSE and coverage within the CSV's rounding
 * (6 significant digits), per method overall and at lead 5, and skill against
 * persistence on the hours both forecast.
 */
static void check_metrics_against_csv(const char *dir)
{
	char *csv = tu_slurp("%s/forecasts.csv", dir), *save = NULL, path[4300];
	static const char *const methods[] = { "model", "persistence", "climatology",
					       "powercurve" };
	struct plain all[4] = { 0 }, lead5[4] = { 0 };
	double joint_m = 0, joint_p = 0, pend_m = NAN, pend_p = NAN;
	char last_key[128] = "";
	int nq = 0;
	json_t *m;

	for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[80], *p = line, key[128];
		int n = 0, k;
		double y, pt;

		while (n < 80) {
			f[n++] = p;
			if (!(p = strchr(p, ',')))
				break;
			*p++ = '\0';
		}
		if (!strcmp(f[0], "farm")) {
			nq = n - 12;
			continue;
		}
		for (k = 0; k < 4 && strcmp(f[4], methods[k]); k++)
			;
		cr_assert(k < 4, "method '%s'", f[4]);
		if (!*f[10])
			continue;	/* no truth */
		y = strtod(f[10], NULL);
		pt = strtod(f[11], NULL);
		for (int w = 0; w < 2; w++) {
			struct plain *s = w ? &lead5[k] : &all[k];

			if (w && strcmp(f[3], "5"))
				continue;
			s->n++;
			s->e += pt - y;
			s->ae += fabs(pt - y);
			s->se += (pt - y) * (pt - y);
			for (int j = 0; j < nq; j++)
				s->below[j] += y <= strtod(f[12 + j], NULL);
		}
		/* the rows of one hour come together: model first, then persistence */
		snprintf(key, sizeof(key), "%s,%s,%s", f[0], f[1], f[2]);
		if (strcmp(key, last_key)) {
			snprintf(last_key, sizeof(last_key), "%s", key);
			pend_m = pend_p = NAN;
		}
		if (k == 0)
			pend_m = pt - y;
		if (k == 1)
			pend_p = pt - y;
		if (k == 1 && isfinite(pend_m)) {
			joint_m += pend_m * pend_m;
			joint_p += pend_p * pend_p;
		}
	}
	free(csv);
	snprintf(path, sizeof(path), "%s/metrics.json", dir);
	m = load_json(path);
	for (int k = 0; k < 4; k++)
		for (int w = 0; w < 2; w++) {
			const struct plain *s = w ? &lead5[k] : &all[k];
			const json_t *sc = json_object_get(
				w ? json_array_get(json_object_get(m, "by_lead"), 4)
				  : json_object_get(m, "overall"),
				methods[k]);
			const json_t *cov = json_object_get(sc, "coverage");
			const char *lv;
			json_t *v;
			int j = 0;

			cr_assert(s->n > 50, "%s: %zu pairs", methods[k], s->n);
			cr_assert_eq((size_t)jnum(sc, "n"), s->n, "%s lead %s: n", methods[k],
				     w ? "5" : "all");
			cr_assert_float_eq(jnum(sc, "bias"), 100 * s->e / s->n, 1e-3);
			cr_assert_float_eq(jnum(sc, "mae"), 100 * s->ae / s->n, 1e-3);
			cr_assert_float_eq(jnum(sc, "rmse"), 100 * sqrt(s->se / s->n), 1e-3,
					   "%s rmse %g vs %g", methods[k], jnum(sc, "rmse"),
					   100 * sqrt(s->se / s->n));
			json_object_foreach((json_t *)cov, lv, v) {
				/* a rounded quantile can swap sides with the truth: allow 1 pair */
				cr_assert(fabs(json_number_value(v) - (double)s->below[j] / s->n) <=
						  1.0 / s->n + 1e-12,
					  "%s coverage %s: %g vs %g", methods[k], lv,
					  json_number_value(v), (double)s->below[j] / s->n);
				j++;
			}
			cr_assert_eq(j, nq);
		}
	cr_assert_float_eq(jnum(json_object_get(json_object_get(m, "overall"), "model"),
				"skill_persistence"),
			   100 * (1 - sqrt(joint_m / joint_p)), 1e-3);
	cr_assert_float_eq(jnum(json_object_get(json_object_get(m, "overall"), "persistence"),
				"skill_persistence"),
			   0, 1e-12);
	json_decref(m);
}

/*
 * The report: self-contained (no script, no stylesheet or image fetched, no URL but the
 * SVG namespace), its plots inline SVG, and a screenshot of it in headless Chromium is
 * a picture, not a blank page: decoded (zlib, PNG filters undone) it has hundreds of
 * colours and a good share of non-white pixels.
 */
static void check_report(const char *dir)
{
	char *html = tu_slurp("%s/report.html", dir), *png, path[4300];
	const char *p;
	int svgs = 0;
	long colours = 0;
	double ink = 0;

	for (p = html; (p = strstr(p, "<svg")); p++)
		svgs++;
	cr_assert_geq(svgs, 4, "%d inline SVG plots", svgs);
	cr_assert(!strstr(html, "<script") && !strstr(html, "<link") && !strstr(html, "<img") &&
		  !strstr(html, "url(") && !strstr(html, "@import") && !strstr(html, "src="));
	for (p = html; (p = strstr(p, "http")); p++)
		cr_assert(!strncmp(p, "http://www.w3.org/2000/svg", 26), "a URL: %.60s", p);
	cr_assert(strstr(html, "Backtest of") && strstr(html, "Error by lead time") &&
		  strstr(html, "Reliability") && strstr(html, "A sample fortnight"));
	free(html);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	png = tu_screenshot(dir, path, 1800);
	tu_png_ink(png, &colours, &ink);
	cr_log_info("report screenshot: %ld colours, %.0f %% of pixels not white", colours,
		    100 * ink);
	cr_assert_geq(colours, 100, "%ld colours: a blank or flat page?", colours);
	cr_assert_geq(ink, 0.10, "%.1f %% ink: a blank page?", 100 * ink);
	free(png);
}

/* Stop after a few forecasts, as Ctrl-C does. */
static void stop_soon(void *arg, const struct backtest_progress *p)
{
	volatile sig_atomic_t *stop = arg;

	if (p->done >= 5)
		*stop = 1;
}

Test(backtest_cli, metrics_report_progress_and_interrupt, .timeout = 900)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, path[4300], data[4300];
	struct backtest_options o;
	struct backtest_result res;
	struct wc_error e = { 0 };
	volatile sig_atomic_t stop = 0;
	struct store *st;
	struct stat sb;
	int rc;

	tu_demo_store(dir);
	/* every farm, the power curve as the model: no training, fast */
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --all " PERIOD " --model powercurve --horizon 24 "
		    "--out '%s/pc'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	/* not a terminal: plain lines */
	cr_assert(strstr(err, "windcast backtest:  50% (") || strstr(err, "windcast backtest:  5"),
		  "%s", err);
	cr_assert(!strchr(err, '\r'), "a bar went to a pipe");
	cr_assert(strstr(out, "3 farms, 30 issue times, 90 forecasts of the model (0 failed)"),
		  "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/pc", dir);
	check_metrics_against_csv(path);
	check_report(path);

	/* a terminal: the bar, rate and ETA */
	{
		char *cmd;

		cr_assert(asprintf(&cmd,
				   "script -qec \"'%s' --data '%s/data' backtest --farm jutland-1 "
				   PERIOD " --model persistence --out '%s/tty'\" /dev/null",
				   tu_bin(), dir, dir) > 0);
		cr_assert_eq(tu_run(cmd, &out, &err), 0, "%s", err);
		cr_assert(strstr(out, "\r[") && strstr(out, "ETA") && strstr(out, "/s"), "%s", out);
		free(cmd);
		free(out);
		free(err);
	}

	/* interrupted: nothing written, what was there stays whole */
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(path, sizeof(path), "%s/pc", dir);
	cr_assert_eq(store_open(data, &st, &e), WC_OK, "%s", e.msg);
	backtest_options_init(&o);
	cr_assert_eq(backtest_set(&o, "all", NULL, &e), WC_OK);
	cr_assert_eq(backtest_set(&o, "from", "2026-01-21", &e), WC_OK);
	cr_assert_eq(backtest_set(&o, "to", "2026-02-04T12:00Z", &e), WC_OK);
	cr_assert_eq(backtest_set(&o, "model", "persistence", &e), WC_OK);
	o.out = path;
	o.stop = &stop;
	o.progress = stop_soon;
	o.progress_arg = (void *)&stop;
	{
		char *before = tu_slurp("%s/metrics.json", path);

		cr_assert_eq(backtest_run(st, &o, &res, &e), WC_OK, "%s", e.msg);
		cr_assert(res.interrupted);
		cr_assert_null(res.metrics);
		{
			char *after = tu_slurp("%s/metrics.json", path);

			cr_assert_str_eq(before, after, "an interrupted run touched metrics.json");
			free(after);
		}
		free(before);
	}
	{
		char *cmd;

		cr_assert(asprintf(&cmd, "ls -A '%s' | grep -c tmp", path) > 0);
		tu_run(cmd, &out, NULL);
		cr_assert_str_eq(out, "0\n", "temporary files left: %s", out);
		free(cmd);
		free(out);
	}
	cr_assert_eq(stat(path, &sb), 0);
	backtest_result_release(&res);
	backtest_options_release(&o);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- retrain never ---------------------------------------------------------------- */

Test(backtest_cli, never_refuses_a_later_model_or_marks_a_hindcast, .timeout = 900)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *csv, *html, path[4300];
	json_t *m;
	int rc;

	tu_demo_store(dir);
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' -q train --farm horns-reef "
					      "--to 2026-01-25T00:00Z " TINY,
			    dir), 0);
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain never --horizon 12 --out '%s/never'",
		    dir, dir);
	cr_assert_eq(rc, 2, "%s", err);
	cr_assert(strstr(err, "model 1 of farm 'horns-reef' read observations up to "
			      "2026-01-25T00:00:00Z, after the first issue time "
			      "2026-01-21T00:00:00Z") &&
		  strstr(err, "--allow-leak"),
		  "%s", err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/never", dir);
	cr_assert(access(path, F_OK) != 0, "a refused backtest created its directory");

	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain never --allow-leak --horizon 12 --out '%s/never'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(out, "HINDCAST"), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/never/metrics.json", dir);
	m = load_json(path);
	cr_assert(json_is_true(json_object_get(m, "hindcast")));
	cr_assert(strstr(json_string_value(json_object_get(m, "hindcast_reason")), "hindcast"));
	json_decref(m);
	csv = tu_slurp("%s/never/forecasts.csv", dir);
	cr_assert(strstr(csv, ",model,nn,1,2026-01-25T00:00:00Z,false,true,"), "%.400s", csv);
	cr_assert(!strstr(csv, ",model,nn,1,2026-01-25T00:00:00Z,false,false,"));
	cr_assert(strstr(csv, ",persistence,persistence,,,false,false,"));
	free(csv);
	html = tu_slurp("%s/never/report.html", dir);
	cr_assert(strstr(html, "<b>Hindcast.</b>"));
	free(html);

	/* a model that read nothing after the first issue time is a forecaster's */
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' -q train --farm horns-reef "
					      "--to 2026-01-21T00:00Z " TINY,
			    dir), 0);
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain never --horizon 12 --out '%s/never2'",
		    dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/never2/metrics.json", dir);
	m = load_json(path);
	cr_assert(json_is_false(json_object_get(m, "hindcast")));
	json_decref(m);
	/* model 1, pinned, is still refused */
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' backtest --farm horns-reef " PERIOD " --model nn "
		    "--retrain never --model-version 1 --horizon 12 --out '%s/never3'",
		    dir, dir);
	cr_assert_eq(rc, 2, "%s", err);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

/* ---- usage ------------------------------------------------------------------------ */

Test(backtest_cli, bad_usage_names_the_option, .timeout = 120)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL;
	static const struct tu_cli_case cases[] = {
		{ "--farm f1 --from 2026-01-21 --to 2026-01-20 --out o",
		  "invalid --to '2026-01-20': it is before --from '2026-01-21'", 2 },
		{ "--farm nope --from 2026-01-21 --to 2026-01-22 --out o", "invalid --farm 'nope'", 2 },
		{ "--farm f1 --from 2026-01-21T01:00Z --to 2026-01-21T02:00Z --out o",
		  "no issue time between --from '2026-01-21T01:00Z' and --to", 2 },
		{ "--all --farm f1 --from 2026-01-21 --to 2026-01-22 --out o",
		  "use one of --farm ID, --portfolio P and --all", 2 },
		{ "--from 2026-01-21 --to 2026-01-22 --out o",
		  "use one of --farm ID, --portfolio P and --all", 2 },
		{ "--farm f1 --out o", "--from and --to are required", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22", "--out DIR is required", 2 },
		{ "--farm f1 --from yesterday --to 2026-01-22 --out o", "invalid --from 'yesterday'",
		  2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --retrain 0d --out o",
		  "invalid --retrain '0d': use monthly, never or days like 30d", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --model persistence --retrain 30d "
		  "--out o",
		  "--retrain goes with --model nn or auto", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --issue-hours 25 --out o",
		  "invalid --issue-hours '25'", 2 },
		{ "--farm f1 --horizon 0 --out o", "invalid --horizon '0'", 2 },
		{ "--farm f1 --model magic --out o", "invalid --model 'magic'", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --train-args '--to 2026-01-01' "
		  "--out o",
		  "invalid --train-args '--to 2026-01-01': --to is the backtest's", 2 },
		{ "--farm f1 --train-args '--epochs x' --out o", "invalid --train-args '--epochs x'",
		  2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --allow-leak --out o",
		  "--allow-leak goes with --retrain never", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --model-version 2 --out o",
		  "--model-version goes with --retrain never", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --retrain never --train-args "
		  "'--epochs 3' --out o",
		  "--train-args goes with a model trained by the backtest", 2 },
		{ "--farm f1 --issued-file /nonexistent/times --out o",
		  "cannot open --issued-file '/nonexistent/times'", 1 },
		{ "--farm f1 --issue-hours 0 --issued-file /dev/null --out o",
		  "holds no issue time", 2 },
		{ "--farm f1 --frobnicate --out o", "unknown option '--frobnicate'", 2 },
		{ "--farm f1 --out o extra", "unexpected argument 'extra'", 2 },
		{ "--farm f1 --out", "option '--out' needs a value", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --retrain never --model nn --out o",
		  "no trained model of farm 'f1'", 1 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --model persistence --warm-start "
		  "--out o",
		  "--warm-start goes with a model trained by the backtest", 2 },
		{ "--farm f1 --from 2026-01-21 --to 2026-01-22 --warm-epochs 5 --out o",
		  "--warm-epochs and --warm-patience go with --warm-start", 2 },
		{ "--farm f1 --warm-patience 0 --out o", "invalid --warm-patience '0': use 1..1000",
		  2 },
		{ "--portfolio p --farm f1 --from 2026-01-21 --to 2026-01-22 --out o",
		  "use one of --farm ID, --portfolio P and --all", 2 },
	};

	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);
	tu_cli_cases(dir, "backtest", "", cases, sizeof(cases) / sizeof(cases[0]));
	cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s/nope' backtest --farm f1 --out o", dir),
		     2);
	cr_assert(strstr(err, "no windcast store"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(NULL, &out, &err, "backtest --help"), 0);
	cr_assert(strstr(out, "--retrain") && strstr(out, "--allow-leak"), "%s", out);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}
