/*
 * engine.h - the rolling-origin backtest (DESIGN.md 9): replay the forecaster over a
 * period of history through the code that serves forecasts, score it against what was
 * observed, and write the files an analyst reads.
 *
 * A backtest, in order (backtest_run):
 *   1. the issue times: each day of [from, to] at the issue hours (default 00 and 12
 *      UTC), or the times of an issue-time file (those within [from, to] when given),
 *      sorted, each once;
 *   2. the models. Retrain "monthly": issue time T is served by a model trained at the
 *      start of T's UTC month; "<N>d": at base + k N days, base the first issue day at
 *      00:00 (from's day when given). Each is trained by train_request_train with the
 *      training options and --to at its retrain time, so on nothing observed after it
 *      (forecast/model.h), and is never saved. One farm's model per farm, or with
 *      --pool in the training options one network for the pool's farms, as `windcast
 *      train` does. "never": every issue time is served by the farm's stored model
 *      (newest, or model_version); a model whose rows read an observation after the
 *      first issue time is refused, or with allow_leak accepted and every output is
 *      marked a hindcast. A baseline model needs no training;
 *   3. every forecast at T through forecaster_open_model / forecaster_issue (the model)
 *      and forecaster_open / forecaster_issue (persistence, climatology, powercurve): the
 *      availability rule of forecast/series.h decides what each sees, as when serving;
 *      leads 1..horizon;
 *   4. the scores against the observations in the store (hours flagged outage or
 *      curtailed are no truth), in % of capacity, for the model and each baseline, per
 *      lead and overall, pooled over the farms and per farm: bias, MAE, RMSE, SDE, skill
 *      against persistence and climatology (1 - RMSE / RMSE of the reference on the pairs
 *      both have), pinball (mean over the levels), CRPS (forecast/metrics.h), coverage
 *      of each quantile level and width and coverage of each central interval. Quantiles
 *      are scored (and written) at the requested levels when given, else at those of
 *      the model (the training options', or the stored model's); each forecast's
 *      quantiles are interpolated there (forecast_quantile: linear between its levels,
 *      flat beyond its ends), as `windcast forecast --quantiles` gives them;
 *   5. with prices (the options', or the subject's stored market settings when no
 *      price option is given), each forecast of the model commits its leads
 *      (trading/commit.h, committer_schedule: the rule's alpha-quantile, the median, the
 *      mean), and the five schedules are settled against the truth (trading/value.h):
 *      revenue, imbalance cost, value captured and uplift, overall, per lead block
 *      (trading/portfolio.h's blocks), per subject and per delivery day;
 *   6. the files, in OUT (created): forecasts.csv (every forecast with its truth),
 *      metrics.json (the scores and how they were made), report.html
 *      (backtest/report.h) and, with prices, commitments.csv, each written under a
 *      temporary name and renamed when all are complete (backtest/outfile.h).
 *
 * The subject is one farm, every farm (all), or a portfolio: its farms are trained as
 * a farm's are (each alone, or the training pool), and at each issue time the
 * portfolio's forecast is trading/portfolio.h's (pforecaster_open_models with the
 * window's models; the baselines' with each farm's baseline); its truth is the sum of
 * the farms' observations, an hour where any farm's is missing or flagged unscored.
 *
 * The store is only read: no model is saved, no forecast stored. A re-run with the same
 * options on the same store writes identical files (training is seeded; nothing records
 * the wall clock). When *stop becomes nonzero the run stops before its next training or
 * forecast and writes nothing (res->interrupted).
 *
 * Limits: one farm's observations and the report's fan series over the period are held
 * in memory (about 100 bytes an hour); scores take about 4 kB per method and lead and
 * per method and farm. Nothing here exits.
 */
#ifndef WC_BACKTEST_ENGINE_H
#define WC_BACKTEST_ENGINE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/market.h"
#include "data/store.h"
#include "forecast/forecast.h"
#include "forecast/train_request.h"
#include "trading/market.h"

