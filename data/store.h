/*
 * store.h - windcast's persistent state: one SQLite database in WAL mode under the data
 * directory (DIR/windcast.db), plus content-addressed files beside it.
 *
 * This module (with its siblings data/store_*.c) is the only place that issues SQL.
 * The schema is versioned with PRAGMA user_version; store_open applies every forward
 * migration in one transaction each, and refuses a file written by a newer windcast.
 * Every multi-row write is one transaction: after a crash the store holds the old state
 * or the new one, never half.
 *
 * Threads: one struct store may be shared by many threads; calls are serialised on an
 * internal mutex (reads are short). NEEDSWORK: a pool of read connections if reads ever
 * queue behind long writes.
 */
#ifndef WC_STORE_H
#define WC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "data/farm.h"

struct store;

/* The schema version this build writes; store_open migrates older files up to it. */
int store_schema_version(void);

/*
 * Open (creating DIR and the database if missing) and migrate the store under `dir`.
 * On success *out owns the handle (free with store_close). WC_EVERSION when the file
 * comes from a newer windcast, WC_ESQL/WC_EIO with SQLite's message otherwise.
 */
enum wc_status store_open(const char *dir, struct store **out, struct wc_error *err);
void store_close(struct store *st);

/* The data directory and the database path (owned by the store). */
const char *store_dir(const struct store *st);
const char *store_db_path(const struct store *st);

/* Farm registry. Each validates the farm first (farm_validate). */

/* Insert; WC_EEXIST if the id is taken. Sets created_at/updated_at in *f. */
enum wc_status store_farm_add(struct store *st, struct farm *f, struct wc_error *err);
/* Insert or replace; *created tells which. Keeps created_at of an existing farm. */
enum wc_status store_farm_put(struct store *st, struct farm *f, bool *created,
			      struct wc_error *err);
/* WC_ENOTFOUND when absent. */
enum wc_status store_farm_get(struct store *st, const char *id, struct farm *out,
			      struct wc_error *err);
/* WC_ENOTFOUND when absent. Removes the farm and everything stored for it. */
enum wc_status store_farm_delete(struct store *st, const char *id, struct wc_error *err);
/* All farms ordered by id; *out is malloc'd (free it), NULL when *n == 0. */
enum wc_status store_farm_list(struct store *st, struct farm **out, size_t *n,
			       struct wc_error *err);
/*
 * Add n farms in one transaction: either all are stored or none. Without `replace` a
 * duplicate id (in the store or within the batch) is WC_EEXIST naming it; with it,
 * existing farms are updated in place (their created_at kept).
 */
enum wc_status store_farm_import(struct store *st, struct farm *farms, size_t n,
				 bool replace, struct wc_error *err);

#endif
