/*
 * store.h - windcast's persistent state: one SQLite database in WAL mode under the data
 * directory (DIR/windcast.db), plus content-addressed files beside it.
 *
 * This module (with its siblings data/store_*.c) is the only place that issues SQL.
 * The schema is versioned with PRAGMA user_version; store_open applies every forward
 * migration in one transaction each, and refuses a file written by a newer windcast.
 * Every multi-row write is one transaction: after a crash the store holds the old state
 * or the new one, never half.
 *
 * Threads: one struct store may be shared by many threads; calls are serialised on an
 * internal mutex (reads are short). NEEDSWORK: a pool of read connections if reads ever
 * queue behind long writes.
 */
#ifndef WC_STORE_H
#define WC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/farm.h"
#include "data/token.h"

struct store;

/* The schema version this build writes; store_open migrates older files up to it. */
int store_schema_version(void);

enum store_open_flags {
	STORE_CREATE = 1 << 0,	/* create DIR and the database when missing */
};

/*
 * Open and migrate the store under `dir`. Without STORE_CREATE a missing store (no
 * DIR/windcast.db) is WC_ENOTFOUND, "no windcast store at 'DIR'", and nothing is
 * created: reading commands refuse a mistyped --data instead of answering from an empty
 * store. On success *out owns the handle (free with store_close). WC_EVERSION when the
 * file comes from a newer windcast, WC_ESQL/WC_EIO with SQLite's message otherwise.
 */
enum wc_status store_open_with(const char *dir, unsigned flags, struct store **out,
			       struct wc_error *err);
/* store_open_with(dir, STORE_CREATE, out, err). */
enum wc_status store_open(const char *dir, struct store **out, struct wc_error *err);
void store_close(struct store *st);

/* The data directory and the database path (owned by the store). */
const char *store_dir(const struct store *st);
const char *store_db_path(const struct store *st);

/* Farm registry. Each validates the farm first (farm_validate). */

/*
 * What a write did to a farm. A farm that is new, or that moved (farm_same_site no
 * longer holds), needs its weather extracted from the stored grids
 * (ingest_farm_weather): farm_change_needs_weather.
 */
enum farm_change { FARM_CREATED, FARM_UPDATED, FARM_MOVED };
bool farm_change_needs_weather(enum farm_change c);

/* Insert; WC_EEXIST if the id is taken. Sets created_at/updated_at in *f. */
enum wc_status store_farm_add(struct store *st, struct farm *f, struct wc_error *err);
/* Insert or replace; *created tells which. Keeps created_at of an existing farm. */
enum wc_status store_farm_put(struct store *st, struct farm *f, bool *created,
			      struct wc_error *err);
/* WC_ENOTFOUND when absent. */
enum wc_status store_farm_get(struct store *st, const char *id, struct farm *out,
			      struct wc_error *err);
/*
 * WC_ENOTFOUND when absent; WC_EEXIST naming the portfolio when one holds the farm
 * (data/portfolio.h). Removes the farm and everything stored for it, in one
 * transaction (the runs it had weather from count one farm less).
 */
enum wc_status store_farm_delete(struct store *st, const char *id, struct wc_error *err);
/* All farms ordered by id; *out is malloc'd (free it), NULL when *n == 0. */
enum wc_status store_farm_list(struct store *st, struct farm **out, size_t *n,
			       struct wc_error *err);
/*
 * Add n farms in one transaction: either all are stored or none. Without `replace` a
 * duplicate id (in the store or within the batch) is WC_EEXIST naming it; with it,
 * existing farms are updated in place (their created_at kept).
 */
enum wc_status store_farm_import(struct store *st, struct farm *farms, size_t n,
				 bool replace, struct wc_error *err);
/*
 * store_farm_import telling what happened to each farm: changes[i] for farms[i]
 * (changes may be NULL). store_farm_put is this with n = 1 and replace.
 */
enum wc_status store_farms_write(struct store *st, struct farm *farms, size_t n,
				 bool replace, enum farm_change *changes, struct wc_error *err);


/* ---- NWP runs and site weather (data/store_weather.c) ---- */

