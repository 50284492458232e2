/*
 * test_store.c - data/store: migrations, reopen, farm CRUD, constraints, versions, model
 * records (all or none, concurrent savers); the farm JSON form (data/farm.c), power
 * curves included.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- farm power curves: JSON validation, storage, migration 4 -> 5 ---- */

/* A farm of 10 MW with a five-point curve ending in cut-out. */
static struct farm curved_farm(const char *id)
{
	static const double ws[] = { 3, 5.5, 12, 25, 25.5 }, p[] = { 0, 0.125, 1, 1, 0 };
	struct farm f = mkfarm(id, 10);

	f.power_curve.n = 5;
	for (int i = 0; i < 5; i++) {
		f.power_curve.ws[i] = ws[i];
		f.power_curve.power[i] = p[i];
	}
	return f;
}

static void assert_same_curve(const struct farm_curve *a, const struct farm_curve *b)
{
	cr_assert_eq(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		cr_assert_eq(a->ws[i], b->ws[i], "point %d ws", i + 1);
		cr_assert_eq(a->power[i], b->power[i], "point %d power", i + 1);
	}
}

/* farm_from_json on a farm whose power_curve is `curve` (JSON text): status, message. */
static enum wc_status curve_json(const char *curve, struct farm *f, struct wc_error *err)
{
	char text[8192];
	json_t *v;
	enum wc_status ret;

	snprintf(text, sizeof(text),
		 "{\"id\":\"c\",\"name\":\"C\",\"lat\":1,\"lon\":2,\"capacity_mw\":10%s%s}",
		 curve ? ",\"power_curve\":" : "", curve ? curve : "");
	v = json_loads(text, 0, NULL);
	cr_assert_not_null(v, "test JSON: %s", text);
	ret = farm_from_json(v, NULL, f, err);
	json_decref(v);
	return ret;
}

/* A valid-looking JSON curve of n points (ws 0, 1, ..., power rising to 1); static. */
static const char *points_json(int n)
{
	static char text[8192];
	size_t l = 0;

	l += (size_t)snprintf(text + l, sizeof(text) - l, "[");
	for (int i = 0; i < n; i++)
		l += (size_t)snprintf(text + l, sizeof(text) - l, "%s{\"ws\":%d,\"power\":%.17g}",
				      i ? "," : "", i, (double)i / (n - 1));
	snprintf(text + l, sizeof(text) - l, "]");
	return text;
}

TestSuite(farm_json, .timeout = 30);

