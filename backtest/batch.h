/*
 * batch.h - the nightly batch: one call runs a night for the farms of one shard.
 *
 * A night, in order (batch_run):
 *   1. the lock: DATA/batch.lock, held with flock(2) for the whole night, so two batches
 *      never run on one store at once (the second gets WC_EBUSY naming the holder: pid,
 *      host, start time); the kernel drops the lock when its holder dies, so a stale
 *      lock file is simply taken over;
 *   2. the inbox (when given): each regular file of the directory, in name order (names
 *      starting with '.' or ending in .tmp or .part are still being written and wait), is
 *      a NetCDF grid (by its signature: ingested through data/ingest.h) or a farm's
 *      observations (<farm id>.csv or <farm id>.json, or <farm id>.<anything>.csv: the id
 *      is the name up to the first '.'; data/obs.h's formats), and is moved to
 *      INBOX/processed/ or, with the reason in <name>.reason beside it, INBOX/rejected/
 *      (a name taken there gets .1, .2, ...). A file that cannot be read or parsed is
 *      rejected and the night goes on; one the store could not take (disk full, busy)
 *      stays in the inbox for the next night;
 *   3. per farm of the shard, in id order: retrain when due (below) through the one
 *      training path (forecast/train_request.h) with the batch's training options and
 *      --to capped at the issue time; forecast at the issue time through the one forecast
 *      path (forecast_get_or_issue, stored like any other); write OUT/farms/<id>.json (the
 *      API's reply), .csv (the API's CSV) and .nc (CF-1.8, data/ncwrite.h); then
 *      tomorrow's commitments (below) as OUT/farms/<id>.commitments.json and .csv
 *      (schedule_json and schedule_csv: `windcast commit --day D`'s JSON and CSV);
 *   4. per portfolio of the shard, in id order: its forecast at the issue time through
 *      trading/portfolio.h (portfolio_forecast_get, the farms' forecasts stored), written
 *      as OUT/portfolios/<id>.json, .csv (`windcast forecast --portfolio`'s JSON and CSV)
 *      and .nc (the farms' layout, naming the portfolio and listing its farms, their
 *      models and NWP runs); then its commitments, as a farm's;
 *   5. OUT/manifest.json (OUT/manifest-K-of-N.json for a shard), last, so that a reader
 *      who sees the manifest sees every file it lists.
 *
 * Tomorrow's commitments (trading/commit.h, commit_get, never re-derived here): for the
 * local date after the one the issue time falls on in the market's time zone, from the
 * forecast available at that day's gate closure (commit_request with day), like
 * `windcast commit --day D`. When that gate closure is after the night's issue time,
 * the forecast is computed from what the store holds now, marked "provisional" in the
 * manifest and not stored (runs delivered before the gate closure may still come; a
 * stored forecast would be served instead of the final one); one whose gate closure has
 * passed is stored as `windcast commit` stores it. The settings are the farm's
 * (portfolio's) stored ones over
 * the batch's own (o->market, e.g. --price 50 --psi-plus 10 --psi-minus 30): stored
 * settings win field by field, the batch's fill what they leave unset. With no price,
 * psi_plus and psi_minus from either, the schedule is skipped, not invented: the
 * manifest entry's commitments say "skipped" and why, the farm is not failed and no
 * commitments file is written. A schedule that fails (settings incomplete, no forecast
 * at gate closure, a zone whose day is not whole hours) fails its farm or portfolio;
 * its forecast files stay written and listed.
 *
 * Retrain policy: a farm is due when it has no model, or when its newest model's rows end
 * (model train_to) more than retrain_after before the issue time and observations came
 * since (a day or more after train_to: its rows end some hours before the observations
 * they used); with BATCH_RETRAIN_NEVER nothing is trained. The age is counted in data time,
 * not wall-clock time, so a re-run of a night decides as the first run did. A farm that
 * has no model and not enough data to train one is not a failure: its forecast comes
 * from a baseline (as auto chooses) and the manifest says why. NEEDSWORK: a farm whose
 * model came from a pool (train --pool) is retrained alone; pools in the batch want a
 * pool option of their own.
 *
 * Shards: farm F belongs to shard 1 + FNV-1a-64(F's id bytes) mod N (batch_shard_of), a
 * function of the id alone: N batches with --shard 1/N .. N/N cover every farm exactly
 * once whatever each host's farm list order, and adding a farm moves no other. A
 * portfolio is sharded by its own id with the same function, independently of its
 * farms' shards (it forecasts its farms itself). NEEDSWORK: with one store per host a
 * portfolio's host must see its farms' models and data (a shared store).
 *
 * Selection: with o->farms or o->portfolios the night covers only the farms and
 * portfolios named (either list may be empty: --portfolio P alone runs P and no farm);
 * an id that is not in the store is WC_EINVAL naming the option. The shard applies to
 * what is selected.
 *
 * Files appear atomically (a temporary name in the same directory, fsync, rename, fsync
 * of the directory). Their bytes depend only on the store and the options: re-running a
 * night (same issue time, same store) writes identical files; only the manifest's
 * started_at/finished_at (and its inbox list) tell the runs apart. A portfolio forecast's
 * computed_at is the latest of its farms' forecasts' (stored on the first run), not the
 * clock's.
 *
 * Nothing here exits; the caller maps the outcome to an exit status.
 */
