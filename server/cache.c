/*
 * cache.c - held reply bodies, their generations and the warming thread; see cache.h.
 *
 * Structure: a hash table of entries (chained, doubling) threaded on an LRU list, under
 * one mutex held for a lookup or an insert only (never while computing or polling); a
 * table of subjects, each with the newest generation any thread's watch has seen
 * (atomic, only ever raised), which entries point at, so that checking an entry is a few
 * atomic loads. Subjects live as long as the cache (they come from the store's rows and
 * from computed replies, so they are bounded by the farms and portfolios there are).
 *
 * Each thread that calls cache_get polls with its own store watch (created at its first
 * call, found through a thread-specific key, closed by cache_free): a watch is one
 * SQLite connection, which must not be shared between threads polling at once.
 */
#include "server/cache.h"
#include "server/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/utc.h"
#include "data/store.h"

/* ---- held bodies ---- */

struct held_body *held_body_new(unsigned status, const char *content_type, const char *data,
				size_t len, const struct held_header *headers, int n)
{
	size_t ctl = strlen(content_type) + 1, extra = ctl, size;
	struct held_body *b;
	char *p;

	for (int i = 0; i < n; i++)
		extra += strlen(headers[i].name) + strlen(headers[i].value) + 2;
	size = sizeof(*b) + (size_t)n * sizeof(*b->headers) + len + 1 + extra;
	if (!(b = malloc(size)))
		return NULL;
	atomic_init(&b->refs, 1);
	b->status = status;
	b->nheaders = n;
	b->len = len;
	b->cost = size;
	b->headers = (struct held_header *)(b + 1);
	p = (char *)(b->headers + n);
	memcpy(p, data, len);
	p[len] = '\0';
	b->data = p;
	p += len + 1;
	memcpy(p, content_type, ctl);
	b->content_type = p;
	p += ctl;
	for (int i = 0; i < n; i++) {
		size_t a = strlen(headers[i].name) + 1, v = strlen(headers[i].value) + 1;

		memcpy(p, headers[i].name, a);
		b->headers[i].name = p;
		p += a;
		memcpy(p, headers[i].value, v);
		b->headers[i].value = p;
		p += v;
	}
	return b;
}

struct held_body *held_body_ref(struct held_body *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void held_body_unref(struct held_body *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

/* ---- the cache ---- */

struct subject {
	_Atomic uint64_t gen;	/* the newest any watch saw; only raised */
	struct subject *next;	/* hash chain */
	char name[];
};

struct dep {
	struct subject *s;
	uint64_t gen;
};

struct entry {
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* LRU list, most recent first */
	uint64_t hash;
	struct held_body *body;
	int64_t expires;		/* 0: never */
	size_t cost;
	int ndeps;
	struct dep *deps;		/* (ndeps) in the entry's block */
	char *key;			/* in the entry's block */
};

struct thread_watch {
	struct store_watch *w;
	struct thread_watch *next;
};

#define SUBJECT_BUCKETS 1024

struct cache {
	struct store *st;
	size_t budget;

	pthread_mutex_t mu;		/* entries, LRU, bytes */
	struct entry **buckets;
	size_t nbuckets, nentries, bytes;
	struct entry *lru_head, *lru_tail;

	pthread_mutex_t subj_mu;	/* the subject table (not the gens: atomic) */
	struct subject *subjects[SUBJECT_BUCKETS];

	pthread_key_t key;		/* the calling thread's struct thread_watch */
	pthread_mutex_t watch_mu;	/* watches, to close them all */
	struct thread_watch *watches;

	pthread_mutex_t warm_mu;	/* the warming thread's wake-up */
	pthread_cond_t warm_cv;
	bool poked, stopping, warming;
	pthread_t warm_thread;
	cache_warm_fn warm_fn;
	void *warm_cls;
	unsigned poll_ms;

	_Atomic uint64_t hits, misses, stale, evictions, warms;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

enum wc_status cache_new(struct store *st, size_t budget, struct cache **out,
			 struct wc_error *err)
{
	struct cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->buckets = calloc(64, sizeof(*c->buckets)))) {
		free(c);
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	}
	if (pthread_key_create(&c->key, NULL) != 0) {
		free(c->buckets);
		free(c);
		return wc_error_set(err, WC_ENOMEM, "cannot create the cache: no thread key left");
	}
	c->nbuckets = 64;
	c->st = st;
	c->budget = budget;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->subj_mu, NULL);
	pthread_mutex_init(&c->watch_mu, NULL);
	pthread_mutex_init(&c->warm_mu, NULL);
	pthread_cond_init(&c->warm_cv, NULL);
	*out = c;
	return WC_OK;
}

