/*
 * routes.c - the route table: every HTTP endpoint, its method, body cap, scope and the
 * shape of its requests. docs/openapi.yaml describes each row (tests/unit/
 * test_openapi.c fails when a row and the document differ). Generic code (server.c, dispatch.c) applies 404/405/413, the
 * id check on {name} segments, the query parameters (400 for an unknown or repeated
 * one), Accept (406) and Content-Type (415) from this table before a handler runs.
 *
 * Adding a query parameter to a route is adding its name to the route's query string
 * (":id" for a farm or job id, ":file" for a file name); the handler reads it with
 * request_query(). `format` comes with ROUTE_CSV.
 */
#include "server/handlers.h"
#include "server/request.h"
#include "trading/market.h"

#define KiB (1024u)
#define MiB (1024u * 1024u)

#define NETCDF_TYPES "application/x-netcdf application/netcdf application/octet-stream"
/* commitments: the commit_request fields (trading/commit.h); POST sends a prices CSV */
#define COMMIT_QUERY                                                                     \
	"day issued horizon model model_version price psi_plus psi_minus gate_closure "  \
	"time_zone min_mw max_mw"
/* JSON bodies; curl -d sends the form type, so it is taken as "unspecified" */
#define JSON_TYPES "application/json application/x-www-form-urlencoded"
/* observations: CSV or JSON by type; the unspecified ones are sniffed */
#define OBS_TYPES "text/csv application/json application/x-www-form-urlencoded " \
	"application/octet-stream text/plain"

const struct route routes[] = {
	/* method, pattern, handler, max_body, scope, .query[, .flags, .content_types, .sniff] */
	{ "GET", "/healthz", health_handler, 0, SCOPE_PUBLIC, .query = "" },
	{ "GET", "/metrics", metrics_handler, 0, SCOPE_METRICS, .query = "" },
	{ "GET", "/v1/farms", farms_list_handler, 0, SCOPE_READ, .query = "",
	  .flags = ROUTE_CSV },
	{ "POST", "/v1/farms", farms_create_handler, 64 * KiB, SCOPE_ADMIN, .query = "",
	  .content_types = JSON_TYPES },
	{ "GET", "/v1/farms/{id}", farm_get_handler, 0, SCOPE_READ, .query = "" },
	{ "PUT", "/v1/farms/{id}", farm_put_handler, 64 * KiB, SCOPE_ADMIN, .query = "",
	  .content_types = JSON_TYPES },
	{ "DELETE", "/v1/farms/{id}", farm_delete_handler, 0, SCOPE_ADMIN, .query = "" },
	{ "POST", "/v1/farms/{id}/observations", farm_obs_post_handler, 64 * MiB, SCOPE_WRITE,
	  .query = "", .content_types = OBS_TYPES },
	{ "POST", "/v1/grids", grids_upload_handler, ROUTE_UPLOAD_CAP, SCOPE_WRITE,
	  .query = "name:file", .flags = ROUTE_TO_FILE, .content_types = NETCDF_TYPES,
	  .sniff = netcdf_sniff },
	{ "GET", "/v1/grids", grids_list_handler, 0, SCOPE_READ, .query = "" },
	{ "GET", "/v1/jobs/{id}", job_get_handler, 0, SCOPE_READ, .query = "" },
	{ "GET", "/v1/farms/{id}/forecast", farm_forecast_handler, 0, SCOPE_READ,
	  .query = "issued horizon quantiles model model_version units point adapt",
	  .flags = ROUTE_CSV },
	{ "POST", "/v1/farms/{id}/train", farm_train_handler, 4 * KiB, SCOPE_WRITE, .query = "",
	  .content_types = JSON_TYPES },
	{ "GET", "/v1/tokens", tokens_list_handler, 0, SCOPE_ADMIN, .query = "" },
	{ "POST", "/v1/tokens", tokens_create_handler, 4 * KiB, SCOPE_ADMIN, .query = "", .content_types = JSON_TYPES },
	{ "DELETE", "/v1/tokens/{id}", token_revoke_handler, 0, SCOPE_ADMIN, .query = "" },
	{ "GET", "/v1/farms/{id}/market", farm_market_get_handler, 0, SCOPE_READ, .query = "" },
	{ "PUT", "/v1/farms/{id}/market", farm_market_put_handler, 4 * KiB, SCOPE_ADMIN,
	  .query = "", .content_types = JSON_TYPES },
	{ "GET", "/v1/farms/{id}/commitments", farm_commit_handler, 0, SCOPE_READ,
	  .query = COMMIT_QUERY, .flags = ROUTE_CSV },
	{ "POST", "/v1/farms/{id}/commitments", farm_commit_handler, PRICES_TEXT_MAX, SCOPE_READ,
	  .query = COMMIT_QUERY, .flags = ROUTE_CSV, .content_types = "text/csv" },
	{ "GET", "/v1/portfolios", portfolios_list_handler, 0, SCOPE_READ, .query = "",
	  .flags = ROUTE_CSV },
	{ "POST", "/v1/portfolios", portfolios_create_handler, 64 * KiB, SCOPE_ADMIN,
	  .query = "", .content_types = JSON_TYPES },
	{ "GET", "/v1/portfolios/{id}", portfolio_get_handler, 0, SCOPE_READ, .query = "" },
	{ "PUT", "/v1/portfolios/{id}", portfolio_put_handler, 64 * KiB, SCOPE_ADMIN,
	  .query = "", .content_types = JSON_TYPES },
	{ "DELETE", "/v1/portfolios/{id}", portfolio_delete_handler, 0, SCOPE_ADMIN, .query = "" },
	{ "GET", "/v1/portfolios/{id}/forecast", portfolio_forecast_handler, 0, SCOPE_READ,
	  .query = "issued horizon quantiles model model_version units point",
	  .flags = ROUTE_CSV },
	{ "GET", "/v1/portfolios/{id}/commitments", portfolio_commit_handler, 0, SCOPE_READ,
	  .query = COMMIT_QUERY, .flags = ROUTE_CSV },
	{ "POST", "/v1/portfolios/{id}/commitments", portfolio_commit_handler, PRICES_TEXT_MAX,
	  SCOPE_READ, .query = COMMIT_QUERY, .flags = ROUTE_CSV, .content_types = "text/csv" },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
