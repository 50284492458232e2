/*
 * cmd_serve.c - `windcast serve`: run the HTTP API until SIGINT or SIGTERM.
 *
 * The signals are blocked before the server threads start (they inherit the mask) and
 * taken synchronously here with sigwait, so no work happens in a signal handler.
 * SIGTERM/SIGINT: stop accepting, let in-flight requests and running jobs finish within
 * the grace period, exit 0 (1, at once, when jobs were still running: the store keeps
 * the state before them). SIGHUP: reload tokens and the access log (server_reload).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/util.h"
#include "common/log.h"
#include "server/server.h"

static const char serve_usage[] =
	"usage: windcast serve [--listen HOST:PORT] [--threads N] [--auth on|off]\n"
	"                      [--tls-cert FILE --tls-key FILE] [--access-log FILE|-|off]\n"
	"                      [--metrics-auth] [limits...]\n"
	"\n"
	"  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080; port 0 = any)\n"
	"  --threads N              worker threads (default 4)\n"
	"  --auth on|off            bearer tokens on /v1 routes (default on; off only on a\n"
	"                           loopback address); make tokens with 'windcast token'\n"
	"  --metrics-auth           GET /metrics needs a read token (default: open)\n"
	"  --tls-cert FILE          serve HTTPS with this PEM certificate (chain)...\n"
	"  --tls-key FILE           ...and this PEM private key\n"
	"  --access-log FILE|-|off  one JSON line per request and event (default off;\n"
	"                           '-' standard output); SIGHUP reopens FILE\n"
	"limits:\n"
	"  --max-connections N      simultaneous connections (default 256)\n"
	"  --max-connections-per-ip N  from one address (default 128)\n"
	"  --timeout SECONDS        idle timeout, and the deadline a slow client gets for\n"
	"                           its headers, body or reply (default 30)\n"
	"  --max-upload-mb N        cap on uploaded grid files (default 2048)\n"
	"  --max-body-memory-mb N   request bodies held in memory, all together (default 256)\n"
	"  --job-workers N          background job threads: ingest, training (default 2)\n"
	"  --max-queued-jobs N      jobs waiting for a worker; more get 503 (default 64)\n"
	"  --grace SECONDS          on SIGTERM, time for requests and jobs to finish\n"
	"                           (default 30)\n"
	"  --cache-mb N             memory for reply bodies held between requests,\n"
	"                           0..65536 MiB (default 64; 0 holds none: every\n"
	"                           request computes)\n"
	"\n"
	"Signals: SIGTERM or SIGINT stop gracefully; SIGHUP reloads the API tokens and\n"
	"reopens the access log.\n";

/* A numeric option's value in [lo, hi] into *out; CMD_USAGE (reported) when not. */
static int number(const char *opt, const char *val, long lo, long hi, long *out)
{
	char hint[64];

	if (!cli_parse_long(val, lo, hi, out))
		return 0;
	snprintf(hint, sizeof(hint), "use a whole number from %ld to %ld", lo, hi);
	return cli_bad_option("serve", opt, val, hint);
}

static const struct {
	const char *name;
	long lo, hi;
} ranges[] = {
	['t'] = { "--threads", 1, 256 },
	['c'] = { "--max-connections", 1, 100000 },
	['P'] = { "--max-connections-per-ip", 1, 100000 },
	['T'] = { "--timeout", 1, 3600 },
	['u'] = { "--max-upload-mb", 1, 1 << 20 },
	['m'] = { "--max-body-memory-mb", 1, 1 << 20 },
	['j'] = { "--job-workers", 1, 256 },
	['q'] = { "--max-queued-jobs", 1, 100000 },
	['g'] = { "--grace", 0, 3600 },
};

