/*
 * cmd_forecast.c - `windcast forecast --farm ID | --portfolio P`: the forecast of one farm
 * (forecast/forecast.h) or of a portfolio's sum (trading/portfolio.h) at one issue time,
 * or at many (--issued-from/--issued-to/--every, or --issued-file) from one load of the
 * models and the data, as text, JSON or CSV; each farm forecast computed is stored
 * unless --no-store.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/dynbuf.h"
#include "common/log.h"
#include "common/utc.h"
#include "data/store.h"
#include "forecast/features.h"
#include "forecast/forecast.h"
#include "trading/portfolio.h"

#define MAX_ISSUES 1000000

static const char forecast_usage[] =
	"usage: windcast forecast (--farm ID | --portfolio P) [--issued ISO] [--horizon H]\n"
	"                         [--quantiles LIST]\n"
	"                         [--model auto|nn|persistence|climatology|powercurve]\n"
	"                         [--model-version N] [--format text|json|csv] [--units mw|frac]\n"
	"                         [--point median|mean] [--adapt model|on|off]\n"
	"                         [--issued-from ISO --issued-to ISO [--every H]]\n"
	"                         [--issued-file FILE] [--no-store]\n"
	"\n"
	"Forecast a farm's hourly output for leads 1..H (default 36; at most the NWP's reach\n"
	"and the model's trained leads) from what was available at the issue time: NWP runs\n"
	"delivered by then (reference time + delay) and observations up to it. The default\n"
	"issue time is the latest data: the newer of the last run's delivery and the last\n"
	"observation (now when that is later, or when there is none); the answer says which\n"
	"(issued_rule, issued_reason). A forecast the store holds for the issue time and the\n"
	"model is answered as stored; any other is computed, and stored unless --no-store.\n"
	"\n"
	"A portfolio's forecast (--portfolio) is the distribution of its farms' summed output\n"
	"in MW of its capacity: each farm forecast with these options, their dependence a\n"
	"Gaussian copula of their errors over the 30 days before (docs/trading.md); its\n"
	"default issue time is the latest of its farms'. The same formats, with \"portfolio\"\n"
	"for \"farm\", and in JSON each farm's model and the dependence used.\n"
	"\n"
	"  --model M         auto (default): whichever of the trained model and the baselines\n"
	"                    scored the lowest validation RMSE when it was trained (the\n"
	"                    model's scores), falling back to the next with inputs, saying\n"
	"                    why (model_choice, fallback); or nn, persistence, climatology,\n"
	"                    powercurve\n"
	"  --model-version N the trained model's version N (default: the newest); a version\n"
	"                    that does not exist fails, naming those that do\n"
	"  --quantiles LIST  levels to show, e.g. 0.1,0.5,0.9 (default) or 0.01:0.99:0.01;\n"
	"                    interpolated between the model's levels\n"
	"  --format F        text (default: a header line per forecast, then a table of\n"
	"                    period start, valid time, lead, point and quantiles), json (the\n"
	"                    API's reply; an array for several issue times) or csv: farm,\n"
	"                    issued,period_start,period_end,valid_time,lead_h,model,\n"
	"                    model_version,fallback,point,p10,p50,...; quantiles are named by\n"
	"                    percent (p05, p2.5); each hour is the delivery period that its\n"
	"                    hour-ending valid_time closes; with csv the reasons and notes go\n"
	"                    to stderr (not with --quiet)\n"
	"  --units U         text and csv values in mw (default) or frac (of capacity)\n"
	"  --point P         the model's point forecast: median or mean (of its quantiles;\n"
	"                    lower RMSE when skewed); default: the model's (train --point)\n"
	"  --adapt A         the network's online adaptation: model (default: as trained,\n"
	"                    train --adapt), on or off; the answer reports it (adaptation)\n"
	"  --issued-from A --issued-to B [--every H]\n"
	"                    many issue times A, A+H, ... <= B (H default 12) in one run\n"
	"  --issued-file F   issue times, one ISO 8601 time per line\n"
	"  --no-store        do not store the forecasts computed\n";

struct forecast_cli {
	const char *farm;
	const char *portfolio;
	enum cli_format format;
	const char *issued_file;
	const char *from_s, *to_s;	/* as given, for messages */
	int64_t from, to, every;
	struct forecast_request r;	/* r.issued: --issued */
};

