/*
 * cmd_train.c - `windcast train --farm ID|all | --pool ...`: a thin adapter over
 * forecast/train_request.h. It builds getopt_long's options and the usage text from the
 * training option table, lets the library resolve and run the request (train, save as the
 * next model version) and prints each model's validation scores against the baselines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/store.h"
#include "forecast/model.h"
#include "forecast/train_request.h"

static const char train_usage_head[] =
	"usage: windcast train --farm ID|all | --pool all|ID,ID,... [--format text|json]\n";

static const char train_usage_about[] =
	"\n"
	"Train a farm's forecaster (a quantile MLP ensemble) on rows (issue time T, lead h)\n"
	"built from the NWP runs available at T and the observations up to T, and save it as\n"
	"the farm's next model version (DATA/models/<farm>/<version>.wcm). --from/--to bound\n"
	"the issue times (and --to all data: nothing observed after it is read). The last\n"
	"--val-frac of issue times validates: early stopping and the scores printed per lead\n"
	"beside persistence, climatology and a fitted power curve. Options and their ranges\n"
	"are the same as the fields of POST /v1/farms/{id}/train (docs/api.md).\n"
	"\n"
	"  --farm ID|all         a farm, or every farm in turn\n"
	"  --pool all|IDS        one network for these farms (2..32), saved as each one's next\n"
	"                        version, all or none: their rows together, a one-hot of the\n"
	"                        farm among the inputs; --regional all then gives every farm\n"
	"                        all the pool's NWP and observed power\n"
	"  --format text|json    a summary line per farm (default), or a JSON array\n";

/* The usage: the fixed head, then the synopsis and the options from the option table. */
static void usage(void)
{
	char *synopsis = train_options_doc(TRAIN_DOC_SYNOPSIS);
	char *opts = train_options_doc(TRAIN_DOC_USAGE);

	fputs(train_usage_head, stdout);
	fputs(synopsis ? synopsis : "", stdout);
	fputs(train_usage_about, stdout);
	fputs(opts ? opts : "", stdout);
	free(synopsis);
	free(opts);
}

struct train_cli {
	const char *format;
	json_t *arr;		/* --format json: the models trained so far */
	struct train_request r;
};

/* getopt_long values: the option table's rows from OPT_TABLE on, then these. */
enum { OPT_FARM = 1, OPT_POOL, OPT_FORMAT, OPT_HELP, OPT_TABLE = 256 };

static int parse_args(int argc, char **argv, struct train_cli *t)
{
	struct option *opts = calloc(train_option_count + 5, sizeof(*opts));
	struct wc_error err = { 0 };
	const char *farm = NULL, *pool = NULL;
	int c, n = 0, ret = CMD_OK;

	if (!opts) {
		cmd_error("train", "out of memory");
		return CMD_FAIL;
	}
	for (size_t i = 0; i < train_option_count; i++)
		opts[n++] = (struct option){ train_option_table[i].name,
					     train_option_table[i].type == TOPT_BOOL
						     ? no_argument
						     : required_argument,
					     NULL, OPT_TABLE + (int)i };
	opts[n++] = (struct option){ "farm", required_argument, NULL, OPT_FARM };
	opts[n++] = (struct option){ "pool", required_argument, NULL, OPT_POOL };
	opts[n++] = (struct option){ "format", required_argument, NULL, OPT_FORMAT };
	opts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };

	optind = 1;
	opterr = 0;
	while (!ret && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c >= OPT_TABLE) {
			if (train_option_set(&t->r, &train_option_table[c - OPT_TABLE], optarg, &err)) {
				cmd_error("train", "%s", err.msg);
				ret = CMD_USAGE;
			}
		} else if (c == OPT_FARM) {
			farm = optarg;
		} else if (c == OPT_POOL) {
			pool = optarg;
		} else if (c == OPT_FORMAT) {
			t->format = optarg;
		} else if (c == OPT_HELP) {
			usage();
			ret = -1;
		} else if (c == ':') {
			cmd_error("train", "option '%s' needs a value; see 'windcast train --help'",
				  argv[optind - 1]);
			ret = CMD_USAGE;
		} else if (optopt) {	/* a flag given a value: --refit=yes */
			cmd_error("train", "option '%s' takes no value; see 'windcast train --help'",
				  argv[optind - 1]);
			ret = CMD_USAGE;
		} else {
			cmd_error("train", "unknown option '%s'; see 'windcast train --help'",
				  argv[optind - 1]);
			ret = CMD_USAGE;
		}
	}
	free(opts);
	if (ret)
		return ret;
	if (optind < argc) {
		cmd_error("train", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!farm == !pool) {
		cmd_error("train", "give --farm or --pool (one of them); see 'windcast train --help'");
		return CMD_USAGE;
	}
	if (strcmp(t->format, "text") && strcmp(t->format, "json"))
		return cli_bad_option("train", "--format", t->format, "use text or json");
	if (farm && !strcmp(farm, "all"))
		t->r.all_farms = true;
	else if (farm)
		snprintf(t->r.farm, sizeof(t->r.farm), "%s", farm);
	else if (train_request_set_pool(&t->r, pool, &err)) {
		cmd_error("train", "%s", err.msg);
		return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
	}
	return CMD_OK;
}

