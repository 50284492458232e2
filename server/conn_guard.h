/*
 * conn_guard.h - deadlines on client connections, so that a slow client (slowloris:
 * trickling its headers, its body, or reading the reply a byte at a time) is cut off.
 *
 * libmicrohttpd's own timeout is an idle timeout: every byte received restarts it, so a
 * client sending one byte every 29 s holds a connection for ever. Here every connection
 * has a deadline that data does not push back:
 *   - opened, or its previous reply sent: a request line within `timeout`;
 *   - request line in: the whole header within `timeout`;
 *   - headers in: the body within timeout + size / CONN_MIN_RATE;
 *   - reply queued: sent within timeout + size / CONN_MIN_RATE;
 *   - while the handler runs: none (the work is the server's, not the client's).
 * A thread checks the deadlines every CONN_TICK_MS and cuts (shutdown(2)) the
 * connections past theirs; libmicrohttpd then closes them in its own thread. The same
 * thread flushes the access log.
 *
 * Threads: conn_guard_opened/closed take the registry's mutex (once per connection);
 * conn_guard_set is an atomic store (per request, no lock).
 */
#ifndef WC_CONN_GUARD_H
#define WC_CONN_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define CONN_MIN_RATE (16 * 1024)	/* bytes per second a body or reply must average */
#define CONN_TICK_MS 100

struct conn_guard;
struct access_log;
struct MHD_Connection;

enum conn_phase {
	CONN_IDLE,	/* waiting for a request line */
	CONN_HEADERS,	/* request line in, headers coming */
	CONN_BODY,	/* headers in, body coming */
	CONN_HANDLER,	/* the server is working: no deadline */
	CONN_REPLY,	/* reply queued */
};

/* One connection's state (libmicrohttpd's socket context). */
struct conn_state {
	struct conn_state *prev, *next;	/* the registry (guard's mutex) */
	int fd;
	char client[48];		/* the peer's address, text */
	_Atomic uint64_t phase_start_ns;
	_Atomic uint64_t deadline_ns;	/* 0: none */
	_Atomic int phase;
	int cut;			/* the guard shut it down (guard's mutex) */
};

/*
 * Start the guard thread: `timeout_s` as above, `log` (may be NULL) gets one event line
 * per cut connection and is flushed every tick.
 */
enum wc_status conn_guard_start(struct conn_guard **out, unsigned timeout_s,
				struct access_log *log, struct wc_error *err);
/* Stop the thread and free (every connection must be closed by now). NULL is fine. */
void conn_guard_stop(struct conn_guard *g);

/* libmicrohttpd's connection notifications: make or free *socket_context. */
void conn_guard_opened(struct conn_guard *g, struct MHD_Connection *conn,
		       void **socket_context);
void conn_guard_closed(struct conn_guard *g, void **socket_context);

/*
 * Enter `phase` now (now_ns from metrics_now_ns); `bytes` is the size that buys time in
 * CONN_BODY (received so far) and CONN_REPLY (the reply's size). c may be NULL.
 */
void conn_guard_set(struct conn_guard *g, struct conn_state *c, enum conn_phase phase,
		    uint64_t now_ns, size_t bytes);

/* Open connections now. */
long conn_guard_count(struct conn_guard *g);

#endif
