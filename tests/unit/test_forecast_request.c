/*
 * test_forecast_request.c - the one forecast request path (forecast_get_or_issue) in the
 * library and through the built CLI: parsing of each request field, auto's choice by the
 * model's validation scores (defect 12), pinned versions that do not exist (defect 2),
 * the issue-time rule and its reason and "stored" (defect 10), when a stored forecast is
 * reused (horizon_cut, delay, the point rule), the CSV columns and the notes on stderr
 * (defect 4), WC_ENODATA against WC_ENOTFOUND and the no-NWP message (defect 3), and the
 * messages of bad options (defect 6).
 *
 * The store is test_forecast.c's fixture (fx_fill): runs every 12 h whose error grows
 * with lead and power from a known curve of the true wind, so that a power curve fitted
 * from history is nearly exact and a small network trained a few epochs is not.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/baselines.h"
#include "forecast/forecast.h"
#include "forecast/metrics.h"
#include "forecast/model.h"
#include "testutil.h"

#define FX_T0 1767225600	/* 2026-01-01T00:00:00Z, as test_forecast.c */

void fx_farms(struct store *st);
void fx_fill(struct store *st, int days, int64_t cut, double bump);
struct store *fxr_store(char **dir, int days, int models);
double fxr_score(const char *scores, const char *key);

/* A store in a new directory with the fixture's farms and `days` of data, and `models`
 * small networks of farm alpha saved as versions 1.. (leads 1..12, seed 1). */
