/*
 * engine.c - the rolling-origin backtest; see engine.h for what a run does and promises.
 *
 * Every forecast comes from forecast/forecast.h's forecaster (the model's trained here
 * by forecast/train_request.h, or the stored one), so the backtest cannot see more than
 * serving would. This file adds the schedule (issue and retrain times), the truth, the
 * sums behind the scores (forecast/metrics.h), the CSV, the JSON and the files.
 *
 * Order of work: the farms are taken in groups that train together (each farm alone, or
 * the training pool); per group the baseline forecasters stay open over the whole period
 * (one load of each farm's series), and per retrain window the group trains once and
 * each farm's model forecaster serves the window's issue times in order.
 */
#include "backtest/engine.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backtest/batch.h"
#include "backtest/outfile.h"
#include "backtest/report.h"
#include "common/dynbuf.h"
#include "common/log.h"
#include "common/utc.h"
#include "common/utf8.h"
#include "forecast/baselines.h"
#include "forecast/metrics.h"
#include "forecast/model.h"
#include "forecast/nn.h"
#include "trading/commit.h"
#include "trading/portfolio.h"
#include "trading/value.h"

#define CSV_BUF ((size_t)1 << 20)
#define REPORT_MAX ((size_t)64 << 20)

static const char *const method_names[BT_NMETHODS] = { "model", "persistence", "climatology",
						       "powercurve" };

const char *backtest_method_name(enum backtest_method m)
{
	return m >= 0 && m < BT_NMETHODS ? method_names[m] : "?";
}

/* ---- options ---------------------------------------------------------------------- */

void backtest_options_init(struct backtest_options *o)
{
	memset(o, 0, sizeof(*o));
	o->from = o->to = INT64_MIN;
	o->issue_hours = 1u << 0 | 1u << 12;
	o->retrain = BACKTEST_RETRAIN_MONTHLY;
	o->warm_epochs = BACKTEST_WARM_EPOCHS;
	o->warm_patience = BACKTEST_WARM_PATIENCE;
	market_init(&o->market);
	forecast_options_init(&o->fo);
	snprintf(o->model, sizeof(o->model), "auto");
	o->fo.model = o->model;
	train_request_init(&o->train, TRAIN_CLI);
}

