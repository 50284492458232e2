/*
 * test_openapi.c - docs/openapi.yaml against the code, so that the document cannot
 * drift: every route of server/routes.c is in it and every path in it is a route
 * (method, path parameters, query parameters, scope, CSV, request body and content
 * types, the generic errors each route can answer); then a server on a small demo store
 * is walked operation by operation (x-windcast-walk order) with the document's own
 * examples, and each reply must have a documented status and match the documented
 * schema field by field (an undocumented field fails too). Without a token every
 * secured operation is 401, a bad id 404 where documented, an unknown query parameter
 * 400, all in the Error schema.
 *
 * The YAML is read by PyYAML (python3-yaml) into JSON, then jansson.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/dynbuf.h"
#include "data/store.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"

static json_t *spec;

static json_t *load_spec(void)
{
	char *cmd, *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *v;

	cr_assert(asprintf(&cmd,
			   "'%s' -c 'import sys, json, yaml; json.dump(yaml.safe_load(open(sys.argv[1])),"
			   " sys.stdout)' '%s/docs/openapi.yaml'",
			   tu_python(), tu_src()) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "cannot read docs/openapi.yaml: %s", err);
	v = json_loads(out, 0, &jerr);
	cr_assert_not_null(v, "%s", jerr.text);
	free(cmd);
	free(out);
	free(err);
	return v;
}

/* Follow a local $ref ("#/components/..."); anything else as is. */
static json_t *deref(json_t *v)
{
	const char *ref;

	while (v && (ref = json_string_value(json_object_get(v, "$ref")))) {
		char path[256], *save = NULL, *part;

		cr_assert_eq(strncmp(ref, "#/", 2), 0, "only local refs: %s", ref);
		snprintf(path, sizeof(path), "%s", ref + 2);
		v = spec;
		for (part = strtok_r(path, "/", &save); part; part = strtok_r(NULL, "/", &save))
			v = json_object_get(v, part);
		cr_assert_not_null(v, "dangling $ref '%s'", ref);
	}
	return v;
}

static const char *const methods[] = { "get", "put", "post", "delete", "patch", "head" };

static json_t *operation(const char *method, const char *pattern)
{
	char m[8];
	size_t i;

	for (i = 0; method[i] && i < sizeof(m) - 1; i++)
		m[i] = (char)(method[i] | 0x20);
	m[i] = '\0';
	return json_object_get(json_object_get(json_object_get(spec, "paths"), pattern), m);
}

/* The operation's parameters, path-level ones included, dereferenced (new array). */
static json_t *params_of(const char *pattern, json_t *op)
{
	json_t *all = json_array(), *p;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(json_object_get(spec, "paths"), pattern),
					   "parameters"),
			   i, p)
		json_array_append(all, deref(p));
	json_array_foreach(json_object_get(op, "parameters"), i, p)
		json_array_append(all, deref(p));
	return all;
}

/* ---- the table and the document ---- */

static void expect_same_words(const char *what, const char *code_words, json_t *doc_names)
{
	char code[512], doc[512] = "";
	size_t i, o = 0;
	json_t *n;
	char *w, *save = NULL, sorted_code[512] = "";

	/* both sides as sorted, space separated lists */
	snprintf(code, sizeof(code), "%s", code_words);
	{
		const char *words[32];
		int nw = 0;

		for (w = strtok_r(code, " ", &save); w && nw < 32; w = strtok_r(NULL, " ", &save)) {
			w[strcspn(w, ":")] = '\0';
			words[nw++] = w;
		}
		for (int a = 0; a < nw; a++)
			for (int b = a + 1; b < nw; b++)
				if (strcmp(words[a], words[b]) > 0) {
					const char *t = words[a];

					words[a] = words[b];
					words[b] = t;
				}
		for (int a = 0; a < nw; a++)
			o += (size_t)snprintf(sorted_code + o, sizeof(sorted_code) - o, "%s%s",
					      a ? " " : "", words[a]);
	}
	{
		const char *names[32];
		size_t nn = 0;

		json_array_foreach(doc_names, i, n)
			if (nn < 32)
				names[nn++] = json_string_value(n);
		for (size_t a = 0; a < nn; a++)
			for (size_t b = a + 1; b < nn; b++)
				if (strcmp(names[a], names[b]) > 0) {
					const char *t = names[a];

					names[a] = names[b];
					names[b] = t;
				}
		o = 0;
		for (size_t a = 0; a < nn; a++)
			o += (size_t)snprintf(doc + o, sizeof(doc) - o, "%s%s", a ? " " : "", names[a]);
	}
	cr_expect_str_eq(sorted_code, doc, "%s: server/routes.c has '%s', docs/openapi.yaml '%s'",
			 what, sorted_code, doc);
}

