/* conn_guard.c - connection deadlines and the thread that enforces them (conn_guard.h). */
#include "server/conn_guard.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/access_log.h"
#include "server/metrics.h"

struct conn_guard {
	pthread_mutex_t lock;	/* guards the list and `stopping` */
	pthread_cond_t wake;
	struct conn_state head;	/* list sentinel */
	long count;
	uint64_t timeout_ns;
	struct access_log *log;
	bool stopping;
	pthread_t thread;
};

static void cut(struct conn_guard *g, struct conn_state *c, uint64_t now)
{
	int phase = atomic_load(&c->phase);
	enum cut_reason why = phase == CONN_BODY ? CUT_SLOW_BODY
			      : phase == CONN_REPLY ? CUT_SLOW_REPLY
						    : CUT_SLOW_HEADERS;

	c->cut = 1;
	shutdown(c->fd, SHUT_RDWR);
	/* an idle keep-alive connection at its idle timeout is not a slow client */
	if (phase == CONN_IDLE)
		return;
	metrics_count_cut(why);
	access_log_event(g->log, "cut",
			 json_pack("{s:s,s:s,s:f}", "client", c->client, "reason",
				   metrics_cut_name(why), "seconds",
				   (double)(now - atomic_load(&c->phase_start_ns)) / 1e9));
}

static void *guard_main(void *cls)
{
	struct conn_guard *g = cls;

	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec until;
		uint64_t now = metrics_now_ns();

		for (struct conn_state *c = g->head.next; c != &g->head; c = c->next) {
			uint64_t d = atomic_load(&c->deadline_ns);

			if (d && now > d && !c->cut)
				cut(g, c, now);
		}
		pthread_mutex_unlock(&g->lock);
		access_log_flush(g->log);
		pthread_mutex_lock(&g->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += CONN_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!g->stopping)
			pthread_cond_timedwait(&g->wake, &g->lock, &until);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

enum wc_status conn_guard_start(struct conn_guard **out, unsigned timeout_s,
				struct access_log *log, struct wc_error *err)
{
	struct conn_guard *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	g->head.next = g->head.prev = &g->head;
	g->timeout_ns = (uint64_t)timeout_s * 1000000000u;
	g->log = log;
	if (pthread_create(&g->thread, NULL, guard_main, g)) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return wc_error_set(err, WC_ENOMEM, "cannot start the connection guard thread");
	}
	*out = g;
	return WC_OK;
}

void conn_guard_stop(struct conn_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static void peer_text(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)cap);
}

void conn_guard_opened(struct conn_guard *g, struct MHD_Connection *conn,
		       void **socket_context)
{
	struct conn_state *c = calloc(1, sizeof(*c));
	const union MHD_ConnectionInfo *fd;

	*socket_context = c;
	if (!c)
		return;	/* no deadline for this one: libmicrohttpd's idle timeout still holds */
	fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	c->fd = fd ? fd->connect_fd : -1;
	peer_text(conn, c->client, sizeof(c->client));
	conn_guard_set(g, c, CONN_IDLE, metrics_now_ns(), 0);
	pthread_mutex_lock(&g->lock);
	c->next = &g->head;
	c->prev = g->head.prev;
	g->head.prev->next = c;
	g->head.prev = c;
	g->count++;
	pthread_mutex_unlock(&g->lock);
}

void conn_guard_closed(struct conn_guard *g, void **socket_context)
{
	struct conn_state *c = *socket_context;

	if (!c)
		return;
	/* libmicrohttpd calls this before it closes the socket: once c is off the list,
	 * the guard can no longer shut down a descriptor that a new connection reuses */
	pthread_mutex_lock(&g->lock);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	g->count--;
	pthread_mutex_unlock(&g->lock);
	free(c);
	*socket_context = NULL;
}

void conn_guard_set(struct conn_guard *g, struct conn_state *c, enum conn_phase phase,
		    uint64_t now_ns, size_t bytes)
{
	uint64_t d = 0, start;

	if (!c || !g)
		return;
	start = atomic_load_explicit(&c->phase_start_ns, memory_order_relaxed);

	if (phase != CONN_BODY || atomic_load_explicit(&c->phase, memory_order_relaxed) != CONN_BODY)
		atomic_store_explicit(&c->phase_start_ns, start = now_ns, memory_order_relaxed);
	if (phase != CONN_HANDLER)
		d = start + g->timeout_ns +
		    (uint64_t)((double)bytes / CONN_MIN_RATE * 1e9);
	atomic_store_explicit(&c->phase, phase, memory_order_relaxed);
	atomic_store_explicit(&c->deadline_ns, d, memory_order_release);
}

long conn_guard_count(struct conn_guard *g)
{
	long n;

	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	n = g->count;
	pthread_mutex_unlock(&g->lock);
	return n;
}
