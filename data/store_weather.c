/*
 * store_weather.c - raw grids, NWP runs and site weather in the store.
 *
 * Site weather is keyed (farm, run, valid time); a farm's deletion cascades to its rows.
 * An ingest is one transaction, so a reader never sees a run without its rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store_internal.h"

const char *const weather_columns[WEATHER_NCOLS] = {
	"u10",	"v10",	"u100", "v100", "ws10", "ws100",	  "wd10",
	"wd100", "ws_hub", "t2m", "sp",	"rho",	"ws100_nbr_mean", "ws100_nbr_std",
};

#define RUN_COLS                                                                       \
	"r.id, r.sha256, r.source, r.is_forecast, r.ref_time, r.first_valid, "         \
	"r.last_valid, r.ntimes, r.nfarms, r.description, r.ingested_at"

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Read RUN_COLS starting at column `c`. */
static void read_run(sqlite3_stmt *s, int c, struct nwp_run *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, c);
	copy_text(r->sha256, sizeof(r->sha256), sqlite3_column_text(s, c + 1));
	copy_text(r->source, sizeof(r->source), sqlite3_column_text(s, c + 2));
	r->is_forecast = sqlite3_column_int(s, c + 3) != 0;
	r->ref_time = sqlite3_column_int64(s, c + 4);
	r->first_valid = sqlite3_column_int64(s, c + 5);
	r->last_valid = sqlite3_column_int64(s, c + 6);
	r->ntimes = sqlite3_column_int(s, c + 7);
	r->nfarms = sqlite3_column_int(s, c + 8);
	copy_text(r->description, sizeof(r->description), sqlite3_column_text(s, c + 9));
	r->ingested_at = sqlite3_column_int64(s, c + 10);
}

