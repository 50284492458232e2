/*
 * test_http_hostile.c - malformed and malicious requests against a real daemon on port 0.
 *
 * One table: method, raw request target, headers, body -> expected status and error
 * code (and a word the message must hold), each case with the reason it is hostile:
 * path traversal and NUL bytes in ids, invalid UTF-8, deeply nested or huge JSON, NaN and
 * infinities, absurd horizons and dates, negative or huge capacities, header floods,
 * wrong content types, duplicated parameters, headers and fields, slow bodies. Requests
 * go out over raw sockets, byte for byte (or a few bytes at a time), so that targets curl
 * would normalise (%00, raw NUL, "..", invalid UTF-8) arrive as written. After the
 * table: every table of the store is unchanged (a dump of each, row for row, and the
 * files under DATA), and the server still answers. Then the cases the table cannot
 * express: pipelined requests after a refusal (the connection stays open), bodies sent
 * byte by byte, a client that stalls mid-request, large refused uploads, and the
 * messages of a failed ingest job.
 *
 * Regressions of issue 11: defect 1 (a NUL in a path id acted on another farm; invalid
 * UTF-8 answered 500), defect 5 (unknown or repeated query parameters ignored; no 406),
 * defect 9 (a text file uploaded as NetCDF got 202 and a job naming a spool file).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/dynbuf.h"
#include "common/utc.h"
#include "data/store.h"
#include "server/server.h"
#include "testutil.h"

#define NC "Content-Type: application/x-netcdf\r\n"
#define CSV "Content-Type: text/csv\r\n"
#define JSON "Content-Type: application/json\r\n"

static char *dir;
static struct store *st;
static struct server *srv;
static unsigned port;
/* tokens of smaller scopes than the default admin one, made by setup */
static char read_token[128], write_token_text[128];

/* ---- a raw HTTP/1.1 client ---- */

struct raw_reply {
	int status;		/* 0: no status line */
	char *head;		/* status line and headers, malloc'd */
	char *body;		/* malloc'd, NUL-terminated */
	size_t body_len;
};

static void raw_release(struct raw_reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * Send len bytes (in pieces of `piece` bytes 2 ms apart when piece > 0) and read until
 * the server closes the connection. Send errors are tolerated (a server may answer and
 * close before a body is sent); the reply is whatever came back.
 */
static void raw_exchange(const char *req, size_t len, size_t piece, struct raw_reply *out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 20, 0 };
	struct dynbuf b;
	char buf[65536], *sep;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(out, 0, sizeof(*out));
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t off = 0; off < len;) {
		size_t k = piece && len - off > piece ? piece : len - off;

		n = send(fd, req + off, k, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
		if (piece)
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	dynbuf_init(&b, 64u << 20);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		cr_assert_eq(dynbuf_add(&b, buf, (size_t)n), WC_OK);
	close(fd);
	sep = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
	if (sep) {
		out->head = strndup(b.data, (size_t)(sep - b.data) + 2);
		out->body_len = b.len - (size_t)(sep + 4 - b.data);
		out->body = malloc(out->body_len + 1);
		memcpy(out->body, sep + 4, out->body_len);
		out->body[out->body_len] = '\0';
		sscanf(out->head, "HTTP/1.%*d %d", &out->status);
	} else {
		out->head = strdup("");
		out->body = strdup("");
	}
	dynbuf_release(&b);
}

/*
 * One request: `target` (tlen bytes; 0: strlen) as is, extra header lines (each ending
 * CRLF), and a body of blen bytes (SIZE_MAX: strlen) followed by `fill` bytes of 'x';
 * no body at all when body is NULL.
 */
static void raw_request(const char *method, const char *target, size_t tlen,
			const char *headers, const char *body, size_t blen, size_t fill,
			size_t piece, struct raw_reply *out)
{
	struct dynbuf b;

	if (body && blen == SIZE_MAX)
		blen = strlen(body);
	dynbuf_init(&b, 64u << 20);
	cr_assert_eq(dynbuf_printf(&b, "%s ", method), WC_OK);
	cr_assert_eq(dynbuf_add(&b, target, tlen ? tlen : strlen(target)), WC_OK);
	/* the suite's admin token, unless the case sends its own Authorization (or none:
	 * "X-No-Auth") */
	if (headers && (strcasestr(headers, "Authorization:") || strstr(headers, "X-No-Auth:")))
		cr_assert_eq(dynbuf_printf(&b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
					      "close\r\n%s",
					   headers),
			     WC_OK);
	else
		cr_assert_eq(dynbuf_printf(&b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
					      "close\r\nAuthorization: Bearer %s\r\n%s",
					   tu_token(), headers ? headers : ""),
			     WC_OK);
	if (body) {
		cr_assert_eq(dynbuf_printf(&b, "Content-Length: %zu\r\n\r\n", blen + fill), WC_OK);
		cr_assert_eq(dynbuf_add(&b, body, blen), WC_OK);
		for (size_t i = 0; i < fill; i++)
			cr_assert_eq(dynbuf_add(&b, "x", 1), WC_OK);
	} else {
		cr_assert_eq(dynbuf_adds(&b, "\r\n"), WC_OK);
	}
	raw_exchange(b.data, b.len, piece, out);
	dynbuf_release(&b);
}

/* The body's error code and message (owned by *v); false when it is not an error body. */
static bool error_body(const struct raw_reply *r, json_t **v, const char **code,
		       const char **msg)
{
	*v = json_loadb(r->body, r->body_len, 0, NULL);
	return *v && !json_unpack(*v, "{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

/* ---- fixture ---- */

static const char farm_big[] =
	"{\"id\":\"big\",\"name\":\"Big\",\"lat\":55.5,\"lon\":7.9,\"capacity_mw\":160}";
static const char farm_csv[] = "id,name,lat,lon,capacity_mw\nn,N,1,1,1\n";
static const char farm_mine[] =
	"{\"id\":\"my-farm\",\"name\":\"Mine\",\"lat\":54,\"lon\":8,\"capacity_mw\":50}";

/* The idle timeout of the suite's server: a stalled client is cut off after it. */
#define STALL_TIMEOUT_S 2

static const char obs_day[] =
	"time,power_mw,flag\n2026-01-02T01:00:00Z,10,ok\n2026-01-02T02:00:00Z,0,outage\n"
	"2026-01-02T03:00:00Z,55.5,curtailed\n2026-01-02T04:00:00Z,160,\n";

/* DATA/tmp (a static buffer). */
static const char *tmp_path(void)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/tmp", dir);
	return path;
}

static void setup(void)
{
	struct server_config cfg;
	struct wc_error err = { 0 };
	struct raw_reply r;

	dir = tu_tmpdir();
	cr_assert_eq(store_open(dir, &st, &err), WC_OK, "%s", err.msg);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	cfg.max_upload = 4 << 20;
	/* no held replies: their warming stores the latest forecasts whenever the inputs
	 * move (a write of its own, at its own time), and this suite compares the store */
	cfg.cache_bytes = 0;
	snprintf(read_token, sizeof(read_token), "%s", tu_token_make(st, "read"));
	snprintf(write_token_text, sizeof(write_token_text), "%s", tu_token_make(st, "write"));
	tu_auth(st);
	cfg.connection_timeout_s = STALL_TIMEOUT_S;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	port = server_port(srv);
	raw_request("POST", "/v1/farms", 0, NULL, farm_big, SIZE_MAX, 0, 0, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	raw_release(&r);
	raw_request("POST", "/v1/farms", 0, NULL, farm_mine, SIZE_MAX, 0, 0, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	raw_release(&r);
	/* a day of 'big' that a stored hostile upload would change */
	raw_request("POST", "/v1/farms/big/observations", 0, CSV, obs_day, SIZE_MAX, 0, 0, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	raw_release(&r);
	/* (made by the first upload, which is no change of the store) */
	cr_assert_eq(mkdir(tmp_path(), 0755), 0);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One table's rows, each as "col|col|...", sorted, into b. */
static void dump_table(sqlite3 *db, const char *table, struct dynbuf *b)
{
	char sql[256], **rows = NULL;
	size_t n = 0;
	sqlite3_stmt *s;

	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sql);
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct dynbuf row;

		dynbuf_init(&row, 64u << 20);
		for (int c = 0; c < sqlite3_column_count(s); c++) {
			const unsigned char *v = sqlite3_column_text(s, c);

			cr_assert_eq(dynbuf_printf(&row, "%s%s", c ? "|" : "",
						   v ? (const char *)v : "NULL"),
				     WC_OK);
		}
		rows = realloc(rows, (n + 1) * sizeof(*rows));
		rows[n++] = strdup(dynbuf_str(&row));
		dynbuf_release(&row);
	}
	sqlite3_finalize(s);
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_str);
	cr_assert_eq(dynbuf_printf(b, "table %s: %zu rows\n", table, n), WC_OK);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(dynbuf_printf(b, "%s\n", rows[i]), WC_OK);
		free(rows[i]);
	}
	free(rows);
}

static struct dynbuf *files_out;	/* nftw's callback has no argument of its own */

static int list_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *rel = path + strlen(dir);

	/* the database's own files change on reads (WAL index); its tables are dumped */
	if (!strstr(rel, "/windcast.db"))
		dynbuf_printf(files_out, "%s %s %lld\n", type == FTW_D ? "dir" : "file", rel,
			      type == FTW_D ? 0LL : (long long)sb->st_size);
	return 0;
}

/*
 * Every table of the store, row for row, then every file and directory under DATA
 * with its size (malloc'd): what no refused request may change.
 */
static char *store_dump(void)
{
	struct dynbuf b;
	char path[4200];
	sqlite3_stmt *t;
	sqlite3 *db;
	char *out;

	dynbuf_init(&b, 256u << 20);
	snprintf(path, sizeof(path), "%s/windcast.db", dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
					    "ORDER BY name",
					-1, &t, NULL),
		     SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW)
		dump_table(db, (const char *)sqlite3_column_text(t, 0), &b);
	sqlite3_finalize(t);
	sqlite3_close(db);
	files_out = &b;
	cr_assert_eq(nftw(dir, list_file, 16, FTW_PHYS), 0);
	out = strdup(dynbuf_str(&b));
	dynbuf_release(&b);
	return out;
}

