/*
 * test_train_request.c - the training request path (forecast/train_request.h) and its
 * option table: every option accepted by the CLI's parser and by JSON with the same
 * effect (each checked against the field it must set, written out by hand), bad values
 * and wrong JSON types refused with the same hint by both, the defaults the usage text
 * shows equal to the real ones, pool resolution against a store, and the usage text and
 * the docs' option lists generated from the table. The HTTP job is in test_http_train.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "forecast/train_request.h"
#include "testutil.h"

TestSuite(train_request, .timeout = 60);

/* One valid value per option, not its default: the CLI's text and the same in JSON. */
static const struct {
	const char *name, *cli, *json;
} goods[] = {
	{ "from", "2026-01-03T06:00Z", "\"2026-01-03T06:00:00Z\"" },
	{ "to", "2026-02-01T00:00Z", "\"2026-02-01T00:00Z\"" },
	{ "delay", "4.5", "4.5" },
	{ "leads", "24", "24" },
	{ "issue-every", "12", "12" },
	{ "short-leads", "6", "6" },
	{ "short-every", "2", "2.0" },
	{ "val-frac", "0.123456789012", "0.123456789012" },
	{ "val-mode", "weekly", "\"weekly\"" },
	{ "regional", "100km", "\"100km\"" },
	{ "nbr-hours", "2", "2" },
	{ "nbr-full", NULL, "true" },
	{ "lags", "0,2,24", "[0,2,24]" },
	{ "obs-max-lead", "0", "0" },
	{ "obs-gate", "lags", "\"lags\"" },
	{ "obs-dropout", "0.125", "0.125" },
	{ "no-prev-run", NULL, "true" },
	{ "nwp-only", NULL, "true" },
	{ "no-doy", NULL, "true" },
	{ "ensemble", "5", "5" },
	{ "workers", "29", "29" },
	{ "hidden", "128,32,8", "[128,32,8]" },
	{ "activation", "silu", "\"silu\"" },
	{ "dropout", "0.25", "0.25" },
	{ "epochs", "7", "7" },
	{ "patience", "2", "2" },
	{ "lr", "0.01", "0.01" },
	{ "weight-decay", "0", "0" },
	{ "batch", "64", "64" },
	{ "seed", "99", "99" },
	{ "quantiles", "0.9,0.1,0.5", "[0.1,0.5,0.9]" },
	{ "point", "mean", "\"mean\"" },
	{ "smooth", "2", "2" },
	{ "adapt", "off", "\"off\"" },
	{ "adapt-half-life", "36", "36" },
	{ "adapt-prior", "0.5", "0.5" },
	{ "refit", NULL, "true" },
};
#define NGOODS (sizeof(goods) / sizeof(goods[0]))

/* Whether r carries option `name`'s value of goods[]: where each option must land. */
static bool has_good(const char *name, const struct train_request *r)
{
	const struct train_options *o = &r->o;
	const struct feature_config *f = &o->features;
	const struct nn_config *n = &o->nn;

#define IS(x, expr)                  \
	if (!strcmp(name, x))        \
		return (expr)
	IS("from", o->from == 1767420000);	/* 2026-01-01 is 1767225600 */
	IS("to", o->to == 1769904000);
	IS("delay", f->delay_s == 16200);
	IS("leads", f->max_lead == 24);
	IS("issue-every", o->issue_every == 43200);
	IS("short-leads", o->short_leads == 6);
	IS("short-every", o->short_every == 7200);
	IS("val-frac", o->val_frac == 0.123456789012);
	IS("val-mode", o->val_mode == VAL_WEEKLY);
	IS("regional", !strcmp(r->regional, "100km"));
	IS("nbr-hours", f->nbr_hours == 2);
	IS("nbr-full", f->nbr_full);
	IS("lags", f->n_lags == 3 && f->lags[0] == 0 && f->lags[1] == 2 && f->lags[2] == 24);
	IS("obs-max-lead", f->obs_max_lead == 0);
	IS("obs-gate", !f->obs_gate);
	IS("obs-dropout", o->obs_dropout == 0.125);
	IS("no-prev-run", !f->prev_run);
	IS("nwp-only", f->nwp_only);
	IS("no-doy", f->no_doy);
	IS("ensemble", n->n_members == 5);
	IS("workers", n->workers == 29);
	IS("hidden", n->n_hidden == 3 && n->hidden[0] == 128 && n->hidden[1] == 32 &&
			     n->hidden[2] == 8);
	IS("activation", n->act == NN_ACT_SILU);
	IS("dropout", n->dropout == 0.25f);
	IS("epochs", n->epochs == 7);
	IS("patience", n->patience == 2);
	IS("lr", n->lr == 0.01f);
	IS("weight-decay", n->weight_decay == 0.0f);
	IS("batch", n->batch == 64);
	IS("seed", n->seed == 99);
	IS("quantiles", n->n_quantiles == 3 && n->quantiles[0] == 0.1f &&
				n->quantiles[1] == 0.5f && n->quantiles[2] == 0.9f);
	IS("point", o->point_mean);
	IS("smooth", o->smooth == 2);
	IS("adapt", !o->adapt.on);
	IS("adapt-half-life", o->adapt.half_life_s == 36 * 3600);
	IS("adapt-prior", o->adapt.prior == 0.5);
	IS("refit", o->refit);
#undef IS
	cr_assert_fail("no check of option '%s' in has_good: add one", name);
	return false;
}

