/*
 * cmd_farm.c - `windcast farm add|list|show|rm|import`: the farm registry from the shell.
 *
 * Limits: a power curve file (farm add --power-curve) is at most FARM_CURVE_MAX points,
 * with lines of at most CURVE_LINE_MAX bytes.
 */
#include <errno.h>
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
#include "data/farm.h"
#include "data/store.h"

static const char farm_usage[] =
	"usage: windcast farm add --id ID --name NAME --lat LAT --lon LON --capacity-mw C\n"
	"                         [--hub-height-m H] [--power-curve FILE]\n"
	"            (FILE: CSV with the header 'ws,power', or a JSON array of\n"
	"             {\"ws\": m/s, \"power\": fraction}; speed at hub height, power as a\n"
	"             fraction of capacity 0..1, 2 to 64 points, speeds increasing)\n"
	"       windcast farm list [--format table|json|csv]\n"
	"       windcast farm show ID\n"
	"       windcast farm rm ID\n"
	"       windcast farm import [--replace] FILE.json\n"
	"            (an array of farm objects; all or none; --replace updates existing ids)\n";

#define CURVE_LINE_MAX 256
#define CURVE_JSON_MAX (64u << 10)

/* Parse one CSV line "ws,power" (line ending already cut) into point i of c. */
static enum wc_status curve_csv_row(char *line, int lineno, int i, struct farm_curve *c,
				    struct wc_error *err)
{
	char *comma = strchr(line, ',');
	bool ok;

	if (!comma)
		return wc_error_set(err, WC_EFORMAT,
				    "line %d: expected two numbers 'ws,power', got '%s'", lineno,
				    line);
	*comma = '\0';
	ok = !cli_parse_double(line, &c->ws[i]) && !cli_parse_double(comma + 1, &c->power[i]);
	*comma = ',';
	if (!ok)
		return wc_error_set(err, WC_EFORMAT,
				    "line %d: expected two numbers 'ws,power', got '%s'", lineno,
				    line);
	return WC_OK;
}

/* A CSV curve file: the header "ws,power", then one point per line (blank lines skipped). */
static enum wc_status curve_csv(FILE *f, struct farm_curve *c, struct wc_error *err)
{
	char line[CURVE_LINE_MAX + 2];
	int lineno = 0;
	enum wc_status ret;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n')
			return wc_error_set(err, WC_EFORMAT, "line %d is longer than %d bytes",
					    lineno, CURVE_LINE_MAX);
		line[strcspn(line, "\r\n")] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "ws,power"))
				return wc_error_set(err, WC_EFORMAT,
						    "line 1: expected the header 'ws,power', got "
						    "'%s'",
						    line);
			continue;
		}
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if (c->n == FARM_CURVE_MAX)
			return wc_error_set(err, WC_EFORMAT, "more than %d points (line %d)",
					    FARM_CURVE_MAX, lineno);
		if ((ret = curve_csv_row(line, lineno, c->n, c, err)))
			return ret;
		c->n++;
	}
	if (ferror(f))
		return wc_error_set(err, WC_EIO, "%s", strerror(errno));
	if (lineno == 0)
		return wc_error_set(err, WC_EFORMAT, "the file is empty");
	return WC_OK;
}

/*
 * Read a power curve file: a JSON array when its first non-blank byte is '[', else CSV.
 * The message says what is wrong, without the file name.
 */
static enum wc_status load_curve(const char *path, struct farm_curve *c,
				 struct wc_error *err)
{
	FILE *f = fopen(path, "r");
	enum wc_status ret;
	int ch;

	memset(c, 0, sizeof(*c));
	if (!f)
		return wc_error_set(err, WC_EIO, "%s", strerror(errno));
	while ((ch = getc(f)) != EOF && (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'))
		;
	if (ch == '[') {
		json_t *v;

		fclose(f);
		if (!(v = cli_load_json(path, CURVE_JSON_MAX, err)))
			return err ? err->code : WC_EFORMAT;
		ret = farm_curve_from_json(v, c, err);
		json_decref(v);
		return ret;
	}
	rewind(f);
	ret = curve_csv(f, c, err);
	fclose(f);
	if (ret)
		return ret;
	if (c->n < 2)
		return wc_error_set(err, WC_EINVAL, "%d point%s: give 2 to %d", c->n,
				    c->n == 1 ? "" : "s", FARM_CURVE_MAX);
	return farm_curve_validate(c, err);
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
		{ "help", no_argument, NULL, 'H' },
		{ 0 },
	};
	struct farm f = { .lat = NAN, .lon = NAN, .capacity_mw = NAN, .hub_height_m = NAN };
	struct wc_error err = { 0 };
	const char *curve = NULL;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			snprintf(f.id, sizeof(f.id), "%s", optarg);
			if (strlen(optarg) > FARM_ID_MAX) {
				cmd_error("farm add", "invalid farm id: longer than %d characters",
					  FARM_ID_MAX);
				return CMD_USAGE;
			}
			break;
		case 'n':
			if (strlen(optarg) > FARM_NAME_MAX) {
				cmd_error("farm add", "--name is longer than %d bytes", FARM_NAME_MAX);
				return CMD_USAGE;
			}
			snprintf(f.name, sizeof(f.name), "%s", optarg);
			break;
		case 'a':
		case 'o':
		case 'c':
		case 'h': {
			double *dst = c == 'a' ? &f.lat : c == 'o' ? &f.lon
					  : c == 'c' ? &f.capacity_mw : &f.hub_height_m;

			if (cli_parse_double(optarg, dst)) {
				cmd_error("farm add", "option '%s' needs a number, got '%s'",
					  argv[optind - 1], optarg);
				return CMD_USAGE;
			}
			break;
		}
		case 'p':
			curve = optarg;
			break;
		case 'H':
			fputs(farm_usage, stdout);
			return CMD_OK;
		default:
			cmd_error("farm add", "unknown option '%s'", argv[optind - 1]);
			return CMD_USAGE;
		}
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
		cmd_error("farm add", "cannot read power curve '%s': %s; nothing was added", curve,
			  wc_error_msg(&err));
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
	printf("added farm '%s'\n", f.id);
	return CMD_OK;
}

