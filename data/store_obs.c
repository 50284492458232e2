/* store_obs.c - metered farm output in the store; see store.h. */
#include <stdlib.h>
#include <string.h>

#include "data/store_internal.h"

enum wc_status store_obs_upsert(struct store *st, const char *farm_id,
				const struct obs_row *rows, size_t n, struct wc_error *err)
{
	struct farm f;
	sqlite3_stmt *s = NULL;
	enum wc_status ret;

	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	if ((ret = store_farm_get_locked(st, farm_id, &f, err)) ||
	    (ret = store_prepare(st, "INSERT INTO observations (farm_id, time, power_mw, flag) "
				     "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (farm_id, time) DO "
				     "UPDATE SET power_mw = excluded.power_mw, flag = excluded.flag",
				 &s, err)))
		goto end;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	for (size_t i = 0; i < n; i++) {
		int rc;

		sqlite3_bind_int64(s, 2, rows[i].time);
		sqlite3_bind_double(s, 3, rows[i].power_mw);
		sqlite3_bind_int(s, 4, (int)rows[i].flag);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			ret = store_sql_error(st, rc, err, "cannot store observation");
			break;
		}
	}
	if (!ret)
		ret = store_gen_bump_farm_locked(st, farm_id, err);
end:
	sqlite3_finalize(s);
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_obs_query(struct store *st, const char *farm_id, int64_t from,
			       int64_t to, struct obs_row **rows, size_t *n,
			       struct wc_error *err)
{
	struct obs_row *v = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*rows = NULL;
	*n = 0;
	store_lock(st);
	if ((ret = store_prepare_kept(st, "SELECT time, power_mw, flag FROM observations WHERE "
				     "farm_id = ? AND time >= ? AND time <= ? ORDER BY time",
				 &s, err)))
		goto out;
	sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int64(s, 3, to);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!(v = store_grow(v, &cap, len, sizeof(*v)))) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			break;
		}
		v[len].time = sqlite3_column_int64(s, 0);
		v[len].power_mw = sqlite3_column_double(s, 1);
		v[len].flag = (enum obs_flag)sqlite3_column_int(s, 2);
		len++;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot read observations");
	store_release(st, s);
out:
	store_unlock(st);
	if (ret) {
		free(v);
		return ret;
	}
	*rows = v;
	*n = len;
	return WC_OK;
}

enum wc_status store_obs_last(struct store *st, const char *farm_id, bool *any, int64_t *last,
			      struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*any = false;
	store_lock(st);
	if (!(ret = store_prepare_kept(st, "SELECT time FROM observations WHERE farm_id = ? "
					   "ORDER BY time DESC LIMIT 1",
				       &s, err))) {
		sqlite3_bind_text(s, 1, farm_id, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			*any = true;
			*last = sqlite3_column_int64(s, 0);
		} else if (rc != SQLITE_DONE) {
			ret = store_sql_error(st, rc, err, "cannot read observations");
		}
		store_release(st, s);
	}
	store_unlock(st);
	return ret;
}