/* The JSON name of a CLI name. */
static const char *json_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
	return buf;
}

/* A JSON-style request from a body given as text; the status of train_request_json. */
static enum wc_status from_json(struct train_request *r, const char *text,
				struct wc_error *err)
{
	json_error_t jerr;
	json_t *body = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	enum wc_status ret;

	cr_assert_not_null(body, "%s: %s", text, jerr.text);
	train_request_init(r, TRAIN_JSON);
	ret = train_request_json(r, body, err);
	json_decref(body);
	return ret;
}

/* The options and regional spec of two requests (the style may differ) are equal. */
static bool same_options(const struct train_request *a, const struct train_request *b)
{
	return !memcmp(&a->o, &b->o, sizeof(a->o)) && !strcmp(a->regional, b->regional) &&
	       a->n_pool == b->n_pool && a->pool_all == b->pool_all;
}

Test(train_request, table_is_well_formed)
{
	char a[64], b[64];

	cr_assert_geq(train_option_count, 30);
	for (size_t i = 0; i < train_option_count; i++) {
		const struct train_option *o = &train_option_table[i];

		cr_assert(strspn(o->name, "abcdefghijklmnopqrstuvwxyz-") == strlen(o->name), "%s",
			  o->name);
		cr_assert(o->help && *o->help && !strchr(o->help, '|'), "%s: help", o->name);
		cr_assert(o->type == TOPT_BOOL ? !o->def : o->def != NULL, "%s: default", o->name);
		cr_assert_leq(o->offset + o->size, sizeof(struct train_request), "%s", o->name);
		cr_assert_leq(o->min, o->max, "%s", o->name);
		cr_assert_eq(train_option_find(o->name, TRAIN_CLI), o);
		cr_assert_eq(train_option_find(json_name(o->name, a, sizeof(a)), TRAIN_JSON), o);
		if (strchr(o->name, '-'))
			cr_assert_null(train_option_find(o->name, TRAIN_JSON), "%s", o->name);
		for (size_t k = 0; k < i; k++)
			cr_assert(strcmp(json_name(train_option_table[k].name, b, sizeof(b)), a),
				  "'%s' twice", a);
	}
	/* the ranges are nn.h's and features.h's hard limits, not copies of them */
	cr_assert_eq(train_option_find("hidden", TRAIN_CLI)->max, NN_MAX_WIDTH);
	cr_assert_eq(train_option_find("hidden", TRAIN_CLI)->max_count, NN_MAX_HIDDEN);
	cr_assert_eq(train_option_find("ensemble", TRAIN_CLI)->max, NN_MAX_MEMBERS);
	cr_assert_eq(train_option_find("quantiles", TRAIN_CLI)->max_count, NN_MAX_QUANTILES);
	cr_assert_eq(train_option_find("batch", TRAIN_CLI)->max, NN_MAX_BATCH);
	cr_assert_eq(train_option_find("dropout", TRAIN_CLI)->max, NN_MAX_DROPOUT);
	cr_assert_eq(train_option_find("lags", TRAIN_CLI)->max_count, FEAT_MAX_LAGS);
	cr_assert_eq(train_option_find("leads", TRAIN_CLI)->max, FEAT_MAX_LEAD);
	cr_assert_eq(train_option_find("smooth", TRAIN_CLI)->max, MODEL_SMOOTH_MAX);
	cr_assert_eq(train_option_find("obs-dropout", TRAIN_CLI)->max, MODEL_MAX_OBS_DROPOUT);
	cr_assert_eq(train_option_find("adapt-half-life", TRAIN_CLI)->min, ADAPT_MIN_HALF_LIFE_H);
	cr_assert_eq(train_option_find("adapt-half-life", TRAIN_CLI)->max, ADAPT_MAX_HALF_LIFE_H);
	cr_assert_eq(train_option_find("adapt-prior", TRAIN_CLI)->max, ADAPT_MAX_PRIOR);
	cr_assert_eq(train_option_find("val-frac", TRAIN_CLI)->max, MODEL_MAX_VAL_FRAC);
}