/* ---- subjects and polling ---- */

/* The subject called name, created when new; NULL when out of memory. */
static struct subject *subject_get(struct cache *c, const char *name)
{
	size_t b = hash_str(name) % SUBJECT_BUCKETS, len = strlen(name);
	struct subject *s;

	pthread_mutex_lock(&c->subj_mu);
	for (s = c->subjects[b]; s; s = s->next)
		if (!strcmp(s->name, name))
			break;
	if (!s && (s = malloc(sizeof(*s) + len + 1))) {
		atomic_init(&s->gen, 0);
		memcpy(s->name, name, len + 1);
		s->next = c->subjects[b];
		c->subjects[b] = s;
	}
	pthread_mutex_unlock(&c->subj_mu);
	return s;
}

/* store_moved_fn: raise the subject's generation (never lower: watches race). */
static void subject_moved(void *cls, const char *name, uint64_t gen)
{
	struct subject *s = subject_get(cls, name);
	uint64_t old;

	if (!s)
		return;
	old = atomic_load(&s->gen);
	while (old < gen && !atomic_compare_exchange_weak(&s->gen, &old, gen))
		;
}

/* The calling thread's watch, opened at its first call; NULL when it cannot be. */
static struct store_watch *thread_watch(struct cache *c)
{
	struct thread_watch *tw = pthread_getspecific(c->key);
	struct wc_error err = { 0 };

	if (tw)
		return tw->w;
	if (!(tw = calloc(1, sizeof(*tw))))
		return NULL;
	if (store_watch_open(c->st, &tw->w, &err)) {
		log_error("cannot watch the store for held replies: %s", err.msg);
		free(tw);
		return NULL;
	}
	pthread_mutex_lock(&c->watch_mu);
	tw->next = c->watches;
	c->watches = tw;
	pthread_mutex_unlock(&c->watch_mu);
	pthread_setspecific(c->key, tw);
	return tw->w;
}

/* Bring the subjects' generations up to the store's, as this thread can see it. */
static void sync_stamp(struct cache *c, struct cache_stamp *stamp)
{
	struct store_watch *w = thread_watch(c);
	struct wc_error err = { 0 };

	stamp->ok = false;
	stamp->seq = 0;
	if (!w)
		return;
	if (store_watch_poll(w, &stamp->seq, subject_moved, c, &err)) {
		log_warn("cannot read the generations, answering without held replies: %s",
			 err.msg);
		return;
	}
	stamp->ok = true;
}

/* ---- entries ---- */

static bool entry_current(const struct entry *e, int64_t now)
{
	if (e->expires && now >= e->expires)
		return false;
	for (int i = 0; i < e->ndeps; i++)
		if (atomic_load_explicit(&e->deps[i].s->gen, memory_order_acquire) !=
		    e->deps[i].gen)
			return false;
	return true;
}

