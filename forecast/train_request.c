/*
 * train_request.c - training requests and the table of training options; see
 * train_request.h. The table is the only place an option's range, default and help
 * live; parsing, JSON, usage text and docs are generic code over it.
 */
#include "forecast/train_request.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/utc.h"
#include "forecast/forecast.h"
#include "forecast/nn.h"

/* Where an option's value lands: its offset and size in struct train_request. */
#define AT(field)                                          \
	.offset = offsetof(struct train_request, field), \
	.size = sizeof(((struct train_request *)0)->field)
#define COUNT_AT(field) .count_offset = offsetof(struct train_request, field)

static const char *const act_words[] = { "relu", "silu", NULL };	/* enum nn_act */
static const char *const val_mode_words[] = { "tail", "weekly", NULL };	/* VAL_TAIL, VAL_WEEKLY */
static const char *const point_words[] = { "median", "mean", NULL };	/* point_mean */
static const char *const obs_gate_words[] = { "lags", "all", NULL };	/* obs_gate */
static const char *const adapt_words[] = { "off", "on", NULL };	/* adapt.on */

/* The order here is the order of the usage text, the docs and the JSON. */
const struct train_option train_option_table[] = {
	/* which rows */
	{ .name = "from", .type = TOPT_TIME, .arg = "ISO", .flags = TOPT_DEF_WORDS,
	  .def = "all data", .help = "first issue time of the rows", AT(o.from) },
	{ .name = "to", .type = TOPT_TIME, .arg = "ISO", .flags = TOPT_DEF_WORDS,
	  .def = "all data",
	  .help = "last issue time of the rows; nothing observed after it is read", AT(o.to) },
	{ .name = "delay", .type = TOPT_HOURS, .arg = "H", .min = 0, .max = 24 * 30, .def = "5",
	  .help = "NWP delivery delay: a run with reference time R is usable from R+H",
	  AT(o.features.delay_s) },
	{ .name = "leads", .type = TOPT_INT, .arg = "N", .min = 1, .max = FEAT_MAX_LEAD,
	  .def = "48", .help = "train leads 1..N hours", AT(o.features.max_lead) },
	{ .name = "issue-every", .type = TOPT_HOURS, .arg = "H", .min = 1, .max = 24 * 31,
	  .flags = TOPT_DEF_WORDS, .def = "each run's delivery",
	  .help = "hours between issue times", AT(o.issue_every) },
	{ .name = "short-leads", .type = TOPT_INT, .arg = "N", .min = 0, .max = FEAT_MAX_LEAD,
	  .def = "0",
	  .help = "also train leads 1..N from issue times every --short-every hours between "
		  "those (more rows where the observed power matters; validation stays on the "
		  "issue times above); 0: none",
	  AT(o.short_leads) },
	{ .name = "short-every", .type = TOPT_HOURS, .arg = "H", .min = 1, .max = 24 * 31,
	  .flags = TOPT_DEF_WORDS, .def = "1",
	  .help = "hours between the --short-leads issue times", AT(o.short_every) },
	{ .name = "val-frac", .type = TOPT_NUMBER, .arg = "F", .min = 0, .max = MODEL_MAX_VAL_FRAC,
	  .def = "0.15",
	  .help = "share of the issue times with observed power that validate (at least one "
		  "of two or more when above 0): early stopping and the scores printed beside "
		  "persistence, climatology and a fitted power curve",
	  AT(o.val_frac) },
	{ .name = "val-mode", .type = TOPT_ENUM, .words = val_mode_words, .def = "tail",
	  .help = "validation issue times: tail, the latest --val-frac, or weekly, every "
		  "round(1 / --val-frac)-th week with the rest training",
	  AT(o.val_mode) },
	/* inputs */
	{ .name = "regional", .type = TOPT_TEXT, .arg = "SPEC", .def = "none",
	  .example = "none, all, a radius such as 100km, or farm ids a,b",
	  .help = "other farms' NWP and observed power as inputs: none, all, the farms within "
		  "R km (100km) or a list of ids; with a pool none or all (every farm of the "
		  "pool)",
	  AT(regional) },
	{ .name = "nbr-hours", .type = TOPT_INT, .arg = "K", .min = 0, .max = FEAT_MAX_NBR,
	  .def = "3", .help = "the run's speed and direction at T + h - K .. T + h + K",
	  AT(o.features.nbr_hours) },
	{ .name = "nbr-full", .type = TOPT_BOOL,
	  .help = "10 m speed and shear at those hours too", AT(o.features.nbr_full) },
	{ .name = "lags", .type = TOPT_INTS, .arg = "L,L", .min = 0, .max = 168, .min_count = 0,
	  .max_count = FEAT_MAX_LAGS, .def = "0,1,2,3,6", .example = "0,1,2,3,6 or none",
	  .help = "observed power lags, hours before T", AT(o.features.lags),
	  COUNT_AT(o.features.n_lags) },
	{ .name = "obs-max-lead", .type = TOPT_INT, .arg = "H", .min = 0, .max = FEAT_MAX_LEAD,
	  .def = "12", .help = "observed power inputs only for leads <= H; 0: all leads",
	  AT(o.features.obs_max_lead) },
	{ .name = "obs-gate", .type = TOPT_ENUM, .words = obs_gate_words, .def = "all",
	  .help = "what --obs-max-lead removes beyond its lead: all, every input read from the "
		  "observed power (the lags, obs_now_decay, the regional farms' power) and the "
		  "NWP's speed at the issue hour read against it, so that those rows are the "
		  "same with or without the power at the issue time; or lags, the lags only",
	  AT(o.features.obs_gate) },
	{ .name = "obs-dropout", .type = TOPT_NUMBER, .arg = "P", .min = 0,
	  .max = MODEL_MAX_OBS_DROPOUT, .def = "0",
	  .help = "hide each farm's observed power at a share P of the training issue times, "
		  "as a telemetry gap would, so that the network also learns to forecast "
		  "without it; the validation rows keep it",
	  AT(o.obs_dropout) },
	{ .name = "no-prev-run", .type = TOPT_BOOL, .flags = TOPT_INVERT,
	  .help = "no inputs from the previous runs' forecasts of the valid time",
	  AT(o.features.prev_run) },
	{ .name = "nwp-only", .type = TOPT_BOOL,
	  .help = "NWP and calendar inputs only (analyses, e.g. GEFCom2014)",
	  AT(o.features.nwp_only) },
	{ .name = "no-doy", .type = TOPT_BOOL,
	  .help = "no day-of-year inputs (history shorter than a year would make the network "
		  "extrapolate the season)",
	  AT(o.features.no_doy) },
	/* the network */
	{ .name = "ensemble", .type = TOPT_INT, .arg = "K", .min = 1, .max = NN_MAX_MEMBERS,
	  .def = "3", .help = "members with different seeds", AT(o.nn.n_members) },
	{ .name = "workers", .type = TOPT_INT, .arg = "N", .min = 1, .max = NN_MAX_MEMBERS,
	  .flags = TOPT_DEF_WORDS, .def = "the online CPUs",
	  .help = "members trained at once, one thread each; the model is bit-identical for "
		  "any N",
	  AT(o.nn.workers) },
	{ .name = "hidden", .type = TOPT_INTS, .arg = "N,N", .min = 1, .max = NN_MAX_WIDTH,
	  .min_count = 1, .max_count = NN_MAX_HIDDEN, .def = "64,64", .example = "128,64",
	  .help = "hidden layer widths", AT(o.nn.hidden), COUNT_AT(o.nn.n_hidden) },
	{ .name = "activation", .type = TOPT_ENUM, .words = act_words, .def = "relu",
	  .help = "hidden activation", AT(o.nn.act) },
	{ .name = "dropout", .type = TOPT_NUMBER, .arg = "P", .min = 0, .max = NN_MAX_DROPOUT,
	  .def = "0.1", .help = "dropout rate of hidden units while training",
	  AT(o.nn.dropout) },
	{ .name = "epochs", .type = TOPT_INT, .arg = "N", .min = 1, .max = 10000, .def = "60",
	  .help = "at most N epochs", AT(o.nn.epochs) },
	{ .name = "patience", .type = TOPT_INT, .arg = "N", .min = 1, .max = 10000, .def = "8",
	  .help = "stop after N epochs without a better validation loss", AT(o.nn.patience) },
	{ .name = "lr", .type = TOPT_NUMBER, .arg = "LR", .min = 0, .max = 1,
	  .flags = TOPT_MIN_OPEN, .def = "0.002", .help = "peak learning rate", AT(o.nn.lr) },
	{ .name = "weight-decay", .type = TOPT_NUMBER, .arg = "WD", .min = 0, .max = 1,
	  .def = "0.0001", .help = "AdamW's decoupled weight decay", AT(o.nn.weight_decay) },
	{ .name = "batch", .type = TOPT_INT, .arg = "N", .min = 1, .max = NN_MAX_BATCH,
	  .def = "256", .help = "rows per step", AT(o.nn.batch) },
	{ .name = "seed", .type = TOPT_INT, .arg = "N", .min = 0, .max = 2147483647, .def = "1",
	  .help = "the ensemble's seed; member k's is derived from it and k", AT(o.nn.seed) },
	{ .name = "quantiles", .type = TOPT_LEVELS, .arg = "LIST", .min = 0, .max = 1,
	  .min_count = 1, .max_count = NN_MAX_QUANTILES, .flags = TOPT_DEF_WORDS,
	  .def = "0.01, 0.05, 0.10 .. 0.95, 0.99",
	  .example = "0.05,0.5,0.95 or 0.01:0.99:0.02", .help = "trained quantile levels",
	  AT(o.nn.quantiles), COUNT_AT(o.nn.n_quantiles) },
	/* the model */
	{ .name = "point", .type = TOPT_ENUM, .words = point_words, .def = "median",
	  .help = "the model's point forecast: the median, or the mean of its quantiles, "
		  "which has a lower RMSE when the distribution is skewed",
	  AT(o.point_mean) },
	{ .name = "smooth", .type = TOPT_INT, .arg = "K", .min = 0, .max = MODEL_SMOOTH_MAX,
	  .def = "0",
	  .help = "forecast each lead as the mean of the network's quantiles at leads "
		  "h-K..h+K, a lead d hours away weighted K+1-d; the validation scores "
		  "include it",
	  AT(o.smooth) },
	{ .name = "adapt", .type = TOPT_ENUM, .words = adapt_words, .def = "on",
	  .help = "correct the network's forecasts between retrains from the observations "
		  "that arrive after its training (per lead block, y = a + b f by least squares "
		  "with exponential forgetting); forecast --adapt overrides it",
	  AT(o.adapt.on) },
	{ .name = "adapt-half-life", .type = TOPT_HOURS, .arg = "H",
	  .min = ADAPT_MIN_HALF_LIFE_H, .max = ADAPT_MAX_HALF_LIFE_H, .def = "72",
	  .help = "hours after which an observation's weight in the adaptation has halved",
	  AT(o.adapt.half_life_s) },
	{ .name = "adapt-prior", .type = TOPT_NUMBER, .arg = "N", .min = 0,
	  .max = ADAPT_MAX_PRIOR, .def = "8",
	  .help = "hours of data that the adaptation's start, no correction, weighs",
	  AT(o.adapt.prior) },
	{ .name = "refit", .type = TOPT_BOOL,
	  .help = "then train again on all rows, the validation ones included, for the epochs "
		  "early stopping chose (about twice the time)",
	  AT(o.refit) },
};
const size_t train_option_count = sizeof(train_option_table) / sizeof(train_option_table[0]);