/* The defaults the usage text and docs show are the ones a request starts with. */
Test(train_request, shown_defaults_are_the_real_ones)
{
	struct train_request def, r;
	struct wc_error err = { 0 };
	int checked = 0;

	train_request_init(&def, TRAIN_CLI);
	for (size_t i = 0; i < train_option_count; i++) {
		const struct train_option *o = &train_option_table[i];

		if (!o->def || o->flags & TOPT_DEF_WORDS)
			continue;
		r = def;
		cr_assert_eq(train_option_set(&r, o, o->def, &err), WC_OK, "%s", err.msg);
		cr_assert(same_options(&r, &def), "--%s: the shown default '%s' is not the real one",
			  o->name, o->def);
		checked++;
	}
	cr_assert_geq(checked, 20);
}

Test(train_request, every_option_same_by_cli_and_json)
{
	struct train_request def, cli, js;
	struct wc_error err = { 0 };
	char body[256], jn[64];

	train_request_init(&def, TRAIN_CLI);
	/* every option of the table has a case here */
	for (size_t i = 0; i < train_option_count; i++) {
		size_t k = 0;

		while (k < NGOODS && strcmp(goods[k].name, train_option_table[i].name))
			k++;
		cr_assert_lt(k, NGOODS, "no case for --%s in goods[]", train_option_table[i].name);
	}
	for (size_t i = 0; i < NGOODS; i++) {
		const struct train_option *o = train_option_find(goods[i].name, TRAIN_CLI);

		cr_assert_not_null(o, "%s", goods[i].name);
		train_request_init(&cli, TRAIN_CLI);
		cr_assert_eq(train_option_set(&cli, o, goods[i].cli, &err), WC_OK, "%s", err.msg);
		snprintf(body, sizeof(body), "{\"%s\": %s}", json_name(o->name, jn, sizeof(jn)),
			 goods[i].json);
		cr_assert_eq(from_json(&js, body, &err), WC_OK, "%s: %s", body, err.msg);
		cr_assert(has_good(o->name, &cli), "--%s %s", o->name, goods[i].cli);
		cr_assert(has_good(o->name, &js), "%s", body);
		cr_assert(same_options(&cli, &js), "--%s %s and %s differ", o->name, goods[i].cli,
			  body);
		/* workers' default is the CPU count, which might be 29 */
		if (strcmp(o->name, "workers"))
			cr_assert(!has_good(o->name, &def), "%s: the case is the default", o->name);
	}
}