#ifndef WC_BATCH_H
#define WC_BATCH_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "common/utc.h"
#include "data/market.h"
#include "data/store.h"
#include "forecast/forecast.h"
#include "forecast/train_request.h"

#define BATCH_RETRAIN_NEVER 0
#define BATCH_DEFAULT_RETRAIN_AFTER (30 * (int64_t)UTC_DAY)
#define BATCH_MAX_RETRAIN_AFTER (3650 * (int64_t)UTC_DAY)
#define BATCH_MAX_SHARDS 10000
#define BATCH_INBOX_MAX_FILES 10000	/* files taken from the inbox per night; more wait */
#define BATCH_OBS_FILE_MAX ((size_t)512 << 20)	/* bytes of an observation file */
#define BATCH_TRAIN_ARGS_MAX 4096	/* bytes of the training options' text */
#define BATCH_PATH_MAX 4096
#define BATCH_LOCK_NAME "batch.lock"
#define BATCH_ISSUED_TOKEN "{issued}"	/* in the output path: the issue time, compact */
#define BATCH_MAX_SELECT 10000		/* ids given with --farm or --portfolio */

struct batch_options {
	int64_t issued;			/* the night's issue time; INT64_MIN: now. Floored
					 * to the hour */
	const char *inbox;		/* directory of new files; NULL: no inbox step */
	const char *out;		/* output directory, created; BATCH_ISSUED_TOKEN in it
					 * becomes the issue time as 20260301T0600Z */
	int shard_k, shard_n;		/* this night covers shard k of n, 1 <= k <= n */
	int64_t retrain_after;		/* seconds, or BATCH_RETRAIN_NEVER */
	char retrain_text[32];		/* as given ("30d"), for the manifest */
	struct forecast_request forecast;	/* horizon, quantile levels, model, point;
						 * its issued is the night's */
	struct train_request train;	/* the training options (the farm is set per farm) */
	char train_args[BATCH_TRAIN_ARGS_MAX];	/* as given, for the manifest */
	struct market_settings market;	/* the batch's price model: fills what a farm's or
					 * portfolio's stored settings leave unset (all
					 * unset by default); check with batch_check_market */
	bool select;			/* only the farms and portfolios listed below */
	const char *const *farms;	/* (nfarms) borrowed ids, when select */
	size_t nfarms;
	const char *const *portfolios;	/* (nportfolios) borrowed ids, when select */
	size_t nportfolios;
	const char *version;		/* windcast's version, for the files and manifest */
	const json_t *argv;		/* borrowed, may be NULL: the command line, recorded
					 * in the manifest as given */
	volatile sig_atomic_t *stop;	/* may be NULL: when it becomes nonzero the night
					 * stops before the next farm or inbox file */
};

/* Defaults: now, no inbox, shard 1/1, retrain after 30 days, the forecast request's and
 * the training options' own defaults. out must be set. */
void batch_options_init(struct batch_options *o);

/*
 * Parse "K/N" (1 <= K <= N <= BATCH_MAX_SHARDS). WC_EINVAL with the hint in err->msg
 * ("use K/N with 1 <= K <= N, e.g. 2/4"), for the caller to name its option.
 */
