/*
 * h_tokens.c - /v1/tokens (admin): list, create and revoke API tokens over HTTP, the
 * same records as `windcast token` (data/store_tokens.c). A new token is in the 201
 * reply only: the store keeps its hash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "server/handlers.h"

void tokens_list_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct token_info *t;
	size_t n;
	json_t *arr;

	if (store_token_list(req->store, &t, &n, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, token_info_json(&t[i]));
	free(t);
	reply_json(rep, 200, json_pack("{s:o}", "tokens", arr));
}

void tokens_create_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct token_info info;
	char token[TOKEN_LEN + 1];
	enum token_scope scope;
	const char *scope_s = NULL, *name = "", *key;
	json_t *body = request_json(req, rep), *v, *out;

	if (!body)
		return;
	if (!json_is_object(body)) {
		reply_error(rep, 400, "bad_request",
			    "expected a JSON object {\"scope\": \"read|write|admin\", \"name\": ...}");
		goto cleanup;
	}
	json_object_foreach(body, key, v) {
		if (strcmp(key, "scope") && strcmp(key, "name")) {
			reply_error(rep, 400, "bad_request", "unknown field '%s': use scope and name",
				    key);
			goto cleanup;
		}
	}
	v = json_object_get(body, "scope");
	if (!v || !(scope_s = json_string_value(v)) || !token_scope_parse(scope_s, &scope)) {
		reply_error(rep, 400, "bad_request", "invalid scope%s%s%s: use read, write or admin",
			    scope_s ? " '" : "", scope_s ? scope_s : "", scope_s ? "'" : "");
		goto cleanup;
	}
	v = json_object_get(body, "name");
	if (v && !(name = json_string_value(v))) {
		reply_error(rep, 400, "bad_request", "invalid name: expected a string");
		goto cleanup;
	}
	if (store_token_create(req->store, scope, name, token, &info, &err)) {
		reply_wc_error(rep, &err);
		goto cleanup;
	}
	out = token_info_json(&info);
	json_object_set_new(out, "token", json_string(token));
	memset(token, 0, sizeof(token));
	reply_json(rep, 201, out);
	reply_header(rep, "Cache-Control", "no-store");
cleanup:
	json_decref(body);
}

void token_revoke_handler(struct request *req, struct reply *rep)
{
	struct wc_error err = { 0 };
	struct token_info info;
	char *end;
	long long id;

	errno = 0;
	id = strtoll(req->params[0], &end, 10);
	if (*end || errno || id <= 0) {
		reply_error(rep, 400, "bad_request", "invalid token id '%s': use the number "
						     "'windcast token list' shows",
			    req->params[0]);
		return;
	}
	if (store_token_revoke(req->store, id, &info, &err)) {
		reply_wc_error(rep, &err);
		return;
	}
	reply_json(rep, 200, token_info_json(&info));
}
