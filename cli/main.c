/*
 * main.c - the `windcast` binary: global options, the subcommand table, dispatch.
 *
 * Thin on purpose: parse the global options, find the subcommand, open the store when
 * the command needs it (the one place that does), run it, clean up.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/blas_reexec.h"
#include "cli/cmd.h"
#include "common/log.h"
#include "data/store.h"
#include "forecast/nn.h"

static const struct cmd commands[] = {
	{ "init", cmd_init, CREATES_STORE, "create the data directory and its store", NULL },
	/* farm, obs and portfolio: each subcommand has its own flag */
	{ "farm", cmd_farm, 0, "register, list, show, remove and import farms",
	  farm_subcommands },
	{ "ingest", cmd_ingest, CREATES_STORE,
	  "ingest NetCDF weather files (NWP runs, reanalyses)", NULL },
	{ "obs", cmd_obs, 0, "import and list metered farm output", obs_subcommands },
	{ "weather", cmd_weather, NEEDS_STORE, "print the site weather stored for a farm", NULL },
	{ "train", cmd_train, NEEDS_STORE, "train a farm's forecaster on its history", NULL },
	{ "forecast", cmd_forecast, NEEDS_STORE,
	  "forecast a farm's or a portfolio's output (model or baseline)", NULL },
	{ "portfolio", cmd_portfolio, 0, "register, list, show and remove portfolios",
	  portfolio_subcommands },
	{ "commit", cmd_commit, NEEDS_STORE,
	  "day-ahead commitments of a farm or portfolio, with expected cost", NULL },
	{ "serve", cmd_serve, NEEDS_STORE, "run the HTTP API server", NULL },
	/* writes, but a store without farms has nothing to run: a missing one is a typo */
	{ "batch", cmd_batch, NEEDS_STORE,
	  "the nightly run: inbox, retraining, forecast files of every farm", NULL },
	{ "backtest", cmd_backtest, NEEDS_STORE,
	  "replay the forecaster over history: scores, forecasts and an HTML report", NULL },
	{ "token", cmd_token, 0, "create, list and revoke API tokens", token_subcommands },
	{ "demo-data", cmd_demo_data, 0, "generate a synthetic NWP + observations data set",
	  NULL },
	{ "version", cmd_version, 0, "print the version", NULL },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

#ifndef WINDCAST_VERSION
#define WINDCAST_VERSION "0.1.0"
#endif

void cmd_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "windcast %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cmd_version(int argc, char **argv, struct cmd_ctx *ctx)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: windcast version\n");
		return CMD_OK;
	}
	if (argc > 1) {
		cmd_error("version", "unexpected argument '%s'", argv[1]);
		return CMD_USAGE;
	}
	printf("windcast %s (schema %d, OpenBLAS %s kernels)\n", WINDCAST_VERSION,
	       store_schema_version(), nn_blas_corename());
	return CMD_OK;
}

const struct cmd *cmd_find_sub(const struct cmd *subs, const char *name)
{
	for (const struct cmd *s = subs; s && s->name; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

int cmd_init(int argc, char **argv, struct cmd_ctx *ctx)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: windcast [--data DIR] init\n"
		       "\n"
		       "Create the data directory and its store (or migrate an existing one to\n"
		       "this windcast's schema), e.g. before the first 'windcast serve'.\n");
		return CMD_OK;
	}
	if (argc > 1) {
		cmd_error("init", "unexpected argument '%s'", argv[1]);
		return CMD_USAGE;
	}
	printf("windcast store at '%s' (schema %d)\n", store_dir(ctx->store),
	       store_schema_version());
	return CMD_OK;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: windcast [--data DIR] [-v | -q] <command> [<args>]\n"
		"\n"
		"Wind power forecasting service: NWP grids and metered output in, hourly\n"
		"probabilistic forecasts of each wind farm out.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"global options (anywhere on the line):\n"
		"  --data DIR        data directory (default $WINDCAST_DATA or ./windcast-data);\n"
		"                    commands that only read refuse a missing one\n"
		"  -v, --verbose     log debug messages\n"
		"  -q, --quiet       log errors only\n"
		"\n"
		"Every command that prints data takes --format text|json|csv: text, for\n"
		"people, is the default; json (one document) and csv are for scripts.\n"
		"'windcast <command> --help' describes a command. Exit status: 0 success,\n"
		"1 the job failed, 2 bad usage.\n");
}

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/*
 * Take the global options out of argv wherever they stand (before "--"), so that
 * `windcast farm list --data DIR` and `windcast --data DIR farm list` both work.
 * Returns the new argc, or -1 on bad usage.
 */
