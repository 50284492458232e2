/*
 * test_limits.c - behaviour under pressure on a real daemon: slow clients cut at their
 * deadline (headers and bodies trickled to keep libmicrohttpd's idle timer alive), the
 * per-address and total connection limits, the bounded job queue (503 + Retry-After and
 * no job left behind), and the server-wide budget for bodies in memory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "data/store.h"
#include "server/handlers.h"
#include "server/jobs.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"

static char *dir;
static struct store *st;
static struct server *srv;
static unsigned port;

static void start_with(void (*tune)(struct server_config *))
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	if (tune)
		tune(&cfg);
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	port = server_port(srv);
}

static void setup(void)
{
	struct wc_error err = { 0 };

	dir = tu_tmpdir();
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	tu_auth(st);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 60);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_local(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

/* True when the server closed fd (EOF or reset) within `wait_ms`. */
static bool closed_within(int fd, int wait_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[4096];

	while (poll(&p, 1, wait_ms) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
	}
	return false;
}

/*
 * Send head at once, then `trickle` one byte every 200 ms for up to `for_s` seconds or
 * until the server closes the connection. Returns the seconds it stayed open after head.
 */
static double trickle(const char *head, const char *slow, double for_s)
{
	int fd = connect_local();
	double t0 = now_s(), t = 0;
	size_t i = 0;

	cr_assert_eq(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
	while ((t = now_s() - t0) < for_s) {
		if (send(fd, slow + i % strlen(slow), 1, MSG_NOSIGNAL) != 1)
			break;
		i++;
		if (closed_within(fd, 200))
			break;
	}
	t = now_s() - t0;
	close(fd);
	return t;
}

static void timeout_1s(struct server_config *cfg)
{
	cfg->connection_timeout_s = 1;
}

/* The value of one sample line "name{labels} V" in /metrics, or -1. */
static double metric(const char *line_start)
{
	struct tu_http r;
	const char *p;
	double v = -1;

	cr_assert(tu_http_request(port, "GET", "/metrics", NULL, 0, NULL, &r));
	if ((p = strstr(r.body, line_start)))
		v = strtod(p + strlen(line_start), NULL);
	tu_http_release(&r);
	return v;
}

Test(limits, trickled_headers_are_cut_at_the_deadline)
{
	double open_s;

	start_with(timeout_1s);
	/* a byte every 200 ms keeps libmicrohttpd's 1 s idle timer from ever firing */
	open_s = trickle("GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Slow: aaaaaaaaaaaaa\r\n", 8);
	cr_assert_lt(open_s, 3.0, "a slowloris held the connection %.1f s (deadline 1 s)", open_s);
	cr_assert_gt(open_s, 0.8, "cut before its deadline: %.1f s", open_s);
	cr_assert_eq(metric("windcast_http_connections_cut_total{reason=\"slow_headers\"} "), 1);
}

Test(limits, trickled_body_is_cut_at_the_deadline)
{
	char head[256];
	double open_s;

	start_with(timeout_1s);
	snprintf(head, sizeof(head),
		 "POST /v1/farms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
		 tu_token());
	open_s = trickle(head, "{\"id\":", 8);
	/* deadline: 1 s + 5000 B / 16 KiB/s = 1.3 s */
	cr_assert_lt(open_s, 3.5, "a slow body held the connection %.1f s", open_s);
	cr_assert_eq(metric("windcast_http_connections_cut_total{reason=\"slow_body\"} "), 1);
}

Test(limits, a_prompt_client_is_not_cut)
{
	struct tu_http r;

	start_with(timeout_1s);
	for (int i = 0; i < 3; i++) {
		cr_assert(tu_http_request(port, "GET", "/v1/farms", NULL, 0, NULL, &r));
		cr_assert_eq(r.status, 200);
		tu_http_release(&r);
		usleep(400000);
	}
	cr_assert_eq(metric("windcast_http_connections_cut_total{reason=\"slow_headers\"} "), 0);
}

static void per_ip_2(struct server_config *cfg)
{
	cfg->per_ip_limit = 2;
}

static void total_3(struct server_config *cfg)
{
	cfg->connection_limit = 3;
	cfg->threads = 1;	/* a pool divides the limit among its threads */
}

/* Open n connections that each hold a half-sent request; check the last is closed. */
static void assert_nth_refused(int n)
{
	int fd[8];

	for (int i = 0; i < n; i++) {
		fd[i] = connect_local();
		cr_assert_eq(send(fd[i], "GET /", 5, MSG_NOSIGNAL), 5);
	}
	usleep(200000);
	for (int i = 0; i < n - 1; i++)
		cr_assert_not(closed_within(fd[i], 50), "connection %d of %d kept", i + 1, n);
	cr_assert(closed_within(fd[n - 1], 2000), "connection %d over the limit closed", n);
	for (int i = 0; i < n; i++)
		close(fd[i]);
}

Test(limits, per_address_connection_limit)
{
	struct tu_http r;

	start_with(per_ip_2);
	assert_nth_refused(3);
	usleep(200000);
	cr_assert(tu_http_request(port, "GET", "/healthz", NULL, 0, NULL, &r),
		  "a slot frees when a connection closes");
	cr_assert_eq(r.status, 200);
	tu_http_release(&r);
}

/* At the total limit libmicrohttpd stops accepting: a 4th client waits in the kernel's
 * backlog, unserved, until a connection closes. */
Test(limits, total_connection_limit)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct pollfd p;
	char buf[512];
	int fd[4];

	start_with(total_3);
	for (int i = 0; i < 4; i++) {
		fd[i] = connect_local();
		cr_assert_eq(send(fd[i], "GET /", 5, MSG_NOSIGNAL), 5);
	}
	cr_assert_eq(send(fd[3], req + 5, strlen(req) - 5, MSG_NOSIGNAL), (ssize_t)strlen(req) - 5);
	p = (struct pollfd){ fd[3], POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, 1000), 0, "the 4th connection is not served at the limit");
	close(fd[0]);
	cr_assert_eq(poll(&p, 1, 5000), 1, "served once a slot frees");
	cr_assert_gt(recv(fd[3], buf, sizeof(buf) - 1, 0), 12);
	cr_assert_eq(strncmp(buf, "HTTP/1.1 200", 12), 0, "%.40s", buf);
	for (int i = 1; i < 4; i++)
		close(fd[i]);
}