/* ---- names and messages ---------------------------------------------------------- */

/* name as spelt in style: CLI "weight-decay", JSON "weight_decay". */
static bool name_is(const char *name, const char *s, enum train_style style)
{
	for (; *name && *s; name++, s++)
		if ((style == TRAIN_JSON && *name == '-' ? '_' : *name) != *s)
			return false;
	return !*name && !*s;
}

/* name as style spells it, into buf: "weight-decay" or "weight_decay". */
static const char *spelt(const char *name, enum train_style style, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; style == TRAIN_JSON && *p; p++)
		*p = *p == '-' ? '_' : *p;
	return buf;
}

/* A field as messages name it: --weight-decay, or 'weight_decay'. */
static const char *field(enum train_style style, const char *name, char *buf, size_t len)
{
	char s[48];

	snprintf(buf, len, style == TRAIN_CLI ? "--%s" : "'%s'", spelt(name, style, s, sizeof(s)));
	return buf;
}

const struct train_option *train_option_find(const char *name, enum train_style style)
{
	for (size_t i = 0; i < train_option_count; i++)
		if (name_is(train_option_table[i].name, name, style))
			return &train_option_table[i];
	return NULL;
}

/* "a, b or c" */
static void add_words(struct dynbuf *b, const char *const *w)
{
	for (int i = 0; w[i]; i++)
		dynbuf_printf(b, "%s%s", i == 0 ? "" : w[i + 1] ? ", " : " or ", w[i]);
}