/* Every option at once, and back through the job's record of it. */
Test(train_request, all_options_round_trip_through_json)
{
	struct train_request cli, js;
	struct wc_error err = { 0 };
	json_t *v;
	char *text;

	train_request_init(&cli, TRAIN_CLI);
	for (size_t i = 0; i < NGOODS; i++)
		cr_assert_eq(train_option_set(&cli, train_option_find(goods[i].name, TRAIN_CLI),
					      goods[i].cli, &err),
			     WC_OK, "%s", err.msg);
	for (size_t i = 0; i < NGOODS; i++)
		cr_assert(has_good(goods[i].name, &cli), "--%s was overwritten", goods[i].name);
	v = train_request_to_json(&cli);
	cr_assert_eq(json_object_size(v), train_option_count);
	cr_assert_eq(json_integer_value(json_object_get(v, "short_leads")), 6);
	cr_assert(json_is_true(json_object_get(v, "no_prev_run")));
	cr_assert_str_eq(json_string_value(json_object_get(v, "from")), "2026-01-03T06:00:00Z");
	cr_assert_float_eq(json_real_value(json_object_get(v, "delay")), 4.5, 1e-12);
	text = json_dumps(v, JSON_COMPACT);
	cr_assert_eq(from_json(&js, text, &err), WC_OK, "%s: %s", text, err.msg);
	cr_assert(same_options(&cli, &js), "%s", text);
	free(text);
	json_decref(v);
	/* defaults described in words are null, and null keeps a default */
	train_request_init(&cli, TRAIN_CLI);
	v = train_request_to_json(&cli);
	cr_assert(json_is_null(json_object_get(v, "from")));
	cr_assert(json_is_null(json_object_get(v, "issue_every")));
	json_decref(v);
	cr_assert_eq(from_json(&js, "{\"from\":null,\"dropout\":null,\"hidden\":null}", &err), WC_OK);
	cr_assert(same_options(&cli, &js));
}

/* Bad values: the same hint by the CLI and by JSON. */
static const struct {
	const char *name, *cli, *json, *hint;
} bads[] = {
	{ "dropout", "2", "2", "use 0..0.9" },
	{ "dropout", "-0.1", "-0.1", "use 0..0.9" },
	{ "dropout", "0.1x", "\"0.1\"", "use 0..0.9" },
	{ "ensemble", "0", "0", "use an integer 1..32" },
	{ "ensemble", "2.5", "2.5", "use an integer 1..32" },
	{ "workers", "33", "33", "use an integer 1..32" },
	{ "hidden", "4097", "[4097]", "use 1..8 values 1..4096, e.g. 128,64" },
	{ "hidden", "1,2,3,4,5,6,7,8,9", "[1,2,3,4,5,6,7,8,9]",
	  "use 1..8 values 1..4096, e.g. 128,64" },
	{ "hidden", "none", "[]", "use 1..8 values 1..4096, e.g. 128,64" },
	{ "hidden", "64,,64", "[64,\"a\"]", "use 1..8 values 1..4096, e.g. 128,64" },
	{ "hidden", "64.5", "[64.5]", "use 1..8 values 1..4096, e.g. 128,64" },
	{ "lr", "0", "0", "use a value above 0, up to 1" },
	{ "lr", "1e-50", "1e-50", "use a value above 0, up to 1" },
	{ "quantiles", "0.5,0.5", "[0.5,0.5]",
	  "use 1..64 distinct levels in (0, 1), e.g. 0.05,0.5,0.95 or 0.01:0.99:0.02" },
	{ "quantiles", "0,0.5", "[0,0.5]",
	  "use 1..64 distinct levels in (0, 1), e.g. 0.05,0.5,0.95 or 0.01:0.99:0.02" },
	{ "quantiles", "0.01:0.99:0.01", "\"0.01:0.99:0.01\"",
	  "use 1..64 distinct levels in (0, 1), e.g. 0.05,0.5,0.95 or 0.01:0.99:0.02" },
	{ "delay", "721", "721", "use hours 0..720" },
	{ "delay", "inf", "\"inf\"", "use hours 0..720" },
	{ "issue-every", "0.5", "0.5", "use hours 1..744" },
	{ "activation", "tanh", "\"tanh\"", "use relu or silu" },
	{ "val-mode", "daily", "\"daily\"", "use tail or weekly" },
	{ "point", "Mean", "\"Mean\"", "use median or mean" },
	{ "obs-gate", "some", "\"some\"", "use lags or all" },
	{ "obs-dropout", "0.6", "0.6", "use 0..0.5" },
	{ "adapt", "yes", "true", "use off or on" },
	{ "adapt-half-life", "5", "5", "use hours 6..2160" },
	{ "adapt-prior", "-1", "-1", "use 0..100000" },
	{ "from", "yesterday", "\"yesterday\"", "use ISO 8601, e.g. 2026-03-01T00:00Z" },
	{ "to", "2026-13-01T00:00Z", "5", "use ISO 8601, e.g. 2026-03-01T00:00Z" },
	{ "lags", "169", "[169]", "use 0..12 values 0..168, e.g. 0,1,2,3,6 or none" },
	{ "lags", "-1", "[-1]", "use 0..12 values 0..168, e.g. 0,1,2,3,6 or none" },
	{ "seed", "-1", "-1", "use an integer 0..2147483647" },
	{ "batch", "65537", "65537", "use an integer 1..65536" },
	{ "smooth", "7", "7", "use an integer 0..6" },
	{ "val-frac", "0.6", "0.6", "use 0..0.5" },
	{ "nbr-full", "yes", "1", "use true or false" },
};

