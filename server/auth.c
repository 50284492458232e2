/*
 * auth.c - bearer token checks against an in-memory copy of the token keys (auth.h).
 *
 * The copy is an immutable snapshot (keys sorted by hash) behind a read-write lock:
 * readers hold it for one binary search; a reload builds a new snapshot from the store
 * and swaps it in. The binary search orders by memcmp: its timing can only tell how the
 * SHA-256 of a guess compares with the stored hashes, which says nothing about any token;
 * the final equality is CRYPTO_memcmp (token_hash_equal).
 */
#include "server/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "data/store.h"
#include "data/token.h"
#include "server/request.h"

struct keys {
	uint64_t gen;		/* the counter when these keys were read */
	int64_t loaded_s;	/* CLOCK_MONOTONIC_COARSE seconds */
	size_t n;
	struct token_key *key;	/* sorted by hash */
};

struct auth {
	struct store *st;
	const uint64_t *gen;	/* DIR/tokens.gen, mapped */
	pthread_rwlock_t lock;	/* guards `keys` (the pointer) */
	pthread_mutex_t reload;	/* one reload at a time */
	struct keys *keys;	/* NULL until the first load succeeds */
	int stale;		/* auth_reload was asked for (atomic) */
};

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(((const struct token_key *)a)->hash, ((const struct token_key *)b)->hash,
		      TOKEN_HASH_LEN);
}

static void keys_free(struct keys *k)
{
	if (k) {
		free(k->key);
		free(k);
	}
}

enum wc_status auth_start(struct auth **out, struct store *st, struct wc_error *err)
{
	struct auth *a = calloc(1, sizeof(*a));
	pthread_rwlockattr_t attr;
	enum wc_status ret;

	*out = NULL;
	if (!a)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	if ((ret = store_token_generation_map(st, &a->gen, err))) {
		free(a);
		return ret;
	}
	a->st = st;
	pthread_rwlockattr_init(&attr);
	/* a reload must not wait behind a steady stream of readers */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&a->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&a->reload, NULL);
	*out = a;
	return WC_OK;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	keys_free(a->keys);
	store_token_generation_unmap(a->gen);
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->reload);
	free(a);
}

void auth_reload(struct auth *a)
{
	if (a)
		__atomic_store_n(&a->stale, 1, __ATOMIC_SEQ_CST);
}

static bool keys_current(const struct keys *k, uint64_t gen, int64_t now)
{
	return k && k->gen == gen && now - k->loaded_s < AUTH_RELOAD_S;
}

/* Make a->keys current (read lock NOT held). False when the store cannot be read. */
static bool keys_refresh(struct auth *a)
{
	struct keys *k, *old;
	struct wc_error err = { 0 };
	uint64_t gen;
	bool ok = true;

	pthread_mutex_lock(&a->reload);
	/* read the counter before the keys: a change committed after this read moves it
	 * again, so it is never missed */
	gen = __atomic_load_n(a->gen, __ATOMIC_ACQUIRE);
	pthread_rwlock_rdlock(&a->lock);
	ok = keys_current(a->keys, gen, mono_s()) && !__atomic_load_n(&a->stale, __ATOMIC_ACQUIRE);
	pthread_rwlock_unlock(&a->lock);
	if (ok)
		goto done;	/* another thread reloaded meanwhile */
	__atomic_store_n(&a->stale, 0, __ATOMIC_SEQ_CST);
	if (!(k = calloc(1, sizeof(*k))) ||
	    store_token_keys(a->st, &k->key, &k->n, &err) != WC_OK) {
		log_error("cannot read the API tokens: %s",
			  k ? wc_error_msg(&err) : "out of memory");
		keys_free(k);
		ok = false;
		goto done;
	}
	if (k->n)	/* qsort and bsearch take no NULL array, even empty */
		qsort(k->key, k->n, sizeof(*k->key), key_cmp);
	k->gen = gen;
	k->loaded_s = mono_s();
	pthread_rwlock_wrlock(&a->lock);
	old = a->keys;
	a->keys = k;
	pthread_rwlock_unlock(&a->lock);
	keys_free(old);
	ok = true;
done:
	pthread_mutex_unlock(&a->reload);
	return ok;
}

enum lookup { FOUND, UNKNOWN, STALE };