/* The accepted values in words ("0..0.9", "relu or silu"), for hints and docs. */
static void add_range(struct dynbuf *b, const struct train_option *opt)
{
	switch (opt->type) {
	case TOPT_INT:
		dynbuf_printf(b, "%.0f..%.0f", opt->min, opt->max);
		break;
	case TOPT_NUMBER:
		if (opt->flags & TOPT_MIN_OPEN)
			dynbuf_printf(b, "above %g, up to %g", opt->min, opt->max);
		else
			dynbuf_printf(b, "%g..%g", opt->min, opt->max);
		break;
	case TOPT_HOURS:
		dynbuf_printf(b, "hours %g..%g", opt->min, opt->max);
		break;
	case TOPT_BOOL:
		dynbuf_adds(b, "true or false");
		break;
	case TOPT_ENUM:
		add_words(b, opt->words);
		break;
	case TOPT_INTS:
		dynbuf_printf(b, "%d..%d values %.0f..%.0f", opt->min_count, opt->max_count,
			      opt->min, opt->max);
		break;
	case TOPT_LEVELS:
		dynbuf_printf(b, "%d..%d distinct levels in (0, 1)", opt->min_count,
			      opt->max_count);
		break;
	case TOPT_TIME:
		dynbuf_adds(b, "ISO 8601");
		break;
	case TOPT_TEXT:
		dynbuf_adds(b, opt->example);
		break;
	}
}

const char *train_option_hint(const struct train_option *opt, char *buf, size_t len)
{
	struct dynbuf b;

	dynbuf_init(&b, len > 0 ? len - 1 : 0);
	if (opt->type == TOPT_INT)
		dynbuf_adds(&b, "use an integer ");
	else if (opt->type == TOPT_NUMBER && opt->flags & TOPT_MIN_OPEN)
		dynbuf_adds(&b, "use a value ");
	else
		dynbuf_adds(&b, "use ");
	add_range(&b, opt);
	if (opt->type == TOPT_TIME)
		dynbuf_adds(&b, ", e.g. 2026-03-01T00:00Z");
	else if (opt->example && opt->type != TOPT_TEXT)
		dynbuf_printf(&b, ", e.g. %s", opt->example);
	snprintf(buf, len, "%s", dynbuf_str(&b));
	dynbuf_release(&b);
	return buf;
}

/* WC_EINVAL "invalid <field> <shown>: <hint>"; shown is the value as the front end wrote
 * it ('2' or 2). */
static enum wc_status bad_value(enum train_style style, const struct train_option *opt,
				const char *shown, struct wc_error *err)
{
	char f[64], hint[256];

	return wc_error_set(err, WC_EINVAL, "invalid %s %s: %s",
			    field(style, opt->name, f, sizeof(f)), shown,
			    train_option_hint(opt, hint, sizeof(hint)));
}

/* ---- values ---------------------------------------------------------------------- */

#define TOPT_MAX_INTS 64	/* elements of a TOPT_INTS list (the table's are fewer) */

static bool parse_ll(const char *s, long long *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !*end && !errno;
}

static bool parse_double(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno && isfinite(*out);
}

static bool in_range(const struct train_option *opt, double v)
{
	return (opt->flags & TOPT_MIN_OPEN ? v > opt->min : v >= opt->min) && v <= opt->max;
}

/* Store an integer into a bool, an int-sized field (int, enum) or a 64-bit one. */
static void put_int(void *dst, size_t size, long long v)
{
	if (size == sizeof(bool)) {
		bool b = v != 0;

		memcpy(dst, &b, sizeof(b));
	} else if (size == sizeof(int32_t)) {
		int32_t x = (int32_t)v;

		memcpy(dst, &x, sizeof(x));
	} else {
		int64_t x = v;

		memcpy(dst, &x, sizeof(x));
	}
}

static long long get_int(const void *src, size_t size)
{
	if (size == sizeof(bool)) {
		bool b;

		memcpy(&b, src, sizeof(b));
		return b;
	} else if (size == sizeof(int32_t)) {
		int32_t x;

		memcpy(&x, src, sizeof(x));
		return x;
	} else {
		int64_t x;

		memcpy(&x, src, sizeof(x));
		return x;
	}
}

/* "a,b,c" of integers in range into v (at most max_count); "none" and "": none. */
static bool parse_ints(const struct train_option *opt, const char *s, int *v, int *n)
{
	const char *p = s;

	*n = 0;
	if (!strcmp(s, "none") || !*s)
		return opt->min_count == 0;
	for (;;) {
		char *end;
		long long x;

		errno = 0;
		x = strtoll(p, &end, 10);
		if (end == p || errno || (*end && *end != ',') || !in_range(opt, (double)x) ||
		    *n == opt->max_count)
			return false;
		v[(*n)++] = (int)x;
		if (!*end)
			break;
		p = end + 1;
	}
	return *n >= opt->min_count;
}

