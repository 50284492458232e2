/*
 * test_batch.c - the nightly batch (backtest/batch.h, `windcast batch`) against the
 * built binary on a small synthetic store: a whole night (an inbox with good and bad
 * files, a farm due for retraining, a current one, one without a model, one that fails),
 * the manifest and the hashes of the files, the JSON and CSV equal to what `windcast
 * forecast` answers at the same issue time, the NetCDF read back by netCDF4-python and
 * by ncdump, a re-run giving identical bytes, shards covering every farm once, the lock
 * held by another process (and taken over once that process dies), an interrupted
 * night, `make install` of the binary and the systemd units, and bad usage.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backtest/batch.h"
#include "common/sha256.h"
#include "data/store.h"
#include "testutil.h"

#define NIGHT "2026-01-11T06:00:00Z"
#define NIGHT_DIR "20260111T0600Z"
#define TINY "--epochs 2 --hidden 4 --ensemble 1 --leads 12"

/*
 * A store under dir/data: the demo's 3 farms with 10 days of runs and observations
 * (2026-01-01 .. 2026-01-10); horns-reef trained on its first 3 days only (due with
 * --retrain-after 5d on the night of 2026-01-11 06:00), jutland-1 on all (current),
 * north-sea-1 never; and "ghost", a farm outside the grid with no data (it fails). With
 * `inbox`, dir/inbox holds the next run, a truncated grid, a text file, jutland-1's next
 * six hours of output and north-sea-1 observations with a bad value.
 */
static void fixture(const char *dir, bool inbox)
{
	char *cmd, *out = NULL, *err = NULL;
	const char *w = tu_bin();

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
			   "$W --data data train --farm horns-reef --to 2026-01-04T00:00Z " TINY
			   " >/dev/null\n"
			   "$W --data data train --farm jutland-1 " TINY " >/dev/null\n"
			   "$W --data data farm add --id ghost --name Ghost --lat 0 --lon 0 "
			   "--capacity 10 >/dev/null\n",
			   dir, w) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "fixture: %s", err);
	free(cmd);
	free(out);
	free(err);
	if (!inbox)
		return;
	cr_assert(asprintf(&cmd,
			   "set -e; cd '%s'; mkdir inbox\n"
			   "cp in/nwp/demo_2026011100.nc inbox/\n"
			   "head -c 3000 in/nwp/demo_2026011112.nc > inbox/broken.nc\n"
			   "echo 'not a forecast input' > inbox/notes.txt\n"
			   "echo partial > inbox/upload.nc.part\n"
			   "(head -n 1 in/obs/jutland-1.csv; sed -n 242,247p in/obs/jutland-1.csv) "
			   "> inbox/jutland-1.late.csv\n"
			   "printf 'time,power_mw\\n2026-01-11T01:00Z,abc\\n' > inbox/north-sea-1.csv\n",
			   dir) >= 0);
	cr_assert_eq(tu_run(cmd, NULL, &err), 0, "inbox: %s", err);
	free(cmd);
	free(err);
}

static json_t *load_json(const char *path)
{
	return tu_load_json(path);
}

/* The farm entry `id` of a manifest. */
static json_t *farm_entry(json_t *man, const char *id)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(man, "farms"), i, f)
		if (!strcmp(json_string_value(json_object_get(f, "id")), id))
			return f;
	cr_assert_fail("no farm '%s' in the manifest", id);
	return NULL;
}

static json_t *inbox_entry(json_t *man, const char *name)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(json_object_get(man, "inbox"), "files"), i, f)
		if (!strcmp(json_string_value(json_object_get(f, "file")), name))
			return f;
	cr_assert_fail("no inbox file '%s' in the manifest", name);
	return NULL;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	cr_assert(s, "no string '%s'", key);
	return s;
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool exists(const char *fmt, ...)
{
	char path[4096];
	struct stat sb;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return stat(path, &sb) == 0;
}

