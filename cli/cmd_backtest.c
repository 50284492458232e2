/*
 * cmd_backtest.c - `windcast backtest`: replay the forecaster over history, a thin
 * adapter over backtest/engine.h. It parses the options (each through backtest_set,
 * which holds their ranges and hints), shows progress (a bar with rate and ETA on a
 * terminal, plain lines otherwise), stops cleanly on SIGINT/SIGTERM, runs the backtest
 * and prints where the files are with the headline scores.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backtest/engine.h"
#include "cli/cmd.h"
#include "cli/util.h"
#include "common/log.h"

#ifndef WINDCAST_VERSION
#define WINDCAST_VERSION "0.1.0"
#endif

static const char backtest_usage[] =
	"usage: windcast backtest (--farm ID | --portfolio P | --all) --out DIR\n"
	"                         (--from ISO --to ISO [--issue-hours 0,12] | --issued-file F)\n"
	"                         [--horizon H] [--retrain monthly|<N>d|never]\n"
	"                         [--model auto|nn|persistence|climatology|powercurve]\n"
	"                         [--train-args 'OPTIONS'] [--train-exclude FILE]\n"
	"                         [--model-version N] [--allow-leak]\n"
	"                         [--point median|mean] [--adapt model|on|off]\n"
	"                         [--quantiles LIST]\n"
	"                         [--warm-start [--warm-epochs N]\n"
	"                         [--warm-patience N]]\n"
	"                         [--price X --psi-plus X --psi-minus X | --prices FILE]\n"
	"\n"
	"Replay the forecaster over a period of history, as it would have run: at each\n"
	"retrain time a model is trained on what was observed before it, and every forecast\n"
	"sees only what the availability rule allows at its issue time (the code that serves\n"
	"forecasts makes them). Scores the model and the baselines (persistence, climatology,\n"
	"power curve) against the observations and writes DIR/metrics.json (bias, MAE, RMSE,\n"
	"SDE, skill, pinball, CRPS, coverage and interval widths, per lead, overall and per\n"
	"farm), DIR/forecasts.csv (every forecast with its truth) and DIR/report.html (one\n"
	"page with plots, readable offline). With prices, each forecast of the model also\n"
	"commits its leads (the alpha-quantile rule of 'windcast commit') and the revenue of\n"
	"five schedules (alpha-quantile, median, mean, nothing ahead, perfect foresight) and\n"
	"the value captured go to metrics.json and the report, the commitments to\n"
	"DIR/commitments.csv. The store is only read; a re-run with the same options writes\n"
	"the same files.\n"
	"\n"
	"  --farm ID          the farm to backtest; --all: every farm (not portfolios)\n"
	"  --portfolio P      a portfolio: its farms trained as farms are, its forecast\n"
	"                     that of 'forecast --portfolio', scored against the sum of its\n"
	"                     farms' observations (hours with any missing unscored)\n"
	"  --from, --to ISO   the period of the issue times (both ends included)\n"
	"  --issue-hours LIST issue times each day at these UTC hours (default 0,12)\n"
	"  --issued-file F    the issue times instead, one ISO 8601 time a line ('#'\n"
	"                     comments); with --from/--to only those within them\n"
	"  --horizon H        leads 1..H hours (default 36; 1..744)\n"
	"  --retrain R        monthly (default): a model trained at the start of each\n"
	"                     month serves it; <N>d: every N days (1..3650) from the first\n"
	"                     issue day; never: the farm's stored model serves every issue\n"
	"                     time, refused if it read observations after the first one\n"
	"  --model M          auto (default: the trained model or the baseline its\n"
	"                     validation scores choose), nn, or a baseline alone\n"
	"  --train-args 'O'   'windcast train' options for each retraining, e.g.\n"
	"                     '--ensemble 8 --pool all --regional all' (not --to: each model\n"
	"                     trains on data before its retrain time)\n"
	"  --train-exclude F  hours whose observations no training reads, as if flagged\n"
	"                     outage, while the forecasts and the scores see them: one\n"
	"                     'FROM,TO' of ISO 8601 hour-ending times a line (both\n"
	"                     included; '#' comments), e.g. a pseudo-test period\n"
	"  --model-version N  with --retrain never: the stored model N (default the newest)\n"
	"  --allow-leak       with --retrain never: accept a model trained on later data and\n"
	"                     mark every output a hindcast\n"
	"  --point P          the model's point forecast: median or mean (default: the\n"
	"                     model's own)\n"
	"  --adapt A          the network's online adaptation: model (default: as\n"
	"                     trained), on or off, as 'forecast --adapt'\n"
	"  --quantiles LIST   the levels scored and written, e.g. 0.01:0.99:0.01 or\n"
	"                     0.1,0.5,0.9 (default: the model's), each forecast's\n"
	"                     interpolated there as 'windcast forecast --quantiles' does\n"
	"  --warm-start       each retraining after the first starts from the previous\n"
	"                     model's weights and runs at most --warm-epochs N (10) epochs,\n"
	"                     stopping after --warm-patience N (2) without a better\n"
	"                     validation loss\n"
	"  --price X, --psi-plus X, --psi-minus X\n"
	"                     day-ahead price and imbalance penalties (per MWh, 0..100000),\n"
	"                     over the farm's or portfolio's stored market settings; with\n"
	"                     no price option the stored settings price it when they can\n"
	"  --prices FILE      hour-by-hour prices instead: CSV 'period_start,price,psi_plus,\n"
	"                     psi_minus' covering every hour forecast\n"
	"  --out DIR          where to write the files (created)\n"
	"\n"
	"Progress goes to stderr (a bar on a terminal; -q for none). Ctrl-C stops at the next\n"
	"forecast or training and writes nothing (files from an earlier run stay whole).\n"
	"Exit status: 0 written; 1 the backtest failed or was interrupted; 2 bad usage.\n";

/* Options by getopt code and their backtest_set keys. */
static const struct {
	int code;
	const char *opt, *key;
} options[] = {
	{ 'f', "--farm", "farm" },		{ 'a', "--all", "all" },
	{ 'F', "--from", "from" },		{ 'T', "--to", "to" },
	{ 'I', "--issue-hours", "issue_hours" }, { 'i', "--issued-file", "issued_file" },
	{ 'H', "--horizon", "horizon" },	{ 'r', "--retrain", "retrain" },
	{ 'm', "--model", "model" },		{ 'v', "--model-version", "model_version" },
	{ 't', "--train-args", "train_args" },	{ 'L', "--allow-leak", "allow_leak" },
	{ 'p', "--point", "point" },		{ 'w', "--warm-start", "warm_start" },
	{ 'E', "--warm-epochs", "warm_epochs" }, { 'P', "--warm-patience", "warm_patience" },
	{ 'O', "--portfolio", "portfolio" },	{ 'R', "--price", "price" },
	{ 'S', "--psi-plus", "psi_plus" },	{ 'M', "--psi-minus", "psi_minus" },
	{ 'C', "--prices", "prices" },		{ 'X', "--train-exclude", "train_exclude" },
	{ 'A', "--adapt", "adapt" },		{ 'q', "--quantiles", "quantiles" },
};

