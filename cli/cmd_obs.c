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
	"usage: windcast obs import --farm ID FILE\n"
	"       windcast obs list --farm ID [--from ISO] [--to ISO] [--format csv|json]\n"
	"\n"
	"FILE is CSV with a header 'time,power_mw[,flag]' (flag: ok, outage, curtailed)\n"
	"or a JSON array of {\"time\":..,\"power_mw\":..}; '-' reads standard input.\n"
	"Times are hour-ending, ISO 8601 or YYYYMMDDHH. Power must lie within\n"
	"[-0.05, 1.10] x capacity. Re-importing an hour updates it. One file is one\n"
	"transaction: a file with any bad row stores nothing.\n";

/* Observation files are text; 512 MiB is decades of hours. */
#define OBS_FILE_MAX ((size_t)512 << 20)

static enum wc_status read_all(const char *path, struct dynbuf *b, struct wc_error *err)
{
	char chunk[65536];
	size_t n;
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;

	if (!f)
		return wc_error_set(err, WC_EIO, "cannot open '%s': %m", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (dynbuf_add(b, chunk, n)) {
			if (f != stdin)
				fclose(f);
			return wc_error_set(err, WC_ETOOLARGE, "'%s' is larger than %zu MiB",
					    path, OBS_FILE_MAX >> 20);
		}
	}
	if (ferror(f)) {
		if (f != stdin)
			fclose(f);
		return wc_error_set(err, WC_EIO, "cannot read '%s': %m", path);
	}
	if (f != stdin)
		fclose(f);
	return WC_OK;
}

static int obs_import(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *farm_id = NULL, *path;
	struct wc_error err = { 0 };
	struct obs_row *rows = NULL;
	struct dynbuf b;
	struct farm f;
	size_t n = 0;
	int c, ret = CMD_FAIL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f') {
			farm_id = optarg;
		} else if (c == 'h') {
			fputs(obs_usage, stdout);
			return CMD_OK;
		} else {
			cmd_error("obs import", "unknown option '%s'", argv[optind - 1]);
			return CMD_USAGE;
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
	if (read_all(path, &b, &err) ||
	    obs_parse(dynbuf_str(&b), b.len, f.capacity_mw, &rows, &n, &err)) {
		cmd_error("obs import", "cannot import '%s': %s; nothing was stored", path,
			  wc_error_msg(&err));
		goto cleanup;
	}
	if (store_obs_upsert(ctx->store, farm_id, rows, n, &err)) {
		cmd_error("obs import", "cannot store '%s': %s; nothing was stored", path,
			  wc_error_msg(&err));
		goto cleanup;
	}
	if (n) {
		char a[UTC_ISO_LEN], z[UTC_ISO_LEN];

		printf("imported %zu observations of '%s' (%s..%s) from '%s'\n", n, farm_id,
		       utc_format(rows[0].time, a), utc_format(rows[n - 1].time, z), path);
	} else {
		printf("'%s' holds no observations\n", path);
	}
	ret = CMD_OK;
cleanup:
	free(rows);
	dynbuf_release(&b);
	return ret;
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
	const char *farm_id = NULL, *format = "csv";
	int64_t from = INT64_MIN, to = INT64_MAX;
	struct wc_error err = { 0 };
	struct obs_row *rows;
	struct farm f;
	size_t n;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			farm_id = optarg;
			break;
		case 'a':
		case 'z':
			if (!utc_parse(optarg, c == 'a' ? &from : &to)) {
				cmd_error("obs list", "invalid time '%s': use ISO 8601", optarg);
				return CMD_USAGE;
			}
			break;
		case 'F':
			format = optarg;
			break;
		case 'h':
			fputs(obs_usage, stdout);
			return CMD_OK;
		default:
			cmd_error("obs list", "unknown option '%s'", argv[optind - 1]);
			return CMD_USAGE;
		}
	}
	if (!farm_id || optind != argc) {
		cmd_error("obs list", "expected --farm ID");
		return CMD_USAGE;
	}
	if (strcmp(format, "csv") && strcmp(format, "json")) {
		cmd_error("obs list", "unknown format '%s': use csv or json", format);
		return CMD_USAGE;
	}
	if (store_farm_get(ctx->store, farm_id, &f, &err) ||
	    store_obs_query(ctx->store, farm_id, from, to, &rows, &n, &err)) {
		cmd_error("obs list", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (!strcmp(format, "json")) {
		json_t *arr = json_array();
		char t[UTC_ISO_LEN];

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:f,s:s}", "time",
							     utc_format(rows[i].time, t), "power_mw",
							     rows[i].power_mw, "flag",
							     obs_flag_name(rows[i].flag)));
		cli_print_json(arr);
		json_decref(arr);
	} else {
		char t[UTC_ISO_LEN];

		printf("time,power_mw,flag\n");
		for (size_t i = 0; i < n; i++)
			printf("%s,%.6g,%s\n", utc_format(rows[i].time, t), rows[i].power_mw,
			       obs_flag_name(rows[i].flag));
	}
	free(rows);
	return CMD_OK;
}

int cmd_obs(int argc, char **argv, struct cmd_ctx *ctx)
{
	if (argc >= 2 && !strcmp(argv[1], "import"))
		return obs_import(argc - 1, argv + 1, ctx);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return obs_list(argc - 1, argv + 1, ctx);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(obs_usage, stdout);
		return CMD_OK;
	}
	if (argc >= 2)
		cmd_error("obs", "unknown subcommand '%s'", argv[1]);
	fputs(obs_usage, stderr);
	return CMD_USAGE;
}
