/*
 * store.c - SQLite store: open, migrations, farm registry.
 *
 * Limits: one connection per struct store, serialised by a mutex; a second process (the
 * CLI beside a running server) shares the file through WAL and a busy timeout.
 */
#include "data/store.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/utc.h"
#include "data/store_internal.h"

/*
 * Forward migrations; migrations[i] takes the schema from version i to i + 1.
 * Append only: never edit a migration that has shipped.
 */
static const char *const migrations[] = {
	/* 0 -> 1: farm registry */
	"CREATE TABLE farms ("
	"  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),"
	"  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),"
	"  lat REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),"
	"  lon REAL NOT NULL CHECK (lon >= -180 AND lon < 360),"
	"  capacity_mw REAL NOT NULL CHECK (capacity_mw > 0),"
	"  hub_height_m REAL CHECK (hub_height_m IS NULL OR hub_height_m > 0),"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",

	/* 1 -> 2: raw grids (content-addressed), NWP runs, site weather, jobs */
	"CREATE TABLE grids ("
	"  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),"
	"  size INTEGER NOT NULL,"
	"  path TEXT NOT NULL,"
	"  original_name TEXT,"
	"  received_at INTEGER NOT NULL"
	");"
	"CREATE TABLE nwp_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  sha256 TEXT NOT NULL UNIQUE REFERENCES grids(sha256),"
	"  source TEXT NOT NULL,"
	"  is_forecast INTEGER NOT NULL,"
	"  ref_time INTEGER,"			/* NULL for an analysis */
	"  first_valid INTEGER NOT NULL,"
	"  last_valid INTEGER NOT NULL,"
	"  ntimes INTEGER NOT NULL,"
	"  nfarms INTEGER NOT NULL,"
	"  description TEXT NOT NULL,"
	"  ingested_at INTEGER NOT NULL"
	");"
	"CREATE INDEX nwp_runs_ref ON nwp_runs(ref_time);"
	"CREATE TABLE site_weather ("
	"  farm_id TEXT NOT NULL REFERENCES farms(id) ON DELETE CASCADE,"
	"  run_id INTEGER NOT NULL REFERENCES nwp_runs(id) ON DELETE CASCADE,"
	"  valid_time INTEGER NOT NULL,"
	"  lead_h REAL,"
	"  u10 REAL, v10 REAL, u100 REAL, v100 REAL, ws10 REAL, ws100 REAL,"
	"  wd10 REAL, wd100 REAL, ws_hub REAL, t2m REAL, sp REAL, rho REAL,"
	"  ws100_nbr_mean REAL, ws100_nbr_std REAL,"
	"  PRIMARY KEY (farm_id, run_id, valid_time)"
	") WITHOUT ROWID;"
	"CREATE INDEX site_weather_valid ON site_weather(farm_id, valid_time);"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),"
	"  input TEXT NOT NULL,"
	"  result TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER"
	");",

	/* 2 -> 3: metered output per farm, hour-ending times */
	"CREATE TABLE observations ("
	"  farm_id TEXT NOT NULL REFERENCES farms(id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  power_mw REAL NOT NULL,"
	"  flag INTEGER NOT NULL DEFAULT 0 CHECK (flag IN (0, 1, 2)),"
	"  PRIMARY KEY (farm_id, time)"
	") WITHOUT ROWID;",

	/* 3 -> 4: trained models (files under DATA/models) and stored forecasts */
	"CREATE TABLE models ("
	"  farm_id TEXT NOT NULL REFERENCES farms(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL CHECK (version > 0),"
	"  path TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  train_from INTEGER NOT NULL,"
	"  train_to INTEGER NOT NULL,"
	"  n_rows INTEGER NOT NULL,"
	"  info TEXT NOT NULL,"			/* JSON: config and validation scores */
	"  PRIMARY KEY (farm_id, version)"
	");"
	"CREATE TABLE forecasts ("
	"  farm_id TEXT NOT NULL REFERENCES farms(id) ON DELETE CASCADE,"
	"  issued INTEGER NOT NULL,"
	"  model TEXT NOT NULL,"		/* nn:3, persistence, ... */
	"  created_at INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"			/* JSON, see forecast/forecast.h */
	"  PRIMARY KEY (farm_id, issued, model)"
	") WITHOUT ROWID;",

	/* 4 -> 5: a farm's own power curve, JSON [{"ws","power"}...] (data/farm.h); NULL
	 * when none */
	"ALTER TABLE farms ADD COLUMN power_curve TEXT;",

	/* 5 -> 6: the run file's global attributes, whole, as a JSON object (NULL for runs
	 * ingested before) */
	"ALTER TABLE nwp_runs ADD COLUMN attributes TEXT;",

	/* 6 -> 7: API tokens, kept as SHA-256 hashes only (data/token.h); a revoked token
	 * keeps its row (revoked_at) so that the list shows what it was */
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL CHECK (length(name) <= 64),"
	"  scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),"
	"  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
	"  hint TEXT NOT NULL,"			/* the token's last 4 characters */
	"  created_at INTEGER NOT NULL,"
	"  revoked_at INTEGER"
	");",
	/* 7 -> 8: generations (data/store_gen.c): a stamp per subject from the store-wide
	 * sequence in row '*'; every existing farm, the registry and the runs start moved */
	"CREATE TABLE generations ("
	"  subject TEXT PRIMARY KEY,"
	"  gen INTEGER NOT NULL"
	");"
	"CREATE INDEX generations_gen ON generations(gen);"
	"INSERT INTO generations (subject, gen) VALUES ('*', 1), ('farms', 1), ('nwp', 1);"
	"INSERT INTO generations (subject, gen) SELECT 'farm:' || id, 1 FROM farms;",
	/* 8 -> 9: market settings of farms, portfolios and their farms (data/portfolio.h); a
	 * farm in a portfolio cannot be removed (RESTRICT) */
	"CREATE TABLE farm_markets ("
	"  farm_id TEXT PRIMARY KEY REFERENCES farms(id) ON DELETE CASCADE,"
	"  settings TEXT NOT NULL,"		/* JSON, market_to_json */
	"  updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE portfolios ("
	"  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),"
	"  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),"
	"  market TEXT,"			/* JSON, market_to_json; NULL when none */
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE TABLE portfolio_farms ("
	"  portfolio_id TEXT NOT NULL REFERENCES portfolios(id) ON DELETE CASCADE,"
	"  farm_id TEXT NOT NULL REFERENCES farms(id) ON DELETE RESTRICT,"
	"  position INTEGER NOT NULL,"
	"  PRIMARY KEY (portfolio_id, farm_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX portfolio_farms_farm ON portfolio_farms(farm_id);",
	/* 9 -> 10: durable jobs: how many times a job was started (a job that keeps
	 * stopping the server is not run forever), and the unfinished ones found fast */
	"ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX jobs_unfinished ON jobs(id) WHERE state IN ('queued', 'running');",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store_schema_version(void)
{
	return SCHEMA_VERSION;
}

enum wc_status store_sql_error(struct store *st, int rc, struct wc_error *err,
			       const char *what)
{
	if (rc == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_CONSTRAINT)
		return wc_error_set(err, WC_EINVAL, "%s: constraint failed: %s", what,
				    sqlite3_errmsg(st->db));
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return wc_error_set(err, WC_EBUSY, "%s: database '%s' is busy: %s", what,
				    st->db_path, sqlite3_errmsg(st->db));
	return wc_error_set(err, WC_ESQL, "%s: %s", what, sqlite3_errmsg(st->db));
}

enum wc_status store_exec(struct store *st, const char *sql, struct wc_error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	enum wc_status ret = WC_OK;

	if (rc != SQLITE_OK) {
		ret = wc_error_set(err, (rc & 0xff) == SQLITE_BUSY ? WC_EBUSY : WC_ESQL,
				   "cannot run '%.40s': %s", sql,
				   msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
	}
	return ret;
}

enum wc_status store_prepare(struct store *st, const char *sql, sqlite3_stmt **out,
			     struct wc_error *err)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);

	if (rc != SQLITE_OK)
		return wc_error_set(err, WC_ESQL, "cannot prepare statement: %s",
				    sqlite3_errmsg(st->db));
	return WC_OK;
}