Test(train_request, bad_values_same_hint)
{
	struct train_request r;
	struct wc_error err = { 0 };
	char body[256], want[512], jn[64];

	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct train_option *o = train_option_find(bads[i].name, TRAIN_CLI);

		train_request_init(&r, TRAIN_CLI);
		cr_assert_eq(train_option_set(&r, o, bads[i].cli, &err), WC_EINVAL, "--%s %s",
			     o->name, bads[i].cli);
		snprintf(want, sizeof(want), "invalid --%s '%s': %s", o->name, bads[i].cli,
			 bads[i].hint);
		cr_assert_str_eq(err.msg, want);
		json_name(o->name, jn, sizeof(jn));
		snprintf(body, sizeof(body), "{\"%s\":%s}", jn, bads[i].json);
		cr_assert_eq(from_json(&r, body, &err), WC_EINVAL, "%s", body);
		snprintf(want, sizeof(want), "invalid '%s' %s: %s", jn, bads[i].json, bads[i].hint);
		cr_assert_str_eq(err.msg, want);
	}
}

/* Each numeric option's range, from the table: its ends pass, just beyond them fails,
 * by both routes with the same hint. */
Test(train_request, numeric_ranges_at_their_ends)
{
	struct train_request r;
	struct wc_error err = { 0 }, jerr = { 0 };
	char text[64], body[128], jn[64], hint[256];
	const char *colon;

	for (size_t i = 0; i < train_option_count; i++) {
		const struct train_option *o = &train_option_table[i];
		double in[2] = { o->min, o->max }, out[2] = { o->min - 1, o->max + 1 };

		if (o->type != TOPT_INT && o->type != TOPT_NUMBER && o->type != TOPT_HOURS)
			continue;
		if (o->flags & TOPT_MIN_OPEN) {
			in[0] = o->min + 1e-6;
			out[0] = o->min;
		}
		train_option_hint(o, hint, sizeof(hint));
		for (int k = 0; k < 4; k++) {
			double v = k < 2 ? in[k] : out[k - 2];

			snprintf(text, sizeof(text), "%.17g", v);
			train_request_init(&r, TRAIN_CLI);
			cr_assert_eq(train_option_set(&r, o, text, &err), k < 2 ? WC_OK : WC_EINVAL,
				     "--%s %s: %s", o->name, text, err.msg);
			snprintf(body, sizeof(body), "{\"%s\":%s}", json_name(o->name, jn, sizeof(jn)),
				 text);
			cr_assert_eq(from_json(&r, body, &jerr), k < 2 ? WC_OK : WC_EINVAL, "%s: %s",
				     body, jerr.msg);
			if (k < 2)
				continue;
			colon = strrchr(err.msg, ':');
			cr_assert_str_eq(colon + 2, hint, "%s", err.msg);
			cr_assert_str_eq(strrchr(jerr.msg, ':') + 2, hint, "%s", jerr.msg);
		}
	}
}