/* The options that are fields of a forecast request, by getopt code. */
static const struct {
	int code;
	const char *opt, *key;
} request_opts[] = {
	{ 'i', "--issued", "issued" },		{ 'H', "--horizon", "horizon" },
	{ 'q', "--quantiles", "quantiles" },	{ 'm', "--model", "model" },
	{ 'v', "--model-version", "model_version" }, { 'p', "--point", "point" },
	{ 'u', "--units", "units" },		{ 'A', "--adapt", "adapt" },
};

static int parse_args(int argc, char **argv, struct forecast_cli *f)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "portfolio", required_argument, NULL, 'P' },
		{ "issued", required_argument, NULL, 'i' },
		{ "issued-from", required_argument, NULL, 'a' },
		{ "issued-to", required_argument, NULL, 'b' },
		{ "every", required_argument, NULL, 'e' },
		{ "issued-file", required_argument, NULL, 'I' },
		{ "horizon", required_argument, NULL, 'H' },
		{ "quantiles", required_argument, NULL, 'q' },
		{ "model", required_argument, NULL, 'm' },
		{ "model-version", required_argument, NULL, 'v' },
		{ "format", required_argument, NULL, 'F' },
		{ "units", required_argument, NULL, 'u' },
		{ "no-store", no_argument, NULL, 'n' },
		{ "point", required_argument, NULL, 'p' },
		{ "adapt", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct wc_error err = { 0 };
	const char *every_s = NULL;
	char hint[256];
	double d;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		size_t k = 0;

		while (k < sizeof(request_opts) / sizeof(request_opts[0]) && request_opts[k].code != c)
			k++;
		if (k < sizeof(request_opts) / sizeof(request_opts[0])) {
			if (forecast_request_set(&f->r, request_opts[k].key, optarg, &err))
				return cli_bad_option("forecast", request_opts[k].opt, optarg, err.msg);
			continue;
		}
		switch (c) {
		case 'f':
			f->farm = optarg;
			break;
		case 'P':
			f->portfolio = optarg;
			break;
		case 'a':
		case 'b':
			if (!utc_parse(optarg, c == 'a' ? &f->from : &f->to))
				return cli_bad_option("forecast",
						      c == 'a' ? "--issued-from" : "--issued-to",
						      optarg, "use ISO 8601, e.g. 2026-03-01T12:00Z");
			*(c == 'a' ? &f->from_s : &f->to_s) = optarg;
			break;
		case 'e':
			if (cli_parse_double(optarg, &d) || d < 1 || d > 24 * 366)
				return cli_bad_option("forecast", "--every", optarg, "use hours, 1..8784");
			f->every = (int64_t)llround(d * UTC_HOUR);
			every_s = optarg;
			break;
		case 'I':
			f->issued_file = optarg;
			break;
		case 'F':
			if (cli_format_parse("forecast", optarg, CLI_FORMATS_ALL, &f->format))
				return CMD_USAGE;
			break;
		case 'n':
			f->r.store = false;
			break;
		case 'h':
			fputs(forecast_usage, stdout);
			return -1;
		default:
			cmd_error("forecast", "unknown option '%s'; see 'windcast forecast --help'",
				  argv[optind - 1]);
			return CMD_USAGE;
		}
	}
	if (optind < argc) {
		cmd_error("forecast", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!f->farm == !f->portfolio) {
		cmd_error("forecast", "give one of --farm and --portfolio; see 'windcast forecast "
				      "--help'");
		return CMD_USAGE;
	}
	if (f->farm && !farm_id_valid(f->farm))
		return cli_bad_option("forecast", "--farm", f->farm, "not a farm id");
	if (f->portfolio && !farm_id_valid(f->portfolio))
		return cli_bad_option("forecast", "--portfolio", f->portfolio, "not a portfolio id");
	if ((f->from != INT64_MIN) != (f->to != INT64_MIN)) {
		cmd_error("forecast", "--issued-from and --issued-to go together");
		return CMD_USAGE;
	}
	if ((f->from != INT64_MIN) + (f->r.issued != INT64_MIN) + (f->issued_file != NULL) > 1) {
		cmd_error("forecast", "use one of --issued, --issued-from/--issued-to and "
				      "--issued-file");
		return CMD_USAGE;
	}
	if (every_s && f->from == INT64_MIN)
		return cli_bad_option("forecast", "--every", every_s,
				      "it goes with --issued-from and --issued-to");
	if (f->from != INT64_MIN && f->to < f->from) {
		snprintf(hint, sizeof(hint), "it is before --issued-from '%s'", f->from_s);
		return cli_bad_option("forecast", "--issued-to", f->to_s, hint);
	}
	if (f->from != INT64_MIN && (f->to - f->from) / (f->every ? f->every : 12 * UTC_HOUR) >=
					    MAX_ISSUES) {
		snprintf(hint, sizeof(hint),
			 "every %s h from --issued-from '%s' makes more than %d issue times",
			 every_s ? every_s : "12", f->from_s, MAX_ISSUES);
		return cli_bad_option("forecast", "--issued-to", f->to_s, hint);
	}
	return CMD_OK;
}