/* Every file a farm entry lists exists with the size and sha256 listed. */
static void check_files(const char *out, json_t *farm, size_t expect)
{
	json_t *files = json_object_get(farm, "files"), *f;
	size_t i;

	cr_assert_eq(json_array_size(files), expect, "%s: %zu files",
		     jstr(farm, "id"), json_array_size(files));
	json_array_foreach(files, i, f) {
		char path[4096], sha[SHA256_HEX_LEN];
		struct wc_error err = { 0 };
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", out, jstr(f, "path"));
		cr_assert_eq(stat(path, &sb), 0, "'%s' listed but missing", path);
		cr_assert_eq(json_integer_value(json_object_get(f, "bytes")), sb.st_size);
		cr_assert_eq(sha256_file(path, sha, &err), WC_OK, "%s", err.msg);
		cr_assert_str_eq(jstr(f, "sha256"), sha, "hash of '%s'", path);
	}
}

/* The NetCDF of a farm against its JSON, by netCDF4-python, and ncdump -h. */
static void check_netcdf(const char *dir, const char *id)
{
	char *cmd, *out = NULL, *err = NULL;

	cr_assert(asprintf(&cmd,
			   "cd '%s/out/" NIGHT_DIR "/farms' && '%s' - <<'EOF'\n"
			   "import json, netCDF4, numpy as np\n"
			   "d = netCDF4.Dataset('%s.nc'); j = json.load(open('%s.json'))\n"
			   "assert d.data_model == 'NETCDF3_CLASSIC', d.data_model\n"
			   "assert list(d.dimensions) == ['lead', 'quantile'], list(d.dimensions)\n"
			   "assert len(d.dimensions['lead']) == len(j['leads'])\n"
			   "assert d.Conventions == 'CF-1.8' and d.farm_id == j['farm']\n"
			   "assert 'history' not in d.ncattrs()\n"
			   "assert d.model == j['model']['name'] and d.issued == j['issued']\n"
			   "assert d.issued_reason == j['issued_reason']\n"
			   "assert d.nwp_run_reference_time == j['nwp_run']['ref_time']\n"
			   "assert d.nwp_run_source == j['nwp_run']['source']\n"
			   "assert abs(d.farm_capacity_mw - j['capacity_mw']) == 0\n"
			   "for v, sn in (('forecast_reference_time', 'forecast_reference_time'),\n"
			   "              ('forecast_period', 'forecast_period'), ('time', 'time')):\n"
			   "    assert d[v].standard_name == sn, v\n"
			   "assert d['power'].units == 'MW' and d['power_quantile'].units == 'MW'\n"
			   "assert d['power'].long_name and d['power_quantile'].dimensions == "
			   "('lead', 'quantile')\n"
			   "ref = netCDF4.num2date(d['forecast_reference_time'][:], "
			   "d['forecast_reference_time'].units)\n"
			   "assert ref.strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ') == j['issued'], ref\n"
			   "t = netCDF4.num2date(d['time'][:], d['time'].units)\n"
			   "assert [x.strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ') for x in t] == "
			   "[l['valid_time'] for l in j['leads']]\n"
			   "assert list(d['forecast_period'][:]) == [l['lead_h'] for l in j['leads']]\n"
			   "assert list(d['quantile'][:]) == j['quantiles']\n"
			   "p = np.array([l['point_mw'] for l in j['leads']])\n"
			   "q = np.array([l['quantiles_mw'] for l in j['leads']])\n"
			   "dp = np.max(np.abs(d['power'][:] - p)); dq = np.max(np.abs(d['power_quantile'][:] - q))\n"
			   "assert dp <= 1e-9 * max(1, np.max(p)) and dq <= 1e-9 * max(1, np.max(q)), (dp, dq)\n"
			   "print('max |nc - json|', dp, dq)\n"
			   "EOF\n"
			   "ncdump -h '%s.nc'",
			   dir, tu_python(), id, id, id) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "netCDF4-python check of %s: %s%s", id, out, err);
	cr_assert(strstr(out, "forecast_reference_time:standard_name = \"forecast_reference_time\""),
		  "%s", out);
	cr_assert(strstr(out, "power:units = \"MW\""), "%s", out);
	cr_log_info("%s: %.60s", id, out);
	free(cmd);
	free(out);
	free(err);
}

