/*
 * server.c - libmicrohttpd daemon and the request lifecycle around the route table.
 *
 * Lifecycle of a request:
 *   0. request_begin() (URI log callback): allocate struct request, decode the path as
 *      sent (dispatch.c; libmicrohttpd's own unescaping would hide a %00).
 *   1. first answer() call, headers in: route and check the request (dispatch_route:
 *      404, 405, 400 for a bad id or query parameter, 406, 415), then a declared
 *      Content-Length over the route's cap (413). A refusal is queued when the request
 *      is complete (see DISCARD_MAX); its body is discarded and the handler never runs.
 *   2. body calls: append to the capped body or the upload file; past the cap the rest
 *      is discarded and the answer is 413. A route's sniff sees the first bytes and may
 *      refuse them (415 for an upload that is not NetCDF): the rest is discarded.
 *   3. last call: run the handler, queue its reply.
 *   completed(): count it (metrics), log it (access log), free it (the only place).
 *
 * Around it: the token check (server_authorize, called by dispatch_route once the route
 * is known), a request id (X-Request-Id), the connection's deadlines (conn_guard.c) and
 * a server-wide budget for bodies held in memory.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "data/store.h"
#include "server/access_log.h"
#include "server/auth.h"
#include "server/conn_guard.h"
#include "server/cache.h"
#include "server/dispatch.h"
#include "server/handlers.h"
#include "server/jobs.h"
#include "server/metrics.h"
#include "server/request.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

struct server {
	struct MHD_Daemon *daemon;
	struct store *store;
	struct server_config cfg;
	atomic_int inflight;	/* requests between first callback and completion */
	uint16_t port;
	struct job_pool *jobs;
	struct auth *auth;		/* NULL: auth off */
	struct conn_guard *guard;
	struct access_log *log;		/* NULL: no access log */
	_Atomic size_t body_bytes;	/* request bodies in memory now, all requests */
	_Atomic uint32_t next_id;	/* request ids: id_prefix, then this counter */
	uint32_t id_prefix;
	char *tls_cert, *tls_key;	/* PEM text: libmicrohttpd reads it at start */
	struct cache *cache;
};

struct job_pool *server_jobs(struct server *srv)
{
	return srv->jobs;
}

struct cache *server_cache(struct server *srv)
{
	return srv->cache;
}

const char *server_data_dir(struct server *srv)
{
	return store_dir(srv->store);
}

struct access_log *server_access_log(struct server *srv)
{
	return srv->log;
}

void server_gauges(struct server *srv, struct metrics_gauges *out)
{
	out->inflight = atomic_load(&srv->inflight);
	out->connections = conn_guard_count(srv->guard);
	out->jobs_queued = job_pool_queued(srv->jobs);
	out->jobs_running = job_pool_running(srv->jobs);
}

bool server_authorize(struct request *req, const struct route *r, struct reply *rep)
{
	int need = r->scope;

	if (need == SCOPE_METRICS)
		need = req->srv->cfg.metrics_auth ? SCOPE_READ : SCOPE_PUBLIC;
	return auth_request(req->srv->auth, req, need, rep);
}

void server_config_init(struct server_config *cfg)
{
	cfg->listen = "127.0.0.1:8080";
	cfg->threads = 4;
	cfg->connection_limit = 256;
	cfg->per_ip_limit = 128;
	cfg->connection_timeout_s = 30;
	cfg->connection_memory = 64 * 1024;
	cfg->body_memory = (size_t)256 << 20;
	cfg->shutdown_grace_s = 30;
	cfg->max_upload = (size_t)2 << 30;
	cfg->job_workers = 2;
	cfg->max_queued_jobs = 64;
	cfg->job_kinds = job_kinds;
	cfg->njob_kinds = njob_kinds;
	cfg->auth = true;
	cfg->metrics_auth = false;
	cfg->tls_cert = cfg->tls_key = NULL;
	cfg->access_log = NULL;
	cfg->cache_bytes = (size_t)SERVER_CACHE_MB_DEFAULT << 20;
	cfg->cache_poll_ms = 100;
}

/* ---- libmicrohttpd callbacks ---- */

