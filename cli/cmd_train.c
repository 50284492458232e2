/*
 * cmd_train.c - `windcast train --farm ID|all`: train a farm's forecaster on its history
 * (forecast/model.h), save it as the farm's next model version and print its validation
 * scores against the baselines.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/store.h"
#include "forecast/forecast.h"
#include "forecast/model.h"

static const char train_usage[] =
	"usage: windcast train --farm ID|all | --pool all|ID,ID,...\n"
	"                      [--from ISO] [--to ISO] [--ensemble K]\n"
	"                      [--hidden N,N] [--dropout P] [--epochs N] [--patience N]\n"
	"                      [--seed N] [--delay H] [--leads N] [--issue-every H]\n"
	"                      [--short-leads N] [--short-every H] [--lr LR]\n"
	"                      [--weight-decay WD] [--batch N] [--workers N]\n"
	"                      [--nbr-hours K] [--nbr-full] [--val-mode tail|weekly]\n"
	"                      [--no-doy] [--activation relu|silu]\n"
	"                      [--regional none|all|RKM|ID,...] [--lags L,L|none]\n"
	"                      [--obs-max-lead H] [--no-prev-run] [--nwp-only]\n"
	"                      [--quantiles LIST] [--val-frac F] [--point median|mean]\n"
	"                      [--smooth K] [--refit] [--format text|json]\n"
	"\n"
	"Train a farm's forecaster (a quantile MLP ensemble) on rows (issue time T, lead h)\n"
	"built from the NWP runs available at T and the observations up to T, and save it as\n"
	"the farm's next model version (DATA/models/<farm>/<version>.wcm). --from/--to bound\n"
	"the issue times (and --to all data: nothing observed after it is read). The last\n"
	"--val-frac of issue times (default 0.15) validates: early stopping and the scores\n"
	"printed per lead beside persistence, climatology and a fitted power curve.\n"
	"\n"
	"  --farm ID|all     a farm, or every farm in turn\n"
	"  --pool all|IDS    one network for these farms (2..32), saved as each one's next\n"
	"                    version: their rows together, a one-hot of the farm among the\n"
	"                    inputs; --regional all then gives every farm all the pool's\n"
	"                    NWP and observed power\n"
	"  --ensemble K      members with different seeds (default 3)\n"
	"  --workers N       members trained at once, one thread each (default: the\n"
	"                    online CPUs); the model is bit-identical for any N\n"
	"  --hidden N,N      hidden layer widths (default 64,64); --dropout P (default 0.1)\n"
	"  --activation A    hidden activation: relu (default) or silu\n"
	"  --epochs N        at most N epochs (default 60); --patience N (default 8)\n"
	"  --lr LR           peak learning rate (default 0.002); --weight-decay WD (AdamW,\n"
	"                    default 0.0001); --batch N rows per step (default 256)\n"
	"  --delay H         NWP delivery delay in hours (default 5): a run with reference\n"
	"                    time R is usable from R + H\n"
	"  --leads N         train leads 1..N hours (default 48)\n"
	"  --issue-every H   issue times every H hours (default: each run's delivery)\n"
	"  --short-leads N   also train leads 1..N from issue times every --short-every H\n"
	"                    hours (default 1) between those (more rows where the observed\n"
	"                    power matters; validation stays on the issue times above)\n"
	"  --regional SPEC   other farms' NWP and observed power as inputs: none (default),\n"
	"                    all, farms within R km ('100km'), or a list of ids\n"
	"  --nbr-hours K     the run's speed and direction at T + h - K .. T + h + K\n"
	"                    (default 3, 0..6); --nbr-full adds 10 m speed and shear there\n"
	"  --lags L,L        observed power lags in hours before T (default 0,1,2,3,6)\n"
	"  --obs-max-lead H  observed power inputs only for leads <= H (default 12, 0: all)\n"
	"  --nwp-only        NWP and calendar inputs only (analyses, e.g. GEFCom2014)\n"
	"  --quantiles LIST  trained levels, e.g. 0.05,0.5,0.95 or 0.01:0.99:0.02 (<= 64)\n"
	"  --no-doy          no day-of-year inputs (history shorter than a year would make\n"
	"                    the network extrapolate the season)\n"
	"  --val-mode M      validation issue times: tail (default, the latest --val-frac)\n"
	"                    or weekly (every round(1 / val-frac)-th week, the rest train)\n"
	"  --point P         the model's point forecast: median (default) or mean of its\n"
	"                    quantiles (lower RMSE when the distribution is skewed)\n"
	"  --smooth K        the model forecasts each lead as the mean of the network's\n"
	"                    quantiles at leads h-K..h+K, weighted K+1-|d| (default 0,\n"
	"                    at most 6); the validation scores include it\n"
	"  --refit           then train again on all rows (validation ones included) for\n"
	"                    the epochs early stopping chose; about twice the time\n";

struct train_cli {
	const char *farm;
	const char *pool;
	const char *regional;
	const char *format;
	struct train_options o;
};

static int parse_args(int argc, char **argv, struct train_cli *t)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 'b' },
		{ "ensemble", required_argument, NULL, 'k' },
		{ "hidden", required_argument, NULL, 'H' },
		{ "dropout", required_argument, NULL, 'd' },
		{ "epochs", required_argument, NULL, 'e' },
		{ "patience", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "delay", required_argument, NULL, 'D' },
		{ "leads", required_argument, NULL, 'L' },
		{ "issue-every", required_argument, NULL, 'E' },
		{ "pool", required_argument, NULL, 'G' },
		{ "lr", required_argument, NULL, 'A' },
		{ "weight-decay", required_argument, NULL, 'W' },
		{ "batch", required_argument, NULL, 'B' },
		{ "workers", required_argument, NULL, 'w' },
		{ "nbr-hours", required_argument, NULL, 'n' },
		{ "nbr-full", no_argument, NULL, 'u' },
		{ "val-mode", required_argument, NULL, 'V' },
		{ "no-doy", no_argument, NULL, 'Y' },
		{ "activation", required_argument, NULL, 'X' },
		{ "short-leads", required_argument, NULL, 'S' },
		{ "short-every", required_argument, NULL, 'T' },
		{ "regional", required_argument, NULL, 'r' },
		{ "lags", required_argument, NULL, 'l' },
		{ "obs-max-lead", required_argument, NULL, 'o' },
		{ "no-prev-run", no_argument, NULL, 'P' },
		{ "nwp-only", no_argument, NULL, 'N' },
		{ "quantiles", required_argument, NULL, 'q' },
		{ "val-frac", required_argument, NULL, 'v' },
		{ "format", required_argument, NULL, 'F' },
		{ "point", required_argument, NULL, 'M' },
		{ "refit", no_argument, NULL, 'R' },
		{ "smooth", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct train_options *o = &t->o;
	struct wc_error err = { 0 };
	long v;
	double d;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			t->farm = optarg;
			break;
		case 'a':
		case 'b':
			if (!utc_parse(optarg, c == 'a' ? &o->from : &o->to))
				return cli_bad_option("train", c == 'a' ? "--from" : "--to", optarg,
					   "use ISO 8601, e.g. 2026-03-01T00:00Z");
			break;
		case 'k':
			if (cli_parse_long(optarg, 1, NN_MAX_MEMBERS, &v))
				return cli_bad_option("train", "--ensemble", optarg, "use 1..32");
			o->nn.n_members = (int)v;
			break;
		case 'H': {
			char *copy = strdup(optarg), *save = NULL;
			int n = 0;

			for (char *p = copy ? strtok_r(copy, ",", &save) : NULL; p;
			     p = strtok_r(NULL, ",", &save)) {
				if (n == NN_MAX_HIDDEN || cli_parse_long(p, 1, 1024, &v)) {
					free(copy);
					return cli_bad_option("train", "--hidden", optarg, "use widths 1..1024, e.g. 128,64");
				}
				o->nn.hidden[n++] = (int)v;
			}
			free(copy);
			if (n == 0)
				return cli_bad_option("train", "--hidden", optarg, "use widths 1..1024, e.g. 128,64");
			o->nn.n_hidden = n;
			break;
		}
		case 'd':
			if (cli_parse_double(optarg, &d) || d < 0 || d > 0.9)
				return cli_bad_option("train", "--dropout", optarg, "use 0..0.9");
			o->nn.dropout = (float)d;
			break;
		case 'A':
			if (cli_parse_double(optarg, &d) || !(d > 0) || d > 1)
				return cli_bad_option("train", "--lr", optarg, "use 0 < lr <= 1, e.g. 0.002");
			o->nn.lr = (float)d;
			break;
		case 'W':
			if (cli_parse_double(optarg, &d) || d < 0 || d > 1)
				return cli_bad_option("train", "--weight-decay", optarg, "use 0..1");
			o->nn.weight_decay = (float)d;
			break;
		case 'B':
			if (cli_parse_long(optarg, 1, 65536, &v))
				return cli_bad_option("train", "--batch", optarg, "use 1..65536 rows");
			o->nn.batch = (int)v;
			break;
		case 'w':
			if (cli_parse_long(optarg, 1, NN_MAX_MEMBERS, &v))
				return cli_bad_option("train", "--workers", optarg, "use 1..32");
			o->nn.workers = (int)v;
			break;
		case 'n':
			if (cli_parse_long(optarg, 0, FEAT_MAX_NBR, &v))
				return cli_bad_option("train", "--nbr-hours", optarg, "use 0..6");
			o->features.nbr_hours = (int)v;
			break;
		case 'u':
			o->features.nbr_full = true;
			break;
		case 'Y':
			o->features.no_doy = true;
			break;
		case 'X':
			if (strcmp(optarg, "relu") && strcmp(optarg, "silu"))
				return cli_bad_option("train", "--activation", optarg,
						      "use relu or silu");
			o->nn.act = strcmp(optarg, "relu") ? NN_ACT_SILU : NN_ACT_RELU;
			break;
		case 'V':
			if (strcmp(optarg, "tail") && strcmp(optarg, "weekly"))
				return cli_bad_option("train", "--val-mode", optarg, "use tail or weekly");
			o->val_mode = strcmp(optarg, "tail") ? VAL_WEEKLY : VAL_TAIL;
			break;
		case 'e':
			if (cli_parse_long(optarg, 1, 10000, &v))
				return cli_bad_option("train", "--epochs", optarg, "use 1..10000");
			o->nn.epochs = (int)v;
			break;
		case 'p':
			if (cli_parse_long(optarg, 1, 10000, &v))
				return cli_bad_option("train", "--patience", optarg, "use 1..10000");
			o->nn.patience = (int)v;
			break;
		case 's':
			if (cli_parse_long(optarg, 0, 2147483647L, &v))
				return cli_bad_option("train", "--seed", optarg, "use a non-negative integer");
			o->nn.seed = (uint64_t)v;
			break;
		case 'D':
			if (cli_parse_double(optarg, &d) || d < 0 || d > 24 * 30)
				return cli_bad_option("train", "--delay", optarg, "use hours, 0..720");
			o->features.delay_s = (int64_t)llround(d * UTC_HOUR);
			break;
		case 'L':
			if (cli_parse_long(optarg, 1, FEAT_MAX_LEAD, &v))
				return cli_bad_option("train", "--leads", optarg, "use 1..744");
			o->features.max_lead = (int)v;
			break;
		case 'E':
			if (cli_parse_double(optarg, &d) || d < 1 || d > 24 * 31)
				return cli_bad_option("train", "--issue-every", optarg, "use hours, 1..744");
			o->issue_every = (int64_t)llround(d * UTC_HOUR);
			break;
		case 'G':
			t->pool = optarg;
			break;
		case 'S':
			if (cli_parse_long(optarg, 0, FEAT_MAX_LEAD, &v))
				return cli_bad_option("train", "--short-leads", optarg, "use 0..744 (0: none)");
			o->short_leads = (int)v;
			break;
		case 'T':
			if (cli_parse_double(optarg, &d) || d < 1 || d > 24 * 31)
				return cli_bad_option("train", "--short-every", optarg, "use hours, 1..744");
			o->short_every = (int64_t)llround(d * UTC_HOUR);
			break;
		case 'r':
			t->regional = optarg;
			break;
		case 'l': {
			const char *p = optarg;
			int n = 0;

			if (strcmp(optarg, "none")) {
				while (*p) {
					char *end;
					long lag = strtol(p, &end, 10);

					if (end == p || lag < 0 || lag > 168 || n == FEAT_MAX_LAGS ||
					    (*end && *end != ','))
						return cli_bad_option("train", "--lags", optarg,
							   "use up to 12 hours 0..168, e.g. 0,1,2,3,6");
					o->features.lags[n++] = (int)lag;
					p = *end ? end + 1 : end;
				}
			}
			o->features.n_lags = n;
			break;
		}
		case 'o':
			if (cli_parse_long(optarg, 0, FEAT_MAX_LEAD, &v))
				return cli_bad_option("train", "--obs-max-lead", optarg, "use 0..744 (0: all leads)");
			o->features.obs_max_lead = (int)v;
			break;
		case 'P':
			o->features.prev_run = false;
			break;
		case 'N':
			o->features.nwp_only = true;
			break;
		case 'q': {
			float lv[FORECAST_MAX_REQUEST];
			int n;

			if (forecast_parse_levels(optarg, lv, &n, &err) || n > NN_MAX_QUANTILES) {
				cmd_error("train", "%s", err.msg[0] ? err.msg
								    : "at most 64 trained quantiles");
				return CMD_USAGE;
			}
			o->nn.n_quantiles = n;
			memcpy(o->nn.quantiles, lv, (size_t)n * sizeof(float));
			break;
		}
		case 'v':
			if (cli_parse_double(optarg, &d) || d < 0 || d > 0.5)
				return cli_bad_option("train", "--val-frac", optarg, "use 0..0.5");
			o->val_frac = d;
			break;
		case 'F':
			t->format = optarg;
			break;
		case 'R':
			o->refit = true;
			break;
		case 'K':
			if (cli_parse_long(optarg, 0, MODEL_SMOOTH_MAX, &v))
				return cli_bad_option("train", "--smooth", optarg, "use 0..6");
			o->smooth = (int)v;
			break;
		case 'M':
			if (strcmp(optarg, "median") && strcmp(optarg, "mean"))
				return cli_bad_option("train", "--point", optarg, "use median or mean");
			o->point_mean = !strcmp(optarg, "mean");
			break;
		case 'h':
			fputs(train_usage, stdout);
			return -1;
		default:
			cmd_error("train", "unknown option '%s'; see 'windcast train --help'",
				  argv[optind - 1]);
			return CMD_USAGE;
		}
	}
	if (optind < argc) {
		cmd_error("train", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!t->farm == !t->pool) {
		cmd_error("train", "give --farm or --pool (one of them); see 'windcast train --help'");
		return CMD_USAGE;
	}
	if (t->pool && t->regional && strcmp(t->regional, "none") && strcmp(t->regional, "all"))
		return cli_bad_option("train", "--regional", t->regional,
				      "with --pool use none or all (the pool's farms)");
	if (o->short_leads && !o->short_every)
		o->short_every = UTC_HOUR;
	if (strcmp(t->format, "text") && strcmp(t->format, "json"))
		return cli_bad_option("train", "--format", t->format, "use text or json");
	if (o->from != INT64_MIN && o->to != INT64_MAX && o->from >= o->to)
		return cli_bad_option("train", "--from", "", "--from must be before --to");
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

/* Print a trained and saved model: a JSON element into arr (the API's summary and the
 * members' best epochs), or text. */
