/*
 * h_forecast.c - GET /v1/farms/{id}/forecast (a farm's forecast, computed or stored) and
 * POST /v1/farms/{id}/train (train the farm's model, or one network for a pool of farms
 * saved as each one's model, in a background job).
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

/* ---- training job ---- */

struct train_job {
	char farm_id[FARM_ID_MAX + 1];
	char regional[512];
	int n_pool;			/* 0: the farm alone; else 2..FEAT_MAX_REGIONAL farms */
	char pool[FEAT_MAX_REGIONAL][FARM_ID_MAX + 1];
	struct train_options o;
};

/* The job's pool as a JSON array of farm ids (a new reference). */
static json_t *pool_json(const struct train_job *j)
{
	json_t *a = json_array();

	for (int i = 0; i < j->n_pool; i++)
		json_array_append_new(a, json_string(j->pool[i]));
	return a;
}

/*
 * One network for j's pool, saved as each farm's next version, all or none: when a save
 * fails no farm gets a new version, and the failed result names the problem.
 */
static json_t *train_pool_run(struct train_job *j, struct store *st, int *failed)
{
	struct farm_model *m[FEAT_MAX_REGIONAL] = { 0 };
	const char *ids[FEAT_MAX_REGIONAL];
	struct wc_error err = { 0 };
	json_t *models, *v;
	int i;

	for (i = 0; i < j->n_pool; i++)
		ids[i] = j->pool[i];
	/* any regional farm asks for the pool's; the pool code sets the list */
	j->o.features.n_regional = !strcmp(j->regional, "all");
	if (farm_model_train_pool(st, ids, j->n_pool, &j->o, m, &err))
		return json_pack("{s:s}", "error", err.msg);
	*failed = farm_models_save(st, m, j->n_pool, &err) != WC_OK;
	if (*failed) {
		v = json_pack("{s:s,s:o}", "error", err.msg, "pool", pool_json(j));
	} else {
		models = json_array();
		for (i = 0; i < j->n_pool; i++)
			json_array_append_new(models, farm_model_json(m[i]));
		v = json_pack("{s:o,s:o}", "pool", pool_json(j), "models", models);
	}
	for (i = j->n_pool; i-- > 0;)
		farm_model_free(m[i]);
	return v;
}

static char *train_job_run(void *arg, struct store *st, int *failed)
{
	struct train_job *j = arg;
	struct farm_model *m = NULL;
	struct wc_error err = { 0 };
	json_t *v;
	char *text;

	nn_blas_warn_slow_kernels();
	*failed = 1;
	if (j->n_pool) {
		v = train_pool_run(j, st, failed);
	} else if (feature_config_set_regional(&j->o.features, st, j->farm_id, j->regional,
					       &err) ||
		   farm_model_train(st, j->farm_id, &j->o, &m, &err) ||
		   farm_model_save(st, m, &err)) {
		v = json_pack("{s:s}", "error", err.msg);
	} else {
		*failed = 0;
		v = farm_model_json(m);
	}
	farm_model_free(m);
	text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	return text;
}

/* The body's "pool": "all" sets *all, an array fills j->pool; false with a 400 reply. */
static bool pool_parse(json_t *v, struct train_job *j, bool *all, struct reply *rep)
{
	size_t i;
	json_t *e;

	if (json_is_string(v) && !strcmp(json_string_value(v), "all")) {
		*all = true;
		return true;
	}
	if (!json_is_array(v) || json_array_size(v) < 2 ||
	    json_array_size(v) > FEAT_MAX_REGIONAL) {
		reply_error(rep, 400, "bad_request",
			    "invalid 'pool': use \"all\" or an array of 2..%d farm ids",
			    FEAT_MAX_REGIONAL);
		return false;
	}
	json_array_foreach(v, i, e) {
		const char *id = json_string_value(e);

		if (!id || !id[0] || strlen(id) > FARM_ID_MAX) {
			reply_error(rep, 400, "bad_request",
				    "invalid 'pool': element %zu is not a farm id", i + 1);
			return false;
		}
		for (int k = 0; k < j->n_pool; k++) {
			if (!strcmp(j->pool[k], id)) {
				reply_error(rep, 400, "bad_request",
					    "invalid 'pool': farm '%s' is listed twice; list each "
					    "farm once",
					    id);
				return false;
			}
		}
		snprintf(j->pool[j->n_pool++], FARM_ID_MAX + 1, "%s", id);
	}
	return true;
}

/*
 * Resolve "all" to the store's farms, or check that each listed farm exists (404 naming
 * it); the path's farm must be one of them. False with a 4xx reply.
 */
static bool pool_check(struct request *req, struct reply *rep, struct train_job *j, bool all)
{
	struct wc_error err = { 0 };
	struct farm *farms = NULL, f;
	size_t nf = 0;
	bool member = false;

	if (all) {
		if (store_farm_list(req->store, &farms, &nf, &err)) {
			reply_wc_error(rep, &err);
			return false;
		}
		for (size_t i = 0; i < nf && i < FEAT_MAX_REGIONAL; i++)
			snprintf(j->pool[j->n_pool++], FARM_ID_MAX + 1, "%s", farms[i].id);
		free(farms);
		if (nf < 2 || nf > FEAT_MAX_REGIONAL) {
			reply_error(rep, 400, "bad_request",
				    "invalid 'pool': a pool has 2..%d farms and \"all\" (the "
				    "store's farms) is %zu",
				    FEAT_MAX_REGIONAL, nf);
			return false;
		}
	}
	for (int i = 0; i < j->n_pool; i++) {
		if (!all && store_farm_get(req->store, j->pool[i], &f, &err)) {
			wc_error_prefix(&err, "invalid 'pool'");
			reply_wc_error(rep, &err);
			return false;
		}
		member |= !strcmp(j->pool[i], j->farm_id);
	}
	if (!member) {
		reply_error(rep, 400, "bad_request",
			    "invalid 'pool': it must include the farm '%s' of the path", j->farm_id);
		return false;
	}
	return true;
}

