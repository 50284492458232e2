/*
 * server.c - libmicrohttpd daemon, request lifecycle and dispatch through the route table.
 *
 * Lifecycle of a request (libmicrohttpd calls answer() several times):
 *   1. first call: allocate struct request, match the route; unknown path -> 404, known
 *      path with another method -> 405 (+Allow), declared Content-Length over the
 *      route's cap -> 413. These replies are queued at once and the handler never runs.
 *   2. body calls: append to the capped body; past the cap the rest is discarded and
 *      the request is answered 413 when the upload ends.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "data/store.h"
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

/* ---- request helpers ---- */

const char *request_query(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *request_header(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

bool request_wants_csv(struct request *req)
{
	const char *fmt = request_query(req, "format");
	const char *accept = request_header(req, MHD_HTTP_HEADER_ACCEPT);

	if (fmt)
		return !strcmp(fmt, "csv");
	return accept && strstr(accept, "text/csv") != NULL;
}

json_t *request_json(struct request *req, struct reply *rep)
{
	json_error_t jerr;
	json_t *v;

	if (req->body.len == 0) {
		reply_error(rep, 400, "bad_request", "request body is empty: expected JSON");
		return NULL;
	}
	v = json_loadb(dynbuf_str(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		reply_error(rep, 400, "bad_request",
			    "malformed JSON at line %d column %d: %s", jerr.line,
			    jerr.column, jerr.text);
	return v;
}

void reply_json(struct reply *rep, unsigned status, json_t *body)
{
	json_decref(rep->json);
	rep->status = status;
	rep->json = body;
}

void reply_text(struct reply *rep, unsigned status, const char *content_type,
		const char *text, size_t len)
{
	free(rep->text);
	rep->status = status;
	rep->content_type = content_type;
	rep->text = malloc(len + 1);
	rep->text_len = rep->text ? len : 0;
	if (rep->text) {
		memcpy(rep->text, text, len);
		rep->text[len] = '\0';
	}
}

void reply_header(struct reply *rep, const char *name, const char *value)
{
	char *v;
	size_t i;

	if (rep->nheaders == REPLY_MAX_HEADERS)
		return;
	snprintf(rep->header[rep->nheaders].name, sizeof(rep->header[0].name), "%s", name);
	v = rep->header[rep->nheaders++].value;
	for (i = 0; value[i] && i + 1 < sizeof(rep->header[0].value); i++)
		v[i] = value[i] >= 0x20 && value[i] < 0x7f ? value[i] : '?';
	v[i] = '\0';
}

void reply_error(struct reply *rep, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(rep, status,
		   json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void reply_wc_error(struct reply *rep, const struct wc_error *err)
{
	static const struct {
		enum wc_status code;
		unsigned status;
		const char *name;
	} map[] = {
		{ WC_EINVAL, 400, "bad_request" },
		{ WC_EFORMAT, 400, "bad_request" },
		{ WC_ENOTFOUND, 404, "not_found" },
		{ WC_ENODATA, 409, "no_data" },
		{ WC_EEXIST, 409, "conflict" },
		{ WC_ETOOLARGE, 413, "payload_too_large" },
		{ WC_EUNSUPPORTED, 422, "unprocessable" },
		{ WC_EVERSION, 422, "unprocessable" },
		{ WC_ECHECKSUM, 422, "unprocessable" },
		{ WC_EBUSY, 503, "unavailable" },
	};
	unsigned status = 500;
	const char *name = "internal";

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].code == err->code) {
			status = map[i].status;
			name = map[i].name;
		}
	}
	if (status == 500)
		log_error("internal error: %s", wc_error_msg(err));
	reply_error(rep, status, name, "%s", wc_error_msg(err));
}

/* ---- routing ---- */

/*
 * Match `path` against `pattern`, capturing {name} segments into req->params.
 * A segment must be 1..ROUTE_PARAM_MAX-1 bytes.
 */
static bool match_pattern(const char *pattern, const char *path, struct request *req)
{
	const char *p = pattern, *u = path;
	size_t np = 0;

	while (*p && *u) {
		if (*p == '{') {
			const char *seg_end = strchr(u, '/');
			size_t len = seg_end ? (size_t)(seg_end - u) : strlen(u);

			if (len == 0 || len >= ROUTE_PARAM_MAX || np >= ROUTE_MAX_PARAMS)
				return false;
			if (req) {
				memcpy(req->params[np], u, len);
				req->params[np][len] = '\0';
			}
			np++;
			u += len;
			p = strchr(p, '}');
			if (!p)
				return false;
			p++;
		} else if (*p++ != *u++) {
			return false;
		}
	}
	if (*p || *u)
		return false;
	if (req)
		req->nparams = np;
	return true;
}

/* Find the route for method+path; *path_known tells whether any method matches. */
static const struct route *find_route(const char *method, const char *path,
				      struct request *req, bool *path_known,
				      char *allow, size_t allow_len)
{
	const struct route *found = NULL;

	*path_known = false;
	allow[0] = '\0';
	for (size_t i = 0; i < nroutes; i++) {
		if (!match_pattern(routes[i].pattern, path, NULL))
			continue;
		*path_known = true;
		if (strlen(allow) + strlen(routes[i].method) + 3 < allow_len) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, routes[i].method);
		}
		if (!found && !strcmp(routes[i].method, method)) {
			found = &routes[i];
			match_pattern(found->pattern, path, req);
		}
	}
	return found;
}

/* ---- libmicrohttpd callbacks ---- */

static MHD_Result_t send_reply(struct MHD_Connection *conn, struct reply *rep,
			       const char *allow)
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
	if (allow && allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (rep->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location);
	for (int i = 0; i < rep->nheaders; i++)
		MHD_add_response_header(resp, rep->header[i].name, rep->header[i].value);
	ret = MHD_queue_response(conn, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void reply_release(struct reply *rep)
{
	json_decref(rep->json);
	free(rep->text);
}

static MHD_Result_t answer_now(struct request *req, struct reply *rep, const char *allow)
{
	MHD_Result_t ret = send_reply(req->conn, rep, allow);

	req->answered = true;
	reply_release(rep);
	return ret;
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

/* Take one piece of the body: into memory or the upload file, enforcing the cap. */
static void body_add(struct request *req, const char *data, size_t n)
{
	if (!req->route->to_file) {
		if (dynbuf_add(&req->body, data, n) != WC_OK)
			req->too_large = true;
		return;
	}
	if (n > req->max_body - req->upload_size) {
		req->too_large = true;
		return;
	}
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

static MHD_Result_t answer(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct request *req = *con_cls;
	struct reply rep = { .status = 200 };

	if (!req) {
		char allow[128];
		bool path_known;
		const char *clen;

		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		atomic_fetch_add(&srv->inflight, 1);
		*con_cls = req;
		req->conn = conn;
		req->srv = srv;
		req->store = srv->store;
		req->method = method;
		req->url = url;
		req->route = find_route(method, url, req, &path_known, allow, sizeof(allow));
		if (!req->route) {
			if (path_known)
				reply_error(&rep, 405, "method_not_allowed",
					    "method %s is not allowed on '%s'; allowed: %s", method,
					    url, allow);
			else
				reply_error(&rep, 404, "not_found", "no route for '%s'", url);
			return answer_now(req, &rep, path_known ? allow : NULL);
		}
		req->max_body = req->route->max_body == ROUTE_UPLOAD_CAP ? srv->cfg.max_upload
									: req->route->max_body;
		dynbuf_init(&req->body, req->route->to_file ? 0 : req->max_body);
		clen = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen && strtoull(clen, NULL, 10) > req->max_body) {
			reply_error(&rep, 413, "payload_too_large",
				    "request body of %s bytes exceeds the limit of %zu for '%s'",
				    clen, req->max_body, req->route->pattern);
			return answer_now(req, &rep, NULL);
		}
		if (req->route->to_file && upload_open(req, &rep))
			return answer_now(req, &rep, NULL);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!req->answered && !req->too_large)
			body_add(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->answered)
		return MHD_YES;
	if (req->too_large) {
		reply_error(&rep, 413, "payload_too_large",
			    "request body exceeds the limit of %zu bytes for '%s'",
			    req->max_body, req->route->pattern);
		return answer_now(req, &rep, NULL);
	}
	if (req->route->to_file && upload_finish(req, &rep))
		return answer_now(req, &rep, NULL);
	req->route->handler(req, &rep);
	return answer_now(req, &rep, NULL);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct request *req = *con_cls;

	if (!req)
		return;
	dynbuf_release(&req->body);
	if (req->upload_fd > 0)
		close(req->upload_fd);
	if (req->upload_path[0])
		unlink(req->upload_path);
	if (req->upload_hash)
		sha256_release(req->upload_hash);
	free(req->upload_hash);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
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
	size_t stale = 0;

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
	if ((ret = store_job_fail_stale(store, &stale, err)) ||
	    (ret = job_pool_start(&srv->jobs, store, cfg->job_workers, err))) {
		free(srv);
		return ret;
	}
	if (stale)
		log_warn("%zu job(s) left unfinished by a previous server marked failed", stale);
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
