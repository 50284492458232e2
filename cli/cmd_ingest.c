/*
 * cmd_ingest.c - `windcast ingest FILE...`: NetCDF files into the store, one line each.
 * Exit 0 when every file was ingested or already known, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "data/ingest.h"

static const char ingest_usage[] =
	"usage: windcast ingest [--point-radius-km KM] FILE...\n"
	"\n"
	"Decode each NetCDF file (NWP run or reanalysis; grids or station point files),\n"
	"interpolate it to every registered farm and store the site weather. Each file is\n"
	"one transaction; the raw bytes are kept content-addressed, so ingesting the same\n"
	"file again is recognised and adds nothing. Prints one line per file:\n"
	"ingested, already known, or rejected with the reason.\n"
	"\n"
	"  --point-radius-km KM  point files: match a farm to the nearest station within\n"
	"                        KM when no station has the farm's id (default 30)\n";

int cmd_ingest(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct ingest_options o;
	int first = 1, failed = 0, ingested = 0, known = 0;

	ingest_options_init(&o);
	while (first < argc && argv[first][0] == '-') {
		if (!strcmp(argv[first], "--help") || !strcmp(argv[first], "-h")) {
			fputs(ingest_usage, stdout);
			return CMD_OK;
		}
		if (!strcmp(argv[first], "--point-radius-km") && first + 1 < argc) {
			if (cli_parse_double(argv[first + 1], &o.point_max_km) ||
			    o.point_max_km <= 0) {
				cmd_error("ingest", "invalid --point-radius-km '%s'",
					  argv[first + 1]);
				return CMD_USAGE;
			}
			first += 2;
			continue;
		}
		if (!strcmp(argv[first], "--")) {
			first++;
			break;
		}
		cmd_error("ingest", "unknown option '%s'", argv[first]);
		return CMD_USAGE;
	}
	if (first >= argc) {
		cmd_error("ingest", "no files given");
		fputs(ingest_usage, stderr);
		return CMD_USAGE;
	}
	for (int i = first; i < argc; i++) {
		struct ingest_result res;
		char line[2048];

		ingest_file(ctx->store, argv[i], &o, &res);
		ingest_result_line(&res, line, sizeof(line));
		puts(line);
		fflush(stdout);
		failed += res.outcome == INGEST_REJECTED;
		ingested += res.outcome == INGEST_INGESTED;
		known += res.outcome == INGEST_KNOWN;
		ingest_result_release(&res);
	}
	if (argc - first > 1)
		printf("%d ingested, %d already known, %d rejected\n", ingested, known, failed);
	return failed ? CMD_FAIL : CMD_OK;
}
