/*
 * test_auth.c - API tokens: their form and hash (against the FIPS 180-2 vector), the
 * records (only the hash is stored), and bearer auth on a real daemon: every route of
 * the table without a token, with too small a scope and with enough; malformed headers;
 * a token revoked by the CLI in another process failing at the next request; the token
 * routes; /metrics open or protected; auth off only on loopback.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "data/token.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"

static char *dir;
static struct store *st;
static struct server *srv;
static unsigned port;

static void start(bool auth, bool metrics_auth)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	cfg.auth = auth;
	cfg.metrics_auth = metrics_auth;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	port = server_port(srv);
}

static void setup(void)
{
	struct wc_error err = { 0 };

	dir = tu_tmpdir();
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	tu_auth(st);	/* token 1, admin */
	start(true, false);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

/* One request with `auth` as the whole Authorization line (NULL: none sent). */
static long call(const char *method, const char *path, const char *auth, const char *body,
		 struct tu_http *r)
{
	char line[256];
	const char *hdr[] = { line, NULL };

	snprintf(line, sizeof(line), "%s", auth ? auth : "Authorization:");
	cr_assert(tu_http_request(port, method, path, body, (size_t)-1, hdr, r), "%s %s", method,
		  path);
	return r->status;
}

static const char *bearer(const char *tok)
{
	static char b[8][128];
	static int i;
	char *p = b[i++ % 8];

	snprintf(p, 128, "Authorization: Bearer %s", tok);
	return p;
}

/* ---- tokens and their records ---- */

Test(token, hash_is_sha256_and_compare_is_exact)
{
	/* FIPS 180-2 appendix B.1: SHA-256("abc") */
	static const uint8_t abc[32] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
					 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
					 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
					 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
	uint8_t h[32], g[32];

	cr_assert(token_hash("abc", 3, h));
	cr_assert_eq(memcmp(h, abc, 32), 0);
	cr_assert(token_hash_equal(h, abc));
	memcpy(g, abc, 32);
	g[31] ^= 1;
	cr_assert_not(token_hash_equal(g, abc), "a difference in the last byte is seen");
	g[31] ^= 1;
	g[0] ^= 0x80;
	cr_assert_not(token_hash_equal(g, abc), "and in the first");
}

