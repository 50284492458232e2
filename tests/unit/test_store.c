/* test_store.c - data/store: migrations, reopen, farm CRUD, constraints, versions. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "testutil.h"

static struct farm mkfarm(const char *id, double cap)
{
	struct farm f = { .lat = 55.5, .lon = 8.25, .capacity_mw = cap, .hub_height_m = NAN };

	snprintf(f.id, sizeof(f.id), "%s", id);
	snprintf(f.name, sizeof(f.name), "Farm %s", id);
	return f;
}

static int user_version(const char *dir)
{
	char path[4096];
	sqlite3 *db;
	sqlite3_stmt *s;
	int v = -1;

	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

Test(store, migrates_empty_dir_and_reopens)
{
	char *dir = tu_tmpdir(), *sub;
	struct wc_error err = { 0 };
	struct store *st;
	struct farm f = mkfarm("alpha", 10), got;

	cr_assert(asprintf(&sub, "%s/nested", dir) >= 0);
	cr_assert_eq(store_open(sub, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(user_version(sub), store_schema_version());
	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	store_close(st);
	cr_assert_eq(store_open(sub, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_get(st, "alpha", &got, &err), WC_OK);
	cr_assert_str_eq(got.name, "Farm alpha");
	cr_assert(isnan(got.hub_height_m));
	cr_assert_eq(user_version(sub), store_schema_version());
	store_close(st);
	free(sub);
	tu_rmrf_free(dir);
}

Test(store, wal_mode)
{
	char *dir = tu_tmpdir(), path[4096];
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *s;

	cr_assert_eq(store_open(dir, &st, NULL), WC_OK);
	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(store, refuses_future_schema)
{
	char *dir = tu_tmpdir(), path[4096], sql[64];
	struct wc_error err = { 0 };
	struct store *st;
	sqlite3 *db;

	cr_assert_eq(store_open(dir, &st, NULL), WC_OK);
	store_close(st);
	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version() + 1);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cr_assert_eq(store_open(dir, &st, &err), WC_EVERSION);
	cr_assert_null(st);
	cr_assert(strstr(err.msg, "newer"), "message: %s", err.msg);
	cr_assert(strstr(err.msg, "upgrade windcast"), "message: %s", err.msg);
	tu_rmrf_free(dir);
}

Test(store, refuses_non_database)
{
	char *dir = tu_tmpdir(), path[4096];
	struct wc_error err = { 0 };
	struct store *st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	f = fopen(path, "w");
	fputs("this is not a database, just text that is long enough to matter\n", f);
	fclose(f);
	cr_assert_neq(store_open(dir, &st, &err), WC_OK);
	cr_assert(strstr(err.msg, "windcast.db"), "message: %s", err.msg);
	tu_rmrf_free(dir);
}

Test(store, farm_crud)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = mkfarm("b-farm", 50), b = mkfarm("a-farm", 20), got, *list;
	bool created;
	size_t n;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_gt(a.created_at, 0);
	cr_assert_eq(store_farm_add(st, &b, &err), WC_OK);
	cr_assert_eq(store_farm_list(st, &list, &n, &err), WC_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].id, "a-farm", "ordered by id");
	free(list);

	a.capacity_mw = 75;
	a.hub_height_m = 120;
	cr_assert_eq(store_farm_put(st, &a, &created, &err), WC_OK, "%s", err.msg);
	cr_assert(!created);
	cr_assert_eq(store_farm_get(st, "b-farm", &got, &err), WC_OK);
	cr_assert_float_eq(got.capacity_mw, 75, 1e-12);
	cr_assert_float_eq(got.hub_height_m, 120, 1e-12);

	struct farm c = mkfarm("c", 1);
	cr_assert_eq(store_farm_put(st, &c, &created, &err), WC_OK);
	cr_assert(created);

	cr_assert_eq(store_farm_delete(st, "a-farm", &err), WC_OK);
	cr_assert_eq(store_farm_get(st, "a-farm", &got, &err), WC_ENOTFOUND);
	cr_assert(strstr(err.msg, "'a-farm'"));
	cr_assert_eq(store_farm_delete(st, "a-farm", &err), WC_ENOTFOUND);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(store, constraint_errors_are_clear)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = mkfarm("dup", 5), bad = mkfarm("neg", -1);

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_EEXIST);
	cr_assert_str_eq(err.msg, "farm 'dup' already exists");
	cr_assert_eq(store_farm_add(st, &bad, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "capacity_mw"), "message: %s", err.msg);
	bad = mkfarm("UPPER", 5);
	cr_assert_eq(store_farm_add(st, &bad, &err), WC_EINVAL);
	bad = mkfarm("lat", 5);
	bad.lat = 91;
	cr_assert_eq(store_farm_add(st, &bad, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "lat 91"), "message: %s", err.msg);
	bad = mkfarm("lon", 5);
	bad.lon = 360;
	cr_assert_eq(store_farm_add(st, &bad, &err), WC_EINVAL);
	bad.lon = 359.9;
	cr_assert_eq(store_farm_add(st, &bad, &err), WC_OK);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(store, import_is_all_or_nothing)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm batch[3] = { mkfarm("one", 1), mkfarm("two", 2), mkfarm("one", 3) }, *list;
	size_t n;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	cr_assert_eq(store_farm_import(st, batch, 3, false, &err), WC_EEXIST);
	cr_assert(strstr(err.msg, "farm 3 of 3"), "message: %s", err.msg);
	cr_assert_eq(store_farm_list(st, &list, &n, &err), WC_OK);
	cr_assert_eq(n, 0, "a failed import must store nothing");
	free(list);
	cr_assert_eq(store_farm_import(st, batch, 2, false, &err), WC_OK);
	cr_assert_eq(store_farm_list(st, &list, &n, &err), WC_OK);
	cr_assert_eq(n, 2);
	free(list);
	/* with replace, the same batch updates in place */
	batch[0].capacity_mw = 9;
	cr_assert_eq(store_farm_import(st, batch, 2, false, &err), WC_EEXIST);
	cr_assert_eq(store_farm_import(st, batch, 2, true, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_list(st, &list, &n, &err), WC_OK);
	cr_assert_eq(n, 2);
	cr_assert_float_eq(list[0].capacity_mw, 9, 1e-12);
	free(list);
	store_close(st);
	tu_rmrf_free(dir);
}