/*
 * A request refused before its handler (404, 400, 413, ...) is answered once it is
 * complete, which keeps the connection alive: libmicrohttpd 0.9.75 closes a connection
 * whose reply was queued before the request was read. Only a body announced larger than
 * this (or chunked) is not worth reading to discard: that refusal goes at once.
 */
#define DISCARD_MAX (64 * 1024)

/* A held body's response is done with: drop the reference it kept. */
static void held_done(void *cls)
{
	held_body_unref(cls);
}

/* The response of a held body: its bytes shared, not copied, alive while it is sent. */
static struct MHD_Response *held_response(struct held_body *b)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
		b->len, (void *)b->data, held_done, b);

	if (!resp) {
		held_body_unref(b);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, b->content_type);
	for (int i = 0; i < b->nheaders; i++)
		MHD_add_response_header(resp, b->headers[i].name, b->headers[i].value);
	return resp;
}

static MHD_Result_t send_reply(struct request *req, struct reply *rep)
{
	struct MHD_Connection *conn = req->conn;
	struct MHD_Response *resp;
	MHD_Result_t ret;
	char *body = rep->text;
	size_t len = rep->text_len;
	const char *ctype = rep->content_type;

	if (rep->held) {
		len = rep->held->len;
		resp = held_response(rep->held);
		rep->held = NULL;	/* the response's now */
		if (!resp)
			return MHD_NO;
		goto headers;
	}
	if (!body) {
		if (rep->json) {
			body = json_dumps(rep->json, REPLY_JSON_FLAGS);
			if (body) {
				len = strlen(body);
				body[len] = '\0';
			}
		}
		ctype = "application/json";
		if (!body && rep->status != 204) {
			rep->status = 500;
			body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
			len = body ? strlen(body) : 0;
		}
	}
	rep->text = NULL;
	resp = MHD_create_response_from_buffer(body ? len : 0, body ? body : (void *)"",
					       body ? MHD_RESPMEM_MUST_FREE
						    : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (body && rep->status != 204)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					ctype ? ctype : "application/json");
headers:
	if (rep->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
	if (rep->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location);
	for (int i = 0; i < rep->nheaders; i++)
		MHD_add_response_header(resp, rep->header[i].name, rep->header[i].value);
	if (req->id[0])
		MHD_add_response_header(resp, "X-Request-Id", req->id);
	ret = MHD_queue_response(conn, rep->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES) {
		req->status = rep->status;
		req->bytes_out = len;
		conn_guard_set(req->srv->guard, req->conn_state, CONN_REPLY, metrics_now_ns(),
			       req->bytes_out);
	}
	return ret;
}

static MHD_Result_t answer_now(struct request *req, struct reply *rep)
{
	MHD_Result_t ret = send_reply(req, rep);

	req->answered = true;
	reply_release(rep);
	return ret;
}

/* Refuse the request with rep (taken over): now if its body is large, else when complete. */
static MHD_Result_t refuse(struct request *req, struct reply *rep)
{
	const char *clen = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (request_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	    (clen && strtoull(clen, NULL, 10) > DISCARD_MAX))
		return answer_now(req, rep);
	req->refusal = *rep;
	req->refused = true;
	return MHD_YES;
}

/* Close and remove the upload file (a refused body is not kept). */
static void upload_drop(struct request *req)
{
	if (req->upload_fd > 0)
		close(req->upload_fd);
	req->upload_fd = 0;
	if (req->upload_path[0])
		unlink(req->upload_path);
	req->upload_path[0] = '\0';
}

/* Create the temporary file for a to_file route; nonzero (with a reply) on failure. */
static int upload_open(struct request *req, struct reply *rep)
{
	int n = snprintf(req->upload_path, sizeof(req->upload_path),
			 "%s/tmp/upload-XXXXXX", store_dir(req->store));
	char tmpdir[4096];

	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", store_dir(req->store));
	mkdir(tmpdir, 0755);
	req->upload_hash = malloc(sizeof(*req->upload_hash));
	if (n >= (int)sizeof(req->upload_path) || !req->upload_hash ||
	    (req->upload_fd = mkstemp(req->upload_path)) < 0) {
		log_error("cannot create upload file in '%s': %s", tmpdir, strerror(errno));
		req->upload_path[0] = '\0';
		req->upload_fd = 0;
		reply_error(rep, 507, "insufficient_storage",
			    "cannot store the upload on the server; try again later");
		return -1;
	}
	sha256_init(req->upload_hash);
	return 0;
}

/*
 * Show the route's sniff the body's first bytes: data (n bytes) is the next piece,
 * `last` says the body ended. False when the body was refused: the upload file is gone
 * and the rest of the body is discarded.
 */
static bool sniff(struct request *req, const char *data, size_t n, bool last)
{
	struct reply rep;
	enum body_verdict v = BODY_REFUSE;
	size_t take;

	reply_init(&rep, 200);

	if (!req->head && !(req->head = malloc(ROUTE_SNIFF_MAX))) {
		reply_error(&rep, 503, "unavailable", "out of memory; try again later");
	} else {
		take = n < ROUTE_SNIFF_MAX - req->head_len ? n : ROUTE_SNIFF_MAX - req->head_len;
		if (take)
			memcpy(req->head + req->head_len, data, take);
		req->head_len += take;
		last = last || req->head_len == ROUTE_SNIFF_MAX;
		v = req->route->sniff(req, req->head, req->head_len, last, &rep);
		if (v == BODY_MORE && !last)
			return true;
	}
	free(req->head);
	req->head = NULL;
	req->sniffed = true;
	if (v != BODY_REFUSE)
		return true;
	req->refusal = rep;
	req->refused = true;
	upload_drop(req);
	return false;
}

/*
 * Count n more body bytes against the server's body memory: false (the request will be
 * answered 503) when all requests together would hold more than cfg.body_memory.
 */
static bool body_reserve(struct request *req, size_t n)
{
	size_t now;

	if (req->over_budget)
		return false;
	now = atomic_fetch_add(&req->srv->body_bytes, n) + n;
	if (now <= req->srv->cfg.body_memory) {
		req->body_reserved += n;
		return true;
	}
	/* the rest of this body is discarded: give everything back now */
	atomic_fetch_sub(&req->srv->body_bytes, n + req->body_reserved);
	req->body_reserved = 0;
	dynbuf_release(&req->body);
	req->over_budget = true;
	return false;
}

/* Take one piece of the body: into memory or the upload file, enforcing the cap. */
static void body_add(struct request *req, const char *data, size_t n)
{
	conn_guard_set(req->srv->guard, req->conn_state, CONN_BODY, metrics_now_ns(),
		       req->body.len + req->upload_size + n);
	if (!(req->route->flags & ROUTE_TO_FILE)) {
		if (!body_reserve(req, n))
			return;
		if (dynbuf_add(&req->body, data, n) != WC_OK)
			req->too_large = true;
		return;
	}
	if (n > req->max_body - req->upload_size) {
		req->too_large = true;
		return;
	}
	if (req->route->sniff && !req->sniffed && !sniff(req, data, n, false))
		return;
	if (req->upload_failed)
		return;
	sha256_update(req->upload_hash, data, n);
	req->upload_size += n;
	while (n > 0) {
		ssize_t w = write(req->upload_fd, data, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("cannot write upload '%s': %s", req->upload_path,
				  strerror(errno));
			req->upload_failed = true;
			return;
		}
		data += w;
		n -= (size_t)w;
	}
}

/* Close the upload file and compute its hash; nonzero (with a reply) on failure. */
static int upload_finish(struct request *req, struct reply *rep)
{
	int rc = close(req->upload_fd);

	req->upload_fd = 0;
	if (req->upload_failed || rc != 0) {
		reply_error(rep, 507, "insufficient_storage",
			    "cannot store the upload on the server (disk full?); try again later");
		return -1;
	}
	if (sha256_final_hex(req->upload_hash, req->upload_sha256) != WC_OK) {
		reply_error(rep, 500, "internal", "cannot hash the upload: out of memory");
		return -1;
	}
	return 0;
}

/*
 * libmicrohttpd's first callback of a request, with the request target as sent (before
 * it unescapes it in place, which would hide a %00). The request's state starts here;
 * what this returns is the request closure, freed by completed() alone.
 */
static void *request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct server *srv = cls;
	struct request *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;	/* answer() drops the connection */
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	req->t_start_ns = metrics_now_ns();
	req->conn_state = ci ? ci->socket_context : NULL;
	conn_guard_set(srv->guard, req->conn_state, CONN_HEADERS, req->t_start_ns, 0);
	req->conn = conn;
	req->srv = srv;
	req->store = srv->store;
	req->target = uri;
	req->target_len = strlen(uri);
	if (srv->log)
		snprintf(req->target_copy, sizeof(req->target_copy), "%s", uri);
	dispatch_decode_path(req, uri);
	return req;
}

