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

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct store;

struct server_config {
	const char *listen;		/* "HOST:PORT", "[V6]:PORT" or ":PORT"; port 0 = any */
	unsigned threads;		/* worker threads in the pool */
	unsigned connection_limit;	/* simultaneous connections */
	unsigned connection_timeout_s;	/* idle connection timeout */
	size_t connection_memory;	/* per-connection buffer memory (headers, etc.) */
	unsigned shutdown_grace_s;	/* how long stop waits for in-flight requests */
	size_t max_upload;		/* cap on uploaded files (POST /v1/grids) */
	unsigned job_workers;		/* background job threads (ingest, train) */
	size_t cache_bytes;		/* budget of held reply bodies; 0 holds none */
	unsigned cache_poll_ms;		/* how often to look for other processes' changes */
};

#define SERVER_CACHE_MB_DEFAULT 64
#define SERVER_CACHE_MB_MAX (64 * 1024)

/*
 * Defaults: 127.0.0.1:8080, 4 threads, 256 connections, 30 s, 64 KiB, 10 s grace,
 * 2 GiB uploads, 2 job workers, 64 MiB of held reply bodies (docs/serving.md), looking
 * for other processes' changes every 100 ms.
 */
void server_config_init(struct server_config *cfg);

struct server;

/*
 * Start serving `store` (borrowed: it must outlive the server). On success *out owns the
 * running server; stop and free it with server_stop. The caller should block SIGPIPE.
 */
enum wc_status server_start(const struct server_config *cfg, struct store *store,
			    struct server **out, struct wc_error *err);

/* The bound TCP port (useful with port 0). */
uint16_t server_port(const struct server *srv);

/*
 * Stop accepting connections, let in-flight requests finish (up to shutdown_grace_s),
 * then stop the threads and free the server. NULL is a no-op.
 */
void server_stop(struct server *srv);

#endif
