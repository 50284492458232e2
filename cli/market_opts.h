/*
 * market_opts.h - the market settings as command-line options (--price, --psi-plus,
 * --psi-minus, --gate-closure, --time-zone, --min-mw, --max-mw), one getopt entry per
 * field of data/market.h's table, for `farm market`, `portfolio add` and `commit`.
 */
#ifndef WC_MARKET_OPTS_H
#define WC_MARKET_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "data/market.h"

#define MARKET_OPT_BASE 0x1000	/* getopt code of field f: MARKET_OPT_BASE + f */

/* Append the fields' long options at opts[n..n + MARKET_NFIELDS); returns the new n. */
size_t market_opts_add(struct option *opts, size_t n);

/* The field of getopt code c, or -1 when c is not a market option. */
int market_opt_field(int c);

/*
 * Set field f of m from optarg (market_set); on a bad value report "invalid --price
 * '-1': use ..." as cmd's and return CMD_USAGE, else CMD_OK.
 */
int market_opt_set(const char *cmd, int f, const char *optarg, struct market_settings *m);

/* One usage line per option, indented, for --help. */
void market_opts_usage(FILE *out);

#endif
