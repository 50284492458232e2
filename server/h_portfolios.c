/*
 * h_portfolios.c - the portfolio registry (/v1/portfolios), a portfolio's forecast
 * (GET /v1/portfolios/{id}/forecast) and a farm's market settings
 * (/v1/farms/{id}/market). Thin adapters over data/portfolio.h and
 * trading/portfolio.h: the forecast takes the farm forecast's query parameters, parsed
 * by forecast_request_set, and answers in its shape. Its replies are held as the farm
 * forecast's are (server/cache.h, h_forecast.c), stamped with the portfolio and every
 * farm's forecast's inputs; portfolios_warm computes each portfolio's latest.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/dynbuf.h"
#include "common/log.h"
#include "common/utc.h"
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
#define NKEYS (sizeof(forecast_keys) / sizeof(forecast_keys[0]))

/*
 * Answer r for portfolio id: the JSON reply into json_rep, the CSV one into csv_rep
 * (either may be NULL), adding to d what it was computed from: the portfolio's record,
 * each farm's forecast's inputs, and the next hour turn for the default issue time (the
 * latest of its farms' own, any of which the clock may move).
 */
static void pforecast_answer(struct store *st, const char *id, const struct forecast_request *r,
			     struct reply *json_rep, struct reply *csv_rep, struct cache_deps *d)
{
	struct pforecast pf;
	struct wc_error err = { 0 };

	if (portfolio_forecast_get(st, id, r, &pf, &err) ||
	    forecast_check_levels(&pf.fc, r->levels, r->nlevels, &err)) {
		replies_error(json_rep, csv_rep, &err);
		pforecast_release(&pf);	/* emptied by portfolio_forecast_get when it failed */
		return;
	}
	cache_deps_add(d, STORE_SUBJECT_PORTFOLIO, id);
	for (int i = 0; i < pf.nfarms; i++)
		forecast_deps(d, &pf.farms[i]);
	if (r->issued == INT64_MIN)
		cache_deps_expire(d, utc_floor(utc_now(), UTC_HOUR) + UTC_HOUR);
	if (csv_rep)
		reply_forecast_csv(csv_rep, &pf.fc, r);
	if (json_rep) {
		reply_json(json_rep, 200, pforecast_json(&pf, r->levels, r->nlevels, r->o.horizon));
		if (!json_rep->json)
			reply_error(json_rep, 500, "internal", "cannot build the JSON reply");
	}
	pforecast_release(&pf);
}

/* Held (server/cache.h) as the farm forecast is: by its query values as sent. */
void portfolio_forecast_handler(struct request *req, struct reply *rep)
{
	const char *values[NKEYS];
	struct forecast_request r;
	struct wc_error err = { 0 };
	struct held_req h;
	bool csv = request_wants_csv(req), ok = true;

	if (held_lookup(req, rep, "portfolio-forecast", forecast_keys, values, NKEYS, true, &h))
		return;
	forecast_request_init(&r);
	for (size_t i = 0; i < NKEYS; i++) {
		if (values[i] && forecast_request_set(&r, forecast_keys[i], values[i], &err)) {
			reply_error(rep, 400, "bad_request", "invalid %s '%s': %s", forecast_keys[i],
				    values[i], err.msg);
			ok = false;
			break;
		}
	}
	if (ok)
		pforecast_answer(req->store, req->params[0], &r, csv ? NULL : rep, csv ? rep : NULL,
				 &h.deps);
	held_finish(req, rep, &h);
}

void portfolios_warm(struct cache *c, const struct cache_stamp *stamp, struct store *st)
{
	static const char *const none[NKEYS] = { NULL };
	struct wc_error err = { 0 };
	struct forecast_request r;
	struct portfolio *p = NULL;
	size_t n = 0;

	if (store_portfolio_list(st, &p, &n, &err)) {
		log_warn("cannot warm the portfolios' latest forecasts: %s", err.msg);
		return;
	}
	forecast_request_init(&r);
	/*
	 * Read only: a write of the warming thread that replaced a stored forecast would move
	 * the farm's generation, make what it just held stale and wake it again, for ever (auto
	 * reads a stored forecast under its first choice's key and stores what served, another
	 * one when the first has no inputs at T, e.g. a day beyond the NWP runs).
	 */
	r.store = false;
	for (size_t i = 0; i < n && !cache_stopping(c); i++) {
		struct held_latest l = { pforecast_answer, st, p[i].id, &r };

		held_warm(c, stamp, "portfolio-forecast", p[i].id, none, NKEYS, held_latest_answer,
			  &l);
	}
	free(p);
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
