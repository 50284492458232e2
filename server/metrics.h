/*
 * metrics.h - the server's counters and histograms, rendered as Prometheus text
 * (GET /metrics, format 0.0.4).
 *
 * One registry per process (a server process serves one store), so that code far from
 * a request (a job, the held-body cache) counts without a handle, as Prometheus client
 * libraries do. Counting costs a few relaxed atomic additions on per-route arrays: no
 * lock, no allocation, nothing on a request path waits. Scrape-time figures (model age,
 * NWP run age, store size) are read from the store when /metrics is asked for.
 * (forecast/metrics.h, a different thing, scores forecasts against observations.)
 */
#ifndef WC_METRICS_H
#define WC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/status.h"

#define METRICS_MAX_ROUTES 64	/* route table rows that get their own series */
#define METRICS_MAX_JOB_KINDS 16

struct store;

/* Monotonic nanoseconds (CLOCK_MONOTONIC), the clock every duration here uses. */
uint64_t metrics_now_ns(void);

/* Stamp the process start (windcast_start_time_seconds); idempotent. */
void metrics_mark_start(void);

/*
 * One request done: `route` is its index in the route table, or -1 when none matched;
 * `ns` from the request line to the last byte sent.
 */
void metrics_count_request(int route, unsigned status, uint64_t ns);

/* A held reply body was served (hit) or had to be computed (miss): server/cache.c. */
void metrics_count_cache(bool hit);

/* One forecast computed (not read from the store or a held body), taking ns. */
void metrics_observe_forecast(uint64_t ns);

/*
 * A job of `kind` (a string with static storage: "ingest", "train", ...) ended, or was
 * refused because the queue was full (outcome "refused", ns 0). Outcomes: "done",
 * "failed", "refused". More than METRICS_MAX_JOB_KINDS kinds are counted as "other".
 */
void metrics_count_job(const char *kind, const char *outcome, uint64_t ns);

/* A connection cut by the server: "slow_headers", "slow_body", "slow_reply". */
enum cut_reason { CUT_SLOW_HEADERS, CUT_SLOW_BODY, CUT_SLOW_REPLY, CUT_NREASONS };
void metrics_count_cut(enum cut_reason why);
const char *metrics_cut_name(enum cut_reason why);

/* What only the server knows at scrape time. */
struct metrics_gauges {
	long inflight;		/* requests being handled */
	long connections;	/* open connections */
	long jobs_queued;	/* jobs waiting for a worker */
	long jobs_running;
};

/*
 * Append the whole exposition to out: every counter and histogram, the gauges in g,
 * and the store's figures (st may be NULL: left out). WC_ETOOLARGE when out's cap is
 * too small, the store's error when it cannot be read.
 */
enum wc_status metrics_render(struct store *st, const struct metrics_gauges *g,
			      struct dynbuf *out, struct wc_error *err);

#endif
