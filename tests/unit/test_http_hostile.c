/*
 * test_http_hostile.c - malformed and malicious requests against a real daemon on port 0.
 *
 * One table: method, raw request target, headers, body -> expected status and error
 * code (and a word the message must hold). Requests go out over raw sockets, byte for
 * byte, so that targets curl would normalise (%00, raw NUL, "..", invalid UTF-8) arrive
 * as written. After the table: the store is unchanged (farms byte for byte, no job, no
 * upload left in DATA/tmp) and the server still answers. Then the cases the table cannot
 * express: pipelined requests after a refusal (the connection stays open), bodies sent
 * byte by byte, large refused uploads, and the messages of a failed ingest job.
 *
 * Regressions of issue 11: defect 1 (a NUL in a path id acted on another farm; invalid
 * UTF-8 answered 500), defect 5 (unknown or repeated query parameters ignored; no 406),
 * defect 9 (a text file uploaded as NetCDF got 202 and a job naming a spool file).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/dynbuf.h"
#include "data/store.h"
#include "server/server.h"
#include "testutil.h"

static char *dir;
static struct store *st;
static struct server *srv;
static unsigned port;

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
	cr_assert_eq(dynbuf_printf(&b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s",
				   headers ? headers : ""),
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
static const char farm_mine[] =
	"{\"id\":\"my-farm\",\"name\":\"Mine\",\"lat\":54,\"lon\":8,\"capacity_mw\":50}";

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
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);
	port = server_port(srv);
	raw_request("POST", "/v1/farms", 0, NULL, farm_big, SIZE_MAX, 0, 0, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	raw_release(&r);
	raw_request("POST", "/v1/farms", 0, NULL, farm_mine, SIZE_MAX, 0, 0, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	raw_release(&r);
}

static void teardown(void)
{
	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

/* GET /v1/farms, byte for byte (malloc'd). */
static char *farms_snapshot(void)
{
	struct raw_reply r;
	char *s;

	raw_request("GET", "/v1/farms", 0, NULL, NULL, 0, 0, 0, &r);
	cr_assert_eq(r.status, 200);
	s = strdup(r.body);
	raw_release(&r);
	return s;
}

/* Entries in DATA/tmp (uploads, job directories), waiting up to 3 s for them to go. */
static int tmp_entries(void)
{
	char path[4096];
	int n = 0;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	for (int tries = 0; tries < 300; tries++) {
		DIR *d = opendir(path);
		struct dirent *e;

		n = 0;
		while (d && (e = readdir(d)))
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		if (d)
			closedir(d);
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

#define NC "Content-Type: application/x-netcdf\r\n"
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
};

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
	{ "path longer than any route", "GET", "/v1/farms/", 0, NULL, NULL, 0, 0, 0, NULL,
	  NULL },	/* (replaced by a 2000-byte path in the test) */

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
	{ "deeply nested JSON", "POST", "/v1/farms", 0, NULL, "", 0, 0, 400, "bad_request",
	  NULL },	/* (replaced by 5000 '[' in the test) */
	{ "NaN capacity", "POST", "/v1/farms", 0, NULL,
	  "{\"id\":\"n\",\"name\":\"x\",\"lat\":1,\"lon\":1,\"capacity_mw\":NaN}", 0, 0, 400,
	  "bad_request", NULL },

	/* libmicrohttpd's own replies: 0.9.75 has no option to give them a JSON body */
	{ "header over the connection memory", "GET", "/healthz", 0, NULL, NULL, 0, 0, 431,
	  NULL, NULL },	/* (a 70 KiB header added in the test) */
	{ "Content-Length overflow", "POST", "/v1/farms", 0,
	  "Content-Length: 99999999999999999999999\r\n", NULL, 0, 0, 413, NULL, NULL },
	{ "Content-Length not a number", "POST", "/v1/farms", 0, "Content-Length: abc\r\n",
	  NULL, 0, 0, 400, NULL, NULL },
};

/* The cases whose request cannot be written in the table, built here. */
static void build_special(const struct hostile *c, struct raw_reply *r)
{
	if (!strcmp(c->what, "path longer than any route")) {
		char *t = malloc(2100);

		strcpy(t, "/v1/farms/");
		memset(t + 10, 'a', 2000);
		t[2010] = '\0';
		raw_request("GET", t, 0, NULL, NULL, 0, 0, 0, r);
		free(t);
		cr_expect_eq(r->status, 404, "path longer than any route: %d %s", r->status,
			     r->body);
	} else if (!strcmp(c->what, "deeply nested JSON")) {
		char *b = malloc(5001);

		memset(b, '[', 5000);
		b[5000] = '\0';
		raw_request(c->method, c->target, 0, NULL, b, SIZE_MAX, 0, 0, r);
		free(b);
	} else if (!strcmp(c->what, "header over the connection memory")) {
		size_t n = 70 * 1024;
		char *h = malloc(n + 32);

		strcpy(h, "X-Flood: ");
		memset(h + 9, 'a', n);
		strcpy(h + 9 + n, "\r\n");
		raw_request(c->method, c->target, 0, h, NULL, 0, 0, 0, r);
		free(h);
	} else {
		raw_request(c->method, c->target, c->tlen, c->headers, c->body,
			    c->body && !c->blen ? SIZE_MAX : c->blen, c->fill, 0, r);
	}
}

Test(http_hostile, table_then_store_unchanged)
{
	char *before = farms_snapshot(), *after;
	struct job job;
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++) {
		const struct hostile *c = &cases[i];
		struct raw_reply r;
		const char *code, *msg;
		json_t *v = NULL;

		build_special(c, &r);
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
	after = farms_snapshot();
	cr_assert_str_eq(after, before);
	cr_assert_eq(store_job_get(st, 1, &job, NULL), WC_ENOTFOUND, "a job was created");
	cr_assert_eq(tmp_entries(), 0, "uploads left in DATA/tmp");
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
	cr_assert_eq(tmp_entries(), 0, "the job's directory stayed in DATA/tmp");
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
