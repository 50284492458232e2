/*
 * h_train.c - POST /v1/farms/{id}/train: train the farm's model, or one network for a
 * pool of farms saved as each one's model, in a background job.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/features.h"
#include "forecast/model.h"
#include "server/handlers.h"
#include "server/jobs.h"

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
	if (!job_create_reply(req, rep, "train", input, &id)) {
		free(j);
		return;
	}
	job_queue_reply(req, rep, id, train_job_run, j, free, NULL);
}
