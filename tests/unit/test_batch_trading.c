/*
 * test_batch_trading.c - the nightly batch's trading part (backtest/batch.h): portfolio
 * forecasts and tomorrow's commitments, against the built binary on a demo-like store
 * with two farms that have market settings (one in Europe/Berlin), one without, and two
 * portfolios. The commitments must equal what `windcast commit --day D` answers on a
 * copy of the store taken before the night (an independent computation through the
 * CLI), the portfolio's files what `windcast forecast --portfolio` answers, its NetCDF
 * (read by netCDF4-python) its JSON; shards cover every farm and portfolio once; a
 * re-run gives identical bytes; a farm without a price model is skipped, one with an
 * incomplete one fails alone; bad options are usage errors naming the option.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backtest/batch.h"
#include "common/sha256.h"
#include "testutil.h"

/* 23:00 UTC is already the next day in Berlin (00:00 CET): tomorrow differs by zone */
#define NIGHT "2026-01-06T23:00:00Z"
#define DAY_UTC "2026-01-07"		/* horns-reef, west, east: UTC */
#define DAY_BERLIN "2026-01-08"		/* jutland-1: Europe/Berlin */
#define TRAIN "--epochs 5 --hidden 8 --ensemble 1 --leads 48 --to 2026-01-06T00:00Z"

/*
 * dir/data: the demo's 3 farms with runs to 2026-01-10 12:00 and 10 days of output;
 * horns-reef and jutland-1 trained (leads to 48 h, so that tomorrow's periods are
 * reached from the gate closure) with market settings: horns-reef p 50, psi 10/30 (UTC),
 * jutland-1 p 45, psi 20/20 in Europe/Berlin; north-sea-1 without settings. Portfolio
 * "west" (horns-reef, jutland-1; p 40, psi 15/15, UTC), portfolio "east" (north-sea-1,
 * jutland-1; no settings). dir/data0 is a copy, for the independent checks.
 */
static void fixture(const char *dir)
{
	char *cmd, *err = NULL;

	cr_assert(asprintf(&cmd,
			   "set -e; cd '%s'; W='%s'; export WINDCAST_LOG=error\n"
			   "$W demo-data --out in --farms 3 --days 12 --seed 3 >/dev/null\n"
			   "$W --data data farm import in/farms.json >/dev/null\n"
			   "$W --data data ingest in/nwp/demo_2026010*.nc in/nwp/demo_20260110*.nc "
			   ">/dev/null\n"
			   "for f in horns-reef jutland-1 north-sea-1; do\n"
			   "  head -n 241 in/obs/$f.csv > in/obs/$f.head.csv\n"
			   "  $W --data data obs import --farm $f in/obs/$f.head.csv >/dev/null\n"
			   "done\n"
			   "$W --data data train --farm horns-reef " TRAIN " >/dev/null\n"
			   "$W --data data train --farm jutland-1 " TRAIN " >/dev/null\n"
			   "$W --data data farm market horns-reef --price 50 --psi-plus 10 "
			   "--psi-minus 30 >/dev/null\n"
			   "$W --data data farm market jutland-1 --price 45 --psi-plus 20 "
			   "--psi-minus 20 --time-zone Europe/Berlin >/dev/null\n"
			   "$W --data data portfolio add --id west --farms horns-reef,jutland-1 "
			   "--price 40 --psi-plus 15 --psi-minus 15 >/dev/null\n"
			   "$W --data data portfolio add --id east --farms north-sea-1,jutland-1 "
			   ">/dev/null\n"
			   "cp -r data data0\n",
			   dir, tu_bin()) >= 0);
	cr_assert_eq(tu_run(cmd, NULL, &err), 0, "fixture: %s", err);
	free(cmd);
	free(err);
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	cr_assert(s, "no string '%s'", key);
	return s;
}

/* The entry `id` of the manifest's list `list` ("farms" or "portfolios"). */
static json_t *entry(json_t *man, const char *list, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(man, list), i, e)
		if (!strcmp(jstr(e, "id"), id))
			return e;
	cr_assert_fail("no %s entry '%s' in the manifest", list, id);
	return NULL;
}