/* The issue times asked for; *n == 0 means the default. */
static int issue_times(const struct forecast_cli *f, int64_t **out, size_t *n)
{
	size_t cap = 0, len = 0;
	int64_t *v = NULL;

	*out = NULL;
	*n = 0;
	if (f->r.issued != INT64_MIN || f->from != INT64_MIN) {
		int64_t a = f->r.issued != INT64_MIN ? f->r.issued : f->from;
		int64_t b = f->r.issued != INT64_MIN ? f->r.issued : f->to;
		int64_t step = f->every ? f->every : 12 * UTC_HOUR;

		cap = (size_t)((b - a) / step + 1);
		if (!(v = malloc(cap * sizeof(*v)))) {
			cmd_error("forecast", "out of memory");
			return CMD_FAIL;
		}
		for (int64_t t = a; t <= b; t += step)
			v[len++] = t;
	} else if (f->issued_file) {
		return cli_read_times("forecast", f->issued_file, MAX_ISSUES, out, n);
	}
	*out = v;
	*n = len;
	return CMD_OK;
}

/*
 * What the JSON says beside the numbers, for a CSV reader: on stderr (unless --quiet),
 * the issue time's rule and auto's choice once, each forecast's fallback and notes.
 */
static void print_reasons(const struct forecast *fcs, size_t n)
{
	char t[UTC_ISO_LEN], notes[sizeof(fcs->cut_note) + sizeof(fcs->note) + 2];

	if (!n || log_get_level() > LOG_WARN)
		return;
	if (strcmp(fcs[0].issued_reason, "requested"))
		cmd_error("forecast", "issued %s: %s: %s", utc_format(fcs[0].issued, t),
			  forecast_issued_rule_name(fcs[0].issued_rule), fcs[0].issued_reason);
	if (strcmp(fcs[0].model_choice, "requested"))
		cmd_error("forecast", "model: %s", fcs[0].model_choice);
	for (size_t i = 0; i < n; i++) {
		utc_format(fcs[i].issued, t);
		if (fcs[i].fallback[0])
			cmd_error("forecast", "issued %s: fallback to %s: %s", t, fcs[i].model,
				  fcs[i].fallback);
		forecast_notes(&fcs[i], notes, sizeof(notes));
		if (notes[0])
			cmd_error("forecast", "issued %s: note: %s", t, notes);
	}
}

/*
 * The text form: one line naming the forecast (farm, issue time and why, model, NWP run,
 * notes), then a table of the hours in MW (or fractions with --units frac).
 */
static void print_text(const struct forecast *fc, const struct forecast_request *r,
		       bool blank_first)
{
	double scale = r->frac ? 1.0 : fc->capacity_mw;
	int n = fc->nlead < r->o.horizon ? fc->nlead : r->o.horizon;
	char t[UTC_ISO_LEN], run[UTC_ISO_LEN], notes[700];

	if (blank_first)
		putchar('\n');
	printf("%s %s, issued %s (%s), model %s", fc->portfolio ? "portfolio" : "farm",
	       fc->farm_id, utc_format(fc->issued, t),
	       fc->issued_reason[0] ? fc->issued_reason : forecast_issued_rule_name(fc->issued_rule),
	       fc->model);
	if (fc->model_version)
		printf(" version %d", fc->model_version);
	if (fc->has_run)
		printf(", NWP run %s", fc->run_is_forecast ? utc_format(fc->run_ref_time, run)
							 : "analysis");
	printf(", %s%s\n", r->frac ? "fractions of capacity" : "MW",
	       fc->stored ? ", stored" : "");
	if (fc->fallback[0])
		printf("fallback: %s\n", fc->fallback);
	forecast_notes(fc, notes, sizeof(notes));
	if (notes[0])
		printf("note: %s\n", notes);
	printf("%-20s %-20s %4s %9s", "period_start", "valid_time", "lead", "point");
	for (int k = 0; k < r->nlevels; k++) {
		char name[FORECAST_LEVEL_NAME];

		printf(" %9s", forecast_level_name(r->levels[k], name));
	}
	putchar('\n');
	for (int i = 0; i < n; i++) {
		printf("%-20s ", utc_format(fc->valid[i] - UTC_HOUR, t));
		printf("%-20s %4lld %9.3f", utc_format(fc->valid[i], t),
		       (long long)((fc->valid[i] - fc->issued) / UTC_HOUR), fc->point[i] * scale);
		for (int k = 0; k < r->nlevels; k++)
			printf(" %9.3f", forecast_quantile(fc, i, r->levels[k]) * scale);
		putchar('\n');
	}
}

