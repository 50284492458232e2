/*
 * h_commit.c - GET (or POST with an hour-by-hour price CSV as the body)
 * /v1/farms/{id}/commitments and /v1/portfolios/{id}/commitments: a thin adapter over
 * commit_get (trading/commit.h). Every query parameter is a commit_request field of the
 * same name, parsed by commit_request_set as the CLI's options are.
 *
 * A GET's reply is held (server/cache.h) under the farm or portfolio, the representation
 * and every query value as sent, stamped with what it was computed from: a farm's market
 * settings, or the portfolio's record (its farms and market settings), and each farm's
 * forecast's inputs (the farm, the NWP runs, its regional input farms). A POST with
 * prices is computed each time. commitments_warm computes the next trading day's
 * schedule of every farm with market settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/log.h"
#include "common/tz.h"
#include "common/utc.h"
#include "server/handlers.h"
#include "trading/commit.h"

/* The query parameters, each a commit_request field. */
static const char *const query_keys[] = {
	"day", "issued", "horizon", "model", "model_version", "price", "psi_plus", "psi_minus",
	"gate_closure", "time_zone", "min_mw", "max_mw",
};
#define NKEYS (sizeof(query_keys) / sizeof(query_keys[0]))

/* Parse values[] into r; on failure fill a 400 reply naming the parameter, false. */
static bool parse_query(const char *const values[NKEYS], struct reply *rep,
			struct commit_request *r)
{
	struct wc_error err = { 0 };

	for (size_t i = 0; i < NKEYS; i++) {
		if (values[i] && commit_request_set(r, query_keys[i], values[i], &err)) {
			reply_error(rep, 400, "bad_request", "invalid %s '%s': %s", query_keys[i],
				    values[i], err.msg);
			return false;
		}
	}
	return true;
}

/*
 * Answer r: the JSON reply into json_rep, the CSV one into csv_rep (either may be
 * NULL), adding to d what the schedule was computed from.
 */
static void commit_answer(struct store *st, const struct commit_request *r,
			  struct reply *json_rep, struct reply *csv_rep, struct cache_deps *d)
{
	struct schedule s;
	struct wc_error err = { 0 };
	struct dynbuf b;

	if (commit_get(st, r, &s, &err)) {
		replies_error(json_rep, csv_rep, &err);
		return;
	}
	cache_deps_add(d, r->portfolio ? STORE_SUBJECT_PORTFOLIO : STORE_SUBJECT_MARKET, r->id);
	if (r->portfolio)
		for (int i = 0; i < s.pfc.nfarms; i++)
			forecast_deps(d, &s.pfc.farms[i]);
	else
		forecast_deps(d, &s.pfc.fc);
	if (csv_rep) {
		dynbuf_init(&b, (size_t)16 << 20);
		if (schedule_csv(&s, true, &b))
			reply_error(csv_rep, 500, "internal", "cannot build the CSV reply");
		else
			reply_text(csv_rep, 200, "text/csv", dynbuf_str(&b), b.len);
		dynbuf_release(&b);
	}
	if (json_rep) {
		reply_json(json_rep, 200, schedule_json(&s));
		if (!json_rep->json)
			reply_error(json_rep, 500, "internal", "cannot build the JSON reply");
	}
	schedule_release(&s);
}

static void commit_reply(struct request *req, struct reply *rep, bool portfolio)
{
	const char *values[NKEYS];
	struct commit_request r;
	struct price_table prices = { 0 };
	struct wc_error err = { 0 };
	struct held_req h;
	bool csv = request_wants_csv(req);

	/* a body of prices is computed each time; a GET without one is held */
	if (held_lookup(req, rep, portfolio ? "commitments/portfolio" : "commitments/farm",
			query_keys, values, NKEYS, !strcmp(req->method, "GET") && !req->body.len,
			&h))
		return;
	commit_request_init(&r);
	r.portfolio = portfolio;
	r.id = req->params[0];
	if (!parse_query(values, rep, &r))
		goto cleanup;
	if (req->body.len) {
		if (price_table_parse(dynbuf_str(&req->body), req->body.len, &prices, &err)) {
			wc_error_prefix(&err, "invalid prices in the body");
			reply_wc_error(rep, &err);
			goto cleanup;
		}
		r.prices = &prices;
	} else if (!strcmp(req->method, "POST")) {
		reply_error(rep, 400, "bad_request",
			    "request body is empty: send the prices as CSV "
			    "'period_start,price,psi_plus,psi_minus', or use GET");
		goto cleanup;
	}
	commit_answer(req->store, &r, csv ? NULL : rep, csv ? rep : NULL, &h.deps);
cleanup:
	held_finish(req, rep, &h);
	price_table_release(&prices);
}

void farm_commit_handler(struct request *req, struct reply *rep)
{
	commit_reply(req, rep, false);
}

void portfolio_commit_handler(struct request *req, struct reply *rep)
{
	commit_reply(req, rep, true);
}

/* "YYYY-MM-DD": the day after today in the time zone of m (defaults in), into buf. */
static enum wc_status next_day(const struct market_settings *m, char *buf, size_t len,
			       struct wc_error *err)
{
	struct market_settings md = *m;
	struct tz *z = NULL;
	enum wc_status ret;
	int64_t now = utc_now(), y;
	int mo, dd;

	market_defaults(&md);
	if ((ret = tz_load(md.time_zone, &z, err)))
		return ret;
	utc_civil_from_days(utc_floor(now + tz_offset(z, now), UTC_DAY) / UTC_DAY + 1, &y, &mo,
			    &dd);
	snprintf(buf, len, "%04lld-%02d-%02d", (long long)y, mo, dd);
	tz_free(z);
	return WC_OK;
}

struct warm {
	struct store *st;
	const struct commit_request *r;
};

static void warm_answer(void *cls, struct reply *json_rep, struct reply *csv_rep,
			struct cache_deps *d)
{
	struct warm *w = cls;

	commit_answer(w->st, w->r, json_rep, csv_rep, d);
}

void commitments_warm(struct cache *c, const struct cache_stamp *stamp, struct store *st)
{
	struct wc_error err = { 0 };
	struct farm *farms = NULL;
	size_t n = 0;
	char day[16];

	if (store_farm_list(st, &farms, &n, &err)) {
		log_warn("cannot warm the farms' commitments: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n && !cache_stopping(c); i++) {
		const char *values[NKEYS] = { day };	/* day alone: the day-ahead poll */
		struct market_settings m;
		struct commit_request r;
		struct warm w = { st, &r };

		if (store_farm_market_get(st, farms[i].id, &m, &err) || market_empty(&m) ||
		    next_day(&m, day, sizeof(day), &err))
			continue;
		commit_request_init(&r);
		r.id = farms[i].id;
		r.fr.store = false;	/* read only: see portfolios_warm */
		if (commit_request_set(&r, "day", day, &err))
			continue;
		held_warm(c, stamp, "commitments/farm", farms[i].id, values, NKEYS, warm_answer, &w);
	}
	free(farms);
}
