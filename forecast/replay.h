/*
 * replay.h - the online adaptation's replayed forecasts, kept between forecasters: a
 * bounded, thread-safe, process-wide cache, so that a server (or a batch, a backtest)
 * computing a farm's forecast replays only the past issue times it has not replayed
 * before (forecast/adapt.h, forecast/forecast.c adapt_replay).
 *
 * What is kept: per slot (farm, model version and a hash of the model's content), for
 * each replay issue time t, the network's point forecasts issued at t (leads 1..n) and
 * the observed values its rows read (the signature: observations are the one input that
 * can change at any time). Never the fitted correction: its observations move with T.
 *
 * When a point may be used: it is what a fresh replay computes when the data available
 * at t is the same as when it was computed. The slot is stamped with what tells that:
 *   - the weather generation of the farm and of each regional farm (store_gen_get of
 *     weather:<id>: re-extracted weather, the farm added, changed or removed): any move
 *     empties the slot;
 *   - the newest run id (store_run_newest_id; runs are never removed, ids only grow):
 *     runs ingested since make the points at t >= their delivery stale (an analysis:
 *     all of them), since a point at t reads only runs delivered by t;
 *   - per entry, its signature: the forecaster compares it with the observations it
 *     loaded before using the entry, and replays t again when they differ.
 * A model retrained is another slot (its version and content hash).
 *
 * Coverage: a slot covers [lo, hi] when every replay issue time in it has an entry, so
 * that a forecaster whose replay starts inside it needs the runs' list (its series) only
 * after hi. Entries come from forecasters in increasing t; a put that does not touch
 * the coverage replaces it.
 *
 * Bounds: at most REPLAY_CACHE_MAX_SLOTS slots and REPLAY_CACHE_BYTES bytes of entries
 * (default 32 MB, replay_cache_set_bytes), the least recently used slot out first; a
 * slot alone keeps at most a quarter of the budget (its oldest entries go first).
 */
#ifndef WC_REPLAY_H
#define WC_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/farm.h"
#include "forecast/features.h"

#define REPLAY_CACHE_BYTES ((size_t)32 << 20)
#define REPLAY_CACHE_MAX_SLOTS 4096
#define REPLAY_MAX_SIG (FEAT_MAX_LAGS + 1 + FEAT_MAX_REGIONAL)

/* Which model replays: the store (a hash of its file's path, device and inode), the
 * farm, its version (0 for one never saved) and a hash of everything its points depend
 * on (network, normalisation, features, smoothing, point rule). */
struct replay_key {
	uint64_t store;
	char farm[FARM_ID_MAX + 1];
	int version;
	uint64_t hash;
};

/* What the data looked like when read (see the top of the file). */
struct replay_stamp {
	int nfarms;				/* the farm, then its regional farms */
	uint64_t weather[1 + FEAT_MAX_REGIONAL];
	int64_t run_id;				/* the newest run */
};

/* One replayed issue time. */
struct replay_entry {
	int64_t t;
	int n;			/* points at leads 1..n (NaN: none) */
	int nsig;
	float *point;		/* (n + nsig): the points, then the signature; owned */
};

/* A copy of a slot's entries for a forecaster. */
struct replay_snapshot {
	bool hit;
	int64_t lo, hi;			/* coverage; meaningful when hit */
	size_t n;
	struct replay_entry *e;		/* (n) ascending t, owned */
};

void replay_snapshot_release(struct replay_snapshot *s);

/* The budget in bytes (0: keep nothing, which empties the cache). For tests and
 * operators; default REPLAY_CACHE_BYTES. */
void replay_cache_set_bytes(size_t bytes);
size_t replay_cache_bytes(void);
/* Drop everything kept. */
void replay_cache_clear(void);
/*
 * For tests: BYPASS, forecasters neither read nor keep entries (a cold replay; what is
 * kept stays); UNCHECKED, kept entries serve without their stamp's and signature's
 * checks (so that a test of the checks can fail).
 */
enum replay_mode { REPLAY_NORMAL = 0, REPLAY_BYPASS, REPLAY_UNCHECKED };
void replay_cache_set_mode(enum replay_mode m);
enum replay_mode replay_cache_mode(void);
/* Hits and misses of replay_cache_get since the start (for tests and metrics). */
void replay_cache_counts(uint64_t *hits, uint64_t *misses);

/* What the newer runs did (store_runs_between of the slot's run id .. the stamp's). */
typedef enum wc_status (*replay_runs_fn)(void *cls, int64_t after_id, int64_t upto_id,
					 int64_t *cut, struct wc_error *err);

/*
 * The slot of k at stamp s: its entries with t in [lo, hi] and its coverage, copied into
 * *out (release with replay_snapshot_release; out->hit false when nothing usable). When
 * the slot's weather generations differ from s, it is emptied and takes s; when runs
 * were ingested since its stamp, runs(cls, slot's id, s's id, &cut, err) gives the
 * earliest issue time they change (INT64_MIN: every one) and the entries from it go.
 * A slot stamped later than s (another forecaster read newer data) is left alone.
 * WC_ENOMEM, or runs' error.
 */
enum wc_status replay_cache_get(const struct replay_key *k, const struct replay_stamp *s,
				int64_t lo, int64_t hi, replay_runs_fn runs, void *cls,
				struct replay_snapshot *out, struct wc_error *err);

/*
 * Keep n entries (ascending t, copied) that cover [lo, hi], read at stamp s: merged into
 * the slot when it has the same stamp and its coverage touches [lo, hi], else they
 * replace it. Fails silently (a cache): nothing is kept when memory is short.
 */
void replay_cache_put(const struct replay_key *k, const struct replay_stamp *s, int64_t lo,
		      int64_t hi, const struct replay_entry *e, size_t n);

#endif