/*
 * The portfolio's forecasts at times[0..ntimes) (none: its default issue time), from one
 * portfolio forecaster over [lo, hi]; printed as the farm's are.
 */
static int forecast_portfolio(struct forecast_cli *f, const int64_t *times, size_t ntimes,
			      int64_t lo, int64_t hi, struct cmd_ctx *ctx)
{
	struct pforecaster *pf = NULL;
	struct pforecast *pfs = NULL;
	struct wc_error err = { 0 };
	struct dynbuf csv;
	json_t *arr = NULL;
	size_t n = 0, want = ntimes ? ntimes : 1;
	int ret = CMD_OK;
	char t[UTC_ISO_LEN];

	dynbuf_init(&csv, (size_t)1 << 31);
	if (pforecaster_open(ctx->store, f->portfolio, &f->r.o, lo, hi, &pf, &err)) {
		cmd_error("forecast", "%s", wc_error_msg(&err));
		ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		goto cleanup;
	}
	if (!(pfs = calloc(want, sizeof(*pfs)))) {
		cmd_error("forecast", "out of memory");
		ret = CMD_FAIL;
		goto cleanup;
	}
	for (size_t i = 0; i < want; i++) {
		int64_t T = ntimes ? times[i] : pforecaster_first(pf);

		if (pforecaster_get(pf, T, f->r.levels, f->r.nlevels, &pfs[n], &err) ||
		    forecast_check_levels(&pfs[n].fc, f->r.levels, f->r.nlevels, &err)) {
			if (want > 1)
				cmd_error("forecast", "issued %s: %s", utc_format(T, t),
					  wc_error_msg(&err));
			else
				cmd_error("forecast", "%s", wc_error_msg(&err));
			pforecast_release(&pfs[n]);
			ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
			continue;
		}
		/* the farms' forecasts computed now are kept, as a farm's are */
		for (int k = 0; f->r.store && k < pfs[n].nfarms; k++)
			if (forecast_store(ctx->store, &pfs[n].farms[k], 1, &err)) {
				cmd_error("forecast", "%s", wc_error_msg(&err));
				ret = CMD_FAIL;
			}
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (f->format == CLI_CSV) {
			if (forecast_csv(&pfs[i].fc, f->r.levels, f->r.nlevels, f->r.o.horizon,
					 i == 0, f->r.frac, &csv)) {
				cmd_error("forecast", "output too large");
				ret = CMD_FAIL;
				goto cleanup;
			}
			print_reasons(&pfs[i].fc, 1);
		} else if (f->format == CLI_TEXT) {
			print_text(&pfs[i].fc, &f->r, i > 0);
		} else {
			if (!arr && !(arr = json_array())) {
				cmd_error("forecast", "out of memory");
				ret = CMD_FAIL;
				goto cleanup;
			}
			json_array_append_new(arr, pforecast_json(&pfs[i], f->r.levels, f->r.nlevels,
								  f->r.o.horizon));
		}
	}
	if (f->format == CLI_CSV)
		fwrite(dynbuf_str(&csv), 1, csv.len, stdout);
	else if (arr)
		cli_print_json(want == 1 ? json_array_get(arr, 0) : arr);
cleanup:
	for (size_t i = 0; pfs && i < n; i++)
		pforecast_release(&pfs[i]);
	free(pfs);
	json_decref(arr);
	dynbuf_release(&csv);
	pforecaster_free(pf);
	return ret;
}

