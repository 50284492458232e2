/*
 * utf8.h - UTF-8 validation for text that came from outside (URLs, headers, names).
 *
 * Valid means RFC 3629: shortest form only, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF. A NUL byte is valid UTF-8 (U+0000); callers that hold C strings
 * check for embedded NULs themselves.
 */
#ifndef WC_UTF8_H
#define WC_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence that starts s (1..4 bytes, at most n), or 0 when
 * the bytes there are not one (a stray continuation byte, an overlong form, a
 * surrogate, a truncated sequence, ...). n must be at least 1.
 */
size_t utf8_seq_len(const char *s, size_t n);

/* True when all n bytes of s are valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Replace every byte of the C string s that is not part of valid UTF-8 by '?', in place. */
void utf8_sanitize(char *s);

#endif
