/*
 * store_stats.c - a few figures about the store for monitoring (GET /metrics): its size
 * on disk, the newest NWP run, the newest model of each farm. One short read
 * transaction; meant for a scrape every few seconds, not for a request path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/store_internal.h"

static int64_t file_size(const char *path, const char *suffix)
{
	char p[4200];
	struct stat sb;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* The first column of the one-row query sql as an integer (0 for NULL or no row). */
static enum wc_status scalar(struct store *st, const char *sql, int64_t *out,
			     struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*out = 0;
	if ((ret = store_prepare(st, sql, &s, err)))
		return ret;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot read store figures");
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_stats(struct store *st, struct store_stats *out, struct wc_error *err)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	enum wc_status ret;
	int rc;

	memset(out, 0, sizeof(*out));
	out->db_bytes = file_size(st->db_path, "") + file_size(st->db_path, "-wal") +
			file_size(st->db_path, "-shm");
	store_lock(st);
	if ((ret = scalar(st, "SELECT coalesce(sum(size), 0) FROM grids", &out->grid_bytes,
			  err)) ||
	    (ret = scalar(st, "SELECT max(ref_time) FROM nwp_runs", &out->latest_ref_time, err)) ||
	    (ret = scalar(st, "SELECT max(ingested_at) FROM nwp_runs", &out->latest_ingested_at,
			  err)) ||
	    (ret = store_prepare(st, "SELECT farm_id, max(version), created_at FROM models "
				     "GROUP BY farm_id ORDER BY farm_id",
				 &s, err)))
		goto cleanup;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_model_age *m;

		if (!(out->models = store_grow(out->models, &cap, out->nmodels,
					       sizeof(*out->models)))) {
			out->nmodels = 0;
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		m = &out->models[out->nmodels++];
		snprintf(m->farm_id, sizeof(m->farm_id), "%s",
			 (const char *)sqlite3_column_text(s, 0));
		m->version = sqlite3_column_int(s, 1);
		m->created_at = sqlite3_column_int64(s, 2);
	}
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot read model ages");
cleanup:
	sqlite3_finalize(s);
	store_unlock(st);
	if (ret)
		store_stats_release(out);
	return ret;
}

void store_stats_release(struct store_stats *s)
{
	free(s->models);
	s->models = NULL;
	s->nmodels = 0;
}
