/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming, for content-addressing raw uploads.
 * A thin wrapper over OpenSSL's libcrypto (EVP), which picks the CPU's SHA instructions
 * where present; this header keeps windcast's small interface and its error convention.
 * Not for secrets: no constant-time guarantees are needed or given.
 */
#ifndef WC_SHA256_H
#define WC_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define SHA256_HEX_LEN 65	/* 64 hex digits + NUL */

struct evp_md_ctx_st;		/* libcrypto's EVP_MD_CTX */

/* One digest in progress. The context is allocated by sha256_init and freed by
 * sha256_final or sha256_release, so a stream abandoned half-way must be released. */
struct sha256 {
	struct evp_md_ctx_st *ctx;	/* owned; NULL before init, after final or release */
	bool failed;			/* init or an update failed: final reports it */
};

/* Start a digest. WC_ENOMEM when libcrypto cannot set one up (then updates are ignored
 * and final fails too, so a caller may check only the result of final). */
enum wc_status sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/*
 * Finish into 32 bytes and free the context; the state must be re-initialised before
 * reuse. WC_ENOMEM (out zeroed) when init or an update had failed.
 */
enum wc_status sha256_final(struct sha256 *s, uint8_t out[32]);
/* Finish into lowercase hex; "" when it fails as sha256_final does. */
enum wc_status sha256_final_hex(struct sha256 *s, char out[SHA256_HEX_LEN]);
/* Free a digest that will not be finished; safe after final, twice, or on a zeroed
 * struct. */
void sha256_release(struct sha256 *s);

/* Hash a whole file; WC_EIO with the reason when it cannot be read. */
enum wc_status sha256_file(const char *path, char out[SHA256_HEX_LEN],
			   struct wc_error *err);

#endif
