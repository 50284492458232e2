/*
 * request.h - per-request state, the route table's shape and reply helpers that every
 * handler uses. A struct request lives in libmicrohttpd's request closure from the first
 * callback to the completion callback, which is the only place it is freed. The
 * functions are in server/request.c; the checks that run before a handler (declared
 * in the route table) in server/dispatch.c.
 */
#ifndef WC_REQUEST_H
#define WC_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/sha256.h"
#include "common/status.h"

struct MHD_Connection;
struct server;
struct cache;
struct held_body;
struct store;
struct job_pool;
struct conn_state;

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 128
#define ROUTE_PATH_MAX 1024	/* a longer (decoded) path matches no route: 404 */
#define ROUTE_PATH_OVERLONG ((size_t)-1)	/* request.path_len of such a path */
#define ROUTE_SNIFF_MAX (64 * 1024 + 8)	/* bytes of a body a route's sniff sees */

/*
 * Who may call a route (server/auth.h): the token's scope must be at least the route's;
 * read < write < admin. read: forecasts, commitments, listings; write: grids,
 * observations, training; admin: farms, portfolios, tokens.
 */
enum route_scope {
	SCOPE_PUBLIC = 0,	/* no token (health) */
	SCOPE_READ = 1,		/* = TOKEN_READ, ... */
	SCOPE_WRITE = 2,
	SCOPE_ADMIN = 3,
	SCOPE_METRICS = 4,	/* public, or read when the server runs with metrics_auth */
};

#define REPLY_MAX_HEADERS 6

/* How a JSON reply is serialised (json_dumps flags), held or not. */
#define REPLY_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

struct reply {
	unsigned status;
	struct held_body *held;	/* a reference; when set it is the whole reply (its status,
				 * type, headers and bytes) and the fields below are unused */
	json_t *json;		/* owned; sent when text is NULL */
	char *text;		/* owned, malloc'd; sent as is with content_type */
	size_t text_len;
	const char *content_type;
	char location[256];	/* Location header when not empty */
	struct {
		char name[32];
		char value[512];
	} header[REPLY_MAX_HEADERS];	/* more headers (reply_header) */
	int nheaders;
	char allow[64];		/* Allow header (405) when not empty */
};

struct request;
typedef void (*handler_fn)(struct request *req, struct reply *rep);

enum body_verdict { BODY_MORE, BODY_OK, BODY_REFUSE };

/*
 * A route's look at the start of a body as it streams in: `head` holds the first `len`
 * bytes. BODY_MORE asks for more; when `last` is true no more will come (the body ended,
 * or ROUTE_SNIFF_MAX bytes were seen) and the answer must be BODY_OK or BODY_REFUSE.
 * BODY_REFUSE fills rep (415, ...): the rest of the body is discarded and rep is the
 * answer once the upload ends; the handler never runs.
 */
typedef enum body_verdict (*sniff_fn)(struct request *req, const unsigned char *head,
				      size_t len, bool last, struct reply *rep);

/* max_body value meaning "the server's upload cap" (server_config.max_upload). */
#define ROUTE_UPLOAD_CAP ((size_t)-1)

enum {
	ROUTE_CSV = 1 << 0,	/* answers text/csv too (Accept: text/csv or ?format=csv) */
	ROUTE_TO_FILE = 1 << 1,	/* stream the body to a temporary file, not memory */
};

/*
 * One row of the route table (server/routes.c). Generic code (server/dispatch.c) checks
 * everything declared here before the handler runs:
 * - every {name} segment of the path against the id alphabet (farm_id_valid);
 * - `query`: the query parameters the route takes, space separated, each "name" or
 *   "name:kind" with kind `id` (checked like a path id) or `file` (a file name, no '/').
 *   An unknown or repeated parameter, one without a value, or a value with a NUL byte
 *   or invalid UTF-8 is a 400. ROUTE_CSV routes take `format` (json|csv) as well.
 * - Accept: satisfiable by application/json (or text/csv with ROUTE_CSV), else 406;
 * - `content_types` (space separated; NULL: any): a Content-Type not listed is a 415;
 * - `sniff` (ROUTE_TO_FILE routes): the first bytes of the body, as they arrive.
 */
struct route {
	const char *method;
	const char *pattern;	/* "/v1/farms/{id}": {name} matches one path segment */
	handler_fn handler;
	size_t max_body;	/* 0: the request must not have a body */
	enum route_scope scope;
	const char *query;	/* "" or NULL: none */
	unsigned flags;		/* ROUTE_* */
	const char *content_types;
	sniff_fn sniff;
};

