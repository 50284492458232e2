/*
 * cmd.h - the subcommand table of the `windcast` binary.
 *
 * Adding a subcommand:
 *   1. write `int cmd_<name>(int argc, char **argv, struct cmd_ctx *ctx)` in
 *      cli/cmd_<name>.c (argv[0] is the subcommand name; parse the rest with
 *      getopt_long, print usage on --help and return 0, on bad usage return CMD_USAGE);
 *   2. declare it below and add one row to the table in cli/main.c, with the flags it
 *      needs: NEEDS_STORE (reads: the store must exist) or CREATES_STORE (writes: the
 *      store is created when missing); main.c opens it into ctx before the call, in one
 *      place. A command with subcommands (farm, obs, portfolio) lists them in a table of its own
 *      (`subs`), one flag each, which main.c applies and the command dispatches on;
 *   3. if it prints data, take --format with cli_format_parse (the rule is there);
 *   4. add a CLI test in tests/unit/test_cli*.c that runs the built binary;
 *   5. document it in README.md (tour) and docs/cli.md.
 *
 * Exit status: CMD_OK (0) success, CMD_FAIL (1) the job failed, CMD_USAGE (2) bad usage.
 * Errors go to stderr as "windcast <cmd>: <message>", results to stdout.
 */
#ifndef WC_CMD_H
#define WC_CMD_H

#include <stdio.h>

enum { CMD_OK = 0, CMD_FAIL = 1, CMD_USAGE = 2 };

enum cmd_flags {
	NEEDS_STORE = 1 << 0,	/* open (and migrate) the store under --data; refuse a
				   missing one, naming the path (a mistyped --data) */
	CREATES_STORE = 1 << 1,	/* the same, creating the store when missing */
};

struct store;

struct cmd_ctx {
	const char *data_dir;	/* --data DIR, $WINDCAST_DATA, or ./windcast-data */
	struct store *store;	/* open when the command has a *_STORE flag, else NULL */
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cmd_ctx *ctx);
	unsigned flags;
	const char *summary;
	const struct cmd *subs;	/* subcommands (ended by a NULL name), or NULL */
};

/* The entry named `name` in subs (a table ended by a NULL name; NULL too), or NULL. */
const struct cmd *cmd_find_sub(const struct cmd *subs, const char *name);

/* Print "windcast <cmd>: <message>\n" to stderr. */
void cmd_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const struct cmd farm_subcommands[];
extern const struct cmd obs_subcommands[];
extern const struct cmd token_subcommands[];
extern const struct cmd portfolio_subcommands[];

int cmd_version(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_init(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_farm(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_ingest(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_obs(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_weather(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_serve(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_demo_data(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_train(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_forecast(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_token(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_batch(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_portfolio(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_farm_market(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_commit(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_backtest(int argc, char **argv, struct cmd_ctx *ctx);

#endif
