/*
 * routes.c - the route table: every HTTP endpoint, its method, body cap, scope and the
 * shape of its requests. Generic code (server.c, dispatch.c) applies 404/405/413, the
 * id check on {name} segments, the query parameters (400 for an unknown or repeated
 * one), Accept (406) and Content-Type (415) from this table before a handler runs.
 *
 * Adding a query parameter to a route is adding its name to the route's query string
 * (":id" for a farm or job id, ":file" for a file name); the handler reads it with
 * request_query(). `format` comes with ROUTE_CSV.
 */
#include "server/handlers.h"
#include "server/request.h"

#define KiB (1024u)
#define MiB (1024u * 1024u)

#define NETCDF_TYPES "application/x-netcdf application/netcdf application/octet-stream"

const struct route routes[] = {
	/* method, pattern, handler, max_body, scope, .query[, .flags, .content_types, .sniff] */
	{ "GET", "/healthz", health_handler, 0, SCOPE_PUBLIC, .query = "" },
	{ "GET", "/v1/farms", farms_list_handler, 0, SCOPE_READ, .query = "",
	  .flags = ROUTE_CSV },
	{ "POST", "/v1/farms", farms_create_handler, 64 * KiB, SCOPE_WRITE, .query = "" },
	{ "GET", "/v1/farms/{id}", farm_get_handler, 0, SCOPE_READ, .query = "" },
	{ "PUT", "/v1/farms/{id}", farm_put_handler, 64 * KiB, SCOPE_WRITE, .query = "" },
	{ "DELETE", "/v1/farms/{id}", farm_delete_handler, 0, SCOPE_WRITE, .query = "" },
	{ "POST", "/v1/farms/{id}/observations", farm_obs_post_handler, 64 * MiB, SCOPE_WRITE,
	  .query = "" },
	{ "POST", "/v1/grids", grids_upload_handler, ROUTE_UPLOAD_CAP, SCOPE_WRITE,
	  .query = "name:file", .flags = ROUTE_TO_FILE, .content_types = NETCDF_TYPES,
	  .sniff = netcdf_sniff },
	{ "GET", "/v1/grids", grids_list_handler, 0, SCOPE_READ, .query = "" },
	{ "GET", "/v1/jobs/{id}", job_get_handler, 0, SCOPE_READ, .query = "" },
	{ "GET", "/v1/farms/{id}/forecast", farm_forecast_handler, 0, SCOPE_READ,
	  .query = "issued horizon quantiles model model_version units point adapt",
	  .flags = ROUTE_CSV },
	{ "POST", "/v1/farms/{id}/train", farm_train_handler, 4 * KiB, SCOPE_WRITE, .query = "" },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
