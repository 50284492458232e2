/*
 * test_cli_data.c - the built binary on the issue 11 defects of the data commands:
 * a farm added after its grids gets weather (3), option messages name the option and
 * the value (6), every number has a range (7), reading commands refuse a missing store
 * (8), obs list --from after --to, -q and -v, and one --format rule (13).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

TestSuite(cli_data, .timeout = 180);

/*
 * Run the CLI on `data` (NULL: no --data), wanting exit status `want`; returns stdout
 * and, when errp is not NULL, stderr in *errp (malloc'd both).
 */
static char *run(const char *data, int want, char **errp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static char *run(const char *data, int want, char **errp, const char *fmt, ...)
{
	char *args, *out = NULL, *err = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	cr_assert(vasprintf(&args, fmt, ap) >= 0);
	va_end(ap);
	rc = tu_cli(data, &out, &err, "%s", args);
	cr_assert_eq(rc, want, "'%s': exit %d, want %d: %s", args, rc, want, err);
	free(args);
	if (errp)
		*errp = err;
	else
		free(err);
	return out;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

#define ADD "farm add --id f1 --name F --lat 55 --lon 8 --capacity-mw 50 "

Test(cli_data, option_messages_name_the_option_the_value_and_the_range)
{
	static const struct {
		const char *args, *msg;
	} cases[] = {
		{ "--capacity-mw abc",
		  "invalid --capacity-mw 'abc': use a number 0 < x <= 100000 (MW)" },
		{ "--capacity-mw 1e308",
		  "invalid --capacity-mw '1e308': use a number 0 < x <= 100000 (MW)" },
		{ "--capacity-mw 0", "invalid --capacity-mw '0': use a number 0 < x <= 100000" },
		{ "--capacity-mw ''", "invalid --capacity-mw '': use a number" },
		{ "--lat 91", "invalid --lat '91': use a number -90 <= x <= 90 (degrees north)" },
		{ "--lon 360", "invalid --lon '360': use a number -180 <= x < 360 (degrees east)" },
		{ "--lon nan", "invalid --lon 'nan': use a number" },
		{ "--hub-height-m 5", "invalid --hub-height-m '5': use a number 10 <= x <= 300" },
		{ "--id Big!", "invalid --id 'Big!': use 1-64 characters a-z" },
		{ "--format xml", "invalid --format 'xml': use text or json" },
		{ "--power-curve", "option '--power-curve' needs a value" },
		{ "--colour red", "unknown option '--colour'" },
	};
	char *dir = tu_tmpdir();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err;

		free(run(dir, 2, &err, ADD "%s", cases[i].args));
		cr_assert(strstr(err, cases[i].msg), "%s: stderr '%s', want '%s'", cases[i].args,
			  err, cases[i].msg);
		free(err);
	}
	/* a name with a control character: the same rule as the API's */
	{
		char *err;

		free(run(dir, 2, &err, "farm add --id f2 --name \"$(printf 'a\\tb')\" --lat 55 "
				       "--lon 8 --capacity-mw 50"));
		cr_assert(strstr(err, "name must be 1-128 bytes of UTF-8 without control"), "%s",
			  err);
		free(err);
	}
	free(run(dir, 1, NULL, "farm show f1"));	/* nothing was added */
	tu_rmrf_free(dir);
}

/* Reading commands refuse a --data that names no store; writing ones create it. */
Test(cli_data, reading_commands_refuse_a_missing_store)
{
	static const char *const readers[] = {
		"farm list", "farm show a", "farm rm a", "obs list --farm a",
		"obs import --farm a x.csv", "weather --farm a", "train --farm a",
		"forecast --farm a", "serve --listen 127.0.0.1:0",
	};
	static const char *const writers[] = {
		"init", "farm add --id a --name A --lat 55 --lon 8 --capacity-mw 5",
		"farm import FARMS", "ingest NC",
	};
	char *dir = tu_tmpdir(), typo[4200], farms[4200], nc[4200], args[8600];
	struct stat sb;

	snprintf(typo, sizeof(typo), "%s/windcats-data", dir);
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		char *err;

		free(run(typo, 2, &err, "%s", readers[i]));
		cr_assert(strstr(err, "no windcast store at '") && strstr(err, typo) &&
				  strstr(err, "check --data"),
			  "%s: %s", readers[i], err);
		free(err);
		cr_assert_neq(stat(typo, &sb), 0, "'%s' created the store", readers[i]);
	}
	/* --help needs no store */
	free(run(typo, 0, NULL, "farm list --help"));
	snprintf(farms, sizeof(farms), "%s/farms.json", dir);
	write_text(farms, "[]");
	free(run(NULL, 0, NULL, "demo-data --out '%s/in' --days 1 --farms 1", dir));
	snprintf(nc, sizeof(nc), "%s/in/nwp/demo_2026010100.nc", dir);
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		char *sub;

		tu_rmrf_free(strdup(typo));
		snprintf(args, sizeof(args), "%s", writers[i]);
		if ((sub = strstr(args, "FARMS")))
			snprintf(sub, sizeof(args) - (size_t)(sub - args), "'%s'", farms);
		if ((sub = strstr(args, "NC")))
			snprintf(sub, sizeof(args) - (size_t)(sub - args), "'%s'", nc);
		free(run(typo, 0, NULL, "%s", args));
		cr_assert_eq(stat(typo, &sb), 0, "'%s' did not create the store", writers[i]);
		free(run(typo, 0, NULL, "farm list"));
	}
	tu_rmrf_free(dir);
}