static void print_csv_field(const char *s)
{
	struct dynbuf b;

	dynbuf_init(&b, 4 * FARM_NAME_MAX);
	dynbuf_add_csv_field(&b, s);
	fputs(dynbuf_str(&b), stdout);
	dynbuf_release(&b);
}

static int farm_list(int argc, char **argv, struct cmd_ctx *ctx)
{
	const char *format = "table";
	struct wc_error err = { 0 };
	struct farm *farms;
	size_t n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			format = argv[++i];
		} else if (!strncmp(argv[i], "--format=", 9)) {
			format = argv[i] + 9;
		} else if (!strcmp(argv[i], "--help")) {
			fputs(farm_usage, stdout);
			return CMD_OK;
		} else {
			cmd_error("farm list", "unexpected argument '%s'", argv[i]);
			return CMD_USAGE;
		}
	}
	if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv")) {
		cmd_error("farm list", "unknown format '%s': use table, json or csv", format);
		return CMD_USAGE;
	}
	if (store_farm_list(ctx->store, &farms, &n, &err)) {
		cmd_error("farm list", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (!strcmp(format, "json")) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, farm_to_json(&farms[i]));
		cli_print_json(arr);
		json_decref(arr);
	} else if (!strcmp(format, "csv")) {
		printf("id,name,lat,lon,capacity_mw,hub_height_m\n");
		for (size_t i = 0; i < n; i++) {
			printf("%s,", farms[i].id);
			print_csv_field(farms[i].name);
			printf(",%.6f,%.6f,%.3f,", farms[i].lat, farms[i].lon,
			       farms[i].capacity_mw);
			if (!isnan(farms[i].hub_height_m))
				printf("%.1f", farms[i].hub_height_m);
			putchar('\n');
		}
	} else {
		printf("%-24s %-28s %10s %11s %9s %7s\n", "ID", "NAME", "LAT", "LON", "MW",
		       "HUB_M");
		for (size_t i = 0; i < n; i++) {
			printf("%-24s %-28.28s %10.4f %11.4f %9.1f ", farms[i].id,
			       farms[i].name, farms[i].lat, farms[i].lon, farms[i].capacity_mw);
			if (isnan(farms[i].hub_height_m))
				printf("%7s\n", "-");
			else
				printf("%7.1f\n", farms[i].hub_height_m);
		}
	}
	free(farms);
	return CMD_OK;
}

/* `farm show ID` and `farm rm ID` take exactly one id. */
static int one_id(const char *what, const char *noun, int argc, char **argv,
		  const char **id)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		fputs(farm_usage, stdout);
		return -1;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_error(what, "expected exactly one %s", noun);
		return CMD_USAGE;
	}
	*id = argv[1];
	return CMD_OK;
}

static int farm_show(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct wc_error err = { 0 };
	const char *id;
	struct farm f;
	json_t *o;
	int rc = one_id("farm show", "farm id", argc, argv, &id);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	if (store_farm_get(ctx->store, id, &f, &err)) {
		cmd_error("farm show", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	o = farm_to_json(&f);
	cli_print_json(o);
	json_decref(o);
	return CMD_OK;
}

static int farm_rm(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct wc_error err = { 0 };
	const char *id;
	int rc = one_id("farm rm", "farm id", argc, argv, &id);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	if (store_farm_delete(ctx->store, id, &err)) {
		cmd_error("farm rm", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	printf("removed farm '%s'\n", id);
	return CMD_OK;
}

/* Farms files are small; a hard cap keeps a wrong file from eating memory. */
#define FARMS_FILE_MAX (16u << 20)

static int farm_import(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct wc_error err = { 0 };
	struct farm *farms = NULL;
	json_t *root = NULL;
	size_t n = 0;
	int ret = CMD_FAIL;
	const char *path;
	bool replace = argc > 1 && !strcmp(argv[1], "--replace");
	int rc = one_id("farm import", "JSON file", argc - replace, argv + replace, &path);

	if (rc)
		return rc < 0 ? CMD_OK : rc;
	root = cli_load_json(path, FARMS_FILE_MAX, &err);
	if (!root) {
		cmd_error("farm import", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (!json_is_array(root)) {
		cmd_error("farm import", "cannot import '%s': expected a JSON array of farms",
			  path);
		goto cleanup;
	}
	n = json_array_size(root);
	farms = calloc(n ? n : 1, sizeof(*farms));
	if (!farms) {
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
	if (store_farm_import(ctx->store, farms, n, replace, &err)) {
		cmd_error("farm import", "cannot import '%s': %s; nothing was imported", path,
			  wc_error_msg(&err));
		goto cleanup;
	}
	printf("imported %zu farm%s from '%s'\n", n, n == 1 ? "" : "s", path);
	ret = CMD_OK;
cleanup:
	free(farms);
	json_decref(root);
	return ret;
}

int cmd_farm(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, struct cmd_ctx *);
	} subs[] = {
		{ "add", farm_add }, { "list", farm_list }, { "show", farm_show },
		{ "rm", farm_rm },   { "import", farm_import },
	};

	if (argc < 2) {
		fputs(farm_usage, stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(farm_usage, stdout);
		return CMD_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1, ctx);
	cmd_error("farm", "unknown subcommand '%s'", argv[1]);
	fputs(farm_usage, stderr);
	return CMD_USAGE;
}