static int parse_args(int argc, char **argv, struct backtest_options *o)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "issue-hours", required_argument, NULL, 'I' },
		{ "issued-file", required_argument, NULL, 'i' },
		{ "horizon", required_argument, NULL, 'H' },
		{ "retrain", required_argument, NULL, 'r' },
		{ "model", required_argument, NULL, 'm' },
		{ "model-version", required_argument, NULL, 'v' },
		{ "train-args", required_argument, NULL, 't' },
		{ "allow-leak", no_argument, NULL, 'L' },
		{ "point", required_argument, NULL, 'p' },
		{ "warm-start", no_argument, NULL, 'w' },
		{ "warm-epochs", required_argument, NULL, 'E' },
		{ "warm-patience", required_argument, NULL, 'P' },
		{ "portfolio", required_argument, NULL, 'O' },
		{ "price", required_argument, NULL, 'R' },
		{ "psi-plus", required_argument, NULL, 'S' },
		{ "psi-minus", required_argument, NULL, 'M' },
		{ "prices", required_argument, NULL, 'C' },
		{ "train-exclude", required_argument, NULL, 'X' },
		{ "adapt", required_argument, NULL, 'A' },
		{ "quantiles", required_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct wc_error err = { 0 };
	bool hours = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		size_t k = 0;

		while (k < sizeof(options) / sizeof(options[0]) && options[k].code != c)
			k++;
		if (k < sizeof(options) / sizeof(options[0])) {
			enum wc_status rc = backtest_set(o, options[k].key, optarg, &err);

			if (rc == WC_EIO) {
				cmd_error("backtest", "%s", err.msg);
				return CMD_FAIL;
			}
			if (rc)
				return (c == 'i' || c == 'C' || c == 'X') && strchr(err.msg, '\'')
					       ? (cmd_error("backtest", "invalid %s: %s",
							    options[k].opt, err.msg),
						  CMD_USAGE)
					       : cli_bad_option("backtest", options[k].opt,
								optarg ? optarg : "", err.msg);
			hours |= c == 'I';
			continue;
		}
		switch (c) {
		case 'o':
			if (!*optarg)
				return cli_bad_option("backtest", "--out", optarg,
						      "give a directory");
			o->out = optarg;
			break;
		case 'h':
			fputs(backtest_usage, stdout);
			return -1;
		default:
			return cli_bad_getopt("backtest", c, argv);
		}
	}
	if (optind < argc) {
		cmd_error("backtest", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (hours && o->n_issued) {
		cmd_error("backtest", "use one of --issue-hours and --issued-file");
		return CMD_USAGE;
	}
	if (!o->out) {
		cmd_error("backtest", "--out DIR is required; see 'windcast backtest --help'");
		return CMD_USAGE;
	}
	return CMD_OK;
}

/* ---- progress --------------------------------------------------------------------- */

struct progress {
	bool tty;
	struct timespec t0;
	int last_decile;		/* plain lines: the last tenth reported */
	char last_phase[16];
	size_t last_len;
};

static double elapsed(const struct progress *pr)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - pr->t0.tv_sec) + (double)(t.tv_nsec - pr->t0.tv_nsec) / 1e9;
}

