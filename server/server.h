/*
 * server.h - the HTTP API daemon (libmicrohttpd, internal thread pool).
 *
 * Limits are fixed at start (connection count, per-connection timeout and memory, the
 * per-route body caps in server/routes.c); generic code answers unknown routes (404),
 * wrong methods (405) and oversized bodies (413) before any handler runs. Replies are
 * JSON, errors `{"error":{"code":"...","message":"..."}}`.
 */
#ifndef WC_SERVER_H
#define WC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct store;

struct server_config {
	const char *listen;		/* "HOST:PORT", "[V6]:PORT" or ":PORT"; port 0 = any */
	unsigned threads;		/* worker threads in the pool */
	unsigned connection_limit;	/* simultaneous connections */
	unsigned per_ip_limit;		/* simultaneous connections from one address */
	unsigned connection_timeout_s;	/* idle timeout, and the slow-client deadlines
					   (server/conn_guard.h) */
	size_t connection_memory;	/* per-connection buffer memory (headers, etc.) */
	size_t body_memory;		/* request bodies held in memory, all requests
					   together: past it a request gets 503 */
	unsigned shutdown_grace_s;	/* how long stop waits for requests and jobs */
	size_t max_upload;		/* cap on uploaded files (POST /v1/grids) */
	unsigned job_workers;		/* background job threads (ingest, train) */
	unsigned max_queued_jobs;	/* jobs waiting for a worker: past it, 503 */
	bool auth;			/* bearer tokens on /v1 (false: only on loopback) */
	bool metrics_auth;		/* GET /metrics needs a read token */
	const char *tls_cert;		/* PEM files: HTTPS when both are set */
	const char *tls_key;
	const char *access_log;		/* FILE, "-" (standard output) or "off" (NULL) */
	size_t cache_bytes;		/* budget of held reply bodies; 0 holds none */
	unsigned cache_poll_ms;		/* how often to look for other processes' changes */
};

#define SERVER_CACHE_MB_DEFAULT 64
#define SERVER_CACHE_MB_MAX (64 * 1024)

/*
 * Defaults: 127.0.0.1:8080, 4 threads, 256 connections, 128 per address, 30 s, 64 KiB
 * per connection, 256 MiB of bodies, 30 s grace, 2 GiB uploads, 2 job workers, 64
 * queued jobs, auth on, /metrics open, no TLS, no access log, 64 MiB of held reply
 * bodies (docs/serving.md), looking for other processes' changes every 100 ms.
 */
void server_config_init(struct server_config *cfg);

/* True when the listen address is a loopback one (127.0.0.0/8, ::1, localhost). */
bool server_listen_is_loopback(const char *listen);

struct server;

/*
 * Start serving `store` (borrowed: it must outlive the server). On success *out owns the
 * running server; stop and free it with server_stop. The caller should block SIGPIPE.
 * Refused (WC_EINVAL, naming the option): auth off on an address that is not loopback,
 * one TLS file without the other; WC_EUNSUPPORTED when TLS is asked of a libmicrohttpd
 * built without it; WC_EIO naming a TLS or access log file that cannot be read or opened.
 */
enum wc_status server_start(const struct server_config *cfg, struct store *store,
			    struct server **out, struct wc_error *err);

/* The bound TCP port (useful with port 0). */
uint16_t server_port(const struct server *srv);

/*
 * Stop accepting connections, let in-flight requests finish (up to shutdown_grace_s),
 * then stop the threads, wait for running jobs and free the server. NULL is a no-op.
 */
void server_stop(struct server *srv);

/*
 * The graceful stop of a process that will exit (SIGTERM): like server_stop, but
 * running jobs get only what is left of the grace period. Returns how many were still
 * running then: 0, and the server is freed; more, and the server is left as it is,
 * its jobs running: the caller must end the process at once (_exit) without touching
 * the store (or, in a test, call server_stop, which waits for them). Each job writes in one transaction, so the store is consistent either way,
 * as after a crash; the unfinished jobs are handled at the next start.
 */
unsigned server_shutdown(struct server *srv);

/*
 * SIGHUP: reload what can change without a restart - the API tokens (re-read at the
 * next request), the access log file (reopened, after logrotate), and any reply held in
 * memory (dropped, so that a model trained by another process is served at once).
 * Logs what it did; a file that cannot be reopened is reported and the old one kept.
 */
void server_reload(struct server *srv);

#endif