static int take_global_options(int argc, char **argv, const char **data_dir)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--data")) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				fprintf(stderr, "windcast: option '--data' needs a directory\n");
				return -1;
			}
			*data_dir = argv[++i];
		} else if (!strncmp(a, "--data=", 7)) {
			if (!a[7]) {
				fprintf(stderr, "windcast: option '--data' needs a directory\n");
				return -1;
			}
			*data_dir = a + 7;
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			log_set_level(LOG_DEBUG);
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			log_set_level(LOG_ERROR);
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *data_dir = getenv("WINDCAST_DATA");
	struct cmd_ctx ctx = { 0 };
	const struct cmd *cmd;
	struct wc_error err = { 0 };
	const char *env_log = getenv("WINDCAST_LOG");
	unsigned flags;
	char name[64];
	int ret;

	/*
	 * OpenBLAS 0.3.21 reads some virtualised Intel CPUs as Prescott (SSE3 kernels,
	 * training 1.5-4x slower): run again with the better core type unless the user chose
	 * one. If the exec fails the command runs as it is and training logs the advice.
	 */
	blas_reexec_fast(argv);
	if (env_log && log_level_parse(env_log) >= 0)
		log_set_level((enum log_level)log_level_parse(env_log));
	if (!data_dir || !*data_dir)
		data_dir = "./windcast-data";
	argc = take_global_options(argc, argv, &data_dir);
	if (argc < 0)
		return CMD_USAGE;
	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && find_cmd(argv[2])) {
			char *sub[] = { argv[2], "--help", NULL };

			return find_cmd(argv[2])->fn(2, sub, &ctx);
		}
		usage(stdout);
		return CMD_OK;
	}
	if (!strcmp(argv[1], "--version"))
		argv[1] = "version";
	cmd = find_cmd(argv[1]);
	if (!cmd) {
		fprintf(stderr, "windcast: '%s' is not a windcast command; see 'windcast --help'\n",
			argv[1]);
		return CMD_USAGE;
	}
	ctx.data_dir = data_dir;
	if (cmd->subs) {
		/* the subcommand's flag; none when there is no such subcommand (usage) */
		const struct cmd *sub = argc > 2 ? cmd_find_sub(cmd->subs, argv[2]) : NULL;

		flags = sub ? sub->flags : 0;
	} else {
		flags = cmd->flags;
	}
	/* --help never needs the store: let the command print usage without opening it. */
	if ((flags & (NEEDS_STORE | CREATES_STORE)) && !wants_help(argc, argv) &&
	    store_open_with(data_dir, flags & CREATES_STORE ? STORE_CREATE : 0, &ctx.store,
			    &err)) {
		snprintf(name, sizeof(name), "%s%s%s", cmd->name, cmd->subs ? " " : "",
			 cmd->subs ? argv[2] : "");
		if (err.code != WC_ENOTFOUND) {
			cmd_error(name, "%s", wc_error_msg(&err));
			return CMD_FAIL;
		}
		/* a --data that names no store is bad usage (often a typo), not a failure */
		cmd_error(name, "%s: create one with 'windcast init' or 'windcast farm add', or "
				"check --data",
			  wc_error_msg(&err));
		return CMD_USAGE;
	}
	ret = cmd->fn(argc - 1, argv + 1, &ctx);
	store_close(ctx.store);
	return ret;
}