static bool parse_levels(const struct train_option *opt, const char *s, float *v, int *n)
{
	float lv[FORECAST_MAX_REQUEST];
	int k;

	if (forecast_parse_levels(s, lv, &k, NULL) || k < opt->min_count || k > opt->max_count)
		return false;
	for (int i = 1; i < k; i++)
		if (!(lv[i] > lv[i - 1]))
			return false;	/* a level twice */
	memcpy(v, lv, (size_t)k * sizeof(float));
	*n = k;
	return true;
}

/* Parse text for opt into r; false (r unchanged) when it is not a valid value. */
static bool parse_value(struct train_request *r, const struct train_option *opt,
			const char *text)
{
	char *dst = (char *)r + opt->offset;
	long long i;
	double d;
	int n;

	switch (opt->type) {
	case TOPT_INT:
		if (!parse_ll(text, &i) || !in_range(opt, (double)i))
			return false;
		put_int(dst, opt->size, i);
		return true;
	case TOPT_NUMBER:
		if (!parse_double(text, &d) || !in_range(opt, d))
			return false;
		if (opt->size == sizeof(float)) {
			float f = (float)d;

			if (!in_range(opt, f))	/* 1e-50 is above 0, its float is not */
				return false;
			memcpy(dst, &f, sizeof(f));
		} else {
			memcpy(dst, &d, sizeof(d));
		}
		return true;
	case TOPT_HOURS:
		if (!parse_double(text, &d) || !in_range(opt, d))
			return false;
		put_int(dst, opt->size, llround(d * UTC_HOUR));
		return true;
	case TOPT_BOOL:
		if (text && strcmp(text, "true") && strcmp(text, "false"))
			return false;
		/* a flag sets its bool, or clears it with TOPT_INVERT */
		put_int(dst, opt->size,
			(!text || !strcmp(text, "true")) != !!(opt->flags & TOPT_INVERT));
		return true;
	case TOPT_ENUM:
		for (n = 0; text && opt->words[n]; n++) {
			if (!strcmp(text, opt->words[n])) {
				put_int(dst, opt->size, n);
				return true;
			}
		}
		return false;
	case TOPT_INTS: {
		int v[TOPT_MAX_INTS];

		if (!text || opt->max_count > TOPT_MAX_INTS || !parse_ints(opt, text, v, &n))
			return false;
		memset(dst, 0, opt->size);
		memcpy(dst, v, (size_t)n * sizeof(int));
		memcpy((char *)r + opt->count_offset, &n, sizeof(n));
		return true;
	}
	case TOPT_LEVELS: {
		float v[NN_MAX_QUANTILES];

		if (!text || opt->max_count > NN_MAX_QUANTILES || !parse_levels(opt, text, v, &n))
			return false;
		memset(dst, 0, opt->size);
		memcpy(dst, v, (size_t)n * sizeof(float));
		memcpy((char *)r + opt->count_offset, &n, sizeof(n));
		return true;
	}
	case TOPT_TIME: {
		int64_t t;

		if (!text || !utc_parse(text, &t))
			return false;
		memcpy(dst, &t, sizeof(t));
		return true;
	}
	case TOPT_TEXT:
		if (!text || strlen(text) >= opt->size)
			return false;
		memcpy(dst, text, strlen(text) + 1);
		return true;
	}
	return false;
}

enum wc_status train_option_set(struct train_request *r, const struct train_option *opt,
				const char *text, struct wc_error *err)
{
	char shown[128];

	if (parse_value(r, opt, text))
		return WC_OK;
	snprintf(shown, sizeof(shown), r->style == TRAIN_CLI ? "'%.100s'" : "\"%.100s\"",
		 text ? text : "");
	return bad_value(r->style, opt, shown, err);
}

/* ---- JSON ------------------------------------------------------------------------ */

/* Write a JSON number as text that strtod reads back to the same double; false when b
 * is full. */
static bool number_text(struct dynbuf *b, const json_t *v)
{
	if (json_is_integer(v))
		return !dynbuf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return !dynbuf_printf(b, "%.17g", json_real_value(v));
}

/*
 * The CLI text of a JSON value for opt into b: false when the JSON type does not fit
 * (a list may also be given as its CLI text, a string) or the text does not fit in b
 * (never cut: a cut list could still parse).
 */
static bool json_text(const struct train_option *opt, const json_t *v, struct dynbuf *b)
{
	size_t i;
	json_t *e;

	switch (opt->type) {
	case TOPT_INT:
		return json_is_integer(v) && number_text(b, v);
	case TOPT_NUMBER:
	case TOPT_HOURS:
		return json_is_number(v) && number_text(b, v);
	case TOPT_BOOL:
		if (!json_is_boolean(v))
			return false;
		dynbuf_adds(b, json_is_true(v) ? "true" : "false");
		return true;
	case TOPT_INTS:
	case TOPT_LEVELS:
		if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				if (opt->type == TOPT_INTS ? !json_is_integer(e) : !json_is_number(e))
					return false;
				if ((i && dynbuf_adds(b, ",")) || !number_text(b, e))
					return false;
			}
			return true;
		}
		/* a string as on the CLI */
		/* fall through */
	case TOPT_ENUM:
	case TOPT_TIME:
	case TOPT_TEXT:
		if (!json_is_string(v))
			return false;
		return dynbuf_add(b, json_string_value(v), json_string_length(v)) == WC_OK &&
		       strlen(dynbuf_str(b)) == json_string_length(v);	/* no NUL inside */
	}
	return false;
}

/* A JSON value as a message shows it (0.1, not 0.10000000000000001), cut to about 100
 * bytes. */
static void json_shown(const json_t *v, char *buf, size_t len)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));

	snprintf(buf, len, "%.100s%s", s ? s : "?", s && strlen(s) > 100 ? "..." : "");
	free(s);
}

