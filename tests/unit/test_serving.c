/*
 * test_serving.c - held reply bodies (server/cache.h) and the generations that keep them
 * current (data/store_gen.c): which writes move which subject (and a rolled-back one
 * none), a watch seeing another connection's and another process's commits at its next
 * poll, the LRU budget, expiry, and over HTTP (an in-process daemon driven with libcurl)
 * that the body served after each kind of change is the new one: an observation upload,
 * a farm PUT, a training job, a grid ingest job and a CLI write from another process;
 * JSON and CSV held apart; no torn body while GETs race recomputations.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/ingest.h"
#include "data/store.h"
#include "fixture_farms.h"
#include "server/cache.h"
#include "server/request.h"
#include "server/server.h"
#include "testutil.h"

struct store *fxr_store(char **dir, int days, int models);

/* ---- generations ---- */

#define MOVED_MAX 16

struct moved {
	char subject[MOVED_MAX][STORE_SUBJECT_MAX];
	int n;
};

static void on_moved(void *cls, const char *subject, uint64_t gen)
{
	struct moved *m = cls;

	cr_assert_gt(gen, 0);
	if (m->n < MOVED_MAX)
		snprintf(m->subject[m->n++], sizeof(m->subject[0]), "%s", subject);
}

/* The subjects moved since w's last poll, sorted and joined by spaces (into buf). */
static const char *poll_moved(struct store_watch *w, char *buf, size_t len)
{
	struct moved m = { .n = 0 };
	struct wc_error err = { 0 };
	uint64_t seq;

	cr_assert_eq(store_watch_poll(w, &seq, on_moved, &m, &err), WC_OK, "%s", err.msg);
	qsort(m.subject, (size_t)m.n, sizeof(m.subject[0]),
	      (int (*)(const void *, const void *))strcmp);
	buf[0] = '\0';
	for (int i = 0; i < m.n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", m.subject[i]);
	return buf;
}

static enum wc_status model_file(void *ctx, int i, struct model_rec *rec, struct wc_error *err)
{
	snprintf(rec->path, sizeof(rec->path), "/nonexistent/model-%d.wcm", rec->version);
	return WC_OK;
}

Test(serving_gen, each_write_moves_its_subjects)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	struct store *st;
	struct store_watch *w;
	struct farm a, b;
	struct obs_row obs = { .time = 1767232800, .power_mw = 3 };
	struct model_rec rec = { .farm_id = "", .train_from = 1, .train_to = 2, .n_rows = 3,
				 .info = "{}" };
	struct ingest_result res;
	const char *key = "nn:1", *body = "{}";
	int64_t issued = 1767232800;
	char path[4200], got[512];

	ffx_init(&fx);
	st = ffx_store(&fx, "s", path);
	ffx_farm(&fx, 0, &a);
	ffx_farm(&fx, 1, &b);
	cr_assert_eq(store_watch_open(st, &w, &err), WC_OK, "%s", err.msg);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), "farms nwp", "a new store: %s", got);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), "", "nothing written: %s", got);

	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(st, &b, &err), WC_OK, "%s", err.msg);
	/* and their weather (weather:<id>, what the adaptation's replay cache checks) */
	snprintf(path, sizeof(path), "farm:%s farm:%s farms weather:%s weather:%s",
		 strcmp(a.id, b.id) < 0 ? a.id : b.id, strcmp(a.id, b.id) < 0 ? b.id : a.id,
		 strcmp(a.id, b.id) < 0 ? a.id : b.id, strcmp(a.id, b.id) < 0 ? b.id : a.id);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), path, "%s", got);

	cr_assert_eq(store_obs_upsert(st, a.id, &obs, 1, &err), WC_OK, "%s", err.msg);
	snprintf(path, sizeof(path), "farm:%s", a.id);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), path, "observations: %s", got);

	/* a write that fails and rolls back moves nothing */
	cr_assert_eq(store_obs_upsert(st, "nosuch", &obs, 1, &err), WC_ENOTFOUND);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_EEXIST);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), "", "rolled back: %s", got);

	cr_assert_eq(ingest_file(st, fx.run[0], NULL, &res), WC_OK, "%s", res.error.msg);
	ingest_result_release(&res);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), "nwp", "an ingest: %s", got);

	b.capacity_mw *= 2;
	cr_assert_eq(store_farms_write(st, &b, 1, true, NULL, &err), WC_OK, "%s", err.msg);
	snprintf(path, sizeof(path), "farm:%s farms weather:%s", b.id, b.id);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), path, "farm changed: %s", got);

	snprintf(rec.farm_id, sizeof(rec.farm_id), "%s", a.id);
	cr_assert_eq(store_models_add(st, &rec, 1, model_file, NULL, &err), WC_OK, "%s", err.msg);
	snprintf(path, sizeof(path), "farm:%s", a.id);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), path, "a model: %s", got);

	/* a new stored forecast is what the inputs give: no move; replacing one may change
	 * an answer */
	cr_assert_eq(store_forecast_put(st, a.id, 1, &issued, &key, &body, &err), WC_OK, "%s",
		     err.msg);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), "", "a new forecast: %s", got);
	cr_assert_eq(store_forecast_put(st, a.id, 1, &issued, &key, &body, &err), WC_OK, "%s",
		     err.msg);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), path, "a replaced one: %s", got);

	cr_assert_eq(store_farm_delete(st, b.id, &err), WC_OK, "%s", err.msg);
	snprintf(path, sizeof(path), "farm:%s farms weather:%s", b.id, b.id);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), path, "farm deleted: %s", got);

	store_watch_close(w);
	store_close(st);
	ffx_release(&fx);
}

