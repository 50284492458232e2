/* h_metrics.c - GET /metrics: the Prometheus text exposition (server/metrics.h). */
#include "data/store.h"
#include "server/handlers.h"
#include "server/metrics.h"

#define METRICS_MAX_BYTES (8u << 20)

void metrics_handler(struct request *req, struct reply *rep)
{
	struct metrics_gauges g;
	struct wc_error err = { 0 };
	struct dynbuf b;

	server_gauges(req->srv, &g);
	dynbuf_init(&b, METRICS_MAX_BYTES);
	if (metrics_render(req->store, &g, &b, &err))
		reply_wc_error(rep, &err);
	else
		reply_text(rep, 200, "text/plain; version=0.0.4; charset=utf-8", dynbuf_str(&b),
			   b.len);
	dynbuf_release(&b);
}
