/*
 * metrics.c - the process-wide counters and their Prometheus text (metrics.h).
 *
 * Every counter is an _Atomic uint64_t added to with relaxed order: the figures of one
 * scrape are each exact, though not a snapshot taken at one instant. Durations are kept
 * in nanoseconds and shown in seconds.
 */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/utc.h"
#include "data/store.h"
#include "forecast/replay.h"
#include "server/request.h"

#ifndef WINDCAST_VERSION
#define WINDCAST_VERSION "0.1.0"
#endif

/* Upper bounds of the duration buckets, in ns (+Inf implied after the last). */
static const uint64_t bucket_ns[] = {
	100000,    250000,    500000,     1000000,    2500000,    5000000,
	10000000,  25000000,  50000000,   100000000,  250000000,  500000000,
	1000000000, 2500000000, 10000000000,
};
#define NBUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]) + 1)

/* Statuses counted on their own; anything else is "other". */
static const unsigned statuses[] = { 200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 406,
				     408, 409, 413, 414, 415, 422, 429, 431, 500, 503, 507 };
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1)

struct histogram {
	_Atomic uint64_t bucket[NBUCKETS];	/* not cumulative; summed at render */
	_Atomic uint64_t sum_ns;
};

struct route_counters {
	_Atomic uint64_t status[NSTATUS];
	struct histogram latency;
};

struct job_counters {
	_Atomic(const char *) kind;	/* NULL: slot free */
	_Atomic uint64_t done, failed, refused;
	struct histogram duration;
};

static struct {
	_Atomic int64_t start_time;
	struct route_counters route[METRICS_MAX_ROUTES + 1];	/* last: no route matched */
	_Atomic uint64_t cache_hit, cache_miss;
	struct histogram forecast;
	struct job_counters job[METRICS_MAX_JOB_KINDS + 1];	/* last: "other" */
	_Atomic uint64_t cut[CUT_NREASONS];
} m;

static const char *const cut_names[] = { "slow_headers", "slow_body", "slow_reply" };

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_mark_start(void)
{
	int64_t zero = 0;

	atomic_compare_exchange_strong(&m.start_time, &zero, utc_now());
}