/* Site weather columns, in this order, in every interface (CLI, CSV, JSON). */
#define WEATHER_NCOLS 14
extern const char *const weather_columns[WEATHER_NCOLS];

/* One farm, one valid time of one run. Values are NaN where the file had nothing. */
struct weather_row {
	int64_t valid_time;
	double lead_h;			/* valid - reference, hours; NaN for an analysis */
	double v[WEATHER_NCOLS];	/* u10 v10 u100 v100 ws10 ws100 wd10 wd100 ws_hub
					   t2m sp rho ws100_nbr_mean ws100_nbr_std */
};

enum weather_col {
	WX_U10, WX_V10, WX_U100, WX_V100, WX_WS10, WX_WS100, WX_WD10, WX_WD100, WX_WS_HUB,
	WX_T2M, WX_SP, WX_RHO, WX_WS100_NBR_MEAN, WX_WS100_NBR_STD
};

struct nwp_run {
	int64_t id;
	char sha256[65];
	char source[1024];		/* as data/netcdf.h NWP_SOURCE_MAX: whole parts */
	bool is_forecast;
	int64_t ref_time;		/* 0 when !is_forecast */
	int64_t first_valid, last_valid;
	int ntimes, nfarms;
	char description[512];
	int64_t ingested_at;
	/*
	 * Input of store_ingest_run/batches: every global attribute of the file, whole, as a
	 * JSON object (borrowed; NULL: none). Reads leave it NULL; store_run_attributes()
	 * returns what was stored.
	 */
	const char *attributes;
};

/*
 * The global attributes stored with run `run_id` (JSON object text) into *json, malloc'd
 * and owned by the caller; *json is NULL for a run ingested before they were kept.
 * WC_ENOTFOUND for an unknown run.
 */
enum wc_status store_run_attributes(struct store *st, int64_t run_id, char **json,
				    struct wc_error *err);

/* The weather of one farm from one run, for store_ingest_run. */
struct farm_weather {
	const char *farm_id;
	const struct weather_row *rows;
	size_t nrows;
};

/*
 * Look up a raw file by content hash: WC_OK and *run filled (when not NULL) if a run
 * was ingested from these bytes, WC_ENOTFOUND if not.
 */
enum wc_status store_run_by_sha(struct store *st, const char *sha256, struct nwp_run *run,
				struct wc_error *err);

/*
 * Supplies the weather rows of an ingest in batches: fill *out with the next farm's
 * rows (borrowed until the next call) and return WC_OK, or set *done when there are no
 * more. An error aborts the ingest.
 */
typedef enum wc_status (*weather_batch_fn)(void *cls, struct farm_weather *out, bool *done,
					   struct wc_error *err);

/*
 * Record an ingested file in one transaction: the raw file entry (sha256, size, stored
 * path, original name), the run (run->id, run->nfarms are set), and every row `next`
 * supplies. All or nothing; WC_EEXIST if the sha256 is already known. With `sites`
 * (sites[0..nsites), the farms as they were when the rows were computed; NULL: no
 * check), the rows of a farm that moved or went since are dropped: its own extraction
 * (store_farm_weather_replace) has the say then.
 */
enum wc_status store_ingest_batches(struct store *st, const char *sha256, int64_t size,
				    const char *stored_path, const char *original_name,
				    struct nwp_run *run, weather_batch_fn next, void *cls,
				    const struct farm *sites, size_t nsites, struct wc_error *err);

/* The same with every farm's rows in memory (farms[0..nfarms)). */
enum wc_status store_ingest_run(struct store *st, const char *sha256, int64_t size,
				const char *stored_path, const char *original_name,
				struct nwp_run *run, const struct farm_weather *farms,
				size_t nfarms, struct wc_error *err);

/* Runs ordered by reference (or first valid) time, newest first; *out malloc'd. */
enum wc_status store_run_list(struct store *st, struct nwp_run **out, size_t *n,
			      struct wc_error *err);
/*
 * The newest forecast run's reference time (*found false when the store has none), in
 * one index read however many runs there are.
 */
enum wc_status store_run_newest(struct store *st, int64_t *ref_time, bool *found,
				struct wc_error *err);