#define BACKTEST_MAX_ISSUES 200000	/* issue times of one backtest */
#define BACKTEST_MAX_FARMS 10000
#define BACKTEST_MAX_RETRAIN_DAYS 3650
#define BACKTEST_TRAIN_ARGS_MAX 4096	/* bytes of the training options' text */
#define BACKTEST_ISSUED_FILE_MAX ((size_t)16 << 20)	/* bytes of an issue-time file */
#define BACKTEST_MAX_FAILURES 100	/* failed forecasts listed in metrics.json */
#define BACKTEST_WARM_EPOCHS 10		/* a warm-started retraining's epochs, at most */
#define BACKTEST_WARM_PATIENCE 2	/* and its early-stopping patience */
#define BACKTEST_MAX_EXCLUDE 100000	/* intervals of a --train-exclude file */

enum backtest_retrain { BACKTEST_RETRAIN_DAYS, BACKTEST_RETRAIN_MONTHLY,
			BACKTEST_RETRAIN_NEVER };

/* The methods scored, in the order of the files. */
enum backtest_method { BT_MODEL, BT_PERSISTENCE, BT_CLIMATOLOGY, BT_POWERCURVE, BT_NMETHODS };

/* "model", "persistence", "climatology", "powercurve" */
const char *backtest_method_name(enum backtest_method m);

/* Where a run is (the progress callback's argument). */
struct backtest_progress {
	const char *phase;	/* "training", "forecasting", "writing" */
	char subject[160];	/* "farm 'x' to 2010-07-01", "a pool of 7 farms ..." */
	size_t done, total;	/* forecasts (farm x issue time) made, and to make */
};

typedef void (*backtest_progress_fn)(void *arg, const struct backtest_progress *p);

struct backtest_options {
	char farm[FARM_ID_MAX + 1];	/* one farm, or: */
	bool all;			/* every farm of the store, in id order, or: */
	char portfolio[FARM_ID_MAX + 1];	/* a portfolio of the store */
	int64_t from, to;		/* the issue times' period; INT64_MIN: not given */
	char from_text[40], to_text[40];	/* as given, for messages */
	unsigned issue_hours;		/* bit h: an issue at hh:00 UTC; default 0 and 12 */
	int64_t *issued;		/* the issue-time file's times (owned), or NULL */
	size_t n_issued;
	char issued_file[1024];		/* its path, for the files */
	enum backtest_retrain retrain;
	int retrain_days;		/* BACKTEST_RETRAIN_DAYS: 1..3650 */
	bool retrain_set;		/* given (a baseline model takes none) */
	struct forecast_options fo;	/* model, model_version (never only), horizon, point,
					 * adapt */
	float levels[FORECAST_MAX_REQUEST];	/* the levels scored and written, increasing; */
	int n_levels;			/* 0: the model's */
	char levels_text[256];		/* as given, for metrics.json */
	char model[16];			/* fo.model points here */
	struct train_request train;	/* the training options; --pool and --regional too */
	char train_args[BACKTEST_TRAIN_ARGS_MAX];	/* as given */
	bool allow_leak;
	bool warm_start;		/* each retraining starts from the previous model's
					 * weights (nn_config.warm), for warm_epochs at most
					 * with early stopping after warm_patience */
	int warm_epochs, warm_patience;
	int64_t (*train_exclude)[2];	/* intervals [from, to] of hour-ending times whose
					 * observations no training reads (owned; sorted), or
					 * NULL; the forecasts and the scores still see them */
	size_t n_train_exclude;
	char train_exclude_file[1024];	/* its path */
	struct market_settings market;	/* price, psi_plus, psi_minus given: over the
					 * subject's stored settings */
	struct price_table prices;	/* an hour-by-hour price file (owned), n 0: none */
	char prices_file[1024];		/* its path */
	const char *out;		/* the output directory */
	const char *version;		/* windcast's, for the files */
	const json_t *argv;		/* borrowed, may be NULL: the command line, recorded */
	volatile sig_atomic_t *stop;	/* may be NULL */
	backtest_progress_fn progress;	/* may be NULL */
	void *progress_arg;
};

