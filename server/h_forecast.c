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
 * memory; any other request is computed at its first asking, then held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/log.h"
#include "common/utc.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "server/cache.h"
#include "server/handlers.h"
#include "server/metrics.h"

/* The query parameters, each parsed by forecast_request_set under the same name. */
static const char *const query_keys[] = { "issued", "horizon", "quantiles", "model",
					  "model_version", "point", "units" };
#define NKEYS (sizeof(query_keys) / sizeof(query_keys[0]))

#define KEY_MAX 1024

/*
 * The key a reply is held under: farm, representation and each query value as sent
 * (length-prefixed, so no value can pass for another). False when it does not fit: that
 * request is computed each time.
 */
static bool forecast_key(char *key, size_t cap, const char *farm, bool csv,
			 const char *const values[NKEYS])
{
	/* by hand, not snprintf: this runs on every request, held or not */
	const char *repr = csv ? "/csv" : "/json";
	size_t len = 0;

#define KEY_ADD(s, n)                                   \
	do {                                            \
		if ((n) >= cap - len)                   \
			return false;                   \
		memcpy(key + len, (s), (n));            \
		len += (n);                             \
	} while (0)
	KEY_ADD("forecast/", 9);
	KEY_ADD(farm, strlen(farm));
	KEY_ADD(repr, strlen(repr));
	for (size_t i = 0; i < NKEYS; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t vl = strlen(v);
		char num[24], *p = num + sizeof(num);

		*--p = ':';
		do
			*--p = (char)('0' + vl % 10);
		while (vl /= 10);
		*--p = '/';
		KEY_ADD(p, (size_t)(num + sizeof(num) - p));
		KEY_ADD(v, strlen(v));
	}
#undef KEY_ADD
	key[len] = '\0';
	return true;
}

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

/* What a forecast reply was computed from, to hold it by (cache_put). */
struct inputs {
	char names[2 + FEAT_MAX_REGIONAL][STORE_SUBJECT_MAX];
	const char *subjects[2 + FEAT_MAX_REGIONAL];
	int n;
	int64_t expires;	/* 0, or when "now" chose the issue time: the next hour */
};

static void inputs_add(struct inputs *in, const char *kind, const char *id)
{
	if (in->n == (int)(sizeof(in->names) / sizeof(in->names[0])))
		return;
	in->subjects[in->n] = store_gen_subject(in->names[in->n], sizeof(in->names[0]), kind, id);
	in->n++;
}

static void inputs_set(struct inputs *in, const struct forecast *fc)
{
	in->n = 0;
	inputs_add(in, STORE_SUBJECT_FARM, fc->farm_id);
	inputs_add(in, STORE_SUBJECT_NWP, NULL);
	for (int i = 0; i < fc->ninputs; i++)
		inputs_add(in, STORE_SUBJECT_FARM, fc->inputs[i]);
	/* an issue time chosen by the clock holds until the clock chooses another */
	in->expires = fc->issued_rule == ISSUED_NOW ? utc_floor(utc_now(), UTC_HOUR) + UTC_HOUR
						    : 0;
}

/*
 * Answer r for farm: the JSON reply into json_rep, the CSV one into csv_rep (either may
 * be NULL), and *in for a reply that succeeded.
 */
static void forecast_answer(struct store *st, const char *farm, const struct forecast_request *r,
			    struct reply *json_rep, struct reply *csv_rep, struct inputs *in)
{
	struct forecast fc;
	struct wc_error err = { 0 };
	struct dynbuf b;

	uint64_t t0 = metrics_now_ns();
	int64_t wall0 = utc_now();

	if (forecast_get_or_issue(st, farm, r, &fc, &err) ||
	    forecast_check_levels(&fc, r->levels, r->nlevels, &err)) {
		if (json_rep)
			reply_wc_error(json_rep, &err);
		if (csv_rep)
			reply_wc_error(csv_rep, &err);
		forecast_release(&fc);	/* emptied by forecast_get_or_issue when it failed */
		return;
	}
	/* computed now (a stored one read back was computed before) */
	if (fc.computed_at >= wall0)
		metrics_observe_forecast(metrics_now_ns() - t0);
	inputs_set(in, &fc);
	if (csv_rep) {
		dynbuf_init(&b, (size_t)64 << 20);
		if (forecast_csv(&fc, r->levels, r->nlevels, r->o.horizon, true, r->frac, &b)) {
			reply_error(csv_rep, 500, "internal", "cannot build the CSV reply");
		} else {
			reply_text(csv_rep, 200, "text/csv", dynbuf_str(&b), b.len);
			reply_reasons(csv_rep, &fc);
		}
		dynbuf_release(&b);
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

/* Hold a reply that succeeded under key (replies then sends the held body). */
static void hold(struct cache *c, const char *key, struct reply *rep,
		 const struct cache_stamp *stamp, const struct inputs *in)
{
	struct held_body *b;

	if (rep->status != 200 || !(b = reply_hold(rep)))
		return;
	cache_put(c, key, b, stamp, in->subjects, in->n, in->expires);
	held_body_unref(b);
}

void farm_forecast_handler(struct request *req, struct reply *rep)
{
	const char *values[NKEYS];
	struct forecast_request r;
	struct cache *c = server_cache(req->srv);
	struct cache_stamp stamp = { 0 };
	struct held_body *b;
	struct inputs in = { .n = 0 };
	char key[KEY_MAX];
	bool keyed;

	for (size_t i = 0; i < NKEYS; i++)
		values[i] = request_query(req, query_keys[i]);
	keyed = forecast_key(key, sizeof(key), req->params[0], request_wants_csv(req), values);
	if (keyed && (b = cache_get(c, key, &stamp))) {
		reply_held(rep, b);
		return;
	}
	if (!parse_query(values, rep, &r))
		return;
	forecast_answer(req->store, req->params[0], &r, request_wants_csv(req) ? NULL : rep,
			request_wants_csv(req) ? rep : NULL, &in);
	if (keyed)
		hold(c, key, rep, &stamp, &in);
}

void forecast_warm(struct cache *c, const struct cache_stamp *stamp, void *cls)
{
	static const char *const none[NKEYS] = { NULL };
	struct store *st = cls;
	struct wc_error err = { 0 };
	struct forecast_request r;
	struct farm *farms = NULL;
	size_t n = 0, done = 0;
	char kj[KEY_MAX], kc[KEY_MAX];

	if (store_farm_list(st, &farms, &n, &err)) {
		log_warn("cannot warm the latest forecasts: %s", err.msg);
		return;
	}
	forecast_request_init(&r);
	for (size_t i = 0; i < n && !cache_stopping(c); i++) {
		struct reply json_rep = { .status = 200 }, csv_rep = { .status = 200 };
		struct inputs in = { .n = 0 };

		/* farm ids are short: the keys of no query always fit */
		forecast_key(kj, sizeof(kj), farms[i].id, false, none);
		forecast_key(kc, sizeof(kc), farms[i].id, true, none);
		if (cache_holds(c, kj) && cache_holds(c, kc))
			continue;
		forecast_answer(st, farms[i].id, &r, &json_rep, &csv_rep, &in);
		hold(c, kj, &json_rep, stamp, &in);
		hold(c, kc, &csv_rep, stamp, &in);
		done += json_rep.status == 200;
		reply_release(&json_rep);
		reply_release(&csv_rep);
	}
	if (done)
		log_debug("latest forecasts of %zu farm(s) computed and held", done);
	free(farms);
}