/* The entry lists exactly the files `names` (paths under OUT), each with its size and
 * sha256 as on disk. */
static void check_files(const char *out, json_t *e, const char *const *names, size_t n)
{
	json_t *files = json_object_get(e, "files"), *f;
	size_t i;

	cr_assert_eq(json_array_size(files), n, "%s: %zu files, expected %zu", jstr(e, "id"),
		     json_array_size(files), n);
	json_array_foreach(files, i, f) {
		char path[4096], sha[SHA256_HEX_LEN];
		struct wc_error err = { 0 };
		struct stat sb;

		cr_assert_str_eq(jstr(f, "path"), names[i]);
		snprintf(path, sizeof(path), "%s/%s", out, names[i]);
		cr_assert_eq(stat(path, &sb), 0, "'%s' listed but missing", path);
		cr_assert_eq(json_integer_value(json_object_get(f, "bytes")), sb.st_size);
		cr_assert_eq(sha256_file(path, sha, &err), WC_OK, "%s", err.msg);
		cr_assert_str_eq(jstr(f, "sha256"), sha, "hash of '%s'", path);
	}
}

static json_t *run_night(const char *dir, const char *out, const char *extra, int expect_rc,
			 char **err_out)
{
	char *out_text = NULL, *err = NULL, path[4096];
	int rc = tu_cli(NULL, &out_text, &err,
			"--data '%s/data' batch --out '%s/%s' --issued " NIGHT " --retrain-after "
			"never %s",
			dir, dir, out, extra);
	json_t *man;

	cr_assert_eq(rc, expect_rc, "batch %s: exit %d: %s%s", extra, rc, out_text, err);
	snprintf(path, sizeof(path), "%s/%s/manifest.json", dir, out);
	man = tu_load_json(path);
	free(out_text);
	if (err_out)
		*err_out = err;
	else
		free(err);
	return man;
}

/* The committed_mw column (11th) of a commitments CSV, one value per period, with the
 * period starts; returns the number of rows. */
static size_t committed(const char *csv, char starts[][24], double *mw, size_t max)
{
	const char *line = strchr(csv, '\n');
	size_t n = 0;

	cr_assert(line, "no header: %s", csv);
	cr_assert(!strncmp(strchr(csv, ',') + 1, "issued,period_start,period_end,valid_time,lead_h,"
						  "price,psi_plus,psi_minus,alpha,committed_mw,",
			   83),
		  "header: %.200s", csv);
	for (line++; *line && n < max; n++) {
		const char *f = line;

		for (int k = 0; k < 2; k++)
			f = strchr(f, ',') + 1;
		snprintf(starts[n], 24, "%.20s", f);
		for (int k = 2; k < 10; k++)
			f = strchr(f, ',') + 1;
		mw[n] = strtod(f, NULL);
		line = strchr(line, '\n');
		cr_assert(line);
		line++;
	}
	return n;
}

/*
 * The batch's commitments of `who` (--farm X or --portfolio P) against `windcast commit
 * --day day` on the store copied before the night (nothing the batch stored helps it):
 * the same periods, the same committed MW, the same bytes. Returns the committed MWh.
 */
static double check_commit_cli(const char *dir, const char *night_dir, const char *sub,
			       const char *id, const char *who, const char *day,
			       const char *extra)
{
	char path[4096], starts_a[30][24], starts_b[30][24], *mine, *out = NULL, *err = NULL;
	double a[30], b[30], total = 0;
	size_t na, nb;

	snprintf(path, sizeof(path), "%s/%s/%s/%s.commitments.csv", dir, night_dir, sub, id);
	cr_assert(mine = tu_read_file(path, NULL), "no '%s'", path);
	cr_assert_eq(tu_cli(NULL, &out, &err,
			    "--data '%s/data0' commit %s %s --day %s --no-store --format csv %s",
			    dir, who, id, day, extra),
		     0, "commit %s %s: %s", who, id, err);
	na = committed(mine, starts_a, a, 30);
	nb = committed(out, starts_b, b, 30);
	cr_assert_eq(na, 24, "%s: %zu periods", id, na);
	cr_assert_eq(na, nb);
	for (size_t i = 0; i < na; i++) {
		cr_assert_str_eq(starts_a[i], starts_b[i]);
		cr_assert_eq(a[i], b[i], "%s period %s: batch %g MW, commit %g MW", id, starts_a[i],
			     a[i], b[i]);
		total += a[i];
	}
	cr_assert_str_eq(mine, out, "%s: the commitments CSV differs from 'windcast commit'", id);
	free(mine);
	free(out);
	free(err);
	return total;
}

