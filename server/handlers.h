/*
 * handlers.h - every HTTP handler named in the route table (server/routes.c).
 * A handler reads struct request and fills struct reply; it never exits, aborts or
 * blocks on anything but the store.
 */
#ifndef WC_HANDLERS_H
#define WC_HANDLERS_H

#include "server/cache.h"
#include "server/jobs.h"
#include "server/request.h"

void health_handler(struct request *req, struct reply *rep);
void metrics_handler(struct request *req, struct reply *rep);

void tokens_list_handler(struct request *req, struct reply *rep);
void tokens_create_handler(struct request *req, struct reply *rep);
void token_revoke_handler(struct request *req, struct reply *rep);

void farms_list_handler(struct request *req, struct reply *rep);
void farms_create_handler(struct request *req, struct reply *rep);
void farm_get_handler(struct request *req, struct reply *rep);
void farm_put_handler(struct request *req, struct reply *rep);
void farm_delete_handler(struct request *req, struct reply *rep);
void farm_obs_post_handler(struct request *req, struct reply *rep);

void grids_upload_handler(struct request *req, struct reply *rep);
/* POST /v1/grids's sniff: netCDF-3 or HDF5 (netCDF-4) signatures, else 415. */
enum body_verdict netcdf_sniff(struct request *req, const unsigned char *head, size_t len,
			       bool last, struct reply *rep);
void grids_list_handler(struct request *req, struct reply *rep);
void job_get_handler(struct request *req, struct reply *rep);

void farm_forecast_handler(struct request *req, struct reply *rep);
/*
 * The cache's warm function (server/cache.h; cls is the struct store): compute and hold
 * the latest forecast, JSON and CSV, of every farm whose held one is missing or stale.
 */
void forecast_warm(struct cache *c, const struct cache_stamp *stamp, void *cls);
/* Beside them: every portfolio's latest forecast (h_portfolios.c), and the next trading
 * day's schedule of every farm with market settings (h_commit.c); JSON and CSV. */
void portfolios_warm(struct cache *c, const struct cache_stamp *stamp, struct store *st);
void commitments_warm(struct cache *c, const struct cache_stamp *stamp, struct store *st);

/* ---- holding replies (server/cache.h), shared by the handlers that hold them ---- */

#define HELD_KEY_MAX 1024

/* A request whose reply may be held: its key, stamp and what it was computed from. */
struct held_req {
	char key[HELD_KEY_MAX];
	bool keyed;			/* false: computed each time (not holdable, key too long) */
	struct cache_stamp stamp;
	struct cache_deps deps;		/* add to it while computing */
};

/*
 * Fill values[0..n) from req's query parameters keys[0..n) and h (the key: kind,
 * req->params[0], the representation, the values). True when rep was answered with the
 * held body; else compute the reply, adding to h->deps, then call held_finish.
 * `holdable` false: never held (a POST with a body).
 */
bool held_lookup(struct request *req, struct reply *rep, const char *kind,
		 const char *const *keys, const char **values, size_t n, bool holdable,
		 struct held_req *h);
/* Hold rep (when it is a 200 and h was keyed) by h->deps; release h. */
void held_finish(struct request *req, struct reply *rep, struct held_req *h);

/* Both representations of a reply to warm, into json_rep and csv_rep, adding to d. */
typedef void (*held_answer_fn)(void *cls, struct reply *json_rep, struct reply *csv_rep,
			       struct cache_deps *d);
/*
 * Unless both are held, compute kind/id's reply to values[0..n) (answer(cls, ...)) and
 * hold its JSON and CSV representations, as a request for them would find them. True
 * when the JSON one succeeded now.
 */
bool held_warm(struct cache *c, const struct cache_stamp *stamp, const char *kind,
	       const char *id, const char *const *values, size_t n, held_answer_fn answer,
	       void *cls);

struct forecast;
struct forecast_request;
/* A forecast's answer: id's reply to r, JSON into json_rep and CSV into csv_rep (either
 * may be NULL), adding to d what it was computed from. */
typedef void (*forecast_answer_fn)(struct store *st, const char *id,
				   const struct forecast_request *r, struct reply *json_rep,
				   struct reply *csv_rep, struct cache_deps *d);
/* The latest forecast of id to warm: held_latest_answer calls answer(st, id, r, ...). */
struct held_latest {
	forecast_answer_fn answer;
	struct store *st;
	const char *id;
	const struct forecast_request *r;
};
/* A held_answer_fn for held_warm whose cls is a struct held_latest (the caller's). */
void held_latest_answer(void *cls, struct reply *json_rep, struct reply *csv_rep,
			struct cache_deps *d);
/* Add what fc was computed from: its farm, the NWP runs, its regional input farms, and
 * the next hour turn when the clock chose its issue time. */
void forecast_deps(struct cache_deps *d, const struct forecast *fc);
/* Hold rep under key when it succeeded (200), by d (rep then sends the held body). */
void reply_hold_deps(struct cache *c, const char *key, struct reply *rep,
		     const struct cache_stamp *stamp, const struct cache_deps *d);
/* The error of err into json_rep and csv_rep (either may be NULL). */
void replies_error(struct reply *json_rep, struct reply *csv_rep, const struct wc_error *err);
/* fc as the CSV reply of r's levels, horizon and units. */
void reply_forecast_csv(struct reply *rep, const struct forecast *fc,
			const struct forecast_request *r);
void farm_train_handler(struct request *req, struct reply *rep);

void portfolios_list_handler(struct request *req, struct reply *rep);
void portfolios_create_handler(struct request *req, struct reply *rep);
void portfolio_get_handler(struct request *req, struct reply *rep);
void portfolio_put_handler(struct request *req, struct reply *rep);
void portfolio_delete_handler(struct request *req, struct reply *rep);
void portfolio_forecast_handler(struct request *req, struct reply *rep);
void farm_market_get_handler(struct request *req, struct reply *rep);
void farm_market_put_handler(struct request *req, struct reply *rep);
void farm_commit_handler(struct request *req, struct reply *rep);
void portfolio_commit_handler(struct request *req, struct reply *rep);

/* ---- the background jobs those handlers make (server/jobs.h) ---- */

struct job_run;
/* "ingest": the upload in the job's spool, {"file","sha256","size"} (h_grids.c). */
char *ingest_job_run(const struct job_run *jr, int *failed);
/* "train": {"farm", every training option, "pool"} (h_train.c). */
char *train_job_run(const struct job_run *jr, int *failed);
/* "weather": {"farm"}, the farm's weather from the stored grids (h_farms.c). */
char *weather_job_run(const struct job_run *jr, int *failed);

/* The kinds above, for the server's job pool (h_jobs.c). */
extern const struct job_kind job_kinds[];
extern const size_t njob_kinds;
/* Counts and logs each job's run (server/jobs.h's observer; cls: struct access_log). */
void job_observe(void *cls, int64_t id, const char *kind, bool failed, uint64_t ns);

#endif