/* Set opt from a JSON value (null keeps the default). */
static enum wc_status option_json(struct train_request *r, const struct train_option *opt,
				  const json_t *v, struct wc_error *err)
{
	struct dynbuf b;
	char shown[128];
	bool ok;

	if (json_is_null(v))
		return WC_OK;
	dynbuf_init(&b, 4096);
	ok = json_text(opt, v, &b) && parse_value(r, opt, dynbuf_str(&b));
	dynbuf_release(&b);
	if (ok)
		return WC_OK;
	json_shown(v, shown, sizeof(shown));
	return bad_value(TRAIN_JSON, opt, shown, err);
}

/* Floats as the shortest decimal that reads back to the same float. */
static json_t *float_json(float f)
{
	char buf[32];

	for (int p = 6; p <= 9; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, (double)f);
		if ((float)strtod(buf, NULL) == f)
			break;
	}
	return json_real(strtod(buf, NULL));
}

/* The value of opt in r as JSON (null for a default described in words). */
static json_t *value_json(const struct train_request *r, const struct train_option *opt)
{
	const char *src = (const char *)r + opt->offset;
	char iso[UTC_ISO_LEN];
	json_t *a;
	int n = 0;
	long long v;

	if (opt->count_offset)
		memcpy(&n, (const char *)r + opt->count_offset, sizeof(n));
	switch (opt->type) {
	case TOPT_INT:
		return json_integer(get_int(src, opt->size));
	case TOPT_NUMBER:
		if (opt->size == sizeof(float)) {
			float f;

			memcpy(&f, src, sizeof(f));
			return float_json(f);
		} else {
			double d;

			memcpy(&d, src, sizeof(d));
			return json_real(d);
		}
	case TOPT_HOURS:
		v = get_int(src, opt->size);
		if (v == 0 && opt->flags & TOPT_DEF_WORDS)
			return json_null();
		return v % UTC_HOUR ? json_real((double)v / UTC_HOUR) : json_integer(v / UTC_HOUR);
	case TOPT_BOOL:
		return json_boolean(!get_int(src, opt->size) != !(opt->flags & TOPT_INVERT));
	case TOPT_ENUM:
		return json_string(opt->words[get_int(src, opt->size)]);
	case TOPT_INTS:
		a = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(a, json_integer(((const int *)src)[i]));
		return a;
	case TOPT_LEVELS:
		a = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(a, float_json(((const float *)src)[i]));
		return a;
	case TOPT_TIME:
		v = get_int(src, opt->size);
		return v == INT64_MIN || v == INT64_MAX ? json_null()
							: json_string(utc_format(v, iso));
	case TOPT_TEXT:
		return json_string(src);
	}
	return json_null();
}

/* ---- docs ------------------------------------------------------------------------ */

#define USAGE_COL 24		/* where an option's help starts */
#define USAGE_WIDTH 88		/* columns of the usage text */
#define SYNOPSIS_COL 22		/* strlen("usage: windcast train ") */

/* The argument as usage shows it: "N", or an enum's words "relu|silu" (Markdown tables
 * want "relu\|silu"). */
static void add_arg(struct dynbuf *b, const struct train_option *opt, bool markdown)
{
	if (opt->type == TOPT_ENUM)
		for (int i = 0; opt->words[i]; i++)
			dynbuf_printf(b, "%s%s", i ? markdown ? "\\|" : "|" : " ", opt->words[i]);
	else if (opt->arg)
		dynbuf_printf(b, " %s", opt->arg);
}

/* Append text wrapped at `width` columns, continuation lines indented by `indent`;
 * *col is the current column. */
static void add_wrapped(struct dynbuf *b, const char *text, int indent, int width, int *col)
{
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (*col > indent && *col + 1 + (int)w > width) {
			dynbuf_printf(b, "\n%*s", indent, "");
			*col = indent;
		} else if (*col > indent) {
			dynbuf_adds(b, " ");
			(*col)++;
		}
		dynbuf_add(b, p, w);
		*col += (int)w;
		p += w;
		p += strspn(p, " ");
	}
}

/* Text that names other options as --name, with the names as style spells them. */
static void add_text(struct dynbuf *b, const char *text, enum train_style style)
{
	const struct train_option *opt;
	char name[48], s[48];
	size_t n;

	while (*text) {
		if (style == TRAIN_JSON && !strncmp(text, "--", 2)) {
			n = strspn(text + 2, "abcdefghijklmnopqrstuvwxyz-");
			snprintf(name, sizeof(name), "%.*s", (int)n, text + 2);
			if ((opt = train_option_find(name, TRAIN_CLI))) {
				dynbuf_adds(b, spelt(opt->name, TRAIN_JSON, s, sizeof(s)));
				text += 2 + n;
				continue;
			}
		}
		dynbuf_add(b, text++, 1);
	}
}

/* The usage entry's text after the option: help (range; default). */
static void add_help(struct dynbuf *b, const struct train_option *opt, bool markdown,
		     enum train_style style)
{
	add_text(b, opt->help, style);
	if (markdown || opt->type == TOPT_BOOL)
		return;
	/* an enum's words are in its argument, a text's forms in its help */
	if (opt->type == TOPT_ENUM || opt->type == TOPT_TEXT) {
		dynbuf_printf(b, " (default %s)", opt->def);
		return;
	}
	dynbuf_adds(b, " (");
	add_range(b, opt);
	dynbuf_printf(b, "; default %s)", opt->def);
}

static void doc_usage(struct dynbuf *b)
{
	struct dynbuf t;
	int col;

	dynbuf_init(&t, 4096);
	for (size_t i = 0; i < train_option_count; i++) {
		const struct train_option *opt = &train_option_table[i];

		dynbuf_reset(&t);
		dynbuf_printf(&t, "  --%s", opt->name);
		add_arg(&t, opt, false);
		dynbuf_adds(b, dynbuf_str(&t));
		/* the help starts in column USAGE_COL, on a line of its own after a long option */
		col = (int)t.len;
		if (col + 2 > USAGE_COL) {
			dynbuf_adds(b, "\n");
			col = 0;
		}
		dynbuf_printf(b, "%*s", USAGE_COL - col, "");
		col = USAGE_COL;
		dynbuf_reset(&t);
		add_help(&t, opt, false, TRAIN_CLI);
		add_wrapped(b, dynbuf_str(&t), USAGE_COL, USAGE_WIDTH, &col);
		dynbuf_adds(b, "\n");
	}
	dynbuf_release(&t);
}