struct store *fxr_store(char **dir, int days, int models)
{
	struct store *st;
	struct wc_error err = { 0 };
	struct train_options o;

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, &st, &err), WC_OK, "%s", err.msg);
	fx_farms(st);
	if (days)
		fx_fill(st, days, INT64_MAX, 0);
	train_options_init(&o);
	o.nn.n_hidden = 1;
	o.nn.hidden[0] = 8;
	o.nn.epochs = 4;
	o.nn.n_members = 2;
	o.features.max_lead = 12;
	for (int v = 1; v <= models; v++) {
		struct farm_model *m;

		cr_assert_eq(farm_model_train(st, "alpha", &o, &m, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(farm_model_save(st, m, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(m->version, v);
		farm_model_free(m);
	}
	return st;
}

/* A number of a model's overall validation scores. */
double fxr_score(const char *scores, const char *key)
{
	json_t *root = json_loads(scores, 0, NULL);
	double v = json_number_value(json_object_get(json_object_get(root, "overall"), key));

	cr_assert(json_is_number(json_object_get(json_object_get(root, "overall"), key)),
		  "no %s in %s", key, scores);
	json_decref(root);
	return v;
}

/* forecast_get_or_issue for farm alpha with the request's fields from text pairs. */
static enum wc_status ask(struct store *st, const char *farm, struct forecast *out,
			  struct wc_error *err, const char *const *kv)
{
	struct forecast_request r;
	struct wc_error perr = { 0 };

	forecast_request_init(&r);
	for (size_t i = 0; kv && kv[i]; i += 2)
		cr_assert_eq(forecast_request_set(&r, kv[i], kv[i + 1], &perr), WC_OK, "%s=%s: %s",
			     kv[i], kv[i + 1], perr.msg);
	return forecast_get_or_issue(st, farm, &r, out, err);
}

/* ---- the request's fields ---- */

TestSuite(forecast_request, .timeout = 120);

Test(forecast_request, fields_parse_with_one_hint_each)
{
	static const struct {
		const char *key, *value, *hint;
	} bad[] = {
		{ "horizon", "0", "use 1..744 hours" },
		{ "horizon", "745", "use 1..744 hours" },
		{ "horizon", " 6", "use 1..744 hours" },
		{ "horizon", "6h", "use 1..744 hours" },
		{ "model", "bogus", "use auto, nn, persistence, climatology or powercurve" },
		{ "model_version", "0", "use a model version, 1..1000000" },
		{ "model_version", "-1", "use a model version, 1..1000000" },
		{ "model_version", "1000001", "use a model version, 1..1000000" },
		{ "point", "avg", "use median or mean" },
		{ "units", "kw", "use mw or frac" },
		{ "issued", "yesterday", "use ISO 8601, e.g. 2026-03-01T12:00:00Z" },
		{ "quantiles", "0.5,2", "use at most 128 distinct levels in (0, 1)" },
		{ "quantiles", "0.001:0.999:0.001", "use at most 128 distinct levels in (0, 1)" },
		{ "horizn", "12", "unknown" },
	};
	struct forecast_request r;
	struct wc_error err = { 0 };
	float want[3];
	int n;

	/* the defaults: one home for the levels shown, the model and the horizon */
	forecast_request_init(&r);
	cr_assert_eq(r.nlevels, 3);
	cr_assert(r.levels[0] == 0.1f && r.levels[1] == 0.5f && r.levels[2] == 0.9f);
	cr_assert_eq(forecast_parse_levels(FORECAST_DEFAULT_LEVELS, want, &n, &err), WC_OK);
	cr_assert_eq(n, r.nlevels);
	cr_assert_str_eq(r.o.model, "auto");
	cr_assert_eq(r.o.horizon, 36);
	cr_assert_eq(r.issued, INT64_MIN);
	cr_assert(r.store && !r.frac);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		forecast_request_init(&r);
		cr_assert_eq(forecast_request_set(&r, bad[i].key, bad[i].value, &err), WC_EINVAL,
			     "%s=%s", bad[i].key, bad[i].value);
		cr_assert(!strncmp(err.msg, bad[i].hint, strlen(bad[i].hint)), "%s=%s: %s",
			  bad[i].key, bad[i].value, err.msg);
		/* a bad value changes nothing */
		cr_assert_eq(r.o.horizon, 36);
		cr_assert_eq(r.nlevels, 3);
		cr_assert_eq(r.o.model_version, 0);
	}
	cr_assert_eq(forecast_request_set(&r, "horizon", "744", &err), WC_OK);
	cr_assert_eq(r.o.horizon, 744);
	cr_assert_eq(forecast_request_set(&r, "model_version", "3", &err), WC_OK);
	cr_assert_eq(r.o.model_version, 3);
	cr_assert_eq(forecast_request_set(&r, "quantiles", "0.9,0.05", &err), WC_OK);
	cr_assert(r.nlevels == 2 && r.levels[0] == 0.05f && r.levels[1] == 0.9f);
	cr_assert_eq(forecast_request_set(&r, "point", "mean", &err), WC_OK);
	cr_assert_eq(r.o.point, FORECAST_POINT_MEAN);
	cr_assert_eq(forecast_request_set(&r, "units", "frac", &err), WC_OK);
	cr_assert(r.frac);
	cr_assert_eq(forecast_request_set(&r, "issued", "2026-01-03T05:30:00Z", &err), WC_OK);
	cr_assert_eq(r.issued, FX_T0 + 2 * 86400 + 5 * 3600 + 1800);
	cr_assert_eq(forecast_request_set(&r, "model", "powercurve", &err), WC_OK);
	cr_assert_str_eq(r.o.model, "powercurve");
}

/* ---- defect 12: auto serves what scored best on the model's own validation ---- */

/* A model of version v with these scores (no network: the choice reads scores only). */
static int choose(const char *scores, int v, bool mean, char *why, size_t len)
{
	struct farm_model m = { .version = v, .scores = (char *)scores };

	return farm_model_auto_choice(&m, mean, why, len);
}

Test(forecast_request, auto_choice_by_validation_scores)
{
	char why[384];

	/* the issue's numbers: the network 0.458, the power curve 0.133 */
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.458,\"rmse_mean\":0.45,"
			    "\"persistence_rmse\":0.3,\"climatology_rmse\":0.34,"
			    "\"powercurve_rmse\":0.133}}",
			    2, false, why, sizeof(why)),
		     BASELINE_POWERCURVE);
	cr_assert_str_eq(why, "powercurve: lowest validation RMSE 0.1330 (nn (model 2) 0.4580, "
			      "persistence 0.3000, climatology 0.3400)");
	/* the network better than every baseline */
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.104,\"persistence_rmse\":0.276,"
			    "\"climatology_rmse\":0.337,\"powercurve_rmse\":0.115}}",
			    1, false, why, sizeof(why)),
		     -1);
	cr_assert_str_eq(why, "nn (model 1): lowest validation RMSE 0.1040 (powercurve 0.1150, "
			      "persistence 0.2760, climatology 0.3370)");
	/* a tie keeps the network; persistence can win too */
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.2,\"powercurve_rmse\":0.2}}", 1, false, why,
			    sizeof(why)),
		     -1);
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.2,\"persistence_rmse\":0.1,"
			    "\"powercurve_rmse\":0.15}}",
			    1, false, why, sizeof(why)),
		     BASELINE_PERSISTENCE);
	/* the mean point is judged by rmse_mean (and rmse when a model has none) */
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.3,\"rmse_mean\":0.1,"
			    "\"powercurve_rmse\":0.2}}",
			    1, true, why, sizeof(why)),
		     -1);
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.3,\"powercurve_rmse\":0.2}}", 1, true, why,
			    sizeof(why)),
		     BASELINE_POWERCURVE);
	/* a baseline without a score (null: no curve could be fitted) never wins */
	cr_assert_eq(choose("{\"overall\":{\"rmse\":0.3,\"powercurve_rmse\":null}}", 1, false,
			    why, sizeof(why)),
		     -1);
	cr_assert_str_eq(why, "nn (model 1): lowest validation RMSE 0.3000 (no baseline was "
			      "scored)");
	/* no scores at all: the network, saying so */
	cr_assert_eq(choose("{}", 4, false, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "nn (model 4): it has no validation scores to compare with the "
			      "baselines");
	cr_assert_eq(choose("not json", 4, false, why, sizeof(why)), -1);
}

