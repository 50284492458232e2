/*
 * store_jobs.c - background job records (ingest, train, ...): state, input, result,
 * attempts. The job runner lives in server/jobs.c; the row is what it runs from (the
 * input) and what it reports, so that a job outlives the process that accepted it.
 */
#include <stdbool.h>
#include <stdio.h>
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

/* Insert a queued job; the caller holds the lock. */
static enum wc_status insert_job(struct store *st, const char *kind, const char *input_json,
				 int64_t *id, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare(st, "INSERT INTO jobs (kind, state, input, created_at) "
				     "VALUES (?, 'queued', ?, ?)",
				 &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, input_json, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, utc_now());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot create job");
	else
		*id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_job_create(struct store *st, const char *kind, const char *input_json,
				int64_t *id, struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	/* a 202 may name the job as soon as this returns: sync the WAL on this commit */
	if (!(ret = store_exec(st, "PRAGMA synchronous = FULL", err))) {
		ret = insert_job(st, kind, input_json, id, err);
		store_exec(st, "PRAGMA synchronous = NORMAL", NULL);	/* cannot fail */
	}
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

#define JOB_COLS                                                                         \
	"id, kind, state, attempts, created_at, coalesce(started_at, 0), "                  \
	"coalesce(finished_at, 0), input, result"

/* One row of JOB_COLS into *out; input and result only when `texts`. */
static void read_job(sqlite3_stmt *s, struct job *out, bool texts)
{
	const char *state = (const char *)sqlite3_column_text(s, 2);

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	snprintf(out->kind, sizeof(out->kind), "%s", (const char *)sqlite3_column_text(s, 1));
	for (int i = 0; i < 4; i++)
		if (state && !strcmp(state, state_names[i]))
			out->state = (enum job_state)i;
	out->attempts = sqlite3_column_int(s, 3);
	out->created_at = sqlite3_column_int64(s, 4);
	out->started_at = sqlite3_column_int64(s, 5);
	out->finished_at = sqlite3_column_int64(s, 6);
	if (texts) {
		out->input = dup_text(s, 7);
		out->result = dup_text(s, 8);
	}
}

/* Read job id into *out; the caller holds the lock. */
static enum wc_status get_locked(struct store *st, int64_t id, struct job *out,
				 struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((ret = store_prepare(st, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", &s, err)))
		return ret;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_job(s, out, true);
	else if (rc == SQLITE_DONE)
		ret = wc_error_set(err, WC_ENOTFOUND, "no job %lld", (long long)id);
	else
		ret = store_sql_error(st, rc, err, "cannot read job");
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_job_get(struct store *st, int64_t id, struct job *out,
			     struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	ret = get_locked(st, id, out, err);
	store_unlock(st);
	return ret;
}

enum wc_status store_job_claim(struct store *st, int64_t id, struct job *out,
			       struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	memset(out, 0, sizeof(*out));
	store_lock(st);
	if ((ret = store_prepare(st, "UPDATE jobs SET state = 'running', attempts = attempts + 1, "
				     "started_at = ?2 WHERE id = ?1 AND state IN ('queued', "
				     "'running')",
				 &s, err)))
		goto out;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, utc_now());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot start job");
	else if (sqlite3_changes(st->db) == 0)
		ret = wc_error_set(err, WC_ENOTFOUND, "no job %lld to run (finished already?)",
				   (long long)id);
	sqlite3_finalize(s);
	if (!ret)
		ret = get_locked(st, id, out, err);
out:
	store_unlock(st);
	return ret;
}

static enum wc_status unfinished_row(sqlite3_stmt *s, void *elem, struct wc_error *err)
{
	read_job(s, elem, false);
	return WC_OK;
}

enum wc_status store_job_unfinished(struct store *st, struct job **out, size_t *n,
				    struct wc_error *err)
{
	return store_collect(st, "SELECT " JOB_COLS " FROM jobs WHERE state IN "
				 "('queued', 'running') ORDER BY id",
			     sizeof(**out), unfinished_row, (void **)out, n,
			     "cannot list unfinished jobs", err);
}