static void lru_unlink(struct cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_front(struct cache *c, struct entry *e)
{
	e->next = c->lru_head;
	e->prev = NULL;
	if (c->lru_head)
		c->lru_head->prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

/* The entry under key and the link that points at it; NULL when none. Lock held. */
static struct entry *find(struct cache *c, const char *key, uint64_t h, struct entry ***link)
{
	struct entry **p = &c->buckets[h & (c->nbuckets - 1)];

	for (; *p; p = &(*p)->hnext) {
		if ((*p)->hash == h && !strcmp((*p)->key, key)) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

/* Unlink e (at *link in its chain) from everything and free it. Lock held. */
static void drop(struct cache *c, struct entry *e, struct entry **link)
{
	*link = e->hnext;
	lru_unlink(c, e);
	c->nentries--;
	c->bytes -= e->cost;
	held_body_unref(e->body);
	free(e);
}

static void drop_entry(struct cache *c, struct entry *e)
{
	struct entry **link = NULL;

	if (find(c, e->key, e->hash, &link) == e)
		drop(c, e, link);
}

/* Double the buckets when the table is full; on failure keep the chains longer. */
static void grow(struct cache *c)
{
	size_t n = c->nbuckets * 2;
	struct entry **b;

	if (c->nentries < c->nbuckets || !(b = calloc(n, sizeof(*b))))
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

struct held_body *cache_get(struct cache *c, const char *key, struct cache_stamp *stamp)
{
	uint64_t h = hash_str(key);
	struct held_body *b = NULL;
	struct entry *e, **link = NULL;

	sync_stamp(c, stamp);
	if (!stamp->ok || c->budget == 0) {
		atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
		metrics_count_cache(false);
		return NULL;
	}
	pthread_mutex_lock(&c->mu);
	if ((e = find(c, key, h, &link))) {
		if (entry_current(e, utc_now())) {
			b = held_body_ref(e->body);
			if (c->lru_head != e) {
				lru_unlink(c, e);
				lru_front(c, e);
			}
		} else {
			drop(c, e, link);
			atomic_fetch_add_explicit(&c->stale, 1, memory_order_relaxed);
		}
	}
	pthread_mutex_unlock(&c->mu);
	atomic_fetch_add_explicit(b ? &c->hits : &c->misses, 1, memory_order_relaxed);
	metrics_count_cache(b != NULL);
	return b;
}

bool cache_holds(struct cache *c, const char *key)
{
	struct entry *e;
	bool held;

	pthread_mutex_lock(&c->mu);
	e = find(c, key, hash_str(key), NULL);
	held = e && entry_current(e, utc_now());
	pthread_mutex_unlock(&c->mu);
	return held;
}

void cache_put(struct cache *c, const char *key, struct held_body *b,
	       const struct cache_stamp *stamp, const char *const *subjects, int n,
	       int64_t expires)
{
	size_t klen = strlen(key), cost;
	uint64_t h = hash_str(key);
	struct entry *e, *old, **link = NULL;

	if (!stamp->ok || n < 0)
		return;
	cost = sizeof(*e) + (size_t)n * sizeof(struct dep) + klen + 1 + b->cost;
	if (cost > c->budget || !(e = calloc(1, sizeof(*e) + (size_t)n * sizeof(struct dep) +
							 klen + 1)))
		return;
	e->deps = (struct dep *)(e + 1);
	e->key = (char *)(e->deps + n);
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->expires = expires;
	e->cost = cost;
	e->ndeps = n;
	for (int i = 0; i < n; i++) {
		struct subject *s = subject_get(c, subjects[i]);

		/* moved after the stamp: the body may have been computed before the move */
		if (!s || (e->deps[i].gen = atomic_load(&s->gen)) > stamp->seq) {
			free(e);
			return;
		}
		e->deps[i].s = s;
	}
	e->body = held_body_ref(b);
	pthread_mutex_lock(&c->mu);
	if ((old = find(c, key, h, &link)))
		drop(c, old, link);
	while (c->bytes + cost > c->budget && c->lru_tail) {
		drop_entry(c, c->lru_tail);
		atomic_fetch_add_explicit(&c->evictions, 1, memory_order_relaxed);
	}
	grow(c);
	e->hnext = c->buckets[h & (c->nbuckets - 1)];
	c->buckets[h & (c->nbuckets - 1)] = e;
	lru_front(c, e);
	c->nentries++;
	c->bytes += cost;
	pthread_mutex_unlock(&c->mu);
}

void cache_stats(struct cache *c, struct cache_stats *out)
{
	out->hits = atomic_load(&c->hits);
	out->misses = atomic_load(&c->misses);
	out->stale = atomic_load(&c->stale);
	out->evictions = atomic_load(&c->evictions);
	out->warms = atomic_load(&c->warms);
	pthread_mutex_lock(&c->mu);
	out->bytes = c->bytes;
	out->entries = c->nentries;
	out->budget = c->budget;
	pthread_mutex_unlock(&c->mu);
}

/* ---- keys and dependencies ---- */

bool cache_key(char *key, size_t cap, const char *kind, const char *id, bool csv,
	       const char *const *values, size_t n)
{
	const char *repr = csv ? "/csv" : "/json";
	size_t len = 0;

#define KEY_ADD(s, l)                                   \
	do {                                            \
		if ((l) >= cap - len)                   \
			return false;                   \
		memcpy(key + len, (s), (l));            \
		len += (l);                             \
	} while (0)
	if (cap == 0)
		return false;
	KEY_ADD(kind, strlen(kind));
	KEY_ADD("/", 1);
	KEY_ADD(id, strlen(id));
	KEY_ADD(repr, strlen(repr));
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t vl = strlen(v), l = vl;
		char num[24], *p = num + sizeof(num);

		*--p = ':';
		do
			*--p = (char)('0' + l % 10);
		while (l /= 10);
		*--p = '/';
		KEY_ADD(p, (size_t)(num + sizeof(num) - p));
		KEY_ADD(v, vl);
	}
#undef KEY_ADD
	key[len] = '\0';
	return true;
}

void cache_deps_init(struct cache_deps *d)
{
	memset(d, 0, sizeof(*d));
}

void cache_deps_release(struct cache_deps *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->subjects[i]);
	free(d->subjects);
	cache_deps_init(d);
}

void cache_deps_add(struct cache_deps *d, const char *kind, const char *id)
{
	char name[STORE_SUBJECT_MAX];
	char **grown;

	store_gen_subject(name, sizeof(name), kind, id);
	for (int i = 0; i < d->n; i++)
		if (!strcmp(d->subjects[i], name))
			return;
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 8;

		if (!(grown = realloc(d->subjects, (size_t)cap * sizeof(*grown)))) {
			d->failed = true;
			return;
		}
		d->subjects = grown;
		d->cap = cap;
	}
	if (!(d->subjects[d->n] = strdup(name))) {
		d->failed = true;
		return;
	}
	d->n++;
}

void cache_deps_expire(struct cache_deps *d, int64_t t)
{
	if (!d->expires || t < d->expires)
		d->expires = t;
}

void cache_put_deps(struct cache *c, const char *key, struct held_body *b,
		    const struct cache_stamp *stamp, const struct cache_deps *d)
{
	if (!d->failed)
		cache_put(c, key, b, stamp, (const char *const *)d->subjects, d->n, d->expires);
}

/* ---- warming ---- */

/* store_on_change's hook: this process committed a move; wake the warming thread. */
static void poke(void *cls)
{
	struct cache *c = cls;

	pthread_mutex_lock(&c->warm_mu);
	c->poked = true;
	pthread_cond_signal(&c->warm_cv);
	pthread_mutex_unlock(&c->warm_mu);
}

static void *warm_main(void *cls)
{
	struct cache *c = cls;
	uint64_t last_seq = 0;
	int64_t last_hour = -1;	/* -1: not warmed yet */
	bool wait = false;

	for (;;) {
		struct cache_stamp stamp;
		struct timespec until;
		int64_t hour;
		bool stop;

		pthread_mutex_lock(&c->warm_mu);
		if (wait) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)(c->poll_ms % 1000) * 1000000L;
			until.tv_sec += c->poll_ms / 1000 + until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			while (!c->poked && !c->stopping &&
			       pthread_cond_timedwait(&c->warm_cv, &c->warm_mu, &until) != ETIMEDOUT)
				;
		}
		wait = true;
		c->poked = false;
		stop = c->stopping;
		pthread_mutex_unlock(&c->warm_mu);
		if (stop)
			return NULL;
		sync_stamp(c, &stamp);
		hour = utc_now() / UTC_HOUR;
		if (!stamp.ok || (last_hour >= 0 && stamp.seq == last_seq && hour == last_hour))
			continue;
		last_seq = stamp.seq;
		last_hour = hour;
		atomic_fetch_add(&c->warms, 1);
		c->warm_fn(c, &stamp, c->warm_cls);
	}
}