/* How many runs the store holds. */
enum wc_status store_run_count(struct store *st, size_t *n, struct wc_error *err);

/*
 * The newest run's id (0 when there is none). Run ids only grow and runs are never
 * removed, so it stamps the set of runs: a cache of what the runs gave compares it.
 */
enum wc_status store_run_newest_id(struct store *st, int64_t *id, struct wc_error *err);

/* What the runs with after_id < id <= upto_id are (store_runs_between). */
struct runs_between {
	size_t n;			/* how many */
	bool any_analysis;		/* one has no reference time */
	int64_t min_ref;		/* the earliest reference time of the forecasts among
					 * them; INT64_MAX when none */
};
enum wc_status store_runs_between(struct store *st, int64_t after_id, int64_t upto_id,
				  struct runs_between *out, struct wc_error *err);

/* The weather of one farm from one stored run, for store_farm_weather_replace. */
struct run_weather {
	int64_t run_id;
	const struct weather_row *rows;
	size_t nrows;
};

/* Like weather_batch_fn, for one farm's rows run by run. */
typedef enum wc_status (*run_weather_fn)(void *cls, struct run_weather *out, bool *done,
					 struct wc_error *err);

/* Why store_farm_weather_replace stored nothing although nothing failed. */
enum weather_replace {
	WEATHER_REPLACED,	/* done */
	WEATHER_NEW_RUNS,	/* runs with id > max_run_id arrived: extract them and retry */
	WEATHER_MOVED,		/* the farm moved or went: the site's rows are not its own */
};

/*
 * Replace every site weather row of farm `site->id` with the rows `next` supplies, in
 * one transaction, and keep each run's farm count right. `site` is the farm as the rows
 * were computed for, from every run with id <= max_run_id. Inside the transaction the
 * store is checked first: *outcome is WEATHER_MOVED (nothing written) when the farm is
 * gone or stands elsewhere now, WEATHER_NEW_RUNS when a run newer than max_run_id was
 * ingested meanwhile (a concurrent ingest may have left this farm out), else
 * WEATHER_REPLACED.
 */
enum wc_status store_farm_weather_replace(struct store *st, const struct farm *site,
					  int64_t max_run_id, run_weather_fn next, void *cls,
					  enum weather_replace *outcome, struct wc_error *err);

/*
 * Site weather of one farm, ordered by reference time then valid time. With
 * `ref_time` != INT64_MIN only that run's rows (by reference time). *rows and *runs are
 * parallel malloc'd arrays (the run of each row); free both.
 */
enum wc_status store_weather_query(struct store *st, const char *farm_id, int64_t ref_time,
				   struct weather_row **rows, struct nwp_run **runs,
				   size_t *n, struct wc_error *err);

/* ---- observations (data/store_obs.c) ---- */

/* Quality flag of a metered hour: outage and curtailment hours are not the weather's. */
enum obs_flag { OBS_OK = 0, OBS_OUTAGE = 1, OBS_CURTAILED = 2 };

struct obs_row {
	int64_t time;		/* hour-ending UTC seconds (the value covers time-1h..time) */
	double power_mw;
	enum obs_flag flag;
};

/*
 * Insert or update (same farm and hour) n rows in one transaction: all or nothing.
 * WC_ENOTFOUND when the farm does not exist. Rows are not validated here (data/obs.h
 * does that against the farm's capacity).
 */
enum wc_status store_obs_upsert(struct store *st, const char *farm_id,
				const struct obs_row *rows, size_t n, struct wc_error *err);

/*
 * Observations of a farm with from <= time <= to (INT64_MIN / INT64_MAX for open
 * ends), ascending. *rows malloc'd (NULL when *n == 0).
 */
enum wc_status store_obs_query(struct store *st, const char *farm_id, int64_t from,
			       int64_t to, struct obs_row **rows, size_t *n,
			       struct wc_error *err);

/* The time of a farm's latest observation (*any false: none, *last untouched), in one
 * read of the primary key however many there are. */
enum wc_status store_obs_last(struct store *st, const char *farm_id, bool *any, int64_t *last,
			      struct wc_error *err);

/* ---- background jobs (data/store_jobs.c) ---- */

