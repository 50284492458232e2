/*
 * h_forecast.c - GET /v1/farms/{id}/forecast: a thin adapter over forecast_get_or_issue
 * (forecast/forecast.h), which decides the issue time, the model and whether the store
 * already holds the answer. Its reasons travel with every reply: in the JSON body, and
 * as Windcast-* headers so that a CSV reader sees them too.
 *
 * Replies are held (server/cache.h) under the farm, the representation and the query
 * values as sent, with the subjects they were computed from: the farm, the NWP runs and
 * the farms its model takes regional inputs from. forecast_warm computes every farm's
 * latest forecast, JSON and CSV, when those move, so that a poll of it is answered from
 * memory (then the trading replies: portfolios_warm, commitments_warm); any other request
 * is computed at its first asking, then held. The holding helpers here (held_lookup,
 * held_finish, held_warm, forecast_deps) serve the trading handlers too (handlers.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/log.h"
#include "common/utc.h"
#include "forecast/forecast.h"
#include "server/cache.h"
#include "server/handlers.h"
#include "server/metrics.h"

/* The query parameters, each parsed by forecast_request_set under the same name. */
static const char *const query_keys[] = { "issued", "horizon", "quantiles", "model",
					  "model_version", "point", "units", "adapt" };
#define NKEYS (sizeof(query_keys) / sizeof(query_keys[0]))

/* Parse the query; on failure fill a 400 reply naming the parameter and return false. */
static bool parse_query(const char *const values[NKEYS], struct reply *rep,
			struct forecast_request *r)
{
	struct wc_error err = { 0 };

