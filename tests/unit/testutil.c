/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/utc.h"
#include "data/store.h"
#include "server/server.h"

char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (asprintf(&path, "%s/windcast-test-XXXXXX", base && *base ? base : "/tmp") < 0)
		cr_assert_fail("asprintf failed");
	cr_assert_not_null(mkdtemp(path), "mkdtemp '%s' failed", path);
	return path;
}

void tu_rmrf_free(char *path)
{
	char *cmd;

	if (!path)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", path) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove '%s'\n", path);
		free(cmd);
	}
	free(path);
}

const char *tu_bin(void)
{
	const char *b = getenv("WINDCAST_BIN");

	return b && *b ? b : "build/san/windcast";
}

const char *tu_src(void)
{
	const char *s = getenv("WINDCAST_SRC");

	return s && *s ? s : ".";
}

const char *tu_python(void)
{
	const char *p = getenv("PYTHON");

	return p && *p ? p : "/usr/bin/python3";
}

const char *tu_shared(void)
{
	static char path[4096];
	const char *s = getenv("WINDCAST_SHARED");
	struct stat sb;

	snprintf(path, sizeof(path), "%s", s && *s ? s : "../shared");
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return NULL;
	return path;
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

int tu_run(const char *cmd, char **out, char **err)
{
	char *dir = tu_tmpdir(), *full, *po, *pe;
	int status;

	cr_assert(asprintf(&po, "%s/out", dir) >= 0 && asprintf(&pe, "%s/err", dir) >= 0);
	cr_assert(asprintf(&full, "(%s) >'%s' 2>'%s' </dev/null", cmd, po, pe) >= 0);
	status = system(full);
	if (out)
		*out = tu_read_file(po, NULL);
	if (err)
		*err = tu_read_file(pe, NULL);
	free(full);
	free(po);
	free(pe);
	tu_rmrf_free(dir);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int tu_cli(const char *data_dir, char **out, char **err, const char *fmt, ...)
{
	char *args, *cmd;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	cr_assert(vasprintf(&args, fmt, ap) >= 0);
	va_end(ap);
	if (data_dir)
		cr_assert(asprintf(&cmd, "'%s' --data '%s' %s", tu_bin(), data_dir, args) >= 0);
	else
		cr_assert(asprintf(&cmd, "'%s' %s", tu_bin(), args) >= 0);
	rc = tu_run(cmd, out, err);
	free(args);
	free(cmd);
	return rc;
}

/* s with each "{dir}" replaced by dir (malloc'd). */
static char *with_dir(const char *s, const char *dir)
{
	char *r = strdup(""), *t;
	const char *p;

	cr_assert(r);
	while ((p = strstr(s, "{dir}"))) {
		cr_assert(asprintf(&t, "%s%.*s%s", r, (int)(p - s), s, dir) >= 0);
		free(r);
		r = t;
		s = p + strlen("{dir}");
	}
	cr_assert(asprintf(&t, "%s%s", r, s) >= 0);
	free(r);
	return t;
}

void tu_cli_cases(const char *dir, const char *cmd, const char *tail,
		  const struct tu_cli_case *cases, size_t n)
{
	char *t = with_dir(tail, dir);

	for (size_t i = 0; i < n; i++) {
		char *args = with_dir(cases[i].args, dir), *out = NULL, *err = NULL;
		int rc = tu_cli(NULL, &out, &err, "--data '%s/data' %s %s%s%s", dir, cmd, args,
				*t ? " " : "", t);

		cr_assert_eq(rc, cases[i].rc, "'%s' exits %d: %s", args, rc, err);
		cr_assert(strstr(err, cases[i].want), "'%s': %s", args, err);
		free(args);
		free(out);
		free(err);
	}
	free(t);
}

struct growbuf {
	char *p;
	size_t n;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct growbuf *g = ud;
	size_t add = size * nmemb;
	char *np = realloc(g->p, g->n + add + 1);

	if (!np)
		return 0;
	memcpy(np + g->n, ptr, add);
	g->n += add;
	np[g->n] = '\0';
	g->p = np;
	return add;
}

static char default_token[TOKEN_LEN + 1];

const char *tu_token(void)
{
	return default_token;
}

const char *tu_token_make(struct store *st, const char *scope)
{
	static char tok[8][TOKEN_LEN + 1];
	static int next;
	struct wc_error err = { 0 };
	enum token_scope sc;
	char *t = tok[next++ % 8];

	cr_assert(token_scope_parse(scope, &sc), "scope '%s'", scope);
	cr_assert_eq(store_token_create(st, sc, "test", t, NULL, &err), WC_OK, "%s", err.msg);
	return t;
}

void tu_auth(struct store *st)
{
	snprintf(default_token, sizeof(default_token), "%s", tu_token_make(st, "admin"));
}

bool tu_http_request(unsigned port, const char *method, const char *path,
		     const char *body, size_t len, const char *const *headers,
		     struct tu_http *out)
{
	struct growbuf b = { 0 }, h = { 0 };
	struct curl_slist *hl = NULL;
	char url[1024];
	CURLcode rc;
	bool own_auth = false;
	CURL *c = curl_easy_init();

	memset(out, 0, sizeof(*out));
	if (!c)
		return false;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(len == (size_t)-1 ? strlen(body) : len));
	}
	/*
	 * Small bodies go without "Expect: 100-continue" (no round trip); large ones keep
	 * it, as real clients do, so that a server refusing the body early (413) answers
	 * before the upload instead of resetting a connection mid-send.
	 */
	if (!body || (len == (size_t)-1 ? strlen(body) : len) < 65536)
		hl = curl_slist_append(hl, "Expect:");
	for (size_t i = 0; headers && headers[i]; i++) {
		hl = curl_slist_append(hl, headers[i]);
		own_auth = own_auth || !strncasecmp(headers[i], "Authorization:", 14);
	}
	if (!own_auth && default_token[0]) {
		char line[128];

		snprintf(line, sizeof(line), "Authorization: Bearer %s", default_token);
		hl = curl_slist_append(hl, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	out->body = b.p ? b.p : calloc(1, 1);
	out->len = b.n;
	out->headers = h.p ? h.p : calloc(1, 1);
	return rc == CURLE_OK;
}

void tu_http_release(struct tu_http *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

void tu_serve(const char *dir, struct store **st, struct server **srv)
{
	struct server_config cfg;
	struct wc_error err = { 0 };

	cr_assert_eq(store_open(dir, st, &err), WC_OK, "%s", err.msg);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	tu_auth(*st);
	cr_assert_eq(server_start(&cfg, *st, srv, &err), WC_OK, "%s", err.msg);
	cr_assert_gt(server_port(*srv), 0);
}

void *tu_wait_job(unsigned port, const char *url)
{
	for (int i = 0; i < 1500; i++) {
		struct tu_http r;
		json_t *j;
		const char *state;

		cr_assert(tu_http_request(port, "GET", url, NULL, 0, NULL, &r), "GET %s", url);
		cr_assert_eq(r.status, 200, "GET %s: %ld %s", url, r.status, r.body);
		j = json_loads(r.body, 0, NULL);
		tu_http_release(&r);
		state = json_string_value(json_object_get(j, "state"));
		cr_assert_not_null(state, "GET %s: no state", url);
		if (!strcmp(state, "done") || !strcmp(state, "failed"))
			return j;
		json_decref(j);
		usleep(20000);
	}
	cr_assert_fail("job %s did not finish in 30 s", url);
	return NULL;
}

void *tu_load_json(const char *path)
{
	json_error_t je;
	json_t *v = json_load_file(path, 0, &je);

	cr_assert(v, "cannot parse '%s': %s (line %d)", path, je.text, je.line);
	return v;
}

char *tu_screenshot(const char *dir, const char *html, int height)
{
	char *cmd, *png, *err = NULL;
	int rc;

	cr_assert(asprintf(&png, "%s/shot.png", dir) > 0);
	cr_assert(asprintf(&cmd,
			   "timeout 120 chromium --headless --no-sandbox --disable-gpu "
			   "--disable-quic --no-first-run --disable-background-networking "
			   "--disable-component-update --disable-sync --hide-scrollbars "
			   "--user-data-dir='%s/chromium' --window-size=1100,%d "
			   "--screenshot='%s' 'file://%s'",
			   dir, height, png, html) > 0);
	rc = tu_run(cmd, NULL, &err);
	cr_assert_eq(rc, 0, "chromium: %s", err);
	free(cmd);
	free(err);
	return png;
}

void tu_png_ink(const char *png, long *colours, double *ink)
{
	char *cmd, *out = NULL, *err = NULL;

	cr_assert(asprintf(&cmd,
			   "'%s' - '%s' <<'EOF'\n"
			   "import struct, sys, zlib\n"
			   "b = open(sys.argv[1], 'rb').read()\n"
			   "assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
			   "i, idat = 8, b''\n"
			   "while i < len(b):\n"
			   "    n, t = struct.unpack('>I4s', b[i:i + 8])\n"
			   "    d = b[i + 8:i + 8 + n]\n"
			   "    if t == b'IHDR':\n"
			   "        w, h, depth, ctype = struct.unpack('>IIBB', d[:10])\n"
			   "    if t == b'IDAT':\n"
			   "        idat += d\n"
			   "    i += 12 + n\n"
			   "assert depth == 8 and ctype in (2, 6), (depth, ctype)\n"
			   "bpp = 3 if ctype == 2 else 4\n"
			   "raw, stride = zlib.decompress(idat), w * bpp\n"
			   "prev, rows, k = bytearray(stride), [], 0\n"
			   "for y in range(h):\n"
			   "    f = raw[k]; line = bytearray(raw[k + 1:k + 1 + stride]); k += 1 + stride\n"
			   "    for x in range(stride):\n"
			   "        a = line[x - bpp] if x >= bpp else 0\n"
			   "        c = prev[x - bpp] if x >= bpp else 0\n"
			   "        up = prev[x]\n"
			   "        if f == 1: line[x] = (line[x] + a) & 255\n"
			   "        elif f == 2: line[x] = (line[x] + up) & 255\n"
			   "        elif f == 3: line[x] = (line[x] + (a + up) // 2) & 255\n"
			   "        elif f == 4:\n"
			   "            pa, pb, pc = abs(up - c), abs(a - c), abs(a + up - 2 * c)\n"
			   "            pr = a if pa <= pb and pa <= pc else (up if pb <= pc else c)\n"
			   "            line[x] = (line[x] + pr) & 255\n"
			   "    rows.append(bytes(line)); prev = line\n"
			   "colours, ink = set(), 0\n"
			   "for r in rows[::3]:\n"
			   "    for x in range(0, stride, bpp * 3):\n"
			   "        px = r[x:x + 3]; colours.add(px)\n"
			   "        ink += px != b'\\xff\\xff\\xff'\n"
			   "print(len(colours), ink / (len(rows[::3]) * len(range(0, stride, bpp * 3))))\n"
			   "EOF\n",
			   tu_python(), png) > 0);
	cr_assert_eq(tu_run(cmd, &out, &err), 0, "png check: %s", err);
	cr_assert_eq(sscanf(out, "%ld %lf", colours, ink), 2, "%s", out);
	free(cmd);
	free(out);
	free(err);
}

void tu_demo_store(const char *dir)
{
	char *cmd, *err = NULL;

	cr_assert(asprintf(&cmd,
			   "set -e; cd '%s'; W='%s'; export WINDCAST_LOG=error\n"
			   "$W demo-data --out in --farms 3 --days 40 --seed 5 >/dev/null\n"
			   "$W --data data farm import in/farms.json >/dev/null\n"
			   "$W --data data ingest in/nwp/*.nc >/dev/null\n"
			   "for f in horns-reef jutland-1 north-sea-1; do\n"
			   "  $W --data data obs import --farm $f in/obs/$f.csv >/dev/null\n"
			   "done\n",
			   dir, tu_bin()) >= 0);
	cr_assert_eq(tu_run(cmd, NULL, &err), 0, "demo store: %s", err);
	free(cmd);
	free(err);
}

char *tu_slurp(const char *fmt, ...)
{
	char path[4200], *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	s = tu_read_file(path, NULL);
	cr_assert(s, "cannot read '%s'", path);
	return s;
}

int tu_csv_split(char *line, char **f, int max)
{
	int n = 0;

	for (char *p = line; n < max;) {
		f[n++] = p;
		if (!(p = strchr(p, ',')))
			break;
		*p++ = '\0';
	}
	return n;
}

void tu_demo_store_upto(const char *dir, const char *T, const char *then)
{
	char *cmd, *err = NULL, runs[16];
	int64_t t;
	int64_t y;
	int mo, d, h, mi, sec;

	cr_assert(utc_parse(T, &t), "time '%s'", T);
	utc_to_fields(t, &y, &mo, &d, &h, &mi, &sec);
	snprintf(runs, sizeof(runs), "%04d%02d%02d%02d", (int)y, mo, d, h);
	cr_assert(asprintf(&cmd,
			   "set -e; cd '%s'; W='%s'; B=\"$PWD/dataB\"; export WINDCAST_LOG=error\n"
			   "$W --data \"$B\" farm import in/farms.json >/dev/null\n"
			   "$W --data \"$B\" ingest $(ls in/nwp/*.nc | awk -F_ '{ if (substr($2, 1, "
			   "10) <= \"%s\") print }') >/dev/null\n"
			   "for f in horns-reef jutland-1 north-sea-1; do\n"
			   "  awk -F, 'NR == 1 || $1 <= \"%s\"' in/obs/$f.csv > in/$f.upto.csv\n"
			   "  $W --data \"$B\" obs import --farm $f in/$f.upto.csv >/dev/null\n"
			   "done\n%s",
			   dir, tu_bin(), runs, T, then) >= 0);
	cr_assert_eq(tu_run(cmd, NULL, &err), 0, "store B: %s", err);
	free(cmd);
	free(err);
}

/*
 * Rows of a CSV as "valid,lead,values..." (columns vcol and vcol + 1, then `from` on):
 * with `farm`, the backtest's forecasts.csv rows of that farm, issue time and method
 * (columns 0, 1 and 4); without, every row after the header (`windcast forecast`'s CSV).
 */
char *tu_csv_rows(const char *csv, int vcol, int from, const char *farm,
		  const char *issued, const char *method)
{
	char *out = calloc(1, strlen(csv) + 1), *copy = strdup(csv), *save = NULL;
	size_t len = 0;
	int lineno = 0;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[64], *p = line;
		int n = 0;

		if (lineno++ == 0)
			continue;
		while (n < 64) {
			f[n++] = p;
			if (!(p = strchr(p, ',')))
				break;
			*p++ = '\0';
		}
		if (n <= from ||
		    (farm && (strcmp(f[0], farm) || strcmp(f[1], issued) || strcmp(f[4], method))))
			continue;
		len += (size_t)sprintf(out + len, "%s,%s", f[vcol], f[vcol + 1]);
		for (int k = from; k < n; k++)
			len += (size_t)sprintf(out + len, ",%s", f[k]);
		out[len++] = '\n';
	}
	free(copy);
	return out;
}

char *tu_write_tmp(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *fp;

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	fp = fopen(path, "w");
	cr_assert(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}
