/*
 * access_log.c - the access log's buffer, line formatting and file (access_log.h).
 *
 * Request lines are formatted by hand into a stack buffer (snprintf per request costs
 * measurable throughput); strings from the client are JSON-escaped and cut at 256 bytes.
 */
#include "server/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/utc.h"

#define BUF_SIZE (64 * 1024)
#define LINE_MAX 8192
#define FIELD_MAX 256

struct access_log {
	pthread_mutex_t lock;	/* guards buf, len, fd */
	char *path;		/* NULL: standard output */
	int fd;
	char buf[BUF_SIZE];
	size_t len;
	unsigned long dropped;
};

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

enum wc_status access_log_open(struct access_log **out, const char *path,
			       struct wc_error *err)
{
	struct access_log *l;

	*out = NULL;
	if (!path || !strcmp(path, "off"))
		return WC_OK;
	if (!(l = calloc(1, sizeof(*l))))
		return wc_error_set(err, WC_ENOMEM, "out of memory");
	l->fd = 1;
	if (strcmp(path, "-")) {
		if (!(l->path = strdup(path)) || (l->fd = open_file(path)) < 0) {
			wc_error_set(err, WC_EIO, "cannot open access log '%s': %s", path,
				     l->path ? strerror(errno) : "out of memory");
			free(l->path);
			free(l);
			return WC_EIO;
		}
	}
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return WC_OK;
}

/* Write buf out; lock held. A failed write drops the lines (a log never blocks). */
static void write_out(struct access_log *l)
{
	size_t off = 0;

	while (off < l->len) {
		ssize_t n = write(l->fd, l->buf + off, l->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	l->len = 0;
}

void access_log_flush(struct access_log *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	write_out(l);
	pthread_mutex_unlock(&l->lock);
}

void access_log_close(struct access_log *l)
{
	if (!l)
		return;
	access_log_flush(l);
	if (l->path)
		close(l->fd);
	pthread_mutex_destroy(&l->lock);
	free(l->path);
	free(l);
}

enum wc_status access_log_reopen(struct access_log *l, struct wc_error *err)
{
	enum wc_status ret = WC_OK;
	int fd;

	if (!l || !l->path)
		return WC_OK;
	pthread_mutex_lock(&l->lock);
	write_out(l);
	if ((fd = open_file(l->path)) < 0) {
		ret = wc_error_set(err, WC_EIO, "cannot reopen access log '%s': %s (still "
						"writing to the old file)",
				   l->path, strerror(errno));
	} else {
		close(l->fd);
		l->fd = fd;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* Append one whole line (with its newline) to the buffer. */
static void append(struct access_log *l, const char *line, size_t n)
{
	pthread_mutex_lock(&l->lock);
	if (l->len + n > BUF_SIZE)
		write_out(l);
	if (n <= BUF_SIZE) {
		memcpy(l->buf + l->len, line, n);
		l->len += n;
	} else {
		l->dropped++;
	}
	pthread_mutex_unlock(&l->lock);
}

/* ---- hand formatting ---- */

struct line {
	char *p;
	size_t n, cap;
};

static void lit(struct line *b, const char *s)
{
	size_t k = strlen(s);

	if (b->n + k < b->cap) {
		memcpy(b->p + b->n, s, k);
		b->n += k;
	}
}

static void num(struct line *b, uint64_t v)
{
	char t[24];
	int i = 0;

	do {
		t[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i && b->n + 1 < b->cap)
		b->p[b->n++] = t[--i];
}

/* A JSON string of s (at most FIELD_MAX bytes of it; bytes >= 0x80 pass as they are:
 * the caller gives UTF-8 or accepts '?' for what is not) with its quotes. */
static void str(struct line *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	lit(b, "\"");
	for (; s && s[i] && i < FIELD_MAX && b->n + 8 < b->cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			b->p[b->n++] = '\\';
			b->p[b->n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(b->p + b->n, "\\u00", 4);
			b->p[b->n + 4] = hex[c >> 4];
			b->p[b->n + 5] = hex[c & 15];
			b->n += 6;
		} else {
			b->p[b->n++] = c < 0x80 ? (char)c : '?';
		}
	}
	lit(b, "\"");
}

/* "2026-03-01T12:00:00.123Z" of the wall clock, the date part kept per thread. */
static void now_iso(struct line *b)
{
	static __thread time_t last = -1;
	static __thread char date[UTC_ISO_LEN];
	struct timespec ts;
	unsigned ms;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != last) {
		utc_format((int64_t)ts.tv_sec, date);	/* "YYYY-MM-DDTHH:MM:SSZ" */
		last = ts.tv_sec;
	}
	ms = (unsigned)(ts.tv_nsec / 1000000);
	lit(b, "\"");
	if (b->n + 24 < b->cap) {
		memcpy(b->p + b->n, date, 19);
		b->n += 19;
		b->p[b->n++] = '.';
		b->p[b->n++] = (char)('0' + ms / 100);
		b->p[b->n++] = (char)('0' + ms / 10 % 10);
		b->p[b->n++] = (char)('0' + ms % 10);
		b->p[b->n++] = 'Z';
	}
	lit(b, "\"");
}

void access_log_request(struct access_log *l, const struct access_entry *e)
{
	char buf[LINE_MAX];
	struct line b = { buf, 0, sizeof(buf) - 1 };
	uint64_t us = e->ns / 1000;

	if (!l)
		return;
	lit(&b, "{\"time\":");
	now_iso(&b);
	lit(&b, ",\"id\":");
	str(&b, e->id);
	lit(&b, ",\"method\":");
	str(&b, e->method);
	lit(&b, ",\"route\":");
	str(&b, e->route);
	lit(&b, ",\"path\":");
	str(&b, e->target);
	lit(&b, ",\"status\":");
	num(&b, e->status);
	lit(&b, ",\"bytes\":");
	num(&b, e->bytes);
	lit(&b, ",\"ms\":");
	num(&b, us / 1000);
	lit(&b, ".");
	lit(&b, us % 1000 < 100 ? (us % 1000 < 10 ? "00" : "0") : "");
	num(&b, us % 1000);
	lit(&b, ",\"client\":");
	str(&b, e->client);
	lit(&b, ",\"token\":");
	num(&b, (uint64_t)(e->token > 0 ? e->token : 0));
	lit(&b, "}\n");
	append(l, buf, b.n);
}

void access_log_event(struct access_log *l, const char *event, json_t *fields)
{
	char buf[LINE_MAX];
	struct line b = { buf, 0, sizeof(buf) - 1 };
	char *rest = NULL;

	if (!l) {
		json_decref(fields);
		return;
	}
	lit(&b, "{\"time\":");
	now_iso(&b);
	lit(&b, ",\"event\":");
	str(&b, event);
	if (fields && json_object_size(fields) &&
	    (rest = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII))) {
		/* rest is "{...}": splice its members after ours */
		lit(&b, ",");
		if (b.n + strlen(rest) < b.cap) {
			memcpy(b.p + b.n, rest + 1, strlen(rest) - 1);
			b.n += strlen(rest) - 1;
		} else {
			lit(&b, "\"cut\":true}");
		}
	} else {
		lit(&b, "}");
	}
	lit(&b, "\n");
	free(rest);
	json_decref(fields);
	append(l, buf, b.n);
}