static int doc_scope(json_t *op)
{
	json_t *sec = json_object_get(op, "security"), *req, *scopes;
	size_t i;
	int scope = -1;
	bool open = false;

	if (!sec)
		sec = json_object_get(spec, "security");
	if (json_array_size(sec) == 0)
		return SCOPE_PUBLIC;
	json_array_foreach(sec, i, req) {
		if (json_object_size(req) == 0) {
			open = true;
			continue;
		}
		scopes = json_object_get(req, "bearer");
		cr_assert_eq(json_array_size(scopes), 1, "one scope per bearer requirement");
		scope = !strcmp(json_string_value(json_array_get(scopes, 0)), "read")    ? SCOPE_READ
			: !strcmp(json_string_value(json_array_get(scopes, 0)), "write") ? SCOPE_WRITE
			: !strcmp(json_string_value(json_array_get(scopes, 0)), "admin") ? SCOPE_ADMIN
											 : -1;
	}
	return open ? (scope == SCOPE_READ ? SCOPE_METRICS : -1) : scope;
}

static bool has_status(json_t *op, const char *status)
{
	return json_object_get(json_object_get(op, "responses"), status) != NULL;
}

/* A 2xx response of op offering content type `type`. */
static bool success_offers(json_t *op, const char *type)
{
	const char *st;
	json_t *r;

	json_object_foreach(json_object_get(op, "responses"), st, r)
		if (st[0] == '2' && json_object_get(json_object_get(deref(r), "content"), type))
			return true;
	return false;
}

Test(openapi, every_route_is_documented_and_every_document_path_is_a_route)
{
	json_t *paths, *item, *op;
	const char *pattern, *m;
	struct dynbuf missing;

	spec = load_spec();
	paths = json_object_get(spec, "paths");
	cr_assert_str_eq(json_string_value(json_object_get(spec, "openapi")), "3.1.0");
	dynbuf_init(&missing, 1 << 16);
	for (size_t i = 0; i < nroutes; i++) {
		char lower[8];
		size_t j;

		if (operation(routes[i].method, routes[i].pattern))
			continue;
		for (j = 0; routes[i].method[j] && j < sizeof(lower) - 1; j++)
			lower[j] = (char)(routes[i].method[j] | 0x20);
		lower[j] = '\0';
		dynbuf_printf(&missing,
			      "\n  route '%s %s' is in server/routes.c but not in docs/openapi.yaml: "
			      "add it under paths: '%s': %s: (with its parameters, body, responses "
			      "and x-windcast-walk)",
			      routes[i].method, routes[i].pattern, routes[i].pattern, lower);
	}
	json_object_foreach(paths, pattern, item) {
		for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			bool found = false;
			char up[8];

			m = methods[k];
			if (!(op = json_object_get(item, m)))
				continue;
			for (size_t j = 0; m[j] || (up[j] = 0); j++)
				up[j] = (char)(m[j] & ~0x20);
			for (size_t i = 0; i < nroutes; i++)
				found |= !strcmp(routes[i].method, up) && !strcmp(routes[i].pattern, pattern);
			if (!found)
				dynbuf_printf(&missing,
					      "\n  '%s %s' is in docs/openapi.yaml but no route of "
					      "server/routes.c",
					      up, pattern);
		}
	}
	cr_expect_eq(missing.len, 0, "the route table and the document differ:%s",
		     dynbuf_str(&missing));
	dynbuf_release(&missing);
	json_decref(spec);
}

