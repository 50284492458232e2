/*
 * cmd_weather.c - `windcast weather --farm ID`: the stored site weather of one farm,
 * one row per (run, valid time), as CSV or JSON.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/store.h"

static const char weather_usage[] =
	"usage: windcast weather --farm ID [--ref-time ISO] [--format csv|json] [--all]\n"
	"\n"
	"Print the site weather stored for a farm: columns ref_time, valid_time, lead_h,\n"
	"u10, v10, u100, v100 (m/s, earth-relative), ws10, ws100 (m/s), wd10, wd100\n"
	"(degrees the wind comes from), t2m (K), sp (Pa), ws100_nbr_mean, ws100_nbr_std\n"
	"(3x3 neighbourhood, m/s); empty where the file had nothing. --all adds ws_hub\n"
	"(m/s at hub height) and rho (air density, kg/m3). ref_time is empty for analyses.\n";

/* The column order, then the extras of --all. */
static const enum weather_col csv_cols[] = {
	WX_U10,	 WX_V10, WX_U100,	    WX_V100,	      WX_WS10,	 WX_WS100, WX_WD10,
	WX_WD100, WX_T2M, WX_SP, WX_WS100_NBR_MEAN, WX_WS100_NBR_STD, WX_WS_HUB, WX_RHO,
};
#define NBASE 12

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
	const char *farm_id = NULL, *format = "csv";
	int64_t ref = INT64_MIN;
	struct wc_error err = { 0 };
	struct weather_row *rows;
	struct nwp_run *runs;
	struct farm f;
	size_t n, ncols = NBASE;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			farm_id = optarg;
			break;
		case 'r':
			if (!utc_parse(optarg, &ref)) {
				cmd_error("weather", "invalid --ref-time '%s': use ISO 8601, "
						     "e.g. 2026-01-01T12:00:00Z",
					  optarg);
				return CMD_USAGE;
			}
			break;
		case 'F':
			format = optarg;
			break;
		case 'a':
			ncols = sizeof(csv_cols) / sizeof(csv_cols[0]);
			break;
		case 'h':
			fputs(weather_usage, stdout);
			return CMD_OK;
		default:
			cmd_error("weather", "unknown option '%s'", argv[optind - 1]);
			return CMD_USAGE;
		}
	}
	if (!farm_id || optind < argc) {
		cmd_error("weather", optind < argc ? "unexpected argument" : "--farm is required");
		return CMD_USAGE;
	}
	if (strcmp(format, "csv") && strcmp(format, "json")) {
		cmd_error("weather", "unknown format '%s': use csv or json", format);
		return CMD_USAGE;
	}
	if (store_farm_get(ctx->store, farm_id, &f, &err) ||
	    store_weather_query(ctx->store, farm_id, ref, &rows, &runs, &n, &err)) {
		cmd_error("weather", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (!strcmp(format, "csv")) {
		printf("ref_time,valid_time,lead_h");
		for (size_t k = 0; k < ncols; k++)
			printf(",%s", weather_columns[csv_cols[k]]);
		putchar('\n');
	}
	json_t *arr = strcmp(format, "json") ? NULL : json_array();
	for (size_t i = 0; i < n; i++) {
		char rt[UTC_ISO_LEN] = "", vt[UTC_ISO_LEN];

		if (runs[i].is_forecast)
			utc_format(runs[i].ref_time, rt);
		utc_format(rows[i].valid_time, vt);
		if (arr) {
			json_t *o = json_pack("{s:o,s:s,s:o}", "ref_time",
					      rt[0] ? json_string(rt) : json_null(), "valid_time", vt,
					      "lead_h",
					      isnan(rows[i].lead_h) ? json_null()
								    : json_real(rows[i].lead_h));

			for (size_t k = 0; k < ncols; k++) {
				double v = rows[i].v[csv_cols[k]];

				json_object_set_new(o, weather_columns[csv_cols[k]],
						    isfinite(v) ? json_real(v) : json_null());
			}
			json_array_append_new(arr, o);
			continue;
		}
		printf("%s,%s,", rt, vt);
		if (!isnan(rows[i].lead_h))
			printf("%g", rows[i].lead_h);
		for (size_t k = 0; k < ncols; k++) {
			double v = rows[i].v[csv_cols[k]];

			if (isfinite(v))
				printf(",%.6g", v);
			else
				putchar(',');
		}
		putchar('\n');
	}
	if (arr) {
		cli_print_json(arr);
		json_decref(arr);
	}
	free(rows);
	free(runs);
	return CMD_OK;
}
