/* test_cli.c - the built `windcast` binary: help, exit codes, farm commands, bad usage. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

TestSuite(cli, .timeout = 120);

Test(cli, help_and_version)
{
	char *out, *err;

	cr_assert_eq(tu_cli(NULL, &out, &err, "--help"), 0);
	cr_assert(strstr(out, "usage: windcast"));
	cr_assert(strstr(out, "farm"));
	cr_assert(strstr(out, "serve"));
	free(out);
	free(err);
	cr_assert_eq(tu_cli(NULL, &out, &err, "version"), 0);
	cr_assert(!strncmp(out, "windcast ", 9), "out: %s", out);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(NULL, &out, &err, "help farm"), 0);
	cr_assert(strstr(out, "farm add"));
	free(out);
	free(err);
	static const char *const cmds[] = { "farm", "serve", "version", "demo-data" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		cr_assert_eq(tu_cli("/nonexistent/never", &out, &err, "%s --help", cmds[i]), 0,
			     "%s --help: %s", cmds[i], err);
		cr_assert(strstr(out, "usage:"), "%s --help prints usage", cmds[i]);
		free(out);
		free(err);
	}
}

Test(cli, bad_usage_exits_2)
{
	static const char *const bad[] = {
		"", "nosuchcommand", "farm", "farm frobnicate", "farm add --id x",
		"farm add --id x --name y --lat abc --lon 1 --capacity-mw 1",
		"farm add --id x --name y --lat 95 --lon 1 --capacity-mw 1",
		"farm add --id x --name y --lat 1 --lon 1 --capacity-mw 1 --bogus",
		"farm list --format xml", "farm show", "farm show a b", "version extra",
		"serve --threads 0", "serve --threads many", "--data",
	};
	char *dir = tu_tmpdir();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = tu_cli(dir, &out, &err, "%s", bad[i]);

		cr_assert_eq(rc, 2, "'%s' exited %d, want 2; stderr: %s", bad[i], rc, err);
		cr_assert_gt(strlen(err), 0, "'%s' must say why on stderr", bad[i]);
		free(out);
		free(err);
	}
	tu_rmrf_free(dir);
}

Test(cli, farm_commands)
{
	char *dir = tu_tmpdir(), *out, *err;
	json_t *v;

	cr_assert_eq(tu_cli(dir, &out, &err,
			    "farm add --id north-1 --name 'North One' --lat 56.1 --lon 7.5 "
			    "--capacity-mw 210 --hub-height-m 95"),
		     0, "%s", err);
	cr_assert(strstr(out, "added farm 'north-1'"));
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err,
			    "farm add --id north-1 --name dup --lat 1 --lon 1 --capacity-mw 1"),
		     1, "duplicate is a failure of the job");
	cr_assert(strstr(err, "already exists"), "stderr: %s", err);
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, &err, "farm list --format json"), 0);
	v = json_loads(out, 0, NULL);
	cr_assert(json_is_array(v) && json_array_size(v) == 1, "out: %s", out);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(v, 0), "lat")),
			   56.1, 1e-9);
	json_decref(v);
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, &err, "farm list --format csv"), 0);
	cr_assert_str_eq(out, "id,name,lat,lon,capacity_mw,hub_height_m\n"
			      "north-1,North One,56.100000,7.500000,210.000,95.0\n");
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, &err, "farm list"), 0);
	cr_assert(strstr(out, "north-1") && strstr(out, "North One"));
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, &err, "farm show north-1"), 0);
	v = json_loads(out, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(v, "name")), "North One");
	json_decref(v);
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, &err, "farm show nope"), 1);
	cr_assert(strstr(err, "no farm 'nope'"), "stderr: %s", err);
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, &err, "farm rm north-1"), 0);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm rm north-1"), 1);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

Test(cli, farm_import)
{
	char *dir = tu_tmpdir(), path[4096], *out, *err;
	FILE *f;

	snprintf(path, sizeof(path), "%s/farms.json", dir);
	f = fopen(path, "w");
	fputs("[{\"id\":\"a\",\"name\":\"A\",\"lat\":1,\"lon\":2,\"capacity_mw\":3},"
	      " {\"id\":\"b\",\"name\":\"B\",\"lat\":1,\"lon\":2,\"capacity_mw\":3,"
	      "\"hub_height_m\":80}]",
	      f);
	fclose(f);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import '%s'", path), 0, "%s", err);
	cr_assert(strstr(out, "imported 2 farms"));
	free(out);
	free(err);
	/* importing again: duplicates, nothing added, exit 1 */
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import '%s'", path), 1);
	cr_assert(strstr(err, "nothing was imported"), "stderr: %s", err);
	free(out);
	free(err);

	f = fopen(path, "w");
	fputs("[{\"id\":\"c\",\"name\":\"C\",\"lat\":1,\"lon\":2,\"capacity_mw\":3},"
	      " {\"id\":\"d\",\"name\":\"D\",\"lat\":100,\"lon\":2,\"capacity_mw\":3}]",
	      f);
	fclose(f);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import '%s'", path), 1);
	cr_assert(strstr(err, "farm 2") && strstr(err, "lat 100"), "stderr: %s", err);
	free(out);
	free(err);
	f = fopen(path, "w");
	fputs("[{\"id\":\"c\",", f);
	fclose(f);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import '%s'", path), 1);
	cr_assert(strstr(err, "line 1"), "stderr: %s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import /nonexistent.json"), 1);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm list --format csv"), 0);
	cr_assert(!strstr(out, "c,C"), "a failed import stores nothing: %s", out);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

Test(cli, data_dir_from_environment)
{
	char *dir = tu_tmpdir(), *cmd, *out, *err;

	cr_assert(asprintf(&cmd, "WINDCAST_DATA='%s' '%s' farm add --id envfarm --name E "
				 "--lat 1 --lon 1 --capacity-mw 1",
			   dir, tu_bin()) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "%s", err);
	free(cmd);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm show envfarm"), 0);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}

Test(cli, serve_stops_cleanly_on_sigterm)
{
	char *dir = tu_tmpdir(), *cmd, *out, *err;

	/* start on port 0, wait for the "listening" line, curl health, then SIGTERM */
	cr_assert(asprintf(&cmd,
			   "'%s' --data '%s' serve --listen 127.0.0.1:0 --threads 2 > '%s/log' "
			   "2>&1 & pid=$!; "
			   "for i in $(seq 100); do grep -q 'listening on port' '%s/log' && break; "
			   "sleep 0.1; done; "
			   "port=$(sed -n 's/listening on port //p' '%s/log'); "
			   "curl -sf http://127.0.0.1:$port/healthz || echo CURL-FAILED; "
			   "kill -TERM $pid; wait $pid; echo exit=$?",
			   tu_bin(), dir, dir, dir, dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0);
	cr_assert(strstr(out, "\"status\":\"ok\""), "out: %s", out);
	cr_assert(strstr(out, "exit=0"), "serve must exit 0 on SIGTERM: %s", out);
	free(cmd);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}
