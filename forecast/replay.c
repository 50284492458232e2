/*
 * replay.c - the adaptation's replayed forecasts kept between forecasters; see replay.h.
 *
 * Limits: one mutex for the whole cache (a get or a put copies a few hundred points
 * under it); slots are found by a linear scan (at most REPLAY_CACHE_MAX_SLOTS).
 */
#include "forecast/replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	struct replay_key key;
	struct replay_stamp stamp;
	int64_t lo, hi;			/* coverage; lo > hi: none */
	size_t n, cap;
	struct replay_entry *e;		/* (n) ascending t */
	size_t bytes;
	uint64_t used;			/* LRU tick */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots[REPLAY_CACHE_MAX_SLOTS];
static int nslots;
static size_t budget = REPLAY_CACHE_BYTES, total;
static uint64_t tick, hits, misses;
static enum replay_mode mode;

static size_t entry_bytes(const struct replay_entry *e)
{
	return sizeof(*e) + (size_t)(e->n + e->nsig) * sizeof(float);
}

static void slot_empty(struct slot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].point);
	total -= s->bytes;
	s->bytes = 0;
	s->n = 0;
	s->lo = 1;
	s->hi = 0;
}

static void slot_free(int i)
{
	struct slot *s = slots[i];

	slot_empty(s);
	free(s->e);
	free(s);
	slots[i] = slots[--nslots];
}

static bool same_key(const struct replay_key *a, const struct replay_key *b)
{
	return a->store == b->store && a->version == b->version && a->hash == b->hash &&
	       !strcmp(a->farm, b->farm);
}

static bool same_weather(const struct replay_stamp *a, const struct replay_stamp *b)
{
	return a->nfarms == b->nfarms &&
	       !memcmp(a->weather, b->weather, (size_t)a->nfarms * sizeof(a->weather[0]));
}

static struct slot *find(const struct replay_key *k)
{
	for (int i = 0; i < nslots; i++)
		if (same_key(&slots[i]->key, k))
			return slots[i];
	return NULL;
}

void replay_snapshot_release(struct replay_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].point);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

void replay_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	while (nslots)
		slot_free(nslots - 1);
	pthread_mutex_unlock(&lock);
}

void replay_cache_set_bytes(size_t bytes)
{
	pthread_mutex_lock(&lock);
	budget = bytes;
	pthread_mutex_unlock(&lock);
	if (!bytes)
		replay_cache_clear();
}

size_t replay_cache_bytes(void)
{
	size_t b;

	pthread_mutex_lock(&lock);
	b = budget;
	pthread_mutex_unlock(&lock);
	return b;
}

void replay_cache_set_mode(enum replay_mode m)
{
	pthread_mutex_lock(&lock);
	mode = m;
	pthread_mutex_unlock(&lock);
}

enum replay_mode replay_cache_mode(void)
{
	enum replay_mode m;

	pthread_mutex_lock(&lock);
	m = mode;
	pthread_mutex_unlock(&lock);
	return m;
}

void replay_cache_counts(uint64_t *h, uint64_t *m)
{
	pthread_mutex_lock(&lock);
	*h = hits;
	*m = misses;
	pthread_mutex_unlock(&lock);
}

/* Drop the entries from t = cut on; the coverage ends before it. */
static void slot_cut(struct slot *s, int64_t cut)
{
	size_t keep = 0;

	if (cut == INT64_MIN || cut <= s->lo) {
		slot_empty(s);
		return;
	}
	while (keep < s->n && s->e[keep].t < cut)
		keep++;
	for (size_t i = keep; i < s->n; i++) {
		s->bytes -= entry_bytes(&s->e[i]);
		total -= entry_bytes(&s->e[i]);
		free(s->e[i].point);
	}
	s->n = keep;
	if (s->hi >= cut)
		s->hi = cut - 1;
}

static enum wc_status copy_entry(struct replay_entry *dst, const struct replay_entry *src,
				 struct wc_error *err)
{
	size_t len = (size_t)(src->n + src->nsig) * sizeof(float);

	*dst = *src;
	if (!(dst->point = malloc(len ? len : 1)))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	memcpy(dst->point, src->point, len);
	return WC_OK;
}

enum wc_status replay_cache_get(const struct replay_key *k, const struct replay_stamp *st,
				int64_t lo, int64_t hi, replay_runs_fn runs, void *cls,
				struct replay_snapshot *out, struct wc_error *err)
{
	enum wc_status ret = WC_OK;
	struct slot *s;
	int64_t old_id, cut;
	size_t a, b;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&lock);
	if (!(s = find(k)))
		goto miss;
	if (mode == REPLAY_UNCHECKED)
		goto use;
	if (!same_weather(&s->stamp, st)) {
		slot_empty(s);
		s->stamp = *st;
		goto miss;
	}
	if (s->stamp.run_id > st->run_id)
		goto miss;	/* another forecaster read newer data: leave it */
	if (s->stamp.run_id < st->run_id) {
		/* what the new runs change, read without the lock */
		old_id = s->stamp.run_id;
		pthread_mutex_unlock(&lock);
		if ((ret = runs(cls, old_id, st->run_id, &cut, err)))
			return ret;
		pthread_mutex_lock(&lock);
		if (!(s = find(k)) || !same_weather(&s->stamp, st) || s->stamp.run_id != old_id)
			goto miss;
		slot_cut(s, cut);
		s->stamp.run_id = st->run_id;
	}
