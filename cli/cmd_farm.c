/*
 * cmd_farm.c - `windcast farm add|list|show|rm|import`: the farm registry from the shell.
 *
 * A thin adapter: farms are validated (and their power curve files parsed) by
 * data/farm.h, stored by data/store.h, and a farm that is new or moved gets its weather
 * from the grids stored already by ingest_farm_weather, as over HTTP. Limits: a power
 * curve file is at most FARM_CURVE_TEXT_MAX bytes, a farms file FARMS_FILE_MAX.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/dynbuf.h"
#include "common/utc.h"
#include "data/farm.h"
#include "data/ingest.h"
#include "data/store.h"

static const char farm_usage[] =
	"usage: windcast farm add --id ID --name NAME --lat LAT --lon LON --capacity-mw C\n"
	"                         [--hub-height-m H] [--power-curve FILE] [--format text|json]\n"
	"            (FILE: CSV with the header 'ws,power', or a JSON array of\n"
	"             {\"ws\": m/s, \"power\": fraction}; speed at hub height, power as a\n"
	"             fraction of capacity 0..1, 2 to 64 points, speeds increasing)\n"
	"       windcast farm list [--format text|json|csv]\n"
	"       windcast farm show ID [--format text|json|csv]\n"
	"       windcast farm rm ID\n"
	"       windcast farm import [--replace] [--format text|json] FILE.json\n"
	"            (an array of farm objects; all or none; --replace updates existing ids)\n"
	"       windcast farm market ID [--price P] [--psi-plus X] [--psi-minus Y] ...\n"
	"            (show or set its market settings; see 'windcast farm market --help')\n"
	"\n"
	"Ranges: lat -90..90, lon -180..360 (360 excluded), capacity-mw above 0 up to\n"
	"100000, hub-height-m 10..300. A farm added, imported or moved (new lat, lon or\n"
	"hub height) gets its weather from the grids ingested already.\n";

/* Farms files are small; a hard cap keeps a wrong file from eating memory. */
#define FARMS_FILE_MAX (16u << 20)

/*
 * Extract the weather of farm `id` from the stored grids (nothing when there are none):
 * print the line (text) or return the result (json, *out a new reference or NULL).
 * Returns CMD_OK or CMD_FAIL (the reason reported).
 */
static int farm_weather(const char *cmd, struct store *st, const char *id,
			enum cli_format fmt, json_t **out)
{
	struct farm_weather_result res;
	struct wc_error err = { 0 };
	char line[4096];
	size_t nruns = 0;
	int ret;

