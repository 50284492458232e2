/* h_farms.c - /healthz, the farm registry and farm observations over HTTP. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/utc.h"
#include "data/obs.h"
#include "data/farm.h"
#include "data/store.h"
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
	st = dynbuf_adds(&b, "id,name,lat,lon,capacity_mw,hub_height_m\n");
	for (size_t i = 0; i < n && !st; i++) {
		const struct farm *f = &farms[i];

		st = dynbuf_printf(&b, "%s,", f->id);
		if (!st)
			st = dynbuf_add_csv_field(&b, f->name);
		if (!st)
			st = dynbuf_printf(&b, ",%.6f,%.6f,%.3f,", f->lat, f->lon,
					   f->capacity_mw);
		if (!st && !isnan(f->hub_height_m))
			st = dynbuf_printf(&b, "%.1f", f->hub_height_m);
		if (!st)
			st = dynbuf_adds(&b, "\n");
	}
	if (st)
		reply_error(rep, 500, "internal", "cannot build CSV: %s", wc_strerror(st));
	else
		reply_text(rep, 200, "text/csv", dynbuf_str(&b), b.len);
	dynbuf_release(&b);
}

void farms_list_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct farm *farms;
	json_t *arr;
	size_t n;

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
}

void farms_create_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct farm f;
	json_t *body = request_json(req, rep);

	if (!body)
		return;
	if (farm_from_json(body, NULL, &f, &err) || store_farm_add(req->store, &f, &err)) {
		reply_wc_error(rep, &err);
	} else {
		snprintf(rep->location, sizeof(rep->location), "/v1/farms/%s", f.id);
		reply_json(rep, 201, farm_to_json(&f));
	}
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
	bool created = false;
	struct farm f;
	json_t *body = request_json(req, rep);

	if (!body)
		return;
	if (farm_from_json(body, req->params[0], &f, &err) ||
	    store_farm_put(req->store, &f, &created, &err)) {
		reply_wc_error(rep, &err);
	} else {
		if (created)
			snprintf(rep->location, sizeof(rep->location), "/v1/farms/%s", f.id);
		reply_json(rep, created ? 201 : 200, farm_to_json(&f));
	}
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
		char a[UTC_ISO_LEN], z[UTC_ISO_LEN];

		reply_json(rep, 200,
			   json_pack("{s:s,s:I,s:o,s:o}", "farm", f.id, "stored", (json_int_t)n,
				     "first", n ? json_string(utc_format(rows[0].time, a)) : json_null(),
				     "last",
				     n ? json_string(utc_format(rows[n - 1].time, z)) : json_null()));
	}
	free(rows);
}
