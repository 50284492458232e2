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
#include "cli/market_opts.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/farm.h"

#ifndef WINDCAST_VERSION
#define WINDCAST_VERSION "0.1.0"
#endif

/* The market settings the batch takes as its default price model (no limits: those
 * are per farm). */
#define BATCH_MARKET_FIELDS (MARKET_TIME_ZONE + 1)

static const char batch_usage[] =
	"usage: windcast batch --out DIR [--issued ISO] [--inbox DIR] [--shard K/N]\n"
	"                      [--farm ID]... [--portfolio P]...\n"
	"                      [--retrain-after AGE] [--train-args 'OPTIONS']\n"
	"                      [--horizon H] [--quantiles LIST]\n"
	"                      [--model auto|nn|persistence|climatology|powercurve]\n"
	"                      [--price P --psi-plus X --psi-minus Y]\n"
	"                      [--gate-closure HH:MM] [--time-zone ZONE]\n"
	"\n"
	"The nightly run: take the new files of the inbox, retrain the farms whose model is\n"
	"due, forecast every farm and every portfolio at the issue time, and compute their\n"
	"commitments for tomorrow. Writes per farm a NetCDF (CF-1.8), a CSV and a JSON\n"
	"forecast under DIR/farms/ (portfolios: DIR/portfolios/), and <id>.commitments.json\n"
	"and .csv beside them, then DIR/manifest.json listing every farm and portfolio with\n"
	"its files, their sha256 and any failure. Files appear atomically; the same night on\n"
	"the same store writes the same bytes. One batch per store at a time.\n"
	"\n"
	"Commitments are for the trading day after the issue time in the market's time zone,\n"
	"from the forecast available at its gate closure, as 'windcast commit --day D'. A\n"
	"farm's or portfolio's stored market settings win; the market options below fill\n"
	"what they leave unset. Without a price model from either, its commitments are\n"
	"skipped (the manifest says why) and it does not fail.\n"
	"\n"
	"  --out DIR           where to write; '{issued}' in it becomes the issue time,\n"
	"                      e.g. --out /srv/forecasts/{issued} -> .../20260301T0600Z\n"
	"  --issued ISO        the night's issue time (default: now), floored to the hour\n"
	"  --inbox DIR         ingest its NetCDF grids and observation files (<farm id>.csv\n"
	"                      or .json) first, moving each to DIR/processed/, or to\n"
	"                      DIR/rejected/ with a .reason file; names starting with '.' or\n"
	"                      ending in .tmp or .part are left for later\n"
	"  --shard K/N         only the farms and portfolios of shard K of N (1 +\n"
	"                      FNV-1a-64(id) mod N): N batches 1/N..N/N cover each once; the\n"
	"                      manifest is then DIR/manifest-K-of-N.json\n"
	"  --farm ID, --portfolio P  only these farms and portfolios (repeat, or a comma\n"
	"                      list; --portfolio alone runs no farm)\n"
	"  --retrain-after AGE retrain a farm whose model's rows end more than AGE before\n"
	"                      the issue time and that has observations a day or more after\n"
	"                      them: 30d (default), 36h, ... (1h..3650d), or never; a farm\n"
	"                      without a model trains\n"
	"  --train-args 'OPTS' training options as 'windcast train' takes them, e.g.\n"
	"                      '--epochs 30 --regional all' (--to is capped at the issue time)\n"
	"  --horizon H         leads 1..H hours (default 36)\n"
	"  --quantiles LIST    quantile levels of the files (default 0.1,0.5,0.9)\n"
	"  --model M           auto (default) or a model, as 'windcast forecast --model'\n"
	"  --price, --psi-plus, --psi-minus  the default price model (all three or none)\n"
	"  --gate-closure, --time-zone       defaults of the market (12:00, UTC)\n"
	"\n"
	"Exit status: 0 every farm and portfolio succeeded; 1 one failed, its forecast or its\n"
	"commitments (the others are written; the manifest and stderr say which and why),\n"
	"another batch holds the store, or the run was interrupted; 2 bad usage (an unknown\n"
	"--farm or --portfolio, a bad price). A rejected inbox file is reported (stderr,\n"
	"manifest) without failing the night.\n";

/* The ids of --farm or --portfolio, as given (each a comma list), owned. */
struct id_list {
	char **ids;
	size_t n;
};

static void id_list_release(struct id_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	l->ids = NULL;
	l->n = 0;
}

