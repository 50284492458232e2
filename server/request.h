/*
 * request.h - per-request state, the route table's shape and reply helpers that every
 * handler uses. A struct request lives in libmicrohttpd's request closure from the first
 * callback to the completion callback, which is the only place it is freed.
 */
#ifndef WC_REQUEST_H
#define WC_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/dynbuf.h"
#include "common/sha256.h"
#include "common/status.h"

struct MHD_Connection;
struct server;
struct store;
struct job_pool;

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 128

enum route_scope {
	SCOPE_PUBLIC,	/* no token needed (health, metrics) */
	SCOPE_READ,	/* NEEDSWORK: token auth lands with `windcast token` */
	SCOPE_WRITE,
};

#define REPLY_MAX_HEADERS 6

struct reply {
	unsigned status;
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
};

struct request;
typedef void (*handler_fn)(struct request *req, struct reply *rep);

/* max_body value meaning "the server's upload cap" (server_config.max_upload). */
#define ROUTE_UPLOAD_CAP ((size_t)-1)

struct route {
	const char *method;
	const char *pattern;	/* "/v1/farms/{id}": {name} matches one path segment */
	handler_fn handler;
	size_t max_body;	/* 0: the request must not have a body */
	enum route_scope scope;
	bool to_file;		/* stream the body to a temporary file, not memory */
};

struct request {
	struct MHD_Connection *conn;
	struct server *srv;
	struct store *store;
	const struct route *route;
	const char *method;
	const char *url;
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX];	/* path parameters, in order */
	size_t nparams;
	struct dynbuf body;	/* capped at route->max_body (not used when to_file) */
	size_t max_body;	/* the cap in force for this request */
	bool too_large;
	bool answered;		/* a reply was queued early (404/405/413) */
	/* to_file routes: the body on disk, its size and content hash. The completion
	 * callback unlinks upload_path unless the handler took it (set it to ""). */
	char upload_path[4096];
	int upload_fd;
	size_t upload_size;
	char upload_sha256[65];
	struct sha256 *upload_hash;
	bool upload_failed;
};

/* Server-wide things a handler may use. */
struct job_pool *server_jobs(struct server *srv);
const char *server_data_dir(struct server *srv);

/* The route table and its size (server/routes.c). */
extern const struct route routes[];
extern const size_t nroutes;

/* Query argument or header value, NULL when absent. Owned by libmicrohttpd. */
const char *request_query(struct request *req, const char *key);
const char *request_header(struct request *req, const char *key);
/* True when the client asked for CSV (Accept: text/csv or ?format=csv). */
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
/* An error reply {"error":{"code":code,"message":...}}. */
void reply_error(struct reply *rep, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error reply from a status record, picking the HTTP status that fits the code. */
void reply_wc_error(struct reply *rep, const struct wc_error *err);

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