static void print_text(const struct farm_model *m)
{
	json_t *s = json_loads(m->scores, 0, NULL);
	json_t *all = json_object_get(s, "overall");
	char a[UTC_ISO_LEN], b[UTC_ISO_LEN];

	printf("farm %s: model version %d, %lld rows, issues %s .. %s, trained in %.1f s\n",
	       m->farm_id, m->version, (long long)m->n_rows, utc_format(m->train_from, a),
	       utc_format(m->train_to, b), m->train_seconds);
	if (all)
		printf("  validation RMSE %.4f (persistence %.4f, climatology %.4f, powercurve "
		       "%.4f), MAE %.4f, pinball %.4f (fractions of capacity)\n",
		       json_number_value(json_object_get(all, "rmse")),
		       json_number_value(json_object_get(all, "persistence_rmse")),
		       json_number_value(json_object_get(all, "climatology_rmse")),
		       json_number_value(json_object_get(all, "powercurve_rmse")),
		       json_number_value(json_object_get(all, "mae")),
		       json_number_value(json_object_get(all, "pinball")));
	json_decref(s);
}

/* train_report_fn: print a trained and saved model (a JSON element of the array, with
 * the members' best epochs, or text), or the failure. */
static void report(void *arg, const char *farm_id, const struct farm_model *m,
		   const struct wc_error *err)
{
	struct train_cli *t = arg;

	if (!m) {
		cmd_error("train", "%s", wc_error_msg(err));
	} else if (t->arr) {
		json_t *o = farm_model_json(m), *epochs = json_array();

		/* the epochs each member ran (of the last fit: with --refit, the refit's) */
		for (int k = 0; k < m->nn->n_members; k++)
			json_array_append_new(epochs, json_integer(m->nn->info.member[k].best_epoch));
		json_object_set_new(o, "best_epochs", epochs);
		json_array_append_new(t->arr, o);
	} else {
		print_text(m);
		fflush(stdout);
	}
}

int cmd_train(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct train_cli *t = calloc(1, sizeof(*t));
	struct wc_error err = { 0 };
	int ret;

	if (!t) {
		cmd_error("train", "out of memory");
		return CMD_FAIL;
	}
	t->format = "text";
	train_request_init(&t->r, TRAIN_CLI);
	ret = parse_args(argc, argv, t);
	if (ret) {
		free(t);
		return ret < 0 ? CMD_OK : ret;
	}
	/* a bad request is bad usage (exit 2); a farm that does not exist is not (exit 1) */
	if (train_request_resolve(&t->r, ctx->store, &err)) {
		cmd_error("train", "%s", wc_error_msg(&err));
		free(t);
		return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
	}
	if (!strcmp(t->format, "json"))
		t->arr = json_array();
	ret = train_request_run(&t->r, ctx->store, report, t, &err) ? CMD_FAIL : CMD_OK;
	if (t->arr) {
		cli_print_json(t->arr);
		json_decref(t->arr);
	}
	free(t);
	return ret;
}
