/*
 * token.h - API tokens: their text form, their scopes, and the one-way hash that is all
 * the store keeps of them (data/store_tokens.c holds the records; server/auth.c checks a
 * request's token against them).
 *
 * A token is "wct_" followed by 43 base64url characters: 256 bits from getrandom(2).
 * The store keeps SHA-256(token) only, never the token; it is printed once, when made.
 * No slow KDF (bcrypt, scrypt, argon2): those protect low-entropy secrets (passwords)
 * against guessing from a stolen hash. A 256-bit random token cannot be guessed from
 * its hash (2^255 tries on average), so a fast hash loses nothing, and it keeps the
 * check of every request within a microsecond.
 *
 * Scopes are ordered: admin includes write, write includes read.
 */
#ifndef WC_TOKEN_H
#define WC_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define TOKEN_PREFIX "wct_"
#define TOKEN_LEN 47			/* "wct_" + 43 base64url characters */
#define TOKEN_HASH_LEN 32		/* SHA-256 */
#define TOKEN_NAME_MAX 64

enum token_scope { TOKEN_READ = 1, TOKEN_WRITE = 2, TOKEN_ADMIN = 3 };

/* "read", "write", "admin" ("?" for anything else). */
const char *token_scope_name(enum token_scope s);
/* Parse a scope name; false when it is none of the three. */
bool token_scope_parse(const char *s, enum token_scope *out);

/*
 * Make a new random token into out (TOKEN_LEN characters and a NUL). WC_EIO when the
 * kernel's random source fails (the message says so); nothing else can fail.
 */
enum wc_status token_generate(char out[TOKEN_LEN + 1], struct wc_error *err);

/*
 * True when the n bytes of s have the shape of a token (prefix, length, alphabet).
 * Anything else cannot be a token and needs no lookup.
 */
bool token_well_formed(const char *s, size_t n);

/* SHA-256 of the n bytes of s into out; false (out zeroed) when libcrypto fails. */
bool token_hash(const char *s, size_t n, uint8_t out[TOKEN_HASH_LEN]);

/* Constant-time equality of two hashes (CRYPTO_memcmp). */
bool token_hash_equal(const uint8_t a[TOKEN_HASH_LEN], const uint8_t b[TOKEN_HASH_LEN]);

/*
 * A token's name: 0-64 bytes of printable UTF-8 without control characters. False with
 * the rule ("use at most ...") in err otherwise.
 */
bool token_name_valid(const char *name, struct wc_error *err);

#endif