/* A job that blocks until released, to keep the pool busy. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static char *blocking_job(const struct job_run *jr, int *failed)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	*failed = 0;
	return NULL;
}

/* The server's own kinds and "block". */
static struct job_kind kinds_and_block[8];

static size_t with_block(void)
{
	memcpy(kinds_and_block, job_kinds, njob_kinds * sizeof(job_kinds[0]));
	kinds_and_block[njob_kinds] = (struct job_kind){ "block", blocking_job };
	return njob_kinds + 1;
}

static void one_worker_one_queued(struct server_config *cfg)
{
	cfg->njob_kinds = with_block();
	cfg->job_kinds = kinds_and_block;
	cfg->job_workers = 1;
	cfg->max_queued_jobs = 1;
}

Test(limits, full_job_queue_is_503_with_retry_after_and_leaves_no_job)
{
	struct wc_error err = { 0 };
	struct tu_http r;
	int64_t id;
	json_t *v;

	start_with(one_worker_one_queued);
	cr_assert_eq(tu_cli(dir, NULL, NULL, "farm add --id f --name F --lat 55 --lon 8 "
					     "--capacity-mw 10"),
		     0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(store_job_create(st, "block", "{}", &id, &err), WC_OK);
		cr_assert_eq(job_pool_submit(server_jobs(srv), id, &err),
			     WC_OK, "job %d: %s", i, err.msg);
		usleep(100000);	/* the first one starts: the second waits */
	}
	cr_assert(job_pool_full(server_jobs(srv)));
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/train", "{}", (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 503, "%ld %s", r.status, r.body);
	cr_assert(strstr(r.headers, "Retry-After: "), "%s", r.headers);
	cr_assert(strstr(r.body, "job queue is full"), "%s", r.body);
	tu_http_release(&r);
	/* no record was made for the refused job: the next id is 3 */
	cr_assert(tu_http_request(port, "GET", "/v1/jobs/3", NULL, 0, NULL, &r));
	cr_assert_eq(r.status, 404, "%s", r.body);
	tu_http_release(&r);
	cr_assert_eq(metric("windcast_jobs_total{kind=\"train\",outcome=\"refused\"} "), 1);
	/* open the gate: the queue drains and a job is taken again */
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	for (int i = 0; i < 100 && job_pool_full(server_jobs(srv)); i++)
		usleep(20000);
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/train", "{}", (size_t)-1, NULL, &r));
	cr_assert_eq(r.status, 202, "%ld %s", r.status, r.body);
	v = json_loads(r.body, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(v, "job"), "id")), 3);
	json_decref(v);
	tu_http_release(&r);
	json_decref(tu_wait_job(port, "/v1/jobs/3"));
}

static void body_budget_1mib(struct server_config *cfg)
{
	cfg->body_memory = 1 << 20;
}