Test(cli_data, obs_list_from_after_to_is_bad_usage_and_q_v_are_global)
{
	char *dir = tu_tmpdir(), path[4200], *out, *err;

	free(run(dir, 0, NULL, "-q " ADD));
	snprintf(path, sizeof(path), "%s/obs.csv", dir);
	write_text(path, "time,power_mw\n2026-01-01T01:00:00Z,10\n2026-01-01T02:00:00Z,20\n");
	free(run(dir, 0, NULL, "obs import --farm f1 '%s' -v", path));
	free(run(dir, 2, &err, "obs list --farm f1 --from 2026-01-02T00:00Z --to 2026-01-01T00:00Z"));
	cr_assert(strstr(err, "invalid --from '2026-01-02T00:00Z': after --to '2026-01-01T00:00Z'"),
		  "%s", err);
	free(err);
	out = run(dir, 0, NULL, "obs list --farm f1 --from 2026-01-01T02:00Z --to 2026-01-01T02:00Z "
				"--format csv");
	cr_assert_str_eq(out, "time,power_mw,flag\n2026-01-01T02:00:00Z,20,ok\n");
	free(out);
	free(run(dir, 2, &err, "obs list --farm f1 --to yesterday"));
	cr_assert(strstr(err, "invalid --to 'yesterday': use ISO 8601"), "%s", err);
	free(err);
	/* -q and -v anywhere, like --quiet and --verbose */
	free(run(dir, 0, NULL, "-v farm list -q"));
	free(run(dir, 0, NULL, "farm list -v"));
	tu_rmrf_free(dir);
}

/* Every listing command: text by default, json one document, csv a table. */
Test(cli_data, one_format_rule_for_every_command_that_prints_data)
{
	static const struct {
		const char *cmd, *formats;	/* formats it takes besides text */
	} cmds[] = {
		{ "farm list", "json csv" },
		{ "farm show f1", "json csv" },
		{ "obs list --farm f1", "json csv" },
		{ "weather --farm f1", "json csv" },
	};
	char *dir = tu_tmpdir(), path[4200], *out, *err;

	free(run(dir, 0, NULL, ADD "--hub-height-m 90"));
	snprintf(path, sizeof(path), "%s/obs.csv", dir);
	write_text(path, "time,power_mw\n2026-01-01T01:00:00Z,10\n");
	free(run(dir, 0, NULL, "obs import --farm f1 '%s'", path));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *text = run(dir, 0, NULL, "%s", cmds[i].cmd);
		json_t *v;

		out = run(dir, 0, NULL, "%s --format text", cmds[i].cmd);
		cr_assert_str_eq(out, text, "%s: text is the default", cmds[i].cmd);
		free(out);
		cr_assert(!json_loads(text, 0, NULL), "%s: the default is not JSON", cmds[i].cmd);
		free(text);
		out = run(dir, 0, NULL, "%s --format json", cmds[i].cmd);
		v = json_loads(out, 0, NULL);
		cr_assert(json_is_array(v) || json_is_object(v), "%s: %s", cmds[i].cmd, out);
		json_decref(v);
		free(out);
		out = run(dir, 0, NULL, "%s --format csv", cmds[i].cmd);
		cr_assert(strchr(out, ',') && strchr(out, '\n') && !strchr(out, '{'), "%s: %s",
			  cmds[i].cmd, out);
		free(out);
		free(run(dir, 2, &err, "%s --format xml", cmds[i].cmd));
		cr_assert(strstr(err, "invalid --format 'xml': use text, json or csv"), "%s: %s",
			  cmds[i].cmd, err);
		free(err);
	}
	out = run(dir, 0, NULL, "farm show f1");
	cr_assert(strstr(out, "id            f1\n") && strstr(out, "hub_height_m  90.0\n"), "%s",
		  out);
	free(out);
	out = run(dir, 0, NULL, "farm show f1 --format csv");
	cr_assert_str_eq(out, "id,name,lat,lon,capacity_mw,hub_height_m\n"
			      "f1,F,55.000000,8.000000,50.000,90.0\n");
	free(out);
	tu_rmrf_free(dir);
}

