/*
 * store_forecast.c - trained models, stored forecasts and the availability-bounded
 * weather query of the forecaster; see store.h.
 *
 * Model files live under DATA/models/<farm>/<version>.wcm; this file records them. A
 * forecast is kept as the JSON body forecast/forecast.c writes, keyed (farm, issued, model),
 * so a trader can ask later what was forecast at a past issue time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store_internal.h"

void model_rec_release(struct model_rec *m)
{
	free(m->info);
	m->info = NULL;
}

/* The next unused version of a farm's models (1 when it has none). Lock held. */
static enum wc_status next_version_locked(struct store *st, const char *farm_id, int *version,
					  struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare(st, "SELECT coalesce(max(version), 0) + 1 FROM models "
				     "WHERE farm_id = ?",
				 &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	else
		ret = store_sql_error(st, rc, err, "cannot read model versions");
	sqlite3_finalize(s);
	return ret;
}

/* Record a model; WC_EEXIST when (farm, version) is taken. Lock held. */
static enum wc_status model_insert_locked(struct store *st, const struct model_rec *m,
					  struct wc_error *err)
{
	sqlite3_stmt *s = NULL;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare(st, "INSERT INTO models (farm_id, version, path, created_at, "
				     "train_from, train_to, n_rows, info) VALUES "
				     "(?, ?, ?, ?, ?, ?, ?, ?)",
				 &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, m->farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, m->version);
	sqlite3_bind_text(s, 3, m->path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, m->created_at);
	sqlite3_bind_int64(s, 5, m->train_from);
	sqlite3_bind_int64(s, 6, m->train_to);
	sqlite3_bind_int64(s, 7, m->n_rows);
	sqlite3_bind_text(s, 8, m->info ? m->info : "{}", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		ret = wc_error_set(err, WC_EEXIST, "model %d of farm '%s' already exists",
				   m->version, m->farm_id);
	else if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot record model");
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_models_add(struct store *st, struct model_rec *recs, int n,
				store_model_writer write, void *ctx, struct wc_error *err)
{
	struct farm f;
	enum wc_status ret;

	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	/* the write lock is held from here to the end: no other writer can take a version
	 * between reading the next one and recording it */
	for (int i = 0; i < n && !ret; i++)
		if (!(ret = store_farm_get_locked(st, recs[i].farm_id, &f, err)) &&
		    !(ret = next_version_locked(st, recs[i].farm_id, &recs[i].version, err)) &&
		    !(ret = write(ctx, i, &recs[i], err)) &&
		    !(ret = model_insert_locked(st, &recs[i], err)))
			ret = store_gen_bump_farm_locked(st, recs[i].farm_id, err);
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_model_get(struct store *st, const char *farm_id, int version,
			       struct model_rec *out, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	memset(out, 0, sizeof(*out));
	store_lock(st);
	if ((ret = store_prepare_kept(st, "SELECT version, path, created_at, train_from, train_to, "
				     "n_rows, info FROM models WHERE farm_id = ?1 AND "
				     "(?2 <= 0 OR version = ?2) ORDER BY version DESC LIMIT 1",
				 &s, err)))
		goto out;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, version);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *path = sqlite3_column_text(s, 1);
		const unsigned char *info = sqlite3_column_text(s, 6);

		snprintf(out->farm_id, sizeof(out->farm_id), "%s", farm_id);
		out->version = sqlite3_column_int(s, 0);
		snprintf(out->path, sizeof(out->path), "%s", path ? (const char *)path : "");
		out->created_at = sqlite3_column_int64(s, 2);
		out->train_from = sqlite3_column_int64(s, 3);
		out->train_to = sqlite3_column_int64(s, 4);
		out->n_rows = sqlite3_column_int64(s, 5);
		out->info = strdup(info ? (const char *)info : "{}");
		if (!out->info)
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		if (version > 0)
			ret = wc_error_set(err, WC_ENOTFOUND, "no model %d of farm '%s'",
					   version, farm_id);
		else
			ret = wc_error_set(err, WC_ENOTFOUND,
					   "no trained model of farm '%s'; run 'windcast train "
					   "--farm %s'",
					   farm_id, farm_id);
	} else {
		ret = store_sql_error(st, rc, err, "cannot read model");
	}
	store_release(st, s);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_forecast_put(struct store *st, const char *farm_id, size_t n,
				  const int64_t *issued, const char *const *model,
				  const char *const *body, struct wc_error *err)
{
	struct farm f;
	sqlite3_stmt *s = NULL, *had = NULL;
	enum wc_status ret;
	int64_t now = utc_now();
	bool replaced = false;

	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	if ((ret = store_farm_get_locked(st, farm_id, &f, err)) ||
	    (ret = store_prepare(st, "INSERT OR REPLACE INTO forecasts (farm_id, issued, "
				     "model, created_at, body) VALUES (?, ?, ?, ?, ?)",
				 &s, err)) ||
	    (ret = store_prepare(st, "SELECT 1 FROM forecasts WHERE farm_id = ?1 AND "
				     "issued = ?2 AND model = ?3",
				 &had, err)))
		goto end;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(had, 1, farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	for (size_t i = 0; i < n; i++) {
		int rc;

		sqlite3_bind_int64(had, 2, issued[i]);
		sqlite3_bind_text(had, 3, model[i], -1, SQLITE_TRANSIENT);
		replaced |= sqlite3_step(had) == SQLITE_ROW;
		sqlite3_reset(had);
		sqlite3_bind_int64(s, 2, issued[i]);
		sqlite3_bind_text(s, 3, model[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 5, body[i], -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			ret = store_sql_error(st, rc, err, "cannot store forecast");
			break;
		}
	}
	/* a new forecast changes no answer (it is what the inputs give); a replaced one may */
	if (!ret && replaced)
		ret = store_gen_bump_farm_locked(st, farm_id, err);
end:
	sqlite3_finalize(s);
	sqlite3_finalize(had);
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_forecast_get(struct store *st, const char *farm_id, int64_t issued,
				  const char *model, char **body, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*body = NULL;
	store_lock(st);
	if ((ret = store_prepare_kept(st, "SELECT body FROM forecasts WHERE farm_id = ? AND "
				     "issued = ? AND model = ?",
				 &s, err)))
		goto out;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, issued);
	sqlite3_bind_text(s, 3, model, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *b = sqlite3_column_text(s, 0);

		if (!(*body = strdup(b ? (const char *)b : "{}")))
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		ret = wc_error_set(err, WC_ENOTFOUND, "no stored forecast of farm '%s'", farm_id);
	} else {
		ret = store_sql_error(st, rc, err, "cannot read forecast");
	}
	store_release(st, s);
out:
	store_unlock(st);
	return ret;
}

static double column_or_nan(sqlite3_stmt *s, int c)
{
	return sqlite3_column_type(s, c) == SQLITE_NULL ? NAN : sqlite3_column_double(s, c);
}

/* Read the weather columns of a row that start at column c. */
static void read_weather_row(sqlite3_stmt *s, int c, struct weather_row *r)
{
	r->valid_time = sqlite3_column_int64(s, c);
	r->lead_h = column_or_nan(s, c + 1);
	for (int k = 0; k < WEATHER_NCOLS; k++)
		r->v[k] = column_or_nan(s, c + 2 + k);
}

enum wc_status store_weather_until(struct store *st, const char *farm_id, int64_t ref_max,
				   int64_t valid_from, int64_t valid_to,
				   struct weather_row **rows, uint32_t **row_run, size_t *n,
				   struct nwp_run **runs, size_t *nruns, struct wc_error *err)
{
	struct weather_row *vr = NULL;
	uint32_t *vi = NULL;
	struct nwp_run *vn = NULL;
	size_t len = 0, cap_r = 0, cap_i = 0, nrun = 0, cap_n = 0;
	sqlite3_stmt *rs = NULL, *ws = NULL;
	enum wc_status ret;
	int rc;

	*rows = NULL;
	*row_run = NULL;
	*runs = NULL;
	*n = *nruns = 0;
	store_lock(st);
	/*
	 * The runs first: those with rows in the window, found on the index of (farm,
	 * valid time) alone, in the order of the result; then each run's rows, a range of
	 * the primary key (farm, run, valid time) that comes in valid-time order: no join
	 * and no sort of the rows. The bound on ref_time is the availability rule's:
	 * nothing later leaves SQLite.
	 */
	if ((ret = store_prepare_kept(st,
				      "SELECT r.id, r.is_forecast, r.ref_time, r.first_valid, "
				      "r.last_valid, r.source, r.ntimes FROM nwp_runs r "
				      "WHERE r.id IN (SELECT w.run_id FROM site_weather w "
				      "WHERE w.farm_id = ?1 AND w.valid_time >= ?3 AND "
				      "w.valid_time <= ?4) AND (r.ref_time IS NULL OR "
				      "r.ref_time <= ?2) ORDER BY "
				      "coalesce(r.ref_time, -9223372036854775807), r.id",
				      &rs, err)) ||
	    (ret = store_prepare_kept(st,
				      "SELECT valid_time, lead_h, u10, v10, u100, v100, ws10, "
				      "ws100, wd10, wd100, ws_hub, t2m, sp, rho, ws100_nbr_mean, "
				      "ws100_nbr_std FROM site_weather WHERE farm_id = ?1 AND "
				      "run_id = ?2 AND valid_time >= ?3 AND valid_time <= ?4 "
				      "ORDER BY valid_time",
				      &ws, err)))
		goto out;
	sqlite3_bind_text(rs, 1, farm_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(rs, 2, ref_max);
	sqlite3_bind_int64(rs, 3, valid_from);
	sqlite3_bind_int64(rs, 4, valid_to);
	while ((rc = sqlite3_step(rs)) == SQLITE_ROW) {
		struct nwp_run *u;
		const unsigned char *src = sqlite3_column_text(rs, 5);

		if (nrun > UINT32_MAX) {
			ret = wc_error_set(err, WC_ETOOLARGE, "farm '%s' has too many runs",
					   farm_id);
			goto out;
		}
		if (!(vn = store_grow(vn, &cap_n, nrun, sizeof(*vn)))) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto out;
		}
		u = &vn[nrun++];
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(rs, 0);
		u->is_forecast = sqlite3_column_int(rs, 1) != 0;
		u->ref_time = u->is_forecast ? sqlite3_column_int64(rs, 2) : 0;
		u->first_valid = sqlite3_column_int64(rs, 3);
		u->last_valid = sqlite3_column_int64(rs, 4);
		u->ntimes = sqlite3_column_int(rs, 6);
		snprintf(u->source, sizeof(u->source), "%s", src ? (const char *)src : "");
	}
	if (rc != SQLITE_DONE) {
		ret = store_sql_error(st, rc, err, "cannot read site weather");
		goto out;
	}
	sqlite3_bind_text(ws, 1, farm_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ws, 3, valid_from);
	sqlite3_bind_int64(ws, 4, valid_to);
	for (size_t i = 0; i < nrun; i++) {
		sqlite3_bind_int64(ws, 2, vn[i].id);
		while ((rc = sqlite3_step(ws)) == SQLITE_ROW) {
			vr = store_grow(vr, &cap_r, len, sizeof(*vr));
			vi = store_grow(vi, &cap_i, len, sizeof(*vi));
			if (!vr || !vi) {
				ret = wc_error_set(err, WC_ENOMEM, "out of memory");
				goto out;
			}
			read_weather_row(ws, 0, &vr[len]);
			vi[len++] = (uint32_t)i;
		}
		sqlite3_reset(ws);
		if (rc != SQLITE_DONE) {
			ret = store_sql_error(st, rc, err, "cannot read site weather");
			goto out;
		}
	}
out:
	store_release(st, rs);
	store_release(st, ws);
	store_unlock(st);
	if (ret) {
		free(vr);
		free(vi);
		free(vn);
		return ret;
	}
	*rows = vr;
	*row_run = vi;
	*n = len;
	*runs = vn;
	*nruns = nrun;
	return WC_OK;
}

enum wc_status store_farm_forecast_runs(struct store *st, const char *farm_id,
					int64_t ref_max, bool *any, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*any = false;
	store_lock(st);
	/* newest first on the ref_time index: the first run with rows of the farm ends it */
	if (!(ret = store_prepare_kept(st,
				       "SELECT EXISTS (SELECT 1 FROM nwp_runs r WHERE "
				       "r.ref_time <= ?2 AND r.is_forecast AND EXISTS (SELECT 1 "
				       "FROM site_weather w WHERE w.farm_id = ?1 AND "
				       "w.run_id = r.id))",
				       &s, err))) {
		sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, ref_max);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			*any = sqlite3_column_int(s, 0) != 0;
		else
			ret = store_sql_error(st, rc, err, "cannot read the runs");
		store_release(st, s);
	}
	store_unlock(st);
	return ret;
}
