/*
 * handlers.h - every HTTP handler named in the route table (server/routes.c).
 * A handler reads struct request and fills struct reply; it never exits, aborts or
 * blocks on anything but the store.
 */
#ifndef WC_HANDLERS_H
#define WC_HANDLERS_H

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
struct cache_stamp;
void forecast_warm(struct cache *c, const struct cache_stamp *stamp, void *cls);
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