Test(batch_trading, portfolios_and_commitments_match_the_cli, .timeout = 600)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *cmd, path[4096], night[4096];
	json_t *man, *e, *c;
	double total;

	fixture(dir);
	man = run_night(dir, "out", "", 0, &err);
	cr_assert(strstr(err, "batch commitments farm=north-sea-1 status=skipped"), "%s", err);
	free(err);
	snprintf(night, sizeof(night), "%s/out", dir);
	cr_assert_str_eq(jstr(man, "status"), "ok");
	cr_assert_eq(json_integer_value(json_object_get(man, "portfolios_total")), 2);
	cr_assert_eq(json_integer_value(json_object_get(man, "portfolios_failed")), 0);
	cr_assert_eq(json_integer_value(json_object_get(man, "commitments_skipped")), 2);
	cr_assert_eq(json_array_size(json_object_get(man, "farms")), 3);
	cr_assert_eq(json_array_size(json_object_get(man, "portfolios")), 2);
	cr_assert_str_eq(jstr(json_array_get(json_object_get(man, "portfolios"), 0), "id"), "east",
			 "portfolios in id order");

	/* farms with settings: five files each, tomorrow in their own zone */
	{
		const char *const hr[] = { "farms/horns-reef.json", "farms/horns-reef.csv",
					   "farms/horns-reef.nc",
					   "farms/horns-reef.commitments.json",
					   "farms/horns-reef.commitments.csv" };
		const char *const jt[] = { "farms/jutland-1.json", "farms/jutland-1.csv",
					   "farms/jutland-1.nc", "farms/jutland-1.commitments.json",
					   "farms/jutland-1.commitments.csv" };
		const char *const ns[] = { "farms/north-sea-1.json", "farms/north-sea-1.csv",
					   "farms/north-sea-1.nc" };
		const char *const west[] = { "portfolios/west.json", "portfolios/west.csv",
					     "portfolios/west.nc", "portfolios/west.commitments.json",
					     "portfolios/west.commitments.csv" };
		const char *const east[] = { "portfolios/east.json", "portfolios/east.csv",
					     "portfolios/east.nc" };

		e = entry(man, "farms", "horns-reef");
		cr_assert_str_eq(jstr(e, "status"), "ok");
		check_files(night, e, hr, 5);
		c = json_object_get(e, "commitments");
		cr_assert_str_eq(jstr(c, "status"), "ok");
		cr_assert_str_eq(jstr(c, "day"), DAY_UTC);
		cr_assert_str_eq(jstr(c, "gate_closure"), "2026-01-06T12:00:00Z");
		cr_assert_str_eq(jstr(c, "forecast_issued"), "2026-01-06T12:00:00Z");
		cr_assert_str_eq(jstr(c, "price_model"), "stored");
		cr_assert(json_is_false(json_object_get(c, "provisional")), "its gate has passed");
		e = entry(man, "farms", "jutland-1");
		check_files(night, e, jt, 5);
		c = json_object_get(e, "commitments");
		cr_assert_str_eq(jstr(c, "day"), DAY_BERLIN, "23:00Z is 00:00 in Berlin");
		cr_assert_str_eq(jstr(c, "time_zone"), "Europe/Berlin");
		cr_assert_str_eq(jstr(c, "gate_closure"), "2026-01-07T11:00:00Z", "12:00 CET");
		cr_assert(json_is_true(json_object_get(c, "provisional")), "its gate is to come");
		/* no settings: skipped, said why, no file, not a failure */
		e = entry(man, "farms", "north-sea-1");
		cr_assert_str_eq(jstr(e, "status"), "ok");
		check_files(night, e, ns, 3);
		c = json_object_get(e, "commitments");
		cr_assert_str_eq(jstr(c, "status"), "skipped");
		cr_assert(strstr(jstr(c, "reason"), "no price model"), "%s", jstr(c, "reason"));
		e = entry(man, "portfolios", "west");
		cr_assert_str_eq(jstr(e, "status"), "ok");
		check_files(night, e, west, 5);
		cr_assert_str_eq(jstr(json_object_get(e, "commitments"), "day"), DAY_UTC);
		e = entry(man, "portfolios", "east");
		cr_assert_str_eq(jstr(e, "status"), "ok");
		check_files(night, e, east, 3);
		cr_assert_str_eq(jstr(json_object_get(e, "commitments"), "status"), "skipped");
	}

	/* the schedules are `windcast commit --day`'s, computed independently */
	total = check_commit_cli(dir, "out", "farms", "horns-reef", "--farm", DAY_UTC, "");
	total += check_commit_cli(dir, "out", "farms", "jutland-1", "--farm", DAY_BERLIN, "");
	cr_assert_gt(total, 1.0, "the farms commit something (%g MW summed)", total);
	check_commit_cli(dir, "out", "portfolios", "west", "--portfolio", DAY_UTC, "");

	/* a passed gate's forecast was stored; one still to come was not (it is provisional) */
	{
		static const struct {
			const char *farm, *day;
			bool stored;
		} g[] = { { "horns-reef", DAY_UTC, true }, { "jutland-1", DAY_BERLIN, false } };

		for (size_t i = 0; i < 2; i++) {
			json_t *js;

			cr_assert_eq(tu_cli(NULL, &out, &err,
					    "--data '%s/data' commit --farm %s --day %s --no-store "
					    "--format json", dir, g[i].farm, g[i].day),
				     0, "%s", err);
			cr_assert(js = json_loads(out, 0, NULL), "%s", out);
			cr_assert_eq(json_is_true(json_object_get(json_object_get(js, "forecast"),
								  "stored")),
				     g[i].stored, "%s: stored", g[i].farm);
			json_decref(js);
			free(out);
			free(err);
		}
	}

	/* the portfolio's CSV is `windcast forecast --portfolio`'s */
	cr_assert_eq(tu_cli(NULL, &out, &err,
			    "--data '%s/data0' -q forecast --portfolio west --issued " NIGHT
			    " --no-store --format csv", dir),
		     0, "%s", err);
	{
		char *mine;

		snprintf(path, sizeof(path), "%s/portfolios/west.csv", night);
		cr_assert(mine = tu_read_file(path, NULL));
		cr_assert_str_eq(mine, out, "west.csv differs from 'windcast forecast --portfolio'");
		free(mine);
	}
	free(out);
	free(err);

	/* the portfolio's NetCDF, read by netCDF4-python, against its JSON */
	cr_assert(asprintf(&cmd,
			   "cd '%s/portfolios' && '%s' - <<'EOF'\n"
			   "import json, netCDF4, numpy as np\n"
			   "d = netCDF4.Dataset('west.nc'); j = json.load(open('west.json'))\n"
			   "assert d.data_model == 'NETCDF3_CLASSIC', d.data_model\n"
			   "assert list(d.dimensions) == ['lead', 'quantile'], list(d.dimensions)\n"
			   "assert len(d.dimensions['lead']) == len(j['leads']) == 36\n"
			   "assert d.Conventions == 'CF-1.8' and d.portfolio_id == j['portfolio'] == 'west'\n"
			   "assert 'farm_id' not in d.ncattrs() and 'history' not in d.ncattrs()\n"
			   "assert d.portfolio_capacity_mw == j['capacity_mw'] == 270\n"
			   "assert d.portfolio_farms.split() == [f['id'] for f in j['farms']] == "
			   "['horns-reef', 'jutland-1']\n"
			   "assert d.farm_models.split() == [f['model']['name'] for f in j['farms']]\n"
			   "assert list(d.farm_model_versions) == [f['model']['version'] or 0 for f in "
			   "j['farms']]\n"
			   "assert list(d.farm_capacity_mw) == [f['capacity_mw'] for f in j['farms']]\n"
			   "runs = [(f['nwp_run'] or {}).get('ref_time') or 'none' for f in j['farms']]\n"
			   "assert d.farm_nwp_run_reference_times.split() == runs, "
			   "(d.farm_nwp_run_reference_times, runs)\n"
			   "assert d.model == j['model']['name'] and d.issued == j['issued']\n"
			   "for v in ('forecast_reference_time', 'forecast_period', 'time'):\n"
			   "    assert d[v].standard_name == v, v\n"
			   "ref = netCDF4.num2date(d['forecast_reference_time'][:], "
			   "d['forecast_reference_time'].units)\n"
			   "assert ref.strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ') == j['issued'], ref\n"
			   "assert list(d['forecast_period'][:]) == [l['lead_h'] for l in j['leads']]\n"
			   "assert list(d['quantile'][:]) == j['quantiles']\n"
			   "p = np.array([l['point_mw'] for l in j['leads']])\n"
			   "q = np.array([l['quantiles_mw'] for l in j['leads']])\n"
			   "dp = np.max(np.abs(d['power'][:] - p)); dq = np.max(np.abs(d['power_quantile'][:] - q))\n"
			   "assert dp <= 1e-9 * max(1, np.max(p)) and dq <= 1e-9 * max(1, np.max(q)), (dp, dq)\n"
			   "assert np.max(q) > 0\n"
			   "print('max |nc - json|', dp, dq)\n"
			   "EOF\n",
			   night, tu_python()) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "netCDF4-python check of west.nc: %s%s", out, err);
	cr_log_info("%s", out);
	free(cmd);
	free(out);
	free(err);
	json_decref(man);
	tu_rmrf_free(dir);
}

