/*
 * cmd.h - the subcommand table of the `windcast` binary.
 *
 * Adding a subcommand:
 *   1. write `int cmd_<name>(int argc, char **argv, struct cmd_ctx *ctx)` in
 *      cli/cmd_<name>.c (argv[0] is the subcommand name; parse the rest with
 *      getopt_long, print usage on --help and return 0, on bad usage return CMD_USAGE);
 *   2. declare it below and add one row to the table in cli/main.c, with the flags it
 *      needs (NEEDS_STORE opens the store in ctx before the call, in one place);
 *   3. add a CLI test in tests/unit/test_cli*.c that runs the built binary;
 *   4. document it in README.md (tour) and docs/cli.md.
 *
 * Exit status: CMD_OK (0) success, CMD_FAIL (1) the job failed, CMD_USAGE (2) bad usage.
 * Errors go to stderr as "windcast <cmd>: <message>", results to stdout.
 */
#ifndef WC_CMD_H
#define WC_CMD_H

#include <stdio.h>

enum { CMD_OK = 0, CMD_FAIL = 1, CMD_USAGE = 2 };

enum cmd_flags {
	NEEDS_STORE = 1 << 0,	/* open (and migrate) the store under --data first */
};

struct store;

struct cmd_ctx {
	const char *data_dir;	/* --data DIR, $WINDCAST_DATA, or ./windcast-data */
	struct store *store;	/* open when the command has NEEDS_STORE, else NULL */
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cmd_ctx *ctx);
	unsigned flags;
	const char *summary;
};

/* Print "windcast <cmd>: <message>\n" to stderr. */
void cmd_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_version(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_farm(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_ingest(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_obs(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_weather(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_serve(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_demo_data(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_train(int argc, char **argv, struct cmd_ctx *ctx);
int cmd_forecast(int argc, char **argv, struct cmd_ctx *ctx);

#endif
