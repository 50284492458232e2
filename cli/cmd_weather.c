/*
 * cmd_weather.c - `windcast weather --farm ID`: the stored site weather of one farm,
 * one row per (run, valid time), as CSV or JSON.
 */
#include <getopt.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/store.h"

static const char weather_usage[] =
	"usage: windcast weather --farm ID [--ref-time ISO] [--format text|json|csv] [--all]\n"
	"\n"
	"Print the site weather stored for a farm: columns ref_time, valid_time, lead_h,\n"
	"u10, v10, u100, v100 (m/s, earth-relative), ws10, ws100 (m/s), wd10, wd100\n"
	"(degrees the wind comes from), t2m (K), sp (Pa), ws100_nbr_mean, ws100_nbr_std\n"
	"(3x3 neighbourhood, m/s); empty ('-' in text) where the file had nothing. --all\n"
	"adds ws_hub (m/s at hub height) and rho (air density, kg/m3). ref_time is empty\n"
	"for analyses. text (the default) is an aligned table, csv and json are for scripts.\n";

/* The column order, then the extras of --all. */
static const enum weather_col csv_cols[] = {
	WX_U10,	 WX_V10, WX_U100,	    WX_V100,	      WX_WS10,	 WX_WS100, WX_WD10,
	WX_WD100, WX_T2M, WX_SP, WX_WS100_NBR_MEAN, WX_WS100_NBR_STD, WX_WS_HUB, WX_RHO,
};
#define NBASE 12

static json_t *rows_json(const struct weather_row *rows, const struct nwp_run *runs, size_t n,
			 size_t ncols)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		char rt[UTC_ISO_LEN], vt[UTC_ISO_LEN];
		json_t *o = json_pack("{s:o,s:s,s:o}", "ref_time",
				      runs[i].is_forecast ? json_string(utc_format(runs[i].ref_time,
										   rt))
							  : json_null(),
				      "valid_time", utc_format(rows[i].valid_time, vt), "lead_h",
				      isnan(rows[i].lead_h) ? json_null() : json_real(rows[i].lead_h));

		for (size_t k = 0; o && k < ncols; k++) {
			double v = rows[i].v[csv_cols[k]];

			json_object_set_new(o, weather_columns[csv_cols[k]],
					    isfinite(v) ? json_real(v) : json_null());
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

/* CSV (text = false) or an aligned table (text = true). */
static void print_rows(const struct weather_row *rows, const struct nwp_run *runs, size_t n,
		       size_t ncols, bool text)
{
	int w[sizeof(csv_cols) / sizeof(csv_cols[0])];

	for (size_t k = 0; k < ncols; k++) {
		w[k] = (int)strlen(weather_columns[csv_cols[k]]);
		w[k] = w[k] < 9 ? 9 : w[k];
	}
	if (text)
		printf("%-20s %-20s %6s", "REF_TIME", "VALID_TIME", "LEAD_H");
	else
		printf("ref_time,valid_time,lead_h");
	for (size_t k = 0; k < ncols; k++)
		printf(text ? " %*s" : ",%*s", text ? w[k] : 0, weather_columns[csv_cols[k]]);
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		char rt[UTC_ISO_LEN] = "", vt[UTC_ISO_LEN], lead[32] = "";

		if (runs[i].is_forecast)
			utc_format(runs[i].ref_time, rt);
		utc_format(rows[i].valid_time, vt);
		if (!isnan(rows[i].lead_h))
			snprintf(lead, sizeof(lead), "%g", rows[i].lead_h);
		if (text)
			printf("%-20s %-20s %6s", rt[0] ? rt : "analysis", vt, lead[0] ? lead : "-");
		else
			printf("%s,%s,%s", rt, vt, lead);
		for (size_t k = 0; k < ncols; k++) {
			double v = rows[i].v[csv_cols[k]];

			if (text && isfinite(v))
				printf(" %*.5g", w[k], v);
			else if (text)
				printf(" %*s", w[k], "-");
			else if (isfinite(v))
				printf(",%.6g", v);
			else
				putchar(',');
		}
		putchar('\n');
	}
}

int cmd_weather(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "farm", required_argument, NULL, 'f' },
		{ "ref-time", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *farm_id = NULL;
	enum cli_format fmt = CLI_TEXT;
	int64_t ref = INT64_MIN;
	struct wc_error err = { 0 };
	struct weather_row *rows;
	struct nwp_run *runs;
	struct farm f;
	size_t n, ncols = NBASE;
	int c, ret = CMD_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			farm_id = optarg;
			break;
		case 'r':
			if (!utc_parse(optarg, &ref))
				return cli_bad_option("weather", "--ref-time", optarg,
						      "use ISO 8601, e.g. 2026-01-01T12:00:00Z");
			break;
		case 'F':
			if (cli_format_parse("weather", optarg, CLI_FORMATS_ALL, &fmt))
				return CMD_USAGE;
			break;
		case 'a':
			ncols = sizeof(csv_cols) / sizeof(csv_cols[0]);
			break;
		case 'h':
			fputs(weather_usage, stdout);
			return CMD_OK;
		default:
			return cli_bad_getopt("weather", c, argv);
		}
	}
	if (optind < argc) {
		cmd_error("weather", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!farm_id) {
		cmd_error("weather", "--farm is required");
		return CMD_USAGE;
	}
	if (store_farm_get(ctx->store, farm_id, &f, &err) ||
	    store_weather_query(ctx->store, farm_id, ref, &rows, &runs, &n, &err)) {
		cmd_error("weather", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (n == 0)
		cmd_error("weather", "no weather stored for farm '%s'%s: ingest NWP files that "
				     "cover it",
			  farm_id, ref != INT64_MIN ? " from that run" : "");
	if (fmt == CLI_JSON)
		ret = cli_print_json_new("weather", rows_json(rows, runs, n, ncols)) ? CMD_OK
										      : CMD_FAIL;
	else
		print_rows(rows, runs, n, ncols, fmt == CLI_TEXT);
	free(rows);
	free(runs);
	return ret;
}