Test(openapi, each_operation_declares_what_its_route_does)
{
	spec = load_spec();
	for (size_t i = 0; i < nroutes; i++) {
		const struct route *r = &routes[i];
		json_t *op = operation(r->method, r->pattern), *params, *p, *query, *pathp, *body;
		char what[160], words[256];
		size_t k;
		int scope;

		if (!op)
			continue;	/* reported by the test above */
		snprintf(what, sizeof(what), "%s %s", r->method, r->pattern);
		params = params_of(r->pattern, op);
		query = json_array();
		pathp = json_array();
		json_array_foreach(params, k, p) {
			const char *in = json_string_value(json_object_get(p, "in"));

			cr_expect(in && (!strcmp(in, "query") || !strcmp(in, "path")),
				  "%s: parameter '%s' in '%s': only path and query are used", what,
				  json_string_value(json_object_get(p, "name")), in ? in : "?");
			json_array_append(!strcmp(in, "query") ? query : pathp, json_object_get(p, "name"));
		}
		snprintf(words, sizeof(words), "%s%s", r->query ? r->query : "",
			 r->flags & ROUTE_CSV ? " format" : "");
		expect_same_words(what, words, query);
		/* path parameters: the {names} of the pattern */
		{
			char names[128] = "";
			size_t o = 0;

			for (const char *q = strchr(r->pattern, '{'); q; q = strchr(q + 1, '{'))
				o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%.*s", o ? " " : "",
						      (int)(strchr(q, '}') - q - 1), q + 1);
			expect_same_words(what, names, pathp);
		}
		scope = doc_scope(op);
		cr_expect_eq(scope, (int)r->scope, "%s: security in the document is scope %d, the "
						 "route table's %d",
			     what, scope, (int)r->scope);
		if (r->scope != SCOPE_PUBLIC)
			cr_expect(has_status(op, "401"), "%s: document 401", what);
		if (r->scope == SCOPE_WRITE || r->scope == SCOPE_ADMIN)
			cr_expect(has_status(op, "403"), "%s: document 403", what);
		/* an unknown query parameter is a 400 on every route */
		cr_expect(has_status(op, "400"), "%s: document 400", what);
		if (r->max_body)
			cr_expect(has_status(op, "413"), "%s: document 413", what);
		if (r->content_types)
			cr_expect(has_status(op, "415"), "%s: document 415", what);
		cr_expect(has_status(op, "406"), "%s: document 406", what);
		cr_expect_eq(success_offers(op, "text/csv"), (r->flags & ROUTE_CSV) != 0,
			     "%s: text/csv in a 2xx reply %s", what,
			     r->flags & ROUTE_CSV ? "is missing" : "is documented but not served");
		body = json_object_get(op, "requestBody");
		cr_expect_eq(body != NULL, r->max_body != 0, "%s: requestBody %s", what,
			     r->max_body ? "missing (the route takes a body)"
					 : "documented on a route without a body");
		if (body && r->content_types) {
			const char *t;
			json_t *c;
			json_t *names = json_array();

			json_object_foreach(json_object_get(body, "content"), t, c)
				json_array_append_new(names, json_string(t));
			expect_same_words(what, r->content_types, names);
			json_decref(names);
		}
		cr_expect(json_integer_value(json_object_get(op, "x-windcast-walk")) > 0,
			  "%s: x-windcast-walk (its place in the walk) is missing", what);
		json_decref(query);
		json_decref(pathp);
		json_decref(params);
	}
	json_decref(spec);
}

/* ---- the schema check ---- */