/* Every file of the night, byte for byte, and the manifest but its clock times. */
Test(batch_trading, rerun_gives_identical_bytes, .timeout = 600)
{
	char *dir = tu_tmpdir(), *cmd, *out = NULL, *err = NULL;
	json_t *man, *man2;
	char *a, *b;

	fixture(dir);
	man = run_night(dir, "out", "--price 50 --psi-plus 10 --psi-minus 30", 0, NULL);
	cr_assert(asprintf(&cmd, "cp -r '%s/out' '%s/first'", dir, dir) >= 0);
	cr_assert_eq(tu_run(cmd, NULL, NULL), 0);
	free(cmd);
	man2 = run_night(dir, "out", "--price 50 --psi-plus 10 --psi-minus 30", 0, NULL);
	/* 3 farms x 5 files + 2 portfolios x 5 files, all compared */
	cr_assert(asprintf(&cmd,
			   "cd '%s' && n=0; for f in $(cd first && find farms portfolios -type f | "
			   "sort); do cmp first/$f out/$f || exit 1; n=$((n+1)); done; echo $n",
			   dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "a file differs on the re-run: %s%s", out, err);
	cr_assert_str_eq(out, "25\n", "files compared: %s", out);
	free(cmd);
	free(out);
	free(err);
	json_object_del(man, "started_at");
	json_object_del(man, "finished_at");
	json_object_del(man2, "started_at");
	json_object_del(man2, "finished_at");
	a = json_dumps(man, JSON_PRESERVE_ORDER);
	b = json_dumps(man2, JSON_PRESERVE_ORDER);
	cr_assert_str_eq(a, b, "the manifests differ beyond their times");
	free(a);
	free(b);
	json_decref(man);
	json_decref(man2);
	tu_rmrf_free(dir);
}

/* Count the entries of a shard's list by id in seen[]; each ok and of shard k of 2. */
static void count_shard(json_t *list, const char *const *ids, int n, int k, int *seen)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e) {
		int j = 0;

		while (j < n && strcmp(ids[j], jstr(e, "id")))
			j++;
		cr_assert_lt(j, n, "unknown id %s", jstr(e, "id"));
		cr_assert_eq(batch_shard_of(ids[j], 2), k);
		cr_assert_str_eq(jstr(e, "status"), "ok");
		seen[j]++;
	}
}