/* Append the ids of the comma list `value` of option `opt`; a CLI status. */
static int id_list_add(struct id_list *l, const char *opt, const char *value)
{
	const char *p = value;

	do {
		size_t len = strcspn(p, ",");
		char id[FARM_ID_MAX + 1], **v;

		if (len == 0 || len > FARM_ID_MAX)
			return cli_bad_option("batch", opt, value, "give ids separated by commas");
		memcpy(id, p, len);
		id[len] = '\0';
		if (!farm_id_valid(id))
			return cli_bad_option("batch", opt, value, "not an id");
		if (l->n == BATCH_MAX_SELECT)
			return cli_bad_option("batch", opt, value, "too many ids");
		if (!(v = realloc(l->ids, (l->n + 1) * sizeof(*v))) || !(v[l->n] = strdup(id))) {
			if (v)
				l->ids = v;
			cmd_error("batch", "out of memory");
			return CMD_FAIL;
		}
		l->ids = v;
		l->n++;
		p += len;
	} while (*p++ == ',');
	return CMD_OK;
}

struct batch_cli {
	struct batch_options o;
	struct id_list farms, portfolios;
};

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

static int parse_args(int argc, char **argv, struct batch_cli *b)
{
	struct batch_options *o = &b->o;
	struct option opts[16 + BATCH_MARKET_FIELDS] = {
		{ "out", required_argument, NULL, 'o' },
		{ "issued", required_argument, NULL, 'i' },
		{ "inbox", required_argument, NULL, 'I' },
		{ "shard", required_argument, NULL, 's' },
		{ "retrain-after", required_argument, NULL, 'r' },
		{ "train-args", required_argument, NULL, 't' },
		{ "horizon", required_argument, NULL, 'H' },
		{ "quantiles", required_argument, NULL, 'q' },
		{ "model", required_argument, NULL, 'm' },
		{ "farm", required_argument, NULL, 'f' },
		{ "portfolio", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct wc_error err = { 0 };
	size_t nopts = 12;
	int c, f, ret;

	for (f = 0; f < BATCH_MARKET_FIELDS; f++)
		opts[nopts++] = (struct option){ market_fields[f].option + 2, required_argument,
						 NULL, MARKET_OPT_BASE + f };
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
		if ((f = market_opt_field(c)) >= 0) {
			if ((ret = market_opt_set("batch", f, optarg, &o->market)))
				return ret;
			continue;
		}
		switch (c) {
		case 'f':
		case 'P':
			if ((ret = id_list_add(c == 'f' ? &b->farms : &b->portfolios,
					       c == 'f' ? "--farm" : "--portfolio", optarg)))
				return ret;
			o->select = true;
			break;
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
	if (batch_check_market(&o->market, &err)) {
		cmd_error("batch", "%s", err.msg);
		return CMD_USAGE;
	}
	o->farms = (const char *const *)b->farms.ids;
	o->nfarms = b->farms.n;
	o->portfolios = (const char *const *)b->portfolios.ids;
	o->nportfolios = b->portfolios.n;
	return CMD_OK;
}

int cmd_batch(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct batch_cli *b = calloc(1, sizeof(*b));
	struct batch_options *o = b ? &b->o : NULL;
	struct batch_result res = { 0 };
	struct wc_error err = { 0 };
	char t[UTC_ISO_LEN];
	json_t *args = NULL;
	int ret;

	if (!b) {
		cmd_error("batch", "out of memory");
		return CMD_FAIL;
	}
	batch_options_init(o);
	o->version = WINDCAST_VERSION;
	ret = parse_args(argc, argv, b);
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
	printf("batch issued %s: %zu farm%s, %zu failed; %zu portfolio%s, %zu failed; "
	       "commitments skipped for %zu without a price model; inbox %zu processed, %zu "
	       "rejected%s; manifest '%s'\n",
	       utc_format(res.issued, t), res.farms, res.farms == 1 ? "" : "s", res.farms_failed,
	       res.portfolios, res.portfolios == 1 ? "" : "s", res.portfolios_failed,
	       res.commitments_skipped, res.inbox_processed, res.inbox_rejected,
	       res.interrupted ? "; interrupted" : "", res.manifest);
	ret = res.farms_failed || res.portfolios_failed || res.interrupted ? CMD_FAIL : CMD_OK;
cleanup:
	batch_result_release(&res);
	json_decref(args);
	if (b) {
		id_list_release(&b->farms);
		id_list_release(&b->portfolios);
	}
	free(b);
	return ret;
}