static enum wc_status run_by_sha_locked(struct store *st, const char *sha256,
					struct nwp_run *run, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare(st, "SELECT " RUN_COLS " FROM nwp_runs r WHERE r.sha256 = ?",
				 &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, sha256, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (run)
			read_run(s, 0, run);
	} else if (rc == SQLITE_DONE) {
		ret = wc_error_set(err, WC_ENOTFOUND, "no run from sha256 %s", sha256);
	} else {
		ret = store_sql_error(st, rc, err, "cannot look up run");
	}
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_run_by_sha(struct store *st, const char *sha256, struct nwp_run *run,
				struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	ret = run_by_sha_locked(st, sha256, run, err);
	store_unlock(st);
	return ret;
}

static void bind_double_or_null(sqlite3_stmt *s, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/*
 * *same tells whether farm `site->id` is in the store and stands where `site` does (see
 * farm_same_site). Lock held.
 */
static enum wc_status farm_still_at(struct store *st, const struct farm *site, bool *same,
				    struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*same = false;
	if ((ret = store_prepare(st, "SELECT lat, lon, hub_height_m FROM farms WHERE id = ?", &s,
				 err)))
		return ret;
	sqlite3_bind_text(s, 1, site->id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		struct farm now = { .lat = sqlite3_column_double(s, 0),
				    .lon = sqlite3_column_double(s, 1),
				    .hub_height_m = sqlite3_column_type(s, 2) == SQLITE_NULL
							    ? NAN
							    : sqlite3_column_double(s, 2) };

		*same = farm_same_site(&now, site);
	} else if (rc != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot read farm");
	}
	sqlite3_finalize(s);
	return ret;
}

static enum wc_status insert_rows(struct store *st, int64_t run_id,
				  const struct farm_weather *fw, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;

	if ((ret = store_prepare(st,
				 "INSERT INTO site_weather (farm_id, run_id, valid_time, lead_h, "
				 "u10, v10, u100, v100, ws10, ws100, wd10, wd100, ws_hub, t2m, sp, "
				 "rho, ws100_nbr_mean, ws100_nbr_std) VALUES (?, ?, ?, ?, ?, ?, ?, "
				 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, fw->farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, run_id);
	for (size_t i = 0; i < fw->nrows && !ret; i++) {
		const struct weather_row *r = &fw->rows[i];
		int rc;

		sqlite3_bind_int64(s, 3, r->valid_time);
		bind_double_or_null(s, 4, r->lead_h);
		for (int c = 0; c < WEATHER_NCOLS; c++)
			bind_double_or_null(s, 5 + c, r->v[c]);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			ret = store_sql_error(st, rc, err, "cannot store site weather");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return ret;
}

/* The entry of farm `id` in sites[0..n), or NULL. */
static const struct farm *find_site(const struct farm *sites, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(sites[i].id, id))
			return &sites[i];
	return NULL;
}

enum wc_status store_ingest_batches(struct store *st, const char *sha256, int64_t size,
				    const char *stored_path, const char *original_name,
				    struct nwp_run *run, weather_batch_fn next, void *cls,
				    const struct farm *sites, size_t nsites, struct wc_error *err)
{
	const struct farm *site;
	struct farm_weather fw;
	bool done = false, keep = true;
	char last_farm[FARM_ID_MAX + 1] = "";
	sqlite3_stmt *s = NULL;
	enum wc_status ret;
	int64_t now = utc_now();
	int rc;

	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	ret = run_by_sha_locked(st, sha256, NULL, NULL);
	if (ret == WC_OK) {
		ret = wc_error_set(err, WC_EEXIST, "file with sha256 %s is already ingested",
				   sha256);
		goto end;
	}
	if ((ret = store_prepare(st, "INSERT OR REPLACE INTO grids (sha256, size, path, "
				     "original_name, received_at) VALUES (?, ?, ?, ?, ?)",
				 &s, err)))
		goto end;
	sqlite3_bind_text(s, 1, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, size);
	sqlite3_bind_text(s, 3, stored_path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, original_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot record grid file");
		goto end;
	}
	if ((ret = store_prepare(st, "INSERT INTO nwp_runs (sha256, source, is_forecast, "
				     "ref_time, first_valid, last_valid, ntimes, nfarms, "
				     "description, ingested_at, attributes) "
				     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 &s, err)))
		goto end;
	snprintf(run->sha256, sizeof(run->sha256), "%s", sha256);
	run->ingested_at = now;
	sqlite3_bind_text(s, 1, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, run->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 3, run->is_forecast);
	if (run->is_forecast)
		sqlite3_bind_int64(s, 4, run->ref_time);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_int64(s, 5, run->first_valid);
	sqlite3_bind_int64(s, 6, run->last_valid);
	sqlite3_bind_int(s, 7, run->ntimes);
	sqlite3_bind_int(s, 8, run->nfarms);
	sqlite3_bind_text(s, 9, run->description, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 10, now);
	if (run->attributes)
		sqlite3_bind_text(s, 11, run->attributes, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 11);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot record run");
		goto end;
	}
	run->id = sqlite3_last_insert_rowid(st->db);
	run->nfarms = 0;
	while (!ret && !(ret = next(cls, &fw, &done, err)) && !done) {
		/* batches of one farm come together; count each farm once */
		if (strcmp(last_farm, fw.farm_id)) {
			/*
			 * NEEDSWORK: a farm dropped here (moved or removed while the file was
			 * decoded) is still named in the caller's list of farms.
			 */
			keep = true;
			if (sites && (site = find_site(sites, nsites, fw.farm_id)) &&
			    (ret = farm_still_at(st, site, &keep, err)))
				break;
			run->nfarms += keep;
			snprintf(last_farm, sizeof(last_farm), "%s", fw.farm_id);
		}
		if (keep)
			ret = insert_rows(st, run->id, &fw, err);
	}
	if (ret)
		goto end;
	if ((ret = store_prepare(st, "UPDATE nwp_runs SET nfarms = ? WHERE id = ?", &s, err)))
		goto end;
	sqlite3_bind_int(s, 1, run->nfarms);
	sqlite3_bind_int64(s, 2, run->id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot record run");
		goto end;
	}
	ret = store_gen_bump_locked(st, STORE_SUBJECT_NWP, err);
end:
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

struct farm_array {
	const struct farm_weather *farms;
	size_t n, next;
};

static enum wc_status next_in_array(void *cls, struct farm_weather *out, bool *done,
				    struct wc_error *err)
{
	struct farm_array *a = cls;

	*done = a->next >= a->n;
	if (!*done)
		*out = a->farms[a->next++];
	return WC_OK;
}

enum wc_status store_ingest_run(struct store *st, const char *sha256, int64_t size,
				const char *stored_path, const char *original_name,
				struct nwp_run *run, const struct farm_weather *farms,
				size_t nfarms, struct wc_error *err)
{
	struct farm_array a = { farms, nfarms, 0 };

	return store_ingest_batches(st, sha256, size, stored_path, original_name, run,
				    next_in_array, &a, NULL, 0, err);
}

enum wc_status store_run_attributes(struct store *st, int64_t run_id, char **json,
				    struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*json = NULL;
	store_lock(st);
	if ((ret = store_prepare(st, "SELECT attributes FROM nwp_runs WHERE id = ?", &s, err)))
		goto out;
	sqlite3_bind_int64(s, 1, run_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *text = sqlite3_column_text(s, 0);

		if (text && !(*json = strdup((const char *)text)))
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		ret = wc_error_set(err, WC_ENOTFOUND, "no run %lld", (long long)run_id);
	} else {
		ret = store_sql_error(st, rc, err, "cannot read run attributes");
	}
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}

static enum wc_status run_row(sqlite3_stmt *s, void *elem, struct wc_error *err)
{
	read_run(s, 0, elem);
	return WC_OK;
}

enum wc_status store_run_list(struct store *st, struct nwp_run **out, size_t *n,
			      struct wc_error *err)
{
	return store_collect(st, "SELECT " RUN_COLS " FROM nwp_runs r ORDER BY "
				 "coalesce(r.ref_time, r.first_valid) DESC, r.id DESC",
			     sizeof(**out), run_row, (void **)out, n, "cannot list runs", err);
}

enum wc_status store_run_newest(struct store *st, int64_t *ref_time, bool *found,
				struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*found = false;
	store_lock(st);
	/* analyses have no reference time; max() on the index reads one entry */
	if (!(ret = store_prepare_kept(st, "SELECT max(ref_time) FROM nwp_runs", &s, err))) {
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			*found = sqlite3_column_type(s, 0) != SQLITE_NULL;
			*ref_time = sqlite3_column_int64(s, 0);
		} else {
			ret = store_sql_error(st, rc, err, "cannot read the newest run");
		}
		store_release(st, s);
	}
	store_unlock(st);
	return ret;
}

/* One integer that `sql` selects into *v; `what` names it in an error. */
static enum wc_status select_int64(struct store *st, const char *sql, const char *what,
				   int64_t *v, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*v = 0;
	store_lock(st);
	if (!(ret = store_prepare_kept(st, sql, &s, err))) {
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			*v = sqlite3_column_int64(s, 0);
		else
			ret = store_sql_error(st, rc, err, what);
		store_release(st, s);
	}
	store_unlock(st);
	return ret;
}

enum wc_status store_run_count(struct store *st, size_t *n, struct wc_error *err)
{
	int64_t v;
	enum wc_status ret = select_int64(st, "SELECT count(*) FROM nwp_runs", "cannot count runs",
					  &v, err);

	*n = (size_t)v;
	return ret;
}

enum wc_status store_run_newest_id(struct store *st, int64_t *id, struct wc_error *err)
{
	return select_int64(st, "SELECT coalesce(max(id), 0) FROM nwp_runs",
			    "cannot read the newest run", id, err);
}

enum wc_status store_runs_between(struct store *st, int64_t after_id, int64_t upto_id,
				  struct runs_between *out, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	memset(out, 0, sizeof(*out));
	out->min_ref = INT64_MAX;
	store_lock(st);
	if (!(ret = store_prepare(st,
				  "SELECT count(*), coalesce(sum(ref_time IS NULL OR NOT "
				  "is_forecast), 0), min(CASE WHEN is_forecast THEN ref_time END) "
				  "FROM nwp_runs WHERE id > ?1 AND id <= ?2",
				  &s, err))) {
		sqlite3_bind_int64(s, 1, after_id);
		sqlite3_bind_int64(s, 2, upto_id);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			out->n = (size_t)sqlite3_column_int64(s, 0);
			out->any_analysis = sqlite3_column_int64(s, 1) > 0;
			if (sqlite3_column_type(s, 2) != SQLITE_NULL)
				out->min_ref = sqlite3_column_int64(s, 2);
		} else {
			ret = store_sql_error(st, rc, err, "cannot read the runs");
		}
		sqlite3_finalize(s);
	}
	store_unlock(st);
	return ret;
}

/* *newer tells whether a run with id > run_id exists. Lock held. */
static enum wc_status runs_after(struct store *st, int64_t run_id, bool *newer,
				 struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare(st, "SELECT EXISTS (SELECT 1 FROM nwp_runs WHERE id > ?)", &s,
				 err)))
		return ret;
	sqlite3_bind_int64(s, 1, run_id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*newer = sqlite3_column_int(s, 0) != 0;
	else
		ret = store_sql_error(st, rc, err, "cannot look up runs");
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_farm_weather_replace(struct store *st, const struct farm *site,
					  int64_t max_run_id, run_weather_fn next, void *cls,
					  enum weather_replace *outcome, struct wc_error *err)
{
	struct run_weather rw;
	bool same = false, newer = false, done = false;
	char subject[STORE_SUBJECT_MAX];
	enum wc_status ret;
	int changes;

	*outcome = WEATHER_MOVED;
	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	if ((ret = farm_still_at(st, site, &same, err)) || !same)
		goto end;
	if ((ret = runs_after(st, max_run_id, &newer, err)))
		goto end;
	if (newer) {
		*outcome = WEATHER_NEW_RUNS;
		goto end;
	}
	if ((ret = store_farm_runs_count(st, site->id, -1, err)) ||
	    (ret = store_exec_id(st, "DELETE FROM site_weather WHERE farm_id = ?1", site->id,
				 &changes, "cannot replace site weather", err)))
		goto end;
	while (!(ret = next(cls, &rw, &done, err)) && !done) {
		struct farm_weather fw = { site->id, rw.rows, rw.nrows };

		if ((ret = insert_rows(st, rw.run_id, &fw, err)))
			break;
	}
	if (!ret && !(ret = store_farm_runs_count(st, site->id, +1, err)) &&
	    !(ret = store_gen_bump_farm_locked(st, site->id, err)) &&
	    !(ret = store_gen_bump_locked(st, store_gen_subject(subject, sizeof(subject),
							       STORE_SUBJECT_WEATHER, site->id),
					  err)))
		*outcome = WEATHER_REPLACED;
end:
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_weather_query(struct store *st, const char *farm_id, int64_t ref_time,
				   struct weather_row **rows, struct nwp_run **runs,
				   size_t *n, struct wc_error *err)
{
	struct weather_row *vr = NULL;
	struct nwp_run *vn = NULL;
	size_t len = 0, cap_r = 0, cap_n = 0;
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*rows = NULL;
	*runs = NULL;
	*n = 0;
	store_lock(st);
	if ((ret = store_prepare(st,
				 "SELECT w.valid_time, w.lead_h, w.u10, w.v10, w.u100, w.v100, "
				 "w.ws10, w.ws100, w.wd10, w.wd100, w.ws_hub, w.t2m, w.sp, w.rho, "
				 "w.ws100_nbr_mean, w.ws100_nbr_std, " RUN_COLS
				 " FROM site_weather w JOIN nwp_runs r ON r.id = w.run_id "
				 "WHERE w.farm_id = ?1 AND (?2 IS NULL OR r.ref_time = ?2) "
				 "ORDER BY coalesce(r.ref_time, r.first_valid), r.id, w.valid_time",
				 &s, err)))
		goto out;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	if (ref_time != INT64_MIN)
		sqlite3_bind_int64(s, 2, ref_time);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct weather_row *r;

		vr = store_grow(vr, &cap_r, len, sizeof(*vr));
		vn = store_grow(vn, &cap_n, len, sizeof(*vn));
		if (!vr || !vn) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			break;
		}
		r = &vr[len];
		r->valid_time = sqlite3_column_int64(s, 0);
		r->lead_h = sqlite3_column_type(s, 1) == SQLITE_NULL ? NAN
								      : sqlite3_column_double(s, 1);
		for (int c = 0; c < WEATHER_NCOLS; c++)
			r->v[c] = sqlite3_column_type(s, 2 + c) == SQLITE_NULL
					  ? NAN
					  : sqlite3_column_double(s, 2 + c);
		read_run(s, 2 + WEATHER_NCOLS, &vn[len]);
		len++;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot read site weather");
	sqlite3_finalize(s);
out:
	store_unlock(st);
	if (ret) {
		free(vr);
		free(vn);
		return ret;
	}
	*rows = vr;
	*runs = vn;
	*n = len;
	return WC_OK;
}
