/*
 * cmd_portfolio.c - `windcast portfolio add|list|show|rm`: the portfolio registry from
 * the shell, and `windcast farm market`: a farm's market settings. Thin adapters over
 * data/portfolio.h; the settings' options come from cli/market_opts.h.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/market_opts.h"
#include "cli/util.h"
#include "common/dynbuf.h"
#include "data/portfolio.h"
#include "data/store.h"

static void portfolio_usage(FILE *out)
{
	fputs("usage: windcast portfolio add --id ID --farms A,B,... [--name NAME] [--replace]\n"
	      "                              [market settings] [--format text|json]\n"
	      "       windcast portfolio list [--format text|json|csv]\n"
	      "       windcast portfolio show ID [--format text|json|csv]\n"
	      "       windcast portfolio rm ID\n"
	      "\n"
	      "A portfolio is a named set of registered farms (1 to 200, none twice) that is\n"
	      "forecast and committed as one ('windcast forecast --portfolio ID', 'windcast\n"
	      "commit --portfolio ID'). --replace updates an existing portfolio (its farms and\n"
	      "settings). A farm in a portfolio cannot be removed until no portfolio holds it.\n"
	      "\n"
	      "market settings (each optional; unset ones come from the request):\n",
	      out);
	market_opts_usage(out);
}

static void market_text(const struct market_settings *m, const char *indent)
{
	char gate[8];

	for (int f = 0; f < MARKET_NFIELDS; f++) {
		printf("%s%-13s", indent, market_fields[f].key);
		switch (f) {
		case MARKET_PRICE:
		case MARKET_PSI_PLUS:
		case MARKET_PSI_MINUS:
		case MARKET_MIN_MW:
		case MARKET_MAX_MW: {
			const double v[] = { [MARKET_PRICE] = m->price, [MARKET_PSI_PLUS] = m->psi_plus,
					     [MARKET_PSI_MINUS] = m->psi_minus,
					     [MARKET_MIN_MW] = m->min_mw, [MARKET_MAX_MW] = m->max_mw };

			if (isnan(v[f]))
				printf("-\n");
			else
				printf("%g\n", v[f]);
			break;
		}
		case MARKET_GATE_CLOSURE:
			printf("%s\n", m->gate_min >= 0 ? market_gate_text(m->gate_min, gate)
						       : "- (default 12:00 the day before)");
			break;
		default:
			printf("%s\n", m->time_zone[0] ? m->time_zone : "- (default UTC)");
		}
	}
}

static int print_portfolios(const char *cmd, const struct portfolio *p, size_t n, bool one,
			    enum cli_format fmt)
{
	struct dynbuf b;
	json_t *arr;
	int ret = CMD_OK;

	if (fmt == CLI_JSON) {
		if (one)
			return cli_print_json_new(cmd, portfolio_to_json(p)) ? CMD_OK : CMD_FAIL;
		arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, portfolio_to_json(&p[i]));
		return cli_print_json_new(cmd, arr) ? CMD_OK : CMD_FAIL;
	}
	if (fmt == CLI_CSV) {
		dynbuf_init(&b, 64u << 20);
		if (portfolio_csv_write(&b, p, n)) {
			cmd_error(cmd, "output too large");
			ret = CMD_FAIL;
		} else {
			fwrite(dynbuf_str(&b), 1, b.len, stdout);
		}
		dynbuf_release(&b);
		return ret;
	}
	if (!one) {
		printf("%-20s %-30s %12s %6s\n", "id", "name", "capacity_mw", "farms");
		for (size_t i = 0; i < n; i++)
			printf("%-20s %-30s %12.3f %6d\n", p[i].id, p[i].name, p[i].capacity_mw,
			       p[i].nfarms);
		return CMD_OK;
	}
	printf("id           %s\nname         %s\ncapacity_mw  %g\nfarms        ", p->id, p->name,
	       p->capacity_mw);
	for (int k = 0; k < p->nfarms; k++)
		printf("%s%s", k ? "," : "", p->farms[k]);
	printf("\nmarket:\n");
	market_text(&p->market, "  ");
	return CMD_OK;
}

static int portfolio_add(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct option opts[8 + MARKET_NFIELDS] = {
		{ "id", required_argument, NULL, 'i' },
		{ "farms", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' },
		{ "replace", no_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct portfolio *p = malloc(sizeof(*p));
	enum cli_format fmt = CLI_TEXT;
	struct wc_error err = { 0 };
	bool replace = false, created = true, farms = false;
	int c, f, ret = CMD_OK;

	if (!p) {
		cmd_error("portfolio add", "out of memory");
		return CMD_FAIL;
	}
	portfolio_init(p);
	market_opts_add(opts, 6);
	optind = 1;
	opterr = 0;
	while (!ret && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if ((f = market_opt_field(c)) >= 0) {
			ret = market_opt_set("portfolio add", f, optarg, &p->market);
			continue;
		}
		switch (c) {
		case 'i':
			if (!farm_id_valid(optarg))
				ret = cli_bad_option("portfolio add", "--id", optarg,
						     "use 1-64 characters a-z, 0-9, '-', '_', not "
						     "starting with '-'");
			else
				snprintf(p->id, sizeof(p->id), "%s", optarg);
			break;
		case 'f':
			if (portfolio_set_farms(p, optarg, &err))
				ret = cli_bad_option("portfolio add", "--farms", optarg, err.msg);
			farms = true;
			break;
		case 'n':
			if (!*optarg || strlen(optarg) > FARM_NAME_MAX) {
				cmd_error("portfolio add", "invalid --name: use 1 to %d bytes",
					  FARM_NAME_MAX);
				ret = CMD_USAGE;
			} else {
				snprintf(p->name, sizeof(p->name), "%s", optarg);
			}
			break;
		case 'r':
			replace = true;
			break;
		case 'F':
			ret = cli_format_parse("portfolio add", optarg, CLI_FORMATS_NO_CSV, &fmt);
			break;
		case 'h':
			portfolio_usage(stdout);
			free(p);
			return CMD_OK;
		default:
			ret = cli_bad_getopt("portfolio add", c, argv);
		}
	}
	if (!ret && optind < argc) {
		cmd_error("portfolio add", "unexpected argument '%s'", argv[optind]);
		ret = CMD_USAGE;
	}
	if (!ret && (!p->id[0] || !farms)) {
		cmd_error("portfolio add", "--id and --farms are required; see 'windcast portfolio "
					   "--help'");
		ret = CMD_USAGE;
	}
	if (ret)
		goto cleanup;
	if (!p->name[0])
		snprintf(p->name, sizeof(p->name), "%s", p->id);
	if (replace ? store_portfolio_put(ctx->store, p, &created, &err)
		    : store_portfolio_add(ctx->store, p, &err)) {
		cmd_error("portfolio add", "%s", wc_error_msg(&err));
		ret = err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		goto cleanup;
	}
	/* read back: the capacity is the store's sum */
	if (store_portfolio_get(ctx->store, p->id, p, &err)) {
		cmd_error("portfolio add", "%s", wc_error_msg(&err));
		ret = CMD_FAIL;
	} else if (fmt == CLI_JSON) {
		ret = print_portfolios("portfolio add", p, 1, true, fmt);
	} else {
		printf("%s portfolio '%s': %d farm%s, %g MW\n", created ? "added" : "replaced", p->id,
		       p->nfarms, p->nfarms == 1 ? "" : "s", p->capacity_mw);
	}