Test(token, generated_tokens_are_well_formed_and_distinct)
{
	static char toks[500][TOKEN_LEN + 1];
	int seen[256] = { 0 };

	for (int i = 0; i < 500; i++) {
		cr_assert_eq(token_generate(toks[i], NULL), WC_OK);
		cr_assert_eq(strlen(toks[i]), TOKEN_LEN);
		cr_assert(token_well_formed(toks[i], TOKEN_LEN), "'%s'", toks[i]);
		for (int j = 4; j < TOKEN_LEN; j++)
			seen[(unsigned char)toks[i][j]]++;
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(toks[i], toks[j]);
	}
	/* 500 x 42 full characters over 64 symbols: each about 328 times; none missing */
	for (const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	     *a; a++)
		cr_assert_gt(seen[(unsigned char)*a], 150, "'%c' seen %d times", *a,
			     seen[(unsigned char)*a]);
	cr_assert_not(token_well_formed("wct_short", 9));
	cr_assert_not(token_well_formed("xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 47));
	cr_assert_not(token_well_formed("wct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", 47));
}

/* The row of token id as stored, to show that only the hash is there. */
static void stored_row(const char *d, int64_t id, char *text, size_t cap, uint8_t hash[32])
{
	char path[4096];
	sqlite3 *db;
	sqlite3_stmt *s;

	snprintf(path, sizeof(path), "%s/windcast.db", d);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT name || scope || hint || created_at, hash "
					    "FROM tokens WHERE id = ?",
					-1, &s, NULL),
		     SQLITE_OK);
	sqlite3_bind_int64(s, 1, id);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	snprintf(text, cap, "%s", (const char *)sqlite3_column_text(s, 0));
	cr_assert_eq(sqlite3_column_bytes(s, 1), 32);
	memcpy(hash, sqlite3_column_blob(s, 1), 32);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

Test(token, store_keeps_only_the_hash_and_revokes)
{
	char *d = tu_tmpdir(), tok[TOKEN_LEN + 1], text[512];
	struct store *s;
	struct token_info info, *list;
	struct token_key *keys;
	struct wc_error err = { 0 };
	uint8_t stored[32], want[32];
	const uint64_t *gen;
	uint64_t g0;
	size_t n;

	cr_assert_eq(store_open(d, &s, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_token_generation_map(s, &gen, &err), WC_OK, "%s", err.msg);
	g0 = *gen;
	cr_assert_eq(store_token_create(s, TOKEN_WRITE, "desk 3", tok, &info, &err), WC_OK, "%s",
		     err.msg);
	cr_assert_gt(*gen, g0, "a new token moves the counter");
	cr_assert_str_eq(info.name, "desk 3");
	cr_assert_eq(info.scope, TOKEN_WRITE);
	cr_assert_str_eq(info.hint, tok + TOKEN_LEN - 4);
	stored_row(d, info.id, text, sizeof(text), stored);
	cr_assert(token_hash(tok, TOKEN_LEN, want));
	cr_assert_eq(memcmp(stored, want, 32), 0, "the stored hash is SHA-256 of the token");
	cr_assert_null(strstr(text, tok + 4), "no column holds the token");

	cr_assert_eq(store_token_keys(s, &keys, &n, &err), WC_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(keys[0].scope, TOKEN_WRITE);
	free(keys);

	g0 = *gen;
	cr_assert_eq(store_token_revoke(s, info.id, &info, &err), WC_OK);
	cr_assert_gt(info.revoked_at, 0);
	cr_assert_gt(*gen, g0, "a revoke moves the counter");
	cr_assert_eq(store_token_revoke(s, info.id, &info, &err), WC_OK, "revoking twice is fine");
	cr_assert_eq(store_token_keys(s, &keys, &n, &err), WC_OK);
	cr_assert_eq(n, 0, "a revoked token has no key");
	free(keys);
	cr_assert_eq(store_token_list(s, &list, &n, &err), WC_OK);
	cr_assert_eq(n, 1, "but stays listed");
	cr_assert_gt(list[0].revoked_at, 0);
	free(list);
	cr_assert_eq(store_token_revoke(s, 99, NULL, &err), WC_ENOTFOUND);
	cr_assert_eq(store_token_create(s, TOKEN_READ, "bad\nname", tok, NULL, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "invalid token name"), "%s", err.msg);
	cr_assert_eq(tok[0], '\0');
	store_token_generation_unmap(gen);
	store_close(s);
	tu_rmrf_free(d);
}

/* ---- bearer auth on the daemon ---- */

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 60);

/* The route's pattern with every {name} as "x1". */
static void concrete(const char *pattern, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 3 < cap; p++) {
		if (*p == '{') {
			memcpy(out + o, "x1", 2);
			o += 2;
			p = strchr(p, '}');
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

Test(auth, every_route_by_scope)
{
	static const char *const scopes[] = { NULL, "read", "write", "admin" };
	const char *tok[4] = { NULL };
	char path[256];
	struct tu_http r;

	for (int s = 1; s <= 3; s++)
		tok[s] = tu_token_make(st, scopes[s]);
	for (size_t i = 0; i < nroutes; i++) {
		const struct route *rt = &routes[i];
		int need = rt->scope == SCOPE_METRICS ? SCOPE_PUBLIC : (int)rt->scope;

		concrete(rt->pattern, path, sizeof(path));
		call(rt->method, path, NULL, NULL, &r);
		if (need == SCOPE_PUBLIC) {
			cr_expect_neq(r.status, 401, "%s %s is public", rt->method, path);
		} else {
			cr_expect_eq(r.status, 401, "%s %s without a token: %ld %s", rt->method, path,
				     r.status, r.body);
			cr_expect(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"windcast\""),
				  "%s %s: challenge: %s", rt->method, path, r.headers);
			cr_expect(strstr(r.body, "\"code\":\"unauthorized\""), "%s", r.body);
		}
		tu_http_release(&r);
		for (int s = 1; s <= 3; s++) {
			call(rt->method, path, bearer(tok[s]), NULL, &r);
			if (s < need) {
				cr_expect_eq(r.status, 403, "%s %s with %s: %ld %s", rt->method, path,
					     scopes[s], r.status, r.body);
				cr_expect(strstr(r.headers, "error=\"insufficient_scope\""), "%s",
					  r.headers);
				cr_expect(strstr(r.body, scopes[need]), "names the scope needed: %s",
					  r.body);
			} else {
				cr_expect(r.status != 401 && r.status != 403, "%s %s with %s: %ld %s",
					  rt->method, path, scopes[s], r.status, r.body);
			}
			tu_http_release(&r);
		}
	}
}

Test(auth, the_scopes_the_issue_names)
{
	/* read: forecasts, listings; write: grids, observations, training; admin: farms,
	 * tokens */
	static const struct {
		const char *method, *pattern;
		enum route_scope scope;
	} want[] = {
		{ "GET", "/v1/farms", SCOPE_READ },
		{ "GET", "/v1/farms/{id}/forecast", SCOPE_READ },
		{ "GET", "/v1/grids", SCOPE_READ },
		{ "GET", "/v1/jobs/{id}", SCOPE_READ },
		{ "POST", "/v1/grids", SCOPE_WRITE },
		{ "POST", "/v1/farms/{id}/observations", SCOPE_WRITE },
		{ "POST", "/v1/farms/{id}/train", SCOPE_WRITE },
		{ "POST", "/v1/farms", SCOPE_ADMIN },
		{ "PUT", "/v1/farms/{id}", SCOPE_ADMIN },
		{ "DELETE", "/v1/farms/{id}", SCOPE_ADMIN },
		{ "GET", "/v1/tokens", SCOPE_ADMIN },
		{ "POST", "/v1/tokens", SCOPE_ADMIN },
		{ "DELETE", "/v1/tokens/{id}", SCOPE_ADMIN },
		{ "GET", "/healthz", SCOPE_PUBLIC },
		{ "GET", "/metrics", SCOPE_METRICS },
	};

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		bool found = false;

		for (size_t i = 0; i < nroutes; i++) {
			if (strcmp(routes[i].method, want[k].method) ||
			    strcmp(routes[i].pattern, want[k].pattern))
				continue;
			found = true;
			cr_expect_eq(routes[i].scope, want[k].scope, "%s %s", want[k].method,
				     want[k].pattern);
		}
		cr_expect(found, "%s %s in the table", want[k].method, want[k].pattern);
	}
}

Test(auth, malformed_headers_and_unknown_tokens)
{
	const char *good = tu_token_make(st, "read");
	char lower[128], fake[TOKEN_LEN + 1], extra[160];
	struct tu_http r;
	static const char *const bad[] = {
		"Authorization: Bearer",
		"Authorization: Basic dXNlcjpwYXNz",
		"Authorization: Bearer wct_short",
		"Authorization: Bearer  ",
		"Authorization: wct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(call("GET", "/v1/farms", bad[i], NULL, &r), 401, "'%s': %ld %s", bad[i],
			     r.status, r.body);
		cr_assert(strstr(r.headers, "WWW-Authenticate: Bearer"), "%s", r.headers);
		tu_http_release(&r);
	}
	/* well formed, but no such token */
	cr_assert_eq(token_generate(fake, NULL), WC_OK);
	cr_assert_eq(call("GET", "/v1/farms", bearer(fake), NULL, &r), 401);
	cr_assert(strstr(r.headers, "error=\"invalid_token\""), "%s", r.headers);
	tu_http_release(&r);
	/* one character off */
	snprintf(fake, sizeof(fake), "%s", good);
	fake[10] = fake[10] == 'A' ? 'B' : 'A';
	cr_assert_eq(call("GET", "/v1/farms", bearer(fake), NULL, &r), 401);
	tu_http_release(&r);
	/* the scheme is case-insensitive (RFC 7235); trailing junk is not a token */
	snprintf(lower, sizeof(lower), "Authorization: bearer %s", good);
	cr_assert_eq(call("GET", "/v1/farms", lower, NULL, &r), 200, "%s", r.body);
	tu_http_release(&r);
	snprintf(extra, sizeof(extra), "Authorization: Bearer %s x", good);
	cr_assert_eq(call("GET", "/v1/farms", extra, NULL, &r), 401);
	tu_http_release(&r);
	/* 404 and 405 come before auth: the route table is public anyway */
	cr_assert_eq(call("GET", "/v1/nothing", NULL, NULL, &r), 404);
	tu_http_release(&r);
	cr_assert_eq(call("PATCH", "/v1/farms", NULL, NULL, &r), 405);
	tu_http_release(&r);
	/* a bad id from a stranger is 401, not 400: nothing is looked at before the token */
	cr_assert_eq(call("GET", "/v1/farms/BAD!", NULL, NULL, &r), 401);
	tu_http_release(&r);
}

Test(auth, revoked_by_the_cli_in_another_process_fails_at_the_next_request)
{
	char *out = NULL, *errs = NULL, tok[TOKEN_LEN + 2];
	struct tu_http r;

	cr_assert_eq(tu_cli(dir, &out, &errs, "token create --scope read --name desk"), 0, "%s",
		     errs);
	cr_assert_eq(strlen(out), TOKEN_LEN + 1, "the token alone on stdout: '%s'", out);
	snprintf(tok, sizeof(tok), "%.*s", TOKEN_LEN, out);
	cr_assert(strstr(errs, "scope read"), "details on stderr: %s", errs);
	free(out);
	free(errs);
	/* the server sees a token made by another process at once */
	cr_assert_eq(call("GET", "/v1/farms", bearer(tok), NULL, &r), 200, "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(call("GET", "/v1/farms", bearer(tok), NULL, &r), 200);
	tu_http_release(&r);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "token revoke 2"), 0, "%s", errs);
	cr_assert(strstr(errs, "token 2 'desk' revoked"), "%s", errs);
	free(errs);
	cr_assert_eq(call("GET", "/v1/farms", bearer(tok), NULL, &r), 401, "%s", r.body);
	tu_http_release(&r);
}