Test(forecast_request, auto_serves_the_power_curve_when_it_validated_better)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 1);
	struct farm_model *m;
	struct forecast f, g;
	struct wc_error err = { 0 };
	const char *at[] = { "issued", "2026-01-05T05:00:00Z", "horizon", "6", NULL };
	const char *nn[] = { "issued", "2026-01-05T05:00:00Z", "horizon", "6", "model", "nn", NULL };
	char want[384];
	double net, pc;

	cr_assert_eq(farm_model_load(st, "alpha", 0, &m, &err), WC_OK, "%s", err.msg);
	net = fxr_score(m->scores, "rmse");
	pc = fxr_score(m->scores, "powercurve_rmse");
	cr_assert_lt(pc, net, "the fixture's premise: the curve validated better (%g, %g)", pc,
		     net);
	snprintf(want, sizeof(want), "auto: powercurve: lowest validation RMSE %.4f (nn (model 1) "
				     "%.4f, ",
		 pc, net);
	farm_model_free(m);

	cr_assert_eq(ask(st, "alpha", &f, &err, at), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f.model, "powercurve");
	cr_assert_str_eq(f.fallback, "", "chosen, not a stand-in");
	cr_assert(!strncmp(f.model_choice, want, strlen(want)), "%s\nwant %s", f.model_choice,
		  want);
	/* the same numbers as the power curve asked for by name */
	cr_assert_eq(ask(st, "alpha", &g, &err,
			 (const char *[]){ "issued", "2026-01-05T05:00:00Z", "horizon", "6", "model",
					   "powercurve", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(g.nlead, f.nlead);
	for (int i = 0; i < f.nlead; i++)
		cr_assert_float_eq(f.point[i], g.point[i], 0);
	cr_assert_str_eq(g.model_choice, "requested");
	forecast_release(&g);
	forecast_release(&f);
	/* nn asked for by name still serves the network */
	cr_assert_eq(ask(st, "alpha", &f, &err, nn), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f.model, "nn");
	cr_assert_str_eq(f.model_choice, "requested");
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(forecast_request, auto_serves_the_network_when_it_validated_better)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 0);
	struct train_options o;
	struct farm_model *m;
	struct forecast f;
	struct wc_error err = { 0 };

	/* a network whose recorded scores beat every baseline: the choice follows them */
	train_options_init(&o);
	o.nn.n_hidden = 1;
	o.nn.hidden[0] = 8;
	o.nn.epochs = 2;
	o.nn.n_members = 1;
	o.features.max_lead = 12;
	cr_assert_eq(farm_model_train(st, "alpha", &o, &m, &err), WC_OK, "%s", err.msg);
	free(m->scores);
	m->scores = strdup("{\"overall\":{\"rmse\":0.01,\"persistence_rmse\":0.3,"
			   "\"climatology_rmse\":0.34,\"powercurve_rmse\":0.02}}");
	cr_assert_eq(farm_model_save(st, m, &err), WC_OK, "%s", err.msg);
	farm_model_free(m);
	cr_assert_eq(ask(st, "alpha", &f, &err,
			 (const char *[]){ "issued", "2026-01-05T05:00:00Z", "horizon", "6", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert_str_eq(f.model, "nn");
	cr_assert_eq(f.model_version, 1);
	cr_assert_str_eq(f.model_choice, "auto: nn (model 1): lowest validation RMSE 0.0100 "
					 "(powercurve 0.0200, persistence 0.3000, climatology "
					 "0.3400)");
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- defect 2: a pinned version that does not exist is an error, never a baseline ---- */

Test(forecast_request, pinned_version_must_exist)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 2);
	struct forecast f;
	struct wc_error err = { 0 };
	const char *auto7[] = { "issued", "2026-01-05T05:00:00Z", "model_version", "7", NULL };
	const char *nn7[] = { "issued", "2026-01-05T05:00:00Z", "model", "nn", "model_version",
			      "7", NULL };
	const char *v1[] = { "issued", "2026-01-05T05:00:00Z", "model", "nn", "model_version",
			     "1", "horizon", "3", NULL };

	cr_assert_eq(ask(st, "alpha", &f, &err, auto7), WC_ENOTFOUND);
	cr_assert_str_eq(err.msg, "no model 7 of farm 'alpha': it has models 1..2");
	cr_assert_eq(ask(st, "alpha", &f, &err, nn7), WC_ENOTFOUND);
	cr_assert_str_eq(err.msg, "no model 7 of farm 'alpha': it has models 1..2");
	/* a farm without models says so, with what to run */
	cr_assert_eq(ask(st, "beta", &f, &err, auto7), WC_ENOTFOUND);
	cr_assert_str_eq(err.msg, "no model 7 of farm 'beta': it has no trained model; run "
				  "'windcast train --farm beta'");
	/* a version with a baseline is a bad request */
	cr_assert_eq(ask(st, "alpha", &f, &err,
			 (const char *[]){ "model", "climatology", "model_version", "1", NULL }),
		     WC_EINVAL);
	cr_assert(strstr(err.msg, "not of the baseline 'climatology'"), "%s", err.msg);
	/* an existing version serves */
	cr_assert_eq(ask(st, "alpha", &f, &err, v1), WC_OK, "%s", err.msg);
	cr_assert_str_eq(f.model, "nn");
	cr_assert_eq(f.model_version, 1);
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- defect 10: the issue time's rule and reason, and "stored" ---- */

Test(forecast_request, default_issue_time_says_which_rule)
{
	char *dir;
	struct store *st = fxr_store(&dir, 0, 0);
	struct wc_error err = { 0 };
	enum forecast_issued_rule rule;
	char why[256];
	int64_t T, before = utc_floor(utc_now(), UTC_HOUR), after;
	struct obs_row late = { .time = utc_floor(utc_now(), UTC_HOUR) + 3 * 86400,
				.power_mw = 10 };

	/* nothing at all: now */
	cr_assert_eq(forecast_default_issued(st, "alpha", 5 * 3600, &T, &rule, why, sizeof(why),
					     &err),
		     WC_OK);
	after = utc_floor(utc_now(), UTC_HOUR);
	cr_assert(T == before || T == after);
	cr_assert_eq(rule, ISSUED_NOW);
	cr_assert_str_eq(why, "now, floored to the hour: no NWP run in the store and no "
			      "observation of farm 'alpha'");
	/* 4 days: the last run 2026-01-04T12Z is delivered at 17Z, the last observation is
	 * 2026-01-05T00Z: the observation is the latest data */
	fx_fill(st, 4, INT64_MAX, 0);
	cr_assert_eq(forecast_default_issued(st, "alpha", 5 * 3600, &T, &rule, why, sizeof(why),
					     &err),
		     WC_OK);
	cr_assert_eq(T, FX_T0 + 4 * 86400);
	cr_assert_eq(rule, ISSUED_LATEST_OBS);
	cr_assert_str_eq(why, "latest data: the observation at 2026-01-05T00:00:00Z, after the "
			      "NWP run 2026-01-04T12:00:00Z delivered at 2026-01-04T17:00:00Z "
			      "(delay 5 h)");
	/* with a delay of 12.5 h the run is delivered later, at 2026-01-05T00:30Z: the issue
	 * time is the hour before */
	cr_assert_eq(forecast_default_issued(st, "alpha", 12 * 3600 + 1800, &T, &rule, why,
					     sizeof(why), &err),
		     WC_OK);
	cr_assert_eq(T, FX_T0 + 4 * 86400);
	cr_assert_eq(rule, ISSUED_LATEST_RUN);
	cr_assert_str_eq(why, "latest data: NWP run 2026-01-04T12:00:00Z delivered at "
			      "2026-01-05T00:30:00Z (delay 12.5 h), floored to the hour");
	/* an observation stamped in the future: now */
	cr_assert_eq(store_obs_upsert(st, "beta", &late, 1, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(forecast_default_issued(st, "beta", 5 * 3600, &T, &rule, why, sizeof(why),
					     &err),
		     WC_OK);
	cr_assert_eq(rule, ISSUED_NOW);
	cr_assert(T >= before && T <= utc_floor(utc_now(), UTC_HOUR));
	{
		const char *want = "now, floored to the hour: the latest data (the observation at ";

		cr_assert(!strncmp(why, want, strlen(want)), "%s", why);
	}
	cr_assert(strstr(why, ") is later"), "%s", why);
	store_close(st);
	tu_rmrf_free(dir);
}

/* Store a copy of f with every point and quantile set to v (to see whether it is
 * reused), computed at `at`, with the delivery delay and horizon cut given. */
static void store_marked(struct store *st, const struct forecast *f, float v, int64_t at,
			 int64_t delay_s, bool cut)
{
	struct forecast g = *f;
	struct wc_error err = { 0 };
	size_t nq = (size_t)f->nlead * f->nq;

	g.point = malloc((size_t)f->nlead * sizeof(float));
	g.q = malloc(nq * sizeof(float));
	for (int i = 0; i < f->nlead; i++)
		g.point[i] = v;
	for (size_t i = 0; i < nq; i++)
		g.q[i] = v;
	g.computed_at = at;
	g.delay_s = delay_s;
	g.horizon_cut = cut;
	snprintf(g.cut_note, sizeof(g.cut_note), "%s", cut ? "horizon cut to 3 h, test" : "");
	g.stored = false;
	cr_assert_eq(forecast_store(st, &g, 1, &err), WC_OK, "%s", err.msg);
	cr_assert(g.stored);
	free(g.point);
	free(g.q);
}

Test(forecast_request, stored_is_stable_and_the_reasons_travel)
{
	char *dir;
	struct store *st = fxr_store(&dir, 4, 0);
	struct forecast a, b, c;
	struct wc_error err = { 0 };
	const char *pc[] = { "model", "powercurve", "horizon", "6", NULL };
	char *body = NULL;

	/* the default issue time, twice: computed and stored, then read back; both say
	 * stored, the same issue time and reason, the same numbers and computation time */
	cr_assert_eq(ask(st, "alpha", &a, &err, pc), WC_OK, "%s", err.msg);
	cr_assert(a.stored);
	cr_assert_eq(a.issued, FX_T0 + 4 * 86400);
	cr_assert_eq(a.issued_rule, ISSUED_LATEST_OBS);
	cr_assert(!strncmp(a.issued_reason, "latest data: the observation at", 31));
	cr_assert_eq(store_forecast_get(st, "alpha", a.issued, "powercurve", &body, &err), WC_OK);
	free(body);
	cr_assert_eq(ask(st, "alpha", &b, &err, pc), WC_OK, "%s", err.msg);
	cr_assert(b.stored);
	cr_assert_eq(b.issued, a.issued);
	cr_assert_eq(b.computed_at, a.computed_at);
	cr_assert_eq(b.issued_rule, a.issued_rule);
	cr_assert_str_eq(b.issued_reason, a.issued_reason);
	cr_assert_str_eq(b.model_choice, "requested");
	cr_assert_eq(b.nlead, 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(b.point[i], a.point[i]);
		cr_assert_eq(b.valid[i], a.valid[i]);
	}
	/* asked for by its time: the same stored forecast, and "requested" */
	cr_assert_eq(ask(st, "alpha", &c, &err,
			 (const char *[]){ "model", "powercurve", "horizon", "6", "issued",
					   "2026-01-05T00:00:00Z", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert(c.stored);
	cr_assert_eq(c.computed_at, a.computed_at);
	cr_assert_eq(c.issued_rule, ISSUED_REQUESTED);
	cr_assert_str_eq(c.issued_reason, "requested");
	forecast_release(&c);
	/* between hours: served as the hour before, and said so */
	cr_assert_eq(ask(st, "alpha", &c, &err,
			 (const char *[]){ "model", "powercurve", "horizon", "6", "issued",
					   "2026-01-04T23:30:00Z", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(c.issued, FX_T0 + 4 * 86400 - 3600);
	cr_assert_str_eq(c.issued_reason, "requested 2026-01-04T23:30:00Z, served as "
					  "2026-01-04T23:00:00Z: rows are hourly, and the hour "
					  "before sees less, never more");
	forecast_release(&c);
	forecast_release(&b);
	forecast_release(&a);
	/* auto on a farm without a model: the power curve stands in, and its stored answer
	 * (with that reason) is the answer next time; the curve asked for by name is no
	 * stand-in, so it does not take that one */
	cr_assert_eq(ask(st, "beta", &a, &err, (const char *[]){ "horizon", "3", NULL }), WC_OK,
		     "%s", err.msg);
	cr_assert_str_eq(a.model, "powercurve");
	cr_assert_str_eq(a.fallback, "no trained model of farm 'beta'; run 'windcast train "
				     "--farm beta'");
	store_marked(st, &a, 0.25f, 1000, a.delay_s, false);
	cr_assert_eq(ask(st, "beta", &b, &err, (const char *[]){ "horizon", "3", NULL }), WC_OK,
		     "%s", err.msg);
	cr_assert(b.stored && b.computed_at == 1000 && b.point[0] == 0.25f);
	cr_assert_str_eq(b.fallback, a.fallback);
	forecast_release(&b);
	cr_assert_eq(ask(st, "beta", &b, &err,
			 (const char *[]){ "horizon", "3", "model", "powercurve", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert(b.computed_at != 1000 && !b.fallback[0]);
	forecast_release(&b);
	forecast_release(&a);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(forecast_request, when_a_stored_forecast_is_reused)
{
	char *dir;
	struct store *st = fxr_store(&dir, 4, 0);
	struct forecast f, g;
	struct wc_error err = { 0 };
	const char *at6[] = { "model", "persistence", "issued", "2026-01-03T05:00:00Z", "horizon",
			      "6", NULL };
	const char *at4[] = { "model", "persistence", "issued", "2026-01-03T05:00:00Z", "horizon",
			      "4", NULL };
	const char *at9[] = { "model", "persistence", "issued", "2026-01-03T05:00:00Z", "horizon",
			      "9", NULL };

	cr_assert_eq(ask(st, "alpha", &f, &err, at6), WC_OK, "%s", err.msg);
	cr_assert_eq(f.delay_s, 5 * 3600);
	/* a stored forecast with the leads asked for: reused, as stored */
	store_marked(st, &f, 0.25f, 1000, f.delay_s, false);
	cr_assert_eq(ask(st, "alpha", &g, &err, at4), WC_OK, "%s", err.msg);
	cr_assert(g.stored && g.computed_at == 1000 && g.point[0] == 0.25f);
	cr_assert_eq(g.capacity_mw, 100, "MW at the farm's capacity");
	forecast_release(&g);
	/* fewer leads than asked, not cut for want of data: computed again (and stored in
	 * its place) */
	cr_assert_eq(ask(st, "alpha", &g, &err, at9), WC_OK, "%s", err.msg);
	cr_assert(g.stored && g.computed_at != 1000 && g.nlead == 9);
	cr_assert_float_eq(g.point[0], f.point[0], 0);
	forecast_release(&g);
	/* fewer leads, cut for want of data: a new computation would cut too, so reused; the
	 * cut is said only when the leads asked for are more than it has */
	store_marked(st, &f, 0.5f, 2000, f.delay_s, true);
	cr_assert_eq(ask(st, "alpha", &g, &err, at9), WC_OK, "%s", err.msg);
	cr_assert(g.computed_at == 2000 && g.horizon_cut, "%s", g.cut_note);
	forecast_release(&g);
	cr_assert_eq(ask(st, "alpha", &g, &err, at4), WC_OK, "%s", err.msg);
	cr_assert(g.computed_at == 2000 && !g.horizon_cut && !g.cut_note[0], "%s", g.cut_note);
	forecast_release(&g);
	/* made with another delivery delay (another availability): computed again */
	store_marked(st, &f, 0.75f, 3000, 0, false);
	cr_assert_eq(ask(st, "alpha", &g, &err, at6), WC_OK, "%s", err.msg);
	cr_assert(g.computed_at != 3000 && g.point[0] != 0.75f);
	forecast_release(&g);
	/* a stand-in for another model (its fallback set): computed again */
	snprintf(f.fallback, sizeof(f.fallback), "no trained model");
	store_marked(st, &f, 0.75f, 4000, f.delay_s, false);
	cr_assert_eq(ask(st, "alpha", &g, &err, at6), WC_OK, "%s", err.msg);
	cr_assert(g.computed_at != 4000 && !g.fallback[0]);
	forecast_release(&g);
	/* --no-store: computed, not kept, and said so */
	{
		struct forecast_request r;

		forecast_request_init(&r);
		r.store = false;
		forecast_request_set(&r, "model", "climatology", &err);
		forecast_request_set(&r, "issued", "2026-01-03T07:00:00Z", &err);
		cr_assert_eq(forecast_get_or_issue(st, "alpha", &r, &g, &err), WC_OK, "%s", err.msg);
		cr_assert(!g.stored);
		forecast_release(&g);
		cr_assert_eq(forecast_get_or_issue(st, "alpha", &r, &g, &err), WC_OK, "%s", err.msg);
		cr_assert(!g.stored, "not stored the first time, so not found the second");
		forecast_release(&g);
	}
	forecast_release(&f);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(forecast_request, stored_network_forecast_follows_the_point_rule_asked)
{
	char *dir;
	struct store *st = fxr_store(&dir, 6, 1);
	struct forecast mean, median, again;
	struct wc_error err = { 0 };
	int med = 0;

	/* computed and stored with the mean as point; asked again with the default (the
	 * model's median): the stored quantiles give the median, not the stored mean */
	cr_assert_eq(ask(st, "alpha", &mean, &err,
			 (const char *[]){ "model", "nn", "issued", "2026-01-05T05:00:00Z", "horizon",
					   "6", "point", "mean", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert(mean.stored && mean.computed_at > 0);
	cr_assert_eq(ask(st, "alpha", &median, &err,
			 (const char *[]){ "model", "nn", "issued", "2026-01-05T05:00:00Z", "horizon",
					   "6", NULL }),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(median.computed_at, mean.computed_at, "reused");
	for (int k = 1; k < median.nq; k++)
		if (fabsf(median.taus[k] - 0.5f) < fabsf(median.taus[med] - 0.5f))
			med = k;
	cr_assert_float_eq(median.taus[med], 0.5f, 1e-6);
	for (int i = 0; i < median.nlead; i++) {
		const float *q = median.q + (size_t)i * median.nq;

		cr_assert_eq(median.point[i], q[med], "lead %d", i + 1);
		cr_assert_float_eq(mean.point[i], quantile_mean(mean.taus, q, mean.nq), 1e-6);
	}
	/* and mean again from the stored quantiles */
	cr_assert_eq(ask(st, "alpha", &again, &err,
			 (const char *[]){ "model", "nn", "issued", "2026-01-05T05:00:00Z", "horizon",
					   "6", "point", "mean", NULL }),
		     WC_OK, "%s", err.msg);
	for (int i = 0; i < again.nlead; i++)
		cr_assert_float_eq(again.point[i], mean.point[i], 1e-6);
	forecast_release(&again);
	forecast_release(&median);
	forecast_release(&mean);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- defect 3 (the message) and the status codes ---- */

Test(forecast_request, no_data_is_not_not_found)
{
	char *dir;
	struct store *st = fxr_store(&dir, 4, 0);
	struct forecast f;
	struct wc_error err = { 0 };
	struct farm late = { .id = "gamma", .name = "Gamma", .lat = 56, .lon = 9,
			     .capacity_mw = 20, .hub_height_m = NAN };

	/* a farm added after the grids were ingested has no NWP: that is the cause named,
	 * not a missing model */
	cr_assert_eq(store_farm_add(st, &late, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(ask(st, "gamma", &f, &err, NULL), WC_ENODATA);
	cr_assert(strstr(err.msg, "no NWP for farm 'gamma' in the year up to "
				  "2026-01-04T17:00:00Z: ingest a grid that covers it"),
		  "%s", err.msg);
	cr_assert_null(strstr(err.msg, "train"), "%s", err.msg);
	cr_assert(strstr(err.msg, "no observation of farm 'gamma'"), "%s", err.msg);
	cr_assert_eq(ask(st, "gamma", &f, &err, (const char *[]){ "model", "powercurve", NULL }),
		     WC_ENODATA);
	cr_assert(strstr(err.msg, "no NWP for farm 'gamma'"), "%s", err.msg);
	/* no such farm, no such model: not found */
	cr_assert_eq(ask(st, "nope", &f, &err, NULL), WC_ENOTFOUND);
	cr_assert_eq(ask(st, "alpha", &f, &err, (const char *[]){ "model", "nn", NULL }),
		     WC_ENOTFOUND);
	cr_assert(strstr(err.msg, "no trained model of farm 'alpha'"), "%s", err.msg);
	/* a farm with NWP but no observations at T: no data, with the reasons */
	cr_assert_eq(ask(st, "alpha", &f, &err,
			 (const char *[]){ "model", "persistence", "issued", "2026-03-01T00:00:00Z",
					   NULL }),
		     WC_ENODATA);
	cr_assert(strstr(err.msg, "no observation of farm 'alpha' in the 24 h"), "%s", err.msg);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- the CLI on the same path ---- */

/* Run the CLI on dir; returns the exit status, *out and *err malloc'd. */
#define CLI(dir, out, err, ...) tu_cli(dir, out, err, __VA_ARGS__)

Test(forecast_request, cli_messages_name_the_option_and_value)
{
	char *dir, *errs = NULL;
	struct store *st = fxr_store(&dir, 4, 1);
	static const char *const bad[][2] = {
		{ "--issued-from 2026-01-03T00:00Z --issued-to 2026-01-02T00:00Z",
		  "invalid --issued-to '2026-01-02T00:00Z': it is before --issued-from "
		  "'2026-01-03T00:00Z'" },
		{ "--issued-from 2026-01-03T00:00Z --issued-to 2999-01-02T00:00Z --every 1",
		  "invalid --issued-to '2999-01-02T00:00Z': every 1 h from --issued-from "
		  "'2026-01-03T00:00Z' makes more than 1000000 issue times" },
		{ "--every 6", "invalid --every '6': it goes with --issued-from and --issued-to" },
		{ "--horizon 0", "invalid --horizon '0': use 1..744 hours" },
		{ "--model-version x", "invalid --model-version 'x': use a model version" },
		{ "--model bogus", "invalid --model 'bogus': use auto, nn, persistence, "
				   "climatology or powercurve" },
		{ "--quantiles 0.5,2", "invalid --quantiles '0.5,2': use at most 128 distinct levels" },
		{ "--units kw", "invalid --units 'kw': use mw or frac" },
		{ "--point avg", "invalid --point 'avg': use median or mean" },
		{ "--issued soon", "invalid --issued 'soon': use ISO 8601" },
		{ "--model powercurve --model-version 1",
		  "model version 1 is a version of the trained model (model nn or auto), not of "
		  "the baseline 'powercurve'" },
	};

	store_close(st);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(CLI(dir, NULL, &errs, "forecast --farm alpha %s", bad[i][0]), 2,
			     "%s: %s", bad[i][0], errs);
		cr_assert(strstr(errs, bad[i][1]), "%s:\n%s\nwant %s", bad[i][0], errs, bad[i][1]);
		free(errs);
	}
	/* defect 2 on the CLI: exit 1 naming the versions there are */
	cr_assert_eq(CLI(dir, NULL, &errs, "forecast --farm alpha --model-version 7"), 1, "%s",
		     errs);
	cr_assert_str_eq(errs, "windcast forecast: no model 7 of farm 'alpha': it has model 1 "
			       "only\n");
	free(errs);
	tu_rmrf_free(dir);
}

Test(forecast_request, cli_csv_carries_model_and_fallback_notes_on_stderr)
{
	char *dir, *out = NULL, *errs = NULL, *line, *save = NULL;
	struct store *st = fxr_store(&dir, 4, 0);
	int n = 0;

	store_close(st);
	/* no model: the power curve stands in; the rows say so, stderr says why */
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --farm alpha --issued 2026-01-03T05:00Z "
					   "--horizon 3 --format csv --quantiles 0.5"),
		     0, "%s", errs);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		if (n == 0)
			cr_assert_str_eq(line, "farm,issued,period_start,period_end,valid_time,"
					       "lead_h,model,model_version,fallback,point,p50");
		else
			cr_assert(!strncmp(line, "alpha,2026-01-03T05:00:00Z,", 27) &&
					  strstr(line, ",powercurve,,true,"),
				  "%s", line);
	}
	cr_assert_eq(n, 4);
	cr_assert(strstr(errs, "windcast forecast: model: auto: no usable trained model"), "%s",
		  errs);
	cr_assert(strstr(errs, "windcast forecast: issued 2026-01-03T05:00:00Z: fallback to "
			       "powercurve: no trained model of farm 'alpha'; run 'windcast train "
			       "--farm alpha'\n"),
		  "%s", errs);
	cr_assert_null(strstr(errs, "issued 2026-01-03T05:00:00Z: requested"), "%s", errs);
	free(out);
	free(errs);
	/* a horizon past the NWP's reach: the note on stderr; --quiet keeps it quiet */
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --farm alpha --issued 2026-01-05T00:00Z "
					   "--horizon 48 --format csv --model powercurve"),
		     0, "%s", errs);
	cr_assert(strstr(errs, "issued 2026-01-05T00:00:00Z: note: horizon cut to "), "%s", errs);
	cr_assert(strstr(errs, "the reach of the NWP available at the issue time"), "%s", errs);
	free(out);
	free(errs);
	cr_assert_eq(CLI(dir, &out, &errs, "--quiet forecast --farm alpha --issued 2026-01-05T00:00Z "
					   "--horizon 48 --format csv --model powercurve"),
		     0, "%s", errs);
	cr_assert_str_eq(errs, "");
	free(out);
	free(errs);
	/* the default issue time: its rule on stderr */
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --farm alpha --horizon 2 --format csv "
					   "--model climatology"),
		     0, "%s", errs);
	cr_assert_str_eq(errs, "windcast forecast: issued 2026-01-05T00:00:00Z: latest_observation: "
			       "latest data: the observation at 2026-01-05T00:00:00Z, after the NWP "
			       "run 2026-01-04T12:00:00Z delivered at 2026-01-04T17:00:00Z (delay 5 "
			       "h)\n");
	free(out);
	free(errs);
	tu_rmrf_free(dir);
}

Test(forecast_request, cli_stored_and_reasons_in_json)
{
	char *dir, *out = NULL, *errs = NULL;
	struct store *st = fxr_store(&dir, 4, 0);
	json_t *a, *b;

	store_close(st);
	/* the CLI used to say "stored": false for what it had just stored */
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --farm alpha --horizon 3 --model persistence --format json"),
		     0, "%s", errs);
	a = json_loads(out, 0, NULL);
	cr_assert_not_null(a, "%s", out);
	free(out);
	free(errs);
	cr_assert(json_is_true(json_object_get(a, "stored")), "stored");
	cr_assert_str_eq(json_string_value(json_object_get(a, "issued_rule")),
			 "latest_observation");
	cr_assert_str_eq(json_string_value(json_object_get(a, "model_choice")), "requested");
	/* again: read back, the same answer but for nothing */
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --farm alpha --horizon 3 --model persistence --format json"),
		     0, "%s", errs);
	b = json_loads(out, 0, NULL);
	cr_assert(json_equal(a, b), "first %s\nsecond %s", json_dumps(a, 0), out);
	json_decref(b);
	free(out);
	free(errs);
	/* --no-store: computed, not kept */
	cr_assert_eq(CLI(dir, &out, &errs, "forecast --farm alpha --horizon 3 --model climatology --format json "
					   "--no-store"),
		     0, "%s", errs);
	b = json_loads(out, 0, NULL);
	cr_assert(json_is_false(json_object_get(b, "stored")), "%s", out);
	json_decref(b);
	free(out);
	free(errs);
	json_decref(a);
	tu_rmrf_free(dir);
}

/*
 * The text form (the default --format) shows the same numbers as the CSV, to its three
 * decimals, under a header line that names the farm, the issue time and the model.
 */
Test(forecast_request, cli_text_is_the_default_and_matches_csv)
{
	char *dir, *text = NULL, *csv = NULL, *errs = NULL, *save = NULL, *save2 = NULL;
	struct store *st = fxr_store(&dir, 4, 0);
	const char *args = "forecast --farm alpha --issued 2026-01-03T05:00Z --horizon 4 "
			   "--model persistence --quantiles 0.1,0.5,0.9 --units frac";
	char *line, *row;
	int rows = 0;

	store_close(st);
	cr_assert_eq(CLI(dir, &text, &errs, "%s", args), 0, "%s", errs);
	free(errs);
	cr_assert_eq(CLI(dir, &csv, &errs, "%s --format csv", args), 0, "%s", errs);
	free(errs);
	cr_assert(!strncmp(text, "farm alpha, issued 2026-01-03T05:00:00Z (", 41), "%s", text);
	cr_assert_not_null(strstr(text, "model persistence"), "%s", text);
	line = strtok_r(text, "\n", &save);
	while (line && strncmp(line, "period_start", 12))
		line = strtok_r(NULL, "\n", &save);
	cr_assert_not_null(line, "no table header");
	row = strtok_r(csv, "\n", &save2);	/* the CSV header */
	while ((line = strtok_r(NULL, "\n", &save)) && (row = strtok_r(NULL, "\n", &save2))) {
		char tp[32], cp[32], tv[32], cv[32];
		long lead, clead;
		double t[4], c[4];

		cr_assert_eq(sscanf(line, "%31s %31s %ld %lf %lf %lf %lf", tp, tv, &lead, &t[0],
				    &t[1], &t[2], &t[3]),
			     7, "%s", line);
		cr_assert_eq(sscanf(row, "alpha,%*[^,],%31[^,],%*[^,],%31[^,],%ld,persistence,,false,"
					 "%lf,%lf,%lf,%lf",
				    cp, cv, &clead, &c[0], &c[1], &c[2], &c[3]),
			     7, "%s", row);
		cr_assert_str_eq(tp, cp);
		cr_assert_str_eq(tv, cv);
		cr_assert_eq(lead, clead);
		for (int k = 0; k < 4; k++)
			cr_assert_leq(fabs(t[k] - c[k]), 0.0005, "%s vs %s", line, row);
		rows++;
	}
	cr_assert_eq(rows, 4);
	free(text);
	free(csv);
	tu_rmrf_free(dir);
}
