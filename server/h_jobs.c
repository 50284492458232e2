/*
 * h_jobs.c - GET /v1/jobs/{id}, the kinds of background job, and the one way a handler
 * turns work into a job: record it in the store, queue it on the server's pool, answer
 * 202 with its URL. Each kind's run lives with the handler that makes such jobs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store.h"
#include "server/handlers.h"
#include "server/access_log.h"
#include "server/jobs.h"
#include "server/metrics.h"

#define JOB_RETRY_AFTER "10"	/* seconds a client refused for a full queue should wait */

/* 503 with Retry-After: the job queue is full (or the server is stopping). */
static void queue_full_reply(struct reply *rep, const char *kind, const char *why)
{
	metrics_count_job(kind, "refused", 0);
	reply_error(rep, 503, "unavailable", "%s", why);
	reply_header(rep, "Retry-After", JOB_RETRY_AFTER);
}

bool job_create_reply(struct request *req, struct reply *rep, const char *kind,
		      json_t *input, int64_t *id)
{
	struct wc_error err = { 0 };
	char *text;

	req->job_kind = kind;
	/* before the record: a refused job leaves nothing behind to fail or re-run */
	if (job_pool_full(server_jobs(req->srv))) {
		json_decref(input);
		queue_full_reply(rep, kind, "the job queue is full or the server is stopping; "
					    "try again later");
		return false;
	}
	text = input ? json_dumps(input, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(input);
	if (!text) {
		reply_error(rep, 503, "unavailable", "out of memory");
		return false;
	}
	if (store_job_create(req->store, kind, text, id, &err)) {
		free(text);
		reply_wc_error(rep, &err);
		return false;
	}
	free(text);
	return true;
}

void job_fail_reply(struct request *req, struct reply *rep, int64_t id,
		    const struct wc_error *why)
{
	char *text = job_error_text("%s", wc_error_msg(why));

	store_job_set(req->store, id, JOB_FAILED, text, NULL);
	free(text);
	reply_wc_error(rep, why);
}

/* The pool's observer (job_pool_set_observer; cls: the server's access log): each job's
 * run, timed and counted by kind. */
void job_observe(void *cls, int64_t id, const char *kind, bool failed, uint64_t ns)
{
	metrics_count_job(kind, failed ? "failed" : "done", ns);
	access_log_event(cls, "job", json_pack("{s:I,s:s,s:s,s:f}", "job", (json_int_t)id, "kind",
					       kind, "outcome", failed ? "failed" : "done",
					       "seconds", (double)ns / 1e9));
}

const struct job_kind job_kinds[] = {
	{ "ingest", ingest_job_run },
	{ "train", train_job_run },
	{ "weather", weather_job_run },
};

const size_t njob_kinds = sizeof(job_kinds) / sizeof(job_kinds[0]);

bool job_queue_reply(struct request *req, struct reply *rep, int64_t id, json_t *extra)
{
	struct wc_error err = { 0 };
	json_t *body;

	if (job_pool_submit(server_jobs(req->srv), id, &err)) {
		json_decref(extra);
		job_fail_reply(req, rep, id, &err);
		if (err.code == WC_EBUSY) {
			metrics_count_job(req->job_kind ? req->job_kind : "other", "refused", 0);
			reply_header(rep, "Retry-After", JOB_RETRY_AFTER);
		}
		return false;
	}
	snprintf(rep->location, sizeof(rep->location), "/v1/jobs/%" PRId64, id);
	body = json_pack("{s:s}", "status", "accepted");
	if (extra)
		json_object_update(body, extra);
	json_decref(extra);
	json_object_set_new(body, "job",
			    json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "state", "queued",
				      "url", rep->location));
	reply_json(rep, 202, body);
	return true;
}

static json_t *time_or_null(int64_t t)
{
	char buf[UTC_ISO_LEN];

	return t ? json_string(utc_format(t, buf)) : json_null();
}

static json_t *parsed_or_null(const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	return v ? v : json_null();
}

void job_get_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct job job;
	char *end;
	long long id;

	errno = 0;
	id = strtoll(req->params[0], &end, 10);
	if (*end || errno || id <= 0) {
		reply_error(rep, 400, "bad_request", "invalid job id '%s'", req->params[0]);
		return;
	}
	if (store_job_get(req->store, id, &job, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	reply_json(rep, 200,
		   json_pack("{s:I,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)job.id,
			     "kind", job.kind, "state", job_state_name(job.state), "attempts",
			     job.attempts, "created_at", time_or_null(job.created_at), "started_at",
			     time_or_null(job.started_at), "finished_at",
			     time_or_null(job.finished_at), "input", parsed_or_null(job.input),
			     "result", parsed_or_null(job.result)));
	job_release(&job);
}
