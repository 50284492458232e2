/*
 * testutil.h - helpers shared by the Criterion suites: temporary directories, running
 * the built CLI, locating ../shared, and HTTP requests with libcurl.
 */
#ifndef WC_TESTUTIL_H
#define WC_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* A fresh directory under $TMPDIR (malloc'd path); aborts the test on failure. */
char *tu_tmpdir(void);
/* rm -rf path (best effort) and free it. */
void tu_rmrf_free(char *path);

/* The sanitizer-built CLI ($WINDCAST_BIN, else build/san/windcast). */
const char *tu_bin(void);
/* ../shared if present (else NULL): tests that need it skip with a message. */
const char *tu_shared(void);
/* The source tree ($WINDCAST_SRC, else ".") and the Python with netCDF4/numpy
 * ($PYTHON, else /usr/bin/python3). */
const char *tu_src(void);
const char *tu_python(void);

/*
 * Run `/bin/sh -c cmd`, capturing stdout and stderr into malloc'd strings (either
 * pointer may be NULL to discard). Returns the exit status, or -1 if it did not exit.
 */
int tu_run(const char *cmd, char **out, char **err);
/* printf-style wrapper around tu_run that prefixes the CLI binary path and --data. */
int tu_cli(const char *data_dir, char **out, char **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A usage case of a CLI command: its arguments, its exit status and a part of its
 * stderr. */
struct tu_cli_case {
	const char *args, *want;
	int rc;
};

/*
 * Run `windcast --data 'DIR/data' CMD ARGS TAIL` for each of cases[0..n), each "{dir}"
 * in ARGS and TAIL (may be "") replaced by DIR; the test fails, naming the arguments,
 * the status and stderr, when the status is not rc or stderr does not hold want.
 */
void tu_cli_cases(const char *dir, const char *cmd, const char *tail,
		  const struct tu_cli_case *cases, size_t n);

struct tu_http {
	long status;
	char *body;	/* malloc'd, NUL-terminated */
	size_t len;
	char *headers;	/* malloc'd raw response headers */
};

/*
 * Send one request to 127.0.0.1:port. `body` may be NULL; `len` (size_t)-1 means strlen.
 * `headers` is NULL or a NULL-terminated list of "Name: value" strings. Returns false
 * when the connection itself failed.
 */
bool tu_http_request(unsigned port, const char *method, const char *path,
		     const char *body, size_t len, const char *const *headers,
		     struct tu_http *out);
void tu_http_release(struct tu_http *r);

struct store;
struct server;

/*
 * Every /v1 route needs a bearer token (server/auth.h). tu_auth makes an admin token in
 * st and sets it as the default: from then on tu_http_request sends
 * "Authorization: Bearer <it>" unless the caller's headers carry an Authorization line
 * (send "Authorization:" alone, which curl drops, to send none). tu_token_make makes a
 * token of another scope ("read", "write", "admin"), returned in a static buffer of the
 * tests' process. tu_token is the default ("" before tu_auth).
 */
void tu_auth(struct store *st);
const char *tu_token_make(struct store *st, const char *scope);
const char *tu_token(void);

/* Open the store in dir and serve it on a free port of 127.0.0.1 with 2 threads, with
 * tu_auth's admin token as the default (the caller stops the server, then closes the
 * store); aborts the test on failure. */
void tu_serve(const char *dir, struct store **st, struct server **srv);

/*
 * Poll GET `url` (a job, /v1/jobs/N) every 20 ms until its state is done or failed, for
 * at most 30 s (then the test fails). Returns the job's JSON (a jansson json_t *, a new
 * reference; void * here to keep jansson out of this header).
 */
void *tu_wait_job(unsigned port, const char *url);

/* A JSON file parsed (a jansson json_t *, a new reference); the test fails, naming the
 * file, line and reason, when it cannot be. */
void *tu_load_json(const char *path);

/* Read a whole file (malloc'd, NUL-terminated); NULL if it cannot be read. */
char *tu_read_file(const char *path, size_t *len);

/* A PNG screenshot of the page at path html by headless Chromium (no sandbox, no
 * network, a fresh profile under dir), 1100 px wide and `height` tall, written to
 * dir/shot.png; returns its path
 * (malloc'd). The test fails when Chromium does. */
char *tu_screenshot(const char *dir, const char *html, int height);

/* A PNG decoded (zlib, filters undone) by Python: the colours of a 1-in-3 sample of its
 * pixels, and the share of them not white. */
void tu_png_ink(const char *png, long *colours, double *ink);

/* A store under dir/data: `demo-data --farms 3 --days 40 --seed 5` written to dir/in
 * (farms horns-reef, jutland-1, north-sea-1; runs and observations 2026-01-01 ..
 * 2026-02-09) and imported. */
void tu_demo_store(const char *dir);

/* The whole file at the printf-formed path (malloc'd); the test fails when it cannot be
 * read. */
char *tu_slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Split a CSV line (no quoting) in place at its commas into f, at most max fields;
 * returns the number of fields. */
int tu_csv_split(char *line, char **f, int max);

/*
 * Beside tu_demo_store's dir/in, a store dir/dataB holding only what was known at T
 * (ISO, "2026-02-01T12:00:00Z"): the runs issued by T, the observations up to T; then
 * the shell lines `then` ($W the CLI, $B the store), e.g. trainings.
 */
void tu_demo_store_upto(const char *dir, const char *T, const char *then);

/* Write text to dir/name; returns the path (malloc'd). */
char *tu_write_tmp(const char *dir, const char *name, const char *text);

/*
 * Rows of a CSV as "valid,lead,values..." (columns vcol and vcol + 1, then `from` on),
 * malloc'd: with `farm`, the backtest's forecasts.csv rows of that farm, issue time and
 * method (columns 0, 1 and 4); without, every row after the header (`windcast
 * forecast`'s CSV).
 */
char *tu_csv_rows(const char *csv, int vcol, int from, const char *farm, const char *issued,
		  const char *method);

#endif
