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
 * 406 (Accept) or 415 (Content-Type).
 */
const struct route *dispatch_route(struct request *req, struct reply *rep);

/*
 * Write the n bytes of s into out (cap bytes, NUL-terminated) for a message: printable
 * text and valid UTF-8 as is, every other byte (controls, NUL, '%', invalid UTF-8) as
 * %HH, as a URL would carry it; cut with "..." when it does not fit. Returns out.
 */
const char *dispatch_show(char *out, size_t cap, const char *s, size_t n);

#endif