void backtest_options_release(struct backtest_options *o)
{
	free(o->issued);
	o->issued = NULL;
	o->n_issued = 0;
	free(o->train_exclude);
	o->train_exclude = NULL;
	o->n_train_exclude = 0;
	price_table_release(&o->prices);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sort and drop repeats; returns the new count. */
static size_t sort_unique(int64_t *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (!k || v[i] != v[k - 1])
			v[k++] = v[i];
	return k;
}

/* "0,12": hours 0..23, each once. */
static enum wc_status parse_hours(const char *s, unsigned *out, struct wc_error *err)
{
	unsigned mask = 0;
	const char *p = s;

	for (;;) {
		char *end;
		long h;

		if (*p < '0' || *p > '9')
			break;
		h = strtol(p, &end, 10);
		if (h > 23 || (mask >> h & 1u))
			break;
		mask |= 1u << h;
		if (!*end) {
			*out = mask;
			return WC_OK;
		}
		if (*end != ',')
			break;
		p = end + 1;
	}
	return wc_error_set(err, WC_EINVAL, "use hours 0..23, each once, e.g. 0,12");
}

/* The whole file at path into b (initialised, its cap the file's); `what` names it. */
static enum wc_status read_whole(const char *path, const char *what, struct dynbuf *b,
				 struct wc_error *err)
{
	FILE *fp = fopen(path, "r");
	enum wc_status ret = WC_OK;
	char buf[65536];
	size_t got;

	if (!fp)
		return wc_error_set(err, WC_EIO, "cannot open %s '%s': %s", what, path,
				    strerror(errno));
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
		if ((ret = dynbuf_add(b, buf, got))) {
			fclose(fp);
			return wc_error_set(err, ret == WC_ENOMEM ? WC_ENOMEM : WC_EINVAL,
					    "%s '%s' is larger than %zu KiB", what, path,
					    b->max >> 10);
		}
	if (ferror(fp))
		ret = wc_error_set(err, WC_EIO, "cannot read %s '%s': %s", what, path,
				   strerror(errno));
	fclose(fp);
	return ret;
}

/*
 * The next line of a text cut in place at *cur (NULL at the end), without its '#'
 * comment and surrounding blanks ("" for a blank line); *lineno counts the lines.
 */
static char *next_line(char **cur, int *lineno)
{
	char *s = *cur, *e;

	if (!s)
		return NULL;
	/* count lines ourselves: strtok_r would skip blank ones */
	if ((*cur = strchr(s, '\n')))
		*(*cur)++ = '\0';
	(*lineno)++;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strcspn(s, "\r#");
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	return s;
}

/* A line of a file as a message shows it: at most 60 bytes, every byte that is not
 * printable UTF-8 a '?' (in place; the line is not read after). */
static const char *shown(char *s)
{
	if (strlen(s) > 60)
		strcpy(s + 57, "...");
	utf8_sanitize(s);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/*
 * What each_line() gathers: fn's value of each line (size bytes, which fn leaves at
 * value) appended to v, at least one and at most max of them. v grows from `first`
 * values by doubling; it is the caller's after a success, freed after a failure.
 */
struct line_values {
	void *value;
	size_t size, first, max;
	const char *one, *many;	/* the value in messages: "issue time", "issue times" */
	void *v;
	size_t n, cap;
};

/* Parse line (lineno of path, cut in place) into value; errors name path and lineno. */
typedef enum wc_status line_fn(char *line, const char *path, int lineno, void *value,
			       struct wc_error *err);

/*
 * Each line of the file at path (at most max_bytes; `what` names it in read errors)
 * without its '#' comment and surrounding blanks, blank ones skipped, through fn into
 * lv. Fails with fn's error at the first line it refuses, or WC_EINVAL when the file
 * holds more than lv->max values or none.
 */
static enum wc_status each_line(const char *path, const char *what, size_t max_bytes,
				line_fn *fn, struct line_values *lv, struct wc_error *err)
{
	struct dynbuf b;
	enum wc_status ret;
	int lineno = 0;
	char *cur, *s;

	dynbuf_init(&b, max_bytes);
	if ((ret = read_whole(path, what, &b, err)))
		goto cleanup;
	/* an empty file has no buffer to cut into lines (dynbuf_str gives a constant "") */
	cur = b.len ? (char *)dynbuf_str(&b) : NULL;
	while ((s = next_line(&cur, &lineno))) {
		if (!*s)
			continue;
		if ((ret = fn(s, path, lineno, lv->value, err)))
			goto cleanup;
		if (lv->n == lv->max) {
			ret = wc_error_set(err, WC_EINVAL, "'%s' has more than %zu %s", path, lv->max,
					   lv->many);
			goto cleanup;
		}
		if (lv->n == lv->cap) {
			size_t cap = lv->cap ? lv->cap * 2 : lv->first;
			void *nv = realloc(lv->v, cap * lv->size);

			if (!nv) {
				ret = wc_error_set(err, WC_ENOMEM, "out of memory");
				goto cleanup;
			}
			lv->v = nv;
			lv->cap = cap;
		}
		memcpy((char *)lv->v + lv->n++ * lv->size, lv->value, lv->size);
	}
	if (!lv->n)
		ret = wc_error_set(err, WC_EINVAL, "'%s' holds no %s", path, lv->one);
cleanup:
	dynbuf_release(&b);
	if (ret) {
		free(lv->v);
		lv->v = NULL;
		lv->n = lv->cap = 0;
	}
	return ret;
}

/* A line of the issue-time file: one ISO 8601 time, into value (an int64_t). */
static enum wc_status issued_line(char *s, const char *path, int lineno, void *value,
				  struct wc_error *err)
{
	if (!utc_parse(s, value))
		return wc_error_set(err, WC_EINVAL, "'%s' line %d: '%s' is not an ISO 8601 time",
				    path, lineno, shown(s));
	return WC_OK;
}

/* The issue-time file: one ISO 8601 time a line; '#' comments and blank lines skipped. */
static enum wc_status read_issued(struct backtest_options *o, const char *path,
				  struct wc_error *err)
{
	int64_t t;
	struct line_values lv = { .value = &t, .size = sizeof(t), .first = 1024,
				  .max = BACKTEST_MAX_ISSUES, .one = "issue time",
				  .many = "issue times" };
	enum wc_status ret;

	if ((ret = each_line(path, "--issued-file", BACKTEST_ISSUED_FILE_MAX, issued_line, &lv,
			     err)))
		return ret;
	free(o->issued);
	o->issued = lv.v;
	o->n_issued = sort_unique(o->issued, lv.n);
	snprintf(o->issued_file, sizeof(o->issued_file), "%s", path);
	return WC_OK;
}

static int cmp_interval(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* A line of the --train-exclude file: "FROM,TO", into value (an int64_t[2]). */
static enum wc_status exclude_line(char *s, const char *path, int lineno, void *value,
				   struct wc_error *err)
{
	char *comma = strchr(s, ','), *to;
	int64_t *v = value, a, z;

	if (!comma)
		return wc_error_set(err, WC_EINVAL, "'%s' line %d: '%s' is not FROM,TO (two ISO "
						    "8601 times)",
				    path, lineno, shown(s));
	*comma = '\0';
	for (to = comma + 1; *to == ' ' || *to == '\t'; to++)
		;
	for (char *e = comma; e > s && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = '\0';
	if (!utc_parse(s, &a) || !utc_parse(to, &z))
		return wc_error_set(err, WC_EINVAL, "'%s' line %d: '%s' is not an ISO 8601 time",
				    path, lineno, shown(utc_parse(s, &a) ? to : s));
	if (z < a)
		return wc_error_set(err, WC_EINVAL, "'%s' line %d: '%s' is before '%s'", path,
				    lineno, to, s);
	v[0] = a;
	v[1] = z;
	return WC_OK;
}

/* The --train-exclude file: "FROM,TO" a line (ISO 8601, FROM <= TO); '#' comments and
 * blank lines skipped. */
static enum wc_status read_train_exclude(struct backtest_options *o, const char *path,
					 struct wc_error *err)
{
	int64_t iv[2];
	struct line_values lv = { .value = iv, .size = sizeof(iv), .first = 256,
				  .max = BACKTEST_MAX_EXCLUDE, .one = "interval",
				  .many = "intervals" };
	enum wc_status ret;

	if ((ret = each_line(path, "--train-exclude file", BACKTEST_ISSUED_FILE_MAX, exclude_line,
			     &lv, err)))
		return ret;
	qsort(lv.v, lv.n, sizeof(iv), cmp_interval);
	free(o->train_exclude);
	o->train_exclude = lv.v;
	o->n_train_exclude = lv.n;
	snprintf(o->train_exclude_file, sizeof(o->train_exclude_file), "%s", path);
	return WC_OK;
}

/* The prices file: trading/market.h's form; errors name the path (and the line). */
static enum wc_status read_prices(struct backtest_options *o, const char *path,
				  struct wc_error *err)
{
	struct price_table t = { 0 };
	struct dynbuf b;
	enum wc_status ret;

	dynbuf_init(&b, PRICES_TEXT_MAX);
	if (!(ret = read_whole(path, "--prices file", &b, err)) &&
	    (ret = price_table_parse(dynbuf_str(&b), b.len, &t, err))) {
		ret = ret == WC_ENOMEM ? ret : WC_EINVAL;
		wc_error_prefix(err, "'%s'", path);
		err->code = ret;
	}
	dynbuf_release(&b);
	if (ret)
		return ret;
	price_table_release(&o->prices);
	o->prices = t;
	snprintf(o->prices_file, sizeof(o->prices_file), "%s", path);
	return WC_OK;
}

/* --pool and --regional, then the table's options (batch_train_args's rules). */
static enum wc_status set_train_args(struct backtest_options *o, const char *args,
				     struct wc_error *err)
{
	struct train_request r = o->train;
	char rest[BACKTEST_TRAIN_ARGS_MAX], *copy, *save = NULL, *tok;
	enum wc_status ret = WC_OK;
	size_t len = 0;

	if (strlen(args) >= BACKTEST_TRAIN_ARGS_MAX)
		return wc_error_set(err, WC_EINVAL, "use at most %d bytes",
				    BACKTEST_TRAIN_ARGS_MAX - 1);
	if (!(copy = strdup(args)))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	rest[0] = '\0';
	for (tok = strtok_r(copy, " \t\n", &save); tok && !ret;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		const char *value = NULL;
		bool pool = !strncmp(tok, "--pool", 6) && (!tok[6] || tok[6] == '=');
		bool regional = !strncmp(tok, "--regional", 10) && (!tok[10] || tok[10] == '=');

		if (!strcmp(tok, "--to") || !strncmp(tok, "--to=", 5)) {
			ret = wc_error_set(err, WC_EINVAL, "--to is the backtest's: each model "
							   "trains on what was observed before its "
							   "retrain time");
			break;
		}
		if (!pool && !regional) {
			len += (size_t)snprintf(rest + len, sizeof(rest) - len, "%s ", tok);
			continue;
		}
		value = strchr(tok, '=') ? strchr(tok, '=') + 1 : strtok_r(NULL, " \t\n", &save);
		if (!value || !*value) {
			ret = wc_error_set(err, WC_EINVAL, "option '%s' needs a value",
					   pool ? "--pool" : "--regional");
			break;
		}
		if (pool) {
			ret = train_request_set_pool(&r, value, err);
		} else if (strlen(value) >= sizeof(r.regional)) {
			ret = wc_error_set(err, WC_EINVAL, "--regional '%s' is too long", value);
		} else {
			snprintf(r.regional, sizeof(r.regional), "%s", value);
		}
	}
	free(copy);
	if (!ret)
		ret = batch_train_args(&r, rest, err);
	if (!ret) {
		o->train = r;
		snprintf(o->train_args, sizeof(o->train_args), "%s", args);
	}
	return ret;
}

/* The levels scored and written: forecast's list syntax and limit. */
static enum wc_status set_levels(struct backtest_options *o, const char *text,
				 struct wc_error *err)
{
	float levels[FORECAST_MAX_REQUEST];
	int n = 0;

	_Static_assert(QMETRICS_MAX_LEVELS >= FORECAST_MAX_REQUEST,
		       "the scores hold every level a forecast request may ask for");
	if (strlen(text) >= sizeof(o->levels_text) ||
	    forecast_parse_levels(text, levels, &n, NULL))
		return wc_error_set(err, WC_EINVAL, "use at most %d distinct levels in (0, 1), as "
						    "a list (0.05,0.5,0.95) or from:to:step "
						    "(0.01:0.99:0.01)",
				    FORECAST_MAX_REQUEST);
	memcpy(o->levels, levels, (size_t)n * sizeof(float));
	o->n_levels = n;
	snprintf(o->levels_text, sizeof(o->levels_text), "%s", text);
	return WC_OK;
}

enum wc_status backtest_set(struct backtest_options *o, const char *key, const char *value,
			    struct wc_error *err)
{
	struct forecast_request fr;
	long v;
	char *end;

	if (!strcmp(key, "farm")) {
		if (!value || !farm_id_valid(value))
			return wc_error_set(err, WC_EINVAL, "not a farm id (use letters, digits, "
							    "'-', '_', '.')");
		snprintf(o->farm, sizeof(o->farm), "%s", value);
		return WC_OK;
	}
	if (!strcmp(key, "all") || !strcmp(key, "allow_leak")) {
		*(!strcmp(key, "all") ? &o->all : &o->allow_leak) = true;
		return WC_OK;
	}
	if (!strcmp(key, "from") || !strcmp(key, "to")) {
		bool from = !strcmp(key, "from");

		if (!value || !utc_parse(value, from ? &o->from : &o->to))
			return wc_error_set(err, WC_EINVAL, "use ISO 8601, e.g. 2026-03-01T00:00Z");
		snprintf(from ? o->from_text : o->to_text, sizeof(o->from_text), "%s", value);
		return WC_OK;
	}
	if (!strcmp(key, "issue_hours"))
		return parse_hours(value ? value : "", &o->issue_hours, err);
	if (!strcmp(key, "issued_file"))
		return read_issued(o, value ? value : "", err);
	if (!strcmp(key, "retrain")) {
		o->retrain_set = true;
		if (value && !strcmp(value, "monthly")) {
			o->retrain = BACKTEST_RETRAIN_MONTHLY;
			return WC_OK;
		}
		if (value && !strcmp(value, "never")) {
			o->retrain = BACKTEST_RETRAIN_NEVER;
			return WC_OK;
		}
		v = value ? strtol(value, &end, 10) : 0;
		if (!value || end == value || strcmp(end, "d") || v < 1 ||
		    v > BACKTEST_MAX_RETRAIN_DAYS || value[0] == '+' || value[0] == ' ')
			return wc_error_set(err, WC_EINVAL, "use monthly, never or days like 30d "
							    "(1d..%dd)",
					    BACKTEST_MAX_RETRAIN_DAYS);
		o->retrain = BACKTEST_RETRAIN_DAYS;
		o->retrain_days = (int)v;
		return WC_OK;
	}
	if (!strcmp(key, "model") || !strcmp(key, "horizon") || !strcmp(key, "point") ||
	    !strcmp(key, "model_version") || !strcmp(key, "adapt")) {
		enum wc_status ret;

		/* forecast's own parsing, ranges and hints */
		forecast_request_init(&fr);
		fr.o = o->fo;
		if ((ret = forecast_request_set(&fr, key, value, err)))
			return ret;
		o->fo = fr.o;
		if (!strcmp(key, "model")) {
			snprintf(o->model, sizeof(o->model), "%s", value);
		}
		o->fo.model = o->model;
		return WC_OK;
	}
	if (!strcmp(key, "train_args"))
		return set_train_args(o, value ? value : "", err);
	if (!strcmp(key, "quantiles"))
		return set_levels(o, value ? value : "", err);
	if (!strcmp(key, "warm_start")) {
		o->warm_start = true;
		return WC_OK;
	}
	if (!strcmp(key, "warm_epochs") || !strcmp(key, "warm_patience")) {
		bool epochs = !strcmp(key, "warm_epochs");

		v = value ? strtol(value, &end, 10) : 0;
		if (!value || end == value || *end || v < 1 || v > (epochs ? 10000 : 1000) ||
		    !(value[0] >= '0' && value[0] <= '9'))
			return wc_error_set(err, WC_EINVAL, "use 1..%d", epochs ? 10000 : 1000);
		*(epochs ? &o->warm_epochs : &o->warm_patience) = (int)v;
		return WC_OK;
	}
	if (!strcmp(key, "portfolio")) {
		if (!value || !farm_id_valid(value))
			return wc_error_set(err, WC_EINVAL, "not a portfolio id (use letters, "
							    "digits, '-', '_', '.')");
		snprintf(o->portfolio, sizeof(o->portfolio), "%s", value);
		return WC_OK;
	}
	if (!strcmp(key, "price") || !strcmp(key, "psi_plus") || !strcmp(key, "psi_minus"))
		return market_set(&o->market, key, value ? value : "", err);
	if (!strcmp(key, "prices"))
		return read_prices(o, value ? value : "", err);
	if (!strcmp(key, "train_exclude"))
		return read_train_exclude(o, value ? value : "", err);
	return wc_error_set(err, WC_EINVAL, "unknown backtest option '%s'", key);
}

/* ---- the run ---------------------------------------------------------------------- */

/* The sums behind one method's scores over one set of pairs. */
struct acc {
	struct metrics pt;		/* point forecasts */
	struct qmetrics q;		/* quantiles at the run's levels */
	size_t missing;			/* pairs with truth and no forecast */
	double joint_m[2], joint_r[2];	/* squared errors on the pairs both have: this
					 * method's, the reference's (persistence, climatology) */
	size_t joint_n[2];
};

/* One farm of the group at work. */
struct farm_state {
	struct farm f;
	size_t index;			/* in run.farms (for its scores) */
	struct forecaster *base[BASELINE_COUNT];
	struct farm_model *stored;	/* retrain never: its stored model */
	float *truth;			/* (nhours) from run.t0; NaN when unknown */
};

struct run {
	struct store *st;
	const struct backtest_options *o;
	struct backtest_result *res;
	int64_t *issues;
	size_t nissues;
	char (*farms)[FARM_ID_MAX + 1];
	size_t nfarms;
	int H;
	bool train;			/* models are trained here (nn or auto, not never) */
	int model_baseline;		/* the model is this baseline, else -1 */
	int nL;
	float L[QMETRICS_MAX_LEVELS];	/* the levels scored and written */
	int64_t t0;			/* hour-ending time of hour 0 of truth and fan */
	size_t nhours;
	struct acc *all;		/* (BT_NMETHODS) */
	struct acc *lead;		/* (H, BT_NMETHODS) */
	struct acc *farm;		/* (nfarms, BT_NMETHODS) */
	size_t made[BT_NMETHODS], failed[BT_NMETHODS], fallback[BT_NMETHODS];
	json_t *failures;		/* the first BACKTEST_MAX_FAILURES */
	json_t *retrains;
	struct wc_error first_failure;	/* of the model */
	FILE *csv;
	char csv_tmp[OUTFILE_PATH_MAX];
	struct report_fan fan;		/* the first farm's */
	size_t done, total;
	bool hindcast;
	char hindcast_why[512];
	char why_leak[512];
	bool portfolio;			/* one subject: the portfolio of the farms */
	size_t nsubj;			/* subjects scored: the farms, or the portfolio */
	size_t truth_hours, truth_partial;	/* a portfolio's hours: every farm observed,
						 * some but not all */
	/* with prices */
	bool trading;
	const char *prices_from;	/* "options", "file", "stored settings" */
	struct committer **com;		/* (nsubj) */
	struct value_result vall, vblock[PORTFOLIO_NBLOCKS];
	struct value_result *vsubj;	/* (nsubj) */
	struct value_result *vday;	/* (ndays) by the delivery period's UTC day */
	int64_t day0;
	size_t ndays, commits, commits_failed;
	struct wc_error first_commit_failure;
	FILE *ccsv;
	char ccsv_tmp[OUTFILE_PATH_MAX];
};

/* The i-th subject scored: a farm, or the portfolio. */
static const char *subject_id(const struct run *r, size_t i)
{
	return r->portfolio ? r->o->portfolio : r->farms[i];
}

static bool stopping(const struct run *r)
{
	return r->o->stop && *r->o->stop;
}

static void progress(struct run *r, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void progress(struct run *r, const char *phase, const char *fmt, ...)
{
	struct backtest_progress p = { .phase = phase, .done = r->done, .total = r->total };
	va_list ap;

	if (!r->o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(p.subject, sizeof(p.subject), fmt, ap);
	va_end(ap);
	r->o->progress(r->o->progress_arg, &p);
}

/* The retrain time serving issue time T (INT64_MIN: none, one window). */
static int64_t retrain_time(const struct run *r, int64_t T)
{
	const struct backtest_options *o = r->o;
	int64_t y, base, step;
	int mo, d, h, mi, sec;

	if (!r->train)
		return INT64_MIN;
	if (o->retrain == BACKTEST_RETRAIN_MONTHLY) {
		utc_to_fields(T, &y, &mo, &d, &h, &mi, &sec);
		return utc_from_fields(y, mo, 1, 0, 0, 0);
	}
	base = utc_floor(o->from != INT64_MIN ? o->from : r->issues[0], UTC_DAY);
	step = (int64_t)o->retrain_days * UTC_DAY;
	return base + utc_floor(T - base, step);
}

/* The issue times of the run: the file's within [from, to], or the days at the hours. */
static enum wc_status issue_times(struct run *r, struct wc_error *err)
{
	const struct backtest_options *o = r->o;
	int64_t from = o->from, to = o->to;
	size_t n = 0;

	if (o->n_issued) {
		if (!(r->issues = malloc(o->n_issued * sizeof(int64_t))))
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		for (size_t i = 0; i < o->n_issued; i++)
			if ((from == INT64_MIN || o->issued[i] >= from) &&
			    (to == INT64_MIN || o->issued[i] <= to))
				r->issues[n++] = utc_floor(o->issued[i], UTC_HOUR);
	} else {
		int64_t days = (utc_floor(to, UTC_DAY) - utc_floor(from, UTC_DAY)) / UTC_DAY + 1;

		if (days * 24 > BACKTEST_MAX_ISSUES)
			return wc_error_set(err, WC_EINVAL, "invalid --to '%s': more than %d issue "
							    "times from --from '%s'",
					    o->to_text, BACKTEST_MAX_ISSUES, o->from_text);
		if (!(r->issues = malloc((size_t)days * 24 * sizeof(int64_t))))
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		for (int64_t d = utc_floor(from, UTC_DAY); d <= to; d += UTC_DAY)
			for (int h = 0; h < 24; h++)
				if ((o->issue_hours >> h & 1u) && d + h * UTC_HOUR >= from &&
				    d + h * UTC_HOUR <= to)
					r->issues[n++] = d + h * UTC_HOUR;
	}
	r->nissues = sort_unique(r->issues, n);
	if (!r->nissues) {
		if (o->n_issued)
			return wc_error_set(err, WC_EINVAL, "no issue time of '%s' is within "
							    "--from '%s' .. --to '%s'",
					    o->issued_file, o->from_text[0] ? o->from_text : "-",
					    o->to_text[0] ? o->to_text : "-");
		return wc_error_set(err, WC_EINVAL, "no issue time between --from '%s' and --to "
						    "'%s' at the issue hours",
				    o->from_text, o->to_text);
	}
	return WC_OK;
}

/* The options that must go together, before anything is read. */
static enum wc_status check_options(const struct backtest_options *o, bool baseline,
				    struct wc_error *err)
{
	if (!!o->farm[0] + o->all + !!o->portfolio[0] != 1)
		return wc_error_set(err, WC_EINVAL, "use one of --farm ID, --portfolio P and "
						    "--all");
	if (o->prices.n && (!isnan(o->market.price) || !isnan(o->market.psi_plus) ||
			    !isnan(o->market.psi_minus)))
		return wc_error_set(err, WC_EINVAL, "use one of --prices FILE and --price, "
						    "--psi-plus, --psi-minus");
	if (o->portfolio[0] && o->fo.model_version > 0)
		return wc_error_set(err, WC_EINVAL, "--model-version names one farm's model: with "
						    "--portfolio each farm's newest serves");
	if (!o->n_issued && (o->from == INT64_MIN || o->to == INT64_MIN))
		return wc_error_set(err, WC_EINVAL, "--from and --to are required (or "
						    "--issued-file)");
	if (o->from != INT64_MIN && o->to != INT64_MIN && o->to < o->from)
		return wc_error_set(err, WC_EINVAL, "invalid --to '%s': it is before --from '%s'",
				    o->to_text, o->from_text);
	if (baseline && o->retrain_set)
		return wc_error_set(err, WC_EINVAL, "--retrain goes with --model nn or auto, not "
						    "the baseline '%s'",
				    o->model);
	if ((baseline || o->retrain == BACKTEST_RETRAIN_NEVER) && o->train_args[0])
		return wc_error_set(err, WC_EINVAL, "--train-args goes with a model trained by "
						    "the backtest (--model nn or auto, --retrain "
						    "monthly or <N>d)");
	if ((baseline || o->retrain == BACKTEST_RETRAIN_NEVER) && o->n_train_exclude)
		return wc_error_set(err, WC_EINVAL, "--train-exclude goes with a model trained "
						    "by the backtest (--model nn or auto, "
						    "--retrain monthly or <N>d)");
	if (o->fo.model_version > 0 && o->retrain != BACKTEST_RETRAIN_NEVER)
		return wc_error_set(err, WC_EINVAL, "--model-version goes with --retrain never "
						    "(the stored model to replay)");
	if (o->warm_start && (baseline || o->retrain == BACKTEST_RETRAIN_NEVER))
		return wc_error_set(err, WC_EINVAL, "--warm-start goes with a model trained by "
						    "the backtest (--model nn or auto, --retrain "
						    "monthly or <N>d)");
	if (!o->warm_start && (o->warm_epochs != BACKTEST_WARM_EPOCHS ||
			       o->warm_patience != BACKTEST_WARM_PATIENCE))
		return wc_error_set(err, WC_EINVAL, "--warm-epochs and --warm-patience go with "
						    "--warm-start");
	if (o->allow_leak && o->retrain != BACKTEST_RETRAIN_NEVER)
		return wc_error_set(err, WC_EINVAL, "--allow-leak goes with --retrain never: "
						    "the models the backtest trains see nothing "
						    "after their retrain time");
	return WC_OK;
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A portfolio's farms, in its order (pforecaster_open_models's). */
static enum wc_status portfolio_farms(struct run *r, struct wc_error *err)
{
	struct portfolio *p = malloc(sizeof(*p));
	enum wc_status ret;

	if (!p)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	ret = store_portfolio_get(r->st, r->o->portfolio, p, err);
	if (ret == WC_ENOTFOUND)
		ret = wc_error_set(err, WC_ENOTFOUND, "no portfolio '%s' in the store (see "
						      "'windcast portfolio list')",
				   r->o->portfolio);
	else if (!ret && !(r->farms = calloc((size_t)p->nfarms, sizeof(*r->farms))))
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	for (int i = 0; !ret && i < p->nfarms; i++)
		snprintf(r->farms[i], sizeof(r->farms[i]), "%s", p->farms[i]);
	if (!ret)
		r->nfarms = (size_t)p->nfarms;
	free(p);
	return ret;
}

/* The subject's farms, in id order (a portfolio's in its order). */
static enum wc_status subject_farms(struct run *r, struct wc_error *err)
{
	struct farm *farms = NULL, f;
	size_t n = 0;
	enum wc_status ret;

	if (r->o->portfolio[0])
		return portfolio_farms(r, err);
	if (r->o->farm[0]) {
		if ((ret = store_farm_get(r->st, r->o->farm, &f, err)) == WC_ENOTFOUND)
			return wc_error_set(err, WC_EINVAL, "invalid --farm '%s': no such farm in "
							    "the store",
					    r->o->farm);
		if (ret)
			return ret;
		if (!(r->farms = calloc(1, sizeof(*r->farms))))
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		snprintf(r->farms[0], sizeof(r->farms[0]), "%s", f.id);
		r->nfarms = 1;
		return WC_OK;
	}
	if ((ret = store_farm_list(r->st, &farms, &n, err)))
		return ret;
	if (!n)
		ret = wc_error_set(err, WC_ENOTFOUND, "no farm to backtest: the store has none");
	else if (n > BACKTEST_MAX_FARMS)
		ret = wc_error_set(err, WC_EINVAL, "the store has %zu farms: a backtest takes at "
						   "most %d",
				   n, BACKTEST_MAX_FARMS);
	else if (!(r->farms = calloc(n, sizeof(*r->farms))))
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; !ret && i < n; i++)
		snprintf(r->farms[i], sizeof(r->farms[i]), "%s", farms[i].id);
	if (!ret) {
		qsort(r->farms, n, sizeof(*r->farms), cmp_ids);
		r->nfarms = n;
	}
	free(farms);
	return ret;
}

/* The latest observation model m read, and whether that is known or bounded. */
static int64_t model_obs_to(const struct farm_model *m, bool *known)
{
	*known = m->obs_to != 0;
	if (*known)
		return m->obs_to;
	/* a model from before windcast recorded it: its rows' targets reach at most the
	 * longest lead past its last issue time */
	return m->train_to + (int64_t)m->features.max_lead * UTC_HOUR;
}

/*
 * Retrain never: the stored model of each farm, read no observation after the farm's
 * first issue time (else refused, or with allow_leak every output is a hindcast).
 */
static enum wc_status check_leak(struct run *r, struct farm_state *fs, struct wc_error *err)
{
	const struct backtest_options *o = r->o;
	enum wc_status ret;
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN];
	bool known;
	int64_t seen;

	if ((ret = farm_model_load(r->st, fs->f.id, o->fo.model_version, &fs->stored, err)))
		return ret;
	seen = model_obs_to(fs->stored, &known);
	if (seen <= r->issues[0])
		return WC_OK;
	utc_format(seen, a);
	utc_format(r->issues[0], b);
	if (!o->allow_leak)
		return wc_error_set(err, WC_EINVAL,
				    "model %d of farm '%s' read observations up to %s%s, after the "
				    "first issue time %s: with --retrain never it would forecast "
				    "what it has seen; use --retrain monthly (or <N>d) to train "
				    "as the backtest goes, or --allow-leak to mark every output a "
				    "hindcast",
				    fs->stored->version, fs->f.id, a,
				    known ? "" : " (at most: its last issue time plus its longest "
						 "lead)",
				    b);
	if (!r->hindcast)
		snprintf(r->hindcast_why, sizeof(r->hindcast_why),
			 "model %d of farm '%s' read observations up to %s, after the first "
			 "issue time %s (--allow-leak): the scores are those of a hindcast, "
			 "better than a forecaster could have done",
			 fs->stored->version, fs->f.id, a, b);
	r->hindcast = true;
	return WC_OK;
}

/* The levels scored: those asked for, else the model's (trained here or stored), else
 * the baselines'. */
static void score_levels(struct run *r, const struct farm_model *stored)
{
	struct nn_config d;
	const float *taus;
	int n;

	nn_config_default(&d);
	taus = d.quantiles;
	n = d.n_quantiles;
	if (r->o->n_levels) {
		taus = r->o->levels;
		n = r->o->n_levels;
	} else if (r->train) {
		taus = r->o->train.o.nn.quantiles;
		n = r->o->train.o.nn.n_quantiles;
	} else if (stored) {
		taus = stored->nn->quantiles;
		n = stored->nn->n_quantiles;
	}
	r->nL = n < QMETRICS_MAX_LEVELS ? n : QMETRICS_MAX_LEVELS;
	memcpy(r->L, taus, (size_t)r->nL * sizeof(float));
}

static void acc_init(struct acc *a, const float *L, int nL)
{
	memset(a, 0, sizeof(*a));
	metrics_init(&a->pt);
	qmetrics_init(&a->q, L, nL);
}

/* The truth of a farm over the run's hours: observed power / capacity, NaN when
 * missing or flagged. */
static enum wc_status load_truth(struct run *r, struct farm_state *fs, struct wc_error *err)
{
	struct obs_row *rows = NULL;
	size_t n = 0;
	enum wc_status ret;

	if (!(fs->truth = malloc(r->nhours * sizeof(float))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nhours; i++)
		fs->truth[i] = NAN;
	if ((ret = store_obs_query(r->st, fs->f.id, r->t0,
				   r->t0 + (int64_t)(r->nhours - 1) * UTC_HOUR, &rows, &n, err)))
		return ret;
	for (size_t i = 0; i < n; i++) {
		int64_t k = (rows[i].time - r->t0) / UTC_HOUR;

		if (rows[i].time % UTC_HOUR || k < 0 || (size_t)k >= r->nhours ||
		    rows[i].flag != OBS_OK || !(fs->f.capacity_mw > 0))
			continue;
		fs->truth[k] = (float)(rows[i].power_mw / fs->f.capacity_mw);
	}
	free(rows);
	return WC_OK;
}

static void farm_state_release(struct farm_state *fs)
{
	for (int b = 0; b < BASELINE_COUNT; b++)
		forecaster_free(fs->base[b]);
	farm_model_free(fs->stored);
	free(fs->truth);
	memset(fs, 0, sizeof(*fs));
}

static void note_failure(struct run *r, enum backtest_method m, const char *farm, int64_t T,
			 const struct wc_error *e)
{
	char t[UTC_ISO_LEN];

	r->failed[m]++;
	if (m == BT_MODEL && !r->first_failure.code)
		r->first_failure = *e;
	if (json_array_size(r->failures) >= BACKTEST_MAX_FAILURES)
		return;
	json_array_append_new(r->failures,
			      json_pack("{s:s,s:s,s:s,s:s}", "farm", farm, "issued",
					utc_format(T, t), "method", method_names[m], "error",
					wc_error_msg(e)));
}

/* %.6g, or nothing for NaN: the CSV's numbers (forecast_csv's form). */
static void put_num(FILE *fp, double v)
{
	if (isfinite(v))
		fprintf(fp, ",%.6g", v);
	else
		fputc(',', fp);
}

static void csv_header(struct run *r)
{
	fputs("farm,issued,valid_time,lead_h,method,model,model_version,trained_to,fallback,"
	      "hindcast,obs,point", r->csv);
	for (int k = 0; k < r->nL; k++)
		fprintf(r->csv, ",q%g", r->L[k]);
	fputc('\n', r->csv);
}

/* Add one pair to a: point p, quantiles q at the run's levels, truth y. */
static void acc_add(struct acc *a, double p, const float *q, double y)
{
	if (!isfinite(y))
		return;
	if (!isfinite(p)) {
		a->missing++;
		return;
	}
	metrics_add(&a->pt, p, y);
	qmetrics_add(&a->q, q, y);
}

/* The joint sums behind skill: method m's and reference ref's squared errors. */
static void acc_joint(struct acc *set, const double *p, double y)
{
	static const int refs[2] = { BT_PERSISTENCE, BT_CLIMATOLOGY };

	if (!isfinite(y))
		return;
	for (int m = 0; m < BT_NMETHODS; m++)
		for (int k = 0; k < 2; k++) {
			double em = p[m] - y, er = p[refs[k]] - y;

			if (!isfinite(em) || !isfinite(er))
				continue;
			set[m].joint_m[k] += em * em;
			set[m].joint_r[k] += er * er;
			set[m].joint_n[k]++;
		}
}

/* Count what was made; the model, when it is a baseline, is that baseline's forecast. */
static void count_made(struct run *r, const char *id, int64_t T, struct forecast *fc, bool *ok)
{
	char t[UTC_ISO_LEN];

	if (r->model_baseline >= 0) {
		/* the model is a baseline: the same forecast, computed once */
		int b = 1 + r->model_baseline;

		ok[BT_MODEL] = ok[b];
		if (ok[b]) {
			fc[BT_MODEL] = fc[b];
		} else {
			r->failed[BT_MODEL]++;
			if (!r->first_failure.code)
				wc_error_set(&r->first_failure, WC_ENODATA,
					     "cannot forecast %s '%s' at %s with %s",
					     r->portfolio ? "portfolio" : "farm", id,
					     utc_format(T, t), r->o->model);
		}
	}
	for (int m = 0; m < BT_NMETHODS; m++)
		if (ok[m]) {
			r->made[m]++;
			r->fallback[m] += fc[m].fallback[0] != '\0';
		}
}

/* Forecast farm fs at T with every method (model NULL: it cannot serve, for the reason
 * no_model) into fc (ok where made). */
static void farm_forecasts(struct run *r, struct farm_state *fs, struct forecaster *model,
			   const struct wc_error *no_model, int64_t T, struct forecast *fc,
			   bool *ok)
{
	for (int m = BT_PERSISTENCE; m < BT_NMETHODS; m++) {
		struct wc_error e = { 0 };

		ok[m] = forecaster_issue(fs->base[m - 1], T, &fc[m], &e) == WC_OK;
		if (!ok[m])
			note_failure(r, (enum backtest_method)m, fs->f.id, T, &e);
	}
	if (r->model_baseline < 0) {
		struct wc_error e = { 0 };

		ok[BT_MODEL] = model && forecaster_issue(model, T, &fc[BT_MODEL], &e) == WC_OK;
		if (!ok[BT_MODEL])
			note_failure(r, BT_MODEL, fs->f.id, T, model ? &e : no_model);
	}
	count_made(r, fs->f.id, T, fc, ok);
}

/* The block of trading/portfolio.h that lead h falls in. */
static int lead_block(int h)
{
	int b = 0;

	while (b + 1 < PORTFOLIO_NBLOCKS && portfolio_block_first[b + 1] <= h)
		b++;
	return b;
}

/*
 * With prices: the model's forecast fc of subject fs at T commits its leads
 * (committer_schedule), and the five schedules settle each period against the truth
 * (value_settle), into the sums; commitments.csv gets the periods.
 */
static void settle_issue(struct run *r, struct farm_state *fs, const struct forecast *fc,
			 int64_t T)
{
	struct schedule s;
	struct wc_error e = { 0 };
	char t[UTC_ISO_LEN], a[UTC_ISO_LEN], b[UTC_ISO_LEN];

	if (committer_schedule(r->com[fs->index], fc, &s, &e)) {
		r->commits_failed++;
		if (!r->first_commit_failure.code)
			r->first_commit_failure = e;
		return;
	}
	r->commits++;
	utc_format(T, t);
	for (int i = 0; i < s.n; i++) {
		const struct commit_period *p = &s.p[i];
		int64_t k = (p->end - r->t0) / UTC_HOUR, day = (p->start - r->day0) / UTC_DAY;
		double y = k >= 0 && (size_t)k < r->nhours ? fs->truth[k] : NAN;
		double mw = y * fc->capacity_mw;
		struct value_result v;

		if (value_settle(1, &p->committed_mw, &p->median_mw, &p->mean_mw, &mw, &p->prices,
				 &v, &e) == WC_OK) {
			value_add(&r->vall, &v);
			value_add(&r->vblock[lead_block(p->lead)], &v);
			value_add(&r->vsubj[fs->index], &v);
			if (day >= 0 && (size_t)day < r->ndays)
				value_add(&r->vday[day], &v);
		}
		fprintf(r->ccsv, "%s,%s,%s,%s,%d,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g",
			fs->f.id, t, utc_format(p->start, a), utc_format(p->end, b), p->lead,
			p->prices.price, p->prices.psi_plus, p->prices.psi_minus, p->alpha,
			p->committed_mw, p->median_mw, p->mean_mw, p->expect.revenue);
		if (isfinite(mw))
			fprintf(r->ccsv, ",%.10g\n", mw);
		else
			fputs(",\n", r->ccsv);
	}
	schedule_release(&s);
}

/* Score the forecasts fc (ok where made) of subject fs at T, write them, keep the fan,
 * settle the model's commitments; release them. */
static void score_issue(struct run *r, struct farm_state *fs, struct forecast *fc,
			const bool *ok, int64_t T, const char *trained_to)
{
	float q[BT_NMETHODS][QMETRICS_MAX_LEVELS];
	double p[BT_NMETHODS];
	char t[UTC_ISO_LEN], v[UTC_ISO_LEN], version[16];
	struct acc *farm_acc = r->farm + fs->index * BT_NMETHODS;

	utc_format(T, t);
	for (int i = 1; i <= r->H; i++) {
		int64_t vt = T + (int64_t)i * UTC_HOUR, k = (vt - r->t0) / UTC_HOUR;
		double y = k >= 0 && (size_t)k < r->nhours ? fs->truth[k] : NAN;

		for (int m = 0; m < BT_NMETHODS; m++) {
			p[m] = NAN;
			if (!ok[m] || i > fc[m].nlead)
				continue;
			p[m] = fc[m].point[i - 1];
			for (int j = 0; j < r->nL; j++)
				q[m][j] = forecast_quantile(&fc[m], i - 1, r->L[j]);
		}
		for (int m = 0; m < BT_NMETHODS; m++) {
			acc_add(&r->all[m], p[m], q[m], y);
			acc_add(&r->lead[(size_t)(i - 1) * BT_NMETHODS + m], p[m], q[m], y);
			acc_add(&farm_acc[m], p[m], q[m], y);
		}
		acc_joint(r->all, p, y);
		acc_joint(r->lead + (size_t)(i - 1) * BT_NMETHODS, p, y);
		acc_joint(farm_acc, p, y);
		utc_format(vt, v);
		for (int m = 0; m < BT_NMETHODS; m++) {
			const struct forecast *f = &fc[m];
			/* a network's forecast, or a portfolio's of the farms' networks */
			bool nn = !strcmp(f->model, "nn") ||
				  (f->portfolio && m == BT_MODEL && r->model_baseline < 0);

			if (!isfinite(p[m]))
				continue;
			version[0] = '\0';
			if (!strcmp(f->model, "nn") && f->model_version > 0)
				snprintf(version, sizeof(version), "%d", f->model_version);
			fprintf(r->csv, "%s,%s,%s,%d,%s,%s,%s,%s,%s,%s", fs->f.id, t, v, i,
				method_names[m], f->model, version,
				nn ? trained_to : "", f->fallback[0] ? "true" : "false",
				r->hindcast && nn ? "true" : "false");
			put_num(r->csv, y);
			put_num(r->csv, p[m]);
			for (int j = 0; j < r->nL; j++)
				put_num(r->csv, q[m][j]);
			fputc('\n', r->csv);
		}
		if (fs->index == 0 && k >= 0 && (size_t)k < r->fan.n) {
			/* issue times come in order: the later forecast is the fresher */
			r->fan.obs[k] = (float)y;
			if (isfinite(p[BT_MODEL])) {
				r->fan.point[k] = (float)p[BT_MODEL];
				memcpy(r->fan.q + (size_t)k * r->fan.nq, q[BT_MODEL],
				       (size_t)r->fan.nq * sizeof(float));
				r->fan.lead[k] = i;
			}
		}
	}
	if (r->trading && ok[BT_MODEL])
		settle_issue(r, fs, &fc[BT_MODEL], T);
	for (int m = 0; m < BT_NMETHODS; m++)
		if (ok[m] && !(r->model_baseline >= 0 && m == BT_MODEL))
			forecast_release(&fc[m]);
}

/* Forecast farm fs at T with every method, score, write. */
static void run_issue(struct run *r, struct farm_state *fs, struct forecaster *model,
		      const struct wc_error *no_model, int64_t T, const char *trained_to)
{
	struct forecast fc[BT_NMETHODS];
	bool ok[BT_NMETHODS] = { false };

	memset(fc, 0, sizeof(fc));
	farm_forecasts(r, fs, model, no_model, T, fc, ok);
	score_issue(r, fs, fc, ok, T, trained_to);
}

/* Open the baseline forecasters of a farm over the whole run, load its truth. */
static enum wc_status farm_open(struct run *r, size_t index, struct farm_state *fs,
				struct wc_error *err)
{
	struct forecast_options bo = r->o->fo;
	enum wc_status ret;

	memset(fs, 0, sizeof(*fs));
	fs->index = index;
	if ((ret = store_farm_get(r->st, r->farms[index], &fs->f, err)) ||
	    (ret = load_truth(r, fs, err)))
		return ret;
	bo.model_version = 0;
	for (int b = 0; b < BASELINE_COUNT; b++) {
		bo.model = baseline_name((enum baseline)b);
		if ((ret = forecaster_open(r->st, fs->f.id, &bo, r->issues[0],
					   r->issues[r->nissues - 1], &fs->base[b], err)))
			return ret;
	}
	if (index == 0) {
		r->fan.capacity_mw = fs->f.capacity_mw;
		for (size_t k = 0; k < r->nhours; k++)
			r->fan.obs[k] = fs->truth[k];
	}
	return WC_OK;
}

/* Serve the issue times [a, b) of farm fs with model m (NULL: none, for `why`). */
static void run_window(struct run *r, struct farm_state *fs, struct farm_model *m,
		       const char *why, size_t a, size_t b, const char *trained_to)
{
	struct forecaster *fcr = NULL;
	struct wc_error e = { 0 };
	struct forecast_options mo = r->o->fo;
	char t[UTC_ISO_LEN];

	mo.model_version = 0;
	/* when the model cannot serve at all, each issue time fails for that reason and
	 * the baselines still serve */
	if (r->model_baseline < 0)
		forecaster_open_model(r->st, fs->f.id, &mo, m, why, r->issues[a],
				      r->issues[b - 1], &fcr, &e);
	for (size_t i = a; i < b && !stopping(r); i++) {
		run_issue(r, fs, fcr, &e, r->issues[i], trained_to);
		r->done++;
		progress(r, "forecasting", "farm '%s' issued %s", fs->f.id,
			 utc_format(r->issues[i], t));
	}
	forecaster_free(fcr);
}

/* ---- one group of farms (trained together) ---------------------------------------- */

/* The model of the k-th farm of the group among the nm models trained (a pool's are in
 * pool order). */
static struct farm_model *group_model(const struct train_request *tr, struct farm_model **m,
				      int nm, const char *farm)
{
	if (!tr->n_pool)
		return nm ? m[0] : NULL;
	for (int i = 0; i < tr->n_pool && i < nm; i++)
		if (!strcmp(tr->pool[i], farm))
			return m[i];
	return NULL;
}

static json_t *time_json(int64_t t)
{
	char buf[UTC_ISO_LEN];

	return t == INT64_MIN || t == INT64_MAX ? json_null() : json_string(utc_format(t, buf));
}

/* Train the group at retrain time R for the issue times [a, b); the record goes to
 * run.retrains. m gets the models (nm of them); why says why there are none. */
static void train_window(struct run *r, struct train_request *tr, int64_t R, size_t a,
			 size_t b, const size_t *idx, int n, const struct farm_model *prev,
			 struct farm_model **m, int *nm, char *why, size_t whylen)
{
	const struct backtest_options *o = r->o;
	struct train_request wr = *tr;
	struct wc_error e = { 0 };
	json_t *rec = json_object(), *farms = json_array(), *models = json_array();
	char t[UTC_ISO_LEN];
	bool warm = o->warm_start && prev;

	utc_format(R, t);
	if (tr->n_pool)
		progress(r, "training", "a pool of %d farms on data before %s%s", tr->n_pool, t,
			 warm ? " (warm start)" : "");
	else
		progress(r, "training", "farm '%s' on data before %s%s", tr->farm, t,
			 warm ? " (warm start)" : "");
	wr.o.to = R;
	wr.o.hide_obs = (const int64_t(*)[2])o->train_exclude;
	wr.o.n_hide_obs = o->n_train_exclude;
	if (warm) {
		/* from the previous window's weights, for fewer epochs */
		wr.o.nn.warm = prev->nn;
		wr.o.nn.epochs = o->warm_epochs;
		wr.o.nn.patience = o->warm_patience;
	}
	*nm = 0;
	if (train_request_train(&wr, r->st, m, nm, &e)) {
		snprintf(why, whylen, "no model could be trained on data before %s: %s", t,
			 wc_error_msg(&e));
		log_warn("backtest: %s", why);
		r->res->trainings_failed++;
	}
	r->res->trainings++;
	for (int k = 0; k < n; k++)
		json_array_append_new(farms, json_string(r->farms[idx[k]]));
	/* the network's epochs, member by member (a pool's farms share it) */
	if (*nm) {
		json_t *run = json_array(), *best = json_array();

		for (int k = 0; k < m[0]->nn->n_members; k++) {
			json_array_append_new(run, json_integer(m[0]->nn->info.member[k].epochs_run));
			json_array_append_new(best, json_integer(m[0]->nn->info.member[k].best_epoch));
		}
		json_object_set_new(rec, "epochs_run", run);
		json_object_set_new(rec, "best_epoch", best);
	}
	for (int k = 0; k < *nm; k++) {
		char x[UTC_ISO_LEN];

		json_array_append_new(models,
				      json_pack("{s:s,s:I,s:o,s:o,s:s}", "farm", m[k]->farm_id,
						"rows", (json_int_t)m[k]->n_rows, "train_from",
						time_json(m[k]->train_from), "train_to",
						time_json(m[k]->train_to), "obs_to",
						utc_format(m[k]->obs_to, x)));
	}
	json_object_set_new(rec, "at", json_string(t));
	json_object_set_new(rec, "issue_times", json_integer((json_int_t)(b - a)));
	json_object_set_new(rec, "farms", farms);
	json_object_set_new(rec, "pool", json_boolean(tr->n_pool > 0));
	json_object_set_new(rec, "warm_start", json_boolean(warm));
	json_object_set_new(rec, "status", json_string(*nm ? "trained" : "failed"));
	json_object_set_new(rec, "error", *nm ? json_null() : json_string(wc_error_msg(&e)));
	json_object_set_new(rec, "models", models);
	json_array_append_new(r->retrains, rec);
}

/*
 * The farms idx[0..n) of the run, trained together by tr (resolved; NULL when nothing
 * is trained): baselines open over the whole run, then window after window.
 */
static enum wc_status run_group(struct run *r, const size_t *idx, int n, struct train_request *tr,
				struct wc_error *err)
{
	struct farm_state *fs = calloc((size_t)n, sizeof(*fs));
	struct farm_model *m[FEAT_MAX_REGIONAL] = { 0 }, *prev[FEAT_MAX_REGIONAL] = { 0 };
	enum wc_status ret = WC_OK;
	size_t a = 0;
	int nm = 0, nprev = 0;

	if (!fs)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (int k = 0; k < n && !ret; k++) {
		if (!(ret = farm_open(r, idx[k], &fs[k], err)) &&
		    r->o->retrain == BACKTEST_RETRAIN_NEVER && r->model_baseline < 0)
			ret = farm_model_load(r->st, fs[k].f.id, r->o->fo.model_version,
					      &fs[k].stored, err);
	}
	while (!ret && a < r->nissues && !stopping(r)) {
		int64_t R = retrain_time(r, r->issues[a]);
		size_t b = a + 1;
		char why[640] = "", to[UTC_ISO_LEN] = "";

		while (b < r->nissues && retrain_time(r, r->issues[b]) == R)
			b++;
		if (tr) {
			train_window(r, tr, R, a, b, idx, n, nprev ? prev[0] : NULL, m, &nm, why,
				     sizeof(why));
			utc_format(R, to);
		}
		for (int k = 0; k < n && !stopping(r); k++) {
			struct farm_model *fm = tr ? group_model(tr, m, nm, fs[k].f.id)
						   : fs[k].stored;
			bool known;

			if (!tr && fm)
				utc_format(model_obs_to(fm, &known), to);
			run_window(r, &fs[k], fm, why, a, b, to);
		}
		/* the window's models start the next window's training (warm start); a
		 * window that could not train leaves the last ones that could */
		if (nm) {
			train_models_free(prev, nprev);
			memcpy(prev, m, (size_t)nm * sizeof(*m));
			nprev = nm;
			nm = 0;
		}
		a = b;
	}
	train_models_free(prev, nprev);
	for (int k = 0; k < n; k++)
		farm_state_release(&fs[k]);
	free(fs);
	return ret;
}

/* ---- a portfolio ------------------------------------------------------------------ */

/* The forecast of pforecaster pf at T into *fc (the sum alone: its farms' released). */
static enum wc_status portfolio_get(struct run *r, struct pforecaster *pf, int64_t T,
				    struct forecast *fc, struct wc_error *err)
{
	struct pforecast pfc;
	enum wc_status ret = pforecaster_get(pf, T, r->L, r->nL, &pfc, err);

	if (ret)
		return ret;
	*fc = pfc.fc;
	memset(&pfc.fc, 0, sizeof(pfc.fc));
	/* what served: the farms' model ("mixed" when they differ), not the copula */
	for (int i = 0; i < pfc.nfarms; i++)
		if (i == 0 || strcmp(fc->model, pfc.farms[i].model))
			snprintf(fc->model, sizeof(fc->model), "%s",
				 i == 0 ? pfc.farms[i].model : "mixed");
	pforecast_release(&pfc);
	return WC_OK;
}

/* farm_forecasts for the portfolio ps: its baselines' base[] and the model's pf. */
static void portfolio_forecasts(struct run *r, struct farm_state *ps,
				struct pforecaster **base, struct pforecaster *pf,
				const struct wc_error *no_model, int64_t T, struct forecast *fc,
				bool *ok)
{
	for (int m = BT_PERSISTENCE; m < BT_NMETHODS; m++) {
		struct wc_error e = { 0 };

		ok[m] = portfolio_get(r, base[m - 1], T, &fc[m], &e) == WC_OK;
		if (!ok[m])
			note_failure(r, (enum backtest_method)m, ps->f.id, T, &e);
	}
	if (r->model_baseline < 0) {
		struct wc_error e = { 0 };

		ok[BT_MODEL] = pf && portfolio_get(r, pf, T, &fc[BT_MODEL], &e) == WC_OK;
		if (!ok[BT_MODEL])
			note_failure(r, BT_MODEL, ps->f.id, T, pf ? &e : no_model);
	}
	count_made(r, ps->f.id, T, fc, ok);
}

/*
 * The portfolio as the one subject: its id and capacity (its farms'), its truth (the
 * sum of the farms' observations, NaN where any is missing or flagged), the forecasters
 * of its baselines over the whole run.
 */
static enum wc_status portfolio_open(struct run *r, struct farm_state *ps,
				     struct pforecaster **base, struct wc_error *err)
{
	struct forecast_options bo = r->o->fo;
	double *mw = calloc(r->nhours, sizeof(double));
	size_t *seen = calloc(r->nhours, sizeof(size_t));
	enum wc_status ret = WC_OK;

	memset(ps, 0, sizeof(*ps));
	snprintf(ps->f.id, sizeof(ps->f.id), "%s", r->o->portfolio);
	if (!mw || !seen || !(ps->truth = malloc(r->nhours * sizeof(float)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < r->nfarms && !ret; i++) {
		struct farm_state fs = { 0 };

		if (!(ret = store_farm_get(r->st, r->farms[i], &fs.f, err)) &&
		    !(ret = load_truth(r, &fs, err))) {
			for (size_t k = 0; k < r->nhours; k++)
				if (isfinite(fs.truth[k])) {
					mw[k] += fs.truth[k] * fs.f.capacity_mw;
					seen[k]++;
				}
			ps->f.capacity_mw += fs.f.capacity_mw;
		}
		free(fs.truth);
	}
	for (size_t k = 0; !ret && k < r->nhours; k++) {
		ps->truth[k] = seen[k] == r->nfarms ? (float)(mw[k] / ps->f.capacity_mw) : NAN;
		r->truth_hours += seen[k] == r->nfarms;
		r->truth_partial += seen[k] && seen[k] < r->nfarms;
	}
	bo.model_version = 0;
	for (int b = 0; b < BASELINE_COUNT && !ret; b++) {
		bo.model = baseline_name((enum baseline)b);
		ret = pforecaster_open(r->st, r->o->portfolio, &bo, r->issues[0],
				       r->issues[r->nissues - 1], &base[b], err);
	}
	if (!ret) {
		r->fan.capacity_mw = ps->f.capacity_mw;
		for (size_t k = 0; k < r->nhours; k++)
			r->fan.obs[k] = ps->truth[k];
	}
cleanup:
	free(mw);
	free(seen);
	return ret;
}

/* One training group of a portfolio's farms: its pool, or one farm alone. */
struct pgroup {
	struct train_request tr;	/* resolved */
	size_t *idx;			/* (n) into run.farms */
	int n;
	struct farm_model *m[FEAT_MAX_REGIONAL], *prev[FEAT_MAX_REGIONAL];
	int nm, nprev;
	char why[640];
};

static void pgroups_free(struct pgroup *g, int ng)
{
	for (int k = 0; g && k < ng; k++) {
		train_models_free(g[k].m, g[k].nm);
		train_models_free(g[k].prev, g[k].nprev);
		free(g[k].idx);
	}
	free(g);
}

/* Every farm of the run in the training pool tr (resolved), else WC_EINVAL naming one. */
static enum wc_status pool_covers(const struct run *r, const struct train_request *tr,
				  struct wc_error *err)
{
	for (size_t i = 0; i < r->nfarms; i++) {
		int k = 0;

		while (k < tr->n_pool && strcmp(tr->pool[k], r->farms[i]))
			k++;
		if (k == tr->n_pool)
			return wc_error_set(err, WC_EINVAL, "farm '%s' is not in the training pool "
							    "(--train-args --pool): backtest the "
							    "pool's farms, or train them alone",
					    r->farms[i]);
	}
	return WC_OK;
}

/* The groups that train a portfolio's farms: the pool of the training options, or each
 * farm alone. */
static enum wc_status pgroups_open(struct run *r, struct pgroup **out, int *ng,
				   struct wc_error *err)
{
	const struct train_request *t = &r->o->train;
	bool pool = t->n_pool || t->pool_all;
	int n = pool ? 1 : (int)r->nfarms;
	struct pgroup *g = calloc((size_t)n, sizeof(*g));
	enum wc_status ret = WC_OK;

	*out = NULL;
	*ng = 0;
	if (!g)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (int k = 0; k < n && !ret; k++) {
		g[k].tr = *t;
		g[k].tr.all_farms = false;
		g[k].n = pool ? (int)r->nfarms : 1;
		if (!(g[k].idx = calloc((size_t)g[k].n, sizeof(size_t)))) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			break;
		}
		for (int i = 0; i < g[k].n; i++)
			g[k].idx[i] = pool ? (size_t)i : (size_t)k;
		if (pool) {
			g[k].tr.farm[0] = '\0';
		} else {
			g[k].tr.n_pool = 0;
			snprintf(g[k].tr.farm, sizeof(g[k].tr.farm), "%s", r->farms[k]);
		}
		if (!(ret = train_request_resolve(&g[k].tr, r->st, err)) && pool)
			ret = pool_covers(r, &g[k].tr, err);
	}
	if (ret) {
		pgroups_free(g, n);
		return ret;
	}
	*out = g;
	*ng = n;
	return WC_OK;
}

/* Train every group at R for the issue times [a, b); models[i] the i-th farm's (NULL:
 * none, for the first reason into why). */
static void pgroups_train(struct run *r, struct pgroup *g, int ng, int64_t R, size_t a,
			  size_t b, struct farm_model **models, char *why, size_t whylen)
{
	for (int k = 0; k < ng && !stopping(r); k++) {
		train_window(r, &g[k].tr, R, a, b, g[k].idx, g[k].n,
			     g[k].nprev ? g[k].prev[0] : NULL, g[k].m, &g[k].nm, g[k].why,
			     sizeof(g[k].why));
		for (int i = 0; i < g[k].n; i++) {
			size_t f = g[k].idx[i];

			models[f] = group_model(&g[k].tr, g[k].m, g[k].nm, r->farms[f]);
			if (!models[f] && !why[0])
				snprintf(why, whylen, "farm '%s': %s", r->farms[f],
					 g[k].why[0] ? g[k].why : "no model was trained");
		}
	}
}

/* After a window: its models start the next window's training (warm start). */
static void pgroups_next(struct pgroup *g, int ng)
{
	for (int k = 0; k < ng; k++)
		if (g[k].nm) {
			train_models_free(g[k].prev, g[k].nprev);
			memcpy(g[k].prev, g[k].m, (size_t)g[k].nm * sizeof(*g[k].m));
			g[k].nprev = g[k].nm;
			g[k].nm = 0;
		}
}

/*
 * The portfolio of r->farms: its farms trained window after window as farms are, and
 * every issue time forecast by trading/portfolio.h with the window's models (stored
 * ones with retrain never) and with each baseline.
 */
static enum wc_status run_portfolio(struct run *r, struct wc_error *err)
{
	struct farm_state ps = { 0 };
	struct pforecaster *base[BASELINE_COUNT] = { 0 };
	struct farm_model **models = calloc(r->nfarms, sizeof(*models));
	struct pgroup *g = NULL;
	enum wc_status ret;
	size_t a = 0;
	int ng = 0;

	if (!models)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	if ((ret = portfolio_open(r, &ps, base, err)) ||
	    (r->train && (ret = pgroups_open(r, &g, &ng, err))))
		goto cleanup;
	while (a < r->nissues && !stopping(r)) {
		int64_t R = retrain_time(r, r->issues[a]);
		struct forecast_options mo = r->o->fo;
		struct pforecaster *pf = NULL;
		struct wc_error e = { 0 };
		size_t b = a + 1;
		char why[640] = "", to[UTC_ISO_LEN] = "", t[UTC_ISO_LEN];

		while (b < r->nissues && retrain_time(r, r->issues[b]) == R)
			b++;
		if (r->train) {
			pgroups_train(r, g, ng, R, a, b, models, why, sizeof(why));
			utc_format(R, to);
		}
		mo.model_version = 0;
		if (r->model_baseline < 0 && !stopping(r))
			r->train ? pforecaster_open_models(r->st, r->o->portfolio, &mo, models, why,
							  r->issues[a], r->issues[b - 1], &pf, &e)
				 : pforecaster_open(r->st, r->o->portfolio, &mo, r->issues[a],
						    r->issues[b - 1], &pf, &e);
		for (size_t i = a; i < b && !stopping(r); i++) {
			struct forecast fc[BT_NMETHODS];
			bool ok[BT_NMETHODS] = { false };

			memset(fc, 0, sizeof(fc));
			portfolio_forecasts(r, &ps, base, pf, &e, r->issues[i], fc, ok);
			score_issue(r, &ps, fc, ok, r->issues[i], to);
			r->done++;
			progress(r, "forecasting", "portfolio '%s' issued %s", ps.f.id,
				 utc_format(r->issues[i], t));
		}
		pforecaster_free(pf);
		pgroups_next(g, ng);
		a = b;
	}
cleanup:
	pgroups_free(g, ng);
	for (int b = 0; b < BASELINE_COUNT; b++)
		pforecaster_free(base[b]);
	free(ps.truth);
	free(models);
	return ret;
}

/* ---- metrics.json --------------------------------------------------------------- */

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* One method's scores over one set of pairs, in % of capacity (coverage as a share). */
static json_t *scores_json(const struct run *r, const struct acc *a)
{
	json_t *o = json_object(), *cov = json_object(), *iv = json_object();
	static const char *const skill[2] = { "skill_persistence", "skill_climatology" };
	char key[32];

	json_object_set_new(o, "n", json_integer((json_int_t)a->pt.n));
	json_object_set_new(o, "missing", json_integer((json_int_t)a->missing));
	json_object_set_new(o, "bias", num(100 * metrics_bias(&a->pt)));
	json_object_set_new(o, "mae", num(100 * metrics_mae(&a->pt)));
	json_object_set_new(o, "rmse", num(100 * metrics_rmse(&a->pt)));
	json_object_set_new(o, "sde", num(100 * metrics_sde(&a->pt)));
	for (int k = 0; k < 2; k++)
		json_object_set_new(o, skill[k],
				    num(a->joint_n[k] && a->joint_r[k] > 0
						? 100 * (1 - sqrt(a->joint_m[k] / a->joint_r[k]))
						: NAN));
	json_object_set_new(o, "pinball", num(100 * qmetrics_pinball(&a->q)));
	json_object_set_new(o, "crps", num(100 * qmetrics_crps(&a->q)));
	for (int k = 0; k < r->nL; k++) {
		snprintf(key, sizeof(key), "%g", r->L[k]);
		json_object_set_new(cov, key, num(qmetrics_coverage(&a->q, k)));
	}
	json_object_set_new(o, "coverage", cov);
	/* central intervals: levels tau and 1 - tau */
	for (int k = 0; k < r->nL && r->L[k] < 0.5f; k++)
		for (int j = r->nL - 1; j > k; j--) {
			if (fabsf(r->L[j] - (1 - r->L[k])) > 1e-5f)
				continue;
			snprintf(key, sizeof(key), "%g", round(1000 * (1 - 2.0 * r->L[k])) / 10);
			json_object_set_new(
				iv, key,
				json_pack("{s:f,s:f,s:o,s:o}", "lower", (double)r->L[k], "upper",
					  (double)r->L[j],
					  "width", num(100 * (qmetrics_mean_q(&a->q, j) -
							      qmetrics_mean_q(&a->q, k))),
					  "coverage",
					  num(a->q.n ? ((double)a->q.below[j] - (double)a->q.below[k]) /
							       (double)a->q.n
						     : NAN)));
			break;
		}
	json_object_set_new(o, "intervals", iv);
	return o;
}

/* {method: scores} of the BT_NMETHODS accumulators at a. */
static json_t *methods_json(const struct run *r, const struct acc *a)
{
	json_t *o = json_object();

	for (int m = 0; m < BT_NMETHODS; m++)
		json_object_set_new(o, method_names[m], scores_json(r, &a[m]));
	return o;
}

/* One settlement's figures: hours, energy, and per schedule revenue, imbalance cost,
 * value captured and uplift (currency; captured as a share). */
static json_t *value_json(const struct value_result *v)
{
	json_t *o = json_object();
	static const char *const keys[4] = { "revenue", "imbalance_cost", "captured",
					     "uplift_pct" };

	json_object_set_new(o, "hours", json_integer((json_int_t)v->n));
	json_object_set_new(o, "unscored", json_integer((json_int_t)v->skipped));
	json_object_set_new(o, "delivered_mwh", num(v->delivered_mwh));
	for (int k = 0; k < 4; k++) {
		const double *x = k == 0 ? v->revenue : k == 1 ? v->imbalance_cost
					 : k == 2 ? v->captured : v->uplift_pct;
		json_t *e = json_object();

		for (int sch = 0; sch < VALUE_NSCHEDULES; sch++)
			json_object_set_new(e, value_schedule_name((enum value_schedule)sch),
					    num(x[sch]));
		json_object_set_new(o, keys[k], e);
	}
	return o;
}

/* metrics.json's "trading": how the commitments were valued, and their value. */
static json_t *trading_json(const struct run *r)
{
	json_t *j = json_object(), *blocks = json_array(), *subj = json_object(),
	       *settings = json_object(), *daily = json_object(), *days = json_array(),
	       *schedules = json_array(), *cols[VALUE_NSCHEDULES];
	char d[UTC_ISO_LEN];

	for (int sch = 0; sch < VALUE_NSCHEDULES; sch++) {
		json_array_append_new(schedules,
				      json_string(value_schedule_name((enum value_schedule)sch)));
		cols[sch] = json_array();
	}
	for (size_t i = 0; i < r->nsubj; i++) {
		json_object_set_new(settings, subject_id(r, i),
				    market_to_json(committer_market(r->com[i])));
		json_object_set_new(subj, subject_id(r, i), value_json(&r->vsubj[i]));
	}
	for (int b = 0; b < PORTFOLIO_NBLOCKS && portfolio_block_first[b] <= r->H; b++) {
		json_t *e = value_json(&r->vblock[b]);
		int last = b + 1 < PORTFOLIO_NBLOCKS ? portfolio_block_first[b + 1] - 1 : r->H;

		json_object_set_new(e, "first_lead", json_integer(portfolio_block_first[b]));
		json_object_set_new(e, "last_lead", json_integer(last < r->H ? last : r->H));
		json_array_append_new(blocks, e);
	}
	for (size_t k = 0; k < r->ndays; k++) {
		utc_format(r->day0 + (int64_t)k * UTC_DAY, d);
		d[10] = '\0';
		json_array_append_new(days, json_string(d));
		for (int sch = 0; sch < VALUE_NSCHEDULES; sch++)
			json_array_append_new(cols[sch], num(r->vday[k].revenue[sch]));
	}
	json_object_set_new(daily, "day", days);
	for (int sch = 0; sch < VALUE_NSCHEDULES; sch++)
		json_object_set_new(daily, value_schedule_name((enum value_schedule)sch), cols[sch]);
	json_object_set_new(j, "prices_from", json_string(r->prices_from));
	json_object_set_new(j, "prices_file", r->o->prices.n ? json_string(r->o->prices_file)
							      : json_null());
	json_object_set_new(j, "settings", settings);
	json_object_set_new(j, "rule", json_string("each forecast of the model commits its leads "
						   "1..horizon from its issue time: the "
						   "alpha-quantile, alpha = psi_plus / (psi_plus + "
						   "psi_minus); an hour forecast by several issue "
						   "times is settled once for each"));
	json_object_set_new(j, "units", json_string("revenue and imbalance cost in currency "
						    "(prices per MWh x MWh); captured as a share of "
						    "the perfect foresight's uplift over nothing "
						    "ahead; uplift in percent of nothing ahead's "
						    "revenue"));
	json_object_set_new(j, "schedules", schedules);
	json_object_set_new(j, "schedules_made", json_integer((json_int_t)r->commits));
	json_object_set_new(j, "schedules_failed", json_integer((json_int_t)r->commits_failed));
	json_object_set_new(j, "first_failure", r->commits_failed
							? json_string(wc_error_msg(
								  &r->first_commit_failure))
							: json_null());
	json_object_set_new(j, "overall", value_json(&r->vall));
	json_object_set_new(j, "by_lead_block", blocks);
	json_object_set_new(j, "by_farm", subj);
	json_object_set_new(j, "daily", daily);
	return j;
}

static const char *retrain_text(const struct backtest_options *o, char *buf, size_t len)
{
	if (o->retrain == BACKTEST_RETRAIN_DAYS)
		snprintf(buf, len, "%dd", o->retrain_days);
	else
		snprintf(buf, len, "%s", o->retrain == BACKTEST_RETRAIN_NEVER ? "never" : "monthly");
	return buf;
}

static json_t *metrics_json(const struct run *r)
{
	const struct backtest_options *o = r->o;
	json_t *j = json_object(), *farms = json_array(), *hours = json_array(),
	       *levels = json_array(), *methods = json_array(), *lead = json_array(),
	       *per_farm = json_object(), *counts = json_object();
	bool baseline = r->model_baseline >= 0;
	char buf[32];

	for (size_t i = 0; i < r->nfarms; i++)
		json_array_append_new(farms, json_string(r->farms[i]));
	for (int h = 0; h < 24; h++)
		if (!o->n_issued && (o->issue_hours >> h & 1u))
			json_array_append_new(hours, json_integer(h));
	/* the levels as their decimals (the model's floats are 0.3000000119 and the like) */
	for (int k = 0; k < r->nL; k++) {
		snprintf(buf, sizeof(buf), "%g", r->L[k]);
		json_array_append_new(levels, json_real(strtod(buf, NULL)));
	}
	for (int m = 0; m < BT_NMETHODS; m++) {
		json_array_append_new(methods, json_string(method_names[m]));
		json_object_set_new(counts, method_names[m],
				    json_pack("{s:I,s:I,s:I}", "made", (json_int_t)r->made[m],
					      "failed", (json_int_t)r->failed[m], "fallback",
					      (json_int_t)r->fallback[m]));
	}
	json_object_set_new(j, "windcast_version", json_string(o->version ? o->version : ""));
	json_object_set_new(j, "command", o->argv ? json_deep_copy(o->argv) : json_null());
	json_object_set_new(j, "farms", farms);
	json_object_set_new(j, "portfolio", r->portfolio ? json_string(o->portfolio)
						       : json_null());
	json_object_set_new(j, "truth", json_string(
		r->portfolio ? "the sum of the farms' observations, as a fraction of the "
			       "portfolio's capacity: an hour where any farm's observation is "
			       "missing or flagged (outage, curtailed) is not scored"
			     : "the farm's observation, as a fraction of its capacity: an hour "
			       "flagged outage or curtailed is not scored"));
	if (r->portfolio)
		json_object_set_new(j, "truth_hours",
				    json_pack("{s:I,s:I,s:I}", "hours", (json_int_t)r->nhours,
					      "complete", (json_int_t)r->truth_hours, "partial",
					      (json_int_t)r->truth_partial));
	json_object_set_new(j, "from", time_json(o->from));
	json_object_set_new(j, "to", time_json(o->to));
	json_object_set_new(j, "issue_hours", o->n_issued ? json_null() : hours);
	if (o->n_issued)
		json_decref(hours);
	json_object_set_new(j, "issued_file", o->n_issued ? json_string(o->issued_file)
							  : json_null());
	json_object_set_new(j, "issue_times", json_integer((json_int_t)r->nissues));
	json_object_set_new(j, "first_issue", time_json(r->issues[0]));
	json_object_set_new(j, "last_issue", time_json(r->issues[r->nissues - 1]));
	json_object_set_new(j, "horizon", json_integer(r->H));
	json_object_set_new(j, "model", json_string(o->model));
	json_object_set_new(j, "retrain", baseline ? json_null()
						   : json_string(retrain_text(o, buf, sizeof(buf))));
	json_object_set_new(j, "model_version", o->fo.model_version > 0
							? json_integer(o->fo.model_version)
							: json_null());
	json_object_set_new(j, "train_args", json_string(o->train_args));
	json_object_set_new(j, "adapt", json_string(o->fo.adapt == FORECAST_ADAPT_ON    ? "on"
						    : o->fo.adapt == FORECAST_ADAPT_OFF ? "off"
											: "model"));
	json_object_set_new(j, "train_exclude",
			    o->n_train_exclude
				    ? json_pack("{s:s,s:I}", "file", o->train_exclude_file,
						"intervals", (json_int_t)o->n_train_exclude)
				    : json_null());
	json_object_set_new(j, "hindcast", json_boolean(r->hindcast));
	json_object_set_new(j, "hindcast_reason", r->hindcast ? json_string(r->hindcast_why)
							      : json_null());
	json_object_set_new(j, "units", json_string("percent of capacity (bias, mae, rmse, sde, "
						    "pinball, crps, interval width); skill in "
						    "percent; coverage as a share"));
	json_object_set_new(j, "quantiles", o->n_levels ? json_string(o->levels_text)
							: json_null());
	json_object_set_new(j, "levels", levels);
	json_object_set_new(j, "methods", methods);
	json_object_set_new(j, "forecasts", counts);
	json_object_set_new(j, "failures", json_incref(r->failures));
	json_object_set_new(j, "retrains", json_incref(r->retrains));
	json_object_set_new(j, "overall", methods_json(r, r->all));
	for (int i = 0; i < r->H; i++) {
		json_t *e = methods_json(r, r->lead + (size_t)i * BT_NMETHODS);

		json_object_set_new(e, "lead", json_integer(i + 1));
		json_array_append_new(lead, e);
	}
	json_object_set_new(j, "by_lead", lead);
	for (size_t i = 0; i < r->nsubj; i++)
		json_object_set_new(per_farm, subject_id(r, i),
				    methods_json(r, r->farm + i * BT_NMETHODS));
	json_object_set_new(j, "by_farm", per_farm);
	json_object_set_new(j, "trading", r->trading ? trading_json(r) : json_null());
	return j;
}

/* ---- the run ---------------------------------------------------------------------- */

void backtest_result_release(struct backtest_result *res)
{
	json_decref(res->metrics);
	res->metrics = NULL;
}

static void run_release(struct run *r)
{
	if (r->csv)
		fclose(r->csv);
	if (r->csv_tmp[0])
		unlink(r->csv_tmp);
	free(r->issues);
	free(r->farms);
	free(r->all);
	free(r->lead);
	free(r->farm);
	json_decref(r->failures);
	json_decref(r->retrains);
	report_fan_release(&r->fan);
	for (size_t i = 0; r->com && i < r->nsubj; i++)
		committer_free(r->com[i]);
	free(r->com);
	free(r->vsubj);
	free(r->vday);
	if (r->ccsv)
		fclose(r->ccsv);
	if (r->ccsv_tmp[0])
		unlink(r->ccsv_tmp);
}

/*
 * With prices: a committer per subject (the options over its stored settings, or the
 * prices file), every period of the run priced (else WC_EINVAL saying which and how),
 * the value sums and commitments.csv's temporary file. Without a price option, only
 * when every subject's stored settings give price, psi_plus and psi_minus.
 */
static enum wc_status trading_open(struct run *r, struct wc_error *err)
{
	const struct backtest_options *o = r->o;
	bool given = o->prices.n || !isnan(o->market.price) || !isnan(o->market.psi_plus) ||
		     !isnan(o->market.psi_minus);
	struct period_prices *pp = NULL;
	enum wc_status ret = WC_OK;
	char whose[160];

	if (!(r->com = calloc(r->nsubj, sizeof(*r->com))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nsubj && !ret; i++) {
		struct commit_request cr;
		const struct market_settings *m;

		commit_request_init(&cr);
		cr.portfolio = r->portfolio;
		cr.id = subject_id(r, i);
		cr.fr.o = o->fo;
		cr.fr.o.horizon = r->H;
		cr.over = o->market;
		cr.prices = o->prices.n ? &o->prices : NULL;
		if ((ret = committer_open_settings(r->st, &cr, &r->com[i], err)))
			break;
		m = committer_market(r->com[i]);
		if (!given && (isnan(m->price) || isnan(m->psi_plus) || isnan(m->psi_minus)))
			return WC_OK;	/* not priced: no value */
	}
	if (!ret && !(pp = malloc(r->nhours * sizeof(*pp))))
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nsubj && !ret; i++) {
		snprintf(whose, sizeof(whose), "%s '%s'", r->portfolio ? "portfolio" : "farm",
			 subject_id(r, i));
		if ((ret = market_prices(committer_market(r->com[i]), o->prices.n ? &o->prices : NULL,
					 r->t0 - UTC_HOUR, (int)r->nhours, whose, pp, err)) &&
		    o->prices.n)
			wc_error_prefix(err, "invalid --prices '%s'", o->prices_file);
	}
	free(pp);
	if (ret)
		return ret;
	r->trading = true;
	r->prices_from = o->prices.n ? "file" : given ? "options" : "stored settings";
	r->day0 = utc_floor(r->issues[0], UTC_DAY);
	r->ndays = (size_t)((r->t0 + (int64_t)(r->nhours - 1) * UTC_HOUR - r->day0) / UTC_DAY) + 1;
	r->vsubj = calloc(r->nsubj, sizeof(*r->vsubj));
	r->vday = calloc(r->ndays, sizeof(*r->vday));
	if (!r->vsubj || !r->vday)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	outfile_tmp_name(o->out, "commitments.csv", r->ccsv_tmp, sizeof(r->ccsv_tmp));
	if (!(r->ccsv = fopen(r->ccsv_tmp, "w"))) {
		r->ccsv_tmp[0] = '\0';
		return wc_error_set(err, WC_EIO, "cannot write '%s/commitments.csv': %s", o->out,
				    strerror(errno));
	}
	setvbuf(r->ccsv, NULL, _IOFBF, CSV_BUF);
	fprintf(r->ccsv, "%s,issued,period_start,period_end,lead_h,price,psi_plus,psi_minus,alpha,"
			 "committed_mw,median_mw,mean_mw,expected_revenue,obs_mw\n",
		r->portfolio ? "portfolio" : "farm");
	return WC_OK;
}

/* Allocate the sums, the fan and the CSV's temporary file. */
static enum wc_status run_alloc(struct run *r, struct wc_error *err)
{
	size_t nl = (size_t)r->H * BT_NMETHODS, nf = r->nsubj * BT_NMETHODS;
	r->t0 = r->issues[0] + UTC_HOUR;
	r->nhours = (size_t)((r->issues[r->nissues - 1] + (int64_t)r->H * UTC_HOUR - r->t0) /
			     UTC_HOUR) + 1;
	r->all = malloc(BT_NMETHODS * sizeof(*r->all));
	r->lead = malloc(nl * sizeof(*r->lead));
	r->farm = malloc(nf * sizeof(*r->farm));
	r->failures = json_array();
	r->retrains = json_array();
	r->fan.n = r->nhours;
	r->fan.nq = r->nL;
	r->fan.t0 = r->t0;
	memcpy(r->fan.taus, r->L, (size_t)r->nL * sizeof(float));
	snprintf(r->fan.farm, sizeof(r->fan.farm), "%s", subject_id(r, 0));
	r->fan.point = malloc(r->nhours * sizeof(float));
	r->fan.obs = malloc(r->nhours * sizeof(float));
	r->fan.q = malloc(r->nhours * (size_t)(r->nL ? r->nL : 1) * sizeof(float));
	r->fan.lead = calloc(r->nhours, sizeof(int));
	if (!r->all || !r->lead || !r->farm || !r->failures || !r->retrains || !r->fan.point ||
	    !r->fan.obs || !r->fan.q || !r->fan.lead)
		return wc_error_set(err, WC_ENOMEM, "out of memory for a backtest of %zu hours",
				    r->nhours);
	for (int m = 0; m < BT_NMETHODS; m++)
		acc_init(&r->all[m], r->L, r->nL);
	for (size_t i = 0; i < nl; i++)
		acc_init(&r->lead[i], r->L, r->nL);
	for (size_t i = 0; i < nf; i++)
		acc_init(&r->farm[i], r->L, r->nL);
	for (size_t i = 0; i < r->nhours; i++) {
		r->fan.point[i] = r->fan.obs[i] = NAN;
		for (int k = 0; k < r->nL; k++)
			r->fan.q[i * (size_t)r->nL + k] = NAN;
	}
	return WC_OK;
}

/* Every group in turn: the pool of the training options, or each farm alone. */
static enum wc_status run_groups(struct run *r, struct wc_error *err)
{
	struct train_request tr = r->o->train;
	enum wc_status ret = WC_OK;
	size_t *idx = malloc(r->nfarms * sizeof(size_t));

	if (!idx)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nfarms; i++)
		idx[i] = i;
	if (r->train && (tr.n_pool || tr.pool_all)) {
		tr.farm[0] = '\0';
		tr.all_farms = false;
		if (!(ret = train_request_resolve(&tr, r->st, err)))
			ret = pool_covers(r, &tr, err);
		if (!ret)
			ret = run_group(r, idx, (int)r->nfarms, &tr, err);
		free(idx);
		return ret;
	}
	for (size_t i = 0; i < r->nfarms && !ret && !stopping(r); i++) {
		if (r->train) {
			tr = r->o->train;
			tr.all_farms = false;
			tr.n_pool = 0;
			snprintf(tr.farm, sizeof(tr.farm), "%s", r->farms[i]);
			if ((ret = train_request_resolve(&tr, r->st, err)))
				break;
		}
		ret = run_group(r, &idx[i], 1, r->train ? &tr : NULL, err);
	}
	free(idx);
	return ret;
}

/* Flush and close *fp (nothing when NULL), which writes dir/name. */
static enum wc_status close_csv(FILE **fp, const char *dir, const char *name,
				struct wc_error *err)
{
	int rc;

	if (!*fp)
		return WC_OK;
	rc = fflush(*fp) | ferror(*fp);
	rc |= fclose(*fp);
	*fp = NULL;
	if (rc)
		return wc_error_set(err, WC_EIO, "cannot write '%s/%s': %s", dir, name,
				    strerror(errno));
	return WC_OK;
}

/* Stage metrics.json and report.html beside the CSV, then publish the three. */
static enum wc_status write_files(struct run *r, struct wc_error *err)
{
	const char *dir = r->o->out;
	char mtmp[OUTFILE_PATH_MAX] = "", rtmp[OUTFILE_PATH_MAX] = "";
	struct dynbuf html;
	enum wc_status ret;
	size_t len = 0;
	char *text = NULL;

	dynbuf_init(&html, REPORT_MAX);
	progress(r, "writing", "%s", dir);
	if ((ret = close_csv(&r->csv, dir, "forecasts.csv", err)) ||
	    (ret = close_csv(&r->ccsv, dir, "commitments.csv", err)))
		goto cleanup;
	if (!(r->res->metrics = metrics_json(r)) ||
	    !(text = outfile_json_text(r->res->metrics, &len))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((ret = report_html(r->res->metrics, &r->fan, &html, err)) ||
	    (ret = outfile_stage(dir, "metrics.json", text, len, mtmp, sizeof(mtmp), err)) ||
	    (ret = outfile_stage(dir, "report.html", html.data, html.len, rtmp, sizeof(rtmp),
				 err)))
		goto cleanup;
	if (stopping(r)) {
		r->res->interrupted = true;
		goto cleanup;
	}
	/* from here on nothing stops: the files appear one after the other; without
	 * prices an earlier run's commitments.csv goes, as it no longer belongs */
	if ((ret = outfile_publish(dir, "forecasts.csv", r->csv_tmp, NULL, err)))
		goto cleanup;
	r->csv_tmp[0] = '\0';
	if (r->trading) {
		ret = outfile_publish(dir, "commitments.csv", r->ccsv_tmp, NULL, err);
		r->ccsv_tmp[0] = '\0';
		if (ret)
			goto cleanup;
	} else {
		char stale[OUTFILE_PATH_MAX];

		snprintf(stale, sizeof(stale), "%s/commitments.csv", dir);
		unlink(stale);
	}
	if ((ret = outfile_publish(dir, "metrics.json", mtmp, NULL, err)))
		goto cleanup;
	mtmp[0] = '\0';
	ret = outfile_publish(dir, "report.html", rtmp, NULL, err);
	rtmp[0] = '\0';
cleanup:
	if (mtmp[0])
		unlink(mtmp);
	if (rtmp[0])
		unlink(rtmp);
	free(text);
	dynbuf_release(&html);
	return ret;
}

enum wc_status backtest_run(struct store *st, const struct backtest_options *o,
			    struct backtest_result *res, struct wc_error *err)
{
	struct run r = { .st = st, .o = o, .res = res, .model_baseline = -1 };
	struct farm_model *first_stored = NULL;
	enum wc_status ret;
	bool baseline;

	memset(res, 0, sizeof(*res));
	snprintf(res->dir, sizeof(res->dir), "%s", o->out ? o->out : "");
	if (!o->out || !o->out[0])
		return wc_error_set(err, WC_EINVAL, "--out is required");
	if (!forecast_model_known(o->fo.model))
		return wc_error_set(err, WC_EINVAL, "unknown model '%s'", o->fo.model);
	baseline = baseline_parse(o->fo.model) >= 0;
	if ((ret = check_options(o, baseline, err)))
		return ret;
	r.model_baseline = baseline ? baseline_parse(o->fo.model) : -1;
	r.train = !baseline && o->retrain != BACKTEST_RETRAIN_NEVER;
	r.H = o->fo.horizon;
	r.portfolio = o->portfolio[0] != '\0';
	if ((ret = subject_farms(&r, err)) || (ret = issue_times(&r, err)))
		goto cleanup;
	r.nsubj = r.portfolio ? 1 : r.nfarms;
	res->farms = r.nfarms;
	res->issues = r.nissues;
	/* retrain never: every farm's stored model is checked before any work */
	for (size_t i = 0; !baseline && !r.train && i < r.nfarms; i++) {
		struct farm_state fs = { 0 };

		if ((ret = store_farm_get(st, r.farms[i], &fs.f, err)) ||
		    (ret = check_leak(&r, &fs, err))) {
			farm_model_free(fs.stored);
			goto cleanup;
		}
		if (!first_stored)
			first_stored = fs.stored;
		else
			farm_model_free(fs.stored);
	}
	score_levels(&r, first_stored);
	res->hindcast = r.hindcast;
	if ((ret = run_alloc(&r, err)) || (ret = outfile_mkdirs(o->out, err)) ||
	    (ret = trading_open(&r, err)))
		goto cleanup;
	outfile_tmp_name(o->out, "forecasts.csv", r.csv_tmp, sizeof(r.csv_tmp));
	if (!(r.csv = fopen(r.csv_tmp, "w"))) {
		ret = wc_error_set(err, WC_EIO, "cannot write '%s/forecasts.csv': %s", o->out,
				   strerror(errno));
		r.csv_tmp[0] = '\0';
		goto cleanup;
	}
	setvbuf(r.csv, NULL, _IOFBF, CSV_BUF);
	csv_header(&r);
	r.total = r.nsubj * r.nissues;
	if ((ret = r.portfolio ? run_portfolio(&r, err) : run_groups(&r, err)))
		goto cleanup;
	res->forecasts = r.made[BT_MODEL];
	res->forecasts_failed = r.failed[BT_MODEL];
	if (stopping(&r)) {
		res->interrupted = true;
		goto cleanup;
	}
	if (!r.made[BT_MODEL]) {
		ret = wc_error_set(err, WC_ENODATA, "no forecast of the model could be made: %s",
				   wc_error_msg(&r.first_failure));
		goto cleanup;
	}
	ret = write_files(&r, err);
cleanup:
	farm_model_free(first_stored);
	run_release(&r);
	if (ret || res->interrupted) {
		json_decref(res->metrics);
		res->metrics = NULL;
	}
	return ret;
}