/*
 * A job is a row: its kind, its input (everything needed to run it again, with the
 * files in its spool directory DATA/jobs/<id>), its state and result. queued ->
 * running -> done | failed; a job found queued or running when a server starts was cut
 * short by a stop or a crash and is run again (server/jobs.h), `attempts` counting the
 * starts.
 */
enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct job {
	int64_t id;
	char kind[32];
	enum job_state state;
	int attempts;		/* times a worker started it */
	char *input;		/* JSON text, malloc'd (NULL from store_job_unfinished) */
	char *result;		/* JSON text or NULL, malloc'd */
	int64_t created_at, started_at, finished_at;	/* 0 when not yet */
};

const char *job_state_name(enum job_state s);
void job_release(struct job *j);

/*
 * A new queued job; *id set. Committed durably (the WAL is synced, whatever the store's
 * synchronous setting), since a 202 naming it may follow at once.
 */
enum wc_status store_job_create(struct store *st, const char *kind, const char *input_json,
				int64_t *id, struct wc_error *err);
/* Move a job to `state` (stamping started/finished), with result JSON (may be NULL). */
enum wc_status store_job_set(struct store *st, int64_t id, enum job_state state,
			     const char *result_json, struct wc_error *err);
/* WC_ENOTFOUND when absent; release *out with job_release. */
enum wc_status store_job_get(struct store *st, int64_t id, struct job *out,
			     struct wc_error *err);
/*
 * Start job id: running, attempts + 1, started now, in one statement, and *out as it
 * is then (release with job_release). WC_ENOTFOUND when there is no such job, or it is
 * no longer queued or running (done or failed meanwhile): nothing to run.
 */
enum wc_status store_job_claim(struct store *st, int64_t id, struct job *out,
			       struct wc_error *err);
/*
 * The jobs left queued or running, oldest first: *out malloc'd (n of them, NULL when
 * none), without input or result (both NULL); free the array.
 */
enum wc_status store_job_unfinished(struct store *st, struct job **out, size_t *n,
				    struct wc_error *err);

/* ---- models, stored forecasts, availability-bounded weather (data/store_forecast.c) ---- */

/* A trained model of one farm: the file lives at `path`, the store keeps the record. */
struct model_rec {
	char farm_id[FARM_ID_MAX + 1];
	int version;			/* 1, 2, ... per farm */
	char path[1024];
	int64_t created_at;
	int64_t train_from, train_to;	/* UTC seconds: issue times the rows came from */
	int64_t n_rows;
	char *info;			/* JSON text (config, validation scores), malloc'd */
};

void model_rec_release(struct model_rec *m);

/*
 * Write and record n models in one transaction, all or none, each as its farm's next
 * version. For model i, with recs[i].version set to that version (counting the models
 * recorded before it in this call), write(ctx, i, &recs[i], err) fills recs[i].path and
 * writes the file; a failure there or in the database rolls every record back, and the
 * caller removes the files written. The database's write lock is held throughout, so two
 * trainers (processes or threads) never take one version or overwrite each other's file.
 * WC_ENOTFOUND when a farm is not in the store.
 */
typedef enum wc_status (*store_model_writer)(void *ctx, int i, struct model_rec *rec,
					     struct wc_error *err);
enum wc_status store_models_add(struct store *st, struct model_rec *recs, int n,
				store_model_writer write, void *ctx, struct wc_error *err);
/*
 * The model of a farm with `version`, or its newest when version <= 0. WC_ENOTFOUND
 * when there is none. Release *out with model_rec_release.
 */
enum wc_status store_model_get(struct store *st, const char *farm_id, int version,
			       struct model_rec *out, struct wc_error *err);

/*
 * Store (or replace) forecasts of one farm in one transaction: all or nothing. Entry i is
 * (issued[i], model[i], body[i]); bodies are JSON text.
 */
enum wc_status store_forecast_put(struct store *st, const char *farm_id, size_t n,
				  const int64_t *issued, const char *const *model,
				  const char *const *body, struct wc_error *err);