/* Fill j from the optional JSON body; false with a 400 reply on a bad field. */
static bool train_body(struct request *req, struct reply *rep, struct train_job *j,
		       bool *pool_all)
{
	json_t *body, *v;
	const char *key;

	if (req->body.len == 0)
		return true;
	if (!(body = request_json(req, rep)))
		return false;
	if (!json_is_object(body)) {
		reply_error(rep, 400, "bad_request", "the body must be a JSON object");
		goto fail;
	}
	json_object_foreach(body, key, v) {
		if (!strcmp(key, "from") || !strcmp(key, "to")) {
			if (!json_is_string(v) ||
			    !utc_parse(json_string_value(v), !strcmp(key, "from") ? &j->o.from
										 : &j->o.to)) {
				reply_error(rep, 400, "bad_request",
					    "invalid '%s': use an ISO 8601 string", key);
				goto fail;
			}
		} else if (!strcmp(key, "ensemble")) {
			json_int_t k = json_integer_value(v);

			if (!json_is_integer(v) || k < 1 || k > NN_MAX_MEMBERS) {
				reply_error(rep, 400, "bad_request",
					    "invalid 'ensemble': use an integer 1..%d", NN_MAX_MEMBERS);
				goto fail;
			}
			j->o.nn.n_members = (int)k;
		} else if (!strcmp(key, "regional")) {
			if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(j->regional)) {
				reply_error(rep, 400, "bad_request",
					    "invalid 'regional': use \"none\", \"all\", \"100km\" or "
					    "a list of farm ids");
				goto fail;
			}
			snprintf(j->regional, sizeof(j->regional), "%s", json_string_value(v));
		} else if (!strcmp(key, "pool")) {
			if (!pool_parse(v, j, pool_all, rep))
				goto fail;
		} else {
			reply_error(rep, 400, "bad_request",
				    "unknown field '%s': use from, to, ensemble, regional, pool", key);
			goto fail;
		}
	}
	json_decref(body);
	if (j->o.from != INT64_MIN && j->o.to != INT64_MAX && j->o.from >= j->o.to) {
		reply_error(rep, 400, "bad_request", "'from' must be before 'to'");
		return false;
	}
	if ((*pool_all || j->n_pool) && strcmp(j->regional, "none") &&
	    strcmp(j->regional, "all")) {
		reply_error(rep, 400, "bad_request",
			    "invalid 'regional' '%s': with 'pool' use \"none\" or \"all\" (the "
			    "pool's farms)",
			    j->regional);
		return false;
	}
	return true;
fail:
	json_decref(body);
	return false;
}

void farm_train_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct train_job *j = calloc(1, sizeof(*j));
	struct farm f;
	json_t *input;
	char *input_text = NULL;
	bool pool_all = false;
	int64_t id;

	if (!j) {
		reply_error(rep, 503, "unavailable", "out of memory");
		return;
	}
	snprintf(j->farm_id, sizeof(j->farm_id), "%s", req->params[0]);
	snprintf(j->regional, sizeof(j->regional), "none");
	train_options_init(&j->o);
	if (!train_body(req, rep, j, &pool_all)) {
		free(j);
		return;
	}
	if (store_farm_get(req->store, j->farm_id, &f, &err)) {
		free(j);
		reply_wc_error(rep, &err);
		return;
	}
	if ((pool_all || j->n_pool) && !pool_check(req, rep, j, pool_all)) {
		free(j);
		return;
	}
	if (!pool_all && !j->n_pool) {
		/* the regional spec names farms that must exist: a 4xx now, not a failed job */
		struct feature_config probe = j->o.features;

		if (feature_config_set_regional(&probe, req->store, j->farm_id, j->regional, &err)) {
			free(j);
			if (err.code == WC_EINVAL)
				reply_error(rep, 400, "bad_request", "invalid 'regional': %s", err.msg);
			else
				reply_wc_error(rep, &err);
			return;
		}
	}
	input = json_pack("{s:s,s:i,s:s}", "farm", j->farm_id, "ensemble", j->o.nn.n_members,
			  "regional", j->regional);
	if (input && j->n_pool)
		json_object_set_new(input, "pool", pool_json(j));
	input_text = input ? json_dumps(input, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(input);
	if (!input_text || store_job_create(req->store, "train", input_text, &id, &err)) {
		free(input_text);
		free(j);
		if (!err.msg[0])
			wc_error_set(&err, WC_ENOMEM, "out of memory");
		reply_wc_error(rep, &err);
		return;
	}
	free(input_text);
	if (job_pool_submit(server_jobs(req->srv), id, train_job_run, j, free, &err)) {
		store_job_set(req->store, id, JOB_FAILED,
			      "{\"error\":\"the server is shutting down\"}", NULL);
		reply_wc_error(rep, &err);
		return;
	}
	snprintf(rep->location, sizeof(rep->location), "/v1/jobs/%" PRId64, id);
	reply_json(rep, 202, json_pack("{s:s,s:{s:I,s:s,s:s}}", "status", "accepted", "job",
				       "id", (json_int_t)id, "state", "queued", "url",
				       rep->location));
}
