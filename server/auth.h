/*
 * auth.h - bearer tokens on the HTTP API: which request may run which route.
 *
 * Every route declares a scope (server/request.h); a request to a route that is not
 * public must carry `Authorization: Bearer TOKEN` with a token (data/token.h) of at
 * least that scope: read < write < admin. Without a usable token the answer is 401 with
 * a `WWW-Authenticate: Bearer` challenge (RFC 6750); with too small a scope, 403. The
 * check runs before any handler, after the route is found (so 404 and 405 come first:
 * the route table is public in docs/openapi.yaml anyway).
 *
 * Cost: the store is not read per request. The keys of the working tokens are held in
 * memory and reloaded when the store's token counter (DIR/tokens.gen, mapped shared)
 * moves, which every token change in any process does after its commit: a token
 * revoked by `windcast token revoke` in another process fails at the server's next
 * request. The keys are also reloaded every AUTH_RELOAD_S seconds and on auth_reload
 * (SIGHUP), for a change made behind windcast's back. A check is a SHA-256 of the
 * token, an atomic load, and a binary search under a read lock.
 */
#ifndef WC_AUTH_H
#define WC_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

#define AUTH_RELOAD_S 60

struct auth;
struct store;
struct request;
struct reply;

/* Start checking tokens of `st` (borrowed, must outlive *out). WC_EIO when the token
 * counter file cannot be mapped. */
enum wc_status auth_start(struct auth **out, struct store *st, struct wc_error *err);
/* Free; NULL is fine. */
void auth_free(struct auth *a);
/* Reload the keys at the next check (SIGHUP). */
void auth_reload(struct auth *a);

/*
 * Check req's Authorization header against scope `need` (an enum route_scope; public:
 * nothing to check). True: the request may go on, and req->token_id is the token's id
 * (0 when none was needed or `a` is NULL: auth is off). False: rep holds the 401, 403,
 * or 503 when the keys cannot be read (fail closed).
 */
bool auth_request(struct auth *a, struct request *req, int need, struct reply *rep);

#endif