cleanup:
	free(p);
	return ret;
}

static int portfolio_list(int argc, char **argv, struct cmd_ctx *ctx)
{
	enum cli_format fmt;
	struct wc_error err = { 0 };
	struct portfolio *p;
	size_t n;
	int rc = cli_list_show_args("portfolio list", argc, argv, "portfolio", NULL, &fmt,
				    portfolio_usage);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	if (store_portfolio_list(ctx->store, &p, &n, &err)) {
		cmd_error("portfolio list", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	rc = print_portfolios("portfolio list", p, n, false, fmt);
	free(p);
	return rc;
}

static int portfolio_show(int argc, char **argv, struct cmd_ctx *ctx)
{
	enum cli_format fmt;
	struct wc_error err = { 0 };
	const char *id = NULL;
	struct portfolio *p;
	int rc = cli_list_show_args("portfolio show", argc, argv, "portfolio", &id, &fmt,
				    portfolio_usage);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	if (!(p = malloc(sizeof(*p)))) {
		cmd_error("portfolio show", "out of memory");
		return CMD_FAIL;
	}
	if (store_portfolio_get(ctx->store, id, p, &err)) {
		cmd_error("portfolio show", "%s", wc_error_msg(&err));
		rc = CMD_FAIL;
	} else {
		rc = print_portfolios("portfolio show", p, 1, true, fmt);
	}
	free(p);
	return rc;
}

static int portfolio_rm(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct wc_error err = { 0 };

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		portfolio_usage(stdout);
		return CMD_OK;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_error("portfolio rm", "expected exactly one portfolio id");
		return CMD_USAGE;
	}
	if (store_portfolio_delete(ctx->store, argv[1], &err)) {
		cmd_error("portfolio rm", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	printf("removed portfolio '%s'\n", argv[1]);
	return CMD_OK;
}

const struct cmd portfolio_subcommands[] = {
	{ "add", portfolio_add, NEEDS_STORE, "register (or --replace) a portfolio", NULL },
	{ "list", portfolio_list, NEEDS_STORE, "list the portfolios", NULL },
	{ "show", portfolio_show, NEEDS_STORE, "one portfolio", NULL },
	{ "rm", portfolio_rm, NEEDS_STORE, "remove a portfolio (its farms stay)", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

int cmd_portfolio(int argc, char **argv, struct cmd_ctx *ctx)
{
	const struct cmd *sub;

	if (argc < 2) {
		portfolio_usage(stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		portfolio_usage(stdout);
		return CMD_OK;
	}
	if ((sub = cmd_find_sub(portfolio_subcommands, argv[1])))
		return sub->fn(argc - 1, argv + 1, ctx);
	cmd_error("portfolio", "unknown subcommand '%s'", argv[1]);
	portfolio_usage(stderr);
	return CMD_USAGE;
}

/* ---- windcast farm market ---- */

static void farm_market_usage(FILE *out)
{
	fputs("usage: windcast farm market ID [market settings] [--clear] [--format text|json]\n"
	      "\n"
	      "Show a farm's stored market settings, or set those given (the others stay; with\n"
	      "--clear every setting is removed first). 'windcast commit' merges the request's\n"
	      "over them.\n"
	      "\n"
	      "market settings:\n",
	      out);
	market_opts_usage(out);
}

int cmd_farm_market(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct option opts[4 + MARKET_NFIELDS] = {
		{ "clear", no_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct market_settings m, given;
	enum cli_format fmt = CLI_TEXT;
	struct wc_error err = { 0 };
	bool clear = false;
	const char *id;
	int c, f, ret = CMD_OK;

	market_init(&given);
	market_opts_add(opts, 3);
	optind = 1;
	opterr = 0;
	while (!ret && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if ((f = market_opt_field(c)) >= 0) {
			ret = market_opt_set("farm market", f, optarg, &given);
		} else if (c == 'c') {
			clear = true;
		} else if (c == 'F') {
			ret = cli_format_parse("farm market", optarg, CLI_FORMATS_NO_CSV, &fmt);
		} else if (c == 'h') {
			farm_market_usage(stdout);
			return CMD_OK;
		} else {
			ret = cli_bad_getopt("farm market", c, argv);
		}
	}
	if (ret)
		return ret;
	if (optind != argc - 1) {
		cmd_error("farm market", "expected exactly one farm id");
		return CMD_USAGE;
	}
	id = argv[optind];
	if (store_farm_market_get(ctx->store, id, &m, &err)) {
		cmd_error("farm market", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (clear || !market_empty(&given)) {
		if (clear)
			market_init(&m);
		market_merge(&m, &m, &given);
		if (store_farm_market_put(ctx->store, id, &m, &err)) {
			cmd_error("farm market", "%s", wc_error_msg(&err));
			return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
		}
	}
	if (fmt == CLI_JSON)
		return cli_print_json_new("farm market",
					  json_pack("{s:s,s:o}", "farm", id, "market",
						    market_to_json(&m)))
			       ? CMD_OK
			       : CMD_FAIL;
	printf("farm %s market settings%s:\n", id, market_empty(&m) ? " (none stored)" : "");
	market_text(&m, "  ");
	return CMD_OK;
}
