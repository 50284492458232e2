/*
 * h_farms.c - /healthz, the farm registry and farm observations over HTTP. A farm that is
 * created or moved gets its weather from the grids stored already by a background job
 * (ingest_farm_weather), named in the reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "data/farm.h"
#include "data/ingest.h"
#include "data/obs.h"
#include "data/store.h"
#include "server/cache.h"
#include "server/handlers.h"

void health_handler(struct request *req, struct reply *rep)
{
	reply_json(rep, 200, json_pack("{s:s,s:i}", "status", "ok", "schema",
				       store_schema_version()));
}

static void farms_csv(struct reply *rep, const struct farm *farms, size_t n)
{
	struct dynbuf b;
	enum wc_status st;

	dynbuf_init(&b, 64u << 20);
	if ((st = farm_csv_write(&b, farms, n)))
		reply_error(rep, 500, "internal", "cannot build CSV: %s", wc_strerror(st));
	else
		reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
	dynbuf_release(&b);
}

/* The list is held in memory (server/cache.h) until a farm is added, changed or removed. */
void farms_list_handler(struct request *req, struct reply *rep)
{
	static const char *const subjects[] = { STORE_SUBJECT_FARMS };
	const char *key = request_wants_csv(req) ? "farms/csv" : "farms/json";
	struct cache *c = server_cache(req->srv);
	struct wc_error err = { 0 };
	struct cache_stamp stamp;
	struct held_body *b;
	struct farm *farms;
	json_t *arr;
	size_t n;

	if ((b = cache_get(c, key, &stamp))) {
		reply_held(rep, b);
		return;
	}
	if (store_farm_list(req->store, &farms, &n, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (request_wants_csv(req)) {
		farms_csv(rep, farms, n);
	} else {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, farm_to_json(&farms[i]));
		reply_json(rep, 200, json_pack("{s:o}", "farms", arr));
	}
	free(farms);
	if (rep->status == 200 && (b = reply_hold(rep))) {
		cache_put(c, key, b, &stamp, subjects, 1, 0);
		held_body_unref(b);
	}
}

/* The background job: the farm's weather from the stored grids (ingest_farm_weather). */
static char *weather_job_run(void *arg, struct store *st, int *failed)
{
	struct farm_weather_result res;
	json_t *v;
	char *text;

	*failed = ingest_farm_weather(st, arg, &res) != WC_OK;
	v = farm_weather_result_json(&res);
	text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	return text;
}

/*
 * Reply `status` (200, 201) with farm f, plus "job": the background job that extracts
 * its weather from the grids stored already (null when the farm keeps its weather, or
 * when there are no grids yet: ingesting them gives every farm its weather).
 */
static void farm_reply(struct request *req, struct reply *rep, const struct farm *f,
		       unsigned status, bool needs_weather)
{
	struct wc_error err = { 0 };
	json_t *body = farm_to_json(f), *job = NULL;
	size_t nruns = 0;
	char *arg;
	int64_t id;

	if (needs_weather && store_run_count(req->store, &nruns, &err)) {
		json_decref(body);
		reply_wc_error(rep, &err);
		return;
	}
	if (nruns > 0) {
		if (!job_create_reply(req, rep, "weather", json_pack("{s:s}", "farm", f->id),
				      &id)) {
			json_decref(body);
			return;
		}
		if (!(arg = strdup(f->id))) {
			json_decref(body);
			job_fail_reply(req, rep, id, &(struct wc_error){ WC_ENOMEM, "out of memory" });
			return;
		}
		if (!job_queue_reply(req, rep, id, weather_job_run, arg, free, NULL)) {
			json_decref(body);
			return;
		}
		/* job_queue_reply answered 202 about the job: answer about the farm */
		job = json_incref(json_object_get(rep->json, "job"));
	}
	json_object_set_new(body, "job", job ? job : json_null());
	rep->location[0] = '\0';
	if (status == 201)
		snprintf(rep->location, sizeof(rep->location), "/v1/farms/%s", f->id);
	reply_json(rep, status, body);
}

void farms_create_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct farm f;
	json_t *body = request_json(req, rep);

	if (!body)
		return;
	if (farm_from_json(body, NULL, &f, &err) || store_farm_add(req->store, &f, &err))
		reply_wc_error(rep, &err);
	else
		farm_reply(req, rep, &f, 201, true);
	json_decref(body);
}

void farm_get_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct farm f;

	if (store_farm_get(req->store, req->params[0], &f, &err))
		reply_wc_error(rep, &err);
	else
		reply_json(rep, 200, farm_to_json(&f));
}

void farm_put_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	enum farm_change change = FARM_UPDATED;
	struct farm f;
	json_t *body = request_json(req, rep);

	if (!body)
		return;
	if (farm_from_json(body, req->params[0], &f, &err) ||
	    store_farms_write(req->store, &f, 1, true, &change, &err))
		reply_wc_error(rep, &err);
	else
		farm_reply(req, rep, &f, change == FARM_CREATED ? 201 : 200,
			   farm_change_needs_weather(change));
	json_decref(body);
}

void farm_delete_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };

	if (store_farm_delete(req->store, req->params[0], &err))
		reply_wc_error(rep, &err);
	else
		rep->status = 204;
}

void farm_obs_post_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct obs_row *rows = NULL;
	struct farm f;
	size_t n = 0;
	const char *ctype = request_header(req, "Content-Type");

	if (store_farm_get(req->store, req->params[0], &f, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	if (req->body.len == 0) {
		reply_error(rep, 400, "bad_request",
			    "request body is empty: send CSV 'time,power_mw[,flag]' or a JSON "
			    "array");
		return;
	}
	if (ctype && !strncmp(ctype, "application/json", 16))
		obs_parse_json(dynbuf_str(&req->body), req->body.len, f.capacity_mw, &rows, &n,
			       &err);
	else if (ctype && !strncmp(ctype, "text/csv", 8))
		obs_parse_csv(dynbuf_str(&req->body), req->body.len, f.capacity_mw, &rows, &n,
			      &err);
	else
		obs_parse(dynbuf_str(&req->body), req->body.len, f.capacity_mw, &rows, &n, &err);
	if (err.code) {
		wc_error_prefix(&err, "nothing was stored");
		reply_wc_error(rep, &err);
	} else if (store_obs_upsert(req->store, f.id, rows, n, &err)) {
		reply_wc_error(rep, &err);
	} else {
		reply_json(rep, 200, obs_stored_json(f.id, rows, n));
	}
	free(rows);
}
