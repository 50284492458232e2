/*
 * cmd_batch.c - `windcast batch`: the nightly run, a thin adapter over backtest/batch.h.
 * It parses the options (the forecast's fields through forecast_request_set, the
 * training options through the train option table), stops cleanly on SIGINT/SIGTERM,
 * runs the night and maps its outcome to the exit status.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/batch.h"
#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"

#ifndef WINDCAST_VERSION
#define WINDCAST_VERSION "0.1.0"
#endif

static const char batch_usage[] =
	"usage: windcast batch --out DIR [--issued ISO] [--inbox DIR] [--shard K/N]\n"
	"                      [--retrain-after AGE] [--train-args 'OPTIONS']\n"
	"                      [--horizon H] [--quantiles LIST]\n"
	"                      [--model auto|nn|persistence|climatology|powercurve]\n"
	"\n"
	"The nightly run: take the new files of the inbox, retrain the farms whose model is\n"
	"due, forecast every farm at the issue time, and write per farm a NetCDF (CF-1.8),\n"
	"a CSV and a JSON forecast under DIR/farms/, then DIR/manifest.json listing every\n"
	"farm with its files, their sha256 and any failure. Files appear atomically; the\n"
	"same night on the same store writes the same bytes. One batch per store at a time.\n"
	"\n"
	"  --out DIR           where to write; '{issued}' in it becomes the issue time,\n"
	"                      e.g. --out /srv/forecasts/{issued} -> .../20260301T0600Z\n"
	"  --issued ISO        the night's issue time (default: now), floored to the hour\n"
	"  --inbox DIR         ingest its NetCDF grids and observation files (<farm id>.csv\n"
	"                      or .json) first, moving each to DIR/processed/, or to\n"
	"                      DIR/rejected/ with a .reason file; names starting with '.' or\n"
	"                      ending in .tmp or .part are left for later\n"
	"  --shard K/N         only the farms of shard K of N (1 + FNV-1a-64(id) mod N): N\n"
	"                      batches 1/N..N/N cover every farm once; the manifest is then\n"
	"                      DIR/manifest-K-of-N.json\n"
	"  --retrain-after AGE retrain a farm whose model's rows end more than AGE before\n"
	"                      the issue time and that has observations a day or more after\n"
	"                      them: 30d (default), 36h, ... (1h..3650d), or never; a farm\n"
	"                      without a model trains\n"
	"  --train-args 'OPTS' training options as 'windcast train' takes them, e.g.\n"
	"                      '--epochs 30 --regional all' (--to is capped at the issue time)\n"
	"  --horizon H         leads 1..H hours (default 36)\n"
	"  --quantiles LIST    quantile levels of the files (default 0.1,0.5,0.9)\n"
	"  --model M           auto (default) or a model, as 'windcast forecast --model'\n"
	"\n"
	"Exit status: 0 every farm succeeded; 1 a farm failed (the others are written; the\n"
	"manifest and stderr say which and why), another batch holds the store, or the run\n"
	"was interrupted; 2 bad usage. A rejected inbox file is reported (stderr, manifest)\n"
	"without failing the night.\n";

/* The forecast options, by getopt code, and their request keys. */
static const struct {
	int code;
	const char *opt, *key;
} request_opts[] = {
	{ 'i', "--issued", "issued" },
	{ 'H', "--horizon", "horizon" },
	{ 'q', "--quantiles", "quantiles" },
	{ 'm', "--model", "model" },
};

static int parse_args(int argc, char **argv, struct batch_options *o)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "issued", required_argument, NULL, 'i' },
		{ "inbox", required_argument, NULL, 'I' },
		{ "shard", required_argument, NULL, 's' },
		{ "retrain-after", required_argument, NULL, 'r' },
		{ "train-args", required_argument, NULL, 't' },
		{ "horizon", required_argument, NULL, 'H' },
		{ "quantiles", required_argument, NULL, 'q' },
		{ "model", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct wc_error err = { 0 };
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		size_t k = 0;

		while (k < sizeof(request_opts) / sizeof(request_opts[0]) && request_opts[k].code != c)
			k++;
		if (k < sizeof(request_opts) / sizeof(request_opts[0])) {
			if (forecast_request_set(&o->forecast, request_opts[k].key, optarg, &err))
				return cli_bad_option("batch", request_opts[k].opt, optarg, err.msg);
			if (c == 'i')
				o->issued = o->forecast.issued;
			continue;
		}
		switch (c) {
		case 'o':
			if (!*optarg)
				return cli_bad_option("batch", "--out", optarg, "give a directory");
			o->out = optarg;
			break;
		case 'I':
			if (!*optarg)
				return cli_bad_option("batch", "--inbox", optarg, "give a directory");
			o->inbox = optarg;
			break;
		case 's':
			if (batch_parse_shard(optarg, &o->shard_k, &o->shard_n, &err))
				return cli_bad_option("batch", "--shard", optarg, err.msg);
			break;
		case 'r':
			if (batch_parse_age(optarg, &o->retrain_after, &err))
				return cli_bad_option("batch", "--retrain-after", optarg, err.msg);
			snprintf(o->retrain_text, sizeof(o->retrain_text), "%s", optarg);
			break;
		case 't':
			if (batch_train_args(&o->train, optarg, &err)) {
				cmd_error("batch", "invalid --train-args: %s", err.msg);
				return CMD_USAGE;
			}
			snprintf(o->train_args, sizeof(o->train_args), "%s", optarg);
			break;
		case 'h':
			fputs(batch_usage, stdout);
			return -1;
		default:
			return cli_bad_getopt("batch", c, argv);
		}
	}
	if (optind < argc) {
		cmd_error("batch", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!o->out) {
		cmd_error("batch", "--out DIR is required; see 'windcast batch --help'");
		return CMD_USAGE;
	}
	return CMD_OK;
}

int cmd_batch(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct batch_options *o = malloc(sizeof(*o));
	struct batch_result res = { 0 };
	struct wc_error err = { 0 };
	char t[UTC_ISO_LEN];
	json_t *args = NULL;
	int ret;

	if (!o) {
		cmd_error("batch", "out of memory");
		return CMD_FAIL;
	}
	batch_options_init(o);
	o->version = WINDCAST_VERSION;
	ret = parse_args(argc, argv, o);
	if (ret) {
		ret = ret < 0 ? CMD_OK : ret;
		goto cleanup;
	}
	o->argv = args = cli_argv_json(argc, argv);
	/* SIGINT/SIGTERM finish the current farm and stop; a second one kills as usual */
	o->stop = cli_stop_on_signals();
	if (batch_run(ctx->store, o, &res, &err)) {
		cmd_error("batch", "%s", wc_error_msg(&err));
		ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		goto cleanup;
	}
	for (size_t i = 0; i < res.nfailures; i++)
		cmd_error("batch", "%s: %s", res.failures[i].subject, res.failures[i].msg);
	printf("batch issued %s: %zu farm%s, %zu failed; inbox %zu processed, %zu rejected%s; "
	       "manifest '%s'\n",
	       utc_format(res.issued, t), res.farms, res.farms == 1 ? "" : "s", res.farms_failed,
	       res.inbox_processed, res.inbox_rejected, res.interrupted ? "; interrupted" : "",
	       res.manifest);
	ret = res.farms_failed || res.interrupted ? CMD_FAIL : CMD_OK;
cleanup:
	batch_result_release(&res);
	json_decref(args);
	free(o);
	return ret;
}