	forecast_request_init(r);
	for (size_t i = 0; i < NKEYS; i++) {
		const char *v = values[i];

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

void forecast_deps(struct cache_deps *d, const struct forecast *fc)
{
	cache_deps_add(d, STORE_SUBJECT_FARM, fc->farm_id);
	cache_deps_add(d, STORE_SUBJECT_NWP, NULL);
	for (int i = 0; i < fc->ninputs; i++)
		cache_deps_add(d, STORE_SUBJECT_FARM, fc->inputs[i]);
	/* an issue time chosen by the clock holds until the clock chooses another */
	if (fc->issued_rule == ISSUED_NOW)
		cache_deps_expire(d, utc_floor(utc_now(), UTC_HOUR) + UTC_HOUR);
}

/*
 * Answer r for farm: the JSON reply into json_rep, the CSV one into csv_rep (either may
 * be NULL), and *in for a reply that succeeded.
 */
static void forecast_answer(struct store *st, const char *farm, const struct forecast_request *r,
			    struct reply *json_rep, struct reply *csv_rep, struct cache_deps *in)
{
	struct forecast fc;
	struct wc_error err = { 0 };
	uint64_t t0 = metrics_now_ns();
	int64_t wall0 = utc_now();

	if (forecast_get_or_issue(st, farm, r, &fc, &err) ||
	    forecast_check_levels(&fc, r->levels, r->nlevels, &err)) {
		replies_error(json_rep, csv_rep, &err);
		forecast_release(&fc);	/* emptied by forecast_get_or_issue when it failed */
		return;
	}
	/* computed now (a stored one read back was computed before) */
	if (fc.computed_at >= wall0)
		metrics_observe_forecast(metrics_now_ns() - t0);
	forecast_deps(in, &fc);
	if (csv_rep) {
		reply_forecast_csv(csv_rep, &fc, r);
		if (csv_rep->status == 200)
			reply_reasons(csv_rep, &fc);
	}
	if (json_rep) {
		reply_json(json_rep, 200, forecast_json(&fc, r->levels, r->nlevels, r->o.horizon));
		if (!json_rep->json)
			reply_error(json_rep, 500, "internal", "cannot build the JSON reply");
		else
			reply_reasons(json_rep, &fc);
	}
	forecast_release(&fc);
}

void replies_error(struct reply *json_rep, struct reply *csv_rep, const struct wc_error *err)
{
	if (json_rep)
		reply_wc_error(json_rep, err);
	if (csv_rep)
		reply_wc_error(csv_rep, err);
}

void reply_forecast_csv(struct reply *rep, const struct forecast *fc,
			const struct forecast_request *r)
{
	struct dynbuf b;

	dynbuf_init(&b, (size_t)64 << 20);
	if (forecast_csv(fc, r->levels, r->nlevels, r->o.horizon, true, r->frac, &b))
		reply_error(rep, 500, "internal", "cannot build the CSV reply");
	else
		reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
	dynbuf_release(&b);
}

void reply_hold_deps(struct cache *c, const char *key, struct reply *rep,
		     const struct cache_stamp *stamp, const struct cache_deps *d)
{
	struct held_body *b;

	if (rep->status != 200 || !(b = reply_hold(rep)))
		return;
	cache_put_deps(c, key, b, stamp, d);
	held_body_unref(b);
}

bool held_lookup(struct request *req, struct reply *rep, const char *kind,
		 const char *const *keys, const char **values, size_t n, bool holdable,
		 struct held_req *h)
{
	struct held_body *b;

	for (size_t i = 0; i < n; i++)
		values[i] = request_query(req, keys[i]);
	memset(&h->stamp, 0, sizeof(h->stamp));
	cache_deps_init(&h->deps);
	h->keyed = holdable && cache_key(h->key, sizeof(h->key), kind, req->params[0],
					 request_wants_csv(req), values, n);
	if (h->keyed && (b = cache_get(server_cache(req->srv), h->key, &h->stamp))) {
		reply_held(rep, b);
		return true;
	}
	return false;
}

void held_finish(struct request *req, struct reply *rep, struct held_req *h)
{
	if (h->keyed)
		reply_hold_deps(server_cache(req->srv), h->key, rep, &h->stamp, &h->deps);
	cache_deps_release(&h->deps);
}

void farm_forecast_handler(struct request *req, struct reply *rep)
{
	const char *values[NKEYS];
	struct forecast_request r;
	struct held_req h;

	if (held_lookup(req, rep, "forecast", query_keys, values, NKEYS, true, &h))
		return;
	if (parse_query(values, rep, &r))
		forecast_answer(req->store, req->params[0], &r,
				request_wants_csv(req) ? NULL : rep,
				request_wants_csv(req) ? rep : NULL, &h.deps);
	held_finish(req, rep, &h);
}

bool held_warm(struct cache *c, const struct cache_stamp *stamp, const char *kind,
	       const char *id, const char *const *values, size_t n, held_answer_fn answer,
	       void *cls)
{
	struct reply json_rep = { .status = 200 }, csv_rep = { .status = 200 };
	struct cache_deps d;
	char kj[HELD_KEY_MAX], kc[HELD_KEY_MAX];
	bool ok;

	if (!cache_key(kj, sizeof(kj), kind, id, false, values, n) ||
	    !cache_key(kc, sizeof(kc), kind, id, true, values, n))
		return false;
	if (cache_holds(c, kj) && cache_holds(c, kc))
		return false;
	cache_deps_init(&d);
	answer(cls, &json_rep, &csv_rep, &d);
	reply_hold_deps(c, kj, &json_rep, stamp, &d);
	reply_hold_deps(c, kc, &csv_rep, stamp, &d);
	ok = json_rep.status == 200;
	cache_deps_release(&d);
	reply_release(&json_rep);
	reply_release(&csv_rep);
	return ok;
}

void held_latest_answer(void *cls, struct reply *json_rep, struct reply *csv_rep,
			struct cache_deps *d)
{
	struct held_latest *l = cls;

	l->answer(l->st, l->id, l->r, json_rep, csv_rep, d);
}

void forecast_warm(struct cache *c, const struct cache_stamp *stamp, void *cls)
{
	static const char *const none[NKEYS] = { NULL };
	struct store *st = cls;
	struct wc_error err = { 0 };
	struct forecast_request r;
	struct farm *farms = NULL;
	size_t n = 0, done = 0;

	if (store_farm_list(st, &farms, &n, &err)) {
		log_warn("cannot warm the latest forecasts: %s", err.msg);
		return;
	}
	forecast_request_init(&r);
	for (size_t i = 0; i < n && !cache_stopping(c); i++) {
		struct held_latest l = { forecast_answer, st, farms[i].id, &r };

		done += held_warm(c, stamp, "forecast", farms[i].id, none, NKEYS, held_latest_answer,
				  &l);
	}
	if (done)
		log_debug("latest forecasts of %zu farm(s) computed and held", done);
	free(farms);
	portfolios_warm(c, stamp, st);
	commitments_warm(c, stamp, st);
}
