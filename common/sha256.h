/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming, for content-addressing raw uploads.
 * Not for secrets: no constant-time guarantees are needed or given.
 */
#ifndef WC_SHA256_H
#define WC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define SHA256_HEX_LEN 65	/* 64 hex digits + NUL */

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	uint8_t block[64];
	size_t used;		/* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* Finish into 32 bytes; the state must be re-initialised before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* Finish into lowercase hex. */
void sha256_final_hex(struct sha256 *s, char out[SHA256_HEX_LEN]);

/*
 * Use the x86 SHA extensions when the CPU has them (the default, decided at first use),
 * or force the portable code (on = 0) or the extensions (on = 1; only where supported).
 * For tests and benchmarks; not thread-safe against concurrent hashing.
 */
void sha256_use_hw(int on);

/* Hash a whole file; WC_EIO with the reason when it cannot be read. */
enum wc_status sha256_file(const char *path, char out[SHA256_HEX_LEN],
			   struct wc_error *err);

#endif
