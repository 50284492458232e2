/*
 * test_serve.c - `windcast token` and `windcast serve` as a user runs them: the token
 * printed alone on stdout, bad usage, list formats; auth off refused off loopback;
 * SIGTERM finishing an upload in flight; SIGHUP reopening the access log after a
 * rotation and re-reading tokens changed behind windcast's back. The job side of the
 * grace period runs in-process (a job that blocks until told).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/store.h"
#include "server/jobs.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"

Test(serve_cli, token_commands)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL;
	json_t *v;

	cr_assert_eq(tu_cli(dir, &out, &err, "token create --scope write --name 'ci runner'"), 0,
		     "%s", err);
	cr_assert_eq(strlen(out), 48, "only the token and a newline: '%s'", out);
	cr_assert_eq(strncmp(out, "wct_", 4), 0);
	cr_assert(strstr(err, "token 1 'ci runner', scope write"), "%s", err);
	cr_assert(strstr(err, "shown only this once"), "%s", err);
	free(out);
	free(err);

	cr_assert_eq(tu_cli(dir, NULL, &err, "token create --scope root"), 2);
	cr_assert(strstr(err, "invalid --scope 'root': use read, write or admin"), "%s", err);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "token create"), 2);
	cr_assert(strstr(err, "'--scope' is required"), "%s", err);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "token create --scope read --name \"$(printf 'a\\tb')\""),
		     2);
	cr_assert(strstr(err, "invalid --name"), "%s", err);
	free(err);

	cr_assert_eq(tu_cli(dir, &out, NULL, "token list --format csv"), 0);
	cr_assert_eq(strncmp(out, "id,name,scope,hint,created_at,revoked_at\n1,ci runner,write,", 59),
		     0, "%s", out);
	free(out);
	cr_assert_eq(tu_cli(dir, &out, NULL, "token list --format json"), 0);
	cr_assert_not_null(v = json_loads(out, 0, NULL), "%s", out);
	cr_assert_eq(json_array_size(v), 1);
	cr_assert_null(strstr(out, "wct_"), "never the token: %s", out);
	json_decref(v);
	free(out);
	cr_assert_eq(tu_cli(dir, NULL, &err, "token revoke 7"), 1);
	cr_assert(strstr(err, "no token 7"), "%s", err);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "token revoke x"), 2);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "token"), 2);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "token list --format xml"), 2);
	free(err);
	/* a missing store: list refuses it, create makes it */
	cr_assert_eq(tu_cli("/nonexistent/x", NULL, &err, "token list"), 2);
	free(err);
	tu_rmrf_free(dir);
}

Test(serve_cli, auth_off_refused_off_loopback_and_logged_on_it)
{
	char *dir = tu_tmpdir(), *out = NULL, *err = NULL, *cmd;

	cr_assert_eq(tu_cli(dir, NULL, NULL, "init"), 0);
	cr_assert_eq(tu_cli(dir, NULL, &err, "serve --auth off --listen 0.0.0.0:0"), 2);
	cr_assert(strstr(err, "auth off is refused on '0.0.0.0:0'"), "%s", err);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "serve --auth maybe"), 2);
	cr_assert(strstr(err, "invalid --auth 'maybe': use on or off"), "%s", err);
	free(err);
	cr_assert_eq(tu_cli(dir, NULL, &err, "serve --tls-cert x.pem"), 2);
	cr_assert(strstr(err, "both --tls-cert and --tls-key"), "%s", err);
	free(err);
	cr_assert(asprintf(&cmd,
			   "'%s' --data '%s' serve --auth off --listen 127.0.0.1:0 > '%s/log' 2>&1 & "
			   "pid=$!; for i in $(seq 100); do grep -q 'listening on port' '%s/log' && "
			   "break; sleep 0.1; done; port=$(sed -n 's/listening on port //p' '%s/log'); "
			   "curl -s http://127.0.0.1:$port/v1/farms; echo; kill -TERM $pid; "
			   "wait $pid; echo exit=$?; cat '%s/log'",
			   tu_bin(), dir, dir, dir, dir, dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, NULL), 0);
	cr_assert(strstr(out, "{\"farms\":[]}"), "%s", out);
	cr_assert(strstr(out, "auth is off"), "logged at start: %s", out);
	cr_assert(strstr(out, "exit=0"), "%s", out);
	free(cmd);
	free(out);
	tu_rmrf_free(dir);
}

