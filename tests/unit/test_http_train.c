/*
 * test_http_train.c - POST /v1/farms/{id}/train with the option table's JSON fields, on a
 * small demo store served in-process: the options reach the saved model (its network's
 * shape, quantile levels, smoothing and point rule), the model is bit for bit the one the
 * CLI trains from the same options, and a bad value is refused with the CLI's words
 * before any job is made.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/store.h"
#include "forecast/model.h"
#include "forecast/nn.h"
#include "server/server.h"
#include "testutil.h"

static char *dir, *input;
static struct store *st;
static struct server *srv;

/* Two demo farms over 8 days, north-sea-1 with its observations; served on a free port. */
static void setup(void)
{
	static const char *const steps[][2] = {
		/* command, then its file under the demo input */
		{ "farm import", "farms.json" },
		{ "--quiet ingest", "nwp/*.nc" },
		{ "obs import --farm north-sea-1", "obs/north-sea-1.csv" },
	};
	char *errs = NULL;

	dir = tu_tmpdir();
	input = tu_tmpdir();
	cr_assert_eq(tu_cli(NULL, NULL, &errs, "demo-data --out '%s' --farms 2 --days 8", input),
		     0, "%s", errs);
	free(errs);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		/* the glob stays outside the quotes */
		cr_assert_eq(tu_cli(dir, NULL, &errs, "%s '%s'/%s", steps[i][0], input, steps[i][1]),
			     0, "%s: %s", steps[i][0], errs);
		free(errs);
	}
	tu_serve(dir, &st, &srv);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
	tu_rmrf_free(input);
}

TestSuite(train_http, .init = setup, .fini = teardown, .timeout = 180);