/*
 * True when the request line held a raw NUL byte in its target. libmicrohttpd (0.9.75)
 * hands every callback the target as a C string, so `DELETE /v1/farms/big<NUL>zzz`
 * reads as /v1/farms/big; but the version still starts where the line put it, one
 * space after the whole target. Only the two pointers are compared (within the
 * connection's buffer), nothing is read through them.
 */
static bool target_cut(const struct request *req, const char *version)
{
	uintptr_t v = (uintptr_t)version, end = (uintptr_t)req->target + req->target_len + 1;

	return version && v > end && v - end < 64 * 1024;
}

/*
 * The request's id: the client's X-Request-Id when it is 1-32 characters of
 * [A-Za-z0-9._-] (a proxy's id carries through), else 16 hex digits made here.
 */
static void request_id(struct request *req)
{
	static const char hex[] = "0123456789abcdef";
	const char *given = request_header(req, "X-Request-Id");
	uint64_t v;

	if (given) {
		size_t n = strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789._-");

		if (n > 0 && n < sizeof(req->id) && !given[n]) {
			memcpy(req->id, given, n + 1);
			return;
		}
	}
	v = (uint64_t)req->srv->id_prefix << 32 | atomic_fetch_add(&req->srv->next_id, 1);
	for (int i = 15; i >= 0; i--, v >>= 4)
		req->id[i] = hex[v & 15];
	req->id[16] = '\0';
}

