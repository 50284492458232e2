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
#include "forecast/baselines.h"
#include "forecast/metrics.h"
#include "forecast/model.h"
#include "forecast/nn.h"

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

/* The issue-time file: one ISO 8601 time a line; '#' comments and blank lines skipped. */
static enum wc_status read_issued(struct backtest_options *o, const char *path,
				  struct wc_error *err)
{
	struct dynbuf b;
	FILE *fp = fopen(path, "r");
	enum wc_status ret = WC_OK;
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	int lineno = 0;
	char *text, *line, *save = NULL;
	char buf[65536];
	size_t got;

	dynbuf_init(&b, BACKTEST_ISSUED_FILE_MAX);
	if (!fp)
		return wc_error_set(err, WC_EIO, "cannot open '%s': %s", path, strerror(errno));
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
		if ((ret = dynbuf_add(&b, buf, got))) {
			fclose(fp);
			dynbuf_release(&b);
			return wc_error_set(err, ret, "issue-time file '%s' is larger than %zu MiB",
					    path, BACKTEST_ISSUED_FILE_MAX >> 20);
		}
	if (ferror(fp))
		ret = wc_error_set(err, WC_EIO, "cannot read '%s': %s", path, strerror(errno));
	fclose(fp);
	if (ret)
		goto cleanup;
	/* an empty file has no buffer to cut into lines (dynbuf_str gives a constant "") */
	text = b.len ? (char *)dynbuf_str(&b) : NULL;
	/* count lines ourselves: strtok_r would skip blank ones */
	for (line = text; line && !ret; line = save) {
		char *s = line, *e;
		int64_t t;

		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, "\r#");
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		if (!*s)
			continue;
		if (!utc_parse(s, &t)) {
			ret = wc_error_set(err, WC_EINVAL, "'%s' line %d: '%s' is not an ISO 8601 "
							   "time",
					   path, lineno, s);
			break;
		}
		if (n == BACKTEST_MAX_ISSUES) {
			ret = wc_error_set(err, WC_EINVAL, "'%s' has more than %d issue times", path,
					   BACKTEST_MAX_ISSUES);
			break;
		}
		if (n == cap) {
			int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 1024) * sizeof(*v));

			if (!nv) {
				ret = wc_error_set(err, WC_ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		v[n++] = t;
	}
	if (!ret && !n)
		ret = wc_error_set(err, WC_EINVAL, "'%s' holds no issue time", path);
cleanup:
	dynbuf_release(&b);
	if (ret) {
		free(v);
		return ret;
	}
	free(o->issued);
	o->issued = v;
	o->n_issued = sort_unique(v, n);
	snprintf(o->issued_file, sizeof(o->issued_file), "%s", path);
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
	o->warm_epochs = BACKTEST_WARM_EPOCHS;
	o->warm_patience = BACKTEST_WARM_PATIENCE;
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
	    !strcmp(key, "model_version")) {
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
	if (!strcmp(key, "portfolio") || !strcmp(key, "price") || !strcmp(key, "psi_plus") ||
	    !strcmp(key, "psi_minus") || !strcmp(key, "prices"))
		return wc_error_set(err, WC_EUNSUPPORTED,
				    "%s needs the trading module (issue 12), which this build "
				    "lacks",
				    !strcmp(key, "portfolio") ? "a portfolio's backtest"
							      : "the value of commitments");
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
};

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
	if (!!o->farm[0] + o->all != 1)
		return wc_error_set(err, WC_EINVAL, "use one of --farm ID and --all");
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

/* The subject's farms, in id order. */
static enum wc_status subject_farms(struct run *r, struct wc_error *err)
{
	struct farm *farms = NULL, f;
	size_t n = 0;
	enum wc_status ret;

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

/* The levels scored: the model's (trained here or stored), else the baselines'. */
static void score_levels(struct run *r, const struct farm_model *stored)
{
	struct nn_config d;
	const float *taus;
	int n;

	nn_config_default(&d);
	taus = d.quantiles;
	n = d.n_quantiles;
	if (r->train) {
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

/* Forecast farm fs at T with every method (model NULL: it cannot serve, for the reason
 * no_model), score, write, keep the fan. */
static void run_issue(struct run *r, struct farm_state *fs, struct forecaster *model,
		      const struct wc_error *no_model, int64_t T, const char *trained_to)
{
	struct forecast fc[BT_NMETHODS];
	bool ok[BT_NMETHODS] = { false };
	float q[BT_NMETHODS][QMETRICS_MAX_LEVELS];
	double p[BT_NMETHODS];
	char t[UTC_ISO_LEN], v[UTC_ISO_LEN], version[16];
	struct acc *farm_acc = r->farm + fs->index * BT_NMETHODS;

	memset(fc, 0, sizeof(fc));
	for (int m = BT_PERSISTENCE; m < BT_NMETHODS; m++) {
		struct wc_error e = { 0 };

		ok[m] = forecaster_issue(fs->base[m - 1], T, &fc[m], &e) == WC_OK;
		if (!ok[m])
			note_failure(r, (enum backtest_method)m, fs->f.id, T, &e);
	}
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
					     "cannot forecast farm '%s' at %s with %s", fs->f.id,
					     utc_format(T, t), r->o->model);
		}
	} else {
		struct wc_error e = { 0 };

		ok[BT_MODEL] = model && forecaster_issue(model, T, &fc[BT_MODEL], &e) == WC_OK;
		if (!ok[BT_MODEL])
			note_failure(r, BT_MODEL, fs->f.id, T, model ? &e : no_model);
	}
	for (int m = 0; m < BT_NMETHODS; m++)
		if (ok[m]) {
			r->made[m]++;
			r->fallback[m] += fc[m].fallback[0] != '\0';
		}
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

