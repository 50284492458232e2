/* util.c - CLI helpers; see util.h. */
#include "cli/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "common/dynbuf.h"
#include "common/utc.h"

int cli_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_bad_option(const char *cmd, const char *opt, const char *val, const char *hint)
{
	cmd_error(cmd, "invalid %s '%s': %s", opt, val, hint);
	return CMD_USAGE;
}

int cli_format_parse(const char *cmd, const char *value, unsigned allowed,
		     enum cli_format *out)
{
	static const char *const names[] = { [CLI_TEXT] = "text", [CLI_JSON] = "json",
					     [CLI_CSV] = "csv" };
	char hint[64] = "use ";
	size_t k = 0, nallowed = 0;

	for (size_t i = 0; i < 3; i++) {
		if (!(allowed & (1u << i)))
			continue;
		if (!strcmp(value, names[i])) {
			*out = (enum cli_format)i;
			return 0;
		}
		nallowed++;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!(allowed & (1u << i)))
			continue;
		k++;
		strcat(hint, names[i]);
		strcat(hint, k == nallowed ? "" : k + 1 == nallowed ? " or " : ", ");
	}
	return cli_bad_option(cmd, "--format", value, hint);
}

int cli_bad_getopt(const char *cmd, int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		cmd_error(cmd, "option '%s' needs a value", opt);
	else
		cmd_error(cmd, "unknown option '%s'; see 'windcast %s --help'", opt, cmd);
	return CMD_USAGE;
}

enum wc_status cli_read_file(const char *path, struct dynbuf *b, struct wc_error *err)
{
	char chunk[65536];
	size_t n;
	enum wc_status ret = WC_OK;
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;

	if (!f)
		return wc_error_set(err, WC_EIO, "cannot open '%s': %s", path, strerror(errno));
	while (!ret && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((ret = dynbuf_add(b, chunk, n)))
			wc_error_set(err, ret, "cannot read '%s': %s (limit %zu bytes)", path,
				     wc_strerror(ret), b->max);
	if (!ret && ferror(f))
		ret = wc_error_set(err, WC_EIO, "cannot read '%s': %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	return ret;
}

json_t *cli_load_json(const char *path, size_t max, struct wc_error *err)
{
	struct dynbuf b;
	json_error_t jerr;
	json_t *root = NULL;

	dynbuf_init(&b, max);
	if (!cli_read_file(path, &b, err)) {
		root = json_loadb(dynbuf_str(&b), b.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!root)
			wc_error_set(err, WC_EFORMAT, "cannot parse '%s': line %d column %d: %s",
				     path, jerr.line, jerr.column, jerr.text);
	}
	dynbuf_release(&b);
	return root;
}

void cli_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));

	if (s) {
		puts(s);
		free(s);
	}
}

bool cli_print_json_new(const char *cmd, json_t *v)
{
	if (!v) {
		cmd_error(cmd, "out of memory");
		return false;
	}
	cli_print_json(v);
	json_decref(v);
	return true;
}

int cli_read_times(const char *cmd, const char *path, size_t max, int64_t **out, size_t *n)
{
	FILE *fp = fopen(path, "r");
	size_t cap = 0, len = 0;
	int64_t *v = NULL;
	char line[256];
	int lineno = 0, ret = CMD_OK;

	*out = NULL;
	*n = 0;
	if (!fp) {
		cmd_error(cmd, "cannot open '%s': %s", path, strerror(errno));
		return CMD_FAIL;
	}
	while (!ret && fgets(line, sizeof(line), fp)) {
		char *s = line, *e;
		int64_t t = 0;

		lineno++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, "\r\n");
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		if (!*s || *s == '#')
			continue;
		if (len == max) {
			cmd_error(cmd, "too many issue times in '%s': at most %zu", path, max);
			ret = CMD_USAGE;
		} else if (!utc_parse(s, &t)) {
			cmd_error(cmd, "invalid issue time '%s' on line %d of '%s'", s, lineno, path);
			ret = CMD_USAGE;
		} else if (len == cap) {
			int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!nv) {
				cmd_error(cmd, "out of memory");
				ret = CMD_FAIL;
			} else {
				v = nv;
			}
		}
		if (!ret)
			v[len++] = t;
	}
	fclose(fp);
	if (!ret && !len) {
		cmd_error(cmd, "no issue times in '%s'", path);
		ret = CMD_USAGE;
	}
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = len;
	return CMD_OK;
}

int cli_list_show_args(const char *cmd, int argc, char **argv, const char *what,
		       const char **id, enum cli_format *fmt, void (*usage)(FILE *out))
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*fmt = CLI_TEXT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'F') {
			if (cli_format_parse(cmd, optarg, CLI_FORMATS_ALL, fmt))
				return CMD_USAGE;
		} else if (c == 'h') {
			usage(stdout);
			return -1;
		} else {
			return cli_bad_getopt(cmd, c, argv);
		}
	}
	if (id && optind == argc - 1) {
		*id = argv[optind];
		return CMD_OK;
	}
	if (id)
		cmd_error(cmd, "expected exactly one %s id", what);
	else if (optind < argc)
		cmd_error(cmd, "unexpected argument '%s'", argv[optind]);
	return id || optind < argc ? CMD_USAGE : CMD_OK;
}

json_t *cli_argv_json(int argc, char **argv)
{
	json_t *a = json_array();

	for (int i = 0; a && i < argc; i++)
		if (json_array_append_new(a, json_string(argv[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

volatile sig_atomic_t *cli_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &stop_requested;
}
