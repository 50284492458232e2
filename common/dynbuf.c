/* dynbuf.c - capped growable buffer; see dynbuf.h. */
#include "common/dynbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dynbuf_init(struct dynbuf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void dynbuf_release(struct dynbuf *b)
{
	free(b->data);
	dynbuf_init(b, b->max);
}

void dynbuf_reset(struct dynbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static enum wc_status ensure(struct dynbuf *b, size_t n)
{
	size_t need, a;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return WC_ETOOLARGE;
	need = b->len + n + 1;
	if (need <= b->alloc)
		return WC_OK;
	a = b->alloc ? b->alloc : 64;
	while (a < need)
		a = a > SIZE_MAX / 2 ? need : a * 2;
	if (a > b->max + 1)
		a = b->max + 1;
	p = realloc(b->data, a);
	if (!p)
		return WC_ENOMEM;
	b->data = p;
	b->alloc = a;
	return WC_OK;
}

enum wc_status dynbuf_add(struct dynbuf *b, const void *p, size_t n)
{
	enum wc_status st = ensure(b, n);

	if (st)
		return st;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return WC_OK;
}

enum wc_status dynbuf_adds(struct dynbuf *b, const char *s)
{
	return dynbuf_add(b, s, strlen(s));
}

enum wc_status dynbuf_vprintf(struct dynbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	enum wc_status st;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return WC_EINVAL;
	st = ensure(b, (size_t)n);
	if (st)
		return st;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return WC_OK;
}

enum wc_status dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	enum wc_status st;

	va_start(ap, fmt);
	st = dynbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return st;
}

char *dynbuf_detach(struct dynbuf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	dynbuf_init(b, b->max);
	return p;
}

const char *dynbuf_str(const struct dynbuf *b)
{
	return b->data ? b->data : "";
}

enum wc_status dynbuf_add_csv_field(struct dynbuf *b, const char *field)
{
	enum wc_status st;

	if (!strpbrk(field, ",\"\r\n"))
		return dynbuf_adds(b, field);
	st = dynbuf_add(b, "\"", 1);
	for (const char *p = field; *p && !st; p++)
		st = *p == '"' ? dynbuf_add(b, "\"\"", 2) : dynbuf_add(b, p, 1);
	return st ? st : dynbuf_add(b, "\"", 1);
}
