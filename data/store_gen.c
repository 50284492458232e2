/*
 * store_gen.c - generations: a stamp per subject that moves, inside the same write
 * transaction, with every change of what the subject's answers are computed from; and
 * the watch that sees them move, from this process or another. See store.h.
 *
 * Table `generations (subject, gen)`: the row '*' holds the store-wide sequence; a bump
 * takes its next value and writes it as the subject's gen, so "what moved after stamp S"
 * is `gen > S` on an index. Rows are never removed (a deleted farm's row stays, moved).
 *
 * A watch is one read-only SQLite connection. Asking it whether anything was committed
 * (PRAGMA data_version) costs a read transaction: file locks taken and released and a
 * stat, about 5 us, which is a third of what answering a held reply costs. So a watch
 * first looks at the WAL-index header at the start of the store's -shm file: SQLite
 * writes it (two copies, the second first) before a commit returns, and every commit
 * changes it (its change counter, last frame, salts), so while it reads the same as at
 * the last poll nothing was committed since, and the poll costs two 48-byte reads. The
 * layout is SQLite's WAL-index format (walformat.html), which every SQLite version that
 * shares the file must keep. When the header cannot be used (no -shm, being written),
 * the poll asks SQLite. The header is read through SQLite's own mapping of the -shm (the
 * VFS's xShmMap on the watch's connection), valid while that connection is open; never
 * through a descriptor of our own, whose close() would drop every POSIX lock this process
 * holds on the file (SQLite's included: another process would then take the -shm as
 * unused and truncate it under this one's mapping, a SIGBUS).
 *
 * Limits: use a watch from one thread at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/store_internal.h"

#define WAL_HDR 48		/* one copy of the WAL-index header */

const char *store_gen_subject(char *buf, size_t len, const char *kind, const char *id)
{
	snprintf(buf, len, "%s%s%s", kind, id ? ":" : "", id ? id : "");
	return buf;
}

enum wc_status store_gen_bump_locked(struct store *st, const char *subject,
				     struct wc_error *err)
{
	enum wc_status ret;

	if ((ret = store_exec(st, "UPDATE generations SET gen = gen + 1 WHERE subject = '*'",
			      err)) ||
	    (ret = store_exec_id(st,
				 "INSERT INTO generations (subject, gen) SELECT ?1, gen FROM "
				 "generations WHERE subject = '*' ON CONFLICT (subject) DO "
				 "UPDATE SET gen = excluded.gen",
				 subject, NULL, "cannot move the generation", err)))
		return ret;
	st->bumped = true;
	return WC_OK;
}

enum wc_status store_gen_bump_farm_locked(struct store *st, const char *farm_id,
					  struct wc_error *err)
{
	char subject[STORE_SUBJECT_MAX];

	return store_gen_bump_locked(st, store_gen_subject(subject, sizeof(subject),
							   STORE_SUBJECT_FARM, farm_id),
				     err);
}

enum wc_status store_gen_get(struct store *st, const char *subject, uint64_t *gen,
			     struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	*gen = 0;
	store_lock(st);
	if (!(ret = store_prepare_kept(st, "SELECT gen FROM generations WHERE subject = ?1", &s,
				  err))) {
		sqlite3_bind_text(s, 1, subject, -1, SQLITE_TRANSIENT);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			*gen = (uint64_t)sqlite3_column_int64(s, 0);
		else if (rc != SQLITE_DONE)
			ret = store_sql_error(st, rc, err, "cannot read a generation");
		store_release(st, s);
	}
	store_unlock(st);
	return ret;
}

