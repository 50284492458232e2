/*
 * h_forecast.c - GET /v1/farms/{id}/forecast: a thin adapter over forecast_get_or_issue
 * (forecast/forecast.h), which decides the issue time, the model and whether the store
 * already holds the answer. Its reasons travel with every reply: in the JSON body, and
 * as Windcast-* headers so that a CSV reader sees them too.
 */
#include <stdio.h>

#include "common/dynbuf.h"
#include "forecast/forecast.h"
#include "server/handlers.h"

/* The query parameters, each parsed by forecast_request_set under the same name. */
static const char *const query_keys[] = { "issued", "horizon", "quantiles", "model",
					  "model_version", "point", "units", "adapt" };

/* Parse the query; on failure fill a 400 reply naming the parameter and return false. */
static bool parse_query(struct request *req, struct reply *rep, struct forecast_request *r)
{
	struct wc_error err = { 0 };

	forecast_request_init(r);
	for (size_t i = 0; i < sizeof(query_keys) / sizeof(query_keys[0]); i++) {
		const char *v = request_query(req, query_keys[i]);

		if (v && forecast_request_set(r, query_keys[i], v, &err)) {
			reply_error(rep, 400, "bad_request", "invalid %s '%s': %s", query_keys[i], v,
				    err.msg);
			return false;
		}
	}
	return true;
}

/* What the JSON body says beside the numbers, as headers. */
static void reply_reasons(struct reply *rep, const struct forecast *fc)
{
	char buf[sizeof(fc->issued_reason) + 32];
	char notes[sizeof(fc->cut_note) + sizeof(fc->note) + 2];

	snprintf(buf, sizeof(buf), "%s: %s", forecast_issued_rule_name(fc->issued_rule),
		 fc->issued_reason);
	reply_header(rep, "Windcast-Issued-Reason", buf);
	reply_header(rep, "Windcast-Model-Choice", fc->model_choice);
	reply_header(rep, "Windcast-Stored", fc->stored ? "true" : "false");
	if (fc->fallback[0])
		reply_header(rep, "Windcast-Fallback", fc->fallback);
	forecast_notes(fc, notes, sizeof(notes));
	if (notes[0])
		reply_header(rep, "Windcast-Note", notes);
}

void farm_forecast_handler(struct request *req, struct reply *rep)
{
	struct forecast_request r;
	struct forecast fc;
	struct wc_error err = { 0 };
	struct dynbuf b;

	if (!parse_query(req, rep, &r))
		return;
	if (forecast_get_or_issue(req->store, req->params[0], &r, &fc, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (forecast_check_levels(&fc, r.levels, r.nlevels, &err)) {
		reply_wc_error(rep, &err);
	} else if (request_wants_csv(req)) {
		dynbuf_init(&b, (size_t)64 << 20);
		if (forecast_csv(&fc, r.levels, r.nlevels, r.o.horizon, true, r.frac, &b)) {
			reply_error(rep, 500, "internal", "cannot build the CSV reply");
		} else {
			reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
			reply_reasons(rep, &fc);
		}
		dynbuf_release(&b);
	} else {
		reply_json(rep, 200, forecast_json(&fc, r.levels, r.nlevels, r.o.horizon));
		reply_reasons(rep, &fc);
	}
	forecast_release(&fc);
}