Test(batch_trading, shards_cover_farms_and_portfolios_once, .timeout = 600)
{
	static const char *const farms[] = { "horns-reef", "jutland-1", "north-sea-1" };
	static const char *const ports[] = { "east", "west" };
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, path[4096];
	int seen_f[3] = { 0 }, seen_p[2] = { 0 };

	fixture(dir);
	for (int k = 1; k <= 2; k++) {
		json_t *man;

		cr_assert_eq(tu_cli(NULL, &out, &err,
				    "--data '%s/data' batch --out '%s/s' --issued " NIGHT
				    " --shard %d/2 --retrain-after never", dir, dir, k),
			     0, "%s", err);
		snprintf(path, sizeof(path), "%s/s/manifest-%d-of-2.json", dir, k);
		man = tu_load_json(path);
		cr_assert_eq(json_integer_value(json_object_get(man, "portfolios_total")), 2);
		count_shard(json_object_get(man, "farms"), farms, 3, k, seen_f);
		count_shard(json_object_get(man, "portfolios"), ports, 2, k, seen_p);
		json_decref(man);
		free(out);
		free(err);
	}
	for (int j = 0; j < 3; j++)
		cr_assert_eq(seen_f[j], 1, "farm %s covered %d times", farms[j], seen_f[j]);
	for (int j = 0; j < 2; j++)
		cr_assert_eq(seen_p[j], 1, "portfolio %s covered %d times", ports[j], seen_p[j]);
	/* both portfolios' files, from whichever shard ran them */
	for (int j = 0; j < 2; j++) {
		struct stat sb;

		snprintf(path, sizeof(path), "%s/s/portfolios/%s.nc", dir, ports[j]);
		cr_assert_eq(stat(path, &sb), 0, "no '%s'", path);
	}
	tu_rmrf_free(dir);
}