/* Defaults: no farm, no period, issue hours 0 and 12, retrain monthly, model auto,
 * horizon FORECAST_DEFAULT_HORIZON, the training options' defaults. */
void backtest_options_init(struct backtest_options *o);
/* Free what the options own (the issue-time file's times, the hidden intervals, the
 * prices). */
void backtest_options_release(struct backtest_options *o);

/*
 * Set one option from text, as the CLI gives it: "farm", "all" (value ignored), "from",
 * "to" (ISO 8601), "issue_hours" ("0,12": hours 0..23, each once), "issued_file" (a
 * path: one ISO 8601 time a line, '#' comments and blank lines skipped, at most
 * BACKTEST_MAX_ISSUES), "horizon" (1..744), "retrain" ("monthly", "never" or "<N>d",
 * 1..3650 days), "model" (auto, nn, persistence, climatology, powercurve), "adapt"
 * (model, on, off: the network's online adaptation, as `forecast --adapt`),
 * "model_version" (1..; with retrain never), "point" (median or mean), "quantiles" (the
 * levels scored and written, forecast_parse_levels' "0.1,0.5,0.9" or "0.01:0.99:0.01",
 * at most FORECAST_MAX_REQUEST; default the model's), "train_args"
 * (`windcast train`'s options as one string: "--ensemble 8 --pool all --regional all";
 * --to is the backtest's own), "allow_leak" and "warm_start" (value ignored),
 * "warm_epochs" (1..10000), "warm_patience" (1..1000); "train_exclude" (a path: one
 * interval "FROM,TO" of ISO 8601 hour-ending times a line, FROM <= TO, '#' comments
 * and blank lines skipped, at least one and at most BACKTEST_MAX_EXCLUDE: the hours
 * whose observations the trainings do not read, as if flagged outage, while the
 * forecasts and the scores see them; a bad line is WC_EINVAL with the path and line
 * number); "portfolio" (an id), "price",
 * "psi_plus", "psi_minus" (market_set's ranges) and "prices" (a path: the price file
 * of trading/market.h, at most PRICES_TEXT_MAX bytes; a bad one is WC_EINVAL with its
 * path and line). On a bad value WC_EINVAL with err->msg the hint ("use ..."), for the
 * caller to name the option as its user wrote it; an unreadable file is WC_EIO; an
 * unknown key WC_EINVAL.
 */
enum wc_status backtest_set(struct backtest_options *o, const char *key, const char *value,
			    struct wc_error *err);

/* What a run did, for the front end's summary. */
struct backtest_result {
	size_t farms, issues;		/* the farms and issue times of the run */
	size_t trainings, trainings_failed;
	size_t forecasts, forecasts_failed;	/* of the model, farm x issue time */
	bool hindcast;			/* allow_leak accepted a model trained later */
	bool interrupted;		/* *stop: nothing was written */
	json_t *metrics;		/* metrics.json as written (owned), NULL if none */
	char dir[1024];			/* the output directory */
};

void backtest_result_release(struct backtest_result *res);

/*
 * Run the backtest of o on st (the steps above). Always fills *res. WC_OK when the files
 * were written, or nothing was because *stop was set (res->interrupted); WC_EINVAL for
 * options that do not fit together or the store (no period nor issue-time file, from
 * after to, no issue time in the period, a farm of the subject outside the training
 * pool, --to in the training options, a stored model read later data, an unknown
 * farm, a prices file with price options, a period without prices, hidden
 * observations without a training (--train-exclude with --retrain never or a
 * baseline model): err names the
 * option); WC_ENOTFOUND for an unknown portfolio, and with retrain never for a farm
 * without a stored model; WC_ENODATA when not one forecast of the model could be made (the first
 * failure's reason); WC_EIO when the files cannot be written.
 */
enum wc_status backtest_run(struct store *st, const struct backtest_options *o,
			    struct backtest_result *res, struct wc_error *err);

#endif