/* The stored body (malloc'd) of (farm, issued, model); WC_ENOTFOUND when absent. */
enum wc_status store_forecast_get(struct store *st, const char *farm_id, int64_t issued,
				  const char *model, char **body, struct wc_error *err);

/*
 * The site weather of one farm that the availability rule can allow: rows of forecast
 * runs with ref_time <= ref_max, and rows of analyses (no reference time), with
 * valid_from <= valid_time <= valid_to. The upper bound is applied in SQL, so nothing
 * later is ever read. Rows are ordered by reference time (analyses first), run, valid
 * time; *runs holds each distinct run once (in that order, description left empty) and
 * (*row_run)[i] is the index in *runs of row i. All three arrays are malloc'd (free them).
 */
enum wc_status store_weather_until(struct store *st, const char *farm_id, int64_t ref_max,
				   int64_t valid_from, int64_t valid_to,
				   struct weather_row **rows, uint32_t **row_run, size_t *n,
				   struct nwp_run **runs, size_t *nruns, struct wc_error *err);
/*
 * *any tells whether farm `farm_id` has weather of a forecast run with ref_time <=
 * ref_max (of any valid time): what a choice between forecast runs and analyses may ask
 * without depending on a window.
 */
enum wc_status store_farm_forecast_runs(struct store *st, const char *farm_id,
					int64_t ref_max, bool *any, struct wc_error *err);

/* ---- API tokens (data/store_tokens.c; the token itself in data/token.h) ---- */

struct token_info {
	int64_t id;
	char name[TOKEN_NAME_MAX + 1];
	enum token_scope scope;
	char hint[5];			/* the token's last 4 characters, to tell tokens apart */
	int64_t created_at;
	int64_t revoked_at;		/* 0 while the token works */
};

/*
 * Make a token of `scope` named `name` (may be "", see token_name_valid), store its
 * hash, and write the token itself into `token` (the only copy there will ever be) and
 * its record into *info (may be NULL). WC_EINVAL for a bad name.
 */
enum wc_status store_token_create(struct store *st, enum token_scope scope, const char *name,
				  char token[TOKEN_LEN + 1], struct token_info *info,
				  struct wc_error *err);
/* Every token, revoked ones included, by id; *out malloc'd (NULL when *n == 0). */
enum wc_status store_token_list(struct store *st, struct token_info **out, size_t *n,
				struct wc_error *err);
/*
 * Revoke token `id` (it stops working at the next request of any server on this store);
 * *info (may be NULL) gets its record. WC_ENOTFOUND when there is no such token;
 * revoking a revoked token changes nothing (info->revoked_at tells when it was).
 */
enum wc_status store_token_revoke(struct store *st, int64_t id, struct token_info *info,
				  struct wc_error *err);

/*
 * A token's record as JSON, the same in the CLI (--format json) and the API:
 * {"id","name","scope","hint","created_at","revoked_at"} (times ISO 8601, revoked_at null
 * while it works). A new reference; NULL when out of memory.
 */
struct json_t;
struct json_t *token_info_json(const struct token_info *t);

/* What a server needs to check a request: the hash of a working token and its scope. */
struct token_key {
	uint8_t hash[TOKEN_HASH_LEN];
	enum token_scope scope;
	int64_t id;
};
/* The keys of every token not revoked; *out malloc'd (NULL when *n == 0). */
enum wc_status store_token_keys(struct store *st, struct token_key **out, size_t *n,
				struct wc_error *err);

/*
 * The tokens' change counter: a 64-bit number in DIR/tokens.gen, mapped shared, that
 * every token change (in any process) increments after its commit. A server reads it
 * per request (an atomic load, no system call) and reloads its keys when it moved.
 * On success *out points into a mapping the caller owns (release it with
 * store_token_generation_unmap). WC_EIO when the file cannot be made or mapped.
 */
enum wc_status store_token_generation_map(struct store *st, const uint64_t **out,
					  struct wc_error *err);
void store_token_generation_unmap(const uint64_t *gen);

/* ---- figures for monitoring (data/store_stats.c) ---- */

struct store_model_age {
	char farm_id[FARM_ID_MAX + 1];
	int version;
	int64_t created_at;		/* of the farm's newest model */
};

