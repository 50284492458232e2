/*
 * util.h - small helpers shared by the cmd_*.c files: number parsing, JSON files and
 * JSON output.
 */
#ifndef WC_CLI_UTIL_H
#define WC_CLI_UTIL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/dynbuf.h"
#include "common/status.h"

/*
 * The one output rule of every command that prints data: it takes
 * --format text|json|csv (csv where the data is a table of rows); text, for people, is
 * the default everywhere; json prints exactly one JSON document (an array or an object)
 * and csv one header line then rows, for scripts. Messages go to stderr in every format.
 */
enum cli_format { CLI_TEXT, CLI_JSON, CLI_CSV };
#define CLI_FORMATS_ALL ((1u << CLI_TEXT) | (1u << CLI_JSON) | (1u << CLI_CSV))
#define CLI_FORMATS_NO_CSV ((1u << CLI_TEXT) | (1u << CLI_JSON))

/*
 * Parse the value of --format among `allowed` (bits 1u << CLI_TEXT, ...). On a bad one
 * report "invalid --format 'xml': use text or json" and return CMD_USAGE; else 0.
 */
int cli_format_parse(const char *cmd, const char *value, unsigned allowed,
		     enum cli_format *out);

/*
 * Report getopt_long's complaint about the option it just refused (optstring starting
 * with ':'): "option '--farm' needs a value" for c == ':', else "unknown option '--x'".
 * Returns CMD_USAGE.
 */
int cli_bad_getopt(const char *cmd, int c, char **argv);

/* Parse a whole string as a finite double; nonzero on failure (*out untouched). */
int cli_parse_double(const char *s, double *out);
/* Parse a whole string as a long in [lo, hi]; nonzero on failure. */
int cli_parse_long(const char *s, long lo, long hi, long *out);

/* Report "windcast CMD: invalid OPT 'VAL': HINT" and return CMD_USAGE (2). */
int cli_bad_option(const char *cmd, const char *opt, const char *val, const char *hint);

/*
 * Append the whole file at `path` ("-": standard input) to b, whose cap bounds it.
 * The message names the path (and the cap when the file is larger).
 */
enum wc_status cli_read_file(const char *path, struct dynbuf *b, struct wc_error *err);

/*
 * Read and parse a JSON file of at most `max` bytes. Returns a new reference, or NULL
 * with the reason (file, size, line and column of a syntax error) in err.
 */
json_t *cli_load_json(const char *path, size_t max, struct wc_error *err);

/*
 * The options of a registry's list and show subcommands: --format (text, json, csv),
 * --help (usage(stdout), then -1), and for show (`id` not NULL) exactly one id, "what"
 * naming it in the message ("expected exactly one farm id"). Returns CMD_OK, CMD_USAGE
 * (reported) or -1.
 */
int cli_list_show_args(const char *cmd, int argc, char **argv, const char *what,
		       const char **id, enum cli_format *fmt, void (*usage)(FILE *out));

/*
 * Read times from `path`, one ISO 8601 time per line (blank lines and lines starting
 * with '#' skipped), at most `max`: *out malloc'd (caller frees), *n >= 1. Errors are
 * reported as cmd's: CMD_USAGE for a bad line (its number) or too many, an empty file;
 * CMD_FAIL when the file cannot be read.
 */
int cli_read_times(const char *cmd, const char *path, size_t max, int64_t **out, size_t *n);

/* Print JSON indented, with a trailing newline, to stdout. */
void cli_print_json(const json_t *v);
/* The same, taking the reference (NULL: out of memory, reported); returns v != NULL. */
bool cli_print_json_new(const char *cmd, json_t *v);

/* The command line argv[0..argc) as a JSON array of strings (recorded in the files a
 * command writes); NULL when out of memory. */
json_t *cli_argv_json(int argc, char **argv);

/*
 * Catch SIGINT and SIGTERM: the first sets the flag returned (a long command checks it
 * and stops cleanly), then the handler is reset, so a second one kills as usual.
 */
volatile sig_atomic_t *cli_stop_on_signals(void);

#endif
