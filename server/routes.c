/*
 * routes.c - the route table: every HTTP endpoint, its method, body cap and scope.
 * Generic code in server.c applies 404/405/413 from this table before a handler runs.
 */
#include "server/handlers.h"
#include "server/request.h"

#define KiB (1024u)
#define MiB (1024u * 1024u)

const struct route routes[] = {
	/* method, pattern, handler, max_body, scope[, to_file] */
	{ "GET", "/healthz", health_handler, 0, SCOPE_PUBLIC, false },
	{ "GET", "/v1/farms", farms_list_handler, 0, SCOPE_READ, false },
	{ "POST", "/v1/farms", farms_create_handler, 64 * KiB, SCOPE_WRITE, false },
	{ "GET", "/v1/farms/{id}", farm_get_handler, 0, SCOPE_READ, false },
	{ "PUT", "/v1/farms/{id}", farm_put_handler, 64 * KiB, SCOPE_WRITE, false },
	{ "DELETE", "/v1/farms/{id}", farm_delete_handler, 0, SCOPE_WRITE, false },
	{ "POST", "/v1/farms/{id}/observations", farm_obs_post_handler, 64 * MiB, SCOPE_WRITE,
	  false },
	{ "POST", "/v1/grids", grids_upload_handler, ROUTE_UPLOAD_CAP, SCOPE_WRITE, true },
	{ "GET", "/v1/grids", grids_list_handler, 0, SCOPE_READ, false },
	{ "GET", "/v1/jobs/{id}", job_get_handler, 0, SCOPE_READ, false },
	{ "GET", "/v1/farms/{id}/forecast", farm_forecast_handler, 0, SCOPE_READ, false },
	{ "POST", "/v1/farms/{id}/train", farm_train_handler, 4 * KiB, SCOPE_WRITE, false },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
