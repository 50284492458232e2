/*
 * util.h - small helpers shared by the cmd_*.c files: number parsing, JSON files and
 * JSON output.
 */
#ifndef WC_CLI_UTIL_H
#define WC_CLI_UTIL_H

#include <jansson.h>
#include <stddef.h>

#include "common/status.h"

/* Parse a whole string as a finite double; nonzero on failure (*out untouched). */
int cli_parse_double(const char *s, double *out);
/* Parse a whole string as a long in [lo, hi]; nonzero on failure. */
int cli_parse_long(const char *s, long lo, long hi, long *out);

/* Report "windcast CMD: invalid OPT 'VAL': HINT" and return CMD_USAGE (2). */
int cli_bad_option(const char *cmd, const char *opt, const char *val, const char *hint);

/*
 * Read and parse a JSON file of at most `max` bytes. Returns a new reference, or NULL
 * with the reason (file, size, line and column of a syntax error) in err.
 */
json_t *cli_load_json(const char *path, size_t max, struct wc_error *err);

/* Print JSON indented, with a trailing newline, to stdout. */
void cli_print_json(const json_t *v);

#endif
