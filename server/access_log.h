/*
 * access_log.h - one structured line per request and per server event, as JSON Lines
 * (one object per line, keys in a fixed order), for `serve --access-log FILE|-|off`.
 *
 *   {"time":"2026-03-01T12:00:00.123Z","id":"5f3a9c1e00000001","method":"GET",
 *    "route":"/v1/farms/{id}/forecast","path":"/v1/farms/horns-reef/forecast?horizon=6",
 *    "status":200,"bytes":5321,"ms":0.412,"client":"127.0.0.1","token":3}
 *   {"time":"...","event":"cut","client":"10.0.0.7","reason":"slow_headers"}
 *
 * `id` is the request id also sent as X-Request-Id; `token` the id of the token that
 * authorised the request (0: none). Lines are gathered in a 64 KiB buffer under a mutex
 * (a memcpy) and written by the server's guard thread every 200 ms, when the buffer
 * fills, and at close, so a request never waits for the disk. A line that does not fit
 * a full buffer is dropped and counted (`dropped` in the close event).
 */
#ifndef WC_ACCESS_LOG_H
#define WC_ACCESS_LOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct access_log;

/* What one request line says. Strings are borrowed for the call. */
struct access_entry {
	const char *id;
	const char *method;
	const char *route;	/* the route pattern, or "" when none matched */
	const char *target;	/* the request target as sent (path and query) */
	unsigned status;	/* 0: no reply was sent (the client went away) */
	size_t bytes;
	uint64_t ns;
	const char *client;
	int64_t token;
};

/*
 * Open the log at `path`: "-" is standard output, "off" (or NULL) no log at all (*out
 * NULL; every call below accepts NULL and does nothing); else the file is opened for
 * appending (created 0640). WC_EIO naming the file when it cannot be opened.
 */
enum wc_status access_log_open(struct access_log **out, const char *path,
			       struct wc_error *err);
/* Write what is buffered and close (standard output is flushed, not closed). */
void access_log_close(struct access_log *l);
/* Close and open the file again (after logrotate moved it: SIGHUP). */
enum wc_status access_log_reopen(struct access_log *l, struct wc_error *err);
/* Write what is buffered now. */
void access_log_flush(struct access_log *l);

void access_log_request(struct access_log *l, const struct access_entry *e);
/* An event line: "time", "event" then the fields of `fields` (reference stolen; NULL: none). */
void access_log_event(struct access_log *l, const char *event, json_t *fields);

#endif
