/*
 * cmd_commit.c - `windcast commit`: day-ahead commitments of a farm or a portfolio
 * (trading/commit.h) for a trading day or from a forecast's issue time, as text, JSON or
 * CSV. A thin adapter: the options are commit_request fields; --issued-file serves many
 * issue times from one committer. Limits: a prices file of PRICES_TEXT_MAX bytes.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/market_opts.h"
#include "cli/util.h"
#include "common/dynbuf.h"
#include "common/utc.h"
#include "trading/commit.h"

#define MAX_ISSUES 100000

static void commit_usage(FILE *out)
{
	fputs("usage: windcast commit (--farm ID | --portfolio P)\n"
	      "                       (--day YYYY-MM-DD [--issued ISO] | --issued ISO |\n"
	      "                        --issued-file FILE)\n"
	      "                       [--price P --psi-plus X --psi-minus Y | --prices FILE]\n"
	      "                       [--gate-closure HH:MM] [--time-zone ZONE]\n"
	      "                       [--min-mw M] [--max-mw M] [--horizon H]\n"
	      "                       [--model M] [--model-version N] [--no-store]\n"
	      "                       [--format text|json|csv]\n"
	      "\n"
	      "For each delivery period, the energy to commit day-ahead that maximises the\n"
	      "expected revenue when a surplus is sold at price - psi_plus and a deficit bought\n"
	      "at price + psi_minus: the forecast's quantile at alpha = psi_plus / (psi_plus +\n"
	      "psi_minus), within --min-mw, --max-mw and the capacity; with its median, mean,\n"
	      "expected imbalance cost and expected revenue, and the totals.\n"
	      "\n"
	      "  --day D           the trading day D of the market's time zone (23 or 25 periods\n"
	      "                    when clocks change), from the forecast issued at its gate\n"
	      "                    closure (by default 12:00 local time the day before), or at\n"
	      "                    --issued\n"
	      "  --issued T        without --day: the periods of leads 1..--horizon (default 36)\n"
	      "                    of the forecast issued at T\n"
	      "  --issued-file F   as --issued, for every issue time in F (one per line)\n"
	      "  --prices FILE     hour-by-hour prices: CSV 'period_start,price,psi_plus,\n"
	      "                    psi_minus' with one row per hour, in order, no gaps\n"
	      "  --model, --model-version, --no-store  as for 'windcast forecast'\n"
	      "  --format F        text (default), json (the API's reply; an array for several\n"
	      "                    issue times) or csv: farm|portfolio,issued,period_start,\n"
	      "                    period_end,valid_time,lead_h,price,psi_plus,psi_minus,alpha,\n"
	      "                    committed_mw,median_mw,mean_mw,expected_imbalance_cost,\n"
	      "                    expected_revenue\n"
	      "\n"
	      "Settings not given come from the farm's ('windcast farm market') or the\n"
	      "portfolio's stored ones; prices are per MWh of one currency.\n"
	      "market settings:\n",
	      out);
	market_opts_usage(out);
}

struct commit_cli {
	struct commit_request r;
	enum cli_format format;
	const char *issued_file;
	const char *prices_file;
	struct price_table prices;
};

/* The options that are commit_request fields, by getopt code. */
static const struct {
	int code;
	const char *opt, *key;
} request_opts[] = {
	{ 'd', "--day", "day" },	 { 'i', "--issued", "issued" },
	{ 'H', "--horizon", "horizon" }, { 'm', "--model", "model" },
	{ 'v', "--model-version", "model_version" },
};

/* Read and parse the prices file into c->prices; a CLI status. */
static int load_prices(struct commit_cli *c)
{
	struct wc_error err = { 0 };
	struct dynbuf b;
	int ret = CMD_OK;

	dynbuf_init(&b, PRICES_TEXT_MAX);
	if (cli_read_file(c->prices_file, &b, &err)) {
		cmd_error("commit", "%s", wc_error_msg(&err));
		ret = CMD_FAIL;
	} else if (price_table_parse(dynbuf_str(&b), b.len, &c->prices, &err)) {
		cmd_error("commit", "cannot read prices '%s': %s", c->prices_file, wc_error_msg(&err));
		ret = CMD_USAGE;
	}
	dynbuf_release(&b);
	return ret;
}

