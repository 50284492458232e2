/*
 * dispatch.h - from a raw HTTP request to a row of the route table, or to the 4xx
 * that says why not, before any handler runs (the checks request.h's struct route
 * declares). Used by server.c only; handlers see the result in struct request.
 *
 * The path is decoded here, not by libmicrohttpd: its in-place unescaping ends the C
 * string at a %00, which made `DELETE /v1/farms/big%00zzz` act on farm 'big'. Here a
 * NUL byte stays part of the segment it is in, and that segment then fails the id check.
 */
#ifndef WC_DISPATCH_H
#define WC_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/request.h"

/*
 * Percent-decode the path of `raw_uri` (the request target as sent, up to its '?')
 * into req->path and req->path_len (ROUTE_PATH_OVERLONG when longer than
 * ROUTE_PATH_MAX). %HH becomes the byte HH, anything else stays as is.
 */
void dispatch_decode_path(struct request *req, const char *raw_uri);

/*
 * Find req's route (req->method, req->path) and apply the route's declared checks:
 * the token (server_authorize: 401, 403), then path ids, query parameters, Accept,
 * Content-Type. Returns the route with req->route, req->params, req->nparams and
 * req->csv set; or NULL with rep filled: 400 (a bad id, path or query parameter), 401
 * or 403 (token), 404 (no route), 405 (another method; rep->allow lists the methods),
 * 406 (Accept) or 415 (Content-Type). It is the steps below, fed from
 * libmicrohttpd's view of the request (its parsed query arguments and headers); they
 * are public so that a harness (tests/fuzz/fuzz_router.c) can drive them without a
 * connection.
 */
const struct route *dispatch_route(struct request *req, struct reply *rep);

/*
 * Step 1: the route of req->method and req->path, with the path ids checked and copied
 * to req->params (req->nparams); NULL with rep filled (400, 404, 405) when none fits.
 */
const struct route *dispatch_match(struct request *req, struct reply *rep);

/* Step 2: the query parameters of route r, given one at a time (key and value as sent
 * after unescaping; value NULL for a key without '='). */
struct query_check {
	const struct route *route;
	struct reply *rep;
	uint32_t seen;		/* bit i: the i-th declared parameter was given */
	const char *format;	/* ?format= on a ROUTE_CSV route (borrowed from the value) */
	bool failed;
};

void query_check_init(struct query_check *qc, const struct route *r, struct reply *rep);
/*
 * Check one parameter: declared by the route (or format on a ROUTE_CSV route), given
 * once, with a value without NUL bytes in valid UTF-8 that fits its kind (id, file
 * name, json|csv). False with a 400 in qc->rep (and qc->failed set) otherwise.
 */
bool query_check_param(struct query_check *qc, const char *key, size_t klen,
		       const char *value, size_t vlen);

/*
 * Step 3: decide req->csv from ?format= (`format`, NULL when not given; it wins) or the
 * Accept header (`accept`, NULL when absent); false with a 406 in rep when Accept takes
 * nothing route r answers.
 */
bool dispatch_negotiate(struct request *req, const struct route *r, const char *accept,
			const char *format, struct reply *rep);

/* Step 4: the Content-Type header (`ctype`, NULL when absent) is one route r takes;
 * false with a 415 in rep otherwise. */
bool dispatch_content_type_ok(const struct route *r, const char *ctype, struct reply *rep);

/*
 * The body's length is told once: false with a 400 in rep when the headers hold more
 * than one Content-Length, or a Content-Length beside a Transfer-Encoding (RFC 9112
 * 6.3: a proxy in front could take the other one and pass a second request hidden in
 * this one's body). Such a request is answered at once and its connection closed.
 */
bool dispatch_framing_ok(struct request *req, struct reply *rep);

/*
 * Write the n bytes of s into out (cap bytes, NUL-terminated) for a message: printable
 * text and valid UTF-8 as is, every other byte (controls, NUL, '%', invalid UTF-8) as
 * %HH, as a URL would carry it; cut with "..." when it does not fit. Returns out.
 */
const char *dispatch_show(char *out, size_t cap, const char *s, size_t n);

#endif
