/*
 * fuzz_router.c - libFuzzer harness over the request router and the query check
 * (server/dispatch.h), the code between a raw request line and a handler.
 *
 * Input: "METHOD TARGET\nACCEPT\nCONTENT-TYPE" (missing lines: no such header). The
 * target's path is decoded by dispatch_decode_path as the server does; its query is
 * split at '&' and '=' and unescaped ('+' as a space, %HH as the byte) the way
 * libmicrohttpd hands it over, then given to query_check_param; then Accept and
 * Content-Type. Every reply built on the way is released. Checked: a refusal is a
 * 4xx with a JSON error body, a route's ids are valid farm ids.
 *
 * The router asks the server whether the request may go on (server_authorize, after
 * the route is found): the harness starts one real server, once, on an empty store in
 * a temporary directory, with tokens off (loopback), so that every route's own checks
 * are reached. The token check itself is tests/unit/test_http_hostile.c's.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "data/farm.h"
#include "data/store.h"
#include "server/dispatch.h"
#include "server/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static struct store *st;
static char dir[] = "/tmp/windcast-fuzz-router-XXXXXX";

/* At exit: the server, the store and its directory go. */
static void cleanup(void)
{
	char cmd[sizeof(dir) + 16];

	server_stop(srv);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_router: cannot remove '%s'\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	log_set_level(LOG_OFF);
	if (!mkdtemp(dir) || store_open(dir, &st, &err)) {
		fprintf(stderr, "fuzz_router: cannot make a store in '%s': %s\n", dir, err.msg);
		abort();
	}
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 1;
	cfg.job_workers = 1;
	cfg.auth = false;
	cfg.cache_bytes = 0;
	if (server_start(&cfg, st, &srv, &err)) {
		fprintf(stderr, "fuzz_router: cannot start a server: %s\n", err.msg);
		abort();
	}
	atexit(cleanup);
	return 0;
}

/* The next '\n'-ended field of data[*off..size) as a malloc'd C string (a NUL byte in
 * it ends it early, as libmicrohttpd's strings do). NULL past the end. */
static char *field(const uint8_t *data, size_t size, size_t *off)
{
	const uint8_t *nl;
	size_t n;
	char *s;

	if (*off > size || (*off == size && *off > 0))
		return NULL;
	nl = memchr(data + *off, '\n', size - *off);
	n = nl ? (size_t)(nl - (data + *off)) : size - *off;
	if (!(s = malloc(n + 1)))
		abort();
	memcpy(s, data + *off, n);
	s[n] = '\0';
	*off += n + 1;
	return s;
}

/* Unescape s[0..n) in place as libmicrohttpd does for arguments; the new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			s[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
			   isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			s[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	return o;
}

static void check_reply(struct reply *rep, const struct route *r)
{
	if (r)
		return;
	if (rep->status < 400 || rep->status > 499 || !rep->json ||
	    !json_object_get(json_object_get(rep->json, "error"), "code")) {
		fprintf(stderr, "refusal without a 4xx error body: %u\n", rep->status);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request *req = calloc(1, sizeof(*req));
	struct reply rep = { .status = 200 };
	const struct route *r;
	size_t off = 0;
	char *line = field(data, size, &off);
	char *accept = field(data, size, &off);
	char *ctype = field(data, size, &off);
	char *sp, *target, *query;
	struct query_check qc;

	log_set_level(LOG_OFF);
	if (!req || !line)
		abort();
	sp = strchr(line, ' ');
	target = sp ? sp + 1 : line + strlen(line);
	if (sp)
		*sp = '\0';
	req->method = line;
	req->srv = srv;
	dispatch_decode_path(req, target);
	r = dispatch_match(req, &rep);
	check_reply(&rep, r);
	if (r) {
		for (size_t i = 0; i < req->nparams; i++)
			if (!farm_id_valid(req->params[i]))
				abort();
		query_check_init(&qc, r, &rep);
		query = strchr(target, '?');
		for (char *p = query ? query + 1 : NULL; p && *p && !qc.failed;) {
			size_t n = strcspn(p, "&");
			char *amp = p[n] ? p + n : NULL, *eq;

			p[n] = '\0';
			eq = strchr(p, '=');
			if (eq)
				*eq = '\0';
			if (*p || eq) {
				size_t kl = unescape(p, strlen(p));
				size_t vl = eq ? unescape(eq + 1, strlen(eq + 1)) : 0;

				query_check_param(&qc, p, kl, eq ? eq + 1 : NULL, vl);
			}
			p = amp ? amp + 1 : NULL;
		}
		if (!qc.failed && dispatch_negotiate(req, r, accept, qc.format, &rep))
			dispatch_content_type_ok(r, ctype, &rep);
		if (rep.json)
			check_reply(&rep, NULL);
	}
	reply_release(&rep);
	free(line);
	free(accept);
	free(ctype);
	free(req);
	return 0;
}