static void doc_synopsis(struct dynbuf *b)
{
	int col = SYNOPSIS_COL;

	dynbuf_printf(b, "%*s", SYNOPSIS_COL, "");
	for (size_t i = 0; i < train_option_count; i++) {
		struct dynbuf t;

		dynbuf_init(&t, 256);
		dynbuf_printf(&t, "[--%s", train_option_table[i].name);
		add_arg(&t, &train_option_table[i], false);
		dynbuf_adds(&t, "]");
		/* one item never breaks: its spaces are not break points */
		if (col > SYNOPSIS_COL && col + 1 + (int)t.len > USAGE_WIDTH) {
			dynbuf_printf(b, "\n%*s", SYNOPSIS_COL, "");
			col = SYNOPSIS_COL;
		} else if (col > SYNOPSIS_COL) {
			dynbuf_adds(b, " ");
			col++;
		}
		dynbuf_adds(b, dynbuf_str(&t));
		col += (int)t.len;
		dynbuf_release(&t);
	}
	dynbuf_adds(b, "\n");
}

static const char *opt_json_type(const struct train_option *opt)
{
	switch (opt->type) {
	case TOPT_INT:
		return "integer";
	case TOPT_NUMBER:
	case TOPT_HOURS:
		return "number";
	case TOPT_BOOL:
		return "boolean";
	case TOPT_INTS:
		return "array of integers, or the CLI's string";
	case TOPT_LEVELS:
		return "array of numbers, or the CLI's string";
	case TOPT_TIME:
	case TOPT_ENUM:
	case TOPT_TEXT:
		return "string";
	}
	return "?";
}

static void doc_markdown(struct dynbuf *b, enum train_style style)
{
	char f[64];

	if (style == TRAIN_CLI)
		dynbuf_adds(b, "| option | value | default | what it does |\n|---|---|---|---|\n");
	else
		dynbuf_adds(b, "| field | JSON type | value | default | what it does |\n"
			       "|---|---|---|---|---|\n");
	for (size_t i = 0; i < train_option_count; i++) {
		const struct train_option *opt = &train_option_table[i];

		if (style == TRAIN_CLI) {
			dynbuf_printf(b, "| `--%s", opt->name);
			add_arg(b, opt, true);
			dynbuf_adds(b, "` | ");
		} else {
			dynbuf_printf(b, "| `%s` | %s | ", spelt(opt->name, TRAIN_JSON, f, sizeof(f)),
				      opt_json_type(opt));
		}
		if (opt->type == TOPT_BOOL)
			dynbuf_adds(b, style == TRAIN_CLI ? "flag" : "true or false");
		else
			add_range(b, opt);
		if (opt->example && opt->type != TOPT_TEXT)
			dynbuf_printf(b, ", e.g. %s", opt->example);
		dynbuf_printf(b, " | %s | ",
			      opt->def ? opt->def : style == TRAIN_CLI ? "off" : "false");
		add_help(b, opt, true, style);
		dynbuf_adds(b, " |\n");
	}
}

char *train_options_doc(enum train_doc what)
{
	struct dynbuf b;

	dynbuf_init(&b, 1 << 20);
	switch (what) {
	case TRAIN_DOC_SYNOPSIS:
		doc_synopsis(&b);
		break;
	case TRAIN_DOC_USAGE:
		doc_usage(&b);
		break;
	case TRAIN_DOC_CLI_MD:
		doc_markdown(&b, TRAIN_CLI);
		break;
	case TRAIN_DOC_JSON_MD:
		doc_markdown(&b, TRAIN_JSON);
		break;
	}
	return dynbuf_detach(&b, NULL);
}

/* ---- a request ------------------------------------------------------------------- */

void train_request_init(struct train_request *r, enum train_style style)
{
	memset(r, 0, sizeof(*r));
	r->style = style;
	snprintf(r->regional, sizeof(r->regional), "none");
	train_options_init(&r->o);
}

/* Add ids[0..n) as the pool: 2..FEAT_MAX_REGIONAL valid farm ids, each once. */
static enum wc_status pool_set(struct train_request *r, const char *const *ids, int n,
			       struct wc_error *err)
{
	char f[16];

	field(r->style, "pool", f, sizeof(f));
	if (n < 2 || n > FEAT_MAX_REGIONAL)
		return wc_error_set(err, WC_EINVAL, "invalid %s: a pool has 2..%d farms, not %d", f,
				    FEAT_MAX_REGIONAL, n);
	for (int i = 0; i < n; i++) {
		if (!farm_id_valid(ids[i]))
			return wc_error_set(err, WC_EINVAL,
					    "invalid %s: element %d '%.80s' is not a farm id", f,
					    i + 1, ids[i]);
		for (int k = 0; k < i; k++)
			if (!strcmp(ids[k], ids[i]))
				return wc_error_set(err, WC_EINVAL,
						    "invalid %s: farm '%s' is listed twice; list "
						    "each farm once",
						    f, ids[i]);
	}
	for (int i = 0; i < n; i++)
		snprintf(r->pool[i], FARM_ID_MAX + 1, "%s", ids[i]);
	r->n_pool = n;
	r->pool_all = false;
	return WC_OK;
}

enum wc_status train_request_set_pool(struct train_request *r, const char *spec,
				      struct wc_error *err)
{
	const char *ids[FEAT_MAX_REGIONAL + 1];
	char *copy, *p;
	enum wc_status ret;
	int n = 0;

	if (!strcmp(spec, "all")) {
		r->pool_all = true;
		r->n_pool = 0;
		return WC_OK;
	}
	if (!(copy = strdup(spec)))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	/* every element counts, an empty one too (it is not a farm id) */
	for (p = copy;; p++) {
		if (n <= FEAT_MAX_REGIONAL)
			ids[n] = p;
		n++;
		p += strcspn(p, ",");
		if (!*p)
			break;
		*p = '\0';
	}
	ret = pool_set(r, ids, n, err);
	free(copy);
	return ret;
}