struct store_stats {
	int64_t db_bytes;		/* windcast.db with its -wal and -shm files */
	int64_t grid_bytes;		/* the raw grid files the store keeps */
	int64_t latest_ref_time;	/* newest NWP run's reference time; 0: none */
	int64_t latest_ingested_at;	/* when the newest run (any kind) was ingested */
	size_t nmodels;
	struct store_model_age *models;	/* one per farm with a model, by farm; malloc'd */
};

/* Fill *out (release with store_stats_release). */
enum wc_status store_stats(struct store *st, struct store_stats *out, struct wc_error *err);
void store_stats_release(struct store_stats *s);

/* ---- generations (data/store_gen.c) ---- */

/*
 * A subject is something whose answers are computed from the store: a generation per
 * subject moves with every committed change of those inputs, in the same transaction as
 * the change, whichever process makes it (the server, or a CLI beside it), so that a
 * reply computed at one generation is known to be stale at the next. The subjects and
 * what moves them:
 *   farm:<id>   the farm's record (added, changed, removed), its observations, its site
 *               weather re-extracted, a model trained, a stored forecast replaced
 *   farms       the registry: any farm added, changed or removed
 *   nwp         the set of NWP runs: a run ingested (its weather comes with it)
 *   weather:<id>  the farm's site weather other than a new run's rows: re-extracted
 *               (store_farm_weather_replace), or the farm added, changed or removed
 *   market:<farm id>  the farm's market settings: set, changed or removed
 *   portfolio:<id>    the portfolio's record: its farms, market settings and name (added,
 *               changed, removed); its farms' own changes move their farm:<id>
 * A module adding a kind moves it with store_gen_bump_locked inside its own write
 * transactions. Generations are stamps from one store-wide sequence (every
 * move takes the next value), so they only grow and "what moved after S" is one read.
 */
#define STORE_SUBJECT_MAX (FARM_ID_MAX + 32)
#define STORE_SUBJECT_FARM "farm"
#define STORE_SUBJECT_FARMS "farms"
#define STORE_SUBJECT_NWP "nwp"
#define STORE_SUBJECT_WEATHER "weather"
#define STORE_SUBJECT_MARKET "market"
#define STORE_SUBJECT_PORTFOLIO "portfolio"

/* "kind:id" (or "kind" when id is NULL) into buf (len bytes, cut to fit); returns buf. */
const char *store_gen_subject(char *buf, size_t len, const char *kind, const char *id);

/* The generation of `subject` now: 0 when it never moved. */
enum wc_status store_gen_get(struct store *st, const char *subject, uint64_t *gen,
			     struct wc_error *err);

/* Move `subject`'s generation in a transaction of its own (settings reloaded, tests). */
enum wc_status store_gen_bump(struct store *st, const char *subject, struct wc_error *err);

/*
 * Call fn(cls) after every commit of this struct store that moved a generation. It runs
 * with the store's lock held: it must be short and must not use the store (signal a
 * thread). NULL fn: none. Changes made by other processes are seen by a watch.
 */
void store_on_change(struct store *st, void (*fn)(void *cls), void *cls);

/*
 * A watch: a read-only connection of its own to the store's file that sees the
 * generations move, cheaply. Use one watch from one thread at a time (one per thread).
 */
struct store_watch;

enum wc_status store_watch_open(struct store *st, struct store_watch **out,
				struct wc_error *err);
void store_watch_close(struct store_watch *w);

/* Called by store_watch_poll for each subject moved: its new generation. */
typedef void (*store_moved_fn)(void *cls, const char *subject, uint64_t gen);

/*
 * Has any generation moved since the last poll of w? Costs one PRAGMA data_version when
 * nothing was committed to the file by anyone (about a microsecond); else reads the rows
 * moved since, calling moved(cls, subject, gen) for each (the first poll: every
 * subject). *seq gets the store-wide sequence as of this poll: every move up to it has
 * been reported, by this poll or an earlier one. On failure (WC_ESQL) nothing is
 * settled: the next poll reports again.
 */
enum wc_status store_watch_poll(struct store_watch *w, uint64_t *seq, store_moved_fn moved,
				void *cls, struct wc_error *err);

#endif