bool cache_stopping(struct cache *c)
{
	bool stop;

	pthread_mutex_lock(&c->warm_mu);
	stop = c->stopping;
	pthread_mutex_unlock(&c->warm_mu);
	return stop;
}

enum wc_status cache_warm_start(struct cache *c, cache_warm_fn fn, void *cls,
				unsigned poll_ms, struct wc_error *err)
{
	c->warm_fn = fn;
	c->warm_cls = cls;
	c->poll_ms = poll_ms ? poll_ms : 1;
	if (pthread_create(&c->warm_thread, NULL, warm_main, c) != 0)
		return wc_error_set(err, WC_ENOMEM, "cannot start the thread that warms held replies");
	c->warming = true;
	store_on_change(c->st, poke, c);
	return WC_OK;
}

void cache_free(struct cache *c)
{
	struct thread_watch *tw, *tnext;

	if (!c)
		return;
	if (c->warming) {
		store_on_change(c->st, NULL, NULL);
		pthread_mutex_lock(&c->warm_mu);
		c->stopping = true;
		pthread_cond_signal(&c->warm_cv);
		pthread_mutex_unlock(&c->warm_mu);
		pthread_join(c->warm_thread, NULL);
	}
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			held_body_unref(e->body);
			free(e);
		}
	}
	free(c->buckets);
	for (size_t i = 0; i < SUBJECT_BUCKETS; i++) {
		struct subject *s = c->subjects[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	for (tw = c->watches; tw; tw = tnext) {
		tnext = tw->next;
		store_watch_close(tw->w);
		free(tw);
	}
	pthread_key_delete(c->key);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->subj_mu);
	pthread_mutex_destroy(&c->watch_mu);
	pthread_mutex_destroy(&c->warm_mu);
	pthread_cond_destroy(&c->warm_cv);
	free(c);
}
