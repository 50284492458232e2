/*
 * request.c - what a handler uses to read its request and fill its reply (request.h).
 * The checks that run before a handler are in dispatch.c; the daemon in server.c.
 */
#include "server/request.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utf8.h"
#include "server/cache.h"

const char *request_query(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *request_header(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

bool request_wants_csv(struct request *req)
{
	return req->csv;
}

json_t *request_json(struct request *req, struct reply *rep)
{
	json_error_t jerr;
	json_t *v;

	if (req->body.len == 0) {
		reply_error(rep, 400, "bad_request", "request body is empty: expected JSON");
		return NULL;
	}
	v = json_loadb(dynbuf_str(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		reply_error(rep, 400, "bad_request",
			    "malformed JSON at line %d column %d: %s", jerr.line,
			    jerr.column, jerr.text);
	return v;
}

void reply_init(struct reply *rep, unsigned status)
{
	rep->status = status;
	rep->held = NULL;
	rep->json = NULL;
	rep->text = NULL;
	rep->text_len = 0;
	rep->content_type = NULL;
	rep->location[0] = '\0';
	rep->nheaders = 0;
	rep->allow[0] = '\0';
}

void reply_json(struct reply *rep, unsigned status, json_t *body)
{
	json_decref(rep->json);
	rep->status = status;
	rep->json = body;
}

void reply_text(struct reply *rep, unsigned status, const char *content_type,
		const char *text, size_t len)
{
	free(rep->text);
	rep->status = status;
	rep->content_type = content_type;
	rep->text = malloc(len + 1);
	rep->text_len = rep->text ? len : 0;
	if (rep->text) {
		memcpy(rep->text, text, len);
		rep->text[len] = '\0';
	}
}

void reply_header(struct reply *rep, const char *name, const char *value)
{
	char *v;
	size_t i;

	if (rep->nheaders == REPLY_MAX_HEADERS)
		return;
	snprintf(rep->header[rep->nheaders].name, sizeof(rep->header[0].name), "%s", name);
	v = rep->header[rep->nheaders++].value;
	for (i = 0; value[i] && i + 1 < sizeof(rep->header[0].value); i++)
		v[i] = value[i] >= 0x20 && value[i] < 0x7f ? value[i] : '?';
	v[i] = '\0';
}

void reply_error(struct reply *rep, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a client's bytes in the message, or a cut through a character, would make
	 * json_pack fail and turn a 4xx into a 500 */
	utf8_sanitize(msg);
	reply_json(rep, status,
		   json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void reply_wc_error(struct reply *rep, const struct wc_error *err)
{
	static const struct {
		enum wc_status code;
		unsigned status;
		const char *name;
	} map[] = {
		{ WC_EINVAL, 400, "bad_request" },
		{ WC_EFORMAT, 400, "bad_request" },
		{ WC_ENOTFOUND, 404, "not_found" },
		{ WC_ENODATA, 409, "no_data" },
		{ WC_EEXIST, 409, "conflict" },
		{ WC_ETOOLARGE, 413, "payload_too_large" },
		{ WC_EUNSUPPORTED, 422, "unprocessable" },
		{ WC_EVERSION, 422, "unprocessable" },
		{ WC_ECHECKSUM, 422, "unprocessable" },
		{ WC_EBUSY, 503, "unavailable" },
	};
	unsigned status = 500;
	const char *name = "internal";

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].code == err->code) {
			status = map[i].status;
			name = map[i].name;
		}
	}
	if (status == 500)
		log_error("internal error: %s", wc_error_msg(err));
	reply_error(rep, status, name, "%s", wc_error_msg(err));
}

void reply_held(struct reply *rep, struct held_body *b)
{
	reply_release(rep);
	/* the body's headers are the reply's: only those added later go beside them */
	rep->nheaders = 0;
	rep->location[0] = rep->allow[0] = '\0';
	rep->status = b->status;
	rep->held = b;
}

struct held_body *reply_hold(struct reply *rep)
{
	struct held_header h[REPLY_MAX_HEADERS];
	struct held_body *b;
	char *dumped = NULL;
	const char *data = rep->text, *ctype = rep->content_type;
	size_t len = rep->text_len;

	if (rep->held)
		return held_body_ref(rep->held);
	if (!data) {
		if (!rep->json || !(dumped = json_dumps(rep->json, REPLY_JSON_FLAGS)))
			return NULL;
		data = dumped;
		len = strlen(dumped);
		ctype = "application/json";
	}
	for (int i = 0; i < rep->nheaders; i++) {
		h[i].name = rep->header[i].name;
		h[i].value = rep->header[i].value;
	}
	b = held_body_new(rep->status, ctype ? ctype : "application/json", data, len, h,
			  rep->nheaders);
	free(dumped);
	if (!b)
		return NULL;
	reply_held(rep, b);
	return held_body_ref(b);
}

void reply_release(struct reply *rep)
{
	json_decref(rep->json);
	free(rep->text);
	held_body_unref(rep->held);
	rep->json = NULL;
	rep->text = NULL;
	rep->held = NULL;
}