/* Send a request and parse the JSON reply, which must have status `want`. */
static json_t *call(const char *method, const char *path, const char *body, long want)
{
	struct tu_http r;
	json_t *v;

	cr_assert(tu_http_request(server_port(srv), method, path, body, (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, want, "%s %s -> %ld: %s", method, path, r.status, r.body);
	v = json_loads(r.body, 0, NULL);
	tu_http_release(&r);
	cr_assert_not_null(v);
	return v;
}

/* The job of a 202 reply once it has ended (done or failed); consumes accepted. */
static json_t *job_outcome(json_t *accepted)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	char url[128];
	json_t *job = NULL;

	snprintf(url, sizeof(url), "%s",
		 json_string_value(json_object_get(json_object_get(accepted, "job"), "url")));
	json_decref(accepted);
	for (int tries = 0; tries < 1200; tries++) {
		const char *state;

		job = call("GET", url, NULL, 200);
		state = json_string_value(json_object_get(job, "state"));
		if (!strcmp(state, "done") || !strcmp(state, "failed"))
			return job;
		json_decref(job);
		nanosleep(&tick, NULL);
	}
	cr_assert_fail("job %s did not end", url);
	return NULL;
}

/* The same options by both front ends. */
#define CLI_OPTS                                                                            \
	"--ensemble 1 --hidden 12,7 --epochs 3 --leads 12 --smooth 2 --quantiles 0.1,0.5,0.9 " \
	"--activation silu --point mean --seed 5 --lags 0,1 --dropout 0 --batch 64 "          \
	"--val-frac 0.2 --workers 1"
static const char json_opts[] =
	"{\"ensemble\":1,\"hidden\":[12,7],\"epochs\":3,\"leads\":12,\"smooth\":2,"
	"\"quantiles\":[0.1,0.5,0.9],\"activation\":\"silu\",\"point\":\"mean\",\"seed\":5,"
	"\"lags\":[0,1],\"dropout\":0,\"batch\":64,\"val_frac\":0.2,\"workers\":1}";

Test(train_http, json_options_reach_the_model)
{
	struct farm_model *cli = NULL, *api = NULL;
	struct wc_error err = { 0 };
	const char *coretype = getenv("OPENBLAS_CORETYPE");
	char *errs = NULL, fa[1024], fb[1024];
	json_t *job, *in;

	/* the CLI on this process's OpenBLAS kernels, so that their bits can agree */
	if (!coretype)
		setenv("OPENBLAS_CORETYPE", nn_blas_corename(), 1);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "--quiet train --farm north-sea-1 " CLI_OPTS), 0,
		     "%s", errs);
	free(errs);
	if (!coretype)
		unsetenv("OPENBLAS_CORETYPE");

	job = job_outcome(call("POST", "/v1/farms/north-sea-1/train", json_opts, 202));
	cr_assert_str_eq(json_string_value(json_object_get(job, "state")), "done", "%s",
			 json_string_value(json_object_get(json_object_get(job, "result"), "error")));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(job, "result"), "version")),
		     2);
	/* the job records the options it ran with */
	in = json_object_get(job, "input");
	cr_assert_str_eq(json_string_value(json_object_get(in, "farm")), "north-sea-1");
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(in, "hidden"), 1)), 7);
	cr_assert_eq(json_integer_value(json_object_get(in, "smooth")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(in, "activation")), "silu");
	json_decref(job);

	cr_assert_eq(farm_model_load(st, "north-sea-1", 1, &cli, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(farm_model_load(st, "north-sea-1", 2, &api, &err), WC_OK, "%s", err.msg);
	/* what the options asked for, in the saved model */
	cr_assert_eq(api->nn->n_members, 1);
	cr_assert_eq(api->nn->member[0].n_layers, 3);
	cr_assert_eq(api->nn->member[0].sizes[1], 12);
	cr_assert_eq(api->nn->member[0].sizes[2], 7);
	cr_assert_eq(api->nn->member[0].act, NN_ACT_SILU);
	cr_assert_eq(api->nn->n_quantiles, 3);
	cr_assert_eq(api->nn->quantiles[0], 0.1f);
	cr_assert_eq(api->nn->quantiles[2], 0.9f);
	cr_assert_eq(api->smooth, 2);
	cr_assert(api->point_mean);
	cr_assert_eq(api->features.max_lead, 12);
	cr_assert_eq(api->features.n_lags, 2);
	cr_assert_eq(api->features.lags[1], 1);
	/* and the very network the CLI trained */
	feature_config_format(&cli->features, fa, sizeof(fa));
	feature_config_format(&api->features, fb, sizeof(fb));
	cr_assert_str_eq(fa, fb);
	cr_assert_eq(cli->nn->member[0].n_params, api->nn->member[0].n_params);
	cr_assert_eq(memcmp(cli->nn->member[0].params, api->nn->member[0].params,
			    cli->nn->member[0].n_params * sizeof(float)),
		     0, "the API's network differs from the CLI's");
	cr_assert_str_eq(cli->scores, api->scores);
	farm_model_free(cli);
	farm_model_free(api);
}

/* A bad value: 400 with the words the CLI prints, and no job. */
Test(train_http, bad_value_refused_like_the_cli)
{
	static const char *const cases[][2] = {
		{ "{\"dropout\":2}", "invalid 'dropout' 2: use 0..0.9" },
		{ "{\"hidden\":[64,5000]}", "invalid 'hidden' [64,5000]: use 1..8 values 1..4096, e.g. 128,64" },
		{ "{\"ensemble\":\"3\"}", "invalid 'ensemble' \"3\": use an integer 1..32" },
		{ "{\"epochs\":3,\"nwp_onyl\":true}", "unknown field 'nwp_onyl': use 'pool', " },
	};
	char *errs = NULL;
	json_t *v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *msg;

		v = call("POST", "/v1/farms/north-sea-1/train", cases[i][0], 400);
		msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
		cr_assert(msg && !strncmp(msg, cases[i][1], strlen(cases[i][1])), "%s: %s",
			  cases[i][0], msg);
		json_decref(v);
	}
	json_decref(call("GET", "/v1/jobs/1", NULL, 404));
	cr_assert_eq(tu_cli(dir, NULL, &errs, "train --farm north-sea-1 --dropout 2"), 2);
	cr_assert(strstr(errs, "invalid --dropout '2': use 0..0.9"), "%s", errs);
	free(errs);
}