/*
 * The batch's price model fills what a farm lacks (and only that); an incomplete one
 * stored on a farm fails that farm alone, its stale commitments removed.
 */
Test(batch_trading, price_model_defaults_and_a_failing_farm, .timeout = 600)
{
	char *dir = tu_tmpdir(), *err = NULL, *out = NULL, path[4096];
	json_t *man, *e, *c;
	struct stat sb;

	fixture(dir);
	man = run_night(dir, "out", "--price 50 --psi-plus 10 --psi-minus 30", 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(man, "commitments_skipped")), 0);
	c = json_object_get(entry(man, "farms", "north-sea-1"), "commitments");
	cr_assert_str_eq(jstr(c, "status"), "ok");
	cr_assert_str_eq(jstr(c, "price_model"), "the batch's");
	check_commit_cli(dir, "out", "farms", "north-sea-1", "--farm", DAY_UTC,
			 "--price 50 --psi-plus 10 --psi-minus 30");
	/* stored settings win: jutland-1 keeps its 45 and 20/20 */
	snprintf(path, sizeof(path), "%s/out/farms/jutland-1.commitments.csv", dir);
	cr_assert(out = tu_read_file(path, NULL));
	cr_assert(strstr(out, ",45,20,20,0.5,"), "%.400s", out);
	free(out);
	check_commit_cli(dir, "out", "portfolios", "east", "--portfolio", DAY_UTC,
			 "--price 50 --psi-plus 10 --psi-minus 30");
	json_decref(man);

	/* north-sea-1 with a price alone: its commitments fail, the rest is written */
	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm market north-sea-1 --price 60",
			    dir), 0);
	man = run_night(dir, "out", "", 1, &err);
	cr_assert(strstr(err, "windcast batch: farm 'north-sea-1': commitments: "), "%s", err);
	cr_assert_eq(json_integer_value(json_object_get(man, "farms_failed")), 1);
	cr_assert_str_eq(jstr(man, "status"), "failed");
	e = entry(man, "farms", "north-sea-1");
	cr_assert_str_eq(jstr(e, "status"), "failed");
	cr_assert(strstr(jstr(e, "error"), "psi_plus"), "%s", jstr(e, "error"));
	cr_assert_str_eq(jstr(json_object_get(e, "commitments"), "status"), "failed");
	cr_assert_eq(json_array_size(json_object_get(e, "files")), 3, "its forecast stays");
	snprintf(path, sizeof(path), "%s/out/farms/north-sea-1.commitments.csv", dir);
	cr_assert_neq(stat(path, &sb), 0, "the first night's commitments file is stale");
	snprintf(path, sizeof(path), "%s/out/farms/north-sea-1.nc", dir);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_str_eq(jstr(entry(man, "farms", "horns-reef"), "status"), "ok");
	cr_assert_str_eq(jstr(entry(man, "portfolios", "west"), "status"), "ok");
	free(err);
	json_decref(man);
	tu_rmrf_free(dir);
}