/* A commit through another connection, and by another process, shows at the next poll. */
Test(serving_gen, watch_sees_other_connections_and_processes)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	struct store *st, *other;
	struct store_watch *w;
	struct farm a;
	struct obs_row obs = { .time = 1767232800, .power_mw = 3 };
	char path[4200], got[512], want[128], csv[4300], *errs = NULL;
	uint64_t seq0, seq1;
	FILE *f;

	ffx_init(&fx);
	st = ffx_store(&fx, "s", path);
	ffx_farm(&fx, 0, &a);
	cr_assert_eq(store_farm_add(st, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_open(path, &other, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_watch_open(st, &w, &err), WC_OK, "%s", err.msg);
	poll_moved(w, got, sizeof(got));
	/* nothing committed: the same sequence, many times (the -shm header path) */
	cr_assert_eq(store_watch_poll(w, &seq0, NULL, NULL, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(store_watch_poll(w, &seq1, NULL, NULL, &err), WC_OK, "%s", err.msg);
		cr_assert_eq(seq1, seq0);
	}
	snprintf(want, sizeof(want), "farm:%s", a.id);
	for (int i = 0; i < 20; i++) {
		obs.time += 3600;
		cr_assert_eq(store_obs_upsert(other, a.id, &obs, 1, &err), WC_OK, "%s", err.msg);
		cr_assert_str_eq(poll_moved(w, got, sizeof(got)), want, "commit %d: %s", i, got);
	}

	/* another process: the CLI */
	snprintf(csv, sizeof(csv), "%s/obs.csv", fx.dir);
	cr_assert_not_null(f = fopen(csv, "w"));
	fprintf(f, "time,power_mw\n2026-01-03T00:00:00Z,4\n");
	fclose(f);
	cr_assert_eq(tu_cli(path, NULL, &errs, "obs import --farm %s %s", a.id, csv), 0, "%s",
		     errs);
	free(errs);
	cr_assert_str_eq(poll_moved(w, got, sizeof(got)), want, "the CLI's import: %s", got);

	store_watch_close(w);
	store_close(other);
	store_close(st);
	ffx_release(&fx);
}

/*
 * A watch keeps SQLite's locks on the -shm: were they dropped (a close() of a descriptor
 * of the file drops all of this process's POSIX locks on it), another process opening the
 * store would take the -shm as unused and truncate it under this one's mapping (a SIGBUS
 * in the next commit, as seen under a CLI training beside the server). The dead-man
 * switch byte SQLite's unix VFS locks is 128 (UNIX_SHM_DMS); another process must find it
 * read-locked by this one.
 */
Test(serving_gen, watch_keeps_sqlite_shm_locks)
{
	char *d = tu_tmpdir(), shm[4200];
	struct wc_error err = { 0 };
	struct farm a = { .id = "a", .name = "A", .lat = 55, .lon = 8, .capacity_mw = 10,
			  .hub_height_m = 100 };
	struct store *s;
	struct store_watch *w;
	uint64_t seq;
	int status = -1;
	pid_t pid;

	cr_assert_eq(store_open(d, &s, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_farm_add(s, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(store_watch_open(s, &w, &err), WC_OK, "%s", err.msg);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(store_watch_poll(w, &seq, NULL, NULL, &err), WC_OK, "%s", err.msg);
	snprintf(shm, sizeof(shm), "%s/windcast.db-shm", d);
	if ((pid = fork()) == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128,
				    .l_len = 1 };
		int fd = open(shm, O_RDWR);

		_exit(fd < 0 || fcntl(fd, F_GETLK, &fl) != 0 ? 2 : fl.l_type == F_RDLCK ? 0 : 1);
	}
	cr_assert_gt(pid, 0);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "this process no longer holds SQLite's lock on the -shm (child status %d)",
		  status);
	store_watch_close(w);
	store_close(s);
	tu_rmrf_free(d);
}

/* ---- the cache alone ---- */

static char *cdir;
static struct store *cst;
static struct cache *cache;

static void cache_setup(size_t budget)
{
	struct wc_error err = { 0 };

	cdir = tu_tmpdir();
	cr_assert_eq(store_open(cdir, &cst, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(cache_new(cst, budget, &cache, &err), WC_OK, "%s", err.msg);
}

static void cache_teardown(void)
{
	cache_free(cache);
	store_close(cst);
	tu_rmrf_free(cdir);
}

/* Hold `text` under key, computed from subject, after a cache_get (a miss). */
static void hold_text(const char *key, const char *text, const char *subject)
{
	struct cache_stamp stamp;
	struct held_body *b = cache_get(cache, key, &stamp);

	cr_assert_null(b, "'%s' already held", key);
	cr_assert(stamp.ok);
	b = held_body_new(200, "text/plain", text, strlen(text), NULL, 0);
	cr_assert_not_null(b);
	cache_put(cache, key, b, &stamp, &subject, 1, 0);
	held_body_unref(b);
}

/* The text held under key, or NULL (malloc'd). */
static char *held_text(const char *key)
{
	struct cache_stamp stamp;
	struct held_body *b = cache_get(cache, key, &stamp);
	char *s;

	if (!b)
		return NULL;
	s = strdup(b->data);
	held_body_unref(b);
	return s;
}

Test(serving_cache, lru_keeps_within_the_budget)
{
	char key[32], text[1000], *s;
	struct cache_stats cs;

	cache_setup(8 * 1024);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		hold_text(key, text, "farms");
		/* k0 is used after every insert: least recently used it never is */
		free(held_text("k0"));
		cache_stats(cache, &cs);
		cr_assert_leq(cs.bytes, cs.budget, "%zu bytes held, budget %zu", cs.bytes, cs.budget);
	}
	cache_stats(cache, &cs);
	cr_assert_gt(cs.entries, 3, "%zu entries", cs.entries);
	cr_assert_lt(cs.entries, 9, "%zu entries of ~1 KB in 8 KB", cs.entries);
	cr_assert_gt(cs.evictions, 20);
	cr_assert_not_null(s = held_text("k0"), "the entry used most recently went");
	free(s);
	cr_assert_not_null(s = held_text("k29"), "the newest went");
	free(s);
	cr_assert_null(held_text("k1"), "the least recently used stayed");
	/* a body larger than the whole budget is not held, and evicts nothing */
	{
		char *big = calloc(1, 9000);

		memset(big, 'y', 8999);
		hold_text("big", big, "farms");
		cr_assert_null(held_text("big"));
		cr_assert_not_null(s = held_text("k29"));
		free(s);
		free(big);
	}
	cache_teardown();
}

Test(serving_cache, stale_once_a_subject_moves)
{
	struct wc_error err = { 0 };
	struct cache_stamp before, after;
	struct held_body *b, *kept;
	struct cache_stats cs;
	const char *subject = "farm:a", *other = "farm:b";

	cache_setup(1 << 20);
	hold_text("a", "first", subject);
	hold_text("b", "other", other);
	cr_assert_not_null(kept = cache_get(cache, "a", &before));
	cr_assert_eq(store_gen_bump(cst, subject, &err), WC_OK, "%s", err.msg);
	cr_assert_null(cache_get(cache, "a", &after), "served after its subject moved");
	cr_assert_gt(after.seq, before.seq);
	cr_assert_not_null(b = cache_get(cache, "b", &after), "another subject's went too");
	held_body_unref(b);
	/* the body in flight outlives its entry */
	cr_assert_str_eq(kept->data, "first");
	held_body_unref(kept);

	/* computed from a stamp older than the move: never held */
	b = held_body_new(200, "text/plain", "late", 4, NULL, 0);
	cache_put(cache, "a", b, &before, &subject, 1, 0);
	cr_assert(!cache_holds(cache, "a"), "a body computed before the move was held");
	cache_put(cache, "a", b, &after, &subject, 1, 0);
	cr_assert(cache_holds(cache, "a"));
	held_body_unref(b);
	cache_stats(cache, &cs);
	cr_assert_eq(cs.stale, 1);

	/* expiry */
	b = held_body_new(200, "text/plain", "now", 3, NULL, 0);
	cache_put(cache, "expired", b, &after, &subject, 1, utc_now() - 1);
	cache_put(cache, "later", b, &after, &subject, 1, utc_now() + 3600);
	held_body_unref(b);
	cr_assert(!cache_holds(cache, "expired"));
	cr_assert(cache_holds(cache, "later"));
	cache_teardown();
}

/* ---- over HTTP ---- */

static char *dir;
static struct store *st;
static struct server *srv;

static void serve(struct store *s)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	st = s;
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(st);
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
}

static void http_teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

static void call(const char *method, const char *path, const char *body, const char *ctype,
		 long want, struct tu_http *r)
{
	char h[128];
	const char *headers[] = { h, NULL };

	snprintf(h, sizeof(h), "%s", ctype ? ctype : "Accept: application/json");
	cr_assert(tu_http_request(server_port(srv), method, path, body, body ? (size_t)-1 : 0,
				  headers, r),
		  "%s %s: no connection", method, path);
	cr_assert_eq(r->status, want, "%s %s: status %ld, want %ld: %s", method, path, r->status,
		     want, r->body);
}

/* GET path as JSON (a new reference), status 200. */
static json_t *get_json(const char *path)
{
	struct tu_http r;
	json_t *v;

	call("GET", path, NULL, NULL, 200, &r);
	v = json_loads(r.body, 0, NULL);
	cr_assert_not_null(v, "%s", r.body);
	tu_http_release(&r);
	return v;
}

static const char *str(json_t *v, const char *key)
{
	return json_string_value(json_object_get(v, key));
}

/* The latest forecast of alpha's issue time (UTC seconds). */
static int64_t latest_issued(const char *farm, json_t **body)
{
	char path[128];
	json_t *v;
	int64_t t;

	snprintf(path, sizeof(path), "/v1/farms/%s/forecast", farm);
	v = get_json(path);
	cr_assert(utc_parse(str(v, "issued"), &t), "%s", str(v, "issued"));
	if (body)
		*body = v;
	else
		json_decref(v);
	return t;
}

/* Wait (up to 10 s) until the warming thread holds alpha's latest forecast. */
static void wait_warm(const char *farm)
{
	char key[256];

	/* one empty value per query key of h_forecast.c: issued .. units, adapt */
	snprintf(key, sizeof(key), "forecast/%s/json/0:/0:/0:/0:/0:/0:/0:/0:", farm);
	for (int i = 0; i < 1000 && !cache_holds(server_cache(srv), key); i++)
		usleep(10000);
	cr_assert(cache_holds(server_cache(srv), key), "'%s' never held", key);
}

Test(serving_http, json_and_csv_held_apart_and_warmed, .fini = http_teardown)
{
	struct tu_http j1, j2, c1, c2;
	struct cache_stats before, after;

	dir = NULL;
	serve(fxr_store(&dir, 6, 1));
	wait_warm("alpha");
	cache_stats(server_cache(srv), &before);
	call("GET", "/v1/farms/alpha/forecast", NULL, NULL, 200, &j1);
	call("GET", "/v1/farms/alpha/forecast", NULL, "Accept: text/csv", 200, &c1);
	call("GET", "/v1/farms/alpha/forecast", NULL, NULL, 200, &j2);
	call("GET", "/v1/farms/alpha/forecast?format=csv", NULL, NULL, 200, &c2);
	cache_stats(server_cache(srv), &after);
	/* the warmed latest answers all four (?format=csv and Accept: text/csv negotiate the
	 * same representation, so the same key) */
	cr_assert_eq(after.hits - before.hits, 4, "hits %llu -> %llu",
		     (unsigned long long)before.hits, (unsigned long long)after.hits);
	cr_assert(strstr(j1.headers, "Content-Type: application/json"), "%s", j1.headers);
	cr_assert(strstr(c1.headers, "Content-Type: text/csv"), "%s", c1.headers);
	cr_assert(strstr(c1.headers, "Windcast-Issued-Reason: "), "%s", c1.headers);
	cr_assert_str_eq(j1.body, j2.body);
	cr_assert_str_eq(c1.body, c2.body);
	cr_assert(!strncmp(c1.body, "farm,issued,period_start,period_end,valid_time", 46), "%s",
		  c1.body);
	cr_assert_eq(j1.body[0], '{');
	tu_http_release(&j1);
	tu_http_release(&j2);
	tu_http_release(&c1);
	tu_http_release(&c2);
}

/* POST observations for farm at time t (its power p MW). */
static void post_obs(const char *farm, int64_t t, double p)
{
	char body[128], path[128], ts[UTC_ISO_LEN];
	struct tu_http r;

	snprintf(body, sizeof(body), "time,power_mw\n%s,%g\n", utc_format(t, ts), p);
	snprintf(path, sizeof(path), "/v1/farms/%s/observations", farm);
	call("POST", path, body, "Content-Type: text/csv", 200, &r);
	tu_http_release(&r);
}

Test(serving_http, observations_move_the_latest, .fini = http_teardown)
{
	int64_t t0, t1;

	serve(fxr_store(&dir, 6, 1));
	wait_warm("alpha");
	t0 = latest_issued("alpha", NULL);
	cr_assert_eq(latest_issued("alpha", NULL), t0);
	post_obs("alpha", t0 + 2 * UTC_HOUR, 40);
	t1 = latest_issued("alpha", NULL);
	cr_assert_eq(t1, t0 + 2 * UTC_HOUR, "issued %lld after an observation at %lld",
		     (long long)t1, (long long)(t0 + 2 * UTC_HOUR));
}

Test(serving_http, farm_put_moves_the_latest, .fini = http_teardown)
{
	struct tu_http r;
	json_t *before, *after;
	double p0, p1;

	serve(fxr_store(&dir, 6, 1));
	wait_warm("alpha");
	latest_issued("alpha", &before);
	call("PUT", "/v1/farms/alpha",
	     "{\"name\":\"Alpha\",\"lat\":55.0,\"lon\":8.0,\"capacity_mw\":300,\"hub_height_m\":100}",
	     "Content-Type: application/json", 200, &r);
	tu_http_release(&r);
	latest_issued("alpha", &after);
	cr_assert_float_eq(json_real_value(json_object_get(before, "capacity_mw")), 100, 1e-9);
	cr_assert_float_eq(json_real_value(json_object_get(after, "capacity_mw")), 300, 1e-9,
			   "the held forecast from before the PUT was served");
	/* MW at the new capacity */
	p0 = json_number_value(json_object_get(json_array_get(json_object_get(after, "leads"), 0),
					       "point_frac"));
	p1 = json_number_value(json_object_get(json_array_get(json_object_get(after, "leads"), 0),
					       "point_mw"));
	cr_assert_float_eq(p1, 300 * p0, 1e-3, "point %g MW, %g of 300 MW", p1, p0);
	json_decref(before);
	json_decref(after);
}

Test(serving_http, training_job_moves_the_latest, .fini = http_teardown)
{
	struct tu_http r;
	json_t *before, *after, *job, *res;

	serve(fxr_store(&dir, 6, 0));
	wait_warm("alpha");
	latest_issued("alpha", &before);
	cr_assert(strstr(str(before, "model_choice"), "no usable trained model"), "%s",
		  str(before, "model_choice"));
	call("POST", "/v1/farms/alpha/train",
	     "{\"ensemble\":1,\"hidden\":[8],\"epochs\":2,\"leads\":12,\"workers\":1}",
	     "Content-Type: application/json", 202, &r);
	res = json_loads(r.body, 0, NULL);
	job = tu_wait_job(server_port(srv),
			  json_string_value(json_object_get(json_object_get(res, "job"), "url")));
	cr_assert_str_eq(json_string_value(json_object_get(job, "state")), "done");
	latest_issued("alpha", &after);
	cr_assert_null(strstr(str(after, "model_choice"), "no usable trained model"),
		       "the held forecast from before the model was served: %s",
		       str(after, "model_choice"));
	cr_assert(strstr(str(after, "model_choice"), "model 1"), "%s", str(after, "model_choice"));
	json_decref(job);
	json_decref(res);
	json_decref(before);
	json_decref(after);
	tu_http_release(&r);
}

Test(serving_http, cli_write_beside_the_server_shows_at_once, .fini = http_teardown)
{
	char csv[4200], ts[UTC_ISO_LEN], *errs = NULL;
	int64_t t0, t1;
	FILE *f;

	serve(fxr_store(&dir, 6, 1));
	wait_warm("alpha");
	t0 = latest_issued("alpha", NULL);
	snprintf(csv, sizeof(csv), "%s/late.csv", dir);
	cr_assert_not_null(f = fopen(csv, "w"));
	fprintf(f, "time,power_mw\n%s,30\n", utc_format(t0 + 3 * UTC_HOUR, ts));
	fclose(f);
	cr_assert_eq(tu_cli(dir, NULL, &errs, "obs import --farm alpha %s", csv), 0, "%s", errs);
	free(errs);
	/* the very next GET: no sleep, no retry */
	t1 = latest_issued("alpha", NULL);
	cr_assert_eq(t1, t0 + 3 * UTC_HOUR, "issued %lld after the CLI's observation at %lld",
		     (long long)t1, (long long)(t0 + 3 * UTC_HOUR));
}

Test(serving_http, ingest_job_moves_the_latest, .fini = http_teardown)
{
	struct ffx fx;
	struct wc_error err = { 0 };
	struct ingest_result res;
	struct store *s;
	struct farm a;
	struct tu_http r;
	char path[4200], url[128], *bytes;
	const char *headers[] = { "Content-Type: application/x-netcdf", NULL };
	size_t len;
	int64_t t0, t1;
	json_t *v, *job;

	ffx_init(&fx);
	s = ffx_store(&fx, "s", path);
	dir = strdup(fx.dir);
	fx.dir = NULL;	/* dir (removed by the teardown) owns the directory now */
	ffx_farm(&fx, 0, &a);
	/* a power curve of its own: the latest forecast needs nothing but the NWP */
	a.power_curve = (struct farm_curve){ 4, { 3, 8, 12, 25 }, { 0, 0.4, 1, 1 } };
	cr_assert_eq(store_farm_add(s, &a, &err), WC_OK, "%s", err.msg);
	cr_assert_eq(ingest_file(s, fx.run[0], NULL, &res), WC_OK, "%s", res.error.msg);
	ingest_result_release(&res);
	serve(s);
	wait_warm(a.id);
	t0 = latest_issued(a.id, NULL);

	cr_assert_not_null(bytes = tu_read_file(fx.run[1], &len));
	cr_assert(tu_http_request(server_port(srv), "POST", "/v1/grids?name=run1.nc", bytes, len,
				  headers, &r));
	cr_assert_eq(r.status, 202, "%s", r.body);
	v = json_loads(r.body, 0, NULL);
	snprintf(url, sizeof(url), "%s",
		 json_string_value(json_object_get(json_object_get(v, "job"), "url")));
	job = tu_wait_job(server_port(srv), url);
	cr_assert_str_eq(json_string_value(json_object_get(job, "state")), "done");
	t1 = latest_issued(a.id, NULL);
	cr_assert_eq(t1, t0 + 12 * UTC_HOUR, "issued %lld after the next run, before %lld",
		     (long long)t1, (long long)t0);
	json_decref(job);
	json_decref(v);
	tu_http_release(&r);
	free(bytes);
	synth_free(fx.syn);
}

/* GETs racing recomputations: every body whole and consistent, never a torn one. */
struct racer {
	unsigned port;
	int n, bad, changed;
	char why[256];
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	char last[64] = "";

	for (int i = 0; i < rc->n; i++) {
		struct tu_http r;
		json_t *v;
		const char *issued;

		if (!tu_http_request(rc->port, "GET", "/v1/farms/alpha/forecast", NULL, 0, NULL,
				     &r)) {
			rc->bad++;
			continue;
		}
		v = json_loads(r.body, 0, NULL);
		issued = v ? json_string_value(json_object_get(v, "issued")) : NULL;
		if (r.status != 200 || !issued || r.len != strlen(r.body) ||
		    json_array_size(json_object_get(v, "leads")) !=
			    (size_t)json_integer_value(json_object_get(v, "horizon"))) {
			if (!rc->bad++)
				snprintf(rc->why, sizeof(rc->why), "%ld: %.200s", r.status, r.body);
		} else if (strcmp(last, issued)) {
			rc->changed += last[0] != '\0';
			snprintf(last, sizeof(last), "%s", issued);
		}
		json_decref(v);
		tu_http_release(&r);
	}
	return NULL;
}

Test(serving_http, no_torn_body_while_recomputing, .fini = http_teardown)
{
	struct racer rc[2];
	pthread_t th[2];
	int64_t t0;

	serve(fxr_store(&dir, 6, 1));
	wait_warm("alpha");
	t0 = latest_issued("alpha", NULL);
	for (int i = 0; i < 2; i++) {
		rc[i] = (struct racer){ .port = server_port(srv), .n = 150 };
		pthread_create(&th[i], NULL, race, &rc[i]);
	}
	for (int k = 1; k <= 12; k++) {
		post_obs("alpha", t0 + k * UTC_HOUR, 10 + k);
		usleep(20000);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(rc[i].bad, 0, "%d bad replies, the first: %s", rc[i].bad, rc[i].why);
	}
	cr_assert_gt(rc[0].changed + rc[1].changed, 0, "no GET saw a recomputed body");
	cr_assert_eq(latest_issued("alpha", NULL), t0 + 12 * UTC_HOUR);
}