Test(auth, token_routes)
{
	const char *admin = tu_token();
	json_t *v;
	struct tu_http r;
	char url[64], made[TOKEN_LEN + 1];

	cr_assert_eq(call("POST", "/v1/tokens", bearer(admin), "{\"scope\":\"write\",\"name\":\"ci\"}",
			  &r),
		     201, "%s", r.body);
	cr_assert(strstr(r.headers, "Cache-Control: no-store"), "%s", r.headers);
	v = json_loads(r.body, 0, NULL);
	snprintf(made, sizeof(made), "%s", json_string_value(json_object_get(v, "token")));
	cr_assert(token_well_formed(made, strlen(made)), "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(v, "scope")), "write");
	snprintf(url, sizeof(url), "/v1/tokens/%lld",
		 (long long)json_integer_value(json_object_get(v, "id")));
	json_decref(v);
	tu_http_release(&r);
	/* it works, with its scope */
	cr_assert_eq(call("GET", "/v1/grids", bearer(made), NULL, &r), 200);
	tu_http_release(&r);
	cr_assert_eq(call("GET", "/v1/tokens", bearer(made), NULL, &r), 403);
	tu_http_release(&r);
	/* the list shows no token */
	cr_assert_eq(call("GET", "/v1/tokens", bearer(admin), NULL, &r), 200);
	cr_assert_null(strstr(r.body, "wct_"), "%s", r.body);
	cr_assert(strstr(r.body, "\"name\":\"ci\""), "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(call("DELETE", url, bearer(admin), NULL, &r), 200, "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(call("GET", "/v1/grids", bearer(made), NULL, &r), 401);
	tu_http_release(&r);
	/* bad requests */
	cr_assert_eq(call("POST", "/v1/tokens", bearer(admin), "{\"scope\":\"root\"}", &r), 400);
	cr_assert(strstr(r.body, "invalid scope 'root': use read, write or admin"), "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(call("POST", "/v1/tokens", bearer(admin), "{\"scope\":\"read\",\"ttl\":1}", &r),
		     400);
	cr_assert(strstr(r.body, "unknown field 'ttl'"), "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(call("DELETE", "/v1/tokens/999", bearer(admin), NULL, &r), 404);
	tu_http_release(&r);
}

Test(auth, metrics_open_or_protected)
{
	struct tu_http r;
	const char *rd = tu_token_make(st, "read");

	cr_assert_eq(call("GET", "/metrics", NULL, NULL, &r), 200);
	cr_assert(strstr(r.body, "windcast_http_requests_total"), "%.300s", r.body);
	tu_http_release(&r);
	server_stop(srv);
	start(true, true);
	cr_assert_eq(call("GET", "/metrics", NULL, NULL, &r), 401);
	tu_http_release(&r);
	cr_assert_eq(call("GET", "/metrics", bearer(rd), NULL, &r), 200);
	tu_http_release(&r);
	cr_assert_eq(call("GET", "/healthz", NULL, NULL, &r), 200, "health stays open");
	tu_http_release(&r);
}

Test(auth, auth_off_only_on_loopback)
{
	struct server_config cfg;
	struct server *other = NULL;
	struct wc_error err = { 0 };
	struct tu_http r;

	server_config_init(&cfg);
	cfg.auth = false;
	cfg.listen = "0.0.0.0:0";
	cr_assert_eq(server_start(&cfg, st, &other, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "auth off is refused on '0.0.0.0:0'"), "%s", err.msg);
	cfg.listen = "192.168.1.1:0";
	cr_assert_eq(server_start(&cfg, st, &other, &err), WC_EINVAL);
	cr_assert(server_listen_is_loopback("127.0.0.1:1"));
	cr_assert(server_listen_is_loopback("127.9.9.9:1"));
	cr_assert(server_listen_is_loopback("[::1]:1"));
	cr_assert(server_listen_is_loopback("localhost:1"));
	cr_assert_not(server_listen_is_loopback(":8080"));
	cr_assert_not(server_listen_is_loopback("[::]:1"));
	server_stop(srv);
	start(false, false);
	cr_assert_eq(call("POST", "/v1/farms", NULL,
			  "{\"id\":\"open\",\"name\":\"O\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}", &r),
		     201, "%s", r.body);
	tu_http_release(&r);
}