Test(train_request, json_fields_and_types)
{
	static const char *const cases[][2] = {
		{ "{\"dropout\":\"0.2\"}", "invalid 'dropout' \"0.2\": use 0..0.9" },
		{ "{\"activation\":[\"relu\"]}", "invalid 'activation' [\"relu\"]: use relu or silu" },
		{ "{\"regional\":\"a\\u0000b\"}",
		  "invalid 'regional' \"a\\u0000b\": use none, all, a radius such as 100km, or "
		  "farm ids a,b" },
		{ "{\"pool\":42}", "invalid 'pool' 42: use \"all\" or an array of 2..32 farm ids" },
		{ "{\"pool\":\"a,b\"}",
		  "invalid 'pool' \"a,b\": use \"all\" or an array of 2..32 farm ids" },
		{ "{\"pool\":[\"a\",7]}", "invalid 'pool': element 2 is not a farm id" },
		{ "[1]", "the body must be a JSON object" },
	};
	struct train_request r;
	struct wc_error err = { 0 };
	char jn[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(from_json(&r, cases[i][0], &err), WC_EINVAL, "%s", cases[i][0]);
		cr_assert_str_eq(err.msg, cases[i][1]);
	}
	/* an unknown field, or a CLI spelling, is named with every valid field */
	cr_assert_eq(from_json(&r, "{\"ensemble\":1,\"weight-decay\":0}", &err), WC_EINVAL);
	{
		static const char head[] = "unknown field 'weight-decay': use 'pool', 'from', ";

		cr_assert(!strncmp(err.msg, head, strlen(head)), "%s", err.msg);
	}
	for (size_t i = 0; i < train_option_count; i++) {
		char quoted[80];

		snprintf(quoted, sizeof(quoted), "'%s'",
			 json_name(train_option_table[i].name, jn, sizeof(jn)));
		cr_assert(strstr(err.msg, quoted), "%s lacks %s", err.msg, quoted);
	}
}

/* ---- resolution against a store ---- */

static struct store *farms_store(char **dir, int n)
{
	static const char *const ids[] = { "a", "b", "c" };
	struct wc_error err = { 0 };
	struct store *st;

	*dir = tu_tmpdir();
	cr_assert_eq(store_open(*dir, &st, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < n; i++) {
		struct farm f = { .lat = 55 + i, .lon = 8, .capacity_mw = 10, .hub_height_m = 80 };

		snprintf(f.id, sizeof(f.id), "%s", ids[i]);
		snprintf(f.name, sizeof(f.name), "farm %s", ids[i]);
		cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	}
	return st;
}

/* Resolve a request: CLI style with a farm ("all": every farm) or a pool spec, or JSON
 * style with the path's farm and a body; returns the status, err the message. */
static enum wc_status resolve(struct store *st, struct train_request *r, enum train_style s,
			      const char *farm, const char *pool, const char *body,
			      struct wc_error *err)
{
	enum wc_status ret;