/* Find hash among the current keys (read lock taken here). */
static enum lookup lookup(struct auth *a, const uint8_t hash[TOKEN_HASH_LEN],
			  struct token_key *out)
{
	uint64_t gen = __atomic_load_n(a->gen, __ATOMIC_ACQUIRE);
	enum lookup ret = UNKNOWN;
	struct token_key probe;
	const struct token_key *hit;

	memcpy(probe.hash, hash, TOKEN_HASH_LEN);
	pthread_rwlock_rdlock(&a->lock);
	if (!keys_current(a->keys, gen, mono_s()) || __atomic_load_n(&a->stale, __ATOMIC_RELAXED)) {
		ret = STALE;
	} else if (a->keys->n) {
		hit = bsearch(&probe, a->keys->key, a->keys->n, sizeof(probe), key_cmp);
		if (hit && token_hash_equal(hit->hash, hash)) {
			*out = *hit;
			ret = FOUND;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	return ret;
}

static const char *const scope_word[] = { "public", "read", "write", "admin" };

static void challenge(struct reply *rep, const char *error, int need)
{
	char v[160];

	if (!error)
		snprintf(v, sizeof(v), "Bearer realm=\"windcast\"");
	else if (strcmp(error, "insufficient_scope"))
		snprintf(v, sizeof(v), "Bearer realm=\"windcast\", error=\"%s\"", error);
	else
		snprintf(v, sizeof(v),
			 "Bearer realm=\"windcast\", error=\"%s\", scope=\"%s\"", error,
			 scope_word[need]);
	reply_header(rep, "WWW-Authenticate", v);
}

bool auth_request(struct auth *a, struct request *req, int need, struct reply *rep)
{
	const char *h, *tok;
	uint8_t hash[TOKEN_HASH_LEN];
	struct token_key key;
	enum lookup found;
	size_t n;

	req->token_id = 0;
	if (!a || need <= SCOPE_PUBLIC)
		return true;
	if (need > SCOPE_ADMIN)
		need = SCOPE_ADMIN;
	h = request_header(req, "Authorization");
	if (!h) {
		reply_error(rep, 401, "unauthorized",
			    "%s %s needs a token of scope %s: send 'Authorization: Bearer TOKEN' "
			    "(an administrator makes one with 'windcast token create --scope %s')",
			    req->route->method, req->route->pattern, scope_word[need],
			    scope_word[need]);
		challenge(rep, NULL, need);
		return false;
	}
	h += strspn(h, " \t");
	if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t')) {
		reply_error(rep, 401, "unauthorized",
			    "unsupported authorization scheme: send 'Authorization: Bearer TOKEN'");
		challenge(rep, "invalid_request", need);
		return false;
	}
	tok = h + 6 + strspn(h + 6, " \t");
	n = strcspn(tok, " \t");
	if (!token_well_formed(tok, n) || tok[n + strspn(tok + n, " \t")]) {
		reply_error(rep, 401, "unauthorized",
			    "invalid token: a windcast token is '" TOKEN_PREFIX "' and 43 "
			    "characters, as 'windcast token create' printed it");
		challenge(rep, "invalid_token", need);
		return false;
	}
	if (!token_hash(tok, n, hash)) {
		reply_error(rep, 503, "unavailable", "cannot check the token; try again later");
		return false;
	}
	/* stale keys: reload and look again (twice more at most, if tokens keep changing) */
	for (int tries = 0; (found = lookup(a, hash, &key)) == STALE; tries++) {
		if (tries == 3 || !keys_refresh(a)) {
			reply_error(rep, 503, "unavailable",
				    "cannot read the API tokens; try again later");
			reply_header(rep, "Retry-After", "5");
			return false;
		}
	}
	if (found != FOUND) {
		reply_error(rep, 401, "unauthorized",
			    "invalid token: it is not known to this server or was revoked");
		challenge(rep, "invalid_token", need);
		return false;
	}
	req->token_id = key.id;
	if ((int)key.scope < need) {
		reply_error(rep, 403, "forbidden",
			    "token %lld has scope %s; %s %s needs %s", (long long)key.id,
			    scope_word[key.scope], req->route->method, req->route->pattern,
			    scope_word[need]);
		challenge(rep, "insufficient_scope", need);
		return false;
	}
	return true;
}