Test(batch, full_night_then_identical_rerun, .timeout = 600)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *a, *b, *reason, path[4096];
	char night[4096];
	static const char *const farms[] = { "ghost", "horns-reef", "jutland-1", "north-sea-1" };
	static const char *const ext[] = { "json", "csv", "nc" };
	json_t *man, *man2, *f;
	size_t i;
	int rc;

	fixture(dir, true);
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' batch --out '%s/out/{issued}' --issued " NIGHT
		    " --inbox '%s/inbox' --retrain-after 5d --train-args '" TINY "'",
		    dir, dir, dir);
	cr_assert_eq(rc, 1, "a failed farm exits 1: %s", err);
	cr_assert(strstr(err, "windcast batch: farm 'ghost': "), "failure on stderr: %s", err);
	cr_assert(strstr(err, "inbox file 'broken.nc'") && strstr(err, "inbox file 'notes.txt'") &&
		  strstr(err, "inbox file 'north-sea-1.csv'"), "rejections reported: %s", err);
	cr_assert(strstr(err, "batch retrain farm=horns-reef status=trained"), "%s", err);
	cr_assert(strstr(out, "4 farms, 1 failed"), "%s", out);
	snprintf(night, sizeof(night), "%s/out/" NIGHT_DIR, dir);
	snprintf(path, sizeof(path), "%s/manifest.json", night);
	cr_assert(strstr(out, path), "the summary names the manifest: %s", out);
	man = load_json(path);

	/* the manifest: every farm by id, in id order, with its files and failures */
	cr_assert_str_eq(jstr(man, "issued"), NIGHT);
	cr_assert_str_eq(jstr(man, "status"), "failed");
	cr_assert_eq(json_integer_value(json_object_get(man, "farms_failed")), 1);
	cr_assert_eq(json_array_size(json_object_get(man, "farms")), 4);
	json_array_foreach(json_object_get(man, "farms"), i, f)
		cr_assert_str_eq(jstr(f, "id"), farms[i]);
	cr_assert(json_is_array(json_object_get(man, "arguments")));
	cr_assert(json_is_array(json_object_get(man, "portfolios")));
	cr_assert(json_is_string(json_object_get(man, "windcast_version")));
	f = farm_entry(man, "ghost");
	cr_assert_str_eq(jstr(f, "status"), "failed");
	cr_assert(strstr(jstr(f, "error"), "no NWP for farm 'ghost'"), "%s", jstr(f, "error"));
	cr_assert_str_eq(jstr(json_object_get(f, "retrain"), "status"), "skipped");
	check_files(night, f, 0);
	cr_assert(!exists("%s/farms/%s.json", night, "ghost"));
	f = farm_entry(man, "horns-reef");
	cr_assert_str_eq(jstr(f, "status"), "ok");
	cr_assert_str_eq(jstr(json_object_get(f, "retrain"), "status"), "trained");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(f, "retrain"),
							 "model_version")), 2);
	check_files(night, f, 3);
	f = farm_entry(man, "jutland-1");
	cr_assert_str_eq(jstr(json_object_get(f, "retrain"), "status"), "current", "%s",
			 jstr(json_object_get(f, "retrain"), "reason"));
	check_files(night, f, 3);
	f = farm_entry(man, "north-sea-1");
	cr_assert_str_eq(jstr(json_object_get(f, "retrain"), "status"), "trained");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(f, "retrain"),
							 "model_version")), 1);
	check_files(night, f, 3);

	/* the models: horns-reef's new version saw nothing after the night */
	{
		struct store *st;
		struct model_rec rec = { 0 };
		struct wc_error e = { 0 };
		char data[4200];
		int64_t t;

		snprintf(data, sizeof(data), "%s/data", dir);
		cr_assert(utc_parse(NIGHT, &t));
		cr_assert_eq(store_open_with(data, 0, &st, &e), WC_OK, "%s", e.msg);
		cr_assert_eq(store_model_get(st, "horns-reef", 0, &rec, &e), WC_OK, "%s", e.msg);
		cr_assert_eq(rec.version, 2);
		cr_assert_leq(rec.train_to, t);
		cr_assert_gt(rec.train_to, t - 2 * UTC_DAY, "trained on the new data");
		model_rec_release(&rec);
		store_close(st);
	}

	/* the inbox: good files processed, bad ones rejected with their reason beside */
	cr_assert_str_eq(jstr(inbox_entry(man, "demo_2026011100.nc"), "status"), "ingested");
	cr_assert_str_eq(jstr(inbox_entry(man, "jutland-1.late.csv"), "status"), "imported");
	cr_assert_str_eq(jstr(inbox_entry(man, "broken.nc"), "status"), "rejected");
	cr_assert_str_eq(jstr(inbox_entry(man, "notes.txt"), "status"), "rejected");
	cr_assert_str_eq(jstr(inbox_entry(man, "north-sea-1.csv"), "status"), "rejected");
	cr_assert_eq(json_array_size(json_object_get(json_object_get(man, "inbox"), "files")), 5,
		     "the .part file waits");
	cr_assert(exists("%s/inbox/processed/%s", dir, "demo_2026011100.nc"));
	cr_assert(exists("%s/inbox/processed/%s", dir, "jutland-1.late.csv"));
	cr_assert(exists("%s/inbox/rejected/%s", dir, "broken.nc"));
	cr_assert(exists("%s/inbox/%s", dir, "upload.nc.part"));
	cr_assert(!exists("%s/inbox/%s", dir, "notes.txt"));
	snprintf(path, sizeof(path), "%s/inbox/rejected/north-sea-1.csv.reason", dir);
	cr_assert(reason = tu_read_file(path, NULL), "no reason file beside the rejected one");
	cr_assert(strstr(reason, "line 2") && strstr(reason, "abc"), "reason: %s", reason);
	a = reason + strlen(reason) - 1;
	cr_assert_eq(*a, '\n');
	*a = '\0';
	cr_assert_str_eq(reason, jstr(inbox_entry(man, "north-sea-1.csv"), "reason"));
	free(reason);
	snprintf(path, sizeof(path), "%s/inbox/rejected/notes.txt.reason", dir);
	cr_assert(reason = tu_read_file(path, NULL));
	cr_assert(strstr(reason, "neither a NetCDF grid"), "%s", reason);
	free(reason);
	/* jutland-1's late hours were stored */
	free(out);
	free(err);
	cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s/data' obs list --farm jutland-1 "
					      "--from 2026-01-11T01:00Z --format csv", dir), 0);
	cr_assert(strstr(out, "2026-01-11T06:00:00Z"), "%s", out);

	/* backtest equals serving: the files are what `windcast forecast` answers at T */
	for (i = 1; i < 4; i++) {
		free(out);
		free(err);
		cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s/data' forecast --farm %s --issued "
						      NIGHT " --format json", dir, farms[i]), 0, "%s", err);
		snprintf(path, sizeof(path), "%s/out/" NIGHT_DIR "/farms/%s.json", dir, farms[i]);
		cr_assert(a = tu_read_file(path, NULL));
		cr_assert_str_eq(a, out, "%s.json differs from the forecast command's", farms[i]);
		free(a);
		free(out);
		free(err);
		cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s/data' -q forecast --farm %s "
						      "--issued " NIGHT " --format csv", dir, farms[i]),
			     0, "%s", err);
		snprintf(path, sizeof(path), "%s/out/" NIGHT_DIR "/farms/%s.csv", dir, farms[i]);
		cr_assert(a = tu_read_file(path, NULL));
		cr_assert_str_eq(a, out, "%s.csv differs from the forecast command's", farms[i]);
		free(a);
		check_netcdf(dir, farms[i]);
	}

	/* the same night again: every farm file byte for byte; the manifest but its times */
	free(out);
	free(err);
	{
		char *save;

		cr_assert(asprintf(&save, "cp -r '%s/out/" NIGHT_DIR "' '%s/first'", dir, dir) >= 0);
		cr_assert_eq(tu_run(save, NULL, NULL), 0);
		free(save);
	}
	rc = tu_cli(NULL, &out, &err,
		    "--data '%s/data' batch --out '%s/out/{issued}' --issued " NIGHT
		    " --inbox '%s/inbox' --retrain-after 5d --train-args '" TINY "'",
		    dir, dir, dir);
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "batch retrain farm=horns-reef status=current"), "not due again: %s",
		  err);
	for (i = 1; i < 4; i++)
		for (size_t k = 0; k < 3; k++) {
			size_t la, lb;

			snprintf(path, sizeof(path), "%s/first/farms/%s.%s", dir, farms[i], ext[k]);
			cr_assert(a = tu_read_file(path, &la));
			snprintf(path, sizeof(path), "%s/out/" NIGHT_DIR "/farms/%s.%s", dir, farms[i],
				 ext[k]);
			cr_assert(b = tu_read_file(path, &lb));
			cr_assert(la == lb && !memcmp(a, b, la), "%s.%s differs on a re-run", farms[i],
				  ext[k]);
			free(a);
			free(b);
		}
	snprintf(path, sizeof(path), "%s/out/" NIGHT_DIR "/manifest.json", dir);
	man2 = load_json(path);
	json_object_del(man, "started_at");
	json_object_del(man, "finished_at");
	json_object_del(man, "inbox");
	json_object_del(man2, "started_at");
	json_object_del(man2, "finished_at");
	json_object_del(man2, "inbox");
	/* the second run found horns-reef current: its retrain entry differs, nothing else */
	json_object_del(farm_entry(man, "horns-reef"), "retrain");
	json_object_del(farm_entry(man2, "horns-reef"), "retrain");
	json_object_del(farm_entry(man, "north-sea-1"), "retrain");
	json_object_del(farm_entry(man2, "north-sea-1"), "retrain");
	a = json_dumps(man, JSON_SORT_KEYS);
	b = json_dumps(man2, JSON_SORT_KEYS);
	cr_assert_str_eq(a, b, "the manifests differ beyond times, inbox and retraining:\n%s\n%s", a, b);
	free(a);
	free(b);
	json_decref(man);
	json_decref(man2);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