/*
 * Entries in DATA/tmp (uploads) and DATA/jobs (job spools; its .lock aside), waiting
 * up to 3 s for them to go.
 */
static int tmp_entries(void)
{
	static const char *const subs[] = { "tmp", "jobs" };
	char path[4096];
	int n = 0;

	for (int tries = 0; tries < 300; tries++) {
		n = 0;
		for (int k = 0; k < 2; k++) {
			DIR *d;
			struct dirent *e;

			snprintf(path, sizeof(path), "%s/%s", dir, subs[k]);
			if (!(d = opendir(path)))
				continue;
			while ((e = readdir(d)))
				n += e->d_name[0] != '.';
			closedir(d);
		}
		if (n == 0)
			break;
		usleep(10000);
	}
	return n;
}

static void assert_healthy(void)
{
	struct raw_reply r;

	raw_request("GET", "/healthz", 0, NULL, NULL, 0, 0, 0, &r);
	cr_assert_eq(r.status, 200, "server unhealthy: %d %s", r.status, r.body);
	raw_release(&r);
}

TestSuite(http_hostile, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the table ---- */

#define FARM_PUT "{\"name\":\"Evil\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}"
#define HDF5_SIG "\x89HDF\r\n\x1a\n"
#define X10 "xxxxxxxxxx"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct hostile {
	const char *what;	/* the attack, in failure messages */
	const char *method;
	const char *target;	/* sent byte for byte */
	size_t tlen;		/* 0: strlen(target) */
	const char *headers;	/* extra header lines, each ending CRLF */
	const char *body;	/* NULL: no body */
	size_t blen;		/* bytes of body; 0: strlen */
	size_t fill;		/* then this many bytes of 'x' */
	int status;
	const char *code;	/* JSON error code; NULL: no error body expected */
	const char *needle;	/* the message (or, without code, the head) holds it */
	size_t piece;		/* send the request this many bytes at a time; 0: at once */
	/* what a row cannot write literally, made when the case runs (malloc'd) */
	char *(*gen_target)(void);
	char *(*gen_headers)(void);
	char *(*gen_body)(void);
};

static char *auth_line(const char *token, const char *extra)
{
	char *h;

	cr_assert(asprintf(&h, "Authorization: Bearer %s\r\n%s", token, extra) > 0);
	return h;
}

static char *token_then_junk(void)
{
	char *h;

	cr_assert(asprintf(&h, "Authorization: Bearer %s junk\r\n", tu_token()) > 0);
	return h;
}

static char *read_token_csv(void)
{
	return auth_line(read_token, CSV);
}

static char *read_token_json(void)
{
	return auth_line(read_token, JSON);
}

static char *write_token(void)
{
	return auth_line(write_token_text, "");
}

/* Generated parts of requests. */
static char *repeat(const char *unit, size_t times, const char *head, const char *tail)
{
	size_t u = strlen(unit), h = strlen(head), t = strlen(tail);
	char *s = malloc(h + u * times + t + 1), *p = s;

	memcpy(p, head, h);
	p += h;
	for (size_t i = 0; i < times; i++, p += u)
		memcpy(p, unit, u);
	memcpy(p, tail, t + 1);
	return s;
}

static char *long_path(void)
{
	return repeat("a", 2000, "/v1/farms/", "");
}

static char *nested_5000(void)
{
	return repeat("[", 5000, "", "");
}

static char *nested_100000(void)
{
	return repeat("[", 100000, "", "");
}

static char *nested_3000_object(void)
{
	return repeat("{\"a\":", 3000, "", "1");
}

static char *header_70k(void)
{
	return repeat("a", 70 * 1024, "X-Flood: ", "\r\n");
}

/* 300 small headers: 6 KB, within the connection's 64 KiB (headers and their index) */
static char *headers_300(void)
{
	return repeat("X-Flood: aaaaaaaa\r\n", 300, "", "");
}

/* 6000 small headers: about 115 KB, over it */
static char *headers_6000(void)
{
	return repeat("X-Flood: aaaaaaaaa\r\n", 6000, "", "");
}

static char *name_200k(void)
{
	return repeat("n", 60 * 1024, "{\"id\":\"huge\",\"lat\":1,\"lon\":1,\"capacity_mw\":1,"
				      "\"name\":\"",
		      "\"}");
}

static char *hidden_1000(void)
{
	return repeat("1,", 999, "{\"hidden\":[", "1]}");
}

/* 20000 good hours and one bad one at the end: nothing may be stored */
static char *obs_csv_bad_last(void)
{
	size_t cap = 20001 * 40 + 64, o;
	char *s = malloc(cap), iso[UTC_ISO_LEN];

	o = (size_t)snprintf(s, cap, "time,power_mw\n");
	for (int i = 0; i < 20000; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s,%d\n",
				      utc_format(1893456000 + (int64_t)i * 3600, iso), i % 100);
	snprintf(s + o, cap - o, "2026-01-01T01:00:00Z,banana\n");
	return s;
}