	if (s == TRAIN_JSON) {
		if ((ret = from_json(r, body ? body : "{}", err)))
			return ret;
	} else {
		train_request_init(r, TRAIN_CLI);
		if (pool && (ret = train_request_set_pool(r, pool, err)))
			return ret;
	}
	if (farm && !strcmp(farm, "all") && s == TRAIN_CLI)
		r->all_farms = true;
	else if (farm)
		snprintf(r->farm, sizeof(r->farm), "%s", farm);
	return train_request_resolve(r, st, err);
}

Test(train_request, pool_resolution)
{
	static const struct {
		enum train_style style;
		const char *farm, *pool, *body;
		enum wc_status want;
		const char *msg;	/* the whole message, or NULL for WC_OK */
	} cases[] = {
		{ TRAIN_CLI, NULL, "a,a", NULL, WC_EINVAL,
		  "invalid --pool: farm 'a' is listed twice; list each farm once" },
		{ TRAIN_CLI, NULL, "a,zz", NULL, WC_ENOTFOUND, "invalid --pool: no farm 'zz'" },
		{ TRAIN_CLI, NULL, "a", NULL, WC_EINVAL,
		  "invalid --pool: a pool has 2..32 farms, not 1" },
		{ TRAIN_CLI, NULL, "a,,b", NULL, WC_EINVAL,
		  "invalid --pool: element 2 '' is not a farm id" },
		{ TRAIN_CLI, "a", NULL, NULL, WC_OK, NULL },
		{ TRAIN_CLI, "zz", NULL, NULL, WC_ENOTFOUND, "no farm 'zz'" },
		{ TRAIN_JSON, "c", NULL, "{\"pool\":[\"a\",\"b\"]}", WC_EINVAL,
		  "invalid 'pool': it must include the farm 'c'" },
		{ TRAIN_JSON, "zz", NULL, "{\"pool\":\"all\"}", WC_ENOTFOUND, "no farm 'zz'" },
		{ TRAIN_JSON, "a", NULL, "{\"pool\":[\"a\",\"zz\"]}", WC_ENOTFOUND,
		  "invalid 'pool': no farm 'zz'" },
		{ TRAIN_JSON, "a", NULL, "{\"pool\":[\"a\",\"a\"]}", WC_EINVAL,
		  "invalid 'pool': farm 'a' is listed twice; list each farm once" },
		{ TRAIN_JSON, "a", NULL, "{\"pool\":[\"a\",\"B\"]}", WC_EINVAL,
		  "invalid 'pool': element 2 'B' is not a farm id" },
		{ TRAIN_JSON, "a", NULL, "{\"pool\":\"all\",\"regional\":\"50km\"}", WC_EINVAL,
		  "invalid 'regional' \"50km\": with 'pool' use none or all (the pool's farms)" },
		{ TRAIN_CLI, NULL, "all", NULL, WC_OK, NULL },
		{ TRAIN_JSON, "a", NULL, "{\"regional\":\"b,zz\"}", WC_ENOTFOUND, NULL },
		{ TRAIN_JSON, "a", NULL, "{\"regional\":\"-5km\"}", WC_EINVAL, NULL },
		{ TRAIN_JSON, "a", NULL, "{\"from\":\"2026-02-01T00:00Z\",\"to\":\"2026-01-01T00:00Z\"}",
		  WC_EINVAL,
		  "invalid 'from' \"2026-02-01T00:00:00Z\": must be before 'to' "
		  "\"2026-01-01T00:00:00Z\"" },
		{ TRAIN_CLI, "all", NULL, NULL, WC_OK, NULL },
	};
	struct train_request r;
	struct wc_error err = { 0 };
	char *dir, ids[400];
	struct store *st = farms_store(&dir, 3);
	int n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err.msg[0] = '\0';
		cr_assert_eq(resolve(st, &r, cases[i].style, cases[i].farm, cases[i].pool,
				     cases[i].body, &err),
			     cases[i].want, "case %zu: %s", i, err.msg);
		if (cases[i].msg)
			cr_assert_str_eq(err.msg, cases[i].msg, "case %zu", i);
	}
	/* "all" is the store's farms in id order; a listed pool keeps its order */
	cr_assert_eq(resolve(st, &r, TRAIN_JSON, "b", NULL, "{\"pool\":\"all\"}", &err), WC_OK);
	cr_assert_eq(r.n_pool, 3);
	cr_assert_str_eq(r.pool[0], "a");
	cr_assert_str_eq(r.pool[2], "c");
	cr_assert_eq(resolve(st, &r, TRAIN_CLI, NULL, "c,a", NULL, &err), WC_OK);
	cr_assert_eq(r.n_pool, 2);
	cr_assert_str_eq(r.pool[0], "c");
	cr_assert_str_eq(r.pool[1], "a");
	/* 33 farms */
	n = snprintf(ids, sizeof(ids), "a");
	for (int i = 1; i < 33; i++)
		n += snprintf(ids + n, sizeof(ids) - (size_t)n, ",f%d", i);
	cr_assert_eq(resolve(st, &r, TRAIN_CLI, NULL, ids, NULL, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "invalid --pool: a pool has 2..32 farms, not 33");
	/* --short-leads alone trains them hourly */
	cr_assert_eq(resolve(st, &r, TRAIN_JSON, "a", NULL, "{\"short_leads\":6}", &err), WC_OK);
	cr_assert_eq(r.o.short_every, 3600);
	cr_assert_eq(resolve(st, &r, TRAIN_JSON, "a", NULL, "{\"short_leads\":6,\"short_every\":2}",
			     &err),
		     WC_OK);
	cr_assert_eq(r.o.short_every, 7200);
	store_close(st);
	tu_rmrf_free(dir);

	/* a pool of "all" needs 2 farms; every farm needs one */
	st = farms_store(&dir, 1);
	cr_assert_eq(resolve(st, &r, TRAIN_JSON, "a", NULL, "{\"pool\":\"all\"}", &err), WC_EINVAL);
	cr_assert_str_eq(err.msg,
			 "invalid 'pool' \"all\": a pool has 2..32 farms and the store has 1");
	store_close(st);
	tu_rmrf_free(dir);
	st = farms_store(&dir, 0);
	cr_assert_eq(resolve(st, &r, TRAIN_CLI, "all", NULL, NULL, &err), WC_ENOTFOUND);
	cr_assert_str_eq(err.msg, "no farm to train: the store has none");
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- the CLI and the docs, from the table ---- */

Test(train_request, cli_accepts_every_option)
{
	char cmd[2048], *errs = NULL, *dir;
	struct store *st = farms_store(&dir, 1);
	int n = snprintf(cmd, sizeof(cmd), "train --farm nope");

	store_close(st);
	for (size_t i = 0; i < NGOODS; i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " --%s%s%s", goods[i].name,
			      goods[i].cli ? " " : "", goods[i].cli ? goods[i].cli : "");
	cr_assert_lt((size_t)n, sizeof(cmd));
	/* every option parsed: the request gets as far as the store */
	cr_assert_eq(tu_cli(dir, NULL, &errs, "%s", cmd), 1, "%s", errs);
	cr_assert(strstr(errs, "windcast train: no farm 'nope'\n"), "%s", errs);
	free(errs);
	/* the same bad value, the same words as the API */
	cr_assert_eq(tu_cli(dir, NULL, &errs, "train --farm a --dropout 2"), 2);
	cr_assert(strstr(errs, "windcast train: invalid --dropout '2': use 0..0.9\n"), "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "train --farm a --hidden"), 2);
	cr_assert(strstr(errs, "option '--hidden' needs a value"), "%s", errs);
	free(errs);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "train --farm a --refit=yes"), 2);
	cr_assert(strstr(errs, "option '--refit=yes' takes no value"), "%s", errs);
	free(errs);
	tu_rmrf_free(dir);
}

Test(train_request, usage_is_the_table)
{
	char *out = NULL, *errs = NULL, *usage = train_options_doc(TRAIN_DOC_USAGE);
	char *synopsis = train_options_doc(TRAIN_DOC_SYNOPSIS), *line, *save = NULL;

	cr_assert_eq(tu_cli("/nonexistent/never", &out, &errs, "train --help"), 0, "%s", errs);
	cr_assert(strstr(out, usage), "the usage text is not the table's:\n%s", out);
	cr_assert(strstr(out, synopsis), "the synopsis is not the table's:\n%s", out);
	for (size_t i = 0; i < train_option_count; i++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "  --%s", train_option_table[i].name);
		cr_assert(strstr(usage, opt), "%s", opt);
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		cr_assert_leq(strlen(line), 88, "too long: '%s'", line);
	free(out);
	free(errs);
	free(usage);
	free(synopsis);
}

/* docs/cli.md and docs/api.md hold the table as train_options_doc writes it. */
Test(train_request, docs_list_the_table)
{
	static const struct {
		const char *doc;
		enum train_doc what;
	} docs[] = { { "docs/cli.md", TRAIN_DOC_CLI_MD }, { "docs/api.md", TRAIN_DOC_JSON_MD } };

	for (size_t i = 0; i < 2; i++) {
		char path[4096], fresh[4200];
		char *text, *want = train_options_doc(docs[i].what);
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", tu_src(), docs[i].doc);
		text = tu_read_file(path, NULL);
		cr_assert_not_null(text, "%s", path);
		if (!strstr(text, want)) {
			/* leave the table where it can be pasted from */
			snprintf(fresh, sizeof(fresh), "%s/train-options-%zu.md",
				 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", i);
			if ((f = fopen(fresh, "w"))) {
				fputs(want, f);
				fclose(f);
			}
			cr_assert_fail("%s does not hold the option table as the code has it: "
				       "replace it with %s",
				       path, fresh);
		}
		free(text);
		free(want);
	}
}