/* The body's "pool": "all" or an array of farm ids. */
static enum wc_status pool_json(struct train_request *r, const json_t *v, struct wc_error *err)
{
	const char *ids[FEAT_MAX_REGIONAL];
	size_t i;
	json_t *e;

	if (json_is_string(v) && !strcmp(json_string_value(v), "all"))
		return train_request_set_pool(r, "all", err);
	if (!json_is_array(v)) {
		char shown[128];

		json_shown(v, shown, sizeof(shown));
		return wc_error_set(err, WC_EINVAL,
				    "invalid 'pool' %s: use \"all\" or an array of 2..%d farm ids",
				    shown, FEAT_MAX_REGIONAL);
	}
	if (json_array_size(v) < 2 || json_array_size(v) > FEAT_MAX_REGIONAL)
		return pool_set(r, ids, (int)json_array_size(v), err);	/* the count's message */
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return wc_error_set(err, WC_EINVAL,
					    "invalid 'pool': element %zu is not a farm id", i + 1);
		ids[i] = json_string_value(e);
	}
	return pool_set(r, ids, (int)i, err);
}

enum wc_status train_request_json(struct train_request *r, const json_t *body,
				  struct wc_error *err)
{
	const struct train_option *opt;
	const char *key;
	enum wc_status ret;
	json_t *v;

	if (!json_is_object(body))
		return wc_error_set(err, WC_EINVAL, "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v) {
		if (!strcmp(key, "pool")) {
			ret = pool_json(r, v, err);
		} else if ((opt = train_option_find(key, TRAIN_JSON))) {
			ret = option_json(r, opt, v, err);
		} else {
			struct dynbuf b;
			char f[64];

			dynbuf_init(&b, 4096);
			for (size_t i = 0; i < train_option_count; i++)
				dynbuf_printf(&b, ", %s",
					      field(TRAIN_JSON, train_option_table[i].name, f,
						    sizeof(f)));
			ret = wc_error_set(err, WC_EINVAL, "unknown field '%.80s': use 'pool'%s",
					   key, dynbuf_str(&b));
			dynbuf_release(&b);
		}
		if (ret)
			return ret;
	}
	return WC_OK;
}

/* The rules between fields, before the store is asked. */
static enum wc_status check_fields(struct train_request *r, struct wc_error *err)
{
	bool pool = r->pool_all || r->n_pool;
	char f1[64], f2[64], a[UTC_ISO_LEN], b[UTC_ISO_LEN];
	const char *q = r->style == TRAIN_CLI ? "'" : "\"";

	if (!r->farm[0] && !r->all_farms && !pool)
		return wc_error_set(err, WC_EINVAL, "nothing to train: give %s or %s",
				    field(r->style, "farm", f1, sizeof(f1)),
				    field(r->style, "pool", f2, sizeof(f2)));
	if (r->all_farms && (r->farm[0] || pool))
		return wc_error_set(err, WC_EINVAL,
				    "give one of a farm, every farm or a pool, not several");
	if (r->o.from != INT64_MIN && r->o.to != INT64_MAX && r->o.from >= r->o.to)
		return wc_error_set(err, WC_EINVAL, "invalid %s %s%s%s: must be before %s %s%s%s",
				    field(r->style, "from", f1, sizeof(f1)), q,
				    utc_format(r->o.from, a), q,
				    field(r->style, "to", f2, sizeof(f2)), q, utc_format(r->o.to, b),
				    q);
	if (pool && strcmp(r->regional, "none") && strcmp(r->regional, "all"))
		return wc_error_set(err, WC_EINVAL,
				    "invalid %s %s%.100s%s: with %s use none or all (the pool's "
				    "farms)",
				    field(r->style, "regional", f1, sizeof(f1)), q, r->regional, q,
				    field(r->style, "pool", f2, sizeof(f2)));
	if (r->o.short_leads > 0 && r->o.short_every == 0)
		r->o.short_every = UTC_HOUR;
	return WC_OK;
}

/* The regional spec resolves for farm id (the result is not kept: the run sets it). */
static enum wc_status check_regional(const struct train_request *r, struct store *st,
				     const char *id, struct wc_error *err)
{
	struct feature_config probe = r->o.features;

	return feature_config_set_regional(&probe, st, id, r->regional, err);
}

/* A pool of "all": the store's farms in id order. */
static enum wc_status pool_resolve_all(struct train_request *r, struct store *st,
				       struct wc_error *err)
{
	struct farm *farms = NULL;
	size_t n = 0;
	char f[16];

	enum wc_status ret;

	if ((ret = store_farm_list(st, &farms, &n, err)))
		return ret;
	if (n < 2 || n > FEAT_MAX_REGIONAL) {
		free(farms);
		return wc_error_set(err, WC_EINVAL,
				    "invalid %s %s: a pool has 2..%d farms and the store has %zu",
				    field(r->style, "pool", f, sizeof(f)),
				    r->style == TRAIN_CLI ? "'all'" : "\"all\"", FEAT_MAX_REGIONAL,
				    n);
	}
	for (size_t i = 0; i < n; i++)
		snprintf(r->pool[i], FARM_ID_MAX + 1, "%s", farms[i].id);
	r->n_pool = (int)n;
	free(farms);
	return WC_OK;
}

enum wc_status train_request_resolve(struct train_request *r, struct store *st,
				     struct wc_error *err)
{
	struct farm f;
	enum wc_status ret;
	char name[16];