Test(farm_json, power_curve_accepted_and_written)
{
	struct wc_error err = { 0 };
	struct farm f;
	json_t *o, *c;

	cr_assert_eq(curve_json(NULL, &f, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(f.power_curve.n, 0, "absent: no curve");
	o = farm_to_json(&f);
	cr_assert(json_is_null(json_object_get(o, "power_curve")), "none is written as null");
	json_decref(o);
	cr_assert_eq(curve_json("null", &f, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(f.power_curve.n, 0);
	cr_assert_eq(curve_json("[{\"ws\":3,\"power\":0},{\"power\":0.5,\"ws\":8.5},"
				"{\"ws\":25,\"power\":1}]",
				&f, &err),
		     WC_OK, "%s", err.msg);
	cr_assert_eq(f.power_curve.n, 3);
	cr_assert_eq(f.power_curve.ws[1], 8.5);
	cr_assert_eq(f.power_curve.power[1], 0.5);
	o = farm_to_json(&f);
	c = json_object_get(o, "power_curve");
	cr_assert_eq(json_array_size(c), 3);
	cr_assert_eq(json_number_value(json_object_get(json_array_get(c, 1), "ws")), 8.5);
	cr_assert_eq(json_number_value(json_object_get(json_array_get(c, 2), "power")), 1.0);
	/* what farm_to_json writes, farm_from_json reads back */
	{
		struct farm back;

		cr_assert_eq(farm_from_json(o, NULL, &back, &err), WC_OK, "%s", err.msg);
		assert_same_curve(&back.power_curve, &f.power_curve);
	}
	json_decref(o);
	/* 64 points is the most */
	cr_assert_eq(curve_json(points_json(FARM_CURVE_MAX), &f, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(f.power_curve.n, FARM_CURVE_MAX);
	cr_assert_eq(f.power_curve.power[FARM_CURVE_MAX - 1], 1.0);
}

Test(farm_json, power_curve_rules_and_messages)
{
	static const struct {
		const char *curve, *msg;
	} bad[] = {
		{ "{\"ws\":3,\"power\":0}", "field 'power_curve' must be an array" },
		{ "\"3:0,25:1\"", "field 'power_curve': line 1: expected the header 'ws,power'" },
		{ "[]", "field 'power_curve' has 0 points: give 2 to 64, or null" },
		{ "[{\"ws\":3,\"power\":0}]", "field 'power_curve' has 1 point: give 2 to 64" },
		{ "[{\"ws\":3,\"power\":0},[25,1]]", "field 'power_curve': point 2 must be an object" },
		{ "[{\"ws\":3,\"power\":0},{\"ws\":25,\"power\":1,\"mw\":5}]",
		  "field 'power_curve': point 2 has unknown field 'mw'" },
		{ "[{\"speed\":3,\"power\":0},{\"ws\":25,\"power\":1}]",
		  "field 'power_curve': point 1 has unknown field 'speed'" },
		{ "[{\"ws\":3},{\"ws\":25,\"power\":1}]", "field 'power_curve': point 1 is missing 'power'" },
		{ "[{\"ws\":3,\"power\":0},{\"power\":1}]", "field 'power_curve': point 2 is missing 'ws'" },
		{ "[{\"ws\":\"3\",\"power\":0},{\"ws\":25,\"power\":1}]",
		  "field 'power_curve': point 1: 'ws' must be a number" },
		{ "[{\"ws\":3,\"power\":null},{\"ws\":25,\"power\":1}]",
		  "field 'power_curve': point 1: 'power' must be a number" },
		{ "[{\"ws\":-1,\"power\":0},{\"ws\":25,\"power\":1}]",
		  "field 'power_curve': point 1: ws -1 is outside 0 <= x <= 100" },
		{ "[{\"ws\":3,\"power\":0},{\"ws\":3,\"power\":1}]",
		  "field 'power_curve': point 2: ws 3 must be above the previous point's 3 (speeds "
		  "increase strictly)" },
		{ "[{\"ws\":3,\"power\":0},{\"ws\":10,\"power\":0.5},{\"ws\":9,\"power\":1}]",
		  "field 'power_curve': point 3: ws 9 must be above the previous point's 10" },
		{ "[{\"ws\":3,\"power\":0},{\"ws\":25,\"power\":1.5}]",
		  "field 'power_curve': point 2: power 1.5 is outside 0 <= x <= 1 (a fraction of "
		  "capacity, not MW)" },
		{ "[{\"ws\":3,\"power\":-0.1},{\"ws\":25,\"power\":1}]",
		  "field 'power_curve': point 1: power -0.1 is outside 0 <= x <= 1" },
		{ "[{\"ws\":3,\"power\":0},{\"ws\":25,\"power\":150}]",
		  "field 'power_curve': point 2: power 150 is outside 0 <= x <= 1" },
	};
	struct wc_error err = { 0 };
	struct farm f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(curve_json(bad[i].curve, &f, &err), WC_EINVAL, "accepted %s",
			     bad[i].curve);
		cr_assert(strstr(err.msg, bad[i].msg), "%s: message '%s', want '%s'", bad[i].curve,
			  err.msg, bad[i].msg);
	}
	/* 65 points: one too many */
	cr_assert_eq(curve_json(points_json(FARM_CURVE_MAX + 1), &f, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "field 'power_curve' has 65 points: give 2 to 64"), "%s",
		  err.msg);
}

/* farm_validate checks the struct too, for farms that do not come from JSON. */
Test(farm_json, validate_checks_the_curve)
{
	struct wc_error err = { 0 };
	struct farm f = curved_farm("v");

	cr_assert_eq(farm_validate(&f, &err), WC_OK, "%s", err.msg);
	f.power_curve.ws[2] = NAN;
	cr_assert_eq(farm_validate(&f, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "invalid farm 'v': power_curve: point 3: ws nan is outside "
				  "0 <= x <= 100 (m/s at hub height)");
	f = curved_farm("v");
	f.power_curve.power[0] = INFINITY;
	cr_assert_eq(farm_validate(&f, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "point 1: power inf is outside 0 <= x <= 1"), "%s", err.msg);
	f = curved_farm("v");
	f.power_curve.n = 1;
	cr_assert_eq(farm_validate(&f, &err), WC_EINVAL);
	cr_assert_str_eq(err.msg, "invalid farm 'v': power_curve: 1 point: give 2 to 64, or none");
	f.power_curve.n = FARM_CURVE_MAX + 1;
	cr_assert_eq(farm_validate(&f, &err), WC_EINVAL);
	cr_assert_eq(farm_validate(&f, NULL), WC_EINVAL, "the status does not need err");
	f.power_curve.n = 0;
	cr_assert_eq(farm_validate(&f, &err), WC_OK, "no curve is valid");
}

Test(store, farm_power_curve_round_trip)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = curved_farm("curved"), plain = mkfarm("plain", 5), got, *list;
	bool created;
	size_t n;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &plain, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_get(st, "curved", &got, &err), WC_OK, "%s", err.msg);
	assert_same_curve(&got.power_curve, &a.power_curve);
	cr_assert_eq(store_farm_list(st, &list, &n, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(n, 2);
	assert_same_curve(&list[0].power_curve, &a.power_curve);
	cr_assert_eq(list[1].power_curve.n, 0);
	free(list);
	/* an update replaces the curve, or removes it */
	a.power_curve.n = 2;
	a.power_curve.ws[1] = 1.0 / 3.0;	/* exact through the JSON text */
	a.power_curve.ws[0] = 0.1;
	cr_assert_eq(store_farm_put(st, &a, &created, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_get(st, "curved", &got, &err), WC_OK, "%s", err.msg);
	assert_same_curve(&got.power_curve, &a.power_curve);
	a.power_curve.n = 0;
	cr_assert_eq(store_farm_put(st, &a, &created, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_get(st, "curved", &got, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(got.power_curve.n, 0);
	/* an invalid curve is refused before any SQL, and nothing changes */
	a = curved_farm("curved");
	a.power_curve.power[4] = 2;
	cr_assert_eq(store_farm_put(st, &a, &created, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "power_curve: point 5: power 2"), "%s", err.msg);
	cr_assert_eq(store_farm_get(st, "curved", &got, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(got.power_curve.n, 0);
	store_close(st);
	tu_rmrf_free(dir);
}

/* Run SQL on the store's file behind its back. */
static void raw_sql(const char *dir, const char *sql)
{
	char path[4096];
	sqlite3 *db;
	char *msg = NULL;

	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}

/*
 * A store at schema 4 (farms without the power_curve column; the 4 -> 5 migration only
 * adds it, so dropping it gives the old schema exactly) upgrades in place on open, its
 * farms intact and able to take a curve.
 */
Test(store, migrates_schema_4_to_5_in_place)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = mkfarm("old", 42), got, c = curved_farm("old");
	bool created;

	cr_assert_geq(store_schema_version(), 6);
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	a.hub_height_m = 90;
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	store_close(st);
	/* a version 4 file: without what migrations 5, 6, 7 ... added */
	raw_sql(dir, "DROP TABLE generations; ALTER TABLE nwp_runs DROP COLUMN attributes;"
		     "ALTER TABLE farms DROP COLUMN power_curve; DROP TABLE tokens;"
		     "PRAGMA user_version = 4;");
	cr_assert_eq(user_version(dir), 4);

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(user_version(dir), store_schema_version(), "4 -> 5 -> ... the latest");
	cr_assert_eq(store_farm_get(st, "old", &got, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(got.capacity_mw, 42);
	cr_assert_eq(got.hub_height_m, 90);
	cr_assert_eq(got.power_curve.n, 0, "an upgraded farm has no curve");
	c.hub_height_m = 90;
	cr_assert_eq(store_farm_put(st, &c, &created, &err), WC_OK, "%s", err.msg);
	cr_assert(!created);
	cr_assert_eq(store_farm_get(st, "old", &got, &err), WC_OK, "%s", err.msg);
	assert_same_curve(&got.power_curve, &c.power_curve);
	store_close(st);
	tu_rmrf_free(dir);
}

/* A curve damaged behind the store's back is an error naming the farm, not garbage. */
Test(store, damaged_power_curve_is_refused)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = curved_farm("hurt"), got, *list;
	size_t n;

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	raw_sql(dir, "UPDATE farms SET power_curve = '[{\"ws\":1,\"power\":7}]'");
	cr_assert_eq(store_farm_get(st, "hurt", &got, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "stored power curve of farm 'hurt' is damaged"), "%s", err.msg);
	raw_sql(dir, "UPDATE farms SET power_curve = 'not json'");
	cr_assert_eq(store_farm_list(st, &list, &n, &err), WC_EFORMAT);
	cr_assert_null(list);
	store_close(st);
	tu_rmrf_free(dir);
}

/* ---- models: versions and all-or-none recording (store_models_add) ---- */

struct writer_ctx {
	const char *dir;
	int fail_at;		/* model index whose write fails, -1 for none */
	int delay_ms;		/* time spent "writing", to overlap two savers */
};

/* Writes DIR/<farm>-<version>.txt holding the version, as a model writer would. */
static enum wc_status text_writer(void *arg, int i, struct model_rec *rec, struct wc_error *err)
{
	struct writer_ctx *c = arg;
	struct timespec ts = { 0, (long)c->delay_ms * 1000000L };
	FILE *fp;

	if (i == c->fail_at)
		return wc_error_set(err, WC_EIO, "cannot write model %d", i);
	nanosleep(&ts, NULL);
	snprintf(rec->path, sizeof(rec->path), "%s/%s-%d.txt", c->dir, rec->farm_id,
		 rec->version);
	if (!(fp = fopen(rec->path, "w")))
		return wc_error_set(err, WC_EIO, "cannot create '%s'", rec->path);
	fprintf(fp, "%d\n", rec->version);
	fclose(fp);
	return WC_OK;
}

static struct model_rec mkrec(const char *farm)
{
	struct model_rec r = { .created_at = 1, .train_from = 2, .train_to = 3, .n_rows = 4 };

	snprintf(r.farm_id, sizeof(r.farm_id), "%s", farm);
	return r;
}

static int newest_version(struct store *st, const char *farm)
{
	struct model_rec r;
	struct wc_error err = { 0 };
	enum wc_status ret = store_model_get(st, farm, 0, &r, &err);

	model_rec_release(&r);
	return ret == WC_OK ? r.version : ret == WC_ENOTFOUND ? 0 : -1;
}

Test(store, models_recorded_all_or_none)
{
	char *dir = tu_tmpdir();
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = mkfarm("a", 5), b = mkfarm("b", 5);
	struct model_rec recs[3] = { mkrec("a"), mkrec("b"), mkrec("a") };
	struct writer_ctx c = { .dir = dir, .fail_at = -1 };

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &b, &err), WC_OK, "%s", err.msg);
	/* versions count the records made earlier in the same call */
	cr_assert_eq(store_models_add(st, recs, 3, text_writer, &c, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(recs[0].version, 1);
	cr_assert_eq(recs[1].version, 1);
	cr_assert_eq(recs[2].version, 2);
	cr_assert_eq(newest_version(st, "a"), 2);
	cr_assert_eq(newest_version(st, "b"), 1);
	/* a failing write rolls back the records before it */
	c.fail_at = 1;
	cr_assert_eq(store_models_add(st, recs, 2, text_writer, &c, &err), WC_EIO);
	cr_assert(strstr(err.msg, "cannot write model 1"), "%s", err.msg);
	cr_assert_eq(newest_version(st, "a"), 2);
	cr_assert_eq(newest_version(st, "b"), 1);
	/* so does an unknown farm, before anything is written for it */
	c.fail_at = -1;
	recs[1] = mkrec("gone");
	cr_assert_eq(store_models_add(st, recs, 2, text_writer, &c, &err), WC_ENOTFOUND);
	cr_assert(strstr(err.msg, "gone"), "%s", err.msg);
	cr_assert_eq(newest_version(st, "a"), 2);
	store_close(st);
	tu_rmrf_free(dir);
}

struct saver {
	const char *dir;
	int version;
	enum wc_status ret;
};

static void *save_one(void *arg)
{
	struct saver *s = arg;
	struct wc_error err = { 0 };
	struct store *st;
	struct model_rec rec = mkrec("a");
	struct writer_ctx c = { .dir = s->dir, .fail_at = -1, .delay_ms = 100 };

	if ((s->ret = store_open(s->dir, &st, &err)))
		return NULL;
	s->ret = store_models_add(st, &rec, 1, text_writer, &c, &err);
	s->version = rec.version;
	store_close(st);
	return NULL;
}

/* Two processes' worth of savers (own connections) at once: distinct versions, and each
 * file holds the version recorded for it (neither overwrote the other's). */
Test(store, concurrent_model_saves_take_distinct_versions)
{
	char *dir = tu_tmpdir(), path[4200], *text;
	struct wc_error err = { 0 };
	struct store *st;
	struct farm a = mkfarm("a", 5);
	struct saver s[2] = { { .dir = dir }, { .dir = dir } };
	pthread_t th[2];

	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, save_one, &s[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(s[i].ret, WC_OK, "saver %d: status %d", i, s[i].ret);
		snprintf(path, sizeof(path), "%s/a-%d.txt", dir, s[i].version);
		text = tu_read_file(path, NULL);
		cr_assert(text && atoi(text) == s[i].version, "%s", path);
		free(text);
	}
	cr_assert_eq(s[0].version + s[1].version, 3, "versions %d and %d", s[0].version,
		     s[1].version);
	cr_assert_eq(newest_version(st, "a"), 2);
	store_close(st);
	tu_rmrf_free(dir);
}
