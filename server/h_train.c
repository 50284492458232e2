/*
 * h_train.c - POST /v1/farms/{id}/train: a thin adapter over forecast/train_request.h.
 * The body's fields are the training option table's (JSON names) plus "pool"; the
 * request is resolved before a job is made, so a bad one gets a 4xx and no job, then it
 * trains the farm's model, or one network for a pool of farms saved as each one's model,
 * in a background job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "forecast/model.h"
#include "forecast/train_request.h"
#include "server/handlers.h"
#include "server/jobs.h"

struct train_job {
	struct train_request r;
	json_t *models;		/* the saved models' summaries, in report order */
};

/* train_report_fn: keep each saved model's summary (failures come back from the run). */
static void train_job_report(void *arg, const char *farm_id, const struct farm_model *m,
			     const struct wc_error *err)
{
	struct train_job *j = arg;

	if (m)
		json_array_append_new(j->models, farm_model_json(m));
}

/* The job's pool as a JSON array of farm ids (a new reference). */
static json_t *pool_json(const struct train_request *r)
{
	json_t *a = json_array();

	for (int i = 0; i < r->n_pool; i++)
		json_array_append_new(a, json_string(r->pool[i]));
	return a;
}

/*
 * The request a job's input records: {"farm"} and the body's fields as
 * train_request_to_json wrote them, resolved against the store again (a farm may have
 * gone since). WC_OK, or the error that fails the job.
 */
static enum wc_status train_job_request(const struct job_run *jr, struct train_request *r,
					struct wc_error *err)
{
	const char *farm = json_string_value(json_object_get(jr->input, "farm"));
	json_t *body = json_deep_copy(jr->input);
	enum wc_status ret;

	train_request_init(r, TRAIN_JSON);
	if (!body)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	json_object_del(body, "farm");
	snprintf(r->farm, sizeof(r->farm), "%s", farm ? farm : "");
	if ((ret = train_request_json(r, body, err)) ||
	    (ret = train_request_resolve(r, jr->st, err)))
		wc_error_prefix(err, "cannot train from the job's recorded input");
	json_decref(body);
	return ret;
}

/*
 * The result: the farm's model summary, or {pool, models} for a pool; on failure
 * {error} ({error, pool} for a pool, none of whose farms got a new version).
 */
char *train_job_run(const struct job_run *jr, int *failed)
{
	struct train_job job, *j = &job;
	struct wc_error err = { 0 };
	json_t *v;
	char *text;

	if (train_job_request(jr, &j->r, &err)) {
		*failed = 1;
		return job_error_text("%s", wc_error_msg(&err));
	}
	j->models = json_array();
	*failed = train_request_run(&j->r, jr->st, train_job_report, j, &err) != WC_OK;
	if (*failed)
		v = json_pack("{s:s}", "error", wc_error_msg(&err));
	else if (j->r.n_pool)
		v = json_pack("{s:o,s:O}", "pool", pool_json(&j->r), "models", j->models);
	else
		v = json_incref(json_array_get(j->models, 0));
	if (v && *failed && j->r.n_pool)
		json_object_set_new(v, "pool", pool_json(&j->r));
	json_decref(j->models);
	j->models = NULL;
	text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	return text;
}

/*
 * NEEDSWORK: every option of the table is open to any writer, up to nn.h's hard limits:
 * 32 members of 8 layers of 4096 units on 32 threads would take tens of GB. A cap on a
 * job's parameter count (or an admin scope for large ones) belongs with access control.
 */
void farm_train_handler(struct request *req, struct reply *rep)
{
	struct train_request *r = malloc(sizeof(*r));
	struct wc_error err = { 0 };
	json_t *body = NULL, *input, *opts;
	int64_t id;

	if (!r) {
		reply_error(rep, 503, "unavailable", "out of memory");
		return;
	}
	train_request_init(r, TRAIN_JSON);
	snprintf(r->farm, sizeof(r->farm), "%s", req->params[0]);
	if (req->body.len > 0 && !(body = request_json(req, rep)))
		goto cleanup;
	if ((body && train_request_json(r, body, &err)) ||
	    train_request_resolve(r, req->store, &err)) {
		reply_wc_error(rep, &err);
		goto cleanup;
	}
	/*
	 * The job's input: the farm and every option as resolved ("all" as the pool's
	 * farms), all that train_job_run needs to train, now or after a restart.
	 */
	input = json_pack("{s:s}", "farm", r->farm);
	opts = train_request_to_json(r);
	if (input && opts)
		json_object_update(input, opts);
	json_decref(opts);
	if (job_create_reply(req, rep, "train", input, &id))
		job_queue_reply(req, rep, id, NULL);
cleanup:
	json_decref(body);
	free(r);
}
