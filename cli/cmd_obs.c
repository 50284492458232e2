/*
 * cmd_obs.c - `windcast obs import|list`: metered output of a farm.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/dynbuf.h"
#include "common/utc.h"
#include "data/obs.h"
#include "data/store.h"

static const char obs_usage[] =
	"usage: windcast obs import --farm ID [--format text|json] FILE\n"
	"       windcast obs list --farm ID [--from ISO] [--to ISO] [--format text|json|csv]\n"
	"\n"
	"FILE is CSV with a header 'time,power_mw[,flag]' (flag: ok, outage, curtailed)\n"
	"or a JSON array of {\"time\":..,\"power_mw\":..}; '-' reads standard input.\n"
	"Times are hour-ending, ISO 8601 or YYYYMMDDHH, from 1900 to 2200. Power must lie\n"
	"within [-0.05, 1.10] x capacity. Re-importing an hour updates it. One file is one\n"
	"transaction: a file with any bad row stores nothing.\n";

/* Observation files are text; 512 MiB is decades of hours. */
#define OBS_FILE_MAX ((size_t)512 << 20)

static int obs_import(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *farm_id = NULL, *path;
	enum cli_format fmt = CLI_TEXT;
	struct wc_error err = { 0 };
	struct obs_row *rows = NULL;
	struct dynbuf b;
	struct farm f;
	size_t n = 0;
	int c, ret = CMD_FAIL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'f') {
			farm_id = optarg;
		} else if (c == 'F') {
			if (cli_format_parse("obs import", optarg, CLI_FORMATS_NO_CSV, &fmt))
				return CMD_USAGE;
		} else if (c == 'h') {
			fputs(obs_usage, stdout);
			return CMD_OK;
		} else {
			return cli_bad_getopt("obs import", c, argv);
		}
	}
	if (!farm_id || optind != argc - 1) {
		cmd_error("obs import", "expected --farm ID and exactly one FILE");
		return CMD_USAGE;
	}
	path = argv[optind];
	if (store_farm_get(ctx->store, farm_id, &f, &err)) {
		cmd_error("obs import", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	dynbuf_init(&b, OBS_FILE_MAX);
	if (cli_read_file(path, &b, &err)) {
		cmd_error("obs import", "%s; nothing was stored", wc_error_msg(&err));
		goto cleanup;
	}
	if (obs_parse(dynbuf_str(&b), b.len, f.capacity_mw, &rows, &n, &err)) {
		cmd_error("obs import", "cannot import '%s': %s; nothing was stored", path,
			  wc_error_msg(&err));
		goto cleanup;
	}
	if (store_obs_upsert(ctx->store, farm_id, rows, n, &err)) {
		cmd_error("obs import", "cannot store '%s': %s; nothing was stored", path,
			  wc_error_msg(&err));
		goto cleanup;
	}
	ret = CMD_OK;
	if (fmt == CLI_JSON) {
		if (!cli_print_json_new("obs import", obs_stored_json(farm_id, rows, n)))
			ret = CMD_FAIL;
	} else if (n) {
		char a[UTC_ISO_LEN], z[UTC_ISO_LEN];

		printf("imported %zu observations of '%s' (%s..%s) from '%s'\n", n, farm_id,
		       utc_format(rows[0].time, a), utc_format(rows[n - 1].time, z), path);
	} else {
		printf("'%s' holds no observations\n", path);
	}
cleanup:
	free(rows);
	dynbuf_release(&b);
	return ret;
}

static void print_obs(const struct obs_row *rows, size_t n, enum cli_format fmt)
{
	char t[UTC_ISO_LEN];
	json_t *arr;

	switch (fmt) {
	case CLI_JSON:
		arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:f,s:s}", "time",
							     utc_format(rows[i].time, t), "power_mw",
							     rows[i].power_mw, "flag",
							     obs_flag_name(rows[i].flag)));
		cli_print_json_new("obs list", arr);
		break;
	case CLI_CSV:
		printf("time,power_mw,flag\n");
		for (size_t i = 0; i < n; i++)
			printf("%s,%.6g,%s\n", utc_format(rows[i].time, t), rows[i].power_mw,
			       obs_flag_name(rows[i].flag));
		break;
	case CLI_TEXT:
		printf("%-20s %12s  %s\n", "TIME", "POWER_MW", "FLAG");
		for (size_t i = 0; i < n; i++)
			printf("%-20s %12.3f  %s\n", utc_format(rows[i].time, t),
			       rows[i].power_mw, obs_flag_name(rows[i].flag));
		break;
	}
}

static int obs_list(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 'z' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *farm_id = NULL, *from_arg = NULL, *to_arg = NULL;
	enum cli_format fmt = CLI_TEXT;
	int64_t from = INT64_MIN, to = INT64_MAX;
	struct wc_error err = { 0 };
	struct obs_row *rows;
	struct farm f;
	size_t n;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			farm_id = optarg;
			break;
		case 'a':
		case 'z':
			if (!utc_parse(optarg, c == 'a' ? &from : &to))
				return cli_bad_option("obs list", c == 'a' ? "--from" : "--to",
						      optarg,
						      "use ISO 8601, e.g. 2026-01-01T13:00:00Z");
			*(c == 'a' ? &from_arg : &to_arg) = optarg;
			break;
		case 'F':
			if (cli_format_parse("obs list", optarg, CLI_FORMATS_ALL, &fmt))
				return CMD_USAGE;
			break;
		case 'h':
			fputs(obs_usage, stdout);
			return CMD_OK;
		default:
			return cli_bad_getopt("obs list", c, argv);
		}
	}
	if (!farm_id || optind != argc) {
		cmd_error("obs list", "expected --farm ID");
		return CMD_USAGE;
	}
	if (from > to) {
		cmd_error("obs list", "invalid --from '%s': after --to '%s'; give --from <= --to",
			  from_arg, to_arg);
		return CMD_USAGE;
	}
	if (store_farm_get(ctx->store, farm_id, &f, &err) ||
	    store_obs_query(ctx->store, farm_id, from, to, &rows, &n, &err)) {
		cmd_error("obs list", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	print_obs(rows, n, fmt);
	free(rows);
	return CMD_OK;
}

/* import writes, but only for a registered farm: both need a store that exists. */
const struct cmd obs_subcommands[] = {
	{ "import", obs_import, NEEDS_STORE, "import metered output", NULL },
	{ "list", obs_list, NEEDS_STORE, "list stored observations", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

int cmd_obs(int argc, char **argv, struct cmd_ctx *ctx)
{
	const struct cmd *sub = argc >= 2 ? cmd_find_sub(obs_subcommands, argv[1]) : NULL;

	if (sub)
		return sub->fn(argc - 1, argv + 1, ctx);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(obs_usage, stdout);
		return CMD_OK;
	}
	if (argc >= 2)
		cmd_error("obs", "unknown subcommand '%s'", argv[1]);
	fputs(obs_usage, stderr);
	return CMD_USAGE;
}