static int parse_args(int argc, char **argv, struct server_config *cfg)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "max-connections-per-ip", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-upload-mb", required_argument, NULL, 'u' },
		{ "max-body-memory-mb", required_argument, NULL, 'm' },
		{ "job-workers", required_argument, NULL, 'j' },
		{ "max-queued-jobs", required_argument, NULL, 'q' },
		{ "grace", required_argument, NULL, 'g' },
		{ "auth", required_argument, NULL, 'a' },
		{ "metrics-auth", no_argument, NULL, 'M' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "access-log", required_argument, NULL, 'L' },
		{ "cache-mb", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			cfg->listen = optarg;
			break;
		case 't': case 'c': case 'P': case 'T': case 'u': case 'm': case 'j': case 'q':
		case 'g':
			if (number(ranges[c].name, optarg, ranges[c].lo, ranges[c].hi, &v))
				return CMD_USAGE;
			if (c == 't')
				cfg->threads = (unsigned)v;
			else if (c == 'c')
				cfg->connection_limit = (unsigned)v;
			else if (c == 'P')
				cfg->per_ip_limit = (unsigned)v;
			else if (c == 'T')
				cfg->connection_timeout_s = (unsigned)v;
			else if (c == 'u')
				cfg->max_upload = (size_t)v << 20;
			else if (c == 'm')
				cfg->body_memory = (size_t)v << 20;
			else if (c == 'j')
				cfg->job_workers = (unsigned)v;
			else if (c == 'q')
				cfg->max_queued_jobs = (unsigned)v;
			else
				cfg->shutdown_grace_s = (unsigned)v;
			break;
		case 'a':
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return cli_bad_option("serve", "--auth", optarg, "use on or off");
			cfg->auth = !strcmp(optarg, "on");
			break;
		case 'M':
			cfg->metrics_auth = true;
			break;
		case 'C':
			cfg->tls_cert = optarg;
			break;
		case 'K':
			cfg->tls_key = optarg;
			break;
		case 'L':
			cfg->access_log = optarg;
			break;
		case 'B':
			if (cli_parse_long(optarg, 0, SERVER_CACHE_MB_MAX, &v))
				return cli_bad_option("serve", "--cache-mb", optarg,
						      "use 0..65536 MiB");
			cfg->cache_bytes = (size_t)v << 20;
			break;
		case 'h':
			fputs(serve_usage, stdout);
			return -1;
		default:
			cli_bad_getopt("serve", c, argv);
			return CMD_USAGE;
		}
	}
	if (optind < argc) {
		cmd_error("serve", "unexpected argument '%s'", argv[optind]);
		return CMD_USAGE;
	}
	return 0;
}

int cmd_serve(int argc, char **argv, struct cmd_ctx *ctx)
{
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct server *srv;
	unsigned left;
	sigset_t set;
	int sig, rc;

	server_config_init(&cfg);
	if ((rc = parse_args(argc, argv, &cfg)))
		return rc < 0 ? CMD_OK : rc;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (server_start(&cfg, ctx->store, &srv, &err)) {
		cmd_error("serve", "%s", wc_error_msg(&err));
		return err.code == WC_EINVAL ? CMD_USAGE : CMD_FAIL;
	}
	log_info("windcast serving '%s' on port %u with %u threads (data '%s', %s, auth %s)",
		 cfg.listen, server_port(srv), cfg.threads, ctx->data_dir,
		 cfg.tls_cert ? "https" : "http", cfg.auth ? "on" : "OFF");
	printf("listening on port %u\n", server_port(srv));
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
		if (sig != SIGHUP)
			break;
		log_info("received SIGHUP, reloading");
		server_reload(srv);
	}
	log_info("received %s, finishing in-flight requests and jobs (grace %u s)",
		 strsignal(sig), cfg.shutdown_grace_s);
	if ((left = server_shutdown(srv))) {
		/* jobs still hold the store: leave as a crash would, without closing it */
		log_error("stopped with %u job(s) unfinished", left);
		fflush(NULL);
		_exit(CMD_FAIL);
	}
	log_info("stopped");
	return CMD_OK;
}
