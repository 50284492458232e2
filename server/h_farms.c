/* h_farms.c - /healthz and the farm registry over HTTP. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
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
