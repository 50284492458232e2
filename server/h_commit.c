/*
 * h_commit.c - GET (or POST with an hour-by-hour price CSV as the body)
 * /v1/farms/{id}/commitments and /v1/portfolios/{id}/commitments: a thin adapter over
 * commit_get (trading/commit.h). Every query parameter is a commit_request field of the
 * same name, parsed by commit_request_set as the CLI's options are.
 */
#include <stdio.h>
#include <string.h>

#include "common/dynbuf.h"
#include "server/handlers.h"
#include "trading/commit.h"

/* The query parameters, each a commit_request field. */
static const char *const query_keys[] = {
	"day", "issued", "horizon", "model", "model_version", "price", "psi_plus", "psi_minus",
	"gate_closure", "time_zone", "min_mw", "max_mw",
};

static void commit_reply(struct request *req, struct reply *rep, bool portfolio)
{
	struct commit_request r;
	struct price_table prices = { 0 };
	struct schedule s;
	struct wc_error err = { 0 };
	struct dynbuf b;

	commit_request_init(&r);
	r.portfolio = portfolio;
	r.id = req->params[0];
	for (size_t i = 0; i < sizeof(query_keys) / sizeof(query_keys[0]); i++) {
		const char *v = request_query(req, query_keys[i]);

		if (v && commit_request_set(&r, query_keys[i], v, &err)) {
			reply_error(rep, 400, "bad_request", "invalid %s '%s': %s", query_keys[i], v,
				    err.msg);
			return;
		}
	}
	if (req->body.len) {
		if (price_table_parse(dynbuf_str(&req->body), req->body.len, &prices, &err)) {
			wc_error_prefix(&err, "invalid prices in the body");
			reply_wc_error(rep, &err);
			return;
		}
		r.prices = &prices;
	} else if (!strcmp(req->method, "POST")) {
		reply_error(rep, 400, "bad_request",
			    "request body is empty: send the prices as CSV "
			    "'period_start,price,psi_plus,psi_minus', or use GET");
		return;
	}
	if (commit_get(req->store, &r, &s, &err)) {
		reply_wc_error(rep, &err);
	} else if (request_wants_csv(req)) {
		dynbuf_init(&b, (size_t)16 << 20);
		if (schedule_csv(&s, true, &b))
			reply_error(rep, 500, "internal", "cannot build the CSV reply");
		else
			reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
		dynbuf_release(&b);
		schedule_release(&s);
	} else {
		reply_json(rep, 200, schedule_json(&s));
		schedule_release(&s);
	}
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