/* The headers are in: route the request and apply the table's checks. */
static MHD_Result_t request_start(struct request *req, const char *method,
				  const char *version)
{
	struct reply rep;
	const struct route *r;
	const char *clen;
	char shown[128];

	reply_init(&rep, 200);
	/* in flight from here (server_stop waits for these), not while headers trickle in */
	atomic_fetch_add(&req->srv->inflight, 1);
	req->started = true;
	req->method = method;
	request_id(req);
	conn_guard_set(req->srv->guard, req->conn_state, CONN_BODY, metrics_now_ns(), 0);
	if (target_cut(req, version)) {
		reply_error(&rep, 400, "bad_request", "invalid path '%s...': it holds a NUL byte",
			    dispatch_show(shown, sizeof(shown), req->path, strlen(req->path)));
		return refuse(req, &rep);
	}
	if (!dispatch_framing_ok(req, &rep))
		return answer_now(req, &rep);	/* where the body ends is unknown: close */
	/* a refused request keeps the route it matched (req->route), for the metrics */
	if (!(r = dispatch_route(req, &rep)))
		return refuse(req, &rep);
	req->max_body = r->max_body == ROUTE_UPLOAD_CAP ? req->srv->cfg.max_upload : r->max_body;
	dynbuf_init(&req->body, (r->flags & ROUTE_TO_FILE) ? 0 : req->max_body);
	clen = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen && strtoull(clen, NULL, 10) > req->max_body) {
		reply_error(&rep, 413, "payload_too_large",
			    "request body of %s bytes exceeds the limit of %zu for '%s'", clen,
			    req->max_body, r->pattern);
		return refuse(req, &rep);
	}
	if ((r->flags & ROUTE_TO_FILE) && upload_open(req, &rep))
		return refuse(req, &rep);
	return MHD_YES;
}

