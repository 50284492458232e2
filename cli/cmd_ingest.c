/*
 * cmd_ingest.c - `windcast ingest FILE...`: NetCDF files into the store, one line each.
 * Exit 0 when every file was ingested or already known, 1 otherwise.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "data/ingest.h"

static const char ingest_usage[] =
	"usage: windcast ingest [--point-radius-km KM] [--format text|json] FILE...\n"
	"\n"
	"Decode each NetCDF file (NWP run or reanalysis; grids or station point files),\n"
	"interpolate it to every registered farm and store the site weather. Each file is\n"
	"one transaction; the raw bytes are kept content-addressed, so ingesting the same\n"
	"file again is recognised and adds nothing (a farm registered later gets its\n"
	"weather from the kept files when it is added). Prints one line per file:\n"
	"ingested, already known, or rejected with the reason; --format json prints one\n"
	"JSON array instead, an object per file, rejected ones included.\n"
	"\n"
	"  --point-radius-km KM  point files: match a farm to the nearest station within\n"
	"                        KM (0 < KM <= 1000) when no station has the farm's id\n"
	"                        (default 30)\n";

int cmd_ingest(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "point-radius-km", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum cli_format fmt = CLI_TEXT;
	struct ingest_options o;
	int c, failed = 0, ingested = 0, known = 0;
	json_t *results = NULL;

	ingest_options_init(&o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (cli_parse_double(optarg, &o.point_max_km) || o.point_max_km <= 0 ||
			    o.point_max_km > 1000)
				return cli_bad_option("ingest", "--point-radius-km", optarg,
						      "use a number 0 < x <= 1000 (km)");
			break;
		case 'F':
			if (cli_format_parse("ingest", optarg, CLI_FORMATS_NO_CSV, &fmt))
				return CMD_USAGE;
			break;
		case 'h':
			fputs(ingest_usage, stdout);
			return CMD_OK;
		default:
			return cli_bad_getopt("ingest", c, argv);
		}
	}
	if (optind >= argc) {
		cmd_error("ingest", "no files given");
		fputs(ingest_usage, stderr);
		return CMD_USAGE;
	}
	if (fmt == CLI_JSON && !(results = json_array())) {
		cmd_error("ingest", "out of memory");
		return CMD_FAIL;
	}
	for (int i = optind; i < argc; i++) {
		struct ingest_result res;
		char line[2048];

		ingest_file(ctx->store, argv[i], &o, &res);
		if (results) {
			json_array_append_new(results, ingest_result_json(&res));
		} else {
			ingest_result_line(&res, line, sizeof(line));
			puts(line);
			fflush(stdout);
		}
		failed += res.outcome == INGEST_REJECTED;
		ingested += res.outcome == INGEST_INGESTED;
		known += res.outcome == INGEST_KNOWN;
		ingest_result_release(&res);
	}
	if (results && !cli_print_json_new("ingest", results))
		return CMD_FAIL;
	if (!results && argc - optind > 1)
		printf("%d ingested, %d already known, %d rejected\n", ingested, known, failed);
	return failed ? CMD_FAIL : CMD_OK;
}