static void observe(struct histogram *h, uint64_t ns)
{
	size_t b = 0;

	while (b < NBUCKETS - 1 && ns > bucket_ns[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static size_t status_index(unsigned status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_count_request(int route, unsigned status, uint64_t ns)
{
	struct route_counters *r =
		&m.route[route >= 0 && route < METRICS_MAX_ROUTES ? route : METRICS_MAX_ROUTES];

	atomic_fetch_add_explicit(&r->status[status_index(status)], 1, memory_order_relaxed);
	observe(&r->latency, ns);
}

void metrics_count_cache(bool hit)
{
	atomic_fetch_add_explicit(hit ? &m.cache_hit : &m.cache_miss, 1, memory_order_relaxed);
}

void metrics_observe_forecast(uint64_t ns)
{
	observe(&m.forecast, ns);
}

/* The slot of kind: found, or claimed when free; "other" when all are taken. */
static struct job_counters *job_slot(const char *kind)
{
	for (size_t i = 0; i < METRICS_MAX_JOB_KINDS; i++) {
		const char *k = atomic_load(&m.job[i].kind);

		if (!k) {
			const char *expect = NULL;

			if (atomic_compare_exchange_strong(&m.job[i].kind, &expect, kind))
				return &m.job[i];
			k = expect;	/* another thread took the slot: maybe for this kind */
		}
		if (!strcmp(k, kind))
			return &m.job[i];
	}
	return &m.job[METRICS_MAX_JOB_KINDS];
}

void metrics_count_job(const char *kind, const char *outcome, uint64_t ns)
{
	struct job_counters *j = job_slot(kind);

	if (!strcmp(outcome, "refused")) {
		atomic_fetch_add_explicit(&j->refused, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(strcmp(outcome, "done") ? &j->failed : &j->done, 1,
				  memory_order_relaxed);
	observe(&j->duration, ns);
}

void metrics_count_cut(enum cut_reason why)
{
	if ((unsigned)why < CUT_NREASONS)
		atomic_fetch_add_explicit(&m.cut[why], 1, memory_order_relaxed);
}

const char *metrics_cut_name(enum cut_reason why)
{
	return (unsigned)why < CUT_NREASONS ? cut_names[why] : "other";
}

/* ---- rendering ---- */

static uint64_t get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/*
 * Append to the exposition. A failed append (cap or memory) empties b and sets its cap
 * to 0, so that every later one fails too and metrics_render reports it once.
 */
__attribute__((format(printf, 2, 3))) static void put(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	enum wc_status rc;

	va_start(ap, fmt);
	rc = dynbuf_vprintf(b, fmt, ap);
	va_end(ap);
	if (rc) {
		dynbuf_release(b);
		b->max = 0;
	}
}

static void head(struct dynbuf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series; `labels` is "" or `name="value",...` (no braces). */
static void histogram(struct dynbuf *b, const char *name, const char *labels,
		      struct histogram *h)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";

	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += get(&h->bucket[i]);
		if (i < NBUCKETS - 1)
			put(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
				      (double)bucket_ns[i] / 1e9, (unsigned long long)cum);
		else
			put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				      (unsigned long long)cum);
	}
	put(b, "%s_sum%s%s%s %.9f\n", name, labels[0] ? "{" : "", labels,
		      labels[0] ? "}" : "", (double)get(&h->sum_ns) / 1e9);
	put(b, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
		      labels[0] ? "}" : "", (unsigned long long)cum);
}

/* `method="GET",route="/v1/farms/{id}"` of route index i (the last: no route). */
static void route_labels(size_t i, char *out, size_t cap)
{
	if (i < nroutes && i < METRICS_MAX_ROUTES)
		snprintf(out, cap, "method=\"%s\",route=\"%s\"", routes[i].method,
			 routes[i].pattern);
	else
		snprintf(out, cap, "method=\"\",route=\"(none)\"");
}

static void render_requests(struct dynbuf *b)
{
	size_t nr = nroutes < METRICS_MAX_ROUTES ? nroutes : METRICS_MAX_ROUTES;
	char labels[256];

	head(b, "windcast_http_requests_total", "counter",
	     "HTTP requests answered, by route of the route table and status");
	for (size_t i = 0; i <= nr; i++) {
		size_t ri = i < nr ? i : METRICS_MAX_ROUTES;

		route_labels(ri, labels, sizeof(labels));
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t v = get(&m.route[ri].status[s]);

			if (!v)
				continue;
			if (s < NSTATUS - 1)
				put(b, "windcast_http_requests_total{%s,status=\"%u\"} %llu\n",
					      labels, statuses[s], (unsigned long long)v);
			else
				put(b, "windcast_http_requests_total{%s,status=\"other\"} "
						 "%llu\n", labels, (unsigned long long)v);
		}
	}
	head(b, "windcast_http_request_duration_seconds", "histogram",
	     "time from the request line to the last byte of the reply");
	for (size_t i = 0; i <= nr; i++) {
		size_t ri = i < nr ? i : METRICS_MAX_ROUTES;

		route_labels(ri, labels, sizeof(labels));
		histogram(b, "windcast_http_request_duration_seconds", labels,
			  &m.route[ri].latency);
	}
}

static void render_jobs(struct dynbuf *b)
{
	char labels[96];

	head(b, "windcast_jobs_total", "counter",
	     "background jobs by kind and outcome (refused: the queue was full)");
	for (size_t i = 0; i <= METRICS_MAX_JOB_KINDS; i++) {
		const char *k = i < METRICS_MAX_JOB_KINDS ? atomic_load(&m.job[i].kind) : "other";

		if (!k || (i == METRICS_MAX_JOB_KINDS && !get(&m.job[i].duration.sum_ns) &&
			   !get(&m.job[i].refused) && !get(&m.job[i].done) &&
			   !get(&m.job[i].failed)))
			continue;
		put(b, "windcast_jobs_total{kind=\"%s\",outcome=\"done\"} %llu\n", k,
			      (unsigned long long)get(&m.job[i].done));
		put(b, "windcast_jobs_total{kind=\"%s\",outcome=\"failed\"} %llu\n", k,
			      (unsigned long long)get(&m.job[i].failed));
		put(b, "windcast_jobs_total{kind=\"%s\",outcome=\"refused\"} %llu\n", k,
			      (unsigned long long)get(&m.job[i].refused));
	}
	head(b, "windcast_job_duration_seconds", "histogram", "run time of finished jobs");
	for (size_t i = 0; i <= METRICS_MAX_JOB_KINDS; i++) {
		const char *k = i < METRICS_MAX_JOB_KINDS ? atomic_load(&m.job[i].kind) : "other";

		if (!k || (i == METRICS_MAX_JOB_KINDS && !get(&m.job[i].done) &&
			   !get(&m.job[i].failed)))
			continue;
		snprintf(labels, sizeof(labels), "kind=\"%s\"", k);
		histogram(b, "windcast_job_duration_seconds", labels, &m.job[i].duration);
	}
}

static void gauge(struct dynbuf *b, const char *name, const char *help, double v)
{
	head(b, name, "gauge", help);
	put(b, "%s %.17g\n", name, v);
}

static enum wc_status render_store(struct store *st, struct dynbuf *b, struct wc_error *err)
{
	struct store_stats s;
	int64_t now = utc_now();
	enum wc_status ret;

	if ((ret = store_stats(st, &s, err)))
		return ret;
	head(b, "windcast_store_bytes", "gauge", "bytes on disk: the database, the raw grid files");
	put(b, "windcast_store_bytes{part=\"database\"} %lld\n",
		      (long long)s.db_bytes);
	put(b, "windcast_store_bytes{part=\"grids\"} %lld\n", (long long)s.grid_bytes);
	if (s.latest_ref_time)
		gauge(b, "windcast_nwp_run_age_seconds",
		      "seconds since the reference time of the newest NWP run",
		      (double)(now - s.latest_ref_time));
	if (s.latest_ingested_at)
		gauge(b, "windcast_nwp_last_ingest_age_seconds",
		      "seconds since the newest run (forecast or analysis) was ingested",
		      (double)(now - s.latest_ingested_at));
	head(b, "windcast_model_age_seconds", "gauge", "seconds since each farm's newest model "
						       "was trained");
	for (size_t i = 0; i < s.nmodels; i++)
		put(b, "windcast_model_age_seconds{farm=\"%s\",version=\"%d\"} %lld\n",
			      s.models[i].farm_id, s.models[i].version,
			      (long long)(now - s.models[i].created_at));
	store_stats_release(&s);
	return WC_OK;
}

enum wc_status metrics_render(struct store *st, const struct metrics_gauges *g,
			      struct dynbuf *out, struct wc_error *err)
{
	uint64_t replay_hit, replay_miss;
	enum wc_status ret;

	head(out, "windcast_build_info", "gauge", "the windcast version serving");
	put(out, "windcast_build_info{version=\"%s\",schema=\"%d\"} 1\n",
		      WINDCAST_VERSION, store_schema_version());
	gauge(out, "windcast_start_time_seconds", "when the server started (Unix time)",
	      (double)atomic_load(&m.start_time));
	render_requests(out);
	if (g) {
		gauge(out, "windcast_http_requests_in_flight", "requests being handled",
		      (double)g->inflight);
		gauge(out, "windcast_http_connections_open", "open client connections",
		      (double)g->connections);
		gauge(out, "windcast_jobs_queued", "jobs waiting for a worker",
		      (double)g->jobs_queued);
		gauge(out, "windcast_jobs_running", "jobs being run", (double)g->jobs_running);
	}
	head(out, "windcast_http_connections_cut_total", "counter",
	     "connections the server closed on a slow client");
	for (int i = 0; i < CUT_NREASONS; i++)
		put(out, "windcast_http_connections_cut_total{reason=\"%s\"} %llu\n",
			      cut_names[i], (unsigned long long)get(&m.cut[i]));
	head(out, "windcast_held_body_requests_total", "counter",
	     "requests for a reply body held in memory: served from it (hit) or computed (miss)");
	put(out, "windcast_held_body_requests_total{result=\"hit\"} %llu\n",
		      (unsigned long long)get(&m.cache_hit));
	put(out, "windcast_held_body_requests_total{result=\"miss\"} %llu\n",
		      (unsigned long long)get(&m.cache_miss));
	replay_cache_counts(&replay_hit, &replay_miss);
	head(out, "windcast_adaptation_replay_requests_total", "counter",
	     "a forecast's online adaptation replay: the points kept in memory reused (hit) or "
	     "replayed from the store (miss)");
	put(out, "windcast_adaptation_replay_requests_total{result=\"hit\"} %llu\n",
	    (unsigned long long)replay_hit);
	put(out, "windcast_adaptation_replay_requests_total{result=\"miss\"} %llu\n",
	    (unsigned long long)replay_miss);
	head(out, "windcast_forecast_compute_seconds", "histogram",
	     "time to compute one forecast (not read from the store)");
	histogram(out, "windcast_forecast_compute_seconds", "", &m.forecast);
	render_jobs(out);
	if (st && (ret = render_store(st, out, err)))
		return ret;
	if (out->max == 0)
		return wc_error_set(err, WC_ETOOLARGE, "cannot render the metrics: out of room");
	return WC_OK;
}
