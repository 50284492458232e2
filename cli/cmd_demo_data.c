/*
 * cmd_demo_data.c - `windcast demo-data`: write a synthetic, deterministic data set
 * (NWP runs, observations, farms.json) for demos and tests; the generator is
 * data/synth.h, whose header describes the weather model.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/synth.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: windcast demo-data --out DIR [--farms N] [--days N] [--seed N]\n"
		"                          [--start ISO]\n"
		"\n"
		"Write a synthetic data set that looks like the real thing, the same bytes for\n"
		"the same options:\n"
		"  DIR/nwp/demo_YYYYMMDDHH.nc  one NWP run per 00 and 12 UTC, leads 0-48 h, ERA5\n"
		"                              conventions (u10 v10 u100 v100 t2m sp)\n"
		"  DIR/obs/<farm id>.csv       hourly metered output: time,power_mw,flag\n"
		"  DIR/farms.json              the farms, for 'windcast farm import'\n"
		"\n"
		"  --out DIR     where to write (created if missing; files are replaced)\n"
		"  --farms N     number of farms, 1-%d (default 3)\n"
		"  --days N      days of runs and observations, 1-%d (default 120)\n"
		"  --seed N      random seed, 0-18446744073709551615 (default 1)\n"
		"  --start ISO   first run, 00 or 12 UTC (default 2026-01-01T00:00:00Z)\n",
		SYNTH_MAX_FARMS, SYNTH_MAX_DAYS);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')	/* strtoull would accept "-1" */
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = (uint64_t)v;
	return true;
}

int cmd_demo_data(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "farms", required_argument, NULL, 'f' },
		{ "days", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "start", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct synth_config cfg;
	struct synth_summary sum = { 0 };
	struct synth *s = NULL;
	struct wc_error err = { 0 };
	const char *out = NULL;
	char first[UTC_ISO_LEN], last[UTC_ISO_LEN];
	long v;
	int c, ret = CMD_OK;

	(void)ctx;
	synth_config_init(&cfg);
	optind = 0;	/* glibc: full reset, the table may run several commands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:f:d:s:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f':
			if (cli_parse_long(optarg, 1, SYNTH_MAX_FARMS, &v)) {
				cmd_error("demo-data", "invalid --farms '%s': use 1 to %d", optarg,
					  SYNTH_MAX_FARMS);
				return CMD_USAGE;
			}
			cfg.nfarms = (int)v;
			break;
		case 'd':
			if (cli_parse_long(optarg, 1, SYNTH_MAX_DAYS, &v)) {
				cmd_error("demo-data", "invalid --days '%s': use 1 to %d", optarg,
					  SYNTH_MAX_DAYS);
				return CMD_USAGE;
			}
			cfg.days = (int)v;
			break;
		case 's':
			if (!parse_u64(optarg, &cfg.seed)) {
				cmd_error("demo-data",
					  "invalid --seed '%s': use a whole number from 0 to 2^64-1",
					  optarg);
				return CMD_USAGE;
			}
			break;
		case 'S':
			if (!utc_parse(optarg, &cfg.start) || cfg.start % SYNTH_RUN_STEP) {
				cmd_error("demo-data",
					  "invalid --start '%s': use 00 or 12 UTC of a day, e.g. "
					  "2026-01-01T00:00Z", optarg);
				return CMD_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return CMD_OK;
		case ':':
			cmd_error("demo-data", "option '%s' needs a value", argv[optind - 1]);
			return CMD_USAGE;
		default:
			cmd_error("demo-data", "unknown option '%s'; see 'windcast demo-data --help'",
				  argv[optind - 1]);
			return CMD_USAGE;
		}
	}
	if (optind < argc) {
		cmd_error("demo-data", "unexpected argument '%s'; see 'windcast demo-data --help'",
			  argv[optind]);
		return CMD_USAGE;
	}
	if (!out || !*out) {
		cmd_error("demo-data", "missing --out DIR: say where to write the data set");
		return CMD_USAGE;
	}
	if (synth_new(&cfg, &s, &err)) {
		cmd_error("demo-data", "%s", wc_error_msg(&err));
		return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
	}
	if (synth_write_all(s, out, &sum, &err)) {
		cmd_error("demo-data", "%s", wc_error_msg(&err));
		ret = CMD_FAIL;
		goto cleanup;
	}
	utc_format(synth_run_time(s, 0), first);
	utc_format(synth_run_time(s, synth_nruns(s) - 1), last);
	printf("wrote %d NWP runs (%s to %s), %zu hourly observations of %d farms and "
	       "farms.json to '%s' (%.1f MB, seed %llu)\n",
	       sum.nruns, first, last, sum.obs_rows, sum.nfarms, out, (double)sum.bytes / 1e6,
	       (unsigned long long)cfg.seed);
cleanup:
	synth_free(s);
	return ret;
}
