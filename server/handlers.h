/*
 * handlers.h - every HTTP handler named in the route table (server/routes.c).
 * A handler reads struct request and fills struct reply; it never exits, aborts or
 * blocks on anything but the store.
 */
#ifndef WC_HANDLERS_H
#define WC_HANDLERS_H

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

#endif