Test(limits, body_memory_budget_is_503)
{
	size_t n = (size_t)3 << 20;
	char *body = malloc(n);
	struct tu_http r;

	start_with(body_budget_1mib);
	cr_assert_eq(tu_cli(dir, NULL, NULL, "farm add --id f --name F --lat 55 --lon 8 "
					     "--capacity-mw 10"),
		     0);
	memset(body, 'x', n);
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/observations", body, n, NULL, &r));
	cr_assert_eq(r.status, 503, "%ld %.300s", r.status, r.body);
	cr_assert(strstr(r.headers, "Retry-After: "), "%s", r.headers);
	tu_http_release(&r);
	free(body);
	/* the budget is given back: a small body goes through (and fails on its content) */
	cr_assert(tu_http_request(port, "POST", "/v1/farms/f/observations", "time,power_mw\n",
				  (size_t)-1, NULL, &r));
	cr_assert_neq(r.status, 503, "%s", r.body);
	tu_http_release(&r);
}

Test(job_pool, refuses_past_its_limit_and_drains)
{
	char *d = tu_tmpdir();
	struct store *s;
	struct job_pool *p;
	struct wc_error err = { 0 };

	const struct job_kind block = { "block", blocking_job };
	int64_t id;

	cr_assert_eq(store_open(d, &s, &err), WC_OK);
	cr_assert_eq(job_pool_start(&p, s, 1, &block, 1, &err), WC_OK);
	for (int i = 0; i < 4; i++)	/* jobs 1..4 (made after the start: none to recover) */
		cr_assert_eq(store_job_create(s, "block", "{}", &id, &err), WC_OK, "%s", err.msg);
	job_pool_set_limit(p, 2);
	gate_open = false;
	cr_assert_eq(job_pool_submit(p, 1, &err), WC_OK);
	for (int i = 0; i < 100 && job_pool_running(p) == 0; i++)
		usleep(10000);
	for (int i = 0; i < 2; i++)	/* one runs, two wait */
		cr_assert_eq(job_pool_submit(p, i + 2, &err), WC_OK);
	cr_assert_eq(job_pool_running(p), 1);
	cr_assert_eq(job_pool_queued(p), 2);
	cr_assert_eq(job_pool_submit(p, 4, &err), WC_EBUSY);
	cr_assert(strstr(err.msg, "job queue is full (2 jobs waiting)"), "%s", err.msg);
	/* drain: no new job starts, the running one has 100 ms and is still running */
	cr_assert_eq(job_pool_drain(p, 100), 1);
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	cr_assert_eq(job_pool_drain(p, 5000), 0, "the running job ends once released");
	cr_assert_eq(job_pool_queued(p), 2, "queued jobs were not started while draining");
	job_pool_stop(p);
	store_close(s);
	tu_rmrf_free(d);
}

/* What a job thread's priority was, seen from inside a job. */
static int seen_nice = -100;

static char *nice_job(const struct job_run *jr, int *failed)
{
	errno = 0;
	seen_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	*failed = errno != 0;
	return NULL;
}

/*
 * Jobs run behind the requests: a job thread (and the training threads it starts) has
 * nice 10, so that a training on the same cores does not hold polls back (the load
 * test's mixed phase: p99 167 ms with jobs at the server's priority, 16 ms with this).
 */
Test(job_pool, jobs_run_at_a_lower_priority)
{
	char *d = tu_tmpdir();
	struct store *s;
	struct job_pool *p;
	struct wc_error err = { 0 };
	const struct job_kind kind = { "nice", nice_job };
	struct job job = { 0 };
	int64_t id;

	cr_assert_eq(store_open(d, &s, &err), WC_OK);
	cr_assert_eq(job_pool_start(&p, s, 1, &kind, 1, &err), WC_OK);
	cr_assert_eq(store_job_create(s, "nice", "{}", &id, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(job_pool_submit(p, id, &err), WC_OK);
	for (int i = 0; i < 500; i++) {
		cr_assert_eq(store_job_get(s, id, &job, &err), WC_OK);
		if (job.state == JOB_DONE || job.state == JOB_FAILED)
			break;
		job_release(&job);
		usleep(10000);
	}
	cr_assert_eq(job.state, JOB_DONE);
	job_release(&job);
	cr_assert_eq(seen_nice, getpriority(PRIO_PROCESS, 0) + 10 > 19 ? 19
							     : getpriority(PRIO_PROCESS, 0) + 10);
	job_pool_stop(p);
	store_close(s);
	tu_rmrf_free(d);
}