static MHD_Result_t answer(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	struct request *req = *con_cls;
	struct reply rep;

	if (!req)
		return MHD_NO;
	reply_init(&rep, 200);
	if (!req->started)
		return request_start(req, method, version);
	if (*upload_data_size) {
		if (!req->answered && !req->refused && !req->too_large)
			body_add(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->answered)
		return MHD_YES;
	if (!req->refused && !req->too_large && req->route->sniff && !req->sniffed)
		sniff(req, NULL, 0, true);
	if (req->refused)
		return answer_now(req, &req->refusal);
	if (req->over_budget) {
		reply_error(&rep, 503, "unavailable",
			    "the server holds too many request bodies (%zu MiB); try again later",
			    req->srv->cfg.body_memory >> 20);
		reply_header(&rep, "Retry-After", "2");
		return answer_now(req, &rep);
	}
	if (req->too_large) {
		reply_error(&rep, 413, "payload_too_large",
			    "request body exceeds the limit of %zu bytes for '%s'",
			    req->max_body, req->route->pattern);
		return answer_now(req, &rep);
	}
	if ((req->route->flags & ROUTE_TO_FILE) && upload_finish(req, &rep))
		return answer_now(req, &rep);
	conn_guard_set(req->srv->guard, req->conn_state, CONN_HANDLER, 0, 0);
	req->route->handler(req, &rep);
	return answer_now(req, &rep);
}

/* Count and log a finished request; its connection waits for the next one. */
static void request_done(struct server *srv, struct request *req,
			 enum MHD_RequestTerminationCode toe)
{
	uint64_t now = metrics_now_ns(), ns = now - req->t_start_ns;
	unsigned status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? req->status : 0;
	int route = req->route ? (int)(req->route - routes) : -1;

	if (req->body_reserved)
		atomic_fetch_sub(&srv->body_bytes, req->body_reserved);
	conn_guard_set(srv->guard, req->conn_state, CONN_IDLE, now, 0);
	if (!req->started)
		return;	/* headers never came in: nothing to count */
	metrics_count_request(route, status, ns);
	if (srv->log) {
		struct access_entry e = {
			.id = req->id, .method = req->method,
			.route = req->route ? req->route->pattern : "", .target = req->target_copy,
			.status = status, .bytes = status ? req->bytes_out : 0, .ns = ns,
			.client = req->conn_state ? req->conn_state->client : "?",
			.token = req->token_id,
		};

		access_log_request(srv->log, &e);
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct request *req = *con_cls;

	if (!req)
		return;
	request_done(srv, req, toe);
	dynbuf_release(&req->body);
	upload_drop(req);
	reply_release(&req->refusal);
	free(req->head);
	if (req->upload_hash)
		sha256_release(req->upload_hash);
	free(req->upload_hash);
	if (req->started)
		atomic_fetch_sub(&srv->inflight, 1);
	free(req);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warn("http: %s", msg);
}

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address. */
static enum wc_status parse_listen(const char *s, struct sockaddr_storage *ss,
				   struct wc_error *err)
{
	char host[128];
	const char *colon;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		goto bad;
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (!host[0])
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (!strcmp(host, "localhost"))
			a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			goto bad;
	}
	return WC_OK;
bad:
	return wc_error_set(err, WC_EINVAL,
			    "invalid listen address '%s': use HOST:PORT, [IPV6]:PORT or :PORT", s);
}

bool server_listen_is_loopback(const char *listen)
{
	struct sockaddr_storage ss;

	if (parse_listen(listen, &ss, NULL))
		return false;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

#define TLS_FILE_MAX (1 << 20)

/* Read a PEM file whole into *out (malloc'd, NUL-terminated); `what` names the option. */
static enum wc_status read_pem(const char *path, const char *what, char **out,
			       struct wc_error *err)
{
	struct dynbuf b;
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "rb");

	*out = NULL;
	if (!f)
		return wc_error_set(err, WC_EIO, "cannot read %s '%s': %s", what, path,
				    strerror(errno));
	dynbuf_init(&b, TLS_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (dynbuf_add(&b, chunk, n)) {
			fclose(f);
			dynbuf_release(&b);
			return wc_error_set(err, WC_ETOOLARGE, "cannot read %s '%s': over %d bytes",
					    what, path, TLS_FILE_MAX);
		}
	}
	fclose(f);
	if (!b.len || !strstr(dynbuf_str(&b), "-----BEGIN ")) {
		dynbuf_release(&b);
		return wc_error_set(err, WC_EFORMAT, "cannot read %s '%s': not a PEM file", what,
				    path);
	}
	*out = dynbuf_detach(&b, NULL);
	return *out ? WC_OK : wc_error_set(err, WC_ENOMEM, "out of memory");
}

/* The checks and files of the settings that need them, before anything starts. */
static enum wc_status check_config(const struct server_config *cfg, struct server *srv,
				   struct wc_error *err)
{
	enum wc_status ret;

	if (cfg->threads < 1 || cfg->threads > 256)
		return wc_error_set(err, WC_EINVAL, "invalid thread count %u: use 1-256",
				    cfg->threads);
	if (!cfg->auth && !server_listen_is_loopback(cfg->listen))
		return wc_error_set(err, WC_EINVAL,
				    "auth off is refused on '%s': without tokens anyone who reaches "
				    "the address could change the store; listen on 127.0.0.1 or "
				    "::1, or keep auth on",
				    cfg->listen);
	if (!cfg->tls_cert != !cfg->tls_key)
		return wc_error_set(err, WC_EINVAL,
				    "TLS needs both --tls-cert and --tls-key (only %s was given)",
				    cfg->tls_cert ? "--tls-cert" : "--tls-key");
	if (!cfg->tls_cert)
		return WC_OK;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return wc_error_set(err, WC_EUNSUPPORTED,
				    "cannot serve TLS: this libmicrohttpd was built without "
				    "GnuTLS; install a build with TLS or put a TLS proxy in front");
	if ((ret = read_pem(cfg->tls_cert, "--tls-cert", &srv->tls_cert, err)) ||
	    (ret = read_pem(cfg->tls_key, "--tls-key", &srv->tls_key, err)))
		return ret;
	return WC_OK;
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct server *srv = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_guard_opened(srv->guard, conn, socket_context);
	else
		conn_guard_closed(srv->guard, socket_context);
}

/* Free what server_start made (the daemon is stopped, the jobs joined). */
static void server_free(struct server *srv)
{
	cache_free(srv->cache);		/* stops its warm thread before the store goes */
	conn_guard_stop(srv->guard);
	access_log_close(srv->log);
	auth_free(srv->auth);
	free(srv->tls_cert);
	free(srv->tls_key);
	free(srv);
}

enum wc_status server_start(const struct server_config *cfg, struct store *store,
			    struct server **out, struct wc_error *err)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct server *srv;
	enum wc_status ret;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	uint32_t prefix = 0;

	*out = NULL;
	if ((ret = parse_listen(cfg->listen, &ss, err)))
		return ret;
	if (nroutes > METRICS_MAX_ROUTES)
		return wc_error_set(err, WC_EINTERNAL, "%zu routes: raise METRICS_MAX_ROUTES",
				    nroutes);
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	srv->store = store;
	srv->cfg = *cfg;
	atomic_init(&srv->inflight, 0);
	metrics_mark_start();
	while (getrandom(&prefix, sizeof(prefix), 0) < 0 && errno == EINTR)
		;
	srv->id_prefix = prefix;
	if ((ret = check_config(cfg, srv, err)) ||
	    (cfg->auth && (ret = auth_start(&srv->auth, store, err))) ||
	    (ret = access_log_open(&srv->log, cfg->access_log, err)) ||
	    (ret = conn_guard_start(&srv->guard, cfg->connection_timeout_s, srv->log, err)) ||
	    (ret = cache_new(store, cfg->cache_bytes, &srv->cache, err))) {
		server_free(srv);
		return ret;
	}
	/* (this runs again the jobs an earlier server left unfinished) */
	if ((ret = job_pool_start(&srv->jobs, store, cfg->job_workers, cfg->job_kinds, cfg->njob_kinds,
				  err))) {
		server_free(srv);
		return ret;
	}
	job_pool_set_observer(srv->jobs, job_observe, srv->log);
	job_pool_set_limit(srv->jobs, cfg->max_queued_jobs);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	flags |= MHD_USE_EPOLL;
	if (srv->tls_cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0,
		  (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ MHD_OPTION_END, 0, NULL },
	};
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, answer, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->connection_memory,
		MHD_OPTION_URI_LOG_CALLBACK, request_begin, srv,
		MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
		MHD_OPTION_ARRAY, srv->tls_cert ? tls : tls + 3,
		MHD_OPTION_END);
	if (!srv->daemon) {
		job_pool_stop(srv->jobs);
		ret = srv->tls_cert
			      ? wc_error_set(err, WC_EHTTP,
					     "cannot listen on '%s' with TLS: the address is in "
					     "use, or '%s' and '%s' are not a matching certificate "
					     "and private key",
					     cfg->listen, cfg->tls_cert, cfg->tls_key)
			      : wc_error_set(err, WC_EHTTP,
					     "cannot listen on '%s': the address is in use, not "
					     "local, or not permitted",
					     cfg->listen);
		server_free(srv);
		return ret;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
	if (!cfg->auth)
		log_warn("auth is off: every request on '%s' may read and change the store "
			 "(allowed on loopback only)",
			 cfg->listen);
	access_log_event(srv->log, "start",
			 json_pack("{s:s,s:i,s:b,s:b}", "listen", cfg->listen, "port",
				   (int)srv->port, "tls", srv->tls_cert != NULL, "auth", cfg->auth));
	if (cfg->cache_bytes &&
	    (ret = cache_warm_start(srv->cache, forecast_warm, store, cfg->cache_poll_ms, err))) {
		server_stop(srv);
		return ret;
	}
	*out = srv;
	return WC_OK;
}