static void duration(double s, char *buf, size_t len)
{
	long v = s > 0 && s < 1e8 ? lround(s) : 0;

	if (v >= 3600)
		snprintf(buf, len, "%ldh%02ldm", v / 3600, v / 60 % 60);
	else
		snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
}

static void on_progress(void *arg, const struct backtest_progress *p)
{
	struct progress *pr = arg;
	double t = elapsed(pr), rate = t > 0 ? (double)p->done / t : 0;
	double frac = p->total ? (double)p->done / (double)p->total : 0;
	char eta[32] = "?", el[32], line[512];
	int width = 24, fill = (int)(frac * width + 0.5);

	duration(t, el, sizeof(el));
	if (p->done > 0 && rate > 0)
		duration((double)(p->total - p->done) / rate, eta, sizeof(eta));
	if (pr->tty) {
		int n = snprintf(line, sizeof(line), "\r[%.*s%.*s] %3.0f%% %zu/%zu  %.1f/s  "
						     "ETA %s  %s %s",
				 fill, "########################", width - fill,
				 "........................", 100 * frac, p->done, p->total, rate,
				 eta, p->phase, p->subject);

		/* one terminal line: 100 columns at most, blanks over a longer last one */
		if (n > 101)
			n = 101;
		fprintf(stderr, "%.*s%*s", n, line,
			pr->last_len > (size_t)n ? (int)(pr->last_len - (size_t)n) : 0, "");
		pr->last_len = (size_t)n;
		fflush(stderr);
		return;
	}
	if (!strcmp(p->phase, "forecasting")) {
		int decile = (int)(frac * 10);

		if (decile == pr->last_decile)
			return;
		pr->last_decile = decile;
		fprintf(stderr, "windcast backtest: %3.0f%% (%zu/%zu forecasts, %.1f/s, elapsed %s, "
				"ETA %s)\n",
			100 * frac, p->done, p->total, rate, el, eta);
		return;
	}
	fprintf(stderr, "windcast backtest: %s %s (elapsed %s)\n", p->phase, p->subject, el);
}