	*out = NULL;
	if (store_run_count(st, &nruns, &err)) {
		cmd_error(cmd, "farm '%s' is stored, but %s", id, wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (nruns == 0)
		return CMD_OK;	/* ingesting the grids gives every farm its weather */
	ret = ingest_farm_weather(st, id, &res) ? CMD_FAIL : CMD_OK;
	farm_weather_result_line(&res, line, sizeof(line));
	if (ret)
		cmd_error(cmd, "farm '%s' is stored, but %s", id, line);
	else if (fmt == CLI_TEXT)
		puts(line);
	if (fmt == CLI_JSON)
		*out = farm_weather_result_json(&res);
	return ret;
}

/* Check and store the value of a numeric option; CMD_USAGE names option and range. */
static int number_option(const char *opt, const char *val, enum farm_field field, double *dst)
{
	char range[64], hint[160];

	if (!cli_parse_double(val, dst) && farm_range_holds(field, *dst))
		return CMD_OK;
	snprintf(hint, sizeof(hint), "use a number %s (%s)",
		 farm_range_text(field, range, sizeof(range)), farm_ranges[field].unit);
	return cli_bad_option("farm add", opt, val, hint);
}

/*
 * Read a power curve file (CSV or JSON, farm_curve_parse) into c. The message names the
 * file once: cli_read_file's does, a parse error gets "cannot read power curve 'FILE'".
 */
static enum wc_status load_curve(const char *path, struct farm_curve *c, struct wc_error *err)
{
	struct dynbuf b;
	enum wc_status ret;

	dynbuf_init(&b, FARM_CURVE_TEXT_MAX);
	if (!(ret = cli_read_file(path, &b, err)) &&
	    (ret = farm_curve_parse(dynbuf_str(&b), b.len, c, err)))
		wc_error_prefix(err, "cannot read power curve '%s'", path);
	dynbuf_release(&b);
	return ret;
}

static int farm_add(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "lat", required_argument, NULL, 'a' },
		{ "lon", required_argument, NULL, 'o' },
		{ "capacity-mw", required_argument, NULL, 'c' },
		{ "hub-height-m", required_argument, NULL, 'h' },
		{ "power-curve", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'H' },
		{ 0 },
	};
	struct farm f = { .lat = NAN, .lon = NAN, .capacity_mw = NAN, .hub_height_m = NAN };
	enum cli_format fmt = CLI_TEXT;
	struct wc_error err = { 0 };
	const char *curve = NULL;
	json_t *weather;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		rc = CMD_OK;
		switch (c) {
		case 'i':
			if (!farm_id_valid(optarg))
				return cli_bad_option("farm add", "--id", optarg,
						      "use 1-64 characters a-z, 0-9, '-', '_', "
						      "not starting with '-'");
			snprintf(f.id, sizeof(f.id), "%s", optarg);
			break;
		case 'n':
			if (!*optarg || strlen(optarg) > FARM_NAME_MAX) {
				cmd_error("farm add", "invalid --name: use 1 to %d bytes",
					  FARM_NAME_MAX);
				return CMD_USAGE;
			}
			snprintf(f.name, sizeof(f.name), "%s", optarg);
			break;
		case 'a':
			rc = number_option("--lat", optarg, FARM_LAT, &f.lat);
			break;
		case 'o':
			rc = number_option("--lon", optarg, FARM_LON, &f.lon);
			break;
		case 'c':
			rc = number_option("--capacity-mw", optarg, FARM_CAPACITY_MW,
					   &f.capacity_mw);
			break;
		case 'h':
			rc = number_option("--hub-height-m", optarg, FARM_HUB_HEIGHT_M,
					   &f.hub_height_m);
			break;
		case 'p':
			curve = optarg;
			break;
		case 'F':
			rc = cli_format_parse("farm add", optarg, CLI_FORMATS_NO_CSV, &fmt);
			break;
		case 'H':
			fputs(farm_usage, stdout);
			return CMD_OK;
		default:
			return cli_bad_getopt("farm add", c, argv);
		}
		if (rc)
			return rc;
	}
	if (optind < argc) {
		cmd_error("farm add", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!f.id[0] || !f.name[0] || isnan(f.lat) || isnan(f.lon) || isnan(f.capacity_mw)) {
		cmd_error("farm add", "--id, --name, --lat, --lon and --capacity-mw are required");
		return CMD_USAGE;
	}
	/* a bad file is a failure of the job, as with farm import and obs import */
	if (curve && load_curve(curve, &f.power_curve, &err)) {
		cmd_error("farm add", "%s; nothing was added", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (farm_validate(&f, &err)) {
		cmd_error("farm add", "%s", wc_error_msg(&err));
		return CMD_USAGE;
	}
	if (store_farm_add(ctx->store, &f, &err)) {
		cmd_error("farm add", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (fmt == CLI_TEXT)
		printf("added farm '%s'\n", f.id);
	rc = farm_weather("farm add", ctx->store, f.id, fmt, &weather);
	if (fmt == CLI_JSON) {
		json_t *o = farm_to_json(&f);

		json_object_set_new(o, "weather", weather ? weather : json_null());
		cli_print_json_new("farm add", o);
	}
	return rc;
}

/* The farms as text: an aligned table, one farm per line. */
static void print_farm_table(const struct farm *farms, size_t n)
{
	printf("%-24s %-28s %10s %11s %9s %7s\n", "ID", "NAME", "LAT", "LON", "MW", "HUB_M");
	for (size_t i = 0; i < n; i++) {
		printf("%-24s %-28.28s %10.4f %11.4f %9.1f ", farms[i].id, farms[i].name,
		       farms[i].lat, farms[i].lon, farms[i].capacity_mw);
		if (isnan(farms[i].hub_height_m))
			printf("%7s\n", "-");
		else
			printf("%7.1f\n", farms[i].hub_height_m);
	}
}

/* One farm as text: a field per line. */
static void print_farm_fields(const struct farm *f)
{
	char t[UTC_ISO_LEN];

	printf("id            %s\nname          %s\nlat           %.6f\nlon           %.6f\n"
	       "capacity_mw   %.3f\n",
	       f->id, f->name, f->lat, f->lon, f->capacity_mw);
	if (isnan(f->hub_height_m))
		printf("hub_height_m  -\n");
	else
		printf("hub_height_m  %.1f\n", f->hub_height_m);
	if (f->power_curve.n == 0) {
		printf("power_curve   none\n");
	} else {
		printf("power_curve   %d points, ws (m/s) -> power (fraction of capacity):\n",
		       f->power_curve.n);
		for (int i = 0; i < f->power_curve.n; i++)
			printf("              %g -> %g\n", f->power_curve.ws[i],
			       f->power_curve.power[i]);
	}
	if (f->created_at)
		printf("created_at    %s\n", utc_format(f->created_at, t));
	if (f->updated_at)
		printf("updated_at    %s\n", utc_format(f->updated_at, t));
}

/* Print farms[0..n) as fmt; `one` prints a single farm (an object, not an array). */
static int print_farms(const char *cmd, const struct farm *farms, size_t n, bool one,
		       enum cli_format fmt)
{
	struct dynbuf b;
	json_t *v;
	int ret = CMD_OK;

	switch (fmt) {
	case CLI_TEXT:
		if (one)
			print_farm_fields(farms);
		else
			print_farm_table(farms, n);
		break;
	case CLI_CSV:
		dynbuf_init(&b, (size_t)64 << 20);
		if (farm_csv_write(&b, farms, n)) {
			cmd_error(cmd, "out of memory");
			ret = CMD_FAIL;
		} else {
			fputs(dynbuf_str(&b), stdout);
		}
		dynbuf_release(&b);
		break;
	case CLI_JSON:
		v = one ? farm_to_json(farms) : json_array();
		for (size_t i = 0; !one && v && i < n; i++)
			json_array_append_new(v, farm_to_json(&farms[i]));
		if (!cli_print_json_new(cmd, v))
			ret = CMD_FAIL;
		break;
	}
	return ret;
}

static void print_farm_usage(FILE *out)
{
	fputs(farm_usage, out);
}

static int farm_list(int argc, char **argv, struct cmd_ctx *ctx)
{
	enum cli_format fmt;
	struct wc_error err = { 0 };
	struct farm *farms;
	size_t n;
	int rc = cli_list_show_args("farm list", argc, argv, "farm", NULL, &fmt,
				    print_farm_usage);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	if (store_farm_list(ctx->store, &farms, &n, &err)) {
		cmd_error("farm list", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	rc = print_farms("farm list", farms, n, false, fmt);
	free(farms);
	return rc;
}

static int farm_show(int argc, char **argv, struct cmd_ctx *ctx)
{
	enum cli_format fmt;
	struct wc_error err = { 0 };
	const char *id = NULL;
	struct farm f;
	int rc = cli_list_show_args("farm show", argc, argv, "farm", &id, &fmt,
				    print_farm_usage);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	if (store_farm_get(ctx->store, id, &f, &err)) {
		cmd_error("farm show", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	return print_farms("farm show", &f, 1, true, fmt);
}

static int farm_rm(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct wc_error err = { 0 };

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(farm_usage, stdout);
		return CMD_OK;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_error("farm rm", "expected exactly one farm id");
		return CMD_USAGE;
	}
	if (store_farm_delete(ctx->store, argv[1], &err)) {
		cmd_error("farm rm", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	printf("removed farm '%s'\n", argv[1]);
	return CMD_OK;
}

static const char *const change_names[] = {
	[FARM_CREATED] = "created", [FARM_UPDATED] = "updated", [FARM_MOVED] = "moved"
};

/* Store the farms of `root` (an array) all or none, then extract the weather they need. */
static int import_farms(const char *path, json_t *root, bool replace, enum cli_format fmt,
			struct store *st)
{
	struct wc_error err = { 0 };
	enum farm_change *changes = NULL;
	struct farm *farms = NULL;
	json_t *report = NULL, *list = NULL;
	size_t n = json_array_size(root);
	int ret = CMD_FAIL;

	farms = calloc(n ? n : 1, sizeof(*farms));
	changes = calloc(n ? n : 1, sizeof(*changes));
	if (!farms || !changes) {
		cmd_error("farm import", "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (farm_from_json(json_array_get(root, i), NULL, &farms[i], &err)) {
			cmd_error("farm import", "cannot import '%s': farm %zu: %s", path, i + 1,
				  wc_error_msg(&err));
			goto cleanup;
		}
	}
	if (store_farms_write(st, farms, n, replace, changes, &err)) {
		cmd_error("farm import", "cannot import '%s': %s; nothing was imported", path,
			  wc_error_msg(&err));
		goto cleanup;
	}
	if (fmt == CLI_TEXT)
		printf("imported %zu farm%s from '%s'\n", n, n == 1 ? "" : "s", path);
	else
		report = json_pack("{s:s,s:I,s:o}", "file", path, "imported", (json_int_t)n,
				   "farms", (list = json_array()));
	ret = CMD_OK;
	for (size_t i = 0; i < n; i++) {
		json_t *weather = NULL;

		if (farm_change_needs_weather(changes[i]) &&
		    farm_weather("farm import", st, farms[i].id, fmt, &weather))
			ret = CMD_FAIL;
		if (list)
			json_array_append_new(list, json_pack("{s:s,s:s,s:o}", "id", farms[i].id,
							      "change", change_names[changes[i]],
							      "weather",
							      weather ? weather : json_null()));
	}
	if (fmt == CLI_JSON && !cli_print_json_new("farm import", report))
		ret = CMD_FAIL;
cleanup:
	free(farms);
	free(changes);
	return ret;
}

static int farm_import(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "replace", no_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum cli_format fmt = CLI_TEXT;
	struct wc_error err = { 0 };
	bool replace = false;
	json_t *root;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'r') {
			replace = true;
		} else if (c == 'F') {
			if (cli_format_parse("farm import", optarg, CLI_FORMATS_NO_CSV, &fmt))
				return CMD_USAGE;
		} else if (c == 'h') {
			fputs(farm_usage, stdout);
			return CMD_OK;
		} else {
			return cli_bad_getopt("farm import", c, argv);
		}
	}
	if (optind != argc - 1) {
		cmd_error("farm import", "expected exactly one JSON file");
		return CMD_USAGE;
	}
	if (!(root = cli_load_json(argv[optind], FARMS_FILE_MAX, &err))) {
		cmd_error("farm import", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (!json_is_array(root)) {
		cmd_error("farm import", "cannot import '%s': expected a JSON array of farms",
			  argv[optind]);
		ret = CMD_FAIL;
	} else {
		ret = import_farms(argv[optind], root, replace, fmt, ctx->store);
	}
	json_decref(root);
	return ret;
}

/* Each subcommand's flag: those that write create a missing store, the others refuse it. */
const struct cmd farm_subcommands[] = {
	{ "add", farm_add, CREATES_STORE, "register a farm", NULL },
	{ "list", farm_list, NEEDS_STORE, "list the farms", NULL },
	{ "show", farm_show, NEEDS_STORE, "one farm", NULL },
	{ "rm", farm_rm, NEEDS_STORE, "remove a farm and everything stored for it", NULL },
	{ "import", farm_import, CREATES_STORE, "register farms from a JSON file", NULL },
	{ "market", cmd_farm_market, NEEDS_STORE, "show or set a farm's market settings", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

int cmd_farm(int argc, char **argv, struct cmd_ctx *ctx)
{
	const struct cmd *sub;

	if (argc < 2) {
		fputs(farm_usage, stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(farm_usage, stdout);
		return CMD_OK;
	}
	if ((sub = cmd_find_sub(farm_subcommands, argv[1])))
		return sub->fn(argc - 1, argv + 1, ctx);
	cmd_error("farm", "unknown subcommand '%s'", argv[1]);
	fputs(farm_usage, stderr);
	return CMD_USAGE;
}