uint16_t server_port(const struct server *srv)
{
	return srv->port;
}

/* Stop taking connections and wait (up to the grace period) for in-flight requests;
 * returns the milliseconds waited. */
static unsigned quiesce(struct server *srv)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	unsigned waited_ms = 0;
	int fd;

	if (!srv->daemon)
		return 0;	/* stopped already (server_shutdown, then server_stop) */
	/*
	 * The listen socket is ours from here, but closed only after MHD_stop_daemon: with a
	 * thread pool and epoll, each worker takes it out of its epoll set when it next wakes
	 * (libmicrohttpd 0.9.75), and one that finds it closed already panics (abort). A
	 * SIGTERM under load hit that: exit 134 instead of 0.
	 */
	fd = MHD_quiesce_daemon(srv->daemon);
	while (atomic_load(&srv->inflight) > 0 &&
	       waited_ms < srv->cfg.shutdown_grace_s * 1000u) {
		nanosleep(&tick, NULL);
		waited_ms += 10;
	}
	if (atomic_load(&srv->inflight) > 0)
		log_warn("%d request(s) still in flight after the %u s grace period: cut",
			 atomic_load(&srv->inflight), srv->cfg.shutdown_grace_s);
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	if (fd >= 0)
		close(fd);
	return waited_ms;
}