/* Start `serve` in the background of a shell script: defines $pid, $port, $tok. */
#define SERVE_PRELUDE \
	"'%s' --data '%s' farm add --id f --name F --lat 55 --lon 8 --capacity-mw 100 " \
	">/dev/null 2>&1; tok=$('%s' --data '%s' token create --scope write 2>/dev/null); " \
	"'%s' --data '%s' serve --listen 127.0.0.1:0 --threads 2 %s > '%s/log' 2>&1 & " \
	"pid=$!; for i in $(seq 100); do grep -q 'listening on port' '%s/log' && break; " \
	"sleep 0.1; done; port=$(sed -n 's/listening on port //p' '%s/log'); "

Test(serve_cli, sigterm_lets_an_upload_in_flight_finish, .timeout = 120)
{
	char *dir = tu_tmpdir(), *out = NULL, *cmd;
	FILE *f;
	char path[4200];

	/* 3000 hours of observations, about 90 KB, sent at 30 KB/s: 3 s in flight */
	snprintf(path, sizeof(path), "%s/obs.csv", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f, "time,power_mw\n");
	for (int h = 1; h <= 3000; h++)
		fprintf(f, "%04d-%02d-%02dT%02d:00:00Z,%d.5\n", 2025, 1 + h / 24 / 28, 1 + h / 24 % 28,
			h % 24, h % 90);
	fclose(f);
	cr_assert_eq(tu_cli(dir, NULL, NULL, "init"), 0);
	cr_assert(asprintf(&cmd,
			   SERVE_PRELUDE
			   "curl -s -o '%s/reply' -w '%%{http_code}' --limit-rate 30k "
			   "-H \"Authorization: Bearer $tok\" -H 'Content-Type: text/csv' "
			   "--data-binary @'%s' http://127.0.0.1:$port/v1/farms/f/observations > "
			   "'%s/code' & cpid=$!; sleep 1; kill -TERM $pid; wait $cpid; "
			   "echo code=$(cat '%s/code'); wait $pid; echo exit=$?; cat '%s/log'",
			   tu_bin(), dir, tu_bin(), dir, tu_bin(), dir, "--grace 20", dir, dir, dir,
			   dir, path, dir, dir, dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, NULL), 0);
	cr_assert(strstr(out, "code=200") || strstr(out, "code=201"), "the upload finished: %s",
		  out);
	cr_assert(strstr(out, "exit=0"), "%s", out);
	cr_assert(strstr(out, "finishing in-flight requests"), "%s", out);
	free(cmd);
	free(out);
	cr_assert(asprintf(&cmd, "'%s' --data '%s' obs list --farm f --format csv | wc -l",
			   tu_bin(), dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, NULL), 0);
	cr_assert_eq(atoi(out), 3001, "every row of the upload stored: %s", out);
	free(cmd);
	free(out);
	tu_rmrf_free(dir);
}

