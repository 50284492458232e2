/*
 * h_forecast.c - GET /v1/farms/{id}/forecast: a farm's forecast, computed or stored.
 *
 * A forecast asked for a given ?issued= that is already stored for the model that would
 * serve it is answered from the store ("stored": true), so a trader sees what was
 * forecast then; anything else is computed from what was available at the issue time,
 * stored, and answered.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utc.h"
#include "data/store.h"
#include "forecast/baselines.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "forecast/metrics.h"
#include "forecast/model.h"
#include "server/handlers.h"
#include "server/jobs.h"

struct forecast_query {
	int64_t issued;		/* INT64_MIN: the default */
	float levels[FORECAST_MAX_REQUEST];
	int nlevels;
	bool frac;
	struct forecast_options o;
};

/* Parse and check the query; on failure fill a 400 reply and return false. */
static bool parse_query(struct request *req, struct reply *rep, struct forecast_query *q)
{
	const char *issued = request_query(req, "issued");
	const char *horizon = request_query(req, "horizon");
	const char *quantiles = request_query(req, "quantiles");
	const char *model = request_query(req, "model");
	const char *version = request_query(req, "model_version");
	const char *units = request_query(req, "units");
	const char *point = request_query(req, "point");
	struct wc_error err = { 0 };
	char *end;

	forecast_options_init(&q->o);
	q->issued = INT64_MIN;
	q->levels[0] = 0.1f;
	q->levels[1] = 0.5f;
	q->levels[2] = 0.9f;
	q->nlevels = 3;
	if (issued && !utc_parse(issued, &q->issued)) {
		reply_error(rep, 400, "bad_request",
			    "invalid issued '%s': use ISO 8601, e.g. 2026-03-01T12:00:00Z", issued);
		return false;
	}
	if (horizon) {
		long h = strtol(horizon, &end, 10);

		if (end == horizon || *end || h < 1 || h > FEAT_MAX_LEAD) {
			reply_error(rep, 400, "bad_request",
				    "invalid horizon '%s': use 1..%d hours", horizon, FEAT_MAX_LEAD);
			return false;
		}
		q->o.horizon = (int)h;
	}
	if (quantiles && forecast_parse_levels(quantiles, q->levels, &q->nlevels, &err)) {
		reply_error(rep, 400, "bad_request", "%s", err.msg);
		return false;
	}
	if (model) {
		if (strcmp(model, "auto") && strcmp(model, "nn") && baseline_parse(model) < 0) {
			reply_error(rep, 400, "bad_request",
				    "unknown model '%s': use auto, nn, persistence, climatology or "
				    "powercurve",
				    model);
			return false;
		}
		q->o.model = model;
	}
	if (version) {
		long v = strtol(version, &end, 10);

		if (end == version || *end || v < 1 || v > 1000000) {
			reply_error(rep, 400, "bad_request", "invalid model_version '%s'", version);
			return false;
		}
		q->o.model_version = (int)v;
	}
	if (units && strcmp(units, "mw") && strcmp(units, "frac")) {
		reply_error(rep, 400, "bad_request", "invalid units '%s': use mw or frac", units);
		return false;
	}
	q->frac = units && !strcmp(units, "frac");
	if (point && strcmp(point, "median") && strcmp(point, "mean")) {
		reply_error(rep, 400, "bad_request", "invalid point '%s': use median or mean", point);
		return false;
	}
	if (point)
		q->o.point = !strcmp(point, "mean") ? FORECAST_POINT_MEAN : FORECAST_POINT_MEDIAN;
	return true;
}

/* The store key of the model that would serve the request, or "" when unknown. */
static void serving_key(struct request *req, const char *farm_id,
			const struct forecast_query *q, char *key, size_t len)
{
	struct model_rec rec;

	key[0] = '\0';
	if (baseline_parse(q->o.model) >= 0) {
		snprintf(key, len, "%s", q->o.model);
		return;
	}
	if (store_model_get(req->store, farm_id, q->o.model_version, &rec, NULL) == WC_OK) {
		snprintf(key, len, "nn:%d", rec.version);
		model_rec_release(&rec);
	}
}

static void reply_forecast(struct request *req, struct reply *rep,
			   const struct forecast_query *q, const struct forecast *fc, bool stored)
{
	struct wc_error err = { 0 };

	if (forecast_check_levels(fc, q->levels, q->nlevels, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (request_wants_csv(req)) {
		struct dynbuf b;

		dynbuf_init(&b, (size_t)64 << 20);
		if (forecast_csv(fc, q->levels, q->nlevels, q->o.horizon, true, q->frac, &b)) {
			reply_error(rep, 500, "internal", "cannot build the CSV reply");
		} else {
			reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
		}
		dynbuf_release(&b);
		return;
	}
	reply_json(rep, 200, forecast_json(fc, q->levels, q->nlevels, q->o.horizon, stored));
}

void farm_forecast_handler(struct request *req, struct reply *rep)
{
	const char *farm_id = req->params[0];
	struct forecast_query q;
	struct forecaster *fcr = NULL;
	struct forecast fc = { 0 };
	struct wc_error err = { 0 };
	struct farm f;
	enum wc_status rc;
	int64_t T;
	char key[48], *body = NULL;

	if (!parse_query(req, rep, &q))
		return;
	if (store_farm_get(req->store, farm_id, &f, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (q.issued != INT64_MIN) {
		serving_key(req, farm_id, &q, key, sizeof(key));
		if (key[0] &&
		    store_forecast_get(req->store, farm_id, q.issued, key, &body, NULL) == WC_OK) {
			rc = forecast_from_body(body, &fc, &err);
			free(body);
			/* stored with a shorter horizon than asked (and not for lack of NWP):
			 * compute it again; the leads both have are the same */
			if (rc == WC_OK && fc.nlead < q.o.horizon && !strstr(fc.note, "horizon cut")) {
				forecast_release(&fc);
				rc = WC_ENOTFOUND;
			}
			if (rc == WC_OK) {
				fc.capacity_mw = f.capacity_mw;
				/* the stored quantiles give either point rule of the model */
				for (int i = 0; q.o.point && !strcmp(fc.model, "nn") && i < fc.nlead;
				     i++)
					fc.point[i] = q.o.point == FORECAST_POINT_MEAN
							      ? (float)quantile_mean(
									fc.taus,
									fc.q + (size_t)i * fc.nq,
									fc.nq)
							      : forecast_quantile(&fc, i, 0.5f);
				reply_forecast(req, rep, &q, &fc, true);
				forecast_release(&fc);
				return;
			}
			if (rc != WC_ENOTFOUND)
				log_warn("stored forecast of '%s' unreadable, recomputing: %s",
					 farm_id, err.msg);
		}
	}
	if ((rc = forecaster_open(req->store, farm_id, &q.o, q.issued, q.issued, &fcr, &err)))
		goto fail;
	T = forecaster_first(fcr);
	if ((rc = forecaster_issue(fcr, T, &fc, &err)))
		goto fail;
	if (forecast_store(req->store, &fc, 1, &err))
		log_warn("cannot store the forecast of '%s': %s", farm_id, err.msg);
	reply_forecast(req, rep, &q, &fc, false);
	forecast_release(&fc);
	forecaster_free(fcr);
	return;
fail:
	forecaster_free(fcr);
	if (rc == WC_ENOTFOUND && !strstr(err.msg, "no farm"))
		reply_error(rep, 409, "no_data", "%s", err.msg);
	else
		reply_wc_error(rep, &err);
}
