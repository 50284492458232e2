/*
 * cmd_serve.c - `windcast serve`: run the HTTP API until SIGINT or SIGTERM.
 *
 * The signals are blocked before the server threads start (they inherit the mask) and
 * taken synchronously here with sigwait, so no work happens in a signal handler; on a
 * signal the server stops accepting, lets in-flight requests finish, then exits 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/log.h"
#include "server/server.h"

static const char serve_usage[] =
	"usage: windcast serve [--listen HOST:PORT] [--threads N] [--max-connections N]\n"
	"                      [--timeout SECONDS] [--max-upload-mb N] [--job-workers N]\n"
	"                      [--cache-mb N]\n"
	"\n"
	"  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080; port 0 = any)\n"
	"  --threads N          worker threads (default 4)\n"
	"  --max-connections N  simultaneous connections (default 256)\n"
	"  --timeout SECONDS    idle connection timeout (default 30)\n"
	"  --max-upload-mb N    cap on uploaded grid files (default 2048)\n"
	"  --job-workers N      background job threads: ingest, training (default 2)\n"
	"  --cache-mb N         memory for reply bodies held between requests, 0..65536 MiB\n"
	"                       (default 64; 0 holds none: every request computes)\n";

int cmd_serve(int argc, char **argv, struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-upload-mb", required_argument, NULL, 'u' },
		{ "job-workers", required_argument, NULL, 'j' },
		{ "cache-mb", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct server *srv;
	sigset_t set;
	long v;
	int c, sig;

	server_config_init(&cfg);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			cfg.listen = optarg;
			break;
		case 't':
		case 'c':
		case 'T':
		case 'u':
		case 'j':
			if (cli_parse_long(optarg, 1, c == 't' || c == 'j' ? 256 : 1000000, &v)) {
				cmd_error("serve", "option '%s' needs a positive number, got '%s'",
					  argv[optind - 1], optarg);
				return CMD_USAGE;
			}
			if (c == 't')
				cfg.threads = (unsigned)v;
			else if (c == 'c')
				cfg.connection_limit = (unsigned)v;
			else if (c == 'u')
				cfg.max_upload = (size_t)v << 20;
			else if (c == 'j')
				cfg.job_workers = (unsigned)v;
			else
				cfg.connection_timeout_s = (unsigned)v;
			break;
		case 'm':
			if (cli_parse_long(optarg, 0, SERVER_CACHE_MB_MAX, &v))
				return cli_bad_option("serve", "--cache-mb", optarg,
						      "use 0..65536 MiB");
			cfg.cache_bytes = (size_t)v << 20;
			break;
		case 'h':
			fputs(serve_usage, stdout);
			return CMD_OK;
		default:
			cmd_error("serve", "unknown option '%s'", argv[optind - 1]);
			fputs(serve_usage, stderr);
			return CMD_USAGE;
		}
	}
	if (optind < argc) {
		cmd_error("serve", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (server_start(&cfg, ctx->store, &srv, &err)) {
		cmd_error("serve", "%s", wc_error_msg(&err));
		return CMD_FAIL;
	}
	log_info("windcast serving '%s' on port %u with %u threads (data '%s')", cfg.listen,
		 server_port(srv), cfg.threads, ctx->data_dir);
	printf("listening on port %u\n", server_port(srv));
	fflush(stdout);
	if (sigwait(&set, &sig) != 0)
		sig = SIGTERM;
	log_info("received %s, finishing in-flight requests", strsignal(sig));
	server_stop(srv);
	log_info("stopped");
	return CMD_OK;
}
