/*
 * bare_server.c - the yardstick of scripts/loadtest: a minimal libmicrohttpd server that
 * answers every GET with the same bytes from memory, with the daemon options windcast
 * serve uses (internal thread pool, epoll), so that the held forecast's throughput can be
 * compared with what the library itself gives on this machine.
 *
 *   bare_server PORT THREADS BODY_FILE [CONTENT_TYPE]
 *
 * Listens on 127.0.0.1 (PORT 0: any free port), prints "listening on port N" and serves
 * until SIGINT or SIGTERM. The reply is queued
 * on the second call of the access handler: queueing it on the first (before the request
 * is complete) makes libmicrohttpd 0.9.75 close the connection after each reply. Not a
 * name=value benchmark (it sits below tests/bench/, not in it): scripts/loadtest builds and
 * drives it.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

static char *body;
static size_t body_len;
static const char *content_type = "application/json";

static MHD_Result_t answer(void *cls __attribute__((unused)), struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	static int first;
	struct MHD_Response *resp;
	MHD_Result_t ret;

	if (!*con_cls) {
		*con_cls = &first;
		return MHD_YES;
	}
	*upload_data_size = 0;
	resp = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	FILE *f;
	long size;
	sigset_t set;
	int sig;

	if (argc < 4) {
		fprintf(stderr, "usage: bare_server PORT THREADS BODY_FILE [CONTENT_TYPE]\n");
		return 2;
	}
	if (argc > 4)
		content_type = argv[4];
	if (!(f = fopen(argv[3], "rb")) || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) || !(body = malloc((size_t)size + 1)) ||
	    fread(body, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "bare_server: cannot read '%s'\n", argv[3]);
		return 1;
	}
	fclose(f);
	body_len = (size_t)size;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	addr.sin_port = htons((uint16_t)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
				     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)atoi(argv[2]),
			     MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bare_server: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on port %u\n", info ? info->port : 0);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	free(body);
	return 0;
}
