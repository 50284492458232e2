/*
 * store_internal.h - what data/store*.c share and nothing else may include: the
 * connection, its lock and small SQL helpers. All SQL lives in data/store*.c.
 */
#ifndef WC_STORE_INTERNAL_H
#define WC_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "data/store.h"

/* How many statements a connection keeps prepared (store_prepare_kept). */
#define STORE_KEPT_MAX 32

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;	/* serialises every use of db */
	char *dir;
	char *db_path;
	bool bumped;		/* the open transaction moved a generation */
	void (*on_change)(void *cls);	/* store_on_change */
	void *on_change_cls;
	struct {
		sqlite3_stmt *s;
		bool busy;		/* handed out, not yet given back */
	} kept[STORE_KEPT_MAX];		/* (nkept) store_prepare_kept's */
	size_t nkept;
};

void store_lock(struct store *st);
void store_unlock(struct store *st);
/* Run SQL without results; caller holds the lock. */
enum wc_status store_exec(struct store *st, const char *sql, struct wc_error *err);
enum wc_status store_prepare(struct store *st, const char *sql, sqlite3_stmt **out,
			     struct wc_error *err);
/*
 * The same for a statement the read paths of a request run again and again: the first
 * call with a text prepares it (SQLITE_PREPARE_PERSISTENT) and the connection keeps it,
 * later calls with the same text get it back, reset and unbound. Lock held; give it
 * back with store_release before unlocking (or before asking for the same text again:
 * a text already handed out is prepared afresh, as are texts beyond STORE_KEPT_MAX).
 */
enum wc_status store_prepare_kept(struct store *st, const char *sql, sqlite3_stmt **out,
				  struct wc_error *err);
/* Give back a statement of store_prepare_kept (reset, bindings cleared; finalized when
 * it was not kept). NULL does nothing. Lock held. */
void store_release(struct store *st, sqlite3_stmt *s);
/*
 * Run one statement with `id` bound to ?1; *changes (may be NULL) gets the number of rows
 * it changed; `what` prefixes a failure. Lock held.
 */
enum wc_status store_exec_id(struct store *st, const char *sql, const char *id, int *changes,
			     const char *what, struct wc_error *err);
/*
 * End the transaction opened with BEGIN IMMEDIATE: COMMIT when ret is WC_OK, else
 * ROLLBACK. Returns ret, or the COMMIT's failure (after rolling back). Lock held.
 */
enum wc_status store_end(struct store *st, enum wc_status ret, struct wc_error *err);
/* Map a SQLite result code to a status with SQLite's message, prefixed by `what`. */
enum wc_status store_sql_error(struct store *st, int rc, struct wc_error *err,
			       const char *what);
/*
 * Make room for element `len` of a growable array of `size`-byte elements (capacity
 * doubling from 64). Returns the array, or NULL after freeing it when out of memory.
 */
void *store_grow(void *arr, size_t *cap, size_t len, size_t size);
/*
 * Run sql (no parameters) under the store's lock and turn each row into one element of
 * `size` bytes with `row` (which may refuse it: the first failure ends the list);
 * *out malloc'd (NULL when *n == 0). `what` names a SQLite failure.
 */
enum wc_status store_collect(struct store *st, const char *sql, size_t size,
			     enum wc_status (*row)(sqlite3_stmt *s, void *elem,
						   struct wc_error *err),
			     void **out, size_t *n, const char *what, struct wc_error *err);
enum wc_status store_farm_get_locked(struct store *st, const char *id, struct farm *out,
				     struct wc_error *err);
/*
 * Add delta (+1 or -1) to the farm count of every run farm `id` has weather from, before
 * its rows go (-1) or after new ones came (+1). Lock and a transaction held.
 */
enum wc_status store_farm_runs_count(struct store *st, const char *id, int delta,
				     struct wc_error *err);
/*
 * The first portfolio (by id) that holds farm `farm_id` into portfolio (len bytes; ""
 * when none). Lock held (data/store_portfolio.c).
 */
enum wc_status store_farm_in_portfolio_locked(struct store *st, const char *farm_id,
					      char *portfolio, size_t len, struct wc_error *err);

/*
 * Move the generation of `subject` (store_gen_subject) to the next value of the
 * store-wide sequence. Lock and a transaction held: the move commits with the change it
 * stands for, or not at all; store_end tells store_on_change's hook after the commit.
 */
enum wc_status store_gen_bump_locked(struct store *st, const char *subject,
				     struct wc_error *err);
/* store_gen_bump_locked of farm `farm_id`'s subject. */
enum wc_status store_gen_bump_farm_locked(struct store *st, const char *farm_id,
					  struct wc_error *err);

#endif