static void progress_end(struct progress *pr)
{
	if (pr->tty && pr->last_len)
		fprintf(stderr, "\r%*s\r", (int)pr->last_len, "");
}

/* ---- the command ------------------------------------------------------------------ */

static void print_summary(const struct backtest_result *res)
{
	const json_t *m = json_object_get(json_object_get(res->metrics, "overall"), "model");
	const json_t *rmse = json_object_get(m, "rmse");
	const json_t *sp = json_object_get(m, "skill_persistence");
	const json_t *sc = json_object_get(m, "skill_climatology");
	const json_t *trading = json_object_get(res->metrics, "trading");

	printf("backtest: %zu farm%s, %zu issue times, %zu forecasts of the model (%zu failed), "
	       "%zu trainings (%zu failed)%s\n",
	       res->farms, res->farms == 1 ? "" : "s", res->issues, res->forecasts,
	       res->forecasts_failed, res->trainings, res->trainings_failed,
	       res->hindcast ? "; a HINDCAST (--allow-leak)" : "");
	if (json_is_number(rmse))
		printf("model RMSE %.2f %% of capacity, skill %.1f %% against persistence, %.1f %% "
		       "against climatology\n",
		       json_number_value(rmse), json_number_value(sp), json_number_value(sc));
	if (json_is_object(trading)) {
		const json_t *all = json_object_get(trading, "overall");
		const json_t *cap = json_object_get(all, "captured");

		printf("value captured (share of perfect foresight's uplift over nothing ahead): "
		       "alpha-quantile %.3f, median %.3f, mean %.3f over %lld hours\n",
		       json_number_value(json_object_get(cap, "alpha_quantile")),
		       json_number_value(json_object_get(cap, "median")),
		       json_number_value(json_object_get(cap, "mean")),
		       (long long)json_integer_value(json_object_get(all, "hours")));
	}
	printf("wrote %s/metrics.json, %s/forecasts.csv, %s/report.html%s%s%s\n", res->dir,
	       res->dir, res->dir, json_is_object(trading) ? ", " : "",
	       json_is_object(trading) ? res->dir : "",
	       json_is_object(trading) ? "/commitments.csv" : "");
}

int cmd_backtest(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct backtest_options *o = malloc(sizeof(*o));
	struct backtest_result res = { 0 };
	struct wc_error err = { 0 };
	struct progress pr = { .last_decile = -1 };
	json_t *args = NULL;
	int ret;

	if (!o) {
		cmd_error("backtest", "out of memory");
		return CMD_FAIL;
	}
	backtest_options_init(o);
	o->version = WINDCAST_VERSION;
	ret = parse_args(argc, argv, o);
	if (ret) {
		ret = ret < 0 ? CMD_OK : ret;
		goto cleanup;
	}
	o->argv = args = cli_argv_json(argc, argv);
	o->stop = cli_stop_on_signals();
	if (log_get_level() <= LOG_WARN) {
		pr.tty = isatty(STDERR_FILENO);
		clock_gettime(CLOCK_MONOTONIC, &pr.t0);
		o->progress = on_progress;
		o->progress_arg = &pr;
	}
	ret = backtest_run(ctx->store, o, &res, &err);
	progress_end(&pr);
	if (ret) {
		cmd_error("backtest", "%s", wc_error_msg(&err));
		ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		goto cleanup;
	}
	if (res.interrupted) {
		cmd_error("backtest", "interrupted: nothing written to '%s'", res.dir);
		ret = CMD_FAIL;
		goto cleanup;
	}
	print_summary(&res);
	ret = CMD_OK;
cleanup:
	backtest_result_release(&res);
	backtest_options_release(o);
	json_decref(args);
	free(o);
	return ret;
}