static int parse_args(int argc, char **argv, struct commit_cli *c)
{
	struct option opts[16 + MARKET_NFIELDS] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "portfolio", required_argument, NULL, 'P' },
		{ "day", required_argument, NULL, 'd' },
		{ "issued", required_argument, NULL, 'i' },
		{ "issued-file", required_argument, NULL, 'I' },
		{ "horizon", required_argument, NULL, 'H' },
		{ "model", required_argument, NULL, 'm' },
		{ "model-version", required_argument, NULL, 'v' },
		{ "prices", required_argument, NULL, 'p' },
		{ "no-store", no_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct wc_error err = { 0 };
	const char *farm = NULL, *portfolio = NULL;
	int code, f;

	market_opts_add(opts, 12);
	optind = 1;
	opterr = 0;
	while ((code = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		size_t k = 0;

		if ((f = market_opt_field(code)) >= 0) {
			if (commit_request_set(&c->r, market_fields[f].key, optarg, &err))
				return cli_bad_option("commit", market_fields[f].option, optarg,
						      err.msg);
			continue;
		}
		while (k < sizeof(request_opts) / sizeof(request_opts[0]) &&
		       request_opts[k].code != code)
			k++;
		if (k < sizeof(request_opts) / sizeof(request_opts[0])) {
			if (commit_request_set(&c->r, request_opts[k].key, optarg, &err))
				return cli_bad_option("commit", request_opts[k].opt, optarg, err.msg);
			continue;
		}
		switch (code) {
		case 'f':
			farm = optarg;
			break;
		case 'P':
			portfolio = optarg;
			break;
		case 'I':
			c->issued_file = optarg;
			break;
		case 'p':
			c->prices_file = optarg;
			break;
		case 'n':
			c->r.fr.store = false;
			break;
		case 'F':
			if (cli_format_parse("commit", optarg, CLI_FORMATS_ALL, &c->format))
				return CMD_USAGE;
			break;
		case 'h':
			commit_usage(stdout);
			return -1;
		default:
			return cli_bad_getopt("commit", code, argv);
		}
	}
	if (optind < argc) {
		cmd_error("commit", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!farm == !portfolio) {
		cmd_error("commit", "give one of --farm and --portfolio; see 'windcast commit "
				    "--help'");
		return CMD_USAGE;
	}
	if (!farm_id_valid(farm ? farm : portfolio))
		return cli_bad_option("commit", farm ? "--farm" : "--portfolio",
				      farm ? farm : portfolio, "not an id");
	c->r.portfolio = portfolio != NULL;
	c->r.id = farm ? farm : portfolio;
	if (c->issued_file && (c->r.issued != INT64_MIN)) {
		cmd_error("commit", "use one of --issued and --issued-file");
		return CMD_USAGE;
	}
	if (!c->issued_file && c->r.day == INT64_MIN && c->r.issued == INT64_MIN) {
		cmd_error("commit", "give --day, --issued or --issued-file; see 'windcast commit "
				    "--help'");
		return CMD_USAGE;
	}
	if (c->prices_file) {
		int ret = load_prices(c);

		if (ret)
			return ret;
		c->r.prices = &c->prices;
	}
	return CMD_OK;
}

/* The text form: a header naming the day, the forecast and the prices, then the periods. */
static void print_text(const struct schedule *s, bool blank_first)
{
	const struct forecast *fc = &s->pfc.fc;
	char t[UTC_ISO_LEN], u[UTC_ISO_LEN], notes[700];

	if (blank_first)
		putchar('\n');
	printf("%s %s, %.6g MW", fc->portfolio ? "portfolio" : "farm", fc->farm_id,
	       fc->capacity_mw);
	if (s->has_day) {
		int64_t y;
		int m, d;

		utc_civil_from_days(s->day.day, &y, &m, &d);
		printf(", trading day %04lld-%02d-%02d (%s, %d periods), gate closure %s",
		       (long long)y, m, d, s->market.time_zone, s->day.nperiods,
		       utc_format(s->day.gate, t));
	}
	printf("\nforecast issued %s (%s), model %s", utc_format(fc->issued, t),
	       fc->issued_reason[0] ? fc->issued_reason : forecast_issued_rule_name(fc->issued_rule),
	       fc->model);
	if (fc->model_version)
		printf(" version %d", fc->model_version);
	if (fc->has_run)
		printf(", NWP run %s", fc->run_is_forecast ? utc_format(fc->run_ref_time, u)
							 : "analysis");
	putchar('\n');
	if (fc->fallback[0])
		printf("fallback: %s\n", fc->fallback);
	forecast_notes(fc, notes, sizeof(notes));
	if (notes[0])
		printf("note: %s\n", notes);
	printf("prices from %s; MW, MWh and currency\n", s->prices_file ? "the file" : "settings");
	printf("%-20s %-20s %8s %8s %6s %10s %10s %10s %11s %11s\n", "period_start", "period_end",
	       "price", "psi+/psi-", "alpha", "commit_mw", "median_mw", "mean_mw", "exp_cost",
	       "exp_revenue");
	for (int i = 0; i < s->n; i++) {
		const struct commit_period *p = &s->p[i];
		char pen[24];

		snprintf(pen, sizeof(pen), "%g/%g", p->prices.psi_plus, p->prices.psi_minus);
		printf("%-20s %-20s %8.6g %8s %6.3f %10.3f %10.3f %10.3f %11.2f %11.2f%s\n",
		       utc_format(p->start, t), utc_format(p->end, u), p->prices.price, pen,
		       p->alpha, p->committed_mw, p->median_mw, p->mean_mw,
		       p->expect.imbalance_cost, p->expect.revenue, p->limited ? " limited" : "");
	}
	printf("total: %d periods, committed %.3f MWh (mean forecast %.3f MWh), expected "
	       "imbalance cost %.2f, expected revenue %.2f\n",
	       s->n, s->committed_mwh, s->mean_mwh, s->imbalance_cost, s->revenue);
}

int cmd_commit(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct commit_cli c = { .format = CLI_TEXT };
	struct committer *cm = NULL;
	struct schedule *sch = NULL;
	struct wc_error err = { 0 };
	struct dynbuf csv;
	int64_t *times = NULL, lo = INT64_MIN, hi = INT64_MIN;
	size_t ntimes = 0, n = 0;
	json_t *arr = NULL;
	int ret;
	char t[UTC_ISO_LEN];

	commit_request_init(&c.r);
	dynbuf_init(&csv, (size_t)1 << 30);
	if ((ret = parse_args(argc, argv, &c))) {
		ret = ret < 0 ? CMD_OK : ret;
		goto cleanup;
	}
	if (c.issued_file &&
	    (ret = cli_read_times("commit", c.issued_file, MAX_ISSUES, &times, &ntimes)))
		goto cleanup;
	for (size_t i = 0; i < ntimes; i++) {
		lo = i == 0 || times[i] < lo ? times[i] : lo;
		hi = i == 0 || times[i] > hi ? times[i] : hi;
	}
	if (committer_open(ctx->store, &c.r, lo, hi, &cm, &err)) {
		cmd_error("commit", "%s", wc_error_msg(&err));
		ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		goto cleanup;
	}
	if (!ntimes) {
		if (!(times = malloc(sizeof(*times)))) {
			cmd_error("commit", "out of memory");
			ret = CMD_FAIL;
			goto cleanup;
		}
		times[ntimes++] = committer_issued(cm);
	}
	if (!(sch = calloc(ntimes, sizeof(*sch)))) {
		cmd_error("commit", "out of memory");
		ret = CMD_FAIL;
		goto cleanup;
	}
	for (size_t i = 0; i < ntimes; i++) {
		if (committer_run(cm, times[i], &sch[n], &err)) {
			if (ntimes > 1)
				cmd_error("commit", "issued %s: %s", utc_format(times[i], t),
					  wc_error_msg(&err));
			else
				cmd_error("commit", "%s", wc_error_msg(&err));
			ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
			continue;
		}
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (c.format == CLI_CSV) {
			if (schedule_csv(&sch[i], i == 0, &csv)) {
				cmd_error("commit", "output too large");
				ret = CMD_FAIL;
				goto cleanup;
			}
		} else if (c.format == CLI_TEXT) {
			print_text(&sch[i], i > 0);
		} else {
			if (!arr && !(arr = json_array())) {
				cmd_error("commit", "out of memory");
				ret = CMD_FAIL;
				goto cleanup;
			}
			json_array_append_new(arr, schedule_json(&sch[i]));
		}
	}
	if (c.format == CLI_CSV)
		fwrite(dynbuf_str(&csv), 1, csv.len, stdout);
	else if (arr)
		cli_print_json(ntimes == 1 && !c.issued_file ? json_array_get(arr, 0) : arr);
cleanup:
	for (size_t i = 0; sch && i < n; i++)
		schedule_release(&sch[i]);
	free(sch);
	free(times);
	json_decref(arr);
	dynbuf_release(&csv);
	committer_free(cm);
	price_table_release(&c.prices);
	return ret;
}
