/*
 * test_demo.c - `make demo`'s script end to end on a small data set: generate, register,
 * ingest (and whatever later steps the script runs), then serve on a free port and
 * answer the example queries it prints, with the admin token it made (and 401 without).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

Test(demo, script_prepares_and_serves, .timeout = 600)
{
	char *dir = tu_tmpdir(), *cmd, *out = NULL, *err = NULL;

	/* port: let the kernel pick one by binding 0 first would race; use a high random one */
	unsigned port = 20000 + (unsigned)(getpid() % 20000);

	cr_assert(asprintf(&cmd,
			   "cd '%s' && WINDCAST='%s' WINDCAST_DATA='%s/data' DEMO_DAYS=6 "
			   "DEMO_LISTEN=127.0.0.1:%u scripts/demo > '%s/log' 2>&1 & pid=$!; "
			   "for i in $(seq 1200); do curl -sf http://127.0.0.1:%u/healthz >/dev/null "
			   "&& break; kill -0 $pid 2>/dev/null || break; sleep 0.25; done; "
			   "tok=$(cat '%s/data/demo-token'); "
			   "curl -s -o /dev/null -w 'noauth=%%{http_code}\\n' http://127.0.0.1:%u/v1/farms; "
			   "curl -sf -H \"Authorization: Bearer $tok\" http://127.0.0.1:%u/v1/farms; echo; "
			   "curl -sf -H \"Authorization: Bearer $tok\" http://127.0.0.1:%u/v1/grids | "
			   "head -c 200; echo; "
			   "kill -TERM $pid; wait $pid; echo exit=$?; cat '%s/log'",
			   tu_src(), tu_bin(), dir, port, dir, port, dir, port, port, port, dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0);
	cr_assert(strstr(out, "\"id\":\"horns-reef\""), "demo farms served: %s", out);
	cr_assert(strstr(out, "\"runs\":[{"), "demo runs ingested: %.2000s", out);
	cr_assert(strstr(out, "12 ingested, 0 already known, 0 rejected"), "%.4000s", out);
	cr_assert(strstr(out, "curl -s http://127.0.0.1:"), "prints example queries");
	cr_assert(strstr(out, "noauth=401"), "the API needs the token: %.2000s", out);
	cr_assert(strstr(out, "export TOKEN=wct_"), "the examples carry the token: %.4000s", out);
	cr_assert(strstr(out, "-H \"$auth\""), "%.4000s", out);
	cr_assert(strstr(out, "exit=0"), "stops cleanly: %.4000s", out);
	free(cmd);
	free(out);
	free(err);
	tu_rmrf_free(dir);
}
