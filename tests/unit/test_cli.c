/*
 * test_cli.c - the built `windcast` binary: help, exit codes, farm commands (power curve
 * files included), bad usage.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

TestSuite(cli, .timeout = 120);

/* The kernels `windcast version` reports when run with OPENBLAS_CORETYPE as given. */
static char *version_core(const char *coretype)
{
	char *cmd, *out, *err, *core;

	if (coretype)
		cr_assert(asprintf(&cmd, "env OPENBLAS_CORETYPE=%s '%s' version", coretype,
				   tu_bin()) >= 0);
	else
		cr_assert(asprintf(&cmd, "env -u OPENBLAS_CORETYPE '%s' version", tu_bin()) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "%s: %s", cmd, err);
	core = strstr(out, "OpenBLAS ");
	cr_assert(core && strstr(core, " kernels)"), "%s", out);
	core = strndup(core + 9, (size_t)(strstr(core, " kernels)") - core - 9));
	free(cmd), free(out), free(err);
	return core;
}

/*
 * OpenBLAS 0.3.21 reads some CPUs that have AVX2 or AVX-512 as Prescott (SSE3 kernels).
 * windcast then runs itself again with the better kernels, unless the user chose some:
 * the user's choice always wins.
 */
static void version_names_the_blas_kernels(void)
{
	char *chosen = version_core(NULL), *forced = version_core("Prescott");

	printf("cli: OpenBLAS kernels %s when left to windcast, %s when forced\n", chosen, forced);
	cr_assert_str_eq(forced, "Prescott");
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		cr_assert(strcmp(chosen, "Prescott") && strcmp(chosen, "Unknown"),
			  "a CPU with AVX2 runs '%s' kernels", chosen);
#endif
	free(chosen), free(forced);
}

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
	version_names_the_blas_kernels();
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

	cr_assert_eq(tu_cli(dir, &out, &err, "farm show north-1 --format json"), 0);
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

/* Write `text` to DIR/name; returns the path (static buffer, one at a time). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
	static char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* `farm show ID`, which must succeed, as JSON (a new reference). */
static json_t *show_farm(const char *dir, const char *id)
{
	char *out, *err;
	json_t *v;

	cr_assert_eq(tu_cli(dir, &out, &err, "farm show %s --format json", id), 0, "%s", err);
	v = json_loads(out, 0, NULL);
	cr_assert_not_null(v, "out: %s", out);
	free(out);
	free(err);
	return v;
}

#define ADD_C "farm add --id c1 --name 'Curved' --lat 56 --lon 7 --capacity-mw 200 "

