/*
 * store_jobs.c - background job records (ingest, train, ...): state, input, result.
 * The job runner lives in server/jobs.c; this file only persists what it reports, so a
 * client can ask about a job after the process that ran it is gone.
 */
#include <stdlib.h>
#include <string.h>

#include "common/utc.h"
#include "data/store_internal.h"

static const char *const state_names[] = { "queued", "running", "done", "failed" };

const char *job_state_name(enum job_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "unknown";
}

void job_release(struct job *j)
{
	free(j->input);
	free(j->result);
	j->input = j->result = NULL;
}

enum wc_status store_job_create(struct store *st, const char *kind, const char *input_json,
				int64_t *id, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	store_lock(st);
	if ((ret = store_prepare(st, "INSERT INTO jobs (kind, state, input, created_at) "
				     "VALUES (?, 'queued', ?, ?)",
				 &s, err)))
		goto out;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, input_json, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, utc_now());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot create job");
	else
		*id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_job_set(struct store *st, int64_t id, enum job_state state,
			     const char *result_json, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	store_lock(st);
	if ((ret = store_prepare(st,
				 "UPDATE jobs SET state = ?2, result = coalesce(?3, result), "
				 "started_at = CASE WHEN ?2 = 'running' THEN ?4 ELSE started_at END, "
				 "finished_at = CASE WHEN ?2 IN ('done', 'failed') THEN ?4 "
				 "ELSE finished_at END WHERE id = ?1",
				 &s, err)))
		goto out;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, job_state_name(state), -1, SQLITE_STATIC);
	if (result_json)
		sqlite3_bind_text(s, 3, result_json, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, utc_now());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot update job");
	else if (sqlite3_changes(st->db) == 0)
		ret = wc_error_set(err, WC_ENOTFOUND, "no job %lld", (long long)id);
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}

static char *dup_text(sqlite3_stmt *s, int c)
{
	const unsigned char *t = sqlite3_column_text(s, c);

	return t ? strdup((const char *)t) : NULL;
}

enum wc_status store_job_get(struct store *st, int64_t id, struct job *out,
			     struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	memset(out, 0, sizeof(*out));
	store_lock(st);
	if ((ret = store_prepare(st, "SELECT id, kind, state, input, result, created_at, "
				     "coalesce(started_at, 0), coalesce(finished_at, 0) "
				     "FROM jobs WHERE id = ?",
				 &s, err)))
		goto out;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(s, 2);

		out->id = sqlite3_column_int64(s, 0);
		snprintf(out->kind, sizeof(out->kind), "%s",
			 (const char *)sqlite3_column_text(s, 1));
		for (int i = 0; i < 4; i++)
			if (state && !strcmp(state, state_names[i]))
				out->state = (enum job_state)i;
		out->input = dup_text(s, 3);
		out->result = dup_text(s, 4);
		out->created_at = sqlite3_column_int64(s, 5);
		out->started_at = sqlite3_column_int64(s, 6);
		out->finished_at = sqlite3_column_int64(s, 7);
	} else if (rc == SQLITE_DONE) {
		ret = wc_error_set(err, WC_ENOTFOUND, "no job %lld", (long long)id);
	} else {
		ret = store_sql_error(st, rc, err, "cannot read job");
	}
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}

enum wc_status store_job_fail_stale(struct store *st, size_t *n, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*n = 0;
	store_lock(st);
	if ((ret = store_prepare(st,
				 "UPDATE jobs SET state = 'failed', finished_at = ?1, "
				 "result = '{\"error\":\"interrupted: the server stopped before "
				 "the job finished; submit it again\"}' "
				 "WHERE state IN ('queued', 'running')",
				 &s, err)))
		goto out;
	sqlite3_bind_int64(s, 1, utc_now());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot fail stale jobs");
	else
		*n = (size_t)sqlite3_changes(st->db);
	sqlite3_finalize(s);
out:
	store_unlock(st);
	return ret;
}