/* FNV-1a 64 published vectors (Fowler/Noll/Vo test suite): "a", "foobar". */
Test(batch, shard_hash_matches_published_fnv1a)
{
	static const struct {
		const char *s;
		unsigned long long h;
	} v[] = { { "a", 0xaf63dc4c8601ec8cull }, { "foobar", 0x85944171f73967e8ull } };

	for (size_t i = 0; i < 2; i++)
		for (int n = 1; n <= 7; n++)
			cr_assert_eq(batch_shard_of(v[i].s, n), (int)(v[i].h % (unsigned)n) + 1,
				     "'%s' mod %d", v[i].s, n);
}

Test(batch, shards_cover_every_farm_once, .timeout = 600)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, path[4096];
	static const char *const all[] = { "ghost", "horns-reef", "jutland-1", "north-sea-1" };

	fixture(dir, false);
	for (int n = 1; n <= 3; n++) {
		int seen[4] = { 0 };

		for (int k = 1; k <= n; k++) {
			json_t *man, *f;
			size_t i;
			int rc = tu_cli(NULL, &out, &err,
					"--data '%s/data' batch --out '%s/s%d' --issued " NIGHT
					" --shard %d/%d --retrain-after never", dir, dir, n, k, n);

			cr_assert(rc == 0 || rc == 1, "%s", err);
			if (n == 1)
				snprintf(path, sizeof(path), "%s/s1/manifest.json", dir);
			else
				snprintf(path, sizeof(path), "%s/s%d/manifest-%d-of-%d.json", dir, n, k, n);
			man = load_json(path);
			cr_assert_eq(json_integer_value(json_object_get(
					     json_object_get(man, "shard"), "k")), k);
			cr_assert_eq(json_integer_value(json_object_get(man, "farms_total")), 4);
			json_array_foreach(json_object_get(man, "farms"), i, f) {
				int j = 0;

				while (j < 4 && strcmp(all[j], jstr(f, "id")))
					j++;
				cr_assert_lt(j, 4, "unknown farm %s", jstr(f, "id"));
				seen[j]++;
				cr_assert_eq(batch_shard_of(all[j], n), k);
				/* "never": no training, the models as they were */
				cr_assert_str_eq(jstr(json_object_get(f, "retrain"), "status"), "off");
			}
			/* ghost has no data: its shard fails, the others succeed */
			cr_assert_eq(rc, batch_shard_of("ghost", n) == k ? 1 : 0, "%s", err);
			json_decref(man);
			free(out);
			free(err);
		}
		for (int j = 0; j < 4; j++)
			cr_assert_eq(seen[j], 1, "%d shards: farm %s covered %d times", n, all[j],
				     seen[j]);
	}

	/*
	 * Seven weeks later, with no new data: jutland-1's model (rows to 2026-01-10T17,
	 * observations to 01-11T00) is old but nothing came a day after it, so it stays;
	 * horns-reef's (rows to 01-03) has a week of observations after it and retrains.
	 */
	{
		json_t *man, *rt;
		int rc = tu_cli(NULL, &out, &err,
				"--data '%s/data' batch --out '%s/late' --issued 2026-03-01T06:00Z "
				"--retrain-after 30d --train-args '" TINY "'", dir, dir);

		cr_assert_eq(rc, 1, "no NWP at that time: the forecasts fail: %s", err);
		snprintf(path, sizeof(path), "%s/late/manifest.json", dir);
		man = load_json(path);
		rt = json_object_get(farm_entry(man, "jutland-1"), "retrain");
		cr_assert_str_eq(jstr(rt, "status"), "current", "%s", jstr(rt, "reason"));
		cr_assert(strstr(jstr(rt, "reason"), "nothing new to train on"), "%s",
			  jstr(rt, "reason"));
		rt = json_object_get(farm_entry(man, "horns-reef"), "retrain");
		cr_assert_str_eq(jstr(rt, "status"), "trained", "%s", jstr(rt, "reason"));
		json_decref(man);
		free(out);
		free(err);
	}
	tu_rmrf_free(dir);
}

