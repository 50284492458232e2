/* util.c - CLI helpers; see util.h. */
#include "cli/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "common/dynbuf.h"

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

json_t *cli_load_json(const char *path, size_t max, struct wc_error *err)
{
	struct dynbuf b;
	json_error_t jerr;
	json_t *root = NULL;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		wc_error_set(err, WC_EIO, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	dynbuf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		enum wc_status st = dynbuf_add(&b, chunk, n);

		if (st) {
			wc_error_set(err, st, "cannot read '%s': %s (limit %zu bytes)", path,
				     wc_strerror(st), max);
			goto cleanup;
		}
	}
	if (ferror(f)) {
		wc_error_set(err, WC_EIO, "cannot read '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	root = json_loadb(dynbuf_str(&b), b.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		wc_error_set(err, WC_EFORMAT, "cannot parse '%s': line %d column %d: %s", path,
			     jerr.line, jerr.column, jerr.text);
cleanup:
	fclose(f);
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