int cmd_forecast(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct forecast_cli f = { .format = CLI_TEXT, .from = INT64_MIN, .to = INT64_MIN };
	struct forecaster *fcr = NULL;
	struct forecast *fcs = NULL;
	struct wc_error err = { 0 };
	struct dynbuf csv;
	int ret;
	int64_t *times = NULL, lo = INT64_MIN, hi = INT64_MIN;
	size_t ntimes = 0, nfc = 0;
	json_t *arr = NULL;
	bool csv_out;

	forecast_request_init(&f.r);
	ret = parse_args(argc, argv, &f);
	if (ret)
		return ret < 0 ? CMD_OK : ret;
	if ((ret = issue_times(&f, &times, &ntimes)))
		return ret;
	csv_out = f.format == CLI_CSV;
	dynbuf_init(&csv, (size_t)1 << 31);	/* 2 GiB of CSV: about 10 million rows */
	for (size_t i = 0; i < ntimes; i++) {
		lo = i == 0 || times[i] < lo ? times[i] : lo;
		hi = i == 0 || times[i] > hi ? times[i] : hi;
	}
	if (f.portfolio) {
		ret = forecast_portfolio(&f, times, ntimes, lo, hi, ctx);
		goto cleanup;
	}
	if (forecaster_open(ctx->store, f.farm, &f.r.o, lo, hi, &fcr, &err)) {
		ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		cmd_error("forecast", "%s", wc_error_msg(&err));
		goto cleanup;
	}
	if (!ntimes) {
		/* the default issue time, found with the model's delivery delay */
		if (!(times = malloc(sizeof(*times)))) {
			cmd_error("forecast", "out of memory");
			ret = CMD_FAIL;
			goto cleanup;
		}
		times[0] = forecaster_first(fcr);
		ntimes = 1;
	}
	if (!(fcs = calloc(ntimes, sizeof(*fcs)))) {
		cmd_error("forecast", "out of memory");
		ret = CMD_FAIL;
		goto cleanup;
	}
	for (size_t i = 0; i < ntimes; i++) {
		int64_t T = times[i];

		if (forecaster_get_or_issue(fcr, T, &fcs[nfc], &err) ||
		    forecast_check_levels(&fcs[nfc], f.r.levels, f.r.nlevels, &err)) {
			char t[UTC_ISO_LEN];

			if (ntimes > 1)
				cmd_error("forecast", "issued %s: %s", utc_format(T, t),
					  wc_error_msg(&err));
			else
				cmd_error("forecast", "%s", wc_error_msg(&err));
			forecast_release(&fcs[nfc]);
			ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
			continue;
		}
		nfc++;
	}
	/* stored first, so that each answer says it is */
	if (f.r.store && nfc && forecast_store(ctx->store, fcs, nfc, &err)) {
		cmd_error("forecast", "%s", wc_error_msg(&err));
		ret = CMD_FAIL;
	}
	if (csv_out) {
		for (size_t i = 0; i < nfc; i++)
			if (forecast_csv(&fcs[i], f.r.levels, f.r.nlevels, f.r.o.horizon, i == 0,
					 f.r.frac, &csv)) {
				cmd_error("forecast", "output too large");
				ret = CMD_FAIL;
				goto cleanup;
			}
		print_reasons(fcs, nfc);
		fwrite(dynbuf_str(&csv), 1, csv.len, stdout);
	} else if (f.format == CLI_TEXT) {
		for (size_t i = 0; i < nfc; i++)
			print_text(&fcs[i], &f.r, i > 0);
	} else if (nfc) {
		if (!(arr = json_array())) {
			cmd_error("forecast", "out of memory");
			ret = CMD_FAIL;
			goto cleanup;
		}
		for (size_t i = 0; i < nfc; i++)
			json_array_append_new(arr, forecast_json(&fcs[i], f.r.levels, f.r.nlevels,
								 f.r.o.horizon));
		cli_print_json(ntimes == 1 ? json_array_get(arr, 0) : arr);
	}
cleanup:
	for (size_t i = 0; fcs && i < nfc; i++)
		forecast_release(&fcs[i]);
	free(fcs);
	free(times);
	json_decref(arr);
	dynbuf_release(&csv);
	forecaster_free(fcr);
	return ret;
}