/* `ingest --format json`: one JSON array, an object per file, the rejected ones too. */
Test(cli_data, ingest_json_is_one_document_with_every_file)
{
	char *dir = tu_tmpdir(), bad[4200], *out;
	json_t *v, *e;

	free(run(NULL, 0, NULL, "demo-data --out '%s/in' --days 1 --farms 1", dir));
	free(run(dir, 0, NULL, "farm import '%s/in/farms.json'", dir));
	snprintf(bad, sizeof(bad), "%s/bad.nc", dir);
	write_text(bad, "CDF\001garbage");
	out = run(dir, 1, NULL, "ingest --format json '%s'/in/nwp/*.nc '%s'", dir, bad);
	v = json_loads(out, 0, NULL);
	cr_assert(json_is_array(v) && json_array_size(v) == 3, "%s", out);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "status")),
			 "ingested");
	cr_assert_eq(json_array_size(json_object_get(json_array_get(v, 0), "farms")), 1);
	e = json_array_get(v, 2);
	cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "rejected");
	cr_assert(strstr(json_string_value(json_object_get(e, "error")), "bad.nc"), "%s", out);
	json_decref(v);
	free(out);
	out = run(dir, 0, NULL, "ingest --format json '%s'/in/nwp/demo_2026010100.nc", dir);
	v = json_loads(out, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "status")),
			 "known");
	json_decref(v);
	free(out);
	tu_rmrf_free(dir);
}

/*
 * Defect 3: a farm registered (add or import) after its grids were ingested gets the
 * weather it would have got registered before; one that moves gets its new site's.
 */
Test(cli_data, a_farm_added_after_its_grids_gets_its_weather)
{
	char *dir = tu_tmpdir(), a[4200], b[4200], *out, *want, *got;
	json_t *v, *w;

	free(run(NULL, 0, NULL, "demo-data --out '%s/in' --days 1 --farms 3", dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	/* a: farms, then grids (the reference); b: grids, then farms */
	free(run(a, 0, NULL, "farm import '%s/in/farms.json'", dir));
	free(run(a, 0, NULL, "ingest '%s'/in/nwp/*.nc", dir));
	free(run(b, 0, NULL, "ingest '%s'/in/nwp/*.nc", dir));
	out = run(b, 0, NULL, "farm import '%s/in/farms.json'", dir);
	cr_assert(strstr(out, "weather of 'horns-reef': 2 of 2 runs (98 rows)"), "%s", out);
	free(out);
	for (int k = 0; k < 3; k++) {
		static const char *const ids[] = { "north-sea-1", "horns-reef", "jutland-1" };

		want = run(a, 0, NULL, "weather --farm %s --format csv --all", ids[k]);
		got = run(b, 0, NULL, "weather --farm %s --format csv --all", ids[k]);
		cr_assert_str_eq(got, want, "%s", ids[k]);
		cr_assert_gt(strlen(got), 500);
		free(want);
		free(got);
	}
	/* farm add, in JSON: the farm and what its extraction did */
	out = run(b, 0, NULL, "farm add --id twin --name Twin --lat 55.5 --lon 7.75 "
			      "--capacity-mw 10 --hub-height-m 80 --format json");
	v = json_loads(out, 0, NULL);
	w = json_object_get(v, "weather");
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "twin", "%s", out);
	cr_assert_str_eq(json_string_value(json_object_get(w, "status")), "extracted", "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(w, "runs")), 2, "%s", out);
	json_decref(v);
	free(out);
	/* twin stands where horns-reef does: the same weather */
	want = run(b, 0, NULL, "weather --farm horns-reef --format csv --all");
	got = run(b, 0, NULL, "weather --farm twin --format csv --all");
	cr_assert_str_eq(got, want);
	free(got);
	/* moving jutland-1 onto horns-reef's site (import --replace) re-extracts it */
	{
		char path[4300];

		snprintf(path, sizeof(path), "%s/moved.json", dir);
		write_text(path, "[{\"id\":\"jutland-1\",\"name\":\"J\",\"lat\":55.5,\"lon\":7.75,"
				 "\"capacity_mw\":60,\"hub_height_m\":80}]");
		out = run(b, 0, NULL, "farm import --replace --format json '%s'", path);
		v = json_loads(out, 0, NULL);
		w = json_array_get(json_object_get(v, "farms"), 0);
		cr_assert_str_eq(json_string_value(json_object_get(w, "change")), "moved", "%s", out);
		cr_assert_eq(json_integer_value(json_object_get(json_object_get(w, "weather"),
								 "runs")),
			     2, "%s", out);
		json_decref(v);
		free(out);
		/* the same again is an update, not a move: no extraction */
		out = run(b, 0, NULL, "farm import --replace '%s'", path);
		cr_assert(!strstr(out, "weather of"), "%s", out);
		free(out);
	}
	got = run(b, 0, NULL, "weather --farm jutland-1 --format csv --all");
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
	tu_rmrf_free(dir);
}