static void report(const struct farm_model *m, json_t *arr)
{
	if (arr) {
		json_t *o = farm_model_json(m), *epochs = json_array();

		/* the epochs each member ran (of the last fit: with --refit, the refit's) */
		for (int k = 0; k < m->nn->n_members; k++)
			json_array_append_new(epochs, json_integer(m->nn->info.member[k].best_epoch));
		json_object_set_new(o, "best_epochs", epochs);
		json_array_append_new(arr, o);
	} else {
		print_text(m);
		fflush(stdout);
	}
}

static int train_one(struct cmd_ctx *ctx, const struct train_cli *t, const char *farm_id,
		     json_t *arr)
{
	struct train_options o = t->o;
	struct farm_model *m = NULL;
	struct wc_error err = { 0 };

	if (feature_config_set_regional(&o.features, ctx->store, farm_id,
					t->regional ? t->regional : "none", &err) ||
	    farm_model_train(ctx->store, farm_id, &o, &m, &err) ||
	    farm_model_save(ctx->store, m, &err)) {
		cmd_error("train", "%s", wc_error_msg(&err));
		farm_model_free(m);
		return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
	}
	report(m, arr);
	farm_model_free(m);
	return CMD_OK;
}

/* --pool: the farm ids (every farm for "all"), checked against the store. */
static int pool_ids(struct cmd_ctx *ctx, const char *spec, char (*ids)[FARM_ID_MAX + 1],
		    int *n)
{
	struct wc_error err = { 0 };
	struct farm *farms = NULL, f;
	size_t nf = 0;
	char *copy, *save = NULL;

	*n = 0;
	if (!strcmp(spec, "all")) {
		if (store_farm_list(ctx->store, &farms, &nf, &err)) {
			cmd_error("train", "%s", wc_error_msg(&err));
			return CMD_FAIL;
		}
		for (size_t i = 0; i < nf && *n < FEAT_MAX_REGIONAL + 1; i++)
			snprintf(ids[(*n)++], FARM_ID_MAX + 1, "%s", farms[i].id);
		free(farms);
	} else {
		if (!(copy = strdup(spec)))
			return CMD_FAIL;
		for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
			if (*n == FEAT_MAX_REGIONAL + 1)
				break;
			if (store_farm_get(ctx->store, id, &f, &err)) {
				cmd_error("train", "--pool: %s", wc_error_msg(&err));
				free(copy);
				return err.code == WC_ENOTFOUND ? CMD_USAGE : CMD_FAIL;
			}
			for (int i = 0; i < *n; i++)
				if (!strcmp(ids[i], id)) {
					free(copy);
					return cli_bad_option("train", "--pool", spec,
							      "each farm once");
				}
			snprintf(ids[(*n)++], FARM_ID_MAX + 1, "%s", id);
		}
		free(copy);
	}
	if (*n < 2 || *n > FEAT_MAX_REGIONAL)
		return cli_bad_option("train", "--pool", spec,
				      "a pool has 2..32 farms (all: the store's farms)");
	return CMD_OK;
}

