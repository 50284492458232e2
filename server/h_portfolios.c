/*
 * h_portfolios.c - the portfolio registry (/v1/portfolios), a portfolio's forecast
 * (GET /v1/portfolios/{id}/forecast) and a farm's market settings
 * (/v1/farms/{id}/market). Thin adapters over data/portfolio.h and
 * trading/portfolio.h: the forecast takes the farm forecast's query parameters, parsed
 * by forecast_request_set, and answers in its shape.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/dynbuf.h"
#include "data/portfolio.h"
#include "forecast/forecast.h"
#include "server/handlers.h"
#include "trading/portfolio.h"

void portfolios_list_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct portfolio *p;
	struct dynbuf b;
	json_t *arr;
	size_t n;

	if (store_portfolio_list(req->store, &p, &n, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (request_wants_csv(req)) {
		dynbuf_init(&b, 64u << 20);
		if (portfolio_csv_write(&b, p, n))
			reply_error(rep, 500, "internal", "cannot build the CSV reply");
		else
			reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
		dynbuf_release(&b);
	} else {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, portfolio_to_json(&p[i]));
		reply_json(rep, 200, json_pack("{s:o}", "portfolios", arr));
	}
	free(p);
}

/* Parse the body into a portfolio and store it (add, or put for a path id). */
static void write_portfolio(struct request *req, struct reply *rep, const char *id)
{
	struct wc_error err = { 0 };
	struct portfolio *p = malloc(sizeof(*p));
	json_t *body = request_json(req, rep);
	bool created = true;

	if (!body || !p) {
		if (!p)
			reply_error(rep, 500, "internal", "out of memory");
		goto cleanup;
	}
	if (portfolio_from_json(body, id, p, &err) ||
	    (id ? store_portfolio_put(req->store, p, &created, &err)
		: store_portfolio_add(req->store, p, &err)) ||
	    store_portfolio_get(req->store, p->id, p, &err)) {
		reply_wc_error(rep, &err);
		goto cleanup;
	}
	if (created)
		snprintf(rep->location, sizeof(rep->location), "/v1/portfolios/%s", p->id);
	reply_json(rep, created ? 201 : 200, portfolio_to_json(p));
cleanup:
	json_decref(body);
	free(p);
}

void portfolios_create_handler(struct request *req, struct reply *rep)
{
	write_portfolio(req, rep, NULL);
}

void portfolio_put_handler(struct request *req, struct reply *rep)
{
	write_portfolio(req, rep, req->params[0]);
}

void portfolio_get_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct portfolio *p = malloc(sizeof(*p));

	if (!p)
		reply_error(rep, 500, "internal", "out of memory");
	else if (store_portfolio_get(req->store, req->params[0], p, &err))
		reply_wc_error(rep, &err);
	else
		reply_json(rep, 200, portfolio_to_json(p));
	free(p);
}

void portfolio_delete_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };

	if (store_portfolio_delete(req->store, req->params[0], &err))
		reply_wc_error(rep, &err);
	else
		rep->status = 204;
}

/* The farm forecast's query parameters, each parsed by forecast_request_set. */
static const char *const forecast_keys[] = { "issued", "horizon", "quantiles", "model",
					     "model_version", "point", "units" };

void portfolio_forecast_handler(struct request *req, struct reply *rep)
{
	struct forecast_request r;
	struct pforecast pf;
	struct wc_error err = { 0 };
	struct dynbuf b;

	forecast_request_init(&r);
	for (size_t i = 0; i < sizeof(forecast_keys) / sizeof(forecast_keys[0]); i++) {
		const char *v = request_query(req, forecast_keys[i]);

		if (v && forecast_request_set(&r, forecast_keys[i], v, &err)) {
			reply_error(rep, 400, "bad_request", "invalid %s '%s': %s", forecast_keys[i], v,
				    err.msg);
			return;
		}
	}
	if (portfolio_forecast_get(req->store, req->params[0], &r, &pf, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (forecast_check_levels(&pf.fc, r.levels, r.nlevels, &err)) {
		reply_wc_error(rep, &err);
	} else if (request_wants_csv(req)) {
		dynbuf_init(&b, (size_t)64 << 20);
		if (forecast_csv(&pf.fc, r.levels, r.nlevels, r.o.horizon, true, r.frac, &b))
			reply_error(rep, 500, "internal", "cannot build the CSV reply");
		else
			reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
		dynbuf_release(&b);
	} else {
		reply_json(rep, 200, pforecast_json(&pf, r.levels, r.nlevels, r.o.horizon));
	}
	pforecast_release(&pf);
}

void farm_market_get_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct market_settings m;

	if (store_farm_market_get(req->store, req->params[0], &m, &err))
		reply_wc_error(rep, &err);
	else
		reply_json(rep, 200, json_pack("{s:s,s:o}", "farm", req->params[0], "market",
					       market_to_json(&m)));
}

void farm_market_put_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct market_settings m;
	json_t *body = request_json(req, rep);

	if (!body)
		return;
	if (market_from_json(body, &m, &err) ||
	    store_farm_market_put(req->store, req->params[0], &m, &err))
		reply_wc_error(rep, &err);
	else
		reply_json(rep, 200, json_pack("{s:s,s:o}", "farm", req->params[0], "market",
					       market_to_json(&m)));
	json_decref(body);
}