	nn_blas_warn_slow_kernels();	/* once per process, as a request to train comes */
	if ((ret = check_fields(r, err)))
		return ret;
	if (r->farm[0] && (ret = store_farm_get(st, r->farm, &f, err)))
		return ret;
	if (r->pool_all && (ret = pool_resolve_all(r, st, err)))
		return ret;
	if (r->n_pool) {
		bool member = false;

		for (int i = 0; i < r->n_pool; i++) {
			if (!r->pool_all && (ret = store_farm_get(st, r->pool[i], &f, err))) {
				wc_error_prefix(err, "invalid %s",
						field(r->style, "pool", name, sizeof(name)));
				return ret;
			}
			member |= !strcmp(r->pool[i], r->farm);
		}
		if (r->farm[0] && !member)
			return wc_error_set(err, WC_EINVAL, "invalid %s: it must include the farm '%s'",
					    field(r->style, "pool", name, sizeof(name)), r->farm);
		return WC_OK;
	}
	if (r->farm[0])
		return check_regional(r, st, r->farm, err);
	/* every farm */
	{
		struct farm *farms = NULL;
		size_t n = 0;

		if ((ret = store_farm_list(st, &farms, &n, err)))
			return ret;
		if (n == 0)
			ret = wc_error_set(err, WC_ENOTFOUND, "no farm to train: the store has none");
		for (size_t i = 0; i < n && !ret; i++)
			ret = check_regional(r, st, farms[i].id, err);
		free(farms);
		return ret;
	}
}

/* ---- running it ------------------------------------------------------------------ */

/* Train farm id alone, its regional farms from the spec; *m owned by the caller. */
static enum wc_status train_farm(const struct train_request *r, struct store *st,
				 const char *id, struct farm_model **m, struct wc_error *err)
{
	struct train_options o = r->o;
	enum wc_status ret;

	*m = NULL;
	if ((ret = feature_config_set_regional(&o.features, st, id, r->regional, err)))
		return ret;
	return farm_model_train(st, id, &o, m, err);
}

/* One network for the pool: m[i] is pool farm i's model (m[1..] borrow m[0]'s network). */
static enum wc_status train_pool(const struct train_request *r, struct store *st,
				 struct farm_model **m, struct wc_error *err)
{
	const char *ids[FEAT_MAX_REGIONAL];
	struct train_options o = r->o;

	for (int i = 0; i < r->n_pool; i++)
		ids[i] = r->pool[i];
	/* any regional farm asks for the pool's; the pool code sets the list */
	o.features.n_regional = !strcmp(r->regional, "all");
	return farm_model_train_pool(st, ids, r->n_pool, &o, m, err);
}

/* Train farm id alone (its regional farms from the spec), save it, report it. */
static enum wc_status run_farm(const struct train_request *r, struct store *st, const char *id,
			       train_report_fn fn, void *arg, struct wc_error *err)
{
	struct farm_model *m = NULL;
	enum wc_status ret;

	if (!(ret = train_farm(r, st, id, &m, err)))
		ret = farm_model_save(st, m, err);
	if (fn)
		fn(arg, id, ret ? NULL : m, ret ? err : NULL);
	farm_model_free(m);
	return ret;
}

/* One network for the pool, saved as each farm's next version, all or none. */
static enum wc_status run_pool(const struct train_request *r, struct store *st,
			       train_report_fn fn, void *arg, struct wc_error *err)
{
	struct farm_model *m[FEAT_MAX_REGIONAL] = { 0 };
	enum wc_status ret;

	ret = train_pool(r, st, m, err);
	if (!ret && (ret = farm_models_save(st, m, r->n_pool, err)) && err) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		wc_error_set(err, ret, "%s (no farm of the pool saved)", why);
	}
	for (int i = 0; i < r->n_pool && fn; i++)
		if (!ret)
			fn(arg, r->pool[i], m[i], NULL);
	if (ret && fn)
		fn(arg, NULL, NULL, err);
	train_models_free(m, r->n_pool);
	return ret;
}

enum wc_status train_request_train(const struct train_request *r, struct store *st,
				   struct farm_model **out, int *n, struct wc_error *err)
{
	enum wc_status ret;

	*n = 0;
	if (r->all_farms || (!r->n_pool && !r->farm[0]))
		return wc_error_set(err, WC_EINVAL, "train_request_train takes one farm or a "
						    "resolved pool");
	if (r->n_pool) {
		for (int i = 0; i < r->n_pool; i++)
			out[i] = NULL;
		if ((ret = train_pool(r, st, out, err)))
			return ret;
		*n = r->n_pool;
		return WC_OK;
	}
	if ((ret = train_farm(r, st, r->farm, &out[0], err)))
		return ret;
	*n = 1;
	return WC_OK;
}

void train_models_free(struct farm_model **m, int n)
{
	/* a pool's farms after the first borrow the first one's network */
	for (int i = n; i-- > 0;) {
		farm_model_free(m[i]);
		m[i] = NULL;
	}
}

enum wc_status train_request_run(const struct train_request *r, struct store *st,
				 train_report_fn fn, void *arg, struct wc_error *err)
{
	struct wc_error one = { 0 };
	struct farm *farms = NULL;
	enum wc_status ret = WC_OK;
	size_t n = 0;

	if (r->n_pool)
		return run_pool(r, st, fn, arg, err);
	if (!r->all_farms)
		return run_farm(r, st, r->farm, fn, arg, err);
	if ((ret = store_farm_list(st, &farms, &n, err)))
		return ret;
	for (size_t i = 0; i < n; i++) {
		if (run_farm(r, st, farms[i].id, fn, arg, &one) && !ret) {
			ret = one.code;
			if (err)
				*err = one;
		}
	}
	free(farms);
	return ret;
}

json_t *train_request_to_json(const struct train_request *r)
{
	json_t *o = json_object(), *pool;
	char f[64];

	if (!o)
		return NULL;
	if (r->n_pool) {
		pool = json_array();
		for (int i = 0; i < r->n_pool; i++)
			json_array_append_new(pool, json_string(r->pool[i]));
		json_object_set_new(o, "pool", pool);
	} else if (r->pool_all) {
		json_object_set_new(o, "pool", json_string("all"));
	}
	for (size_t i = 0; i < train_option_count; i++)
		json_object_set_new(o, spelt(train_option_table[i].name, TRAIN_JSON, f, sizeof(f)),
				    value_json(r, &train_option_table[i]));
	return o;
}