static int train_pool(struct cmd_ctx *ctx, const struct train_cli *t, json_t *arr)
{
	char ids[FEAT_MAX_REGIONAL + 1][FARM_ID_MAX + 1];
	const char *idp[FEAT_MAX_REGIONAL + 1];
	struct farm_model *m[FEAT_MAX_REGIONAL] = { 0 };
	struct train_options o = t->o;
	struct wc_error err = { 0 };
	int n, ret = pool_ids(ctx, t->pool, ids, &n);

	if (ret)
		return ret;
	for (int i = 0; i < n; i++)
		idp[i] = ids[i];
	/* any regional farm asks for the pool's; the pool code sets the list */
	o.features.n_regional = t->regional && !strcmp(t->regional, "all") ? 1 : 0;
	if (farm_model_train_pool(ctx->store, idp, n, &o, m, &err)) {
		cmd_error("train", "%s", wc_error_msg(&err));
		return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
	}
	if (farm_models_save(ctx->store, m, n, &err)) {
		cmd_error("train", "%s (no farm of the pool saved)", wc_error_msg(&err));
		ret = CMD_FAIL;
	}
	for (int i = 0; i < n && !ret; i++)
		report(m[i], arr);
	for (int i = n; i-- > 0;)
		farm_model_free(m[i]);
	return ret;
}

int cmd_train(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct train_cli t = { .format = "text" };
	struct wc_error err = { 0 };
	json_t *arr = NULL;
	int ret;

	train_options_init(&t.o);
	ret = parse_args(argc, argv, &t);
	if (ret)
		return ret < 0 ? CMD_OK : ret;
	if (!strcmp(t.format, "json"))
		arr = json_array();
	nn_blas_warn_slow_kernels();
	if (t.pool) {
		ret = train_pool(ctx, &t, arr);
	} else if (!strcmp(t.farm, "all")) {
		struct farm *farms;
		size_t n;

		if (store_farm_list(ctx->store, &farms, &n, &err)) {
			cmd_error("train", "%s", wc_error_msg(&err));
			json_decref(arr);
			return CMD_FAIL;
		}
		for (size_t i = 0; i < n; i++) {
			int r = train_one(ctx, &t, farms[i].id, arr);

			if (r > ret)
				ret = r;
		}
		free(farms);
	} else {
		ret = train_one(ctx, &t, t.farm, arr);
	}
	if (arr) {
		cli_print_json(arr);
		json_decref(arr);
	}
	return ret;
}