enum wc_status store_prepare_kept(struct store *st, const char *sql, sqlite3_stmt **out,
				  struct wc_error *err)
{
	int rc;

	for (size_t i = 0; i < st->nkept; i++) {
		if (!st->kept[i].busy && !strcmp(sqlite3_sql(st->kept[i].s), sql)) {
			st->kept[i].busy = true;
			*out = st->kept[i].s;
			return WC_OK;
		}
	}
	if (st->nkept == STORE_KEPT_MAX)
		return store_prepare(st, sql, out, err);
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return wc_error_set(err, WC_ESQL, "cannot prepare statement: %s",
				    sqlite3_errmsg(st->db));
	st->kept[st->nkept].s = *out;
	st->kept[st->nkept++].busy = true;
	return WC_OK;
}

void store_release(struct store *st, sqlite3_stmt *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < st->nkept; i++) {
		if (st->kept[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			st->kept[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(s);
}

enum wc_status store_end(struct store *st, enum wc_status ret, struct wc_error *err)
{
	bool bumped = st->bumped;

	st->bumped = false;
	if (!ret && !(ret = store_exec(st, "COMMIT", err))) {
		if (bumped && st->on_change)
			st->on_change(st->on_change_cls);
		return WC_OK;
	}
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

void *store_grow(void *arr, size_t *cap, size_t len, size_t size)
{
	void *p;

	if (len < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(arr, *cap * size);
	if (!p)
		free(arr);
	return p;
}

enum wc_status store_collect(struct store *st, const char *sql, size_t size,
			     enum wc_status (*row)(sqlite3_stmt *s, void *elem,
						   struct wc_error *err),
			     void **out, size_t *n, const char *what, struct wc_error *err)
{
	char *arr = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	enum wc_status ret;
	int rc;

	*out = NULL;
	*n = 0;
	store_lock(st);
	if ((ret = store_prepare(st, sql, &s, err)))
		goto cleanup;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!(arr = store_grow(arr, &cap, len, size))) {
			ret = wc_error_set(err, WC_ENOMEM, "out of memory");
			goto cleanup;
		}
		if ((ret = row(s, arr + len++ * size, err)))
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, what);
cleanup:
	sqlite3_finalize(s);
	store_unlock(st);
	if (ret) {
		free(arr);
		return ret;
	}
	*out = arr;
	*n = len;
	return WC_OK;
}

void store_lock(struct store *st)
{
	pthread_mutex_lock(&st->lock);
}

void store_unlock(struct store *st)
{
	pthread_mutex_unlock(&st->lock);
}

static enum wc_status read_user_version(struct store *st, int *version,
					struct wc_error *err)
{
	sqlite3_stmt *stmt;
	enum wc_status st_rc = store_prepare(st, "PRAGMA user_version", &stmt, err);

	if (st_rc)
		return st_rc;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		st_rc = store_sql_error(st, sqlite3_errcode(st->db), err,
					"cannot read the schema version");
	} else {
		*version = sqlite3_column_int(stmt, 0);
	}
	sqlite3_finalize(stmt);
	return st_rc;
}

static enum wc_status migrate(struct store *st, struct wc_error *err)
{
	int version = 0;
	enum wc_status rc;

	/* Take the write lock before reading the version so two openers cannot race. */
	if ((rc = store_exec(st, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = read_user_version(st, &version, err)))
		goto fail;
	if (version > SCHEMA_VERSION) {
		rc = wc_error_set(err, WC_EVERSION,
				  "cannot open '%s': schema version %d is newer than this "
				  "windcast supports (%d); upgrade windcast",
				  st->db_path, version, SCHEMA_VERSION);
		goto fail;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char pragma[64];

		if ((rc = store_exec(st, migrations[v], err))) {
			wc_error_prefix(err, "migration %d -> %d failed", v, v + 1);
			goto fail;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if ((rc = store_exec(st, pragma, err)))
			goto fail;
	}
	return store_exec(st, "COMMIT", err);
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static enum wc_status make_dir(const char *dir, struct wc_error *err)
{
	struct stat sb;

	if (mkdir(dir, 0755) == 0)
		return WC_OK;
	if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return WC_OK;
	return wc_error_set(err, WC_EIO, "cannot create data directory '%s': %s", dir,
			    errno == EEXIST ? "not a directory" : strerror(errno));
}

enum wc_status store_open(const char *dir, struct store **out, struct wc_error *err)
{
	return store_open_with(dir, STORE_CREATE, out, err);
}

enum wc_status store_open_with(const char *dir, unsigned flags, struct store **out,
			       struct wc_error *err)
{
	struct store *st;
	enum wc_status ret;
	char *db = NULL;
	struct stat sb;
	int rc;

	*out = NULL;
	if (!(flags & STORE_CREATE)) {
		if (asprintf(&db, "%s/windcast.db", dir) < 0)
			return wc_error_set(err, WC_ENOMEM, "out of memory");
		rc = stat(db, &sb);
		free(db);
		if (rc != 0)
			return wc_error_set(err, WC_ENOTFOUND, "no windcast store at '%s'", dir);
	} else if ((ret = make_dir(dir, err))) {
		return ret;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	pthread_mutex_init(&st->lock, NULL);
	st->dir = strdup(dir);
	if (!st->dir || asprintf(&st->db_path, "%s/windcast.db", dir) < 0) {
		st->db_path = NULL;
		ret = wc_error_set(err, WC_ENOMEM, "out of memory");
		goto fail;
	}
	rc = sqlite3_open_v2(st->db_path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX |
				     (flags & STORE_CREATE ? SQLITE_OPEN_CREATE : 0),
			     NULL);
	if (rc != SQLITE_OK) {
		ret = wc_error_set(err, WC_ESQL, "cannot open '%s': %s", st->db_path,
				   st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	sqlite3_extended_result_codes(st->db, 1);
	/* journal_mode needs a valid database: this is the first read of the file. */
	if ((ret = store_exec(st, "PRAGMA journal_mode = WAL", err))) {
		wc_error_prefix(err, "cannot open '%s'", st->db_path);
		goto fail;
	}
	if ((ret = store_exec(st,
			      "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
			      err)) ||
	    (ret = migrate(st, err)))
		goto fail;
	*out = st;
	return WC_OK;
fail:
	store_close(st);
	return ret;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nkept; i++)
		sqlite3_finalize(st->kept[i].s);
	if (st->db)
		sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st->dir);
	free(st->db_path);
	free(st);
}

const char *store_dir(const struct store *st)
{
	return st->dir;
}

const char *store_db_path(const struct store *st)
{
	return st->db_path;
}

/* ---- farms ---- */

bool farm_change_needs_weather(enum farm_change c)
{
	return c == FARM_CREATED || c == FARM_MOVED;
}

/*
 * Bind f's columns in FARM_COLS order; *curve gets the power curve's JSON text (NULL when
 * none), which the caller frees after the statement ran.
 */
static enum wc_status bind_farm(sqlite3_stmt *s, const struct farm *f, char **curve,
				struct wc_error *err)
{
	*curve = NULL;
	if (f->power_curve.n > 0) {
		json_t *v = farm_curve_to_json(&f->power_curve);

		*curve = v ? json_dumps(v, JSON_COMPACT) : NULL;
		json_decref(v);
		if (!*curve)
			return wc_error_set(err, WC_ENOMEM, "out of memory");
	}
	sqlite3_bind_text(s, 1, f->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, f->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(s, 3, f->lat);
	sqlite3_bind_double(s, 4, f->lon);
	sqlite3_bind_double(s, 5, f->capacity_mw);
	if (isnan(f->hub_height_m))
		sqlite3_bind_null(s, 6);
	else
		sqlite3_bind_double(s, 6, f->hub_height_m);
	sqlite3_bind_int64(s, 7, f->created_at);
	sqlite3_bind_int64(s, 8, f->updated_at);
	if (*curve)
		sqlite3_bind_text(s, 9, *curve, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 9);
	return WC_OK;
}

/* Read one row of FARM_COLS; WC_EFORMAT when the stored curve does not parse. */
static enum wc_status read_farm(sqlite3_stmt *s, struct farm *f, struct wc_error *err)
{
	const unsigned char *id = sqlite3_column_text(s, 0);
	const unsigned char *name = sqlite3_column_text(s, 1);
	const unsigned char *curve = sqlite3_column_text(s, 8);

	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id ? (const char *)id : "");
	snprintf(f->name, sizeof(f->name), "%s", name ? (const char *)name : "");
	f->lat = sqlite3_column_double(s, 2);
	f->lon = sqlite3_column_double(s, 3);
	f->capacity_mw = sqlite3_column_double(s, 4);
	f->hub_height_m = sqlite3_column_type(s, 5) == SQLITE_NULL
				  ? NAN
				  : sqlite3_column_double(s, 5);
	f->created_at = sqlite3_column_int64(s, 6);
	f->updated_at = sqlite3_column_int64(s, 7);
	if (curve) {
		struct wc_error why = { 0 };
		json_t *v = json_loads((const char *)curve, 0, NULL);
		enum wc_status ret = v ? farm_curve_from_json(v, &f->power_curve, &why)
				       : wc_error_set(&why, WC_EFORMAT, "not JSON");

		json_decref(v);
		if (ret)
			return wc_error_set(err, WC_EFORMAT,
					    "the stored power curve of farm '%s' is damaged (%s): "
					    "set it again with PUT /v1/farms/%s or farm import "
					    "--replace",
					    f->id, why.msg, f->id);
	}
	return WC_OK;
}

#define FARM_COLS                                                                        \
	"id, name, lat, lon, capacity_mw, hub_height_m, created_at, updated_at, power_curve"

/* Insert one farm; caller holds the lock. */
static enum wc_status insert_farm(struct store *st, struct farm *f, struct wc_error *err)
{
	sqlite3_stmt *s;
	char *curve = NULL;
	enum wc_status ret;
	int rc;

	if ((ret = farm_validate(f, err)))
		return ret;
	f->created_at = f->updated_at = utc_now();
	if ((ret = store_prepare(st, "INSERT INTO farms (" FARM_COLS ") VALUES "
				     "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 &s, err)))
		return ret;
	if ((ret = bind_farm(s, f, &curve, err)))
		goto cleanup;
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		ret = wc_error_set(err, WC_EEXIST, "farm '%s' already exists", f->id);
	else if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot add farm");
cleanup:
	sqlite3_finalize(s);
	free(curve);
	return ret;
}

/*
 * A farm was added, changed or removed: its generation, its weather's (what its site
 * weather means may have changed with it) and the registry's move.
 */
static enum wc_status farm_moved(struct store *st, const char *id, struct wc_error *err)
{
	char subject[STORE_SUBJECT_MAX];
	enum wc_status ret = store_gen_bump_farm_locked(st, id, err);

	if (!ret)
		ret = store_gen_bump_locked(st, store_gen_subject(subject, sizeof(subject),
								  STORE_SUBJECT_WEATHER, id),
					    err);
	return ret ? ret : store_gen_bump_locked(st, STORE_SUBJECT_FARMS, err);
}

enum wc_status store_farm_add(struct store *st, struct farm *f, struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	if (!(ret = store_exec(st, "BEGIN IMMEDIATE", err))) {
		if (!(ret = insert_farm(st, f, err)))
			ret = farm_moved(st, f->id, err);
		ret = store_end(st, ret, err);
	}
	store_unlock(st);
	return ret;
}

/* Insert or update one farm; caller holds the lock and a transaction. */
static enum wc_status upsert_farm(struct store *st, struct farm *f, enum farm_change *change,
				  struct wc_error *err)
{
	struct farm old;
	sqlite3_stmt *s = NULL;
	char *curve = NULL;
	enum wc_status ret = store_farm_get_locked(st, f->id, &old, err);
	int rc;

	if (ret == WC_ENOTFOUND) {
		*change = FARM_CREATED;
		return insert_farm(st, f, err);
	}
	if (ret)
		return ret;
	if ((ret = farm_validate(f, err)))
		return ret;
	*change = farm_same_site(f, &old) ? FARM_UPDATED : FARM_MOVED;
	f->created_at = old.created_at;
	f->updated_at = utc_now();
	if ((ret = store_prepare(st, "UPDATE farms SET name = ?2, lat = ?3, lon = ?4, "
				     "capacity_mw = ?5, hub_height_m = ?6, created_at = ?7, "
				     "updated_at = ?8, power_curve = ?9 WHERE id = ?1",
				 &s, err)))
		return ret;
	if ((ret = bind_farm(s, f, &curve, err)))
		goto cleanup;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, "cannot update farm");
cleanup:
	sqlite3_finalize(s);
	free(curve);
	return ret;
}

/*
 * Insert (or with replace, upsert) farms[0..n) in one transaction: all or nothing.
 * changes[i] (when changes is not NULL) tells what happened to farm i.
 */
static enum wc_status farms_in_transaction(struct store *st, struct farm *farms, size_t n,
					   bool replace, enum farm_change *changes,
					   struct wc_error *err)
{
	enum wc_status ret;

	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		return ret;
	for (size_t i = 0; i < n && !ret; i++) {
		enum farm_change change = FARM_CREATED;

		ret = replace ? upsert_farm(st, &farms[i], &change, err)
			      : insert_farm(st, &farms[i], err);
		if (!ret)
			ret = farm_moved(st, farms[i].id, err);
		if (changes)
			changes[i] = change;
		if (ret && n > 1)
			wc_error_prefix(err, "farm %zu of %zu", i + 1, n);
	}
	return store_end(st, ret, err);
}

enum wc_status store_farm_put(struct store *st, struct farm *f, bool *created,
			      struct wc_error *err)
{
	enum farm_change change = FARM_UPDATED;
	enum wc_status ret = store_farms_write(st, f, 1, true, &change, err);

	*created = change == FARM_CREATED;
	return ret;
}

enum wc_status store_farm_get_locked(struct store *st, const char *id, struct farm *out,
				     struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare_kept(st, "SELECT " FARM_COLS " FROM farms WHERE id = ?", &s,
				 err)))
		return ret;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ret = read_farm(s, out, err);
	else if (rc == SQLITE_DONE)
		ret = wc_error_set(err, WC_ENOTFOUND, "no farm '%s'", id);
	else
		ret = store_sql_error(st, rc, err, "cannot read farm");
	store_release(st, s);
	return ret;
}

enum wc_status store_farm_get(struct store *st, const char *id, struct farm *out,
			      struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	ret = store_farm_get_locked(st, id, out, err);
	store_unlock(st);
	return ret;
}

enum wc_status store_exec_id(struct store *st, const char *sql, const char *id,
				   int *changes, const char *what, struct wc_error *err)
{
	sqlite3_stmt *s;
	enum wc_status ret;
	int rc;

	if ((ret = store_prepare(st, sql, &s, err)))
		return ret;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(st, rc, err, what);
	else if (changes)
		*changes = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return ret;
}

enum wc_status store_farm_runs_count(struct store *st, const char *id, int delta,
				     struct wc_error *err)
{
	return store_exec_id(st,
			    delta > 0 ? "UPDATE nwp_runs SET nfarms = nfarms + 1 WHERE id IN "
					"(SELECT DISTINCT run_id FROM site_weather WHERE "
					"farm_id = ?1)"
				      : "UPDATE nwp_runs SET nfarms = nfarms - 1 WHERE id IN "
					"(SELECT DISTINCT run_id FROM site_weather WHERE "
					"farm_id = ?1)",
			    id, NULL, "cannot count the farms of runs", err);
}

enum wc_status store_farm_delete(struct store *st, const char *id, struct wc_error *err)
{
	enum wc_status ret;
	int changes = 0;
	char portfolio[FARM_ID_MAX + 1];

	store_lock(st);
	if ((ret = store_exec(st, "BEGIN IMMEDIATE", err)))
		goto out;
	/* a portfolio's farm stays (portfolio_farms RESTRICT): say which portfolio */
	if (!(ret = store_farm_in_portfolio_locked(st, id, portfolio, sizeof(portfolio), err)) &&
	    portfolio[0])
		ret = wc_error_set(err, WC_EEXIST,
				   "cannot remove farm '%s': portfolio '%s' holds it; take it out of "
				   "the portfolio first (windcast portfolio add --replace)",
				   id, portfolio);
	if (!ret && !(ret = store_farm_runs_count(st, id, -1, err)) &&
	    !(ret = store_exec_id(st, "DELETE FROM farms WHERE id = ?1", id, &changes,
				 "cannot delete farm", err)) &&
	    changes == 0)
		ret = wc_error_set(err, WC_ENOTFOUND, "no farm '%s'", id);
	if (!ret)
		ret = farm_moved(st, id, err);
	ret = store_end(st, ret, err);
out:
	store_unlock(st);
	return ret;
}

static enum wc_status farm_row(sqlite3_stmt *s, void *elem, struct wc_error *err)
{
	return read_farm(s, elem, err);
}

enum wc_status store_farm_list(struct store *st, struct farm **out, size_t *n,
			       struct wc_error *err)
{
	return store_collect(st, "SELECT " FARM_COLS " FROM farms ORDER BY id", sizeof(**out),
			     farm_row, (void **)out, n, "cannot list farms", err);
}

enum wc_status store_farm_import(struct store *st, struct farm *farms, size_t n,
				 bool replace, struct wc_error *err)
{
	return store_farms_write(st, farms, n, replace, NULL, err);
}

enum wc_status store_farms_write(struct store *st, struct farm *farms, size_t n,
				 bool replace, enum farm_change *changes, struct wc_error *err)
{
	enum wc_status ret;

	store_lock(st);
	ret = farms_in_transaction(st, farms, n, replace, changes, err);
	store_unlock(st);
	return ret;
}
