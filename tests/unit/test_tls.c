/*
 * test_tls.c - HTTPS with --tls-cert/--tls-key: a self-signed certificate made here with
 * the openssl CLI, served in-process and checked with libcurl against that certificate
 * (and through the built binary with the curl CLI); plain HTTP to the TLS port gets no
 * answer; missing, mismatched or non-PEM files are refused at start, naming the file.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/store.h"
#include "server/server.h"
#include "testutil.h"

/* Make key.pem and cert.pem (CN localhost, SAN 127.0.0.1) in d. */
static void make_cert(const char *d, const char *name)
{
	char *cmd;

	cr_assert(asprintf(&cmd,
			   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			   "-nodes -keyout '%s/%s-key.pem' -out '%s/%s-cert.pem' -days 2 "
			   "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost",
			   d, name, d, name) >= 0);
	cr_assert_eq(tu_run(cmd, NULL, NULL), 0, "openssl: %s", cmd);
	free(cmd);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	struct { char buf[4096]; size_t len; } *b = ud;
	size_t k = s * n;

	if (b->len + k < sizeof(b->buf)) {
		memcpy(b->buf + b->len, p, k);
		b->len += k;
		b->buf[b->len] = '\0';
	}
	return k;
}

/* GET url with libcurl, trusting `ca` (NULL: the system's). Returns curl's result. */
static CURLcode get(const char *url, const char *ca, const char *auth, long *status, char *body,
		    size_t cap)
{
	struct { char buf[4096]; size_t len; } b = { "", 0 };
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (auth) {
		h = curl_slist_append(h, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	snprintf(body, cap, "%s", b.buf);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

Test(tls, https_with_a_self_signed_certificate, .timeout = 60)
{
	char *dir = tu_tmpdir(), cert[4200], key[4200], url[128], auth[128], body[4096];
	struct server_config cfg;
	struct server *srv;
	struct store *st;
	struct wc_error err = { 0 };
	long status;

	make_cert(dir, "a");
	snprintf(cert, sizeof(cert), "%s/a-cert.pem", dir);
	snprintf(key, sizeof(key), "%s/a-key.pem", dir);
	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	tu_auth(st);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.threads = 2;
	cfg.tls_cert = cert;
	cfg.tls_key = key;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_OK, "%s", err.msg);

	snprintf(url, sizeof(url), "https://localhost:%u/healthz", server_port(srv));
	cr_assert_eq(get(url, cert, NULL, &status, body, sizeof(body)), CURLE_OK);
	cr_assert_eq(status, 200);
	cr_assert(strstr(body, "\"status\":\"ok\""), "%s", body);
	/* the token travels inside TLS like any header */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/farms", server_port(srv));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tu_token());
	cr_assert_eq(get(url, cert, auth, &status, body, sizeof(body)), CURLE_OK);
	cr_assert_eq(status, 200, "%s", body);
	/* not trusted without the certificate */
	cr_assert_neq(get(url, "/dev/null", auth, &status, body, sizeof(body)), CURLE_OK);
	/* plain HTTP on the TLS port gets no HTTP answer */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", server_port(srv));
	get(url, NULL, NULL, &status, body, sizeof(body));
	cr_assert_eq(status, 0, "plain HTTP answered %ld", status);

	server_stop(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(tls, bad_files_refused_at_start, .timeout = 60)
{
	char *dir = tu_tmpdir(), cert[4200], key[4200], other_key[4200], junk[4200];
	struct server_config cfg;
	struct server *srv = NULL;
	struct store *st;
	struct wc_error err = { 0 };
	FILE *f;

	make_cert(dir, "a");
	make_cert(dir, "b");
	snprintf(cert, sizeof(cert), "%s/a-cert.pem", dir);
	snprintf(key, sizeof(key), "%s/a-key.pem", dir);
	snprintf(other_key, sizeof(other_key), "%s/b-key.pem", dir);
	snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
	cr_assert_not_null(f = fopen(junk, "w"));
	fputs("not a certificate\n", f);
	fclose(f);
	cr_assert_eq(store_open(dir, &st, &err), WC_OK);
	server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";

	cfg.tls_cert = cert;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_EINVAL);
	cr_assert(strstr(err.msg, "both --tls-cert and --tls-key"), "%s", err.msg);

	cfg.tls_key = "/nonexistent/key.pem";
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_EIO);
	cr_assert(strstr(err.msg, "cannot read --tls-key '/nonexistent/key.pem'"), "%s", err.msg);

	cfg.tls_key = junk;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_EFORMAT);
	cr_assert(strstr(err.msg, "not a PEM file"), "%s", err.msg);

	cfg.tls_key = other_key;
	cr_assert_eq(server_start(&cfg, st, &srv, &err), WC_EHTTP);
	cr_assert(strstr(err.msg, "not a matching certificate and private key"), "%s", err.msg);
	cr_assert_null(srv);
	store_close(st);
	tu_rmrf_free(dir);
}

Test(tls, serve_binary_with_curl_cli, .timeout = 120)
{
	char *dir = tu_tmpdir(), *cmd, *out = NULL;

	make_cert(dir, "a");
	cr_assert_eq(tu_cli(dir, NULL, NULL, "init"), 0);
	cr_assert(asprintf(&cmd,
			   "tok=$('%s' --data '%s' token create --scope read 2>/dev/null); "
			   "'%s' --data '%s' serve --listen 127.0.0.1:0 --threads 2 "
			   "--tls-cert '%s/a-cert.pem' --tls-key '%s/a-key.pem' > '%s/log' 2>&1 & "
			   "pid=$!; for i in $(seq 100); do grep -q 'listening on port' '%s/log' && "
			   "break; sleep 0.1; done; port=$(sed -n 's/listening on port //p' '%s/log'); "
			   "curl -s --cacert '%s/a-cert.pem' -H \"Authorization: Bearer $tok\" "
			   "https://localhost:$port/v1/farms; echo; kill -TERM $pid; wait $pid; "
			   "echo exit=$?",
			   tu_bin(), dir, tu_bin(), dir, dir, dir, dir, dir, dir, dir) >= 0);
	cr_assert_eq(tu_run(cmd, &out, NULL), 0);
	cr_assert(strstr(out, "{\"farms\":[]}"), "%s", out);
	cr_assert(strstr(out, "exit=0"), "%s", out);
	free(cmd);
	free(out);
	tu_rmrf_free(dir);
}