/* rows end after the fields they use: the rest (piece, generators) is zero */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct hostile cases[] = {
	/* defect 1: a NUL or odd bytes in a path id never reach a handler */
	{ "NUL in DELETE id", "DELETE", "/v1/farms/big%00zzz", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'big%00zzz'" },
	{ "NUL in PUT id", "PUT", "/v1/farms/my-farm%00evil", 0, NULL, FARM_PUT, 0, 0, 400,
	  "bad_request", "'my-farm%00evil'" },
	{ "NUL at end of id", "GET", "/v1/farms/big%00", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "NUL alone as id", "GET", "/v1/farms/%00", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "invalid id" },
	{ "NUL before id", "DELETE", "/v1/farms/%00big", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "raw NUL byte in DELETE target", "DELETE", "/v1/farms/big\0zzz", 17, NULL, NULL, 0, 0,
	  400, "bad_request", "NUL" },
	{ "raw NUL byte in PUT target", "PUT", "/v1/farms/my-farm\0x", 19, NULL, FARM_PUT, 0, 0,
	  400, "bad_request", "NUL" },
	{ "raw NUL byte in query", "DELETE", "/v1/farms/big?\0x", 16, NULL, NULL, 0, 0, 400,
	  "bad_request", "NUL" },
	{ "NUL in observations id", "POST", "/v1/farms/big%00x/observations", 0,
	  "Content-Type: text/csv\r\n", "time,power_mw\n2026-01-01T01:00:00Z,1\n", 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "NUL in train id", "POST", "/v1/farms/big%00x/train", 0, NULL, "{}", 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "NUL in forecast id", "GET", "/v1/farms/big%00x/forecast", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "NUL in job id", "GET", "/v1/jobs/1%00", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "invalid id" },
	{ "escaped %25 00 is not a NUL but no id either", "DELETE", "/v1/farms/big%2500", 0,
	  NULL, NULL, 0, 0, 400, "bad_request", "'big%2500'" },
	{ "invalid UTF-8 id (was 500)", "GET", "/v1/farms/%ff%fe", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'%FF%FE'" },
	{ "raw invalid UTF-8 id", "GET", "/v1/farms/\xff\xfe", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'%FF%FE'" },
	{ "overlong UTF-8 '/'", "GET", "/v1/farms/%c0%af", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "UTF-16 surrogate in UTF-8", "GET", "/v1/farms/%ed%a0%80", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "truncated UTF-8", "GET", "/v1/farms/caf%c3", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "invalid id" },
	{ "valid UTF-8, not an id", "GET", "/v1/farms/caf%c3%a9", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'caf\xc3\xa9'" },
	{ "invalid UTF-8 outside any id", "GET", "/v1/fa%ffrms", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "not valid UTF-8" },
	{ "NUL outside any id", "GET", "/v1/farms%00/big", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "NUL" },
	{ "NUL as the whole path", "GET", "/%00", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "NUL" },
	{ "dot-dot id", "DELETE", "/v1/farms/..", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "'..'" },
	{ "encoded dot-dot id", "GET", "/v1/farms/%2e%2e", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'..'" },
	{ "encoded traversal", "GET", "/v1/farms/..%2f..%2fetc%2fpasswd", 0, NULL, NULL, 0, 0,
	  404, "not_found", NULL },
	{ "upper-case id", "DELETE", "/v1/farms/BIG", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "'BIG'" },
	{ "id starting with '-'", "GET", "/v1/farms/-big", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'-big'" },
	{ "65-character id", "GET",
	  "/v1/farms/" A64 "a", 0, NULL, NULL, 0, 0, 400, "bad_request", "1-64" },
	{ "64-character id is valid (absent)", "GET",
	  "/v1/farms/" A64, 0, NULL, NULL, 0, 0, 404, "not_found", NULL },
	{ "space in id", "GET", "/v1/farms/big%20x", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "'big x'" },
	{ "trailing raw space", "DELETE", "/v1/farms/big ", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "control byte in id", "GET", "/v1/farms/big%0a", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'big%0A'" },
	{ "semicolon parameter", "DELETE", "/v1/farms/big;x=1", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid id" },
	{ "bad escape kept literally", "GET", "/v1/farms/big%zz", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'big%25zz'" },
	{ "trailing slash", "DELETE", "/v1/farms/big/", 0, NULL, NULL, 0, 0, 404, "not_found",
	  NULL },
	{ "double slash", "GET", "//v1/farms", 0, NULL, NULL, 0, 0, 404, "not_found", NULL },
	{ "absolute-form target", "DELETE", "http://127.0.0.1/v1/farms/big", 0, NULL, NULL, 0,
	  0, 404, "not_found", NULL },
	{ "unknown method", "PATCH", "/v1/farms/big", 0, NULL, NULL, 0, 0, 405,
	  "method_not_allowed", "GET, PUT, DELETE" },
	{ "path longer than any route", "GET", NULL, 0, NULL, NULL, 0, 0, 404, "not_found",
	  "over 1024 bytes", .gen_target = long_path },

	/* defect 5: query parameters are declared per route */
	{ "misspelt parameter", "GET", "/v1/farms/big/forecast?horizn=12", 0, NULL, NULL, 0, 0,
	  400, "bad_request", "'horizn'" },
	{ "valid parameters listed", "GET", "/v1/farms/big/forecast?horizn=12", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "issued, horizon, quantiles, model, model_version, units, "
				 "point, adapt, format" },
	{ "repeated parameter", "GET", "/v1/farms/big/forecast?horizon=12&horizon=3", 0, NULL,
	  NULL, 0, 0, 400, "bad_request", "'horizon' is given twice" },
	{ "parameter without value", "GET", "/v1/farms/big/forecast?horizon", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "no value" },
	{ "empty parameter name", "GET", "/v1/farms/big/forecast?=5", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "unknown query parameter ''" },
	{ "only separators", "GET", "/v1/farms/big/forecast?&&", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "unknown" },
	{ "NUL in parameter name", "GET", "/v1/farms/big/forecast?hori%00zon=1", 0, NULL, NULL,
	  0, 0, 400, "bad_request", "'hori%00zon'" },
	{ "NUL in parameter value", "GET", "/v1/farms/big/forecast?horizon=1%002", 0, NULL,
	  NULL, 0, 0, 400, "bad_request", "NUL" },
	{ "invalid UTF-8 value", "GET", "/v1/farms/big/forecast?model=%ff", 0, NULL, NULL, 0, 0,
	  400, "bad_request", "not valid UTF-8" },
	{ "invalid UTF-8 name", "GET", "/v1/farms/big/forecast?%ff=1", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "'%FF'" },
	{ "parameter on a route that takes none", "DELETE", "/v1/farms/big?force=1", 0, NULL,
	  NULL, 0, 0, 400, "bad_request", "takes none" },
	{ "parameter on PUT", "PUT", "/v1/farms/my-farm?dry_run=1", 0, NULL, FARM_PUT, 0, 0,
	  400, "bad_request", "'dry_run'" },
	{ "parameter on healthz", "GET", "/healthz?verbose=1", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "takes none" },
	{ "format on a route without CSV", "GET", "/v1/farms/big?format=csv", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "'format'" },
	{ "unknown format", "GET", "/v1/farms?format=xml", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "use json or csv" },
	{ "format twice", "GET", "/v1/farms?format=csv&format=json", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "twice" },
	{ "unknown parameter on a CSV route", "GET", "/v1/farms?x=1", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "use format" },
	{ "file name with a slash", "POST", "/v1/grids?name=a/b.nc", 0, NC, "CDF\x01", 4, 100,
	  400, "bad_request", "'a/b.nc'" },
	{ "file name '..'", "POST", "/v1/grids?name=..", 0, NC, "CDF\x01", 4, 100, 400,
	  "bad_request", "'..'" },
	{ "empty file name", "POST", "/v1/grids?name=", 0, NC, "CDF\x01", 4, 100, 400,
	  "bad_request", "file name" },
	{ "newline in file name", "POST", "/v1/grids?name=x%0a.nc", 0, NC, "CDF\x01", 4, 100,
	  400, "bad_request", "'x%0A.nc'" },
	{ "256-byte file name", "POST", "/v1/grids?name=" A64 A64 A64 A64, 0, NC, "CDF\x01", 4,
	  100, 400, "bad_request", "file name" },
	{ "misspelt upload parameter", "POST", "/v1/grids?nmae=x.nc", 0, NC, "CDF\x01", 4, 100,
	  400, "bad_request", "use name" },

	/* defect 5: Accept */
	{ "Accept html", "GET", "/v1/farms", 0, "Accept: text/html\r\n", NULL, 0, 0, 406,
	  "not_acceptable", "'text/html'" },
	{ "Accept CSV where only JSON", "GET", "/v1/farms/big", 0, "Accept: text/csv\r\n",
	  NULL, 0, 0, 406, "not_acceptable", "application/json" },
	{ "Accept JSON refused by q=0", "GET", "/v1/farms/big", 0,
	  "Accept: application/json;q=0\r\n", NULL, 0, 0, 406, "not_acceptable", NULL },
	{ "Accept anything refused by q=0", "GET", "/v1/farms", 0, "Accept: */*;q=0\r\n", NULL,
	  0, 0, 406, "not_acceptable", NULL },
	{ "Accept only separators", "GET", "/v1/farms", 0, "Accept: ,,;\r\n", NULL, 0, 0, 406,
	  "not_acceptable", NULL },
	{ "Accept xml on a refused route is 406 before 404", "GET", "/v1/jobs/77", 0,
	  "Accept: application/xml\r\n", NULL, 0, 0, 406, "not_acceptable", NULL },
	{ "Accept text/* picks CSV", "GET", "/v1/farms", 0, "Accept: image/png, text/*\r\n",
	  NULL, 0, 0, 200, NULL, "Content-Type: text/csv" },
	{ "Accept application/* picks JSON", "GET", "/v1/farms", 0,
	  "Accept: application/*\r\n", NULL, 0, 0, 200, NULL, "Content-Type: application/json" },
	{ "browser Accept gets JSON", "GET", "/v1/farms", 0,
	  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n", NULL,
	  0, 0, 200, NULL, "Content-Type: application/json" },
	{ "JSON preferred by q", "GET", "/v1/farms", 0,
	  "Accept: text/csv;q=0.5, application/json\r\n", NULL, 0, 0, 200, NULL,
	  "Content-Type: application/json" },
	{ "CSV preferred by q", "GET", "/v1/farms", 0,
	  "Accept: application/json;q=0.5, TEXT/CSV\r\n", NULL, 0, 0, 200, NULL,
	  "Content-Type: text/csv" },
	{ "CSV named first", "GET", "/v1/farms", 0, "Accept: text/csv, application/json\r\n",
	  NULL, 0, 0, 200, NULL, "Content-Type: text/csv" },
	{ "format wins over Accept", "GET", "/v1/farms?format=csv", 0,
	  "Accept: application/json\r\n", NULL, 0, 0, 200, NULL, "Content-Type: text/csv" },
	{ "charset parameter", "GET", "/v1/farms/big", 0,
	  "Accept: application/json; charset=utf-8\r\n", NULL, 0, 0, 200, NULL,
	  "Content-Type: application/json" },

	/* defect 9: uploads that are not NetCDF, refused before a job exists */
	{ "text file as NetCDF", "POST", "/v1/grids?name=notnc.txt", 0, NC,
	  "hello, this is text\n", 0, 0, 415, "unsupported_media_type", "'notnc.txt'" },
	{ "default name", "POST", "/v1/grids", 0, NC, "hello", 0, 0, 415,
	  "unsupported_media_type", "'upload.nc'" },
	{ "netCDF-3 version 3 does not exist", "POST", "/v1/grids", 0, NC, "CDF\x03", 4, 100,
	  415, "unsupported_media_type", "not a netCDF file" },
	{ "truncated HDF5 signature", "POST", "/v1/grids", 0, NC, "\x89HDF\r\n\x1a", 7, 0, 415,
	  "unsupported_media_type", NULL },
	{ "HDF5 signature off a power of two", "POST", "/v1/grids", 0, NC,
	  X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 HDF5_SIG, 108, 1000, 415,
	  "unsupported_media_type", NULL },
	{ "one byte", "POST", "/v1/grids", 0, NC, "C", 0, 0, 415, "unsupported_media_type",
	  NULL },
	{ "600 bytes of text", "POST", "/v1/grids", 0, NC, "", 0, 600, 415,
	  "unsupported_media_type", NULL },
	{ "200 KiB of text: refused after 64 KiB, rest discarded", "POST",
	  "/v1/grids?name=big.txt", 0, NC, "", 0, 200 * 1024, 415, "unsupported_media_type",
	  "'big.txt'" },
	{ "NUL bytes", "POST", "/v1/grids", 0, NC, "\0\0\0\0\0\0\0\0", 8, 0, 415,
	  "unsupported_media_type", NULL },
	{ "wrong content type", "POST", "/v1/grids", 0, "Content-Type: text/plain\r\n",
	  "CDF\x01", 4, 100, 415, "unsupported_media_type", "'text/plain'" },
	{ "form content type (curl -d)", "POST", "/v1/grids", 0,
	  "Content-Type: application/x-www-form-urlencoded\r\n", "CDF\x01", 4, 0, 415,
	  "unsupported_media_type", "application/x-netcdf" },
	{ "empty upload", "POST", "/v1/grids", 0, NC, "", 0, 0, 400, "bad_request", "empty" },

	/* bodies and sizes */
	{ "body over the farm cap", "POST", "/v1/farms", 0, NULL, "{", 1, 70 * 1024, 413,
	  "payload_too_large", NULL },
	{ "body on a GET", "GET", "/v1/farms", 0, NULL, "abc", 0, 0, 413, "payload_too_large",
	  NULL },
	{ "body on a DELETE", "DELETE", "/v1/farms/big", 0, NULL, "{}", 0, 0, 413,
	  "payload_too_large", NULL },
	{ "NUL escape in a body id", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"big\\u0000x\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}", 0, 0,
	  400, "bad_request", NULL },
	{ "invalid UTF-8 in a body", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"x\",\"name\":\"\xff\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}", 0, 0, 400,
	  "bad_request", NULL },
	{ "body id differs from path", "PUT", "/v1/farms/big", 0, NULL,
	  "{\"id\":\"my-farm\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}", 0, 0, 400,
	  "bad_request", NULL },
	{ "deeply nested JSON", "POST", "/v1/farms", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "maximum parsing depth", .gen_body = nested_5000 },
	{ "NaN capacity", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":NaN}", 0, 0, 400,
	  "bad_request", NULL },

	/* libmicrohttpd's own replies: 0.9.75 has no option to give them a JSON body */
	{ "header over the connection memory", "GET", "/healthz", 0, NULL, NULL, 0, 0, 431,
	  NULL, NULL, .gen_headers = header_70k },
	{ "Content-Length overflow", "POST", "/v1/farms", 0,
	  "Content-Length: 99999999999999999999999\r\n", NULL, 0, 0, 413, NULL, NULL },
	{ "Content-Length not a number", "POST", "/v1/farms", 0, "Content-Length: abc\r\n",
	  NULL, 0, 0, 400, NULL, NULL },

	/* ---- issue 14: the rest of the hostile catalogue ---- */

	/* NaN, infinities, overflow: in JSON (not even valid JSON), CSV and query values */
	{ "NaN latitude token", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":NaN,\"lon\":1,\"capacity_mw\":1}", 0, 0,
	  400, "bad_request", "malformed JSON" },
	{ "Infinity longitude token", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":Infinity,\"capacity_mw\":1}", 0,
	  0, 400, "bad_request", "malformed JSON" },
	{ "capacity overflowing a double", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1e999}", 0, 0,
	  400, "bad_request", "overflow" },
	{ "capacity as the string Infinity", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":\"Infinity\"}",
	  0, 0, 400, "bad_request", "'capacity_mw' must be a number" },
	{ "NaN observation in CSV", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,NaN\n", 0, 0, 400, "bad_request",
	  "not a finite number" },
	{ "infinite observation in CSV", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,-inf\n", 0, 0, 400, "bad_request",
	  "not a finite number" },
	{ "observation overflowing a double", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,1e999\n", 0, 0, 400, "bad_request",
	  "'1e999' is not a number" },
	{ "NaN observation in JSON", "POST", "/v1/farms/big/observations", 0, JSON,
	  "[{\"time\":\"2026-01-02T01:00:00Z\",\"power_mw\":NaN}]", 0, 0, 400, "bad_request",
	  "malformed JSON" },
	{ "observation 1e400 in JSON", "POST", "/v1/farms/big/observations", 0, JSON,
	  "[{\"time\":\"2026-01-02T01:00:00Z\",\"power_mw\":1e400}]", 0, 0, 400,
	  "bad_request", "overflow" },
	{ "learning rate \"NaN\"", "POST", "/v1/farms/big/train", 0, JSON, "{\"lr\":\"NaN\"}", 0,
	  0, 400, "bad_request", "invalid 'lr'" },
	{ "dropout \"inf\"", "POST", "/v1/farms/big/train", 0, JSON, "{\"dropout\":\"inf\"}", 0,
	  0, 400, "bad_request", "invalid 'dropout'" },
	{ "epochs 1e999", "POST", "/v1/farms/big/train", 0, JSON, "{\"epochs\":1e999}", 0, 0,
	  400, "bad_request", "overflow" },
	{ "horizon nan", "GET", "/v1/farms/big/forecast?horizon=nan", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "invalid horizon 'nan'" },
	{ "quantile nan", "GET", "/v1/farms/big/forecast?quantiles=nan", 0, NULL, NULL, 0, 0,
	  400, "bad_request", "invalid quantiles 'nan'" },
	{ "quantile inf", "GET", "/v1/farms/big/forecast?quantiles=0.5,inf", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "invalid quantiles" },
	{ "quantile range with step 0 (endless)", "GET",
	  "/v1/farms/big/forecast?quantiles=0.1:0.9:0", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "invalid quantiles" },
	{ "quantile range of a billion levels", "GET",
	  "/v1/farms/big/forecast?quantiles=0.1:0.9:1e-9", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "at most 128" },

	/* absurd horizons and dates */
	{ "horizon 0", "GET", "/v1/farms/big/forecast?horizon=0", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "1..744" },
	{ "negative horizon", "GET", "/v1/farms/big/forecast?horizon=-1", 0, NULL, NULL, 0, 0,
	  400, "bad_request", "1..744" },
	{ "horizon past a month", "GET", "/v1/farms/big/forecast?horizon=745", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "1..744" },
	{ "horizon of 20 digits", "GET",
	  "/v1/farms/big/forecast?horizon=99999999999999999999", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "1..744" },
	{ "fractional horizon", "GET", "/v1/farms/big/forecast?horizon=12.5", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "'12.5'" },
	{ "horizon with a trailing word", "GET", "/v1/farms/big/forecast?horizon=36h", 0, NULL,
	  NULL, 0, 0, 400, "bad_request", "'36h'" },
	{ "issue time 9999-99-99", "GET", "/v1/farms/big/forecast?issued=9999-99-99T00:00Z", 0,
	  NULL, NULL, 0, 0, 400, "bad_request", "ISO 8601" },
	{ "issue time on 30 February", "GET",
	  "/v1/farms/big/forecast?issued=2026-02-30T00:00:00Z", 0, NULL, NULL, 0, 0, 400,
	  "bad_request", "ISO 8601" },
	{ "issue time as epoch seconds", "GET", "/v1/farms/big/forecast?issued=-99999999999", 0,
	  NULL, NULL, 0, 0, 400, "bad_request", "ISO 8601" },
	{ "issue time in the year 3000: nothing to forecast from", "GET",
	  "/v1/farms/big/forecast?issued=3000-01-01T00:00:00Z", 0, NULL, NULL, 0, 0, 409,
	  "no_data", "3000-01-01T00:00:00Z" },
	{ "model version 0", "GET", "/v1/farms/big/forecast?model_version=0", 0, NULL, NULL, 0,
	  0, 400, "bad_request", "model_version" },
	{ "model version 10^12", "GET", "/v1/farms/big/forecast?model_version=1000000000000", 0,
	  NULL, NULL, 0, 0, 400, "bad_request", "model_version" },
	{ "observation in 1800", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n1800-01-01T01:00:00Z,1\n", 0, 0, 400, "bad_request", "outside 1900" },
	{ "observation in 2300", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2300-01-01T01:00:00Z,1\n", 0, 0, 400, "bad_request", "outside 1900" },
	{ "observation at half past", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:30:00Z,1\n", 0, 0, 400, "bad_request", "whole hour" },
	{ "observation in month 13", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-13-01T01:00:00Z,1\n", 0, 0, 400, "bad_request",
	  "cannot parse time" },
	{ "observation time as a JSON number", "POST", "/v1/farms/big/observations", 0, JSON,
	  "[{\"time\":1767229200,\"power_mw\":1}]", 0, 0, 400, "bad_request", "string 'time'" },
	{ "training from a date that is no date", "POST", "/v1/farms/big/train", 0, JSON,
	  "{\"from\":\"yesterday\"}", 0, 0, 400, "bad_request", "invalid 'from'" },
	{ "training to before from", "POST", "/v1/farms/big/train", 0, JSON,
	  "{\"from\":\"2026-02-01T00:00:00Z\",\"to\":\"2026-01-01T00:00:00Z\"}", 0, 0, 400,
	  "bad_request", NULL },
	{ "training leads 0", "POST", "/v1/farms/big/train", 0, JSON, "{\"leads\":0}", 0, 0, 400,
	  "bad_request", "invalid 'leads'" },
	{ "training leads 10^5", "POST", "/v1/farms/big/train", 0, JSON, "{\"leads\":100000}", 0,
	  0, 400, "bad_request", "invalid 'leads'" },
	{ "training epochs 10^9", "POST", "/v1/farms/big/train", 0, JSON,
	  "{\"epochs\":1000000000}", 0, 0, 400, "bad_request", "invalid 'epochs'" },

	/* negative, zero or huge capacities and other numbers out of range */
	{ "negative capacity", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":-5}", 0, 0, 400,
	  "bad_request", "capacity_mw -5 is outside" },
	{ "zero capacity", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":0}", 0, 0, 400,
	  "bad_request", "capacity_mw 0 is outside" },
	{ "capacity 1e308", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1e308}", 0, 0,
	  400, "bad_request", "capacity_mw 1e+308 is outside" },
	{ "capacity just over the limit", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":100000.001}",
	  0, 0, 400, "bad_request", "capacity_mw" },
	{ "capacity as a string", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":\"100\"}", 0,
	  0, 400, "bad_request", "must be a number" },
	{ "negative capacity by PUT of an existing farm", "PUT", "/v1/farms/big", 0, NULL,
	  "{\"name\":\"Big\",\"lat\":55.5,\"lon\":7.9,\"capacity_mw\":-160}", 0, 0, 400,
	  "bad_request", "capacity_mw -160" },
	{ "latitude 91", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":91,\"lon\":1,\"capacity_mw\":1}", 0, 0, 400,
	  "bad_request", "lat 91" },
	{ "longitude 360", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":360,\"capacity_mw\":1}", 0, 0, 400,
	  "bad_request", "lon 360" },
	{ "negative hub height", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1,"
	  "\"hub_height_m\":-1}",
	  0, 0, 400, "bad_request", "hub_height_m -1" },
	{ "power curve above capacity", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1,"
	  "\"power_curve\":[{\"ws\":3,\"power\":0},{\"ws\":12,\"power\":150}]}",
	  0, 0, 400, "bad_request", "power 150 is outside" },
	{ "observation of ten times the capacity", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,1600\n", 0, 0, 400, "bad_request",
	  "1600 is outside" },
	{ "negative observation", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,-100\n", 0, 0, 400, "bad_request",
	  "-100 is outside" },
	{ "20000 good hours, a bad last one: nothing stored", "POST",
	  "/v1/farms/big/observations", 0, CSV, NULL, 0, 0, 400, "bad_request",
	  "line 20002", .gen_body = obs_csv_bad_last },

	/* deeply nested and huge JSON */
	{ "observations nested 100000 deep", "POST", "/v1/farms/big/observations", 0, JSON,
	  NULL, 0, 0, 400, "bad_request", "maximum parsing depth", .gen_body = nested_100000 },
	{ "training body of 3000 nested objects", "POST", "/v1/farms/big/train", 0, JSON, NULL,
	  0, 0, 413, "payload_too_large", "4096", .gen_body = nested_3000_object },
	{ "farm name of 60 KiB", "POST", "/v1/farms", 0, NULL, NULL, 0, 0, 400, "bad_request",
	  "longer than 128 bytes", .gen_body = name_200k },
	{ "1000 hidden layers", "POST", "/v1/farms/big/train", 0, JSON, NULL, 0, 0, 400,
	  "bad_request", "invalid 'hidden'", .gen_body = hidden_1000 },
	{ "observations announced as 70 MB", "POST", "/v1/farms/big/observations", 0,
	  "Content-Length: 70000000\r\n", NULL, 0, 0, 413, "payload_too_large", "67108864" },
	{ "farm body of 100 KiB", "POST", "/v1/farms", 0, NULL, "{\"name\":\"", 0, 100 * 1024,
	  413, "payload_too_large", "65536" },

	/* header floods and odd headers */
	{ "300 headers (fits the connection memory)", "GET", "/healthz", 0, NULL, NULL, 0, 0,
	  200, NULL, "Content-Type: application/json", .gen_headers = headers_300 },
	{ "6000 headers (does not)", "GET", "/healthz", 0, NULL, NULL, 0, 0, 431, NULL, NULL,
	  .gen_headers = headers_6000 },
	{ "two different Content-Lengths (request smuggling)", "POST", "/v1/farms", 0,
	  "Content-Length: 5\r\nContent-Length: 7\r\n", NULL, 0, 0, 400, "bad_request",
	  "Content-Length" },
	{ "Content-Length and chunked together (request smuggling)", "POST", "/v1/farms", 0,
	  "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", NULL, 0, 0, 400,
	  "bad_request", "Transfer-Encoding" },
	{ "the same Content-Length twice", "POST", "/v1/farms", 0,
	  "Content-Length: 2\r\nContent-Length: 2\r\n", NULL, 0, 0, 400, "bad_request",
	  "Content-Length" },
	{ "header line without a colon", "GET", "/healthz", 0, "this is not a header\r\n", NULL,
	  0, 0, 400, NULL, NULL },
	{ "invalid UTF-8 in Accept", "GET", "/v1/farms", 0, "Accept: \xff\xfe/\xfd\r\n", NULL,
	  0, 0, 406, "not_acceptable", "%FF%FE" },
	{ "invalid UTF-8 in Content-Type", "POST", "/v1/farms", 0,
	  "Content-Type: \xff\xfe\r\n", "{}", 0, 0, 415, "unsupported_media_type", "%FF%FE" },

	/* wrong content types */
	{ "CSV content type for a farm", "POST", "/v1/farms", 0, CSV, farm_csv, 0, 0, 415,
	  "unsupported_media_type", "application/json" },
	{ "form upload (curl -F) of a farm", "POST", "/v1/farms", 0,
	  "Content-Type: multipart/form-data; boundary=x\r\n", "--x\r\n\r\n{}\r\n--x--\r\n", 0,
	  0, 415, "unsupported_media_type", "multipart/form-data" },
	{ "XML for a farm update", "PUT", "/v1/farms/big", 0, "Content-Type: application/xml\r\n",
	  "<farm/>", 0, 0, 415, "unsupported_media_type", NULL },
	{ "text/plain training options", "POST", "/v1/farms/big/train", 0,
	  "Content-Type: text/plain\r\n", "{\"epochs\":1}", 0, 0, 415, "unsupported_media_type",
	  "application/json" },
	{ "PNG observations", "POST", "/v1/farms/big/observations", 0,
	  "Content-Type: image/png\r\n", "time,power_mw\n2026-01-02T01:00:00Z,1\n", 0, 0, 415,
	  "unsupported_media_type", "text/csv" },
	{ "JSON declared, CSV sent", "POST", "/v1/farms/big/observations", 0, JSON,
	  "time,power_mw\n2026-01-02T01:00:00Z,1\n", 0, 0, 400, "bad_request", "malformed JSON" },
	{ "CSV declared, JSON sent", "POST", "/v1/farms/big/observations", 0, CSV,
	  "[{\"time\":\"2026-01-02T01:00:00Z\",\"power_mw\":1}]", 0, 0, 400, "bad_request",
	  "malformed CSV" },
	{ "empty Content-Type", "POST", "/v1/farms/big/observations", 0, "Content-Type: \r\n",
	  "time,power_mw\n2026-01-02T01:00:00Z,1\n", 0, 0, 415, "unsupported_media_type", NULL },

	/* duplicated parameters, headers and fields */
	{ "parameter twice in other case", "GET", "/v1/farms/big/forecast?horizon=1&HORIZON=2", 0,
	  NULL, NULL, 0, 0, 400, "bad_request", "'HORIZON'" },
	{ "quantile level twice", "GET", "/v1/farms/big/forecast?quantiles=0.5,0.1,0.5", 0, NULL,
	  NULL, 0, 0, 400, "bad_request", "distinct" },
	{ "duplicated key in a farm", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"id\":\"m\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":1}",
	  0, 0, 400, "bad_request", "duplicate object key" },
	{ "duplicated training option", "POST", "/v1/farms/big/train", 0, JSON,
	  "{\"epochs\":5,\"epochs\":6}", 0, 0, 400, "bad_request", "duplicate object key" },
	{ "duplicated key in an observation", "POST", "/v1/farms/big/observations", 0, JSON,
	  "[{\"time\":\"2026-01-02T01:00:00Z\",\"power_mw\":1,\"power_mw\":2}]", 0, 0, 400,
	  "bad_request", "duplicate object key" },
	{ "duplicated CSV column", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw,power_mw\n2026-01-02T01:00:00Z,1,2\n", 0, 0, 400, "bad_request",
	  "'power_mw' appears twice" },
	{ "duplicated hour", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,1\n2026-01-02T01:00:00Z,2\n", 0, 0, 400,
	  "bad_request", "more than once" },
	{ "misspelt observation field", "POST", "/v1/farms/big/observations", 0, JSON,
	  "[{\"time\":\"2026-01-02T01:00:00Z\",\"power_mw\":1,\"flags\":\"outage\"}]", 0, 0,
	  400, "bad_request", "unknown field 'flags'" },
	{ "farm twice in a pool", "POST", "/v1/farms/big/train", 0, JSON,
	  "{\"pool\":[\"big\",\"big\"]}", 0, 0, 400, "bad_request", "listed twice" },

	/* slow bodies: a few bytes at a time, still judged as a whole */
	{ "malformed farm, a byte at a time", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"slow\",\"name\":", 0, 0, 400, "bad_request", "malformed JSON", 1 },
	{ "bad observations, 3 bytes at a time", "POST", "/v1/farms/big/observations", 0, CSV,
	  "time,power_mw\n2026-01-02T01:00:00Z,1\n2026-01-02T02:00:00Z,x\n", 0, 0, 400,
	  "bad_request", "line 3", 3 },
	{ "headers a byte at a time, bad id", "GET", "/v1/farms/BAD", 0, "X-Slow: yes\r\n",
	  NULL, 0, 0, 400, "bad_request", "'BAD'", 1 },

	/* trading: portfolios, market settings, commitments and price files */
	{ "portfolio naming a farm twice", "POST", "/v1/portfolios", 0, JSON,
	  "{\"id\":\"p\",\"farms\":[\"big\",\"big\"]}", 0, 0, 400, "bad_request", "twice" },
	{ "portfolio of no farms", "POST", "/v1/portfolios", 0, JSON,
	  "{\"id\":\"p\",\"farms\":[]}", 0, 0, 400, "bad_request", NULL },
	{ "portfolio of an unknown farm", "POST", "/v1/portfolios", 0, JSON,
	  "{\"id\":\"p\",\"farms\":[\"big\",\"ghost\"]}", 0, 0, 400, "bad_request",
	  "ghost" },
	{ "portfolio id with an escaped slash", "PUT", "/v1/portfolios/a%2F..", 0, JSON,
	  "{\"farms\":[\"big\"]}", 0, 0, 404, "not_found", "no route" },
	{ "negative price setting", "PUT", "/v1/farms/big/market", 0, JSON,
	  "{\"price\":-1}", 0, 0, 400, "bad_request", "price" },
	{ "time zone path", "PUT", "/v1/farms/big/market", 0, JSON,
	  "{\"time_zone\":\"../../etc/passwd\"}", 0, 0, 400, "bad_request",
	  "invalid time zone" },
	{ "day 13th month", "GET", "/v1/farms/big/commitments?day=2026-13-01", 0, NULL, NULL, 0, 0,
	  400, "bad_request", "day" },
	{ "NaN price", "GET", "/v1/farms/big/commitments?day=2026-01-03&price=nan&psi_plus=1&"
	  "psi_minus=1", 0, NULL, NULL, 0, 0, 400, "bad_request", "price" },
	{ "price file with a gap", "POST", "/v1/farms/big/commitments?day=2026-01-03", 0, CSV,
	  "period_start,price,psi_plus,psi_minus\n2026-01-03T00:00:00Z,50,10,30\n"
	  "2026-01-03T02:00:00Z,50,10,30\n", 0, 0, 400, "bad_request", "line 3" },
	{ "price file sent as JSON", "POST", "/v1/farms/big/commitments?day=2026-01-03", 0, JSON,
	  "[]", 0, 0, 415, "unsupported_media_type", NULL },
	{ "unknown portfolio's forecast", "GET", "/v1/portfolios/nope/forecast", 0, NULL, NULL, 0,
	  0, 404, "not_found", "nope" },

	/* tokens: none, another scheme, malformed, unknown, too small a scope; on a route
	 * of each scope */
	{ "no token, read route", "GET", "/v1/farms", 0, "X-No-Auth: 1\r\n", NULL, 0, 0, 401,
	  "unauthorized", "needs a token of scope read" },
	{ "no token, write route", "POST", "/v1/farms/big/observations", 0,
	  "X-No-Auth: 1\r\n" CSV, "time,power_mw\n2026-01-02T01:00:00Z,1\n", 0, 0, 401,
	  "unauthorized", "needs a token of scope write" },
	{ "no token, admin route", "GET", "/v1/tokens", 0, "X-No-Auth: 1\r\n", NULL, 0, 0, 401,
	  "unauthorized", "needs a token of scope admin" },
	{ "basic auth", "GET", "/v1/farms", 0, "Authorization: Basic dXNlcjpwYXNz\r\n", NULL, 0,
	  0, 401, "unauthorized", "unsupported authorization scheme" },
	{ "empty bearer", "GET", "/v1/farms", 0, "Authorization: Bearer \r\n", NULL, 0, 0, 401,
	  "unauthorized", "invalid token" },
	{ "token with a trailing word", "GET", "/v1/farms", 0, NULL, NULL, 0, 0, 401,
	  "unauthorized", "invalid token", .gen_headers = token_then_junk },
	{ "unknown well-formed token", "GET", "/v1/farms", 0,
	  "Authorization: Bearer wct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n", NULL, 0, 0,
	  401, "unauthorized", "not known to this server" },
	{ "read token on a write route", "POST", "/v1/farms/big/observations", 0, NULL,
	  "time,power_mw\n2026-01-02T01:00:00Z,1\n", 0, 0, 403, "forbidden",
	  "has scope read", .gen_headers = read_token_csv },
	{ "write token on an admin route", "DELETE", "/v1/farms/big", 0, NULL, NULL, 0, 0, 403,
	  "forbidden", "has scope write", .gen_headers = write_token },
	{ "read token minting a token", "POST", "/v1/tokens", 0, NULL,
	  "{\"scope\":\"admin\"}", 0, 0, 403, "forbidden", "needs admin",
	  .gen_headers = read_token_json },
};
#pragma GCC diagnostic pop

/* Send case c, with the parts its generators make. */
static void send_case(const struct hostile *c, struct raw_reply *r)
{
	char *target = c->gen_target ? c->gen_target() : NULL;
	char *headers = c->gen_headers ? c->gen_headers() : NULL;
	char *body = c->gen_body ? c->gen_body() : NULL;
	const char *b = body ? body : c->body;

	raw_request(c->method, target ? target : c->target, target ? 0 : c->tlen,
		    headers ? headers : c->headers, b,
		    b && (body || !c->blen) ? SIZE_MAX : c->blen, c->fill, c->piece, r);
	free(target);
	free(headers);
	free(body);
}

Test(http_hostile, table_then_store_unchanged)
{
	char *before = store_dump(), *after;
	struct job job;
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++) {
		const struct hostile *c = &cases[i];
		struct raw_reply r;
		const char *code, *msg;
		json_t *v = NULL;

		send_case(c, &r);
		/* expect, not assert: one run reports every case that fails */
		cr_expect(!c->status || r.status == c->status,
			  "case %zu '%s': status %d, want %d; %s", i, c->what, r.status, c->status,
			  r.body);
		if (c->code && !error_body(&r, &v, &code, &msg)) {
			cr_expect_fail("case %zu '%s': not a JSON error body: %s", i, c->what,
				       r.body);
		} else if (c->code) {
			cr_expect_str_eq(code, c->code, "case %zu '%s': %s", i, c->what, r.body);
			cr_expect(strstr(r.head, "Content-Type: application/json"),
				  "case %zu '%s': %s", i, c->what, r.head);
			cr_expect((c->status == 405) == (strstr(r.head, "\r\nAllow: ") != NULL),
				  "case %zu '%s': Allow header on a %d or none on a 405: %s", i,
				  c->what, c->status, r.head);
			cr_expect(!c->needle || strstr(msg, c->needle),
				  "case %zu '%s': message lacks \"%s\": %s", i, c->what, c->needle,
				  msg);
		} else if (c->needle) {
			cr_expect(strstr(r.head, c->needle), "case %zu '%s': head lacks \"%s\": %s",
				  i, c->what, c->needle, r.head);
		}
		json_decref(v);
		v = NULL;
		raw_release(&r);
	}
	/* nothing above changed the store, started a job or left an upload behind */
	cr_assert_eq(tmp_entries(), 0, "uploads left in DATA/tmp");
	after = store_dump();
	cr_assert_str_eq(after, before, "the store changed");
	cr_assert_eq(store_job_get(st, 1, &job, NULL), WC_ENOTFOUND, "a job was created");
	cr_log_info("%zu hostile requests, store unchanged (%zu bytes of dump)", n,
		    strlen(after));
	free(before);
	free(after);
	assert_healthy();
}

/* ---- what the table cannot express ---- */

/* Count "HTTP/1.1 " status lines in a pipelined exchange. */
static int count_replies(const struct raw_reply *r, const char *body)
{
	int n = 0;

	for (const char *p = r->head; (p = strstr(p, "HTTP/1.1 ")); p++)
		n++;
	for (const char *p = body; (p = strstr(p, "HTTP/1.1 ")); p++)
		n++;
	return n;
}

/*
 * A refusal before the handler is sent once the request is complete, so the connection
 * stays open for the next request (libmicrohttpd 0.9.75 closes it when a reply is
 * queued before the request was read).
 */
Test(http_hostile, refusals_keep_the_connection)
{
	static const char *const first[] = {
		"GET /v1/farms/BAD HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/farms?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/farms HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n",
		"PATCH /v1/farms/big HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/farms/BAD/train HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"DELETE /v1/farms/big HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST /v1/grids HTTP/1.1\r\nHost: x\r\n" NC "Content-Length: 5\r\n\r\nhello",
	};
	static const char second[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		char req[512];
		struct raw_reply r;
		const char *close_hdr;

		snprintf(req, sizeof(req), "%s%s", first[i], second);
		raw_exchange(req, strlen(req), 0, &r);
		cr_assert_eq(count_replies(&r, r.body), 2, "request %zu: one reply only: %s%s", i,
			     r.head, r.body);
		/* the first reply does not close; the second (asked to) does */
		close_hdr = strstr(r.head, "Connection: close");
		cr_assert_null(close_hdr, "request %zu: the refusal closed the connection: %s", i,
			       r.head);
		cr_assert(strstr(r.body, "{\"status\":\"ok\""), "request %zu: %s", i, r.body);
		raw_release(&r);
	}
}

/* The first bytes of an upload are judged across pieces, however small. */
Test(http_hostile, sniff_across_pieces)
{
	struct raw_reply r;
	json_t *v;

	raw_request("POST", "/v1/grids?name=slow.txt", 0, NC, "CDX\x01 a slow text body", SIZE_MAX,
		    0, 1, &r);
	cr_assert_eq(r.status, 415, "%s", r.body);
	cr_assert(strstr(r.body, "'slow.txt'"));
	raw_release(&r);
	/* netCDF-3 magic one byte at a time: accepted (the job then fails on the header) */
	raw_request("POST", "/v1/grids?name=slow.nc", 0, NC, "CDF\x01 damaged", SIZE_MAX, 0, 1,
		    &r);
	cr_assert_eq(r.status, 202, "%s", r.body);
	v = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "accepted");
	json_decref(v);
	raw_release(&r);
}

/* Occurrences of needle in s. */
static int count_of(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/*
 * A file with a netCDF signature but a damaged header becomes a job, whose failure
 * names the client's file once and never a spool file (it said "cannot ingest
 * 'notnc.txt': cannot open 'job-1.nc'"); its directory under DATA/tmp goes with it.
 */
Test(http_hostile, failed_ingest_names_the_client_file)
{
	static const char body[] = "CDF\x01\0\0\0\0\0\0\0\x0a\0\0\0\x05garbage, not a header";
	struct raw_reply r;
	json_t *job;
	const char *err;

	raw_request("POST", "/v1/grids?name=bad.nc", 0, NC, body, sizeof(body) - 1, 0, 0, &r);
	cr_assert_eq(r.status, 202, "%s", r.body);
	raw_release(&r);
	job = tu_wait_job(port, "/v1/jobs/1");
	cr_assert_str_eq(json_string_value(json_object_get(job, "state")), "failed");
	err = json_string_value(json_object_get(json_object_get(job, "result"), "error"));
	cr_assert_not_null(err);
	cr_assert(strstr(err, "'bad.nc'"), "%s", err);
	cr_assert_null(strstr(err, "job-"), "spool file named: %s", err);
	cr_assert_null(strstr(err, "upload-"), "spool file named: %s", err);
	cr_assert_eq(count_of(err, "cannot ingest"), 1, "prefix repeated: %s", err);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "result"), "file")),
			 "bad.nc");
	json_decref(job);
	cr_assert_eq(tmp_entries(), 0, "the job's spool stayed in DATA/jobs");
}

/* HDF5 (netCDF-4) with a user block: the signature at 512 or 1024 bytes is accepted. */
Test(http_hostile, hdf5_user_block_accepted)
{
	static const size_t offsets[] = { 0, 512, 1024, 65536 };
	char *body = calloc(1, 70 * 1024);

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		struct raw_reply r;

		memset(body, 0, 70 * 1024);
		memcpy(body + offsets[i], HDF5_SIG, 8);
		body[offsets[i] + 8] = (char)i;	/* other bytes each time: no "known" */
		raw_request("POST", "/v1/grids", 0, NC, body, offsets[i] + 64, 0, 0, &r);
		cr_assert_eq(r.status, 202, "offset %zu: %d %s", offsets[i], r.status, r.body);
		raw_release(&r);
	}
	free(body);
}

/*
 * A refused upload announced as large is answered before its body is sent (with
 * "Expect: 100-continue", as curl sends it); a text upload of 1 MiB is refused after its
 * first 64 KiB and the rest discarded, leaving nothing in DATA/tmp.
 */
Test(http_hostile, large_refused_uploads)
{
	static const char *const nc[] = { "Content-Type: application/x-netcdf", NULL };
	size_t big = 1 << 20;
	char *body = malloc(big);
	struct tu_http r;

	memset(body, 'x', big);
	memcpy(body, "CDF\x01", 4);
	cr_assert(tu_http_request(port, "POST", "/v1/grids?nmae=x.nc", body, big, nc, &r));
	cr_assert_eq(r.status, 400, "%ld %s", r.status, r.body);
	cr_assert(strstr(r.body, "'nmae'"));
	tu_http_release(&r);
	memset(body, 'x', 4);
	cr_assert(tu_http_request(port, "POST", "/v1/grids?name=big.txt", body, big, nc, &r));
	cr_assert_eq(r.status, 415, "%ld %s", r.status, r.body);
	tu_http_release(&r);
	free(body);
	cr_assert_eq(tmp_entries(), 0);
	assert_healthy();
}

/* Connect and send `partial`, then nothing: the socket (connected, timeouts set). */
static int stall(const char *partial)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 4 * STALL_TIMEOUT_S, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(send(fd, partial, strlen(partial), MSG_NOSIGNAL), (ssize_t)strlen(partial));
	return fd;
}

/*
 * Clients that stall mid-request (slowloris: half the headers; a body that stops short of
 * its Content-Length) are cut off after the idle timeout, without an answer and without
 * storing anything, while the server keeps answering others.
 */
Test(http_hostile, stalled_clients_are_cut_off)
{
	static const char *const partial[] = {
		"GET /v1/farms HTTP/1.1\r\nHost: x\r\nX-Slow: aaa",
		"POST /v1/farms/big/observations HTTP/1.1\r\nHost: x\r\n" CSV
		"Content-Length: 200\r\n\r\ntime,power_mw\n2026-01-02T01:00:00Z,99\n",
	};
	char *before = store_dump(), *after, buf[256];
	struct timespec t0, t1;
	int fds[2];
	double waited;

	for (int i = 0; i < 2; i++)
		fds[i] = stall(partial[i]);
	assert_healthy();	/* the stalled connections hold no one else up */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2; i++) {
		ssize_t n = recv(fds[i], buf, sizeof(buf), 0);

		cr_assert_eq(n, 0, "connection %d: %zd bytes or a timeout instead of a close", i, n);
		close(fds[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_lt(waited, 2.0 * STALL_TIMEOUT_S + 1, "cut off after %.1f s", waited);
	after = store_dump();
	cr_assert_str_eq(after, before, "a stalled upload stored something");
	free(before);
	free(after);
	assert_healthy();
}