static bool type_is(json_t *v, const char *t)
{
	if (!strcmp(t, "null"))
		return json_is_null(v);
	if (!strcmp(t, "string"))
		return json_is_string(v);
	if (!strcmp(t, "integer"))
		return json_is_integer(v);
	if (!strcmp(t, "number"))
		return json_is_number(v);
	if (!strcmp(t, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(t, "object"))
		return json_is_object(v);
	if (!strcmp(t, "array"))
		return json_is_array(v);
	return false;
}

/* Check v against schema; the first problem into why (at `at`). */
static bool check(json_t *schema, json_t *v, const char *at, char *why, size_t cap)
{
	json_t *type, *t, *props, *x;
	const char *key;
	size_t i;
	char sub[512];

	schema = deref(schema);
	if ((x = json_object_get(schema, "oneOf"))) {
		json_array_foreach(x, i, t)
			if (check(t, v, at, why, cap))
				return true;
		snprintf(why, cap, "%s: matches none of oneOf", at);
		return false;
	}
	type = json_object_get(schema, "type");
	if (json_is_string(type) && !type_is(v, json_string_value(type))) {
		snprintf(why, cap, "%s: expected %s", at, json_string_value(type));
		return false;
	}
	if (json_is_array(type)) {
		bool ok = false;

		json_array_foreach(type, i, t)
			ok |= type_is(v, json_string_value(t));
		if (!ok) {
			snprintf(why, cap, "%s: not one of the documented types", at);
			return false;
		}
	}
	if ((x = json_object_get(schema, "enum"))) {
		bool ok = false;

		json_array_foreach(x, i, t)
			ok |= json_equal(t, v);
		if (!ok) {
			char *s = json_dumps(v, JSON_ENCODE_ANY);

			snprintf(why, cap, "%s: %s is not in the documented enum", at, s);
			free(s);
			return false;
		}
	}
	if (json_is_object(v)) {
		props = json_object_get(schema, "properties");
		json_array_foreach(json_object_get(schema, "required"), i, t) {
			if (!json_object_get(v, json_string_value(t))) {
				snprintf(why, cap, "%s: required field '%s' is missing", at,
					 json_string_value(t));
				return false;
			}
		}
		json_object_foreach(v, key, x) {
			json_t *ps = json_object_get(props, key);

			snprintf(sub, sizeof(sub), "%s.%s", at, key);
			if (!ps) {
				if (props && !json_is_true(json_object_get(schema, "additionalProperties"))) {
					snprintf(why, cap, "%s: field not documented", sub);
					return false;
				}
				continue;
			}
			if (!check(ps, x, sub, why, cap))
				return false;
		}
	}
	if (json_is_array(v) && (t = json_object_get(schema, "items"))) {
		json_array_foreach(v, i, x) {
			snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
			if (!check(t, x, sub, why, cap))
				return false;
		}
	}
	return true;
}

Test(openapi, the_checker_catches_drift)
{
	json_t *s, *v;
	char why[512];

	spec = load_spec();
	s = json_pack("{s:s}", "$ref", "#/components/schemas/Token");
	v = json_loads("{\"id\":1,\"name\":\"\",\"scope\":\"read\",\"hint\":\"abcd\","
		       "\"created_at\":\"x\",\"revoked_at\":null}", 0, NULL);
	cr_assert(check(s, v, "$", why, sizeof(why)), "%s", why);
	json_object_set_new(v, "extra", json_true());
	cr_assert_not(check(s, v, "$", why, sizeof(why)));
	cr_assert(strstr(why, "$.extra: field not documented"), "%s", why);
	json_object_del(v, "extra");
	json_object_set_new(v, "scope", json_string("root"));
	cr_assert_not(check(s, v, "$", why, sizeof(why)));
	json_object_del(v, "scope");
	cr_assert_not(check(s, v, "$", why, sizeof(why)));
	cr_assert(strstr(why, "'scope' is missing"), "%s", why);
	json_decref(v);
	json_decref(s);
	json_decref(spec);
}

/* ---- the walk ---- */

struct walker {
	char *dir;
	struct store *st;
	struct server *srv;
	unsigned port;
	char upload[4200];	/* a NetCDF file the demo store has not ingested */
	char *jobs[16];
	int njobs, done;
};

/* The demo data, 6 days: farms, all runs but the last ingested, observations. */
static void demo_store(struct walker *w)
{
	char *cmd;
	struct wc_error err = { 0 };
	struct server_config cfg;

	w->dir = tu_tmpdir();
	cr_assert(asprintf(&cmd,
			   "set -e; W='%s'; D='%s'; $W demo-data --out $D/in --farms 3 --days 6 "
			   "--seed 1; $W --data $D/d farm import $D/in/farms.json; "
			   "$W --data $D/d --quiet ingest $(ls $D/in/nwp/*.nc | head -n -1); "
			   "for f in horns-reef jutland-1 north-sea-1; do $W --data $D/d obs import "
			   "--farm $f $D/in/obs/$f.csv; done; ls $D/in/nwp/*.nc | tail -n 1",
			   tu_bin(), w->dir) >= 0);
	{
		char *out = NULL, *errs = NULL;

		char *last;

		cr_assert_eq(tu_run(cmd, &out, &errs), 0, "demo store: %s", errs);
		out[strcspn(out, "\0")] = '\0';
		while (strlen(out) && out[strlen(out) - 1] == '\n')
			out[strlen(out) - 1] = '\0';
		last = strrchr(out, '\n') ? strrchr(out, '\n') + 1 : out;
		snprintf(w->upload, sizeof(w->upload), "%s", last);
		free(out);
		free(errs);
	}
	free(cmd);
	cr_assert(asprintf(&cmd, "%s/d", w->dir) >= 0);
	cr_assert_eq(store_open(cmd, &w->st, &err), WC_OK, "%s", err.msg);
	free(cmd);
	tu_auth(w->st);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	cr_assert_eq(server_start(&cfg, w->st, &w->srv, &err), WC_OK, "%s", err.msg);
	w->port = server_port(w->srv);
}

struct walk_op {
	const char *method, *pattern;
	json_t *op;
	long order;
};

static int by_order(const void *a, const void *b)
{
	const struct walk_op *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

/* The path with each {name} replaced by its example (or x-windcast-example-id). */
static void example_path(const char *pattern, json_t *op, json_t *params, const char *id_override,
			 char *out, size_t cap)
{
	size_t o = 0, i;
	json_t *p;

	for (const char *c = pattern; *c && o + 1 < cap; c++) {
		const char *end;
		char name[64];

		if (*c != '{') {
			out[o++] = *c;
			continue;
		}
		end = strchr(c, '}');
		snprintf(name, sizeof(name), "%.*s", (int)(end - c - 1), c + 1);
		const char *val = id_override;

		json_array_foreach(params, i, p)
			if (!val && !strcmp(json_string_value(json_object_get(p, "name")), name))
				val = json_string_value(json_object_get(p, "example"));
		cr_assert_not_null(val, "%s: no example for path parameter '%s'", pattern, name);
		o += (size_t)snprintf(out + o, cap - o, "%s", val);
		c = end;
	}
	out[o] = '\0';
}

/* "?a=1&b=2" from the query parameters' examples (those without are left out). */
static void example_query(json_t *params, char *out, size_t cap)
{
	size_t o = 0, i;
	json_t *p;

	out[0] = '\0';
	json_array_foreach(params, i, p) {
		json_t *ex = json_object_get(p, "example");
		char *s;

		if (strcmp(json_string_value(json_object_get(p, "in")), "query") || !ex)
			continue;
		s = json_is_string(ex) ? strdup(json_string_value(ex)) : json_dumps(ex, JSON_ENCODE_ANY);
		o += (size_t)snprintf(out + o, cap - o, "%c%s=%s", o ? '&' : '?',
				      json_string_value(json_object_get(p, "name")), s);
		free(s);
	}
}

/* Check a reply r to `what` against op's documented responses. */
static void check_reply(const char *what, json_t *op, struct tu_http *r)
{
	char st[8], why[512];
	json_t *resp, *content, *schema, *v;
	const char *ctype;

	snprintf(st, sizeof(st), "%ld", r->status);
	resp = deref(json_object_get(json_object_get(op, "responses"), st));
	cr_expect_not_null(resp, "%s: status %s is not documented; body %.300s", what, st, r->body);
	if (!resp)
		return;
	content = json_object_get(resp, "content");
	if (!content) {
		cr_expect_eq(r->len, 0, "%s %s: a body, but none is documented", what, st);
		return;
	}
	ctype = strcasestr(r->headers, "\nContent-Type: ");
	cr_expect_not_null(ctype, "%s: no Content-Type", what);
	if (!ctype)
		return;
	ctype += 15;
	if (!strncmp(ctype, "application/json", 16)) {
		schema = json_object_get(json_object_get(content, "application/json"), "schema");
		cr_expect_not_null(schema, "%s %s: JSON is not documented", what, st);
		v = json_loads(r->body, 0, NULL);
		cr_expect_not_null(v, "%s: not JSON", what);
		if (schema && v)
			cr_expect(check(schema, v, "$", why, sizeof(why)), "%s %s: %s", what, st, why);
		json_decref(v);
	} else {
		char type[64];

		snprintf(type, sizeof(type), "%.*s", (int)strcspn(ctype, ";\r\n"), ctype);
		cr_expect_not_null(json_object_get(content, type), "%s %s: %s is not documented", what,
				   st, type);
	}
}

/* The request body of op's first content type's example (malloc'd), and its type. */
static char *example_body(struct walker *w, json_t *op, const char **ctype, size_t *len)
{
	json_t *content = json_object_get(json_object_get(op, "requestBody"), "content"), *c, *ex;
	const char *t;
	char *body = NULL;

	*ctype = NULL;
	json_object_foreach(content, t, c) {
		*ctype = t;
		if (strstr(t, "netcdf")) {
			body = tu_read_file(w->upload, len);
			cr_assert_not_null(body, "%s", w->upload);
			return body;
		}
		ex = json_object_get(c, "example");
		cr_assert_not_null(ex, "no example for the %s request body", t);
		body = json_is_string(ex) ? strdup(json_string_value(ex)) : json_dumps(ex, JSON_COMPACT);
		*len = strlen(body);
		return body;
	}
	return NULL;
}

static void walk_one(struct walker *w, const char *method, const char *pattern, json_t *op)
{
	json_t *params = params_of(pattern, op);
	const char *id_override = json_string_value(json_object_get(op, "x-windcast-example-id"));
	const char *ctype = NULL, *loc;
	char path[512], query[512], url[1100], what[700], cth[128], *body;
	const char *hdr[3] = { NULL };
	struct tu_http r;
	size_t len = 0;
	int scope = doc_scope(op);

	example_path(pattern, op, params, id_override, path, sizeof(path));
	example_query(params, query, sizeof(query));
	snprintf(url, sizeof(url), "%s%s", path, query);
	snprintf(what, sizeof(what), "%s %s", method, url);
	body = example_body(w, op, &ctype, &len);
	if (ctype) {
		snprintf(cth, sizeof(cth), "Content-Type: %s", ctype);
		hdr[0] = cth;
	}
	/* without a token first: 401 where secured, and nothing done */
	if (scope != SCOPE_PUBLIC && scope != SCOPE_METRICS) {
		const char *none[] = { "Authorization:", cth, NULL };

		if (!ctype)
			none[1] = NULL;
		cr_assert(tu_http_request(w->port, method, url, body, len, none, &r), "%s", what);
		cr_expect_eq(r.status, 401, "%s without a token: %ld", what, r.status);
		check_reply(what, op, &r);
		tu_http_release(&r);
	}
	cr_assert(tu_http_request(w->port, method, url, body, body ? len : 0, hdr, &r), "%s",
		  what);
	cr_expect(r.status >= 200 && r.status < 300, "%s with its examples: %ld %.400s", what,
		  r.status, r.body);
	check_reply(what, op, &r);
	/* every job the walk made, to see it done: {"job": {"url": ...}} in a reply */
	{
		json_t *v = json_loads(r.body, 0, NULL);

		loc = json_string_value(json_object_get(json_object_get(v, "job"), "url"));
		if (loc && w->njobs < 16)
			w->jobs[w->njobs++] = strdup(loc);
		json_decref(v);
	}
	tu_http_release(&r);
	/* the CSV form where documented */
	if (success_offers(op, "text/csv")) {
		json_t *ex = NULL;
		const char *st;
		json_t *resp;

		snprintf(url, sizeof(url), "%s%s%sformat=csv", path, query, query[0] ? "&" : "?");
		cr_assert(tu_http_request(w->port, method, url, body, body ? len : 0, hdr, &r));
		cr_expect_eq(r.status, 200, "%s: %ld", url, r.status);
		check_reply(url, op, &r);
		json_object_foreach(json_object_get(op, "responses"), st, resp)
			if (!ex)
				ex = json_object_get(json_object_get(json_object_get(deref(resp), "content"),
								     "text/csv"),
						     "example");
		if (ex)
			cr_expect_eq(strncmp(r.body, json_string_value(ex),
					     strcspn(json_string_value(ex), "\n") + 1),
				     0, "%s: header line '%.*s', documented '%s'", url,
				     (int)strcspn(r.body, "\n"), r.body, json_string_value(ex));
		tu_http_release(&r);
	}
	/* an unknown query parameter is a 400 in the Error schema */
	snprintf(url, sizeof(url), "%s?bogus=1", path);
	cr_assert(tu_http_request(w->port, method, url, NULL, 0, NULL, &r));
	if (strcmp(method, "DELETE")) {
		cr_expect_eq(r.status, 400, "%s: %ld", url, r.status);
		check_reply(url, op, &r);
	}
	tu_http_release(&r);
	/* a path id that names nothing, with the example's query and body (so that only
	 * the id is wrong): 404 where the document says so */
	if (strchr(pattern, '{') && has_status(op, "404")) {
		example_path(pattern, op, params, strstr(pattern, "farms") ? "no-such-farm" : "999999",
			     path, sizeof(path));
		snprintf(url, sizeof(url), "%s%s", path, query);
		cr_assert(tu_http_request(w->port, method, url, body, body ? len : 0, hdr, &r));
		cr_expect_eq(r.status, 404, "%s: %ld %s", url, r.status, r.body);
		check_reply(url, op, &r);
		tu_http_release(&r);
	}
	free(body);
	json_decref(params);
}

/* Wait for every job the walk made; each must end done. */
static void wait_jobs(struct walker *w)
{
	for (int j = 0; j < w->njobs; j++) {
		json_t *job = tu_wait_job(w->port, w->jobs[j]);
		const char *state = json_string_value(json_object_get(job, "state"));

		cr_expect_str_eq(state, "done", "job %s ended %s", w->jobs[j], state);
		json_decref(job);
		free(w->jobs[j]);
		w->done++;
	}
	w->njobs = 0;
}

Test(openapi, walk_every_operation_against_the_server, .timeout = 600)
{
	struct walker w = { 0 };
	struct walk_op ops[64];
	size_t n = 0, k;
	const char *pattern;
	json_t *item;

	spec = load_spec();
	demo_store(&w);
	json_object_foreach(json_object_get(spec, "paths"), pattern, item) {
		for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			json_t *op = json_object_get(item, methods[k]);
			static char up[6][8];

			if (!op || n == 64)
				continue;
			for (size_t j = 0; (up[k][j] = (char)(methods[k][j] & ~0x20)); j++)
				;
			ops[n++] = (struct walk_op){ up[k], pattern, op,
						     (long)json_integer_value(json_object_get(
							     op, "x-windcast-walk")) };
		}
	}
	qsort(ops, n, sizeof(ops[0]), by_order);
	for (size_t i = 0; i < n; i++) {
		/* the jobs made so far end before anything is deleted under them */
		if (!strcmp(ops[i].method, "DELETE"))
			wait_jobs(&w);
		walk_one(&w, ops[i].method, ops[i].pattern, ops[i].op);
	}
	wait_jobs(&w);
	cr_expect_geq(w.done, 3, "the walk queued the upload, weather and training jobs");
	server_stop(w.srv);
	store_close(w.st);
	tu_rmrf_free(w.dir);
	json_decref(spec);
}