Test(serve_cli, sighup_reopens_the_log_and_rereads_tokens, .timeout = 120)
{
	char *dir = tu_tmpdir(), *out = NULL, *cmd, *old = NULL, *now = NULL, path[4300];

	cr_assert_eq(tu_cli(dir, NULL, NULL, "init"), 0);
	cr_assert(asprintf(&cmd,
			   SERVE_PRELUDE
			   "a() { curl -s -o /dev/null -w '%%{http_code} ' "
			   "-H \"Authorization: Bearer $tok\" http://127.0.0.1:$port$1; }; "
			   "a /v1/farms; mv '%s/access.log' '%s/access.log.1'; kill -HUP $pid; "
			   "sleep 0.5; a /v1/grids; "
			   /* revoke behind windcast's back: no counter moves, the cache still holds */
			   "'%s' -c \"import sqlite3; c = sqlite3.connect('%s/windcast.db'); "
			   "c.execute('UPDATE tokens SET revoked_at = 1'); c.commit()\"; "
			   "a /v1/farms/f; kill -HUP $pid; sleep 0.5; a /v1/farms; echo; kill -TERM $pid; "
			   "wait $pid; echo exit=$?",
			   tu_bin(), dir, tu_bin(), dir, tu_bin(), dir,
			   "--access-log ACCESSLOG", dir, dir, dir, dir, dir, tu_python(), dir) >= 0);
	/* the access log path is dir/access.log */
	snprintf(path, sizeof(path), "%s/access.log", dir);
	{
		char *p = strstr(cmd, "ACCESSLOG"), *c2;

		cr_assert(asprintf(&c2, "%.*s'%s'%s", (int)(p - cmd), cmd, path, p + 9) >= 0);
		free(cmd);
		cmd = c2;
	}
	cr_assert_eq(tu_run(cmd, &out, NULL), 0);
	cr_assert(strstr(out, "200 200 200 401"), "tokens re-read on SIGHUP only: %s", out);
	cr_assert(strstr(out, "exit=0"), "%s", out);
	snprintf(path, sizeof(path), "%s/access.log.1", dir);
	old = tu_read_file(path, NULL);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	now = tu_read_file(path, NULL);
	cr_assert(old && strstr(old, "\"path\":\"/v1/farms\""), "%s", old);
	cr_assert_null(strstr(old, "/v1/grids"), "%s", old);
	cr_assert(now && strstr(now, "\"path\":\"/v1/grids\"") &&
			  strstr(now, "\"event\":\"reload\""),
		  "%s", now);
	free(old);
	free(now);
	free(cmd);
	free(out);
	tu_rmrf_free(dir);
}

/* ---- the grace period and jobs, in-process ---- */

static int gate_ms;	/* how long a job runs */

static char *timed_job(const struct job_run *jr, int *failed)
{
	usleep((useconds_t)gate_ms * 1000);
	*failed = 0;
	return strdup("{\"ok\":true}");
}

static void run_shutdown(int job_ms, unsigned grace_s, unsigned *left, int *state)
{
	char *dir = tu_tmpdir();
	struct server_config cfg;
	struct server *srv;
	struct store *st;
	struct wc_error err = { 0 };
	struct job job;
	int64_t id;
	static const struct job_kind timed = { "timed", timed_job };

	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	tu_auth(st);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.shutdown_grace_s = grace_s;
	cfg.job_kinds = &timed;
	cfg.njob_kinds = 1;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	gate_ms = job_ms;
	cr_assert_eq(store_job_create(st, "timed", "{}", &id, &err), WC_OK);
	cr_assert_eq(job_pool_submit(server_jobs(srv), id, &err), WC_OK);
	usleep(100000);
	*left = server_shutdown(srv);
	if (*left) {
		/* what serve does next is _exit; here, wait the job out to clean up */
		usleep((useconds_t)job_ms * 1000);
		server_stop(srv);
	}
	cr_assert_eq(store_job_get(st, id, &job, &err), WC_OK);
	*state = job.state;
	job_release(&job);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(serve_grace, a_job_within_the_grace_period_finishes)
{
	unsigned left;
	int state;

	run_shutdown(1500, 10, &left, &state);
	cr_assert_eq(left, 0);
	cr_assert_eq(state, JOB_DONE, "the job ran to its end before the stop");
}

Test(serve_grace, a_job_past_the_grace_period_is_reported)
{
	unsigned left;
	int state;

	run_shutdown(3000, 1, &left, &state);
	cr_assert_eq(left, 1, "the caller is told one job still runs");
}
