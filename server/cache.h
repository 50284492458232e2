/*
 * cache.h - reply bodies held in memory, and the generations that say when one is stale.
 *
 * A held body is a reply serialised once: status, content type, headers and bytes,
 * immutable from its creation and reference counted, so that every response that sends
 * it shares the one copy and a response still in flight keeps it alive after the cache
 * dropped it. A reader never sees a half-built body: a body is complete before it is
 * published, and replacing it publishes another.
 *
 * The cache maps a key (the handler's normal form of a request: resource, representation,
 * parameters) to a held body, the subjects it was computed from (data/store.h
 * generations: "farm:<id>", "nwp", ...) with the generation each had, and an optional
 * expiry time. cache_get answers a body only when none of its subjects has moved since
 * and it has not expired: it first polls the store's generations through a watch of the
 * calling thread's own (one PRAGMA data_version when nothing was committed), so a change
 * committed before the request came, by this process or another one, is never missed.
 *
 * Memory: bodies, keys and entries count against the budget given at creation; the
 * least recently used entries go first. A body larger than the budget is not held;
 * budget 0 holds nothing (every request computes).
 *
 * Warming: cache_warm_start runs a thread that calls the warm function after
 * generations moved (at once after this process's commits, through store_on_change;
 * within poll_ms of another process's) and when the UTC hour turns, so that what is
 * asked for most (latest forecasts) is computed when its inputs change, not when asked.
 *
 * Threads: every function may be called from any thread.
 */
#ifndef WC_CACHE_H
#define WC_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct store;

struct held_header {
	const char *name;
	const char *value;
};

struct held_body {
	atomic_uint refs;
	unsigned status;
	const char *content_type;	/* into the body's own block */
	int nheaders;
	struct held_header *headers;	/* (nheaders) into the body's own block */
	size_t len;
	size_t cost;			/* bytes allocated for it */
	const char *data;		/* (len) bytes, NUL after them */
};

/*
 * A held body with a copy of data (len bytes), content_type and headers[0..n), one
 * reference owned by the caller. NULL when out of memory.
 */
struct held_body *held_body_new(unsigned status, const char *content_type, const char *data,
				size_t len, const struct held_header *headers, int n);
struct held_body *held_body_ref(struct held_body *b);
/* Drop a reference; the last frees the body. NULL is a no-op. */
void held_body_unref(struct held_body *b);

/* Where the calling thread's view of the generations stood when it looked (cache_get). */
struct cache_stamp {
	uint64_t seq;	/* every move up to this one has been seen */
	bool ok;	/* false: the generations could not be read, hold nothing */
};

struct cache;

/*
 * A cache of at most `budget` bytes over st (borrowed; it must outlive the cache).
 * *out owned by the caller (cache_free).
 */
enum wc_status cache_new(struct store *st, size_t budget, struct cache **out,
			 struct wc_error *err);
/* Stop the warming thread, drop every entry (bodies in flight live on). NULL: no-op. */
void cache_free(struct cache *c);

/*
 * The body held under key, current (no subject moved, not expired), with a reference for
 * the caller; NULL when there is none (a stale one is dropped). Polls the generations
 * first and fills *stamp: pass it to cache_put for what is computed after a miss.
 */
struct held_body *cache_get(struct cache *c, const char *key, struct cache_stamp *stamp);

/* Is a current body held under key? (No poll, no statistics, no use recorded.) */
bool cache_holds(struct cache *c, const char *key);

/*
 * Hold b (a reference is taken) under key, computed from subjects[0..n) after the
 * calling thread's cache_get (or the warm function's call) gave *stamp; `expires`: UTC
 * seconds after which it is stale, 0 for never. Not held when a subject moved after the
 * stamp (the body may predate the move), when !stamp->ok, or when b exceeds the budget;
 * older entries go, least recently used first, to make room.
 */
void cache_put(struct cache *c, const char *key, struct held_body *b,
	       const struct cache_stamp *stamp, const char *const *subjects, int n,
	       int64_t expires);

/*
 * The key a request's reply is held under: "<kind>/<id>/json" or ".../csv", then each of
 * values[0..n) (the query values as sent; NULL: absent, as empty) as "/<length>:<value>",
 * so that no value can pass for another. False when it does not fit cap bytes: that
 * request is computed each time. Built by hand, not snprintf: it runs on every request.
 */
bool cache_key(char *key, size_t cap, const char *kind, const char *id, bool csv,
	       const char *const *values, size_t n);

/*
 * What a reply was computed from, collected while it is computed, to hold it by
 * (cache_put_deps): the subjects (each once) and the earliest expiry asked.
 */
struct cache_deps {
	char **subjects;	/* (n) malloc'd */
	int n, cap;
	int64_t expires;	/* 0: never */
	bool failed;		/* out of memory: a subject is missing, hold nothing */
};

void cache_deps_init(struct cache_deps *d);
void cache_deps_release(struct cache_deps *d);
/* Add the subject kind:id (store_gen_subject; id NULL: kind alone), unless it is in. */
void cache_deps_add(struct cache_deps *d, const char *kind, const char *id);
/* Stale from UTC second t on (the earliest of those asked wins). */
void cache_deps_expire(struct cache_deps *d, int64_t t);

/* cache_put with d's subjects and expiry; nothing when d failed. */
void cache_put_deps(struct cache *c, const char *key, struct held_body *b,
		    const struct cache_stamp *stamp, const struct cache_deps *d);

/*
 * The warm function: compute and cache_put what should be held, with `stamp` (taken
 * before the call); it runs on the cache's own thread.
 */
typedef void (*cache_warm_fn)(struct cache *c, const struct cache_stamp *stamp, void *cls);

/*
 * Start the warming thread: fn(c, stamp, cls) once at start, then after generations
 * moved and at each turn of the UTC hour. Other processes' commits are looked for every
 * poll_ms milliseconds.
 */
enum wc_status cache_warm_start(struct cache *c, cache_warm_fn fn, void *cls,
				unsigned poll_ms, struct wc_error *err);

/* Is the cache being freed? A long warm function checks between pieces of work. */
bool cache_stopping(struct cache *c);

struct cache_stats {
	uint64_t hits, misses;		/* cache_get answered a body, or not */
	uint64_t stale;			/* misses because a subject moved or time passed */
	uint64_t evictions;		/* entries dropped for room */
	uint64_t warms;			/* warm function calls */
	size_t bytes, entries, budget;
};

void cache_stats(struct cache *c, struct cache_stats *out);

#endif
