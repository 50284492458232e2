/* market_opts.c - market settings as options; see market_opts.h. */
#include "cli/market_opts.h"

#include "cli/cmd.h"
#include "cli/util.h"

size_t market_opts_add(struct option *opts, size_t n)
{
	for (int f = 0; f < MARKET_NFIELDS; f++)
		opts[n++] = (struct option){ market_fields[f].option + 2, required_argument, NULL,
					     MARKET_OPT_BASE + f };
	return n;
}

int market_opt_field(int c)
{
	return c >= MARKET_OPT_BASE && c < MARKET_OPT_BASE + MARKET_NFIELDS ? c - MARKET_OPT_BASE
									     : -1;
}

int market_opt_set(const char *cmd, int f, const char *optarg, struct market_settings *m)
{
	struct wc_error err = { 0 };

	if (market_set(m, market_fields[f].key, optarg, &err))
		return cli_bad_option(cmd, market_fields[f].option, optarg, err.msg);
	return CMD_OK;
}

void market_opts_usage(FILE *out)
{
	for (int f = 0; f < MARKET_NFIELDS; f++)
		fprintf(out, "  %-16s %s\n", market_fields[f].option, market_fields[f].doc);
}