enum wc_status batch_parse_shard(const char *s, int *k, int *n, struct wc_error *err);

/*
 * Parse a retrain age: "30d", "36h" (a whole number of days or hours, 1 h .. 3650 d) or
 * "never" (BATCH_RETRAIN_NEVER). WC_EINVAL with the hint in err->msg.
 */
enum wc_status batch_parse_age(const char *s, int64_t *seconds, struct wc_error *err);

/*
 * Set training options of r from text as `windcast train` takes them
 * ("--epochs 20 --hidden 32,32 --refit"; a flag takes no value, "--name=value" works
 * too), through the option table, so ranges and messages are train's. WC_EINVAL naming
 * the option ("invalid --epochs 'x': use 1..10000", "unknown training option '--farm'").
 */
enum wc_status batch_train_args(struct train_request *r, const char *args, struct wc_error *err);

/*
 * Check the batch's price model m: price, psi_plus and psi_minus given all three or
 * none (a fleet-wide default must be a whole price model), psi_plus + psi_minus > 0,
 * and no min_mw or max_mw (limits are per farm: 'windcast farm market'). WC_EINVAL
 * naming the option ("--psi-minus is missing: give --price, --psi-plus and --psi-minus
 * together").
 */
enum wc_status batch_check_market(const struct market_settings *m, struct wc_error *err);

/* The shard (1..n) of a farm or portfolio id: 1 + FNV-1a-64(id) mod n. */
int batch_shard_of(const char *farm_id, int n);

/* The directory a night writes to: o->out with BATCH_ISSUED_TOKEN replaced. */
enum wc_status batch_out_dir(const char *out, int64_t issued, char *buf, size_t len,
			     struct wc_error *err);

/* ---- the lock ---- */

struct batch_lock {
	int fd;		/* -1 when not held */
};

/*
 * Take DATA/batch.lock without waiting, recording "pid P host H since ISO" in it.
 * WC_EBUSY when another process holds it: "a batch is running on 'DATA' (pid 4242 on
 * host h since 2026-03-01T06:00:00Z); wait for it, or stop it". WC_EIO otherwise.
 */
enum wc_status batch_lock_take(const char *data_dir, struct batch_lock *lk,
			       struct wc_error *err);
/* Release (safe on a lock not held). */
void batch_lock_release(struct batch_lock *lk);

/* ---- a night ---- */

/* A failure a front end reports, one line each: a farm, a portfolio or an inbox file. */
struct batch_failure {
	char subject[FARM_ID_MAX + 512];	/* "farm 'x'", "portfolio 'p'", "inbox file 'y'" */
	char msg[512];
};

struct batch_result {
	char out_dir[BATCH_PATH_MAX];	/* the directory written */
	char manifest[BATCH_PATH_MAX];	/* the manifest's path ("" when none was written) */
	int64_t issued;
	size_t farms;			/* farms of the shard */
	size_t farms_failed;		/* its forecast, retraining or commitments failed */
	size_t portfolios;		/* portfolios of the shard */
	size_t portfolios_failed;
	size_t commitments_skipped;	/* farms and portfolios without a price model */
	size_t inbox_processed, inbox_rejected, inbox_left;
	bool interrupted;		/* *stop was set: farms after it were not run */
	struct batch_failure *failures;	/* (nfailures) farms failed, files rejected or left */
	size_t nfailures;
};

void batch_result_release(struct batch_result *res);

/*
 * Run one night (the steps above) on st for options o. Always fills *res. Returns WC_OK
 * when the night ran to its manifest, whether or not farms or portfolios failed
 * (res->farms_failed, res->portfolios_failed, res->failures); WC_EBUSY when another
 * batch holds the lock; WC_EINVAL for bad options (a bad shard, an inbox that is not a
 * directory, an output path too long, a selected farm or portfolio that does not exist,
 * a bad price model: err names them), before anything is written; WC_EIO/WC_ESQL when
 * the night cannot start (the output directory, the farm or portfolio list) or its
 * manifest cannot be written.
 */
enum wc_status batch_run(struct store *st, const struct batch_options *o,
			 struct batch_result *res, struct wc_error *err);

#endif