struct request {
	struct MHD_Connection *conn;
	struct server *srv;
	struct store *store;
	const struct route *route;
	const char *method;
	const char *target;	/* the request target as libmicrohttpd first showed it: */
	size_t target_len;	/* compared with the version's place, never read later */
	char path[ROUTE_PATH_MAX + 1];	/* percent-decoded; may hold NUL bytes */
	size_t path_len;		/* ROUTE_PATH_OVERLONG when it did not fit */
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX];	/* path parameters, in order */
	size_t nparams;
	bool csv;		/* the representation negotiated (request_wants_csv) */
	bool started;		/* the access handler has seen the request */
	struct dynbuf body;	/* capped at route->max_body (not used when to_file) */
	size_t max_body;	/* the cap in force for this request */
	bool too_large;
	bool answered;		/* a reply was queued before the handler (early refusal) */
	/* a 4xx decided before the handler, sent once the request is complete */
	bool refused;
	struct reply refusal;
	/* the route's sniff: the first bytes of the body until it decides */
	unsigned char *head;	/* malloc'd, ROUTE_SNIFF_MAX; NULL once decided */
	size_t head_len;
	bool sniffed;
	/* to_file routes: the body on disk, its size and content hash. The completion
	 * callback unlinks upload_path unless the handler took it (set it to ""). */
	char upload_path[4096];
	int upload_fd;
	size_t upload_size;
	char upload_sha256[65];
	struct sha256 *upload_hash;
	bool upload_failed;
	/* access control, metrics and the access log (server.c, auth.c, metrics.c) */
	int64_t token_id;	/* the token that authorised the request; 0: none */
	char target_copy[257];	/* the target as sent, cut at 256 bytes (access log) */
	char id[33];		/* request id: X-Request-Id as sent (when fit) or made */
	uint64_t t_start_ns;	/* CLOCK_MONOTONIC when the request line was in */
	unsigned status;	/* the status sent; 0: none (connection dropped) */
	size_t bytes_out;	/* the body bytes sent */
	struct conn_state *conn_state;	/* the connection's limits (server/conn_guard.h) */
	size_t body_reserved;	/* bytes of the server's body memory this request holds */
	bool over_budget;	/* the server's body memory was full: 503 */
	const char *job_kind;	/* set by job_create_reply, for job_queue_reply */
};

/* Server-wide things a handler may use. */
struct job_pool *server_jobs(struct server *srv);
/* The server's held reply bodies (server/cache.h). */
struct cache *server_cache(struct server *srv);
const char *server_data_dir(struct server *srv);
struct access_log *server_access_log(struct server *srv);	/* NULL: none */
/* What GET /metrics shows beside the counters (server/metrics.h). */
struct metrics_gauges;
void server_gauges(struct server *srv, struct metrics_gauges *out);
/*
 * The token check of a found route, before its other checks (dispatch.c): the route's
 * scope against the request's token (server/auth.h), with the server's auth settings.
 * False with a 401, 403 or 503 in rep.
 */
bool server_authorize(struct request *req, const struct route *r, struct reply *rep);

/* The route table and its size (server/routes.c). */
extern const struct route routes[];
extern const size_t nroutes;

/*
 * An empty reply of `status`, without zeroing its header buffers (some 3 KB that most
 * replies never touch: every request builds a few struct reply).
 */
void reply_init(struct reply *rep, unsigned status);

/* Query argument or header value, NULL when absent. Owned by libmicrohttpd. */
const char *request_query(struct request *req, const char *key);
const char *request_header(struct request *req, const char *key);
/*
 * True when the reply should be CSV: the route offers it (ROUTE_CSV) and ?format=csv,
 * or no format and Accept prefers text/csv to application/json (q, then the more
 * specific range, then the one named first).
 */
bool request_wants_csv(struct request *req);

/*
 * Parse the body as JSON. On failure sets a 400 reply naming the line and column and
 * returns NULL; the caller just returns. Returns a new reference on success.
 */
json_t *request_json(struct request *req, struct reply *rep);

/* Reply `status` with `body` (reference stolen). */
void reply_json(struct reply *rep, unsigned status, json_t *body);
/* Reply `status` with text (copied) of the given content type. */
void reply_text(struct reply *rep, unsigned status, const char *content_type,
		const char *text, size_t len);
/*
 * Add the header "name: value" to the reply (at most REPLY_MAX_HEADERS; more are
 * dropped). The value is cut to 511 bytes and anything but printable ASCII becomes '?'.
 */
void reply_header(struct reply *rep, const char *name, const char *value);
/*
 * An error reply {"error":{"code":code,"message":...}}. Bytes of the message that are
 * not valid UTF-8 become '?', so that echoing a client's bytes never fails the reply.
 */
void reply_error(struct reply *rep, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error reply from a status record, picking the HTTP status that fits the code. */
void reply_wc_error(struct reply *rep, const struct wc_error *err);
/*
 * Reply with the held body b (the reference is taken over): its status, content type,
 * headers and bytes; headers added to rep afterwards are sent beside its own.
 */
void reply_held(struct reply *rep, struct held_body *b);
/*
 * Serialise rep (JSON or text, its status, content type and reply_header headers) into a
 * held body: rep then sends that body, and the caller gets a reference of its own to
 * hold (cache_put, then held_body_unref). NULL, rep unchanged, when out of memory.
 */
struct held_body *reply_hold(struct reply *rep);
/* Free what rep owns (its JSON and text); rep can be filled again. */
void reply_release(struct reply *rep);

/* ---- background jobs (server/h_jobs.c) ---- */

/*
 * Record a queued job of `kind` with `input` (reference stolen) in the store and set *id.
 * False with an error reply when it cannot be recorded.
 */
bool job_create_reply(struct request *req, struct reply *rep, const char *kind,
		      json_t *input, int64_t *id);
/* Mark job id failed with `why` and reply the error. */
void job_fail_reply(struct request *req, struct reply *rep, int64_t id,
		    const struct wc_error *why);
/*
 * Queue job id on the server's pool (arg owned by the pool from now, released with
 * `release`) and reply 202 {"status":"accepted", <extra's fields>, "job":{id,state,url}}
 * with a Location header; `extra` (stolen) may be NULL. False (job marked failed, error
 * reply) when the pool refuses it.
 */
bool job_queue_reply(struct request *req, struct reply *rep, int64_t id,
		     char *(*fn)(void *arg, struct store *st, int *failed), void *arg,
		     void (*release)(void *arg), json_t *extra);

#endif