use:
	if (s->lo > s->hi)
		goto miss;
	s->used = ++tick;
	for (a = 0; a < s->n && s->e[a].t < lo; a++)
		;
	for (b = a; b < s->n && s->e[b].t <= hi; b++)
		;
	if (b > a && !(out->e = calloc(b - a, sizeof(*out->e)))) {
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = a; i < b; i++) {
		if ((ret = copy_entry(&out->e[out->n], &s->e[i], err)))
			goto out;
		out->n++;
	}
	out->hit = true;
	out->lo = s->lo;
	out->hi = s->hi;
	hits++;
	goto out;
miss:
	misses++;
out:
	pthread_mutex_unlock(&lock);
	if (ret)
		replay_snapshot_release(out);
	return ret;
}

/* Keep s within a quarter of the budget: its oldest entries go, the coverage after them. */
static void slot_trim(struct slot *s)
{
	size_t drop = 0;

	while (drop < s->n && s->bytes > budget / 4) {
		s->bytes -= entry_bytes(&s->e[drop]);
		total -= entry_bytes(&s->e[drop]);
		free(s->e[drop].point);
		drop++;
	}
	if (!drop)
		return;
	memmove(s->e, s->e + drop, (s->n - drop) * sizeof(*s->e));
	s->n -= drop;
	if (s->n)
		s->lo = s->e[0].t;
	else
		slot_empty(s);
}

static void evict_except(const struct slot *keep)
{
	while (total > budget || nslots == REPLAY_CACHE_MAX_SLOTS) {
		int lru = -1;

		for (int i = 0; i < nslots; i++)
			if (slots[i] != keep && (lru < 0 || slots[i]->used < slots[lru]->used))
				lru = i;
		if (lru < 0)
			return;
		slot_free(lru);
	}
}

void replay_cache_put(const struct replay_key *k, const struct replay_stamp *st, int64_t lo,
		      int64_t hi, const struct replay_entry *e, size_t n)
{
	struct replay_entry *m = NULL;
	struct slot *s;
	size_t len = 0, len0, i = 0, bytes = 0;
	bool merge;

	if (lo > hi)
		return;
	pthread_mutex_lock(&lock);
	if (!budget)
		goto out;
	if (!(s = find(k))) {
		evict_except(NULL);
		if (nslots == REPLAY_CACHE_MAX_SLOTS || !(s = calloc(1, sizeof(*s))))
			goto out;
		s->key = *k;
		s->stamp = *st;
		s->lo = 1;
		s->hi = 0;
		slots[nslots++] = s;
	}
	merge = same_weather(&s->stamp, st) && s->stamp.run_id == st->run_id && s->lo <= s->hi &&
		lo <= s->hi + 1 && hi >= s->lo - 1;
	if (!merge) {
		slot_empty(s);
		s->stamp = *st;
	}
	/* the slot's entries outside [lo, hi] and the new ones, in order of t */
	if (!(m = calloc(s->n + n ? s->n + n : 1, sizeof(*m))))
		goto out;
	for (; i < s->n && s->e[i].t < lo; i++)
		m[len++] = s->e[i];
	len0 = len;
	for (size_t j = 0; j < n; j++) {
		if (copy_entry(&m[len], &e[j], NULL))
			goto fail;
		len++;
	}
	for (; i < s->n && s->e[i].t <= hi; i++)
		free(s->e[i].point);	/* replaced */
	for (; i < s->n; i++)
		m[len++] = s->e[i];
	for (size_t j = 0; j < len; j++)
		bytes += entry_bytes(&m[j]);
	free(s->e);
	s->e = m;
	s->n = s->cap = len;
	total = total - s->bytes + bytes;
	s->bytes = bytes;
	if (merge) {
		s->lo = lo < s->lo ? lo : s->lo;
		s->hi = hi > s->hi ? hi : s->hi;
	} else {
		s->lo = lo;
		s->hi = hi;
	}
	s->used = ++tick;
	slot_trim(s);
	evict_except(s);
	goto out;
fail:
	/* out of memory: the new copies go, the slot keeps what it had */
	for (size_t j = len0; j < len; j++)
		free(m[j].point);
	free(m);
out:
	pthread_mutex_unlock(&lock);
}
