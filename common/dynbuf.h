/*
 * dynbuf.h - a growable byte buffer with a hard cap set at creation (curl's dynbuf).
 *
 * Every buffer that grows from outside input uses one, so that a hostile or broken
 * peer gets WC_ETOOLARGE instead of exhausting memory. The content is always
 * NUL-terminated (the terminator is not counted in len, but is counted against cap).
 */
#ifndef WC_DYNBUF_H
#define WC_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/status.h"

struct dynbuf {
	char *data;	/* NULL until the first append; owned */
	size_t len;	/* bytes in use, excluding the NUL */
	size_t alloc;	/* bytes allocated */
	size_t max;	/* hard cap on len */
};

/* Initialise an empty buffer that will refuse to grow beyond `max` bytes. */
void dynbuf_init(struct dynbuf *b, size_t max);
/* Free the memory; the buffer is empty (and reusable with the same cap) afterwards. */
void dynbuf_release(struct dynbuf *b);
/* Empty the buffer, keeping its allocation. */
void dynbuf_reset(struct dynbuf *b);

/* Append n bytes. WC_ETOOLARGE (buffer unchanged) when len + n > max; WC_ENOMEM. */
enum wc_status dynbuf_add(struct dynbuf *b, const void *p, size_t n);
enum wc_status dynbuf_adds(struct dynbuf *b, const char *s);
enum wc_status dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum wc_status dynbuf_vprintf(struct dynbuf *b, const char *fmt, va_list ap);

/*
 * Append one CSV field (RFC 4180): quoted, with inner quotes doubled, when it holds a
 * comma, quote, CR or LF; as is otherwise.
 */
enum wc_status dynbuf_add_csv_field(struct dynbuf *b, const char *field);

/* Take ownership of the content (never NULL: "" for an empty buffer, malloc'd). */
char *dynbuf_detach(struct dynbuf *b, size_t *len);

/* Content as a C string ("" when empty); valid until the next call on b. */
const char *dynbuf_str(const struct dynbuf *b);

#endif