enum wc_status store_gen_bump(struct store *st, const char *subject, struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	if (!(ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		ret = store_end(st, store_gen_bump_locked(st, subject, err), err);
	store_unlock(st);
	return ret;
}

void store_on_change(struct store *st, void (*fn)(void *cls), void *cls)
{
	store_lock(st);
	st->on_change = fn;
	st->on_change_cls = cls;
	store_unlock(st);
}

struct store_watch {
	sqlite3 *db;
	sqlite3_stmt *version;	/* PRAGMA data_version */
	sqlite3_stmt *moved;	/* the subjects moved after a stamp */
	int64_t data_version;	/* -1 before the first poll */
	uint64_t seq;		/* the store-wide sequence at the last poll */
	const volatile unsigned char *shm;	/* SQLite's mapping of the -shm, or NULL */
	bool shm_tried;
	unsigned char hdr[WAL_HDR];	/* the header as the last poll's reading started */
	bool hdr_ok;			/* hdr holds one: a poll may end at comparing it */
};

/* The -shm's first region as SQLite maps it, once it exists (after a read of w->db). */
static void shm_map(struct store_watch *w)
{
	sqlite3_file *f = NULL;
	volatile void *p = NULL;

	w->shm_tried = true;
	if (sqlite3_file_control(w->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK ||
	    !f || !f->pMethods || f->pMethods->iVersion < 2 || !f->pMethods->xShmMap)
		return;
	/* 32 KiB: SQLite's WAL-index region size; 0: map what exists, create nothing */
	if (f->pMethods->xShmMap(f, 0, 32768, 0, &p) == SQLITE_OK && p)
		w->shm = p;
}

/*
 * Read the WAL-index header into hdr: true when its two copies agree (not being
 * written), as SQLite's own readers check it.
 */
static bool shm_header(const struct store_watch *w, unsigned char *hdr)
{
	unsigned char second[WAL_HDR];

	for (int i = 0; i < WAL_HDR; i++)
		hdr[i] = w->shm[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (int i = 0; i < WAL_HDR; i++)
		second[i] = w->shm[WAL_HDR + i];
	return !memcmp(hdr, second, WAL_HDR);
}

static enum wc_status watch_error(struct store_watch *w, const char *path, const char *what,
				  struct wc_error *err)
{
	return wc_error_set(err, WC_ESQL, "cannot %s '%s': %s", what, path,
			    w->db ? sqlite3_errmsg(w->db) : "out of memory");
}

enum wc_status store_watch_open(struct store *st, struct store_watch **out,
				struct wc_error *err)
{
	struct store_watch *w = calloc(1, sizeof(*w));
	const char *path = store_db_path(st);
	enum wc_status ret = WC_OK;

	*out = NULL;
	if (!w)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	w->data_version = -1;
	if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		ret = watch_error(w, path, "watch", err);
		goto cleanup;
	}
	sqlite3_busy_timeout(w->db, 10000);
	if (sqlite3_prepare_v3(w->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
			       &w->version, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "SELECT subject, gen FROM generations WHERE gen > ?1",
			       -1, SQLITE_PREPARE_PERSISTENT, &w->moved, NULL) != SQLITE_OK) {
		ret = watch_error(w, path, "watch the generations of", err);
		goto cleanup;
	}
	*out = w;
	w = NULL;
cleanup:
	store_watch_close(w);
	return ret;
}

void store_watch_close(struct store_watch *w)
{
	if (!w)
		return;
	sqlite3_finalize(w->version);
	sqlite3_finalize(w->moved);
	sqlite3_close_v2(w->db);
	free(w);
}

enum wc_status store_watch_poll(struct store_watch *w, uint64_t *seq, store_moved_fn moved,
				void *cls, struct wc_error *err)
{
	unsigned char hdr[WAL_HDR] = { 0 };
	enum wc_status ret = WC_OK;
	int64_t version;
	uint64_t top = w->seq;
	bool hdr_ok = false;
	int rc;

	/* the header first, then SQLite's view: a commit after it shows in the next poll */
	if (w->shm) {
		hdr_ok = shm_header(w, hdr);
		if (hdr_ok && w->hdr_ok && !memcmp(hdr, w->hdr, WAL_HDR)) {
			*seq = w->seq;
			return WC_OK;
		}
	}
	w->hdr_ok = false;
	rc = sqlite3_step(w->version);
	version = sqlite3_column_int64(w->version, 0);
	sqlite3_reset(w->version);
	if (rc != SQLITE_ROW)
		return wc_error_set(err, WC_ESQL, "cannot read the data version: %s",
				    sqlite3_errmsg(w->db));
	if (!w->shm && !w->shm_tried)
		shm_map(w);
	if (version == w->data_version) {
		*seq = w->seq;
		w->hdr_ok = hdr_ok;
		memcpy(w->hdr, hdr, sizeof(hdr));
		return WC_OK;
	}
	sqlite3_bind_int64(w->moved, 1, (sqlite3_int64)w->seq);
	while ((rc = sqlite3_step(w->moved)) == SQLITE_ROW) {
		const char *subject = (const char *)sqlite3_column_text(w->moved, 0);
		uint64_t gen = (uint64_t)sqlite3_column_int64(w->moved, 1);

		if (gen > top)
			top = gen;
		if (subject && strcmp(subject, "*") && moved)
			moved(cls, subject, gen);
	}
	if (rc != SQLITE_DONE)
		ret = wc_error_set(err, WC_ESQL, "cannot read the generations: %s",
				   sqlite3_errmsg(w->db));
	sqlite3_reset(w->moved);
	if (!ret) {
		w->data_version = version;
		w->seq = top;
		w->hdr_ok = hdr_ok;
		memcpy(w->hdr, hdr, sizeof(hdr));
	}
	*seq = w->seq;
	return ret;
}