			if (!isfinite(p[m]))
				continue;
			version[0] = '\0';
			if (!strcmp(f->model, "nn") && f->model_version > 0)
				snprintf(version, sizeof(version), "%d", f->model_version);
			fprintf(r->csv, "%s,%s,%s,%d,%s,%s,%s,%s,%s,%s", fs->f.id, t, v, i,
				method_names[m], f->model, version,
				!strcmp(f->model, "nn") ? trained_to : "",
				f->fallback[0] ? "true" : "false",
				r->hindcast && !strcmp(f->model, "nn") ? "true" : "false");
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
	for (int m = 0; m < BT_NMETHODS; m++)
		if (ok[m] && !(r->model_baseline >= 0 && m == BT_MODEL))
			forecast_release(&fc[m]);
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
	json_object_set_new(j, "hindcast", json_boolean(r->hindcast));
	json_object_set_new(j, "hindcast_reason", r->hindcast ? json_string(r->hindcast_why)
							      : json_null());
	json_object_set_new(j, "units", json_string("percent of capacity (bias, mae, rmse, sde, "
						    "pinball, crps, interval width); skill in "
						    "percent; coverage as a share"));
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
	for (size_t i = 0; i < r->nfarms; i++)
		json_object_set_new(per_farm, r->farms[i],
				    methods_json(r, r->farm + i * BT_NMETHODS));
	json_object_set_new(j, "by_farm", per_farm);
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
}

/* Allocate the sums, the fan and the CSV's temporary file. */
static enum wc_status run_alloc(struct run *r, struct wc_error *err)
{
	size_t nl = (size_t)r->H * BT_NMETHODS, nf = r->nfarms * BT_NMETHODS;
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
	snprintf(r->fan.farm, sizeof(r->fan.farm), "%s", r->farms[0]);
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
		if (!(ret = train_request_resolve(&tr, r->st, err))) {
			for (size_t i = 0; i < r->nfarms && !ret; i++) {
				int k = 0;

				while (k < tr.n_pool && strcmp(tr.pool[k], r->farms[i]))
					k++;
				if (k == tr.n_pool)
					ret = wc_error_set(err, WC_EINVAL,
							   "farm '%s' is not in the training pool "
							   "(--train-args --pool): backtest the "
							   "pool's farms, or train them alone",
							   r->farms[i]);
			}
		}
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

/* Stage metrics.json and report.html beside the CSV, then publish the three. */
static enum wc_status write_files(struct run *r, struct wc_error *err)
{
	const char *dir = r->o->out;
	char mtmp[OUTFILE_PATH_MAX] = "", rtmp[OUTFILE_PATH_MAX] = "";
	struct dynbuf html;
	enum wc_status ret;
	size_t len = 0;
	char *text = NULL;
	int rc;

	dynbuf_init(&html, REPORT_MAX);
	progress(r, "writing", "%s", dir);
	rc = fflush(r->csv) | ferror(r->csv);
	rc |= fclose(r->csv);
	r->csv = NULL;
	if (rc) {
		ret = wc_error_set(err, WC_EIO, "cannot write '%s/forecasts.csv': %s", dir,
				   strerror(errno));
		goto cleanup;
	}
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
	/* from here on nothing stops: the three files appear one after the other */
	if ((ret = outfile_publish(dir, "forecasts.csv", r->csv_tmp, NULL, err)))
		goto cleanup;
	r->csv_tmp[0] = '\0';
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
	if ((ret = subject_farms(&r, err)) || (ret = issue_times(&r, err)))
		goto cleanup;
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
	if ((ret = run_alloc(&r, err)) || (ret = outfile_mkdirs(o->out, err)))
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
	r.total = r.nfarms * r.nissues;
	if ((ret = run_groups(&r, err)))
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