/* Unknown farms and portfolios, bad prices: exit 2 naming the option, nothing written;
 * a selection runs only what it names. */
Test(batch_trading, bad_options_and_selection, .timeout = 300)
{
	static const struct {
		const char *args, *says;
	} bad[] = {
		{ "--farm nope", "invalid --farm 'nope': no farm 'nope'" },
		{ "--portfolio nope", "invalid --portfolio 'nope': no portfolio 'nope'" },
		{ "--portfolio 'a b'", "invalid --portfolio 'a b'" },
		{ "--farm horns-reef,", "invalid --farm 'horns-reef,'" },
		{ "--price 50", "--psi-plus is missing" },
		{ "--price 50 --psi-plus 10", "--psi-minus is missing" },
		{ "--price 50 --psi-plus 0 --psi-minus 0", "--psi-plus and --psi-minus" },
		{ "--psi-minus -3 --price 1 --psi-plus 1", "invalid --psi-minus '-3'" },
		{ "--price nan --psi-plus 1 --psi-minus 1", "invalid --price 'nan'" },
		{ "--time-zone Europe/Nowhere", "invalid --time-zone 'Europe/Nowhere'" },
		{ "--gate-closure 25:00", "invalid --gate-closure '25:00'" },
		{ "--min-mw 3", "'--min-mw'" },
	};
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL;
	json_t *man;
	struct stat sb;
	char path[4096];

	fixture(dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = tu_cli(NULL, &out, &err, "--data '%s/data' batch --out '%s/bad' --issued "
						  NIGHT " %s", dir, dir, bad[i].args);

		cr_assert_eq(rc, 2, "%s: exit %d: %s", bad[i].args, rc, err);
		cr_assert(strstr(err, bad[i].says), "%s: %s", bad[i].args, err);
		free(out);
		free(err);
	}
	snprintf(path, sizeof(path), "%s/bad", dir);
	cr_assert_neq(stat(path, &sb), 0, "a usage error writes nothing");

	man = run_night(dir, "sel", "--portfolio west", 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(man, "farms")), 0);
	cr_assert_eq(json_array_size(json_object_get(man, "portfolios")), 1);
	cr_assert_str_eq(jstr(entry(man, "portfolios", "west"), "status"), "ok");
	json_decref(man);
	man = run_night(dir, "sel2", "--farm jutland-1,horns-reef --portfolio east", 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(man, "farms")), 2);
	cr_assert_str_eq(jstr(json_array_get(json_object_get(man, "farms"), 0), "id"),
			 "horns-reef");
	cr_assert_str_eq(jstr(json_array_get(json_object_get(man, "portfolios"), 0), "id"),
			 "east");
	json_decref(man);
	tu_rmrf_free(dir);
}
