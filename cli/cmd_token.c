/*
 * cmd_token.c - `windcast token create|list|revoke`: the API's bearer tokens
 * (data/token.h, data/store_tokens.c).
 *
 * `create` prints the token alone on standard output, once (the store keeps only its
 * hash), so that a script captures it with $(...); what it is goes to standard error.
 * A revoke is seen by a running server at its next request (server/auth.h).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/utc.h"
#include "data/store.h"

static const char token_usage[] =
	"usage: windcast token create --scope read|write|admin [--name NAME]\n"
	"       windcast token list [--format text|json|csv]\n"
	"       windcast token revoke ID\n"
	"\n"
	"API tokens for 'Authorization: Bearer TOKEN'. Scopes: read (forecasts, listings),\n"
	"write (also grids, observations, training), admin (also farms and tokens).\n"
	"create prints the new token alone on standard output, once: the store keeps only\n"
	"its SHA-256. revoke stops it at a running server's next request.\n";

static int usage_error(const char *cmd, const char *msg)
{
	cmd_error(cmd, "%s", msg);
	fputs(token_usage, stderr);
	return CMD_USAGE;
}

static int token_create(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "scope", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct wc_error err = { 0 };
	struct token_info info;
	char token[TOKEN_LEN + 1], when[UTC_ISO_LEN];
	const char *name = "", *scope_s = NULL;
	enum token_scope scope;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 's')
			scope_s = optarg;
		else if (c == 'n')
			name = optarg;
		else if (c == 'h')
			return fputs(token_usage, stdout), CMD_OK;
		else
			return cli_bad_getopt("token create", c, argv);
	}
	if (optind < argc) {
		cmd_error("token create", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (!scope_s)
		return usage_error("token create", "option '--scope' is required: read, write or "
						   "admin");
	if (!token_scope_parse(scope_s, &scope))
		return cli_bad_option("token create", "--scope", scope_s,
				      "use read, write or admin");
	if (!token_name_valid(name, &err))
		return cli_bad_option("token create", "--name", name, err.msg);
	if (store_token_create(ctx->store, scope, name, token, &info, &err)) {
		cmd_error("token create", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	printf("%s\n", token);
	fflush(stdout);
	memset(token, 0, sizeof(token));
	fprintf(stderr,
		"windcast token create: token %lld%s%s%s, scope %s, made %s; it is shown only "
		"this once\n",
		(long long)info.id, info.name[0] ? " '" : "", info.name, info.name[0] ? "'" : "",
		token_scope_name(info.scope), utc_format(info.created_at, when));
	return CMD_OK;
}

static int token_list(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum cli_format fmt = CLI_TEXT;
	struct wc_error err = { 0 };
	struct token_info *t;
	size_t n;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'f') {
			if ((rc = cli_format_parse("token list", optarg, CLI_FORMATS_ALL, &fmt)))
				return rc;
		} else if (c == 'h') {
			return fputs(token_usage, stdout), CMD_OK;
		} else {
			return cli_bad_getopt("token list", c, argv);
		}
	}
	if (optind < argc) {
		cmd_error("token list", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	if (store_token_list(ctx->store, &t, &n, &err)) {
		cmd_error("token list", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	if (fmt == CLI_JSON) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, token_info_json(&t[i]));
		rc = cli_print_json_new("token list", arr) ? CMD_OK : CMD_FAIL;
	} else {
		char c1[UTC_ISO_LEN], c2[UTC_ISO_LEN];
		struct dynbuf b;

		dynbuf_init(&b, 1 << 20);
		if (fmt == CLI_CSV)
			printf("id,name,scope,hint,created_at,revoked_at\n");
		else
			printf("%-5s %-24s %-6s %-9s %-21s %s\n", "ID", "NAME", "SCOPE", "TOKEN",
			       "CREATED", "REVOKED");
		for (size_t i = 0; i < n; i++) {
			utc_format(t[i].created_at, c1);
			if (t[i].revoked_at)
				utc_format(t[i].revoked_at, c2);
			if (fmt == CLI_CSV) {
				dynbuf_reset(&b);
				dynbuf_add_csv_field(&b, t[i].name);
				printf("%lld,%s,%s,%s,%s,%s\n", (long long)t[i].id, dynbuf_str(&b),
				       token_scope_name(t[i].scope), t[i].hint, c1,
				       t[i].revoked_at ? c2 : "");
			} else {
				printf("%-5lld %-24s %-6s ...%-6s %-21s %s\n", (long long)t[i].id,
				       t[i].name[0] ? t[i].name : "-", token_scope_name(t[i].scope),
				       t[i].hint, c1, t[i].revoked_at ? c2 : "-");
			}
		}
		dynbuf_release(&b);
		rc = CMD_OK;
	}
	free(t);
	return rc;
}

static int token_revoke(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct wc_error err = { 0 };
	struct token_info info;
	char when[UTC_ISO_LEN];
	long id;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return fputs(token_usage, stdout), CMD_OK;
	if (argc != 2)
		return usage_error("token revoke", "expected exactly one token id (see 'windcast "
						   "token list')");
	if (cli_parse_long(argv[1], 1, LONG_MAX, &id))
		return cli_bad_option("token revoke", "ID", argv[1],
				      "use the number 'windcast token list' shows");
	if (store_token_revoke(ctx->store, id, &info, &err)) {
		cmd_error("token revoke", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	fprintf(stderr, "windcast token revoke: token %ld%s%s%s revoked at %s\n", id,
		info.name[0] ? " '" : "", info.name, info.name[0] ? "'" : "",
		utc_format(info.revoked_at, when));
	return CMD_OK;
}

const struct cmd token_subcommands[] = {
	{ "create", token_create, CREATES_STORE, "make a token and print it once", NULL },
	{ "list", token_list, NEEDS_STORE, "list the tokens (never the tokens themselves)",
	  NULL },
	{ "revoke", token_revoke, NEEDS_STORE, "revoke a token by its id", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

int cmd_token(int argc, char **argv, struct cmd_ctx *ctx)
{
	const struct cmd *sub;

	if (argc < 2) {
		fputs(token_usage, stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(token_usage, stdout);
		return CMD_OK;
	}
	if ((sub = cmd_find_sub(token_subcommands, argv[1])))
		return sub->fn(argc - 1, argv + 1, ctx);
	cmd_error("token", "unknown subcommand '%s'", argv[1]);
	fputs(token_usage, stderr);
	return CMD_USAGE;
}