/* A child process holds the store's lock: the batch refuses, naming it; once the child
 * is killed (its lock file left behind, stale) a batch takes the lock over. */
Test(batch, lock_held_by_another_process, .timeout = 300)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, data[4200], want[64], host[256] = "";
	int ready[2], status;
	pid_t child;

	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	cr_assert_eq(pipe(ready), 0);
	child = fork();
	cr_assert_neq(child, -1);
	if (child == 0) {
		struct batch_lock lk;
		char c = 'x';

		close(ready[0]);
		if (batch_lock_take(data, &lk, NULL))
			_exit(3);
		if (write(ready[1], &c, 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	close(ready[1]);
	{
		char c;

		cr_assert_eq(read(ready[0], &c, 1), 1, "the child took the lock");
	}
	close(ready[0]);
	cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s' batch --out '%s/out'", data, dir), 1,
		     "%s", err);
	snprintf(want, sizeof(want), "pid %ld on host ", (long)child);
	gethostname(host, sizeof(host) - 1);
	cr_assert(strstr(err, "a batch is already running on") && strstr(err, want) &&
		  strstr(err, host) && strstr(err, " since 20"), "names the holder: %s", err);
	cr_assert(!exists("%s/out/%s", dir, "manifest.json"), "nothing written");
	free(out);
	free(err);
	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(exists("%s/data/%s", dir, "batch.lock"));
	cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s' batch --out '%s/out'", data, dir), 1,
		     "runs (f1 has no data, so it fails): %s", err);
	cr_assert(!strstr(err, "already running"), "%s", err);
	cr_assert(exists("%s/out/%s", dir, "manifest.json"));
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

/* A stop requested before the farms: the manifest says interrupted, no farm ran. */
Test(batch, interrupted_night_writes_its_manifest)
{
	char *dir = tu_tmpdir(), data[4200], outdir[4200];
	volatile sig_atomic_t stop = 1;
	struct batch_options o;
	struct batch_result res;
	struct wc_error err = { 0 };
	struct store *st;
	struct farm f = { .id = "f1", .name = "F", .lat = 55, .lon = 7, .capacity_mw = 10 };
	json_t *man;

	f.hub_height_m = 0.0 / 0.0;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(outdir, sizeof(outdir), "%s/out", dir);
	cr_assert_eq(store_open(data, &st, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &f, &err), WC_OK, "%s", err.msg);
	batch_options_init(&o);
	o.out = outdir;
	o.issued = 1767225600;
	o.stop = &stop;
	cr_assert_eq(batch_run(st, &o, &res, &err), WC_OK, "%s", err.msg);
	cr_assert(res.interrupted);
	cr_assert_eq(res.farms, 1);
	cr_assert_eq(res.farms_failed, 1);
	man = load_json(res.manifest);
	cr_assert_str_eq(jstr(man, "status"), "interrupted");
	cr_assert(strstr(jstr(farm_entry(man, "f1"), "error"), "interrupted"));
	json_decref(man);
	batch_result_release(&res);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(batch, option_parsers)
{
	struct wc_error err = { 0 };
	struct train_request r;
	int64_t s;
	int k, n;
	char buf[256];

	cr_assert_eq(batch_parse_shard("2/4", &k, &n, &err), WC_OK);
	cr_assert(k == 2 && n == 4);
	cr_assert_eq(batch_parse_shard("1/1", &k, &n, &err), WC_OK);
	{
		static const char *const bad[] = { "3/2", "0/4", "1/0", "a/b", "1/", "/2", "2",
						   "1/2/3", "-1/2", "1/10001", " 1/2", "1/2 " };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			cr_assert_eq(batch_parse_shard(bad[i], &k, &n, &err), WC_EINVAL, "%s", bad[i]);
	}
	cr_assert_eq(batch_parse_age("30d", &s, &err), WC_OK);
	cr_assert_eq(s, 30 * 86400);
	cr_assert_eq(batch_parse_age("36h", &s, &err), WC_OK);
	cr_assert_eq(s, 36 * 3600);
	cr_assert_eq(batch_parse_age("never", &s, &err), WC_OK);
	cr_assert_eq(s, BATCH_RETRAIN_NEVER);
	cr_assert_eq(batch_parse_age("3650d", &s, &err), WC_OK);
	{
		static const char *const bad[] = { "0d", "0h", "3651d", "30", "d", "1.5d", "-1d",
						   "30D", "30 d", "" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			cr_assert_eq(batch_parse_age(bad[i], &s, &err), WC_EINVAL, "%s", bad[i]);
	}
	/* training options through train's table: same fields as train_option_set */
	train_request_init(&r, TRAIN_CLI);
	cr_assert_eq(batch_train_args(&r, " --epochs 7 --hidden=16,8\t--refit --regional all",
				      &err), WC_OK, "%s", err.msg);
	cr_assert_eq(r.o.nn.epochs, 7);
	cr_assert_eq(r.o.nn.n_hidden, 2);
	cr_assert(r.o.nn.hidden[0] == 16 && r.o.nn.hidden[1] == 8);
	cr_assert(r.o.refit);
	cr_assert_str_eq(r.regional, "all");
	cr_assert_eq(batch_train_args(&r, "--epochs x", &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "--epochs 'x'"), "%s", err.msg);
	cr_assert_eq(batch_train_args(&r, "--farm a", &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "unknown training option '--farm'"), "%s", err.msg);
	cr_assert_eq(batch_train_args(&r, "--epochs", &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "needs a value"), "%s", err.msg);
	cr_assert_eq(batch_train_args(&r, "--refit=yes", &err), WC_EINVAL);
	cr_assert_eq(batch_train_args(&r, "epochs 3", &err), WC_EINVAL);
	/* the night's directory */
	cr_assert_eq(batch_out_dir("/o/{issued}/x{issued}", 1767225600 + 6 * 3600, buf,
				   sizeof(buf), &err), WC_OK);
	cr_assert_str_eq(buf, "/o/20260101T0600Z/x20260101T0600Z");
	cr_assert_eq(batch_out_dir("/plain", 0, buf, sizeof(buf), &err), WC_OK);
	cr_assert_str_eq(buf, "/plain");
	cr_assert_eq(batch_out_dir("/{issued}", 0, buf, 8, &err), WC_EINVAL);
}

Test(batch, bad_usage_names_the_option, .timeout = 120)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL;
	static const struct tu_cli_case cases[] = {
		{ "--out o --shard 3/2", "invalid --shard '3/2'", 2 },
		{ "--out o --shard 0/4", "invalid --shard '0/4'", 2 },
		{ "--out o --shard x", "invalid --shard 'x'", 2 },
		{ "--out o --frobnicate", "unknown option '--frobnicate'", 2 },
		{ "--issued 2026-01-01T00:00Z", "--out DIR is required", 2 },
		{ "--out o --issued yesterday", "invalid --issued 'yesterday'", 2 },
		{ "--out o --retrain-after 0d", "invalid --retrain-after '0d'", 2 },
		{ "--out o --retrain-after soon", "invalid --retrain-after 'soon'", 2 },
		{ "--out o --train-args '--epochs x'", "invalid --train-args: invalid --epochs 'x'", 2 },
		{ "--out o --train-args '--farm a'", "unknown training option '--farm'", 2 },
		{ "--out o --horizon 0", "invalid --horizon '0'", 2 },
		{ "--out o --quantiles 2", "invalid --quantiles '2'", 2 },
		{ "--out o --model magic", "invalid --model 'magic'", 2 },
		{ "--out o --inbox /nonexistent/inbox", "inbox '/nonexistent/inbox' is not a "
							"directory", 2 },
		{ "--out o extra", "unexpected argument 'extra'", 2 },
		{ "--out", "option '--out' needs a value", 2 },
	};

	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);
	tu_cli_cases(dir, "batch", "", cases, sizeof(cases) / sizeof(cases[0]));
	/* a missing store is a mistyped --data, not an empty night */
	cr_assert_eq(tu_cli(NULL, &out, &err, "--data '%s/nope' batch --out o", dir), 2);
	cr_assert(strstr(err, "no windcast store"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(NULL, &out, &err, "batch --help"), 0);
	cr_assert(strstr(out, "--shard K/N") && strstr(out, "--retrain-after"), "%s", out);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

/* make install: the binary and the systemd units under DESTDIR/PREFIX, paths filled in. */
Test(batch, make_install_places_binary_and_units, .timeout = 300)
{
	char *dir = tu_tmpdir(), *cmd, *out = NULL, *err = NULL, path[4200], *unit;
	int status;
	static const char *const units[] = { "windcast.service", "windcast-batch.service",
					     "windcast-batch.timer" };

	cr_assert(asprintf(&cmd, "make -s -C '%s' install DESTDIR='%s/root' PREFIX=/opt/wc "
				 "INSTALL_BIN='%s'", tu_src(), dir, tu_bin()) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "%s%s", out, err);
	free(cmd);
	free(out);
	free(err);
	cr_assert(asprintf(&cmd, "'%s/root/opt/wc/bin/windcast' version", dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "windcast "), "%s", out);
	free(cmd);
	free(out);
	free(err);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/root/opt/wc/lib/systemd/system/%s", dir, units[i]);
		cr_assert(unit = tu_read_file(path, NULL), "'%s' not installed", path);
		cr_assert(!strstr(unit, "@BINDIR@"), "%s: placeholder left", units[i]);
		if (i < 2)
			cr_assert(strstr(unit, "ExecStart=/opt/wc/bin/windcast "), "%s: %s", units[i],
				  unit);
		else
			cr_assert(strstr(unit, "OnCalendar=") && strstr(unit, "Persistent=true"),
				  "%s", unit);
		free(unit);
	}
	/* systemd's own check of the units, installed where their binary exists */
	cr_assert(asprintf(&cmd, "command -v systemd-analyze >/dev/null || exit 77; "
				 "make -s -C '%s' install PREFIX='%s/p' INSTALL_BIN='%s' && "
				 "cd '%s/p/lib/systemd/system' && systemd-analyze verify "
				 "\"$PWD/windcast.service\" \"$PWD/windcast-batch.service\" "
				 "\"$PWD/windcast-batch.timer\"",
			   tu_src(), dir, tu_bin(), dir) >= 0);
	status = tu_run(cmd, &out, &err);
	if (status == 77)
		cr_log_warn("systemd-analyze not found: units not verified");
	else
		cr_assert_eq(status, 0, "systemd-analyze verify: %s%s", out, err);
	free(cmd);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

/* An inbox file the batch may not read is rejected with the reason, and the night goes
 * on (as root, the batch runs as nobody through setpriv so that permissions bite). */
Test(batch, unreadable_inbox_file_is_rejected, .timeout = 120)
{
	char *dir = tu_tmpdir(), *cmd, *out = NULL, *err = NULL, path[4200], *reason;
	const char *as = geteuid() == 0 ? "setpriv --reuid=nobody --regid=nogroup --clear-groups "
					: "";

	cr_assert_eq(tu_cli(NULL, NULL, NULL, "--data '%s/data' farm add --id f1 --name F "
					      "--lat 55 --lon 7 --capacity 10", dir), 0);
	cr_assert(asprintf(&cmd, "cd '%s' && mkdir inbox && printf 'time,power_mw\\n' > "
				 "inbox/f1.csv && chmod -R a+rwX . && chmod 000 inbox/f1.csv && "
				 "%s'%s' --data data batch --inbox inbox --out out",
			   dir, as, tu_bin()) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 1, "f1 has no data, so fails: %s", err);
	cr_assert(strstr(err, "inbox file 'f1.csv': cannot read it: Permission denied"), "%s", err);
	snprintf(path, sizeof(path), "%s/inbox/rejected/f1.csv.reason", dir);
	cr_assert(reason = tu_read_file(path, NULL), "no reason beside the rejected file");
	cr_assert_str_eq(reason, "cannot read it: Permission denied\n");
	cr_assert(strstr(out, "inbox 0 processed, 1 rejected"), "%s", out);
	free(reason);
	free(cmd);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}