Test(cli, farm_add_power_curve)
{
	static const struct {
		const char *name, *text, *msg;
	} bad[] = {
		{ "h.csv", "speed,power\n3,0\n25,1\n", "line 1: expected the header 'ws,power', got 'speed,power'" },
		{ "n.csv", "ws,power\n3,0\n12,full\n", "line 3: expected two numbers 'ws,power', got '12,full'" },
		{ "c.csv", "ws,power\n3,0\n12\n", "line 3: expected two numbers 'ws,power', got '12'" },
		{ "d.csv", "ws,power\n3,0\n12,1\n11,1\n", "point 3: ws 11 must be above the previous point's 12" },
		{ "m.csv", "ws,power\n3,0\n12,200\n", "point 2: power 200 is outside 0 <= x <= 1 (a fraction of capacity, not MW)" },
		{ "g.csv", "ws,power\n-3,0\n12,1\n", "point 1: ws -3 is outside 0 <= x <= 100 (m/s at hub height)" },
		{ "o.csv", "ws,power\n3,0\n", "1 point: give 2 to 64" },
		{ "e.csv", "", "empty: expected the header 'ws,power'" },
		{ "u.json", "[{\"ws\":3,\"power\":0},{\"ws\":12,\"kw\":1}]", "point 2 has unknown field 'kw'" },
		{ "s.json", "[{\"ws\":3,\"power\":0},", "cannot parse" },
	};
	char *dir = tu_tmpdir(), *out, *err;
	const char *path;
	json_t *v, *c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		path = write_file(dir, bad[i].name, bad[i].text);
		rc = tu_cli(dir, &out, &err, ADD_C "--power-curve '%s'", path);
		cr_assert_eq(rc, 1, "%s: exit %d, want 1 (a bad file fails the job)", bad[i].name, rc);
		cr_assert(strstr(err, "cannot read power curve") && strstr(err, bad[i].name) &&
				  strstr(err, bad[i].msg) && strstr(err, "nothing was added"),
			  "%s: stderr '%s', want '%s'", bad[i].name, err, bad[i].msg);
		free(out);
		free(err);
		cr_assert_eq(tu_cli(dir, &out, &err, "farm show c1"), 1, "%s stored a farm",
			     bad[i].name);
		free(out);
		free(err);
	}
	/* 65 points: one too many */
	{
		char text[4096];
		size_t l = (size_t)snprintf(text, sizeof(text), "ws,power\n");

		for (int i = 0; i <= 64; i++)
			l += (size_t)snprintf(text + l, sizeof(text) - l, "%d,0\n", i);
		path = write_file(dir, "many.csv", text);
		cr_assert_eq(tu_cli(dir, &out, &err, ADD_C "--power-curve '%s'", path), 1);
		cr_assert(strstr(err, "more than 64 points (line 66)"), "%s", err);
		free(out);
		free(err);
	}
	cr_assert_eq(tu_cli(dir, &out, &err, ADD_C "--power-curve '%s/missing.csv'", dir), 1);
	cr_assert(strstr(err, "missing.csv"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, ADD_C "--power-curve"), 2, "no FILE is bad usage");
	free(out);
	free(err);

	/* CSV, with CRLF line ends and a blank line at the end */
	path = write_file(dir, "curve.csv", "ws,power\r\n3,0\r\n7.5,0.4\r\n13,1\r\n25,1\r\n25.5,0\r\n\r\n");
	cr_assert_eq(tu_cli(dir, &out, &err, ADD_C "--power-curve '%s'", path), 0, "%s", err);
	free(out);
	free(err);
	v = show_farm(dir, "c1");
	c = json_object_get(v, "power_curve");
	cr_assert_eq(json_array_size(c), 5);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(c, 1), "ws")), 7.5, 1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(c, 1), "power")), 0.4,
			   1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(c, 4), "power")), 0,
			   1e-12);
	json_decref(v);

	/* JSON, the API's form */
	path = write_file(dir, "curve.json", " [{\"ws\": 4, \"power\": 0}, {\"ws\": 14, \"power\": 1}]\n");
	cr_assert_eq(tu_cli(dir, &out, &err,
			    "farm add --id c2 --name C2 --lat 1 --lon 2 --capacity-mw 3 "
			    "--power-curve '%s'",
			    path),
		     0, "%s", err);
	free(out);
	free(err);
	v = show_farm(dir, "c2");
	c = json_object_get(v, "power_curve");
	cr_assert_eq(json_array_size(c), 2);
	cr_assert_float_eq(json_number_value(json_object_get(json_array_get(c, 1), "ws")), 14, 1e-12);
	json_decref(v);

	/* without the option: null */
	cr_assert_eq(tu_cli(dir, &out, &err,
			    "farm add --id c3 --name C3 --lat 1 --lon 2 --capacity-mw 3"), 0);
	free(out);
	free(err);
	v = show_farm(dir, "c3");
	cr_assert(json_is_null(json_object_get(v, "power_curve")));
	json_decref(v);
	tu_rmrf_free(dir);
}

Test(cli, farm_import_power_curve)
{
	char *dir = tu_tmpdir(), *out, *err;
	const char *path;
	json_t *v;

	path = write_file(dir, "farms.json",
			  "[{\"id\":\"a\",\"name\":\"A\",\"lat\":1,\"lon\":2,\"capacity_mw\":3,"
			  "\"power_curve\":[{\"ws\":3,\"power\":0},{\"ws\":12,\"power\":1}]},"
			  " {\"id\":\"b\",\"name\":\"B\",\"lat\":1,\"lon\":2,\"capacity_mw\":3,"
			  "\"power_curve\":[{\"ws\":3,\"power\":0},{\"ws\":2,\"power\":1}]}]");
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import '%s'", path), 1);
	cr_assert(strstr(err, "farm 2: field 'power_curve': point 2: ws 2 must be above"),
		  "stderr: %s", err);
	free(out);
	free(err);
	cr_assert_eq(tu_cli(dir, &out, &err, "farm show a"), 1, "nothing imported");
	free(out);
	free(err);
	path = write_file(dir, "farms.json",
			  "[{\"id\":\"a\",\"name\":\"A\",\"lat\":1,\"lon\":2,\"capacity_mw\":3,"
			  "\"power_curve\":[{\"ws\":3,\"power\":0},{\"ws\":12,\"power\":1}]}]");
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import '%s'", path), 0, "%s", err);
	free(out);
	free(err);
	v = show_farm(dir, "a");
	cr_assert_eq(json_array_size(json_object_get(v, "power_curve")), 2);
	json_decref(v);
	/* --replace without the field removes the curve */
	path = write_file(dir, "farms.json",
			  "[{\"id\":\"a\",\"name\":\"A\",\"lat\":1,\"lon\":2,\"capacity_mw\":3}]");
	cr_assert_eq(tu_cli(dir, &out, &err, "farm import --replace '%s'", path), 0, "%s", err);
	free(out);
	free(err);
	v = show_farm(dir, "a");
	cr_assert(json_is_null(json_object_get(v, "power_curve")));
	json_decref(v);
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

	/* serve refuses a store that does not exist: create it first */
	cr_assert_eq(tu_cli(dir, NULL, NULL, "init"), 0);
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
