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
 *   completed(): free the request (the only place).
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
#include <unistd.h>

#include "common/log.h"
#include "data/store.h"
#include "server/dispatch.h"
#include "server/handlers.h"
#include "server/jobs.h"
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
};

struct job_pool *server_jobs(struct server *srv)
{
	return srv->jobs;
}

const char *server_data_dir(struct server *srv)
{
	return store_dir(srv->store);
}

void server_config_init(struct server_config *cfg)
{
	cfg->listen = "127.0.0.1:8080";
	cfg->threads = 4;
	cfg->connection_limit = 256;
	cfg->connection_timeout_s = 30;
	cfg->connection_memory = 64 * 1024;
	cfg->shutdown_grace_s = 10;
	cfg->max_upload = (size_t)2 << 30;
	cfg->job_workers = 2;
}

/* ---- libmicrohttpd callbacks ---- */

/*
 * A request refused before its handler (404, 400, 413, ...) is answered once it is
 * complete, which keeps the connection alive: libmicrohttpd 0.9.75 closes a connection
 * whose reply was queued before the request was read. Only a body announced larger than
 * this (or chunked) is not worth reading to discard: that refusal goes at once.
 */
#define DISCARD_MAX (64 * 1024)

static MHD_Result_t send_reply(struct MHD_Connection *conn, struct reply *rep)
{
	struct MHD_Response *resp;
	MHD_Result_t ret;
	char *body = rep->text;
	size_t len = rep->text_len;
	const char *ctype = rep->content_type;

	if (!body) {
		if (rep->json) {
			body = json_dumps(rep->json, JSON_COMPACT | JSON_PRESERVE_ORDER |
							     JSON_REAL_PRECISION(10));
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
	if (rep->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
	if (rep->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location);
	for (int i = 0; i < rep->nheaders; i++)
		MHD_add_response_header(resp, rep->header[i].name, rep->header[i].value);
	ret = MHD_queue_response(conn, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static MHD_Result_t answer_now(struct request *req, struct reply *rep)
{
	MHD_Result_t ret = send_reply(req->conn, rep);

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
	struct reply rep = { .status = 200 };
	enum body_verdict v = BODY_REFUSE;
	size_t take;

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

/* Take one piece of the body: into memory or the upload file, enforcing the cap. */
static void body_add(struct request *req, const char *data, size_t n)
{
	if (!(req->route->flags & ROUTE_TO_FILE)) {
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
	req->conn = conn;
	req->srv = srv;
	req->store = srv->store;
	req->target = uri;
	req->target_len = strlen(uri);
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

/* The headers are in: route the request and apply the table's checks. */
static MHD_Result_t request_start(struct request *req, const char *method,
				  const char *version)
{
	struct reply rep = { .status = 200 };
	const struct route *r;
	const char *clen;
	char shown[128];

	/* in flight from here (server_stop waits for these), not while headers trickle in */
	atomic_fetch_add(&req->srv->inflight, 1);
	req->started = true;
	req->method = method;
	if (target_cut(req, version)) {
		reply_error(&rep, 400, "bad_request", "invalid path '%s...': it holds a NUL byte",
			    dispatch_show(shown, sizeof(shown), req->path, strlen(req->path)));
		return refuse(req, &rep);
	}
	if (!dispatch_framing_ok(req, &rep))
		return answer_now(req, &rep);	/* where the body ends is unknown: close */
	if (!(r = req->route = dispatch_route(req, &rep)))
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
	struct reply rep = { .status = 200 };

	if (!req)
		return MHD_NO;
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
	if (req->too_large) {
		reply_error(&rep, 413, "payload_too_large",
			    "request body exceeds the limit of %zu bytes for '%s'",
			    req->max_body, req->route->pattern);
		return answer_now(req, &rep);
	}
	if ((req->route->flags & ROUTE_TO_FILE) && upload_finish(req, &rep))
		return answer_now(req, &rep);
	req->route->handler(req, &rep);
	return answer_now(req, &rep);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct request *req = *con_cls;

	if (!req)
		return;
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

enum wc_status server_start(const struct server_config *cfg, struct store *store,
			    struct server **out, struct wc_error *err)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct server *srv;
	enum wc_status ret;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;

	*out = NULL;
	if ((ret = parse_listen(cfg->listen, &ss, err)))
		return ret;
	if (cfg->threads < 1 || cfg->threads > 256)
		return wc_error_set(err, WC_EINVAL, "invalid thread count %u: use 1-256",
				    cfg->threads);
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	srv->store = store;
	srv->cfg = *cfg;
	atomic_init(&srv->inflight, 0);
	/* (this runs again the jobs an earlier server left unfinished) */
	if ((ret = job_pool_start(&srv->jobs, store, cfg->job_workers, job_kinds, njob_kinds,
				  err))) {
		free(srv);
		return ret;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	flags |= MHD_USE_EPOLL;
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, answer, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->connection_memory,
		MHD_OPTION_URI_LOG_CALLBACK, request_begin, srv,
		MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
		MHD_OPTION_END);
	if (!srv->daemon) {
		job_pool_stop(srv->jobs);
		free(srv);
		return wc_error_set(err, WC_EHTTP,
				    "cannot listen on '%s': the address is in use, not local, "
				    "or not permitted",
				    cfg->listen);
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
	*out = srv;
	return WC_OK;
}

uint16_t server_port(const struct server *srv)
{
	return srv->port;
}

void server_stop(struct server *srv)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	unsigned waited_ms = 0;
	int fd;

	if (!srv)
		return;
	fd = MHD_quiesce_daemon(srv->daemon);
	if (fd >= 0)
		close(fd);
	while (atomic_load(&srv->inflight) > 0 &&
	       waited_ms < srv->cfg.shutdown_grace_s * 1000u) {
		nanosleep(&tick, NULL);
		waited_ms += 10;
	}
	MHD_stop_daemon(srv->daemon);
	job_pool_stop(srv->jobs);
	free(srv);
}