void server_stop(struct server *srv)
{
	if (!srv)
		return;
	quiesce(srv);
	job_pool_stop(srv->jobs);
	access_log_event(srv->log, "stop", NULL);
	server_free(srv);
}

unsigned server_shutdown(struct server *srv)
{
	unsigned waited, left, running;

	if (!srv)
		return 0;
	waited = quiesce(srv);
	left = srv->cfg.shutdown_grace_s * 1000u;
	left = waited < left ? left - waited : 0;
	running = job_pool_drain(srv->jobs, left);
	if (running) {
		log_warn("%u job(s) still running after the %u s grace period: left unfinished "
			 "(the store keeps the state before them)",
			 running, srv->cfg.shutdown_grace_s);
		access_log_event(srv->log, "stop",
				 json_pack("{s:I}", "jobs_unfinished", (json_int_t)running));
		access_log_flush(srv->log);
		return running;
	}
	job_pool_stop(srv->jobs);
	access_log_event(srv->log, "stop", NULL);
	server_free(srv);
	return 0;
}

void server_reload(struct server *srv)
{
	struct wc_error err = { 0 };

	auth_reload(srv->auth);
	if (access_log_reopen(srv->log, &err))
		log_error("%s", wc_error_msg(&err));
	/* settings may have changed under the held replies: drop them all */
	if (store_gen_bump(srv->store, STORE_SUBJECT_NWP, &err))
		log_error("cannot drop the held replies: %s", wc_error_msg(&err));
	log_info("reloaded: API tokens are read again at the next request, access log "
		 "reopened, held replies dropped");
	access_log_event(srv->log, "reload", NULL);
}
